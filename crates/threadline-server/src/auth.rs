//! Bearer-token authentication.
//!
//! A token is `tl_` followed by 64 hex digits (32 random bytes). Only its SHA-256 (hex) is
//! stored; the token itself is shown once, when it is created. Tokens are never logged.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::db;
use crate::error::{ApiError, ServerError};
use crate::state::AppState;

/// Every token starts with this.
pub const TOKEN_PREFIX: &str = "tl_";

/// A new random token.
pub fn generate_token() -> Result<String, ServerError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ServerError::Invalid(format!("the system random source failed: {e}")))?;
    Ok(format!("{TOKEN_PREFIX}{}", hex(&bytes)))
}

/// The SHA-256 of a token, lowercase hex: what is stored.
pub fn hash_token(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The caller of an authenticated request: the token's user.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub email: String,
    pub token_id: Uuid,
}

impl AuthUser {
    pub fn user_ref(&self) -> threadline_domain::api::UserRef {
        threadline_domain::api::UserRef {
            id: self.user_id,
            name: self.name.clone(),
            email: self.email.clone(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    token_id: String,
    revoked_at: Option<String>,
    user_id: String,
    org_id: String,
    name: String,
    email: String,
}

const HOW_TO_GET_A_TOKEN: &str =
    "create one with `threadline-server token create --email <your address>`";

/// The token of an `Authorization` header value.
fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthorized(format!(
            "missing Authorization header: send `Authorization: Bearer tl_…` with a personal \
             API token ({HOW_TO_GET_A_TOKEN})"
        ))
    })?;
    let malformed = || {
        ApiError::unauthorized(
            "the Authorization header must be `Bearer <token>`, with a token that starts with `tl_`",
        )
    };
    let value = value.to_str().map_err(|_| malformed())?.trim();
    let (scheme, token) = value.split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || !token.starts_with(TOKEN_PREFIX) {
        return Err(malformed());
    }
    Ok(token)
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(parts)?;
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT t.id AS token_id, t.revoked_at, u.id AS user_id, u.org_id, u.name, u.email
             FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = $1",
        )
        .bind(hash_token(token))
        .fetch_optional(state.db().pool())
        .await?;
        let row = row.ok_or_else(|| {
            ApiError::unauthorized(format!("the API token is not valid; {HOW_TO_GET_A_TOKEN}"))
        })?;
        if row.revoked_at.is_some() {
            return Err(ApiError::unauthorized(format!(
                "the API token has been revoked; {HOW_TO_GET_A_TOKEN}"
            )));
        }
        let user = AuthUser {
            user_id: db::parse_uuid(&row.user_id)?,
            org_id: db::parse_uuid(&row.org_id)?,
            name: row.name,
            email: row.email,
            token_id: db::parse_uuid(&row.token_id)?,
        };
        if state.should_touch_token(user.token_id) {
            // Best effort: a failure to record the use must not fail the request.
            let touched = sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(db::now())
                .bind(&row.token_id)
                .execute(state.db().pool())
                .await;
            if let Err(e) = touched {
                tracing::warn!(error = %e, "could not record the token's last use");
            }
        }
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_hex() {
        let a = generate_token().unwrap();
        let b = generate_token().unwrap();
        assert!(a.starts_with("tl_"));
        assert_eq!(a.len(), 3 + 64);
        assert!(a[3..].bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
