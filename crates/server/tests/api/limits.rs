//! What every answer carries, paths the router cannot read, and request rates. (The
//! connection limits and timeouts are tested with real sockets in `tests/binary.rs`.)

use std::net::SocketAddr;
use std::num::NonZeroU32;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request, StatusCode};

use crate::common::TestApp;
use threadline_server::rate_limit::RateLimits;

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

/// A request from `peer` (as the server's accept loop records it), with `token` if any.
fn from_peer(path: &str, token: Option<&str>, peer: &str) -> Request<Body> {
    let mut builder = Request::get(path);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let mut request = builder.body(Body::empty()).unwrap();
    let peer: SocketAddr = peer.parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    request
}

/// With a small budget configured: a token over it gets 429 with `Retry-After` and a JSON
/// error; another token (even from the same address) does not; requests without a valid
/// token count against their address, made-up tokens included.
#[tokio::test]
async fn over_its_budget_a_token_gets_429_and_another_token_does_not() {
    let mut app = TestApp::new().await;
    let colleague = app.colleague("cole@ourco.com").await;
    let limits = RateLimits {
        per_second: NonZeroU32::new(1).unwrap(),
        burst: NonZeroU32::new(3).unwrap(),
    };
    app.router = threadline_server::router(app.state.clone().with_rate_limits(limits));
    let token = app.token.clone();
    let peer = "10.0.0.1:5000";

    for _ in 0..3 {
        let ok = app.call(from_peer("/api/v1/me", Some(&token), peer)).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    }
    let limited = app.call(from_peer("/api/v1/me", Some(&token), peer)).await;
    limited.assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", None);
    let retry: u64 = limited.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "Retry-After: {retry}");
    assert_eq!(limited.headers[header::CONTENT_TYPE], "application/json");

    // Another token, same address: its own budget.
    for _ in 0..3 {
        let ok = app
            .call(from_peer("/api/v1/me", Some(&colleague), peer))
            .await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    }

    // Without a valid token: the address's budget, made-up tokens included.
    let other_peer = "10.0.0.2:5000";
    let bogus = format!("tl_{}", "0".repeat(64));
    for token in [None, Some(bogus.as_str()), None] {
        let refused = app.call(from_peer("/api/v1/me", token, other_peer)).await;
        refused.assert_error(StatusCode::UNAUTHORIZED, "unauthorized", None);
    }
    app.call(from_peer("/api/v1/me", Some(&bogus), other_peer))
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", None);
    app.call(from_peer("/healthz", None, other_peer))
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", None);
    // Another address is not affected.
    app.call(from_peer("/api/v1/me", None, "10.0.0.3:5000"))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized", None);
}
