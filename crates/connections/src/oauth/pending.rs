//! Started connect flows, until their callback (table `oauth_pending`, migrations 0006, 0012,
//! 0024).
//!
//! A flow is tied to three things, each by a secret of which only the SHA-256 is stored:
//! - the **start link** ([`create`]): asked for with an API token or from a web session
//!   ([`Asker`]), it is the URL the browser
//!   opens first; it works once, within [`START_LIFETIME`];
//! - the **browser** ([`open`]): opening the start link gives that browser a cookie secret
//!   (the HTTP side sets it HttpOnly) and sends it on to the provider's consent screen;
//! - the **state**, which the provider brings back to the callback ([`take`]).
//!
//! The callback goes on only when the browser brings both the state and the cookie of the
//! browser that opened the start link ([`Flow::opened_by`]): an authorization URL sent to
//! someone else's browser connects nothing. The flow also remembers the API token or the web
//! session that asked for it: once that token is revoked or that session signed out, neither
//! the start link nor the callback goes on.
//! A flow lives [`LIFETIME`] after its start and is good once: [`take`] deletes it, whatever
//! the exchange does next. The PKCE verifier and the authorization URL (which holds the
//! state) are encrypted at rest, bound to the row.

use chrono::{DateTime, Utc};
use oauth2::CsrfToken;
use uuid::Uuid;

use crate::{Error, Owner, Provider};
use threadline_crm::accounts::sha256_hex;
use threadline_storage::db::{self, id_text, Conn};
use threadline_storage::secrets::{ExposeSecret, Keyring, SecretString, Slot};

/// How long a started flow may take, from the start link's opening to the callback (Google's
/// codes live 10 minutes too).
pub const LIFETIME: chrono::Duration = chrono::Duration::minutes(10);
/// How long the start link may wait to be opened: the client opens it at once.
pub const START_LIFETIME: chrono::Duration = chrono::Duration::minutes(5);

const TABLE: &str = "oauth_pending";
/// What both lookups end with: whether the flow's asker (token or session) has been revoked
/// or signed out since, and the joins that say it (`p` is the flow).
const TOKEN_REVOKED_FROM: &str = "CASE WHEN t.revoked_at IS NOT NULL OR s.ended_at IS NOT NULL
             OR (p.session_id IS NOT NULL AND s.id IS NULL) THEN 1 ELSE 0 END AS token_revoked
         FROM oauth_pending p LEFT JOIN api_tokens t ON t.id = p.token_id
             LEFT JOIN web_sessions s ON s.id = p.session_id";
const VERIFIER: &str = "pkce_verifier";
const AUTHORIZATION_URL: &str = "authorization_url";

fn slot(id: Uuid, field: &'static str) -> Slot<'static> {
    Slot {
        table: TABLE,
        row_id: id,
        field,
    }
}

/// Who asks for a flow, besides the user: what ends it when revoked or signed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asker {
    /// An API token (`POST /api/v1/connections/{provider}`).
    Token(Uuid),
    /// A web session (the web app's Integrations page).
    Session(Uuid),
}

/// A flow to store.
pub struct NewFlow<'a> {
    pub owner: Owner,
    /// The API token or web session that asks.
    pub asker: Asker,
    pub provider: Provider,
    pub state: &'a SecretString,
    pub pkce_verifier: &'a SecretString,
    /// The provider's consent screen for this flow (it holds the state).
    pub authorization_url: &'a str,
    pub scopes: &'a [String],
    pub redirect_url: &'a str,
}

/// A stored flow: the secret of its start link (shown once), and until when it may be opened.
#[derive(Debug)]
pub struct Created {
    pub start_secret: SecretString,
    pub expires_at: DateTime<Utc>,
}

/// What opening a start link ([`open`]) found.
#[derive(Debug)]
pub enum Opened {
    /// Send the browser to `authorization_url`, with `browser_secret` in a cookie named after
    /// `flow_id`.
    Started {
        flow_id: Uuid,
        browser_secret: SecretString,
        authorization_url: SecretString,
        /// Until when the callback may come.
        expires_at: DateTime<Utc>,
    },
    /// It was opened before: a start link works once.
    Used,
    /// It was not opened in time (deleted now).
    Expired,
    /// The API token that asked for it has been revoked since, or the web session signed
    /// out (deleted now).
    TokenRevoked,
    /// No such link: never made, or finished or purged.
    Unknown,
}

/// A flow found by its state.
#[derive(Debug)]
pub struct Flow {
    pub id: Uuid,
    pub owner: Owner,
    pub provider: Provider,
    pub pkce_verifier: SecretString,
    pub scopes: Vec<String>,
    pub redirect_url: String,
    /// The API token that asked for it has been revoked since, or the web session signed
    /// out.
    pub token_revoked: bool,
    browser_hash: Option<String>,
}

impl Flow {
    /// True when `browser_secret` (the cookie the browser brought) is the one given to the
    /// browser that opened the start link. A flow whose start link was never opened has none.
    pub fn opened_by(&self, browser_secret: Option<&str>) -> bool {
        match (&self.browser_hash, browser_secret) {
            (Some(stored), Some(secret)) => *stored == sha256_hex(secret.as_bytes()),
            _ => false,
        }
    }
}

/// What [`take`] found.
#[derive(Debug)]
pub enum Taken {
    Found(Flow),
    /// It was there but too old (deleted now).
    Expired,
    /// No such state: never issued, already used, or purged long after it expired.
    Unknown,
}

/// A new random secret: 32 bytes, base64url.
fn new_secret() -> SecretString {
    SecretString::from(CsrfToken::new_random_len(32).secret().clone())
}

/// What is stored of a secret: its SHA-256 (hex).
fn hash(secret: &SecretString) -> String {
    sha256_hex(secret.expose_secret().as_bytes())
}

/// Stores a new flow (and deletes the expired ones).
pub async fn create(conn: &mut Conn, keys: &Keyring, flow: NewFlow<'_>) -> Result<Created, Error> {
    let now = Utc::now();
    let expires = now + START_LIFETIME;
    // Flows nobody finished: kept an hour past their end, so that a late callback still
    // says "expired" rather than "unknown".
    sqlx::query(&format!("DELETE FROM {TABLE} WHERE expires_at < $1"))
        .bind(db::format_time(now - chrono::Duration::hours(1)))
        .execute(&mut *conn)
        .await?;
    let id = db::new_id();
    let start_secret = new_secret();
    let url = SecretString::from(flow.authorization_url.to_string());
    sqlx::query(&format!(
        "INSERT INTO {TABLE} (id, start_hash, state_hash, org_id, user_id, token_id, session_id,
             provider, pkce_verifier, authorization_url, scopes, redirect_url, created_at,
             expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    ))
    .bind(id_text(id))
    .bind(hash(&start_secret))
    .bind(hash(flow.state))
    .bind(id_text(flow.owner.org_id))
    .bind(id_text(flow.owner.user_id))
    .bind(match flow.asker {
        Asker::Token(id) => Some(id_text(id)),
        Asker::Session(_) => None,
    })
    .bind(match flow.asker {
        Asker::Session(id) => Some(id_text(id)),
        Asker::Token(_) => None,
    })
    .bind(flow.provider.as_str())
    .bind(keys.seal(flow.pkce_verifier, slot(id, VERIFIER))?)
    .bind(keys.seal(&url, slot(id, AUTHORIZATION_URL))?)
    .bind(flow.scopes.join(" "))
    .bind(flow.redirect_url)
    .bind(db::format_time(now))
    .bind(db::format_time(expires))
    .execute(&mut *conn)
    .await?;
    Ok(Created {
        start_secret,
        expires_at: expires,
    })
}

#[derive(sqlx::FromRow)]
struct StartRow {
    id: String,
    authorization_url: String,
    started_at: Option<String>,
    expires_at: String,
    token_revoked: i64,
}

/// Opens the start link of `start_secret` made for `provider` (in the caller's write transaction: of two
/// browsers opening one link, one gets the flow).
pub async fn open(
    conn: &mut Conn,
    keys: &Keyring,
    start_secret: &SecretString,
    provider: Provider,
) -> Result<Opened, Error> {
    // Another provider's start path does not know the link (and leaves it unopened).
    let row: Option<StartRow> = sqlx::query_as(&format!(
        "SELECT p.id, p.authorization_url, p.started_at, p.expires_at, {TOKEN_REVOKED_FROM}
         WHERE p.start_hash = $1 AND p.provider = $2"
    ))
    .bind(hash(start_secret))
    .bind(provider.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(Opened::Unknown);
    };
    if row.started_at.is_some() {
        return Ok(Opened::Used);
    }
    let now = Utc::now();
    let gone = if row.token_revoked != 0 {
        Some(Opened::TokenRevoked)
    } else if db::parse_time(&row.expires_at)? <= now {
        Some(Opened::Expired)
    } else {
        None
    };
    if let Some(gone) = gone {
        delete(conn, &row.id).await?;
        return Ok(gone);
    }
    let id = db::parse_uuid(&row.id)?;
    let browser_secret = new_secret();
    let expires = now + LIFETIME;
    let started = sqlx::query(&format!(
        "UPDATE {TABLE} SET browser_hash = $1, started_at = $2, expires_at = $3
         WHERE id = $4 AND started_at IS NULL"
    ))
    .bind(hash(&browser_secret))
    .bind(db::format_time(now))
    .bind(db::format_time(expires))
    .bind(&row.id)
    .execute(&mut *conn)
    .await?;
    if started.rows_affected() != 1 {
        return Ok(Opened::Used);
    }
    Ok(Opened::Started {
        flow_id: id,
        browser_secret,
        authorization_url: keys.open(&row.authorization_url, slot(id, AUTHORIZATION_URL))?,
        expires_at: expires,
    })
}

async fn delete(conn: &mut Conn, id: &str) -> Result<bool, Error> {
    let deleted = sqlx::query(&format!("DELETE FROM {TABLE} WHERE id = $1"))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(deleted.rows_affected() == 1)
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    org_id: String,
    user_id: String,
    provider: String,
    pkce_verifier: String,
    scopes: String,
    redirect_url: String,
    browser_hash: Option<String>,
    expires_at: String,
    token_revoked: i64,
}

/// Finds the flow of `state` and deletes it (in the caller's write transaction: of two
/// callbacks with one state, one finds it). The caller checks [`Flow::opened_by`] and
/// [`Flow::token_revoked`] before going on.
pub async fn take(conn: &mut Conn, keys: &Keyring, state: &SecretString) -> Result<Taken, Error> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT p.id, p.org_id, p.user_id, p.provider, p.pkce_verifier, p.scopes, p.redirect_url,
             p.browser_hash, p.expires_at, {TOKEN_REVOKED_FROM}
         WHERE p.state_hash = $1"
    ))
    .bind(hash(state))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(Taken::Unknown);
    };
    if !delete(conn, &row.id).await? {
        return Ok(Taken::Unknown);
    }
    if db::parse_time(&row.expires_at)? <= Utc::now() {
        return Ok(Taken::Expired);
    }
    let id = db::parse_uuid(&row.id)?;
    let provider = Provider::parse(&row.provider)?;
    Ok(Taken::Found(Flow {
        id,
        owner: Owner {
            org_id: db::parse_uuid(&row.org_id)?,
            user_id: db::parse_uuid(&row.user_id)?,
        },
        provider,
        pkce_verifier: keys.open(&row.pkce_verifier, slot(id, VERIFIER))?,
        scopes: row.scopes.split_whitespace().map(str::to_string).collect(),
        redirect_url: row.redirect_url,
        token_revoked: row.token_revoked != 0,
        browser_hash: row.browser_hash,
    }))
}
