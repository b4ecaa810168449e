//! Who does something in the CRM: a user of an organisation. The HTTP layer makes one from a
//! bearer token, the CLI from `--as`; the model never knows which.

use uuid::Uuid;

/// The user on whose behalf the model reads and writes; every read and write is scoped to
/// `org_id`.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub email: String,
}

impl Actor {
    pub fn user_ref(&self) -> threadline_domain::api::UserRef {
        threadline_domain::api::UserRef {
            id: self.user_id,
            name: self.name.clone(),
            email: self.email.clone(),
        }
    }
}

/// The user `user_id` as an actor: what a background job (a sync of that user's connection)
/// writes as. `None` when there is no such user.
pub async fn of_user(
    conn: &mut threadline_storage::db::Conn,
    user_id: Uuid,
) -> crate::CrmResult<Option<Actor>> {
    use threadline_storage::db::{id_text, parse_uuid};
    let row: Option<(String, String, String)> =
        sqlx::query_as("SELECT org_id, name, email FROM users WHERE id = $1")
            .bind(id_text(user_id))
            .fetch_optional(&mut *conn)
            .await?;
    row.map(|(org, name, email)| {
        Ok(Actor {
            user_id,
            org_id: parse_uuid(&org)?,
            name,
            email,
        })
    })
    .transpose()
}
