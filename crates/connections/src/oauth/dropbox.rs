//! Dropbox's OAuth 2.0 client for an "App folder" app (authorization code with PKCE,
//! offline access: a refresh token), through the `oauth2` crate; the account comes from
//! `users/get_current_account`; `auth/token/revoke` on disconnect.
//!
//! Dropbox's OAuth Guide and the `/oauth2/authorize`, `/oauth2/token` references
//! (`shared/research/sync-apis.md` §1.4, §1.5):
//! - the authorization (`https://www.dropbox.com/oauth2/authorize`): `response_type=code`,
//!   `code_challenge` + `code_challenge_method=S256`, `token_access_type=offline` (short-lived
//!   access tokens, about 4 hours, and a refresh token that does not expire or rotate),
//!   `state`, `redirect_uri` (registered in the App Console), `scope`: every app is a scoped
//!   app today; a connect asks for [`IDENTITY_SCOPES`] (`account_info.read`, which
//!   `users/get_current_account` needs) and the scopes of the Dropbox integrations, so that
//!   the grant holds what the sync uses and no more than that, whatever else the app's
//!   Permissions tab ticks. An app-folder app sees only `Apps/<app name>` whatever the
//!   scopes;
//! - the token endpoint (`https://api.dropboxapi.com/oauth2/token`), the app key and secret
//!   in the form body: the code exchange answers `access_token`, `expires_in`,
//!   `refresh_token`, `scope`, `account_id` (and the legacy `uid`); a refresh answers a new
//!   `access_token` and `expires_in`; `invalid_grant` means the user unlinked the app;
//! - `POST {api}/users/get_current_account` (no argument) → `users.FullAccount`
//!   (`account_id`, `email`);
//! - `POST {api}/auth/token/revoke` with the access token as the bearer: disables it, its
//!   refresh token and every access token of that refresh token (so a revocation needs a
//!   live access token: an expired one is refreshed first).
//!
//! Every URL is configurable ([`DropboxEndpoints`]): tests point them all at
//! `threadline-fake-providers` ([`DropboxEndpoints::all_at`]).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use url::Url;

use super::client::{self, CodeClient, Names};
use super::{Error, ProviderHttp};
use crate::{Grant, Provider, Refreshed};
pub use client::Authorization;
use threadline_storage::secrets::{ExposeSecret, SecretString};
use threadline_storage::Error as ServerError;

/// The `[dropbox]` table, and Dropbox's settings gathered from flags, environment and file
/// (first found wins, per setting): the app and the endpoints. [`DropboxConfig::resolve`]
/// checks them. The app secret is not a key: it comes from `THREADLINE_DROPBOX_APP_SECRET`
/// or the file `app_secret_file` names.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropboxSettings {
    pub app_key: Option<String>,
    pub app_secret_file: Option<std::path::PathBuf>,
    pub redirect_url: Option<String>,
    pub auth_url: Option<String>,
    pub token_url: Option<String>,
    pub api_url: Option<String>,
    pub content_url: Option<String>,
}

pub const DEFAULT_AUTH_URL: &str = "https://www.dropbox.com/oauth2/authorize";
pub const DEFAULT_TOKEN_URL: &str = "https://api.dropboxapi.com/oauth2/token";
/// The RPC routes' root (`users/get_current_account`, `auth/token/revoke`, `files/*`).
pub const DEFAULT_API_URL: &str = "https://api.dropboxapi.com/2";
/// The content routes' root (`files/upload`, `files/download`, upload sessions).
pub const DEFAULT_CONTENT_URL: &str = "https://content.dropboxapi.com/2";
/// Where Dropbox sends the browser back (outside `/api/v1`: the browser has no API token).
pub const CALLBACK_PATH: &str = "/oauth/dropbox/callback";
/// Where the browser starts a connect flow (the one-time start link), beside the callback.
pub const START_PATH: &str = "/oauth/dropbox/start";

/// The scopes every Dropbox connection asks for: who the account is
/// (`users/get_current_account`). The integrations add theirs (`files.*`).
pub const IDENTITY_SCOPES: &[&str] = &["account_info.read"];
/// What [`IDENTITY_SCOPES`] give, for people.
pub const IDENTITY_LABEL: &str = "your account's name and address";

/// The scopes a connect flow asks for: the identity's, then `extra` (the integrations'),
/// each once.
pub fn requested_scopes(extra: &[&str]) -> Vec<String> {
    client::requested_scopes(IDENTITY_SCOPES, extra)
}

/// Dropbox's URLs, each replaceable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropboxEndpoints {
    pub auth_url: Url,
    pub token_url: Url,
    /// `…/2` on api.dropboxapi.com.
    pub api_url: Url,
    /// `…/2` on content.dropboxapi.com, for the file sync.
    pub content_url: Url,
}

impl DropboxEndpoints {
    /// Dropbox's own.
    pub fn dropbox() -> DropboxEndpoints {
        let parse = |s: &str| Url::parse(s).expect("a valid built-in URL");
        DropboxEndpoints {
            auth_url: parse(DEFAULT_AUTH_URL),
            token_url: parse(DEFAULT_TOKEN_URL),
            api_url: parse(DEFAULT_API_URL),
            content_url: parse(DEFAULT_CONTENT_URL),
        }
    }

    /// Every endpoint on one server, at Dropbox's paths (as `threadline-fake-providers`
    /// serves them): `{base}/oauth2/authorize`, `{base}/oauth2/token`, `{base}/2` (both
    /// hosts' routes).
    pub fn all_at(base: &str) -> Result<DropboxEndpoints, url::ParseError> {
        let base = base.trim_end_matches('/');
        let at = |path: &str| Url::parse(&format!("{base}{path}"));
        Ok(DropboxEndpoints {
            auth_url: at("/oauth2/authorize")?,
            token_url: at("/oauth2/token")?,
            api_url: at("/2")?,
            content_url: at("/2")?,
        })
    }

    /// The RPC route `route` (`users/get_current_account`): under [`Self::api_url`].
    pub fn api(&self, route: &str) -> Url {
        under(&self.api_url, route)
    }

    /// The content route `route` (`files/upload`): under [`Self::content_url`].
    pub fn content(&self, route: &str) -> Url {
        under(&self.content_url, route)
    }
}

/// `root` + `/` + `route` (a root ends with `/2`, which `Url::join` would replace).
fn under(root: &Url, route: &str) -> Url {
    let mut url = root.clone();
    let path = format!(
        "{}/{}",
        root.path().trim_end_matches('/'),
        route.trim_start_matches('/')
    );
    url.set_path(&path);
    url
}

/// A configured Dropbox app.
#[derive(Debug, Clone)]
pub struct DropboxConfig {
    pub app_key: String,
    /// `Debug` shows `[REDACTED]`.
    pub app_secret: SecretString,
    /// Registered with the app in Dropbox's App Console; ends with [`CALLBACK_PATH`] unless
    /// a proxy rewrites it.
    pub redirect_url: Url,
    pub endpoints: DropboxEndpoints,
}

/// How Dropbox's settings are named in messages.
const NAMES: Names = Names {
    table: "dropbox",
    label: "Dropbox",
    id: "app key",
    secret: "app secret",
    id_from: "--dropbox-app-key (THREADLINE_DROPBOX_APP_KEY, dropbox.app_key)",
    secret_var: "THREADLINE_DROPBOX_APP_SECRET",
    secret_file_from: "--dropbox-app-secret-file (THREADLINE_DROPBOX_APP_SECRET_FILE, \
                       dropbox.app_secret_file)",
};

impl DropboxConfig {
    /// The configuration from `settings` and the secret of `THREADLINE_DROPBOX_APP_SECRET`;
    /// `None` when no app is set (Dropbox is then not offered), or an error naming the
    /// setting at fault. The default redirect URL is
    /// `http://<listen>/oauth/dropbox/callback`.
    pub fn resolve(
        settings: &DropboxSettings,
        env_secret: Option<SecretString>,
        listen: SocketAddr,
    ) -> Result<Option<DropboxConfig>, ServerError> {
        let names = &NAMES;
        let Some((app_key, app_secret)) = names.credentials(
            settings.app_key.as_ref(),
            env_secret,
            settings.app_secret_file.as_ref(),
        )?
        else {
            return Ok(None);
        };
        let url = |name: &str, given: &Option<String>, default: &str| {
            names.url(name, given.as_ref(), default)
        };
        let default_redirect = client::default_redirect_url(listen, CALLBACK_PATH);
        Ok(Some(DropboxConfig {
            app_key,
            app_secret,
            redirect_url: url("redirect_url", &settings.redirect_url, &default_redirect)?,
            endpoints: DropboxEndpoints {
                auth_url: url("auth_url", &settings.auth_url, DEFAULT_AUTH_URL)?,
                token_url: url("token_url", &settings.token_url, DEFAULT_TOKEN_URL)?,
                api_url: url("api_url", &settings.api_url, DEFAULT_API_URL)?,
                content_url: url("content_url", &settings.content_url, DEFAULT_CONTENT_URL)?,
            },
        }))
    }
}

/// The token endpoint's own fields: the account the code was approved by.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub(super) struct DropboxTokenFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account_id: Option<String>,
}

impl oauth2::ExtraTokenFields for DropboxTokenFields {}

/// `users.FullAccount`, what the connection keeps of it.
#[derive(Debug, Deserialize)]
struct FullAccount {
    account_id: String,
    email: Option<String>,
}

/// Dropbox's OAuth client, ready to use.
pub struct Dropbox {
    config: DropboxConfig,
    client: CodeClient<DropboxTokenFields>,
}

/// What `auth/token/revoke` answered.
enum Revoked {
    Done,
    /// 401: the token was dead already (expired, or revoked); Dropbox's error tag.
    Unauthorized(String),
}

impl Dropbox {
    pub(super) fn new(config: DropboxConfig, http: ProviderHttp) -> Dropbox {
        let client = CodeClient::new(
            Provider::Dropbox,
            &config.app_key,
            &config.app_secret,
            &config.endpoints.auth_url,
            &config.endpoints.token_url,
            &config.redirect_url,
            http,
        );
        Dropbox { config, client }
    }

    pub fn config(&self) -> &DropboxConfig {
        &self.config
    }

    /// The endpoints it was configured with (the APIs' roots too).
    pub fn endpoints(&self) -> &DropboxEndpoints {
        &self.config.endpoints
    }

    /// The HTTP client, for the sync's API calls (same TLS set-up and timeouts).
    pub fn http(&self) -> &ProviderHttp {
        self.client.http()
    }

    /// The one-time start link of a flow (`…/oauth/dropbox/start?flow=…`).
    pub fn start_url(&self, start_secret: &SecretString) -> Url {
        self.client.start_url(start_secret)
    }

    /// A new authorization request: random state, PKCE S256, `token_access_type=offline`,
    /// the identity's scopes and `scopes` (the integrations').
    pub fn authorization(&self, scopes: &[&str]) -> Authorization {
        self.client.authorization(
            requested_scopes(scopes),
            &[("token_access_type", "offline")],
        )
    }

    /// Exchanges an authorization code (with its PKCE verifier and the redirect URI the
    /// authorization named), then reads the account (`users/get_current_account`), which
    /// must be the one the token endpoint named.
    pub async fn exchange(
        &self,
        code: &str,
        pkce_verifier: &SecretString,
        redirect_url: &str,
        asked_scopes: &[String],
    ) -> Result<Grant, Error> {
        let answer = self
            .client
            .exchange(code, pkce_verifier, redirect_url)
            .await?;
        let access_token = client::access_token(&answer);
        let account = self.current_account(&access_token).await?;
        let named = answer.extra_fields().account_id.as_deref();
        if named.is_some_and(|id| id != account.account_id) {
            return Err(Error::Refused(
                "Dropbox's token and its account do not match (the token endpoint and \
                 users/get_current_account name different accounts)"
                    .into(),
            ));
        }
        Ok(Grant {
            provider: Provider::Dropbox,
            account_id: account.account_id,
            account_email: account.email,
            scopes: client::scopes_of(&answer, asked_scopes),
            access_token,
            refresh_token: client::refresh_token_of(&answer),
            access_token_expires_at: client::expiry(&answer),
        })
    }

    /// A new access token for `refresh_token` (Dropbox does not rotate refresh tokens).
    /// `invalid_grant` is [`Error::NeedsReauth`] with a nil id.
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<Refreshed, Error> {
        self.client.refresh(refresh_token).await
    }

    /// Revokes a grant at Dropbox: `auth/token/revoke` with the access token, which also
    /// disables its refresh token. An access token that is dead already (Dropbox's live
    /// about 4 hours) is replaced by a refresh first, so that the refresh token is revoked
    /// too; a refresh token Dropbox refuses was revoked already (the user unlinked the app).
    pub async fn revoke(
        &self,
        access_token: Option<&SecretString>,
        refresh_token: Option<&SecretString>,
    ) -> Result<(), Error> {
        let mut why = String::new();
        if let Some(token) = access_token {
            match self.revoke_with(token).await? {
                Revoked::Done => return Ok(()),
                Revoked::Unauthorized(tag) => why = tag,
            }
        }
        let Some(refresh_token) = refresh_token else {
            return Err(Error::Refused(format!(
                "Dropbox refused to revoke the access token ({why}): it may have expired or \
                 been revoked already"
            )));
        };
        let fresh = match self.refresh(refresh_token).await {
            Ok(refreshed) => refreshed.access_token,
            Err(Error::NeedsReauth { reason, .. }) => {
                return Err(Error::Refused(format!(
                    "{reason}: the grant was revoked already"
                )))
            }
            Err(e) => return Err(e),
        };
        match self.revoke_with(&fresh).await? {
            Revoked::Done => Ok(()),
            Revoked::Unauthorized(tag) => Err(Error::Refused(format!(
                "Dropbox refused to revoke a token it had just issued ({tag})"
            ))),
        }
    }

    async fn revoke_with(&self, token: &SecretString) -> Result<Revoked, Error> {
        let url = self.config.endpoints.api("auth/token/revoke");
        let response = self.post_rpc(&url, token).await?;
        let status = response.status();
        if status.is_success() {
            return Ok(Revoked::Done);
        }
        let tag = error_tag(response).await;
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Ok(Revoked::Unauthorized(tag));
        }
        Err(Error::Refused(format!(
            "Dropbox refused to revoke the grant ({tag})"
        )))
    }

    /// `users/get_current_account`.
    async fn current_account(&self, access_token: &SecretString) -> Result<FullAccount, Error> {
        let url = self.config.endpoints.api("users/get_current_account");
        let endpoint = super::endpoint_of(&url);
        let response = self.post_rpc(&url, access_token).await?;
        let status = response.status();
        if !status.is_success() {
            let tag = error_tag(response).await;
            return Err(Error::Refused(format!(
                "{endpoint} answered HTTP {status} ({tag}): the account's id and address could \
                 not be read (does the app have the account_info.read permission?)"
            )));
        }
        let account: FullAccount = response
            .json()
            .await
            .map_err(|e| Error::Refused(format!("{endpoint} answered unreadable JSON: {e}")))?;
        if account.account_id.trim().is_empty() {
            return Err(Error::Refused(format!("{endpoint} answered no account id")));
        }
        Ok(account)
    }

    /// An RPC call whose argument is `Void`: no body, no `Content-Type`.
    async fn post_rpc(&self, url: &Url, token: &SecretString) -> Result<reqwest::Response, Error> {
        let request = self
            .http()
            .client()
            .post(url.clone())
            .bearer_auth(token.expose_secret());
        self.client.send(url, request).await
    }
}

/// The error of a Dropbox answer: its `error_summary` (`expired_access_token/…`), else the
/// HTTP status.
async fn error_tag(response: reqwest::Response) -> String {
    #[derive(Deserialize)]
    struct Envelope {
        error_summary: Option<String>,
    }
    let status = response.status();
    response
        .json::<Envelope>()
        .await
        .ok()
        .and_then(|e| e.error_summary)
        .map(|s| s.trim_end_matches(['/', '.']).to_string())
        .unwrap_or_else(|| format!("HTTP {status}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listen(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn settings() -> DropboxSettings {
        DropboxSettings {
            app_key: Some("abc123appkey".into()),
            ..DropboxSettings::default()
        }
    }

    fn secret() -> Option<SecretString> {
        Some(SecretString::from("s3cret".to_string()))
    }

    fn resolve(
        settings: DropboxSettings,
        env_secret: Option<SecretString>,
    ) -> Result<Option<DropboxConfig>, ServerError> {
        DropboxConfig::resolve(&settings, env_secret, listen("0.0.0.0:9000"))
    }

    #[test]
    fn no_app_is_not_configured_and_half_an_app_is_an_error() {
        assert!(resolve(DropboxSettings::default(), None).unwrap().is_none());
        let only_key = resolve(settings(), None).unwrap_err().to_string();
        assert!(only_key.contains("no app secret"), "{only_key}");
        assert!(
            only_key.contains("THREADLINE_DROPBOX_APP_SECRET"),
            "{only_key}"
        );
        let only_secret = resolve(DropboxSettings::default(), secret())
            .unwrap_err()
            .to_string();
        assert!(only_secret.contains("no app key"), "{only_secret}");
        assert!(only_secret.contains("--dropbox-app-key"), "{only_secret}");
    }

    #[test]
    fn defaults_are_dropboxs_and_urls_are_checked() {
        let config = resolve(settings(), secret()).unwrap().unwrap();
        assert_eq!(config.endpoints, DropboxEndpoints::dropbox());
        assert_eq!(
            config.redirect_url.as_str(),
            "http://127.0.0.1:9000/oauth/dropbox/callback"
        );
        assert!(!format!("{config:?}").contains("s3cret"));
        assert_eq!(
            config.endpoints.api("users/get_current_account").as_str(),
            "https://api.dropboxapi.com/2/users/get_current_account"
        );
        assert_eq!(
            config.endpoints.content("files/upload").as_str(),
            "https://content.dropboxapi.com/2/files/upload"
        );
        let in_clear = DropboxSettings {
            api_url: Some("http://api.example.com/2".into()),
            ..settings()
        };
        let err = resolve(in_clear, secret()).unwrap_err().to_string();
        assert!(err.contains("dropbox.api_url"), "{err}");
        assert!(err.contains("must be an https:// URL"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("dropbox.secret");
        std::fs::write(&file, "from-file\n").unwrap();
        let from_file = DropboxSettings {
            app_secret_file: Some(file),
            ..settings()
        };
        let config = resolve(from_file.clone(), None).unwrap().unwrap();
        assert_eq!(config.app_secret.expose_secret(), "from-file");
        let twice = resolve(from_file, secret()).unwrap_err().to_string();
        assert!(twice.contains("given twice"), "{twice}");
    }

    #[test]
    fn the_authorization_asks_for_offline_access_with_pkce() {
        let mut config = resolve(settings(), secret()).unwrap().unwrap();
        config.endpoints = DropboxEndpoints::all_at("http://127.0.0.1:1").unwrap();
        let dropbox = Dropbox::new(config, ProviderHttp::new().unwrap());
        let authorization = dropbox.authorization(&["files.content.read", "account_info.read"]);
        let url = &authorization.url;
        assert!(url
            .as_str()
            .starts_with("http://127.0.0.1:1/oauth2/authorize?"));
        let params: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(params["response_type"], "code");
        assert_eq!(params["client_id"], "abc123appkey");
        assert_eq!(params["token_access_type"], "offline");
        assert_eq!(params["code_challenge_method"], "S256");
        assert_eq!(params["scope"], "account_info.read files.content.read");
        assert_eq!(
            params["redirect_uri"],
            "http://127.0.0.1:9000/oauth/dropbox/callback"
        );
        assert_eq!(&params["state"], authorization.state.expose_secret());
        assert_eq!(
            dropbox
                .start_url(&SecretString::from("f".to_string()))
                .as_str(),
            "http://127.0.0.1:9000/oauth/dropbox/start?flow=f"
        );
    }
}
