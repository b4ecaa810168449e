//! The HTTP application: routes, body limit, request logging and metrics, rate limits,
//! the headers every answer carries, fallbacks.

use axum::extract::DefaultBodyLimit;
use std::sync::Arc;

use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
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
use crate::rate_limit;
use crate::routes::{self, IntegrationRoutes};
use crate::state::AppState;

/// The whole application, ready to serve (or to call with `tower::ServiceExt::oneshot`),
/// with the routes of the integrations the server's registry names.
pub fn router(state: AppState, integrations: &[IntegrationRoutes]) -> Router {
    router_with(state, integrations, Pages::none())
}

/// Another face of the server beside the API (the web app): its routes, and what it answers
/// for a path that neither has (outside `/api/`).
pub struct Pages {
    pub routes: Router<AppState>,
    pub not_found: Option<fn(&HeaderMap) -> Response>,
}

impl Pages {
    pub fn none() -> Pages {
        Pages {
            routes: Router::new(),
            not_found: None,
        }
    }
}

/// [`router`] with another face's routes beside the API's (the web app's pages): they get
/// the same limits, metrics and logging. A path neither has is the API's JSON 404 under
/// `/api/`, the pages' own 404 elsewhere.
pub fn router_with(state: AppState, integrations: &[IntegrationRoutes], pages: Pages) -> Router {
    let page_not_found = pages.not_found;
    let (api, document) = api_and_document(integrations);
    let document = axum::body::Bytes::from(document);
    Router::new()
        .merge(pages.routes)
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
        .fallback(move |request: Request<axum::body::Body>| async move {
            match page_not_found {
                Some(page) if !request.uri().path().starts_with("/api/") => {
                    page(request.headers())
                }
                _ => not_found().await.into_response(),
            }
        })
        .method_not_allowed_fallback(method_not_allowed)
        // After every route: `Router::layer` wraps each route, where `MatchedPath` is known.
        // Innermost first: the rate limit's 429s are counted in the metrics.
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit::limit))
        .layer(middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(middleware::from_fn(valid_path))
        .layer(middleware::map_response(with_api_headers))
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

/// What every answer carries (unless its route set them otherwise): never sniffed as
/// another type than it says, never stored by a cache (answers are private data).
pub fn set_api_headers(headers: &mut HeaderMap) {
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
}

async fn with_api_headers(mut response: Response) -> Response {
    set_api_headers(response.headers_mut());
    response
}

/// 400 `invalid_path` for a path whose percent-encoding is malformed or decodes to bytes
/// that are not UTF-8, before a route's path extractor answers it in plain text.
async fn valid_path(request: axum::extract::Request, next: middleware::Next) -> Response {
    if let Err(reason) = check_path(request.uri().path()) {
        return ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", reason).into_response();
    }
    next.run(request).await
}

fn check_path(path: &str) -> Result<(), String> {
    let bytes = path.as_bytes();
    for (i, _) in bytes.iter().enumerate().filter(|(_, b)| **b == b'%') {
        let escape = bytes.get(i + 1..i + 3);
        if !escape.is_some_and(|e| e.iter().all(u8::is_ascii_hexdigit)) {
            return Err(format!(
                "the path has a malformed percent-escape at byte {i}: `%` must be followed by \
                 two hexadecimal digits"
            ));
        }
    }
    percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .map(drop)
        .map_err(|_| "the path, percent-decoded, is not UTF-8".to_string())
}

#[cfg(test)]
mod tests {
    use super::check_path;

    #[test]
    fn paths_must_be_well_escaped_utf8() {
        for ok in ["/api/v1/me", "/api/v1/contacts/caf%C3%A9", "/a%2Fb", "/"] {
            assert_eq!(check_path(ok), Ok(()), "{ok}");
        }
        for bad in [
            "/api/v1/contacts/%FF",
            "/x/%E2%82",
            "/x/%ZZ",
            "/x/%4",
            "/x/%",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
    }
}
