//! Web passwords and the sign-in.
//!
//! - A password is kept as its argon2id PHC string (`user_passwords.phc`: algorithm,
//!   parameters, salt and hash), made with the `argon2` crate (RustCrypto). Hashing and
//!   verifying take tens of milliseconds of CPU on purpose: they run on tokio's blocking
//!   threads ([`tokio::task::spawn_blocking`]), never on the async workers.
//! - [`sign_in`] answers the same way, after the same work, whether the address is unknown,
//!   has no password or has another one (a fixed dummy hash is verified then): no timing
//!   oracle for which addresses exist.
//! - Throttling is in the database (`sign_in_failures`), so it holds across server
//!   processes: [`ADDRESS_LIMIT`] failures for one address, or [`CLIENT_LIMIT`] for one
//!   client (its IP), within [`THROTTLE_WINDOW`] and the sign-in is refused without even
//!   verifying. An attempt is counted as a failure *before* its password is verified (and
//!   uncounted when it succeeds), so that parallel attempts cannot slip past the limit.
//!   Keys are SHA-256 hashes: no address or IP is stored there.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{DateTime, Duration, Utc};
use threadline_domain::address::EmailAddress;
use threadline_storage::db::{self, format_time, id_text, parse_time, parse_uuid, Conn, Db};
use uuid::Uuid;

use super::sha256_hex;
use crate::error::{CrmError, CrmResult, Reason};

/// Fewest characters of a password.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Most bytes of a password (longer ones would only make hashing a denial of service).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Failures for one address within [`THROTTLE_WINDOW`] that throttle it.
pub const ADDRESS_LIMIT: i64 = 5;
/// Failures from one client (IP) within [`THROTTLE_WINDOW`] that throttle it.
pub const CLIENT_LIMIT: i64 = 30;
/// The window in which failures count.
pub const THROTTLE_WINDOW: Duration = Duration::minutes(15);

/// argon2id with OWASP's recommended parameters (Password Storage Cheat Sheet): m = 19456
/// KiB (19 MiB), t = 2 iterations, p = 1 lane. The parameters are written into each PHC
/// string, so a stored hash stays verifiable if they change.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Refuses a password the web app does not accept: fewer than [`MIN_PASSWORD_CHARS`]
/// characters (`weak_password`) or more than [`MAX_PASSWORD_BYTES`] bytes
/// (`password_too_long`). Any character is allowed (a passphrase, spaces, any script).
pub fn check_password_rules(password: &str) -> Result<(), CrmError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(CrmError::new(
            Reason::Unacceptable,
            "password_too_long",
            format!("The password is too long: at most {MAX_PASSWORD_BYTES} bytes."),
        )
        .with_field("password"));
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(CrmError::new(
            Reason::Unacceptable,
            "weak_password",
            format!("The password needs at least {MIN_PASSWORD_CHARS} characters."),
        )
        .with_field("password"));
    }
    Ok(())
}

/// The PHC string of `password` with a new random salt (on a blocking thread).
pub(crate) async fn hash_password(password: &str) -> CrmResult<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|e| CrmError::internal(format!("the system random source failed: {e}")))?;
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_with_salt(&password, &salt))
        .await
        .map_err(|e| CrmError::internal(format!("password hashing failed: {e}")))?
}

fn hash_with_salt(password: &str, salt: &[u8]) -> CrmResult<String> {
    let salt = SaltString::encode_b64(salt)
        .map_err(|e| CrmError::internal(format!("argon2 salt: {e}")))?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| CrmError::internal(format!("argon2 hashing failed: {e}")))
}

/// Whether `password` matches `phc` (on a blocking thread); `None`: check against the dummy
/// hash (always false, same cost).
async fn verify_password(password: &str, phc: Option<String>) -> CrmResult<bool> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let dummy = phc.is_none();
        let phc = phc.as_deref().unwrap_or(DUMMY_PHC);
        let parsed = PasswordHash::new(phc)
            .map_err(|e| CrmError::internal(format!("a stored password hash is damaged: {e}")))?;
        let matches = hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(matches && !dummy)
    })
    .await
    .map_err(|e| CrmError::internal(format!("password verification failed: {e}")))?
}

/// The PHC string of a random password that was thrown away, made with the parameters of
/// [`hasher`] (a test checks that they stay the same): what an unknown address, or one
/// without a password, is verified against, so that it costs what a real check does.
const DUMMY_PHC: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$w91cXWDlpuwSFgThUXmzmg$u1yPHfdZxYhGt2hMQslIPdKbTKUJCr1QLBazPlWmx7Q";

/// Sets the password of user `user_id` (after [`check_password_rules`]) and ends every web
/// session of the user. `no_such_user` when there is no such user.
pub async fn set_password(
    db: &Db,
    user_id: Uuid,
    password: &str,
    now: DateTime<Utc>,
) -> CrmResult<()> {
    check_password_rules(password)?;
    let phc = hash_password(password).await?;
    let phc = &phc;
    db.write(|tx| {
        Box::pin(async move {
            let exists: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1")
                .bind(id_text(user_id))
                .fetch_optional(&mut **tx)
                .await?;
            if exists.is_none() {
                return Err(super::sessions::no_such_user(user_id));
            }
            store_password(tx, user_id, phc, now).await?;
            super::sessions::end_all(tx, user_id, now).await?;
            Ok(())
        })
    })
    .await
}

/// Writes the PHC string of user `user_id` (inside a write).
pub(crate) async fn store_password(
    conn: &mut Conn,
    user_id: Uuid,
    phc: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO user_passwords (user_id, phc, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (user_id) DO UPDATE SET phc = excluded.phc, updated_at = excluded.updated_at",
    )
    .bind(id_text(user_id))
    .bind(phc)
    .bind(format_time(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Whether user `user_id` has a web password.
pub(crate) async fn has_password(conn: &mut Conn, user_id: Uuid) -> Result<bool, sqlx::Error> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT user_id FROM user_passwords WHERE user_id = $1")
            .bind(id_text(user_id))
            .fetch_optional(&mut *conn)
            .await?;
    Ok(found.is_some())
}

/// What a sign-in gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    /// The address and password are right: this user.
    Signed(Uuid),
    /// Unknown address, no password set, or another password: the same answer for all.
    WrongCredentials,
    /// Too many failures for the address or the client: try again in this many seconds
    /// (nothing was verified).
    Throttled { retry_after_secs: u64 },
}

/// Signs in with `email` (normalised as user addresses are) and `password`, from the
/// client `client_key` (its IP address), at `now`. See the module's documentation for the
/// throttling and the timing.
pub async fn sign_in(
    db: &Db,
    email: &str,
    password: &str,
    client_key: &str,
    now: DateTime<Utc>,
) -> CrmResult<SignIn> {
    let address = EmailAddress::parse(email.trim()).ok();
    let address_key = address
        .as_ref()
        .map(|a| throttle_key("address", &a.match_key()));
    let client_key = throttle_key("client", client_key);
    let login = address.map(|a| a.to_string());
    // Ids made here: the write below may run more than once.
    let address_attempt = db::new_id();
    let client_attempt = db::new_id();
    let checked = {
        let (address_key, client_key, login) = (&address_key, &client_key, &login);
        db.write(|tx| -> db::BoxFuture<'_, CrmResult<Checked>> {
            Box::pin(async move {
                let cutoff = format_time(now - THROTTLE_WINDOW);
                sqlx::query("DELETE FROM sign_in_failures WHERE at <= $1")
                    .bind(&cutoff)
                    .execute(&mut **tx)
                    .await?;
                let mut wait = throttled_for(tx, client_key, CLIENT_LIMIT, now).await?;
                if let Some(key) = address_key {
                    wait = wait.max(throttled_for(tx, key, ADDRESS_LIMIT, now).await?);
                }
                if wait > 0 {
                    return Ok(Err(wait));
                }
                record_attempt(tx, client_attempt, client_key, now).await?;
                if let Some(key) = address_key {
                    record_attempt(tx, address_attempt, key, now).await?;
                }
                let Some(login) = login else {
                    return Ok(Ok(None));
                };
                let found: Option<(String, String)> = sqlx::query_as(
                    "SELECT u.id, p.phc FROM users u JOIN user_passwords p ON p.user_id = u.id
                     WHERE u.email = $1",
                )
                .bind(login)
                .fetch_optional(&mut **tx)
                .await?;
                Ok(Ok(found))
            })
        })
        .await?
    };
    let found = match checked {
        Err(retry_after_secs) => return Ok(SignIn::Throttled { retry_after_secs }),
        Ok(found) => found,
    };
    let (user, phc) = match found {
        Some((id, phc)) => (Some(parse_uuid(&id)?), Some(phc)),
        None => (None, None),
    };
    // A password longer than any that can be set is wrong: the dummy is verified instead
    // (same cost), never a hash of megabytes.
    let (password, phc) = if password.len() > MAX_PASSWORD_BYTES {
        ("", None)
    } else {
        (password, phc)
    };
    if !verify_password(password, phc).await? {
        return Ok(SignIn::WrongCredentials);
    }
    let Some(user) = user else {
        return Ok(SignIn::WrongCredentials);
    };
    let (address_key, client_key) = (&address_key, &client_key);
    db.write(|tx| {
        Box::pin(async move {
            if let Some(key) = address_key {
                sqlx::query("DELETE FROM sign_in_failures WHERE key = $1")
                    .bind(key)
                    .execute(&mut **tx)
                    .await?;
            }
            sqlx::query("DELETE FROM sign_in_failures WHERE id = $1 AND key = $2")
                .bind(id_text(client_attempt))
                .bind(client_key)
                .execute(&mut **tx)
                .await?;
            Ok::<_, CrmError>(())
        })
    })
    .await?;
    Ok(SignIn::Signed(user))
}

/// The first step of a sign-in: throttled for so many seconds, or the user's id and PHC
/// string (none: unknown address or no password).
type Checked = Result<Option<(String, String)>, u64>;

/// What `sign_in_failures.key` holds for a `kind` (`address`, `client`) and its value.
fn throttle_key(kind: &str, value: &str) -> String {
    sha256_hex(format!("{kind}\n{value}").as_bytes())
}

async fn record_attempt(
    conn: &mut Conn,
    id: Uuid,
    key: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO sign_in_failures (id, key, at) VALUES ($1, $2, $3)")
        .bind(id_text(id))
        .bind(key)
        .bind(format_time(now))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// How many seconds `key` stays throttled at `now` (0: not throttled): with `n` failures in
/// the window and a limit of `limit`, until the failure whose leaving brings the count
/// below the limit leaves the window (the oldest counted one when `n` is the limit).
async fn throttled_for(
    conn: &mut Conn,
    key: &str,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let at: Vec<String> = sqlx::query_scalar(
        "SELECT at FROM sign_in_failures WHERE key = $1 AND at > $2 ORDER BY at DESC LIMIT $3",
    )
    .bind(key)
    .bind(format_time(now - THROTTLE_WINDOW))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    if (at.len() as i64) < limit {
        return Ok(0);
    }
    // The `limit`-th newest failure: once it leaves the window, fewer than `limit` remain.
    let leaves = parse_time(&at[at.len() - 1])? + THROTTLE_WINDOW;
    let millis = (leaves - now).num_milliseconds().max(1);
    Ok(((millis + 999) / 1000) as u64)
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        let dummy = PasswordHash::new(DUMMY_PHC).unwrap();
        let real = hash_with_salt("a password", b"0123456789abcdef").unwrap();
        let real = PasswordHash::new(&real).unwrap();
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(dummy.params, real.params);
        assert_eq!(dummy.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
    }

    #[test]
    fn a_hash_verifies_its_password_only() {
        let phc = hash_with_salt("a password", b"0123456789abcdef").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        let parsed = PasswordHash::new(&phc).unwrap();
        assert!(hasher().verify_password(b"a password", &parsed).is_ok());
        assert!(hasher().verify_password(b"a passwore", &parsed).is_err());
    }
}
