//! The RPC routes (api.dropboxapi.com): `users/get_current_account`, `files/list_folder`,
//! `files/list_folder/continue`, `files/list_folder/get_latest_cursor`, `files/get_metadata`,
//! `files/create_folder_v2`, `files/move_v2`, `files/delete_v2`.
//!
//! Checked against the Stone spec, github.com/dropbox/dropbox-api-spec at 0d994eb: the
//! arguments (`ListFolderArg`, `ListFolderContinueArg`, `GetMetadataArg`, `CreateFolderArg`,
//! `RelocationArg`, `DeleteArg`: names, defaults, `limit` 1..2000), the results
//! (`ListFolderResult {entries, cursor, has_more}`, `ListFolderGetLatestCursorResult
//! {cursor}`, `CreateFolderResult {metadata: FolderMetadata}`, `RelocationResult` and
//! `DeleteResult {metadata: Metadata}`, `users.FullAccount`), the metadata
//! (`files.Metadata`: `.tag` only where the declared type is the `Metadata` union) and the
//! error unions (`ListFolderError.path`, `ListFolderContinueError.{path, reset}`,
//! `GetMetadataError.path`, `CreateFolderError.path: WriteError`,
//! `RelocationError.{from_lookup, to, cant_move_folder_into_itself}`,
//! `DeleteError.{path_lookup, path_write}`, `LookupError`, `WriteError`,
//! `WriteConflictError`).
//!
//! Chosen where the spec is silent (each could differ from Dropbox):
//! - A recursive listing of a folder other than the app's root lists that folder itself
//!   first, as clients report Dropbox does; the root never is an entry.
//! - A deleted folder is one `DeletedMetadata` (its content goes with it by the documented
//!   apply rules); a moved one is a `DeletedMetadata` at the old path and the folder and its
//!   content at the new one. A user's case-only rename is not listed by continue (as
//!   documented).
//! - `move_v2` with a case-only change answers 200 with the item unchanged: "we do not
//!   currently support case-only renaming" (the route's doc), and a client reports the call
//!   succeeding without effect (takezoh/obsidian-air-sync#47). Moves keep the rev.
//! - `delete_v2` with a stale `parent_rev` is `path_write/conflict/file`; with `parent_rev` on
//!   a folder, `path_lookup/not_file`.
//! - An undecodable cursor, or another account's, is a 400; an expired one (see
//!   `DropboxFake::expire_cursors`) a 409 `reset`; a cursor whose folder is gone, 409
//!   `path/not_found`. Without `limit`, pages hold up to 2000 entries.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{post, MethodRouter};
use axum::{Json, Router};
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::oauth::{self, Caller};
use super::tree::{self, After, Conflict, Entry, Item, Listing, Namespace, Rename, View};
use super::{args, Account, DropboxError, DropboxState};
use crate::Shared;

const DEFAULT_LIMIT: u32 = 2000;

pub(crate) fn router() -> Router<Arc<Shared>> {
    use oauth::{ACCOUNT_INFO_READ, FILES_CONTENT_WRITE, FILES_METADATA_READ};
    Router::new()
        .route(
            "/2/users/get_current_account",
            rpc_route(
                "users/get_current_account",
                ACCOUNT_INFO_READ,
                get_current_account,
            ),
        )
        .route(
            "/2/files/list_folder",
            rpc_route("files/list_folder", FILES_METADATA_READ, list_folder),
        )
        .route(
            "/2/files/list_folder/continue",
            rpc_route(
                "files/list_folder/continue",
                FILES_METADATA_READ,
                list_folder_continue,
            ),
        )
        .route(
            "/2/files/list_folder/get_latest_cursor",
            rpc_route(
                "files/list_folder/get_latest_cursor",
                FILES_METADATA_READ,
                list_folder_get_latest_cursor,
            ),
        )
        .route(
            "/2/files/get_metadata",
            rpc_route("files/get_metadata", FILES_METADATA_READ, get_metadata),
        )
        .route(
            "/2/files/create_folder_v2",
            rpc_route("files/create_folder_v2", FILES_CONTENT_WRITE, create_folder),
        )
        .route(
            "/2/files/move_v2",
            rpc_route("files/move_v2", FILES_CONTENT_WRITE, move_v2),
        )
        .route(
            "/2/files/delete_v2",
            rpc_route("files/delete_v2", FILES_CONTENT_WRITE, delete),
        )
}

/// What an RPC route does with its argument, under the lock.
type RpcFn<T> = fn(&mut DropboxState, &Caller, T) -> Result<Value, DropboxError>;

/// A POST route running [`rpc`] for `function` (`files/list_folder`), which needs `scope`.
fn rpc_route<T: DeserializeOwned + Send + 'static>(
    function: &'static str,
    scope: &'static str,
    f: RpcFn<T>,
) -> MethodRouter<Arc<Shared>> {
    post(
        move |State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes| async move {
            rpc(&shared, &headers, &body, function, Some(scope), f)
        },
    )
}

/// Runs an RPC route: the bearer check, the argument, then `f` under the lock; its value is
/// answered as JSON.
pub(crate) fn rpc<T: DeserializeOwned>(
    shared: &Shared,
    headers: &HeaderMap,
    body: &[u8],
    function: &str,
    scope: Option<&str>,
    f: impl FnOnce(&mut DropboxState, &Caller, T) -> Result<Value, DropboxError>,
) -> Response {
    let mut state = shared.dropbox.lock();
    let result = oauth::caller(&state, headers, function, scope).and_then(|caller| {
        let arg = args::rpc_arg(function, headers, body)?;
        f(&mut state, &caller, arg)
    });
    match result {
        Ok(value) => Json(value).into_response(),
        Err(e) => e.into_response(),
    }
}

/// What a path argument names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// `""`: the app's root.
    Root,
    /// `/…`, relative to the app's folder.
    Path(String),
    /// `id:…`.
    Id(String),
    /// `rev:…` (`ReadPath`): a file revision, also one since replaced, moved or deleted.
    Rev(String),
    /// A form the fake does not resolve (`ns:…`): names nothing.
    Unresolved,
}

/// Which forms a route's path argument accepts (its Stone alias).
#[derive(Clone, Copy)]
pub(crate) enum Accepts {
    /// `WritePath`: `/…` only.
    WritePath,
    /// `WritePathOrId`: `/…` or `id:…`.
    WritePathOrId,
    /// `PathROrId` (listings): `""`, `/…` or `id:…`.
    PathROrId,
    /// `ReadPath`: `/…`, `id:…` or `rev:…`.
    ReadPath,
}

impl Accepts {
    fn pattern(self) -> &'static str {
        match self {
            Accepts::WritePath => r"(/(.|[\r\n])*)|(ns:[0-9]+(/(.|[\r\n])*)?)",
            Accepts::WritePathOrId => r"(/(.|[\r\n])*)|(ns:[0-9]+(/(.|[\r\n])*)?)|(id:.*)",
            Accepts::PathROrId => r"(/(.|[\r\n])*)?|id:.*|(ns:[0-9]+(/(.|[\r\n])*)?)",
            Accepts::ReadPath => {
                r"(/(.|[\r\n])*|id:.*)|(rev:[0-9a-f]{9,})|(ns:[0-9]+(/(.|[\r\n])*)?)"
            }
        }
    }
}

/// Reads a path argument: a form the route does not accept is a 400 naming the pattern, as
/// Dropbox answers it.
pub(crate) fn target(
    function: &str,
    field: &str,
    path: &str,
    accepts: Accepts,
) -> Result<Target, DropboxError> {
    let refuse = |message: String| {
        DropboxError::bad_input(function, &format!("request body: {field}: {message}"))
    };
    if path == "/" {
        return Err(refuse(
            "Specify the root folder as an empty string rather than as \"/\".".into(),
        ));
    }
    let ids = !matches!(accepts, Accepts::WritePath);
    let target = if path.is_empty() && matches!(accepts, Accepts::PathROrId) {
        Target::Root
    } else if path.starts_with('/') {
        Target::Path(path.to_string())
    } else if ids && path.starts_with("id:") {
        Target::Id(path.to_string())
    } else if let Some(rev) = path
        .strip_prefix("rev:")
        .filter(|_| matches!(accepts, Accepts::ReadPath))
    {
        Target::Rev(rev.to_string())
    } else if path.starts_with("ns:") {
        Target::Unresolved
    } else {
        return Err(refuse(format!(
            "'{path}' did not match pattern '{}'",
            accepts.pattern()
        )));
    };
    Ok(target)
}

/// `/a//b`, `/a/`, `/a/../b`: well-formed for the pattern, malformed for Dropbox.
pub(crate) fn malformed(target: &Target) -> bool {
    match target {
        Target::Path(p) => {
            p.ends_with('/')
                || p[1..]
                    .split('/')
                    .any(|c| c.is_empty() || c == "." || c == "..")
        }
        _ => false,
    }
}

/// Where a target is in the account: its full display path (empty when an id names nothing
/// the app may see) and what is there.
pub(crate) struct Spot {
    pub(crate) full: String,
    pub(crate) entry: Option<Entry>,
}

pub(crate) fn spot(account: &Account, view: &View, target: &Target) -> Spot {
    let at = |full: String| Spot {
        entry: account.ns.get(&tree::key(&full)).cloned(),
        full,
    };
    // An id or a rev names an entry wherever it is, if the app may see it.
    let found = |entry: Option<&Entry>| match entry.filter(|e| view.relative(&e.display).is_some())
    {
        Some(e) => Spot {
            full: e.display.clone(),
            entry: Some(e.clone()),
        },
        None => Spot {
            full: String::new(),
            entry: None,
        },
    };
    match target {
        Target::Root => at(view.full("")),
        Target::Path(p) => at(view.full(p)),
        Target::Id(id) => found(account.ns.by_id(id)),
        Target::Rev(rev) => found(account.ns.by_rev(rev)),
        Target::Unresolved => found(None),
    }
}

/// A 409 with the route's union: `outer` tags, then the inner ones.
pub(crate) fn conflict_error(outer: &[&str], conflict: Conflict) -> DropboxError {
    let mut tags = outer.to_vec();
    tags.extend(["conflict", conflict.tag()]);
    DropboxError::endpoint(&tags)
}

fn get_current_account(
    state: &mut DropboxState,
    caller: &Caller,
    (): (),
) -> Result<Value, DropboxError> {
    let account = state.account_mut(&caller.email);
    let local = account.email.split('@').next().unwrap_or("user");
    let mut given: Vec<char> = local.chars().collect();
    if let Some(first) = given.first_mut() {
        *first = first.to_ascii_uppercase();
    }
    let given: String = given.into_iter().collect();
    let initial = given.chars().next().unwrap_or('U');
    Ok(json!({
        "account_id": account.account_id,
        "name": {
            "given_name": given,
            "surname": "Tester",
            "familiar_name": given,
            "display_name": format!("{given} Tester"),
            "abbreviated_name": format!("{initial}T"),
        },
        "email": account.email,
        "email_verified": true,
        "disabled": false,
        "country": "BE",
        "locale": "en",
        "referral_link": format!("https://www.dropbox.com/referrals/fake{}", account.uid),
        "is_paired": false,
        "account_type": {".tag": "basic"},
        "root_info": {
            ".tag": "user",
            "root_namespace_id": account.namespace_id,
            "home_namespace_id": account.namespace_id,
        },
    }))
}

#[derive(Deserialize)]
struct ListFolderArg {
    path: String,
    #[serde(default)]
    recursive: bool,
    #[serde(default)]
    include_deleted: bool,
    limit: Option<u32>,
}

/// Where a listing stands, handed to the client as an opaque string.
#[derive(Serialize, Deserialize)]
struct Cursor {
    account: String,
    prefix: String,
    root: String,
    with_root: bool,
    recursive: bool,
    include_deleted: bool,
    limit: u32,
    epoch: u64,
    base: u64,
    after: After,
}

impl Cursor {
    fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("a cursor serialises");
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    fn decode(text: &str) -> Option<Cursor> {
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()?;
        serde_json::from_slice(&json).ok()
    }
}

/// A cursor at the start of a listing (`list_folder`) or at its end (`get_latest_cursor`).
fn start(
    function: &str,
    account: &Account,
    caller: &Caller,
    arg: &ListFolderArg,
    at_end: bool,
) -> Result<Cursor, DropboxError> {
    let limit = arg.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=DEFAULT_LIMIT).contains(&limit) {
        return Err(DropboxError::bad_input(
            function,
            &format!("request body: limit: {limit} is not within the range [1, 2000]"),
        ));
    }
    let target = target(function, "path", &arg.path, Accepts::PathROrId)?;
    if malformed(&target) {
        return Err(DropboxError::endpoint(&["path", "malformed_path"]));
    }
    let spot = spot(account, &caller.view, &target);
    match &spot.entry {
        Some(e) if !e.is_folder() => return Err(DropboxError::endpoint(&["path", "not_folder"])),
        None if target != Target::Root => {
            return Err(DropboxError::endpoint(&["path", "not_found"]))
        }
        _ => {}
    }
    let head = account.ns.head;
    Ok(Cursor {
        account: account.account_id.clone(),
        prefix: caller.view.prefix.clone(),
        root: tree::key(&spot.full),
        with_root: arg.recursive && target != Target::Root,
        recursive: arg.recursive,
        include_deleted: arg.include_deleted,
        limit,
        epoch: account.cursor_epoch,
        base: head,
        after: After {
            stamp: if at_end { head } else { 0 },
            path: None,
        },
    })
}

/// The next page after `cursor`.
fn serve(account: &Account, view: &View, mut cursor: Cursor) -> Value {
    let listing = Listing {
        root: &cursor.root,
        with_root: cursor.with_root,
        recursive: cursor.recursive,
        include_deleted: cursor.include_deleted,
        base: cursor.base,
    };
    let (items, more) = account
        .ns
        .page(&listing, &cursor.after, cursor.limit as usize);
    let entries: Vec<Value> = items
        .iter()
        .map(|item| match item {
            Item::Live(e) => view.metadata(e, true),
            Item::Deleted(t) => view.deleted(t),
        })
        .collect();
    cursor.after = match items.last() {
        Some(last) if more => Namespace::after(last),
        _ => After {
            stamp: account.ns.head,
            path: None,
        },
    };
    json!({"entries": entries, "cursor": cursor.encode(), "has_more": more})
}

fn list_folder(
    state: &mut DropboxState,
    caller: &Caller,
    arg: ListFolderArg,
) -> Result<Value, DropboxError> {
    const FUNCTION: &str = "files/list_folder";
    let account = state.account_mut(&caller.email);
    let cursor = start(FUNCTION, account, caller, &arg, false)?;
    Ok(serve(account, &caller.view, cursor))
}

fn list_folder_get_latest_cursor(
    state: &mut DropboxState,
    caller: &Caller,
    arg: ListFolderArg,
) -> Result<Value, DropboxError> {
    const FUNCTION: &str = "files/list_folder/get_latest_cursor";
    let account = state.account_mut(&caller.email);
    let cursor = start(FUNCTION, account, caller, &arg, true)?;
    Ok(json!({"cursor": cursor.encode()}))
}

#[derive(Deserialize)]
struct ContinueArg {
    cursor: String,
}

fn list_folder_continue(
    state: &mut DropboxState,
    caller: &Caller,
    arg: ContinueArg,
) -> Result<Value, DropboxError> {
    const FUNCTION: &str = "files/list_folder/continue";
    let account = state.account_mut(&caller.email);
    let cursor = Cursor::decode(&arg.cursor)
        .filter(|c| c.account == account.account_id && c.prefix == caller.view.prefix)
        .ok_or_else(|| DropboxError::bad_input(FUNCTION, "request body: cursor: invalid cursor"))?;
    if cursor.epoch != account.cursor_epoch {
        return Err(DropboxError::endpoint(&["reset"]));
    }
    let app_root = tree::key(&caller.view.prefix);
    if cursor.root != app_root && !account.ns.is_folder(&cursor.root) {
        return Err(DropboxError::endpoint(&["path", "not_found"]));
    }
    Ok(serve(account, &caller.view, cursor))
}

#[derive(Deserialize)]
struct GetMetadataArg {
    path: String,
    #[serde(default)]
    include_deleted: bool,
}

fn get_metadata(
    state: &mut DropboxState,
    caller: &Caller,
    arg: GetMetadataArg,
) -> Result<Value, DropboxError> {
    const FUNCTION: &str = "files/get_metadata";
    if arg.path.is_empty() {
        return Err(DropboxError::bad_input(
            FUNCTION,
            "request body: path: The root folder is unsupported.",
        ));
    }
    let target = target(FUNCTION, "path", &arg.path, Accepts::ReadPath)?;
    if malformed(&target) {
        return Err(DropboxError::endpoint(&["path", "malformed_path"]));
    }
    let account = state.account_mut(&caller.email);
    let spot = spot(account, &caller.view, &target);
    if let Some(entry) = &spot.entry {
        return Ok(caller.view.metadata(entry, true));
    }
    let tombstone = account.ns.tombstone(&tree::key(&spot.full));
    match tombstone {
        Some(t) if arg.include_deleted && !spot.full.is_empty() => Ok(caller.view.deleted(t)),
        _ => Err(DropboxError::endpoint(&["path", "not_found"])),
    }
}

#[derive(Deserialize)]
struct CreateFolderArg {
    path: String,
    #[serde(default)]
    autorename: bool,
}

fn create_folder(
    state: &mut DropboxState,
    caller: &Caller,
    arg: CreateFolderArg,
) -> Result<Value, DropboxError> {
    const FUNCTION: &str = "files/create_folder_v2";
    let target = target(FUNCTION, "path", &arg.path, Accepts::WritePath)?;
    if malformed(&target) {
        return Err(DropboxError::endpoint(&["path", "malformed_path"]));
    }
    let Target::Path(path) = target else {
        return Err(DropboxError::endpoint(&["path", "malformed_path"]));
    };
    let account = state.account_mut(&caller.email);
    let folder = account
        .ns
        .create_folder(&caller.view.full(&path), arg.autorename)
        .map_err(|c| conflict_error(&["path"], c))?;
    Ok(json!({"metadata": caller.view.metadata(&folder, false)}))
}

#[derive(Deserialize)]
struct RelocationArg {
    from_path: String,
    to_path: String,
    #[serde(default)]
    autorename: bool,
}

fn move_v2(
    state: &mut DropboxState,
    caller: &Caller,
    arg: RelocationArg,
) -> Result<Value, DropboxError> {
    const FUNCTION: &str = "files/move_v2";
    let from = target(
        FUNCTION,
        "from_path",
        &arg.from_path,
        Accepts::WritePathOrId,
    )?;
    let to = target(FUNCTION, "to_path", &arg.to_path, Accepts::WritePathOrId)?;
    if malformed(&from) {
        return Err(DropboxError::endpoint(&["from_lookup", "malformed_path"]));
    }
    let Target::Path(to) = to.clone() else {
        return Err(DropboxError::endpoint(&["to", "malformed_path"]));
    };
    if malformed(&Target::Path(to.clone())) {
        return Err(DropboxError::endpoint(&["to", "malformed_path"]));
    }
    let account = state.account_mut(&caller.email);
    let from = spot(account, &caller.view, &from);
    let Some(moving) = from.entry else {
        return Err(DropboxError::endpoint(&["from_lookup", "not_found"]));
    };
    let from_key = tree::key(&from.full);
    let mut to_full = caller.view.full(&to);
    let to_key = tree::key(&to_full);
    if to_key == from_key {
        // Case-only renames are not supported: nothing changes.
        return Ok(json!({"metadata": caller.view.metadata(&moving, true)}));
    }
    if to_key.starts_with(&format!("{from_key}/")) {
        return Err(DropboxError::endpoint(&["cant_move_folder_into_itself"]));
    }
    if let Some(taken) = account.ns.get(&to_key) {
        if !arg.autorename {
            let conflict = if taken.is_folder() {
                Conflict::Folder
            } else {
                Conflict::File
            };
            return Err(conflict_error(&["to"], conflict));
        }
        to_full = account.ns.free_name(&to_full, Rename::Numbered);
    }
    let moved = account
        .ns
        .relocate(&from_key, &to_full)
        .map_err(|c| conflict_error(&["to"], c))?;
    Ok(json!({"metadata": caller.view.metadata(&moved, true)}))
}

#[derive(Deserialize)]
struct DeleteArg {
    path: String,
    parent_rev: Option<String>,
}

fn delete(
    state: &mut DropboxState,
    caller: &Caller,
    arg: DeleteArg,
) -> Result<Value, DropboxError> {
    const FUNCTION: &str = "files/delete_v2";
    let target = target(FUNCTION, "path", &arg.path, Accepts::WritePathOrId)?;
    if malformed(&target) {
        return Err(DropboxError::endpoint(&["path_lookup", "malformed_path"]));
    }
    let account = state.account_mut(&caller.email);
    let spot = spot(account, &caller.view, &target);
    let Some(entry) = spot.entry else {
        return Err(DropboxError::endpoint(&["path_lookup", "not_found"]));
    };
    if let Some(parent_rev) = &arg.parent_rev {
        match entry.file() {
            None => return Err(DropboxError::endpoint(&["path_lookup", "not_file"])),
            Some(f) if f.rev != *parent_rev => {
                return Err(conflict_error(&["path_write"], Conflict::File))
            }
            Some(_) => {}
        }
    }
    account.ns.remove(&tree::key(&spot.full));
    Ok(json!({"metadata": caller.view.metadata(&entry, true)}))
}
