-- The sync engine's schedules and their runs (src/sync/). Portable SQL, as in 0001.
--
-- One schedule per (connection, integration): `google_calendar` now, `google_contacts`,
-- `google_drive`, `dropbox` later. Any number of server processes share these rows: a
-- process runs a schedule only while it holds its lease (`lease_owner`, `lease_expires_at`),
-- taken by a conditional UPDATE in a write transaction and extended by heartbeats. A process
-- that dies leaves a lease that expires; then another process takes the schedule again.
--
-- While leased, `next_run_at` is the lease's expiry: "due again if the lease is not renewed".
-- So one index on `next_run_at` finds both due schedules and abandoned ones, and the earliest
-- `next_run_at` is when the scheduler must next look (it sleeps until then).

CREATE TABLE sync_schedules (
    id                 TEXT PRIMARY KEY,
    connection_id      TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    integration        TEXT NOT NULL,
    -- Seconds between the end of a run and the next one, and the most a start is moved
    -- either way at random, so that schedules made together do not all fire together.
    interval_seconds   INTEGER NOT NULL CHECK (interval_seconds > 0),
    jitter_seconds     INTEGER NOT NULL CHECK (jitter_seconds >= 0),
    next_run_at        TEXT NOT NULL,
    -- The process holding the lease (a label with a random part, unique per process) and
    -- until when; both NULL when nobody runs it.
    lease_owner        TEXT,
    lease_expires_at   TEXT,
    -- The run this schedule is about to start (queued by "sync now") or is running; NULL
    -- when idle. "Sync now" answers this run instead of starting a second.
    current_run_id     TEXT,
    -- NULL: active. Otherwise why it does not run: the connection needs re-authorization,
    -- was disconnected, or a run was refused and waits for a person's review.
    paused             TEXT CHECK (paused IN ('needs_reauth', 'disconnected', 'review')),
    paused_reason      TEXT,
    -- Failed runs in a row (0 after a success): the back-off grows with it.
    failures           INTEGER NOT NULL DEFAULT 0,
    last_run_id        TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    -- Also the index of "this connection's schedules".
    UNIQUE (connection_id, integration)
);
-- Only active schedules are ever due: paused ones (often long overdue) stay out of the way.
CREATE INDEX sync_schedules_due_idx ON sync_schedules (next_run_at) WHERE paused IS NULL;

CREATE TABLE sync_runs (
    id              TEXT PRIMARY KEY,
    schedule_id     TEXT NOT NULL REFERENCES sync_schedules (id) ON DELETE CASCADE,
    -- Copied from the schedule: the history is listed per connection.
    connection_id   TEXT NOT NULL,
    integration     TEXT NOT NULL,
    -- `background` (the schedule came due) or `manual` ("sync now").
    triggered_by    TEXT NOT NULL CHECK (triggered_by IN ('background', 'manual')),
    status          TEXT NOT NULL
                    CHECK (status IN ('queued', 'running', 'ok', 'failed',
                                      'refused_for_review', 'interrupted')),
    -- When it was due, started, finished (the start minus the due time is the scheduler's
    -- delay); the process that ran it.
    due_at          TEXT NOT NULL,
    started_at      TEXT,
    finished_at     TEXT,
    runner          TEXT,
    created         INTEGER NOT NULL DEFAULT 0,
    updated         INTEGER NOT NULL DEFAULT 0,
    deleted         INTEGER NOT NULL DEFAULT 0,
    conflicts       INTEGER NOT NULL DEFAULT 0,
    skipped         INTEGER NOT NULL DEFAULT 0,
    errors          INTEGER NOT NULL DEFAULT 0,
    -- Why it failed, was refused or interrupted, for a person (never a token).
    error           TEXT
);
CREATE INDEX sync_runs_connection_idx ON sync_runs (connection_id, id);
CREATE INDEX sync_runs_schedule_idx ON sync_runs (schedule_id, id);
