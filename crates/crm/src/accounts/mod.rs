//! Organisations, users and API tokens: what the CLI manages (and tests set up); and the web
//! app's sign-in: [`passwords`] (argon2id, the throttled sign-in), [`sessions`] (web
//! sessions in the database, with their CSRF token) and [`links`] (the owner's setup link
//! and invitations).

pub mod devices;
pub mod google;
pub mod links;
pub mod passwords;
pub mod preferences;
pub mod sessions;

use threadline_domain::address::EmailAddress;
use threadline_domain::api::UserRole;
use uuid::Uuid;

use crate::error::{is_unique_violation, ServerError};
use crate::validate;
use sha2::{Digest, Sha256};
use threadline_storage::db::{self, id_text, parse_uuid, Conn, Db};

/// Every token starts with this.
pub const TOKEN_PREFIX: &str = "tl_";

/// A new random token.
pub fn generate_token() -> Result<String, ServerError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ServerError::Invalid(format!("the system random source failed: {e}")))?;
    Ok(format!("{TOKEN_PREFIX}{}", hex(&bytes)))
}

/// `prefix` then 32 random bytes in lowercase hex: a web session's cookie, a CSRF token, a
/// one-time link's token.
pub(crate) fn random_secret(prefix: &str) -> crate::CrmResult<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| crate::CrmError::internal(format!("the system random source failed: {e}")))?;
    Ok(format!("{prefix}{}", hex(&bytes)))
}

/// The SHA-256 of a token, lowercase hex: what is stored.
pub fn hash_token(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Name of the organisation created on first start.
pub const DEFAULT_ORG_NAME: &str = "My organisation";
/// Name of the first user.
pub const OWNER_NAME: &str = "Owner";

/// A token just created: `token` is shown once and never stored.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub id: Uuid,
    pub token: String,
}

/// A user just created, with a first token.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: Uuid,
    pub org_id: Uuid,
    /// Normalised login address.
    pub email: String,
    pub token: NewToken,
}

/// Which organisation a new user joins.
#[derive(Debug, Clone)]
pub enum OrgChoice {
    /// The only one (created when there is none; an error when there are several).
    Default,
    /// A new organisation of this name.
    New(String),
    Existing(Uuid),
}

fn parse_address(what: &str, raw: &str) -> Result<EmailAddress, ServerError> {
    EmailAddress::parse(raw)
        .map_err(|e| ServerError::Invalid(format!("{what} {raw:?} is not valid: {e}")))
}

/// The one text rule of every stored text (`threadline_domain::text`) for a name made by
/// the command line: no control character, bidirectional override or invisible mark.
fn one_line_name(field: &str, name: &str) -> Result<(), ServerError> {
    match threadline_domain::text::refused_char(name, validate::Lines::Single) {
        None => Ok(()),
        Some(c) => Err(ServerError::Invalid(validate::char_message(
            field,
            c,
            validate::Lines::Single,
        ))),
    }
}

pub async fn create_organisation(conn: &mut Conn, name: &str) -> Result<Uuid, ServerError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ServerError::Invalid("the organisation needs a name".into()));
    }
    one_line_name("the organisation's name", name)?;
    let id = db::new_id();
    sqlx::query("INSERT INTO organisations (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(id_text(id))
        .bind(name)
        .bind(db::now())
        .execute(&mut *conn)
        .await?;
    Ok(id)
}

/// A user of `org_id` whose own addresses are `email` then `aliases`. Returns the id and the
/// normalised login address. The first user of an organisation is its owner
/// ([`UserRole::Owner`]), the others are members.
pub async fn create_user(
    conn: &mut Conn,
    org_id: Uuid,
    email: &str,
    name: &str,
    aliases: &[String],
) -> Result<(Uuid, String), ServerError> {
    let login = parse_address("the email address", email)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ServerError::Invalid(
            "the user's name must be 1 to 200 characters".into(),
        ));
    }
    one_line_name("the user's name", name)?;
    let mut addresses = vec![login.clone()];
    for alias in aliases {
        let alias = parse_address("the alias", alias)?;
        if !addresses.iter().any(|a| a.match_key() == alias.match_key()) {
            addresses.push(alias);
        }
    }
    let id = db::new_id();
    let others: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE org_id = $1")
        .bind(id_text(org_id))
        .fetch_one(&mut *conn)
        .await?;
    let role = if others == 0 {
        UserRole::Owner
    } else {
        UserRole::Member
    };
    let inserted = sqlx::query(
        "INSERT INTO users (id, org_id, name, email, created_at, role)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id_text(id))
    .bind(id_text(org_id))
    .bind(name)
    .bind(login.to_string())
    .bind(db::now())
    .bind(role.as_str())
    .execute(&mut *conn)
    .await;
    match inserted {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            return Err(ServerError::Invalid(format!(
                "a user with the address {login} already exists"
            )))
        }
        Err(e) => return Err(e.into()),
    }
    for (position, address) in addresses.iter().enumerate() {
        sqlx::query("INSERT INTO user_addresses (user_id, address, match_key, position) VALUES ($1, $2, $3, $4)")
            .bind(id_text(id))
            .bind(address.to_string())
            .bind(address.match_key())
            .bind(position as i64)
            .execute(&mut *conn)
            .await?;
    }
    Ok((id, login.to_string()))
}

/// A new token for `user_id`, labelled `label` (by the CLI or with a new user: no parent).
pub async fn create_token(
    conn: &mut Conn,
    user_id: Uuid,
    label: &str,
) -> Result<NewToken, ServerError> {
    insert_token(conn, user_id, label, None).await
}

/// A new token for `user_id` created with the token `parent` (over the API): revoking
/// `parent` revokes it too ([`revoke_token_tree`]).
pub async fn create_child_token(
    conn: &mut Conn,
    user_id: Uuid,
    label: &str,
    parent: Uuid,
) -> Result<NewToken, ServerError> {
    insert_token(conn, user_id, label, Some(parent)).await
}

async fn insert_token(
    conn: &mut Conn,
    user_id: Uuid,
    label: &str,
    parent: Option<Uuid>,
) -> Result<NewToken, ServerError> {
    insert_token_of_kind(conn, user_id, label, parent, "personal").await
}

/// A new token of `kind` (`personal`, `device`: see migration 0023).
pub(crate) async fn insert_token_of_kind(
    conn: &mut Conn,
    user_id: Uuid,
    label: &str,
    parent: Option<Uuid>,
    kind: &str,
) -> Result<NewToken, ServerError> {
    let token = generate_token()?;
    let id = db::new_id();
    sqlx::query(
        "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at, parent_token_id, kind)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id_text(id))
    .bind(id_text(user_id))
    .bind(label.trim())
    .bind(hash_token(&token))
    .bind(db::now())
    .bind(parent.map(id_text))
    .bind(kind)
    .execute(&mut *conn)
    .await?;
    Ok(NewToken { id, token })
}

/// Revokes the token `token_id` (if `user_id` is given: only when it is that user's) and
/// every token created with it, with those, and so on (`parent_token_id`), those already
/// revoked left as they are: a token cannot leave behind tokens that outlive it. Returns
/// how many tokens it revoked now (0: none, or all already revoked).
pub async fn revoke_token_tree(
    conn: &mut Conn,
    token_id: Uuid,
    user_id: Option<Uuid>,
) -> Result<u64, ServerError> {
    let done = sqlx::query(
        "WITH RECURSIVE tree (id) AS (
             SELECT id FROM api_tokens WHERE id = $1 AND ($2 IS NULL OR user_id = $2)
             UNION
             SELECT t.id FROM api_tokens t JOIN tree ON t.parent_token_id = tree.id
         )
         UPDATE api_tokens SET revoked_at = $3
         WHERE id IN (SELECT id FROM tree) AND revoked_at IS NULL",
    )
    .bind(id_text(token_id))
    .bind(user_id.map(id_text))
    .bind(db::now())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// A user of an organisation, as its lists show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub role: UserRole,
}

/// The users of the actor's organisation, by name then address (the API's `/users`, the
/// settings' list of users).
pub async fn members(conn: &mut Conn, actor: &crate::Actor) -> crate::CrmResult<Vec<Member>> {
    Ok(members_of(conn, actor.org_id).await?)
}

/// The users of organisation `org` as references: who a task can be assigned to (`GET
/// /api/v1/users`, the web app's task forms).
pub async fn users_of(
    conn: &mut Conn,
    org: Uuid,
) -> Result<Vec<threadline_domain::api::UserRef>, sqlx::Error> {
    Ok(members_of(conn, org)
        .await?
        .into_iter()
        .map(|m| threadline_domain::api::UserRef {
            id: m.id,
            name: m.name,
            email: m.email,
        })
        .collect())
}

async fn members_of(conn: &mut Conn, org: Uuid) -> Result<Vec<Member>, sqlx::Error> {
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT id, name, email, role FROM users WHERE org_id = $1 ORDER BY name, email",
    )
    .bind(id_text(org))
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(id, name, email, role)| {
            Ok(Member {
                id: parse_uuid(&id)?,
                name,
                email,
                role: UserRole::parse(&role),
            })
        })
        .collect()
}

/// The role of user `user_id` (a member when there is no such user).
pub async fn role(conn: &mut Conn, user_id: Uuid) -> Result<UserRole, sqlx::Error> {
    let role: Option<String> = sqlx::query_scalar("SELECT role FROM users WHERE id = $1")
        .bind(id_text(user_id))
        .fetch_optional(&mut *conn)
        .await?;
    Ok(role.map_or(UserRole::Member, |r| UserRole::parse(&r)))
}

/// The user's own addresses: the login address and aliases (in their order), then the
/// addresses of the user's connected Google accounts (`connections.account_email` of a
/// Google connection that is not disconnected), normalised; one per match key. The model's
/// "own" includes the accounts the user connected (a reply from their Gmail address is
/// theirs); the `connections` crate writes those rows, this only reads their address.
pub async fn own_addresses(conn: &mut Conn, user_id: Uuid) -> Result<Vec<String>, sqlx::Error> {
    let mut addresses: Vec<String> = sqlx::query_scalar(
        "SELECT address FROM user_addresses WHERE user_id = $1 ORDER BY position",
    )
    .bind(id_text(user_id))
    .fetch_all(&mut *conn)
    .await?;
    let connected: Vec<String> = sqlx::query_scalar(
        "SELECT account_email FROM connections
         WHERE user_id = $1 AND provider = 'google' AND status <> 'disconnected'
           AND account_email IS NOT NULL
         ORDER BY created_at, id",
    )
    .bind(id_text(user_id))
    .fetch_all(&mut *conn)
    .await?;
    let mut keys: Vec<String> = addresses
        .iter()
        .filter_map(|a| EmailAddress::parse(a).ok())
        .map(|a| a.match_key())
        .collect();
    for raw in connected {
        let Ok(address) = EmailAddress::parse(&raw) else {
            continue;
        };
        let key = address.match_key();
        if !keys.contains(&key) {
            keys.push(key);
            addresses.push(address.to_string());
        }
    }
    Ok(addresses)
}

/// The id of the user whose login address is `email`.
pub async fn user_id_by_email(conn: &mut Conn, email: &str) -> Result<Uuid, ServerError> {
    let address = parse_address("the email address", email)?;
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(address.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    let id = id.ok_or_else(|| {
        ServerError::Invalid(format!("there is no user with the address {address}"))
    })?;
    Ok(parse_uuid(&id)?)
}

/// Revokes a token and the tokens created with it ([`revoke_token_tree`]); an error when
/// there is no such token or it is already revoked.
pub async fn revoke_token(conn: &mut Conn, token_id: Uuid) -> Result<(), ServerError> {
    let active: Option<String> =
        sqlx::query_scalar("SELECT id FROM api_tokens WHERE id = $1 AND revoked_at IS NULL")
            .bind(id_text(token_id))
            .fetch_optional(&mut *conn)
            .await?;
    if active.is_none() || revoke_token_tree(conn, token_id, None).await? == 0 {
        return Err(ServerError::Invalid(format!(
            "there is no active token with id {token_id}"
        )));
    }
    Ok(())
}

/// A token as listed (never the token itself).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenInfo {
    pub id: String,
    pub user_email: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// Every token, or those of the user with login address `email`.
pub async fn list_tokens(
    conn: &mut Conn,
    email: Option<&str>,
) -> Result<Vec<TokenInfo>, ServerError> {
    let email = email
        .map(|e| parse_address("the email address", e))
        .transpose()?;
    Ok(sqlx::query_as(
        "SELECT t.id, u.email AS user_email, t.name, t.created_at, t.last_used_at, t.revoked_at
         FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE $1 IS NULL OR u.email = $1
         ORDER BY u.email, t.created_at",
    )
    .bind(email.map(|e| e.to_string()))
    .fetch_all(&mut *conn)
    .await?)
}

/// Creates a user (and the organisation, as `org` says) with a first token, in one
/// transaction.
pub async fn add_user(
    db: &Db,
    org: OrgChoice,
    email: &str,
    name: &str,
    aliases: &[String],
) -> Result<NewUser, ServerError> {
    let org = &org;
    db.write(|tx| {
        Box::pin(async move {
            let org_id = match org {
                OrgChoice::New(name) => create_organisation(tx, name).await?,
                OrgChoice::Existing(id) => existing_organisation(tx, *id).await?,
                OrgChoice::Default => default_organisation(tx).await?,
            };
            let (id, email) = create_user(tx, org_id, email, name, aliases).await?;
            let token = create_token(tx, id, "personal token").await?;
            Ok(NewUser {
                id,
                org_id,
                email,
                token,
            })
        })
    })
    .await
}

async fn existing_organisation(conn: &mut Conn, id: Uuid) -> Result<Uuid, ServerError> {
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM organisations WHERE id = $1")
        .bind(id_text(id))
        .fetch_optional(&mut *conn)
        .await?;
    found.ok_or_else(|| ServerError::Invalid(format!("there is no organisation with id {id}")))?;
    Ok(id)
}

/// The only organisation, created if there is none.
async fn default_organisation(conn: &mut Conn) -> Result<Uuid, ServerError> {
    let orgs: Vec<String> =
        sqlx::query_scalar("SELECT id FROM organisations ORDER BY created_at LIMIT 2")
            .fetch_all(&mut *conn)
            .await?;
    match orgs.as_slice() {
        [] => create_organisation(conn, DEFAULT_ORG_NAME).await,
        [only] => Ok(parse_uuid(only)?),
        _ => Err(ServerError::Invalid(
            "there are several organisations: choose one with --org-id (or --new-org)".into(),
        )),
    }
}

/// What the first start found.
#[derive(Debug, Clone)]
pub enum Bootstrap {
    /// The database had no user: an organisation, an owner and a token were created.
    Created(NewUser),
    /// Users exist already.
    AlreadySetUp { users: i64, active_tokens: i64 },
}

/// On an empty database, creates the default organisation and the owner with a token.
pub async fn bootstrap(db: &Db, owner_email: &str) -> Result<Bootstrap, ServerError> {
    db.write(|tx| {
        Box::pin(async move {
            let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
                .fetch_one(&mut **tx)
                .await?;
            if users > 0 {
                let active_tokens: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens WHERE revoked_at IS NULL")
                        .fetch_one(&mut **tx)
                        .await?;
                return Ok(Bootstrap::AlreadySetUp {
                    users,
                    active_tokens,
                });
            }
            let org_id = create_organisation(tx, DEFAULT_ORG_NAME).await?;
            let (id, email) = create_user(tx, org_id, owner_email, OWNER_NAME, &[]).await?;
            let token = create_token(tx, id, "personal token").await?;
            Ok(Bootstrap::Created(NewUser {
                id,
                org_id,
                email,
                token,
            }))
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_hex() {
        let a = generate_token().unwrap();
        let b = generate_token().unwrap();
        assert!(a.starts_with("tl_"));
        assert_eq!(a.len(), 3 + 64);
        assert!(a[3..].bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[tokio::test]
    async fn names_made_by_the_command_line_follow_the_text_rule() {
        let test_db = threadline_storage::testing::TestDatabase::create();
        let db = test_db.open().await;
        let mut conn = db.pool().acquire().await.unwrap();
        let refused = create_organisation(&mut conn, "Acme\u{202e}gpj.exe")
            .await
            .unwrap_err()
            .to_string();
        assert!(refused.contains("U+202E"), "{refused}");
        let org = create_organisation(&mut conn, "Acme").await.unwrap();
        let refused = create_user(&mut conn, org, "ann@acme.com", "Ann\u{1b}[2J", &[])
            .await
            .unwrap_err()
            .to_string();
        assert!(refused.contains("U+001B"), "{refused}");
        create_user(&mut conn, org, "ann@acme.com", "Ann", &[])
            .await
            .unwrap();
    }
}
