//! Both ways: imports, exports, edits, deletes and merges, all-day and time zones, the
//! calendar selection, private events, adopting what is already there.

use super::*;

#[tokio::test]
async fn first_import_then_export_then_a_quiet_run_costs_one_request_per_calendar() {
    let h = Harness::new().await;
    h.insert(timed(
        "Dentist",
        "2026-03-02T09:00:00+01:00",
        "2026-03-02T10:00:00+01:00",
    ));
    let meeting = h
        .meeting(
            "Kick-off",
            "2026-03-03T14:00:00+01:00",
            "2026-03-03T15:00:00+01:00",
        )
        .await;

    let counts = h.synced().await;
    assert_eq!(counts.created, 2, "{counts:?}"); // the block and the exported event
    let blocks = h.blocks().await;
    assert_eq!(
        blocks.len(),
        1,
        "our own event is never a block too: {blocks:?}"
    );
    assert_eq!(blocks[0]["title"], "Dentist");
    assert_eq!(blocks[0]["start_at"], "2026-03-02T08:00:00Z");

    let event = h
        .fake
        .google()
        .event(&h.primary, &event_id_of(&meeting))
        .expect("exported");
    assert_eq!(event["summary"], "Kick-off");
    assert_eq!(
        event["extendedProperties"]["private"]["threadlineMeetingId"],
        meeting["id"]
    );

    // Echo suppression: nothing changed, so one events.list (the calendar is both the
    // imported and the export one) and no other request.
    h.fake.log().clear();
    let counts = h.synced().await;
    assert_eq!(counts, RunCounts::default());
    assert_eq!(h.fake.log().total(), 1, "{:?}", h.fake.log().requests());
    assert_eq!(h.count("GET", EVENTS), 1);
}

#[tokio::test]
async fn edits_and_deletes_flow_both_ways() {
    let h = Harness::new().await;
    let a = h
        .meeting(
            "Plan",
            "2026-03-03T14:00:00+01:00",
            "2026-03-03T15:00:00+01:00",
        )
        .await;
    let b = h
        .meeting(
            "Review",
            "2026-03-04T14:00:00+01:00",
            "2026-03-04T15:00:00+01:00",
        )
        .await;
    let c = h
        .meeting(
            "Retro",
            "2026-03-05T14:00:00+01:00",
            "2026-03-05T15:00:00+01:00",
        )
        .await;
    let d = h
        .meeting(
            "Demo",
            "2026-03-06T14:00:00+01:00",
            "2026-03-06T15:00:00+01:00",
        )
        .await;
    h.synced().await;

    // CRM edit → Google; Google edit → CRM.
    h.patch_meeting(a["id"].as_str().unwrap(), json!({"title": "Plan v2"}))
        .await;
    h.google(
        reqwest::Method::PATCH,
        &h.event_path(&event_id_of(&b)),
        Some(json!({"location": "Room 4"})),
    )
    .await;
    // CRM delete → Google; Google delete → CRM.
    h.delete_meeting(c["id"].as_str().unwrap()).await;
    h.google(
        reqwest::Method::DELETE,
        &h.event_path(&event_id_of(&d)),
        None,
    )
    .await;

    let counts = h.synced().await;
    assert_eq!(counts.errors, 0, "{counts:?}");
    let event_a = h.fake.google().event(&h.primary, &event_id_of(&a)).unwrap();
    assert_eq!(event_a["summary"], "Plan v2");
    assert_eq!(
        h.get_meeting(b["id"].as_str().unwrap()).await["location"],
        "Room 4"
    );
    let event_c = h.fake.google().event(&h.primary, &event_id_of(&c)).unwrap();
    assert_eq!(event_c["status"], "cancelled");
    assert!(h.get_meeting(d["id"].as_str().unwrap()).await["deleted_at"].is_string());

    // And then it is quiet: one listing.
    h.fake.log().clear();
    assert_eq!(h.synced().await, RunCounts::default());
    assert_eq!(h.fake.log().total(), 1);
}

#[tokio::test]
async fn an_edit_beats_a_delete_on_either_side() {
    let h = Harness::new().await;
    let a = h
        .meeting(
            "Edited in CRM",
            "2026-03-03T14:00:00+01:00",
            "2026-03-03T15:00:00+01:00",
        )
        .await;
    let b = h
        .meeting(
            "Edited in Google",
            "2026-03-04T14:00:00+01:00",
            "2026-03-04T15:00:00+01:00",
        )
        .await;
    h.synced().await;
    // a: edited in the CRM, deleted in Google → the event comes back.
    h.patch_meeting(a["id"].as_str().unwrap(), json!({"title": "Still on"}))
        .await;
    h.google(
        reqwest::Method::DELETE,
        &h.event_path(&event_id_of(&a)),
        None,
    )
    .await;
    // b: edited in Google, deleted in the CRM → the meeting comes back.
    h.google(
        reqwest::Method::PATCH,
        &h.event_path(&event_id_of(&b)),
        Some(json!({"summary": "Moved on"})),
    )
    .await;
    h.delete_meeting(b["id"].as_str().unwrap()).await;

    h.fake.log().clear();
    h.synced().await;
    let event_a = h.fake.google().event(&h.primary, &event_id_of(&a)).unwrap();
    assert_eq!(event_a["status"], "confirmed", "{event_a}");
    assert_eq!(event_a["summary"], "Still on");
    // Revived, not re-made: Google keeps a deleted event's id, so the insert answers 409
    // and the cancelled event is patched back to confirmed under its id.
    assert_eq!(h.answers("POST", EVENTS), [Some(409)]);
    assert_eq!(h.statuses_of("PATCH", &event_id_of(&a)), [Some(200)]);
    assert_eq!(h.live_events().len(), 2, "no second event for a");
    let meeting_b = h.get_meeting(b["id"].as_str().unwrap()).await;
    assert!(meeting_b["deleted_at"].is_null(), "{meeting_b}");
    assert_eq!(meeting_b["title"], "Moved on");
}

#[tokio::test]
async fn all_day_ends_are_exclusive_both_ways() {
    let h = Harness::new().await;
    h.insert(json!({"summary": "Holiday", "start": {"date": "2026-03-02"}, "end": {"date": "2026-03-03"}}));
    let (status, meeting) = h
        .api(
            Method::POST,
            "/meetings",
            Some(
                json!({"title": "Offsite", "all_day": true, "start_date": "2026-03-05",
                "end_date": "2026-03-07", "attendees": [{"address": ANN}]}),
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    h.synced().await;
    let blocks = h.blocks().await;
    assert_eq!(blocks[0]["start_date"], "2026-03-02");
    assert_eq!(blocks[0]["end_date"], "2026-03-03");
    let event = h
        .fake
        .google()
        .event(&h.primary, &event_id_of(&meeting))
        .unwrap();
    assert_eq!(event["start"]["date"], "2026-03-05");
    assert_eq!(event["end"]["date"], "2026-03-07");
}

#[tokio::test]
async fn selection_changes_remove_blocks_and_reselecting_makes_no_duplicates() {
    let h = Harness::without_selection().await;
    let work = h.fake.google().add_calendar(ANN, "Work", "Europe/Brussels");
    h.fake
        .google()
        .insert_event(
            &work,
            timed(
                "Work thing",
                "2026-03-02T09:00:00+01:00",
                "2026-03-02T10:00:00+01:00",
            ),
        )
        .unwrap();
    h.insert(timed(
        "Home thing",
        "2026-03-02T19:00:00+01:00",
        "2026-03-02T20:00:00+01:00",
    ));

    let (status, list) = h
        .api(
            Method::GET,
            &format!("/connections/{}/calendars", h.connection),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert!(list["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["can_export"] == true));

    let primary = h.primary.clone();
    h.select(&[&primary, &work], Some(&primary)).await;
    h.synced().await;
    let before = h.blocks().await;
    assert_eq!(before.len(), 2);

    // Deselect Work: its block goes at once.
    h.select(&[&primary], Some(&primary)).await;
    let now = h.blocks().await;
    assert_eq!(now.len(), 1);
    assert_eq!(now[0]["title"], "Home thing");
    h.synced().await;

    // Select it again: the same block (same id), not a second one.
    h.select(&[&primary, &work], Some(&primary)).await;
    h.synced().await;
    let after = h.blocks().await;
    assert_eq!(after.len(), 2);
    let ids = |v: &[Value]| v.iter().map(|b| b["id"].clone()).collect::<Vec<_>>();
    assert_eq!(ids(&before), ids(&after));

    // An unknown calendar is refused, naming the field.
    let (status, body) = h
        .api(
            Method::PUT,
            &format!("/connections/{}/calendar-selection", h.connection),
            Some(json!({"import": [primary, "nope@example.com"], "export": null})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "import[1]");
}

/// The event changes in Google between the run's listing and its update: the update's
/// If-Match is stale (412), so the run reads the event again, merges both sides' changes
/// field by field (the CRM's title, Google's description) and writes again.
#[tokio::test]
async fn a_stale_update_is_412_then_merged_and_written_again() {
    let h = Harness::new().await;
    let meeting = h
        .meeting(
            "Kick-off",
            "2026-03-03T14:00:00+01:00",
            "2026-03-03T15:00:00+01:00",
        )
        .await;
    h.synced().await;
    let id = meeting["id"].as_str().unwrap().to_string();
    h.patch_meeting(&id, json!({ "title": "Kick-off v2" }))
        .await;

    // Hold the run's PATCH at the fake; meanwhile someone edits the event in Google.
    let held = h.fake.faults().inject(
        FaultRule::new(Fault::Delay(Duration::from_secs(2)))
            .on("PATCH", "/calendar/v3/calendars/*/events/*")
            .times(Times::Once),
    );
    let edit_in_google = async {
        h.until_fired(held, "the run's PATCH is held").await;
        h.google(
            reqwest::Method::PATCH,
            &h.event_path(&event_id_of(&meeting)),
            Some(json!({ "description": "Agenda: budget" })),
        )
        .await
    };
    let (run, _) = tokio::join!(h.sync(), edit_in_google);
    let counts = run.expect("the run succeeds after the 412");

    let patches = h.answers("PATCH", EVENT);
    assert!(
        patches.contains(&Some(412)),
        "a stale If-Match was refused: {patches:?}"
    );
    assert!(h.count("GET", EVENT) >= 1, "the event was read again");
    let event = h
        .fake
        .google()
        .event(&h.primary, &event_id_of(&meeting))
        .unwrap();
    assert_eq!(
        event["summary"], "Kick-off v2",
        "the CRM's change is in Google"
    );
    assert_eq!(
        event["description"], "Agenda: budget",
        "Google's change is kept"
    );
    assert!(counts.updated >= 1, "{counts:?}");

    // Google's description reaches the CRM, and then all is quiet.
    h.synced().await;
    let stored = h.get_meeting(&id).await;
    assert_eq!(stored["title"], "Kick-off v2");
    assert_eq!(stored["description"], "Agenda: budget");
    assert_eq!(h.synced().await, RunCounts::default());
}

/// An event its owner marked private (or confidential) in Google is a busy block with its
/// time only: no title, place, description or attendees are stored, and an edit of them in
/// Google does not bring them in.
#[tokio::test]
async fn a_private_event_is_a_block_with_its_time_only() {
    let h = Harness::new().await;
    for (visibility, title) in [("private", "Therapy"), ("confidential", "Layoffs")] {
        let mut body = timed(
            title,
            "2026-03-02T09:00:00+01:00",
            "2026-03-02T10:00:00+01:00",
        );
        body["visibility"] = json!(visibility);
        body["location"] = json!("Room 4");
        body["description"] = json!("Do not share");
        body["attendees"] = json!([{ "email": "someone@else.example" }]);
        h.insert(body);
    }
    h.synced().await;
    let blocks = h.blocks().await;
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    for block in &blocks {
        assert_eq!(block["private"], true, "{block}");
        assert_eq!(block["start_at"], "2026-03-02T08:00:00Z");
        assert_eq!(block["end_at"], "2026-03-02T09:00:00Z");
        let text = block.to_string();
        for secret in [
            "Therapy",
            "Layoffs",
            "Room 4",
            "Do not share",
            "someone@else",
        ] {
            assert!(!text.contains(secret), "{secret:?} stored: {text}");
        }
    }
    // Nothing of it in the database either (not only hidden in the answer).
    let rows: Vec<(Option<String>, Option<String>, Option<String>)> =
        sqlx::query_as("SELECT title, location, description FROM busy_blocks")
            .fetch_all(h.state.db().pool())
            .await
            .unwrap();
    assert!(rows.iter().all(|r| *r == (None, None, None)), "{rows:?}");
}

/// A first sync where the same meetings already exist on both sides: the link table is
/// gone (the connection was made anew, or its sync state lost) while Google still holds the
/// events exported before, carrying their meeting ids. The full listing adopts them: no
/// duplicate event, no busy block for our own events, the CRM's version written where the
/// two differ (without a common base, the CRM is where exported meetings are managed).
#[tokio::test]
async fn a_first_sync_with_the_meetings_already_in_google_adopts_them() {
    let h = Harness::new().await;
    let mut meetings = Vec::new();
    for i in 0..3 {
        meetings.push(
            h.meeting(
                &format!("Adopt {i}"),
                "2026-03-05T09:00:00+01:00",
                "2026-03-05T10:00:00+01:00",
            )
            .await,
        );
    }
    h.synced().await;
    assert_eq!(h.live_events().len(), 3);
    let pool = h.state.db().pool();
    for table in ["calendar_links", "calendar_cursors"] {
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(pool)
            .await
            .unwrap();
    }
    sqlx::query("UPDATE calendar_settings SET crm_cursor = 0")
        .execute(pool)
        .await
        .unwrap();
    let first = meetings[0]["id"].as_str().unwrap();
    h.patch_meeting(first, json!({"title": "Adopt 0, renamed in the CRM"}))
        .await;
    let inserts = h.count("POST", EVENTS);

    h.synced().await;
    assert_eq!(h.count("POST", EVENTS), inserts, "no insert: adopted");
    let events = h.live_events();
    assert_eq!(events.len(), 3, "no duplicate: {events:#?}");
    assert!(
        h.blocks().await.is_empty(),
        "our own events are not busy blocks"
    );
    assert_eq!(h.links().await, 3);
    let renamed = events
        .iter()
        .find(|e| e["id"] == event_id_of(&meetings[0]))
        .unwrap();
    assert_eq!(renamed["summary"], "Adopt 0, renamed in the CRM");
    // Linked again: a quiet run writes nothing.
    let writes = h.count("POST", EVENTS) + h.count("PATCH", EVENT);
    h.synced().await;
    assert_eq!(h.count("POST", EVENTS) + h.count("PATCH", EVENT), writes);
}

/// Time zones both ways: an event in another zone than its calendar keeps its own zone and
/// instant as a block; a meeting just after the spring-forward gap (Brussels, 29 March 2026,
/// 02:00 → 03:00) is written at the right instant with its zone and read back equal (the
/// next run writes nothing); moved in Google to the hour before the jump, given in UTC, it
/// comes back at that instant, its zone kept.
#[tokio::test]
async fn time_zones_and_the_dst_gap_keep_their_instants_both_ways() {
    let h = Harness::new().await;
    h.insert(json!({"summary": "New York call",
        "start": {"dateTime": "2026-03-28T21:30:00-04:00", "timeZone": "America/New_York"},
        "end": {"dateTime": "2026-03-28T22:30:00-04:00", "timeZone": "America/New_York"}}));
    let meeting = h
        .meeting(
            "After the jump",
            "2026-03-29T03:30:00+02:00",
            "2026-03-29T04:30:00+02:00",
        )
        .await;
    h.synced().await;

    let blocks = h.blocks().await;
    assert_eq!(blocks.len(), 1, "{blocks:#?}");
    assert_eq!(blocks[0]["time_zone"], "America/New_York");
    assert_eq!(blocks[0]["start_at"], "2026-03-29T01:30:00Z");
    assert_eq!(blocks[0]["end_at"], "2026-03-29T02:30:00Z");

    let event = h
        .fake
        .google()
        .event(&h.primary, &event_id_of(&meeting))
        .expect("exported");
    assert_eq!(event["start"]["timeZone"], "Europe/Brussels");
    let start =
        chrono::DateTime::parse_from_rfc3339(event["start"]["dateTime"].as_str().unwrap()).unwrap();
    assert_eq!(
        start.with_timezone(&chrono::Utc).to_rfc3339(),
        "2026-03-29T01:30:00+00:00"
    );
    let writes = h.count("POST", EVENTS) + h.count("PATCH", EVENT);
    h.synced().await;
    assert_eq!(
        h.count("POST", EVENTS) + h.count("PATCH", EVENT),
        writes,
        "read back equal"
    );

    // Moved in Google to the hour before the jump, given as a UTC instant.
    h.google(
        reqwest::Method::PATCH,
        &h.event_path(&event_id_of(&meeting)),
        Some(
            json!({"start": {"dateTime": "2026-03-29T00:30:00Z", "timeZone": "Europe/Brussels"},
                    "end": {"dateTime": "2026-03-29T01:30:00Z", "timeZone": "Europe/Brussels"}}),
        ),
    )
    .await;
    h.synced().await;
    let moved = h.get_meeting(meeting["id"].as_str().unwrap()).await;
    let at = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(moved[field].as_str().unwrap())
            .unwrap()
            .with_timezone(&chrono::Utc)
            .to_rfc3339()
    };
    assert_eq!(at("start_at"), "2026-03-29T00:30:00+00:00", "{moved}");
    assert_eq!(at("end_at"), "2026-03-29T01:30:00+00:00", "{moved}");
    assert_eq!(moved["time_zone"], "Europe/Brussels");
}
