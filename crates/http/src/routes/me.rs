//! `GET /api/v1/me`: the token's user, their own addresses (login, aliases, connected Google
//! accounts: `threadline_crm::accounts::own_addresses`) and their role.

use axum::extract::State;
use axum::routing::get;
use threadline_domain::api::MeResponse;
use utoipa::openapi::path::HttpMethod;

use crate::accounts;
use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::extract::Json;
use crate::openapi::{ApiRouter, Op};
use crate::state::AppState;

pub fn router() -> ApiRouter {
    let op = Op::new("me", "me", "The token's user")
        .description(
            "The user, the addresses that are their own (never offered as \"add contact\"): \
             login address, aliases and the addresses of their connected Google accounts; and \
             their role (`owner` manages the organisation's privacy rules).",
        )
        .json::<MeResponse>("200", "The user.");
    ApiRouter::new().routes(op.route("/me", HttpMethod::Get, get(me)))
}

async fn me(auth: AuthUser, State(state): State<AppState>) -> ApiResult<Json<MeResponse>> {
    let mut conn = state.db().pool().acquire().await?;
    let own_addresses = accounts::own_addresses(&mut conn, auth.user_id).await?;
    let role = accounts::role(&mut conn, auth.user_id).await?;
    Ok(Json(MeResponse {
        user: auth.user_ref(),
        own_addresses,
        role,
    }))
}
