//! Signing in and out through the pages, on a real database (SQLite, or PostgreSQL with
//! `THREADLINE_TEST_DATABASE_URL`): the owner's setup link, sessions, the CSRF and
//! cross-site checks, the throttle, and that every string is escaped.

mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use support::{csrf_of, set_up, Site, PASSWORD};

#[tokio::test]
async fn the_owner_sets_up_signs_out_and_the_old_cookie_is_useless() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann Owner").await;
    let home = site.get("/", Some(&cookie)).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("Ann Owner"));
    let csp = home.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe"), "{csp}");

    // Not signed in: to the sign-in page, which returns here.
    let anonymous = site.get("/?x=1", None).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(
        anonymous.location.as_deref(),
        Some("/sign-in?next=%2F%3Fx%3D1")
    );

    let csrf = csrf_of(&home.body);
    let out = site
        .post("/sign-out", Some(&cookie), &[("csrf", &csrf)])
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(out.cookie.unwrap().ends_with('='), "the cookie is removed");
    // A copy of the cookie kept by someone else is worth nothing now.
    let stolen = site.get("/", Some(&cookie)).await;
    assert_eq!(stolen.status, StatusCode::SEE_OTHER);
    assert!(stolen.location.unwrap().starts_with("/sign-in"));
}

#[tokio::test]
async fn state_changes_need_this_site_and_the_session_token() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    let csrf = csrf_of(&site.get("/", Some(&cookie)).await.body);

    let wrong_token = site
        .post("/sign-out", Some(&cookie), &[("csrf", "forged")])
        .await;
    assert_eq!(wrong_token.status, StatusCode::FORBIDDEN);
    let cross_site = site
        .post_from("/sign-out", Some(&cookie), &[("csrf", &csrf)], "cross-site")
        .await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    assert!(
        cross_site.body.contains("another site"),
        "{}",
        cross_site.body
    );
    // Neither signed out.
    assert_eq!(site.get("/", Some(&cookie)).await.status, StatusCode::OK);

    // A sign-in posted from another site is refused too (login CSRF).
    let login = site
        .post_from(
            "/sign-in",
            None,
            &[("email", "ann@example.com"), ("password", PASSWORD)],
            "cross-site",
        )
        .await;
    assert_eq!(login.status, StatusCode::FORBIDDEN);
    assert!(login.cookie.is_none());
}

#[tokio::test]
async fn sign_in_says_what_is_wrong_and_is_throttled() {
    let site = Site::new().await;
    set_up(&site, "Ann").await;
    let wrong = site
        .post(
            "/sign-in",
            None,
            &[("email", "ann@example.com"), ("password", "not it at all")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("do not match"), "{}", wrong.body);
    assert!(
        wrong.body.contains(r#"value="ann@example.com""#),
        "the address is kept"
    );
    assert!(!wrong.body.contains("not it at all"), "never the password");

    for _ in 0..5 {
        site.post(
            "/sign-in",
            None,
            &[("email", "ann@example.com"), ("password", "wrong")],
        )
        .await;
    }
    // Even the right password is refused while throttled, and the page says for how long.
    let throttled = site
        .post(
            "/sign-in",
            None,
            &[("email", "ann@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(throttled.status, StatusCode::UNAUTHORIZED);
    assert!(
        throttled.body.contains("Too many attempts"),
        "{}",
        throttled.body
    );
    assert!(throttled.cookie.is_none());
}

#[tokio::test]
async fn sign_in_returns_to_the_page_asked_and_sign_out_everywhere_ends_every_session() {
    let site = Site::new().await;
    let first = set_up(&site, "Ann").await;
    let form = site.get("/sign-in?next=%2Ftasks", None).await;
    assert!(
        form.body.contains(r#"name="next" value="/tasks""#),
        "{}",
        form.body
    );
    let second = site
        .post(
            "/sign-in",
            None,
            &[
                ("email", "ann@example.com"),
                ("password", PASSWORD),
                ("next", "/tasks"),
            ],
        )
        .await;
    assert_eq!(second.status, StatusCode::SEE_OTHER);
    assert_eq!(second.location.as_deref(), Some("/tasks"));
    let second = second.cookie.unwrap();
    // Elsewhere is never a place to return to.
    let elsewhere = site
        .post(
            "/sign-in",
            None,
            &[
                ("email", "ann@example.com"),
                ("password", PASSWORD),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(elsewhere.location.as_deref(), Some("/"));

    let csrf = csrf_of(&site.get("/", Some(&second)).await.body);
    let out = site
        .post("/sign-out-everywhere", Some(&second), &[("csrf", &csrf)])
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    for cookie in [&first, &second, elsewhere.cookie.as_ref().unwrap()] {
        assert_eq!(
            site.get("/", Some(cookie)).await.status,
            StatusCode::SEE_OTHER
        );
    }
}

#[tokio::test]
async fn hostile_names_are_shown_as_text() {
    let site = Site::new().await;
    let cookie = set_up(&site, "<img src=x onerror=alert(1)>\"'&").await;
    let home = site.get("/", Some(&cookie)).await;
    assert!(!home.body.contains("<img src=x"), "{}", home.body);
    assert!(
        home.body
            .contains("&#60;img src=x onerror=alert(1)&#62;&#34;&#39;&#38;"),
        "{}",
        home.body
    );
}

#[tokio::test]
async fn pages_follow_the_browser_language() {
    let site = Site::new().await;
    let request = |lang: &'static str| {
        Request::get("/sign-in")
            .header(header::ACCEPT_LANGUAGE, lang)
            .body(Body::empty())
            .unwrap()
    };
    let nl = site.send(request("nl-BE,nl;q=0.9,en;q=0.5")).await;
    assert!(nl.body.contains(r#"<html lang="nl">"#) && nl.body.contains("Aanmelden"));
    let de = site.send(request("fr;q=1, de;q=0.8")).await;
    assert!(de.body.contains(r#"<html lang="de">"#) && de.body.contains("Anmelden"));
    let other = site.send(request("ja")).await;
    assert!(other.body.contains(r#"<html lang="en">"#) && other.body.contains("Sign in"));
}

#[tokio::test]
async fn assets_are_cached_for_a_year_under_their_hash() {
    let site = Site::new().await;
    let page = site.get("/sign-in", None).await;
    let css = threadline_web::assets::url("app.css");
    assert!(page.body.contains(&css));
    let asset = site.get(&css, None).await;
    assert_eq!(asset.status, StatusCode::OK);
    assert!(asset.headers[header::CACHE_CONTROL]
        .to_str()
        .unwrap()
        .contains("immutable"));
    assert_eq!(
        site.get("/assets/app.0000000000.css", None).await.status,
        StatusCode::NOT_FOUND
    );
}
