-- Document storage retention (crates/crm/src/documents/retention.rs): every server process
-- collects hourly (trash past its retention, old versions, unreferenced content, abandoned
-- uploads); a lease row lets one process at a time do it, whichever engine. Same
-- portable-SQL rules as 0001 (timestamps as fixed-width RFC 3339 TEXT).
CREATE TABLE maintenance_leases (
    -- The work the lease is for (`document_storage`).
    name         TEXT PRIMARY KEY,
    -- The process holding it (a random id per process).
    owner        TEXT NOT NULL,
    -- Free after this, also when its holder died without letting it go.
    expires_at   TEXT NOT NULL,
    -- When the last pass that held it finished (NULL: none yet).
    finished_at  TEXT
);

-- The trash's top nodes (what each delete took) by age, for the purge.
CREATE INDEX document_nodes_trash_age_idx ON document_nodes (deleted_at) WHERE trash_id = id;
