//! The Google Calendar integration's routes, the user's side of [`threadline_google_calendar`]:
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
//!   event when the user organises it). A series block converts one occurrence, named by
//!   its original start (`{"occurrence": …}`): the occurrence is read from Google by its
//!   instance id and linked as a converted instance; the series block stays, listing it in
//!   `converted_occurrences`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::HttpMethod;
use utoipa::PartialSchema;
use uuid::Uuid;

use threadline_connections::Provider;
use threadline_crm::records::meetings::Meeting;
use threadline_google_calendar::convert;
use threadline_google_calendar::selection::{self, CalendarError};
use threadline_google_calendar::store::{self, BusyBlock};
use threadline_google_calendar::{CalendarSync, GoogleCalendar};
use threadline_http::auth::AuthUser;
use threadline_http::error::{ApiError, ApiResult};
use threadline_http::extract::{path_id, Json, OptionalJson};
use threadline_http::openapi::{ApiRouter, Op};
use threadline_http::routes::connections::own_of;
use threadline_http::routes::records::{query, Record};
use threadline_http::state::AppState;

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
             `recurrence` to show them, leaving out each occurrence that has an exception \
             block, which shows it, or is in the series' `converted_occurrences`: a CRM \
             meeting shows it).",
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
             event: it becomes a block again.\n\n\
             A series block (one with `recurrence`) converts one occurrence, named by \
             `occurrence` (required there, refused on any other block): the occurrence is \
             read from Google and becomes the meeting, linked to it, so that changes of the \
             series that reach the occurrence reach the meeting too, and moving or \
             cancelling the occurrence in Google moves or removes the meeting (unless it \
             was edited in the CRM). The series block stays, and lists the occurrence in \
             `converted_occurrences`. An occurrence that has a block of its own (a moved \
             exception) is converted the same way, and its block removed.",
        )
        .path_id("id", "The busy block's id.")
        .optional_json_body::<ConvertInput>(
            "Only for a series block: the occurrence to convert. Any other block takes no \
             body, or one without `occurrence`.",
        )
        .not_found("busy block of the caller's")
        .json::<Meeting>("201", "The new meeting.")
        .error(
            "409",
            "A cancelled occurrence cannot be a meeting, or the occurrence is a meeting \
             already (`conflict`, the message names it); or the connection needs to be \
             authorised again (`needs_reauth`).",
        )
        .error(
            "422",
            "`occurrence` (`field: occurrence`, `invalid_field`) is missing for a series \
             block, given for another block, not in the series' form (RFC 3339 for a timed \
             series, `YYYY-MM-DD` for an all-day one), or not an occurrence of the series; \
             or the body has the wrong shape (`invalid_body`).",
        )
        .error(
            "502",
            "Google refused to answer for the occurrence or its calendar, or answered \
             something unreadable (`provider_error`).",
        )
        .error(
            "503",
            "Google is throttling or failing, or the database is busy (`unavailable`): \
             retry (`Retry-After`).",
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

/// The body of `POST /busy-blocks/{id}/convert`, optional.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConvertInput {
    /// Required for a series block (one with `recurrence`), refused on any other: the
    /// occurrence to convert, by its original start (where the series puts it, as
    /// expanding `recurrence` gives it, or an exception's `original_start`): an RFC 3339
    /// instant for a timed series (`2026-03-16T08:00:00Z`), `YYYY-MM-DD` for an all-day
    /// one.
    #[serde(default)]
    pub occurrence: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
}

fn calendar_sync(state: &AppState) -> ApiResult<&CalendarSync> {
    state
        .integration::<GoogleCalendar>()
        .map(GoogleCalendar::sync)
        .ok_or_else(|| ApiError::internal("the calendar sync is not configured"))
}

/// The caller's Google connection `raw`, or 404.
async fn own_connection(state: &AppState, auth: &AuthUser, raw: &str) -> ApiResult<Uuid> {
    Ok(own_of(state, auth, raw, Provider::Google).await?.id)
}

/// A calendar model's error as the API's: `provider_error` (Google refused for good) is 502.
fn api_error(e: CalendarError) -> ApiError {
    match e {
        CalendarError::Crm(e) => ApiError::from(e),
        CalendarError::Google(e) => ApiError::from(e),
        CalendarError::Provider(m) => ApiError::new(StatusCode::BAD_GATEWAY, "provider_error", m),
    }
}

async fn list_calendars(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> ApiResult<Json<CalendarList>> {
    let id = own_connection(&state, &auth, &raw).await?;
    let sync = calendar_sync(&state)?;
    let items = selection::calendars(sync, id)
        .await
        .map_err(api_error)?
        .into_iter()
        .map(|c| CalendarChoice {
            can_import: c.can_import,
            can_export: c.can_export,
            imported: c.imported,
            export: c.export,
            primary: c.primary(),
            access_role: c.entry.access_role.unwrap_or_default(),
            summary: c.entry.summary,
            time_zone: c.entry.time_zone,
            id: c.entry.id,
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
    let stored = selection::choose(sync, id, &input.import, input.export.as_deref())
        .await
        .map_err(api_error)?;
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
    OptionalJson(input): OptionalJson<ConvertInput>,
) -> ApiResult<(StatusCode, Json<Meeting>)> {
    let block_id = path_id(&raw, "busy block")?;
    let occurrence = input.and_then(|i| i.occurrence);
    let (org, user) = (auth.org_id, auth.user_id);
    let meeting_id = match (calendar_sync(&state), occurrence.as_deref()) {
        (Ok(sync), occurrence) => convert::busy(sync, org, user, block_id, occurrence)
            .await
            .map_err(api_error)?,
        // Without the calendar sync (no Google client on this server) a block still
        // converts, as nothing is read from Google; an occurrence cannot.
        (Err(_), None) => convert::block(state.db(), org, user, block_id).await?,
        (Err(_), Some(_)) => {
            let mut conn = state.db().pool().acquire().await?;
            return Err(match store::block(&mut conn, org, user, block_id).await? {
                None => convert::block_not_found(block_id).into(),
                Some(_) => ApiError::new(
                    StatusCode::CONFLICT,
                    "provider_not_configured",
                    "this server has no Google client: an occurrence cannot be read from Google",
                ),
            });
        }
    };
    let mut conn = state.db().pool().acquire().await?;
    let meeting = Meeting::load(&mut conn, org, &[meeting_id])
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::internal("the new meeting is gone"))?;
    Ok((StatusCode::CREATED, Json(meeting)))
}
