//! A tracked email's page, its body frame and its attachments, on a real database: the
//! hostile HTML body neutralised under the frame's own policy, remote images only when
//! asked, downloads with a safe name, a colleague's private email told and not shown, and
//! another organisation's email a 404.

mod support;

use axum::http::{header, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};
use support::{create, csrf_of, set_up, Site};
use threadline_crm::email_source::{self, Received};
use threadline_crm::records::companies::Company;
use threadline_crm::records::contacts::{Contact, ContactInput};
use threadline_crm::records::{self, Editable};
use threadline_crm::{tracking, Actor};
use threadline_web::pages::emails::{BODY_CSP, BODY_CSP_WITH_IMAGES};
use uuid::Uuid;

const HOSTILE: &str = "<img src=x onerror=alert(1)>\"'&";
const HOSTILE_ESCAPED: &str = "&#60;img src=x onerror=alert(1)&#62;&#34;&#39;&#38;";

const HTML_BODY: &str = "<p>Hello <b>there</b></p><script>alert('script')</script>\
    <img src=x onerror=alert('onerror')>\
    <a href=\"javascript:alert('link')\">click me</a>\
    <img src=\"https://tracker.example/pixel.gif\" alt=\"pixel\">\
    <form action=\"https://evil.example/\"><input name=password></form>\
    <div style=\"color: red; background: url(https://tracker.example/bg.gif)\">styled</div>";

/// A contact of `actor`'s organisation: its id.
async fn contact(site: &Site, actor: &Actor, address: &str) -> Uuid {
    let input: ContactInput =
        serde_json::from_value(json!({"first_name": "Pat", "emails": [address]})).unwrap();
    let valid = Contact::validate(input).unwrap();
    records::create::<Contact>(&site.db, actor, &valid)
        .await
        .unwrap()
        .id
}

/// `actor` tracks an email to `to` (a new contact), with `source` as its raw source when
/// given: the entry's id.
async fn track(
    site: &Site,
    actor: &Actor,
    gmail_id: &str,
    subject: &str,
    visibility: &str,
    source: Option<String>,
) -> Uuid {
    let address = format!("pat.{gmail_id}@client.example");
    let contact = contact(site, actor, &address).await;
    let request = serde_json::from_value(json!({
        "gmail_message_id": gmail_id,
        "direction": "incoming",
        "from": {"address": address, "name": "Pat"},
        "to": [{"address": actor.email}],
        "subject": subject,
        "body_text": "the page's text",
        "contact_ids": [contact],
        "visibility": visibility,
    }))
    .unwrap();
    let input = tracking::validate(request).unwrap();
    let tracked = tracking::track(&site.db, actor, &input).await.unwrap();
    let id = tracked.tracked_email.id;
    if let Some(raw) = source {
        let raw = raw.into_bytes();
        let sha256 = format!("{:x}", Sha256::digest(&raw));
        let received = Received {
            raw: raw.into(),
            sha256,
        };
        email_source::attach(&site.db, site.state.blobs().unwrap(), actor, id, received)
            .await
            .unwrap();
    }
    id
}

/// A message with an HTML and a text body and one attachment named `file_name` (RFC 2231).
fn source(message_id: &str, html: &str, file_name_2231: &str) -> String {
    format!(
        "Message-ID: <{message_id}>\r\nFrom: Pat <pat@client.example>\r\n\
         To: ann@example.com\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=outer\r\n\r\n\
         --outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n\
         --inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nthe source's text\r\n\
         --inner\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--inner--\r\n\
         --outer\r\nContent-Type: application/octet-stream\r\n\
         Content-Disposition: attachment; filename*=UTF-8''{file_name_2231}\r\n\
         Content-Transfer-Encoding: base64\r\n\r\naGVsbG8gYXR0YWNobWVudA==\r\n--outer--\r\n"
    )
}

#[tokio::test]
async fn the_body_is_sanitised_and_framed_under_its_own_policy() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    let ann = site.actor_of(&cookie).await;
    let subject = format!("{HOSTILE}\u{202e}fdp.exe");
    let id = track(
        &site,
        &ann,
        "18c0ffee00000001",
        &subject,
        "private",
        Some(source("one@client.example", HTML_BODY, "report.pdf")),
    )
    .await;

    let page = site.get(&format!("/emails/{id}"), Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(!page.body.contains("<img src=x"), "{}", page.body);
    assert!(page.body.contains(HOSTILE_ESCAPED), "{}", page.body);
    assert!(
        page.body.contains(&format!(
            "<iframe class=\"body-frame\" sandbox=\"allow-popups allow-popups-to-escape-sandbox\" \
             src=\"/emails/{id}/body\""
        )),
        "{}",
        page.body
    );
    assert!(!page.body.contains("allow-scripts") && !page.body.contains("allow-same-origin"));
    // The remote image is blocked, and the page says so with the way to show it.
    assert!(page
        .body
        .contains(&format!("href=\"/emails/{id}?images=1\"")));
    assert!(page.body.contains("Show remote images"));
    // The records it is on, and its attachment.
    assert!(page.body.contains("href=\"/contacts/"), "{}", page.body);
    assert!(page
        .body
        .contains(&format!("href=\"/emails/{id}/attachments/0\"")));
    assert!(page.body.contains("report.pdf"));

    let body = site.get(&format!("/emails/{id}/body"), Some(&cookie)).await;
    assert_eq!(body.status, StatusCode::OK);
    assert_eq!(
        body.header(header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert_eq!(body.header(header::CONTENT_SECURITY_POLICY), BODY_CSP);
    assert!(
        BODY_CSP.contains("img-src data: cid:;") && BODY_CSP.contains("frame-ancestors 'self'")
    );
    assert!(BODY_CSP.contains("default-src 'none'") && BODY_CSP.contains("sandbox"));
    assert!(!BODY_CSP.contains("script-src") && !BODY_CSP.contains("allow-scripts"));
    assert_eq!(body.header(header::X_FRAME_OPTIONS), "SAMEORIGIN");
    assert!(body.body.contains("Hello <b>there</b>"), "{}", body.body);
    assert!(body.body.contains("styled") && body.body.contains("color:red"));
    for gone in [
        "<script",
        "alert",
        "onerror",
        "javascript:",
        "tracker.example",
        "<form",
        "<input",
        "evil.example",
    ] {
        assert!(!body.body.contains(gone), "{gone:?} in {}", body.body);
    }

    // Shown when asked: the image, under a policy that lets https images in.
    let shown = site
        .get(&format!("/emails/{id}/body?images=1"), Some(&cookie))
        .await;
    assert_eq!(
        shown.header(header::CONTENT_SECURITY_POLICY),
        BODY_CSP_WITH_IMAGES
    );
    assert!(BODY_CSP_WITH_IMAGES.contains("img-src data: https:;"));
    assert!(shown
        .body
        .contains("src=\"https://tracker.example/pixel.gif\""));
    assert!(!shown.body.contains("bg.gif"), "never through CSS");
    assert!(!shown.body.contains("<script") && !shown.body.contains("onerror"));
    let page = site
        .get(&format!("/emails/{id}?images=1"), Some(&cookie))
        .await;
    assert!(page
        .body
        .contains(&format!("src=\"/emails/{id}/body?images=1\"")));
    assert!(!page.body.contains("Show remote images"));
}

#[tokio::test]
async fn attachments_download_under_a_safe_name() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    let ann = site.actor_of(&cookie).await;
    // `<img src=x onerror=alert(1)>"\u{202e}fdp.exe`, percent-encoded as RFC 2231 says.
    let name = "%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E%22%E2%80%AEfdp.exe";
    let id = track(
        &site,
        &ann,
        "18c0ffee00000002",
        "Files",
        "private",
        Some(source("two@client.example", "<p>see attached</p>", name)),
    )
    .await;
    let page = site.get(&format!("/emails/{id}"), Some(&cookie)).await;
    assert!(!page.body.contains("<img src=x"), "{}", page.body);
    // The model's file-name rule has cleaned it already; what is left is text.
    assert!(
        page.body.contains("img src=x onerror=alert</a>"),
        "{}",
        page.body
    );

    let file = site
        .get(&format!("/emails/{id}/attachments/0"), Some(&cookie))
        .await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.body, "hello attachment");
    let disposition = file.header(header::CONTENT_DISPOSITION);
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(disposition.is_ascii(), "{disposition}");
    assert!(
        !disposition.contains('<') && !disposition.contains("\"\""),
        "{disposition}"
    );
    assert!(disposition.contains("filename*=UTF-8''"), "{disposition}");
    assert_eq!(file.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert_eq!(file.header(header::CONTENT_SECURITY_POLICY), "sandbox");

    for missing in ["9", "x", "-1"] {
        let answer = site
            .get(
                &format!("/emails/{id}/attachments/{missing}"),
                Some(&cookie),
            )
            .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{missing}");
    }
}

#[tokio::test]
async fn attached_images_show_in_the_body() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    let ann = site.actor_of(&cookie).await;
    let raw = "Message-ID: <logo@client.example>\r\nFrom: Pat <pat@client.example>\r\n\
        MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=rel\r\n\r\n\
        --rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
        <p>Our logo: <img src=\"cid:Logo.Part@client.example\" alt=\"logo\"></p>\
        <p><img src=\"cid:picture@client.example\" alt=\"svg\"></p>\r\n\
        --rel\r\nContent-Type: image/png\r\nContent-ID: <Logo.Part@client.example>\r\n\
        Content-Disposition: inline; filename=logo.png\r\n\
        Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n\
        --rel\r\nContent-Type: image/svg+xml\r\nContent-ID: <picture@client.example>\r\n\
        Content-Transfer-Encoding: base64\r\n\r\nPHN2ZyBvbmxvYWQ9YWxlcnQoMSk+\r\n--rel--\r\n";
    let id = track(
        &site,
        &ann,
        "18c0ffee00000007",
        "Logo",
        "private",
        Some(raw.into()),
    )
    .await;
    let body = site.get(&format!("/emails/{id}/body"), Some(&cookie)).await;
    assert!(
        body.body
            .contains("<img src=\"data:image/png;base64,iVBORw0KGgo=\" alt=\"logo\">"),
        "{}",
        body.body
    );
    // Never an SVG (a document, not a picture): it stays a cid: link to nothing.
    assert!(
        body.body.contains("src=\"cid:picture@client.example\""),
        "{}",
        body.body
    );
    assert!(!body.body.contains("PHN2Zy"), "{}", body.body);
    assert_eq!(body.header(header::CONTENT_SECURITY_POLICY), BODY_CSP);
}

#[tokio::test]
async fn a_plain_text_email_is_shown_as_text() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    let ann = site.actor_of(&cookie).await;
    let id = track(&site, &ann, "18c0ffee00000003", "Plain", "private", None).await;
    let page = site.get(&format!("/emails/{id}"), Some(&cookie)).await;
    assert!(
        page.body
            .contains("<pre class=\"body-text\">the page&#39;s text</pre>"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<iframe"));
}

#[tokio::test]
async fn a_colleagues_private_email_does_not_leak() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    let ann = site.actor_of(&cookie).await;
    let (bob, bob_cookie) = site
        .user(Some(ann.org_id), "bob@example.com", "Bob <b>Builder</b>")
        .await;
    let private = track(
        &site,
        &bob,
        "18c0ffee00000004",
        "Secret merger plans",
        "private",
        Some(source(
            "four@client.example",
            "<p>the secret body</p>",
            "secret.pdf",
        )),
    )
    .await;
    let shared = track(
        &site,
        &bob,
        "18c0ffee00000005",
        "Shared news",
        "shared",
        None,
    )
    .await;

    let page = site.get(&format!("/emails/{private}"), Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("Tracked privately by Bob &#60;b&#62;Builder&#60;/b&#62;"),
        "{}",
        page.body
    );
    for secret in [
        "Secret merger",
        "secret body",
        "secret.pdf",
        "pat.18c0ffee",
        "<iframe",
    ] {
        assert!(
            !page.body.contains(secret),
            "{secret:?} leaked: {}",
            page.body
        );
    }
    for path in [
        format!("/emails/{private}/body"),
        format!("/emails/{private}/attachments/0"),
    ] {
        let answer = site.get(&path, Some(&cookie)).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!answer.body.contains("secret"), "{path}");
    }
    // Its owner reads it all; a shared one, everyone.
    let own = site
        .get(&format!("/emails/{private}"), Some(&bob_cookie))
        .await;
    assert!(own.body.contains("Secret merger plans"));
    let body = site
        .get(&format!("/emails/{private}/body"), Some(&bob_cookie))
        .await;
    assert!(body.body.contains("the secret body"));
    let page = site.get(&format!("/emails/{shared}"), Some(&cookie)).await;
    assert!(page.body.contains("Shared news"));

    // Home: newest first, the private one as such.
    let home = site.get("/", Some(&cookie)).await;
    let recent = &home.body[home.body.find("id=\"recent-emails\"").expect("the list")..];
    assert!(recent.contains("Shared news"), "{recent}");
    assert!(recent.contains("Tracked privately by Bob"), "{recent}");
    assert!(!home.body.contains("Secret merger"), "{}", home.body);
}

#[tokio::test]
async fn another_organisations_email_is_not_found() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    let ann = site.actor_of(&cookie).await;
    let id = track(
        &site,
        &ann,
        "18c0ffee00000006",
        "Ours only",
        "shared",
        Some(source("six@client.example", "<p>ours</p>", "ours.pdf")),
    )
    .await;
    let (_, eve) = site.user(None, "eve@elsewhere.example", "Eve").await;
    for path in [
        format!("/emails/{id}"),
        format!("/emails/{id}/body"),
        format!("/emails/{id}/attachments/0"),
        "/emails/not-an-id".to_string(),
        format!("/emails/{}", Uuid::from_u128(0x5eed)),
    ] {
        let answer = site.get(&path, Some(&eve)).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!answer.body.contains("Ours only"), "{path}");
        assert!(!answer.body.contains("ours.pdf") && !answer.body.contains("<p>ours"));
    }
    let home = site.get("/", Some(&eve)).await;
    assert!(!home.body.contains("Ours only"));
    assert!(home.body.contains("Nothing tracked yet"), "{}", home.body);
    // Signed out: to the sign-in page.
    let anonymous = site.get(&format!("/emails/{id}"), None).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    // The page's forms still carry the session's token (the layout's sign-out).
    let page = site.get(&format!("/emails/{id}"), Some(&cookie)).await;
    assert!(!csrf_of(&page.body).is_empty());
}

/// The records section of the page: from its heading to the next section.
fn records_section(page: &str) -> &str {
    let start = page.find("id=\"records-h\"").expect("the records section");
    let end = page[start..]
        .find("</section>")
        .map_or(page.len(), |e| start + e);
    &page[start..end]
}

#[tokio::test]
async fn the_owner_adds_a_record_by_typing_and_removes_it() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    let ann = site.actor_of(&cookie).await;
    let id = track(&site, &ann, "18c0ffee00000010", "Offer", "shared", None).await;
    // Two contacts whose names both hold "Lee", one of them a hostile name, and a company.
    let hostile = create::<Contact>(
        &site,
        &ann,
        json!({"first_name": HOSTILE, "last_name": "Lee", "emails": ["h@lee.example"]}),
    )
    .await;
    let lena = create::<Contact>(
        &site,
        &ann,
        json!({"first_name": "Lena", "last_name": "Lee", "emails": ["lena@lee.example"]}),
    )
    .await;
    let globex = create::<Company>(&site, &ann, json!({"name": "Globex"})).await;
    let page = site.get(&format!("/emails/{id}"), Some(&cookie)).await;
    assert!(page.body.contains("action=\"/emails/"), "{}", page.body);
    let csrf = csrf_of(&page.body);
    let add = format!("/emails/{id}/records");

    // Nothing matches: said at the field, 422, what was typed kept.
    let none = site
        .post(&add, Some(&cookie), &[("csrf", &csrf), ("record", "Zqxjv")])
        .await;
    assert_eq!(
        none.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        none.body
    );
    assert!(
        none.body.contains("No contact or company matches that"),
        "{}",
        none.body
    );
    assert!(none.body.contains("value=\"Zqxjv\""), "{}", none.body);

    // Two match: both offered as choices, the hostile name inert.
    let several = site
        .post(&add, Some(&cookie), &[("csrf", &csrf), ("record", "lee")])
        .await;
    assert_eq!(several.status, StatusCode::OK, "{}", several.body);
    for c in [hostile.id, lena.id] {
        assert!(
            several.body.contains(&format!("value=\"contact:{c}\"")),
            "{}",
            several.body
        );
    }
    assert!(several.body.contains(HOSTILE_ESCAPED), "{}", several.body);
    assert!(!records_section(&several.body).contains("<img src=x"));

    // The choice adds exactly that contact.
    let chosen = format!("contact:{}", lena.id);
    let added = site
        .post(&add, Some(&cookie), &[("csrf", &csrf), ("record", &chosen)])
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let page = site.get(&format!("/emails/{id}"), Some(&cookie)).await;
    let records = records_section(&page.body);
    assert!(
        records.contains(&format!("href=\"/contacts/{}\"", lena.id)),
        "{records}"
    );
    assert!(!records.contains(&format!("href=\"/contacts/{}\"", hostile.id)));

    // One exact name is the choice at once; the company is on its timeline.
    let exact = site
        .post(
            &add,
            Some(&cookie),
            &[("csrf", &csrf), ("record", "globex")],
        )
        .await;
    assert_eq!(exact.status, StatusCode::SEE_OTHER, "{}", exact.body);
    let company = site
        .get(&format!("/companies/{}", globex.id), Some(&cookie))
        .await;
    assert!(
        company.body.contains(&format!("href=\"/emails/{id}\"")),
        "{}",
        company.body
    );

    // Removed: off the page and off the contact's timeline.
    let removed = site
        .post(
            &format!("/emails/{id}/records/remove"),
            Some(&cookie),
            &[("csrf", &csrf), ("record", &chosen)],
        )
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.body);
    let page = site.get(&format!("/emails/{id}"), Some(&cookie)).await;
    assert!(!records_section(&page.body).contains(&format!("/contacts/{}", lena.id)));
    let contact = site
        .get(&format!("/contacts/{}", lena.id), Some(&cookie))
        .await;
    assert!(
        !contact.body.contains(&format!("href=\"/emails/{id}\"")),
        "{}",
        contact.body
    );

    // Without the CSRF token nothing changes.
    let forged = site
        .post(
            &add,
            Some(&cookie),
            &[("csrf", "forged"), ("record", &chosen)],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.body);
}

#[tokio::test]
async fn a_colleague_sees_the_records_but_cannot_change_them() {
    let site = Site::new().await;
    let cookie = set_up(&site, "Ann").await;
    let ann = site.actor_of(&cookie).await;
    let id = track(
        &site,
        &ann,
        "18c0ffee00000011",
        "Shared offer",
        "shared",
        None,
    )
    .await;
    let (_, ben) = site.user(Some(ann.org_id), "ben@example.com", "Ben").await;
    let page = site.get(&format!("/emails/{id}"), Some(&ben)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let records = records_section(&page.body);
    assert!(records.contains("href=\"/contacts/"), "{records}");
    assert!(!records.contains("<form"), "{records}");

    let csrf = csrf_of(&page.body);
    let contact = &records[records.find("href=\"/contacts/").unwrap() + 16..];
    let contact = &contact[..36];
    let forced = site
        .post(
            &format!("/emails/{id}/records/remove"),
            Some(&ben),
            &[("csrf", &csrf), ("record", &format!("contact:{contact}"))],
        )
        .await;
    assert_eq!(forced.status, StatusCode::FORBIDDEN, "{}", forced.body);
    let page = site.get(&format!("/emails/{id}"), Some(&cookie)).await;
    assert!(records_section(&page.body).contains(contact));
}
