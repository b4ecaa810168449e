//! The one error type of the HTTP API, and the server's error for everything else.
//!
//! Every non-2xx answer is a JSON [`ErrorBody`] with a stable `code`:
//!
//! | status | code | when |
//! | --- | --- | --- |
//! | 400 | `invalid_json` | the body is not JSON (syntax error, truncated, not UTF-8) |
//! | 400 | `invalid_header` | a header (e.g. `Idempotency-Key`) is malformed |
//! | 401 | `unauthorized` | missing, malformed, unknown or revoked bearer token |
//! | 404 | `not_found` | no such route |
//! | 405 | `method_not_allowed` | the route exists, not with this method |
//! | 409 | `idempotency_key_in_progress` | the same `Idempotency-Key` is being processed right now |
//! | 409 | `provider_not_configured` | connecting a provider the server has no OAuth client for |
//! | 413 | `payload_too_large` | the body is over the 1 MiB limit |
//! | 415 | `unsupported_media_type` | a body without `Content-Type: application/json` |
//! | 422 | `invalid_body` | JSON of the wrong shape: unknown or missing field, wrong type |
//! | 422 | `invalid_field` | a field's value is not acceptable (`field` names it) |
//! | 422 | `not_found` | a referenced record is not in the caller's organisation (`field` names it) |
//! | 422 | `idempotency_key_reused` | an `Idempotency-Key` sent again with another request |
//! | 502 | `provider_error` | a provider (Google) failed or refused a call made for the request |
//! | 503 | `unavailable` | the database is busy (write conflicts retried in vain, no free connection); retry |
//! | 503 | `read_only` | the database takes no writes (read-only file, standby); reads still work |
//! | 507 | `storage_full` | the disk (or the database's limit) is full; nothing was changed |
//! | 500 | `internal` | a bug or an I/O failure (details only in the server log) |

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use threadline_domain::api::{ErrorBody, ErrorDetail};

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The client's fault (or a condition the client can act on): shown as it is.
    #[error("{message}")]
    Request {
        status: StatusCode,
        code: &'static str,
        message: String,
        field: Option<String>,
    },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Request {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// Attaches the request field at fault.
    pub fn with_field(self, field: impl Into<String>) -> Self {
        match self {
            ApiError::Request {
                status,
                code,
                message,
                ..
            } => ApiError::Request {
                status,
                code,
                message,
                field: Some(field.into()),
            },
            other => other,
        }
    }

    /// 422 `invalid_field`: the value of `field` is not acceptable.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message).with_field(field)
    }

    /// 422 `not_found`: `field` references a record that is not in the caller's organisation.
    pub fn unknown_record(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "not_found", message).with_field(field)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::Internal(message.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Request { status, .. } => *status,
            ApiError::Database(e) if is_unavailable(e) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Database(e) => match storage_condition(e) {
                Some(StorageCondition::Full) => StatusCode::INSUFFICIENT_STORAGE,
                Some(StorageCondition::ReadOnly) => StatusCode::SERVICE_UNAVAILABLE,
                None => StatusCode::INTERNAL_SERVER_ERROR,
            },
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The wire body of this error.
    pub fn body(&self) -> ErrorBody {
        let (code, message, field) = match self {
            ApiError::Request {
                code,
                message,
                field,
                ..
            } => ((*code).to_string(), message.clone(), field.clone()),
            ApiError::Database(e) if is_unavailable(e) => (
                "unavailable".to_string(),
                "the database is busy; retry in a moment".to_string(),
                None,
            ),
            ApiError::Database(e) if storage_condition(e) == Some(StorageCondition::Full) => (
                "storage_full".to_string(),
                "the server's storage is full: nothing was changed; retry once space is freed"
                    .to_string(),
                None,
            ),
            ApiError::Database(e) if storage_condition(e) == Some(StorageCondition::ReadOnly) => (
                "read_only".to_string(),
                "the database takes no changes right now (it is read-only): nothing was \
                 changed; reading works, retry changes later"
                    .to_string(),
                None,
            ),
            ApiError::Database(_) | ApiError::Internal(_) => (
                "internal".to_string(),
                "something went wrong on the server; the details are in its log".to_string(),
                None,
            ),
        };
        ErrorBody {
            error: ErrorDetail {
                code,
                message,
                field,
            },
        }
    }
}

/// True when the database could not serve the request now but may in a moment: a
/// transient conflict, or no free connection.
fn is_unavailable(e: &sqlx::Error) -> bool {
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

impl DbFailure for ApiError {
    fn database_error(&self) -> Option<&sqlx::Error> {
        match self {
            ApiError::Database(e) => Some(e),
            _ => None,
        }
    }
}

impl DbFailure for ServerError {
    fn database_error(&self) -> Option<&sqlx::Error> {
        match self {
            ServerError::Database(e) => Some(e),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            ApiError::Request { .. } => {}
            ApiError::Database(_) | ApiError::Internal(_) => {
                tracing::error!(error = %self, "request failed");
            }
        }
        let mut response = (status, axum::Json(self.body())).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// Errors of the server outside a request: start-up, the CLI's commands.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
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

impl From<ApiError> for ServerError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Database(e) => ServerError::Database(e),
            other => ServerError::Invalid(other.to_string()),
        }
    }
}
