//! Signing in with Google: which user a verified Google identity is (table
//! `user_google_accounts`, migration 0026).
//!
//! The ID token is verified before it reaches this module (`threadline-connections`,
//! `oauth/sign_in.rs`); here is only who it is:
//! - a Google account (`sub`, Google's stable id) linked to a user signs that user in;
//! - the first time, its address links it to the user with that login address only when
//!   Google is the authority for the address ([`google_is_authoritative`]: a Gmail address,
//!   or a Google Workspace account of the address's own domain, `hd`) and verified it. For
//!   any other address (a Google account made for an address at another provider), having
//!   once proved control of the mailbox to Google is not proof enough to take over the
//!   Threadline user of that address: the user signs in with their password and links the
//!   Google account from Settings ([`link`]);
//! - an address no user has is refused: there is no sign-up, invitations stay the way in.
//!
//! A user can unlink their Google account only while they have a password, so that they
//! cannot lock themselves out.

use chrono::{DateTime, Utc};
use threadline_domain::address::EmailAddress;
use threadline_storage::db::{format_time, id_text, parse_uuid, Conn, Db};
use uuid::Uuid;

use crate::error::{is_unique_violation, CrmError, CrmResult, Reason};
use crate::Actor;

/// What Google's verified ID token says of the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleIdentity {
    /// Google's stable account id.
    pub sub: String,
    pub email: String,
    pub email_verified: bool,
    /// The Google Workspace domain of the account (`hd`), if it is one.
    pub hosted_domain: Option<String>,
}

/// Who a Google sign-in is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GoogleSignIn {
    /// This user, whose Google account was linked before.
    Linked(Uuid),
    /// This user, whose Google account was linked now by its address.
    LinkedNow(Uuid),
    /// A user has this address, but Google is not its authority: sign in with the password,
    /// then link the Google account in Settings.
    LinkInSettings,
    /// No user has this address (or Google has not verified it).
    Unknown,
}

/// True when Google is the authority for `identity`'s address, as Google's OpenID Connect
/// documentation describes it: a verified `@gmail.com` address, or a verified address of a
/// Google Workspace account (`hd`) in that same domain.
pub fn google_is_authoritative(identity: &GoogleIdentity) -> bool {
    let Ok(address) = EmailAddress::parse(identity.email.trim()) else {
        return false;
    };
    let domain = address.domain().to_ascii_lowercase();
    identity.email_verified
        && (domain == "gmail.com"
            || identity
                .hosted_domain
                .as_deref()
                .is_some_and(|hd| hd.eq_ignore_ascii_case(&domain)))
}

/// The user `identity` signs in, linking it by its address the first time when Google is the
/// address's authority (see the module's documentation).
pub async fn sign_in(
    db: &Db,
    identity: &GoogleIdentity,
    now: DateTime<Utc>,
) -> CrmResult<GoogleSignIn> {
    let login = EmailAddress::parse(identity.email.trim())
        .ok()
        .map(|a| a.to_string());
    let authoritative = google_is_authoritative(identity);
    db.write(|tx| {
        let login = login.clone();
        Box::pin(async move {
            let linked: Option<(String,)> =
                sqlx::query_as("SELECT user_id FROM user_google_accounts WHERE sub = $1")
                    .bind(&identity.sub)
                    .fetch_optional(&mut **tx)
                    .await?;
            if let Some((user_id,)) = linked {
                return Ok(GoogleSignIn::Linked(parse_uuid(&user_id)?));
            }
            let (Some(login), true) = (login, identity.email_verified) else {
                return Ok(GoogleSignIn::Unknown);
            };
            let user: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE email = $1")
                .bind(&login)
                .fetch_optional(&mut **tx)
                .await?;
            let Some((user_id,)) = user else {
                return Ok(GoogleSignIn::Unknown);
            };
            let user_id = parse_uuid(&user_id)?;
            if !authoritative {
                return Ok(GoogleSignIn::LinkInSettings);
            }
            // A user who linked another Google account keeps it: this one does not replace it.
            let other: Option<(String,)> =
                sqlx::query_as("SELECT sub FROM user_google_accounts WHERE user_id = $1")
                    .bind(id_text(user_id))
                    .fetch_optional(&mut **tx)
                    .await?;
            if other.is_some() {
                return Ok(GoogleSignIn::LinkInSettings);
            }
            insert(tx, user_id, identity, now).await?;
            Ok(GoogleSignIn::LinkedNow(user_id))
        })
    })
    .await
}

async fn insert(
    conn: &mut Conn,
    user_id: Uuid,
    identity: &GoogleIdentity,
    now: DateTime<Utc>,
) -> CrmResult<()> {
    sqlx::query(
        "INSERT INTO user_google_accounts (user_id, sub, email, linked_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id_text(user_id))
    .bind(&identity.sub)
    .bind(identity.email.trim())
    .bind(format_time(now))
    .execute(&mut *conn)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            taken()
        } else {
            e.into()
        }
    })?;
    Ok(())
}

fn taken() -> CrmError {
    CrmError::new(
        Reason::Conflict,
        "google_account_taken",
        "this Google account is linked to another user",
    )
}

/// Links `identity` to `user_id` (signed in: linking from Settings), replacing the user's
/// previous Google account. A Google account linked to another user is refused.
pub async fn link(
    db: &Db,
    user_id: Uuid,
    identity: &GoogleIdentity,
    now: DateTime<Utc>,
) -> CrmResult<()> {
    db.write(|tx| {
        Box::pin(async move {
            let owner: Option<(String,)> =
                sqlx::query_as("SELECT user_id FROM user_google_accounts WHERE sub = $1")
                    .bind(&identity.sub)
                    .fetch_optional(&mut **tx)
                    .await?;
            match owner {
                Some((owner,)) if parse_uuid(&owner)? != user_id => return Err(taken()),
                _ => {}
            }
            sqlx::query("DELETE FROM user_google_accounts WHERE user_id = $1")
                .bind(id_text(user_id))
                .execute(&mut **tx)
                .await?;
            insert(tx, user_id, identity, now).await
        })
    })
    .await
}

/// The address of the Google account linked to `user_id`, if any.
pub async fn linked(conn: &mut Conn, user_id: Uuid) -> CrmResult<Option<String>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT email FROM user_google_accounts WHERE user_id = $1")
            .bind(id_text(user_id))
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map(|(email,)| email))
}

/// True when `user_id` has a password (and so may unlink their Google account).
pub async fn has_password(conn: &mut Conn, user_id: Uuid) -> CrmResult<bool> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT user_id FROM user_passwords WHERE user_id = $1")
            .bind(id_text(user_id))
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.is_some())
}

/// Unlinks the actor's Google account. Refused while they have no password: they could not
/// sign in any more.
pub async fn unlink(db: &Db, actor: &Actor) -> CrmResult<()> {
    let user_id = actor.user_id;
    db.write(|tx| {
        Box::pin(async move {
            if !has_password(tx, user_id).await? {
                return Err(CrmError::new(
                    Reason::Conflict,
                    "password_required",
                    "set a password before unlinking your Google account, or you could not \
                     sign in any more",
                ));
            }
            sqlx::query("DELETE FROM user_google_accounts WHERE user_id = $1")
                .bind(id_text(user_id))
                .execute(&mut **tx)
                .await?;
            Ok(())
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(email: &str, verified: bool, hd: Option<&str>) -> GoogleIdentity {
        GoogleIdentity {
            sub: "1".into(),
            email: email.into(),
            email_verified: verified,
            hosted_domain: hd.map(str::to_string),
        }
    }

    #[test]
    fn google_is_the_authority_for_gmail_and_its_workspace_domains_only() {
        assert!(google_is_authoritative(&identity(
            "ann@gmail.com",
            true,
            None
        )));
        assert!(google_is_authoritative(&identity(
            "Ann@Example.com",
            true,
            Some("example.com")
        )));
        assert!(!google_is_authoritative(&identity(
            "ann@gmail.com",
            false,
            None
        )));
        assert!(!google_is_authoritative(&identity(
            "ann@example.com",
            true,
            None
        )));
        assert!(!google_is_authoritative(&identity(
            "ann@example.com",
            true,
            Some("other.com")
        )));
        assert!(!google_is_authoritative(&identity(
            "not an address",
            true,
            Some("x")
        )));
    }
}
