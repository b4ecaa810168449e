-- The web app's sign-in (issue 11): passwords, sessions, throttling, one-time links, and
-- each user's language. Same portable-SQL rules as 0001 (TEXT ids, fixed-width RFC 3339
-- timestamps in TEXT). The model is crates/crm/src/accounts/.

-- A user's web password: its argon2id PHC string (salt and parameters inside), never the
-- password. A user without a row cannot sign in to the web app.
CREATE TABLE user_passwords (
    user_id     TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    phc         TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- Web sessions: only the SHA-256 (hex) of the cookie's secret is kept. Kept in the database
-- so that every server process sees the same sessions.
CREATE TABLE web_sessions (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret_hash   TEXT NOT NULL UNIQUE,
    csrf_token    TEXT NOT NULL,
    user_agent    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    ended_at      TEXT
);
CREATE INDEX web_sessions_user_idx ON web_sessions (user_id, created_at);

-- Failed (or still being checked) sign-ins, for the throttling of every server process:
-- `key` is the SHA-256 (hex) of the address or of the client (IP), never the value itself.
-- Rows older than the throttling window are deleted.
CREATE TABLE sign_in_failures (
    id   TEXT PRIMARY KEY,
    key  TEXT NOT NULL,
    at   TEXT NOT NULL
);
CREATE INDEX sign_in_failures_key_idx ON sign_in_failures (key, at);
CREATE INDEX sign_in_failures_at_idx ON sign_in_failures (at);

-- One-time links: the owner's setup link (printed on the first start) and invitations.
-- Only the SHA-256 (hex) of the token is kept. `email` and `role` are those of the
-- invitation (the setup link keeps the owner's address at the time, to show).
CREATE TABLE one_time_links (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organisations (id),
    purpose     TEXT NOT NULL CHECK (purpose IN ('setup', 'invitation')),
    token_hash  TEXT NOT NULL UNIQUE,
    email       TEXT,
    role        TEXT CHECK (role IN ('owner', 'member')),
    created_by  TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT,
    revoked_at  TEXT
);
CREATE INDEX one_time_links_org_idx ON one_time_links (org_id, purpose, created_at);

-- The language of the user's web pages; NULL: the browser's.
ALTER TABLE users ADD COLUMN language TEXT CHECK (language IN ('en', 'nl', 'de'));
