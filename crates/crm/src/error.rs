//! The CRM model's one error type. It says *what* went wrong in the model's terms
//! ([`Reason`]) with a stable `code`, a message for a person and the field at fault; the
//! HTTP layer turns it into an answer in one place (`threadline-http`'s `CrmError`), the CLI
//! prints it.

pub use threadline_storage::errors::{is_transient, is_unique_violation, DbFailure};
/// Errors outside a request (the commands: accounts, the contact intake).
pub use threadline_storage::Error as ServerError;

/// Why a request of the model was refused: the kinds of refusal a client can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The input is malformed (a bad cursor, a broken upload, a bad query parameter).
    BadInput,
    /// A field's value, or a reference it holds, is not acceptable.
    Unacceptable,
    /// The caller may see this, but not do that to it (another user's private email).
    Forbidden,
    /// No such thing for this caller.
    NotFound,
    /// The change conflicts with what is there (a name taken, a folder moved into itself).
    Conflict,
    /// The change was made against a version that is no longer the current one.
    StaleVersion,
    /// The change must say which version it was made against.
    VersionRequired,
    /// The content is larger than the model keeps.
    TooLarge,
    /// There is no room to keep it; nothing was changed.
    StorageFull,
    /// Not now; retry later.
    Unavailable,
}

/// An error of the CRM model.
#[derive(Debug, thiserror::Error)]
pub enum CrmError {
    /// Refused for a reason the caller can act on: shown as it is.
    #[error("{message}")]
    Request {
        reason: Reason,
        code: &'static str,
        message: String,
        field: Option<String>,
    },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type CrmResult<T> = Result<T, CrmError>;

impl CrmError {
    pub fn new(reason: Reason, code: &'static str, message: impl Into<String>) -> Self {
        CrmError::Request {
            reason,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// Attaches the field at fault.
    pub fn with_field(self, field: impl Into<String>) -> Self {
        match self {
            CrmError::Request {
                reason,
                code,
                message,
                ..
            } => CrmError::Request {
                reason,
                code,
                message,
                field: Some(field.into()),
            },
            other => other,
        }
    }

    /// `invalid_field`: the value of `field` is not acceptable.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Reason::Unacceptable, "invalid_field", message).with_field(field)
    }

    /// `not_found` on a field: `field` references a record that is not in the caller's
    /// organisation.
    pub fn unknown_record(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Reason::Unacceptable, "not_found", message).with_field(field)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        CrmError::Internal(message.into())
    }

    /// The reason of a refusal; `None` for a database failure or a bug.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            CrmError::Request { reason, .. } => Some(*reason),
            _ => None,
        }
    }

    /// The stable code of a refusal; `None` for a database failure or a bug.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            CrmError::Request { code, .. } => Some(code),
            _ => None,
        }
    }
}

impl threadline_storage::errors::DbFailure for CrmError {
    fn database_error(&self) -> Option<&sqlx::Error> {
        match self {
            CrmError::Database(e) => Some(e),
            _ => None,
        }
    }
}

impl From<CrmError> for ServerError {
    fn from(e: CrmError) -> Self {
        match e {
            CrmError::Database(e) => ServerError::Database(e),
            other => ServerError::Invalid(other.to_string()),
        }
    }
}
