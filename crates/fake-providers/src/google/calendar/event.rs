//! The Event resource: validation of what clients send, the fields the server owns, times,
//! and the shapes cancelled events take in lists.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{json, Map, Value};

use crate::google::GoogleError;

/// When an event starts or ends, as an instant (all-day: midnight in the zone that applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Instant(pub(crate) DateTime<Utc>);

/// An EventDateTime, parsed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum When {
    Date(NaiveDate),
    DateTime { at: DateTime<Utc>, zone: Option<Tz> },
}

impl When {
    /// Reads `{date}` or `{dateTime, timeZone?}`; `field` (`start`, `end`) names it in errors.
    pub(crate) fn parse(value: &Value, field: &str) -> Result<When, GoogleError> {
        let zone = match value.get("timeZone").and_then(Value::as_str) {
            Some(name) => Some(name.parse::<Tz>().map_err(|_| {
                GoogleError::invalid(format!(
                    "Invalid time zone definition for {field} time: {name}."
                ))
            })?),
            None => None,
        };
        match (
            value.get("date").and_then(Value::as_str),
            value.get("dateTime").and_then(Value::as_str),
        ) {
            (Some(_), Some(_)) => Err(GoogleError::invalid(format!(
                "Only one of {field}.date and {field}.dateTime may be set."
            ))),
            (Some(date), None) => NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .map(When::Date)
                .map_err(|_| {
                    GoogleError::invalid(format!("Invalid {field}.date: {date} (yyyy-mm-dd)."))
                }),
            (None, Some(text)) => {
                if let Ok(at) = DateTime::parse_from_rfc3339(text) {
                    return Ok(When::DateTime {
                        at: at.with_timezone(&Utc),
                        zone,
                    });
                }
                // No offset: the time zone says where it is (Google requires one of the two).
                let local =
                    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").map_err(|_| {
                        GoogleError::invalid(format!(
                            "Invalid {field}.dateTime: {text} (RFC 3339)."
                        ))
                    })?;
                let zone = zone.ok_or_else(|| {
                    GoogleError::invalid(format!("Missing time zone definition for {field} time."))
                })?;
                let at = zone.from_local_datetime(&local).earliest().ok_or_else(|| {
                    GoogleError::invalid(format!(
                        "{field}.dateTime {text} does not exist in {zone}."
                    ))
                })?;
                Ok(When::DateTime {
                    at: at.with_timezone(&Utc),
                    zone: Some(zone),
                })
            }
            (None, None) => Err(GoogleError::invalid(format!(
                "Missing {field}.date or {field}.dateTime."
            ))),
        }
    }

    pub(crate) fn instant(&self, calendar_zone: Tz) -> Instant {
        match self {
            When::Date(date) => Instant(
                calendar_zone
                    .from_local_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight"))
                    .earliest()
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or_else(|| {
                        Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight"))
                    }),
            ),
            When::DateTime { at, .. } => Instant(*at),
        }
    }
}

/// The start and end of an event's body, as instants.
pub(crate) fn span(event: &Map<String, Value>, calendar_zone: Tz) -> Option<(Instant, Instant)> {
    let start = When::parse(event.get("start")?, "start").ok()?;
    let end = When::parse(event.get("end")?, "end").ok()?;
    Some((start.instant(calendar_zone), end.instant(calendar_zone)))
}

/// Google's event id rule: base32hex characters (a-v, 0-9), 5 to 1024 of them.
pub(crate) fn valid_event_id(id: &str) -> bool {
    (5..=1024).contains(&id.len()) && id.bytes().all(|b| matches!(b, b'a'..=b'v' | b'0'..=b'9'))
}

/// Checks the times and recurrence of a body about to be stored.
pub(crate) fn validate(event: &Map<String, Value>) -> Result<(), GoogleError> {
    let start = event
        .get("start")
        .ok_or_else(|| GoogleError::required("start time"))?;
    let end = event
        .get("end")
        .ok_or_else(|| GoogleError::required("end time"))?;
    let start = When::parse(start, "start")?;
    let end = When::parse(end, "end")?;
    let empty = match (&start, &end) {
        (When::Date(s), When::Date(e)) => e <= s,
        (When::DateTime { at: s, .. }, When::DateTime { at: e, .. }) => e < s,
        _ => {
            return Err(GoogleError::invalid(
                "Start and end times must either both be date or both be dateTime.",
            ))
        }
    };
    if empty {
        return Err(GoogleError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "calendar",
            "timeRangeEmpty",
            "The specified time range is empty.",
        ));
    }
    if let Some(recurrence) = event.get("recurrence") {
        let lines = recurrence
            .as_array()
            .filter(|lines| lines.iter().all(Value::is_string))
            .ok_or_else(|| {
                GoogleError::invalid("recurrence must be a list of strings (RRULE:…, EXDATE…).")
            })?;
        if !lines.is_empty() {
            if let When::DateTime { zone: None, .. } = start {
                return Err(GoogleError::invalid(
                    "Missing time zone definition for start time (start.timeZone is required for recurring events).",
                ));
            }
            super::recurrence::rule_set(event, chrono_tz::UTC)?;
        }
    }
    if let Some(props) = event.get("extendedProperties") {
        for kind in ["private", "shared"] {
            if let Some(map) = props.get(kind) {
                let ok = map
                    .as_object()
                    .is_some_and(|m| m.values().all(Value::is_string));
                if !ok {
                    return Err(GoogleError::invalid(format!(
                        "extendedProperties.{kind} must be an object of string values."
                    )));
                }
            }
        }
    }
    Ok(())
}

/// RFC 3339 in UTC with milliseconds, as Google writes `created` and `updated`.
pub(crate) fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// What lists show of a cancelled event: a deleted event has only its id and status; a
/// cancelled instance of a series also keeps `recurringEventId` and `originalStartTime`.
pub(crate) fn cancelled_stub(event: &Map<String, Value>) -> Value {
    let mut stub = json!({
        "kind": "calendar#event",
        "etag": event["etag"],
        "id": event["id"],
        "status": "cancelled",
    });
    for field in ["recurringEventId", "originalStartTime"] {
        if let Some(value) = event.get(field) {
            stub[field] = value.clone();
        }
    }
    stub
}

pub(crate) fn is_cancelled(event: &Map<String, Value>) -> bool {
    event.get("status").and_then(Value::as_str) == Some("cancelled")
}

pub(crate) fn is_recurring_master(event: &Map<String, Value>) -> bool {
    event
        .get("recurrence")
        .and_then(Value::as_array)
        .is_some_and(|lines| !lines.is_empty())
}

/// `privateExtendedProperty=key=value`: the event's private property `key` is `value`.
pub(crate) fn has_private_property(event: &Map<String, Value>, key: &str, value: &str) -> bool {
    event
        .get("extendedProperties")
        .and_then(|p| p.get("private"))
        .and_then(|p| p.get(key))
        .and_then(Value::as_str)
        == Some(value)
}

/// RFC 7396 merge patch, which is how Google's patch treats a body: members replace, objects
/// merge, arrays are replaced whole, `null` clears.
pub(crate) fn merge_patch(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (key, value) in patch {
        match value {
            Value::Null => {
                target.remove(key);
            }
            Value::Object(inner) => {
                let slot = target
                    .entry(key.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                merge_patch(slot.as_object_mut().expect("an object"), inner);
            }
            other => {
                target.insert(key.clone(), other.clone());
            }
        }
    }
}
