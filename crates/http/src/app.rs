//! The HTTP application: routes, body limit, request logging and metrics, fallbacks.

use axum::extract::DefaultBodyLimit;
use std::sync::Arc;

use axum::http::{header, Request, StatusCode};
use axum::routing::get;
use axum::{middleware, Router};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::openapi::path::HttpMethod;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::extract::MAX_BODY_BYTES;
use crate::metrics;
use crate::openapi;
use crate::routes::{self, IntegrationRoutes};
use crate::state::AppState;

/// The whole application, ready to serve (or to call with `tower::ServiceExt::oneshot`),
/// with the routes of the integrations the server's registry names.
pub fn router(state: AppState, integrations: &[IntegrationRoutes]) -> Router {
    let (api, document) = api_and_document(integrations);
    let document = axum::body::Bytes::from(document);
    Router::new()
        .merge(routes::health::router())
        // OAuth callbacks: the browser comes back here without an API token.
        .merge(routes::oauth::callbacks())
        .route("/metrics", get(metrics::serve))
        .merge(api)
        .route(
            openapi::DOCUMENT_PATH,
            // Bytes: each answer shares the one serialised document.
            get(move || {
                let document = document.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], document) }
            }),
        )
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

/// The `/api/v1` routes and their OpenAPI document (JSON), from the same registrations.
pub fn api_and_document(integrations: &[IntegrationRoutes]) -> (Router<AppState>, String) {
    let document_op = openapi::Op::new("openapi", "openapi", "This document")
        .description("The OpenAPI 3.1 description of `/api/v1`. Needs no token.")
        .content(
            "200",
            "The document.",
            "application/json",
            utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::Type::Object),
        );
    let (api, mut document) = OpenApiRouter::new()
        .nest("/api/v1", routes::api(integrations))
        .split_for_parts();
    // Served by `router`: its handler needs the finished document.
    document
        .paths
        .merge(document_op.describe(openapi::DOCUMENT_PATH, HttpMethod::Get));
    let document = openapi::finish(document);
    let json = openapi::to_json(&document);
    let api = if cfg!(debug_assertions) {
        let documented = Arc::new(openapi::operations(&document));
        api.route_layer(middleware::from_fn(move |request, next| {
            openapi::require_documented(Arc::clone(&documented), request, next)
        }))
    } else {
        api
    };
    (api, json)
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
