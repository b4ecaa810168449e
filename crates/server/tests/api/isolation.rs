use axum::http::StatusCode;
use serde_json::json;

use crate::common::{new_company, track_body, TestApp};

/// A second organisation's token sees none of the first's records and cannot link them.
#[tokio::test]
async fn another_organisation_can_neither_see_nor_link_records() {
    let app = TestApp::new().await;
    let bob = app.bob_at_acme().await;
    let tracked = app
        .post(
            "/api/v1/tracked-emails",
            track_body(&["abc0000000000001"], &[&bob]),
        )
        .await;
    assert_eq!(tracked.status, StatusCode::CREATED);
    let task = app
        .post(
            "/api/v1/tasks",
            json!({ "title": "T", "source_message_id": "abc0000000000001" }),
        )
        .await;
    assert_eq!(task.status, StatusCode::CREATED);

    let other = app.user_in_new_org("mallory@other.org").await;
    let me = app.get_as(&other, "/api/v1/me").await;
    assert_eq!(me.body["user"]["email"], "mallory@other.org");

    // Lookup: Bob is unknown there, and Acme is no existing company.
    let lookup = app
        .post_as(
            &other,
            "/api/v1/lookup",
            json!({ "addresses": ["bob@acme.com"] }),
        )
        .await;
    assert_eq!(
        lookup.body["results"][0]["status"], "unknown",
        "{}",
        lookup.body
    );
    assert!(lookup.body["results"][0]["contacts"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(lookup.body["results"][0]["suggested_company"]
        .get("existing")
        .is_none());

    // Linking the first organisation's records is refused as if they did not exist.
    app.post_as(
        &other,
        "/api/v1/tracked-emails",
        track_body(&["abc0000000000001"], &[&bob]),
    )
    .await
    .assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "not_found",
        Some("contact_ids[0]"),
    );
    app.post_as(
        &other,
        "/api/v1/tasks",
        json!({ "title": "T", "contact_id": bob["id"] }),
    )
    .await
    .assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "not_found",
        Some("contact_id"),
    );
    app.post_as(
        &other,
        "/api/v1/contacts",
        json!({ "emails": ["x@acme.com"], "company": { "kind": "existing", "id": bob["company"]["id"] } }),
    )
    .await
    .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "not_found", Some("company.id"));

    // The state of the same message: neither the entry nor the task.
    let state = app
        .post_as(
            &other,
            "/api/v1/tracked-emails/state",
            json!({ "messages": [{ "ids": ["abc0000000000001"] }] }),
        )
        .await;
    assert_eq!(state.status, StatusCode::OK);
    assert_eq!(state.body["messages"][0], json!({ "tasks": [] }));

    // The same message tracked in the other organisation is its own entry, on its own
    // contact, and a new company of the same domain is its own too.
    let their_bob = app
        .contact_as(
            &other,
            "Bob",
            "",
            &["bob@acme.com"],
            Some(new_company("Acme", Some("acme.com"))),
        )
        .await;
    assert_ne!(their_bob["company"]["id"], bob["company"]["id"]);
    let theirs = app
        .post_as(
            &other,
            "/api/v1/tracked-emails",
            track_body(&["abc0000000000001"], &[&their_bob]),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.body);
    assert_ne!(
        theirs.body["tracked_email"]["id"],
        tracked.body["tracked_email"]["id"]
    );

    // And the first organisation still sees only its own.
    let ours = app
        .post("/api/v1/lookup", json!({ "addresses": ["bob@acme.com"] }))
        .await;
    assert_eq!(ours.body["results"][0]["status"], "known");
    assert_eq!(ours.body["results"][0]["contacts"][0]["id"], bob["id"]);
    let ours = app
        .post(
            "/api/v1/tracked-emails/state",
            json!({ "messages": [{ "ids": ["abc0000000000001"] }] }),
        )
        .await;
    assert_eq!(
        ours.body["messages"][0]["tracked_email"],
        tracked.body["tracked_email"]
    );
    assert_eq!(
        ours.body["messages"][0]["tasks"],
        json!([task.body.clone()])
    );
}

/// Every record type and verb: another organisation reads, lists, changes and deletes
/// nothing of ours, and its feed shows none of our changes.
#[tokio::test]
async fn the_record_matrix_is_isolated() {
    use axum::http::Method;
    let app = TestApp::new().await;
    let other = app.user_in_new_org("mallory@other.org").await;
    let acme = crate::records::create(&app, "companies", json!({"name": "Acme"})).await;
    let samples = [
        ("companies", json!({"name": "Acme 2"})),
        (
            "contacts",
            json!({"first_name": "Bob", "emails": ["bob@acme.com"], "company_id": acme["id"]}),
        ),
        ("projects", json!({"name": "P", "company_id": acme["id"]})),
        ("products", json!({"name": "W"})),
        (
            "tasks",
            json!({"title": "T", "linked": {"kind": "company", "id": acme["id"]}}),
        ),
        (
            "meetings",
            json!({"title": "M", "all_day": true, "start_date": "2026-01-01", "end_date": "2026-01-02", "links": [{"kind": "company", "id": acme["id"]}]}),
        ),
    ];
    for (collection, body) in &samples {
        let ours = crate::records::create(&app, collection, body.clone()).await;
        let path = format!("/api/v1/{collection}/{}", ours["id"].as_str().unwrap());
        // (POST /tasks answers the bar's task; the record is its GET.)
        let ours = app.get(&path).await.body;
        let tag = [("if-match", "\"1\"")];
        app.get_as(&other, &path)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found", None);
        app.get_as(&other, &format!("{path}?include_deleted=true"))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found", None);
        let listed = app
            .get_as(
                &other,
                &format!("/api/v1/{collection}?include_deleted=true"),
            )
            .await;
        assert_eq!(listed.body["items"], json!([]), "{collection}");
        for method in [Method::PUT, Method::PATCH] {
            app.send_raw(method, &path, Some(&other), Some(body.to_string()), &tag)
                .await
                .assert_error(StatusCode::NOT_FOUND, "not_found", None);
        }
        app.send_raw(Method::DELETE, &path, Some(&other), None, &tag)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found", None);
        // Still ours, untouched.
        assert_eq!(app.get(&path).await.body, ours);
    }
    // Their records cannot point at ours.
    app.post_as(
        &other,
        "/api/v1/projects",
        json!({"name": "P", "company_id": acme["id"]}),
    )
    .await
    .assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "not_found",
        Some("company_id"),
    );
    app.post_as(
        &other,
        "/api/v1/contacts",
        json!({"emails": ["x@y.org"], "company_id": acme["id"]}),
    )
    .await
    .assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "not_found",
        Some("company_id"),
    );
    assert_eq!(
        app.get_as(&other, "/api/v1/changes").await.body["changes"],
        json!([])
    );
    app.post_as(
        &other,
        "/api/v1/tasks",
        json!({"title": "T", "linked": {"kind": "company", "id": acme["id"]}}),
    )
    .await
    .assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "not_found",
        Some("linked.id"),
    );
    app.post_as(&other, "/api/v1/meetings", json!({"title": "M", "all_day": true, "start_date": "2026-01-01", "end_date": "2026-01-02", "links": [{"kind": "company", "id": acme["id"]}]}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "not_found", Some("links[0].id"));
    assert_eq!(
        app.get("/api/v1/changes").await.body["changes"]
            .as_array()
            .unwrap()
            .len(),
        7
    );
}

/// Tracked emails in the matrix: another organisation neither reads, lists, changes nor
/// deletes ours.
#[tokio::test]
async fn tracked_emails_are_isolated() {
    use axum::http::Method;
    let app = TestApp::new().await;
    let other = app.user_in_new_org("mallory@other.org").await;
    let bob = app.bob_at_acme().await;
    let tracked = app
        .post(
            "/api/v1/tracked-emails",
            track_body(&["abc0000000000001"], &[&bob]),
        )
        .await;
    let id = tracked.body["tracked_email"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v1/tracked-emails/{id}");
    let ours = app.get(&path).await.body;
    app.get_as(&other, &path)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found", None);
    assert_eq!(
        app.get_as(&other, "/api/v1/tracked-emails?include_deleted=true")
            .await
            .body["items"],
        json!([])
    );
    let bob_timeline = format!(
        "/api/v1/tracked-emails?record_kind=contact&record_id={}",
        bob["id"].as_str().unwrap()
    );
    app.get_as(&other, &bob_timeline)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found", None);
    let tag = [("if-match", "\"1\"")];
    app.send_raw(
        Method::PATCH,
        &path,
        Some(&other),
        Some(json!({"visibility": "shared"}).to_string()),
        &tag,
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "not_found", None);
    app.send_raw(Method::DELETE, &path, Some(&other), None, &tag)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found", None);
    assert_eq!(app.get(&path).await.body, ours);
    assert_eq!(
        app.get_as(&other, "/api/v1/changes").await.body["changes"],
        json!([])
    );
}
