//! What the integration's test suites share (each uses its part).
#![allow(dead_code)]

use threadline_storage::db::{self, id_text, Db};
use uuid::Uuid;

/// Ids of the rows [`connection_rows`] made.
pub struct Rows {
    pub org: Uuid,
    pub user: Uuid,
    pub connection: Uuid,
}

/// An organisation, a user (`u@example.com`) and their Google connection with the Contacts
/// scope.
pub async fn connection_rows(db: &Db) -> Rows {
    let (org, user, connection) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let now = db::now();
    let mut conn = db.pool().acquire().await.unwrap();
    for sql in [
        "INSERT INTO organisations (id, name, created_at) VALUES ($1, 'Acme', $4)",
        "INSERT INTO users (id, org_id, name, email, created_at) VALUES ($2, $1, 'U', 'u@example.com', $4)",
        "INSERT INTO connections (id, org_id, user_id, provider, account_id, scopes, status,
             version, created_at, updated_at, connected_at)
         VALUES ($3, $1, $2, 'google', 'sub-1', 'https://www.googleapis.com/auth/contacts', 'ok', 1, $4, $4, $4)",
    ] {
        sqlx::query(sql)
            .bind(id_text(org))
            .bind(id_text(user))
            .bind(id_text(connection))
            .bind(&now)
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    Rows {
        org,
        user,
        connection,
    }
}
