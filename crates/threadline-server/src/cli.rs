//! The `threadline-server` command line.
//!
//! What scripts read is printed on stdout only; logs go to stderr. Tokens are printed on
//! stdout when they are created and never logged.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use uuid::Uuid;

use crate::admin::{self, Bootstrap, NewUser, OrgChoice};
use crate::config::{self, FileConfig};
use crate::db::{Db, Engine, Location};
use crate::error::ServerError;
use crate::idempotency;
use crate::state::AppState;

/// What `--help` adds after the options.
const CONFIG_HELP: &str = "\
Every option can also be set by the environment variable shown with it, or by the key of \
the same name (with `_`: data_dir, database_url, listen, owner_email) in a TOML file given \
with --config / THREADLINE_CONFIG (see threadline.example.toml). Precedence: flag, then \
environment, then file, then default. A key the file should not have is an error.";

/// The Threadline server: the JSON API behind Threadline's Gmail tracking bar.
#[derive(Debug, Parser)]
#[command(
    name = "threadline-server",
    version,
    about,
    long_about = None,
    after_help = CONFIG_HELP
)]
pub struct Cli {
    /// A TOML configuration file: keys `data_dir`, `database_url`, `listen`, `owner_email`
    /// (flags and environment variables override it).
    #[arg(long, global = true, env = "THREADLINE_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Directory of the server's data (the SQLite database `threadline.db`); created if missing.
    /// File key `data_dir`. [default: ./.data]
    #[arg(long, global = true, env = "THREADLINE_DATA_DIR", value_name = "PATH")]
    pub data_dir: Option<PathBuf>,

    /// Use this PostgreSQL database instead of SQLite (`postgres://user:password@host/db`;
    /// UTF8, LOCALE 'C'). Unset: the SQLite file in the data directory. File key
    /// `database_url`.
    #[arg(
        long,
        global = true,
        env = "DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (until Ctrl-C or SIGTERM).
    ///
    /// On first start with an empty database, creates an organisation, its owner and a
    /// personal API token, printed once on stdout (and as a line `THREADLINE_TOKEN=<token>`);
    /// then prints `listening on http://ADDR`. Logs go to stderr (filter with RUST_LOG).
    #[command(after_help = CONFIG_HELP)]
    Serve(ServeArgs),
    /// Create or update the database schema, then exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage personal API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Import records from files (`import contacts --csv FILE`).
    #[command(subcommand)]
    Import(crate::import::ImportCommand),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the real one is printed). `/metrics`
    /// and the probes need no token: keep it on 127.0.0.1 unless a proxy guards `/metrics`.
    /// File key `listen`. [default: 127.0.0.1:8787]
    #[arg(long, env = "THREADLINE_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Login address of the first user, created on first start with an empty database.
    /// File key `owner_email`. [default: owner@example.com]
    #[arg(long, env = "THREADLINE_OWNER_EMAIL", value_name = "EMAIL")]
    pub owner_email: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user and print their first API token.
    Create {
        /// The user's login address (one of their own addresses).
        #[arg(long, value_name = "EMAIL")]
        email: String,
        /// The user's name.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// Another address of the user's own (repeatable): never offered as "add contact".
        #[arg(long = "alias", value_name = "EMAIL")]
        aliases: Vec<String>,
        /// Put the user in a new organisation of this name.
        #[arg(long, value_name = "NAME", conflicts_with = "org_id")]
        new_org: Option<String>,
        /// Put the user in this organisation (default: the only one there is).
        #[arg(long, value_name = "ID")]
        org_id: Option<Uuid>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a user and print it (it is shown only once).
    Create {
        /// The user's login address.
        #[arg(long, value_name = "EMAIL")]
        email: String,
        /// A label for the token, e.g. the browser it is for.
        #[arg(long, value_name = "LABEL", default_value = "personal token")]
        name: String,
    },
    /// Revoke an API token: requests with it are refused from now on.
    Revoke {
        /// The token's id (see `token list`).
        #[arg(long, value_name = "ID")]
        id: Uuid,
    },
    /// List API tokens (ids, labels, last use; never the tokens themselves).
    List {
        /// Only this user's tokens.
        #[arg(long, value_name = "EMAIL")]
        email: Option<String>,
    },
}

/// Logs to stderr; `RUST_LOG` sets the filter (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Runs a parsed command line; errors are printed on stderr.
pub async fn run(cli: Cli) -> ExitCode {
    match execute(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(cli: Cli) -> Result<(), ServerError> {
    // Flag or environment (clap), then the file, then the default.
    let file = match &cli.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let data_dir = cli
        .data_dir
        .or(file.data_dir)
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_DATA_DIR));
    let database_url = cli.database_url.or(file.database_url);
    let location = Location::choose(&data_dir, database_url.as_deref())?;
    let db = Db::open(&location).await?;
    let result = match cli.command {
        Command::Serve(args) => {
            let listen = match args.listen.or(file.listen) {
                Some(listen) => listen,
                None => config::DEFAULT_LISTEN
                    .parse()
                    .map_err(|e| ServerError::Invalid(format!("default listen address: {e}")))?,
            };
            let owner_email = args
                .owner_email
                .or(file.owner_email)
                .unwrap_or_else(|| config::DEFAULT_OWNER_EMAIL.to_string());
            serve(db.clone(), &location, &data_dir, listen, &owner_email).await
        }
        Command::Migrate => {
            println!("the database {location} is up to date");
            Ok(())
        }
        Command::User(UserCommand::Create {
            email,
            name,
            aliases,
            new_org,
            org_id,
        }) => {
            let org = match (new_org, org_id) {
                (Some(name), _) => OrgChoice::New(name),
                (None, Some(id)) => OrgChoice::Existing(id),
                (None, None) => OrgChoice::Default,
            };
            let user = admin::add_user(&db, org, &email, &name, &aliases).await?;
            println!(
                "created user {} (id {}) in organisation {}",
                user.email, user.id, user.org_id
            );
            print_token_block(&format!("API token for {}", user.email), &user.token.token);
            Ok(())
        }
        Command::Token(TokenCommand::Create { email, name }) => {
            let mut conn = db.pool().acquire().await?;
            let user_id = admin::user_id_by_email(&mut conn, &email).await?;
            let token = admin::create_token(&mut conn, user_id, &name).await?;
            println!("created token {} ({name})", token.id);
            print_token_block(&format!("API token for {email}"), &token.token);
            Ok(())
        }
        Command::Token(TokenCommand::Revoke { id }) => {
            admin::revoke_token(&mut *db.pool().acquire().await?, id).await?;
            println!("revoked token {id}");
            Ok(())
        }
        Command::Token(TokenCommand::List { email }) => {
            let tokens =
                admin::list_tokens(&mut *db.pool().acquire().await?, email.as_deref()).await?;
            for t in tokens {
                let state = match (&t.revoked_at, &t.last_used_at) {
                    (Some(at), _) => format!("revoked {at}"),
                    (None, Some(at)) => format!("last used {at}"),
                    (None, None) => "never used".to_string(),
                };
                println!(
                    "{}  {}  {:?}  created {}  {state}",
                    t.id, t.user_email, t.name, t.created_at
                );
            }
            Ok(())
        }
        Command::Import(command) => crate::import::run_command(&db, command).await,
    };
    db.close().await;
    result
}

/// Prints a framed token block and a `THREADLINE_TOKEN=` line on stdout.
fn print_token_block(title: &str, token: &str) {
    let rule = "=".repeat(78);
    println!("{rule}");
    println!("  {title}");
    println!("  Shown only once: copy it now (the server keeps only its hash).");
    println!();
    println!("      {token}");
    println!();
    println!("  Paste it into the Threadline extension's settings.");
    println!("{rule}");
    println!("THREADLINE_TOKEN={token}");
}

async fn serve(
    db: Db,
    location: &Location,
    data_dir: &Path,
    listen: SocketAddr,
    owner_email: &str,
) -> Result<(), ServerError> {
    match admin::bootstrap(&db, owner_email).await? {
        Bootstrap::Created(NewUser {
            email,
            token,
            org_id,
            ..
        }) => {
            println!("first start: created organisation {org_id} and its owner {email}");
            print_token_block(&format!("API token for {email}"), &token.token);
        }
        Bootstrap::AlreadySetUp {
            users,
            active_tokens,
        } => {
            // Never the database URL: it may hold a password.
            let same_database = match location.engine() {
                Engine::Sqlite => format!("--data-dir {}", data_dir.display()),
                Engine::Postgres => "(with the same DATABASE_URL)".to_string(),
            };
            println!(
                "{users} user(s) and {active_tokens} active API token(s) exist; create another token \
                 with: threadline-server token create --email <EMAIL> {same_database}"
            );
        }
    }
    match idempotency::purge_expired(&db).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(purged = n, "purged expired idempotency keys"),
        Err(e) => tracing::warn!(error = %e, "could not purge expired idempotency keys"),
    }

    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| ServerError::Invalid(format!("cannot listen on {listen}: {e}")))?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    tracing::info!(%addr, database = %location, "serving");

    let app = crate::app::router(AppState::with_data_dir(db, data_dir));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("shut down");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
