//! The pages, one module per part of the app; each adds its routes here.

pub mod auth;
pub mod connect;
pub mod home;
pub mod settings;

use axum::routing::{get, post};
use axum::Router;
use threadline_http::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home::home))
        .route("/sign-in", get(auth::sign_in_form).post(auth::sign_in))
        .route("/sign-out", post(auth::sign_out))
        .route("/sign-out-everywhere", post(auth::sign_out_everywhere))
        .route(
            "/setup/{token}",
            get(auth::link_form).post(auth::redeem_link),
        )
        .route(
            "/join/{token}",
            get(auth::link_form).post(auth::redeem_link),
        )
        // Settings and the extension's sign-in.
        .route("/settings", get(settings::settings))
        .route("/settings/profile", post(settings::save_profile))
        .route("/settings/password", post(settings::change_password))
        .route("/settings/sessions/{id}/end", post(settings::end_session))
        .route("/settings/tokens", post(settings::create_token))
        .route("/settings/tokens/{id}/revoke", post(settings::revoke_token))
        .route("/settings/invitations", post(settings::invite))
        .route(
            "/settings/invitations/{id}/revoke",
            post(settings::revoke_invitation),
        )
        .route(
            "/connect/extension",
            get(connect::ask).post(connect::decide),
        )
}
