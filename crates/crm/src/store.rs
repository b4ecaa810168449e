//! Loaders shared by several routes. Each takes a batch of ids and runs a fixed number of
//! queries, whatever the batch's size; every query is scoped to one organisation.

use std::collections::HashMap;

use chrono::NaiveDate;
use threadline_domain::api::{
    CompanyRef, ContactSummary, Direction, RecordKind, Task, TimelineLink, TrackedEmail, UserRef,
};
use uuid::Uuid;

use crate::error::{CrmError, CrmResult};
use threadline_storage::db::{id_text, parse_time, parse_uuid, Conn, Sql};

/// "First Last", or the primary address when the contact has no name.
pub fn contact_display_name(first: &str, last: &str, primary_email: &str) -> String {
    ContactSummary {
        id: Uuid::nil(),
        first_name: first.to_string(),
        last_name: last.to_string(),
        primary_email: primary_email.to_string(),
        company: None,
    }
    .display_name()
}

/// A contact of the organisation, with its company (if any).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContactRow {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub primary_email: String,
    pub company_id: Option<String>,
    pub company_name: Option<String>,
}

impl ContactRow {
    pub fn summary(&self) -> CrmResult<ContactSummary> {
        Ok(ContactSummary {
            id: parse_uuid(&self.id)?,
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            primary_email: self.primary_email.clone(),
            company: self.company()?,
        })
    }

    pub fn company(&self) -> CrmResult<Option<CompanyRef>> {
        match (&self.company_id, &self.company_name) {
            (Some(id), Some(name)) => Ok(Some(CompanyRef {
                id: parse_uuid(id)?,
                name: name.clone(),
            })),
            _ => Ok(None),
        }
    }
}

/// The columns of [`ContactRow`], for a query `FROM contacts c` that joins
/// [`CONTACT_JOINS`].
pub const CONTACT_COLUMNS: &str = "c.id, c.first_name, c.last_name, pe.address AS primary_email, \
     co.id AS company_id, co.name AS company_name";
pub const CONTACT_JOINS: &str =
    "JOIN contact_emails pe ON pe.contact_id = c.id AND pe.position = 0 \
     LEFT JOIN companies co ON co.id = c.company_id";

/// The contacts of `org` among `ids` (missing ones are absent), by id.
pub async fn contacts_by_id(
    conn: &mut Conn,
    org: Uuid,
    ids: &[Uuid],
) -> CrmResult<HashMap<Uuid, ContactRow>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut sql = Sql::new(format!(
        "SELECT {CONTACT_COLUMNS} FROM contacts c {CONTACT_JOINS} WHERE c.org_id = "
    ));
    sql.push_bind(id_text(org))
        .push(" AND c.deleted_at IS NULL AND c.id IN ")
        .push_list(ids.iter().map(|id| id_text(*id)));
    let rows: Vec<ContactRow> = sql.build_query_as().fetch_all(&mut *conn).await?;
    rows.into_iter()
        .map(|r| Ok((parse_uuid(&r.id)?, r)))
        .collect()
}

#[derive(sqlx::FromRow)]
struct EmailRow {
    id: String,
    owner_id: String,
    owner_name: String,
    owner_email: String,
    gmail_message_id: String,
    gmail_thread_id: Option<String>,
    direction: String,
    subject: String,
    created_at: String,
}

#[derive(sqlx::FromRow)]
struct EmailIdRow {
    tracked_email_id: String,
    message_id: String,
}

#[derive(sqlx::FromRow)]
struct LinkRow {
    tracked_email_id: String,
    record_kind: String,
    record_id: String,
    first_name: Option<String>,
    last_name: Option<String>,
    primary_email: Option<String>,
    company_name: Option<String>,
}

fn parse_direction(s: &str) -> CrmResult<Direction> {
    match s {
        "incoming" => Ok(Direction::Incoming),
        "outgoing" => Ok(Direction::Outgoing),
        other => Err(CrmError::internal(format!(
            "bad direction {other:?} in the database"
        ))),
    }
}

pub fn direction_text(d: Direction) -> &'static str {
    match d {
        Direction::Incoming => "incoming",
        Direction::Outgoing => "outgoing",
    }
}

pub fn record_kind_text(k: RecordKind) -> &'static str {
    match k {
        RecordKind::Contact => "contact",
        RecordKind::Company => "company",
    }
}

/// The tracked emails of `org` among `ids`, with all their message ids (primary first,
/// then in sorted order) and their links (contacts, then companies, each by name): three
/// queries.
pub async fn tracked_emails_by_id(
    conn: &mut Conn,
    org: Uuid,
    ids: &[Uuid],
) -> CrmResult<HashMap<Uuid, TrackedEmail>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let org_text = id_text(org);
    let id_texts: Vec<String> = ids.iter().map(|id| id_text(*id)).collect();

    let mut sql = Sql::new(
        "SELECT t.id, u.id AS owner_id, u.name AS owner_name, u.email AS owner_email,
                t.gmail_message_id, t.gmail_thread_id, t.direction, t.subject, t.created_at
         FROM tracked_emails t JOIN users u ON u.id = t.owner_user_id WHERE t.org_id = ",
    );
    sql.push_bind(&org_text)
        .push(" AND t.id IN ")
        .push_list(&id_texts);
    let emails: Vec<EmailRow> = sql.build_query_as().fetch_all(&mut *conn).await?;

    let mut sql =
        Sql::new("SELECT tracked_email_id, message_id FROM tracked_email_ids WHERE org_id = ");
    sql.push_bind(&org_text)
        .push(" AND tracked_email_id IN ")
        .push_list(&id_texts)
        .push(" ORDER BY message_id");
    let email_ids: Vec<EmailIdRow> = sql.build_query_as().fetch_all(&mut *conn).await?;

    let mut sql = Sql::new(
        "SELECT l.tracked_email_id, l.record_kind, l.record_id,
                c.first_name, c.last_name, pe.address AS primary_email, co.name AS company_name
         FROM tracked_email_links l
         JOIN tracked_emails te ON te.id = l.tracked_email_id
         LEFT JOIN contacts c ON l.record_kind = 'contact' AND c.id = l.record_id
         LEFT JOIN contact_emails pe ON pe.contact_id = c.id AND pe.position = 0
         LEFT JOIN companies co ON l.record_kind = 'company' AND co.id = l.record_id
         WHERE te.org_id = ",
    );
    sql.push_bind(&org_text)
        .push(" AND l.tracked_email_id IN ")
        .push_list(&id_texts);
    let links: Vec<LinkRow> = sql.build_query_as().fetch_all(&mut *conn).await?;

    let mut out: HashMap<Uuid, TrackedEmail> = HashMap::with_capacity(emails.len());
    for e in emails {
        let id = parse_uuid(&e.id)?;
        out.insert(
            id,
            TrackedEmail {
                id,
                message_ids: vec![e.gmail_message_id.clone()],
                gmail_message_id: e.gmail_message_id,
                gmail_thread_id: e.gmail_thread_id,
                direction: parse_direction(&e.direction)?,
                subject: e.subject,
                links: Vec::new(),
                created_at: parse_time(&e.created_at)?,
                owner: Some(UserRef {
                    id: parse_uuid(&e.owner_id)?,
                    name: e.owner_name,
                    email: e.owner_email,
                }),
                redacted: false,
                // The HTTP layer's: it knows where people reach the server.
                web_url: None,
            },
        );
    }
    for row in email_ids {
        if let Some(email) = out.get_mut(&parse_uuid(&row.tracked_email_id)?) {
            if row.message_id != email.gmail_message_id {
                email.message_ids.push(row.message_id);
            }
        }
    }
    for row in links {
        let Some(email) = out.get_mut(&parse_uuid(&row.tracked_email_id)?) else {
            continue;
        };
        let (record_kind, record_name) = match row.record_kind.as_str() {
            "contact" => (
                RecordKind::Contact,
                contact_display_name(
                    row.first_name.as_deref().unwrap_or(""),
                    row.last_name.as_deref().unwrap_or(""),
                    row.primary_email.as_deref().unwrap_or(""),
                ),
            ),
            "company" => (RecordKind::Company, row.company_name.unwrap_or_default()),
            other => return Err(CrmError::internal(format!("bad record kind {other:?}"))),
        };
        email.links.push(TimelineLink {
            record_kind,
            record_id: parse_uuid(&row.record_id)?,
            record_name,
        });
    }
    for email in out.values_mut() {
        email.links.sort_by(|a, b| {
            (
                a.record_kind == RecordKind::Company,
                &a.record_name,
                a.record_id,
            )
                .cmp(&(
                    b.record_kind == RecordKind::Company,
                    &b.record_name,
                    b.record_id,
                ))
        });
    }
    Ok(out)
}

#[derive(sqlx::FromRow)]
struct TaskRow {
    id: String,
    title: String,
    description: Option<String>,
    due_date: Option<String>,
    done: i64,
    source_message_id: Option<String>,
    contact_id: Option<String>,
    created_at: String,
    assignee_id: String,
    assignee_name: String,
    assignee_email: String,
}

impl TaskRow {
    fn into_task(self) -> CrmResult<Task> {
        let due_date = match self.due_date {
            None => None,
            Some(d) => Some(NaiveDate::parse_from_str(&d, "%Y-%m-%d").map_err(|e| {
                CrmError::internal(format!("bad due date {d:?} in the database: {e}"))
            })?),
        };
        Ok(Task {
            id: parse_uuid(&self.id)?,
            title: self.title,
            description: self.description,
            due_date,
            assignee: UserRef {
                id: parse_uuid(&self.assignee_id)?,
                name: self.assignee_name,
                email: self.assignee_email,
            },
            done: self.done != 0,
            source_message_id: self.source_message_id,
            contact_id: self.contact_id.as_deref().map(parse_uuid).transpose()?,
            created_at: parse_time(&self.created_at)?,
        })
    }
}

const TASK_SELECT: &str = "SELECT t.id, t.title, t.description, t.due_date, t.done, \
     t.source_message_id, t.contact_id, t.created_at, \
     u.id AS assignee_id, u.name AS assignee_name, u.email AS assignee_email \
     FROM tasks t JOIN users u ON u.id = t.assignee_user_id WHERE t.org_id = ";

/// One task of `org`.
pub async fn task_by_id(conn: &mut Conn, org: Uuid, id: Uuid) -> CrmResult<Task> {
    let mut sql = Sql::new(TASK_SELECT);
    sql.push_bind(id_text(org))
        .push(" AND t.id = ")
        .push_bind(id_text(id));
    let row: TaskRow = sql.build_query_as().fetch_one(&mut *conn).await?;
    row.into_task()
}

/// The live tasks of `org` made from any of `message_ids`, oldest first.
pub async fn tasks_by_source(
    conn: &mut Conn,
    org: Uuid,
    message_ids: &[String],
) -> CrmResult<Vec<Task>> {
    if message_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(TASK_SELECT);
    sql.push_bind(id_text(org))
        .push(" AND t.deleted_at IS NULL AND t.source_message_id IN ")
        .push_list(message_ids)
        .push(" ORDER BY t.created_at, t.id");
    let rows: Vec<TaskRow> = sql.build_query_as().fetch_all(&mut *conn).await?;
    rows.into_iter().map(TaskRow::into_task).collect()
}

/// The entry of `owner` (in `org`) that each of `message_ids` belongs to: a message id
/// belongs to at most one entry of each user.
pub async fn own_tracked_email_ids_of(
    conn: &mut Conn,
    org: Uuid,
    owner: Uuid,
    message_ids: &[String],
) -> CrmResult<HashMap<String, Uuid>> {
    if message_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut sql =
        Sql::new("SELECT tracked_email_id, message_id FROM tracked_email_ids WHERE org_id = ");
    sql.push_bind(id_text(org))
        .push(" AND owner_user_id = ")
        .push_bind(id_text(owner))
        .push(" AND message_id IN ")
        .push_list(message_ids);
    let rows: Vec<EmailIdRow> = sql.build_query_as().fetch_all(&mut *conn).await?;
    rows.into_iter()
        .map(|r| Ok((r.message_id, parse_uuid(&r.tracked_email_id)?)))
        .collect()
}

/// Stored form of a due date.
pub fn date_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}
