//! The Dropbox API v2 client (reqwest) behind [`RemoteFiles`]: the app folder's tree, read
//! with `files/list_folder` (+ `/continue`), and the writes the executor makes.
//!
//! - Two roots, each ending in `/2`: RPC routes on `api_url`
//!   (`https://api.dropboxapi.com/2`), content routes (upload, upload sessions, download) on
//!   `content_url` (`https://content.dropboxapi.com/2`); a root given without its `/2` gets
//!   it. The fake serves both on one base.
//! - RPC arguments are a JSON body; content routes carry theirs in `Dropbox-API-Arg`, JSON
//!   made "HTTP header safe" ([`header_safe_json`]: every character from 0x7F as `\uXXXX`).
//! - Errors are read from the body's `error` (a Stone union: the chain of its `.tag`s, e.g.
//!   `path` / `conflict` / `folder`; `UploadWriteFailed` nests its `WriteError` under
//!   `reason`), never from `error_summary`, whose trailing dots Dropbox varies.
//! - Retried here with the engine's back-off ([`with_retries`]): 429 (`too_many_requests`,
//!   `too_many_write_operations`, a plain-text 429), a 409 whose union says
//!   `too_many_write_operations`, 5xx, and a request that got no answer; `Retry-After` (or the
//!   body's `retry_after`) is honoured. Every call here may be repeated: a repeated
//!   `create_folder_v2` finds its folder, `upload` in `add` mode with the same bytes is
//!   answered the file, a repeated `delete_v2` finds nothing (success), an `append_v2`
//!   whose first try landed is told `incorrect_offset` at the offset after it (taken as
//!   done). A repeated `update` upload or `move_v2` may answer a conflict: the next run
//!   re-reads both sides and finds the step done.
//! - 401 `expired_access_token` / `invalid_access_token` → [`RemoteErrorKind::TokenRejected`]
//!   (the run replaces the token once); any other 401 (`missing_scope`, `user_suspended`…) or
//!   a 400 about a scope → [`RemoteErrorKind::NeedsReauth`].
//! - The token travels only in the `Authorization` header: no message, no log holds it.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use reqwest::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Body, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use threadline_files_core::hash::{HashKind, RemoteHash};
use threadline_files_core::link::{RemoteItem, RemoteKind};
use threadline_files_core::plan::{Listing, RemoteRun, MAX_FILE_BYTES};
use threadline_files_core::provider::Provider;
use threadline_files_sync::remote::{
    path_key, ByteStream, ListRequest, RemoteError, RemoteErrorKind, RemoteFiles, RemoteResult,
    Target, Upload,
};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

pub use threadline_sync_engine::retry::RetryPolicy;
use threadline_sync_engine::retry::{parse_retry_after, with_retries, Retry};

/// Dropbox's production roots.
pub const DROPBOX_API_URL: &str = "https://api.dropboxapi.com/2";
pub const DROPBOX_CONTENT_URL: &str = "https://content.dropboxapi.com/2";

/// Files up to this size go up in one `files/upload`; larger ones through an upload session
/// in chunks of this size (a multiple of 4 MiB, as Dropbox asks of session appends).
pub const CHUNK_BYTES: u64 = 8 * 1024 * 1024;

/// How long an RPC call may take, answer included.
const RPC_TIMEOUT: Duration = Duration::from_secs(60);

type Fut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A Dropbox API v2 client for an app-folder app: the root is the app folder (`""`).
#[derive(Clone)]
pub struct DropboxClient {
    http: reqwest::Client,
    api: String,
    content: String,
    policy: RetryPolicy,
}

impl fmt::Debug for DropboxClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DropboxClient")
            .field("api", &self.api)
            .field("content", &self.content)
            .finish()
    }
}

/// A failed call, as Dropbox answered it (after the retries).
#[derive(Debug, Clone)]
struct Failure {
    /// The route (`files/upload`), for messages.
    route: &'static str,
    /// The HTTP status; 0 when no answer came.
    status: u16,
    /// The `error` union's chain of tags, outermost first (empty: no JSON envelope).
    tags: Vec<String>,
    /// The `error` value as sent (`Null` without a JSON envelope).
    error: Value,
    /// What to show: the chain of tags, or the text of the answer, or the transport error.
    detail: String,
    retry_after: Option<Duration>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            0 if self.has("local") => write!(f, "Dropbox {}: {}", self.route, self.detail),
            0 => write!(f, "Dropbox {}: no answer: {}", self.route, self.detail),
            status => write!(
                f,
                "Dropbox {} answered {status}: {}",
                self.route, self.detail
            ),
        }
    }
}

impl Failure {
    /// No answer came (refused, closed, timed out): worth repeating.
    fn no_answer(route: &'static str, detail: impl Into<String>) -> Failure {
        Failure {
            route,
            status: 0,
            tags: vec![],
            error: Value::Null,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// Failed here, before or after Dropbox (the file to upload, an unreadable answer): not
    /// worth repeating.
    fn local(route: &'static str, detail: impl Into<String>) -> Failure {
        let mut failure = Failure::no_answer(route, detail);
        failure.tags.push("local".into());
        failure
    }

    /// Whether the union's chain starts with `chain` (`["path", "conflict"]`).
    fn is(&self, chain: &[&str]) -> bool {
        self.status == 409
            && self.tags.len() >= chain.len()
            && self.tags.iter().zip(chain).all(|(a, b)| a == b)
    }

    fn has(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    /// Throttled (429, or a `too_many_write_operations` write error), a server error, or no
    /// answer: worth repeating.
    fn transient(&self) -> bool {
        match self.status {
            0 => !self.has("local"),
            429 => true,
            409 => self.has("too_many_write_operations"),
            s => s >= 500,
        }
    }

    fn retry(&self) -> Retry {
        match (self.transient(), self.retry_after) {
            (false, _) => Retry::NoRetry,
            (true, Some(pause)) => Retry::After(pause),
            (true, None) => Retry::Backoff,
        }
    }

    /// What the executor does next.
    fn kind(&self) -> RemoteErrorKind {
        const AUTH: &[&str] = &["expired_access_token", "invalid_access_token"];
        let first = self.tags.first().map(String::as_str).unwrap_or("");
        match self.status {
            _ if self.transient() => RemoteErrorKind::Retryable {
                retry_after: self.retry_after,
            },
            0 => RemoteErrorKind::Fatal,
            401 if AUTH.contains(&first) => RemoteErrorKind::TokenRejected,
            401 => RemoteErrorKind::NeedsReauth,
            400 if self.detail.contains("scope") => RemoteErrorKind::NeedsReauth,
            409 if self.has("payload_too_large") => RemoteErrorKind::TooLarge,
            409 if self.has("content_hash_mismatch") => {
                RemoteErrorKind::Retryable { retry_after: None }
            }
            409 if [
                "conflict",
                "not_file",
                "not_folder",
                "cant_move_folder_into_itself",
            ]
            .iter()
            .any(|t| self.has(t)) =>
            {
                RemoteErrorKind::Conflict
            }
            409 if self.has("not_found") => RemoteErrorKind::NotFound,
            _ => RemoteErrorKind::Fatal,
        }
    }

    fn remote(self) -> RemoteError {
        let kind = self.kind();
        let why = if self.has("insufficient_space") {
            ": the Dropbox account is full; free some space or upgrade the plan"
        } else if self.has("disallowed_name") {
            ": Dropbox does not accept this name"
        } else if self.has("no_write_permission") {
            ": the app may not write there"
        } else if self.status == 403 {
            ": this Dropbox account may not use this feature"
        } else {
            ""
        };
        RemoteError::new(kind, format!("{self}{why}"))
    }
}

/// The chain of tags of a Stone union value: `.tag`, then the member's value when it is a
/// union itself, or the `reason` of an `UploadWriteFailed`; a 429's `RateLimitError` names
/// its `reason`.
fn tag_chain(error: &Value) -> Vec<String> {
    let mut tags = Vec::new();
    let mut at = error;
    if at.get(".tag").is_none() {
        if let Some(reason) = at.get("reason") {
            at = reason;
        }
    }
    while let Some(tag) = at.get(".tag").and_then(Value::as_str) {
        tags.push(tag.to_string());
        match at.get(tag).or_else(|| at.get("reason")) {
            Some(inner) if inner.get(".tag").is_some() => at = inner,
            _ => break,
        }
    }
    tags
}

/// JSON safe for an HTTP header ("HTTP header safe" in Dropbox's docs): every character
/// from 0x7F on written as `\uXXXX` escapes (UTF-16 code units, so a surrogate pair beyond
/// the BMP). serde_json already escapes the controls below 0x20.
pub fn header_safe_json(value: &Value) -> String {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c < '\u{7f}' {
            out.push(c);
            continue;
        }
        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
            out.push_str(&format!("\\u{unit:04x}"));
        }
    }
    out
}

/// `files.Metadata`, tagged (list entries, `get_metadata`, `move_v2`, `delete_v2`).
#[derive(Debug, Deserialize)]
#[serde(tag = ".tag", rename_all = "snake_case")]
enum Metadata {
    File(FileMetadata),
    Folder(FolderMetadata),
    Deleted(DeletedMetadata),
}

#[derive(Debug, Deserialize)]
struct FileMetadata {
    id: String,
    name: String,
    path_lower: Option<String>,
    rev: String,
    size: u64,
    content_hash: Option<String>,
    server_modified: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
struct FolderMetadata {
    id: String,
    name: String,
    path_lower: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DeletedMetadata {
    path_lower: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ListFolderResult {
    entries: Vec<Metadata>,
    cursor: String,
    has_more: bool,
}

/// `{metadata: …}` of `create_folder_v2` (a `FolderMetadata`), `move_v2` (a `Metadata`).
#[derive(Debug, Deserialize)]
struct Wrapped<T> {
    metadata: T,
}

#[derive(Debug, Deserialize)]
struct SessionStart {
    session_id: String,
}

impl FileMetadata {
    fn kind(&self) -> RemoteKind {
        RemoteKind::File {
            rev: self.rev.clone(),
            hash: self
                .content_hash
                .as_deref()
                .map(|hex| RemoteHash::new(HashKind::DropboxContentHash, hex)),
            size: self.size,
            modified: self.server_modified,
        }
    }
}

impl Metadata {
    /// The item with `parent`; `None` for a `DeletedMetadata`.
    fn item(self, parent: Option<String>) -> Option<RemoteItem> {
        let (id, name, kind) = match self {
            Metadata::File(f) => {
                let kind = f.kind();
                (f.id, f.name, kind)
            }
            Metadata::Folder(f) => (f.id, f.name, RemoteKind::Folder),
            Metadata::Deleted(_) => return None,
        };
        Some(RemoteItem {
            id,
            parent,
            name,
            marker: None,
            kind,
        })
    }

    fn path_lower(&self) -> Option<&str> {
        match self {
            Metadata::File(f) => f.path_lower.as_deref(),
            Metadata::Folder(f) => f.path_lower.as_deref(),
            Metadata::Deleted(d) => d.path_lower.as_deref(),
        }
    }
}

/// The parent path of a `path_lower` (`""` at the top of the app folder).
fn parent_path(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(parent, _)| parent)
}

/// What a listing's pages say, applied in order (Dropbox's rules for `list_folder`
/// results): a file or folder replaces what is at its path (a file also what was under it),
/// a deletion removes the path and everything under it. Keyed by [`path_key`].
#[derive(Default)]
struct Applied {
    present: BTreeMap<String, Metadata>,
    deleted_paths: Vec<String>,
}

impl Applied {
    fn remove_under(&mut self, key: &str, with_self: bool) {
        let below = format!("{key}/");
        self.present
            .retain(|k, _| !(k.starts_with(&below) || (with_self && k == key)));
    }

    fn apply(&mut self, entry: Metadata) {
        let Some(path) = entry.path_lower() else {
            // Not mounted in the app's view: nothing to place.
            return;
        };
        let key = path_key(path);
        match &entry {
            Metadata::Deleted(_) => {
                self.deleted_paths.push(path.to_string());
                self.remove_under(&key, true);
            }
            Metadata::File(f) => {
                // A move lists the item again at its new place.
                let id = f.id.clone();
                self.present
                    .retain(|_, m| !matches!(m, Metadata::File(g) if g.id == id));
                self.remove_under(&key, false);
                self.present.insert(key, entry);
            }
            Metadata::Folder(f) => {
                let id = f.id.clone();
                self.present
                    .retain(|_, m| !matches!(m, Metadata::Folder(g) if g.id == id));
                self.present.insert(key, entry);
            }
        }
    }

    /// The items with their parents resolved: by the folders of this listing, then by
    /// `known` (the links' folders, by [`path_key`]); the top of the app folder is `""`.
    fn into_run(self, known: &BTreeMap<String, String>) -> (Vec<RemoteItem>, Vec<String>) {
        let listed: HashMap<&str, &str> = self
            .present
            .iter()
            .filter_map(|(k, m)| match m {
                Metadata::Folder(f) => Some((k.as_str(), f.id.as_str())),
                _ => None,
            })
            .collect();
        let parents: Vec<Option<String>> = self
            .present
            .keys()
            .map(|key| {
                let parent = parent_path(key);
                if parent.is_empty() {
                    return Some(String::new());
                }
                listed
                    .get(parent)
                    .map(|id| id.to_string())
                    .or_else(|| known.get(&path_key(parent)).cloned())
            })
            .collect();
        let items = self
            .present
            .into_values()
            .zip(parents)
            .filter_map(|(m, parent)| m.item(parent))
            .collect();
        (items, self.deleted_paths)
    }
}

/// The whole of a chunk of `file` at `offset`, `len` bytes, streamed from disk.
async fn file_body(
    file: &Path,
    offset: u64,
    len: u64,
    route: &'static str,
) -> Result<Body, Failure> {
    let local =
        |e: std::io::Error| Failure::local(route, format!("cannot read the file to upload: {e}"));
    let mut handle = tokio::fs::File::open(file).await.map_err(local)?;
    handle
        .seek(std::io::SeekFrom::Start(offset))
        .await
        .map_err(local)?;
    Ok(Body::wrap_stream(ReaderStream::new(handle.take(len))))
}

impl DropboxClient {
    /// A client of the Dropbox at these roots (`https://api.dropboxapi.com/2`,
    /// `https://content.dropboxapi.com/2`; or the fake's base, twice).
    pub fn new(
        api_url: &str,
        content_url: &str,
        policy: RetryPolicy,
    ) -> Result<DropboxClient, String> {
        let root = |url: &str| -> Result<String, String> {
            let parsed = reqwest::Url::parse(url)
                .map_err(|e| format!("the Dropbox URL {url:?} is not a URL: {e}"))?;
            if parsed.cannot_be_a_base() || !matches!(parsed.scheme(), "http" | "https") {
                return Err(format!("the Dropbox URL {url:?} is not an http(s) URL"));
            }
            let trimmed = url.trim_end_matches('/');
            Ok(if trimmed.ends_with("/2") {
                trimmed.to_string()
            } else {
                format!("{trimmed}/2")
            })
        };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(DropboxClient {
            http,
            api: root(api_url)?,
            content: root(content_url)?,
            policy,
        })
    }

    /// One call, repeated while [`Failure::retry`] says so; a non-2xx answer is a
    /// [`Failure`] read from its body.
    async fn send<F, Fu>(&self, route: &'static str, build: F) -> Result<Response, Failure>
    where
        F: Fn() -> Fu,
        Fu: Future<Output = Result<RequestBuilder, Failure>>,
    {
        with_retries(
            self.policy,
            route,
            || async {
                let request = build().await?;
                let response = request
                    .send()
                    .await
                    .map_err(|e| Failure::no_answer(route, e.without_url().to_string()))?;
                check(route, response).await
            },
            Failure::retry,
        )
        .await
    }

    /// An RPC route: `arg` as the JSON body, the JSON answer.
    async fn rpc<T: DeserializeOwned>(
        &self,
        token: &str,
        route: &'static str,
        arg: &Value,
    ) -> Result<T, Failure> {
        let url = format!("{}/{route}", self.api);
        let response = self
            .send(route, || async {
                Ok(self
                    .http
                    .post(&url)
                    .bearer_auth(token)
                    .timeout(RPC_TIMEOUT)
                    .json(arg))
            })
            .await?;
        decode(route, response).await
    }

    /// A content route: `arg` in `Dropbox-API-Arg`, the body built by `body` (again on each
    /// try).
    async fn content_call<F, Fu>(
        &self,
        token: &str,
        route: &'static str,
        arg: &Value,
        body: F,
    ) -> Result<Response, Failure>
    where
        F: Fn() -> Fu,
        Fu: Future<Output = Result<Option<Body>, Failure>>,
    {
        let url = format!("{}/{route}", self.content);
        let header = HeaderValue::from_str(&header_safe_json(arg))
            .map_err(|e| Failure::local(route, format!("the argument is no header: {e}")))?;
        self.send(route, || async {
            let request = self
                .http
                .post(&url)
                .bearer_auth(token)
                .header("Dropbox-API-Arg", header.clone());
            Ok(match body().await? {
                Some(body) => request
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .body(body),
                None => request,
            })
        })
        .await
    }

    /// Every page from `first` (a `list_folder` or `list_folder/continue` answer), applied.
    async fn pages(
        &self,
        token: &str,
        mut page: ListFolderResult,
    ) -> Result<(Applied, String), Failure> {
        let mut applied = Applied::default();
        loop {
            for entry in page.entries {
                applied.apply(entry);
            }
            if !page.has_more {
                return Ok((applied, page.cursor));
            }
            page = self
                .rpc(
                    token,
                    "files/list_folder/continue",
                    &json!({ "cursor": page.cursor }),
                )
                .await?;
        }
    }

    async fn list_full(&self, token: &str) -> Result<(Applied, String), Failure> {
        let first = self
            .rpc(
                token,
                "files/list_folder",
                &json!({
                    "path": "",
                    "recursive": true,
                    "include_deleted": false,
                    "include_mounted_folders": true,
                    // Paper docs and other cloud documents cannot be downloaded: not ours.
                    "include_non_downloadable_files": false,
                }),
            )
            .await?;
        self.pages(token, first).await
    }

    async fn list_run(&self, token: &str, request: ListRequest<'_>) -> Result<RemoteRun, Failure> {
        let incremental = match request.cursor {
            Some(cursor) => {
                let first = self
                    .rpc(
                        token,
                        "files/list_folder/continue",
                        &json!({ "cursor": cursor }),
                    )
                    .await;
                match first {
                    Ok(page) => Some(self.pages(token, page).await?),
                    // The cursor was invalidated: list in full instead.
                    Err(f) if f.is(&["reset"]) => None,
                    Err(f) => return Err(f),
                }
            }
            None => None,
        };
        let (listing, (applied, cursor)) = match incremental {
            Some(pages) => (Listing::Incremental, pages),
            None => (
                Listing::Full { complete: true },
                self.list_full(token).await?,
            ),
        };
        let (items, deleted_paths) = applied.into_run(request.folders);
        Ok(RemoteRun {
            listing,
            items,
            deleted_ids: vec![],
            deleted_paths,
            cursor: Some(cursor),
        })
    }

    async fn create_folder_at(&self, token: &str, at: &Target<'_>) -> Result<RemoteItem, Failure> {
        let parent = Some(at.parent_id.to_string());
        let created = self
            .rpc::<Wrapped<FolderMetadata>>(
                token,
                "files/create_folder_v2",
                &json!({ "path": at.path, "autorename": false }),
            )
            .await;
        match created {
            Ok(Wrapped { metadata }) => Ok(Metadata::Folder(metadata)
                .item(parent)
                .expect("a folder is an item")),
            Err(f) if f.is(&["path", "conflict", "folder"]) => {
                // There already: that folder is the answer.
                let existing: Metadata = self
                    .rpc(token, "files/get_metadata", &json!({ "path": at.path }))
                    .await?;
                match existing {
                    Metadata::Folder(_) => Ok(existing.item(parent).expect("a folder")),
                    _ => Err(f),
                }
            }
            Err(f) => Err(f),
        }
    }

    async fn upload_file(
        &self,
        token: &str,
        at: &Target<'_>,
        replace: Option<(&str, &str)>,
        content: &Upload,
    ) -> Result<RemoteItem, RemoteError> {
        let size = tokio::fs::metadata(&content.file)
            .await
            .map_err(|e| {
                RemoteError::new(
                    RemoteErrorKind::Fatal,
                    format!("cannot read the file to upload: {e}"),
                )
            })?
            .len();
        if size != content.size {
            return Err(RemoteError::new(
                RemoteErrorKind::Fatal,
                format!(
                    "the file to upload has {size} bytes where {} were expected",
                    content.size
                ),
            ));
        }
        if size > MAX_FILE_BYTES {
            return Err(RemoteError::new(
                RemoteErrorKind::TooLarge,
                format!("{size} bytes: larger than 50 MB, the most a document may be"),
            ));
        }
        let mode = match replace {
            None => json!("add"),
            Some((_, rev)) => json!({ ".tag": "update", "update": rev }),
        };
        let commit = json!({
            "path": at.path,
            "mode": mode,
            "autorename": false,
            "strict_conflict": replace.is_some(),
        });
        let file: &Path = &content.file;
        let stored: FileMetadata = if size <= CHUNK_BYTES {
            let route = "files/upload";
            let response = self
                .content_call(token, route, &commit, || async move {
                    file_body(file, 0, size, route).await.map(Some)
                })
                .await
                .map_err(Failure::remote)?;
            decode(route, response).await.map_err(Failure::remote)?
        } else {
            self.upload_session(token, file, size, commit)
                .await
                .map_err(Failure::remote)?
        };
        Ok(Metadata::File(stored)
            .item(Some(at.parent_id.to_string()))
            .expect("a file is an item"))
    }

    /// `upload_session/start` with the first chunk, `append_v2` with the next ones,
    /// `finish` with the last and the commit: one chunk read from disk at a time.
    async fn upload_session(
        &self,
        token: &str,
        file: &Path,
        size: u64,
        commit: Value,
    ) -> Result<FileMetadata, Failure> {
        let chunk = |offset: u64| CHUNK_BYTES.min(size - offset);
        let route = "files/upload_session/start";
        let first = chunk(0);
        let started = self
            .content_call(token, route, &json!({ "close": false }), || async move {
                file_body(file, 0, first, route).await.map(Some)
            })
            .await?;
        let SessionStart { session_id } = decode(route, started).await?;
        let mut offset = first;
        while size - offset > CHUNK_BYTES {
            let route = "files/upload_session/append_v2";
            let len = chunk(offset);
            let arg = json!({
                "cursor": { "session_id": session_id, "offset": offset },
                "close": false,
            });
            let at = offset;
            let appended = self
                .content_call(token, route, &arg, || async move {
                    file_body(file, at, len, route).await.map(Some)
                })
                .await;
            match appended {
                Ok(_) => {}
                // A try whose answer was lost had landed: the session is past this chunk.
                Err(f)
                    if f.is(&["incorrect_offset"])
                        && f.error.get("correct_offset").and_then(Value::as_u64)
                            == Some(offset + len) => {}
                Err(f) => return Err(f),
            }
            offset += len;
        }
        let route = "files/upload_session/finish";
        let len = size - offset;
        let arg = json!({
            "cursor": { "session_id": session_id, "offset": offset },
            "commit": commit,
        });
        let finished = self
            .content_call(token, route, &arg, || async move {
                file_body(file, offset, len, route).await.map(Some)
            })
            .await?;
        decode(route, finished).await
    }

    async fn move_to(
        &self,
        token: &str,
        remote_id: &str,
        at: &Target<'_>,
    ) -> Result<RemoteItem, Failure> {
        let Wrapped { metadata } = self
            .rpc::<Wrapped<Metadata>>(
                token,
                "files/move_v2",
                &json!({
                    "from_path": remote_id,
                    "to_path": at.path,
                    "autorename": false,
                    "allow_ownership_transfer": false,
                }),
            )
            .await?;
        metadata
            .item(Some(at.parent_id.to_string()))
            .ok_or_else(|| Failure::local("files/move_v2", "the answer is a deleted item"))
    }

    async fn delete_item(
        &self,
        token: &str,
        remote_id: &str,
        if_rev: Option<&str>,
    ) -> Result<(), Failure> {
        let mut arg = json!({ "path": remote_id });
        if let Some(rev) = if_rev {
            arg["parent_rev"] = json!(rev);
        }
        match self.rpc::<Value>(token, "files/delete_v2", &arg).await {
            Ok(_) => Ok(()),
            Err(f) if f.is(&["path_lookup", "not_found"]) => Ok(()),
            Err(f) => Err(f),
        }
    }

    async fn download_stream(
        &self,
        token: &str,
        remote_id: &str,
        rev: &str,
    ) -> Result<ByteStream, Failure> {
        let route = "files/download";
        // `ReadPath` takes `rev:` — the bytes of that revision, not whatever is there now.
        let path = if rev.is_empty() {
            remote_id.to_string()
        } else {
            format!("rev:{rev}")
        };
        let response = self
            .content_call(token, route, &json!({ "path": path }), || async {
                Ok(None)
            })
            .await?;
        let stream = response.bytes_stream().map_err(move |e| {
            RemoteError::new(
                RemoteErrorKind::Retryable { retry_after: None },
                format!(
                    "Dropbox {route}: the download broke off: {}",
                    e.without_url()
                ),
            )
        });
        Ok(Box::pin(stream))
    }
}

/// A 2xx answer as it is; anything else a [`Failure`] read from its body.
async fn check(route: &'static str, response: Response) -> Result<Response, Failure> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let header_pause = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let text = response.text().await.unwrap_or_default();
    let error = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|body| body.get("error").cloned())
        .unwrap_or(Value::Null);
    let tags = tag_chain(&error);
    let body_pause = error
        .get("retry_after")
        .and_then(Value::as_u64)
        .map(Duration::from_secs);
    let detail = if tags.is_empty() {
        let mut text: String = text.chars().take(300).collect();
        if text.is_empty() {
            text = status.canonical_reason().unwrap_or("error").to_string();
        }
        text
    } else {
        tags.join("/")
    };
    Err(Failure {
        route,
        status: status.as_u16(),
        tags,
        error,
        detail,
        retry_after: header_pause.or(body_pause),
    })
}

async fn decode<T: DeserializeOwned>(
    route: &'static str,
    response: Response,
) -> Result<T, Failure> {
    let bytes = response
        .bytes()
        .await
        .map_err(|e| Failure::no_answer(route, e.without_url().to_string()))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Failure::local(route, format!("an answer that cannot be read: {e}")))
}

impl RemoteFiles for DropboxClient {
    fn provider(&self) -> Provider {
        Provider::Dropbox
    }

    fn list<'a>(
        &'a self,
        token: &'a str,
        request: ListRequest<'a>,
    ) -> Fut<'a, RemoteResult<RemoteRun>> {
        Box::pin(async move { self.list_run(token, request).await.map_err(Failure::remote) })
    }

    fn download<'a>(
        &'a self,
        token: &'a str,
        remote_id: &'a str,
        rev: &'a str,
    ) -> Fut<'a, RemoteResult<ByteStream>> {
        Box::pin(async move {
            self.download_stream(token, remote_id, rev)
                .await
                .map_err(Failure::remote)
        })
    }

    fn create_folder<'a>(
        &'a self,
        token: &'a str,
        at: Target<'a>,
    ) -> Fut<'a, RemoteResult<RemoteItem>> {
        Box::pin(async move {
            self.create_folder_at(token, &at)
                .await
                .map_err(Failure::remote)
        })
    }

    fn upload<'a>(
        &'a self,
        token: &'a str,
        at: Target<'a>,
        replace: Option<(&'a str, &'a str)>,
        content: &'a Upload,
    ) -> Fut<'a, RemoteResult<RemoteItem>> {
        Box::pin(async move { self.upload_file(token, &at, replace, content).await })
    }

    fn move_item<'a>(
        &'a self,
        token: &'a str,
        remote_id: &'a str,
        _from_parent_id: Option<&'a str>,
        at: Target<'a>,
    ) -> Fut<'a, RemoteResult<RemoteItem>> {
        Box::pin(async move {
            self.move_to(token, remote_id, &at)
                .await
                .map_err(Failure::remote)
        })
    }

    fn delete<'a>(
        &'a self,
        token: &'a str,
        remote_id: &'a str,
        _path: &'a str,
        if_rev: Option<&'a str>,
    ) -> Fut<'a, RemoteResult<()>> {
        Box::pin(async move {
            self.delete_item(token, remote_id, if_rev)
                .await
                .map_err(Failure::remote)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_safe_json_escapes_from_0x7f_with_surrogate_pairs() {
        assert_eq!(
            header_safe_json(&json!({"path": "/Müller & Söhne ✓\u{7f}😀.pdf"})),
            r#"{"path":"/M\u00fcller & S\u00f6hne \u2713\u007f\ud83d\ude00.pdf"}"#
        );
        assert_eq!(header_safe_json(&json!({"a": "b\n"})), r#"{"a":"b\n"}"#);
    }

    #[test]
    fn tag_chains_follow_members_and_upload_write_failures() {
        let chain = |v: Value| tag_chain(&v);
        assert_eq!(
            chain(
                json!({".tag": "path", "path": {".tag": "conflict", "conflict": {".tag": "folder"}}})
            ),
            ["path", "conflict", "folder"]
        );
        assert_eq!(
            chain(
                json!({".tag": "path", "reason": {".tag": "conflict", "conflict": {".tag": "file"}}, "upload_session_id": "x"})
            ),
            ["path", "conflict", "file"]
        );
        assert_eq!(
            chain(json!({"reason": {".tag": "too_many_write_operations"}})),
            ["too_many_write_operations"]
        );
        assert_eq!(
            chain(json!({".tag": "incorrect_offset", "correct_offset": 8})),
            ["incorrect_offset"]
        );
        assert!(chain(Value::Null).is_empty());
    }

    fn failure(status: u16, tags: &[&str], detail: &str) -> Failure {
        Failure {
            route: "files/upload",
            status,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            error: Value::Null,
            detail: detail.into(),
            retry_after: None,
        }
    }

    #[test]
    fn failures_map_to_what_the_executor_does_next() {
        use RemoteErrorKind::*;
        let kind = |status, tags: &[&str], detail| failure(status, tags, detail).kind();
        let retry = Retryable { retry_after: None };
        assert_eq!(kind(401, &["expired_access_token"], ""), TokenRejected);
        assert_eq!(kind(401, &["invalid_access_token"], ""), TokenRejected);
        assert_eq!(kind(401, &["missing_scope"], ""), NeedsReauth);
        assert_eq!(
            kind(400, &[], "missing_scope: files.content.write"),
            NeedsReauth
        );
        assert_eq!(kind(400, &[], "could not decode input as JSON"), Fatal);
        assert_eq!(kind(429, &["too_many_requests"], ""), retry);
        assert_eq!(kind(503, &[], "Service Unavailable"), retry);
        assert_eq!(kind(0, &[], "connection refused"), retry);
        assert_eq!(kind(0, &["local"], "no such file"), Fatal);
        assert_eq!(kind(409, &["path", "too_many_write_operations"], ""), retry);
        assert_eq!(kind(409, &["path", "conflict", "file"], ""), Conflict);
        assert_eq!(kind(409, &["to", "conflict", "folder"], ""), Conflict);
        assert_eq!(kind(409, &["path_write", "conflict", "file"], ""), Conflict);
        assert_eq!(kind(409, &["from_lookup", "not_found"], ""), NotFound);
        assert_eq!(kind(409, &["payload_too_large"], ""), TooLarge);
        let full = failure(
            409,
            &["path", "insufficient_space"],
            "path/insufficient_space",
        );
        assert_eq!(full.kind(), Fatal);
        assert!(full.remote().message.contains("full"));
    }

    fn file(id: &str, path: &str) -> Metadata {
        Metadata::File(FileMetadata {
            id: id.into(),
            name: path.rsplit('/').next().unwrap().into(),
            path_lower: Some(path.into()),
            rev: "015000000001".into(),
            size: 1,
            content_hash: None,
            server_modified: None,
        })
    }

    fn folder(id: &str, path: &str) -> Metadata {
        Metadata::Folder(FolderMetadata {
            id: id.into(),
            name: path.rsplit('/').next().unwrap().into(),
            path_lower: Some(path.into()),
        })
    }

    fn deleted(path: &str) -> Metadata {
        Metadata::Deleted(DeletedMetadata {
            path_lower: Some(path.into()),
        })
    }

    #[test]
    fn pages_apply_in_order_and_parents_resolve_after_all_of_them() {
        let mut applied = Applied::default();
        // A child before its folder; a file listed, then deleted with its folder; a move.
        for entry in [
            file("id:f", "/a/f.txt"),
            folder("id:a", "/a"),
            folder("id:gone", "/gone"),
            file("id:g", "/gone/g.txt"),
            deleted("/gone"),
            file("id:m", "/a/m.txt"),
            file("id:m", "/b/m.txt"),
            file("id:k", "/known/k.txt"),
            file("id:o", "/elsewhere/o.txt"),
            folder("id:top", "/top"),
        ] {
            applied.apply(entry);
        }
        let known = BTreeMap::from([("/known".to_string(), "id:known".to_string())]);
        let (items, deleted_paths) = applied.into_run(&known);
        let got: Vec<(&str, Option<&str>)> = items
            .iter()
            .map(|i| (i.id.as_str(), i.parent.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("id:a", Some("")),
                ("id:f", Some("id:a")),
                ("id:m", None),
                ("id:o", None),
                ("id:k", Some("id:known")),
                ("id:top", Some("")),
            ]
        );
        assert_eq!(deleted_paths, ["/gone"]);
    }
}
