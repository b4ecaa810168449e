//! Dropbox's OAuth 2.0, for an app with "App folder" access and scoped permissions:
//! - `GET /oauth2/authorize` (www.dropbox.com): the code flow (`response_type=code`) with PKCE
//!   (`code_challenge`, `code_challenge_method` `S256` or `plain`) and `token_access_type`
//!   (`offline` → a refresh token); approves at once and redirects to `redirect_uri` with
//!   `code` and `state`; without `redirect_uri` the code is shown on the page, as Dropbox does;
//! - `POST /oauth2/token` (api.dropboxapi.com): `authorization_code` (with `code_verifier`
//!   when the code was asked with a challenge; then no `client_secret` is needed) and
//!   `refresh_token`; answers `{access_token, token_type: "bearer", expires_in: 14400, scope,
//!   uid, account_id, refresh_token (offline only)}`, a refresh `{access_token, token_type,
//!   expires_in}` (the refresh token is not rotated);
//! - `POST /2/auth/token/revoke` (`auth.stone`, `token/revoke (Void, Void, Void)`): disables
//!   the access token, its refresh token and that refresh token's other access tokens;
//!
//! and the check every API route makes ([`caller`]): a missing or malformed `Authorization`
//! header is a 400 in plain text, an unknown or revoked token 401 `invalid_access_token`, an
//! expired one 401 `expired_access_token`, a token without the route's scope 401
//! `missing_scope` with `required_scope` (`auth.stone`, `AuthError`).
//!
//! Checked against Dropbox's OAuth Guide and the `/oauth2/authorize` and `/oauth2/token`
//! reference (parameters, `token_access_type`, PKCE, the answer's fields, 4-hour tokens) and
//! the research (`sync-apis.md` §1.5). Not documented, chosen here: the exact
//! `error_description` texts, `invalid_client` answered with 400, codes living 10 minutes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::tree::View;
use super::{DropboxError, DropboxFake, DropboxState};
use crate::util::{basic_auth, query_pairs, random_token, valid_pkce_string};
use crate::Shared;

/// The scopes of a scoped app (Dropbox's "Permissions" tab) Threadline's sync uses.
pub const ACCOUNT_INFO_READ: &str = "account_info.read";
pub const FILES_METADATA_READ: &str = "files.metadata.read";
pub const FILES_METADATA_WRITE: &str = "files.metadata.write";
pub const FILES_CONTENT_READ: &str = "files.content.read";
pub const FILES_CONTENT_WRITE: &str = "files.content.write";
/// All of them, as a test's app ticks them.
pub const SYNC_SCOPES: [&str; 5] = [
    ACCOUNT_INFO_READ,
    FILES_METADATA_READ,
    FILES_METADATA_WRITE,
    FILES_CONTENT_READ,
    FILES_CONTENT_WRITE,
];

/// An app registered in Dropbox's App Console, with "App folder" access.
#[derive(Debug, Clone)]
pub struct DropboxApp {
    /// The app key (`client_id`).
    pub app_key: String,
    /// The app secret (`client_secret`).
    pub app_secret: String,
    /// The app's name: its folder is `/Apps/<name>` in each user's Dropbox.
    pub name: String,
    /// Exact-match redirect URIs.
    pub redirect_uris: Vec<String>,
    /// The permissions ticked in the console; a token gets these unless `scope` asks fewer.
    pub scopes: Vec<String>,
}

impl DropboxApp {
    /// The app folder, as the user sees it.
    pub fn folder(&self) -> String {
        format!("/Apps/{}", self.name)
    }
}

/// What the token endpoint hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
}

pub(crate) struct OAuthState {
    pub(crate) apps: HashMap<String, DropboxApp>,
    codes: HashMap<String, CodeGrant>,
    refresh_tokens: HashMap<String, Grant>,
    access_tokens: HashMap<String, AccessGrant>,
    pub(crate) access_lifetime: Duration,
    pub(crate) issued: usize,
    /// The account the browser is signed in as (the first added unless a test says).
    pub(crate) signed_in: Option<String>,
}

impl Default for OAuthState {
    fn default() -> Self {
        OAuthState {
            apps: HashMap::new(),
            codes: HashMap::new(),
            refresh_tokens: HashMap::new(),
            access_tokens: HashMap::new(),
            // Dropbox's short-lived tokens: expires_in 14400 (4 hours).
            access_lifetime: Duration::from_secs(14400),
            issued: 0,
            signed_in: None,
        }
    }
}

#[derive(Clone)]
struct Grant {
    app_key: String,
    email: String,
    scopes: Vec<String>,
}

struct CodeGrant {
    grant: Grant,
    redirect_uri: Option<String>,
    offline: bool,
    challenge: Option<(String, bool)>,
    expires_at: DateTime<Utc>,
}

struct AccessGrant {
    grant: Grant,
    expires_at: DateTime<Utc>,
    refresh_token: Option<String>,
}

/// The account and app behind a valid access token.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) email: String,
    pub(crate) view: View,
}

/// Checks `Authorization: Bearer …` for the route `function` needing `scope` (none for
/// `auth/token/revoke`).
pub(crate) fn caller(
    state: &DropboxState,
    headers: &HeaderMap,
    function: &str,
    scope: Option<&str>,
) -> Result<Caller, DropboxError> {
    let token = access_token(headers, function)?;
    let access = state
        .oauth
        .access_tokens
        .get(token)
        .ok_or_else(DropboxError::invalid_access_token)?;
    if access.expires_at <= state.now() {
        return Err(DropboxError::expired_access_token());
    }
    if let Some(scope) = scope {
        if !access.grant.scopes.iter().any(|s| s == scope) {
            return Err(DropboxError::new(
                StatusCode::UNAUTHORIZED,
                &["missing_scope"],
                json!({".tag": "missing_scope", "required_scope": scope}),
            ));
        }
    }
    let app = &state.oauth.apps[&access.grant.app_key];
    Ok(Caller {
        email: access.grant.email.clone(),
        view: View {
            prefix: app.folder(),
        },
    })
}

fn access_token<'h>(headers: &'h HeaderMap, function: &str) -> Result<&'h str, DropboxError> {
    let value = headers.get(header::AUTHORIZATION).ok_or_else(|| {
        DropboxError::bad_input(
            function,
            "Must provide HTTP header \"Authorization\" or URL parameter \"authorization\".",
        )
    })?;
    let text = value.to_str().unwrap_or_default();
    text.strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            DropboxError::bad_input(
                function,
                &format!(
                    "Invalid authorization value in HTTP header \"Authorization\": {text:?}.  \
                     Expecting \"Bearer <oauth2-access-token>\"."
                ),
            )
        })
}

impl DropboxFake {
    pub fn add_app(&self, app: DropboxApp) {
        self.lock().oauth.apps.insert(app.app_key.clone(), app);
    }

    /// The account the authorization page approves for (as if signed in to dropbox.com).
    pub fn sign_in(&self, email: &str) {
        let mut state = self.lock();
        assert!(state.accounts.contains_key(email), "add_account first");
        state.oauth.signed_in = Some(email.to_string());
    }

    /// Tokens for `email` as if it had approved `app_key` with `token_access_type=offline`,
    /// with every scope of the app.
    pub fn issue_tokens(&self, app_key: &str, email: &str) -> Tokens {
        let mut state = self.lock();
        let app = state
            .oauth
            .apps
            .get(app_key)
            .unwrap_or_else(|| panic!("add_app({app_key}) first"))
            .clone();
        assert!(state.accounts.contains_key(email), "add_account first");
        let grant = Grant {
            app_key: app_key.to_string(),
            email: email.to_string(),
            scopes: app.scopes.clone(),
        };
        grant_tokens(&mut state, grant, true)
    }

    /// How long new access tokens live (Dropbox: 14400 s).
    pub fn set_access_token_lifetime(&self, lifetime: Duration) {
        self.lock().oauth.access_lifetime = lifetime;
    }

    /// Every access token issued so far expires now (the next call gets 401
    /// `expired_access_token`).
    pub fn expire_access_tokens(&self) {
        let mut state = self.lock();
        let now = state.now();
        for access in state.oauth.access_tokens.values_mut() {
            access.expires_at = access.expires_at.min(now);
        }
    }

    /// The refresh token stops working (the user unlinked the app): the token endpoint
    /// answers 400 `invalid_grant`.
    pub fn invalidate_refresh_token(&self, refresh_token: &str) {
        self.lock().oauth.refresh_tokens.remove(refresh_token);
    }

    /// How many access tokens were ever issued (refreshes included).
    pub fn access_tokens_issued(&self) -> usize {
        self.lock().oauth.issued
    }
}

/// Mints tokens for a grant (and a refresh token when offline); makes the app's folder, as
/// Dropbox does when a user links an app-folder app.
fn grant_tokens(state: &mut DropboxState, grant: Grant, offline: bool) -> Tokens {
    let folder = state.oauth.apps[&grant.app_key].folder();
    state.account_mut(&grant.email).ensure_folder(&folder);
    let refresh_token = offline.then(|| {
        let token = random_token("fake-refresh-");
        state
            .oauth
            .refresh_tokens
            .insert(token.clone(), grant.clone());
        token
    });
    let access_token = issue_access(state, grant, refresh_token.clone());
    Tokens {
        access_token,
        refresh_token,
    }
}

fn issue_access(state: &mut DropboxState, grant: Grant, refresh_token: Option<String>) -> String {
    let token = random_token("sl.fake-");
    let lifetime =
        chrono::Duration::from_std(state.oauth.access_lifetime).expect("a sane lifetime");
    let expires_at = state.now() + lifetime;
    state.oauth.issued += 1;
    state.oauth.access_tokens.insert(
        token.clone(),
        AccessGrant {
            grant,
            expires_at,
            refresh_token,
        },
    );
    token
}

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/oauth2/authorize", get(authorize))
        .route("/oauth2/token", post(token))
        .route("/2/auth/token/revoke", post(revoke))
}

/// An OAuth error answer: `{"error": code, "error_description": …}`, 400.
fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// The authorization page, approved at once. A wrong app or redirect URI is shown as a page
/// (the redirect URI cannot be trusted then); other errors go back to the redirect URI as
/// `error=…&error_description=…&state=…`.
async fn authorize(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let params: HashMap<String, String> = query_pairs(query.as_deref()).into_iter().collect();
    let param = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let page = |detail: &str| (StatusCode::BAD_REQUEST, format!("{detail}\n")).into_response();
    let mut state = shared.dropbox.lock();
    let Some(app_key) = param("client_id") else {
        return page("Invalid client_id: missing");
    };
    let Some(app) = state.oauth.apps.get(app_key).cloned() else {
        return page(&format!("Invalid client_id: \"{app_key}\""));
    };
    let redirect_uri = param("redirect_uri");
    if let Some(uri) = redirect_uri {
        if !app.redirect_uris.iter().any(|u| u == uri) {
            return page(&format!("Invalid redirect_uri: \"{uri}\""));
        }
    }
    let back = |pairs: &[(&str, &str)]| match redirect_uri {
        Some(uri) => {
            let mut url = url::Url::parse(uri).expect("registered redirect URIs are URLs");
            {
                let mut query = url.query_pairs_mut();
                for (k, v) in pairs {
                    query.append_pair(k, v);
                }
                if let Some(state) = param("state") {
                    query.append_pair("state", state);
                }
            }
            (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
        }
        None => {
            let text: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            (StatusCode::OK, text.join("\n")).into_response()
        }
    };
    let refuse = |error: &str, description: &str| {
        back(&[("error", error), ("error_description", description)])
    };
    if param("response_type") != Some("code") {
        return refuse(
            "unsupported_response_type",
            "response_type must be \"code\" (the fake has no implicit grant)",
        );
    }
    let offline = match param("token_access_type").unwrap_or("online") {
        "offline" => true,
        "online" | "legacy" => false,
        other => {
            return refuse(
                "invalid_request",
                &format!("Invalid token_access_type: {other}"),
            )
        }
    };
    let scopes: Vec<String> = match param("scope") {
        None => app.scopes.clone(),
        Some(scope) => {
            let asked: Vec<String> = scope.split_whitespace().map(str::to_string).collect();
            if let Some(unknown) = asked.iter().find(|s| !app.scopes.contains(s)) {
                return refuse(
                    "invalid_scope",
                    &format!("The app does not have the scope: {unknown}"),
                );
            }
            asked
        }
    };
    let challenge = match (param("code_challenge"), param("code_challenge_method")) {
        (None, None) => None,
        (None, Some(_)) => return refuse("invalid_request", "code_challenge is missing"),
        (Some(challenge), method) => {
            let s256 = match method.unwrap_or("plain") {
                "S256" => true,
                "plain" => false,
                _ => {
                    return refuse(
                        "invalid_request",
                        "code_challenge_method must be S256 or plain",
                    )
                }
            };
            if !valid_pkce_string(challenge) {
                return refuse(
                    "invalid_request",
                    "code_challenge must be 43 to 128 characters of [A-Za-z0-9-._~]",
                );
            }
            Some((challenge.to_string(), s256))
        }
    };
    let email = match state
        .oauth
        .signed_in
        .clone()
        .or_else(|| state.accounts.keys().next().cloned())
    {
        Some(email) => email,
        None => return page("The fake has no Dropbox account: add_account first."),
    };
    let code = random_token("fake-code-");
    let expires_at = state.now() + chrono::Duration::minutes(10);
    state.oauth.codes.insert(
        code.clone(),
        CodeGrant {
            grant: Grant {
                app_key: app_key.to_string(),
                email,
                scopes,
            },
            redirect_uri: redirect_uri.map(str::to_string),
            offline,
            challenge,
            expires_at,
        },
    );
    back(&[("code", &code)])
}

async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let mut state = shared.dropbox.lock();

    // The app: form fields, or HTTP Basic.
    let (app_key, secret) = match (field("client_id"), basic_auth(&headers)) {
        (Some(id), _) => (id.to_string(), field("client_secret").map(str::to_string)),
        (None, Some((id, secret))) => (id, Some(secret)),
        (None, None) => return oauth_error("invalid_request", "No auth function available."),
    };
    let Some(app) = state.oauth.apps.get(&app_key).cloned() else {
        return oauth_error("invalid_client", "Invalid client_id or client_secret");
    };
    let secret_ok = secret.as_deref() == Some(app.app_secret.as_str());
    if secret.is_some() && !secret_ok {
        return oauth_error("invalid_client", "Invalid client_id or client_secret");
    }

    match field("grant_type") {
        Some("authorization_code") => {
            let Some(code) = field("code") else {
                return oauth_error("invalid_request", "No code provided.");
            };
            let now = state.now();
            // A code is good once, whatever happens next.
            let Some(grant) = state
                .oauth
                .codes
                .remove(code)
                .filter(|g| g.expires_at > now && g.grant.app_key == app_key)
            else {
                return oauth_error("invalid_grant", "code doesn't exist or has expired");
            };
            if field("redirect_uri") != grant.redirect_uri.as_deref() {
                return oauth_error("invalid_grant", "redirect_uri mismatch");
            }
            match &grant.challenge {
                Some((challenge, s256)) => {
                    let Some(verifier) = field("code_verifier") else {
                        return oauth_error("invalid_grant", "missing code_verifier");
                    };
                    let derived = if *s256 {
                        base64::engine::general_purpose::URL_SAFE_NO_PAD
                            .encode(Sha256::digest(verifier.as_bytes()))
                    } else {
                        verifier.to_string()
                    };
                    if !valid_pkce_string(verifier) || &derived != challenge {
                        return oauth_error("invalid_grant", "invalid code verifier");
                    }
                }
                // Without PKCE the app proves itself with its secret.
                None if !secret_ok => {
                    return oauth_error("invalid_client", "Invalid client_id or client_secret")
                }
                None => {}
            }
            let email = grant.grant.email.clone();
            let scope = grant.grant.scopes.join(" ");
            let tokens = grant_tokens(&mut state, grant.grant, grant.offline);
            let account = &state.accounts[&email];
            let mut answer = json!({
                "access_token": tokens.access_token,
                "token_type": "bearer",
                "expires_in": state.oauth.access_lifetime.as_secs(),
                "scope": scope,
                "uid": account.uid,
                "account_id": account.account_id,
            });
            if let Some(refresh) = tokens.refresh_token {
                answer["refresh_token"] = json!(refresh);
            }
            Json(answer).into_response()
        }
        Some("refresh_token") => {
            let Some(refresh_token) = field("refresh_token") else {
                return oauth_error("invalid_request", "No refresh_token provided.");
            };
            let Some(grant) = state
                .oauth
                .refresh_tokens
                .get(refresh_token)
                .filter(|g| g.app_key == app_key)
                .cloned()
            else {
                return oauth_error("invalid_grant", "refresh token is invalid or revoked");
            };
            let access_token = issue_access(&mut state, grant, Some(refresh_token.to_string()));
            Json(json!({
                "access_token": access_token,
                "token_type": "bearer",
                "expires_in": state.oauth.access_lifetime.as_secs(),
            }))
            .into_response()
        }
        Some(other) => oauth_error(
            "unsupported_grant_type",
            &format!("grant_type \"{other}\" is not supported"),
        ),
        None => oauth_error("invalid_request", "No grant_type provided."),
    }
}

/// `auth/token/revoke`: the access token, its refresh token, and every access token of that
/// refresh token stop working. The answer is the `Void` result, `null`.
async fn revoke(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    const FUNCTION: &str = "auth/token/revoke";
    super::files::rpc(
        &shared,
        &headers,
        &body,
        FUNCTION,
        None,
        |state, _, (): ()| {
            let token = access_token(&headers, FUNCTION)?;
            let oauth = &mut state.oauth;
            let refresh = oauth
                .access_tokens
                .remove(token)
                .and_then(|a| a.refresh_token);
            if let Some(refresh) = refresh {
                oauth.refresh_tokens.remove(&refresh);
                oauth
                    .access_tokens
                    .retain(|_, a| a.refresh_token.as_deref() != Some(refresh.as_str()));
            }
            Ok(Value::Null)
        },
    )
}
