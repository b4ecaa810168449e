//! One router per resource; [`api`] puts the `/api/v1` ones together.

use crate::openapi::ApiRouter;

pub mod calendar;
pub mod changes;
pub mod companies;
pub mod connections;
pub mod contacts;
pub mod documents;
pub mod health;
pub mod lookup;
pub mod me;
pub mod meetings;
pub mod oauth;
pub mod products;
pub mod projects;
pub mod records;
pub mod sync;
pub mod tasks;
pub mod tokens;
pub mod tracked_emails;
pub mod users;

/// The routes under `/api/v1` (all need a bearer token), with their description.
pub fn api() -> ApiRouter {
    ApiRouter::new()
        .merge(me::router())
        .merge(lookup::router())
        .merge(contacts::router())
        .merge(tracked_emails::router())
        .merge(tasks::router())
        .merge(companies::router())
        .merge(projects::router())
        .merge(products::router())
        .merge(meetings::router())
        .merge(changes::router())
        .merge(documents::router())
        .merge(tokens::router())
        .merge(users::router())
        .merge(connections::router())
        .merge(calendar::router())
        .merge(oauth::router())
        .merge(sync::router())
}
