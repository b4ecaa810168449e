//! The link table (`file_links`, migration 0017): one row per synced item of a connection,
//! the file-sync core's [`Link`]. Every function runs on the caller's connection, so that a
//! step's remote write and its link, or a CRM write and its link, share a transaction when
//! the executor wants them to.

use threadline_files_core::hash::{HashKind, RemoteHash};
use threadline_files_core::link::{Link, LinkState, NodeKey, RecordKind, RecordRef};
use threadline_storage::db::{self, id_text, Conn};
use uuid::Uuid;

/// What reading or writing links can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A row this code did not write (a foreign key, state or hash kind it does not know).
    #[error("a file link of connection {connection} cannot be read: {why}")]
    Corrupt { connection: Uuid, why: String },
}

pub type StoreResult<T> = Result<T, StoreError>;

/// So that a write transaction of links is retried when the database asks (a serialization
/// failure on PostgreSQL, a busy SQLite).
impl threadline_storage::errors::DbFailure for StoreError {
    fn database_error(&self) -> Option<&sqlx::Error> {
        match self {
            StoreError::Database(e) => Some(e),
            StoreError::Corrupt { .. } => None,
        }
    }
}

const COLUMNS: &str = "node_key, record_kind, record_id, state, crm_version, sha256, crm_parent, \
     crm_name, remote_id, remote_parent, remote_name, remote_rev, remote_hash_kind, remote_hash, \
     path";

#[derive(sqlx::FromRow)]
struct Row {
    node_key: String,
    record_kind: Option<String>,
    record_id: Option<String>,
    state: String,
    crm_version: i64,
    sha256: Option<String>,
    crm_parent: Option<String>,
    crm_name: String,
    remote_id: String,
    remote_parent: Option<String>,
    remote_name: String,
    remote_rev: Option<String>,
    remote_hash_kind: Option<String>,
    remote_hash: Option<String>,
    path: String,
}

fn state_str(state: LinkState) -> &'static str {
    match state {
        LinkState::Synced => "synced",
        LinkState::GoneRemotely => "gone_remotely",
    }
}

fn hash_kind_str(kind: HashKind) -> &'static str {
    match kind {
        HashKind::Sha256 => "sha256",
        HashKind::Md5 => "md5",
        HashKind::DropboxContentHash => "dropbox_content_hash",
    }
}

fn record_kind_str(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Company => "company",
        RecordKind::Contact => "contact",
        RecordKind::Project => "project",
        RecordKind::Meeting => "meeting",
        RecordKind::Product => "product",
    }
}

impl Row {
    fn into_link(self, connection: Uuid) -> StoreResult<Link> {
        let corrupt = |why: String| StoreError::Corrupt { connection, why };
        let key = |text: &str| {
            NodeKey::from_marker(text).ok_or_else(|| corrupt(format!("node key {text:?}")))
        };
        let record = match (self.record_kind.as_deref(), self.record_id.as_deref()) {
            (None, None) => None,
            (Some(kind), Some(id)) => Some(RecordRef {
                kind: RecordKind::ALL
                    .into_iter()
                    .find(|k| record_kind_str(*k) == kind)
                    .ok_or_else(|| corrupt(format!("record kind {kind:?}")))?,
                id: Uuid::parse_str(id).map_err(|e| corrupt(format!("record id {id:?}: {e}")))?,
            }),
            _ => return Err(corrupt("a record kind without an id".into())),
        };
        let state = match self.state.as_str() {
            "synced" => LinkState::Synced,
            "gone_remotely" => LinkState::GoneRemotely,
            other => return Err(corrupt(format!("state {other:?}"))),
        };
        let remote_hash = match (self.remote_hash_kind.as_deref(), self.remote_hash) {
            (None, None) => None,
            (Some(kind), Some(hex)) => {
                let kind = [
                    HashKind::Sha256,
                    HashKind::Md5,
                    HashKind::DropboxContentHash,
                ]
                .into_iter()
                .find(|k| hash_kind_str(*k) == kind)
                .ok_or_else(|| corrupt(format!("hash kind {kind:?}")))?;
                Some(RemoteHash::new(kind, hex))
            }
            _ => return Err(corrupt("a hash without its kind".into())),
        };
        Ok(Link {
            key: key(&self.node_key)?,
            record,
            state,
            crm_version: self.crm_version,
            sha256: self.sha256,
            crm_parent: self.crm_parent.as_deref().map(key).transpose()?,
            crm_name: self.crm_name,
            remote_id: self.remote_id,
            remote_parent: self.remote_parent,
            remote_name: self.remote_name,
            remote_rev: self.remote_rev,
            remote_hash,
            path: self.path,
        })
    }
}

/// Every link of `connection`, by node key.
pub async fn links(conn: &mut Conn, connection: Uuid) -> StoreResult<Vec<Link>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM file_links WHERE connection_id = $1 ORDER BY node_key"
    ))
    .bind(id_text(connection))
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(|r| r.into_link(connection)).collect()
}

/// Stores `link` (by its key), and removes any other synced link of the same remote item:
/// the core's `PutLink` ("a remote item is one synced link").
pub async fn put_link(conn: &mut Conn, connection: Uuid, link: &Link) -> StoreResult<()> {
    let key = link.key.marker();
    sqlx::query(
        "DELETE FROM file_links WHERE connection_id = $1 AND remote_id = $2
             AND state = 'synced' AND node_key <> $3",
    )
    .bind(id_text(connection))
    .bind(&link.remote_id)
    .bind(&key)
    .execute(&mut *conn)
    .await?;
    let (record_kind, record_id) = match link.record {
        Some(r) => (Some(record_kind_str(r.kind)), Some(id_text(r.id))),
        None => (None, None),
    };
    sqlx::query(
        "INSERT INTO file_links (connection_id, node_key, record_kind, record_id, state,
             crm_version, sha256, crm_parent, crm_name, remote_id, remote_parent, remote_name,
             remote_rev, remote_hash_kind, remote_hash, path, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
         ON CONFLICT (connection_id, node_key) DO UPDATE SET
             record_kind = excluded.record_kind, record_id = excluded.record_id,
             state = excluded.state, crm_version = excluded.crm_version,
             sha256 = excluded.sha256, crm_parent = excluded.crm_parent,
             crm_name = excluded.crm_name, remote_id = excluded.remote_id,
             remote_parent = excluded.remote_parent, remote_name = excluded.remote_name,
             remote_rev = excluded.remote_rev, remote_hash_kind = excluded.remote_hash_kind,
             remote_hash = excluded.remote_hash, path = excluded.path,
             updated_at = excluded.updated_at",
    )
    .bind(id_text(connection))
    .bind(&key)
    .bind(record_kind)
    .bind(record_id)
    .bind(state_str(link.state))
    .bind(link.crm_version)
    .bind(&link.sha256)
    .bind(link.crm_parent.map(|k| k.marker()))
    .bind(&link.crm_name)
    .bind(&link.remote_id)
    .bind(&link.remote_parent)
    .bind(&link.remote_name)
    .bind(&link.remote_rev)
    .bind(link.remote_hash.as_ref().map(|h| hash_kind_str(h.kind)))
    .bind(link.remote_hash.as_ref().map(|h| h.hex.as_str()))
    .bind(&link.path)
    .bind(db::now())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Removes the link of `key` (the core's `DeleteLink`); true when there was one.
pub async fn delete_link(conn: &mut Conn, connection: Uuid, key: &NodeKey) -> StoreResult<bool> {
    let done = sqlx::query("DELETE FROM file_links WHERE connection_id = $1 AND node_key = $2")
        .bind(id_text(connection))
        .bind(key.marker())
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The links whose path is `path` (a Dropbox deletion names a path, not an id).
pub async fn links_at_path(
    conn: &mut Conn,
    connection: Uuid,
    path: &str,
) -> StoreResult<Vec<Link>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM file_links WHERE connection_id = $1 AND path = $2
         ORDER BY node_key"
    ))
    .bind(id_text(connection))
    .bind(path)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(|r| r.into_link(connection)).collect()
}

/// How many files and folders of `connection` are linked (synced both ways now).
pub async fn linked_counts(conn: &mut Conn, connection: Uuid) -> StoreResult<(i64, i64)> {
    let (files, folders): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(CASE WHEN sha256 IS NOT NULL THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN sha256 IS NULL THEN 1 ELSE 0 END), 0)
         FROM file_links WHERE connection_id = $1 AND state = 'synced'",
    )
    .bind(id_text(connection))
    .fetch_one(&mut *conn)
    .await?;
    Ok((files, folders))
}
