//! The export's world for the job's suites: the fake People API with a user's account, a
//! throwaway database whose contacts are made through the CRM model, the user's connection
//! with the export on, and the export itself.

use std::sync::Arc;

use serde_json::json;
use threadline_crm::records::contacts::{Contact, ContactInput};
use threadline_crm::records::{self, Editable, Kind, Target};
use threadline_crm::Actor;
use threadline_fake_providers::FakeProviders;
use threadline_google_contacts::store;
use threadline_google_contacts::{ContactsExport, RunCounts, RunOptions};
use threadline_storage::db::Db;
use threadline_storage::secrets::SecretString;
use threadline_storage::testing::TestDatabase;
use threadline_sync_engine::FixedToken;
use uuid::Uuid;

pub const BATCH_CREATE: &str = "/v1/people:batchCreateContacts";
pub const BATCH_UPDATE: &str = "/v1/people:batchUpdateContacts";
pub const BATCH_DELETE: &str = "/v1/people:batchDeleteContacts";

pub struct World {
    pub fake: FakeProviders,
    _test: TestDatabase,
    pub db: Db,
    pub email: String,
    pub actor: Actor,
    pub connection: Uuid,
    pub export: ContactsExport,
}

impl World {
    /// `email`'s Google account in the fake, and their connection with the export on.
    pub async fn new(email: &str) -> World {
        let (fake, token, client) = super::fake_account(email).await;
        let test = TestDatabase::create();
        let db = test.open().await;
        let super::Rows {
            org,
            user,
            connection,
        } = super::connection_rows(&db).await;
        let mut conn = db.pool().acquire().await.unwrap();
        store::set_enabled(&mut conn, connection, true)
            .await
            .unwrap();
        let tokens = Arc::new(FixedToken(SecretString::from(token)));
        let export = ContactsExport::new(db.clone(), client, tokens);
        World {
            fake,
            _test: test,
            db,
            email: email.to_string(),
            actor: Actor {
                user_id: user,
                org_id: org,
                name: "U".into(),
                email: "u@example.com".into(),
            },
            connection,
            export,
        }
    }

    pub async fn save(&self, id: Uuid, target: Target, input: serde_json::Value) {
        let input: ContactInput = serde_json::from_value(input).unwrap();
        let valid = Contact::validate(input).unwrap();
        let mut conn = self.db.pool().acquire().await.unwrap();
        Contact::save(&mut conn, &self.actor, id, target, &valid)
            .await
            .unwrap();
    }

    /// A CRM contact, made through the CRM model.
    pub async fn contact(&self, first: &str, last: &str, email: &str) -> Uuid {
        let id = Uuid::now_v7();
        self.save(
            id,
            Target::New,
            json!({"first_name": first, "last_name": last, "emails": [email]}),
        )
        .await;
        id
    }

    pub async fn delete(&self, id: Uuid, version: i64) {
        let mut conn = self.db.pool().acquire().await.unwrap();
        records::soft_delete(&mut conn, Kind::Contact, self.actor.org_id, id, version)
            .await
            .unwrap();
    }

    pub async fn run(&self) -> RunCounts {
        self.export
            .run(self.connection, RunOptions::default())
            .await
            .unwrap()
    }

    pub fn count(&self, method: &str, endpoint: &str) -> usize {
        self.fake.log().count(method, endpoint)
    }

    /// The account's live contacts carrying `contact`'s id.
    pub fn people_of(&self, contact: Uuid) -> Vec<serde_json::Value> {
        let id = contact.to_string();
        self.fake
            .google()
            .people_contacts(&self.email)
            .into_iter()
            .filter(|p| {
                p["clientData"]
                    .as_array()
                    .is_some_and(|d| d.iter().any(|c| c["value"] == id.as_str()))
            })
            .collect()
    }

    pub async fn link_name(&self, contact: Uuid) -> String {
        let mut conn = self.db.pool().acquire().await.unwrap();
        store::links(&mut conn, self.connection)
            .await
            .unwrap()
            .into_iter()
            .find(|l| l.contact_id == contact)
            .and_then(|l| l.resource_name)
            .expect("a linked contact")
    }

    /// A new access token of the account (for calls the test makes itself).
    pub fn token(&self) -> String {
        self.fake
            .google()
            .issue_tokens(super::CLIENT_ID, &self.email, &["contacts"])
            .access_token
    }

    /// Mutating calls in the log.
    pub fn mutations(&self) -> usize {
        self.fake
            .log()
            .requests()
            .iter()
            .filter(|r| r.method != "GET")
            .count()
    }
}
