//! What the database's errors mean, whatever the engine: transient conflicts, a full or
//! read-only database, unique violations; and [`Error`], the error of opening and migrating.

/// True when the database could not serve a request now but may in a moment: a transient
/// conflict, or no free connection.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    is_transient(e) || matches!(e, sqlx::Error::PoolTimedOut)
}

/// A database that cannot take writes now, whatever the request: full or read-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageCondition {
    /// SQLite's SQLITE_FULL (disk full, or the page limit), PostgreSQL's 53100 disk_full.
    Full,
    /// SQLite's SQLITE_READONLY, PostgreSQL's 25006 read_only_sql_transaction.
    ReadOnly,
}

pub fn storage_condition(e: &sqlx::Error) -> Option<StorageCondition> {
    let sqlx::Error::Database(db) = e else {
        return None;
    };
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        return match pg.code() {
            "53100" => Some(StorageCondition::Full),
            "25006" => Some(StorageCondition::ReadOnly),
            _ => None,
        };
    }
    match sqlite_primary_code(db.as_ref()) {
        Some(13) => Some(StorageCondition::Full),    // SQLITE_FULL
        Some(8) => Some(StorageCondition::ReadOnly), // SQLITE_READONLY
        _ => None,
    }
}

/// True for a conflict with concurrent transactions that trying again may resolve:
/// PostgreSQL's serialization failure (40001) and deadlock (40P01); SQLite's busy and locked
/// (after its busy timeout, or a snapshot that cannot be upgraded).
pub fn is_transient(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = e else {
        return false;
    };
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        return matches!(pg.code(), "40001" | "40P01");
    }
    matches!(sqlite_primary_code(db.as_ref()), Some(5 | 6)) // SQLITE_BUSY, SQLITE_LOCKED
}

/// SQLite's primary result code, for an SQLite error (the low byte of the extended one).
fn sqlite_primary_code(db: &dyn sqlx::error::DatabaseError) -> Option<i32> {
    db.try_downcast_ref::<sqlx::sqlite::SqliteError>()?;
    db.code()
        .and_then(|c| c.parse::<i32>().ok())
        .map(|c| c & 0xff)
}

/// True when `e` is a UNIQUE (or primary key) violation, on either engine.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// The database error behind an error, if that is what it is: lets [`crate::db::Db::write`]
/// tell a transient conflict from any other failure, whatever the caller's error type.
pub trait DbFailure {
    fn database_error(&self) -> Option<&sqlx::Error>;
}

impl DbFailure for sqlx::Error {
    fn database_error(&self) -> Option<&sqlx::Error> {
        Some(self)
    }
}

impl DbFailure for Error {
    fn database_error(&self) -> Option<&sqlx::Error> {
        match self {
            Error::Database(e) => Some(e),
            _ => None,
        }
    }
}

/// Errors outside a request: opening and migrating the database, start-up, commands.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A bad argument or an impossible request, said for a person.
    #[error("{0}")]
    Invalid(String),
}
