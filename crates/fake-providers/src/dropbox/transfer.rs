//! The content routes (content.dropboxapi.com): `files/upload`,
//! `files/upload_session/start`, `files/upload_session/append_v2`,
//! `files/upload_session/finish` and `files/download`. Arguments come in `Dropbox-API-Arg`
//! (`args`), bodies are `application/octet-stream`, read as they stream in (at most 150 MiB a
//! call) and kept once (`content`); a download streams the stored chunks back with its
//! metadata in `Dropbox-API-Result`.
//!
//! Checked against `files.stone` at 0d994eb: `UploadArg` (`CommitInfo` + `content_hash`),
//! `CommitInfo {path, mode = add, autorename = false, client_modified?, mute = false,
//! property_groups?, strict_conflict = false}`, `WriteMode`, `UploadError.{path:
//! UploadWriteFailed {reason: WriteError, upload_session_id}, payload_too_large,
//! content_hash_mismatch}`, `UploadSessionStartArg {close, session_type?, content_hash?}`,
//! `UploadSessionStartResult {session_id}`, `UploadSessionAppendArg {cursor: {session_id,
//! offset}, close, content_hash?}`, `UploadSessionAppendError.{not_found, incorrect_offset
//! {correct_offset}, closed, payload_too_large, content_hash_mismatch}`,
//! `UploadSessionFinishArg {cursor, commit, content_hash?}`,
//! `UploadSessionFinishError.{lookup_failed, path: WriteError, payload_too_large,
//! content_hash_mismatch}` ("Data has already been appended to the upload session. Please
//! retry with empty data body and updated offset."), `DownloadArg {path, rev?}`,
//! `DownloadError.path: LookupError`; `FileMetadata` results without `.tag`.
//!
//! A download's `path` may be `rev:<rev>` (`ReadPath`): that revision's bytes and metadata,
//! also after the file was replaced, moved or deleted (Dropbox keeps revisions).
//!
//! Not modelled: concurrent upload sessions (`session_type: concurrent` is refused with a
//! 400), session expiry after 7 days, `Range` downloads, `property_groups`, `mute` (accepted,
//! no effect), the deprecated `DownloadArg.rev`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};

use super::content::{read_body, ContentBuilder, ContentHasher, ReadError};
use super::files::{conflict_error, malformed, spot, target, Accepts, Target};
use super::oauth::{self, Caller};
use super::tree::{Commit, Conflict, Mode};
use super::{args, error::tagged, DropboxError, DropboxState};
use crate::util::random_token;
use crate::Shared;

/// An upload session not yet finished: its bytes so far, their running hash.
pub(crate) struct Session {
    email: String,
    data: ContentBuilder,
    hasher: ContentHasher,
    closed: bool,
}

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/2/files/upload", post(upload))
        .route("/2/files/upload_session/start", post(start))
        .route("/2/files/upload_session/append_v2", post(append))
        .route("/2/files/upload_session/finish", post(finish))
        .route("/2/files/download", post(download))
}

/// `CommitInfo`.
#[derive(Deserialize)]
struct CommitInfo {
    path: String,
    #[serde(default)]
    mode: Mode,
    #[serde(default)]
    autorename: bool,
    #[serde(default, deserialize_with = "dropbox_timestamp")]
    client_modified: Option<DateTime<Utc>>,
    #[serde(default)]
    strict_conflict: bool,
}

/// `common.DropboxTimestamp`: `%Y-%m-%dT%H:%M:%SZ`.
fn dropbox_timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let Some(text) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%SZ")
        .map(|t| Some(t.and_utc()))
        .map_err(|_| {
            serde::de::Error::custom(format!(
                "client_modified: timestamp '{text}' does not match format '%Y-%m-%dT%H:%M:%SZ'"
            ))
        })
}

#[derive(Deserialize)]
struct UploadArg {
    #[serde(flatten)]
    commit: CommitInfo,
    content_hash: Option<String>,
}

#[derive(Deserialize)]
struct SessionCursor {
    session_id: String,
    offset: u64,
}

#[derive(Deserialize)]
struct StartArg {
    #[serde(default)]
    close: bool,
    session_type: Option<Value>,
    content_hash: Option<String>,
}

#[derive(Deserialize)]
struct AppendArg {
    cursor: SessionCursor,
    #[serde(default)]
    close: bool,
    content_hash: Option<String>,
}

#[derive(Deserialize)]
struct FinishArg {
    cursor: SessionCursor,
    commit: CommitInfo,
    content_hash: Option<String>,
}

#[derive(Deserialize)]
struct DownloadArg {
    path: String,
}

/// The checks before a body is read: the token, the argument, the body's type.
fn prepare<T: DeserializeOwned>(
    shared: &Shared,
    headers: &HeaderMap,
    query: Option<&str>,
    function: &str,
    scope: &str,
) -> Result<(Caller, T), DropboxError> {
    let state = shared.dropbox.lock();
    let caller = oauth::caller(&state, headers, function, Some(scope))?;
    let arg = args::header_arg(function, headers, query)?;
    if scope == oauth::FILES_CONTENT_WRITE {
        args::check_upload_type(function, headers)?;
    }
    Ok((caller, arg))
}

/// An argument carrying the `content_hash` of the call's bytes.
trait SentHash {
    fn sent_hash(&self) -> Option<&str>;
}

impl SentHash for UploadArg {
    fn sent_hash(&self) -> Option<&str> {
        self.content_hash.as_deref()
    }
}

impl SentHash for StartArg {
    fn sent_hash(&self) -> Option<&str> {
        self.content_hash.as_deref()
    }
}

impl SentHash for AppendArg {
    fn sent_hash(&self) -> Option<&str> {
        self.content_hash.as_deref()
    }
}

impl SentHash for FinishArg {
    fn sent_hash(&self) -> Option<&str> {
        self.content_hash.as_deref()
    }
}

/// An upload call up to its bytes: the checks ([`prepare`]), then the body as it streams in,
/// checked against the `content_hash` sent with it.
async fn receive<T: DeserializeOwned + SentHash>(
    shared: &Shared,
    headers: &HeaderMap,
    query: Option<&str>,
    function: &str,
    body: Body,
) -> Result<(Caller, T, ContentBuilder), DropboxError> {
    let (caller, arg): (Caller, T) =
        prepare(shared, headers, query, function, oauth::FILES_CONTENT_WRITE)?;
    let mut data = body_of(body, &[]).await?;
    check_hash(&mut data, arg.sent_hash(), &[])?;
    Ok((caller, arg, data))
}

/// The request's bytes; `errors` names the route's union, for `payload_too_large`.
async fn body_of(body: Body, union_prefix: &[&str]) -> Result<ContentBuilder, DropboxError> {
    read_body(body).await.map_err(|e| match e {
        ReadError::TooLarge => {
            let mut tags = union_prefix.to_vec();
            tags.push("payload_too_large");
            DropboxError::endpoint(&tags)
        }
        ReadError::Broken => DropboxError::server_error(StatusCode::BAD_REQUEST),
    })
}

/// The `content_hash` of this call's bytes must be the one the client sent, if it sent one.
fn check_hash(
    data: &mut ContentBuilder,
    expected: Option<&str>,
    union_prefix: &[&str],
) -> Result<(), DropboxError> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let mut hasher = ContentHasher::default();
    for chunk in data.chunks() {
        hasher.update(chunk);
    }
    if hasher.finish() == expected {
        return Ok(());
    }
    let mut tags = union_prefix.to_vec();
    tags.push("content_hash_mismatch");
    Err(DropboxError::endpoint(&tags))
}

fn respond(result: Result<Value, DropboxError>) -> Response {
    match result {
        Ok(value) => Json(value).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Where a commit writes, as a full path; `Err` with the `WriteError` tags when the path is
/// malformed or names nothing writable.
fn commit_path(
    function: &str,
    state: &mut DropboxState,
    caller: &Caller,
    path: &str,
) -> Result<Result<String, &'static str>, DropboxError> {
    let target = target(function, "path", path, Accepts::WritePathOrId)?;
    if malformed(&target) {
        return Ok(Err("malformed_path"));
    }
    Ok(match &target {
        Target::Path(p) => Ok(caller.view.full(p)),
        _ => {
            let account = state.account_mut(&caller.email);
            match spot(account, &caller.view, &target).entry {
                Some(e) => Ok(e.display),
                None => Err("malformed_path"),
            }
        }
    })
}

fn commit_of(info: &CommitInfo, full: String) -> Commit {
    Commit {
        path: full,
        mode: info.mode.clone(),
        autorename: info.autorename,
        client_modified: info.client_modified,
        strict_conflict: info.strict_conflict,
    }
}

fn new_session(
    state: &mut DropboxState,
    email: &str,
    mut data: ContentBuilder,
    closed: bool,
) -> String {
    let mut hasher = ContentHasher::default();
    for chunk in data.chunks() {
        hasher.update(chunk);
    }
    let id = random_token("pid_upload_session:fake");
    state.sessions.insert(
        id.clone(),
        Session {
            email: email.to_string(),
            data,
            hasher,
            closed,
        },
    );
    id
}

async fn upload(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    const FUNCTION: &str = "files/upload";
    let result = async {
        let (caller, arg, mut data): (Caller, UploadArg, _) =
            receive(&shared, &headers, query.as_deref(), FUNCTION, body).await?;
        // Hashed before the lock is taken: the fake stays responsive during big uploads.
        let mut hasher = ContentHasher::default();
        for chunk in data.chunks() {
            hasher.update(chunk);
        }
        let hash = hasher.finish();
        let mut state = shared.dropbox.lock();
        let now = state.now();
        let failed = |state: &mut DropboxState, data, reason: Value, tags: &[&str]| {
            let session = new_session(state, &caller.email, data, false);
            let mut summary = vec!["path"];
            summary.extend_from_slice(tags);
            DropboxError::new(
                StatusCode::CONFLICT,
                &summary,
                json!({".tag": "path", "reason": reason, "upload_session_id": session}),
            )
        };
        let full = match commit_path(FUNCTION, &mut state, &caller, &arg.commit.path)? {
            Ok(full) => full,
            Err(tag) => return Err(failed(&mut state, data, tagged(&[tag]), &[tag])),
        };
        let commit = commit_of(&arg.commit, full);
        let content = data.snapshot();
        let account = state.account_mut(&caller.email);
        match account.ns.commit(&commit, content, hash, now) {
            Ok(entry) => Ok(caller.view.metadata(&entry, false)),
            Err(conflict) => {
                let tags = ["conflict", conflict.tag()];
                Err(failed(&mut state, data, tagged(&tags), &tags))
            }
        }
    }
    .await;
    respond(result)
}

async fn start(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    const FUNCTION: &str = "files/upload_session/start";
    let result = async {
        let (caller, arg, data): (Caller, StartArg, _) =
            receive(&shared, &headers, query.as_deref(), FUNCTION, body).await?;
        let concurrent = arg.session_type.as_ref().is_some_and(|t| {
            t.as_str().or_else(|| t.get(".tag").and_then(Value::as_str)) == Some("concurrent")
        });
        if concurrent {
            return Err(DropboxError::bad_input(
                FUNCTION,
                "request body: session_type: concurrent sessions are not implemented by the fake",
            ));
        }
        let mut state = shared.dropbox.lock();
        let id = new_session(&mut state, &caller.email, data, arg.close);
        Ok(json!({"session_id": id}))
    }
    .await;
    respond(result)
}

/// The session a cursor names, if it is the caller's; `Err` with the lookup error's tags and
/// value.
fn session_at<'s>(
    state: &'s mut DropboxState,
    caller: &Caller,
    cursor: &SessionCursor,
    data_len: u64,
) -> Result<&'s mut Session, (Vec<&'static str>, Value)> {
    let Some(session) = state
        .sessions
        .get_mut(&cursor.session_id)
        .filter(|s| s.email == caller.email)
    else {
        return Err((vec!["not_found"], tagged(&["not_found"])));
    };
    if cursor.offset != session.data.len() {
        let correct = session.data.len();
        return Err((
            vec!["incorrect_offset"],
            json!({".tag": "incorrect_offset", "correct_offset": correct}),
        ));
    }
    if session.closed && data_len > 0 {
        return Err((vec!["closed"], tagged(&["closed"])));
    }
    Ok(session)
}

fn append_to(session: &mut Session, mut data: ContentBuilder) {
    for chunk in data.chunks() {
        session.hasher.update(chunk);
    }
    session.data.append(data);
}

async fn append(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    const FUNCTION: &str = "files/upload_session/append_v2";
    let result = async {
        let (caller, arg, data): (Caller, AppendArg, _) =
            receive(&shared, &headers, query.as_deref(), FUNCTION, body).await?;
        let mut state = shared.dropbox.lock();
        // `closed` is refused for any append, even an empty one.
        let session = session_at(&mut state, &caller, &arg.cursor, data.len().max(1))
            .map_err(|(tags, value)| DropboxError::new(StatusCode::CONFLICT, &tags, value))?;
        append_to(session, data);
        session.closed |= arg.close;
        Ok(Value::Null)
    }
    .await;
    respond(result)
}

async fn finish(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    const FUNCTION: &str = "files/upload_session/finish";
    let result = async {
        let (caller, arg, data): (Caller, FinishArg, _) =
            receive(&shared, &headers, query.as_deref(), FUNCTION, body).await?;
        let mut state = shared.dropbox.lock();
        let now = state.now();
        let full = match commit_path(FUNCTION, &mut state, &caller, &arg.commit.path)? {
            Ok(full) => full,
            Err(tag) => return Err(DropboxError::endpoint(&["path", tag])),
        };
        let session = session_at(&mut state, &caller, &arg.cursor, data.len()).map_err(
            |(mut tags, value)| {
                tags.insert(0, "lookup_failed");
                DropboxError::new(
                    StatusCode::CONFLICT,
                    &tags,
                    json!({".tag": "lookup_failed", "lookup_failed": value}),
                )
            },
        )?;
        // The data is appended first: if the commit fails, it stays in the session.
        append_to(session, data);
        let content = session.data.snapshot();
        let hash = session.hasher.clone().finish();
        let commit = commit_of(&arg.commit, full);
        let account = state.account_mut(&caller.email);
        let entry = account
            .ns
            .commit(&commit, content, hash, now)
            .map_err(|c: Conflict| conflict_error(&["path"], c))?;
        state.sessions.remove(&arg.cursor.session_id);
        Ok(caller.view.metadata(&entry, false))
    }
    .await;
    respond(result)
}

async fn download(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    const FUNCTION: &str = "files/download";
    let result = (|| {
        let (caller, arg): (Caller, DownloadArg) = prepare(
            &shared,
            &headers,
            query.as_deref(),
            FUNCTION,
            oauth::FILES_CONTENT_READ,
        )?;
        let target = target(FUNCTION, "path", &arg.path, Accepts::ReadPath)?;
        if malformed(&target) {
            return Err(DropboxError::endpoint(&["path", "malformed_path"]));
        }
        let mut state = shared.dropbox.lock();
        let account = state.account_mut(&caller.email);
        let entry = spot(account, &caller.view, &target)
            .entry
            .ok_or_else(|| DropboxError::endpoint(&["path", "not_found"]))?;
        let file = entry
            .file()
            .ok_or_else(|| DropboxError::endpoint(&["path", "not_file"]))?;
        let metadata = args::header_safe_json(&caller.view.metadata(&entry, false));
        Ok((file.content.clone(), metadata))
    })();
    match result {
        Ok((content, metadata)) => {
            let mut response = content.body().into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(content.len()));
            headers.insert(
                "dropbox-api-result",
                HeaderValue::from_str(&metadata).expect("escaped to ASCII"),
            );
            response
        }
        Err(e) => e.into_response(),
    }
}
