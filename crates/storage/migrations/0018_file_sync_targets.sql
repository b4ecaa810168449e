-- The document sync with Google Drive and Dropbox (issue 13): what each connection syncs and
-- where its listing stands. Same portable-SQL rules as 0001.
--
-- `file_sync_settings`: one row per connection whose file sync the user turned on, with the
-- integration that runs it (`google_drive`, `dropbox`: the schedule a CRM change wakes) and
-- the provider's cursor (Dropbox `list_folder` cursor, Drive changes page token) as saved
-- after the last applied run; NULL: the next run lists in full.
CREATE TABLE file_sync_settings (
    connection_id  TEXT PRIMARY KEY REFERENCES connections (id) ON DELETE CASCADE,
    integration    TEXT NOT NULL,
    cursor         TEXT,
    updated_at     TEXT NOT NULL
);

-- The records whose documents a connection syncs: one record, or every record of a module
-- (`record_id` = '*', which also covers records made later).
CREATE TABLE file_sync_targets (
    connection_id  TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    record_kind    TEXT NOT NULL CHECK (record_kind IN ('company', 'contact', 'project', 'meeting', 'product')),
    record_id      TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    PRIMARY KEY (connection_id, record_kind, record_id)
);
CREATE INDEX file_sync_targets_record_idx ON file_sync_targets (record_kind, record_id);

-- A change a schedule's sync must carry (a document uploaded in the CRM) arrived while a run
-- of it was going: when that run ends, the next one is due at once rather than after the
-- interval (`threadline_sync_engine::schedule::wake`).
ALTER TABLE sync_schedules ADD COLUMN woken INTEGER NOT NULL DEFAULT 0;
