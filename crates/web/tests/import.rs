//! Importing contacts through the pages: the check's preview, the start, the progress and
//! the result, the rejected rows to download; the CSRF token before the file; another
//! user's import is not found.

mod support;

use axum::http::{header, StatusCode};
use support::{csrf_of, set_up, Site};
use threadline_crm::accounts;

const CSV: &str =
    "first_name,last_name,email,company,Favourite <b onmouseover=alert(1)>colour</b>\n\
Ann,Lee,ann@acme.example,Acme,blue\n\
Bob,Ray,not-an-address,Initech,red\n\
Cleo,<img src=x onerror=alert(1)>,cleo@initech.example,Initech,green\n\
Ann,Again,ann@acme.example,Acme,blue\n";

/// The import's id from the redirect after the upload.
fn import_id(location: Option<&str>) -> String {
    let location = location.expect("a redirect to the import");
    location.strip_prefix("/import/").unwrap().to_string()
}

async fn wait_until_finished(site: &Site, cookie: &str, id: &str) -> String {
    for _ in 0..200 {
        let page = site.get(&format!("/import/{id}"), Some(cookie)).await;
        if !page.body.contains("data-poll") {
            return page.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the import did not finish");
}

#[tokio::test]
async fn a_file_is_checked_then_imported_and_its_rejected_rows_downloaded() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    let form = site.get("/import", Some(&cookie)).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("No imports yet"), "{}", form.body);
    let csrf = csrf_of(&form.body);

    let checked = site
        .post_multipart(
            "/import",
            Some(&cookie),
            &[
                ("csrf", None, csrf.as_bytes()),
                ("delimiter", None, b"comma"),
                ("file", Some("my contacts.csv"), CSV.as_bytes()),
            ],
        )
        .await;
    assert_eq!(checked.status, StatusCode::SEE_OTHER, "{}", checked.body);
    let id = import_id(checked.location.as_deref());
    let preview = site.get(&format!("/import/{id}"), Some(&cookie)).await;
    assert!(
        preview.body.contains("2 contacts would be created"),
        "{}",
        preview.body
    );
    assert!(
        preview.body.contains("2 companies would be created"),
        "{}",
        preview.body
    );
    assert!(preview.body.contains("1 row rejected"), "{}", preview.body);
    assert!(preview.body.contains("1 row skipped"), "{}", preview.body);
    // The ignored column is listed, its hostile header as text.
    assert!(
        preview
            .body
            .contains("Favourite &#60;b onmouseover=alert(1)&#62;colour"),
        "{}",
        preview.body
    );
    assert!(!preview.body.contains("<b onmouseover"), "{}", preview.body);
    assert!(preview.body.contains("Import 2 contacts"));
    // The check wrote nothing.
    assert_eq!(contacts(&site).await, 0);

    let started = site
        .post(
            &format!("/import/{id}/start"),
            Some(&cookie),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(started.status, StatusCode::SEE_OTHER);
    let result = wait_until_finished(&site, &cookie, &id).await;
    assert!(result.contains("Imported"), "{result}");
    assert!(result.contains("2 contacts created"), "{result}");
    assert_eq!(contacts(&site).await, 2);

    let rejects = site
        .get(&format!("/import/{id}/rejected.csv"), Some(&cookie))
        .await;
    assert_eq!(rejects.status, StatusCode::OK);
    let disposition = rejects.headers[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(
        disposition.contains("my contacts-rejected.csv"),
        "{disposition}"
    );
    assert!(
        rejects.body.starts_with("row,reason,first_name"),
        "{}",
        rejects.body
    );
    assert!(rejects.body.contains("not-an-address"), "{}", rejects.body);

    // Started once only.
    let again = site
        .post(
            &format!("/import/{id}/start"),
            Some(&cookie),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    // Listed.
    let list = site.get("/import", Some(&cookie)).await;
    assert!(list.body.contains("my contacts.csv"));
}

async fn contacts(site: &Site) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM contacts")
        .fetch_one(site.db.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_file_that_cannot_be_imported_is_said_and_nothing_is_kept() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    let csrf = csrf_of(&site.get("/import", Some(&cookie)).await.body);
    let refused = site
        .post_multipart(
            "/import",
            Some(&cookie),
            &[
                ("csrf", None, csrf.as_bytes()),
                ("delimiter", None, b"comma"),
                ("file", Some("notes.csv"), b"name;phone\nAnn;123\n"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("role=\"alert\""), "{}", refused.body);
    assert!(
        refused.body.contains("email"),
        "the reason names the missing column"
    );
    assert!(refused.body.contains("No imports yet"));
}

#[tokio::test]
async fn the_file_needs_the_session_token_first() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    let forged = site
        .post_multipart(
            "/import",
            Some(&cookie),
            &[
                ("file", Some("x.csv"), CSV.as_bytes()),
                ("csrf", None, b"forged"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM contact_imports")
        .fetch_one(site.db.pool())
        .await
        .unwrap();
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn a_large_file_goes_through_and_another_user_cannot_see_the_import() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    let csrf = csrf_of(&site.get("/import", Some(&cookie)).await.body);
    // Over the API's 1 MiB body limit, far under the import's 50 MB.
    let mut big = String::from("email,first_name\n");
    let mut n = 0;
    while big.len() < 1024 * 1024 + 64 * 1024 {
        big.push_str(&format!("person{n}@big.example,Person {n}\n"));
        n += 1;
    }
    let checked = site
        .post_multipart(
            "/import",
            Some(&cookie),
            &[
                ("csrf", None, csrf.as_bytes()),
                ("file", Some("big.csv"), big.as_bytes()),
            ],
        )
        .await;
    assert_eq!(checked.status, StatusCode::SEE_OTHER, "{}", checked.body);
    let id = import_id(checked.location.as_deref());
    let preview = site.get(&format!("/import/{id}"), Some(&cookie)).await;
    assert!(
        preview
            .body
            .contains(&format!("{n} contacts would be created")),
        "{}",
        preview.body
    );

    // A colleague of the same organisation does not see it.
    let org: String = sqlx::query_scalar("SELECT org_id FROM users LIMIT 1")
        .fetch_one(site.db.pool())
        .await
        .unwrap();
    let mut conn = site.db.pool().acquire().await.unwrap();
    let (bob, _) = accounts::create_user(
        &mut conn,
        org.parse().unwrap(),
        "bob@example.com",
        "Bob",
        &[],
    )
    .await
    .unwrap();
    drop(conn);
    threadline_crm::accounts::passwords::set_password(
        &site.db,
        bob,
        support::PASSWORD,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let bob_in = site
        .post(
            "/sign-in",
            None,
            &[
                ("email", "bob@example.com"),
                ("password", support::PASSWORD),
            ],
        )
        .await;
    let bob_cookie = bob_in.cookie.expect("Bob signed in");
    let hidden = site.get(&format!("/import/{id}"), Some(&bob_cookie)).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    let bob_csrf = csrf_of(&site.get("/import", Some(&bob_cookie)).await.body);
    let start = site
        .post(
            &format!("/import/{id}/start"),
            Some(&bob_cookie),
            &[("csrf", &bob_csrf)],
        )
        .await;
    assert_eq!(start.status, StatusCode::NOT_FOUND);
}
