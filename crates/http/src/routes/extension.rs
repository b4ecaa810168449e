//! `POST /api/v1/extension/token`: the extension's sign-in through the web app, its last
//! step (no bearer token: the one-time code is the credential). The options page got a code
//! from the web app's `/connect/extension` (the user allowed the device there); it trades
//! the code and its PKCE verifier for a device token, which shows in the web app's Devices
//! list ([`accounts::devices::exchange_device_code`]: once, within 60 s; any failed attempt
//! spends the code). 400 `invalid_code` for every refusal, saying no more.

use axum::extract::State;
use axum::routing::post;
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::HttpMethod;
use uuid::Uuid;

use crate::accounts;
use crate::error::ApiResult;
use crate::extract::Json;
use crate::openapi::{ApiRouter, Op};
use crate::state::AppState;

/// The route's path, which needs no token (see `openapi::PUBLIC_PATHS`).
pub const TOKEN_PATH: &str = "/api/v1/extension/token";

pub fn router() -> ApiRouter {
    let op = Op::new(
        "extension",
        "extension_token",
        "Trade a device sign-in code for a device token",
    )
    .description(
        "Needs no token. The extension's options page opens the web app's \
         `/connect/extension?redirect_uri&state&code_challenge&device`; once the user allows \
         the device, the page redirects to `redirect_uri#code=…&state=…`. The code, with the \
         PKCE verifier of `code_challenge` (S256), is traded here once, within 60 s, for a \
         token of kind `device` (listed under Devices in the web app's settings, revoked \
         there). Any failed attempt spends the code.",
    )
    .json_body::<ExtensionTokenRequest>("The code and its verifier.")
    .json::<ExtensionToken>("200", "The device token, shown this once only.")
    .error(
        "400",
        "The code is unknown, used, expired, or not this verifier's or redirect URI's \
         (`invalid_code`).",
    );
    ApiRouter::new().routes(op.route("/extension/token", HttpMethod::Post, post(token)))
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionTokenRequest {
    /// The code from the redirect's fragment.
    pub code: String,
    /// The PKCE verifier whose S256 challenge opened the sign-in.
    pub code_verifier: String,
    /// The redirect URI the sign-in was opened with; when given, it must be the same.
    #[serde(default)]
    pub redirect_uri: Option<String>,
}

/// A device token just made.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExtensionToken {
    /// The token's id (as the Devices list and `/tokens` show it).
    pub id: Uuid,
    /// The bearer token, shown this once (the server keeps only its hash).
    pub token: String,
    /// The device's name, as the user allowed it.
    pub device: String,
}

async fn token(
    State(state): State<AppState>,
    Json(req): Json<ExtensionTokenRequest>,
) -> ApiResult<Json<ExtensionToken>> {
    let made = accounts::devices::exchange_device_code(
        state.db(),
        &req.code,
        &req.code_verifier,
        req.redirect_uri.as_deref(),
        chrono::Utc::now(),
    )
    .await?;
    Ok(Json(ExtensionToken {
        id: made.id,
        token: made.token,
        device: made.device,
    }))
}
