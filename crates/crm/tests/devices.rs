//! The extension's sign-in model (`threadline_crm::accounts::devices`): a device code is
//! used once, within its minute, only with its verifier and redirect URI; it becomes a
//! device token listed and revoked as the user's own. Each test has its own database, on
//! the engine the environment picks. The clock is the `now` each call is given.

use chrono::{DateTime, Duration, TimeZone, Utc};
use threadline_crm::accounts::devices::{
    challenge_of, exchange_device_code, issue_device_code, revoke_own_token, tokens_of, TokenKind,
    DEVICE_CODE_TTL,
};
use threadline_crm::accounts::{self, Bootstrap, OrgChoice};
use threadline_crm::{actor, Actor, CrmError};
use threadline_storage::db::Db;
use threadline_storage::testing::TestDatabase;

const CHROME: &str = "https://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/";
const FIREFOX: &str = "https://0123456789abcdef0123456789abcdef01234567.extensions.allizom.org/";
const VERIFIER: &str = "a-verifier-of-forty-three-characters-or-more.0123456789";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn code(e: CrmError) -> &'static str {
    e.code().unwrap_or_else(|| panic!("not a refusal: {e}"))
}

async fn owner() -> (TestDatabase, Db, Actor) {
    let test_db = TestDatabase::create();
    let db = test_db.open().await;
    let Bootstrap::Created(owner) = accounts::bootstrap(&db, "owner@acme.test").await.unwrap()
    else {
        panic!("a new database")
    };
    let mut conn = db.pool().acquire().await.unwrap();
    let actor = actor::of_user(&mut conn, owner.id).await.unwrap().unwrap();
    (test_db, db, actor)
}

async fn issue(db: &Db, actor: &Actor, redirect_uri: &str, now: DateTime<Utc>) -> String {
    issue_device_code(
        db,
        actor,
        redirect_uri,
        &challenge_of(VERIFIER),
        "Chrome",
        now,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_code_becomes_a_device_token_once() {
    let (_t, db, actor) = owner().await;
    let c = issue(&db, &actor, CHROME, t0()).await;
    assert!(c.starts_with("tlc_"));
    let made = exchange_device_code(&db, &c, VERIFIER, Some(CHROME), t0() + Duration::seconds(5))
        .await
        .unwrap();
    assert_eq!(made.device, "Chrome");
    assert!(made.token.starts_with("tl_"));
    // Single use.
    let again = exchange_device_code(&db, &c, VERIFIER, None, t0() + Duration::seconds(6))
        .await
        .unwrap_err();
    assert_eq!(code(again), "invalid_code");

    // Listed as a device of the user, and revoked as their own token.
    let mut conn = db.pool().acquire().await.unwrap();
    let tokens = tokens_of(&mut conn, actor.user_id, None).await.unwrap();
    let device = tokens.iter().find(|t| t.id == made.id).unwrap();
    assert_eq!(
        (device.kind, device.name.as_str()),
        (TokenKind::Device, "Chrome")
    );
    assert!(tokens
        .iter()
        .any(|t| t.kind == TokenKind::Personal && t.id != made.id));
    revoke_own_token(&db, &actor, made.id).await.unwrap();
    let device = tokens_of(&mut conn, actor.user_id, Some(made.id))
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert!(device.revoked_at.is_some());
}

#[tokio::test]
async fn a_code_expires_after_its_minute() {
    let (_t, db, actor) = owner().await;
    let c = issue(&db, &actor, FIREFOX, t0()).await;
    let late = exchange_device_code(&db, &c, VERIFIER, None, t0() + DEVICE_CODE_TTL)
        .await
        .unwrap_err();
    assert_eq!(code(late), "invalid_code");
    let c = issue(&db, &actor, FIREFOX, t0()).await;
    exchange_device_code(
        &db,
        &c,
        VERIFIER,
        None,
        t0() + DEVICE_CODE_TTL - Duration::seconds(1),
    )
    .await
    .unwrap();
}

/// The refusal's code of trading `c` with `verifier` (and `redirect_uri`) at `t0`.
async fn refusal(db: &Db, c: &str, verifier: &str, redirect_uri: Option<&str>) -> &'static str {
    code(
        exchange_device_code(db, c, verifier, redirect_uri, t0())
            .await
            .unwrap_err(),
    )
}

#[tokio::test]
async fn a_wrong_verifier_or_redirect_uri_spends_the_code() {
    let (_t, db, actor) = owner().await;
    let c = issue(&db, &actor, CHROME, t0()).await;
    let wrong = "another-verifier-of-forty-three-characters-or-more.01234";
    assert_eq!(refusal(&db, &c, wrong, None).await, "invalid_code");
    // The right verifier after a wrong one: the code is spent.
    assert_eq!(refusal(&db, &c, VERIFIER, None).await, "invalid_code");
    let c = issue(&db, &actor, CHROME, t0()).await;
    assert_eq!(
        refusal(&db, &c, VERIFIER, Some(FIREFOX)).await,
        "invalid_code"
    );
    assert_eq!(
        refusal(&db, &c, VERIFIER, Some(CHROME)).await,
        "invalid_code"
    );
    // Unknown codes and malformed verifiers say the same.
    assert_eq!(
        refusal(&db, "tlc_nope", VERIFIER, None).await,
        "invalid_code"
    );
    let c = issue(&db, &actor, CHROME, t0()).await;
    assert_eq!(refusal(&db, &c, "short", None).await, "invalid_code");
}

#[tokio::test]
async fn only_an_extensions_redirect_uri_gets_a_code() {
    let (_t, db, actor) = owner().await;
    let challenge = challenge_of(VERIFIER);
    for bad in [
        "https://evil.example/",
        "https://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/callback",
        "http://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/",
        "chrome-extension://abcdefghijklmnopabcdefghijklmnop/options.html",
    ] {
        let refused = issue_device_code(&db, &actor, bad, &challenge, "Chrome", t0())
            .await
            .unwrap_err();
        assert_eq!(code(refused), "invalid_redirect_uri", "{bad}");
    }
    let refused = issue_device_code(&db, &actor, CHROME, "plain", "Chrome", t0())
        .await
        .unwrap_err();
    assert_eq!(code(refused), "invalid_field");
    let refused = issue_device_code(&db, &actor, CHROME, &challenge, "Chrome\u{202e}", t0())
        .await
        .unwrap_err();
    assert_eq!(code(refused), "invalid_field");
}

#[tokio::test]
async fn a_user_revokes_only_their_own_tokens() {
    let (_t, db, owner) = owner().await;
    let ann = accounts::add_user(&db, OrgChoice::Default, "ann@acme.test", "Ann", &[])
        .await
        .unwrap();
    let refused = revoke_own_token(&db, &owner, ann.token.id)
        .await
        .unwrap_err();
    assert_eq!(code(refused), "not_found");
    let mut conn = db.pool().acquire().await.unwrap();
    let still = tokens_of(&mut conn, ann.id, None).await.unwrap();
    assert!(still.iter().all(|t| t.revoked_at.is_none()));
}
