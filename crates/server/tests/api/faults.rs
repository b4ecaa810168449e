//! The database refusing writes — a full disk, a read-only database: each write gets a
//! clear error, reads keep working, nothing already stored is lost or half-written, and
//! writes work again once the condition is gone. The database itself refuses (see
//! `Db::open_degraded`), so these are the engines' real errors.

use axum::http::StatusCode;
use serde_json::{json, Value};
use threadline_server::db::{Db, Degraded};
use threadline_server::AppState;

use crate::common::TestApp;

/// Rows of each table the writes below touch.
async fn counts(db: &Db) -> Vec<i64> {
    let mut out = Vec::new();
    for table in [
        "contacts",
        "contact_emails",
        "companies",
        "changes",
        "tasks",
    ] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(db.pool())
            .await
            .unwrap();
        out.push(n);
    }
    out
}

fn contact(i: usize) -> Value {
    // A new company with each contact: a write that touches several tables.
    json!({
        "first_name": format!("Fill{i}"),
        "last_name": "Er",
        "emails": [{ "address": format!("fill{i}@company{i}.example"), "primary": true }],
        "company": { "kind": "new", "name": format!("Company {i}"), "domain": format!("company{i}.example") }
    })
}

/// Writes on `degraded` until one is refused; answers the refusal.
async fn write_until_refused(app: &TestApp) -> (usize, crate::common::Answer) {
    for i in 0..5000 {
        let answer = app.post("/api/v1/contacts", contact(i)).await;
        if answer.status != StatusCode::CREATED {
            return (i, answer);
        }
    }
    panic!("5000 writes and the database never refused one");
}

#[tokio::test]
async fn a_read_only_database_refuses_changes_clearly_and_reads_keep_working() {
    let mut app = TestApp::new().await;
    let ann = app.post("/api/v1/contacts", contact(0)).await;
    assert_eq!(ann.status, StatusCode::CREATED, "{}", ann.body);
    let before = counts(&app.db).await;

    let degraded = Db::open_degraded(app.location(), Degraded::ReadOnly)
        .await
        .expect("open read-only")
        .expect("both engines have a read-only mode");
    let healthy = std::mem::replace(
        &mut app.router,
        threadline_server::router(AppState::new(degraded)),
    );

    let refused = app.post("/api/v1/contacts", contact(1)).await;
    refused.assert_error(StatusCode::SERVICE_UNAVAILABLE, "read_only", None);
    assert!(refused.message().contains("read-only"), "{}", refused.body);
    assert_eq!(refused.headers["retry-after"], "1");
    let task = app
        .post("/api/v1/tasks", json!({ "title": "Call back" }))
        .await;
    task.assert_error(StatusCode::SERVICE_UNAVAILABLE, "read_only", None);

    // Reading works: the contact stored before, the lookup, the changes feed.
    let id = ann.body["id"].as_str().unwrap();
    let got = app.get(&format!("/api/v1/contacts/{id}")).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.body);
    let lookup = app
        .post(
            "/api/v1/lookup",
            json!({ "addresses": ["fill0@company0.example"] }),
        )
        .await;
    assert_eq!(lookup.status, StatusCode::OK, "{}", lookup.body);
    assert_eq!(
        lookup.body["results"][0]["status"], "known",
        "{}",
        lookup.body
    );
    assert_eq!(app.get("/api/v1/changes").await.status, StatusCode::OK);

    // Nothing half-written; writable again, writes work.
    assert_eq!(counts(&app.db).await, before);
    app.router = healthy;
    let again = app.post("/api/v1/contacts", contact(1)).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
}

#[tokio::test]
async fn a_full_database_refuses_changes_clearly_and_keeps_what_it_had() {
    let mut app = TestApp::new().await;
    let Some(degraded) = Db::open_degraded(app.location(), Degraded::Full)
        .await
        .expect("open full")
    else {
        // PostgreSQL has no way to fill up on request: the SQLite run covers it, the
        // mapping of PostgreSQL's disk_full (53100) is in `error::storage_condition`.
        eprintln!("full disk: SQLite only");
        return;
    };
    let healthy = std::mem::replace(
        &mut app.router,
        threadline_server::router(AppState::new(degraded.clone())),
    );

    let (written, refused) = write_until_refused(&app).await;
    refused.assert_error(StatusCode::INSUFFICIENT_STORAGE, "storage_full", None);
    assert!(
        refused.message().contains("nothing was changed"),
        "{}",
        refused.body
    );
    let before = counts(&app.db).await;

    // The refused write left nothing behind (its company, its address, its change entry).
    let again = app.post("/api/v1/contacts", contact(written)).await;
    assert_eq!(
        again.status,
        StatusCode::INSUFFICIENT_STORAGE,
        "{}",
        again.body
    );
    assert_eq!(counts(&app.db).await, before);
    let stray: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM companies WHERE name = $1")
        .bind(format!("Company {written}"))
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(stray, 0);

    // Everything written before is there, and reads work on the full database.
    let list = app.get("/api/v1/contacts?limit=200").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(
        list.body["items"].as_array().unwrap().len(),
        written.min(200)
    );
    let last = app
        .post(
            "/api/v1/lookup",
            json!({ "addresses": [format!("fill{}@company{}.example", written - 1, written - 1)] }),
        )
        .await;
    assert_eq!(last.body["results"][0]["status"], "known", "{}", last.body);

    // Space again: writes work.
    degraded.close().await;
    app.router = healthy;
    let after = app.post("/api/v1/contacts", contact(written)).await;
    assert_eq!(after.status, StatusCode::CREATED, "{}", after.body);
}
