//! The sync engine's schedules, leases and runs (`threadline_server::sync`), with fake jobs:
//! due schedules run once; two runners (each with a pool of its own, as two processes) never
//! run one schedule at once; a runner that dies leaves a lease that expires; "sync now" joins
//! a run already going; paused schedules do not run; failures back off; run history.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use chrono::{DateTime, Utc};
use serde_json::Value;
use threadline_server::connections::{self, Grant, Owner, Provider, Status};
use threadline_server::db::{BoxFuture, Db};
use threadline_server::secrets::{new_key_line, Keyring, SecretString};
use threadline_server::sync::schedule;
use threadline_server::sync::{
    FenceError, JobContext, JobError, Runner, RunnerConfig, RunnerHandle, SyncJob,
};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::common::TestApp;

/// What the fake job does when run.
#[derive(Clone)]
enum Act {
    /// Counts 2 created, 1 updated; finishes after the pause.
    Succeed(Duration),
    Fail(JobError),
    /// Waits for the notify, then succeeds.
    WaitFor(Arc<Notify>),
    /// Never finishes.
    Hang,
    /// Finishes when the server shuts down ([`JobContext::stopping`]).
    UntilStopping,
    /// Waits for the notify, then writes through the lease's fence.
    FencedWriteAfter(Arc<Notify>),
}

/// What the fake jobs saw, shared by all of a test's runners.
#[derive(Default)]
struct Probe {
    started: AtomicUsize,
    /// Runs going, per schedule, and the most ever seen at once for one schedule.
    going: Mutex<HashMap<Uuid, usize>>,
    most_at_once: AtomicUsize,
    started_signal: Notify,
    fence: Mutex<Vec<Result<(), String>>>,
    /// `JobContext::apply_anyway` of each run, in order.
    apply_anyway: Mutex<Vec<bool>>,
}

struct FakeJob {
    probe: Arc<Probe>,
    act: Act,
}

impl SyncJob for FakeJob {
    fn integration(&self) -> &'static str {
        threadline_google_calendar::NAME
    }

    fn run<'a>(&'a self, ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            let probe = &self.probe;
            {
                let mut going = probe.going.lock().unwrap();
                let n = going.entry(ctx.schedule_id).or_default();
                *n += 1;
                probe.most_at_once.fetch_max(*n, Ordering::SeqCst);
            }
            probe.apply_anyway.lock().unwrap().push(ctx.apply_anyway);
            probe.started.fetch_add(1, Ordering::SeqCst);
            probe.started_signal.notify_waiters();
            ctx.tally.created(2);
            ctx.tally.updated(1);
            let result = match &self.act {
                Act::Succeed(pause) => {
                    tokio::time::sleep(*pause).await;
                    ctx.lease.ensure()
                }
                Act::Fail(e) => Err(e.clone()),
                Act::WaitFor(go) => {
                    go.notified().await;
                    Ok(())
                }
                Act::Hang => std::future::pending().await,
                Act::UntilStopping => {
                    while !ctx.stopping() {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    Err(JobError::Stopped)
                }
                Act::FencedWriteAfter(go) => {
                    go.notified().await;
                    let lease = ctx.lease.clone();
                    let fenced = ctx
                        .db
                        .write(|tx| {
                            let lease = lease.clone();
                            Box::pin(async move { lease.fence(tx).await })
                        })
                        .await;
                    probe
                        .fence
                        .lock()
                        .unwrap()
                        .push(fenced.as_ref().map(|_| ()).map_err(|e| e.to_string()));
                    match fenced {
                        Err(FenceError::LeaseLost) => Err(JobError::LeaseLost),
                        Err(e) => Err(JobError::Fatal(e.to_string())),
                        Ok(()) => Ok(()),
                    }
                }
            };
            *probe
                .going
                .lock()
                .unwrap()
                .get_mut(&ctx.schedule_id)
                .unwrap() -= 1;
            result
        })
    }
}

fn config(lease: Duration) -> RunnerConfig {
    RunnerConfig {
        concurrency: 4,
        poll_interval: Duration::from_millis(200),
        lease,
        shutdown_grace: Duration::from_secs(2),
        ..RunnerConfig::default()
    }
}

fn start(db: &Db, app: &TestApp, probe: &Arc<Probe>, act: Act, lease: Duration) -> RunnerHandle {
    let job = FakeJob {
        probe: Arc::clone(probe),
        act,
    };
    Runner::new(db.clone(), config(lease), app.state.sync_wake())
        .with_job(Arc::new(job))
        .spawn()
}

/// A Google connection of a new user (`n`) in Ann's organisation, with a calendar schedule
/// due now (`interval`, no jitter); returns (connection, schedule).
async fn connected(app: &TestApp, n: usize, interval: Duration) -> (Uuid, Uuid) {
    let user = threadline_server::admin::add_user(
        &app.db,
        threadline_server::admin::OrgChoice::Existing(app.org_id),
        &format!("user{n}@ourco.com"),
        "User",
        &[],
    )
    .await
    .unwrap();
    connect_user(app, user.id, interval).await
}

async fn connect_user(app: &TestApp, user_id: Uuid, interval: Duration) -> (Uuid, Uuid) {
    let keys = Keyring::parse(&new_key_line().unwrap(), "test keys").unwrap();
    let owner = Owner {
        org_id: app.org_id,
        user_id,
    };
    let grant = Grant {
        provider: Provider::Google,
        account_id: format!("g-{user_id}"),
        account_email: None,
        scopes: vec!["openid".into()],
        access_token: SecretString::from("ya29.access".to_string()),
        refresh_token: Some(SecretString::from("1//refresh".to_string())),
        access_token_expires_at: None,
    };
    let (keys, grant) = (&keys, &grant);
    app.db
        .write(|tx| {
            Box::pin(async move {
                let connection = connections::upsert(tx, keys, owner, grant)
                    .await?
                    .connection;
                let schedule = schedule::ensure(
                    tx,
                    connection.id,
                    threadline_google_calendar::NAME,
                    interval,
                    Duration::ZERO,
                )
                .await?;
                Ok::<_, connections::Error>((connection.id, schedule))
            })
        })
        .await
        .unwrap()
}

#[derive(Debug, sqlx::FromRow)]
struct ScheduleRow {
    next_run_at: String,
    lease_owner: Option<String>,
    current_run_id: Option<String>,
    paused: Option<String>,
    failures: i64,
}

async fn schedule_row(app: &TestApp, id: Uuid) -> ScheduleRow {
    sqlx::query_as(
        "SELECT next_run_at, lease_owner, current_run_id, paused, failures
         FROM sync_schedules WHERE id = $1",
    )
    .bind(id.to_string())
    .fetch_one(app.pool())
    .await
    .unwrap()
}

fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The statuses of a connection's runs, newest first.
async fn statuses(app: &TestApp, connection: Uuid) -> Vec<String> {
    sqlx::query_scalar("SELECT status FROM sync_runs WHERE connection_id = $1 ORDER BY id DESC")
        .bind(connection.to_string())
        .fetch_all(app.pool())
        .await
        .unwrap()
}

/// Waits (at most 10 s) until `done` holds.
async fn until<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn runs_of(app: &TestApp, connection: Uuid) -> Value {
    let answer = app
        .get(&format!("/api/v1/connections/{connection}/runs"))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body
}

async fn sync_now(app: &TestApp, connection: Uuid) -> crate::common::Answer {
    app.send_raw(
        Method::POST,
        &format!("/api/v1/connections/{connection}/sync"),
        Some(&app.token.clone()),
        None,
        &[],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_schedule_runs_once_and_its_run_is_recorded() {
    let app = TestApp::new().await;
    let (connection, schedule_id) =
        connect_user(&app, app.user_id, Duration::from_secs(1800)).await;
    let probe = Arc::new(Probe::default());
    let runner = start(
        &app.db,
        &app,
        &probe,
        Act::Succeed(Duration::ZERO),
        Duration::from_secs(5),
    );
    until("the run is over", || async {
        statuses(&app, connection).await == ["ok"]
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    runner.shutdown().await;
    assert_eq!(
        probe.started.load(Ordering::SeqCst),
        1,
        "run once, not again"
    );

    let row = schedule_row(&app, schedule_id).await;
    assert_eq!(
        (row.lease_owner, row.current_run_id, row.failures),
        (None, None, 0)
    );
    let next = time(&row.next_run_at) - Utc::now();
    assert!(
        next > chrono::Duration::seconds(1790) && next <= chrono::Duration::seconds(1800),
        "next run in 30 minutes (no jitter): {next}"
    );

    let page = runs_of(&app, connection).await;
    let run = &page["items"][0];
    assert_eq!(run["status"], "ok");
    assert_eq!(run["triggered_by"], "background");
    assert_eq!(run["integration"], "google_calendar");
    assert_eq!(run["counts"]["created"], 2);
    assert_eq!(run["counts"]["updated"], 1);
    assert_eq!(run["counts"]["deleted"], 0);
    assert!(run["started_at"].as_str() >= run["due_at"].as_str());
    assert!(run["finished_at"].as_str() >= run["started_at"].as_str());

    let state = app
        .get(&format!("/api/v1/connections/{connection}/sync"))
        .await;
    assert_eq!(state.status, StatusCode::OK, "{}", state.body);
    assert_eq!(state.body["state"], "ok");
    assert_eq!(state.body["schedules"][0]["last_run"]["id"], run["id"]);
    assert_eq!(
        state.body["schedules"][0]["next_run_at"],
        row.next_run_at.as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_runners_on_one_database_never_run_one_schedule_at_once() {
    let app = TestApp::new().await;
    let mut connections = Vec::new();
    for n in 0..6 {
        // Due again one second after each run: the runners compete all along.
        connections.push(connected(&app, n, Duration::from_secs(1)).await.0);
    }
    let probe = Arc::new(Probe::default());
    let act = Act::Succeed(Duration::from_millis(30));
    let other_db = app.reopen().await;
    let first = start(&app.db, &app, &probe, act.clone(), Duration::from_secs(5));
    let second = start(&other_db, &app, &probe, act, Duration::from_secs(5));
    tokio::time::sleep(Duration::from_millis(3500)).await;
    first.shutdown().await;
    second.shutdown().await;

    assert_eq!(
        probe.most_at_once.load(Ordering::SeqCst),
        1,
        "a schedule ran twice at once"
    );
    let runners: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT runner FROM sync_runs WHERE status = 'ok'")
            .fetch_all(app.pool())
            .await
            .unwrap();
    assert_eq!(runners.len(), 2, "both runners ran schedules: {runners:?}");
    for connection in connections {
        let statuses = statuses(&app, connection).await;
        assert!(
            statuses.len() >= 3,
            "each schedule ran about every second: {statuses:?}"
        );
        assert!(statuses.iter().all(|s| s == "ok"), "{statuses:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_runners_lease_expires_and_another_runner_takes_the_schedule() {
    let app = TestApp::new().await;
    let (connection, schedule_id) =
        connect_user(&app, app.user_id, Duration::from_secs(1800)).await;
    let probe = Arc::new(Probe::default());
    let lease = Duration::from_millis(1500);
    let dying = start(&app.db, &app, &probe, Act::Hang, lease);
    until("the first runner runs it", || async {
        probe.started.load(Ordering::SeqCst) == 1
    })
    .await;
    let dead_owner = dying.owner().to_string();
    dying.kill().await;
    let killed_at = Utc::now();
    assert_eq!(
        schedule_row(&app, schedule_id).await.lease_owner,
        Some(dead_owner)
    );

    let other_db = app.reopen().await;
    let survivor = start(&other_db, &app, &probe, Act::Succeed(Duration::ZERO), lease);
    until("the second runner has run it", || async {
        statuses(&app, connection).await.first().map(String::as_str) == Some("ok")
    })
    .await;
    let took_over = Utc::now() - killed_at;
    survivor.shutdown().await;
    assert!(
        took_over <= chrono::Duration::milliseconds(1500 + 1500),
        "taken again within a lease and a bit: {took_over}"
    );
    assert_eq!(statuses(&app, connection).await, ["ok", "interrupted"]);
    let page = runs_of(&app, connection).await;
    assert!(
        page["items"][1]["error"]
            .as_str()
            .unwrap()
            .contains("lease expired"),
        "{page}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_now_queues_one_run_and_joins_the_run_already_going() {
    let app = TestApp::new().await;
    let (connection, schedule_id) =
        connect_user(&app, app.user_id, Duration::from_secs(1800)).await;
    // Not due for a while: only "sync now" makes it run.
    sqlx::query("UPDATE sync_schedules SET next_run_at = '2999-01-01T00:00:00.000000Z'")
        .execute(app.pool())
        .await
        .unwrap();

    let queued = sync_now(&app, connection).await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.body);
    let run = queued.body["items"][0].clone();
    assert_eq!(
        (run["status"].as_str(), run["triggered_by"].as_str()),
        (Some("queued"), Some("manual"))
    );
    let again = sync_now(&app, connection).await;
    assert_eq!(
        again.body["items"][0]["id"], run["id"],
        "a queued run is joined"
    );

    let go = Arc::new(Notify::new());
    let probe = Arc::new(Probe::default());
    let runner = start(
        &app.db,
        &app,
        &probe,
        Act::WaitFor(Arc::clone(&go)),
        Duration::from_secs(5),
    );
    until("the run started", || async {
        probe.started.load(Ordering::SeqCst) == 1
    })
    .await;
    let joined = sync_now(&app, connection).await;
    assert_eq!(joined.status, StatusCode::ACCEPTED);
    assert_eq!(
        joined.body["items"][0]["id"], run["id"],
        "the running run is joined"
    );
    assert_eq!(joined.body["items"][0]["status"], "running");
    let state = app
        .get(&format!("/api/v1/connections/{connection}/sync"))
        .await;
    assert_eq!(state.body["state"], "syncing", "{}", state.body);
    assert_eq!(state.body["schedules"][0]["current_run"]["id"], run["id"]);

    go.notify_one();
    until("the run is over", || async {
        schedule_row(&app, schedule_id)
            .await
            .current_run_id
            .is_none()
    })
    .await;
    assert_eq!(
        statuses(&app, connection).await,
        ["ok"],
        "one run for three presses"
    );
    let next = sync_now(&app, connection).await;
    assert_ne!(
        next.body["items"][0]["id"], run["id"],
        "after it ended, a new run"
    );
    go.notify_one();
    until("the second run is over", || async {
        statuses(&app, connection).await == ["ok", "ok"]
    })
    .await;
    runner.shutdown().await;
    assert_eq!(probe.started.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_schedules_do_not_run_and_resume_when_connected_again() {
    let app = TestApp::new().await;
    let (connection, schedule_id) =
        connect_user(&app, app.user_id, Duration::from_secs(1800)).await;
    let disconnected = app
        .send_raw(
            Method::DELETE,
            &format!("/api/v1/connections/{connection}"),
            Some(&app.token.clone()),
            None,
            &[],
        )
        .await;
    assert_eq!(disconnected.status, StatusCode::OK, "{}", disconnected.body);
    assert_eq!(
        schedule_row(&app, schedule_id).await.paused.as_deref(),
        Some("disconnected")
    );

    let refused = sync_now(&app, connection).await;
    refused.assert_error(StatusCode::CONFLICT, "conflict", None);
    assert!(
        refused.message().contains("paused (disconnected)"),
        "{}",
        refused.message()
    );

    let probe = Arc::new(Probe::default());
    let runner = start(
        &app.db,
        &app,
        &probe,
        Act::Succeed(Duration::ZERO),
        Duration::from_secs(5),
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        probe.started.load(Ordering::SeqCst),
        0,
        "a paused schedule ran"
    );
    let state = app
        .get(&format!("/api/v1/connections/{connection}/sync"))
        .await;
    assert_eq!(state.body["state"], "disconnected", "{}", state.body);
    assert_eq!(state.body["schedules"][0]["next_run_at"], Value::Null);

    // Connected again (what the OAuth callback does): resumed, due at once.
    let resumed = app
        .db
        .write(|tx| Box::pin(schedule::resume_connection(tx, connection)))
        .await
        .unwrap();
    assert_eq!(resumed, 1);
    app.state.sync_wake().notify_one();
    until("it ran", || async {
        probe.started.load(Ordering::SeqCst) == 1
    })
    .await;
    runner.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_back_off_and_needs_reauth_pauses_the_connection() {
    let app = TestApp::new().await;
    let probe = Arc::new(Probe::default());

    // Retryable, with Retry-After: at least that long.
    let (throttled, schedule_id) = connect_user(&app, app.user_id, Duration::from_secs(1800)).await;
    let act = Act::Fail(JobError::Retryable {
        message: "429 Too Many Requests".into(),
        retry_after: Some(Duration::from_secs(600)),
    });
    let runner = start(&app.db, &app, &probe, act, Duration::from_secs(5));
    until("the run failed", || async {
        statuses(&app, throttled).await == ["failed"]
    })
    .await;
    runner.shutdown().await;
    let row = schedule_row(&app, schedule_id).await;
    assert_eq!(row.failures, 1);
    let wait = time(&row.next_run_at) - Utc::now();
    assert!(
        wait > chrono::Duration::seconds(590),
        "Retry-After is honoured: {wait}"
    );
    let page = runs_of(&app, throttled).await;
    assert_eq!(page["items"][0]["error"], "429 Too Many Requests");
    assert_eq!(
        page["items"][0]["counts"]["created"], 2,
        "counts of a failed run are kept"
    );

    // The grant refused: the connection needs re-authorization, its schedules pause.
    let (refused, refused_schedule) = connected(&app, 1, Duration::from_secs(1800)).await;
    let act = Act::Fail(JobError::NeedsReauth(
        "invalid_grant: Token has been expired or revoked".into(),
    ));
    let runner = start(&app.db, &app, &probe, act, Duration::from_secs(5));
    until("the run failed", || async {
        statuses(&app, refused).await == ["failed"]
    })
    .await;
    runner.shutdown().await;
    assert_eq!(
        schedule_row(&app, refused_schedule).await.paused.as_deref(),
        Some("needs_reauth")
    );
    let mut conn = app.pool().acquire().await.unwrap();
    let connection = connections::get(&mut conn, refused).await.unwrap();
    assert_eq!(connection.status, Status::NeedsReauth);
    assert!(connection.status_reason.unwrap().contains("invalid_grant"));
}

#[test]
fn backoff_doubles_with_jitter_up_to_a_cap() {
    for failures in 1..=20 {
        let full = schedule::FIRST_BACKOFF
            .saturating_mul(2u32.saturating_pow(failures as u32 - 1))
            .min(schedule::MAX_BACKOFF);
        let pause = schedule::backoff(failures);
        assert!(
            pause <= full && pause >= full / 2,
            "{failures}: {pause:?} of {full:?}"
        );
    }
    let now = Utc::now();
    for _ in 0..100 {
        let next = schedule::next_regular(now, Duration::from_secs(1800), Duration::from_secs(180));
        let offset = (next - now).num_seconds();
        assert!((1620..=1980).contains(&offset), "30 min ± 3 min: {offset}");
    }
}

/// A connection of the test user whose first run a guard refused: (connection, schedule).
async fn refused_once(app: &TestApp, probe: &Arc<Probe>) -> (Uuid, Uuid) {
    let (connection, schedule_id) = connect_user(app, app.user_id, Duration::from_secs(1800)).await;
    let act = Act::Fail(JobError::RefusedForReview(
        "would delete 80 % of the linked events".into(),
    ));
    let runner = start(&app.db, app, probe, act, Duration::from_secs(5));
    until("the run was refused", || async {
        statuses(app, connection).await == ["refused_for_review"]
    })
    .await;
    runner.shutdown().await;
    (connection, schedule_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_run_waits_for_a_review_and_repeated_failures_show_degraded() {
    let app = TestApp::new().await;
    let probe = Arc::new(Probe::default());
    let (connection, schedule_id) = refused_once(&app, &probe).await;
    assert_eq!(
        schedule_row(&app, schedule_id).await.paused.as_deref(),
        Some("review")
    );
    let state = app
        .get(&format!("/api/v1/connections/{connection}/sync"))
        .await;
    assert_eq!(state.body["state"], "degraded");
    assert!(state.body["reason"]
        .as_str()
        .unwrap()
        .contains("waiting for a review"));

    // Reviewed; then three fatal failures in a row: degraded, with the last error.
    let reviewed = app
        .post(
            &format!("/api/v1/connections/{connection}/review"),
            serde_json::json!({"decision": "check_again"}),
        )
        .await;
    assert_eq!(reviewed.status, StatusCode::ACCEPTED, "{}", reviewed.body);
    sqlx::query("UPDATE sync_schedules SET failures = 2")
        .execute(app.pool())
        .await
        .unwrap();
    let runner = start(
        &app.db,
        &app,
        &probe,
        Act::Fail(JobError::Fatal("bad event data".into())),
        Duration::from_secs(5),
    );
    until("the run failed", || async {
        statuses(&app, connection).await.first().map(String::as_str) == Some("failed")
    })
    .await;
    runner.shutdown().await;
    let row = schedule_row(&app, schedule_id).await;
    assert_eq!(row.failures, 3);
    let wait = time(&row.next_run_at) - Utc::now();
    assert!(
        wait > chrono::Duration::seconds(1700),
        "a fatal failure waits the interval: {wait}"
    );
    let state = app
        .get(&format!("/api/v1/connections/{connection}/sync"))
        .await;
    assert_eq!(state.body["state"], "degraded", "{}", state.body);
    assert!(state.body["reason"]
        .as_str()
        .unwrap()
        .contains("bad event data"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_lost_its_lease_cannot_write_and_leaves_the_schedule_alone() {
    let app = TestApp::new().await;
    let (connection, schedule_id) =
        connect_user(&app, app.user_id, Duration::from_secs(1800)).await;
    let go = Arc::new(Notify::new());
    let probe = Arc::new(Probe::default());
    let runner = start(
        &app.db,
        &app,
        &probe,
        Act::FencedWriteAfter(Arc::clone(&go)),
        Duration::from_secs(30),
    );
    until("it runs", || async {
        probe.started.load(Ordering::SeqCst) == 1
    })
    .await;
    // Another process took the schedule (as if this one had paused past its lease).
    sqlx::query("UPDATE sync_schedules SET lease_owner = 'another-process'")
        .execute(app.pool())
        .await
        .unwrap();
    go.notify_one();
    until("the run ended", || async {
        statuses(&app, connection).await == ["interrupted"]
    })
    .await;
    runner.shutdown().await;
    assert_eq!(
        *probe.fence.lock().unwrap(),
        [Err("the lease on this schedule was lost".to_string())]
    );
    let row = schedule_row(&app, schedule_id).await;
    assert_eq!(
        row.lease_owner.as_deref(),
        Some("another-process"),
        "not released by the loser"
    );
    assert!(row.current_run_id.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_jobs_and_releases_their_leases() {
    let app = TestApp::new().await;
    let (connection, schedule_id) =
        connect_user(&app, app.user_id, Duration::from_secs(1800)).await;
    let probe = Arc::new(Probe::default());
    let released = |id| {
        let app = &app;
        async move {
            let row = schedule_row(app, id).await;
            assert_eq!((row.lease_owner, row.current_run_id), (None, None));
            assert!(time(&row.next_run_at) <= Utc::now(), "due again at once");
        }
    };
    // A job that stops when asked.
    let polite = start(
        &app.db,
        &app,
        &probe,
        Act::UntilStopping,
        Duration::from_secs(30),
    );
    until("it runs", || async {
        probe.started.load(Ordering::SeqCst) == 1
    })
    .await;
    polite.shutdown().await;
    released(schedule_id).await;
    assert_eq!(statuses(&app, connection).await, ["interrupted"]);

    // A job that does not: dropped after the grace period (2 s), its lease released too.
    let stubborn = start(&app.db, &app, &probe, Act::Hang, Duration::from_secs(30));
    until("it runs", || async {
        probe.started.load(Ordering::SeqCst) == 2
    })
    .await;
    let asked = std::time::Instant::now();
    stubborn.shutdown().await;
    assert!(asked.elapsed() < Duration::from_secs(5));
    released(schedule_id).await;
    assert_eq!(
        statuses(&app, connection).await,
        ["interrupted", "interrupted"]
    );
    let page = runs_of(&app, connection).await;
    assert!(
        page["items"][0]["error"]
            .as_str()
            .unwrap()
            .contains("shut down"),
        "{page}"
    );
}

#[tokio::test]
async fn run_history_is_newest_first_paginated_and_private() {
    let app = TestApp::new().await;
    let (connection, schedule_id) =
        connect_user(&app, app.user_id, Duration::from_secs(1800)).await;
    // Five finished runs, made as the runner makes them.
    for _ in 0..5 {
        app.db
            .write(|tx| {
                Box::pin(async move {
                    sqlx::query(
                        "UPDATE sync_schedules SET next_run_at = '2000-01-01T00:00:00.000000Z'",
                    )
                    .execute(&mut **tx)
                    .await?;
                    let claimed = schedule::claim_due(
                        tx,
                        "me",
                        &[threadline_google_calendar::NAME],
                        1,
                        Duration::from_secs(5),
                    )
                    .await?;
                    let counts = threadline_server::sync::Counts {
                        created: 1,
                        ..Default::default()
                    };
                    schedule::finish(tx, &claimed[0], "me", &schedule::Outcome::Ok, &counts)
                        .await?;
                    Ok::<_, connections::Error>(())
                })
            })
            .await
            .unwrap();
    }
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id FROM sync_runs WHERE schedule_id = $1 ORDER BY id DESC")
            .bind(schedule_id.to_string())
            .fetch_all(app.pool())
            .await
            .unwrap();
    assert_eq!(ids.len(), 5);
    let first = app
        .get(&format!("/api/v1/connections/{connection}/runs?limit=2"))
        .await;
    assert_eq!(crate::common::ids_of(&first.body["items"]), ids[..2]);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = app
        .get(&format!(
            "/api/v1/connections/{connection}/runs?limit=2&cursor={cursor}"
        ))
        .await;
    assert_eq!(crate::common::ids_of(&second.body["items"]), ids[2..4]);
    let bad = app
        .get(&format!("/api/v1/connections/{connection}/runs?limit=0"))
        .await;
    bad.assert_error(StatusCode::BAD_REQUEST, "invalid_query", Some("limit"));

    let stranger = app.user_in_new_org("eve@elsewhere.com").await;
    for path in ["runs", "sync"] {
        let answer = app
            .get_as(
                &stranger,
                &format!("/api/v1/connections/{connection}/{path}"),
            )
            .await;
        answer.assert_error(StatusCode::NOT_FOUND, "not_found", None);
    }
    let answer = app
        .send_raw(
            Method::POST,
            &format!("/api/v1/connections/{connection}/sync"),
            Some(&stranger),
            None,
            &[],
        )
        .await;
    answer.assert_error(StatusCode::NOT_FOUND, "not_found", None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_anyway_reaches_the_next_run_only() {
    let app = TestApp::new().await;
    let probe = Arc::new(Probe::default());
    let (connection, schedule_id) = refused_once(&app, &probe).await;

    let review = format!("/api/v1/connections/{connection}/review");
    let answer = app
        .post(&review, serde_json::json!({"decision": "apply_anyway"}))
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    assert_eq!(answer.body["items"][0]["status"], "queued");
    let row = schedule_row(&app, schedule_id).await;
    assert_eq!(row.paused, None);
    // A passing fault keeps the approval for the retry; the run after that spends it.
    let act = Act::Fail(JobError::retryable("Google answered 503"));
    let runner = start(&app.db, &app, &probe, act, Duration::from_secs(5));
    until("the run failed", || async {
        statuses(&app, connection).await.first().map(String::as_str) == Some("failed")
    })
    .await;
    runner.shutdown().await;
    app.post(
        &format!("/api/v1/connections/{connection}/sync"),
        Value::Null,
    )
    .await;
    let runner = start(
        &app.db,
        &app,
        &probe,
        Act::Succeed(Duration::ZERO),
        Duration::from_secs(5),
    );
    until("the retry ran", || async {
        statuses(&app, connection).await.first().map(String::as_str) == Some("ok")
    })
    .await;
    app.post(
        &format!("/api/v1/connections/{connection}/sync"),
        Value::Null,
    )
    .await;
    until("a later run ran", || async {
        statuses(&app, connection).await.len() == 4 && statuses(&app, connection).await[0] == "ok"
    })
    .await;
    runner.shutdown().await;
    assert_eq!(
        *probe.apply_anyway.lock().unwrap(),
        [false, true, true, false],
        "refused; approved, failed passingly; its retry; a later run"
    );
    let again = app
        .post(&review, serde_json::json!({"decision": "apply_anyway"}))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    let bad = app
        .post(&review, serde_json::json!({"decision": "yes"}))
        .await;
    assert!(bad.status.is_client_error(), "{}", bad.body);
}

/// A schedule turned off (an integration the user switched off) is never claimed, "sync now"
/// leaves it alone and ends its queued run, reconnecting does not turn it on; turned on, it
/// is due at once.
#[tokio::test]
async fn a_turned_off_schedule_never_runs_until_turned_on() {
    let app = TestApp::new().await;
    let (connection, schedule_id) =
        connect_user(&app, app.user_id, Duration::from_secs(1800)).await;
    let name = threadline_google_calendar::NAME;
    let queued = sync_now(&app, connection).await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.body);
    let turned = app
        .db
        .write(|tx| Box::pin(schedule::turn_off(tx, connection, name)))
        .await
        .unwrap();
    assert!(turned);
    assert_eq!(statuses(&app, connection).await, ["interrupted"]);
    let names = [name];
    let names = &names;
    let claim = || async {
        app.db
            .write(|tx| {
                Box::pin(schedule::claim_due(
                    tx,
                    "me",
                    names,
                    10,
                    Duration::from_secs(5),
                ))
            })
            .await
            .unwrap()
    };
    assert!(
        claim().await.is_empty(),
        "a turned-off schedule was claimed"
    );
    let mut conn = app.pool().acquire().await.unwrap();
    assert_eq!(schedule::next_due(&mut conn, &[name]).await.unwrap(), None);
    drop(conn);
    sync_now(&app, connection)
        .await
        .assert_error(StatusCode::CONFLICT, "conflict", None);
    let state = app
        .get(&format!("/api/v1/connections/{connection}/sync"))
        .await;
    assert_eq!(state.body["state"], "ok", "{}", state.body);
    assert_eq!(state.body["schedules"][0]["turned_off"], true);
    assert_eq!(state.body["schedules"][0]["next_run_at"], Value::Null);

    // What a new grant does resumes paused schedules, not turned-off ones.
    app.db
        .write(|tx| Box::pin(schedule::resume_connection(tx, connection)))
        .await
        .unwrap();
    assert!(claim().await.is_empty(), "reconnecting turned it on");

    let id = app
        .db
        .write(|tx| {
            Box::pin(schedule::turn_on(
                tx,
                connection,
                name,
                Duration::from_secs(1800),
                Duration::ZERO,
            ))
        })
        .await
        .unwrap();
    assert_eq!(id, schedule_id);
    let claimed = claim().await;
    assert_eq!(claimed.len(), 1, "due at once when turned on");
    assert_eq!(claimed[0].schedule_id, schedule_id);
}
