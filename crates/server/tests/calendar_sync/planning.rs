//! What the web app's planning reads of the Calendar sync through the engine's seam
//! (`Integration::busy_times`, `Integration::convert_busy`): the user's own busy blocks, a
//! private event without its title, a series as its occurrences in the window; converting a
//! block, or one occurrence of a series, makes the meeting the API's convert route makes.

use super::*;
use threadline_server::actor::Actor;
use threadline_server::sync::BusyTime;

/// Ann as the model's actor, read from her connection.
async fn ann(h: &Harness) -> Actor {
    let (user_id, org_id): (String, String) = sqlx::query_as(
        "SELECT c.user_id, u.org_id FROM connections c JOIN users u ON u.id = c.user_id
         WHERE c.id = $1",
    )
    .bind(h.connection.to_string())
    .fetch_one(h.state.db().pool())
    .await
    .unwrap();
    Actor {
        user_id: Uuid::parse_str(&user_id).unwrap(),
        org_id: Uuid::parse_str(&org_id).unwrap(),
        name: "Ann".into(),
        email: ANN.into(),
    }
}

fn calendar(h: &Harness) -> &dyn Integration {
    h.state
        .integrations()
        .iter()
        .find(|i| i.name() == threadline_google_calendar::NAME)
        .expect("the calendar is registered")
        .as_ref()
}

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().into()
}

#[tokio::test]
async fn the_planning_reads_own_busy_times_private_ones_without_title_and_converts_one() {
    let h = Harness::new().await;
    h.insert(timed(
        "Dentist",
        "2026-03-02T09:00:00+01:00",
        "2026-03-02T10:00:00+01:00",
    ));
    let mut private = timed(
        "Therapy",
        "2026-03-03T09:00:00+01:00",
        "2026-03-03T10:00:00+01:00",
    );
    private["visibility"] = json!("private");
    h.insert(private);
    let mut series = timed("Stand-up", "2026-03-02T08:00:00Z", "2026-03-02T08:15:00Z");
    series["recurrence"] = json!(["RRULE:FREQ=DAILY;COUNT=5"]);
    h.insert(series);
    // Next month's: outside the week.
    h.insert(timed(
        "Later",
        "2026-04-06T09:00:00Z",
        "2026-04-06T10:00:00Z",
    ));
    h.synced().await;

    let actor = ann(&h).await;
    let (from, to) = (at("2026-03-02T00:00:00Z"), at("2026-03-09T00:00:00Z"));
    let mut conn = h.state.db().pool().acquire().await.unwrap();
    let busy = calendar(&h)
        .busy_times(&mut conn, &actor, from, to)
        .await
        .unwrap();
    let titles: Vec<Option<&str>> = busy.iter().map(|b| b.title.as_deref()).collect();
    assert_eq!(busy.len(), 7, "{busy:?}");
    assert!(
        titles.contains(&Some("Dentist")) && titles.contains(&None),
        "{titles:?}"
    );
    assert!(!titles.contains(&Some("Therapy")) && !titles.contains(&Some("Later")));
    // The series: each of its five days, at its time, named for converting.
    let standups: Vec<&BusyTime> = busy
        .iter()
        .filter(|b| b.title.as_deref() == Some("Stand-up"))
        .collect();
    let names: Vec<&str> = standups
        .iter()
        .filter_map(|b| b.occurrence.as_deref())
        .collect();
    assert_eq!(
        names,
        [
            "2026-03-02T08:00:00Z",
            "2026-03-03T08:00:00Z",
            "2026-03-04T08:00:00Z",
            "2026-03-05T08:00:00Z",
            "2026-03-06T08:00:00Z"
        ]
    );
    assert!(standups.iter().all(|b| b.repeats && b.convertible));
    assert_eq!(standups[2].start_at, Some(at("2026-03-04T08:00:00Z")));
    assert_eq!(standups[2].end_at, Some(at("2026-03-04T08:15:00Z")));
    let standup = standups[2].clone();
    let dentist = busy
        .iter()
        .find(|b| b.title.as_deref() == Some("Dentist"))
        .unwrap();
    assert_eq!(dentist.start_at, Some(at("2026-03-02T08:00:00Z")));
    assert!(dentist.convertible && !dentist.repeats);

    // A colleague (or anyone else) has none of Ann's.
    let other = Actor {
        user_id: threadline_server::db::new_id(),
        ..actor.clone()
    };
    let none = calendar(&h)
        .busy_times(&mut conn, &other, from, to)
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");
    assert_eq!(
        calendar(&h)
            .convert_busy(h.state.db(), &other, dentist.id, None)
            .await
            .unwrap(),
        None
    );
    drop(conn);

    // Ann converts hers: a meeting, and the block is gone from her busy times.
    let meeting = calendar(&h)
        .convert_busy(h.state.db(), &actor, dentist.id, None)
        .await
        .unwrap()
        .expect("converted");
    let stored = h.get_meeting(&meeting.to_string()).await;
    assert_eq!(stored["title"], "Dentist");
    assert_eq!(stored["start_at"], "2026-03-02T08:00:00Z");
    let mut conn = h.state.db().pool().acquire().await.unwrap();
    let after = calendar(&h)
        .busy_times(&mut conn, &actor, from, to)
        .await
        .unwrap();
    assert!(after.iter().all(|b| b.id != dentist.id));
    // A series converts one occurrence at a time, named: not the whole series.
    let refused = calendar(&h)
        .convert_busy(h.state.db(), &actor, standup.id, None)
        .await;
    assert!(refused.is_err());
    drop(conn);
    let meeting = calendar(&h)
        .convert_busy(
            h.state.db(),
            &actor,
            standup.id,
            standup.occurrence.as_deref(),
        )
        .await
        .unwrap()
        .expect("converted");
    let stored = h.get_meeting(&meeting.to_string()).await;
    assert_eq!(stored["title"], "Stand-up");
    assert_eq!(stored["start_at"], "2026-03-04T08:00:00Z");
    assert_eq!(stored["end_at"], "2026-03-04T08:15:00Z");
    // Wednesday's occurrence is the meeting now; the others stay busy.
    let mut conn = h.state.db().pool().acquire().await.unwrap();
    let after = calendar(&h)
        .busy_times(&mut conn, &actor, from, to)
        .await
        .unwrap();
    let left: Vec<&str> = after
        .iter()
        .filter_map(|b| b.occurrence.as_deref())
        .collect();
    assert_eq!(left.len(), 4, "{left:?}");
    assert!(!left.contains(&"2026-03-04T08:00:00Z"));
    // Converting it again: refused (it is a meeting already).
    drop(conn);
    let again = calendar(&h)
        .convert_busy(
            h.state.db(),
            &actor,
            standup.id,
            standup.occurrence.as_deref(),
        )
        .await;
    assert!(again.is_err());
}

#[tokio::test]
async fn a_series_is_shown_at_its_occurrences_in_its_zone_with_google_s_exceptions() {
    let h = Harness::new().await;
    // Fridays 09:00–10:00 in Amsterdam from 20 March 2026, four times: the clocks go
    // forward on Sunday 29 March, so 08:00 UTC becomes 07:00 UTC.
    let series = h.insert(json!({
        "summary": "Review",
        "start": {"dateTime": "2026-03-20T09:00:00", "timeZone": "Europe/Amsterdam"},
        "end": {"dateTime": "2026-03-20T10:00:00", "timeZone": "Europe/Amsterdam"},
        "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=FR;COUNT=4"],
    }));
    let id = series["id"].as_str().unwrap();
    // In Google: the 27 March one cancelled, the 3 April one moved to the afternoon.
    let path = |suffix: &str| h.event_path(&format!("{id}_{suffix}"));
    h.google(reqwest::Method::DELETE, &path("20260327T080000Z"), None)
        .await;
    h.google(
        reqwest::Method::PATCH,
        &path("20260403T070000Z"),
        Some(json!({
            "start": {"dateTime": "2026-04-03T15:00:00", "timeZone": "Europe/Amsterdam"},
            "end": {"dateTime": "2026-04-03T16:00:00", "timeZone": "Europe/Amsterdam"},
        })),
    )
    .await;
    h.synced().await;

    let actor = ann(&h).await;
    let (from, to) = (at("2026-03-16T00:00:00Z"), at("2026-04-13T00:00:00Z"));
    let mut conn = h.state.db().pool().acquire().await.unwrap();
    let busy = calendar(&h)
        .busy_times(&mut conn, &actor, from, to)
        .await
        .unwrap();
    let shown: Vec<(Option<DateTimeUtc>, Option<&str>)> = busy
        .iter()
        .map(|b| (b.start_at, b.occurrence.as_deref()))
        .collect();
    assert_eq!(
        shown,
        [
            (
                Some(at("2026-03-20T08:00:00Z")),
                Some("2026-03-20T08:00:00Z")
            ),
            // Moved: its own block, converted as one (no occurrence name).
            (Some(at("2026-04-03T13:00:00Z")), None),
            (
                Some(at("2026-04-10T07:00:00Z")),
                Some("2026-04-10T07:00:00Z")
            ),
        ],
        "{busy:?}"
    );
    assert!(busy.iter().all(|b| b.repeats && b.convertible));
    assert_eq!(busy[2].end_at, Some(at("2026-04-10T08:00:00Z")));
    // A window of one week only holds that week's.
    let week = calendar(&h)
        .busy_times(&mut conn, &actor, at("2026-04-06T00:00:00Z"), to)
        .await
        .unwrap();
    assert_eq!(week.len(), 1, "{week:?}");
    drop(conn);

    // The occurrence after the change converts at its own time.
    let meeting = calendar(&h)
        .convert_busy(
            h.state.db(),
            &actor,
            busy[2].id,
            busy[2].occurrence.as_deref(),
        )
        .await
        .unwrap()
        .expect("converted");
    let stored = h.get_meeting(&meeting.to_string()).await;
    assert_eq!(stored["start_at"], "2026-04-10T07:00:00Z");
    // The moved one converts as its block, where it is now.
    let moved = calendar(&h)
        .convert_busy(h.state.db(), &actor, busy[1].id, None)
        .await
        .unwrap()
        .expect("converted");
    let stored = h.get_meeting(&moved.to_string()).await;
    assert_eq!(stored["start_at"], "2026-04-03T13:00:00Z");
    let mut conn = h.state.db().pool().acquire().await.unwrap();
    let after = calendar(&h)
        .busy_times(&mut conn, &actor, from, to)
        .await
        .unwrap();
    let left: Vec<_> = after.iter().map(|b| b.start_at).collect();
    assert_eq!(left, [Some(at("2026-03-20T08:00:00Z"))]);
}

type DateTimeUtc = chrono::DateTime<chrono::Utc>;
