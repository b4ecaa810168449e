//! The fields Threadline owns, mapped both ways between a CRM meeting and a Calendar event,
//! their normalised content hash, and the three-way merge.
//!
//! **Owned** (compared, hashed, merged, written): title ↔ `summary`; when ↔ `start`/`end`;
//! location; description; the attendee *addresses*. Everything else on the event (reminders,
//! colour, conference data, attendees' response status and display names, recurrence of an
//! event someone turned into a series in Google) is Google's, never compared and never
//! changed by a PATCH from us: when the addresses change, the whole attendee list must be
//! sent, and every entry kept goes back as Google had it ([`crate::attendees`]). Display
//! names are not owned because Google fills them in from the user's contacts: owning them
//! would make every such fill-in look like an edit.
//!
//! **Normalised** so that both sides hash the same when they say the same thing:
//! - a timed meeting is two instants (UTC, whole seconds: Google keeps seconds) and the IANA
//!   zone it is meant in. `09:30+01:00` and `08:30Z` are the same instant; a different zone is
//!   a different meeting (it changes how it recurs and shows), so it is a change;
//! - an all-day meeting is two civil dates, the end exclusive, never an instant (treating a
//!   `date` as UTC midnight is the classic one-day shift);
//! - title and location trimmed; description with `\r\n` as `\n` and no trailing whitespace;
//!   an empty text is the same as none;
//! - attendees a set of trimmed lowercase addresses: order and case do not matter.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::attendees::merge_attendees;
use crate::event::{Event, EventDateTime, ExtendedProperties};
use crate::ids::{event_id_for, CRM_ID_PROPERTY};

/// When a meeting happens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum When {
    /// Instants, and the IANA zone they are meant in.
    Timed {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        time_zone: String,
    },
    /// Civil dates; `end` is exclusive (a one-day meeting ends the next day).
    AllDay { start: NaiveDate, end: NaiveDate },
}

/// The owned fields of a meeting, normalised (build with [`Owned::new`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owned {
    pub title: String,
    pub when: When,
    pub location: Option<String>,
    pub description: Option<String>,
    pub attendees: BTreeSet<String>,
}

/// SHA-256 (hex) of the normalised owned fields. Stored in the link as "what both sides
/// said at the last sync"; equal hashes mean nothing to do, whatever the etags say.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContentHash(pub String);

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The content hash of any serialisable value, under a domain tag so that a block and a
/// meeting with the same fields never share a hash.
pub(crate) fn hash_of<T: Serialize>(tag: &str, value: &T) -> ContentHash {
    let mut hash = Sha256::new();
    hash.update(tag.as_bytes());
    hash.update(b"\n");
    // Serialising plain structs, BTreeSets and strings cannot fail.
    hash.update(serde_json::to_vec(value).expect("owned fields serialise"));
    ContentHash(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Why an event could not be mapped to owned fields. Each names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    #[error("{0} is missing")]
    Missing(&'static str),
    #[error("{field}.date {value:?} is not a date (YYYY-MM-DD)")]
    BadDate { field: &'static str, value: String },
    #[error("{field}.dateTime {value:?} is not an RFC 3339 date and time")]
    BadDateTime { field: &'static str, value: String },
    #[error("{field} has neither date nor dateTime")]
    NoDateOrDateTime { field: &'static str },
    #[error("start and end must both be dates or both be dateTimes")]
    MixedKinds,
    #[error("{field}.timeZone {value:?} is not an IANA time zone")]
    UnknownTimeZone { field: &'static str, value: String },
    #[error("{field}.dateTime {value:?} has no offset and there is no time zone to read it in")]
    NoTimeZone { field: &'static str, value: String },
    #[error("end is before start (an all-day end is exclusive: it must be after the start)")]
    EndBeforeStart,
}

fn clean_line(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn clean_text(s: Option<&str>) -> Option<String> {
    s.map(|s| s.replace("\r\n", "\n").trim_end().to_string())
        .filter(|s| !s.is_empty())
}

/// The address as both sides compare it.
pub fn normalise_address(address: &str) -> String {
    address.trim().to_lowercase()
}

impl When {
    fn normalised(self) -> When {
        match self {
            When::Timed {
                start,
                end,
                time_zone,
            } => When::Timed {
                start: start.trunc_subsecs(0),
                end: end.trunc_subsecs(0),
                time_zone: time_zone.trim().to_string(),
            },
            all_day => all_day,
        }
    }
}

impl Owned {
    /// Owned fields, normalised. `attendees` are addresses in any case and order.
    pub fn new<A: AsRef<str>>(
        title: &str,
        when: When,
        location: Option<&str>,
        description: Option<&str>,
        attendees: impl IntoIterator<Item = A>,
    ) -> Owned {
        Owned {
            title: title.trim().to_string(),
            when: when.normalised(),
            location: clean_line(location),
            description: clean_text(description),
            attendees: attendees
                .into_iter()
                .map(|a| normalise_address(a.as_ref()))
                .filter(|a| !a.is_empty())
                .collect(),
        }
    }

    pub fn hash(&self) -> ContentHash {
        hash_of("threadline-owned-v1", self)
    }

    /// Reads the owned fields of a live event. `default_zone` is the calendar's time zone
    /// (the events list's `timeZone`): the zone of a timed event that names none.
    pub fn from_event(event: &Event, default_zone: Option<&str>) -> Result<Owned, MapError> {
        let start = event.start.as_ref().ok_or(MapError::Missing("start"))?;
        let end = event.end.as_ref().ok_or(MapError::Missing("end"))?;
        let when = match (
            read_time("start", start, default_zone)?,
            read_time("end", end, default_zone)?,
        ) {
            (Time::Date(start), Time::Date(end)) if end > start => When::AllDay { start, end },
            (Time::Instant(start, zone), Time::Instant(end, _)) if end >= start => When::Timed {
                start,
                end,
                // Google may give the end its own zone; a CRM meeting has one, the start's.
                time_zone: zone.unwrap_or_else(|| "UTC".to_string()),
            },
            (Time::Date(_), Time::Date(_)) | (Time::Instant(..), Time::Instant(..)) => {
                return Err(MapError::EndBeforeStart)
            }
            _ => return Err(MapError::MixedKinds),
        };
        let attendees = event
            .attendees
            .iter()
            .flatten()
            // Rooms and other resources are Google's business, not the meeting's people.
            .filter(|a| a.resource != Some(true))
            .filter_map(|a| a.email.as_deref());
        Ok(Owned::new(
            event.summary.as_deref().unwrap_or(""),
            when,
            event.location.as_deref(),
            event.description.as_deref(),
            attendees,
        ))
    }

    /// The body of `events.insert` for the exported meeting `meeting_id`: the client id, the
    /// private property with the meeting id, and every owned field. `names` are display
    /// names by normalised address (the CRM's attendee names), sent but not owned.
    pub fn insert_body(&self, meeting_id: Uuid, names: &BTreeMap<String, String>) -> Event {
        let mut private = BTreeMap::new();
        private.insert(CRM_ID_PROPERTY.to_string(), meeting_id.to_string());
        let (start, end) = self.when.to_event_times();
        Event {
            id: Some(event_id_for(meeting_id)),
            summary: Some(self.title.clone()),
            description: self.description.clone(),
            location: self.location.clone(),
            start: Some(start),
            end: Some(end),
            attendees: Some(merge_attendees(&[], &self.attendees, names)),
            extended_properties: Some(ExtendedProperties {
                private: Some(private),
                shared: None,
            }),
            ..Event::default()
        }
    }

    /// A PATCH body that turns `believed` (what the remote says, as far as we know) into
    /// `self`: only the owned fields that differ. A cleared text is sent as `""` (Google and
    /// merge-patch both read that as empty).
    ///
    /// Attendees, when they differ, are merged into `current`'s entries
    /// ([`merge_attendees`]: kept guests keep their answer, new ones get the CRM's display
    /// name). Without `current` (the event was not read in this run) they are left out:
    /// Google's PATCH replaces the whole list, and one rebuilt from addresses would wipe
    /// every guest's answer, so the caller must read the event first
    /// ([`crate::decide::patch_with_attendees`]).
    pub fn patch_from(
        &self,
        believed: &Owned,
        current: Option<&Event>,
        names: &BTreeMap<String, String>,
    ) -> Event {
        let mut patch = Event::default();
        if self.title != believed.title {
            patch.summary = Some(self.title.clone());
        }
        if self.location != believed.location {
            patch.location = Some(self.location.clone().unwrap_or_default());
        }
        if self.description != believed.description {
            patch.description = Some(self.description.clone().unwrap_or_default());
        }
        if self.when != believed.when {
            let (start, end) = self.when.to_event_times();
            patch.start = Some(start);
            patch.end = Some(end);
        }
        if let (true, Some(current)) = (self.attendees != believed.attendees, current) {
            let entries = current.attendees.as_deref().unwrap_or_default();
            patch.attendees = Some(merge_attendees(entries, &self.attendees, names));
        }
        patch
    }

    /// The field-by-field differences from `other`.
    pub fn changed_fields(&self, other: &Owned) -> Vec<Field> {
        Field::ALL
            .into_iter()
            .filter(|f| !f.same(self, other))
            .collect()
    }
}

pub(crate) enum Time {
    Date(NaiveDate),
    Instant(DateTime<Utc>, Option<String>),
}

pub(crate) fn read_time(
    field: &'static str,
    value: &EventDateTime,
    default_zone: Option<&str>,
) -> Result<Time, MapError> {
    if let Some(date) = &value.date {
        return NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .ok()
            .filter(|_| date.len() == 10)
            .map(Time::Date)
            .ok_or_else(|| MapError::BadDate {
                field,
                value: date.clone(),
            });
    }
    let text = value
        .date_time
        .as_ref()
        .ok_or(MapError::NoDateOrDateTime { field })?;
    let zone_name = value
        .time_zone
        .as_deref()
        .or(default_zone)
        .map(str::trim)
        .filter(|z| !z.is_empty());
    let zone = match zone_name {
        Some(name) => Some(
            jiff::tz::TimeZone::get(name)
                .map(|tz| (name.to_string(), tz))
                .map_err(|_| MapError::UnknownTimeZone {
                    field,
                    value: name.to_string(),
                })?,
        ),
        None => None,
    };
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(Time::Instant(at.with_timezone(&Utc), zone.map(|z| z.0)));
    }
    // No offset: local time in the event's zone (Google requires one of the two).
    let civil: jiff::civil::DateTime = text.parse().map_err(|_| MapError::BadDateTime {
        field,
        value: text.clone(),
    })?;
    let (name, tz) = zone.ok_or_else(|| MapError::NoTimeZone {
        field,
        value: text.clone(),
    })?;
    let ts = civil
        .to_zoned(tz)
        .map_err(|_| MapError::BadDateTime {
            field,
            value: text.clone(),
        })?
        .timestamp();
    let at = DateTime::from_timestamp(ts.as_second(), ts.subsec_nanosecond() as u32).ok_or_else(
        || MapError::BadDateTime {
            field,
            value: text.clone(),
        },
    )?;
    Ok(Time::Instant(at, Some(name)))
}

impl When {
    /// `start` and `end` as Google wants them: `{date}` for all-day; for timed, the local
    /// time with the zone's offset plus `timeZone` (required for series, and what keeps the
    /// meeting's zone in Google).
    pub fn to_event_times(&self) -> (EventDateTime, EventDateTime) {
        match self {
            When::AllDay { start, end } => (date_time_of_date(*start), date_time_of_date(*end)),
            When::Timed {
                start,
                end,
                time_zone,
            } => (
                date_time_in(*start, time_zone),
                date_time_in(*end, time_zone),
            ),
        }
    }
}

fn date_time_of_date(date: NaiveDate) -> EventDateTime {
    EventDateTime {
        date: Some(date.format("%Y-%m-%d").to_string()),
        ..EventDateTime::default()
    }
}

fn date_time_in(at: DateTime<Utc>, zone: &str) -> EventDateTime {
    let local = jiff::tz::TimeZone::get(zone).ok().and_then(|tz| {
        let ts = jiff::Timestamp::from_second(at.timestamp()).ok()?;
        Some(ts.to_zoned(tz).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string())
    });
    EventDateTime {
        // An unknown zone cannot come from a validated CRM meeting; UTC keeps the instant.
        date_time: Some(local.unwrap_or_else(|| at.format("%Y-%m-%dT%H:%M:%SZ").to_string())),
        time_zone: Some(zone.to_string()),
        date: None,
    }
}

/// An owned field, as the three-way merge sees it. Start, end and zone are one field: a
/// merge must never take the start from one side and the end from the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Title,
    When,
    Location,
    Description,
    Attendees,
}

impl Field {
    pub const ALL: [Field; 5] = [
        Field::Title,
        Field::When,
        Field::Location,
        Field::Description,
        Field::Attendees,
    ];

    fn same(self, a: &Owned, b: &Owned) -> bool {
        match self {
            Field::Title => a.title == b.title,
            Field::When => a.when == b.when,
            Field::Location => a.location == b.location,
            Field::Description => a.description == b.description,
            Field::Attendees => a.attendees == b.attendees,
        }
    }

    fn copy(self, to: &mut Owned, from: &Owned) {
        match self {
            Field::Title => to.title = from.title.clone(),
            Field::When => to.when = from.when.clone(),
            Field::Location => to.location = from.location.clone(),
            Field::Description => to.description = from.description.clone(),
            Field::Attendees => to.attendees = from.attendees.clone(),
        }
    }
}

/// Which side's value a field takes when both sides changed it to different values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Crm,
    Remote,
}

/// The outcome of a three-way merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    pub result: Owned,
    /// Fields both sides changed to different values; `winner`'s value was taken.
    pub conflicts: Vec<Field>,
}

/// Three-way merge of owned fields against `base` (the snapshot at the last sync).
///
/// Per field: changed on one side → that side's value; changed on both to the same value →
/// that value; changed on both differently → `winner`'s value, reported as a conflict.
/// Attendees merge as a set: an address added on either side is added, removed on either
/// side is removed, so two people each adding someone keep both. Deterministic and
/// idempotent: merging the result again with either input gives the result.
pub fn merge(base: &Owned, crm: &Owned, remote: &Owned, winner: Side) -> Merged {
    let mut result = crm.clone();
    let mut conflicts = Vec::new();
    for field in Field::ALL {
        if field == Field::Attendees {
            continue;
        }
        let crm_changed = !field.same(crm, base);
        let remote_changed = !field.same(remote, base);
        let take_remote = match (crm_changed, remote_changed) {
            (_, false) => false,
            (false, true) => true,
            (true, true) if field.same(crm, remote) => false,
            (true, true) => {
                conflicts.push(field);
                winner == Side::Remote
            }
        };
        if take_remote {
            field.copy(&mut result, remote);
        }
    }
    result.attendees = crm
        .attendees
        .union(&remote.attendees)
        .filter(|a| {
            if base.attendees.contains(*a) {
                crm.attendees.contains(*a) && remote.attendees.contains(*a)
            } else {
                true
            }
        })
        .cloned()
        .collect();
    Merged { result, conflicts }
}
