//! Tracking an email: the product's central write. A user's tracking of an email is their
//! own **entry**, known by all the email's message ids (Gmail's legacy hex, sync and local
//! ids, the RFC `Message-ID`), linked to the timelines of its contacts and their companies.
//!
//! **One email, several users.** Each user who tracks an email has their own entry: their
//! content, visibility, links and ids, written only by their own requests. A message id
//! belongs to at most one entry per user (`tracked_email_ids` is UNIQUE per organisation,
//! owner and message id); entries of different users that are the same email share an
//! `email_id` (a new entry takes the `email_id` of the oldest entry, any user's, that has
//! any of its ids; an entry of the caller's that learns a new id — tracked again, or its
//! raw source tells its RFC `Message-ID` (`crate::email_source`) — takes the `email_id` of
//! the oldest other user's entry that has any of its ids: only the caller's entry is
//! written, and two users' entries meet when the later one learns an id they share).
//! Reads show one entry per email — the reader's own, else a shared one,
//! else a private one redacted (`records::tracked_emails::shown_entries`). So:
//! - only an entry's owner writes its content or deletes it; tracking never reads or
//!   writes a colleague's entry (only its `email_id` when making a new entry);
//! - nothing is hard-deleted by tracking: two entries of the caller's own that turn out to
//!   be one email are merged into the older, and the newer goes to the trash;
//! - a private entry's content never reaches another user.
//!
//! - [`validate`]: the request's checks; ids normalised by the domain crate's one
//!   normaliser, long bodies truncated (never refused).
//! - [`track`]: one write transaction ([`threadline_storage::Db::write`]: as if alone, on
//!   both engines). The caller's new entry, or their existing one that has any of the
//!   email's ids: missing ids and links are added, none removed; the caller's own entries
//!   that turn out to be one email (tracked once under a `msg-a:` id and once under the
//!   legacy id) are merged; should an insert still lose a race, the whole change is tried
//!   again.
//!
//! - [`links`]: the owner adds a contact or a company to the entry's timelines by hand, or
//!   takes one off.
//!
//! **Privacy** ([`crate::privacy`]): an email with a never-logged counterpart, or only
//! between the user and colleagues (unless `insist`), is refused before anything is
//! written.
//!
//! Limits: `body_text` is truncated to [`MAX_BODY_TEXT_BYTES`] (at a character boundary),
//! `subject` to [`MAX_SUBJECT_CHARS`]: the timeline keeps a readable excerpt, and tracking
//! never fails because a message is long.

pub mod links;

use std::collections::BTreeSet;

use threadline_domain::api::{Direction, Party, RecordKind, TrackEmailRequest, TrackEmailResponse};
use threadline_storage::db::{self, id_text, parse_uuid, Conn, Db, Sql};
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::{is_unique_violation, CrmError, CrmResult};
use crate::ids::{self, is_local_id, normalize_message_id, MAX_IDS_PER_MESSAGE};
use crate::records::tracked_emails::Visibility;
use crate::records::{log_change, Kind};
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

/// A track request after its checks.
pub struct TrackInput {
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
    /// Track it even when only between the user and colleagues.
    insist: bool,
}

/// `s` cut to at most `max` bytes, at a character boundary.
pub(crate) fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

pub fn validate(req: TrackEmailRequest) -> CrmResult<TrackInput> {
    let primary = normalize_message_id(&req.gmail_message_id)
        .map_err(|e| CrmError::invalid("gmail_message_id", e))?;
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
            Some(normalize_message_id(raw).map_err(|e| CrmError::invalid("rfc_message_id", e))?)
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
        return Err(CrmError::invalid(
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
        insist: req.insist,
    })
}

/// Tracks an email for `actor`: its entry (new, or the one that has any of its ids), its
/// ids and its timeline links, in one write transaction; a lost race (a unique violation)
/// runs the whole change again, which then finds the winner's entry.
pub async fn track(db: &Db, actor: &Actor, input: &TrackInput) -> CrmResult<TrackEmailResponse> {
    let mut attempt = 1;
    loop {
        let tracked = db.write(|tx| Box::pin(track_once(tx, actor, input))).await;
        match tracked {
            Err(CrmError::Database(e)) if is_unique_violation(&e) && attempt < MAX_ATTEMPTS => {
                tracing::debug!(attempt, "tracking lost a race; trying again");
                attempt += 1;
            }
            other => return other,
        }
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> CrmResult<String> {
    serde_json::to_string(value).map_err(|e| CrmError::internal(format!("cannot serialise: {e}")))
}

/// One attempt at tracking, in a write transaction.
async fn track_once(
    conn: &mut Conn,
    auth: &Actor,
    input: &TrackInput,
) -> CrmResult<TrackEmailResponse> {
    let org = auth.org_id;

    // The privacy rules first: a refused email writes nothing.
    let parties: Vec<&str> = input
        .from
        .iter()
        .chain(&input.to)
        .chain(&input.cc)
        .map(|p| p.address.as_str())
        .collect();
    let rules = crate::privacy::rules_of(conn, auth).await?;
    crate::privacy::check_email(&rules, &parties, input.insist)?;

    // Every contact must be in the caller's organisation.
    let wanted: Vec<Uuid> = input.contact_ids.iter().map(|(_, id)| *id).collect();
    let contacts = store::contacts_by_id(conn, org, &wanted).await?;
    if let Some((i, id)) = input
        .contact_ids
        .iter()
        .find(|(_, id)| !contacts.contains_key(id))
    {
        return Err(CrmError::unknown_record(
            format!("contact_ids[{i}]"),
            format!("there is no contact with id {id}"),
        ));
    }

    // The caller's own entry, found by any of the ids; the others' entries are never
    // touched.
    let found = store::own_tracked_email_ids_of(conn, org, auth.user_id, &input.ids).await?;
    let found_emails: BTreeSet<Uuid> = found.values().copied().collect();
    let (email_id, mut created) = match found_emails.len() {
        0 => (insert_email(conn, auth, input).await?, true),
        1 => (*found_emails.first().expect("one entry"), false),
        _ => (merge_own_entries(conn, auth, &found_emails).await?, false),
    };
    if !created {
        // A deleted entry tracked again starts afresh, with this content.
        created = restore_email(conn, auth, email_id, input).await?;
        if !created {
            complete_email(conn, auth, email_id, input).await?;
        }
    }

    // Ids the entry does not have yet: a plain INSERT, so that losing a race to another
    // request is a unique violation (and a retry), never a silently split email.
    for id in input.ids.iter().filter(|id| !found.contains_key(*id)) {
        sqlx::query("INSERT INTO tracked_email_ids (tracked_email_id, org_id, owner_user_id, message_id) VALUES ($1, $2, $3, $4)")
            .bind(id_text(email_id))
            .bind(id_text(org))
            .bind(id_text(auth.user_id))
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    if !created && input.ids.iter().any(|id| !found.contains_key(id)) {
        join_email(conn, auth, email_id).await?;
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
    crate::records::tracked_emails::visible_to(conn, org, auth.user_id, &mut answer).await?;
    let tracked_email = answer
        .remove(&email_id)
        .ok_or_else(|| CrmError::internal("the tracked email vanished inside its transaction"))?;
    Ok(TrackEmailResponse {
        tracked_email,
        created,
    })
}

/// A new entry of the caller's. It is an entry of the email of the oldest entry (any
/// user's) that has any of its ids, or of a new email.
async fn insert_email(conn: &mut Conn, auth: &Actor, input: &TrackInput) -> CrmResult<Uuid> {
    let id = db::new_id();
    let now = db::now();
    let mut sql = Sql::new(
        "SELECT t.email_id FROM tracked_email_ids i
         JOIN tracked_emails t ON t.id = i.tracked_email_id WHERE i.org_id = ",
    );
    sql.push_bind(id_text(auth.org_id))
        .push(" AND i.message_id IN ")
        .push_list(&input.ids)
        .push(" ORDER BY t.created_at, t.id LIMIT 1");
    let email: Option<String> = sql.build_query_scalar().fetch_optional(&mut *conn).await?;
    let email = email.unwrap_or_else(|| id_text(id));
    sqlx::query(
        "INSERT INTO tracked_emails
           (id, org_id, owner_user_id, gmail_message_id, direction, subject, from_party,
            to_parties, cc_parties, sent_at, body_text, gmail_thread_id, rfc_message_id, created_at,
            html_body, visibility, version, updated_at, email_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 1, $14, $17)",
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
    .bind(email)
    .execute(&mut *conn)
    .await?;
    log_change(conn, auth.org_id, Kind::TrackedEmail, id, 1, false, &now).await?;
    Ok(id)
}

/// When the caller's entry `id` is deleted: brings it back with the request's content and
/// visibility and none of its old links (the ids stay: they are the email's). True when
/// it was restored.
async fn restore_email(
    conn: &mut Conn,
    auth: &Actor,
    id: Uuid,
    input: &TrackInput,
) -> CrmResult<bool> {
    let now = db::now();
    let version: Option<i64> = sqlx::query_scalar(
        "UPDATE tracked_emails SET direction = $2, subject = $3,
           from_party = $4, to_parties = $5, cc_parties = $6, sent_at = $7, body_text = $8,
           html_body = $9, gmail_thread_id = $10, rfc_message_id = $11, visibility = $12,
           deleted_at = NULL, updated_at = $13, version = version + 1
         WHERE org_id = $14 AND id = $15 AND owner_user_id = $1 AND deleted_at IS NOT NULL
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

/// Fills what the caller's entry lacks, from the caller's request: a thread id, an RFC id,
/// a date, a body, a subject; and a better primary id than a browser-local `msg-a:` one.
async fn complete_email(
    conn: &mut Conn,
    auth: &Actor,
    id: Uuid,
    input: &TrackInput,
) -> CrmResult<()> {
    let org = auth.org_id;
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
         WHERE org_id = $7 AND id = $8 AND owner_user_id = $11
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
    .bind(id_text(auth.user_id))
    .fetch_one(&mut *conn)
    .await?;
    log_change(conn, org, Kind::TrackedEmail, id, version, false, &now).await?;
    Ok(())
}

/// Several of the caller's own entries turn out to be one email (tracked once under a
/// `msg-a:` id and once under the legacy id): the ids and links of the newer ones move to
/// the oldest, and the newer ones go to the trash (soft-deleted, never erased; tracking
/// cannot bring them back, as their ids are the oldest's now). Returns the oldest.
async fn merge_own_entries(
    conn: &mut Conn,
    auth: &Actor,
    entries: &BTreeSet<Uuid>,
) -> CrmResult<Uuid> {
    let org = auth.org_id;
    let owner = id_text(auth.user_id);
    let mut sql = Sql::new("SELECT id FROM tracked_emails WHERE org_id = ");
    sql.push_bind(id_text(org))
        .push(" AND owner_user_id = ")
        .push_bind(&owner)
        .push(" AND id IN ")
        .push_list(entries.iter().map(|id| id_text(*id)))
        .push(" ORDER BY created_at, id");
    let ordered: Vec<String> = sql.build_query_scalar().fetch_all(&mut *conn).await?;
    let (keep, others) = ordered
        .split_first()
        .ok_or_else(|| CrmError::internal("the entries to merge vanished"))?;
    tracing::info!(keep = %keep, merged = others.len(), "merging a user's entries that are one email");

    let mut sql = Sql::new("UPDATE tracked_email_ids SET tracked_email_id = ");
    sql.push_bind(keep)
        .push(" WHERE org_id = ")
        .push_bind(id_text(org))
        .push(" AND owner_user_id = ")
        .push_bind(&owner)
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

    let now = db::now();
    let mut sql = Sql::new("UPDATE tracked_emails SET version = version + 1, updated_at = ");
    sql.push_bind(&now)
        .push(", deleted_at = COALESCE(deleted_at, ")
        .push_bind(&now)
        .push(") WHERE org_id = ")
        .push_bind(id_text(org))
        .push(" AND owner_user_id = ")
        .push_bind(&owner)
        .push(" AND id IN ")
        .push_list(others)
        .push(" RETURNING id, version");
    let trashed: Vec<(String, i64)> = sql.build_query_as().fetch_all(&mut *conn).await?;
    // The merged entries leave the feed as deleted.
    for (id, version) in trashed {
        log_change(
            conn,
            org,
            Kind::TrackedEmail,
            parse_uuid(&id)?,
            version,
            true,
            &now,
        )
        .await?;
    }
    Ok(parse_uuid(keep)?)
}

/// Adds `ids` to the caller's live entry `entry` (ids are never removed), as tracking does:
/// when one of them is already an id of another entry of the caller's, the two are one
/// email and are merged (into the older, which is returned; else `entry` is). Then
/// [`join_email`]. Used when the email's raw source tells its RFC `Message-ID`.
pub(crate) async fn add_own_ids(
    conn: &mut Conn,
    auth: &Actor,
    entry: Uuid,
    ids: &[String],
) -> CrmResult<Uuid> {
    let found = store::own_tracked_email_ids_of(conn, auth.org_id, auth.user_id, ids).await?;
    let mut entries: BTreeSet<Uuid> = found.values().copied().collect();
    entries.insert(entry);
    let keep = if entries.len() > 1 {
        merge_own_entries(conn, auth, &entries).await?
    } else {
        entry
    };
    let mut added = false;
    for id in ids.iter().filter(|id| !found.contains_key(*id)) {
        sqlx::query("INSERT INTO tracked_email_ids (tracked_email_id, org_id, owner_user_id, message_id) VALUES ($1, $2, $3, $4)")
            .bind(id_text(keep))
            .bind(id_text(auth.org_id))
            .bind(id_text(auth.user_id))
            .bind(id)
            .execute(&mut *conn)
            .await?;
        added = true;
    }
    if added || keep != entry {
        join_email(conn, auth, keep).await?;
    }
    Ok(keep)
}

/// The caller's entry `entry` has new ids: when another user's entry has any of its ids,
/// the caller's entry becomes an entry of that one's email (of the oldest such entry, as
/// a new entry would: [`insert_email`]). Only the caller's own entry is written; so two
/// users who tracked one email under their own Gmail ids meet as soon as the later of the
/// two learns an id they share (the RFC `Message-ID`, from the page or the raw source).
async fn join_email(conn: &mut Conn, auth: &Actor, entry: Uuid) -> CrmResult<()> {
    let mut sql = Sql::new(
        "SELECT t.email_id FROM tracked_email_ids i
         JOIN tracked_emails t ON t.id = i.tracked_email_id WHERE i.org_id = ",
    );
    sql.push_bind(id_text(auth.org_id))
        .push(" AND t.owner_user_id <> ")
        .push_bind(id_text(auth.user_id))
        .push(
            " AND i.message_id IN (SELECT o.message_id FROM tracked_email_ids o \
             WHERE o.tracked_email_id = ",
        )
        .push_bind(id_text(entry))
        .push(") ORDER BY t.created_at, t.id LIMIT 1");
    let email: Option<String> = sql.build_query_scalar().fetch_optional(&mut *conn).await?;
    if let Some(email) = email {
        sqlx::query(
            "UPDATE tracked_emails SET email_id = $1
             WHERE org_id = $2 AND id = $3 AND owner_user_id = $4 AND email_id <> $1",
        )
        .bind(email)
        .bind(id_text(auth.org_id))
        .bind(id_text(entry))
        .bind(id_text(auth.user_id))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
