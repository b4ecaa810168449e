//! One email tracked by several users of an organisation: each user's tracking is their own
//! entry, written and deleted only by them; colleagues never hard-delete, write into or
//! read the content of another user's private entry (the three reproductions of the
//! hardening issue, each in both directions), and reads show one entry per email.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{track_body, TestApp};
use crate::records::send_v;

/// Two users of one organisation: Ann (the app's owner token) and her colleague Ben.
struct Team {
    app: TestApp,
    ann: String,
    ben: String,
    contact: Value,
}

impl Team {
    async fn new() -> Team {
        let app = TestApp::new().await;
        let ben = app.colleague("ben@ourco.com").await;
        let contact = app.bob_at_acme().await;
        let ann = app.token.clone();
        Team {
            app,
            ann,
            ben,
            contact,
        }
    }

    /// `(victim, attacker)` in both directions.
    fn pairs(&self) -> [(&str, &str); 2] {
        [(&self.ann, &self.ben), (&self.ben, &self.ann)]
    }

    async fn track(&self, token: &str, body: Value) -> Value {
        let answer = self
            .app
            .post_as(token, "/api/v1/tracked-emails", body)
            .await;
        assert!(answer.status.is_success(), "{}", answer.body);
        answer.body["tracked_email"].clone()
    }

    async fn get(&self, token: &str, id: &Value) -> Value {
        let id = id.as_str().unwrap();
        let answer = self
            .app
            .get_as(token, &format!("/api/v1/tracked-emails/{id}"))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body
    }

    /// Everything `token` can read about the contact's emails: the timeline, the bar's
    /// state of `ids`, the whole organisation's list and the changes feed.
    async fn everything_seen_by(&self, token: &str, ids: &[&str]) -> String {
        let contact = self.contact["id"].as_str().unwrap();
        let timeline = self
            .app
            .get_as(
                token,
                &format!("/api/v1/tracked-emails?record_kind=contact&record_id={contact}"),
            )
            .await;
        let all = self.app.get_as(token, "/api/v1/tracked-emails").await;
        let state = self
            .app
            .post_as(
                token,
                "/api/v1/tracked-emails/state",
                json!({ "messages": [{ "ids": ids }] }),
            )
            .await;
        let feed = self.app.get_as(token, "/api/v1/changes").await;
        format!(
            "{} {} {} {}",
            timeline.body, all.body, state.body, feed.body
        )
    }
}

/// A private email with content a colleague must never read; `n` tells the secrets of one
/// test's rounds apart.
fn secret(ids: &[&str], contact: &Value, rfc: &str, n: usize) -> Value {
    let mut body = track_body(ids, &[contact]);
    body["rfc_message_id"] = json!(rfc);
    body["subject"] = json!(format!("Secret subject {n}"));
    body["body_text"] = json!(format!("Secret body text {n}"));
    body["html_body"] = json!(format!("<p>Secret html {n}</p>"));
    body["visibility"] = json!("private");
    body
}

/// None of the secrets of round `n` is in `text`.
fn assert_no_secret(text: &str, n: usize) {
    for s in ["Secret subject", "Secret body text", "Secret html"] {
        let s = format!("{s} {n}");
        assert!(!text.contains(&s), "{s:?} leaked in {text}");
    }
}

/// Reproduction 1: a colleague claims the Message-ID of a private email (learnt from a
/// reply's `References`) when tracking his own email again. Before, the merge hard-deleted
/// the private entry and took its ids and links.
#[tokio::test]
async fn claiming_a_private_emails_message_id_neither_erases_nor_takes_it() {
    let team = Team::new().await;
    for (n, (victim, attacker)) in team.pairs().into_iter().enumerate() {
        let x_id = format!("bbbb00000000000{n}");
        let z_id = format!("aaaa00000000000{n}");
        let z_rfc = format!("<z{n}@example.test>");
        let x = team
            .track(attacker, track_body(&[&x_id], &[&team.contact]))
            .await;
        let z = team
            .track(victim, secret(&[&z_id], &team.contact, &z_rfc, n))
            .await;
        let z_before = team.get(victim, &z["id"]).await;

        let mut claim = track_body(&[&x_id], &[&team.contact]);
        claim["rfc_message_id"] = json!(z_rfc);
        let claimed = team
            .app
            .post_as(attacker, "/api/v1/tracked-emails", claim)
            .await;
        assert_eq!(claimed.status, StatusCode::OK, "{}", claimed.body);
        assert_eq!(claimed.body["tracked_email"]["id"], x["id"]);
        assert_no_secret(&claimed.body.to_string(), n);

        // Z is whole, live, the victim's, with its ids and links.
        let z_after = team.get(victim, &z["id"]).await;
        assert_eq!(z_after, z_before, "the private entry changed");
        assert!(z_after.get("deleted_at").is_none());
        let z_ids = z_after["message_ids"].to_string();
        assert!(z_ids.contains(&z_id) && z_ids.contains(&z_rfc[1..z_rfc.len() - 1]));
        // The attacker's entry kept its own content and took nothing of Z's.
        let x_after = team.get(attacker, &x["id"]).await;
        assert_eq!(x_after["subject"], "Quarterly numbers");
        assert!(!x_after["message_ids"].to_string().contains(&z_id));
        // And the attacker still may not delete Z.
        let v = z_after["version"].as_i64().unwrap();
        let tag = format!("\"{v}\"");
        let path = format!("/api/v1/tracked-emails/{}", z["id"].as_str().unwrap());
        team.app
            .send_raw(
                Method::DELETE,
                &path,
                Some(attacker),
                None,
                &[("if-match", tag.as_str())],
            )
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden", None);
        assert_no_secret(&team.everything_seen_by(attacker, &[&z_id, &x_id]).await, n);
    }
    assert_eq!(team.app.count("tracked_emails").await, 4);
}

/// Reproduction 2: a colleague first tracks a bare entry under a Message-ID he knows; when
/// the owner of the email tracks it privately, with its content, nothing of it reaches the
/// colleague's entry, and the owner's entry is hers to change and delete.
#[tokio::test]
async fn private_content_never_fills_a_colleagues_entry() {
    let team = Team::new().await;
    for (n, (tracker, colleague)) in team.pairs().into_iter().enumerate() {
        let rfc = format!("<m{n}@example.test>");
        let own_id = format!("cccc00000000000{n}");
        let bare = team
            .track(
                colleague,
                json!({
                    "gmail_message_id": rfc,
                    "direction": "incoming",
                    "contact_ids": [team.contact["id"]],
                }),
            )
            .await;
        let mine = team
            .track(tracker, secret(&[&own_id], &team.contact, &rfc, n))
            .await;
        assert_ne!(mine["id"], bare["id"], "an entry of the tracker's own");

        let bare_after = team.get(colleague, &bare["id"]).await;
        assert_eq!(bare_after["subject"], "");
        assert_eq!(bare_after["body_text"], Value::Null);
        assert_eq!(bare_after["html_body"], Value::Null);
        assert_eq!(bare_after["gmail_thread_id"], Value::Null);
        assert_no_secret(&bare_after.to_string(), n);
        assert_no_secret(
            &team.everything_seen_by(colleague, &[&rfc, &own_id]).await,
            n,
        );
        assert_eq!(team.get(colleague, &mine["id"]).await["redacted"], true);

        // The tracker reads, shares and deletes her own entry.
        let whole = team.get(tracker, &mine["id"]).await;
        assert_eq!(whole["subject"], format!("Secret subject {n}"));
        assert_eq!(whole["html_body"], format!("<p>Secret html {n}</p>"));
        let path = format!("/api/v1/tracked-emails/{}", mine["id"].as_str().unwrap());
        let v = whole["version"].as_i64().unwrap();
        let shared = team
            .app
            .send_raw(
                Method::PATCH,
                &path,
                Some(tracker),
                Some(json!({"visibility": "shared"}).to_string()),
                &[("if-match", format!("\"{v}\"").as_str())],
            )
            .await;
        assert_eq!(shared.status, StatusCode::OK, "{}", shared.body);
        let v = shared.body["version"].as_i64().unwrap();
        let deleted = team
            .app
            .send_raw(
                Method::DELETE,
                &path,
                Some(tracker),
                None,
                &[("if-match", format!("\"{v}\"").as_str())],
            )
            .await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
        // The colleague's entry is untouched by all of it.
        assert_eq!(team.get(colleague, &bare["id"]).await, bare_after);
    }
}

/// Reproduction 3, the other direction: a colleague who tracks the same email with a body
/// and a thread id writes nothing into the owner's private entry.
#[tokio::test]
async fn a_colleagues_tracking_never_writes_into_a_private_entry() {
    let team = Team::new().await;
    for (n, (owner, colleague)) in team.pairs().into_iter().enumerate() {
        let rfc = format!("<w{n}@example.test>");
        let gmail = format!("dddd00000000000{n}");
        let mut plain = track_body(&[&gmail], &[&team.contact]);
        plain["rfc_message_id"] = json!(rfc);
        plain["visibility"] = json!("private");
        plain.as_object_mut().unwrap().remove("gmail_thread_id");
        plain.as_object_mut().unwrap().remove("body_text");
        let private = team.track(owner, plain).await;
        let before = team.get(owner, &private["id"]).await;

        let mut theirs = track_body(&[&rfc], &[&team.contact]);
        theirs["html_body"] = json!("<p>the colleague's html</p>");
        theirs["gmail_thread_id"] = json!("thread-of-the-colleague");
        theirs["body_text"] = json!("the colleague's text");
        let answer = team
            .app
            .post_as(colleague, "/api/v1/tracked-emails", theirs)
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        assert_ne!(answer.body["tracked_email"]["id"], private["id"]);
        assert_eq!(
            answer.body["tracked_email"]["owner"]["email"],
            team.get(colleague, &answer.body["tracked_email"]["id"])
                .await["owner"]["email"]
        );

        let after = team.get(owner, &private["id"]).await;
        assert_eq!(after, before, "the private entry changed");
        assert_eq!(after["html_body"], Value::Null);
        assert_eq!(after["gmail_thread_id"], Value::Null);
        assert_eq!(after["body_text"], Value::Null);
        // The same email: one email id.
        let theirs = team
            .get(colleague, &answer.body["tracked_email"]["id"])
            .await;
        assert_eq!(theirs["email_id"], after["email_id"]);
    }
}

/// One email, three users: a reader sees one entry of it — their own, else a shared one,
/// else a private one redacted — on the timeline and in the bar.
#[tokio::test]
async fn colleagues_see_one_entry_per_email_shared_content_first() {
    let team = Team::new().await;
    let cleo = team.app.colleague("cleo@ourco.com").await;
    let contact = team.contact["id"].as_str().unwrap();
    let timeline = format!("/api/v1/tracked-emails?record_kind=contact&record_id={contact}");
    let ids = ["eeee000000000001", "<one@example.test>"];
    let state = json!({ "messages": [{ "ids": [ids[0]] }] });
    let seen = |token: String| {
        let (app, timeline, state) = (&team.app, &timeline, &state);
        async move {
            let page = app.get_as(&token, timeline).await.body;
            let items = page["items"].as_array().unwrap().clone();
            assert_eq!(items.len(), 1, "one entry per email: {page}");
            let bar = app
                .post_as(&token, "/api/v1/tracked-emails/state", state.clone())
                .await
                .body;
            let bar = bar["messages"][0]["tracked_email"].clone();
            assert_eq!(bar["id"], items[0]["id"]);
            items[0].clone()
        }
    };

    let anns = team
        .track(&team.ann, secret(&[ids[0]], &team.contact, ids[1], 0))
        .await;
    // Ben tracks it by its RFC id only, shared.
    let mut shared = track_body(&[ids[1]], &[&team.contact]);
    shared["visibility"] = json!("shared");
    shared["subject"] = json!("Ben's shared subject");
    let bens = team.track(&team.ben, shared).await;
    assert_ne!(anns["id"], bens["id"]);

    assert_eq!(seen(team.ann.clone()).await["id"], anns["id"]);
    assert_eq!(seen(team.ben.clone()).await["id"], bens["id"]);
    let cleos = seen(cleo.clone()).await;
    assert_eq!(cleos["id"], bens["id"]);
    assert_eq!(cleos["subject"], "Ben's shared subject");
    assert_no_secret(&team.everything_seen_by(&cleo, &ids).await, 0);

    // Ben deletes his: Cleo sees Ann's, redacted.
    let v = team.get(&team.ben, &bens["id"]).await["version"]
        .as_i64()
        .unwrap();
    let path = format!("/api/v1/tracked-emails/{}", bens["id"].as_str().unwrap());
    let gone = send_v(&team.app, Method::DELETE, &path, None, Some(v)).await;
    assert_eq!(
        gone.status,
        StatusCode::FORBIDDEN,
        "Ann may not delete Ben's"
    );
    let gone = team
        .app
        .send_raw(
            Method::DELETE,
            &path,
            Some(&team.ben),
            None,
            &[("if-match", format!("\"{v}\"").as_str())],
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.body);
    let cleos = seen(cleo.clone()).await;
    assert_eq!(cleos["id"], anns["id"]);
    assert_eq!(cleos["redacted"], true);
    assert_no_secret(&team.everything_seen_by(&cleo, &ids).await, 0);
}

/// Colleagues who track one new email at the same moment get an entry each, all of one
/// email (on PostgreSQL the write transactions run side by side, SERIALIZABLE).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn colleagues_tracking_one_email_at_once_make_one_email() {
    let team = Team::new().await;
    let cleo = team.app.colleague("cleo@ourco.com").await;
    let dan = team.app.colleague("dan@ourco.com").await;
    let body = track_body(
        &["ffff000000000001", "<same@example.test>"],
        &[&team.contact],
    );
    let track = |token: String| {
        let (app, body) = (&team.app, body.clone());
        async move { app.post_as(&token, "/api/v1/tracked-emails", body).await }
    };
    let answers = tokio::join!(
        track(team.ann.clone()),
        track(team.ben.clone()),
        track(cleo),
        track(dan)
    );
    let answers = [answers.0, answers.1, answers.2, answers.3];
    let mut entries = std::collections::BTreeSet::new();
    let mut emails = std::collections::BTreeSet::new();
    for answer in &answers {
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        let id = answer.body["tracked_email"]["id"].clone();
        entries.insert(id.to_string());
        emails.insert(team.get(&team.ann, &id).await["email_id"].to_string());
    }
    assert_eq!(entries.len(), 4, "an entry each");
    assert_eq!(emails.len(), 1, "one email: {emails:?}");
}
