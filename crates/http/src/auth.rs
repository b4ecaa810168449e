//! Bearer-token authentication.
//!
//! A token is `tl_` followed by 64 hex digits (32 random bytes). Only its SHA-256 (hex) is
//! stored; the token itself is shown once, when it is created. Tokens are never logged.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use uuid::Uuid;

use crate::db;
use crate::error::ApiError;
use crate::state::AppState;
pub use threadline_crm::accounts::{generate_token, hash_token, sha256_hex, TOKEN_PREFIX};
use threadline_crm::Actor;

/// The caller of an authenticated request: the token's user, as the CRM model's [`Actor`]
/// (which it derefs to), and the token it came with.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub actor: Actor,
    pub token_id: Uuid,
}

impl std::ops::Deref for AuthUser {
    type Target = Actor;

    fn deref(&self) -> &Actor {
        &self.actor
    }
}

impl From<&AuthUser> for threadline_connections::Owner {
    fn from(auth: &AuthUser) -> Self {
        threadline_connections::Owner::from(&auth.actor)
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
        // Already authenticated by the rate limit's layer (`rate_limit::limit`).
        if let Some(user) = parts.extensions.get::<AuthUser>() {
            return Ok(user.clone());
        }
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
            actor: Actor {
                user_id: db::parse_uuid(&row.user_id)?,
                org_id: db::parse_uuid(&row.org_id)?,
                name: row.name,
                email: row.email,
            },
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
