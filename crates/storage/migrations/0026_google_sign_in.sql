-- Sign in with Google (issue 11): OpenID Connect on the server's Google client. Same
-- portable-SQL rules as 0001. The model is crates/crm/src/accounts/google.rs (the links) and
-- crates/connections/src/oauth/sign_in.rs (the flows).

-- A user's Google account for signing in: Google's stable account id `sub` (never the
-- address, which can change), and the address it had when linked, to show. One Google
-- account per user, one user per Google account.
CREATE TABLE user_google_accounts (
    user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sub        TEXT NOT NULL UNIQUE,
    email      TEXT NOT NULL,
    linked_at  TEXT NOT NULL
);

-- Started sign-ins, until Google's callback: the SHA-256 (hex) of the `state`, of the
-- `nonce` and of the secret of the cookie set on the browser that started it; the PKCE
-- verifier encrypted like tokens and bound to the row. `session_id` is set when a signed-in
-- user links their Google account from Settings (the flow ends with that session). Good once,
-- for 10 minutes.
CREATE TABLE google_sign_ins (
    id             TEXT PRIMARY KEY,
    state_hash     TEXT NOT NULL UNIQUE,
    nonce_hash     TEXT NOT NULL,
    browser_hash   TEXT NOT NULL,
    pkce_verifier  TEXT NOT NULL,
    redirect_url   TEXT NOT NULL,
    session_id     TEXT REFERENCES web_sessions (id) ON DELETE CASCADE,
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL
);
CREATE INDEX google_sign_ins_expires_idx ON google_sign_ins (expires_at);
