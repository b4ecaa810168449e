//! A record's documents panel: its folders and files, upload, download, new folder, rename,
//! move, the trash and restore. Every change is the model's (`threadline_crm::documents`:
//! `tree` for the nodes, `upload` for a file arriving, the same calls as the API's routes),
//! and wakes the record's document syncs as the API does (`routes::documents::wake_syncs`).
//!
//! - `GET /<kind>s/{id}/documents?folder=F`: the folder tree, folder F's contents (the top
//!   without one), breadcrumbs, the upload and new-folder forms.
//! - `POST /<kind>s/{id}/documents/files` (multipart: `csrf`, `folder`, then `file`s): each
//!   file streamed into the blob store (50 MB each, refused past it with nothing kept).
//! - `POST /<kind>s/{id}/documents/folders`, `GET /<kind>s/{id}/documents/trash`.
//! - `POST /documents/{node}/rename|move|delete|restore` (each with the node's `version`,
//!   the API's If-Match), `GET /documents/{node}/download`.
//!
//! A refusal (a name taken, a stale version, a file too large) shows the panel again with
//! the reason; the rest redirects back (303) with what was done.

use std::collections::HashMap;

use askama::Template;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Form, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;
use threadline_connections::oauth::pending::Asker;
use threadline_crm::documents::blobs::{BlobStore, MAX_FILE_BYTES};
use threadline_crm::documents::tree::{
    self, node_etag, IfMatch, Node, NodeKind, RecordKind, RecordRef,
};
use threadline_crm::documents::upload;
use threadline_crm::CrmError;
use threadline_http::routes::documents::{download_response, wake_syncs};
use threadline_http::routes::{document_sync, sync as api_sync};
use threadline_http::{ApiError, AppState};
use threadline_sync_engine::Integration;
use uuid::Uuid;

use crate::error::WebError;
use crate::i18n::{Lang, Words};
use crate::layout::{render, Layout, Section};
use crate::pages::conn;
use crate::pages::integrations::{from_api, own, to_provider, viewer_connections};
use crate::pages::records::name_of;
use crate::session::Viewer;

/// Files one upload form may carry (each up to the documents' 50 MB).
pub const MAX_FILES_PER_FORM: usize = 20;

/// The documents' routes, for every kind of record.
pub fn routes() -> Router<AppState> {
    let mut router = Router::new()
        .route("/documents/{node}/download", get(download))
        .route("/documents/{node}/{change}", post(change_node));
    let most = MAX_FILES_PER_FORM * MAX_FILE_BYTES as usize + 64 * 1024;
    for kind in RecordKind::ALL {
        let base = format!("/{}/{{id}}/documents", kind.plural());
        router = router
            .route(&base, get(panel).layer(Extension(kind)))
            .route(
                &format!("{base}/files"),
                post(upload_files)
                    .layer::<_, std::convert::Infallible>(DefaultBodyLimit::max(most))
                    .layer(Extension(kind)),
            )
            .route(
                &format!("{base}/folders"),
                post(new_folder).layer(Extension(kind)),
            )
            .route(
                &format!("{base}/trash"),
                get(trash_page).layer(Extension(kind)),
            )
            .route(
                &format!("{base}/sync/{{connection}}"),
                post(switch_sync).layer(Extension(kind)),
            )
            .route(
                &format!("{base}/sync/{{connection}}/now"),
                post(sync_now).layer(Extension(kind)),
            );
    }
    router
}

fn section_of(kind: RecordKind) -> Section {
    match kind {
        RecordKind::Company => Section::Companies,
        RecordKind::Contact => Section::Contacts,
        RecordKind::Project => Section::Projects,
        RecordKind::Meeting => Section::Meetings,
        RecordKind::Product => Section::Products,
    }
}

fn kind_words(w: &'static Words, kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Company => w.nav_companies,
        RecordKind::Contact => w.nav_contacts,
        RecordKind::Project => w.nav_projects,
        RecordKind::Meeting => w.nav_meetings,
        RecordKind::Product => w.nav_products,
    }
}

fn base_of(record: RecordRef) -> String {
    format!("/{}/{}/documents", record.kind.plural(), record.id)
}

fn panel_href(record: RecordRef, folder: Option<Uuid>, done: Option<&str>) -> String {
    let mut href = base_of(record);
    let mut sep = '?';
    if let Some(f) = folder {
        href.push_str(&format!("{sep}folder={f}"));
        sep = '&';
    }
    if let Some(d) = done {
        href.push_str(&format!("{sep}done={d}"));
    }
    href
}

fn parse_id(raw: &str, lang: Lang) -> Result<Uuid, WebError> {
    Uuid::parse_str(raw.trim()).map_err(|_| WebError::NotFound(lang))
}

/// A form's folder: empty is the top of the tree.
fn folder_of(raw: Option<&str>, lang: Lang) -> Result<Option<Uuid>, WebError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(raw) => parse_id(raw, lang).map(Some),
    }
}

fn blobs(app: &AppState, lang: Lang) -> Result<&BlobStore, WebError> {
    app.blobs()
        .map_err(|_| WebError::Internal(lang, "the server has no data directory".into()))
}

/// "12.3 MB": a size for people (decimal units, as the 50 MB limit is said).
pub fn human_size(bytes: i64) -> String {
    let b = bytes.max(0) as f64;
    match bytes {
        n if n < 1000 => format!("{n} B"),
        n if n < 1_000_000 => format!("{:.1} kB", b / 1e3),
        n if n < 1_000_000_000 => format!("{:.1} MB", b / 1e6),
        _ => format!("{:.1} GB", b / 1e9),
    }
}

/// "2026-12-07 21:33" of an RFC 3339 time, as stored.
fn short_time(at: &str) -> String {
    at.get(..16).unwrap_or(at).replace('T', " ")
}

/// A refusal the panel shows: the model's reason, in the viewer's words where it has them.
fn refusal(w: &'static Words, error: &CrmError) -> String {
    match error.code() {
        Some("name_conflict") => w.docs_name_taken.to_string(),
        Some("precondition_failed") => w.docs_stale.to_string(),
        Some("parent_in_trash") => w.docs_parent_in_trash.to_string(),
        Some("payload_too_large") => w.docs_too_large_server.to_string(),
        _ => match error {
            CrmError::Request { message, .. } => message.clone(),
            other => other.to_string(),
        },
    }
}

/// The status of the panel that shows a refusal.
fn status_of(error: &CrmError) -> StatusCode {
    use threadline_crm::Reason::*;
    match error.reason() {
        Some(TooLarge) => StatusCode::PAYLOAD_TOO_LARGE,
        Some(Conflict | StaleVersion) => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// A model refusal a person can act on becomes the panel again with its reason; anything
/// else (not found, a server failure) is an error page.
fn acts_on(error: &CrmError) -> bool {
    use threadline_crm::Reason::*;
    matches!(
        error.reason(),
        Some(Conflict | StaleVersion | TooLarge | BadInput | Unacceptable)
    )
}

// ---------------------------------------------------------------------------------------
// The panel

/// A folder in the tree, in depth-first order: `close` nested lists end before it.
pub struct TreeFolder {
    href: String,
    name: String,
    current: bool,
    has_children: bool,
    close: usize,
}

/// A row of the folder's contents.
pub struct Row {
    id: Uuid,
    name: String,
    folder: bool,
    href: Option<String>,
    size: String,
    kind: String,
    modified: String,
    modified_at: String,
    by: String,
    version: i64,
    /// Folders it may move to (id, path): not itself nor one inside it.
    targets: Vec<(String, String)>,
    parent: String,
    /// Its state with each sync that covers the record.
    sync: String,
}

pub struct Crumb {
    href: String,
    name: String,
}

#[derive(Template)]
#[template(path = "documents/panel.html")]
struct PanelPage {
    l: Layout,
    w: &'static Words,
    kind_name: &'static str,
    kind_path: &'static str,
    record_id: Uuid,
    record_name: String,
    heading: String,
    base: String,
    crumbs: Vec<Crumb>,
    here: String,
    folder: String,
    tree: Vec<TreeFolder>,
    tree_close: usize,
    top_current: bool,
    rows: Vec<Row>,
    empty: &'static str,
    notice: Option<String>,
    problem: Option<String>,
    max_bytes: u64,
    syncs: Vec<SyncRow>,
    /// Some sync covers the record: the list has a column for it.
    synced: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct PanelQuery {
    folder: Option<String>,
    done: Option<String>,
    n: Option<usize>,
}

fn notice(w: &'static Words, done: Option<&str>, n: Option<usize>) -> Option<String> {
    Some(match done? {
        "uploaded" => (w.docs_uploaded)(n.unwrap_or(1)),
        "folder" => w.docs_done_folder.into(),
        "renamed" => w.docs_done_renamed.into(),
        "moved" => w.docs_done_moved.into(),
        "trashed" => w.docs_done_trashed.into(),
        "restored" => w.docs_done_restored.into(),
        "sync-on" => w.docs_done_sync_on.into(),
        "sync-off" => w.docs_done_sync_off.into(),
        "sync-now" => w.docs_done_sync_now.into(),
        "sync-busy" => w.docs_done_sync_busy.into(),
        _ => return None,
    })
}

/// The record's name, or 404 when the organisation has no such live record.
async fn require_record(
    app: &AppState,
    viewer: &Viewer,
    record: RecordRef,
) -> Result<String, WebError> {
    let lang = viewer.lang;
    let mut c = conn(app, lang).await?;
    tree::require_record(&mut c, viewer.org_id, record)
        .await
        .map_err(WebError::crm(lang))?;
    Ok(
        name_of(&mut c, viewer.org_id, record.kind.record_kind(), record.id)
            .await
            .unwrap_or_default(),
    )
}

/// The whole of one folder's panel; `problem` (with its status) when a change was refused.
async fn panel_page(
    app: &AppState,
    viewer: &Viewer,
    record: RecordRef,
    folder: Option<Uuid>,
    notice: Option<String>,
    problem: Option<(StatusCode, String)>,
) -> Result<Response, WebError> {
    let w = viewer.words();
    let lang = viewer.lang;
    let name = require_record(app, viewer, record).await?;
    let (nodes, by) = {
        let mut c = conn(app, lang).await?;
        let nodes = tree::record_nodes(&mut c, viewer.org_id, record)
            .await
            .map_err(WebError::crm(lang))?;
        let by = tree::changed_by(&mut c, viewer.org_id, record)
            .await
            .map_err(WebError::crm(lang))?;
        (nodes, by)
    };
    // A folder that is not (or no longer) this record's: the top, when a change was
    // refused (the page must still show), else 404.
    let folder = match folder {
        Some(f)
            if nodes
                .iter()
                .any(|n| n.id == f && n.kind == NodeKind::Folder) =>
        {
            Some(f)
        }
        Some(_) if problem.is_none() => return Err(WebError::NotFound(lang)),
        _ => None,
    };
    let (syncs, sync_states) = syncs_of(app, viewer, record, &nodes).await?;
    let base = base_of(record);
    let by_id: HashMap<Uuid, &Node> = nodes.iter().map(|n| (n.id, n)).collect();
    let path_of = |id: Uuid| -> Vec<&Node> {
        let mut path = Vec::new();
        let mut at = by_id.get(&id).copied();
        while let Some(n) = at {
            path.push(n);
            at = n.parent_id.and_then(|p| by_id.get(&p).copied());
        }
        path.reverse();
        path
    };
    let label = |id: Uuid| -> String {
        path_of(id)
            .iter()
            .map(|n| n.name.as_str())
            .collect::<Vec<_>>()
            .join(" / ")
    };
    // Breadcrumbs: the top, then each folder down to this one.
    let mut crumbs = vec![Crumb {
        href: base.clone(),
        name: w.docs_top.to_string(),
    }];
    let mut here = w.docs_top.to_string();
    if let Some(f) = folder {
        let path = path_of(f);
        if let Some((last, above)) = path.split_last() {
            crumbs.extend(above.iter().map(|n| Crumb {
                href: panel_href(record, Some(n.id), None),
                name: n.name.clone(),
            }));
            here = last.name.clone();
        }
    }
    // The tree of folders, depth first, as nested lists.
    let folders: Vec<&Node> = nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Folder)
        .collect();
    let mut tree_rows = Vec::new();
    let mut open = 0usize;
    fn walk<'a>(
        parent: Option<Uuid>,
        depth: usize,
        folders: &[&'a Node],
        out: &mut Vec<(usize, &'a Node, bool)>,
    ) {
        for f in folders.iter().filter(|f| f.parent_id == parent) {
            let has = folders.iter().any(|c| c.parent_id == Some(f.id));
            out.push((depth, f, has));
            walk(Some(f.id), depth + 1, folders, out);
        }
    }
    let mut order = Vec::new();
    walk(None, 0, &folders, &mut order);
    for (depth, f, has_children) in order {
        tree_rows.push(TreeFolder {
            href: panel_href(record, Some(f.id), None),
            name: f.name.clone(),
            current: folder == Some(f.id),
            has_children,
            close: open - depth,
        });
        open = if has_children { depth + 1 } else { depth };
    }
    // Where each node may move: the top and every folder not inside it.
    let targets_of = |n: &Node| -> Vec<(String, String)> {
        let mut t = vec![(String::new(), w.docs_top.to_string())];
        t.extend(
            folders
                .iter()
                .filter(|f| !path_of(f.id).iter().any(|p| p.id == n.id))
                .map(|f| (f.id.to_string(), label(f.id))),
        );
        t
    };
    let rows = nodes
        .iter()
        .filter(|n| n.parent_id == folder)
        .map(|n| {
            let is_folder = n.kind == NodeKind::Folder;
            Row {
                id: n.id,
                name: n.name.clone(),
                folder: is_folder,
                href: Some(if is_folder {
                    panel_href(record, Some(n.id), None)
                } else {
                    format!("/documents/{}/download", n.id)
                }),
                size: n.size.map(human_size).unwrap_or_default(),
                kind: if is_folder {
                    w.docs_folder.to_string()
                } else {
                    n.content_type.clone().unwrap_or_default()
                },
                modified: short_time(&n.updated_at),
                modified_at: n.updated_at.clone(),
                by: by.get(&n.id).cloned().unwrap_or_default(),
                version: n.version,
                targets: targets_of(n),
                parent: n.parent_id.map(|p| p.to_string()).unwrap_or_default(),
                sync: sync_states
                    .get(&n.id)
                    .cloned()
                    .unwrap_or_default()
                    .join(" · "),
            }
        })
        .collect();
    let status = problem.as_ref().map(|(s, _)| *s);
    let mut page = render(&PanelPage {
        l: Layout::for_viewer(
            viewer,
            &format!("{} · {}", w.docs_title, name),
            section_of(record.kind),
        ),
        w,
        kind_name: kind_words(w, record.kind),
        kind_path: record.kind.plural(),
        record_id: record.id,
        heading: (w.docs_heading)(&name),
        record_name: name,
        base,
        crumbs,
        here,
        folder: folder.map(|f| f.to_string()).unwrap_or_default(),
        tree: tree_rows,
        tree_close: open,
        top_current: folder.is_none(),
        rows,
        empty: if folder.is_none() {
            w.docs_empty
        } else {
            w.docs_folder_empty
        },
        notice,
        problem: problem.map(|(_, p)| p),
        max_bytes: MAX_FILE_BYTES,
        synced: syncs.iter().any(|s| s.on),
        syncs,
    });
    if let Some(status) = status {
        *page.status_mut() = status;
    }
    Ok(page)
}

fn record_of(kind: RecordKind, raw: &str, lang: Lang) -> Result<RecordRef, WebError> {
    Ok(RecordRef {
        kind,
        id: parse_id(raw, lang)?,
    })
}

/// `GET /<kind>s/{id}/documents?folder=`.
pub async fn panel(
    State(app): State<AppState>,
    viewer: Viewer,
    Extension(kind): Extension<RecordKind>,
    Path(raw): Path<String>,
    Query(query): Query<PanelQuery>,
) -> Result<Response, WebError> {
    let lang = viewer.lang;
    let record = record_of(kind, &raw, lang)?;
    let folder = folder_of(query.folder.as_deref(), lang)?;
    let notice = notice(viewer.words(), query.done.as_deref(), query.n);
    panel_page(&app, &viewer, record, folder, notice, None).await
}

// ---------------------------------------------------------------------------------------
// Upload and new folder

/// `POST /<kind>s/{id}/documents/files` (multipart: `csrf`, `folder`, then the `file`s).
/// The CSRF token must come before the files: nothing is stored for a request without it.
pub async fn upload_files(
    State(app): State<AppState>,
    viewer: Viewer,
    Extension(kind): Extension<RecordKind>,
    Path(raw): Path<String>,
    mut form: Multipart,
) -> Result<Response, WebError> {
    let lang = viewer.lang;
    let w = viewer.words();
    let record = record_of(kind, &raw, lang)?;
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        WebError::Refused(lang, StatusCode::BAD_REQUEST, e.body_text())
    };
    let mut csrf_checked = false;
    let mut folder = None;
    let mut uploaded = 0usize;
    while let Some(field) = form.next_field().await.map_err(unreadable)? {
        match field.name() {
            Some("csrf") => {
                viewer.check_csrf(&field.text().await.map_err(unreadable)?)?;
                csrf_checked = true;
            }
            Some("folder") => {
                folder = folder_of(Some(&field.text().await.map_err(unreadable)?), lang)?;
            }
            Some("file") => {
                if !csrf_checked {
                    return Err(WebError::CrossSite(lang));
                }
                let name = field.file_name().unwrap_or("").to_string();
                // A form sent with no file chosen has one empty part without a name.
                if name.is_empty() {
                    continue;
                }
                let content_type = field
                    .content_type()
                    .filter(|t| t.len() <= 255 && axum::http::HeaderValue::from_str(t).is_ok())
                    .unwrap_or("application/octet-stream")
                    .to_string();
                let done = upload::upload_file(
                    app.db(),
                    blobs(&app, lang)?,
                    &viewer,
                    record,
                    folder,
                    &name,
                    content_type,
                    field,
                )
                .await;
                match done {
                    Ok(node) => {
                        uploaded += 1;
                        wake_syncs(&app, viewer.org_id, &node).await;
                    }
                    Err(e) if acts_on(&e) => {
                        let status = status_of(&e);
                        let problem = (w.docs_not_uploaded)(&name, &refusal(w, &e));
                        let notice = (uploaded > 0).then(|| (w.docs_uploaded)(uploaded));
                        return panel_page(
                            &app,
                            &viewer,
                            record,
                            folder,
                            notice,
                            Some((status, problem)),
                        )
                        .await;
                    }
                    Err(e) => return Err(WebError::from_crm(e, lang)),
                }
            }
            _ => {}
        }
    }
    if !csrf_checked {
        return Err(WebError::CrossSite(lang));
    }
    if uploaded == 0 {
        let problem = (
            StatusCode::UNPROCESSABLE_ENTITY,
            w.docs_choose_files.to_string(),
        );
        return panel_page(&app, &viewer, record, folder, None, Some(problem)).await;
    }
    let href = panel_href(record, folder, Some("uploaded"));
    Ok(Redirect::to(&format!("{href}&n={uploaded}")).into_response())
}

#[derive(Debug, Deserialize)]
pub struct FolderForm {
    csrf: String,
    #[serde(default)]
    folder: String,
    #[serde(default)]
    name: String,
}

/// `POST /<kind>s/{id}/documents/folders`: a new folder in `folder`.
pub async fn new_folder(
    State(app): State<AppState>,
    viewer: Viewer,
    Extension(kind): Extension<RecordKind>,
    Path(raw): Path<String>,
    Form(form): Form<FolderForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let lang = viewer.lang;
    let record = record_of(kind, &raw, lang)?;
    let parent = folder_of(Some(&form.folder), lang)?;
    let name = form.name.trim();
    let made = match tree::valid_name("name", name) {
        Err(e) => Err(e),
        Ok(()) => {
            let actor: &threadline_crm::Actor = &viewer;
            app.db()
                .write(|tx| Box::pin(tree::create_folder(tx, actor, record, parent, name)))
                .await
        }
    };
    match made {
        Ok(node) => {
            wake_syncs(&app, viewer.org_id, &node).await;
            Ok(Redirect::to(&panel_href(record, parent, Some("folder"))).into_response())
        }
        Err(e) => refused(&app, &viewer, record, parent, e).await,
    }
}

/// The panel again with the model's refusal, or its error page.
async fn refused(
    app: &AppState,
    viewer: &Viewer,
    record: RecordRef,
    folder: Option<Uuid>,
    error: CrmError,
) -> Result<Response, WebError> {
    if !acts_on(&error) {
        return Err(WebError::from_crm(error, viewer.lang));
    }
    let status = status_of(&error);
    let problem = refusal(viewer.words(), &error);
    panel_page(app, viewer, record, folder, None, Some((status, problem))).await
}

// ---------------------------------------------------------------------------------------
// One node: download, rename, move, trash, restore

/// `GET /documents/{node}/download`: the file as stored, as an attachment (never shown
/// inline), `nosniff`.
pub async fn download(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
) -> Result<Response, WebError> {
    let lang = viewer.lang;
    let id = parse_id(&raw, lang)?;
    let (node, sha256, size) = {
        let mut c = conn(&app, lang).await?;
        upload::file_node(&mut c, viewer.org_id, id)
            .await
            .map_err(WebError::crm(lang))?
    };
    let stream = blobs(&app, lang)?
        .open(&sha256)
        .await
        .map_err(WebError::crm(lang))?;
    Ok(download_response(
        Body::from_stream(stream),
        node.content_type.as_deref(),
        size,
        &node.name,
    ))
}

#[derive(Debug, Deserialize)]
pub struct NodeForm {
    csrf: String,
    #[serde(default)]
    version: i64,
    #[serde(default)]
    name: Option<String>,
    /// A move's target folder (empty: the top).
    #[serde(default)]
    to: Option<String>,
}

#[derive(Clone, Copy)]
enum Change {
    Rename,
    Move,
    Trash,
    Restore,
}

/// The node as this organisation has it (live or in the trash), or 404.
async fn node_of(app: &AppState, viewer: &Viewer, id: Uuid) -> Result<Node, WebError> {
    let lang = viewer.lang;
    let mut c = conn(app, lang).await?;
    tree::node(&mut c, viewer.org_id, id)
        .await
        .map_err(WebError::crm(lang))?
        .ok_or(WebError::NotFound(lang))
}

async fn change(
    app: AppState,
    viewer: Viewer,
    raw: String,
    form: NodeForm,
    what: Change,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let lang = viewer.lang;
    let id = parse_id(&raw, lang)?;
    let current = node_of(&app, &viewer, id).await?;
    let record = current.record;
    let if_match = IfMatch::parse(Some(&node_etag(form.version))).map_err(WebError::crm(lang))?;
    let name = form.name.as_deref().map(str::trim).unwrap_or("");
    let to = folder_of(form.to.as_deref(), lang)?;
    if let Change::Rename = what {
        if let Err(e) = tree::valid_name("name", name) {
            return refused(&app, &viewer, record, current.parent_id, e).await;
        }
    }
    let actor: &threadline_crm::Actor = &viewer;
    let done = app
        .db()
        .write(|tx| match what {
            Change::Rename => Box::pin(tree::update(tx, actor, id, &if_match, Some(name), None)),
            Change::Move => Box::pin(tree::update(tx, actor, id, &if_match, None, Some(to))),
            Change::Trash => Box::pin(tree::move_to_trash(tx, actor, id, &if_match)),
            Change::Restore => Box::pin(tree::restore(tx, actor, id, &if_match)),
        })
        .await;
    match done {
        Ok(node) => {
            wake_syncs(&app, viewer.org_id, &node).await;
            let (folder, word) = match what {
                Change::Rename => (node.parent_id, "renamed"),
                Change::Move => (node.parent_id, "moved"),
                Change::Trash => (node.parent_id, "trashed"),
                Change::Restore => (node.parent_id, "restored"),
            };
            Ok(Redirect::to(&panel_href(record, folder, Some(word))).into_response())
        }
        Err(e) => refused(&app, &viewer, record, current.parent_id, e).await,
    }
}

/// `POST /documents/{node}/{change}`: `rename`, `move`, `delete` (to the trash) or
/// `restore`.
pub async fn change_node(
    State(app): State<AppState>,
    viewer: Viewer,
    Path((raw, what)): Path<(String, String)>,
    Form(form): Form<NodeForm>,
) -> Result<Response, WebError> {
    let what = match what.as_str() {
        "rename" => Change::Rename,
        "move" => Change::Move,
        "delete" => Change::Trash,
        "restore" => Change::Restore,
        _ => return Err(WebError::NotFound(viewer.lang)),
    };
    change(app, viewer, raw, form, what).await
}

// ---------------------------------------------------------------------------------------
// The trash

pub struct TrashRow {
    id: Uuid,
    name: String,
    folder: bool,
    size: String,
    deleted: String,
    deleted_at: String,
    by: String,
    version: i64,
}

#[derive(Template)]
#[template(path = "documents/trash.html")]
struct TrashPage {
    l: Layout,
    w: &'static Words,
    kind_name: &'static str,
    kind_path: &'static str,
    record_id: Uuid,
    record_name: String,
    base: String,
    rows: Vec<TrashRow>,
}

/// `GET /<kind>s/{id}/documents/trash`: what deletes took from this record, newest first.
pub async fn trash_page(
    State(app): State<AppState>,
    viewer: Viewer,
    Extension(kind): Extension<RecordKind>,
    Path(raw): Path<String>,
) -> Result<Response, WebError> {
    let lang = viewer.lang;
    let w = viewer.words();
    let record = record_of(kind, &raw, lang)?;
    let name = require_record(&app, &viewer, record).await?;
    let mut c = conn(&app, lang).await?;
    let items = tree::record_trash(&mut c, viewer.org_id, record)
        .await
        .map_err(WebError::crm(lang))?;
    let by = tree::changed_by(&mut c, viewer.org_id, record)
        .await
        .map_err(WebError::crm(lang))?;
    drop(c);
    let rows = items
        .into_iter()
        .map(|n| {
            let deleted_at = n.deleted_at.clone().unwrap_or_default();
            TrashRow {
                id: n.id,
                folder: n.kind == NodeKind::Folder,
                size: n.size.map(human_size).unwrap_or_default(),
                deleted: short_time(&deleted_at),
                deleted_at,
                by: by.get(&n.id).cloned().unwrap_or_default(),
                version: n.version,
                name: n.name,
            }
        })
        .collect();
    Ok(render(&TrashPage {
        l: Layout::for_viewer(
            &viewer,
            &format!("{} · {}", w.docs_trash, name),
            section_of(kind),
        ),
        w,
        kind_name: kind_words(w, kind),
        kind_path: kind.plural(),
        record_id: record.id,
        record_name: name,
        base: base_of(record),
        rows,
    }))
}

// ---------------------------------------------------------------------------------------
// The file sync (Google Drive, Dropbox)

/// One of the viewer's connections whose provider has a document sync on this server.
pub struct SyncRow {
    connection: Uuid,
    provider: &'static str,
    account: String,
    /// This record's documents are synced by it (the record itself, or its whole module).
    on: bool,
    /// Synced as part of its whole module: turned off in Integrations, not here.
    by_module: bool,
    /// On, but the provider's permission is still to be granted.
    waiting: bool,
}

impl SyncRow {
    /// "Synced with Dropbox (ann@example.com)."
    fn line(&self, w: &Words) -> String {
        (w.docs_sync_state)(self.provider, &self.account, self.on)
    }
}

/// The viewer's document syncs, and each node's state with those that cover the record
/// (`"Google Drive: synced"`).
async fn syncs_of(
    app: &AppState,
    viewer: &Viewer,
    record: RecordRef,
    nodes: &[Node],
) -> Result<(Vec<SyncRow>, HashMap<Uuid, Vec<String>>), WebError> {
    use threadline_files_core::{link::RecordRef as SyncRef, NodeKey, NodeSyncState};
    use threadline_files_sync::settings::{self, Target};
    use threadline_files_sync::store;
    let lang = viewer.lang;
    let w = viewer.words();
    let internal = |e: threadline_files_sync::StoreError| WebError::Internal(lang, e.to_string());
    let connections = viewer_connections(app, viewer).await?;
    let mut rows = Vec::new();
    let mut states: HashMap<Uuid, Vec<String>> = HashMap::new();
    let mut c = conn(app, lang).await?;
    let mut list: Vec<_> = connections.into_values().collect();
    list.sort_by_key(|c| c.provider.label());
    for connection in list {
        if connection.status == threadline_connections::Status::Disconnected {
            continue;
        }
        let Ok(files) = document_sync::files_of(app, connection.provider) else {
            continue;
        };
        let kind = document_sync::sync_kind(record.kind);
        let targets = settings::get(&mut c, connection.id)
            .await
            .map_err(internal)?
            .map(|s| s.targets)
            .unwrap_or_default();
        let by_record = targets.contains(&Target::Record(SyncRef {
            kind,
            id: record.id,
        }));
        let by_module = targets.contains(&Target::Module(kind));
        let provider = files.sync().provider().label();
        let on = by_record || by_module;
        if on {
            let links: HashMap<Uuid, _> = store::links(&mut c, connection.id)
                .await
                .map_err(internal)?
                .into_iter()
                .filter_map(|l| match l.key {
                    NodeKey::Node(id) => Some((id, l)),
                    _ => None,
                })
                .collect();
            for n in nodes {
                let state =
                    match threadline_files_core::node_sync_state(links.get(&n.id), n.version) {
                        NodeSyncState::Synced => w.docs_state_synced,
                        NodeSyncState::Waiting => w.docs_state_waiting,
                        NodeSyncState::GoneRemotely => w.docs_state_gone,
                    };
                states
                    .entry(n.id)
                    .or_default()
                    .push(format!("{provider}: {state}"));
            }
        }
        rows.push(SyncRow {
            connection: connection.id,
            provider,
            account: connection.account_email.clone().unwrap_or_default(),
            on,
            by_module: by_module && !by_record,
            waiting: on && !files.granted(&connection.scopes),
        });
    }
    Ok((rows, states))
}

#[derive(Debug, Deserialize)]
pub struct SyncForm {
    csrf: String,
    /// `on` or `off`.
    enabled: String,
}

/// `POST /<kind>s/{id}/documents/sync/{connection}`: "Sync with Drive/Dropbox" on or off
/// for this record (the API's `PUT /connections/{id}/documents-sync`, for this session).
pub async fn switch_sync(
    State(app): State<AppState>,
    viewer: Viewer,
    Extension(kind): Extension<RecordKind>,
    Path((raw, connection)): Path<(String, Uuid)>,
    Form(form): Form<SyncForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let lang = viewer.lang;
    let record = record_of(kind, &raw, lang)?;
    let connection = own(&app, &viewer, connection).await?;
    let switch = document_sync::DocumentSyncSwitch {
        record_kind: kind,
        record_id: Some(record.id),
        enabled: form.enabled == "on",
    };
    let asker = Asker::Session(viewer.session.id);
    let answer = document_sync::switch_sync(&app, &viewer, asker, &connection, &switch)
        .await
        .map_err(|e| from_api(e, lang))?;
    if let Some(grant) = answer.authorization {
        return Ok(to_provider(&viewer, connection.provider, grant.start_url));
    }
    let done = if switch.enabled {
        "sync-on"
    } else {
        "sync-off"
    };
    Ok(Redirect::to(&panel_href(record, None, Some(done))).into_response())
}

/// `POST /<kind>s/{id}/documents/sync/{connection}/now`: the scheduler's "sync now", as on
/// the Integrations page.
pub async fn sync_now(
    State(app): State<AppState>,
    viewer: Viewer,
    Extension(kind): Extension<RecordKind>,
    Path((raw, connection)): Path<(String, Uuid)>,
    Form(form): Form<crate::session::CsrfForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let lang = viewer.lang;
    let record = record_of(kind, &raw, lang)?;
    let connection = own(&app, &viewer, connection).await?;
    let done = match api_sync::sync_now_of(&app, connection.id).await {
        Ok(_) => "sync-now",
        Err(ApiError::Request { status, .. }) if status.as_u16() == 409 => "sync-busy",
        Err(e) => return Err(from_api(e, lang)),
    };
    Ok(Redirect::to(&panel_href(record, None, Some(done))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(12_345), "12.3 kB");
        assert_eq!(human_size(50 * 1024 * 1024), "52.4 MB");
        assert_eq!(short_time("2026-12-07T21:33:38.123Z"), "2026-12-07 21:33");
    }
}
