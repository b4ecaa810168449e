-- The document sync with Google Drive and Dropbox (issue 13): one row per synced item of a
-- connection, the file-sync core's `Link` (crates/sync/files-core/src/link.rs; the store is
-- crates/sync/files/src/store.rs). Same portable-SQL rules as 0001. It replaces
-- `document_remote_items` (0003), which nothing wrote: it was keyed by CRM node only, while
-- the sync also links the folders it makes (the root, a module's, a record's), and it kept
-- neither side's place at the last sync nor the provider's hash.
--
-- `node_key`: what the link ties on the CRM side, as the core writes it in Drive markers:
-- `root`, `module:company`, `record:company:<uuid>`, `node:<uuid>` (a document node).
-- `state`: `synced`, or `gone_remotely` (deleted at the provider while the CRM kept it: the
-- CRM never deletes for that; the node is pushed back only when it changes in the CRM).
-- `crm_parent` is a node key; `remote_parent` the provider's folder id. `remote_hash_kind`
-- and `remote_hash`: the provider's hash of the content both sides had (`sha256`, `md5`,
-- `dropbox_content_hash`; lowercase hex). `path`: from the sync's root at the last sync, how
-- a Dropbox deletion (a path, no id) finds its links.
DROP TABLE document_remote_items;

CREATE TABLE file_links (
    connection_id     TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    node_key          TEXT NOT NULL,
    record_kind       TEXT CHECK (record_kind IN ('company', 'contact', 'project', 'meeting', 'product')),
    record_id         TEXT,
    state             TEXT NOT NULL CHECK (state IN ('synced', 'gone_remotely')),
    crm_version       INTEGER NOT NULL,
    sha256            TEXT,
    crm_parent        TEXT,
    crm_name          TEXT NOT NULL,
    remote_id         TEXT NOT NULL,
    remote_parent     TEXT,
    remote_name       TEXT NOT NULL,
    remote_rev        TEXT,
    remote_hash_kind  TEXT CHECK (remote_hash_kind IN ('sha256', 'md5', 'dropbox_content_hash')),
    remote_hash       TEXT,
    path              TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    PRIMARY KEY (connection_id, node_key),
    CHECK ((record_kind IS NULL) = (record_id IS NULL)),
    CHECK ((remote_hash_kind IS NULL) = (remote_hash IS NULL))
);
-- A remote item is one synced link of its connection.
CREATE UNIQUE INDEX file_links_remote_idx ON file_links (connection_id, remote_id)
    WHERE state = 'synced';
CREATE INDEX file_links_path_idx ON file_links (connection_id, path);
