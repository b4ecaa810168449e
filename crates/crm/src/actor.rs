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
