//! The Threadline server binary's library: the command line ([`cli`], [`import_command`]),
//! its configuration ([`config`]) and the registry of integrations ([`registry`]), on top of the layers (see
//! ARCHITECTURE.md): `threadline-storage` → `threadline-crm` → `threadline-connections` →
//! `threadline-sync-engine` → the integrations (`crates/integrations/*`) →
//! `threadline-http`.
//!
//! The layers are re-exported under the names the server's own tests use.

pub mod cli;
pub mod config;
pub mod import_command;
pub mod registry;

pub use threadline_connections::{self as connections, oauth};
pub use threadline_crm::accounts as admin;
pub use threadline_crm::{
    accounts, actor, documents, email_source, ids, import, records, store, validate,
};
pub use threadline_http::{
    auth, error, extract, idempotency, metrics, openapi, public_url, rate_limit, routes, serve,
    state, ApiError, AppState, PublicUrl, ServerError,
};
pub use threadline_storage::{db, files, secrets, testing};
pub use threadline_sync_engine as sync;

/// `state` with the integrations of the registry that can run with its configuration (its
/// database, keys and OAuth clients): what `serve` runs.
pub fn with_registered_integrations(state: AppState) -> Result<AppState, ServerError> {
    let tokens = state.token_source().map_err(ServerError::from)?;
    let integrations = registry::build(&sync::integration::BuildContext {
        db: state.db().clone(),
        tokens: std::sync::Arc::new(tokens),
        oauth: std::sync::Arc::clone(state.oauth_shared()),
        blobs: state.blobs().ok().cloned(),
    })
    .map_err(ServerError::Invalid)?;
    Ok(state.with_integrations(integrations))
}

/// The whole application with every registered integration's routes, and the web app.
pub fn router(state: AppState) -> axum::Router {
    router_with_web(state, threadline_web::WebConfig::default())
}

/// [`router`] with the web app's settings.
pub fn router_with_web(state: AppState, web: threadline_web::WebConfig) -> axum::Router {
    threadline_http::app::router_with(state, &registry::routes(), threadline_web::pages(web))
}

/// The `/api/v1` routes and their OpenAPI document (JSON), integrations included.
pub fn api_and_document() -> (axum::Router<AppState>, String) {
    threadline_http::app::api_and_document(&registry::routes())
}
