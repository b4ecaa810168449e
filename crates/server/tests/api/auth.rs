use axum::http::{header, Method, StatusCode};
use threadline_server::admin;

use crate::common::{TestApp, OWNER_EMAIL};

#[tokio::test]
async fn missing_token_is_401_with_error_body() {
    let app = TestApp::new().await;
    let answer = app
        .send_raw(Method::GET, "/api/v1/me", None, None, &[])
        .await;
    answer.assert_error(StatusCode::UNAUTHORIZED, "unauthorized", None);
    assert!(
        answer.message().contains("Authorization"),
        "{}",
        answer.message()
    );
    assert_eq!(answer.headers[header::WWW_AUTHENTICATE], "Bearer");
}

#[tokio::test]
async fn malformed_and_unknown_tokens_are_401() {
    let app = TestApp::new().await;
    let basic = app
        .send_raw(
            Method::GET,
            "/api/v1/me",
            None,
            None,
            &[("authorization", "Basic YTpi")],
        )
        .await;
    basic.assert_error(StatusCode::UNAUTHORIZED, "unauthorized", None);
    assert!(basic.message().contains("Bearer"), "{}", basic.message());

    let not_ours = app.get_as("abc123", "/api/v1/me").await;
    not_ours.assert_error(StatusCode::UNAUTHORIZED, "unauthorized", None);

    // Well-formed but unknown: one character off the real token.
    let mut wrong = app.token.clone();
    let last = if wrong.ends_with('0') { '1' } else { '0' };
    wrong.pop();
    wrong.push(last);
    let unknown = app.get_as(&wrong, "/api/v1/me").await;
    unknown.assert_error(StatusCode::UNAUTHORIZED, "unauthorized", None);
    assert!(
        unknown.message().contains("not valid"),
        "{}",
        unknown.message()
    );

    // Every route under /api/v1 is protected, also the POSTs (checked before the body).
    let lookup = app
        .send_raw(
            Method::POST,
            "/api/v1/lookup",
            None,
            Some("{not json".into()),
            &[],
        )
        .await;
    lookup.assert_error(StatusCode::UNAUTHORIZED, "unauthorized", None);
}

#[tokio::test]
async fn revoked_token_is_401() {
    let app = TestApp::new().await;
    let mut conn = app.pool().acquire().await.unwrap();
    let extra = admin::create_token(&mut conn, app.user_id, "laptop")
        .await
        .unwrap();
    assert_eq!(
        app.get_as(&extra.token, "/api/v1/me").await.status,
        StatusCode::OK
    );

    admin::revoke_token(&mut conn, extra.id).await.unwrap();
    let answer = app.get_as(&extra.token, "/api/v1/me").await;
    answer.assert_error(StatusCode::UNAUTHORIZED, "unauthorized", None);
    assert!(answer.message().contains("revoked"), "{}", answer.message());
    // Revoking twice is an error; the other token still works.
    assert!(admin::revoke_token(&mut conn, extra.id).await.is_err());
    assert_eq!(app.get("/api/v1/me").await.status, StatusCode::OK);
}

#[tokio::test]
async fn me_answers_the_user_and_normalised_own_addresses() {
    let app = TestApp::new().await;
    let answer = app.get("/api/v1/me").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["user"]["email"], OWNER_EMAIL);
    assert_eq!(answer.body["user"]["name"], "Ann Owner");
    assert_eq!(answer.body["user"]["id"], app.user_id.to_string());
    assert_eq!(
        answer.body["own_addresses"],
        serde_json::json!([OWNER_EMAIL, "ann.work@ourco.io"])
    );
}

#[tokio::test]
async fn last_used_at_is_written_at_most_once_a_minute() {
    let app = TestApp::new().await;
    let last_used = || async {
        let value: Option<String> = sqlx::query_scalar("SELECT last_used_at FROM api_tokens")
            .fetch_one(app.pool())
            .await
            .unwrap();
        value
    };
    assert_eq!(last_used().await, None);
    assert_eq!(app.get("/api/v1/me").await.status, StatusCode::OK);
    let first = last_used().await.expect("written on first use");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(app.get("/api/v1/me").await.status, StatusCode::OK);
    assert_eq!(
        last_used().await,
        Some(first),
        "not written again within a minute"
    );
}

#[tokio::test]
async fn healthz_needs_no_token() {
    let app = TestApp::new().await;
    let answer = app.send_raw(Method::GET, "/healthz", None, None, &[]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, serde_json::Value::String("ok".into()));
}

#[tokio::test]
async fn unknown_route_and_wrong_method_are_error_bodies() {
    let app = TestApp::new().await;
    app.get("/api/v1/nothing-here")
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found", None);
    app.get("/api/v1/lookup").await.assert_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        None,
    );
}
