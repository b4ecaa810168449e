use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde_json::{json, Value};
use threadline_domain::api::MAX_STATE_MESSAGES;

use crate::common::{public, track_body, TestApp, OWNER_EMAIL, PUBLIC_URL};

/// `msg-f:` + the decimal of the legacy hex id `163d03bfda277ec1`.
const LEGACY: &str = "163d03bfda277ec1";
const SYNC: &str = "#msg-f:1602441164947422913";
const LOCAL: &str = "msg-a:r-123456789";

fn links(email: &Value) -> BTreeSet<(String, String, String)> {
    email["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["record_kind"].as_str().unwrap().to_string(),
                l["record_id"].as_str().unwrap().to_string(),
                l["record_name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn link(kind: &str, record: &Value, name: &str) -> (String, String, String) {
    (
        kind.to_string(),
        record["id"].as_str().unwrap().to_string(),
        name.to_string(),
    )
}

#[tokio::test]
async fn tracking_is_idempotent_and_adds_missing_links() {
    let app = TestApp::new().await;
    let bob = app.bob_at_acme().await;
    let carol = app.contact("", "", &["carol@freelance.org"], None).await;

    let mut body = track_body(&[SYNC, LOCAL], &[&bob]);
    body["rfc_message_id"] = json!("<CAF=abc@mail.acme.com>");
    let first = app.post("/api/v1/tracked-emails", body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["created"], true);
    let email = &first.body["tracked_email"];
    assert_eq!(
        email["gmail_message_id"], LEGACY,
        "a msg-f id is kept in its legacy hex form"
    );
    let ids: BTreeSet<&str> = email["message_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        BTreeSet::from([LEGACY, LOCAL, "CAF=abc@mail.acme.com"])
    );
    assert_eq!(email["message_ids"][0], LEGACY, "primary first");
    assert_eq!(email["subject"], "Quarterly numbers");
    assert_eq!(email["direction"], "incoming");
    assert_eq!(email["gmail_thread_id"], "thread-1");
    // On the contact's timeline and on the contact's company's.
    assert_eq!(
        links(email),
        BTreeSet::from([
            link("contact", &bob, "Bob Baker"),
            link("company", &bob["company"], "Acme")
        ])
    );

    // The same again: the existing entry, nothing new.
    let second = app.post("/api/v1/tracked-emails", body).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    assert_eq!(second.body["created"], false);
    assert_eq!(second.body["tracked_email"], first.body["tracked_email"]);

    // Found by another of its ids only (the RFC id), with another contact: the link is added.
    let third = app
        .post(
            "/api/v1/tracked-emails",
            json!({
                "gmail_message_id": "<CAF=abc@mail.acme.com>",
                "direction": "incoming",
                "contact_ids": [carol["id"], bob["id"]],
            }),
        )
        .await;
    assert_eq!(third.status, StatusCode::OK, "{}", third.body);
    assert_eq!(third.body["created"], false);
    let email3 = &third.body["tracked_email"];
    assert_eq!(email3["id"], email["id"]);
    assert_eq!(
        email3["gmail_message_id"], LEGACY,
        "the better primary id is kept"
    );
    assert_eq!(
        links(email3),
        BTreeSet::from([
            link("contact", &bob, "Bob Baker"),
            link("contact", &carol, "carol@freelance.org"),
            link("company", &bob["company"], "Acme"),
        ])
    );
    assert_eq!(app.count("tracked_emails").await, 1);
    assert_eq!(app.count("tracked_email_ids").await, 3);
    assert_eq!(app.count("tracked_email_links").await, 3);
}

#[tokio::test]
async fn a_local_id_is_upgraded_and_split_entries_are_merged() {
    let app = TestApp::new().await;
    let bob = app.contact("Bob", "", &["bob@acme.com"], None).await;
    let carol = app.contact("Carol", "", &["carol@acme.com"], None).await;

    // Just sent: only the browser-local id is known.
    let sent = app
        .post("/api/v1/tracked-emails", track_body(&[LOCAL], &[&bob]))
        .await;
    assert_eq!(sent.status, StatusCode::CREATED);
    assert_eq!(sent.body["tracked_email"]["gmail_message_id"], LOCAL);
    // Later the page knows both: same entry, primary upgraded.
    let later = app
        .post(
            "/api/v1/tracked-emails",
            track_body(&[LEGACY, LOCAL], &[&bob]),
        )
        .await;
    assert_eq!(later.status, StatusCode::OK, "{}", later.body);
    assert_eq!(
        later.body["tracked_email"]["id"],
        sent.body["tracked_email"]["id"]
    );
    assert_eq!(later.body["tracked_email"]["gmail_message_id"], LEGACY);

    // Two entries for what turns out to be one email are merged into the older one.
    let a = app
        .post(
            "/api/v1/tracked-emails",
            track_body(&["aaaa000000000001"], &[&bob]),
        )
        .await;
    let b = app
        .post(
            "/api/v1/tracked-emails",
            track_body(&["msg-a:r-77"], &[&carol]),
        )
        .await;
    assert_eq!(
        (a.status, b.status),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    let merged = app
        .post(
            "/api/v1/tracked-emails",
            track_body(&["aaaa000000000001", "msg-a:r-77"], &[&bob]),
        )
        .await;
    assert_eq!(merged.status, StatusCode::OK, "{}", merged.body);
    let email = &merged.body["tracked_email"];
    assert_eq!(email["id"], a.body["tracked_email"]["id"]);
    assert_eq!(
        email["message_ids"],
        json!(["aaaa000000000001", "msg-a:r-77"])
    );
    assert_eq!(
        links(email),
        BTreeSet::from([
            link("contact", &bob, "Bob"),
            link("contact", &carol, "Carol")
        ])
    );
    // The newer entry is in the trash (never erased), its ids the older one's now.
    assert_eq!(app.count("tracked_emails").await, 3);
    let newer = format!(
        "/api/v1/tracked-emails/{}",
        b.body["tracked_email"]["id"].as_str().unwrap()
    );
    app.get(&newer)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found", None);
    let trashed = app.get(&format!("{newer}?include_deleted=true")).await;
    assert_eq!(trashed.status, StatusCode::OK, "{}", trashed.body);
    assert!(trashed.body["deleted_at"].is_string(), "{}", trashed.body);
}

#[tokio::test]
async fn track_validation() {
    let app = TestApp::new().await;
    let bob = app.contact("Bob", "", &["bob@acme.com"], None).await;
    let mut body = track_body(&[LEGACY], &[]);
    app.post("/api/v1/tracked-emails", body.clone())
        .await
        .assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("contact_ids"),
        );

    body["contact_ids"] = json!([bob["id"], "0190f5f0-0000-7000-8000-000000000000"]);
    app.post("/api/v1/tracked-emails", body.clone())
        .await
        .assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_found",
            Some("contact_ids[1]"),
        );

    body["contact_ids"] = json!([bob["id"]]);
    body["gmail_message_id"] = json!("  ");
    app.post("/api/v1/tracked-emails", body.clone())
        .await
        .assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("gmail_message_id"),
        );
    body["gmail_message_id"] = json!(LEGACY);
    body["alt_message_ids"] = json!(["ok", "has space"]);
    app.post("/api/v1/tracked-emails", body.clone())
        .await
        .assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("alt_message_ids[1]"),
        );
    assert_eq!(app.count("tracked_emails").await, 0);
}

#[tokio::test]
async fn a_long_body_is_truncated_not_refused() {
    let app = TestApp::new().await;
    let bob = app.contact("Bob", "", &["bob@acme.com"], None).await;
    let mut body = track_body(&[LEGACY], &[&bob]);
    // 300 KiB of two-byte characters: the cut must fall on a character boundary.
    body["body_text"] = json!("é".repeat(150 * 1024));
    let answer = app.post("/api/v1/tracked-emails", body).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    let stored: String = sqlx::query_scalar("SELECT body_text FROM tracked_emails")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(stored.len(), 256 * 1024);
    assert!(stored.chars().all(|c| c == 'é'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_identical_requests_make_one_email() {
    let app = TestApp::new().await;
    let bob = app.bob_at_acme().await;
    let body = track_body(&[LEGACY, LOCAL], &[&bob]);
    let mut created = 0;
    let mut ids = BTreeSet::new();
    for answer in app
        .post_concurrently(8, "/api/v1/tracked-emails", &body, &[])
        .await
    {
        let (status, body) = (answer.status, answer.body);
        assert!(status.is_success(), "{status}: {body}");
        if body["created"] == true {
            assert_eq!(status, StatusCode::CREATED);
            created += 1;
        }
        ids.insert(body["tracked_email"]["id"].as_str().unwrap().to_string());
    }
    assert_eq!(created, 1, "exactly one request created the entry");
    assert_eq!(ids.len(), 1, "all answers are the same entry");
    assert_eq!(app.count("tracked_emails").await, 1);
    assert_eq!(app.count("tracked_email_ids").await, 2);
    assert_eq!(app.count("tracked_email_links").await, 2);
}

#[tokio::test]
async fn tracked_state_for_a_page_of_messages() {
    let app = TestApp::new().await;
    let bob = app.contact("Bob", "", &["bob@acme.com"], None).await;
    let tracked = app
        .post(
            "/api/v1/tracked-emails",
            track_body(&[LEGACY, LOCAL], &[&bob]),
        )
        .await;
    assert_eq!(tracked.status, StatusCode::CREATED);
    // A task made from the message while only its local id was known.
    let task = app
        .post(
            "/api/v1/tasks",
            json!({ "title": "Answer Bob", "source_message_id": LOCAL }),
        )
        .await;
    assert_eq!(task.status, StatusCode::CREATED, "{}", task.body);
    // A task from a message that is not tracked.
    let loose = app
        .post(
            "/api/v1/tasks",
            json!({ "title": "Read this", "source_message_id": "#msg-f:255" }),
        )
        .await;
    assert_eq!(loose.body["source_message_id"], "ff");

    let answer = app
        .post(
            "/api/v1/tracked-emails/state",
            json!({ "messages": [
                { "ids": [LEGACY] },
                { "ids": [SYNC] },
                { "ids": ["ffff000000000000"] },
                { "ids": ["FF", "msg-a:r-9"] },
                { "ids": [] },
            ]}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let messages = answer.body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 5);
    for state in &messages[..2] {
        assert_eq!(state["tracked_email"], tracked.body["tracked_email"]);
        assert_eq!(
            state["tasks"],
            json!([task.body.clone()]),
            "found through the email's other id"
        );
    }
    assert!(messages[2].get("tracked_email").is_none());
    assert_eq!(messages[2]["tasks"], json!([]));
    assert!(messages[3].get("tracked_email").is_none());
    assert_eq!(messages[3]["tasks"], json!([loose.body.clone()]));
    assert_eq!(messages[4]["tasks"], json!([]));

    let too_many: Vec<Value> = (0..=MAX_STATE_MESSAGES)
        .map(|i| json!({ "ids": [format!("m{i}")] }))
        .collect();
    app.post(
        "/api/v1/tracked-emails/state",
        json!({ "messages": too_many }),
    )
    .await
    .assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("messages"),
    );
}

/// The tracked email's page in the web app, under the server's public URL, in the answers
/// the bar reads: tracking it and the page's state (none without a public URL).
#[tokio::test]
async fn the_answers_link_to_the_emails_page_in_the_web_app() {
    let mut app = TestApp::new().await;
    let bob = app.contact("Bob", "", &["bob@acme.com"], None).await;
    let plain = app
        .post("/api/v1/tracked-emails", track_body(&["aa"], &[&bob]))
        .await;
    assert_eq!(plain.status, StatusCode::CREATED, "{}", plain.body);
    assert!(plain.body["tracked_email"].get("web_url").is_none());

    app.router = threadline_server::router(public(app.state.clone()));
    // Sent with a forged Host: the link stays on the public URL.
    let tracked = app
        .send_raw(
            axum::http::Method::POST,
            "/api/v1/tracked-emails",
            Some(&app.token),
            Some(track_body(&[LEGACY], &[&bob]).to_string()),
            &[("host", "evil.example")],
        )
        .await;
    assert_eq!(tracked.status, StatusCode::CREATED, "{}", tracked.body);
    let email = &tracked.body["tracked_email"];
    let page = format!("/emails/{}", email["id"].as_str().unwrap());
    assert_eq!(email["web_url"], format!("{PUBLIC_URL}{page}"));
    let state = app
        .post(
            "/api/v1/tracked-emails/state",
            json!({ "messages": [{ "ids": [LEGACY] }, { "ids": ["aa"] }] }),
        )
        .await;
    assert_eq!(state.status, StatusCode::OK, "{}", state.body);
    assert_eq!(state.body["messages"][0]["tracked_email"], *email);
    assert_eq!(
        state.body["messages"][1]["tracked_email"]["web_url"],
        format!(
            "{PUBLIC_URL}/emails/{}",
            plain.body["tracked_email"]["id"].as_str().unwrap()
        )
    );
    // A page the web app has: without a session it sends to the sign-in (an unknown path
    // is a 404).
    let opened = app
        .send_raw(axum::http::Method::GET, &page, None, None, &[])
        .await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER);
    assert!(opened.headers[axum::http::header::LOCATION]
        .to_str()
        .unwrap()
        .starts_with("/sign-in?next="));
}

/// A legacy hex id with leading zeros (a page may write the attribute zero-padded) is the
/// same message as the extension's form without them: the server keeps one form, the domain
/// crate's, so an email tracked under one is found under the other.
#[tokio::test]
async fn a_zero_padded_legacy_id_is_the_same_message() {
    let app = TestApp::new().await;
    let bob = app.contact("Bob", "", &["bob@acme.com"], None).await;
    let tracked = app
        .post(
            "/api/v1/tracked-emails",
            track_body(&["00163d03bfda277e"], &[&bob]),
        )
        .await;
    assert_eq!(tracked.status, StatusCode::CREATED, "{}", tracked.body);
    assert_eq!(
        tracked.body["tracked_email"]["gmail_message_id"],
        "163d03bfda277e"
    );
    // What the extension sends for that message (`threadline_domain::message::message_identity`).
    let identity =
        threadline_domain::message::message_identity(Some("00163D03BFDA277E"), None).unwrap();
    let answer = app
        .post(
            "/api/v1/tracked-emails/state",
            json!({ "messages": [{ "ids": identity.all }] }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.body["messages"][0]["tracked_email"],
        tracked.body["tracked_email"]
    );
    let task = app
        .post(
            "/api/v1/tasks",
            json!({ "title": "Answer Bob", "source_message_id": "0000ff" }),
        )
        .await;
    assert_eq!(task.body["source_message_id"], "ff");
}

/// Two users of one organisation: a private email (the default) shows its content to its
/// owner only, through every route; the owner shares it (If-Match), deletes it (soft), and
/// tracking it again brings it back as the tracker's.
#[tokio::test]
async fn private_emails_show_nothing_but_their_existence_to_colleagues() {
    use crate::records::send_v;
    use axum::http::Method;
    let app = TestApp::new().await;
    let carol = app.colleague("carol@example.com").await;
    let bob = app.bob_at_acme().await;
    let mut body = track_body(&["abc0000000000001", "<cafe@mail.acme.com>"], &[&bob]);
    body["html_body"] = json!("<p>Hi <b>Ann</b>, here they are.</p>");
    let tracked = app.post("/api/v1/tracked-emails", body.clone()).await;
    assert_eq!(tracked.status, StatusCode::CREATED, "{}", tracked.body);
    let id = tracked.body["tracked_email"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v1/tracked-emails/{id}");
    let bob_id = bob["id"].as_str().unwrap();
    let timeline = format!("/api/v1/tracked-emails?record_kind=contact&record_id={bob_id}");
    let state_body = json!({ "messages": [{ "ids": ["abc0000000000001"] }] });

    // The owner sees it all.
    let mine = app.get(&path).await;
    assert_eq!(mine.status, StatusCode::OK);
    assert_eq!(mine.body["visibility"], "private");
    assert_eq!(mine.body["subject"], "Quarterly numbers");
    assert_eq!(
        mine.body["html_body"],
        "<p>Hi <b>Ann</b>, here they are.</p>"
    );
    assert_eq!(mine.body["to"][0]["address"], OWNER_EMAIL);
    assert_eq!(app.get(&timeline).await.body["items"][0], mine.body);

    // Carol sees that it exists, by whom, when and which way; nothing else, anywhere.
    let secrets = [
        "Quarterly",
        "Hi Ann",
        "<b>",
        "bob@acme.com",
        "Bob",
        "cafe@",
        "thread-1",
    ];
    let leaks = |v: &serde_json::Value| {
        let text = v.to_string();
        for s in secrets {
            assert!(!text.contains(s), "{s:?} leaked in {text}");
        }
    };
    let theirs = app.get_as(&carol, &path).await;
    assert_eq!(theirs.status, StatusCode::OK);
    assert_eq!(theirs.body["redacted"], true);
    assert_eq!(theirs.body["direction"], "incoming");
    assert_eq!(theirs.body["sent_at"], "2025-03-04T05:06:07Z");
    assert_eq!(theirs.body["owner"]["email"], OWNER_EMAIL);
    assert!(theirs.body.get("subject").is_none());
    leaks(&theirs.body);
    let listed = app.get_as(&carol, &timeline).await.body;
    assert_eq!(listed["items"][0], theirs.body);
    leaks(&listed);
    let state = app
        .post_as(&carol, "/api/v1/tracked-emails/state", state_body.clone())
        .await
        .body;
    assert_eq!(state["messages"][0]["tracked_email"]["id"], json!(id));
    assert_eq!(state["messages"][0]["tracked_email"]["subject"], "");
    // The bar says whose it is ("Tracked privately by Ann Owner").
    assert_eq!(state["messages"][0]["tracked_email"]["redacted"], true);
    assert_eq!(
        state["messages"][0]["tracked_email"]["owner"]["name"],
        "Ann Owner"
    );
    leaks(&state);
    // The owner's own answer is not redacted.
    let own_state = app
        .post("/api/v1/tracked-emails/state", state_body.clone())
        .await
        .body;
    assert!(
        own_state["messages"][0]["tracked_email"]
            .get("redacted")
            .is_none(),
        "{own_state}"
    );
    assert_eq!(
        own_state["messages"][0]["tracked_email"]["owner"]["email"],
        OWNER_EMAIL
    );
    leaks(&app.get_as(&carol, "/api/v1/changes").await.body);
    // Only the owner changes or deletes it.
    let v = app.get(&path).await.body["version"].as_i64().unwrap();
    let tag = format!("\"{v}\"");
    for method in [Method::PATCH, Method::DELETE] {
        let body = (method == Method::PATCH).then(|| json!({"visibility": "shared"}).to_string());
        app.send_raw(
            method,
            &path,
            Some(&carol),
            body,
            &[("if-match", tag.as_str())],
        )
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden", None);
    }

    // The owner shares it: If-Match required and checked; only `visibility` may change.
    let share = json!({"visibility": "shared"});
    send_v(&app, Method::PATCH, &path, Some(share.clone()), None)
        .await
        .assert_error(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition_required",
            Some("If-Match"),
        );
    send_v(&app, Method::PATCH, &path, Some(share.clone()), Some(v + 1))
        .await
        .assert_error(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            Some("If-Match"),
        );
    send_v(
        &app,
        Method::PATCH,
        &path,
        Some(json!({"visibility": "public"})),
        Some(v),
    )
    .await
    .assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
        Some("visibility"),
    );
    send_v(
        &app,
        Method::PATCH,
        &path,
        Some(json!({"subject": "x"})),
        Some(v),
    )
    .await
    .assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
        Some("subject"),
    );
    let shared = send_v(&app, Method::PATCH, &path, Some(share), Some(v)).await;
    assert_eq!(shared.status, StatusCode::OK, "{}", shared.body);
    assert_eq!(shared.body["visibility"], "shared");
    let theirs = app.get_as(&carol, &path).await.body;
    assert_eq!(theirs["subject"], "Quarterly numbers");
    assert_eq!(theirs, shared.body);
    let state = app
        .post_as(&carol, "/api/v1/tracked-emails/state", state_body.clone())
        .await
        .body;
    assert_eq!(
        state["messages"][0]["tracked_email"]["subject"],
        "Quarterly numbers"
    );

    // Deleted: gone from the bar's state, the timeline and get; a tombstone in the feed.
    let v = shared.body["version"].as_i64().unwrap();
    assert_eq!(
        send_v(&app, Method::DELETE, &path, None, Some(v))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    for token in [app.token.clone(), carol.clone()] {
        let state = app
            .post_as(&token, "/api/v1/tracked-emails/state", state_body.clone())
            .await
            .body;
        assert_eq!(state["messages"][0], json!({ "tasks": [] }));
        assert_eq!(app.get_as(&token, &timeline).await.body["items"], json!([]));
        app.get_as(&token, &path)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found", None);
    }
    let feed = app.get("/api/v1/changes").await.body;
    let last = feed["changes"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        last,
        json!({"kind": "tracked_email", "id": id, "version": v + 1, "deleted": true})
    );

    // Tracked again by Carol: an entry of her own, of the same email; Ann's stays Ann's, in
    // the trash.
    let mut hers = track_body(&["<cafe@mail.acme.com>"], &[&bob]);
    hers["subject"] = json!("Numbers (Carol)");
    let back = app.post_as(&carol, "/api/v1/tracked-emails", hers).await;
    assert_eq!(back.status, StatusCode::CREATED, "{}", back.body);
    let carols = back.body["tracked_email"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(carols, id);
    let theirs = app
        .get_as(&carol, &format!("/api/v1/tracked-emails/{carols}"))
        .await
        .body;
    assert_eq!(theirs["owner"]["email"], "carol@example.com");
    assert_eq!(theirs["subject"], "Numbers (Carol)");
    assert_eq!(
        theirs["email_id"], shared.body["email_id"],
        "the same email"
    );
    let anns = app.get(&format!("{path}?include_deleted=true")).await.body;
    assert_eq!(anns["owner"]["email"], OWNER_EMAIL);
    assert_eq!(anns["subject"], "Quarterly numbers");
    assert!(anns["deleted_at"].is_string(), "{anns}");
    // Ann tracks it again: her own entry comes back, with her new content.
    let mut again = track_body(&["abc0000000000001"], &[&bob]);
    again["subject"] = json!("Numbers, again");
    let restored = app.post("/api/v1/tracked-emails", again).await;
    assert_eq!(restored.status, StatusCode::CREATED, "{}", restored.body);
    assert_eq!(restored.body["tracked_email"]["id"], json!(id));
    let restored = app.get(&path).await.body;
    assert_eq!(restored["owner"]["email"], OWNER_EMAIL);
    assert_eq!(restored["subject"], "Numbers, again");
    assert_eq!(restored["html_body"], json!(null));
    assert!(restored.get("deleted_at").is_none());
    assert_eq!(app.get_as(&carol, &path).await.body["redacted"], true);
}

#[tokio::test]
async fn timelines_are_newest_first_and_paginated() {
    let app = TestApp::new().await;
    let bob = app.bob_at_acme().await;
    let ann = app.contact("Ann", "", &["ann@x.org"], None).await;
    for i in 0..5 {
        let mut body = track_body(&[&format!("abc000000000001{i}")], &[&bob]);
        body["sent_at"] = json!(format!("2025-03-0{}T05:06:07Z", 5 - i % 3));
        body["visibility"] = json!("shared");
        assert_eq!(
            app.post("/api/v1/tracked-emails", body).await.status,
            StatusCode::CREATED
        );
    }
    app.post(
        "/api/v1/tracked-emails",
        track_body(&["abc0000000000099"], &[&ann]),
    )
    .await;
    let company = bob["company"]["id"].as_str().unwrap();
    for path in [
        format!(
            "/api/v1/tracked-emails?record_kind=contact&record_id={}",
            bob["id"].as_str().unwrap()
        ),
        format!("/api/v1/tracked-emails?record_kind=company&record_id={company}"),
    ] {
        let items = crate::records::all_pages(&app, &path, 2).await;
        let dates: Vec<&str> = items
            .iter()
            .map(|e| e["sent_at"].as_str().unwrap())
            .collect();
        assert_eq!(items.len(), 5);
        let mut sorted = dates.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(dates, sorted);
        let mut ids: Vec<&str> = items.iter().map(|e| e["id"].as_str().unwrap()).collect();
        ids.dedup();
        assert_eq!(ids.len(), 5);
    }
    assert_eq!(
        crate::records::all_pages(&app, "/api/v1/tracked-emails", 4)
            .await
            .len(),
        6
    );
    app.get(
        "/api/v1/tracked-emails?record_kind=project&record_id=0190f5f0-0000-7000-8000-000000000000",
    )
    .await
    .assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_query",
        Some("record_kind"),
    );
    app.get("/api/v1/tracked-emails?record_kind=contact")
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_query", Some("record_id"));
    app.get(
        "/api/v1/tracked-emails?record_kind=contact&record_id=0190f5f0-0000-7000-8000-000000000000",
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "not_found", None);
    let mut body = track_body(&["abc0000000000077"], &[&bob]);
    body["visibility"] = json!("public");
    app.post("/api/v1/tracked-emails", body).await.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
        Some("visibility"),
    );
}
