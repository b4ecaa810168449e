//! Record documents synced with Dropbox and Google Drive through the API, as a user goes
//! through it: connect, "Sync with Dropbox / Drive" on a record or a module, the runs that
//! follow (the server's runner with the registry's job, against the local providers), CRM
//! uploads waking the sync, changes made in Dropbox or Drive coming back, deletes (never
//! deleted in the CRM for a provider's delete), a record renamed (one move), conflicts, and
//! a mass deletion held for review.

use std::any::Any;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use threadline_files_sync::integration::FilesIntegration;
use threadline_server::sync::{Integration, Runner, RunnerConfig, RunnerHandle};
use uuid::Uuid;

use crate::google_account::*;

const DRIVE_SCOPE: &str = "https://www.googleapis.com/auth/drive";

impl Setup {
    fn files(&self) -> &FilesIntegration {
        self.state
            .integrations()
            .of(self.provider)
            .find_map(|i| (i.as_ref() as &dyn Any).downcast_ref::<FilesIntegration>())
            .expect("a document sync is registered for the provider")
    }

    /// A runner of this process with the provider's document sync job only.
    pub(crate) fn files_runner(&self) -> RunnerHandle {
        let config = RunnerConfig {
            poll_interval: Duration::from_millis(50),
            ..RunnerConfig::default()
        };
        Runner::new(self.state.db().clone(), config, self.state.sync_wake())
            .with_job(self.files().job())
            .spawn()
    }

    fn sync_path(connection: Uuid) -> String {
        format!("/api/v1/connections/{connection}/documents-sync")
    }

    async fn switch_sync(&self, connection: Uuid, body: Value) -> Value {
        self.switch_sync_as(&self.app.token, connection, body).await
    }

    /// Turns `token`'s user's document sync on or off for a record or a module.
    pub(crate) async fn switch_sync_as(&self, token: &str, connection: Uuid, body: Value) -> Value {
        let answer = self
            .app
            .send_raw(
                Method::PUT,
                &Self::sync_path(connection),
                Some(token),
                Some(body.to_string()),
                &[],
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body
    }

    async fn sync_state(&self, connection: Uuid) -> Value {
        self.sync_state_as(&self.app.token.clone(), connection)
            .await
    }

    pub(crate) async fn sync_state_as(&self, token: &str, connection: Uuid) -> Value {
        let answer = self.app.get_as(token, &Self::sync_path(connection)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body
    }

    /// The connection's runs of the document sync (as its user, `token`), newest first.
    pub(crate) async fn file_runs(&self, token: &str, connection: Uuid) -> Vec<Value> {
        let answer = self
            .app
            .get_as(
                token,
                &format!("/api/v1/connections/{connection}/runs?limit=100"),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let name = self.files().name();
        answer.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["integration"] == name)
            .cloned()
            .collect()
    }

    /// Waits (at most 30 s) until the connection has `n` document sync runs, the newest
    /// ended; answers it.
    async fn file_run(&self, connection: Uuid, n: usize) -> Value {
        self.file_run_as(&self.app.token, connection, n).await
    }

    /// [`Setup::file_run`] of `token`'s user's connection.
    pub(crate) async fn file_run_as(&self, token: &str, connection: Uuid, n: usize) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let runs = self.file_runs(token, connection).await;
            if runs.len() >= n && !matches!(runs[0]["status"].as_str(), Some("queued" | "running"))
            {
                assert_eq!(runs.len(), n, "{runs:#?}");
                return runs[0].clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no run {n} ended: {runs:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub(crate) async fn company(&self, name: &str) -> Uuid {
        let answer = self
            .app
            .post("/api/v1/companies", json!({ "name": name }))
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body["id"].as_str().unwrap().parse().unwrap()
    }

    pub(crate) async fn folder(&self, company: Uuid, name: &str) -> Uuid {
        let answer = self
            .app
            .post(
                &format!("/api/v1/companies/{company}/documents/folders"),
                json!({ "name": name }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body["id"].as_str().unwrap().parse().unwrap()
    }

    /// Uploads a file into the company's documents (in `parent`); answers the node.
    pub(crate) async fn upload(
        &self,
        company: Uuid,
        parent: Option<Uuid>,
        name: &str,
        body: &str,
    ) -> Value {
        let mut path = format!(
            "/api/v1/companies/{company}/documents/files?name={}",
            url::form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>()
        );
        if let Some(parent) = parent {
            path.push_str(&format!("&parent_id={parent}"));
        }
        let answer = self
            .app
            .send_raw(
                Method::PUT,
                &path,
                Some(&self.app.token.clone()),
                Some(body.to_string()),
                &[],
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body
    }

    /// The company's live documents: (path from the record's top, sha256 or "" for a folder).
    pub(crate) async fn documents(&self, company: Uuid) -> Vec<(String, String)> {
        let answer = self
            .app
            .get(&format!("/api/v1/companies/{company}/documents"))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let mut out = Vec::new();
        fn walk(prefix: &str, nodes: &Value, out: &mut Vec<(String, String)>) {
            for n in nodes.as_array().into_iter().flatten() {
                let path = format!("{prefix}/{}", n["name"].as_str().unwrap());
                out.push((
                    path.clone(),
                    n["sha256"].as_str().unwrap_or_default().to_string(),
                ));
                walk(&path, &n["children"], out);
            }
        }
        walk("", &answer.body["items"], &mut out);
        out.sort();
        out
    }

    /// Moves a document to the CRM's trash; answers it as trashed.
    async fn node_delete(&self, node: &Value) -> Value {
        let answer = self
            .app
            .send_raw(
                Method::DELETE,
                &format!("/api/v1/documents/{}", node["id"].as_str().unwrap()),
                Some(&self.app.token.clone()),
                None,
                &[("if-match", node["etag"].as_str().unwrap())],
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body
    }

    pub(crate) fn app_folder(&self) -> String {
        self.fake.dropbox().app_folder(APP_KEY)
    }

    /// The paths in the app folder, relative to it.
    fn dropbox_paths(&self) -> Vec<String> {
        self.dropbox_paths_of(DROPBOX_USER)
    }

    /// The paths in `email`'s app folder, relative to it.
    pub(crate) fn dropbox_paths_of(&self, email: &str) -> Vec<String> {
        let app = self.app_folder();
        self.fake
            .dropbox()
            .paths(email)
            .into_iter()
            .filter_map(|p| p.strip_prefix(&app).map(str::to_string))
            .filter(|p| !p.is_empty())
            .collect()
    }

    fn dropbox_content(&self, path: &str) -> Option<String> {
        self.dropbox_content_of(DROPBOX_USER, path)
    }

    /// The text of the file at `path` in `email`'s app folder.
    pub(crate) fn dropbox_content_of(&self, email: &str, path: &str) -> Option<String> {
        self.fake
            .dropbox()
            .file_content(email, &format!("{}{path}", self.app_folder()))
            .map(|b| String::from_utf8(b).unwrap())
    }

    /// Requests to the Dropbox API (not the OAuth endpoints), by endpoint.
    fn dropbox_api_calls(&self) -> std::collections::BTreeMap<String, usize> {
        self.fake
            .log()
            .per_endpoint()
            .into_iter()
            .filter(|(e, _)| e.contains("/2/") && !e.contains("/2/auth/"))
            .collect()
    }
}

pub(crate) fn sha256(text: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn detail(run: &Value, name: &str) -> i64 {
    run["counts"]["details"][name].as_i64().unwrap_or(0)
}

#[tokio::test]
async fn sync_with_dropbox_copies_a_record_and_keeps_it_in_sync_both_ways() {
    let s = setup_dropbox().await;
    let connection = s.connect().await;
    let acme = s.company("Acme").await;
    let offer = s.upload(acme, None, "offer.txt", "the offer").await;
    let contracts = s.folder(acme, "Contracts").await;
    s.upload(acme, Some(contracts), "signed.txt", "signed")
        .await;
    let empty = s.company("Empty Ltd").await;

    // Nothing synced yet: off, and no schedule runs.
    let state = s.sync_state(connection).await;
    assert_eq!(state["status"], "off", "{state}");
    assert_eq!(state["integration"], "dropbox");

    let on = s
        .switch_sync(
            connection,
            json!({ "record_kind": "company", "record_id": acme, "enabled": true }),
        )
        .await;
    assert_eq!(on["status"], "on", "{on}");
    assert!(on.get("authorization").is_none(), "{on}");
    s.switch_sync(
        connection,
        json!({ "record_kind": "company", "record_id": empty, "enabled": true }),
    )
    .await;
    let runner = s.files_runner();
    let first = s.file_run(connection, 1).await;
    assert_eq!(first["status"], "ok", "{first:#}");
    assert_eq!(detail(&first, "uploaded"), 2, "{first:#}");
    assert_eq!(
        s.dropbox_paths(),
        [
            "/Companies",
            "/Companies/Acme",
            "/Companies/Acme/Contracts",
            "/Companies/Acme/Contracts/signed.txt",
            "/Companies/Acme/offer.txt",
            "/Companies/Empty Ltd",
        ]
    );
    assert_eq!(
        s.dropbox_content("/Companies/Acme/offer.txt").as_deref(),
        Some("the offer")
    );
    let state = s.sync_state(connection).await;
    assert_eq!(state["linked_files"], 2, "{state}");

    // Nothing changed: one request to Dropbox (list_folder/continue), nothing written.
    s.fake.log().clear();
    let answer = s.sync_now(connection).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    let quiet = s.file_run(connection, 2).await;
    assert_eq!(quiet["status"], "ok", "{quiet:#}");
    let calls = s.dropbox_api_calls();
    assert_eq!(calls.values().sum::<usize>(), 1, "{calls:?}");
    assert!(
        calls
            .keys()
            .any(|k| k.ends_with("files/list_folder/continue")),
        "{calls:?}"
    );

    // A file added in Dropbox, and one edited there, come into the CRM.
    let app = s.app_folder();
    s.fake.dropbox().put_file(
        DROPBOX_USER,
        &format!("{app}/Companies/Acme/Contracts/annex.txt"),
        "annex",
    );
    s.fake.dropbox().put_file(
        DROPBOX_USER,
        &format!("{app}/Companies/Acme/offer.txt"),
        "the offer, v2",
    );
    s.sync_now(connection).await;
    let back = s.file_run(connection, 3).await;
    assert_eq!(back["status"], "ok", "{back:#}");
    assert_eq!(detail(&back, "downloaded"), 2, "{back:#}");
    assert_eq!(
        s.documents(acme).await,
        [
            ("/Contracts".to_string(), String::new()),
            ("/Contracts/annex.txt".to_string(), sha256("annex")),
            ("/Contracts/signed.txt".to_string(), sha256("signed")),
            ("/offer.txt".to_string(), sha256("the offer, v2")),
        ]
    );

    // A file deleted in Dropbox is never deleted in the CRM.
    assert!(s.fake.dropbox().delete(
        DROPBOX_USER,
        &format!("{app}/Companies/Acme/Contracts/signed.txt")
    ));
    s.sync_now(connection).await;
    let gone = s.file_run(connection, 4).await;
    assert_eq!(gone["status"], "ok", "{gone:#}");
    assert!(s
        .documents(acme)
        .await
        .iter()
        .any(|(p, _)| p == "/Contracts/signed.txt"));
    assert!(!s
        .dropbox_paths()
        .contains(&"/Companies/Acme/Contracts/signed.txt".to_string()));

    // A document deleted in the CRM is deleted in Dropbox.
    let offer_now = s
        .app
        .get(&format!(
            "/api/v1/documents/{}",
            offer["id"].as_str().unwrap()
        ))
        .await
        .body;
    // (The delete wakes the sync: no "sync now".)
    s.node_delete(&offer_now).await;
    let deleted = s.file_run(connection, 5).await;
    assert_eq!(deleted["status"], "ok", "{deleted:#}");
    assert_eq!(deleted["counts"]["deleted"], 1, "{deleted:#}");
    assert!(!s
        .dropbox_paths()
        .contains(&"/Companies/Acme/offer.txt".to_string()));

    // A record renamed: its folder is moved, nothing uploaded again.
    let answer = s
        .app
        .send_raw(
            Method::PATCH,
            &format!("/api/v1/companies/{acme}"),
            Some(&s.app.token.clone()),
            Some(json!({ "name": "Acme Holding" }).to_string()),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    s.fake.log().clear();
    s.sync_now(connection).await;
    let renamed = s.file_run(connection, 6).await;
    assert_eq!(renamed["status"], "ok", "{renamed:#}");
    assert_eq!(detail(&renamed, "moved"), 1, "{renamed:#}");
    assert_eq!(detail(&renamed, "uploaded"), 0, "{renamed:#}");
    let calls = s.dropbox_api_calls();
    assert!(
        calls.keys().all(|k| !k.contains("upload")),
        "nothing uploaded: {calls:?}"
    );
    assert!(s
        .dropbox_paths()
        .contains(&"/Companies/Acme Holding/Contracts/annex.txt".to_string()));
    runner.shutdown().await;
}

#[tokio::test]
async fn a_crm_upload_reaches_dropbox_without_waiting_for_the_schedule() {
    let s = setup_dropbox().await;
    let connection = s.connect().await;
    let acme = s.company("Acme").await;
    s.switch_sync(
        connection,
        json!({ "record_kind": "company", "record_id": null, "enabled": true }),
    )
    .await;
    let runner = s.files_runner();
    let first = s.file_run(connection, 1).await;
    assert_eq!(first["status"], "ok", "{first:#}");
    // The next scheduled run is an hour away; an upload brings it within seconds.
    let state = s.sync_state(connection).await;
    let next: chrono::DateTime<chrono::Utc> = state["schedule"]["next_run_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        next > chrono::Utc::now() + chrono::Duration::minutes(50),
        "{state}"
    );
    s.upload(acme, None, "new.txt", "fresh").await;
    let woken = s.file_run(connection, 2).await;
    assert_eq!(woken["status"], "ok", "{woken:#}");
    assert_eq!(woken["triggered_by"], "background", "{woken:#}");
    assert_eq!(detail(&woken, "uploaded"), 1, "{woken:#}");
    assert_eq!(
        s.dropbox_content("/Companies/Acme/new.txt").as_deref(),
        Some("fresh")
    );
    // A company made later is covered by the module's sync.
    let later = s.company("Later Inc").await;
    s.upload(later, None, "hello.txt", "hello").await;
    s.file_run(connection, 3).await;
    assert_eq!(
        s.dropbox_content("/Companies/Later Inc/hello.txt")
            .as_deref(),
        Some("hello")
    );
    runner.shutdown().await;
}

#[tokio::test]
async fn deleting_many_synced_documents_waits_for_a_review() {
    let s = setup_dropbox().await;
    let connection = s.connect().await;
    let acme = s.company("Acme").await;
    let folder = s.folder(acme, "Archive").await;
    for i in 0..12 {
        s.upload(
            acme,
            Some(folder),
            &format!("f{i}.txt"),
            &format!("file {i}"),
        )
        .await;
    }
    s.switch_sync(
        connection,
        json!({ "record_kind": "company", "record_id": acme, "enabled": true }),
    )
    .await;
    let runner = s.files_runner();
    assert_eq!(s.file_run(connection, 1).await["status"], "ok");
    // The folder goes to the CRM's trash: 12 files would be deleted in Dropbox.
    let node = s.app.get(&format!("/api/v1/documents/{folder}")).await.body;
    s.node_delete(&node).await;
    let refused = s.file_run(connection, 2).await;
    assert_eq!(refused["status"], "refused_for_review", "{refused:#}");
    assert_eq!(s.dropbox_paths().len(), 3 + 12, "{:?}", s.dropbox_paths());
    let answer = s
        .app
        .post(
            &format!("/api/v1/connections/{connection}/review"),
            json!({ "decision": "apply_anyway" }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    let applied = s.file_run(connection, 3).await;
    assert_eq!(applied["status"], "ok", "{applied:#}");
    assert_eq!(
        s.dropbox_paths(),
        ["/Companies", "/Companies/Acme"],
        "the folder and its files are deleted"
    );
    runner.shutdown().await;
}

#[tokio::test]
async fn drive_asks_for_its_scope_when_turned_on_then_copies_the_record() {
    let s = setup().await;
    let connection = s.connect().await;
    assert!(!s
        .connection(connection)
        .await
        .scopes
        .contains(&DRIVE_SCOPE.to_string()));
    let acme = s.company("Acme").await;
    s.upload(acme, None, "offer.txt", "the offer").await;
    let on = s
        .switch_sync(
            connection,
            json!({ "record_kind": "company", "record_id": acme, "enabled": true }),
        )
        .await;
    assert_eq!(on["status"], "waiting_for_authorization", "{on}");
    let link = on["authorization"]["start_url"]
        .as_str()
        .unwrap()
        .to_string();
    let query = s.consent(&s.open(&s.browser, &link).await).await;
    let page = s.callback(&query).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(s
        .connection(connection)
        .await
        .scopes
        .contains(&DRIVE_SCOPE.to_string()));
    let runner = s.files_runner();
    let first = s.file_run(connection, 1).await;
    assert_eq!(first["status"], "ok", "{first:#}");
    assert_eq!(detail(&first, "uploaded"), 1, "{first:#}");
    let files = s.fake.google().drive_files(GOOGLE_USER);
    let names: Vec<&str> = files
        .iter()
        .filter(|f| f["trashed"] != true)
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    for want in ["Threadline", "Companies", "Acme", "offer.txt"] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    // Nothing changed: one request to Drive (changes.list), nothing written.
    s.fake.log().clear();
    s.sync_now(connection).await;
    let quiet = s.file_run(connection, 2).await;
    assert_eq!(quiet["status"], "ok", "{quiet:#}");
    for count in ["created", "updated", "deleted"] {
        assert_eq!(quiet["counts"][count], 0, "{quiet:#}");
    }
    let drive_calls: std::collections::BTreeMap<String, usize> = s
        .fake
        .log()
        .per_endpoint()
        .into_iter()
        .filter(|(e, _)| e.contains("/drive/v3"))
        .collect();
    assert_eq!(drive_calls.values().sum::<usize>(), 1, "{drive_calls:?}");
    assert!(
        drive_calls.keys().any(|k| k.ends_with("/drive/v3/changes")),
        "{drive_calls:?}"
    );
    // Added in Drive: a file comes into the CRM (also a rename of it later); a Google Doc is
    // skipped, and the run says why.
    let acme_folder = files.iter().find(|f| f["name"] == "Acme").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let google = s.fake.google();
    let added = google.add_drive_file(
        GOOGLE_USER,
        Some(&acme_folder),
        "notes.txt",
        "text/plain",
        "from drive",
    );
    google.add_google_doc(
        GOOGLE_USER,
        Some(&acme_folder),
        "Plan",
        "application/vnd.google-apps.document",
    );
    s.sync_now(connection).await;
    let back = s.file_run(connection, 3).await;
    assert_eq!(back["status"], "ok", "{back:#}");
    assert_eq!(detail(&back, "downloaded"), 1, "{back:#}");
    assert_eq!(detail(&back, "skipped: not_a_file"), 1, "{back:#}");
    assert_eq!(detail(&back, "skipped: not_a_file: Plan"), 1, "{back:#}");
    google.rename_drive_file(GOOGLE_USER, &added, "notes (final).txt");
    s.sync_now(connection).await;
    let renamed = s.file_run(connection, 4).await;
    assert_eq!(detail(&renamed, "moved"), 1, "{renamed:#}");
    assert_eq!(detail(&renamed, "downloaded"), 0, "{renamed:#}");
    assert_eq!(
        s.documents(acme).await,
        [
            ("/notes (final).txt".to_string(), sha256("from drive")),
            ("/offer.txt".to_string(), sha256("the offer")),
        ]
    );

    // A CRM delete moves the file to Drive's trash.
    let node = s
        .app
        .get(&format!("/api/v1/companies/{acme}/documents"))
        .await
        .body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "offer.txt")
        .unwrap()
        .clone();
    s.node_delete(&node).await;
    let deleted = s.file_run(connection, 5).await;
    assert_eq!(deleted["status"], "ok", "{deleted:#}");
    let offer = s
        .fake
        .google()
        .drive_files(GOOGLE_USER)
        .into_iter()
        .find(|f| f["name"] == "offer.txt")
        .unwrap();
    assert_eq!(offer["trashed"], true, "{offer}");
    runner.shutdown().await;
}

impl Setup {
    /// New content for a document (If-Match its ETag); answers the node.
    async fn replace(&self, node: &Value, body: &str) -> Value {
        let answer = self
            .app
            .send_raw(
                Method::PUT,
                &format!("/api/v1/documents/{}/content", node["id"].as_str().unwrap()),
                Some(&self.app.token.clone()),
                Some(body.to_string()),
                &[("if-match", node["etag"].as_str().unwrap())],
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body
    }

    async fn node(&self, id: &str) -> Value {
        let answer = self.app.get(&format!("/api/v1/documents/{id}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body
    }

    /// A Dropbox connection with `company`'s documents synced, after its first run.
    async fn synced_dropbox(&self, company: Uuid) -> (Uuid, RunnerHandle) {
        let connection = self.connect().await;
        self.switch_sync(
            connection,
            json!({ "record_kind": "company", "record_id": company, "enabled": true }),
        )
        .await;
        let runner = self.files_runner();
        let first = self.file_run(connection, 1).await;
        assert_eq!(first["status"], "ok", "{first:#}");
        (connection, runner)
    }
}

#[tokio::test]
async fn a_file_changed_on_both_sides_keeps_both_versions_on_both_sides() {
    let s = setup_dropbox().await;
    let acme = s.company("Acme").await;
    let offer = s.upload(acme, None, "offer.txt", "base").await;
    let (connection, runner) = s.synced_dropbox(acme).await;
    let app = s.app_folder();
    s.fake.dropbox().put_file(
        DROPBOX_USER,
        &format!("{app}/Companies/Acme/offer.txt"),
        "theirs",
    );
    // The CRM edit wakes the sync.
    s.replace(&offer, "ours").await;
    let run = s.file_run(connection, 2).await;
    assert_eq!(run["status"], "ok", "{run:#}");
    assert_eq!(run["counts"]["conflicts"], 1, "{run:#}");
    let docs = s.documents(acme).await;
    assert_eq!(docs.len(), 2, "{docs:?}");
    assert_eq!(docs[1], ("/offer.txt".to_string(), sha256("ours")));
    let (copy, copy_sha) = &docs[0];
    assert!(
        copy.starts_with("/offer (conflict from Dropbox ") && copy.ends_with(").txt"),
        "{copy}"
    );
    assert_eq!(copy_sha, &sha256("theirs"));
    assert_eq!(
        s.dropbox_content("/Companies/Acme/offer.txt").as_deref(),
        Some("ours")
    );
    assert_eq!(
        s.dropbox_content(&format!("/Companies/Acme{copy}"))
            .as_deref(),
        Some("theirs")
    );
    // Converged: the next run changes nothing.
    s.sync_now(connection).await;
    let quiet = s.file_run(connection, 3).await;
    assert_eq!(quiet["counts"]["created"], 0, "{quiet:#}");
    assert_eq!(quiet["counts"]["updated"], 0, "{quiet:#}");
    runner.shutdown().await;
}

#[tokio::test]
async fn a_reset_cursor_lists_again_without_duplicating_or_deleting() {
    let s = setup_dropbox().await;
    let acme = s.company("Acme").await;
    s.upload(acme, None, "a.txt", "a").await;
    s.upload(acme, None, "b.txt", "b").await;
    let (connection, runner) = s.synced_dropbox(acme).await;
    let app = s.app_folder();
    s.fake
        .dropbox()
        .put_file(DROPBOX_USER, &format!("{app}/Companies/Acme/c.txt"), "c");
    s.fake.dropbox().expire_cursors(DROPBOX_USER);
    s.fake.log().clear();
    s.sync_now(connection).await;
    let run = s.file_run(connection, 2).await;
    assert_eq!(run["status"], "ok", "{run:#}");
    let calls = s.dropbox_api_calls();
    assert!(
        calls.keys().any(|k| k.ends_with("files/list_folder")),
        "a full listing after the reset: {calls:?}"
    );
    assert_eq!(detail(&run, "downloaded"), 1, "{run:#}");
    assert_eq!(detail(&run, "uploaded"), 0, "{run:#}");
    assert_eq!(run["counts"]["deleted"], 0, "{run:#}");
    assert_eq!(
        s.documents(acme).await,
        [
            ("/a.txt".to_string(), sha256("a")),
            ("/b.txt".to_string(), sha256("b")),
            ("/c.txt".to_string(), sha256("c")),
        ]
    );
    assert_eq!(
        s.dropbox_paths(),
        [
            "/Companies",
            "/Companies/Acme",
            "/Companies/Acme/a.txt",
            "/Companies/Acme/b.txt",
            "/Companies/Acme/c.txt",
        ]
    );
    runner.shutdown().await;
}

#[tokio::test]
async fn reconnecting_dropbox_resumes_without_uploading_again() {
    let s = setup_dropbox().await;
    let acme = s.company("Acme").await;
    let doc = s.upload(acme, None, "a.txt", "a").await;
    let (connection, runner) = s.synced_dropbox(acme).await;
    s.disconnect(connection).await;
    // Files stay on both sides.
    assert_eq!(
        s.dropbox_content("/Companies/Acme/a.txt").as_deref(),
        Some("a")
    );
    assert_eq!(s.documents(acme).await.len(), 1);
    // Deleted in the CRM's trash and restored while disconnected: still the same file.
    let live = s.node(doc["id"].as_str().unwrap()).await;
    let trashed = s.node_delete(&live).await;
    let answer = s
        .app
        .send_raw(
            Method::POST,
            &format!("/api/v1/documents/{}/restore", doc["id"].as_str().unwrap()),
            Some(&s.app.token.clone()),
            None,
            &[("if-match", trashed["etag"].as_str().unwrap())],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    s.upload(acme, None, "b.txt", "b").await;
    s.fake.log().clear();
    let again = s.connect().await;
    assert_eq!(again, connection, "the same connection, connected again");
    // Connecting again resumes the sync, due at once.
    let run = s.file_run(connection, 2).await;
    assert_eq!(run["status"], "ok", "{run:#}");
    assert_eq!(detail(&run, "uploaded"), 1, "only the new file: {run:#}");
    let uploads: usize = s
        .dropbox_api_calls()
        .iter()
        .filter(|(k, _)| k.contains("upload"))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(uploads, 1);
    assert_eq!(
        s.dropbox_content("/Companies/Acme/b.txt").as_deref(),
        Some("b")
    );
    runner.shutdown().await;
}
