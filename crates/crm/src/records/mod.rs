//! The CRM's records: companies, contacts, projects, meetings, products, tasks and tracked
//! emails. What every record type shares lives here:
//!
//! - [`Kind`] and [`record_exists`] ("is record (kind, id) a live record of this org?"),
//!   which other modules (documents) use to check a reference.
//! - Every record row has `id` (UUIDv7 text), `org_id`, `version` (1 on creation, + 1 on
//!   every write; the strong ETag `"<version>"`), `created_at`, `updated_at` and
//!   `deleted_at` (soft delete: the row stays as a tombstone for the sync engine).
//! - Every change writes the record's row of `changes` in the same transaction
//!   ([`log_change`]): the per-organisation feed that `GET /api/v1/changes` follows.

pub mod changes;
pub mod companies;
pub mod contacts;
pub mod edit;
pub mod fields;
pub mod list;
pub mod meetings;
pub mod products;
pub mod projects;
mod record;
pub mod search;
pub mod tasks;
pub mod tracked_emails;

pub use record::{create, update, Editable, Record};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{CrmError, CrmResult, Reason};
use threadline_storage::db::{self, id_text, parse_time, parse_uuid, Conn, Engine, Sql};

/// The kinds of record, as written in URLs' bodies, links and the changes feed.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Company,
    Contact,
    Project,
    Meeting,
    Product,
    Task,
    TrackedEmail,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Company,
        Kind::Contact,
        Kind::Project,
        Kind::Meeting,
        Kind::Product,
        Kind::Task,
        Kind::TrackedEmail,
    ];

    /// The stored (and wire) name: `company`, `tracked_email`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Company => "company",
            Kind::Contact => "contact",
            Kind::Project => "project",
            Kind::Meeting => "meeting",
            Kind::Product => "product",
            Kind::Task => "task",
            Kind::TrackedEmail => "tracked_email",
        }
    }

    /// The kind named `s` (its [`Kind::as_str`]).
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The table of this kind's rows.
    pub fn table(self) -> &'static str {
        match self {
            Kind::Company => "companies",
            Kind::Contact => "contacts",
            Kind::Project => "projects",
            Kind::Meeting => "meetings",
            Kind::Product => "products",
            Kind::Task => "tasks",
            Kind::TrackedEmail => "tracked_emails",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// True when `id` is a record of `kind` in `org` that is not deleted. Use it (inside the
/// write transaction) to check a reference before storing it; answer a missing one with
/// [`crate::error::CrmError::unknown_record`].
pub async fn record_exists(conn: &mut Conn, org: Uuid, kind: Kind, id: Uuid) -> CrmResult<bool> {
    let found: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT 1 FROM {} WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL",
        kind.table()
    ))
    .bind(id_text(org))
    .bind(id_text(id))
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.is_some())
}

// ---------------------------------------------------------------------------------------
// Versions, writes and the changes feed

/// What every record answer carries (flattened into it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Meta {
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
}

/// Keys of every record answer that are not part of its input.
pub const META_KEYS: [&str; 5] = ["id", "version", "created_at", "updated_at", "deleted_at"];

/// The common columns of a row, to read with [`Meta::from_row`].
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MetaRow {
    pub id: String,
    pub version: i64,
    pub created_at: String,
    pub updated_at: Option<String>,
    pub deleted_at: Option<String>,
}

/// `id, version, created_at, updated_at, deleted_at` of the table aliased `t`.
pub const META_COLUMNS: &str = "t.id, t.version, t.created_at, t.updated_at, t.deleted_at";

impl MetaRow {
    pub fn meta(&self) -> CrmResult<Meta> {
        let created_at = parse_time(&self.created_at)?;
        Ok(Meta {
            version: self.version,
            created_at,
            updated_at: match &self.updated_at {
                Some(t) => parse_time(t)?,
                None => created_at,
            },
            deleted_at: self.deleted_at.as_deref().map(parse_time).transpose()?,
        })
    }

    pub fn uuid(&self) -> CrmResult<Uuid> {
        Ok(parse_uuid(&self.id)?)
    }
}

/// A column value to write: the Any driver carries text and integers.
#[derive(Debug, Clone)]
pub enum Col {
    Text(Option<String>),
    Int(Option<i64>),
}

impl From<String> for Col {
    fn from(v: String) -> Col {
        Col::Text(Some(v))
    }
}
impl From<Option<String>> for Col {
    fn from(v: Option<String>) -> Col {
        Col::Text(v)
    }
}
impl From<i64> for Col {
    fn from(v: i64) -> Col {
        Col::Int(Some(v))
    }
}
impl From<Option<i64>> for Col {
    fn from(v: Option<i64>) -> Col {
        Col::Int(v)
    }
}
impl From<bool> for Col {
    fn from(v: bool) -> Col {
        Col::Int(Some(i64::from(v)))
    }
}
impl From<Option<Uuid>> for Col {
    fn from(v: Option<Uuid>) -> Col {
        Col::Text(v.map(id_text))
    }
}

fn push_col(sql: &mut Sql<'_>, value: &Col) {
    match value {
        Col::Text(v) => sql.push_bind(v.clone()),
        Col::Int(v) => sql.push_bind(*v),
    };
}

/// A new record, or a change of the record at the version the client last saw (If-Match).
#[derive(Debug, Clone, Copy)]
pub enum Target {
    New,
    Existing { expected_version: i64 },
}

/// Writes a record's own row: an INSERT at version 1, or an UPDATE that only applies to a
/// live row at `expected_version` (and bumps it); then logs the change. Returns the new
/// version. A row that is not there is 404, a deleted one 404 (saying so), another version
/// 412: the error rolls the whole transaction back, so nothing is half-written.
pub async fn save_row(
    conn: &mut Conn,
    kind: Kind,
    org: Uuid,
    id: Uuid,
    target: Target,
    fields: &[(&str, Col)],
) -> CrmResult<i64> {
    let now = db::now();
    let version = match target {
        Target::New => {
            let mut sql = Sql::new(format!(
                "INSERT INTO {} (id, org_id, version, created_at, updated_at",
                kind.table()
            ));
            for (name, _) in fields {
                sql.push(", ").push(name);
            }
            sql.push(") VALUES (")
                .push_bind(id_text(id))
                .push(", ")
                .push_bind(id_text(org))
                .push(", 1, ")
                .push_bind(now.clone())
                .push(", ")
                .push_bind(now.clone());
            for (_, value) in fields {
                sql.push(", ");
                push_col(&mut sql, value);
            }
            sql.push(")");
            sql.build().execute(&mut *conn).await?;
            1
        }
        Target::Existing { expected_version } => {
            let mut sql = Sql::new(format!(
                "UPDATE {} SET version = version + 1, updated_at = ",
                kind.table()
            ));
            sql.push_bind(now.clone());
            for (name, value) in fields {
                sql.push(", ").push(name).push(" = ");
                push_col(&mut sql, value);
            }
            sql.push(" WHERE org_id = ")
                .push_bind(id_text(org))
                .push(" AND id = ")
                .push_bind(id_text(id))
                .push(" AND deleted_at IS NULL AND version = ")
                .push_bind(expected_version)
                .push(" RETURNING version");
            let version: Option<i64> = sql.build_query_scalar().fetch_optional(&mut *conn).await?;
            match version {
                Some(v) => v,
                None => return Err(why_not_written(conn, kind, org, id, expected_version).await),
            }
        }
    };
    log_change(conn, org, kind, id, version, false, &now).await?;
    Ok(version)
}

/// Soft-deletes the live record at `expected_version`; returns its tombstone's version.
pub async fn soft_delete(
    conn: &mut Conn,
    kind: Kind,
    org: Uuid,
    id: Uuid,
    expected_version: i64,
) -> CrmResult<i64> {
    let now = db::now();
    let version: Option<i64> = sqlx::query_scalar(&format!(
        "UPDATE {} SET version = version + 1, updated_at = $1, deleted_at = $1
         WHERE org_id = $2 AND id = $3 AND deleted_at IS NULL AND version = $4
         RETURNING version",
        kind.table()
    ))
    .bind(&now)
    .bind(id_text(org))
    .bind(id_text(id))
    .bind(expected_version)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(version) = version else {
        return Err(why_not_written(conn, kind, org, id, expected_version).await);
    };
    log_change(conn, org, kind, id, version, true, &now).await?;
    Ok(version)
}

/// Ok when the record is live at `expected_version`, else its 404 or 412: checked first
/// by a change, so that a stale or missing record is said before its body's faults.
pub async fn expect_version(
    conn: &mut Conn,
    kind: Kind,
    org: Uuid,
    id: Uuid,
    expected_version: i64,
) -> CrmResult<()> {
    let found: Option<(i64, Option<String>)> = sqlx::query_as(&format!(
        "SELECT version, deleted_at FROM {} WHERE org_id = $1 AND id = $2",
        kind.table()
    ))
    .bind(id_text(org))
    .bind(id_text(id))
    .fetch_optional(&mut *conn)
    .await?;
    match found {
        None => Err(not_found(kind, id)),
        Some((_, Some(_))) => Err(CrmError::new(
            Reason::NotFound,
            "not_found",
            format!("the {kind} {id} was deleted"),
        )),
        Some((version, None)) if version != expected_version => {
            Err(why_not_written_now(kind, id, version, expected_version))
        }
        Some(_) => Ok(()),
    }
}

/// The error for a versioned write that changed no row.
async fn why_not_written(
    conn: &mut Conn,
    kind: Kind,
    org: Uuid,
    id: Uuid,
    expected_version: i64,
) -> CrmError {
    match expect_version(conn, kind, org, id, expected_version).await {
        Err(e) => e,
        Ok(()) => CrmError::internal(format!("the {kind} {id} changed no row at its version")),
    }
}

/// 412 `precondition_failed`: the record is at `version`, the request was for another.
pub fn why_not_written_now(kind: Kind, id: Uuid, version: i64, expected_version: i64) -> CrmError {
    CrmError::new(
        Reason::StaleVersion,
        "precondition_failed",
        format!(
            "the {kind} {id} was changed meanwhile: it is at version {version}, the request \
             was for version {expected_version}; fetch it again and reapply"
        ),
    )
    .with_field("If-Match")
}

/// 404 `not_found` for a record in the path.
pub fn not_found(kind: Kind, id: Uuid) -> CrmError {
    CrmError::new(
        Reason::NotFound,
        "not_found",
        format!("there is no {kind} with id {id}"),
    )
}

/// Puts the record at the end of its organisation's changes feed (one row per record: its
/// latest change). The sequence number is the organisation's highest + 1, taken inside the
/// serialised write transaction, so that it grows in commit order.
pub async fn log_change(
    conn: &mut Conn,
    org: Uuid,
    kind: Kind,
    id: Uuid,
    version: i64,
    deleted: bool,
    now: &str,
) -> CrmResult<()> {
    log_change_of(conn, org, kind.as_str(), id, version, deleted, now).await
}

/// What the changes feed calls a folder or file of a record's document tree.
pub const DOCUMENT_CHANGE_KIND: &str = "document";

/// [`log_change`] for `kind` as the feed names it: a [`Kind`]'s name or
/// [`DOCUMENT_CHANGE_KIND`].
pub async fn log_change_of(
    conn: &mut Conn,
    org: Uuid,
    kind: &str,
    id: Uuid,
    version: i64,
    deleted: bool,
    now: &str,
) -> CrmResult<()> {
    sqlx::query(
        "INSERT INTO changes (org_id, seq, record_kind, record_id, version, deleted, changed_at)
         SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6 FROM changes WHERE org_id = $1
         ON CONFLICT (org_id, record_kind, record_id) DO UPDATE SET
           seq = excluded.seq, version = excluded.version, deleted = excluded.deleted,
           changed_at = excluded.changed_at",
    )
    .bind(id_text(org))
    .bind(kind)
    .bind(id_text(id))
    .bind(version)
    .bind(i64::from(deleted))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Cursors

/// An opaque cursor: base64url of `<prefix>:<value>`.
pub fn encode_cursor(prefix: &str, value: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{prefix}:{value}"))
}

/// The value of a cursor made by [`encode_cursor`] with `prefix`; else 400 naming `field`.
pub fn decode_cursor(field: &str, prefix: &str, cursor: &str) -> CrmResult<String> {
    URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.strip_prefix(prefix)?
                .strip_prefix(':')
                .map(str::to_string)
        })
        .ok_or_else(|| {
            CrmError::new(
                Reason::BadInput,
                "invalid_query",
                format!("{field} is not a cursor this server gave out"),
            )
            .with_field(field)
        })
}

/// Replaces the rows of a child table (`company_domains`, `contact_emails`, …) of record
/// `parent` with `rows` (values of `columns`, after `<parent_column>, org_id`).
pub async fn replace_children(
    conn: &mut Conn,
    table: &str,
    parent_column: &str,
    org: Uuid,
    parent: Uuid,
    columns: &[&str],
    rows: Vec<Vec<Col>>,
) -> CrmResult<()> {
    sqlx::query(&format!(
        "DELETE FROM {table} WHERE org_id = $1 AND {parent_column} = $2"
    ))
    .bind(id_text(org))
    .bind(id_text(parent))
    .execute(&mut *conn)
    .await?;
    if rows.is_empty() {
        return Ok(());
    }
    let mut sql = Sql::new(format!(
        "INSERT INTO {table} ({parent_column}, org_id, {}) VALUES ",
        columns.join(", ")
    ));
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.push("(")
            .push_bind(id_text(parent))
            .push(", ")
            .push_bind(id_text(org));
        for value in row {
            sql.push(", ");
            push_col(&mut sql, value);
        }
        sql.push(")");
    }
    sql.build().execute(&mut *conn).await?;
    Ok(())
}

/// The records `T` of `org` whose ids a query answered (as stored text), in that order
/// (`id_of` reads a record's id).
pub async fn load_in_order<T: Record>(
    conn: &mut Conn,
    org: Uuid,
    ids: &[String],
    id_of: impl Fn(&T) -> Uuid,
) -> CrmResult<Vec<T>> {
    let ids = ids
        .iter()
        .map(|s| parse_uuid(s))
        .collect::<Result<Vec<Uuid>, _>>()?;
    let mut records = T::load(conn, org, &ids).await?;
    records.sort_by_key(|r| ids.iter().position(|id| *id == id_of(r)));
    Ok(records)
}

/// The rows of `org` among `ids` of `select` (`SELECT {META_COLUMNS}, … FROM <table> t …`,
/// without its WHERE).
pub async fn load_rows<R>(
    conn: &mut Conn,
    org: Uuid,
    ids: &[Uuid],
    select: &str,
) -> CrmResult<Vec<R>>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = rows_query(Engine::of(conn), org, ids, select);
    Ok(sql.build_query_as().fetch_all(&mut *conn).await?)
}

/// [`load_rows`]' query. On SQLite the organisation is matched as `+t.org_id`: without
/// statistics, SQLite's planner reads every row of the organisation through its index
/// (`<table>_org_idx`) and keeps the few asked for, instead of reading those by primary key
/// (25 contacts among 1,000,000: 356 ms against 14 ms, BENCHMARKS.md "pages"); the unary
/// `+` keeps it off that index. PostgreSQL plans by its statistics (and has no unary `+`
/// on text).
fn rows_query<'a>(engine: Engine, org: Uuid, ids: &[Uuid], select: &str) -> Sql<'a> {
    let org_column = match engine {
        Engine::Sqlite => "+t.org_id",
        Engine::Postgres => "t.org_id",
    };
    let mut sql = Sql::new(format!("{select} WHERE {org_column} = "));
    sql.push_bind(id_text(org))
        .push(" AND t.id IN ")
        .push_list(ids.iter().map(|id| id_text(*id)));
    sql
}

/// `value_column` of the rows of the child table of each of `ids`, by parent id, in
/// `position` order.
pub async fn load_children(
    conn: &mut Conn,
    table: &str,
    parent_column: &str,
    value_column: &str,
    org: Uuid,
    ids: &[Uuid],
) -> CrmResult<std::collections::HashMap<String, Vec<String>>> {
    let mut out: std::collections::HashMap<String, Vec<String>> = Default::default();
    if ids.is_empty() {
        return Ok(out);
    }
    let mut sql = Sql::new(format!(
        "SELECT {parent_column}, {value_column} FROM {table} WHERE org_id = "
    ));
    sql.push_bind(id_text(org))
        .push(&format!(" AND {parent_column} IN "))
        .push_list(ids.iter().map(|id| id_text(*id)))
        .push(&format!(" ORDER BY {parent_column}, position"));
    let rows: Vec<(String, String)> = sql.build_query_as().fetch_all(&mut *conn).await?;
    for (parent, value) in rows {
        out.entry(parent).or_default().push(value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On SQLite a page's records are read by primary key, never by walking the
    /// organisation's index ([`rows_query`]; PostgreSQL's plan depends on its statistics,
    /// which an empty test database does not have).
    #[tokio::test]
    async fn records_are_loaded_by_primary_key_on_sqlite() {
        let test_db = threadline_storage::testing::TestDatabase::create();
        let db = test_db.open().await;
        if db.engine() != Engine::Sqlite {
            return;
        }
        let ids = [Uuid::nil(), Uuid::max()];
        for table in ["contacts", "companies", "projects", "meetings", "products"] {
            let select = format!("SELECT {META_COLUMNS} FROM {table} t");
            let query = rows_query(db.engine(), Uuid::nil(), &ids, &select);
            let plan = db::query_plan(&db, query)
                .await
                .expect("the plan")
                .join("\n");
            assert!(!plan.contains(&format!("{table}_org")), "{table}: {plan}");
            assert!(plan.contains("(id=?)"), "{table}: {plan}");
        }
    }
}
