//! Google Calendar sync, the user's side (see [`crate::sync::calendar`]):
//!
//! - `GET /connections/{id}/calendars` → the account's calendars (calendarList) with their
//!   access role, whether each can be the export target (writer or owner) and the current
//!   selection.
//! - `PUT /connections/{id}/calendar-selection` → which calendars are imported as busy blocks
//!   and the one CRM meetings are exported to (checked against the calendarList). A
//!   deselected calendar's blocks go at once; meetings converted from them stay.
//! - "Sync now" is the scheduler's `POST /connections/{id}/sync` (`routes/sync.rs`): a run
//!   goes through the schedule's lease, so that one process at a time runs a connection.
//! - `GET /busy-blocks?from&to` → the caller's grey busy blocks in a time range.
//! - `POST /busy-blocks/{id}/convert` → turns a block into a CRM meeting that keeps the link
//!   to its Google event (Google's later edits reach it; the meeting's CRM edits reach the
//!   event when the user organises it).

use std::collections::BTreeSet;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::HttpMethod;
use utoipa::PartialSchema;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::connections::{self, Owner, Provider};
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::openapi::{ApiRouter, Op};
use crate::records::http::{query, Record};
use crate::records::meetings::Meeting;
use crate::state::AppState;
use crate::sync::calendar::client::CalendarEntry;
use crate::sync::calendar::store::{self, BusyBlock};
use crate::sync::calendar::CalendarSync;
use crate::sync::SyncError;
use crate::validate::path_id;

/// The longest time range of one busy-blocks query.
const MAX_RANGE_DAYS: i64 = 400;

pub fn router() -> ApiRouter {
    let tag = "calendar";
    let connection = |op: Op| {
        op.path_id("id", "The Google connection's id.")
            .not_found("connection of the caller's")
            .error(
                "503",
                "Google is throttling or failing (`unavailable`); `Retry-After` when it said when.",
            )
    };
    let list_op = connection(Op::new(tag, "list_calendars", "The account's calendars"))
        .description(
            "Google's calendarList with each calendar's access role, whether it can be the \
             export target (writer or owner) and whether it is imported or the export target.",
        )
        .json::<CalendarList>("200", "The calendars.")
        .error(
            "409",
            "The connection needs to be authorised again (`needs_reauth`).",
        );
    let select_op = connection(Op::new(tag, "set_calendar_selection", "Choose calendars"))
        .description(
            "The calendars imported as busy blocks and the one CRM meetings are exported to \
             (null: export off). A deselected calendar's blocks are removed; meetings made \
             from them stay. Selecting a calendar again finds its events again, no duplicates.",
        )
        .json_body::<Selection>("The selection.")
        .json::<Selection>("200", "The selection stored.")
        .error(
            "409",
            "The connection needs to be authorised again (`needs_reauth`).",
        )
        .error(
            "422",
            "A calendar is not in the account, or cannot be imported or written (`invalid_field`).",
        );
    let blocks_op = Op::new(tag, "list_busy_blocks", "Busy blocks in a time range")
        .description(
            "The caller's grey busy blocks (events of imported calendars) overlapping \
             [from, to); series and their exceptions are included whole (expand their \
             `recurrence` to show them).",
        )
        .query(
            "from",
            "Start of the range (RFC 3339), required.",
            String::schema(),
        )
        .query(
            "to",
            "End of the range (RFC 3339, after `from`), required.",
            String::schema(),
        )
        .json::<BusyBlockList>("200", "The blocks.")
        .bad_query();
    let convert_op = Op::new(tag, "convert_busy_block", "Make a block a meeting")
        .description(
            "Creates a CRM meeting from the block (its title, time, place, description, \
             attendees) linked to the Google event, and removes the block. Google's later \
             edits and deletes reach the meeting; when the user organises the event, the \
             meeting's edits reach Google too. Deleting the meeting never deletes the \
             event: it becomes a block again.",
        )
        .path_id("id", "The busy block's id.")
        .not_found("busy block of the caller's")
        .json::<Meeting>("201", "The new meeting.")
        .error(
            "409",
            "A cancelled occurrence cannot be a meeting (`conflict`).",
        );
    ApiRouter::new()
        .routes(list_op.route(
            "/connections/{id}/calendars",
            HttpMethod::Get,
            get(list_calendars),
        ))
        .routes(select_op.route(
            "/connections/{id}/calendar-selection",
            HttpMethod::Put,
            put(set_selection),
        ))
        .routes(blocks_op.route("/busy-blocks", HttpMethod::Get, get(list_blocks)))
        .routes(convert_op.route("/busy-blocks/{id}/convert", HttpMethod::Post, post(convert)))
}

/// One calendar of the account.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CalendarChoice {
    pub id: String,
    pub summary: Option<String>,
    pub primary: bool,
    /// Google's `accessRole`: `freeBusyReader`, `reader`, `writer` or `owner`.
    pub access_role: String,
    pub time_zone: Option<String>,
    /// Events can be read (not `freeBusyReader`).
    pub can_import: bool,
    /// Writer or owner: CRM meetings can be exported to it.
    pub can_export: bool,
    pub imported: bool,
    pub export: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CalendarList {
    pub items: Vec<CalendarChoice>,
}

/// Which calendars are imported, and where CRM meetings go.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    /// Calendar ids imported as busy blocks.
    pub import: Vec<String>,
    /// The calendar CRM meetings are exported to; null: export off.
    #[serde(default)]
    pub export: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BusyBlockList {
    pub items: Vec<BusyBlock>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
}

fn calendar_sync(state: &AppState) -> ApiResult<&CalendarSync> {
    state
        .calendar_sync()
        .ok_or_else(|| ApiError::internal("the calendar sync is not configured"))
}

/// The caller's Google connection `raw`, or 404.
async fn own_connection(state: &AppState, auth: &AuthUser, raw: &str) -> ApiResult<Uuid> {
    let id = path_id(raw, "connection")?;
    let mut conn = state.db().pool().acquire().await?;
    let connection = connections::get_for(&mut conn, Owner::from(auth), id).await?;
    if connection.provider != Provider::Google {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("connection {id} is not a Google connection"),
        ));
    }
    Ok(id)
}

fn sync_error(e: SyncError) -> ApiError {
    match e {
        // Routes take no lease; kept exhaustive so a new kind is mapped on purpose.
        SyncError::Retryable { .. } | SyncError::LeaseLost | SyncError::TokenRejected(_) => {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                e.to_string(),
            )
        }
        SyncError::NeedsReauth(_) => {
            ApiError::new(StatusCode::CONFLICT, "needs_reauth", e.to_string())
        }
        SyncError::RefusedForReview(_) => {
            ApiError::new(StatusCode::CONFLICT, "needs_review", e.to_string())
        }
        SyncError::Fatal(m) => ApiError::internal(m),
    }
}

async fn calendars_of(sync: &CalendarSync, id: Uuid) -> ApiResult<Vec<CalendarEntry>> {
    let token = sync.token(id).await.map_err(sync_error)?;
    sync.client().calendar_list(&token).await.map_err(|e| {
        sync_error(SyncError::retryable(format!(
            "reading the calendar list: {e}"
        )))
    })
}

fn can_import(entry: &CalendarEntry) -> bool {
    entry.access_role.as_deref() != Some("freeBusyReader")
}

fn can_export(entry: &CalendarEntry) -> bool {
    matches!(entry.access_role.as_deref(), Some("writer" | "owner"))
}

async fn list_calendars(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> ApiResult<Json<CalendarList>> {
    let id = own_connection(&state, &auth, &raw).await?;
    let sync = calendar_sync(&state)?;
    let entries = calendars_of(sync, id).await?;
    let mut conn = state.db().pool().acquire().await?;
    let settings = store::settings(&mut conn, id).await?;
    let items = entries
        .into_iter()
        .map(|e| CalendarChoice {
            can_import: can_import(&e),
            can_export: can_export(&e),
            imported: settings.imports.contains(&e.id),
            export: settings.export.as_deref() == Some(e.id.as_str()),
            primary: e.primary.unwrap_or(false),
            access_role: e.access_role.clone().unwrap_or_default(),
            summary: e.summary,
            time_zone: e.time_zone,
            id: e.id,
        })
        .collect();
    Ok(Json(CalendarList { items }))
}

async fn set_selection(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Json(input): Json<Selection>,
) -> ApiResult<Json<Selection>> {
    let id = own_connection(&state, &auth, &raw).await?;
    let sync = calendar_sync(&state)?;
    let entries = calendars_of(sync, id).await?;
    let find = |calendar: &str| entries.iter().find(|e| e.id == calendar);
    let mut imports = BTreeSet::new();
    for (i, calendar) in input.import.iter().enumerate() {
        let field = format!("import[{i}]");
        match find(calendar) {
            None => {
                return Err(ApiError::invalid(
                    field,
                    format!("{calendar:?} is not a calendar of the connected account"),
                ))
            }
            Some(e) if !can_import(e) => {
                return Err(ApiError::invalid(
                    field,
                    format!("{calendar:?} shows free/busy only: its events cannot be imported"),
                ))
            }
            Some(_) => {}
        }
        if !imports.insert(calendar.clone()) {
            return Err(ApiError::invalid(
                field,
                "the same calendar is listed twice",
            ));
        }
    }
    if let Some(calendar) = &input.export {
        match find(calendar) {
            None => {
                return Err(ApiError::invalid(
                    "export",
                    format!("{calendar:?} is not a calendar of the connected account"),
                ))
            }
            Some(e) if !can_export(e) => {
                return Err(ApiError::invalid(
                    "export",
                    format!(
                        "{calendar:?} is {}: meetings can only be exported to a calendar the \
                         account can write (writer or owner)",
                        e.access_role.as_deref().unwrap_or("not writable")
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    let export = input.export.clone();
    let stored = state
        .db()
        .write(|tx| {
            let (imports, export) = (imports.clone(), export.clone());
            Box::pin(async move { store::set_selection(tx, id, &imports, export.as_deref()).await })
        })
        .await?;
    Ok(Json(Selection {
        import: stored.imports.into_iter().collect(),
        export: stored.export,
    }))
}

fn range_bound(field: &str, value: Option<&str>) -> ApiResult<DateTime<Utc>> {
    let bad = |message: String| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message).with_field(field)
    };
    let raw = value.ok_or_else(|| bad(format!("{field} is required (RFC 3339)")))?;
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| bad(format!("{field} {raw:?} is not an RFC 3339 date and time")))
}

async fn list_blocks(
    auth: AuthUser,
    State(state): State<AppState>,
    params: Result<Query<RangeQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<BusyBlockList>> {
    let params = query(params)?;
    let from = range_bound("from", params.from.as_deref())?;
    let to = range_bound("to", params.to.as_deref())?;
    if to <= from || to - from > chrono::Duration::days(MAX_RANGE_DAYS) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("to must be after from, at most {MAX_RANGE_DAYS} days later"),
        )
        .with_field("to"));
    }
    let mut conn = state.db().pool().acquire().await?;
    let items = store::blocks_in_range(&mut conn, auth.org_id, auth.user_id, from, to).await?;
    Ok(Json(BusyBlockList { items }))
}

async fn convert(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> ApiResult<(StatusCode, Json<Meeting>)> {
    let block_id = path_id(&raw, "busy block")?;
    let (org, user) = (auth.org_id, auth.user_id);
    let meeting_id = crate::db::new_id();
    state
        .db()
        .write(|tx| {
            Box::pin(async move {
                let not_found = || {
                    ApiError::new(
                        StatusCode::NOT_FOUND,
                        "not_found",
                        format!("there is no busy block with id {block_id}"),
                    )
                };
                let block = store::block(tx, org, user, block_id)
                    .await?
                    .ok_or_else(not_found)?;
                let link = store::links_of(tx, block.connection_id, block_id)
                    .await?
                    .into_iter()
                    .find(|l| l.kind == threadline_sync::LinkKind::Block)
                    .ok_or_else(not_found)?;
                let (converted, fields) = link.converted(meeting_id).ok_or_else(|| {
                    ApiError::new(
                        StatusCode::CONFLICT,
                        "conflict",
                        "a cancelled occurrence of a series cannot become a meeting",
                    )
                })?;
                store::create_meeting(tx, org, meeting_id, &fields, &Default::default()).await?;
                // Same (calendar, event) key: the converted link replaces the block's. It
                // keeps the block link's `writable` (the user organises the event, as its
                // last listing said), so the meeting's CRM edits reach Google only then.
                // The block itself does not carry it: the link row already does, and the
                // block is removed here anyway.
                store::put_link(tx, block.connection_id, &converted).await?;
                store::remove_block(tx, block_id).await?;
                ApiResult::Ok(())
            })
        })
        .await?;
    let mut conn = state.db().pool().acquire().await?;
    let meeting = Meeting::load(&mut conn, org, &[meeting_id])
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::internal("the new meeting is gone"))?;
    Ok((StatusCode::CREATED, Json(meeting)))
}
