//! A connection's sync (see [`crate::sync`]): "sync now", the history of runs, the state.
//!
//! - `POST /connections/{id}/sync` → 202 [`SyncNowAnswer`]: each active schedule of the
//!   connection is made due now with a queued `manual` run, or, when a run is already queued
//!   or going, that run is answered (a second one is never started). 409 `conflict` when
//!   every schedule is paused (needs re-authorization, disconnected, waiting for a review) or
//!   there is none. The runner of this process is woken at once.
//! - `POST /connections/{id}/review` `{"decision": "apply_anyway" | "check_again"}` → 202
//!   [`SyncNowAnswer`]: a run a guard refused (a mass deletion, a calendar suddenly empty)
//!   paused its schedule; the user's decision resumes it with a queued `manual` run, which
//!   with `apply_anyway` (once) passes the guards. 409 `conflict` when nothing waits for a
//!   review.
//! - `GET /connections/{id}/runs?limit=&cursor=` → a page of [`Run`]s, newest first.
//! - `GET /connections/{id}/sync` → [`SyncState`]: ok / syncing / needs_reauth / degraded
//!   (with the reason) / disconnected, and each schedule's next run, current and last run.
//!
//! Another user's connection is 404, as a missing one.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::HttpMethod;

use crate::auth::AuthUser;
use crate::connections::{Connection, Owner};
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::oauth::pending::Asker;
use crate::openapi::{ApiRouter, Op};
use crate::records::{decode_cursor, encode_cursor};
use crate::routes::connections::own;
use crate::routes::oauth::{start_flow_for, ConnectStarted};
use crate::routes::records::{query, Page, DEFAULT_LIMIT, MAX_LIMIT};
use crate::state::AppState;
use crate::sync::runs::{self, Run};
use crate::sync::schedule::{self, ReviewDecision, SyncState};
use crate::sync::{Integration, Switched};

const CURSOR_PREFIX: &str = "run";

pub fn router() -> ApiRouter {
    let tag = "sync";
    let id = |op: Op| {
        op.path_id("id", "The connection's id.")
            .not_found("connection of the caller's")
    };
    let sync_now_op = id(Op::new(tag, "sync_now", "Sync now"))
        .description(
            "Makes each of the connection's active schedules due now and answers its run: a \
             new queued `manual` run, or the run already queued or going (never a second).",
        )
        .json::<SyncNowAnswer>("202", "The runs, one per integration.")
        .error(
            "409",
            "Nothing to run (`conflict`): every schedule is paused (the connection needs \
             re-authorization, was disconnected, or waits for a review), or there is none.",
        );
    let review_op = id(Op::new(
        tag,
        "review_sync",
        "Decide about a refused sync run",
    ))
    .description(
        "A run that a guard refused (it would delete more than half of the linked items, \
             or a calendar suddenly listed empty) wrote nothing and paused its schedule until \
             a person decides. `check_again`: resume with the guards in place (after mending \
             the cause at its source). `apply_anyway`: resume, and let the next run (only \
             that one) pass the guards. Either way a `manual` run is queued at once.",
    )
    .json_body::<ReviewRequest>("The decision.")
    .json::<SyncNowAnswer>("202", "The runs queued, one per integration.")
    .error(
        "409",
        "Nothing waits for a review (`conflict`): no run of this connection was refused, \
             or it was decided already.",
    );
    let runs_op = id(Op::new(tag, "list_sync_runs", "The connection's sync runs"))
        .description("Newest first, with what each did.")
        .paginated()
        .bad_query()
        .page_of::<Run>("A page of runs.");
    let state_op = id(Op::new(
        tag,
        "get_sync_state",
        "The connection's sync state",
    ))
    .description(
        "ok, syncing, needs_reauth, degraded (with the reason) or disconnected; each \
             schedule's next run, current run and last run.",
    )
    .json::<SyncState>("200", "The state.");
    ApiRouter::new()
        .routes(sync_now_op.route("/connections/{id}/sync", HttpMethod::Post, post(sync_now)))
        .routes(state_op.route("/connections/{id}/sync", HttpMethod::Get, get(state)))
        .routes(review_op.route("/connections/{id}/review", HttpMethod::Post, post(review)))
        .routes(runs_op.route("/connections/{id}/runs", HttpMethod::Get, get(list_runs)))
}

/// The answer of "sync now".
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SyncNowAnswer {
    /// One run per active schedule (integration), queued or already going.
    pub items: Vec<Run>,
}

/// The body of `POST /connections/{id}/review`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    pub decision: ReviewDecision,
}

/// `?limit=&cursor=` of the runs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunsQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

async fn sync_now(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> ApiResult<(StatusCode, Json<SyncNowAnswer>)> {
    let connection = own(&state, &auth, &raw).await?;
    let items = sync_now_of(&state, connection.id).await?;
    Ok((StatusCode::ACCEPTED, Json(SyncNowAnswer { items })))
}

/// "Sync now" of connection `connection_id` (the caller has checked it is the user's): its
/// runs, queued or already going; this process's runner is woken. What the API's
/// `POST /connections/{id}/sync` and the web app's Sync now do.
pub async fn sync_now_of(state: &AppState, connection_id: uuid::Uuid) -> ApiResult<Vec<Run>> {
    let items = state
        .db()
        .write(|tx| Box::pin(schedule::sync_now(tx, connection_id)))
        .await
        .map_err(ApiError::from)?;
    state.sync_wake().notify_one();
    Ok(items)
}

/// Turns `integration` on or off for `owner`'s `connection` (checked to be theirs by the
/// caller), one the user switches per connection (`Integration::switchable`): what it did,
/// and when it waits for its scopes, the start link of the consent flow that asks for them
/// (incremental authorization; bound to `asker`, the account preselected by `login_hint`).
/// What the Contacts export's `PUT /connections/{id}/contacts-export` and the web app's
/// Turn on / Turn off do.
pub async fn switch_of(
    state: &AppState,
    (owner, asker): (Owner, Asker),
    connection: &Connection,
    integration: &dyn Integration,
    on: bool,
    login_hint: Option<&str>,
) -> ApiResult<(Switched, Option<ConnectStarted>)> {
    let switched = state
        .db()
        .write(|tx| Box::pin(integration.switch(tx, connection, on)))
        .await
        .map_err(ApiError::from)?;
    let authorization = match switched {
        Switched::On => {
            state.sync_wake().notify_one();
            None
        }
        Switched::WaitingForScope => Some(
            start_flow_for(
                state,
                owner,
                asker,
                connection.provider,
                login_hint,
                integration.scopes(),
            )
            .await?,
        ),
        Switched::Off => None,
    };
    Ok((switched, authorization))
}

/// The user's `decision` about connection `connection_id`'s refused run (the caller has
/// checked it is the user's): the runs queued. What the API's `POST /connections/{id}/review`
/// and the web app's review buttons do.
pub async fn review_of(
    state: &AppState,
    connection_id: uuid::Uuid,
    decision: ReviewDecision,
) -> ApiResult<Vec<Run>> {
    let items = state
        .db()
        .write(|tx| Box::pin(schedule::review(tx, connection_id, decision)))
        .await
        .map_err(ApiError::from)?;
    tracing::info!(connection = %connection_id, ?decision, "a refused sync run was reviewed");
    state.sync_wake().notify_one();
    Ok(items)
}

async fn review(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Json(request): Json<ReviewRequest>,
) -> ApiResult<(StatusCode, Json<SyncNowAnswer>)> {
    let connection = own(&state, &auth, &raw).await?;
    let items = review_of(&state, connection.id, request.decision).await?;
    Ok((StatusCode::ACCEPTED, Json(SyncNowAnswer { items })))
}

async fn state(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> ApiResult<Json<SyncState>> {
    let connection = own(&state, &auth, &raw).await?;
    let mut tx = state.db().begin_read().await?;
    let answer = schedule::state(&mut tx, &connection).await;
    tx.rollback().await?;
    Ok(Json(answer?))
}

async fn list_runs(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    params: Result<Query<RunsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Page>> {
    let connection = own(&state, &auth, &raw).await?;
    let params = query(params)?;
    let limit = match params.limit {
        None => DEFAULT_LIMIT,
        Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!("limit must be 1 to {MAX_LIMIT}"),
            )
            .with_field("limit"))
        }
    };
    let before = match &params.cursor {
        Some(cursor) => {
            let id = decode_cursor("cursor", CURSOR_PREFIX, cursor)?;
            Some(uuid::Uuid::parse_str(&id).map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    "cursor is not a cursor this server gave out",
                )
                .with_field("cursor")
            })?)
        }
        None => None,
    };
    let mut conn = state.db().pool().acquire().await?;
    let mut items = runs::list(&mut conn, connection.id, before, limit + 1).await?;
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items
            .last()
            .map(|run| encode_cursor(CURSOR_PREFIX, &run.id.to_string()))
    } else {
        None
    };
    let items = items
        .into_iter()
        .map(|run| serde_json::to_value(run).map_err(|e| ApiError::internal(e.to_string())))
        .collect::<ApiResult<_>>()?;
    Ok(Json(Page { items, next_cursor }))
}
