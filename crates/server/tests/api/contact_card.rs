//! `GET /api/v1/contacts/{id}/card`: the contact panel's card, in one request — the contact,
//! the last tracked emails (a colleague's private one redacted), open tasks, documents;
//! bounded lists; scoped to the caller's organisation.

use axum::body::Body;
use axum::http::{header, Method, StatusCode};
use serde_json::{json, Value};
use threadline_server::AppState;

use crate::common::{public, track_body, TestApp, PUBLIC_URL};
use crate::documents::Docs;

/// Tracks an email (`n` gives its ids and its date) to `contact` as `token`.
async fn track(app: &TestApp, token: &str, n: u32, contact: &Value, subject: &str, shared: bool) {
    let id = format!("{n:016x}");
    let mut body = track_body(&[&id], &[contact]);
    body["subject"] = json!(subject);
    body["sent_at"] = json!(format!("2025-03-{:02}T10:00:00Z", n));
    body["visibility"] = json!(if shared { "shared" } else { "private" });
    let answer = app.post_as(token, "/api/v1/tracked-emails", body).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
}

/// `field` of each item of the list `card[key]`.
fn texts<'a>(card: &'a Value, key: &str, field: &str) -> Vec<&'a str> {
    card[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item[field].as_str().unwrap())
        .collect()
}

async fn task(app: &TestApp, body: Value) {
    let answer = app.post("/api/v1/tasks", body).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
}

#[tokio::test]
async fn a_card_holds_the_contact_its_last_emails_open_tasks_and_documents() {
    let mut docs = Docs::new().await;
    docs.app.router = threadline_server::router(public(AppState::with_data_dir(
        docs.app.db.clone(),
        docs.data_dir.path(),
    )));
    let app = &docs.app;
    let created = app
        .post(
            "/api/v1/contacts",
            json!({
                "first_name": "Carla",
                "last_name": "Diaz",
                "emails": ["carla@acme.com"],
                "company": { "kind": "new", "name": "Acme", "domain": "acme.com" },
                "job_title": "Buyer",
                "phones": [
                    { "number": "+31 20 000 0001", "label": "work" },
                    { "number": "+31 20 000 0002" },
                    { "number": "+31 20 000 0003" },
                    { "number": "+31 20 000 0004" },
                ],
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let carla = created.body;
    let other = app.contact("Dan", "", &["dan@acme.com"], None).await;
    let zoe = app.colleague("zoe@ourco.com").await;

    // Seven emails on Carla's timeline (dates 1..=7); 6 is a colleague's private one, 5 a
    // colleague's shared one; one on another contact's timeline only.
    for n in 1..=4 {
        track(app, &app.token, n, &carla, &format!("Mine {n}"), false).await;
    }
    track(app, &zoe, 5, &carla, "Zoe shared", true).await;
    track(app, &zoe, 6, &carla, "Zoe secret", false).await;
    track(app, &app.token, 7, &carla, "Mine 7", false).await;
    track(app, &app.token, 8, &other, "Not Carla's", false).await;

    // Open tasks: undated, due later, due sooner; a done one and another contact's are not.
    let id = carla["id"].clone();
    task(app, json!({ "title": "Undated", "contact_id": id })).await;
    task(
        app,
        json!({ "title": "Later", "due_date": "2026-02-01", "contact_id": id }),
    )
    .await;
    task(
        app,
        json!({ "title": "Sooner", "due_date": "2026-01-01", "contact_id": id }),
    )
    .await;
    task(
        app,
        json!({ "title": "Linked", "linked": { "kind": "contact", "id": id } }),
    )
    .await;
    for n in 0..3 {
        task(
            app,
            json!({ "title": format!("Undated {n}"), "contact_id": id }),
        )
        .await;
    }
    task(
        app,
        json!({ "title": "Done", "done": true, "contact_id": id }),
    )
    .await;
    task(app, json!({ "title": "Dan's", "contact_id": other["id"] })).await;

    // Documents: four files and a folder (not counted).
    let base = format!("/api/v1/contacts/{}/documents", id.as_str().unwrap());
    let token = app.token.clone();
    for name in ["a.pdf", "b.pdf", "c.pdf", "d.pdf"] {
        let answer = docs
            .upload_as(&token, &base, name, None, Body::from("x"))
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    }
    let folder = app
        .post(&format!("{base}/folders"), json!({ "name": "Contracts" }))
        .await;
    assert_eq!(folder.status, StatusCode::CREATED, "{}", folder.body);

    let path = format!("/api/v1/contacts/{}/card", id.as_str().unwrap());
    let answer = app.get(&path).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let card = &answer.body;
    assert_eq!(card["contact"]["id"], id);
    assert_eq!(card["contact"]["first_name"], "Carla");
    assert_eq!(card["contact"]["primary_email"], "carla@acme.com");
    assert_eq!(card["contact"]["company"]["name"], "Acme");
    assert_eq!(card["job_title"], "Buyer");
    let phones = texts(card, "phones", "number");
    assert_eq!(
        phones,
        ["+31 20 000 0001", "+31 20 000 0002", "+31 20 000 0003"]
    );
    assert_eq!(card["phones"][0]["label"], "work");

    // The last five, newest first; the colleague's private one shows who, not what.
    let emails = card["emails"].as_array().unwrap();
    let subjects = texts(card, "emails", "subject");
    assert_eq!(subjects, ["Mine 7", "", "Zoe shared", "Mine 4", "Mine 3"]);
    assert_eq!(card["more_emails"], true);
    let secret = &emails[1];
    assert_eq!(secret["redacted"], true);
    assert_eq!(secret["owner"]["email"], "zoe@ourco.com");
    assert_eq!(secret["date"], "2025-03-06T10:00:00Z");
    assert!(
        !answer.body.to_string().contains("Zoe secret"),
        "a private subject never leaves the server"
    );
    assert!(emails[0].get("redacted").is_none());

    // Open tasks: due soonest first, then undated oldest first; five shown of seven.
    let titles = texts(card, "open_tasks", "title");
    assert_eq!(
        titles,
        ["Sooner", "Later", "Undated", "Linked", "Undated 0"]
    );
    assert_eq!(card["open_tasks"][0]["due_date"], "2026-01-01");
    assert_eq!(card["open_task_count"], 7);

    // Four files (the folder is not one), the three most recently changed.
    assert_eq!(card["document_count"], 4);
    let names = texts(card, "documents", "name");
    assert_eq!(names, ["d.pdf", "c.pdf", "b.pdf"]);
    // The contact's page in the web app, under the public URL; a page the web app has
    // (without a session it sends to the sign-in, where an unknown path is a 404).
    let page = format!("/contacts/{}", id.as_str().unwrap());
    assert_eq!(card["web_url"], format!("{PUBLIC_URL}{page}"));
    let opened = app.send_raw(Method::GET, &page, None, None, &[]).await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER);
    assert!(opened.headers[header::LOCATION]
        .to_str()
        .unwrap()
        .starts_with("/sign-in?next="));
    // A request's Host never moves the link to another host.
    let forged = app
        .send_raw(
            Method::GET,
            &path,
            Some(&app.token),
            None,
            &[("host", "evil.example")],
        )
        .await;
    assert_eq!(forged.body["web_url"], card["web_url"]);

    // The colleague reads their own private email, and not the owner's private ones.
    let theirs = app.get_as(&zoe, &path).await;
    assert_eq!(theirs.status, StatusCode::OK, "{}", theirs.body);
    let subjects = texts(&theirs.body, "emails", "subject");
    assert_eq!(subjects, ["", "Zoe secret", "Zoe shared", "", ""]);
}

#[tokio::test]
async fn an_empty_card_and_the_cards_one_may_not_see() {
    let app = TestApp::new().await;
    let bob = app.bob_at_acme().await;
    let id = bob["id"].as_str().unwrap();
    let path = format!("/api/v1/contacts/{id}/card");
    let answer = app.get(&path).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["emails"], json!([]));
    assert_eq!(answer.body["more_emails"], false);
    assert_eq!(answer.body["open_tasks"], json!([]));
    assert_eq!(answer.body["open_task_count"], 0);
    assert_eq!(answer.body["document_count"], 0);
    assert_eq!(answer.body["documents"], json!([]));
    assert_eq!(answer.body["phones"], json!([]));
    // A server that does not know where people reach it links to no page.
    assert!(answer.body.get("web_url").is_none());

    // Another organisation's contact is answered like a missing one.
    let stranger = app.user_in_new_org("eve@elsewhere.com").await;
    app.get_as(&stranger, &path)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found", None);
    app.get(&format!("/api/v1/contacts/{}/card", uuid::Uuid::now_v7()))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found", None);
    app.get("/api/v1/contacts/not-an-id/card")
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found", None);

    // A deleted contact has no card.
    let deleted = app
        .send_raw(
            axum::http::Method::DELETE,
            &format!("/api/v1/contacts/{id}"),
            Some(&app.token.clone()),
            None,
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    app.get(&path)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found", None);
}
