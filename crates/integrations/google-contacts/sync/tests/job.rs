//! The export's run against the fake People API and a throwaway database whose contacts are
//! made through the CRM model.

mod common;

use serde_json::json;
use threadline_contacts_core::owned::UPDATE_PERSON_FIELDS;
use threadline_crm::records::companies::{Company, CompanyInput};
use threadline_crm::records::{Editable, Target};
use threadline_fake_providers::google::GoogleFault;
use threadline_fake_providers::{Fault, FaultRule};
use threadline_google_contacts::group::GROUP_NAME;
use threadline_google_contacts::store;
use threadline_google_contacts::{RunCounts, RunOptions};
use threadline_storage::db::id_text;
use threadline_sync_engine::SyncError;
use uuid::Uuid;

use common::world::{World, BATCH_CREATE, BATCH_DELETE, BATCH_UPDATE};

#[tokio::test]
async fn first_export_creates_the_group_and_every_contact_in_batches() {
    let w = World::new("ann@example.com").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            w.contact(
                &format!("First{i}"),
                "Last",
                &format!("p{i}@client.example"),
            )
            .await,
        );
    }
    let counts = w.run().await;
    assert_eq!(counts.created, 5, "{counts:?}");
    assert_eq!(w.count("POST", "/v1/contactGroups"), 1, "the group, once");
    assert_eq!(w.count("POST", BATCH_CREATE), 1, "one batch");
    assert_eq!(w.count("POST", BATCH_UPDATE), 0);
    // No per-contact call: a group list, a group create, one listing page, one batch.
    let calls: Vec<String> = w
        .fake
        .log()
        .requests()
        .into_iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        calls,
        [
            "GET /v1/contactGroups",
            "POST /v1/contactGroups",
            "GET /v1/people/me/connections",
            "POST /v1/people:batchCreateContacts",
        ],
        "{calls:#?}"
    );
    let groups = w.export.client().list_groups(&w.token()).await.unwrap();
    let ours: Vec<_> = groups.iter().filter(|g| g.name == GROUP_NAME).collect();
    assert_eq!(ours.len(), 1);
    for id in &ids {
        let people = w.people_of(*id);
        assert_eq!(people.len(), 1, "one person per contact");
        let groups: Vec<String> = people[0]["memberships"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["contactGroupMembership"]["contactGroupResourceName"].as_str())
            .map(str::to_string)
            .collect();
        assert!(groups.contains(&ours[0].resource_name), "{groups:?}");
        w.link_name(*id).await;
    }
}

#[tokio::test]
async fn a_quiet_second_run_writes_nothing_with_at_most_one_request() {
    let w = World::new("bob@example.com").await;
    for i in 0..3 {
        w.contact(&format!("F{i}"), "L", &format!("q{i}@client.example"))
            .await;
    }
    w.run().await;
    w.fake.log().clear();
    // The listing shows the first run's creates (its token predates them): our own echo.
    let counts = w.run().await;
    assert_eq!(w.mutations(), 0, "{:#?}", w.fake.log().requests());
    assert!(
        w.fake.log().requests().len() <= 1,
        "{:#?}",
        w.fake.log().requests()
    );
    assert_eq!(
        (
            counts.created,
            counts.updated,
            counts.deleted,
            counts.unchanged
        ),
        (0, 0, 0, 3),
        "{counts:?}"
    );
    w.fake.log().clear();
    w.run().await;
    assert_eq!(w.mutations(), 0);
    assert!(w.fake.log().requests().len() <= 1);
}

#[tokio::test]
async fn a_crm_change_updates_only_that_contact_and_keeps_what_google_added() {
    let w = World::new("cat@example.com").await;
    let changed = w.contact("Dora", "Old", "dora@client.example").await;
    let other = w.contact("Eve", "Same", "eve@client.example").await;
    w.run().await;
    let name = w.link_name(changed).await;
    // The user adds a photo and a birthday in Google: not ours.
    let google = w.fake.google();
    google.set_contact_photo(&w.email, &name, "https://photos.example/dora.jpg");
    google.edit_contact(
        &w.email,
        &name,
        json!({"birthdays": [{"date": {"year": 1990, "month": 4, "day": 2}}]}),
    );
    let other_before = w.people_of(other)[0]["etag"].clone();
    w.save(
        changed,
        Target::Existing {
            expected_version: 1,
        },
        json!({"first_name": "Dora", "last_name": "New", "emails": ["dora@client.example"],
               "job_title": "Buyer"}),
    )
    .await;
    w.fake.log().clear();
    let counts = w.run().await;
    assert_eq!((counts.updated, counts.created), (1, 0), "{counts:?}");
    assert_eq!(w.count("POST", BATCH_UPDATE), 1);
    assert_eq!(w.count("POST", BATCH_CREATE), 0);
    let person = &w.people_of(changed)[0];
    assert_eq!(person["names"][0]["familyName"], "New", "{person:#}");
    assert_eq!(person["organizations"][0]["title"], "Buyer", "{person:#}");
    assert_eq!(
        person["photos"][0]["url"], "https://photos.example/dora.jpg",
        "the photo set in Google is kept"
    );
    assert_eq!(person["birthdays"][0]["date"]["year"], 1990, "{person:#}");
    assert_eq!(
        w.people_of(other)[0]["etag"],
        other_before,
        "the other untouched"
    );
    // The mask names only our fields.
    let mask: Vec<&str> = UPDATE_PERSON_FIELDS.split(',').collect();
    for theirs in ["photos", "birthdays", "memberships", "userDefined"] {
        assert!(!mask.contains(&theirs), "{mask:?}");
    }
    // And the next run is quiet again.
    w.settles().await;
}

#[tokio::test]
async fn a_crm_delete_deletes_the_person_in_google() {
    let w = World::new("dan@example.com").await;
    let gone = w.contact("Fay", "Gone", "fay@client.example").await;
    let kept = w.contact("Gil", "Kept", "gil@client.example").await;
    w.run().await;
    w.delete(gone, 1).await;
    w.fake.log().clear();
    let counts = w.run().await;
    assert_eq!(counts.deleted, 1, "{counts:?}");
    assert_eq!(w.count("POST", BATCH_DELETE), 1);
    assert!(w.people_of(gone).is_empty(), "deleted in Google");
    assert_eq!(w.people_of(kept).len(), 1, "the other kept");
    let mut conn = w.db.pool().acquire().await.unwrap();
    let links = store::links(&mut conn, w.connection).await.unwrap();
    assert_eq!(
        links.iter().map(|l| l.contact_id).collect::<Vec<_>>(),
        [kept],
        "its link dropped"
    );
    drop(conn);
    // Not deleted twice.
    w.settles().await;
}

#[tokio::test]
async fn a_create_answer_lost_after_commit_is_adopted_not_duplicated() {
    let w = World::new("eli@example.com").await;
    let first = w.contact("Hal", "One", "hal@client.example").await;
    let drop_create = || {
        w.fake
            .faults()
            .inject(FaultRule::new(Fault::DropResponseAfterCommit).on("POST", BATCH_CREATE));
    };
    // On the first run: the batch is made in Google, its answer lost.
    drop_create();
    let lost = w.export.run(w.connection, RunOptions::default()).await;
    assert!(matches!(lost, Err(SyncError::Retryable { .. })), "{lost:?}");
    assert_eq!(w.people_of(first).len(), 1, "made in Google");
    let counts = w.run().await;
    assert_eq!((counts.adopted, counts.created), (1, 0), "{counts:?}");
    assert_eq!(w.count("POST", BATCH_CREATE), 1, "never sent again");
    assert_eq!(w.people_of(first).len(), 1, "no duplicate");
    assert_eq!(
        w.link_name(first).await,
        w.people_of(first)[0]["resourceName"].as_str().unwrap()
    );

    // On a later run (incremental listing), the same.
    let second = w.contact("Ida", "Two", "ida@client.example").await;
    drop_create();
    let lost = w.export.run(w.connection, RunOptions::default()).await;
    assert!(matches!(lost, Err(SyncError::Retryable { .. })), "{lost:?}");
    let counts = w.run().await;
    assert_eq!((counts.adopted, counts.created), (1, 0), "{counts:?}");
    assert_eq!(w.count("POST", BATCH_CREATE), 2);
    assert_eq!(w.people_of(second).len(), 1, "no duplicate");
    assert_eq!(w.people_of(first).len(), 1);
    w.settles().await;
}

#[tokio::test]
async fn a_stale_etag_is_read_again_and_the_update_retried_once() {
    let w = World::new("fay@example.com").await;
    let id = w.contact("Jo", "Before", "jo@client.example").await;
    w.run().await;
    let name = w.link_name(id).await;
    w.fake
        .google()
        .set_contact_photo(&w.email, &name, "https://photos.example/jo.jpg");
    w.save(
        id,
        Target::Existing {
            expected_version: 1,
        },
        json!({"first_name": "Jo", "last_name": "After", "emails": ["jo@client.example"]}),
    )
    .await;
    w.fake
        .faults()
        .inject(FaultRule::new(Fault::Google(GoogleFault::StaleEtag)).on("POST", BATCH_UPDATE));
    w.fake.log().clear();
    let counts = w.run().await;
    assert_eq!((counts.updated, counts.errors), (1, 0), "{counts:?}");
    assert_eq!(w.count("POST", BATCH_UPDATE), 2, "sent, then retried once");
    assert_eq!(w.count("GET", "/v1/people:batchGet"), 1, "read again once");
    let person = &w.people_of(id)[0];
    assert_eq!(person["names"][0]["familyName"], "After");
    assert_eq!(person["photos"][0]["url"], "https://photos.example/jo.jpg");
}

#[tokio::test]
async fn a_company_change_updates_its_contacts() {
    let w = World::new("gus@example.com").await;
    let company = Uuid::now_v7();
    let save_company = |target, name: &str| {
        let input: CompanyInput = serde_json::from_value(json!({
            "name": name, "domains": ["client.example"], "website": "https://client.example"
        }))
        .unwrap();
        let valid = Company::validate(input).unwrap();
        let db = w.db.clone();
        let actor = w.actor.clone();
        async move {
            let mut conn = db.pool().acquire().await.unwrap();
            Company::save(&mut conn, &actor, company, target, &valid)
                .await
                .unwrap();
        }
    };
    save_company(Target::New, "Client Ltd").await;
    let staff = Uuid::now_v7();
    w.save(
        staff,
        Target::New,
        json!({"first_name": "Kim", "last_name": "Staff", "emails": ["kim@client.example"],
               "company_id": company}),
    )
    .await;
    let outsider = w.contact("Lou", "Else", "lou@else.example").await;
    w.run().await;
    assert_eq!(
        w.people_of(staff)[0]["organizations"][0]["name"],
        "Client Ltd"
    );
    let before = w.people_of(outsider)[0]["etag"].clone();
    save_company(
        Target::Existing {
            expected_version: 1,
        },
        "Client Group",
    )
    .await;
    let counts = w.run().await;
    assert_eq!(counts.updated, 1, "{counts:?}");
    assert_eq!(
        w.people_of(staff)[0]["organizations"][0]["name"],
        "Client Group"
    );
    assert_eq!(w.people_of(outsider)[0]["etag"], before);
}

#[tokio::test]
async fn no_scope_means_reconnect_and_an_export_turned_off_does_nothing() {
    let w = World::new("hub@example.com").await;
    w.contact("Max", "M", "max@client.example").await;
    let mut conn = w.db.pool().acquire().await.unwrap();
    store::set_enabled(&mut conn, w.connection, false)
        .await
        .unwrap();
    let counts = w.run().await;
    assert_eq!(counts, RunCounts::default());
    assert_eq!(w.fake.log().requests().len(), 0, "no request when off");

    store::set_enabled(&mut conn, w.connection, true)
        .await
        .unwrap();
    sqlx::query("UPDATE connections SET scopes = 'openid email' WHERE id = $1")
        .bind(id_text(w.connection))
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    let run = w.export.run(w.connection, RunOptions::default()).await;
    assert!(
        matches!(&run, Err(SyncError::NeedsReauth(why)) if why.contains("contacts")),
        "{run:?}"
    );
    assert_eq!(w.fake.log().requests().len(), 0);
}

/// A contact deleted in the CRM whose person the user took over in Google (our `clientData`
/// removed) is not deleted there: skipped, with its reason in the run's counts.
#[tokio::test]
async fn a_person_no_longer_ours_is_kept_and_the_skip_says_why() {
    use threadline_contacts_core::plan::SkipReason;
    let w = World::new("ann@example.com").await;
    let taken = w.contact("Taken", "Over", "taken@client.example").await;
    let kept = w.contact("Still", "Ours", "still@client.example").await;
    assert_eq!(w.run().await.created, 2);
    let name = w.link_name(taken).await;
    w.fake
        .google()
        .edit_contact(&w.email, &name, json!({ "clientData": [] }));
    w.delete(taken, 1).await;
    let counts = w.run().await;
    assert_eq!(counts.deleted, 0, "{counts:?}");
    assert_eq!(counts.skipped, 1, "{counts:?}");
    assert_eq!(
        counts.skipped_by_reason[SkipReason::NotOurs.index()],
        1,
        "{counts:?}"
    );
    assert_eq!(w.count("POST", BATCH_DELETE), 0);
    let people = w.fake.google().people_contacts(&w.email);
    assert!(
        people.iter().any(|p| p["resourceName"] == name.as_str()),
        "the person the user took over stays"
    );
    assert_eq!(w.people_of(kept).len(), 1);
}
