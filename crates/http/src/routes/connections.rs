//! `/api/v1/connections`: the caller's own connections to outside services (see
//! [`crate::connections`]); never a token. Connecting (the OAuth flow) is `routes/oauth.rs`.
//!
//! - `GET /connections` → [`ConnectionList`] (disconnected ones too, by provider).
//! - `GET /connections/{id}` → [`Connection`].
//! - `DELETE /connections/{id}` → the [`Connection`], disconnected: its tokens are deleted
//!   and the provider asked to revoke them ([`connections::remote::revoke`]); the row stays
//!   (status `disconnected`), so that connecting again finds what the sync kept. No
//!   `If-Match`: a disconnect is what the user wants whatever changed meanwhile, and doing it
//!   twice changes nothing. Another user's connection is 404, as a missing one.

use axum::extract::{Path, State};
use axum::routing::{delete, get};
use serde::Serialize;
use utoipa::openapi::path::HttpMethod;

use crate::auth::AuthUser;
use crate::connections::{self, Connection, Owner};
use crate::error::{ApiError, ApiResult};
use crate::extract::path_id;
use crate::extract::Json;
use crate::openapi::{ApiRouter, Op};
use crate::state::AppState;
use crate::sync::schedule::{self, Paused};

pub fn router() -> ApiRouter {
    let tag = "connections";
    let list_op = Op::new(tag, "list_connections", "The caller's connections")
        .description("To Google and Dropbox: account, granted scopes, status. Never a token.")
        .json::<ConnectionList>("200", "The connections.");
    let id = |op: Op| {
        op.path_id("id", "The connection's id.")
            .not_found("connection of the caller's")
    };
    let get_op = id(Op::new(tag, "get_connection", "A connection"))
        .json::<Connection>("200", "The connection.");
    let disconnect_op = id(Op::new(tag, "disconnect", "Disconnect"))
        .description(
            "Forgets the tokens (and asks the provider to revoke them); the data on both sides \
             stays. Connecting again reuses the connection.",
        )
        .json::<Connection>("200", "The connection, `disconnected`.");
    ApiRouter::new()
        .routes(list_op.route("/connections", HttpMethod::Get, get(list)))
        .routes(get_op.route("/connections/{id}", HttpMethod::Get, get(get_one)))
        .routes(disconnect_op.route("/connections/{id}", HttpMethod::Delete, delete(disconnect)))
}

/// The caller's connection `raw` (a path segment): 404 when it is missing or another
/// user's.
pub async fn own(state: &AppState, auth: &AuthUser, raw: &str) -> ApiResult<Connection> {
    let id = path_id(raw, "connection")?;
    let mut conn = state.db().pool().acquire().await?;
    Ok(connections::get_for(&mut conn, Owner::from(auth), id).await?)
}

/// [`own`], to `provider`, for an integration's routes: 404 also when it is to another
/// provider.
pub async fn own_of(
    state: &AppState,
    auth: &AuthUser,
    raw: &str,
    provider: connections::Provider,
) -> ApiResult<Connection> {
    let connection = own(state, auth, raw).await?;
    let id = connection.id;
    if connection.provider != provider {
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "not_found",
            format!("connection {id} is not a {} connection", provider.label()),
        ));
    }
    Ok(connection)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConnectionList {
    pub items: Vec<Connection>,
}

async fn list(auth: AuthUser, State(state): State<AppState>) -> ApiResult<Json<ConnectionList>> {
    let mut conn = state.db().pool().acquire().await?;
    let items = connections::list_for(&mut conn, Owner::from(&auth)).await?;
    Ok(Json(ConnectionList { items }))
}

async fn get_one(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> ApiResult<Json<Connection>> {
    Ok(Json(own(&state, &auth, &raw).await?))
}

async fn disconnect(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> ApiResult<Json<Connection>> {
    let id = path_id(&raw, "connection")?;
    Ok(Json(disconnect_for(&state, Owner::from(&auth), id).await?))
}

/// Disconnects `owner`'s connection `id` (404 when it is not theirs): its schedules pause,
/// its tokens are deleted, the row stays; then the provider is asked to revoke the grant.
/// What the API's `DELETE /connections/{id}` and the web app's Disconnect do.
pub async fn disconnect_for(
    state: &AppState,
    owner: Owner,
    id: uuid::Uuid,
) -> ApiResult<Connection> {
    let done = state
        .db()
        .write(|tx| {
            Box::pin(async move {
                connections::get_for(tx, owner, id).await?;
                // Its schedules stop with it (and resume when it is connected again).
                let why = Some("disconnected by the user");
                schedule::pause_connection(tx, id, Paused::Disconnected, why).await?;
                connections::disconnect(tx, id).await
            })
        })
        .await
        .map_err(ApiError::from)?;
    // After the commit: the provider is told only about a disconnect that happened.
    if let Some(revocation) = done.revocation {
        connections::remote::revoke(state.keyring().ok(), state.oauth(), revocation).await;
    }
    Ok(done.connection)
}
