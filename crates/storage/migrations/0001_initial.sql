-- Threadline server schema, first version: what the Gmail tracking bar needs.
--
-- Portable SQL (SQLite now, PostgreSQL later): UUIDs are TEXT (hyphenated, lowercase),
-- timestamps are TEXT in RFC 3339 UTC with microseconds (`2025-01-02T03:04:05.000006Z`, fixed
-- width so that they sort as text), booleans are INTEGER 0/1. No AUTOINCREMENT, no STRICT,
-- no WITHOUT ROWID, no SQLite-only functions. Every org-scoped table carries `org_id` so
-- that each query filters on it through an index.

CREATE TABLE organisations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organisations (id),
    name        TEXT NOT NULL,
    -- The login address, normalised. One user per address across the server.
    email       TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);
CREATE INDEX users_org_idx ON users (org_id);

-- The user's own addresses (login address and aliases): never offered as "add contact".
CREATE TABLE user_addresses (
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    address     TEXT NOT NULL,
    match_key   TEXT NOT NULL,
    position    INTEGER NOT NULL,
    PRIMARY KEY (user_id, match_key)
);

-- Personal API tokens: only the SHA-256 (hex) of the token is kept.
CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT,
    revoked_at    TEXT
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

CREATE TABLE companies (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organisations (id),
    name        TEXT NOT NULL,
    -- Registrable domain (`acme.co.uk`), lowercase ASCII; NULL when unknown.
    domain      TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX companies_org_domain_idx ON companies (org_id, domain);
CREATE INDEX companies_org_name_idx ON companies (org_id, name);

CREATE TABLE contacts (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organisations (id),
    first_name  TEXT NOT NULL,
    last_name   TEXT NOT NULL,
    company_id  TEXT REFERENCES companies (id),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX contacts_org_idx ON contacts (org_id);

-- A contact's addresses, primary at position 0. `org_id` is denormalised from contacts so
-- that a lookup of many match keys is one query on one index. The same address on two
-- contacts is allowed on purpose: the bar shows the ambiguity instead of preventing it.
CREATE TABLE contact_emails (
    contact_id  TEXT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    org_id      TEXT NOT NULL REFERENCES organisations (id),
    position    INTEGER NOT NULL,
    address     TEXT NOT NULL,
    match_key   TEXT NOT NULL,
    PRIMARY KEY (contact_id, position),
    UNIQUE (contact_id, match_key)
);
CREATE INDEX contact_emails_lookup_idx ON contact_emails (org_id, match_key);

CREATE TABLE tracked_emails (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES organisations (id),
    owner_user_id     TEXT NOT NULL REFERENCES users (id),
    -- The best id known for the message (Gmail legacy hex when the page had it).
    gmail_message_id  TEXT NOT NULL,
    direction         TEXT NOT NULL CHECK (direction IN ('incoming', 'outgoing')),
    subject           TEXT NOT NULL,
    -- JSON text: a Party object (or null), and arrays of Party objects.
    from_party        TEXT NOT NULL,
    to_parties        TEXT NOT NULL,
    cc_parties        TEXT NOT NULL,
    sent_at           TEXT,
    body_text         TEXT,
    gmail_thread_id   TEXT,
    rfc_message_id    TEXT,
    created_at        TEXT NOT NULL
);
CREATE INDEX tracked_emails_org_idx ON tracked_emails (org_id);

-- Every id a tracked email is known by; an email is found by ANY of them.
CREATE TABLE tracked_email_ids (
    tracked_email_id  TEXT NOT NULL REFERENCES tracked_emails (id) ON DELETE CASCADE,
    org_id            TEXT NOT NULL REFERENCES organisations (id),
    message_id        TEXT NOT NULL,
    UNIQUE (org_id, message_id)
);
CREATE INDEX tracked_email_ids_email_idx ON tracked_email_ids (tracked_email_id);

-- The timelines an email is on.
CREATE TABLE tracked_email_links (
    tracked_email_id  TEXT NOT NULL REFERENCES tracked_emails (id) ON DELETE CASCADE,
    record_kind       TEXT NOT NULL CHECK (record_kind IN ('contact', 'company')),
    record_id         TEXT NOT NULL,
    UNIQUE (tracked_email_id, record_kind, record_id)
);
CREATE INDEX tracked_email_links_record_idx ON tracked_email_links (record_kind, record_id);

CREATE TABLE tasks (
    id                 TEXT PRIMARY KEY,
    org_id             TEXT NOT NULL REFERENCES organisations (id),
    title              TEXT NOT NULL,
    description        TEXT,
    due_date           TEXT,
    assignee_user_id   TEXT NOT NULL REFERENCES users (id),
    done               INTEGER NOT NULL DEFAULT 0 CHECK (done IN (0, 1)),
    source_message_id  TEXT,
    gmail_thread_id    TEXT,
    contact_id         TEXT REFERENCES contacts (id),
    created_at         TEXT NOT NULL
);
CREATE INDEX tasks_org_source_idx ON tasks (org_id, source_message_id);

-- Responses recorded for POSTs sent with an `Idempotency-Key` header, written in the same
-- transaction as the change they describe.
CREATE TABLE idempotency_keys (
    org_id          TEXT NOT NULL REFERENCES organisations (id),
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    idem_key        TEXT NOT NULL,
    method_path     TEXT NOT NULL,
    request_sha256  TEXT NOT NULL,
    status          INTEGER NOT NULL,
    response_body   TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (user_id, idem_key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
