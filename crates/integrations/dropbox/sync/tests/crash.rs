//! The document sync with Dropbox killed with SIGKILL (no unwinding, no destructors, no
//! commit: a power cut, the OOM killer) at each of the executor's crash points, in a process
//! of its own (this test binary, the ignored `kill_child`), against the local fake Dropbox
//! over real HTTP and a throwaway database (SQLite, or PostgreSQL with
//! `THREADLINE_TEST_DATABASE_URL`). The points: after a folder is made in Dropbox and before
//! its link is stored, after an upload (a new file, new content) before its link, after a
//! move (a record renamed) before its link, after a delete before its link goes, after a
//! download before the CRM write, and after a CRM write before the cursor is stored.
//!
//! Each time the next run, in this process, converges: every CRM file's content is in
//! Dropbox at its path and every Dropbox file is in the CRM, nothing twice on either side
//! (no `name (2).ext`, no conflict copy), and the run after it writes nothing.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use threadline_crm::documents::blobs::BlobStore;
use threadline_crm::documents::tree::{self, IfMatch, NewContent, RecordKind, RecordRef};
use threadline_crm::records::companies::{Company, ValidCompany};
use threadline_crm::records::{Editable, Target};
use threadline_crm::Actor;
use threadline_dropbox::client::{DropboxClient, RetryPolicy};
use threadline_fake_providers::dropbox::oauth::SYNC_SCOPES;
use threadline_fake_providers::dropbox::DropboxApp;
use threadline_fake_providers::FakeProviders;
use threadline_files_core::link::{RecordKind as CoreKind, RecordRef as CoreRef};
use threadline_files_sync::run::{FileSync, RunOptions};
use threadline_files_sync::settings;
use threadline_storage::db::{self, id_text, Db, Location};
use threadline_storage::secrets::SecretString;
use threadline_storage::testing::TestDatabase;
use threadline_sync_engine::{Counts, FixedToken};
use uuid::Uuid;

const EMAIL: &str = "ann@example.com";
const APP_KEY: &str = "threadline-app-key";

const CHILD_DB: &str = "THREADLINE_TEST_CHILD_DB";
const CHILD_DATA: &str = "THREADLINE_TEST_CHILD_DATA";
const CHILD_API: &str = "THREADLINE_TEST_CHILD_API";
const CHILD_CONNECTION: &str = "THREADLINE_TEST_CHILD_CONNECTION";
const CHILD_TOKEN: &str = "THREADLINE_TEST_CHILD_TOKEN";

/// The sync as the server builds it (`threadline_dropbox::build`): this crate's client, the
/// blob store of `data_dir`, a fixed token. A client that does not retry: a step is never
/// repeated behind the test's back.
fn file_sync(db: Db, data_dir: &Path, base_url: &str, token: String) -> FileSync {
    let policy = RetryPolicy {
        max_attempts: 1,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(1),
    };
    let client = DropboxClient::new(base_url, base_url, policy).unwrap();
    FileSync::new(
        db,
        BlobStore::in_data_dir(data_dir),
        Arc::new(client),
        Arc::new(FixedToken(SecretString::from(token))),
        &[],
    )
}

/// The run to kill, in a process of its own (ignored: started by the tests below only).
#[tokio::test]
#[ignore = "the child process of the crash tests"]
async fn kill_child() {
    let (Ok(db), Ok(data), Ok(api), Ok(connection), Ok(token)) = (
        std::env::var(CHILD_DB),
        std::env::var(CHILD_DATA),
        std::env::var(CHILD_API),
        std::env::var(CHILD_CONNECTION),
        std::env::var(CHILD_TOKEN),
    ) else {
        return;
    };
    let location = match db.strip_prefix("sqlite:") {
        Some(path) => Location::Sqlite(path.into()),
        None => Location::Postgres(db.clone()),
    };
    let db = Db::open(&location).await.unwrap();
    let sync = file_sync(db, Path::new(&data), &api, token);
    let connection: Uuid = connection.parse().unwrap();
    let outcome = sync.run(connection, RunOptions::default()).await;
    panic!(
        "the run was to be killed, and ended: {:?}",
        outcome.map(|t| t.counts())
    );
}

/// A user's Dropbox (the fake's, with the app "Threadline CRM"), a database with the user's
/// organisation, the company Acme and the user's Dropbox connection syncing Acme's
/// documents.
struct World {
    fake: FakeProviders,
    test: TestDatabase,
    db: Db,
    blobs: BlobStore,
    actor: Actor,
    token: String,
    connection: Uuid,
    company: Uuid,
    company_version: i64,
    sync: FileSync,
}

impl World {
    async fn new() -> World {
        let fake = FakeProviders::start().await;
        let dropbox = fake.dropbox();
        let account_id = dropbox.add_account(EMAIL);
        dropbox.add_app(DropboxApp {
            app_key: APP_KEY.into(),
            app_secret: "secret".into(),
            name: "Threadline CRM".into(),
            redirect_uris: vec!["http://127.0.0.1:9/cb".into()],
            scopes: SYNC_SCOPES.map(String::from).to_vec(),
        });
        let token = dropbox.issue_tokens(APP_KEY, EMAIL).access_token;
        let test = TestDatabase::create();
        let db = test.open().await;
        let (org, user, connection) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let now = db::now();
        for sql in [
            "INSERT INTO organisations (id, name, created_at) VALUES ($1, 'Ourco', $4)",
            "INSERT INTO users (id, org_id, name, email, created_at)
             VALUES ($2, $1, 'Ann', 'ann@example.com', $4)",
            "INSERT INTO connections (id, org_id, user_id, provider, account_id, scopes, status,
                 version, created_at, updated_at, connected_at)
             VALUES ($3, $1, $2, 'dropbox', $5, '', 'ok', 1, $4, $4, $4)",
        ] {
            sqlx::query(sql)
                .bind(id_text(org))
                .bind(id_text(user))
                .bind(id_text(connection))
                .bind(&now)
                .bind(&account_id)
                .execute(db.pool())
                .await
                .unwrap();
        }
        let actor = Actor {
            user_id: user,
            org_id: org,
            name: "Ann".into(),
            email: EMAIL.into(),
        };
        let company = Uuid::now_v7();
        let mut conn = db.pool().acquire().await.unwrap();
        Company::save(
            &mut conn,
            &actor,
            company,
            Target::New,
            &ValidCompany::named("Acme", None),
        )
        .await
        .unwrap();
        settings::ensure(&mut conn, connection, threadline_dropbox::NAME)
            .await
            .unwrap();
        let record = CoreRef {
            kind: CoreKind::Company,
            id: company,
        };
        settings::add_target(&mut conn, connection, settings::Target::Record(record))
            .await
            .unwrap();
        drop(conn);
        let sync = file_sync(db.clone(), test.data_dir(), &fake.base_url(), token.clone());
        World {
            blobs: BlobStore::in_data_dir(test.data_dir()),
            fake,
            test,
            db,
            actor,
            token,
            connection,
            company,
            company_version: 1,
            sync,
        }
    }

    fn record(&self) -> RecordRef {
        RecordRef {
            kind: RecordKind::Company,
            id: self.company,
        }
    }

    // --- The CRM side, as a user changes it.

    async fn folder(&self, parent: Option<Uuid>, name: &str) -> Uuid {
        let mut conn = self.db.pool().acquire().await.unwrap();
        tree::create_folder(&mut conn, &self.actor, self.record(), parent, name)
            .await
            .unwrap()
            .id
    }

    async fn content(&self, text: &str) -> NewContent {
        let chunk = Ok::<_, std::io::Error>(Bytes::from(text.to_string()));
        NewContent {
            blob: self
                .blobs
                .store_stream(futures_util::stream::iter([chunk]))
                .await
                .unwrap(),
            content_type: "text/plain".into(),
        }
    }

    async fn file(&self, parent: Option<Uuid>, name: &str, text: &str) -> Uuid {
        let content = self.content(text).await;
        let mut conn = self.db.pool().acquire().await.unwrap();
        tree::create_file(
            &mut conn,
            &self.actor,
            self.record(),
            parent,
            name,
            &content,
        )
        .await
        .unwrap()
        .id
    }

    async fn if_match(&self, id: Uuid) -> IfMatch {
        let mut conn = self.db.pool().acquire().await.unwrap();
        let node = tree::live_node(&mut conn, self.actor.org_id, id)
            .await
            .unwrap();
        IfMatch::parse(Some(&node.etag)).unwrap()
    }

    async fn replace(&self, id: Uuid, text: &str) {
        let (content, if_match) = (self.content(text).await, self.if_match(id).await);
        let mut conn = self.db.pool().acquire().await.unwrap();
        tree::replace_content(&mut conn, &self.actor, id, &if_match, &content)
            .await
            .unwrap();
    }

    async fn trash(&self, id: Uuid) {
        let if_match = self.if_match(id).await;
        let mut conn = self.db.pool().acquire().await.unwrap();
        tree::move_to_trash(&mut conn, &self.actor, id, &if_match)
            .await
            .unwrap();
    }

    async fn rename(&self, id: Uuid, name: &str) {
        let if_match = self.if_match(id).await;
        let mut conn = self.db.pool().acquire().await.unwrap();
        tree::update(&mut conn, &self.actor, id, &if_match, Some(name), None)
            .await
            .unwrap();
    }

    async fn rename_company(&mut self, name: &str) {
        let mut conn = self.db.pool().acquire().await.unwrap();
        let target = Target::Existing {
            expected_version: self.company_version,
        };
        let valid = ValidCompany::named(name, None);
        Company::save(&mut conn, &self.actor, self.company, target, &valid)
            .await
            .unwrap();
        self.company_version += 1;
    }

    // --- Dropbox, as the user changes it.

    fn app_folder(&self) -> String {
        self.fake.dropbox().app_folder(APP_KEY)
    }

    /// Writes a file in the app folder (`path` relative to it) as the user does.
    fn put_file(&self, path: &str, text: &str) {
        let full = format!("{}{path}", self.app_folder());
        self.fake.dropbox().put_file(EMAIL, &full, text);
    }

    // --- Both sides as they are.

    /// The record's live documents: (path from the record's top, the file's text or "" for
    /// a folder), sorted.
    async fn crm(&self) -> Vec<(String, String)> {
        let mut conn = self.db.pool().acquire().await.unwrap();
        let nodes = tree::record_nodes(&mut conn, self.actor.org_id, self.record())
            .await
            .unwrap();
        let by_id: BTreeMap<Uuid, &tree::Node> = nodes.iter().map(|n| (n.id, n)).collect();
        let mut out: Vec<(String, String)> = nodes
            .iter()
            .map(|n| {
                let mut path = format!("/{}", n.name);
                let mut parent = n.parent_id;
                while let Some(id) = parent {
                    let above = by_id[&id];
                    path = format!("/{}{path}", above.name);
                    parent = above.parent_id;
                }
                let text = match &n.sha256 {
                    Some(sha) => {
                        let bytes = std::fs::read(self.blobs.path_of(sha).unwrap()).unwrap();
                        String::from_utf8(bytes).unwrap()
                    }
                    None => String::new(),
                };
                (path, text)
            })
            .collect();
        out.sort();
        out
    }

    /// Everything in the app folder: (path relative to it, the file's text or "" for a
    /// folder), sorted.
    fn dropbox(&self) -> Vec<(String, String)> {
        let app = self.app_folder();
        let dropbox = self.fake.dropbox();
        dropbox
            .paths(EMAIL)
            .into_iter()
            .filter_map(|p| {
                let relative = p.strip_prefix(&app)?.to_string();
                if relative.is_empty() {
                    return None;
                }
                let text = dropbox
                    .file_content(EMAIL, &p)
                    .map(|b| String::from_utf8(b).unwrap())
                    .unwrap_or_default();
                Some((relative, text))
            })
            .collect()
    }

    /// Whether something is at `path` (relative to the app folder).
    fn in_dropbox(&self, path: &str) -> bool {
        self.dropbox().iter().any(|(p, _)| p == path)
    }

    fn dropbox_files(&self) -> usize {
        self.dropbox().iter().filter(|(_, t)| !t.is_empty()).count()
    }

    // --- Runs.

    /// One run in this process, which must succeed: what it did.
    async fn run(&self) -> Counts {
        self.sync
            .run(self.connection, RunOptions::default())
            .await
            .unwrap_or_else(|e| panic!("the run failed: {e}"))
            .counts()
    }

    /// One run in a child process killed at `point`, which must be reached.
    async fn run_killed_at(&self, point: &str) {
        let db = match self.test.location() {
            Location::Sqlite(path) => format!("sqlite:{}", path.display()),
            Location::Postgres(url) => url.clone(),
        };
        let mut command = std::process::Command::new(std::env::current_exe().unwrap());
        command
            .args(["--exact", "kill_child", "--ignored", "--nocapture"])
            .env("THREADLINE_TEST_KILL_AT", point)
            .env(CHILD_DB, db)
            .env(CHILD_DATA, self.test.data_dir())
            .env(CHILD_API, self.fake.base_url())
            .env(CHILD_CONNECTION, self.connection.to_string())
            .env(CHILD_TOKEN, &self.token);
        // Waited for off this thread: the fake Dropbox serves the child from this runtime.
        let status = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        assert_eq!(
            status.status.signal(),
            Some(9),
            "{point}: not killed: {:?}\n{}",
            status.status,
            String::from_utf8_lossy(&status.stdout)
        );
    }

    /// The next run converges to `want` (the record's documents: path from its top, text or
    /// "" for a folder) on both sides, the record's folder in Dropbox being
    /// `/Companies/{folder}`, and the run after it is quiet.
    async fn converges(&self, point: &str, folder: &str, want: &[(&str, &str)]) -> Counts {
        let counts = self.run().await;
        let want_crm: Vec<(String, String)> = want
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect();
        let mut want_dropbox = vec![
            ("/Companies".to_string(), String::new()),
            (format!("/Companies/{folder}"), String::new()),
        ];
        want_dropbox.extend(
            want.iter()
                .map(|(p, t)| (format!("/Companies/{folder}{p}"), t.to_string())),
        );
        want_dropbox.sort();
        assert_eq!(
            self.crm().await,
            want_crm,
            "{point}: the CRM after {counts:?}"
        );
        assert_eq!(
            self.dropbox(),
            want_dropbox,
            "{point}: Dropbox after {counts:?}"
        );
        self.quiet(point).await;
        counts
    }

    /// A run that changes nothing: no write on either side, one listing request.
    async fn quiet(&self, point: &str) {
        let (crm, dropbox) = (self.crm().await, self.dropbox());
        self.fake.log().clear();
        let counts = self.run().await;
        assert_eq!(
            (
                counts.created,
                counts.updated,
                counts.deleted,
                counts.conflicts
            ),
            (0, 0, 0, 0),
            "{point}: the run after converging is quiet: {counts:?}"
        );
        let calls: BTreeMap<String, usize> = self
            .fake
            .log()
            .per_endpoint()
            .into_iter()
            .filter(|(e, _)| e.contains("/2/"))
            .collect();
        assert_eq!(
            calls,
            BTreeMap::from([("POST /2/files/list_folder/continue".to_string(), 1)]),
            "{point}: the quiet run's requests"
        );
        assert_eq!(self.crm().await, crm, "{point}");
        assert_eq!(self.dropbox(), dropbox, "{point}");
    }

    /// Acme with `offer.txt` and `Contracts/signed.txt`, not synced yet.
    async fn acme_documents(&self) {
        self.file(None, "offer.txt", "the offer").await;
        let contracts = self.folder(None, "Contracts").await;
        self.file(Some(contracts), "signed.txt", "signed").await;
        self.folder(None, "Empty").await;
    }
}

const ACME: &[(&str, &str)] = &[
    ("/Contracts", ""),
    ("/Contracts/signed.txt", "signed"),
    ("/Empty", ""),
    ("/offer.txt", "the offer"),
];

#[tokio::test]
async fn a_first_sync_killed_after_making_a_folder_converges() {
    let point = "files-after-create-folder";
    let w = World::new().await;
    w.acme_documents().await;
    w.run_killed_at(point).await;
    assert_eq!(
        w.dropbox(),
        [("/Companies".to_string(), String::new())],
        "{point}: the first folder was made before the kill"
    );
    let counts = w.converges(point, "Acme", ACME).await;
    assert_eq!(counts.details.get("uploaded"), Some(&2), "{counts:?}");
}

#[tokio::test]
async fn a_first_sync_killed_after_an_upload_converges() {
    let point = "files-after-upload";
    let w = World::new().await;
    w.acme_documents().await;
    w.run_killed_at(point).await;
    assert_eq!(
        w.dropbox_files(),
        1,
        "{point}: one file was uploaded before the kill"
    );
    let counts = w.converges(point, "Acme", ACME).await;
    assert_eq!(
        counts.details.get("uploaded"),
        Some(&1),
        "{point}: the file uploaded before the kill is not uploaded again: {counts:?}"
    );
}

#[tokio::test]
async fn a_first_sync_killed_before_its_cursor_is_stored_converges() {
    let point = "files-before-cursor";
    let w = World::new().await;
    w.acme_documents().await;
    w.put_file("/Companies/Acme/Contracts/annex.txt", "annex");
    w.run_killed_at(point).await;
    let mut want = ACME.to_vec();
    want.push(("/Contracts/annex.txt", "annex"));
    want.sort();
    let counts = w.converges(point, "Acme", &want).await;
    assert_eq!(
        (counts.created, counts.updated),
        (0, 0),
        "{point}: everything was done before the kill: {counts:?}"
    );
}

/// One world through a later run killed at each point, one after the other: a record
/// renamed (a move), a CRM edit (an upload under the linked rev), a CRM delete, files added
/// in Dropbox (downloads, a CRM folder).
#[tokio::test]
async fn later_runs_killed_at_each_point_converge() {
    let mut w = World::new().await;
    let offer = w.file(None, "offer.txt", "the offer").await;
    let contracts = w.folder(None, "Contracts").await;
    let signed = w.file(Some(contracts), "signed.txt", "signed").await;
    let mut want = vec![
        ("/Contracts", ""),
        ("/Contracts/signed.txt", "signed"),
        ("/offer.txt", "the offer"),
    ];
    w.converges("first run", "Acme", &want).await;

    // The record renamed in the CRM: its folder is moved in Dropbox, the link is not.
    let point = "files-after-move";
    let folder = "Acme Holding";
    w.rename_company(folder).await;
    w.run_killed_at(point).await;
    assert!(
        w.in_dropbox("/Companies/Acme Holding"),
        "{point}: moved before the kill"
    );
    let counts = w.converges(point, folder, &want).await;
    assert_eq!(counts.details.get("uploaded"), None, "{point}: {counts:?}");

    // New content in the CRM: uploaded under the linked rev, the link is not updated.
    let point = "files-after-upload";
    w.replace(offer, "the offer, v2").await;
    w.run_killed_at(point).await;
    assert!(
        w.dropbox().contains(&(
            "/Companies/Acme Holding/offer.txt".into(),
            "the offer, v2".into()
        )),
        "{point}: uploaded before the kill"
    );
    want[2].1 = "the offer, v2";
    let counts = w.converges(point, folder, &want).await;
    assert_eq!(counts.details.get("uploaded"), None, "{point}: {counts:?}");

    // A case-only rename in the CRM: Dropbox refuses it, so it goes through a temporary
    // name; killed there.
    let point = "files-after-temporary-name";
    w.rename(offer, "Offer.txt").await;
    w.run_killed_at(point).await;
    assert!(
        w.in_dropbox("/Companies/Acme Holding/Offer.txt.threadline-rename"),
        "{point}: at the temporary name"
    );
    want[2].0 = "/Offer.txt";
    w.converges(point, folder, &want).await;
    w.rename(offer, "offer.txt").await;
    w.run().await;
    want[2].0 = "/offer.txt";

    // A document deleted in the CRM: deleted in Dropbox, its link stays.
    let point = "files-after-delete";
    w.trash(signed).await;
    w.run_killed_at(point).await;
    assert!(
        !w.in_dropbox("/Companies/Acme Holding/Contracts/signed.txt"),
        "{point}: deleted before the kill"
    );
    want.remove(1);
    w.converges(point, folder, &want).await;

    // A file added in Dropbox: downloaded, not yet in the CRM.
    let point = "files-after-download";
    w.put_file("/Companies/Acme Holding/Contracts/annex.txt", "annex");
    w.run_killed_at(point).await;
    assert_eq!(
        w.crm().await.len(),
        2,
        "{point}: nothing written in the CRM"
    );
    want.insert(1, ("/Contracts/annex.txt", "annex"));
    let counts = w.converges(point, folder, &want).await;
    assert_eq!(
        counts.details.get("downloaded"),
        Some(&1),
        "{point}: {counts:?}"
    );

    // A folder with two files added in Dropbox: the folder is made in the CRM (with its
    // link), the run is killed before the files.
    let point = "files-after-crm-write";
    w.put_file("/Companies/Acme Holding/Minutes/jan.txt", "january");
    w.put_file("/Companies/Acme Holding/Minutes/feb.txt", "february");
    w.run_killed_at(point).await;
    let crm = w.crm().await;
    assert_eq!(
        crm.len(),
        4,
        "{point}: one CRM write before the kill: {crm:?}"
    );
    want.extend([
        ("/Minutes", ""),
        ("/Minutes/feb.txt", "february"),
        ("/Minutes/jan.txt", "january"),
    ]);
    want.sort();
    let counts = w.converges(point, folder, &want).await;
    assert_eq!(
        counts.details.get("downloaded"),
        Some(&2),
        "{point}: {counts:?}"
    );
}
