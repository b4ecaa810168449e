//! `threadline-server`: see `threadline-server --help`.

use std::process::ExitCode;

use clap::Parser;
use threadline_server::cli::{init_tracing, run, Cli};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    run(cli).await
}
