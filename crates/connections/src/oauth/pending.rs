//! Started connect flows, until their callback (table `oauth_pending`, migration 0006).
//!
//! The browser comes back with nothing but `code` and `state`; the state finds the flow:
//! whose it is (the user who asked, with their bearer token), the PKCE verifier (encrypted
//! at rest, bound to the row), the scopes and redirect URI asked for. A flow lives
//! [`LIFETIME`] and is good once: [`take`] deletes it, whatever the exchange does next.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{Error, Owner, Provider};
use threadline_crm::accounts::sha256_hex;
use threadline_storage::db::{self, id_text, Conn};
use threadline_storage::secrets::{Keyring, SecretString, Slot};

/// How long a started flow may take (Google's codes live 10 minutes too).
pub const LIFETIME: chrono::Duration = chrono::Duration::minutes(10);

const TABLE: &str = "oauth_pending";
const VERIFIER: &str = "pkce_verifier";

fn slot(id: Uuid) -> Slot<'static> {
    Slot {
        table: TABLE,
        row_id: id,
        field: VERIFIER,
    }
}

/// A flow to store.
pub struct NewFlow<'a> {
    pub owner: Owner,
    pub provider: Provider,
    pub state: &'a SecretString,
    pub pkce_verifier: &'a SecretString,
    pub scopes: &'a [String],
    pub redirect_url: &'a str,
}

/// A flow found by its state.
#[derive(Debug)]
pub struct Flow {
    pub owner: Owner,
    pub provider: Provider,
    pub pkce_verifier: SecretString,
    pub scopes: Vec<String>,
    pub redirect_url: String,
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

/// Stores a new flow (and deletes the expired ones); returns when it expires.
pub async fn create(
    conn: &mut Conn,
    keys: &Keyring,
    flow: NewFlow<'_>,
) -> Result<DateTime<Utc>, Error> {
    let now = Utc::now();
    let expires = now + LIFETIME;
    // Flows nobody finished: kept an hour past their end, so that a late callback still
    // says "expired" rather than "unknown".
    sqlx::query(&format!("DELETE FROM {TABLE} WHERE expires_at < $1"))
        .bind(db::format_time(now - chrono::Duration::hours(1)))
        .execute(&mut *conn)
        .await?;
    let id = db::new_id();
    sqlx::query(&format!(
        "INSERT INTO {TABLE} (id, state_hash, org_id, user_id, provider, pkce_verifier, scopes,
             redirect_url, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(id_text(id))
    .bind(state_hash(flow.state))
    .bind(id_text(flow.owner.org_id))
    .bind(id_text(flow.owner.user_id))
    .bind(flow.provider.as_str())
    .bind(keys.seal(flow.pkce_verifier, slot(id))?)
    .bind(flow.scopes.join(" "))
    .bind(flow.redirect_url)
    .bind(db::format_time(now))
    .bind(db::format_time(expires))
    .execute(&mut *conn)
    .await?;
    Ok(expires)
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
    expires_at: String,
}

/// Finds the flow of `state` and deletes it (in the caller's write transaction: of two
/// callbacks with one state, one finds it).
pub async fn take(conn: &mut Conn, keys: &Keyring, state: &SecretString) -> Result<Taken, Error> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT id, org_id, user_id, provider, pkce_verifier, scopes, redirect_url, expires_at
         FROM {TABLE} WHERE state_hash = $1"
    ))
    .bind(state_hash(state))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(Taken::Unknown);
    };
    let deleted = sqlx::query(&format!("DELETE FROM {TABLE} WHERE id = $1"))
        .bind(&row.id)
        .execute(&mut *conn)
        .await?;
    if deleted.rows_affected() != 1 {
        return Ok(Taken::Unknown);
    }
    if db::parse_time(&row.expires_at)? <= Utc::now() {
        return Ok(Taken::Expired);
    }
    let id = db::parse_uuid(&row.id)?;
    let provider = Provider::parse(&row.provider)?;
    Ok(Taken::Found(Flow {
        owner: Owner {
            org_id: db::parse_uuid(&row.org_id)?,
            user_id: db::parse_uuid(&row.user_id)?,
        },
        provider,
        pkce_verifier: keys.open(&row.pkce_verifier, slot(id))?,
        scopes: row.scopes.split_whitespace().map(str::to_string).collect(),
        redirect_url: row.redirect_url,
    }))
}

/// What is stored of a state: its SHA-256 (hex).
fn state_hash(state: &SecretString) -> String {
    use threadline_storage::secrets::ExposeSecret;
    sha256_hex(state.expose_secret().as_bytes())
}
