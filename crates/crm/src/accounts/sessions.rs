//! Web sessions: what the web app's cookie stands for.
//!
//! A session is a row of `web_sessions`, so every server process (on SQLite or PostgreSQL)
//! sees it. The cookie holds `tls_` and 32 random bytes in hex; only its SHA-256 is stored,
//! so a copy of the database opens no session. Each session has its own CSRF token. A
//! session ends when signed out ([`end_session`], [`end_all_sessions`]), when the user's
//! password is set ([`super::passwords::set_password`]), after [`IDLE_TIMEOUT`] without use,
//! and [`ABSOLUTE_TIMEOUT`] after it began, whichever comes first.

use chrono::{DateTime, Duration, Utc};
use threadline_domain::api::UserRole;
use threadline_storage::db::{self, format_time, id_text, parse_time, parse_uuid, Conn, Db};
use uuid::Uuid;

use super::{hash_token, random_secret};
use crate::error::{CrmError, CrmResult, Reason};
use crate::Actor;

/// A session unused for this long has ended.
pub const IDLE_TIMEOUT: Duration = Duration::days(14);
/// A session has ended this long after it began, however much it is used.
pub const ABSOLUTE_TIMEOUT: Duration = Duration::days(30);
/// `last_seen_at` is written at most this often per session.
const SEEN_RESOLUTION: Duration = Duration::minutes(1);
/// The prefix of a session's cookie value.
pub const COOKIE_PREFIX: &str = "tls_";
/// Most characters of a session's user agent kept.
pub const MAX_USER_AGENT_CHARS: usize = 200;

/// The languages of the web app; `None` elsewhere means the browser's.
pub const LANGUAGES: [&str; 3] = ["en", "nl", "de"];

/// A session just created: `cookie_value` goes in the cookie and is never stored.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: Uuid,
    pub cookie_value: String,
}

/// A live session, as a request sees it.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: Uuid,
    pub actor: Actor,
    /// The user's login address.
    pub email: String,
    pub role: UserRole,
    /// The token every form of this session must carry.
    pub csrf_token: String,
    /// The user's chosen language (`en`, `nl`, `de`); `None`: the browser's.
    pub language: Option<String>,
    /// The user's IANA time zone; `None`: not chosen (UTC).
    pub time_zone: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Session {
    /// Whether `presented` (a form's or a header's CSRF token) is this session's token,
    /// compared in constant time.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        let (a, b) = (self.csrf_token.as_bytes(), presented.as_bytes());
        a.len() == b.len()
            && !a.is_empty()
            && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
    }
}

/// A live session, as the user's list of sessions shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: Uuid,
    pub user_agent: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

/// `user_agent` as kept: the characters the text rule refuses dropped (it comes from the
/// browser, anything may be in it), at most [`MAX_USER_AGENT_CHARS`] characters.
fn clean_user_agent(user_agent: &str) -> String {
    user_agent
        .chars()
        .filter(|&c| !threadline_domain::text::is_refused(c))
        .take(MAX_USER_AGENT_CHARS)
        .collect::<String>()
        .trim()
        .to_string()
}

/// A new session of user `user_id` (whose password was just checked) from the browser
/// `user_agent`. The user's sessions that have ended are deleted. `no_such_user` when there
/// is no such user.
pub async fn create_session(
    db: &Db,
    user_id: Uuid,
    user_agent: &str,
    now: DateTime<Utc>,
) -> CrmResult<NewSession> {
    let cookie_value = random_secret(COOKIE_PREFIX)?;
    let csrf_token = random_secret("")?;
    let id = db::new_id();
    let user_agent = clean_user_agent(user_agent);
    let (secret_hash, csrf_token, user_agent) =
        (&hash_token(&cookie_value), &csrf_token, &user_agent);
    db.write(|tx| {
        Box::pin(async move {
            sqlx::query(
                "DELETE FROM web_sessions WHERE user_id = $1
                 AND (ended_at IS NOT NULL OR last_seen_at <= $2 OR created_at <= $3)",
            )
            .bind(id_text(user_id))
            .bind(format_time(now - IDLE_TIMEOUT))
            .bind(format_time(now - ABSOLUTE_TIMEOUT))
            .execute(&mut **tx)
            .await?;
            let at = format_time(now);
            let inserted = sqlx::query(
                "INSERT INTO web_sessions
                     (id, user_id, secret_hash, csrf_token, user_agent, created_at, last_seen_at)
                 SELECT $1, id, $2, $3, $4, $5, $5 FROM users WHERE id = $6",
            )
            .bind(id_text(id))
            .bind(secret_hash)
            .bind(csrf_token)
            .bind(user_agent)
            .bind(&at)
            .bind(id_text(user_id))
            .execute(&mut **tx)
            .await?;
            if inserted.rows_affected() == 0 {
                return Err(no_such_user(user_id));
            }
            Ok(())
        })
    })
    .await?;
    Ok(NewSession { id, cookie_value })
}

/// The live session whose cookie holds `cookie_value`; `None` when there is none (unknown,
/// ended, unused for [`IDLE_TIMEOUT`], or begun [`ABSOLUTE_TIMEOUT`] ago). Notes the use
/// (`last_seen_at`), at most once a minute.
pub async fn session(
    db: &Db,
    cookie_value: &str,
    now: DateTime<Utc>,
) -> CrmResult<Option<Session>> {
    if !cookie_value.starts_with(COOKIE_PREFIX) {
        return Ok(None);
    }
    type Row = (
        String,
        String,
        String,
        String,
        String,
        Option<String>,
        String,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT s.id, s.csrf_token, s.created_at, s.last_seen_at, s.user_id, s.ended_at,
                u.org_id, u.name, u.email, u.role, u.language, u.time_zone
         FROM web_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.secret_hash = $1",
    )
    .bind(hash_token(cookie_value))
    .fetch_optional(db.pool())
    .await?;
    let Some((
        id,
        csrf_token,
        created_at,
        last_seen_at,
        user_id,
        ended_at,
        org_id,
        name,
        email,
        role,
        language,
        time_zone,
    )) = row
    else {
        return Ok(None);
    };
    let created_at = parse_time(&created_at)?;
    let last_seen_at = parse_time(&last_seen_at)?;
    if ended_at.is_some() || !is_live(created_at, last_seen_at, now) {
        return Ok(None);
    }
    let id = parse_uuid(&id)?;
    if now - last_seen_at >= SEEN_RESOLUTION {
        db.write(|tx| {
            Box::pin(async move {
                sqlx::query(
                    "UPDATE web_sessions SET last_seen_at = $1
                     WHERE id = $2 AND ended_at IS NULL AND last_seen_at < $1",
                )
                .bind(format_time(now))
                .bind(id_text(id))
                .execute(&mut **tx)
                .await
            })
        })
        .await?;
    }
    Ok(Some(Session {
        id,
        actor: Actor {
            user_id: parse_uuid(&user_id)?,
            org_id: parse_uuid(&org_id)?,
            name,
            email: email.clone(),
        },
        email,
        role: UserRole::parse(&role),
        csrf_token,
        language,
        time_zone,
        created_at,
    }))
}

/// `no_such_user`: there is no user `user_id`.
pub(crate) fn no_such_user(user_id: Uuid) -> CrmError {
    CrmError::new(
        Reason::NotFound,
        "no_such_user",
        format!("there is no user {user_id}"),
    )
}

fn is_live(created_at: DateTime<Utc>, last_seen_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now < last_seen_at + IDLE_TIMEOUT && now < created_at + ABSOLUTE_TIMEOUT
}

/// Ends the session `session_id` (signing out); nothing when it has already ended.
pub async fn end_session(db: &Db, session_id: Uuid, now: DateTime<Utc>) -> CrmResult<()> {
    db.write(|tx| {
        Box::pin(async move {
            sqlx::query("UPDATE web_sessions SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL")
                .bind(format_time(now))
                .bind(id_text(session_id))
                .execute(&mut **tx)
                .await
        })
    })
    .await?;
    Ok(())
}

/// Ends every session of user `user_id` (signing out everywhere); how many were live.
pub async fn end_all_sessions(db: &Db, user_id: Uuid, now: DateTime<Utc>) -> CrmResult<u64> {
    Ok(db.write(|tx| Box::pin(end_all(tx, user_id, now))).await?)
}

/// [`end_all_sessions`] inside a write.
pub(crate) async fn end_all(
    conn: &mut Conn,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE web_sessions SET ended_at = $1
         WHERE user_id = $2 AND ended_at IS NULL AND last_seen_at > $3 AND created_at > $4",
    )
    .bind(format_time(now))
    .bind(id_text(user_id))
    .bind(format_time(now - IDLE_TIMEOUT))
    .bind(format_time(now - ABSOLUTE_TIMEOUT))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// The live sessions of user `user_id`, newest first.
pub async fn list_sessions(
    db: &Db,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> CrmResult<Vec<SessionInfo>> {
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT id, user_agent, created_at, last_seen_at FROM web_sessions
         WHERE user_id = $1 AND ended_at IS NULL AND last_seen_at > $2 AND created_at > $3
         ORDER BY created_at DESC, id DESC",
    )
    .bind(id_text(user_id))
    .bind(format_time(now - IDLE_TIMEOUT))
    .bind(format_time(now - ABSOLUTE_TIMEOUT))
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .map(|(id, user_agent, created_at, last_seen_at)| {
            Ok(SessionInfo {
                id: parse_uuid(&id)?,
                user_agent,
                created_at: parse_time(&created_at)?,
                last_seen_at: parse_time(&last_seen_at)?,
            })
        })
        .collect()
}

/// Sets the language of user `user_id`'s web pages: one of [`LANGUAGES`], or `None` for
/// the browser's. `invalid_field` (`language`) for another, `no_such_user`.
pub async fn set_language(db: &Db, user_id: Uuid, language: Option<&str>) -> CrmResult<()> {
    if let Some(language) = language {
        if !LANGUAGES.contains(&language) {
            return Err(CrmError::invalid(
                "language",
                format!("the language must be one of {}", LANGUAGES.join(", ")),
            ));
        }
    }
    let updated = db
        .write(|tx| {
            Box::pin(async move {
                sqlx::query("UPDATE users SET language = $1 WHERE id = $2")
                    .bind(language)
                    .bind(id_text(user_id))
                    .execute(&mut **tx)
                    .await
            })
        })
        .await?;
    if updated.rows_affected() == 0 {
        return Err(no_such_user(user_id));
    }
    Ok(())
}

/// Ends the session `session_id` of user `user_id` (from their list of sessions);
/// `not_found` when the user has no such live session.
pub async fn end_own_session(
    db: &Db,
    user_id: Uuid,
    session_id: Uuid,
    now: DateTime<Utc>,
) -> CrmResult<()> {
    let done = db
        .write(|tx| {
            Box::pin(async move {
                sqlx::query(
                    "UPDATE web_sessions SET ended_at = $1
                     WHERE id = $2 AND user_id = $3 AND ended_at IS NULL",
                )
                .bind(format_time(now))
                .bind(id_text(session_id))
                .bind(id_text(user_id))
                .execute(&mut **tx)
                .await
            })
        })
        .await?;
    if done.rows_affected() == 0 {
        return Err(CrmError::new(
            Reason::NotFound,
            "not_found",
            "There is no such session.",
        ));
    }
    Ok(())
}

/// Sets the name of user `user_id` (1 to 200 characters, the text rule):
/// `invalid_field` (`name`), `no_such_user`.
pub async fn set_name(db: &Db, user_id: Uuid, name: &str) -> CrmResult<()> {
    let name = &crate::validate::required_text("name", name, crate::validate::MAX_NAME_CHARS)?;
    let updated = db
        .write(|tx| {
            Box::pin(async move {
                sqlx::query("UPDATE users SET name = $1 WHERE id = $2")
                    .bind(name)
                    .bind(id_text(user_id))
                    .execute(&mut **tx)
                    .await
            })
        })
        .await?;
    if updated.rows_affected() == 0 {
        return Err(no_such_user(user_id));
    }
    Ok(())
}
