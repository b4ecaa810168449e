//! The database: opening it, migrating it, and the conventions every query follows.
//!
//! SQLite for now (one file under the data directory, WAL mode, foreign keys on). The SQL is
//! kept portable so that PostgreSQL can be added later: `$N` placeholders (or
//! [`sqlx::QueryBuilder`] binds), UUIDs as TEXT, timestamps as fixed-width RFC 3339 UTC TEXT
//! ([`now`], [`parse_time`]), booleans as INTEGER 0/1, `ON CONFLICT … DO NOTHING` for
//! idempotent inserts. [`Db`] and [`Pool`] are the only places that name the backend.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use uuid::Uuid;

use crate::error::{ApiError, ServerError};

/// The database backend.
pub type Db = sqlx::Sqlite;
/// A pool of connections to [`Db`].
pub type Pool = sqlx::Pool<Db>;
/// One connection (also what a transaction derefs to).
pub type Conn = <Db as sqlx::Database>::Connection;
/// An open transaction.
pub type Tx = sqlx::Transaction<'static, Db>;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "threadline.db";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The database file for a data directory.
pub fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DB_FILE)
}

/// Opens (creating if needed) the database in `data_dir` and brings its schema up to date.
pub async fn open(data_dir: &Path) -> Result<Pool, ServerError> {
    std::fs::create_dir_all(data_dir).map_err(|e| {
        ServerError::Invalid(format!(
            "cannot create data directory {}: {e}",
            data_dir.display()
        ))
    })?;
    let options = SqliteConnectOptions::from_str("sqlite:")?
        .filename(db_path(data_dir))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(15))
        .connect_with(options)
        .await?;
    migrate(&pool).await?;
    Ok(pool)
}

/// Applies the migrations in `migrations/` that the database does not have yet.
pub async fn migrate(pool: &Pool) -> Result<(), ServerError> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// Begins a transaction that will write. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`), so concurrent writers queue on the busy timeout instead of failing
/// when a read lock cannot be upgraded, and a read inside the transaction sees the latest
/// committed state.
pub async fn begin_write(pool: &Pool) -> Result<Tx, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

/// The current time as stored: RFC 3339, UTC, microseconds, `Z`.
pub fn now() -> String {
    format_time(Utc::now())
}

pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses a stored timestamp.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| ApiError::internal(format!("bad timestamp {s:?} in the database: {e}")))
}

/// Parses a stored UUID.
pub fn parse_uuid(s: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(s).map_err(|e| ApiError::internal(format!("bad id {s:?} in the database: {e}")))
}

/// A new id: UUIDv7, so that ids created together sit together in indexes.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// How an id is stored.
pub fn id_text(id: Uuid) -> String {
    id.hyphenated().to_string()
}

/// Starts `SELECT …` / `… IN (` building with `QueryBuilder`; binds `values` separated by
/// commas and closes the parenthesis. `values` must not be empty.
pub fn push_in_list<'a, T>(qb: &mut sqlx::QueryBuilder<'a, Db>, values: impl IntoIterator<Item = T>)
where
    T: 'a + sqlx::Encode<'a, Db> + sqlx::Type<Db> + Send,
{
    qb.push("(");
    let mut separated = qb.separated(", ");
    for v in values {
        separated.push_bind(v);
    }
    separated.push_unseparated(")");
}

/// SQLite's plan for `sql` (its `detail` lines), for tests that check a query is indexed.
#[cfg(test)]
pub async fn query_plan(pool: &Pool, sql: &str) -> Vec<String> {
    let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
        .fetch_all(pool)
        .await
        .expect("EXPLAIN QUERY PLAN");
    rows.into_iter().map(|(_, _, _, detail)| detail).collect()
}
