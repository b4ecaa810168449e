//! Whole runs through the planner against the in-memory world (`common`): both sides end
//! where the issue says, with no duplicates, and reruns converge.

mod common;

use common::*;
use threadline_calendar_core::event::EventStatus;
use threadline_calendar_core::ids::{block_id, event_id_for, CRM_ID_PROPERTY};
use threadline_calendar_core::plan::{GuardSide, Listing, PlanError, Refusal};
use threadline_calendar_core::{Action, Owned};

fn count(plan: &threadline_calendar_core::Plan, f: impl Fn(&Action) -> bool) -> usize {
    plan.actions.iter().filter(|a| f(a)).count()
}

#[test]
fn new_crm_meeting_is_exported_with_client_id_and_property_and_the_echo_is_skipped() {
    let mut w = World::new();
    let id = w.crm_create(timed("Kick-off", 9));
    w.sync().unwrap();
    let event = w
        .google
        .get(EXPORT, &event_id_for(id))
        .expect("exported under its client id");
    assert_eq!(
        event.private_property(CRM_ID_PROPERTY),
        Some(id.to_string().as_str())
    );
    w.assert_consistent();
    // Pass 2 listed our own insert (the cursor was taken before it): nothing was written.
    assert_eq!(w.plans.len(), 2);
    assert!(w.plans[1]
        .actions
        .iter()
        .all(|a| matches!(a, Action::SaveCursor { .. })));
    let writes = w.google.next_etag;
    w.sync().unwrap();
    assert_eq!(w.google.next_etag, writes, "a quiet run writes nothing");
}

#[test]
fn first_sync_with_matching_events_on_both_sides_adopts_without_duplicates() {
    let mut w = World::new();
    let same = w.crm_create(timed("Same", 9));
    let differs = w.crm_create(timed("CRM title", 10));
    // A previous installation of the links was lost: the events exist, carrying our ids.
    for (id, fields) in [(same, timed("Same", 9)), (differs, timed("Old title", 10))] {
        w.google
            .insert(EXPORT, &fields.insert_body(id, &Default::default()))
            .unwrap();
    }
    let plan = w.plan().unwrap();
    assert_eq!(
        count(&plan, |a| matches!(a, Action::CreateRemote { .. })),
        0
    );
    assert_eq!(
        count(&plan, |a| matches!(a, Action::UpdateRemote { .. })),
        1,
        "{plan:#?}"
    );
    w.sync().unwrap();
    w.assert_consistent();
    assert_eq!(
        w.google
            .get(EXPORT, &event_id_for(differs))
            .unwrap()
            .summary
            .as_deref(),
        Some("CRM title")
    );
    assert_eq!(w.links.len(), 2);
}

#[test]
fn a_retried_insert_after_a_lost_response_adopts_instead_of_duplicating() {
    let mut w = World::new();
    let id = w.crm_create(timed("Lost", 9));
    let plan = w.plan().unwrap();
    // The insert reached Google but the answer was lost: no link, no cursor.
    let Action::CreateRemote {
        calendar_id, body, ..
    } = &plan.actions[0]
    else {
        panic!()
    };
    w.google.insert(calendar_id, body).unwrap();
    assert!(w.links.is_empty());
    // The same plan again (the job retried): 409 → GET → adopt.
    w.apply(&plan, usize::MAX);
    w.sync().unwrap();
    assert_eq!(w.google.live_for(EXPORT, id).len(), 1);
    w.assert_consistent();
}

#[test]
fn edit_in_google_updates_the_crm_and_edit_in_crm_updates_google() {
    let mut w = World::new();
    let id = w.crm_create(timed("Plan", 9));
    w.sync().unwrap();
    w.google.edit(EXPORT, &event_id_for(id), |e| {
        e.location = Some("Room 4".into())
    });
    w.sync().unwrap();
    assert_eq!(w.meetings[&id].fields.location.as_deref(), Some("Room 4"));
    let mut f = w.meetings[&id].fields.clone();
    f.title = "Plan v2".into();
    w.crm_put(id, f);
    w.sync().unwrap();
    assert_eq!(
        w.google
            .get(EXPORT, &event_id_for(id))
            .unwrap()
            .summary
            .as_deref(),
        Some("Plan v2")
    );
    w.assert_consistent();
}

#[test]
fn both_sides_edited_merge_by_field_and_the_crm_wins_the_same_field() {
    let mut w = World::new();
    let id = w.crm_create(timed("Plan", 9));
    w.sync().unwrap();
    w.google.edit(EXPORT, &event_id_for(id), |e| {
        e.location = Some("Room 4".into());
        e.summary = Some("Google title".into());
        e.attendees.get_or_insert_with(Vec::new).push(
            threadline_calendar_core::event::EventAttendee {
                email: Some("bob@example.com".into()),
                ..Default::default()
            },
        );
    });
    let mut f = w.meetings[&id].fields.clone();
    f.title = "CRM title".into();
    f.description = Some("agenda".into());
    f.attendees.insert("cas@example.com".into());
    w.crm_put(id, f);
    let plan = w.plan().unwrap();
    assert_eq!(
        plan.conflicts,
        vec![(id, vec![threadline_calendar_core::owned::Field::Title])]
    );
    w.sync().unwrap();
    let m = &w.meetings[&id].fields;
    assert_eq!(m.title, "CRM title");
    assert_eq!(m.location.as_deref(), Some("Room 4"));
    assert_eq!(m.description.as_deref(), Some("agenda"));
    let people: Vec<&str> = m.attendees.iter().map(String::as_str).collect();
    assert_eq!(
        people,
        ["ann@example.com", "bob@example.com", "cas@example.com"]
    );
    w.assert_consistent();
}

#[test]
fn edit_beats_delete_in_both_directions() {
    // Google deleted, CRM edited → the event comes back (the cancelled id is revived).
    let mut w = World::new();
    let id = w.crm_create(timed("Keep me", 9));
    w.sync().unwrap();
    w.google.delete(EXPORT, &event_id_for(id), &None).unwrap();
    let mut f = w.meetings[&id].fields.clone();
    f.title = "Edited".into();
    w.crm_put(id, f);
    w.sync().unwrap();
    let event = w.google.get(EXPORT, &event_id_for(id)).unwrap();
    assert_eq!(event.status, Some(EventStatus::Confirmed));
    assert_eq!(event.summary.as_deref(), Some("Edited"));
    w.assert_consistent();

    // CRM deleted, Google edited → the meeting is restored with Google's edit.
    w.crm_delete(id);
    w.google.edit(EXPORT, &event_id_for(id), |e| {
        e.summary = Some("Edited in Google".into())
    });
    w.sync().unwrap();
    assert!(!w.meetings[&id].deleted);
    assert_eq!(w.meetings[&id].fields.title, "Edited in Google");
    w.assert_consistent();
}

#[test]
fn plain_deletes_reach_the_other_side() {
    let mut w = World::new();
    let a = w.crm_create(timed("A", 9));
    let b = w.crm_create(timed("B", 10));
    w.sync().unwrap();
    w.crm_delete(a);
    w.google.delete(EXPORT, &event_id_for(b), &None).unwrap();
    w.sync().unwrap();
    assert!(w
        .google
        .get(EXPORT, &event_id_for(a))
        .unwrap()
        .is_cancelled());
    assert!(w.meetings[&b].deleted);
    assert!(w.links.is_empty());
    w.assert_consistent();
}

#[test]
fn deleted_events_carrying_only_an_id_parse_and_delete() {
    let stub: threadline_calendar_core::Event = serde_json::from_str(
        r#"{"kind":"calendar#event","id":"abc123","status":"cancelled","etag":"\"9\""}"#,
    )
    .unwrap();
    assert!(stub.is_cancelled() && stub.start.is_none());
    let mut w = World::new();
    w.selected.insert(TEAM.into());
    w.google
        .insert(TEAM, &google_event("abc123", &timed("Standup", 8)))
        .unwrap();
    w.sync().unwrap();
    assert_eq!(w.blocks.len(), 1);
    w.google.delete(TEAM, "abc123", &None).unwrap();
    w.sync().unwrap();
    assert!(w.blocks.is_empty() && w.links.is_empty());
}

#[test]
fn mass_delete_guard_refuses_and_can_be_overridden() {
    let mut w = World::new();
    let ids: Vec<_> = (0..6)
        .map(|i| w.crm_create(timed(&format!("M{i}"), 8 + i)))
        .collect();
    w.sync().unwrap();
    for id in &ids[..4] {
        w.google.delete(EXPORT, &event_id_for(*id), &None).unwrap();
    }
    let before = w.clone();
    let err = w.sync().unwrap_err();
    assert_eq!(
        err,
        PlanError::Refused(vec![Refusal::MassDelete {
            side: GuardSide::Crm,
            deletes: 4,
            linked: 6
        }])
    );
    assert_eq!(w.meetings, before.meetings, "a refused plan writes nothing");
    w.guards.allow_mass_delete = true;
    w.sync().unwrap();
    assert_eq!(w.meetings.values().filter(|m| m.deleted).count(), 4);

    // The same guard on the Google side: the CRM deleting most of the exported meetings.
    let mut w = World::new();
    let ids: Vec<_> = (0..4)
        .map(|i| w.crm_create(timed(&format!("M{i}"), 8 + i)))
        .collect();
    w.sync().unwrap();
    for id in &ids[..3] {
        w.crm_delete(*id);
    }
    assert!(matches!(
        w.plan().unwrap_err(),
        PlanError::Refused(r) if r == vec![Refusal::MassDelete { side: GuardSide::Google, deletes: 3, linked: 4 }]
    ));
    // Two deletes of four is allowed (below the minimum and not more than half).
    w.changed.remove(&ids[2]);
    w.meetings.get_mut(&ids[2]).unwrap().deleted = false;
    w.sync().unwrap();
}

#[test]
fn empty_calendar_guard_refuses_a_complete_listing_that_lost_everything() {
    let mut w = World::new();
    w.selected.insert(TEAM.into());
    w.google
        .insert(TEAM, &google_event("abc01", &timed("X", 8)))
        .unwrap();
    w.sync().unwrap();
    // The calendar lists empty (scope lost, wrong calendar) in a full listing.
    w.google.calendars.get_mut(TEAM).unwrap().events.clear();
    w.cursors.clear();
    assert!(matches!(
        w.plan().unwrap_err(),
        PlanError::Refused(r) if matches!(&r[..], [Refusal::EmptyCalendar { calendar_id, links: 1 }] if calendar_id == TEAM)
    ));
    w.guards.allow_empty_calendar = true;
    w.sync().unwrap();
    assert!(w.blocks.is_empty());
}

#[test]
fn a_410_relist_reconciles_against_the_links() {
    let mut w = World::new();
    w.selected.insert(EXPORT.into());
    let kept = w.crm_create(timed("Kept", 9));
    let gone = w.crm_create(timed("Gone", 10));
    w.google
        .insert(EXPORT, &google_event("other01", &timed("Dentist", 12)))
        .unwrap();
    w.sync().unwrap();
    assert_eq!(
        w.blocks.len(),
        1,
        "the foreign event is a block; our own are not"
    );
    // While the token is expired: Google deletes one meeting, edits the other.
    w.google.delete(EXPORT, &event_id_for(gone), &None).unwrap();
    w.google.edit(EXPORT, &event_id_for(kept), |e| {
        e.location = Some("Cafe".into())
    });
    w.cursors.clear(); // 410 → full listing
    let plan = w.plan().unwrap();
    assert_eq!(
        count(&plan, |a| matches!(
            a,
            Action::CreateRemote { .. } | Action::UpsertBlock { .. }
        )),
        0
    );
    w.sync().unwrap();
    assert!(w.meetings[&gone].deleted);
    assert_eq!(w.meetings[&kept].fields.location.as_deref(), Some("Cafe"));
    assert_eq!(w.blocks.len(), 1);
    w.assert_consistent();
}

#[test]
fn an_incomplete_listing_infers_no_deletes() {
    let mut w = World::new();
    let id = w.crm_create(timed("Still here", 9));
    w.sync().unwrap();
    let mut input = w.input();
    input.runs[0].listing = Listing::Full { complete: false };
    input.runs[0].events.clear();
    input.runs[0].next_sync_token = None;
    let plan = threadline_calendar_core::plan(&input).unwrap();
    assert!(plan.is_empty(), "{plan:#?}");
    assert!(!w.meetings[&id].deleted);
}

#[test]
fn blocks_convert_to_meetings_that_follow_google_and_revert_on_crm_delete() {
    let mut w = World::new();
    w.selected.insert(TEAM.into());
    w.google
        .insert(TEAM, &google_event("inv001", &timed("Review", 14)))
        .unwrap();
    w.sync().unwrap();
    let block = block_id(w.connection, TEAM, "inv001");
    assert!(w.blocks.contains_key(&block));

    // Convert: the caller creates the meeting and swaps the link, in one transaction.
    let link = w.links[&(TEAM.to_string(), "inv001".to_string())].clone();
    let meeting = uuid::Uuid::from_u128(0xC0);
    let (converted, fields) = link.converted(meeting).unwrap();
    w.blocks.remove(&block);
    w.links.insert((TEAM.into(), "inv001".into()), converted);
    w.crm_put(meeting, fields);
    w.sync().unwrap();
    assert!(
        w.google.live_for(EXPORT, meeting).is_empty(),
        "a converted meeting is not exported"
    );

    // Google moves it; the CRM edits the description: both survive, Google is not written.
    let writes = w.google.next_etag;
    w.google.edit(TEAM, "inv001", |e| {
        e.summary = Some("Review (moved)".into())
    });
    let mut f = w.meetings[&meeting].fields.clone();
    f.description = Some("notes".into());
    w.crm_put(meeting, f);
    w.sync().unwrap();
    assert_eq!(w.meetings[&meeting].fields.title, "Review (moved)");
    assert_eq!(
        w.meetings[&meeting].fields.description.as_deref(),
        Some("notes")
    );
    assert_eq!(w.google.next_etag, writes + 1, "only Google's own edit");
    // A later Google edit, with the CRM quiet: the CRM-only description still survives.
    assert!(w.changed.is_empty());
    w.google
        .edit(TEAM, "inv001", |e| e.location = Some("Room 9".into()));
    w.sync().unwrap();
    assert_eq!(
        w.meetings[&meeting].fields.description.as_deref(),
        Some("notes")
    );
    assert_eq!(
        w.meetings[&meeting].fields.location.as_deref(),
        Some("Room 9")
    );

    // Deleting the meeting in the CRM makes it a block again; the event stays.
    w.crm_delete(meeting);
    w.sync().unwrap();
    assert!(w.blocks.contains_key(&block));
    assert!(!w.google.get(TEAM, "inv001").unwrap().is_cancelled());
}

#[test]
fn a_converted_meeting_goes_when_google_deletes_it_unless_edited() {
    for edited in [false, true] {
        let mut w = World::new();
        w.selected.insert(TEAM.into());
        w.google
            .insert(TEAM, &google_event("inv002", &timed("Call", 15)))
            .unwrap();
        w.sync().unwrap();
        let link = w.links[&(TEAM.to_string(), "inv002".to_string())].clone();
        let meeting = uuid::Uuid::from_u128(0xC1);
        let (converted, mut fields) = link.converted(meeting).unwrap();
        w.blocks.clear();
        w.links.insert((TEAM.into(), "inv002".into()), converted);
        if edited {
            fields.description = Some("prep".into());
        }
        w.crm_put(meeting, fields);
        w.sync().unwrap();
        w.google.delete(TEAM, "inv002", &None).unwrap();
        w.sync().unwrap();
        assert_eq!(w.meetings[&meeting].deleted, !edited);
        // An edited one stays, unlinked from the event, and is exported instead.
        assert_eq!(
            w.google.live_for(EXPORT, meeting).len(),
            usize::from(edited)
        );
        w.assert_consistent();
    }
}

#[test]
fn selection_changes_remove_blocks_keep_converted_meetings_and_make_no_duplicates() {
    let mut w = World::new();
    w.selected.insert(TEAM.into());
    for id in ["ev001", "ev002"] {
        w.google
            .insert(TEAM, &google_event(id, &timed(id, 9)))
            .unwrap();
    }
    w.sync().unwrap();
    let link = w.links[&(TEAM.to_string(), "ev002".to_string())].clone();
    let meeting = uuid::Uuid::from_u128(0xC2);
    let (converted, fields) = link.converted(meeting).unwrap();
    w.blocks.remove(&link.crm_id);
    w.links.insert((TEAM.into(), "ev002".into()), converted);
    w.crm_put(meeting, fields);
    w.sync().unwrap();

    // Deselect: the block goes (not counted as a mass delete), the meeting stays linked.
    w.selected.clear();
    w.cursors.remove(TEAM);
    w.sync().unwrap();
    assert!(w.blocks.is_empty());
    assert!(!w.meetings[&meeting].deleted);
    assert_eq!(w.links.len(), 1);

    // Reselect: a full listing; the block is back under the same id, the meeting is not
    // duplicated as a block.
    w.selected.insert(TEAM.into());
    w.sync().unwrap();
    assert_eq!(w.blocks.len(), 1);
    assert!(w
        .blocks
        .contains_key(&block_id(w.connection, TEAM, "ev001")));
    assert_eq!(w.links.len(), 2);
    assert_eq!(w.meetings.len(), 1);
}

#[test]
fn recurring_series_moved_cancelled_and_converted_instance() {
    let mut w = World::new();
    w.selected.insert(TEAM.into());
    let mut master = google_event("weekly01", &timed("Weekly", 9));
    master.recurrence = Some(vec!["RRULE:FREQ=WEEKLY;COUNT=10".into()]);
    w.google.insert(TEAM, &master).unwrap();
    w.sync().unwrap();
    let series = &w.blocks[&block_id(w.connection, TEAM, "weekly01")];
    assert_eq!(
        series.recurrence,
        vec!["RRULE:FREQ=WEEKLY;COUNT=10".to_string()]
    );

    // An instance moved, another cancelled (Google lists it with id + series fields only).
    let mut moved = google_event("weekly01_20260309T080000Z", &timed("Weekly", 11));
    moved.recurring_event_id = Some("weekly01".into());
    moved.original_start_time = Some(date_time(
        "2026-03-09T09:00:00+01:00",
        Some("Europe/Amsterdam"),
    ));
    w.google.insert(TEAM, &moved).unwrap();
    let mut cancelled = moved.clone();
    cancelled.id = Some("weekly01_20260316T080000Z".into());
    cancelled.original_start_time = Some(date_time("2026-03-16T09:00:00+01:00", None));
    w.google.insert(TEAM, &cancelled).unwrap();
    w.google
        .delete(TEAM, "weekly01_20260316T080000Z", &None)
        .unwrap();
    w.sync().unwrap();
    let moved_block = &w.blocks[&block_id(w.connection, TEAM, "weekly01_20260309T080000Z")];
    assert_eq!(moved_block.series_id.as_deref(), Some("weekly01"));
    assert!(!moved_block.cancelled && moved_block.fields.is_some());
    let cancelled_block = &w.blocks[&block_id(w.connection, TEAM, "weekly01_20260316T080000Z")];
    assert!(cancelled_block.cancelled && cancelled_block.fields.is_none());
    assert!(cancelled_block.original_start.is_some());

    // The moved instance is converted into a meeting.
    let link = w.links[&(TEAM.to_string(), "weekly01_20260309T080000Z".to_string())].clone();
    let meeting = uuid::Uuid::from_u128(0xC3);
    let (converted, fields) = link.converted(meeting).unwrap();
    assert_eq!(converted.series_id.as_deref(), Some("weekly01"));
    w.blocks.remove(&link.crm_id);
    w.links
        .insert((TEAM.into(), "weekly01_20260309T080000Z".into()), converted);
    w.crm_put(meeting, fields);
    w.sync().unwrap();

    // The master changes: the converted instance is fetched again (it may have moved).
    w.google
        .edit(TEAM, "weekly01", |e| e.location = Some("HQ".into()));
    let plan = w.plan().unwrap();
    assert!(plan.actions.contains(&Action::Refetch {
        calendar_id: TEAM.into(),
        event_id: "weekly01_20260309T080000Z".into()
    }));
    w.sync().unwrap();

    // The whole series is deleted (an id-only stub): every block of it goes, and the
    // converted instance's meeting with it. Three links, one item (the series): not a
    // mass deletion for the guard, with its defaults.
    w.google.delete(TEAM, "weekly01", &None).unwrap();
    assert_eq!(w.guards, threadline_calendar_core::Guards::default());
    w.sync().unwrap();
    assert!(w.blocks.is_empty(), "{:#?}", w.blocks);
    assert!(w.meetings[&meeting].deleted);
    assert!(w.links.is_empty());
}

#[test]
fn a_converted_instance_cancelled_in_google_leaves_its_cancelled_block() {
    for edited in [false, true] {
        let mut w = World::new();
        w.selected.insert(TEAM.into());
        let mut master = google_event("weekly02", &timed("Weekly", 9));
        master.recurrence = Some(vec!["RRULE:FREQ=WEEKLY;COUNT=10".into()]);
        w.google.insert(TEAM, &master).unwrap();
        let mut moved = google_event("weekly02_20260309T080000Z", &timed("Weekly", 11));
        moved.recurring_event_id = Some("weekly02".into());
        moved.original_start_time = Some(date_time("2026-03-09T09:00:00+01:00", None));
        w.google.insert(TEAM, &moved).unwrap();
        w.sync().unwrap();
        let key = (TEAM.to_string(), "weekly02_20260309T080000Z".to_string());
        let link = w.links[&key].clone();
        let meeting = uuid::Uuid::from_u128(0xC4);
        let (converted, mut fields) = link.converted(meeting).unwrap();
        w.blocks.remove(&link.crm_id);
        w.links.insert(key.clone(), converted);
        if edited {
            fields.description = Some("prep".into());
        }
        w.crm_put(meeting, fields);
        w.sync().unwrap();

        w.google
            .delete(TEAM, "weekly02_20260309T080000Z", &None)
            .unwrap();
        w.sync().unwrap();
        assert_eq!(w.meetings[&meeting].deleted, !edited);
        // Hidden in the series as a first import would hide it, whatever became of the
        // meeting.
        let block = &w.blocks[&link.crm_id];
        assert!(block.cancelled && block.fields.is_none(), "{block:#?}");
        assert_eq!(
            w.links[&key].kind,
            threadline_calendar_core::LinkKind::Block
        );
        w.assert_consistent();
    }
}

/// An occurrence of a series converted while the series had not changed it: Google lists
/// only the master, even in a complete listing (a 410, a re-selected calendar), so the
/// instance's absence is no delete; it is fetched by its id, and the meeting stays.
#[test]
fn a_converted_unchanged_instance_survives_a_full_listing() {
    let mut w = World::new();
    w.selected.insert(TEAM.into());
    let mut master = google_event("weekly03", &timed("Weekly", 9));
    master.recurrence = Some(vec!["RRULE:FREQ=WEEKLY;COUNT=10".into()]);
    w.google.insert(TEAM, &master).unwrap();
    w.sync().unwrap();
    // The occurrence of 9 March, as `events.get` of its instance id answers it.
    let mut instance = google_event("weekly03_20260309T080000Z", &timed("Weekly", 9));
    instance.recurring_event_id = Some("weekly03".into());
    instance.original_start_time = Some(date_time("2026-03-09T09:00:00+01:00", None));
    instance.etag = Some("\"i1\"".into());
    let meeting = uuid::Uuid::from_u128(0xC5);
    let (link, fields) = threadline_calendar_core::Link::converted_instance(
        meeting,
        TEAM,
        &instance,
        Some("Europe/Amsterdam"),
    )
    .unwrap();
    assert_eq!(link.remote_id, "weekly03_20260309T080000Z");
    assert_eq!(link.series_id.as_deref(), Some("weekly03"));
    assert_eq!(link.remote_etag.as_deref(), Some("\"i1\""));
    w.links.insert((TEAM.into(), link.remote_id.clone()), link);
    w.crm_put(meeting, fields);
    w.sync().unwrap();

    w.cursors.clear(); // 410 → full listing: the master only
    let plan = w.plan().unwrap();
    assert!(
        plan.actions.contains(&Action::Refetch {
            calendar_id: TEAM.into(),
            event_id: "weekly03_20260309T080000Z".into()
        }),
        "{plan:#?}"
    );
    assert_eq!(
        count(&plan, |a| matches!(
            a,
            Action::DeleteMeeting { .. } | Action::DeleteLink { .. }
        )),
        0,
        "{plan:#?}"
    );
    w.sync().unwrap();
    assert!(!w.meetings[&meeting].deleted);
    assert_eq!(w.blocks.len(), 1, "the series only");
}

#[test]
fn all_day_meetings_keep_civil_dates_and_the_exclusive_end() {
    let mut w = World::new();
    let id = w.crm_create(all_day("Offsite", 5, 2));
    w.sync().unwrap();
    let event = w.google.get(EXPORT, &event_id_for(id)).unwrap();
    assert_eq!(event.start, Some(date("2026-03-05")));
    assert_eq!(
        event.end,
        Some(date("2026-03-07")),
        "two days end on the third, exclusive"
    );
    w.assert_consistent();
}

#[test]
fn rerun_converges_after_a_crash_at_every_step() {
    // A busy run: new, edited, deleted on both sides, and a block.
    let setup = || {
        let mut w = World::new();
        w.selected.insert(TEAM.into());
        let a = w.crm_create(timed("A", 8));
        let b = w.crm_create(timed("B", 9));
        let c = w.crm_create(timed("C", 10));
        let d = w.crm_create(timed("D", 11));
        w.sync().unwrap();
        w.crm_create(timed("New", 12));
        let mut f = w.meetings[&a].fields.clone();
        f.title = "A2".into();
        w.crm_put(a, f);
        w.google
            .edit(EXPORT, &event_id_for(b), |e| e.summary = Some("B2".into()));
        w.crm_delete(c);
        w.google.delete(EXPORT, &event_id_for(d), &None).unwrap();
        w.google
            .insert(TEAM, &google_event("blk01", &timed("Busy", 13)))
            .unwrap();
        w
    };
    let mut reference = setup();
    reference.sync().unwrap();
    let steps = setup().plan().unwrap().actions.len();
    assert!(steps > 8);
    for crash_after in 0..=steps {
        let mut w = setup();
        let plan = w.plan().unwrap();
        w.apply(&plan, crash_after);
        w.follow_ups.clear(); // lost with the crash
        w.sync().unwrap();
        assert_eq!(w.meetings, reference.meetings, "crash after {crash_after}");
        assert_eq!(w.blocks, reference.blocks, "crash after {crash_after}");
        w.assert_consistent();
    }
}

#[test]
fn applying_a_plan_twice_is_the_same_as_once() {
    let mut once = World::new();
    once.selected.insert(TEAM.into());
    once.crm_create(timed("X", 8));
    once.google
        .insert(TEAM, &google_event("blk02", &timed("Busy", 13)))
        .unwrap();
    let mut twice = once.clone();
    let plan = once.plan().unwrap();
    once.apply(&plan, usize::MAX);
    twice.apply(&plan, usize::MAX);
    twice.apply(&plan, usize::MAX);
    for w in [&mut once, &mut twice] {
        w.sync().unwrap();
    }
    assert_eq!(once.meetings, twice.meetings);
    assert_eq!(once.blocks, twice.blocks);
    assert_eq!(once.links, twice.links);
    twice.assert_consistent();
    let _ = Owned::hash; // the crate's API is what these tests exercise
}

#[derive(Debug, Clone)]
enum Op {
    CrmEdit(usize, u8),
    CrmDelete(usize),
    GoogleEdit(usize, u8),
    GoogleDelete(usize),
    Sync,
    /// Plan, apply only this many steps, lose the rest.
    Crash(usize),
}

fn arb_op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        (0..3usize, 0..3u8).prop_map(|(i, v)| Op::CrmEdit(i, v)),
        (0..3usize).prop_map(Op::CrmDelete),
        (0..3usize, 0..3u8).prop_map(|(i, v)| Op::GoogleEdit(i, v)),
        (0..3usize).prop_map(Op::GoogleDelete),
        Just(Op::Sync),
        (0..12usize).prop_map(Op::Crash),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
    /// Any interleaving of edits and deletes on both sides, syncs and crashes ends, after a
    /// final sync, with both sides agreeing, no duplicate events, and a quiet rerun.
    #[test]
    fn random_histories_converge(ops in proptest::collection::vec(arb_op(), 1..14)) {
        let mut w = World::new();
        w.guards.allow_mass_delete = true;
        let ids: Vec<_> = (0..3).map(|i| w.crm_create(timed(&format!("M{i}"), 8 + i as u32))).collect();
        w.sync().unwrap();
        for op in ops {
            match op {
                Op::CrmEdit(i, v) if !w.meetings[&ids[i]].deleted => {
                    let mut f = w.meetings[&ids[i]].fields.clone();
                    f.title = format!("crm {v}");
                    w.crm_put(ids[i], f);
                }
                Op::CrmDelete(i) if !w.meetings[&ids[i]].deleted => w.crm_delete(ids[i]),
                Op::GoogleEdit(i, v) => {
                    let id = event_id_for(ids[i]);
                    if w.google.get(EXPORT, &id).is_some_and(|e| !e.is_cancelled()) {
                        w.google.edit(EXPORT, &id, |e| e.location = Some(format!("room {v}")));
                    }
                }
                Op::GoogleDelete(i) => {
                    let _ = w.google.delete(EXPORT, &event_id_for(ids[i]), &None);
                }
                Op::Sync => { w.sync().unwrap(); }
                Op::Crash(k) => {
                    let plan = w.plan().unwrap();
                    w.apply(&plan, k);
                    w.follow_ups.clear();
                }
                _ => {}
            }
        }
        w.sync().unwrap();
        w.assert_consistent();
        let writes = w.google.next_etag;
        let meetings = w.meetings.clone();
        w.sync().unwrap();
        proptest::prop_assert_eq!(w.google.next_etag, writes);
        proptest::prop_assert_eq!(&w.meetings, &meetings);
    }
}
