//! The People API client against the local fake over real HTTP.

mod common;

use std::time::Duration;

use threadline_contacts_core::decide::Failure;
use threadline_contacts_core::owned::UPDATE_PERSON_FIELDS;
use threadline_contacts_core::person::ClientData;
use threadline_contacts_core::{CrmContact, Owned};
use threadline_fake_providers::google::GoogleFault;
use threadline_fake_providers::{FakeProviders, Fault, FaultRule, Times};
use threadline_google_contacts::client::{ListError, PeopleClient, RetryPolicy};
use uuid::Uuid;

const ME: &str = "ann@example.com";

/// The fake with Ann's account, and an access token of it.
async fn setup() -> (FakeProviders, String) {
    let (fake, token, _) = common::fake_account(ME).await;
    (fake, token)
}

fn client(fake: &FakeProviders, retry: RetryPolicy) -> PeopleClient {
    PeopleClient::new(&format!("{}/v1", fake.base_url()), retry).unwrap()
}

fn quick() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_secs(1),
    }
}

fn owned(first: &str, org: Uuid) -> Owned {
    Owned::from_contact(
        &CrmContact {
            id: Uuid::now_v7(),
            first_name: first.into(),
            last_name: "Example".into(),
            emails: vec![format!("{}@example.org", first.to_lowercase())],
            ..CrmContact::default()
        },
        org,
    )
}

#[tokio::test]
async fn groups_create_list_conflict_and_stamp() {
    let (fake, token) = setup().await;
    let c = client(&fake, quick());
    let stamp = vec![ClientData {
        key: "threadline.export".into(),
        value: "conn-1".into(),
    }];
    let group = c.create_group(&token, "Threadline", &stamp).await.unwrap();
    assert!(group.resource_name.starts_with("contactGroups/"));
    assert_eq!(group.client_data("threadline.export"), Some("conn-1"));
    let read = c.get_group(&token, &group.resource_name).await.unwrap();
    assert_eq!(read, group);
    let unknown = c.get_group(&token, "contactGroups/0123456789abcdef").await;
    assert_eq!(unknown.unwrap_err().status(), Some(404));
    let again = c
        .create_group(&token, "Threadline", &stamp)
        .await
        .unwrap_err();
    assert_eq!(again.status(), Some(409));
    let groups = c.list_groups(&token).await.unwrap();
    let ours: Vec<_> = groups.iter().filter(|g| g.name == "Threadline").collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].client_data("threadline.export"), Some("conn-1"));
    assert!(groups
        .iter()
        .any(|g| g.resource_name == "contactGroups/myContacts"));

    // A group of the user's, stamped afterwards: its name stays.
    let theirs = c.create_group(&token, "Clients", &[]).await.unwrap();
    let stamped = c.stamp_group(&token, &theirs, &stamp).await.unwrap();
    assert_eq!(stamped.name, "Clients");
    assert_eq!(stamped.client_data("threadline.export"), Some("conn-1"));
}

#[tokio::test]
async fn contacts_batches_listing_and_sync_tokens() {
    let (fake, token) = setup().await;
    let c = client(&fake, quick());
    let org = Uuid::now_v7();
    let group = c.create_group(&token, "Threadline", &[]).await.unwrap();
    let people: Vec<Owned> = (0..3).map(|i| owned(&format!("P{i}"), org)).collect();
    let bodies: Vec<_> = people
        .iter()
        .map(|o| o.create_body(&group.resource_name))
        .collect();
    let created = c.batch_create(&token, &bodies).await.unwrap();
    assert_eq!(created.len(), 3);
    for (o, p) in people.iter().zip(&created) {
        assert!(p.etag.is_some());
        assert!(p.in_group(&group.resource_name));
        assert_eq!(Owned::from_person(p).unwrap().hash(), o.hash());
    }

    let full = c.list_connections(&token, None).await.unwrap();
    assert_eq!(full.people.len(), 3);
    assert_eq!(full.requests, 1);
    let sync = full.next_sync_token.clone().expect("a sync token");

    // Quiet: one request, nothing listed.
    let quiet = c.list_connections(&token, Some(&sync)).await.unwrap();
    assert_eq!(quiet.requests, 1);
    assert!(quiet.people.is_empty());

    // Update one, naming only our fields; a photo set in Google stays.
    let name = created[0].resource_name.clone().unwrap();
    fake.google()
        .set_contact_photo(ME, &name, "https://lh3.example/photo.jpg");
    let fresh = c
        .batch_get(&token, std::slice::from_ref(&name))
        .await
        .unwrap();
    assert_eq!(fresh[0].status, 200);
    let etag = fresh[0].person.as_ref().unwrap().etag.clone();
    let mut changed = people[0].clone();
    changed.job_title = Some("Buyer".into());
    let updated = c
        .batch_update(
            &token,
            &[(name.clone(), changed.update_body(&name, etag.as_deref()))],
            UPDATE_PERSON_FIELDS,
        )
        .await
        .unwrap();
    assert_eq!(
        Owned::from_person(&updated[&name]).unwrap().hash(),
        changed.hash()
    );
    let stored = fake.google().people_contacts(ME);
    let stored = stored
        .iter()
        .find(|p| p["resourceName"] == name.as_str())
        .unwrap();
    assert!(stored["photos"].is_array(), "{stored}");

    // A stale etag: 400 FAILED_PRECONDITION, classified as such.
    let stale = c
        .batch_update(
            &token,
            &[(name.clone(), changed.update_body(&name, etag.as_deref()))],
            UPDATE_PERSON_FIELDS,
        )
        .await
        .unwrap_err();
    assert_eq!(stale.failure(), Failure::StaleEtag, "{stale}");

    // Out of the group, then back in.
    let second = created[1].resource_name.clone().unwrap();
    c.add_members(&token, &group.resource_name, std::slice::from_ref(&second))
        .await
        .unwrap();

    // Delete one; the incremental listing shows the tombstone.
    let third = created[2].resource_name.clone().unwrap();
    c.batch_delete(&token, std::slice::from_ref(&third))
        .await
        .unwrap();
    let after = c.list_connections(&token, Some(&sync)).await.unwrap();
    assert!(after
        .people
        .iter()
        .any(|p| p.answers_to(&third) && p.is_deleted()));
    let gone = c
        .batch_get(&token, std::slice::from_ref(&third))
        .await
        .unwrap();
    assert_eq!(gone[0].status, 404);
    assert!(gone[0].person.is_none());

    // An expired token says so.
    fake.google().expire_people_sync_tokens(ME);
    let expired = c.list_connections(&token, Some(&sync)).await;
    assert!(
        matches!(expired, Err(ListError::SyncTokenExpired)),
        "{expired:?}"
    );
}

#[tokio::test]
async fn faults_are_retried_or_returned_by_kind() {
    let (fake, token) = setup().await;
    let faults = fake.faults();
    let c = client(&fake, quick());
    // Throttles and 5xx on a read are retried.
    let id = faults.inject(
        FaultRule::new(Fault::TooManyRequests { retry_after: None })
            .on("GET", "/v1/contactGroups")
            .times(Times::N(1)),
    );
    c.list_groups(&token).await.unwrap();
    assert_eq!(faults.fired(id), 1);
    let id = faults.inject(
        FaultRule::new(Fault::BackendError)
            .on("GET", "/v1/contactGroups")
            .times(Times::N(2)),
    );
    c.list_groups(&token).await.unwrap();
    assert_eq!(faults.fired(id), 2);
    // Lasting 5xx: transient after the attempts.
    faults.inject(
        FaultRule::new(Fault::Unavailable)
            .on("GET", "/v1/contactGroups")
            .times(Times::Always),
    );
    let e = c.list_groups(&token).await.unwrap_err();
    assert!(e.is_transient());
    assert_eq!(e.failure(), Failure::Transient);
    faults.clear();

    // A create whose answer is a 5xx after commit is not sent again.
    let org = Uuid::now_v7();
    let id = faults.inject(
        FaultRule::new(Fault::Google(GoogleFault::BackendErrorAfterCommit))
            .on("POST", "/v1/people:batchCreateContacts")
            .times(Times::N(1)),
    );
    let e = c
        .batch_create(
            &token,
            &[owned("Lost", org).create_body("contactGroups/myContacts")],
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(500));
    assert_eq!(faults.fired(id), 1);
    assert_eq!(
        fake.log().count("POST", "/v1/people:batchCreateContacts"),
        1
    );
    assert_eq!(fake.google().people_contacts(ME).len(), 1, "committed once");

    // 401: returned at once (the run replaces the token).
    faults.inject(
        FaultRule::new(Fault::Unauthorized)
            .on("*", "/v1/**")
            .times(Times::Always),
    );
    let e = c.list_groups(&token).await.unwrap_err();
    assert_eq!(e.failure(), Failure::Unauthorized);
    faults.clear();

    // 403 rate limit: retried.
    let id = faults.inject(
        FaultRule::new(Fault::Google(GoogleFault::RateLimited403(
            threadline_fake_providers::google::RateLimitReason::UserRateLimitExceeded,
        )))
        .on("GET", "/v1/contactGroups")
        .times(Times::N(1)),
    );
    c.list_groups(&token).await.unwrap();
    assert_eq!(faults.fired(id), 1);
}
