//! The history of runs (`sync_runs`): one row per run of a schedule, with its counts.
//!
//! A run is `queued` ("sync now" made it; the runner starts it), `running`, then `ok`,
//! `failed`, `refused_for_review` (a guard stopped it before it applied anything) or
//! `interrupted` (its process stopped or lost the lease; the schedule ran again). Only the
//! newest [`KEPT_PER_SCHEDULE`] runs of a schedule are kept: a schedule runs 48 times a day.

use serde::Serialize;
use uuid::Uuid;

use super::Counts;
use threadline_storage::db::{self, id_text, Conn};

/// Runs kept per schedule (about four days at the default interval); older ones are deleted
/// when a run finishes.
pub const KEPT_PER_SCHEDULE: i64 = 200;

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The schedule came due.
    Background,
    /// "Sync now".
    Manual,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Background => "background",
            Trigger::Manual => "manual",
        }
    }
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Running,
    Ok,
    Failed,
    RefusedForReview,
    Interrupted,
}

impl RunStatus {
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Ok,
        RunStatus::Failed,
        RunStatus::RefusedForReview,
        RunStatus::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Ok => "ok",
            RunStatus::Failed => "failed",
            RunStatus::RefusedForReview => "refused_for_review",
            RunStatus::Interrupted => "interrupted",
        }
    }

    /// Queued or running: not over yet.
    pub fn is_going(self) -> bool {
        matches!(self, RunStatus::Queued | RunStatus::Running)
    }
}

/// A run as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Run {
    pub id: Uuid,
    pub connection_id: Uuid,
    /// The integration it synced (`google_calendar`, …).
    pub integration: String,
    pub triggered_by: Trigger,
    pub status: RunStatus,
    /// When it was due (a "sync now": when asked); `started_at` minus this is how long it
    /// waited for a runner.
    pub due_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// What it did; while running, as of its last heartbeat.
    pub counts: Counts,
    /// Why it failed, was refused or interrupted.
    pub error: Option<String>,
}

pub(crate) const COLUMNS: &str = "id, connection_id, integration, triggered_by, status, due_at, \
     started_at, finished_at, created, updated, deleted, conflicts, skipped, errors, unchanged, details, \
     error";

#[derive(sqlx::FromRow)]
pub(crate) struct Row {
    id: String,
    connection_id: String,
    integration: String,
    triggered_by: String,
    status: String,
    due_at: String,
    started_at: Option<String>,
    finished_at: Option<String>,
    created: i64,
    updated: i64,
    deleted: i64,
    conflicts: i64,
    skipped: i64,
    errors: i64,
    unchanged: i64,
    details: Option<String>,
    error: Option<String>,
}

impl TryFrom<Row> for Run {
    type Error = sqlx::Error;

    fn try_from(row: Row) -> Result<Run, sqlx::Error> {
        let bad = |what: &str, value: &str| {
            sqlx::Error::Decode(format!("unknown run {what} {value:?} stored").into())
        };
        let triggered_by = match row.triggered_by.as_str() {
            "background" => Trigger::Background,
            "manual" => Trigger::Manual,
            other => return Err(bad("trigger", other)),
        };
        let status = RunStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == row.status)
            .ok_or_else(|| bad("status", &row.status))?;
        let id = |s: &str| Uuid::parse_str(s).map_err(|e| sqlx::Error::Decode(Box::new(e)));
        Ok(Run {
            id: id(&row.id)?,
            connection_id: id(&row.connection_id)?,
            integration: row.integration,
            triggered_by,
            status,
            due_at: row.due_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
            counts: Counts {
                created: row.created,
                updated: row.updated,
                deleted: row.deleted,
                conflicts: row.conflicts,
                skipped: row.skipped,
                errors: row.errors,
                unchanged: row.unchanged,
                details: match row.details.as_deref() {
                    Some(text) => {
                        serde_json::from_str(text).map_err(|e| sqlx::Error::Decode(Box::new(e)))?
                    }
                    None => Default::default(),
                },
            },
            error: row.error,
        })
    }
}

/// Run `id`, if it exists.
pub async fn get(conn: &mut Conn, id: Uuid) -> Result<Option<Run>, sqlx::Error> {
    let row: Option<Row> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM sync_runs WHERE id = $1"))
            .bind(id_text(id))
            .fetch_optional(&mut *conn)
            .await?;
    row.map(Run::try_from).transpose()
}

/// The runs of connection `connection_id`, newest first (ids are UUIDv7: creation order),
/// older than run `before` when given; at most `limit`.
pub async fn list(
    conn: &mut Conn,
    connection_id: Uuid,
    before: Option<Uuid>,
    limit: u32,
) -> Result<Vec<Run>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM sync_runs
         WHERE connection_id = $1 AND ($2 IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3"
    ))
    .bind(id_text(connection_id))
    .bind(before.map(id_text))
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(Run::try_from).collect()
}

/// A new run row of schedule `schedule_id`, `queued` or (with a runner) `running`.
pub(crate) struct NewRun<'a> {
    pub id: Uuid,
    pub schedule_id: Uuid,
    pub connection_id: &'a str,
    pub integration: &'a str,
    pub trigger: Trigger,
    pub due_at: &'a str,
    /// The process that starts it now; `None`: queued.
    pub runner: Option<&'a str>,
}

pub(crate) async fn insert(conn: &mut Conn, run: NewRun<'_>) -> Result<(), sqlx::Error> {
    let (status, started_at) = match run.runner {
        Some(_) => (RunStatus::Running, Some(db::now())),
        None => (RunStatus::Queued, None),
    };
    sqlx::query(
        "INSERT INTO sync_runs (id, schedule_id, connection_id, integration, triggered_by,
             status, due_at, started_at, runner)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id_text(run.id))
    .bind(id_text(run.schedule_id))
    .bind(run.connection_id)
    .bind(run.integration)
    .bind(run.trigger.as_str())
    .bind(status.as_str())
    .bind(run.due_at)
    .bind(started_at)
    .bind(run.runner)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Starts queued run `id` in process `runner`.
pub(crate) async fn start_queued(
    conn: &mut Conn,
    id: &str,
    runner: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE sync_runs SET status = 'running', started_at = $1, runner = $2
         WHERE id = $3 AND status = 'queued'",
    )
    .bind(db::now())
    .bind(runner)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Stores the counts of a running run (a heartbeat).
pub(crate) async fn store_counts(
    conn: &mut Conn,
    id: Uuid,
    counts: &Counts,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE sync_runs SET created = $1, updated = $2, deleted = $3, conflicts = $4,
             skipped = $5, errors = $6, unchanged = $7, details = $8
         WHERE id = $9 AND status = 'running'",
    )
    .bind(counts.created)
    .bind(counts.updated)
    .bind(counts.deleted)
    .bind(counts.conflicts)
    .bind(counts.skipped)
    .bind(counts.errors)
    .bind(counts.unchanged)
    .bind(details_text(counts))
    .bind(id_text(id))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Ends run `id` (if it has not ended yet) with `status`, its counts (when known) and
/// `error`; true when it was still going.
pub(crate) async fn end(
    conn: &mut Conn,
    id: &str,
    status: RunStatus,
    counts: Option<&Counts>,
    error: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let error = error.map(|e| {
        e.chars()
            .take(threadline_connections::MAX_REASON_CHARS)
            .collect::<String>()
    });
    let done = sqlx::query(
        "UPDATE sync_runs SET status = $1, finished_at = $2, error = $3,
             created = COALESCE($4, created), updated = COALESCE($5, updated),
             deleted = COALESCE($6, deleted), conflicts = COALESCE($7, conflicts),
             skipped = COALESCE($8, skipped), errors = COALESCE($9, errors),
             unchanged = COALESCE($10, unchanged), details = COALESCE($11, details)
         WHERE id = $12 AND status IN ('queued', 'running')",
    )
    .bind(status.as_str())
    .bind(db::now())
    .bind(error)
    .bind(counts.map(|c| c.created))
    .bind(counts.map(|c| c.updated))
    .bind(counts.map(|c| c.deleted))
    .bind(counts.map(|c| c.conflicts))
    .bind(counts.map(|c| c.skipped))
    .bind(counts.map(|c| c.errors))
    .bind(counts.map(|c| c.unchanged))
    .bind(counts.and_then(details_text))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes the runs of schedule `schedule_id` but the newest [`KEPT_PER_SCHEDULE`].
pub(crate) async fn prune(conn: &mut Conn, schedule_id: Uuid) -> Result<(), sqlx::Error> {
    // The id of the oldest run kept; nothing is deleted while there are fewer (NULL).
    sqlx::query(
        "DELETE FROM sync_runs WHERE schedule_id = $1 AND id < (
             SELECT id FROM sync_runs WHERE schedule_id = $1
             ORDER BY id DESC LIMIT 1 OFFSET $2)",
    )
    .bind(id_text(schedule_id))
    .bind(KEPT_PER_SCHEDULE - 1)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// `details` as stored: a JSON object, or NULL when there are none.
fn details_text(counts: &Counts) -> Option<String> {
    (!counts.details.is_empty())
        .then(|| serde_json::to_string(&counts.details).expect("a map of counts is JSON"))
}
