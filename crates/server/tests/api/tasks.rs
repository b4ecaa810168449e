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

/// The records API over tasks: get, PUT, PATCH (If-Match), assignee, linked record, soft
/// delete (gone from the bar's state), the feed.
#[tokio::test]
async fn tasks_on_the_records_framework() {
    use crate::records::{all_pages, send_v};
    use axum::http::Method;
    let app = TestApp::new().await;
    let colleague = app.colleague("carol@example.com").await;
    let carol = app.get_as(&colleague, "/api/v1/me").await.body["user"].clone();
    let bob = app.contact("Bob", "", &["bob@acme.com"], None).await;
    let made = app
        .post(
            "/api/v1/tasks",
            json!({ "title": "Send it", "source_message_id": "163d03bfda277ec1", "contact_id": bob["id"] }),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED);
    assert_eq!(made.headers["etag"], "\"1\"");
    let path = made.headers["location"].to_str().unwrap().to_string();
    let task = app.get(&path).await;
    assert_eq!(task.status, StatusCode::OK);
    assert_eq!(
        task.body["linked"],
        json!({"kind": "contact", "id": bob["id"]})
    );
    assert_eq!(task.body["contact_id"], bob["id"]);
    assert_eq!(task.body["version"], 1);
    for key in [
        "id",
        "title",
        "assignee",
        "done",
        "source_message_id",
        "contact_id",
        "created_at",
    ] {
        assert_eq!(task.body[key], made.body[key], "{key}");
    }

    // PATCH: assign Carol, link a company, mark done.
    let acme = crate::records::create(&app, "companies", json!({"name": "Acme"})).await;
    let patch = json!({"assignee_id": carol["id"], "linked": {"kind": "company", "id": acme["id"]}, "done": true});
    send_v(&app, Method::PATCH, &path, Some(patch.clone()), None)
        .await
        .assert_error(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition_required",
            Some("If-Match"),
        );
    send_v(&app, Method::PATCH, &path, Some(patch.clone()), Some(2))
        .await
        .assert_error(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            Some("If-Match"),
        );
    let patched = send_v(&app, Method::PATCH, &path, Some(patch), Some(1)).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["assignee"]["email"], "carol@example.com");
    assert_eq!(patched.body["done"], true);
    assert_eq!(patched.body["contact_id"], json!(null));
    assert_eq!(patched.body["source_message_id"], "163d03bfda277ec1");

    // Field errors.
    for (body, code, field) in [
        (
            json!({"assignee_id": uuid::Uuid::now_v7()}),
            "not_found",
            "assignee_id",
        ),
        (
            json!({"linked": {"kind": "planet", "id": acme["id"]}}),
            "invalid_field",
            "linked.kind",
        ),
        (
            json!({"linked": {"kind": "project", "id": acme["id"]}}),
            "not_found",
            "linked.id",
        ),
        (json!({"title": ""}), "invalid_field", "title"),
        (
            json!({"due_date": "2025-13-01"}),
            "invalid_body",
            "due_date",
        ),
    ] {
        send_v(&app, Method::PATCH, &path, Some(body), Some(2))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, code, Some(field));
    }
    let other = app.user_in_new_org("mallory@other.org").await;
    let mallory = app.get_as(&other, "/api/v1/me").await.body["user"]["id"].clone();
    send_v(
        &app,
        Method::PATCH,
        &path,
        Some(json!({"assignee_id": mallory})),
        Some(2),
    )
    .await
    .assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "not_found",
        Some("assignee_id"),
    );

    // PUT replaces: no link, no assignee given means the caller.
    let put = send_v(
        &app,
        Method::PUT,
        &path,
        Some(json!({"title": "Renamed"})),
        Some(2),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(put.body["linked"], json!(null));
    assert_eq!(put.body["assignee"]["id"], app.user_id.to_string());
    assert_eq!(put.body["source_message_id"], json!(null));
    let put = send_v(
        &app,
        Method::PUT,
        &path,
        Some(json!({"title": "Renamed", "source_message_id": "163d03bfda277ec1"})),
        Some(3),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);

    // Deleted: gone from the list, the search and the bar's state; a tombstone in the feed.
    assert_eq!(
        app.get("/api/v1/tasks?q=renamed").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let state = || {
        app.post(
            "/api/v1/tracked-emails/state",
            json!({"messages": [{"ids": ["163d03bfda277ec1"]}]}),
        )
    };
    assert_eq!(
        state().await.body["messages"][0]["tasks"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        send_v(&app, Method::DELETE, &path, None, Some(4))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(state().await.body["messages"][0]["tasks"], json!([]));
    assert_eq!(app.get("/api/v1/tasks").await.body["items"], json!([]));
    app.get(&path)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found", None);
    let feed = app.get("/api/v1/changes").await.body;
    let last = feed["changes"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        last,
        json!({"kind": "task", "id": task.body["id"], "version": 5, "deleted": true})
    );

    for i in 0..5 {
        app.post("/api/v1/tasks", json!({"title": format!("T{i}")}))
            .await;
    }
    let titles: Vec<String> = all_pages(&app, "/api/v1/tasks", 2)
        .await
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(titles, ["T0", "T1", "T2", "T3", "T4"]);
}
