//! Uploads on `/upload/drive/v3/files[/{fileId}]` (POST creates, PATCH updates), per
//! Google's "Upload file data" guide:
//! - `uploadType=media`: the body is the content, its `Content-Type` the file's type;
//! - `uploadType=multipart`: `multipart/related`, a JSON metadata part then the media part;
//! - `uploadType=resumable`: the POST/PATCH carries the metadata (and
//!   `X-Upload-Content-Type`, `X-Upload-Content-Length`) and is answered 200 with the
//!   session URI in `Location`; the content then comes in `PUT`s to that URI with
//!   `Content-Range: bytes a-b/total` (`total` may be `*` until the last chunk), each chunk a
//!   multiple of 256 KiB but the last; an unfinished upload is answered `308 Resume
//!   Incomplete` with `Range: bytes=0-n` (no `Range` when nothing is stored);
//!   `Content-Range: bytes */total` with an empty body asks for the status; the last chunk
//!   is answered 201 (create) or 200 (update) with the file. A chunk that starts before the
//!   end of the stored bytes (a chunk resent after a lost answer) adds only what is new.
//!
//! Content is kept once: a session's chunks are appended to one buffer, which becomes the
//! file's `Bytes` without a copy; a multipart body's media part is a slice of the body.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Map, Value};

use super::fields::{Schema, Selection};
use super::files::{create_file, rendered, update_file, write, Media, Patch};
use super::{access, errors, json_object, new_id, respond, Access, Ctx, Op, Params};
use crate::google::GoogleError;
use crate::Shared;

/// Chunks but the last must be a multiple of this.
const CHUNK_GRANULARITY: usize = 256 * 1024;

/// A resumable upload under way (or finished: its answer is kept for status queries).
pub(crate) struct UploadSession {
    account: String,
    all_files: bool,
    /// The file to update; `None` creates one.
    file_id: Option<String>,
    metadata: Map<String, Value>,
    /// The initiating request's query (`fields`, `addParents`, …).
    query: Option<String>,
    media_type: Option<String>,
    total: Option<usize>,
    received: Vec<u8>,
    /// The file made or updated, once the last byte is in.
    done: Option<String>,
}

impl UploadSession {
    pub(crate) fn finished(&self) -> bool {
        self.done.is_some()
    }
}

pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    upload(&shared, &headers, raw, body, None)
}

pub(crate) async fn update(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    upload(&shared, &headers, raw, body, Some(id))
}

fn upload(
    shared: &Shared,
    headers: &HeaderMap,
    raw: Option<String>,
    body: Bytes,
    file_id: Option<String>,
) -> Response {
    let params = Params::parse(raw.as_deref());
    let header_text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let (metadata, media) = match params.get("uploadType") {
        Some("resumable") => return start_session(shared, headers, raw.clone(), &body, file_id),
        Some("media") => (
            Bytes::new(),
            Media {
                bytes: body,
                mime_type: header_text(header::CONTENT_TYPE),
            },
        ),
        Some("multipart") => match multipart(header_text(header::CONTENT_TYPE), body) {
            Ok(parts) => parts,
            Err(e) => return e.into_response(),
        },
        _ => return errors::invalid_value("uploadType").into_response(),
    };
    write(
        shared,
        headers,
        raw.as_deref(),
        file_id.as_deref(),
        &metadata,
        Some(media),
    )
}

/// A `multipart/related` body: the JSON metadata part, then the media part (its bytes a
/// slice of the body, not a copy; `Content-Transfer-Encoding: base64` is decoded).
fn multipart(content_type: Option<String>, body: Bytes) -> Result<(Bytes, Media), GoogleError> {
    let bad = |why: &str| errors::bad_request(format!("Malformed multipart body: {why}."));
    let content_type = content_type.unwrap_or_default();
    if !content_type
        .to_ascii_lowercase()
        .starts_with("multipart/related")
    {
        return Err(bad("the Content-Type must be multipart/related"));
    }
    let boundary = content_type
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
        .filter(|b| !b.is_empty())
        .ok_or_else(|| bad("no boundary"))?;
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut at = find(&body, &delimiter, 0).ok_or_else(|| bad("no opening boundary"))?;
    loop {
        at += delimiter.len();
        if body[at..].starts_with(b"--") {
            break;
        }
        let start = skip_newline(&body, at).ok_or_else(|| bad("no newline after a boundary"))?;
        let next = find(&body, &delimiter, start).ok_or_else(|| bad("no closing boundary"))?;
        // The part ends before the CRLF (or LF) that precedes the next boundary.
        let mut end = next;
        if end > start && body[end - 1] == b'\n' {
            end -= 1;
            if end > start && body[end - 1] == b'\r' {
                end -= 1;
            }
        }
        parts.push(part(&body, start, end).ok_or_else(|| bad("a part has no header end"))?);
        at = next;
    }
    let [(meta_headers, meta), (media_headers, media)] = <[_; 2]>::try_from(parts)
        .map_err(|_| bad("exactly two parts are expected: metadata, then media"))?;
    if !header_of(&meta_headers, "content-type").is_some_and(|t| t.contains("json")) {
        return Err(bad("the first part must be application/json metadata"));
    }
    let bytes = match header_of(&media_headers, "content-transfer-encoding") {
        Some(enc) if enc.eq_ignore_ascii_case("base64") => {
            let compact: Vec<u8> = media
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            Bytes::from(
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .map_err(|_| bad("the media part is not valid base64"))?,
            )
        }
        _ => media,
    };
    Ok((
        meta,
        Media {
            bytes,
            mime_type: header_of(&media_headers, "content-type"),
        },
    ))
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn skip_newline(body: &[u8], at: usize) -> Option<usize> {
    if body[at..].starts_with(b"\r\n") {
        Some(at + 2)
    } else if body[at..].starts_with(b"\n") {
        Some(at + 1)
    } else {
        None
    }
}

/// A part's headers (lower-cased names) and content.
fn part(body: &Bytes, start: usize, end: usize) -> Option<(Vec<(String, String)>, Bytes)> {
    let region = &body[start..end];
    let (head_len, sep) = match find(region, b"\r\n\r\n", 0) {
        Some(p) => (p, 4),
        None if region.starts_with(b"\r\n") => (0, 2),
        None => (find(region, b"\n\n", 0)?, 2),
    };
    let head = String::from_utf8_lossy(&region[..head_len]);
    let headers = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some((headers, body.slice(start + head_len + sep..end)))
}

fn header_of(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// Opens a resumable session: the metadata is checked now (as far as it can be before the
/// content is there), the session URI goes back in `Location`.
fn start_session(
    shared: &Shared,
    headers: &HeaderMap,
    query: Option<String>,
    body: &[u8],
    file_id: Option<String>,
) -> Response {
    let mut state = shared.google.lock();
    let result = (|| {
        let access = access(&state, headers, Op::Write)?;
        let metadata = json_object(body)?;
        Patch::parse(&metadata, file_id.is_none())?;
        let total = match headers.get("x-upload-content-length") {
            None => None,
            Some(v) => Some(
                v.to_str()
                    .ok()
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .ok_or_else(|| errors::bad_request("Invalid X-Upload-Content-Length."))?,
            ),
        };
        let media_type = headers
            .get("x-upload-content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let now = state.now();
        let drive = state.drive.of(&access.email, now);
        if let Some(id) = &file_id {
            drive.visible(id, &access)?;
        }
        let upload_id = new_id();
        let path = match &file_id {
            None => "/upload/drive/v3/files".to_string(),
            Some(id) => format!("/upload/drive/v3/files/{id}"),
        };
        let location = format!(
            "{}{path}?uploadType=resumable&upload_id={upload_id}",
            state.base_url
        );
        state.drive.sessions.insert(
            upload_id,
            UploadSession {
                account: access.email,
                all_files: access.all_files,
                file_id,
                metadata,
                query,
                media_type,
                // Reserve what was announced, within reason (a test's 50 MiB).
                received: Vec::with_capacity(total.unwrap_or(0).min(256 << 20)),
                total,
                done: None,
            },
        );
        Ok::<_, GoogleError>(location)
    })();
    match result {
        Ok(location) => {
            let mut response = StatusCode::OK.into_response();
            response.headers_mut().insert(
                header::LOCATION,
                HeaderValue::from_str(&location).expect("an ASCII URL"),
            );
            response
        }
        Err(e) => e.into_response(),
    }
}

/// `PUT` to a session URI (`…/files` or `…/files/{fileId}`): a chunk, the whole content,
/// or a status query.
pub(crate) async fn put_chunk(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    chunk(&shared, &headers, raw.as_deref(), body)
}

/// `Content-Range`: `bytes a-b/total`, `bytes */total`, with `*` for an unknown total.
#[allow(clippy::type_complexity)]
fn content_range(value: &str) -> Option<(Option<(usize, usize)>, Option<usize>)> {
    let (range, total) = value.trim().strip_prefix("bytes ")?.split_once('/')?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    let range = match range.trim() {
        "*" => None,
        r => {
            let (a, b) = r.split_once('-')?;
            Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
        }
    };
    Some((range, total))
}

fn chunk(shared: &Shared, headers: &HeaderMap, raw: Option<&str>, body: Bytes) -> Response {
    let params = Params::parse(raw);
    let Some(upload_id) = params.get("upload_id").map(str::to_string) else {
        return errors::required_parameter("upload_id").into_response();
    };
    let mut state = shared.google.lock();
    let Some(session) = state.drive.sessions.get_mut(&upload_id) else {
        return GoogleError::not_found().into_response();
    };
    if session.done.is_some() {
        return finished(&mut state, &upload_id);
    }
    let range = match headers.get(header::CONTENT_RANGE) {
        None => Some((Some((0, body.len().saturating_sub(1))), Some(body.len()))),
        Some(v) => v.to_str().ok().and_then(content_range),
    };
    let Some((range, total)) = range else {
        return errors::bad_request("Failed to parse Content-Range header.").into_response();
    };
    if let (Some(given), Some(known)) = (total, session.total) {
        if given != known {
            return errors::bad_request(format!(
                "The total size {given} differs from the size announced before ({known})."
            ))
            .into_response();
        }
    }
    if total.is_some() {
        session.total = total;
    }
    let received = session.received.len();
    match range {
        None if !body.is_empty() => {
            return errors::bad_request("A status query (bytes */N) carries no body.")
                .into_response()
        }
        None => {}
        Some((start, end)) => {
            let is_last = session.total.is_some_and(|t| end + 1 == t);
            let problem = if body.is_empty() && session.total == Some(0) {
                None
            } else if end < start || end - start + 1 != body.len() {
                Some("The Content-Range does not match the length of the body.".to_string())
            } else if session.total.is_some_and(|t| end >= t) {
                Some("The Content-Range goes past the total size.".to_string())
            } else if start > received {
                Some(format!(
                    "The chunk starts at byte {start}, but only {received} bytes are stored: query the status and resume from there."
                ))
            } else if !is_last && body.len() % CHUNK_GRANULARITY != 0 {
                Some(format!(
                    "Invalid request. The number of bytes uploaded is required to be a multiple of {CHUNK_GRANULARITY} bytes, except for the final request. The received request contained {} bytes.",
                    body.len()
                ))
            } else {
                None
            };
            if let Some(problem) = problem {
                return errors::bad_request(problem).into_response();
            }
            if end + 1 > received {
                session
                    .received
                    .extend_from_slice(&body[received - start..]);
            }
        }
    }
    if session.total == Some(session.received.len()) {
        return finish(&mut state, &upload_id);
    }
    let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
    if let Some(last) = session.received.len().checked_sub(1) {
        response.headers_mut().insert(
            header::RANGE,
            HeaderValue::from_str(&format!("bytes=0-{last}")).expect("ASCII"),
        );
    }
    response
}

/// The last byte is in: the file is made or updated (the buffer becomes its content
/// without a copy), and the session answers with it from now on.
fn finish(state: &mut crate::google::GoogleState, upload_id: &str) -> Response {
    let now = state.now();
    let drive_state = &mut state.drive;
    let session = drive_state.sessions.get_mut(upload_id).expect("checked");
    let bytes = Bytes::from(std::mem::take(&mut session.received));
    let params = Params::parse(session.query.as_deref());
    let ctx = Ctx {
        now,
        access: Access {
            email: session.account.clone(),
            all_files: session.all_files,
        },
    };
    let media = Media {
        bytes: bytes.clone(),
        mime_type: session.media_type.clone(),
    };
    let drive = drive_state
        .drives
        .get_mut(&session.account)
        .expect("made at the session's start");
    let result = match &session.file_id {
        None => create_file(drive, &ctx, &session.metadata, Some(media)),
        Some(id) => update_file(drive, &ctx, id, &params, &session.metadata, Some(media)),
    };
    match result {
        Ok(id) => {
            session.done = Some(id);
            finished(state, upload_id)
        }
        Err(e) => {
            // Kept, so the client can query and finish again once the cause is gone.
            session.received = Vec::from(bytes);
            e.into_response()
        }
    }
}

/// A finished session's answer: 201 with the new file, 200 with the updated one.
fn finished(state: &mut crate::google::GoogleState, upload_id: &str) -> Response {
    let session = &state.drive.sessions[upload_id];
    let params = Params::parse(session.query.as_deref());
    let status = if session.file_id.is_none() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let id = session.done.clone().expect("finished");
    let account = session.account.clone();
    let result = Selection::parse(params.get("fields"), Schema::File).and_then(|selection| {
        let drive = state.drive.drives.get(&account).expect("the session's");
        if !drive.files.contains_key(&id) {
            return Err(errors::file_not_found(&id));
        }
        Ok((status, rendered(drive, &id, &selection)))
    });
    respond(result)
}
