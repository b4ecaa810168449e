//! Identities written into Google and derived from it.
//!
//! An exported meeting's event gets a **client-generated id derived from the CRM meeting id**,
//! and carries the meeting id in `extendedProperties.private`. Insert with a client id is
//! idempotent (a second insert answers 409 `duplicate`), so a lost response never makes a
//! second event; and the private property lets a full re-list (after a 410) or a first sync
//! find our events again without the link table.
//!
//! The id is `threadline` followed by the meeting UUID as 32 lowercase hex digits: hex digits
//! and the letters of `threadline` are all in Google's base32hex alphabet (`a`–`v`, `0`–`9`),
//! and 42 characters is within 5–1024. The prefix keeps it apart from other clients that use
//! bare UUIDs (Google recommends them).

use chrono::{NaiveDate, NaiveDateTime};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::event::Event;
use crate::link::OriginalStart;

/// The private extended property that carries the CRM meeting id (hyphenated UUID).
pub const CRM_ID_PROPERTY: &str = "threadlineMeetingId";

const EVENT_ID_PREFIX: &str = "threadline";

/// The event id an exported meeting gets in the export calendar.
pub fn event_id_for(meeting_id: Uuid) -> String {
    format!("{EVENT_ID_PREFIX}{}", meeting_id.simple())
}

/// The meeting id inside an id made by [`event_id_for`]; `None` for any other id (including
/// instance ids `…_20260301T090000Z`, which Google derives from a master's id).
pub fn meeting_id_from_event_id(event_id: &str) -> Option<Uuid> {
    let hex = event_id.strip_prefix(EVENT_ID_PREFIX)?;
    // Only our own lowercase form: `Uuid::parse_str` also takes hyphens, braces and capitals.
    if hex.len() != 32 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    Uuid::parse_str(hex).ok()
}

/// Google's rule for a client-supplied event id: base32hex (`a`–`v`, `0`–`9`), 5–1024 long.
pub fn is_valid_event_id(id: &str) -> bool {
    (5..=1024).contains(&id.len()) && id.bytes().all(|b| matches!(b, b'a'..=b'v' | b'0'..=b'9'))
}

/// The CRM meeting id an event says it belongs to: the private property, else an id made by
/// [`event_id_for`]. The property wins when both are there and disagree (Google copies
/// properties but not ids when an event is duplicated in its UI; a copy is still ours).
pub fn meeting_id_of(event: &Event) -> Option<Uuid> {
    if let Some(value) = event.private_property(CRM_ID_PROPERTY) {
        if let Ok(id) = Uuid::parse_str(value) {
            return Some(id);
        }
    }
    event.id.as_deref().and_then(meeting_id_from_event_id)
}

/// The id Google gives the occurrence of series `series_id` that the series puts at `start`
/// (its `originalStartTime`): `<series>_<YYYYMMDDTHHMMSSZ>` (the instant in UTC) for a timed
/// series, `<series>_<YYYYMMDD>` for an all-day one. The occurrence keeps this id when it
/// becomes an exception (moved, edited or cancelled), so `events.get` of it answers the
/// occurrence whatever became of it.
pub fn instance_id(series_id: &str, start: &OriginalStart) -> String {
    match start {
        OriginalStart::Date(date) => format!("{series_id}_{}", date.format("%Y%m%d")),
        OriginalStart::Instant(at) => format!("{series_id}_{}", at.format("%Y%m%dT%H%M%SZ")),
    }
}

/// The original start that an [`instance_id`] of `series_id` names; `None` for any other id
/// (another series', a master's, one with a suffix in no form Google makes).
pub fn instance_start(series_id: &str, event_id: &str) -> Option<OriginalStart> {
    let suffix = event_id.strip_prefix(series_id)?.strip_prefix('_')?;
    let start = match suffix.len() {
        8 => OriginalStart::Date(NaiveDate::parse_from_str(suffix, "%Y%m%d").ok()?),
        16 => OriginalStart::Instant(
            NaiveDateTime::parse_from_str(suffix, "%Y%m%dT%H%M%SZ")
                .ok()?
                .and_utc(),
        ),
        _ => return None,
    };
    // Only Google's exact form (chrono would also take e.g. a sign or fewer digits).
    (instance_id(series_id, &start) == event_id).then_some(start)
}

/// The id of the busy block that mirrors `event_id` of `calendar_id` for `connection_id`.
///
/// Derived, not random, so that upserting a block is idempotent: a rerun after a crash, a
/// full re-list after a 410 or re-selecting a calendar finds the same block instead of
/// making a second one. A UUIDv8 (RFC 9562 "custom") from SHA-256 of the three parts.
pub fn block_id(connection_id: Uuid, calendar_id: &str, event_id: &str) -> Uuid {
    let mut hash = Sha256::new();
    hash.update(b"threadline-block\0");
    hash.update(connection_id.as_bytes());
    // Lengths first, so that no two (calendar, event) pairs make the same byte string.
    for part in [calendar_id, event_id] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::new_v8(bytes)
}
