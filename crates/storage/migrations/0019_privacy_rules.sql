-- Privacy rules (issue 14): roles, the never-log list, the organisation's internal domains.
-- Same portable-SQL rules as 0001.

-- A user's role in their organisation: its `owner` manages the organisation's privacy rules;
-- everyone else is a `member`. The oldest user of each organisation is its owner (users made
-- later: the first user of a new organisation is its owner, see `accounts::create_user`).
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'member'
    CHECK (role IN ('owner', 'member'));
UPDATE users SET role = 'owner'
WHERE NOT EXISTS (
    SELECT 1 FROM users older
    WHERE older.org_id = users.org_id
      AND (older.created_at < users.created_at
           OR (older.created_at = users.created_at AND older.id < users.id))
);

-- The never-log list: addresses and whole domains (a domain covers its subdomains) that are
-- never tracked, never offered as contacts. `user_id` NULL: the organisation's entry (its
-- owner manages it); else that user's own. `value` is the normalised address or ASCII
-- domain; `match_key` what two entries are the same by (an address's match key, the
-- domain), unique per list.
CREATE TABLE never_log_entries (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organisations (id),
    user_id     TEXT REFERENCES users (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('address', 'domain')),
    value       TEXT NOT NULL,
    match_key   TEXT NOT NULL,
    created_by  TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX never_log_entries_org_idx ON never_log_entries (org_id, user_id);
CREATE UNIQUE INDEX never_log_entries_org_key ON never_log_entries (org_id, kind, match_key)
    WHERE user_id IS NULL;
CREATE UNIQUE INDEX never_log_entries_user_key ON never_log_entries (user_id, kind, match_key)
    WHERE user_id IS NOT NULL;

-- The organisation's internal domains (its colleagues' addresses), as its owner configured
-- them. When `internal_domains_configured` is 0 they are derived from its users' addresses
-- instead (free-mail domains left out) and this table has none of its rows.
ALTER TABLE organisations ADD COLUMN internal_domains_configured INTEGER NOT NULL DEFAULT 0;
CREATE TABLE organisation_domains (
    org_id      TEXT NOT NULL REFERENCES organisations (id),
    domain      TEXT NOT NULL,
    PRIMARY KEY (org_id, domain)
);
