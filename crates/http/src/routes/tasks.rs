//! `/api/v1/tasks`: see [`crate::records::tasks`]. `POST /tasks` is still the bar's: its
//! `NewTask` is a valid input (the record's other fields may be given too), it answers the
//! bar's [`Task`] (201), and supports `Idempotency-Key`; the full record is at
//! `GET /tasks/{id}` (`Location`, `ETag: "1"`).

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use threadline_domain::api::{NewTask, Task};
use utoipa::openapi::path::HttpMethod;

use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::extract::Json;
use crate::idempotency::{self, IdempotencyKey};
use crate::openapi::{record_links, record_routes_but_create, ApiRouter, Op, RecordDoc};
use crate::records::tasks::{self, TaskInput};
use crate::records::Target;
use crate::routes::records::etag;
use crate::routes::records::Editable;
use crate::state::AppState;
use crate::store;

pub use crate::records::tasks::MAX_DESCRIPTION_CHARS;

pub fn router() -> ApiRouter {
    let create = Op::new("tasks", "create_task", "Create a task")
        .description(
            "The tracking bar's *Convert to task* sends a `NewTask`, which is a valid \
             `TaskInput`. The answer is the task in brief; the full record is at `Location`.",
        )
        .idempotency_key()
        .json_body::<TaskInput>("The new task.")
        .json_with_etag::<Task>("201", "The task as stored, in brief.")
        .links_to_record("201", "id", &record_links("task"));
    record_routes_but_create::<tasks::Task>(&RecordDoc {
        noun: "task",
        search: "Part of the title (case-insensitive).",
    })
    .routes(create.route("/tasks", HttpMethod::Post, post(create_task)))
}

async fn create_task(
    auth: AuthUser,
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(req): Json<TaskInput>,
) -> ApiResult<Response> {
    // A bar's request is compared as the `NewTask` it is (as before the records API).
    let key = if req.linked.is_none() && req.assignee_id.is_none() && !req.done {
        let bar = NewTask {
            title: req.title.clone(),
            description: req.description.clone(),
            due_date: req.due_date,
            source_message_id: req.source_message_id.clone(),
            gmail_thread_id: req.gmail_thread_id.clone(),
            contact_id: req.contact_id,
        };
        IdempotencyKey::from_headers(&headers, "POST /api/v1/tasks", &bar)?
    } else {
        IdempotencyKey::from_headers(&headers, "POST /api/v1/tasks", &req)?
    };
    let valid = tasks::Task::validate(req)?;
    let id = crate::db::new_id();
    let mut response = idempotency::write(
        state.db(),
        &auth,
        key.as_ref(),
        StatusCode::CREATED,
        &|tx| {
            Box::pin(async {
                tasks::Task::save(tx, &auth, id, Target::New, &valid).await?;
                let task: Task = store::task_by_id(tx, auth.org_id, id).await?;
                Ok(task)
            })
        },
    )
    .await?;
    if response.status() == StatusCode::CREATED
        && !response
            .headers()
            .contains_key(idempotency::REPLAYED_HEADER)
    {
        let headers = response.headers_mut();
        headers.insert(header::ETAG, etag(1));
        if let Ok(location) = format!("/api/v1/tasks/{id}").parse() {
            headers.insert(header::LOCATION, location);
        }
    }
    Ok(response)
}
