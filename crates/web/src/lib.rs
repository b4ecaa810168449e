//! Threadline's web app: the CRM for people, served by the Threadline server at `/`, the same
//! origin as `/api/v1`. The HTTP layer's second face: it calls the same CRM model as the JSON
//! API (no rule of the CRM lives here), renders HTML on the server, and works with JavaScript
//! off; `assets/app.js` only enhances.
//!
//! - [`layout`]: what every page shares (`templates/base.html`).
//! - [`session`]: the session cookie → [`session::Viewer`]; the cross-site and CSRF checks.
//! - [`pages`]: one module per part of the app, each with its routes (`integrations`: the
//!   Marketplace, from the registry; `planning`: the week of meetings and busy times).
//! - [`dates`]: every date and time in the viewer's zone and language ([`dates::Clock`]).
//! - [`i18n`]: the words, in English, Dutch and German (a typed catalogue).
//! - [`assets`]: the CSS, script and icon, under hashed names, cached for a year.
//! - [`headers`]: the Content-Security-Policy and the other headers of every page.
//! - [`error`]: [`error::WebError`], every lower error as a page.
//! - [`email_html`]: a tracked email's HTML body, sanitised (ammonia) before it is shown.
//!
//! Templates are askama's: compiled with the crate and checked against the page's Rust
//! types, and every `{{ value }}` is HTML-escaped unless a template says otherwise (none
//! does). Every string on these pages may come from an email or another user.
//!
//! Invariants: no SQL and no CRM rule here (the model decides, the page shows); never an
//! HTML string built by hand; names no integration (they come from the registry).

pub mod assets;
pub mod dates;
pub mod email_html;
pub mod error;
pub mod headers;
pub mod i18n;
pub mod layout;
pub mod pages;
pub mod picker;
pub mod session;

use std::sync::Arc;

use axum::routing::get;
use axum::{middleware, Extension, Router};
use threadline_http::AppState;

/// How this server is reached, for the cookies and the links it prints.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// Served over HTTPS (directly or behind a proxy): cookies are `Secure` and `__Host-`.
    pub secure_cookies: bool,
}

/// The web app as the HTTP layer's second face: its routes, and its 404 page.
pub fn pages(config: WebConfig) -> threadline_http::app::Pages {
    threadline_http::app::Pages {
        routes: router(config),
        not_found: Some(not_found),
    }
}

/// A path with no page: the 404 page in the browser's language, with the page headers.
fn not_found(headers: &axum::http::HeaderMap) -> axum::response::Response {
    use axum::response::IntoResponse;
    let lang = i18n::Lang::choose(None, headers);
    let mut response = error::WebError::NotFound(lang).into_response();
    headers::set_page_headers(response.headers_mut());
    response
}

/// Pages and assets are compressed; a download (`Content-Disposition`: a document, an
/// attachment, rejected rows) goes as stored, with its length: gzip of a 50 MB file of
/// random bytes gains nothing and outlasted the server's write timeout.
fn not_a_download() -> impl tower_http::compression::Predicate {
    use tower_http::compression::predicate::{DefaultPredicate, Predicate};
    DefaultPredicate::new().and(
        |_: axum::http::StatusCode,
         _: axum::http::Version,
         headers: &axum::http::HeaderMap,
         _: &axum::http::Extensions| {
            !headers.contains_key(axum::http::header::CONTENT_DISPOSITION)
        },
    )
}

/// The web app's routes, to merge beside the API's.
pub fn router(config: WebConfig) -> Router<AppState> {
    pages::routes()
        .route("/assets/{file}", get(assets::serve))
        .layer(middleware::from_fn(session::refuse_cross_site))
        .layer(middleware::map_response(headers::page_headers))
        .layer(Extension(Arc::new(config)))
        .layer(tower_http::compression::CompressionLayer::new().compress_when(not_a_download()))
}
