//! The provider-neutral remote: what the executor asks of Google Drive or Dropbox. Each
//! provider's client (in its integration's crate) implements [`RemoteFiles`]; the executor
//! never names a provider API.
//!
//! The client owns its wire format, retries with back-off (the engine's `retry` module:
//! 429/`Retry-After`, `too_many_write_operations`, `userRateLimitExceeded`, 5xx), resumable
//! transfers, and the mapping of its listings to the core's [`RemoteItem`]. It answers with
//! a [`RemoteError`] whose [`RemoteErrorKind`] says what the executor does next.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use threadline_files_core::link::{NodeKey, RemoteItem};
use threadline_files_core::plan::RemoteRun;
use threadline_files_core::provider::Provider;
use threadline_storage::db::BoxFuture;

/// A download's bytes, as they arrive.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, RemoteError>> + Send>>;

/// What a listing starts from.
#[derive(Debug, Clone)]
pub struct ListRequest<'a> {
    /// The cursor stored after the last applied run (Dropbox `list_folder` cursor, Drive
    /// page token); `None`: list in full.
    pub cursor: Option<&'a str>,
    /// The organisation's id as stamped on items we create (Drive `appProperties`
    /// [`threadline_files_core::link::ORG_PROPERTY`]): only markers with it are read.
    pub org: &'a str,
    /// The remote id of our root folder when a link has it (Drive: `Threadline`); the client
    /// finds it by its marker otherwise. Dropbox's root is the app folder (`""`).
    pub root_id: Option<&'a str>,
    /// Folders known from the links: [`path_key`] of their path → remote id. Dropbox lists
    /// parents by path only: the client resolves an item's parent path with the folders of
    /// the listing first, then these.
    pub folders: &'a BTreeMap<String, String>,
}

/// How the executor and the Dropbox client compare paths: NFC, then lowercase (Dropbox's
/// `path_lower` is case-insensitive and normalises Unicode).
pub fn path_key(path: &str) -> String {
    threadline_files_core::names::remote_key(&Provider::Dropbox.capabilities(), path)
}

/// Where a write puts an item. Drive addresses by ids (`parent_id`), Dropbox by path
/// (`path`, from the root: `/Companies/Acme/offer.pdf`); both are given.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    pub parent_id: &'a str,
    pub name: &'a str,
    pub path: &'a str,
    /// Drive: the marker to stamp (`appProperties`: [`NodeKey::marker`] and the org);
    /// Dropbox has none.
    pub marker: NodeKey,
    pub org: &'a str,
}

/// The content of an upload: a CRM blob on disk, streamed from there (never held whole).
#[derive(Debug, Clone)]
pub struct Upload {
    pub file: PathBuf,
    pub size: u64,
    pub sha256: String,
    pub content_type: String,
}

/// What failed, by what the executor does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteErrorKind {
    /// Try the run again later (throttled after the client's own retries, 5xx, network).
    Retryable { retry_after: Option<Duration> },
    /// The access token was refused (401): the run replaces it once.
    TokenRejected,
    /// The grant is gone or lacks a scope: the connection must be authorised again.
    NeedsReauth,
    /// The item is not there (a delete of it is a success; anything else: plan again).
    NotFound,
    /// A condition failed: a stale rev, a name taken, a parent gone. The executor stops the
    /// run's writes; the next run re-reads both sides and plans again.
    Conflict,
    /// The file is over the size both sides accept.
    TooLarge,
    /// Anything else (the provider's answer cannot be read, a bug).
    Fatal,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RemoteError {
    pub kind: RemoteErrorKind,
    /// For the run's history and the logs: never a token.
    pub message: String,
}

impl RemoteError {
    pub fn new(kind: RemoteErrorKind, message: impl Into<String>) -> RemoteError {
        RemoteError {
            kind,
            message: message.into(),
        }
    }
}

pub type RemoteResult<T> = Result<T, RemoteError>;

/// A provider's files API, as the executor uses it. Every write answers the item as the
/// provider stored it (its id, parent, name, rev and hash), which the executor writes into
/// the step's link.
pub trait RemoteFiles: Send + Sync + 'static {
    fn provider(&self) -> Provider;

    /// The remote tree under our root: from `request.cursor` (incremental), or in full. A
    /// cursor the provider rejects (Dropbox `reset`, Drive's invalid page token) is answered
    /// by a full listing (`Listing::Full`), never an error. Drive fetches the start page
    /// token *before* a full listing and answers it as the cursor. Our root (Drive) missing
    /// is not an error: the core creates it or refuses the run.
    fn list<'a>(
        &'a self,
        token: &'a str,
        request: ListRequest<'a>,
    ) -> BoxFuture<'a, RemoteResult<RemoteRun>>;

    /// A file's content at `rev` (Dropbox `rev:`; Drive: the file, checked to still be at
    /// `rev`): a stream, for the CRM's blob store to write as it arrives.
    fn download<'a>(
        &'a self,
        token: &'a str,
        remote_id: &'a str,
        rev: &'a str,
    ) -> BoxFuture<'a, RemoteResult<ByteStream>>;

    /// A folder (Drive: with the marker; Dropbox `create_folder_v2`, an existing folder at
    /// that path answered as itself).
    fn create_folder<'a>(
        &'a self,
        token: &'a str,
        at: Target<'a>,
    ) -> BoxFuture<'a, RemoteResult<RemoteItem>>;

    /// A new file (`replace: None`: Dropbox `mode: add`, `autorename: false`; Drive create
    /// with the marker), or new content for `replace = (remote id, rev)` under that rev
    /// (Dropbox `mode: update`; Drive: the head revision checked first). Large files go
    /// through the provider's resumable upload, streamed from `content.file`.
    fn upload<'a>(
        &'a self,
        token: &'a str,
        at: Target<'a>,
        replace: Option<(&'a str, &'a str)>,
        content: &'a Upload,
    ) -> BoxFuture<'a, RemoteResult<RemoteItem>>;

    /// Moves and/or renames `remote_id` to `at` (Dropbox `move_v2` from the id; Drive
    /// parents + name, and the marker set to `at.marker`). `from_parent_id`: its parent
    /// now (Drive's `removeParents`).
    fn move_item<'a>(
        &'a self,
        token: &'a str,
        remote_id: &'a str,
        from_parent_id: Option<&'a str>,
        at: Target<'a>,
    ) -> BoxFuture<'a, RemoteResult<RemoteItem>>;

    /// Deletes (Dropbox `delete_v2`, with `parent_rev` = `if_rev` for a file) or trashes
    /// (Drive) `remote_id`. Not found is success.
    fn delete<'a>(
        &'a self,
        token: &'a str,
        remote_id: &'a str,
        path: &'a str,
        if_rev: Option<&'a str>,
    ) -> BoxFuture<'a, RemoteResult<()>>;
}
