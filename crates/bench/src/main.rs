//! `threadline-bench`: the server benchmarks. `threadline-bench run --help` lists every knob;
//! `crates/bench/run.sh` runs both engines.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use threadline_bench::dataset::Dataset;
use threadline_bench::files::FilePlan;
use threadline_bench::lookup::Load;
use threadline_bench::pages::{self, PageLoad, TimelinePlan};
use threadline_bench::suite::{self, SuiteConfig};
use threadline_server::db::{Db, Location};

const MIB: usize = 1024 * 1024;

#[derive(Parser)]
#[command(name = "threadline-bench", about = "Threadline server benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Seed a database, start the release server on it, run the lookup and file benchmarks,
    /// print the figures (Markdown) and write them as JSON.
    Run(RunArgs),
    /// Only the web app's pages, on a database seeded before (seeded first when empty), so
    /// that the 1M data set is seeded once: prepare it, start the release server, measure.
    Pages(PagesArgs),
    /// Only fill an empty database with the dataset (prints the owner's token).
    Seed {
        #[command(flatten)]
        data: DataArgs,
        /// Data directory: the SQLite database goes there (unless --database-url).
        #[arg(long)]
        data_dir: PathBuf,
        /// An empty PostgreSQL database (UTF8, LOCALE 'C') instead of SQLite.
        #[arg(long, env = "THREADLINE_BENCH_DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
    },
}

#[derive(Args, Clone)]
struct DataArgs {
    /// Contacts to generate [default: 1000000, --quick: 20000].
    #[arg(long)]
    contacts: Option<u64>,
    /// Companies to generate [default: 200000, --quick: 4000].
    #[arg(long)]
    companies: Option<u64>,
    /// The dataset's seed (the same seed, the same data).
    #[arg(long, default_value_t = 20_261_121)]
    seed: u64,
    /// Smaller data and shorter runs: a smoke run whose figures are not for reporting.
    #[arg(long)]
    quick: bool,
}

impl DataArgs {
    fn dataset(&self) -> Dataset {
        Dataset {
            seed: self.seed,
            contacts: self
                .contacts
                .unwrap_or(if self.quick { 20_000 } else { 1_000_000 }),
            companies: self
                .companies
                .unwrap_or(if self.quick { 4_000 } else { 200_000 }),
        }
    }
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The server binary [default: threadline-server next to this binary].
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// An empty PostgreSQL database (UTF8, LOCALE 'C'); unset: SQLite in the work directory.
    #[arg(long, env = "THREADLINE_BENCH_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Where the data directory and the server logs go [default: a temporary directory,
    /// removed afterwards].
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Concurrent clients (each its own connection, or its own pool task on the raw side).
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Addresses per lookup.
    #[arg(long, default_value_t = 20)]
    batch_size: usize,
    /// Warm-up before each measured window [default: 5, --quick: 1].
    #[arg(long)]
    warmup_secs: Option<f64>,
    /// Measured window of each side in each round [default: 20, --quick: 3].
    #[arg(long)]
    secs: Option<f64>,
    /// Rounds of raw-then-HTTP [default: 2, --quick: 1].
    #[arg(long)]
    rounds: Option<usize>,
    /// The large file, in MiB (the server's limit is 50).
    #[arg(long, default_value_t = 50)]
    file_mib: usize,
    /// The small file, in MiB (the memory baseline).
    #[arg(long, default_value_t = 5)]
    small_file_mib: usize,
    #[command(flatten)]
    pages: PageArgs,
    /// Transfers of each file size each way [default: 3, --quick: 1].
    #[arg(long)]
    file_reps: Option<usize>,
    /// Also write the report as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Args, Clone)]
struct PageArgs {
    /// Measured pairs (raw, then HTTP) of each page, at most [default: 200, --quick: 20].
    #[arg(long)]
    page_requests: Option<usize>,
    /// … and at most this many seconds of each page [default: 30, --quick: 3].
    #[arg(long)]
    page_secs: Option<f64>,
    /// Unmeasured pairs of each page first [default: 10, --quick: 2].
    #[arg(long)]
    page_warmup: Option<usize>,
    /// Emails tracked onto the timeline company.
    #[arg(long, default_value_t = 1000)]
    timeline_entries: usize,
}

impl PageArgs {
    fn load(&self, quick: bool) -> PageLoad {
        PageLoad {
            warmup: self.page_warmup.unwrap_or(if quick { 2 } else { 10 }),
            requests: self.page_requests.unwrap_or(if quick { 20 } else { 200 }),
            budget: Duration::from_secs_f64(self.page_secs.unwrap_or(if quick {
                3.0
            } else {
                30.0
            })),
        }
    }

    fn timeline(&self) -> TimelinePlan {
        TimelinePlan {
            entries: self.timeline_entries,
        }
    }
}

#[derive(Args)]
struct PagesArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    pages: PageArgs,
    /// Data directory: the SQLite database (unless --database-url) and the server's blobs.
    /// Kept: a second run measures the same data without seeding it again.
    #[arg(long)]
    data_dir: PathBuf,
    /// A PostgreSQL database (seeded before, or empty) instead of SQLite.
    #[arg(long, env = "THREADLINE_BENCH_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// The server binary [default: threadline-server next to this binary].
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Also measure without this index (dropped, measured, made again from its own
    /// definition, measured): before and after on the same data. Repeatable.
    #[arg(long)]
    without_index: Vec<String>,
    /// Also write the report as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn progress(message: &str) {
    eprintln!("[threadline-bench] {message}");
}

#[tokio::main]
async fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run(args) => run(args).await,
        Command::Pages(args) => pages_only(args).await,
        Command::Seed {
            data,
            data_dir,
            database_url,
        } => seed(data, data_dir, database_url).await,
    }
    .unwrap_or_else(|e| {
        eprintln!("threadline-bench: {e}");
        ExitCode::FAILURE
    })
}

async fn seed(data: DataArgs, data_dir: PathBuf, url: Option<String>) -> Result<ExitCode, String> {
    let location = Location::choose(&data_dir, url.as_deref()).map_err(|e| e.to_string())?;
    let db = Db::open(&location).await.map_err(|e| e.to_string())?;
    let seeded = threadline_bench::seed::seed(&db, &data.dataset(), &progress)
        .await
        .map_err(|e| e.to_string())?;
    println!("THREADLINE_TOKEN={}", seeded.token);
    Ok(ExitCode::SUCCESS)
}

async fn run(args: RunArgs) -> Result<ExitCode, String> {
    let quick = args.data.quick;
    let pick = |given: Option<f64>, full: f64, smoke: f64| {
        given.unwrap_or(if quick { smoke } else { full })
    };
    let server_bin = server_bin(args.server_bin.clone())?;
    let temp = match &args.work_dir {
        Some(_) => None,
        None => Some(tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?),
    };
    let work_dir = args
        .work_dir
        .clone()
        .unwrap_or_else(|| temp.as_ref().expect("made above").path().to_path_buf());
    std::fs::create_dir_all(&work_dir).map_err(|e| format!("{}: {e}", work_dir.display()))?;
    let cfg = SuiteConfig {
        data: args.data.dataset(),
        load: Load {
            clients: args.clients,
            warmup: Duration::from_secs_f64(pick(args.warmup_secs, 5.0, 1.0)),
            measure: Duration::from_secs_f64(pick(args.secs, 20.0, 3.0)),
        },
        batch_size: args.batch_size,
        batches: 4096,
        rounds: args.rounds.unwrap_or(if quick { 1 } else { 2 }),
        pages: args.pages.load(quick),
        timeline: args.pages.timeline(),
        files: FilePlan {
            sizes: [args.small_file_mib * MIB, args.file_mib * MIB],
            reps: args.file_reps.unwrap_or(if quick { 1 } else { 3 }),
        },
        server_bin,
        work_dir,
        database_url: args.database_url.clone(),
    };
    let report = suite::run(&cfg, &progress).await?;
    println!("{}", suite::markdown(std::slice::from_ref(&report)));
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report).expect("the report serialises");
        std::fs::write(path, json).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn server_bin(given: Option<PathBuf>) -> Result<PathBuf, String> {
    given
        .or_else(threadline_bench::server::sibling_server_bin)
        .ok_or_else(|| "no --server-bin, and no threadline-server next to this binary: cargo build --release -p threadline-server".into())
}

/// What `threadline-bench pages` reports.
#[derive(serde::Serialize)]
struct PagesReport {
    engine: String,
    contacts: u64,
    companies: u64,
    load: PageLoad,
    /// `/proc/loadavg`'s 1-minute figure at the start and at the end.
    load_average: [f64; 2],
    without_indexes: Vec<String>,
    /// Measured without those indexes (when any were named).
    before: Vec<pages::PageReport>,
    pages: Vec<pages::PageReport>,
}

async fn pages_only(args: PagesArgs) -> Result<ExitCode, String> {
    let load_before = suite::load_average();
    let quick = args.data.quick;
    let data = args.data.dataset();
    let server_bin = server_bin(args.server_bin.clone())?;
    std::fs::create_dir_all(&args.data_dir)
        .map_err(|e| format!("{}: {e}", args.data_dir.display()))?;
    let location = Location::choose(&args.data_dir, args.database_url.as_deref())
        .map_err(|e| e.to_string())?;
    let db = Db::open(&location).await.map_err(|e| e.to_string())?;
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(db.pool())
        .await
        .map_err(|e| e.to_string())?;
    if users == 0 {
        progress(&format!("seeding {data:?} into {location}"));
        threadline_bench::seed::seed(&db, &data, &progress)
            .await
            .map_err(|e| e.to_string())?;
    } else {
        progress(&format!(
            "reusing the seeded database {location} (seeded as {data:?})"
        ));
    }
    let prepared = pages::prepare(&db, &data, args.pages.timeline(), &progress).await?;
    let log = args.data_dir.join("server-pages.log");
    let server = threadline_bench::server::ServerProcess::start(
        &server_bin,
        &args.data_dir,
        args.database_url.as_deref(),
        &log,
    )?;
    let load = args.pages.load(quick);
    let (before, after) = if args.without_index.is_empty() {
        let after = pages::measure(&db, &server.base_url, &prepared, load, &progress).await?;
        (Vec::new(), after)
    } else {
        pages::measure_without_and_with(
            &db,
            &server.base_url,
            &prepared,
            load,
            &args.without_index,
            &progress,
        )
        .await?
    };
    drop(server);
    let report = PagesReport {
        engine: format!("{:?}", location.engine()),
        contacts: data.contacts,
        companies: data.companies,
        load,
        load_average: [load_before, suite::load_average()],
        without_indexes: args.without_index.clone(),
        before,
        pages: after,
    };
    println!("{}", pages::MARKDOWN_HEADER.trim_end());
    if !report.before.is_empty() {
        let engine = format!(
            "{} without {}",
            report.engine,
            args.without_index.join(", ")
        );
        print!("{}", pages::markdown(&engine, &report.before));
    }
    print!("{}", pages::markdown(&report.engine, &report.pages));
    println!(
        "\nload average (1 min) {:.2} at the start, {:.2} at the end",
        report.load_average[0], report.load_average[1]
    );
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report).expect("the report serialises");
        std::fs::write(path, json).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    db.close().await;
    Ok(ExitCode::SUCCESS)
}
