//! The `threadline-server` command line.
//!
//! What scripts read is printed on stdout only; logs go to stderr. Tokens are printed on
//! stdout when they are created and never logged.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use uuid::Uuid;

use crate::accounts::{self, Bootstrap, NewUser, OrgChoice};
use crate::config::{self, FileConfig};
use crate::config::{DropboxSettings, GoogleSettings};
use crate::db::{Db, Engine, Location};
use crate::documents::blobs::BlobStore;
use crate::documents::retention::{Collector, Retention, INTERVAL};
use crate::error::ServerError;
use crate::idempotency;
use crate::oauth::dropbox::DropboxConfig;
use crate::oauth::google::GoogleConfig;
use crate::oauth::OAuth;
use crate::public_url::PublicUrl;
use crate::rate_limit::RateLimits;
use crate::secrets::{KeySource, Keyring, SecretString};
use crate::serve::ServeLimits;
use crate::state::AppState;
use crate::sync::{Runner, RunnerConfig};

/// What `--help` adds after the options.
const CONFIG_HELP: &str = "\
Every option can also be set by the environment variable shown with it, or by the key of \
the same name (with `_`: data_dir, database_url, listen, public_url, owner_email, secret_key_file, \
sync_concurrency, sync_poll_seconds, the limits' header_read_timeout_seconds, …, \
rate_limit_burst, trash_retention_days, versions_kept, version_retention_days; the google_* \
options as the table [google] with keys \
client_id, client_secret_file, redirect_url, …; the dropbox_* options as the table [dropbox] \
with keys app_key, app_secret_file, redirect_url, …) in a \
TOML file given with --config / THREADLINE_CONFIG (see threadline.example.toml). Precedence: \
flag, then environment, then file, then default. A key the file should not have is an error.";

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
    /// A TOML configuration file: keys `data_dir`, `database_url`, `listen`, `owner_email`,
    /// `secret_key_file`, `sync_concurrency`, `sync_poll_seconds`, `trash_retention_days`,
    /// `versions_kept`, `version_retention_days` (flags and environment variables override
    /// it).
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

// Parsed once per process: the size of `Serve`'s settings does not matter.
#[allow(clippy::large_enum_variant)]
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
    Import(crate::import_command::ImportCommand),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the real one is printed). `/metrics`
    /// and the probes need no token: keep it on 127.0.0.1 unless a proxy guards `/metrics`.
    /// File key `listen`. [default: 127.0.0.1:8787]
    #[arg(long, env = "THREADLINE_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Where people reach this server, `http(s)://host[:port]` (behind a proxy: the proxy's
    /// address): the origin of the links to the web app in the API's answers ("Open in
    /// Threadline") and of the printed setup link. Never taken from a request's Host. File
    /// key `public_url`. [default: http://<listen address>; none when listening on 0.0.0.0
    /// or [::], and then the answers carry no such link]
    #[arg(long, env = "THREADLINE_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,

    /// Login address of the first user, created on first start with an empty database.
    /// File key `owner_email`. [default: owner@example.com]
    #[arg(long, env = "THREADLINE_OWNER_EMAIL", value_name = "EMAIL")]
    pub owner_email: Option<String>,

    /// The keys that encrypt connected accounts' tokens: a file of lines
    /// `<key id>:<base64 of 32 random bytes>`, the last one current (rotate by appending).
    /// It must exist. File key `secret_key_file`. [default: <data dir>/secret.key, created
    /// on first start]
    #[arg(long, env = "THREADLINE_SECRET_KEY_FILE", value_name = "PATH")]
    pub secret_key_file: Option<PathBuf>,

    /// Sync runs this process runs at once (background syncs of connected accounts).
    /// File key `sync_concurrency`. [default: 4]
    #[arg(long, env = "THREADLINE_SYNC_CONCURRENCY", value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub sync_concurrency: Option<u16>,

    /// The longest the sync runner sleeps between two looks at the schedules, in seconds (it
    /// sleeps until the next one is due, at most this; other server processes' changes are
    /// seen within it). File key `sync_poll_seconds`. [default: 30]
    #[arg(long, env = "THREADLINE_SYNC_POLL_SECONDS", value_name = "SECONDS",
          value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub sync_poll_seconds: Option<u32>,

    /// Days a deleted document (and what went with it) stays in the trash, restorable,
    /// before it is purged for good. File key `trash_retention_days`. [default: 30]
    #[arg(long, env = "THREADLINE_TRASH_RETENTION_DAYS", value_name = "DAYS",
          value_parser = clap::value_parser!(u32).range(RETENTION_DAYS))]
    pub trash_retention_days: Option<u32>,

    /// Versions of each document file always kept, the current one included. File key
    /// `versions_kept`. [default: 10]
    #[arg(long, env = "THREADLINE_VERSIONS_KEPT", value_name = "N",
          value_parser = clap::value_parser!(u32).range(VERSIONS_KEPT))]
    pub versions_kept: Option<u32>,

    /// Days an older version of a document file (beyond the newest --versions-kept) is kept
    /// after it was replaced. File key `version_retention_days`. [default: 30]
    #[arg(long, env = "THREADLINE_VERSION_RETENTION_DAYS", value_name = "DAYS",
          value_parser = clap::value_parser!(u32).range(RETENTION_DAYS))]
    pub version_retention_days: Option<u32>,

    /// For tests of several server processes on one database only: run every
    /// `google_calendar` schedule with a job that waits this many milliseconds and does
    /// nothing else (`sync::SleepJob`).
    #[arg(
        long,
        env = "THREADLINE_SYNC_TEST_JOB_MS",
        value_name = "MS",
        hide = true
    )]
    pub sync_test_job_ms: Option<u64>,
    #[command(flatten)]
    pub limits: LimitsArgs,
    #[command(flatten)]
    pub google: GoogleArgs,
    #[command(flatten)]
    pub dropbox: DropboxArgs,
}

/// What one client may hold or ask of the server (see the README, "Limits").
#[derive(Debug, Args)]
#[command(next_help_heading = "Limits")]
pub struct LimitsArgs {
    /// How long a client has to send a request's line and headers: from the connection's
    /// accept, or on a kept-alive connection from the request's first byte; then the
    /// connection is closed. File key `header_read_timeout_seconds`. [default: 10]
    #[arg(long, env = "THREADLINE_HEADER_READ_TIMEOUT_SECONDS", value_name = "SECONDS",
          value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub header_read_timeout_seconds: Option<u32>,
    /// How long a kept-alive connection may wait for its next request before it is closed.
    /// File key `idle_timeout_seconds`. [default: 60]
    #[arg(long, env = "THREADLINE_IDLE_TIMEOUT_SECONDS", value_name = "SECONDS",
          value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub idle_timeout_seconds: Option<u32>,
    /// How long a request's body may stall (no byte) while it is read: then 408 and the
    /// connection is closed. File key `body_timeout_seconds`. [default: 30]
    #[arg(long, env = "THREADLINE_BODY_TIMEOUT_SECONDS", value_name = "SECONDS",
          value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub body_timeout_seconds: Option<u32>,
    /// Connections open at once; more are closed at once (logged at most every 10 s).
    /// Keep it well under the open-file limit (`ulimit -n`). File key `max_connections`.
    /// [default: 512]
    #[arg(long, env = "THREADLINE_MAX_CONNECTIONS", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: Option<u32>,
    /// After Ctrl-C / SIGTERM, how long requests in flight may take to finish before their
    /// connections are closed. File key `shutdown_timeout_seconds`. [default: 20]
    #[arg(long, env = "THREADLINE_SHUTDOWN_TIMEOUT_SECONDS", value_name = "SECONDS",
          value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub shutdown_timeout_seconds: Option<u32>,
    /// Requests per second each API token (requests without a valid token: each client
    /// address) may make on average; past that, 429 with Retry-After. File key
    /// `rate_limit_per_second`. [default: 50]
    #[arg(long, env = "THREADLINE_RATE_LIMIT_PER_SECOND", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate_limit_per_second: Option<u32>,
    /// Requests a token (or address) may make at once beyond that average. File key
    /// `rate_limit_burst`. [default: 500]
    #[arg(long, env = "THREADLINE_RATE_LIMIT_BURST", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate_limit_burst: Option<u32>,
}

impl LimitsArgs {
    /// Flag or environment first, then the file, then the default.
    fn settings(&self, file: &FileConfig) -> ServeLimits {
        let seconds = |flag: Option<u32>, key: Option<u32>, default: Duration| {
            flag.or(key)
                .map_or(default, |s| Duration::from_secs(s.into()))
        };
        let serve = ServeLimits::default();
        ServeLimits {
            header_read_timeout: seconds(
                self.header_read_timeout_seconds,
                file.header_read_timeout_seconds,
                serve.header_read_timeout,
            ),
            idle_timeout: seconds(
                self.idle_timeout_seconds,
                file.idle_timeout_seconds,
                serve.idle_timeout,
            ),
            body_timeout: seconds(
                self.body_timeout_seconds,
                file.body_timeout_seconds,
                serve.body_timeout,
            ),
            max_connections: self
                .max_connections
                .or(file.max_connections)
                .map_or(serve.max_connections, |n| n as usize),
            shutdown_timeout: seconds(
                self.shutdown_timeout_seconds,
                file.shutdown_timeout_seconds,
                serve.shutdown_timeout,
            ),
        }
    }

    /// The request budgets: flag or environment first, then the file, then the default.
    fn rate_limits(&self, file: &FileConfig) -> RateLimits {
        let defaults = RateLimits::default();
        let count = |flag: Option<u32>, key: Option<u32>, default: NonZeroU32| {
            flag.or(key).and_then(NonZeroU32::new).unwrap_or(default)
        };
        RateLimits {
            per_second: count(
                self.rate_limit_per_second,
                file.rate_limit_per_second,
                defaults.per_second,
            ),
            burst: count(self.rate_limit_burst, file.rate_limit_burst, defaults.burst),
        }
    }
}

/// Google's OAuth client (file table `[google]`). Its secret comes from the environment
/// variable THREADLINE_GOOGLE_CLIENT_SECRET or a file, never from a flag (flags show in `ps`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Google")]
pub struct GoogleArgs {
    /// The OAuth client id of a Google "Web application" client. Unset (with no secret):
    /// connecting Google answers 409 provider_not_configured. File key `google.client_id`.
    #[arg(long, env = "THREADLINE_GOOGLE_CLIENT_ID", value_name = "ID")]
    pub google_client_id: Option<String>,
    /// A file whose first line is the client's secret (or set THREADLINE_GOOGLE_CLIENT_SECRET).
    /// File key `google.client_secret_file`.
    #[arg(
        long,
        env = "THREADLINE_GOOGLE_CLIENT_SECRET_FILE",
        value_name = "PATH"
    )]
    pub google_client_secret_file: Option<PathBuf>,
    /// Where Google sends the browser back, as registered with the client. File key
    /// `google.redirect_url`. [default: http://<listen address>/oauth/google/callback]
    #[arg(long, env = "THREADLINE_GOOGLE_REDIRECT_URL", value_name = "URL")]
    pub google_redirect_url: Option<String>,
    /// Google's authorization endpoint (tests: a local fake). File key `google.auth_url`.
    #[arg(
        long,
        env = "THREADLINE_GOOGLE_AUTH_URL",
        value_name = "URL",
        hide_short_help = true
    )]
    pub google_auth_url: Option<String>,
    /// Google's token endpoint. File key `google.token_url`.
    #[arg(
        long,
        env = "THREADLINE_GOOGLE_TOKEN_URL",
        value_name = "URL",
        hide_short_help = true
    )]
    pub google_token_url: Option<String>,
    /// Google's revocation endpoint. File key `google.revoke_url`.
    #[arg(
        long,
        env = "THREADLINE_GOOGLE_REVOKE_URL",
        value_name = "URL",
        hide_short_help = true
    )]
    pub google_revoke_url: Option<String>,
    /// Google's OpenID Connect userinfo endpoint. File key `google.userinfo_url`.
    #[arg(
        long,
        env = "THREADLINE_GOOGLE_USERINFO_URL",
        value_name = "URL",
        hide_short_help = true
    )]
    pub google_userinfo_url: Option<String>,
    /// Google's OpenID Connect discovery document (Sign in with Google). File key
    /// `google.discovery_url`.
    #[arg(
        long,
        env = "THREADLINE_GOOGLE_DISCOVERY_URL",
        value_name = "URL",
        hide_short_help = true
    )]
    pub google_discovery_url: Option<String>,
    /// The Calendar API's root. File key `google.calendar_api_url`.
    #[arg(
        long,
        env = "THREADLINE_GOOGLE_CALENDAR_API_URL",
        value_name = "URL",
        hide_short_help = true
    )]
    pub google_calendar_api_url: Option<String>,
    /// The People API's root (Contacts). File key `google.people_api_url`.
    #[arg(
        long,
        env = "THREADLINE_GOOGLE_PEOPLE_API_URL",
        value_name = "URL",
        hide_short_help = true
    )]
    pub google_people_api_url: Option<String>,
    /// The Drive API's root (file sync). File key `google.drive_api_url`.
    #[arg(
        long,
        env = "THREADLINE_GOOGLE_DRIVE_API_URL",
        value_name = "URL",
        hide_short_help = true
    )]
    pub google_drive_api_url: Option<String>,
    /// The Drive API's upload root (file sync). File key `google.drive_upload_url`.
    #[arg(
        long,
        env = "THREADLINE_GOOGLE_DRIVE_UPLOAD_URL",
        value_name = "URL",
        hide_short_help = true
    )]
    pub google_drive_upload_url: Option<String>,
}

/// Dropbox's app (file table `[dropbox]`). Its secret comes from the environment variable
/// THREADLINE_DROPBOX_APP_SECRET or a file, never from a flag (flags show in `ps`).
#[derive(Debug, Args)]
#[command(next_help_heading = "Dropbox")]
pub struct DropboxArgs {
    /// The app key of a Dropbox app with "App folder" access (App Console). Unset (with no
    /// secret): connecting Dropbox answers 409 provider_not_configured. File key
    /// `dropbox.app_key`.
    #[arg(long, env = "THREADLINE_DROPBOX_APP_KEY", value_name = "KEY")]
    pub dropbox_app_key: Option<String>,
    /// A file whose first line is the app secret (or set THREADLINE_DROPBOX_APP_SECRET).
    /// File key `dropbox.app_secret_file`.
    #[arg(long, env = "THREADLINE_DROPBOX_APP_SECRET_FILE", value_name = "PATH")]
    pub dropbox_app_secret_file: Option<PathBuf>,
    /// Where Dropbox sends the browser back, as registered with the app. File key
    /// `dropbox.redirect_url`. [default: http://<listen address>/oauth/dropbox/callback]
    #[arg(long, env = "THREADLINE_DROPBOX_REDIRECT_URL", value_name = "URL")]
    pub dropbox_redirect_url: Option<String>,
    /// Dropbox's authorization page (tests: a local fake). File key `dropbox.auth_url`.
    #[arg(
        long,
        env = "THREADLINE_DROPBOX_AUTH_URL",
        value_name = "URL",
        hide_short_help = true
    )]
    pub dropbox_auth_url: Option<String>,
    /// Dropbox's token endpoint. File key `dropbox.token_url`.
    #[arg(
        long,
        env = "THREADLINE_DROPBOX_TOKEN_URL",
        value_name = "URL",
        hide_short_help = true
    )]
    pub dropbox_token_url: Option<String>,
    /// The root of Dropbox's RPC routes (api.dropboxapi.com/2). File key `dropbox.api_url`.
    #[arg(
        long,
        env = "THREADLINE_DROPBOX_API_URL",
        value_name = "URL",
        hide_short_help = true
    )]
    pub dropbox_api_url: Option<String>,
    /// The root of Dropbox's content routes (content.dropboxapi.com/2). File key
    /// `dropbox.content_url`.
    #[arg(
        long,
        env = "THREADLINE_DROPBOX_CONTENT_URL",
        value_name = "URL",
        hide_short_help = true
    )]
    pub dropbox_content_url: Option<String>,
}

/// The environment variable of Dropbox's app secret.
pub const DROPBOX_APP_SECRET_VAR: &str = "THREADLINE_DROPBOX_APP_SECRET";

impl DropboxArgs {
    /// Flag or environment first, then the file's `[dropbox]` table.
    fn settings(self, file: Option<DropboxSettings>) -> DropboxSettings {
        let file = file.unwrap_or_default();
        DropboxSettings {
            app_key: self.dropbox_app_key.or(file.app_key),
            app_secret_file: self.dropbox_app_secret_file.or(file.app_secret_file),
            redirect_url: self.dropbox_redirect_url.or(file.redirect_url),
            auth_url: self.dropbox_auth_url.or(file.auth_url),
            token_url: self.dropbox_token_url.or(file.token_url),
            api_url: self.dropbox_api_url.or(file.api_url),
            content_url: self.dropbox_content_url.or(file.content_url),
        }
    }
}

/// The accepted retention in days (a day to a hundred years).
const RETENTION_DAYS: std::ops::RangeInclusive<i64> = 1..=36_500;
/// The accepted number of versions kept.
const VERSIONS_KEPT: std::ops::RangeInclusive<i64> = 1..=10_000;

/// `value` (from the configuration file) when within `range`; an error naming `key`.
fn checked(
    key: &str,
    value: u32,
    range: std::ops::RangeInclusive<i64>,
) -> Result<u32, ServerError> {
    if range.contains(&i64::from(value)) {
        return Ok(value);
    }
    Err(ServerError::Invalid(format!(
        "{key} = {value} in the configuration file: it must be from {} to {}",
        range.start(),
        range.end()
    )))
}

/// The environment variable of Google's client secret.
pub const GOOGLE_CLIENT_SECRET_VAR: &str = "THREADLINE_GOOGLE_CLIENT_SECRET";

impl GoogleArgs {
    /// Flag or environment first, then the file's `[google]` table.
    fn settings(self, file: Option<GoogleSettings>) -> GoogleSettings {
        let file = file.unwrap_or_default();
        GoogleSettings {
            client_id: self.google_client_id.or(file.client_id),
            client_secret_file: self.google_client_secret_file.or(file.client_secret_file),
            redirect_url: self.google_redirect_url.or(file.redirect_url),
            auth_url: self.google_auth_url.or(file.auth_url),
            token_url: self.google_token_url.or(file.token_url),
            revoke_url: self.google_revoke_url.or(file.revoke_url),
            userinfo_url: self.google_userinfo_url.or(file.userinfo_url),
            discovery_url: self.google_discovery_url.or(file.discovery_url),
            calendar_api_url: self.google_calendar_api_url.or(file.calendar_api_url),
            people_api_url: self.google_people_api_url.or(file.people_api_url),
            drive_api_url: self.google_drive_api_url.or(file.drive_api_url),
            drive_upload_url: self.google_drive_upload_url.or(file.drive_upload_url),
        }
    }
}

/// `THREADLINE_GOOGLE_CLIENT_SECRET`, when set.
fn google_client_secret() -> Option<SecretString> {
    secret_var(GOOGLE_CLIENT_SECRET_VAR)
}

/// `THREADLINE_DROPBOX_APP_SECRET`, when set.
fn dropbox_app_secret() -> Option<SecretString> {
    secret_var(DROPBOX_APP_SECRET_VAR)
}

fn secret_var(name: &str) -> Option<SecretString> {
    std::env::var(name)
        .ok()
        .filter(|s| !s.is_empty())
        .map(SecretString::from)
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
        .or_else(|| file.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_DATA_DIR));
    let database_url = cli.database_url.or_else(|| file.database_url.clone());
    let location = Location::choose(&data_dir, database_url.as_deref())?;
    // The data directory holds the SQLite database, and for `serve` documents and the
    // secret key: made 0700, or warned about when others may read it.
    if location.engine() == Engine::Sqlite || matches!(cli.command, Command::Serve(_)) {
        crate::files::prepare_data_dir(&data_dir).map_err(|e| {
            ServerError::Invalid(format!(
                "cannot create the data directory {}: {e}",
                data_dir.display()
            ))
        })?;
    }
    let db = Db::open(&location).await?;
    let result = match cli.command {
        Command::Serve(args) => {
            let limits = args.limits.settings(&file);
            let rates = args.limits.rate_limits(&file);
            let listen = match args.listen.or(file.listen) {
                Some(listen) => listen,
                None => config::DEFAULT_LISTEN
                    .parse()
                    .map_err(|e| ServerError::Invalid(format!("default listen address: {e}")))?,
            };
            let public_url = match args.public_url.or(file.public_url) {
                Some(text) => Some(PublicUrl::parse(&text).map_err(|e| {
                    ServerError::Invalid(format!("public_url must be an origin: {e}"))
                })?),
                None => None,
            };
            let owner_email = args
                .owner_email
                .or(file.owner_email)
                .unwrap_or_else(|| config::DEFAULT_OWNER_EMAIL.to_string());
            let secret_key_file = args.secret_key_file.or(file.secret_key_file);
            let google = args.google.settings(file.google);
            let dropbox = args.dropbox.settings(file.dropbox);
            let defaults = RunnerConfig::default();
            let runner = RunnerConfig {
                concurrency: args
                    .sync_concurrency
                    .or(file.sync_concurrency)
                    .map_or(defaults.concurrency, usize::from),
                poll_interval: args
                    .sync_poll_seconds
                    .or(file.sync_poll_seconds)
                    .map_or(defaults.poll_interval, |s| Duration::from_secs(s.into())),
                ..defaults
            };
            let defaults = Retention::default();
            let retention = Retention {
                trash_days: match (args.trash_retention_days, file.trash_retention_days) {
                    (Some(days), _) => days,
                    (None, Some(days)) => checked("trash_retention_days", days, RETENTION_DAYS)?,
                    (None, None) => defaults.trash_days,
                },
                versions_kept: match (args.versions_kept, file.versions_kept) {
                    (Some(n), _) => n,
                    (None, Some(n)) => checked("versions_kept", n, VERSIONS_KEPT)?,
                    (None, None) => defaults.versions_kept,
                },
                version_days: match (args.version_retention_days, file.version_retention_days) {
                    (Some(days), _) => days,
                    (None, Some(days)) => checked("version_retention_days", days, RETENTION_DAYS)?,
                    (None, None) => defaults.version_days,
                },
            };
            serve(
                db.clone(),
                &location,
                &data_dir,
                ServeSettings {
                    listen,
                    public_url,
                    owner_email: &owner_email,
                    secret_key_file: secret_key_file.as_deref(),
                    retention,
                    google,
                    dropbox,
                    limits,
                    rates,
                    sync: SyncSettings {
                        runner,
                        test_job: args.sync_test_job_ms.map(Duration::from_millis),
                    },
                },
            )
            .await
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
            let user = accounts::add_user(&db, org, &email, &name, &aliases).await?;
            println!(
                "created user {} (id {}) in organisation {}",
                user.email, user.id, user.org_id
            );
            print_token_block(&format!("API token for {}", user.email), &user.token.token);
            Ok(())
        }
        Command::Token(TokenCommand::Create { email, name }) => {
            let mut conn = db.pool().acquire().await?;
            let user_id = accounts::user_id_by_email(&mut conn, &email).await?;
            let token = accounts::create_token(&mut conn, user_id, &name).await?;
            println!("created token {} ({name})", token.id);
            print_token_block(&format!("API token for {email}"), &token.token);
            Ok(())
        }
        Command::Token(TokenCommand::Revoke { id }) => {
            accounts::revoke_token(&mut *db.pool().acquire().await?, id).await?;
            println!("revoked token {id}");
            Ok(())
        }
        Command::Token(TokenCommand::List { email }) => {
            let tokens =
                accounts::list_tokens(&mut *db.pool().acquire().await?, email.as_deref()).await?;
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
        Command::Import(command) => crate::import_command::run_command(&db, command).await,
    };
    db.close().await;
    result
}

/// Prints the owner's one-time setup link, framed, and a `THREADLINE_SETUP_URL=` line.
fn print_setup_link(url: &str) {
    let rule = "=".repeat(78);
    println!("{rule}");
    println!("  Set up Threadline: open this link in your browser and choose your password.");
    println!("  It works once, for 7 days; a new one is printed on each start until then.");
    println!();
    println!("      {url}");
    println!("{rule}");
    println!("THREADLINE_SETUP_URL={url}");
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

/// The sync runner's settings for `serve`.
struct SyncSettings {
    runner: RunnerConfig,
    /// The hidden test job's wait (`THREADLINE_SYNC_TEST_JOB_MS`).
    test_job: Option<Duration>,
}

/// `serve`'s settings, each from its flag, environment variable, file key or default.
struct ServeSettings<'a> {
    listen: SocketAddr,
    /// `--public-url`, when given (else the listen address: [`PublicUrl::listening_on`]).
    public_url: Option<PublicUrl>,
    owner_email: &'a str,
    secret_key_file: Option<&'a Path>,
    /// How long the documents' trash and old versions are kept.
    retention: Retention,
    google: GoogleSettings,
    dropbox: DropboxSettings,
    /// The connection cap, timeouts and shutdown deadline.
    limits: ServeLimits,
    /// Each token's request budget.
    rates: RateLimits,
    sync: SyncSettings,
}

async fn serve(
    db: Db,
    location: &Location,
    data_dir: &Path,
    settings: ServeSettings<'_>,
) -> Result<(), ServerError> {
    let ServeSettings {
        listen,
        public_url,
        owner_email,
        secret_key_file,
        retention,
        google,
        dropbox,
        limits,
        rates,
        sync,
    } = settings;
    let keyring = load_keyring(secret_key_file, data_dir)?;
    // Checked before anything is created; the default redirect URL needs the port, which
    // `--listen …:0` only knows once bound (resolved again below).
    GoogleConfig::resolve(&google, google_client_secret(), listen)?;
    DropboxConfig::resolve(&dropbox, dropbox_app_secret(), listen)?;
    match accounts::bootstrap(&db, owner_email).await? {
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
    // Before saying it listens: a SIGTERM right after that line must shut down gracefully,
    // not kill the process (the default action while no handler is registered).
    let shutdown = shutdown_signal()?;
    let google = GoogleConfig::resolve(&google, google_client_secret(), addr)?;
    match &google {
        Some(config) => tracing::info!(
            client_id = %config.client_id,
            redirect_url = %config.redirect_url,
            "Google OAuth client configured"
        ),
        None => tracing::info!(
            "no Google OAuth client configured: connecting Google answers \
             provider_not_configured (see --google-client-id)"
        ),
    }
    let dropbox = DropboxConfig::resolve(&dropbox, dropbox_app_secret(), addr)?;
    match &dropbox {
        Some(config) => tracing::info!(
            app_key = %config.app_key,
            redirect_url = %config.redirect_url,
            "Dropbox app configured"
        ),
        None => tracing::info!(
            "no Dropbox app configured: connecting Dropbox answers provider_not_configured \
             (see --dropbox-app-key)"
        ),
    }
    let oauth = OAuth::with(google, dropbox)?;
    let public_url = public_url.or_else(|| PublicUrl::listening_on(addr));
    match &public_url {
        Some(url) => tracing::info!(%url, "links to the web app point to this public URL"),
        None => tracing::warn!(
            "listening on every address and no --public-url: the API's answers carry no link \
             to the web app (\"Open in Threadline\"); set --public-url to where people reach \
             this server"
        ),
    }
    // While the owner has no password: a new one-time setup link on every start (the
    // earlier ones stop working). Before `listening on`, which the tests wait for.
    match threadline_crm::accounts::links::create_setup_link(&db, chrono::Utc::now()).await {
        Ok(Some(token)) => print_setup_link(&match &public_url {
            Some(url) => url.join(&format!("/setup/{token}")),
            None => format!("http://{addr}/setup/{token}"),
        }),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "could not create the setup link"),
    }
    println!("listening on http://{addr}");
    tracing::info!(%addr, database = %location, "serving");

    let mut state = AppState::with_data_dir(db.clone(), data_dir)
        .with_keyring(keyring)
        .with_oauth(oauth)
        .with_rate_limits(rates);
    // Cookies are `Secure` when people reach the server over HTTPS, which only the public
    // URL can say (behind a proxy that terminates TLS the server sees plain HTTP).
    let web = threadline_web::WebConfig {
        secure_cookies: public_url.as_ref().is_some_and(PublicUrl::is_https),
    };
    if let Some(url) = public_url {
        state = state.with_public_url(url);
    }
    // The integrations (the registry's): their state for their routes, their jobs in the
    // runner.
    state = crate::with_registered_integrations(state)?;
    let integrations = state.integrations().clone();
    let mut runner = Runner::new(db, sync.runner, state.sync_wake());
    for integration in integrations.iter() {
        runner = runner.with_job(integration.job());
    }
    if let Some(pause) = sync.test_job {
        tracing::warn!("the sync runs a test job (THREADLINE_SYNC_TEST_JOB_MS): for tests only");
        for entry in crate::registry::INTEGRATIONS {
            runner = runner.with_job(Arc::new(crate::sync::SleepJob(entry.name, pause)));
        }
    }
    let runner = runner.spawn();
    // Document storage: collected now (abandoned uploads, unreferenced content, the trash
    // and old versions past their retention) and hourly; logs what it removed.
    tracing::info!(
        trash_days = retention.trash_days,
        versions_kept = retention.versions_kept,
        version_days = retention.version_days,
        "document retention"
    );
    let collector = Collector::new(
        state.db().clone(),
        BlobStore::in_data_dir(data_dir),
        retention,
    )
    .spawn(INTERVAL);
    let app = crate::router_with_web(state, web);
    let served = crate::serve::serve(listener, app, limits, shutdown).await;
    // After the requests: running syncs are asked to stop and their leases released.
    collector.abort();
    runner.shutdown().await;
    served?;
    tracing::info!("shut down");
    Ok(())
}

/// The keys of secrets at rest: the configured file, or the data directory's (made on first
/// start). Logs where they are, never a key.
fn load_keyring(configured: Option<&Path>, data_dir: &Path) -> Result<Keyring, ServerError> {
    let (keyring, source) = Keyring::load_or_create(configured, data_dir)
        .map_err(|e| ServerError::Invalid(e.to_string()))?;
    match source {
        KeySource::Generated(path) => tracing::warn!(
            file = %path.display(),
            "generated a secret key (mode 0600) for connected accounts' tokens: back it up with \
             the database; without it they cannot be decrypted. Several servers on one database \
             need the same file (--secret-key-file)"
        ),
        KeySource::Configured(path) | KeySource::Default(path) => tracing::info!(
            file = %path.display(),
            current_key = keyring.current_key_id(),
            "secret keys loaded"
        ),
    }
    Ok(keyring)
}

/// A future that resolves on Ctrl-C or SIGTERM; the handlers are registered now, not when
/// the future is first polled.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, ServerError> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {},
                _ = terminate.recv() => {},
            }
            tracing::info!("shutting down");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        })
    }
}
