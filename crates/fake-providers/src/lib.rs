//! Local fakes of the providers Threadline syncs with, served over HTTP on 127.0.0.1.
//!
//! Today: Google's OAuth 2.0 endpoints (`google::oauth`), the parts of Calendar API v3,
//! People API v1 and Drive API v3 Threadline uses (`google::calendar`, `google::people`,
//! `google::drive`) and Dropbox API v2 (`dropbox`: OAuth, the `files/*` RPC routes, uploads,
//! upload sessions and downloads, for app-folder apps). One module per service, sharing
//! the machinery here: the connection loop (`server`),
//! the request log and counters (`log`) and fault injection (`faults`), whose faults are
//! provider-neutral and answered in the envelope of the provider whose route was called.
//!
//! ```no_run
//! # async fn demo() {
//! use threadline_fake_providers::FakeProviders;
//! let fake = FakeProviders::start().await;
//! let google = fake.google();
//! google.add_user("ann@example.com");
//! let calendar = google.add_calendar("ann@example.com", "Work", "Europe/Brussels");
//! google.add_client(threadline_fake_providers::google::oauth::OAuthClient {
//!     client_id: "threadline".into(),
//!     client_secret: "secret".into(),
//!     redirect_uris: vec!["http://127.0.0.1:8787/oauth/google/callback".into()],
//! });
//! let token = google.issue_tokens(
//!     "threadline",
//!     "ann@example.com",
//!     &["https://www.googleapis.com/auth/calendar"],
//! );
//! // GET {base_url}/calendar/v3/calendars/{calendar}/events with `Authorization: Bearer {token.access_token}`
//! # let _ = (fake.base_url(), calendar, token);
//! # }
//! ```
//!
//! The state lives in memory behind one mutex per service; no lock is held across an await.

pub mod dropbox;
pub mod faults;
pub mod google;
pub mod log;
mod server;
mod util;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;

use faults::Provider;

pub use faults::{Fault, FaultId, FaultRule, Faults, Times};
pub use log::{LoggedRequest, RequestLog};

/// What every service's handlers share: the log, the fault book and each service's state.
pub(crate) struct Shared {
    pub(crate) log: RequestLog,
    pub(crate) faults: Faults,
    pub(crate) google: google::GoogleFake,
    pub(crate) dropbox: dropbox::DropboxFake,
}

/// A running fake, listening on 127.0.0.1. Dropping it stops the server.
pub struct FakeProviders {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: server::Running,
}

impl FakeProviders {
    /// Starts on an ephemeral port of 127.0.0.1.
    pub async fn start() -> FakeProviders {
        FakeProviders::start_on(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("binding 127.0.0.1:0")
    }

    /// Starts on the given address (port 0: any free port).
    pub async fn start_on(listen: SocketAddr) -> std::io::Result<FakeProviders> {
        let shared = Arc::new(Shared {
            log: RequestLog::default(),
            faults: Faults::default(),
            google: google::GoogleFake::default(),
            dropbox: dropbox::DropboxFake::default(),
        });
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        shared.google.set_base_url(format!("http://{addr}"));
        let router = router(shared.clone());
        let server = server::spawn(listener, router);
        Ok(FakeProviders {
            addr,
            shared,
            server,
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash. Point every client's base URL here:
    /// Google's `https://oauth2.googleapis.com/token` becomes `{base_url}/token`, and
    /// `https://www.googleapis.com/calendar/v3/…` becomes `{base_url}/calendar/v3/…`, and
    /// `https://people.googleapis.com/v1/…` becomes `{base_url}/v1/…`, and
    /// `https://www.googleapis.com/drive/v3/…` (and `…/upload/drive/v3/…`) becomes
    /// `{base_url}/drive/v3/…` (`{base_url}/upload/drive/v3/…`); Dropbox's
    /// `https://api.dropboxapi.com/2/…` and `https://content.dropboxapi.com/2/…` become
    /// `{base_url}/2/…`, `https://www.dropbox.com/oauth2/authorize` and
    /// `https://api.dropboxapi.com/oauth2/token` `{base_url}/oauth2/…`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Google: users, OAuth clients and tokens, calendars and events, contacts and groups,
    /// Drive files.
    pub fn google(&self) -> &google::GoogleFake {
        &self.shared.google
    }

    /// Dropbox: accounts, apps and tokens, each account's files.
    pub fn dropbox(&self) -> &dropbox::DropboxFake {
        &self.shared.dropbox
    }

    /// Queued faults (rate limits, 4xx and 5xx answers, dropped responses, delays), each
    /// answered in the envelope of the provider whose route the request matched.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Every request served, and counts per endpoint.
    pub fn log(&self) -> &RequestLog {
        &self.shared.log
    }

    /// Stops accepting connections and closes the open ones.
    pub fn stop(self) {
        drop(self.server);
    }
}

/// Every service's routes: each provider's under the fault layer with that provider (so a
/// fault is answered in its envelope), all under the log layer (outermost, so a request
/// answered by a fault is logged with that answer).
fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .merge(faults::layer(google::router(), &shared, Provider::Google))
        .merge(faults::layer(dropbox::router(), &shared, Provider::Dropbox))
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            log::middleware,
        ))
        .with_state(shared)
}
