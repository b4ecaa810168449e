//! Benchmark of the sync scheduler (`threadline_server::sync`): 10,000 connections with a
//! schedule each, a runner with a no-op job.
//!
//! 1. **Idle cost**: nothing due for the whole window; the process's CPU time (user + system,
//!    `/proc/self/stat`) over `--idle-seconds` (default 60).
//! 2. **Delay** between a schedule's due time and its run's start: `--due` schedules (default
//!    2,000) made due at random times spread over `--spread-seconds` (default 60); the delay
//!    of each run is `started_at − due_at` as stored in `sync_runs`.
//! 3. **Burst**: `--burst` schedules (default 1,000) due at the same moment: how long until
//!    every one has started, and the delays.
//!
//! ```sh
//! cargo run -p threadline-server --example sync_scheduler_bench            # SQLite, temp dir
//! DATABASE_URL=postgres://… cargo run -p threadline-server --example sync_scheduler_bench
//! ```
//! On PostgreSQL, give an empty database (the tables are created and filled).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use threadline_server::db::{self, BoxFuture, Db, Location, Sql};
use threadline_server::sync::{JobContext, JobError, Runner, RunnerConfig, SyncJob};
use tokio::sync::Notify;

struct NoOp;

impl SyncJob for NoOp {
    fn integration(&self) -> &'static str {
        threadline_google_calendar::NAME
    }

    fn run<'a>(&'a self, _ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async { Ok(()) })
    }
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number"))
        })
        .unwrap_or(default)
}

/// CPU time of this process so far (user + system), from `/proc/self/stat`.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')').expect("a command name") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY-free: the clock tick is 100 Hz on Linux (USER_HZ), fixed by its ABI.
    Duration::from_millis(ticks * 10)
}

async fn seed(db: &Db, n: u64) {
    let org = db::id_text(db::new_id());
    let now = db::now();
    let far = "2999-01-01T00:00:00.000000Z";
    db.write(|tx| {
        let (org, now) = (&org, &now);
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO organisations (id, name, created_at) VALUES ($1, 'Bench', $2)",
            )
            .bind(org)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
                let mut users =
                    Sql::new("INSERT INTO users (id, org_id, name, email, created_at) VALUES ");
                let mut conns = Sql::new(
                    "INSERT INTO connections (id, org_id, user_id, provider, account_id, scopes, \
                     status, version, created_at, updated_at, connected_at) VALUES ",
                );
                let mut schedules = Sql::new(
                    "INSERT INTO sync_schedules (id, connection_id, integration, interval_seconds, \
                     jitter_seconds, next_run_at, failures, created_at, updated_at) VALUES ",
                );
                for (k, i) in chunk.iter().enumerate() {
                    let sep = if k == 0 { "(" } else { ", (" };
                    let user = db::id_text(db::new_id());
                    let conn = db::id_text(db::new_id());
                    users
                        .push(sep)
                        .push_bind(user.clone())
                        .push(", ")
                        .push_bind(org.clone())
                        .push(", 'U', ")
                        .push_bind(format!("u{i}@bench.example"))
                        .push(", ")
                        .push_bind(now.clone())
                        .push(")");
                    conns
                        .push(sep)
                        .push_bind(conn.clone())
                        .push(", ")
                        .push_bind(org.clone())
                        .push(", ")
                        .push_bind(user)
                        .push(", 'google', ")
                        .push_bind(format!("g{i}"))
                        .push(", 'openid', 'ok', 1, ")
                        .push_bind(now.clone())
                        .push(", ")
                        .push_bind(now.clone())
                        .push(", ")
                        .push_bind(now.clone())
                        .push(")");
                    schedules
                        .push(sep)
                        .push_bind(db::id_text(db::new_id()))
                        .push(", ")
                        .push_bind(conn)
                        .push(", 'google_calendar', 1800, 180, ")
                        .push_bind(far.to_string())
                        .push(", 0, ")
                        .push_bind(now.clone())
                        .push(", ")
                        .push_bind(now.clone())
                        .push(")");
                }
                users.build().execute(&mut **tx).await?;
                conns.build().execute(&mut **tx).await?;
                schedules.build().execute(&mut **tx).await?;
            }
            Ok::<_, sqlx::Error>(())
        })
    })
    .await
    .expect("seed");
}

/// Makes `n` schedules due at `start` + a random part of `spread`; returns the latest due time.
async fn make_due(db: &Db, n: u64, start: DateTime<Utc>, spread: Duration) -> DateTime<Utc> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM sync_schedules WHERE next_run_at > $1 ORDER BY id LIMIT $2",
    )
    .bind(db::format_time(Utc::now() + chrono::Duration::days(365)))
    .bind(n as i64)
    .fetch_all(db.pool())
    .await
    .expect("ids");
    let mut latest = start;
    let mut tx = db.pool().begin().await.expect("tx");
    for id in ids {
        let fraction = f64::from(getrandom::u32().unwrap()) / f64::from(u32::MAX);
        let due = start + chrono::Duration::from_std(spread.mul_f64(fraction)).unwrap();
        latest = latest.max(due);
        sqlx::query("UPDATE sync_schedules SET next_run_at = $1 WHERE id = $2")
            .bind(db::format_time(due))
            .bind(id)
            .execute(&mut *tx)
            .await
            .expect("due");
    }
    tx.commit().await.expect("commit");
    latest
}

/// Delays (ms) of the runs started since `since`, sorted.
async fn delays(db: &Db, since: &str) -> Vec<f64> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT due_at, started_at FROM sync_runs WHERE started_at >= $1")
            .bind(since)
            .fetch_all(db.pool())
            .await
            .expect("runs");
    let mut ms: Vec<f64> = rows
        .iter()
        .map(|(due, started)| {
            let due = db::parse_time(due).unwrap();
            let started = db::parse_time(started).unwrap();
            (started - due).num_microseconds().unwrap() as f64 / 1000.0
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    ms
}

fn report(what: &str, ms: &[f64]) {
    let pick = |p: f64| ms[((ms.len() as f64 * p) as usize).min(ms.len() - 1)];
    println!(
        "{what}: n = {}, delay ms: min {:.1}, p50 {:.1}, p90 {:.1}, p99 {:.1}, max {:.1}",
        ms.len(),
        ms[0],
        pick(0.5),
        pick(0.9),
        pick(0.99),
        ms[ms.len() - 1]
    );
}

#[tokio::main]
async fn main() {
    let schedules = arg("--schedules", 10_000);
    let idle_seconds = arg("--idle-seconds", 60);
    let due = arg("--due", 2_000);
    let spread = Duration::from_secs(arg("--spread-seconds", 60));
    let burst = arg("--burst", 1_000);

    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty());
    let location = Location::choose(dir.path(), url.as_deref()).expect("a location");
    let db = Db::open(&location).await.expect("the database");
    println!("database: {:?}", location.engine());
    let started = Instant::now();
    seed(&db, schedules).await;
    println!(
        "seeded {schedules} connections with a schedule each in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let config = RunnerConfig::default();
    println!(
        "runner: concurrency {}, poll interval {:?}, lease {:?}",
        config.concurrency, config.poll_interval, config.lease
    );
    let wake = Arc::new(Notify::new());
    let runner = Runner::new(db.clone(), config, Arc::clone(&wake))
        .with_job(Arc::new(NoOp))
        .spawn();

    // 1. Idle.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (cpu0, wall0) = (cpu_time(), Instant::now());
    tokio::time::sleep(Duration::from_secs(idle_seconds)).await;
    let (cpu, wall) = (cpu_time() - cpu0, wall0.elapsed());
    println!(
        "idle: {:.3} s CPU over {:.1} s = {:.3} % of one core",
        cpu.as_secs_f64(),
        wall.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64()
    );

    // 2. Due times spread out.
    let since = db::now();
    let start = Utc::now() + chrono::Duration::seconds(2);
    let latest = make_due(&db, due, start, spread).await;
    // The runner sleeps up to its poll interval before it sees rows changed behind its back
    // (as by another process): wake it, as a change made in its own process does.
    wake.notify_one();
    let wait = (latest - Utc::now()).to_std().unwrap_or_default() + Duration::from_secs(3);
    tokio::time::sleep(wait).await;
    report(
        &format!("{due} due over {} s", spread.as_secs()),
        &delays(&db, &since).await,
    );

    // 3. A burst.
    let since = db::now();
    let start = Utc::now() + chrono::Duration::seconds(2);
    make_due(&db, burst, start, Duration::ZERO).await;
    wake.notify_one();
    let began = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sync_runs WHERE started_at >= $1")
            .bind(&since)
            .fetch_one(db.pool())
            .await
            .expect("count");
        if n as u64 >= burst || began.elapsed() > Duration::from_secs(600) {
            break;
        }
    }
    let ms = delays(&db, &since).await;
    report(&format!("{burst} due at once"), &ms);
    println!(
        "burst: all started {:.1} s after the due time ({:.0} runs/s)",
        ms[ms.len() - 1] / 1000.0,
        ms.len() as f64 / (ms[ms.len() - 1] / 1000.0)
    );
    runner.shutdown().await;
    db.close().await;
}
