//! Google's OAuth 2.0 client for a web-server app (authorization code with PKCE, offline
//! access), through the `oauth2` crate; the account comes from OpenID Connect's userinfo.
//!
//! Every URL is configurable ([`GoogleEndpoints`]): tests point them all at
//! `threadline-fake-providers` ([`GoogleEndpoints::all_at`]).

use std::net::SocketAddr;

use oauth2::EmptyExtraTokenFields;
use serde::Deserialize;
use url::Url;

use super::client::{self, CodeClient, Names};
use super::sign_in;
use super::{Error, ProviderHttp};
use crate::{Grant, Provider, Refreshed};
pub use client::Authorization;
use threadline_storage::secrets::{ExposeSecret, SecretString};
use threadline_storage::Error as ServerError;

/// The `[google]` table, and Google's settings gathered from flags, environment and file
/// (first found wins, per setting): the OAuth client and endpoints.
/// [`GoogleConfig::resolve`] checks them. The client secret is not a
/// key: it comes from `THREADLINE_GOOGLE_CLIENT_SECRET` or the file `client_secret_file`
/// names.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleSettings {
    pub client_id: Option<String>,
    pub client_secret_file: Option<std::path::PathBuf>,
    pub redirect_url: Option<String>,
    pub auth_url: Option<String>,
    pub token_url: Option<String>,
    pub revoke_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub discovery_url: Option<String>,
    pub calendar_api_url: Option<String>,
    pub people_api_url: Option<String>,
    pub drive_api_url: Option<String>,
    pub drive_upload_url: Option<String>,
}

pub const DEFAULT_AUTH_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
pub const DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
pub const DEFAULT_REVOKE_URL: &str = "https://oauth2.googleapis.com/revoke";
pub const DEFAULT_USERINFO_URL: &str = "https://openidconnect.googleapis.com/v1/userinfo";
/// OpenID Connect's discovery document (its `jwks_uri`: the keys of ID tokens).
pub const DEFAULT_DISCOVERY_URL: &str =
    "https://accounts.google.com/.well-known/openid-configuration";
pub const DEFAULT_CALENDAR_API_URL: &str = "https://www.googleapis.com/calendar/v3";
pub const DEFAULT_PEOPLE_API_URL: &str = "https://people.googleapis.com/v1";
pub const DEFAULT_DRIVE_API_URL: &str = "https://www.googleapis.com/drive/v3";
pub const DEFAULT_DRIVE_UPLOAD_URL: &str = "https://www.googleapis.com/upload/drive/v3";
/// Where Google sends the browser back (outside `/api/v1`: the browser has no API token).
pub const CALLBACK_PATH: &str = "/oauth/google/callback";
/// Where the browser starts a connect flow (the one-time start link): beside the callback, so
/// that the cookie it sets goes back with the callback.
pub const START_PATH: &str = "/oauth/google/start";

/// The scopes every Google connection asks for: who the account is (its stable id `sub`
/// and address). The integrations add theirs (each declares its own on the sync engine's
/// seam); one connection per user serves them all, and connecting again asks for new ones
/// too (`include_granted_scopes` keeps the old).
pub const IDENTITY_SCOPES: &[&str] = &["openid", "email"];
/// What [`IDENTITY_SCOPES`] give, for people.
pub const IDENTITY_LABEL: &str = "your account's address";

/// True when `granted` (a connection's scopes) holds every one of `scopes`. Google lets the
/// user untick scopes on the consent screen.
pub fn granted(scopes: &[&str], granted: &[String]) -> bool {
    scopes
        .iter()
        .all(|scope| granted.iter().any(|g| g == scope))
}

/// The scopes a connect flow asks for: the identity's, then `extra` (the integrations'),
/// each once.
pub fn requested_scopes(extra: &[&str]) -> Vec<String> {
    client::requested_scopes(IDENTITY_SCOPES, extra)
}

/// Google's URLs, each replaceable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleEndpoints {
    pub auth_url: Url,
    pub token_url: Url,
    pub revoke_url: Url,
    pub userinfo_url: Url,
    /// OpenID Connect's discovery document, for signing in with Google.
    pub discovery_url: Url,
    /// The Calendar API's root (`…/calendar/v3`), for the sync.
    pub calendar_api_url: Url,
    /// The People API's root (`…/v1`), for the contacts export.
    pub people_api_url: Url,
    /// The Drive API's root (`…/drive/v3`), for the file sync.
    pub drive_api_url: Url,
    /// The Drive API's upload root (`…/upload/drive/v3`): multipart and resumable uploads.
    pub drive_upload_url: Url,
}

impl GoogleEndpoints {
    /// Google's own.
    pub fn google() -> GoogleEndpoints {
        let parse = |s: &str| Url::parse(s).expect("a valid built-in URL");
        GoogleEndpoints {
            auth_url: parse(DEFAULT_AUTH_URL),
            token_url: parse(DEFAULT_TOKEN_URL),
            revoke_url: parse(DEFAULT_REVOKE_URL),
            userinfo_url: parse(DEFAULT_USERINFO_URL),
            discovery_url: parse(DEFAULT_DISCOVERY_URL),
            calendar_api_url: parse(DEFAULT_CALENDAR_API_URL),
            people_api_url: parse(DEFAULT_PEOPLE_API_URL),
            drive_api_url: parse(DEFAULT_DRIVE_API_URL),
            drive_upload_url: parse(DEFAULT_DRIVE_UPLOAD_URL),
        }
    }

    /// Every endpoint on one server, at Google's paths (as `threadline-fake-providers`
    /// serves them): `{base}/o/oauth2/v2/auth`, `{base}/token`, `{base}/revoke`,
    /// `{base}/v1/userinfo`, `{base}/.well-known/openid-configuration`, `{base}/calendar/v3`, `{base}/v1` (People), `{base}/drive/v3`,
    /// `{base}/upload/drive/v3`.
    pub fn all_at(base: &str) -> Result<GoogleEndpoints, url::ParseError> {
        let base = base.trim_end_matches('/');
        let at = |path: &str| Url::parse(&format!("{base}{path}"));
        Ok(GoogleEndpoints {
            auth_url: at("/o/oauth2/v2/auth")?,
            token_url: at("/token")?,
            revoke_url: at("/revoke")?,
            userinfo_url: at("/v1/userinfo")?,
            discovery_url: at("/.well-known/openid-configuration")?,
            calendar_api_url: at("/calendar/v3")?,
            people_api_url: at("/v1")?,
            drive_api_url: at("/drive/v3")?,
            drive_upload_url: at("/upload/drive/v3")?,
        })
    }
}

/// A configured Google OAuth client.
#[derive(Debug, Clone)]
pub struct GoogleConfig {
    pub client_id: String,
    /// `Debug` shows `[REDACTED]`.
    pub client_secret: SecretString,
    /// Registered with the client at Google; ends with [`CALLBACK_PATH`] unless a proxy
    /// rewrites it.
    pub redirect_url: Url,
    pub endpoints: GoogleEndpoints,
}

impl GoogleConfig {
    /// The configuration from `settings` and the secret of `THREADLINE_GOOGLE_CLIENT_SECRET`;
    /// `None` when no client is set (Google is then not offered), or an error naming the
    /// setting at fault. `listen` is the address the server listens on: the default redirect
    /// URL is `http://<it>/oauth/google/callback`.
    pub fn resolve(
        settings: &GoogleSettings,
        env_secret: Option<SecretString>,
        listen: SocketAddr,
    ) -> Result<Option<GoogleConfig>, ServerError> {
        let names = &NAMES;
        let Some((client_id, client_secret)) = names.credentials(
            settings.client_id.as_ref(),
            env_secret,
            settings.client_secret_file.as_ref(),
        )?
        else {
            return Ok(None);
        };
        let url = |name: &str, given: &Option<String>, default: &str| {
            names.url(name, given.as_ref(), default)
        };
        let default_redirect = default_redirect_url(listen);
        Ok(Some(GoogleConfig {
            client_id,
            client_secret,
            redirect_url: url("redirect_url", &settings.redirect_url, &default_redirect)?,
            endpoints: GoogleEndpoints {
                auth_url: url("auth_url", &settings.auth_url, DEFAULT_AUTH_URL)?,
                token_url: url("token_url", &settings.token_url, DEFAULT_TOKEN_URL)?,
                revoke_url: url("revoke_url", &settings.revoke_url, DEFAULT_REVOKE_URL)?,
                userinfo_url: url("userinfo_url", &settings.userinfo_url, DEFAULT_USERINFO_URL)?,
                discovery_url: url(
                    "discovery_url",
                    &settings.discovery_url,
                    DEFAULT_DISCOVERY_URL,
                )?,
                calendar_api_url: url(
                    "calendar_api_url",
                    &settings.calendar_api_url,
                    DEFAULT_CALENDAR_API_URL,
                )?,
                people_api_url: url(
                    "people_api_url",
                    &settings.people_api_url,
                    DEFAULT_PEOPLE_API_URL,
                )?,
                drive_api_url: url(
                    "drive_api_url",
                    &settings.drive_api_url,
                    DEFAULT_DRIVE_API_URL,
                )?,
                drive_upload_url: url(
                    "drive_upload_url",
                    &settings.drive_upload_url,
                    DEFAULT_DRIVE_UPLOAD_URL,
                )?,
            },
        }))
    }
}

/// How Google's settings are named in messages.
const NAMES: Names = Names {
    table: "google",
    label: "Google",
    id: "client id",
    secret: "client secret",
    id_from: "--google-client-id (THREADLINE_GOOGLE_CLIENT_ID, google.client_id)",
    secret_var: "THREADLINE_GOOGLE_CLIENT_SECRET",
    secret_file_from: "--google-client-secret-file (THREADLINE_GOOGLE_CLIENT_SECRET_FILE, \
                       google.client_secret_file)",
};

/// `http://<listen address>/oauth/google/callback`; an unspecified address (`0.0.0.0`,
/// `::`) becomes the loopback one, which a browser on the same machine reaches (Google
/// accepts `http` only for loopback redirect URIs: anything else needs `redirect_url`).
pub fn default_redirect_url(listen: SocketAddr) -> String {
    client::default_redirect_url(listen, CALLBACK_PATH)
}

/// Where Google sends the browser back after a sign-in: [`sign_in::CALLBACK_PATH`] on the
/// origin of the integrations' redirect URL (both are registered with the client).
pub fn sign_in_redirect_url(redirect_url: &Url) -> Url {
    redirect_url
        .join(sign_in::CALLBACK_PATH)
        .expect("an absolute path joins any http(s) URL")
}

/// Google's OAuth client, ready to use.
pub struct Google {
    config: GoogleConfig,
    client: CodeClient<EmptyExtraTokenFields>,
    /// Sign in with Google: the same client, its own redirect URI and the ID token.
    sign_in_client: CodeClient<sign_in::IdTokenFields>,
    keys: sign_in::KeyCache,
}

/// The account behind a token: OpenID Connect's userinfo.
#[derive(Debug, Deserialize)]
struct UserInfo {
    sub: String,
    email: Option<String>,
}

impl Google {
    /// The endpoints it was configured with (the APIs' roots too).
    pub fn endpoints(&self) -> &GoogleEndpoints {
        &self.config.endpoints
    }

    pub(super) fn new(config: GoogleConfig, http: ProviderHttp) -> Google {
        let endpoints = &config.endpoints;
        let client = CodeClient::new(
            Provider::Google,
            &config.client_id,
            &config.client_secret,
            &endpoints.auth_url,
            &endpoints.token_url,
            &config.redirect_url,
            http.clone(),
        );
        let sign_in_client = CodeClient::new(
            Provider::Google,
            &config.client_id,
            &config.client_secret,
            &endpoints.auth_url,
            &endpoints.token_url,
            &sign_in_redirect_url(&config.redirect_url),
            http,
        );
        let keys = sign_in::KeyCache::new(endpoints.discovery_url.clone());
        Google {
            config,
            client,
            sign_in_client,
            keys,
        }
    }

    /// Signing in with Google: a new authorization for [`sign_in::SCOPES`] carrying `nonce`
    /// (random state, PKCE S256), back to [`sign_in::CALLBACK_PATH`].
    pub fn sign_in_authorization(&self, nonce: &str) -> Authorization {
        let scopes = sign_in::SCOPES.iter().map(|s| s.to_string()).collect();
        self.sign_in_client
            .authorization(scopes, &[("nonce", nonce), ("prompt", "select_account")])
    }

    /// Signing in with Google: exchanges the callback's `code` of `flow`, then verifies the
    /// ID token of the answer against Google's keys, the client id and the flow's nonce.
    pub async fn sign_in(
        &self,
        code: &str,
        flow: &sign_in::Flow,
    ) -> Result<sign_in::Verified, sign_in::SignInError> {
        let answer = self
            .sign_in_client
            .exchange(code, &flow.pkce_verifier, &flow.redirect_url)
            .await?;
        let token = answer
            .extra_fields()
            .id_token
            .as_deref()
            .ok_or(sign_in::Refusal::Malformed)?;
        let kid = jsonwebtoken::decode_header(token)
            .map_err(|_| sign_in::Refusal::Malformed)?
            .kid;
        let keys = self.keys.keys(self.http().client(), kid.as_deref()).await?;
        let now = chrono::Utc::now().timestamp();
        Ok(sign_in::verify_id_token(
            token,
            &keys,
            &self.config.client_id,
            &flow.nonce_hash,
            now,
        )?)
    }

    pub fn config(&self) -> &GoogleConfig {
        &self.config
    }

    /// The one-time start link of a flow: the redirect URL's sibling `start` (`…/start` for
    /// `…/callback`, behind a proxy too), with `flow=<secret>`.
    pub fn start_url(&self, start_secret: &SecretString) -> Url {
        self.client.start_url(start_secret)
    }

    /// The HTTP client, for the sync's API calls (same TLS set-up and timeouts).
    pub fn http(&self) -> &ProviderHttp {
        self.client.http()
    }

    /// A new authorization request: random state, PKCE S256, offline access with a consent
    /// screen (so that Google sends a refresh token again on a reconnect), the identity's
    /// scopes and `scopes` (the integrations'). `login_hint` preselects the account.
    pub fn authorization(&self, login_hint: Option<&str>, scopes: &[&str]) -> Authorization {
        let mut extra = vec![
            ("access_type", "offline"),
            ("prompt", "consent"),
            ("include_granted_scopes", "true"),
        ];
        if let Some(hint) = login_hint {
            extra.push(("login_hint", hint));
        }
        self.client.authorization(requested_scopes(scopes), &extra)
    }

    /// Exchanges an authorization code (with its PKCE verifier and the redirect URI the
    /// authorization named), then asks who the account is.
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
        let account = self.userinfo(&access_token).await?;
        Ok(Grant {
            provider: Provider::Google,
            account_id: account.sub,
            account_email: account.email,
            scopes: client::scopes_of(&answer, asked_scopes),
            access_token,
            refresh_token: client::refresh_token_of(&answer),
            access_token_expires_at: client::expiry(&answer),
        })
    }

    /// A new access token for `refresh_token`. `invalid_grant` is
    /// [`Error::NeedsReauth`] with a nil id: the caller fills in the connection.
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<Refreshed, Error> {
        self.client.refresh(refresh_token).await
    }

    /// Revokes a grant at Google: a refresh token revokes the whole grant (an access token,
    /// at Google, its grant too).
    ///
    /// A form POST of `token` to the revoke URL, as Google documents it, rather than the
    /// `oauth2` crate's RFC 7009 request: that one refuses any `http://` URL, so a local test
    /// server could not stand in for Google (the configuration allows `http://` for
    /// loopback addresses only).
    pub async fn revoke(&self, token: &SecretString) -> Result<(), Error> {
        let url = &self.config.endpoints.revoke_url;
        let response = self
            .client
            .send(
                url,
                self.http()
                    .client()
                    .post(url.clone())
                    .form(&[("token", token.expose_secret())]),
            )
            .await?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        #[derive(Deserialize)]
        struct Refusal {
            error: Option<String>,
        }
        let error = response
            .json::<Refusal>()
            .await
            .ok()
            .and_then(|r| r.error)
            .unwrap_or_else(|| format!("HTTP {status}"));
        Err(Error::Refused(format!(
            "Google refused to revoke the grant ({error}): it may have been revoked already"
        )))
    }

    async fn userinfo(&self, access_token: &SecretString) -> Result<UserInfo, Error> {
        let url = &self.config.endpoints.userinfo_url;
        let endpoint = super::endpoint_of(url);
        let request = self
            .http()
            .client()
            .get(url.clone())
            .bearer_auth(access_token.expose_secret());
        let response = self.client.send(url, request).await?;
        let status = response.status();
        if !status.is_success() {
            return Err(Error::Refused(format!(
                "{endpoint} answered HTTP {status}: the account's id and address could not be \
                 read (was the `openid` scope granted?)"
            )));
        }
        let info: UserInfo = response
            .json()
            .await
            .map_err(|e| Error::Refused(format!("{endpoint} answered unreadable JSON: {e}")))?;
        if info.sub.trim().is_empty() {
            return Err(Error::Refused(format!(
                "{endpoint} answered no account id (sub)"
            )));
        }
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listen(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn settings() -> GoogleSettings {
        GoogleSettings {
            client_id: Some("cid.apps.googleusercontent.com".into()),
            ..GoogleSettings::default()
        }
    }

    fn secret() -> Option<SecretString> {
        Some(SecretString::from("s3cret".to_string()))
    }

    fn resolve(
        settings: GoogleSettings,
        env_secret: Option<SecretString>,
        at: &str,
    ) -> Result<Option<GoogleConfig>, ServerError> {
        GoogleConfig::resolve(&settings, env_secret, listen(at))
    }

    #[test]
    fn no_client_is_not_configured_and_half_a_client_is_an_error() {
        let none = resolve(GoogleSettings::default(), None, "127.0.0.1:8787");
        assert!(none.unwrap().is_none());
        let only_id = resolve(settings(), None, "127.0.0.1:8787").unwrap_err();
        assert!(
            only_id.to_string().contains("no client secret"),
            "{only_id}"
        );
        let only_secret =
            resolve(GoogleSettings::default(), secret(), "127.0.0.1:8787").unwrap_err();
        assert!(
            only_secret.to_string().contains("no client id"),
            "{only_secret}"
        );
    }

    #[test]
    fn defaults_are_googles_and_the_redirect_follows_the_listen_address() {
        let config = resolve(settings(), secret(), "0.0.0.0:9000")
            .unwrap()
            .unwrap();
        assert_eq!(config.endpoints, GoogleEndpoints::google());
        assert_eq!(
            config.redirect_url.as_str(),
            "http://127.0.0.1:9000/oauth/google/callback"
        );
        let v6 = resolve(settings(), secret(), "[::]:80").unwrap().unwrap();
        assert_eq!(
            v6.redirect_url.as_str(),
            "http://[::1]/oauth/google/callback"
        );
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    #[test]
    fn a_bad_url_names_its_key_and_the_secret_file_is_read() {
        let bad_token_url = GoogleSettings {
            token_url: Some("not a url".into()),
            ..settings()
        };
        let err = resolve(bad_token_url, secret(), "127.0.0.1:1").unwrap_err();
        assert!(err.to_string().contains("google.token_url"), "{err}");
        let bad_redirect = GoogleSettings {
            redirect_url: Some("ftp://x/cb".into()),
            ..settings()
        };
        let err = resolve(bad_redirect, secret(), "127.0.0.1:1").unwrap_err();
        assert!(err.to_string().contains("google.redirect_url"), "{err}");
        let in_clear = GoogleSettings {
            token_url: Some("http://oauth.example.com/token".into()),
            ..settings()
        };
        let err = resolve(in_clear, secret(), "127.0.0.1:1").unwrap_err();
        assert!(err.to_string().contains("must be an https:// URL"), "{err}");
        let local = GoogleSettings {
            token_url: Some("http://localhost:9999/token".into()),
            ..settings()
        };
        assert!(resolve(local, secret(), "127.0.0.1:1").is_ok());

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("google.secret");
        std::fs::write(&file, "from-file\n").unwrap();
        let from_file = GoogleSettings {
            client_secret_file: Some(file),
            ..settings()
        };
        let config = resolve(from_file.clone(), None, "127.0.0.1:1")
            .unwrap()
            .unwrap();
        assert_eq!(config.client_secret.expose_secret(), "from-file");
        let twice = resolve(from_file, secret(), "127.0.0.1:1").unwrap_err();
        assert!(twice.to_string().contains("given twice"), "{twice}");
        let missing = GoogleSettings {
            client_secret_file: Some(dir.path().join("typo")),
            ..settings()
        };
        let err = resolve(missing, None, "127.0.0.1:1").unwrap_err();
        assert!(err.to_string().contains("typo"), "{err}");
    }

    #[test]
    fn drive_urls_default_to_googles_are_set_by_key_and_point_at_a_local_fake() {
        let drive =
            |e: &GoogleEndpoints| (e.drive_api_url.to_string(), e.drive_upload_url.to_string());
        let config = resolve(settings(), secret(), "127.0.0.1:1")
            .unwrap()
            .unwrap();
        assert_eq!(
            drive(&config.endpoints),
            (
                DEFAULT_DRIVE_API_URL.into(),
                DEFAULT_DRIVE_UPLOAD_URL.into()
            )
        );
        let local = (
            "http://127.0.0.1:7/drive/v3".to_string(),
            "http://127.0.0.1:7/upload/drive/v3".to_string(),
        );
        let set = GoogleSettings {
            drive_api_url: Some(local.0.clone()),
            drive_upload_url: Some(local.1.clone()),
            ..settings()
        };
        let config = resolve(set, secret(), "127.0.0.1:1").unwrap().unwrap();
        assert_eq!(drive(&config.endpoints), local);
        assert_eq!(
            drive(&GoogleEndpoints::all_at("http://127.0.0.1:7/").unwrap()),
            local
        );
        let bad = GoogleSettings {
            drive_upload_url: Some("not a url".into()),
            ..settings()
        };
        let err = resolve(bad, secret(), "127.0.0.1:1").unwrap_err();
        assert!(err.to_string().contains("google.drive_upload_url"), "{err}");
    }

    #[test]
    fn scopes_grow_by_integration() {
        let calendar = ["https://www.googleapis.com/auth/calendar"];
        let scopes = requested_scopes(&[calendar[0], "openid"]);
        assert_eq!(
            scopes,
            [
                "openid",
                "email",
                "https://www.googleapis.com/auth/calendar"
            ]
        );
        assert!(granted(&calendar, &scopes));
        assert!(!granted(&calendar, &["openid".to_string()]));
    }
}
