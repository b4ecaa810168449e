//! The whole email: the raw RFC 822 source of a tracked email (what Gmail's "Show original"
//! serves), received for the caller's own entry, kept whole and parsed.
//!
//! - **Received** ([`receive`]): the body, at most [`MAX_SOURCE_BYTES`] (the documents'
//!   50 MB rule plus room for headers and encoding), counted while it streams, held once
//!   in memory, its SHA-256 taken on the way.
//! - **Kept whole**: gzip-compressed (flate2, on a blocking thread, streamed chunk by chunk
//!   into the blob store: never a second whole copy in memory) as a content of the blob
//!   store, with the SHA-256 and size of the *raw* message beside it
//!   (`tracked_email_sources`, migration 0020), so that nothing is lost if parsing improves
//!   later, and so that the same source sent again is recognised: it changes nothing.
//! - **Parsed** ([`parse`]) with `mail-parser` (Stalwart Labs' parser, the one their mail
//!   server runs on): chosen over `mailparse` because it decodes what real mail holds
//!   without extra code — RFC 2047 encoded words and RFC 2231 parameters (non-ASCII file
//!   names), every charset of the WHATWG encoding list (Shift_JIS, ISO-2022-JP,
//!   windows-1252… with `full_encoding`), address lists with groups and display names, dates
//!   — it never panics on malformed input (it is fuzzed upstream), borrows from the input
//!   instead of copying, and tells bodies from attachments and inline parts the way mail
//!   clients do. `mailparse` leaves address parsing, the choice of body parts and several
//!   charsets to the caller. Version 0.11: 1.x needs a newer Rust than this workspace's.
//! - **What the entry holds** once parsed: the RFC `Message-ID` (also added to the entry's
//!   ids: see `tracking::add_own_ids`, so two users' entries of one email share an
//!   `email_id`), subject, From, To, Cc and the date replace what the page sent; the text
//!   body (every text part of the message's body, in order) and the HTML body (its first)
//!   replace the page's, cut at the entry's limits (`tracking::MAX_BODY_TEXT_BYTES`,
//!   `tracking::MAX_HTML_BODY_BYTES`); `source.text_bytes` and `source.html_bytes` say
//!   how long they are whole, and the stored source always has them whole. Every address
//!   header (From, Sender, Reply-To, To, Cc, Bcc), In-Reply-To and References are in
//!   `source.headers`.
//! - **Attachments**: every part that is not the body (inline images too, marked `inline`
//!   with their Content-ID; attached messages as `.eml`), in the message's order, each
//!   stored as a content of the blob store (its SHA-256 with it), its name decoded and made
//!   a valid document name (`threadline_domain::file_name::to_valid_name`). One over the
//!   documents' 50 MB rule is listed with its name and size and the reason, not stored. A
//!   text attachment is stored as the parser decoded it, in UTF-8 (its type then says
//!   `charset=utf-8`); other attachments byte for byte.
//! - **Unparsed**: a body that is not a message (no header at all, or none of From, Date,
//!   Message-ID and Subject) is still kept raw; the entry keeps what the page sent, and
//!   its `source` says `{"status": "unparsed", "reason": …}`.
//!
//! Everything in a message is hostile input: names and texts have their control and bidi
//! override characters removed, ids go through the one normaliser, nothing is put into SQL
//! or HTML but as a bound value or JSON. Visibility: a colleague sees `source` and
//! `attachments` (and may download one) only with the entry's content: when it is shared.

use std::collections::HashMap;
use std::io::Write;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders, PartType};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use threadline_domain::api::Party;
use threadline_storage::db::{self, id_text, parse_uuid, Conn, Db, Sql};
use uuid::Uuid;

use crate::actor::Actor;
use crate::documents::blobs::{hex, BlobStore, MAX_FILE_BYTES};
use crate::error::{CrmError, CrmResult, Reason};
use crate::ids::normalize_message_id;
use crate::records::tracked_emails::{parse_visibility, readable, TrackedEmailRecord};
use crate::records::{log_change, not_found, Kind, Record};
use crate::tracking::{
    truncate_bytes, MAX_BODY_TEXT_BYTES, MAX_HTML_BODY_BYTES, MAX_PARTIES, MAX_SUBJECT_CHARS,
};

/// Largest source accepted, in bytes: the documents' 50 MB rule plus 1 MiB of headers
/// (Gmail's own limit on a received message is 50 MB).
pub const MAX_SOURCE_BYTES: u64 = MAX_FILE_BYTES + 1024 * 1024;
/// Largest attachment stored, in bytes: the documents' rule.
pub const MAX_ATTACHMENT_BYTES: u64 = MAX_FILE_BYTES;
/// Most message ids kept from `In-Reply-To` and from `References`, each.
const MAX_REFERENCES: usize = 100;
/// Most attachments listed.
const MAX_ATTACHMENTS: usize = 500;
/// Longest address or display name kept, in characters.
const MAX_ADDRESS_CHARS: usize = 320;
/// Compressed chunks handed to the blob store.
const GZIP_CHUNK: usize = 256 * 1024;

/// Parsed or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceStatus {
    Parsed,
    Unparsed,
}

impl SourceStatus {
    fn as_str(self) -> &'static str {
        match self {
            SourceStatus::Parsed => "parsed",
            SourceStatus::Unparsed => "unparsed",
        }
    }
}

/// The message's identity and address headers, decoded (encoded words, display names).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SourceHeaders {
    /// The RFC `Message-ID`, without angle brackets.
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub from: Vec<Party>,
    pub sender: Vec<Party>,
    pub reply_to: Vec<Party>,
    pub to: Vec<Party>,
    pub cc: Vec<Party>,
    pub bcc: Vec<Party>,
    pub date: Option<DateTime<Utc>>,
    pub subject: Option<String>,
}

/// The raw source of a tracked email as its entry shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EmailSource {
    pub status: SourceStatus,
    /// Why it could not be parsed (only when `unparsed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// SHA-256 (hex) of the raw message as received.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    pub received_at: DateTime<Utc>,
    /// Empty when unparsed.
    pub headers: SourceHeaders,
    /// The whole text body's size in UTF-8 bytes (`body_text` may hold only its start).
    pub text_bytes: Option<u64>,
    /// The whole HTML body's size in UTF-8 bytes (`html_body` may hold only its start).
    pub html_bytes: Option<u64>,
}

/// One attachment of a parsed source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EmailAttachment {
    /// Its place in the message, from 0: `GET /tracked-emails/{id}/attachments/{index}`.
    pub index: u32,
    /// A valid document name.
    pub name: String,
    pub content_type: String,
    /// In bytes, as decoded.
    pub size: u64,
    /// SHA-256 (hex) of the stored content; absent when not stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Shown in the body (an inline image) rather than attached.
    pub inline: bool,
    /// Its Content-ID, without angle brackets (what `cid:` URLs of the HTML body name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_id: Option<String>,
    pub stored: bool,
    /// Why it was not stored (only when not stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What [`parse`] read from a message.
#[derive(Debug)]
pub struct Parsed {
    pub status: SourceStatus,
    pub reason: Option<String>,
    pub headers: SourceHeaders,
    pub text_body: Option<String>,
    pub html_body: Option<String>,
    pub attachments: Vec<ParsedAttachment>,
}

/// An attachment [`parse`] found; `content` is `None` when it is too large to store.
#[derive(Debug)]
pub struct ParsedAttachment {
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub inline: bool,
    pub content_id: Option<String>,
    pub content: Option<Vec<u8>>,
}

/// A received source: the raw bytes, their SHA-256 (hex) and size.
pub struct Received {
    pub raw: Bytes,
    pub sha256: String,
}

/// Reads an upload's body, at most [`MAX_SOURCE_BYTES`] (`payload_too_large` past it,
/// counted while it streams); an empty body is refused.
pub async fn receive<S, E>(stream: S) -> CrmResult<Received>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let mut stream = std::pin::pin!(stream);
    let mut raw: Vec<u8> = Vec::new();
    let mut hasher = Sha256::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            CrmError::new(
                Reason::BadInput,
                "invalid_body",
                format!("the message could not be read to its end: {e}"),
            )
        })?;
        if (raw.len() + chunk.len()) as u64 > MAX_SOURCE_BYTES {
            return Err(source_too_large());
        }
        hasher.update(&chunk);
        raw.extend_from_slice(&chunk);
    }
    if raw.is_empty() {
        return Err(CrmError::new(
            Reason::BadInput,
            "invalid_body",
            "the body is empty: send the message's raw RFC 822 source",
        ));
    }
    Ok(Received {
        raw: Bytes::from(raw),
        sha256: hex(&hasher.finalize()),
    })
}

/// The answer to a source over [`MAX_SOURCE_BYTES`].
pub fn source_too_large() -> CrmError {
    CrmError::new(
        Reason::TooLarge,
        "payload_too_large",
        format!(
            "the message is larger than {MAX_SOURCE_BYTES} bytes (50 MB and 1 MiB of headers), \
             the most a tracked email's source may be"
        ),
    )
}

/// A text from the message as stored: characters refused in every text (controls, bidi
/// overrides) become spaces, the ends are trimmed, at most `max` characters.
fn clean_text(s: &str, max: usize) -> String {
    s.chars()
        .map(|c| {
            if threadline_domain::text::is_refused(c) {
                ' '
            } else {
                c
            }
        })
        .take(max)
        .collect::<String>()
        .trim()
        .to_string()
}

fn parties(address: Option<&Address<'_>>, max: usize) -> Vec<Party> {
    let Some(address) = address else {
        return Vec::new();
    };
    address
        .iter()
        .filter_map(|a| {
            let email = clean_text(a.address()?, MAX_ADDRESS_CHARS);
            if email.is_empty() {
                return None;
            }
            let name = a
                .name()
                .map(|n| clean_text(n, MAX_ADDRESS_CHARS))
                .filter(|n| !n.is_empty());
            Some(Party {
                address: email,
                name,
            })
        })
        .take(max)
        .collect()
}

fn message_ids(value: &HeaderValue<'_>) -> Vec<String> {
    let raw: Vec<&str> = match value {
        HeaderValue::Text(t) => vec![t.as_ref()],
        HeaderValue::TextList(list) => list.iter().map(|t| t.as_ref()).collect(),
        _ => Vec::new(),
    };
    let mut out: Vec<String> = Vec::new();
    for id in raw.into_iter().filter_map(|r| normalize_message_id(r).ok()) {
        if !out.contains(&id) && out.len() < MAX_REFERENCES {
            out.push(id);
        }
    }
    out
}

/// `type/subtype` in lower case when both are tokens, else `application/octet-stream`.
fn mime_type(ctype: Option<&mail_parser::ContentType<'_>>, text: bool) -> String {
    let token = |s: &str| {
        !s.is_empty()
            && s.len() <= 127
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    let (main, sub) = match ctype {
        Some(ct) => (ct.ctype(), ct.subtype().unwrap_or("")),
        None if text => ("text", "plain"),
        None => ("application", "octet-stream"),
    };
    if !(token(main) && token(sub)) {
        return "application/octet-stream".into();
    }
    let t = format!("{}/{}", main.to_ascii_lowercase(), sub.to_ascii_lowercase());
    if text {
        format!("{t}; charset=utf-8")
    } else {
        t
    }
}

/// A name for an attachment that has none: `attachment-3.png`.
fn fallback_name(index: usize, content_type: &str) -> String {
    let sub = content_type
        .split(';')
        .next()
        .and_then(|t| t.split('/').nth(1))
        .unwrap_or("");
    let ext = match sub {
        "rfc822" => "eml",
        "plain" => "txt",
        "jpeg" => "jpg",
        s if !s.is_empty() && s.len() <= 8 && s.bytes().all(|b| b.is_ascii_alphanumeric()) => s,
        _ => "bin",
    };
    format!("attachment-{}.{ext}", index + 1)
}

/// Reads a raw message (pure; CPU-bound: run it on a blocking thread for large ones).
/// Attachments over `max_attachment_bytes` are listed without their content.
pub fn parse(raw: &[u8], max_attachment_bytes: u64) -> Parsed {
    let unparsed = |reason: &str| Parsed {
        status: SourceStatus::Unparsed,
        reason: Some(reason.to_string()),
        headers: SourceHeaders::default(),
        text_body: None,
        html_body: None,
        attachments: Vec::new(),
    };
    let Some(message) = MessageParser::default().parse(raw) else {
        return unparsed("no header could be read: this is not an RFC 822 message");
    };
    let headers = SourceHeaders {
        message_id: message
            .message_id()
            .and_then(|id| normalize_message_id(id).ok()),
        in_reply_to: message_ids(message.in_reply_to()),
        references: message_ids(message.references()),
        from: parties(message.from(), MAX_PARTIES),
        sender: parties(message.sender(), MAX_PARTIES),
        reply_to: parties(message.reply_to(), MAX_PARTIES),
        to: parties(message.to(), MAX_PARTIES),
        cc: parties(message.cc(), MAX_PARTIES),
        bcc: parties(message.bcc(), MAX_PARTIES),
        date: message
            .date()
            .and_then(|d| DateTime::<Utc>::from_timestamp(d.to_timestamp(), 0)),
        subject: message
            .subject()
            .map(|s| clean_text(s, MAX_SUBJECT_CHARS))
            .filter(|s| !s.is_empty()),
    };
    if headers.from.is_empty()
        && headers.date.is_none()
        && headers.message_id.is_none()
        && headers.subject.is_none()
    {
        return unparsed(
            "none of From, Date, Message-ID or Subject could be read: this is not an RFC 822 \
             message",
        );
    }
    let texts: Vec<String> = message
        .text_bodies()
        .filter_map(|p| match &p.body {
            PartType::Text(t) => Some(t.to_string()),
            _ => None,
        })
        .collect();
    let text_body = (!texts.is_empty()).then(|| texts.join("\n"));
    let html_body = message.html_bodies().find_map(|p| match &p.body {
        PartType::Html(h) => Some(h.to_string()),
        _ => None,
    });

    // Each attachment's description, then its content taken out of the parts (no copy when
    // the parser decoded it into a buffer of its own).
    let described: Vec<(usize, String, String, bool, Option<String>)> = message
        .attachments
        .iter()
        .take(MAX_ATTACHMENTS)
        .enumerate()
        .filter_map(|(i, &part_id)| {
            let part = message.parts.get(part_id as usize)?;
            let text = matches!(part.body, PartType::Text(_) | PartType::Html(_));
            let content_type = match part.body {
                PartType::Message(_) => "message/rfc822".to_string(),
                _ => mime_type(part.content_type(), text),
            };
            let name = match part.attachment_name() {
                Some(n) => threadline_domain::file_name::to_valid_name(
                    &clean_text(n, 1024),
                    &fallback_name(i, &content_type),
                ),
                None => fallback_name(i, &content_type),
            };
            let disposition = part.content_disposition();
            let content_id = part
                .content_id()
                .and_then(|id| normalize_message_id(id).ok());
            let inline = matches!(part.body, PartType::InlineBinary(_))
                || disposition.is_some_and(|d| d.is_inline())
                || (disposition.is_none() && content_id.is_some());
            Some((part_id as usize, name, content_type, inline, content_id))
        })
        .collect();
    let mut parts = message.parts;
    let attachments = described
        .into_iter()
        .map(|(part_id, name, content_type, inline, content_id)| {
            let content: Vec<u8> = match std::mem::take(&mut parts[part_id].body) {
                PartType::Text(t) | PartType::Html(t) => t.into_owned().into_bytes(),
                PartType::Binary(b) | PartType::InlineBinary(b) => b.into_owned(),
                PartType::Message(m) => m.raw_message.into_owned(),
                PartType::Multipart(_) => Vec::new(),
            };
            let size = content.len() as u64;
            ParsedAttachment {
                name,
                content_type,
                size,
                inline,
                content_id,
                content: (size <= max_attachment_bytes).then_some(content),
            }
        })
        .collect();
    Parsed {
        status: SourceStatus::Parsed,
        reason: None,
        headers,
        text_body,
        html_body,
        attachments,
    }
}

/// A `Write` that hands gzip output to the blob store's stream in chunks.
struct ChunkSender {
    buf: Vec<u8>,
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
}

impl ChunkSender {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(GZIP_CHUNK),
        ));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::other("the blob store stopped reading"))
    }
}

impl Write for ChunkSender {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= GZIP_CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// Stores `raw` gzip-compressed in the blob store, compressed on a blocking thread and
/// streamed into the store a chunk at a time.
async fn store_gzip(
    blobs: &BlobStore,
    raw: Bytes,
) -> CrmResult<crate::documents::blobs::StoredBlob> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    let compress = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let sink = ChunkSender {
            buf: Vec::with_capacity(GZIP_CHUNK),
            tx,
        };
        let mut gz = flate2::write::GzEncoder::new(sink, flate2::Compression::default());
        for chunk in raw.chunks(GZIP_CHUNK) {
            gz.write_all(chunk)?;
        }
        gz.finish()?.flush()
    });
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let stored = blobs.store_stream(stream).await;
    let compressed = compress
        .await
        .map_err(|e| CrmError::internal(format!("the compression stopped: {e}")))?;
    let stored = stored?;
    compressed.map_err(|e| CrmError::internal(format!("cannot compress the source: {e}")))?;
    Ok(stored)
}

/// What a source upload did: `PUT /tracked-emails/{id}/source`'s answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Attached {
    /// The entry, as stored now (another of the caller's entries when the source showed
    /// that the two are one email: the older one).
    pub tracked_email: TrackedEmailRecord,
    /// False when this very source was there already: nothing changed.
    pub changed: bool,
}

/// The caller's live entry `id`, else `not_found` (a colleague's entry, even a shared one,
/// is not theirs to complete).
pub async fn require_own_entry(conn: &mut Conn, auth: &Actor, id: Uuid) -> CrmResult<()> {
    let own: Option<String> = sqlx::query_scalar(
        "SELECT id FROM tracked_emails
         WHERE org_id = $1 AND id = $2 AND owner_user_id = $3 AND deleted_at IS NULL",
    )
    .bind(id_text(auth.org_id))
    .bind(id_text(id))
    .bind(id_text(auth.user_id))
    .fetch_optional(&mut *conn)
    .await?;
    match own {
        Some(_) => Ok(()),
        None => Err(not_found(Kind::TrackedEmail, id)),
    }
}

async fn stored_sha(conn: &mut Conn, auth: &Actor, id: Uuid) -> CrmResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT raw_sha256 FROM tracked_email_sources WHERE org_id = $1 AND tracked_email_id = $2",
    )
    .bind(id_text(auth.org_id))
    .bind(id_text(id))
    .fetch_optional(&mut *conn)
    .await?)
}

async fn load_entry(db: &Db, auth: &Actor, id: Uuid) -> CrmResult<TrackedEmailRecord> {
    let mut conn = db.pool().acquire().await?;
    TrackedEmailRecord::load(&mut conn, auth.org_id, &[id])
        .await?
        .pop()
        .ok_or_else(|| not_found(Kind::TrackedEmail, id))
}

/// Keeps `received` as the raw source of the caller's entry `id`: parsed, compressed and
/// stored, its attachments stored, the entry completed (see the module's doc). The same
/// source again changes nothing; a source whose `Message-ID` is not the entry's is refused
/// (`source_mismatch`).
pub async fn attach(
    db: &Db,
    blobs: &BlobStore,
    auth: &Actor,
    id: Uuid,
    received: Received,
) -> CrmResult<Attached> {
    {
        let mut conn = db.pool().acquire().await?;
        require_own_entry(&mut conn, auth, id).await?;
        if stored_sha(&mut conn, auth, id).await?.as_deref() == Some(received.sha256.as_str()) {
            drop(conn);
            return Ok(Attached {
                tracked_email: load_entry(db, auth, id).await?,
                changed: false,
            });
        }
    }
    let raw_size = received.raw.len() as u64;
    let raw = received.raw.clone();
    let parsed = tokio::task::spawn_blocking(move || parse(&raw, MAX_ATTACHMENT_BYTES))
        .await
        .map_err(|e| CrmError::internal(format!("the parser stopped: {e}")))?;
    let blob = store_gzip(blobs, received.raw).await?;
    let mut attachments: Vec<(ParsedAttachment, Option<String>)> = Vec::new();
    for mut a in parsed.attachments.into_iter() {
        let sha = match a.content.take() {
            Some(content) => {
                let content = Bytes::from(content);
                let chunks = (0..content.len())
                    .step_by(GZIP_CHUNK)
                    .map(move |at| {
                        Ok::<_, std::convert::Infallible>(
                            content.slice(at..(at + GZIP_CHUNK).min(content.len())),
                        )
                    })
                    .collect::<Vec<_>>();
                Some(
                    blobs
                        .store_stream(futures_util::stream::iter(chunks))
                        .await?
                        .sha256,
                )
            }
            None => None,
        };
        attachments.push((a, sha));
    }
    let parsed = Parsed {
        attachments: Vec::new(),
        ..parsed
    };
    let source = NewSource {
        raw_sha256: &received.sha256,
        raw_size,
        blob_sha256: &blob.sha256,
        blob_size: blob.size,
        parsed: &parsed,
        attachments: &attachments,
    };
    let outcome = db.write(|tx| Box::pin(save(tx, auth, id, &source))).await?;
    Ok(Attached {
        tracked_email: load_entry(db, auth, outcome.0).await?,
        changed: outcome.1,
    })
}

struct NewSource<'a> {
    raw_sha256: &'a str,
    raw_size: u64,
    blob_sha256: &'a str,
    blob_size: u64,
    parsed: &'a Parsed,
    attachments: &'a [(ParsedAttachment, Option<String>)],
}

fn to_json<T: Serialize>(value: &T) -> CrmResult<String> {
    serde_json::to_string(value).map_err(|e| CrmError::internal(format!("cannot serialise: {e}")))
}

fn i64_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The write: (the entry the source is now on, whether anything changed).
async fn save(
    conn: &mut Conn,
    auth: &Actor,
    id: Uuid,
    source: &NewSource<'_>,
) -> CrmResult<(Uuid, bool)> {
    require_own_entry(conn, auth, id).await?;
    if stored_sha(conn, auth, id).await?.as_deref() == Some(source.raw_sha256) {
        return Ok((id, false));
    }
    let parsed = source.parsed;
    let headers = &parsed.headers;
    // The entry's RFC id (from the page, or an earlier source) must be this message's.
    let current: Option<String> = sqlx::query_scalar(
        "SELECT rfc_message_id FROM tracked_emails WHERE org_id = $1 AND id = $2",
    )
    .bind(id_text(auth.org_id))
    .bind(id_text(id))
    .fetch_one(&mut *conn)
    .await?;
    if let (Some(current), Some(new)) = (&current, &headers.message_id) {
        if current != new {
            return Err(CrmError::new(
                Reason::Conflict,
                "source_mismatch",
                format!("this source is the message <{new}>, but the tracked email is <{current}>"),
            ));
        }
    }
    let entry = match &headers.message_id {
        Some(rfc) => {
            crate::tracking::add_own_ids(conn, auth, id, std::slice::from_ref(rfc)).await?
        }
        None => id,
    };
    let now = db::now();
    let status = parsed.status.as_str();
    let text_bytes = parsed.text_body.as_ref().map(|t| i64_of(t.len() as u64));
    let html_bytes = parsed.html_body.as_ref().map(|h| i64_of(h.len() as u64));
    sqlx::query("DELETE FROM tracked_email_sources WHERE tracked_email_id = $1")
        .bind(id_text(entry))
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM tracked_email_attachments WHERE tracked_email_id = $1")
        .bind(id_text(entry))
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO tracked_email_sources
           (tracked_email_id, org_id, raw_sha256, raw_size, blob_sha256, blob_size, status,
            reason, headers, text_bytes, html_bytes, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(id_text(entry))
    .bind(id_text(auth.org_id))
    .bind(source.raw_sha256)
    .bind(i64_of(source.raw_size))
    .bind(source.blob_sha256)
    .bind(i64_of(source.blob_size))
    .bind(status)
    .bind(&parsed.reason)
    .bind(to_json(headers)?)
    .bind(text_bytes)
    .bind(html_bytes)
    .bind(&now)
    .execute(&mut *conn)
    .await?;
    for (position, (a, sha)) in source.attachments.iter().enumerate() {
        let reason = sha.is_none().then(|| {
            format!(
                "{} bytes: larger than {MAX_ATTACHMENT_BYTES} bytes (50 MB), the most a document \
                 may be",
                a.size
            )
        });
        sqlx::query(
            "INSERT INTO tracked_email_attachments
               (tracked_email_id, position, name, content_type, size, sha256, inline, content_id,
                not_stored_reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id_text(entry))
        .bind(i64_of(position as u64))
        .bind(&a.name)
        .bind(&a.content_type)
        .bind(i64_of(a.size))
        .bind(sha)
        .bind(i64::from(a.inline))
        .bind(&a.content_id)
        .bind(reason)
        .execute(&mut *conn)
        .await?;
    }
    let version: i64 = if parsed.status == SourceStatus::Parsed {
        let from = headers.from.first();
        sqlx::query_scalar(
            "UPDATE tracked_emails SET
               version = version + 1, updated_at = $1,
               subject = COALESCE($2, subject),
               from_party = CASE WHEN $3 = 'null' THEN from_party ELSE $3 END,
               to_parties = $4, cc_parties = $5,
               sent_at = COALESCE($6, sent_at),
               body_text = COALESCE($7, body_text),
               html_body = COALESCE($8, html_body),
               rfc_message_id = COALESCE(rfc_message_id, $9)
             WHERE org_id = $10 AND id = $11 AND owner_user_id = $12
             RETURNING version",
        )
        .bind(&now)
        .bind(&headers.subject)
        .bind(to_json(&from)?)
        .bind(to_json(&headers.to)?)
        .bind(to_json(&headers.cc)?)
        .bind(headers.date.map(db::format_time))
        .bind(
            parsed
                .text_body
                .as_deref()
                .map(|t| truncate_bytes(t, MAX_BODY_TEXT_BYTES)),
        )
        .bind(
            parsed
                .html_body
                .as_deref()
                .filter(|h| !h.trim().is_empty())
                .map(|h| truncate_bytes(h, MAX_HTML_BODY_BYTES)),
        )
        .bind(&headers.message_id)
        .bind(id_text(auth.org_id))
        .bind(id_text(entry))
        .bind(id_text(auth.user_id))
        .fetch_one(&mut *conn)
        .await?
    } else {
        sqlx::query_scalar(
            "UPDATE tracked_emails SET version = version + 1, updated_at = $1
             WHERE org_id = $2 AND id = $3 AND owner_user_id = $4 RETURNING version",
        )
        .bind(&now)
        .bind(id_text(auth.org_id))
        .bind(id_text(entry))
        .bind(id_text(auth.user_id))
        .fetch_one(&mut *conn)
        .await?
    };
    log_change(
        conn,
        auth.org_id,
        Kind::TrackedEmail,
        entry,
        version,
        false,
        &now,
    )
    .await?;
    Ok((entry, true))
}

#[derive(sqlx::FromRow)]
struct SourceRow {
    tracked_email_id: String,
    raw_sha256: String,
    raw_size: i64,
    status: String,
    reason: Option<String>,
    headers: String,
    text_bytes: Option<i64>,
    html_bytes: Option<i64>,
    received_at: String,
}

#[derive(sqlx::FromRow)]
struct AttachmentRow {
    tracked_email_id: String,
    position: i64,
    name: String,
    content_type: String,
    size: i64,
    sha256: Option<String>,
    inline: i64,
    content_id: Option<String>,
    not_stored_reason: Option<String>,
}

fn u64_of(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn attachment_of(r: AttachmentRow) -> EmailAttachment {
    EmailAttachment {
        index: u32::try_from(r.position).unwrap_or(u32::MAX),
        name: r.name,
        content_type: r.content_type,
        size: u64_of(r.size),
        stored: r.sha256.is_some(),
        sha256: r.sha256,
        inline: r.inline != 0,
        content_id: r.content_id,
        reason: r.not_stored_reason,
    }
}

/// The sources and attachments of the entries `ids` (of `org`), for loading them.
pub async fn load_for(
    conn: &mut Conn,
    org: Uuid,
    ids: &[Uuid],
) -> CrmResult<HashMap<Uuid, (Option<EmailSource>, Vec<EmailAttachment>)>> {
    let mut out: HashMap<Uuid, (Option<EmailSource>, Vec<EmailAttachment>)> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let mut sql = Sql::new(
        "SELECT tracked_email_id, raw_sha256, raw_size, status, reason, headers, text_bytes, \
         html_bytes, received_at FROM tracked_email_sources WHERE org_id = ",
    );
    sql.push_bind(id_text(org))
        .push(" AND tracked_email_id IN ")
        .push_list(ids.iter().map(|id| id_text(*id)));
    let rows: Vec<SourceRow> = sql.build_query_as().fetch_all(&mut *conn).await?;
    for r in rows {
        let status = match r.status.as_str() {
            "parsed" => SourceStatus::Parsed,
            _ => SourceStatus::Unparsed,
        };
        let headers: SourceHeaders = serde_json::from_str(&r.headers)
            .map_err(|e| CrmError::internal(format!("bad source headers in the database: {e}")))?;
        let source = EmailSource {
            status,
            reason: r.reason,
            sha256: r.raw_sha256,
            size: u64_of(r.raw_size),
            received_at: db::parse_time(&r.received_at)?,
            headers,
            text_bytes: r.text_bytes.map(u64_of),
            html_bytes: r.html_bytes.map(u64_of),
        };
        out.entry(parse_uuid(&r.tracked_email_id)?).or_default().0 = Some(source);
    }
    let mut sql = Sql::new(
        "SELECT a.tracked_email_id, a.position, a.name, a.content_type, a.size, a.sha256, \
         a.inline, a.content_id, a.not_stored_reason FROM tracked_email_attachments a \
         JOIN tracked_emails t ON t.id = a.tracked_email_id WHERE t.org_id = ",
    );
    sql.push_bind(id_text(org))
        .push(" AND a.tracked_email_id IN ")
        .push_list(ids.iter().map(|id| id_text(*id)))
        .push(" ORDER BY a.tracked_email_id, a.position");
    let rows: Vec<AttachmentRow> = sql.build_query_as().fetch_all(&mut *conn).await?;
    for r in rows {
        let id = parse_uuid(&r.tracked_email_id)?;
        out.entry(id).or_default().1.push(attachment_of(r));
    }
    Ok(out)
}

/// Attachment `index` of the entry `id` for `viewer`: `not_found` unless the entry is
/// live and `viewer` may read its content (their own, or shared), and it has that
/// attachment; `attachment_not_stored` (conflict) when it was too large to keep.
pub async fn attachment(
    conn: &mut Conn,
    viewer: &Actor,
    id: Uuid,
    index: u32,
) -> CrmResult<EmailAttachment> {
    let entry: Option<(String, String)> = sqlx::query_as(
        "SELECT owner_user_id, visibility FROM tracked_emails
         WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL",
    )
    .bind(id_text(viewer.org_id))
    .bind(id_text(id))
    .fetch_optional(&mut *conn)
    .await?;
    let Some((owner, visibility)) = entry else {
        return Err(not_found(Kind::TrackedEmail, id));
    };
    if !readable(
        parse_visibility(&visibility)?,
        parse_uuid(&owner)?,
        viewer.user_id,
    ) {
        return Err(not_found(Kind::TrackedEmail, id));
    }
    let row: Option<AttachmentRow> = sqlx::query_as(
        "SELECT tracked_email_id, position, name, content_type, size, sha256, inline, content_id, \
         not_stored_reason FROM tracked_email_attachments
         WHERE tracked_email_id = $1 AND position = $2",
    )
    .bind(id_text(id))
    .bind(i64::from(index))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Err(CrmError::new(
            Reason::NotFound,
            "not_found",
            format!("the tracked email {id} has no attachment {index}"),
        ));
    };
    let attachment = attachment_of(row);
    if !attachment.stored {
        return Err(CrmError::new(
            Reason::Conflict,
            "attachment_not_stored",
            format!(
                "the attachment {index} was not stored: {}",
                attachment.reason.as_deref().unwrap_or("too large")
            ),
        ));
    }
    Ok(attachment)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = "Message-ID: <a@b>\r\nFrom: A <a@b.example>\r\nSubject: x\r\n\
        MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
        Content-Type: text/plain\r\n\r\nbody\r\n--b\r\nContent-Type: application/zip\r\n\
        Content-Disposition: attachment; filename=\"big.zip\"\r\n\
        Content-Transfer-Encoding: base64\r\n\r\nAAAAAAAAAAAA\r\n--b--\r\n";

    #[test]
    fn an_attachment_over_the_limit_is_listed_without_its_content() {
        let parsed = parse(SMALL.as_bytes(), 8);
        assert_eq!(parsed.status, SourceStatus::Parsed);
        let [big] = &parsed.attachments[..] else {
            panic!("{:?}", parsed.attachments)
        };
        assert_eq!((big.name.as_str(), big.size), ("big.zip", 9));
        assert!(big.content.is_none());
        let parsed = parse(SMALL.as_bytes(), 9);
        assert_eq!(
            parsed.attachments[0].content.as_deref(),
            Some(&[0u8; 9][..])
        );
    }

    #[test]
    fn what_is_not_a_message_is_unparsed() {
        for raw in [
            &b"<!DOCTYPE html>\r\n<html><body>502</body></html>\r\n"[..],
            &b"\r\n\r\njust a body"[..],
            &[0u8, 159, 146, 150, 255, 0, 1][..],
            &b"X-Nothing: useful\r\n\r\nbody"[..],
        ] {
            let parsed = parse(raw, MAX_ATTACHMENT_BYTES);
            assert_eq!(parsed.status, SourceStatus::Unparsed, "{raw:?}");
            assert!(parsed.reason.is_some() && parsed.attachments.is_empty());
        }
    }

    #[test]
    fn hostile_headers_are_cleaned() {
        let raw = "Message-ID: <x y@z>\r\nFrom: =?UTF-8?Q?Evil=E2=80=AE=0Aname?= <e@x.example>\r\n\
            Subject: =?UTF-8?Q?a=1B[31mb?=\r\n\r\nhi";
        let parsed = parse(raw.as_bytes(), MAX_ATTACHMENT_BYTES);
        assert_eq!(
            parsed.headers.message_id, None,
            "an id with a space is no id"
        );
        assert_eq!(parsed.headers.from[0].name.as_deref(), Some("Evil  name"));
        assert_eq!(parsed.headers.subject.as_deref(), Some("a [31mb"));
    }

    #[test]
    fn attachment_names_and_types_have_fallbacks() {
        assert_eq!(fallback_name(0, "image/png"), "attachment-1.png");
        assert_eq!(fallback_name(2, "message/rfc822"), "attachment-3.eml");
        assert_eq!(
            fallback_name(1, "application/x-what\"ever"),
            "attachment-2.bin"
        );
        assert_eq!(mime_type(None, false), "application/octet-stream");
        assert_eq!(mime_type(None, true), "text/plain; charset=utf-8");
    }
}
