//! Calendar API v3 under `/calendar/v3`: calendarList, events list/get/insert/patch/update/
//! delete/instances. Each calendar keeps a change log position (`head`): every write bumps it
//! and stamps the event with it, so a sync token is a position in that log and an incremental
//! list is "events stamped after it".

mod event;
mod list;
mod recurrence;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono_tz::Tz;
use serde_json::{json, Map, Value};

use super::oauth::{authorize, Caller};
use super::{GoogleError, GoogleFake, GoogleState};
use crate::util::{query_pairs, random_token};
use crate::Shared;
use event::{
    cancelled_stub, is_cancelled, is_recurring_master, merge_patch, timestamp, valid_event_id,
    validate,
};

const READ_SCOPES: &[&str] = &[
    "calendar",
    "calendar.readonly",
    "calendar.events",
    "calendar.events.readonly",
];
const WRITE_SCOPES: &[&str] = &["calendar", "calendar.events"];
const LIST_SCOPES: &[&str] = &[
    "calendar",
    "calendar.readonly",
    "calendar.calendarlist",
    "calendar.calendarlist.readonly",
];

/// A user's access to a calendar (calendarList `accessRole`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AccessRole {
    FreeBusyReader,
    Reader,
    Writer,
    Owner,
}

impl AccessRole {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessRole::FreeBusyReader => "freeBusyReader",
            AccessRole::Reader => "reader",
            AccessRole::Writer => "writer",
            AccessRole::Owner => "owner",
        }
    }

    fn parse(s: &str) -> Option<AccessRole> {
        [
            AccessRole::FreeBusyReader,
            AccessRole::Reader,
            AccessRole::Writer,
            AccessRole::Owner,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

#[derive(Default)]
pub(crate) struct CalendarState {
    calendars: BTreeMap<String, Calendar>,
    /// Sync tokens a test expired one by one.
    expired_tokens: HashSet<String>,
    /// Every listing serves an empty page (with a nextPageToken) before each page of results.
    empty_pages: bool,
    /// Global etag counter: every write gets a new, larger one.
    etag_counter: u64,
}

pub(crate) struct Calendar {
    id: String,
    summary: String,
    zone: Tz,
    /// Who sees it in their calendarList, with which role; the first is the owner.
    members: Vec<Member>,
    /// The change log position: the stamp of the latest write.
    head: u64,
    /// Bumped to expire every sync token of the calendar at once.
    token_epoch: u64,
    events: BTreeMap<String, Stored>,
}

struct Member {
    email: String,
    role: AccessRole,
    primary: bool,
}

/// An event as stored: the full resource and the log position of its latest write.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub(crate) body: Map<String, Value>,
    pub(crate) stamp: u64,
}

impl GoogleFake {
    /// The user's primary calendar (its id is the email address), created on first call.
    pub fn primary_calendar(&self, email: &str, time_zone: &str) -> String {
        let mut state = self.lock();
        if !state.calendar.calendars.contains_key(email) {
            let zone: Tz = time_zone.parse().expect("an IANA time zone");
            state.calendar.calendars.insert(
                email.to_string(),
                new_calendar(email, email, zone, email, true),
            );
        }
        email.to_string()
    }

    /// A secondary calendar owned by `owner`; returns its id (`…@group.calendar.google.com`).
    pub fn add_calendar(&self, owner: &str, summary: &str, time_zone: &str) -> String {
        let zone: Tz = time_zone.parse().expect("an IANA time zone");
        let id = format!("{}@group.calendar.google.com", random_token("c_"));
        self.lock()
            .calendar
            .calendars
            .insert(id.clone(), new_calendar(&id, summary, zone, owner, false));
        id
    }

    /// Shows the calendar in `email`'s calendarList with `role`.
    pub fn share_calendar(&self, calendar_id: &str, email: &str, role: AccessRole) {
        let mut state = self.lock();
        let calendar = state
            .calendar
            .calendars
            .get_mut(calendar_id)
            .expect("a known calendar");
        calendar.members.retain(|m| m.email != email);
        calendar.members.push(Member {
            email: email.to_string(),
            role,
            primary: false,
        });
    }

    /// Inserts as `events.insert` would (same validation, a new log position); returns the
    /// stored resource. Unlike the API (where `organizer` is read-only), an `organizer`
    /// with an `email` in the body is kept, as `events.import` keeps it: a test's
    /// invitation from someone else (`self` is then false, see [`organizer_for`]).
    pub fn insert_event(&self, calendar_id: &str, body: Value) -> Result<Value, GoogleError> {
        let mut state = self.lock();
        let owner = state
            .calendar
            .calendars
            .get(calendar_id)
            .ok_or_else(GoogleError::not_found)?
            .members[0]
            .email
            .clone();
        let Value::Object(body) = body else {
            return Err(GoogleError::invalid("an event is a JSON object"));
        };
        insert(&mut state, calendar_id, &owner, body, true).map(Value::Object)
    }

    /// Makes `email` the organiser of a stored event, as `events.move` or a transfer of
    /// ownership in Google's UI would: a new version (etag, log position), every other
    /// field as it was. Panics on an unknown event (a test's mistake).
    pub fn set_organizer(&self, calendar_id: &str, event_id: &str, email: &str) -> Value {
        let mut state = self.lock();
        let calendar = state
            .calendar
            .calendars
            .get(calendar_id)
            .expect("a known calendar");
        let old = calendar
            .events
            .get(event_id)
            .expect("a stored event")
            .body
            .clone();
        let organizer = organizer_for(calendar, Some(&json!({ "email": email })));
        let mut body =
            store_version(&mut state, calendar_id, &old, old.clone()).expect("valid as it was");
        // `store_version` keeps the organiser (read-only to every write): set it on the
        // version just stored.
        body.insert("organizer".into(), organizer);
        mark_attendees(calendar_id, &mut body);
        let calendar = state
            .calendar
            .calendars
            .get_mut(calendar_id)
            .expect("checked");
        calendar.events.get_mut(event_id).expect("just stored").body = body.clone();
        Value::Object(body)
    }

    /// A guest answers the invitation (`accepted`, `declined`, `tentative`, `needsAction`),
    /// as their reply reaches the organiser's copy: the entry of `email` (any case) gets
    /// that `responseStatus`; a new etag, `updated` and log position (an incremental listing
    /// shows it), the same `sequence` (an answer does not change the event). Every other
    /// field as it was. Panics on an unknown event or guest (a test's mistake).
    pub fn set_response(
        &self,
        calendar_id: &str,
        event_id: &str,
        email: &str,
        response_status: &str,
    ) -> Value {
        let mut state = self.lock();
        let mut body = state
            .calendar
            .calendars
            .get(calendar_id)
            .expect("a known calendar")
            .events
            .get(event_id)
            .expect("a stored event")
            .body
            .clone();
        let entry = body
            .get_mut("attendees")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
            .find(|a| {
                a["email"]
                    .as_str()
                    .is_some_and(|e| e.eq_ignore_ascii_case(email))
            })
            .expect("a guest of the event");
        entry["responseStatus"] = json!(response_status);
        Value::Object(stamp_and_store(&mut state, calendar_id, body))
    }

    /// The stored resource (deleted ones too, with `status: cancelled`).
    pub fn event(&self, calendar_id: &str, event_id: &str) -> Option<Value> {
        let state = self.lock();
        let stored = state
            .calendar
            .calendars
            .get(calendar_id)?
            .events
            .get(event_id)?;
        Some(Value::Object(stored.body.clone()))
    }

    /// Every stored event of the calendar (masters, exceptions, deleted ones), by id.
    pub fn events(&self, calendar_id: &str) -> Vec<Value> {
        let state = self.lock();
        state
            .calendar
            .calendars
            .get(calendar_id)
            .map_or_else(Vec::new, |c| {
                c.events
                    .values()
                    .map(|s| Value::Object(s.body.clone()))
                    .collect()
            })
    }

    /// Every sync token issued so far for the calendar answers 410 fullSyncRequired.
    pub fn expire_sync_tokens(&self, calendar_id: &str) {
        if let Some(calendar) = self.lock().calendar.calendars.get_mut(calendar_id) {
            calendar.token_epoch += 1;
        }
    }

    /// This sync token answers 410 fullSyncRequired from now on.
    pub fn expire_sync_token(&self, token: &str) {
        self.lock()
            .calendar
            .expired_tokens
            .insert(token.to_string());
    }

    /// When on, every events listing serves an empty page carrying a nextPageToken before
    /// each page of results (Google: "the number of events in the resulting page may be …
    /// none at all, even if there are more events").
    pub fn set_empty_pages(&self, on: bool) {
        self.lock().calendar.empty_pages = on;
    }
}

fn new_calendar(id: &str, summary: &str, zone: Tz, owner: &str, primary: bool) -> Calendar {
    Calendar {
        id: id.to_string(),
        summary: summary.to_string(),
        zone,
        members: vec![Member {
            email: owner.to_string(),
            role: AccessRole::Owner,
            primary,
        }],
        head: 0,
        token_epoch: 0,
        events: BTreeMap::new(),
    }
}

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/calendar/v3/users/me/calendarList", get(calendar_list))
        .route(
            "/calendar/v3/users/me/calendarList/{calendarId}",
            get(calendar_list_entry),
        )
        .route(
            "/calendar/v3/calendars/{calendarId}/events",
            get(list_events).post(insert_event),
        )
        .route(
            "/calendar/v3/calendars/{calendarId}/events/{eventId}",
            get(get_event)
                .patch(patch_event)
                .put(update_event)
                .delete(delete_event),
        )
        .route(
            "/calendar/v3/calendars/{calendarId}/events/{eventId}/instances",
            get(instances),
        )
}

/// The calendar behind `calendarId` (`primary` is the caller's primary) and the caller's role
/// on it; 404 when the caller cannot see it, 403 when `need` is more than the role.
fn calendar_for<'a>(
    state: &'a mut GoogleState,
    caller: &Caller,
    id: &str,
    need: AccessRole,
) -> Result<(&'a mut Calendar, AccessRole), GoogleError> {
    let id = if id == "primary" {
        state
            .calendar
            .calendars
            .values()
            .find(|c| {
                c.members
                    .iter()
                    .any(|m| m.email == caller.email && m.primary)
            })
            .map(|c| c.id.clone())
            .ok_or_else(GoogleError::not_found)?
    } else {
        id.to_string()
    };
    let calendar = state
        .calendar
        .calendars
        .get_mut(&id)
        .ok_or_else(GoogleError::not_found)?;
    let role = calendar
        .members
        .iter()
        .find(|m| m.email == caller.email)
        .map(|m| m.role)
        .filter(|r| *r >= AccessRole::Reader)
        .ok_or_else(GoogleError::not_found)?;
    if role < need {
        return Err(GoogleError::requires_writer());
    }
    Ok((calendar, role))
}

fn json_object(body: &Bytes) -> Result<Map<String, Value>, GoogleError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(GoogleError::new(
            StatusCode::BAD_REQUEST,
            "global",
            "parseError",
            "Parse Error",
        )),
    }
}

fn next_etag(state: &mut GoogleState) -> String {
    state.calendar.etag_counter += 1;
    // Google's etags are quoted decimal strings; start high so they look alike.
    format!(
        "\"{}\"",
        3_400_000_000_000_000u64 + state.calendar.etag_counter
    )
}

/// Stamps a write: the next log position, a new etag, `updated`.
fn stamp(state: &mut GoogleState, calendar_id: &str, body: &mut Map<String, Value>) -> u64 {
    let etag = next_etag(state);
    let now = timestamp(state.now());
    body.insert("etag".into(), json!(etag));
    body.insert("updated".into(), json!(now));
    let calendar = state
        .calendar
        .calendars
        .get_mut(calendar_id)
        .expect("checked");
    calendar.head += 1;
    calendar.head
}

/// Stamps `body` (see [`stamp`]) and stores it under its `id` as the event's latest version.
fn stamp_and_store(
    state: &mut GoogleState,
    calendar_id: &str,
    mut body: Map<String, Value>,
) -> Map<String, Value> {
    let stamp = stamp(state, calendar_id, &mut body);
    let id = body["id"].as_str().unwrap_or_default().to_string();
    let calendar = state
        .calendar
        .calendars
        .get_mut(calendar_id)
        .expect("checked");
    calendar.events.insert(
        id,
        Stored {
            body: body.clone(),
            stamp,
        },
    );
    body
}

/// The `organizer` of an event stored in `calendar`: `given`'s email and name when there is
/// one (only the Rust API passes one), else the calendar itself, which is what Google makes
/// the organiser of an event created in it (a secondary calendar with its name). `self`:
/// "whether the organizer corresponds to the calendar on which this copy of the event
/// appears", so true when the organiser is this calendar (also for a reader of a calendar
/// shared with them), and left out otherwise, as Google leaves out a false one.
fn organizer_for(calendar: &Calendar, given: Option<&Value>) -> Value {
    let mut organizer = Map::new();
    match given.and_then(|g| g.get("email")).and_then(Value::as_str) {
        Some(email) => {
            organizer.insert("email".into(), json!(email));
            if let Some(name) = given.and_then(|g| g.get("displayName")) {
                organizer.insert("displayName".into(), name.clone());
            }
        }
        None => {
            organizer.insert("email".into(), json!(calendar.id));
            if !calendar.members[0].primary {
                organizer.insert("displayName".into(), json!(calendar.summary));
            }
        }
    }
    let here = organizer["email"]
        .as_str()
        .is_some_and(|e| e.eq_ignore_ascii_case(&calendar.id));
    if here {
        organizer.insert("self".into(), json!(true));
    }
    Value::Object(organizer)
}

/// What Google sets on attendee entries, whatever a client sends: `organizer` on the
/// organiser's entry and `self` on the entry of the calendar this copy is in (both
/// read-only, left out when false), and `responseStatus` `needsAction` on a guest who has
/// not answered (Google always answers with one).
fn mark_attendees(calendar_id: &str, body: &mut Map<String, Value>) {
    let organizer = body
        .get("organizer")
        .and_then(|o| o.get("email"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let entries = body.get_mut("attendees").and_then(Value::as_array_mut);
    for entry in entries
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
    {
        let email = entry.get("email").and_then(Value::as_str).unwrap_or("");
        let is = |other: Option<&str>| other.is_some_and(|o| o.eq_ignore_ascii_case(email));
        for (flag, on) in [
            ("organizer", is(organizer.as_deref())),
            ("self", is(Some(calendar_id))),
        ] {
            if on {
                entry.insert(flag.into(), json!(true));
            } else {
                entry.remove(flag);
            }
        }
        entry
            .entry("responseStatus")
            .or_insert_with(|| json!("needsAction"));
    }
}

/// Properties every guest sees, which only the organiser may change: anyone else's change
/// is 403 `forbiddenForNonOrganizer`, unless the organiser let guests modify the event.
/// A guest's own copy keeps the rest (reminders, colour, private properties, their answer).
const SHARED_PROPERTIES: &[&str] = &[
    "summary",
    "description",
    "location",
    "start",
    "end",
    "recurrence",
    "attendees",
    "visibility",
    "guestsCanModify",
    "guestsCanInviteOthers",
    "guestsCanSeeOtherGuests",
    "conferenceData",
    "attachments",
];

/// The rule behind `forbiddenForNonOrganizer`: `old` → `new` in `calendar_id` changes a
/// shared property of an event that calendar does not organise.
fn check_organizer(
    calendar_id: &str,
    old: &Map<String, Value>,
    new: &Map<String, Value>,
) -> Result<(), GoogleError> {
    let flag = |body: &Map<String, Value>, pointer: &str| {
        Value::Object(body.clone())
            .pointer(pointer)
            .and_then(Value::as_bool)
            == Some(true)
    };
    if flag(old, "/organizer/self") || flag(old, "/guestsCanModify") {
        return Ok(());
    }
    // The guest's answer to the invitation is their own: not a shared change.
    let shared = |body: &Map<String, Value>, key: &str| -> Option<Value> {
        let mut value = body.get(key).cloned()?;
        if key == "attendees" {
            for attendee in value.as_array_mut().into_iter().flatten() {
                let own = attendee["email"]
                    .as_str()
                    .is_some_and(|e| e.eq_ignore_ascii_case(calendar_id));
                if let (true, Some(entry)) = (own, attendee.as_object_mut()) {
                    for answer in ["responseStatus", "comment", "additionalGuests"] {
                        entry.remove(answer);
                    }
                }
            }
        }
        Some(value)
    };
    let shared_properties = |body: &Map<String, Value>| {
        Value::Object(body.clone())
            .pointer("/extendedProperties/shared")
            .cloned()
    };
    let changed = SHARED_PROPERTIES
        .iter()
        .any(|key| shared(old, key) != shared(new, key))
        || shared_properties(old) != shared_properties(new);
    if changed {
        return Err(GoogleError::forbidden_for_non_organizer());
    }
    Ok(())
}

fn insert(
    state: &mut GoogleState,
    calendar_id: &str,
    email: &str,
    mut body: Map<String, Value>,
    keep_organizer: bool,
) -> Result<Map<String, Value>, GoogleError> {
    let id = match body.get("id") {
        Some(Value::String(id)) => {
            if !valid_event_id(id) {
                return Err(GoogleError::invalid(format!(
                    "Invalid resource id value: {id} (id: 5 to 1024 characters of a-v and 0-9)."
                )));
            }
            id.clone()
        }
        Some(_) => {
            return Err(GoogleError::invalid(
                "Invalid resource id value: id must be a string.",
            ))
        }
        None => random_token("")[..26].to_string(),
    };
    let calendar = state.calendar.calendars.get(calendar_id).expect("checked");
    if calendar.events.contains_key(&id) {
        return Err(GoogleError::duplicate());
    }
    validate(&body)?;
    // Read-only in the API: whatever a client sends, the calendar organises what it creates.
    let given = body.remove("organizer").filter(|_| keep_organizer);
    body.insert("organizer".into(), organizer_for(calendar, given.as_ref()));
    mark_attendees(calendar_id, &mut body);
    let now = timestamp(state.now());
    let defaults = json!({
        "kind": "calendar#event",
        "status": "confirmed",
        "htmlLink": format!("{}/calendar/event?eid={id}", state.base_url),
        "created": now,
        "creator": {"email": email, "self": true},
        "iCalUID": format!("{id}@google.com"),
        "sequence": 0,
        "reminders": {"useDefault": true},
        "eventType": "default",
    });
    for (key, value) in defaults.as_object().expect("an object") {
        body.entry(key.clone()).or_insert_with(|| value.clone());
    }
    body.insert("id".into(), json!(id));
    body.insert("kind".into(), json!("calendar#event"));
    body.insert("created".into(), json!(now));
    Ok(stamp_and_store(state, calendar_id, body))
}

/// The stored event, or — for an instance id of a series with no exception stored yet — a new
/// exception materialised from the master (how Google stores an edited or cancelled instance).
fn stored_or_instance(
    calendar: &mut Calendar,
    event_id: &str,
) -> Result<Map<String, Value>, GoogleError> {
    if let Some(stored) = calendar.events.get(event_id) {
        return Ok(stored.body.clone());
    }
    let (master_id, suffix) =
        recurrence::split_instance_id(event_id).ok_or_else(GoogleError::not_found)?;
    let master = calendar
        .events
        .get(master_id)
        .ok_or_else(GoogleError::not_found)?;
    if is_cancelled(&master.body) || !is_recurring_master(&master.body) {
        return Err(GoogleError::not_found());
    }
    instance_of(&master.body, calendar.zone, suffix).ok_or_else(GoogleError::not_found)
}

/// The instance of `master` whose id suffix is `suffix`, if the series has one there.
fn instance_of(master: &Map<String, Value>, zone: Tz, suffix: &str) -> Option<Map<String, Value>> {
    let around = recurrence::suffix_instant(suffix)?;
    let day = chrono::Duration::days(2);
    recurrence::occurrences(master, zone, Some(around - day), Some(around + day), 100)
        .into_iter()
        .find(|o| o.suffix == suffix)
        .map(|o| instance_body(master, &o))
}

pub(crate) fn instance_body(
    master: &Map<String, Value>,
    occurrence: &recurrence::Occurrence,
) -> Map<String, Value> {
    let mut body = master.clone();
    body.remove("recurrence");
    let master_id = master["id"].as_str().unwrap_or_default();
    body.insert(
        "id".into(),
        json!(format!("{master_id}_{}", occurrence.suffix)),
    );
    body.insert("recurringEventId".into(), json!(master_id));
    body.insert("originalStartTime".into(), occurrence.start.clone());
    body.insert("start".into(), occurrence.start.clone());
    body.insert("end".into(), occurrence.end.clone());
    body
}

fn check_if_match(headers: &HeaderMap, body: &Map<String, Value>) -> Result<(), GoogleError> {
    let Some(wanted) = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let current = body.get("etag").and_then(Value::as_str).unwrap_or_default();
    let matches = wanted
        .split(',')
        .map(str::trim)
        .any(|w| w == "*" || w == current);
    if matches {
        Ok(())
    } else {
        Err(GoogleError::condition_not_met())
    }
}

/// Stores a new version of an event (fields the server owns are kept), bumping `sequence`.
fn store_version(
    state: &mut GoogleState,
    calendar_id: &str,
    old: &Map<String, Value>,
    mut body: Map<String, Value>,
) -> Result<Map<String, Value>, GoogleError> {
    for owned in [
        "id",
        "kind",
        "created",
        "creator",
        "organizer",
        "iCalUID",
        "htmlLink",
        "recurringEventId",
        "originalStartTime",
        "eventType",
    ] {
        match old.get(owned) {
            Some(value) => body.insert(owned.into(), value.clone()),
            None => body.remove(owned),
        };
    }
    mark_attendees(calendar_id, &mut body);
    validate(&body)?;
    let sequence = old.get("sequence").and_then(Value::as_i64).unwrap_or(0);
    body.insert("sequence".into(), json!(sequence + 1));
    Ok(stamp_and_store(state, calendar_id, body))
}

/// Runs `f` with the caller's calendar, after the bearer and scope checks.
fn with_calendar<T>(
    shared: &Shared,
    headers: &HeaderMap,
    scopes: &[&str],
    calendar_id: &str,
    need: AccessRole,
    f: impl FnOnce(&mut GoogleState, &Caller, String, AccessRole) -> Result<T, GoogleError>,
) -> Result<T, GoogleError> {
    let mut state = shared.google.lock();
    let caller = authorize(&state, headers, scopes)?;
    let (calendar, role) = calendar_for(&mut state, &caller, calendar_id, need)?;
    let id = calendar.id.clone();
    f(&mut state, &caller, id, role)
}

async fn insert_event(
    State(shared): State<Arc<Shared>>,
    Path(calendar_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, GoogleError> {
    let body = json_object(&body)?;
    with_calendar(
        &shared,
        &headers,
        WRITE_SCOPES,
        &calendar_id,
        AccessRole::Writer,
        |state, caller, id, _| {
            insert(state, &id, &caller.email, body, false).map(|b| Json(Value::Object(b)))
        },
    )
}

async fn get_event(
    State(shared): State<Arc<Shared>>,
    Path((calendar_id, event_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, GoogleError> {
    with_calendar(
        &shared,
        &headers,
        READ_SCOPES,
        &calendar_id,
        AccessRole::Reader,
        |state, _, id, _| {
            let calendar = state.calendar.calendars.get_mut(&id).expect("checked");
            let body = stored_or_instance(calendar, &event_id)?;
            let etag = body.get("etag").and_then(Value::as_str).unwrap_or_default();
            if headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                == Some(etag)
            {
                return Ok(StatusCode::NOT_MODIFIED.into_response());
            }
            Ok(Json(Value::Object(body)).into_response())
        },
    )
}

async fn patch_event(
    State(shared): State<Arc<Shared>>,
    Path((calendar_id, event_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, GoogleError> {
    let patch = json_object(&body)?;
    write_event(&shared, &headers, &calendar_id, &event_id, |old| {
        let mut new = old.clone();
        merge_patch(&mut new, &patch);
        new
    })
}

async fn update_event(
    State(shared): State<Arc<Shared>>,
    Path((calendar_id, event_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, GoogleError> {
    let replacement = json_object(&body)?;
    write_event(&shared, &headers, &calendar_id, &event_id, |_| replacement)
}

fn write_event(
    shared: &Shared,
    headers: &HeaderMap,
    calendar_id: &str,
    event_id: &str,
    change: impl FnOnce(&Map<String, Value>) -> Map<String, Value>,
) -> Result<Json<Value>, GoogleError> {
    with_calendar(
        shared,
        headers,
        WRITE_SCOPES,
        calendar_id,
        AccessRole::Writer,
        |state, _, id, _| {
            let calendar = state.calendar.calendars.get_mut(&id).expect("checked");
            let old = stored_or_instance(calendar, event_id)?;
            check_if_match(headers, &old)?;
            let mut new = change(&old);
            // As it will be stored (the organiser is read-only), so that flags Google sets
            // are not taken for a guest's change.
            match old.get("organizer") {
                Some(organizer) => new.insert("organizer".into(), organizer.clone()),
                None => new.remove("organizer"),
            };
            mark_attendees(&id, &mut new);
            check_organizer(&id, &old, &new)?;
            let new = store_version(state, &id, &old, new)?;
            if is_recurring_master(&old) && !is_cancelled(&new) {
                carry_to_exceptions(state, &id, &old, &new);
            }
            Ok(Json(Value::Object(new)))
        },
    )
}

/// Fields an exception keeps whatever its series says: its identity, its times and the
/// server's bookkeeping.
const EXCEPTION_OWN: &[&str] = &[
    "kind",
    "id",
    "etag",
    "status",
    "htmlLink",
    "created",
    "updated",
    "iCalUID",
    "sequence",
    "start",
    "end",
    "recurrence",
    "recurringEventId",
    "originalStartTime",
];

/// A change of a series master reaches its live exceptions, field by field, where the
/// exception did not change that field itself (it still holds the master's old value): Google
/// keeps an exception as that instance's differences from its series, so renaming a series
/// renames a moved instance too (what Google Calendar shows; the API reference does not say).
/// Times stay the exception's own. A changed exception gets a new etag and `updated` but no
/// new log position: whether Google lists it again in an incremental sync is undocumented,
/// and not listing it is the harder case for a client, which must then read it by its id.
fn carry_to_exceptions(
    state: &mut GoogleState,
    calendar_id: &str,
    old: &Map<String, Value>,
    new: &Map<String, Value>,
) {
    let master_id = new.get("id").and_then(Value::as_str).unwrap_or_default();
    let changed: BTreeSet<&String> = old
        .keys()
        .chain(new.keys())
        .filter(|k| !EXCEPTION_OWN.contains(&k.as_str()) && old.get(*k) != new.get(*k))
        .collect();
    let calendar = state
        .calendar
        .calendars
        .get_mut(calendar_id)
        .expect("checked");
    let mut touched = Vec::new();
    for (id, stored) in &mut calendar.events {
        let body = &mut stored.body;
        if body.get("recurringEventId").and_then(Value::as_str) != Some(master_id)
            || is_cancelled(body)
        {
            continue;
        }
        let mut changes = false;
        for &key in &changed {
            if body.get(key) != old.get(key) {
                continue; // the exception's own value
            }
            match new.get(key) {
                Some(value) => body.insert(key.clone(), value.clone()),
                None => body.remove(key),
            };
            changes = true;
        }
        if changes {
            touched.push(id.clone());
        }
    }
    for id in touched {
        let etag = next_etag(state);
        let now = timestamp(state.now());
        let calendar = state
            .calendar
            .calendars
            .get_mut(calendar_id)
            .expect("checked");
        let body = &mut calendar.events.get_mut(&id).expect("just seen").body;
        body.insert("etag".into(), json!(etag));
        body.insert("updated".into(), json!(now));
    }
}

/// Deleting marks the event cancelled (it stays for incremental lists and `get`); a master
/// takes its exceptions with it; an instance becomes a cancelled exception. A second delete
/// answers 410 deleted.
async fn delete_event(
    State(shared): State<Arc<Shared>>,
    Path((calendar_id, event_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, GoogleError> {
    with_calendar(
        &shared,
        &headers,
        WRITE_SCOPES,
        &calendar_id,
        AccessRole::Writer,
        |state, _, id, _| {
            let calendar = state.calendar.calendars.get_mut(&id).expect("checked");
            let old = stored_or_instance(calendar, &event_id)?;
            if is_cancelled(&old) {
                return Err(GoogleError::deleted());
            }
            check_if_match(&headers, &old)?;
            let exceptions: Vec<Map<String, Value>> = calendar
                .events
                .values()
                .filter(|s| {
                    s.body.get("recurringEventId").and_then(Value::as_str)
                        == Some(event_id.as_str())
                        && !is_cancelled(&s.body)
                })
                .map(|s| s.body.clone())
                .collect();
            for old in std::iter::once(old).chain(exceptions) {
                let mut new = old.clone();
                new.insert("status".into(), json!("cancelled"));
                store_version(state, &id, &old, new)?;
            }
            Ok(StatusCode::NO_CONTENT)
        },
    )
}

async fn list_events(
    State(shared): State<Arc<Shared>>,
    Path(calendar_id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GoogleError> {
    let params = query_pairs(query.as_deref());
    with_calendar(
        &shared,
        &headers,
        READ_SCOPES,
        &calendar_id,
        AccessRole::Reader,
        |state, _, id, role| list::events(state, &id, role, &params).map(Json),
    )
}

async fn instances(
    State(shared): State<Arc<Shared>>,
    Path((calendar_id, event_id)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GoogleError> {
    let params = query_pairs(query.as_deref());
    with_calendar(
        &shared,
        &headers,
        READ_SCOPES,
        &calendar_id,
        AccessRole::Reader,
        |state, _, id, role| list::instances(state, &id, role, &event_id, &params).map(Json),
    )
}

fn list_entry(calendar: &Calendar, member: &Member) -> Value {
    json!({
        "kind": "calendar#calendarListEntry",
        "etag": format!("\"{}\"", 1_700_000_000_000u64 + calendar.head),
        "id": calendar.id,
        "summary": calendar.summary,
        "timeZone": calendar.zone.name(),
        "accessRole": member.role.as_str(),
        "primary": member.primary,
        "selected": true,
        "backgroundColor": "#9fe1e7",
        "foregroundColor": "#000000",
        "defaultReminders": [],
    })
}

async fn calendar_list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, GoogleError> {
    let params = query_pairs(query.as_deref());
    let state = shared.google.lock();
    let caller = authorize(&state, &headers, LIST_SCOPES)?;
    let min_role = match list::param(&params, "minAccessRole") {
        Some(role) => AccessRole::parse(role).ok_or_else(|| {
            GoogleError::bad_parameter(
                "minAccessRole",
                format!("Invalid value for minAccessRole: {role}"),
            )
        })?,
        None => AccessRole::FreeBusyReader,
    };
    if list::param(&params, "syncToken").is_some() {
        return Err(GoogleError::bad_parameter(
            "syncToken",
            "calendarList syncToken is not implemented by the fake",
        ));
    }
    let entries: Vec<Value> = state
        .calendar
        .calendars
        .values()
        .filter_map(|c| {
            c.members
                .iter()
                .find(|m| m.email == caller.email && m.role >= min_role)
                .map(|m| list_entry(c, m))
        })
        .collect();
    list::offset_page(entries, &params, 100, 250, "calendar#calendarList").map(Json)
}

async fn calendar_list_entry(
    State(shared): State<Arc<Shared>>,
    Path(calendar_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, GoogleError> {
    with_calendar(
        &shared,
        &headers,
        LIST_SCOPES,
        &calendar_id,
        AccessRole::Reader,
        |state, caller, id, _| {
            let calendar = &state.calendar.calendars[&id];
            let member = calendar
                .members
                .iter()
                .find(|m| m.email == caller.email)
                .expect("checked");
            Ok(Json(list_entry(calendar, member)))
        },
    )
}

/// What a list shows of a stored event.
pub(crate) fn listed(body: &Map<String, Value>) -> Value {
    if is_cancelled(body) {
        cancelled_stub(body)
    } else {
        Value::Object(body.clone())
    }
}
