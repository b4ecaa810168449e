//! One run of the calendar sync: read both sides, ask `threadline-calendar-core` for a plan, execute
//! it in the crate's documented order.
//!
//! 1. Read every calendar of the run (the imported ones and the export calendar) with its
//!    sync token; 410 → a full listing. A calendar that cannot be read for a lasting reason
//!    (404, 403 access) is left out of the run (its items are "not seen", never deleted);
//!    a passing failure (throttled after the client's retries, 5xx) ends the run with
//!    nothing written, to be tried again.
//! 2. The CRM side: meetings changed since the CRM cursor (the changes feed), those the
//!    planner asks for, and the user's rule (see the module above).
//! 3. The plan. A guard's refusal writes nothing and marks the connection for review.
//! 4. Remote writes, each followed at once by its own link write (a small transaction): a
//!    crash between the write and the link leaves an event with our client id, which the
//!    next run adopts (409 on insert, or the marked event in a listing), never a duplicate.
//!    412 → GET and plan that item again; 409 → `on_insert_conflict`; bounded. A 403 on a
//!    converted meeting's event (not its organiser) → counted, and its link stops being
//!    writable. A PATCH changing the attendees of an event the run did not list is preceded
//!    by a GET (`patch_with_attendees`: merge into Google's entries, or plan again if the
//!    event changed since the plan's `If-Match`).
//! 5. One transaction: meeting and block writes, link writes, then the calendar cursors and
//!    the CRM cursor, last. A crash before its commit leaves every cursor where it was: the
//!    next run reads the same changes again and converges from the links written so far.
//! 6. Refetches (GET, planned again as an incremental listing of that one event; 404/410 as
//!    a cancelled stub).
//!
//! Under the scheduler, every write is behind the run's lease ([`RunOptions::lease`]): each
//! Google write is preceded by a local check, and each transaction starts with the fence
//! (the database must still say this process holds the schedule), so a process that paused
//! past its lease, while another took the schedule, stops with [`SyncError::LeaseLost`]
//! instead of writing beside the other run.

use std::collections::{BTreeMap, HashMap, HashSet};

use threadline_calendar_core::decide::{on_insert_conflict, patch_with_attendees, InsertConflict};
use threadline_calendar_core::ids::meeting_id_of;
use threadline_calendar_core::plan::{
    plan, CalendarRun, CrmMeeting, Listing, PlanError, PlanInput,
};
use threadline_calendar_core::{Action, Event, Link, LinkKind};
use uuid::Uuid;

use super::client::{CallError, ListError};
use super::store::{self, BlockOwner};
use super::{CalendarSync, RunOptions};
use threadline_connections::{self as connections, Status};
use threadline_crm::CrmResult;
use threadline_storage::db::Conn;
use threadline_sync_engine::{fence, FencedError, Lease, RunCounts, SyncError};

/// How many times one item is planned again after a 412/409 within a run.
const MAX_REPLANS: u32 = 3;
/// How many times the planner may ask for more meetings to load.
const MAX_LOADS: u32 = 3;

/// One run's state.
struct Run<'a> {
    sync: &'a CalendarSync,
    connection: Uuid,
    owner: BlockOwner,
    token: String,
    counts: RunCounts,
    /// Events Google marks private/confidential: their blocks keep the time only.
    private: HashSet<(String, String)>,
    /// Each read calendar's time zone, for planning refetched events.
    zones: HashMap<String, Option<String>>,
    /// Why a calendar was left out, for the connection's status.
    problems: Vec<String>,
    /// The scheduler's lease, when run by it.
    lease: Option<Lease>,
}

/// One sync of `connection_id` (see the module docs).
pub async fn run(
    sync: &CalendarSync,
    connection_id: Uuid,
    options: RunOptions,
    token: String,
) -> Result<RunCounts, SyncError> {
    let mut conn = sync.db.pool().acquire().await?;
    let connection = connections::get(&mut conn, connection_id)
        .await
        .map_err(|e| SyncError::Fatal(e.to_string()))?;
    if matches!(
        connection.status,
        Status::NeedsReauth | Status::Disconnected
    ) {
        return Err(SyncError::NeedsReauth(format!(
            "connection {connection_id} is {}",
            connection.status.as_str()
        )));
    }
    let org_id = org_of(&mut conn, connection.user_id).await?;
    let mut run = Run {
        sync,
        connection: connection_id,
        owner: BlockOwner {
            org_id,
            user_id: connection.user_id,
            connection_id,
        },
        token,
        counts: RunCounts::default(),
        private: HashSet::new(),
        zones: HashMap::new(),
        problems: Vec::new(),
        lease: options.lease.clone(),
    };
    let settings = store::settings(&mut conn, connection_id).await?;
    let cursors = store::cursors(&mut conn, connection_id).await?;
    let mut input = PlanInput {
        connection_id,
        export_calendar: settings.export.clone(),
        selected: settings.imports.clone(),
        guards: options.guards,
        ..PlanInput::default()
    };
    let mut to_read: Vec<String> = settings.imports.iter().cloned().collect();
    if let Some(export) = &settings.export {
        if !to_read.contains(export) {
            to_read.push(export.clone());
        }
    }
    for calendar in to_read {
        if let Some(read) = run
            .read_calendar(&calendar, cursors.get(&calendar).map(String::as_str))
            .await?
        {
            input.runs.push(read);
        }
    }

    // The CRM side, read after Google's: a CRM change made meanwhile is either seen now or
    // after the cursor, never lost.
    let head = store::crm_head(&mut conn, org_id).await?;
    input.links = store::links(&mut conn, connection_id).await?;
    let changed = store::changed_meetings(&mut conn, org_id, settings.crm_cursor, head).await?;
    let addresses = store::user_addresses(&mut conn, connection.user_id).await?;
    let linked: HashSet<Uuid> = input
        .links
        .iter()
        .filter(|l| l.kind != LinkKind::Block)
        .map(|l| l.crm_id)
        .collect();
    for meeting in store::meetings(&mut conn, org_id, &changed).await? {
        let is_users = linked.contains(&meeting.id)
            || meeting.attendees.iter().any(|a| {
                addresses.contains(&threadline_calendar_core::owned::normalise_address(
                    &a.address,
                ))
            });
        if !is_users {
            continue;
        }
        if let Some(entry) = run.crm_entry(&meeting) {
            input.crm.insert(meeting.id, entry);
        }
    }
    drop(conn);

    let plan = match run.plan(&mut input).await? {
        Ok(plan) => plan,
        Err(reasons) => {
            run.mark_for_review(&reasons).await?;
            return Err(SyncError::RefusedForReview(reasons));
        }
    };
    for problem in &plan.problems {
        tracing::warn!(
            connection = %connection_id,
            calendar = %problem.calendar_id,
            event = ?problem.event_id,
            error = %problem.error,
            "an event could not be read; it is left as it is"
        );
    }
    run.counts.skipped += plan.problems.len() as u64;
    run.counts.conflicts += plan.conflicts.len() as u64;
    run.execute(&input, &plan.actions, Some(head), 0).await?;
    if !run.problems.is_empty() {
        run.set_status(Status::Degraded, Some(&run.problems.join("; ")))
            .await?;
    } else if connection.status == Status::Degraded {
        run.set_status(Status::Ok, None).await?;
    }
    Ok(run.counts)
}

async fn org_of(conn: &mut Conn, user: Uuid) -> Result<Uuid, SyncError> {
    let org: String = sqlx::query_scalar("SELECT org_id FROM users WHERE id = $1")
        .bind(threadline_storage::db::id_text(user))
        .fetch_one(&mut *conn)
        .await?;
    Ok(threadline_storage::db::parse_uuid(&org)?)
}

/// A failed call as the run's error: passing ones are tried again later.
pub(super) fn call_failed(what: &str, e: CallError) -> SyncError {
    match &e {
        // The token source refreshes ahead of expiry; a 401 anyway is a revoked or cut-short
        // token: the run replaces it and runs again (`CalendarSync::run`).
        CallError::Status { status: 401, .. } => SyncError::TokenRejected(format!("{what}: {e}")),
        CallError::Status { retry_after, .. } if e.is_transient() => SyncError::Retryable {
            reason: format!("{what}: {e}"),
            retry_after: *retry_after,
        },
        _ if e.is_transient() => SyncError::retryable(format!("{what}: {e}")),
        _ => SyncError::Fatal(format!("{what}: {e}")),
    }
}

impl Run<'_> {
    /// `events.list` of one calendar; `None` when it cannot be read for a lasting reason.
    async fn read_calendar(
        &mut self,
        calendar: &str,
        cursor: Option<&str>,
    ) -> Result<Option<CalendarRun>, SyncError> {
        let client = self.sync.client();
        let (listed, listing) = match client.list_events(&self.token, calendar, cursor).await {
            Ok(listed) if cursor.is_some() => (listed, Listing::Incremental),
            Ok(listed) => (listed, Listing::Full { complete: true }),
            Err(ListError::SyncTokenExpired) => {
                tracing::info!(connection = %self.connection, calendar, "sync token expired; listing again in full");
                match client.list_events(&self.token, calendar, None).await {
                    Ok(listed) => (listed, Listing::Full { complete: true }),
                    Err(ListError::SyncTokenExpired) => {
                        return Err(SyncError::retryable(format!(
                            "calendar {calendar}: a listing without a sync token answered 410"
                        )))
                    }
                    Err(ListError::Failed(e)) => return self.unreadable(calendar, e),
                }
            }
            Err(ListError::Failed(e)) => return self.unreadable(calendar, e),
        };
        let mut events = Vec::with_capacity(listed.events.len());
        for raw in listed.events {
            if matches!(raw["visibility"].as_str(), Some("private" | "confidential")) {
                if let Some(id) = raw["id"].as_str() {
                    self.private.insert((calendar.to_string(), id.to_string()));
                }
            }
            match serde_json::from_value::<Event>(raw) {
                Ok(event) => events.push(event),
                Err(e) => {
                    tracing::warn!(connection = %self.connection, calendar, error = %e, "an event could not be parsed; skipped");
                    self.counts.skipped += 1;
                }
            }
        }
        self.zones
            .insert(calendar.to_string(), listed.time_zone.clone());
        Ok(Some(CalendarRun {
            calendar_id: calendar.to_string(),
            time_zone: listed.time_zone,
            listing,
            events,
            next_sync_token: listed.next_sync_token,
        }))
    }

    fn unreadable(
        &mut self,
        calendar: &str,
        e: CallError,
    ) -> Result<Option<CalendarRun>, SyncError> {
        if e.is_transient() || e.status() == Some(401) {
            return Err(call_failed(&format!("listing calendar {calendar}"), e));
        }
        // Unshared, deleted, or no longer readable: nothing is inferred from it.
        tracing::warn!(connection = %self.connection, calendar, error = %e, "calendar left out of the run");
        self.problem(format!("calendar {calendar} could not be read: {e}"));
        self.counts.errors += 1;
        Ok(None)
    }

    /// A meeting as the planner sees it; `None` (and counted) when it cannot be mapped.
    fn crm_entry(
        &mut self,
        meeting: &threadline_crm::records::meetings::Meeting,
    ) -> Option<CrmMeeting> {
        if meeting.meta.deleted_at.is_some() {
            return Some(CrmMeeting::Deleted);
        }
        match store::owned_of(meeting) {
            Ok((fields, names)) => Some(CrmMeeting::Live { fields, names }),
            Err(e) => {
                tracing::warn!(meeting = %meeting.id, error = %e, "a meeting could not be mapped; skipped");
                self.counts.skipped += 1;
                None
            }
        }
    }

    /// Plans `input`, loading the meetings the planner asks for. `Err(reasons)`: refused.
    async fn plan(
        &mut self,
        input: &mut PlanInput,
    ) -> Result<Result<threadline_calendar_core::Plan, Vec<String>>, SyncError> {
        for _ in 0..=MAX_LOADS {
            match plan(input) {
                Ok(plan) => return Ok(Ok(plan)),
                Err(PlanError::Refused(reasons)) => {
                    return Ok(Err(reasons.iter().map(ToString::to_string).collect()))
                }
                Err(PlanError::CrmNotLoaded(ids)) => {
                    let mut conn = self.sync.db.pool().acquire().await?;
                    let found = store::meetings(&mut conn, self.owner.org_id, &ids).await?;
                    for id in ids {
                        let entry = match found.iter().find(|m| m.id == id) {
                            Some(meeting) => match self.crm_entry(meeting) {
                                Some(entry) => entry,
                                None => continue,
                            },
                            None => CrmMeeting::NotFound,
                        };
                        input.crm.insert(id, entry);
                    }
                }
            }
        }
        Err(SyncError::Fatal(
            "the planner kept asking for meetings that could not be loaded".into(),
        ))
    }

    async fn set_status(&self, status: Status, reason: Option<&str>) -> Result<(), SyncError> {
        let id = self.connection;
        let lease = self.lease.as_ref();
        self.sync
            .db
            .write(|tx| {
                Box::pin(async move {
                    fence(lease, tx).await?;
                    connections::set_status(tx, id, None, status, reason)
                        .await
                        .map_err(|e| FencedError::Failed(e.into()))
                })
            })
            .await?;
        Ok(())
    }

    /// Before a Google write: stop if the lease is gone (the database writes are fenced, a
    /// Google write can only be held back).
    fn ensure_lease(&self) -> Result<(), SyncError> {
        match &self.lease {
            Some(lease) if !lease.is_held() => Err(SyncError::LeaseLost),
            _ => Ok(()),
        }
    }

    async fn mark_for_review(&self, reasons: &[String]) -> Result<(), SyncError> {
        tracing::warn!(connection = %self.connection, ?reasons, "calendar sync refused by a guard; nothing written");
        self.set_status(
            Status::Degraded,
            Some(&format!(
                "calendar sync needs review: {}",
                reasons.join("; ")
            )),
        )
        .await
    }

    /// Executes a plan's actions in their order. `crm_cursor`: the CRM cursor to save with
    /// the calendar cursors (the main plan's; `None` for an item planned again).
    fn execute<'s>(
        &'s mut self,
        input: &'s PlanInput,
        actions: &'s [Action],
        crm_cursor: Option<i64>,
        depth: u32,
    ) -> threadline_storage::db::BoxFuture<'s, Result<(), SyncError>> {
        Box::pin(async move {
            let (remote, rest): (Vec<&Action>, Vec<&Action>) = actions.iter().partition(|a| {
                matches!(
                    a,
                    Action::CreateRemote { .. }
                        | Action::UpdateRemote { .. }
                        | Action::DeleteRemote { .. }
                )
            });
            for action in remote {
                self.remote(input, action, depth).await?;
            }
            // A write that failed for good is planned again next run only if the CRM
            // cursor stays where it was (a repeat of the rest changes nothing).
            let crm_cursor = crm_cursor.filter(|_| self.counts.errors == 0);
            let (refetch, local): (Vec<&Action>, Vec<&Action>) = rest
                .into_iter()
                .partition(|a| matches!(a, Action::Refetch { .. }));
            if !local.is_empty() || crm_cursor.is_some() {
                self.apply_local(input, &local, crm_cursor).await?;
            }
            for action in refetch {
                if let Action::Refetch {
                    calendar_id,
                    event_id,
                } = action
                {
                    // An event that is gone (404/410) is planned as deleted: a converted
                    // instance whose occurrence the series no longer has (its times changed)
                    // must not stay linked to nothing.
                    self.refresh_item(input, calendar_id, event_id, depth)
                        .await?
                }
            }
            Ok(())
        })
    }

    /// One remote write and, at once, its link.
    async fn remote(
        &mut self,
        input: &PlanInput,
        action: &Action,
        depth: u32,
    ) -> Result<(), SyncError> {
        if matches!(
            action,
            Action::CreateRemote { .. } | Action::UpdateRemote { .. } | Action::DeleteRemote { .. }
        ) {
            self.ensure_lease()?;
        }
        let client = self.sync.client().clone();
        let token = self.token.clone();
        match action {
            Action::CreateRemote {
                calendar_id,
                event_id,
                meeting_id,
                body,
                link,
            } => match client.insert_event(&token, calendar_id, body).await {
                Ok(written) => {
                    self.put_link(link.clone().with_etag(written.etag)).await?;
                    self.counts.created += 1;
                }
                Err(e) if e.status() == Some(409) => {
                    let existing = match client.get_event(&token, calendar_id, event_id).await {
                        Ok(existing) => existing,
                        Err(e) => {
                            return self.item_failed(calendar_id, "reading an event after 409", e)
                        }
                    };
                    match on_insert_conflict(*meeting_id, &existing, body) {
                        // Ours, from an insert whose answer was lost: adopt it.
                        InsertConflict::Adopt => {
                            self.replan(input, calendar_id, existing, depth).await?
                        }
                        InsertConflict::Revive { patch, if_match } => {
                            match client
                                .patch_event(
                                    &token,
                                    calendar_id,
                                    event_id,
                                    &patch,
                                    if_match.as_deref(),
                                )
                                .await
                            {
                                Ok(written) => {
                                    self.put_link(link.clone().with_etag(written.etag)).await?;
                                    self.counts.created += 1;
                                }
                                Err(e) => {
                                    return self.item_failed(calendar_id, "reviving an event", e)
                                }
                            }
                        }
                        InsertConflict::Invitation => {
                            tracing::debug!(
                                connection = %self.connection,
                                calendar = %calendar_id,
                                event = %event_id,
                                "a colleague's cancelled invitation holds the meeting's id; left to its organiser"
                            );
                            self.counts.skipped += 1;
                        }
                        InsertConflict::Foreign => {
                            tracing::warn!(
                                connection = %self.connection,
                                calendar = %calendar_id,
                                event = %event_id,
                                "another event holds the id of a meeting's event; not exported"
                            );
                            // Counted as an error, so the meeting is tried again each run
                            // (it goes out once the id is free) and the connection says so.
                            self.counts.errors += 1;
                            self.problem(format!(
                                "calendar {calendar_id}: meeting {meeting_id} not exported: \
                                 another event holds its event id {event_id}"
                            ));
                        }
                    }
                }
                Err(e) => return self.item_failed(calendar_id, "creating an event", e),
            },
            Action::UpdateRemote {
                calendar_id,
                event_id,
                if_match,
                patch,
                link,
                attendees,
            } => {
                let read;
                let patch = match attendees {
                    None => patch,
                    // The attendees change on an event this run did not list, and Google's
                    // PATCH replaces the whole list: read the event and merge into its
                    // entries, so that guests keep their answers.
                    Some(wanted) => {
                        let current = match client.get_event(&token, calendar_id, event_id).await {
                            Ok(current) => current,
                            // Deleted meanwhile: plan it again as such (an edit beats it).
                            Err(e) if matches!(e.status(), Some(404 | 410)) => {
                                return self
                                    .replan(input, calendar_id, cancelled(event_id), depth)
                                    .await
                            }
                            Err(e) => return self.item_failed(calendar_id, "reading an event", e),
                        };
                        match patch_with_attendees(patch, if_match.as_deref(), wanted, &current) {
                            Some(with_attendees) => {
                                read = with_attendees;
                                &read
                            }
                            // Changed since the plan: as after a 412, with the event just read.
                            None => return self.replan(input, calendar_id, current, depth).await,
                        }
                    }
                };
                match client
                    .patch_event(&token, calendar_id, event_id, patch, if_match.as_deref())
                    .await
                {
                    Ok(written) => {
                        self.put_link(link.clone().with_etag(written.etag)).await?;
                        self.counts.updated += 1;
                    }
                    // Changed (or deleted) meanwhile: read it and plan the item again.
                    Err(e) if matches!(e.status(), Some(412 | 404 | 410)) => {
                        self.refresh_item(input, calendar_id, event_id, depth)
                            .await?
                    }
                    Err(e)
                        if link.kind == LinkKind::Converted
                            && e.status() == Some(403)
                            && !e.is_transient() =>
                    {
                        self.stop_writing(input, calendar_id, event_id, e).await?
                    }
                    Err(e) => return self.item_failed(calendar_id, "updating an event", e),
                }
            }
            Action::DeleteRemote {
                calendar_id,
                event_id,
                if_match,
            } => match client
                .delete_event(&token, calendar_id, event_id, if_match.as_deref())
                .await
            {
                Ok(()) => {
                    let (connection, lease) = (self.connection, self.lease.as_ref());
                    self.sync
                        .db
                        .write(|tx| {
                            Box::pin(async move {
                                fence(lease, tx).await?;
                                store::delete_link(tx, connection, calendar_id, event_id).await?;
                                Ok::<_, FencedError>(())
                            })
                        })
                        .await?;
                    self.counts.deleted += 1;
                }
                // Edited meanwhile: the edit wins over our delete.
                Err(e) if e.status() == Some(412) => {
                    self.refresh_item(input, calendar_id, event_id, depth)
                        .await?
                }
                Err(e) => return self.item_failed(calendar_id, "deleting an event", e),
            },
            _ => {}
        }
        Ok(())
    }

    /// A write of one item failed: a passing failure ends the run (tried again later, the
    /// cursors unsaved); a lasting one is counted and the run goes on (the item is planned
    /// again next run), and the connection shows why (`degraded`), once per calendar and
    /// kind of answer: a calendar that became read-only must not fail silently.
    fn item_failed(&mut self, calendar: &str, what: &str, e: CallError) -> Result<(), SyncError> {
        if e.is_transient() || e.status() == Some(401) {
            return Err(call_failed(what, e));
        }
        tracing::warn!(connection = %self.connection, calendar, error = %e, "{what} failed; the next run tries again");
        self.counts.errors += 1;
        let answer = match &e {
            CallError::Status { status, reason, .. } => {
                format!("Google answered {status} {reason}")
            }
            other => other.to_string(),
        };
        self.problem(format!("calendar {calendar}: {what} failed ({answer})"));
        Ok(())
    }

    /// A lasting problem the connection's status shows after the run (each said once).
    fn problem(&mut self, problem: String) {
        if !self.problems.contains(&problem) {
            self.problems.push(problem);
        }
    }

    /// Google refused our change of a converted meeting's event (403: the user does not, or
    /// no longer, organise it — `forbiddenForNonOrganizer` — or may only read its calendar).
    /// Counted as this item's error; its link is stored as it was before the write, but not
    /// writable, so that later runs keep the CRM's edits in the CRM instead of trying
    /// again (until Google changes the event and says who organises it).
    async fn stop_writing(
        &mut self,
        input: &PlanInput,
        calendar_id: &str,
        event_id: &str,
        e: CallError,
    ) -> Result<(), SyncError> {
        tracing::warn!(connection = %self.connection, calendar = %calendar_id, event = %event_id, error = %e, "Google refused a converted meeting's edit; its CRM edits stay in the CRM");
        self.counts.errors += 1;
        let Some(link) = input
            .links
            .iter()
            .find(|l| l.calendar_id == calendar_id && l.remote_id == event_id)
        else {
            return Ok(());
        };
        self.write_link(Link {
            writable: false,
            ..link.clone()
        })
        .await
    }

    /// GET the event and plan its item again.
    async fn refresh_item(
        &mut self,
        input: &PlanInput,
        calendar_id: &str,
        event_id: &str,
        depth: u32,
    ) -> Result<(), SyncError> {
        match self
            .sync
            .client()
            .get_event(&self.token, calendar_id, event_id)
            .await
        {
            Ok(event) => self.replan(input, calendar_id, event, depth).await,
            // Gone for good: plan it as a cancelled stub.
            Err(e) if matches!(e.status(), Some(404 | 410)) => {
                self.replan(input, calendar_id, cancelled(event_id), depth)
                    .await
            }
            Err(e) => self.item_failed(calendar_id, "reading an event again", e),
        }
    }

    /// Plans one event again, as if an incremental listing had just returned it, against
    /// the links as they are now, and executes that small plan.
    async fn replan(
        &mut self,
        input: &PlanInput,
        calendar_id: &str,
        event: Event,
        depth: u32,
    ) -> Result<(), SyncError> {
        if depth >= MAX_REPLANS {
            tracing::warn!(connection = %self.connection, calendar = %calendar_id, event = ?event.id, "an item kept changing while it was written; the next run tries again");
            self.counts.errors += 1;
            return Ok(());
        }
        let mut conn = self.sync.db.pool().acquire().await?;
        let links = store::links(&mut conn, self.connection).await?;
        drop(conn);
        let event_id = event.id.clone().unwrap_or_default();
        let mut meetings: HashSet<Uuid> = links
            .iter()
            .filter(|l| l.calendar_id == calendar_id && l.remote_id == event_id)
            .map(|l| l.crm_id)
            .collect();
        meetings.extend(meeting_id_of(&event));
        let crm: BTreeMap<Uuid, CrmMeeting> = input
            .crm
            .iter()
            .filter(|(id, _)| meetings.contains(id))
            .map(|(id, m)| (*id, m.clone()))
            .collect();
        let mut sub = PlanInput {
            connection_id: input.connection_id,
            export_calendar: input.export_calendar.clone(),
            selected: input.selected.clone(),
            runs: vec![CalendarRun {
                calendar_id: calendar_id.to_string(),
                time_zone: self.zones.get(calendar_id).cloned().flatten(),
                listing: Listing::Incremental,
                events: vec![event],
                next_sync_token: None,
            }],
            crm,
            links,
            guards: input.guards,
        };
        match self.plan(&mut sub).await? {
            Ok(plan) => {
                self.counts.conflicts += plan.conflicts.len() as u64;
                self.execute(&sub, &plan.actions, None, depth + 1).await
            }
            Err(reasons) => {
                tracing::warn!(connection = %self.connection, ?reasons, "an item planned again was refused");
                self.counts.errors += 1;
                Ok(())
            }
        }
    }

    async fn put_link(&self, link: Link) -> Result<(), SyncError> {
        // After a remote write, before its link: the next run must adopt the event.
        threadline_sync_engine::kill_point("after-remote-write");
        self.write_link(link).await
    }

    /// Stores `link` in a small transaction of its own (fenced by the lease).
    async fn write_link(&self, link: Link) -> Result<(), SyncError> {
        let (connection, lease, link) = (self.connection, self.lease.as_ref(), &link);
        self.sync
            .db
            .write(|tx| {
                Box::pin(async move {
                    fence(lease, tx).await?;
                    store::put_link(tx, connection, link).await?;
                    Ok::<_, FencedError>(())
                })
            })
            .await?;
        Ok(())
    }

    /// The CRM writes, the link writes and, last, the cursors: one transaction.
    async fn apply_local(
        &mut self,
        input: &PlanInput,
        actions: &[&Action],
        crm_cursor: Option<i64>,
    ) -> Result<(), SyncError> {
        let local = Local {
            owner: self.owner,
            private: &self.private,
            planned_meetings: input
                .links
                .iter()
                .filter(|l| l.kind != LinkKind::Block)
                .map(|l| (l.calendar_id.as_str(), l.remote_id.as_str()))
                .collect(),
        };
        let writes_blocks = actions.iter().any(|a| match a {
            Action::UpsertBlock { .. } => true,
            Action::PutLink { link } => link.kind == LinkKind::Block,
            _ => false,
        });
        let (owner, local) = (self.owner, &local);
        let lease = self.lease.as_ref();
        let counts = self
            .sync
            .db
            .write(|tx| {
                Box::pin(async move {
                    fence(lease, tx).await?;
                    let mut counts = RunCounts::default();
                    let mut meanwhile = Meanwhile::default();
                    if writes_blocks {
                        meanwhile.converted = store::meeting_link_keys(tx, owner.connection_id)
                            .await?
                            .into_iter()
                            .filter(|(c, e)| !local.planned_meetings.contains(&(c, e)))
                            .collect();
                    }
                    for action in actions {
                        apply(tx, local, action, &mut counts, &mut meanwhile).await?;
                    }
                    if let Some(seq) = crm_cursor {
                        store::save_crm_cursor(tx, owner.connection_id, seq).await?;
                    }
                    // Changes applied, cursors saved, not committed: the next run must read
                    // the same changes again and converge.
                    threadline_sync_engine::kill_point("before-local-commit");
                    Ok::<_, FencedError>(counts)
                })
            })
            .await?;
        self.counts.created += counts.created;
        self.counts.updated += counts.updated;
        self.counts.deleted += counts.deleted;
        Ok(())
    }
}

/// What the run's local actions need besides themselves.
struct Local<'a> {
    owner: BlockOwner,
    private: &'a HashSet<(String, String)>,
    /// The (calendar, event) keys linked to a meeting when the plan was made.
    planned_meetings: HashSet<(&'a str, &'a str)>,
}

/// One attempt of the run's transaction: what changed under the plan.
#[derive(Default)]
struct Meanwhile {
    /// Events linked to a meeting now that the plan did not know of: blocks converted while
    /// this run was under way (after it read the links). The meetings stand; the run's blocks
    /// and block links for those events are not written over them.
    converted: HashSet<(String, String)>,
    /// The calendars whose cursor stays where it was, because a change they listed was not
    /// applied: the next run reads it again and takes it into the meeting.
    held: HashSet<String>,
}

impl Meanwhile {
    /// Whether the block write for `(calendar, event)` is skipped (its cursor then held).
    fn skips(&mut self, calendar: &str, event: &str) -> bool {
        let skip = self
            .converted
            .contains(&(calendar.to_string(), event.to_string()));
        if skip {
            self.held.insert(calendar.to_string());
        }
        skip
    }
}

/// One local action, inside the run's transaction.
async fn apply(
    tx: &mut Conn,
    local: &Local<'_>,
    action: &Action,
    counts: &mut RunCounts,
    meanwhile: &mut Meanwhile,
) -> CrmResult<()> {
    let (owner, private) = (local.owner, local.private);
    let org = owner.org_id;
    let connection = owner.connection_id;
    match action {
        Action::UpdateMeeting {
            meeting_id,
            fields,
            names,
            ..
        } => {
            if store::write_meeting(tx, org, *meeting_id, fields, names, false).await? {
                counts.updated += 1;
            }
        }
        Action::RestoreMeeting {
            meeting_id,
            fields,
            names,
        } => {
            if store::write_meeting(tx, org, *meeting_id, fields, names, true).await? {
                counts.updated += 1;
            }
        }
        Action::DeleteMeeting { meeting_id } => {
            if store::delete_meeting(tx, org, *meeting_id).await? {
                counts.deleted += 1;
            }
        }
        Action::UpsertBlock { block_id, block } => {
            if meanwhile.skips(&block.calendar_id, &block.event_id) {
                return Ok(());
            }
            let is_private = private.contains(&(block.calendar_id.clone(), block.event_id.clone()));
            if store::upsert_block(tx, owner, *block_id, block, is_private).await? {
                counts.created += 1;
            } else {
                counts.updated += 1;
            }
        }
        Action::RemoveBlock { block_id, .. } => {
            if store::remove_block(tx, *block_id).await? {
                counts.deleted += 1;
            }
        }
        Action::PutLink { link }
            if link.kind == LinkKind::Block
                && meanwhile.skips(&link.calendar_id, &link.remote_id) => {}
        Action::PutLink { link } => store::put_link(tx, connection, link).await?,
        Action::DeleteLink {
            calendar_id,
            remote_id,
        } => store::delete_link(tx, connection, calendar_id, remote_id).await?,
        Action::SaveCursor { calendar_id, .. } if meanwhile.held.contains(calendar_id) => {}
        Action::SaveCursor {
            calendar_id,
            sync_token,
        } => store::save_cursor(tx, connection, calendar_id, sync_token).await?,
        Action::CreateRemote { .. }
        | Action::UpdateRemote { .. }
        | Action::DeleteRemote { .. }
        | Action::Refetch { .. } => {}
    }
    Ok(())
}

/// How an event that is gone for good (404/410 on a read) is planned: a cancelled stub.
fn cancelled(event_id: &str) -> Event {
    Event {
        id: Some(event_id.to_string()),
        status: Some(threadline_calendar_core::event::EventStatus::Cancelled),
        ..Event::default()
    }
}
