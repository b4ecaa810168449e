//! `Idempotency-Key`: a POST sent again with the same key gets the first answer again.
//!
//! A handler that supports it reads the key with [`IdempotencyKey::from_headers`] (which
//! hashes the parsed request), then makes its change with [`write`], which in one write
//! transaction:
//! 1. replays the recorded answer (same status, same body) when the key was seen with the
//!    same request, or answers 422 `idempotency_key_reused` when it was seen with another;
//! 2. else makes the change and records its answer with it.
//!
//! Only successful answers are recorded (an error writes nothing, so a retry is evaluated
//! again). Keys are per user; records older than [`RETENTION_DAYS`] are purged at start-up.
//! The request is compared by the SHA-256 of its method, path and parsed body re-serialised,
//! so whitespace and key order in the JSON do not matter.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::auth::{sha256_hex, AuthUser};
use crate::db::{self, BoxFuture, Conn, Db, WriteTx};
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

/// Runs `work` (the change, returning the answer's body) in a write transaction, unless the
/// key was seen: then the recorded answer is replayed. A new answer is recorded under the key
/// in the same transaction. Like [`Db::write`]'s, `work` may run more than once.
pub async fn write<'env, T, F>(
    db: &Db,
    auth: &'env AuthUser,
    key: Option<&'env IdempotencyKey>,
    status: StatusCode,
    work: &'env F,
) -> ApiResult<Response>
where
    T: Serialize,
    F: for<'t> Fn(&'t mut WriteTx<'env>) -> BoxFuture<'t, ApiResult<T>> + Sync,
{
    db.write(|tx| {
        Box::pin(async move {
            if let Some(replayed) = replay(tx, auth, key).await? {
                return Ok(replayed);
            }
            let body = serde_json::to_string(&work(tx).await?)
                .map_err(|e| ApiError::internal(format!("cannot serialise the response: {e}")))?;
            record(tx, auth, key, status, body).await
        })
    })
    .await
}

/// The recorded answer for `key`, if the key was already used by this user.
async fn replay(
    conn: &mut Conn,
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
    .fetch_optional(&mut *conn)
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

/// Records the answer (`json`, the body) under `key` (when there is one), and answers.
async fn record(
    conn: &mut Conn,
    auth: &AuthUser,
    key: Option<&IdempotencyKey>,
    status: StatusCode,
    json: String,
) -> ApiResult<Response> {
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
        .execute(&mut *conn)
        .await;
        match recorded {
            Ok(_) => {}
            // Another request with this key committed first. Write transactions behave as if
            // one ran after the other, so the replay above normally answers it (PostgreSQL
            // reports the clash as a serialization failure, and the write is run again); this
            // is the fallback: the change is rolled back.
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
pub async fn purge_expired(db: &Db) -> Result<u64, sqlx::Error> {
    let cutoff = db::format_time(chrono::Utc::now() - chrono::Duration::days(RETENTION_DAYS));
    let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
        .bind(cutoff)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}
