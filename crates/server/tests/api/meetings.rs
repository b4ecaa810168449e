use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::common::TestApp;
use crate::records::{all_pages, create, send_v};

#[tokio::test]
async fn a_timed_meeting_round_trip_with_links_attendees_and_versions() {
    let app = TestApp::new().await;
    let acme = create(&app, "companies", json!({"name": "Acme"})).await;
    let bob = create(
        &app,
        "contacts",
        json!({"first_name": "Bob", "emails": ["bob@acme.com"]}),
    )
    .await;
    let m = create(
        &app,
        "meetings",
        json!({
            "title": "Kick-off",
            "start_at": "2026-03-01T09:30:00+01:00",
            "end_at": "2026-03-01T10:30:00+01:00",
            "time_zone": "Europe/Amsterdam",
            "location": "Room 1",
            "attendees": [{"address": "Bob@Acme.com", "name": "Bob", "contact_id": bob["id"]}, {"address": "ann@x.org"}],
            "links": [{"kind": "company", "id": acme["id"]}, {"kind": "contact", "id": bob["id"]}],
        }),
    )
    .await;
    assert_eq!(m["all_day"], false);
    assert_eq!(m["start_at"], "2026-03-01T08:30:00Z");
    assert_eq!(m["time_zone"], "Europe/Amsterdam");
    assert_eq!(m["attendees"][0]["address"], "bob@acme.com");
    assert_eq!(m["attendees"][0]["contact_id"], bob["id"]);
    assert_eq!(
        m["links"],
        json!([{"kind": "company", "id": acme["id"]}, {"kind": "contact", "id": bob["id"]}])
    );
    let path = format!("/api/v1/meetings/{}", m["id"].as_str().unwrap());
    assert_eq!(app.get(&path).await.body, m);

    // PATCH to all-day: the timed fields cleared, the dates given.
    let patch = json!({"all_day": true, "start_at": null, "end_at": null, "time_zone": null,
                       "start_date": "2026-03-01", "end_date": "2026-03-02", "links": []});
    send_v(&app, Method::PATCH, &path, Some(patch.clone()), None)
        .await
        .assert_error(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition_required",
            Some("If-Match"),
        );
    send_v(&app, Method::PATCH, &path, Some(patch.clone()), Some(7))
        .await
        .assert_error(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            Some("If-Match"),
        );
    let patched = send_v(&app, Method::PATCH, &path, Some(patch), Some(1)).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.headers["etag"], "\"2\"");
    assert_eq!(patched.body["all_day"], true);
    assert_eq!(patched.body["start_at"], json!(null));
    assert_eq!(patched.body["end_date"], "2026-03-02");
    assert_eq!(patched.body["links"], json!([]));
    assert_eq!(patched.body["attendees"], m["attendees"]);

    // Search by title, delete, tombstone, feed.
    let found = app.get("/api/v1/meetings?q=kick").await;
    assert_eq!(found.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get("/api/v1/meetings?q=nothing").await.body["items"],
        json!([])
    );
    let deleted = send_v(&app, Method::DELETE, &path, None, Some(2)).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    app.get(&path)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found", None);
    assert_eq!(app.get("/api/v1/meetings").await.body["items"], json!([]));
    let tomb = app.get(&format!("{path}?include_deleted=true")).await;
    assert!(tomb.body["deleted_at"].is_string());
    let feed = app.get("/api/v1/changes").await;
    let last = feed.body["changes"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        last,
        json!({"kind": "meeting", "id": m["id"], "version": 3, "deleted": true})
    );
}

#[tokio::test]
async fn meeting_validation_names_the_field() {
    let app = TestApp::new().await;
    let timed = json!({"title": "M", "start_at": "2026-03-01T09:00:00Z", "end_at": "2026-03-01T10:00:00Z", "time_zone": "UTC"});
    assert_eq!(
        app.post("/api/v1/meetings", timed.clone()).await.status,
        StatusCode::CREATED
    );
    let cases = [
        (json!({"title": " "}), "title"),
        (json!({"start_at": "tomorrow"}), "start_at"),
        (json!({"end_at": null}), "end_at"),
        (json!({"end_at": "2026-03-01T08:00:00Z"}), "end_at"),
        (json!({"time_zone": "Mars/Olympus"}), "time_zone"),
        (json!({"time_zone": null}), "time_zone"),
        (json!({"start_date": "2026-03-01"}), "start_date"),
        (
            json!({"attendees": [{"address": "a@b.org"}, {"address": "nope"}]}),
            "attendees[1].address",
        ),
        (
            json!({"attendees": [{"address": "a@b.org"}, {"address": "A@B.org"}]}),
            "attendees[1].address",
        ),
        (
            json!({"attendees": [{"address": "a@b.org", "contact_id": uuid::Uuid::now_v7()}]}),
            "attendees[0].contact_id",
        ),
        (
            json!({"links": [{"kind": "planet", "id": uuid::Uuid::now_v7()}]}),
            "links[0].kind",
        ),
        (
            json!({"links": [{"kind": "company", "id": uuid::Uuid::now_v7()}]}),
            "links[0].id",
        ),
        (json!({"all_day": true}), "start_at"),
    ];
    for (change, field) in cases {
        let mut body = timed.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let a = app.post("/api/v1/meetings", body.clone()).await;
        let code = if field.ends_with("contact_id") || field == "links[0].id" {
            "not_found"
        } else {
            "invalid_field"
        };
        a.assert_error(StatusCode::UNPROCESSABLE_ENTITY, code, Some(field));
    }
    let all_day = json!({"title": "Offsite", "all_day": true, "start_date": "2026-03-01", "end_date": "2026-03-03"});
    let made = app.post("/api/v1/meetings", all_day.clone()).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_eq!(made.body["time_zone"], json!(null));
    for (change, field) in [
        (json!({"end_date": "2026-03-01"}), "end_date"),
        (json!({"start_date": "2026-3-1"}), "start_date"),
        (json!({"end_date": null}), "end_date"),
    ] {
        let mut body = all_day.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        app.post("/api/v1/meetings", body).await.assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            Some(field),
        );
    }
    // A deleted record cannot be linked.
    let p = create(&app, "projects", json!({"name": "P"})).await;
    let pp = format!("/api/v1/projects/{}", p["id"].as_str().unwrap());
    assert_eq!(
        send_v(&app, Method::DELETE, &pp, None, Some(1))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let mut body = timed.clone();
    body["links"] = json!([{"kind": "project", "id": p["id"]}]);
    app.post("/api/v1/meetings", body).await.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "not_found",
        Some("links[0].id"),
    );
}

#[tokio::test]
async fn meetings_are_paginated() {
    let app = TestApp::new().await;
    for i in 0..7 {
        create(&app, "meetings", json!({"title": format!("M{i}"), "all_day": true, "start_date": "2026-01-01", "end_date": "2026-01-02"})).await;
    }
    let items = all_pages(&app, "/api/v1/meetings", 3).await;
    let titles: Vec<&str> = items.iter().map(|m| m["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["M0", "M1", "M2", "M3", "M4", "M5", "M6"]);
}

/// On a server without Google (no calendar sync), converting a busy block that is not there
/// is a 404, with or without an occurrence (never a 500): nothing is read from Google.
#[tokio::test]
async fn converting_a_missing_busy_block_without_google_is_a_404() {
    let app = TestApp::new().await;
    let path = format!("/api/v1/busy-blocks/{}/convert", uuid::Uuid::now_v7());
    for body in [
        serde_json::json!({}),
        serde_json::json!({ "occurrence": "" }),
    ] {
        let answer = app.post(&path, body.clone()).await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{body}: {}",
            answer.body
        );
        assert_eq!(answer.body["error"]["code"], "not_found", "{}", answer.body);
    }
}
