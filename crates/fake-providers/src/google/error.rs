//! Google's API error envelope (Calendar errors guide):
//! `{"error":{"errors":[{"domain","reason","message","locationType"?,"location"?}],"code","message"}}`,
//! plus `"status"` (google.rpc code name) on the answers Google's front end gives for
//! authentication and scopes.

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

    fn at(mut self, location_type: &'static str, location: impl Into<String>) -> Self {
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
        let mut response = (self.status, axum::Json(self.body())).into_response();
        let headers = response.headers_mut();
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
                ),
            );
        }
        response
    }
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

/// The answer to a fault that answers (not a delay nor a hang-up), in Google's envelope.
pub(crate) fn fault_response(fault: &Fault) -> Response {
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
        Fault::BackendError => GoogleError::backend_error(),
        Fault::Unavailable => GoogleError::unavailable(),
        Fault::Google(GoogleFault::RateLimited403(reason)) => {
            GoogleError::rate_limited_403(*reason)
        }
        Fault::Google(GoogleFault::ForbiddenForNonOrganizer) => {
            GoogleError::forbidden_for_non_organizer()
        }
        Fault::Dropbox(_) => {
            unreachable!("another provider's fault never fires on Google's routes")
        }
        Fault::Delay(_) | Fault::DropResponseAfterCommit => {
            unreachable!("delays and hang-ups are carried out by the fault layer")
        }
    };
    error.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(name, value)` of the headers a client reads.
    type Headers = Vec<(String, String)>;

    /// Status, the headers a client reads, and the body as sent.
    async fn rendered(fault: &Fault) -> (u16, Headers, String) {
        let response = fault_response(fault);
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
}
