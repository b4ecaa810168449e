//! The export's world for the job's suites: the fake Google with a user's account, a
//! throwaway database whose contacts are made through the CRM model, the user's connection
//! (tokens encrypted at rest) with the export on, and the export with the production token
//! source, refreshing against the fake's token endpoint. More users of the organisation
//! connect their own accounts with [`World::add_user`].

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};
use threadline_connections::oauth::google::{GoogleConfig, GoogleEndpoints};
use threadline_connections::oauth::{OAuth, TokenSource};
use threadline_connections::{self as connections, Grant, Owner, Provider};
use threadline_contacts_core::owned::CONTACT_ID_KEY;
use threadline_contacts_core::{Link, LinkState};
use threadline_crm::records::contacts::{Contact, ContactInput};
use threadline_crm::records::{self, Editable, Kind, Target};
use threadline_crm::Actor;
use threadline_fake_providers::FakeProviders;
use threadline_google_contacts::group::{EXPORT_KEY, GROUP_NAME};
use threadline_google_contacts::{store, SCOPES};
use threadline_google_contacts::{ContactsExport, RunCounts, RunOptions};
use threadline_storage::db::Db;
use threadline_storage::secrets::{new_key_line, Keyring, SecretString};
use threadline_storage::testing::TestDatabase;
use threadline_sync_engine::SyncError;
use uuid::Uuid;

pub const BATCH_CREATE: &str = "/v1/people:batchCreateContacts";
pub const BATCH_UPDATE: &str = "/v1/people:batchUpdateContacts";
pub const BATCH_DELETE: &str = "/v1/people:batchDeleteContacts";

/// A user's Google account and connection.
#[derive(Debug, Clone)]
pub struct Account {
    pub email: String,
    pub connection: Uuid,
    /// The refresh token stored on the connection (to revoke it, as the user may).
    pub refresh_token: String,
}

pub struct World {
    pub fake: FakeProviders,
    _test: TestDatabase,
    pub db: Db,
    keys: Arc<Keyring>,
    /// The first user's address and connection.
    pub email: String,
    pub connection: Uuid,
    pub account: Account,
    pub actor: Actor,
    pub export: ContactsExport,
}

impl World {
    /// Where its database is (for another process on it).
    pub fn location(&self) -> &threadline_storage::db::Location {
        self._test.location()
    }

    /// `email`'s Google account in the fake, and their connection with the export on.
    pub async fn new(email: &str) -> World {
        let (fake, _, client) = super::fake_account(email).await;
        let test = TestDatabase::create();
        let db = test.open().await;
        let keys = Arc::new(Keyring::parse(&new_key_line().unwrap(), "test").unwrap());
        let org = super::org_row(&db).await;
        let (user, account) = connect(&fake, &db, &keys, org, email).await;
        let oauth = OAuth::with_google(GoogleConfig {
            client_id: super::CLIENT_ID.into(),
            client_secret: SecretString::from(super::CLIENT_SECRET.to_string()),
            redirect_url: super::REDIRECT_URL.parse().unwrap(),
            endpoints: GoogleEndpoints::all_at(&fake.base_url()).unwrap(),
        })
        .unwrap();
        let tokens = TokenSource::new(db.clone(), Arc::clone(&keys), Arc::new(oauth));
        let export = ContactsExport::new(db.clone(), client, Arc::new(tokens));
        World {
            fake,
            _test: test,
            db,
            keys,
            email: email.to_string(),
            connection: account.connection,
            account,
            actor: Actor {
                user_id: user,
                org_id: org,
                name: "U".into(),
                email: email.into(),
            },
            export,
        }
    }

    /// Another user of the organisation, who connects their own Google account (`email`)
    /// and turns the export on.
    pub async fn add_user(&self, email: &str) -> Account {
        self.fake.google().add_user(email);
        let (_, account) =
            connect(&self.fake, &self.db, &self.keys, self.actor.org_id, email).await;
        account
    }

    /// The user connects the account again (a new grant): the connection is `ok` again.
    pub async fn reconnect(&self, account: &Account) -> Account {
        let (_, again) = connect(
            &self.fake,
            &self.db,
            &self.keys,
            self.actor.org_id,
            &account.email,
        )
        .await;
        assert_eq!(again.connection, account.connection, "the same connection");
        again
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
        self.try_run().await.unwrap()
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
        self.run_with(self.connection, RunOptions::default()).await
    }

    /// A run of a connection's export with these options.
    pub async fn run_with(
        &self,
        connection: Uuid,
        options: RunOptions,
    ) -> Result<RunCounts, SyncError> {
        self.export.run(connection, options).await
    }

    pub fn count(&self, method: &str, endpoint: &str) -> usize {
        self.fake.log().count(method, endpoint)
    }

    /// The account's live contacts carrying `contact`'s id.
    pub fn people_of(&self, contact: Uuid) -> Vec<Value> {
        self.persons().remove(&contact).unwrap_or_default()
    }

    pub async fn link_name(&self, contact: Uuid) -> String {
        self.links()
            .await
            .into_iter()
            .find(|l| l.contact_id == contact)
            .and_then(|l| l.resource_name)
            .expect("a linked contact")
    }

    /// The connection's links.
    pub async fn links(&self) -> Vec<Link> {
        self.links_of(self.connection).await
    }

    pub async fn links_of(&self, connection: Uuid) -> Vec<Link> {
        let mut conn = self.db.pool().acquire().await.unwrap();
        store::links(&mut conn, connection).await.unwrap()
    }

    /// The connection's export row.
    pub async fn export_row(&self) -> store::Export {
        self.export_row_of(self.connection).await
    }

    pub async fn export_row_of(&self, connection: Uuid) -> store::Export {
        let mut conn = self.db.pool().acquire().await.unwrap();
        store::export(&mut conn, connection)
            .await
            .unwrap()
            .expect("the export row")
    }

    /// The account's live persons carrying a contact id, by that id.
    pub fn persons(&self) -> BTreeMap<Uuid, Vec<Value>> {
        self.persons_in(&self.email)
    }

    pub fn persons_in(&self, email: &str) -> BTreeMap<Uuid, Vec<Value>> {
        let mut out: BTreeMap<Uuid, Vec<Value>> = BTreeMap::new();
        for person in self.fake.google().people_contacts(email) {
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
    pub async fn threadline_groups(&self, email: &str) -> Vec<(String, Option<String>)> {
        let token = self.token_of(email);
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
        self.assert_exported_to(&self.account, ids).await;
    }

    /// [`World::assert_exported`] of another user's account.
    pub async fn assert_exported_to(&self, account: &Account, ids: &[Uuid]) {
        let row = self.export_row_of(account.connection).await;
        let group = row.group.expect("a group stored");
        let groups = self.threadline_groups(&account.email).await;
        let stamp = Some(account.connection.to_string());
        assert_eq!(groups, [(group.clone(), stamp)], "one group, ours");
        let persons = self.persons_in(&account.email);
        let links: BTreeMap<Uuid, Link> = self
            .links_of(account.connection)
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
        self.as_the_user_with(method, path, "").await;
    }

    /// [`World::as_the_user`] with a JSON body (none when empty).
    pub async fn as_the_user_with(&self, method: reqwest::Method, path: &str, body: &str) {
        let url = format!("{}/v1/{path}", self.fake.base_url());
        let mut request = reqwest::Client::new()
            .request(method, url)
            .bearer_auth(self.token());
        if !body.is_empty() {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
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
        self.token_of(&self.email)
    }

    pub fn token_of(&self, email: &str) -> String {
        self.fake
            .google()
            .issue_tokens(super::CLIENT_ID, email, &["contacts"])
            .access_token
    }

    /// Mutating calls to the People API in the log.
    pub fn mutations(&self) -> usize {
        self.fake
            .log()
            .requests()
            .iter()
            .filter(|r| r.method != "GET" && r.path.starts_with("/v1/"))
            .count()
    }

    /// The user takes Threadline's access away in their Google account: the refresh token
    /// and every access token from it are revoked.
    pub async fn revoke(&self, account: &Account) {
        let url = format!("{}/revoke", self.fake.base_url());
        let response = reqwest::Client::new()
            .post(url)
            .form(&[("token", account.refresh_token.as_str())])
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{response:?}");
    }

    /// The connection as stored.
    pub async fn connection_row(&self, connection: Uuid) -> connections::Connection {
        let mut conn = self.db.pool().acquire().await.unwrap();
        connections::get(&mut conn, connection).await.unwrap()
    }
}

/// `email`'s user in `org` and their Google connection: a grant of the fake (the Contacts
/// scope, a refresh token) stored as the OAuth callback stores it, then the export turned
/// on. Again for a user who has one: connected again.
async fn connect(
    fake: &FakeProviders,
    db: &Db,
    keys: &Keyring,
    org: Uuid,
    email: &str,
) -> (Uuid, Account) {
    let known: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_optional(db.pool())
        .await
        .unwrap();
    let user = match known {
        Some(id) => id.parse().unwrap(),
        None => super::user_row(db, org, email).await,
    };
    let tokens = fake
        .google()
        .issue_tokens(super::CLIENT_ID, email, &["contacts"]);
    let refresh_token = tokens.refresh_token.expect("offline access");
    let grant = Grant {
        provider: Provider::Google,
        account_id: format!("sub-{email}"),
        account_email: Some(email.into()),
        scopes: SCOPES.iter().map(|s| s.to_string()).collect(),
        access_token: SecretString::from(tokens.access_token),
        refresh_token: Some(SecretString::from(refresh_token.clone())),
        access_token_expires_at: None,
    };
    let owner = Owner {
        org_id: org,
        user_id: user,
    };
    let connection = db
        .write(|tx| Box::pin(connections::upsert(tx, keys, owner, &grant)))
        .await
        .unwrap()
        .connection
        .id;
    let mut conn = db.pool().acquire().await.unwrap();
    store::set_enabled(&mut conn, connection, true)
        .await
        .unwrap();
    let account = Account {
        email: email.into(),
        connection,
        refresh_token,
    };
    (user, account)
}
