//! The record pages on a real database (SQLite, or PostgreSQL with
//! `THREADLINE_TEST_DATABASE_URL`): lists with search, sort and pages; a record's page with
//! its timeline (a colleague's private email says only who tracked it), tasks and linked
//! records; create, edit (a stale edit overwrites nothing), delete; hostile values shown
//! escaped; another organisation's records are not found.

mod support;

use axum::http::StatusCode;
use serde_json::json;
use support::{cookie_of, create, csrf_of, new_user, Site};
use threadline_crm::accounts;
use threadline_crm::records::companies::Company;
use threadline_crm::records::contacts::Contact;
use threadline_crm::records::tasks::Task;
use threadline_crm::{tracking, Actor};
use uuid::Uuid;

const HOSTILE: &str = r#"<img src=x onerror=alert(1)>"'&"#;
/// As askama escapes it.
const HOSTILE_ESCAPED: &str = "&#60;img src=x onerror=alert(1)&#62;&#34;&#39;&#38;";

async fn company(site: &Site, actor: &Actor, name: &str) -> Company {
    create::<Company>(site, actor, json!({ "name": name })).await
}

/// The form shown again (422), the model's message at `field`.
fn refused_at(answer: &support::Answer, field: &str) {
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.body
    );
    let error = format!(r#"id="f-{field}-error""#);
    assert!(answer.body.contains(&error), "{}", answer.body);
    let described = [
        format!(r#"aria-describedby="f-{field}-error""#),
        format!(r#"aria-describedby="f-{field}-hint f-{field}-error""#),
    ];
    assert!(
        described.iter().any(|d| answer.body.contains(d)),
        "aria-describedby: {}",
        answer.body
    );
}

/// The `href` of the link marked `rel="<rel>"`, as a browser follows it.
fn link(page: &str, rel: &str) -> Option<String> {
    let end = page.find(&format!(r#"" rel="{rel}""#))?;
    let start = page[..end].rfind("href=\"")? + "href=\"".len();
    Some(page[start..end].replace("&#38;", "&"))
}

/// The names in the list's rows, in order.
fn names(page: &str) -> Vec<String> {
    page.split(r#"<th scope="row"><a href=""#)
        .skip(1)
        .map(|row| {
            let start = row.find('>').unwrap() + 1;
            row[start..start + row[start..].find('<').unwrap()].to_string()
        })
        .collect()
}

#[tokio::test]
async fn a_list_searches_sorts_and_pages_both_ways() {
    let site = Site::new().await;
    let owner = site.owner.clone();
    let cookie = cookie_of(&site, owner.user_id).await;

    let empty = site.get("/companies", Some(&cookie)).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.body.contains(r#"id="empty""#), "{}", empty.body);
    assert!(empty.body.contains("New company"));
    assert!(empty.body.contains(r#"aria-current="page""#));

    // Created in a shuffled order, so that name order and creation order differ.
    for i in [
        7, 31, 0, 52, 18, 44, 3, 26, 59, 11, 38, 49, 22, 5, 57, 14, 33, 41, 9, 28,
    ] {
        company(&site, &owner, &format!("Company {i:02}")).await;
    }
    for i in 0..60 {
        if ![
            7, 31, 0, 52, 18, 44, 3, 26, 59, 11, 38, 49, 22, 5, 57, 14, 33, 41, 9, 28,
        ]
        .contains(&i)
        {
            company(&site, &owner, &format!("Company {i:02}")).await;
        }
    }
    let expected: Vec<String> = (0..60).map(|i| format!("Company {i:02}")).collect();

    // By name (the default), 25 a page: forwards to the end, and back.
    let first = site.get("/companies", Some(&cookie)).await;
    assert_eq!(names(&first.body), expected[..25]);
    assert!(link(&first.body, "prev").is_none());
    let second = site
        .get(&link(&first.body, "next").unwrap(), Some(&cookie))
        .await;
    assert_eq!(names(&second.body), expected[25..50]);
    let third = site
        .get(&link(&second.body, "next").unwrap(), Some(&cookie))
        .await;
    assert_eq!(names(&third.body), expected[50..]);
    assert!(link(&third.body, "next").is_none(), "the last page");
    let back = site
        .get(&link(&third.body, "prev").unwrap(), Some(&cookie))
        .await;
    assert_eq!(names(&back.body), expected[25..50]);
    let back = site
        .get(&link(&back.body, "prev").unwrap(), Some(&cookie))
        .await;
    assert_eq!(names(&back.body), expected[..25]);
    assert!(link(&back.body, "prev").is_none(), "the first page");

    // Newest first: the last created first.
    let newest = site.get("/companies?sort=newest", Some(&cookie)).await;
    let newest = names(&newest.body);
    assert_eq!(newest[0], "Company 58");
    assert_eq!(newest[1], "Company 56");

    // A search, kept by the pages' links.
    let found = site
        .get("/companies?q=pany+4&sort=name", Some(&cookie))
        .await;
    assert_eq!(
        names(&found.body),
        (40..50).map(|i| format!("Company {i}")).collect::<Vec<_>>()
    );
    assert!(found.body.contains(r#"value="pany 4""#));
    let none = site.get("/companies?q=zebra", Some(&cookie)).await;
    assert!(names(&none.body).is_empty());
    assert!(
        none.body.contains("Nothing matches this search"),
        "{}",
        none.body
    );

    // A forged cursor is refused, not a server error.
    let forged = site.get("/companies?cursor=bm9wZQ", Some(&cookie)).await;
    assert_eq!(forged.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Signed out: to the sign-in page.
    let anonymous = site.get("/companies", None).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
}

/// An email tracked by `actor` onto `contact`, from an outside address.
async fn track(site: &Site, actor: &Actor, contact: Uuid, subject: &str, shared: bool) {
    let request = serde_json::from_value(json!({
        "gmail_message_id": format!("{:x}", Uuid::now_v7().as_u128()),
        "direction": "incoming",
        "from": {"address": "client@acme-client.example", "name": "Client"},
        "to": [{"address": actor.email}],
        "subject": subject,
        "body_text": format!("{subject}: confidential body"),
        "contact_ids": [contact],
        "visibility": if shared { "shared" } else { "private" },
    }))
    .unwrap();
    let input = tracking::validate(request).unwrap();
    tracking::track(&site.db, actor, &input).await.unwrap();
}

#[tokio::test]
async fn a_record_page_shows_its_timeline_tasks_and_links_without_a_colleagues_secret() {
    let site = Site::new().await;
    let owner = site.owner.clone();
    let cookie = cookie_of(&site, owner.user_id).await;
    let colleague = new_user(&site, owner.org_id, "bea@example.com", "Bea Colleague").await;
    let acme = company(&site, &owner, "Acme").await;
    let contact: Contact = create(
        &site,
        &owner,
        json!({"first_name": "Carl", "last_name": "Client",
               "emails": ["client@acme-client.example"], "company_id": acme.id}),
    )
    .await;
    track(&site, &colleague, contact.id, "Secret merger plans", false).await;
    track(&site, &owner, contact.id, "Quarterly review", true).await;
    let task: Task = create(
        &site,
        &owner,
        json!({"title": "Send the offer", "linked": {"kind": "contact", "id": contact.id},
               "due_date": "2026-12-24"}),
    )
    .await;

    let page = site
        .get(&format!("/contacts/{}", contact.id), Some(&cookie))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let body = &page.body;
    assert!(body.contains("<h1>Carl Client</h1>"), "{body}");
    assert!(body.contains("client@acme-client.example"));
    assert!(body.contains(&format!(r#"href="/companies/{}">Acme</a>"#, acme.id)));
    assert!(body.contains("Quarterly review"));
    assert!(
        body.contains("Tracked privately by Bea Colleague"),
        "{body}"
    );
    assert!(!body.contains("Secret merger"), "a private subject leaked");
    assert!(!body.contains("confidential"), "a private body leaked");
    // Newest first: the shared email was tracked last (no sent date: by when tracked).
    assert!(body.find("Quarterly review").unwrap() < body.find("Tracked privately").unwrap());
    assert!(body.contains(&format!(r#"href="/tasks/{}">Send the offer</a>"#, task.id)));
    assert_eq!(
        body.matches(r#"href="/emails/"#).count(),
        1,
        "only the readable one links"
    );

    // The company's page: its contact, and the emails of its contacts.
    let page = site
        .get(&format!("/companies/{}", acme.id), Some(&cookie))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&format!(
        r#"href="/contacts/{}">Carl Client</a>"#,
        contact.id
    )));
    assert!(page.body.contains("Quarterly review"));
    assert!(!page.body.contains("Secret merger"));

    // The colleague reads their own email.
    let theirs = cookie_of(&site, colleague.user_id).await;
    let page = site
        .get(&format!("/contacts/{}", contact.id), Some(&theirs))
        .await;
    assert!(page.body.contains("Secret merger plans"));

    // A project shows its company; a product has nothing linked yet.
    let project: threadline_crm::records::projects::Project = create(
        &site,
        &owner,
        json!({"name": "Rollout", "company_id": acme.id}),
    )
    .await;
    let page = site
        .get(&format!("/projects/{}", project.id), Some(&cookie))
        .await;
    assert!(page
        .body
        .contains(&format!(r#"href="/companies/{}">Acme</a>"#, acme.id)));
    assert!(
        !page.body.contains("timeline-h"),
        "projects have no timeline"
    );
    // Its form offers the organisation's companies, its own chosen.
    assert!(page.body.contains(&format!(
        r#"<option value="{}" selected>Acme</option>"#,
        acme.id
    )));

    // A company chosen in a form; one that is not there is refused at the field.
    let csrf = csrf_of(&page.body);
    let other = company(&site, &owner, "Globex").await;
    let moved = site
        .post(
            &format!("/projects/{}", project.id),
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("version", "1"),
                ("name", "Rollout"),
                ("company_id", &other.id.to_string()),
            ],
        )
        .await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER, "{}", moved.body);
    let page = site
        .get(&format!("/companies/{}", other.id), Some(&cookie))
        .await;
    assert!(page
        .body
        .contains(&format!(r#"href="/projects/{}">Rollout</a>"#, project.id)));
    let refused = site
        .post(
            "/projects",
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("name", "Ghost"),
                ("company_id", &Uuid::now_v7().to_string()),
            ],
        )
        .await;
    refused_at(&refused, "company_id");
}

#[tokio::test]
async fn a_stale_edit_shows_both_versions_and_overwrites_nothing() {
    let site = Site::new().await;
    let owner = site.owner.clone();
    let cookie = cookie_of(&site, owner.user_id).await;
    let colleague = new_user(&site, owner.org_id, "bea@example.com", "Bea").await;
    let theirs = cookie_of(&site, colleague.user_id).await;
    let acme = company(&site, &owner, "Acme").await;
    let path = format!("/companies/{}", acme.id);

    // Both open the page at version 1.
    let mine = site.get(&path, Some(&cookie)).await;
    assert!(mine.body.contains(r#"name="version" value="1""#));
    let csrf = csrf_of(&mine.body);
    let their_csrf = csrf_of(&site.get(&path, Some(&theirs)).await.body);

    let saved = site
        .post(
            &path,
            Some(&theirs),
            &[
                ("csrf", &their_csrf),
                ("version", "1"),
                ("name", "Acme Renamed"),
                ("website", "acme.example"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(
        saved.location.as_deref(),
        Some(&*format!("{path}?done=saved"))
    );

    let stale = site
        .post(
            &path,
            Some(&cookie),
            &[("csrf", &csrf), ("version", "1"), ("name", "Acme Mine")],
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    assert!(stale.body.contains("Someone else changed this record"));
    let table = &stale.body[stale.body.find(r#"id="stale""#).unwrap()..];
    assert!(
        table.contains("<td>Acme Renamed</td><td>Acme Mine</td>"),
        "{table}"
    );
    assert!(table.contains("https://acme.example"), "{table}");
    // Nothing of theirs was overwritten.
    let now = site.get(&path, Some(&cookie)).await;
    assert!(now.body.contains("<h1>Acme Renamed</h1>"));
    // The form kept my value, now at the current version: saving it is a choice.
    assert!(stale.body.contains(r#"value="Acme Mine""#));
    assert!(stale.body.contains(r#"name="version" value="2""#));
    let again = site
        .post(
            &path,
            Some(&cookie),
            &[("csrf", &csrf), ("version", "2"), ("name", "Acme Mine")],
        )
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    let now = site.get(&again.location.unwrap(), Some(&cookie)).await;
    assert!(now.body.contains("<h1>Acme Mine</h1>"));
    assert!(now.body.contains("Saved."));
    // A field the form left empty was cleared.
    assert!(!now.body.contains("acme.example"));

    // A refused value: the form again, the message at its field.
    let refused = site
        .post(
            &path,
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("version", "3"),
                ("name", "Acme"),
                ("website", "ftp://x y"),
            ],
        )
        .await;
    refused_at(&refused, "website");
    assert!(refused.body.contains(r#"value="ftp://x y""#));
    let now = site.get(&path, Some(&cookie)).await;
    assert!(now.body.contains("<h1>Acme Mine</h1>"), "nothing saved");
}

#[tokio::test]
async fn records_are_created_and_deleted_through_their_forms() {
    let site = Site::new().await;
    let cookie = cookie_of(&site, site.owner.user_id).await;
    let form = site.get("/contacts/new", Some(&cookie)).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains(r#"<label for="f-emails">"#));
    let csrf = csrf_of(&form.body);

    let no_csrf = site
        .post("/contacts", Some(&cookie), &[("first_name", "Dee")])
        .await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
    let refused = site
        .post(
            "/contacts",
            Some(&cookie),
            &[("csrf", &csrf), ("first_name", "Dee")],
        )
        .await;
    refused_at(&refused, "emails");
    assert!(refused.body.contains(r#"value="Dee""#));

    let created = site
        .post(
            "/contacts",
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("first_name", "Dee"),
                ("emails", "dee@example.org\n\nd2@example.org"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let at = created.location.unwrap();
    assert!(
        at.starts_with("/contacts/") && at.ends_with("?done=created"),
        "{at}"
    );
    let page = site.get(&at, Some(&cookie)).await;
    assert!(page.body.contains("Created."));
    assert!(page.body.contains("dee@example.org\nd2@example.org"));
    assert!(page.body.contains(r#"data-confirm=""#));
    let path = at.split('?').next().unwrap().to_string();

    let deleted = site
        .post(
            &format!("{path}/delete"),
            Some(&cookie),
            &[("csrf", &csrf), ("version", "1")],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert_eq!(deleted.location.as_deref(), Some("/contacts?done=deleted"));
    assert_eq!(
        site.get(&path, Some(&cookie)).await.status,
        StatusCode::NOT_FOUND
    );
    let list = site.get("/contacts?done=deleted", Some(&cookie)).await;
    assert!(list.body.contains("Deleted."));
    assert!(names(&list.body).is_empty());

    // A meeting and a product through the same pages.
    let meeting = site
        .post(
            "/meetings",
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("title", "Kick-off"),
                ("start_at", "2026-03-01T09:30:00+01:00"),
                ("end_at", "2026-03-01T10:30:00+01:00"),
                ("time_zone", "Europe/Amsterdam"),
            ],
        )
        .await;
    assert_eq!(meeting.status, StatusCode::SEE_OTHER, "{}", meeting.body);
    let list = site.get("/meetings", Some(&cookie)).await;
    assert_eq!(names(&list.body), ["Kick-off"]);
    assert!(list.body.contains("1 March 2026, 08:30"), "{}", list.body);
    let product = site
        .post(
            "/products",
            Some(&cookie),
            &[("csrf", &csrf), ("name", "Widget"), ("code", "W-1")],
        )
        .await;
    assert_eq!(product.status, StatusCode::SEE_OTHER, "{}", product.body);
}

#[tokio::test]
async fn hostile_values_are_shown_as_text() {
    let site = Site::new().await;
    let owner = site.owner.clone();
    let cookie = cookie_of(&site, owner.user_id).await;
    let evil = company(&site, &owner, HOSTILE).await;
    let contact: Contact = create(
        &site,
        &owner,
        json!({"first_name": HOSTILE, "emails": ["x@evil.example"], "notes": HOSTILE,
               "company_id": evil.id}),
    )
    .await;
    for path in [
        "/companies".to_string(),
        "/contacts".to_string(),
        format!("/companies/{}", evil.id),
        format!("/contacts/{}", contact.id),
        format!("/companies?q={}", "%3Cimg"),
    ] {
        let page = site.get(&path, Some(&cookie)).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(!page.body.contains("<img src=x"), "{path}: unescaped");
        assert!(page.body.contains(HOSTILE_ESCAPED), "{path}: {}", page.body);
    }
    // A right-to-left override is refused by the model, at its field, and shown inert.
    let csrf = csrf_of(&site.get("/companies/new", Some(&cookie)).await.body);
    let refused = site
        .post(
            "/companies",
            Some(&cookie),
            &[("csrf", &csrf), ("name", "evil\u{202e}gpj.exe")],
        )
        .await;
    refused_at(&refused, "name");
    let search = site.get("/companies?q=%E2%80%AE", Some(&cookie)).await;
    assert_eq!(search.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn another_organisations_records_are_not_found() {
    let site = Site::new().await;
    let owner = site.owner.clone();
    let cookie = cookie_of(&site, owner.user_id).await;
    let mut conn = site.db.pool().acquire().await.unwrap();
    let other_org = accounts::create_organisation(&mut conn, "Other Org")
        .await
        .unwrap();
    drop(conn);
    let stranger = new_user(&site, other_org, "sam@other.example", "Sam").await;
    let theirs = company(&site, &stranger, "Their Company").await;
    let contact: Contact = create(
        &site,
        &stranger,
        json!({"first_name": "Their", "emails": ["t@other.example"]}),
    )
    .await;
    let csrf = csrf_of(&site.get("/companies", Some(&cookie)).await.body);

    let list = site.get("/companies", Some(&cookie)).await;
    assert!(!list.body.contains("Their Company"));
    for path in [
        format!("/companies/{}", theirs.id),
        format!("/contacts/{}", contact.id),
        format!("/contacts/{}", theirs.id),
        "/companies/not-an-id".to_string(),
        format!("/contacts?company=x{}", Uuid::now_v7()),
    ] {
        let page = site.get(&path, Some(&cookie)).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
    }
    let path = format!("/companies/{}", theirs.id);
    let edit = site
        .post(
            &path,
            Some(&cookie),
            &[("csrf", &csrf), ("version", "1"), ("name", "Mine now")],
        )
        .await;
    assert_eq!(edit.status, StatusCode::NOT_FOUND);
    let delete = site
        .post(
            &format!("{path}/delete"),
            Some(&cookie),
            &[("csrf", &csrf), ("version", "1")],
        )
        .await;
    assert_eq!(delete.status, StatusCode::NOT_FOUND);
    // Their company's contacts are not listed for me either.
    let filtered = site
        .get(&format!("/contacts?company={}", theirs.id), Some(&cookie))
        .await;
    assert!(names(&filtered.body).is_empty());
    // Untouched.
    let mine = cookie_of(&site, stranger.user_id).await;
    let page = site.get(&path, Some(&mine)).await;
    assert!(page.body.contains("<h1>Their Company</h1>"));
}
