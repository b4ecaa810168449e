//! Link state: one row per (connection, calendar, remote event), and the busy blocks.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event::Event;
use crate::owned::{hash_of, read_time, ContentHash, MapError, Owned, Time};

/// What a link ties together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// A CRM meeting Threadline created in the export calendar. Two-way.
    Exported,
    /// An event of an imported calendar shown as a grey busy block. One-way, Google → CRM.
    Block,
    /// A block the user turned into a CRM meeting. Google's edits and deletes flow in; CRM
    /// edits reach Google only when the link is [`Link::writable`] (the user organises the
    /// event); otherwise they stay in the CRM (the event is someone else's invitation, which
    /// we must not rewrite).
    Converted,
}

/// The link table row. Key: (`calendar_id`, `remote_id`) within a connection; for meeting
/// kinds also `crm_id`.
///
/// `hash` and `snapshot` are what both sides said at the last sync: for an exported meeting
/// the agreed owned fields; for a converted one, the remote's owned fields (the merge base
/// for Google's next edit); for a block, the block's hash and its fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub kind: LinkKind,
    /// The meeting id (exported, converted) or the block id (block).
    pub crm_id: Uuid,
    pub calendar_id: String,
    pub remote_id: String,
    /// The event's etag at the last sync: our own write's, which is how echoes are skipped.
    pub remote_etag: Option<String>,
    pub hash: ContentHash,
    /// `None` only for the block of a cancelled instance of a series.
    pub snapshot: Option<Owned>,
    /// For an instance or exception of a series: the master's event id.
    pub series_id: Option<String>,
    /// Block and converted links: CRM edits may be written to the event ([`writable`] of
    /// the event when it was last seen with a new etag). Kept in the link because a CRM
    /// edit is planned while Google is unchanged, with no event to look at; a block link
    /// keeps it so that converting the block knows it. False on exported links (unused:
    /// they are always written) and on links stored before it existed (unknown, so not
    /// written, until Google next changes the event).
    #[serde(default)]
    pub writable: bool,
}

/// Whether CRM edits of a converted meeting may be written to `event`: the user organises it
/// (`organizer.self`: the event is the imported calendar's own, not an invitation to it)
/// and it is not a series master (a meeting has one time; writing it would move every
/// occurrence). `guestsCanModify` is deliberately not enough: it lets guests edit, but the
/// event stays the organiser's, and a CRM note-taking edit must not rewrite what every
/// guest sees.
pub fn writable(event: &Event) -> bool {
    event.is_organised_here() && !event.is_series()
}

impl Link {
    /// The same link with the etag a write answered (the executor fills it in).
    pub fn with_etag(mut self, etag: Option<String>) -> Link {
        self.remote_etag = etag;
        self
    }

    /// Converting a block into a CRM meeting `meeting_id`: the link that replaces this one
    /// and the owned fields the new meeting starts with. `None` for a link that is not a
    /// block, or the block of a cancelled instance (nothing to meet at). The meeting keeps
    /// the link to the event, so Google's later edits reach it; the block is removed by the
    /// caller in the same transaction. The block link's `writable` is kept: whether the
    /// user organises the event is what the block's listing said.
    pub fn converted(&self, meeting_id: Uuid) -> Option<(Link, Owned)> {
        if self.kind != LinkKind::Block {
            return None;
        }
        let fields = self.snapshot.clone()?;
        Some((
            Link {
                kind: LinkKind::Converted,
                crm_id: meeting_id,
                hash: fields.hash(),
                snapshot: Some(fields.clone()),
                ..self.clone()
            },
            fields,
        ))
    }

    /// Converting one occurrence of a series into CRM meeting `meeting_id`, from the live
    /// occurrence as `events.get` of its [`crate::ids::instance_id`] answered it (an instance
    /// the series has not changed, or an exception): the converted link and the owned fields
    /// the meeting starts with. The link is the instance's (its id, etag and fields, the
    /// master as `series_id`): a change of the master makes the planner fetch it again, and
    /// its own changes arrive as an exception under the same id. `writable` as for any
    /// event ([`writable`]; an instance is never a series). The series' block stays: its
    /// other occurrences are still busy time. `default_zone` is the calendar's time zone,
    /// for a time that names none (as the planner reads the event).
    pub fn converted_instance(
        meeting_id: Uuid,
        calendar_id: &str,
        event: &Event,
        default_zone: Option<&str>,
    ) -> Result<(Link, Owned), MapError> {
        let remote_id = event.id.clone().ok_or(MapError::Missing("id"))?;
        let series_id = event
            .recurring_event_id
            .clone()
            .ok_or(MapError::Missing("recurringEventId"))?;
        let fields = Owned::from_event(event, default_zone)?;
        Ok((
            Link {
                kind: LinkKind::Converted,
                crm_id: meeting_id,
                calendar_id: calendar_id.to_string(),
                remote_id,
                remote_etag: event.etag.clone(),
                hash: fields.hash(),
                snapshot: Some(fields.clone()),
                series_id: Some(series_id),
                writable: writable(event),
            },
            fields,
        ))
    }
}

/// Where the series had put an instance (`originalStartTime`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "at", rename_all = "snake_case")]
pub enum OriginalStart {
    Date(NaiveDate),
    Instant(DateTime<Utc>),
}

impl OriginalStart {
    /// An instance's or exception's `originalStartTime`; `None` for any other event.
    pub fn of(event: &Event, default_zone: Option<&str>) -> Result<Option<Self>, MapError> {
        let Some(at) = &event.original_start_time else {
            return Ok(None);
        };
        Ok(Some(
            match read_time("originalStartTime", at, default_zone)? {
                Time::Date(d) => OriginalStart::Date(d),
                Time::Instant(at, _) => OriginalStart::Instant(at),
            },
        ))
    }
}

/// A grey busy block: the CRM's copy of an event in an imported calendar.
///
/// A **series is one block** carrying its recurrence lines (Option A, see the crate docs);
/// the CRM expands it for display. Every **exception** is its own block with `series_id`
/// and `original_start`: a moved instance carries its own fields, a cancelled instance has
/// `cancelled` and no fields. Display: expand the series, then drop each occurrence whose
/// original start has an exception block, and show the moved ones where they went; an
/// occurrence converted into a CRM meeting has no block (its link is the meeting's), and
/// the server lists it with the series so that it is dropped too (the meeting shows it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub calendar_id: String,
    pub event_id: String,
    pub fields: Option<Owned>,
    pub recurrence: Vec<String>,
    pub series_id: Option<String>,
    pub original_start: Option<OriginalStart>,
    pub cancelled: bool,
}

impl Block {
    /// The block for an event listed in `calendar_id`, live or a cancelled instance.
    pub fn from_event(
        calendar_id: &str,
        event: &Event,
        default_zone: Option<&str>,
    ) -> Result<Block, MapError> {
        let original_start = OriginalStart::of(event, default_zone)?;
        let cancelled = event.is_cancelled();
        Ok(Block {
            calendar_id: calendar_id.to_string(),
            event_id: event.id.clone().ok_or(MapError::Missing("id"))?,
            fields: if cancelled {
                None
            } else {
                Some(Owned::from_event(event, default_zone)?)
            },
            recurrence: event.recurrence.clone().unwrap_or_default(),
            series_id: event.recurring_event_id.clone(),
            original_start,
            cancelled,
        })
    }

    pub fn hash(&self) -> ContentHash {
        hash_of("threadline-block-v1", self)
    }
}
