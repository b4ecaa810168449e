//! `GET /api/v1/me`: the token's user and their own addresses.

use axum::extract::State;
use axum::routing::get;
use threadline_domain::api::MeResponse;
use utoipa::openapi::path::HttpMethod;

use crate::auth::AuthUser;
use crate::db::id_text;
use crate::error::ApiResult;
use crate::extract::Json;
use crate::openapi::{ApiRouter, Op};
use crate::state::AppState;

pub fn router() -> ApiRouter {
    let op = Op::new("me", "me", "The token's user")
        .description(
            "The user and the addresses that are their own (never offered as \"add contact\").",
        )
        .json::<MeResponse>("200", "The user.");
    ApiRouter::new().routes(op.route("/me", HttpMethod::Get, get(me)))
}

async fn me(auth: AuthUser, State(state): State<AppState>) -> ApiResult<Json<MeResponse>> {
    let own_addresses: Vec<String> = sqlx::query_scalar(
        "SELECT address FROM user_addresses WHERE user_id = $1 ORDER BY position",
    )
    .bind(id_text(auth.user_id))
    .fetch_all(state.db().pool())
    .await?;
    Ok(Json(MeResponse {
        user: auth.user_ref(),
        own_addresses,
    }))
}
