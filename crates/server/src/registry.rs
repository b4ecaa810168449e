//! The integrations this server runs: one line each. An integration lives in its own folder
//! under `crates/integrations/` — its sync side (an `Integration` on the sync engine's
//! seam: provider, scopes, schedule, job, connect and disconnect) and its routes — and is
//! added here, and nowhere else.

use threadline_http::routes::IntegrationRoutes;
use threadline_sync_engine::integration::{Build, BuildContext};
use threadline_sync_engine::Integrations;

/// An integration as the server knows it: how it is built from the configuration (`None`
/// when its provider is not configured), and its routes.
pub struct Entry {
    /// Its name (`Integration::name`).
    pub name: &'static str,
    pub build: Build,
    pub routes: IntegrationRoutes,
}

/// Every integration, in the order their routes appear in the API.
pub const INTEGRATIONS: &[Entry] = &[
    Entry {
        name: threadline_google_calendar::NAME,
        build: threadline_google_calendar::GoogleCalendar::build,
        routes: threadline_google_calendar_http::router,
    },
    Entry {
        name: threadline_google_contacts::NAME,
        build: threadline_google_contacts::GoogleContacts::build,
        routes: threadline_google_contacts_http::router,
    },
    Entry {
        name: threadline_google_drive::NAME,
        build: threadline_google_drive::build,
        routes: shared_routes,
    },
    Entry {
        name: threadline_dropbox::NAME,
        build: threadline_dropbox::build,
        routes: shared_routes,
    },
];

/// An integration whose routes are shared ones (the document syncs': `threadline-http`'s
/// `routes::document_sync`, for both providers) adds none of its own.
fn shared_routes() -> threadline_http::openapi::ApiRouter {
    threadline_http::openapi::ApiRouter::new()
}

/// The routes of every integration.
pub fn routes() -> Vec<IntegrationRoutes> {
    INTEGRATIONS.iter().map(|entry| entry.routes).collect()
}

/// The integrations that can run with this configuration.
pub fn build(ctx: &BuildContext) -> Result<Integrations, String> {
    let mut list = Vec::new();
    for entry in INTEGRATIONS {
        list.extend((entry.build)(ctx)?);
    }
    Ok(Integrations::new(list))
}
