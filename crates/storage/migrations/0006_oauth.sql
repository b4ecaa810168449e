-- OAuth: the connect flow's pending authorizations and the token refresh lease
-- (src/oauth/).
--
-- `oauth_pending`: one row per started connect flow (`POST /api/v1/connections/google`),
-- until its callback comes back or it expires (10 minutes). The browser brings back only the
-- `state`; this row says whose flow it is and holds the PKCE verifier the code exchange needs.
-- The state is kept as its SHA-256 (as API tokens are): what the database holds cannot be
-- replayed. The verifier is encrypted like the connections' tokens (src/secrets.rs), bound to
-- this row. A callback deletes its row before exchanging the code: a state is good once.
CREATE TABLE oauth_pending (
    id             TEXT PRIMARY KEY,
    state_hash     TEXT NOT NULL UNIQUE,
    org_id         TEXT NOT NULL REFERENCES organisations (id),
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider       TEXT NOT NULL CHECK (provider IN ('google', 'dropbox')),
    pkce_verifier  TEXT NOT NULL,
    -- The scopes asked for, space-separated.
    scopes         TEXT NOT NULL,
    -- The redirect URI the authorization request named: the code exchange must name the
    -- same one, even if the configuration changed meanwhile.
    redirect_url   TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL
);
CREATE INDEX oauth_pending_expires_idx ON oauth_pending (expires_at);

-- `oauth_refresh_leases`: who is refreshing a connection's access token right now, so that
-- one refresh at a time reaches the provider even with several server processes on one
-- database. Taken in a write transaction when the token is due (or gone), deleted when the
-- refresh is stored or has failed; a process that dies leaves a lease that others take over
-- once `expires_at` has passed. Others wait and read the stored token instead of refreshing.
CREATE TABLE oauth_refresh_leases (
    connection_id  TEXT PRIMARY KEY REFERENCES connections (id) ON DELETE CASCADE,
    -- The process (one random id per server process) holding it.
    owner          TEXT NOT NULL,
    expires_at     TEXT NOT NULL
);
