//! The privacy rules (issue 14) over the API: the never-log list and who may change it, the
//! organisation's internal domains, the lookup's verdicts, tracking and new contacts
//! refused, and own addresses that include a connected Google account's.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{track_body, Answer, TestApp, OWNER_EMAIL};
use crate::google_account::{setup, GOOGLE_USER};

const NEVER_LOG: &str = "/api/v1/privacy/never-log";
const DOMAINS: &str = "/api/v1/organisation/domains";

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Answer {
    app.send_raw(method, path, Some(token), body.map(|b| b.to_string()), &[])
        .await
}

async fn add(app: &TestApp, token: &str, value: &str, scope: &str) -> Answer {
    app.post_as(token, NEVER_LOG, json!({ "value": value, "scope": scope }))
        .await
}

async fn lookup_as(app: &TestApp, token: &str, addresses: &[&str]) -> Vec<Value> {
    let answer = app
        .post_as(token, "/api/v1/lookup", json!({ "addresses": addresses }))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body["results"].as_array().unwrap().clone()
}

fn values(list: &Answer) -> Vec<(String, String, String)> {
    list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["scope"].as_str().unwrap().to_string(),
                e["kind"].as_str().unwrap().to_string(),
                e["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn roles_owner_first_then_members() {
    let app = TestApp::new().await;
    let cole = app.colleague("cole@ourco.com").await;
    assert_eq!(app.get("/api/v1/me").await.body["role"], "owner");
    assert_eq!(app.get_as(&cole, "/api/v1/me").await.body["role"], "member");
    // The first user of another organisation owns that one.
    let them = app.user_in_new_org("them@theirs.example").await;
    assert_eq!(app.get_as(&them, "/api/v1/me").await.body["role"], "owner");

    // Migration 0019's own statement makes the oldest user of each organisation its owner.
    let migration = include_str!("../../../storage/migrations/0019_privacy_rules.sql");
    let start = migration
        .find("UPDATE users SET role = 'owner'")
        .expect("the statement");
    let statement = &migration[start..start + migration[start..].find(';').unwrap()];
    sqlx::query("UPDATE users SET role = 'member'")
        .execute(app.pool())
        .await
        .unwrap();
    sqlx::query(statement).execute(app.pool()).await.unwrap();
    let mut roles = Vec::new();
    for token in [&app.token, &cole, &them] {
        roles.push(app.get_as(token, "/api/v1/me").await.body["role"].clone());
    }
    assert_eq!(roles, ["owner", "member", "owner"]);
}

#[tokio::test]
async fn never_log_list_crud_and_rights() {
    let app = TestApp::new().await;
    let owner = app.token.clone();
    let cole = app.colleague("cole@ourco.com").await;

    // Normalised; a duplicate (by match key, or the same domain) answers the entry it is.
    let ann = add(&app, &owner, " Ann.Lee+x@GoogleMail.com ", "me").await;
    assert_eq!(ann.status, StatusCode::CREATED, "{}", ann.body);
    assert_eq!(ann.body["value"], "ann.lee+x@googlemail.com");
    assert_eq!(ann.body["kind"], "address");
    assert_eq!(ann.body["scope"], "me");
    let again = add(&app, &owner, "annlee@gmail.com", "me").await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["id"], ann.body["id"]);
    let clinic = add(&app, &owner, "@Clinic.Example.", "organisation").await;
    assert_eq!(clinic.status, StatusCode::CREATED, "{}", clinic.body);
    assert_eq!(clinic.body["value"], "clinic.example");
    assert_eq!(clinic.body["kind"], "domain");
    assert_eq!(
        add(&app, &owner, "clinic.example", "organisation")
            .await
            .status,
        StatusCode::OK
    );
    // The same value on the user's own list is another entry.
    assert_eq!(
        add(&app, &owner, "clinic.example", "me").await.status,
        StatusCode::CREATED
    );
    // `scope` defaults to `me`.
    let plain = app
        .post(NEVER_LOG, json!({ "value": "x@lawyers.example" }))
        .await;
    assert_eq!(plain.status, StatusCode::CREATED);
    assert_eq!(plain.body["scope"], "me");

    // Hostile or wrong input: 422 on `value`, nothing stored.
    let before = app.count("never_log_entries").await;
    for bad in [
        "",
        "ann@",
        "co.uk",
        "com",
        "acme.com'; DROP TABLE users; --",
        "ann\u{202e}@acme.com",
        &"a".repeat(5000),
    ] {
        add(&app, &owner, bad, "me").await.assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("value"),
        );
    }
    let odd_scope = app
        .post(
            NEVER_LOG,
            json!({ "value": "a@b.example", "scope": "everyone" }),
        )
        .await;
    assert!(odd_scope.status.is_client_error(), "{}", odd_scope.body);
    let unknown_field = app
        .post(NEVER_LOG, json!({ "value": "a@b.example", "why": 1 }))
        .await;
    assert!(
        unknown_field.status.is_client_error(),
        "{}",
        unknown_field.body
    );
    assert_eq!(app.count("never_log_entries").await, before);

    // A member: their own list, the organisation's to read only.
    let mine = add(&app, &cole, "Friend@Home.example", "me").await;
    assert_eq!(mine.status, StatusCode::CREATED);
    let refused = add(&app, &cole, "rival.example", "organisation").await;
    refused.assert_error(StatusCode::FORBIDDEN, "forbidden", None);
    assert!(refused.message().contains("owner"), "{}", refused.body);
    let list = app.get_as(&cole, NEVER_LOG).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["organisation_editable"], false);
    assert_eq!(
        values(&list),
        [
            ("me".into(), "address".into(), "friend@home.example".into()),
            (
                "organisation".into(),
                "domain".into(),
                "clinic.example".into()
            ),
        ]
    );
    let list = app.get(NEVER_LOG).await;
    assert_eq!(list.body["organisation_editable"], true);
    assert_eq!(
        values(&list),
        [
            (
                "me".into(),
                "address".into(),
                "ann.lee+x@googlemail.com".into()
            ),
            ("me".into(), "address".into(), "x@lawyers.example".into()),
            ("me".into(), "domain".into(), "clinic.example".into()),
            (
                "organisation".into(),
                "domain".into(),
                "clinic.example".into()
            ),
        ]
    );

    // Deleting: a member may not remove the organisation's entry, nor see the owner's own.
    let org_entry = format!("{NEVER_LOG}/{}", clinic.body["id"].as_str().unwrap());
    send(&app, Method::DELETE, &org_entry, &cole, None)
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden", None);
    let owners = format!("{NEVER_LOG}/{}", ann.body["id"].as_str().unwrap());
    send(&app, Method::DELETE, &owners, &cole, None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found", None);
    let theirs = format!("{NEVER_LOG}/{}", mine.body["id"].as_str().unwrap());
    let deleted = send(&app, Method::DELETE, &theirs, &cole, None).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert_eq!(deleted.body["value"], "friend@home.example");
    let deleted = send(&app, Method::DELETE, &org_entry, &owner, None).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    send(&app, Method::DELETE, &org_entry, &owner, None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found", None);
    // Another organisation sees none of it.
    let them = app.user_in_new_org("them@theirs.example").await;
    assert_eq!(values(&app.get_as(&them, NEVER_LOG).await), []);
    send(&app, Method::DELETE, &owners, &them, None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found", None);
}

#[tokio::test]
async fn internal_domains_derived_then_configured_by_the_owner() {
    let app = TestApp::new().await;
    let cole = app.colleague("cole@gmail.com").await;
    // Derived from the users' addresses (Ann's login and alias), free mail left out.
    let derived = app.get(DOMAINS).await;
    assert_eq!(derived.status, StatusCode::OK);
    assert_eq!(
        derived.body,
        json!({ "domains": ["ourco.com", "ourco.io"], "source": "derived" })
    );

    let put = |token: String, body: Value| {
        let app = &app;
        async move { send(app, Method::PUT, DOMAINS, &token, Some(body)).await }
    };
    put(cole.clone(), json!({ "domains": ["ourco.com"] }))
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden", None);
    put(
        app.token.clone(),
        json!({ "domains": ["ourco.com", "gmail.com"] }),
    )
    .await
    .assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("domains[1]"),
    );
    put(app.token.clone(), json!({ "domains": ["co.uk"] }))
        .await
        .assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("domains[0]"),
        );
    let many: Vec<String> = (0..101).map(|i| format!("d{i}.example")).collect();
    put(app.token.clone(), json!({ "domains": many }))
        .await
        .assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("domains"),
        );
    let set = put(
        app.token.clone(),
        json!({ "domains": ["@OurCo.com", "ourco-group.example", "ourco.com"] }),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(
        set.body,
        json!({ "domains": ["ourco-group.example", "ourco.com"], "source": "configured" })
    );
    assert_eq!(app.get_as(&cole, DOMAINS).await.body, set.body);
    // ourco.io is no longer internal; ourco-group.example is.
    let results = lookup_as(
        &app,
        &app.token,
        &["x@ourco.io", "y@eu.ourco-group.example"],
    )
    .await;
    assert_eq!(results[0]["status"], "unknown");
    assert_eq!(results[1]["status"], "colleague");
    assert_eq!(
        results[1]["privacy"],
        json!({ "rule": "colleague", "domain": "ourco-group.example" })
    );
    // An empty list: no colleagues by domain; null: derived again.
    let none = put(app.token.clone(), json!({ "domains": [] })).await;
    assert_eq!(none.body, json!({ "domains": [], "source": "configured" }));
    assert_eq!(
        lookup_as(&app, &app.token, &["cole@ourco.com"]).await[0]["status"],
        "unknown"
    );
    let back = put(app.token.clone(), json!({ "domains": null })).await;
    assert_eq!(back.body, derived.body);
}

#[tokio::test]
async fn lookup_says_own_never_log_colleague_and_why() {
    let app = TestApp::new().await;
    let cole = app.colleague("cole@ourco.com").await;
    app.bob_at_acme().await;
    let clinic = add(&app, &app.token, "clinic.example", "organisation").await;
    let mine = add(&app, &app.token, "bob@acme.com", "me").await;
    let addresses = [
        OWNER_EMAIL,
        "Bob@Acme.com",
        "doc@eu.clinic.example",
        "cole@ourco.com",
        "dan@globex.example",
        "nope",
    ];
    let results = lookup_as(&app, &app.token, &addresses).await;
    let statuses: Vec<&str> = results
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "own",
            "never_log",
            "never_log",
            "colleague",
            "unknown",
            "invalid"
        ]
    );
    assert_eq!(
        results[1]["privacy"],
        json!({ "rule": "never_log", "scope": "me", "entry_id": mine.body["id"], "kind": "address", "value": "bob@acme.com" })
    );
    assert_eq!(
        results[2]["privacy"],
        json!({ "rule": "never_log", "scope": "organisation", "entry_id": clinic.body["id"], "kind": "domain", "value": "clinic.example" })
    );
    // A never-logged known contact is not offered.
    assert_eq!(results[1]["contacts"], json!([]));
    assert!(results[4].get("privacy").is_none());
    // The user's own rule is theirs only: a colleague sees Bob as the known contact, and
    // the organisation's rule applies to everyone.
    let theirs = lookup_as(
        &app,
        &cole,
        &["bob@acme.com", "doc@clinic.example", OWNER_EMAIL],
    )
    .await;
    assert_eq!(theirs[0]["status"], "known");
    assert_eq!(theirs[1]["status"], "never_log");
    assert_eq!(theirs[2]["status"], "colleague");
}

#[tokio::test]
async fn tracking_refuses_never_logged_counterparts_and_colleague_only_emails() {
    let app = TestApp::new().await;
    let bob = app.bob_at_acme().await;
    app.colleague("cole@ourco.com").await;
    let entry = add(&app, &app.token, "acme.com", "organisation").await;
    let before = app.count("tracked_emails").await;

    // Bob's domain is never logged: refused, naming the rule; nothing written.
    let refused = app
        .post(
            "/api/v1/tracked-emails",
            track_body(&["18c0000000000001"], &[&bob]),
        )
        .await;
    refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "never_log", None);
    let message = refused.message();
    assert!(
        message.contains("bob@acme.com") && message.contains("acme.com"),
        "{message}"
    );
    assert!(
        message.contains(entry.body["id"].as_str().unwrap()),
        "{message}"
    );
    // In cc, insisting or not.
    let mut body = track_body(&["18c0000000000002"], &[&bob]);
    body["from"] = json!({ "address": "dan@globex.example" });
    body["cc"] = json!([{ "address": "BOB+x@acme.com" }]);
    body["insist"] = json!(true);
    let refused = app.post("/api/v1/tracked-emails", body).await;
    refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "never_log", None);
    assert_eq!(app.count("tracked_emails").await, before);
    assert_eq!(app.count("tracked_email_ids").await, 0);

    // Once removed, it is tracked.
    let path = format!("{NEVER_LOG}/{}", entry.body["id"].as_str().unwrap());
    assert_eq!(
        send(&app, Method::DELETE, &path, &app.token, None)
            .await
            .status,
        StatusCode::OK
    );
    let tracked = app
        .post(
            "/api/v1/tracked-emails",
            track_body(&["18c0000000000001"], &[&bob]),
        )
        .await;
    assert_eq!(tracked.status, StatusCode::CREATED, "{}", tracked.body);

    // Only between Ann and a colleague: refused unless insisted on.
    let mut internal = track_body(&["18c0000000000003"], &[&bob]);
    internal["from"] = json!({ "address": "Cole@OurCo.com", "name": "Cole" });
    internal["to"] = json!([{ "address": OWNER_EMAIL }]);
    internal["cc"] = json!([{ "address": "ann.work@ourco.io" }]);
    let refused = app.post("/api/v1/tracked-emails", internal.clone()).await;
    refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "only_colleagues", None);
    assert!(refused.message().contains("insist"), "{}", refused.body);
    internal["insist"] = json!(false);
    app.post("/api/v1/tracked-emails", internal.clone())
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "only_colleagues", None);
    internal["insist"] = json!(true);
    let insisted = app.post("/api/v1/tracked-emails", internal).await;
    assert_eq!(insisted.status, StatusCode::CREATED, "{}", insisted.body);
    assert_eq!(app.count("tracked_emails").await, before + 2);
}

#[tokio::test]
async fn adding_a_contact_refuses_never_logged_internal_and_own_addresses() {
    let app = TestApp::new().await;
    add(&app, &app.token, "clinic.example", "me").await;
    add(&app, &app.token, "eve@globex.example", "organisation").await;
    let before = app.count("contacts").await;
    let rows: [(&[&str], &str); 5] = [
        (&["doc@eu.clinic.example"], "never_log"),
        (&["new@globex.example", "Eve+x@Globex.example"], "never_log"),
        (&["cole@ourco.com"], "colleague"),
        (&["someone@mail.ourco.io"], "colleague"),
        (&["Ann@OurCo.com"], "own_address"),
    ];
    for (emails, code) in rows {
        let answer = app
            .post(
                "/api/v1/contacts",
                json!({ "first_name": "X", "emails": emails }),
            )
            .await;
        answer.assert_error(StatusCode::UNPROCESSABLE_ENTITY, code, Some("emails"));
        assert!(answer.message().contains('@'), "{}", answer.body);
    }
    assert_eq!(app.count("contacts").await, before);
    app.contact("New", "Person", &["new@globex.example"], None)
        .await;
}

#[tokio::test]
async fn own_addresses_include_the_connected_google_account() {
    let s = setup().await;
    let app = &s.app;
    let google_user = GOOGLE_USER;
    assert_eq!(
        lookup_as(app, &app.token, &[google_user]).await[0]["status"],
        "unknown"
    );
    let id = s.connect().await;
    let me = app.get("/api/v1/me").await;
    assert_eq!(
        me.body["own_addresses"],
        json!([OWNER_EMAIL, "ann.work@ourco.io", google_user])
    );
    let results = lookup_as(app, &app.token, &[google_user, &google_user.to_uppercase()]).await;
    assert_eq!(results[0]["status"], "own");
    assert_eq!(results[1]["status"], "own");
    // Not a contact, and an email between it and a colleague is internal.
    app.post("/api/v1/contacts", json!({ "emails": [google_user] }))
        .await
        .assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "own_address",
            Some("emails"),
        );
    let bob = app.bob_at_acme().await;
    let mut body = track_body(&["18c0000000000009"], &[&bob]);
    body["from"] = json!({ "address": google_user });
    body["to"] = json!([{ "address": "cole@ourco.com" }]);
    app.post("/api/v1/tracked-emails", body).await.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "only_colleagues",
        None,
    );
    // Disconnected, it is not the user's any more.
    s.disconnect(id).await;
    let me = app.get("/api/v1/me").await;
    assert_eq!(
        me.body["own_addresses"],
        json!([OWNER_EMAIL, "ann.work@ourco.io"])
    );
    assert_eq!(
        lookup_as(app, &app.token, &[google_user]).await[0]["status"],
        "unknown"
    );
}
