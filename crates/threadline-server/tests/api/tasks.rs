use axum::http::StatusCode;
use serde_json::json;

use crate::common::{TestApp, OWNER_EMAIL};

#[tokio::test]
async fn creates_a_task_assigned_to_the_caller() {
    let app = TestApp::new().await;
    let bob = app.contact("Bob", "", &["bob@acme.com"], None).await;
    let answer = app
        .post(
            "/api/v1/tasks",
            json!({
                "title": "  Send the contract  ",
                "description": "before Friday",
                "due_date": "2025-06-30",
                "source_message_id": "163D03BFDA277EC1",
                "gmail_thread_id": "#thread-f:1",
                "contact_id": bob["id"],
            }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    let task = &answer.body;
    assert_eq!(task["title"], "Send the contract");
    assert_eq!(task["description"], "before Friday");
    assert_eq!(task["due_date"], "2025-06-30");
    assert_eq!(task["done"], false);
    assert_eq!(task["assignee"]["id"], app.user_id.to_string());
    assert_eq!(task["assignee"]["email"], OWNER_EMAIL);
    assert_eq!(task["source_message_id"], "163d03bfda277ec1");
    assert_eq!(task["contact_id"], bob["id"]);
    assert!(task["created_at"].as_str().is_some());

    // A minimal task.
    let minimal = app
        .post("/api/v1/tasks", json!({ "title": "Call back" }))
        .await;
    assert_eq!(minimal.status, StatusCode::CREATED, "{}", minimal.body);
    assert!(minimal.body.get("due_date").is_none());
    assert!(minimal.body.get("contact_id").is_none());

    // The assignee is whoever calls.
    let colleague = app.colleague("zoe@ourco.com").await;
    let theirs = app
        .post_as(&colleague, "/api/v1/tasks", json!({ "title": "Mine" }))
        .await;
    assert_eq!(theirs.body["assignee"]["email"], "zoe@ourco.com");
}

#[tokio::test]
async fn task_validation() {
    let app = TestApp::new().await;
    for title in ["", "   "] {
        app.post("/api/v1/tasks", json!({ "title": title }))
            .await
            .assert_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                Some("title"),
            );
    }
    app.post("/api/v1/tasks", json!({ "title": "t".repeat(201) }))
        .await
        .assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("title"),
        );
    let exact = app
        .post(
            "/api/v1/tasks",
            json!({ "title": format!("  {}  ", "ü".repeat(200)) }),
        )
        .await;
    assert_eq!(
        exact.status,
        StatusCode::CREATED,
        "200 characters after trimming: {}",
        exact.body
    );

    app.post(
        "/api/v1/tasks",
        json!({ "title": "t", "contact_id": "0190f5f0-0000-7000-8000-000000000000" }),
    )
    .await
    .assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "not_found",
        Some("contact_id"),
    );
    app.post(
        "/api/v1/tasks",
        json!({ "title": "t", "source_message_id": "a b" }),
    )
    .await
    .assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("source_message_id"),
    );
    app.post(
        "/api/v1/tasks",
        json!({ "title": "t", "assignee": "someone" }),
    )
    .await
    .assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
        Some("assignee"),
    );
    assert_eq!(app.count("tasks").await, 1);
}
