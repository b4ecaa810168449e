//! Schedules (`sync_schedules`): one per (connection, integration), each function on the
//! caller's connection so that it can be part of a [`threadline_storage::db::Db::write`].
//!
//! Times come from this process's clock ([`Utc::now`]): several servers on one database need
//! synchronised clocks (NTP), as leases compare times written by different processes.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::runs::{self, NewRun, Run, RunStatus, Trigger};
use super::Counts;
use threadline_connections::{self as connections, Status};
use threadline_storage::db::{self, format_time, id_text, Conn, Sql};

/// Failed runs in a row after which the connection shows `degraded`: one failure (a network
/// blip) is retried quietly.
pub const DEGRADED_AFTER_FAILURES: i64 = 3;
/// The first back-off after a failure, doubled with each failure in a row up to
/// [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(60);
pub const MAX_BACKOFF: Duration = Duration::from_secs(4 * 60 * 60);

/// Why a schedule does not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Paused {
    /// The connection needs re-authorization (the provider refused its grant).
    NeedsReauth,
    /// The user disconnected the connection.
    Disconnected,
    /// A run was refused by a guard (a mass deletion, an empty listing): waits for a person.
    Review,
}

impl Paused {
    pub fn as_str(self) -> &'static str {
        match self {
            Paused::NeedsReauth => "needs_reauth",
            Paused::Disconnected => "disconnected",
            Paused::Review => "review",
        }
    }

    fn parse(s: &str) -> Result<Paused, sqlx::Error> {
        [Paused::NeedsReauth, Paused::Disconnected, Paused::Review]
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown pause {s:?} stored").into()))
    }
}

/// A time `d` after `t`.
fn after(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// A uniform random fraction in [0, 1).
fn random_fraction() -> f64 {
    f64::from(getrandom::u32().unwrap_or(u32::MAX / 2)) / (f64::from(u32::MAX) + 1.0)
}

/// When the next run after a finished one is due: `interval` ± up to `jitter`, at random.
pub fn next_regular(now: DateTime<Utc>, interval: Duration, jitter: Duration) -> DateTime<Utc> {
    let spread = jitter.min(interval / 2).as_secs_f64();
    let offset = (random_fraction() * 2.0 - 1.0) * spread;
    after(
        now,
        Duration::from_secs_f64(interval.as_secs_f64() + offset),
    )
}

/// The pause after `failures` failed runs in a row: [`FIRST_BACKOFF`] × 2^(failures − 1),
/// at most [`MAX_BACKOFF`], of which a random part (up to half) is taken off so that
/// connections failing together (a provider outage) do not all come back together.
pub fn backoff(failures: i64) -> Duration {
    let exponent = u32::try_from(failures.clamp(1, 32) - 1).unwrap_or(31);
    let full = FIRST_BACKOFF
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(MAX_BACKOFF);
    full.mul_f64(1.0 - random_fraction() / 2.0)
}

/// Creates the schedule of `integration` for connection `connection_id` if there is none,
/// due at once (the first sync follows the connect); returns its id. A connection that
/// needs re-authorization or is disconnected gets a paused schedule.
pub async fn ensure(
    conn: &mut Conn,
    connection_id: Uuid,
    integration: &str,
    interval: Duration,
    jitter: Duration,
) -> Result<Uuid, connections::Error> {
    let connection = connections::get(conn, connection_id).await?;
    let paused = match connection.status {
        Status::NeedsReauth => Some(Paused::NeedsReauth),
        Status::Disconnected => Some(Paused::Disconnected),
        _ => None,
    };
    let now = db::now();
    sqlx::query(
        "INSERT INTO sync_schedules (id, connection_id, integration, interval_seconds,
             jitter_seconds, next_run_at, paused, paused_reason, failures, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $6, $6)
         ON CONFLICT (connection_id, integration) DO NOTHING",
    )
    .bind(id_text(db::new_id()))
    .bind(id_text(connection_id))
    .bind(integration)
    .bind(i64::try_from(interval.as_secs().max(1)).unwrap_or(i64::MAX))
    .bind(i64::try_from(jitter.as_secs()).unwrap_or(i64::MAX))
    .bind(&now)
    .bind(paused.map(Paused::as_str))
    .bind(paused.and(connection.status_reason.as_deref()))
    .execute(&mut *conn)
    .await?;
    let id: String = sqlx::query_scalar(
        "SELECT id FROM sync_schedules WHERE connection_id = $1 AND integration = $2",
    )
    .bind(id_text(connection_id))
    .bind(integration)
    .fetch_one(&mut *conn)
    .await?;
    Ok(db::parse_uuid(&id)?)
}

/// Turns `integration` on for connection `connection_id` (an integration the user turns on
/// and off, as the Contacts export): its schedule is made if there is none, or turned on
/// again, due at once either way with its failures forgotten; a schedule that was on already
/// is left as it is. Returns its id.
pub async fn turn_on(
    conn: &mut Conn,
    connection_id: Uuid,
    integration: &str,
    interval: Duration,
    jitter: Duration,
) -> Result<Uuid, connections::Error> {
    let id = ensure(conn, connection_id, integration, interval, jitter).await?;
    let now = db::now();
    sqlx::query(
        "UPDATE sync_schedules SET turned_off = 0, failures = 0, next_run_at = $1, updated_at = $1
         WHERE id = $2 AND turned_off = 1",
    )
    .bind(&now)
    .bind(id_text(id))
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// Turns `integration` off for connection `connection_id`: its schedule stays, with its
/// history, but is never due and "sync now" leaves it alone. A run queued and not started is
/// ended (`interrupted`, saying why); a run going finishes. A wait for a review ends (what
/// waited is not to be done now; turned on again, the guards judge afresh). True when it was
/// on.
pub async fn turn_off(
    conn: &mut Conn,
    connection_id: Uuid,
    integration: &str,
) -> Result<bool, sqlx::Error> {
    let queued: Option<Option<String>> = sqlx::query_scalar(
        "SELECT current_run_id FROM sync_schedules
         WHERE connection_id = $1 AND integration = $2 AND turned_off = 0
           AND lease_owner IS NULL",
    )
    .bind(id_text(connection_id))
    .bind(integration)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(Some(run)) = &queued {
        runs::end(
            conn,
            run,
            RunStatus::Interrupted,
            None,
            Some("turned off before it started"),
        )
        .await?;
    }
    let done = sqlx::query(
        "UPDATE sync_schedules SET turned_off = 1, apply_anyway = 0, updated_at = $1,
             current_run_id = CASE WHEN lease_owner IS NULL THEN NULL ELSE current_run_id END,
             paused = CASE WHEN paused = 'review' THEN NULL ELSE paused END,
             paused_reason = CASE WHEN paused = 'review' THEN NULL ELSE paused_reason END
         WHERE connection_id = $2 AND integration = $3 AND turned_off = 0",
    )
    .bind(db::now())
    .bind(id_text(connection_id))
    .bind(integration)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Pauses every schedule of connection `connection_id` with `why` (needs re-authorization,
/// disconnected); a schedule waiting for a review keeps that. Returns how many changed. A run
/// already going finishes (it fails without usable tokens) and does not resume it.
pub async fn pause_connection(
    conn: &mut Conn,
    connection_id: Uuid,
    why: Paused,
    reason: Option<&str>,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE sync_schedules SET paused = $1, paused_reason = $2, updated_at = $3
         WHERE connection_id = $4 AND (paused IS NULL OR paused <> 'review')",
    )
    .bind(why.as_str())
    .bind(reason)
    .bind(db::now())
    .bind(id_text(connection_id))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// Resumes the schedules of connection `connection_id` paused because it needed
/// re-authorization or was disconnected (call it when a new grant is stored): due at once,
/// failures forgotten. Those waiting for a review stay paused.
pub async fn resume_connection(conn: &mut Conn, connection_id: Uuid) -> Result<u64, sqlx::Error> {
    let now = db::now();
    let done = sqlx::query(
        "UPDATE sync_schedules SET paused = NULL, paused_reason = NULL, failures = 0,
             next_run_at = $1, updated_at = $1
         WHERE connection_id = $2 AND paused IN ('needs_reauth', 'disconnected')",
    )
    .bind(&now)
    .bind(id_text(connection_id))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// What a person decided about a run that a guard refused (`POST /connections/{id}/review`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    /// Run again with the guards in place: the cause was mended at its source (the events
    /// restored in Google, the calendar shared again), or to see whether it still holds. A
    /// run that would still make the same mass change is refused again.
    CheckAgain,
    /// Run once past the guards: the deletions were meant. Only the next run passes; the
    /// guards hold again after it.
    ApplyAnyway,
}

/// Ends the review of connection `connection_id`: every schedule of it waiting for a review
/// is resumed with `decision`, then, as "sync now" ([`sync_now`]), made due at once with a
/// queued `manual` run. Returns the runs; [`SyncNowError::NotInReview`] when no schedule
/// waits for a review (nothing changes then).
pub async fn review(
    conn: &mut Conn,
    connection_id: Uuid,
    decision: ReviewDecision,
) -> Result<Vec<Run>, SyncNowError> {
    let now = db::now();
    let resumed = sqlx::query(
        "UPDATE sync_schedules SET paused = NULL, paused_reason = NULL, apply_anyway = $1,
             updated_at = $2
         WHERE connection_id = $3 AND paused = 'review' AND turned_off = 0",
    )
    .bind(i64::from(decision == ReviewDecision::ApplyAnyway))
    .bind(&now)
    .bind(id_text(connection_id))
    .execute(&mut *conn)
    .await?;
    if resumed.rows_affected() == 0 {
        return Err(SyncNowError::NotInReview);
    }
    sync_now(conn, connection_id).await
}

/// A schedule this process has taken, with the run it starts.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub schedule_id: Uuid,
    pub connection_id: Uuid,
    pub integration: String,
    pub run_id: Uuid,
    pub trigger: Trigger,
    /// When the lease ends unless renewed.
    pub lease_until: DateTime<Utc>,
    /// A person reviewed a refused run and chose to apply it ([`review`]): this run may pass
    /// the integration's mass-change guards.
    pub apply_anyway: bool,
}

#[derive(sqlx::FromRow)]
struct DueRow {
    id: String,
    connection_id: String,
    integration: String,
    next_run_at: String,
    current_run_id: Option<String>,
    apply_anyway: i64,
}

/// Takes up to `limit` due schedules of `integrations` for process `owner` with a lease of
/// `lease`, and starts a run of each (the run "sync now" queued, or a new one). Run it in
/// [`threadline_storage::db::Db::write`]: there the conditional UPDATE is serialised with other
/// processes' claims, so that each schedule goes to one of them.
///
/// A due schedule whose run is still marked running lost its process (its lease expired:
/// while leased, `next_run_at` is the lease's expiry): that run is ended as `interrupted`.
pub async fn claim_due(
    conn: &mut Conn,
    owner: &str,
    integrations: &[&str],
    limit: usize,
    lease: Duration,
) -> Result<Vec<Claimed>, sqlx::Error> {
    if integrations.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let now = Utc::now();
    let now_text = format_time(now);
    let mut sql = Sql::new(
        "SELECT id, connection_id, integration, next_run_at, current_run_id, apply_anyway
         FROM sync_schedules WHERE paused IS NULL AND turned_off = 0 AND next_run_at <= ",
    );
    sql.push_bind(now_text.clone())
        .push(" AND integration IN ")
        .push_list(integrations.iter().map(|i| i.to_string()))
        .push(" ORDER BY next_run_at LIMIT ")
        .push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
    let due: Vec<DueRow> = sql.build_query_as().fetch_all(&mut *conn).await?;

    let lease_until = after(now, lease);
    let lease_text = format_time(lease_until);
    let mut claimed = Vec::with_capacity(due.len());
    for row in due {
        let schedule_id = parse_id(&row.id)?;
        // The conditional UPDATE: still due, active, and its lease free or expired.
        let taken = sqlx::query(
            "UPDATE sync_schedules SET lease_owner = $1, lease_expires_at = $2, next_run_at = $2,
                 updated_at = $3, woken = 0
             WHERE id = $4 AND paused IS NULL AND turned_off = 0 AND next_run_at <= $3
               AND (lease_expires_at IS NULL OR lease_expires_at <= $3)",
        )
        .bind(owner)
        .bind(&lease_text)
        .bind(&now_text)
        .bind(&row.id)
        .execute(&mut *conn)
        .await?;
        if taken.rows_affected() != 1 {
            continue;
        }
        let queued = match &row.current_run_id {
            Some(run) if runs::start_queued(conn, run, owner).await? => Some(run.clone()),
            Some(run) => {
                runs::end(
                    conn,
                    run,
                    RunStatus::Interrupted,
                    None,
                    Some("the server process running it stopped (its lease expired)"),
                )
                .await?;
                None
            }
            None => None,
        };
        let (run_id, trigger) = match queued {
            Some(run) => (parse_id(&run)?, Trigger::Manual),
            None => {
                let run_id = db::new_id();
                runs::insert(
                    conn,
                    NewRun {
                        id: run_id,
                        schedule_id,
                        connection_id: &row.connection_id,
                        integration: &row.integration,
                        trigger: Trigger::Background,
                        due_at: &row.next_run_at,
                        runner: Some(owner),
                    },
                )
                .await?;
                (run_id, Trigger::Background)
            }
        };
        sqlx::query("UPDATE sync_schedules SET current_run_id = $1 WHERE id = $2")
            .bind(id_text(run_id))
            .bind(&row.id)
            .execute(&mut *conn)
            .await?;
        claimed.push(Claimed {
            schedule_id,
            connection_id: parse_id(&row.connection_id)?,
            integration: row.integration,
            run_id,
            trigger,
            lease_until,
            apply_anyway: row.apply_anyway != 0,
        });
    }
    Ok(claimed)
}

/// When the earliest active schedule of `integrations` is due (a leased one: when its lease
/// expires), if there is one: the runner sleeps until then.
pub async fn next_due(
    conn: &mut Conn,
    integrations: &[&str],
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    if integrations.is_empty() {
        return Ok(None);
    }
    let mut sql =
        Sql::new("SELECT next_run_at FROM sync_schedules WHERE paused IS NULL AND turned_off = 0 AND integration IN ");
    sql.push_list(integrations.iter().map(|i| i.to_string()))
        .push(" ORDER BY next_run_at LIMIT 1");
    let next: Option<String> = sql.build_query_scalar().fetch_optional(&mut *conn).await?;
    next.map(|t| db::parse_time(&t)).transpose()
}

/// Extends the lease of `claimed` held by `owner` to `now + lease` and stores the run's
/// counts so far; `None` when the lease is no longer this process's (expired, or taken).
pub async fn heartbeat(
    conn: &mut Conn,
    claimed: &Claimed,
    owner: &str,
    lease: Duration,
    counts: &Counts,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    let now = Utc::now();
    let until = after(now, lease);
    let until_text = format_time(until);
    let done = sqlx::query(
        "UPDATE sync_schedules SET lease_expires_at = $1, next_run_at = $1
         WHERE id = $2 AND lease_owner = $3 AND current_run_id = $4 AND lease_expires_at > $5",
    )
    .bind(&until_text)
    .bind(id_text(claimed.schedule_id))
    .bind(owner)
    .bind(id_text(claimed.run_id))
    .bind(format_time(now))
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(None);
    }
    runs::store_counts(conn, claimed.run_id, counts).await?;
    Ok(Some(until))
}

/// True when process `owner` holds the lease of `claimed` now: the fencing check a job puts
/// in its write transactions ([`super::Lease::fence`]).
pub async fn holds_lease(
    conn: &mut Conn,
    claimed: &Claimed,
    owner: &str,
) -> Result<bool, sqlx::Error> {
    let held: Option<String> = sqlx::query_scalar(
        "SELECT id FROM sync_schedules
         WHERE id = $1 AND lease_owner = $2 AND current_run_id = $3 AND lease_expires_at > $4",
    )
    .bind(id_text(claimed.schedule_id))
    .bind(owner)
    .bind(id_text(claimed.run_id))
    .bind(db::now())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(held.is_some())
}

/// How a run ended, as the runner tells [`finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Back off, at least `retry_after`.
    Retry {
        error: String,
        retry_after: Option<Duration>,
    },
    /// Failed; the next run at the usual interval.
    Failed(String),
    /// The grant was refused: the connection needs re-authorization, its schedules pause.
    NeedsReauth(String),
    /// A guard refused the run: this schedule pauses for a review.
    RefusedForReview(String),
    /// Stopped early (shutdown, lost lease): due again at once.
    Interrupted(String),
}

/// Ends the run of `claimed` with `outcome` and `counts`, releases the lease and sets when the
/// schedule is due next. If `owner` no longer holds the schedule (its lease expired and
/// another process took it), only the run is ended (`interrupted`, if nobody ended it yet):
/// the schedule is the other process's. Returns the run as stored.
pub async fn finish(
    conn: &mut Conn,
    claimed: &Claimed,
    owner: &str,
    outcome: &Outcome,
    counts: &Counts,
) -> Result<Option<Run>, connections::Error> {
    let run_id = id_text(claimed.run_id);
    #[derive(sqlx::FromRow)]
    struct Held {
        interval_seconds: i64,
        jitter_seconds: i64,
        failures: i64,
        lease_owner: Option<String>,
        current_run_id: Option<String>,
        woken: i64,
    }
    let schedule: Option<Held> = sqlx::query_as(
        "SELECT interval_seconds, jitter_seconds, failures, lease_owner, current_run_id, woken
         FROM sync_schedules WHERE id = $1",
    )
    .bind(id_text(claimed.schedule_id))
    .fetch_optional(&mut *conn)
    .await?;
    let held = schedule.as_ref().is_some_and(|s| {
        s.lease_owner.as_deref() == Some(owner) && s.current_run_id.as_deref() == Some(&run_id)
    });
    let Some(Held {
        interval_seconds: interval,
        jitter_seconds: jitter,
        failures,
        woken,
        ..
    }) = schedule.filter(|_| held)
    else {
        runs::end(
            conn,
            &run_id,
            RunStatus::Interrupted,
            Some(counts),
            Some("this server process lost its lease on the schedule (it paused longer than the lease)"),
        )
        .await?;
        return Ok(runs::get(conn, claimed.run_id).await?);
    };

    let now = Utc::now();
    let secs = |s: i64| Duration::from_secs(u64::try_from(s).unwrap_or(0));
    // Woken during the run (a change it may have missed): the next run is due at once.
    let regular = if woken != 0 {
        now
    } else {
        next_regular(now, secs(interval), secs(jitter))
    };
    let (status, error, failures, next) = match outcome {
        Outcome::Ok => (RunStatus::Ok, None, 0, regular),
        Outcome::Retry { error, retry_after } => {
            let pause = backoff(failures + 1).max(retry_after.unwrap_or_default());
            (
                RunStatus::Failed,
                Some(error.as_str()),
                failures + 1,
                after(now, pause),
            )
        }
        Outcome::Failed(error) | Outcome::NeedsReauth(error) => (
            RunStatus::Failed,
            Some(error.as_str()),
            failures + 1,
            regular,
        ),
        Outcome::RefusedForReview(error) => (
            RunStatus::RefusedForReview,
            Some(error.as_str()),
            failures,
            regular,
        ),
        Outcome::Interrupted(error) => {
            (RunStatus::Interrupted, Some(error.as_str()), failures, now)
        }
    };
    let (paused, paused_reason) = match outcome {
        Outcome::RefusedForReview(reason) => (Some(Paused::Review), Some(reason.as_str())),
        _ => (None, None),
    };
    // "Apply anyway" covers the run that follows the review: kept over a passing fault (the
    // retry is that run), spent by any other end, so a later mass change is refused again.
    let apply_anyway = match outcome {
        Outcome::Retry { .. } | Outcome::Interrupted(_) => i64::from(claimed.apply_anyway),
        _ => 0,
    };
    sqlx::query(
        "UPDATE sync_schedules SET lease_owner = NULL, lease_expires_at = NULL,
             current_run_id = NULL, last_run_id = $1, next_run_at = $2, failures = $3,
             paused = COALESCE($4, paused), paused_reason = COALESCE($5, paused_reason),
             updated_at = $6, apply_anyway = $8, woken = 0
         WHERE id = $7",
    )
    .bind(&run_id)
    .bind(format_time(next))
    .bind(failures)
    .bind(paused.map(Paused::as_str))
    .bind(paused_reason)
    .bind(format_time(now))
    .bind(id_text(claimed.schedule_id))
    .bind(apply_anyway)
    .execute(&mut *conn)
    .await?;
    if let Outcome::NeedsReauth(reason) = outcome {
        // The connection may have been disconnected meanwhile: then it stays so.
        match connections::set_status(
            conn,
            claimed.connection_id,
            None,
            Status::NeedsReauth,
            Some(reason),
        )
        .await
        {
            Ok(_) | Err(connections::Error::Disconnected(_)) => {}
            Err(e) => return Err(e),
        }
        pause_connection(
            conn,
            claimed.connection_id,
            Paused::NeedsReauth,
            Some(reason),
        )
        .await?;
    }
    runs::end(conn, &run_id, status, Some(counts), error).await?;
    runs::prune(conn, claimed.schedule_id).await?;
    Ok(runs::get(conn, claimed.run_id).await?)
}

/// A schedule as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScheduleView {
    pub id: Uuid,
    pub integration: String,
    pub interval_seconds: i64,
    /// When it runs next (while running: when its lease expires); `null` while paused.
    pub next_run_at: Option<String>,
    pub paused: Option<Paused>,
    pub paused_reason: Option<String>,
    /// The user turned this integration off for the connection: it never runs (its history
    /// stays) until turned on again.
    pub turned_off: bool,
    /// Failed runs in a row.
    pub failures: i64,
    /// The run queued or going now.
    pub current_run: Option<Run>,
    pub last_run: Option<Run>,
}

/// What a connection's sync is doing, for its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncHealth {
    Ok,
    Syncing,
    NeedsReauth,
    Degraded,
    Disconnected,
}

impl SyncHealth {
    /// The user has to act (connect again, review a run) or should know (runs keep
    /// failing): what Home lists under "Connections that need attention".
    pub fn needs_attention(self) -> bool {
        matches!(self, SyncHealth::NeedsReauth | SyncHealth::Degraded)
    }
}

/// A connection's sync state (`GET /connections/{id}/sync`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SyncState {
    pub connection_id: Uuid,
    pub state: SyncHealth,
    /// Why, when not `ok` or `syncing`.
    pub reason: Option<String>,
    pub schedules: Vec<ScheduleView>,
}

#[derive(sqlx::FromRow)]
struct ScheduleRow {
    id: String,
    integration: String,
    interval_seconds: i64,
    next_run_at: String,
    paused: Option<String>,
    paused_reason: Option<String>,
    failures: i64,
    turned_off: i64,
    current_run_id: Option<String>,
    last_run_id: Option<String>,
}

/// The sync state of connection `connection`.
pub async fn state(
    conn: &mut Conn,
    connection: &connections::Connection,
) -> Result<SyncState, sqlx::Error> {
    let rows: Vec<ScheduleRow> = sqlx::query_as(
        "SELECT id, integration, interval_seconds, next_run_at, paused, paused_reason, failures,
             turned_off, current_run_id, last_run_id
         FROM sync_schedules WHERE connection_id = $1 ORDER BY integration",
    )
    .bind(id_text(connection.id))
    .fetch_all(&mut *conn)
    .await?;
    let mut schedules = Vec::with_capacity(rows.len());
    for row in rows {
        let current_run = run_by_id(conn, row.current_run_id.as_deref()).await?;
        let last_run = run_by_id(conn, row.last_run_id.as_deref()).await?;
        let paused = row.paused.as_deref().map(Paused::parse).transpose()?;
        schedules.push(ScheduleView {
            id: parse_id(&row.id)?,
            integration: row.integration,
            interval_seconds: row.interval_seconds,
            next_run_at: (paused.is_none() && row.turned_off == 0).then_some(row.next_run_at),
            paused,
            paused_reason: row.paused_reason,
            turned_off: row.turned_off != 0,
            failures: row.failures,
            current_run,
            last_run,
        });
    }
    let (state, reason) = health(connection, &schedules);
    Ok(SyncState {
        connection_id: connection.id,
        state,
        reason,
        schedules,
    })
}

async fn run_by_id(conn: &mut Conn, id: Option<&str>) -> Result<Option<Run>, sqlx::Error> {
    match id {
        Some(id) => runs::get(conn, parse_id(id)?).await,
        None => Ok(None),
    }
}

fn parse_id(id: &str) -> Result<Uuid, sqlx::Error> {
    Uuid::parse_str(id).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// The state shown for a connection, first that applies: disconnected, needs
/// re-authorization, degraded because a schedule waits for a review, syncing, degraded
/// because runs keep failing (or the connection says so), ok.
fn health(
    connection: &connections::Connection,
    schedules: &[ScheduleView],
) -> (SyncHealth, Option<String>) {
    let named = |s: &ScheduleView, why: &str| format!("{}: {why}", s.integration);
    // What the user turned off says nothing about the connection's health.
    let schedules: Vec<&ScheduleView> = schedules.iter().filter(|s| !s.turned_off).collect();
    match connection.status {
        Status::Disconnected => {
            return (SyncHealth::Disconnected, connection.status_reason.clone())
        }
        Status::NeedsReauth => return (SyncHealth::NeedsReauth, connection.status_reason.clone()),
        _ => {}
    }
    if let Some(s) = schedules.iter().find(|s| s.paused == Some(Paused::Review)) {
        let why = s.paused_reason.as_deref().unwrap_or("a run was refused");
        return (
            SyncHealth::Degraded,
            Some(named(s, &format!("waiting for a review: {why}"))),
        );
    }
    let running = |s: &&ScheduleView| s.current_run.as_ref().is_some_and(|r| r.status.is_going());
    if schedules.iter().any(running) {
        return (SyncHealth::Syncing, None);
    }
    if let Some(s) = schedules
        .iter()
        .find(|s| s.failures >= DEGRADED_AFTER_FAILURES)
    {
        let error = s
            .last_run
            .as_ref()
            .and_then(|r| r.error.as_deref())
            .unwrap_or("failing");
        let why = format!("{} failed runs in a row; the last: {error}", s.failures);
        return (SyncHealth::Degraded, Some(named(s, &why)));
    }
    if connection.status == Status::Degraded {
        return (SyncHealth::Degraded, connection.status_reason.clone());
    }
    (SyncHealth::Ok, None)
}

/// Why "sync now" (or a review) started nothing.
#[derive(Debug, thiserror::Error)]
pub enum SyncNowError {
    #[error("this connection has nothing to sync: no integration is enabled for it")]
    NothingToSync,
    #[error("the sync of this connection is paused ({}): {}", .0.as_str(), .1)]
    Paused(Paused, String),
    #[error("no sync of this connection waits for a review")]
    NotInReview,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl threadline_storage::errors::DbFailure for SyncNowError {
    fn database_error(&self) -> Option<&sqlx::Error> {
        match self {
            SyncNowError::Database(e) => Some(e),
            _ => None,
        }
    }
}

/// Something the schedule of `integration` on `connection_id` syncs changed (a document was
/// uploaded in the CRM): its next run is due by `at` (the caller's short delay, which gathers
/// a burst of changes into one run), unless it is due sooner, turned off or paused. A run
/// going now may have read the CRM before the change: it is marked, and the run after it is
/// due as soon as it ends. Makes no run of its own, so the history shows no extra entry.
pub async fn wake(
    conn: &mut Conn,
    connection_id: Uuid,
    integration: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let now = format_time(Utc::now());
    let at = format_time(at);
    sqlx::query(
        "UPDATE sync_schedules SET woken = 1
         WHERE connection_id = $1 AND integration = $2 AND turned_off = 0 AND paused IS NULL
           AND lease_expires_at IS NOT NULL AND lease_expires_at > $3",
    )
    .bind(id_text(connection_id))
    .bind(integration)
    .bind(&now)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE sync_schedules SET next_run_at = $3, updated_at = $4
         WHERE connection_id = $1 AND integration = $2 AND turned_off = 0 AND paused IS NULL
           AND (lease_expires_at IS NULL OR lease_expires_at <= $4) AND next_run_at > $3",
    )
    .bind(id_text(connection_id))
    .bind(integration)
    .bind(&at)
    .bind(&now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// "Sync now" for connection `connection_id`: each active schedule is made due now with a
/// queued `manual` run, unless a run is already queued or going, which is answered instead
/// (a second run is never started). Returns the runs, by integration.
pub async fn sync_now(conn: &mut Conn, connection_id: Uuid) -> Result<Vec<Run>, SyncNowError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: String,
        integration: String,
        paused: Option<String>,
        paused_reason: Option<String>,
        current_run_id: Option<String>,
        lease_expires_at: Option<String>,
    }
    // Turned off: not the connection's to sync now.
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, integration, paused, paused_reason, current_run_id, lease_expires_at
         FROM sync_schedules WHERE connection_id = $1 AND turned_off = 0 ORDER BY integration",
    )
    .bind(id_text(connection_id))
    .fetch_all(&mut *conn)
    .await?;
    let now = db::now();
    let mut answered = Vec::new();
    let mut paused_first = None;
    for row in rows {
        let Row {
            id: schedule,
            integration,
            paused,
            paused_reason,
            current_run_id: current,
            lease_expires_at,
        } = row;
        if let Some(paused) = paused {
            paused_first.get_or_insert((Paused::parse(&paused)?, paused_reason));
            continue;
        }
        if let Some(current) = current {
            let lease_lapsed = lease_expires_at.is_some_and(|t| t <= now);
            if !lease_lapsed {
                let id = parse_id(&current)?;
                if let Some(run) = runs::get(conn, id).await?.filter(|r| r.status.is_going()) {
                    answered.push(run);
                    continue;
                }
            }
            // Its process died (the lease lapsed): that run is over; queue a new one.
            runs::end(
                conn,
                &current,
                RunStatus::Interrupted,
                None,
                Some("the server process running it stopped (its lease expired)"),
            )
            .await?;
        }
        let run_id = db::new_id();
        let schedule_id = parse_id(&schedule)?;
        runs::insert(
            conn,
            NewRun {
                id: run_id,
                schedule_id,
                connection_id: &id_text(connection_id),
                integration: &integration,
                trigger: Trigger::Manual,
                due_at: &now,
                runner: None,
            },
        )
        .await?;
        // Due now; any lease left is expired (checked above), so claiming it is allowed.
        sqlx::query(
            "UPDATE sync_schedules SET current_run_id = $1, next_run_at = $2, lease_owner = NULL,
                 lease_expires_at = NULL, updated_at = $2
             WHERE id = $3",
        )
        .bind(id_text(run_id))
        .bind(&now)
        .bind(&schedule)
        .execute(&mut *conn)
        .await?;
        answered.extend(runs::get(conn, run_id).await?);
    }
    if answered.is_empty() {
        return Err(match paused_first {
            Some((why, reason)) => SyncNowError::Paused(
                why,
                reason.unwrap_or_else(|| why.as_str().replace('_', " ")),
            ),
            None => SyncNowError::NothingToSync,
        });
    }
    Ok(answered)
}
