//! What Google's and Dropbox's clients share: checking their settings (the client's id and
//! secret, every URL), and the authorization code flow itself through the `oauth2` crate
//! (authorization URL with PKCE S256, code exchange, refresh), with what a token endpoint's
//! failure means for the caller.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use chrono::Utc;
use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse,
    BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, StandardRevocableToken, StandardTokenResponse, TokenResponse,
    TokenUrl,
};
use url::Url;

use super::{Error, HttpFailure, ProviderHttp};
use crate::{Provider, Refreshed};
use threadline_storage::secrets::{ExposeSecret, SecretString};
use threadline_storage::Error as ServerError;

/// How a provider's settings are named in messages: its configuration table, and the names
/// of its client's id and secret with the flags, variables and keys that set them.
pub(super) struct Names {
    /// `google`, `dropbox`: the file table, the prefix of keys in messages.
    pub table: &'static str,
    pub label: &'static str,
    /// `client id`, `app key`.
    pub id: &'static str,
    /// `client secret`, `app secret`.
    pub secret: &'static str,
    /// Where the id is set, e.g. `--google-client-id (THREADLINE_GOOGLE_CLIENT_ID, google.client_id)`.
    pub id_from: &'static str,
    /// The secret's variable, e.g. `THREADLINE_GOOGLE_CLIENT_SECRET`.
    pub secret_var: &'static str,
    /// Where the secret file is set, e.g. `--google-client-secret-file (…)`.
    pub secret_file_from: &'static str,
}

impl Names {
    /// The client's id and secret: both, or neither (`None`: the provider is not offered);
    /// the secret from its variable (`env_secret`) or from `secret_file`, not both.
    pub fn credentials(
        &self,
        id: Option<&String>,
        env_secret: Option<SecretString>,
        secret_file: Option<&std::path::PathBuf>,
    ) -> Result<Option<(String, SecretString)>, ServerError> {
        let invalid = |message: String| ServerError::Invalid(message);
        let id = id.filter(|s| !s.trim().is_empty());
        let secret = match (env_secret, secret_file) {
            (Some(_), Some(file)) => {
                return Err(invalid(format!(
                    "the {} {} is given twice: by {} and by the file {} ({}); keep one",
                    self.label,
                    self.secret,
                    self.secret_var,
                    file.display(),
                    self.secret_file_from
                )))
            }
            (Some(secret), None) => Some(secret),
            (None, Some(file)) => Some(self.read_secret_file(file)?),
            (None, None) => None,
        };
        let (id, secret) = match (id, secret) {
            (None, None) => return Ok(None),
            (Some(id), Some(secret)) => (id.trim().to_string(), secret),
            (None, Some(_)) => {
                return Err(invalid(format!(
                    "a {} {} is set but no {}: set {}",
                    self.label, self.secret, self.id, self.id_from
                )))
            }
            (Some(_), None) => {
                return Err(invalid(format!(
                    "a {} {} is set but no {}: set {}, or {}",
                    self.label, self.id, self.secret, self.secret_var, self.secret_file_from
                )))
            }
        };
        if secret.expose_secret().trim().is_empty() {
            return Err(invalid(format!(
                "the {} {} is empty",
                self.label, self.secret
            )));
        }
        Ok(Some((id, secret)))
    }

    /// The first line of a secret file, trimmed.
    fn read_secret_file(&self, path: &std::path::Path) -> Result<SecretString, ServerError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ServerError::Invalid(format!(
                "cannot read the {} {} file {}: {e}",
                self.label,
                self.secret,
                path.display()
            ))
        })?;
        let secret = text.lines().next().unwrap_or_default().trim().to_string();
        if secret.is_empty() {
            return Err(ServerError::Invalid(format!(
                "the {} {} file {} is empty",
                self.label,
                self.secret,
                path.display()
            )));
        }
        Ok(SecretString::from(secret))
    }

    /// The setting `name` (`given`, else `default`) as a URL that secrets may travel to:
    /// https, or http to this machine only (as Google and Dropbox allow for redirect URLs).
    pub fn url(
        &self,
        name: &str,
        given: Option<&String>,
        default: &str,
    ) -> Result<Url, ServerError> {
        let table = self.table;
        let text = given.cloned().unwrap_or_else(|| default.to_string());
        let parsed = Url::parse(text.trim()).map_err(|e| {
            ServerError::Invalid(format!("{table}.{name}: {text:?} is not a URL ({e})"))
        })?;
        if !may_carry_secrets(&parsed) {
            return Err(ServerError::Invalid(format!(
                "{table}.{name}: {text:?} must be an https:// URL (http:// only for \
                 127.0.0.1, ::1 or localhost)"
            )));
        }
        Ok(parsed)
    }
}

/// True for a URL that secrets may travel to: https, or http to this machine only (as Google
/// and Dropbox allow for redirect URLs).
pub(super) fn may_carry_secrets(url: &Url) -> bool {
    let loopback = match url.host() {
        Some(url::Host::Domain(host)) => host == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => loopback,
        _ => false,
    }
}

/// `http://<listen address><callback_path>`; an unspecified address (`0.0.0.0`, `::`)
/// becomes the loopback one, which a browser on the same machine reaches (Google and Dropbox
/// accept `http` only for loopback redirect URIs: anything else needs `redirect_url`).
pub fn default_redirect_url(listen: SocketAddr, callback_path: &str) -> String {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!(
        "http://{}{callback_path}",
        SocketAddr::new(ip, listen.port())
    )
}

/// The scopes a connect flow asks for: `identity`'s, then `extra` (the integrations'), each
/// once.
pub fn requested_scopes(identity: &[&str], extra: &[&str]) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in identity.iter().chain(extra) {
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_string());
        }
    }
    scopes
}

/// A started authorization: where to send the browser, and what to keep until it comes
/// back (`Debug` shows no secret).
#[derive(Debug)]
pub struct Authorization {
    pub url: Url,
    pub state: SecretString,
    pub pkce_verifier: SecretString,
    pub scopes: Vec<String>,
    pub redirect_url: String,
}

/// The token endpoint's answer, with the provider's own fields `EF`.
pub(super) type TokenAnswer<EF> = StandardTokenResponse<EF, BasicTokenType>;

type Client<EF> = oauth2::Client<
    BasicErrorResponse,
    TokenAnswer<EF>,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// An OAuth 2.0 web-server client of `provider` (authorization code with PKCE), its answers
/// carrying the extra fields `EF`.
pub(super) struct CodeClient<EF: ExtraTokenFields> {
    provider: Provider,
    client: Client<EF>,
    http: ProviderHttp,
    redirect_url: Url,
}

impl<EF: ExtraTokenFields> CodeClient<EF> {
    /// The client credentials travel in the form body (both providers document it).
    pub fn new(
        provider: Provider,
        client_id: &str,
        client_secret: &SecretString,
        auth_url: &Url,
        token_url: &Url,
        redirect_url: &Url,
        http: ProviderHttp,
    ) -> CodeClient<EF> {
        let client = oauth2::Client::new(ClientId::new(client_id.to_string()))
            .set_client_secret(ClientSecret::new(client_secret.expose_secret().to_string()))
            .set_auth_type(AuthType::RequestBody)
            .set_auth_uri(AuthUrl::from_url(auth_url.clone()))
            .set_token_uri(TokenUrl::from_url(token_url.clone()))
            .set_redirect_uri(RedirectUrl::from_url(redirect_url.clone()));
        CodeClient {
            provider,
            client,
            http,
            redirect_url: redirect_url.clone(),
        }
    }

    pub fn http(&self) -> &ProviderHttp {
        &self.http
    }

    /// The one-time start link of a flow: the redirect URL's sibling `start` (`…/start` for
    /// `…/callback`, behind a proxy too), with `flow=<secret>`.
    pub fn start_url(&self, start_secret: &SecretString) -> Url {
        let mut url = self
            .redirect_url
            .join("start")
            .expect("a relative path joins any http(s) URL");
        url.query_pairs_mut()
            .append_pair("flow", start_secret.expose_secret());
        url
    }

    /// A new authorization request: random state, PKCE S256, `scopes`, then `extra`
    /// parameters (the provider's own).
    pub fn authorization(&self, scopes: Vec<String>, extra: &[(&str, &str)]) -> Authorization {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = self
            .client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge);
        for (name, value) in extra {
            request = request.add_extra_param(*name, *value);
        }
        let (url, state) = request.url();
        Authorization {
            url,
            state: SecretString::from(state.secret().clone()),
            pkce_verifier: SecretString::from(verifier.secret().clone()),
            scopes,
            redirect_url: self.redirect_url.to_string(),
        }
    }

    /// Exchanges an authorization code, with its PKCE verifier and the redirect URI the
    /// authorization named. A refused code is [`Error::Refused`]: no connection's.
    pub async fn exchange(
        &self,
        code: &str,
        pkce_verifier: &SecretString,
        redirect_url: &str,
    ) -> Result<TokenAnswer<EF>, Error> {
        let redirect = RedirectUrl::new(redirect_url.to_string())
            .map_err(|e| Error::Refused(format!("the stored redirect URL is not valid: {e}")))?;
        self.client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(
                pkce_verifier.expose_secret().to_string(),
            ))
            .set_redirect_uri(Cow::Owned(redirect))
            .request_async(&self.http)
            .await
            .map_err(|e| match self.token_error("the code exchange", e) {
                Error::NeedsReauth { reason, .. } => Error::Refused(reason),
                other => other,
            })
    }

    /// A new access token for `refresh_token`. `invalid_grant` is [`Error::NeedsReauth`]
    /// with a nil id: the caller fills in the connection.
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<Refreshed, Error> {
        let token = RefreshToken::new(refresh_token.expose_secret().to_string());
        let answer = self
            .client
            .exchange_refresh_token(&token)
            .request_async(&self.http)
            .await
            .map_err(|e| self.token_error("the token refresh", e))?;
        Ok(Refreshed {
            access_token: access_token(&answer),
            access_token_expires_at: expiry(&answer),
            // Neither provider rotates refresh tokens, but would one send one, it is the one.
            refresh_token: refresh_token_of(&answer),
        })
    }

    /// Sends a request to `url`: 5xx and 429 answers, and failures to get an answer, are
    /// [`Error::Transient`]; other answers are the caller's to read.
    pub async fn send(
        &self,
        url: &Url,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, Error> {
        let endpoint = super::endpoint_of(url);
        let response = request
            .send()
            .await
            .map_err(|e| HttpFailure::network(&endpoint, &e).into_transient())?;
        let status = response.status();
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(HttpFailure::Status {
                endpoint,
                status: status.as_u16(),
                retry_after: super::retry_after(response.headers()),
            }
            .into_transient());
        }
        Ok(response)
    }

    /// What a token endpoint failure means for the caller.
    fn token_error(&self, what: &str, e: TokenError) -> Error {
        let label = self.provider.label();
        match e {
            RequestTokenError::Request(failure) => failure.into_transient(),
            RequestTokenError::ServerResponse(answer) => {
                let detail = answer
                    .error_description()
                    .map(|d| format!("{}: {d}", answer.error()))
                    .unwrap_or_else(|| answer.error().to_string());
                match answer.error() {
                    BasicErrorResponseType::InvalidGrant => Error::NeedsReauth {
                        id: uuid::Uuid::nil(),
                        reason: format!("{label} refused {what} ({detail})"),
                    },
                    BasicErrorResponseType::InvalidClient
                    | BasicErrorResponseType::UnauthorizedClient => Error::Refused(format!(
                        "{label} refused the server's OAuth client in {what} ({detail}): check \
                         the {}",
                        self.provider.client_credentials()
                    )),
                    _ => Error::Refused(format!("{label} refused {what} ({detail})")),
                }
            }
            RequestTokenError::Parse(_, _) => {
                Error::Refused(format!("{label}'s answer to {what} could not be read"))
            }
            RequestTokenError::Other(message) => {
                Error::Refused(format!("{label}'s answer to {what}: {message}"))
            }
        }
    }
}

type TokenError = RequestTokenError<HttpFailure, BasicErrorResponse>;

pub(super) fn access_token<EF: ExtraTokenFields>(answer: &TokenAnswer<EF>) -> SecretString {
    SecretString::from(answer.access_token().secret().clone())
}

pub(super) fn refresh_token_of<EF: ExtraTokenFields>(
    answer: &TokenAnswer<EF>,
) -> Option<SecretString> {
    answer
        .refresh_token()
        .map(|t| SecretString::from(t.secret().clone()))
}

/// The granted scopes, or `asked` when the answer has none (RFC 6749 §5.1: as asked).
pub(super) fn scopes_of<EF: ExtraTokenFields>(
    answer: &TokenAnswer<EF>,
    asked: &[String],
) -> Vec<String> {
    match answer.scopes() {
        Some(granted) => granted.iter().map(|s| s.to_string()).collect(),
        None => asked.to_vec(),
    }
}

pub(super) fn expiry<EF: ExtraTokenFields>(
    answer: &TokenAnswer<EF>,
) -> Option<chrono::DateTime<Utc>> {
    answer
        .expires_in()
        .and_then(|d: Duration| chrono::Duration::from_std(d).ok())
        .map(|d| Utc::now() + d)
}
