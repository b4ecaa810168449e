//! What an integration needs from the rest of the engine, kept to two seams:
//! - [`AccessTokens`]: a valid access token for a connection. [`StoredTokens`] reads the one
//!   stored (encrypted) on the connection; [`crate::oauth`]'s token source refreshes ahead of
//!   expiry, one refresh at a time per connection.
//! - A pass of an integration is a plain async call (`CalendarSync::run`) answering
//!   [`RunCounts`] or a [`SyncError`] whose kind tells the scheduler what to do next.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use uuid::Uuid;

use threadline_connections::oauth::{self, TokenSource};
use threadline_connections::{self as connections, Status};
use threadline_storage::db::{BoxFuture, Db};
use threadline_storage::secrets::{ExposeSecret, Keyring, SecretString};

/// Why no token could be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    /// The grant is gone (`invalid_grant`, disconnected, never connected): the user must
    /// connect again.
    #[error("the connection needs to be authorised again: {0}")]
    NeedsReauth(String),
    /// A passing failure (the token endpoint is down, a refresh is under way elsewhere).
    #[error("no access token for now: {0}")]
    Unavailable(String),
}

/// "Give me a valid access token for this connection."
pub trait AccessTokens: Send + Sync {
    fn access_token(&self, connection_id: Uuid) -> BoxFuture<'_, Result<SecretString, TokenError>>;

    /// The provider answered 401 to `rejected` (revoked, or expired before the time it was
    /// given): another token — one refreshed meanwhile, or a new refresh — or why none.
    fn replace_rejected<'a>(
        &'a self,
        connection_id: Uuid,
        rejected: &'a SecretString,
    ) -> BoxFuture<'a, Result<SecretString, TokenError>>;
}

/// Runs `attempt` with the connection's access token. When it ends in
/// [`SyncError::TokenRejected`] (the provider answered 401), the token is replaced once
/// ([`AccessTokens::replace_rejected`]: the token source refreshes, or finds the token
/// another process refreshed) and the whole attempt runs again with the new one: for jobs
/// whose every step is safe to repeat. A second refusal goes back to the caller. `who` names
/// the provider in the log line.
pub async fn with_token_replacement<T, Fut>(
    tokens: &dyn AccessTokens,
    connection_id: Uuid,
    who: &str,
    mut attempt: impl FnMut(String) -> Fut,
) -> Result<T, SyncError>
where
    Fut: std::future::Future<Output = Result<T, SyncError>>,
{
    let token = tokens.access_token(connection_id).await?;
    let token = token.expose_secret().to_string();
    match attempt(token.clone()).await {
        Err(SyncError::TokenRejected(reason)) => {
            tracing::info!(connection = %connection_id, %reason, "{who} refused the access token; replacing it and running again");
            let rejected = SecretString::from(token);
            let token = tokens.replace_rejected(connection_id, &rejected).await?;
            attempt(token.expose_secret().to_string()).await
        }
        other => other,
    }
}

/// The access token stored on the connection, as it is (no refresh): the seam's first
/// implementation, until the OAuth token source lands.
pub struct StoredTokens {
    db: Db,
    keys: Arc<Keyring>,
}

impl StoredTokens {
    pub fn new(db: Db, keys: Arc<Keyring>) -> StoredTokens {
        StoredTokens { db, keys }
    }
}

impl AccessTokens for StoredTokens {
    /// No refresh here: the stored token if it is another one (stored meanwhile).
    fn replace_rejected<'a>(
        &'a self,
        connection_id: Uuid,
        rejected: &'a SecretString,
    ) -> BoxFuture<'a, Result<SecretString, TokenError>> {
        Box::pin(async move {
            let stored = self.access_token(connection_id).await?;
            if stored.expose_secret() == rejected.expose_secret() {
                return Err(TokenError::Unavailable(
                    "the provider refused the stored access token".into(),
                ));
            }
            Ok(stored)
        })
    }

    fn access_token(&self, connection_id: Uuid) -> BoxFuture<'_, Result<SecretString, TokenError>> {
        Box::pin(async move {
            let unavailable = |e: &dyn std::fmt::Display| TokenError::Unavailable(e.to_string());
            let mut conn = self
                .db
                .pool()
                .acquire()
                .await
                .map_err(|e| unavailable(&e))?;
            let tokens = connections::tokens(&mut conn, &self.keys, connection_id)
                .await
                .map_err(|e| match e {
                    connections::Error::NotFound(_) => TokenError::NeedsReauth(e.to_string()),
                    other => unavailable(&other),
                })?;
            if matches!(tokens.status, Status::NeedsReauth | Status::Disconnected) {
                return Err(TokenError::NeedsReauth(format!(
                    "connection {connection_id} is {}",
                    tokens.status.as_str()
                )));
            }
            tokens
                .access_token
                .filter(|t| !t.expose_secret().is_empty())
                .ok_or_else(|| {
                    TokenError::NeedsReauth(format!("connection {connection_id} has no token"))
                })
        })
    }
}

/// One token for every connection: for tests against a local fake, which issued it.
pub struct FixedToken(pub SecretString);

impl AccessTokens for FixedToken {
    fn access_token(&self, _: Uuid) -> BoxFuture<'_, Result<SecretString, TokenError>> {
        let token = self.0.clone();
        Box::pin(async move { Ok(token) })
    }

    fn replace_rejected<'a>(
        &'a self,
        _: Uuid,
        _: &'a SecretString,
    ) -> BoxFuture<'a, Result<SecretString, TokenError>> {
        Box::pin(async {
            Err(TokenError::Unavailable(
                "the fixed token was refused".into(),
            ))
        })
    }
}

/// What a run did, for the connection's history of runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RunCounts {
    /// Events created in Google, meetings and busy blocks created in the CRM.
    pub created: u64,
    pub updated: u64,
    pub deleted: u64,
    /// Meetings both sides changed in the same field (resolved by the documented rule).
    pub conflicts: u64,
    /// Events that could not be read (left as they are).
    pub skipped: u64,
    /// Items whose write failed and that the next run tries again.
    pub errors: u64,
}

/// Why a run stopped, by what the scheduler does next.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SyncError {
    /// Try again later (throttled, a provider or database fault); `retry_after` when the
    /// provider said when. Nothing half-done is lost: the cursors were not saved.
    #[error("the sync will be tried again later: {reason}")]
    Retryable {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// The connection must be authorised again; its schedule pauses, nothing is deleted.
    #[error("the connection needs to be authorised again: {0}")]
    NeedsReauth(String),
    /// A guard refused the plan (mass delete, empty calendar): nothing was written; a person
    /// reviews it and may apply it anyway.
    #[error("refused for review: {}", .0.join("; "))]
    RefusedForReview(Vec<String>),
    /// The provider refused the access token (401) although it was fresh by its expiry:
    /// revoked, or cut short. The run replaces it once and runs again
    /// ([`AccessTokens::replace_rejected`]); a second refusal is retried later.
    #[error("the provider refused the access token: {0}")]
    TokenRejected(String),
    /// A fault that trying again will not mend (a bug, data that cannot be read).
    #[error("the sync failed: {0}")]
    Fatal(String),
    /// The run's lease on its schedule was lost (the process paused longer than the lease):
    /// it stopped without writing more; another process may be running the schedule.
    #[error("the lease on this schedule was lost; stopped without writing more")]
    LeaseLost,
}

impl SyncError {
    pub fn retryable(reason: impl Into<String>) -> SyncError {
        SyncError::Retryable {
            reason: reason.into(),
            retry_after: None,
        }
    }
}

impl From<TokenError> for SyncError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::NeedsReauth(m) => SyncError::NeedsReauth(m),
            TokenError::Unavailable(m) => SyncError::retryable(m),
        }
    }
}

impl From<threadline_crm::CrmError> for SyncError {
    fn from(e: threadline_crm::CrmError) -> Self {
        match e {
            threadline_crm::CrmError::Database(db)
                if threadline_storage::errors::is_transient(&db) =>
            {
                SyncError::retryable(format!("database busy: {db}"))
            }
            other => SyncError::Fatal(other.to_string()),
        }
    }
}

impl From<super::FencedError> for SyncError {
    fn from(e: super::FencedError) -> Self {
        match e {
            super::FencedError::LeaseLost => SyncError::LeaseLost,
            super::FencedError::Failed(e) => e.into(),
        }
    }
}

impl From<sqlx::Error> for SyncError {
    fn from(e: sqlx::Error) -> Self {
        SyncError::from(threadline_crm::CrmError::Database(e))
    }
}

/// The OAuth token source (refresh ahead of expiry, one refresh at a time per connection)
/// as the engine's access tokens.
impl AccessTokens for TokenSource {
    fn access_token(&self, connection_id: Uuid) -> BoxFuture<'_, Result<SecretString, TokenError>> {
        Box::pin(async move { token_answer(TokenSource::access_token(self, connection_id).await) })
    }

    fn replace_rejected<'a>(
        &'a self,
        connection_id: Uuid,
        rejected: &'a SecretString,
    ) -> BoxFuture<'a, Result<SecretString, TokenError>> {
        Box::pin(async move {
            token_answer(TokenSource::replace_rejected(self, connection_id, rejected).await)
        })
    }
}

fn token_answer(
    answer: Result<oauth::AccessToken, oauth::Error>,
) -> Result<SecretString, TokenError> {
    match answer {
        Ok(token) => Ok(token.token),
        Err(e) if e.pauses_schedules() => Err(TokenError::NeedsReauth(e.to_string())),
        // Transient, or refused for a reason of the server's (`invalid_client`): the pass is
        // tried again later, with back-off; the status says why meanwhile.
        Err(e) => Err(TokenError::Unavailable(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// "old" first; "new" once "old" was refused.
    struct Rotating;

    impl AccessTokens for Rotating {
        fn access_token(&self, _: Uuid) -> BoxFuture<'_, Result<SecretString, TokenError>> {
            Box::pin(async { Ok(SecretString::from("old".to_string())) })
        }

        fn replace_rejected<'a>(
            &'a self,
            _: Uuid,
            rejected: &'a SecretString,
        ) -> BoxFuture<'a, Result<SecretString, TokenError>> {
            assert_eq!(rejected.expose_secret(), "old");
            Box::pin(async { Ok(SecretString::from("new".to_string())) })
        }
    }

    async fn run(
        answers: fn(&str) -> Result<u32, SyncError>,
    ) -> (Vec<String>, Result<u32, SyncError>) {
        let seen = Mutex::new(Vec::new());
        let result = with_token_replacement(&Rotating, Uuid::nil(), "Test", |token| {
            seen.lock().unwrap().push(token.clone());
            async move { answers(&token) }
        })
        .await;
        (seen.into_inner().unwrap(), result)
    }

    #[tokio::test]
    async fn a_refused_token_is_replaced_once_and_the_attempt_runs_again() {
        let (seen, result) = run(|t| match t {
            "old" => Err(SyncError::TokenRejected("401".into())),
            _ => Ok(7),
        })
        .await;
        assert_eq!(seen, ["old", "new"]);
        assert!(matches!(result, Ok(7)));

        let (seen, result) = run(|_| Err(SyncError::TokenRejected("401".into()))).await;
        assert_eq!(seen, ["old", "new"]);
        assert!(matches!(result, Err(SyncError::TokenRejected(_))));

        let (seen, result) = run(|_| Err(SyncError::Fatal("no".into()))).await;
        assert_eq!(seen, ["old"]);
        assert!(matches!(result, Err(SyncError::Fatal(_))));
    }
}
