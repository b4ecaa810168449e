//! A user's preferences of the web app beside the language (`sessions::set_language`): the
//! time zone their planning is shown in.

use threadline_storage::db::{id_text, Conn, Db};
use uuid::Uuid;

use crate::error::{CrmError, CrmResult, Reason};
use crate::records::meetings;

/// The zone shown when the user chose none.
pub const DEFAULT_TIME_ZONE: &str = "UTC";

/// User `user_id`'s time zone (an IANA name), [`DEFAULT_TIME_ZONE`] when they chose none.
pub async fn time_zone(conn: &mut Conn, user_id: Uuid) -> CrmResult<String> {
    let zone: Option<Option<String>> =
        sqlx::query_scalar("SELECT time_zone FROM users WHERE id = $1")
            .bind(id_text(user_id))
            .fetch_optional(&mut *conn)
            .await?;
    Ok(zone
        .flatten()
        .unwrap_or_else(|| DEFAULT_TIME_ZONE.to_string()))
}

/// Sets user `user_id`'s time zone: an IANA name of the bundled tz database (the rule of a
/// meeting's `time_zone`), or `None` for [`DEFAULT_TIME_ZONE`]. `invalid_field`
/// (`time_zone`) for another name.
pub async fn set_time_zone(db: &Db, user_id: Uuid, zone: Option<&str>) -> CrmResult<()> {
    let zone = match zone.map(str::trim).filter(|z| !z.is_empty()) {
        Some(raw) => Some(meetings::time_zone("time_zone", Some(raw))?),
        None => None,
    };
    let zone = zone.as_deref();
    let updated = db
        .write(|tx| {
            Box::pin(async move {
                sqlx::query("UPDATE users SET time_zone = $1 WHERE id = $2")
                    .bind(zone)
                    .bind(id_text(user_id))
                    .execute(&mut **tx)
                    .await
            })
        })
        .await?;
    if updated.rows_affected() == 0 {
        return Err(CrmError::new(
            Reason::NotFound,
            "no_such_user",
            format!("there is no user with id {user_id}"),
        ));
    }
    Ok(())
}
