-- One email tracked by several users (see crates/crm/src/tracking.rs).
--
-- A `tracked_emails` row is one user's entry: their content, visibility, links and ids,
-- written only by their own requests. Before, a message id was unique per organisation,
-- so tracking an email merged every entry that had any of its ids, whoever owned them:
-- a colleague could hard-delete or write into another user's private entry.
--
-- Now:
-- - a message id is unique per organisation AND owner: each user finds (and merges) only
--   their own entries;
-- - `email_id` says which entries are the same email: a new entry takes the `email_id` of
--   the oldest entry of the organisation that has any of its ids, or its own id. It is set
--   once, when the entry is made, and never changed by another user's request; reads show
--   one entry per email (the reader's own, else a shared one, else a private one redacted).
ALTER TABLE tracked_emails ADD COLUMN email_id TEXT;
UPDATE tracked_emails SET email_id = id;
CREATE INDEX tracked_emails_email_idx ON tracked_emails (org_id, email_id);

CREATE TABLE tracked_email_entry_ids (
    tracked_email_id  TEXT NOT NULL REFERENCES tracked_emails (id) ON DELETE CASCADE,
    org_id            TEXT NOT NULL REFERENCES organisations (id),
    -- The entry's owner (an entry's owner never changes).
    owner_user_id     TEXT NOT NULL REFERENCES users (id),
    message_id        TEXT NOT NULL,
    UNIQUE (org_id, owner_user_id, message_id)
);
INSERT INTO tracked_email_entry_ids (tracked_email_id, org_id, owner_user_id, message_id)
    SELECT i.tracked_email_id, i.org_id, t.owner_user_id, i.message_id
    FROM tracked_email_ids i JOIN tracked_emails t ON t.id = i.tracked_email_id;
DROP TABLE tracked_email_ids;
ALTER TABLE tracked_email_entry_ids RENAME TO tracked_email_ids;
CREATE INDEX tracked_email_ids_email_idx ON tracked_email_ids (tracked_email_id);
CREATE INDEX tracked_email_ids_message_idx ON tracked_email_ids (org_id, message_id);
