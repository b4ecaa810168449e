//! Recurring events: a series with exceptions, converting one occurrence, converted
//! instances following their series.

use super::*;

#[tokio::test]
async fn a_series_with_a_moved_and_a_cancelled_instance_is_one_block_and_two_exceptions() {
    let h = Harness::new().await;
    let master = h.insert(json!({
        "summary": "Standup",
        "start": {"dateTime": "2026-03-02T09:00:00", "timeZone": "Europe/Brussels"},
        "end": {"dateTime": "2026-03-02T09:15:00", "timeZone": "Europe/Brussels"},
        "recurrence": ["RRULE:FREQ=DAILY;COUNT=5"]
    }));
    let id = master["id"].as_str().unwrap();
    h.synced().await;
    // Move the second instance, cancel the third (instance ids are Google's).
    h.google(
        reqwest::Method::PATCH,
        &h.event_path(&format!("{id}_20260303T080000Z")),
        Some(json!({"start": {"dateTime": "2026-03-03T11:00:00+01:00"},
                    "end": {"dateTime": "2026-03-03T11:15:00+01:00"}})),
    )
    .await;
    let _ = h
        .http
        .delete(format!(
            "{}/calendar/v3{}",
            h.fake.base_url(),
            h.event_path(&format!("{id}_20260304T080000Z"))
        ))
        .bearer_auth(&h.google_token)
        .send()
        .await
        .unwrap();
    h.synced().await;
    let blocks = h.blocks().await;
    assert_eq!(blocks.len(), 3, "{blocks:#?}");
    let series = blocks.iter().find(|b| b["event_id"] == id).unwrap();
    assert_eq!(series["recurrence"], json!(["RRULE:FREQ=DAILY;COUNT=5"]));
    let moved = blocks
        .iter()
        .find(|b| b["event_id"] == format!("{id}_20260303T080000Z"))
        .unwrap();
    assert_eq!(moved["series_id"], id);
    assert_eq!(moved["start_at"], "2026-03-03T10:00:00Z");
    assert_eq!(moved["cancelled"], false);
    let cancelled = blocks
        .iter()
        .find(|b| b["event_id"] == format!("{id}_20260304T080000Z"))
        .unwrap();
    assert_eq!(cancelled["cancelled"], true);

    // Deleting the series removes its exceptions' blocks too: 3 blocks, but one item (the
    // series), so the mass-delete guard lets this ordinary delete through.
    h.google(reqwest::Method::DELETE, &h.event_path(id), None)
        .await;
    let counts = h.synced().await;
    assert_eq!(counts.deleted, 3, "{counts:?}");
    let left = h.blocks().await;
    assert!(left.is_empty(), "{left:#?}");
}

/// A weekly series of six in Google: "Weekly review", Room 1, Mondays 09:00–10:00 in
/// Brussels from 2 March 2026 (08:00Z until 23 March, 07:00Z on 30 March and 6 April,
/// summer time).
fn weekly_review() -> Value {
    json!({
        "summary": "Weekly review",
        "location": "Room 1",
        "start": {"dateTime": "2026-03-02T09:00:00", "timeZone": "Europe/Brussels"},
        "end": {"dateTime": "2026-03-02T10:00:00", "timeZone": "Europe/Brussels"},
        "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=6"]
    })
}

/// [`weekly_review`] in Google, synced (one block): its id.
async fn weekly_series(h: &Harness) -> String {
    let series = h.insert(weekly_review())["id"]
        .as_str()
        .unwrap()
        .to_string();
    h.synced().await;
    series
}

/// The series of [`weekly_review`] with the instances at `starts` (UTC id suffixes) each moved an hour later, synced:
/// the series is one block, each moved instance (an exception) one more, which is what the
/// user can convert — an instance the series has not changed has no block of its own.
/// Answers the series id and the instances' ids.
async fn series_with_moved_instances(h: &Harness, starts: &[&str]) -> (String, Vec<String>) {
    let master = h.insert(weekly_review());
    let series = master["id"].as_str().unwrap().to_string();
    let of_series = || async {
        let blocks = h.blocks().await;
        blocks
            .into_iter()
            .filter(|b| b["event_id"].as_str().unwrap().starts_with(&series))
            .count()
    };
    h.synced().await;
    assert_eq!(of_series().await, 1, "one block for the whole series");
    let mut instances = Vec::new();
    for start in starts {
        let at = chrono::NaiveDateTime::parse_from_str(start, "%Y%m%dT%H%M%SZ")
            .unwrap()
            .and_utc();
        let hour = |h: i64| (at + chrono::Duration::hours(h)).to_rfc3339();
        let id = format!("{series}_{start}");
        h.reschedule(&id, &hour(1), &hour(2)).await;
        instances.push(id);
    }
    h.synced().await;
    assert_eq!(of_series().await, 1 + starts.len());
    (series, instances)
}

/// A converted instance of a series (linked by its instance id, the master as its series):
/// a change of the master reaches it although Google lists only the master — the run reads
/// the instance by its id (the planner's `Refetch`) — and cancelling the instance in Google
/// removes the meeting and leaves what a first import would show: the series and the
/// cancelled occurrence. No second meeting or block at any step, nothing written to Google.
#[tokio::test]
async fn a_converted_instance_follows_its_series_and_goes_when_cancelled() {
    let h = Harness::new().await;
    let (series, moved) = series_with_moved_instances(&h, &["20260309T080000Z"]).await;
    let instance = &moved[0];
    let meeting = h.convert(&h.block_of(instance).await).await;
    assert_eq!(meeting["title"], "Weekly review");
    assert_eq!(meeting["start_at"], "2026-03-09T09:00:00Z");
    let id = meeting["id"].as_str().unwrap();
    assert_eq!(
        h.blocks().await.len(),
        1,
        "the instance's block became the meeting"
    );

    // The series moves to Room 2. The instance was moved, not re-placed, so it is in Room 2
    // too; an incremental listing names only the master.
    h.google(
        reqwest::Method::PATCH,
        &h.event_path(&series),
        Some(json!({"location": "Room 2"})),
    )
    .await;
    h.fake.log().clear();
    let counts = h.synced().await;
    assert_eq!(counts.errors, 0, "{counts:?}");
    assert_eq!(
        h.statuses_of("GET", instance),
        [Some(200)],
        "the instance was read by its id: {:#?}",
        h.fake.log().requests()
    );
    let stored = h.get_meeting(id).await;
    assert_eq!(stored["location"], "Room 2", "{stored}");
    assert_eq!(
        stored["start_at"], "2026-03-09T09:00:00Z",
        "where it was moved"
    );
    assert_eq!(stored["title"], "Weekly review");
    assert_eq!(
        h.count("PATCH", EVENT) + h.count("POST", EVENTS) + h.count("DELETE", EVENT),
        0,
        "a converted meeting is never written to Google"
    );
    let blocks = h.blocks().await;
    assert_eq!(blocks.len(), 1, "the series only: {blocks:#?}");
    assert_eq!(blocks[0]["location"], "Room 2");
    assert_eq!(h.meetings().await.len(), 1);
    h.fake.log().clear();
    assert_eq!(h.synced().await, RunCounts::default(), "converged");
    assert_eq!(h.fake.log().total(), 1);

    // The instance is cancelled in Google: the meeting goes.
    h.google(reqwest::Method::DELETE, &h.event_path(instance), None)
        .await;
    let counts = h.synced().await;
    assert_eq!(counts.errors, 0, "{counts:?}");
    assert!(h.get_meeting(id).await["deleted_at"].is_string());
    assert!(h.meetings().await.is_empty());
    assert!(h.link_kinds("crm_id", id).await.is_empty());
    let blocks = h.blocks().await;
    assert_eq!(
        blocks.len(),
        2,
        "the series and its cancelled occurrence: {blocks:#?}"
    );
    let cancelled = h.block_of(instance).await;
    assert_eq!(cancelled["cancelled"], true, "{cancelled}");
    assert_eq!(cancelled["series_id"], series.as_str());
    assert_eq!(h.synced().await, RunCounts::default(), "converged");
}

/// An edit in the CRM beats Google's delete for a converted instance too: cancelled in
/// Google after the CRM changed it, the meeting stays (exported to the export calendar, as
/// the crate docs say); an unedited converted instance goes with its series when the master
/// is deleted. No duplicates at any step.
#[tokio::test]
async fn a_converted_instance_edited_in_the_crm_outlives_its_cancellation() {
    let h = Harness::new().await;
    // Other events in the calendar: deleting one series is not a mass delete.
    for (day, title) in [("03", "Dentist"), ("04", "Lunch"), ("05", "Gym")] {
        h.insert(timed(
            title,
            &format!("2026-03-{day}T12:00:00+01:00"),
            &format!("2026-03-{day}T13:00:00+01:00"),
        ));
    }
    let (series, moved) =
        series_with_moved_instances(&h, &["20260309T080000Z", "20260316T080000Z"]).await;
    let edited = h.convert(&h.block_of(&moved[0]).await).await;
    let plain = h.convert(&h.block_of(&moved[1]).await).await;
    let (edited_id, plain_id) = (
        edited["id"].as_str().unwrap(),
        plain["id"].as_str().unwrap(),
    );
    h.patch_meeting(edited_id, json!({"title": "Weekly review: budget"}))
        .await;

    h.google(reqwest::Method::DELETE, &h.event_path(&moved[0]), None)
        .await;
    let counts = h.synced().await;
    assert_eq!(counts.errors, 0, "{counts:?}");
    let stored = h.get_meeting(edited_id).await;
    assert!(stored["deleted_at"].is_null(), "{stored}");
    assert_eq!(stored["title"], "Weekly review: budget");
    let exported = h
        .fake
        .google()
        .event(&h.primary, &event_id_of(&edited))
        .expect("the meeting is exported now");
    assert_eq!(exported["status"], "confirmed");
    assert_eq!(exported["summary"], "Weekly review: budget");
    assert_eq!(h.link_kinds("crm_id", edited_id).await, ["exported"]);
    assert!(h.get_meeting(plain_id).await["deleted_at"].is_null());
    assert_eq!(h.meetings().await.len(), 2);
    assert_eq!(
        h.block_of(&moved[0]).await["cancelled"],
        true,
        "the cancelled occurrence is hidden"
    );
    assert_eq!(h.synced().await, RunCounts::default(), "converged");

    // The series is deleted: the unedited instance's meeting goes with it; the edited one
    // is no longer the series'.
    h.google(reqwest::Method::DELETE, &h.event_path(&series), None)
        .await;
    let counts = h.synced().await;
    assert_eq!(counts.errors, 0, "{counts:?}");
    assert!(h.get_meeting(plain_id).await["deleted_at"].is_string());
    let meetings = h.meetings().await;
    assert_eq!(meetings.len(), 1, "{meetings:#?}");
    assert_eq!(meetings[0]["id"], edited["id"]);
    let titles: Vec<Value> = h
        .blocks()
        .await
        .iter()
        .map(|b| b["title"].clone())
        .collect();
    assert_eq!(
        titles,
        ["Dentist", "Lunch", "Gym"],
        "nothing of the series is left"
    );
    let live = h.live_events();
    assert_eq!(
        live.len(),
        4,
        "the three and the exported meeting: {live:#?}"
    );
    assert_eq!(h.synced().await, RunCounts::default(), "converged");
}

/// Any occurrence of a series block can be made a meeting, named by its original start: it
/// is read from Google by its instance id and linked to it, and the series block stays,
/// listing the occurrence as converted (so a client expanding the series shows no busy slot
/// beside the meeting). The meeting then follows the series (a change of the master is
/// refetched through the instance, its time kept) and the occurrence (moved, cancelled).
/// No duplicates and nothing written to Google at any step; a run after each is quiet.
#[tokio::test]
async fn an_occurrence_of_a_series_becomes_a_meeting_that_follows_it() {
    let h = Harness::new().await;
    let series = weekly_series(&h).await;
    let block = h.block_of(&series).await;
    assert_eq!(block["converted_occurrences"], json!([]));

    // The third Monday: 16 March, 09:00 in Brussels.
    let instance = format!("{series}_20260316T080000Z");
    h.fake.log().clear();
    let meeting = h
        .convert_occurrence(&block, "2026-03-16T09:00:00+01:00")
        .await;
    let id = meeting["id"].as_str().unwrap();
    assert_eq!(meeting["title"], "Weekly review");
    assert_eq!(meeting["location"], "Room 1");
    assert_eq!(meeting["start_at"], "2026-03-16T08:00:00Z");
    assert_eq!(meeting["end_at"], "2026-03-16T09:00:00Z");
    assert_eq!(meeting["time_zone"], "Europe/Brussels");
    assert_eq!(
        h.statuses_of("GET", &instance),
        [Some(200)],
        "read by its instance id: {:#?}",
        h.fake.log().requests()
    );
    assert_eq!(h.google_writes(), 0);
    assert_eq!(h.link_kinds("crm_id", id).await, ["converted"]);
    assert_eq!(h.link_kinds("remote_id", &instance).await, ["converted"]);
    let blocks = h.blocks().await;
    assert_eq!(blocks.len(), 1, "the series block stays: {blocks:#?}");
    assert_eq!(blocks[0]["event_id"], series.as_str());
    // As exceptions give their `original_start`.
    assert_eq!(
        blocks[0]["converted_occurrences"],
        json!(["2026-03-16T08:00:00.000000Z"])
    );
    assert_eq!(h.meetings().await.len(), 1);
    h.assert_quiet().await;

    // The series moves to Room 2: Google lists only the master; the run reads the
    // occurrence by its id, and the meeting is in Room 2 at the same time.
    h.google(
        reqwest::Method::PATCH,
        &h.event_path(&series),
        Some(json!({"location": "Room 2"})),
    )
    .await;
    h.synced_cleanly().await;
    assert_eq!(
        h.statuses_of("GET", &instance),
        [Some(200)],
        "refetched: {:#?}",
        h.fake.log().requests()
    );
    let stored = h.get_meeting(id).await;
    assert_eq!(stored["location"], "Room 2", "{stored}");
    assert_eq!(stored["start_at"], "2026-03-16T08:00:00Z");
    assert_eq!(stored["end_at"], "2026-03-16T09:00:00Z");
    assert_eq!(h.google_writes(), 0);
    let blocks = h.blocks().await;
    assert_eq!(blocks.len(), 1, "{blocks:#?}");
    assert_eq!(blocks[0]["location"], "Room 2");
    assert_eq!(
        blocks[0]["converted_occurrences"],
        json!(["2026-03-16T08:00:00.000000Z"])
    );
    assert_eq!(h.meetings().await.len(), 1);
    h.assert_quiet().await;

    // A full listing (the sync token expired: 410) names the master only, never an
    // occurrence the series has not changed: that is no delete; the occurrence is read
    // again by its id, and nothing changes.
    h.fake.google().expire_sync_tokens(&h.primary);
    h.fake.log().clear();
    assert_eq!(h.synced().await, RunCounts::default());
    assert_eq!(h.statuses_of("GET", &instance), [Some(200)]);
    assert!(h.get_meeting(id).await["deleted_at"].is_null());
    assert_eq!(h.link_kinds("crm_id", id).await, ["converted"]);
    assert_eq!(h.blocks().await.len(), 1);
    assert_eq!(h.meetings().await.len(), 1);
    h.assert_quiet().await;

    // The occurrence is moved two hours later in Google: the meeting follows; it is still
    // the series' occurrence of 16 March, and still no block of its own.
    h.reschedule(
        &instance,
        "2026-03-16T11:00:00+01:00",
        "2026-03-16T12:00:00+01:00",
    )
    .await;
    h.synced_cleanly().await;
    let stored = h.get_meeting(id).await;
    assert_eq!(stored["start_at"], "2026-03-16T10:00:00Z", "{stored}");
    assert_eq!(stored["end_at"], "2026-03-16T11:00:00Z");
    assert_eq!(stored["location"], "Room 2");
    assert_eq!(h.google_writes(), 0);
    let blocks = h.blocks().await;
    assert_eq!(blocks.len(), 1, "{blocks:#?}");
    assert_eq!(
        blocks[0]["converted_occurrences"],
        json!(["2026-03-16T08:00:00.000000Z"])
    );
    assert_eq!(h.meetings().await.len(), 1);
    h.assert_quiet().await;

    // The occurrence is cancelled in Google: the meeting goes, and the series shows the
    // occurrence cancelled, as a first import would.
    h.google(reqwest::Method::DELETE, &h.event_path(&instance), None)
        .await;
    h.synced_cleanly().await;
    assert!(h.get_meeting(id).await["deleted_at"].is_string());
    assert!(h.meetings().await.is_empty());
    assert!(h.link_kinds("crm_id", id).await.is_empty());
    assert_eq!(h.google_writes(), 0);
    let blocks = h.blocks().await;
    assert_eq!(blocks.len(), 2, "{blocks:#?}");
    assert_eq!(
        h.block_of(&series).await["converted_occurrences"],
        json!([])
    );
    let cancelled = h.block_of(&instance).await;
    assert_eq!(cancelled["cancelled"], true, "{cancelled}");
    assert_eq!(cancelled["original_start"], "2026-03-16T08:00:00.000000Z");
    h.assert_quiet().await;
}

/// A moved occurrence (an exception with a block of its own) named through its series is
/// converted as its block would be, and that block goes; converting an occurrence twice is
/// refused, naming the meeting. An occurrence edited in the CRM outlives its cancellation
/// in Google (it is exported instead), and leaves the series' list of converted ones.
#[tokio::test]
async fn a_converted_occurrence_edited_in_the_crm_outlives_its_cancellation() {
    let h = Harness::new().await;
    let (series, moved) = series_with_moved_instances(&h, &["20260309T080000Z"]).await;
    let block = h.block_of(&series).await;
    let moved_meeting = h.convert_occurrence(&block, "2026-03-09T08:00:00Z").await;
    assert_eq!(
        moved_meeting["start_at"], "2026-03-09T09:00:00Z",
        "where it was moved"
    );
    assert_eq!(h.link_kinds("remote_id", &moved[0]).await, ["converted"]);
    let blocks = h.blocks().await;
    assert_eq!(
        blocks.len(),
        1,
        "the exception's block became the meeting: {blocks:#?}"
    );
    assert_eq!(
        blocks[0]["converted_occurrences"],
        json!(["2026-03-09T08:00:00.000000Z"])
    );
    let (status, answer) = h
        .convert_with(
            &block,
            Some(json!({"occurrence": "2026-03-09T09:00:00+01:00"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["error"]["code"], "conflict");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains(moved_meeting["id"].as_str().unwrap()),
        "{answer}"
    );

    let instance = format!("{series}_20260323T080000Z");
    let edited = h.convert_occurrence(&block, "2026-03-23T08:00:00Z").await;
    let edited_id = edited["id"].as_str().unwrap();
    assert_eq!(
        h.block_of(&series).await["converted_occurrences"],
        json!(["2026-03-09T08:00:00.000000Z", "2026-03-23T08:00:00.000000Z"])
    );
    assert_eq!(h.meetings().await.len(), 2);
    h.assert_quiet().await;

    h.patch_meeting(edited_id, json!({"title": "Weekly review: budget"}))
        .await;
    h.google(reqwest::Method::DELETE, &h.event_path(&instance), None)
        .await;
    h.synced_cleanly().await;
    let stored = h.get_meeting(edited_id).await;
    assert!(stored["deleted_at"].is_null(), "{stored}");
    assert_eq!(stored["title"], "Weekly review: budget");
    assert_eq!(h.link_kinds("crm_id", edited_id).await, ["exported"]);
    let exported = h
        .fake
        .google()
        .event(&h.primary, &event_id_of(&edited))
        .expect("the meeting is exported now");
    assert_eq!(exported["summary"], "Weekly review: budget");
    assert_eq!(h.block_of(&instance).await["cancelled"], true);
    assert_eq!(
        h.block_of(&series).await["converted_occurrences"],
        json!(["2026-03-09T08:00:00.000000Z"])
    );
    assert_eq!(h.meetings().await.len(), 2);
    h.assert_quiet().await;

    // The moved occurrence's meeting is deleted in the CRM: at once the series no longer
    // hides that occurrence (the event is still there); the next run makes its block again.
    h.delete_meeting(moved_meeting["id"].as_str().unwrap())
        .await;
    assert_eq!(
        h.block_of(&series).await["converted_occurrences"],
        json!([])
    );
    h.synced_cleanly().await;
    assert_eq!(h.google_writes(), 0, "the event is never deleted");
    let back = h.block_of(&moved[0]).await;
    assert_eq!(back["start_at"], "2026-03-09T09:00:00Z", "{back}");
    assert_eq!(h.link_kinds("remote_id", &moved[0]).await, ["block"]);
    assert_eq!(h.blocks().await.len(), 3, "the series and two exceptions");
    assert_eq!(h.meetings().await.len(), 1);
    h.assert_quiet().await;
}

/// When the whole series moves to another time, its occurrences' ids change (they name
/// the original start): a converted occurrence the series no longer has is gone, as a
/// cancelled one would be. Its meeting goes (it was not edited in the CRM) rather than
/// staying linked to nothing.
#[tokio::test]
async fn a_converted_occurrence_the_series_no_longer_has_goes() {
    let h = Harness::new().await;
    let series = weekly_series(&h).await;
    let meeting = h
        .convert_occurrence(&h.block_of(&series).await, "2026-03-16T08:00:00Z")
        .await;
    let id = meeting["id"].as_str().unwrap();
    h.reschedule(&series, "2026-03-02T14:00:00", "2026-03-02T15:00:00")
        .await;
    h.synced_cleanly().await;
    assert_eq!(
        h.statuses_of("GET", &format!("{series}_20260316T080000Z")),
        [Some(404)]
    );
    assert!(h.get_meeting(id).await["deleted_at"].is_string());
    assert!(h.link_kinds("crm_id", id).await.is_empty());
    let blocks = h.blocks().await;
    assert_eq!(blocks.len(), 1, "{blocks:#?}");
    assert_eq!(blocks[0]["start_at"], "2026-03-02T13:00:00Z");
    assert_eq!(blocks[0]["converted_occurrences"], json!([]));
    assert!(h.meetings().await.is_empty());
    h.assert_quiet().await;
}

/// What `occurrence` must be: given for a series block and only there, in the series' form,
/// and an occurrence of the series that is not cancelled; Google's failures are 503. None
/// of these writes anything.
#[tokio::test]
async fn converting_a_series_needs_one_of_its_occurrences() {
    let h = Harness::new().await;
    let single = h.insert(timed(
        "Dentist",
        "2026-03-04T12:00:00+01:00",
        "2026-03-04T13:00:00+01:00",
    ))["id"]
        .as_str()
        .unwrap()
        .to_string();
    let series = weekly_series(&h).await;
    let block = h.block_of(&series).await;
    let invalid = |status: StatusCode, answer: &Value| {
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["error"]["code"], "invalid_field", "{answer}");
        assert_eq!(answer["error"]["field"], "occurrence", "{answer}");
    };

    h.fake.log().clear();
    for body in [None, Some(json!({})), Some(json!({"occurrence": null}))] {
        let (status, answer) = h.convert_with(&block, body).await;
        invalid(status, &answer);
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("`occurrence`"),
            "{answer}"
        );
    }
    // A timed series' occurrences are instants.
    for wrong in ["next monday", "2026-03-16"] {
        let (status, answer) = h
            .convert_with(&block, Some(json!({ "occurrence": wrong })))
            .await;
        invalid(status, &answer);
    }
    assert_eq!(h.fake.log().total(), 0, "nothing asked of Google");

    // Between two occurrences, after the last one, a fraction of a second off one.
    for (wrong, asked) in [
        ("2026-03-16T08:30:00Z", "20260316T083000Z"),
        ("2026-04-13T07:00:00Z", "20260413T070000Z"),
        ("2026-03-16T08:00:00.5Z", "20260316T080000Z"),
    ] {
        h.fake.log().clear();
        let (status, answer) = h
            .convert_with(&block, Some(json!({ "occurrence": wrong })))
            .await;
        invalid(status, &answer);
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("not an occurrence of this series"),
            "{answer}"
        );
        assert_eq!(
            h.statuses_of("GET", &format!("{series}_{asked}")).len(),
            1,
            "asked Google: {:#?}",
            h.fake.log().requests()
        );
    }

    // A cancelled occurrence cannot be a meeting.
    h.google(
        reqwest::Method::DELETE,
        &h.event_path(&format!("{series}_20260323T080000Z")),
        None,
    )
    .await;
    h.synced().await;
    let (status, answer) = h
        .convert_with(&block, Some(json!({"occurrence": "2026-03-23T08:00:00Z"})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["error"]["code"], "conflict");

    // Google failing (after the client's retries): 503, to be tried again.
    h.fake.faults().inject(
        FaultRule::new(Fault::Unavailable)
            .on("GET", "/calendar/v3/calendars/*/events/*")
            .times(Times::Always),
    );
    let (status, answer) = h
        .convert_with(&block, Some(json!({"occurrence": "2026-03-30T07:00:00Z"})))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["error"]["code"], "unavailable");
    h.fake.faults().clear();

    // A block that is not a series has no occurrences; without a body it converts.
    let single_block = h.block_of(&single).await;
    let (status, answer) = h
        .convert_with(
            &single_block,
            Some(json!({"occurrence": "2026-03-04T11:00:00Z"})),
        )
        .await;
    invalid(status, &answer);
    assert!(h.meetings().await.is_empty(), "nothing written so far");
    let meeting = h.convert(&single_block).await;
    assert_eq!(meeting["title"], "Dentist");

    let blocks = h.blocks().await;
    assert_eq!(
        blocks.len(),
        2,
        "the series and its cancelled occurrence: {blocks:#?}"
    );
    assert_eq!(
        h.block_of(&series).await["converted_occurrences"],
        json!([])
    );
    assert_eq!(h.meetings().await.len(), 1);
    h.assert_quiet().await;
}

/// An all-day series names its occurrences by their dates, and lists them so.
#[tokio::test]
async fn an_occurrence_of_an_all_day_series_is_named_by_its_date() {
    let h = Harness::new().await;
    let series = h.insert(json!({
        "summary": "Site visit",
        "start": {"date": "2026-03-03"},
        "end": {"date": "2026-03-04"},
        "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"]
    }))["id"]
        .as_str()
        .unwrap()
        .to_string();
    h.synced().await;
    let block = h.block_of(&series).await;
    let (status, answer) = h
        .convert_with(&block, Some(json!({"occurrence": "2026-03-10T00:00:00Z"})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["field"], "occurrence");
    h.fake.log().clear();
    let meeting = h.convert_occurrence(&block, "2026-03-10").await;
    assert_eq!(
        h.statuses_of("GET", &format!("{series}_20260310")),
        [Some(200)]
    );
    assert_eq!(meeting["all_day"], true);
    assert_eq!(meeting["start_date"], "2026-03-10");
    assert_eq!(meeting["end_date"], "2026-03-11");
    assert_eq!(meeting["title"], "Site visit");
    let blocks = h.blocks().await;
    assert_eq!(blocks.len(), 1, "{blocks:#?}");
    assert_eq!(blocks[0]["converted_occurrences"], json!(["2026-03-10"]));
    h.assert_quiet().await;
}
