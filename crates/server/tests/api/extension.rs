//! The extension's sign-in, its API step: `POST /api/v1/extension/token` trades a device
//! code (made when the user allowed the device on the web app's `/connect/extension`) and
//! its PKCE verifier for a device token, once; the token works, shows under `/tokens`, and
//! once revoked (the web app's Devices) is refused with 401.

use axum::http::{Method, StatusCode};
use serde_json::json;
use threadline_server::accounts::devices::{challenge_of, issue_device_code};
use threadline_server::actor;

use crate::common::TestApp;

const CHROME: &str = "https://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/";
const VERIFIER: &str = "a-verifier-of-forty-three-characters-or-more.0123456789";

async fn code(app: &TestApp) -> String {
    let mut conn = app.pool().acquire().await.unwrap();
    let me = actor::of_user(&mut conn, app.user_id)
        .await
        .unwrap()
        .unwrap();
    issue_device_code(
        &app.db,
        &me,
        CHROME,
        &challenge_of(VERIFIER),
        "Firefox on Linux",
        chrono::Utc::now(),
    )
    .await
    .unwrap()
}

async fn trade(app: &TestApp, body: serde_json::Value) -> crate::common::Answer {
    app.send_raw(
        Method::POST,
        "/api/v1/extension/token",
        None,
        Some(body.to_string()),
        &[],
    )
    .await
}

#[tokio::test]
async fn a_code_and_its_verifier_give_a_device_token_once_without_a_bearer() {
    let app = TestApp::new().await;
    let c = code(&app).await;
    let made = trade(
        &app,
        json!({"code": c, "code_verifier": VERIFIER, "redirect_uri": CHROME}),
    )
    .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    assert_eq!(made.body["device"], "Firefox on Linux");
    let token = made.body["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("tl_"));
    assert_eq!(
        app.get_as(&token, "/api/v1/me").await.status,
        StatusCode::OK
    );
    let listed = app.get("/api/v1/tokens").await;
    assert!(listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["id"] == made.body["id"] && t["name"] == "Firefox on Linux"));

    // Used once.
    let again = trade(&app, json!({"code": c, "code_verifier": VERIFIER})).await;
    again.assert_error(StatusCode::BAD_REQUEST, "invalid_code", None);

    // Revoked (as the Devices list does): the next request is refused.
    let id = made.body["id"].as_str().unwrap();
    let revoked = app
        .send_raw(
            Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            Some(&app.token),
            None,
            &[],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(
        app.get_as(&token, "/api/v1/me").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_wrong_verifier_is_refused_and_spends_the_code() {
    let app = TestApp::new().await;
    let c = code(&app).await;
    let wrong = trade(
        &app,
        json!({"code": c, "code_verifier": "another-verifier-of-forty-three-characters-or-more.01234"}),
    )
    .await;
    wrong.assert_error(StatusCode::BAD_REQUEST, "invalid_code", None);
    let late = trade(&app, json!({"code": c, "code_verifier": VERIFIER})).await;
    late.assert_error(StatusCode::BAD_REQUEST, "invalid_code", None);
    let unknown_field = trade(&app, json!({"code": c, "code_verifier": VERIFIER, "x": 1})).await;
    assert_eq!(
        unknown_field.status.as_u16() / 100,
        4,
        "{}",
        unknown_field.body
    );
}

#[tokio::test]
async fn the_route_is_in_the_openapi_document_without_a_bearer() {
    let app = TestApp::new().await;
    let doc = app.get("/api/v1/openapi.json").await;
    let op = &doc.body["paths"]["/api/v1/extension/token"]["post"];
    assert_eq!(op["operationId"], "extension_token", "{op}");
    assert!(op.get("security").is_none(), "{op}");
    assert!(op["responses"]["400"].is_object());
    let tokens = &doc.body["paths"]["/api/v1/tokens"]["get"];
    assert!(tokens["security"].is_array());
}
