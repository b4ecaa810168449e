//! Calls to the providers about a connection. Only the seam for now: issue 4 (the sync
//! engine) brings the HTTP client, and with it the token endpoints.

use super::Revocation;
use crate::state::AppState;

/// Asks the provider to revoke the tokens a disconnect took off a connection, after that
/// disconnect is committed (the tokens are already gone from the database: the user asked
/// to disconnect, and a provider that cannot be reached must not keep them here).
///
/// **Not implemented yet (issue 4)**: nothing is sent, the tokens are only forgotten here.
/// The engine will open the tokens (`revocation.open(state.keyring()?)`) and call:
/// - Google: `POST https://oauth2.googleapis.com/revoke` with `token=<refresh token>`
///   (revoking the refresh token revokes the grant);
/// - Dropbox: `POST https://api.dropboxapi.com/2/auth/token/revoke` with the access token
///   as bearer (refresh it first if it has expired).
///
/// A failure is logged (never a token) and does not fail the disconnect.
pub async fn revoke(state: &AppState, revocation: Revocation) {
    let _ = state;
    tracing::info!(
        connection = %revocation.connection_id,
        provider = revocation.provider.as_str(),
        "connection disconnected; its tokens were deleted here, not revoked at the provider \
         (remote revocation comes with the sync engine)"
    );
}
