//! Signing in with Google (`threadline_crm::accounts::google`): who a verified Google
//! identity is — a linked account, a first sign-in linked by an address Google is the
//! authority for, an address that must be linked from Settings, an unknown one — and linking
//! and unlinking. Each test has its own database, on the engine the environment picks.

use chrono::{TimeZone, Utc};
use threadline_crm::accounts::google::{self, GoogleIdentity, GoogleSignIn};
use threadline_crm::accounts::passwords::set_password;
use threadline_crm::accounts::{self, OrgChoice};
use threadline_crm::actor;
use threadline_storage::db::Db;
use threadline_storage::testing::TestDatabase;
use uuid::Uuid;

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn identity(sub: &str, email: &str, hd: Option<&str>) -> GoogleIdentity {
    GoogleIdentity {
        sub: sub.into(),
        email: email.into(),
        email_verified: true,
        hosted_domain: hd.map(str::to_string),
    }
}

async fn user(db: &Db, email: &str) -> Uuid {
    accounts::add_user(db, OrgChoice::Default, email, "Someone", &[])
        .await
        .unwrap()
        .id
}

async fn linked(db: &Db, user_id: Uuid) -> Option<String> {
    let mut conn = db.pool().acquire().await.unwrap();
    google::linked(&mut conn, user_id).await.unwrap()
}

#[tokio::test]
async fn a_first_sign_in_links_by_an_address_google_is_the_authority_for() {
    let test_db = TestDatabase::create();
    let db = test_db.open().await;
    let ann = user(&db, "ann@gmail.com").await;
    let bob = user(&db, "bob@acme.test").await;

    // Gmail: linked now, then by its sub (whatever its address has become).
    let first = identity("1001", "Ann@Gmail.com", None);
    assert_eq!(
        google::sign_in(&db, &first, now()).await.unwrap(),
        GoogleSignIn::LinkedNow(ann)
    );
    assert_eq!(linked(&db, ann).await.as_deref(), Some("Ann@Gmail.com"));
    let renamed = identity("1001", "ann.new@gmail.com", None);
    assert_eq!(
        google::sign_in(&db, &renamed, now()).await.unwrap(),
        GoogleSignIn::Linked(ann)
    );

    // A Workspace account of the address's own domain.
    let workspace = identity("2002", "bob@acme.test", Some("acme.test"));
    assert_eq!(
        google::sign_in(&db, &workspace, now()).await.unwrap(),
        GoogleSignIn::LinkedNow(bob)
    );
}

#[tokio::test]
async fn an_address_google_is_not_the_authority_for_is_linked_only_from_settings() {
    let test_db = TestDatabase::create();
    let db = test_db.open().await;
    let cy = user(&db, "cy@acme.test").await;
    // A consumer Google account made for cy's address (no `hd`), or another domain's
    // Workspace: not enough to become cy.
    for hd in [None, Some("other.test")] {
        let outsider = identity("3003", "cy@acme.test", hd);
        assert_eq!(
            google::sign_in(&db, &outsider, now()).await.unwrap(),
            GoogleSignIn::LinkInSettings
        );
    }
    assert_eq!(linked(&db, cy).await, None);
    // Signed in, cy links it; from then on it signs cy in.
    google::link(&db, cy, &identity("3003", "cy@acme.test", None), now())
        .await
        .unwrap();
    assert_eq!(
        google::sign_in(&db, &identity("3003", "cy@acme.test", None), now())
            .await
            .unwrap(),
        GoogleSignIn::Linked(cy)
    );
}

#[tokio::test]
async fn unknown_or_unverified_addresses_are_refused_and_an_account_links_to_one_user() {
    let test_db = TestDatabase::create();
    let db = test_db.open().await;
    let dee = user(&db, "dee@gmail.com").await;
    let eve = user(&db, "eve@gmail.com").await;
    // No user: no sign-up.
    assert_eq!(
        google::sign_in(&db, &identity("4004", "nobody@gmail.com", None), now())
            .await
            .unwrap(),
        GoogleSignIn::Unknown
    );
    let mut unverified = identity("4005", "dee@gmail.com", None);
    unverified.email_verified = false;
    assert_eq!(
        google::sign_in(&db, &unverified, now()).await.unwrap(),
        GoogleSignIn::Unknown
    );
    assert_eq!(linked(&db, dee).await, None);

    // dee's Google account cannot be linked to eve too.
    google::link(&db, dee, &identity("4006", "dee@gmail.com", None), now())
        .await
        .unwrap();
    let refused = google::link(&db, eve, &identity("4006", "dee@gmail.com", None), now())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("google_account_taken"));
    // eve, who already linked one, keeps it: another Google account with her address does
    // not replace it by itself.
    google::link(&db, eve, &identity("4007", "eve@gmail.com", None), now())
        .await
        .unwrap();
    assert_eq!(
        google::sign_in(&db, &identity("4008", "eve@gmail.com", None), now())
            .await
            .unwrap(),
        GoogleSignIn::LinkInSettings
    );
}

#[tokio::test]
async fn unlinking_needs_a_password() {
    let test_db = TestDatabase::create();
    let db = test_db.open().await;
    let fay = user(&db, "fay@gmail.com").await;
    google::link(&db, fay, &identity("5005", "fay@gmail.com", None), now())
        .await
        .unwrap();
    let fay_actor = {
        let mut conn = db.pool().acquire().await.unwrap();
        actor::of_user(&mut conn, fay).await.unwrap().unwrap()
    };
    let refused = google::unlink(&db, &fay_actor).await.unwrap_err();
    assert_eq!(refused.code(), Some("password_required"));
    assert!(linked(&db, fay).await.is_some());
    set_password(&db, fay, "correct horse battery", now())
        .await
        .unwrap();
    google::unlink(&db, &fay_actor).await.unwrap();
    assert_eq!(linked(&db, fay).await, None);
}
