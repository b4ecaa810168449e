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
/// token). Dropbox: `auth/token/revoke` with the access token, which disables its refresh
/// token too (an expired access token is refreshed first: see
/// [`crate::oauth::dropbox::Dropbox::revoke`]).
///
/// A failure is logged (never a token) and does not fail the disconnect: the data on both
/// sides stays either way, and the user can also remove access in their Google account or
/// Dropbox's "Connected apps".
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
    if access.is_none() && refresh.is_none() {
        return;
    }
    let outcome = match revocation.provider {
        Provider::Google => match (oauth.google(), refresh.or(access)) {
            (Ok(google), Some(token)) => google.revoke(&token).await,
            (Err(e), _) => Err(e),
            (Ok(_), None) => return,
        },
        Provider::Dropbox => match oauth.dropbox() {
            Ok(dropbox) => dropbox.revoke(access.as_ref(), refresh.as_ref()).await,
            Err(e) => Err(e),
        },
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
