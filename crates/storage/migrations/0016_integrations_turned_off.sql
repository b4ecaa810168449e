-- An integration a user turns on and off per connection (the Google Contacts export today;
-- Drive and Dropbox next). Turned off, its schedule stays, with its history, but is never due,
-- and "sync now" leaves it alone; turned on again, it is due at once. A pause (needs
-- re-authorization, disconnected) is kept apart: both can hold at once.
ALTER TABLE sync_schedules ADD COLUMN turned_off INTEGER NOT NULL DEFAULT 0
    CHECK (turned_off IN (0, 1));
DROP INDEX sync_schedules_due_idx;
CREATE INDEX sync_schedules_due_idx ON sync_schedules (next_run_at)
    WHERE paused IS NULL AND turned_off = 0;

-- What a run did beyond the common counts: `unchanged` (items looked at and left as they
-- were), and `details`, a JSON object of the integration's own counts by name ("recreated",
-- "adopted", "skipped: <reason>"), so that the history says what happened. NULL: none.
ALTER TABLE sync_runs ADD COLUMN unchanged INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_runs ADD COLUMN details TEXT;
