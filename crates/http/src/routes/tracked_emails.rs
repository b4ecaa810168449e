//! Tracked emails: putting an email on contacts' (and their companies') timelines.
//!
//! - `POST /api/v1/tracked-emails` ([`TrackEmailRequest`]): 201 `{created: true}` for a new
//!   entry of the caller's, 200 `{created: false}` with the caller's existing entry when
//!   they already tracked any of the email's ids. Tracking again adds the ids and links
//!   that are missing; it never removes any. Two of the caller's entries that turn out to
//!   be the same email are merged into the older one (the newer goes to the trash). A
//!   colleague's entry of the same email is never read or written: each user has their
//!   own (see `threadline_crm::tracking`).
//! - `POST /api/v1/tracked-emails/state` ([`TrackedStateRequest`]): the tracked entry and the
//!   tasks of each message on the page, in a fixed number of queries.
//!
//! - `PUT /api/v1/tracked-emails/{id}/source` (`message/rfc822`): the email's raw source
//!   for the caller's own entry, kept whole and parsed (`threadline_crm::email_source`);
//!   `GET /api/v1/tracked-emails/{id}/attachments/{index}`: one of its attachments, to
//!   those who may read the entry.
//!
//! - `PUT` / `DELETE /api/v1/tracked-emails/{id}/links/{record_kind}/{record_id}`: the
//!   owner puts their entry on a contact's or a company's timeline, or takes it off.
//!
//! The write itself is the CRM model's ([`threadline_crm::tracking`]): one transaction,
//! retried when it loses a race; its limits (bodies and subjects truncated, never refused)
//! are there too. The request as a whole is limited to 1 MiB.

use std::collections::{BTreeSet, HashMap};

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, put};
use serde::Deserialize;
use threadline_domain::api::{
    MessageState, RecordKind, TrackEmailRequest, TrackEmailResponse, TrackedEmail,
    TrackedStateRequest, TrackedStateResponse, MAX_STATE_MESSAGES,
};
use utoipa::openapi::path::HttpMethod;
use utoipa::openapi::{ObjectBuilder, Type};
use utoipa::PartialSchema;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::ids::{self, MAX_IDS_PER_MESSAGE};
use crate::openapi::{uuid_schema, ApiRouter, Op};
use crate::records::tracked_emails::{
    self, expect_owner, TrackedEmailRecord, TrackedEmailView, VisibilityInput,
};
use crate::records::{soft_delete, Kind};
use crate::routes::records::{
    self as records_http, path_id, query, Page, DEFAULT_LIMIT, MAX_LIMIT,
};
use crate::routes::records::{etag, if_match};
use crate::state::AppState;
use crate::store;
use crate::validate;
use threadline_crm::documents::blobs::BlobStore;
use threadline_crm::email_source::{self, EmailAttachment, MAX_SOURCE_BYTES};
use threadline_crm::tracking::{
    self,
    links::{self, LinkChange, LinkRequest},
};

pub use threadline_crm::tracking::{
    MAX_BODY_TEXT_BYTES, MAX_CONTACTS_PER_EMAIL, MAX_HTML_BODY_BYTES, MAX_PARTIES,
    MAX_SUBJECT_CHARS,
};

pub fn router() -> ApiRouter {
    let tag = "tracked-emails";
    let id = |op: Op| op.path_id("id", "The tracked email's id.");
    let track = Op::new(tag, "track_email", "Track an email")
        .description(
            "Puts the email on the timelines of the contacts given (and of their companies), \
             as the caller's own entry. Idempotent: an email is known by any of its ids; \
             tracking it again adds the ids and links that are missing and answers the \
             caller's existing entry (200). Colleagues who track the same email have entries \
             of their own, with the same `email_id`; nobody's tracking changes another \
             user's entry.",
        )
        .json_body::<TrackEmailRequest>("The email and the contacts.")
        .json::<TrackEmailResponse>("201", "Tracked now.")
        .json::<TrackEmailResponse>("200", "Already tracked: the existing entry.");
    let list = Op::new(tag, "list_tracked_emails", "A timeline")
        .description(
            "A contact's or a company's timeline (or, without `record_kind`/`record_id`, every \
             tracked email of the organisation), newest first. One entry per email: the \
             caller's own, else a colleague's shared one, else a colleague's private one, \
             redacted.",
        )
        .query(
            "record_kind",
            "`contact` or `company` (with `record_id`).",
            String::schema(),
        )
        .query(
            "record_id",
            "The record's id (with `record_kind`).",
            uuid_schema(),
        )
        .paginated()
        .include_deleted()
        .page_of::<TrackedEmailView>("A page.")
        .bad_query()
        .not_found("contact or company");
    let state = Op::new(tag, "tracked_state", "Tracked state of messages")
        .description(&format!(
            "For each message (at most {MAX_STATE_MESSAGES}), by any of its ids: its tracked \
             entry and the tasks made from it."
        ))
        .json_body::<TrackedStateRequest>("The messages on the page.")
        .json::<TrackedStateResponse>("200", "In request order.");
    let get_one = id(Op::new(tag, "get_tracked_email", "Get a tracked email"))
        .include_deleted()
        .header(
            "If-None-Match",
            false,
            "An ETag: 304 when it is still at that version.",
        )
        .json_with_etag::<TrackedEmailView>(
            "200",
            "The email, redacted for users other than its owner when private.",
        )
        .empty("304", "Not modified since the If-None-Match version.", true)
        .not_found("tracked email")
        .bad_query();
    let patch_op = id(Op::new(
        tag,
        "patch_tracked_email",
        "Change a tracked email's visibility",
    ))
    .description("Its owner only (403 for the others).")
    .if_match()
    .json_body::<VisibilityInput>("The new visibility.")
    .json_with_etag::<TrackedEmailView>("200", "The email as stored.")
    .error("403", "Only the owner may change it (`forbidden`).")
    .not_found("tracked email");
    let delete_op = id(Op::new(
        tag,
        "delete_tracked_email",
        "Delete a tracked email",
    ))
    .description("Its owner only (403 for the others). Soft: tracking it again brings it back.")
    .if_match()
    .empty("204", "Deleted; the ETag is the tombstone's version.", true)
    .error("403", "Only the owner may delete it (`forbidden`).")
    .not_found("tracked email");
    let source_op = id(Op::new(
        tag,
        "put_tracked_email_source",
        "Send a tracked email's raw source",
    ))
    .description(&format!(
        "The whole message as Gmail's \"Show original\" serves it (RFC 822), for the caller's \
         own entry (404 for any other). At most {MAX_SOURCE_BYTES} bytes, streamed. Kept \
         whole (gzip) and parsed: the RFC Message-ID joins the entry's ids (so colleagues' \
         entries of the same email share its `email_id`), the headers, bodies and date \
         complete the entry, and every attachment is stored (one over 50 MB is listed, not \
         stored). A message that cannot be parsed is still kept: the entry keeps what the \
         page sent and `source.status` is `unparsed`, with a `reason`. Idempotent: the same \
         source again changes nothing (`changed: false`)."
    ))
    .body(
        // Raw bytes, whatever the request's Content-Type says (`message/rfc822` is apt):
        // documented as octet-stream so that generic clients can send it.
        "application/octet-stream",
        "The raw message (RFC 822 / 5322), as `message/rfc822` or any bytes type.",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .content_media_type("message/rfc822"),
    )
    .json::<email_source::Attached>("200", "The entry as stored now.")
    .error(
        "409",
        "The source is another message than the tracked email (`source_mismatch`).",
    )
    .error(
        "413",
        "The message is over the size limit (`payload_too_large`); nothing was kept.",
    )
    .not_found("tracked email of the caller's");
    let attachment_op = id(Op::new(
        tag,
        "download_tracked_email_attachment",
        "Download an attachment of a tracked email",
    ))
    .description(
        "Attachment `index` of the entry's `attachments`, with its type and file name. Only \
         to those who may read the entry's content: its owner, or everyone when it is shared.",
    )
    .path_param(
        "index",
        "The attachment's `index`.",
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0)),
    )
    .content(
        "200",
        "The attachment, streamed.",
        "application/octet-stream",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .content_media_type("application/octet-stream"),
    )
    .error(
        "409",
        "The attachment was too large to keep (`attachment_not_stored`).",
    )
    .not_found("tracked email the caller may read, or attachment");
    let link = |method: &str, summary: &str, description: &str| {
        id(Op::new(
            tag,
            &format!("{method}_tracked_email_link"),
            summary,
        ))
        .description(description)
        .path_param(
            "record_kind",
            "`contact` or `company`: whose timeline.",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["contact", "company"])),
        )
        .path_param("record_id", "The contact's or company's id.", uuid_schema())
        .header(
            "If-Match",
            false,
            "Optional: the ETag of the entry's version the change is made from (412 when \
                 stale). Links are a set, so it may be left out.",
        )
        .json_with_etag::<TrackedEmailView>("200", "The entry as stored now.")
        .error(
            "400",
            "If-Match is not an ETag as the server answered it (`invalid_header`).",
        )
        .error(
            "403",
            "Only the user who tracked it may change its records (`forbidden`).",
        )
        .error(
            "412",
            "If-Match names another version than the current one (`precondition_failed`).",
        )
        .not_found("tracked email")
    };
    let add_link = link(
        "put",
        "Put a tracked email on a timeline",
        "Adds the caller's own entry to the timeline of a contact or a company: exactly that \
         record (a contact's company is not added with it). Idempotent: a link that is there \
         already changes nothing, and the version stays.",
    )
    .error(
        "422",
        "There is no such live contact or company (`not_found`, field `record_id`).",
    );
    let remove_link = link(
        "delete",
        "Take a tracked email off a timeline",
        "Removes the caller's own entry from the timeline of a contact or a company. \
         Idempotent: a link that is not there changes nothing.",
    );
    ApiRouter::new()
        .routes(track.route("/tracked-emails", HttpMethod::Post, post(track_email)))
        .routes(add_link.route(
            "/tracked-emails/{id}/links/{record_kind}/{record_id}",
            HttpMethod::Put,
            put(put_link),
        ))
        .routes(remove_link.route(
            "/tracked-emails/{id}/links/{record_kind}/{record_id}",
            HttpMethod::Delete,
            delete(delete_link),
        ))
        .routes(source_op.route(
            "/tracked-emails/{id}/source",
            HttpMethod::Put,
            // Counted against MAX_SOURCE_BYTES while it streams, not against the 1 MiB limit
            // of JSON bodies.
            put(put_source).layer::<_, std::convert::Infallible>(DefaultBodyLimit::disable()),
        ))
        .routes(attachment_op.route(
            "/tracked-emails/{id}/attachments/{index}",
            HttpMethod::Get,
            get(download_attachment),
        ))
        .routes(list.route("/tracked-emails", HttpMethod::Get, get(timeline)))
        .routes(state.route(
            "/tracked-emails/state",
            HttpMethod::Post,
            post(tracked_state),
        ))
        .routes(get_one.route(
            "/tracked-emails/{id}",
            HttpMethod::Get,
            get(records_http::get::<TrackedEmailRecord>),
        ))
        .routes(patch_op.route(
            "/tracked-emails/{id}",
            HttpMethod::Patch,
            patch(records_http::patch::<TrackedEmailRecord>),
        ))
        .routes(delete_op.route(
            "/tracked-emails/{id}",
            HttpMethod::Delete,
            delete(delete_email),
        ))
}

async fn track_email(
    auth: AuthUser,
    State(state): State<AppState>,
    Json(req): Json<TrackEmailRequest>,
) -> ApiResult<(StatusCode, Json<TrackEmailResponse>)> {
    let input = tracking::validate(req)?;
    let mut response = tracking::track(state.db(), &auth, &input).await?;
    with_web_url(&state, &mut response.tracked_email);
    let status = if response.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(response)))
}

async fn tracked_state(
    auth: AuthUser,
    State(state): State<AppState>,
    Json(req): Json<TrackedStateRequest>,
) -> ApiResult<Json<TrackedStateResponse>> {
    validate::max_items("messages", &req.messages, MAX_STATE_MESSAGES)?;
    let mut messages: Vec<Vec<String>> = Vec::with_capacity(req.messages.len());
    for (i, m) in req.messages.iter().enumerate() {
        let field = format!("messages[{i}].ids");
        validate::max_items(&field, &m.ids, MAX_IDS_PER_MESSAGE)?;
        messages.push(ids::normalize_list(
            &field,
            m.ids.iter().map(String::as_str),
        )?);
    }
    let all_ids: Vec<String> = messages
        .iter()
        .flatten()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();

    // A read transaction: one consistent snapshot for the batch.
    let mut tx = state.db().begin_read().await?;
    let shown =
        tracked_emails::shown_entries(&mut tx, auth.org_id, auth.user_id, &messages).await?;
    let email_ids: Vec<Uuid> = shown
        .iter()
        .flatten()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut emails = store::tracked_emails_by_id(&mut tx, auth.org_id, &email_ids).await?;
    // Every id of each entry (before what the caller may not see is dropped), for its tasks.
    let full_ids: HashMap<Uuid, Vec<String>> = emails
        .iter()
        .map(|(id, e)| (*id, e.message_ids.clone()))
        .collect();
    // Tasks made from any id of the message, including the ids only the server knows.
    let task_sources: BTreeSet<String> = all_ids
        .iter()
        .cloned()
        .chain(emails.values().flat_map(|e| e.message_ids.iter().cloned()))
        .collect();
    let task_sources: Vec<String> = task_sources.into_iter().collect();
    let tasks = store::tasks_by_source(&mut tx, auth.org_id, &task_sources).await?;
    tracked_emails::visible_to(&mut tx, auth.org_id, auth.user_id, &mut emails).await?;
    tx.commit().await?;

    let mut tasks_by_source: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, task) in tasks.iter().enumerate() {
        if let Some(source) = &task.source_message_id {
            tasks_by_source.entry(source.as_str()).or_default().push(i);
        }
    }
    let states = messages
        .iter()
        .zip(&shown)
        .map(|(ids, email_id)| {
            let email_id = email_id.as_ref();
            let mut tracked_email = email_id.and_then(|e| emails.get(e)).cloned();
            if let Some(email) = &mut tracked_email {
                with_web_url(&state, email);
            }
            let mut known: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
            if let Some(all) = email_id.and_then(|e| full_ids.get(e)) {
                known.extend(all.iter().map(String::as_str));
            }
            let mut task_indexes: Vec<usize> = known
                .iter()
                .filter_map(|id| tasks_by_source.get(id))
                .flatten()
                .copied()
                .collect();
            task_indexes.sort_unstable();
            task_indexes.dedup();
            MessageState {
                tracked_email,
                tasks: task_indexes.into_iter().map(|i| tasks[i].clone()).collect(),
            }
        })
        .collect();
    Ok(Json(TrackedStateResponse { messages: states }))
}

/// Its page in the web app, when the server knows where people reach it.
fn with_web_url(state: &AppState, email: &mut TrackedEmail) {
    email.web_url = state.public_url().map(|u| u.email_page(email.id));
}

/// `GET /tracked-emails?record_kind=&record_id=&limit=&cursor=&include_deleted=`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimelineQuery {
    record_kind: Option<String>,
    record_id: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
    #[serde(default)]
    include_deleted: bool,
}

fn bad_query(field: &str, message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message).with_field(field)
}

/// A record's timeline (or, without `record_kind`/`record_id`, every tracked email of the
/// organisation): the CRM model's `tracked_emails::timeline`; private emails of other users
/// are shown redacted.
async fn timeline(
    auth: AuthUser,
    State(state): State<AppState>,
    params: Result<Query<TimelineQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Page>> {
    let params = query(params)?;
    let limit = match params.limit {
        None => DEFAULT_LIMIT,
        Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            return Err(bad_query(
                "limit",
                format!("limit must be 1 to {MAX_LIMIT}"),
            ))
        }
    };
    let record = match (&params.record_kind, &params.record_id) {
        (None, None) => None,
        (Some(kind), Some(id)) => {
            let kind = match Kind::parse(kind) {
                Some(k @ (Kind::Contact | Kind::Company)) => k,
                _ => {
                    return Err(bad_query(
                        "record_kind",
                        format!("{kind:?}: emails are on the timelines of a contact or a company"),
                    ))
                }
            };
            Some((kind, path_id(kind, id)?))
        }
        (None, Some(_)) => {
            return Err(bad_query(
                "record_kind",
                "record_id needs record_kind".into(),
            ))
        }
        (Some(_), None) => {
            return Err(bad_query("record_id", "record_kind needs record_id".into()))
        }
    };
    let mut tx = state.db().begin_read().await?;
    let page = tracked_emails::timeline(
        &mut tx,
        &auth,
        record,
        params.cursor.as_deref(),
        params.include_deleted,
        limit,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(Page {
        items: page
            .entries
            .into_iter()
            .map(|r| crate::routes::records::Record::shown_to(r, &auth))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

async fn put_link(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(path): Path<(String, String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    change_link(auth, state, path, headers, LinkChange::Add).await
}

async fn delete_link(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(path): Path<(String, String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    change_link(auth, state, path, headers, LinkChange::Remove).await
}

/// `PUT`/`DELETE /tracked-emails/{id}/links/{record_kind}/{record_id}`: the CRM model's
/// [`links::change_link`]. A path that names no timeline (a kind other than `contact` or
/// `company`, an id that is not one) is 404.
async fn change_link(
    auth: AuthUser,
    state: AppState,
    (raw, kind, record): (String, String, String),
    headers: HeaderMap,
    change: LinkChange,
) -> ApiResult<Response> {
    let id = path_id(Kind::TrackedEmail, &raw)?;
    let (kind, record_kind) = match kind.as_str() {
        "contact" => (Kind::Contact, RecordKind::Contact),
        "company" => (Kind::Company, RecordKind::Company),
        _ => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{kind:?}: emails are on the timelines of a contact or a company"),
            )
            .with_field("record_kind"))
        }
    };
    let record_id = path_id(kind, &record)?;
    let expected_version = match headers.contains_key(header::IF_MATCH) {
        true => Some(if_match(&headers)?),
        false => None,
    };
    let request = LinkRequest {
        entry: id,
        kind: record_kind,
        record_id,
        change,
        expected_version,
    };
    let entry = links::change_link(state.db(), &auth, request).await?;
    Ok(records_http::answer(&auth, StatusCode::OK, entry))
}

/// `DELETE /tracked-emails/{id}` with `If-Match`: the owner only (403 for the others);
/// soft. Tracking the email again brings it back (the CRM model's `tracking`).
async fn delete_email(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = path_id(Kind::TrackedEmail, &raw)?;
    let expected_version = if_match(&headers)?;
    let auth = &auth;
    let version = state
        .db()
        .write(|tx| {
            Box::pin(async move {
                crate::records::expect_version(
                    tx,
                    Kind::TrackedEmail,
                    auth.org_id,
                    id,
                    expected_version,
                )
                .await?;
                expect_owner(tx, auth, id, "delete").await?;
                soft_delete(tx, Kind::TrackedEmail, auth.org_id, id, expected_version).await
            })
        })
        .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::ETAG, etag(version));
    Ok(response)
}

/// `PUT /tracked-emails/{id}/source`: the caller's own entry only (404 otherwise, checked
/// before the body is read); the body streams in, at most [`MAX_SOURCE_BYTES`] (a declared
/// larger `Content-Length` is refused at once).
async fn put_source(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<email_source::Attached>> {
    let id = path_id(Kind::TrackedEmail, &raw)?;
    let declared = crate::routes::documents::declared_length(&headers);
    if declared.is_some_and(|n| n > MAX_SOURCE_BYTES) {
        return Err(email_source::source_too_large().into());
    }
    {
        let mut conn = state.db().pool().acquire().await?;
        email_source::require_own_entry(&mut conn, &auth, id).await?;
    }
    let blobs = state.blobs()?;
    let received = email_source::receive(body.into_data_stream()).await?;
    let attached = email_source::attach(state.db(), blobs, &auth, id, received).await?;
    Ok(Json(attached))
}

/// `GET /tracked-emails/{id}/attachments/{index}`: [`attachment_download`].
async fn download_attachment(
    auth: AuthUser,
    State(state): State<AppState>,
    Path((raw, index)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = path_id(Kind::TrackedEmail, &raw)?;
    let index: u32 = index.parse().map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("there is no attachment {index:?}"),
        )
    })?;
    let attachment = {
        let mut conn = state.db().pool().acquire().await?;
        email_source::attachment(&mut conn, &auth, id, index).await?
    };
    Ok(attachment_download(state.blobs()?, &attachment).await?)
}

/// A tracked email's stored attachment (checked by `email_source::attachment`), streamed
/// from the blob store as a download (`Content-Disposition: attachment` with the RFC 6266
/// `filename*`), never sniffed, sandboxed: the API's and the web app's.
pub async fn attachment_download(
    blobs: &BlobStore,
    attachment: &EmailAttachment,
) -> Result<Response, threadline_crm::CrmError> {
    let sha256 = attachment.sha256.as_deref().unwrap_or_default();
    let stream = blobs.open(sha256).await?;
    let mut response = crate::routes::documents::download_response(
        Body::from_stream(stream),
        Some(&attachment.content_type),
        attachment.size,
        &attachment.name,
    );
    // An HTML or SVG attachment opened in place runs nothing.
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    Ok(response)
}
