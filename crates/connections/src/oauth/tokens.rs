//! A valid access token for a connection, for the sync engine: [`TokenSource`].
//!
//! The stored token is used while it has more than [`REFRESH_MARGIN`] to live; after that
//! (or when the API refused it, [`TokenSource::replace_rejected`]) it is refreshed, and one
//! refresh at a time reaches the provider per connection:
//! - **within a process**, callers for one connection queue on one lock ([`Flight`]); the
//!   first refreshes, the others then find the fresh token stored (or the failure the first
//!   met while they waited, so that an outage costs one request, not one per caller);
//! - **across processes**, the refresher holds a lease row (`oauth_refresh_leases`, migration
//!   0006) taken in a write transaction that also checks the stored token: another process
//!   that finds the lease taken waits and reads the stored token again instead of refreshing.
//!   A lease expires after [`LEASE`] (a process that died mid-refresh), and is deleted with
//!   the refresh's outcome.
//!
//! Outcomes: `invalid_grant` sets the connection `needs_reauth` (with the provider's reason;
//! nothing is deleted) and is [`Error::NeedsReauth`]; 5xx, 429 and network failures are
//! [`Error::Transient`] (status untouched: the caller tries again later).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Error, OAuth};
use crate::{self as connections, Provider, Status};
use threadline_storage::db::{self, id_text, Conn, Db};
use threadline_storage::secrets::{ExposeSecret, Keyring, SecretString};

/// A token with less than this to live is refreshed first.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);
/// How long a refresh lease holds: longer than a refresh may take
/// ([`super::HTTP_TIMEOUT`] for the call, plus the database).
pub const LEASE: Duration = Duration::from_secs(30);
/// How often a caller waiting for another process's refresh looks again.
const POLL: Duration = Duration::from_millis(50);

/// An access token to call the provider's API with (`Debug` shows no token).
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub token: SecretString,
    pub expires_at: Option<DateTime<Utc>>,
}

/// What this process knows about a connection's last refresh: a transient failure that
/// callers who were waiting meanwhile are answered with.
#[derive(Default)]
pub(crate) struct Flight {
    failure: Option<(Instant, String, Option<Duration>)>,
}

/// Valid access tokens for the sync engine; cheap to clone.
#[derive(Clone)]
pub struct TokenSource {
    db: Db,
    keys: Arc<Keyring>,
    oauth: Arc<OAuth>,
}

/// The outcome of looking at a connection in the lease transaction.
enum Look {
    /// The stored token is good: use it.
    Fresh(AccessToken),
    /// Another process is refreshing it.
    Busy,
    /// This process holds the lease now: refresh from this refresh token, then store with
    /// the access token it replaces as the check that nothing else changed.
    Refresh {
        provider: Provider,
        refresh_token: SecretString,
        replaces: Option<SecretString>,
    },
    Stop(Error),
}

impl TokenSource {
    pub fn new(db: Db, keys: Arc<Keyring>, oauth: Arc<OAuth>) -> TokenSource {
        TokenSource { db, keys, oauth }
    }

    /// A valid access token of connection `id`: the stored one while it has more than
    /// [`REFRESH_MARGIN`] to live, else a refreshed one.
    pub async fn access_token(&self, id: Uuid) -> Result<AccessToken, Error> {
        self.get(id, None).await
    }

    /// After the provider's API answered 401 to `rejected`: a token other than it (one
    /// refreshed meanwhile by another caller, or a new refresh).
    pub async fn replace_rejected(
        &self,
        id: Uuid,
        rejected: &SecretString,
    ) -> Result<AccessToken, Error> {
        self.get(id, Some(rejected)).await
    }

    async fn get(&self, id: Uuid, rejected: Option<&SecretString>) -> Result<AccessToken, Error> {
        // Most calls: the stored token is good, no lock and no write.
        {
            let mut conn = self.db.pool().acquire().await?;
            let tokens = connections::tokens(&mut conn, &self.keys, id)
                .await
                .map_err(|e| not_found(e, id))?;
            let blocked = matches!(tokens.status, Status::NeedsReauth | Status::Disconnected);
            if !blocked {
                if let Some(token) = usable(&tokens, rejected)? {
                    return Ok(token);
                }
            }
        }
        let asked = Instant::now();
        let flight = self.flight(id);
        let result = {
            let mut flight = flight.lock().await;
            match &flight.failure {
                // The refresh this caller waited for failed meanwhile: the same answer.
                Some((at, reason, retry_after)) if *at >= asked => Err(Error::Transient {
                    reason: reason.clone(),
                    retry_after: *retry_after,
                }),
                _ => {
                    let result = self.refresh_once(id, rejected).await;
                    if let Err(Error::Transient {
                        reason,
                        retry_after,
                    }) = &result
                    {
                        flight.failure = Some((Instant::now(), reason.clone(), *retry_after));
                    }
                    result
                }
            }
        };
        self.land(id, flight);
        result
    }

    /// This process's lock for connection `id`.
    fn flight(&self, id: Uuid) -> Arc<tokio::sync::Mutex<Flight>> {
        let mut flights = self.oauth.flights.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(flights.entry(id).or_default())
    }

    /// Forgets connection `id`'s lock when nobody else holds it (the map and `flight` are
    /// the last two references; checked under the map's lock, where references are made).
    fn land(&self, id: Uuid, flight: Arc<tokio::sync::Mutex<Flight>>) {
        let mut flights = self.oauth.flights.lock().unwrap_or_else(|e| e.into_inner());
        if Arc::strong_count(&flight) == 2 {
            flights.remove(&id);
        }
    }

    /// Takes the lease (or finds the token fresh, or waits for another process), refreshes,
    /// stores. Holds this process's lock for the connection throughout.
    async fn refresh_once(
        &self,
        id: Uuid,
        rejected: Option<&SecretString>,
    ) -> Result<AccessToken, Error> {
        let owner = self.oauth.lease_owner.as_str();
        let started = Instant::now();
        loop {
            let look = self
                .db
                .write(|tx| Box::pin(look(tx, &self.keys, id, owner, rejected)))
                .await
                .map_err(|e| not_found(e, id))?;
            match look {
                Look::Fresh(token) => return Ok(token),
                Look::Stop(e) => return Err(e),
                Look::Busy if started.elapsed() > LEASE + POLL => {
                    return Err(Error::Transient {
                        reason: format!(
                            "another server process has been refreshing the token of \
                             connection {id} for over {} s",
                            LEASE.as_secs()
                        ),
                        retry_after: None,
                    })
                }
                Look::Busy => tokio::time::sleep(POLL).await,
                Look::Refresh {
                    provider,
                    refresh_token,
                    replaces,
                } => {
                    let outcome = self.call_provider(provider, &refresh_token).await;
                    return self.settle(id, outcome, replaces.as_ref()).await;
                }
            }
        }
    }

    async fn call_provider(
        &self,
        provider: Provider,
        refresh_token: &SecretString,
    ) -> Result<connections::Refreshed, Error> {
        match provider {
            Provider::Google => self.oauth.google()?.refresh(refresh_token).await,
            Provider::Dropbox => self.oauth.dropbox()?.refresh(refresh_token).await,
        }
    }

    /// Stores the refresh's outcome and lets go of the lease, in one write.
    async fn settle(
        &self,
        id: Uuid,
        outcome: Result<connections::Refreshed, Error>,
        replaces: Option<&SecretString>,
    ) -> Result<AccessToken, Error> {
        let owner = self.oauth.lease_owner.as_str();
        let keys = &*self.keys;
        let seen = &outcome;
        let stored = self
            .db
            .write(|tx| {
                Box::pin(async move {
                    release(tx, id, owner).await?;
                    match seen {
                        Ok(refreshed) => store(tx, keys, id, refreshed, replaces).await.map(Some),
                        Err(Error::NeedsReauth { reason, .. }) => {
                            connections::set_status(
                                tx,
                                id,
                                None,
                                Status::NeedsReauth,
                                Some(reason),
                            )
                            .await?;
                            Ok(None)
                        }
                        Err(_) => Ok(None),
                    }
                })
            })
            .await
            .map_err(|e| not_found(e, id))?;
        match (stored, outcome) {
            (Some(token), _) => Ok(token),
            (None, Err(Error::NeedsReauth { reason, .. })) => {
                tracing::warn!(connection = %id, reason = %reason, "token refresh refused: the connection needs re-authorization");
                Err(Error::NeedsReauth { id, reason })
            }
            (None, Err(e)) => {
                tracing::warn!(connection = %id, error = %e, "token refresh failed");
                Err(e)
            }
            (None, Ok(_)) => unreachable!("a refresh that succeeded is stored or superseded"),
        }
    }
}

/// The stored token if it may be used: present, not the rejected one, more than the margin
/// to live (or no known expiry); an error for a connection that cannot be used.
fn usable(
    tokens: &connections::Tokens,
    rejected: Option<&SecretString>,
) -> Result<Option<AccessToken>, Error> {
    let Some(token) = &tokens.access_token else {
        return Ok(None);
    };
    if rejected.is_some_and(|r| r.expose_secret() == token.expose_secret()) {
        return Ok(None);
    }
    let expires_at = tokens
        .access_token_expires_at
        .as_deref()
        .map(db::parse_time)
        .transpose()
        .map_err(connections::Error::from)?;
    let margin = chrono::Duration::from_std(REFRESH_MARGIN).expect("a small duration");
    if expires_at.is_some_and(|at| at <= Utc::now() + margin) {
        return Ok(None);
    }
    Ok(Some(AccessToken {
        token: token.clone(),
        expires_at,
    }))
}

/// In a write transaction: the connection's state, and the lease when a refresh is due.
async fn look(
    tx: &mut Conn,
    keys: &Keyring,
    id: Uuid,
    owner: &str,
    rejected: Option<&SecretString>,
) -> Result<Look, connections::Error> {
    let tokens = connections::tokens(tx, keys, id).await?;
    match tokens.status {
        Status::Disconnected => return Ok(Look::Stop(Error::Disconnected(id))),
        Status::NeedsReauth => {
            let reason = connections::get(tx, id)
                .await?
                .status_reason
                .unwrap_or_else(|| "the provider refused the grant".into());
            return Ok(Look::Stop(Error::NeedsReauth { id, reason }));
        }
        _ => {}
    }
    match usable(&tokens, rejected) {
        Ok(Some(token)) => return Ok(Look::Fresh(token)),
        Ok(None) => {}
        Err(e) => return Ok(Look::Stop(e)),
    }
    let Some(refresh_token) = tokens.refresh_token else {
        return Ok(Look::Stop(Error::NeedsReauth {
            id,
            reason: "the provider gave no refresh token: connect the account again".into(),
        }));
    };
    let now = Utc::now();
    let holder: Option<(String, String)> = sqlx::query_as(
        "SELECT owner, expires_at FROM oauth_refresh_leases WHERE connection_id = $1",
    )
    .bind(id_text(id))
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((holder, until)) = holder {
        // This process's own lease is a leftover (a caller that was cancelled): only one
        // task per process gets here at a time.
        if holder != owner && db::parse_time(&until)? > now {
            return Ok(Look::Busy);
        }
    }
    let until = now + chrono::Duration::from_std(LEASE).expect("a small duration");
    sqlx::query(
        "INSERT INTO oauth_refresh_leases (connection_id, owner, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (connection_id) DO UPDATE SET owner = $2, expires_at = $3",
    )
    .bind(id_text(id))
    .bind(owner)
    .bind(db::format_time(until))
    .execute(&mut *tx)
    .await?;
    Ok(Look::Refresh {
        provider: tokens.provider,
        refresh_token,
        replaces: tokens.access_token,
    })
}

async fn release(tx: &mut Conn, id: Uuid, owner: &str) -> Result<(), connections::Error> {
    sqlx::query("DELETE FROM oauth_refresh_leases WHERE connection_id = $1 AND owner = $2")
        .bind(id_text(id))
        .bind(owner)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Stores a refresh, unless the connection got new tokens meanwhile (connected again): then
/// those are the ones to use. A change of status meanwhile (the sync marking it `syncing`)
/// moves the version but not the tokens: the refresh is stored at the current version.
async fn store(
    tx: &mut Conn,
    keys: &Keyring,
    id: Uuid,
    refreshed: &connections::Refreshed,
    replaces: Option<&SecretString>,
) -> Result<AccessToken, connections::Error> {
    let current = connections::tokens(tx, keys, id).await?;
    let same = match (&current.access_token, replaces) {
        (Some(now), Some(before)) => now.expose_secret() == before.expose_secret(),
        (None, None) => true,
        _ => false,
    };
    if !same {
        if let Some(token) = current.access_token {
            let expires_at = current
                .access_token_expires_at
                .as_deref()
                .map(db::parse_time)
                .transpose()?;
            return Ok(AccessToken { token, expires_at });
        }
    }
    connections::store_refreshed(tx, keys, id, current.version, refreshed).await?;
    Ok(AccessToken {
        token: refreshed.access_token.clone(),
        expires_at: refreshed.access_token_expires_at,
    })
}

/// A missing connection as [`Error::NotFound`].
fn not_found(e: connections::Error, id: Uuid) -> Error {
    match e {
        connections::Error::NotFound(_) => Error::NotFound(id),
        connections::Error::Disconnected(_) => Error::Disconnected(id),
        other => Error::Storage(other),
    }
}
