-- Connections: each user's link to an outside service (Google, Dropbox), one per provider,
-- filled by an OAuth code exchange and kept fresh by the sync engine (src/connections/).
--
-- Tokens are stored encrypted (src/secrets.rs): `v1:<key id>:<base64url>`, bound to this
-- row's id and the column's name, so a value copied to another row or column does not
-- decrypt. NULL when there is none (never fetched, or dropped by a disconnect).
--
-- A disconnect keeps the row (status `disconnected`, tokens NULL): what the sync kept about
-- the account (links, cursors) can refer to it, and connecting the same provider again
-- reuses it. For the engine's own state (a refresh lease for single-flight refreshes,
-- failure counters, cursors) later migrations add columns or tables keyed by `id`.

CREATE TABLE connections (
    id                       TEXT PRIMARY KEY,
    org_id                   TEXT NOT NULL REFERENCES organisations (id),
    user_id                  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider                 TEXT NOT NULL CHECK (provider IN ('google', 'dropbox')),
    -- The remote account, as the provider names it (Google's `sub`, Dropbox's
    -- `account_id`), and its address when known.
    account_id               TEXT NOT NULL,
    account_email            TEXT,
    -- Granted scopes, space-separated (OAuth's own form), sorted.
    scopes                   TEXT NOT NULL,
    access_token             TEXT,
    refresh_token            TEXT,
    -- When the access token stops working (RFC 3339 UTC); the engine refreshes ahead of it.
    access_token_expires_at  TEXT,
    status                   TEXT NOT NULL
                             CHECK (status IN ('ok', 'syncing', 'needs_reauth', 'degraded',
                                               'disconnected')),
    -- Why the status is what it is, for a person (NULL when `ok`).
    status_reason            TEXT,
    -- 1 when created, + 1 on every write: writers that read, then write (a token refresh)
    -- write only if it is unchanged.
    version                  INTEGER NOT NULL,
    created_at               TEXT NOT NULL,
    updated_at               TEXT NOT NULL,
    -- When the latest grant was stored, and when it was disconnected (NULL when connected).
    connected_at             TEXT NOT NULL,
    disconnected_at          TEXT,
    UNIQUE (user_id, provider)
);
CREATE INDEX connections_org_idx ON connections (org_id);
