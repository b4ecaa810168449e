//! Tasks in pages (the model's keyset, `tasks::list_page`) on a real database (SQLite, or
//! PostgreSQL with `THREADLINE_TEST_DATABASE_URL`): every task once, in the list's order,
//! dated ones first and undated after them.

mod support;

use serde_json::json;
use support::{create, set_up, Site};
use threadline_crm::records::tasks::Task;

/// The `href` of the link marked `rel`, as a browser follows it.
fn link(page: &str, rel: &str) -> Option<String> {
    let end = page.find(&format!(r#"" rel="{rel}""#))?;
    let start = page[..end].rfind("href=\"")? + "href=\"".len();
    Some(page[start..end].replace("&#38;", "&").replace("&amp;", "&"))
}

#[tokio::test]
async fn the_tasks_list_pages_through_every_task() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    let actor = site.actor_of(&cookie).await;
    // 120 tasks, more than two pages: 100 dated (five on each of 20 days), 20 undated.
    for i in 0..120 {
        let input = if i < 100 {
            json!({"title": format!("Task {i:03}"), "due_date": format!("2030-01-{:02}", i / 5 + 1)})
        } else {
            json!({ "title": format!("Task {i:03}") })
        };
        create::<Task>(&site, &actor, input).await;
    }
    let mut seen = Vec::new();
    let mut path = "/tasks".to_string();
    let mut pages = 0;
    loop {
        let page = site.get(&path, Some(&cookie)).await;
        pages += 1;
        let mut rest = page.body.as_str();
        while let Some(at) = rest.find(">Task ") {
            let title = &rest[at + 1..at + 9];
            if title[5..].bytes().all(|b| b.is_ascii_digit()) {
                seen.push(title.to_string());
            }
            rest = &rest[at + 9..];
        }
        if pages > 1 {
            assert_eq!(
                link(&page.body, "first").as_deref(),
                Some("/tasks?whose=mine&show=open")
            );
        } else {
            assert!(link(&page.body, "first").is_none());
        }
        match link(&page.body, "next") {
            Some(next) => path = next,
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let dated: Vec<String> = seen[..100].to_vec();
    let mut sorted = dated.clone();
    sorted.sort();
    assert_eq!(dated, sorted, "dated by due date");
    let mut all = seen.clone();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 120, "{seen:?}");
    assert!(seen[100..].iter().all(|t| t.as_str() >= "Task 100"));
    // A cursor the list did not give.
    let bad = site.get("/tasks?cursor=nonsense", Some(&cookie)).await;
    assert_eq!(bad.status, axum::http::StatusCode::UNPROCESSABLE_ENTITY);
}
