//! The extension's sign-in page (`/connect/extension`) on a real database: sign in first
//! and back, only an extension's redirect URI, Allow / Deny with the CSRF token, the code
//! traded for a device token that Settings lists under Devices and revokes.

mod support;

use axum::http::{header, StatusCode};
use support::{csrf_of, set_up, Site};
use threadline_crm::accounts::devices::{challenge_of, exchange_device_code};

const CHROME: &str = "https://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/";
const VERIFIER: &str = "a-verifier-of-forty-three-characters-or-more.0123456789";
const HOSTILE: &str = "<img src=x onerror=alert(1)>\"'&";
const HOSTILE_SHOWN: &str = "&#60;img src=x onerror=alert(1)&#62;&#34;&#39;&#38;";

fn query(redirect_uri: &str, device: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", "st-1&x=y")
        .append_pair("code_challenge", &challenge_of(VERIFIER))
        .append_pair("device", device)
        .finish()
}

fn form<'a>(
    csrf: &'a str,
    decision: &'a str,
    challenge: &'a str,
    device: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("decision", decision),
        ("redirect_uri", CHROME),
        ("state", "st-1&x=y"),
        ("code_challenge", challenge),
        ("device", device),
    ]
}

#[tokio::test]
async fn signed_out_it_asks_to_sign_in_first_and_comes_back() {
    let site = Site::new().await;
    let q = query(CHROME, "Chrome");
    let page = site.get(&format!("/connect/extension?{q}"), None).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let location = page.location.unwrap();
    assert!(
        location.starts_with("/sign-in?next=%2Fconnect%2Fextension%3F"),
        "{location}"
    );
}

#[tokio::test]
async fn only_an_extension_gets_asked() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    for bad in [
        "https://evil.example/",
        "https://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/x",
    ] {
        let page = site
            .get(
                &format!("/connect/extension?{}", query(bad, "Chrome")),
                Some(&cookie),
            )
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(!page.body.contains("decision"), "{}", page.body);
    }
}

#[tokio::test]
async fn allow_sends_a_code_that_becomes_a_device_in_settings() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    let page = site
        .get(
            &format!("/connect/extension?{}", query(CHROME, HOSTILE)),
            Some(&cookie),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains(&format!(
            "Allow {HOSTILE_SHOWN} to use Threadline as Ann &#60;ann@example.com&#62;?"
        )),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<img src=x"));
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        csp.contains(&format!("form-action 'self' {CHROME};")),
        "{csp}"
    );
    let csrf = csrf_of(&page.body);
    let challenge = challenge_of(VERIFIER);

    // Without the session's token, nothing is sent.
    let refused = site
        .post(
            "/connect/extension",
            Some(&cookie),
            &form("nope", "allow", &challenge, HOSTILE),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.location.is_none());

    let allowed = site
        .post(
            "/connect/extension",
            Some(&cookie),
            &form(&csrf, "allow", &challenge, HOSTILE),
        )
        .await;
    assert_eq!(allowed.status, StatusCode::SEE_OTHER, "{}", allowed.body);
    let location = allowed.location.unwrap();
    let fragment = location
        .strip_prefix(&format!("{CHROME}#code="))
        .unwrap_or_else(|| panic!("{location}"));
    let (code, state) = fragment.split_once("&state=").unwrap();
    assert_eq!(state, "st%2D1%26x%3Dy");
    let token = exchange_device_code(&site.db, code, VERIFIER, Some(CHROME), chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(token.device, HOSTILE);

    let settings = site.get("/settings", Some(&cookie)).await;
    assert!(
        settings.body.contains(r#"id="device-list""#),
        "{}",
        settings.body
    );
    assert!(settings.body.contains(HOSTILE_SHOWN));
    let revoke = format!("/settings/tokens/{}/revoke", token.id);
    assert!(settings.body.contains(&revoke));
    let revoked = site.post(&revoke, Some(&cookie), &[("csrf", &csrf)]).await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    let settings = site.get("/settings", Some(&cookie)).await;
    assert!(!settings.body.contains(r#"id="device-list""#));
    assert!(settings.body.contains("No browser extension is signed in"));
}

#[tokio::test]
async fn deny_sends_no_code() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    let page = site
        .get(
            &format!("/connect/extension?{}", query(CHROME, "Firefox")),
            Some(&cookie),
        )
        .await;
    let csrf = csrf_of(&page.body);
    let challenge = challenge_of(VERIFIER);
    let denied = site
        .post(
            "/connect/extension",
            Some(&cookie),
            &form(&csrf, "deny", &challenge, "Firefox"),
        )
        .await;
    assert_eq!(denied.status, StatusCode::SEE_OTHER);
    assert_eq!(
        denied.location.as_deref(),
        Some(&*format!(
            "{CHROME}#error=access_denied&state=st%2D1%26x%3Dy"
        ))
    );
}
