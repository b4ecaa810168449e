//! What Google does wrong and how a run copes: expired sync tokens, lost answers, a foreign
//! event holding our id, throttling, refused tokens, a read-only export calendar, the
//! mass-delete guard.

use super::*;

#[tokio::test]
async fn an_expired_sync_token_mid_paging_relists_without_duplicates() {
    let h = Harness::new().await;
    for i in 0..3 {
        h.insert(timed(
            &format!("Busy {i}"),
            "2026-03-02T09:00:00+01:00",
            "2026-03-02T10:00:00+01:00",
        ));
    }
    h.meeting(
        "Ours",
        "2026-03-03T14:00:00+01:00",
        "2026-03-03T15:00:00+01:00",
    )
    .await;
    // Every listing serves an empty page with a nextPageToken first.
    h.fake.google().set_empty_pages(true);
    h.synced().await;
    assert_eq!(h.blocks().await.len(), 3);
    h.insert(timed(
        "Busy 3",
        "2026-03-02T11:00:00+01:00",
        "2026-03-02T12:00:00+01:00",
    ));
    h.fake.google().expire_sync_tokens(&h.primary);

    let counts = h.synced().await;
    assert_eq!(counts.errors, 0, "{counts:?}");
    assert_eq!(h.blocks().await.len(), 4);
    assert_eq!(h.live_events().len(), 5, "no second copy of our event");
    // And the token saved after the re-list works.
    h.fake.log().clear();
    assert_eq!(h.synced().await, RunCounts::default());
    assert_eq!(
        h.count("GET", EVENTS),
        2,
        "an empty page, then the last one"
    );
}

#[tokio::test]
async fn an_insert_whose_answer_was_lost_is_adopted_not_duplicated() {
    let h = Harness::new().await;
    let meeting = h
        .meeting(
            "Lost answer",
            "2026-03-03T14:00:00+01:00",
            "2026-03-03T15:00:00+01:00",
        )
        .await;
    let rule = h.fake.faults().inject(
        FaultRule::new(Fault::DropResponseAfterCommit)
            .on("POST", "/calendar/v3/calendars/*/events")
            .times(Times::Once),
    );
    let counts = h.synced().await;
    assert_eq!(h.fake.faults().fired(rule), 1);
    assert_eq!(counts.errors, 0, "{counts:?}");
    assert_eq!(h.live_events().len(), 1);
    assert!(h
        .fake
        .google()
        .event(&h.primary, &event_id_of(&meeting))
        .is_some());
    // The link is there: the next run is quiet.
    h.fake.log().clear();
    assert_eq!(h.synced().await, RunCounts::default());
    assert_eq!(h.fake.log().total(), 1);
}

/// Someone else's event already holds the id our meeting's event would get (it says it is
/// another installation's meeting): the insert answers 409, the event is read and found
/// foreign. It is left exactly as it was (an ordinary busy block to us), nothing is linked,
/// no event with another id is made, the run counts an error, and the meeting is untouched.
/// The next run does the same again, writing nothing.
#[tokio::test]
async fn a_foreign_event_holding_our_id_is_left_alone_counted_and_reported() {
    let h = Harness::new().await;
    let meeting = h
        .meeting(
            "Kick-off",
            "2026-03-03T14:00:00+01:00",
            "2026-03-03T15:00:00+01:00",
        )
        .await;
    let id = meeting["id"].as_str().unwrap();
    let event_id = event_id_of(&meeting);
    let mut body = timed(
        "Not ours",
        "2026-03-04T09:00:00+01:00",
        "2026-03-04T10:00:00+01:00",
    );
    body["id"] = json!(event_id);
    body["extendedProperties"] = json!({"private": {
        threadline_calendar_core::ids::CRM_ID_PROPERTY: Uuid::now_v7().to_string()}});
    let foreign = h.insert(body);
    let meeting = h.get_meeting(id).await;

    for run in 1..=2 {
        h.fake.log().clear();
        let recorded = h.sync_now().await;
        assert_eq!(recorded["status"], "ok", "run {run}: {recorded}");
        assert!(
            recorded["counts"]["errors"].as_i64().unwrap() >= 1,
            "run {run}: {recorded}"
        );
        assert_eq!(
            h.answers("POST", EVENTS),
            [Some(409)],
            "run {run}: one insert, refused"
        );
        assert_eq!(h.statuses_of("GET", &event_id), [Some(200)], "run {run}");
        assert_eq!(
            h.count("PATCH", EVENT) + h.count("PUT", EVENT) + h.count("DELETE", EVENT),
            0,
            "run {run}: nothing written"
        );
        assert_eq!(
            h.fake.google().event(&h.primary, &event_id).unwrap(),
            foreign,
            "run {run}: the foreign event is as it was"
        );
        assert_eq!(
            h.live_events().len(),
            1,
            "run {run}: no event with another id"
        );
        assert!(h.link_kinds("crm_id", id).await.is_empty(), "run {run}");
        assert_eq!(
            h.link_kinds("remote_id", &event_id).await,
            ["block"],
            "run {run}: someone else's event is busy time to us"
        );
        assert_eq!(
            h.get_meeting(id).await,
            meeting,
            "run {run}: the meeting is untouched"
        );
        let (_, connection) = h
            .api(
                Method::GET,
                &format!("/connections/{}", h.connection),
                None,
                None,
            )
            .await;
        assert_eq!(connection["status"], "degraded", "run {run}: {connection}");
        let reason = connection["status_reason"].as_str().unwrap();
        assert!(
            reason.contains(id) && reason.contains(&event_id),
            "run {run}: the user is told which meeting and event: {reason}"
        );
    }
}

#[tokio::test]
async fn throttling_and_unavailability_are_retried_honouring_retry_after() {
    let h = Harness::new().await;
    h.insert(timed(
        "Busy",
        "2026-03-02T09:00:00+01:00",
        "2026-03-02T10:00:00+01:00",
    ));
    h.fake.faults().inject(
        FaultRule::new(Fault::TooManyRequests {
            retry_after: Some(1),
        })
        .on("GET", "/calendar/v3/calendars/*/events")
        .times(Times::Once),
    );
    h.fake.faults().inject(
        FaultRule::new(Fault::Unavailable)
            .on("GET", "/calendar/v3/calendars/*/events")
            .times(Times::Once),
    );
    let started = std::time::Instant::now();
    let counts = h.synced().await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
    assert_eq!(counts.created, 1);
    assert_eq!(h.count("GET", EVENTS), 3);

    // Throttled for good: the run stops, retryable, and nothing is lost.
    h.fake.faults().inject(
        FaultRule::new(Fault::TooManyRequests { retry_after: None })
            .on("GET", "/calendar/v3/calendars/*/events")
            .times(Times::Always),
    );
    assert!(matches!(h.sync().await, Err(SyncError::Retryable { .. })));
    h.fake.faults().clear();
    assert_eq!(h.blocks().await.len(), 1);
}

#[tokio::test]
async fn a_mass_delete_is_refused_for_review_and_nothing_is_written() {
    let h = Harness::new().await;
    let mut meetings = Vec::new();
    for i in 0..4 {
        meetings.push(
            h.meeting(
                &format!("M{i}"),
                "2026-03-03T14:00:00+01:00",
                "2026-03-03T15:00:00+01:00",
            )
            .await,
        );
    }
    h.synced().await;
    for m in &meetings {
        h.google(
            reqwest::Method::DELETE,
            &h.event_path(&event_id_of(m)),
            None,
        )
        .await;
    }
    match h.sync().await {
        Err(SyncError::RefusedForReview(reasons)) => assert!(!reasons.is_empty()),
        other => panic!("expected a refusal, got {other:?}"),
    }
    for m in &meetings {
        assert!(h.get_meeting(m["id"].as_str().unwrap()).await["deleted_at"].is_null());
    }
    let (_, connection) = h
        .api(
            Method::GET,
            &format!("/connections/{}", h.connection),
            None,
            None,
        )
        .await;
    assert_eq!(connection["status"], "degraded");
    assert!(connection["status_reason"]
        .as_str()
        .unwrap()
        .contains("review"));
    // Refused again next time: the cursor did not move.
    assert!(matches!(
        h.sync().await,
        Err(SyncError::RefusedForReview(_))
    ));
}

/// 403 `rateLimitExceeded` is a rate limit like 429: retried after a pause, not an error.
#[tokio::test]
async fn a_403_rate_limit_is_retried_like_a_429() {
    let h = Harness::new().await;
    h.insert(timed(
        "Busy",
        "2026-03-02T09:00:00+01:00",
        "2026-03-02T10:00:00+01:00",
    ));
    for reason in [
        RateLimitReason::RateLimitExceeded,
        RateLimitReason::UserRateLimitExceeded,
    ] {
        h.fake.faults().inject(
            FaultRule::new(Fault::Google(GoogleFault::RateLimited403(reason)))
                .on("GET", "/calendar/v3/calendars/*/events")
                .times(Times::Once),
        );
    }
    let counts = h.synced().await;
    assert_eq!(counts.created, 1);
    assert_eq!(h.count("GET", EVENTS), 3, "two refusals, then the listing");
}

/// Google refuses the access token mid-run (401: revoked, or cut short before its expiry):
/// the run replaces it once, through the token source's refresh, and goes on; refused again
/// after that, the run stops to be tried later, without a second refresh.
#[tokio::test]
async fn a_token_refused_mid_run_is_replaced_once_and_the_run_goes_on() {
    let h = Harness::new().await;
    h.meeting(
        "Token",
        "2026-03-03T14:00:00+01:00",
        "2026-03-03T15:00:00+01:00",
    )
    .await;
    let refused = h.fake.faults().inject(
        FaultRule::new(Fault::Unauthorized)
            .on("POST", "/calendar/v3/calendars/*/events")
            .times(Times::Once),
    );
    let counts = h.synced().await;
    assert_eq!(h.fake.faults().fired(refused), 1);
    assert_eq!(counts.created, 1, "{counts:?}");
    assert_eq!(h.live_events().len(), 1);
    assert_eq!(h.fake.log().count("POST", "/token"), 1, "one refresh");

    h.meeting(
        "Token 2",
        "2026-03-04T14:00:00+01:00",
        "2026-03-04T15:00:00+01:00",
    )
    .await;
    h.fake.faults().inject(
        FaultRule::new(Fault::Unauthorized)
            .on("POST", "/calendar/v3/calendars/*/events")
            .times(Times::N(2)),
    );
    match h.sync().await {
        Err(SyncError::TokenRejected(_)) => {}
        other => panic!("expected the token refused twice, got {other:?}"),
    }
    assert_eq!(
        h.fake.log().count("POST", "/token"),
        2,
        "one more refresh, not a loop"
    );
    assert_eq!(h.live_events().len(), 1, "nothing half-written");
    h.synced().await;
    assert_eq!(h.live_events().len(), 2);
}

/// The export calendar becomes read-only for the user (a colleague's calendar, shared as
/// "see all details" after "make changes"): the writes are refused (403), counted as
/// errors, and the connection says which calendar and why; nothing else of the run is
/// lost, and once write access is back the waiting changes are written.
#[tokio::test]
async fn an_export_calendar_that_became_read_only_is_reported_and_caught_up_later() {
    use threadline_fake_providers::google::AccessRole;
    let h = Harness::without_selection().await;
    let google = h.fake.google();
    let team = google.add_calendar("bob@other.com", "Team", "Europe/Brussels");
    google.share_calendar(&team, ANN, AccessRole::Writer);
    let primary = h.primary.clone();
    h.select(&[&primary], Some(&team)).await;
    let first = h
        .meeting(
            "Exported",
            "2026-03-06T09:00:00+01:00",
            "2026-03-06T10:00:00+01:00",
        )
        .await;
    h.synced().await;
    assert_eq!(google.events(&team).len(), 1);

    google.share_calendar(&team, ANN, AccessRole::Reader);
    let id = first["id"].as_str().unwrap();
    h.patch_meeting(id, json!({"title": "Exported, renamed"}))
        .await;
    h.meeting(
        "Second",
        "2026-03-07T09:00:00+01:00",
        "2026-03-07T10:00:00+01:00",
    )
    .await;
    let counts = h.synced().await;
    assert_eq!(counts.errors, 2, "{counts:?}");
    let events = google.events(&team);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["summary"], "Exported");
    let (_, connection) = h
        .api(
            Method::GET,
            &format!("/connections/{}", h.connection),
            None,
            None,
        )
        .await;
    assert_eq!(connection["status"], "degraded", "{connection}");
    let reason = connection["status_reason"].as_str().unwrap();
    assert!(reason.contains(&team) && reason.contains("403"), "{reason}");
    assert_eq!(
        h.get_meeting(id).await["title"],
        "Exported, renamed",
        "the CRM keeps its edit"
    );

    google.share_calendar(&team, ANN, AccessRole::Writer);
    let counts = h.synced().await;
    assert_eq!(counts.errors, 0, "{counts:?}");
    let mut titles: Vec<String> = google
        .events(&team)
        .iter()
        .map(|e| e["summary"].as_str().unwrap().to_string())
        .collect();
    titles.sort();
    assert_eq!(titles, ["Exported, renamed", "Second"]);
    let (_, connection) = h
        .api(
            Method::GET,
            &format!("/connections/{}", h.connection),
            None,
            None,
        )
        .await;
    assert_eq!(connection["status"], "ok", "{connection}");
}
