//! Guests' answers kept when the CRM changes a meeting's attendees.

use super::*;

/// An exported meeting with guests Bob and Carol: Bob accepts, Carol declines in Google,
/// and the run sees it. Then the CRM adds Dave and removes Carol, with Google unchanged
/// (not listed): the run reads the event before its PATCH and merges into its entries, so
/// Bob is still `accepted`, Dave `needsAction`, Carol gone, Ann's organiser entry intact
/// (Google's PATCH replaces the whole list: a list rebuilt from addresses would have reset
/// every answer). A quiet run after writes nothing.
#[tokio::test]
async fn a_crm_attendee_change_keeps_the_guests_answers_of_an_exported_meeting() {
    let h = Harness::new().await;
    let (id, event_id) = h.exported_meeting_with(&[ANN, BOB, CAROL]).await;
    let id = id.as_str();
    let answered = h.answer(
        &event_id,
        &[(ANN, "accepted"), (BOB, "accepted"), (CAROL, "declined")],
    );
    h.fake.log().clear();
    let counts = h.synced().await;
    assert_eq!(counts, RunCounts::default(), "answers are not CRM fields");
    assert_eq!(h.count("PATCH", EVENT), 0);

    h.set_attendees(id, &[ANN, BOB, DAVE]).await;
    h.fake.log().clear();
    let counts = h.synced().await;
    assert_eq!((counts.updated, counts.errors), (1, 0), "{counts:?}");
    assert_eq!(
        h.answers("GET", EVENT),
        [Some(200)],
        "read before the PATCH"
    );
    assert_eq!(
        h.answers("PATCH", EVENT),
        [Some(200)],
        "under the same If-Match"
    );
    h.assert_answers_kept(&event_id, &answered);

    h.assert_quiet().await;
}

/// The same for a converted meeting Ann organises (writable), with the answers and the
/// CRM's change in one run: the listing has the event, so the plan merges and no GET is
/// made. The CRM also drops Ann, the organiser: her entry stays (the CRM does not decide
/// whether the organiser attends), and so does the room (resources are not the CRM's).
#[tokio::test]
async fn a_crm_attendee_change_keeps_the_guests_answers_of_a_converted_meeting() {
    let h = Harness::new().await;
    let mut event = own_event();
    event["attendees"] = json!([
        {"email": ANN}, {"email": BOB}, {"email": CAROL},
        {"email": "room-4@resource.calendar.google.com", "resource": true,
         "displayName": "Room 4", "responseStatus": "accepted"},
    ]);
    let (event, id) = h.insert_and_convert(event).await;
    let (event_id, id) = (event["id"].as_str().unwrap(), id.as_str());
    assert_eq!(guest(&event, ANN).unwrap()["organizer"], true, "{event}");
    let answered = h.answer(
        event_id,
        &[(ANN, "accepted"), (BOB, "accepted"), (CAROL, "declined")],
    );
    h.set_attendees(id, &[BOB, DAVE]).await;

    h.fake.log().clear();
    let counts = h.synced().await;
    assert_eq!((counts.updated, counts.errors), (1, 0), "{counts:?}");
    assert_eq!(h.count("GET", EVENT), 0, "the listing had the event");
    assert_eq!(h.answers("PATCH", EVENT), [Some(200)]);
    h.assert_answers_kept(event_id, &answered);
    let room = "room-4@resource.calendar.google.com";
    assert_eq!(guest(&h.event(event_id), room), guest(&answered, room));
    let crm: Vec<Value> = h.get_meeting(id).await["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["address"].clone())
        .collect();
    assert_eq!(crm, [json!(BOB), json!(DAVE)], "the CRM keeps its own list");

    h.assert_quiet().await;
}

/// The race: the CRM adds Dave (Google unchanged when planned), and Google changes the
/// event between the plan and the run's read (Bob accepts, a description is written). The
/// read sees another etag than the plan's If-Match and plans the item again with what it
/// read, as after a 412: one PATCH, never refused, and nothing lost on either side.
#[tokio::test]
async fn google_changing_the_event_between_the_plan_and_the_read_loses_nothing() {
    let h = Harness::new().await;
    let (id, event_id) = h.exported_meeting_with(&[ANN, BOB]).await;
    let id = id.as_str();
    h.set_attendees(id, &[ANN, BOB, DAVE]).await;

    // Hold the run's read of the event; meanwhile Bob answers and the event is edited.
    let held = h.fake.faults().inject(
        FaultRule::new(Fault::Delay(Duration::from_secs(2)))
            .on("GET", "/calendar/v3/calendars/*/events/*")
            .times(Times::Once),
    );
    let change_in_google = async {
        // The held read is the moment between the plan and the PATCH (none: a failure).
        h.until_fired(held, "the run read the event before its PATCH")
            .await;
        h.answer(&event_id, &[(BOB, "accepted")]);
        h.google(
            reqwest::Method::PATCH,
            &h.event_path(&event_id),
            Some(json!({ "description": "Agenda: budget" })),
        )
        .await
    };
    h.fake.log().clear();
    let (run, _) = tokio::join!(h.sync(), change_in_google);
    let counts = run.expect("the run succeeds");
    assert_eq!(counts.errors, 0, "{counts:?}");
    assert_eq!(
        h.answers("PATCH", EVENT),
        [Some(200), Some(200)],
        "Google's edit, then ours: planned again after the read, not refused"
    );
    assert_eq!(
        h.count("GET", EVENT),
        1,
        "the event read is the one planned with"
    );

    let event = h.event(&event_id);
    assert_eq!(guest(&event, BOB).unwrap()["responseStatus"], "accepted");
    assert_eq!(
        guest(&event, DAVE).unwrap()["responseStatus"],
        "needsAction"
    );
    assert_eq!(event["description"], "Agenda: budget", "Google's edit kept");
    assert_eq!(h.get_meeting(id).await["description"], "Agenda: budget");

    h.assert_quiet().await;
}
