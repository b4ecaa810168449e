//! Personal API tokens over the API (`/api/v1/tokens`) and the organisation's users.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use threadline_server::auth::hash_token;

use crate::common::{TestApp, OWNER_EMAIL};

async fn delete_as(app: &TestApp, token: &str, path: &str) -> crate::common::Answer {
    app.send_raw(Method::DELETE, path, Some(token), None, &[])
        .await
}

fn listed<'a>(list: &'a Value, id: &Value) -> &'a Value {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == *id)
        .unwrap_or_else(|| panic!("{id} is not in {list}"))
}

#[tokio::test]
async fn a_token_is_created_shown_once_listed_without_secret_and_revoked() {
    let app = TestApp::new().await;
    let created = app
        .post("/api/v1/tokens", json!({"name": " laptop "}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let token = created.body["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("tl_") && token.len() == 67, "{token}");
    assert_eq!(created.body["name"], "laptop");
    assert_eq!(created.body["last_used_at"], Value::Null);
    assert_eq!(created.body["revoked_at"], Value::Null);
    assert_eq!(created.body["current"], false);
    let id = created.body["id"].clone();

    // It works, and its use is recorded.
    assert_eq!(
        app.get_as(&token, "/api/v1/me").await.status,
        StatusCode::OK
    );
    let list = app.get("/api/v1/tokens").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);
    let new = listed(&list.body, &id);
    assert!(new["last_used_at"].is_string(), "{new}");
    assert_eq!(new["current"], false);
    assert!(new.get("token").is_none());
    let first = &list.body["items"][0];
    assert_eq!(first["current"], true, "the token of the request: {first}");
    // Neither the token nor its hash is in the list; the database holds only the hash.
    let text = list.body.to_string();
    assert!(!text.contains(&token) && !text.contains(&hash_token(&token)));
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM api_tokens")
        .fetch_all(app.pool())
        .await
        .unwrap();
    assert!(stored.contains(&hash_token(&token)));
    assert!(!stored.contains(&token));

    // Revoked: refused from then on; revoking again changes nothing.
    let path = format!("/api/v1/tokens/{}", id.as_str().unwrap());
    let revoked = delete_as(&app, &app.token, &path).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    let revoked_at = revoked.body["revoked_at"].as_str().unwrap().to_string();
    let refused = app.get_as(&token, "/api/v1/me").await;
    refused.assert_error(StatusCode::UNAUTHORIZED, "unauthorized", None);
    assert!(
        refused.message().contains("revoked"),
        "{}",
        refused.message()
    );
    let again = delete_as(&app, &app.token, &path).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["revoked_at"], revoked_at.as_str());
    assert_eq!(
        listed(&app.get("/api/v1/tokens").await.body, &id)["revoked_at"],
        revoked_at.as_str()
    );
    assert_eq!(app.get("/api/v1/me").await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_token_of_the_request_may_revoke_itself() {
    let app = TestApp::new().await;
    let created = app
        .post("/api/v1/tokens", json!({"name": "old phone"}))
        .await;
    let token = created.body["token"].as_str().unwrap().to_string();
    let path = format!("/api/v1/tokens/{}", created.body["id"].as_str().unwrap());
    let answer = delete_as(&app, &token, &path).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["current"], true);
    app.get_as(&token, "/api/v1/tokens").await.assert_error(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        None,
    );
}

#[tokio::test]
async fn a_bad_name_is_refused_naming_the_field() {
    let app = TestApp::new().await;
    app.post("/api/v1/tokens", json!({})).await.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
        Some("name"),
    );
    app.post("/api/v1/tokens", json!({"name": "  "}))
        .await
        .assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("name"),
        );
    let long = app
        .post("/api/v1/tokens", json!({"name": "x".repeat(101)}))
        .await;
    long.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("name"),
    );
    assert!(long.message().contains("at most 100"), "{}", long.message());
    app.post("/api/v1/tokens", json!({"name": "a", "scope": "all"}))
        .await
        .assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            Some("scope"),
        );
    app.send_raw(
        Method::DELETE,
        "/api/v1/tokens/not-a-uuid",
        Some(&app.token.clone()),
        None,
        &[],
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "not_found", None);
    assert_eq!(app.count("api_tokens").await, 1, "nothing was created");
}

/// Tokens are each user's own: a colleague or another organisation neither lists nor
/// revokes them (404, as a missing token), and the token keeps working.
#[tokio::test]
async fn tokens_are_isolated_between_users_and_organisations() {
    let app = TestApp::new().await;
    let colleague = app.colleague("cole@ourco.com").await;
    let other = app.user_in_new_org("mallory@other.org").await;
    let created = app.post("/api/v1/tokens", json!({"name": "mine"})).await;
    let mine = created.body["token"].as_str().unwrap().to_string();
    let path = format!("/api/v1/tokens/{}", created.body["id"].as_str().unwrap());
    for intruder in [&colleague, &other] {
        let list = app.get_as(intruder, "/api/v1/tokens").await;
        assert_eq!(
            list.body["items"].as_array().unwrap().len(),
            1,
            "{}",
            list.body
        );
        assert_eq!(list.body["items"][0]["current"], true);
        delete_as(&app, intruder, &path).await.assert_error(
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        );
    }
    assert_eq!(app.get_as(&mine, "/api/v1/me").await.status, StatusCode::OK);
    assert_eq!(
        app.get("/api/v1/tokens").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn users_lists_the_callers_organisation_only() {
    let app = TestApp::new().await;
    app.colleague("cole@ourco.com").await;
    let other = app.user_in_new_org("mallory@other.org").await;
    let users = app.get("/api/v1/users").await;
    assert_eq!(users.status, StatusCode::OK, "{}", users.body);
    let emails: Vec<&str> = users.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, [OWNER_EMAIL, "cole@ourco.com"]);
    assert_eq!(users.body["items"][0]["name"], "Ann Owner");
    assert_eq!(users.body["items"][0]["id"], app.user_id.to_string());
    let theirs = app.get_as(&other, "/api/v1/users").await;
    assert_eq!(
        theirs.body,
        json!({"items": [{"id": theirs.body["items"][0]["id"], "name": "Other", "email": "mallory@other.org"}]})
    );
}

/// Revoking a token revokes the tokens it created, and theirs (the whole tree below it);
/// the token that created it, and the user's other tokens, keep working.
#[tokio::test]
async fn revoking_a_token_revokes_the_tokens_it_created() {
    let app = TestApp::new().await;
    let create_as = |token: String, name: &'static str| {
        let app = &app;
        async move {
            let created = app
                .post_as(&token, "/api/v1/tokens", json!({ "name": name }))
                .await;
            assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
            (
                created.body["id"].as_str().unwrap().to_string(),
                created.body["token"].as_str().unwrap().to_string(),
            )
        }
    };
    let (laptop_id, laptop) = create_as(app.token.clone(), "laptop").await;
    let (_, minted) = create_as(laptop.clone(), "minted by the laptop").await;
    let (_, grandchild) = create_as(minted.clone(), "minted by that one").await;
    let (_, sibling) = create_as(app.token.clone(), "phone").await;
    let revoked = delete_as(&app, &app.token, &format!("/api/v1/tokens/{laptop_id}")).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    for gone in [&laptop, &minted, &grandchild] {
        let refused = app.get_as(gone, "/api/v1/me").await;
        refused.assert_error(StatusCode::UNAUTHORIZED, "unauthorized", None);
        assert!(refused.message().contains("revoked"), "{}", refused.body);
    }
    for kept in [&app.token, &sibling] {
        assert_eq!(app.get_as(kept, "/api/v1/me").await.status, StatusCode::OK);
    }
}
