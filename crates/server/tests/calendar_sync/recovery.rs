//! Runs that are cut short: a process killed mid-run, a lost lease, a refused run reviewed
//! through the API.

use super::*;

/// A sync run, in a process of its own, for the test above (ignored: run by it only).
#[tokio::test]
#[ignore = "the child process of a_run_killed_mid_way_converges_without_duplicates"]
async fn kill_child() {
    let (Ok(db), Ok(api), Ok(connection), Ok(key)) = (
        std::env::var(CHILD_DB),
        std::env::var(CHILD_API),
        std::env::var(CHILD_CONNECTION),
        std::env::var(CHILD_KEY),
    ) else {
        return;
    };
    let location = match db.strip_prefix("sqlite:") {
        Some(path) => threadline_server::db::Location::Sqlite(path.into()),
        None => threadline_server::db::Location::Postgres(db.clone()),
    };
    let db = threadline_server::db::Db::open(&location).await.unwrap();
    let client = CalendarClient::new(&api, RetryPolicy::default()).unwrap();
    let tokens = StoredTokens::new(db.clone(), Arc::new(Keyring::parse(&key, "test").unwrap()));
    let sync = CalendarSync::new(db, client, Arc::new(tokens));
    let connection: Uuid = connection.parse().unwrap();
    let outcome = sync.run(connection, RunOptions::default()).await;
    panic!("the run was to be killed, and ended: {outcome:?}");
}

/// A process killed (SIGKILL) between a remote write and its link, or between applying
/// the CRM changes and committing them with the cursors: the next run converges — every
/// event once in Google, every block once in the CRM, nothing lost — and the one after
/// finds nothing to do.
#[tokio::test]
async fn a_run_killed_mid_way_converges_without_duplicates() {
    use std::os::unix::process::ExitStatusExt;
    for point in ["after-remote-write", "before-local-commit"] {
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

        let status = h.run_in_a_process_killed_at(point).await;
        assert_eq!(
            status.signal(),
            Some(9),
            "{point}: the child was not killed: {status:?}"
        );
        // Either way the export reached Google before the kill; the block did not reach
        // the CRM (its transaction never committed).
        assert!(
            h.fake
                .google()
                .event(&h.primary, &event_id_of(&meeting))
                .is_some(),
            "{point}: the export was written before the kill"
        );
        assert!(
            h.blocks().await.is_empty(),
            "{point}: nothing committed locally"
        );

        h.synced().await;
        let events = h.live_events();
        assert_eq!(
            events.len(),
            2,
            "{point}: one Dentist, one Kick-off: {events:#?}"
        );
        let blocks = h.blocks().await;
        assert_eq!(blocks.len(), 1, "{point}: {blocks:?}");
        assert_eq!(blocks[0]["title"], "Dentist");
        assert_eq!(
            h.get_meeting(meeting["id"].as_str().unwrap()).await["title"],
            "Kick-off"
        );
        assert_eq!(h.synced().await, RunCounts::default(), "{point}: converged");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_run_is_reviewed_through_the_api_checked_again_then_applied_anyway() {
    let h = Harness::new().await;
    let mut meetings = Vec::new();
    for i in 0..4 {
        let m = h
            .meeting(
                &format!("M{i}"),
                "2026-03-03T14:00:00+01:00",
                "2026-03-03T15:00:00+01:00",
            )
            .await;
        meetings.push(m["id"].as_str().unwrap().to_string());
    }
    h.synced().await;
    for m in &meetings {
        let id = threadline_calendar_core::ids::event_id_for(Uuid::parse_str(m).unwrap());
        h.google(reqwest::Method::DELETE, &h.event_path(&id), None)
            .await;
    }
    let (status, body) = h.review(json!({"decision": "apply_anyway"})).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "nothing to review yet: {body}"
    );

    let runner = h.runner(Duration::from_secs(30)).await;
    let run = h.ended_run(1).await;
    assert_eq!(run["status"], "refused_for_review", "{run}");
    let state = h.sync_state().await;
    assert_eq!(state["state"], "degraded", "{state}");
    assert!(
        state["reason"]
            .as_str()
            .unwrap()
            .contains("waiting for a review"),
        "{state}"
    );
    let (status, _) = h
        .api(
            Method::POST,
            &format!("/connections/{}/sync", h.connection),
            None,
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "sync now does not pass a review"
    );
    let (status, body) = h.review(json!({"decision": "delete_everything"})).await;
    assert!(
        status.is_client_error() && status != StatusCode::CONFLICT,
        "{status} {body}"
    );

    // Checked again with the guards in place: refused again, nothing written.
    let (status, body) = h.review(json!({"decision": "check_again"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["items"][0]["triggered_by"], "manual", "{body}");
    assert_eq!(h.ended_run(2).await["status"], "refused_for_review");
    for m in &meetings {
        assert!(
            h.get_meeting(m).await["deleted_at"].is_null(),
            "kept while refused"
        );
    }

    // Applied anyway: the deletions go through, once.
    let (status, body) = h.review(json!({"decision": "apply_anyway"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let run = h.ended_run(3).await;
    assert_eq!(run["status"], "ok", "{run}");
    assert_eq!(run["counts"]["deleted"], 4, "{run}");
    for m in &meetings {
        assert!(
            !h.get_meeting(m).await["deleted_at"].is_null(),
            "deleted as Google did"
        );
    }
    let state = h.sync_state().await;
    assert_eq!(state["state"], "ok", "{state}");
    let spent: i64 = sqlx::query_scalar("SELECT apply_anyway FROM sync_schedules")
        .fetch_one(h.state.db().pool())
        .await
        .unwrap();
    assert_eq!(spent, 0, "the guards hold again for the next run");
    let (status, _) = h.review(json!({"decision": "apply_anyway"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "decided already");
    runner.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_lost_its_lease_writes_nothing_more_and_the_next_run_converges() {
    let h = Harness::new().await;
    h.meeting(
        "Lease",
        "2026-03-03T14:00:00+01:00",
        "2026-03-03T15:00:00+01:00",
    )
    .await;
    // The export's insert is held at Google; meanwhile another process takes the schedule
    // (as when this one paused longer than its lease). The lease is long, so no heartbeat
    // notices before the run's own fence does.
    let held = h.fake.faults().inject(
        FaultRule::new(Fault::Delay(Duration::from_millis(1500)))
            .on("POST", "/calendar/v3/calendars/*/events")
            .times(Times::Once),
    );
    let runner = h.runner(Duration::from_secs(60)).await;
    h.until_fired(held, "the insert is in flight").await;
    sqlx::query("UPDATE sync_schedules SET lease_owner = 'another-process'")
        .execute(h.state.db().pool())
        .await
        .unwrap();
    let run = h.ended_run(1).await;
    assert_eq!(run["status"], "interrupted", "{run}");
    assert_eq!(h.live_events().len(), 1, "Google had committed the insert");
    assert_eq!(h.links().await, 0, "the link write was fenced off");
    let cursors: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM calendar_cursors")
        .fetch_one(h.state.db().pool())
        .await
        .unwrap();
    assert_eq!(cursors, 0, "no cursor saved by a run without its lease");
    runner.shutdown().await;

    // The next run adopts the event it finds with the meeting's id: no duplicate.
    h.synced().await;
    assert_eq!(h.live_events().len(), 1);
    assert_eq!(h.links().await, 1);
}
