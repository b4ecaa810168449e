//! The web app's accounts model (`threadline_crm::accounts::{passwords, sessions, links}`):
//! passwords and the throttled sign-in, sessions and their timeouts, the setup link and
//! invitations. Each test has its own database, on the engine the environment picks
//! (`tests/pg/throwaway-cluster.sh run cargo test -p threadline-crm --test web_accounts` for
//! PostgreSQL). The clock is the `now` each call is given.

use chrono::{DateTime, Duration, TimeZone, Utc};
use threadline_crm::accounts::links::{
    accept_invitation, create_setup_link, invite, link, pending_invitations, redeem_setup_link,
    revoke_invitation, LinkPurpose, INVITATION_TTL, SETUP_LINK_TTL,
};
use threadline_crm::accounts::passwords::{
    check_password_rules, set_password, sign_in, SignIn, MAX_PASSWORD_BYTES, THROTTLE_WINDOW,
};
use threadline_crm::accounts::sessions::{
    create_session, end_all_sessions, end_session, list_sessions, session, set_language,
    ABSOLUTE_TIMEOUT, IDLE_TIMEOUT,
};
use threadline_crm::accounts::{self, Bootstrap, OrgChoice};
use threadline_crm::{actor, Actor, CrmError, Reason};
use threadline_domain::api::UserRole;
use threadline_storage::db::Db;
use threadline_storage::testing::TestDatabase;
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn code(e: CrmError) -> &'static str {
    e.code().unwrap_or_else(|| panic!("not a refusal: {e}"))
}

/// A database whose first start made the owner `owner@acme.test` (no password yet).
async fn started() -> (TestDatabase, Db, Uuid) {
    let test_db = TestDatabase::create();
    let db = test_db.open().await;
    let Bootstrap::Created(owner) = accounts::bootstrap(&db, "owner@acme.test").await.unwrap()
    else {
        panic!("a new database")
    };
    (test_db, db, owner.id)
}

async fn actor_of(db: &Db, user_id: Uuid) -> Actor {
    let mut conn = db.pool().acquire().await.unwrap();
    actor::of_user(&mut conn, user_id).await.unwrap().unwrap()
}

/// A member `ann@acme.test` with the password [`PASSWORD`], beside the owner.
async fn with_member() -> (TestDatabase, Db, Uuid, Uuid) {
    let (test_db, db, owner) = started().await;
    let ann = accounts::add_user(&db, OrgChoice::Default, "ann@acme.test", "Ann", &[])
        .await
        .unwrap();
    set_password(&db, ann.id, PASSWORD, t0()).await.unwrap();
    (test_db, db, owner, ann.id)
}

#[test]
fn password_rules() {
    assert_eq!(
        code(check_password_rules("short").unwrap_err()),
        "weak_password"
    );
    // Characters, not bytes: nine two-byte letters are too few.
    assert_eq!(
        code(check_password_rules("ééééééééé").unwrap_err()),
        "weak_password"
    );
    check_password_rules("éééééééééé").unwrap();
    check_password_rules("ten chars!").unwrap();
    let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
    let refused = check_password_rules(&long).unwrap_err();
    assert_eq!(refused.reason(), Some(Reason::Unacceptable));
    let CrmError::Request { field, message, .. } = &refused else {
        panic!("a refusal")
    };
    assert_eq!(field.as_deref(), Some("password"));
    assert!(message.contains("1024"), "{message}");
    assert_eq!(code(refused), "password_too_long");
    check_password_rules(&"x".repeat(MAX_PASSWORD_BYTES)).unwrap();
}

#[tokio::test]
async fn sign_in_right_wrong_and_unknown() {
    let (_t, db, _owner, ann) = with_member().await;
    let now = t0();
    let too_long = format!("{PASSWORD}{}", "x".repeat(MAX_PASSWORD_BYTES));
    assert_eq!(
        sign_in(&db, "ann@acme.test", PASSWORD, "10.0.0.1", now)
            .await
            .unwrap(),
        SignIn::Signed(ann)
    );
    // The address is normalised as the accounts' are (the domain's case).
    assert_eq!(
        sign_in(&db, " ann@ACME.test ", PASSWORD, "10.0.0.1", now)
            .await
            .unwrap(),
        SignIn::Signed(ann)
    );
    for (email, password) in [
        ("ann@acme.test", "correct horse battery!"),
        ("nobody@acme.test", PASSWORD),
        // The owner has no password yet.
        ("owner@acme.test", PASSWORD),
        ("not an address", PASSWORD),
        ("ann@acme.test", ""),
        ("ann@acme.test", too_long.as_str()),
    ] {
        assert_eq!(
            sign_in(&db, email, password, "10.0.0.1", now)
                .await
                .unwrap(),
            SignIn::WrongCredentials,
            "{email} / {password}"
        );
    }
}

#[tokio::test]
async fn sign_in_is_throttled_by_address() {
    let (_t, db, _owner, ann) = with_member().await;
    let now = t0();
    for i in 0..5 {
        let at = now + Duration::minutes(i);
        // A new client each time: only the address's count matters here.
        let client = format!("10.0.0.{i}");
        assert_eq!(
            sign_in(&db, "ann@acme.test", "wrong password", &client, at)
                .await
                .unwrap(),
            SignIn::WrongCredentials
        );
    }
    // Even the right password is not checked now, from anywhere.
    let at = now + Duration::minutes(5);
    assert_eq!(
        sign_in(&db, "ann@acme.test", PASSWORD, "10.9.9.9", at)
            .await
            .unwrap(),
        SignIn::Throttled {
            retry_after_secs: 10 * 60
        }
    );
    // Another address from the same clients is not throttled.
    assert_eq!(
        sign_in(&db, "bob@acme.test", "wrong password", "10.0.0.1", at)
            .await
            .unwrap(),
        SignIn::WrongCredentials
    );
    // When the oldest failure leaves the window, one more try is allowed.
    let later = now + THROTTLE_WINDOW + Duration::seconds(1);
    assert_eq!(
        sign_in(&db, "ann@acme.test", PASSWORD, "10.9.9.9", later)
            .await
            .unwrap(),
        SignIn::Signed(ann)
    );
    // The success cleared the address's failures: five more are allowed.
    for i in 0..4 {
        let at = later + Duration::seconds(i);
        assert_eq!(
            sign_in(&db, "ann@acme.test", "wrong", "10.0.0.1", at)
                .await
                .unwrap(),
            SignIn::WrongCredentials
        );
    }
    assert_eq!(
        sign_in(
            &db,
            "ann@acme.test",
            PASSWORD,
            "10.0.0.1",
            later + Duration::seconds(5)
        )
        .await
        .unwrap(),
        SignIn::Signed(ann)
    );
}

#[tokio::test]
async fn sign_in_is_throttled_by_client() {
    let (_t, db, _owner, ann) = with_member().await;
    let now = t0();
    // Thirty failures from one client, over thirty addresses (none reaches its own limit).
    for i in 0..30 {
        let at = now + Duration::seconds(i * 10);
        let email = format!("user{i}@acme.test");
        assert_eq!(
            sign_in(&db, &email, "wrong password", "203.0.113.7", at)
                .await
                .unwrap(),
            SignIn::WrongCredentials
        );
    }
    let at = now + Duration::minutes(5);
    assert_eq!(
        sign_in(&db, "ann@acme.test", PASSWORD, "203.0.113.7", at)
            .await
            .unwrap(),
        SignIn::Throttled {
            retry_after_secs: 10 * 60
        }
    );
    // Another client is not.
    assert_eq!(
        sign_in(&db, "ann@acme.test", PASSWORD, "198.51.100.1", at)
            .await
            .unwrap(),
        SignIn::Signed(ann)
    );
    // Ten seconds after the oldest failure left the window, the second oldest has too.
    let later = now + THROTTLE_WINDOW + Duration::seconds(10);
    assert_eq!(
        sign_in(&db, "ann@acme.test", PASSWORD, "203.0.113.7", later)
            .await
            .unwrap(),
        SignIn::Signed(ann)
    );
}

/// Two server processes (two pools on one database) take ten tries at once: the limit holds,
/// since a try is counted before its password is checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_tries_from_two_processes_cannot_pass_the_limit() {
    let (test_db, db, _owner, _ann) = with_member().await;
    let other_process = test_db.open().await;
    let now = t0();
    let tries = (0..10).map(|i| {
        let db = if i % 2 == 0 {
            db.clone()
        } else {
            other_process.clone()
        };
        tokio::spawn(async move {
            let client = format!("10.1.0.{i}");
            sign_in(&db, "ann@acme.test", "wrong password", &client, now)
                .await
                .unwrap()
        })
    });
    let mut wrong = 0;
    for outcome in futures_util::future::join_all(tries).await {
        match outcome.unwrap() {
            SignIn::WrongCredentials => wrong += 1,
            SignIn::Throttled { .. } => {}
            SignIn::Signed(_) => panic!("signed in with a wrong password"),
        }
    }
    assert_eq!(wrong, 5);
}

#[tokio::test]
async fn a_successful_sign_in_does_not_count_against_its_client() {
    let (_t, db, _owner, ann) = with_member().await;
    for i in 0..31 {
        let at = t0() + Duration::seconds(i);
        assert_eq!(
            sign_in(&db, "ann@acme.test", PASSWORD, "192.0.2.1", at)
                .await
                .unwrap(),
            SignIn::Signed(ann)
        );
    }
}

#[tokio::test]
async fn sessions_live_and_end() {
    let (_t, db, _owner, ann) = with_member().await;
    let now = t0();
    let first = create_session(&db, ann, "Mozilla/5.0 \u{202e}evil\u{1b}[2J", now)
        .await
        .unwrap();
    assert!(first.cookie_value.starts_with("tls_"));
    assert_eq!(first.cookie_value.len(), 4 + 64);
    let seen = session(&db, &first.cookie_value, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.id, first.id);
    assert_eq!(seen.actor.user_id, ann);
    assert_eq!(seen.email, "ann@acme.test");
    assert_eq!(seen.role, UserRole::Member);
    assert_eq!(seen.csrf_token.len(), 64);
    assert!(seen.csrf_matches(&seen.csrf_token.clone()));
    let mut wrong = seen.csrf_token.clone();
    wrong.replace_range(63.., if wrong.ends_with('0') { "1" } else { "0" });
    assert!(!seen.csrf_matches(&wrong));
    assert!(!seen.csrf_matches(&seen.csrf_token[..63]));
    assert!(!seen.csrf_matches(""));
    assert_eq!(seen.language, None);
    assert_eq!(seen.created_at, now);
    // Unknown cookies.
    assert!(session(&db, "tls_0000", now).await.unwrap().is_none());
    assert!(session(&db, "", now).await.unwrap().is_none());
    let hash = threadline_crm::accounts::hash_token(&first.cookie_value);
    assert!(session(&db, &hash, now).await.unwrap().is_none());

    let second = create_session(&db, ann, &"x".repeat(500), now + Duration::minutes(1))
        .await
        .unwrap();
    let other = session(&db, &second.cookie_value, now)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(other.csrf_token, seen.csrf_token);
    let listed = list_sessions(&db, ann, now + Duration::minutes(2))
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![second.id, first.id],
        "newest first"
    );
    // The user agent: the refused characters dropped, at most 200 characters.
    assert_eq!(listed[1].user_agent, "Mozilla/5.0 evil[2J");
    assert_eq!(listed[0].user_agent, "x".repeat(200));

    end_session(&db, first.id, now + Duration::minutes(3))
        .await
        .unwrap();
    assert!(
        session(&db, &first.cookie_value, now + Duration::minutes(3))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        session(&db, &second.cookie_value, now + Duration::minutes(3))
            .await
            .unwrap()
            .is_some()
    );
    let third = create_session(&db, ann, "phone", now + Duration::minutes(4))
        .await
        .unwrap();
    assert_eq!(
        end_all_sessions(&db, ann, now + Duration::minutes(5))
            .await
            .unwrap(),
        2
    );
    for cookie in [&second.cookie_value, &third.cookie_value] {
        assert!(session(&db, cookie, now + Duration::minutes(5))
            .await
            .unwrap()
            .is_none());
    }
    assert!(list_sessions(&db, ann, now + Duration::minutes(5))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn sessions_time_out() {
    let (_t, db, _owner, ann) = with_member().await;
    let now = t0();
    let idle = create_session(&db, ann, "idle", now).await.unwrap();
    let nearly_idle = create_session(&db, ann, "nearly idle", now).await.unwrap();
    let busy = create_session(&db, ann, "busy", now).await.unwrap();
    // Used every 13 days: never idle for 14, until the absolute timeout.
    let mut at = now;
    while at + Duration::days(13) < now + ABSOLUTE_TIMEOUT {
        at += Duration::days(13);
        assert!(
            session(&db, &busy.cookie_value, at)
                .await
                .unwrap()
                .is_some(),
            "{at}"
        );
    }
    assert!(session(
        &db,
        &busy.cookie_value,
        now + ABSOLUTE_TIMEOUT - Duration::seconds(1)
    )
    .await
    .unwrap()
    .is_some());
    assert!(session(&db, &busy.cookie_value, now + ABSOLUTE_TIMEOUT)
        .await
        .unwrap()
        .is_none());
    // The others were last used at `now` (a look-up notes a use: one session each).
    assert!(session(
        &db,
        &nearly_idle.cookie_value,
        now + IDLE_TIMEOUT - Duration::seconds(1)
    )
    .await
    .unwrap()
    .is_some());
    assert!(session(&db, &idle.cookie_value, now + IDLE_TIMEOUT)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn last_seen_is_written_at_most_once_a_minute() {
    let (_t, db, _owner, ann) = with_member().await;
    let now = t0();
    let new = create_session(&db, ann, "a", now).await.unwrap();
    let last_seen = |at| {
        let db = db.clone();
        async move { list_sessions(&db, ann, at).await.unwrap()[0].last_seen_at }
    };
    session(&db, &new.cookie_value, now + Duration::seconds(59))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last_seen(now).await, now);
    session(&db, &new.cookie_value, now + Duration::seconds(61))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last_seen(now).await, now + Duration::seconds(61));
    // A use 13 days later keeps it alive 14 days from then.
    let later = now + Duration::days(13);
    session(&db, &new.cookie_value, later)
        .await
        .unwrap()
        .unwrap();
    assert!(session(&db, &new.cookie_value, later + Duration::days(13))
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn setting_the_password_ends_every_session() {
    let (_t, db, owner, ann) = with_member().await;
    let now = t0();
    let a = create_session(&db, ann, "a", now).await.unwrap();
    let b = create_session(&db, ann, "b", now).await.unwrap();
    let owners = create_session(&db, owner, "owner's", now).await.unwrap();
    assert_eq!(
        code(set_password(&db, ann, "too short", now).await.unwrap_err()),
        "weak_password"
    );
    assert!(session(&db, &a.cookie_value, now).await.unwrap().is_some());
    set_password(&db, ann, "a new long password", now)
        .await
        .unwrap();
    for cookie in [&a.cookie_value, &b.cookie_value] {
        assert!(session(&db, cookie, now).await.unwrap().is_none());
    }
    assert!(session(&db, &owners.cookie_value, now)
        .await
        .unwrap()
        .is_some());
    let at = now + Duration::seconds(1);
    assert_eq!(
        sign_in(&db, "ann@acme.test", PASSWORD, "10.0.0.1", at)
            .await
            .unwrap(),
        SignIn::WrongCredentials
    );
    assert_eq!(
        sign_in(&db, "ann@acme.test", "a new long password", "10.0.0.1", at)
            .await
            .unwrap(),
        SignIn::Signed(ann)
    );
    assert_eq!(
        code(
            set_password(&db, Uuid::nil(), PASSWORD, now)
                .await
                .unwrap_err()
        ),
        "no_such_user"
    );
}

#[tokio::test]
async fn language() {
    let (_t, db, _owner, ann) = with_member().await;
    let new = create_session(&db, ann, "a", t0()).await.unwrap();
    set_language(&db, ann, Some("nl")).await.unwrap();
    let seen = session(&db, &new.cookie_value, t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.language.as_deref(), Some("nl"));
    assert_eq!(
        code(set_language(&db, ann, Some("fr")).await.unwrap_err()),
        "invalid_field"
    );
    set_language(&db, ann, None).await.unwrap();
    let seen = session(&db, &new.cookie_value, t0())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.language, None);
    assert_eq!(
        code(set_language(&db, Uuid::nil(), None).await.unwrap_err()),
        "no_such_user"
    );
}

#[tokio::test]
async fn the_setup_link() {
    let (_t, db, owner) = started().await;
    let now = t0();
    let earlier = create_setup_link(&db, now).await.unwrap().unwrap();
    let token = create_setup_link(&db, now).await.unwrap().unwrap();
    assert!(
        token.starts_with("tll_") && token.len() == 4 + 64,
        "{token}"
    );
    // A new link revokes the earlier one.
    assert_eq!(link(&db, &earlier, now).await.unwrap(), None);
    let info = link(&db, &token, now).await.unwrap().unwrap();
    assert_eq!(info.purpose, LinkPurpose::Setup);
    assert_eq!(info.email.as_deref(), Some("owner@acme.test"));
    assert_eq!(info.org_name, accounts::DEFAULT_ORG_NAME);
    assert_eq!(info.inviter, None);
    assert_eq!(info.expires_at, now + SETUP_LINK_TTL);
    assert_eq!(
        code(
            redeem_setup_link(&db, &earlier, "me@acme.test", "Me", PASSWORD, now)
                .await
                .unwrap_err()
        ),
        "link_revoked"
    );
    assert_eq!(
        code(
            redeem_setup_link(&db, &token, "me@acme.test", "Me", "short", now)
                .await
                .unwrap_err()
        ),
        "weak_password"
    );
    assert_eq!(
        code(
            redeem_setup_link(&db, &token, "not an address", "Me", PASSWORD, now)
                .await
                .unwrap_err()
        ),
        "invalid_field"
    );
    let id = redeem_setup_link(&db, &token, "Mia@Acme.test", "Mia Owner", PASSWORD, now)
        .await
        .unwrap();
    assert_eq!(id, owner);
    let me = actor_of(&db, owner).await;
    assert_eq!(
        (me.email.as_str(), me.name.as_str()),
        ("mia@acme.test", "Mia Owner")
    );
    let mut conn = db.pool().acquire().await.unwrap();
    assert_eq!(
        accounts::own_addresses(&mut conn, owner).await.unwrap(),
        vec!["mia@acme.test".to_string()]
    );
    drop(conn);
    assert_eq!(
        sign_in(&db, "Mia@acme.test", PASSWORD, "10.0.0.1", now)
            .await
            .unwrap(),
        SignIn::Signed(owner)
    );
    // Once only; and no new link once the owner has a password.
    assert_eq!(
        code(
            redeem_setup_link(&db, &token, "x@acme.test", "X", PASSWORD, now)
                .await
                .unwrap_err()
        ),
        "link_used"
    );
    assert_eq!(link(&db, &token, now).await.unwrap(), None);
    assert_eq!(create_setup_link(&db, now).await.unwrap(), None);
    assert_eq!(
        code(
            redeem_setup_link(&db, "tll_unknown", "x@acme.test", "X", PASSWORD, now)
                .await
                .unwrap_err()
        ),
        "link_not_found"
    );
}

#[tokio::test]
async fn a_setup_link_expires() {
    let (_t, db, _owner) = started().await;
    let now = t0();
    let token = create_setup_link(&db, now).await.unwrap().unwrap();
    let end = now + SETUP_LINK_TTL;
    assert!(link(&db, &token, end - Duration::seconds(1))
        .await
        .unwrap()
        .is_some());
    assert_eq!(link(&db, &token, end).await.unwrap(), None);
    assert_eq!(
        code(
            redeem_setup_link(&db, &token, "me@acme.test", "Me", PASSWORD, end)
                .await
                .unwrap_err()
        ),
        "link_expired"
    );
}

#[tokio::test]
async fn no_setup_link_before_the_first_start() {
    let test_db = TestDatabase::create();
    let db = test_db.open().await;
    assert_eq!(create_setup_link(&db, t0()).await.unwrap(), None);
}

#[tokio::test]
async fn invitations() {
    let (_t, db, owner, ann) = with_member().await;
    let now = t0();
    let owner_actor = actor_of(&db, owner).await;
    let ann_actor = actor_of(&db, ann).await;
    // Owners only.
    let refused = invite(&db, &ann_actor, "bob@acme.test", UserRole::Member, now)
        .await
        .unwrap_err();
    assert_eq!(refused.reason(), Some(Reason::Forbidden));
    assert_eq!(code(refused), "owner_only");
    assert_eq!(
        code(pending_invitations(&db, &ann_actor, now).await.unwrap_err()),
        "owner_only"
    );
    // Not someone who has an account already.
    let refused = invite(&db, &owner_actor, "ann@ACME.test", UserRole::Member, now)
        .await
        .unwrap_err();
    assert_eq!(refused.reason(), Some(Reason::Conflict));
    assert_eq!(code(refused), "already_a_user");

    let (id, token) = invite(&db, &owner_actor, "Bob@Acme.test", UserRole::Member, now)
        .await
        .unwrap();
    let info = link(&db, &token, now).await.unwrap().unwrap();
    assert_eq!(
        info.purpose,
        LinkPurpose::Invitation {
            role: UserRole::Member
        }
    );
    assert_eq!(info.email.as_deref(), Some("bob@acme.test"));
    assert_eq!(info.inviter.as_deref(), Some(accounts::OWNER_NAME));
    assert_eq!(info.expires_at, now + INVITATION_TTL);
    let pending = pending_invitations(&db, &owner_actor, now).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (pending[0].id, pending[0].email.as_str()),
        (id, "bob@acme.test")
    );
    assert_eq!(
        code(
            revoke_invitation(&db, &ann_actor, id, now)
                .await
                .unwrap_err()
        ),
        "owner_only"
    );

    let bob = accept_invitation(&db, &token, "Bob", PASSWORD, now)
        .await
        .unwrap();
    let bob_actor = actor_of(&db, bob).await;
    assert_eq!(bob_actor.org_id, owner_actor.org_id);
    assert_eq!(bob_actor.email, "bob@acme.test");
    let mut conn = db.pool().acquire().await.unwrap();
    assert_eq!(
        accounts::role(&mut conn, bob).await.unwrap(),
        UserRole::Member
    );
    drop(conn);
    assert_eq!(
        sign_in(&db, "bob@acme.test", PASSWORD, "10.0.0.1", now)
            .await
            .unwrap(),
        SignIn::Signed(bob)
    );
    // Once only.
    assert_eq!(
        code(
            accept_invitation(&db, &token, "Bob", PASSWORD, now)
                .await
                .unwrap_err()
        ),
        "link_used"
    );
    assert!(pending_invitations(&db, &owner_actor, now)
        .await
        .unwrap()
        .is_empty());
    // A setup link is not an invitation, nor the reverse.
    assert_eq!(
        code(
            redeem_setup_link(&db, &token, "x@acme.test", "X", PASSWORD, now)
                .await
                .unwrap_err()
        ),
        "link_not_found"
    );
}

#[tokio::test]
async fn an_invited_owner_is_an_owner() {
    let (_t, db, owner, _ann) = with_member().await;
    let now = t0();
    let owner_actor = actor_of(&db, owner).await;
    let (_, token) = invite(&db, &owner_actor, "co@acme.test", UserRole::Owner, now)
        .await
        .unwrap();
    let co = accept_invitation(&db, &token, "Co", PASSWORD, now)
        .await
        .unwrap();
    let mut conn = db.pool().acquire().await.unwrap();
    assert_eq!(
        accounts::role(&mut conn, co).await.unwrap(),
        UserRole::Owner
    );
    drop(conn);
    // And may invite in turn.
    let co_actor = actor_of(&db, co).await;
    invite(&db, &co_actor, "dee@acme.test", UserRole::Member, now)
        .await
        .unwrap();
}

#[tokio::test]
async fn revoked_and_expired_invitations_are_refused() {
    let (_t, db, owner) = started().await;
    let now = t0();
    let owner_actor = actor_of(&db, owner).await;
    let (id, revoked) = invite(&db, &owner_actor, "bob@acme.test", UserRole::Member, now)
        .await
        .unwrap();
    revoke_invitation(&db, &owner_actor, id, now).await.unwrap();
    assert_eq!(link(&db, &revoked, now).await.unwrap(), None);
    assert_eq!(
        code(
            accept_invitation(&db, &revoked, "Bob", PASSWORD, now)
                .await
                .unwrap_err()
        ),
        "link_revoked"
    );
    assert_eq!(
        code(
            revoke_invitation(&db, &owner_actor, id, now)
                .await
                .unwrap_err()
        ),
        "not_found"
    );

    // Inviting the same address again replaces the pending invitation.
    let (_, first) = invite(&db, &owner_actor, "cat@acme.test", UserRole::Member, now)
        .await
        .unwrap();
    let (second_id, second) = invite(&db, &owner_actor, "cat@acme.test", UserRole::Member, now)
        .await
        .unwrap();
    assert_eq!(link(&db, &first, now).await.unwrap(), None);
    let pending = pending_invitations(&db, &owner_actor, now).await.unwrap();
    assert_eq!(
        pending.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![second_id]
    );

    let end = now + INVITATION_TTL;
    assert!(pending_invitations(&db, &owner_actor, end)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        code(
            accept_invitation(&db, &second, "Cat", PASSWORD, end)
                .await
                .unwrap_err()
        ),
        "link_expired"
    );
    // Nothing was created.
    let mut conn = db.pool().acquire().await.unwrap();
    assert!(accounts::user_id_by_email(&mut conn, "cat@acme.test")
        .await
        .is_err());
}

#[tokio::test]
async fn an_invitation_meets_an_address_that_got_an_account_meanwhile() {
    let (_t, db, owner) = started().await;
    let now = t0();
    let owner_actor = actor_of(&db, owner).await;
    let (_, token) = invite(&db, &owner_actor, "bob@acme.test", UserRole::Member, now)
        .await
        .unwrap();
    accounts::add_user(&db, OrgChoice::Default, "bob@acme.test", "Bob", &[])
        .await
        .unwrap();
    assert_eq!(
        code(
            accept_invitation(&db, &token, "Bob", PASSWORD, now)
                .await
                .unwrap_err()
        ),
        "already_a_user"
    );
}
