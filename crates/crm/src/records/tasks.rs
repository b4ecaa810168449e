//! Tasks: `/api/v1/tasks` (list, search by title, get, create, PUT, PATCH, delete).
//!
//! The answer is a superset of the bar's `threadline_domain::api::Task`; `POST /tasks` is
//! still the bar's (`routes/tasks.rs`: its `NewTask` is a valid input, its answer the bar's
//! `Task`, with `Idempotency-Key`).
//!
//! Checks: `title` 1 to 200 characters after trimming; `description` at most
//! [`MAX_DESCRIPTION_CHARS`]; `assignee_id` a user of the organisation (absent: the caller);
//! `linked` `{kind, id}` a live record of the organisation (`contact_id` is the bar's
//! shorthand for a linked contact, and is what the answer shows for one);
//! `source_message_id` a message id, stored normalised like tracked emails' ids, so that
//! the tracked-state query finds the task.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use threadline_domain::api::UserRef;
use uuid::Uuid;

use super::fields::opt_text;
use super::meetings::Link;
use super::products::name_search;
use super::{load_rows, record_exists, save_row, Kind, Meta, MetaRow, Target, META_COLUMNS};
use super::{Editable, Record};
use crate::actor::Actor;
use crate::error::{CrmError, CrmResult};
use crate::ids::normalize_message_id;
use crate::validate::{self, MAX_NAME_CHARS};
use threadline_storage::db::{id_text, parse_uuid, BoxFuture, Conn, Sql};

/// Longest task description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 20_000;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Task {
    pub id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub due_date: Option<NaiveDate>,
    pub assignee_id: Uuid,
    /// The assignee's name and address (derived from `assignee_id`).
    pub assignee: UserRef,
    pub done: bool,
    pub linked: Option<Link>,
    /// The linked contact, when the linked record is one (the bar reads it).
    pub contact_id: Option<Uuid>,
    pub source_message_id: Option<String>,
    pub gmail_thread_id: Option<String>,
    #[serde(flatten)]
    pub meta: Meta,
}

/// POST and PUT body; a superset of the bar's `NewTask`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskInput {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gmail_thread_id: Option<String>,
    /// The bar's way to link a contact: `linked: {kind: contact, id}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linked: Option<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub done: bool,
}

pub struct ValidTask {
    title: String,
    description: Option<String>,
    due_date: Option<String>,
    source_message_id: Option<String>,
    gmail_thread_id: Option<String>,
    /// The linked record and the field to blame when it is not there.
    linked: Option<(Kind, Uuid, &'static str)>,
    assignee_id: Option<Uuid>,
    done: bool,
}

#[derive(sqlx::FromRow)]
struct Row {
    #[sqlx(flatten)]
    meta: MetaRow,
    title: String,
    description: Option<String>,
    due_date: Option<String>,
    done: i64,
    source_message_id: Option<String>,
    gmail_thread_id: Option<String>,
    linked_kind: Option<String>,
    linked_id: Option<String>,
    assignee_user_id: String,
    assignee_name: String,
    assignee_email: String,
}

/// Whose tasks a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whose {
    /// Assigned to the actor.
    Mine,
    /// Everyone's in the organisation.
    Everyone,
}

/// Which tasks a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Open,
    Done,
    /// Open, and due before `today`.
    Overdue,
}

/// A list of tasks: whose, which, and the day it is for the one who asks (overdue is
/// before it).
#[derive(Debug, Clone, Copy)]
pub struct TaskFilter {
    pub whose: Whose,
    pub status: Status,
    pub today: NaiveDate,
}

/// A page of a task list, and the cursor of the next if there is one.
#[derive(Debug)]
pub struct TaskPage {
    pub items: Vec<Task>,
    pub next_cursor: Option<String>,
}

/// The live tasks of `actor`'s organisation that `filter` picks, the soonest due first
/// (those without a due date after them), at most `limit`: Home.
pub async fn list(
    conn: &mut Conn,
    actor: &Actor,
    filter: TaskFilter,
    limit: i64,
) -> CrmResult<Vec<Task>> {
    Ok(list_page(conn, actor, filter, None, limit).await?.items)
}

/// A page of [`list`]: the `limit` tasks after the task `after` (a keyset cursor: the last
/// task of the page before, in the list's order), with the cursor of the next page: the
/// web app's Tasks. `invalid_query` for a cursor this list did not give.
pub async fn list_page(
    conn: &mut Conn,
    actor: &Actor,
    filter: TaskFilter,
    after: Option<&str>,
    limit: i64,
) -> CrmResult<TaskPage> {
    let after = after
        .map(|c| {
            let id = super::decode_cursor("cursor", "task", c)?;
            Uuid::parse_str(&id).map_err(|_| {
                CrmError::new(
                    crate::error::Reason::BadInput,
                    "invalid_query",
                    "cursor is not a cursor this server gave out",
                )
                .with_field("cursor")
            })
        })
        .transpose()?;
    let mut sql = Sql::new("SELECT id FROM tasks WHERE deleted_at IS NULL AND org_id = ");
    sql.push_bind(id_text(actor.org_id));
    if filter.whose == Whose::Mine {
        sql.push(" AND assignee_user_id = ")
            .push_bind(id_text(actor.user_id));
    }
    match filter.status {
        Status::Open => {
            sql.push(" AND done = 0");
        }
        Status::Done => {
            sql.push(" AND done = 1");
        }
        Status::Overdue => {
            sql.push(" AND done = 0 AND due_date < ")
                .push_bind(filter.today.format("%Y-%m-%d").to_string());
        }
    }
    const KEY: &str =
        "CASE WHEN due_date IS NULL THEN 1 ELSE 0 END, COALESCE(due_date, ''), created_at, id";
    if let Some(after) = after {
        sql.push(&format!(
            " AND ({KEY}) > (SELECT {KEY} FROM tasks WHERE id = "
        ))
        .push_bind(id_text(after))
        .push(" AND org_id = ")
        .push_bind(id_text(actor.org_id))
        .push(")");
    }
    sql.push(&format!(" ORDER BY {KEY} LIMIT "))
        .push_bind(limit.saturating_add(1));
    let mut ids: Vec<String> = sql.build_query_scalar().fetch_all(&mut *conn).await?;
    let more = ids.len() as i64 > limit;
    ids.truncate(limit.max(0) as usize);
    let items = super::load_in_order(conn, actor.org_id, &ids, |t: &Task| t.id).await?;
    let next_cursor = more
        .then(|| ids.last().map(|id| super::encode_cursor("task", id)))
        .flatten();
    Ok(TaskPage { items, next_cursor })
}

/// `actor`'s open tasks, the soonest due first (those without a due date after them), at
/// most `limit`: the web app's Home.
pub async fn open_of(conn: &mut Conn, actor: &Actor, limit: i64) -> CrmResult<Vec<Task>> {
    let filter = TaskFilter {
        whose: Whose::Mine,
        status: Status::Open,
        today: NaiveDate::MIN,
    };
    list(conn, actor, filter, limit).await
}

impl TaskInput {
    /// The input that gives `task` back as it is (to change some of it).
    pub fn of(task: &Task) -> TaskInput {
        TaskInput {
            title: task.title.clone(),
            description: task.description.clone(),
            due_date: task.due_date,
            source_message_id: task.source_message_id.clone(),
            gmail_thread_id: task.gmail_thread_id.clone(),
            contact_id: None,
            linked: task.linked.clone(),
            assignee_id: Some(task.assignee_id),
            done: task.done,
        }
    }
}

/// The tasks linked to record (`kind`, `id`) of `actor`'s organisation, not deleted: the
/// open ones first, the soonest due first (undated after them), at most `limit`.
pub async fn linked_to(
    conn: &mut Conn,
    actor: &Actor,
    kind: Kind,
    id: Uuid,
    limit: i64,
) -> CrmResult<Vec<Task>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM tasks WHERE org_id = $1 AND linked_kind = $2 AND linked_id = $3 \
         AND deleted_at IS NULL \
         ORDER BY done, CASE WHEN due_date IS NULL THEN 1 ELSE 0 END, due_date, id LIMIT $4",
    )
    .bind(id_text(actor.org_id))
    .bind(kind.as_str())
    .bind(id_text(id))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    super::load_in_order(conn, actor.org_id, &ids, |t: &Task| t.id).await
}

impl Record for Task {
    const KIND: Kind = Kind::Task;
    const DERIVED: &'static [&'static str] = &["assignee", "contact_id"];

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
        Box::pin(async move {
            let rows: Vec<Row> = load_rows(
                conn,
                org,
                ids,
                &format!(
                    "SELECT {META_COLUMNS}, t.title, t.description, t.due_date, t.done, \
                 t.source_message_id, t.gmail_thread_id, t.linked_kind, t.linked_id, \
                 t.assignee_user_id, u.name AS assignee_name, u.email AS assignee_email \
                 FROM tasks t JOIN users u ON u.id = t.assignee_user_id"
                ),
            )
            .await?;
            rows.into_iter()
                .map(|r| {
                    let linked = match (r.linked_kind, r.linked_id) {
                        (Some(kind), Some(id)) => Some(Link {
                            kind,
                            id: parse_uuid(&id)?,
                        }),
                        _ => None,
                    };
                    let assignee_id = parse_uuid(&r.assignee_user_id)?;
                    Ok(Task {
                        id: r.meta.uuid()?,
                        title: r.title,
                        description: r.description,
                        due_date: r
                            .due_date
                            .as_deref()
                            .map(|d| {
                                NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|e| {
                                    CrmError::internal(format!(
                                        "bad due date {d:?} in the database: {e}"
                                    ))
                                })
                            })
                            .transpose()?,
                        assignee_id,
                        assignee: UserRef {
                            id: assignee_id,
                            name: r.assignee_name,
                            email: r.assignee_email,
                        },
                        done: r.done != 0,
                        contact_id: linked
                            .as_ref()
                            .filter(|l| l.kind == "contact")
                            .map(|l| l.id),
                        linked,
                        source_message_id: r.source_message_id,
                        gmail_thread_id: r.gmail_thread_id,
                        meta: r.meta.meta()?,
                    })
                })
                .collect()
        })
    }

    fn search(sql: &mut Sql<'_>, _org: Uuid, q: &str) -> CrmResult<()> {
        name_search(sql, q, &["t.title"]);
        Ok(())
    }
}

impl Editable for Task {
    type Input = TaskInput;
    type Valid = ValidTask;

    fn validate(input: TaskInput) -> CrmResult<ValidTask> {
        let title = validate::required_text("title", &input.title, MAX_NAME_CHARS)?;
        let description = validate::optional_multiline_text(
            "description",
            input.description.as_deref(),
            MAX_DESCRIPTION_CHARS,
        )?;
        let source_message_id = match input.source_message_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(
                normalize_message_id(raw).map_err(|e| CrmError::invalid("source_message_id", e))?,
            ),
        };
        let gmail_thread_id = opt_text("gmail_thread_id", input.gmail_thread_id.as_deref(), 512)?
            .map(|t| t.trim_start_matches('#').to_string());
        let linked = match (&input.linked, input.contact_id) {
            (Some(link), contact) => {
                let kind = Kind::parse(&link.kind).ok_or_else(|| {
                    CrmError::invalid(
                        "linked.kind",
                        format!(
                            "{:?} is not a kind of record (company, contact, project, …)",
                            link.kind
                        ),
                    )
                })?;
                if contact.is_some_and(|c| kind != Kind::Contact || c != link.id) {
                    return Err(CrmError::invalid(
                        "contact_id",
                        "contact_id and linked name different records: give one of them",
                    ));
                }
                Some((kind, link.id, "linked.id"))
            }
            (None, Some(contact)) => Some((Kind::Contact, contact, "contact_id")),
            (None, None) => None,
        };
        Ok(ValidTask {
            title,
            description,
            due_date: input.due_date.map(|d| d.format("%Y-%m-%d").to_string()),
            source_message_id,
            gmail_thread_id,
            linked,
            assignee_id: input.assignee_id,
            done: input.done,
        })
    }

    fn save<'c>(
        conn: &'c mut Conn,
        auth: &'c Actor,
        id: Uuid,
        target: Target,
        valid: &'c ValidTask,
    ) -> BoxFuture<'c, CrmResult<()>> {
        Box::pin(async move {
            let org = auth.org_id;
            let assignee = valid.assignee_id.unwrap_or(auth.user_id);
            let member: Option<i64> =
                sqlx::query_scalar("SELECT 1 FROM users WHERE org_id = $1 AND id = $2")
                    .bind(id_text(org))
                    .bind(id_text(assignee))
                    .fetch_optional(&mut *conn)
                    .await?;
            if member.is_none() {
                return Err(CrmError::unknown_record(
                    "assignee_id",
                    format!("there is no user with id {assignee} in your organisation"),
                ));
            }
            if let Some((kind, record, field)) = valid.linked {
                if (kind == Kind::Task && record == id)
                    || !record_exists(conn, org, kind, record).await?
                {
                    return Err(CrmError::unknown_record(
                        field,
                        format!("there is no {kind} with id {record}"),
                    ));
                }
            }
            let linked_kind = valid.linked.map(|(k, _, _)| k.as_str().to_string());
            let linked_id = valid.linked.map(|(_, id, _)| id);
            let contact_id = valid
                .linked
                .filter(|(k, _, _)| *k == Kind::Contact)
                .map(|(_, id, _)| id);
            save_row(
                conn,
                Kind::Task,
                org,
                id,
                target,
                &[
                    ("title", valid.title.clone().into()),
                    ("description", valid.description.clone().into()),
                    ("due_date", valid.due_date.clone().into()),
                    ("assignee_user_id", id_text(assignee).into()),
                    ("done", valid.done.into()),
                    ("source_message_id", valid.source_message_id.clone().into()),
                    ("gmail_thread_id", valid.gmail_thread_id.clone().into()),
                    ("linked_kind", linked_kind.into()),
                    ("linked_id", linked_id.into()),
                    ("contact_id", contact_id.into()),
                ],
            )
            .await?;
            Ok(())
        })
    }
}
