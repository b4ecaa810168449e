//! The runner: a tokio task (started by `serve`) that runs the due schedules of the
//! integrations it has a [`SyncJob`] for.
//!
//! Its loop: take up to `concurrency − running` due schedules ([`schedule::claim_due`] in one
//! write transaction), run each as a task, then sleep until the earliest `next_run_at`, at
//! most `poll_interval`; a "sync now" in this process ([`crate::AppState::sync_wake`]) or a
//! finished run wakes it early. Nothing polls faster than that: with nothing due, the cost
//! is one indexed query per `poll_interval` (see BENCHMARKS.md).
//!
//! Each run heartbeats every third of the lease. When a heartbeat finds the lease gone, or
//! the lease runs out locally because heartbeats failed, the runner stops the job (its
//! future is dropped: an open transaction rolls back) and records the run `interrupted`.
//! On shutdown, jobs are asked to stop ([`super::JobContext::stopping`]); those still
//! running after the grace period are dropped, and their leases released so that another
//! process takes the schedules at once.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::{watch, Notify};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use super::schedule::{self, Claimed, Outcome};
use super::{FenceError, JobContext, JobError, SyncJob, Tally};
use threadline_storage::db::{Conn, Db};

/// How the runner behaves.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Runs at once in this process.
    pub concurrency: usize,
    /// The longest sleep between two looks at the schedules (other processes may have made
    /// something due sooner; this process's own changes wake it at once).
    pub poll_interval: Duration,
    /// How long a claim holds without a heartbeat: after a process dies, its schedules are
    /// taken again this long after its last heartbeat.
    pub lease: Duration,
    /// How long shutdown waits for running jobs to stop by themselves.
    pub shutdown_grace: Duration,
    /// This process's name in `lease_owner`: unique per process.
    pub owner: String,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            concurrency: 4,
            poll_interval: Duration::from_secs(30),
            lease: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(10),
            owner: new_owner_name(),
        }
    }
}

/// A name for this process: its pid and a random part (pids repeat across hosts and
/// restarts).
pub fn new_owner_name() -> String {
    format!(
        "pid{}-{:08x}",
        std::process::id(),
        getrandom::u32().unwrap_or_default()
    )
}

/// The runner, before it is started with [`Runner::spawn`].
pub struct Runner {
    db: Db,
    config: RunnerConfig,
    wake: Arc<Notify>,
    jobs: HashMap<&'static str, Arc<dyn SyncJob>>,
}

impl Runner {
    /// A runner on `db`; `wake` wakes it early ([`crate::AppState::sync_wake`]).
    pub fn new(db: Db, config: RunnerConfig, wake: Arc<Notify>) -> Runner {
        Runner {
            db,
            config,
            wake,
            jobs: HashMap::new(),
        }
    }

    /// Runs the schedules of `job`'s integration (a second job for one integration
    /// replaces the first).
    pub fn with_job(mut self, job: Arc<dyn SyncJob>) -> Runner {
        self.jobs.insert(job.integration(), job);
        self
    }

    /// Starts the loop on the current tokio runtime.
    pub fn spawn(self) -> RunnerHandle {
        let (stop, stopped) = watch::channel(false);
        let owner = self.config.owner.clone();
        let task = tokio::spawn(self.run(stopped));
        RunnerHandle { stop, task, owner }
    }

    async fn run(self, mut stop: watch::Receiver<bool>) {
        let integrations: Vec<&'static str> = self.jobs.keys().copied().collect();
        let config = &self.config;
        let stopping = Arc::new(AtomicBool::new(false));
        let mut tasks = JoinSet::new();
        let mut running: HashMap<tokio::task::Id, Claimed> = HashMap::new();
        tracing::info!(owner = %config.owner, ?integrations, "sync runner started");
        loop {
            while let Some(done) = tasks.try_join_next_with_id() {
                forget_task(&mut running, done);
            }
            if *stop.borrow() {
                break;
            }
            let free = config.concurrency.saturating_sub(tasks.len());
            let mut found_none = true;
            if free > 0 && !integrations.is_empty() {
                let asked = Instant::now();
                let (owner, names, lease) = (&config.owner, &integrations, config.lease);
                let claimed = self
                    .db
                    .write(|tx| Box::pin(schedule::claim_due(tx, owner, names, free, lease)))
                    .await;
                match claimed {
                    Ok(claimed) => {
                        found_none = claimed.is_empty();
                        for claimed in claimed {
                            let job = Arc::clone(&self.jobs[claimed.integration.as_str()]);
                            let lease = Lease::new(claimed.clone(), config, asked);
                            let run = run_one(self.db.clone(), job, lease, Arc::clone(&stopping));
                            let id = tasks.spawn(run).id();
                            running.insert(id, claimed);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "could not claim due sync schedules"),
                }
            }
            let wait = self.wait(&integrations, tasks.len(), found_none).await;
            tokio::select! {
                _ = stop.changed() => {}
                Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                    forget_task(&mut running, done);
                }
                () = self.wake.notified() => {}
                () = sleep_or_forever(wait) => {}
            }
        }

        // Shutdown: ask the jobs to stop, wait a little, then drop the rest.
        stopping.store(true, Ordering::Relaxed);
        let grace = tokio::time::sleep(config.shutdown_grace);
        tokio::pin!(grace);
        while !tasks.is_empty() {
            tokio::select! {
                Some(done) = tasks.join_next_with_id() => forget_task(&mut running, done),
                () = &mut grace => break,
            }
        }
        tasks.abort_all();
        while let Some(done) = tasks.join_next_with_id().await {
            // Those that ended meanwhile released their leases; the others are released below.
            if let Ok((id, ())) = done {
                running.remove(&id);
            }
        }
        for claimed in running.into_values() {
            let outcome = Outcome::Interrupted(
                "the server shut down before the run finished; it runs again".into(),
            );
            let counts = super::Counts::default();
            let owner = &config.owner;
            let ended = self
                .db
                .write(|tx| Box::pin(schedule::finish(tx, &claimed, owner, &outcome, &counts)))
                .await;
            if let Err(e) = ended {
                tracing::warn!(error = %e, run = %claimed.run_id, "could not release a sync lease at shutdown; it expires by itself");
            }
        }
        tracing::info!(owner = %config.owner, "sync runner stopped");
    }

    /// How long to sleep: until the earliest schedule is due, at most the poll interval;
    /// `None` (until woken) without jobs.
    async fn wait(
        &self,
        integrations: &[&str],
        running: usize,
        found_none: bool,
    ) -> Option<Duration> {
        if integrations.is_empty() {
            return None;
        }
        let poll = self.config.poll_interval;
        if running >= self.config.concurrency {
            return Some(poll);
        }
        let next = match self.db.pool().acquire().await {
            Ok(mut conn) => schedule::next_due(&mut conn, integrations).await,
            Err(e) => Err(e),
        };
        match next {
            Ok(Some(at)) => {
                let until = (at - chrono::Utc::now()).to_std().unwrap_or_default();
                // Due already yet nothing was claimed: another process got it first (its
                // lease now moves `next_run_at`); look again soon, without spinning.
                let floor = if found_none { MIN_WAIT } else { Duration::ZERO };
                Some(until.max(floor).min(poll))
            }
            Ok(None) => Some(poll),
            Err(e) => {
                tracing::warn!(error = %e, "could not read when the next sync is due");
                Some(poll)
            }
        }
    }
}

/// The shortest sleep after a look that found nothing to claim.
const MIN_WAIT: Duration = Duration::from_millis(50);

async fn sleep_or_forever(wait: Option<Duration>) {
    match wait {
        Some(wait) => tokio::time::sleep(wait).await,
        None => std::future::pending().await,
    }
}

fn forget_task(
    running: &mut HashMap<tokio::task::Id, Claimed>,
    done: Result<(tokio::task::Id, ()), tokio::task::JoinError>,
) {
    let id = match done {
        Ok((id, ())) => id,
        Err(e) => {
            if e.is_panic() {
                tracing::error!("a sync run task panicked outside its job");
            }
            e.id()
        }
    };
    running.remove(&id);
}

/// A started runner.
pub struct RunnerHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    owner: String,
}

impl RunnerHandle {
    /// The runner's name in `lease_owner`.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Stops the runner: no new runs; running jobs are asked to stop, and dropped after the
    /// grace period; their leases are released. Returns when it has stopped.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the sync runner ended badly");
        }
    }

    /// Stops the runner as a crash would: its tasks are dropped where they are and its
    /// leases stay until they expire. For tests of what another process does then.
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Runs one claimed schedule's job with heartbeats, then records how it ended.
async fn run_one(db: Db, job: Arc<dyn SyncJob>, lease: Lease, stopping: Arc<AtomicBool>) {
    let claimed = lease.inner.claimed.clone();
    let tally = Arc::new(Tally::default());
    let ctx = JobContext {
        db: db.clone(),
        connection_id: claimed.connection_id,
        schedule_id: claimed.schedule_id,
        run_id: claimed.run_id,
        lease: lease.clone(),
        tally: Arc::clone(&tally),
        apply_anyway: claimed.apply_anyway,
        stopping,
    };
    let beat = lease.inner.duration / 3;
    let result = {
        let job_run = AssertUnwindSafe(job.run(&ctx)).catch_unwind();
        tokio::pin!(job_run);
        let mut ticker = tokio::time::interval_at(Instant::now() + beat, beat);
        loop {
            tokio::select! {
                result = &mut job_run => break result.unwrap_or_else(|_| {
                    Err(JobError::Fatal("the sync job panicked (a bug); see the server log".into()))
                }),
                _ = ticker.tick() => {
                    if let Err(e) = lease.renew(&db, tally.counts()).await {
                        tracing::warn!(error = %e, run = %claimed.run_id, "a sync heartbeat failed");
                    }
                    if !lease.is_held() {
                        // Stop the job here: whatever it has not committed is rolled back.
                        break Err(JobError::LeaseLost);
                    }
                }
            }
        }
    };
    let outcome = match result {
        Ok(()) => Outcome::Ok,
        Err(JobError::Retryable {
            message,
            retry_after,
        }) => Outcome::Retry {
            error: message,
            retry_after,
        },
        Err(JobError::NeedsReauth(reason)) => Outcome::NeedsReauth(reason),
        Err(JobError::RefusedForReview(reason)) => Outcome::RefusedForReview(reason),
        Err(JobError::Fatal(error)) => Outcome::Failed(error),
        Err(e @ (JobError::LeaseLost | JobError::Stopped)) => Outcome::Interrupted(e.to_string()),
    };
    if let Outcome::Failed(error) | Outcome::Retry { error, .. } = &outcome {
        tracing::warn!(run = %claimed.run_id, integration = %claimed.integration, %error, "a sync run failed");
    }
    let (owner, counts) = (&lease.inner.owner, tally.counts());
    let ended = db
        .write(|tx| Box::pin(schedule::finish(tx, &claimed, owner, &outcome, &counts)))
        .await;
    if let Err(e) = ended {
        tracing::error!(
            error = %e, run = %claimed.run_id,
            "could not record the end of a sync run; its lease expires and the schedule runs again"
        );
    }
}

/// A job's hold on its schedule: check it before writing ([`Lease::ensure`]), and put
/// [`Lease::fence`] in each write transaction. The runner renews it (heartbeats); a job may
/// renew it too ([`Lease::renew`]) before a long step.
#[derive(Clone)]
pub struct Lease {
    inner: Arc<LeaseInner>,
}

struct LeaseInner {
    claimed: Claimed,
    owner: String,
    duration: Duration,
    lost: AtomicBool,
    /// Until when this process may act on it without hearing from the database: the lease,
    /// counted from the *start* of the request that took or renewed it, minus a margin for
    /// clocks of processes that differ slightly.
    valid_until: Mutex<Instant>,
}

impl Lease {
    fn new(claimed: Claimed, config: &RunnerConfig, asked: Instant) -> Lease {
        Lease {
            inner: Arc::new(LeaseInner {
                claimed,
                owner: config.owner.clone(),
                duration: config.lease,
                lost: AtomicBool::new(false),
                valid_until: Mutex::new(asked + Self::trusted(config.lease)),
            }),
        }
    }

    /// The part of a lease a process relies on: a tenth (at most 5 s) is kept back.
    fn trusted(lease: Duration) -> Duration {
        lease - (lease / 10).min(Duration::from_secs(5))
    }

    fn deadline(&self) -> std::sync::MutexGuard<'_, Instant> {
        self.inner
            .valid_until
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// True while this process may believe it holds the lease.
    pub fn is_held(&self) -> bool {
        !self.inner.lost.load(Ordering::Relaxed) && Instant::now() < *self.deadline()
    }

    /// `Ok` while the lease is held ([`Lease::is_held`]); else [`JobError::LeaseLost`]: stop,
    /// write nothing more.
    pub fn ensure(&self) -> Result<(), JobError> {
        if self.is_held() {
            Ok(())
        } else {
            Err(JobError::LeaseLost)
        }
    }

    /// The fencing check, inside a write transaction: fails unless the database still says
    /// this process holds the lease. As the transaction is serialised with other processes'
    /// claims, what it writes commits only while the lease is held.
    pub async fn fence(&self, conn: &mut Conn) -> Result<(), FenceError> {
        if !self.is_held() {
            return Err(FenceError::LeaseLost);
        }
        if schedule::holds_lease(conn, &self.inner.claimed, &self.inner.owner).await? {
            Ok(())
        } else {
            self.inner.lost.store(true, Ordering::Relaxed);
            Err(FenceError::LeaseLost)
        }
    }

    /// Extends the lease (and stores the run's counts so far); `Ok(false)` when it was lost.
    pub async fn renew(&self, db: &Db, counts: super::Counts) -> Result<bool, sqlx::Error> {
        if self.inner.lost.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let asked = Instant::now();
        let (claimed, owner, duration) =
            (&self.inner.claimed, &self.inner.owner, self.inner.duration);
        let renewed = db
            .write(|tx| Box::pin(schedule::heartbeat(tx, claimed, owner, duration, &counts)))
            .await?;
        match renewed {
            Some(_) => {
                *self.deadline() = asked + Self::trusted(duration);
                Ok(true)
            }
            None => {
                self.inner.lost.store(true, Ordering::Relaxed);
                tracing::warn!(run = %claimed.run_id, "a sync run lost its lease; stopping it");
                Ok(false)
            }
        }
    }
}
