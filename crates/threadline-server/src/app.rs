//! The HTTP application: routes, body limit, request logging and metrics, fallbacks.

use axum::extract::DefaultBodyLimit;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::{middleware, Router};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::error::ApiError;
use crate::extract::MAX_BODY_BYTES;
use crate::metrics;
use crate::routes;
use crate::state::AppState;

/// The whole application, ready to serve (or to call with `tower::ServiceExt::oneshot`).
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(routes::health::router())
        .route("/metrics", get(metrics::serve))
        .nest("/api/v1", routes::api())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // After every route: `Router::layer` wraps each route, where `MatchedPath` is known.
        .layer(middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(
            TraceLayer::new_for_http()
                // Method and path only: never headers (the bearer token) nor the query.
                .make_span_with(|req: &Request<_>| {
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "there is no such route; the API is under /api/v1",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not accept this method",
    )
}
