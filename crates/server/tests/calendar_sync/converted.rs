//! Busy blocks converted into meetings: who organises the event decides whether CRM edits
//! go to Google; colleagues' invitations; a conversion during a run.

use super::*;

#[tokio::test]
async fn a_converted_block_is_a_meeting_that_follows_google() {
    let h = Harness::new().await;
    let event = h.insert(timed(
        "Customer call",
        "2026-03-02T09:00:00+01:00",
        "2026-03-02T10:00:00+01:00",
    ));
    h.synced().await;
    let block = h.blocks().await.remove(0);
    let meeting = h.convert(&block).await;
    assert_eq!(meeting["title"], "Customer call");
    assert_eq!(meeting["start_at"], "2026-03-02T08:00:00Z");
    assert!(h.blocks().await.is_empty());

    // Google's edit reaches the meeting; nothing is written to Google, no twin appears.
    h.google(
        reqwest::Method::PATCH,
        &h.event_path(event["id"].as_str().unwrap()),
        Some(json!({"summary": "Customer call (moved)"})),
    )
    .await;
    h.fake.log().clear();
    h.synced().await;
    assert_eq!(
        h.get_meeting(meeting["id"].as_str().unwrap()).await["title"],
        "Customer call (moved)"
    );
    assert!(h.blocks().await.is_empty());
    assert_eq!(h.live_events().len(), 1);
    assert_eq!(h.count("PATCH", EVENT) + h.count("POST", EVENTS), 0);
}

/// A converted meeting whose event Ann organises is two-way: her CRM edit (a PATCH with
/// If-Match, through the API) is written to the event, and the next run finds its own
/// write as an echo and writes nothing.
#[tokio::test]
async fn a_converted_meeting_the_user_organises_sends_crm_edits_to_google() {
    let h = Harness::new().await;
    let (event, id) = h.insert_and_convert(own_event()).await;
    assert_eq!(event["organizer"]["self"], true, "{event}");
    let (event_id, id) = (event["id"].as_str().unwrap(), id.as_str());
    h.patch_meeting(
        id,
        json!({"title": "Customer call (agenda)", "location": "Room 4",
               "description": "Pricing", "start_at": "2026-03-02T10:00:00+01:00",
               "end_at": "2026-03-02T11:30:00+01:00",
               "attendees": [{"address": ANN}, {"address": "bob@theirco.com"}]}),
    )
    .await;

    h.fake.log().clear();
    let counts = h.synced().await;
    assert_eq!((counts.updated, counts.errors), (1, 0), "{counts:?}");
    assert_eq!(h.count("PATCH", EVENT), 1);
    assert_eq!(h.count("POST", EVENTS), 0, "written in place, not exported");
    let written = h.event(event_id);
    assert_eq!(written["summary"], "Customer call (agenda)");
    assert_eq!(written["location"], "Room 4");
    assert_eq!(written["description"], "Pricing");
    assert_eq!(written["start"]["dateTime"], "2026-03-02T10:00:00+01:00");
    assert_eq!(written["end"]["dateTime"], "2026-03-02T11:30:00+01:00");
    let mut guests: Vec<&str> = written["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["email"].as_str().unwrap())
        .collect();
    guests.sort();
    assert_eq!(guests, ["ann@ourco.com", "bob@theirco.com"]);
    assert_eq!(h.live_events().len(), 1);
    assert_eq!(h.get_meeting(id).await["title"], "Customer call (agenda)");

    // Quiet: our own write comes back as an echo, nothing is written on either side.
    h.fake.log().clear();
    assert_eq!(h.synced().await, RunCounts::default());
    assert_eq!(h.count("PATCH", EVENT) + h.count("POST", EVENTS), 0);
    assert_eq!(h.event(event_id)["etag"], written["etag"]);
}

/// A converted invitation (someone else organises the event) keeps Ann's CRM edit in the
/// CRM: Google is not written to, and the meeting keeps her edit.
#[tokio::test]
async fn a_converted_invitation_keeps_crm_edits_in_the_crm() {
    let h = Harness::new().await;
    let (event, id) = h.insert_and_convert(invitation()).await;
    let (event_id, id) = (event["id"].as_str().unwrap(), id.as_str());
    h.patch_meeting(id, json!({"title": "Board meeting: my notes"}))
        .await;

    h.fake.log().clear();
    let counts = h.synced().await;
    assert_eq!(counts.errors, 0, "{counts:?}");
    assert_eq!(h.count("PATCH", EVENT) + h.count("POST", EVENTS), 0);
    assert_eq!(h.event(event_id)["etag"], event["etag"], "Google untouched");
    assert_eq!(h.event(event_id)["summary"], "Board meeting");
    assert_eq!(h.get_meeting(id).await["title"], "Board meeting: my notes");
}

/// The organiser can change in Google (a new etag): the link follows what the listing
/// says. Ann becomes the organiser → her CRM version is written; someone else again → her
/// next edit stays in the CRM.
#[tokio::test]
async fn the_organiser_changing_in_google_turns_writing_on_and_off() {
    let h = Harness::new().await;
    let (event, id) = h.insert_and_convert(invitation()).await;
    let (event_id, id) = (event["id"].as_str().unwrap(), id.as_str());
    h.patch_meeting(id, json!({"description": "Agenda: budget"}))
        .await;
    h.synced().await;
    assert_eq!(h.event(event_id).get("description"), None);

    h.fake.google().set_organizer(&h.primary, event_id, ANN);
    h.fake.log().clear();
    h.synced().await;
    assert_eq!(h.count("PATCH", EVENT), 1);
    assert_eq!(h.event(event_id)["description"], "Agenda: budget");

    h.fake
        .google()
        .set_organizer(&h.primary, event_id, "boss@theirco.com");
    h.synced().await;
    h.patch_meeting(id, json!({"title": "Board meeting: my notes"}))
        .await;
    h.fake.log().clear();
    assert_eq!(h.synced().await.errors, 0);
    assert_eq!(h.count("PATCH", EVENT), 0);
    assert_eq!(h.event(event_id)["summary"], "Board meeting");
}

/// Google refuses the PATCH of a converted meeting's event (403 forbiddenForNonOrganizer,
/// as when the organiser changed meanwhile): the run goes on (another meeting is still
/// exported), the error is counted, and later runs do not try the PATCH again.
#[tokio::test]
async fn a_403_on_a_converted_meetings_patch_is_counted_and_not_tried_again() {
    let h = Harness::new().await;
    let (event, id) = h.insert_and_convert(own_event()).await;
    let (event_id, id) = (event["id"].as_str().unwrap(), id.as_str());
    h.patch_meeting(id, json!({"title": "Customer call (agenda)"}))
        .await;
    let other = h
        .meeting(
            "Kick-off",
            "2026-03-04T14:00:00+01:00",
            "2026-03-04T15:00:00+01:00",
        )
        .await;
    let refused = h.fake.faults().inject(
        FaultRule::new(Fault::Google(GoogleFault::ForbiddenForNonOrganizer))
            .on("PATCH", "/calendar/v3/calendars/*/events/*")
            .times(Times::Always),
    );

    h.fake.log().clear();
    let counts = h.sync().await.expect("the run goes on");
    assert_eq!((counts.errors, counts.created), (1, 1), "{counts:?}");
    assert_eq!(h.fake.faults().fired(refused), 1, "not retried");
    assert!(h
        .fake
        .google()
        .event(&h.primary, &event_id_of(&other))
        .is_some());

    h.fake.log().clear();
    let counts = h.synced().await;
    assert_eq!(counts.errors, 0, "{counts:?}");
    assert_eq!(h.count("PATCH", EVENT), 0);
    assert_eq!(h.fake.faults().fired(refused), 1);
    assert_eq!(h.event(event_id)["summary"], "Customer call");
    assert_eq!(h.get_meeting(id).await["title"], "Customer call (agenda)");
    // And the CRM cursor, held back by the error, has moved on: all quiet.
    assert_eq!(h.synced().await, RunCounts::default());
}

/// A colleague (another Threadline user attending the same CRM meeting) exported it and
/// invited the user: Google put the invitation copy in the user's calendar under the same
/// event id, organised by the colleague, without our private property. The user's sync
/// links it as a converted meeting, not writable: no second event, no busy block, no
/// write to the colleague's event when the user edits or deletes the meeting in the CRM
/// (the CRM's changes go out through the organiser's export), and no error.
#[tokio::test]
async fn a_colleagues_invitation_holding_the_meetings_id_is_linked_never_rewritten() {
    let h = Harness::new().await;
    let meeting = h
        .meeting(
            "Team sync",
            "2026-03-10T09:00:00+01:00",
            "2026-03-10T10:00:00+01:00",
        )
        .await;
    let id = meeting["id"].as_str().unwrap();
    let event_id = event_id_of(&meeting);
    let mut copy = timed(
        "Team sync",
        "2026-03-10T09:00:00+01:00",
        "2026-03-10T10:00:00+01:00",
    );
    copy["id"] = json!(event_id);
    copy["organizer"] = json!({"email": "bob@ourco.com", "displayName": "Bob"});
    copy["attendees"] = json!([{"email": "bob@ourco.com", "organizer": true},
                               {"email": ANN, "responseStatus": "accepted"}]);
    let copy = h.insert(copy);
    assert_eq!(
        copy["organizer"]["self"],
        Value::Null,
        "an invitation: not organised here"
    );

    let counts = h.synced().await;
    assert_eq!(counts.errors, 0, "{counts:?}");
    let writes = |h: &Harness| {
        h.count("POST", EVENTS)
            + h.count("PATCH", EVENT)
            + h.count("PUT", EVENT)
            + h.count("DELETE", EVENT)
    };
    assert_eq!(writes(&h), 0, "the copy is adopted, not inserted over");
    assert_eq!(h.live_events().len(), 1);
    assert!(
        h.blocks().await.is_empty(),
        "the meeting is not also a busy block"
    );
    assert_eq!(h.link_kinds("crm_id", id).await, ["converted"]);

    h.patch_meeting(id, json!({"title": "Team sync (agenda)"}))
        .await;
    let counts = h.synced().await;
    assert_eq!(counts.errors, 0, "{counts:?}");
    assert_eq!(writes(&h), 0, "the colleague's event is not rewritten");
    assert_eq!(h.get_meeting(id).await["title"], "Team sync (agenda)");
    let (_, connection) = h
        .api(
            Method::GET,
            &format!("/connections/{}", h.connection),
            None,
            None,
        )
        .await;
    assert_eq!(connection["status"], "ok", "{connection}");

    h.delete_meeting(id).await;
    let counts = h.synced().await;
    assert_eq!(counts.errors, 0, "{counts:?}");
    assert_eq!(writes(&h), 0, "nor deleted");
    assert_eq!(
        h.live_events(),
        [h.fake.google().event(&h.primary, &event_id).unwrap()]
    );
}

/// A block converted while a run is under way (after the run read the links, before it
/// committed): the run had planned that event as a block (it changed in Google), but the
/// meeting stands — the run neither brings the block back nor replaces the meeting's link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_converted_during_a_run_stays_a_meeting() {
    let h = Harness::new().await;
    let event = h.insert(timed(
        "Workshop",
        "2026-03-11T09:00:00+01:00",
        "2026-03-11T10:00:00+01:00",
    ));
    let event_id = event["id"].as_str().unwrap().to_string();
    h.synced().await;
    let block = h.blocks().await[0]["id"].as_str().unwrap().to_string();

    // The next run sees the event changed (a block update) and has a meeting to export,
    // whose insert is held at Google: the conversion happens meanwhile.
    h.google(
        reqwest::Method::PATCH,
        &h.event_path(&event_id),
        Some(json!({"location": "Room 3"})),
    )
    .await;
    h.meeting(
        "Export me",
        "2026-03-12T09:00:00+01:00",
        "2026-03-12T10:00:00+01:00",
    )
    .await;
    let held = h.fake.faults().inject(
        FaultRule::new(Fault::Delay(Duration::from_millis(1000)))
            .on("POST", "/calendar/v3/calendars/*/events")
            .times(Times::Once),
    );
    let sync = h.state.integration::<GoogleCalendar>().unwrap().shared();
    let connection = h.connection;
    let run = tokio::spawn(async move { sync.run(connection, RunOptions::default()).await });
    h.until_fired(held, "the run is under way").await;
    let (status, meeting) = h
        .api(
            Method::POST,
            &format!("/busy-blocks/{block}/convert"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{meeting}");
    run.await.unwrap().expect("the run");

    let meeting_id = meeting["id"].as_str().unwrap();
    assert!(h.blocks().await.is_empty(), "no block came back");
    assert_eq!(h.link_kinds("remote_id", &event_id).await, ["converted"]);
    assert_eq!(h.link_kinds("crm_id", meeting_id).await, ["converted"]);
    // And the next run takes Google's change into the meeting, as for any converted one.
    h.synced().await;
    assert_eq!(h.get_meeting(meeting_id).await["location"], "Room 3");
    assert!(h.blocks().await.is_empty());
}
