//! Google's OpenID Connect pieces, as its "OpenID Connect" guide and discovery document
//! describe them:
//! - `GET /.well-known/openid-configuration` (accounts.google.com): the discovery document,
//!   `issuer` `https://accounts.google.com` and the fake's own endpoints;
//! - `GET /oauth2/v3/certs` (www.googleapis.com): the JWKS, one RSA key (`kid`, `RS256`,
//!   `use: sig`);
//! - the `id_token` the token endpoint adds when `openid` was granted ([`id_token`]): a JWT
//!   signed RS256 with `iss`, `azp`, `aud` (the client id), `sub`, `at_hash` (the access
//!   token's), `email` and `email_verified` (with the `email` scope), `name` (with
//!   `profile`), `hd` (a Workspace account's domain), `nonce` (when the authorization request
//!   had one), `iat` and `exp` (one hour, in seconds).
//!
//! The signing key is a test key committed with the fake (`oidc_signing_key.pem`): it is
//! public on purpose and trusted nowhere but by a server pointed at this fake.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::GoogleState;
use crate::Shared;

const SIGNING_KEY_PEM: &str = include_str!("oidc_signing_key.pem");
/// The `kid` of the fake's key.
pub const KEY_ID: &str = "threadline-fake-1";
pub const ISSUER: &str = "https://accounts.google.com";

fn signing_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(SIGNING_KEY_PEM.as_bytes()).expect("the fake's key is an RSA key")
}

/// The JWKS the fake publishes.
pub fn key_set() -> JwkSet {
    let mut jwk =
        Jwk::from_encoding_key(&signing_key(), Algorithm::RS256).expect("an RSA key's JWK");
    jwk.common.key_id = Some(KEY_ID.to_string());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    JwkSet { keys: vec![jwk] }
}

/// What the fake says of an account in its ID tokens, besides its id and address.
#[derive(Debug, Clone, Default)]
pub(crate) struct Profile {
    pub name: Option<String>,
    pub email_verified: Option<bool>,
}

/// What an ID token is issued for.
pub(crate) struct Issue<'a> {
    pub client_id: &'a str,
    pub email: &'a str,
    pub scopes: &'a [String],
    pub access_token: &'a str,
    pub nonce: Option<&'a str>,
}

/// An ID token for `email`'s account, issued now to `client_id`.
pub(crate) fn id_token(state: &GoogleState, issue: Issue<'_>) -> String {
    let Issue {
        client_id,
        email,
        scopes,
        access_token,
        nonce,
    } = issue;
    let granted = |scope: &str| scopes.iter().any(|s| s == scope);
    let now = state.now().timestamp();
    let profile = state.oauth.profiles.get(email).cloned().unwrap_or_default();
    let domain = email.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase());
    // at_hash: the left half of the access token's SHA-256, base64url.
    let digest = Sha256::digest(access_token.as_bytes());
    let mut claims = json!({
        "iss": ISSUER,
        "azp": client_id,
        "aud": client_id,
        "sub": super::oauth::sub_of(state, email),
        "at_hash": URL_SAFE_NO_PAD.encode(&digest[..16]),
        "iat": now,
        "exp": now + 3600,
    });
    if granted("email") {
        claims["email"] = json!(email);
        claims["email_verified"] = json!(profile.email_verified.unwrap_or(true));
    }
    if granted("profile") {
        claims["name"] = json!(profile.name.unwrap_or_else(|| email
            .split('@')
            .next()
            .unwrap_or(email)
            .to_string()));
    }
    if let Some(domain) = domain.filter(|d| state.oauth.workspace_domains.contains(d)) {
        claims["hd"] = json!(domain);
    }
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(nonce);
    }
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KEY_ID.to_string());
    jsonwebtoken::encode(&header, &claims, &signing_key()).expect("the fake signs")
}

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/oauth2/v3/certs", get(certs))
}

/// Google's discovery document, its fields as Google publishes them, the endpoints the fake's.
async fn discovery(State(shared): State<Arc<Shared>>) -> Response {
    let base = shared.google.lock().base_url.clone();
    Json(json!({
        "issuer": ISSUER,
        "authorization_endpoint": format!("{base}/o/oauth2/v2/auth"),
        "token_endpoint": format!("{base}/token"),
        "userinfo_endpoint": format!("{base}/v1/userinfo"),
        "revocation_endpoint": format!("{base}/revoke"),
        "jwks_uri": format!("{base}/oauth2/v3/certs"),
        "response_types_supported": ["code", "token", "id_token", "code token", "code id_token",
            "token id_token", "code token id_token", "none"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": ["aud", "email", "email_verified", "exp", "family_name",
            "given_name", "iat", "iss", "name", "picture", "sub"],
        "code_challenge_methods_supported": ["plain", "S256"],
        "grant_types_supported": ["authorization_code", "refresh_token",
            "urn:ietf:params:oauth:grant-type:device_code",
            "urn:ietf:params:oauth:grant-type:jwt-bearer"],
    }))
    .into_response()
}

async fn certs() -> Response {
    Json(key_set()).into_response()
}
