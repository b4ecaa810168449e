//! The export's world for the job's suites: the fake People API with a user's account, a
//! throwaway database whose contacts are made through the CRM model, the user's connection
//! with the export on, and the export itself.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};
use threadline_contacts_core::owned::CONTACT_ID_KEY;
use threadline_contacts_core::{Link, LinkState};
use threadline_crm::records::contacts::{Contact, ContactInput};
use threadline_crm::records::{self, Editable, Kind, Target};
use threadline_crm::Actor;
use threadline_fake_providers::FakeProviders;
use threadline_google_contacts::group::{EXPORT_KEY, GROUP_NAME};
use threadline_google_contacts::store;
use threadline_google_contacts::{ContactsExport, RunCounts, RunOptions};
use threadline_storage::db::Db;
use threadline_storage::secrets::SecretString;
use threadline_storage::testing::TestDatabase;
use threadline_sync_engine::{FixedToken, SyncError};
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

    /// [`World::new`] with `n` contacts exported by a first run.
    pub async fn exported(email: &str, n: usize) -> (World, Vec<Uuid>) {
        let w = World::new(email).await;
        let ids = w.contacts(n, "Exported").await;
        w.run().await;
        (w, ids)
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

    /// `n` CRM contacts, `{tag}{i}`.
    pub async fn contacts(&self, n: usize, tag: &str) -> Vec<Uuid> {
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            let email = format!("{tag}{i}@client.example");
            ids.push(self.contact(tag, &format!("N{i}"), &email).await);
        }
        ids
    }

    /// A change of the contact's last name (`version`: the contact's version before it).
    pub async fn rename(&self, id: Uuid, version: i64, last: &str) {
        let email = format!("{}@client.example", last.to_lowercase());
        self.save(
            id,
            Target::Existing {
                expected_version: version,
            },
            json!({"first_name": "Renamed", "last_name": last, "emails": [email]}),
        )
        .await;
    }

    pub async fn run(&self) -> RunCounts {
        self.export
            .run(self.connection, RunOptions::default())
            .await
            .unwrap()
    }

    /// A run that writes nothing to Google; its counts.
    pub async fn quiet_run(&self) -> RunCounts {
        self.fake.log().clear();
        let counts = self.run().await;
        let requests = self.fake.log().requests();
        assert_eq!(self.mutations(), 0, "{requests:#?}");
        counts
    }

    /// One more run (the last run's writes come back in its listing), then a quiet one.
    pub async fn settles(&self) {
        self.run().await;
        self.quiet_run().await;
    }

    /// A run that may fail.
    pub async fn try_run(&self) -> Result<RunCounts, SyncError> {
        self.export
            .run(self.connection, RunOptions::default())
            .await
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

    /// The connection's links.
    pub async fn links(&self) -> Vec<Link> {
        let mut conn = self.db.pool().acquire().await.unwrap();
        store::links(&mut conn, self.connection).await.unwrap()
    }

    /// The connection's export row.
    pub async fn export_row(&self) -> store::Export {
        let mut conn = self.db.pool().acquire().await.unwrap();
        store::export(&mut conn, self.connection)
            .await
            .unwrap()
            .expect("the export row")
    }

    /// The account's live persons carrying a contact id, by that id.
    pub fn persons(&self) -> BTreeMap<Uuid, Vec<Value>> {
        let mut out: BTreeMap<Uuid, Vec<Value>> = BTreeMap::new();
        for person in self.fake.google().people_contacts(&self.email) {
            let id = person["clientData"].as_array().and_then(|data| {
                data.iter()
                    .find(|d| d["key"] == CONTACT_ID_KEY)
                    .and_then(|d| d["value"].as_str()?.parse().ok())
            });
            if let Some(id) = id {
                out.entry(id).or_default().push(person);
            }
        }
        out
    }

    /// The account's groups named Threadline (`resourceName`, our stamp's value).
    pub async fn threadline_groups(&self) -> Vec<(String, Option<String>)> {
        let token = self.token();
        let groups = self.export.client().list_groups(&token).await.unwrap();
        groups
            .into_iter()
            .filter(|g| g.name == GROUP_NAME)
            .map(|g| {
                let stamp = g.client_data(EXPORT_KEY).map(str::to_string);
                (g.resource_name, stamp)
            })
            .collect()
    }

    /// Every contact of `ids` exported once, and nothing else of ours: one person each, in
    /// our group (the one stored, the only group named Threadline, stamped with the
    /// connection), linked by an exported link that names it.
    pub async fn assert_exported(&self, ids: &[Uuid]) {
        let group = self.export_row().await.group.expect("a group stored");
        let groups = self.threadline_groups().await;
        assert_eq!(
            groups,
            [(group.clone(), Some(self.connection.to_string()))],
            "one group, ours"
        );
        let persons = self.persons();
        let links: BTreeMap<Uuid, Link> = self
            .links()
            .await
            .into_iter()
            .map(|l| (l.contact_id, l))
            .collect();
        for id in ids {
            let found = persons.get(id).map_or(&[][..], Vec::as_slice);
            assert_eq!(found.len(), 1, "one person for {id}: {found:#?}");
            let person = &found[0];
            let in_group = person["memberships"].as_array().is_some_and(|m| {
                m.iter().any(|m| {
                    m["contactGroupMembership"]["contactGroupResourceName"] == group.as_str()
                })
            });
            assert!(in_group, "{id} in {group}: {person:#}");
            let link = links.get(id).unwrap_or_else(|| panic!("a link for {id}"));
            assert_eq!(link.state, LinkState::Exported, "{link:?}");
            assert_eq!(
                link.resource_name.as_deref(),
                person["resourceName"].as_str(),
                "{id}"
            );
        }
        let extra: Vec<&Uuid> = persons.keys().filter(|id| !ids.contains(id)).collect();
        assert!(
            extra.is_empty(),
            "persons of no exported contact: {extra:?}"
        );
        assert_eq!(links.len(), ids.len(), "no other link");
    }

    /// A call to the People API as the user would make it in Google Contacts.
    pub async fn as_the_user(&self, method: reqwest::Method, path: &str) {
        let url = format!("{}/v1/{path}", self.fake.base_url());
        let response = reqwest::Client::new()
            .request(method, url)
            .bearer_auth(self.token())
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{path}: {response:?}");
    }

    /// The user deletes the person in Google Contacts.
    pub async fn delete_in_google(&self, resource_name: &str) {
        let path = format!("{resource_name}:deleteContact");
        self.as_the_user(reqwest::Method::DELETE, &path).await;
    }

    /// The user deletes the contact group (a label) in Google Contacts, keeping its contacts.
    pub async fn delete_group_in_google(&self, group: &str) {
        self.as_the_user(reqwest::Method::DELETE, group).await;
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
