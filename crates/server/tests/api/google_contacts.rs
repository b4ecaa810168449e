//! The Google Contacts export through the API, as a user goes through it: connect Google
//! (for the calendar: the Contacts scope is not asked for), turn the export on (the answer
//! sends the browser to Google for the Contacts scope: incremental authorization), the runs
//! that follow (the server's runner with the registry's job, against the local People API),
//! "sync now", turning it off (the contacts stay in Google) and on again (found again, not
//! duplicated), and a mass deletion held for review.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use threadline_google_contacts::GoogleContacts;
use threadline_server::sync::{Integration, Runner, RunnerConfig, RunnerHandle};
use uuid::Uuid;

use crate::google_account::*;

const CONTACTS_SCOPE: &str = "https://www.googleapis.com/auth/contacts";
const CALENDAR_SCOPE: &str = "https://www.googleapis.com/auth/calendar";

impl Setup {
    fn export_path(&self, connection: Uuid) -> String {
        format!("/api/v1/connections/{connection}/contacts-export")
    }

    async fn export_state(&self, connection: Uuid) -> Value {
        let answer = self.app.get(&self.export_path(connection)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body
    }

    async fn switch_export(&self, connection: Uuid, enabled: bool) -> Value {
        let answer = self
            .app
            .send_raw(
                Method::PUT,
                &self.export_path(connection),
                Some(&self.app.token.clone()),
                Some(json!({ "enabled": enabled }).to_string()),
                &[],
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body
    }

    /// A runner of this process with the registry's Contacts job only (the calendar's
    /// schedule, also due after the connect, is not its business).
    fn contacts_runner(&self) -> RunnerHandle {
        let config = RunnerConfig {
            poll_interval: Duration::from_millis(50),
            ..RunnerConfig::default()
        };
        Runner::new(self.state.db().clone(), config, self.state.sync_wake())
            .with_job(self.state.integration::<GoogleContacts>().unwrap().job())
            .spawn()
    }

    /// The connection's `google_contacts` runs, newest first.
    async fn contacts_runs(&self, connection: Uuid) -> Vec<Value> {
        let answer = self
            .app
            .get(&format!("/api/v1/connections/{connection}/runs?limit=100"))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["integration"] == "google_contacts")
            .cloned()
            .collect()
    }

    /// Waits (at most 20 s) until the connection has `n` Contacts runs, the newest ended;
    /// answers it.
    async fn contacts_run(&self, connection: Uuid, n: usize) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let runs = self.contacts_runs(connection).await;
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

    /// The Google account's contacts carrying a Threadline id, by that id.
    fn exported_people(&self) -> Vec<(String, Value)> {
        self.fake
            .google()
            .people_contacts(GOOGLE_USER)
            .into_iter()
            .filter_map(|p| {
                let id = p["clientData"].as_array()?.iter().find_map(|d| {
                    (d["key"] == "threadline.contact_id")
                        .then(|| d["value"].as_str().unwrap().to_string())
                })?;
                Some((id, p))
            })
            .collect()
    }

    /// The CRM's contact ids, sorted.
    async fn contact_ids(&self) -> Vec<String> {
        let answer = self.app.get("/api/v1/contacts?limit=100").await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let mut ids: Vec<String> = answer.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    }

    /// The granted scopes of the connection.
    async fn scopes(&self, connection: Uuid) -> Vec<String> {
        self.connection(connection).await.scopes
    }
}

/// Every CRM contact exactly once in Google, each in the group `group`.
fn assert_exported_once(people: &[(String, Value)], contacts: &[String], group: &str) {
    let mut ids: Vec<&str> = people.iter().map(|(id, _)| id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, contacts, "one person per CRM contact");
    for (id, person) in people {
        let in_group = person["memberships"].as_array().is_some_and(|m| {
            m.iter()
                .any(|m| m["contactGroupMembership"]["contactGroupResourceName"] == group)
        });
        assert!(in_group, "{id} not in {group}: {person}");
    }
}

#[tokio::test]
async fn turning_the_export_on_asks_for_contacts_then_exports_and_off_keeps_them() {
    let s = setup().await;
    s.app
        .contact(
            "Bob",
            "Baker",
            &["bob@acme.com", "b.baker@example.org"],
            Some(crate::common::new_company("Acme", Some("acme.com"))),
        )
        .await;
    s.app
        .contact("Cleo", "Dune", &["cleo@dune.example"], None)
        .await;
    s.app
        .contact("Eve", "Field", &["eve@field.example"], None)
        .await;
    let contacts = s.contact_ids().await;

    // Connecting asks for the calendar, not for the user's contacts.
    let connection = s.connect().await;
    let scopes = s.scopes(connection).await;
    assert!(scopes.iter().any(|x| x == CALENDAR_SCOPE), "{scopes:?}");
    assert!(!scopes.iter().any(|x| x == CONTACTS_SCOPE), "{scopes:?}");
    let state = s.export_state(connection).await;
    assert_eq!(state["status"], "off", "{state}");
    assert_eq!(state["scope_granted"], false);
    assert_eq!(state["schedule"], Value::Null);

    // Turning it on: the answer sends the browser to Google for the Contacts scope.
    let on = s.switch_export(connection, true).await;
    assert_eq!(on["status"], "waiting_for_authorization", "{on}");
    let start = on["authorization"]["start_url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(start.starts_with(START), "{start}");
    let consent = s.open(&s.browser, &start).await;
    let asked: Vec<String> = consent
        .query_pairs()
        .find(|(k, _)| k == "scope")
        .unwrap()
        .1
        .split(' ')
        .map(str::to_string)
        .collect();
    assert!(asked.iter().any(|x| x == CONTACTS_SCOPE), "{asked:?}");
    let incremental = consent
        .query_pairs()
        .any(|(k, v)| k == "include_granted_scopes" && v == "true");
    assert!(incremental, "{consent}");
    let page = s.callback(&s.consent(&consent).await).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    // Both scopes now (Google kept the calendar's), and the export is due.
    let scopes = s.scopes(connection).await;
    for want in [CALENDAR_SCOPE, CONTACTS_SCOPE] {
        assert!(scopes.iter().any(|x| x == want), "{want} in {scopes:?}");
    }
    let state = s.export_state(connection).await;
    assert_eq!(state["status"], "on", "{state}");
    assert_eq!(state["schedule"]["turned_off"], false, "{state}");
    assert!(state["schedule"]["next_run_at"].is_string(), "{state}");

    // The runner runs it: every contact once, in our group.
    let runner = s.contacts_runner();
    let run = s.contacts_run(connection, 1).await;
    assert_eq!(run["status"], "ok", "{run}");
    assert_eq!(run["counts"]["created"], 3, "{run}");
    let state = s.export_state(connection).await;
    let group = state["group"].as_str().unwrap().to_string();
    assert_eq!(state["exported"], 3, "{state}");
    assert_exported_once(&s.exported_people(), &contacts, &group);

    // "Sync now" with nothing changed: a run that changes nothing.
    let answer = s.sync_now(connection).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    let requests_before = s.fake.log().total();
    let run = s.contacts_run(connection, 2).await;
    assert_eq!(run["status"], "ok", "{run}");
    assert_eq!(run["counts"]["created"], 0, "{run}");
    assert_eq!(run["counts"]["updated"], 0, "{run}");
    assert_eq!(run["counts"]["unchanged"], 3, "{run}");
    let people_requests = s.fake.log().requests()[requests_before..]
        .iter()
        .filter(|e| e.path.starts_with("/v1/"))
        .count();
    assert!(people_requests <= 1, "{people_requests} requests");

    // Off: the contacts stay in Google, and the answer says so; "sync now" leaves it alone.
    let off = s.switch_export(connection, false).await;
    assert_eq!(off["status"], "off", "{off}");
    assert_eq!(off["schedule"]["turned_off"], true, "{off}");
    assert_eq!(off["schedule"]["next_run_at"], Value::Null, "{off}");
    let message = off["message"].as_str().unwrap();
    assert!(
        message.contains("The 3 contacts exported so far stay"),
        "{message}"
    );
    let answer = s.sync_now(connection).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    let integrations: Vec<&str> = answer.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["integration"].as_str().unwrap())
        .collect();
    assert_eq!(integrations, ["google_calendar"], "{}", answer.body);
    assert_exported_once(&s.exported_people(), &contacts, &group);

    // On again (the scope is there now): due at once; what is in Google is found again
    // (listed in full, by its link), not copied twice.
    s.app
        .contact("Dora", "Explorer", &["dora@example.com"], None)
        .await;
    let contacts = s.contact_ids().await;
    let on = s.switch_export(connection, true).await;
    assert_eq!(on["status"], "on", "{on}");
    assert!(on.get("authorization").is_none(), "{on}");
    let run = s.contacts_run(connection, 3).await;
    assert_eq!(run["status"], "ok", "{run}");
    assert_eq!(run["counts"]["created"], 1, "{run}");
    assert_eq!(run["counts"]["unchanged"], 3, "{run}");
    assert_exported_once(&s.exported_people(), &contacts, &group);

    // Disconnecting keeps them too, and the export's state says so.
    runner.shutdown().await;
    s.disconnect(connection).await;
    assert_exported_once(&s.exported_people(), &contacts, &group);
    let state = s.export_state(connection).await;
    let message = state["message"].as_str().unwrap();
    assert!(message.contains("disconnected"), "{message}");
    assert!(
        message.contains("The 4 contacts exported so far stay"),
        "{message}"
    );
}

#[tokio::test]
async fn a_mass_deletion_waits_for_a_review_then_applies() {
    let s = setup().await;
    let mut ids = Vec::new();
    for i in 0..8 {
        let contact = s
            .app
            .contact(
                "Person",
                &format!("No{i}"),
                &[&format!("p{i}@example.com")],
                None,
            )
            .await;
        ids.push((
            contact["id"].as_str().unwrap().to_string(),
            contact["version"].as_i64().unwrap(),
        ));
    }
    let connection = s.connect().await;
    let on = s.switch_export(connection, true).await;
    let start = on["authorization"]["start_url"]
        .as_str()
        .unwrap()
        .to_string();
    let consent = s.open(&s.browser, &start).await;
    let page = s.callback(&s.consent(&consent).await).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let runner = s.contacts_runner();
    let run = s.contacts_run(connection, 1).await;
    assert_eq!(run["counts"]["created"], 8, "{run}");

    // Five of eight deleted in the CRM: more than half of what is exported (and at least
    // five: the guard's floor).
    for (id, version) in &ids[..5] {
        let tag = format!("\"{version}\"");
        let answer = s
            .app
            .send_raw(
                Method::DELETE,
                &format!("/api/v1/contacts/{id}"),
                Some(&s.app.token.clone()),
                None,
                &[("if-match", &tag)],
            )
            .await;
        assert!(answer.status.is_success(), "{}", answer.body);
    }
    let answer = s.sync_now(connection).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    let run = s.contacts_run(connection, 2).await;
    assert_eq!(run["status"], "refused_for_review", "{run}");
    assert_eq!(
        s.exported_people().len(),
        8,
        "nothing deleted before the review"
    );
    let sync = s
        .app
        .get(&format!("/api/v1/connections/{connection}/sync"))
        .await;
    assert_eq!(sync.body["state"], "degraded", "{}", sync.body);

    // The user confirms: the next run (only it) passes the guard.
    let answer = s
        .app
        .post(
            &format!("/api/v1/connections/{connection}/review"),
            json!({ "decision": "apply_anyway" }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    let run = s.contacts_run(connection, 3).await;
    assert_eq!(run["status"], "ok", "{run}");
    assert_eq!(run["counts"]["deleted"], 5, "{run}");
    let mut left: Vec<String> = s.exported_people().into_iter().map(|(id, _)| id).collect();
    left.sort();
    let mut kept: Vec<String> = ids[5..].iter().map(|(id, _)| id.clone()).collect();
    kept.sort();
    assert_eq!(left, kept);
    runner.shutdown().await;
}
