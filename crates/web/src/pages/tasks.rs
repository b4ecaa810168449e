//! Tasks: `/tasks` (mine or everyone's; open, done or overdue; soonest due first; "Done" on
//! each; a form to add one) and `/tasks/{id}` (a task, its edit form). The list and its
//! filters are the model's (`tasks::list`); a change is the record framework's
//! (`records::create`/`records::update`: a stale version is refused, never overwritten).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::NaiveDate;
use serde::Deserialize;
use threadline_crm::accounts;
use threadline_crm::records::tasks::{self, Status, Task, TaskFilter, TaskInput, Whose};
use threadline_crm::records::tracked_emails;
use threadline_crm::records::{self, Editable, Kind};
use threadline_crm::{CrmError, Reason};
use threadline_domain::api::UserRef;
use threadline_http::AppState;
use threadline_storage::db::Conn;
use uuid::Uuid;

use super::auth::safe_next;
use crate::error::WebError;
use crate::i18n::{Lang, Words};
use crate::layout::{render, Layout, Section};
use crate::session::Viewer;

/// The most tasks a list shows.
const LIST_LIMIT: i64 = 50;

/// `?whose=mine|everyone&show=open|done|overdue`.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    whose: Option<String>,
    show: Option<String>,
    /// The page after this cursor (the model's keyset).
    cursor: Option<String>,
}

impl ListQuery {
    fn whose(&self) -> Whose {
        match self.whose.as_deref() {
            Some("everyone") => Whose::Everyone,
            _ => Whose::Mine,
        }
    }

    fn status(&self) -> Status {
        match self.show.as_deref() {
            Some("done") => Status::Done,
            Some("overdue") => Status::Overdue,
            _ => Status::Open,
        }
    }
}

fn whose_tag(whose: Whose) -> &'static str {
    match whose {
        Whose::Mine => "mine",
        Whose::Everyone => "everyone",
    }
}

fn status_tag(status: Status) -> &'static str {
    match status {
        Status::Open => "open",
        Status::Done => "done",
        Status::Overdue => "overdue",
    }
}

/// A task as a row of the list or a page: the task, and the tracked email it came from as
/// the viewer is shown it (the page of that entry).
pub struct Row {
    pub task: Task,
    pub email: Option<Uuid>,
}

/// What was typed into a task's form, to show it again with what is wrong.
#[derive(Debug, Default)]
pub struct Typed {
    pub title: String,
    pub due_date: String,
    pub assignee: String,
    pub description: String,
}

#[derive(Template)]
#[template(path = "tasks/list.html")]
struct ListPage {
    l: Layout,
    w: &'static Words,
    rows: Vec<Row>,
    whose: &'static str,
    show: &'static str,
    today: NaiveDate,
    users: Vec<UserRef>,
    typed: Typed,
    problem: Option<String>,
    /// The next page; the first page's link when this is not it.
    next_href: Option<String>,
    first_href: Option<String>,
}

#[derive(Template)]
#[template(path = "tasks/task.html")]
struct TaskPage {
    l: Layout,
    w: &'static Words,
    row: Row,
    today: NaiveDate,
    users: Vec<UserRef>,
    typed: Typed,
    notice: Option<&'static str>,
    problem: Option<String>,
}

/// What the pages of tasks share: the words of a state, the links of a task.
trait Tasks {
    fn words(&self) -> &'static Words;
    fn today(&self) -> NaiveDate;

    fn late(&self, task: &Task) -> bool {
        !task.done && task.due_date.is_some_and(|d| d < self.today())
    }

    /// The linked record's page and the word for its kind.
    fn linked(&self, task: &Task) -> Option<(String, &'static str)> {
        let link = task.linked.as_ref()?;
        let kind = Kind::parse(&link.kind)?;
        let w = self.words();
        let word = match kind {
            Kind::Company => w.email_company,
            Kind::Contact => w.email_contact,
            Kind::Project => w.nav_projects,
            Kind::Meeting => w.nav_meetings,
            Kind::Product => w.nav_products,
            _ => w.task_linked,
        };
        Some((
            format!("/{}/{}", kind.table().replace('_', "-"), link.id),
            word,
        ))
    }
}

impl Tasks for ListPage {
    fn words(&self) -> &'static Words {
        self.w
    }
    fn today(&self) -> NaiveDate {
        self.today
    }
}

impl TaskPage {
    /// Where the "Done" form comes back to: this page.
    fn back(&self, task: &Task) -> String {
        format!("/tasks/{}", task.id)
    }
}

impl Tasks for TaskPage {
    fn words(&self) -> &'static Words {
        self.w
    }
    fn today(&self) -> NaiveDate {
        self.today
    }
}

impl ListPage {
    /// `aria-current` of a filter link.
    fn current(&self, whose: &str, show: &str) -> &'static str {
        if self.whose == whose && self.show == show {
            "page"
        } else {
            "false"
        }
    }

    /// Where a task's "Done" form comes back to: this list.
    fn back(&self, _task: &Task) -> String {
        format!("/tasks?whose={}&show={}", self.whose, self.show)
    }
}

/// The tracked email each task came from, as `viewer` is shown it.
async fn with_emails(
    conn: &mut Conn,
    viewer: &Viewer,
    tasks: Vec<Task>,
) -> Result<Vec<Row>, CrmError> {
    let messages: Vec<Vec<String>> = tasks
        .iter()
        .map(|t| t.source_message_id.iter().cloned().collect())
        .collect();
    let shown =
        tracked_emails::shown_entries(conn, viewer.org_id, viewer.user_id, &messages).await?;
    Ok(tasks
        .into_iter()
        .zip(shown)
        .map(|(task, email)| Row { task, email })
        .collect())
}

async fn list_page(
    app: &AppState,
    viewer: &Viewer,
    query: &ListQuery,
    typed: Typed,
    problem: Option<String>,
) -> Result<ListPage, WebError> {
    let w = viewer.words();
    let lang = viewer.lang;
    let mut conn = super::conn(app, lang).await?;
    let filter = TaskFilter {
        whose: query.whose(),
        status: query.status(),
        today: viewer.clock().today(),
    };
    let cursor = query.cursor.as_deref().filter(|c| !c.is_empty());
    let page = tasks::list_page(&mut conn, viewer, filter, cursor, LIST_LIMIT)
        .await
        .map_err(WebError::crm(lang))?;
    let here = format!(
        "/tasks?whose={}&show={}",
        whose_tag(filter.whose),
        status_tag(filter.status)
    );
    let next_href = page.next_cursor.map(|c| format!("{here}&cursor={c}"));
    let first_href = cursor.map(|_| here);
    let rows = with_emails(&mut conn, viewer, page.items)
        .await
        .map_err(WebError::crm(lang))?;
    let users = accounts::users_of(&mut conn, viewer.org_id)
        .await
        .map_err(|e| WebError::crm(lang)(e.into()))?;
    Ok(ListPage {
        l: Layout::for_viewer(viewer, w.tasks_title, Section::Tasks),
        w,
        rows,
        whose: whose_tag(filter.whose),
        show: status_tag(filter.status),
        today: filter.today,
        users,
        typed,
        problem,
        next_href,
        first_href,
    })
}

pub async fn list(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(query): Query<ListQuery>,
) -> Result<Response, WebError> {
    let typed = Typed {
        assignee: viewer.user_id.to_string(),
        ..Typed::default()
    };
    let page = list_page(&app, &viewer, &query, typed, None).await?;
    Ok(render(&page))
}

/// The add and edit forms.
#[derive(Debug, Deserialize)]
pub struct TaskForm {
    csrf: String,
    title: String,
    #[serde(default)]
    due_date: String,
    #[serde(default)]
    assignee: String,
    #[serde(default)]
    description: Option<String>,
    /// The version the edit form was made from.
    #[serde(default)]
    version: Option<i64>,
}

impl TaskForm {
    fn typed(&self) -> Typed {
        Typed {
            title: self.title.clone(),
            due_date: self.due_date.clone(),
            assignee: self.assignee.clone(),
            description: self.description.clone().unwrap_or_default(),
        }
    }

    /// The due date and assignee as the model takes them; a value the browser would not
    /// send is the field's problem, said in the model's words.
    fn due_and_assignee(&self) -> Result<(Option<NaiveDate>, Option<Uuid>), CrmError> {
        let due = match self.due_date.trim() {
            "" => None,
            d => Some(NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                CrmError::invalid("due_date", format!("{d:?} is not a date (YYYY-MM-DD)"))
            })?),
        };
        let assignee = match self.assignee.trim() {
            "" => None,
            a => Some(Uuid::parse_str(a).map_err(|_| {
                CrmError::invalid("assignee_id", format!("{a:?} is not a user's id"))
            })?),
        };
        Ok((due, assignee))
    }
}

/// A refusal the person can act on (a field's value), or none.
fn field_problem(error: &CrmError, w: &'static Words) -> Option<String> {
    match error.reason() {
        Some(Reason::BadInput | Reason::Unacceptable) => crate::error::refusal(error, w),
        _ => None,
    }
}

pub async fn create(
    State(app): State<AppState>,
    viewer: Viewer,
    Query(query): Query<ListQuery>,
    Form(form): Form<TaskForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let lang = viewer.lang;
    let created = async {
        let (due_date, assignee_id) = form.due_and_assignee()?;
        let input = TaskInput {
            title: form.title.clone(),
            description: None,
            due_date,
            source_message_id: None,
            gmail_thread_id: None,
            contact_id: None,
            linked: None,
            assignee_id,
            done: false,
        };
        let valid = Task::validate(input)?;
        records::create::<Task>(app.db(), &viewer, &valid).await
    }
    .await;
    match created {
        Ok(_) => Ok(Redirect::to(&format!(
            "/tasks?whose={}&show={}",
            whose_tag(query.whose()),
            status_tag(query.status())
        ))
        .into_response()),
        Err(e) => match field_problem(&e, viewer.words()) {
            Some(problem) => {
                let page = list_page(&app, &viewer, &query, form.typed(), Some(problem)).await?;
                Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
            }
            None => Err(WebError::from_crm(e, lang)),
        },
    }
}

fn parse_id(raw: &str, lang: Lang) -> Result<Uuid, WebError> {
    Uuid::parse_str(raw).map_err(|_| WebError::NotFound(lang))
}

async fn task_page(
    app: &AppState,
    viewer: &Viewer,
    id: Uuid,
    typed: Option<Typed>,
    notice: Option<&'static str>,
    problem: Option<String>,
) -> Result<TaskPage, WebError> {
    let w = viewer.words();
    let lang = viewer.lang;
    let mut conn = super::conn(app, lang).await?;
    let task: Task = records::edit::get(&mut conn, viewer.org_id, id)
        .await
        .map_err(WebError::crm(lang))?;
    let typed = typed.unwrap_or_else(|| Typed {
        title: task.title.clone(),
        due_date: task.due_date.map(|d| d.to_string()).unwrap_or_default(),
        assignee: task.assignee_id.to_string(),
        description: task.description.clone().unwrap_or_default(),
    });
    let title = task.title.clone();
    let row = with_emails(&mut conn, viewer, vec![task])
        .await
        .map_err(WebError::crm(lang))?
        .pop()
        .ok_or(WebError::NotFound(lang))?;
    let users = accounts::users_of(&mut conn, viewer.org_id)
        .await
        .map_err(|e| WebError::crm(lang)(e.into()))?;
    Ok(TaskPage {
        l: Layout::for_viewer(viewer, &title, Section::Tasks),
        w,
        row,
        today: viewer.clock().today(),
        users,
        typed,
        notice,
        problem,
    })
}

/// `?saved=1` after an edit.
#[derive(Debug, Default, Deserialize)]
pub struct SavedQuery {
    saved: Option<String>,
}

pub async fn show(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
    Query(query): Query<SavedQuery>,
) -> Result<Response, WebError> {
    let id = parse_id(&raw, viewer.lang)?;
    let notice = query.saved.is_some().then_some(viewer.words().task_saved);
    Ok(render(
        &task_page(&app, &viewer, id, None, notice, None).await?,
    ))
}

/// A stale version: the task as it is now, saying so (409).
async fn stale(app: &AppState, viewer: &Viewer, id: Uuid) -> Result<Response, WebError> {
    let page = task_page(
        app,
        viewer,
        id,
        None,
        None,
        Some(viewer.words().task_stale.to_string()),
    )
    .await?;
    Ok((StatusCode::CONFLICT, render(&page)).into_response())
}

fn is_stale(error: &CrmError) -> bool {
    matches!(
        error,
        CrmError::Request {
            reason: Reason::StaleVersion,
            ..
        }
    )
}

/// Changes the live task `id` of the viewer's organisation, last seen at `version` (else
/// as it is now): `edit` changes its input as it is now; the model checks and writes it.
async fn change(
    app: &AppState,
    viewer: &Viewer,
    id: Uuid,
    version: Option<i64>,
    edit: impl FnOnce(&Task, &mut TaskInput) -> Result<(), CrmError>,
) -> Result<Task, CrmError> {
    let task: Task = {
        let mut conn = app.db().pool().acquire().await?;
        records::edit::get(&mut conn, viewer.org_id, id).await?
    };
    let mut input = TaskInput::of(&task);
    edit(&task, &mut input)?;
    let valid = Task::validate(input)?;
    let version = version.unwrap_or(task.meta.version);
    records::update::<Task>(app.db(), viewer, id, version, &valid).await
}

pub async fn edit(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
    Form(form): Form<TaskForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let lang = viewer.lang;
    let id = parse_id(&raw, lang)?;
    let saved = change(&app, &viewer, id, form.version, |task, input| {
        let (due_date, assignee_id) = form.due_and_assignee()?;
        input.title = form.title.clone();
        input.description = form.description.clone().filter(|d| !d.trim().is_empty());
        input.due_date = due_date;
        input.assignee_id = assignee_id.or(Some(task.assignee_id));
        Ok(())
    })
    .await;
    match saved {
        Ok(_) => Ok(Redirect::to(&format!("/tasks/{id}?saved=1")).into_response()),
        Err(e) if is_stale(&e) => stale(&app, &viewer, id).await,
        Err(e) => match field_problem(&e, viewer.words()) {
            Some(problem) => {
                let page =
                    task_page(&app, &viewer, id, Some(form.typed()), None, Some(problem)).await?;
                Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
            }
            None => Err(WebError::from_crm(e, lang)),
        },
    }
}

/// The "Done" (and "Reopen") button.
#[derive(Debug, Deserialize)]
pub struct DoneForm {
    csrf: String,
    version: i64,
    /// `1` done, `0` open again.
    done: String,
    /// Where to go back to (a path of this site).
    back: Option<String>,
}

pub async fn done(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(raw): Path<String>,
    Form(form): Form<DoneForm>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    let lang = viewer.lang;
    let id = parse_id(&raw, lang)?;
    let saved = change(&app, &viewer, id, Some(form.version), |_, input| {
        input.done = form.done == "1";
        Ok(())
    })
    .await;
    match saved {
        Ok(_) => Ok(Redirect::to(&safe_next(form.back.as_deref())).into_response()),
        Err(e) if is_stale(&e) => stale(&app, &viewer, id).await,
        Err(e) => Err(WebError::from_crm(e, lang)),
    }
}
