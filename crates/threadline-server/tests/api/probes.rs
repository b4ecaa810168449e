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
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)")
        .execute(app.pool())
        .await
        .unwrap();
    let ready = app.send_raw(Method::GET, "/readyz", None, None, &[]).await;
    ready.assert_error(StatusCode::SERVICE_UNAVAILABLE, "not_ready", None);
    assert!(ready.message().starts_with("migrations"), "{}", ready.body);
}
