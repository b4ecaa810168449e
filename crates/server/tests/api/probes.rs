//! `/healthz`, `/readyz` and `/metrics`: no token needed.

use axum::http::{Method, StatusCode};

use crate::common::TestApp;

#[tokio::test]
async fn readyz_is_ok_when_the_database_answers_and_is_migrated() {
    let app = TestApp::new().await;
    let ready = app.send_raw(Method::GET, "/readyz", None, None, &[]).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(ready.body, "ok");
    let live = app.send_raw(Method::GET, "/healthz", None, None, &[]).await;
    assert_eq!(live.status, StatusCode::OK);
}

#[tokio::test]
async fn readyz_is_503_naming_the_database_when_the_pool_is_closed() {
    let app = TestApp::new().await;
    app.db.close().await;
    let ready = app.send_raw(Method::GET, "/readyz", None, None, &[]).await;
    ready.assert_error(StatusCode::SERVICE_UNAVAILABLE, "not_ready", None);
    assert!(ready.message().starts_with("database"), "{}", ready.body);
}

#[tokio::test]
async fn readyz_is_503_naming_migrations_that_are_not_applied() {
    let app = TestApp::new().await;
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .execute(app.pool())
    .await
    .unwrap();
    let ready = app.send_raw(Method::GET, "/readyz", None, None, &[]).await;
    ready.assert_error(StatusCode::SERVICE_UNAVAILABLE, "not_ready", None);
    assert!(ready.message().starts_with("migrations"), "{}", ready.body);
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_never_by_raw_path() {
    let app = TestApp::new().await;
    let id = uuid::Uuid::now_v7().to_string();
    for _ in 0..3 {
        let missing = app.get(&format!("/api/v1/contacts/{id}")).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
    }
    assert_eq!(app.get("/api/v1/me").await.status, StatusCode::OK);
    let unknown = app.get(&format!("/no/such/{id}")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    let metrics = app.send_raw(Method::GET, "/metrics", None, None, &[]).await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(metrics.headers[axum::http::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = metrics.body.as_str().expect("text").to_string();
    let count_of = |labels: &str| {
        text.lines()
            .find(|l| l.starts_with("http_request_duration_seconds_count{") && l.contains(labels))
            .and_then(|l| l.rsplit(' ').next())
            .map(|n| n.parse::<u64>().unwrap())
    };
    assert_eq!(
        count_of(r#"method="GET",route="/api/v1/contacts/{id}",status="4xx""#),
        Some(3),
        "{text}"
    );
    assert_eq!(
        count_of(r#"method="GET",route="/api/v1/me",status="2xx""#),
        Some(1),
        "{text}"
    );
    assert_eq!(count_of(r#"route="unmatched""#), Some(1), "{text}");
    assert!(!text.contains(&id), "no raw ids in labels: {text}");
    assert!(
        text.contains("http_request_duration_seconds_bucket{"),
        "{text}"
    );
    assert!(text.contains("db_pool_max_connections "), "{text}");
    assert!(text.contains("db_pool_idle_connections "), "{text}");
}
