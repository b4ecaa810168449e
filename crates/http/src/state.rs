//! State shared by every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use uuid::Uuid;

use crate::db::Db;
use crate::documents::blobs::BlobStore;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::oauth::{OAuth, TokenSource};
use crate::public_url::PublicUrl;
use crate::rate_limit::{RateLimiter, RateLimits};
use crate::secrets::Keyring;
use crate::sync::{Integration, Integrations};

/// How often at most a token's `last_used_at` is written.
pub const TOKEN_TOUCH_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
    /// The keys of secrets at rest (connections' tokens); `None` when not given (the routes
    /// that need them answer 500). Outside `Inner` so that [`AppState::with_keyring`] can
    /// add it to a built state.
    keyring: Option<Arc<Keyring>>,
    /// The integrations this server runs (the registry's, as configured); an integration's
    /// routes find their own state here ([`AppState::integration`]).
    integrations: Integrations,
    /// The OAuth clients of the configured providers (none by default: connecting answers
    /// `provider_not_configured`) and this process's token-refresh locks.
    oauth: Arc<OAuth>,
    /// Each token's (else address's) request budget ([`AppState::with_rate_limits`]).
    rate_limiter: Arc<RateLimiter>,
    /// Where people reach this server ([`AppState::with_public_url`]); `None`: the answers
    /// carry no link to the web app's pages.
    public_url: Option<PublicUrl>,
}

struct Inner {
    db: Db,
    /// Where document content is stored; `None` when the server was not given a data
    /// directory (the document routes then answer 500).
    blobs: Option<BlobStore>,
    /// When each token's `last_used_at` was last written by this process.
    token_touches: Mutex<HashMap<Uuid, Instant>>,
    /// Request and pool metrics (`GET /metrics`).
    metrics: Metrics,
    /// Wakes this process's sync runner early ("sync now", a new schedule).
    sync_wake: Arc<Notify>,
}

impl AppState {
    /// State without document storage (the document routes answer 500): see
    /// [`AppState::with_data_dir`].
    pub fn new(db: Db) -> Self {
        Self::build(db, None)
    }

    /// State whose documents are stored under `<data_dir>/blobs`.
    pub fn with_data_dir(db: Db, data_dir: &std::path::Path) -> Self {
        Self::build(db, Some(BlobStore::in_data_dir(data_dir)))
    }

    fn build(db: Db, blobs: Option<BlobStore>) -> Self {
        AppState {
            inner: Arc::new(Inner {
                db,
                blobs,
                token_touches: Mutex::new(HashMap::new()),
                metrics: Metrics::new(),
                sync_wake: Arc::new(Notify::new()),
            }),
            keyring: None,
            integrations: Integrations::default(),
            oauth: Arc::new(OAuth::none()),
            rate_limiter: Arc::new(RateLimiter::new(RateLimits::default())),
            public_url: None,
        }
    }

    /// This state with these request budgets (fresh: nobody has spent any yet).
    pub fn with_rate_limits(mut self, limits: RateLimits) -> Self {
        self.rate_limiter = Arc::new(RateLimiter::new(limits));
        self
    }

    /// This state with the origin of the links to the web app's pages in the answers
    /// (`web_url`).
    pub fn with_public_url(mut self, url: PublicUrl) -> Self {
        self.public_url = Some(url);
        self
    }

    /// Where people reach this server, when known.
    pub fn public_url(&self) -> Option<&PublicUrl> {
        self.public_url.as_ref()
    }

    /// The request budgets.
    pub fn rate_limiter(&self) -> &RateLimiter {
        &self.rate_limiter
    }

    /// This state with the keys of secrets at rest.
    pub fn with_keyring(mut self, keyring: Keyring) -> Self {
        self.keyring = Some(Arc::new(keyring));
        self
    }

    /// This state with these integrations.
    pub fn with_integrations(mut self, integrations: Integrations) -> Self {
        self.integrations = integrations;
        self
    }

    /// This state with one more integration.
    pub fn with_integration(mut self, integration: impl Integration) -> Self {
        let mut list: Vec<Arc<dyn Integration>> = self.integrations.iter().cloned().collect();
        list.push(Arc::new(integration));
        self.integrations = Integrations::new(list);
        self
    }

    /// The integrations this server runs.
    pub fn integrations(&self) -> &Integrations {
        &self.integrations
    }

    /// The integration of type `T`, when this server runs it.
    pub fn integration<T: Integration>(&self) -> Option<&T> {
        self.integrations.get::<T>()
    }

    /// This state with these OAuth clients ([`OAuth::with_google`]).
    pub fn with_oauth(mut self, oauth: OAuth) -> Self {
        self.oauth = Arc::new(oauth);
        self
    }

    /// The OAuth clients.
    pub fn oauth(&self) -> &OAuth {
        &self.oauth
    }

    /// The OAuth clients, shared (for the integrations' construction).
    pub fn oauth_shared(&self) -> &Arc<OAuth> {
        &self.oauth
    }

    /// Valid access tokens of connections, for the sync engine.
    pub fn token_source(&self) -> Result<TokenSource, ApiError> {
        let keys = self
            .keyring
            .clone()
            .ok_or_else(|| ApiError::internal("no secret keys configured"))?;
        Ok(TokenSource::new(
            self.db().clone(),
            keys,
            Arc::clone(&self.oauth),
        ))
    }

    /// The keys of secrets at rest.
    pub fn keyring(&self) -> Result<&Keyring, ApiError> {
        self.keyring
            .as_deref()
            .ok_or_else(|| ApiError::internal("no secret keys configured"))
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// What wakes this process's sync runner ([`crate::sync::Runner::new`]): notified when
    /// a schedule is made due now, so that it starts without waiting for its next look.
    pub fn sync_wake(&self) -> Arc<Notify> {
        Arc::clone(&self.inner.sync_wake)
    }

    /// Request and pool metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The document content store.
    pub fn blobs(&self) -> Result<&BlobStore, ApiError> {
        self.inner
            .blobs
            .as_ref()
            .ok_or_else(|| ApiError::internal("no data directory for document content"))
    }

    /// True when `token_id`'s `last_used_at` should be written now (at most once per
    /// [`TOKEN_TOUCH_INTERVAL`]); records the write as done.
    pub fn should_touch_token(&self, token_id: Uuid) -> bool {
        let now = Instant::now();
        let mut touches = self
            .inner
            .token_touches
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match touches.get(&token_id) {
            Some(last) if now.duration_since(*last) < TOKEN_TOUCH_INTERVAL => false,
            _ => {
                touches.insert(token_id, now);
                true
            }
        }
    }
}
