//! Our contact group against the fake People API: created once, found by its stamp after a
//! rename, adopted and stamped on a 409.

mod common;

use threadline_google_contacts::group::{ensure_group, EXPORT_KEY, GROUP_NAME};

use common::fake_account as setup;

#[tokio::test]
async fn created_once_then_found_by_its_stamp() {
    let (fake, token, c) = setup("ann@example.com").await;
    let first = ensure_group(&c, &token, "conn-1", None).await.unwrap();
    let again = ensure_group(&c, &token, "conn-1", None).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(
        fake.log().count("POST", "/v1/contactGroups"),
        1,
        "created once"
    );
    // The stored one is used without a request.
    let before = fake.log().requests().len();
    assert_eq!(
        ensure_group(&c, &token, "conn-1", Some(&first))
            .await
            .unwrap(),
        first
    );
    assert_eq!(fake.log().requests().len(), before);
}

#[tokio::test]
async fn a_group_of_that_name_is_adopted_and_stamped() {
    let (_fake, token, c) = setup("bob@example.com").await;
    let theirs = c.create_group(&token, GROUP_NAME, &[]).await.unwrap();
    let ours = ensure_group(&c, &token, "conn-2", None).await.unwrap();
    assert_eq!(ours, theirs.resource_name);
    let groups = c.list_groups(&token).await.unwrap();
    let named: Vec<_> = groups.iter().filter(|g| g.name == GROUP_NAME).collect();
    assert_eq!(named.len(), 1, "never two");
    assert_eq!(named[0].client_data(EXPORT_KEY), Some("conn-2"));
}
