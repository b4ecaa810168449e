//! Calls to the providers about a connection.

use super::{Provider, Revocation};
use crate::oauth::OAuth;
use threadline_storage::secrets::Keyring;

/// Asks the provider to revoke the tokens a disconnect took off a connection, after that
/// disconnect is committed (the tokens are already gone from the database: the user asked
/// to disconnect, and a provider that cannot be reached must not keep them here).
///
/// Google: the configured revoke URL (`POST …/revoke`, `token=<refresh token>`; revoking
/// the refresh token revokes the whole grant, the access token when there is no refresh
/// token). Dropbox: not implemented yet (its issue brings `auth/token/revoke`).
///
/// A failure is logged (never a token) and does not fail the disconnect: the data on both
/// sides stays either way, and the user can also remove access in their Google account.
pub async fn revoke(keys: Option<&Keyring>, oauth: &OAuth, revocation: Revocation) {
    let connection = revocation.connection_id;
    let provider = revocation.provider.as_str();
    let opened = keys
        .ok_or_else(|| "no secret keys configured".to_string())
        .and_then(|keys| revocation.open(keys).map_err(|e| e.to_string()));
    let (access, refresh) = match opened {
        Ok(pair) => pair,
        Err(e) => {
            tracing::warn!(%connection, provider, error = %e, "cannot read the tokens to revoke; they were deleted here only");
            return;
        }
    };
    let Some(token) = refresh.or(access) else {
        return;
    };
    let outcome = match revocation.provider {
        Provider::Google => match oauth.google() {
            Ok(google) => google.revoke(&token).await,
            Err(e) => Err(e),
        },
        Provider::Dropbox => {
            tracing::info!(%connection, provider, "connection disconnected; Dropbox tokens are deleted here, not revoked yet");
            return;
        }
    };
    match outcome {
        Ok(()) => {
            tracing::info!(%connection, provider, "connection disconnected; its grant was revoked at the provider")
        }
        Err(e) => {
            tracing::warn!(%connection, provider, error = %e, "connection disconnected, but revoking its grant at the provider failed; the tokens were deleted here")
        }
    }
}
