//! The whole email (issue 14): `PUT /tracked-emails/{id}/source` with the raw RFC 822
//! message, kept whole and parsed; `GET /tracked-emails/{id}/attachments/{index}`. The
//! samples are `tests/fixtures/mime/*.eml` (CRLF, as Gmail's "Show original" serves them);
//! the `*.bin` files beside them are their attachments' original bytes.

use std::io::Read;

use axum::body::{Body, Bytes};
use axum::http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use threadline_server::AppState;
use tower::ServiceExt;

use crate::common::{track_body, Answer, TestApp};

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mime")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Ann (the owner), her colleague Ben, the contact Bob, documents in a temporary folder.
struct Mail {
    app: TestApp,
    data_dir: TempDir,
    ben: String,
    contact: Value,
}

impl Mail {
    async fn new() -> Mail {
        let mut app = TestApp::new().await;
        let data_dir = tempfile::tempdir().expect("a temporary directory");
        app.router =
            threadline_server::router(AppState::with_data_dir(app.db.clone(), data_dir.path()));
        let ben = app.colleague("ben@ourco.com").await;
        let contact = app.bob_at_acme().await;
        Mail {
            app,
            data_dir,
            ben,
            contact,
        }
    }

    /// `token` tracks a message under `gmail_id`, `visibility`: the entry (as GET shows it).
    async fn track(&self, token: &str, gmail_id: &str, visibility: &str) -> Value {
        let mut body = track_body(&[gmail_id], &[&self.contact]);
        body["visibility"] = json!(visibility);
        let answer = self
            .app
            .post_as(token, "/api/v1/tracked-emails", body)
            .await;
        assert!(answer.status.is_success(), "{}", answer.body);
        let id = answer.body["tracked_email"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        self.app
            .get_as(token, &format!("/api/v1/tracked-emails/{id}"))
            .await
            .body
    }

    async fn put_source(&self, token: &str, id: &Value, raw: Vec<u8>) -> Answer {
        let request = Request::put(format!(
            "/api/v1/tracked-emails/{}/source",
            id.as_str().unwrap()
        ))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "message/rfc822")
        .body(Body::from(raw))
        .expect("request");
        self.app.call(request).await
    }

    /// `PUT …/source` that must succeed: the entry.
    async fn source_ok(&self, token: &str, id: &Value, raw: Vec<u8>) -> Value {
        let answer = self.put_source(token, id, raw).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(answer.body["changed"], json!(true), "{}", answer.body);
        answer.body["tracked_email"].clone()
    }

    /// GET an attachment: status, headers and the raw bytes.
    async fn attachment(
        &self,
        token: &str,
        id: &Value,
        index: u32,
    ) -> (StatusCode, axum::http::HeaderMap, Bytes) {
        let request = Request::get(format!(
            "/api/v1/tracked-emails/{}/attachments/{index}",
            id.as_str().unwrap()
        ))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
        let response = self.app.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 26)
            .await
            .unwrap();
        (status, headers, bytes)
    }

    async fn timeline(&self, token: &str) -> Vec<Value> {
        let contact = self.contact["id"].as_str().unwrap();
        let answer = self
            .app
            .get_as(
                token,
                &format!("/api/v1/tracked-emails?record_kind=contact&record_id={contact}"),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body["items"].as_array().unwrap().clone()
    }
}

fn party(address: &str, name: Option<&str>) -> Value {
    match name {
        Some(n) => json!({ "address": address, "name": n }),
        None => json!({ "address": address }),
    }
}

#[tokio::test]
async fn multipart_alternative_with_encoded_words_is_parsed_onto_the_entry() {
    let mail = Mail::new().await;
    let token = mail.app.token.clone();
    let entry = mail.track(&token, "18f0a1", "private").await;
    let raw = fixture("alternative.eml");
    let email = mail.source_ok(&token, &entry["id"], raw.clone()).await;

    let source = &email["source"];
    assert_eq!(source["status"], "parsed");
    assert!(source.get("reason").is_none());
    assert_eq!(source["sha256"], json!(sha256(&raw)));
    assert_eq!(source["size"], json!(raw.len()));
    let h = &source["headers"];
    assert_eq!(h["message_id"], "CAB1x7=alt.0001@mail.acme.com");
    assert_eq!(h["in_reply_to"], json!(["CAA0-earlier@mail.ourco.com"]));
    assert_eq!(
        h["references"],
        json!(["CAA0-first@mail.ourco.com", "CAA0-earlier@mail.ourco.com"])
    );
    assert_eq!(h["from"], json!([party("bob@acme.com", Some("Boë Dürer"))]));
    assert_eq!(
        h["sender"],
        json!([party("mailer@acme.com", Some("Acme Mailer"))])
    );
    assert_eq!(
        h["reply_to"],
        json!([party("sales@acme.com", Some("Acme Sales"))])
    );
    assert_eq!(
        h["to"],
        json!([
            party("ann@ourco.com", Some("Ann Owner")),
            party("carol@ourco.com", None)
        ])
    );
    assert_eq!(
        h["cc"],
        json!([party("francois@acme.com", Some("François Léger"))])
    );
    assert_eq!(h["bcc"], json!([]));
    assert_eq!(h["date"], "2025-03-04T05:06:07Z");
    assert_eq!(h["subject"], "Quarterly numbers — Q1 résumé");

    // The entry: the source's fields replace the page's.
    assert_eq!(email["subject"], "Quarterly numbers — Q1 résumé");
    assert_eq!(email["from"], party("bob@acme.com", Some("Boë Dürer")));
    assert_eq!(email["cc"], h["cc"]);
    assert_eq!(email["sent_at"], "2025-03-04T05:06:07Z");
    assert_eq!(email["rfc_message_id"], "CAB1x7=alt.0001@mail.acme.com");
    let ids: Vec<&str> = email["message_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(ids.contains(&"18f0a1") && ids.contains(&"CAB1x7=alt.0001@mail.acme.com"));
    let text = "Hi Ann,\r\n\r\nhere they are: revenue € 1.2M, up 8 %.\r\n\r\nBoë";
    assert_eq!(email["body_text"], text);
    let html = email["html_body"].as_str().unwrap();
    assert!(
        html.starts_with("<div dir=\"ltr\"><p>Hi Ann,</p>"),
        "{html}"
    );
    assert_eq!(source["text_bytes"], json!(text.len()));
    assert_eq!(source["html_bytes"], json!(html.len()));
    assert_eq!(email["attachments"], json!([]));
    assert_eq!(email["version"], json!(2), "{email}");

    // The same through GET.
    let got = mail
        .app
        .get_as(
            &token,
            &format!("/api/v1/tracked-emails/{}", entry["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(got.body["source"], email["source"]);
}

#[tokio::test]
async fn non_utf8_charsets_are_decoded() {
    let mail = Mail::new().await;
    let token = mail.app.token.clone();
    let cases = [
        (
            "latin1.eml",
            "Grüße aus Köln – Angebot",
            party("juergen@acme.de", Some("Jürgen Müller")),
            "anbei die Preise für Köln: 12 °C, 5 ½ Tage.",
        ),
        (
            "shift-jis.eml",
            "見積書の件",
            party("yamada@example.jp", Some("山田")),
            "見積書をお送りします。",
        ),
    ];
    for (i, (file, subject, from, excerpt)) in cases.into_iter().enumerate() {
        let entry = mail.track(&token, &format!("2a{i}"), "private").await;
        let email = mail.source_ok(&token, &entry["id"], fixture(file)).await;
        assert_eq!(email["source"]["status"], "parsed", "{file}");
        assert_eq!(email["subject"], subject, "{file}");
        assert_eq!(email["from"], from, "{file}");
        let body = email["body_text"].as_str().unwrap();
        assert!(body.contains(excerpt), "{file}: {body}");
    }
}

#[tokio::test]
async fn attachments_are_listed_and_download_as_the_originals() {
    let mail = Mail::new().await;
    let token = mail.app.token.clone();
    let entry = mail.track(&token, "3b01", "private").await;
    let email = mail
        .source_ok(&token, &entry["id"], fixture("attachments.eml"))
        .await;
    assert_eq!(
        email["source"]["headers"]["bcc"],
        json!([party("archive@ourco.com", None)])
    );
    assert_eq!(email["body_text"], "Please find the offer attached.");
    let pdf = fixture("offer.pdf.bin");
    let notes = fixture("notes.txt.bin");
    assert_eq!(
        email["attachments"],
        json!([
            {
                "index": 0, "name": "Offerte € Zürich.pdf", "content_type": "application/pdf",
                "size": pdf.len(), "sha256": sha256(&pdf), "inline": false, "stored": true
            },
            {
                "index": 1, "name": "notes.txt", "content_type": "text/plain; charset=utf-8",
                "size": notes.len(), "sha256": sha256(&notes), "inline": false, "stored": true
            },
            {
                "index": 2, "name": ".._.._etc_passwd", "content_type": "application/octet-stream",
                "size": 11, "sha256": sha256(b"root:x:0:0\n"), "inline": false, "stored": true
            }
        ])
    );
    let (status, headers, bytes) = mail.attachment(&token, &entry["id"], 0).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&bytes[..], &pdf[..]);
    assert_eq!(headers[header::CONTENT_TYPE], "application/pdf");
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"Offerte _ Z_rich.pdf\"; \
         filename*=UTF-8''Offerte%20%E2%82%AC%20Z%C3%BCrich.pdf"
    );
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let (_, headers, bytes) = mail.attachment(&token, &entry["id"], 1).await;
    assert_eq!(&bytes[..], &notes[..]);
    assert_eq!(headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    let (_, headers, _) = mail.attachment(&token, &entry["id"], 2).await;
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\".._.._etc_passwd\"; filename*=UTF-8''.._.._etc_passwd"
    );
    let (status, _, _) = mail.attachment(&token, &entry["id"], 3).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = mail.attachment(&token, &entry["id"], u32::MAX).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The inline image, with its Content-ID.
    let entry = mail.track(&token, "3b02", "private").await;
    let email = mail
        .source_ok(&token, &entry["id"], fixture("inline-image.eml"))
        .await;
    let png = fixture("logo.png.bin");
    assert_eq!(
        email["attachments"],
        json!([{
            "index": 0, "name": "logo.png", "content_type": "image/png", "size": png.len(),
            "sha256": sha256(&png), "inline": true, "content_id": "logo.0002@acme.com",
            "stored": true
        }])
    );
    assert!(email["html_body"]
        .as_str()
        .unwrap()
        .contains("cid:logo.0002@acme.com"));
    assert_eq!(email["body_text"], "Our new logo is below.");
    let (status, headers, bytes) = mail.attachment(&token, &entry["id"], 0).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&bytes[..], &png[..]);
    assert_eq!(headers[header::CONTENT_TYPE], "image/png");
}

#[tokio::test]
async fn a_private_entrys_attachments_never_reach_a_colleague() {
    let mail = Mail::new().await;
    let ann = mail.app.token.clone();
    let private = mail.track(&ann, "4c01", "private").await;
    mail.source_ok(&ann, &private["id"], fixture("attachments.eml"))
        .await;
    let shared = mail.track(&ann, "4c02", "shared").await;
    mail.source_ok(&ann, &shared["id"], fixture("inline-image.eml"))
        .await;

    // Ben sees the private entry redacted: no source, no attachments, and cannot download.
    let seen = mail
        .app
        .get_as(
            &mail.ben,
            &format!("/api/v1/tracked-emails/{}", private["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(seen.body["redacted"], json!(true), "{}", seen.body);
    let text = seen.body.to_string();
    assert!(
        !text.contains("attachments") && !text.contains("Offerte"),
        "{text}"
    );
    for index in 0..3 {
        let (status, _, bytes) = mail.attachment(&mail.ben, &private["id"], index).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(!String::from_utf8_lossy(&bytes).contains("PDF"));
    }
    let timeline = serde_json::to_string(&mail.timeline(&mail.ben).await).unwrap();
    assert!(!timeline.contains("Offerte") && !timeline.contains("notes.txt"));

    // Nor can he send a source for it (nor for the shared one: neither is his).
    for entry in [&private, &shared] {
        let answer = mail
            .put_source(&mail.ben, &entry["id"], fixture("alternative.eml"))
            .await;
        answer.assert_error(StatusCode::NOT_FOUND, "not_found", None);
    }

    // The shared one he reads, attachments included.
    let (status, _, bytes) = mail.attachment(&mail.ben, &shared["id"], 0).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&bytes[..], &fixture("logo.png.bin")[..]);
    let seen = mail
        .app
        .get_as(
            &mail.ben,
            &format!("/api/v1/tracked-emails/{}", shared["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(seen.body["attachments"][0]["name"], "logo.png");
}

#[tokio::test]
async fn two_users_sending_the_same_source_share_one_timeline_entry() {
    // Whoever sends the source first, both entries end as one email.
    for ann_first in [true, false] {
        let mail = Mail::new().await;
        let ann = mail.app.token.clone();
        // Each mailbox has its own Gmail id for the message.
        let ann_entry = mail.track(&ann, "5d0a", "shared").await;
        let ben_entry = mail.track(&mail.ben, "5d0b", "private").await;
        assert_ne!(ann_entry["email_id"], ben_entry["email_id"]);
        assert_eq!(mail.timeline(&ann).await.len(), 2);

        let raw = fixture("alternative.eml");
        let order = if ann_first {
            [(&ann, &ann_entry), (&mail.ben, &ben_entry)]
        } else {
            [(&mail.ben, &ben_entry), (&ann, &ann_entry)]
        };
        for (token, entry) in order {
            mail.source_ok(token, &entry["id"], raw.clone()).await;
        }
        for token in [&ann, &mail.ben] {
            let timeline = mail.timeline(token).await;
            assert_eq!(timeline.len(), 1, "ann first: {ann_first}: {timeline:#?}");
            // Each reader is shown their own entry.
            let own = if token == &ann {
                &ann_entry
            } else {
                &ben_entry
            };
            assert_eq!(timeline[0]["id"], own["id"]);
        }
        let get = |token: String, id: Value| {
            let app = &mail.app;
            async move {
                app.get_as(
                    &token,
                    &format!("/api/v1/tracked-emails/{}", id.as_str().unwrap()),
                )
                .await
                .body
            }
        };
        let a = get(ann.clone(), ann_entry["id"].clone()).await;
        let b = get(mail.ben.clone(), ben_entry["id"].clone()).await;
        assert_eq!(a["email_id"], b["email_id"], "ann first: {ann_first}");
        // The bar's state finds the one email by the RFC id too.
        let state = mail
            .app
            .post_as(
                &ann,
                "/api/v1/tracked-emails/state",
                json!({ "messages": [{ "ids": ["<CAB1x7=alt.0001@mail.acme.com>"] }] }),
            )
            .await;
        assert_eq!(
            state.body["messages"][0]["tracked_email"]["id"],
            ann_entry["id"]
        );
    }
}

#[tokio::test]
async fn the_same_source_again_changes_nothing() {
    let mail = Mail::new().await;
    let token = mail.app.token.clone();
    let entry = mail.track(&token, "6e01", "private").await;
    let raw = fixture("attachments.eml");
    let first = mail.source_ok(&token, &entry["id"], raw.clone()).await;
    let sources = mail.app.count("tracked_email_sources").await;
    let attachments = mail.app.count("tracked_email_attachments").await;
    let changes = mail.app.count("changes").await;
    let again = mail.put_source(&token, &entry["id"], raw).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["changed"], json!(false));
    assert_eq!(again.body["tracked_email"], first);
    assert_eq!(mail.app.count("tracked_email_sources").await, sources);
    assert_eq!(
        mail.app.count("tracked_email_attachments").await,
        attachments
    );
    assert_eq!(mail.app.count("changes").await, changes);

    // Another message's source for this entry is refused; nothing changes.
    let other = mail
        .put_source(&token, &entry["id"], fixture("latin1.eml"))
        .await;
    other.assert_error(StatusCode::CONFLICT, "source_mismatch", None);
    let now = mail
        .app
        .get_as(
            &token,
            &format!("/api/v1/tracked-emails/{}", entry["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(now.body, first);
}

#[tokio::test]
async fn a_source_over_the_limit_is_refused_and_nothing_is_kept() {
    let mail = Mail::new().await;
    let token = mail.app.token.clone();
    let entry = mail.track(&token, "7f01", "private").await;
    let limit = threadline_server::email_source::MAX_SOURCE_BYTES;
    let path = format!(
        "/api/v1/tracked-emails/{}/source",
        entry["id"].as_str().unwrap()
    );

    // Declared too large: refused before the body is read.
    let request = Request::builder()
        .method(Method::PUT)
        .uri(&path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "message/rfc822")
        .header(header::CONTENT_LENGTH, (limit + 1).to_string())
        .body(Body::empty())
        .unwrap();
    let answer = mail.app.call(request).await;
    answer.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", None);

    // Streamed without a length: counted as it comes.
    let chunk = Bytes::from(vec![b'a'; 1 << 20]);
    let chunks = (limit >> 20) as usize + 1;
    let stream =
        futures_util::stream::iter(std::iter::repeat_n(chunk, chunks).map(Ok::<_, std::io::Error>));
    let request = Request::builder()
        .method(Method::PUT)
        .uri(&path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "message/rfc822")
        .body(Body::from_stream(stream))
        .unwrap();
    let answer = mail.app.call(request).await;
    answer.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", None);
    assert_eq!(mail.app.count("tracked_email_sources").await, 0);

    // An empty body is no message.
    let answer = mail.put_source(&token, &entry["id"], Vec::new()).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
}

#[tokio::test]
async fn a_malformed_message_is_kept_raw_and_the_entry_keeps_the_page_content() {
    let mail = Mail::new().await;
    let token = mail.app.token.clone();
    let entry = mail.track(&token, "8a01", "private").await;
    let raw = fixture("malformed.eml");
    let email = mail.source_ok(&token, &entry["id"], raw.clone()).await;
    assert_eq!(email["source"]["status"], "unparsed");
    let reason = email["source"]["reason"].as_str().unwrap();
    assert!(reason.contains("not an RFC 822 message"), "{reason}");
    for field in [
        "subject",
        "from",
        "to",
        "cc",
        "sent_at",
        "body_text",
        "message_ids",
        "rfc_message_id",
        "email_id",
    ] {
        assert_eq!(email[field], entry[field], "{field}");
    }
    assert_eq!(email["attachments"], json!([]));

    // Kept whole: the stored content is the message, gzip-compressed.
    let (blob,): (String,) = sqlx::query_as("SELECT blob_sha256 FROM tracked_email_sources")
        .fetch_one(mail.app.pool())
        .await
        .unwrap();
    let path = mail
        .data_dir
        .path()
        .join("blobs")
        .join(&blob[0..2])
        .join(&blob[2..4])
        .join(&blob);
    let mut kept = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut kept)
        .unwrap();
    assert_eq!(kept, raw);

    // A parsed source later completes the entry.
    let email = mail
        .source_ok(&token, &entry["id"], fixture("latin1.eml"))
        .await;
    assert_eq!(email["source"]["status"], "parsed");
    assert_eq!(email["subject"], "Grüße aus Köln – Angebot");
}
