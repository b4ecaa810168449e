//! `/api/v1/tokens`: the caller's own personal API tokens. A token is shown once, in the
//! answer that creates it; lists show its id, name and times, never the token nor its hash.
//!
//! - `GET /tokens` → [`TokenList`] (revoked ones too, oldest first; `current` marks the
//!   token of the request). `last_used_at` is written at most once a minute per token (see
//!   `auth.rs`), so it may lag by up to a minute.
//! - `POST /tokens` [`NewTokenRequest`] → 201 [`CreatedToken`]; the new token's `parent_id`
//!   is the token of the request.
//! - `DELETE /tokens/{id}` → the [`TokenView`], revoked: requests with it are refused from
//!   then on (also when it is the token of this request), and so are requests with every
//!   token created with it, with those, and so on ([`accounts::revoke_token_tree`]); connect
//!   flows any of them started stop too (`oauth::pending`). Revoking a revoked token changes
//!   nothing; another user's token is 404, as a missing one.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::HttpMethod;
use uuid::Uuid;

use crate::accounts;
use crate::auth::AuthUser;
use crate::db::Conn;
use crate::error::{ApiError, ApiResult, ServerError};
use crate::extract::Json;
use crate::openapi::{ApiRouter, Op};
use crate::state::AppState;
use crate::validate;

/// Longest token name, in characters.
pub const MAX_TOKEN_NAME_CHARS: usize = accounts::devices::MAX_TOKEN_NAME_CHARS;

pub fn router() -> ApiRouter {
    let tag = "tokens";
    let list_op = Op::new(tag, "list_tokens", "The caller's API tokens")
        .description("Never the tokens themselves; `current` marks the one this request uses.")
        .json::<TokenList>("200", "The tokens, revoked ones included.");
    let create_op = Op::new(tag, "create_token", "Create an API token")
        .json_body::<NewTokenRequest>("A label for the token.")
        .json::<CreatedToken>("201", "The token, shown this once only.");
    let revoke_op = Op::new(tag, "revoke_token", "Revoke an API token")
        .description(
            "Requests with it are refused from then on (this one included, if it is the token \
             revoked); so are requests with the tokens created with it (`parent_id`), theirs, \
             and so on, and connect flows any of them started do not finish.",
        )
        .path_id("id", "The token's id.")
        .json::<TokenView>("200", "The token, revoked.")
        .not_found("token of the caller's");
    ApiRouter::new()
        .routes(list_op.route("/tokens", HttpMethod::Get, get(list)))
        .routes(create_op.route("/tokens", HttpMethod::Post, post(create)))
        .routes(revoke_op.route("/tokens/{id}", HttpMethod::Delete, delete(revoke)))
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenRequest {
    /// A label, e.g. the browser the token is for (1 to 100 characters).
    pub name: String,
}

/// A token as listed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TokenView {
    pub id: Uuid,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    /// The token it was created with (over the API); revoking that one revokes this one too.
    /// `null` for tokens made by the server's CLI.
    pub parent_id: Option<Uuid>,
    /// The token this request was made with.
    pub current: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TokenList {
    pub items: Vec<TokenView>,
}

/// A token just created: `token` is shown this once (the server keeps only its hash).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub info: TokenView,
    pub token: String,
}

/// The caller's tokens, or the one of them with id `only` (the model's list).
async fn load(conn: &mut Conn, auth: &AuthUser, only: Option<Uuid>) -> ApiResult<Vec<TokenView>> {
    let tokens = accounts::devices::tokens_of(conn, auth.user_id, only).await?;
    Ok(tokens
        .into_iter()
        .map(|t| TokenView {
            id: t.id,
            name: t.name,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
            parent_id: t.parent_id,
            current: t.id == auth.token_id,
        })
        .collect())
}

async fn list(auth: AuthUser, State(state): State<AppState>) -> ApiResult<Json<TokenList>> {
    let mut conn = state.db().pool().acquire().await?;
    Ok(Json(TokenList {
        items: load(&mut conn, &auth, None).await?,
    }))
}

async fn create(
    auth: AuthUser,
    State(state): State<AppState>,
    Json(req): Json<NewTokenRequest>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let name = validate::required_text("name", &req.name, MAX_TOKEN_NAME_CHARS)?;
    let auth = &auth;
    let name = &name;
    let created = state
        .db()
        .write(|tx| {
            Box::pin(async move {
                let new =
                    accounts::create_child_token(tx, auth.user_id, name, auth.token_id).await?;
                let info = load(tx, auth, Some(new.id))
                    .await
                    .map_err(ServerError::from)?;
                Ok::<_, ServerError>((info, new.token))
            })
        })
        .await
        .map_err(ApiError::from)?;
    let (mut info, token) = created;
    let info = info
        .pop()
        .ok_or_else(|| ApiError::internal("the new token was not found"))?;
    Ok((StatusCode::CREATED, Json(CreatedToken { info, token })))
}

async fn revoke(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> ApiResult<Json<TokenView>> {
    let id = crate::extract::path_id(&raw, "token")?;
    let auth = &auth;
    let mut found = state
        .db()
        .write(|tx| {
            Box::pin(async move {
                accounts::revoke_token_tree(tx, id, Some(auth.user_id)).await?;
                load(tx, auth, Some(id)).await
            })
        })
        .await?;
    found.pop().map(Json).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("you have no token with id {id}"),
        )
    })
}
