//! What a connection's document sync covers and where its listing stands (`file_sync_settings`,
//! `file_sync_targets`, migration 0018): the records (or whole modules) the user turned the
//! sync on for, the integration that runs it, the provider's cursor. And waking a sync when a
//! document it covers changes in the CRM.

use std::time::Duration;

use chrono::Utc;
use threadline_files_core::link::{RecordKind, RecordRef};
use threadline_storage::db::{self, id_text, parse_uuid, Conn};
use uuid::Uuid;

use crate::store::{StoreError, StoreResult};

/// What the sync of one record or one module covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    Record(RecordRef),
    /// Every record of the module, those made later too.
    Module(RecordKind),
}

/// A connection's file sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub integration: String,
    pub cursor: Option<String>,
    pub targets: Vec<Target>,
}

/// How long after a CRM change its sync runs: a burst of uploads (a folder dropped in) goes
/// in one run.
pub const WAKE_DELAY: Duration = Duration::from_secs(5);

pub fn kind_str(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Company => "company",
        RecordKind::Contact => "contact",
        RecordKind::Project => "project",
        RecordKind::Meeting => "meeting",
        RecordKind::Product => "product",
    }
}

fn parse_kind(s: &str) -> Option<RecordKind> {
    RecordKind::ALL.into_iter().find(|k| kind_str(*k) == s)
}

/// The connection's file sync, if it was ever turned on.
pub async fn get(conn: &mut Conn, connection: Uuid) -> StoreResult<Option<Settings>> {
    let row: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT integration, cursor FROM file_sync_settings WHERE connection_id = $1",
    )
    .bind(id_text(connection))
    .fetch_optional(&mut *conn)
    .await?;
    let Some((integration, cursor)) = row else {
        return Ok(None);
    };
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT record_kind, record_id FROM file_sync_targets WHERE connection_id = $1
         ORDER BY record_kind, record_id",
    )
    .bind(id_text(connection))
    .fetch_all(&mut *conn)
    .await?;
    let corrupt = |why: String| StoreError::Corrupt { connection, why };
    let mut targets = Vec::with_capacity(rows.len());
    for (kind, id) in rows {
        let kind = parse_kind(&kind).ok_or_else(|| corrupt(format!("record kind {kind:?}")))?;
        targets.push(if id == "*" {
            Target::Module(kind)
        } else {
            Target::Record(RecordRef {
                kind,
                id: parse_uuid(&id).map_err(|_| corrupt(format!("record id {id:?}")))?,
            })
        });
    }
    Ok(Some(Settings {
        integration,
        cursor,
        targets,
    }))
}

/// Makes the settings row of `connection` (run by `integration`) if there is none.
pub async fn ensure(conn: &mut Conn, connection: Uuid, integration: &str) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO file_sync_settings (connection_id, integration, cursor, updated_at)
         VALUES ($1, $2, NULL, $3) ON CONFLICT (connection_id) DO NOTHING",
    )
    .bind(id_text(connection))
    .bind(integration)
    .bind(db::now())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Adds `target` (true when it was not there yet).
pub async fn add_target(conn: &mut Conn, connection: Uuid, target: Target) -> StoreResult<bool> {
    let (kind, id) = target_columns(target);
    let done = sqlx::query(
        "INSERT INTO file_sync_targets (connection_id, record_kind, record_id, created_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT (connection_id, record_kind, record_id) DO NOTHING",
    )
    .bind(id_text(connection))
    .bind(kind)
    .bind(id)
    .bind(db::now())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes `target` (true when it was there). What was synced stays on both sides, with its
/// links: turning it on again finds it instead of copying it twice.
pub async fn remove_target(conn: &mut Conn, connection: Uuid, target: Target) -> StoreResult<bool> {
    let (kind, id) = target_columns(target);
    let done = sqlx::query(
        "DELETE FROM file_sync_targets
         WHERE connection_id = $1 AND record_kind = $2 AND record_id = $3",
    )
    .bind(id_text(connection))
    .bind(kind)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

fn target_columns(target: Target) -> (&'static str, String) {
    match target {
        Target::Record(r) => (kind_str(r.kind), id_text(r.id)),
        Target::Module(k) => (kind_str(k), "*".to_string()),
    }
}

/// Stores the provider's cursor (`None`: the next run lists in full).
pub async fn save_cursor(
    conn: &mut Conn,
    connection: Uuid,
    cursor: Option<&str>,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE file_sync_settings SET cursor = $1, updated_at = $2 WHERE connection_id = $3",
    )
    .bind(cursor)
    .bind(db::now())
    .bind(id_text(connection))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A connection's document sync to wake: its id and its integration (its schedule's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Covering {
    pub connection: Uuid,
    pub integration: String,
}

/// The document syncs that cover the record `kind` (`company`, …) `id` of `org` (its users'
/// connections, not disconnected), but `except` (the sync asking). A read, cheap when
/// nothing syncs (one indexed query): callers run it before taking a write transaction.
pub async fn covering(
    conn: &mut Conn,
    org: Uuid,
    kind: &str,
    id: Uuid,
    except: Option<Uuid>,
) -> StoreResult<Vec<Covering>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT s.connection_id, s.integration
         FROM file_sync_targets t
         JOIN file_sync_settings s ON s.connection_id = t.connection_id
         JOIN connections c ON c.id = t.connection_id
         JOIN users u ON u.id = c.user_id
         WHERE t.record_kind = $1 AND (t.record_id = $2 OR t.record_id = '*')
           AND u.org_id = $3 AND c.status <> 'disconnected'
         ORDER BY s.connection_id",
    )
    .bind(kind)
    .bind(id_text(id))
    .bind(id_text(org))
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (connection, integration) in rows {
        let connection = parse_uuid(&connection).map_err(|_| StoreError::Corrupt {
            connection: Uuid::nil(),
            why: format!("connection id {connection:?}"),
        })?;
        if Some(connection) != except {
            out.push(Covering {
                connection,
                integration,
            });
        }
    }
    Ok(out)
}

/// Something these syncs cover changed in the CRM (a document uploaded, or imported by
/// another user's sync): each runs within [`WAKE_DELAY`] (see
/// `threadline_sync_engine::schedule::wake`). In a write transaction.
pub async fn wake(conn: &mut Conn, syncs: &[Covering]) -> StoreResult<()> {
    let at = Utc::now() + chrono::Duration::from_std(WAKE_DELAY).unwrap_or_default();
    for sync in syncs {
        threadline_sync_engine::schedule::wake(conn, sync.connection, &sync.integration, at)
            .await?;
    }
    Ok(())
}
