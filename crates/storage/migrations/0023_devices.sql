-- Devices (issue 11): the extension signs in through the web app. Same portable-SQL rules
-- as 0001. The model is crates/crm/src/accounts/devices.rs.

-- What a token is for: `personal` (made by the CLI, the API or the settings page) or
-- `device` (a browser's extension, signed in through `/connect/extension`; its name is the
-- device's).
ALTER TABLE api_tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'personal'
    CHECK (kind IN ('personal', 'device'));

-- The one-time codes of the extension's sign-in: only the SHA-256 (hex) of the code is
-- kept, with the PKCE challenge (S256), the redirect URI it was given to, the user who
-- allowed it and the device's name. Used once, within a minute.
CREATE TABLE device_codes (
    id              TEXT PRIMARY KEY,
    code_hash       TEXT NOT NULL UNIQUE,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_challenge  TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    device_name     TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    used_at         TEXT
);
CREATE INDEX device_codes_expires_idx ON device_codes (expires_at);
