//! Expanding a recurring event (`recurrence: ["RRULE:…", "EXDATE…", "RDATE…"]`) into its
//! instances, with the `rrule` crate (RFC 5545, maintained, time zones via chrono-tz): Google's
//! lines are iCalendar content lines without DTSTART, so we prepend one built from `start`.
//!
//! Instance ids are Google's: `{masterId}_{YYYYMMDDTHHMMSSZ}` (timed, UTC) or
//! `{masterId}_{YYYYMMDD}` (all-day).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use rrule::RRuleSet;
use serde_json::{json, Map, Value};

use super::event::{Instant, When};
use crate::google::GoogleError;

/// One instance of a series.
#[derive(Debug, Clone)]
pub(crate) struct Occurrence {
    /// The suffix of the instance id.
    pub(crate) suffix: String,
    /// EventDateTime of the instance's (original) start and end.
    pub(crate) start: Value,
    pub(crate) end: Value,
    pub(crate) start_at: Instant,
    pub(crate) end_at: Instant,
}

/// The rule set of a master: DTSTART from `start` (in `start.timeZone`; all-day at midnight
/// UTC, dates being civil), then the event's own lines. All-day `VALUE=DATE` lists and date
/// `UNTIL`s are written as midnight-UTC date-times to match.
pub(crate) fn rule_set(
    event: &Map<String, Value>,
    _calendar_zone: Tz,
) -> Result<RRuleSet, GoogleError> {
    let start = When::parse(event.get("start").unwrap_or(&Value::Null), "start")?;
    let mut text = match &start {
        When::Date(date) => format!("DTSTART:{}T000000Z", date.format("%Y%m%d")),
        When::DateTime { at, zone } => {
            let zone = zone.unwrap_or(chrono_tz::UTC);
            format!(
                "DTSTART;TZID={}:{}",
                zone.name(),
                at.with_timezone(&zone).format("%Y%m%dT%H%M%S")
            )
        }
    };
    let all_day = matches!(start, When::Date(_));
    for line in event
        .get("recurrence")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let line = line.as_str().unwrap_or_default().trim();
        let line = if all_day {
            date_values_as_utc(line)
        } else {
            line.to_string()
        };
        text.push('\n');
        text.push_str(&line);
    }
    text.parse::<RRuleSet>()
        .map_err(|e| GoogleError::invalid(format!("Invalid recurrence rule: {e}")))
}

/// `EXDATE;VALUE=DATE:20260112,20260119` → `EXDATE:20260112T000000Z,20260119T000000Z`, and a
/// date `UNTIL=20260301` → `UNTIL=20260301T000000Z`.
fn date_values_as_utc(line: &str) -> String {
    let Some((name, values)) = line.split_once(':') else {
        return line.to_string();
    };
    if let Some(property) = name.strip_suffix(";VALUE=DATE") {
        let values: Vec<String> = values
            .split(',')
            .map(|d| format!("{}T000000Z", d.trim()))
            .collect();
        return format!("{property}:{}", values.join(","));
    }
    if name == "RRULE" {
        let parts: Vec<String> = values
            .split(';')
            .map(|part| match part.strip_prefix("UNTIL=") {
                Some(until) if until.len() == 8 => format!("UNTIL={until}T000000Z"),
                _ => part.to_string(),
            })
            .collect();
        return format!("RRULE:{}", parts.join(";"));
    }
    line.to_string()
}

/// The instances of `event` that overlap `[from, to)` (start before `to`, end after `from`),
/// at most `limit` of them.
pub(crate) fn occurrences(
    event: &Map<String, Value>,
    calendar_zone: Tz,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: u16,
) -> Vec<Occurrence> {
    let Ok(set) = rule_set(event, calendar_zone) else {
        return Vec::new();
    };
    let (Ok(start), Ok(end)) = (
        When::parse(&event["start"], "start"),
        When::parse(&event["end"], "end"),
    ) else {
        return Vec::new();
    };
    let length = end.instant(calendar_zone).0 - start.instant(calendar_zone).0;
    let mut set = set;
    if let Some(from) = from {
        set = set.after((from - length - Duration::seconds(1)).with_timezone(&rrule::Tz::UTC));
    }
    if let Some(to) = to {
        set = set.before(to.with_timezone(&rrule::Tz::UTC));
    }
    set.all(limit)
        .dates
        .into_iter()
        .map(|at| occurrence(&start, &end, at.with_timezone(&Utc), calendar_zone))
        .filter(|o| from.is_none_or(|f| o.end_at.0 > f) && to.is_none_or(|t| o.start_at.0 < t))
        .collect()
}

fn occurrence(start: &When, end: &When, at: DateTime<Utc>, calendar_zone: Tz) -> Occurrence {
    match (start, end) {
        (When::Date(first), When::Date(last)) => {
            let date: NaiveDate = at.date_naive();
            let end_date = date + (*last - *first);
            Occurrence {
                suffix: date.format("%Y%m%d").to_string(),
                start: json!({"date": date.format("%Y-%m-%d").to_string()}),
                end: json!({"date": end_date.format("%Y-%m-%d").to_string()}),
                start_at: When::Date(date).instant(calendar_zone),
                end_at: When::Date(end_date).instant(calendar_zone),
            }
        }
        (When::DateTime { at: s, zone }, When::DateTime { at: e, .. }) => {
            let zone = zone.unwrap_or(chrono_tz::UTC);
            let end_at = at + (*e - *s);
            let form = |t: DateTime<Utc>| json!({"dateTime": t.with_timezone(&zone).to_rfc3339(), "timeZone": zone.name()});
            Occurrence {
                suffix: at.format("%Y%m%dT%H%M%SZ").to_string(),
                start: form(at),
                end: form(end_at),
                start_at: Instant(at),
                end_at: Instant(end_at),
            }
        }
        _ => unreachable!("validated: start and end are both dates or both date-times"),
    }
}

/// The master id and occurrence suffix of an instance id (`abc123_20260105T090000Z`).
pub(crate) fn split_instance_id(id: &str) -> Option<(&str, &str)> {
    let (master, suffix) = id.rsplit_once('_')?;
    let looks_like_time = (suffix.len() == 8 && suffix.bytes().all(|b| b.is_ascii_digit()))
        || (suffix.len() == 16 && suffix.ends_with('Z') && suffix.as_bytes()[8] == b'T');
    looks_like_time.then_some((master, suffix))
}

/// The instant an occurrence suffix names (for searching around it).
pub(crate) fn suffix_instant(suffix: &str) -> Option<DateTime<Utc>> {
    if suffix.len() == 8 {
        let date = NaiveDate::parse_from_str(suffix, "%Y%m%d").ok()?;
        return Some(date.and_hms_opt(0, 0, 0)?.and_utc());
    }
    chrono::NaiveDateTime::parse_from_str(suffix, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|t| t.and_utc())
}
