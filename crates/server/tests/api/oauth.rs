//! Connecting Google and keeping its token valid, against the local fake Google
//! (`threadline-fake-providers`) over real HTTP: the server's router in-process, the fake on
//! 127.0.0.1, the browser's part played by `google_account::Browser` (its cookies for the server) and
//! reqwest (the fake's consent screen approves at once and redirects to the callback).

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::Value;
use threadline_fake_providers::google::oauth::account_id;
use threadline_fake_providers::{Fault, FaultRule, Times};
use threadline_server::connections::Status;
use threadline_server::oauth::Error;
use threadline_server::secrets::{ExposeSecret, SecretString, Slot};
use uuid::Uuid;

use crate::common::{Answer, TestApp};
use crate::google_account::*;

fn page_text(answer: &Answer) -> &str {
    answer.body.as_str().unwrap_or_default()
}

#[tokio::test]
async fn the_connect_flow_stores_an_encrypted_connection() {
    let s = setup().await;
    // The API answers a start link on this server; opening it sets the flow's cookie and
    // sends the browser to Google.
    let link = s.start_link(&s.app.token).await;
    let opened = s.browser.get(&s.app, &link).await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
    assert_eq!(opened.headers["cache-control"], "no-store");
    assert_eq!(opened.headers["referrer-policy"], "no-referrer");
    let cookie = opened.headers["set-cookie"].to_str().unwrap();
    for attribute in ["; Path=/", "; Max-Age=600", "; HttpOnly", "; SameSite=Lax"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(cookie.starts_with("threadline_oauth_"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http (loopback): {cookie}"
    );
    let url: url::Url = opened.headers["location"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let params: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert!(url
        .as_str()
        .starts_with(&format!("{}/o/oauth2/v2/auth?", s.fake.base_url())));
    assert_eq!(params["client_id"], CLIENT_ID);
    assert_eq!(params["redirect_uri"], REDIRECT);
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["access_type"], "offline");
    assert_eq!(params["prompt"], "consent");
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["code_challenge"].len(), 43, "SHA-256, base64url");
    assert!(params["state"].len() >= 16);
    let scopes: Vec<&str> = params["scope"].split(' ').collect();
    for scope in [
        "openid",
        "email",
        "https://www.googleapis.com/auth/calendar",
    ] {
        assert!(scopes.contains(&scope), "{scopes:?}");
    }
    // The pending flow holds none of its secrets in clear: the start link's, the state, the
    // cookie's (hashes), the verifier and the authorization URL (encrypted).
    let row: (String, String, String, String, String, String) = sqlx::query_as(
        "SELECT start_hash, state_hash, browser_hash, pkce_verifier, authorization_url,
             token_id FROM oauth_pending",
    )
    .fetch_one(s.app.pool())
    .await
    .unwrap();
    let (start_hash, state_hash, browser_hash, verifier, stored_url, token_id) = row;
    let cookie_secret = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    let link_secret = link.strip_prefix(START).unwrap();
    for (stored, secret) in [
        (&start_hash, link_secret),
        (&state_hash, params["state"].as_str()),
        (&browser_hash, cookie_secret),
    ] {
        assert_eq!(stored.len(), 64, "SHA-256 hex: {stored}");
        assert_ne!(stored, secret);
    }
    assert!(verifier.starts_with("v1:"), "{verifier}");
    assert!(stored_url.starts_with("v1:"), "{stored_url}");
    let first_token: String = sqlx::query_scalar("SELECT id FROM api_tokens")
        .fetch_one(s.app.pool())
        .await
        .unwrap();
    assert_eq!(token_id, first_token, "the flow knows the token that asked");

    let page = s.callback(&s.consent(&url).await).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page_text(&page).contains("connected to ann.google@example.com"),
        "{}",
        page.body
    );
    assert_eq!(
        page.headers["content-type"].to_str().unwrap(),
        "text/html; charset=utf-8"
    );
    assert!(page.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    assert_eq!(s.app.count("oauth_pending").await, 0, "a flow is used once");
    assert_eq!(
        s.browser.cookie_count(),
        0,
        "the callback clears the cookie"
    );

    let list = s.app.get("/api/v1/connections").await;
    let connection = &list.body["items"][0];
    assert_eq!(connection["provider"], "google");
    assert_eq!(connection["status"], "ok");
    assert_eq!(connection["account_email"], GOOGLE_USER);
    assert_eq!(connection["account_id"], account_id(GOOGLE_USER));
    assert!(connection["scopes"]
        .as_array()
        .unwrap()
        .contains(&Value::from("https://www.googleapis.com/auth/calendar")));
    assert!(!list.body.to_string().contains("ya29"), "no token is shown");
    let id: Uuid = connection["id"].as_str().unwrap().parse().unwrap();
    let (access, refresh): (String, String) =
        sqlx::query_as("SELECT access_token, refresh_token FROM connections WHERE id = $1")
            .bind(id.to_string())
            .fetch_one(s.app.pool())
            .await
            .unwrap();
    for stored in [&access, &refresh] {
        assert!(stored.starts_with("v1:"), "encrypted at rest: {stored}");
        assert!(!stored.contains("fake-"), "{stored}");
    }
    let tokens = s.stored(id).await;
    assert!(tokens
        .access_token
        .unwrap()
        .expose_secret()
        .starts_with("ya29.fake-"));
    assert!(tokens
        .refresh_token
        .unwrap()
        .expose_secret()
        .starts_with("1//fake-"));

    // The stored token is good for an hour: the token source answers it without a request.
    let before = s.token_calls();
    let token = s.tokens().access_token(id).await.unwrap();
    assert!(token.token.expose_secret().starts_with("ya29.fake-"));
    assert_eq!(s.token_calls(), before);
}

#[tokio::test]
async fn bad_expired_and_replayed_states_store_nothing() {
    let s = setup().await;
    let assert_refused = |page: &Answer, words: &str| {
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
        assert!(page_text(page).contains(words), "{}", page.body);
        assert!(page_text(page).contains("othing was connected") || words == "no state");
    };

    // No state, an unknown one.
    assert_refused(&s.callback("code=4/x").await, "no state");
    assert_refused(&s.callback("code=4/x&state=made-up").await, "already used");

    // Expired: the consent took over 10 minutes.
    let query = s.consent(&s.start().await).await;
    sqlx::query("UPDATE oauth_pending SET expires_at = $1")
        .bind("2000-01-01T00:00:00.000000Z")
        .execute(s.app.pool())
        .await
        .unwrap();
    assert_refused(&s.callback(&query).await, "expired");
    assert_eq!(s.app.count("connections").await, 0);

    // The user said no (Google sends the error with the state); a remote string is escaped.
    let url = s.start().await;
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let denied = s
        .callback(&format!("error=access_denied&state={state}"))
        .await;
    assert_refused(&denied, "did not allow");
    let url = s.start().await;
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let odd = s
        .callback(&format!(
            "error=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state={state}"
        ))
        .await;
    assert!(
        page_text(&odd).contains("&lt;script&gt;alert(1)"),
        "{}",
        odd.body
    );
    assert!(!page_text(&odd).contains("<script>"), "{}", odd.body);
    assert_eq!(s.app.count("connections").await, 0);

    // Replayed: the second callback with the same state finds nothing.
    let query = s.consent(&s.start().await).await;
    assert_eq!(s.callback(&query).await.status, StatusCode::OK);
    let exchanges = s.token_calls();
    assert_refused(&s.callback(&query).await, "already used");
    assert_eq!(s.token_calls(), exchanges, "a replay never reaches Google");
    assert_eq!(s.app.count("connections").await, 1);
}

#[tokio::test]
async fn a_pkce_mismatch_is_refused_by_google_and_stores_nothing() {
    let s = setup().await;
    let query = s.consent(&s.start().await).await;
    // Another verifier than the challenge was made from (as if the state were stolen and
    // replayed with an attacker's flow).
    let id: String = sqlx::query_scalar("SELECT id FROM oauth_pending")
        .fetch_one(s.app.pool())
        .await
        .unwrap();
    let forged = s
        .keys()
        .seal(
            &SecretString::from("x".repeat(43)),
            Slot {
                table: "oauth_pending",
                row_id: id.parse().unwrap(),
                field: "pkce_verifier",
            },
        )
        .unwrap();
    sqlx::query("UPDATE oauth_pending SET pkce_verifier = $1")
        .bind(forged)
        .execute(s.app.pool())
        .await
        .unwrap();
    let page = s.callback(&query).await;
    assert_eq!(page.status, StatusCode::BAD_GATEWAY, "{}", page.body);
    assert!(page_text(&page).contains("invalid_grant"), "{}", page.body);
    assert!(page_text(&page).contains("Nothing was connected"));
    // No connection is named: there is none (not the nil id).
    assert!(
        !page_text(&page).contains("authorized again"),
        "{}",
        page.body
    );
    assert!(
        !page_text(&page).contains(&Uuid::nil().to_string()),
        "{}",
        page.body
    );
    assert_eq!(s.app.count("connections").await, 0);
    assert_eq!(s.app.count("oauth_pending").await, 0);
}

#[tokio::test]
async fn connecting_without_a_configured_client_is_a_clear_error() {
    let app = TestApp::new().await;
    let answer = app.post("/api/v1/connections/google", Value::Null).await;
    answer.assert_error(StatusCode::CONFLICT, "provider_not_configured", None);
    assert!(answer.message().contains("client id"), "{}", answer.body);
}

#[tokio::test]
async fn a_token_is_refreshed_ahead_of_expiry_then_used_until_due() {
    let s = setup().await;
    // Google's tokens live 4 minutes now: less than the 5-minute margin.
    s.fake
        .google()
        .set_access_token_lifetime(Duration::from_secs(240));
    let id = s.connect().await;
    let first = s.stored(id).await.access_token.unwrap();
    s.fake
        .google()
        .set_access_token_lifetime(Duration::from_secs(3599));

    let before = s.token_calls();
    let token = s.tokens().access_token(id).await.unwrap();
    assert_ne!(
        token.token.expose_secret(),
        first.expose_secret(),
        "refreshed"
    );
    assert_eq!(s.token_calls(), before + 1);
    let stored = s.stored(id).await;
    assert_eq!(
        stored.access_token.unwrap().expose_secret(),
        token.token.expose_secret()
    );
    assert!(token.expires_at.unwrap() > chrono::Utc::now() + chrono::Duration::minutes(55));
    // The refresh token was kept (Google sends none on a refresh).
    assert!(stored.refresh_token.is_some());
    // Fresh now: used as it is.
    let again = s.tokens().access_token(id).await.unwrap();
    assert_eq!(again.token.expose_secret(), token.token.expose_secret());
    assert_eq!(s.token_calls(), before + 1);

    // The API refused it (401): another token, once.
    let replaced = s.tokens().replace_rejected(id, &token.token).await.unwrap();
    assert_ne!(replaced.token.expose_secret(), token.token.expose_secret());
    assert_eq!(s.token_calls(), before + 2);
    assert_eq!(s.app.count("oauth_refresh_leases").await, 0);
}

/// N callers at once, on one state and on two states (two server processes) over one
/// database: exactly one refresh reaches Google; everyone gets the new token.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_make_one_refresh_also_across_processes() {
    let s = setup().await;
    let id = s.connect().await;
    // A slow token endpoint keeps the race open.
    s.fake.faults().inject(
        FaultRule::new(Fault::Delay(Duration::from_millis(300)))
            .on("POST", "/token")
            .times(Times::Always),
    );
    let other_process = server_state(&s.app, &s.fake, &s.key_line, s.data.path());

    for sources in [
        vec![s.tokens()],
        vec![s.tokens(), other_process.token_source().unwrap()],
    ] {
        s.make_due(id).await;
        let before = s.token_calls();
        let issued = s.fake.google().access_tokens_issued();
        let mut calls = Vec::new();
        for i in 0..16 {
            let source = sources[i % sources.len()].clone();
            calls.push(tokio::spawn(async move { source.access_token(id).await }));
        }
        let mut tokens = Vec::new();
        for call in calls {
            tokens.push(
                call.await
                    .unwrap()
                    .unwrap()
                    .token
                    .expose_secret()
                    .to_string(),
            );
        }
        assert_eq!(s.token_calls(), before + 1, "{} sources", sources.len());
        assert_eq!(s.fake.google().access_tokens_issued(), issued + 1);
        assert!(tokens.iter().all(|t| t == &tokens[0]), "{tokens:?}");
        assert_eq!(
            s.stored(id).await.access_token.unwrap().expose_secret(),
            tokens[0]
        );
        assert_eq!(s.app.count("oauth_refresh_leases").await, 0);
    }
}

#[tokio::test]
async fn a_lease_left_by_a_dead_process_is_taken_over_once_expired() {
    let s = setup().await;
    let id = s.connect().await;
    s.make_due(id).await;
    let until = chrono::Utc::now() + chrono::Duration::milliseconds(800);
    sqlx::query(
        "INSERT INTO oauth_refresh_leases (connection_id, owner, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(id.to_string())
    .bind("a-process-that-died")
    .bind(threadline_server::db::format_time(until))
    .execute(s.app.pool())
    .await
    .unwrap();
    let before = s.token_calls();
    let started = std::time::Instant::now();
    let token = s.tokens().access_token(id).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "waited for the lease"
    );
    assert_eq!(s.token_calls(), before + 1);
    assert_eq!(
        s.stored(id).await.access_token.unwrap().expose_secret(),
        token.token.expose_secret()
    );
    assert_eq!(s.app.count("oauth_refresh_leases").await, 0);
}

#[tokio::test]
async fn invalid_grant_marks_the_connection_for_reauthorization_and_keeps_everything() {
    let s = setup().await;
    let id = s.connect().await;
    let refresh = s.stored(id).await.refresh_token.unwrap();
    s.fake
        .google()
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
    assert!(threadline_server::oauth::pauses_schedules(
        connection.status
    ));
    let reason = connection.status_reason.unwrap();
    assert!(reason.contains("invalid_grant"), "{reason}");
    // Nothing deleted: the tokens stay (the user reconnects; the data on both sides stays).
    let stored = s.stored(id).await;
    assert!(stored.refresh_token.is_some() && stored.access_token.is_some());
    assert_eq!(s.app.count("oauth_refresh_leases").await, 0);

    // Later calls do not ask Google again.
    let before = s.token_calls();
    let again = s.tokens().access_token(id).await.unwrap_err();
    assert!(matches!(again, Error::NeedsReauth { .. }), "{again}");
    assert_eq!(s.token_calls(), before);

    // Connecting again makes it usable.
    let query = s.consent(&s.start().await).await;
    assert_eq!(s.callback(&query).await.status, StatusCode::OK);
    assert_eq!(s.connection(id).await.status, Status::Ok);
    assert!(!threadline_server::oauth::pauses_schedules(Status::Ok));
    assert!(s.tokens().access_token(id).await.is_ok());
}

#[tokio::test]
async fn a_failing_token_endpoint_is_retryable_and_leaves_the_status() {
    let s = setup().await;
    let id = s.connect().await;
    s.make_due(id).await;
    let version = s.connection(id).await.version;

    s.fake.faults().inject(
        FaultRule::new(Fault::Unavailable)
            .on("POST", "/token")
            .times(Times::Once),
    );
    let err = s.tokens().access_token(id).await.unwrap_err();
    assert!(err.is_transient() && !err.pauses_schedules(), "{err}");
    assert!(err.to_string().contains("503"), "{err}");
    let connection = s.connection(id).await;
    assert_eq!(connection.status, Status::Ok);
    assert_eq!(connection.version, version, "nothing written");
    assert_eq!(s.app.count("oauth_refresh_leases").await, 0, "lease let go");

    s.fake.faults().inject(
        FaultRule::new(Fault::TooManyRequests {
            retry_after: Some(7),
        })
        .on("POST", "/token")
        .times(Times::Once),
    );
    match s.tokens().access_token(id).await.unwrap_err() {
        Error::Transient { retry_after, .. } => {
            assert_eq!(retry_after, Some(Duration::from_secs(7)))
        }
        other => panic!("{other}"),
    }

    // Google is back: the next call refreshes.
    assert!(s.tokens().access_token(id).await.is_ok());
    assert_eq!(s.connection(id).await.status, Status::Ok);
}

#[tokio::test]
async fn disconnecting_revokes_the_grant_at_google() {
    let s = setup().await;
    let id = s.connect().await;
    let refresh = s.stored(id).await.refresh_token.unwrap();
    s.disconnect(id).await;
    assert_eq!(s.fake.log().count("POST", "/revoke"), 1);
    // The grant is gone at Google: its refresh token no longer works.
    let refused = s
        .http
        .post(format!("{}/token", s.fake.base_url()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.expose_secret()),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), reqwest::StatusCode::BAD_REQUEST);
    // The token source says so without asking Google.
    let err = s.tokens().access_token(id).await.unwrap_err();
    assert!(matches!(err, Error::Disconnected(_)), "{err}");

    // A revoke that fails does not fail the disconnect.
    let id = s.connect().await;
    s.fake.faults().inject(
        FaultRule::new(Fault::BackendError)
            .on("POST", "/revoke")
            .times(Times::Once),
    );
    s.disconnect(id).await;
}

#[tokio::test]
async fn the_token_source_names_a_missing_connection() {
    let s = setup().await;
    let missing = Uuid::now_v7();
    let err = s.tokens().access_token(missing).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(id) if id == missing), "{err}");
}

/// The probe's account-linking CSRF: a user of another organisation starts a flow and gets
/// a victim to open the authorization URL and approve. The victim's browser has not opened
/// the start link (the attacker's has): the callback refuses before asking Google anything,
/// and the flow is spent.
#[tokio::test]
async fn an_authorization_url_finished_in_another_browser_connects_nothing() {
    let s = setup().await;
    let mallory = s.app.user_in_new_org("mallory@theirs.com").await;
    let attackers_browser = Browser::default();
    let link = s.start_link(&mallory).await;
    let url = s.open(&attackers_browser, &link).await;

    // The victim approves the attacker's authorization URL: Google sends the victim's
    // browser (no cookie) to the callback.
    let query = s.consent(&url).await;
    let exchanges = s.token_calls();
    let victims_browser = Browser::default();
    let page = s.callback_in(&victims_browser, &query).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(
        page_text(&page).contains("not started in this browser"),
        "{}",
        page.body
    );
    assert_eq!(s.token_calls(), exchanges, "the code is never exchanged");
    assert_eq!(s.app.count("connections").await, 0);
    assert_eq!(s.app.count("oauth_pending").await, 0, "the flow is spent");
    // Not even the attacker's browser can finish it now.
    let replay = s.callback_in(&attackers_browser, &query).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST, "{}", replay.body);
    assert!(
        page_text(&replay).contains("already used"),
        "{}",
        replay.body
    );

    // A cookie of the victim's own flow does not stand for another flow's: the victim has
    // opened Ann's start link (their own flow), then finishes the attacker's URL.
    let link = s.start_link(&mallory).await;
    let url = s.open(&attackers_browser, &link).await;
    s.open(&victims_browser, &s.start_link(&s.app.token).await)
        .await;
    let page = s
        .callback_in(&victims_browser, &s.consent(&url).await)
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert_eq!(s.app.count("connections").await, 0);

    // The start link sent to the victim instead: it works once, so a link the attacker has
    // opened (to read where it leads) is spent.
    let link = s.start_link(&mallory).await;
    s.open(&attackers_browser, &link).await;
    let again = victims_browser.get(&s.app, &link).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);
    assert!(
        page_text(&again).contains("already opened"),
        "{}",
        again.body
    );
    assert!(again.headers.get("location").is_none());
}

#[tokio::test]
async fn a_start_link_works_once_within_five_minutes() {
    let s = setup().await;
    let refused = |page: &Answer, words: &str| {
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
        assert!(page_text(page).contains(words), "{}", page.body);
        assert!(page.headers.get("set-cookie").is_none());
        assert_eq!(
            page.headers["content-type"].to_str().unwrap(),
            "text/html; charset=utf-8"
        );
    };
    refused(&s.browser.get(&s.app, START).await, "no flow");
    refused(
        &s.browser.get(&s.app, &format!("{START}made-up")).await,
        "not one Threadline made",
    );
    let link = s.start_link(&s.app.token).await;
    sqlx::query("UPDATE oauth_pending SET expires_at = $1")
        .bind("2000-01-01T00:00:00.000000Z")
        .execute(s.app.pool())
        .await
        .unwrap();
    refused(&s.browser.get(&s.app, &link).await, "expired");
    assert_eq!(s.app.count("oauth_pending").await, 0);

    // Opened once: the flow goes on; opened again (even in the same browser): refused.
    let link = s.start_link(&s.app.token).await;
    let url = s.open(&s.browser, &link).await;
    refused(&s.browser.get(&s.app, &link).await, "already opened");
    let page = s.callback(&s.consent(&url).await).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
}

/// Revocation reaches connect flows: a flow remembers the API token that asked for it, and
/// once that token is revoked (itself, or a token it was created with) neither its start
/// link nor its callback goes on.
#[tokio::test]
async fn revoking_a_token_stops_the_connect_flows_it_started() {
    let s = setup().await;
    let create = |token: String, name: &'static str| {
        let app = &s.app;
        async move {
            let created = app
                .post_as(
                    &token,
                    "/api/v1/tokens",
                    serde_json::json!({ "name": name }),
                )
                .await;
            assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
            (
                created.body["id"].as_str().unwrap().to_string(),
                created.body["token"].as_str().unwrap().to_string(),
            )
        }
    };
    let revoke = |id: String| {
        let app = &s.app;
        async move {
            let path = format!("/api/v1/tokens/{id}");
            let answer = app
                .send_raw(Method::DELETE, &path, Some(&app.token.clone()), None, &[])
                .await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        }
    };
    let assert_stopped = |page: &Answer| {
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
        assert!(
            page_text(page).contains("has been revoked"),
            "{}",
            page.body
        );
        assert!(
            page_text(page).contains("Nothing was connected"),
            "{}",
            page.body
        );
    };

    // Revoked before its start link is opened.
    let (id, extension) = create(s.app.token.clone(), "extension").await;
    let link = s.start_link(&extension).await;
    revoke(id).await;
    let page = s.browser.get(&s.app, &link).await;
    assert_stopped(&page);
    assert!(page.headers.get("location").is_none());

    // Revoked while the user is at Google's consent screen; here the token that created the
    // flow's token: revoked with it.
    let (parent_id, parent) = create(s.app.token.clone(), "laptop").await;
    let (_, child) = create(parent, "extension on the laptop").await;
    let url = s.open(&s.browser, &s.start_link(&child).await).await;
    let query = s.consent(&url).await;
    revoke(parent_id).await;
    let exchanges = s.token_calls();
    assert_stopped(&s.callback(&query).await);
    assert_eq!(s.token_calls(), exchanges, "the code is never exchanged");
    assert_eq!(s.app.count("connections").await, 0);
    assert_eq!(s.app.count("oauth_pending").await, 0);
}

/// Policy: a Google account is connected to one Threadline user at a time. Connecting it to
/// another user (of another organisation, or a colleague) is refused with a page that says
/// so (without naming the other user); the other user's connection is untouched, its grant
/// not revoked. Once disconnected there, it may be connected here.
#[tokio::test]
async fn a_google_account_connected_to_another_user_is_refused() {
    let s = setup().await;
    let ann = s.connect().await;
    let before = s.connection(ann).await;
    let mallory = s.app.user_in_new_org("mallory@theirs.com").await;
    let cole = s.app.colleague("cole@ourco.com").await;
    for other in [&mallory, &cole] {
        let browser = Browser::default();
        let url = s.open(&browser, &s.start_link(other).await).await;
        let page = s.callback_in(&browser, &s.consent(&url).await).await;
        assert_eq!(page.status, StatusCode::CONFLICT, "{}", page.body);
        let text = page_text(&page);
        assert!(
            text.contains("ann.google@example.com is already connected to another Threadline user"),
            "{text}"
        );
        assert!(
            !text.contains("ann@ourco.com") && !text.contains("Ours"),
            "{text}"
        );
        let theirs = s.app.get_as(other, "/api/v1/connections").await;
        assert_eq!(
            theirs.body["items"],
            serde_json::json!([]),
            "{}",
            theirs.body
        );
    }
    assert_eq!(s.app.count("connections").await, 1);
    assert_eq!(
        s.fake.log().count("POST", "/revoke"),
        0,
        "Ann's grant is kept"
    );
    let after = s.connection(ann).await;
    assert_eq!(
        after.version, before.version,
        "Ann's connection is untouched"
    );
    assert_eq!(after.status, Status::Ok);
    assert!(s.tokens().access_token(ann).await.is_ok());

    // Disconnected from Ann: Mallory may connect it.
    s.disconnect(ann).await;
    let browser = Browser::default();
    let url = s.open(&browser, &s.start_link(&mallory).await).await;
    let page = s.callback_in(&browser, &s.consent(&url).await).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let theirs = s.app.get_as(&mallory, "/api/v1/connections").await;
    assert_eq!(theirs.body["items"][0]["status"], "ok", "{}", theirs.body);
}

#[tokio::test]
async fn an_overlong_google_account_id_is_a_clear_page_not_a_server_error() {
    let s = setup().await;
    s.fake
        .google()
        .set_account_id(GOOGLE_USER, &"1".repeat(321));
    let page = s.callback(&s.consent(&s.start().await).await).await;
    assert_eq!(page.status, StatusCode::BAD_GATEWAY, "{}", page.body);
    let text = page_text(&page);
    assert!(text.contains("cannot store"), "{text}");
    assert!(text.contains("320 characters"), "{text}");
    assert!(text.contains("Nothing was connected"), "{text}");
    assert_eq!(s.app.count("connections").await, 0);
    // Nothing keeps the grant: given back to Google.
    assert_eq!(s.fake.log().count("POST", "/revoke"), 1);
}
