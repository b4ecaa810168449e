//! Per-item decisions: from (CRM side, remote side, link) to actions. Never from clocks.
//!
//! The planner ([`crate::plan`]) classifies each item and calls these; they are public so
//! that the tables can be read and tested on their own.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::attendees::{merge_attendees, WantedAttendees};
use crate::event::{Event, EventStatus};
use crate::ids::{event_id_for, meeting_id_of};
use crate::link::{writable, Block, Link, LinkKind};
use crate::owned::{merge, normalise_address, Field, Owned, Side};

/// The CRM side of a meeting, relative to its link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrmSide {
    /// Not changed since the last sync (or not mentioned by the caller).
    Unchanged,
    /// Exists and differs from the link's hash (or has no link): its owned fields now.
    Changed(Owned),
    /// Deleted in the CRM (or gone altogether).
    Deleted,
}

/// An event as read in this run, with its owned fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteEvent {
    pub calendar_id: String,
    pub event: Event,
    pub owned: Owned,
}

impl RemoteEvent {
    fn etag(&self) -> Option<String> {
        self.event.etag.clone()
    }
}

/// The remote side of a meeting as read in this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteSide {
    /// Not in an incremental listing: nothing happened to it.
    Unchanged,
    /// Listed (live). Whether it really changed is decided against the link.
    Changed(Box<RemoteEvent>),
    /// Listed as cancelled (a deleted event carries only its id).
    Deleted,
    /// Missing from a complete full listing: deleted.
    Absent,
    /// Missing from an incomplete listing, or its calendar was not read: unknown, so
    /// treated as unchanged (an incomplete listing never infers a delete).
    NotSeen,
}

/// One step of a plan. See [`crate::plan::Plan`] for the order and the executor's duties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// `events.insert` with the client id. On success store `link` with the answered etag.
    /// On 409 `duplicate`: GET the event and follow [`on_insert_conflict`].
    CreateRemote {
        calendar_id: String,
        event_id: String,
        meeting_id: Uuid,
        body: Event,
        link: Link,
    },
    /// `events.patch` with `If-Match`. On success store `link` with the answered etag.
    /// On 412: GET the event and plan this item again with it (three-way merge, bounded).
    ///
    /// `attendees`: set when the patch changes the attendees of an event this run did not
    /// list (a CRM-only edit), so `patch` has none yet. GET the event first and follow
    /// [`patch_with_attendees`]: the patch with the merged list, under the same
    /// `If-Match`; or, when the event changed since `if_match`, plan the item again with
    /// the event read, as after a 412. Only these patches cost that read.
    UpdateRemote {
        calendar_id: String,
        event_id: String,
        if_match: Option<String>,
        patch: Event,
        link: Link,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attendees: Option<WantedAttendees>,
    },
    /// `events.delete` with `If-Match`; 404 and 410 `deleted` are success. Then delete the
    /// link. On 412 (edited since): GET it and plan again — the edit wins over our delete.
    DeleteRemote {
        calendar_id: String,
        event_id: String,
        if_match: Option<String>,
    },
    /// Set the meeting's owned fields (keep the rest: links, contact ids of kept attendees).
    /// `names`: Google's display names by normalised address, for attendees it adds.
    UpdateMeeting {
        meeting_id: Uuid,
        fields: Owned,
        names: BTreeMap<String, String>,
        conflicts: Vec<Field>,
    },
    /// Undelete the (soft-deleted) meeting and set its owned fields: an edit in Google beat
    /// a delete in the CRM.
    RestoreMeeting {
        meeting_id: Uuid,
        fields: Owned,
        names: BTreeMap<String, String>,
    },
    DeleteMeeting {
        meeting_id: Uuid,
    },
    /// Insert or replace the block `block_id` (derived from the event, so idempotent).
    UpsertBlock {
        block_id: Uuid,
        block: Block,
    },
    RemoveBlock {
        block_id: Uuid,
        /// The calendar was deselected (not counted by the mass-delete guard).
        deselected: bool,
    },
    PutLink {
        link: Link,
    },
    DeleteLink {
        calendar_id: String,
        remote_id: String,
    },
    /// After the transaction: GET this event and plan it again as if listed incrementally
    /// (a converted meeting the CRM deleted becomes a block again; an unmodified instance of
    /// a series whose master changed may have moved).
    Refetch {
        calendar_id: String,
        event_id: String,
    },
    /// Store the calendar's new sync token: last, in the same transaction as the rest.
    SaveCursor {
        calendar_id: String,
        sync_token: String,
    },
}

/// Display names an event gives its attendees, by normalised address.
pub fn display_names(event: &Event) -> BTreeMap<String, String> {
    event
        .attendees
        .iter()
        .flatten()
        .filter_map(|a| {
            Some((
                normalise_address(a.email.as_deref()?),
                a.display_name.clone()?,
            ))
        })
        .collect()
}

/// The CRM side after comparing with the link.
enum Crm {
    Same,
    New(Owned),
    Gone,
}

/// The remote side after comparing with the link.
enum Remote<'a> {
    Same,
    /// A new etag, the same owned content (Google touched something we do not own, or we
    /// see our own write under an etag we did not store).
    SameContent(&'a RemoteEvent),
    New(&'a RemoteEvent),
    Gone,
}

fn classify<'a>(crm: &CrmSide, remote: &'a RemoteSide, link: &Link) -> (Crm, Remote<'a>) {
    let crm = match crm {
        CrmSide::Unchanged => Crm::Same,
        CrmSide::Changed(c) if c.hash() == link.hash => Crm::Same,
        CrmSide::Changed(c) => Crm::New(c.clone()),
        CrmSide::Deleted => Crm::Gone,
    };
    let remote = match remote {
        RemoteSide::Unchanged | RemoteSide::NotSeen => Remote::Same,
        RemoteSide::Deleted | RemoteSide::Absent => Remote::Gone,
        // Echo suppression: the etag we stored from our own write.
        RemoteSide::Changed(r) if r.event.etag.is_some() && r.event.etag == link.remote_etag => {
            Remote::Same
        }
        RemoteSide::Changed(r) if r.owned.hash() == link.hash => Remote::SameContent(r),
        RemoteSide::Changed(r) => Remote::New(r),
    };
    (crm, remote)
}

fn meeting_link(
    kind: LinkKind,
    meeting_id: Uuid,
    calendar_id: &str,
    remote_id: &str,
    etag: Option<String>,
    fields: &Owned,
    series_id: Option<String>,
) -> Link {
    Link {
        kind,
        crm_id: meeting_id,
        calendar_id: calendar_id.to_string(),
        remote_id: remote_id.to_string(),
        remote_etag: etag,
        hash: fields.hash(),
        snapshot: Some(fields.clone()),
        series_id,
        writable: false,
    }
}

fn create_remote(
    meeting_id: Uuid,
    calendar_id: &str,
    fields: &Owned,
    names: &BTreeMap<String, String>,
) -> Action {
    let event_id = event_id_for(meeting_id);
    Action::CreateRemote {
        calendar_id: calendar_id.to_string(),
        event_id: event_id.clone(),
        meeting_id,
        body: fields.insert_body(meeting_id, names),
        link: meeting_link(
            LinkKind::Exported,
            meeting_id,
            calendar_id,
            &event_id,
            None,
            fields,
            None,
        ),
    }
}

/// Patch `believed` into `target`, with `If-Match`; store the link with `target`.
/// `current`: the event as listed in this run; without it, changed attendees are left to
/// the executor to merge after reading the event ([`Action::UpdateRemote`]).
fn update_remote(
    link: &Link,
    target: &Owned,
    believed: &Owned,
    current: Option<&RemoteEvent>,
    names: &BTreeMap<String, String>,
) -> Action {
    let attendees =
        (current.is_none() && target.attendees != believed.attendees).then(|| WantedAttendees {
            addresses: target.attendees.clone(),
            names: names
                .iter()
                .filter(|(address, _)| target.attendees.contains(*address))
                .map(|(address, name)| (address.clone(), name.clone()))
                .collect(),
        });
    Action::UpdateRemote {
        calendar_id: link.calendar_id.clone(),
        event_id: link.remote_id.clone(),
        if_match: current.map_or(link.remote_etag.clone(), RemoteEvent::etag),
        patch: target.patch_from(believed, current.map(|r| &r.event), names),
        link: Link {
            hash: target.hash(),
            snapshot: Some(target.clone()),
            ..link.clone()
        },
        attendees,
    }
}

/// The executor read `current` before an [`Action::UpdateRemote`] carrying `wanted`
/// attendees (the plan had not seen the event). `Some(patch)`: the event is the version
/// the plan's `if_match` names, so `patch` with the attendee list merged into the event's
/// entries ([`merge_attendees`]) is sent under that same `If-Match`. `None`: it changed
/// meanwhile (another etag, or deleted; or there is no etag to tell), so the plan's patch
/// may undo a change it never saw: plan the item again with `current`, as after a 412.
pub fn patch_with_attendees(
    patch: &Event,
    if_match: Option<&str>,
    wanted: &WantedAttendees,
    current: &Event,
) -> Option<Event> {
    let unchanged = if_match.is_some() && current.etag.as_deref() == if_match;
    if !unchanged || current.is_cancelled() {
        return None;
    }
    let entries = current.attendees.as_deref().unwrap_or_default();
    Some(Event {
        attendees: Some(merge_attendees(entries, &wanted.addresses, &wanted.names)),
        ..patch.clone()
    })
}

fn put_link(link: &Link, fields: &Owned, etag: Option<String>) -> Action {
    Action::PutLink {
        link: Link {
            hash: fields.hash(),
            snapshot: Some(fields.clone()),
            remote_etag: etag,
            ..link.clone()
        },
    }
}

fn delete_link(link: &Link) -> Action {
    Action::DeleteLink {
        calendar_id: link.calendar_id.clone(),
        remote_id: link.remote_id.clone(),
    }
}

fn update_meeting(
    meeting_id: Uuid,
    fields: &Owned,
    r: &RemoteEvent,
    conflicts: Vec<Field>,
) -> Action {
    Action::UpdateMeeting {
        meeting_id,
        fields: fields.clone(),
        names: display_names(&r.event),
        conflicts,
    }
}

/// What to do for a CRM meeting (exported or converted, or not yet linked).
///
/// `export_calendar` is where unlinked meetings go (none: export is off). `names` are the
/// CRM's attendee display names, sent with new attendees.
pub fn decide_meeting(
    meeting_id: Uuid,
    crm: &CrmSide,
    remote: &RemoteSide,
    link: Option<&Link>,
    export_calendar: Option<&str>,
    names: &BTreeMap<String, String>,
) -> Vec<Action> {
    match link {
        None => decide_unlinked(meeting_id, crm, remote, export_calendar, names),
        Some(link) if link.kind == LinkKind::Exported => {
            decide_exported(meeting_id, crm, remote, link, names)
        }
        Some(link) if link.kind == LinkKind::Converted => {
            decide_converted(meeting_id, crm, remote, link, export_calendar, names)
        }
        // A block link is not a meeting's; the planner never asks.
        Some(_) => Vec::new(),
    }
}

/// No link: a first sync, a lost response, a 410 re-list, or a new meeting. An event that
/// carries our id is adopted; the CRM's content wins, since without a base the only way
/// the two differ is a CRM edit after our own (unacknowledged) write.
fn decide_unlinked(
    meeting_id: Uuid,
    crm: &CrmSide,
    remote: &RemoteSide,
    export_calendar: Option<&str>,
    names: &BTreeMap<String, String>,
) -> Vec<Action> {
    match (crm, remote) {
        // Another calendar organises it: our id in an attendee's calendar is the invitation
        // copy of a meeting exported by a colleague (Threadline user attending the same CRM
        // meeting). It is linked as a converted meeting, not writable: Google's edits (the
        // organiser's) reach the meeting, the CRM's go out through the organiser's export,
        // and nothing here writes or deletes another person's event.
        (CrmSide::Changed(_), RemoteSide::Changed(r)) if r.event.is_invitation() => {
            vec![Action::PutLink {
                link: meeting_link(
                    LinkKind::Converted,
                    meeting_id,
                    &r.calendar_id,
                    r.event.id.as_deref().unwrap_or_default(),
                    r.etag(),
                    &r.owned,
                    None,
                ),
            }]
        }
        (CrmSide::Deleted, RemoteSide::Changed(r)) if r.event.is_invitation() => Vec::new(),
        (CrmSide::Changed(c), RemoteSide::Changed(r)) => {
            let link = meeting_link(
                LinkKind::Exported,
                meeting_id,
                &r.calendar_id,
                r.event.id.as_deref().unwrap_or_default(),
                r.etag(),
                &r.owned,
                None,
            );
            if r.owned == *c {
                vec![Action::PutLink { link }]
            } else {
                vec![update_remote(&link, c, &r.owned, Some(r), names)]
            }
        }
        // Not there, or deleted there without our knowing (no link): the live CRM meeting
        // is exported. For a cancelled event with our id the insert answers 409 and
        // `on_insert_conflict` revives it.
        (CrmSide::Changed(c), _) => match export_calendar {
            Some(calendar) => vec![create_remote(meeting_id, calendar, c, names)],
            None => Vec::new(),
        },
        (CrmSide::Deleted, RemoteSide::Changed(r)) => vec![Action::DeleteRemote {
            calendar_id: r.calendar_id.clone(),
            event_id: r.event.id.clone().unwrap_or_default(),
            if_match: r.etag(),
        }],
        _ => Vec::new(),
    }
}

/// Both sides changed a two-way meeting: merge against `base`, write the result to
/// whichever side lacks it, and store it as the new base. `winner` takes a field both
/// changed differently.
fn merge_both_ways(
    meeting_id: Uuid,
    link: &Link,
    base: &Owned,
    crm: &Owned,
    r: &RemoteEvent,
    winner: Side,
    names: &BTreeMap<String, String>,
) -> Vec<Action> {
    let merged = merge(base, crm, &r.owned, winner);
    let m = merged.result;
    let mut actions = Vec::new();
    if m != r.owned {
        actions.push(update_remote(link, &m, &r.owned, Some(r), names));
    } else {
        actions.push(put_link(link, &m, r.etag()));
    }
    if m != *crm {
        actions.push(update_meeting(meeting_id, &m, r, merged.conflicts));
    }
    actions
}

/// An exported meeting: two-way. A field both sides changed keeps the CRM's value (the CRM
/// made this meeting and is where the user manages it); see the crate docs.
fn decide_exported(
    meeting_id: Uuid,
    crm: &CrmSide,
    remote: &RemoteSide,
    link: &Link,
    names: &BTreeMap<String, String>,
) -> Vec<Action> {
    let Some(base) = link.snapshot.as_ref() else {
        return Vec::new();
    };
    match classify(crm, remote, link) {
        (Crm::Same, Remote::Same) => Vec::new(),
        (Crm::Same, Remote::SameContent(r)) => vec![put_link(link, base, r.etag())],
        (Crm::Same, Remote::New(r)) => vec![
            update_meeting(meeting_id, &r.owned, r, Vec::new()),
            put_link(link, &r.owned, r.etag()),
        ],
        (Crm::Same, Remote::Gone) => vec![Action::DeleteMeeting { meeting_id }, delete_link(link)],
        (Crm::New(c), Remote::Same) => vec![update_remote(link, &c, base, None, names)],
        (Crm::New(c), Remote::SameContent(r)) => {
            vec![update_remote(link, &c, &r.owned, Some(r), names)]
        }
        (Crm::New(c), Remote::New(r)) => {
            merge_both_ways(meeting_id, link, base, &c, r, Side::Crm, names)
        }
        // Edit beats delete: the CRM edited a meeting Google deleted → it comes back.
        (Crm::New(c), Remote::Gone) => {
            vec![create_remote(meeting_id, &link.calendar_id, &c, names)]
        }
        (Crm::Gone, Remote::Same) => vec![Action::DeleteRemote {
            calendar_id: link.calendar_id.clone(),
            event_id: link.remote_id.clone(),
            if_match: link.remote_etag.clone(),
        }],
        (Crm::Gone, Remote::SameContent(r)) => vec![Action::DeleteRemote {
            calendar_id: link.calendar_id.clone(),
            event_id: link.remote_id.clone(),
            if_match: r.etag(),
        }],
        // Edit beats delete: Google edited a meeting the CRM deleted → it comes back.
        (Crm::Gone, Remote::New(r)) => vec![
            Action::RestoreMeeting {
                meeting_id,
                fields: r.owned.clone(),
                names: display_names(&r.event),
            },
            put_link(link, &r.owned, r.etag()),
        ],
        (Crm::Gone, Remote::Gone) => vec![delete_link(link)],
    }
}

/// A converted block: Google → CRM with a field-level merge; CRM → Google only when the
/// link is writable (the user organises the event, [`crate::link::writable`]).
///
/// Not writable: never written to Google. A field both changed takes Google's value (the
/// event is the organiser's). The snapshot stays Google's state, so a CRM-only edit stays
/// a CRM edit until Google changes the same field.
///
/// Writable: two-way like an exported meeting (the snapshot is then the agreed state), with
/// one difference: a field both sides changed still takes **Google's** value. The event was
/// born in Google and its guests have already been shown (and maybe notified of) Google's
/// version, while the CRM's losing value is reported as a conflict; and a converted
/// meeting resolves conflicts the same way whether or not its organiser is the user.
///
/// A listed event with a new etag says who organises it now (an organiser can change,
/// always with a new etag), and the link keeps that; an unlisted or echoed one leaves the
/// link's flag as it is, so a flag the executor cleared after Google refused a write stays
/// cleared until Google changes the event.
///
/// Deleting the meeting in the CRM never deletes the event, writable or not: it becomes a
/// block again. The event is also the guests' meeting, and a CRM delete is often tidying
/// the CRM rather than cancelling the meeting; cancelling it is one click in Google, while
/// a wrong cancellation notifies every guest and cannot be taken back.
fn decide_converted(
    meeting_id: Uuid,
    crm: &CrmSide,
    remote: &RemoteSide,
    link: &Link,
    export_calendar: Option<&str>,
    names: &BTreeMap<String, String>,
) -> Vec<Action> {
    let Some(base) = link.snapshot.as_ref() else {
        return Vec::new();
    };
    let (crm, remote) = classify(crm, remote, link);
    let writable = match &remote {
        Remote::SameContent(r) | Remote::New(r) => writable(&r.event),
        Remote::Same | Remote::Gone => link.writable,
    };
    let link = &Link {
        writable,
        ..link.clone()
    };
    match (crm, remote) {
        (Crm::New(c), Remote::Same) if writable => {
            vec![update_remote(link, &c, base, None, names)]
        }
        (Crm::New(c), Remote::SameContent(r)) if writable => {
            vec![update_remote(link, &c, &r.owned, Some(r), names)]
        }
        (Crm::New(c), Remote::New(r)) if writable => {
            merge_both_ways(meeting_id, link, base, &c, r, Side::Remote, names)
        }
        (Crm::Same | Crm::New(_), Remote::Same) => Vec::new(),
        (Crm::Same | Crm::New(_), Remote::SameContent(r)) => vec![put_link(link, base, r.etag())],
        (Crm::Same, Remote::New(r)) => vec![
            update_meeting(meeting_id, &r.owned, r, Vec::new()),
            put_link(link, &r.owned, r.etag()),
        ],
        (Crm::New(c), Remote::New(r)) => {
            let merged = merge(base, &c, &r.owned, Side::Remote);
            let mut actions = Vec::new();
            if merged.result != c {
                actions.push(update_meeting(
                    meeting_id,
                    &merged.result,
                    r,
                    merged.conflicts,
                ));
            }
            actions.push(put_link(link, &r.owned, r.etag()));
            actions
        }
        (Crm::Same, Remote::Gone) => vec![Action::DeleteMeeting { meeting_id }, delete_link(link)],
        // Edit beats delete: the meeting stays, unlinked, and becomes an exported meeting.
        (Crm::New(c), Remote::Gone) => {
            let mut actions = vec![delete_link(link)];
            if let Some(calendar) = export_calendar {
                actions.push(create_remote(meeting_id, calendar, &c, names));
            }
            actions
        }
        // Deleting a converted meeting does not delete the event, not even one the user
        // organises (see above): it is busy time again. Fetch it so that the next plan makes
        // its block.
        (Crm::Gone, Remote::Same | Remote::SameContent(_) | Remote::New(_)) => vec![
            delete_link(link),
            Action::Refetch {
                calendar_id: link.calendar_id.clone(),
                event_id: link.remote_id.clone(),
            },
        ],
        (Crm::Gone, Remote::Gone) => vec![delete_link(link)],
    }
}

/// The remote side of a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockRemote {
    /// Listed: a live event or a cancelled instance of a series.
    Listed {
        block: Box<Block>,
        etag: Option<String>,
        /// [`crate::link::writable`] of the event, kept in the link for a later conversion.
        writable: bool,
    },
    /// Deleted (cancelled, or absent from a complete listing, or its series was deleted).
    Deleted,
    /// Unchanged or unknown.
    Unchanged,
}

/// What to do for a busy block (one-way, Google → CRM).
pub fn decide_block(block_id: Uuid, remote: &BlockRemote, link: Option<&Link>) -> Vec<Action> {
    match (remote, link) {
        (BlockRemote::Listed { etag, .. }, Some(link))
            if etag.is_some() && *etag == link.remote_etag =>
        {
            Vec::new()
        }
        (
            BlockRemote::Listed {
                block,
                etag,
                writable,
            },
            link,
        ) => {
            let hash = block.hash();
            let new_link = Link {
                kind: LinkKind::Block,
                crm_id: block_id,
                calendar_id: block.calendar_id.clone(),
                remote_id: block.event_id.clone(),
                remote_etag: etag.clone(),
                hash: hash.clone(),
                snapshot: block.fields.clone(),
                series_id: block.series_id.clone(),
                writable: *writable,
            };
            if link.is_some_and(|l| l.hash == hash) {
                return vec![Action::PutLink { link: new_link }];
            }
            vec![
                Action::UpsertBlock {
                    block_id,
                    block: (**block).clone(),
                },
                Action::PutLink { link: new_link },
            ]
        }
        (BlockRemote::Deleted, Some(link)) => vec![
            Action::RemoveBlock {
                block_id,
                deselected: false,
            },
            delete_link(link),
        ],
        (BlockRemote::Deleted | BlockRemote::Unchanged, _) => Vec::new(),
    }
}

/// What the executor does when `events.insert` of `meeting_id`'s event answered 409
/// `duplicate` and a GET of that id returned `existing`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertConflict {
    /// It is our event (a retried insert after a lost response): plan this meeting again
    /// with `existing` as listed — it is adopted, and updated if the CRM differs.
    Adopt,
    /// It is our event, deleted in Google (an id can never be reused): PATCH it with this
    /// body (`status: confirmed` and every owned field) under `If-Match`, then store the link.
    Revive {
        patch: Box<Event>,
        if_match: Option<String>,
    },
    /// Someone else's event holds the id (not ours, or another meeting's): report it.
    Foreign,
    /// A cancelled invitation copy of this meeting, organised in a colleague's calendar:
    /// leave it (reviving it is the organiser's export's to do, and Google refuses it here).
    Invitation,
}

/// Decides a 409 on insert; `body` is the insert body that was refused.
pub fn on_insert_conflict(meeting_id: Uuid, existing: &Event, body: &Event) -> InsertConflict {
    if meeting_id_of(existing) != Some(meeting_id) {
        return InsertConflict::Foreign;
    }
    if !existing.is_cancelled() {
        return InsertConflict::Adopt;
    }
    if existing.is_invitation() {
        // A colleague's export, cancelled by its organiser: theirs to bring back.
        return InsertConflict::Invitation;
    }
    // The cancelled event keeps its guests' entries from before the delete: those the body
    // still wants go back as they were (with their answers), as in any PATCH.
    let wanted: BTreeSet<String> = body
        .attendees
        .iter()
        .flatten()
        .filter_map(|a| a.email.as_deref().map(normalise_address))
        .collect();
    let entries = existing.attendees.as_deref().unwrap_or_default();
    InsertConflict::Revive {
        // The cancelled event may still hold fields from before its delete: every owned
        // field is sent, an absent text as "" (clears it), so the revived event says
        // exactly what the body says.
        patch: Box::new(Event {
            id: None,
            status: Some(EventStatus::Confirmed),
            summary: Some(body.summary.clone().unwrap_or_default()),
            location: Some(body.location.clone().unwrap_or_default()),
            description: Some(body.description.clone().unwrap_or_default()),
            attendees: Some(merge_attendees(entries, &wanted, &display_names(body))),
            ..body.clone()
        }),
        if_match: existing.etag.clone(),
    }
}
