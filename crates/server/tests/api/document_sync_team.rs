//! One company's documents synced by two users of an organisation, each to their own
//! Dropbox account, through the API and the server's runner: what one of them changes in
//! their Dropbox (new files, new content, a rename) reaches the CRM and then the other's
//! Dropbox, nothing is doubled on any side (no `name (2).ext`, no conflict copy), the same
//! file dropped into both Dropboxes at once is one document, and a file deleted in one
//! Dropbox stays in the CRM and in the other Dropbox.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::document_sync::{detail, sha256};
use crate::google_account::*;

/// Ben's own Dropbox account (Ann's is [`DROPBOX_USER`]).
const BEN_DROPBOX: &str = "ben.dropbox@example.com";

/// Ann (the app's token) and her colleague Ben, each with their own Dropbox connected and
/// syncing the company Acme, after the first run of each.
struct Team {
    s: Setup,
    ben: String,
    acme: Uuid,
    /// Ann's connection.
    ann_sync: Uuid,
    /// Ben's connection.
    ben_sync: Uuid,
    /// Runs each connection has had so far.
    runs: std::cell::Cell<(usize, usize)>,
}

impl Team {
    async fn new() -> (Team, threadline_server::sync::RunnerHandle) {
        let s = setup_dropbox().await;
        let ben = s.app.colleague("ben@ourco.com").await;
        let acme = s.company("Acme").await;
        s.upload(acme, None, "offer.txt", "the offer").await;
        let contracts = s.folder(acme, "Contracts").await;
        s.upload(acme, Some(contracts), "signed.txt", "signed")
            .await;

        let ann_sync = s.connect().await;
        // Ben connects his own Dropbox, signed in to it in his browser.
        s.fake.dropbox().add_account(BEN_DROPBOX);
        s.fake.dropbox().sign_in(BEN_DROPBOX);
        let browser = Browser::default();
        let link = s.start_link(&ben).await;
        let query = s.consent(&s.open(&browser, &link).await).await;
        let page = s.callback_in(&browser, &query).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let list = s.app.get_as(&ben, "/api/v1/connections").await;
        let items = list.body["items"].as_array().unwrap();
        assert_eq!(
            items.len(),
            1,
            "Ben sees his connection only: {}",
            list.body
        );
        let ben_sync: Uuid = items[0]["id"].as_str().unwrap().parse().unwrap();
        assert_ne!(ben_sync, ann_sync);

        let on = json!({ "record_kind": "company", "record_id": acme, "enabled": true });
        s.switch_sync_as(&s.app.token, ann_sync, on.clone()).await;
        s.switch_sync_as(&ben, ben_sync, on).await;
        let runner = s.files_runner();
        let team = Team {
            s,
            ben,
            acme,
            ann_sync,
            ben_sync,
            runs: std::cell::Cell::new((0, 0)),
        };
        for run in [team.ann_ran().await, team.ben_ran().await] {
            assert_eq!(run["status"], "ok", "{run:#}");
            assert_eq!(detail(&run, "uploaded"), 2, "{run:#}");
        }
        (team, runner)
    }

    /// Waits for Ann's next run to end; answers it.
    async fn ann_ran(&self) -> serde_json::Value {
        let (ann, ben) = self.runs.get();
        self.runs.set((ann + 1, ben));
        let token = self.s.app.token.clone();
        self.s.file_run_as(&token, self.ann_sync, ann + 1).await
    }

    /// Waits for Ben's next run to end; answers it.
    async fn ben_ran(&self) -> serde_json::Value {
        let (ann, ben) = self.runs.get();
        self.runs.set((ann, ben + 1));
        self.s.file_run_as(&self.ben, self.ben_sync, ben + 1).await
    }

    /// "Sync now" for Ann's connection, then its run, which must succeed.
    async fn sync_ann(&self) -> serde_json::Value {
        let answer = self.s.sync_now(self.ann_sync).await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
        let run = self.ann_ran().await;
        assert_eq!(run["status"], "ok", "{run:#}");
        run
    }

    /// "Sync now" for Ben's connection, then its run, which must succeed.
    async fn sync_ben(&self) -> serde_json::Value {
        let answer = self.s.sync_now_as(&self.ben, self.ben_sync).await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
        let run = self.ben_ran().await;
        assert_eq!(run["status"], "ok", "{run:#}");
        run
    }

    /// Writes a file in `email`'s Dropbox, `path` relative to the app folder.
    fn put(&self, email: &str, path: &str, text: &str) {
        let full = format!("{}{path}", self.s.app_folder());
        self.s.fake.dropbox().put_file(email, &full, text);
    }

    /// `email`'s app folder under Acme's folder: (path from it, text or "" for a folder).
    fn dropbox(&self, email: &str) -> Vec<(String, String)> {
        self.s
            .dropbox_paths_of(email)
            .into_iter()
            .filter_map(|p| {
                let path = p.strip_prefix("/Companies/Acme")?.to_string();
                if path.is_empty() {
                    return None;
                }
                let text = self.s.dropbox_content_of(email, &p).unwrap_or_default();
                Some((path, text))
            })
            .collect()
    }

    /// Acme's live documents: (path from its top, text as in `texts`, or "" for a folder);
    /// the CRM answers hashes, told back to texts by the texts the test wrote.
    async fn crm(&self, texts: &[&str]) -> Vec<(String, String)> {
        let mut docs: Vec<(String, String)> = self
            .s
            .documents(self.acme)
            .await
            .into_iter()
            .map(|(path, sha)| {
                let text = match sha.as_str() {
                    "" => String::new(),
                    sha => texts
                        .iter()
                        .find(|t| sha256(t) == sha)
                        .unwrap_or_else(|| panic!("{path}: unexpected content {sha}"))
                        .to_string(),
                };
                (path, text)
            })
            .collect();
        docs.sort();
        docs
    }

    /// Waits (at most 30 s) until neither sync has a run going or due soon (one sync's
    /// imports wake the other's), and counts the runs there were.
    async fn settle(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let soon = chrono::Utc::now() + chrono::Duration::minutes(30);
        loop {
            let mut idle = true;
            let mut counts = Vec::new();
            for (token, connection) in [
                (self.s.app.token.clone(), self.ann_sync),
                (self.ben.clone(), self.ben_sync),
            ] {
                let runs = self.s.file_runs(&token, connection).await;
                let going = runs
                    .iter()
                    .any(|r| matches!(r["status"].as_str(), Some("queued" | "running")));
                let state = self.s.sync_state_as(&token, connection).await;
                let next: chrono::DateTime<chrono::Utc> = state["schedule"]["next_run_at"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                idle &= !going && next > soon;
                counts.push(runs.len());
            }
            if idle {
                self.runs.set((counts[0], counts[1]));
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the syncs did not settle"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A round of both syncs changes nothing anywhere.
    async fn quiet(&self) {
        for run in [self.sync_ann().await, self.sync_ben().await] {
            for count in ["created", "updated", "deleted", "conflicts"] {
                assert_eq!(run["counts"][count], 0, "{count}: {run:#}");
            }
        }
    }
}

fn owned(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect()
}

#[tokio::test]
async fn two_users_syncing_one_company_to_their_own_dropbox_converge() {
    let (t, runner) = Team::new().await;
    let mut want = vec![
        ("/Contracts", ""),
        ("/Contracts/signed.txt", "signed"),
        ("/offer.txt", "the offer"),
    ];
    assert_eq!(t.dropbox(DROPBOX_USER), owned(&want));
    assert_eq!(t.dropbox(BEN_DROPBOX), owned(&want));

    // Ann edits a file and adds one in her Dropbox: into the CRM, then into Ben's Dropbox.
    t.put(DROPBOX_USER, "/Companies/Acme/offer.txt", "the offer, v2");
    t.put(DROPBOX_USER, "/Companies/Acme/Contracts/annex.txt", "annex");
    let run = t.sync_ann().await;
    assert_eq!(detail(&run, "downloaded"), 2, "{run:#}");
    want = vec![
        ("/Contracts", ""),
        ("/Contracts/annex.txt", "annex"),
        ("/Contracts/signed.txt", "signed"),
        ("/offer.txt", "the offer, v2"),
    ];
    let texts = ["the offer", "the offer, v2", "annex", "signed"];
    assert_eq!(t.crm(&texts).await, owned(&want));
    // Ann's run changed the company's documents: Ben's sync runs by itself, within seconds.
    let run = t.ben_ran().await;
    assert_eq!(run["status"], "ok", "{run:#}");
    assert_eq!(run["triggered_by"], "background", "{run:#}");
    assert_eq!(detail(&run, "uploaded"), 2, "{run:#}");
    assert_eq!(run["counts"]["conflicts"], 0, "{run:#}");
    assert_eq!(t.dropbox(BEN_DROPBOX), owned(&want));
    assert_eq!(t.dropbox(DROPBOX_USER), owned(&want));

    // Ben renames a file and edits another in his Dropbox: a move and new content in the
    // CRM, then in Ann's Dropbox (moved there, not uploaded again).
    let app = t.s.app_folder();
    t.s.fake.dropbox().move_path(
        BEN_DROPBOX,
        &format!("{app}/Companies/Acme/offer.txt"),
        &format!("{app}/Companies/Acme/offer-final.txt"),
    );
    t.put(
        BEN_DROPBOX,
        "/Companies/Acme/Contracts/signed.txt",
        "countersigned",
    );
    let run = t.sync_ben().await;
    assert_eq!(detail(&run, "moved"), 1, "{run:#}");
    assert_eq!(detail(&run, "downloaded"), 1, "{run:#}");
    want = vec![
        ("/Contracts", ""),
        ("/Contracts/annex.txt", "annex"),
        ("/Contracts/signed.txt", "countersigned"),
        ("/offer-final.txt", "the offer, v2"),
    ];
    let texts = ["the offer, v2", "annex", "countersigned"];
    assert_eq!(t.crm(&texts).await, owned(&want));
    let run = t.ann_ran().await;
    assert_eq!(run["status"], "ok", "{run:#}");
    assert_eq!(detail(&run, "moved"), 1, "{run:#}");
    assert_eq!(detail(&run, "uploaded"), 1, "only the new content: {run:#}");
    assert_eq!(t.dropbox(DROPBOX_USER), owned(&want));
    assert_eq!(t.dropbox(BEN_DROPBOX), owned(&want));

    // Ann deletes a file in her Dropbox: it stays in the CRM and in Ben's Dropbox, and is
    // not pushed back into hers.
    assert!(t.s.fake.dropbox().delete(
        DROPBOX_USER,
        &format!("{app}/Companies/Acme/Contracts/annex.txt")
    ));
    let run = t.sync_ann().await;
    assert_eq!(run["counts"]["deleted"], 0, "{run:#}");
    t.sync_ben().await;
    assert_eq!(t.crm(&texts).await, owned(&want));
    assert_eq!(t.dropbox(BEN_DROPBOX), owned(&want));
    want.remove(1);
    assert_eq!(t.dropbox(DROPBOX_USER), owned(&want));

    t.quiet().await;
    runner.shutdown().await;
}

#[tokio::test]
async fn the_same_file_dropped_into_both_dropboxes_at_once_is_one_document() {
    let (t, runner) = Team::new().await;
    t.put(
        DROPBOX_USER,
        "/Companies/Acme/Contracts/brochure.txt",
        "brochure",
    );
    t.put(
        BEN_DROPBOX,
        "/Companies/Acme/Contracts/brochure.txt",
        "brochure",
    );
    // Both syncs at once: each imports the file, or finds the other's import.
    let answers = futures_util::future::join(
        t.s.sync_now(t.ann_sync),
        t.s.sync_now_as(&t.ben, t.ben_sync),
    )
    .await;
    assert_eq!(answers.0.status, StatusCode::ACCEPTED, "{}", answers.0.body);
    assert_eq!(answers.1.status, StatusCode::ACCEPTED, "{}", answers.1.body);
    // The runs that follow: the two asked for, and one woken by the other's import, which
    // may go at once; wait until both syncs are idle, then look at all of them.
    let (ann_before, ben_before) = t.runs.get();
    t.settle().await;
    let ann_runs = t.s.file_runs(&t.s.app.token, t.ann_sync).await;
    let ben_runs = t.s.file_runs(&t.ben, t.ben_sync).await;
    let new_runs: Vec<&serde_json::Value> = ann_runs[..ann_runs.len() - ann_before]
        .iter()
        .chain(&ben_runs[..ben_runs.len() - ben_before])
        .collect();
    assert!(new_runs.len() >= 2, "{new_runs:#?}");
    for run in &new_runs {
        assert_eq!(run["status"], "ok", "{run:#}");
        assert_eq!(run["counts"]["conflicts"], 0, "{run:#}");
        assert_eq!(detail(run, "uploaded"), 0, "{run:#}");
    }
    assert_eq!(
        new_runs
            .iter()
            .map(|r| detail(r, "downloaded"))
            .sum::<i64>(),
        1,
        "one of them imports it: {new_runs:#?}"
    );
    let want = owned(&[
        ("/Contracts", ""),
        ("/Contracts/brochure.txt", "brochure"),
        ("/Contracts/signed.txt", "signed"),
        ("/offer.txt", "the offer"),
    ]);
    let texts = ["brochure", "signed", "the offer"];
    assert_eq!(t.crm(&texts).await, want);
    assert_eq!(t.dropbox(DROPBOX_USER), want);
    assert_eq!(t.dropbox(BEN_DROPBOX), want);
    t.quiet().await;
    runner.shutdown().await;
}
