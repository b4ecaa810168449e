//! The pages, one module per part of the app; each adds its routes here.

pub mod auth;
pub mod home;
pub mod import;

use axum::extract::DefaultBodyLimit;
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
        .route(
            "/import",
            get(import::index)
                .post(import::upload)
                .layer(DefaultBodyLimit::max(import::MAX_UPLOAD_BYTES)),
        )
        .route("/import/{id}", get(import::show))
        .route("/import/{id}/start", post(import::start))
        .route("/import/{id}/rejected.csv", get(import::rejects))
}
