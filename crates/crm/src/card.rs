//! A contact's card ([`ContactCard`]): what the contact panel beside a Gmail thread shows,
//! read in one snapshot with a fixed number of bounded queries (eight), whatever the size of
//! the contact's timeline, tasks or documents.
//!
//! - the contact, its phones (the first [`CARD_PHONES`]) and company;
//! - the last [`CARD_EMAILS`] tracked emails of its timeline, one per email and the best
//!   entry for the reader, as the timeline shows them
//!   ([`crate::records::tracked_emails::timeline_query`]); a colleague's private entry is
//!   redacted: no subject, only that it is tracked and by whom;
//! - its open tasks (not done, not deleted), due first and soonest first, then undated,
//!   oldest first: the first [`CARD_TASKS`] and how many there are;
//! - its documents: how many files (live) its tree holds, and the [`CARD_DOCUMENTS`] most
//!   recently changed;
//! - `web_url`: the contact's page in Threadline's web app — left absent here: the HTTP
//!   layer knows where people reach the server and fills it in (the panel shows "Open in
//!   Threadline" only when it is there).

use threadline_domain::api::{
    CardDocument, CardEmail, CardPhone, CardTask, ContactCard, ContactSummary, Direction, UserRef,
};
use threadline_domain::card::{CARD_DOCUMENTS, CARD_EMAILS, CARD_PHONES, CARD_TASKS};
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::{CrmError, CrmResult};
use crate::records::contacts::Contact;
use crate::records::tracked_emails::{parse_visibility, readable, timeline_query};
use crate::records::{not_found, Kind, Record};
use threadline_storage::db::{id_text, parse_time, parse_uuid, Conn, Sql};

/// The card of contact `id` of the actor's organisation, as the actor may see it; 404 when
/// the organisation has no such live contact.
pub async fn contact_card(conn: &mut Conn, actor: &Actor, id: Uuid) -> CrmResult<ContactCard> {
    let org = actor.org_id;
    let contact = Contact::load(conn, org, &[id])
        .await?
        .pop()
        .filter(|c| c.meta.deleted_at.is_none())
        .ok_or_else(|| not_found(Kind::Contact, id))?;
    let (emails, more_emails) = last_emails(conn, actor, id).await?;
    let (open_tasks, open_task_count) = open_tasks(conn, org, id).await?;
    let (documents, document_count) = documents(conn, org, id).await?;
    Ok(ContactCard {
        contact: ContactSummary {
            id: contact.id,
            first_name: contact.first_name,
            last_name: contact.last_name,
            primary_email: contact.primary_email,
            company: contact.company,
        },
        job_title: contact.job_title,
        phones: contact
            .phones
            .into_iter()
            .take(CARD_PHONES)
            .map(|p| CardPhone {
                number: p.number,
                label: p.label,
            })
            .collect(),
        emails,
        more_emails,
        open_tasks,
        open_task_count,
        document_count,
        documents,
        web_url: None,
    })
}

#[derive(sqlx::FromRow)]
struct EmailRow {
    id: String,
    owner_id: String,
    owner_name: String,
    owner_email: String,
    visibility: String,
    direction: String,
    subject: String,
    date: String,
}

async fn last_emails(
    conn: &mut Conn,
    actor: &Actor,
    contact: Uuid,
) -> CrmResult<(Vec<CardEmail>, bool)> {
    let limit = CARD_EMAILS as u32;
    let mut sql = timeline_query(
        actor.org_id,
        actor.user_id,
        Some((Kind::Contact, contact)),
        None,
        false,
        limit,
    );
    let mut rows: Vec<(String, String)> = sql.build_query_as().fetch_all(&mut *conn).await?;
    let more = rows.len() > CARD_EMAILS;
    rows.truncate(CARD_EMAILS);
    if rows.is_empty() {
        return Ok((Vec::new(), more));
    }
    let mut sql = Sql::new(
        "SELECT t.id, u.id AS owner_id, u.name AS owner_name, u.email AS owner_email, \
         t.visibility, t.direction, t.subject, COALESCE(t.sent_at, t.created_at) AS date \
         FROM tracked_emails t JOIN users u ON u.id = t.owner_user_id WHERE t.org_id = ",
    );
    sql.push_bind(id_text(actor.org_id))
        .push(" AND t.id IN ")
        .push_list(rows.iter().map(|(id, _)| id.clone()));
    let found: Vec<EmailRow> = sql.build_query_as().fetch_all(&mut *conn).await?;
    let mut emails = Vec::with_capacity(rows.len());
    // In the timeline's order (newest first).
    for (id, _) in &rows {
        let Some(r) = found.iter().find(|r| &r.id == id) else {
            continue;
        };
        let owner = UserRef {
            id: parse_uuid(&r.owner_id)?,
            name: r.owner_name.clone(),
            email: r.owner_email.clone(),
        };
        let redacted = !readable(parse_visibility(&r.visibility)?, owner.id, actor.user_id);
        emails.push(CardEmail {
            id: parse_uuid(&r.id)?,
            direction: match r.direction.as_str() {
                "outgoing" => Direction::Outgoing,
                _ => Direction::Incoming,
            },
            date: parse_time(&r.date)?,
            subject: if redacted {
                String::new()
            } else {
                r.subject.clone()
            },
            owner,
            redacted,
        });
    }
    Ok((emails, more))
}

/// How many rows `from` (a `FROM … WHERE` clause on `$1` the organisation and `$2` the
/// contact) selects.
async fn count_of(conn: &mut Conn, from: &str, org: Uuid, contact: Uuid) -> CrmResult<u32> {
    let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*){from}"))
        .bind(id_text(org))
        .bind(id_text(contact))
        .fetch_one(&mut *conn)
        .await?;
    Ok(u32::try_from(count).unwrap_or(u32::MAX))
}

/// The live, not done tasks linked to the contact (`linked_kind`/`linked_id`, which the
/// bar's `contact_id` fills too).
const OPEN_TASKS: &str = " FROM tasks t WHERE t.org_id = $1 AND t.linked_kind = 'contact' \
     AND t.linked_id = $2 AND t.done = 0 AND t.deleted_at IS NULL";

async fn open_tasks(conn: &mut Conn, org: Uuid, contact: Uuid) -> CrmResult<(Vec<CardTask>, u32)> {
    let count = count_of(conn, OPEN_TASKS, org, contact).await?;
    if count == 0 {
        return Ok((Vec::new(), 0));
    }
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(&format!(
        "SELECT t.id, t.title, t.due_date{OPEN_TASKS} \
         ORDER BY CASE WHEN t.due_date IS NULL THEN 1 ELSE 0 END, t.due_date, t.created_at, t.id \
         LIMIT {CARD_TASKS}"
    ))
    .bind(id_text(org))
    .bind(id_text(contact))
    .fetch_all(&mut *conn)
    .await?;
    let tasks = rows
        .into_iter()
        .map(|(id, title, due)| {
            Ok(CardTask {
                id: parse_uuid(&id)?,
                title,
                due_date: due
                    .map(|d| {
                        chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").map_err(|e| {
                            CrmError::internal(format!("bad due date {d:?} in the database: {e}"))
                        })
                    })
                    .transpose()?,
            })
        })
        .collect::<CrmResult<Vec<_>>>()?;
    Ok((tasks, count))
}

/// The live files of the contact's document tree (folders are not counted).
const FILES: &str = " FROM document_nodes WHERE org_id = $1 AND record_kind = 'contact' \
     AND record_id = $2 AND kind = 'file' AND deleted_at IS NULL";

async fn documents(
    conn: &mut Conn,
    org: Uuid,
    contact: Uuid,
) -> CrmResult<(Vec<CardDocument>, u32)> {
    let count = count_of(conn, FILES, org, contact).await?;
    if count == 0 {
        return Ok((Vec::new(), 0));
    }
    let rows: Vec<(String, String)> = sqlx::query_as(&format!(
        "SELECT id, name{FILES} ORDER BY updated_at DESC, id DESC LIMIT {CARD_DOCUMENTS}"
    ))
    .bind(id_text(org))
    .bind(id_text(contact))
    .fetch_all(&mut *conn)
    .await?;
    let documents = rows
        .into_iter()
        .map(|(id, name)| {
            Ok(CardDocument {
                id: parse_uuid(&id)?,
                name,
            })
        })
        .collect::<CrmResult<Vec<_>>>()?;
    Ok((documents, count))
}
