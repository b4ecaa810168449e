//! The attendee list a write sends: Google's entries merged with the CRM's addresses (the
//! table of `merge_attendees`), the read before a PATCH the plan had no event for, the
//! revive path, and whole runs in the in-memory world where guests' answers must survive.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use serde_json::{json, Value};
use threadline_calendar_core::attendees::{merge_attendees, WantedAttendees};
use threadline_calendar_core::decide::{
    decide_meeting, on_insert_conflict, patch_with_attendees, InsertConflict, RemoteEvent,
};
use threadline_calendar_core::event::{EventAttendee, EventStatus};
use threadline_calendar_core::ids::event_id_for;
use threadline_calendar_core::{Action, CrmSide, Event, Link, LinkKind, Owned, RemoteSide};
use uuid::Uuid;

/// Attendee entries as Google's JSON gives them.
fn entries(value: Value) -> Vec<EventAttendee> {
    serde_json::from_value(value).expect("attendee entries")
}

fn addresses(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|a| a.to_string()).collect()
}

fn emails(list: &[EventAttendee]) -> Vec<&str> {
    list.iter()
        .map(|a| a.email.as_deref().unwrap_or("-"))
        .collect()
}

/// What Google has on a meeting's event after its guests answered: the organiser's entry,
/// an accepted guest with a note and a plus-one, a declined one, an optional one, a room.
fn answered() -> Vec<EventAttendee> {
    entries(json!([
        {"email": "ann@ourco.com", "organizer": true, "self": true,
         "responseStatus": "accepted"},
        {"email": "Bob@TheirCo.com", "displayName": "Bob B.", "responseStatus": "accepted",
         "comment": "See you there", "additionalGuests": 1, "id": "1234567890"},
        {"email": "carol@theirco.com", "responseStatus": "declined", "comment": "Away"},
        {"email": "erin@theirco.com", "optional": true, "responseStatus": "tentative"},
        {"email": "room-4@resource.calendar.google.com", "resource": true,
         "displayName": "Room 4", "responseStatus": "accepted"},
    ]))
}

/// (what it shows, Google's entries, the CRM's addresses, the list to send)
type Case = (
    &'static str,
    Vec<EventAttendee>,
    BTreeSet<String>,
    Vec<EventAttendee>,
);

#[test]
fn merge_table() {
    let names = BTreeMap::from([
        ("dave@theirco.com".to_string(), "Dave D.".to_string()),
        ("carol@theirco.com".to_string(), "Carol C.".to_string()),
    ]);
    let google = answered();
    let g = |i: usize| google[i].clone();
    let bare = |email: &str, name: Option<&str>| EventAttendee {
        email: Some(email.into()),
        display_name: name.map(Into::into),
        ..EventAttendee::default()
    };
    let table: Vec<Case> = vec![
        (
            "the same addresses: every entry exactly as Google had it",
            google.clone(),
            addresses(&[
                "ann@ourco.com",
                "bob@theirco.com",
                "carol@theirco.com",
                "erin@theirco.com",
            ]),
            google.clone(),
        ),
        (
            "Dave added (bare, the CRM's name), Carol removed, the rest as they were",
            google.clone(),
            addresses(&[
                "ann@ourco.com",
                "bob@theirco.com",
                "dave@theirco.com",
                "erin@theirco.com",
            ]),
            vec![
                g(0),
                g(1),
                g(3),
                g(4),
                bare("dave@theirco.com", Some("Dave D.")),
            ],
        ),
        (
            "the organiser and the room stay though the CRM lists neither",
            google.clone(),
            addresses(&["bob@theirco.com"]),
            vec![g(0), g(1), g(4)],
        ),
        (
            "nobody wanted: only what the CRM does not own is left",
            google.clone(),
            BTreeSet::new(),
            vec![g(0), g(4)],
        ),
        (
            "an insert (no entries yet): bare entries in address order, names when known",
            Vec::new(),
            addresses(&["dave@theirco.com", "bob@theirco.com"]),
            vec![
                bare("bob@theirco.com", None),
                bare("dave@theirco.com", Some("Dave D.")),
            ],
        ),
        (
            "one address twice in Google (case): one guest, the first entry",
            entries(json!([
                {"email": "bob@theirco.com", "responseStatus": "accepted"},
                {"email": "BOB@theirco.com", "responseStatus": "needsAction"},
            ])),
            addresses(&["bob@theirco.com"]),
            entries(json!([{"email": "bob@theirco.com", "responseStatus": "accepted"}])),
        ),
        (
            "an entry without an address cannot be compared: kept",
            entries(json!([{"id": "x1", "responseStatus": "accepted"}])),
            addresses(&["bob@theirco.com"]),
            vec![
                entries(json!([{"id": "x1", "responseStatus": "accepted"}])).remove(0),
                bare("bob@theirco.com", None),
            ],
        ),
    ];
    for (case, current, wanted, expected) in table {
        let sent = merge_attendees(&current, &wanted, &names);
        assert_eq!(sent, expected, "{case}");
        // Idempotent: sending it again changes nothing.
        assert_eq!(
            merge_attendees(&sent, &wanted, &names),
            sent,
            "{case}, again"
        );
    }
}

#[test]
fn a_kept_entry_goes_back_to_google_byte_for_byte() {
    let google = answered();
    let sent = merge_attendees(&google, &addresses(&["bob@theirco.com"]), &BTreeMap::new());
    let bob = serde_json::to_value(&sent[1]).unwrap();
    assert_eq!(
        bob,
        json!({"email": "Bob@TheirCo.com", "displayName": "Bob B.", "responseStatus": "accepted",
               "comment": "See you there", "additionalGuests": 1, "id": "1234567890"}),
        "Google's address case, answer, note, plus-one and fields we do not model"
    );
}

fn meeting_fields(attendees: &[&str]) -> Owned {
    let mut fields = timed("Review", 14);
    fields.attendees = addresses(attendees);
    fields
}

const MEETING: Uuid = Uuid::from_u128(0xA7);

fn exported_link(base: &Owned) -> Link {
    Link {
        kind: LinkKind::Exported,
        crm_id: MEETING,
        calendar_id: EXPORT.into(),
        remote_id: event_id_for(MEETING),
        remote_etag: Some("\"e1\"".into()),
        hash: base.hash(),
        snapshot: Some(base.clone()),
        series_id: None,
        writable: false,
    }
}

/// The `UpdateRemote` of a decision: (if_match, patch, attendees to merge).
fn update(actions: &[Action]) -> (Option<String>, Event, Option<WantedAttendees>) {
    match actions {
        [Action::UpdateRemote {
            if_match,
            patch,
            attendees,
            ..
        }] => (if_match.clone(), patch.clone(), attendees.clone()),
        other => panic!("one UpdateRemote expected: {other:#?}"),
    }
}

#[test]
fn a_crm_only_attendee_edit_leaves_the_list_to_the_executor_and_other_edits_do_not() {
    let base = meeting_fields(&["ann@ourco.com", "bob@theirco.com", "carol@theirco.com"]);
    let link = exported_link(&base);
    let names = BTreeMap::from([
        ("dave@theirco.com".to_string(), "Dave D.".to_string()),
        ("zed@elsewhere.com".to_string(), "Not invited".to_string()),
    ]);
    let crm = meeting_fields(&["ann@ourco.com", "bob@theirco.com", "dave@theirco.com"]);
    let decide = |crm: &Owned, remote: &RemoteSide| {
        decide_meeting(
            MEETING,
            &CrmSide::Changed(crm.clone()),
            remote,
            Some(&link),
            Some(EXPORT),
            &names,
        )
    };

    // Google unchanged (not listed): no list in the patch, the executor reads and merges.
    let (if_match, patch, wanted) = update(&decide(&crm, &RemoteSide::Unchanged));
    assert_eq!(if_match.as_deref(), Some("\"e1\""));
    assert_eq!(patch.attendees, None, "never a list rebuilt from addresses");
    let wanted = wanted.expect("the executor must read the event first");
    assert_eq!(wanted.addresses, crm.attendees);
    assert_eq!(
        wanted.names,
        BTreeMap::from([("dave@theirco.com".to_string(), "Dave D.".to_string())]),
        "only the names of the addresses sent"
    );

    // Listed in this run (Bob answered: a new etag, the same owned fields): merged now.
    let mut event = google_event(&event_id_for(MEETING), &base);
    event.etag = Some("\"e2\"".into());
    event.attendees = Some(entries(json!([
        {"email": "ann@ourco.com", "organizer": true, "self": true, "responseStatus": "accepted"},
        {"email": "bob@theirco.com", "responseStatus": "accepted"},
        {"email": "carol@theirco.com", "responseStatus": "declined"},
    ])));
    let listed = RemoteSide::Changed(Box::new(RemoteEvent {
        calendar_id: EXPORT.into(),
        event: event.clone(),
        owned: base.clone(),
    }));
    let (if_match, patch, wanted) = update(&decide(&crm, &listed));
    assert_eq!(if_match.as_deref(), Some("\"e2\""));
    assert_eq!(wanted, None, "no extra read");
    let sent = patch.attendees.expect("the merged list");
    assert_eq!(
        emails(&sent),
        ["ann@ourco.com", "bob@theirco.com", "dave@theirco.com"]
    );
    assert_eq!(sent[0], event.attendees.as_ref().unwrap()[0]);
    assert_eq!(sent[1].response_status.as_deref(), Some("accepted"));
    assert_eq!(sent[2].display_name.as_deref(), Some("Dave D."));

    // A CRM-only edit that leaves the attendees alone costs no read.
    let retitled = Owned {
        title: "Review v2".into(),
        ..base.clone()
    };
    let (_, patch, wanted) = update(&decide(&retitled, &RemoteSide::Unchanged));
    assert_eq!((patch.attendees, wanted), (None, None));
    assert_eq!(patch.summary.as_deref(), Some("Review v2"));
}

/// The list sent for [`answered`]'s event when the CRM wants Ann, Bob and Dave: the
/// organiser, Bob as he was (his answer goes back), the room, and Dave new.
#[track_caller]
fn assert_sent_to_answered(sent: &[EventAttendee]) {
    assert_eq!(
        emails(sent),
        [
            "ann@ourco.com",
            "Bob@TheirCo.com",
            "room-4@resource.calendar.google.com",
            "dave@theirco.com"
        ]
    );
    assert_eq!(sent[1], answered()[1], "Bob's answer goes back as it was");
}

#[test]
fn the_read_before_the_patch_merges_when_unchanged_and_replans_otherwise() {
    let wanted = WantedAttendees {
        addresses: addresses(&["ann@ourco.com", "bob@theirco.com", "dave@theirco.com"]),
        names: BTreeMap::new(),
    };
    let patch = Event {
        summary: Some("Review v2".into()),
        ..Event::default()
    };
    let current = Event {
        id: Some("ev1".into()),
        etag: Some("\"e1\"".into()),
        attendees: Some(answered()),
        ..Event::default()
    };
    let merged = patch_with_attendees(&patch, Some("\"e1\""), &wanted, &current)
        .expect("the version the plan saw");
    assert_eq!(
        merged.summary.as_deref(),
        Some("Review v2"),
        "the rest as planned"
    );
    assert_sent_to_answered(&merged.attendees.unwrap());

    // Changed since the plan: its patch may undo what it never saw; plan again instead.
    assert_eq!(
        patch_with_attendees(&patch, Some("\"e0\""), &wanted, &current),
        None
    );
    // No If-Match to compare: cannot tell, so plan again (with the event read).
    assert_eq!(patch_with_attendees(&patch, None, &wanted, &current), None);
    // Deleted meanwhile (a delete is a new etag too, but never patch a cancelled event).
    let cancelled = Event {
        status: Some(EventStatus::Cancelled),
        ..current.clone()
    };
    assert_eq!(
        patch_with_attendees(&patch, Some("\"e1\""), &wanted, &cancelled),
        None
    );
}

#[test]
fn reviving_a_cancelled_event_keeps_the_answers_of_the_guests_still_wanted() {
    let fields = meeting_fields(&["ann@ourco.com", "bob@theirco.com", "dave@theirco.com"]);
    let names = BTreeMap::from([("dave@theirco.com".to_string(), "Dave D.".to_string())]);
    let body = fields.insert_body(MEETING, &names);
    let mut existing = body.clone();
    existing.status = Some(EventStatus::Cancelled);
    existing.etag = Some("\"e9\"".into());
    existing.attendees = Some(answered());
    let InsertConflict::Revive { patch, if_match } = on_insert_conflict(MEETING, &existing, &body)
    else {
        panic!("ours, cancelled: revived")
    };
    assert_eq!(if_match.as_deref(), Some("\"e9\""));
    let sent = patch.attendees.unwrap();
    assert_sent_to_answered(&sent);
    assert_eq!(sent[3].display_name.as_deref(), Some("Dave D."));
}

/// The guests of the meeting `id`'s event answer in Google.
fn answer(w: &mut World, id: Uuid, answers: &[(&str, &str)]) {
    w.google.edit(EXPORT, &event_id_for(id), |e| {
        for entry in e.attendees.iter_mut().flatten() {
            if let Some((_, status)) = answers
                .iter()
                .find(|(email, _)| entry.email.as_deref() == Some(*email))
            {
                entry.response_status = Some(status.to_string());
            }
        }
    });
}

fn status_of<'a>(event: &'a Event, email: &str) -> Option<&'a str> {
    event
        .attendees
        .iter()
        .flatten()
        .find(|a| a.email.as_deref() == Some(email))
        .map(|a| a.response_status.as_deref().unwrap_or("needsAction"))
}

#[test]
fn answers_survive_a_crm_attendee_edit_read_or_listed_and_the_next_run_is_quiet() {
    for synced_answers_first in [true, false] {
        let mut w = World::new();
        let id = w.crm_create(meeting_fields(&[
            "ann@example.com",
            "bob@example.com",
            "carol@example.com",
        ]));
        w.sync().unwrap();
        answer(
            &mut w,
            id,
            &[
                ("bob@example.com", "accepted"),
                ("carol@example.com", "declined"),
            ],
        );
        if synced_answers_first {
            // The answers are seen (link refreshed): the CRM edit is then CRM-only.
            w.sync().unwrap();
        }
        w.crm_put(
            id,
            meeting_fields(&["ann@example.com", "bob@example.com", "dave@example.com"]),
        );
        w.sync().unwrap();
        let event = w.google.get(EXPORT, &event_id_for(id)).unwrap();
        assert_eq!(status_of(&event, "bob@example.com"), Some("accepted"));
        assert_eq!(status_of(&event, "dave@example.com"), Some("needsAction"));
        assert_eq!(status_of(&event, "carol@example.com"), None);
        w.assert_consistent();
        let writes = w.google.next_etag;
        w.sync().unwrap();
        assert_eq!(w.google.next_etag, writes, "a quiet run writes nothing");
    }
}

#[test]
fn google_changing_the_event_between_the_plan_and_the_read_loses_nothing() {
    let mut w = World::new();
    let id = w.crm_create(meeting_fields(&["ann@example.com", "bob@example.com"]));
    w.sync().unwrap();
    w.crm_put(
        id,
        meeting_fields(&["ann@example.com", "bob@example.com", "dave@example.com"]),
    );
    let plan = w.plan().unwrap();
    // After the plan (made with Google unchanged), before its read: Bob answers and the
    // description is written in Google.
    answer(&mut w, id, &[("bob@example.com", "accepted")]);
    w.google.edit(EXPORT, &event_id_for(id), |e| {
        e.description = Some("Agenda".into())
    });
    w.apply(&plan, usize::MAX);
    assert!(
        !w.follow_ups.is_empty(),
        "the read saw another etag: the item is planned again"
    );
    w.sync().unwrap();
    let event = w.google.get(EXPORT, &event_id_for(id)).unwrap();
    assert_eq!(status_of(&event, "bob@example.com"), Some("accepted"));
    assert_eq!(status_of(&event, "dave@example.com"), Some("needsAction"));
    assert_eq!(event.description.as_deref(), Some("Agenda"));
    assert_eq!(
        w.meetings[&id].fields.description.as_deref(),
        Some("Agenda")
    );
    w.assert_consistent();
}

#[test]
fn the_organiser_the_crm_lacks_stays_in_google_quietly_and_converges_later() {
    let mut w = World::new();
    let id = w.crm_create(meeting_fields(&["ann@example.com", "bob@example.com"]));
    w.sync().unwrap();
    // Google marks the organiser's entry (as it does for the calendar's own events).
    w.google.edit(EXPORT, &event_id_for(id), |e| {
        for entry in e.attendees.iter_mut().flatten() {
            if entry.email.as_deref() == Some("ann@example.com") {
                entry.organizer = Some(true);
                entry.response_status = Some("accepted".into());
            }
        }
    });
    w.sync().unwrap();
    // The CRM drops Ann (the organiser) and adds Dave.
    w.crm_put(id, meeting_fields(&["bob@example.com", "dave@example.com"]));
    w.sync().unwrap();
    let event = w.google.get(EXPORT, &event_id_for(id)).unwrap();
    assert_eq!(status_of(&event, "ann@example.com"), Some("accepted"));
    assert!(status_of(&event, "dave@example.com").is_some());
    // Quiet: our write is an echo, and the link holds what the CRM asked for.
    let writes = w.google.next_etag;
    w.sync().unwrap();
    assert_eq!(w.google.next_etag, writes, "a quiet run writes nothing");
    assert_eq!(
        w.meetings[&id].fields.attendees,
        addresses(&["bob@example.com", "dave@example.com"])
    );
    // The next change in Google brings the organiser's address into the meeting, and
    // then both sides agree.
    answer(&mut w, id, &[("dave@example.com", "accepted")]);
    w.sync().unwrap();
    assert_eq!(
        w.meetings[&id].fields.attendees,
        addresses(&["ann@example.com", "bob@example.com", "dave@example.com"])
    );
    w.assert_consistent();
    let writes = w.google.next_etag;
    w.sync().unwrap();
    assert_eq!(w.google.next_etag, writes);
}
