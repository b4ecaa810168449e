//! OAuth 2.0 with the providers: connecting an account and keeping its access token valid.
//!
//! - [`google`]: Google's client (the `oauth2` crate over `reqwest`): its configuration and
//!   every endpoint URL (so that tests point at `threadline-fake-providers`), the scopes of
//!   a connection asks for (the identity's and the integrations'), the authorization URL (PKCE S256, offline access), the code
//!   exchange, the account (OpenID Connect userinfo), refresh and revoke.
//! - [`dropbox`]: Dropbox's client, likewise: an "App folder" app, PKCE S256 with
//!   `token_access_type=offline`, the account from `users/get_current_account`, refresh, and
//!   `auth/token/revoke`. What the two clients share (settings checks, the code flow over
//!   the `oauth2` crate) is `client.rs`; [`Connector`] is either, for the HTTP routes.
//! - [`pending`]: a started connect flow, stored until its callback (table `oauth_pending`,
//!   migrations 0006, 0012): bound to the user and the API token that asked, opened once by
//!   a one-time start link that binds it to that browser (a cookie), 10 minutes, good once.
//! - [`sign_in`]: Sign in with Google (OpenID Connect on Google's client): the flows until
//!   their callback (table `google_sign_ins`), the ID token's checks, Google's keys.
//! - [`tokens`]: the sync engine's [`TokenSource`]: a valid access token for a connection,
//!   refreshed ahead of expiry, one refresh at a time per connection across processes.
//! - The HTTP side is `routes/oauth.rs`: `POST /api/v1/connections/{google,dropbox}`, the
//!   start links `GET /oauth/{google,dropbox}/start` and the callbacks
//!   `GET /oauth/{google,dropbox}/callback`.
//!
//! Never logged: tokens, codes, the state, the PKCE verifier, the client secret.

mod client;
pub mod dropbox;
pub mod google;
pub mod pending;
pub mod sign_in;
pub mod tokens;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};
use uuid::Uuid;

use crate::{self as connections, Provider};
use threadline_storage::Error as ServerError;

pub use client::Authorization;
pub use tokens::{AccessToken, TokenSource};

/// How long one call to a provider's OAuth endpoint may take in all.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

/// The server's OAuth clients (one per configured provider) and what a token refresh shares
/// within this process. One per process, in [`crate::AppState`].
pub struct OAuth {
    google: Option<google::Google>,
    dropbox: Option<dropbox::Dropbox>,
    /// Per connection, the lock that lets one task of this process refresh while the others
    /// wait for its result.
    flights: Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<tokens::Flight>>>>,
    /// This process's name on a refresh lease: random, so that two processes on one database
    /// never take each other's lease for their own.
    lease_owner: String,
}

impl OAuth {
    /// No provider configured: connecting answers `provider_not_configured`.
    pub fn none() -> OAuth {
        OAuth {
            google: None,
            dropbox: None,
            flights: Mutex::new(HashMap::new()),
            lease_owner: threadline_storage::db::new_id().simple().to_string(),
        }
    }

    /// With Google's client.
    pub fn with_google(config: google::GoogleConfig) -> Result<OAuth, ServerError> {
        OAuth::with(Some(config), None)
    }

    /// With the clients of the providers configured.
    pub fn with(
        google: Option<google::GoogleConfig>,
        dropbox: Option<dropbox::DropboxConfig>,
    ) -> Result<OAuth, ServerError> {
        let http = ProviderHttp::new()?;
        Ok(OAuth {
            google: google.map(|config| google::Google::new(config, http.clone())),
            dropbox: dropbox.map(|config| dropbox::Dropbox::new(config, http)),
            ..OAuth::none()
        })
    }

    /// Google's client, or [`Error::NotConfigured`].
    pub fn google(&self) -> Result<&google::Google, Error> {
        self.google
            .as_ref()
            .ok_or(Error::NotConfigured(Provider::Google))
    }

    /// Dropbox's client, or [`Error::NotConfigured`].
    pub fn dropbox(&self) -> Result<&dropbox::Dropbox, Error> {
        self.dropbox
            .as_ref()
            .ok_or(Error::NotConfigured(Provider::Dropbox))
    }

    /// `provider`'s connect flow, or [`Error::NotConfigured`].
    pub fn connector(&self, provider: Provider) -> Result<Connector<'_>, Error> {
        Ok(match provider {
            Provider::Google => Connector::Google(self.google()?),
            Provider::Dropbox => Connector::Dropbox(self.dropbox()?),
        })
    }
}

/// A configured provider's side of a connect flow, for the HTTP routes: the steps are the
/// same whichever the provider (a start link, the authorization, the code exchange).
#[derive(Clone, Copy)]
pub enum Connector<'a> {
    Google(&'a google::Google),
    Dropbox(&'a dropbox::Dropbox),
}

impl Connector<'_> {
    pub fn provider(&self) -> Provider {
        match self {
            Connector::Google(_) => Provider::Google,
            Connector::Dropbox(_) => Provider::Dropbox,
        }
    }

    /// Where the provider sends the browser back.
    pub fn redirect_url(&self) -> &url::Url {
        match self {
            Connector::Google(google) => &google.config().redirect_url,
            Connector::Dropbox(dropbox) => &dropbox.config().redirect_url,
        }
    }

    /// The one-time start link of a flow.
    pub fn start_url(&self, start_secret: &threadline_storage::secrets::SecretString) -> url::Url {
        match self {
            Connector::Google(google) => google.start_url(start_secret),
            Connector::Dropbox(dropbox) => dropbox.start_url(start_secret),
        }
    }

    /// A new authorization asking for the identity's scopes and `scopes`; `login_hint`
    /// preselects the account where the provider has such a parameter (Google).
    pub fn authorization(&self, login_hint: Option<&str>, scopes: &[&str]) -> Authorization {
        match self {
            Connector::Google(google) => google.authorization(login_hint, scopes),
            Connector::Dropbox(dropbox) => dropbox.authorization(scopes),
        }
    }

    /// The code exchange, then the account.
    pub async fn exchange(
        &self,
        code: &str,
        pkce_verifier: &threadline_storage::secrets::SecretString,
        redirect_url: &str,
        asked_scopes: &[String],
    ) -> Result<connections::Grant, Error> {
        match self {
            Connector::Google(google) => {
                google
                    .exchange(code, pkce_verifier, redirect_url, asked_scopes)
                    .await
            }
            Connector::Dropbox(dropbox) => {
                dropbox
                    .exchange(code, pkce_verifier, redirect_url, asked_scopes)
                    .await
            }
        }
    }

    /// Gives back a grant that was not stored. Google keeps one grant per account and
    /// client: when the account is another user's connection (`shared`), revoking would cut
    /// theirs, so it is kept. Dropbox's tokens are each authorization's own: revoked always.
    pub async fn discard(&self, grant: &connections::Grant, shared: bool) -> Result<(), Error> {
        match self {
            Connector::Google(_) if shared => Ok(()),
            Connector::Google(google) => match &grant.refresh_token {
                Some(refresh) => google.revoke(refresh).await,
                None => Ok(()),
            },
            Connector::Dropbox(dropbox) => {
                dropbox
                    .revoke(Some(&grant.access_token), grant.refresh_token.as_ref())
                    .await
            }
        }
    }

    /// The scopes every connection asks for, and what they give, for people.
    pub fn identity(&self) -> (&'static [&'static str], &'static str) {
        match self {
            Connector::Google(_) => (google::IDENTITY_SCOPES, google::IDENTITY_LABEL),
            Connector::Dropbox(_) => (dropbox::IDENTITY_SCOPES, dropbox::IDENTITY_LABEL),
        }
    }
}

/// What went wrong with a provider or a connection's tokens.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "{} is not configured on this server: set its {} (see the server README, \
         \"Connecting {}\")",
        .0.label(),
        .0.client_credentials(),
        .0.label()
    )]
    NotConfigured(Provider),
    #[error("there is no connection with id {0}")]
    NotFound(Uuid),
    #[error("the connection {0} is disconnected: connect the account again")]
    Disconnected(Uuid),
    /// The provider refused the grant (`invalid_grant`: revoked, expired, password changed):
    /// the connection's status is `needs_reauth`; its schedules pause until the user
    /// connects again. Nothing was deleted.
    #[error("the connection {id} needs to be authorized again: {reason}")]
    NeedsReauth { id: Uuid, reason: String },
    /// Worth trying again later (5xx, 429, the network, another process's refresh that
    /// took too long); the connection's status is untouched.
    #[error("{reason}; try again later")]
    Transient {
        reason: String,
        /// The provider's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// The provider refused the request for another reason (`invalid_client`: the server's
    /// client id or secret is wrong; an answer that cannot be read): trying again soon will
    /// not help. The connection's status is untouched.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Storage(#[from] connections::Error),
}

impl Error {
    /// True when the same call may succeed later without anyone doing anything.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Transient { .. })
            || matches!(self, Error::Storage(e) if threadline_storage::errors::DbFailure::database_error(e)
                .is_some_and(threadline_storage::errors::is_transient))
    }

    /// True when the connection cannot be used until its user connects it again: the
    /// scheduler pauses its schedules (its status says so too: `needs_reauth`,
    /// `disconnected`).
    pub fn pauses_schedules(&self) -> bool {
        matches!(
            self,
            Error::NeedsReauth { .. } | Error::Disconnected(_) | Error::NotFound(_)
        )
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Storage(connections::Error::Database(e))
    }
}

/// True when a connection in `status` cannot be used until its user connects it again
/// (`needs_reauth` after `invalid_grant`, `disconnected`): the scheduler skips its schedules
/// (in SQL: `status NOT IN ('needs_reauth', 'disconnected')`). Connecting again sets `ok`.
pub fn pauses_schedules(status: connections::Status) -> bool {
    matches!(
        status,
        connections::Status::NeedsReauth | connections::Status::Disconnected
    )
}

/// The HTTP client of OAuth calls: `reqwest` (rustls), no redirects followed (a token
/// endpoint that redirects is misconfigured, and following would resend the secret), a
/// timeout. It answers 5xx and 429 as [`HttpFailure::Status`], with `Retry-After`: the
/// `oauth2` crate would otherwise report a Google error page as an unreadable body, and
/// the caller could not tell a retryable failure from a refusal.
#[derive(Clone)]
pub struct ProviderHttp {
    client: reqwest::Client,
}

impl ProviderHttp {
    pub fn new() -> Result<ProviderHttp, ServerError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(HTTP_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("threadline-server/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ServerError::Invalid(format!("cannot set up the HTTP client: {e}")))?;
        Ok(ProviderHttp { client })
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

/// Why an HTTP call to a provider got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum HttpFailure {
    #[error("{endpoint} answered HTTP {status}")]
    Status {
        endpoint: String,
        status: u16,
        retry_after: Option<Duration>,
    },
    /// The provider could not be reached or the answer did not arrive whole. The message
    /// names the endpoint (never a query: OAuth parameters travel in bodies).
    #[error("{0}")]
    Network(String),
}

impl HttpFailure {
    fn network(endpoint: &str, e: &reqwest::Error) -> HttpFailure {
        let what = if e.is_timeout() {
            "took too long to answer"
        } else if e.is_connect() {
            "cannot be reached"
        } else {
            "failed to answer"
        };
        // reqwest's own message may name the URL with its query: left out.
        HttpFailure::Network(format!("{endpoint} {what}"))
    }

    /// As the retryable [`Error::Transient`].
    pub fn into_transient(self) -> Error {
        let retry_after = match &self {
            HttpFailure::Status { retry_after, .. } => *retry_after,
            HttpFailure::Network(_) => None,
        };
        Error::Transient {
            reason: self.to_string(),
            retry_after,
        }
    }
}

/// `Retry-After` in seconds (the HTTP-date form is rare at Google and ignored).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// The endpoint as named in messages: scheme, host, port and path.
fn endpoint_of(url: &url::Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

impl<'c> AsyncHttpClient<'c> for ProviderHttp {
    type Error = HttpFailure;
    type Future =
        Pin<Box<dyn Future<Output = Result<HttpResponse, HttpFailure>> + Send + Sync + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let endpoint = request
                .uri()
                .to_string()
                .parse::<url::Url>()
                .map(|u| endpoint_of(&u))
                .unwrap_or_else(|_| "the provider".to_string());
            let request = reqwest::Request::try_from(request)
                .map_err(|_| HttpFailure::Network(format!("{endpoint}: a malformed request")))?;
            let response = self
                .client
                .execute(request)
                .await
                .map_err(|e| HttpFailure::network(&endpoint, &e))?;
            let status = response.status();
            if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                return Err(HttpFailure::Status {
                    endpoint,
                    status: status.as_u16(),
                    retry_after: retry_after(response.headers()),
                });
            }
            let mut builder = oauth2::http::Response::builder().status(status.as_u16());
            for (name, value) in response.headers() {
                builder = builder.header(name.as_str(), value.as_bytes());
            }
            let body = response
                .bytes()
                .await
                .map_err(|e| HttpFailure::network(&endpoint, &e))?;
            builder
                .body(body.to_vec())
                .map_err(|_| HttpFailure::Network(format!("{endpoint}: an unreadable answer")))
        })
    }
}
