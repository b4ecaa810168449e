use axum::http::StatusCode;
use serde_json::json;

use crate::common::TestApp;

const KEY: &str = "3f6c1a52-5d1e-4b8e-9a51-2f0f7d2b9c11";

#[tokio::test]
async fn the_same_key_and_request_replays_the_first_answer() {
    let app = TestApp::new().await;
    let token = app.token.clone();
    let body = json!({ "title": "Follow up", "due_date": "2025-01-31" });
    let first = app.post_keyed(&token, "/api/v1/tasks", &body, KEY).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert!(first.headers.get("idempotent-replayed").is_none());

    // Same request, written differently (spacing, key order): the same answer, no new task.
    let respaced = "{ \"due_date\" : \"2025-01-31\",\n \"title\": \"Follow up\" }";
    let second = app
        .post_keyed(&token, "/api/v1/tasks", &respaced, KEY)
        .await;
    assert_eq!(second.status, StatusCode::CREATED);
    assert_eq!(second.body, first.body);
    assert_eq!(second.headers["idempotent-replayed"], "true");
    assert_eq!(app.count("tasks").await, 1);

    // Without the key, a new task each time.
    let third = app.post("/api/v1/tasks", body).await;
    assert_ne!(third.body["id"], first.body["id"]);
    assert_eq!(app.count("tasks").await, 2);
}

#[tokio::test]
async fn the_same_key_with_another_request_is_refused() {
    let app = TestApp::new().await;
    let token = app.token.clone();
    let first = app
        .post_keyed(&token, "/api/v1/tasks", &json!({ "title": "A" }), KEY)
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let other = app
        .post_keyed(&token, "/api/v1/tasks", &json!({ "title": "B" }), KEY)
        .await;
    other.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
        Some("Idempotency-Key"),
    );
    // On another endpoint too.
    let contact = json!({ "emails": ["a@acme.com"] }).to_string();
    app.post_keyed(&token, "/api/v1/contacts", &contact, KEY)
        .await
        .assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            Some("Idempotency-Key"),
        );
    assert_eq!(app.count("tasks").await, 1);
    assert_eq!(app.count("contacts").await, 0);
}

#[tokio::test]
async fn contacts_support_the_key_and_failures_are_not_recorded() {
    let app = TestApp::new().await;
    let token = app.token.clone();
    let bad = json!({ "emails": ["nope"] }).to_string();
    let failed = app.post_keyed(&token, "/api/v1/contacts", &bad, KEY).await;
    assert_eq!(failed.status, StatusCode::UNPROCESSABLE_ENTITY);

    // The key is still free after a failure.
    let body = json!({ "first_name": "Bob", "emails": ["bob@acme.com"],
                       "company": { "kind": "new", "name": "Acme", "domain": "acme.com" } })
    .to_string();
    let first = app.post_keyed(&token, "/api/v1/contacts", &body, KEY).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let again = app.post_keyed(&token, "/api/v1/contacts", &body, KEY).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body, first.body);
    assert_eq!(app.count("contacts").await, 1);
    assert_eq!(app.count("companies").await, 1);

    // Keys belong to a user: a colleague's same key is a new request.
    let colleague = app.colleague("zoe@ourco.com").await;
    let theirs = app
        .post_keyed(&colleague, "/api/v1/contacts", &body, KEY)
        .await;
    assert_eq!(theirs.status, StatusCode::CREATED);
    assert_ne!(theirs.body["id"], first.body["id"]);
    assert_eq!(app.count("contacts").await, 2);
}

#[tokio::test]
async fn a_malformed_key_is_400() {
    let app = TestApp::new().await;
    let token = app.token.clone();
    let long = "k".repeat(256);
    for key in [long.as_str(), "has space", ""] {
        app.post_keyed(&token, "/api/v1/tasks", &json!({ "title": "A" }), key)
            .await
            .assert_error(
                StatusCode::BAD_REQUEST,
                "invalid_header",
                Some("Idempotency-Key"),
            );
    }
    assert_eq!(app.count("tasks").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_with_one_key_make_one_task() {
    let app = TestApp::new().await;
    let body = json!({ "title": "Call back", "due_date": "2025-02-01" });
    let answers = app
        .post_concurrently(8, "/api/v1/tasks", &body, &[("idempotency-key", KEY)])
        .await;
    let first = &answers[0].body;
    for answer in &answers {
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        assert_eq!(&answer.body, first, "every answer is the one task");
    }
    let replayed = answers
        .iter()
        .filter(|a| a.headers.get("idempotent-replayed").is_some())
        .count();
    assert_eq!(
        replayed, 7,
        "one request made the task, the others replayed it"
    );
    assert_eq!(app.count("tasks").await, 1);
}
