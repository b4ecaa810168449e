//! Tasks through the pages, on a real database: mine and everyone's, the open, done and
//! overdue filters soonest due first, adding one, "Done" with the task's version (a stale
//! one refused), the edit form, the source email one click away, another organisation's
//! task a 404.

mod support;

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use serde_json::json;
use support::{csrf_of, set_up, Site};
use threadline_crm::records::contacts::{Contact, ContactInput};
use threadline_crm::records::tasks::{Task, TaskInput};
use threadline_crm::records::{self, Editable};
use threadline_crm::{tracking, Actor};
use uuid::Uuid;

const HOSTILE: &str = "<img src=x onerror=alert(1)>\"'&";
const HOSTILE_ESCAPED: &str = "&#60;img src=x onerror=alert(1)&#62;&#34;&#39;&#38;";

async fn task(site: &Site, actor: &Actor, input: serde_json::Value) -> Task {
    let input: TaskInput = serde_json::from_value(input).unwrap();
    let valid = Task::validate(input).unwrap();
    records::create::<Task>(&site.db, actor, &valid)
        .await
        .unwrap()
}

fn day(offset: i64) -> String {
    (Utc::now().date_naive() + Duration::days(offset)).to_string()
}

/// The part of the page from the task list on (its table).
fn list(body: &str) -> &str {
    match body.find("id=\"tasks\"") {
        Some(at) => &body[at..body[at..].find("</table>").map_or(body.len(), |e| at + e)],
        None => "",
    }
}

#[tokio::test]
async fn the_filters_sort_by_due_date_and_done_moves_a_task() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    let ann = site.actor_of(&cookie).await;
    let (bob, _) = site.user(Some(ann.org_id), "bob@example.com", "Bob").await;
    task(&site, &ann, json!({"title": "later", "due_date": day(5)})).await;
    task(&site, &ann, json!({"title": "undated"})).await;
    let late = task(&site, &ann, json!({"title": "late", "due_date": day(-2)})).await;
    task(&site, &bob, json!({"title": "bobs", "due_date": day(1)})).await;

    // Added through the form: a hostile title, due today, for me.
    let page = site.get("/tasks", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = csrf_of(&page.body);
    // A right-to-left override is refused by the model; the form comes back with what was
    // typed, as text.
    let rtl = format!("{HOSTILE}\u{202e}fdp.exe");
    let refused = site
        .post("/tasks", Some(&cookie), &[("csrf", &csrf), ("title", &rtl)])
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("RIGHT-TO-LEFT OVERRIDE"),
        "{}",
        refused.body
    );
    assert!(refused
        .body
        .contains(&format!("value=\"{HOSTILE_ESCAPED}\u{202e}fdp.exe\"")));
    assert!(!refused.body.contains("<img src=x"));
    let added = site
        .post(
            "/tasks?whose=mine&show=open",
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("title", HOSTILE),
                ("due_date", &day(0)),
                ("assignee", &ann.user_id.to_string()),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    assert_eq!(
        added.location.as_deref(),
        Some("/tasks?whose=mine&show=open")
    );

    let mine = site.get("/tasks", Some(&cookie)).await;
    let rows = list(&mine.body);
    assert!(!mine.body.contains("<img src=x"), "{}", mine.body);
    assert!(rows.contains(HOSTILE_ESCAPED), "{rows}");
    let order: Vec<usize> = ["late", HOSTILE_ESCAPED, "later", "undated"]
        .iter()
        .map(|t| {
            rows.find(&format!("{t}</a>"))
                .unwrap_or_else(|| panic!("{t} in {rows}"))
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}: {rows}");
    assert!(!rows.contains("bobs"), "only mine: {rows}");
    assert!(rows.contains("class=\"late\""), "the overdue one says so");

    let overdue = site.get("/tasks?show=overdue", Some(&cookie)).await;
    let rows = list(&overdue.body);
    assert!(rows.contains("late</a>") && !rows.contains("later") && !rows.contains("undated"));

    let everyone = site
        .get("/tasks?whose=everyone&show=open", Some(&cookie))
        .await;
    let rows = list(&everyone.body);
    assert!(rows.contains("bobs</a>") && rows.contains("Bob"), "{rows}");
    assert!(everyone
        .body
        .contains("href=\"/tasks?whose=everyone&amp;show=open\" aria-current=\"page\""));

    // Done, with the version the page showed.
    let done = site
        .post(
            &format!("/tasks/{}/done", late.id),
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("version", "1"),
                ("done", "1"),
                ("back", "/tasks?whose=mine&show=overdue"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        done.location.as_deref(),
        Some("/tasks?whose=mine&show=overdue")
    );
    let overdue = site.get("/tasks?show=overdue", Some(&cookie)).await;
    assert!(overdue.body.contains("No tasks here"), "{}", overdue.body);
    let finished = site.get("/tasks?show=done", Some(&cookie)).await;
    assert!(list(&finished.body).contains("late</a>"));
    assert!(!list(&finished.body).contains("later"));
    // Home's open tasks no longer list it.
    let home = site.get("/", Some(&cookie)).await;
    assert!(!home.body.contains(">late</a>") && home.body.contains(">later</a>"));

    // The same button again, at the old version: refused, the task shown as it is now.
    let stale = site
        .post(
            &format!("/tasks/{}/done", late.id),
            Some(&cookie),
            &[("csrf", &csrf), ("version", "1"), ("done", "0")],
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert!(
        stale.body.contains("Someone changed this task"),
        "{}",
        stale.body
    );
    // Elsewhere is never a place to go back to.
    let reopened = site
        .post(
            &format!("/tasks/{}/done", late.id),
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("version", "2"),
                ("done", "0"),
                ("back", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(reopened.location.as_deref(), Some("/"));
}

#[tokio::test]
async fn adding_and_editing_say_what_is_wrong() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    let ann = site.actor_of(&cookie).await;
    let (bob, _) = site.user(Some(ann.org_id), "bob@example.com", "Bob").await;
    let csrf = csrf_of(&site.get("/tasks", Some(&cookie)).await.body);

    let empty = site
        .post(
            "/tasks",
            Some(&cookie),
            &[("csrf", &csrf), ("title", "  "), ("due_date", "")],
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.body.contains("class=\"problem\""), "{}", empty.body);
    let forged = site
        .post(
            "/tasks",
            Some(&cookie),
            &[("csrf", "forged"), ("title", "x")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let t = task(&site, &ann, json!({"title": "call Pat"})).await;
    let page = site.get(&format!("/tasks/{}", t.id), Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("value=\"call Pat\""));
    let saved = site
        .post(
            &format!("/tasks/{}", t.id),
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("version", "1"),
                ("title", "call Pat back"),
                ("due_date", "2030-01-31"),
                ("assignee", &bob.user_id.to_string()),
                ("description", HOSTILE),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let page = site
        .get(saved.location.as_deref().unwrap(), Some(&cookie))
        .await;
    assert!(page.body.contains("Saved."));
    assert!(
        page.body.contains("<h1>call Pat back</h1>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("2030-01-31") && page.body.contains("<dd>Bob</dd>"));
    assert!(page.body.contains(HOSTILE_ESCAPED) && !page.body.contains("<img src=x"));

    // An edit made from the old page: refused, the other change shown.
    let stale = site
        .post(
            &format!("/tasks/{}", t.id),
            Some(&cookie),
            &[("csrf", &csrf), ("version", "1"), ("title", "mine")],
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert!(stale.body.contains("call Pat back") && stale.body.contains("Someone changed"));
    let bad_date = site
        .post(
            &format!("/tasks/{}", t.id),
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("version", "2"),
                ("title", "x"),
                ("due_date", "soon"),
            ],
        )
        .await;
    assert_eq!(bad_date.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad_date.body.contains("value=\"soon\""),
        "what was typed is kept"
    );
}

#[tokio::test]
async fn the_source_email_is_one_click_away() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    let ann = site.actor_of(&cookie).await;
    let input: ContactInput =
        serde_json::from_value(json!({"first_name": "Pat", "emails": ["pat@client.example"]}))
            .unwrap();
    let contact = records::create::<Contact>(&site.db, &ann, &Contact::validate(input).unwrap())
        .await
        .unwrap();
    let request = serde_json::from_value(json!({
        "gmail_message_id": "18c0ffee000000aa",
        "direction": "incoming",
        "from": {"address": "pat@client.example"},
        "subject": "Quote",
        "contact_ids": [contact.id],
    }))
    .unwrap();
    let tracked = tracking::track(&site.db, &ann, &tracking::validate(request).unwrap())
        .await
        .unwrap();
    let t = task(
        &site,
        &ann,
        json!({"title": "answer the quote", "source_message_id": "18c0ffee000000aa",
               "linked": {"kind": "contact", "id": contact.id}}),
    )
    .await;
    let email = format!("href=\"/emails/{}\"", tracked.tracked_email.id);
    let tasks = site.get("/tasks", Some(&cookie)).await;
    assert!(list(&tasks.body).contains(&email), "{}", tasks.body);
    assert!(list(&tasks.body).contains(&format!("href=\"/contacts/{}\"", contact.id)));
    let page = site.get(&format!("/tasks/{}", t.id), Some(&cookie)).await;
    assert!(page.body.contains(&email));
    // And back: the email lists the task.
    let page = site
        .get(
            &format!("/emails/{}", tracked.tracked_email.id),
            Some(&cookie),
        )
        .await;
    assert!(page.body.contains(&format!("href=\"/tasks/{}\"", t.id)));
}

#[tokio::test]
async fn another_organisations_task_is_not_found() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    let ann = site.actor_of(&cookie).await;
    let ours = task(&site, &ann, json!({"title": "ours only"})).await;
    let (eve_actor, eve) = site.user(None, "eve@elsewhere.example", "Eve").await;
    let page = site.get(&format!("/tasks/{}", ours.id), Some(&eve)).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(!page.body.contains("ours only"));
    let csrf = csrf_of(&site.get("/tasks", Some(&eve)).await.body);
    for path in [
        format!("/tasks/{}/done", ours.id),
        format!("/tasks/{}", ours.id),
    ] {
        let answer = site
            .post(
                &path,
                Some(&eve),
                &[
                    ("csrf", &csrf),
                    ("version", "1"),
                    ("done", "1"),
                    ("title", "x"),
                ],
            )
            .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
    }
    let everyone = site.get("/tasks?whose=everyone", Some(&eve)).await;
    assert!(!everyone.body.contains("ours only"));
    // Nor can a task be given to someone of another organisation.
    let given = site
        .post(
            "/tasks",
            Some(&eve),
            &[
                ("csrf", &csrf),
                ("title", "x"),
                ("assignee", &ann.user_id.to_string()),
            ],
        )
        .await;
    assert_eq!(
        given.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        given.body
    );
    assert_ne!(eve_actor.org_id, ann.org_id);
    assert_eq!(
        site.get(
            &format!("/tasks/{}", Uuid::from_u128(0x5eed)),
            Some(&cookie)
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    // Untouched.
    let page = site
        .get(&format!("/tasks/{}", ours.id), Some(&cookie))
        .await;
    assert!(page.body.contains("<h1>ours only</h1>"));
}
