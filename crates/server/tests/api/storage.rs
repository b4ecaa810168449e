//! Document storage over time (issue 10, finding 8: it only grew): the trash and old
//! versions past their retention are removed, and content nothing references, never one an
//! upload is about to reference; one collector at a time; the storage use per organisation.

use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::{header, Method, StatusCode};
use serde_json::{json, Value};
use threadline_server::actor::Actor;
use threadline_server::db::format_time;
use threadline_server::documents::blobs::{BlobStore, GRACE};
use threadline_server::documents::retention::{Collected, Collector, Retention};
use threadline_server::documents::tree::{self, NewContent, RecordKind, RecordRef};

use crate::common::Answer;
use crate::documents::Docs;

fn id(node: &Value) -> String {
    node["id"].as_str().expect("an id").to_string()
}

fn days_ago(days: i64) -> String {
    format_time(chrono::Utc::now() - chrono::Duration::days(days))
}

/// Sets the mtime of every stored content (not `tmp/`) two hours back: past [`GRACE`].
fn age_contents(docs: &Docs) {
    for path in docs.blob_files() {
        if !path.starts_with(docs.data_dir.path().join("blobs/tmp")) {
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(SystemTime::now() - 2 * GRACE)
                .unwrap();
        }
    }
}

fn store(docs: &Docs) -> BlobStore {
    BlobStore::in_data_dir(docs.data_dir.path())
}

fn collector(docs: &Docs, retention: Retention) -> Collector {
    Collector::new(docs.app.db.clone(), store(docs), retention)
}

async fn collect(docs: &Docs) -> Collected {
    collector(docs, Retention::default())
        .run_once()
        .await
        .unwrap()
        .expect("the lease is free")
}

async fn count(docs: &Docs, sql: &str, node: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(node)
        .fetch_one(docs.app.pool())
        .await
        .unwrap()
}

async fn versions_of(docs: &Docs, node: &str) -> Vec<i64> {
    sqlx::query_scalar(
        "SELECT node_version FROM document_file_versions WHERE node_id = $1 ORDER BY node_version",
    )
    .bind(node)
    .fetch_all(docs.app.pool())
    .await
    .unwrap()
}

async fn delete(docs: &Docs, node: &Value) {
    let tag = node["etag"].as_str().unwrap();
    let deleted = docs
        .json(
            Method::DELETE,
            &format!("/api/v1/documents/{}", id(node)),
            Some(tag),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
}

/// New content for a file (If-Match: its current ETag); the node answered.
async fn replace(docs: &Docs, node: &Value, content: &str) -> Value {
    let current = get(docs, node).await;
    let etag = current.headers[header::ETAG].to_str().unwrap().to_string();
    let token = docs.app.token.clone();
    let replaced = docs
        .send(
            &token,
            Method::PUT,
            &format!("/api/v1/documents/{}/content", id(node)),
            &[("if-match", &etag)],
            Body::from(content.to_string()),
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    replaced.body
}

/// `GET /documents/{id}` of `node`.
async fn get(docs: &Docs, node: &Value) -> Answer {
    docs.json(
        Method::GET,
        &format!("/api/v1/documents/{}", id(node)),
        None,
        None,
    )
    .await
}

async fn backdate_trash(docs: &Docs, top: &Value, days: i64) {
    sqlx::query("UPDATE document_nodes SET deleted_at = $1 WHERE trash_id = $2")
        .bind(days_ago(days))
        .bind(id(top))
        .execute(docs.app.pool())
        .await
        .unwrap();
}

async fn backdate_versions(docs: &Docs, node: &Value, versions: &[i64], days: i64) {
    for version in versions {
        sqlx::query(
            "UPDATE document_file_versions SET created_at = $1
             WHERE node_id = $2 AND node_version = $3",
        )
        .bind(days_ago(days))
        .bind(id(node))
        .bind(version)
        .execute(docs.app.pool())
        .await
        .unwrap();
    }
}

async fn trash_ids(docs: &Docs) -> Vec<String> {
    let trash = docs
        .json(Method::GET, "/api/v1/documents/trash", None, None)
        .await;
    trash.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect()
}

#[tokio::test]
async fn the_trash_is_purged_after_its_retention_then_its_content() {
    let docs = Docs::new().await;
    let folder = docs.folder("Old", None).await;
    let inside = docs.upload("inside.txt", Some(&folder), b"purged").await;
    let recent = docs.upload("recent.txt", None, b"kept in the trash").await;
    let live = docs.upload("live.txt", None, b"live").await;
    let folder = get(&docs, &folder).await.body;
    delete(&docs, &folder).await;
    delete(&docs, &recent).await;
    backdate_trash(&docs, &folder, 31).await;
    backdate_trash(&docs, &recent, 29).await;

    let collected = collect(&docs).await;
    assert_eq!(
        collected.trash_nodes, 2,
        "the folder and its file: {collected:?}"
    );
    assert_eq!(collected.contents, 0, "content is young yet: {collected:?}");
    assert_eq!(trash_ids(&docs).await, vec![id(&recent)]);
    for node in [&folder, &inside] {
        let gone = get(&docs, node).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
        let left = "SELECT COUNT(*) FROM document_nodes WHERE id = $1";
        assert_eq!(count(&docs, left, &id(node)).await, 0);
    }
    assert!(versions_of(&docs, &id(&inside)).await.is_empty());

    // An hour later, the content nothing references any more goes; the rest stays.
    age_contents(&docs);
    let collected = collect(&docs).await;
    assert_eq!(
        (
            collected.trash_nodes,
            collected.contents,
            collected.content_bytes
        ),
        (0, 1, 6),
        "{collected:?}"
    );
    assert!(!store(&docs)
        .path_of(inside["sha256"].as_str().unwrap())
        .unwrap()
        .exists());
    let token = docs.app.token.clone();
    for kept in [&live] {
        let (status, _, sha, _) = docs.download(&token, &id(kept)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(sha, kept["sha256"].as_str().unwrap());
    }
    assert!(store(&docs)
        .path_of(recent["sha256"].as_str().unwrap())
        .unwrap()
        .exists());
    assert_eq!(collect(&docs).await, Collected::default(), "nothing left");
}

#[tokio::test]
async fn old_versions_are_kept_by_number_and_by_age() {
    let docs = Docs::new().await;
    let retention = Retention {
        versions_kept: 2,
        version_days: 30,
        ..Retention::default()
    };
    // Four versions each; a's all replaced 40 days ago, b's second replaced just now.
    let a = docs.upload("a.txt", None, b"a1").await;
    let b = docs.upload("b.txt", None, b"b1").await;
    for n in 2..=4 {
        replace(&docs, &a, &format!("a{n}")).await;
        replace(&docs, &b, &format!("b{n}")).await;
    }
    backdate_versions(&docs, &a, &[1, 2, 3], 40).await;
    backdate_versions(&docs, &b, &[1, 2], 40).await;

    let collected = collector(&docs, retention)
        .run_once()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(collected.versions, 3, "{collected:?}");
    assert_eq!(
        versions_of(&docs, &id(&a)).await,
        vec![3, 4],
        "the newest two"
    );
    assert_eq!(
        versions_of(&docs, &id(&b)).await,
        vec![2, 3, 4],
        "and one replaced within 30 days"
    );
    let token = docs.app.token.clone();
    let (status, _, sha, _) = docs.download(&token, &id(&a)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sha, sha256_hex(b"a4"));

    // Their content goes once old; the kept versions' stays.
    age_contents(&docs);
    let collected = collector(&docs, retention)
        .run_once()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(collected.contents, 3, "a1, a2, b1: {collected:?}");
    for kept in ["a3", "a4", "b2", "b3", "b4"] {
        assert!(
            store(&docs)
                .path_of(&sha256_hex(kept.as_bytes()))
                .unwrap()
                .exists(),
            "{kept}"
        );
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The race a grace period alone would lose: an upload of a content that is stored, old and
/// unreferenced (left by a lost upload) finds it and keeps it; a collection runs between the
/// upload's storing and its transaction. The upload touched the content, so the collection
/// leaves it, and the file the transaction then creates can be downloaded.
#[tokio::test]
async fn a_content_an_upload_is_about_to_reference_is_never_collected() {
    let docs = Docs::new().await;
    let store = store(&docs);
    let content =
        || futures_util::stream::iter([Ok::<_, std::io::Error>(b"racing".to_vec().into())]);
    let lost = store.store_stream(content()).await.unwrap();
    age_contents(&docs);
    let young = store
        .store_stream(futures_util::stream::iter([Ok::<_, std::io::Error>(
            b"lost just now".to_vec().into(),
        )]))
        .await
        .unwrap();

    // The upload stores its content (already there), then the collection runs.
    let stored = store.store_stream(content()).await.unwrap();
    assert!(!stored.newly_stored);
    assert_eq!(stored.sha256, lost.sha256);
    let collected = collect(&docs).await;
    assert_eq!(collected.contents, 0, "{collected:?}");

    // Then the upload's transaction.
    let actor = Actor {
        user_id: docs.app.user_id,
        org_id: docs.app.org_id,
        name: "Ann Owner".into(),
        email: crate::common::OWNER_EMAIL.into(),
    };
    let record = RecordRef {
        kind: RecordKind::Company,
        id: docs.company.parse().unwrap(),
    };
    let new = NewContent {
        blob: stored,
        content_type: "text/plain".into(),
    };
    let node = docs
        .app
        .db
        .write(|tx| {
            Box::pin(tree::create_file(
                tx,
                &actor,
                record,
                None,
                "racing.txt",
                &new,
            ))
        })
        .await
        .unwrap();
    let token = docs.app.token.clone();
    let (status, _, sha, _) = docs.download(&token, &node.id.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sha, lost.sha256);

    // Referenced now: never collected, however old; the unreferenced young one neither.
    age_contents(&docs);
    std::fs::File::options()
        .write(true)
        .open(store.path_of(&young.sha256).unwrap())
        .unwrap()
        .set_modified(SystemTime::now() - GRACE + Duration::from_secs(60))
        .unwrap();
    assert_eq!(collect(&docs).await.contents, 0);
    assert!(store.path_of(&lost.sha256).unwrap().exists());
    assert!(store.path_of(&young.sha256).unwrap().exists());
}

/// A collector that finds the lease held (another server process collecting) does nothing;
/// two at once on one database (each its own pool, as two processes) remove each thing once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_collector_at_a_time() {
    let docs = Docs::new().await;
    let old = docs.upload("old.txt", None, b"old").await;
    delete(&docs, &old).await;
    backdate_trash(&docs, &old, 31).await;
    sqlx::query(
        "INSERT INTO maintenance_leases (name, owner, expires_at) VALUES ('document_storage', 'another process', $1)",
    )
    .bind(format_time(chrono::Utc::now() + chrono::Duration::minutes(10)))
    .execute(docs.app.pool())
    .await
    .unwrap();
    let collector = collector(&docs, Retention::default());
    assert_eq!(collector.run_once().await.unwrap(), None);
    assert_eq!(trash_ids(&docs).await, vec![id(&old)], "untouched");

    // The other process died: its lease expires.
    sqlx::query("UPDATE maintenance_leases SET expires_at = $1")
        .bind(days_ago(1))
        .execute(docs.app.pool())
        .await
        .unwrap();
    let other = Collector::new(docs.app.reopen().await, store(&docs), Retention::default());
    let (one, two) = tokio::join!(collector.run_once(), other.run_once());
    let removed: u64 = [one.unwrap(), two.unwrap()]
        .into_iter()
        .flatten()
        .map(|c| c.trash_nodes)
        .sum();
    assert_eq!(removed, 1);
    assert!(trash_ids(&docs).await.is_empty());
    // And again, later: the lease was let go.
    assert_eq!(
        collector.run_once().await.unwrap(),
        Some(Collected::default())
    );
}

#[tokio::test]
async fn storage_use_per_organisation() {
    let docs = Docs::new().await;
    let empty = json!({
        "current": {"files": 0, "folders": 0, "bytes": 0},
        "old_versions": {"versions": 0, "bytes": 0},
        "trash": {"files": 0, "folders": 0, "versions": 0, "bytes": 0},
        "total_bytes": 0
    });
    let usage = || docs.json(Method::GET, "/api/v1/documents/storage", None, None);
    let answer = usage().await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body, empty);

    let report = docs.upload("report.txt", None, b"12345").await;
    replace(&docs, &report, "1234567").await;
    let folder = docs.folder("Drafts", None).await;
    let draft = docs.upload("draft.txt", Some(&folder), b"abc").await;
    replace(&docs, &draft, "abcd").await;
    let folder = get(&docs, &folder).await.body;
    delete(&docs, &folder).await;
    let _same_content = docs.upload("copy.txt", None, b"12345").await;
    assert_eq!(
        usage().await.body,
        json!({
            "current": {"files": 2, "folders": 0, "bytes": 12},
            "old_versions": {"versions": 1, "bytes": 5},
            "trash": {"files": 1, "folders": 1, "versions": 2, "bytes": 7},
            "total_bytes": 24
        })
    );

    let theirs = docs.app.user_in_new_org("eve@theirs.com").await;
    let answer = docs
        .send(
            &theirs,
            Method::GET,
            "/api/v1/documents/storage",
            &[],
            Body::empty(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.body, empty,
        "another organisation's documents are not counted"
    );
}
