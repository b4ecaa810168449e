-- Google Contacts export, one way CRM → Google (crates/integrations/google-contacts; the
-- design is its README, the decisions threadline-contacts-core's). Same portable-SQL rules
-- as 0001: TEXT ids and RFC 3339 times, INTEGER 0/1 booleans, one file for both engines.

-- One row per connection that turned the export on. `enabled` 0: turned off (the exported
-- contacts and their links stay, so turning it on again adopts instead of duplicating).
-- `group_resource_name`: our `contactGroups/…`, once found or created. `feed_seq`: the CRM
-- changes-feed position up to which changes were exported, moved only after every write of
-- a run is stored. `mapping_version`: the contacts core's HASH_VERSION of the last complete
-- export (another version: export every contact again). `needs_adoption` 1: the next run
-- reads every CRM contact and lists Google in full (first run, turned on again).
-- `sync_token`: the People `nextSyncToken` of the last listing (NULL: list in full).
-- `needs_full_listing` 1: the last plan asked for a complete listing.
CREATE TABLE google_contacts_exports (
    connection_id        TEXT PRIMARY KEY REFERENCES connections (id) ON DELETE CASCADE,
    enabled              INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    group_resource_name  TEXT,
    feed_seq             INTEGER NOT NULL DEFAULT 0,
    mapping_version      TEXT,
    needs_adoption       INTEGER NOT NULL DEFAULT 1 CHECK (needs_adoption IN (0, 1)),
    sync_token           TEXT,
    needs_full_listing   INTEGER NOT NULL DEFAULT 0 CHECK (needs_full_listing IN (0, 1)),
    updated_at           TEXT NOT NULL
);

-- One row per (connection, CRM contact) exported or being exported: the core's `Link`.
-- `resource_name` NULL only while `pending_create` (written before the create batch, so
-- that a lost answer is known); `etag` our last write's; `owned_hash` what Google was last
-- given (versioned).
CREATE TABLE google_contacts_links (
    connection_id  TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    contact_id     TEXT NOT NULL,
    resource_name  TEXT,
    etag           TEXT,
    owned_hash     TEXT NOT NULL,
    state          TEXT NOT NULL
                   CHECK (state IN ('exported', 'pending_create', 'deleted_in_google')),
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (connection_id, contact_id)
);
CREATE INDEX google_contacts_links_resource_idx
    ON google_contacts_links (connection_id, resource_name);
