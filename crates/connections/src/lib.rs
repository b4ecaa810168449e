//! Connections: each user's link to an outside service (table `connections`, migration
//! 0005). One per (user, provider); tokens encrypted at rest ([`threadline_storage::secrets`]).
//!
//! The Rust API the sync engine (issue 4) builds on; every function runs on the caller's
//! connection, so that it can be part of the caller's [`threadline_storage::db::Db::write`]:
//! - [`upsert`]: after an OAuth code exchange, stores the grant (creates the row or connects
//!   it again, status `ok`);
//! - [`tokens`]: the decrypted tokens and the row's version;
//! - [`store_refreshed`]: the tokens of a refresh, written only if the row is still at the
//!   version the refresh started from (a concurrent change is [`Error::Conflict`]);
//! - [`set_status`]: `ok`, `syncing`, `needs_reauth` (on `invalid_grant`), `degraded`, with a
//!   reason;
//! - [`disconnect`]: drops the tokens, keeps the row (`disconnected`) and hands back what the
//!   provider should be told to revoke ([`remote::revoke`]).
//!
//! HTTP (`routes/connections.rs`) shows a user their own connections, never a token;
//! connecting (the OAuth flow) and valid access tokens for the sync are [`crate::oauth`].

pub mod oauth;
pub mod remote;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use threadline_crm::Actor;
use threadline_storage::db::{self, id_text, Conn};
use threadline_storage::errors::DbFailure;
use threadline_storage::secrets::{ExposeSecret, Keyring, SecretError, SecretString, Slot};

/// The table, also part of each token's associated data.
const TABLE: &str = "connections";
/// Longest status reason kept, in characters (a longer one is cut).
pub const MAX_REASON_CHARS: usize = 500;
/// Longest remote account id, address or scope, in characters.
const MAX_TEXT_CHARS: usize = 320;

/// The outside services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Google,
    Dropbox,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Google => "google",
            Provider::Dropbox => "dropbox",
        }
    }

    /// Its name for people.
    pub fn label(self) -> &'static str {
        match self {
            Provider::Google => "Google",
            Provider::Dropbox => "Dropbox",
        }
    }

    /// What the server's OAuth client of it is made of, for messages.
    pub fn client_credentials(self) -> &'static str {
        match self {
            Provider::Google => "Google OAuth client id and secret",
            Provider::Dropbox => "Dropbox app key and app secret",
        }
    }

    pub fn parse(s: &str) -> Result<Provider, Error> {
        match s {
            "google" => Ok(Provider::Google),
            "dropbox" => Ok(Provider::Dropbox),
            other => Err(Error::Internal(format!(
                "unknown provider {other:?} stored"
            ))),
        }
    }
}

/// A connection's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Usable.
    Ok,
    /// A sync is running.
    Syncing,
    /// The provider refused the grant (`invalid_grant`, access revoked): the user must
    /// connect again; schedules skip it.
    NeedsReauth,
    /// Usable but failing (throttled, errors): see the reason.
    Degraded,
    /// The user disconnected it: no tokens.
    Disconnected,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Syncing => "syncing",
            Status::NeedsReauth => "needs_reauth",
            Status::Degraded => "degraded",
            Status::Disconnected => "disconnected",
        }
    }

    fn parse(s: &str) -> Result<Status, Error> {
        [
            Status::Ok,
            Status::Syncing,
            Status::NeedsReauth,
            Status::Degraded,
            Status::Disconnected,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
        .ok_or_else(|| Error::Internal(format!("unknown connection status {s:?} stored")))
    }
}

/// A connection as shown to its user (`GET /api/v1/connections`): never its tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Connection {
    pub id: Uuid,
    pub user_id: Uuid,
    pub provider: Provider,
    /// The remote account, as the provider names it.
    pub account_id: String,
    pub account_email: Option<String>,
    /// Granted scopes, sorted.
    pub scopes: Vec<String>,
    pub status: Status,
    pub status_reason: Option<String>,
    pub access_token_expires_at: Option<String>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    pub connected_at: String,
    pub disconnected_at: Option<String>,
}

/// A connection's errors in the CRM model's terms (how the API answers them).
impl From<Error> for threadline_crm::CrmError {
    fn from(e: Error) -> Self {
        use threadline_crm::{CrmError, Reason};
        match e {
            Error::NotFound(_) => CrmError::new(Reason::NotFound, "not_found", e.to_string()),
            Error::Conflict { .. } | Error::Disconnected(_) | Error::AccountTaken(_) => {
                CrmError::new(Reason::Conflict, "conflict", e.to_string())
            }
            Error::Invalid { field, message } => CrmError::invalid(field, message),
            Error::Database(e) => CrmError::Database(e),
            Error::Secret(_) | Error::Internal(_) => CrmError::internal(e.to_string()),
        }
    }
}

/// Whose connection: the organisation and the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub org_id: Uuid,
    pub user_id: Uuid,
}

impl From<&Actor> for Owner {
    fn from(auth: &Actor) -> Self {
        Owner {
            org_id: auth.org_id,
            user_id: auth.user_id,
        }
    }
}

/// What an OAuth code exchange gave (its `Debug` shows no token).
#[derive(Debug)]
pub struct Grant {
    pub provider: Provider,
    pub account_id: String,
    pub account_email: Option<String>,
    pub scopes: Vec<String>,
    pub access_token: SecretString,
    /// `None` when the provider sent none (Google sends one only on the first consent): the
    /// stored one is kept if the account is the same.
    pub refresh_token: Option<SecretString>,
    pub access_token_expires_at: Option<DateTime<Utc>>,
}

/// What a refresh gave.
#[derive(Debug)]
pub struct Refreshed {
    pub access_token: SecretString,
    pub access_token_expires_at: Option<DateTime<Utc>>,
    /// A rotated refresh token; `None` keeps the stored one.
    pub refresh_token: Option<SecretString>,
}

/// The result of [`upsert`].
#[derive(Debug, Clone)]
pub struct Upserted {
    pub connection: Connection,
    /// The row is new.
    pub created: bool,
    /// The row existed for another remote account: what the sync kept for the old one
    /// (links, cursors) does not apply to the new one.
    pub account_changed: bool,
}

/// A connection's decrypted tokens (`Debug` redacts them).
#[derive(Debug)]
pub struct Tokens {
    pub provider: Provider,
    pub access_token: Option<SecretString>,
    pub refresh_token: Option<SecretString>,
    pub access_token_expires_at: Option<String>,
    pub status: Status,
    /// The row's version when read: give it to [`store_refreshed`].
    pub version: i64,
}

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("there is no connection with id {0}")]
    NotFound(Uuid),
    #[error(
        "the connection {id} was changed meanwhile: it is at version {current}, the write was \
         for version {expected}; read it again"
    )]
    Conflict {
        id: Uuid,
        current: i64,
        expected: i64,
    },
    #[error("the connection {0} is disconnected: store a new grant to connect it again")]
    Disconnected(Uuid),
    /// The remote account is connected to another user (of this organisation or another):
    /// one user at a time, so that one person's calendar never feeds someone else's.
    #[error(
        "this {} account is already connected to another Threadline user; it must be \
         disconnected there first",
        .0.label()
    )]
    AccountTaken(Provider),
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

impl DbFailure for Error {
    fn database_error(&self) -> Option<&sqlx::Error> {
        match self {
            Error::Database(e) => Some(e),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn slot(id: Uuid, field: &'static str) -> Slot<'static> {
    Slot {
        table: TABLE,
        row_id: id,
        field,
    }
}

const ACCESS: &str = "access_token";
const REFRESH: &str = "refresh_token";

const COLUMNS: &str = "id, user_id, provider, account_id, account_email, scopes, status, \
                       status_reason, access_token_expires_at, version, created_at, updated_at, \
                       connected_at, disconnected_at";

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    user_id: String,
    provider: String,
    account_id: String,
    account_email: Option<String>,
    scopes: String,
    status: String,
    status_reason: Option<String>,
    access_token_expires_at: Option<String>,
    version: i64,
    created_at: String,
    updated_at: String,
    connected_at: String,
    disconnected_at: Option<String>,
}

impl TryFrom<Row> for Connection {
    type Error = Error;

    fn try_from(row: Row) -> Result<Connection> {
        Ok(Connection {
            id: db::parse_uuid(&row.id)?,
            user_id: db::parse_uuid(&row.user_id)?,
            provider: Provider::parse(&row.provider)?,
            account_id: row.account_id,
            account_email: row.account_email,
            scopes: row.scopes.split_whitespace().map(str::to_string).collect(),
            status: Status::parse(&row.status)?,
            status_reason: row.status_reason,
            access_token_expires_at: row.access_token_expires_at,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
            connected_at: row.connected_at,
            disconnected_at: row.disconnected_at,
        })
    }
}

/// A connection by id, whoever's it is (for the engine), or [`Error::NotFound`].
pub async fn get(conn: &mut Conn, id: Uuid) -> Result<Connection> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM {TABLE} WHERE id = $1"))
        .bind(id_text(id))
        .fetch_optional(&mut *conn)
        .await?;
    row.ok_or(Error::NotFound(id))?.try_into()
}

/// `owner`'s connection `id`; another user's is [`Error::NotFound`], as a missing one.
pub async fn get_for(conn: &mut Conn, owner: Owner, id: Uuid) -> Result<Connection> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM {TABLE} WHERE id = $1 AND user_id = $2 AND org_id = $3"
    ))
    .bind(id_text(id))
    .bind(id_text(owner.user_id))
    .bind(id_text(owner.org_id))
    .fetch_optional(&mut *conn)
    .await?;
    row.ok_or(Error::NotFound(id))?.try_into()
}

/// `owner`'s connections, by provider.
pub async fn list_for(conn: &mut Conn, owner: Owner) -> Result<Vec<Connection>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM {TABLE} WHERE user_id = $1 AND org_id = $2 ORDER BY provider, id"
    ))
    .bind(id_text(owner.user_id))
    .bind(id_text(owner.org_id))
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(Connection::try_from).collect()
}

/// Stores a grant for `owner` after an OAuth code exchange: a new connection, or the
/// existing one of that provider connected again (status `ok`, reason cleared).
/// [`Error::AccountTaken`] when the remote account is connected to another user (a
/// disconnected connection does not count): it must be disconnected there first.
pub async fn upsert(
    conn: &mut Conn,
    keys: &Keyring,
    owner: Owner,
    grant: &Grant,
) -> Result<Upserted> {
    let account_id = checked_text("account_id", &grant.account_id)?;
    let account_email = match &grant.account_email {
        Some(e) => Some(checked_text("account_email", e)?),
        None => None,
    };
    let scopes = checked_scopes(&grant.scopes)?;
    if grant.access_token.expose_secret().is_empty() {
        return Err(invalid("access_token", "the access token is empty"));
    }
    let expires = grant.access_token_expires_at.map(db::format_time);
    // In the write transaction: of two users connecting one account at once, one gets it.
    let elsewhere: Option<String> = sqlx::query_scalar(&format!(
        "SELECT id FROM {TABLE}
         WHERE provider = $1 AND account_id = $2 AND user_id <> $3 AND status <> 'disconnected'
         LIMIT 1"
    ))
    .bind(grant.provider.as_str())
    .bind(&account_id)
    .bind(id_text(owner.user_id))
    .fetch_optional(&mut *conn)
    .await?;
    if elsewhere.is_some() {
        return Err(Error::AccountTaken(grant.provider));
    }
    let now = db::now();
    let existing: Option<(String, String, Option<String>)> = sqlx::query_as(&format!(
        "SELECT id, account_id, refresh_token FROM {TABLE} WHERE user_id = $1 AND provider = $2"
    ))
    .bind(id_text(owner.user_id))
    .bind(grant.provider.as_str())
    .fetch_optional(&mut *conn)
    .await?;

    let (id, created, account_changed) = match existing {
        None => {
            let id = db::new_id();
            let refresh = seal_optional(keys, id, REFRESH, grant.refresh_token.as_ref())?;
            // On PostgreSQL a row inserted meanwhile by a concurrent write is a serialization
            // failure here, which `Db::write` runs again (and the next try updates it).
            let inserted = sqlx::query(&format!(
                "INSERT INTO {TABLE} (id, org_id, user_id, provider, account_id, account_email,
                     scopes, access_token, refresh_token, access_token_expires_at, status,
                     status_reason, version, created_at, updated_at, connected_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'ok', NULL, 1, $11, $11, $11)
                 ON CONFLICT (user_id, provider) DO NOTHING"
            ))
            .bind(id_text(id))
            .bind(id_text(owner.org_id))
            .bind(id_text(owner.user_id))
            .bind(grant.provider.as_str())
            .bind(&account_id)
            .bind(&account_email)
            .bind(&scopes)
            .bind(keys.seal(&grant.access_token, slot(id, ACCESS))?)
            .bind(refresh)
            .bind(&expires)
            .bind(&now)
            .execute(&mut *conn)
            .await?;
            if inserted.rows_affected() != 1 {
                return Err(Error::Internal(format!(
                    "a {} connection of user {} appeared while it was being created",
                    grant.provider.as_str(),
                    owner.user_id
                )));
            }
            (id, true, false)
        }
        Some((id, old_account, old_refresh)) => {
            let id = db::parse_uuid(&id)?;
            let account_changed = old_account != account_id;
            // A refresh token belongs to its account: kept only for the same one.
            let refresh = match &grant.refresh_token {
                Some(token) => Some(keys.seal(token, slot(id, REFRESH))?),
                None if account_changed => None,
                None => old_refresh,
            };
            sqlx::query(&format!(
                "UPDATE {TABLE} SET account_id = $1, account_email = $2, scopes = $3,
                     access_token = $4, refresh_token = $5, access_token_expires_at = $6,
                     status = 'ok', status_reason = NULL, version = version + 1,
                     updated_at = $7, connected_at = $7, disconnected_at = NULL
                 WHERE id = $8"
            ))
            .bind(&account_id)
            .bind(&account_email)
            .bind(&scopes)
            .bind(keys.seal(&grant.access_token, slot(id, ACCESS))?)
            .bind(refresh)
            .bind(&expires)
            .bind(&now)
            .bind(id_text(id))
            .execute(&mut *conn)
            .await?;
            (id, false, account_changed)
        }
    };
    Ok(Upserted {
        connection: get(conn, id).await?,
        created,
        account_changed,
    })
}

/// The decrypted tokens of connection `id` (a disconnected one has none).
pub async fn tokens(conn: &mut Conn, keys: &Keyring, id: Uuid) -> Result<Tokens> {
    let row = sealed_row(conn, id).await?;
    let (access_token, refresh_token) = open_pair(
        keys,
        id,
        row.access_token.as_deref(),
        row.refresh_token.as_deref(),
    )?;
    Ok(Tokens {
        provider: Provider::parse(&row.provider)?,
        access_token,
        refresh_token,
        access_token_expires_at: row.access_token_expires_at,
        status: Status::parse(&row.status)?,
        version: row.version,
    })
}

/// A connection's tokens as stored (encrypted), with what says whether they may be used.
#[derive(sqlx::FromRow)]
struct SealedRow {
    provider: String,
    access_token: Option<String>,
    refresh_token: Option<String>,
    access_token_expires_at: Option<String>,
    status: String,
    version: i64,
}

async fn sealed_row(conn: &mut Conn, id: Uuid) -> Result<SealedRow> {
    let row: Option<SealedRow> = sqlx::query_as(&format!(
        "SELECT provider, access_token, refresh_token, access_token_expires_at, status, version
         FROM {TABLE} WHERE id = $1"
    ))
    .bind(id_text(id))
    .fetch_optional(&mut *conn)
    .await?;
    row.ok_or(Error::NotFound(id))
}

/// The access and refresh tokens of connection `id`, decrypted.
fn open_pair(
    keys: &Keyring,
    id: Uuid,
    access: Option<&str>,
    refresh: Option<&str>,
) -> Result<(Option<SecretString>, Option<SecretString>)> {
    let open =
        |stored: Option<&str>, field| stored.map(|s| keys.open(s, slot(id, field))).transpose();
    Ok((open(access, ACCESS)?, open(refresh, REFRESH)?))
}

/// Stores the tokens of a refresh that started from `expected_version` (see [`tokens`]);
/// returns the new version. Both tokens are written with the current key. A row changed meanwhile (another refresh, a reconnect, a
/// disconnect) is not written: [`Error::Conflict`] or [`Error::Disconnected`].
pub async fn store_refreshed(
    conn: &mut Conn,
    keys: &Keyring,
    id: Uuid,
    expected_version: i64,
    refreshed: &Refreshed,
) -> Result<i64> {
    if refreshed.access_token.expose_secret().is_empty() {
        return Err(invalid("access_token", "the access token is empty"));
    }
    let refresh = match &refreshed.refresh_token {
        Some(token) => Some(keys.seal(token, slot(id, REFRESH))?),
        // The stored one, encrypted again with the current key: after a key rotation, every
        // connection in use moves to the new key with its next refresh.
        None => sealed_row(conn, id)
            .await?
            .refresh_token
            .map(|stored| {
                let token = keys.open(&stored, slot(id, REFRESH))?;
                keys.seal(&token, slot(id, REFRESH))
            })
            .transpose()?,
    };
    let done = sqlx::query(&format!(
        "UPDATE {TABLE} SET access_token = $1, access_token_expires_at = $2,
             refresh_token = $3, version = version + 1, updated_at = $4
         WHERE id = $5 AND version = $6 AND status <> 'disconnected'"
    ))
    .bind(keys.seal(&refreshed.access_token, slot(id, ACCESS))?)
    .bind(refreshed.access_token_expires_at.map(db::format_time))
    .bind(refresh)
    .bind(db::now())
    .bind(id_text(id))
    .bind(expected_version)
    .execute(&mut *conn)
    .await?;
    written(conn, id, Some(expected_version), done.rows_affected()).await
}

/// Sets the status of connection `id` (and its reason, cut to [`MAX_REASON_CHARS`]), if it is
/// at `expected_version` when one is given; returns the new version. A disconnected
/// connection keeps its status (connect it again with [`upsert`]); `disconnected` is set by
/// [`disconnect`] only.
pub async fn set_status(
    conn: &mut Conn,
    id: Uuid,
    expected_version: Option<i64>,
    status: Status,
    reason: Option<&str>,
) -> Result<i64> {
    if status == Status::Disconnected {
        return Err(invalid(
            "status",
            "a connection is disconnected by `disconnect`, which also drops its tokens",
        ));
    }
    let reason = reason
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| r.chars().take(MAX_REASON_CHARS).collect::<String>());
    let done = sqlx::query(&format!(
        "UPDATE {TABLE} SET status = $1, status_reason = $2, version = version + 1, updated_at = $3
         WHERE id = $4 AND ($5 IS NULL OR version = $5) AND status <> 'disconnected'"
    ))
    .bind(status.as_str())
    .bind(reason)
    .bind(db::now())
    .bind(id_text(id))
    .bind(expected_version)
    .execute(&mut *conn)
    .await?;
    written(conn, id, expected_version, done.rows_affected()).await
}

/// What a disconnect took off a connection: the tokens, still encrypted, for the provider
/// to revoke ([`remote::revoke`]). `Debug` shows no token.
pub struct Revocation {
    pub connection_id: Uuid,
    pub provider: Provider,
    access_token: Option<String>,
    refresh_token: Option<String>,
}

impl std::fmt::Debug for Revocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revocation")
            .field("connection_id", &self.connection_id)
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

impl Revocation {
    /// The access and refresh tokens, decrypted.
    pub fn open(&self, keys: &Keyring) -> Result<(Option<SecretString>, Option<SecretString>)> {
        open_pair(
            keys,
            self.connection_id,
            self.access_token.as_deref(),
            self.refresh_token.as_deref(),
        )
    }
}

/// The result of [`disconnect`].
#[derive(Debug)]
pub struct Disconnected {
    pub connection: Connection,
    /// `None` when it had no tokens (already disconnected).
    pub revocation: Option<Revocation>,
}

/// Disconnects connection `id`: drops its tokens, status `disconnected`; the row and what
/// refers to it stay. Disconnecting a disconnected connection changes nothing. Call
/// [`remote::revoke`] with the revocation once the transaction is committed.
pub async fn disconnect(conn: &mut Conn, id: Uuid) -> Result<Disconnected> {
    let row = sealed_row(conn, id).await?;
    if Status::parse(&row.status)? == Status::Disconnected {
        return Ok(Disconnected {
            connection: get(conn, id).await?,
            revocation: None,
        });
    }
    let now = db::now();
    sqlx::query(&format!(
        "UPDATE {TABLE} SET access_token = NULL, refresh_token = NULL,
             access_token_expires_at = NULL, status = 'disconnected',
             status_reason = 'disconnected by the user', version = version + 1,
             updated_at = $1, disconnected_at = $1
         WHERE id = $2"
    ))
    .bind(&now)
    .bind(id_text(id))
    .execute(&mut *conn)
    .await?;
    let revocation =
        (row.access_token.is_some() || row.refresh_token.is_some()).then_some(Revocation {
            connection_id: id,
            provider: Provider::parse(&row.provider)?,
            access_token: row.access_token,
            refresh_token: row.refresh_token,
        });
    Ok(Disconnected {
        connection: get(conn, id).await?,
        revocation,
    })
}

/// The new version after a conditional write, or why it wrote nothing.
async fn written(
    conn: &mut Conn,
    id: Uuid,
    expected_version: Option<i64>,
    rows: u64,
) -> Result<i64> {
    let current = get(conn, id).await?;
    if rows == 1 {
        return Ok(current.version);
    }
    if current.status == Status::Disconnected {
        return Err(Error::Disconnected(id));
    }
    Err(Error::Conflict {
        id,
        current: current.version,
        expected: expected_version.unwrap_or(current.version),
    })
}

fn seal_optional(
    keys: &Keyring,
    id: Uuid,
    field: &'static str,
    secret: Option<&SecretString>,
) -> Result<Option<String>> {
    Ok(secret.map(|s| keys.seal(s, slot(id, field))).transpose()?)
}

fn invalid(field: &'static str, message: impl Into<String>) -> Error {
    Error::Invalid {
        field,
        message: message.into(),
    }
}

fn checked_text(field: &'static str, value: &str) -> Result<String> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > MAX_TEXT_CHARS {
        return Err(invalid(
            field,
            format!("{field} must be 1 to {MAX_TEXT_CHARS} characters"),
        ));
    }
    Ok(value.to_string())
}

/// Scopes as stored: sorted, without repeats, space-separated (a scope has no spaces).
fn checked_scopes(scopes: &[String]) -> Result<String> {
    let mut checked = Vec::with_capacity(scopes.len());
    for scope in scopes {
        let scope = checked_text("scopes", scope)?;
        if scope.contains(char::is_whitespace) {
            return Err(invalid(
                "scopes",
                format!("the scope {scope:?} has a space; give each scope on its own"),
            ));
        }
        checked.push(scope);
    }
    checked.sort();
    checked.dedup();
    Ok(checked.join(" "))
}
