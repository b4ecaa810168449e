use axum::http::StatusCode;
use serde_json::json;

use crate::common::{new_company, TestApp};

#[tokio::test]
async fn creates_a_contact_with_normalised_addresses_and_a_new_company() {
    let app = TestApp::new().await;
    let answer = app
        .post(
            "/api/v1/contacts",
            json!({
                "first_name": "  Bob ",
                "last_name": "Baker",
                "emails": [" Bob@ACME.com", "bob@bücher.example"],
                "company": { "kind": "new", "name": " Acme Inc ", "domain": "Mail.ACME.com" }
            }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    let contact = &answer.body;
    assert_eq!(contact["first_name"], "Bob");
    assert_eq!(contact["last_name"], "Baker");
    assert_eq!(
        contact["emails"],
        json!(["bob@acme.com", "bob@xn--bcher-kva.example"])
    );
    assert_eq!(contact["company"]["name"], "Acme Inc");
    assert!(contact["created_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));

    // Stored: the company under its registrable domain, addresses in order with keys.
    let domain: Option<String> = sqlx::query_scalar("SELECT domain FROM companies")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(domain.as_deref(), Some("acme.com"));
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT position, address FROM contact_emails WHERE contact_id = $1 ORDER BY position",
    )
    .bind(contact["id"].as_str().unwrap())
    .fetch_all(app.pool())
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            (0, "bob@acme.com".into()),
            (1, "bob@xn--bcher-kva.example".into())
        ]
    );
}

#[tokio::test]
async fn a_new_company_reuses_one_with_the_same_domain_or_exact_name() {
    let app = TestApp::new().await;
    let a = app
        .contact(
            "A",
            "",
            &["a@acme.com"],
            Some(new_company("Acme", Some("acme.com"))),
        )
        .await;
    let b = app
        .contact(
            "B",
            "",
            &["b@acme.com"],
            Some(new_company("ACME Corporation", Some("@ACME.COM"))),
        )
        .await;
    assert_eq!(a["company"]["id"], b["company"]["id"]);
    assert_eq!(b["company"]["name"], "Acme", "the existing company's name");

    let c = app
        .contact("C", "", &["c@x.org"], Some(new_company("Nameonly", None)))
        .await;
    let d = app
        .contact("D", "", &["d@y.org"], Some(new_company("Nameonly", None)))
        .await;
    let e = app
        .contact("E", "", &["e@z.org"], Some(new_company("nameonly", None)))
        .await;
    assert_eq!(c["company"]["id"], d["company"]["id"]);
    assert_ne!(
        c["company"]["id"], e["company"]["id"],
        "names are matched exactly"
    );
    assert_eq!(app.count("companies").await, 3);

    let f = app
        .contact(
            "F",
            "",
            &["f@acme.com"],
            Some(json!({ "kind": "existing", "id": a["company"]["id"] })),
        )
        .await;
    assert_eq!(f["company"], a["company"]);
}

#[tokio::test]
async fn validation_errors_name_the_field() {
    let app = TestApp::new().await;
    let post = |body| app.post("/api/v1/contacts", body);

    post(json!({ "emails": [] })).await.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("emails"),
    );

    let bad = post(json!({ "emails": ["ok@acme.com", "nope"] })).await;
    bad.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("emails[1]"),
    );
    assert!(
        bad.message().contains("the address has no '@'"),
        "the parse error text: {}",
        bad.message()
    );

    post(json!({ "emails": ["a@b.com", "x@@y.com"] }))
        .await
        .assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("emails[1]"),
        );

    let dup = post(json!({ "emails": ["a@acme.com", "b@acme.com", "A@ACME.COM"] })).await;
    dup.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("emails[2]"),
    );
    assert!(dup.message().contains("emails[0]"), "{}", dup.message());
    // The same Gmail mailbox written two ways is a duplicate too.
    post(json!({ "emails": ["ann.lee@gmail.com", "annlee+x@googlemail.com"] }))
        .await
        .assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("emails[1]"),
        );

    let long = "x".repeat(201);
    post(json!({ "first_name": long, "emails": ["a@acme.com"] }))
        .await
        .assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("first_name"),
        );
    post(json!({ "last_name": long, "emails": ["a@acme.com"] }))
        .await
        .assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("last_name"),
        );
    // 200 characters (not bytes) is fine.
    let ok = post(json!({ "first_name": "é".repeat(200), "emails": ["a@acme.com"] })).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);

    post(json!({ "emails": ["a@acme.com"], "company": { "kind": "new", "name": "  " } }))
        .await
        .assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some("company.name"),
        );
    post(json!({ "emails": ["a@acme.com"], "company": { "kind": "new", "name": "A", "domain": "not a domain" } }))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", Some("company.domain"));
    post(json!({
        "emails": ["a@acme.com"],
        "company": { "kind": "existing", "id": "0190f5f0-0000-7000-8000-000000000000" }
    }))
    .await
    .assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "not_found",
        Some("company.id"),
    );

    // Nothing half-written by the failures: only the one valid contact exists.
    assert_eq!(app.count("contacts").await, 1);
    assert_eq!(app.count("companies").await, 0);
}

/// Two contacts may share an address on purpose (the lookup shows them as ambiguous).
#[tokio::test]
async fn an_address_already_on_another_contact_is_allowed() {
    let app = TestApp::new().await;
    let first = app.contact("Info", "One", &["info@acme.com"], None).await;
    let second = app.contact("Info", "Two", &["info@acme.com"], None).await;
    assert_ne!(first["id"], second["id"]);
    let answer = app
        .post("/api/v1/lookup", json!({ "addresses": ["info@acme.com"] }))
        .await;
    assert_eq!(answer.body["results"][0]["status"], "ambiguous");
}

/// Write transactions behave as if one ran after the other, on both engines: requests that
/// each create "the company of acme.com" at once make one company.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_contacts_of_a_new_company_make_one_company() {
    let app = TestApp::new().await;
    let body = json!({
        "first_name": "Bob",
        "emails": ["bob@acme.com"],
        "company": new_company("Acme", Some("acme.com")),
    });
    let answers = app
        .post_concurrently(8, "/api/v1/contacts", &body, &[])
        .await;
    let company = &answers[0].body["company"];
    for answer in &answers {
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        assert_eq!(&answer.body["company"], company);
    }
    assert_eq!(app.count("contacts").await, 8);
    assert_eq!(app.count("companies").await, 1);
}
