//! One engine's whole run: seed, start the release server, check the data through the API,
//! the lookup benchmark (raw SQL and HTTP side by side, in alternating rounds), the pages
//! (the model's calls and HTTP side by side, request by request), then the file benchmark on a freshly started server (so its memory figures are its own).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use threadline_server::db::{Db, Engine, Location};

use crate::api::Api;
use crate::cpu::{CpuPerLookup, Snapshot};
use crate::dataset::Dataset;
use crate::files::{FilePlan, FileReport};
use crate::lookup::{self, HttpLookup, Load, Lookup, RawLookup, Verdicts};
use crate::pages::{self, PageLoad, PageReport, TimelinePlan};
use crate::seed;
use crate::server::ServerProcess;
use crate::stats::{median, Summary};
use crate::workload;

#[derive(Debug, Clone)]
pub struct SuiteConfig {
    pub data: Dataset,
    pub load: Load,
    /// Addresses per lookup.
    pub batch_size: usize,
    /// Distinct batches the clients cycle through.
    pub batches: usize,
    /// Raw, then HTTP, this many times.
    pub rounds: usize,
    pub pages: PageLoad,
    pub timeline: TimelinePlan,
    pub files: FilePlan,
    pub server_bin: PathBuf,
    /// Holds the data directory (the SQLite file, the blobs) and the server logs.
    pub work_dir: PathBuf,
    /// An empty PostgreSQL database; `None`: SQLite in the work directory.
    pub database_url: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Round {
    pub raw: Summary,
    pub http: Summary,
    pub raw_cpu: CpuPerLookup,
    pub http_cpu: CpuPerLookup,
}

#[derive(Debug, Clone, Serialize)]
pub struct EngineReport {
    pub engine: String,
    pub contacts: u64,
    pub companies: u64,
    pub seed: u64,
    pub seed_seconds: f64,
    pub database_mib: Option<f64>,
    pub records_checked_through_api: usize,
    /// The API's verdicts over the checked batches.
    pub verdicts: Verdicts,
    pub load: Load,
    pub batch_size: usize,
    pub rounds: Vec<Round>,
    /// Medians over the rounds.
    pub raw_per_second: f64,
    pub http_per_second: f64,
    pub raw_p50_ms: f64,
    pub http_p50_ms: f64,
    pub raw_p99_ms: f64,
    pub http_p99_ms: f64,
    /// Raw lookups per second ÷ HTTP lookups per second: what one lookup costs through the
    /// API, in raw lookups (target ≤ 2).
    pub cost_ratio: f64,
    pub pages: Vec<PageReport>,
    pub files: FileReport,
    /// `/proc/loadavg`'s 1-minute figure at the start and at the end.
    pub load_average: [f64; 2],
}

pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

pub async fn run(cfg: &SuiteConfig, progress: &dyn Fn(&str)) -> Result<EngineReport, String> {
    let load_before = load_average();
    let data_dir = cfg.work_dir.join("data");
    let location =
        Location::choose(&data_dir, cfg.database_url.as_deref()).map_err(|e| e.to_string())?;
    let engine = location.engine();
    progress(&format!(
        "{engine:?}: seeding {:?} into {location}",
        cfg.data
    ));
    let db = Db::open(&location).await.map_err(|e| e.to_string())?;
    let started = Instant::now();
    let seeded = seed::seed(&db, &cfg.data, progress)
        .await
        .map_err(|e| e.to_string())?;
    let seed_seconds = started.elapsed().as_secs_f64();
    let database_mib = database_mib(&db, &location).await;
    progress(&format!(
        "seeded in {seed_seconds:.1} s ({database_mib:?} MiB)"
    ));

    let server = start_server(cfg, "server-lookup.log")?;
    let api = Api::new(&server.base_url, &seeded.token);
    let records_checked_through_api = crate::verify::dataset_through_api(&api, &cfg.data).await?;
    progress(&format!(
        "{records_checked_through_api} records read back through the API as generated"
    ));

    let batches = Arc::new(workload::batches(
        &cfg.data,
        cfg.data.seed ^ 0x6c6f_6f6b,
        cfg.batches,
        cfg.batch_size,
    ));
    let http = Arc::new(HttpLookup::new(
        &server.base_url,
        &seeded.token,
        cfg.load.clients,
    ));
    let raw = Arc::new(RawLookup::new(db.clone(), seeded.org_id, seeded.user_id));
    let checked = &batches[..batches.len().min(50)];
    let verdicts = lookup::check_same_answers(&http, &raw, checked).await?;
    progress(&format!(
        "raw queries and API agree on {} batches: {verdicts:?}",
        checked.len()
    ));
    if let Location::Sqlite(file) = &location {
        // Into the page cache, as on a server that has been running: the first round
        // should not measure the disk.
        read_through(file)?;
    }

    let mut rounds = Vec::new();
    for round in 1..=cfg.rounds {
        let measure = |side: Arc<dyn Lookup>| {
            let (batches, db, server_pid) = (batches.clone(), db.clone(), server.pid());
            async move {
                let backends = database_backends(&db).await;
                let before = [
                    Snapshot::of([std::process::id()]),
                    Snapshot::of([server_pid]),
                    Snapshot::of(backends),
                ];
                let (summary, all) = lookup::run(side, batches, cfg.load).await;
                let backends = database_backends(&db).await;
                let after = [
                    Snapshot::of([std::process::id()]),
                    Snapshot::of([server_pid]),
                    Snapshot::of(backends),
                ];
                let per_lookup = |i: usize| after[i].since(&before[i]) * 1e6 / all.max(1) as f64;
                let cpu = CpuPerLookup {
                    bench_us: per_lookup(0),
                    server_us: per_lookup(1),
                    database_us: per_lookup(2).max(0.0),
                };
                (summary, cpu)
            }
        };
        let (raw_summary, raw_cpu) = measure(raw.clone()).await;
        progress(&format!(
            "round {round} raw:  {}; {}",
            line(&raw_summary),
            cpu_line(&raw_cpu)
        ));
        let (http_summary, http_cpu) = measure(http.clone()).await;
        progress(&format!(
            "round {round} HTTP: {}; {}",
            line(&http_summary),
            cpu_line(&http_cpu)
        ));
        for (side, s) in [("raw", &raw_summary), ("HTTP", &http_summary)] {
            if s.errors > 0 || s.requests == 0 {
                return Err(format!(
                    "{side} lookups: {} ok, {} failed, e.g. {:?}",
                    s.requests, s.errors, s.sample_errors
                ));
            }
        }
        rounds.push(Round {
            raw: raw_summary,
            http: http_summary,
            raw_cpu,
            http_cpu,
        });
    }
    let prepared = pages::prepare(&db, &cfg.data, cfg.timeline, progress).await?;
    let pages = pages::measure(&db, &server.base_url, &prepared, cfg.pages, progress).await?;
    drop(server);
    db.close().await;

    // A fresh server: its peak memory is the file transfers', not the lookups'.
    let server = start_server(cfg, "server-files.log")?;
    let files = crate::files::run(
        &server.base_url,
        &seeded.token,
        Some(server.pid()),
        cfg.files,
    )
    .await?;
    drop(server);

    let med = |f: &dyn Fn(&Round) -> f64| median(&rounds.iter().map(f).collect::<Vec<_>>());
    let raw_per_second = med(&|r| r.raw.per_second);
    let http_per_second = med(&|r| r.http.per_second);
    Ok(EngineReport {
        engine: format!("{engine:?}"),
        contacts: cfg.data.contacts,
        companies: cfg.data.companies,
        seed: cfg.data.seed,
        seed_seconds,
        database_mib,
        records_checked_through_api,
        verdicts,
        load: cfg.load,
        batch_size: cfg.batch_size,
        raw_p50_ms: med(&|r| r.raw.p50_ms),
        http_p50_ms: med(&|r| r.http.p50_ms),
        raw_p99_ms: med(&|r| r.raw.p99_ms),
        http_p99_ms: med(&|r| r.http.p99_ms),
        cost_ratio: raw_per_second / http_per_second,
        raw_per_second,
        http_per_second,
        rounds,
        pages,
        files,
        load_average: [load_before, load_average()],
    })
}

/// The release server on the suite's database, its log in `log` in the work directory.
pub fn start_server(cfg: &SuiteConfig, log: &str) -> Result<ServerProcess, String> {
    ServerProcess::start(
        &cfg.server_bin,
        &cfg.work_dir.join("data"),
        cfg.database_url.as_deref(),
        &cfg.work_dir.join(log),
    )
}

/// The PostgreSQL backends serving this database now (the server's and ours); none on
/// SQLite, whose engine runs inside the process that queries it.
async fn database_backends(db: &Db) -> Vec<u32> {
    if db.engine() != Engine::Postgres {
        return Vec::new();
    }
    sqlx::query_scalar::<_, i64>(
        "SELECT CAST(pid AS BIGINT) FROM pg_stat_activity WHERE datname = current_database()",
    )
    .fetch_all(db.pool())
    .await
    .unwrap_or_default()
    .into_iter()
    .map(|pid| pid as u32)
    .collect()
}

fn cpu_line(c: &CpuPerLookup) -> String {
    format!(
        "CPU per lookup: bench {:.0} µs, server {:.0} µs, PostgreSQL {:.0} µs",
        c.bench_us, c.server_us, c.database_us
    )
}

fn line(s: &Summary) -> String {
    format!(
        "{:.0}/s, p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms ({} requests, {} errors)",
        s.per_second, s.p50_ms, s.p99_ms, s.max_ms, s.requests, s.errors
    )
}

/// Reads a file through once (into the OS page cache).
fn read_through(file: &Path) -> Result<(), String> {
    let mut f = std::fs::File::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
    std::io::copy(&mut f, &mut std::io::sink()).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(())
}

async fn database_mib(db: &Db, location: &Location) -> Option<f64> {
    let bytes = match (db.engine(), location) {
        (Engine::Sqlite, Location::Sqlite(file)) => std::fs::metadata(file).ok()?.len() as i64,
        _ => sqlx::query_scalar::<_, i64>(
            "SELECT CAST(pg_database_size(current_database()) AS BIGINT)",
        )
        .fetch_one(db.pool())
        .await
        .ok()?,
    };
    Some(bytes as f64 / 1024.0 / 1024.0)
}

/// The report as Markdown tables, for BENCHMARKS.md.
pub fn markdown(reports: &[EngineReport]) -> String {
    let mut out = String::new();
    out.push_str(
        "| engine | contacts / companies | seed | DB size | raw lookups/s | HTTP lookups/s | cost ratio (raw/s ÷ HTTP/s) | raw p50 / p99 | HTTP p50 / p99 |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in reports {
        out.push_str(&format!(
            "| {} | {} / {} | {:.0} s | {} | {:.0} | {:.0} | **{:.2}×** | {:.2} / {:.2} ms | {:.2} / {:.2} ms |\n",
            r.engine,
            r.contacts,
            r.companies,
            r.seed_seconds,
            r.database_mib.map_or("?".into(), |m| format!("{m:.0} MiB")),
            r.raw_per_second,
            r.http_per_second,
            r.cost_ratio,
            r.raw_p50_ms,
            r.raw_p99_ms,
            r.http_p50_ms,
            r.http_p99_ms,
        ));
    }
    out.push_str(
        "\n| engine | side | CPU µs per lookup: threadline-bench | threadline-server | PostgreSQL backends | total |\n\
         |---|---|---:|---:|---:|---:|\n",
    );
    for r in reports {
        for (side, cpu) in [
            ("raw", &r.rounds.last().map(|x| x.raw_cpu.clone())),
            ("HTTP", &r.rounds.last().map(|x| x.http_cpu.clone())),
        ] {
            if let Some(c) = cpu {
                out.push_str(&format!(
                    "| {} | {side} | {:.0} | {:.0} | {:.0} | {:.0} |\n",
                    r.engine,
                    c.bench_us,
                    c.server_us,
                    c.database_us,
                    c.bench_us + c.server_us + c.database_us
                ));
            }
        }
    }
    out.push('\n');
    out.push_str(pages::MARKDOWN_HEADER);
    for r in reports {
        out.push_str(&pages::markdown(&r.engine, &r.pages));
    }
    out.push_str(
        "\n| engine | file | upload | download | raw loopback copy | server RSS idle → peak (upload / download) | VmHWM |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    let mib = |v: Option<f64>| v.map_or("?".into(), |m| format!("{m:.1}"));
    for r in reports {
        for s in &r.files.sizes {
            out.push_str(&format!(
                "| {} | {:.0} MiB | {:.0} MiB/s | {:.0} MiB/s | {:.0} MiB/s | {} → {} / {} MiB | {} MiB |\n",
                r.engine,
                s.bytes as f64 / 1024.0 / 1024.0,
                s.upload_mib_s,
                s.download_mib_s,
                s.raw_copy_mib_s,
                mib(r.files.idle_rss_mib),
                mib(s.peak_rss_upload_mib),
                mib(s.peak_rss_download_mib),
                mib(r.files.hwm_mib),
            ));
        }
    }
    out
}
