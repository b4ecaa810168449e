//! Sign in with Google end to end against the local Google (`threadline-fake-providers`, a
//! server on a random port, over real HTTP): the sign-in page offers it only with a Google
//! client; the flow (the browser's redirect to Google followed with reqwest, the callback
//! through the router) signs the user in with the password path's session, once; an unknown
//! address, an address Google is not the authority for, another browser are refused; a
//! signed-in user links and unlinks their Google account in Settings; a hostile address is
//! shown escaped.

mod support;

use axum::http::StatusCode;
use support::{cookie_of, csrf_of, new_user, set_up, Site};
use threadline_connections::oauth::google::{GoogleConfig, GoogleEndpoints};
use threadline_connections::oauth::OAuth;
use threadline_fake_providers::google::OAuthClient;
use threadline_fake_providers::FakeProviders;
use threadline_http::AppState;
use threadline_storage::secrets::{new_key_line, Keyring, SecretString};

const CLIENT_ID: &str = "fake-client.apps.googleusercontent.com";
const CALLBACK: &str = "http://127.0.0.1:8787/sign-in/google/callback";

/// The local Google with one account, `email`, and the server's client.
async fn fake_google(email: &str) -> FakeProviders {
    let fake = FakeProviders::start().await;
    fake.google().add_user(email);
    fake.google().add_client(OAuthClient {
        client_id: CLIENT_ID.into(),
        client_secret: "fake-secret".into(),
        redirect_uris: vec![CALLBACK.into()],
    });
    fake
}

async fn site_with(fake: &FakeProviders) -> Site {
    let config = GoogleConfig {
        client_id: CLIENT_ID.into(),
        client_secret: SecretString::from("fake-secret".to_string()),
        redirect_url: "http://127.0.0.1:8787/oauth/google/callback"
            .parse()
            .unwrap(),
        endpoints: GoogleEndpoints::all_at(&fake.base_url()).unwrap(),
    };
    let key_line = new_key_line().unwrap();
    Site::with_state(move |db| {
        AppState::new(db)
            .with_keyring(Keyring::parse(&key_line, "test keys").unwrap())
            .with_oauth(OAuth::with_google(config).unwrap())
    })
    .await
}

/// What a browser does between `start` (`/sign-in/google` or the Settings link) and the
/// callback: Google's consent screen (the fake approves at once) and its redirect back.
/// Answers the callback's path and query, and the sign-in cookie set at the start.
async fn through_google(site: &Site, start: &str, session: Option<&str>) -> (String, String) {
    let started = site.get(start, session).await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let flow_cookie = started
        .headers
        .get_all(axum::http::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("threadline_google_sign_in="))
        .expect("the sign-in's cookie");
    assert!(flow_cookie.contains("HttpOnly"));
    assert!(flow_cookie.contains("SameSite=Lax"));
    let flow_cookie = flow_cookie.split(';').next().unwrap().to_string();
    let google = started.location.unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let consent = http.get(&google).send().await.unwrap();
    assert_eq!(
        consent.status().as_u16(),
        302,
        "{}",
        consent.text().await.unwrap()
    );
    let back = consent.headers()["location"].to_str().unwrap().to_string();
    let back = back
        .strip_prefix("http://127.0.0.1:8787")
        .unwrap()
        .to_string();
    (back, flow_cookie)
}

fn session_cookie(answer: &support::Answer) -> Option<String> {
    answer
        .headers
        .get_all(axum::http::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .find(|c| c.starts_with("threadline=") && c.len() > "threadline=".len())
}

#[tokio::test]
async fn the_sign_in_page_offers_google_only_with_a_client() {
    let plain = Site::new().await;
    let page = plain.get("/sign-in", None).await;
    assert!(!page.body.contains("/sign-in/google"));
    assert_eq!(
        plain.get("/sign-in/google", None).await.status,
        StatusCode::NOT_FOUND
    );

    let fake = fake_google("ann@gmail.com").await;
    let site = site_with(&fake).await;
    let page = site.get("/sign-in", None).await;
    assert!(page.body.contains(r#"href="/sign-in/google""#));
    assert!(page.body.contains("Sign in with Google"));
    let page = site
        .send(
            axum::http::Request::get("/sign-in")
                .header("accept-language", "nl")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert!(page.body.contains("Aanmelden met Google"));
}

#[tokio::test]
async fn a_gmail_user_signs_in_with_google_once_per_flow() {
    let fake = fake_google("ann@gmail.com").await;
    let site = site_with(&fake).await;
    let ann = new_user(&site, site.owner.org_id, "ann@gmail.com", "Ann").await;

    let (callback, flow_cookie) = through_google(&site, "/sign-in/google", None).await;
    assert!(callback.starts_with("/sign-in/google/callback?"));
    let signed = site.get(&callback, Some(&flow_cookie)).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    assert_eq!(signed.location.as_deref(), Some("/"));
    let session = session_cookie(&signed).expect("a session");
    assert_eq!(site.actor_of(&session).await.user_id, ann.user_id);
    let settings = site.get("/settings", Some(&session)).await;
    assert!(settings.body.contains("Google account linked:"));
    assert!(settings
        .body
        .contains("<strong><bdi>ann@gmail.com</bdi></strong>"));
    // No password: no unlink, and the reason.
    assert!(!settings.body.contains("/settings/google/unlink"));
    assert!(settings.body.contains("Set a password before unlinking"));

    // The same callback again (a replayed state) signs no one in.
    let again = site.get(&callback, Some(&flow_cookie)).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(session_cookie(&again).is_none());
    assert!(again.body.contains("did not finish"));

    // A flow finished in another browser (without the cookie) signs no one in.
    let (callback, _) = through_google(&site, "/sign-in/google", None).await;
    let elsewhere = site.get(&callback, None).await;
    assert_eq!(elsewhere.status, StatusCode::BAD_REQUEST);
    assert!(session_cookie(&elsewhere).is_none());
}

#[tokio::test]
async fn unknown_and_unverified_addresses_are_refused_with_a_reason() {
    let fake = fake_google("nobody@gmail.com").await;
    let site = site_with(&fake).await;
    let (callback, flow_cookie) = through_google(&site, "/sign-in/google", None).await;
    let refused = site.get(&callback, Some(&flow_cookie)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(session_cookie(&refused).is_none());
    assert!(
        refused
            .body
            .contains("Ask your organisation&#39;s owner for an invitation")
            || refused
                .body
                .contains("Ask your organisation&#x27;s owner for an invitation")
    );

    let fake = fake_google("dee@gmail.com").await;
    fake.google().set_email_verified("dee@gmail.com", false);
    let site = site_with(&fake).await;
    new_user(&site, site.owner.org_id, "dee@gmail.com", "Dee").await;
    let (callback, flow_cookie) = through_google(&site, "/sign-in/google", None).await;
    let refused = site.get(&callback, Some(&flow_cookie)).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(session_cookie(&refused).is_none());
}

#[tokio::test]
async fn another_providers_address_is_linked_in_settings_then_signs_in_and_unlinks() {
    // The owner is ann@example.com: a Google account with that address is not Google's to
    // vouch for (no Workspace domain).
    let fake = fake_google("ann@example.com").await;
    let site = site_with(&fake).await;
    let owner = set_up(&site, "Ann").await;
    let (callback, flow_cookie) = through_google(&site, "/sign-in/google", None).await;
    let refused = site.get(&callback, Some(&flow_cookie)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("Sign in with your password first"));

    // Signed in, Ann links it from Settings.
    let settings = site.get("/settings", Some(&owner)).await;
    assert!(settings.body.contains(r#"href="/settings/google/link""#));
    let (callback, flow_cookie) =
        through_google(&site, "/settings/google/link", Some(&owner)).await;
    let both = format!("{owner}; {flow_cookie}");
    let linked = site.get(&callback, Some(&both)).await;
    assert_eq!(linked.status, StatusCode::SEE_OTHER, "{}", linked.body);
    assert_eq!(
        linked.location.as_deref(),
        Some("/settings?done=google_linked")
    );
    let settings = site.get("/settings?done=google_linked", Some(&owner)).await;
    assert!(settings.body.contains("Your Google account is linked."));
    assert!(settings
        .body
        .contains("<strong><bdi>ann@example.com</bdi></strong>"));

    // From now on Google signs Ann in.
    let (callback, flow_cookie) = through_google(&site, "/sign-in/google", None).await;
    let signed = site.get(&callback, Some(&flow_cookie)).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    assert!(session_cookie(&signed).is_some());

    // Ann has a password: she may unlink.
    let settings = site.get("/settings", Some(&owner)).await;
    let unlinked = site
        .post(
            "/settings/google/unlink",
            Some(&owner),
            &[("csrf", &csrf_of(&settings.body))],
        )
        .await;
    assert_eq!(
        unlinked.location.as_deref(),
        Some("/settings?done=google_unlinked")
    );
    let settings = site.get("/settings", Some(&owner)).await;
    assert!(settings.body.contains("No Google account is linked."));
    // Without the CSRF token, nothing is unlinked.
    let forged = site
        .post(
            "/settings/google/unlink",
            Some(&owner),
            &[("csrf", "forged")],
        )
        .await;
    assert_ne!(forged.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_link_flow_finishes_only_in_its_own_session_and_a_hostile_address_is_inert() {
    let hostile = "\"<img src=x onerror=alert(1)>'&\u{202e}\"@example.com";
    let fake = fake_google(hostile).await;
    let site = site_with(&fake).await;
    let ann = new_user(&site, site.owner.org_id, "ann@example.com", "Ann").await;
    let ann_session = cookie_of(&site, ann.user_id).await;
    let bob = new_user(&site, site.owner.org_id, "bob@example.com", "Bob").await;
    let bob_session = cookie_of(&site, bob.user_id).await;

    let (callback, flow_cookie) =
        through_google(&site, "/settings/google/link", Some(&ann_session)).await;
    let as_bob = site
        .get(&callback, Some(&format!("{bob_session}; {flow_cookie}")))
        .await;
    assert_eq!(as_bob.status, StatusCode::BAD_REQUEST);

    let (callback, flow_cookie) =
        through_google(&site, "/settings/google/link", Some(&ann_session)).await;
    let linked = site
        .get(&callback, Some(&format!("{ann_session}; {flow_cookie}")))
        .await;
    assert_eq!(linked.status, StatusCode::SEE_OTHER, "{}", linked.body);
    let settings = site.get("/settings", Some(&ann_session)).await;
    let shown = &settings.body[settings.body.find("<strong>").unwrap()..];
    assert!(
        shown.starts_with("<strong><bdi>&#34;&#60;img src=x onerror=alert(1)&#62;&#39;&#38;\u{202e}&#34;@example.com</bdi></strong>"),
        "{}",
        &shown[..120]
    );
    assert!(!settings.body.contains("<img src=x"));
    assert!(settings.body.contains('\u{202e}'));
    let bob_settings = site.get("/settings", Some(&bob_session)).await;
    assert!(bob_settings.body.contains("No Google account is linked."));
}
