//! events.list and events.instances: filters, pages and sync tokens.
//!
//! Items come in log order (stamp, then id). A page token holds the position after the last
//! item served and the log head when the listing began; the sync token of the last page is
//! that head, so a write made while a client pages is served again by the next incremental
//! list (at least once, never lost). Tokens are opaque base64 to clients.

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::event::{has_private_property, is_cancelled, is_recurring_master, span, timestamp};
use super::{instance_body, listed, recurrence, AccessRole, Calendar};
use crate::google::{GoogleError, GoogleState};

/// How far `singleEvents=true` expands a series that has no end when no timeMax bounds it
/// (Google's own horizon is undocumented), and at most how many instances per series.
const HORIZON_DAYS: i64 = 366;
const MAX_INSTANCES: u16 = 2500;

/// Parameters Google refuses together with a syncToken.
const NOT_WITH_SYNC_TOKEN: &[&str] = &[
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
];

pub(crate) fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn bool_param(params: &[(String, String)], name: &str) -> Result<bool, GoogleError> {
    match param(params, name) {
        None => Ok(false),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(GoogleError::bad_parameter(
            name,
            format!("Invalid boolean value for {name}: {other}"),
        )),
    }
}

fn time_param(
    params: &[(String, String)],
    name: &str,
) -> Result<Option<DateTime<Utc>>, GoogleError> {
    param(params, name)
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    GoogleError::bad_parameter(
                        name,
                        format!("Invalid value for {name}: {v} (RFC 3339 with an offset)"),
                    )
                })
        })
        .transpose()
}

fn max_results(
    params: &[(String, String)],
    default: usize,
    max: usize,
) -> Result<usize, GoogleError> {
    match param(params, "maxResults") {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n.min(max)),
            _ => Err(GoogleError::bad_parameter(
                "maxResults",
                format!("Invalid value for maxResults: {v}"),
            )),
        },
    }
}

#[derive(Serialize, Deserialize)]
struct SyncToken {
    c: String,
    e: u64,
    p: u64,
}

#[derive(Serialize, Deserialize)]
struct PageToken {
    /// Fingerprint of the query: a page token is good only with the query that made it.
    f: String,
    /// The log head when the listing began: the final page's sync position.
    h: u64,
    /// Position after the last item served.
    s: u64,
    i: String,
    /// The empty page before this position has been served.
    x: bool,
}

fn encode<T: Serialize>(token: &T) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(token).expect("serialisable"))
}

fn decode<T: for<'a> Deserialize<'a>>(token: &str) -> Option<T> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn fingerprint(params: &[(String, String)]) -> String {
    let mut kept: Vec<&(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "pageToken" && k != "maxResults")
        .collect();
    kept.sort();
    let mut hash = Sha256::new();
    for (k, v) in kept {
        hash.update(k.as_bytes());
        hash.update([0]);
        hash.update(v.as_bytes());
        hash.update([0]);
    }
    hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

struct Query {
    show_deleted: bool,
    single_events: bool,
    incremental: bool,
    time_min: Option<DateTime<Utc>>,
    time_max: Option<DateTime<Utc>>,
    updated_min: Option<DateTime<Utc>>,
    private: Vec<(String, String)>,
    ical_uid: Option<String>,
}

pub(crate) fn events(
    state: &mut GoogleState,
    calendar_id: &str,
    role: AccessRole,
    params: &[(String, String)],
) -> Result<Value, GoogleError> {
    let limit = max_results(params, 250, 2500)?;
    let sync_token = param(params, "syncToken");
    let calendar = &state.calendar.calendars[calendar_id];
    let since = match sync_token {
        Some(token) => {
            if let Some((name, _)) = params
                .iter()
                .find(|(k, _)| NOT_WITH_SYNC_TOKEN.contains(&k.as_str()))
            {
                return Err(GoogleError::sync_token_with_restrictions(name));
            }
            let decoded = decode::<SyncToken>(token)
                .filter(|t| {
                    t.c == calendar.id && t.e == calendar.token_epoch && t.p <= calendar.head
                })
                .filter(|_| !state.calendar.expired_tokens.contains(token));
            decoded.ok_or_else(GoogleError::full_sync_required)?.p
        }
        None => 0,
    };
    for unsupported in ["orderBy", "q", "sharedExtendedProperty"] {
        if param(params, unsupported).is_some() {
            return Err(GoogleError::bad_parameter(
                unsupported,
                format!("{unsupported} is not implemented by the fake"),
            ));
        }
    }
    let mut private = Vec::new();
    for (k, v) in params
        .iter()
        .filter(|(k, _)| k == "privateExtendedProperty")
    {
        let (key, value) = v.split_once('=').ok_or_else(|| {
            GoogleError::bad_parameter(
                k,
                format!("Invalid value for privateExtendedProperty: {v} (propertyName=value)"),
            )
        })?;
        private.push((key.to_string(), value.to_string()));
    }
    let query = Query {
        show_deleted: bool_param(params, "showDeleted")?,
        single_events: bool_param(params, "singleEvents")?,
        incremental: sync_token.is_some(),
        time_min: time_param(params, "timeMin")?,
        time_max: time_param(params, "timeMax")?,
        updated_min: time_param(params, "updatedMin")?,
        private,
        ical_uid: param(params, "iCalUID").map(str::to_string),
    };
    if let (Some(min), Some(max)) = (query.time_min, query.time_max) {
        if max <= min {
            return Err(GoogleError::time_range_empty("timeMax"));
        }
    }
    let print = fingerprint(params);
    let page = match param(params, "pageToken") {
        Some(token) => decode::<PageToken>(token)
            .filter(|p| p.f == print)
            .ok_or_else(|| {
                GoogleError::bad_parameter(
                    "pageToken",
                    "Invalid pageToken: not one of this query's page tokens",
                )
            })?,
        // Starts after every item stamped `since` (ids are ASCII, so this sorts after them).
        None => PageToken {
            f: print,
            h: calendar.head.max(since),
            s: since,
            i: "\u{10ffff}".into(),
            x: false,
        },
    };

    let mut response = json!({
        "kind": "calendar#events",
        "etag": format!("\"p{}\"", calendar.head),
        "summary": calendar.summary,
        "description": "",
        "updated": timestamp(state.now()),
        "timeZone": calendar.zone.name(),
        "accessRole": role.as_str(),
        "defaultReminders": [],
    });
    if state.calendar.empty_pages && !page.x {
        response["items"] = json!([]);
        response["nextPageToken"] = json!(encode(&PageToken { x: true, ..page }));
        return Ok(response);
    }
    let now = state.now();
    let mut items = candidates(calendar, &query, now, (page.s, &page.i));
    items.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let more = items.len() > limit;
    items.truncate(limit);
    if more {
        let (s, i, _) = items.last().expect("a full page");
        response["nextPageToken"] = json!(encode(&PageToken {
            f: page.f,
            h: page.h,
            s: *s,
            i: i.clone(),
            x: false
        }));
    } else {
        response["nextSyncToken"] = json!(encode(&SyncToken {
            c: calendar.id.clone(),
            e: calendar.token_epoch,
            p: page.h
        }));
    }
    response["items"] = Value::Array(items.into_iter().map(|(_, _, v)| v).collect());
    Ok(response)
}

/// Every item the query shows after `after` (log position, id), unordered.
fn candidates(
    calendar: &Calendar,
    q: &Query,
    now: DateTime<Utc>,
    after: (u64, &str),
) -> Vec<(u64, String, Value)> {
    let changes_only = q.incremental || q.updated_min.is_some();
    let horizon = q
        .time_max
        .unwrap_or(now + chrono::Duration::days(HORIZON_DAYS));
    let mut out = Vec::new();
    for stored in calendar.events.values() {
        let body = &stored.body;
        if stored.stamp < after.0 {
            continue;
        }
        if let Some(min) = q.updated_min {
            let updated = body
                .get("updated")
                .and_then(Value::as_str)
                .and_then(|u| DateTime::parse_from_rfc3339(u).ok());
            if updated.is_some_and(|u| u < min) {
                continue;
            }
        }
        if !q
            .private
            .iter()
            .all(|(k, v)| has_private_property(body, k, v))
        {
            continue;
        }
        if q.ical_uid
            .as_deref()
            .is_some_and(|uid| body.get("iCalUID").and_then(Value::as_str) != Some(uid))
        {
            continue;
        }
        let cancelled = is_cancelled(body);
        let exception = body.contains_key("recurringEventId");
        if is_recurring_master(body) && q.single_events {
            // The series as instances; exceptions stand in for the instances they replace.
            if cancelled && !(changes_only || q.show_deleted) {
                continue;
            }
            for occurrence in recurrence::occurrences(
                body,
                calendar.zone,
                q.time_min,
                Some(horizon),
                MAX_INSTANCES,
            ) {
                let instance = instance_body(body, &occurrence);
                let id = instance["id"].as_str().unwrap_or_default().to_string();
                if calendar.events.contains_key(&id) {
                    continue;
                }
                out.push((stored.stamp, id, listed(&instance)));
            }
            continue;
        }
        let shown = if cancelled {
            // Cancelled instances of a live series are shown with singleEvents=false even
            // without showDeleted (Google's showDeleted doc); deleted events need showDeleted
            // or an incremental list.
            changes_only || q.show_deleted || (exception && !q.single_events)
        } else {
            in_window(body, calendar, q)
        };
        if shown {
            out.push((
                stored.stamp,
                body["id"].as_str().unwrap_or_default().to_string(),
                listed(body),
            ));
        }
    }
    out.retain(|(stamp, id, _)| (*stamp, id.as_str()) > after);
    out
}

fn in_window(body: &Map<String, Value>, calendar: &Calendar, q: &Query) -> bool {
    if q.time_min.is_none() && q.time_max.is_none() {
        return true;
    }
    if is_recurring_master(body) {
        return !recurrence::occurrences(body, calendar.zone, q.time_min, q.time_max, 1).is_empty();
    }
    let Some((start, end)) = span(body, calendar.zone) else {
        return false;
    };
    q.time_min.is_none_or(|min| end.0 > min) && q.time_max.is_none_or(|max| start.0 < max)
}

/// events.instances: the series' instances in [timeMin, timeMax) with exceptions in place.
pub(crate) fn instances(
    state: &mut GoogleState,
    calendar_id: &str,
    role: AccessRole,
    event_id: &str,
    params: &[(String, String)],
) -> Result<Value, GoogleError> {
    let calendar = &state.calendar.calendars[calendar_id];
    let master = calendar
        .events
        .get(event_id)
        .ok_or_else(GoogleError::not_found)?;
    if is_cancelled(&master.body) {
        return Err(GoogleError::deleted());
    }
    let show_deleted = bool_param(params, "showDeleted")?;
    let time_min = time_param(params, "timeMin")?;
    let horizon = time_param(params, "timeMax")?
        .unwrap_or(state.now() + chrono::Duration::days(HORIZON_DAYS));
    let mut items = Vec::new();
    if is_recurring_master(&master.body) {
        for occurrence in recurrence::occurrences(
            &master.body,
            calendar.zone,
            time_min,
            Some(horizon),
            MAX_INSTANCES,
        ) {
            let instance = instance_body(&master.body, &occurrence);
            let id = instance["id"].as_str().unwrap_or_default();
            match calendar.events.get(id) {
                Some(exception) if is_cancelled(&exception.body) && !show_deleted => {}
                Some(exception) => items.push(listed(&exception.body)),
                None => items.push(Value::Object(instance)),
            }
        }
    } else {
        items.push(Value::Object(master.body.clone()));
    }
    let mut page = offset_page(items, params, 250, 2500, "calendar#events")?;
    page["timeZone"] = json!(calendar.zone.name());
    page["accessRole"] = json!(role.as_str());
    Ok(page)
}

/// A page of a short, stable list by offset (calendarList, instances).
pub(crate) fn offset_page(
    items: Vec<Value>,
    params: &[(String, String)],
    default: usize,
    max: usize,
    kind: &str,
) -> Result<Value, GoogleError> {
    let limit = max_results(params, default, max)?;
    let start = match param(params, "pageToken") {
        Some(token) => decode::<usize>(token)
            .ok_or_else(|| GoogleError::bad_parameter("pageToken", "Invalid pageToken"))?,
        None => 0,
    };
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(start).take(limit).collect();
    let mut response = json!({"kind": kind, "etag": format!("\"o{total}\""), "items": page});
    if start + limit < total {
        response["nextPageToken"] = json!(encode(&(start + limit)));
    }
    Ok(response)
}
