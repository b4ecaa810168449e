//! Dropbox API v2's error envelope, and the faults only Dropbox has.
//!
//! What a client sees, by status:
//! - 400: bad input, a plain-text body (`text/plain; charset=utf-8`), e.g.
//!   `Error in call to API function "files/list_folder": request body: could not decode input
//!   as JSON`. Not to be retried.
//! - 401: `{"error_summary": "expired_access_token/..", "error": {".tag": "expired_access_token"}}`,
//!   the `error` an `auth.AuthError` (`invalid_access_token`, `expired_access_token`,
//!   `missing_scope`, `user_suspended`, …). The SDKs refresh once on `expired_access_token`.
//! - 403: the same envelope around an `auth.AccessError` (the account may not use the endpoint
//!   or feature), e.g. `invalid_account_type/endpoint`.
//! - 409: endpoint-specific, the route's own error union, e.g. `{"error_summary":
//!   "path/not_found/..", "error": {".tag": "path", "path": {".tag": "not_found"}}}`.
//! - 429: `{"error_summary": "too_many_requests/..", "error": {"reason": {".tag":
//!   "too_many_requests"}, "retry_after": 300}}` (an `auth.RateLimitError`) with a
//!   `Retry-After` header; `too_many_write_operations` (lock contention in the namespace, not
//!   traffic) comes without `retry_after` in the body; a 429 body may also be plain text,
//!   meaning `too_many_requests`.
//! - 5xx: a server error; the body is text.
//!
//! `error` is a Stone union value: `.tag` names the member; a member whose value is a union
//! nests that union under the member's name; a struct member's fields sit beside `.tag`.
//! `error_summary` is the chain of tags joined by `/`, then `/` and a run of dots whose length
//! Dropbox varies (`expired_access_token/`, `too_many_write_operations/.`, `path/not_found/..`
//! are all seen) so that no one compares it: clients read `error`. The fake always writes two
//! dots.
//!
//! Checked against:
//! - the HTTP reference's errors and the Error Handling Guide
//!   (<https://developers.dropbox.com/error-handling-guide>): 400 bad request, 401 token
//!   invalid, expired or lacking permission, 403 no access to the endpoint or feature, 409
//!   endpoint-specific, 429 rate limited, 5xx server errors; "JSON or plaintext bodies";
//! - "A preview of the new Dropbox API v2" (<https://dropbox.tech/developers/a-preview-of-the-new-dropbox-api-v2>):
//!   a call-specific failure always gets a 409 with a stable, documented identifier in the body;
//! - "Rate Limits, Retries, and Data Ingress at Scale"
//!   (<https://www.dropbox.com/developers/reference/data-ingress-guide>): a 429 body may be JSON
//!   or plain text; JSON carries `reason` `too_many_requests` or `too_many_write_operations`;
//!   plain text is to be read as `too_many_requests`;
//! - the Performance Guide (<https://developers.dropbox.com/dbx-performance-guide>): rate
//!   limited responses always include a `Retry-After` header;
//! - the Stone spec, `auth.stone` (github.com/dropbox/dropbox-api-spec at 0d994eb):
//!   `AuthError`, `AccessError`, `InvalidAccountTypeError`, `RateLimitReason`,
//!   `RateLimitError { reason, retry_after: UInt64 = 1 }`;
//! - dropbox-sdk-rust `src/client_helpers.rs` (`parse_response`): reads 400 and 5xx bodies as
//!   text, 401 / 403 / 409 / 429 as JSON `{"error": …}` beside `error_summary` and an optional
//!   `user_message`; `retry_after` absent from too_many_write_operations answers;
//! - our research, `shared/research/sync-apis.md` §1.4 (observed bodies, `Retry-After: 1`).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Value};

use crate::faults::Fault;

/// `RateLimitError.retry_after`'s default in the spec, in seconds.
pub const DEFAULT_RETRY_AFTER: u64 = 1;

/// A Dropbox error answer: status, body and `Retry-After`.
#[derive(Debug, Clone, PartialEq)]
pub struct DropboxError {
    pub status: StatusCode,
    pub body: DropboxBody,
    /// Seconds, sent as the `Retry-After` header.
    pub retry_after: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DropboxBody {
    /// `{"error_summary": summary, "error": error}`, as `application/json`.
    Json { summary: String, error: Value },
    /// A plain-text message, as `text/plain; charset=utf-8`.
    Text(String),
}

/// A union value from its chain of tags, outermost first: `["path", "not_found"]` is
/// `{".tag": "path", "path": {".tag": "not_found"}}` (every member but the last holds a union,
/// the last is void).
pub fn tagged(tags: &[&str]) -> Value {
    let Some((first, rest)) = tags.split_first() else {
        return Value::Null;
    };
    let mut union = serde_json::Map::new();
    union.insert(".tag".to_string(), json!(first));
    if !rest.is_empty() {
        union.insert(first.to_string(), tagged(rest));
    }
    Value::Object(union)
}

/// `error_summary` for a chain of tags: `path/not_found/..`.
pub fn error_summary(tags: &[&str]) -> String {
    format!("{}/..", tags.join("/"))
}

impl DropboxError {
    /// The JSON envelope: `error` is the union value, `summary_tags` the tags its summary
    /// names (for a struct such as `RateLimitError`, the tags of its `reason`).
    pub fn new(status: StatusCode, summary_tags: &[&str], error: Value) -> Self {
        DropboxError {
            status,
            body: DropboxBody::Json {
                summary: error_summary(summary_tags),
                error,
            },
            retry_after: None,
        }
    }

    /// 409, the route's error union: `endpoint(&["path", "not_found"])`,
    /// `endpoint(&["path", "conflict", "folder"])`, `endpoint(&["reset"])`.
    pub fn endpoint(tags: &[&str]) -> Self {
        DropboxError::new(StatusCode::CONFLICT, tags, tagged(tags))
    }

    /// 401 with a void `AuthError` member.
    pub fn auth(tag: &str) -> Self {
        DropboxError::new(StatusCode::UNAUTHORIZED, &[tag], tagged(&[tag]))
    }

    /// 401 `expired_access_token`: the token was good and has expired (refresh, then retry).
    pub fn expired_access_token() -> Self {
        DropboxError::auth("expired_access_token")
    }

    /// 401 `invalid_access_token`: unknown or revoked (authorise again).
    pub fn invalid_access_token() -> Self {
        DropboxError::auth("invalid_access_token")
    }

    /// 403, an `AccessError`: `access(&["invalid_account_type", "endpoint"])`.
    pub fn access(tags: &[&str]) -> Self {
        DropboxError::new(StatusCode::FORBIDDEN, tags, tagged(tags))
    }

    /// 429 `too_many_requests`: `retry_after` both in the body and as the header, or neither.
    pub fn too_many_requests(retry_after: Option<u64>) -> Self {
        let reason = "too_many_requests";
        let mut error = json!({ "reason": tagged(&[reason]) });
        if let Some(seconds) = retry_after {
            error["retry_after"] = json!(seconds);
        }
        let mut e = DropboxError::new(StatusCode::TOO_MANY_REQUESTS, &[reason], error);
        e.retry_after = retry_after;
        e
    }

    /// 429 `too_many_write_operations`, as Dropbox sends it: the header, no `retry_after` in
    /// the body.
    pub fn too_many_write_operations(retry_after: u64) -> Self {
        let reason = "too_many_write_operations";
        let mut e = DropboxError::new(
            StatusCode::TOO_MANY_REQUESTS,
            &[reason],
            json!({ "reason": tagged(&[reason]) }),
        );
        e.retry_after = Some(retry_after);
        e
    }

    /// 429 with a plain-text body (to be read as `too_many_requests`) and the header.
    pub fn too_many_requests_plain_text(retry_after: u64) -> Self {
        DropboxError {
            status: StatusCode::TOO_MANY_REQUESTS,
            body: DropboxBody::Text("Too Many Requests".to_string()),
            retry_after: Some(retry_after),
        }
    }

    /// 400, plain text naming the route (`files/list_folder`) as Dropbox does.
    pub fn bad_input(function: &str, message: &str) -> Self {
        DropboxError {
            status: StatusCode::BAD_REQUEST,
            body: DropboxBody::Text(format!(
                "Error in call to API function \"{function}\": {message}"
            )),
            retry_after: None,
        }
    }

    /// A 5xx with a plain-text body (Dropbox documents only the status class).
    pub fn server_error(status: StatusCode) -> Self {
        DropboxError {
            status,
            body: DropboxBody::Text(status.canonical_reason().unwrap_or("Error").to_string()),
            retry_after: None,
        }
    }
}

/// The JSON envelope, `error_summary` first as Dropbox writes it.
#[derive(Serialize)]
struct Envelope<'a> {
    error_summary: &'a str,
    error: &'a Value,
}

impl IntoResponse for DropboxError {
    fn into_response(self) -> Response {
        let mut response = match &self.body {
            DropboxBody::Json { summary, error } => (
                self.status,
                axum::Json(Envelope {
                    error_summary: summary,
                    error,
                }),
            )
                .into_response(),
            DropboxBody::Text(text) => (self.status, text.clone()).into_response(),
        };
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Conditions only Dropbox has, injected as [`Fault::Dropbox`]; a rule with one fires on
/// Dropbox's routes only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropboxFault {
    /// 429 `too_many_write_operations`: lock contention in the namespace (writes to serialise),
    /// with `Retry-After: N` and no `retry_after` in the body.
    TooManyWriteOperations { retry_after: u64 },
    /// 429 with a plain-text body, which Dropbox may send instead of JSON, and
    /// `Retry-After: N`.
    TooManyRequestsPlainText { retry_after: u64 },
    /// 401 `invalid_access_token` (unknown or revoked), where the neutral
    /// [`Fault::Unauthorized`] answers `expired_access_token`.
    InvalidAccessToken,
    /// 409, a route's own error by its tags, outermost first: `&["reset"]` (a
    /// `list_folder/continue` cursor to drop), `&["path", "conflict", "folder"]`,
    /// `&["path_lookup", "not_found"]` (`delete_v2`).
    Endpoint(&'static [&'static str]),
}

impl DropboxFault {
    pub fn error(&self) -> DropboxError {
        match self {
            DropboxFault::TooManyWriteOperations { retry_after } => {
                DropboxError::too_many_write_operations(*retry_after)
            }
            DropboxFault::TooManyRequestsPlainText { retry_after } => {
                DropboxError::too_many_requests_plain_text(*retry_after)
            }
            DropboxFault::InvalidAccessToken => DropboxError::invalid_access_token(),
            DropboxFault::Endpoint(tags) => DropboxError::endpoint(tags),
        }
    }
}

/// The route a path names, as Dropbox's messages name it: `/2/files/list_folder` →
/// `files/list_folder`.
fn function(path: &str) -> &str {
    path.strip_prefix("/2/")
        .unwrap_or(path.trim_start_matches('/'))
}

/// The answer to a fault that answers (not a delay nor a hang-up), in Dropbox's envelope.
pub(crate) fn fault_response(fault: &Fault, path: &str) -> Response {
    let error = match fault {
        Fault::TooManyRequests { retry_after } => DropboxError::too_many_requests(*retry_after),
        // Dropbox has one answer to every rate limit; a quota's carries the spec's default.
        Fault::QuotaExceeded => DropboxError::too_many_requests(Some(DEFAULT_RETRY_AFTER)),
        Fault::BadRequest => DropboxError::bad_input(
            function(path),
            "request body: could not decode input as JSON",
        ),
        Fault::Unauthorized => DropboxError::expired_access_token(),
        Fault::Forbidden => DropboxError::access(&["invalid_account_type", "endpoint"]),
        Fault::NotFound => DropboxError::endpoint(&["path", "not_found"]),
        Fault::Conflict => DropboxError::endpoint(&["path", "conflict", "file"]),
        Fault::BackendError => DropboxError::server_error(StatusCode::INTERNAL_SERVER_ERROR),
        Fault::Unavailable => DropboxError::server_error(StatusCode::SERVICE_UNAVAILABLE),
        Fault::Dropbox(own) => own.error(),
        Fault::Google(_) => {
            unreachable!("another provider's fault never fires on Dropbox's routes")
        }
        Fault::Delay(_) | Fault::DropResponseAfterCommit | Fault::Hang | Fault::HangAfterCommit => {
            unreachable!("delays and hang-ups are carried out by the fault layer")
        }
    };
    error.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Status, `Content-Type`, `Retry-After` and the body as sent.
    async fn sent(error: DropboxError) -> (u16, String, Option<String>, String) {
        parts(error.into_response()).await
    }

    async fn parts(response: Response) -> (u16, String, Option<String>, String) {
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|v: &HeaderValue| v.to_str().unwrap().to_string())
        };
        let (status, content_type, retry_after) = (
            response.status().as_u16(),
            header(header::CONTENT_TYPE).unwrap(),
            header(header::RETRY_AFTER),
        );
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            status,
            content_type,
            retry_after,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    const JSON: &str = "application/json";
    const TEXT: &str = "text/plain; charset=utf-8";

    #[test]
    fn unions_nest_by_tag_and_summaries_chain_the_tags() {
        assert_eq!(tagged(&["reset"]), json!({".tag": "reset"}));
        assert_eq!(
            tagged(&["path", "conflict", "folder"]),
            json!({".tag": "path", "path": {".tag": "conflict", "conflict": {".tag": "folder"}}})
        );
        assert_eq!(error_summary(&["path", "not_found"]), "path/not_found/..");
    }

    #[tokio::test]
    async fn endpoint_errors_are_409_with_the_routes_union() {
        assert_eq!(
            sent(DropboxError::endpoint(&["path", "not_found"])).await,
            (
                409,
                JSON.into(),
                None,
                r#"{"error_summary":"path/not_found/..","error":{".tag":"path","path":{".tag":"not_found"}}}"#
                    .into()
            )
        );
        assert_eq!(
            sent(DropboxError::endpoint(&["path", "conflict", "folder"]))
                .await
                .3,
            r#"{"error_summary":"path/conflict/folder/..","error":{".tag":"path","path":{".tag":"conflict","conflict":{".tag":"folder"}}}}"#
        );
        assert_eq!(
            sent(DropboxError::endpoint(&["reset"])).await.3,
            r#"{"error_summary":"reset/..","error":{".tag":"reset"}}"#
        );
    }

    #[tokio::test]
    async fn bad_input_is_400_plain_text_naming_the_route() {
        assert_eq!(
            sent(DropboxError::bad_input(
                "files/list_folder",
                "request body: could not decode input as JSON"
            ))
            .await,
            (
                400,
                TEXT.into(),
                None,
                "Error in call to API function \"files/list_folder\": request body: could not decode input as JSON".into()
            )
        );
        assert_eq!(
            function("/2/files/list_folder/continue"),
            "files/list_folder/continue"
        );
    }

    #[tokio::test]
    async fn auth_errors_are_401_with_an_auth_error() {
        assert_eq!(
            sent(DropboxError::expired_access_token()).await,
            (
                401,
                JSON.into(),
                None,
                r#"{"error_summary":"expired_access_token/..","error":{".tag":"expired_access_token"}}"#
                    .into()
            )
        );
        assert_eq!(
            sent(DropboxError::invalid_access_token()).await.3,
            r#"{"error_summary":"invalid_access_token/..","error":{".tag":"invalid_access_token"}}"#
        );
        // A struct member's fields sit beside its tag.
        let missing_scope = DropboxError::new(
            StatusCode::UNAUTHORIZED,
            &["missing_scope"],
            json!({".tag": "missing_scope", "required_scope": "files.content.write"}),
        );
        assert_eq!(
            sent(missing_scope).await.3,
            r#"{"error_summary":"missing_scope/..","error":{".tag":"missing_scope","required_scope":"files.content.write"}}"#
        );
    }

    #[tokio::test]
    async fn access_errors_are_403() {
        assert_eq!(
            sent(DropboxError::access(&["invalid_account_type", "endpoint"])).await,
            (
                403,
                JSON.into(),
                None,
                r#"{"error_summary":"invalid_account_type/endpoint/..","error":{".tag":"invalid_account_type","invalid_account_type":{".tag":"endpoint"}}}"#
                    .into()
            )
        );
    }

    #[tokio::test]
    async fn rate_limits_are_429_with_retry_after() {
        assert_eq!(
            sent(DropboxError::too_many_requests(Some(300))).await,
            (
                429,
                JSON.into(),
                Some("300".into()),
                r#"{"error_summary":"too_many_requests/..","error":{"reason":{".tag":"too_many_requests"},"retry_after":300}}"#
                    .into()
            )
        );
        assert_eq!(
            sent(DropboxError::too_many_requests(None)).await,
            (
                429,
                JSON.into(),
                None,
                r#"{"error_summary":"too_many_requests/..","error":{"reason":{".tag":"too_many_requests"}}}"#
                    .into()
            )
        );
        assert_eq!(
            sent(DropboxError::too_many_write_operations(1)).await,
            (
                429,
                JSON.into(),
                Some("1".into()),
                r#"{"error_summary":"too_many_write_operations/..","error":{"reason":{".tag":"too_many_write_operations"}}}"#
                    .into()
            )
        );
        assert_eq!(
            sent(DropboxError::too_many_requests_plain_text(5)).await,
            (
                429,
                TEXT.into(),
                Some("5".into()),
                "Too Many Requests".into()
            )
        );
    }

    #[tokio::test]
    async fn server_errors_are_5xx_plain_text() {
        for status in [
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::SERVICE_UNAVAILABLE,
        ] {
            let (code, content_type, retry_after, body) =
                sent(DropboxError::server_error(status)).await;
            assert_eq!(
                (code, content_type, retry_after),
                (status.as_u16(), TEXT.into(), None)
            );
            assert_eq!(body, status.canonical_reason().unwrap());
        }
    }

    #[tokio::test]
    async fn dropboxs_own_faults() {
        for (fault, want) in [
            (
                DropboxFault::TooManyWriteOperations { retry_after: 1 },
                DropboxError::too_many_write_operations(1),
            ),
            (
                DropboxFault::TooManyRequestsPlainText { retry_after: 2 },
                DropboxError::too_many_requests_plain_text(2),
            ),
            (
                DropboxFault::InvalidAccessToken,
                DropboxError::invalid_access_token(),
            ),
            (
                DropboxFault::Endpoint(&["path_lookup", "not_found"]),
                DropboxError::endpoint(&["path_lookup", "not_found"]),
            ),
        ] {
            assert_eq!(fault.error(), want, "{fault:?}");
            assert_eq!(
                parts(fault_response(&Fault::Dropbox(fault), "/2/files/upload")).await,
                sent(want).await,
            );
        }
    }
}
