//! The link table on a throwaway database (SQLite, or PostgreSQL with
//! `THREADLINE_TEST_DATABASE_URL`): the core's `Link` stored and read back whole, upserts,
//! one synced link per remote item, deletes, paths, connections apart, a row it cannot read.

use threadline_files_core::{
    HashKind, Link, LinkState, NodeKey, RecordKind, RecordRef, RemoteHash,
};
use threadline_files_sync::store::{self, StoreError};
use threadline_storage::db::{self, id_text, Db};
use threadline_storage::testing::TestDatabase;
use uuid::Uuid;

/// An organisation, a user and `n` (at most 2) connections of theirs: Dropbox, then Google
/// (one connection per user and provider).
async fn connections(db: &Db, n: usize) -> Vec<Uuid> {
    let (org, user) = (Uuid::now_v7(), Uuid::now_v7());
    let now = db::now();
    for sql in [
        "INSERT INTO organisations (id, name, created_at) VALUES ($1, 'Acme', $3)",
        "INSERT INTO users (id, org_id, name, email, created_at) VALUES ($2, $1, 'U', 'u@example.com', $3)",
    ] {
        sqlx::query(sql)
            .bind(id_text(org))
            .bind(id_text(user))
            .bind(&now)
            .execute(db.pool())
            .await
            .unwrap();
    }
    let mut ids = Vec::new();
    for i in 0..n {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO connections (id, org_id, user_id, provider, account_id, scopes, status,
                 version, created_at, updated_at, connected_at)
             VALUES ($1, $2, $3, $6, $4, '', 'ok', 1, $5, $5, $5)",
        )
        .bind(id_text(id))
        .bind(id_text(org))
        .bind(id_text(user))
        .bind(format!("account{i}"))
        .bind(&now)
        .bind(["dropbox", "google"][i])
        .execute(db.pool())
        .await
        .unwrap();
        ids.push(id);
    }
    ids
}

fn record() -> RecordRef {
    RecordRef {
        kind: RecordKind::Company,
        id: Uuid::now_v7(),
    }
}

/// A link of every kind of key, with and without what is optional.
fn sample() -> Vec<Link> {
    let acme = record();
    let offer = Uuid::now_v7();
    let base = |key: NodeKey, remote_id: &str, path: &str| Link {
        key,
        record: None,
        state: LinkState::Synced,
        crm_version: 0,
        sha256: None,
        crm_parent: None,
        crm_name: path.rsplit('/').next().unwrap().to_string(),
        remote_id: remote_id.into(),
        remote_parent: None,
        remote_name: path.rsplit('/').next().unwrap().to_string(),
        remote_rev: None,
        remote_hash: None,
        path: path.into(),
    };
    vec![
        base(NodeKey::Root, "id:root", "/"),
        Link {
            crm_parent: Some(NodeKey::Root),
            remote_parent: Some("id:root".into()),
            ..base(
                NodeKey::Module(RecordKind::Company),
                "id:companies",
                "/Companies",
            )
        },
        Link {
            record: Some(acme),
            crm_parent: Some(NodeKey::Module(RecordKind::Company)),
            remote_parent: Some("id:companies".into()),
            ..base(NodeKey::Record(acme), "id:acme", "/Companies/Acme")
        },
        Link {
            record: Some(acme),
            crm_version: 7,
            sha256: Some("ab".repeat(32)),
            crm_parent: Some(NodeKey::Record(acme)),
            crm_name: "offer：v2.pdf".into(),
            remote_parent: Some("id:acme".into()),
            remote_name: "offer:v2.pdf".into(),
            remote_rev: Some("015f1d2c3e4a".into()),
            remote_hash: Some(RemoteHash::new(
                HashKind::DropboxContentHash,
                "CD".repeat(32),
            )),
            ..base(
                NodeKey::Node(offer),
                "id:offer",
                "/Companies/Acme/offer:v2.pdf",
            )
        },
        Link {
            record: Some(acme),
            state: LinkState::GoneRemotely,
            crm_version: 3,
            sha256: Some("ef".repeat(32)),
            crm_parent: Some(NodeKey::Record(acme)),
            remote_hash: Some(RemoteHash::new(HashKind::Md5, "12".repeat(16))),
            ..base(
                NodeKey::Node(Uuid::now_v7()),
                "id:gone",
                "/Companies/Acme/old.txt",
            )
        },
    ]
}

fn by_key(mut links: Vec<Link>) -> Vec<Link> {
    links.sort_by_key(|l| l.key.marker());
    links
}

#[tokio::test]
async fn links_are_stored_whole_per_connection_and_updated_by_key() {
    let test = TestDatabase::create();
    let db = test.open().await;
    let ids = connections(&db, 2).await;
    let (one, two) = (ids[0], ids[1]);
    let mut conn = db.pool().acquire().await.unwrap();
    let links = sample();
    for link in &links {
        store::put_link(&mut conn, one, link).await.unwrap();
    }
    // Another connection's links are its own, the same remote ids included.
    store::put_link(&mut conn, two, &links[0]).await.unwrap();
    assert_eq!(
        store::links(&mut conn, one).await.unwrap(),
        by_key(links.clone())
    );
    assert_eq!(
        store::links(&mut conn, two).await.unwrap(),
        vec![links[0].clone()]
    );

    // The same key again: replaced, not added.
    let mut renamed = links[3].clone();
    renamed.crm_version = 8;
    renamed.remote_name = "offer v3.pdf".into();
    renamed.path = "/Companies/Acme/offer v3.pdf".into();
    renamed.remote_hash = None;
    store::put_link(&mut conn, one, &renamed).await.unwrap();
    let stored = store::links(&mut conn, one).await.unwrap();
    assert_eq!(stored.len(), links.len());
    assert!(stored.contains(&renamed));

    // By path (a Dropbox deletion names one), then deleted by key.
    let at = store::links_at_path(&mut conn, one, "/Companies/Acme/offer v3.pdf")
        .await
        .unwrap();
    assert_eq!(at, vec![renamed.clone()]);
    assert!(store::delete_link(&mut conn, one, &renamed.key)
        .await
        .unwrap());
    assert!(!store::delete_link(&mut conn, one, &renamed.key)
        .await
        .unwrap());
    assert_eq!(
        store::links(&mut conn, one).await.unwrap().len(),
        links.len() - 1
    );
    assert_eq!(store::links(&mut conn, two).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_remote_item_is_one_synced_link() {
    let test = TestDatabase::create();
    let db = test.open().await;
    let one = connections(&db, 1).await[0];
    let mut conn = db.pool().acquire().await.unwrap();
    let links = sample();
    for link in &links {
        store::put_link(&mut conn, one, link).await.unwrap();
    }
    // The offer's remote item now linked to another node (an adoption after a crash):
    // the older synced link of that item goes.
    let adopted = Link {
        key: NodeKey::Node(Uuid::now_v7()),
        ..links[3].clone()
    };
    store::put_link(&mut conn, one, &adopted).await.unwrap();
    let stored = store::links(&mut conn, one).await.unwrap();
    assert!(stored.contains(&adopted));
    assert!(!stored.iter().any(|l| l.key == links[3].key), "{stored:#?}");
    // A tombstone keeps its remote id beside a synced link of it (the id reused by the
    // provider, or the node uploaded again under it).
    let synced_again = Link {
        key: NodeKey::Node(Uuid::now_v7()),
        state: LinkState::Synced,
        ..links[4].clone()
    };
    store::put_link(&mut conn, one, &synced_again)
        .await
        .unwrap();
    let stored = store::links(&mut conn, one).await.unwrap();
    assert!(stored.contains(&links[4]) && stored.contains(&synced_again));
    // Two synced links of one item cannot be written behind the store's back.
    let twin = sqlx::query(
        "INSERT INTO file_links (connection_id, node_key, state, crm_version, crm_name,
             remote_id, remote_name, path, updated_at)
         VALUES ($1, 'node:00000000-0000-7000-8000-000000000001', 'synced', 0, 'x', $2, 'x',
             '/x', $3)",
    )
    .bind(id_text(one))
    .bind(&adopted.remote_id)
    .bind(db::now())
    .execute(&mut *conn)
    .await;
    assert!(
        twin.is_err(),
        "the unique index refuses a second synced link"
    );
}

#[tokio::test]
async fn a_row_it_cannot_read_is_named_not_guessed() {
    let test = TestDatabase::create();
    let db = test.open().await;
    let one = connections(&db, 1).await[0];
    let mut conn = db.pool().acquire().await.unwrap();
    sqlx::query(
        "INSERT INTO file_links (connection_id, node_key, state, crm_version, crm_name,
             remote_id, remote_name, path, updated_at)
         VALUES ($1, 'folder:42', 'synced', 0, 'x', 'id:x', 'x', '/x', $2)",
    )
    .bind(id_text(one))
    .bind(db::now())
    .execute(&mut *conn)
    .await
    .unwrap();
    match store::links(&mut conn, one).await {
        Err(StoreError::Corrupt { connection, why }) => {
            assert_eq!(connection, one);
            assert!(why.contains("folder:42"), "{why}");
        }
        other => panic!("{other:?}"),
    }
}
