//! The JSON body extractor: like `axum::Json`, but every rejection is an [`ApiError`] with
//! an [`ErrorBody`](threadline_domain::api::ErrorBody) that names the field at fault.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{ApiError, ApiResult};

/// Largest request body, in bytes; above it the answer is 413 `payload_too_large`.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A JSON request body (or response).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json_content_type(req.headers()) {
            return Err(unsupported_media_type());
        }
        let bytes = body_bytes(req, state).await?;
        parse_json(&bytes).map(Json)
    }
}

/// An optional JSON request body: `None` when the request has no body (with or without a
/// `Content-Type`); otherwise read as [`Json`] reads one.
#[derive(Debug, Clone, Default)]
pub struct OptionalJson<T>(pub Option<T>);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = is_json_content_type(req.headers());
        let bytes = body_bytes(req, state).await?;
        if bytes.is_empty() {
            return Ok(OptionalJson(None));
        }
        if !json {
            return Err(unsupported_media_type());
        }
        parse_json(&bytes).map(|v| OptionalJson(Some(v)))
    }
}

/// The whole request body (within the body limit).
async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            payload_too_large()
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!(
                    "the request body could not be read: {}",
                    rejection.body_text()
                ),
            )
        }
    })
}

fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "the request body must be JSON, sent with `Content-Type: application/json`",
    )
}

/// 413 `payload_too_large` for the request body limit.
pub fn payload_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!(
            "the request body is larger than {} KiB",
            MAX_BODY_BYTES / 1024
        ),
    )
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `application/json`, `application/json; charset=utf-8`, `application/problem+json`, …
fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses a JSON body: a syntax error is 400 `invalid_json`; JSON of the wrong shape
/// (unknown or missing field, wrong type) is 422 `invalid_body` with the path of the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        json_error(&path, e.inner())
    })?;
    // Nothing but whitespace may follow the value.
    deserializer.end().map_err(|e| json_error(".", &e))?;
    Ok(value)
}

fn json_error(path: &str, inner: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match inner.classify() {
        Category::Data => {
            let text = inner.to_string();
            let field = field_at_fault(path, &text);
            let message = match &field {
                Some(f) => format!("the JSON body does not fit: {f}: {text}"),
                None => format!("the JSON body does not fit: {text}"),
            };
            let err = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", message);
            match field {
                Some(f) => err.with_field(f),
                None => err,
            }
        }
        Category::Syntax | Category::Eof | Category::Io => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("the request body is not valid JSON: {inner}"),
        ),
    }
}

/// The field a data error is about: the path of the failing value, or, for a missing
/// field, the path of its parent plus the missing field's name.
fn field_at_fault(path: &str, message: &str) -> Option<String> {
    let parent = if path == "." { "" } else { path };
    if let Some(rest) = message.strip_prefix("missing field `") {
        if let Some(name) = rest.split('`').next() {
            return Some(if parent.is_empty() {
                name.to_string()
            } else {
                format!("{parent}.{name}")
            });
        }
    }
    (!parent.is_empty()).then(|| parent.to_string())
}

/// An id in the path: anything but a UUID is no such thing (404 `not_found`, like an id
/// that names nothing of the caller's).
pub fn path_id(raw: &str, what: &str) -> ApiResult<uuid::Uuid> {
    uuid::Uuid::parse_str(raw).map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("there is no {what} with id {raw:?} (ids are UUIDs)"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: u32,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        items: Vec<Inner>,
    }

    fn err(body: &str) -> (StatusCode, String, Option<String>) {
        let e = parse_json::<Outer>(body.as_bytes()).unwrap_err();
        let b = e.body();
        (e.status(), b.error.code, b.error.field)
    }

    #[test]
    fn syntax_errors_are_400() {
        assert_eq!(err("{").0, StatusCode::BAD_REQUEST);
        assert_eq!(err("{\"name\": }").1, "invalid_json");
        assert_eq!(
            err("{\"name\":\"a\",\"items\":[]} x").0,
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn shape_errors_name_the_field() {
        assert_eq!(
            err(r#"{"name":"a","items":[{"n":1},{"n":"x"}]}"#),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body".into(),
                Some("items[1].n".into())
            )
        );
        assert_eq!(err(r#"{"name":"a"}"#).2, Some("items".into()));
        assert_eq!(
            err(r#"{"name":"a","items":[{}]}"#).2,
            Some("items[0].n".into())
        );
        let (status, _, field) = err(r#"{"name":"a","items":[],"extra":1}"#);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(field, Some("extra".into()));
    }

    async fn optional(
        content_type: Option<&str>,
        body: &'static str,
    ) -> Result<Option<Outer>, ApiError> {
        let mut request = axum::http::Request::builder();
        if let Some(t) = content_type {
            request = request.header(CONTENT_TYPE, t);
        }
        let request = request.body(axum::body::Body::from(body)).unwrap();
        OptionalJson::<Outer>::from_request(request, &())
            .await
            .map(|b| b.0)
    }

    #[tokio::test]
    async fn an_optional_body_may_be_absent_and_is_json_when_present() {
        assert!(optional(None, "").await.unwrap().is_none());
        assert!(optional(Some("application/json"), "")
            .await
            .unwrap()
            .is_none());
        let given = optional(Some("application/json"), r#"{"name":"a","items":[]}"#).await;
        assert_eq!(given.unwrap().unwrap().name, "a");
        let status = |r: Result<Option<Outer>, ApiError>| r.unwrap_err().status();
        assert_eq!(
            status(optional(None, r#"{"name":"a","items":[]}"#).await),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(
            status(optional(Some("application/json"), "{").await),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(optional(Some("application/json"), r#"{"x":1}"#).await),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }

    #[test]
    fn valid_body_parses() {
        let v: Outer = parse_json(br#"{"name":"a","items":[{"n":1}]}"#).unwrap();
        assert_eq!(v.items.len(), 1);
    }
}
