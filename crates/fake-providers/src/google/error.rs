//! Google's API error envelopes.
//!
//! - The v1 shape of the older APIs (Calendar errors guide), [`GoogleError`]:
//!   `{"error":{"errors":[{"domain","reason","message","locationType"?,"location"?}],"code","message"}}`,
//!   plus `"status"` (google.rpc code name) on the answers Google's front end gives for
//!   authentication and scopes.
//! - The "one platform" (google.rpc.Status) shape of the newer APIs such as People v1,
//!   [`RpcError`]: `{"error":{"code","message","status","details":[{"@type":
//!   "type.googleapis.com/google.rpc.ErrorInfo","reason","domain","metadata"}]}}` (AIP-193,
//!   https://cloud.google.com/apis/design/errors; the 429 example in
//!   `shared/research/sync-apis.md` §1.0). No `errors[]` array.
//!
//! A fault is answered in the shape of the API whose route it hit ([`fault_response`]).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::faults::Fault;

#[derive(Debug, Clone)]
pub struct GoogleError {
    pub status: StatusCode,
    pub domain: &'static str,
    pub reason: &'static str,
    pub message: String,
    /// `("parameter", "syncToken")`, `("header", "If-Match")`, …
    pub location: Option<Box<(&'static str, String)>>,
    /// The google.rpc status name, when Google's answer carries one.
    pub rpc_status: Option<&'static str>,
    pub retry_after: Option<u32>,
}

impl GoogleError {
    pub fn new(
        status: StatusCode,
        domain: &'static str,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        GoogleError {
            status,
            domain,
            reason,
            message: message.into(),
            location: None,
            rpc_status: None,
            retry_after: None,
        }
    }

    pub(crate) fn at(mut self, location_type: &'static str, location: impl Into<String>) -> Self {
        self.location = Some(Box::new((location_type, location.into())));
        self
    }

    /// 400 `global/invalid` about a query parameter, named in `location`.
    pub fn bad_parameter(parameter: &str, message: impl Into<String>) -> Self {
        GoogleError::new(StatusCode::BAD_REQUEST, "global", "invalid", message)
            .at("parameter", parameter)
    }

    /// 400 `global/invalid` about the request body (message names the field).
    pub fn invalid(message: impl Into<String>) -> Self {
        GoogleError::new(StatusCode::BAD_REQUEST, "global", "invalid", message)
    }

    /// 400 `global/required` for a missing body field.
    pub fn required(field: &str) -> Self {
        GoogleError::new(
            StatusCode::BAD_REQUEST,
            "global",
            "required",
            format!("Missing {field}."),
        )
    }

    pub fn not_found() -> Self {
        GoogleError::new(StatusCode::NOT_FOUND, "global", "notFound", "Not Found")
    }

    pub fn duplicate() -> Self {
        GoogleError::new(
            StatusCode::CONFLICT,
            "global",
            "duplicate",
            "The requested identifier already exists.",
        )
    }

    pub fn deleted() -> Self {
        GoogleError::new(
            StatusCode::GONE,
            "global",
            "deleted",
            "Resource has been deleted",
        )
    }

    pub fn condition_not_met() -> Self {
        GoogleError::new(
            StatusCode::PRECONDITION_FAILED,
            "global",
            "conditionNotMet",
            "Precondition Failed",
        )
        .at("header", "If-Match")
    }

    pub fn full_sync_required() -> Self {
        GoogleError::new(
            StatusCode::GONE,
            "calendar",
            "fullSyncRequired",
            "Sync token is no longer valid, a full sync is required.",
        )
        .at("parameter", "syncToken")
    }

    pub fn sync_token_with_restrictions(parameter: &str) -> Self {
        GoogleError::new(
            StatusCode::BAD_REQUEST,
            "calendar",
            "syncTokenWithRequestRestrictions",
            "Sync token cannot be used with other request restrictions.",
        )
        .at("parameter", parameter)
    }

    pub fn time_range_empty(location: &str) -> Self {
        GoogleError::new(
            StatusCode::BAD_REQUEST,
            "calendar",
            "timeRangeEmpty",
            "The specified time range is empty.",
        )
        .at("parameter", location)
    }

    /// 401: no, an unknown, an expired or a revoked access token.
    pub fn auth_error() -> Self {
        let mut e = GoogleError::new(
            StatusCode::UNAUTHORIZED,
            "global",
            "authError",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        )
        .at("header", "Authorization");
        e.rpc_status = Some("UNAUTHENTICATED");
        e
    }

    /// 403: the token lacks every scope the method accepts.
    pub fn insufficient_permissions() -> Self {
        let mut e = GoogleError::new(
            StatusCode::FORBIDDEN,
            "global",
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
        );
        e.rpc_status = Some("PERMISSION_DENIED");
        e
    }

    /// 403: the calendar is shared with the user read-only (or free/busy).
    pub fn requires_writer() -> Self {
        GoogleError::new(
            StatusCode::FORBIDDEN,
            "calendar",
            "requiredAccessLevel",
            "You need to have writer access to this calendar.",
        )
    }

    /// 403: a change of a shared property (title, times, guests…) of an event by someone
    /// who does not organise it (Calendar errors guide: "forbiddenForNonOrganizer").
    pub fn forbidden_for_non_organizer() -> Self {
        GoogleError::new(
            StatusCode::FORBIDDEN,
            "calendar",
            "forbiddenForNonOrganizer",
            "Shared properties can only be changed by the organizer of the event.",
        )
    }

    pub fn backend_error() -> Self {
        GoogleError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "global",
            "backendError",
            "Backend Error",
        )
    }

    pub fn unavailable() -> Self {
        GoogleError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "global",
            "backendError",
            "The service is currently unavailable.",
        )
    }

    pub fn body(&self) -> Value {
        let mut item =
            json!({"domain": self.domain, "reason": self.reason, "message": self.message});
        if let Some((kind, location)) = self.location.as_deref() {
            item["locationType"] = json!(kind);
            item["location"] = json!(location);
        }
        let mut error =
            json!({"errors": [item], "code": self.status.as_u16(), "message": self.message});
        if let Some(status) = self.rpc_status {
            error["status"] = json!(status);
        }
        json!({ "error": error })
    }
}

impl IntoResponse for GoogleError {
    fn into_response(self) -> Response {
        error_response(self.status, self.body(), self.retry_after)
    }
}

/// An error answer in either envelope: the JSON body, `Retry-After` when given, and
/// `WWW-Authenticate` on a 401.
fn error_response(status: StatusCode, body: Value, retry_after: Option<u32>) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    if let Some(seconds) = retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(
                "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
            ),
        );
    }
    response
}

/// Conditions only Google has, injected as [`Fault::Google`]; a rule with one fires on
/// Google's routes only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoogleFault {
    /// 403 `usageLimits/rateLimitExceeded` or `userRateLimitExceeded` (Google answers rate
    /// limits with 403 or 429, to be handled alike).
    RateLimited403(RateLimitReason),
    /// 403 `calendar/forbiddenForNonOrganizer`, as when the event's organiser changed
    /// since it was read (the fake also answers it by rule: a non-organiser's change of a
    /// shared property).
    ForbiddenForNonOrganizer,
    /// The write's etag is taken as stale even when it is the current one (Google does so
    /// in a tight loop of updates, even right after a GET: google-api-python-client #2417,
    /// google-api-go-client #1904). People: 400 `FAILED_PRECONDITION` "Request person.etag is
    /// different than the current person.etag…"; Calendar: 412 `conditionNotMet`. Nothing is
    /// written.
    StaleEtag,
    /// The sync token sent is taken as expired. People: 400 `FAILED_PRECONDITION` with an
    /// ErrorInfo reason `EXPIRED_SYNC_TOKEN`; Calendar: 410 `fullSyncRequired`; Drive (a
    /// changes page token): 400 `invalid` (location `pageToken`). The rule
    /// fires on any matching request: aim it at a listing that sends a sync token.
    ExpiredSyncToken,
    /// The handler runs and commits its write, then the answer is replaced by a 500 (People:
    /// `INTERNAL`; Calendar: `backendError`), as when Google's front end fails after the
    /// backend acted. The client cannot tell that the write happened.
    BackendErrorAfterCommit,
}

impl GoogleFault {
    /// Whether the request is served (and its write committed) before the fault answers.
    pub(crate) fn after_commit(self) -> bool {
        matches!(self, GoogleFault::BackendErrorAfterCommit)
    }
}

/// The reason of a 403 rate limit: the project's rate or one user's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitReason {
    RateLimitExceeded,
    UserRateLimitExceeded,
}

impl RateLimitReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RateLimitReason::RateLimitExceeded => "rateLimitExceeded",
            RateLimitReason::UserRateLimitExceeded => "userRateLimitExceeded",
        }
    }

    fn message(self) -> &'static str {
        match self {
            RateLimitReason::RateLimitExceeded => "Rate Limit Exceeded",
            RateLimitReason::UserRateLimitExceeded => "User Rate Limit Exceeded",
        }
    }
}

impl GoogleError {
    /// 403 `usageLimits/{reason}`.
    pub fn rate_limited_403(reason: RateLimitReason) -> Self {
        GoogleError::new(
            StatusCode::FORBIDDEN,
            "usageLimits",
            reason.as_str(),
            reason.message(),
        )
    }
}

/// Whether a path is one of the "one platform" APIs', whose errors have the google.rpc shape
/// (People v1: `/v1/people…`, `/v1/contactGroups…`), rather than the v1 shape.
pub(crate) fn is_one_platform(path: &str) -> bool {
    ["/v1/people", "/v1/contactGroups"].iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', ':']))
    })
}

/// The answer to a fault that answers (not a delay nor a hang-up), in the envelope of the
/// Google API that `path` belongs to.
pub(crate) fn fault_response(fault: &Fault, path: &str) -> Response {
    if is_one_platform(path) {
        return rpc_fault(fault).into_response();
    }
    let error = match fault {
        Fault::TooManyRequests { retry_after } => {
            let mut e = GoogleError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "usageLimits",
                "rateLimitExceeded",
                "Rate Limit Exceeded",
            );
            e.retry_after = retry_after.map(|s| u32::try_from(s).unwrap_or(u32::MAX));
            e
        }
        Fault::QuotaExceeded => GoogleError::rate_limited_403(RateLimitReason::RateLimitExceeded),
        Fault::BadRequest => GoogleError::new(
            StatusCode::BAD_REQUEST,
            "global",
            "badRequest",
            "Bad Request",
        ),
        Fault::Unauthorized => GoogleError::auth_error(),
        Fault::Forbidden => {
            GoogleError::new(StatusCode::FORBIDDEN, "global", "forbidden", "Forbidden")
        }
        Fault::NotFound => GoogleError::not_found(),
        Fault::Conflict => GoogleError::duplicate(),
        Fault::BackendError | Fault::Google(GoogleFault::BackendErrorAfterCommit) => {
            GoogleError::backend_error()
        }
        Fault::Unavailable => GoogleError::unavailable(),
        Fault::Google(GoogleFault::RateLimited403(reason)) => {
            GoogleError::rate_limited_403(*reason)
        }
        Fault::Google(GoogleFault::ForbiddenForNonOrganizer) => {
            GoogleError::forbidden_for_non_organizer()
        }
        Fault::Google(GoogleFault::StaleEtag) => GoogleError::condition_not_met(),
        // Drive's changes page tokens: a rejected one is a 400 about `pageToken`.
        Fault::Google(GoogleFault::ExpiredSyncToken) if path.starts_with("/drive/") => {
            GoogleError::new(
                StatusCode::BAD_REQUEST,
                "global",
                "invalid",
                "Invalid Value",
            )
            .at("parameter", "pageToken")
        }
        Fault::Google(GoogleFault::ExpiredSyncToken) => GoogleError::full_sync_required(),
        Fault::Dropbox(_) => {
            unreachable!("another provider's fault never fires on Google's routes")
        }
        Fault::Delay(_) | Fault::DropResponseAfterCommit | Fault::Hang | Fault::HangAfterCommit => {
            unreachable!("delays and hang-ups are carried out by the fault layer")
        }
    };
    error.into_response()
}

/// A fault in the google.rpc shape of the People API.
fn rpc_fault(fault: &Fault) -> RpcError {
    match fault {
        Fault::TooManyRequests { retry_after } => {
            let mut e = RpcError::rate_limited();
            e.retry_after = retry_after.map(|s| u32::try_from(s).unwrap_or(u32::MAX));
            e
        }
        Fault::QuotaExceeded => RpcError::rate_limited_403(RateLimitReason::RateLimitExceeded),
        Fault::Google(GoogleFault::RateLimited403(reason)) => RpcError::rate_limited_403(*reason),
        Fault::BadRequest => RpcError::invalid_argument("Request contains an invalid argument."),
        Fault::Unauthorized => GoogleError::auth_error().into(),
        Fault::Forbidden | Fault::Google(GoogleFault::ForbiddenForNonOrganizer) => RpcError::new(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "The caller does not have permission",
        ),
        Fault::NotFound => RpcError::not_found(),
        Fault::Conflict => RpcError::new(
            StatusCode::CONFLICT,
            "ALREADY_EXISTS",
            "Requested entity already exists",
        ),
        Fault::BackendError | Fault::Google(GoogleFault::BackendErrorAfterCommit) => RpcError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "Internal error encountered.",
        ),
        Fault::Unavailable => RpcError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "UNAVAILABLE",
            "The service is currently unavailable.",
        ),
        Fault::Google(GoogleFault::StaleEtag) => RpcError::stale_etag(),
        Fault::Google(GoogleFault::ExpiredSyncToken) => RpcError::expired_sync_token(),
        Fault::Dropbox(_) => {
            unreachable!("another provider's fault never fires on Google's routes")
        }
        Fault::Delay(_) | Fault::DropResponseAfterCommit | Fault::Hang | Fault::HangAfterCommit => {
            unreachable!("delays and hang-ups are carried out by the fault layer")
        }
    }
}

/// An error in the google.rpc shape ("one platform" APIs: People v1):
/// `{"error":{"code","message","status","details"?}}`.
#[derive(Debug, Clone)]
pub struct RpcError {
    pub status: StatusCode,
    /// The google.rpc code name: `INVALID_ARGUMENT`, `FAILED_PRECONDITION`, …
    pub rpc_status: &'static str,
    pub message: String,
    /// `google.rpc.ErrorInfo`, `google.rpc.BadRequest`… each with its `@type`.
    pub details: Vec<Value>,
    pub retry_after: Option<u32>,
}

const ERROR_INFO: &str = "type.googleapis.com/google.rpc.ErrorInfo";

impl RpcError {
    pub fn new(status: StatusCode, rpc_status: &'static str, message: impl Into<String>) -> Self {
        RpcError {
            status,
            rpc_status,
            message: message.into(),
            details: Vec::new(),
            retry_after: None,
        }
    }

    /// Adds a `google.rpc.ErrorInfo`.
    pub fn with_error_info(mut self, reason: &str, domain: &str, metadata: Value) -> Self {
        self.details.push(json!({
            "@type": ERROR_INFO,
            "reason": reason,
            "domain": domain,
            "metadata": metadata,
        }));
        self
    }

    /// 400 `INVALID_ARGUMENT`.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        RpcError::new(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", message)
    }

    /// 400 `INVALID_ARGUMENT` about the request's JSON (an unknown name, a wrong type), with
    /// the `google.rpc.BadRequest` field violation the front end adds.
    pub fn bad_payload(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut violation = json!({ "description": message });
        if !field.is_empty() {
            violation["field"] = json!(field);
        }
        let mut e = RpcError::invalid_argument(message);
        e.details.push(json!({
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [violation],
        }));
        e
    }

    /// 400 `FAILED_PRECONDITION`.
    pub fn failed_precondition(message: impl Into<String>) -> Self {
        RpcError::new(StatusCode::BAD_REQUEST, "FAILED_PRECONDITION", message)
    }

    /// 404 `NOT_FOUND`.
    pub fn not_found() -> Self {
        RpcError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "Requested entity was not found.",
        )
    }

    /// The etag check of updateContact / batchUpdateContacts (message as Google sends it,
    /// quoted in google-api-python-client #2417).
    pub fn stale_etag() -> Self {
        RpcError::failed_precondition(
            "Request person.etag is different than the current person.etag. Clear local cache and get the latest person.",
        )
    }

    /// An expired sync token (connections.list): the discovery document (rev. 20240609)
    /// names the ErrorInfo reason `EXPIRED_SYNC_TOKEN`; the status (400) and the message are
    /// as observed in the wild (garrytan/gbrain #5127, freed-project/freed #1993).
    pub fn expired_sync_token() -> Self {
        RpcError::failed_precondition(
            "Sync token is expired. Clear local cache and retry call without the sync token.",
        )
        .with_error_info("EXPIRED_SYNC_TOKEN", "people.googleapis.com", json!({}))
    }

    /// 429 `RESOURCE_EXHAUSTED`, ErrorInfo `RATE_LIMIT_EXCEEDED` (research §1.0, quoted from
    /// mrmattwilkins/google-contacts-sync #1).
    pub fn rate_limited() -> Self {
        let metric = "Critical read requests (Contact and Profile Reads)";
        RpcError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RESOURCE_EXHAUSTED",
            format!("Quota exceeded for quota metric '{metric}' and limit '{metric} per minute per user' of service 'people.googleapis.com' for consumer 'project_number:000000000000'."),
        )
        .with_error_info(
            "RATE_LIMIT_EXCEEDED",
            "googleapis.com",
            json!({
                "consumer": "projects/000000000000",
                "quota_limit": "CriticalReadsPerMinutePerProjectPerUser",
                "quota_metric": "people.googleapis.com/critical_read_requests",
                "service": "people.googleapis.com",
            }),
        )
    }

    /// 403 with a rate-limit ErrorInfo (not documented for People, which answers 429: the
    /// shape is the one-platform mapping of the Calendar-style 403).
    pub fn rate_limited_403(reason: RateLimitReason) -> Self {
        RpcError::new(StatusCode::FORBIDDEN, "PERMISSION_DENIED", reason.message()).with_error_info(
            match reason {
                RateLimitReason::RateLimitExceeded => "RATE_LIMIT_EXCEEDED",
                RateLimitReason::UserRateLimitExceeded => "USER_RATE_LIMIT_EXCEEDED",
            },
            "googleapis.com",
            json!({"service": "people.googleapis.com"}),
        )
    }

    pub fn body(&self) -> Value {
        let mut error = json!({
            "code": self.status.as_u16(),
            "message": self.message,
            "status": self.rpc_status,
        });
        if !self.details.is_empty() {
            error["details"] = json!(self.details);
        }
        json!({ "error": error })
    }
}

/// The bearer check's answers (and any v1 error) in the google.rpc shape.
impl From<GoogleError> for RpcError {
    fn from(e: GoogleError) -> Self {
        let rpc_status = e.rpc_status.unwrap_or(match e.status.as_u16() {
            400 => "INVALID_ARGUMENT",
            401 => "UNAUTHENTICATED",
            403 => "PERMISSION_DENIED",
            404 => "NOT_FOUND",
            409 => "ALREADY_EXISTS",
            412 => "FAILED_PRECONDITION",
            429 => "RESOURCE_EXHAUSTED",
            503 => "UNAVAILABLE",
            _ => "INTERNAL",
        });
        let mut out = RpcError::new(e.status, rpc_status, e.message);
        if e.status == StatusCode::UNAUTHORIZED {
            out.message.push_str(
                " See https://developers.google.com/identity/sign-in/web/devconsole-project.",
            );
        }
        if e.status == StatusCode::FORBIDDEN && e.reason == "insufficientPermissions" {
            out = out.with_error_info(
                "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                "googleapis.com",
                json!({"service": "people.googleapis.com"}),
            );
        }
        out.retry_after = e.retry_after;
        out
    }
}

impl IntoResponse for RpcError {
    fn into_response(self) -> Response {
        error_response(self.status, self.body(), self.retry_after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(name, value)` of the headers a client reads.
    type Headers = Vec<(String, String)>;

    /// Status, the headers a client reads, and the body as sent.
    async fn rendered(fault: &Fault) -> (u16, Headers, String) {
        let response = fault_response(fault, "/calendar/v3/calendars/primary/events");
        let status = response.status().as_u16();
        let headers = ["content-type", "retry-after", "www-authenticate"]
            .into_iter()
            .filter_map(|name| {
                let value = response.headers().get(name)?;
                Some((name.to_string(), value.to_str().unwrap().to_string()))
            })
            .collect();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, headers, String::from_utf8(body.to_vec()).unwrap())
    }

    /// Every fault that answers, exactly as the fake sends it: pinned so that reshaping the
    /// fault layer cannot change a byte a client sees.
    #[tokio::test]
    async fn each_fault_in_googles_envelope_byte_for_byte() {
        let json = ("content-type".to_string(), "application/json".to_string());
        let cases: Vec<(Fault, u16, Headers, &str)> = vec![
            (
                Fault::TooManyRequests {
                    retry_after: Some(7),
                },
                429,
                vec![json.clone(), ("retry-after".into(), "7".into())],
                r#"{"error":{"code":429,"errors":[{"domain":"usageLimits","message":"Rate Limit Exceeded","reason":"rateLimitExceeded"}],"message":"Rate Limit Exceeded"}}"#,
            ),
            (
                Fault::TooManyRequests { retry_after: None },
                429,
                vec![json.clone()],
                r#"{"error":{"code":429,"errors":[{"domain":"usageLimits","message":"Rate Limit Exceeded","reason":"rateLimitExceeded"}],"message":"Rate Limit Exceeded"}}"#,
            ),
            (
                Fault::Google(GoogleFault::RateLimited403(
                    RateLimitReason::RateLimitExceeded,
                )),
                403,
                vec![json.clone()],
                r#"{"error":{"code":403,"errors":[{"domain":"usageLimits","message":"Rate Limit Exceeded","reason":"rateLimitExceeded"}],"message":"Rate Limit Exceeded"}}"#,
            ),
            (
                Fault::Google(GoogleFault::RateLimited403(
                    RateLimitReason::UserRateLimitExceeded,
                )),
                403,
                vec![json.clone()],
                r#"{"error":{"code":403,"errors":[{"domain":"usageLimits","message":"User Rate Limit Exceeded","reason":"userRateLimitExceeded"}],"message":"User Rate Limit Exceeded"}}"#,
            ),
            (
                Fault::Google(GoogleFault::ForbiddenForNonOrganizer),
                403,
                vec![json.clone()],
                r#"{"error":{"code":403,"errors":[{"domain":"calendar","message":"Shared properties can only be changed by the organizer of the event.","reason":"forbiddenForNonOrganizer"}],"message":"Shared properties can only be changed by the organizer of the event."}}"#,
            ),
            (
                Fault::BackendError,
                500,
                vec![json.clone()],
                r#"{"error":{"code":500,"errors":[{"domain":"global","message":"Backend Error","reason":"backendError"}],"message":"Backend Error"}}"#,
            ),
            (
                Fault::Unavailable,
                503,
                vec![json.clone()],
                r#"{"error":{"code":503,"errors":[{"domain":"global","message":"The service is currently unavailable.","reason":"backendError"}],"message":"The service is currently unavailable."}}"#,
            ),
            (
                Fault::Unauthorized,
                401,
                vec![
                    json.clone(),
                    (
                        "www-authenticate".into(),
                        r#"Bearer realm="https://accounts.google.com/", error="invalid_token""#
                            .into(),
                    ),
                ],
                r#"{"error":{"code":401,"errors":[{"domain":"global","location":"Authorization","locationType":"header","message":"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.","reason":"authError"}],"message":"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.","status":"UNAUTHENTICATED"}}"#,
            ),
        ];
        for (fault, status, headers, body) in cases {
            assert_eq!(
                rendered(&fault).await,
                (status, headers, body.to_string()),
                "{fault:?}"
            );
        }
    }

    /// The faults on a People route, in the google.rpc shape, byte for byte.
    #[tokio::test]
    async fn faults_on_people_routes_in_the_rpc_shape() {
        let people = "/v1/people/me/connections";
        let body = |fault: &Fault| {
            let response = fault_response(fault, people);
            async move {
                let status = response.status().as_u16();
                let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .unwrap();
                (status, String::from_utf8(bytes.to_vec()).unwrap())
            }
        };
        let cases: Vec<(Fault, u16, &str)> = vec![
            (
                Fault::TooManyRequests { retry_after: None },
                429,
                r#"{"error":{"code":429,"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","domain":"googleapis.com","metadata":{"consumer":"projects/000000000000","quota_limit":"CriticalReadsPerMinutePerProjectPerUser","quota_metric":"people.googleapis.com/critical_read_requests","service":"people.googleapis.com"},"reason":"RATE_LIMIT_EXCEEDED"}],"message":"Quota exceeded for quota metric 'Critical read requests (Contact and Profile Reads)' and limit 'Critical read requests (Contact and Profile Reads) per minute per user' of service 'people.googleapis.com' for consumer 'project_number:000000000000'.","status":"RESOURCE_EXHAUSTED"}}"#,
            ),
            (
                Fault::Google(GoogleFault::StaleEtag),
                400,
                r#"{"error":{"code":400,"message":"Request person.etag is different than the current person.etag. Clear local cache and get the latest person.","status":"FAILED_PRECONDITION"}}"#,
            ),
            (
                Fault::Google(GoogleFault::ExpiredSyncToken),
                400,
                r#"{"error":{"code":400,"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","domain":"people.googleapis.com","metadata":{},"reason":"EXPIRED_SYNC_TOKEN"}],"message":"Sync token is expired. Clear local cache and retry call without the sync token.","status":"FAILED_PRECONDITION"}}"#,
            ),
            (
                Fault::BackendError,
                500,
                r#"{"error":{"code":500,"message":"Internal error encountered.","status":"INTERNAL"}}"#,
            ),
            (
                Fault::Unavailable,
                503,
                r#"{"error":{"code":503,"message":"The service is currently unavailable.","status":"UNAVAILABLE"}}"#,
            ),
        ];
        for (fault, status, want) in cases {
            assert_eq!(body(&fault).await, (status, want.to_string()), "{fault:?}");
        }
        assert!(is_one_platform("/v1/contactGroups/abc/members:modify"));
        assert!(is_one_platform("/v1/people:batchCreateContacts"));
        assert!(!is_one_platform("/v1/userinfo"));
        assert!(!is_one_platform("/v1/peoplex"));
    }
}
