//! The records a tracked email is on, changed by hand:
//! `PUT`/`DELETE /api/v1/tracked-emails/{id}/links/{record_kind}/{record_id}`. The owner
//! adds exactly the record named and takes it off; both are idempotent; a change is a new
//! version on the changes feed and shows on the timelines; a colleague, another
//! organisation, an unknown record and a stale If-Match are refused and change nothing.

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::common::{new_company, track_body, Answer, TestApp};
use crate::records::send_v;

fn link_path(email: &Value, kind: &str, record: &Value) -> String {
    format!(
        "/api/v1/tracked-emails/{}/links/{kind}/{}",
        email["id"].as_str().unwrap(),
        record["id"].as_str().unwrap()
    )
}

/// The `(record_kind, record_id)` pairs of an entry's links, sorted.
fn links_of(email: &Value) -> Vec<(String, String)> {
    let mut links: Vec<(String, String)> = email["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["record_kind"].as_str().unwrap().to_string(),
                l["record_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    links.sort();
    links
}

fn pair(kind: &str, record: &Value) -> (String, String) {
    (kind.to_string(), record["id"].as_str().unwrap().to_string())
}

async fn timeline_ids(app: &TestApp, kind: &str, record: &Value) -> Vec<String> {
    let id = record["id"].as_str().unwrap();
    let page = app
        .get(&format!(
            "/api/v1/tracked-emails?record_kind={kind}&record_id={id}"
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

/// Ann's email tracked on Bob (so on Acme too), and a second contact and company to add.
struct World {
    app: TestApp,
    email: Value,
    bob: Value,
    carol: Value,
    globex: Value,
}

async fn world() -> World {
    let app = TestApp::new().await;
    let bob = app.bob_at_acme().await;
    let carol = app
        .contact(
            "Carol",
            "Chen",
            &["carol@globex.com"],
            Some(new_company("Globex", None)),
        )
        .await;
    let globex_id = carol["company"]["id"].clone();
    let globex = app
        .get(&format!(
            "/api/v1/companies/{}",
            globex_id.as_str().unwrap()
        ))
        .await
        .body;
    let tracked = app
        .post(
            "/api/v1/tracked-emails",
            track_body(&["18c0ffee00000001"], &[&bob]),
        )
        .await;
    assert_eq!(tracked.status, StatusCode::CREATED, "{}", tracked.body);
    World {
        app,
        email: tracked.body["tracked_email"].clone(),
        bob,
        carol,
        globex,
    }
}

fn version_of(answer: &Answer) -> i64 {
    answer.body["version"].as_i64().unwrap()
}

#[tokio::test]
async fn the_owner_adds_exactly_the_record_named_and_takes_it_off() {
    let w = world().await;
    let app = &w.app;
    let acme = w.bob["company"]["id"].as_str().unwrap().to_string();
    let before = version_of(
        &app.get(&format!(
            "/api/v1/tracked-emails/{}",
            w.email["id"].as_str().unwrap()
        ))
        .await,
    );

    // Adding Carol links Carol alone (not her company), as a new version.
    let added = send_v(
        app,
        Method::PUT,
        &link_path(&w.email, "contact", &w.carol),
        None,
        None,
    )
    .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    assert_eq!(version_of(&added), before + 1);
    assert_eq!(
        added.headers["etag"],
        format!("\"{}\"", before + 1).as_str()
    );
    let mut expected = vec![
        ("company".to_string(), acme.clone()),
        pair("contact", &w.bob),
        pair("contact", &w.carol),
    ];
    expected.sort();
    assert_eq!(links_of(&added.body), expected);
    let email_id = w.email["id"].as_str().unwrap().to_string();
    assert_eq!(
        timeline_ids(app, "contact", &w.carol).await,
        vec![email_id.clone()]
    );
    assert!(timeline_ids(app, "company", &w.globex).await.is_empty());

    // Again: nothing changes, not even the version.
    let again = send_v(
        app,
        Method::PUT,
        &link_path(&w.email, "contact", &w.carol),
        None,
        None,
    )
    .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(version_of(&again), before + 1);
    assert_eq!(links_of(&again.body), expected);

    // The company by hand, with a current If-Match.
    let company = send_v(
        app,
        Method::PUT,
        &link_path(&w.email, "company", &w.globex),
        None,
        Some(before + 1),
    )
    .await;
    assert_eq!(company.status, StatusCode::OK, "{}", company.body);
    assert_eq!(
        timeline_ids(app, "company", &w.globex).await,
        vec![email_id.clone()]
    );

    // Taking Bob off leaves Acme (each link is its own), and the feed has the new version.
    let removed = send_v(
        app,
        Method::DELETE,
        &link_path(&w.email, "contact", &w.bob),
        None,
        None,
    )
    .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    assert_eq!(version_of(&removed), before + 3);
    assert!(!links_of(&removed.body).contains(&pair("contact", &w.bob)));
    assert!(links_of(&removed.body).contains(&("company".to_string(), acme)));
    assert!(timeline_ids(app, "contact", &w.bob).await.is_empty());
    let feed = app.get("/api/v1/changes").await;
    let entry = feed.body["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "tracked_email" && c["id"] == w.email["id"])
        .cloned()
        .unwrap_or_else(|| panic!("the email is not on the feed: {}", feed.body));
    assert_eq!(entry["version"].as_i64(), Some(before + 3), "{}", feed.body);

    // Taking it off again changes nothing.
    let again = send_v(
        app,
        Method::DELETE,
        &link_path(&w.email, "contact", &w.bob),
        None,
        None,
    )
    .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(version_of(&again), before + 3);
}

#[tokio::test]
async fn refusals_change_nothing() {
    let w = world().await;
    let app = &w.app;
    let email_path = format!("/api/v1/tracked-emails/{}", w.email["id"].as_str().unwrap());
    let links_before = links_of(&app.get(&email_path).await.body);

    // A stale If-Match.
    let stale = send_v(
        app,
        Method::PUT,
        &link_path(&w.email, "contact", &w.carol),
        None,
        Some(99),
    )
    .await;
    stale.assert_error(
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
        Some("If-Match"),
    );

    // A record that does not exist, or was deleted.
    let nobody = serde_json::json!({ "id": uuid::Uuid::now_v7().to_string() });
    let unknown = send_v(
        app,
        Method::PUT,
        &link_path(&w.email, "contact", &nobody),
        None,
        None,
    )
    .await;
    unknown.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "not_found",
        Some("record_id"),
    );
    let carol_path = format!("/api/v1/contacts/{}", w.carol["id"].as_str().unwrap());
    let deleted = send_v(app, Method::DELETE, &carol_path, None, Some(1)).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let gone = send_v(
        app,
        Method::PUT,
        &link_path(&w.email, "contact", &w.carol),
        None,
        None,
    )
    .await;
    gone.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "not_found",
        Some("record_id"),
    );

    // A contact's id named as a company, and a kind that has no timeline.
    let wrong_kind = send_v(
        app,
        Method::PUT,
        &link_path(&w.email, "company", &w.bob),
        None,
        None,
    )
    .await;
    wrong_kind.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "not_found",
        Some("record_id"),
    );
    let project = send_v(
        app,
        Method::PUT,
        &link_path(&w.email, "project", &w.bob),
        None,
        None,
    )
    .await;
    assert_eq!(project.status, StatusCode::NOT_FOUND, "{}", project.body);

    // A colleague may not change Ann's entry, even to add a record they can see.
    let ben = app.colleague("ben@ourco.com").await;
    let path = link_path(&w.email, "contact", &w.bob);
    let by_ben = app
        .send_raw(Method::DELETE, &path, Some(&ben), None, &[])
        .await;
    by_ben.assert_error(StatusCode::FORBIDDEN, "forbidden", None);

    // Another organisation does not see the email at all.
    let eve = app.user_in_new_org("eve@elsewhere.com").await;
    let by_eve = app
        .send_raw(Method::PUT, &path, Some(&eve), None, &[])
        .await;
    assert_eq!(by_eve.status, StatusCode::NOT_FOUND, "{}", by_eve.body);

    assert_eq!(links_of(&app.get(&email_path).await.body), links_before);

    // A deleted entry is 404.
    let version = version_of(&app.get(&email_path).await);
    let trashed = send_v(app, Method::DELETE, &email_path, None, Some(version)).await;
    assert_eq!(trashed.status, StatusCode::NO_CONTENT, "{}", trashed.body);
    let on_deleted = send_v(app, Method::DELETE, &path, None, None).await;
    assert_eq!(
        on_deleted.status,
        StatusCode::NOT_FOUND,
        "{}",
        on_deleted.body
    );
}
