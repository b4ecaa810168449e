//! Tracked emails: putting an email on contacts' (and their companies') timelines.
//!
//! - `POST /api/v1/tracked-emails` ([`TrackEmailRequest`]): 201 `{created: true}` for a new
//!   entry, 200 `{created: false}` with the existing entry when any of the email's ids is
//!   already tracked. Tracking again adds the ids and links that are missing; it never
//!   removes any. Two entries that turn out to be the same email (tracked once under a
//!   `msg-a:` id and once under the legacy id, before the page knew both) are merged into
//!   the older one.
//! - `POST /api/v1/tracked-emails/state` ([`TrackedStateRequest`]): the tracked entry and the
//!   tasks of each message on the page, in a fixed number of queries.
//!
//! Race safety: the change runs in one write transaction ([`crate::db::Db::write`]: as if
//! alone, on both engines), and `tracked_email_ids` is UNIQUE per organisation and message
//! id; should an insert still lose a race (a unique violation), the whole change is tried
//! again, and then finds the winner's entry.
//!
//! Limits: `body_text` is truncated to [`MAX_BODY_TEXT_BYTES`] (at a character boundary) and
//! `subject` to [`MAX_SUBJECT_CHARS`]: the timeline keeps a readable excerpt, and tracking
//! never fails because a message is long. The request as a whole is still limited to 1 MiB.

use std::collections::{BTreeSet, HashMap};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use serde::Deserialize;
use threadline_domain::api::{
    Direction, MessageState, Party, RecordKind, TrackEmailRequest, TrackEmailResponse,
    TrackedStateRequest, TrackedStateResponse, MAX_STATE_MESSAGES,
};
use utoipa::openapi::path::HttpMethod;
use utoipa::PartialSchema;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::{self, id_text, parse_uuid, Conn, Sql};
use crate::error::{is_unique_violation, ApiError, ApiResult};
use crate::extract::Json;
use crate::ids::{self, is_local_id, normalize_message_id, MAX_IDS_PER_MESSAGE};
use crate::openapi::{uuid_schema, ApiRouter, Op};
use crate::records::http::{self as records_http, path_id, query, Page, DEFAULT_LIMIT, MAX_LIMIT};
use crate::records::tracked_emails::{
    expect_owner, TrackedEmailRecord, TrackedEmailView, Visibility, VisibilityInput,
};
use crate::records::{decode_cursor, encode_cursor, etag, if_match, log_change, soft_delete, Kind};
use crate::state::AppState;
use crate::store;
use crate::validate;

/// Longest kept `html_body`, in bytes (the request is at most 1 MiB anyway).
pub const MAX_HTML_BODY_BYTES: usize = 1024 * 1024;
/// Longest kept `body_text`, in bytes.
pub const MAX_BODY_TEXT_BYTES: usize = 256 * 1024;
/// Longest kept subject, in characters (the RFC 5322 line limit).
pub const MAX_SUBJECT_CHARS: usize = 998;
/// Most contacts one email may be tracked on in one request.
pub const MAX_CONTACTS_PER_EMAIL: usize = 100;
/// Most recipients kept per `to` / `cc` list.
pub const MAX_PARTIES: usize = 500;
/// How many times a change that lost a race to a unique constraint is tried.
const MAX_ATTEMPTS: usize = 4;

pub fn router() -> ApiRouter {
    let tag = "tracked-emails";
    let id = |op: Op| op.path_id("id", "The tracked email's id.");
    let track = Op::new(tag, "track_email", "Track an email")
        .description(
            "Puts the email on the timelines of the contacts given (and of their companies). \
             Idempotent: an email is known by any of its ids; tracking it again adds the ids \
             and links that are missing and answers the existing entry (200).",
        )
        .json_body::<TrackEmailRequest>("The email and the contacts.")
        .json::<TrackEmailResponse>("201", "Tracked now.")
        .json::<TrackEmailResponse>("200", "Already tracked: the existing entry.");
    let list = Op::new(tag, "list_tracked_emails", "A timeline")
        .description(
            "A contact's or a company's timeline (or, without `record_kind`/`record_id`, every \
             tracked email of the organisation), newest first. Private emails of other users \
             are redacted.",
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
    ApiRouter::new()
        .routes(track.route("/tracked-emails", HttpMethod::Post, post(track_email)))
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

/// A track request after its checks.
struct TrackInput {
    /// Every id of the email, normalised, the primary first.
    ids: Vec<String>,
    gmail_thread_id: Option<String>,
    rfc_message_id: Option<String>,
    direction: Direction,
    from: Option<Party>,
    to: Vec<Party>,
    cc: Vec<Party>,
    subject: String,
    sent_at: Option<String>,
    body_text: Option<String>,
    html_body: Option<String>,
    visibility: Visibility,
    /// Distinct, in request order, with each one's index in the request.
    contact_ids: Vec<(usize, Uuid)>,
}

fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn validate_track(req: TrackEmailRequest) -> ApiResult<TrackInput> {
    let primary = normalize_message_id(&req.gmail_message_id)
        .map_err(|e| ApiError::invalid("gmail_message_id", e))?;
    validate::max_items("alt_message_ids", &req.alt_message_ids, MAX_IDS_PER_MESSAGE)?;
    let mut all = vec![primary];
    for id in ids::normalize_list(
        "alt_message_ids",
        req.alt_message_ids.iter().map(String::as_str),
    )? {
        if !all.contains(&id) {
            all.push(id);
        }
    }
    let rfc_message_id = match req.rfc_message_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => {
            Some(normalize_message_id(raw).map_err(|e| ApiError::invalid("rfc_message_id", e))?)
        }
    };
    if let Some(rfc) = &rfc_message_id {
        if !all.contains(rfc) {
            all.push(rfc.clone());
        }
    }
    let gmail_thread_id =
        validate::optional_text("gmail_thread_id", req.gmail_thread_id.as_deref(), 512)?
            .map(|t| t.trim_start_matches('#').to_string());

    if req.contact_ids.is_empty() {
        return Err(ApiError::invalid(
            "contact_ids",
            "at least one contact id is needed",
        ));
    }
    validate::max_items("contact_ids", &req.contact_ids, MAX_CONTACTS_PER_EMAIL)?;
    let mut contact_ids: Vec<(usize, Uuid)> = Vec::new();
    for (i, id) in req.contact_ids.iter().enumerate() {
        if !contact_ids.iter().any(|(_, c)| c == id) {
            contact_ids.push((i, *id));
        }
    }
    validate::max_items("to", &req.to, MAX_PARTIES)?;
    validate::max_items("cc", &req.cc, MAX_PARTIES)?;

    let subject: String = req.subject.trim().chars().take(MAX_SUBJECT_CHARS).collect();
    Ok(TrackInput {
        ids: all,
        gmail_thread_id,
        rfc_message_id,
        direction: req.direction,
        from: req.from,
        to: req.to,
        cc: req.cc,
        subject,
        sent_at: req.sent_at.map(db::format_time),
        body_text: req
            .body_text
            .map(|b| truncate_bytes(&b, MAX_BODY_TEXT_BYTES).to_string()),
        html_body: req
            .html_body
            .filter(|h| !h.trim().is_empty())
            .map(|h| truncate_bytes(&h, MAX_HTML_BODY_BYTES).to_string()),
        visibility: req.visibility.unwrap_or(Visibility::Private),
        contact_ids,
    })
}

async fn track_email(
    auth: AuthUser,
    State(state): State<AppState>,
    Json(req): Json<TrackEmailRequest>,
) -> ApiResult<(StatusCode, Json<TrackEmailResponse>)> {
    let input = validate_track(req)?;
    let mut attempt = 1;
    let response = loop {
        let tracked = state
            .db()
            .write(|tx| Box::pin(track_once(tx, &auth, &input)))
            .await;
        match tracked {
            Err(ApiError::Database(e)) if is_unique_violation(&e) && attempt < MAX_ATTEMPTS => {
                tracing::debug!(attempt, "tracking lost a race; trying again");
                attempt += 1;
            }
            other => break other?,
        }
    };
    let status = if response.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(response)))
}

fn to_json<T: serde::Serialize>(value: &T) -> ApiResult<String> {
    serde_json::to_string(value).map_err(|e| ApiError::internal(format!("cannot serialise: {e}")))
}

/// One attempt at tracking, in a write transaction.
async fn track_once(
    conn: &mut Conn,
    auth: &AuthUser,
    input: &TrackInput,
) -> ApiResult<TrackEmailResponse> {
    let org = auth.org_id;

    // Every contact must be in the caller's organisation.
    let wanted: Vec<Uuid> = input.contact_ids.iter().map(|(_, id)| *id).collect();
    let contacts = store::contacts_by_id(conn, org, &wanted).await?;
    if let Some((i, id)) = input
        .contact_ids
        .iter()
        .find(|(_, id)| !contacts.contains_key(id))
    {
        return Err(ApiError::unknown_record(
            format!("contact_ids[{i}]"),
            format!("there is no contact with id {id}"),
        ));
    }

    // The entry, found by any of the ids.
    let found = store::tracked_email_ids_of(conn, org, &input.ids).await?;
    let found_emails: BTreeSet<Uuid> = found.values().copied().collect();
    let (email_id, mut created) = match found_emails.len() {
        0 => (insert_email(conn, auth, input).await?, true),
        1 => (*found_emails.first().expect("one entry"), false),
        _ => (merge_emails(conn, org, &found_emails).await?, false),
    };
    if !created {
        // A deleted entry tracked again starts afresh: the tracker's, with this content.
        created = restore_email(conn, auth, email_id, input).await?;
        if !created {
            complete_email(conn, org, email_id, input).await?;
        }
    }

    // Ids the entry does not have yet: a plain INSERT, so that losing a race to another
    // request is a unique violation (and a retry), never a silently split email.
    for id in input.ids.iter().filter(|id| !found.contains_key(*id)) {
        sqlx::query("INSERT INTO tracked_email_ids (tracked_email_id, org_id, message_id) VALUES ($1, $2, $3)")
            .bind(id_text(email_id))
            .bind(id_text(org))
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }

    // Links: each contact and each contact's company.
    let mut links: Vec<(&str, String)> = Vec::new();
    for (_, id) in &input.contact_ids {
        let contact = &contacts[id];
        links.push((
            store::record_kind_text(RecordKind::Contact),
            contact.id.clone(),
        ));
        if let Some(company) = &contact.company_id {
            links.push((
                store::record_kind_text(RecordKind::Company),
                company.clone(),
            ));
        }
    }
    links.sort();
    links.dedup();
    let email_text = id_text(email_id);
    let mut sql = Sql::new(
        "INSERT INTO tracked_email_links (tracked_email_id, record_kind, record_id) VALUES ",
    );
    for (i, (kind, record_id)) in links.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.push_list([email_text.as_str(), kind, record_id.as_str()]);
    }
    sql.push(" ON CONFLICT (tracked_email_id, record_kind, record_id) DO NOTHING");
    sql.build().execute(&mut *conn).await?;

    let mut answer = store::tracked_emails_by_id(conn, org, &[email_id]).await?;
    store::visible_to(conn, org, auth.user_id, &mut answer).await?;
    let tracked_email = answer
        .remove(&email_id)
        .ok_or_else(|| ApiError::internal("the tracked email vanished inside its transaction"))?;
    Ok(TrackEmailResponse {
        tracked_email,
        created,
    })
}

async fn insert_email(conn: &mut Conn, auth: &AuthUser, input: &TrackInput) -> ApiResult<Uuid> {
    let id = db::new_id();
    let now = db::now();
    sqlx::query(
        "INSERT INTO tracked_emails
           (id, org_id, owner_user_id, gmail_message_id, direction, subject, from_party,
            to_parties, cc_parties, sent_at, body_text, gmail_thread_id, rfc_message_id, created_at,
            html_body, visibility, version, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 1, $14)",
    )
    .bind(id_text(id))
    .bind(id_text(auth.org_id))
    .bind(id_text(auth.user_id))
    .bind(&input.ids[0])
    .bind(store::direction_text(input.direction))
    .bind(&input.subject)
    .bind(to_json(&input.from)?)
    .bind(to_json(&input.to)?)
    .bind(to_json(&input.cc)?)
    .bind(&input.sent_at)
    .bind(&input.body_text)
    .bind(&input.gmail_thread_id)
    .bind(&input.rfc_message_id)
    .bind(&now)
    .bind(&input.html_body)
    .bind(input.visibility.as_str())
    .execute(&mut *conn)
    .await?;
    log_change(conn, auth.org_id, Kind::TrackedEmail, id, 1, false, &now).await?;
    Ok(id)
}

/// When the entry `id` is deleted: makes it the caller's again, with the request's content
/// and visibility and none of its old links (the ids stay: they are the email's). True
/// when it was restored.
async fn restore_email(
    conn: &mut Conn,
    auth: &AuthUser,
    id: Uuid,
    input: &TrackInput,
) -> ApiResult<bool> {
    let now = db::now();
    let version: Option<i64> = sqlx::query_scalar(
        "UPDATE tracked_emails SET owner_user_id = $1, direction = $2, subject = $3,
           from_party = $4, to_parties = $5, cc_parties = $6, sent_at = $7, body_text = $8,
           html_body = $9, gmail_thread_id = $10, rfc_message_id = $11, visibility = $12,
           deleted_at = NULL, updated_at = $13, version = version + 1
         WHERE org_id = $14 AND id = $15 AND deleted_at IS NOT NULL
         RETURNING version",
    )
    .bind(id_text(auth.user_id))
    .bind(store::direction_text(input.direction))
    .bind(&input.subject)
    .bind(to_json(&input.from)?)
    .bind(to_json(&input.to)?)
    .bind(to_json(&input.cc)?)
    .bind(&input.sent_at)
    .bind(&input.body_text)
    .bind(&input.html_body)
    .bind(&input.gmail_thread_id)
    .bind(&input.rfc_message_id)
    .bind(input.visibility.as_str())
    .bind(&now)
    .bind(id_text(auth.org_id))
    .bind(id_text(id))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(version) = version else {
        return Ok(false);
    };
    sqlx::query("DELETE FROM tracked_email_links WHERE tracked_email_id = $1")
        .bind(id_text(id))
        .execute(&mut *conn)
        .await?;
    log_change(
        conn,
        auth.org_id,
        Kind::TrackedEmail,
        id,
        version,
        false,
        &now,
    )
    .await?;
    Ok(true)
}

/// Fills what an existing entry lacks: a thread id, an RFC id, a date, a body, a subject;
/// and a better primary id than a browser-local `msg-a:` one.
async fn complete_email(conn: &mut Conn, org: Uuid, id: Uuid, input: &TrackInput) -> ApiResult<()> {
    let primary = &input.ids[0];
    let better_primary = (!is_local_id(primary)).then_some(primary);
    let now = db::now();
    let version: i64 = sqlx::query_scalar(
        "UPDATE tracked_emails SET
           version = version + 1, updated_at = $9,
           html_body = COALESCE(html_body, $10),
           gmail_thread_id = COALESCE(gmail_thread_id, $1),
           rfc_message_id = COALESCE(rfc_message_id, $2),
           sent_at = COALESCE(sent_at, $3),
           body_text = COALESCE(body_text, $4),
           subject = CASE WHEN subject = '' THEN $5 ELSE subject END,
           gmail_message_id = CASE
             WHEN $6 IS NOT NULL AND substr(gmail_message_id, 1, 6) = 'msg-a:' THEN $6
             ELSE gmail_message_id END
         WHERE org_id = $7 AND id = $8
         RETURNING version",
    )
    .bind(&input.gmail_thread_id)
    .bind(&input.rfc_message_id)
    .bind(&input.sent_at)
    .bind(&input.body_text)
    .bind(&input.subject)
    .bind(better_primary)
    .bind(id_text(org))
    .bind(id_text(id))
    .bind(&now)
    .bind(&input.html_body)
    .fetch_one(&mut *conn)
    .await?;
    log_change(conn, org, Kind::TrackedEmail, id, version, false, &now).await?;
    Ok(())
}

/// Several entries are the same email: moves the ids and links of the newer ones onto the
/// oldest and deletes the newer ones. Returns the oldest.
async fn merge_emails(conn: &mut Conn, org: Uuid, emails: &BTreeSet<Uuid>) -> ApiResult<Uuid> {
    let mut sql = Sql::new("SELECT id FROM tracked_emails WHERE org_id = ");
    sql.push_bind(id_text(org))
        .push(" AND id IN ")
        .push_list(emails.iter().map(|id| id_text(*id)))
        .push(" ORDER BY created_at, id");
    let ordered: Vec<String> = sql.build_query_scalar().fetch_all(&mut *conn).await?;
    let (keep, others) = ordered
        .split_first()
        .ok_or_else(|| ApiError::internal("the entries to merge vanished"))?;
    tracing::info!(keep = %keep, merged = others.len(), "merging tracked emails that are one email");

    let mut sql = Sql::new("UPDATE tracked_email_ids SET tracked_email_id = ");
    sql.push_bind(keep)
        .push(" WHERE org_id = ")
        .push_bind(id_text(org))
        .push(" AND tracked_email_id IN ")
        .push_list(others);
    sql.build().execute(&mut *conn).await?;

    let mut sql = Sql::new(
        "INSERT INTO tracked_email_links (tracked_email_id, record_kind, record_id) SELECT ",
    );
    sql.push_bind(keep)
        .push(", record_kind, record_id FROM tracked_email_links WHERE tracked_email_id IN ")
        .push_list(others)
        .push(" ON CONFLICT (tracked_email_id, record_kind, record_id) DO NOTHING");
    sql.build().execute(&mut *conn).await?;

    let mut sql = Sql::new("DELETE FROM tracked_emails WHERE org_id = ");
    sql.push_bind(id_text(org))
        .push(" AND id IN ")
        .push_list(others)
        .push(" RETURNING id, version");
    let gone: Vec<(String, i64)> = sql.build_query_as().fetch_all(&mut *conn).await?;
    // The merged entries leave the feed as deleted.
    let now = db::now();
    for (id, version) in gone {
        log_change(
            conn,
            org,
            Kind::TrackedEmail,
            parse_uuid(&id)?,
            version + 1,
            true,
            &now,
        )
        .await?;
    }
    Ok(parse_uuid(keep)?)
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
    let email_of = store::tracked_email_ids_of(&mut tx, auth.org_id, &all_ids).await?;
    let email_ids: Vec<Uuid> = email_of
        .values()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut emails = store::tracked_emails_by_id(&mut tx, auth.org_id, &email_ids).await?;
    // Every id of each email (before what the caller may not see is dropped), for its tasks.
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
    store::visible_to(&mut tx, auth.org_id, auth.user_id, &mut emails).await?;
    tx.commit().await?;

    let mut tasks_by_source: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, task) in tasks.iter().enumerate() {
        if let Some(source) = &task.source_message_id {
            tasks_by_source.entry(source.as_str()).or_default().push(i);
        }
    }
    let states = messages
        .iter()
        .map(|ids| {
            let email_id = ids.iter().find_map(|id| email_of.get(id));
            let tracked_email = email_id.and_then(|e| emails.get(e)).cloned();
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
/// organisation): newest first by date (`sent_at`, else when it was tracked), keyset
/// paginated on (date, id). Private emails of other users are shown redacted.
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
    if let Some((kind, id)) = record {
        if !crate::records::record_exists(&mut tx, auth.org_id, kind, id).await? {
            return Err(crate::records::not_found(kind, id));
        }
    }
    let after = match &params.cursor {
        None => None,
        Some(cursor) => {
            let after = decode_cursor("cursor", "te", cursor)?;
            let (date, id) = after.split_once('|').ok_or_else(|| {
                bad_query(
                    "cursor",
                    "cursor is not a cursor this server gave out".into(),
                )
            })?;
            Some((date.to_string(), id.to_string()))
        }
    };
    let mut sql = timeline_query(auth.org_id, record, after, params.include_deleted, limit);
    let mut rows: Vec<(String, String)> = sql.build_query_as().fetch_all(&mut *tx).await?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last()
            .map(|(id, date)| encode_cursor("te", &format!("{date}|{id}")))
    } else {
        None
    };
    let ids = rows
        .iter()
        .map(|(id, _)| Ok(parse_uuid(id)?))
        .collect::<ApiResult<Vec<Uuid>>>()?;
    let mut records =
        <TrackedEmailRecord as crate::records::http::Record>::load(&mut tx, auth.org_id, &ids)
            .await?;
    tx.commit().await?;
    records.sort_by_key(|r| ids.iter().position(|id| *id == r.id));
    Ok(Json(Page {
        items: records
            .into_iter()
            .map(|r| crate::records::http::Record::shown_to(r, &auth))
            .collect(),
        next_cursor,
    }))
}

/// The date a timeline is ordered by: when the email was sent, else when it was tracked
/// (`tracked_emails_org_date_idx` is on it).
const DATE: &str = "COALESCE(t.sent_at, t.created_at)";

/// The ids and dates of a timeline page (`limit + 1` rows), after the (date, id) `after`.
fn timeline_query(
    org: Uuid,
    record: Option<(Kind, Uuid)>,
    after: Option<(String, String)>,
    include_deleted: bool,
    limit: u32,
) -> Sql<'static> {
    let mut sql = Sql::new(format!(
        "SELECT t.id, {DATE} FROM tracked_emails t WHERE t.org_id = "
    ));
    sql.push_bind(id_text(org));
    if !include_deleted {
        sql.push(" AND t.deleted_at IS NULL");
    }
    if let Some((kind, id)) = record {
        sql.push(" AND t.id IN (SELECT l.tracked_email_id FROM tracked_email_links l WHERE l.record_kind = ")
            .push_bind(kind.as_str())
            .push(" AND l.record_id = ")
            .push_bind(id_text(id))
            .push(")");
    }
    if let Some((date, id)) = after {
        sql.push(&format!(" AND ({DATE} < "))
            .push_bind(date.clone())
            .push(&format!(" OR ({DATE} = "))
            .push_bind(date)
            .push(" AND t.id < ")
            .push_bind(id)
            .push("))");
    }
    sql.push(&format!(" ORDER BY {DATE} DESC, t.id DESC LIMIT "))
        .push_bind(i64::from(limit) + 1);
    sql
}

/// `DELETE /tracked-emails/{id}` with `If-Match`: the owner only (403 for the others);
/// soft. Tracking the email again brings it back (see [`restore_email`]).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Engine;

    #[tokio::test]
    async fn a_timeline_page_reads_the_date_index() {
        let test_db = crate::testing::TestDatabase::create();
        let db = test_db.open().await;
        let after = Some((
            "2025-01-01T00:00:00.000000Z".to_string(),
            Uuid::nil().to_string(),
        ));
        let plan = crate::db::query_plan(&db, timeline_query(Uuid::nil(), None, after, false, 50))
            .await
            .expect("the plan");
        assert!(
            plan.iter()
                .any(|step| step.contains("tracked_emails_org_date_idx")),
            "{plan:#?}"
        );
        let sorts = |step: &String| match db.engine() {
            Engine::Sqlite => step.contains("TEMP B-TREE"),
            Engine::Postgres => step.contains("Sort"),
        };
        assert!(!plan.iter().any(sorts), "{plan:#?}");
    }
}
