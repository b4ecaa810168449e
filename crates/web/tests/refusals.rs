//! The model's refusals in the page's language (error.rs::refusal), on a real database
//! (SQLite, or PostgreSQL with `THREADLINE_TEST_DATABASE_URL`): a field's invalid value, a
//! record of another organisation, a time zone, a rule the words do not name (its English
//! detail kept after a sentence in the page's language).

mod support;

use axum::http::StatusCode;
use serde_json::json;
use support::{create, csrf_of, profile, set_up, Site};
use threadline_crm::records::companies::Company;

/// Posts `form` to `path`: the page that refuses it (422).
async fn refused(site: &Site, cookie: &str, path: &str, form: &[(&str, &str)]) -> String {
    let answer = site.post(path, Some(cookie), form).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.body
    );
    answer.body
}

#[tokio::test]
async fn refusals_are_said_in_dutch_and_german() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    let (stranger, _) = site.user(None, "eve@else.example", "Eve").await;
    let theirs: Company = create(&site, &stranger, json!({"name": "Elsewhere"})).await;
    let csrf = csrf_of(&site.get("/contacts/new", Some(&cookie)).await.body);

    profile(&site, &cookie, "Ann", "nl", "").await;
    let page = refused(
        &site,
        &cookie,
        "/contacts",
        &[
            ("csrf", &csrf),
            ("first_name", "Pat"),
            ("emails", "not an address"),
        ],
    )
    .await;
    assert!(page.contains("Dat is geen e-mailadres."), "{page}");
    assert!(!page.contains("is not a valid email address"), "{page}");
    let zone = profile(&site, &cookie, "Ann", "nl", "Mars/Olympus").await;
    assert_eq!(zone.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        zone.body.contains("Die tijdzone kent deze server niet."),
        "{}",
        zone.body
    );

    profile(&site, &cookie, "Ann", "de", "").await;
    let theirs_id = theirs.id.to_string();
    let form = [
        ("csrf", csrf.as_str()),
        ("first_name", "Pat"),
        ("emails", "pat@example.com"),
        ("company_id", &theirs_id),
    ];
    let page = refused(&site, &cookie, "/contacts", &form).await;
    assert!(
        page.contains("Dieser Datensatz ist nicht in Ihrer Organisation"),
        "{page}"
    );
    // A rule the words do not name: German first, the model's detail after it.
    let form = [
        ("csrf", csrf.as_str()),
        ("title", "Kick-off"),
        ("start_at", "2026-03-01T10:30:00Z"),
        ("end_at", "2026-03-01T09:30:00Z"),
        ("time_zone", "UTC"),
    ];
    let page = refused(&site, &cookie, "/meetings", &form).await;
    let said = "Dieser Wert wird nicht angenommen (end_at is before start_at)";
    assert!(page.contains(said), "{page}");
}
