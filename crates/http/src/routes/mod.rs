//! One router per resource; [`api`] puts the `/api/v1` ones together.

use crate::openapi::ApiRouter;

pub mod changes;
pub mod companies;
pub mod connections;
pub mod contacts;
pub mod document_sync;
pub mod documents;
pub mod extension;
pub mod health;
pub mod lookup;
pub mod me;
pub mod meetings;
pub mod oauth;
pub mod privacy;
pub mod products;
pub mod projects;
pub mod records;
pub mod sync;
pub mod tasks;
pub mod tokens;
pub mod tracked_emails;
pub mod users;

/// An integration's routes (its `http` crate's `router`), as the server's registry names
/// them.
pub type IntegrationRoutes = fn() -> ApiRouter;

/// The routes under `/api/v1` (all need a bearer token), with their description; the
/// integrations' routes come after the connections'.
pub fn api(integrations: &[IntegrationRoutes]) -> ApiRouter {
    let api = ApiRouter::new()
        .merge(me::router())
        .merge(lookup::router())
        .merge(privacy::router())
        .merge(contacts::router())
        .merge(tracked_emails::router())
        .merge(tasks::router())
        .merge(companies::router())
        .merge(projects::router())
        .merge(products::router())
        .merge(meetings::router())
        .merge(changes::router())
        .merge(documents::router())
        .merge(document_sync::router())
        .merge(tokens::router())
        .merge(extension::router())
        .merge(users::router())
        .merge(connections::router());
    let api = integrations
        .iter()
        .fold(api, |api, routes| api.merge(routes()));
    api.merge(oauth::router()).merge(sync::router())
}
