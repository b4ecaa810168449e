//! A user's own API tokens and devices, and the extension's sign-in through the web app.
//!
//! - **Tokens**: [`tokens_of`] lists a user's tokens (the API's `/tokens` and the settings
//!   page both read it), [`create_personal_token`] and [`revoke_own_token`] are the settings
//!   page's. A token's `kind` is `personal` or `device` (migration 0023).
//! - **Devices**: the options page of the extension opens `/connect/extension` with a PKCE
//!   challenge (RFC 7636, S256), the redirect URI of the browser's identity API and the
//!   browser's name. The signed-in user allows it: [`issue_device_code`] makes a one-time
//!   code (`tlc_` and 32 random bytes in hex; only its SHA-256 is kept, with the challenge,
//!   the redirect URI, the user and the device name), sent back to the redirect URI. The
//!   extension trades it with its verifier for a device token ([`exchange_device_code`]):
//!   once, within [`DEVICE_CODE_TTL`]. A code is spent by the first attempt to trade it,
//!   right or wrong. Each device token shows in the settings' Devices list and is revoked as
//!   any token.
//!
//! Redirect URIs are only those the browsers' `identity.getRedirectURL()` gives
//! ([`redirect_uri_allowed`]): a code never goes to a web site.

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use threadline_storage::db::{self, format_time, id_text, parse_uuid, Conn, Db};
use uuid::Uuid;

use super::{hash_token, random_secret};
use crate::error::{CrmError, CrmResult, Reason};
use crate::validate;
use crate::Actor;

/// How long a device code can be traded for a token.
pub const DEVICE_CODE_TTL: Duration = Duration::seconds(60);
/// The prefix of a device code.
pub const CODE_PREFIX: &str = "tlc_";
/// Longest token (and device) name, in characters.
pub const MAX_TOKEN_NAME_CHARS: usize = 100;

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Made by the CLI, over the API or on the settings page.
    Personal,
    /// A browser's extension, signed in through the web app.
    Device,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Personal => "personal",
            TokenKind::Device => "device",
        }
    }
}

/// One of a user's tokens, as listed (never the token nor its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnToken {
    pub id: Uuid,
    /// The label given, or the device's name.
    pub name: String,
    pub kind: TokenKind,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    /// The token it was created with over the API (revoking that one revokes this one).
    pub parent_id: Option<Uuid>,
}

impl OwnToken {
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

type TokenRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// The tokens of user `user_id` (revoked ones too), oldest first; only the one with id
/// `only` when given.
pub async fn tokens_of(
    conn: &mut Conn,
    user_id: Uuid,
    only: Option<Uuid>,
) -> CrmResult<Vec<OwnToken>> {
    let rows: Vec<TokenRow> = sqlx::query_as(
        "SELECT id, name, kind, created_at, last_used_at, revoked_at, parent_token_id
         FROM api_tokens WHERE user_id = $1 AND ($2 IS NULL OR id = $2)
         ORDER BY created_at, id",
    )
    .bind(id_text(user_id))
    .bind(only.map(id_text))
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(
            |(id, name, kind, created_at, last_used_at, revoked_at, parent)| {
                Ok(OwnToken {
                    id: parse_uuid(&id)?,
                    name,
                    kind: if kind == "device" {
                        TokenKind::Device
                    } else {
                        TokenKind::Personal
                    },
                    created_at,
                    last_used_at,
                    revoked_at,
                    parent_id: parent.as_deref().map(parse_uuid).transpose()?,
                })
            },
        )
        .collect()
}

fn storage_error(e: threadline_storage::Error) -> CrmError {
    match e {
        threadline_storage::Error::Database(e) => CrmError::Database(e),
        other => CrmError::internal(other.to_string()),
    }
}

/// A new personal token of the actor named `name` (1 to [`MAX_TOKEN_NAME_CHARS`]
/// characters): the token (shown once) and how it is listed.
pub async fn create_personal_token(
    db: &Db,
    actor: &Actor,
    name: &str,
) -> CrmResult<(OwnToken, String)> {
    let name = &validate::required_text("name", name, MAX_TOKEN_NAME_CHARS)?;
    let user_id = actor.user_id;
    db.write(|tx| {
        Box::pin(async move {
            let new = super::insert_token_of_kind(tx, user_id, name, None, "personal")
                .await
                .map_err(storage_error)?;
            let info = tokens_of(tx, user_id, Some(new.id))
                .await?
                .pop()
                .ok_or_else(|| CrmError::internal("the new token was not found"))?;
            Ok((info, new.token))
        })
    })
    .await
}

/// Revokes the actor's token `id` and the tokens created with it
/// ([`super::revoke_token_tree`]); nothing more when it is revoked already. `not_found`
/// when the actor has no such token (another user's included).
pub async fn revoke_own_token(db: &Db, actor: &Actor, id: Uuid) -> CrmResult<()> {
    let user_id = actor.user_id;
    db.write(|tx| {
        Box::pin(async move {
            if tokens_of(tx, user_id, Some(id)).await?.is_empty() {
                return Err(CrmError::new(
                    Reason::NotFound,
                    "not_found",
                    "There is no such token.",
                ));
            }
            super::revoke_token_tree(tx, id, Some(user_id))
                .await
                .map_err(storage_error)?;
            Ok(())
        })
    })
    .await
}

/// Whether `uri` is a browser extension's identity redirect URL, exactly as
/// `identity.getRedirectURL()` gives it: Chrome's `https://<extension id>.chromiumapp.org/`
/// (32 letters a–p) or Firefox's `https://<40 hex digits>.extensions.allizom.org/`.
pub fn redirect_uri_allowed(uri: &str) -> bool {
    let Some(host) = uri
        .strip_prefix("https://")
        .and_then(|rest| rest.strip_suffix('/'))
    else {
        return false;
    };
    if let Some(id) = host.strip_suffix(".chromiumapp.org") {
        return id.len() == 32 && id.bytes().all(|b| (b'a'..=b'p').contains(&b));
    }
    if let Some(hash) = host.strip_suffix(".extensions.allizom.org") {
        return hash.len() == 40 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    }
    false
}

/// The S256 challenge of a PKCE `verifier`: base64url (no padding) of its SHA-256.
pub fn challenge_of(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn is_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// A device's sign-in request, checked: the redirect URI is an extension's
/// ([`redirect_uri_allowed`]: else `invalid_redirect_uri`), the challenge an S256 one
/// (`invalid_field` `code_challenge`), the device name a name (`invalid_field` `device`).
/// Returns the device name as kept.
pub fn check_device_request(
    redirect_uri: &str,
    code_challenge: &str,
    device: &str,
) -> CrmResult<String> {
    if !redirect_uri_allowed(redirect_uri) {
        return Err(CrmError::new(
            Reason::BadInput,
            "invalid_redirect_uri",
            "This sign-in did not come from the Threadline extension.",
        ));
    }
    if !is_challenge(code_challenge) {
        return Err(CrmError::invalid(
            "code_challenge",
            "the code challenge must be an S256 one (43 characters of base64url)",
        ));
    }
    validate::required_text("device", device, MAX_TOKEN_NAME_CHARS)
}

/// The actor allows a device to use Threadline as them: a one-time code for
/// `redirect_uri`, tied to `code_challenge` and `device` (checked by
/// [`check_device_request`]). Codes long expired are deleted.
pub async fn issue_device_code(
    db: &Db,
    actor: &Actor,
    redirect_uri: &str,
    code_challenge: &str,
    device: &str,
    now: DateTime<Utc>,
) -> CrmResult<String> {
    let device = &check_device_request(redirect_uri, code_challenge, device)?;
    let code = random_secret(CODE_PREFIX)?;
    let code_hash = &hash_token(&code);
    let user_id = actor.user_id;
    db.write(|tx| {
        Box::pin(async move {
            sqlx::query("DELETE FROM device_codes WHERE expires_at <= $1")
                .bind(format_time(now - Duration::days(1)))
                .execute(&mut **tx)
                .await?;
            sqlx::query(
                "INSERT INTO device_codes (id, code_hash, user_id, code_challenge, redirect_uri,
                     device_name, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(id_text(db::new_id()))
            .bind(code_hash)
            .bind(id_text(user_id))
            .bind(code_challenge)
            .bind(redirect_uri)
            .bind(device)
            .bind(format_time(now))
            .bind(format_time(now + DEVICE_CODE_TTL))
            .execute(&mut **tx)
            .await?;
            Ok::<_, CrmError>(())
        })
    })
    .await?;
    Ok(code)
}

/// A device token just made: `token` is shown once.
#[derive(Debug, Clone)]
pub struct DeviceToken {
    pub id: Uuid,
    pub token: String,
    pub device: String,
}

enum Trade {
    Issued(DeviceToken),
    Refused,
}

/// Trades a device code and the PKCE verifier for a device token (kind `device`, named as
/// the device). `redirect_uri`, when given, must be the one the code was issued for.
/// Refused with `invalid_code` when the code is unknown, spent, expired, or the verifier or
/// redirect URI is not its own; the first attempt spends the code, whatever its outcome.
pub async fn exchange_device_code(
    db: &Db,
    code: &str,
    verifier: &str,
    redirect_uri: Option<&str>,
    now: DateTime<Utc>,
) -> CrmResult<DeviceToken> {
    let refused = || {
        CrmError::new(
            Reason::BadInput,
            "invalid_code",
            "This sign-in code is not valid (used, expired or not this device's): sign in again.",
        )
    };
    if !code.starts_with(CODE_PREFIX) || !is_verifier(verifier) {
        return Err(refused());
    }
    let code_hash = &hash_token(code);
    let challenge = &challenge_of(verifier);
    let traded = db
        .write(|tx| {
            Box::pin(async move {
                type Row = (
                    String,
                    String,
                    String,
                    String,
                    String,
                    String,
                    Option<String>,
                );
                let row: Option<Row> = sqlx::query_as(
                    "SELECT id, user_id, code_challenge, redirect_uri, device_name, expires_at,
                            used_at
                     FROM device_codes WHERE code_hash = $1",
                )
                .bind(code_hash)
                .fetch_optional(&mut **tx)
                .await?;
                let Some((id, user_id, expected, issued_to, device, expires_at, used_at)) = row
                else {
                    return Ok(Trade::Refused);
                };
                if used_at.is_some() || format_time(now) >= expires_at {
                    return Ok(Trade::Refused);
                }
                sqlx::query("UPDATE device_codes SET used_at = $1 WHERE id = $2")
                    .bind(format_time(now))
                    .bind(&id)
                    .execute(&mut **tx)
                    .await?;
                if expected != *challenge || redirect_uri.is_some_and(|uri| uri != issued_to) {
                    return Ok(Trade::Refused);
                }
                let new =
                    super::insert_token_of_kind(tx, parse_uuid(&user_id)?, &device, None, "device")
                        .await
                        .map_err(storage_error)?;
                Ok::<_, CrmError>(Trade::Issued(DeviceToken {
                    id: new.id,
                    token: new.token,
                    device,
                }))
            })
        })
        .await?;
    match traded {
        Trade::Issued(token) => Ok(token),
        Trade::Refused => Err(refused()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_browsers_identity_redirects_are_allowed() {
        assert!(redirect_uri_allowed(
            "https://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/"
        ));
        assert!(redirect_uri_allowed(
            "https://0123456789abcdef0123456789abcdef01234567.extensions.allizom.org/"
        ));
        for bad in [
            "https://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org",
            "https://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/x",
            "https://abcdefghijklmnopabcdefghijklmnoq.chromiumapp.org/",
            "https://abcdefghijklmnopabcdefghijklmno.chromiumapp.org/",
            "http://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/",
            "https://evil.example/.chromiumapp.org/",
            "https://evil.example/?x=abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/",
            "https://a.abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/",
            "https://0123456789ABCDEF0123456789abcdef01234567.extensions.allizom.org/",
            "https://evil.example/",
            "",
        ] {
            assert!(!redirect_uri_allowed(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_challenge_is_rfc_7636_s256() {
        // RFC 7636, appendix B.
        assert_eq!(
            challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(is_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!is_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c="));
        assert!(is_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert!(!is_verifier("short"));
    }
}
