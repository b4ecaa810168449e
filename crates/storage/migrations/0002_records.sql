-- The CRM's records (companies, contacts, projects, meetings, products, tasks, tracked
-- emails): every record row has `version` (bumped on every write; the ETag), `updated_at`
-- and `deleted_at` (soft delete: a tombstone the sync engine can see), and every change is
-- in `changes`, the per-organisation feed. Same portable-SQL rules as 0001.

-- Companies ----------------------------------------------------------------------------
ALTER TABLE companies ADD COLUMN address TEXT;
ALTER TABLE companies ADD COLUMN phone TEXT;
ALTER TABLE companies ADD COLUMN website TEXT;
ALTER TABLE companies ADD COLUMN vat_number TEXT;
ALTER TABLE companies ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE companies ADD COLUMN updated_at TEXT;
ALTER TABLE companies ADD COLUMN deleted_at TEXT;
UPDATE companies SET updated_at = created_at;

-- A company's registrable domains, the first at position 0 (also kept in companies.domain,
-- which the lookup reads).
CREATE TABLE company_domains (
    company_id  TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    org_id      TEXT NOT NULL REFERENCES organisations (id),
    position    INTEGER NOT NULL,
    domain      TEXT NOT NULL,
    PRIMARY KEY (company_id, position),
    UNIQUE (company_id, domain)
);
CREATE INDEX company_domains_org_domain_idx ON company_domains (org_id, domain);
INSERT INTO company_domains (company_id, org_id, position, domain)
    SELECT id, org_id, 0, domain FROM companies WHERE domain IS NOT NULL;

-- Contacts -----------------------------------------------------------------------------
ALTER TABLE contacts ADD COLUMN job_title TEXT;
ALTER TABLE contacts ADD COLUMN notes TEXT;
-- JSON text: an array of {"number", "label"?}.
ALTER TABLE contacts ADD COLUMN phones TEXT NOT NULL DEFAULT '[]';
ALTER TABLE contacts ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE contacts ADD COLUMN deleted_at TEXT;

-- Projects -----------------------------------------------------------------------------
CREATE TABLE projects (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organisations (id),
    name         TEXT NOT NULL,
    description  TEXT,
    company_id   TEXT REFERENCES companies (id),
    version      INTEGER NOT NULL DEFAULT 1,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    deleted_at   TEXT
);
CREATE INDEX projects_org_idx ON projects (org_id, id);

-- Products -----------------------------------------------------------------------------
CREATE TABLE products (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organisations (id),
    name         TEXT NOT NULL,
    code         TEXT,
    -- Integer minor units of `currency` (ISO 4217), e.g. 1999 EUR = 19.99 EUR.
    price_minor  INTEGER,
    currency     TEXT,
    description  TEXT,
    version      INTEGER NOT NULL DEFAULT 1,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    deleted_at   TEXT
);
CREATE INDEX products_org_idx ON products (org_id, id);

-- Meetings -----------------------------------------------------------------------------
-- Timed (start_at/end_at in UTC, time_zone the IANA name they were given in) or all-day
-- (start_date/end_date, end exclusive).
CREATE TABLE meetings (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organisations (id),
    title        TEXT NOT NULL,
    all_day      INTEGER NOT NULL CHECK (all_day IN (0, 1)),
    start_at     TEXT,
    end_at       TEXT,
    time_zone    TEXT,
    start_date   TEXT,
    end_date     TEXT,
    location     TEXT,
    description  TEXT,
    -- JSON text: an array of {"address", "name"?, "contact_id"?}.
    attendees    TEXT NOT NULL,
    version      INTEGER NOT NULL DEFAULT 1,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    deleted_at   TEXT
);
CREATE INDEX meetings_org_idx ON meetings (org_id, id);

-- The records a meeting is linked to.
CREATE TABLE meeting_links (
    meeting_id   TEXT NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    org_id       TEXT NOT NULL REFERENCES organisations (id),
    position     INTEGER NOT NULL,
    record_kind  TEXT NOT NULL,
    record_id    TEXT NOT NULL,
    PRIMARY KEY (meeting_id, position),
    UNIQUE (meeting_id, record_kind, record_id)
);
CREATE INDEX meeting_links_record_idx ON meeting_links (org_id, record_kind, record_id);

-- Tasks --------------------------------------------------------------------------------
-- The linked record (any kind); `contact_id` stays filled for a contact (the bar reads it).
ALTER TABLE tasks ADD COLUMN linked_kind TEXT;
ALTER TABLE tasks ADD COLUMN linked_id TEXT;
ALTER TABLE tasks ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tasks ADD COLUMN updated_at TEXT;
ALTER TABLE tasks ADD COLUMN deleted_at TEXT;
UPDATE tasks SET updated_at = created_at;
UPDATE tasks SET linked_kind = 'contact', linked_id = contact_id WHERE contact_id IS NOT NULL;

-- Tracked emails -----------------------------------------------------------------------
ALTER TABLE tracked_emails ADD COLUMN html_body TEXT;
ALTER TABLE tracked_emails ADD COLUMN visibility TEXT NOT NULL DEFAULT 'shared'
    CHECK (visibility IN ('private', 'shared'));
ALTER TABLE tracked_emails ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tracked_emails ADD COLUMN updated_at TEXT;
ALTER TABLE tracked_emails ADD COLUMN deleted_at TEXT;
UPDATE tracked_emails SET updated_at = created_at;

-- The changes feed ---------------------------------------------------------------------
-- One row per record: its latest change. `seq` grows per organisation (MAX + 1 inside the
-- serialised write transaction); a record changed again moves to the end of the feed.
CREATE TABLE changes (
    org_id       TEXT NOT NULL REFERENCES organisations (id),
    seq          INTEGER NOT NULL,
    record_kind  TEXT NOT NULL,
    record_id    TEXT NOT NULL,
    version      INTEGER NOT NULL,
    deleted      INTEGER NOT NULL CHECK (deleted IN (0, 1)),
    changed_at   TEXT NOT NULL,
    PRIMARY KEY (org_id, seq),
    UNIQUE (org_id, record_kind, record_id)
);

-- The records that exist before this migration start the feed.
INSERT INTO changes (org_id, seq, record_kind, record_id, version, deleted, changed_at)
    SELECT org_id, ROW_NUMBER() OVER (PARTITION BY org_id ORDER BY created_at, kind, id),
           kind, id, 1, 0, created_at
    FROM (
        SELECT org_id, 'company' AS kind, id, created_at FROM companies
        UNION ALL SELECT org_id, 'contact' AS kind, id, created_at FROM contacts
        UNION ALL SELECT org_id, 'task' AS kind, id, created_at FROM tasks
        UNION ALL SELECT org_id, 'tracked_email' AS kind, id, created_at FROM tracked_emails
    ) AS existing;
