//! The sync engine: durable schedules, leases, runs (tables `sync_schedules`, `sync_runs`,
//! migration 0007), the runner, and the seam integrations plug into.
//!
//! - [`integration`]: [`Integration`], what an integration declares (provider, scopes,
//!   schedule, job, what happens on connect and disconnect), and [`Integrations`], the
//!   registered ones.
//! - [`schedule`]: one schedule per (connection, integration): create, pause and resume,
//!   claim (take the lease), heartbeat, finish, "sync now", the state shown to the user.
//! - [`runs`]: the history of runs with their counts.
//! - [`seams`]: what an integration's job gets from the engine (access tokens) and answers
//!   (counts, error kinds).
//! - [`retry`]: retrying one provider call inside a run ([`retry::RetryPolicy`], back-off
//!   with full jitter, `Retry-After`), provider-neutral: the integration classifies its errors.
//! - [`runner`]: the tokio task that `serve` starts: claims due schedules, runs their jobs
//!   with a lease guard, heartbeats, backs off after failures, releases leases on shutdown.
//!
//! # Why our own tables and not a job library
//! Evaluated (2026-11): **apalis** (apalis-sql 0.7, apalis-sqlite/-postgres 1.0 betas),
//! **fang** 0.11, **sqlxmq**, **graphile-worker-rs**, **underway**. What we need: the same
//! behaviour on SQLite and PostgreSQL through sqlx's `Any` driver (one schema, one set of
//! queries, [`threadline_storage::db::Db::write`]); a *recurring* schedule per connection and
//! integration, stored as a row, with jitter and back-off; leases that expire when a process
//! dies; "sync now" that joins a run already going; run history with counts.
//! - sqlxmq, graphile-worker-rs and underway are PostgreSQL only (they rely on
//!   `LISTEN/NOTIFY`, `SKIP LOCKED` and PL/pgSQL functions): the default install is SQLite.
//! - apalis and fang support both engines, but through a separate storage per engine, each
//!   on its own typed pool (`SqlitePool`, `PgPool`) with its own schema, migrations and
//!   claiming logic (`SKIP LOCKED` on PostgreSQL, a transaction on `min(rowid)` on SQLite):
//!   a second set of pools and migrations next to ours, and two code paths to test. Both are
//!   queues of one-shot jobs; a recurring job is an in-process cron (apalis-cron) or a cron
//!   expression (fang), not a durable per-row "next run at" with jitter that the API moves
//!   ("sync now") and pauses (needs re-authorization). Joining a running run, run counts
//!   and a pause reason would be ours anyway, on top of their tables. apalis's SQL crates are
//!   also mid-rewrite (0.7 → 1.0 betas with a different crate split).
//!
//! So this is a small DB-lease scheduler on our own two tables: a claim is one conditional
//! UPDATE (lease free or expired) in `Db::write`, which serialises it on both engines
//! (`BEGIN IMMEDIATE` on SQLite; SERIALIZABLE with retries on PostgreSQL, where two processes
//! claiming the same row conflict and the loser, run again, sees the lease taken). The
//! whole scheduler is some hundreds of lines, tested on both engines (`tests/api/sync.rs`,
//! and two real server processes in `tests/binary.rs`).
//!
//! # Guarantees
//! - A schedule is run by at most one process at a time *while leases are honoured*: a job
//!   whose lease expired (a process paused longer than the lease) must not write. The job's
//!   [`Lease`] says so locally ([`Lease::ensure`]), and [`Lease::fence`] checks it inside the
//!   job's own write transaction, so a write commits only while the lease is held.
//! - A process killed mid-run leaves its lease; when it expires the schedule is due again
//!   and the interrupted run is recorded as `interrupted`.
//! - Invariants of this crate: it names no integration and no provider API; it depends on
//!   storage, the CRM model's error and connections only (never on HTTP or an
//!   integration).
//! - Runs are at-least-once: a job must converge when run again after an interruption (the
//!   Calendar sync's link table and cursors are written so that it does).

pub mod integration;
pub mod retry;
pub mod runner;
pub mod runs;
pub mod schedule;
pub mod seams;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use uuid::Uuid;

use threadline_storage::db::{BoxFuture, Db};

pub use integration::{
    BusyTime, Card, ChoiceGroup, ChoiceOption, Choices, Integration, Integrations, Localised,
    Switched,
};
pub use runner::{Lease, Runner, RunnerConfig, RunnerHandle};
pub use seams::{
    with_token_replacement, AccessTokens, FixedToken, RunCounts, StoredTokens, SyncError,
    TokenError,
};

/// Default time between runs of a schedule.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30 * 60);
/// Default jitter: a run starts up to this much earlier or later than `interval` says.
pub const DEFAULT_JITTER: Duration = Duration::from_secs(3 * 60);

/// What a run did, by kind of change (`sync_runs` columns).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Counts {
    pub created: i64,
    pub updated: i64,
    pub deleted: i64,
    pub conflicts: i64,
    pub skipped: i64,
    pub errors: i64,
    /// Items looked at and left as they were.
    pub unchanged: i64,
    /// The integration's own counts by name, where the common ones say too little:
    /// `recreated` (deleted on the provider's side, made again), `adopted` (found again
    /// instead of made twice), `skipped: <reason>`. Empty when there are none.
    pub details: BTreeMap<String, i64>,
}

/// Where a job adds up what it did as it goes: the counts survive a failure half-way (and
/// heartbeats store them, so a run cut short by a crash still shows its progress).
#[derive(Debug, Default)]
pub struct Tally {
    created: AtomicI64,
    updated: AtomicI64,
    deleted: AtomicI64,
    conflicts: AtomicI64,
    skipped: AtomicI64,
    errors: AtomicI64,
    unchanged: AtomicI64,
    details: std::sync::Mutex<BTreeMap<String, i64>>,
}

impl Tally {
    pub fn created(&self, n: i64) {
        self.created.fetch_add(n, Ordering::Relaxed);
    }
    pub fn updated(&self, n: i64) {
        self.updated.fetch_add(n, Ordering::Relaxed);
    }
    pub fn deleted(&self, n: i64) {
        self.deleted.fetch_add(n, Ordering::Relaxed);
    }
    pub fn conflicts(&self, n: i64) {
        self.conflicts.fetch_add(n, Ordering::Relaxed);
    }
    pub fn skipped(&self, n: i64) {
        self.skipped.fetch_add(n, Ordering::Relaxed);
    }
    pub fn errors(&self, n: i64) {
        self.errors.fetch_add(n, Ordering::Relaxed);
    }
    pub fn unchanged(&self, n: i64) {
        self.unchanged.fetch_add(n, Ordering::Relaxed);
    }
    /// Adds `n` to the integration's own count `name` (see [`Counts::details`]); a zero is
    /// not recorded.
    pub fn detail(&self, name: &str, n: i64) {
        if n == 0 {
            return;
        }
        let mut details = self.details.lock().unwrap_or_else(|e| e.into_inner());
        *details.entry(name.to_string()).or_default() += n;
    }

    /// The counts so far.
    pub fn counts(&self) -> Counts {
        let get = |a: &AtomicI64| a.load(Ordering::Relaxed);
        Counts {
            created: get(&self.created),
            updated: get(&self.updated),
            deleted: get(&self.deleted),
            conflicts: get(&self.conflicts),
            skipped: get(&self.skipped),
            errors: get(&self.errors),
            unchanged: get(&self.unchanged),
            details: self
                .details
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}

/// Why a run did not finish well; decides what happens to the schedule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Worth trying again soon (throttled, 5xx, network): the schedule backs off
    /// (exponentially, with jitter, capped), at least `retry_after` when the provider said.
    #[error("{message}")]
    Retryable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// The provider refused the grant (`invalid_grant`): the connection is marked
    /// `needs_reauth` and all its schedules pause until it is connected again.
    #[error("the account must be connected again: {0}")]
    NeedsReauth(String),
    /// A guard stopped the run before it applied anything (a mass deletion, an empty
    /// listing): this schedule pauses until a person reviews it.
    #[error("refused, waiting for a review: {0}")]
    RefusedForReview(String),
    /// Will not get better by itself (a bug, bad data): the run fails and the schedule comes
    /// round at its usual interval.
    #[error("{0}")]
    Fatal(String),
    /// The job found its lease lost ([`Lease::ensure`], [`Lease::fence`]): it stopped
    /// without writing more. Another process may be running the schedule.
    #[error("the lease on this schedule was lost; stopped without writing more")]
    LeaseLost,
    /// The server is shutting down ([`JobContext::stopping`]): the run stopped early and the
    /// schedule is due again at once.
    #[error("stopped: the server is shutting down")]
    Stopped,
}

/// What the scheduler does after a failed pass: the kinds map one to one.
impl From<SyncError> for JobError {
    fn from(e: SyncError) -> JobError {
        match e {
            SyncError::Retryable {
                reason,
                retry_after,
            } => JobError::Retryable {
                message: reason,
                retry_after,
            },
            // Refused again after a replacement: the token source knows more next time (a
            // refresh failing with invalid_grant pauses the schedules then).
            SyncError::TokenRejected(reason) => JobError::retryable(reason),
            SyncError::NeedsReauth(reason) => JobError::NeedsReauth(reason),
            SyncError::RefusedForReview(reasons) => JobError::RefusedForReview(reasons.join("; ")),
            SyncError::Fatal(reason) => JobError::Fatal(reason),
            SyncError::LeaseLost => JobError::LeaseLost,
        }
    }
}

impl JobError {
    pub fn retryable(message: impl Into<String>) -> JobError {
        JobError::Retryable {
            message: message.into(),
            retry_after: None,
        }
    }
}

/// What a job is given for one run.
pub struct JobContext {
    pub db: Db,
    pub connection_id: Uuid,
    pub schedule_id: Uuid,
    pub run_id: Uuid,
    /// The lease on the schedule: check it before writing, fence write transactions with it.
    pub lease: Lease,
    /// Add what the run does here.
    pub tally: Arc<Tally>,
    /// A person reviewed a refused run and chose to apply it anyway: this run may pass the
    /// mass-change guards (once; see [`schedule::review`]).
    pub apply_anyway: bool,
    stopping: Arc<AtomicBool>,
}

impl JobContext {
    /// True once the server is shutting down: a long job should stop at the next safe point
    /// (after a checkpoint) and return [`JobError::Stopped`].
    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }
}

/// One integration's sync pass, run by the [`Runner`] for each due schedule of that
/// integration.
///
/// A pass may be cut short at any point (a crash, a lost lease) and run again: it must
/// converge (apply changes before saving a cursor; write links in the same transaction as
/// what they link). Before each write it checks its lease ([`Lease::ensure`]), and puts
/// [`Lease::fence`] in each write transaction.
pub trait SyncJob: Send + Sync + 'static {
    /// The integration it serves (`sync_schedules.integration`): its
    /// [`Integration::name`].
    fn integration(&self) -> &'static str;

    /// Runs one pass; adds what it did to `ctx.tally`.
    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>>;
}

/// The failure of [`Lease::fence`]: the lease is gone, or the check could not run.
#[derive(Debug, thiserror::Error)]
pub enum FenceError {
    #[error("the lease on this schedule was lost")]
    LeaseLost,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// The error of a job's write transaction that puts [`Lease::fence`] first: the lease was
/// lost (nothing of the transaction commits), or the work itself failed.
#[derive(Debug, thiserror::Error)]
pub enum FencedError {
    #[error("the lease on this schedule was lost")]
    LeaseLost,
    #[error(transparent)]
    Failed(#[from] threadline_crm::CrmError),
}

impl From<FenceError> for FencedError {
    fn from(e: FenceError) -> Self {
        match e {
            FenceError::LeaseLost => FencedError::LeaseLost,
            FenceError::Database(e) => FencedError::Failed(e.into()),
        }
    }
}

impl From<sqlx::Error> for FencedError {
    fn from(e: sqlx::Error) -> Self {
        FencedError::Failed(e.into())
    }
}

impl threadline_storage::errors::DbFailure for FencedError {
    fn database_error(&self) -> Option<&sqlx::Error> {
        match self {
            FencedError::Failed(e) => e.database_error(),
            FencedError::LeaseLost => None,
        }
    }
}

/// [`Lease::fence`] when the job runs under one (the scheduler's runs); nothing otherwise (a
/// run called directly, as tests and benchmarks do, has no lease to lose).
pub async fn fence(
    lease: Option<&Lease>,
    conn: &mut threadline_storage::db::Conn,
) -> Result<(), FencedError> {
    match lease {
        Some(lease) => Ok(lease.fence(conn).await?),
        None => Ok(()),
    }
}

impl threadline_storage::errors::DbFailure for FenceError {
    fn database_error(&self) -> Option<&sqlx::Error> {
        match self {
            FenceError::Database(e) => Some(e),
            FenceError::LeaseLost => None,
        }
    }
}

/// A sync job for tests of the scheduler across processes (`serve` with the hidden
/// `THREADLINE_SYNC_TEST_JOB_MS`): runs the schedules of the integration it names by
/// waiting this long, checking its lease before and after. Runs that overlap show in
/// `sync_runs`.
pub struct SleepJob(pub &'static str, pub Duration);

impl SyncJob for SleepJob {
    fn integration(&self) -> &'static str {
        self.0
    }

    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            ctx.lease.ensure()?;
            tokio::time::sleep(self.1).await;
            ctx.tally.skipped(1);
            ctx.lease.ensure()
        })
    }
}

/// For the crash tests only (the Calendar sync's `tests/calendar_sync/recovery.rs`, the
/// Contacts export's binary test): when `THREADLINE_TEST_KILL_AT` names `point`, the process
/// sends itself SIGKILL there — no unwinding, no destructors, no commit, as a power cut or
/// the OOM killer would stop it. Jobs call it between a provider's write and the local one.
pub fn kill_point(point: &str) {
    if std::env::var("THREADLINE_TEST_KILL_AT").as_deref() == Ok(point) {
        tracing::warn!(point, "THREADLINE_TEST_KILL_AT: killing this process");
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &std::process::id().to_string()])
            .status();
        // The signal is on its way; never go on.
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}
