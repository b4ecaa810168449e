//! What the integration's test suites share (each uses its part).
#![allow(dead_code)]

pub mod world;

use threadline_fake_providers::google::OAuthClient;
use threadline_fake_providers::FakeProviders;
use threadline_google_contacts::client::{PeopleClient, RetryPolicy};
use threadline_storage::db::{self, id_text, Db};
use uuid::Uuid;

/// The OAuth client the fake issues the suites' tokens to.
pub const CLIENT_ID: &str = "cid";
pub const CLIENT_SECRET: &str = "s";
pub const REDIRECT_URL: &str = "http://127.0.0.1:9/cb";

/// The fake with `email`'s Google account: an access token of it with the Contacts scope,
/// and a People client of the fake that does not retry.
pub async fn fake_account(email: &str) -> (FakeProviders, String, PeopleClient) {
    let fake = FakeProviders::start().await;
    let google = fake.google();
    google.add_user(email);
    // Long enough for a test that moves the fake's clock by days (sync tokens expire).
    google.set_access_token_lifetime(std::time::Duration::from_secs(30 * 86_400));
    google.add_client(OAuthClient {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_uris: vec![REDIRECT_URL.into()],
    });
    let token = google
        .issue_tokens(CLIENT_ID, email, &["contacts"])
        .access_token;
    let client =
        PeopleClient::new(&format!("{}/v1", fake.base_url()), RetryPolicy::none()).unwrap();
    (fake, token, client)
}

/// Ids of the rows [`connection_rows`] made.
pub struct Rows {
    pub org: Uuid,
    pub user: Uuid,
    pub connection: Uuid,
}

/// An organisation (`Acme`).
pub async fn org_row(db: &Db) -> Uuid {
    let org = Uuid::now_v7();
    sqlx::query("INSERT INTO organisations (id, name, created_at) VALUES ($1, 'Acme', $2)")
        .bind(id_text(org))
        .bind(db::now())
        .execute(db.pool())
        .await
        .unwrap();
    org
}

/// A user of `org` who logs in with `email`.
pub async fn user_row(db: &Db, org: Uuid, email: &str) -> Uuid {
    let user = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO users (id, org_id, name, email, created_at) VALUES ($1, $2, 'U', $3, $4)",
    )
    .bind(id_text(user))
    .bind(id_text(org))
    .bind(email)
    .bind(db::now())
    .execute(db.pool())
    .await
    .unwrap();
    user
}

/// An organisation, a user (`u@example.com`) and their Google connection with the Contacts
/// scope (no token).
pub async fn connection_rows(db: &Db) -> Rows {
    let org = org_row(db).await;
    let user = user_row(db, org, "u@example.com").await;
    let connection = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO connections (id, org_id, user_id, provider, account_id, scopes, status,
             version, created_at, updated_at, connected_at)
         VALUES ($1, $2, $3, 'google', 'sub-1', 'https://www.googleapis.com/auth/contacts',
             'ok', 1, $4, $4, $4)",
    )
    .bind(id_text(connection))
    .bind(id_text(org))
    .bind(id_text(user))
    .bind(db::now())
    .execute(db.pool())
    .await
    .unwrap();
    Rows {
        org,
        user,
        connection,
    }
}

/// [`connection_rows`] with the export turned on, and the user as the CRM's actor (the
/// benchmark's setup: a fixed token, no OAuth).
pub async fn exporting_user(db: &Db) -> (Rows, threadline_crm::Actor) {
    let rows = connection_rows(db).await;
    let mut conn = db.pool().acquire().await.unwrap();
    threadline_google_contacts::store::set_enabled(&mut conn, rows.connection, true)
        .await
        .unwrap();
    let actor = threadline_crm::Actor {
        user_id: rows.user,
        org_id: rows.org,
        name: "U".into(),
        email: "u@example.com".into(),
    };
    (rows, actor)
}
