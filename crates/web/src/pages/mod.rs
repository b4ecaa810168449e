//! The pages, one module per part of the app; each adds its routes here.

pub mod auth;
pub mod home;
pub mod integrations;
pub mod planning;

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
        // Integrations.
        .route("/integrations", get(integrations::page))
        .route(
            "/integrations/connect/{provider}",
            post(integrations::connect),
        )
        .route(
            "/integrations/{id}/disconnect",
            post(integrations::disconnect),
        )
        .route("/integrations/{id}/sync", post(integrations::sync_now))
        .route("/integrations/{id}/review", post(integrations::review))
        .route(
            "/integrations/{id}/switch/{name}",
            post(integrations::switch),
        )
        .route("/integrations/{id}/progress", get(integrations::progress))
        // Planning.
        .route("/planning", get(planning::week))
        .route("/planning/busy/{id}/convert", post(planning::convert))
        .route("/planning/time-zone", post(planning::set_time_zone))
}
