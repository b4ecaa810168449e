//! Drive's errors, in Google's v1 envelope (`GoogleError`) with Drive's reasons and
//! messages. Seen in answers quoted in public issues: `notFound` "File not found: <id>."
//! (location `fileId`), `invalidParameter` "Invalid field selection <name>" (location
//! `fields`), `fileNotDownloadable` (location `alt`, research §1.3). The others are Google's
//! generic reasons with a message of ours.

use axum::http::StatusCode;

use crate::google::GoogleError;

/// 404 `notFound` "File not found: <id>." (location `fileId`).
pub(crate) fn file_not_found(id: &str) -> GoogleError {
    GoogleError::new(
        StatusCode::NOT_FOUND,
        "global",
        "notFound",
        format!("File not found: {id}."),
    )
    .at("parameter", "fileId")
}

/// 400 `invalid` "Invalid Value" about a query parameter.
pub(crate) fn invalid_value(parameter: &str) -> GoogleError {
    GoogleError::new(
        StatusCode::BAD_REQUEST,
        "global",
        "invalid",
        "Invalid Value",
    )
    .at("parameter", parameter)
}

/// 400 `invalid` about a parameter, with a message.
pub(crate) fn invalid_parameter(parameter: &str, message: impl Into<String>) -> GoogleError {
    GoogleError::new(StatusCode::BAD_REQUEST, "global", "invalid", message)
        .at("parameter", parameter)
}

/// 400 `invalidParameter` "Invalid field selection <name>" (location `fields`).
pub(crate) fn invalid_field_selection(name: &str) -> GoogleError {
    GoogleError::new(
        StatusCode::BAD_REQUEST,
        "global",
        "invalidParameter",
        format!("Invalid field selection {name}"),
    )
    .at("parameter", "fields")
}

/// 400 `required` "Required parameter: <name>".
pub(crate) fn required_parameter(name: &str) -> GoogleError {
    GoogleError::new(
        StatusCode::BAD_REQUEST,
        "global",
        "required",
        format!("Required parameter: {name}"),
    )
    .at("parameter", name)
}

/// 400 `badRequest` with a message.
pub(crate) fn bad_request(message: impl Into<String>) -> GoogleError {
    GoogleError::new(StatusCode::BAD_REQUEST, "global", "badRequest", message)
}

/// 403 `fileNotDownloadable`: `alt=media` on a Google Workspace file, a folder or a
/// shortcut.
pub(crate) fn not_downloadable() -> GoogleError {
    GoogleError::new(
        StatusCode::FORBIDDEN,
        "global",
        "fileNotDownloadable",
        "Only files with binary content can be downloaded. Use Export with Docs Editors files.",
    )
    .at("parameter", "alt")
}

/// 403 `fieldNotWritable`.
pub(crate) fn field_not_writable(message: impl Into<String>) -> GoogleError {
    GoogleError::new(StatusCode::FORBIDDEN, "global", "fieldNotWritable", message)
}

/// 403 `cannotAddParent`: a file has one parent at most.
pub(crate) fn cannot_add_parent() -> GoogleError {
    GoogleError::new(
        StatusCode::FORBIDDEN,
        "global",
        "cannotAddParent",
        "Increasing the number of parents is not allowed.",
    )
}
