//! `threadline-bench`: the server benchmarks. `threadline-bench run --help` lists every knob;
//! `crates/bench/run.sh` runs both engines.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use threadline_bench::dataset::Dataset;
use threadline_bench::files::FilePlan;
use threadline_bench::lookup::Load;
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
    /// Transfers of each file size each way [default: 3, --quick: 1].
    #[arg(long)]
    file_reps: Option<usize>,
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
    let server_bin = args
        .server_bin
        .clone()
        .or_else(threadline_bench::server::sibling_server_bin)
        .ok_or("no --server-bin, and no threadline-server next to this binary: cargo build --release -p threadline-server")?;
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
