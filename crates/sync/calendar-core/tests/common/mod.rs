//! A small in-memory world for the planner's tests: a Google calendar store with Google's
//! write rules (client ids and 409, etags and If-Match/412, 410 on a second delete, deleted
//! events kept as cancelled, sync tokens as positions in a change log), a CRM with soft
//! delete and a changes set, the link table, and an executor that follows the contract in
//! `Plan`'s docs. Tests drive real plans through it and check where both sides end up.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, TimeZone, Utc};
use threadline_calendar_core::decide::{on_insert_conflict, patch_with_attendees, InsertConflict};
use threadline_calendar_core::event::{EventAttendee, EventDateTime, EventOrganizer, EventStatus};
use threadline_calendar_core::ids::meeting_id_of;
use threadline_calendar_core::plan::{
    plan, CalendarRun, CrmMeeting, Guards, Listing, PlanError, PlanInput,
};
use threadline_calendar_core::{Action, Block, Event, Link, Owned, Plan, When};
use uuid::Uuid;

pub const EXPORT: &str = "work@example.com";
pub const TEAM: &str = "team@example.com";

pub fn timed(title: &str, hour: u32) -> Owned {
    Owned::new(
        title,
        When::Timed {
            start: Utc.with_ymd_and_hms(2026, 3, 2, hour, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2026, 3, 2, hour + 1, 0, 0).unwrap(),
            time_zone: "Europe/Amsterdam".into(),
        },
        None,
        None,
        ["ann@example.com"],
    )
}

pub fn all_day(title: &str, day: u32, days: u32) -> Owned {
    Owned::new(
        title,
        When::AllDay {
            start: NaiveDate::from_ymd_opt(2026, 3, day).unwrap(),
            end: NaiveDate::from_ymd_opt(2026, 3, day + days).unwrap(),
        },
        None,
        None,
        Vec::<String>::new(),
    )
}

/// A Google-side event with these owned fields (as another client would write it).
pub fn google_event(id: &str, fields: &Owned) -> Event {
    let (start, end) = fields.when.to_event_times();
    Event {
        id: Some(id.to_string()),
        summary: Some(fields.title.clone()),
        location: fields.location.clone(),
        description: fields.description.clone(),
        start: Some(start),
        end: Some(end),
        attendees: Some(
            fields
                .attendees
                .iter()
                .map(|a| EventAttendee {
                    email: Some(a.clone()),
                    ..EventAttendee::default()
                })
                .collect(),
        ),
        ..Event::default()
    }
}

/// `event` with `organizer`: `here` is `organizer.self` (the calendar it is read from
/// organises it, as for the user's own meetings), else someone else's invitation.
pub fn organised(mut event: Event, here: bool) -> Event {
    event.organizer = Some(EventOrganizer {
        email: Some(
            if here {
                "me@example.com"
            } else {
                "boss@example.com"
            }
            .into(),
        ),
        display_name: None,
        is_self: Some(here),
    });
    event
}

#[derive(Debug, Clone, PartialEq)]
pub enum GoogleError {
    Duplicate,
    PreconditionFailed,
    Gone,
    NotFound,
}

#[derive(Debug, Default, Clone)]
pub struct Calendar {
    pub events: BTreeMap<String, Event>,
    /// Event ids in the order they changed; a sync token is a position in it.
    pub log: Vec<String>,
}

#[derive(Debug, Default, Clone)]
pub struct Google {
    pub calendars: BTreeMap<String, Calendar>,
    pub next_etag: u64,
    pub writes: usize,
}

impl Google {
    fn touch(&mut self, calendar: &str, event: &mut Event) {
        self.next_etag += 1;
        event.etag = Some(format!("\"e{}\"", self.next_etag));
        let id = event.id.clone().unwrap();
        self.calendars
            .entry(calendar.into())
            .or_default()
            .log
            .push(id);
    }

    pub fn insert(&mut self, calendar: &str, event: &Event) -> Result<Event, GoogleError> {
        let id = event.id.clone().expect("test events have ids");
        if self.calendar(calendar).events.contains_key(&id) {
            return Err(GoogleError::Duplicate);
        }
        let mut event = event.clone();
        event.status.get_or_insert(EventStatus::Confirmed);
        self.touch(calendar, &mut event);
        self.calendars
            .get_mut(calendar)
            .unwrap()
            .events
            .insert(id, event.clone());
        Ok(event)
    }

    pub fn calendar(&mut self, calendar: &str) -> &mut Calendar {
        self.calendars.entry(calendar.into()).or_default()
    }

    pub fn get(&self, calendar: &str, id: &str) -> Option<Event> {
        self.calendars.get(calendar)?.events.get(id).cloned()
    }

    fn check(
        &self,
        calendar: &str,
        id: &str,
        if_match: &Option<String>,
    ) -> Result<Event, GoogleError> {
        let event = self.get(calendar, id).ok_or(GoogleError::NotFound)?;
        if if_match.is_some() && *if_match != event.etag {
            return Err(GoogleError::PreconditionFailed);
        }
        Ok(event)
    }

    /// PATCH: every field the patch has replaces the event's.
    pub fn patch(
        &mut self,
        calendar: &str,
        id: &str,
        if_match: &Option<String>,
        patch: &Event,
    ) -> Result<Event, GoogleError> {
        let mut event = self.check(calendar, id, if_match)?;
        macro_rules! take {
            ($($f:ident),*) => { $( if patch.$f.is_some() { event.$f = patch.$f.clone(); } )* };
        }
        take!(
            status,
            summary,
            description,
            location,
            start,
            end,
            attendees,
            extended_properties
        );
        self.touch(calendar, &mut event);
        self.calendar(calendar)
            .events
            .insert(id.into(), event.clone());
        Ok(event)
    }

    pub fn delete(
        &mut self,
        calendar: &str,
        id: &str,
        if_match: &Option<String>,
    ) -> Result<(), GoogleError> {
        let mut event = self.check(calendar, id, if_match)?;
        if event.is_cancelled() {
            return Err(GoogleError::Gone);
        }
        event.status = Some(EventStatus::Cancelled);
        self.touch(calendar, &mut event);
        self.calendar(calendar).events.insert(id.into(), event);
        Ok(())
    }

    /// A user's edit in Google's UI.
    pub fn edit(&mut self, calendar: &str, id: &str, f: impl FnOnce(&mut Event)) {
        let mut event = self.get(calendar, id).expect("event to edit");
        f(&mut event);
        self.touch(calendar, &mut event);
        self.calendar(calendar).events.insert(id.into(), event);
    }

    /// How a listing shows an event: a deleted one as its id (and, for an instance, the
    /// series fields) only.
    fn listed(event: &Event) -> Event {
        if !event.is_cancelled() {
            return event.clone();
        }
        Event {
            id: event.id.clone(),
            etag: event.etag.clone(),
            status: Some(EventStatus::Cancelled),
            recurring_event_id: event.recurring_event_id.clone(),
            original_start_time: event.original_start_time.clone(),
            ..Event::default()
        }
    }

    pub fn list(&self, calendar: &str, token: Option<usize>) -> CalendarRun {
        let cal = self.calendars.get(calendar).cloned().unwrap_or_default();
        let events: Vec<Event> = match token {
            Some(from) => {
                let ids: BTreeSet<&String> = cal.log[from.min(cal.log.len())..].iter().collect();
                ids.into_iter()
                    .map(|id| Self::listed(&cal.events[id]))
                    .collect()
            }
            // showDeleted=false: deleted events are not listed, cancelled instances are.
            None => cal
                .events
                .values()
                .filter(|e| !e.is_cancelled() || e.recurring_event_id.is_some())
                .map(Self::listed)
                .collect(),
        };
        CalendarRun {
            calendar_id: calendar.into(),
            time_zone: Some("Europe/Amsterdam".into()),
            listing: match token {
                Some(_) => Listing::Incremental,
                None => Listing::Full { complete: true },
            },
            events,
            next_sync_token: Some(cal.log.len().to_string()),
        }
    }

    /// Live events carrying `meeting` in `calendar`.
    pub fn live_for(&self, calendar: &str, meeting: Uuid) -> Vec<Event> {
        self.calendars
            .get(calendar)
            .map(|c| {
                c.events
                    .values()
                    .filter(|e| !e.is_cancelled() && meeting_id_of(e) == Some(meeting))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Meeting {
    pub fields: Owned,
    pub deleted: bool,
}

#[derive(Debug, Default, Clone)]
pub struct World {
    pub connection: Uuid,
    pub google: Google,
    pub meetings: BTreeMap<Uuid, Meeting>,
    /// The CRM's changes since its cursor (every write, ours included).
    pub changed: BTreeSet<Uuid>,
    pub blocks: BTreeMap<Uuid, Block>,
    pub links: BTreeMap<(String, String), Link>,
    pub cursors: BTreeMap<String, usize>,
    pub export: Option<String>,
    pub selected: BTreeSet<String>,
    pub guards: Guards,
    /// Events to plan again in the next pass (409 adopt, 412, refetch).
    pub follow_ups: Vec<(String, Event)>,
    pub plans: Vec<Plan>,
}

impl World {
    pub fn new() -> World {
        World {
            connection: Uuid::from_u128(7),
            export: Some(EXPORT.into()),
            ..World::default()
        }
    }

    pub fn crm_create(&mut self, fields: Owned) -> Uuid {
        let id = Uuid::from_u128(0x1000 + self.meetings.len() as u128);
        self.crm_put(id, fields);
        id
    }

    pub fn crm_put(&mut self, id: Uuid, fields: Owned) {
        self.meetings.insert(
            id,
            Meeting {
                fields,
                deleted: false,
            },
        );
        self.changed.insert(id);
    }

    pub fn crm_delete(&mut self, id: Uuid) {
        self.meetings.get_mut(&id).unwrap().deleted = true;
        self.changed.insert(id);
    }

    fn crm_state(&self, id: Uuid) -> CrmMeeting {
        match self.meetings.get(&id) {
            Some(m) if !m.deleted => CrmMeeting::Live {
                fields: m.fields.clone(),
                names: BTreeMap::new(),
            },
            Some(_) => CrmMeeting::Deleted,
            None => CrmMeeting::NotFound,
        }
    }

    pub fn input(&self) -> PlanInput {
        let mut calendars: BTreeSet<String> = self.selected.clone();
        calendars.extend(self.export.clone());
        let mut runs: Vec<CalendarRun> = calendars
            .iter()
            .map(|c| self.google.list(c, self.cursors.get(c).copied()))
            .collect();
        for (calendar, event) in &self.follow_ups {
            let run = match runs.iter_mut().find(|r| r.calendar_id == *calendar) {
                Some(run) => run,
                None => {
                    runs.push(CalendarRun {
                        calendar_id: calendar.clone(),
                        time_zone: Some("Europe/Amsterdam".into()),
                        listing: Listing::Incremental,
                        events: Vec::new(),
                        next_sync_token: None,
                    });
                    runs.last_mut().unwrap()
                }
            };
            run.events.retain(|e| e.id != event.id);
            run.events.push(event.clone());
        }
        let mut input = PlanInput {
            connection_id: self.connection,
            export_calendar: self.export.clone(),
            selected: self.selected.clone(),
            runs,
            crm: self
                .changed
                .iter()
                .map(|id| (*id, self.crm_state(*id)))
                .collect(),
            links: self.links.values().cloned().collect(),
            guards: self.guards,
        };
        for id in input.meetings_to_load() {
            input.crm.insert(id, self.crm_state(id));
        }
        input
    }

    pub fn plan(&self) -> Result<Plan, PlanError> {
        plan(&self.input())
    }

    /// Executes the first `limit` actions of `plan` (all: `usize::MAX`), as the executor
    /// would; a smaller limit is a crash after that many steps.
    pub fn apply(&mut self, plan: &Plan, limit: usize) {
        for action in plan.actions.iter().take(limit) {
            self.step(action);
        }
    }

    fn follow(&mut self, calendar: &str, id: &str) {
        if let Some(event) = self.google.get(calendar, id) {
            self.follow_ups
                .push((calendar.into(), Google::listed(&event)));
        }
    }

    fn step(&mut self, action: &Action) {
        match action {
            Action::CreateRemote {
                calendar_id,
                event_id,
                meeting_id,
                body,
                link,
            } => match self.google.insert(calendar_id, body) {
                Ok(event) => self.put_link(link.clone().with_etag(event.etag)),
                Err(GoogleError::Duplicate) => {
                    let existing = self.google.get(calendar_id, event_id).unwrap();
                    match on_insert_conflict(*meeting_id, &existing, body) {
                        InsertConflict::Adopt => self.follow(calendar_id, event_id),
                        InsertConflict::Revive { patch, if_match } => {
                            let event = self
                                .google
                                .patch(calendar_id, event_id, &if_match, &patch)
                                .expect("revive");
                            self.put_link(link.clone().with_etag(event.etag));
                        }
                        // The simulated world has no invitations: not expected here.
                        InsertConflict::Foreign | InsertConflict::Invitation => {
                            panic!("foreign id {event_id}")
                        }
                    }
                }
                Err(e) => panic!("insert: {e:?}"),
            },
            Action::UpdateRemote {
                calendar_id,
                event_id,
                if_match,
                patch,
                link,
                attendees,
            } => {
                // Attendees changed on an event the plan did not see: read it first.
                let patch = match attendees {
                    None => Some(patch.clone()),
                    Some(wanted) => self.google.get(calendar_id, event_id).and_then(|current| {
                        patch_with_attendees(patch, if_match.as_deref(), wanted, &current)
                    }),
                };
                let Some(patch) = patch else {
                    return self.follow(calendar_id, event_id);
                };
                match self.google.patch(calendar_id, event_id, if_match, &patch) {
                    Ok(event) => self.put_link(link.clone().with_etag(event.etag)),
                    Err(GoogleError::PreconditionFailed) => self.follow(calendar_id, event_id),
                    Err(e) => panic!("patch: {e:?}"),
                }
            }
            Action::DeleteRemote {
                calendar_id,
                event_id,
                if_match,
            } => match self.google.delete(calendar_id, event_id, if_match) {
                Ok(()) | Err(GoogleError::Gone | GoogleError::NotFound) => {
                    self.links.remove(&(calendar_id.clone(), event_id.clone()));
                }
                Err(GoogleError::PreconditionFailed) => self.follow(calendar_id, event_id),
                Err(e) => panic!("delete: {e:?}"),
            },
            Action::UpdateMeeting {
                meeting_id, fields, ..
            } => {
                let deleted = self.meetings.get(meeting_id).is_some_and(|m| m.deleted);
                assert!(!deleted, "updating a deleted meeting");
                self.crm_put(*meeting_id, fields.clone());
            }
            Action::RestoreMeeting {
                meeting_id, fields, ..
            } => self.crm_put(*meeting_id, fields.clone()),
            Action::DeleteMeeting { meeting_id } => self.crm_delete(*meeting_id),
            Action::UpsertBlock { block_id, block } => {
                self.blocks.insert(*block_id, block.clone());
            }
            Action::RemoveBlock { block_id, .. } => {
                self.blocks.remove(block_id);
            }
            Action::PutLink { link } => self.put_link(link.clone()),
            Action::DeleteLink {
                calendar_id,
                remote_id,
            } => {
                self.links.remove(&(calendar_id.clone(), remote_id.clone()));
            }
            Action::Refetch {
                calendar_id,
                event_id,
            } => self.follow(calendar_id, event_id),
            Action::SaveCursor {
                calendar_id,
                sync_token,
            } => {
                self.cursors
                    .insert(calendar_id.clone(), sync_token.parse().unwrap());
            }
        }
    }

    fn put_link(&mut self, link: Link) {
        self.links
            .insert((link.calendar_id.clone(), link.remote_id.clone()), link);
    }

    /// Plans and applies until a plan is empty (the CRM cursor then moves past everything):
    /// the number of passes, or the planner's error. Panics if it does not settle.
    pub fn sync(&mut self) -> Result<usize, PlanError> {
        for pass in 1..=8 {
            let plan = self.plan()?;
            self.follow_ups.clear();
            let settled = plan.is_empty()
                || plan
                    .actions
                    .iter()
                    .all(|a| matches!(a, Action::SaveCursor { .. }));
            self.apply(&plan, usize::MAX);
            self.plans.push(plan);
            if settled && self.follow_ups.is_empty() {
                self.changed.clear();
                return Ok(pass);
            }
        }
        panic!("no fixpoint after 8 passes: {:#?}", self.plans.last());
    }

    /// Every live meeting is in the export calendar exactly once, with the same owned
    /// fields, and every exported link points at a live event.
    pub fn assert_consistent(&self) {
        for (id, m) in &self.meetings {
            let converted = self.links.values().any(|l| {
                l.crm_id == *id && l.kind == threadline_calendar_core::LinkKind::Converted
            });
            let events = self.google.live_for(EXPORT, *id);
            if m.deleted || converted {
                assert!(
                    events.is_empty(),
                    "meeting {id} is deleted or converted but exported: {events:?}"
                );
                continue;
            }
            assert_eq!(
                events.len(),
                1,
                "meeting {id} exported {} times",
                events.len()
            );
            let owned = Owned::from_event(&events[0], Some("Europe/Amsterdam")).unwrap();
            assert_eq!(owned, m.fields, "meeting {id} differs from its event");
        }
    }
}

pub fn date_time(at: &str, zone: Option<&str>) -> EventDateTime {
    EventDateTime {
        date_time: Some(at.into()),
        time_zone: zone.map(Into::into),
        date: None,
    }
}

pub fn date(d: &str) -> EventDateTime {
    EventDateTime {
        date: Some(d.into()),
        ..EventDateTime::default()
    }
}
