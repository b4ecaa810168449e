-- Documents: a tree of folders and files per record (company, contact, project, meeting,
-- product). Content lives on disk, stored once by SHA-256 (src/documents/blobs.rs); these
-- tables hold the tree, the versions of each file and the trash.
--
-- Made for two-way sync with Google Drive and Dropbox: a node's id never changes (rename and
-- move keep it), `version` grows on every change of the node (the ETag checked by If-Match),
-- each file version keeps its content hash, and a delete is a soft delete into the trash
-- (`deleted_at`), restorable, that a sync run can read and replay remotely.

CREATE TABLE document_nodes (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organisations (id),
    record_kind   TEXT NOT NULL
                  CHECK (record_kind IN ('company', 'contact', 'project', 'meeting', 'product')),
    record_id     TEXT NOT NULL,
    -- The folder it is in; NULL at the top of the record's tree.
    parent_id     TEXT REFERENCES document_nodes (id),
    kind          TEXT NOT NULL CHECK (kind IN ('folder', 'file')),
    name          TEXT NOT NULL,
    -- The name lowercased: names of one folder differ in more than letter case (Dropbox,
    -- Windows and macOS would take them for one file).
    name_key      TEXT NOT NULL,
    -- 1 when created, + 1 on every change (rename, move, new content, trash, restore).
    version       INTEGER NOT NULL,
    -- Files: the current content (the newest row of document_file_versions). NULL for folders.
    sha256        TEXT,
    size          INTEGER,
    content_type  TEXT,
    created_at    TEXT NOT NULL,
    created_by    TEXT REFERENCES users (id),
    updated_at    TEXT NOT NULL,
    updated_by    TEXT REFERENCES users (id),
    -- Trash: set on the node deleted and on everything under it, all with the same
    -- `trash_id` (the id of the node the delete was asked for), so that a restore brings back
    -- exactly what that delete took.
    deleted_at    TEXT,
    deleted_by    TEXT REFERENCES users (id),
    trash_id      TEXT,
    CHECK ((kind = 'file') = (sha256 IS NOT NULL)),
    CHECK ((deleted_at IS NULL) = (trash_id IS NULL))
);
-- One live name per folder, and per record at the top.
CREATE UNIQUE INDEX document_nodes_name_idx ON document_nodes (parent_id, name_key)
    WHERE parent_id IS NOT NULL AND deleted_at IS NULL;
CREATE UNIQUE INDEX document_nodes_top_name_idx
    ON document_nodes (org_id, record_kind, record_id, name_key)
    WHERE parent_id IS NULL AND deleted_at IS NULL;
CREATE INDEX document_nodes_record_idx ON document_nodes (org_id, record_kind, record_id);
CREATE INDEX document_nodes_parent_idx ON document_nodes (parent_id);
CREATE INDEX document_nodes_trash_idx ON document_nodes (org_id, trash_id);
CREATE INDEX document_nodes_sha256_idx ON document_nodes (sha256);

-- Every content a file has had, newest last: the hash per version that a sync compares
-- with the remote side's, and what a later "restore an older version" would offer.
CREATE TABLE document_file_versions (
    id            TEXT PRIMARY KEY,
    node_id       TEXT NOT NULL REFERENCES document_nodes (id),
    org_id        TEXT NOT NULL REFERENCES organisations (id),
    -- The node's `version` this content came with.
    node_version  INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    size          INTEGER NOT NULL,
    content_type  TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    created_by    TEXT REFERENCES users (id),
    UNIQUE (node_id, node_version)
);
CREATE INDEX document_file_versions_sha256_idx ON document_file_versions (sha256);

-- For the sync issues (not used yet): which remote item a node is, per connected account,
-- and the state both sides had at the last sync (a node whose `version` is above
-- `synced_version` changed here; a remote revision other than `remote_rev` changed there).
CREATE TABLE document_remote_items (
    node_id         TEXT NOT NULL REFERENCES document_nodes (id),
    org_id          TEXT NOT NULL REFERENCES organisations (id),
    provider        TEXT NOT NULL CHECK (provider IN ('google_drive', 'dropbox')),
    -- The connected account (a Drive user or a Dropbox app folder), as the provider names it.
    account_id      TEXT NOT NULL,
    remote_id       TEXT NOT NULL,
    remote_rev      TEXT,
    synced_version  INTEGER NOT NULL,
    synced_sha256   TEXT,
    synced_at       TEXT NOT NULL,
    PRIMARY KEY (node_id, provider, account_id),
    UNIQUE (provider, account_id, remote_id)
);
