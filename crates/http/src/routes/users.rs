//! `GET /api/v1/users`: the users of the caller's organisation (`{items: [{id, name,
//! email}]}`, by name then address): who a task can be assigned to. Not paged: an
//! organisation has tens of users, not thousands.

use axum::extract::State;
use axum::routing::get;
use serde::Serialize;
use threadline_domain::api::UserRef;
use utoipa::openapi::path::HttpMethod;

use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::extract::Json;
use crate::openapi::{ApiRouter, Op};
use crate::state::AppState;

pub fn router() -> ApiRouter {
    let op = Op::new("users", "list_users", "The organisation's users")
        .description("Everyone the caller can assign a task to, by name.")
        .json::<UserList>("200", "The users.");
    ApiRouter::new().routes(op.route("/users", HttpMethod::Get, get(list)))
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserList {
    pub items: Vec<UserRef>,
}

async fn list(auth: AuthUser, State(state): State<AppState>) -> ApiResult<Json<UserList>> {
    let mut conn = state.db().pool().acquire().await?;
    let items = threadline_crm::accounts::members(&mut conn, &auth)
        .await?
        .into_iter()
        .map(|m| UserRef {
            id: m.id,
            name: m.name,
            email: m.email,
        })
        .collect();
    Ok(Json(UserList { items }))
}
