//! The export's tables on a throwaway database (SQLite, or PostgreSQL under
//! `tests/pg/throwaway-cluster.sh`).

mod common;

use threadline_contacts_core::{ContentHash, Link, LinkState};
use threadline_google_contacts::store::{self, Export, Position};
use threadline_storage::db::Db;
use threadline_storage::testing::TestDatabase;
use uuid::Uuid;

/// An organisation, a user and a Google connection; the connection's id.
pub async fn connection(db: &Db) -> Uuid {
    common::connection_rows(db).await.connection
}

#[tokio::test]
async fn export_row_on_off_position_and_links() {
    let test = TestDatabase::create();
    let db = test.open().await;
    let id = connection(&db).await;
    let mut conn = db.pool().acquire().await.unwrap();
    assert_eq!(store::export(&mut conn, id).await.unwrap(), None);

    store::set_enabled(&mut conn, id, true).await.unwrap();
    let on = store::export(&mut conn, id).await.unwrap().unwrap();
    assert_eq!(
        on,
        Export {
            enabled: true,
            needs_adoption: true,
            ..Export::default()
        }
    );
    store::save_group(&mut conn, id, Some("contactGroups/abc"))
        .await
        .unwrap();
    store::save_position(
        &mut conn,
        id,
        &Position {
            feed_seq: 42,
            sync_token: Some("tok"),
            needs_full_listing: false,
            mapping_version: "v1",
        },
    )
    .await
    .unwrap();
    let after = store::export(&mut conn, id).await.unwrap().unwrap();
    assert_eq!(after.feed_seq, 42);
    assert_eq!(after.sync_token.as_deref(), Some("tok"));
    assert_eq!(after.group.as_deref(), Some("contactGroups/abc"));
    assert_eq!(after.mapping_version.as_deref(), Some("v1"));
    assert!(!after.needs_adoption);

    // Off keeps everything; on again asks for adoption and a full listing.
    store::set_enabled(&mut conn, id, false).await.unwrap();
    let off = store::export(&mut conn, id).await.unwrap().unwrap();
    assert!(!off.enabled && !off.needs_adoption);
    assert_eq!(off.group.as_deref(), Some("contactGroups/abc"));
    store::set_enabled(&mut conn, id, true).await.unwrap();
    let again = store::export(&mut conn, id).await.unwrap().unwrap();
    assert!(again.enabled && again.needs_adoption);
    assert_eq!(again.sync_token, None);
    assert_eq!(again.feed_seq, 42);
    assert_eq!(again.group.as_deref(), Some("contactGroups/abc"));
    store::clear_sync_token(&mut conn, id).await.unwrap();

    // Links: pending, then exported, then deleted in Google, then gone.
    let contact = Uuid::now_v7();
    let pending = Link {
        contact_id: contact,
        resource_name: None,
        etag: None,
        hash: ContentHash("v1:abc".into()),
        state: LinkState::Pending,
    };
    store::put_link(&mut conn, id, &pending).await.unwrap();
    assert_eq!(
        store::links(&mut conn, id).await.unwrap(),
        vec![pending.clone()]
    );
    let exported = Link::exported(
        contact,
        "people/c1",
        Some("etag-1".into()),
        ContentHash("v1:abc".into()),
    );
    store::put_link(&mut conn, id, &exported).await.unwrap();
    assert_eq!(
        store::links(&mut conn, id).await.unwrap(),
        vec![exported.clone()]
    );
    store::put_link(&mut conn, id, &exported.deleted_in_google())
        .await
        .unwrap();
    assert_eq!(
        store::links(&mut conn, id).await.unwrap()[0].state,
        LinkState::DeletedInGoogle
    );
    store::delete_link(&mut conn, id, contact).await.unwrap();
    assert!(store::links(&mut conn, id).await.unwrap().is_empty());
}

#[tokio::test]
async fn links_put_many_at_once_replace_theirs_and_keep_the_last_of_a_contact_given_twice() {
    let test = TestDatabase::create();
    let db = test.open().await;
    let id = connection(&db).await;
    let mut conn = db.pool().acquire().await.unwrap();
    let pending = |contact: Uuid| Link {
        contact_id: contact,
        resource_name: None,
        etag: None,
        hash: ContentHash("v1:abc".into()),
        state: LinkState::Pending,
    };
    // More than one statement's worth.
    let mut contacts: Vec<Uuid> = (0..250).map(|_| Uuid::now_v7()).collect();
    // In the order `links` answers (by contact id).
    contacts.sort();
    let first: Vec<Link> = contacts.iter().map(|c| pending(*c)).collect();
    store::put_links(&mut conn, id, &first).await.unwrap();
    assert_eq!(store::links(&mut conn, id).await.unwrap(), first);

    // Half of them exported; the first twice, the second time with a newer etag.
    let exported = |i: usize, etag: &str| {
        Link::exported(
            contacts[i],
            &format!("people/c{i}"),
            Some(etag.into()),
            ContentHash("v1:def".into()),
        )
    };
    let mut second: Vec<Link> = (0..125).map(|i| exported(i, "e1")).collect();
    second.push(exported(0, "e2"));
    store::put_links(&mut conn, id, &second).await.unwrap();
    let links = store::links(&mut conn, id).await.unwrap();
    assert_eq!(links.len(), 250);
    assert_eq!(
        links[0],
        exported(0, "e2"),
        "the last of a contact given twice"
    );
    assert_eq!(links[1..125], second[1..125]);
    assert_eq!(links[125..], first[125..], "the others kept");
    store::put_links(&mut conn, id, &[]).await.unwrap();
    assert_eq!(store::links(&mut conn, id).await.unwrap().len(), 250);
}
