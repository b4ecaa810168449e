//! The fake Drive API v3 driven over real HTTP with reqwest, as Threadline's file sync
//! would drive Google's.

use std::time::Duration;

use reqwest::header::{CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use threadline_fake_providers::google::{GoogleFault, OAuthClient, RateLimitReason};
use threadline_fake_providers::{FakeProviders, Fault, FaultRule, Times};

const ME: &str = "ann@example.com";
const CLIENT_ID: &str = "cid.apps.googleusercontent.com";
const FOLDER: &str = "application/vnd.google-apps.folder";
const CHUNK: usize = 256 * 1024;

struct Setup {
    fake: FakeProviders,
    http: Client,
    token: String,
}

async fn setup() -> Setup {
    let fake = FakeProviders::start().await;
    let google = fake.google();
    google.add_user(ME);
    google.add_client(OAuthClient {
        client_id: CLIENT_ID.into(),
        client_secret: "s3cret".into(),
        redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
    });
    let token = google.issue_tokens(CLIENT_ID, ME, &["drive"]).access_token;
    Setup {
        fake,
        http: Client::new(),
        token,
    }
}

fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest;
    md5::Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Setup {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.fake.base_url())
    }

    async fn call_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, self.url(path))
            .bearer_auth(token)
            .query(query);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("an answer");
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_as(&self.token, method, path, query, body).await
    }

    /// files.create (metadata only), every field back.
    async fn create(&self, metadata: Value) -> Value {
        let (status, file) = self
            .call(
                Method::POST,
                "/drive/v3/files",
                &[("fields", "*")],
                Some(metadata),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{file}");
        file
    }

    async fn folder(&self, name: &str, parent: &str) -> String {
        let file = self
            .create(json!({"name": name, "mimeType": FOLDER, "parents": [parent]}))
            .await;
        file["id"].as_str().unwrap().to_string()
    }

    async fn get(&self, id: &str, fields: &str) -> (StatusCode, Value) {
        self.call(
            Method::GET,
            &format!("/drive/v3/files/{id}"),
            &[("fields", fields)],
            None,
        )
        .await
    }

    async fn patch(&self, id: &str, query: &[(&str, &str)], body: Value) -> (StatusCode, Value) {
        let mut query = query.to_vec();
        query.push(("fields", "*"));
        self.call(
            Method::PATCH,
            &format!("/drive/v3/files/{id}"),
            &query,
            Some(body),
        )
        .await
    }

    async fn list(&self, query: &[(&str, &str)]) -> (StatusCode, Value) {
        self.call(Method::GET, "/drive/v3/files", query, None).await
    }

    /// Every name a query lists, paging through.
    async fn names(&self, q: &str) -> Vec<String> {
        let mut names = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut query = vec![
                ("q", q),
                ("fields", "nextPageToken,files(name)"),
                ("pageSize", "2"),
            ];
            if let Some(t) = &page_token {
                query.push(("pageToken", t));
            }
            let (status, page) = self.list(&query).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            for f in page["files"].as_array().unwrap() {
                names.push(f["name"].as_str().unwrap().to_string());
            }
            match page["nextPageToken"].as_str() {
                Some(t) => page_token = Some(t.to_string()),
                None => return names,
            }
        }
    }

    /// A multipart create (or, with `id`, update) with this metadata and content.
    async fn multipart(&self, id: Option<&str>, metadata: Value, content: &[u8]) -> Value {
        let boundary = "b0undary_x";
        let mut body = format!(
            "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{metadata}\r\n--{boundary}\r\nContent-Type: text/plain\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(content);
        body.extend_from_slice(format!("\r\n--{boundary}--").as_bytes());
        let (method, path) = match id {
            None => (Method::POST, "/upload/drive/v3/files".to_string()),
            Some(id) => (Method::PATCH, format!("/upload/drive/v3/files/{id}")),
        };
        let response = self
            .http
            .request(method, self.url(&path))
            .bearer_auth(&self.token)
            .query(&[("uploadType", "multipart"), ("fields", "*")])
            .header(
                CONTENT_TYPE,
                format!("multipart/related; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn download(&self, id: &str) -> (StatusCode, Vec<u8>) {
        let response = self
            .http
            .get(self.url(&format!("/drive/v3/files/{id}")))
            .bearer_auth(&self.token)
            .query(&[("alt", "media")])
            .send()
            .await
            .unwrap();
        (response.status(), response.bytes().await.unwrap().to_vec())
    }

    /// Opens a resumable session; returns the session URI.
    async fn start_resumable(&self, metadata: Value, total: Option<usize>) -> String {
        let mut request = self
            .http
            .post(self.url("/upload/drive/v3/files"))
            .bearer_auth(&self.token)
            .query(&[("uploadType", "resumable"), ("fields", "*")])
            .header("X-Upload-Content-Type", "application/pdf")
            .json(&metadata);
        if let Some(total) = total {
            request = request.header("X-Upload-Content-Length", total);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.headers()[LOCATION].to_str().unwrap().to_string()
    }

    /// One `PUT` to a session URI, as sent (an error when no answer came within `timeout`).
    async fn try_put(
        &self,
        session: &str,
        content_range: &str,
        chunk: Vec<u8>,
        timeout: Duration,
    ) -> reqwest::Result<reqwest::Response> {
        self.http
            .put(session)
            .header(CONTENT_RANGE, content_range)
            .body(chunk)
            .timeout(timeout)
            .send()
            .await
    }

    /// One `PUT` to a session URI; the status and the `Range` header answered.
    async fn put(
        &self,
        session: &str,
        content_range: &str,
        chunk: Vec<u8>,
    ) -> (StatusCode, Option<String>, Value) {
        let response = self
            .try_put(session, content_range, chunk, Duration::from_secs(60))
            .await
            .unwrap();
        let status = response.status();
        let range = response
            .headers()
            .get(RANGE)
            .map(|v| v.to_str().unwrap().to_string());
        let text = response.text().await.unwrap();
        (
            status,
            range,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }
}

/// Google's v1 envelope: status, reason, location if given.
fn assert_error(status: StatusCode, body: &Value, want: u16, reason: &str, location: Option<&str>) {
    assert_eq!(status.as_u16(), want, "{body}");
    assert_eq!(body["error"]["code"], want, "{body}");
    let item = &body["error"]["errors"][0];
    assert_eq!(item["reason"], reason, "{body}");
    assert_eq!(item["location"].as_str(), location, "{body}");
    assert_eq!(item["message"], body["error"]["message"], "{body}");
}

#[tokio::test]
async fn folders_are_found_by_app_properties_and_listed_with_q_fields_and_pages() {
    let s = setup().await;
    let root = s.folder("Threadline", "root").await;
    let company = s
        .create(json!({
            "name": "Acme", "mimeType": FOLDER, "parents": [root],
            "appProperties": {"crmType": "company", "crmId": "12"},
        }))
        .await;
    // Duplicate names in one folder are allowed, as in Drive.
    let twin = s
        .create(json!({"name": "Acme", "mimeType": FOLDER, "parents": [root]}))
        .await;
    assert_ne!(company["id"], twin["id"]);
    assert_eq!(company["parents"], json!([root]));
    assert_eq!(
        company["version"]
            .as_str()
            .map(|v| v.parse::<u64>().is_ok()),
        Some(true)
    );
    assert!(company.get("size").is_none() && company.get("md5Checksum").is_none());
    for name in ["a.txt", "b.txt", "O'Brien \\ notes.txt"] {
        s.create(json!({"name": name, "mimeType": "text/plain", "parents": [company["id"]]}))
            .await;
    }

    let q = "appProperties has { key='crmId' and value='12' } and trashed = false";
    let (status, page) = s
        .list(&[("q", q), ("fields", "files(id,name,appProperties)")])
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        page,
        json!({"files": [{"id": company["id"], "name": "Acme",
            "appProperties": {"crmType": "company", "crmId": "12"}}]})
    );
    let in_company = format!(
        "'{}' in parents and trashed = false",
        company["id"].as_str().unwrap()
    );
    assert_eq!(
        s.names(&in_company).await,
        ["a.txt", "b.txt", "O'Brien \\ notes.txt"],
        "three files over two pages of two"
    );
    assert_eq!(
        s.names(r"name = 'O\'Brien \\ notes.txt'").await,
        ["O'Brien \\ notes.txt"]
    );
    let folders = format!("'{root}' in parents and mimeType = '{FOLDER}' and not name != 'Acme'");
    assert_eq!(s.names(&folders).await, ["Acme", "Acme"]);
    assert_eq!(
        s.names(&format!(
            "({in_company}) and (name = 'a.txt' or name contains 'bri')"
        ))
        .await,
        ["a.txt", "O'Brien \\ notes.txt"],
        "contains: a prefix of the name or of one of its words"
    );

    // Without fields: Drive's default set.
    let (_, page) = s.list(&[("q", "name = 'a.txt'")]).await;
    let file = &page["files"][0];
    let mut keys: Vec<&str> = file
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["id", "kind", "mimeType", "name"]);
    assert_eq!(page["kind"], "drive#fileList");
    assert_eq!(page["incompleteSearch"], false);

    // Refusals, in Google's envelope.
    let (status, body) = s.list(&[("q", "name = 'unterminated")]).await;
    assert_error(status, &body, 400, "invalid", Some("q"));
    let (status, body) = s.list(&[("fields", "files(id,title)")]).await;
    assert_error(status, &body, 400, "invalidParameter", Some("fields"));
    assert_eq!(body["error"]["message"], "Invalid field selection title");
    let (status, body) = s.list(&[("pageSize", "1001")]).await;
    assert_error(status, &body, 400, "invalid", Some("pageSize"));
    let (status, body) = s.list(&[("pageToken", "garbage")]).await;
    assert_error(status, &body, 400, "invalid", Some("pageToken"));
    // A page token belongs to its query.
    let (_, first) = s.list(&[("q", &in_company), ("pageSize", "1")]).await;
    let token = first["nextPageToken"].as_str().unwrap();
    let (status, body) = s
        .list(&[("q", "trashed = false"), ("pageToken", token)])
        .await;
    assert_error(status, &body, 400, "invalid", Some("pageToken"));
}

#[tokio::test]
async fn files_are_renamed_moved_trashed_and_deleted_with_a_new_version_each_time() {
    let s = setup().await;
    let a = s.folder("A", "root").await;
    let b = s.folder("B", "root").await;
    let file = s
        .create(
            json!({"name": "n.txt", "mimeType": "text/plain", "parents": [a],
            "appProperties": {"k": "v", "gone": "x"}}),
        )
        .await;
    let id = file["id"].as_str().unwrap();
    let version = |f: &Value| f["version"].as_str().unwrap().parse::<u64>().unwrap();

    let (status, renamed) = s
        .patch(
            id,
            &[],
            json!({"name": "m.txt", "appProperties": {"gone": null, "new": "1"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["name"], "m.txt");
    assert_eq!(renamed["appProperties"], json!({"k": "v", "new": "1"}));
    assert!(version(&renamed) > version(&file));
    assert_eq!(
        renamed["headRevisionId"], file["headRevisionId"],
        "no new content"
    );

    let (status, moved) = s
        .patch(id, &[("addParents", &b), ("removeParents", &a)], json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["parents"], json!([b]));
    assert_eq!(moved["id"], file["id"], "a move keeps the id");
    assert!(version(&moved) > version(&renamed));

    // Parents only through addParents/removeParents; one parent at most.
    let (status, body) = s.patch(id, &[], json!({"parents": [a]})).await;
    assert_error(status, &body, 403, "fieldNotWritable", None);
    let (status, body) = s.patch(id, &[("addParents", &a)], json!({})).await;
    assert_error(status, &body, 403, "cannotAddParent", None);
    let (status, body) = s.patch(id, &[], json!({"md5Checksum": "x"})).await;
    assert_error(status, &body, 403, "fieldNotWritable", None);
    let (status, body) = s.patch(id, &[("addParents", "nope")], json!({})).await;
    assert_error(status, &body, 404, "notFound", Some("fileId"));

    // Trashing a folder trashes what is in it (not explicitly).
    let (status, trashed) = s.patch(&b, &[], json!({"trashed": true})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            trashed["trashed"].clone(),
            trashed["explicitlyTrashed"].clone()
        ),
        (json!(true), json!(true))
    );
    let (_, inside) = s.get(id, "trashed,explicitlyTrashed").await;
    assert_eq!(inside, json!({"trashed": true, "explicitlyTrashed": false}));
    assert_eq!(s.names("trashed = false").await, ["A"]);
    assert_eq!(s.names("trashed = true").await, ["B", "m.txt"]);

    // Restore, then delete for good: 204, then 404 in Google's envelope.
    s.patch(&b, &[], json!({"trashed": false})).await;
    let (_, inside) = s.get(id, "trashed").await;
    assert_eq!(inside, json!({"trashed": false}));
    let (status, _) = s
        .call(Method::DELETE, &format!("/drive/v3/files/{b}"), &[], None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = s.get(id, "id").await;
    assert_error(status, &body, 404, "notFound", Some("fileId"));
    assert_eq!(body["error"]["message"], format!("File not found: {id}."));

    // emptyTrash deletes the trashed ones only.
    s.patch(&a, &[], json!({"trashed": true})).await;
    let keep = s.folder("Keep", "root").await;
    let (status, _) = s
        .call(Method::DELETE, "/drive/v3/files/trash", &[], None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(s.get(&a, "id").await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.get(&keep, "id").await.0, StatusCode::OK);
}

#[tokio::test]
async fn multipart_uploads_download_and_a_new_revision_on_new_content() {
    let s = setup().await;
    let file = s
        .multipart(
            None,
            json!({"name": "notes.txt", "parents": ["root"]}),
            b"hello drive",
        )
        .await;
    let id = file["id"].as_str().unwrap();
    assert_eq!(file["mimeType"], "text/plain", "the media part's type");
    assert_eq!(file["size"], "11", "int64 as a string");
    assert_eq!(file["md5Checksum"], md5_hex(b"hello drive"));
    assert_eq!(file["sha256Checksum"].as_str().map(str::len), Some(64));
    assert_eq!(file["sha1Checksum"].as_str().map(str::len), Some(40));
    assert_eq!(
        s.download(id).await,
        (StatusCode::OK, b"hello drive".to_vec())
    );

    let updated = s.multipart(Some(id), json!({}), b"hello again").await;
    assert_eq!(updated["id"], file["id"]);
    assert_eq!(updated["md5Checksum"], md5_hex(b"hello again"));
    assert_ne!(updated["headRevisionId"], file["headRevisionId"]);
    assert!(
        updated["version"].as_str().unwrap().parse::<u64>().unwrap()
            > file["version"].as_str().unwrap().parse::<u64>().unwrap()
    );
    assert_eq!(s.download(id).await.1, b"hello again");

    // A part of it, as a resumed download asks.
    let response = s
        .http
        .get(s.url(&format!("/drive/v3/files/{id}")))
        .bearer_auth(&s.token)
        .query(&[("alt", "media")])
        .header(RANGE, "bytes=6-")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(response.bytes().await.unwrap().as_ref(), b"again");

    // uploadType=media: the body is the content.
    let response = s
        .http
        .post(s.url("/upload/drive/v3/files"))
        .bearer_auth(&s.token)
        .query(&[("uploadType", "media"), ("fields", "name,mimeType,size")])
        .header(CONTENT_TYPE, "image/png")
        .body(vec![1u8, 2, 3])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"name": "Untitled", "mimeType": "image/png", "size": "3"})
    );
}

#[tokio::test]
async fn workspace_files_and_shortcuts_have_no_content() {
    let s = setup().await;
    let google = s.fake.google();
    let doc = google.add_google_doc(ME, None, "Plan", "application/vnd.google-apps.document");
    let pdf = google.add_drive_file(ME, None, "plan.pdf", "application/pdf", b"%PDF".to_vec());
    let link = google.add_drive_shortcut(ME, None, "plan link", &pdf);

    let (status, body) = s.download(&doc).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_error(status, &body, 403, "fileNotDownloadable", Some("alt"));
    assert_eq!(s.download(&link).await.0, StatusCode::FORBIDDEN);

    let (_, meta) = s.get(&doc, "*").await;
    for absent in ["size", "md5Checksum", "sha256Checksum", "headRevisionId"] {
        assert!(meta.get(absent).is_none(), "{absent}: {meta}");
    }
    let (_, meta) = s.get(&link, "mimeType,shortcutDetails").await;
    assert_eq!(
        meta,
        json!({"mimeType": "application/vnd.google-apps.shortcut",
            "shortcutDetails": {"targetId": pdf, "targetMimeType": "application/pdf"}})
    );
    let (_, meta) = s.get(&pdf, "size,md5Checksum").await;
    assert_eq!(meta, json!({"size": "4", "md5Checksum": md5_hex(b"%PDF")}));
}

#[tokio::test]
async fn a_resumable_upload_of_50_mib_resumes_after_an_interrupted_chunk() {
    let s = setup().await;
    let total = 50 * 1024 * 1024;
    let content: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
    let session = s
        .start_resumable(
            json!({"name": "big.pdf", "appProperties": {"crmId": "9"}}),
            Some(total),
        )
        .await;
    assert!(session.contains("upload_id="), "{session}");
    let step = 32 * CHUNK; // 8 MiB

    // Nothing stored yet: 308 without Range.
    let (status, range, _) = s
        .put(&session, &format!("bytes */{total}"), Vec::new())
        .await;
    assert_eq!((status.as_u16(), range), (308, None));

    let (status, range, _) = s
        .put(
            &session,
            &format!("bytes 0-{}/{total}", step - 1),
            content[..step].to_vec(),
        )
        .await;
    assert_eq!(
        (status.as_u16(), range.as_deref()),
        (308, Some(&*format!("bytes=0-{}", step - 1)))
    );

    // The next chunk hangs (nothing stored); the client gives up and asks for the status.
    s.fake
        .faults()
        .inject(FaultRule::new(Fault::Hang).on("PUT", "/upload/drive/v3/files"));
    let second = format!("bytes {step}-{}/{total}", 2 * step - 1);
    let second_chunk = || content[step..2 * step].to_vec();
    let attempt = s
        .try_put(
            &session,
            &second,
            second_chunk(),
            Duration::from_millis(500),
        )
        .await;
    assert!(attempt.is_err(), "held, then given up");
    let (_, range, _) = s
        .put(&session, &format!("bytes */{total}"), Vec::new())
        .await;
    assert_eq!(range.as_deref(), Some(&*format!("bytes=0-{}", step - 1)));

    // The answer to the next one is lost after it was stored; resending it adds nothing twice.
    s.fake
        .faults()
        .inject(FaultRule::new(Fault::DropResponseAfterCommit).on("PUT", "/upload/drive/v3/files"));
    let lost = s
        .try_put(&session, &second, second_chunk(), Duration::from_secs(60))
        .await;
    assert!(lost.is_err());
    let (status, range, _) = s.put(&session, &second, second_chunk()).await;
    assert_eq!(
        (status.as_u16(), range.as_deref()),
        (308, Some(&*format!("bytes=0-{}", 2 * step - 1)))
    );

    // A chunk that is not a multiple of 256 KiB (and not the last) is refused.
    let (status, _, body) = s
        .put(
            &session,
            &format!("bytes {}-{}/{total}", 2 * step, 2 * step + 999),
            content[2 * step..2 * step + 1000].to_vec(),
        )
        .await;
    assert_error(status, &body, 400, "badRequest", None);

    let mut at = 2 * step;
    let mut last = (StatusCode::OK, None, Value::Null);
    while at < total {
        let end = (at + step).min(total);
        last = s
            .put(
                &session,
                &format!("bytes {at}-{}/{total}", end - 1),
                content[at..end].to_vec(),
            )
            .await;
        at = end;
    }
    let (status, _, file) = last;
    assert_eq!(status, StatusCode::CREATED, "{file}");
    assert_eq!(file["size"], total.to_string());
    assert_eq!(file["md5Checksum"], md5_hex(&content));
    assert_eq!(file["mimeType"], "application/pdf", "X-Upload-Content-Type");
    assert_eq!(file["appProperties"], json!({"crmId": "9"}));
    let id = file["id"].as_str().unwrap();

    // Stored once: every read shares the same bytes.
    let google = s.fake.google();
    let one = google.drive_file(ME, id).unwrap().content.unwrap();
    let two = google.drive_file(ME, id).unwrap().content.unwrap();
    assert_eq!(one.as_ptr(), two.as_ptr());
    assert_eq!(one.len(), total);
    assert_eq!(google.drive_upload_sessions(), 0);

    // A finished session answers with the file; an expired one 404.
    let (status, _, again) = s
        .put(&session, &format!("bytes */{total}"), Vec::new())
        .await;
    assert_eq!(
        (status, again["id"].clone()),
        (StatusCode::CREATED, json!(id))
    );
    google.expire_drive_upload_sessions();
    let (status, _, _) = s
        .put(&session, &format!("bytes */{total}"), Vec::new())
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, downloaded) = s.download(id).await;
    assert_eq!(status, StatusCode::OK);
    assert!(downloaded == content);
}

#[tokio::test]
async fn a_resumable_update_replaces_the_content_with_an_unknown_total_until_the_end() {
    let s = setup().await;
    let file = s.multipart(None, json!({"name": "a.bin"}), b"old").await;
    let id = file["id"].as_str().unwrap();
    let response = s
        .http
        .patch(s.url(&format!("/upload/drive/v3/files/{id}")))
        .bearer_auth(&s.token)
        .query(&[
            ("uploadType", "resumable"),
            ("fields", "id,size,md5Checksum,headRevisionId"),
        ])
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let session = response.headers()[LOCATION].to_str().unwrap().to_string();
    let content = vec![7u8; CHUNK + 10];
    let (status, range, _) = s
        .put(
            &session,
            &format!("bytes 0-{}/*", CHUNK - 1),
            content[..CHUNK].to_vec(),
        )
        .await;
    assert_eq!(
        (status.as_u16(), range.as_deref()),
        (308, Some(&*format!("bytes=0-{}", CHUNK - 1)))
    );
    let (status, _, updated) = s
        .put(
            &session,
            &format!("bytes {CHUNK}-{}/{}", CHUNK + 9, CHUNK + 10),
            content[CHUNK..].to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "an update ends with 200: {updated}");
    assert_eq!(updated["id"], file["id"]);
    assert_eq!(updated["size"], (CHUNK + 10).to_string());
    assert_eq!(updated["md5Checksum"], md5_hex(&content));
    assert_ne!(updated["headRevisionId"], file["headRevisionId"]);
}

#[tokio::test]
async fn changes_from_a_start_page_token_page_and_report_trash_and_removal() {
    let s = setup().await;
    let google = s.fake.google();
    let (status, start) = s
        .call(Method::GET, "/drive/v3/changes/startPageToken", &[], None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(start["kind"], "drive#startPageToken");
    let start = start["startPageToken"].as_str().unwrap().to_string();

    let folder = google.add_drive_folder(ME, None, "Acme");
    let kept = google.add_drive_file(ME, Some(&folder), "kept.txt", "text/plain", b"1".to_vec());
    let trashed = google.add_drive_file(
        ME,
        Some(&folder),
        "trashed.txt",
        "text/plain",
        b"2".to_vec(),
    );
    let deleted = google.add_drive_file(
        ME,
        Some(&folder),
        "deleted.txt",
        "text/plain",
        b"3".to_vec(),
    );
    google.edit_drive_file(ME, &kept, b"1b".to_vec());
    google.trash_drive_file(ME, &trashed, true);
    google.delete_drive_file(ME, &deleted);

    let fields =
        "nextPageToken,newStartPageToken,changes(fileId,removed,file(name,trashed,md5Checksum))";
    let mut token = start.clone();
    let mut seen = Vec::new();
    let new_start = loop {
        let (status, page) = s
            .call(
                Method::GET,
                "/drive/v3/changes",
                &[("pageToken", &token), ("pageSize", "2"), ("fields", fields)],
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(page["changes"].as_array().unwrap().iter().cloned());
        match (
            page["nextPageToken"].as_str(),
            page["newStartPageToken"].as_str(),
        ) {
            (Some(next), None) => token = next.to_string(),
            (None, Some(new_start)) => break new_start.to_string(),
            _ => panic!("one of them on each page: {page}"),
        }
    };
    assert_eq!(
        seen.len(),
        4,
        "each file once, at its latest state: {seen:?}"
    );
    let of = |id: &str| seen.iter().find(|c| c["fileId"] == id).cloned().unwrap();
    assert_eq!(of(&kept)["file"]["md5Checksum"], md5_hex(b"1b"));
    assert_eq!(of(&trashed)["file"]["trashed"], true);
    assert_eq!(of(&trashed)["removed"], false);
    assert_eq!(of(&deleted), json!({"fileId": deleted, "removed": true}));
    assert_eq!(of(&folder)["file"]["name"], "Acme");

    // Nothing since: one page, the same start.
    let (_, page) = s
        .call(
            Method::GET,
            "/drive/v3/changes",
            &[("pageToken", &new_start)],
            None,
        )
        .await;
    assert_eq!(page["changes"], json!([]));
    assert_eq!(page["newStartPageToken"], json!(new_start));
    assert_eq!(page["kind"], "drive#changeList");

    // includeRemoved=false leaves deletions out.
    let (_, page) = s
        .call(
            Method::GET,
            "/drive/v3/changes",
            &[
                ("pageToken", &start),
                ("includeRemoved", "false"),
                ("fields", "changes(fileId)"),
            ],
            None,
        )
        .await;
    assert_eq!(page["changes"].as_array().unwrap().len(), 3);

    // A move out of the folder is a change of the file, with its new parents.
    google.move_drive_file(ME, &kept, None);
    let (_, page) = s
        .call(
            Method::GET,
            "/drive/v3/changes",
            &[
                ("pageToken", &new_start),
                ("fields", "changes(fileId,file(parents))"),
            ],
            None,
        )
        .await;
    assert_eq!(
        page["changes"],
        json!([{"fileId": kept, "file": {"parents": [google.drive_root(ME)]}}])
    );

    // Refusals: no token; a token from before a reset.
    let (status, body) = s.call(Method::GET, "/drive/v3/changes", &[], None).await;
    assert_error(status, &body, 400, "required", Some("pageToken"));
    google.reset_drive_changes(ME);
    let (status, body) = s
        .call(
            Method::GET,
            "/drive/v3/changes",
            &[("pageToken", &new_start)],
            None,
        )
        .await;
    assert_error(status, &body, 400, "invalid", Some("pageToken"));

    // The start token of a Drive where nothing changed since is refused by a reset too;
    // the one issued after it is accepted.
    let (_, body) = s
        .call(Method::GET, "/drive/v3/changes/startPageToken", &[], None)
        .await;
    let quiet = body["startPageToken"].as_str().unwrap().to_string();
    google.reset_drive_changes(ME);
    let (status, body) = s
        .call(
            Method::GET,
            "/drive/v3/changes",
            &[("pageToken", &quiet)],
            None,
        )
        .await;
    assert_error(status, &body, 400, "invalid", Some("pageToken"));
    let (_, body) = s
        .call(Method::GET, "/drive/v3/changes/startPageToken", &[], None)
        .await;
    let fresh = body["startPageToken"].as_str().unwrap().to_string();
    assert_ne!(fresh, quiet);
    let (status, body) = s
        .call(
            Method::GET,
            "/drive/v3/changes",
            &[("pageToken", &fresh)],
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["changes"], json!([]));
}

#[tokio::test]
async fn scopes_decide_what_a_token_sees() {
    let s = setup().await;
    let google = s.fake.google();
    let users = google.add_drive_file(ME, None, "by hand.txt", "text/plain", b"u".to_vec());
    let calendar_only = google
        .issue_tokens(CLIENT_ID, ME, &["calendar"])
        .access_token;
    let (status, body) = s
        .call_as(&calendar_only, Method::GET, "/drive/v3/files", &[], None)
        .await;
    assert_error(status, &body, 403, "insufficientPermissions", None);

    // drive.file: the app's own files only.
    let app = google
        .issue_tokens(CLIENT_ID, ME, &["drive.file"])
        .access_token;
    let (status, made) = s
        .call_as(
            &app,
            Method::POST,
            "/drive/v3/files",
            &[],
            Some(json!({"name": "mine"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let (_, page) = s
        .call_as(
            &app,
            Method::GET,
            "/drive/v3/files",
            &[("fields", "files(name)")],
            None,
        )
        .await;
    assert_eq!(page, json!({"files": [{"name": "mine"}]}));
    let (status, _) = s
        .call_as(
            &app,
            Method::GET,
            &format!("/drive/v3/files/{users}"),
            &[],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = s
        .call_as(&app, Method::DELETE, "/drive/v3/files/trash", &[], None)
        .await;
    assert_error(status, &body, 403, "insufficientPermissions", None);
    google.open_drive_file_with_app(ME, &users);
    let (status, _) = s
        .call_as(
            &app,
            Method::GET,
            &format!("/drive/v3/files/{users}"),
            &[],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // The full scope sees everything; no token is 401.
    assert_eq!(s.names("trashed = false").await.len(), 2);
    let (status, body) = s
        .call_as("", Method::GET, "/drive/v3/files", &[], None)
        .await;
    assert_error(status, &body, 401, "authError", Some("Authorization"));

    // about.get needs fields.
    let (status, body) = s.call(Method::GET, "/drive/v3/about", &[], None).await;
    assert_error(status, &body, 400, "required", Some("fields"));
    let (_, about) = s
        .call(
            Method::GET,
            "/drive/v3/about",
            &[("fields", "user(emailAddress),storageQuota(usage)")],
            None,
        )
        .await;
    assert_eq!(
        about,
        json!({"user": {"emailAddress": ME}, "storageQuota": {"usage": "1"}})
    );
}

#[tokio::test]
async fn faults_answer_in_googles_envelope_on_drive_routes() {
    let s = setup().await;
    let faults = s.fake.faults();
    faults.inject(
        FaultRule::new(Fault::Google(GoogleFault::RateLimited403(
            RateLimitReason::UserRateLimitExceeded,
        )))
        .on("GET", "/drive/v3/files"),
    );
    faults.inject(
        FaultRule::new(Fault::TooManyRequests {
            retry_after: Some(3),
        })
        .on("GET", "/drive/v3/files"),
    );
    faults.inject(
        FaultRule::new(Fault::BackendError)
            .on("GET", "/drive/v3/changes/**")
            .times(Times::Once),
    );
    let (status, body) = s.list(&[]).await;
    assert_error(status, &body, 403, "userRateLimitExceeded", None);
    let (status, body) = s.list(&[]).await;
    assert_error(status, &body, 429, "rateLimitExceeded", None);
    assert_eq!(s.list(&[]).await.0, StatusCode::OK);
    let (status, body) = s
        .call(Method::GET, "/drive/v3/changes/startPageToken", &[], None)
        .await;
    assert_error(status, &body, 500, "backendError", None);
    faults.inject(
        FaultRule::new(Fault::Google(GoogleFault::ExpiredSyncToken)).on("GET", "/drive/v3/changes"),
    );
    let (status, body) = s
        .call(
            Method::GET,
            "/drive/v3/changes",
            &[("pageToken", "1")],
            None,
        )
        .await;
    assert_error(status, &body, 400, "invalid", Some("pageToken"));

    // A create whose answer is lost was made: a retry must look before creating again.
    faults.inject(FaultRule::new(Fault::DropResponseAfterCommit).on("POST", "/drive/v3/files"));
    let lost = s
        .http
        .post(s.url("/drive/v3/files"))
        .bearer_auth(&s.token)
        .json(&json!({"name": "Acme", "mimeType": FOLDER, "appProperties": {"crmId": "1"}}))
        .send()
        .await;
    assert!(lost.is_err());
    assert_eq!(
        s.names("appProperties has { key='crmId' and value='1' }")
            .await,
        ["Acme"]
    );

    // A write held after it committed: made, though the client gave up.
    faults.inject(FaultRule::new(Fault::HangAfterCommit).on("PATCH", "/drive/v3/files/*"));
    let id = s.fake.google().add_drive_folder(ME, None, "old");
    let held = s
        .http
        .patch(s.url(&format!("/drive/v3/files/{id}")))
        .bearer_auth(&s.token)
        .json(&json!({"name": "new"}))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(held.is_err());
    assert_eq!(s.get(&id, "name").await.1, json!({"name": "new"}));

    // The request log, per endpoint.
    let log = s.fake.log();
    assert_eq!(log.count("GET", "/drive/v3/files"), 3 + 1);
    assert_eq!(log.count("POST", "/drive/v3/files"), 1);
    assert_eq!(log.count("PATCH", "/drive/v3/files/{fileId}"), 1);
}
