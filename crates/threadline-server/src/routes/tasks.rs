//! `POST /api/v1/tasks`: a task for the caller (201 [`Task`]). Supports `Idempotency-Key`.
//!
//! Checks: `title` 1 to 200 characters after trimming; `description` at most
//! [`MAX_DESCRIPTION_CHARS`]; `source_message_id` a message id (stored normalised, like
//! tracked emails' ids, so that the tracked-state query finds it); `contact_id` a contact of
//! the caller's organisation.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use threadline_domain::api::{NewTask, Task};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::{self, id_text, Conn};
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::idempotency::{self, IdempotencyKey};
use crate::ids::normalize_message_id;
use crate::state::AppState;
use crate::store;
use crate::validate::{self, MAX_NAME_CHARS};

/// Longest task description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 20_000;

pub fn router() -> Router<AppState> {
    Router::new().route("/tasks", post(create_task))
}

async fn create_task(
    auth: AuthUser,
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(req): Json<NewTask>,
) -> ApiResult<Response> {
    let key = IdempotencyKey::from_headers(&headers, "POST /api/v1/tasks", &req)?;
    let title = validate::required_text("title", &req.title, MAX_NAME_CHARS)?;
    let description = validate::optional_text(
        "description",
        req.description.as_deref(),
        MAX_DESCRIPTION_CHARS,
    )?;
    let source_message_id = match req.source_message_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => {
            Some(normalize_message_id(raw).map_err(|e| ApiError::invalid("source_message_id", e))?)
        }
    };
    let gmail_thread_id =
        validate::optional_text("gmail_thread_id", req.gmail_thread_id.as_deref(), 512)?
            .map(|t| t.trim_start_matches('#').to_string());

    let new_task = ValidTask {
        title,
        description,
        due_date: req.due_date.map(store::date_text),
        source_message_id,
        gmail_thread_id,
        contact_id: req.contact_id,
    };
    idempotency::write(
        state.db(),
        &auth,
        key.as_ref(),
        StatusCode::CREATED,
        &|tx| Box::pin(insert_task(tx, &auth, &new_task)),
    )
    .await
}

/// A task request after its checks.
struct ValidTask {
    title: String,
    description: Option<String>,
    due_date: Option<String>,
    source_message_id: Option<String>,
    gmail_thread_id: Option<String>,
    contact_id: Option<Uuid>,
}

async fn insert_task(conn: &mut Conn, auth: &AuthUser, task: &ValidTask) -> ApiResult<Task> {
    if let Some(contact_id) = task.contact_id {
        let found = store::contacts_by_id(conn, auth.org_id, &[contact_id]).await?;
        if found.is_empty() {
            return Err(ApiError::unknown_record(
                "contact_id",
                format!("there is no contact with id {contact_id}"),
            ));
        }
    }
    let id = db::new_id();
    sqlx::query(
        "INSERT INTO tasks
           (id, org_id, title, description, due_date, assignee_user_id, done, source_message_id,
            gmail_thread_id, contact_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9, $10)",
    )
    .bind(id_text(id))
    .bind(id_text(auth.org_id))
    .bind(&task.title)
    .bind(&task.description)
    .bind(&task.due_date)
    .bind(id_text(auth.user_id))
    .bind(&task.source_message_id)
    .bind(&task.gmail_thread_id)
    .bind(task.contact_id.map(id_text))
    .bind(db::now())
    .execute(&mut *conn)
    .await?;
    store::task_by_id(conn, auth.org_id, id).await
}
