//! The database: where it is, opening it, transactions, and the rules every query follows.
//!
//! Two engines, one schema (`migrations/`) and one set of queries, run through sqlx's `Any`
//! driver:
//! - **SQLite** (the default): one file, `<data dir>/threadline.db`, WAL mode, foreign keys on,
//!   a busy timeout so that writers queue; the file (hence its WAL and shared-memory files)
//!   is made 0600 and its folder 0700 ([`crate::files`]).
//! - **PostgreSQL** when a `postgres://` URL is given (`--database-url`, `DATABASE_URL`). The
//!   database must be UTF-8 with the C locale ([`Db::open`] checks), so that text sorts,
//!   compares and changes case exactly as on SQLite.
//!
//! [`Db`] is the only place that knows which engine it is on. What differs is handled here:
//! connection set-up, [`Db::write`] (one writer at a time on SQLite, SERIALIZABLE with retries
//! on PostgreSQL: the same outcomes either way), [`Db::begin_read`] (one snapshot on both),
//! and which errors are transient ([`crate::errors::is_transient`]).
//!
//! # Portable SQL: the rules
//! The test suite runs on both engines (`./build.sh test`); `tests/api/portable_sql.rs` pins
//! down each rule below.
//! - Parameters are `$1, $2, …` (SQLite binds `$N` to the N-th value). A query whose shape
//!   depends on the input is built with [`Sql`], never `sqlx::QueryBuilder` (which writes `?`
//!   for the Any driver, and PostgreSQL rejects that).
//! - Column types: `TEXT` and `INTEGER` only (the Any driver carries strings, integers, floats
//!   and bytes). UUIDs are TEXT ([`id_text`], [`parse_uuid`]); timestamps are TEXT in a fixed
//!   width RFC 3339 UTC form ([`now`], [`format_time`], [`parse_time`]) so that text order is
//!   time order; dates are `YYYY-MM-DD`; booleans are INTEGER 0/1: bind an `i64`, read an `i64`
//!   (a `bool` parameter is a type error on PostgreSQL). Do not select a comparison or
//!   `EXISTS (…)` as a value (a boolean on PostgreSQL, an integer on SQLite): use
//!   `CASE WHEN … THEN 1 ELSE 0 END`. `SUM` of integers needs `CAST(SUM(x) AS BIGINT)`.
//! - Text comparison and order are by bytes on both engines. For a case-insensitive match,
//!   lower both sides: `lower(col) = lower($1)`, `lower(col) LIKE lower($1) ESCAPE '\'`
//!   (plain `LIKE` ignores ASCII case on SQLite but not on PostgreSQL). `lower()` changes
//!   ASCII letters only, on both.
//! - `ORDER BY` a nullable column: say `NULLS FIRST` or `NULLS LAST` (the defaults differ).
//! - Inserts that may meet an existing row: `INSERT … ON CONFLICT (…) DO NOTHING` (or
//!   `DO UPDATE`); `RETURNING` works on both. No `INSERT OR IGNORE`, no `AUTOINCREMENT`.
//! - Every change happens inside [`Db::write`], whose work may run more than once: no side
//!   effect but the database inside it.

mod sql;

use std::future::Future;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::any::AnyPoolOptions;
use sqlx::Executor;
use uuid::Uuid;

use crate::errors::{is_transient, DbFailure, Error as ServerError};

pub use sql::Sql;

/// The sqlx database type of every query: the Any driver.
pub type Any = sqlx::Any;
/// A pool of connections.
pub type Pool = sqlx::AnyPool;
/// One connection (also what a transaction derefs to).
pub type Conn = sqlx::AnyConnection;
/// An open transaction.
pub type Tx = sqlx::Transaction<'static, Any>;

/// File name of the SQLite database inside the data directory.
pub const DB_FILE: &str = "threadline.db";

/// How long an SQLite connection waits for another one's write lock.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Most tries of one [`Db::write`] that meets transient conflicts.
const MAX_WRITE_ATTEMPTS: u32 = 10;
/// A transient conflict is retried only while the write has taken less than this: after a
/// long wait (an SQLite busy timeout) the caller is better told to come back.
const RETRY_BUDGET: Duration = Duration::from_secs(3);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The future a [`Db::write`] runs: boxed, so that it is `Send` whatever it borrows.
pub type BoxFuture<'t, T> = Pin<Box<dyn Future<Output = T> + Send + 't>>;

/// The transaction [`Db::write`] hands to its work; it derefs to the connection (`&mut Conn`)
/// that queries run on. Only `Db::write` begins and commits it.
///
/// `'env` is the lifetime of what the work borrows: it lets the boxed future of each try
/// borrow the caller's values.
pub struct WriteTx<'env> {
    tx: Tx,
    env: PhantomData<&'env ()>,
}

impl Deref for WriteTx<'_> {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        &self.tx
    }
}

impl DerefMut for WriteTx<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.tx
    }
}

/// The two engines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// The engine of a connection.
    pub fn of(conn: &Conn) -> Engine {
        if conn.backend_name().eq_ignore_ascii_case("sqlite") {
            Engine::Sqlite
        } else {
            Engine::Postgres
        }
    }
}

/// A degraded database, for fault tests: see [`Db::open_degraded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Degraded {
    ReadOnly,
    Full,
}

/// Where the data is.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// An SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL database, by URL (`postgres://user:password@host:port/database`).
    Postgres(String),
}

impl Location {
    /// The PostgreSQL database of `database_url` when there is one (it must be a
    /// `postgres://` or `postgresql://` URL), else the SQLite file in `data_dir`.
    pub fn choose(data_dir: &Path, database_url: Option<&str>) -> Result<Location, ServerError> {
        match database_url.map(str::trim).filter(|u| !u.is_empty()) {
            None => Ok(Location::Sqlite(data_dir.join(DB_FILE))),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Location::Postgres(url.to_string()))
            }
            Some(url) => Err(ServerError::Invalid(format!(
                "the database URL {} is not a postgres:// URL; leave --database-url and \
                 DATABASE_URL unset to use SQLite in the data directory",
                redact_url(url)
            ))),
        }
    }

    pub fn engine(&self) -> Engine {
        match self {
            Location::Sqlite(_) => Engine::Sqlite,
            Location::Postgres(_) => Engine::Postgres,
        }
    }
}

/// The file's path, or the URL without its password: safe to print and log.
impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "{}", path.display()),
            Location::Postgres(url) => f.write_str(&redact_url(url)),
        }
    }
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}({self})", self.engine())
    }
}

/// `url` with its password replaced by `***`: safe to print. A URL that does not parse is
/// not shown at all (it might hold a password in a form not recognised).
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "(a URL that does not parse)".to_string(),
    }
}

/// The database: a pool of connections and the engine it is on.
#[derive(Clone, Debug)]
pub struct Db {
    pool: Pool,
    engine: Engine,
}

impl Db {
    /// Connects to the database at `location` (creating an SQLite file and its directory if
    /// needed), checks it, and brings its schema up to date.
    pub async fn open(location: &Location) -> Result<Db, ServerError> {
        sqlx::any::install_default_drivers();
        let db = match location {
            Location::Sqlite(path) => open_sqlite(path).await?,
            Location::Postgres(url) => open_postgres(url).await?,
        };
        MIGRATOR.run(&db.pool).await?;
        Ok(db)
    }

    /// The database of `location` (already migrated) in a degraded state, for the tests of
    /// what the server does then: read-only, or (SQLite) full. The database itself refuses
    /// the writes, with the errors a read-only file or a full disk give: SQLite through
    /// per-connection pragmas (`query_only`; `max_page_count` at the file's current size →
    /// SQLITE_FULL), PostgreSQL through the session setting `default_transaction_read_only`
    /// (what a standby or an administrator's switch gives). `None` for a full PostgreSQL,
    /// which has no such setting.
    pub async fn open_degraded(
        location: &Location,
        degraded: Degraded,
    ) -> Result<Option<Db>, ServerError> {
        sqlx::any::install_default_drivers();
        match (location, degraded) {
            (Location::Sqlite(path), Degraded::ReadOnly) => {
                open_sqlite_with(path, "PRAGMA query_only = ON;")
                    .await
                    .map(Some)
            }
            (Location::Sqlite(path), Degraded::Full) => {
                let db = open_sqlite(path).await?;
                let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
                    .fetch_one(&db.pool)
                    .await?;
                db.close().await;
                open_sqlite_with(path, &format!("PRAGMA max_page_count = {pages};"))
                    .await
                    .map(Some)
            }
            (Location::Postgres(url), Degraded::ReadOnly) => {
                let separator = if url.contains('?') { '&' } else { '?' };
                let url =
                    format!("{url}{separator}options=-c%20default_transaction_read_only%3Don");
                open_postgres(&url).await.map(Some)
            }
            (Location::Postgres(_), Degraded::Full) => Ok(None),
        }
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The pool, for statements that run on their own (each is its own transaction).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// A transaction that only reads, with one snapshot for all its queries (on PostgreSQL,
    /// REPEATABLE READ READ ONLY; a plain transaction sees each statement's own snapshot
    /// there).
    pub async fn begin_read(&self) -> Result<Tx, sqlx::Error> {
        self.pool
            .begin_with(match self.engine {
                Engine::Sqlite => "BEGIN",
                Engine::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            })
            .await
    }

    /// Runs `work` in a write transaction and commits it: the one way to change data.
    ///
    /// ```no_run
    /// # use threadline_storage::db::{Conn, Db};
    /// async fn rename(conn: &mut Conn, org: &str, name: &str) -> Result<u64, sqlx::Error> {
    ///     let done = sqlx::query("UPDATE organisations SET name = $1 WHERE id = $2")
    ///         .bind(name)
    ///         .bind(org)
    ///         .execute(conn)
    ///         .await?;
    ///     Ok(done.rows_affected())
    /// }
    ///
    /// # async fn example(db: &Db, org: String) -> Result<(), sqlx::Error> {
    /// let name = String::from("Acme");
    /// let renamed = db.write(|tx| Box::pin(rename(tx, &org, &name))).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// The outcome is as if write transactions ran one after another, on both engines: on
    /// SQLite they do (`BEGIN IMMEDIATE` takes the write lock at once, and the others wait
    /// for it); on PostgreSQL they run side by side at SERIALIZABLE isolation, and one that
    /// conflicts with another fails and is run again. So `work` may run more than once: it
    /// must not do anything but database work (build the answer from what it returns).
    /// A transient failure (serialization failure, deadlock, SQLite busy) is retried, with a
    /// short random pause, up to [`MAX_WRITE_ATTEMPTS`] times within [`RETRY_BUDGET`]; after
    /// that the error is returned (the API answers 503 `unavailable`).
    pub async fn write<'env, T, E, F>(&self, mut work: F) -> Result<T, E>
    where
        F: for<'t> FnMut(&'t mut WriteTx<'env>) -> BoxFuture<'t, Result<T, E>>,
        E: From<sqlx::Error> + DbFailure,
    {
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let result: Result<T, E> = async {
                let mut tx = WriteTx {
                    tx: self.begin_write().await?,
                    env: PhantomData,
                };
                let value = work(&mut tx).await?;
                tx.tx.commit().await?;
                Ok(value)
            }
            .await;
            match result {
                Err(e)
                    if attempt < MAX_WRITE_ATTEMPTS
                        && started.elapsed() < RETRY_BUDGET
                        && e.database_error().is_some_and(is_transient) =>
                {
                    tracing::debug!(
                        attempt,
                        "a write transaction met a conflict; running it again"
                    );
                    tokio::time::sleep(retry_pause(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        self.pool
            .begin_with(match self.engine {
                Engine::Sqlite => "BEGIN IMMEDIATE",
                Engine::Postgres => "BEGIN ISOLATION LEVEL SERIALIZABLE",
            })
            .await
    }

    /// The versions of the migrations this build knows that the database has not applied
    /// (successfully): empty when the schema is up to date. For the readiness check.
    pub async fn pending_migrations(&self) -> Result<Vec<i64>, sqlx::Error> {
        // `success` is a BOOLEAN on PostgreSQL and 0/1 on SQLite: compare, never decode it.
        let applied: Vec<i64> = sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success = TRUE ORDER BY version",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(MIGRATOR
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .map(|m| m.version)
            .filter(|v| !applied.contains(v))
            .collect())
    }

    /// Closes every connection (waits for those in use).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A random pause before try `attempt + 1`: up to 2 ms × 2^attempt, at most 100 ms.
fn retry_pause(attempt: u32) -> Duration {
    let ceiling_ms = (2u64 << attempt.min(6)).min(100);
    let random = u64::from(getrandom::u32().unwrap_or(u32::MAX / 2));
    Duration::from_micros(random % (ceiling_ms * 1000))
}

async fn open_sqlite(path: &Path) -> Result<Db, ServerError> {
    open_sqlite_with(path, "").await
}

/// [`open_sqlite`], with `extra_pragmas` run on every new connection after the usual ones.
async fn open_sqlite_with(path: &Path, extra_pragmas: &str) -> Result<Db, ServerError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let cannot = |what: &str, e: std::io::Error| {
        ServerError::Invalid(format!(
            "cannot {what} the data directory {}: {e}",
            dir.display()
        ))
    };
    crate::files::create_private_dir_all(dir).map_err(|e| cannot("create", e))?;
    let dir = std::fs::canonicalize(dir).map_err(|e| cannot("find", e))?;
    let file = dir.join(path.file_name().unwrap_or(DB_FILE.as_ref()));
    // Made here, empty (an empty file is an empty database), so that it is 0600 whatever the
    // umask: SQLite would make it 0644, and gives its WAL and shared-memory files the
    // database file's mode.
    match crate::files::create_new_private().open(&file) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            crate::files::warn_if_open_to_others(&file, "database file");
        }
        Err(e) => {
            return Err(ServerError::Invalid(format!(
                "cannot create the database file {}: {e}",
                file.display()
            )))
        }
    }
    // Percent-encoded, so that any path survives the URL (the SQLite driver decodes it).
    let file_url = url::Url::from_file_path(&file).map_err(|()| {
        ServerError::Invalid(format!("cannot use {} as a database file", file.display()))
    })?;
    let options =
        sqlx::any::AnyConnectOptions::from_str(&format!("sqlite://{}?mode=rwc", file_url.path()))?;
    // The busy timeout first: switching to WAL may itself wait for a lock.
    let pragmas = format!(
        "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
         PRAGMA foreign_keys = ON; {extra_pragmas}",
        SQLITE_BUSY_TIMEOUT.as_millis()
    );
    let pool = AnyPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(15))
        .after_connect(move |conn, _| {
            let pragmas = pragmas.clone();
            Box::pin(async move {
                conn.execute(sqlx::raw_sql(&pragmas)).await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await?;
    Ok(Db {
        pool,
        engine: Engine::Sqlite,
    })
}

async fn open_postgres(url: &str) -> Result<Db, ServerError> {
    let redacted = redact_url(url);
    let options = sqlx::any::AnyConnectOptions::from_str(url).map_err(|e| {
        ServerError::Invalid(format!("the database URL {redacted} is not valid: {e}"))
    })?;
    let pool = AnyPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(15))
        .connect_with(options)
        .await
        .map_err(|e| {
            ServerError::Invalid(format!("cannot connect to the database {redacted}: {e}"))
        })?;
    check_postgres_text_rules(&pool).await?;
    Ok(Db {
        pool,
        engine: Engine::Postgres,
    })
}

#[derive(sqlx::FromRow)]
struct PgTextRules {
    database: String,
    encoding: String,
    collate: String,
    ctype: String,
    like_sqlite: bool,
}

/// Refuses a PostgreSQL database whose text rules are not SQLite's: UTF-8, ordered by bytes
/// (the C collation) and `lower()` on ASCII letters only (the C character classes).
async fn check_postgres_text_rules(pool: &Pool) -> Result<(), ServerError> {
    let rules: PgTextRules = sqlx::query_as(
        "SELECT CAST(datname AS TEXT) AS database,
                current_setting('server_encoding') AS encoding,
                CAST(datcollate AS TEXT) AS collate, CAST(datctype AS TEXT) AS ctype,
                ('B' < 'a' AND 'a' < 'b' AND lower('ÉA') = 'Éa') AS like_sqlite
         FROM pg_database WHERE datname = current_database()",
    )
    .fetch_one(pool)
    .await?;
    if rules.encoding == "UTF8" && rules.like_sqlite {
        return Ok(());
    }
    Err(ServerError::Invalid(format!(
        "the PostgreSQL database {db} has encoding {enc}, collation {collate} and character \
         classes {ctype}; Threadline needs UTF8 and the C locale, so that text sorts and compares \
         as on SQLite. Create the database with: CREATE DATABASE {db} TEMPLATE template0 \
         ENCODING 'UTF8' LOCALE 'C'",
        db = rules.database,
        enc = rules.encoding,
        collate = rules.collate,
        ctype = rules.ctype,
    )))
}

/// The current time as stored: RFC 3339, UTC, microseconds, `Z` (always 27 characters for
/// years 1000 to 9999, so that text order is time order).
pub fn now() -> String {
    format_time(Utc::now())
}

pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses a stored timestamp.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, sqlx::Error> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| bad_value(format!("bad timestamp {s:?} in the database: {e}")))
}

/// Parses a stored UUID.
pub fn parse_uuid(s: &str) -> Result<Uuid, sqlx::Error> {
    Uuid::parse_str(s).map_err(|e| bad_value(format!("bad id {s:?} in the database: {e}")))
}

/// A stored value that does not read as what its column holds (a bug or a damaged row).
fn bad_value(message: String) -> sqlx::Error {
    sqlx::Error::Decode(message.into())
}

/// A new id: UUIDv7, so that ids created together sit together in indexes.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// How an id is stored.
pub fn id_text(id: Uuid) -> String {
    id.hyphenated().to_string()
}

/// The steps of the engine's plan for `query` (SQLite's `EXPLAIN QUERY PLAN` details, or
/// PostgreSQL's `EXPLAIN` lines with sequential scans disabled, as if the tables were
/// large), for tests that check that a query is indexed.
pub async fn query_plan(db: &Db, query: Sql<'_>) -> Result<Vec<String>, sqlx::Error> {
    match db.engine {
        Engine::Sqlite => {
            let rows: Vec<(i64, i64, i64, String)> = query
                .prefixed("EXPLAIN QUERY PLAN ")
                .build_query_as()
                .fetch_all(&db.pool)
                .await?;
            Ok(rows.into_iter().map(|(_, _, _, detail)| detail).collect())
        }
        Engine::Postgres => {
            let mut tx = db.pool.begin().await?;
            tx.execute("SET LOCAL enable_seqscan = off").await?;
            let lines: Vec<String> = query
                .prefixed("EXPLAIN ")
                .build_query_scalar()
                .fetch_all(&mut *tx)
                .await?;
            tx.rollback().await?;
            Ok(lines)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_picks_the_engine() {
        let dir = Path::new("/srv/threadline");
        let sqlite = Location::Sqlite(dir.join("threadline.db"));
        assert_eq!(Location::choose(dir, None).unwrap(), sqlite);
        assert_eq!(Location::choose(dir, Some("  ")).unwrap(), sqlite);
        for url in ["postgres://tl@db/crm", "postgresql://tl@db/crm"] {
            let location = Location::choose(dir, Some(url)).unwrap();
            assert_eq!(location, Location::Postgres(url.to_string()));
            assert_eq!(location.engine(), Engine::Postgres);
        }
        let refused = Location::choose(dir, Some("sqlite://x.db")).unwrap_err();
        assert!(
            refused.to_string().contains("not a postgres:// URL"),
            "{refused}"
        );
    }

    #[test]
    fn a_location_is_shown_without_its_password() {
        let location =
            Location::Postgres("postgres://tl:s3cret@db:5432/crm?sslmode=require".into());
        assert_eq!(
            location.to_string(),
            "postgres://tl:***@db:5432/crm?sslmode=require"
        );
        assert!(!format!("{location:?}").contains("s3cret"));
        assert_eq!(redact_url("postgres://tl@db/crm"), "postgres://tl@db/crm");
        assert!(!redact_url("postgres://tl:s3cret@[bad").contains("s3cret"));
        let refused =
            Location::choose(Path::new("."), Some("mysql://root:s3cret@db/x")).unwrap_err();
        assert!(!refused.to_string().contains("s3cret"), "{refused}");
    }

    #[test]
    fn retry_pauses_grow_and_stay_short() {
        for attempt in 1..MAX_WRITE_ATTEMPTS {
            let ceiling = Duration::from_millis((2u64 << attempt.min(6)).min(100));
            assert!(retry_pause(attempt) < ceiling);
        }
        assert!(retry_pause(30) < Duration::from_millis(100));
    }
}
