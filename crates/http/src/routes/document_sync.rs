//! The document sync's routes, for both providers (Google Drive on a Google connection,
//! Dropbox on a Dropbox connection; `threadline_files_sync::integration`):
//!
//! - `GET /connections/{id}/documents-sync` → [`DocumentSyncState`]: what the connection
//!   syncs (records and whole modules), whether it holds the scope, how many files and
//!   folders are linked, the schedule (next run, current and last run with its counts), and
//!   a sentence for people.
//! - `PUT /connections/{id}/documents-sync` [`DocumentSyncSwitch`] → [`DocumentSyncState`]:
//!   "Sync with Drive" / "Sync with Dropbox" for one record (`record_id`) or every record
//!   of a module (`record_id` null), or off again. On Drive without the Drive scope, the
//!   answer carries `authorization`, a start link to Google's consent screen asking for it
//!   (incremental authorization); the sync starts once the grant arrives.
//! - "Sync now", the history of runs and the review of a refused run are the scheduler's
//!   `/connections/{id}/sync`, `/runs` and `/review`, as for every integration.
//!
//! Another user's connection is 404; a connection whose provider has no document sync on
//! this server is 409.

use std::any::Any;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::HttpMethod;
use uuid::Uuid;

use threadline_connections::{Connection, Provider, Status};
use threadline_crm::documents::tree::{self, RecordKind};
use threadline_files_core::link::{RecordKind as SyncKind, RecordRef as SyncRecord};
use threadline_files_sync::integration::{FilesIntegration, Switched};
use threadline_files_sync::settings::{self, Target};
use threadline_files_sync::store;
use threadline_sync_engine::schedule::{self, ScheduleView};
use threadline_sync_engine::Integration;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::openapi::{ApiRouter, Op};
use crate::routes::connections::own;
use crate::routes::oauth::{start_flow_for, ConnectStarted};
use crate::state::AppState;
use threadline_connections::oauth::pending::Asker;
use threadline_connections::Owner;
use threadline_crm::Actor;

const PATH: &str = "/connections/{id}/documents-sync";

pub fn router() -> ApiRouter {
    let tag = "document sync";
    let connection = |op: Op| {
        op.path_id("id", "The Google or Dropbox connection's id.")
            .not_found("connection of the caller's")
    };
    let get_op = connection(Op::new(
        tag,
        "get_documents_sync",
        "The document sync with Google Drive or Dropbox",
    ))
    .description(
        "What this connection's document sync covers (records, and modules whose every \
         record is synced), whether the connection holds the scope it needs, how many files \
         and folders are linked, and its schedule with its last run (counts; `details` has \
         `uploaded`, `downloaded`, `moved`, `folders created` and `skipped: <reason>`).",
    )
    .json::<DocumentSyncState>("200", "The sync's state.")
    .error(
        "409",
        "No document sync runs on this connection's provider on this server \
         (`no_document_sync`).",
    );
    let put_op = connection(Op::new(
        tag,
        "set_documents_sync",
        "Sync a record's or a module's documents with Google Drive or Dropbox",
    ))
    .description(
        "On: the record's documents (or those of every record of the module, later ones \
         too) are copied into its folder — Drive: `Threadline/<Module>/<record>` in My \
         Drive; Dropbox: `<Module>/<record>` in the app folder `Apps/Threadline CRM` — and \
         kept in sync both ways: CRM changes within a minute, the provider's every 30 \
         minutes (Drive) or hour (Dropbox), and on \"sync now\". A file deleted at the \
         provider is never deleted in the CRM. On Drive without the Drive scope, \
         `authorization.start_url` is a one-time link (5 minutes) to Google's consent \
         screen asking for it; the sync starts when Google grants it.\n\n\
         Off: the record (or module) is no longer synced; its files stay on both sides, and \
         turning it on again finds them instead of copying them twice.",
    )
    .json_body::<DocumentSyncSwitch>("What to sync, on or off.")
    .json::<DocumentSyncState>("200", "The sync's state.")
    .error("400", "The record kind is unknown (`invalid`).")
    .error(
        "409",
        "No document sync runs on this connection's provider on this server \
         (`no_document_sync`).",
    );
    ApiRouter::new()
        .routes(get_op.route(PATH, HttpMethod::Get, get(get_sync)))
        .routes(put_op.route(PATH, HttpMethod::Put, put(set_sync)))
}

/// The body of `PUT /connections/{id}/documents-sync`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentSyncSwitch {
    pub record_kind: RecordKind,
    /// The record; `null`: every record of the module, those made later too.
    #[serde(default)]
    pub record_id: Option<Uuid>,
    pub enabled: bool,
}

/// Where the sync is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentSyncStatus {
    /// Nothing is synced.
    Off,
    /// Something is to be synced, but the connection lacks the scope: the user is to grant
    /// it.
    WaitingForAuthorization,
    On,
}

/// One thing the sync covers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SyncedTarget {
    pub record_kind: RecordKind,
    /// `null`: every record of the module.
    pub record_id: Option<Uuid>,
}

/// The document sync of one connection.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DocumentSyncState {
    pub connection_id: Uuid,
    /// `google_drive` or `dropbox`.
    pub integration: String,
    pub status: DocumentSyncStatus,
    pub scope_granted: bool,
    pub targets: Vec<SyncedTarget>,
    /// Files and folders linked on both sides.
    pub linked_files: i64,
    pub linked_folders: i64,
    pub schedule: Option<ScheduleView>,
    /// What this means for the user, in a sentence or two.
    pub message: String,
    /// Only in the answer to turning it on without the scope: where to send the browser.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<ConnectStarted>,
}

/// The document sync that runs on `provider`'s connections on this server.
pub fn files_of(state: &AppState, provider: Provider) -> ApiResult<&FilesIntegration> {
    state
        .integrations()
        .of(provider)
        .find_map(|i| (i.as_ref() as &dyn Any).downcast_ref::<FilesIntegration>())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "no_document_sync",
                format!(
                    "this server runs no document sync with {}: configure the provider's \
                     client and restart the server",
                    provider.label()
                ),
            )
        })
}

/// The sync core's name of a record kind.
pub fn sync_kind(kind: RecordKind) -> SyncKind {
    match kind {
        RecordKind::Company => SyncKind::Company,
        RecordKind::Contact => SyncKind::Contact,
        RecordKind::Project => SyncKind::Project,
        RecordKind::Meeting => SyncKind::Meeting,
        RecordKind::Product => SyncKind::Product,
    }
}

fn crm_kind(kind: SyncKind) -> RecordKind {
    match kind {
        SyncKind::Company => RecordKind::Company,
        SyncKind::Contact => RecordKind::Contact,
        SyncKind::Project => RecordKind::Project,
        SyncKind::Meeting => RecordKind::Meeting,
        SyncKind::Product => RecordKind::Product,
    }
}

async fn get_sync(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> ApiResult<Json<DocumentSyncState>> {
    let connection = own(&state, &auth, &raw).await?;
    let files = files_of(&state, connection.provider)?;
    Ok(Json(sync_state(&state, files, &connection).await?))
}

async fn set_sync(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Json(input): Json<DocumentSyncSwitch>,
) -> ApiResult<(StatusCode, Json<DocumentSyncState>)> {
    let connection = own(&state, &auth, &raw).await?;
    let asker = Asker::Token(auth.token_id);
    let answer = switch_sync(&state, &auth, asker, &connection, &input).await?;
    Ok((StatusCode::OK, Json(answer)))
}

/// "Sync with Drive/Dropbox" on or off for a record (or a module) on the asker's own
/// `connection`: what `PUT …/documents-sync` does, for the API (`asker`: its token) and the
/// web app (its session). On Drive without the scope, the answer's `authorization` is the
/// start link of the grant.
pub async fn switch_sync(
    state: &AppState,
    actor: &Actor,
    asker: Asker,
    connection: &Connection,
    input: &DocumentSyncSwitch,
) -> ApiResult<DocumentSyncState> {
    let files = files_of(state, connection.provider)?;
    let target = match input.record_id {
        Some(id) => {
            let record = tree::RecordRef {
                kind: input.record_kind,
                id,
            };
            let mut conn = state.db().pool().acquire().await?;
            tree::require_record(&mut conn, actor.org_id, record).await?;
            Target::Record(SyncRecord {
                kind: sync_kind(input.record_kind),
                id,
            })
        }
        None => Target::Module(sync_kind(input.record_kind)),
    };
    let c = connection;
    let switched = state
        .db()
        .write(|tx| Box::pin(files.set_target(tx, c, target, input.enabled)))
        .await
        .map_err(ApiError::from)?;
    tracing::info!(connection = %connection.id, ?switched, "the document sync was switched");
    let authorization = match switched {
        Switched::On => {
            state.sync_wake().notify_one();
            None
        }
        Switched::WaitingForScope if connection.provider == Provider::Google => {
            let hint = connection.account_email.as_deref().unwrap_or(&actor.email);
            Some(
                start_flow_for(
                    state,
                    Owner::from(actor),
                    asker,
                    Provider::Google,
                    Some(hint),
                    files.scopes(),
                )
                .await?,
            )
        }
        Switched::WaitingForScope | Switched::Off => None,
    };
    let mut answer = sync_state(state, files, connection).await?;
    answer.authorization = authorization;
    Ok(answer)
}

/// What the sync of `connection` covers and where it stands.
pub async fn sync_state(
    state: &AppState,
    files: &FilesIntegration,
    connection: &Connection,
) -> ApiResult<DocumentSyncState> {
    let mut tx = state.db().begin_read().await?;
    let settings = settings::get(&mut tx, connection.id)
        .await
        .map_err(store_error)?;
    let (linked_files, linked_folders) = store::linked_counts(&mut tx, connection.id)
        .await
        .map_err(store_error)?;
    let schedule = schedule::state(&mut tx, connection)
        .await?
        .schedules
        .into_iter()
        .find(|s| s.integration == files.name());
    tx.rollback().await?;
    let targets: Vec<SyncedTarget> = settings
        .map(|s| s.targets)
        .unwrap_or_default()
        .into_iter()
        .map(|t| match t {
            Target::Record(r) => SyncedTarget {
                record_kind: crm_kind(r.kind),
                record_id: Some(r.id),
            },
            Target::Module(k) => SyncedTarget {
                record_kind: crm_kind(k),
                record_id: None,
            },
        })
        .collect();
    let scope_granted = files.granted(&connection.scopes);
    let status = match (targets.is_empty(), scope_granted) {
        (true, _) => DocumentSyncStatus::Off,
        (false, false) => DocumentSyncStatus::WaitingForAuthorization,
        (false, true) => DocumentSyncStatus::On,
    };
    Ok(DocumentSyncState {
        connection_id: connection.id,
        integration: files.name().to_string(),
        status,
        scope_granted,
        message: message(status, files, connection, linked_files),
        targets,
        linked_files,
        linked_folders,
        schedule,
        authorization: None,
    })
}

fn store_error(e: store::StoreError) -> ApiError {
    match e {
        store::StoreError::Database(e) => ApiError::from(e),
        other => ApiError::internal(other.to_string()),
    }
}

/// The sentence for people.
fn message(
    status: DocumentSyncStatus,
    files: &FilesIntegration,
    connection: &Connection,
    linked: i64,
) -> String {
    let provider = files.sync().provider().label();
    let account = connection
        .account_email
        .as_deref()
        .unwrap_or("your account");
    let stay = match linked {
        0 => String::new(),
        n => format!(
            " {n} synced file(s) stay on both sides; turning the sync on again finds them \
             instead of copying them twice."
        ),
    };
    let paused = match connection.status {
        Status::Disconnected => {
            format!(" The account is disconnected: connect it again to resume the sync.{stay}")
        }
        Status::NeedsReauth => format!(
            " {provider} no longer accepts this connection: connect the account again to \
             resume the sync.{stay}"
        ),
        _ => String::new(),
    };
    match status {
        DocumentSyncStatus::Off => format!("No documents are synced with {provider}.{stay}"),
        DocumentSyncStatus::WaitingForAuthorization => format!(
            "The sync is on, and waits for {provider}'s permission to manage {account}'s \
             files: open the authorization link, then allow it.{paused}"
        ),
        DocumentSyncStatus::On => format!(
            "The chosen records' documents are synced both ways with {account}'s \
             {provider}. Files deleted in {provider} stay in the CRM; Google Docs, Sheets \
             and Slides are skipped (export them as PDF to have them in the CRM).{paused}"
        ),
    }
}
