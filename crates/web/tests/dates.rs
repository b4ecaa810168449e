//! Dates and times in the viewer's zone and language on a real database (SQLite, or
//! PostgreSQL with `THREADLINE_TEST_DATABASE_URL`): chosen in Settings → Profile (UTC until
//! then), across a clock change, in `<time datetime>` with the UTC instant.

mod support;

use axum::http::StatusCode;
use serde_json::json;
use support::{create, profile, set_up, Site};
use threadline_crm::records::meetings::Meeting;
use threadline_crm::records::tasks::Task;

#[tokio::test]
async fn dates_follow_the_chosen_zone_across_a_clock_change() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    let actor = site.actor_of(&cookie).await;
    // Amsterdam goes from 02:00 CET to 03:00 CEST on 29 March 2026 (01:00 UTC).
    let before = create::<Meeting>(
        &site,
        &actor,
        json!({"title": "Before", "start_at": "2026-03-29T00:59:00Z", "end_at": "2026-03-29T00:59:30Z", "time_zone": "UTC"}),
    )
    .await;
    create::<Meeting>(
        &site,
        &actor,
        json!({"title": "After", "start_at": "2026-03-29T01:00:00Z", "end_at": "2026-03-29T02:00:00Z", "time_zone": "UTC"}),
    )
    .await;
    create::<Task>(
        &site,
        &actor,
        json!({"title": "Call", "due_date": "2026-05-04"}),
    )
    .await;

    // UTC until chosen.
    let list = site.get("/meetings", Some(&cookie)).await;
    assert!(list.body.contains("29 March 2026, 00:59"), "{}", list.body);
    assert!(list.body.contains("29 March 2026, 01:00"), "{}", list.body);

    let saved = profile(&site, &cookie, "Ann", "nl", "Europe/Amsterdam").await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let settings = site.get("/settings", Some(&cookie)).await;
    assert!(settings.body.contains(r#"value="Europe/Amsterdam""#));
    // The session's start, in a <time> with its UTC instant.
    assert!(
        settings.body.contains(r#"<time datetime=""#),
        "{}",
        settings.body
    );
    assert!(settings.body.contains(r#"Z">"#), "{}", settings.body);

    let list = site.get("/meetings", Some(&cookie)).await;
    assert!(list.body.contains("29 maart 2026 01:59"), "{}", list.body);
    assert!(list.body.contains("29 maart 2026 03:00"), "{}", list.body);
    assert!(!list.body.contains("02:00"), "{}", list.body);
    let page = site
        .get(&format!("/meetings/{}", before.id), Some(&cookie))
        .await;
    assert!(page.body.contains("29 maart 2026 01:59"), "{}", page.body);

    // German, and a date alone.
    profile(&site, &cookie, "Ann", "de", "Europe/Amsterdam").await;
    let tasks = site.get("/tasks", Some(&cookie)).await;
    assert!(
        tasks.body.contains(r#"<time datetime="2026-05-04""#),
        "{}",
        tasks.body
    );
    assert!(tasks.body.contains("4. Mai 2026"), "{}", tasks.body);
    let list = site.get("/meetings", Some(&cookie)).await;
    assert!(list.body.contains("29. März 2026, 03:00"), "{}", list.body);

    // A zone the tz database does not know is refused, and nothing changes.
    let refused = profile(&site, &cookie, "Ann", "de", "Mars/Olympus").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let list = site.get("/meetings", Some(&cookie)).await;
    assert!(list.body.contains("29. März 2026, 03:00"), "{}", list.body);

    // Cleared: UTC again.
    profile(&site, &cookie, "Ann", "en", "").await;
    let list = site.get("/meetings", Some(&cookie)).await;
    assert!(list.body.contains("29 March 2026, 01:00"), "{}", list.body);
}
