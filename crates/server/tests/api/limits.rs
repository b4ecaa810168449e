//! What every answer carries, and paths the router cannot read. (The connection limits
//! and timeouts are tested with real sockets in `tests/binary.rs`.)

use axum::http::{header, Method, StatusCode};

use crate::common::TestApp;

#[tokio::test]
async fn every_answer_is_nosniff_and_no_store() {
    let app = TestApp::new().await;
    let anonymous = app
        .send_raw(Method::GET, "/api/v1/me", None, None, &[])
        .await;
    let answers = [
        app.get("/api/v1/me").await,
        app.get("/api/v1/contacts").await,
        anonymous,
        app.get("/api/v1/no-such-route").await,
        app.get("/healthz").await,
        app.get("/api/v1/openapi.json").await,
    ];
    for answer in answers {
        assert_eq!(
            answer.headers[header::X_CONTENT_TYPE_OPTIONS],
            "nosniff",
            "{}",
            answer.body
        );
        assert_eq!(
            answer.headers[header::CACHE_CONTROL],
            "no-store",
            "{}",
            answer.body
        );
    }
}

/// A path whose percent-encoding is malformed or not UTF-8 is a JSON 400 like every error,
/// on every route (records, tracked emails, documents, unknown ones), before the token.
#[tokio::test]
async fn a_path_that_is_not_percent_encoded_utf8_is_a_json_400() {
    let app = TestApp::new().await;
    for path in [
        "/api/v1/contacts/%FF",
        "/api/v1/tracked-emails/%E2%82",
        "/api/v1/companies/%C3%28",
        "/api/v1/contacts/%ZZ",
        "/api/v1/tasks/abc%",
        "/api/v1/no-such/%FF",
    ] {
        let answer = app.get(path).await;
        answer.assert_error(StatusCode::BAD_REQUEST, "invalid_path", None);
        assert_eq!(
            answer.headers[header::CONTENT_TYPE],
            "application/json",
            "{path}"
        );
        let anonymous = app.send_raw(Method::GET, path, None, None, &[]).await;
        anonymous.assert_error(StatusCode::BAD_REQUEST, "invalid_path", None);
    }
    // Well-formed escapes still reach the route.
    app.get("/api/v1/contacts/caf%C3%A9").await.assert_error(
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
}
