-- Contact imports started from the web app: the uploaded CSV (a content of the blob store),
-- what its check found, and, once started, how far the import got and what it did. The
-- import runs in the server process that started it; `updated_at` says it is alive.
CREATE TABLE contact_imports (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organisations (id),
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    file_name       TEXT NOT NULL,
    -- One ASCII character.
    delimiter       TEXT NOT NULL,
    csv_sha256      TEXT NOT NULL,
    size_bytes      INTEGER NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('checked', 'running', 'done', 'failed')),
    -- JSON: the columns used and the columns ignored (with why).
    columns_json    TEXT NOT NULL,
    -- JSON: the report of the check (a dry run over the whole file).
    check_json      TEXT NOT NULL,
    -- JSON: the import's report, so far while running.
    report_json     TEXT,
    bytes_done      INTEGER NOT NULL DEFAULT 0,
    -- The rejected rows as CSV (row, reason, then the row), when there are any.
    rejects_sha256  TEXT,
    error           TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX contact_imports_user_idx ON contact_imports (user_id, created_at);
