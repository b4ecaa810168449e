//! Sign in with Google: OpenID Connect's authorization code flow on the server's Google
//! client (the integrations' client: one client, two redirect URIs).
//!
//! - [`start`]: a new flow — random `state`, `nonce` and PKCE verifier (S256), scopes
//!   `openid email profile` — stored until the callback (table `google_sign_ins`, migration
//!   0026): the SHA-256 of the state, of the nonce and of a cookie secret given to the
//!   browser that started it; the verifier encrypted at rest. When a signed-in user links
//!   their Google account from Settings, the flow remembers their session.
//! - [`take`]: the callback's flow by its state, deleted at once (good once), refused after
//!   [`LIFETIME`] or from another browser than the one that started it (a sign-in link sent to
//!   someone else signs them into nothing, and cannot sign them into the sender's account).
//! - [`verify_id_token`]: the ID token's checks, pure (the keys and the time are given): an
//!   RS256 signature by a key of Google's JWKS named by the token's `kid`; `iss`
//!   ([`ISSUERS`]); `aud` the client id; `exp` and `iat` within [`LEEWAY_SECS`]; the `nonce`
//!   of the flow; a verified address (`email_verified`). [`KeyCache`] fetches the keys from
//!   the discovery document's `jwks_uri` and keeps them by `kid`, fetching again for a key it
//!   does not know (Google rotates its keys) at most every [`REFETCH_AFTER`].
//!
//! The ID token comes straight from Google's token endpoint over TLS, which OpenID Connect
//! lets a client trust for the signature; it is verified all the same (a misconfigured
//! endpoint, a proxy). Never logged: the state, nonce, verifier, code or token.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use oauth2::CsrfToken;
use serde::{Deserialize, Serialize};
use url::Url;
use uuid::Uuid;

use super::Error;
use threadline_crm::accounts::google::GoogleIdentity;
use threadline_crm::accounts::sha256_hex;
use threadline_storage::db::{self, id_text, Conn};
use threadline_storage::secrets::{ExposeSecret, Keyring, SecretString, Slot};

/// What a sign-in asks Google for: who the account is, its address and its name.
pub const SCOPES: &[&str] = &["openid", "email", "profile"];
/// Where Google sends the browser back after a sign-in (beside the sign-in page).
pub const CALLBACK_PATH: &str = "/sign-in/google/callback";
/// The issuers of Google's ID tokens, as its OpenID Connect documentation lists them.
pub const ISSUERS: [&str; 2] = ["https://accounts.google.com", "accounts.google.com"];
/// How far `exp` and `iat` may be off (the clocks of two machines).
pub const LEEWAY_SECS: i64 = 60;
/// How long a started sign-in may take.
pub const LIFETIME: chrono::Duration = chrono::Duration::minutes(10);
/// Keys are fetched again for an unknown `kid` at most this often, and all of them after
/// [`KEYS_LIFETIME`].
pub const REFETCH_AFTER: Duration = Duration::from_secs(30);
pub const KEYS_LIFETIME: Duration = Duration::from_secs(3600);

const TABLE: &str = "google_sign_ins";
const VERIFIER: &str = "pkce_verifier";

/// The token endpoint's extra field of an OpenID Connect answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenFields {
    pub id_token: Option<String>,
}

impl oauth2::ExtraTokenFields for IdTokenFields {}

/// Why an ID token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the ID token cannot be read")]
    Malformed,
    #[error("the ID token is signed by a key Google does not publish")]
    UnknownKey,
    #[error("the ID token's signature is wrong")]
    Signature,
    #[error("the ID token is not Google's (iss)")]
    Issuer,
    #[error("the ID token is for another client (aud)")]
    Audience,
    #[error("the ID token has expired")]
    Expired,
    #[error("the ID token is issued in the future")]
    NotYetValid,
    #[error("the ID token is not this sign-in's (nonce)")]
    Nonce,
    #[error("Google has not verified the account's address")]
    EmailNotVerified,
}

/// A verified ID token: who the account is, and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub identity: GoogleIdentity,
    pub name: Option<String>,
}

/// `email_verified`: a JSON boolean; some of Google's older answers have the string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Flag {
    Bool(bool),
    Text(String),
}

impl Flag {
    fn is_true(&self) -> bool {
        match self {
            Flag::Bool(b) => *b,
            Flag::Text(t) => t == "true",
        }
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    email: Option<String>,
    email_verified: Option<Flag>,
    name: Option<String>,
    hd: Option<String>,
    nonce: Option<String>,
    iat: i64,
    exp: i64,
}

/// The checks of an ID token (see the module's documentation), `now` in seconds since the
/// epoch. `nonce_hash` is the SHA-256 (hex) of the flow's nonce.
pub fn verify_id_token(
    token: &str,
    keys: &JwkSet,
    client_id: &str,
    nonce_hash: &str,
    now: i64,
) -> Result<Verified, Refusal> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| Refusal::Malformed)?;
    if header.alg != Algorithm::RS256 {
        return Err(Refusal::Signature);
    }
    let jwk = header
        .kid
        .as_deref()
        .and_then(|kid| keys.find(kid))
        .ok_or(Refusal::UnknownKey)?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| Refusal::UnknownKey)?;
    let mut validation = Validation::new(Algorithm::RS256);
    // The times are checked below against the given `now`.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_required_spec_claims(&["iss", "aud", "sub"]);
    validation.set_audience(&[client_id]);
    validation.set_issuer(&ISSUERS);
    let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => Refusal::Signature,
                ErrorKind::InvalidIssuer => Refusal::Issuer,
                ErrorKind::InvalidAudience => Refusal::Audience,
                _ => Refusal::Malformed,
            }
        })?
        .claims;
    if now > claims.exp + LEEWAY_SECS {
        return Err(Refusal::Expired);
    }
    if claims.iat > now + LEEWAY_SECS {
        return Err(Refusal::NotYetValid);
    }
    let nonce_ok = claims
        .nonce
        .as_deref()
        .is_some_and(|n| sha256_hex(n.as_bytes()) == nonce_hash);
    if !nonce_ok {
        return Err(Refusal::Nonce);
    }
    let verified = claims.email_verified.as_ref().is_some_and(Flag::is_true);
    let Some(email) = claims.email.filter(|_| verified) else {
        return Err(Refusal::EmailNotVerified);
    };
    Ok(Verified {
        identity: GoogleIdentity {
            sub: claims.sub,
            email,
            email_verified: verified,
            hosted_domain: claims.hd,
        },
        name: claims.name,
    })
}

/// Google's signing keys, fetched from the discovery document's `jwks_uri` and kept by
/// `kid` (one per process, in Google's client).
pub struct KeyCache {
    discovery_url: Url,
    cached: tokio::sync::Mutex<Option<(Instant, Arc<JwkSet>)>>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl KeyCache {
    pub fn new(discovery_url: Url) -> KeyCache {
        KeyCache {
            discovery_url,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// The keys, with the one named `kid` if Google publishes it.
    pub async fn keys(
        &self,
        http: &reqwest::Client,
        kid: Option<&str>,
    ) -> Result<Arc<JwkSet>, Error> {
        let mut cached = self.cached.lock().await;
        if let Some((at, keys)) = cached.as_ref() {
            let known = kid.is_some_and(|kid| keys.find(kid).is_some());
            let age = at.elapsed();
            if age < KEYS_LIFETIME && (known || age < REFETCH_AFTER) {
                return Ok(keys.clone());
            }
        }
        let keys = Arc::new(self.fetch(http).await?);
        *cached = Some((Instant::now(), keys.clone()));
        Ok(keys)
    }

    async fn fetch(&self, http: &reqwest::Client) -> Result<JwkSet, Error> {
        let discovery: Discovery = get_json(http, &self.discovery_url).await?;
        if !ISSUERS[..1].contains(&discovery.issuer.as_str()) {
            return Err(Error::Refused(format!(
                "Google's discovery document names another issuer ({})",
                discovery.issuer
            )));
        }
        let jwks_uri = Url::parse(&discovery.jwks_uri)
            .ok()
            .filter(super::client::may_carry_secrets)
            .ok_or_else(|| {
                Error::Refused("Google's discovery document has no usable jwks_uri".into())
            })?;
        get_json(http, &jwks_uri).await
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &Url,
) -> Result<T, Error> {
    let endpoint = super::endpoint_of(url);
    let response = http
        .get(url.clone())
        .send()
        .await
        .map_err(|e| super::HttpFailure::network(&endpoint, &e).into_transient())?;
    let status = response.status();
    if !status.is_success() {
        return Err(super::HttpFailure::Status {
            endpoint,
            status: status.as_u16(),
            retry_after: super::retry_after(response.headers()),
        }
        .into_transient());
    }
    response
        .json()
        .await
        .map_err(|_| Error::Refused(format!("{endpoint} answered what cannot be read")))
}

/// A started sign-in: send the browser to `authorization_url` with `browser_secret` in an
/// HttpOnly cookie.
#[derive(Debug)]
pub struct Started {
    pub authorization_url: Url,
    pub browser_secret: SecretString,
    pub expires_at: DateTime<Utc>,
}

/// A new random secret: 32 bytes, base64url.
fn new_secret() -> SecretString {
    SecretString::from(CsrfToken::new_random_len(32).secret().clone())
}

fn hash(secret: &SecretString) -> String {
    sha256_hex(secret.expose_secret().as_bytes())
}

fn slot(id: Uuid) -> Slot<'static> {
    Slot {
        table: TABLE,
        row_id: id,
        field: VERIFIER,
    }
}

/// Stores a new sign-in (and deletes the old ones) for the authorization `google` makes;
/// `session` is the signed-in user's session when they link their account from Settings.
pub async fn start(
    conn: &mut Conn,
    keys: &Keyring,
    google: &super::google::Google,
    session: Option<Uuid>,
) -> Result<Started, crate::Error> {
    let now = Utc::now();
    sqlx::query(&format!("DELETE FROM {TABLE} WHERE expires_at < $1"))
        .bind(db::format_time(now - chrono::Duration::hours(1)))
        .execute(&mut *conn)
        .await?;
    let nonce = new_secret();
    let authorization = google.sign_in_authorization(nonce.expose_secret());
    let id = db::new_id();
    let browser_secret = new_secret();
    let expires_at = now + LIFETIME;
    sqlx::query(&format!(
        "INSERT INTO {TABLE} (id, state_hash, nonce_hash, browser_hash, pkce_verifier,
             redirect_url, session_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(id_text(id))
    .bind(hash(&authorization.state))
    .bind(hash(&nonce))
    .bind(hash(&browser_secret))
    .bind(keys.seal(&authorization.pkce_verifier, slot(id))?)
    .bind(&authorization.redirect_url)
    .bind(session.map(id_text))
    .bind(db::format_time(now))
    .bind(db::format_time(expires_at))
    .execute(&mut *conn)
    .await?;
    Ok(Started {
        authorization_url: authorization.url,
        browser_secret,
        expires_at,
    })
}

/// A sign-in found by its state, for the code exchange and the ID token's checks.
#[derive(Debug)]
pub struct Flow {
    pub pkce_verifier: SecretString,
    pub redirect_url: String,
    /// The SHA-256 (hex) of the nonce the ID token must carry.
    pub nonce_hash: String,
    /// Linking from Settings: the session that asked (still signed in).
    pub session_id: Option<Uuid>,
}

/// What [`take`] found.
#[derive(Debug)]
pub enum Taken {
    Found(Flow),
    /// Too old (deleted now).
    Expired,
    /// Started in another browser (deleted now: a sign-in is good once).
    OtherBrowser,
    /// No such state: never issued, used already, or purged.
    Unknown,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    nonce_hash: String,
    browser_hash: String,
    pkce_verifier: String,
    redirect_url: String,
    session_id: Option<String>,
    expires_at: String,
    /// 1 when the linking session has ended since.
    session_ended: i64,
}

/// Finds the sign-in of `state` and deletes it (in the caller's write transaction: of two
/// callbacks with one state, one finds it); `browser_secret` is the cookie the browser
/// brought.
pub async fn take(
    conn: &mut Conn,
    keys: &Keyring,
    state: &SecretString,
    browser_secret: Option<&str>,
) -> Result<Taken, crate::Error> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT g.id, g.nonce_hash, g.browser_hash, g.pkce_verifier, g.redirect_url,
             g.session_id, g.expires_at,
             CASE WHEN g.session_id IS NOT NULL AND (s.id IS NULL OR s.ended_at IS NOT NULL)
                 THEN 1 ELSE 0 END AS session_ended
         FROM {TABLE} g LEFT JOIN web_sessions s ON s.id = g.session_id
         WHERE g.state_hash = $1"
    ))
    .bind(hash(state))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(Taken::Unknown);
    };
    let deleted = sqlx::query(&format!("DELETE FROM {TABLE} WHERE id = $1"))
        .bind(&row.id)
        .execute(&mut *conn)
        .await?;
    if deleted.rows_affected() != 1 {
        return Ok(Taken::Unknown);
    }
    if db::parse_time(&row.expires_at)? <= Utc::now() || row.session_ended != 0 {
        return Ok(Taken::Expired);
    }
    let same_browser =
        browser_secret.is_some_and(|secret| sha256_hex(secret.as_bytes()) == row.browser_hash);
    if !same_browser {
        return Ok(Taken::OtherBrowser);
    }
    let id = db::parse_uuid(&row.id)?;
    Ok(Taken::Found(Flow {
        pkce_verifier: keys.open(&row.pkce_verifier, slot(id))?,
        redirect_url: row.redirect_url,
        nonce_hash: row.nonce_hash,
        session_id: row.session_id.as_deref().map(db::parse_uuid).transpose()?,
    }))
}

/// What the callback's code gave.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Provider(#[from] Error),
}
