//! The pages, one module per part of the app; each adds its routes here.

pub mod auth;
pub mod connect;
pub mod documents;
pub mod emails;
pub mod google_sign_in;
pub mod home;
pub mod import;
pub mod integrations;
pub mod planning;
pub mod records;
pub mod settings;
pub mod tasks;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use threadline_crm::records::{
    companies::Company, contacts::Contact, meetings::Meeting, products::Product, projects::Project,
};
use threadline_http::AppState;
use threadline_storage::db::Conn;

use crate::error::WebError;
use crate::i18n::Lang;

/// A connection of the pool for one page's reads.
pub(crate) async fn conn(
    app: &AppState,
    lang: Lang,
) -> Result<impl std::ops::DerefMut<Target = Conn>, WebError> {
    app.db()
        .pool()
        .acquire()
        .await
        .map_err(|e| WebError::Internal(lang, e.to_string()))
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home::home))
        .route("/sign-in", get(auth::sign_in_form).post(auth::sign_in))
        // Sign in with Google.
        .route("/sign-in/google", get(google_sign_in::start))
        .route("/sign-in/google/callback", get(google_sign_in::callback))
        .route("/settings/google/link", get(google_sign_in::link))
        .route("/settings/google/unlink", post(google_sign_in::unlink))
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
        // Emails and tasks.
        .route("/emails/{id}", get(emails::email))
        .route("/emails/{id}/body", get(emails::body))
        .route("/emails/{id}/records", post(emails::add_record))
        .route("/emails/{id}/records/remove", post(emails::remove_record))
        .route("/emails/{id}/attachments/{n}", get(emails::attachment))
        .route("/tasks", get(tasks::list).post(tasks::create))
        .route("/tasks/{id}", get(tasks::show).post(tasks::edit))
        .route("/tasks/{id}/done", post(tasks::done))
        // Settings and the extension's sign-in.
        .route("/settings", get(settings::settings))
        .route("/settings/profile", post(settings::save_profile))
        .route("/settings/password", post(settings::change_password))
        .route("/settings/sessions/{id}/end", post(settings::end_session))
        .route("/settings/tokens", post(settings::create_token))
        .route("/settings/tokens/{id}/revoke", post(settings::revoke_token))
        .route("/settings/invitations", post(settings::invite))
        .route(
            "/settings/invitations/{id}/revoke",
            post(settings::revoke_invitation),
        )
        .route(
            "/connect/extension",
            get(connect::ask).post(connect::decide),
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
        .route(
            "/integrations/{id}/choices/{name}",
            get(integrations::choices).post(integrations::choose),
        )
        // Planning.
        .route("/planning", get(planning::week))
        .route("/planning/busy/{id}/convert", post(planning::convert))
        .route("/planning/time-zone", post(planning::set_time_zone))
        // Records: each kind's list, new, page, save and delete (pages/records.rs).
        .merge(records::routes::<Company>())
        .merge(records::routes::<Contact>())
        .merge(records::routes::<Project>())
        .merge(records::routes::<Meeting>())
        .merge(records::routes::<Product>())
        // Documents: each record's panel, upload, trash; a node's changes (pages/documents.rs).
        .merge(documents::routes())
}
