use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::common::TestApp;

#[tokio::test]
async fn malformed_json_is_400() {
    let app = TestApp::new().await;
    let token = app.token.clone();
    for body in [
        "{\"emails\": [",
        "not json",
        "",
        "{\"emails\": []} trailing",
    ] {
        let answer = app
            .send_raw(
                Method::POST,
                "/api/v1/contacts",
                Some(&token),
                Some(body.into()),
                &[],
            )
            .await;
        answer.assert_error(StatusCode::BAD_REQUEST, "invalid_json", None);
    }
}

#[tokio::test]
async fn wrong_shape_is_422_naming_the_field() {
    let app = TestApp::new().await;
    let post = |body| app.post("/api/v1/contacts", body);

    let unknown = post(json!({ "emails": ["a@acme.com"], "nickname": "Bobby" })).await;
    unknown.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
        Some("nickname"),
    );
    assert!(
        unknown.message().contains("unknown field"),
        "{}",
        unknown.message()
    );

    post(json!({ "first_name": "A" })).await.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
        Some("emails"),
    );
    post(json!({ "emails": "a@acme.com" })).await.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
        Some("emails"),
    );
    post(json!({ "emails": ["a@acme.com", 7] }))
        .await
        .assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            Some("emails[1]"),
        );
    // `company` is an internally tagged enum, which serde reads as a whole: the path ends
    // there, and the message says what is wrong inside.
    let bad_id =
        post(json!({ "emails": ["a@acme.com"], "company": { "kind": "existing", "id": "nope" } }))
            .await;
    bad_id.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
        Some("company"),
    );
    assert!(bad_id.message().contains("UUID"), "{}", bad_id.message());
    post(json!({ "emails": ["a@acme.com"], "company": { "kind": "bogus" } }))
        .await
        .assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            Some("company.kind"),
        );
    // Nested request types reject unknown fields too.
    app.post(
        "/api/v1/tracked-emails/state",
        json!({ "messages": [{ "ids": ["a"], "extra": 1 }] }),
    )
    .await
    .assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
        Some("messages[0].extra"),
    );
    app.post(
        "/api/v1/tasks",
        json!({ "title": "t", "due_date": "2025-13-01" }),
    )
    .await
    .assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
        Some("due_date"),
    );
}

#[tokio::test]
async fn a_body_without_json_content_type_is_415() {
    let app = TestApp::new().await;
    let token = format!("Bearer {}", app.token);
    let body = json!({ "addresses": [] }).to_string();
    let request = |content_type: Option<&str>| {
        let mut builder = axum::http::Request::builder()
            .method(Method::POST)
            .uri("/api/v1/lookup")
            .header("authorization", &token);
        if let Some(ct) = content_type {
            builder = builder.header("content-type", ct);
        }
        builder.body(axum::body::Body::from(body.clone())).unwrap()
    };
    app.call(request(None)).await.assert_error(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        None,
    );
    app.call(request(Some("text/plain"))).await.assert_error(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        None,
    );
    let ok = app
        .call(request(Some("application/json; charset=utf-8")))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
}

#[tokio::test]
async fn a_body_over_1_mib_is_413() {
    let app = TestApp::new().await;
    let big = json!({ "addresses": ["x".repeat(1024 * 1024)] }).to_string();
    let token = app.token.clone();
    app.send_raw(Method::POST, "/api/v1/lookup", Some(&token), Some(big), &[])
        .await
        .assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", None);
    // Just under the limit is read (and answered on its merits).
    let fits = json!({ "addresses": ["x".repeat(1000 * 1024)] }).to_string();
    let answer = app
        .send_raw(
            Method::POST,
            "/api/v1/lookup",
            Some(&token),
            Some(fits),
            &[],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["results"][0]["status"], "invalid");
}
