-- OAuth hardening (issue 10): a connect flow is bound to the browser that started it and to
-- the API token that asked for it; revoking a token revokes the tokens it created; a Google
-- account is connected to one Threadline user at a time. Same portable-SQL rules as 0001.
--
-- `oauth_pending` is made again (a flow lives 10 minutes: one in progress during the upgrade
-- is refused as unknown, and its user starts again). A flow now has two steps:
-- 1. `POST /api/v1/connections/google` (bearer) stores the row: the state's and the one-time
--    start link's secrets as SHA-256 (`state_hash`, `start_hash`), the PKCE verifier and the
--    provider's authorization URL (it holds the state) encrypted like tokens and bound to the
--    row, and `token_id`, the API token that asked. The link must be opened within 5 minutes
--    (`expires_at`).
-- 2. The browser opens the start link (`GET /oauth/google/start`), once (`started_at`): the
--    row gets `browser_hash`, the SHA-256 of the secret of the HttpOnly cookie set on that
--    browser, and 10 more minutes; the browser is sent to the authorization URL.
-- The callback finds the row by its state, deletes it, and goes on only with the cookie whose
-- hash is `browser_hash` and while `token_id` is not revoked.
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
    token_id           TEXT NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
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
    expires_at         TEXT NOT NULL
);
CREATE INDEX oauth_pending_expires_idx ON oauth_pending (expires_at);
CREATE INDEX oauth_pending_token_idx ON oauth_pending (token_id);

-- The token that created a token over the API (`POST /api/v1/tokens`); NULL for tokens made
-- by the CLI, with a new user, or before 0012. Revoking a token revokes every token below it.
ALTER TABLE api_tokens ADD COLUMN parent_token_id TEXT REFERENCES api_tokens (id);
CREATE INDEX api_tokens_parent_idx ON api_tokens (parent_token_id);

-- Which users a remote account is connected to (one at a time: `connections::upsert`).
CREATE INDEX connections_account_idx ON connections (provider, account_id);
