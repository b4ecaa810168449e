//! One-time links (`one_time_links`): the owner's setup link and invitations.
//!
//! - **Setup**: on a start where the owner (the first owner of the first organisation, the
//!   one the first start created) has no web password, [`create_setup_link`] revokes the
//!   earlier setup links and makes a new one, which the server prints. Whoever opens it sets
//!   the owner's login address, name and password ([`redeem_setup_link`]), once.
//! - **Invitations**: an owner invites an address with a role ([`invite`]); the invited
//!   person opens the link, gives a name and a password and becomes a user of the
//!   organisation ([`accept_invitation`]), once. Owners list and revoke pending invitations.
//!
//! A link's token is `tll_` and 32 random bytes in hex; only its SHA-256 is stored. A link
//! can be used once, until it expires or is revoked.

use chrono::{DateTime, Duration, Utc};
use threadline_domain::address::EmailAddress;
use threadline_domain::api::UserRole;
use threadline_storage::db::{self, format_time, id_text, parse_time, parse_uuid, Conn, Db};
use uuid::Uuid;

use super::passwords::{check_password_rules, has_password, hash_password, store_password};
use super::{hash_token, random_secret};
use crate::error::{is_unique_violation, CrmError, CrmResult, Reason};
use crate::validate::{self, MAX_NAME_CHARS};
use crate::Actor;

/// How long a setup link can be used.
pub const SETUP_LINK_TTL: Duration = Duration::days(7);
/// How long an invitation can be used.
pub const INVITATION_TTL: Duration = Duration::days(7);
/// The prefix of a link's token.
pub const LINK_PREFIX: &str = "tll_";

/// What a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    /// The owner's first password.
    Setup,
    /// Joining the organisation with this role.
    Invitation { role: UserRole },
}

/// A usable link, as the page that opens it shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    pub purpose: LinkPurpose,
    /// The invited address; for a setup link, the owner's login address when it was made
    /// (to fill in the form).
    pub email: Option<String>,
    pub org_name: String,
    /// The name of the user who invited (none for a setup link).
    pub inviter: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// A pending invitation, as its organisation's owners see it (never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: Uuid,
    pub email: String,
    pub role: UserRole,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// On a server whose owner (the first owner of the first organisation) has no web
/// password: revokes the earlier setup links and returns the token of a new one. `None` when
/// the owner has a password (or there is no user yet).
pub async fn create_setup_link(db: &Db, now: DateTime<Utc>) -> CrmResult<Option<String>> {
    let token = random_secret(LINK_PREFIX)?;
    let id = db::new_id();
    let token_hash = &hash_token(&token);
    let created = db
        .write(|tx| {
            Box::pin(async move {
                let owner: Option<(String, String, String)> = sqlx::query_as(
                    "SELECT u.id, u.org_id, u.email FROM users u
                     WHERE u.org_id = (SELECT id FROM organisations ORDER BY created_at, id LIMIT 1)
                       AND u.role = 'owner'
                     ORDER BY u.created_at, u.id LIMIT 1",
                )
                .fetch_optional(&mut **tx)
                .await?;
                let Some((owner_id, org_id, email)) = owner else {
                    return Ok(false);
                };
                if has_password(tx, parse_uuid(&owner_id)?).await? {
                    return Ok(false);
                }
                sqlx::query(
                    "UPDATE one_time_links SET revoked_at = $1
                     WHERE purpose = 'setup' AND used_at IS NULL AND revoked_at IS NULL",
                )
                .bind(format_time(now))
                .execute(&mut **tx)
                .await?;
                sqlx::query(
                    "INSERT INTO one_time_links
                         (id, org_id, purpose, token_hash, email, created_at, expires_at)
                     VALUES ($1, $2, 'setup', $3, $4, $5, $6)",
                )
                .bind(id_text(id))
                .bind(&org_id)
                .bind(token_hash)
                .bind(&email)
                .bind(format_time(now))
                .bind(format_time(now + SETUP_LINK_TTL))
                .execute(&mut **tx)
                .await?;
                Ok::<_, CrmError>(true)
            })
        })
        .await?;
    Ok(created.then_some(token))
}

/// A link's row, as the checks need it.
struct LinkRow {
    id: String,
    org_id: String,
    purpose: String,
    email: Option<String>,
    role: Option<String>,
    expires_at: DateTime<Utc>,
    used: bool,
    revoked: bool,
}

async fn find_link(conn: &mut Conn, token: &str) -> Result<Option<LinkRow>, sqlx::Error> {
    if !token.starts_with(LINK_PREFIX) {
        return Ok(None);
    }
    type Row = (
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        String,
        Option<String>,
        Option<String>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, org_id, purpose, email, role, expires_at, used_at, revoked_at
         FROM one_time_links WHERE token_hash = $1",
    )
    .bind(hash_token(token))
    .fetch_optional(&mut *conn)
    .await?;
    row.map(
        |(id, org_id, purpose, email, role, expires_at, used_at, revoked_at)| {
            Ok(LinkRow {
                id,
                org_id,
                purpose,
                email,
                role,
                expires_at: parse_time(&expires_at)?,
                used: used_at.is_some(),
                revoked: revoked_at.is_some(),
            })
        },
    )
    .transpose()
}

/// The link of `token` for `purpose` when it can be used at `now`; else the refusal:
/// `link_not_found` (unknown, or for another purpose), `link_used`, `link_revoked`,
/// `link_expired`.
async fn usable_link(
    conn: &mut Conn,
    token: &str,
    purpose: &str,
    now: DateTime<Utc>,
) -> CrmResult<LinkRow> {
    let link = find_link(conn, token)
        .await?
        .filter(|l| l.purpose == purpose)
        .ok_or_else(|| {
            CrmError::new(
                Reason::NotFound,
                "link_not_found",
                "This link is not valid. Ask for a new one.",
            )
        })?;
    let refusal = if link.used {
        Some(("link_used", "This link has already been used."))
    } else if link.revoked {
        Some((
            "link_revoked",
            "This link was withdrawn. Ask for a new one.",
        ))
    } else if now >= link.expires_at {
        Some(("link_expired", "This link has expired. Ask for a new one."))
    } else {
        None
    };
    match refusal {
        Some((code, message)) => Err(CrmError::new(Reason::Conflict, code, message)),
        None => Ok(link),
    }
}

/// What the link of `token` is for, when it can be used at `now`; `None` when it is
/// unknown, used, revoked or expired.
pub async fn link(db: &Db, token: &str, now: DateTime<Utc>) -> CrmResult<Option<LinkInfo>> {
    let mut conn = db.pool().acquire().await?;
    let Some(found) = find_link(&mut conn, token).await? else {
        return Ok(None);
    };
    if found.used || found.revoked || now >= found.expires_at {
        return Ok(None);
    }
    let (org_name, inviter): (String, Option<String>) = sqlx::query_as(
        "SELECT o.name, u.name FROM one_time_links l
         JOIN organisations o ON o.id = l.org_id
         LEFT JOIN users u ON u.id = l.created_by
         WHERE l.id = $1",
    )
    .bind(&found.id)
    .fetch_one(&mut *conn)
    .await?;
    let purpose = match found.purpose.as_str() {
        "setup" => LinkPurpose::Setup,
        _ => LinkPurpose::Invitation {
            role: UserRole::parse(found.role.as_deref().unwrap_or("member")),
        },
    };
    Ok(Some(LinkInfo {
        purpose,
        email: found.email,
        org_name,
        inviter,
        expires_at: found.expires_at,
    }))
}

/// The login address `email`, normalised; `invalid_field` (`email`) when it is not one.
fn login_address(email: &str) -> CrmResult<String> {
    EmailAddress::parse(email.trim())
        .map(|a| a.to_string())
        .map_err(|e| CrmError::invalid("email", format!("the email address is not valid: {e}")))
}

fn already_a_user(email: &str) -> CrmError {
    CrmError::new(
        Reason::Conflict,
        "already_a_user",
        format!("{email} already has an account."),
    )
    .with_field("email")
}

/// Whether a user has the login address `email`.
async fn is_user(conn: &mut Conn, email: &str) -> Result<bool, sqlx::Error> {
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(found.is_some())
}

async fn mark_used(conn: &mut Conn, link_id: &str, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE one_time_links SET used_at = $1 WHERE id = $2")
        .bind(format_time(now))
        .bind(link_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Redeems the setup link `token`: the owner's login address becomes `email`, their name
/// `name`, their password `password`; the link is used. Returns the owner's id. Refusals:
/// the link's (`link_not_found`, `link_used`, `link_revoked`, `link_expired`), the fields'
/// (`invalid_field`, `weak_password`, `password_too_long`), `already_a_user` (another user
/// has that address) and `already_set_up` (the owner has a password already).
pub async fn redeem_setup_link(
    db: &Db,
    token: &str,
    email: &str,
    name: &str,
    password: &str,
    now: DateTime<Utc>,
) -> CrmResult<Uuid> {
    let email = &login_address(email)?;
    let name = &validate::required_text("name", name, MAX_NAME_CHARS)?;
    check_password_rules(password)?;
    let phc = &hash_password(password).await?;
    db.write(|tx| {
        Box::pin(async move {
            let link = usable_link(tx, token, "setup", now).await?;
            let owner: Option<String> = sqlx::query_scalar(
                "SELECT id FROM users WHERE org_id = $1 AND role = 'owner'
                 ORDER BY created_at, id LIMIT 1",
            )
            .bind(&link.org_id)
            .fetch_optional(&mut **tx)
            .await?;
            let owner = parse_uuid(&owner.ok_or_else(|| {
                CrmError::new(
                    Reason::NotFound,
                    "link_not_found",
                    "This link is not valid. Ask for a new one.",
                )
            })?)?;
            if has_password(tx, owner).await? {
                return Err(CrmError::new(
                    Reason::Conflict,
                    "already_set_up",
                    "The owner's password is already set: sign in instead.",
                ));
            }
            set_login(tx, owner, email, name).await?;
            store_password(tx, owner, phc, now).await?;
            mark_used(tx, &link.id, now).await?;
            Ok(owner)
        })
    })
    .await
}

/// Makes `email` the login address (and first own address) of user `user_id`, and `name`
/// their name.
async fn set_login(conn: &mut Conn, user_id: Uuid, email: &str, name: &str) -> CrmResult<()> {
    let updated = sqlx::query("UPDATE users SET email = $1, name = $2 WHERE id = $3")
        .bind(email)
        .bind(name)
        .bind(id_text(user_id))
        .execute(&mut *conn)
        .await;
    match updated {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => return Err(already_a_user(email)),
        Err(e) => return Err(e.into()),
    }
    let address = EmailAddress::parse(email)
        .map_err(|e| CrmError::internal(format!("a normalised address does not parse: {e}")))?;
    // The old login address goes, and so does an alias that is the new one.
    sqlx::query(
        "DELETE FROM user_addresses WHERE user_id = $1 AND (position = 0 OR match_key = $2)",
    )
    .bind(id_text(user_id))
    .bind(address.match_key())
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO user_addresses (user_id, address, match_key, position) VALUES ($1, $2, $3, 0)",
    )
    .bind(id_text(user_id))
    .bind(email)
    .bind(address.match_key())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Refuses an actor who is not an owner of their organisation: `owner_only`.
async fn require_owner(conn: &mut Conn, actor: &Actor) -> CrmResult<()> {
    if super::role(conn, actor.user_id).await? == UserRole::Owner {
        return Ok(());
    }
    Err(CrmError::new(
        Reason::Forbidden,
        "owner_only",
        "Only the organisation's owner may manage invitations.",
    ))
}

/// Invites `email` to the actor's organisation with `role` (the actor must be an owner:
/// `owner_only`); an earlier pending invitation of the same address is revoked. Returns the
/// invitation's id and the link's token. `already_a_user` when a user has that address.
pub async fn invite(
    db: &Db,
    actor: &Actor,
    email: &str,
    role: UserRole,
    now: DateTime<Utc>,
) -> CrmResult<(Uuid, String)> {
    let email = &login_address(email)?;
    let token = random_secret(LINK_PREFIX)?;
    let id = db::new_id();
    let token_hash = &hash_token(&token);
    db.write(|tx| {
        Box::pin(async move {
            require_owner(tx, actor).await?;
            if is_user(tx, email).await? {
                return Err(already_a_user(email));
            }
            sqlx::query(
                "UPDATE one_time_links SET revoked_at = $1
                 WHERE org_id = $2 AND purpose = 'invitation' AND email = $3
                   AND used_at IS NULL AND revoked_at IS NULL",
            )
            .bind(format_time(now))
            .bind(id_text(actor.org_id))
            .bind(email)
            .execute(&mut **tx)
            .await?;
            sqlx::query(
                "INSERT INTO one_time_links
                     (id, org_id, purpose, token_hash, email, role, created_by, created_at,
                      expires_at)
                 VALUES ($1, $2, 'invitation', $3, $4, $5, $6, $7, $8)",
            )
            .bind(id_text(id))
            .bind(id_text(actor.org_id))
            .bind(token_hash)
            .bind(email)
            .bind(role.as_str())
            .bind(id_text(actor.user_id))
            .bind(format_time(now))
            .bind(format_time(now + INVITATION_TTL))
            .execute(&mut **tx)
            .await?;
            Ok(())
        })
    })
    .await?;
    Ok((id, token))
}

/// Accepts the invitation `token`: a new user of its organisation with its address and
/// role, named `name`, with the password `password`; the link is used. Returns the user's
/// id. Refusals: the link's (`link_not_found`, `link_used`, `link_revoked`,
/// `link_expired`), the fields' and `already_a_user`.
pub async fn accept_invitation(
    db: &Db,
    token: &str,
    name: &str,
    password: &str,
    now: DateTime<Utc>,
) -> CrmResult<Uuid> {
    let name = &validate::required_text("name", name, MAX_NAME_CHARS)?;
    check_password_rules(password)?;
    let phc = &hash_password(password).await?;
    db.write(|tx| {
        Box::pin(async move {
            let link = usable_link(tx, token, "invitation", now).await?;
            let email = link
                .email
                .ok_or_else(|| CrmError::internal("an invitation without an address"))?;
            if is_user(tx, &email).await? {
                return Err(already_a_user(&email));
            }
            let org_id = parse_uuid(&link.org_id)?;
            let (user_id, _) = super::create_user(tx, org_id, &email, name, &[])
                .await
                .map_err(|e| match e {
                    threadline_storage::Error::Database(e) => CrmError::Database(e),
                    other => CrmError::invalid("name", other.to_string()),
                })?;
            let role = UserRole::parse(link.role.as_deref().unwrap_or("member"));
            sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
                .bind(role.as_str())
                .bind(id_text(user_id))
                .execute(&mut **tx)
                .await?;
            store_password(tx, user_id, phc, now).await?;
            mark_used(tx, &link.id, now).await?;
            Ok(user_id)
        })
    })
    .await
}

/// The pending invitations of the actor's organisation (not used, revoked or expired),
/// newest first; owners only (`owner_only`).
pub async fn pending_invitations(
    db: &Db,
    actor: &Actor,
    now: DateTime<Utc>,
) -> CrmResult<Vec<Invitation>> {
    let mut conn = db.pool().acquire().await?;
    require_owner(&mut conn, actor).await?;
    type Row = (String, Option<String>, Option<String>, String, String);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, email, role, created_at, expires_at FROM one_time_links
         WHERE org_id = $1 AND purpose = 'invitation'
           AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2
         ORDER BY created_at DESC, id DESC",
    )
    .bind(id_text(actor.org_id))
    .bind(format_time(now))
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(id, email, role, created_at, expires_at)| {
            Ok(Invitation {
                id: parse_uuid(&id)?,
                email: email.unwrap_or_default(),
                role: UserRole::parse(role.as_deref().unwrap_or("member")),
                created_at: parse_time(&created_at)?,
                expires_at: parse_time(&expires_at)?,
            })
        })
        .collect()
}

/// Revokes the pending invitation `id` of the actor's organisation; owners only
/// (`owner_only`). `not_found` when there is no such pending invitation.
pub async fn revoke_invitation(
    db: &Db,
    actor: &Actor,
    id: Uuid,
    now: DateTime<Utc>,
) -> CrmResult<()> {
    db.write(|tx| {
        Box::pin(async move {
            require_owner(tx, actor).await?;
            let done = sqlx::query(
                "UPDATE one_time_links SET revoked_at = $1
                 WHERE id = $2 AND org_id = $3 AND purpose = 'invitation'
                   AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1",
            )
            .bind(format_time(now))
            .bind(id_text(id))
            .bind(id_text(actor.org_id))
            .execute(&mut **tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(CrmError::new(
                    Reason::NotFound,
                    "not_found",
                    "There is no such pending invitation.",
                ));
            }
            Ok(())
        })
    })
    .await
}
