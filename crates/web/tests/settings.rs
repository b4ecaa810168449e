//! The settings page on a real database (SQLite, or PostgreSQL with
//! `THREADLINE_TEST_DATABASE_URL`): profile and language, password, sessions, API tokens,
//! the owner's users and invitations (and a member's 403), every value from a user escaped.

mod support;

use axum::http::StatusCode;
use support::{csrf_of, set_up, Site, PASSWORD};
use threadline_crm::accounts::devices;

const HOSTILE: &str = "<img src=x onerror=alert(1)>\"'&";
const HOSTILE_SHOWN: &str = "&#60;img src=x onerror=alert(1)&#62;&#34;&#39;&#38;";

/// The one-time link on an answer (`/join/tll_` and 64 hex digits).
fn join_link(page: &str) -> String {
    let at = page.find("/join/tll_").expect("an invitation link");
    page[at..at + "/join/tll_".len() + 64].to_string()
}

/// A signed-in member invited by the owner (whose cookie is `owner`): their cookie.
async fn member(site: &Site, owner: &str) -> String {
    let settings = site.get("/settings", Some(owner)).await;
    let csrf = csrf_of(&settings.body);
    let invited = site
        .post(
            "/settings/invitations",
            Some(owner),
            &[
                ("csrf", &csrf),
                ("email", "bo@example.com"),
                ("role", "member"),
            ],
        )
        .await;
    assert_eq!(invited.status, StatusCode::OK, "{}", invited.body);
    let link = join_link(&invited.body);
    let joined = site
        .post(
            &link,
            None,
            &[("name", "Bo Member"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(joined.status, StatusCode::SEE_OTHER, "{}", joined.body);
    joined.cookie.expect("a session cookie")
}

#[tokio::test]
async fn the_profile_saves_the_name_and_switches_the_language_at_once() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann Owner").await;
    let page = site.get("/settings", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(r#"aria-current="page">Settings"#),
        "{}",
        page.body
    );
    let csrf = csrf_of(&page.body);

    // A right-to-left override is refused, and said so on the form.
    let refused = site
        .post(
            "/settings/profile",
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("name", "Ann\u{202e}gpj.exe"),
                ("language", ""),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains(r#"id="profile-problem""#),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("U+202E"), "{}", refused.body);

    let saved = site
        .post(
            "/settings/profile",
            Some(&cookie),
            &[("csrf", &csrf), ("name", HOSTILE), ("language", "nl")],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(saved.location.as_deref(), Some("/settings?done=profile"));
    let page = site.get("/settings?done=profile", Some(&cookie)).await;
    assert!(page.body.contains(r#"<html lang="nl">"#), "{}", page.body);
    assert!(page.body.contains("Instellingen") && page.body.contains("Opgeslagen."));
    assert!(page
        .body
        .contains(r#"<option value="nl" lang="nl" selected>"#));
    assert!(!page.body.contains("<img src=x"), "{}", page.body);
    assert!(page.body.contains(HOSTILE_SHOWN), "{}", page.body);

    // Back to the browser's language (German here).
    let saved = site
        .post(
            "/settings/profile",
            Some(&cookie),
            &[("csrf", &csrf), ("name", "Ann"), ("language", "")],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let request = axum::http::Request::get("/settings")
        .header("cookie", &cookie)
        .header("accept-language", "de-DE,de;q=0.9")
        .body(axum::body::Body::empty())
        .unwrap();
    let page = site.send(request).await;
    assert!(page.body.contains(r#"<html lang="de">"#) && page.body.contains("Einstellungen"));
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_keeps_this_browser_signed_in() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    // A second browser.
    let other = site
        .post(
            "/sign-in",
            None,
            &[("email", "ann@example.com"), ("password", PASSWORD)],
        )
        .await
        .cookie
        .expect("a second session");
    let page = site.get("/settings", Some(&cookie)).await;
    let csrf = csrf_of(&page.body);

    let wrong = site
        .post(
            "/settings/password",
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("current", "not it at all"),
                ("new", "a new long passphrase"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        wrong.body.contains("The current password is not right"),
        "{}",
        wrong.body
    );
    let weak = site
        .post(
            "/settings/password",
            Some(&cookie),
            &[("csrf", &csrf), ("current", PASSWORD), ("new", "short")],
        )
        .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(weak.body.contains(r#"id="password-problem""#));

    let changed = site
        .post(
            "/settings/password",
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("current", PASSWORD),
                ("new", "a new long passphrase"),
            ],
        )
        .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
    assert_eq!(changed.location.as_deref(), Some("/settings?done=password"));
    let fresh = changed.cookie.expect("a new session for this browser");
    // Every earlier session ended, this browser goes on with its new one.
    for old in [&cookie, &other] {
        let page = site.get("/settings", Some(old)).await;
        assert_eq!(
            page.status,
            StatusCode::SEE_OTHER,
            "an old session still works"
        );
    }
    let page = site.get("/settings?done=password", Some(&fresh)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Your password is changed"));
    let signed = site
        .post(
            "/sign-in",
            None,
            &[
                ("email", "ann@example.com"),
                ("password", "a new long passphrase"),
            ],
        )
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn another_session_can_be_ended_from_the_list() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    let other = site
        .post(
            "/sign-in",
            None,
            &[("email", "ann@example.com"), ("password", PASSWORD)],
        )
        .await
        .cookie
        .unwrap();
    let page = site.get("/settings", Some(&cookie)).await;
    let csrf = csrf_of(&page.body);
    let ends: Vec<&str> = page
        .body
        .match_indices("/settings/sessions/")
        .map(|(at, _)| &page.body[at..at + "/settings/sessions/".len() + 36 + "/end".len()])
        .collect();
    assert_eq!(ends.len(), 2, "{}", page.body);
    assert_eq!(page.body.matches("This browser").count(), 1);
    // The newest first: the other browser's session.
    let ended = site.post(ends[0], Some(&cookie), &[("csrf", &csrf)]).await;
    assert_eq!(ended.status, StatusCode::SEE_OTHER);
    assert_eq!(
        site.get("/settings", Some(&other)).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        site.get("/settings", Some(&cookie)).await.status,
        StatusCode::OK
    );
    // Not twice, and not without the token.
    assert_eq!(
        site.post(ends[0], Some(&cookie), &[("csrf", &csrf)])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        site.post(ends[1], Some(&cookie), &[("csrf", "x")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn api_tokens_are_shown_once_and_revoked() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    let page = site.get("/settings", Some(&cookie)).await;
    let csrf = csrf_of(&page.body);
    // The first start's personal token is listed (never the token itself).
    assert!(page.body.contains("personal token"), "{}", page.body);
    assert!(!page.body.contains("value=\"tl_"));

    let refused = site
        .post(
            "/settings/tokens",
            Some(&cookie),
            &[("csrf", "wrong"), ("name", "script")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let made = site
        .post(
            "/settings/tokens",
            Some(&cookie),
            &[("csrf", &csrf), ("name", HOSTILE)],
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    let at = made.body.find("value=\"tl_").expect("the new token") + "value=\"".len();
    let token = &made.body[at..at + 3 + 64];
    assert!(made.body.contains(HOSTILE_SHOWN), "{}", made.body);
    assert!(!made.body.contains("<img src=x"));
    // Stored hashed, and not shown again.
    let mut conn = site.db.pool().acquire().await.unwrap();
    let ann = threadline_crm::accounts::user_id_by_email(&mut conn, "ann@example.com")
        .await
        .unwrap();
    let mine =
        |tokens: Vec<devices::OwnToken>| tokens.into_iter().find(|t| t.name == HOSTILE).unwrap();
    let id = mine(devices::tokens_of(&mut conn, ann, None).await.unwrap()).id;
    assert_eq!(threadline_crm::accounts::hash_token(token).len(), 64);
    let page = site.get("/settings", Some(&cookie)).await;
    assert!(!page.body.contains(token));
    assert!(page.body.contains(HOSTILE_SHOWN));

    let revoked = site
        .post(
            &format!("/settings/tokens/{id}/revoke"),
            Some(&cookie),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    let page = site.get("/settings?done=revoked", Some(&cookie)).await;
    assert!(
        !page.body.contains(HOSTILE_SHOWN),
        "a revoked token is not listed"
    );
    let revoked = mine(devices::tokens_of(&mut conn, ann, None).await.unwrap());
    assert!(revoked.revoked_at.is_some());
}

/// Behind its public URL (`--public-url`), an invitation's link is under it, whatever the
/// request's `Host` says.
#[tokio::test]
async fn an_invitation_link_is_under_the_public_url() {
    let site = Site::with_state(|db| {
        threadline_http::AppState::new(db)
            .with_public_url(threadline_http::PublicUrl::parse("https://crm.example.test").unwrap())
    })
    .await;
    let owner = set_up(&site, "Ann").await;
    let page = site.get("/settings", Some(&owner)).await;
    let invited = invite(&site, &owner, &csrf_of(&page.body), "member").await;
    assert!(invited.body.contains("https://crm.example.test/join/tll_"));
}

/// `owner` invites cy@example.com as `role`; the answer, checked to be the page (200).
async fn invite(site: &Site, owner: &str, csrf: &str, role: &str) -> support::Answer {
    let invited = site
        .post(
            "/settings/invitations",
            Some(owner),
            &[("csrf", csrf), ("email", "cy@example.com"), ("role", role)],
        )
        .await;
    assert_eq!(invited.status, StatusCode::OK, "{}", invited.body);
    invited
}

#[tokio::test]
async fn owners_invite_and_members_see_no_owner_section_and_get_403() {
    let site = Site::new().await;
    let owner = set_up(&site, "Ann").await;
    let page = site.get("/settings", Some(&owner)).await;
    assert!(page.body.contains(r#"id="invitations-h""#) && page.body.contains(r#"id="users-h""#));
    assert!(page.body.contains("No pending invitations"));
    let csrf = csrf_of(&page.body);

    // A pending invitation, listed and withdrawn.
    let invited = invite(&site, &owner, &csrf, "owner").await;
    assert!(
        invited.body.contains("http://localhost/join/tll_") || invited.body.contains("/join/tll_")
    );
    let page = site.get("/settings", Some(&owner)).await;
    assert!(page.body.contains("cy@example.com"));
    assert!(!page.body.contains("/join/tll_"), "the link is shown once");
    let at = page.body.find("/settings/invitations/").unwrap();
    let revoke = &page.body[at..at + "/settings/invitations/".len() + 36 + "/revoke".len()];
    let revoked = site.post(revoke, Some(&owner), &[("csrf", &csrf)]).await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    let page = site.get("/settings?done=invitation", Some(&owner)).await;
    assert!(!page.body.contains("cy@example.com"));

    // A member: their own settings, no owner section, and an owner's action is a 403 page.
    let bo = member(&site, &owner).await;
    let page = site.get("/settings", Some(&bo)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Bo Member"));
    assert!(!page.body.contains(r#"id="invitations-h""#) && !page.body.contains(r#"id="users-h""#));
    let bo_csrf = csrf_of(&page.body);
    let forbidden = site
        .post(
            "/settings/invitations",
            Some(&bo),
            &[
                ("csrf", &bo_csrf),
                ("email", "dee@example.com"),
                ("role", "owner"),
            ],
        )
        .await;
    assert_eq!(
        forbidden.status,
        StatusCode::FORBIDDEN,
        "{}",
        forbidden.body
    );
    assert!(forbidden.body.contains("Only an owner"));
    // The owner sees the member with their role.
    let page = site.get("/settings", Some(&owner)).await;
    assert!(
        page.body.contains("Bo Member") && page.body.contains("Member</td>"),
        "{}",
        page.body
    );
}
