//! Tracked emails as records: `GET /api/v1/tracked-emails` (a record's timeline, newest
//! first), `GET /tracked-emails/{id}`, `PATCH` (the owner changes `visibility`, If-Match)
//! and `DELETE` (the owner; soft). Tracking itself is the bar's `POST /tracked-emails`
//! (`routes/tracked_emails.rs`).
//!
//! **Visibility.** `shared`: everyone in the organisation sees the whole email. `private`
//! (the default of newly tracked emails): the others see only that it exists — id, date,
//! direction, owner ([`redacted`]) — through every route (list, get, the bar's state and
//! tracking answers; search only matches shared emails and the caller's own; the changes
//! feed never carries content). Emails tracked before visibility existed stay `shared`.
//!
//! **Entries.** A tracked email here is one user's entry (see `crate::tracking`): several
//! users who track one email have one entry each, with one `email_id`. The timeline and the
//! bar's state show one entry per email, the best for the reader ([`shown_entries`],
//! [`timeline_query`]); `GET /tracked-emails/{id}` shows the entry asked for.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use threadline_domain::api::{Direction, Party, TimelineLink, TrackedEmail, UserRef};
use uuid::Uuid;

use super::{load_rows, save_row, Kind, Meta, MetaRow, Target, META_COLUMNS};
use super::{Editable, Record};
use crate::actor::Actor;
use crate::email_source::{self, EmailAttachment, EmailSource};
use crate::error::{CrmError, CrmResult, Reason};
use crate::store;
use threadline_storage::db::{self, id_text, parse_uuid, BoxFuture, Conn, Sql};

pub use threadline_domain::api::Visibility;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrackedEmailRecord {
    pub id: Uuid,
    /// The email this entry tracks: the entries of users who tracked the same email share it
    /// (each user has their own entry: their content, visibility and links).
    pub email_id: Uuid,
    pub owner: UserRef,
    pub visibility: Visibility,
    pub direction: Direction,
    pub subject: String,
    pub from: Option<Party>,
    pub to: Vec<Party>,
    pub cc: Vec<Party>,
    pub sent_at: Option<DateTime<Utc>>,
    pub body_text: Option<String>,
    pub html_body: Option<String>,
    pub gmail_message_id: String,
    pub message_ids: Vec<String>,
    pub gmail_thread_id: Option<String>,
    pub rfc_message_id: Option<String>,
    pub links: Vec<TimelineLink>,
    /// The email's raw source, when it was sent (`PUT /tracked-emails/{id}/source`): parsed
    /// or not, its hash and size, its headers (`crate::email_source`).
    pub source: Option<EmailSource>,
    /// The attachments of the parsed source (inline images too), in the message's order.
    pub attachments: Vec<EmailAttachment>,
    #[serde(flatten)]
    pub meta: Meta,
}

/// What a user who may not read the email sees of it: that it exists, not what it says.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RedactedTrackedEmail {
    pub id: Uuid,
    /// See [`TrackedEmailRecord::email_id`].
    pub email_id: Uuid,
    pub owner: UserRef,
    /// Always `private`.
    pub visibility: Visibility,
    pub direction: Direction,
    pub sent_at: Option<DateTime<Utc>>,
    /// Always true: tells this shape from a whole [`TrackedEmailRecord`].
    pub redacted: bool,
    #[serde(flatten)]
    pub meta: Meta,
}

/// A tracked email as one user sees it: whole, or redacted (`redacted: true`): what every
/// answer and page shows of it ([`TrackedEmailRecord::seen_by`]).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(clippy::large_enum_variant)]
pub enum TrackedEmailView {
    Whole(TrackedEmailRecord),
    Redacted(RedactedTrackedEmail),
}

impl TrackedEmailRecord {
    /// What `viewer` may see of this entry: all of it when they may read it ([`readable`]),
    /// else only that it exists, and whose it is.
    pub fn seen_by(self, viewer: &Actor) -> TrackedEmailView {
        if readable(self.visibility, self.owner.id, viewer.user_id) {
            TrackedEmailView::Whole(self)
        } else {
            TrackedEmailView::Redacted(RedactedTrackedEmail {
                id: self.id,
                email_id: self.email_id,
                owner: self.owner,
                visibility: Visibility::Private,
                direction: self.direction,
                sent_at: self.sent_at,
                redacted: true,
                meta: self.meta,
            })
        }
    }
}

impl TrackedEmailRecord {
    /// True when `actor` may read this entry's content (subject, body, links); else only
    /// that it is tracked, when and by whom ([`redacted`]).
    pub fn readable_by(&self, actor: &Actor) -> bool {
        readable(self.visibility, self.owner.id, actor.user_id)
    }
}

/// True when `viewer` may read the email's content.
pub fn readable(visibility: Visibility, owner: Uuid, viewer: Uuid) -> bool {
    visibility == Visibility::Shared || owner == viewer
}

/// The PATCH body: only the visibility changes.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisibilityInput {
    pub visibility: Visibility,
}

#[derive(sqlx::FromRow)]
struct Row {
    #[sqlx(flatten)]
    meta: MetaRow,
    email_id: String,
    owner_user_id: String,
    owner_name: String,
    owner_email: String,
    visibility: String,
    from_party: String,
    to_parties: String,
    cc_parties: String,
    sent_at: Option<String>,
    body_text: Option<String>,
    html_body: Option<String>,
    rfc_message_id: Option<String>,
}

pub fn parse_visibility(s: &str) -> CrmResult<Visibility> {
    match s {
        "private" => Ok(Visibility::Private),
        "shared" => Ok(Visibility::Shared),
        other => Err(CrmError::internal(format!(
            "bad visibility {other:?} in the database"
        ))),
    }
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> CrmResult<T> {
    serde_json::from_str(s)
        .map_err(|e| CrmError::internal(format!("bad parties in the database: {e}")))
}

async fn load(conn: &mut Conn, org: Uuid, ids: &[Uuid]) -> CrmResult<Vec<TrackedEmailRecord>> {
    let rows: Vec<Row> = load_rows(
        conn,
        org,
        ids,
        &format!(
        "SELECT {META_COLUMNS}, t.email_id, t.owner_user_id, u.name AS owner_name, u.email AS owner_email, \
         t.visibility, t.from_party, t.to_parties, t.cc_parties, t.sent_at, t.body_text, \
         t.html_body, t.rfc_message_id \
         FROM tracked_emails t JOIN users u ON u.id = t.owner_user_id"
    ),
    )
    .await?;
    let mut base = store::tracked_emails_by_id(conn, org, ids).await?;
    let mut sources = email_source::load_for(conn, org, ids).await?;
    rows.into_iter()
        .map(|r| {
            let id = r.meta.uuid()?;
            let e = base
                .remove(&id)
                .ok_or_else(|| CrmError::internal("a tracked email vanished while loading"))?;
            let (source, attachments) = sources.remove(&id).unwrap_or_default();
            Ok(TrackedEmailRecord {
                id,
                email_id: parse_uuid(&r.email_id)?,
                owner: UserRef {
                    id: parse_uuid(&r.owner_user_id)?,
                    name: r.owner_name,
                    email: r.owner_email,
                },
                visibility: parse_visibility(&r.visibility)?,
                direction: e.direction,
                subject: e.subject,
                from: from_json(&r.from_party)?,
                to: from_json(&r.to_parties)?,
                cc: from_json(&r.cc_parties)?,
                sent_at: r.sent_at.as_deref().map(db::parse_time).transpose()?,
                body_text: r.body_text,
                html_body: r.html_body,
                gmail_message_id: e.gmail_message_id,
                message_ids: e.message_ids,
                gmail_thread_id: e.gmail_thread_id,
                rfc_message_id: r.rfc_message_id,
                links: e.links,
                source,
                attachments,
                meta: r.meta.meta()?,
            })
        })
        .collect()
}

impl Record for TrackedEmailRecord {
    const KIND: Kind = Kind::TrackedEmail;
    const DERIVED: &'static [&'static str] = &[
        "email_id",
        "owner",
        "direction",
        "subject",
        "from",
        "to",
        "cc",
        "sent_at",
        "body_text",
        "html_body",
        "gmail_message_id",
        "message_ids",
        "gmail_thread_id",
        "rfc_message_id",
        "links",
        "source",
        "attachments",
    ];

    fn meta(&self) -> &Meta {
        &self.meta
    }

    fn id(&self) -> Uuid {
        self.id
    }

    fn load<'c>(
        conn: &'c mut Conn,
        org: Uuid,
        ids: &'c [Uuid],
    ) -> BoxFuture<'c, CrmResult<Vec<Self>>> {
        Box::pin(load(conn, org, ids))
    }

    /// Subjects of shared emails only (a viewer-aware search is the timeline's).
    fn search(sql: &mut Sql<'_>, _org: Uuid, q: &str) -> CrmResult<()> {
        sql.push(" AND t.visibility = 'shared'");
        super::products::name_search(sql, q, &["t.subject"]);
        Ok(())
    }

    fn shown_to(self, auth: &Actor) -> Value {
        serde_json::to_value(self.seen_by(auth)).unwrap_or(Value::Null)
    }
}

/// 403 unless `auth` owns the tracked email `id` (which exists: checked before).
pub async fn expect_owner(conn: &mut Conn, auth: &Actor, id: Uuid, what: &str) -> CrmResult<()> {
    let owner: Option<String> = sqlx::query_scalar(
        "SELECT owner_user_id FROM tracked_emails WHERE org_id = $1 AND id = $2",
    )
    .bind(id_text(auth.org_id))
    .bind(id_text(id))
    .fetch_optional(&mut *conn)
    .await?;
    if owner.as_deref() == Some(id_text(auth.user_id).as_str()) {
        return Ok(());
    }
    Err(CrmError::new(
        Reason::Forbidden,
        "forbidden",
        format!("only the user who tracked the email may {what} it"),
    ))
}

impl Editable for TrackedEmailRecord {
    type Input = VisibilityInput;
    type Valid = VisibilityInput;

    fn validate(input: VisibilityInput) -> CrmResult<VisibilityInput> {
        Ok(input)
    }

    fn save<'c>(
        conn: &'c mut Conn,
        auth: &'c Actor,
        id: Uuid,
        target: Target,
        valid: &'c VisibilityInput,
    ) -> BoxFuture<'c, CrmResult<()>> {
        Box::pin(async move {
            if matches!(target, Target::New) {
                return Err(CrmError::internal(
                    "tracked emails are created by tracking them",
                ));
            }
            expect_owner(conn, auth, id, "change").await?;
            save_row(
                conn,
                Kind::TrackedEmail,
                auth.org_id,
                id,
                target,
                &[("visibility", valid.visibility.as_str().to_string().into())],
            )
            .await?;
            Ok(())
        })
    }
}

/// Keeps of `emails` (of `org`) what `viewer` may see: deleted ones are dropped, and the
/// private ones of other users keep only their id, direction, primary id and date (no
/// subject, links, other ids or thread): the bar then shows that the message is tracked.
pub async fn visible_to(
    conn: &mut Conn,
    org: Uuid,
    viewer: Uuid,
    emails: &mut HashMap<Uuid, TrackedEmail>,
) -> CrmResult<()> {
    if emails.is_empty() {
        return Ok(());
    }
    let mut sql = Sql::new(
        "SELECT id, owner_user_id, visibility, deleted_at FROM tracked_emails WHERE org_id = ",
    );
    sql.push_bind(id_text(org))
        .push(" AND id IN ")
        .push_list(emails.keys().map(|id| id_text(*id)));
    let rows: Vec<(String, String, String, Option<String>)> =
        sql.build_query_as().fetch_all(&mut *conn).await?;
    let mut keep: HashMap<Uuid, bool> = HashMap::with_capacity(rows.len());
    for (id, owner, visibility, deleted_at) in rows {
        if deleted_at.is_none() {
            let readable = readable(parse_visibility(&visibility)?, parse_uuid(&owner)?, viewer);
            keep.insert(parse_uuid(&id)?, readable);
        }
    }
    emails.retain(|id, _| keep.contains_key(id));
    for (id, email) in emails.iter_mut() {
        if keep.get(id) == Some(&false) {
            email.subject = String::new();
            email.links.clear();
            email.message_ids = vec![email.gmail_message_id.clone()];
            email.gmail_thread_id = None;
            email.redacted = true;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// One email, several entries: which entry a user is shown.
//
// Each user who tracks an email has their own entry (their content, visibility, links);
// entries of one email share `email_id`. Where an email appears once — the bar's state of a
// message, a timeline — a user is shown the best entry for them: their own, else a
// colleague's shared one, else a colleague's private one (redacted); the oldest first
// among equals. So colleagues read an email when at least one tracker shared it, and a
// private tracker's choice never exposes it by itself.

/// How good an entry is for `viewer` (smaller is better): [`rank_sql`] in SQL.
fn rank(owner: Uuid, visibility: Visibility, viewer: Uuid) -> u8 {
    if owner == viewer {
        0
    } else if visibility == Visibility::Shared {
        1
    } else {
        2
    }
}

/// [`rank`] of the entry aliased `alias`, for the viewer bound by `sql`.
fn push_rank_sql(sql: &mut Sql<'_>, alias: &str, viewer: Uuid) {
    sql.push(&format!("(CASE WHEN {alias}.owner_user_id = "))
        .push_bind(id_text(viewer))
        .push(&format!(
            " THEN 0 WHEN {alias}.visibility = 'shared' THEN 1 ELSE 2 END)"
        ));
}

/// For each message (all the ids a page knows for it), the live entry of `org` that
/// `viewer` is shown, if the message is tracked: the best (see above) of the entries of
/// every email that has any of the message's ids. Three queries at most.
pub async fn shown_entries(
    conn: &mut Conn,
    org: Uuid,
    viewer: Uuid,
    messages: &[Vec<String>],
) -> CrmResult<Vec<Option<Uuid>>> {
    let all: Vec<&String> = {
        let mut all: Vec<&String> = messages.iter().flatten().collect();
        all.sort();
        all.dedup();
        all
    };
    if all.is_empty() {
        return Ok(vec![None; messages.len()]);
    }
    let mut sql = Sql::new(
        "SELECT DISTINCT i.message_id, t.email_id FROM tracked_email_ids i
         JOIN tracked_emails t ON t.id = i.tracked_email_id WHERE i.org_id = ",
    );
    sql.push_bind(id_text(org))
        .push(" AND i.message_id IN ")
        .push_list(all.iter().map(|s| s.as_str()));
    let found: Vec<(String, String)> = sql.build_query_as().fetch_all(&mut *conn).await?;
    if found.is_empty() {
        return Ok(vec![None; messages.len()]);
    }
    let mut emails_of: HashMap<&str, Vec<&str>> = HashMap::new();
    for (message, email) in &found {
        emails_of.entry(message).or_default().push(email);
    }
    let mut emails: Vec<&str> = found.iter().map(|(_, e)| e.as_str()).collect();
    emails.sort_unstable();
    emails.dedup();
    let mut sql = Sql::new(
        "SELECT id, email_id, owner_user_id, visibility, created_at FROM tracked_emails
         WHERE deleted_at IS NULL AND org_id = ",
    );
    sql.push_bind(id_text(org))
        .push(" AND email_id IN ")
        .push_list(emails.iter().copied());
    let entries: Vec<(String, String, String, String, String)> =
        sql.build_query_as().fetch_all(&mut *conn).await?;
    // The best entry of each email.
    let mut best: HashMap<&str, ((u8, &str, &str), Uuid)> = HashMap::new();
    for (id, email, owner, visibility, created_at) in &entries {
        let key = (
            rank(parse_uuid(owner)?, parse_visibility(visibility)?, viewer),
            created_at.as_str(),
            id.as_str(),
        );
        let better = best.get(email.as_str()).is_none_or(|(k, _)| key < *k);
        if better {
            best.insert(email, (key, parse_uuid(id)?));
        }
    }
    Ok(messages
        .iter()
        .map(|ids| {
            ids.iter()
                .filter_map(|id| emails_of.get(id.as_str()))
                .flatten()
                .filter_map(|email| best.get(email))
                .min_by_key(|(key, _)| *key)
                .map(|(_, entry)| *entry)
        })
        .collect())
}

/// The date a timeline is ordered by: when the email was sent, else when it was tracked
/// (`tracked_emails_org_date_idx` is on it).
const DATE: &str = "COALESCE(t.sent_at, t.created_at)";

/// A timeline page's query: the ids and dates (`limit + 1` rows) of the entries `viewer`
/// is shown on the timeline of `record` (or of the whole organisation), newest first,
/// after the (date, id) `after`: one per email (see [`shown_entries`]), among the
/// entries on that timeline.
pub fn timeline_query(
    org: Uuid,
    viewer: Uuid,
    record: Option<(Kind, Uuid)>,
    after: Option<(String, String)>,
    include_deleted: bool,
    limit: u32,
) -> Sql<'static> {
    let on_timeline = |sql: &mut Sql<'static>, alias: &str| {
        if let Some((kind, id)) = record {
            sql.push(&format!(
                " AND {alias}.id IN (SELECT l.tracked_email_id FROM tracked_email_links l \
                 WHERE l.record_kind = "
            ))
            .push_bind(kind.as_str())
            .push(" AND l.record_id = ")
            .push_bind(id_text(id))
            .push(")");
        }
    };
    let mut sql = Sql::new(format!(
        "SELECT t.id, {DATE} FROM tracked_emails t WHERE t.org_id = "
    ));
    sql.push_bind(id_text(org));
    if !include_deleted {
        sql.push(" AND t.deleted_at IS NULL");
    }
    on_timeline(&mut sql, "t");
    // No better live entry of the same email on this timeline.
    sql.push(
        " AND NOT EXISTS (SELECT 1 FROM tracked_emails o WHERE o.org_id = t.org_id \
         AND o.email_id = t.email_id AND o.id <> t.id AND o.deleted_at IS NULL",
    );
    on_timeline(&mut sql, "o");
    sql.push(" AND (");
    push_rank_sql(&mut sql, "o", viewer);
    sql.push(" < ");
    push_rank_sql(&mut sql, "t", viewer);
    sql.push(" OR (");
    push_rank_sql(&mut sql, "o", viewer);
    sql.push(" = ");
    push_rank_sql(&mut sql, "t", viewer);
    sql.push(
        " AND (o.created_at < t.created_at OR (o.created_at = t.created_at AND o.id < t.id)))))",
    );
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

/// A page of a timeline: entries newest first, and the cursor of the next page.
#[derive(Debug)]
pub struct TimelinePage {
    pub entries: Vec<TrackedEmailRecord>,
    pub next_cursor: Option<String>,
}

/// A record's timeline (or, without `record`, every tracked email of the organisation) as
/// `viewer` is shown it: newest first by date (`sent_at`, else when it was tracked), keyset
/// paginated on (date, id) after `cursor`; one entry per email, the best for the viewer
/// ([`timeline_query`]). Entries come whole: show them through
/// [`TrackedEmailRecord::seen_by`]. `not_found` when `record` is not a live record of the
/// organisation. The API's `GET /tracked-emails` and the web app's Home list this.
pub async fn timeline(
    conn: &mut Conn,
    viewer: &Actor,
    record: Option<(Kind, Uuid)>,
    cursor: Option<&str>,
    include_deleted: bool,
    limit: u32,
) -> CrmResult<TimelinePage> {
    if let Some((kind, id)) = record {
        if !super::record_exists(conn, viewer.org_id, kind, id).await? {
            return Err(super::not_found(kind, id));
        }
    }
    let after = match cursor {
        None => None,
        Some(cursor) => {
            let after = super::decode_cursor("cursor", "te", cursor)?;
            let (date, id) = after.split_once('|').ok_or_else(|| {
                CrmError::new(
                    Reason::BadInput,
                    "invalid_query",
                    "cursor is not a cursor this server gave out",
                )
                .with_field("cursor")
            })?;
            Some((date.to_string(), id.to_string()))
        }
    };
    let mut sql = timeline_query(
        viewer.org_id,
        viewer.user_id,
        record,
        after,
        include_deleted,
        limit,
    );
    let mut rows: Vec<(String, String)> = sql.build_query_as().fetch_all(&mut *conn).await?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last()
            .map(|(id, date)| super::encode_cursor("te", &format!("{date}|{id}")))
    } else {
        None
    };
    let ids = rows
        .iter()
        .map(|(id, _)| parse_uuid(id))
        .collect::<Result<Vec<Uuid>, _>>()?;
    let mut entries = load(conn, viewer.org_id, &ids).await?;
    entries.sort_by_key(|r| ids.iter().position(|id| *id == r.id));
    Ok(TimelinePage {
        entries,
        next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use threadline_storage::db::{self, Engine};

    #[test]
    fn the_own_entry_beats_a_shared_one_which_beats_a_private_one() {
        let (me, other) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert_eq!(rank(me, Visibility::Private, me), 0);
        assert_eq!(rank(other, Visibility::Shared, me), 1);
        assert_eq!(rank(other, Visibility::Private, me), 2);
    }

    #[tokio::test]
    async fn a_timeline_page_reads_the_date_index() {
        let test_db = threadline_storage::testing::TestDatabase::create();
        let db = test_db.open().await;
        let after = Some((
            "2025-01-01T00:00:00.000000Z".to_string(),
            Uuid::nil().to_string(),
        ));
        let query = timeline_query(Uuid::nil(), Uuid::nil(), None, after, false, 50);
        let plan = db::query_plan(&db, query).await.expect("the plan");
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
