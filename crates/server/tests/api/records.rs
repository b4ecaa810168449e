use threadline_server::records::{record_exists, Kind};
use uuid::Uuid;

use crate::common::TestApp;

#[tokio::test]
async fn record_exists_is_scoped_to_the_org_and_the_kind() {
    let app = TestApp::new().await;
    let bob = app.bob_at_acme().await;
    let bob_id: Uuid = bob["id"].as_str().unwrap().parse().unwrap();
    let mut conn = app.pool().acquire().await.unwrap();
    assert!(record_exists(&mut conn, app.org_id, Kind::Contact, bob_id)
        .await
        .unwrap());
    assert!(!record_exists(&mut conn, app.org_id, Kind::Company, bob_id)
        .await
        .unwrap());
    assert!(
        !record_exists(&mut conn, Uuid::now_v7(), Kind::Contact, bob_id)
            .await
            .unwrap()
    );
    for kind in Kind::ALL {
        assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        assert!(!record_exists(&mut conn, app.org_id, kind, Uuid::now_v7())
            .await
            .unwrap());
    }
}

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::Answer;

/// A request with an optional `If-Match` (a version number).
pub async fn send_v(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
    if_match: Option<i64>,
) -> Answer {
    let tag = if_match.map(|v| format!("\"{v}\""));
    let headers: Vec<(&str, &str)> = tag.iter().map(|t| ("if-match", t.as_str())).collect();
    app.send_raw(
        method,
        path,
        Some(&app.token.clone()),
        body.map(|b| b.to_string()),
        &headers,
    )
    .await
}

/// Creates a record (asserting 201 and its ETag); returns it.
pub async fn create(app: &TestApp, collection: &str, body: Value) -> Value {
    let a = app.post(&format!("/api/v1/{collection}"), body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.headers["etag"], "\"1\"");
    assert_eq!(
        a.headers["location"].to_str().unwrap(),
        format!("/api/v1/{collection}/{}", a.body["id"].as_str().unwrap())
    );
    a.body
}

/// Every item of every page of `path` (a list URL with its query), `limit` per page.
pub async fn all_pages(app: &TestApp, path: &str, limit: usize) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let sep = if path.contains('?') { '&' } else { '?' };
    for _ in 0..1000 {
        let url = match &cursor {
            None => format!("{path}{sep}limit={limit}"),
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
        };
        let page = app.get(&url).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let got = page.body["items"].as_array().unwrap();
        assert!(got.len() <= limit);
        items.extend(got.iter().cloned());
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return items,
        }
    }
    panic!("pagination does not end");
}

#[tokio::test]
async fn a_company_round_trip_with_versions() {
    let app = TestApp::new().await;
    let acme = create(
        &app,
        "companies",
        json!({"name": " Acme ", "domains": ["Mail.ACME.com", "acme.co.uk"], "website": "acme.com",
               "phone": "+31 20 555 0100", "vat_number": "nl 1234.567.89 b01", "address": "Main St 1"}),
    )
    .await;
    assert_eq!(acme["name"], "Acme");
    assert_eq!(acme["domains"], json!(["acme.com", "acme.co.uk"]));
    assert_eq!(acme["website"], "https://acme.com/");
    assert_eq!(acme["vat_number"], "NL123456789B01");
    assert_eq!(acme["version"], 1);
    let path = format!("/api/v1/companies/{}", acme["id"].as_str().unwrap());

    // GET with ETag; If-None-Match → 304.
    let got = app.get(&path).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body, acme);
    assert_eq!(got.headers["etag"], "\"1\"");
    let cached = app
        .send_raw(
            Method::GET,
            &path,
            Some(&app.token.clone()),
            None,
            &[("if-none-match", "\"1\"")],
        )
        .await;
    assert_eq!(cached.status, StatusCode::NOT_MODIFIED);

    // The bar's lookup sees the new company by its second domain.
    let lookup = app
        .post("/api/v1/lookup", json!({"addresses": ["x@acme.com"]}))
        .await;
    assert_eq!(
        lookup.body["results"][0]["suggested_company"]["existing"]["id"],
        acme["id"]
    );

    // PUT without If-Match is 428; with a stale one 412; right one 200, version 2.
    let put = json!({"name": "Acme Corp", "domains": ["acme.com"]});
    send_v(&app, Method::PUT, &path, Some(put.clone()), None)
        .await
        .assert_error(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition_required",
            Some("If-Match"),
        );
    send_v(&app, Method::PUT, &path, Some(put.clone()), Some(7))
        .await
        .assert_error(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            Some("If-Match"),
        );
    let put_answer = send_v(&app, Method::PUT, &path, Some(put), Some(1)).await;
    assert_eq!(put_answer.status, StatusCode::OK, "{}", put_answer.body);
    assert_eq!(put_answer.headers["etag"], "\"2\"");
    assert_eq!(
        put_answer.body["website"],
        Value::Null,
        "PUT replaces the whole record"
    );

    // PATCH merges: one field changed, one cleared; the others kept.
    let patched = send_v(
        &app,
        Method::PATCH,
        &path,
        Some(json!({"phone": "020 555", "domains": null})),
        Some(2),
    )
    .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["name"], "Acme Corp");
    assert_eq!(patched.body["phone"], "020 555");
    assert_eq!(patched.body["domains"], json!([]));
    assert_eq!(patched.body["version"], 3);
    // A stale PATCH, and an invalid one naming its field; nothing changes.
    send_v(
        &app,
        Method::PATCH,
        &path,
        Some(json!({"name": "X"})),
        Some(2),
    )
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
        Some(json!({"website": "ftp://x.y"})),
        Some(3),
    )
    .await
    .assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("website"),
    );
    send_v(
        &app,
        Method::PATCH,
        &path,
        Some(json!({"colour": "red"})),
        Some(3),
    )
    .await
    .assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
        Some("colour"),
    );
    assert_eq!(app.get(&path).await.body, patched.body);

    // DELETE: soft; then 404, but visible with include_deleted; a write after it is 404.
    send_v(&app, Method::DELETE, &path, None, Some(1))
        .await
        .assert_error(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            Some("If-Match"),
        );
    let deleted = send_v(&app, Method::DELETE, &path, None, Some(3)).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(deleted.headers["etag"], "\"4\"");
    app.get(&path)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found", None);
    let tomb = app.get(&format!("{path}?include_deleted=true")).await;
    assert_eq!(tomb.status, StatusCode::OK);
    assert!(tomb.body["deleted_at"].is_string());
    send_v(
        &app,
        Method::PUT,
        &path,
        Some(json!({"name": "Back"})),
        Some(4),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "not_found", None);
    send_v(&app, Method::DELETE, &path, None, Some(4))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found", None);
    assert!(app.get("/api/v1/companies").await.body["items"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        app.get("/api/v1/companies?include_deleted=true").await.body["items"][0]["id"],
        acme["id"]
    );
    // The lookup no longer offers it.
    let lookup = app
        .post("/api/v1/lookup", json!({"addresses": ["x@acme.com"]}))
        .await;
    assert!(
        lookup.body["results"][0]["suggested_company"]
            .get("existing")
            .is_none(),
        "{}",
        lookup.body
    );
}

#[tokio::test]
async fn company_validation_names_the_field() {
    let app = TestApp::new().await;
    for (body, field) in [
        (json!({"name": "  "}), "name"),
        (
            json!({"name": "A", "domains": ["acme.com", "www.acme.com"]}),
            "domains[1]",
        ),
        (
            json!({"name": "A", "domains": ["not a domain"]}),
            "domains[0]",
        ),
        (json!({"name": "A", "phone": "call me"}), "phone"),
        (json!({"name": "A", "vat_number": "12"}), "vat_number"),
        (
            json!({"name": "A", "website": "javascript:alert(1)"}),
            "website",
        ),
    ] {
        app.post("/api/v1/companies", body).await.assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some(field),
        );
    }
    app.post("/api/v1/companies", json!({"name": "A", "extra": 1}))
        .await
        .assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            Some("extra"),
        );
    app.get("/api/v1/companies?limit=0").await.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_query",
        Some("limit"),
    );
    app.get("/api/v1/companies?cursor=nope").await.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_query",
        Some("cursor"),
    );
    app.get("/api/v1/companies?bogus=1").await.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_query",
        None,
    );
    app.get("/api/v1/companies/not-a-uuid").await.assert_error(
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    );
    assert_eq!(app.count("companies").await, 0);
}

#[tokio::test]
async fn pages_cover_every_record_once_and_search_finds_names_and_domains() {
    let app = TestApp::new().await;
    let mut made = Vec::new();
    for i in 0..23 {
        let c = create(
            &app,
            "companies",
            json!({"name": format!("Firm {i:02}"), "domains": [format!("firm{i}.example")]}),
        )
        .await;
        made.push(c["id"].as_str().unwrap().to_string());
    }
    create(
        &app,
        "companies",
        json!({"name": "100% Acme_Ltd", "domains": ["acme.co.uk"]}),
    )
    .await;
    for limit in [1, 5, 23, 200] {
        let items = all_pages(&app, "/api/v1/companies?q=firm", limit).await;
        let ids: Vec<String> = items
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids, made, "limit {limit}");
    }
    let names = |items: Vec<Value>| {
        items
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(all_pages(&app, "/api/v1/companies?q=FIRM%2007", 10).await),
        ["Firm 07"]
    );
    assert_eq!(
        names(all_pages(&app, "/api/v1/companies?q=100%25", 10).await),
        ["100% Acme_Ltd"]
    );
    assert_eq!(
        names(all_pages(&app, "/api/v1/companies?q=e_l", 10).await),
        ["100% Acme_Ltd"]
    );
    assert_eq!(
        names(all_pages(&app, "/api/v1/companies?q=sales%40mail.acme.co.uk", 10).await),
        ["100% Acme_Ltd"]
    );
    assert_eq!(
        names(all_pages(&app, "/api/v1/companies?q=www.firm3.example", 10).await),
        ["Firm 03"]
    );
    assert!(all_pages(&app, "/api/v1/companies?q=nothing", 10)
        .await
        .is_empty());
}

#[tokio::test]
async fn the_changes_feed_follows_writes_in_order() {
    let app = TestApp::new().await;
    let feed = app.get("/api/v1/changes").await;
    assert_eq!(feed.status, StatusCode::OK, "{}", feed.body);
    assert_eq!(feed.body["changes"], json!([]));
    let start = feed.body["next_cursor"].as_str().unwrap().to_string();

    let a = create(&app, "companies", json!({"name": "A"})).await;
    let b = create(&app, "companies", json!({"name": "B"})).await;
    let pa = format!("/api/v1/companies/{}", a["id"].as_str().unwrap());
    let page = app.get(&format!("/api/v1/changes?since={start}")).await;
    assert_eq!(
        page.body["changes"],
        json!([{"kind": "company", "id": a["id"], "version": 1, "deleted": false},
               {"kind": "company", "id": b["id"], "version": 1, "deleted": false}])
    );
    let after_two = page.body["next_cursor"].as_str().unwrap().to_string();
    assert_eq!(page.body["has_more"], false);
    // Nothing new: the same cursor back.
    let idle = app.get(&format!("/api/v1/changes?since={after_two}")).await;
    assert_eq!(idle.body["changes"], json!([]));
    assert_eq!(idle.body["next_cursor"], after_two.as_str());

    // A changed record moves to the end, once; a delete is a tombstone entry.
    assert_eq!(
        send_v(
            &app,
            Method::PATCH,
            &pa,
            Some(json!({"name": "A2"})),
            Some(1)
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        send_v(&app, Method::DELETE, &pa, None, Some(2))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let page = app.get(&format!("/api/v1/changes?since={after_two}")).await;
    assert_eq!(
        page.body["changes"],
        json!([{"kind": "company", "id": a["id"], "version": 3, "deleted": true}])
    );
    // From the start, in pages of one: b then a.
    let first = app.get("/api/v1/changes?limit=1").await;
    assert_eq!(first.body["changes"][0]["id"], b["id"]);
    assert_eq!(first.body["has_more"], true);
    let next = app
        .get(&format!(
            "/api/v1/changes?limit=1&since={}",
            first.body["next_cursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(next.body["changes"][0]["id"], a["id"]);
    app.get("/api/v1/changes?since=xyz").await.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_query",
        Some("since"),
    );
    // A failed write logs nothing.
    send_v(
        &app,
        Method::PATCH,
        &format!("/api/v1/companies/{}", b["id"].as_str().unwrap()),
        Some(json!({"name": ""})),
        Some(1),
    )
    .await
    .assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
        Some("name"),
    );
    assert_eq!(
        app.get(&format!(
            "/api/v1/changes?since={}",
            page.body["next_cursor"].as_str().unwrap()
        ))
        .await
        .body["changes"],
        json!([])
    );
}

#[tokio::test]
async fn products_keep_exact_prices_and_check_them() {
    let app = TestApp::new().await;
    let p = create(&app, "products", json!({"name": "Widget", "code": "W-1", "price": {"amount_minor": 1999, "currency": "EUR"}})).await;
    assert_eq!(p["price"], json!({"amount_minor": 1999, "currency": "EUR"}));
    for (body, field) in [
        (
            json!({"name": "W", "price": {"amount_minor": -1, "currency": "EUR"}}),
            "price.amount_minor",
        ),
        (
            json!({"name": "W", "price": {"amount_minor": 1, "currency": "eur"}}),
            "price.currency",
        ),
        (json!({"name": ""}), "name"),
    ] {
        app.post("/api/v1/products", body).await.assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some(field),
        );
    }
    app.post(
        "/api/v1/products",
        json!({"name": "W", "price": {"amount_minor": 1.5, "currency": "EUR"}}),
    )
    .await
    .assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
        Some("price.amount_minor"),
    );
    let found = all_pages(&app, "/api/v1/products?q=w-1", 10).await;
    assert_eq!(found.len(), 1);
}

#[tokio::test]
async fn a_project_needs_a_live_company_and_a_write_racing_a_delete_loses_cleanly() {
    let app = TestApp::new().await;
    let acme = create(&app, "companies", json!({"name": "Acme"})).await;
    let project = create(
        &app,
        "projects",
        json!({"name": "Launch", "company_id": acme["id"]}),
    )
    .await;
    app.post(
        "/api/v1/projects",
        json!({"name": "X", "company_id": Uuid::now_v7()}),
    )
    .await
    .assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "not_found",
        Some("company_id"),
    );
    let acme_path = format!("/api/v1/companies/{}", acme["id"].as_str().unwrap());
    assert_eq!(
        send_v(&app, Method::DELETE, &acme_path, None, Some(1))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    // Pointing a project at the deleted company is refused; the project is unchanged.
    let path = format!("/api/v1/projects/{}", project["id"].as_str().unwrap());
    send_v(
        &app,
        Method::PATCH,
        &path,
        Some(json!({"name": "Renamed", "company_id": acme["id"]})),
        Some(1),
    )
    .await
    .assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "not_found",
        Some("company_id"),
    );
    assert_eq!(app.get(&path).await.body, project);

    // Many writers at the version they read, and a delete among them: exactly one wins; the
    // others get 412 or 404; the record is whole either way.
    let c = create(
        &app,
        "contacts",
        json!({"first_name": "Ann", "emails": ["a@x.org", "b@x.org"]}),
    )
    .await;
    let cpath = format!("/api/v1/contacts/{}", c["id"].as_str().unwrap());
    let mut handles = Vec::new();
    for i in 0..6 {
        let (method, body) = if i == 3 {
            (Method::DELETE, None)
        } else {
            (
                Method::PUT,
                Some(
                    json!({"first_name": format!("N{i}"), "emails": [format!("n{i}@x.org"), "z@x.org"]}),
                ),
            )
        };
        let req = axum::http::Request::builder()
            .method(method)
            .uri(&cpath)
            .header("authorization", format!("Bearer {}", app.token))
            .header("content-type", "application/json")
            .header("if-match", "\"1\"")
            .body(body.map_or_else(axum::body::Body::empty, |b| {
                axum::body::Body::from(b.to_string())
            }))
            .unwrap();
        let router = app.router.clone();
        handles.push(tokio::spawn(async move {
            tower::ServiceExt::oneshot(router, req)
                .await
                .unwrap()
                .status()
        }));
    }
    let mut statuses = Vec::new();
    for h in handles {
        statuses.push(h.await.unwrap());
    }
    let wins = statuses.iter().filter(|s| s.is_success()).count();
    assert_eq!(wins, 1, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| s.is_success()
            || *s == StatusCode::PRECONDITION_FAILED
            || *s == StatusCode::NOT_FOUND),
        "{statuses:?}"
    );
    let now = app.get(&format!("{cpath}?include_deleted=true")).await;
    assert_eq!(now.body["version"], 2);
    let emails: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM contact_emails WHERE contact_id = $1")
            .bind(c["id"].as_str().unwrap())
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert_eq!(emails, 2, "the addresses of exactly one version");
}

#[tokio::test]
async fn contacts_have_one_primary_address_and_are_found_by_name_address_and_domain() {
    let app = TestApp::new().await;
    let c = create(
        &app,
        "contacts",
        json!({
            "first_name": "Ann", "last_name": "Lee", "job_title": "CTO",
            "emails": ["ann@old.org", {"address": "Ann.Lee@Gmail.com", "primary": true}],
            "phones": [{"number": "+31 6 1234 5678", "label": "mobile"}]
        }),
    )
    .await;
    assert_eq!(c["emails"], json!(["ann.lee@gmail.com", "ann@old.org"]));
    assert_eq!(c["primary_email"], "ann.lee@gmail.com");
    for (body, field) in [
        (
            json!({"emails": [{"address": "a@x.org", "primary": true}, {"address": "b@x.org", "primary": true}]}),
            "emails[1].primary",
        ),
        (json!({"emails": ["a@x.org", "A@X.org"]}), "emails[1]"),
        (
            json!({"emails": ["a@x.org", {"address": "nope"}]}),
            "emails[1].address",
        ),
        (
            json!({"emails": ["a@x.org"], "phones": [{"number": "abc"}]}),
            "phones[0].number",
        ),
    ] {
        app.post("/api/v1/contacts", body).await.assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some(field),
        );
    }
    create(
        &app,
        "contacts",
        json!({"first_name": "Bob", "emails": ["bob@mail.acme.com"]}),
    )
    .await;
    let names = |items: Vec<Value>| {
        items
            .iter()
            .map(|i| i["first_name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(all_pages(&app, "/api/v1/contacts?q=ann%20l", 10).await),
        ["Ann"]
    );
    assert_eq!(
        names(all_pages(&app, "/api/v1/contacts?q=annlee%40gmail.com", 10).await),
        ["Ann"]
    );
    assert_eq!(
        names(all_pages(&app, "/api/v1/contacts?q=acme.com", 10).await),
        ["Bob"]
    );
    assert_eq!(
        names(all_pages(&app, "/api/v1/contacts?q=old.org", 10).await),
        ["Ann"]
    );
    // PATCH keeps the addresses (primary first) when they are not in the patch.
    let path = format!("/api/v1/contacts/{}", c["id"].as_str().unwrap());
    let p = send_v(
        &app,
        Method::PATCH,
        &path,
        Some(json!({"notes": "met at expo"})),
        Some(1),
    )
    .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_eq!(p.body["emails"], c["emails"]);
    assert_eq!(p.body["phones"], c["phones"]);
    // A deleted contact is out of the bar's lookup.
    assert_eq!(
        send_v(&app, Method::DELETE, &path, None, Some(2))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let lookup = app
        .post(
            "/api/v1/lookup",
            json!({"addresses": ["ann.lee@gmail.com"]}),
        )
        .await;
    assert_eq!(
        lookup.body["results"][0]["status"], "unknown",
        "{}",
        lookup.body
    );
}
