-- The whole email (issue 14): the raw RFC 822 source of a tracked email, as the user's
-- entry received it, and what the server read from it (crates/crm/src/email_source.rs).
-- Same portable-SQL rules as 0001. Numbered 0020: 0019 belongs to other work; sqlx applies
-- migrations in order and a missing number is no error.
--
-- `tracked_email_sources`: at most one per entry (the latest source sent for it). The source
-- is kept whole, gzip-compressed, in the blob store (`blob_sha256`: the hash of the gzip
-- bytes, which is the blob's name); `raw_sha256` and `raw_size` are those of the message
-- itself, so that the same source sent again is recognised and changes nothing.
-- `status`: 'parsed', or 'unparsed' with a `reason` (the entry then keeps what the page
-- sent). `headers`: JSON, the message's identity and address headers as parsed
-- (`SourceHeaders`); `text_bytes`/`html_bytes`: the whole bodies' sizes (the entry's
-- columns may hold them cut; the source always has them whole).
CREATE TABLE tracked_email_sources (
    tracked_email_id  TEXT PRIMARY KEY REFERENCES tracked_emails (id) ON DELETE CASCADE,
    org_id            TEXT NOT NULL REFERENCES organisations (id),
    raw_sha256        TEXT NOT NULL,
    raw_size          INTEGER NOT NULL,
    blob_sha256       TEXT NOT NULL,
    blob_size         INTEGER NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('parsed', 'unparsed')),
    reason            TEXT,
    headers           TEXT NOT NULL,
    text_bytes        INTEGER,
    html_bytes        INTEGER,
    received_at       TEXT NOT NULL,
    CHECK ((status = 'unparsed') = (reason IS NOT NULL))
);
CREATE INDEX tracked_email_sources_blob_idx ON tracked_email_sources (blob_sha256);

-- Every attachment of a parsed source, in the message's order (`position`, from 0: the `n`
-- of `GET /tracked-emails/{id}/attachments/{n}`), inline images too (`inline` = 1, with
-- their `content_id`). `name` is a valid document name (`threadline_domain::file_name`);
-- `sha256` names the stored content in the blob store, NULL when it was not stored (over
-- the documents' 50 MB rule: `not_stored_reason` says so).
CREATE TABLE tracked_email_attachments (
    tracked_email_id   TEXT NOT NULL REFERENCES tracked_emails (id) ON DELETE CASCADE,
    position           INTEGER NOT NULL,
    name               TEXT NOT NULL,
    content_type       TEXT NOT NULL,
    size               INTEGER NOT NULL,
    sha256             TEXT,
    inline             INTEGER NOT NULL,
    content_id         TEXT,
    not_stored_reason  TEXT,
    PRIMARY KEY (tracked_email_id, position),
    CHECK ((sha256 IS NULL) = (not_stored_reason IS NOT NULL))
);
CREATE INDEX tracked_email_attachments_sha_idx ON tracked_email_attachments (sha256);
