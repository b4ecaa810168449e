//! `threadline-server`: see `threadline-server --help`.

use std::process::ExitCode;

use clap::Parser;
use threadline_server::cli::{init_tracing, run, Cli};

#[tokio::main]
async fn main() -> ExitCode {
    // Everything this process creates is its user's alone (the database, its WAL and
    // shared-memory files, documents, temporary uploads, keys, reports): the code sets 0600
    // and 0700 where it creates them itself, and this covers what others create for it
    // (SQLite). Before anything is created; umask is process-wide and cannot fail.
    #[cfg(unix)]
    // SAFETY: umask(2) only sets the process's file mode mask and returns the old one.
    unsafe {
        libc::umask(0o077);
    }
    let cli = Cli::parse();
    init_tracing();
    run(cli).await
}
