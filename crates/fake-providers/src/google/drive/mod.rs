//! Drive API v3 under `/drive/v3` and `/upload/drive/v3` (Google's
//! `https://www.googleapis.com/drive/v3/…` and `…/upload/drive/v3/…`): files
//! list/get/create/update/delete/emptyTrash/generateIds, `alt=media` downloads, multipart,
//! media and resumable uploads, changes getStartPageToken/list, about.get.
//!
//! Checked against the Drive v3 discovery document (revision 20250723, as vendored in
//! googleapis/google-api-go-client `drive/v3/drive-api.json`): paths, verbs, parameter
//! names, defaults and limits (`pageSize` 1..1000, default 100; `includeRemoved` default
//! true; `pageToken` required on changes.list; `fields` required on about.get; emptyTrash
//! under the `drive` scope only), the members and types of `File`, `FileList`, `Change`,
//! `ChangeList`, `StartPageToken`, `About` (int64 as strings: `size`, `version`,
//! `quotaBytesUsed`, `storageQuota.*`). Resumable uploads follow Google's "Upload file
//! data" guide and the wire sequence in the research (§1.3, from rclone).
//!
//! Per account (the access token's): a My Drive root folder, the files (content stored once,
//! as `Bytes`, shared by downloads and controls), tombstones of deleted ones, and a change
//! log position (`head`) stamped on every change, so that a changes page token is a position
//! in that log (as the Calendar fake's sync tokens are).
//!
//! Not verified against Google (chosen and noted here):
//! - `name = '…'` compares exactly (case-sensitive); `name contains` is a case-insensitive
//!   prefix match on the name or one of its words (the guide's "prefix matching").
//! - `modifiedTime` changes with content (and when a client sets it), not with a rename, a
//!   move or trashing; `version` changes with everything.
//! - Moving a file into a folder that is not one, or into its own subtree, or leaving it
//!   with no parent: 400 `badRequest`. A second parent: 403 `cannotAddParent`.
//! - Output-only members in a written body (`id` on update, `size`, `md5Checksum`,
//!   `version`…): 403 `fieldNotWritable`; `parents` in an update: the same, with the
//!   message pointing to `addParents`/`removeParents`. Unknown members are ignored.
//! - A changes page token older than [`GoogleFake::reset_drive_changes`] (or not one the
//!   fake issued): 400 `invalid` "Invalid Value" (location `pageToken`).
//! - Resumable uploads: a chunk that is not a multiple of 256 KiB and not the last, or that
//!   does not start where the stored bytes end: 400 `badRequest`; an unknown or expired
//!   session: 404 `notFound`.
//! - `appProperties` are shared by every OAuth client of the fake (Google keeps them per
//!   app).
//! - Google Workspace files (Docs, Sheets…) have no `size` here (the current schema says
//!   first-party editor files may have one).

mod changes;
mod errors;
mod fields;
mod files;
mod query;
mod upload;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use super::oauth::authorize;
use super::{GoogleError, GoogleFake, GoogleState};
use crate::util::query_pairs;
use crate::Shared;
pub(crate) use upload::UploadSession;

pub(crate) const FOLDER: &str = "application/vnd.google-apps.folder";
pub(crate) const SHORTCUT: &str = "application/vnd.google-apps.shortcut";
const WORKSPACE: &str = "application/vnd.google-apps.";
/// What a Google account's Drive holds, as about.get reports it (15 GB, the free tier).
const QUOTA_LIMIT: u64 = 15 * 1024 * 1024 * 1024;

/// Whether a MIME type is a Google Workspace type (no binary content).
pub(crate) fn is_workspace(mime_type: &str) -> bool {
    mime_type.starts_with(WORKSPACE)
}

#[derive(Default)]
pub(crate) struct DriveState {
    drives: BTreeMap<String, Drive>,
    /// Resumable upload sessions by `upload_id`.
    pub(crate) sessions: HashMap<String, UploadSession>,
}

impl DriveState {
    /// The account's Drive, made (an empty My Drive) on first use.
    pub(crate) fn of(&mut self, email: &str, now: DateTime<Utc>) -> &mut Drive {
        self.drives
            .entry(email.to_string())
            .or_insert_with(|| Drive::new(now))
    }
}

/// One account's Drive.
pub(crate) struct Drive {
    pub(crate) root: String,
    /// Every live file, the root folder included, by id.
    pub(crate) files: HashMap<String, DriveFile>,
    /// Permanently deleted files: their log position, when, and whether the app made them.
    pub(crate) removed: HashMap<String, Removed>,
    /// The change log position: the stamp of the latest change.
    pub(crate) head: u64,
    /// Changes page tokens below this are refused.
    pub(crate) oldest_token: u64,
    /// Ids handed out by files.generateIds and not used yet.
    pub(crate) generated: HashSet<String>,
    next_seq: u64,
}

pub(crate) struct Removed {
    pub(crate) stamp: u64,
    pub(crate) time: DateTime<Utc>,
    pub(crate) by_app: bool,
}

/// A file's binary content and its checksums, computed once.
#[derive(Clone)]
pub(crate) struct Content {
    pub(crate) bytes: Bytes,
    md5: String,
    sha1: String,
    sha256: String,
}

impl Content {
    pub(crate) fn new(bytes: Bytes) -> Content {
        use md5::Digest as _;
        Content {
            md5: hex(&md5::Md5::digest(&bytes)),
            sha1: hex(&sha1::Sha1::digest(&bytes)),
            sha256: hex(&sha2::Sha256::digest(&bytes)),
            bytes,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A file or folder as stored.
pub(crate) struct DriveFile {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) mime_type: String,
    /// The one parent (Drive: "A file can only have one parent folder"); `None` for the root.
    pub(crate) parent: Option<String>,
    pub(crate) explicitly_trashed: bool,
    pub(crate) starred: bool,
    pub(crate) description: Option<String>,
    pub(crate) app_properties: BTreeMap<String, String>,
    pub(crate) properties: BTreeMap<String, String>,
    /// Binary files only.
    pub(crate) content: Option<Content>,
    /// Changes with the content (binary files only).
    pub(crate) head_revision: Option<String>,
    /// A shortcut's target id and the target's MIME type when the shortcut was made.
    pub(crate) shortcut: Option<(String, String)>,
    pub(crate) created: DateTime<Utc>,
    pub(crate) modified: DateTime<Utc>,
    pub(crate) version: u64,
    /// The log position of its latest change, and when it was made.
    pub(crate) stamp: u64,
    pub(crate) changed: DateTime<Utc>,
    /// Creation order (the listing's default order).
    pub(crate) seq: u64,
    /// Made (or opened) through the API: what a `drive.file` token sees.
    pub(crate) by_app: bool,
}

impl DriveFile {
    pub(crate) fn is_folder(&self) -> bool {
        self.mime_type == FOLDER
    }

    /// The whole resource as `fields=*` shows it (`trashed` is the folder chain's).
    pub(crate) fn render(&self, trashed: bool) -> Value {
        let mut out = Map::new();
        out.insert("kind".into(), json!("drive#file"));
        out.insert("id".into(), json!(self.id));
        out.insert("name".into(), json!(self.name));
        out.insert("mimeType".into(), json!(self.mime_type));
        if let Some(parent) = &self.parent {
            out.insert("parents".into(), json!([parent]));
        }
        if let Some(description) = &self.description {
            out.insert("description".into(), json!(description));
        }
        out.insert("starred".into(), json!(self.starred));
        out.insert("trashed".into(), json!(trashed));
        out.insert("explicitlyTrashed".into(), json!(self.explicitly_trashed));
        if !self.app_properties.is_empty() {
            out.insert("appProperties".into(), json!(self.app_properties));
        }
        if !self.properties.is_empty() {
            out.insert("properties".into(), json!(self.properties));
        }
        out.insert("spaces".into(), json!(["drive"]));
        out.insert("version".into(), json!(self.version.to_string()));
        out.insert("createdTime".into(), json!(timestamp(self.created)));
        out.insert("modifiedTime".into(), json!(timestamp(self.modified)));
        out.insert("ownedByMe".into(), json!(true));
        out.insert("isAppAuthorized".into(), json!(self.by_app));
        if let Some((target, target_mime)) = &self.shortcut {
            out.insert(
                "shortcutDetails".into(),
                json!({"targetId": target, "targetMimeType": target_mime}),
            );
        }
        if let Some(content) = &self.content {
            let size = content.bytes.len().to_string();
            out.insert("size".into(), json!(size));
            out.insert("quotaBytesUsed".into(), json!(size));
            out.insert("md5Checksum".into(), json!(content.md5));
            out.insert("sha1Checksum".into(), json!(content.sha1));
            out.insert("sha256Checksum".into(), json!(content.sha256));
            if let Some(revision) = &self.head_revision {
                out.insert("headRevisionId".into(), json!(revision));
            }
        } else {
            out.insert("quotaBytesUsed".into(), json!("0"));
        }
        Value::Object(out)
    }
}

/// RFC 3339 with milliseconds, as Drive writes its times.
pub(crate) fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A new file id: 33 characters of Drive's alphabet (`[A-Za-z0-9_-]`), starting with `1`
/// as My Drive ids do.
pub(crate) fn new_id() -> String {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("the OS random source");
    format!(
        "1{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

impl Drive {
    fn new(now: DateTime<Utc>) -> Drive {
        let mut bytes = [0u8; 12];
        getrandom::fill(&mut bytes).expect("the OS random source");
        let root = format!(
            "0A{}Uk9PVA",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        );
        let mut drive = Drive {
            root: root.clone(),
            files: HashMap::new(),
            removed: HashMap::new(),
            head: 0,
            oldest_token: 1,
            generated: HashSet::new(),
            next_seq: 0,
        };
        let mut folder = drive.blank(root.clone(), "My Drive", FOLDER, None, now, true);
        folder.stamp = 0;
        drive.files.insert(root, folder);
        drive
    }

    /// A new file's record (not stored): version 1, a new log position.
    pub(crate) fn blank(
        &mut self,
        id: String,
        name: &str,
        mime_type: &str,
        parent: Option<String>,
        now: DateTime<Utc>,
        by_app: bool,
    ) -> DriveFile {
        self.next_seq += 1;
        DriveFile {
            id,
            name: name.to_string(),
            mime_type: mime_type.to_string(),
            parent,
            explicitly_trashed: false,
            starred: false,
            description: None,
            app_properties: BTreeMap::new(),
            properties: BTreeMap::new(),
            content: None,
            head_revision: None,
            shortcut: None,
            created: now,
            modified: now,
            version: 1,
            stamp: self.next_stamp(),
            changed: now,
            seq: self.next_seq,
            by_app,
        }
    }

    pub(crate) fn next_stamp(&mut self) -> u64 {
        self.head += 1;
        self.head
    }

    /// Whether the file or a folder above it is trashed.
    pub(crate) fn trashed(&self, id: &str) -> bool {
        let mut at = self.files.get(id);
        while let Some(file) = at {
            if file.explicitly_trashed {
                return true;
            }
            at = file.parent.as_deref().and_then(|p| self.files.get(p));
        }
        false
    }

    /// The ids of every file below a folder.
    pub(crate) fn descendants(&self, id: &str) -> Vec<String> {
        let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
        for file in self.files.values() {
            if let Some(parent) = &file.parent {
                children.entry(parent).or_default().push(&file.id);
            }
        }
        let mut out = Vec::new();
        let mut todo = vec![id];
        while let Some(at) = todo.pop() {
            for child in children.get(at).into_iter().flatten() {
                out.push(child.to_string());
                todo.push(child);
            }
        }
        out
    }

    /// A change to a file: a new version and log position.
    pub(crate) fn bump(&mut self, id: &str, now: DateTime<Utc>) {
        let stamp = self.next_stamp();
        let file = self.files.get_mut(id).expect("a live file");
        file.version += 1;
        file.stamp = stamp;
        file.changed = now;
    }

    /// Applies `edit` to a live file as one change (a new version and log position); every
    /// file below it whose trashed state changed with it (a trashed, restored or moved
    /// folder) is a change too, as Drive lists them.
    pub(crate) fn change(
        &mut self,
        id: &str,
        now: DateTime<Utc>,
        edit: impl FnOnce(&mut DriveFile),
    ) {
        let below: Vec<(String, bool)> = self
            .descendants(id)
            .into_iter()
            .map(|d| {
                let trashed = self.trashed(&d);
                (d, trashed)
            })
            .collect();
        edit(self.files.get_mut(id).expect("a live file"));
        self.bump(id, now);
        for (child, was) in below {
            if self.trashed(&child) != was {
                self.bump(&child, now);
            }
        }
    }

    /// Deletes a file and everything below it for good (tombstones for the change log).
    pub(crate) fn delete(&mut self, id: &str, now: DateTime<Utc>) {
        let mut gone = self.descendants(id);
        gone.push(id.to_string());
        for id in gone {
            let stamp = self.next_stamp();
            if let Some(file) = self.files.remove(&id) {
                self.removed.insert(
                    id,
                    Removed {
                        stamp,
                        time: now,
                        by_app: file.by_app,
                    },
                );
            }
        }
    }

    /// The live file `id` (`root` names the root) a caller may see, or 404.
    pub(crate) fn visible(&self, id: &str, access: &Access) -> Result<&DriveFile, GoogleError> {
        let key = if id == "root" { self.root.as_str() } else { id };
        self.files
            .get(key)
            .filter(|f| access.sees(f, &self.root))
            .ok_or_else(|| errors::file_not_found(id))
    }

    /// Bytes stored by live files (trashed ones included) and by trashed ones alone.
    fn usage(&self) -> (u64, u64) {
        let mut all = 0;
        let mut trash = 0;
        for file in self.files.values() {
            let size = file.content.as_ref().map_or(0, |c| c.bytes.len() as u64);
            all += size;
            if self.trashed(&file.id) {
                trash += size;
            }
        }
        (all, trash)
    }
}

/// What the token lets the caller see.
pub(crate) struct Access {
    pub(crate) email: String,
    /// `drive` (or a read-only scope on all files); false for `drive.file` alone: only the
    /// files the app made or opened.
    pub(crate) all_files: bool,
}

impl Access {
    pub(crate) fn sees(&self, file: &DriveFile, root: &str) -> bool {
        self.all_files || file.by_app || file.id == root
    }
}

/// What a request does, for the scope check (the discovery document's scopes per method,
/// narrowed to those Threadline may hold).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    ReadMetadata,
    ReadContent,
    Write,
    EmptyTrash,
}

impl Op {
    /// Scopes that see every file, and whether `drive.file` (the app's files) also may.
    fn scopes(self) -> (&'static [&'static str], bool) {
        match self {
            Op::ReadMetadata => (
                &[
                    "drive",
                    "drive.readonly",
                    "drive.metadata",
                    "drive.metadata.readonly",
                ],
                true,
            ),
            Op::ReadContent => (&["drive", "drive.readonly"], true),
            Op::Write => (&["drive"], true),
            Op::EmptyTrash => (&["drive"], false),
        }
    }
}

/// The bearer check for a Drive method: 401 `authError`, or 403 `insufficientPermissions`
/// when the token has no scope the method accepts.
pub(crate) fn access(
    state: &GoogleState,
    headers: &HeaderMap,
    op: Op,
) -> Result<Access, GoogleError> {
    let (full, app_files) = op.scopes();
    match authorize(state, headers, full) {
        Ok(caller) => Ok(Access {
            email: caller.email,
            all_files: true,
        }),
        Err(e) if e.reason == "insufficientPermissions" && app_files => {
            authorize(state, headers, &["drive.file"]).map(|caller| Access {
                email: caller.email,
                all_files: false,
            })
        }
        Err(e) => Err(e),
    }
}

/// What a handler gets besides the account's Drive.
pub(crate) struct Ctx {
    pub(crate) now: DateTime<Utc>,
    pub(crate) access: Access,
}

/// Runs `f` on the caller's Drive after the bearer check.
pub(crate) fn with_drive<T>(
    shared: &Shared,
    headers: &HeaderMap,
    op: Op,
    f: impl FnOnce(&mut Drive, &Ctx) -> Result<T, GoogleError>,
) -> Result<T, GoogleError> {
    let mut state = shared.google.lock();
    let access = access(&state, headers, op)?;
    let now = state.now();
    let drive = state.drive.of(&access.email, now);
    f(drive, &Ctx { now, access })
}

/// A JSON answer, or the error in Google's envelope.
pub(crate) fn respond(result: Result<(StatusCode, Value), GoogleError>) -> Response {
    match result {
        Ok((status, value)) => (status, axum::Json(value)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// A method answered 200 with JSON: the bearer check, the query, then `f`.
pub(crate) fn answer(
    shared: &Shared,
    headers: &HeaderMap,
    raw: Option<&str>,
    op: Op,
    f: impl FnOnce(&mut Drive, &Ctx, &Params) -> Result<Value, GoogleError>,
) -> Response {
    let params = Params::parse(raw);
    respond(with_drive(shared, headers, op, |drive, ctx| {
        f(drive, ctx, &params).map(|v| (StatusCode::OK, v))
    }))
}

/// A request's query parameters. Unknown names are ignored, as Drive ignores them.
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(raw: Option<&str>) -> Params {
        Params(query_pairs(raw))
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean parameter (`true`/`false`, any case), `default` when absent.
    pub(crate) fn flag(&self, name: &str, default: bool) -> Result<bool, GoogleError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(_) => Err(errors::invalid_value(name)),
        }
    }

    /// `pageSize`: 1..=1000, 100 when absent.
    pub(crate) fn page_size(&self) -> Result<usize, GoogleError> {
        let Some(raw) = self.get("pageSize") else {
            return Ok(100);
        };
        match raw.parse::<i64>() {
            Ok(n @ 1..=1000) => Ok(usize::try_from(n).expect("1..=1000")),
            Ok(n) => Err(errors::invalid_parameter(
                "pageSize",
                format!("Invalid value '{n}'. Values must be within the range: [1, 1000]"),
            )),
            Err(_) => Err(errors::invalid_value("pageSize")),
        }
    }

    /// `spaces`: `drive` (the default) or `appDataFolder` (empty here); false when only
    /// the latter was asked for.
    pub(crate) fn in_drive_space(&self) -> Result<bool, GoogleError> {
        let Some(spaces) = self.get("spaces") else {
            return Ok(true);
        };
        let mut drive = false;
        for space in spaces.split(',').map(str::trim) {
            match space {
                "drive" => drive = true,
                "appDataFolder" | "photos" => {}
                _ => return Err(errors::invalid_value("spaces")),
            }
        }
        Ok(drive)
    }
}

/// A JSON object body; an empty body is an empty object (metadata-less writes).
pub(crate) fn json_object(body: &[u8]) -> Result<Map<String, Value>, GoogleError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(errors::bad_request(
            "The request body must be a JSON object.",
        )),
        Err(e) => Err(GoogleError::new(
            StatusCode::BAD_REQUEST,
            "global",
            "parseError",
            format!("Parse Error: {e}"),
        )),
    }
}

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/drive/v3/files", get(files::list).post(files::create))
        .route("/drive/v3/files/generateIds", get(files::generate_ids))
        .route(
            "/drive/v3/files/trash",
            axum::routing::delete(files::empty_trash),
        )
        .route(
            "/drive/v3/files/{fileId}",
            get(files::get_file)
                .patch(files::update)
                .delete(files::delete),
        )
        .route(
            "/upload/drive/v3/files",
            put(upload::put_chunk).post(upload::create),
        )
        .route(
            "/upload/drive/v3/files/{fileId}",
            put(upload::put_chunk).patch(upload::update),
        )
        .route("/drive/v3/changes", get(changes::list))
        .route(
            "/drive/v3/changes/startPageToken",
            get(changes::start_page_token),
        )
        .route("/drive/v3/about", get(changes::about))
        // Uploads carry whole files (the fake keeps them in memory once, as `Bytes`).
        .layer(DefaultBodyLimit::disable())
}

/// A file as a test sees it: metadata and content.
#[derive(Debug, Clone)]
pub struct DriveItem {
    /// The resource as `files.get?fields=*` answers it.
    pub metadata: Value,
    /// The content of a binary file (shared with the fake's copy, not copied).
    pub content: Option<Bytes>,
}

/// The fake's test-facing controls for Drive: what a user does in Drive's web UI (files
/// made this way are not the app's: a `drive.file` token does not see them).
impl GoogleFake {
    fn with_user_drive<T>(&self, email: &str, f: impl FnOnce(&mut Drive, DateTime<Utc>) -> T) -> T {
        let mut state = self.lock();
        let now = state.now();
        f(state.drive.of(email, now), now)
    }

    /// The id of the account's My Drive root folder.
    pub fn drive_root(&self, email: &str) -> String {
        self.with_user_drive(email, |drive, _| drive.root.clone())
    }

    /// Adds a folder as the user would; `parent` `None` is the root. Returns its id.
    pub fn add_drive_folder(&self, email: &str, parent: Option<&str>, name: &str) -> String {
        self.add_drive_item(email, parent, name, FOLDER, None)
    }

    /// Uploads a file as the user would. Returns its id.
    pub fn add_drive_file(
        &self,
        email: &str,
        parent: Option<&str>,
        name: &str,
        mime_type: &str,
        content: impl Into<Bytes>,
    ) -> String {
        self.add_drive_item(email, parent, name, mime_type, Some(content.into()))
    }

    /// A Google Workspace file (`application/vnd.google-apps.document`, `…spreadsheet`,
    /// `…presentation`, `…form`…): no content, no size, no checksums. Returns its id.
    pub fn add_google_doc(
        &self,
        email: &str,
        parent: Option<&str>,
        name: &str,
        mime_type: &str,
    ) -> String {
        assert!(is_workspace(mime_type), "a Google Workspace MIME type");
        self.add_drive_item(email, parent, name, mime_type, None)
    }

    /// A shortcut to `target` (its `shortcutDetails.targetMimeType` is the target's now).
    pub fn add_drive_shortcut(
        &self,
        email: &str,
        parent: Option<&str>,
        name: &str,
        target: &str,
    ) -> String {
        let id = self.add_drive_item(email, parent, name, SHORTCUT, None);
        self.with_user_drive(email, |drive, _| {
            let target_mime = drive.files[target].mime_type.clone();
            drive.files.get_mut(&id).expect("just made").shortcut =
                Some((target.to_string(), target_mime));
        });
        id
    }

    fn add_drive_item(
        &self,
        email: &str,
        parent: Option<&str>,
        name: &str,
        mime_type: &str,
        content: Option<Bytes>,
    ) -> String {
        self.with_user_drive(email, |drive, now| {
            let parent = parent.map_or_else(|| drive.root.clone(), str::to_string);
            assert!(drive.files[&parent].is_folder(), "the parent is a folder");
            let mut file = drive.blank(new_id(), name, mime_type, Some(parent), now, false);
            if !is_workspace(mime_type) {
                file.content = Some(Content::new(content.unwrap_or_default()));
                file.head_revision = Some(new_id());
            }
            let id = file.id.clone();
            drive.files.insert(id.clone(), file);
            id
        })
    }

    /// The user replaces a file's content (a new head revision, `modifiedTime`, version).
    pub fn edit_drive_file(&self, email: &str, id: &str, content: impl Into<Bytes>) {
        let content = content.into();
        self.with_user_drive(email, |drive, now| {
            assert!(!is_workspace(&drive.files[id].mime_type), "a binary file");
            drive.change(id, now, |file| {
                file.content = Some(Content::new(content));
                file.head_revision = Some(new_id());
                file.modified = now;
            });
        });
    }

    /// The user renames a file or folder.
    pub fn rename_drive_file(&self, email: &str, id: &str, name: &str) {
        self.with_user_drive(email, |drive, now| {
            drive.change(id, now, |file| file.name = name.to_string());
        });
    }

    /// The user moves a file or folder into `parent` (`None`: the root).
    pub fn move_drive_file(&self, email: &str, id: &str, parent: Option<&str>) {
        self.with_user_drive(email, |drive, now| {
            let parent = parent.map_or_else(|| drive.root.clone(), str::to_string);
            assert!(drive.files[&parent].is_folder(), "the parent is a folder");
            drive.change(id, now, |file| file.parent = Some(parent));
        });
    }

    /// The user moves a file or folder to the trash (`false`: restores it).
    pub fn trash_drive_file(&self, email: &str, id: &str, trashed: bool) {
        self.with_user_drive(email, |drive, now| {
            drive.change(id, now, |file| file.explicitly_trashed = trashed);
        });
    }

    /// The user deletes a file or folder for good (everything below it too).
    pub fn delete_drive_file(&self, email: &str, id: &str) {
        self.with_user_drive(email, |drive, now| drive.delete(id, now));
    }

    /// A file made by the user becomes the app's (as when the user opens it with the app
    /// or picks it in the Picker): a `drive.file` token sees it from now on.
    pub fn open_drive_file_with_app(&self, email: &str, id: &str) {
        self.with_user_drive(email, |drive, _| {
            drive.files.get_mut(id).expect("a live file").by_app = true;
        });
    }

    /// A live file's metadata (as `fields=*` shows it) and content; `None` when there is
    /// no such live file.
    pub fn drive_file(&self, email: &str, id: &str) -> Option<DriveItem> {
        self.with_user_drive(email, |drive, _| {
            let file = drive.files.get(id)?;
            Some(DriveItem {
                metadata: file.render(drive.trashed(id)),
                content: file.content.as_ref().map(|c| c.bytes.clone()),
            })
        })
    }

    /// Every live file of the account (the root excluded), trashed ones included, in the
    /// order they were made.
    pub fn drive_files(&self, email: &str) -> Vec<Value> {
        self.with_user_drive(email, |drive, _| {
            let mut files: Vec<&DriveFile> = drive
                .files
                .values()
                .filter(|f| f.id != drive.root)
                .collect();
            files.sort_by_key(|f| f.seq);
            files
                .iter()
                .map(|f| f.render(drive.trashed(&f.id)))
                .collect()
        })
    }

    /// Every changes page token issued so far for the account is refused from now on
    /// (400), as a client must then list everything again. The log moves one position on
    /// (a change of nothing), so that the start token of a Drive where nothing changed
    /// since (`head + 1`) is refused too and tokens issued from now on are new ones.
    pub fn reset_drive_changes(&self, email: &str) {
        self.with_user_drive(email, |drive, _| {
            drive.next_stamp();
            drive.oldest_token = drive.head + 1;
        });
    }

    /// Resumable upload sessions opened and not finished, across accounts.
    pub fn drive_upload_sessions(&self) -> usize {
        self.lock()
            .drive
            .sessions
            .values()
            .filter(|s| !s.finished())
            .count()
    }

    /// Every resumable upload session answers 404 from now on (Google's sessions expire
    /// after a week).
    pub fn expire_drive_upload_sessions(&self) {
        self.lock().drive.sessions.clear();
    }
}
