//! Google's OAuth 2.0 endpoints for a web-server app with PKCE:
//! - `GET /o/oauth2/v2/auth` (accounts.google.com): approves at once and redirects back;
//! - `POST /token` (oauth2.googleapis.com): `authorization_code` and `refresh_token` grants;
//! - `POST /revoke` (oauth2.googleapis.com);
//! - `GET /v1/userinfo` (openidconnect.googleapis.com): the OpenID Connect account of a token;
//! - with `openid` granted, the token endpoint's `id_token` (`oidc.rs`: it, the discovery
//!   document and the keys);
//!
//! and the bearer check every API route makes ([`authorize`]). Answers and errors follow
//! Google's (`{"error":"invalid_grant","error_description":"Token has been expired or
//! revoked."}`, 400; `invalid_client` 401). Refresh tokens are not rotated: a refresh answer
//! has no `refresh_token`, as at Google.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{GoogleError, GoogleFake, GoogleState};
use crate::util::{basic_auth, query_pairs, random_token, valid_pkce_string};
use crate::Shared;

/// A registered OAuth client (a "Web application" client in Google's console).
#[derive(Debug, Clone)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: String,
    /// Exact-match redirect URIs, as Google compares them.
    pub redirect_uris: Vec<String>,
}

/// What the token endpoint hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
}

pub(crate) struct OAuthState {
    clients: HashMap<String, OAuthClient>,
    codes: HashMap<String, CodeGrant>,
    refresh_tokens: HashMap<String, RefreshGrant>,
    access_tokens: HashMap<String, AccessGrant>,
    access_lifetime: Duration,
    issued: usize,
    /// Accounts whose `sub` is not [`account_id`] of their address.
    account_ids: HashMap<String, String>,
    /// What each account granted each client so far, by (client id, address): what
    /// `include_granted_scopes=true` adds to a new grant, until the grant is revoked.
    granted: HashMap<(String, String), BTreeSet<String>>,
    /// What ID tokens say of an account besides its id and address, by address.
    pub(crate) profiles: HashMap<String, super::oidc::Profile>,
    /// Google Workspace domains: their accounts' ID tokens carry `hd`.
    pub(crate) workspace_domains: BTreeSet<String>,
}

impl Default for OAuthState {
    fn default() -> Self {
        OAuthState {
            clients: HashMap::new(),
            codes: HashMap::new(),
            refresh_tokens: HashMap::new(),
            access_tokens: HashMap::new(),
            // Google answers expires_in 3599.
            access_lifetime: Duration::from_secs(3599),
            issued: 0,
            account_ids: HashMap::new(),
            granted: HashMap::new(),
            profiles: HashMap::new(),
            workspace_domains: BTreeSet::new(),
        }
    }
}

struct CodeGrant {
    client_id: String,
    redirect_uri: String,
    email: String,
    scopes: Vec<String>,
    offline: bool,
    challenge: Option<(String, ChallengeMethod)>,
    /// OpenID Connect's `nonce` of the authorization request, put in the ID token.
    nonce: Option<String>,
    expires_at: DateTime<Utc>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ChallengeMethod {
    S256,
    Plain,
}

struct RefreshGrant {
    client_id: String,
    email: String,
    scopes: Vec<String>,
}

struct AccessGrant {
    email: String,
    scopes: Vec<String>,
    expires_at: DateTime<Utc>,
    refresh_token: Option<String>,
}

/// The account and scopes behind a valid bearer token.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) email: String,
}

/// Checks `Authorization: Bearer …`: 401 authError when it is missing, unknown, expired or
/// revoked; 403 insufficientPermissions when the token has none of `accepted_scopes`.
pub(crate) fn authorize(
    state: &GoogleState,
    headers: &HeaderMap,
    accepted_scopes: &[&str],
) -> Result<Caller, GoogleError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or_else(GoogleError::auth_error)?;
    let grant = state
        .oauth
        .access_tokens
        .get(token)
        .ok_or_else(GoogleError::auth_error)?;
    if grant.expires_at <= state.now() {
        return Err(GoogleError::auth_error());
    }
    let allowed = grant
        .scopes
        .iter()
        .any(|held| accepted_scopes.iter().any(|a| scope_url(a) == *held));
    if !allowed {
        return Err(GoogleError::insufficient_permissions());
    }
    Ok(Caller {
        email: grant.email.clone(),
    })
}

/// `calendar` → `https://www.googleapis.com/auth/calendar`; the OpenID Connect scopes
/// (`openid`, `email`, `profile`) are short at Google too.
pub(crate) fn scope_url(short: &str) -> String {
    if short.starts_with("https://") || is_openid_scope(short) {
        short.to_string()
    } else {
        format!("https://www.googleapis.com/auth/{short}")
    }
}

fn is_openid_scope(scope: &str) -> bool {
    matches!(scope, "openid" | "email" | "profile")
}

fn known_scope(scope: &str) -> bool {
    is_openid_scope(scope)
        || scope
            .strip_prefix("https://www.googleapis.com/auth/")
            .is_some_and(|rest| !rest.is_empty())
}

impl GoogleFake {
    pub fn add_client(&self, client: OAuthClient) {
        self.lock()
            .oauth
            .clients
            .insert(client.client_id.clone(), client);
    }

    /// Tokens for `email` as if it had completed the consent flow with `client_id` and
    /// `access_type=offline` (scopes short, `calendar`, or full URLs).
    pub fn issue_tokens(&self, client_id: &str, email: &str, scopes: &[&str]) -> Tokens {
        let mut state = self.lock();
        assert!(
            state.oauth.clients.contains_key(client_id),
            "add_client({client_id}) first"
        );
        assert!(state.users.contains(email), "add_user({email}) first");
        let scopes = scopes.iter().map(|s| scope_url(s)).collect();
        let (tokens, _) = grant_tokens(&mut state, client_id, email, scopes, true);
        tokens
    }

    /// How long new access tokens live (Google: 3599 s).
    pub fn set_access_token_lifetime(&self, lifetime: Duration) {
        self.lock().oauth.access_lifetime = lifetime;
    }

    /// Every access token issued so far expires now (the next API call gets 401).
    pub fn expire_access_tokens(&self) {
        let mut state = self.lock();
        let now = state.now();
        for grant in state.oauth.access_tokens.values_mut() {
            grant.expires_at = grant.expires_at.min(now);
        }
    }

    /// The refresh token stops working, as when the user revoked access or it aged out: the
    /// token endpoint answers 400 invalid_grant. Its access tokens keep working until they
    /// expire, as at Google.
    pub fn invalidate_refresh_token(&self, refresh_token: &str) {
        self.lock().oauth.refresh_tokens.remove(refresh_token);
    }

    /// The account's name in its ID tokens (else its address's local part).
    pub fn set_name(&self, email: &str, name: &str) {
        self.lock()
            .oauth
            .profiles
            .entry(email.to_string())
            .or_default()
            .name = Some(name.to_string());
    }

    /// Whether Google has verified the account's address (`email_verified`; true unless
    /// set).
    pub fn set_email_verified(&self, email: &str, verified: bool) {
        self.lock()
            .oauth
            .profiles
            .entry(email.to_string())
            .or_default()
            .email_verified = Some(verified);
    }

    /// `domain` is a Google Workspace domain: its accounts' ID tokens carry `hd`.
    pub fn add_workspace_domain(&self, domain: &str) {
        self.lock()
            .oauth
            .workspace_domains
            .insert(domain.to_ascii_lowercase());
    }

    /// The account's `sub` as userinfo answers it is `sub` from now on (instead of
    /// [`account_id`] of its address): an odd id, as a client must be ready for.
    pub fn set_account_id(&self, email: &str, sub: &str) {
        self.lock()
            .oauth
            .account_ids
            .insert(email.to_string(), sub.to_string());
    }

    /// How many access tokens were ever issued (refreshes included): a test of single-flight
    /// refresh counts these.
    pub fn access_tokens_issued(&self) -> usize {
        self.lock().oauth.issued
    }
}

fn grant_tokens(
    state: &mut GoogleState,
    client_id: &str,
    email: &str,
    scopes: Vec<String>,
    offline: bool,
) -> (Tokens, Duration) {
    let refresh_token = offline.then(|| {
        let token = random_token("1//fake-");
        state.oauth.refresh_tokens.insert(
            token.clone(),
            RefreshGrant {
                client_id: client_id.to_string(),
                email: email.to_string(),
                scopes: scopes.clone(),
            },
        );
        token
    });
    let access_token = issue_access(state, email, scopes, refresh_token.clone());
    (
        Tokens {
            access_token,
            refresh_token,
        },
        state.oauth.access_lifetime,
    )
}

fn issue_access(
    state: &mut GoogleState,
    email: &str,
    scopes: Vec<String>,
    refresh_token: Option<String>,
) -> String {
    let token = random_token("ya29.fake-");
    let lifetime =
        chrono::Duration::from_std(state.oauth.access_lifetime).expect("a sane lifetime");
    let expires_at = state.now() + lifetime;
    state.oauth.issued += 1;
    state.oauth.access_tokens.insert(
        token.clone(),
        AccessGrant {
            email: email.to_string(),
            scopes,
            expires_at,
            refresh_token,
        },
    );
    token
}

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/o/oauth2/v2/auth", get(authorization))
        .route("/token", post(token))
        .route("/revoke", post(revoke))
        .route("/v1/userinfo", get(userinfo))
        .merge(super::oidc::router())
}

/// Google's stable account id (`sub`) of `email`: 21 digits, derived from the address so
/// that it stays the same for the fake's life and across fakes.
pub fn account_id(email: &str) -> String {
    let digest = Sha256::digest(email.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    format!("1{:020}", u64::from_be_bytes(first))
}

/// The `sub` of `email`'s account: [`account_id`] unless set otherwise.
pub(crate) fn sub_of(state: &GoogleState, email: &str) -> String {
    state
        .oauth
        .account_ids
        .get(email)
        .cloned()
        .unwrap_or_else(|| account_id(email))
}

/// OpenID Connect's userinfo endpoint: `{sub, email, email_verified}` of the token's account
/// (with `openid` or `email` granted; 401 authError / 403 as every API route).
async fn userinfo(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let state = shared.google.lock();
    let accepted = [
        "openid",
        "email",
        "profile",
        "https://www.googleapis.com/auth/userinfo.email",
    ];
    match authorize(&state, &headers, &accepted) {
        Ok(caller) => Json(json!({
            "sub": sub_of(&state, &caller.email),
            "email": caller.email,
            "email_verified": true,
        }))
        .into_response(),
        Err(e) => e.into_response(),
    }
}

/// An OAuth error answer: `{"error": code, "error_description": …}`.
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

fn oauth_error(
    status: StatusCode,
    error: &'static str,
    description: impl Into<String>,
) -> OAuthError {
    OAuthError {
        status,
        error,
        description: description.into(),
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": self.error, "error_description": self.description})),
        )
            .into_response()
    }
}

/// The consent screen, approved at once. Errors about the client or the redirect URI are
/// shown as a page (the redirect URI cannot be trusted then, RFC 6749 §4.1.2.1); the others go
/// back to the redirect URI as `error=…&error_description=…&state=…`.
async fn authorization(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let params: HashMap<String, String> = query_pairs(query.as_deref()).into_iter().collect();
    let param = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let page = |error: &str, detail: String| {
        (
            StatusCode::BAD_REQUEST,
            format!("Error 400: {error}\n\n{detail}\n"),
        )
            .into_response()
    };
    let mut state = shared.google.lock();
    let Some(client_id) = param("client_id") else {
        return page(
            "invalid_request",
            "Missing required parameter: client_id".into(),
        );
    };
    let Some(client) = state.oauth.clients.get(client_id).cloned() else {
        return page(
            "invalid_client",
            format!("The OAuth client was not found. (client_id {client_id})"),
        );
    };
    let Some(redirect_uri) = param("redirect_uri") else {
        return page(
            "invalid_request",
            "Missing required parameter: redirect_uri".into(),
        );
    };
    if !client.redirect_uris.iter().any(|u| u == redirect_uri) {
        return page(
            "redirect_uri_mismatch",
            format!("redirect_uri {redirect_uri} is not registered for client {client_id}"),
        );
    }
    let back = |pairs: &[(&str, &str)]| {
        let mut url = url::Url::parse(redirect_uri).expect("registered redirect URIs are URLs");
        {
            let mut query = url.query_pairs_mut();
            for (k, v) in pairs {
                query.append_pair(k, v);
            }
            if let Some(state) = param("state") {
                query.append_pair("state", state);
            }
        }
        // 302, as Google's consent screen answers.
        (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
    };
    let refuse = |error: &str, description: &str| {
        back(&[("error", error), ("error_description", description)])
    };

    if param("response_type") != Some("code") {
        return refuse("unsupported_response_type", "response_type must be code");
    }
    let Some(scope) = param("scope") else {
        return refuse("invalid_request", "Missing required parameter: scope");
    };
    let scopes: Vec<String> = scope.split_whitespace().map(str::to_string).collect();
    if let Some(unknown) = scopes.iter().find(|s| !known_scope(s)) {
        return refuse(
            "invalid_scope",
            &format!("Some requested scopes were invalid: {unknown}"),
        );
    }
    let offline = match param("access_type").unwrap_or("online") {
        "offline" => true,
        "online" => false,
        _ => {
            return refuse(
                "invalid_request",
                "Invalid access_type: must be online or offline",
            )
        }
    };
    let challenge = match (param("code_challenge"), param("code_challenge_method")) {
        (None, None) => None,
        (None, Some(_)) => {
            return refuse(
                "invalid_request",
                "Missing required parameter: code_challenge",
            )
        }
        (Some(challenge), method) => {
            let method = match method.unwrap_or("plain") {
                "S256" => ChallengeMethod::S256,
                "plain" => ChallengeMethod::Plain,
                _ => {
                    return refuse(
                        "invalid_request",
                        "Invalid code_challenge_method: must be S256 or plain",
                    )
                }
            };
            if !valid_pkce_string(challenge) {
                return refuse(
                    "invalid_request",
                    "Invalid code_challenge: 43 to 128 characters of [A-Za-z0-9-._~]",
                );
            }
            Some((challenge.to_string(), method))
        }
    };
    let email = match param("login_hint") {
        Some(hint) if state.users.contains(hint) => hint.to_string(),
        _ => match state.users.iter().next() {
            Some(first) => first.clone(),
            None => {
                return page(
                    "access_denied",
                    "The fake has no Google account: add_user first.".into(),
                )
            }
        },
    };
    // Incremental authorization: with `include_granted_scopes=true` the new grant also
    // covers what this account granted this client before (and the code's `scope` says so).
    let mut scopes = scopes;
    if param("include_granted_scopes") == Some("true") {
        let before = state
            .oauth
            .granted
            .get(&(client_id.to_string(), email.clone()));
        for scope in before.into_iter().flatten() {
            if !scopes.contains(scope) {
                scopes.push(scope.clone());
            }
        }
    }
    let code = random_token("4/fake-");
    let expires_at = state.now() + chrono::Duration::minutes(10);
    state.oauth.codes.insert(
        code.clone(),
        CodeGrant {
            client_id: client_id.to_string(),
            redirect_uri: redirect_uri.to_string(),
            email,
            scopes: scopes.clone(),
            offline,
            challenge,
            nonce: param("nonce").map(str::to_string),
            expires_at,
        },
    );
    back(&[("code", &code), ("scope", &scopes.join(" "))])
}

async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, OAuthError> {
    let form: HashMap<String, String> = form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let missing = |name: &str| {
        oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("Missing required parameter: {name}"),
        )
    };
    let mut state = shared.google.lock();

    // Client authentication: form fields, or HTTP Basic.
    let (client_id, client_secret) = match (field("client_id"), basic_auth(&headers)) {
        (Some(id), _) => (id.to_string(), field("client_secret").map(str::to_string)),
        (None, Some((id, secret))) => (id, Some(secret)),
        (None, None) => return Err(missing("client_id")),
    };
    let Some(client) = state.oauth.clients.get(&client_id).cloned() else {
        return Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The OAuth client was not found.",
        ));
    };
    if client_secret.as_deref() != Some(client.client_secret.as_str()) {
        return Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Unauthorized",
        ));
    }

    let grant_type = field("grant_type").ok_or_else(|| missing("grant_type"))?;
    match grant_type {
        "authorization_code" => {
            let code = field("code").ok_or_else(|| missing("code"))?;
            // A code is good once, whatever happens next.
            let grant = state
                .oauth
                .codes
                .remove(code)
                .filter(|g| g.expires_at > state.now() && g.client_id == client_id)
                .ok_or_else(|| {
                    oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "Malformed auth code.",
                    )
                })?;
            if field("redirect_uri") != Some(grant.redirect_uri.as_str()) {
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "redirect_uri_mismatch",
                    "Bad Request",
                ));
            }
            if let Some((challenge, method)) = &grant.challenge {
                let verifier = field("code_verifier").ok_or_else(|| {
                    oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "Missing code verifier.",
                    )
                })?;
                let derived = match method {
                    ChallengeMethod::S256 => base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .encode(Sha256::digest(verifier.as_bytes())),
                    ChallengeMethod::Plain => verifier.to_string(),
                };
                if !valid_pkce_string(verifier) || &derived != challenge {
                    return Err(oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "Invalid code verifier.",
                    ));
                }
            }
            let scope = grant.scopes.join(" ");
            let openid = grant.scopes.iter().any(|s| s == "openid");
            let granted_scopes = grant.scopes.clone();
            state
                .oauth
                .granted
                .entry((client_id.clone(), grant.email.clone()))
                .or_default()
                .extend(grant.scopes.iter().cloned());
            let (tokens, lifetime) = grant_tokens(
                &mut state,
                &client_id,
                &grant.email,
                grant.scopes,
                grant.offline,
            );
            let mut answer = json!({
                "access_token": &tokens.access_token,
                "expires_in": lifetime.as_secs(),
                "scope": scope,
                "token_type": "Bearer",
            });
            if let Some(refresh) = tokens.refresh_token {
                answer["refresh_token"] = json!(refresh);
            }
            // OpenID Connect: an ID token whenever `openid` was granted.
            if openid {
                let issue = super::oidc::Issue {
                    client_id: &client_id,
                    email: &grant.email,
                    scopes: &granted_scopes,
                    access_token: &tokens.access_token,
                    nonce: grant.nonce.as_deref(),
                };
                answer["id_token"] = json!(super::oidc::id_token(&state, issue));
            }
            Ok(Json(answer).into_response())
        }
        "refresh_token" => {
            let refresh_token = field("refresh_token").ok_or_else(|| missing("refresh_token"))?;
            let grant = state
                .oauth
                .refresh_tokens
                .get(refresh_token)
                .filter(|g| g.client_id == client_id)
                .ok_or_else(|| {
                    oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "Token has been expired or revoked.",
                    )
                })?;
            let (email, scopes) = (grant.email.clone(), grant.scopes.clone());
            let scope = scopes.join(" ");
            let access_token =
                issue_access(&mut state, &email, scopes, Some(refresh_token.to_string()));
            Ok(Json(json!({
                "access_token": access_token,
                "expires_in": state.oauth.access_lifetime.as_secs(),
                "scope": scope,
                "token_type": "Bearer",
            }))
            .into_response())
        }
        other => Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("Invalid grant_type: {other}"),
        )),
    }
}

/// Revokes a refresh token (and the access tokens minted from it) or an access token (and the
/// refresh token behind it), as Google does. The token comes in the query or the form body.
async fn revoke(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    body: axum::body::Bytes,
) -> Result<StatusCode, OAuthError> {
    let token = query_pairs(query.as_deref())
        .into_iter()
        .chain(form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())))
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Missing required parameter: token",
            )
        })?;
    let mut state = shared.google.lock();
    let now = state.now();
    let oauth = &mut state.oauth;
    let refresh = if oauth.refresh_tokens.contains_key(&token) {
        Some(token.clone())
    } else {
        match oauth.access_tokens.get(&token) {
            Some(grant) if grant.expires_at > now => grant.refresh_token.clone(),
            _ => {
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_token",
                    "Token expired or revoked",
                ))
            }
        }
    };
    oauth.access_tokens.remove(&token);
    if let Some(refresh) = refresh {
        // The account's whole grant to the client goes: a later consent starts afresh.
        if let Some(grant) = oauth.refresh_tokens.get(&refresh) {
            let key = (grant.client_id.clone(), grant.email.clone());
            oauth.granted.remove(&key);
        }
        oauth.refresh_tokens.remove(&refresh);
        oauth
            .access_tokens
            .retain(|_, g| g.refresh_token.as_deref() != Some(refresh.as_str()));
    }
    Ok(StatusCode::OK)
}
