//! The Drive API v3 client (reqwest) behind [`RemoteFiles`]: what the document sync's
//! executor asks of Google Drive, in Drive's wire format.
//!
//! - Two configurable roots: the API (`https://www.googleapis.com/drive/v3`, the server's
//!   `drive_api_url`) and the uploads (`https://www.googleapis.com/upload/drive/v3`,
//!   `drive_upload_url`); the local fake's `…/drive/v3` and `…/upload/drive/v3` in tests.
//! - Every call names its `fields`: Drive's defaults leave out what we read (`parents`,
//!   `appProperties`, the checksums, `headRevisionId`).
//! - Listings: in full, the changes start page token is fetched *first* (it is the cursor
//!   answered, so nothing made during the listing falls in a gap), then our root (the link's
//!   id, or the folder marked `threadlineNode=root` of the organisation), then its subtree
//!   breadth-first, [`PARENTS_PER_QUERY`] folders a query. Incremental: `changes.list` from
//!   the cursor, every page until `newStartPageToken`; a token Drive refuses (400 on
//!   `pageToken`, 404, 410) is answered by a full listing.
//! - Uploads: `multipart` up to [`MULTIPART_MAX`], `resumable` above it in chunks of
//!   [`CHUNK_BYTES`] read one at a time from the blob on disk (never the whole file in
//!   memory). New content for a known file checks its head revision first (a different one
//!   is [`RemoteErrorKind::Conflict`]).
//! - Errors are Google's envelope (`{"error":{"code","message","errors":[{"reason",…}]}}`),
//!   classified by status *and* reason ([`classify`]). Retried here with the engine's
//!   back-off (`Retry-After` honoured): 429, 403 rate limits, 5xx and a lost answer — except
//!   for creates, which are retried after a throttle only (the create may have happened: the
//!   next run finds it by its marker instead of making a twin).
//! - The token travels only in the `Authorization` header; no message carries it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use reqwest::header::{HeaderValue, CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use threadline_files_core::hash::{HashKind, RemoteHash};
use threadline_files_core::link::{NodeKey, RemoteItem, RemoteKind, MARKER_PROPERTY, ORG_PROPERTY};
use threadline_files_core::plan::{Listing, RemoteRun, MAX_FILE_BYTES};
use threadline_files_core::provider::Provider;
use threadline_files_sync::remote::{
    ByteStream, ListRequest, RemoteError, RemoteErrorKind, RemoteFiles, RemoteResult, Target,
    Upload,
};
use threadline_storage::db::BoxFuture;
use threadline_sync_engine::retry::{parse_retry_after, with_retries, Retry};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

pub use threadline_sync_engine::retry::RetryPolicy;

/// Google's production roots.
pub const DRIVE_API_ROOT: &str = "https://www.googleapis.com/drive/v3";
pub const DRIVE_UPLOAD_ROOT: &str = "https://www.googleapis.com/upload/drive/v3";

/// A folder's MIME type; every other `application/vnd.google-apps.*` type (Docs, Sheets,
/// shortcuts…) has no binary content.
pub const FOLDER_MIME: &str = "application/vnd.google-apps.folder";
const WORKSPACE_PREFIX: &str = "application/vnd.google-apps.";

/// Files up to this size go up in one `multipart` request (Drive's guide: ≤ 5 MB).
pub const MULTIPART_MAX: u64 = 5 * 1024 * 1024;
/// A resumable upload's chunk: 8 MiB, a multiple of the 256 KiB Drive requires of every
/// chunk but the last.
pub const CHUNK_BYTES: u64 = 8 * 1024 * 1024;
/// Parents per `files.list` query of a full listing (`'a' in parents or 'b' in parents …`).
pub const PARENTS_PER_QUERY: usize = 40;
/// Drive's largest page.
const PAGE_SIZE: &str = "1000";

/// What we read of a file, everywhere.
const FILE_FIELDS: &str = "id,name,mimeType,parents,trashed,headRevisionId,version,\
                           md5Checksum,sha256Checksum,size,modifiedTime,appProperties";
/// What a revision check reads.
const REV_FIELDS: &str = "id,mimeType,trashed,headRevisionId,version";

/// 403 reasons that mean "slow down" (Drive's limits guide; `quotaExceeded` is the
/// per-project quota, waited out the same way).
const RATE_REASONS: &[&str] = &[
    "userRateLimitExceeded",
    "rateLimitExceeded",
    "quotaExceeded",
    "dailyLimitExceeded",
    "sharingRateLimitExceeded",
];

/// 403 reasons of a grant that lacks a scope: the user must authorise again.
const SCOPE_REASONS: &[&str] = &[
    "insufficientPermissions",
    "insufficientScopes",
    "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
];

/// Why a call failed (after its retries); turned into a [`RemoteError`] at the trait's edge.
#[derive(Debug, Clone)]
enum CallError {
    Status {
        status: u16,
        /// `errors[0].reason` (`notFound`, `userRateLimitExceeded`…), or "".
        reason: String,
        /// `errors[0].location` (`pageToken`, `fileId`…), or "".
        location: String,
        message: String,
        retry_after: Option<Duration>,
    },
    /// No answer (refused, reset, timed out).
    Transport(String),
    /// An answer we could not read.
    Decode(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Status {
                status,
                reason,
                message,
                ..
            } => write!(f, "Google Drive answered {status} {reason}: {message}"),
            CallError::Transport(e) => write!(f, "no answer from Google Drive: {e}"),
            CallError::Decode(e) => write!(f, "an answer of Google Drive could not be read: {e}"),
        }
    }
}

/// Whether a call may be sent again after a 5xx or a lost answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    /// Reads, updates, trashing, upload sessions and their chunks.
    Safe,
    /// Creates: only a throttle (nothing was done) is retried.
    OnlyThrottled,
}

impl CallError {
    fn status(&self) -> Option<u16> {
        match self {
            CallError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    fn is_throttle(&self) -> bool {
        match self {
            CallError::Status { status: 429, .. } => true,
            CallError::Status {
                status: 403,
                reason,
                ..
            } => RATE_REASONS.contains(&reason.as_str()),
            _ => false,
        }
    }

    fn is_transient(&self) -> bool {
        match self {
            CallError::Status { status, .. } => *status >= 500 || self.is_throttle(),
            CallError::Transport(_) => true,
            CallError::Decode(_) => false,
        }
    }

    fn retry(&self, repeat: Repeat) -> Retry {
        let may = match repeat {
            Repeat::Safe => self.is_transient(),
            Repeat::OnlyThrottled => self.is_throttle(),
        };
        match self {
            _ if !may => Retry::NoRetry,
            CallError::Status {
                retry_after: Some(asked),
                ..
            } => Retry::After(*asked),
            _ => Retry::Backoff,
        }
    }

    /// A changes page token Drive refuses: 400 about `pageToken`, or 404/410.
    fn is_invalid_page_token(&self) -> bool {
        match self {
            CallError::Status {
                status: 404 | 410, ..
            } => true,
            CallError::Status {
                status: 400,
                location,
                ..
            } => location == "pageToken",
            _ => false,
        }
    }

    fn into_remote(self) -> RemoteError {
        let message = self.to_string();
        let kind = match &self {
            CallError::Status {
                status,
                reason,
                retry_after,
                ..
            } => classify(*status, reason, *retry_after),
            CallError::Transport(_) => RemoteErrorKind::Retryable { retry_after: None },
            CallError::Decode(_) => RemoteErrorKind::Fatal,
        };
        let message = match (&kind, &self) {
            (RemoteErrorKind::Fatal, CallError::Status { reason, .. })
                if reason == "storageQuotaExceeded" =>
            {
                format!("the Google Drive account is out of storage: free space in it or buy more ({message})")
            }
            _ => message,
        };
        RemoteError::new(kind, message)
    }
}

impl From<CallError> for RemoteError {
    fn from(e: CallError) -> RemoteError {
        e.into_remote()
    }
}

/// What the executor does with Drive's answer `status` / `reason` (after the client's own
/// retries): by status *and* reason, never status alone.
pub fn classify(status: u16, reason: &str, retry_after: Option<Duration>) -> RemoteErrorKind {
    match status {
        401 => RemoteErrorKind::TokenRejected,
        403 if RATE_REASONS.contains(&reason) => RemoteErrorKind::Retryable { retry_after },
        403 if SCOPE_REASONS.contains(&reason) => RemoteErrorKind::NeedsReauth,
        403 if reason == "storageQuotaExceeded" => RemoteErrorKind::Fatal,
        404 => RemoteErrorKind::NotFound,
        409 | 412 => RemoteErrorKind::Conflict,
        429 => RemoteErrorKind::Retryable { retry_after },
        500..=599 => RemoteErrorKind::Retryable { retry_after },
        _ => RemoteErrorKind::Fatal,
    }
}

/// A file as Drive answers it (the members of [`FILE_FIELDS`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DriveFile {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    mime_type: String,
    #[serde(default)]
    parents: Vec<String>,
    #[serde(default)]
    trashed: bool,
    head_revision_id: Option<String>,
    version: Option<String>,
    md5_checksum: Option<String>,
    sha256_checksum: Option<String>,
    size: Option<String>,
    modified_time: Option<DateTime<Utc>>,
    #[serde(default)]
    app_properties: BTreeMap<String, String>,
}

impl DriveFile {
    /// The revision a write is conditioned on: `headRevisionId`, else `version`.
    fn rev(&self) -> Option<&str> {
        self.head_revision_id.as_deref().or(self.version.as_deref())
    }

    fn is_folder(&self) -> bool {
        self.mime_type == FOLDER_MIME
    }

    fn has_content(&self) -> bool {
        !self.mime_type.starts_with(WORKSPACE_PREFIX)
    }

    /// The core's item; the marker only when it is `org`'s.
    fn item(self, org: &str) -> RemoteItem {
        let marker = match self.app_properties.get(ORG_PROPERTY) {
            Some(owner) if owner == org => self
                .app_properties
                .get(MARKER_PROPERTY)
                .and_then(|m| NodeKey::from_marker(m)),
            _ => None,
        };
        let kind = if self.is_folder() {
            RemoteKind::Folder
        } else if !self.has_content() {
            RemoteKind::NotAFile {
                mime_type: self.mime_type.clone(),
            }
        } else {
            let hash = match (&self.sha256_checksum, &self.md5_checksum) {
                (Some(sha), _) => Some(RemoteHash::new(HashKind::Sha256, sha.as_str())),
                (None, Some(md5)) => Some(RemoteHash::new(HashKind::Md5, md5.as_str())),
                (None, None) => None,
            };
            RemoteKind::File {
                rev: self.rev().unwrap_or_default().to_string(),
                hash,
                size: self
                    .size
                    .as_deref()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0),
                modified: self.modified_time,
            }
        };
        RemoteItem {
            id: self.id,
            parent: self.parents.into_iter().next(),
            name: self.name,
            marker,
            kind,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileList {
    #[serde(default)]
    files: Vec<DriveFile>,
    next_page_token: Option<String>,
    #[serde(default)]
    incomplete_search: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartPageToken {
    start_page_token: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Change {
    change_type: Option<String>,
    file_id: Option<String>,
    #[serde(default)]
    removed: bool,
    file: Option<DriveFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangeList {
    #[serde(default)]
    changes: Vec<Change>,
    next_page_token: Option<String>,
    new_start_page_token: Option<String>,
}

/// A quoted string of Drive's `q` grammar (`'`, `\` escaped).
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The marker properties we stamp on what we create or move.
fn marker_properties(at: &Target<'_>) -> Value {
    json!({ MARKER_PROPERTY: at.marker.marker(), ORG_PROPERTY: at.org })
}

fn fatal(message: impl Into<String>) -> RemoteError {
    RemoteError::new(RemoteErrorKind::Fatal, message)
}

/// The Drive API v3 client of one pair of roots. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DriveClient {
    http: reqwest::Client,
    api: url::Url,
    upload: url::Url,
    retry: RetryPolicy,
}

impl DriveClient {
    /// A client of the Drive API at `api_url` (`https://www.googleapis.com/drive/v3`) and
    /// its uploads at `upload_url` (`https://www.googleapis.com/upload/drive/v3`), the
    /// server's `drive_api_url` and `drive_upload_url`; or a local fake's.
    pub fn new(
        api_url: &str,
        upload_url: &str,
        policy: RetryPolicy,
    ) -> Result<DriveClient, String> {
        let root = |name: &str, given: &str| {
            let url = url::Url::parse(given.trim_end_matches('/'))
                .map_err(|e| format!("the Drive {name} URL {given:?} is not a URL: {e}"))?;
            if url.cannot_be_a_base() {
                return Err(format!("the Drive {name} URL {given:?} cannot be a base"));
            }
            Ok(url)
        };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            // Between two reads, not in all: a 50 MB transfer may take longer than that.
            .read_timeout(Duration::from_secs(120))
            // A 308 of a resumable upload is an answer, not a redirect.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(DriveClient {
            http,
            api: root("API", api_url)?,
            upload: root("upload", upload_url)?,
            retry: policy,
        })
    }

    fn url(base: &url::Url, segments: &[&str], query: &[(&str, &str)]) -> url::Url {
        let mut url = base.clone();
        url.path_segments_mut()
            .expect("checked in new")
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    fn api(&self, segments: &[&str], query: &[(&str, &str)]) -> url::Url {
        DriveClient::url(&self.api, segments, query)
    }

    fn uploads(&self, segments: &[&str], query: &[(&str, &str)]) -> url::Url {
        DriveClient::url(&self.upload, segments, query)
    }

    /// Sends what `build` makes (again on each retry) until a success or a 308, and reads
    /// the answer with `read` inside the retries (an answer cut short is a transport
    /// failure, tried again when `repeat` allows).
    async fn call<T, Fut>(
        &self,
        repeat: Repeat,
        build: impl Fn() -> RequestBuilder,
        read: impl Fn(Response) -> Fut,
    ) -> Result<T, CallError>
    where
        Fut: Future<Output = Result<T, CallError>>,
    {
        with_retries(
            self.retry,
            "Google Drive",
            || {
                let request = build();
                let read = &read;
                async move { read(checked(request.send().await).await?).await }
            },
            |e: &CallError| e.retry(repeat),
        )
        .await
    }

    /// The answer itself (a download's body, a session's headers).
    async fn send(
        &self,
        repeat: Repeat,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, CallError> {
        self.call(repeat, build, |r| async { Ok(r) }).await
    }

    /// The answer's JSON.
    async fn json<T: DeserializeOwned>(
        &self,
        repeat: Repeat,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<T, CallError> {
        self.call(repeat, build, decode::<T>).await
    }

    fn request(&self, method: Method, url: &url::Url, token: &str) -> RequestBuilder {
        self.http.request(method, url.clone()).bearer_auth(token)
    }

    async fn get_file(&self, token: &str, id: &str, fields: &str) -> Result<DriveFile, CallError> {
        let url = self.api(&["files", id], &[("fields", fields)]);
        self.json(Repeat::Safe, || self.request(Method::GET, &url, token))
            .await
    }

    /// A file's metadata update (`files.update`, no content), answered with [`FILE_FIELDS`].
    async fn patch(
        &self,
        token: &str,
        id: &str,
        query: &[(&str, &str)],
        body: &Value,
    ) -> Result<DriveFile, CallError> {
        let mut query = query.to_vec();
        query.push(("fields", FILE_FIELDS));
        let url = self.api(&["files", id], &query);
        self.json(Repeat::Safe, || {
            self.request(Method::PATCH, &url, token).json(body)
        })
        .await
    }

    /// The file `id` as it is now, checked to be a live file still at `rev`: NotFound when
    /// it is gone or trashed, Conflict when its head revision moved on.
    async fn at_rev(&self, token: &str, id: &str, rev: &str) -> RemoteResult<DriveFile> {
        let file = self.get_file(token, id, REV_FIELDS).await?;
        if file.trashed {
            return Err(RemoteError::new(
                RemoteErrorKind::NotFound,
                format!("the Drive file {id} is in the trash"),
            ));
        }
        if file.rev() != Some(rev) {
            return Err(RemoteError::new(
                RemoteErrorKind::Conflict,
                format!(
                    "the Drive file {id} changed: its head revision is {}, not {rev}",
                    file.rev().unwrap_or("none")
                ),
            ));
        }
        Ok(file)
    }

    async fn start_page_token(&self, token: &str) -> Result<String, CallError> {
        let url = self.api(
            &["changes", "startPageToken"],
            &[("fields", "startPageToken")],
        );
        let answer: StartPageToken = self
            .json(Repeat::Safe, || self.request(Method::GET, &url, token))
            .await?;
        Ok(answer.start_page_token)
    }

    /// Every page of `files.list` for `q`; whether Drive said a search was incomplete.
    async fn search(&self, token: &str, q: &str) -> Result<(Vec<DriveFile>, bool), CallError> {
        let fields = format!("nextPageToken,incompleteSearch,files({FILE_FIELDS})");
        let mut files = Vec::new();
        let mut incomplete = false;
        let mut page: Option<String> = None;
        loop {
            let mut query = vec![
                ("q", q),
                ("fields", fields.as_str()),
                ("pageSize", PAGE_SIZE),
                ("spaces", "drive"),
                ("orderBy", "createdTime"),
            ];
            if let Some(p) = &page {
                query.push(("pageToken", p));
            }
            let url = self.api(&["files"], &query);
            let list: FileList = self
                .json(Repeat::Safe, || self.request(Method::GET, &url, token))
                .await?;
            files.extend(list.files);
            incomplete |= list.incomplete_search;
            match list.next_page_token {
                Some(p) if !p.is_empty() => page = Some(p),
                _ => return Ok((files, incomplete)),
            }
        }
    }

    /// Our root: the link's (a live folder), or the oldest folder marked as the
    /// organisation's root.
    async fn root(
        &self,
        token: &str,
        request: &ListRequest<'_>,
    ) -> RemoteResult<Option<DriveFile>> {
        if let Some(id) = request.root_id {
            return match self.get_file(token, id, FILE_FIELDS).await {
                Ok(f) if f.is_folder() && !f.trashed => Ok(Some(f)),
                Ok(_) => Ok(None),
                Err(e) if e.status() == Some(404) => Ok(None),
                Err(e) => Err(e.into()),
            };
        }
        let q = format!(
            "mimeType = {} and appProperties has {{ key={} and value={} }} and \
             appProperties has {{ key={} and value={} }} and trashed = false",
            quoted(FOLDER_MIME),
            quoted(MARKER_PROPERTY),
            quoted(&NodeKey::Root.marker()),
            quoted(ORG_PROPERTY),
            quoted(request.org),
        );
        let (found, _) = self.search(token, &q).await?;
        Ok(found.into_iter().next())
    }

    /// The whole tree under our root, the root included; the cursor is the start page
    /// token fetched before anything else.
    async fn full(&self, token: &str, request: &ListRequest<'_>) -> RemoteResult<RemoteRun> {
        let cursor = self.start_page_token(token).await?;
        let mut run = RemoteRun {
            listing: Listing::Full { complete: true },
            items: Vec::new(),
            deleted_ids: Vec::new(),
            deleted_paths: Vec::new(),
            cursor: Some(cursor),
        };
        let Some(root) = self.root(token, request).await? else {
            // No root yet: the core creates it (or refuses the run when a link had one).
            return Ok(run);
        };
        let mut seen: HashSet<String> = HashSet::from([root.id.clone()]);
        let mut frontier = vec![root.id.clone()];
        run.items.push(root.item(request.org));
        let mut complete = true;
        while !frontier.is_empty() {
            let take = frontier.len().min(PARENTS_PER_QUERY);
            let batch: Vec<String> = frontier.drain(..take).collect();
            let parents = batch
                .iter()
                .map(|id| format!("{} in parents", quoted(id)))
                .collect::<Vec<_>>()
                .join(" or ");
            let q = format!("({parents}) and trashed = false");
            let (files, incomplete) = self.search(token, &q).await?;
            complete &= !incomplete;
            for file in files {
                if !seen.insert(file.id.clone()) {
                    continue;
                }
                if file.is_folder() {
                    frontier.push(file.id.clone());
                }
                run.items.push(file.item(request.org));
            }
        }
        run.listing = Listing::Full { complete };
        Ok(run)
    }

    /// The changes since `cursor`, every page; `None` when Drive refuses the token.
    async fn incremental(
        &self,
        token: &str,
        cursor: &str,
        org: &str,
    ) -> RemoteResult<Option<RemoteRun>> {
        let fields = format!(
            "nextPageToken,newStartPageToken,changes(changeType,fileId,removed,file({FILE_FIELDS}))"
        );
        // Each file's latest state, in the order first seen (a file changed while we page
        // comes again on a later page).
        let mut order: Vec<String> = Vec::new();
        let mut latest: HashMap<String, Option<RemoteItem>> = HashMap::new();
        let mut page = cursor.to_string();
        let next_cursor = loop {
            let url = self.api(
                &["changes"],
                &[
                    ("pageToken", page.as_str()),
                    ("pageSize", PAGE_SIZE),
                    ("includeRemoved", "true"),
                    ("restrictToMyDrive", "true"),
                    ("spaces", "drive"),
                    ("fields", fields.as_str()),
                ],
            );
            let list: ChangeList = match self
                .json(Repeat::Safe, || self.request(Method::GET, &url, token))
                .await
            {
                Ok(list) => list,
                Err(e) if e.is_invalid_page_token() => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            for change in list.changes {
                if change.change_type.as_deref() == Some("drive") {
                    continue;
                }
                let Some(id) = change
                    .file_id
                    .clone()
                    .or_else(|| change.file.as_ref().map(|f| f.id.clone()))
                else {
                    continue;
                };
                let state = match change.file {
                    Some(file) if !change.removed && !file.trashed => Some(file.item(org)),
                    _ => None,
                };
                if latest.insert(id.clone(), state).is_none() {
                    order.push(id);
                }
            }
            match (list.new_start_page_token, list.next_page_token) {
                (Some(new), _) => break new,
                (None, Some(next)) => page = next,
                (None, None) => return Err(fatal(
                    "a changes page of Google Drive had neither a next page nor a new start token",
                )),
            }
        };
        let mut run = RemoteRun {
            listing: Listing::Incremental,
            items: Vec::new(),
            deleted_ids: Vec::new(),
            deleted_paths: Vec::new(),
            cursor: Some(next_cursor),
        };
        for id in order {
            match latest.remove(&id).flatten() {
                Some(item) => run.items.push(item),
                None => run.deleted_ids.push(id),
            }
        }
        Ok(Some(run))
    }

    /// New content (`replace`) or a new file, multipart or resumable by size.
    async fn put_content(
        &self,
        token: &str,
        at: &Target<'_>,
        replace: Option<(&str, &str)>,
        content: &Upload,
    ) -> RemoteResult<DriveFile> {
        if content.size > MAX_FILE_BYTES {
            return Err(RemoteError::new(
                RemoteErrorKind::TooLarge,
                format!(
                    "{} is {} bytes, over the {MAX_FILE_BYTES} bytes synced",
                    at.name, content.size
                ),
            ));
        }
        let on_disk = tokio::fs::metadata(&content.file)
            .await
            .map_err(|e| fatal(format!("the blob of {} cannot be read: {e}", at.name)))?
            .len();
        if on_disk != content.size {
            return Err(fatal(format!(
                "the blob of {} holds {on_disk} bytes, not the {} expected",
                at.name, content.size
            )));
        }
        let (method, segments, metadata, repeat) = match replace {
            None => (
                Method::POST,
                vec!["files"],
                json!({
                    "name": at.name,
                    "parents": [at.parent_id],
                    "appProperties": marker_properties(at),
                }),
                Repeat::OnlyThrottled,
            ),
            Some((id, rev)) => {
                self.at_rev(token, id, rev).await?;
                (
                    Method::PATCH,
                    vec!["files", id],
                    json!({ "appProperties": marker_properties(at) }),
                    Repeat::Safe,
                )
            }
        };
        if content.size <= MULTIPART_MAX {
            self.multipart(token, method, &segments, &metadata, content, repeat)
                .await
        } else {
            self.resumable(token, method, &segments, &metadata, content)
                .await
        }
    }

    /// One `multipart/related` request: the metadata, then the content (≤ 5 MiB, read whole).
    async fn multipart(
        &self,
        token: &str,
        method: Method,
        segments: &[&str],
        metadata: &Value,
        content: &Upload,
        repeat: Repeat,
    ) -> RemoteResult<DriveFile> {
        let bytes = tokio::fs::read(&content.file)
            .await
            .map_err(|e| fatal(format!("the blob cannot be read: {e}")))?;
        let (boundary, body) = multipart_body(metadata, &content.content_type, &bytes);
        let url = self.uploads(
            segments,
            &[("uploadType", "multipart"), ("fields", FILE_FIELDS)],
        );
        let content_type = format!("multipart/related; boundary={boundary}");
        Ok(self
            .json(repeat, || {
                self.request(method.clone(), &url, token)
                    .header(CONTENT_TYPE, &content_type)
                    .body(body.clone())
            })
            .await?)
    }

    /// A resumable session: the metadata opens it (its URI comes back in `Location`), then
    /// the content goes in chunks of [`CHUNK_BYTES`], each read from disk when it is sent.
    /// A chunk is sent again after a 5xx or a lost answer (Drive keeps only what is new);
    /// a 308 says how much Drive holds, which is where the next chunk starts.
    async fn resumable(
        &self,
        token: &str,
        method: Method,
        segments: &[&str],
        metadata: &Value,
        content: &Upload,
    ) -> RemoteResult<DriveFile> {
        let total = content.size;
        let url = self.uploads(
            segments,
            &[("uploadType", "resumable"), ("fields", FILE_FIELDS)],
        );
        let opened = self
            .send(Repeat::Safe, || {
                self.request(method.clone(), &url, token)
                    .header("X-Upload-Content-Type", &content.content_type)
                    .header("X-Upload-Content-Length", total)
                    .json(metadata)
            })
            .await?;
        let session = opened
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| url::Url::parse(v).ok())
            .ok_or_else(|| fatal("Google Drive opened an upload session without a Location"))?;
        let mut file = tokio::fs::File::open(&content.file)
            .await
            .map_err(|e| fatal(format!("the blob cannot be read: {e}")))?;
        let mut offset = 0u64;
        let mut stalled = 0;
        loop {
            let len = CHUNK_BYTES.min(total - offset);
            let mut buf = vec![0u8; usize::try_from(len).expect("a chunk fits in memory")];
            file.seek(std::io::SeekFrom::Start(offset))
                .await
                .map_err(|e| fatal(format!("the blob cannot be read: {e}")))?;
            file.read_exact(&mut buf)
                .await
                .map_err(|e| fatal(format!("the blob cannot be read: {e}")))?;
            let chunk = Bytes::from(buf);
            let range = format!("bytes {offset}-{}/{total}", offset + len - 1);
            let answer = self
                .send(Repeat::Safe, || {
                    self.request(Method::PUT, &session, token)
                        .header(CONTENT_RANGE, &range)
                        .body(chunk.clone())
                })
                .await
                .map_err(|e| match e.status() {
                    // Google: start the whole upload over (the next run does).
                    Some(404 | 410) => RemoteError::new(
                        RemoteErrorKind::Retryable { retry_after: None },
                        "the Google Drive upload session expired",
                    ),
                    _ => e.into_remote(),
                })?;
            if answer.status() != StatusCode::PERMANENT_REDIRECT {
                return Ok(decode(answer).await?);
            }
            let held = answer
                .headers()
                .get(RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(stored_bytes)
                .unwrap_or(0);
            stalled = if held > offset { 0 } else { stalled + 1 };
            if stalled >= 3 || held > total {
                return Err(RemoteError::new(
                    RemoteErrorKind::Retryable { retry_after: None },
                    format!(
                        "the Google Drive upload does not progress past byte {held} of {total}"
                    ),
                ));
            }
            offset = held;
        }
    }
}

/// How many bytes a 308's `Range: bytes=0-n` says Drive holds.
fn stored_bytes(range: &str) -> Option<u64> {
    let (_, last) = range.trim().strip_prefix("bytes=")?.split_once('-')?;
    last.trim().parse::<u64>().ok().map(|n| n + 1)
}

/// A `multipart/related` body and its boundary (one that does not occur in the content).
fn multipart_body(metadata: &Value, content_type: &str, content: &[u8]) -> (String, Bytes) {
    let mut n = 0u32;
    let boundary = loop {
        let candidate = format!("threadline_part_boundary_{n}");
        if !content
            .windows(candidate.len())
            .any(|w| w == candidate.as_bytes())
        {
            break candidate;
        }
        n += 1;
    };
    let mut body = Vec::with_capacity(content.len() + 512);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{metadata}\r\n\
             --{boundary}\r\nContent-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (boundary, Bytes::from(body))
}

/// A success (or a resumable upload's 308) as it is; an error answer read into a
/// [`CallError`].
async fn checked(sent: Result<Response, reqwest::Error>) -> Result<Response, CallError> {
    let response = sent.map_err(|e| CallError::Transport(e.without_url().to_string()))?;
    let status = response.status();
    if status.is_success() || status == StatusCode::PERMANENT_REDIRECT {
        return Ok(response);
    }
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .and_then(parse_retry_after);
    let bytes = response.bytes().await.unwrap_or_default();
    let parsed: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let error = &parsed["error"];
    let first = &error["errors"][0];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    Err(CallError::Status {
        status: status.as_u16(),
        reason: text(&first["reason"]),
        location: text(&first["location"]),
        message: error["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_string()),
        retry_after,
    })
}

async fn decode<T: DeserializeOwned>(response: Response) -> Result<T, CallError> {
    let bytes = response
        .bytes()
        .await
        .map_err(|e| CallError::Transport(e.without_url().to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| CallError::Decode(e.to_string()))
}

impl RemoteFiles for DriveClient {
    fn provider(&self) -> Provider {
        Provider::GoogleDrive
    }

    fn list<'a>(
        &'a self,
        token: &'a str,
        request: ListRequest<'a>,
    ) -> BoxFuture<'a, RemoteResult<RemoteRun>> {
        Box::pin(async move {
            if let Some(cursor) = request.cursor {
                if let Some(run) = self.incremental(token, cursor, request.org).await? {
                    return Ok(run);
                }
                tracing::info!("Google Drive refused the changes page token: listing in full");
            }
            self.full(token, &request).await
        })
    }

    fn download<'a>(
        &'a self,
        token: &'a str,
        remote_id: &'a str,
        rev: &'a str,
    ) -> BoxFuture<'a, RemoteResult<ByteStream>> {
        Box::pin(async move {
            let file = self.at_rev(token, remote_id, rev).await?;
            if file.is_folder() || !file.has_content() {
                return Err(fatal(format!(
                    "the Drive item {remote_id} ({}) has no content to download",
                    file.mime_type
                )));
            }
            let url = self.api(&["files", remote_id], &[("alt", "media")]);
            let response = self
                .send(Repeat::Safe, || self.request(Method::GET, &url, token))
                .await?;
            let stream = response.bytes_stream().map(|chunk| {
                chunk.map_err(|e| {
                    RemoteError::new(
                        RemoteErrorKind::Retryable { retry_after: None },
                        format!("a Google Drive download broke off: {}", e.without_url()),
                    )
                })
            });
            Ok(Box::pin(stream) as ByteStream)
        })
    }

    fn create_folder<'a>(
        &'a self,
        token: &'a str,
        at: Target<'a>,
    ) -> BoxFuture<'a, RemoteResult<RemoteItem>> {
        Box::pin(async move {
            let url = self.api(&["files"], &[("fields", FILE_FIELDS)]);
            let body = json!({
                "name": at.name,
                "mimeType": FOLDER_MIME,
                "parents": [at.parent_id],
                "appProperties": marker_properties(&at),
            });
            let file: DriveFile = self
                .json(Repeat::OnlyThrottled, || {
                    self.request(Method::POST, &url, token).json(&body)
                })
                .await?;
            Ok(file.item(at.org))
        })
    }

    fn upload<'a>(
        &'a self,
        token: &'a str,
        at: Target<'a>,
        replace: Option<(&'a str, &'a str)>,
        content: &'a Upload,
    ) -> BoxFuture<'a, RemoteResult<RemoteItem>> {
        Box::pin(async move {
            let file = self.put_content(token, &at, replace, content).await?;
            Ok(file.item(at.org))
        })
    }

    fn move_item<'a>(
        &'a self,
        token: &'a str,
        remote_id: &'a str,
        from_parent_id: Option<&'a str>,
        at: Target<'a>,
    ) -> BoxFuture<'a, RemoteResult<RemoteItem>> {
        Box::pin(async move {
            let from: Vec<String> = match from_parent_id {
                Some(p) => vec![p.to_string()],
                None => self.get_file(token, remote_id, "id,parents").await?.parents,
            };
            let remove = from
                .iter()
                .filter(|p| p.as_str() != at.parent_id)
                .cloned()
                .collect::<Vec<_>>()
                .join(",");
            let mut query = Vec::new();
            if !from.iter().any(|p| p == at.parent_id) {
                query.push(("addParents", at.parent_id));
            }
            if !remove.is_empty() {
                query.push(("removeParents", remove.as_str()));
            }
            let body = json!({ "name": at.name, "appProperties": marker_properties(&at) });
            let file = self.patch(token, remote_id, &query, &body).await?;
            Ok(file.item(at.org))
        })
    }

    fn delete<'a>(
        &'a self,
        token: &'a str,
        remote_id: &'a str,
        _path: &'a str,
        if_rev: Option<&'a str>,
    ) -> BoxFuture<'a, RemoteResult<()>> {
        Box::pin(async move {
            if let Some(rev) = if_rev {
                match self.at_rev(token, remote_id, rev).await {
                    Ok(_) => {}
                    Err(e) if e.kind == RemoteErrorKind::NotFound => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
            match self
                .patch(token, remote_id, &[], &json!({ "trashed": true }))
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if e.status() == Some(404) => Ok(()),
                Err(e) => Err(e.into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(mime_type: &str, props: &[(&str, &str)]) -> DriveFile {
        DriveFile {
            id: "f1".into(),
            name: "offer.pdf".into(),
            mime_type: mime_type.into(),
            parents: vec!["p1".into()],
            app_properties: props
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..DriveFile::default()
        }
    }

    #[test]
    fn errors_are_classified_by_status_and_reason() {
        let wait = Some(Duration::from_secs(3));
        let retryable = RemoteErrorKind::Retryable { retry_after: wait };
        for (status, reason, kind) in [
            (401, "authError", RemoteErrorKind::TokenRejected),
            (403, "userRateLimitExceeded", retryable.clone()),
            (403, "rateLimitExceeded", retryable.clone()),
            (429, "rateLimitExceeded", retryable.clone()),
            (503, "backendError", retryable),
            (403, "insufficientPermissions", RemoteErrorKind::NeedsReauth),
            (403, "storageQuotaExceeded", RemoteErrorKind::Fatal),
            (403, "forbidden", RemoteErrorKind::Fatal),
            (404, "notFound", RemoteErrorKind::NotFound),
            (412, "conditionNotMet", RemoteErrorKind::Conflict),
            (400, "badRequest", RemoteErrorKind::Fatal),
        ] {
            assert_eq!(classify(status, reason, wait), kind, "{status} {reason}");
        }

        let full = CallError::Status {
            status: 403,
            reason: "storageQuotaExceeded".into(),
            location: String::new(),
            message: "The user's Drive storage quota has been exceeded.".into(),
            retry_after: None,
        }
        .into_remote();
        assert_eq!(full.kind, RemoteErrorKind::Fatal);
        assert!(full.message.contains("out of storage"), "{}", full.message);
    }

    #[test]
    fn a_refused_page_token_is_told_apart_from_other_bad_requests() {
        let status = |status, location: &str| CallError::Status {
            status,
            reason: "invalid".into(),
            location: location.into(),
            message: "Invalid Value".into(),
            retry_after: None,
        };
        assert!(status(400, "pageToken").is_invalid_page_token());
        assert!(status(404, "").is_invalid_page_token());
        assert!(!status(400, "fields").is_invalid_page_token());
        assert!(!CallError::Transport("reset".into()).is_invalid_page_token());
    }

    #[test]
    fn items_read_markers_of_our_org_only_and_tell_kinds_apart() {
        let marker = NodeKey::Root.marker();
        let ours = file(
            FOLDER_MIME,
            &[(MARKER_PROPERTY, &marker), (ORG_PROPERTY, "o1")],
        );
        let item = ours.clone().item("o1");
        assert_eq!(item.marker, Some(NodeKey::Root));
        assert_eq!(item.kind, RemoteKind::Folder);
        assert_eq!(item.parent.as_deref(), Some("p1"));
        assert_eq!(ours.item("o2").marker, None);
        let doc = file("application/vnd.google-apps.document", &[]).item("o1");
        assert_eq!(
            doc.kind,
            RemoteKind::NotAFile {
                mime_type: "application/vnd.google-apps.document".into()
            }
        );
        let mut binary = file("application/pdf", &[]);
        binary.version = Some("7".into());
        binary.md5_checksum = Some("ABC".into());
        binary.size = Some("12".into());
        match binary.clone().item("o1").kind {
            RemoteKind::File {
                rev, hash, size, ..
            } => {
                assert_eq!(rev, "7");
                assert_eq!(hash, Some(RemoteHash::new(HashKind::Md5, "abc")));
                assert_eq!(size, 12);
            }
            other => panic!("{other:?}"),
        }
        binary.head_revision_id = Some("r1".into());
        binary.sha256_checksum = Some("def".into());
        match binary.item("o1").kind {
            RemoteKind::File { rev, hash, .. } => {
                assert_eq!(rev, "r1");
                assert_eq!(hash, Some(RemoteHash::new(HashKind::Sha256, "def")));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn quoting_escapes_and_multipart_boundaries_avoid_the_content() {
        assert_eq!(quoted(r"it's a\b"), r"'it\'s a\\b'");
        let content = b"xx threadline_part_boundary_0 yy";
        let (boundary, body) = multipart_body(&json!({"name": "a"}), "text/plain", content);
        assert_eq!(boundary, "threadline_part_boundary_1");
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with("--threadline_part_boundary_1\r\n"));
        assert!(text.ends_with("\r\n--threadline_part_boundary_1--\r\n"));
        assert_eq!(stored_bytes("bytes=0-262143"), Some(262_144));
    }
}
