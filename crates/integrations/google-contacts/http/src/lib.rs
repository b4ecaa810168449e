//! The Google Contacts export's routes, the user's side of [`threadline_google_contacts`]:
//!
//! - `GET /connections/{id}/contacts-export` → [`ExportState`]: on or off, whether the
//!   connection holds the Contacts scope, our group, how many contacts are in Google, the
//!   schedule (next run, current and last run with its counts), and a sentence for people.
//! - `PUT /connections/{id}/contacts-export` `{"enabled": true | false}` → [`ExportState`].
//!   On: when the connection lacks the Contacts scope, the answer carries `authorization`,
//!   a start link to Google's consent screen asking for it (incremental authorization: the
//!   scopes granted before stay); the export starts once the grant arrives. Otherwise it is
//!   due at once. Off: the exported contacts stay in Google, and the answer says so.
//! - "Sync now", the history of runs and the review of a refused run are the scheduler's
//!   `/connections/{id}/sync`, `/runs` and `/review`, as for every integration.
//!
//! Another user's connection, or one to another provider, is 404.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::HttpMethod;
use uuid::Uuid;

use threadline_connections::oauth::pending::Asker;
use threadline_connections::{Connection, Owner, Provider, Status};
use threadline_google_contacts::group::GROUP_NAME;
use threadline_google_contacts::store;
use threadline_google_contacts::{GoogleContacts, NAME};
use threadline_http::auth::AuthUser;
use threadline_http::error::{ApiError, ApiResult};
use threadline_http::extract::Json;
use threadline_http::openapi::{ApiRouter, Op};
use threadline_http::routes::connections::own_of;
use threadline_http::routes::oauth::ConnectStarted;
use threadline_http::routes::sync::switch_of;
use threadline_http::state::AppState;
use threadline_sync_engine::schedule::{self, ScheduleView};
use threadline_sync_engine::Integration;

const PATH: &str = "/connections/{id}/contacts-export";

pub fn router() -> ApiRouter {
    let tag = "contacts export";
    let connection = |op: Op| {
        op.path_id("id", "The Google connection's id.")
            .not_found("Google connection of the caller's")
    };
    let get_op = connection(Op::new(
        tag,
        "get_contacts_export",
        "The Google Contacts export",
    ))
    .description(
        "Whether the CRM's contacts are exported to this Google account's contact group \
         `Threadline` (one way, hourly and on \"sync now\"), whether the connection holds the \
         Contacts scope, how many contacts are in Google, and the export's schedule with its \
         last run (counts; `details` names contacts recreated after a delete in Google, \
         adopted, or edited in Google and left so).",
    )
    .json::<ExportState>("200", "The export's state.")
    .error(
        "409",
        "The server has no Google OAuth client configured (`provider_not_configured`).",
    );
    let put_op = connection(Op::new(
        tag,
        "set_contacts_export",
        "Turn the Google Contacts export on or off",
    ))
    .description(
        "On: the organisation's contacts (not companies) are exported into the contact \
         group `Threadline` of this Google account, created if needed and found again by \
         our stamp if renamed; contacts exported before (by an earlier export) are adopted, \
         never duplicated. When the connection lacks the Contacts scope, the answer's \
         `authorization.start_url` is a one-time link (5 minutes) to Google's consent \
         screen asking for it, to open in the browser; the export starts when Google grants \
         it. Otherwise the first run is due at once.\n\n\
         Off: nothing more is exported; the contacts exported so far stay in Google (the \
         answer's `message` says how many), and turning it on again adopts them.",
    )
    .json_body::<ExportSwitch>("On or off.")
    .json::<ExportState>("200", "The export's state.")
    .error(
        "409",
        "The server has no Google OAuth client configured (`provider_not_configured`).",
    );
    ApiRouter::new()
        .routes(get_op.route(PATH, HttpMethod::Get, get(get_export)))
        .routes(put_op.route(PATH, HttpMethod::Put, axum::routing::put(set_export)))
}

/// The body of `PUT /connections/{id}/contacts-export`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportSwitch {
    pub enabled: bool,
}

/// Where the export is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportStatus {
    Off,
    /// On, but the connection lacks the Contacts scope: the user is to grant it.
    WaitingForAuthorization,
    On,
}

/// The export of one connection.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExportState {
    pub connection_id: Uuid,
    pub status: ExportStatus,
    /// The connection holds the Contacts scope.
    pub scope_granted: bool,
    /// Our contact group (`contactGroups/…`), once made or found; its name is `Threadline`
    /// unless the user renamed it.
    pub group: Option<String>,
    /// Contacts of the CRM in Google, ours.
    pub exported: i64,
    /// Contacts the user deleted in Google: made again when they change in the CRM.
    pub deleted_in_google: i64,
    /// The export's schedule (next run, current and last run), once it was turned on.
    pub schedule: Option<ScheduleView>,
    /// What this means for the user, in a sentence or two.
    pub message: String,
    /// Only in the answer to turning it on without the Contacts scope: where to send the
    /// browser to grant it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<ConnectStarted>,
}

fn contacts(state: &AppState) -> ApiResult<&GoogleContacts> {
    // Without a Google client there is no export: said as connecting says it.
    state.oauth().google()?;
    state
        .integration::<GoogleContacts>()
        .ok_or_else(|| ApiError::internal("the Google Contacts export is not registered"))
}

async fn get_export(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> ApiResult<Json<ExportState>> {
    let connection = own_of(&state, &auth, &raw, Provider::Google).await?;
    let export = contacts(&state)?;
    Ok(Json(export_state(&state, export, &connection).await?))
}

async fn set_export(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Json(input): Json<ExportSwitch>,
) -> ApiResult<(StatusCode, Json<ExportState>)> {
    let connection = own_of(&state, &auth, &raw, Provider::Google).await?;
    let export = contacts(&state)?;
    // The account connected, preselected; its address when Google gave one.
    let hint = connection.account_email.as_deref().unwrap_or(&auth.email);
    let asker = (Owner::from(&auth), Asker::Token(auth.token_id));
    let (switched, authorization) = switch_of(
        &state,
        asker,
        &connection,
        export,
        input.enabled,
        Some(hint),
    )
    .await?;
    tracing::info!(connection = %connection.id, ?switched, "the Google Contacts export was switched");
    let mut answer = export_state(&state, export, &connection).await?;
    answer.authorization = authorization;
    Ok((StatusCode::OK, Json(answer)))
}

async fn export_state(
    state: &AppState,
    contacts: &GoogleContacts,
    connection: &Connection,
) -> ApiResult<ExportState> {
    let mut tx = state.db().begin_read().await?;
    let export = store::export(&mut tx, connection.id).await?;
    let counts = store::link_counts(&mut tx, connection.id).await?;
    let schedule = schedule::state(&mut tx, connection)
        .await?
        .schedules
        .into_iter()
        .find(|s| s.integration == NAME);
    tx.rollback().await?;
    let scope_granted = contacts.granted(&connection.scopes);
    let enabled = export.as_ref().is_some_and(|e| e.enabled);
    let status = match (enabled, scope_granted) {
        (false, _) => ExportStatus::Off,
        (true, false) => ExportStatus::WaitingForAuthorization,
        (true, true) => ExportStatus::On,
    };
    let message = message(status, connection, counts.exported);
    Ok(ExportState {
        connection_id: connection.id,
        status,
        scope_granted,
        group: export.and_then(|e| e.group),
        exported: counts.exported,
        deleted_in_google: counts.deleted_in_google,
        schedule,
        message,
        authorization: None,
    })
}

/// The sentence for people.
fn message(status: ExportStatus, connection: &Connection, exported: i64) -> String {
    let account = connection
        .account_email
        .as_deref()
        .unwrap_or("your Google account");
    let stay = match exported {
        0 => String::new(),
        1 => format!(
            " The contact exported so far stays in {account}'s Google Contacts; turning the \
             export on again finds it instead of copying it twice."
        ),
        n => format!(
            " The {n} contacts exported so far stay in {account}'s Google Contacts; turning \
             the export on again finds them instead of copying them twice."
        ),
    };
    // A disconnected account keeps what was exported too, and says so.
    let paused = match connection.status {
        Status::Disconnected => format!(
            " The Google account is disconnected: connect it again to resume the export.{stay}"
        ),
        Status::NeedsReauth => format!(
            " Google no longer accepts this connection: connect the account again to resume \
             the export.{stay}"
        ),
        _ => String::new(),
    };
    match status {
        ExportStatus::Off => format!("The export to Google Contacts is off.{stay}"),
        ExportStatus::WaitingForAuthorization => format!(
            "The export is on, and waits for Google's permission to manage {account}'s \
             contacts: open the authorization link, then allow Contacts.{paused}"
        ),
        ExportStatus::On => format!(
            "The organisation's contacts are exported to {account}'s Google Contacts, into \
             the group \u{201c}{GROUP_NAME}\u{201d}, every hour and on \u{201c}sync \
             now\u{201d}. Edits made in Google to these contacts are not kept: the CRM is \
             the source.{paused}"
        ),
    }
}
