//! The one error type of the HTTP API, and the server's error for everything else.
//!
//! Every non-2xx answer is a JSON [`ErrorBody`] with a stable `code`:
//!
//! | status | code | when |
//! | --- | --- | --- |
//! | 400 | `invalid_json` | the body is not JSON (syntax error, truncated, not UTF-8) |
//! | 400 | `invalid_header` | a header (e.g. `Idempotency-Key`) is malformed |
//! | 400 | `invalid_path` | the path's percent-encoding is malformed or not UTF-8 |
//! | 401 | `unauthorized` | missing, malformed, unknown or revoked bearer token |
//! | 404 | `not_found` | no such route |
//! | 405 | `method_not_allowed` | the route exists, not with this method |
//! | 408 | `request_timeout` | the request's body stalled (`serve`'s body timeout); the connection is closed |
//! | 409 | `idempotency_key_in_progress` | the same `Idempotency-Key` is being processed right now |
//! | 409 | `provider_not_configured` | connecting a provider the server has no OAuth client for |
//! | 413 | `payload_too_large` | the body is over the 1 MiB limit |
//! | 415 | `unsupported_media_type` | a body without `Content-Type: application/json` |
//! | 422 | `invalid_body` | JSON of the wrong shape: unknown or missing field, wrong type |
//! | 422 | `invalid_field` | a field's value is not acceptable (`field` names it) |
//! | 422 | `not_found` | a referenced record is not in the caller's organisation (`field` names it) |
//! | 422 | `idempotency_key_reused` | an `Idempotency-Key` sent again with another request |
//! | 429 | `rate_limited` | over the token's (or address's) request rate (`rate_limit`); `Retry-After` says when to retry |
//! | 502 | `provider_error` | a provider (Google) failed or refused a call made for the request |
//! | 503 | `unavailable` | the database is busy (write conflicts retried in vain, no free connection), or the server has too many connections open; retry |
//! | 503 | `read_only` | the database takes no writes (read-only file, standby); reads still work |
//! | 507 | `storage_full` | the disk (or the database's limit) is full; nothing was changed |
//! | 500 | `internal` | a bug or an I/O failure (details only in the server log) |

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use threadline_connections::oauth::Error as OAuthError;
use threadline_connections::Error as ConnectionError;
use threadline_crm::error::{CrmError, Reason};
use threadline_domain::api::{ErrorBody, ErrorDetail};
use threadline_sync_engine::schedule::SyncNowError;
use threadline_sync_engine::SyncError;

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

pub use threadline_storage::errors::{
    is_transient, is_unavailable, is_unique_violation, storage_condition, DbFailure,
    StorageCondition,
};
/// Errors of the server outside a request: start-up, the CLI's commands.
pub use threadline_storage::Error as ServerError;

impl DbFailure for ApiError {
    fn database_error(&self) -> Option<&sqlx::Error> {
        match self {
            ApiError::Database(e) => Some(e),
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

/// The CRM model's refusals as HTTP answers: the one place a [`Reason`] becomes a status.
impl From<CrmError> for ApiError {
    fn from(e: CrmError) -> Self {
        match e {
            CrmError::Request {
                reason,
                code,
                message,
                field,
            } => ApiError::Request {
                status: status_of(reason),
                code,
                message,
                field,
            },
            CrmError::Database(e) => ApiError::Database(e),
            CrmError::Internal(message) => ApiError::Internal(message),
        }
    }
}

fn status_of(reason: Reason) -> StatusCode {
    match reason {
        Reason::BadInput => StatusCode::BAD_REQUEST,
        Reason::Unacceptable => StatusCode::UNPROCESSABLE_ENTITY,
        Reason::Forbidden => StatusCode::FORBIDDEN,
        Reason::NotFound => StatusCode::NOT_FOUND,
        Reason::Conflict => StatusCode::CONFLICT,
        Reason::StaleVersion => StatusCode::PRECONDITION_FAILED,
        Reason::VersionRequired => StatusCode::PRECONDITION_REQUIRED,
        Reason::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Reason::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
        Reason::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// A connection's errors as HTTP answers, through the CRM model's terms.
impl From<ConnectionError> for ApiError {
    fn from(e: ConnectionError) -> Self {
        ApiError::from(CrmError::from(e))
    }
}

/// OAuth's errors (connecting an account) as HTTP answers.
impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> Self {
        match e {
            OAuthError::NotConfigured(_) => ApiError::new(
                StatusCode::CONFLICT,
                "provider_not_configured",
                e.to_string(),
            ),
            OAuthError::NotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
            OAuthError::Disconnected(_) | OAuthError::NeedsReauth { .. } => {
                ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string())
            }
            OAuthError::Transient { .. } | OAuthError::Refused(_) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "provider_error", e.to_string())
            }
            OAuthError::Storage(e) => ApiError::from(e),
        }
    }
}

/// A sync's errors, met by a route that calls the provider for the user, as HTTP answers.
impl From<SyncError> for ApiError {
    fn from(e: SyncError) -> Self {
        match e {
            // Routes take no lease; kept exhaustive so a new kind is mapped on purpose.
            SyncError::Retryable { .. } | SyncError::LeaseLost | SyncError::TokenRejected(_) => {
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    e.to_string(),
                )
            }
            SyncError::NeedsReauth(_) => {
                ApiError::new(StatusCode::CONFLICT, "needs_reauth", e.to_string())
            }
            SyncError::RefusedForReview(_) => {
                ApiError::new(StatusCode::CONFLICT, "needs_review", e.to_string())
            }
            SyncError::Fatal(m) => ApiError::internal(m),
        }
    }
}

/// "Sync now" or a review that started nothing: 409 with why.
impl From<SyncNowError> for ApiError {
    fn from(e: SyncNowError) -> Self {
        match e {
            SyncNowError::Database(e) => ApiError::Database(e),
            refused => ApiError::new(StatusCode::CONFLICT, "conflict", refused.to_string()),
        }
    }
}

/// The storage layer's errors (an account's writes) as HTTP answers: a database failure
/// as such, anything else is the server's fault.
impl From<ServerError> for ApiError {
    fn from(e: ServerError) -> Self {
        match e {
            ServerError::Database(e) => ApiError::Database(e),
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl From<ApiError> for ServerError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Database(e) => ServerError::Database(e),
            other => ServerError::Invalid(other.to_string()),
        }
    }
}
