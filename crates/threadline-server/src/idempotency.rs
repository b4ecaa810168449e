//! `Idempotency-Key`: a POST sent again with the same key gets the first answer again.
//!
//! A handler that supports it does, in one write transaction:
//! 1. [`IdempotencyKey::from_headers`] (before the transaction: reads the header and hashes
//!    the parsed request);
//! 2. [`replay`]: when the key was seen, the recorded answer (same status, same body) if the
//!    request is the same, else 422 `idempotency_key_reused`;
//! 3. the change itself;
//! 4. [`respond`]: records the answer with the change and commits.
//!
//! Only successful answers are recorded (an error writes nothing, so a retry is evaluated
//! again). Keys are per user; records older than [`RETENTION_DAYS`] are purged at start-up.
//! The request is compared by the SHA-256 of its method, path and parsed body re-serialised,
//! so whitespace and key order in the JSON do not matter.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::auth::{sha256_hex, AuthUser};
use crate::db::{self, Pool, Tx};
use crate::error::{is_unique_violation, ApiError, ApiResult};

pub const HEADER: &str = "idempotency-key";
/// Header set on a replayed answer.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
pub const MAX_KEY_LEN: usize = 255;
pub const RETENTION_DAYS: i64 = 7;

/// The key of a request and what it was sent with.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    key: String,
    method_path: &'static str,
    request_sha256: String,
}

impl IdempotencyKey {
    /// The request's key, if it has an `Idempotency-Key` header. `method_path` names the
    /// endpoint (`POST /api/v1/tasks`); `request` is the parsed body.
    pub fn from_headers<T: Serialize>(
        headers: &HeaderMap,
        method_path: &'static str,
        request: &T,
    ) -> ApiResult<Option<Self>> {
        let Some(value) = headers.get(HEADER) else {
            return Ok(None);
        };
        let invalid = || {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_header",
                format!(
                    "the Idempotency-Key header must be 1 to {MAX_KEY_LEN} visible ASCII \
                     characters (a UUID is a good choice)"
                ),
            )
            .with_field("Idempotency-Key")
        };
        let key = value.to_str().map_err(|_| invalid())?.trim();
        if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid());
        }
        let body = serde_json::to_vec(request)
            .map_err(|e| ApiError::internal(format!("cannot serialise the request: {e}")))?;
        let mut hashed = Vec::with_capacity(method_path.len() + 1 + body.len());
        hashed.extend_from_slice(method_path.as_bytes());
        hashed.push(b'\n');
        hashed.extend_from_slice(&body);
        Ok(Some(IdempotencyKey {
            key: key.to_string(),
            method_path,
            request_sha256: sha256_hex(&hashed),
        }))
    }
}

#[derive(sqlx::FromRow)]
struct Recorded {
    method_path: String,
    request_sha256: String,
    status: i64,
    response_body: String,
}

/// The recorded answer for `key`, if the key was already used by this user.
pub async fn replay(
    tx: &mut Tx,
    auth: &AuthUser,
    key: Option<&IdempotencyKey>,
) -> ApiResult<Option<Response>> {
    let Some(key) = key else {
        return Ok(None);
    };
    let recorded: Option<Recorded> = sqlx::query_as(
        "SELECT method_path, request_sha256, status, response_body
         FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2",
    )
    .bind(db::id_text(auth.user_id))
    .bind(&key.key)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(recorded) = recorded else {
        return Ok(None);
    };
    if recorded.method_path != key.method_path || recorded.request_sha256 != key.request_sha256 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            format!(
                "this Idempotency-Key was already used for a different request ({}); use a new \
                 key for a new request",
                recorded.method_path
            ),
        )
        .with_field("Idempotency-Key"));
    }
    let status = u16::try_from(recorded.status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| ApiError::internal(format!("bad recorded status {}", recorded.status)))?;
    let mut response = (
        status,
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        recorded.response_body,
    )
        .into_response();
    response.headers_mut().insert(
        HeaderName::from_static(REPLAYED_HEADER),
        HeaderValue::from_static("true"),
    );
    Ok(Some(response))
}

/// Records the answer under `key` (when there is one), commits `tx`, and answers.
pub async fn respond<T: Serialize>(
    mut tx: Tx,
    auth: &AuthUser,
    key: Option<&IdempotencyKey>,
    status: StatusCode,
    body: &T,
) -> ApiResult<Response> {
    let json = serde_json::to_string(body)
        .map_err(|e| ApiError::internal(format!("cannot serialise the response: {e}")))?;
    if let Some(key) = key {
        let recorded = sqlx::query(
            "INSERT INTO idempotency_keys
               (org_id, user_id, idem_key, method_path, request_sha256, status, response_body,
                created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(db::id_text(auth.org_id))
        .bind(db::id_text(auth.user_id))
        .bind(&key.key)
        .bind(key.method_path)
        .bind(&key.request_sha256)
        .bind(i64::from(status.as_u16()))
        .bind(&json)
        .bind(db::now())
        .execute(&mut *tx)
        .await;
        match recorded {
            Ok(_) => {}
            // Another request with this key committed first (possible only where writers do
            // not queue, e.g. PostgreSQL): this one is rolled back.
            Err(e) if is_unique_violation(&e) => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "idempotency_key_in_progress",
                    "a request with this Idempotency-Key was processed at the same time; retry \
                     it to get that request's answer",
                )
                .with_field("Idempotency-Key"))
            }
            Err(e) => return Err(e.into()),
        }
    }
    tx.commit().await?;
    Ok((
        status,
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json,
    )
        .into_response())
}

/// Deletes records older than [`RETENTION_DAYS`].
pub async fn purge_expired(pool: &Pool) -> Result<u64, sqlx::Error> {
    let cutoff = db::format_time(chrono::Utc::now() - chrono::Duration::days(RETENTION_DAYS));
    let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
        .bind(cutoff)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}
