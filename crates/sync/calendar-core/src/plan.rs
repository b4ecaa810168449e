//! The planner: one run's reading of both sides plus the link table → an ordered plan, or a
//! refusal by a guard.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::decide::{
    decide_block, decide_meeting, Action, BlockRemote, CrmSide, RemoteEvent, RemoteSide,
};
use crate::event::Event;
use crate::ids::{block_id, event_id_for, meeting_id_of};
use crate::link::{writable, Block, Link, LinkKind};
use crate::owned::{Field, MapError, Owned};

/// How a calendar was read in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Listing {
    /// With a sync token: what is not listed did not change; deletes are listed.
    Incremental,
    /// Without a token (first sync, after a 410, after re-selecting). `complete`: every page
    /// was read without error, so what is not listed does not exist. An incomplete listing
    /// infers nothing from absence.
    Full { complete: bool },
}

/// One calendar as read in this run. The `events.list` parameters must be the same on every
/// call (`singleEvents=false`, `showDeleted` as the first call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarRun {
    pub calendar_id: String,
    /// The list response's `timeZone`: the zone of events that name none.
    pub time_zone: Option<String>,
    pub listing: Listing,
    pub events: Vec<Event>,
    /// The last page's `nextSyncToken`, saved last by the plan.
    pub next_sync_token: Option<String>,
}

/// A CRM meeting, as the caller loaded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrmMeeting {
    Live {
        fields: Owned,
        /// Display names by normalised address, sent with attendees we add.
        names: BTreeMap<String, String>,
    },
    /// Soft-deleted.
    Deleted,
    /// No such meeting in this CRM (an event with a meeting id of another installation).
    NotFound,
}

/// The mass-change guards. Defaults: refuse a plan that deletes more than half of the
/// linked items on either side, once it deletes at least 3 (deleting one meeting of two is
/// what people do); refuse a complete listing that is empty while links exist. An item is
/// an event, or a series with its exceptions (see `item_of`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Guards {
    pub max_delete_ratio: f64,
    pub min_deletes: usize,
    /// Set by an explicit "apply anyway" from the user after a review.
    pub allow_mass_delete: bool,
    pub allow_empty_calendar: bool,
}

impl Default for Guards {
    fn default() -> Guards {
        Guards {
            max_delete_ratio: 0.5,
            min_deletes: 3,
            allow_mass_delete: false,
            allow_empty_calendar: false,
        }
    }
}

/// Everything one planning pass reads.
#[derive(Debug, Clone, Default)]
pub struct PlanInput {
    pub connection_id: Uuid,
    /// Where CRM meetings are exported; `None`: export off.
    pub export_calendar: Option<String>,
    /// Calendars imported as busy blocks now. A block link of any other calendar is removed.
    pub selected: BTreeSet<String>,
    /// The calendars read in this run (any subset: a plan with none pushes CRM changes).
    pub runs: Vec<CalendarRun>,
    /// CRM meetings changed since the CRM cursor, plus every meeting id in
    /// [`PlanInput::meetings_to_load`]. A linked meeting not here is unchanged.
    pub crm: BTreeMap<Uuid, CrmMeeting>,
    /// The connection's link table.
    pub links: Vec<Link>,
    pub guards: Guards,
}

/// Which side a guard counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardSide {
    Google,
    Crm,
}

/// Why a plan was refused. The caller writes nothing, marks the connection for review,
/// and shows these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Refusal {
    #[error("the run would delete {deletes} of {linked} linked items in {side:?}")]
    MassDelete {
        side: GuardSide,
        deletes: usize,
        linked: usize,
    },
    #[error("calendar {calendar_id} listed empty while {links} items are linked to it")]
    EmptyCalendar { calendar_id: String, links: usize },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("refused: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Refused(Vec<Refusal>),
    /// Events carry these meeting ids and the input does not say what the CRM has for them:
    /// load them (see `meetings_to_load`) and plan again.
    #[error("crm meetings not loaded: {0:?}")]
    CrmNotLoaded(Vec<Uuid>),
}

/// An item skipped because its event could not be read; it is left as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub calendar_id: String,
    pub event_id: Option<String>,
    pub error: MapError,
}

/// Counts for the run's record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub remote_creates: usize,
    pub remote_updates: usize,
    pub remote_deletes: usize,
    pub crm_updates: usize,
    pub crm_deletes: usize,
    pub blocks_upserted: usize,
    pub blocks_removed: usize,
}

/// The plan, in execution order:
///
/// 1. **Remote writes** (`CreateRemote`, `UpdateRemote`, `DeleteRemote`), each followed at
///    once by its own link write in a small transaction. Each is safe to repeat: an insert
///    with the client id answers 409 (adopt), a stale `If-Match` answers 412 (re-plan the
///    item: the merge finds nothing left to do), a second delete answers 410/404 (success).
/// 2. **One transaction**: CRM writes (meetings, blocks), then link writes, then the
///    cursors (`SaveCursor`) — the cursor never gets ahead of the changes it covers.
/// 3. **Follow-ups** (`Refetch`): reads whose results are planned as a new small run.
///
/// A crash anywhere leaves the cursor where it was, so the next run reads the same changes
/// again and, from the links written so far, converges to the same end state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub problems: Vec<Problem>,
    /// Meetings whose merge had both sides change a field, with those fields.
    pub conflicts: Vec<(Uuid, Vec<Field>)>,
    pub stats: Stats,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
}

fn phase(action: &Action) -> u8 {
    match action {
        Action::CreateRemote { .. } | Action::UpdateRemote { .. } | Action::DeleteRemote { .. } => {
            0
        }
        Action::UpdateMeeting { .. }
        | Action::RestoreMeeting { .. }
        | Action::DeleteMeeting { .. }
        | Action::UpsertBlock { .. }
        | Action::RemoveBlock { .. } => 1,
        Action::PutLink { .. } | Action::DeleteLink { .. } => 2,
        Action::SaveCursor { .. } => 3,
        Action::Refetch { .. } => 4,
    }
}

/// Where an event was found: its calendar's run and the event.
struct Found<'a> {
    run: &'a CalendarRun,
    event: &'a Event,
}

impl PlanInput {
    fn run(&self, calendar_id: &str) -> Option<&CalendarRun> {
        self.runs.iter().find(|r| r.calendar_id == calendar_id)
    }

    fn find(&self, calendar_id: &str, event_id: &str) -> Option<Found<'_>> {
        let run = self.run(calendar_id)?;
        let event = run
            .events
            .iter()
            .find(|e| e.id.as_deref() == Some(event_id))?;
        Some(Found { run, event })
    }

    /// The meeting ids the caller must load (as `crm` entries) before planning: those that
    /// unlinked events of the export calendar carry, and converted meetings whose event was
    /// listed or deleted. A converted meeting may differ from its link's snapshot (Google's
    /// state) with no change since the last sync — a CRM edit that was not sent, because
    /// the link was not writable then — so "not in the changes feed" does not tell its
    /// content.
    pub fn meetings_to_load(&self) -> Vec<Uuid> {
        let gone_series = self.gone_series();
        let converted = self.links.iter().filter(|l| {
            l.kind == LinkKind::Converted
                && (self.find(&l.calendar_id, &l.remote_id).is_some()
                    || matches!(
                        self.unlisted(l, &gone_series),
                        Unlisted::Deleted | Unlisted::Absent
                    ))
        });
        let wanted: BTreeSet<Uuid> = self
            .unlinked_marked()
            .into_keys()
            .chain(converted.map(|l| l.crm_id))
            .collect();
        wanted
            .into_iter()
            .filter(|id| !self.crm.contains_key(id))
            .collect()
    }

    /// Series masters deleted in this run: their exceptions and instances go with them.
    fn gone_series(&self) -> BTreeSet<(String, String)> {
        self.runs
            .iter()
            .flat_map(|r| {
                r.events
                    .iter()
                    .filter(|e| e.is_cancelled() && e.recurring_event_id.is_none())
                    .filter_map(|e| Some((r.calendar_id.clone(), e.id.clone()?)))
            })
            .collect()
    }

    fn linked(&self, calendar_id: &str, event_id: &str) -> bool {
        self.links
            .iter()
            .any(|l| l.calendar_id == calendar_id && l.remote_id == event_id)
    }

    /// Unlinked events of the export calendar carrying a meeting id, by that id. When two
    /// carry the same id (a copy made in Google's UI keeps the private property), the one
    /// with our client id wins; the copy is left alone.
    fn unlinked_marked(&self) -> BTreeMap<Uuid, Found<'_>> {
        let mut out: BTreeMap<Uuid, Found<'_>> = BTreeMap::new();
        let Some(run) = self.export_calendar.as_deref().and_then(|c| self.run(c)) else {
            return out;
        };
        for event in &run.events {
            let Some(id) = event.id.as_deref() else {
                continue;
            };
            let Some(meeting) = meeting_id_of(event) else {
                continue;
            };
            if self.linked(&run.calendar_id, id) {
                continue;
            }
            let ours = id == event_id_for(meeting);
            if ours || !out.contains_key(&meeting) {
                out.insert(meeting, Found { run, event });
            }
        }
        out
    }

    /// A link's remote side when its event was not listed.
    fn unlisted(&self, link: &Link, gone_series: &BTreeSet<(String, String)>) -> Unlisted {
        if let Some(series) = &link.series_id {
            if gone_series.contains(&(link.calendar_id.clone(), series.clone())) {
                return Unlisted::Deleted;
            }
            // A converted instance the series has not changed is never listed on its own,
            // not even by a complete listing: only its master is. Its absence then says
            // nothing; the plan fetches it by its id instead (the master is listed, so it
            // counts as changed), and Google's answer decides.
            if link.kind == LinkKind::Converted
                && self
                    .find(&link.calendar_id, series)
                    .is_some_and(|f| !f.event.is_cancelled())
            {
                return Unlisted::NotSeen;
            }
        }
        match self.run(&link.calendar_id).map(|r| r.listing) {
            Some(Listing::Incremental) => Unlisted::Unchanged,
            Some(Listing::Full { complete: true }) => Unlisted::Absent,
            Some(Listing::Full { complete: false }) | None => Unlisted::NotSeen,
        }
    }
}

enum Unlisted {
    Unchanged,
    Deleted,
    Absent,
    NotSeen,
}

fn remote_side(found: Option<&Found<'_>>, unlisted: Unlisted) -> Result<RemoteSide, Problem> {
    let Some(Found { run, event }) = found else {
        return Ok(match unlisted {
            Unlisted::Unchanged => RemoteSide::Unchanged,
            Unlisted::Deleted => RemoteSide::Deleted,
            Unlisted::Absent => RemoteSide::Absent,
            Unlisted::NotSeen => RemoteSide::NotSeen,
        });
    };
    if event.is_cancelled() {
        return Ok(RemoteSide::Deleted);
    }
    let owned = Owned::from_event(event, run.time_zone.as_deref()).map_err(|error| Problem {
        calendar_id: run.calendar_id.clone(),
        event_id: event.id.clone(),
        error,
    })?;
    Ok(RemoteSide::Changed(Box::new(RemoteEvent {
        calendar_id: run.calendar_id.clone(),
        event: (*event).clone(),
        owned,
    })))
}

/// Plans one run. Pure: the same input gives the same plan.
pub fn plan(input: &PlanInput) -> Result<Plan, PlanError> {
    let missing = input.meetings_to_load();
    if !missing.is_empty() {
        return Err(PlanError::CrmNotLoaded(missing));
    }
    let mut out = Plan::default();
    let export = input.export_calendar.as_deref();
    let no_names = BTreeMap::new();

    let gone_series = input.gone_series();
    // Series masters changed in this run: an unmodified instance converted to a meeting
    // may have moved with its series, and is not listed itself.
    let changed_series: BTreeSet<(String, String)> = input
        .runs
        .iter()
        .flat_map(|r| {
            r.events
                .iter()
                .filter(|e| !e.is_cancelled() && e.is_series())
                .filter_map(|e| Some((r.calendar_id.clone(), e.id.clone()?)))
        })
        .collect();

    // Meetings: every linked one, every one the CRM mentions, every marked event.
    let mut meeting_links: BTreeMap<Uuid, &Link> = BTreeMap::new();
    for link in &input.links {
        if link.kind != LinkKind::Block {
            meeting_links.insert(link.crm_id, link);
        }
    }
    let marked = input.unlinked_marked();
    let mut foreign: BTreeSet<(String, String)> = BTreeSet::new();
    // Events whose meeting link this plan deletes: no longer a meeting's, so planned as
    // blocks below (a cancelled converted instance leaves its cancelled block).
    let mut unlinked: BTreeSet<(String, String)> = BTreeSet::new();
    let meeting_ids: BTreeSet<Uuid> = meeting_links
        .keys()
        .chain(input.crm.keys())
        .chain(marked.keys())
        .copied()
        .collect();
    for meeting_id in meeting_ids {
        let link = meeting_links.get(&meeting_id).copied();
        let crm_entry = input.crm.get(&meeting_id);
        let (crm, names) = match crm_entry {
            Some(CrmMeeting::Live { fields, names }) => (CrmSide::Changed(fields.clone()), names),
            Some(CrmMeeting::Deleted) => (CrmSide::Deleted, &no_names),
            Some(CrmMeeting::NotFound) if link.is_none() => {
                // Another installation's meeting: an ordinary event to us.
                if let Some(f) = marked.get(&meeting_id) {
                    foreign.insert((
                        f.run.calendar_id.clone(),
                        f.event.id.clone().unwrap_or_default(),
                    ));
                }
                continue;
            }
            Some(CrmMeeting::NotFound) => (CrmSide::Deleted, &no_names),
            None => (CrmSide::Unchanged, &no_names),
        };
        let remote = match link {
            Some(link) => {
                let found = input.find(&link.calendar_id, &link.remote_id);
                if found.is_none()
                    && link.kind == LinkKind::Converted
                    && link.series_id.as_ref().is_some_and(|s| {
                        changed_series.contains(&(link.calendar_id.clone(), s.clone()))
                    })
                    && !matches!(crm, CrmSide::Deleted)
                {
                    out.actions.push(Action::Refetch {
                        calendar_id: link.calendar_id.clone(),
                        event_id: link.remote_id.clone(),
                    });
                }
                remote_side(found.as_ref(), input.unlisted(link, &gone_series))
            }
            None => remote_side(marked.get(&meeting_id), Unlisted::NotSeen),
        };
        let remote = match remote {
            Ok(remote) => remote,
            Err(problem) => {
                out.problems.push(problem);
                continue;
            }
        };
        let actions = decide_meeting(meeting_id, &crm, &remote, link, export, names);
        for action in &actions {
            match action {
                Action::UpdateMeeting { conflicts, .. } if !conflicts.is_empty() => {
                    out.conflicts.push((meeting_id, conflicts.clone()));
                }
                Action::DeleteLink {
                    calendar_id,
                    remote_id,
                } => {
                    unlinked.insert((calendar_id.clone(), remote_id.clone()));
                }
                _ => {}
            }
        }
        out.actions.extend(actions);
    }

    // Blocks: block links, and unlinked unmarked events of selected calendars.
    let mut block_links: BTreeMap<(String, String), &Link> = BTreeMap::new();
    for link in input.links.iter().filter(|l| l.kind == LinkKind::Block) {
        if input.selected.contains(&link.calendar_id) {
            block_links.insert((link.calendar_id.clone(), link.remote_id.clone()), link);
        } else {
            // Deselected: its blocks go; converted meetings (other links) stay linked, so
            // re-selecting finds them again instead of making twins.
            out.actions.push(Action::RemoveBlock {
                block_id: link.crm_id,
                deselected: true,
            });
            out.actions.push(Action::DeleteLink {
                calendar_id: link.calendar_id.clone(),
                remote_id: link.remote_id.clone(),
            });
        }
    }
    let mut block_keys: BTreeSet<(String, String)> = block_links.keys().cloned().collect();
    for run in input
        .runs
        .iter()
        .filter(|r| input.selected.contains(&r.calendar_id))
    {
        for event in &run.events {
            let Some(id) = &event.id else {
                out.problems.push(Problem {
                    calendar_id: run.calendar_id.clone(),
                    event_id: None,
                    error: MapError::Missing("id"),
                });
                continue;
            };
            let key = (run.calendar_id.clone(), id.clone());
            if input.linked(&run.calendar_id, id)
                && !block_links.contains_key(&key)
                && !unlinked.contains(&key)
            {
                continue; // a meeting's event
            }
            // Our own meetings are not shown twice as blocks (the export calendar may be
            // imported too); neither are copies of them in other calendars.
            if meeting_id_of(event).is_some() && !foreign.contains(&key) {
                continue;
            }
            block_keys.insert(key);
        }
    }
    for (calendar_id, event_id) in block_keys {
        let link = block_links
            .get(&(calendar_id.clone(), event_id.clone()))
            .copied();
        let id = block_id(input.connection_id, &calendar_id, &event_id);
        let remote = match input.find(&calendar_id, &event_id) {
            // A cancelled instance keeps its tombstone block, unless its series was deleted
            // in this run (Google lists the master's exceptions cancelled with it).
            Some(Found { run, event })
                if !event.is_cancelled()
                    || event.recurring_event_id.as_ref().is_some_and(|series| {
                        !gone_series.contains(&(calendar_id.clone(), series.clone()))
                    }) =>
            {
                match Block::from_event(&calendar_id, event, run.time_zone.as_deref()) {
                    Ok(block) => BlockRemote::Listed {
                        block: Box::new(block),
                        etag: event.etag.clone(),
                        writable: writable(event),
                    },
                    Err(error) => {
                        out.problems.push(Problem {
                            calendar_id,
                            event_id: Some(event_id),
                            error,
                        });
                        continue;
                    }
                }
            }
            Some(_) => BlockRemote::Deleted,
            None => match link.map(|l| input.unlisted(l, &gone_series)) {
                Some(Unlisted::Deleted | Unlisted::Absent) => BlockRemote::Deleted,
                _ => BlockRemote::Unchanged,
            },
        };
        out.actions.extend(decide_block(id, &remote, link));
    }

    for run in &input.runs {
        if let Some(token) = &run.next_sync_token {
            out.actions.push(Action::SaveCursor {
                calendar_id: run.calendar_id.clone(),
                sync_token: token.clone(),
            });
        }
    }
    out.actions.sort_by_key(phase);
    out.stats = stats(&out.actions);
    let refusals = guard(input, &out.actions);
    if !refusals.is_empty() {
        return Err(PlanError::Refused(refusals));
    }
    Ok(out)
}

fn stats(actions: &[Action]) -> Stats {
    let mut s = Stats::default();
    for action in actions {
        match action {
            Action::CreateRemote { .. } => s.remote_creates += 1,
            Action::UpdateRemote { .. } => s.remote_updates += 1,
            Action::DeleteRemote { .. } => s.remote_deletes += 1,
            Action::UpdateMeeting { .. } | Action::RestoreMeeting { .. } => s.crm_updates += 1,
            Action::DeleteMeeting { .. } => s.crm_deletes += 1,
            Action::UpsertBlock { .. } => s.blocks_upserted += 1,
            Action::RemoveBlock { deselected, .. } => {
                s.blocks_removed += 1;
                if !deselected {
                    s.crm_deletes += 1;
                }
            }
            _ => {}
        }
    }
    s
}

/// What the mass-delete guard counts: an item as the user sees it, (calendar, event) — a
/// series with its exceptions is one item. Deleting a series in Google lists every moved
/// or cancelled occurrence cancelled with it; that is one deletion, not one per exception,
/// which on a small calendar would trip the guard for an ordinary delete.
fn item_of(link: &Link) -> (String, String) {
    let root = link.series_id.as_deref().unwrap_or(&link.remote_id);
    (link.calendar_id.clone(), root.to_string())
}

/// The items the plan deletes on each side (Google, CRM), as [`item_of`] counts them.
/// Removals because a calendar was deselected are the user's explicit choice: not counted.
fn deleted_items(input: &PlanInput, actions: &[Action]) -> [BTreeSet<(String, String)>; 2] {
    let by_crm_id = |id: Uuid, block: bool| {
        input
            .links
            .iter()
            .find(|l| l.crm_id == id && (l.kind == LinkKind::Block) == block)
            .map(item_of)
            // Unlinked (cannot happen for a planned delete): its own item.
            .unwrap_or_else(|| (String::new(), id.to_string()))
    };
    let (mut google, mut crm) = (BTreeSet::new(), BTreeSet::new());
    for action in actions {
        match action {
            Action::DeleteRemote {
                calendar_id,
                event_id,
                ..
            } => {
                let link = input
                    .links
                    .iter()
                    .find(|l| &l.calendar_id == calendar_id && &l.remote_id == event_id);
                google.insert(
                    link.map(item_of)
                        .unwrap_or_else(|| (calendar_id.clone(), event_id.clone())),
                );
            }
            Action::DeleteMeeting { meeting_id } => {
                crm.insert(by_crm_id(*meeting_id, false));
            }
            Action::RemoveBlock {
                block_id,
                deselected: false,
            } => {
                crm.insert(by_crm_id(*block_id, true));
            }
            _ => {}
        }
    }
    [google, crm]
}

/// The mass-delete and empty-calendar guards.
fn guard(input: &PlanInput, actions: &[Action]) -> Vec<Refusal> {
    let g = input.guards;
    let mut refusals = Vec::new();
    let counted = |l: &&Link| l.kind != LinkKind::Block || input.selected.contains(&l.calendar_id);
    if !g.allow_mass_delete {
        let linked = input
            .links
            .iter()
            .filter(counted)
            .map(item_of)
            .collect::<BTreeSet<_>>()
            .len();
        let [google, crm] = deleted_items(input, actions);
        for (side, deletes) in [
            (GuardSide::Google, google.len()),
            (GuardSide::Crm, crm.len()),
        ] {
            if deletes >= g.min_deletes && deletes as f64 > g.max_delete_ratio * linked as f64 {
                refusals.push(Refusal::MassDelete {
                    side,
                    deletes,
                    linked,
                });
            }
        }
    }
    if !g.allow_empty_calendar {
        for run in &input.runs {
            if run.listing != (Listing::Full { complete: true })
                || run.events.iter().any(|e| !e.is_cancelled())
            {
                continue;
            }
            let links = input
                .links
                .iter()
                .filter(counted)
                .filter(|l| l.calendar_id == run.calendar_id)
                .count();
            if links > 0 {
                refusals.push(Refusal::EmptyCalendar {
                    calendar_id: run.calendar_id.clone(),
                    links,
                });
            }
        }
    }
    refusals
}
