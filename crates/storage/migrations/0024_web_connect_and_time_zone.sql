-- The web app's connecting and planning (issue 11).
--
-- A connect flow can be started from the web app (issue 11): it is then bound to the web
-- session that asked, as a flow started over the API is bound to its API token. Exactly one
-- of `token_id` and `session_id` is set; signing that session out (or revoking that token)
-- stops the flow. Same portable-SQL rules as 0001.
--
-- `oauth_pending` is made again, as 0012 did (a flow lives 10 minutes: one in progress
-- during the upgrade is refused as unknown, and its user starts again).
DROP TABLE oauth_pending;
CREATE TABLE oauth_pending (
    id                 TEXT PRIMARY KEY,
    start_hash         TEXT NOT NULL UNIQUE,
    state_hash         TEXT NOT NULL UNIQUE,
    -- NULL until the start link is opened.
    browser_hash       TEXT,
    org_id             TEXT NOT NULL REFERENCES organisations (id),
    user_id            TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The API token that asked for the flow: revoking it stops the flow.
    token_id           TEXT REFERENCES api_tokens (id) ON DELETE CASCADE,
    -- The web session that asked for the flow: signing it out stops the flow.
    session_id         TEXT REFERENCES web_sessions (id) ON DELETE CASCADE,
    provider           TEXT NOT NULL CHECK (provider IN ('google', 'dropbox')),
    pkce_verifier      TEXT NOT NULL,
    authorization_url  TEXT NOT NULL,
    -- The scopes asked for, space-separated.
    scopes             TEXT NOT NULL,
    -- The redirect URI the authorization request names: the code exchange must name the
    -- same one, even if the configuration changed meanwhile.
    redirect_url       TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    started_at         TEXT,
    expires_at         TEXT NOT NULL,
    CHECK ((token_id IS NULL) <> (session_id IS NULL))
);
CREATE INDEX oauth_pending_expires_idx ON oauth_pending (expires_at);
CREATE INDEX oauth_pending_token_idx ON oauth_pending (token_id);
CREATE INDEX oauth_pending_session_idx ON oauth_pending (session_id);

-- The IANA time zone the user's planning is shown in (web app); NULL: UTC. The server does
-- not know the browser's zone, and a user with several calendars has no one calendar's.
ALTER TABLE users ADD COLUMN time_zone TEXT;
