//! The document trees in the database: folders and files of each record, their versions and
//! the trash. Every query filters on the caller's organisation; a node of another
//! organisation is answered exactly like a missing one.

use serde::Serialize;
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::{is_unique_violation, CrmError, CrmResult, Reason};
use crate::records;
use threadline_storage::db::{self, id_text, parse_uuid, Conn};

use super::blobs::StoredBlob;
use threadline_domain::file_name::{check_name, name_key};

/// The kinds of record that have a document tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Company,
    Contact,
    Project,
    Meeting,
    Product,
}

impl RecordKind {
    pub const ALL: [RecordKind; 5] = [
        RecordKind::Company,
        RecordKind::Contact,
        RecordKind::Project,
        RecordKind::Meeting,
        RecordKind::Product,
    ];

    /// As stored (`document_nodes.record_kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Company => "company",
            RecordKind::Contact => "contact",
            RecordKind::Project => "project",
            RecordKind::Meeting => "meeting",
            RecordKind::Product => "product",
        }
    }

    /// The path segment of its routes (`/companies/{id}/documents`).
    pub fn plural(self) -> &'static str {
        match self {
            RecordKind::Company => "companies",
            RecordKind::Contact => "contacts",
            RecordKind::Project => "projects",
            RecordKind::Meeting => "meetings",
            RecordKind::Product => "products",
        }
    }

    fn parse(s: &str) -> CrmResult<RecordKind> {
        RecordKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| CrmError::internal(format!("bad record kind {s:?} in the database")))
    }
}

/// The record a tree belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RecordRef {
    pub kind: RecordKind,
    pub id: Uuid,
}

impl RecordKind {
    /// The same kind among all records.
    pub fn record_kind(self) -> records::Kind {
        match self {
            RecordKind::Company => records::Kind::Company,
            RecordKind::Contact => records::Kind::Contact,
            RecordKind::Project => records::Kind::Project,
            RecordKind::Meeting => records::Kind::Meeting,
            RecordKind::Product => records::Kind::Product,
        }
    }
}

/// True when the record exists (not deleted) in the organisation.
pub async fn record_exists(conn: &mut Conn, org: Uuid, record: RecordRef) -> CrmResult<bool> {
    records::record_exists(conn, org, record.kind.record_kind(), record.id).await
}

/// 404 unless the record exists in the caller's organisation.
pub async fn require_record(conn: &mut Conn, org: Uuid, record: RecordRef) -> CrmResult<()> {
    if record_exists(conn, org, record).await? {
        return Ok(());
    }
    Err(CrmError::new(
        Reason::NotFound,
        "not_found",
        format!("there is no {} with id {}", record.kind.as_str(), record.id),
    ))
}

/// Folder or file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    Folder,
    File,
}

/// A node as answered.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Node {
    pub id: Uuid,
    pub kind: NodeKind,
    pub name: String,
    /// The folder it is in; `null` at the top of the record's tree.
    pub parent_id: Option<Uuid>,
    pub record: RecordRef,
    /// Grows on every change; `etag` is it as the `ETag` header carries it.
    pub version: i64,
    pub etag: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    /// In the trash: the node whose delete took this one (itself, or a folder above it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trash_id: Option<Uuid>,
    /// Whole-tree listings: a folder's children.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub children: Option<Vec<Node>>,
}

impl Node {
    pub fn is_live(&self) -> bool {
        self.deleted_at.is_none()
    }
}

/// The `ETag` of a node (metadata) at `version`.
pub fn node_etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// The `ETag` of a content: its SHA-256.
pub fn content_etag(sha256: &str) -> String {
    format!("\"{sha256}\"")
}

#[derive(sqlx::FromRow)]
struct NodeRow {
    id: String,
    record_kind: String,
    record_id: String,
    parent_id: Option<String>,
    kind: String,
    name: String,
    version: i64,
    sha256: Option<String>,
    size: Option<i64>,
    content_type: Option<String>,
    created_at: String,
    updated_at: String,
    deleted_at: Option<String>,
    trash_id: Option<String>,
}

const NODE_COLUMNS: &str = "id, record_kind, record_id, parent_id, kind, name, version, sha256, \
                            size, content_type, created_at, updated_at, deleted_at, trash_id";

impl NodeRow {
    fn into_node(self) -> CrmResult<Node> {
        Ok(Node {
            id: parse_uuid(&self.id)?,
            kind: match self.kind.as_str() {
                "folder" => NodeKind::Folder,
                "file" => NodeKind::File,
                other => {
                    return Err(CrmError::internal(format!(
                        "bad node kind {other:?} in the database"
                    )))
                }
            },
            name: self.name,
            parent_id: self.parent_id.as_deref().map(parse_uuid).transpose()?,
            record: RecordRef {
                kind: RecordKind::parse(&self.record_kind)?,
                id: parse_uuid(&self.record_id)?,
            },
            version: self.version,
            etag: node_etag(self.version),
            size: self.size,
            sha256: self.sha256,
            content_type: self.content_type,
            created_at: self.created_at,
            updated_at: self.updated_at,
            deleted_at: self.deleted_at,
            trash_id: self.trash_id.as_deref().map(parse_uuid).transpose()?,
            children: None,
        })
    }
}

fn into_nodes(rows: Vec<NodeRow>) -> CrmResult<Vec<Node>> {
    rows.into_iter().map(NodeRow::into_node).collect()
}

/// The node, live or in the trash; `None` when the organisation has no such node.
pub async fn node(conn: &mut Conn, org: Uuid, id: Uuid) -> CrmResult<Option<Node>> {
    let row: Option<NodeRow> = sqlx::query_as(&format!(
        "SELECT {NODE_COLUMNS} FROM document_nodes WHERE org_id = $1 AND id = $2"
    ))
    .bind(id_text(org))
    .bind(id_text(id))
    .fetch_optional(&mut *conn)
    .await?;
    row.map(NodeRow::into_node).transpose()
}

fn no_such_node(id: Uuid) -> CrmError {
    CrmError::new(
        Reason::NotFound,
        "not_found",
        format!("there is no document with id {id}"),
    )
}

/// The node if it is live (not in the trash); 404 otherwise.
pub async fn live_node(conn: &mut Conn, org: Uuid, id: Uuid) -> CrmResult<Node> {
    match node(conn, org, id).await? {
        Some(n) if n.is_live() => Ok(n),
        _ => Err(no_such_node(id)),
    }
}

/// The live nodes of a record's tree, folders first, then by name.
pub async fn record_nodes(conn: &mut Conn, org: Uuid, record: RecordRef) -> CrmResult<Vec<Node>> {
    nodes_of_record(
        conn,
        org,
        record,
        "deleted_at IS NULL ORDER BY kind DESC, name_key, name, id",
    )
    .await
}

/// The nodes of a record's tree that `rest` (a condition, then an order) selects.
async fn nodes_of_record(
    conn: &mut Conn,
    org: Uuid,
    record: RecordRef,
    rest: &'static str,
) -> CrmResult<Vec<Node>> {
    let rows: Vec<NodeRow> = sqlx::query_as(&format!(
        "SELECT {NODE_COLUMNS} FROM document_nodes
         WHERE org_id = $1 AND record_kind = $2 AND record_id = $3 AND {rest}"
    ))
    .bind(id_text(org))
    .bind(record.kind.as_str())
    .bind(id_text(record.id))
    .fetch_all(&mut *conn)
    .await?;
    into_nodes(rows)
}

/// Every node of these records' trees, live and in the trash (what the document sync
/// compares with the remote side), by record, then folders first and by name.
pub async fn nodes_of_records(
    conn: &mut Conn,
    org: Uuid,
    records: &[RecordRef],
) -> CrmResult<Vec<Node>> {
    let mut out = Vec::new();
    for chunk in records.chunks(400) {
        let mut sql = db::Sql::new(format!(
            "SELECT {NODE_COLUMNS} FROM document_nodes WHERE org_id = "
        ));
        sql.push_bind(id_text(org))
            .push(" AND record_id IN ")
            .push_list(chunk.iter().map(|r| id_text(r.id)))
            .push(" ORDER BY record_id, kind DESC, name_key, name, id");
        let rows: Vec<NodeRow> = sql.build_query_as().fetch_all(&mut *conn).await?;
        let nodes = into_nodes(rows)?;
        out.extend(nodes.into_iter().filter(|n| chunk.contains(&n.record)));
    }
    Ok(out)
}

/// The live records of `kind` (all of them, or those of `ids`) with the name their
/// documents' folder is named after: a company's, project's or product's name, a contact's
/// full name, a meeting's title.
pub async fn record_names(
    conn: &mut Conn,
    org: Uuid,
    kind: RecordKind,
    ids: Option<&[Uuid]>,
) -> CrmResult<Vec<(Uuid, String)>> {
    let (table, name) = match kind {
        RecordKind::Company => ("companies", "name"),
        RecordKind::Contact => ("contacts", "first_name || ' ' || last_name"),
        RecordKind::Project => ("projects", "name"),
        RecordKind::Meeting => ("meetings", "title"),
        RecordKind::Product => ("products", "name"),
    };
    let mut out = Vec::new();
    let query = |ids: Option<&[Uuid]>| {
        let mut sql = db::Sql::new(format!(
            "SELECT id, {name} FROM {table} WHERE deleted_at IS NULL AND org_id = "
        ));
        sql.push_bind(id_text(org));
        if let Some(ids) = ids {
            sql.push(" AND id IN ")
                .push_list(ids.iter().map(|id| id_text(*id)));
        }
        sql.push(" ORDER BY id");
        sql
    };
    let chunks: Vec<Option<&[Uuid]>> = match ids {
        None => vec![None],
        Some(ids) => ids.chunks(400).map(Some).collect(),
    };
    for chunk in chunks {
        let mut sql = query(chunk);
        let rows: Vec<(String, String)> = sql.build_query_as().fetch_all(&mut *conn).await?;
        for (id, name) in rows {
            out.push((parse_uuid(&id)?, name.trim().to_string()));
        }
    }
    Ok(out)
}

/// The whole tree: the top nodes, each folder with its `children`.
pub fn nest(nodes: Vec<Node>) -> Vec<Node> {
    use std::collections::HashMap;
    let mut by_parent: HashMap<Option<Uuid>, Vec<Node>> = HashMap::new();
    for n in nodes {
        by_parent.entry(n.parent_id).or_default().push(n);
    }
    fn build(parent: Option<Uuid>, by_parent: &mut HashMap<Option<Uuid>, Vec<Node>>) -> Vec<Node> {
        let mut level = by_parent.remove(&parent).unwrap_or_default();
        for n in &mut level {
            if n.kind == NodeKind::Folder {
                n.children = Some(build(Some(n.id), by_parent));
            }
        }
        level
    }
    build(None, &mut by_parent)
}

/// The live children of a folder, folders first, then by name.
pub async fn children(conn: &mut Conn, org: Uuid, folder: Uuid) -> CrmResult<Vec<Node>> {
    let rows: Vec<NodeRow> = sqlx::query_as(&format!(
        "SELECT {NODE_COLUMNS} FROM document_nodes
         WHERE org_id = $1 AND parent_id = $2 AND deleted_at IS NULL
         ORDER BY kind DESC, name_key, name, id"
    ))
    .bind(id_text(org))
    .bind(id_text(folder))
    .fetch_all(&mut *conn)
    .await?;
    into_nodes(rows)
}

/// The trash: each node a delete was asked for (not what went with a folder), newest first.
pub async fn trash(conn: &mut Conn, org: Uuid) -> CrmResult<Vec<Node>> {
    let rows: Vec<NodeRow> = sqlx::query_as(&format!(
        "SELECT {NODE_COLUMNS} FROM document_nodes
         WHERE org_id = $1 AND trash_id = id
         ORDER BY deleted_at DESC, id"
    ))
    .bind(id_text(org))
    .fetch_all(&mut *conn)
    .await?;
    into_nodes(rows)
}

/// One record's trash: each node a delete was asked for, newest first.
pub async fn record_trash(conn: &mut Conn, org: Uuid, record: RecordRef) -> CrmResult<Vec<Node>> {
    nodes_of_record(
        conn,
        org,
        record,
        "trash_id = id ORDER BY deleted_at DESC, id",
    )
    .await
}

/// Who last changed each node of a record's tree (live or in the trash), by name: the
/// user's, or nobody's for a change a sync made without one.
pub async fn changed_by(
    conn: &mut Conn,
    org: Uuid,
    record: RecordRef,
) -> CrmResult<std::collections::HashMap<Uuid, String>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT n.id, u.name FROM document_nodes n JOIN users u ON u.id = n.updated_by
         WHERE n.org_id = $1 AND n.record_kind = $2 AND n.record_id = $3",
    )
    .bind(id_text(org))
    .bind(record.kind.as_str())
    .bind(id_text(record.id))
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(id, name)| Ok((parse_uuid(&id)?, name)))
        .collect()
}

/// A folder of `record` (live) that `field` names as the parent; `None` is the top.
pub async fn check_parent(
    conn: &mut Conn,
    org: Uuid,
    record: RecordRef,
    parent: Option<Uuid>,
    field: &str,
) -> CrmResult<()> {
    let Some(parent) = parent else {
        return Ok(());
    };
    let found = match node(conn, org, parent).await? {
        Some(n) if n.is_live() && n.record == record => n,
        _ => {
            return Err(CrmError::unknown_record(
                field,
                format!(
                    "there is no folder with id {parent} in the documents of this {}",
                    record.kind.as_str()
                ),
            ))
        }
    };
    if found.kind != NodeKind::Folder {
        return Err(CrmError::invalid(
            field,
            format!("{parent} is a file, not a folder: files cannot hold others"),
        ));
    }
    Ok(())
}

/// 409 `name_conflict` when a live node of that folder (other than `except`) has the name.
pub async fn check_name_free(
    conn: &mut Conn,
    org: Uuid,
    record: RecordRef,
    parent: Option<Uuid>,
    name: &str,
    except: Option<Uuid>,
) -> CrmResult<()> {
    let key = name_key(name);
    let taken: Option<(String, String, String)> = match parent {
        Some(parent) => {
            sqlx::query_as(
                "SELECT id, kind, name FROM document_nodes
             WHERE org_id = $1 AND parent_id = $2 AND name_key = $3 AND deleted_at IS NULL",
            )
            .bind(id_text(org))
            .bind(id_text(parent))
            .bind(&key)
            .fetch_optional(&mut *conn)
            .await?
        }
        None => {
            sqlx::query_as(
                "SELECT id, kind, name FROM document_nodes
             WHERE org_id = $1 AND record_kind = $2 AND record_id = $3 AND parent_id IS NULL
               AND name_key = $4 AND deleted_at IS NULL",
            )
            .bind(id_text(org))
            .bind(record.kind.as_str())
            .bind(id_text(record.id))
            .bind(&key)
            .fetch_optional(&mut *conn)
            .await?
        }
    };
    match taken {
        Some((id, _, _)) if except.is_some_and(|e| id_text(e) == id) => Ok(()),
        Some((id, kind, existing)) => Err(name_conflict(&kind, &existing, &id)),
        None => Ok(()),
    }
}

fn name_conflict(kind: &str, existing: &str, id: &str) -> CrmError {
    CrmError::new(
        Reason::Conflict,
        "name_conflict",
        format!(
            "this folder already has a {kind} named {existing:?} (id {id}); names of one folder \
             must differ in more than letter case"
        ),
    )
    .with_field("name")
}

/// A unique violation on the name indexes (a concurrent create) is the same 409.
fn conflict_on_unique(e: sqlx::Error, name: &str) -> CrmError {
    if is_unique_violation(&e) {
        CrmError::new(
            Reason::Conflict,
            "name_conflict",
            format!("this folder already has something named {name:?}"),
        )
        .with_field("name")
    } else {
        CrmError::Database(e)
    }
}

/// 422 `invalid_field` unless `name` is acceptable.
pub fn valid_name(field: &str, name: &str) -> CrmResult<()> {
    check_name(name).map_err(|e| CrmError::invalid(field, format!("{field} is refused: {e}")))
}

/// The ETags an `If-Match` header lists. Required on every change of an existing node (as on
/// records): without it 428 `precondition_required`; `*` is refused too (a blind overwrite is
/// what the header is there to prevent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfMatch(Vec<String>);

impl IfMatch {
    /// Parses the header's value (`"3"`, or a list `"3", "4"`; a weak tag never matches).
    pub fn parse(value: Option<&str>) -> CrmResult<IfMatch> {
        let Some(value) = value.map(str::trim) else {
            return Err(CrmError::new(
                Reason::VersionRequired,
                "precondition_required",
                "send If-Match with the ETag of the document you are changing (from its GET or \
                 listing)",
            )
            .with_field("If-Match"));
        };
        let bad = |tag: &str| {
            CrmError::new(
                Reason::BadInput,
                "invalid_header",
                format!(
                    "If-Match must be ETags as the server answered them, e.g. \"3\" (quotes \
                     included; * is not accepted); got {tag:?}"
                ),
            )
            .with_field("If-Match")
        };
        let mut tags = Vec::new();
        for tag in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let bare = tag.strip_prefix("W/").unwrap_or(tag);
            if bare.len() < 2 || !bare.starts_with('"') || !bare.ends_with('"') {
                return Err(bad(tag));
            }
            // A weak tag is kept as it is, a form no strong tag has: it never matches.
            tags.push(tag.to_string());
        }
        if tags.is_empty() {
            return Err(bad(value));
        }
        Ok(IfMatch(tags))
    }

    /// 412 `precondition_failed` unless one of the tags is one of `current` (the node's tags
    /// now; the first is the one told back).
    pub fn check(&self, current: &[String]) -> CrmResult<()> {
        if self.0.iter().any(|t| current.contains(t)) {
            return Ok(());
        }
        Err(CrmError::new(
            Reason::StaleVersion,
            "precondition_failed",
            format!(
                "the document changed since that ETag was read (it is now {}); read it again \
                 and retry",
                current.first().map(String::as_str).unwrap_or("gone")
            ),
        )
        .with_field("If-Match"))
    }
}

/// Records a change of a node in the organisation's changes feed (kind `document`), in
/// the change's transaction: the node's version, and whether it is in the trash.
async fn note_change(conn: &mut Conn, auth: &Actor, node: &Node) -> CrmResult<()> {
    records::log_change_of(
        conn,
        auth.org_id,
        records::DOCUMENT_CHANGE_KIND,
        node.id,
        node.version,
        !node.is_live(),
        &db::now(),
    )
    .await
}

/// [`note_change`] for `nodes`, those that went to (or came back from) the trash together:
/// their versions and states read in one query.
async fn note_trash_change(conn: &mut Conn, auth: &Actor, nodes: &[Uuid]) -> CrmResult<()> {
    if nodes.is_empty() {
        return Ok(());
    }
    let mut sql =
        db::Sql::new("SELECT id, version, deleted_at FROM document_nodes WHERE org_id = ");
    sql.push_bind(id_text(auth.org_id))
        .push(" AND id IN ")
        .push_list(nodes.iter().map(|id| id_text(*id)));
    let rows: Vec<(String, i64, Option<String>)> =
        sql.build_query_as().fetch_all(&mut *conn).await?;
    let now = db::now();
    for (id, version, deleted_at) in rows {
        records::log_change_of(
            conn,
            auth.org_id,
            records::DOCUMENT_CHANGE_KIND,
            parse_uuid(&id)?,
            version,
            deleted_at.is_some(),
            &now,
        )
        .await?;
    }
    Ok(())
}

/// The nodes that went to the trash with `top` (itself included).
async fn trashed_with(conn: &mut Conn, org: Uuid, top: Uuid) -> CrmResult<Vec<Uuid>> {
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id FROM document_nodes WHERE org_id = $1 AND trash_id = $2")
            .bind(id_text(org))
            .bind(id_text(top))
            .fetch_all(&mut *conn)
            .await?;
    ids.iter().map(|s| Ok(parse_uuid(s)?)).collect()
}

/// A new folder.
pub async fn create_folder(
    conn: &mut Conn,
    auth: &Actor,
    record: RecordRef,
    parent: Option<Uuid>,
    name: &str,
) -> CrmResult<Node> {
    insert_node(conn, auth, db::new_id(), record, parent, name, None).await
}

/// A new folder or file with the id its maker chose: the document sync creates what it
/// imports under ids derived from the remote item, so that a repeated transaction (after a
/// crash) finds the same row instead of making a second one. The caller checks first
/// whether a node with `id` exists.
pub async fn create_with_id(
    conn: &mut Conn,
    auth: &Actor,
    id: Uuid,
    record: RecordRef,
    parent: Option<Uuid>,
    name: &str,
    content: Option<&NewContent>,
) -> CrmResult<Node> {
    insert_node(conn, auth, id, record, parent, name, content).await
}

/// A new file with stored content.
pub async fn create_file(
    conn: &mut Conn,
    auth: &Actor,
    record: RecordRef,
    parent: Option<Uuid>,
    name: &str,
    content: &NewContent,
) -> CrmResult<Node> {
    insert_node(
        conn,
        auth,
        db::new_id(),
        record,
        parent,
        name,
        Some(content),
    )
    .await
}

/// The content of an upload, stored already.
#[derive(Debug, Clone)]
pub struct NewContent {
    pub blob: StoredBlob,
    pub content_type: String,
}

async fn insert_node(
    conn: &mut Conn,
    auth: &Actor,
    id: Uuid,
    record: RecordRef,
    parent: Option<Uuid>,
    name: &str,
    content: Option<&NewContent>,
) -> CrmResult<Node> {
    require_record(conn, auth.org_id, record).await?;
    check_parent(conn, auth.org_id, record, parent, "parent_id").await?;
    check_name_free(conn, auth.org_id, record, parent, name, None).await?;
    let now = db::now();
    let user = id_text(auth.user_id);
    sqlx::query(
        "INSERT INTO document_nodes
           (id, org_id, record_kind, record_id, parent_id, kind, name, name_key, version, sha256,
            size, content_type, created_at, created_by, updated_at, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, $11, $12, $13, $12, $13)",
    )
    .bind(id_text(id))
    .bind(id_text(auth.org_id))
    .bind(record.kind.as_str())
    .bind(id_text(record.id))
    .bind(parent.map(id_text))
    .bind(if content.is_some() { "file" } else { "folder" })
    .bind(name)
    .bind(name_key(name))
    .bind(content.map(|c| c.blob.sha256.clone()))
    .bind(content.map(|c| size_i64(&c.blob)))
    .bind(content.map(|c| c.content_type.clone()))
    .bind(&now)
    .bind(&user)
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict_on_unique(e, name))?;
    if let Some(content) = content {
        insert_version(conn, auth, id, 1, content, &now).await?;
    }
    let node = live_node(conn, auth.org_id, id).await?;
    note_change(conn, auth, &node).await?;
    Ok(node)
}

fn size_i64(blob: &StoredBlob) -> i64 {
    i64::try_from(blob.size).unwrap_or(i64::MAX)
}

async fn insert_version(
    conn: &mut Conn,
    auth: &Actor,
    node: Uuid,
    node_version: i64,
    content: &NewContent,
    now: &str,
) -> CrmResult<()> {
    sqlx::query(
        "INSERT INTO document_file_versions
           (id, node_id, org_id, node_version, sha256, size, content_type, created_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id_text(db::new_id()))
    .bind(id_text(node))
    .bind(id_text(auth.org_id))
    .bind(node_version)
    .bind(&content.blob.sha256)
    .bind(size_i64(&content.blob))
    .bind(&content.content_type)
    .bind(now)
    .bind(id_text(auth.user_id))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// New content for a file (If-Match: the node's ETag or the current content's).
pub async fn replace_content(
    conn: &mut Conn,
    auth: &Actor,
    id: Uuid,
    if_match: &IfMatch,
    content: &NewContent,
) -> CrmResult<Node> {
    let current = live_node(conn, auth.org_id, id).await?;
    let sha = current.sha256.as_deref().unwrap_or_default();
    if_match.check(&[current.etag.clone(), content_etag(sha)])?;
    if current.kind != NodeKind::File {
        return Err(CrmError::new(
            Reason::Conflict,
            "not_a_file",
            format!("{id} is a folder: only a file has content"),
        ));
    }
    let version = current.version + 1;
    let now = db::now();
    sqlx::query(
        "UPDATE document_nodes
         SET sha256 = $1, size = $2, content_type = $3, version = $4, updated_at = $5,
             updated_by = $6
         WHERE org_id = $7 AND id = $8",
    )
    .bind(&content.blob.sha256)
    .bind(size_i64(&content.blob))
    .bind(&content.content_type)
    .bind(version)
    .bind(&now)
    .bind(id_text(auth.user_id))
    .bind(id_text(auth.org_id))
    .bind(id_text(id))
    .execute(&mut *conn)
    .await?;
    insert_version(conn, auth, id, version, content, &now).await?;
    let node = live_node(conn, auth.org_id, id).await?;
    note_change(conn, auth, &node).await?;
    Ok(node)
}

/// A rename and/or a move. `parent`: `None` keeps the folder, `Some(None)` moves to the top.
pub async fn update(
    conn: &mut Conn,
    auth: &Actor,
    id: Uuid,
    if_match: &IfMatch,
    name: Option<&str>,
    parent: Option<Option<Uuid>>,
) -> CrmResult<Node> {
    let current = live_node(conn, auth.org_id, id).await?;
    if_match.check(std::slice::from_ref(&current.etag))?;
    let new_name = name.unwrap_or(&current.name);
    let new_parent = parent.unwrap_or(current.parent_id);
    if new_name == current.name && new_parent == current.parent_id {
        return Ok(current);
    }
    if new_parent != current.parent_id {
        check_parent(conn, auth.org_id, current.record, new_parent, "parent_id").await?;
        if let Some(target) = new_parent {
            if current.kind == NodeKind::Folder && ancestors(conn, target).await?.contains(&id) {
                return Err(CrmError::invalid(
                    "parent_id",
                    format!(
                        "cannot move the folder {:?} into itself or a folder inside it",
                        current.name
                    ),
                ));
            }
        }
    }
    check_name_free(
        conn,
        auth.org_id,
        current.record,
        new_parent,
        new_name,
        Some(id),
    )
    .await?;
    sqlx::query(
        "UPDATE document_nodes
         SET name = $1, name_key = $2, parent_id = $3, version = version + 1, updated_at = $4,
             updated_by = $5
         WHERE org_id = $6 AND id = $7",
    )
    .bind(new_name)
    .bind(name_key(new_name))
    .bind(new_parent.map(id_text))
    .bind(db::now())
    .bind(id_text(auth.user_id))
    .bind(id_text(auth.org_id))
    .bind(id_text(id))
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict_on_unique(e, new_name))?;
    let node = live_node(conn, auth.org_id, id).await?;
    note_change(conn, auth, &node).await?;
    Ok(node)
}

/// `folder` and the folders above it, up to the top.
async fn ancestors(conn: &mut Conn, folder: Uuid) -> CrmResult<Vec<Uuid>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "WITH RECURSIVE up (id, parent_id) AS (
             SELECT id, parent_id FROM document_nodes WHERE id = $1
             UNION ALL
             SELECT n.id, n.parent_id FROM document_nodes n JOIN up ON n.id = up.parent_id
         )
         SELECT id FROM up",
    )
    .bind(id_text(folder))
    .fetch_all(&mut *conn)
    .await?;
    ids.iter().map(|s| Ok(parse_uuid(s)?)).collect()
}

/// Moves a node and everything under it to the trash.
pub async fn move_to_trash(
    conn: &mut Conn,
    auth: &Actor,
    id: Uuid,
    if_match: &IfMatch,
) -> CrmResult<Node> {
    let current = live_node(conn, auth.org_id, id).await?;
    if_match.check(std::slice::from_ref(&current.etag))?;
    sqlx::query(
        "WITH RECURSIVE down (id) AS (
             SELECT id FROM document_nodes WHERE org_id = $1 AND id = $2
             UNION ALL
             SELECT n.id FROM document_nodes n JOIN down ON n.parent_id = down.id
             WHERE n.deleted_at IS NULL
         )
         UPDATE document_nodes
         SET deleted_at = $3, deleted_by = $4, trash_id = $2, version = version + 1,
             updated_at = $3, updated_by = $4
         WHERE org_id = $1 AND id IN (SELECT id FROM down)",
    )
    .bind(id_text(auth.org_id))
    .bind(id_text(id))
    .bind(db::now())
    .bind(id_text(auth.user_id))
    .execute(&mut *conn)
    .await?;
    let carried = trashed_with(conn, auth.org_id, id).await?;
    note_trash_change(conn, auth, &carried).await?;
    node(conn, auth.org_id, id)
        .await?
        .ok_or_else(|| no_such_node(id))
}

/// Brings back from the trash what deleting `id` took, where it was.
pub async fn restore(
    conn: &mut Conn,
    auth: &Actor,
    id: Uuid,
    if_match: &IfMatch,
) -> CrmResult<Node> {
    let current = node(conn, auth.org_id, id)
        .await?
        .ok_or_else(|| no_such_node(id))?;
    if_match.check(std::slice::from_ref(&current.etag))?;
    match current.trash_id {
        None => {
            return Err(CrmError::new(
                Reason::Conflict,
                "not_in_trash",
                format!("{id} is not in the trash"),
            ))
        }
        Some(top) if top != id => {
            return Err(CrmError::new(
                Reason::Conflict,
                "not_in_trash",
                format!(
                    "{id} went to the trash with the folder {top}: restore that folder instead"
                ),
            ))
        }
        Some(_) => {}
    }
    if let Some(parent) = current.parent_id {
        let live = node(conn, auth.org_id, parent)
            .await?
            .is_some_and(|p| p.is_live());
        if !live {
            return Err(CrmError::new(
                Reason::Conflict,
                "parent_in_trash",
                format!(
                    "the folder {parent} that held {:?} is in the trash: restore it first, or \
                     move this after restoring",
                    current.name
                ),
            )
            .with_field("parent_id"));
        }
    }
    check_name_free(
        conn,
        auth.org_id,
        current.record,
        current.parent_id,
        &current.name,
        Some(id),
    )
    .await?;
    let carried = trashed_with(conn, auth.org_id, id).await?;
    sqlx::query(
        "UPDATE document_nodes
         SET deleted_at = NULL, deleted_by = NULL, trash_id = NULL, version = version + 1,
             updated_at = $3, updated_by = $4
         WHERE org_id = $1 AND trash_id = $2",
    )
    .bind(id_text(auth.org_id))
    .bind(id_text(id))
    .bind(db::now())
    .bind(id_text(auth.user_id))
    .execute(&mut *conn)
    .await
    .map_err(|e| conflict_on_unique(e, &current.name))?;
    note_trash_change(conn, auth, &carried).await?;
    live_node(conn, auth.org_id, id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_parsing_and_checks() {
        let now = vec![node_etag(3)];
        let parse = |v: &str| IfMatch::parse(Some(v));
        assert!(parse("\"3\"").unwrap().check(&now).is_ok());
        assert!(parse("\"2\", \"3\"").unwrap().check(&now).is_ok());
        let stale = parse("\"2\"").unwrap().check(&now).unwrap_err();
        assert_eq!(stale.reason(), Some(Reason::StaleVersion));
        assert!(stale.to_string().contains("\"3\""), "{stale}");
        assert!(parse("W/\"3\"").unwrap().check(&now).is_err());
        for bad in ["3", "*", "", " , "] {
            assert_eq!(
                parse(bad).unwrap_err().reason(),
                Some(Reason::BadInput),
                "{bad}"
            );
        }
        assert_eq!(
            IfMatch::parse(None).unwrap_err().reason(),
            Some(Reason::VersionRequired)
        );
    }
}
