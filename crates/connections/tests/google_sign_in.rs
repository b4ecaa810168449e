//! Sign in with Google (`oauth::sign_in`): the ID token's checks, each refusal on its own,
//! and the flows until their callback (good once, from the browser that started them).
//! The tokens are signed here with test keys (`tests/data/`): `google_signing_key.pem` plays
//! Google's published key, `other_signing_key.pem` a key Google does not publish.

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use threadline_connections::oauth::google::{GoogleConfig, GoogleEndpoints};
use threadline_connections::oauth::sign_in::{self, verify_id_token, Refusal, Taken};
use threadline_connections::oauth::OAuth;
use threadline_crm::accounts::sha256_hex;
use threadline_storage::secrets::{new_key_line, ExposeSecret, Keyring, SecretString};
use threadline_storage::testing::TestDatabase;

const CLIENT_ID: &str = "client-1.apps.googleusercontent.com";
const NONCE: &str = "n-0S6_WzA2Mj";
const NOW: i64 = 1_780_000_000;
const KID: &str = "google-key-1";

fn key(pem: &str) -> EncodingKey {
    EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()
}

fn google_key() -> EncodingKey {
    key(include_str!("data/google_signing_key.pem"))
}

fn other_key() -> EncodingKey {
    key(include_str!("data/other_signing_key.pem"))
}

/// Google's JWKS: its key under [`KID`].
fn jwks() -> JwkSet {
    let mut jwk = Jwk::from_encoding_key(&google_key(), Algorithm::RS256).unwrap();
    jwk.common.key_id = Some(KID.into());
    JwkSet { keys: vec![jwk] }
}

/// The claims of a good token, as Google issues them.
fn claims() -> Value {
    json!({
        "iss": "https://accounts.google.com",
        "azp": CLIENT_ID,
        "aud": CLIENT_ID,
        "sub": "110169484474386276334",
        "email": "ann@gmail.com",
        "email_verified": true,
        "name": "Ann",
        "nonce": NONCE,
        "iat": NOW - 10,
        "exp": NOW + 3590,
    })
}

fn sign(claims: &Value, key: &EncodingKey, kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

fn verify(token: &str) -> Result<sign_in::Verified, Refusal> {
    verify_id_token(
        token,
        &jwks(),
        CLIENT_ID,
        &sha256_hex(NONCE.as_bytes()),
        NOW,
    )
}

fn with(change: impl FnOnce(&mut Value)) -> String {
    let mut c = claims();
    change(&mut c);
    sign(&c, &google_key(), KID)
}

#[test]
fn a_good_token_says_who_the_account_is() {
    let verified = verify(&with(|_| {})).unwrap();
    assert_eq!(verified.identity.sub, "110169484474386276334");
    assert_eq!(verified.identity.email, "ann@gmail.com");
    assert!(verified.identity.email_verified);
    assert_eq!(verified.identity.hosted_domain, None);
    assert_eq!(verified.name.as_deref(), Some("Ann"));
    // Google's other spelling of its issuer, a Workspace account's `hd`, and
    // `email_verified` as the string some answers have.
    let verified = verify(&with(|c| {
        c["iss"] = json!("accounts.google.com");
        c["hd"] = json!("acme.test");
        c["email_verified"] = json!("true");
    }))
    .unwrap();
    assert_eq!(
        verified.identity.hosted_domain.as_deref(),
        Some("acme.test")
    );
}

#[test]
fn a_token_signed_by_another_key_is_refused() {
    // The other key under Google's kid: the signature does not hold.
    assert_eq!(
        verify(&sign(&claims(), &other_key(), KID)),
        Err(Refusal::Signature)
    );
    // Under a kid Google does not publish.
    assert_eq!(
        verify(&sign(&claims(), &other_key(), "k2")),
        Err(Refusal::UnknownKey)
    );
    // A token altered after signing.
    let token = with(|_| {});
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    let other = with(|c| c["email"] = json!("mallory@gmail.com"));
    parts[1] = other.split('.').nth(1).unwrap().to_string();
    assert_eq!(verify(&parts.join(".")), Err(Refusal::Signature));
    // Not RS256 (an HMAC "signed" with anything).
    let hs = jsonwebtoken::encode(
        &Header {
            kid: Some(KID.into()),
            ..Header::new(Algorithm::HS256)
        },
        &claims(),
        &EncodingKey::from_secret(b"guess"),
    )
    .unwrap();
    assert_eq!(verify(&hs), Err(Refusal::Signature));
    assert_eq!(verify("not a token"), Err(Refusal::Malformed));
}

#[test]
fn a_token_for_another_client_or_from_another_issuer_is_refused() {
    assert_eq!(
        verify(&with(
            |c| c["aud"] = json!("someone-else.apps.googleusercontent.com")
        )),
        Err(Refusal::Audience)
    );
    assert_eq!(
        verify(&with(|c| c["iss"] = json!("https://accounts.example.com"))),
        Err(Refusal::Issuer)
    );
}

#[test]
fn an_expired_or_future_token_is_refused_beyond_the_leeway() {
    let leeway = sign_in::LEEWAY_SECS;
    assert_eq!(
        verify(&with(|c| c["exp"] = json!(NOW - leeway - 1))),
        Err(Refusal::Expired)
    );
    verify(&with(|c| c["exp"] = json!(NOW - leeway + 1))).unwrap();
    assert_eq!(
        verify(&with(|c| c["iat"] = json!(NOW + leeway + 1))),
        Err(Refusal::NotYetValid)
    );
}

#[test]
fn a_token_of_another_sign_in_or_with_an_unverified_address_is_refused() {
    assert_eq!(
        verify(&with(|c| c["nonce"] = json!("other"))),
        Err(Refusal::Nonce)
    );
    assert_eq!(
        verify(&with(|c| {
            c.as_object_mut().unwrap().remove("nonce");
        })),
        Err(Refusal::Nonce)
    );
    assert_eq!(
        verify(&with(|c| c["email_verified"] = json!(false))),
        Err(Refusal::EmailNotVerified)
    );
    assert_eq!(
        verify(&with(|c| {
            c.as_object_mut().unwrap().remove("email_verified");
        })),
        Err(Refusal::EmailNotVerified)
    );
}

fn oauth() -> OAuth {
    OAuth::with_google(GoogleConfig {
        client_id: CLIENT_ID.into(),
        client_secret: SecretString::from("secret".to_string()),
        redirect_url: "http://127.0.0.1:8787/oauth/google/callback"
            .parse()
            .unwrap(),
        endpoints: GoogleEndpoints::all_at("http://127.0.0.1:9").unwrap(),
    })
    .unwrap()
}

fn state_of(url: &url::Url, name: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no {name} in the authorization URL"))
}

#[tokio::test]
async fn a_flow_is_good_once_and_only_in_the_browser_that_started_it() {
    let test_db = TestDatabase::create();
    let db = test_db.open().await;
    let keys = Keyring::parse(&new_key_line().unwrap(), "test keys").unwrap();
    let oauth = oauth();
    let google = oauth.google().unwrap();
    let mut conn = db.pool().acquire().await.unwrap();

    let started = sign_in::start(&mut conn, &keys, google, None)
        .await
        .unwrap();
    let url = &started.authorization_url;
    assert_eq!(state_of(url, "scope"), "openid email profile");
    assert_eq!(state_of(url, "code_challenge_method"), "S256");
    assert_eq!(
        state_of(url, "redirect_uri"),
        "http://127.0.0.1:8787/sign-in/google/callback"
    );
    let nonce = state_of(url, "nonce");
    let state = SecretString::from(state_of(url, "state"));
    let cookie = started.browser_secret.expose_secret().to_string();

    let Taken::Found(flow) = sign_in::take(&mut conn, &keys, &state, Some(&cookie))
        .await
        .unwrap()
    else {
        panic!("the flow")
    };
    assert_eq!(flow.nonce_hash, sha256_hex(nonce.as_bytes()));
    assert_eq!(flow.session_id, None);
    // Replayed: the state is good once.
    assert!(matches!(
        sign_in::take(&mut conn, &keys, &state, Some(&cookie))
            .await
            .unwrap(),
        Taken::Unknown
    ));

    // Another browser (no cookie, or another's) finishes nothing, and spends the flow.
    let started = sign_in::start(&mut conn, &keys, google, None)
        .await
        .unwrap();
    let state = SecretString::from(state_of(&started.authorization_url, "state"));
    assert!(matches!(
        sign_in::take(&mut conn, &keys, &state, Some("someone else's"))
            .await
            .unwrap(),
        Taken::OtherBrowser
    ));
    let cookie = started.browser_secret.expose_secret().to_string();
    assert!(matches!(
        sign_in::take(&mut conn, &keys, &state, Some(&cookie))
            .await
            .unwrap(),
        Taken::Unknown
    ));

    // Too late.
    let started = sign_in::start(&mut conn, &keys, google, None)
        .await
        .unwrap();
    let state = SecretString::from(state_of(&started.authorization_url, "state"));
    sqlx::query("UPDATE google_sign_ins SET expires_at = '2000-01-01T00:00:00.000000Z'")
        .execute(&mut *conn)
        .await
        .unwrap();
    let cookie = started.browser_secret.expose_secret().to_string();
    assert!(matches!(
        sign_in::take(&mut conn, &keys, &state, Some(&cookie))
            .await
            .unwrap(),
        Taken::Expired
    ));
}
