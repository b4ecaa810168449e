//! Connecting Dropbox and keeping its token valid, against the local fake Dropbox
//! (`threadline-fake-providers`) over real HTTP, with the harness of the Google tests
//! (`google_account::setup_dropbox`): the same flow, Dropbox's wire.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::Value;
use threadline_server::connections::Status;
use threadline_server::oauth::Error;
use threadline_server::secrets::{ExposeSecret, SecretString};

use crate::common::{Answer, TestApp};
use crate::google_account::*;

const REVOKE: &str = "/2/auth/token/revoke";

fn page_text(answer: &Answer) -> &str {
    answer.body.as_str().unwrap_or_default()
}

impl Setup {
    /// `users/get_current_account` at the fake with `token`: its HTTP status (200 while the
    /// token is alive, 401 once revoked or expired).
    async fn account_status(&self, token: &SecretString) -> reqwest::StatusCode {
        self.http
            .post(format!(
                "{}/2/users/get_current_account",
                self.fake.base_url()
            ))
            .bearer_auth(token.expose_secret())
            .send()
            .await
            .unwrap()
            .status()
    }

    /// The fake's token endpoint with `refresh_token`: its HTTP status.
    async fn refresh_status(&self, refresh_token: &SecretString) -> reqwest::StatusCode {
        self.http
            .post(format!("{}/oauth2/token", self.fake.base_url()))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.expose_secret()),
                ("client_id", APP_KEY),
                ("client_secret", APP_SECRET),
            ])
            .send()
            .await
            .unwrap()
            .status()
    }

    fn revokes(&self) -> usize {
        self.fake.log().count("POST", REVOKE)
    }
}

#[tokio::test]
async fn the_dropbox_connect_flow_stores_an_encrypted_connection() {
    let s = setup_dropbox().await;
    let link = s.start_link(&s.app.token).await;
    let opened = s.browser.get(&s.app, &link).await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
    assert_eq!(opened.headers["cache-control"], "no-store");
    let cookie = opened.headers["set-cookie"].to_str().unwrap();
    for attribute in ["; Path=/", "; Max-Age=600", "; HttpOnly", "; SameSite=Lax"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let url: url::Url = opened.headers["location"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        url.as_str()
            .starts_with(&format!("{}/oauth2/authorize?", s.fake.base_url())),
        "{url}"
    );
    let params: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(params["client_id"], APP_KEY);
    assert_eq!(params["redirect_uri"], DROPBOX_REDIRECT);
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["token_access_type"], "offline");
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["code_challenge"].len(), 43, "SHA-256, base64url");
    assert!(params["state"].len() >= 16);
    // Who the account is, and the document sync's scopes (asked at connect: connecting
    // Dropbox is for the documents).
    assert_eq!(
        params["scope"],
        "account_info.read files.metadata.read files.metadata.write files.content.read \
         files.content.write"
    );
    assert!(
        !params.contains_key("access_type"),
        "Google's, not Dropbox's"
    );

    let page = s.callback(&s.consent(&url).await).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let text = page_text(&page);
    assert!(text.contains("Dropbox account connected"), "{text}");
    assert!(
        text.contains("connected to dana.dropbox@example.com"),
        "{text}"
    );
    assert!(text.contains("You can close this tab"), "{text}");
    assert_eq!(s.app.count("oauth_pending").await, 0, "a flow is used once");
    assert_eq!(
        s.browser.cookie_count(),
        0,
        "the callback clears the cookie"
    );
    assert_eq!(
        s.fake.log().count("POST", "/2/users/get_current_account"),
        1
    );

    let list = s.app.get("/api/v1/connections").await;
    let connection = &list.body["items"][0];
    assert_eq!(connection["provider"], "dropbox");
    assert_eq!(connection["status"], "ok");
    assert_eq!(connection["account_email"], DROPBOX_USER);
    let account_id = s.fake.dropbox().add_account(DROPBOX_USER);
    assert!(account_id.starts_with("dbid:"), "{account_id}");
    assert_eq!(connection["account_id"], account_id.as_str());
    // Granted as asked, sorted.
    assert_eq!(
        connection["scopes"],
        serde_json::json!([
            "account_info.read",
            "files.content.read",
            "files.content.write",
            "files.metadata.read",
            "files.metadata.write"
        ])
    );
    assert!(
        !list.body.to_string().contains("sl.fake"),
        "no token is shown"
    );
    let id: uuid::Uuid = connection["id"].as_str().unwrap().parse().unwrap();
    let (access, refresh): (String, String) =
        sqlx::query_as("SELECT access_token, refresh_token FROM connections WHERE id = $1")
            .bind(id.to_string())
            .fetch_one(s.app.pool())
            .await
            .unwrap();
    for stored in [&access, &refresh] {
        assert!(stored.starts_with("v1:"), "encrypted at rest: {stored}");
        assert!(!stored.contains("fake"), "{stored}");
    }
    let tokens = s.stored(id).await;
    let access = tokens.access_token.unwrap();
    assert!(access.expose_secret().starts_with("sl.fake-"));
    assert!(tokens
        .refresh_token
        .unwrap()
        .expose_secret()
        .starts_with("fake-refresh-"));
    assert_eq!(s.account_status(&access).await, reqwest::StatusCode::OK);

    // Dropbox's tokens live 4 hours: the token source answers the stored one, no request.
    let before = s.token_calls();
    let token = s.tokens().access_token(id).await.unwrap();
    assert_eq!(token.token.expose_secret(), access.expose_secret());
    assert!(token.expires_at.unwrap() > chrono::Utc::now() + chrono::Duration::minutes(235));
    assert_eq!(s.token_calls(), before);
}

#[tokio::test]
async fn a_dropbox_token_is_refreshed_ahead_of_expiry_and_invalid_grant_needs_reauth() {
    let s = setup_dropbox().await;
    // Tokens live 4 minutes now: less than the 5-minute margin.
    s.fake
        .dropbox()
        .set_access_token_lifetime(Duration::from_secs(240));
    let id = s.connect().await;
    let first = s.stored(id).await;
    let first_access = first.access_token.unwrap();
    let refresh = first.refresh_token.unwrap();
    s.fake
        .dropbox()
        .set_access_token_lifetime(Duration::from_secs(14400));

    let before = s.token_calls();
    let token = s.tokens().access_token(id).await.unwrap();
    assert_ne!(token.token.expose_secret(), first_access.expose_secret());
    assert_eq!(s.token_calls(), before + 1, "one refresh");
    assert_eq!(
        s.account_status(&token.token).await,
        reqwest::StatusCode::OK
    );
    let stored = s.stored(id).await;
    assert_eq!(
        stored.access_token.unwrap().expose_secret(),
        token.token.expose_secret()
    );
    assert_eq!(
        stored.refresh_token.unwrap().expose_secret(),
        refresh.expose_secret(),
        "Dropbox does not rotate refresh tokens: the stored one is kept"
    );
    // Fresh now: used as it is.
    let again = s.tokens().access_token(id).await.unwrap();
    assert_eq!(again.token.expose_secret(), token.token.expose_secret());
    assert_eq!(s.token_calls(), before + 1);

    // The user unlinked the app: invalid_grant, the connection needs re-authorization.
    s.fake
        .dropbox()
        .invalidate_refresh_token(refresh.expose_secret());
    s.make_due(id).await;
    let err = s.tokens().access_token(id).await.unwrap_err();
    assert!(
        matches!(err, Error::NeedsReauth { id: e, .. } if e == id),
        "{err}"
    );
    assert!(err.pauses_schedules() && !err.is_transient());
    let connection = s.connection(id).await;
    assert_eq!(connection.status, Status::NeedsReauth);
    let reason = connection.status_reason.unwrap();
    assert!(reason.contains("invalid_grant"), "{reason}");
    assert!(reason.contains("Dropbox"), "{reason}");
    let calls = s.token_calls();
    assert!(matches!(
        s.tokens().access_token(id).await.unwrap_err(),
        Error::NeedsReauth { .. }
    ));
    assert_eq!(s.token_calls(), calls, "not asked again");

    // Connecting again makes it usable.
    let query = s.consent(&s.start().await).await;
    assert_eq!(s.callback(&query).await.status, StatusCode::OK);
    assert_eq!(s.connection(id).await.status, Status::Ok);
    assert!(s.tokens().access_token(id).await.is_ok());
}

#[tokio::test]
async fn disconnecting_revokes_the_grant_at_dropbox() {
    let s = setup_dropbox().await;
    let id = s.connect().await;
    let tokens = s.stored(id).await;
    let (access, refresh) = (tokens.access_token.unwrap(), tokens.refresh_token.unwrap());
    s.disconnect(id).await;
    assert_eq!(s.revokes(), 1);
    // Dead at Dropbox: the access token and its refresh token.
    assert_eq!(
        s.account_status(&access).await,
        reqwest::StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.refresh_status(&refresh).await,
        reqwest::StatusCode::BAD_REQUEST
    );
    let err = s.tokens().access_token(id).await.unwrap_err();
    assert!(matches!(err, Error::Disconnected(_)), "{err}");

    // An access token that has expired meanwhile (4 hours): refreshed, then revoked with the
    // new one, so that the refresh token dies too.
    let id = s.connect().await;
    let refresh = s.stored(id).await.refresh_token.unwrap();
    s.fake.dropbox().expire_access_tokens();
    let calls = s.token_calls();
    s.disconnect(id).await;
    assert_eq!(s.token_calls(), calls + 1, "one refresh to revoke with");
    assert_eq!(s.revokes(), 3, "the expired token, then the fresh one");
    assert_eq!(
        s.refresh_status(&refresh).await,
        reqwest::StatusCode::BAD_REQUEST
    );

    // A revoke that fails does not fail the disconnect.
    let id = s.connect().await;
    s.fake.faults().inject(
        threadline_fake_providers::FaultRule::new(threadline_fake_providers::Fault::Unavailable)
            .on("POST", REVOKE)
            .times(threadline_fake_providers::Times::Once),
    );
    s.disconnect(id).await;
}

/// The Google flow's protections hold for Dropbox: the start link once, the browser that
/// opened it, the state once (and only at its own provider's callback), the API token not
/// revoked, the user's refusal, escaped pages.
#[tokio::test]
async fn the_dropbox_callback_has_the_flows_protections() {
    let s = setup_dropbox().await;
    let refused = |page: &Answer, status: StatusCode, words: &str| {
        assert_eq!(page.status, status, "{}", page.body);
        let text = page_text(page);
        assert!(text.contains(words), "{text}");
        assert!(text.contains("Dropbox account not connected"), "{text}");
    };

    // Another browser than the one that opened the start link: nothing is exchanged.
    let url = s.start().await;
    let query = s.consent(&url).await;
    let exchanges = s.token_calls();
    let other = Browser::default();
    refused(
        &s.callback_in(&other, &query).await,
        StatusCode::BAD_REQUEST,
        "not started in this browser",
    );
    // Replayed: the state was spent, even in the right browser.
    refused(
        &s.callback(&query).await,
        StatusCode::BAD_REQUEST,
        "already used",
    );
    assert_eq!(s.token_calls(), exchanges, "the code is never exchanged");

    // The start link works once.
    let link = s.start_link(&s.app.token).await;
    s.open(&s.browser, &link).await;
    refused(
        &s.browser.get(&s.app, &link).await,
        StatusCode::BAD_REQUEST,
        "already opened",
    );

    // The user said no; a remote string is escaped.
    let state_of = |url: &url::Url| {
        url.query_pairs()
            .find(|(k, _)| k == "state")
            .unwrap()
            .1
            .into_owned()
    };
    let state = state_of(&s.start().await);
    refused(
        &s.callback(&format!("error=access_denied&state={state}"))
            .await,
        StatusCode::BAD_REQUEST,
        "did not allow Threadline to use your Dropbox account",
    );
    let state = state_of(&s.start().await);
    let odd = s
        .callback(&format!("error=%3Cb%3Ex%3C%2Fb%3E&state={state}"))
        .await;
    assert!(page_text(&odd).contains("&lt;b&gt;x"), "{}", odd.body);
    assert!(!page_text(&odd).contains("<b>"), "{}", odd.body);

    // A Google flow's state brought to Dropbox's callback: refused, and spent.
    let google_link = s.app.post("/api/v1/connections/google", Value::Null).await;
    assert_eq!(google_link.status, StatusCode::OK, "{}", google_link.body);
    let google_url = s
        .open(&s.browser, google_link.body["start_url"].as_str().unwrap())
        .await;
    let state = state_of(&google_url);
    refused(
        &s.callback(&format!("code=x&state={state}")).await,
        StatusCode::BAD_REQUEST,
        "already used",
    );

    // A Google start link opened at Dropbox's start path: not a link of Dropbox's, and
    // left unopened (it still works where it belongs).
    let google_link = s.app.post("/api/v1/connections/google", Value::Null).await;
    let link = google_link.body["start_url"].as_str().unwrap().to_string();
    let misplaced = link.replace("/oauth/google/start", "/oauth/dropbox/start");
    assert_ne!(misplaced, link);
    refused(
        &s.browser.get(&s.app, &misplaced).await,
        StatusCode::BAD_REQUEST,
        "not one Threadline made",
    );
    let opened = s.browser.get(&s.app, &link).await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);

    // The API token that started the flow was revoked while the user was at Dropbox.
    let created = s
        .app
        .post("/api/v1/tokens", serde_json::json!({ "name": "extension" }))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let token = created.body["token"].as_str().unwrap().to_string();
    let url = s.open(&s.browser, &s.start_link(&token).await).await;
    let query = s.consent(&url).await;
    let path = format!("/api/v1/tokens/{}", created.body["id"].as_str().unwrap());
    let revoked = s
        .app
        .send_raw(Method::DELETE, &path, Some(&s.app.token.clone()), None, &[])
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    let exchanges = s.token_calls();
    refused(
        &s.callback(&query).await,
        StatusCode::FORBIDDEN,
        "has been revoked",
    );
    assert_eq!(s.token_calls(), exchanges);

    assert_eq!(s.app.count("connections").await, 0);
}

/// A Dropbox account is one Threadline user's at a time. The refused grant is revoked at
/// Dropbox (its tokens are that authorization's own, unlike Google's one grant per
/// account): the other user's connection keeps working.
#[tokio::test]
async fn a_dropbox_account_connected_to_another_user_is_refused() {
    let s = setup_dropbox().await;
    let ann = s.connect().await;
    let anns = s.stored(ann).await.access_token.unwrap();
    let mallory = s.app.user_in_new_org("mallory@theirs.com").await;
    let browser = Browser::default();
    let url = s.open(&browser, &s.start_link(&mallory).await).await;
    let page = s.callback_in(&browser, &s.consent(&url).await).await;
    assert_eq!(page.status, StatusCode::CONFLICT, "{}", page.body);
    assert!(
        page_text(&page)
            .contains("dana.dropbox@example.com is already connected to another Threadline user"),
        "{}",
        page.body
    );
    let theirs = s.app.get_as(&mallory, "/api/v1/connections").await;
    assert_eq!(
        theirs.body["items"],
        serde_json::json!([]),
        "{}",
        theirs.body
    );
    assert_eq!(s.revokes(), 1, "the refused grant is given back");
    // Ann's grant is another one: alive.
    assert_eq!(s.account_status(&anns).await, reqwest::StatusCode::OK);
    assert_eq!(s.connection(ann).await.status, Status::Ok);
    assert!(s.tokens().access_token(ann).await.is_ok());
}

#[tokio::test]
async fn connecting_dropbox_without_an_app_is_a_clear_error() {
    let app = TestApp::new().await;
    let answer = app.post("/api/v1/connections/dropbox", Value::Null).await;
    answer.assert_error(StatusCode::CONFLICT, "provider_not_configured", None);
    assert!(answer.message().contains("app key"), "{}", answer.body);
    assert!(
        answer.message().contains("Connecting Dropbox"),
        "{}",
        answer.body
    );

    // Google configured is not Dropbox configured.
    let s = setup().await;
    let answer = s.app.post("/api/v1/connections/dropbox", Value::Null).await;
    answer.assert_error(StatusCode::CONFLICT, "provider_not_configured", None);
    // And its callback, reached anyway, is a page, not a server error.
    let page = s
        .browser
        .get(&s.app, &format!("{DROPBOX_REDIRECT}?code=x&state=y"))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
}
