//! `GET /api/v1/users`: the users of the caller's organisation (`{items: [{id, name,
//! email}]}`, by name then address): who a task can be assigned to. Not paged: an
//! organisation has tens of users, not thousands.

use axum::extract::State;
use axum::routing::get;
use serde::Serialize;
use threadline_domain::api::UserRef;
use utoipa::openapi::path::HttpMethod;

use crate::auth::AuthUser;
use crate::db::{id_text, parse_uuid};
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
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT id, name, email FROM users WHERE org_id = $1 ORDER BY name, email")
            .bind(id_text(auth.org_id))
            .fetch_all(state.db().pool())
            .await?;
    let items = rows
        .into_iter()
        .map(|(id, name, email)| {
            Ok(UserRef {
                id: parse_uuid(&id)?,
                name,
                email,
            })
        })
        .collect::<ApiResult<_>>()?;
    Ok(Json(UserList { items }))
}
