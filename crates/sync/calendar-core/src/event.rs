//! The parts of the Calendar v3 Event resource that Threadline reads and writes.
//!
//! Every field is optional: a deleted event in an incremental listing carries only `id` and
//! `status: "cancelled"` (a cancelled instance of a series also `recurringEventId` and
//! `originalStartTime`), and a PATCH body carries only the fields it changes. Unknown fields
//! are ignored on reading, so Google adding a field never breaks a listing. Times stay the
//! strings Google sent; [`crate::owned`] parses them, so one bad event is one reported
//! problem, not a failed page.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<EventStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<EventDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<EventDateTime>,
    /// `RRULE:`, `EXDATE…` lines of a series master; absent on single events and instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence: Option<Vec<String>>,
    /// On an instance or exception: the id of its series master.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurring_event_id: Option<String>,
    /// On an instance or exception: where the series had put it, even after it was moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_start_time: Option<EventDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attendees: Option<Vec<EventAttendee>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extended_properties: Option<ExtendedProperties>,
    /// Who organises the event. Read-only (never sent): Google sets it, and only
    /// `events.move` or an ownership transfer changes it, always with a new etag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizer: Option<EventOrganizer>,
    /// Read-only, RFC 3339. Never used for decisions (no clock comparisons), only shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventStatus {
    Confirmed,
    Tentative,
    Cancelled,
    /// A status this crate does not know; treated as a live event.
    #[serde(other)]
    Other,
}

/// `{date}` for all-day (the end exclusive), or `{dateTime, timeZone?}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventDateTime {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventAttendee {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizer: Option<bool>,
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub is_self: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<bool>,
    /// The guest's note with their answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// How many people the guest brings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_guests: Option<i64>,
    /// Whatever else Google puts on an entry (the profile `id`, fields added later), kept
    /// so that an entry sent back in a PATCH is the entry Google gave, not a part of it.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// `organizer`: `self` is true when the organiser is the calendar this copy of the event was
/// read from (Google: "corresponds to the calendar on which this copy of the event appears"),
/// i.e. the event is that calendar's own, not an invitation to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventOrganizer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub is_self: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtendedProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<BTreeMap<String, String>>,
}

impl Event {
    /// `status: "cancelled"`: a deleted event, or a cancelled instance of a series.
    pub fn is_cancelled(&self) -> bool {
        self.status == Some(EventStatus::Cancelled)
    }

    /// A series master: it has recurrence lines.
    pub fn is_series(&self) -> bool {
        self.recurrence.as_ref().is_some_and(|r| !r.is_empty())
    }

    /// `organizer.self`: the calendar this copy was read from organises the event (Google's
    /// default is false, so an event without `organizer` is not).
    pub fn is_organised_here(&self) -> bool {
        self.organizer.as_ref().and_then(|o| o.is_self) == Some(true)
    }

    /// An invitation: Google says who organises the event, and it is another calendar (this
    /// is an attendee's copy, which shares the organiser's event id but not its private
    /// properties). An event without `organizer` (as a listing may leave it out) is not
    /// taken for one.
    pub fn is_invitation(&self) -> bool {
        self.organizer.is_some() && !self.is_organised_here()
    }

    /// The value of `extendedProperties.private[key]`.
    pub fn private_property(&self, key: &str) -> Option<&str> {
        self.extended_properties
            .as_ref()?
            .private
            .as_ref()?
            .get(key)
            .map(String::as_str)
    }
}
