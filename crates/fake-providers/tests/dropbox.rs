//! The fake Dropbox API v2 driven over real HTTP with reqwest, as Threadline's file sync
//! would drive Dropbox's.

use std::time::Duration;

use base64::Engine;
use reqwest::header::HeaderMap;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use threadline_fake_providers::dropbox::oauth::SYNC_SCOPES;
use threadline_fake_providers::dropbox::{DropboxApp, DropboxFault};
use threadline_fake_providers::{FakeProviders, Fault, FaultRule, Times};

const ME: &str = "ann@example.com";
const OTHER: &str = "bob@example.com";
const APP_KEY: &str = "threadline-app-key";
const APP_SECRET: &str = "threadline-app-secret";
const REDIRECT: &str = "http://127.0.0.1:9/oauth/dropbox/callback";
const APP: &str = "/Apps/Threadline CRM";
const EMPTY_HASH: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Tests that move many megabytes take this, so the memory test measures only itself.
static BIG: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn scopes() -> Vec<String> {
    SYNC_SCOPES.map(String::from).to_vec()
}

struct Setup {
    fake: FakeProviders,
    http: Client,
    token: String,
}

async fn setup() -> Setup {
    let fake = FakeProviders::start().await;
    let dropbox = fake.dropbox();
    dropbox.add_account(ME);
    dropbox.add_account(OTHER);
    dropbox.add_app(DropboxApp {
        app_key: APP_KEY.into(),
        app_secret: APP_SECRET.into(),
        name: "Threadline CRM".into(),
        redirect_uris: vec![REDIRECT.into()],
        scopes: scopes(),
    });
    let token = dropbox.issue_tokens(APP_KEY, ME).access_token;
    Setup {
        fake,
        http: Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        token,
    }
}

/// JSON made safe for an HTTP header, as the official JS SDK does it: every character from
/// 0x7F as `\uXXXX` (UTF-16 units).
fn header_safe(value: &Value) -> String {
    let mut out = String::new();
    for c in value.to_string().chars() {
        if (c as u32) < 0x7f {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

fn parse(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

impl Setup {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.fake.base_url())
    }

    async fn rpc_as(&self, token: &str, route: &str, arg: Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.url(&format!("/2/{route}")))
            .bearer_auth(token)
            .json(&arg)
            .send()
            .await
            .expect("an answer");
        let status = response.status();
        (status, parse(response.text().await.unwrap()))
    }

    async fn rpc(&self, route: &str, arg: Value) -> (StatusCode, Value) {
        self.rpc_as(&self.token, route, arg).await
    }

    /// A successful RPC call's result.
    async fn ok(&self, route: &str, arg: Value) -> Value {
        let (status, body) = self.rpc(route, arg).await;
        assert_eq!(status, StatusCode::OK, "{route}: {body}");
        body
    }

    /// A content route with `Dropbox-API-Arg` as given (raw bytes allowed).
    async fn content_raw(
        &self,
        route: &str,
        arg: Vec<u8>,
        data: Vec<u8>,
    ) -> (StatusCode, HeaderMap, Vec<u8>) {
        let response = self
            .http
            .post(self.url(&format!("/2/{route}")))
            .bearer_auth(&self.token)
            .header(
                "Dropbox-API-Arg",
                reqwest::header::HeaderValue::from_bytes(&arg).unwrap(),
            )
            .header("Content-Type", "application/octet-stream")
            .body(data)
            .send()
            .await
            .expect("an answer");
        let (status, headers) = (response.status(), response.headers().clone());
        (status, headers, response.bytes().await.unwrap().to_vec())
    }

    async fn content(&self, route: &str, arg: Value, data: Vec<u8>) -> (StatusCode, Value) {
        let (status, _, body) = self
            .content_raw(route, header_safe(&arg).into_bytes(), data)
            .await;
        (status, parse(String::from_utf8(body).unwrap()))
    }

    async fn upload(&self, arg: Value, data: &[u8]) -> (StatusCode, Value) {
        self.content("files/upload", arg, data.to_vec()).await
    }

    async fn upload_ok(&self, path: &str, data: &[u8]) -> Value {
        let (status, body) = self.upload(json!({"path": path}), data).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Status, the `Dropbox-API-Result` metadata and the bytes.
    async fn download(&self, path: &str) -> (StatusCode, Value, Vec<u8>) {
        let response = self
            .http
            .post(self.url("/2/files/download"))
            .bearer_auth(&self.token)
            .header("Dropbox-API-Arg", header_safe(&json!({"path": path})))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let result = response
            .headers()
            .get("dropbox-api-result")
            .map(|v| serde_json::from_str(v.to_str().expect("ASCII")).unwrap())
            .unwrap_or(Value::Null);
        let body = response.bytes().await.unwrap().to_vec();
        if status != StatusCode::OK {
            return (status, parse(String::from_utf8(body).unwrap()), vec![]);
        }
        (status, result, body)
    }

    /// Every page of a listing from `list_folder` to `has_more: false`: entries and the
    /// final cursor.
    async fn list_all(&self, arg: Value) -> (Vec<Value>, String) {
        let mut page = self.ok("files/list_folder", arg).await;
        let mut entries = Vec::new();
        loop {
            entries.extend(page["entries"].as_array().unwrap().iter().cloned());
            let cursor = page["cursor"].as_str().unwrap().to_string();
            if page["has_more"] == json!(false) {
                return (entries, cursor);
            }
            page = self
                .ok("files/list_folder/continue", json!({"cursor": cursor}))
                .await;
        }
    }

    /// Every change after `cursor`, through as many pages as it takes.
    async fn changes(&self, cursor: &str) -> (Vec<Value>, String) {
        let mut entries = Vec::new();
        let mut cursor = cursor.to_string();
        loop {
            let page = self
                .ok("files/list_folder/continue", json!({"cursor": cursor}))
                .await;
            entries.extend(page["entries"].as_array().unwrap().iter().cloned());
            cursor = page["cursor"].as_str().unwrap().to_string();
            if page["has_more"] == json!(false) {
                return (entries, cursor);
            }
        }
    }
}

/// `(.tag, path_display)` of listed entries.
fn listed(entries: &[Value]) -> Vec<(String, String)> {
    entries
        .iter()
        .map(|e| {
            (
                e[".tag"].as_str().unwrap().to_string(),
                e["path_display"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pair(tag: &str, path: &str) -> (String, String) {
    (tag.to_string(), path.to_string())
}

/// A 409's `error_summary` and `error`.
fn union(body: &Value) -> (&str, &Value) {
    (body["error_summary"].as_str().unwrap(), &body["error"])
}

fn pkce() -> (String, String) {
    let verifier = "v".repeat(20) + "-._~0123456789abcdefghijklmnop";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

#[tokio::test]
async fn oauth_code_flow_with_pkce_offline_refresh_and_revoke() {
    let s = setup().await;
    let (verifier, challenge) = pkce();
    let authorize = s
        .http
        .get(s.url("/oauth2/authorize"))
        .query(&[
            ("client_id", APP_KEY),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("state", "xyz"),
            ("token_access_type", "offline"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(authorize.status(), StatusCode::FOUND);
    let location = url::Url::parse(authorize.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(REDIRECT), "{location}");
    let query: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(query["state"], "xyz");
    let code = query["code"].clone();

    let token = |form: Vec<(&'static str, String)>| {
        let request = s.http.post(s.url("/oauth2/token")).form(&form);
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    let exchange = |verifier: &str| {
        vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code.clone()),
            ("client_id", APP_KEY.to_string()),
            ("redirect_uri", REDIRECT.to_string()),
            ("code_verifier", verifier.to_string()),
        ]
    };
    // A wrong verifier spends the code.
    let (status, body) = token(exchange(&"w".repeat(43))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, body) = token(exchange(&verifier)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    // Again, right: no client_secret needed with PKCE.
    let authorize = s
        .http
        .get(s.url("/oauth2/authorize"))
        .query(&[
            ("client_id", APP_KEY),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("token_access_type", "offline"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    let location = url::Url::parse(authorize.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let (status, tokens) = token(vec![
        ("grant_type", "authorization_code".into()),
        ("code", code),
        ("client_id", APP_KEY.into()),
        ("redirect_uri", REDIRECT.into()),
        ("code_verifier", verifier.clone()),
    ])
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "bearer");
    assert_eq!(tokens["expires_in"], 14400);
    assert_eq!(tokens["scope"], scopes().join(" "));
    let account_id = tokens["account_id"].as_str().unwrap();
    assert!(
        account_id.starts_with("dbid:") && account_id.len() == 40,
        "{account_id}"
    );
    assert!(tokens["uid"].is_string());
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();

    let (status, me) = s
        .rpc_as(&access, "users/get_current_account", Value::Null)
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["account_id"], account_id);
    assert_eq!(me["email"], ME);

    // Refresh: a new access token, the refresh token not rotated.
    let (status, refreshed) = token(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", refresh.clone()),
        ("client_id", APP_KEY.into()),
    ])
    .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!(refreshed["token_type"], "bearer");
    assert_eq!(refreshed["expires_in"], 14400);
    assert!(refreshed.get("refresh_token").is_none());
    let second = refreshed["access_token"].as_str().unwrap().to_string();
    assert_ne!(second, access);

    // Expired tokens: 401 expired_access_token.
    s.fake.dropbox().expire_access_tokens();
    let (status, body) = s
        .rpc_as(&second, "users/get_current_account", Value::Null)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(union(&body).0, "expired_access_token/..");

    // Revoke: the token, its refresh token and its siblings are gone.
    let (_, fresh) = token(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", refresh.clone()),
        ("client_id", APP_KEY.into()),
    ])
    .await;
    let fresh = fresh["access_token"].as_str().unwrap().to_string();
    let response = s
        .http
        .post(s.url("/2/auth/token/revoke"))
        .bearer_auth(&fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "null");
    let (status, body) = s
        .rpc_as(&fresh, "users/get_current_account", Value::Null)
        .await;
    assert_eq!(
        (status, union(&body).0),
        (StatusCode::UNAUTHORIZED, "invalid_access_token/..")
    );
    let (status, body) = token(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", refresh),
        ("client_id", APP_KEY.into()),
    ])
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn the_bearer_check_and_scopes() {
    let s = setup().await;
    let response = s
        .http
        .post(s.url("/2/files/list_folder"))
        .json(&json!({"path": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.text().await.unwrap(),
        "Error in call to API function \"files/list_folder\": Must provide HTTP header \"Authorization\" or URL parameter \"authorization\"."
    );
    let (status, body) = s
        .rpc_as("nope", "files/list_folder", json!({"path": ""}))
        .await;
    assert_eq!(
        (status, union(&body).0),
        (StatusCode::UNAUTHORIZED, "invalid_access_token/..")
    );

    // A token with fewer scopes: 401 missing_scope naming the one needed.
    let dropbox = s.fake.dropbox();
    dropbox.add_app(DropboxApp {
        app_key: "reader".into(),
        app_secret: "s".into(),
        name: "Reader".into(),
        redirect_uris: vec![],
        scopes: vec!["files.metadata.read".into()],
    });
    let reader = dropbox.issue_tokens("reader", ME).access_token;
    let (status, body) = s
        .rpc_as(&reader, "files/create_folder_v2", json!({"path": "/x"}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body["error"],
        json!({".tag": "missing_scope", "required_scope": "files.content.write"})
    );

    // An RPC body must be declared JSON.
    let response = s
        .http
        .post(s.url("/2/files/list_folder"))
        .bearer_auth(&s.token)
        .header("Content-Type", "text/plain")
        .body(r#"{"path": ""}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response
        .text()
        .await
        .unwrap()
        .starts_with("Error in call to API function \"files/list_folder\": Bad HTTP \"Content-Type\" header: \"text/plain\"."));
    // A missing required field.
    let (status, body) = s.rpc("files/list_folder", json!({"recursive": true})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.as_str().unwrap().contains("missing field `path`"),
        "{body}"
    );
}

#[tokio::test]
async fn get_current_account_is_a_full_account() {
    let s = setup().await;
    let me = s.ok("users/get_current_account", Value::Null).await;
    for field in [
        "given_name",
        "surname",
        "familiar_name",
        "display_name",
        "abbreviated_name",
    ] {
        assert!(me["name"][field].is_string(), "{field}: {me}");
    }
    assert_eq!(me["email_verified"], true);
    assert_eq!(me["disabled"], false);
    assert_eq!(me["account_type"], json!({".tag": "basic"}));
    assert_eq!(me["root_info"][".tag"], "user");
    assert_eq!(
        me["root_info"]["root_namespace_id"],
        me["root_info"]["home_namespace_id"]
    );
    assert!(me["locale"].is_string() && me["referral_link"].is_string());
    assert_eq!(me["is_paired"], false);
}

#[tokio::test]
async fn listing_pages_continue_and_the_latest_cursor() {
    let s = setup().await;
    let dropbox = s.fake.dropbox();
    dropbox.put_file(ME, &format!("{APP}/Companies/Acme/a.txt"), "a");
    dropbox.put_file(ME, &format!("{APP}/Companies/Acme/b.txt"), "b");
    dropbox.put_file(ME, &format!("{APP}/Projects/p.txt"), "p");
    // Outside the app folder: never seen.
    dropbox.put_file(ME, "/Private/secret.txt", "s");

    let (entries, cursor) = s
        .list_all(json!({"path": "", "recursive": true, "limit": 2}))
        .await;
    let mut got = listed(&entries);
    got.sort();
    assert_eq!(
        got,
        vec![
            pair("file", "/Companies/Acme/a.txt"),
            pair("file", "/Companies/Acme/b.txt"),
            pair("file", "/Projects/p.txt"),
            pair("folder", "/Companies"),
            pair("folder", "/Companies/Acme"),
            pair("folder", "/Projects"),
        ]
    );
    // Parents come before their children.
    let position = |p: &str| entries.iter().position(|e| e["path_display"] == p).unwrap();
    assert!(position("/Companies") < position("/Companies/Acme"));
    assert!(position("/Companies/Acme") < position("/Companies/Acme/a.txt"));
    assert_eq!(
        s.fake.log().count("POST", "/2/files/list_folder/continue"),
        2
    );

    // Nothing changed: an empty page, a cursor to keep.
    let (changes, cursor) = s.changes(&cursor).await;
    assert!(changes.is_empty());

    // The user edits, adds, deletes and moves in Dropbox.
    dropbox.put_file(ME, &format!("{APP}/Companies/Acme/a.txt"), "a2");
    dropbox.put_file(ME, &format!("{APP}/Companies/New.txt"), "n");
    dropbox.delete(ME, &format!("{APP}/Projects"));
    dropbox.move_path(
        ME,
        &format!("{APP}/Companies/Acme/b.txt"),
        &format!("{APP}/b.txt"),
    );
    let (changes, cursor) = s.changes(&cursor).await;
    let mut got = listed(&changes);
    got.sort();
    assert_eq!(
        got,
        vec![
            pair("deleted", "/Companies/Acme/b.txt"),
            pair("deleted", "/Projects"),
            pair("file", "/Companies/Acme/a.txt"),
            pair("file", "/Companies/New.txt"),
            pair("file", "/b.txt"),
        ]
    );
    let deleted = changes.iter().find(|e| e[".tag"] == "deleted").unwrap();
    assert_eq!(
        deleted.as_object().unwrap().keys().collect::<Vec<_>>(),
        vec![".tag", "name", "path_display", "path_lower"],
        "DeletedMetadata has no id"
    );

    // A non-recursive listing of a folder: its direct children only.
    let (entries, _) = s.list_all(json!({"path": "/companies"})).await;
    let mut got = listed(&entries);
    got.sort();
    assert_eq!(
        got,
        vec![
            pair("file", "/Companies/New.txt"),
            pair("folder", "/Companies/Acme")
        ]
    );

    // get_latest_cursor: no entries, only what changes after.
    let latest = s
        .ok(
            "files/list_folder/get_latest_cursor",
            json!({"path": "", "recursive": true}),
        )
        .await;
    assert_eq!(latest.as_object().unwrap().len(), 1);
    dropbox.put_file(ME, &format!("{APP}/later.txt"), "l");
    let (changes, _) = s.changes(latest["cursor"].as_str().unwrap()).await;
    assert_eq!(listed(&changes), vec![pair("file", "/later.txt")]);

    // include_deleted on a first listing lists what was deleted before.
    let (entries, _) = s
        .list_all(json!({"path": "", "recursive": true, "include_deleted": true}))
        .await;
    assert!(listed(&entries).contains(&pair("deleted", "/Projects")));

    // Expired cursors: 409 reset.
    dropbox.expire_cursors(ME);
    let (status, body) = s
        .rpc("files/list_folder/continue", json!({"cursor": cursor}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(union(&body), ("reset/..", &json!({".tag": "reset"})));

    // Listing errors.
    let (status, body) = s
        .rpc("files/list_folder", json!({"path": "/nowhere"}))
        .await;
    assert_eq!(
        (status, union(&body).0),
        (StatusCode::CONFLICT, "path/not_found/..")
    );
    let (status, body) = s.rpc("files/list_folder", json!({"path": "/b.txt"})).await;
    assert_eq!(
        (status, union(&body).0),
        (StatusCode::CONFLICT, "path/not_folder/..")
    );
    let (status, body) = s.rpc("files/list_folder", json!({"path": "/"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body
        .as_str()
        .unwrap()
        .contains("Specify the root folder as an empty string"));
    let (status, _) = s
        .rpc("files/list_folder/continue", json!({"cursor": "garbage"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_recursive_listing_of_a_folder_lists_it_first_and_a_deleted_root_is_not_found() {
    let s = setup().await;
    s.fake
        .dropbox()
        .put_file(ME, &format!("{APP}/Companies/Acme/a.txt"), "a");
    let (entries, cursor) = s
        .list_all(json!({"path": "/Companies", "recursive": true}))
        .await;
    assert_eq!(
        listed(&entries),
        vec![
            pair("folder", "/Companies"),
            pair("folder", "/Companies/Acme"),
            pair("file", "/Companies/Acme/a.txt"),
        ]
    );
    s.fake.dropbox().delete(ME, &format!("{APP}/Companies"));
    let (status, body) = s
        .rpc("files/list_folder/continue", json!({"cursor": cursor}))
        .await;
    assert_eq!(
        (status, union(&body).0),
        (StatusCode::CONFLICT, "path/not_found/..")
    );
}

#[tokio::test]
async fn get_metadata_by_path_and_id_with_deleted_entries() {
    let s = setup().await;
    let file = s.upload_ok("/Docs/Report.pdf", b"pdf").await;
    let by_path = s
        .ok("files/get_metadata", json!({"path": "/docs/report.PDF"}))
        .await;
    assert_eq!(by_path[".tag"], "file");
    assert_eq!(by_path["id"], file["id"]);
    assert_eq!(by_path["path_display"], "/Docs/Report.pdf");
    assert_eq!(by_path["path_lower"], "/docs/report.pdf");
    let by_id = s
        .ok("files/get_metadata", json!({"path": file["id"]}))
        .await;
    assert_eq!(by_id, by_path);
    let folder = s.ok("files/get_metadata", json!({"path": "/Docs"})).await;
    assert_eq!(
        folder.as_object().unwrap().keys().collect::<Vec<_>>(),
        vec![".tag", "id", "name", "path_display", "path_lower"]
    );

    s.ok("files/delete_v2", json!({"path": "/Docs/Report.pdf"}))
        .await;
    let (status, body) = s
        .rpc("files/get_metadata", json!({"path": "/Docs/Report.pdf"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        union(&body),
        (
            "path/not_found/..",
            &json!({".tag": "path", "path": {".tag": "not_found"}})
        )
    );
    let deleted = s
        .ok(
            "files/get_metadata",
            json!({"path": "/Docs/Report.pdf", "include_deleted": true}),
        )
        .await;
    assert_eq!(deleted[".tag"], "deleted");
    let (status, _) = s.rpc("files/get_metadata", json!({"path": ""})).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the root's metadata is unsupported"
    );
    let (status, body) = s.rpc("files/get_metadata", json!({"path": "/a//b"})).await;
    assert_eq!(
        (status, union(&body).0),
        (StatusCode::CONFLICT, "path/malformed_path/..")
    );
    let (status, _) = s
        .rpc("files/get_metadata", json!({"path": "relative"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Another account's id names nothing here.
    let theirs = s.fake.dropbox().put_file(OTHER, "/x.txt", "x");
    let (status, _) = s
        .rpc("files/get_metadata", json!({"path": theirs["id"]}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn create_folder_v2_with_conflicts_and_autorename() {
    let s = setup().await;
    let created = s
        .ok("files/create_folder_v2", json!({"path": "/Companies/Acme"}))
        .await;
    let metadata = &created["metadata"];
    assert!(
        metadata.get(".tag").is_none(),
        "FolderMetadata, not the union: {metadata}"
    );
    assert_eq!(metadata["name"], "Acme");
    assert!(metadata["id"].as_str().unwrap().starts_with("id:"));
    assert_eq!(
        s.fake
            .dropbox()
            .metadata(ME, &format!("{APP}/Companies"))
            .unwrap()[".tag"],
        "folder",
        "parents are made"
    );
    let (status, body) = s
        .rpc("files/create_folder_v2", json!({"path": "/companies/ACME"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        union(&body),
        (
            "path/conflict/folder/..",
            &json!({".tag": "path", "path": {".tag": "conflict", "conflict": {".tag": "folder"}}})
        )
    );
    let renamed = s
        .ok(
            "files/create_folder_v2",
            json!({"path": "/Companies/Acme", "autorename": true}),
        )
        .await;
    assert_eq!(renamed["metadata"]["path_display"], "/Companies/Acme (1)");
    s.upload_ok("/f.txt", b"f").await;
    let (_, body) = s
        .rpc("files/create_folder_v2", json!({"path": "/f.txt"}))
        .await;
    assert_eq!(union(&body).0, "path/conflict/file/..");
    let (_, body) = s
        .rpc("files/create_folder_v2", json!({"path": "/f.txt/sub"}))
        .await;
    assert_eq!(union(&body).0, "path/conflict/file_ancestor/..");
    let (_, body) = s
        .rpc("files/create_folder_v2", json!({"path": "/trailing/"}))
        .await;
    assert_eq!(union(&body).0, "path/malformed_path/..");
}

#[tokio::test]
async fn move_v2_keeps_ids_moves_content_and_refuses_conflicts() {
    let s = setup().await;
    let file = s.upload_ok("/Companies/Acme/contract.pdf", b"c").await;
    let folder = s
        .ok("files/get_metadata", json!({"path": "/Companies/Acme"}))
        .await;
    let (_, cursor) = s.list_all(json!({"path": "", "recursive": true})).await;

    // A record renamed: its folder moves with its content, by path.
    let moved = s
        .ok(
            "files/move_v2",
            json!({"from_path": "/Companies/Acme", "to_path": "/Companies/Acme Corp"}),
        )
        .await;
    assert_eq!(moved["metadata"][".tag"], "folder");
    assert_eq!(moved["metadata"]["id"], folder["id"]);
    let inside = s
        .ok("files/get_metadata", json!({"path": file["id"]}))
        .await;
    assert_eq!(inside["path_display"], "/Companies/Acme Corp/contract.pdf");
    assert_eq!(inside["rev"], file["rev"]);
    let (changes, _) = s.changes(&cursor).await;
    let mut got = listed(&changes);
    got.sort();
    assert_eq!(
        got,
        vec![
            pair("deleted", "/Companies/Acme"),
            pair("file", "/Companies/Acme Corp/contract.pdf"),
            pair("folder", "/Companies/Acme Corp"),
        ]
    );

    // By id.
    let by_id = s
        .ok(
            "files/move_v2",
            json!({"from_path": file["id"], "to_path": "/contract.pdf"}),
        )
        .await;
    assert_eq!(by_id["metadata"]["path_display"], "/contract.pdf");
    assert_eq!(by_id["metadata"]["id"], file["id"]);

    // Errors.
    let (status, body) = s
        .rpc(
            "files/move_v2",
            json!({"from_path": "/missing", "to_path": "/x"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        union(&body),
        (
            "from_lookup/not_found/..",
            &json!({".tag": "from_lookup", "from_lookup": {".tag": "not_found"}})
        )
    );
    s.upload_ok("/other.pdf", b"o").await;
    let (_, body) = s
        .rpc(
            "files/move_v2",
            json!({"from_path": "/contract.pdf", "to_path": "/OTHER.pdf"}),
        )
        .await;
    assert_eq!(union(&body).0, "to/conflict/file/..");
    let renamed = s
        .ok(
            "files/move_v2",
            json!({"from_path": "/contract.pdf", "to_path": "/other.pdf", "autorename": true}),
        )
        .await;
    assert_eq!(renamed["metadata"]["path_display"], "/other (1).pdf");
    let (_, body) = s
        .rpc(
            "files/move_v2",
            json!({"from_path": "/Companies", "to_path": "/Companies/In"}),
        )
        .await;
    assert_eq!(union(&body).0, "cant_move_folder_into_itself/..");
}

#[tokio::test]
async fn case_insensitive_paths_and_case_only_renames() {
    let s = setup().await;
    let file = s.upload_ok("/Docs/Report.PDF", b"r").await;
    assert_eq!(file["path_lower"], "/docs/report.pdf");
    // Another casing names the same file and folder; the stored casing stays.
    let (_, again) = s
        .upload(
            json!({"path": "/DOCS/report.pdf", "mode": "overwrite"}),
            b"r2",
        )
        .await;
    assert_eq!(again["id"], file["id"]);
    assert_eq!(again["path_display"], "/Docs/Report.PDF");
    let (status, body) = s
        .upload(json!({"path": "/docs/REPORT.pdf", "mode": "add"}), b"r3")
        .await;
    assert_eq!(
        (status, union(&body).0),
        (StatusCode::CONFLICT, "path/conflict/file/..")
    );
    let sibling = s.upload_ok("/docs/Other.txt", b"o").await;
    assert_eq!(
        sibling["path_display"], "/Docs/Other.txt",
        "the parent's casing is kept"
    );

    // move_v2 does not do case-only renames: 200, nothing changes.
    let (_, cursor) = s.list_all(json!({"path": "", "recursive": true})).await;
    let same = s
        .ok(
            "files/move_v2",
            json!({"from_path": "/Docs/Report.PDF", "to_path": "/Docs/report.pdf"}),
        )
        .await;
    assert_eq!(same["metadata"]["path_display"], "/Docs/Report.PDF");
    // Through another name it works, the id kept.
    s.ok(
        "files/move_v2",
        json!({"from_path": "/Docs/Report.PDF", "to_path": "/Docs/tmp"}),
    )
    .await;
    let done = s
        .ok(
            "files/move_v2",
            json!({"from_path": "/Docs/tmp", "to_path": "/Docs/report.pdf"}),
        )
        .await;
    assert_eq!(done["metadata"]["path_display"], "/Docs/report.pdf");
    assert_eq!(done["metadata"]["id"], file["id"]);
    let (changes, cursor) = s.changes(&cursor).await;
    assert!(listed(&changes).contains(&pair("file", "/Docs/report.pdf")));

    // The user renames the casing in Dropbox: shown by get_metadata, not by continue.
    s.fake
        .dropbox()
        .move_path(ME, &format!("{APP}/docs"), &format!("{APP}/DOCS"));
    let now = s
        .ok("files/get_metadata", json!({"path": file["id"]}))
        .await;
    assert_eq!(now["path_display"], "/DOCS/report.pdf");
    let (changes, _) = s.changes(&cursor).await;
    assert!(changes.is_empty(), "{changes:?}");

    // Unicode forms: NFD and NFC name the same file.
    let nfc = s.upload_ok("/caf\u{e9}.txt", b"c").await;
    let nfd = s
        .ok("files/get_metadata", json!({"path": "/CAFE\u{301}.txt"}))
        .await;
    assert_eq!(nfd["id"], nfc["id"]);
}

#[tokio::test]
async fn delete_v2_and_its_errors() {
    let s = setup().await;
    let file = s.upload_ok("/a/b.txt", b"b").await;
    let (status, body) = s
        .rpc(
            "files/delete_v2",
            json!({"path": "/a/b.txt", "parent_rev": "0123456789a"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(union(&body).0, "path_write/conflict/file/..");
    let (_, body) = s
        .rpc(
            "files/delete_v2",
            json!({"path": "/a", "parent_rev": file["rev"]}),
        )
        .await;
    assert_eq!(union(&body).0, "path_lookup/not_file/..");
    let deleted = s
        .ok(
            "files/delete_v2",
            json!({"path": "/a/b.txt", "parent_rev": file["rev"]}),
        )
        .await;
    assert_eq!(
        deleted["metadata"][".tag"], "file",
        "the metadata at deletion"
    );
    assert_eq!(deleted["metadata"]["id"], file["id"]);
    let (status, body) = s.rpc("files/delete_v2", json!({"path": "/a/b.txt"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        union(&body),
        (
            "path_lookup/not_found/..",
            &json!({".tag": "path_lookup", "path_lookup": {".tag": "not_found"}})
        )
    );
    // A folder with its content, by id.
    s.upload_ok("/f/x.txt", b"x").await;
    let folder = s.ok("files/get_metadata", json!({"path": "/f"})).await;
    let gone = s.ok("files/delete_v2", json!({"path": folder["id"]})).await;
    assert_eq!(gone["metadata"][".tag"], "folder");
    assert!(s
        .fake
        .dropbox()
        .metadata(ME, &format!("{APP}/f/x.txt"))
        .is_none());
}

#[tokio::test]
async fn upload_download_and_the_content_hash() {
    let s = setup().await;
    let uploaded = s
        .upload(
            json!({"path": "/Docs/a.txt", "mode": "add", "client_modified": "2024-01-02T03:04:05Z"}),
            b"hello",
        )
        .await
        .1;
    assert!(
        uploaded.get(".tag").is_none(),
        "FileMetadata, not the union"
    );
    assert_eq!(uploaded["size"], 5);
    assert_eq!(uploaded["client_modified"], "2024-01-02T03:04:05Z");
    let server = uploaded["server_modified"].as_str().unwrap();
    assert_eq!(server.len(), 20, "no fraction: {server}");
    let rev = uploaded["rev"].as_str().unwrap();
    assert!(
        rev.len() >= 9 && rev.bytes().all(|b| b.is_ascii_hexdigit()),
        "{rev}"
    );
    assert_eq!(uploaded["is_downloadable"], true);

    let (status, result, bytes) = s.download("/docs/A.TXT").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, b"hello");
    assert_eq!(result, uploaded);
    let (status, body, _) = s.download("/Docs/missing.txt").await;
    assert_eq!(
        (status, union(&body).0),
        (StatusCode::CONFLICT, "path/not_found/..")
    );
    let (_, body, _) = s.download("/Docs").await;
    assert_eq!(union(&body).0, "path/not_file/..");

    // The empty file's hash is the spec's example value.
    assert_eq!(s.upload_ok("/empty", b"").await["content_hash"], EMPTY_HASH);
    // A wrong content_hash is refused, nothing written.
    let (status, body) = s
        .upload(json!({"path": "/h.txt", "content_hash": EMPTY_HASH}), b"x")
        .await;
    assert_eq!(
        (status, union(&body).0),
        (StatusCode::CONFLICT, "content_hash_mismatch/..")
    );
    assert!(s
        .fake
        .dropbox()
        .metadata(ME, &format!("{APP}/h.txt"))
        .is_none());
}

/// `files/download` takes a `ReadPath`, which may be `rev:<rev>` (`files.stone`): that
/// revision's bytes and metadata, after the file was replaced, moved, and deleted too.
#[tokio::test]
async fn downloads_by_rev_read_that_revision() {
    let s = setup().await;
    let first = s.upload_ok("/Rev/doc.txt", b"first").await;
    let (status, second) = s
        .upload(
            json!({"path": "/Rev/doc.txt", "mode": {".tag": "update", "update": first["rev"]}}),
            b"second",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let by_rev = |meta: &Value| format!("rev:{}", meta["rev"].as_str().unwrap());

    let (status, result, bytes) = s.download(&by_rev(&first)).await;
    assert_eq!((status, bytes.as_slice()), (StatusCode::OK, &b"first"[..]));
    assert_eq!(result["rev"], first["rev"]);
    assert_eq!(result["id"], first["id"]);
    let (_, result, bytes) = s.download(&by_rev(&second)).await;
    assert_eq!((bytes.as_slice(), &result), (&b"second"[..], &second));

    // Moved: the current rev answers the file where it is now.
    s.ok(
        "files/move_v2",
        json!({"from_path": "/Rev/doc.txt", "to_path": "/Rev/moved.txt"}),
    )
    .await;
    let (_, result, bytes) = s.download(&by_rev(&second)).await;
    assert_eq!(bytes, b"second");
    assert_eq!(result["path_display"], "/Rev/moved.txt");

    // Deleted: its revisions can still be read.
    s.ok("files/delete_v2", json!({"path": "/Rev/moved.txt"}))
        .await;
    let (status, _, bytes) = s.download(&by_rev(&first)).await;
    assert_eq!((status, bytes.as_slice()), (StatusCode::OK, &b"first"[..]));

    let (status, body, _) = s.download("rev:0123456789abcdef").await;
    assert_eq!(
        (status, union(&body).0),
        (StatusCode::CONFLICT, "path/not_found/..")
    );
    // A revision outside the app's folder is not found.
    let (status, body, _) = {
        let outside = s
            .fake
            .dropbox()
            .put_file(ME, "/private.txt", b"secret".to_vec());
        s.download(&by_rev(&outside)).await
    };
    assert_eq!(
        (status, union(&body).0),
        (StatusCode::CONFLICT, "path/not_found/..")
    );
}

/// Dropbox's algorithm over three 4 MiB blocks (the last short): SHA-256 of the blocks'
/// SHA-256s. The expected value was computed apart from the fake (Python's hashlib, as the
/// official hasher's reference does), so a wrong block size, a plain SHA-256 or a hex of the
/// concatenation would all fail here.
#[tokio::test]
async fn the_content_hash_is_dropboxs_block_hash() {
    let _big = BIG.lock().await;
    let s = setup().await;
    let block = 4 * 1024 * 1024;
    let data: Vec<u8> = (0..2 * block + 1000)
        .map(|i| ((i * 31 + 7) % 256) as u8)
        .collect();
    assert_eq!(
        hex(&Sha256::digest(&data)),
        "efc8307981e6703670159a0b2b300c492dbd0d4c79b109e6ef8a091ccf9fe2d5",
        "the same bytes as the vector"
    );
    let uploaded = s.upload_ok("/big.bin", &data).await;
    assert_eq!(
        uploaded["content_hash"],
        "a861748e60ddb1ed782753d17619384985753c53d97ce7d89cdea17f29d1e974"
    );
    assert_eq!(uploaded["size"], data.len());
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn the_api_arg_header_must_be_ascii_escaped() {
    let s = setup().await;
    // Escaped: accepted, the name as meant.
    let arg = header_safe(&json!({"path": "/Café/Ünïcødé 😀.txt"}));
    assert!(arg.is_ascii() && arg.contains("\\u00e9") && arg.contains("\\ud83d"));
    let (status, _, body) = s
        .content_raw("files/upload", arg.into_bytes(), b"u".to_vec())
        .await;
    assert_eq!(status, StatusCode::OK);
    let uploaded: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(uploaded["path_display"], "/Café/Ünïcødé 😀.txt");

    // Raw UTF-8 in the header: refused, as Dropbox refuses it.
    let raw = json!({"path": "/Café/raw.txt"}).to_string().into_bytes();
    let (status, _, body) = s.content_raw("files/upload", raw, b"r".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "Error in call to API function \"files/upload\": HTTP header \"Dropbox-API-Arg\": could not decode input as JSON"
    );
    assert!(s
        .fake
        .dropbox()
        .metadata(ME, &format!("{APP}/Café/raw.txt"))
        .is_none());

    // The result header is escaped the same way.
    let response = s
        .http
        .post(s.url("/2/files/download"))
        .bearer_auth(&s.token)
        .header(
            "Dropbox-API-Arg",
            header_safe(&json!({"path": "/café/ünïcødé 😀.txt"})),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    let result = response.headers()["dropbox-api-result"].as_bytes().to_vec();
    assert!(result.is_ascii());
    let result: Value = serde_json::from_slice(&result).unwrap();
    assert_eq!(result["name"], "Ünïcødé 😀.txt");

    // No argument at all.
    let response = s
        .http
        .post(s.url("/2/files/upload"))
        .bearer_auth(&s.token)
        .header("Content-Type", "application/octet-stream")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // An upload must be declared as bytes.
    let response = s
        .http
        .post(s.url("/2/files/upload"))
        .bearer_auth(&s.token)
        .header("Dropbox-API-Arg", r#"{"path":"/x"}"#)
        .header("Content-Type", "application/json")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn write_modes_stale_revs_and_strict_conflicts() {
    let s = setup().await;
    let first = s.upload_ok("/doc.txt", b"v1").await;
    let rev1 = first["rev"].clone();

    // update with the current rev: a new rev, the same id.
    let (status, second) = s
        .upload(
            json!({"path": "/doc.txt", "mode": {".tag": "update", "update": rev1}}),
            b"v2",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_ne!(second["rev"], rev1);
    assert_eq!(second["id"], first["id"]);

    // update with a stale rev: a conflict, not an overwrite.
    let (status, body) = s
        .upload(
            json!({"path": "/doc.txt", "mode": {".tag": "update", "update": rev1}}),
            b"v3",
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (summary, error) = union(&body);
    assert_eq!(summary, "path/conflict/file/..");
    assert_eq!(error[".tag"], "path");
    assert_eq!(
        error["reason"],
        json!({".tag": "conflict", "conflict": {".tag": "file"}})
    );
    assert!(error["upload_session_id"].is_string());
    assert_eq!(
        s.fake
            .dropbox()
            .file_content(ME, &format!("{APP}/doc.txt"))
            .unwrap(),
        b"v2"
    );

    // The same with autorename: a conflicted copy beside it.
    let (status, copy) = s
        .upload(
            json!({"path": "/doc.txt", "mode": {".tag": "update", "update": rev1}, "autorename": true}),
            b"v3",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(copy["path_display"], "/doc (conflicted copy).txt");
    assert_ne!(copy["id"], first["id"]);

    // Identical content: no write, no conflict (same rev); strict_conflict makes it one.
    let same = s
        .upload(json!({"path": "/doc.txt", "mode": "add"}), b"v2")
        .await
        .1;
    assert_eq!(same["rev"], second["rev"]);
    let (status, _) = s
        .upload(
            json!({"path": "/doc.txt", "mode": "add", "strict_conflict": true}),
            b"v2",
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // add of different content: a conflict; with autorename, "doc (1).txt".
    let (status, _) = s.upload(json!({"path": "/doc.txt"}), b"other").await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, renamed) = s
        .upload(json!({"path": "/doc.txt", "autorename": true}), b"other")
        .await;
    assert_eq!(renamed["path_display"], "/doc (1).txt");
    // overwrite always writes.
    let (_, over) = s
        .upload(json!({"path": "/doc.txt", "mode": "overwrite"}), b"v4")
        .await;
    assert_ne!(over["rev"], second["rev"]);
    // update on a deleted file: written, unless strict_conflict.
    s.ok("files/delete_v2", json!({"path": "/doc.txt"})).await;
    let stale = json!({".tag": "update", "update": over["rev"]});
    let (status, _) = s
        .upload(
            json!({"path": "/doc.txt", "mode": stale, "strict_conflict": true}),
            b"v5",
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = s
        .upload(json!({"path": "/doc.txt", "mode": stale}), b"v5")
        .await;
    assert_eq!(status, StatusCode::OK);
    // A folder in the way.
    s.ok("files/create_folder_v2", json!({"path": "/dir"}))
        .await;
    let (_, body) = s
        .upload(json!({"path": "/dir", "mode": "overwrite"}), b"x")
        .await;
    assert_eq!(union(&body).0, "path/conflict/folder/..");
    // A malformed mode: 400.
    let (status, _) = s
        .upload(json!({"path": "/doc.txt", "mode": "update"}), b"x")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_failed_upload_can_be_committed_from_its_session() {
    let s = setup().await;
    s.upload_ok("/taken.txt", b"old").await;
    let (_, body) = s.upload(json!({"path": "/taken.txt"}), b"new bytes").await;
    let session = body["error"]["upload_session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, done) = s
        .content(
            "files/upload_session/finish",
            json!({"cursor": {"session_id": session, "offset": 9}, "commit": {"path": "/elsewhere.txt"}}),
            vec![],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(s.download("/elsewhere.txt").await.2, b"new bytes");
}

#[tokio::test]
async fn upload_sessions_check_offsets() {
    let s = setup().await;
    let (status, started) = s
        .content("files/upload_session/start", json!({}), b"abc".to_vec())
        .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let id = started["session_id"].as_str().unwrap().to_string();

    // A wrong offset (an append whose answer was lost, sent again): the right one is said.
    let append = |offset: u64, data: &'static [u8], close: bool| {
        s.content(
            "files/upload_session/append_v2",
            json!({"cursor": {"session_id": id, "offset": offset}, "close": close}),
            data.to_vec(),
        )
    };
    let (status, body) = append(0, b"abc", false).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        union(&body),
        (
            "incorrect_offset/..",
            &json!({".tag": "incorrect_offset", "correct_offset": 3})
        )
    );
    let (status, body) = append(3, b"def", false).await;
    assert_eq!((status, body), (StatusCode::OK, Value::Null));

    // finish with a wrong offset: lookup_failed/incorrect_offset.
    let finish = |offset: u64, data: &'static [u8], path: &str| {
        s.content(
            "files/upload_session/finish",
            json!({"cursor": {"session_id": id, "offset": offset}, "commit": {"path": path}}),
            data.to_vec(),
        )
    };
    let (status, body) = finish(3, b"", "/s.txt").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        union(&body),
        (
            "lookup_failed/incorrect_offset/..",
            &json!({".tag": "lookup_failed", "lookup_failed": {".tag": "incorrect_offset", "correct_offset": 6}})
        )
    );
    // finish onto a folder: the data stays appended; retry with no data and the new offset.
    s.ok("files/create_folder_v2", json!({"path": "/dir"}))
        .await;
    let (status, body) = finish(6, b"ghi", "/dir").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(union(&body).0, "path/conflict/folder/..");
    let (status, file) = finish(9, b"", "/s.txt").await;
    assert_eq!(status, StatusCode::OK, "{file}");
    assert_eq!(file["size"], 9);
    assert_eq!(s.download("/s.txt").await.2, b"abcdefghi");
    // The session is spent.
    let (status, body) = append(9, b"x", false).await;
    assert_eq!(
        (status, union(&body).0),
        (StatusCode::CONFLICT, "not_found/..")
    );

    // A closed session takes no more data.
    let (_, started) = s
        .content(
            "files/upload_session/start",
            json!({"close": true}),
            b"z".to_vec(),
        )
        .await;
    let closed = started["session_id"].as_str().unwrap();
    let (status, body) = s
        .content(
            "files/upload_session/append_v2",
            json!({"cursor": {"session_id": closed, "offset": 1}}),
            b"more".to_vec(),
        )
        .await;
    assert_eq!(
        (status, union(&body).0),
        (StatusCode::CONFLICT, "closed/..")
    );
    assert_eq!(s.fake.dropbox().open_upload_sessions(), 1);
}

/// A memory figure of this process from `/proc/self/status`, in bytes (Linux): `VmRSS`
/// now, `VmHWM` the peak since the last reset.
#[cfg(target_os = "linux")]
fn memory(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// 50 MiB through an upload session in 8 MiB appends, then downloaded: the bytes and hash
/// are right, and the process's peak memory grows by well under two copies of the file (the
/// client holds one 8 MiB piece at a time; the fake keeps the file once, streams it back).
#[cfg(target_os = "linux")]
#[tokio::test]
async fn fifty_mib_through_an_upload_session_is_kept_once() {
    let _big = BIG.lock().await;
    let s = setup().await;
    const MIB: usize = 1024 * 1024;
    const TOTAL: usize = 50 * MIB;
    const PIECE: usize = 8 * MIB;
    let byte = |i: usize| ((i / 4096) % 251) as u8;
    let piece = |from: usize| -> Vec<u8> { (from..(from + PIECE).min(TOTAL)).map(byte).collect() };

    // Reset the peak (Linux ≥ 4.0: "5" clears VmHWM).
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = memory("VmRSS:");

    let mut expected = threadline_fake_providers::dropbox::content::ContentHasher::default();
    let first = piece(0);
    expected.update(&first);
    let (_, started) = s
        .content("files/upload_session/start", json!({}), first)
        .await;
    let id = started["session_id"].as_str().unwrap().to_string();
    let mut offset = PIECE;
    while offset < TOTAL {
        let data = piece(offset);
        expected.update(&data);
        let len = data.len();
        let (status, body) = s
            .content(
                "files/upload_session/append_v2",
                json!({"cursor": {"session_id": id, "offset": offset}}),
                data,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        offset += len;
    }
    let (status, file) = s
        .content(
            "files/upload_session/finish",
            json!({"cursor": {"session_id": id, "offset": TOTAL}, "commit": {"path": "/big.bin"}}),
            vec![],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{file}");
    let expected = expected.finish();
    assert_eq!(file["size"], TOTAL);
    assert_eq!(file["content_hash"], expected);

    // Downloaded as a stream and hashed as it comes.
    let mut response = s
        .http
        .post(s.url("/2/files/download"))
        .bearer_auth(&s.token)
        .header("Dropbox-API-Arg", r#"{"path":"/big.bin"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut got = threadline_fake_providers::dropbox::content::ContentHasher::default();
    let mut at = 0;
    while let Some(chunk) = response.chunk().await.unwrap() {
        assert!(chunk.iter().enumerate().all(|(k, b)| *b == byte(at + k)));
        got.update(&chunk);
        at += chunk.len();
    }
    assert_eq!((at, got.finish()), (TOTAL, expected));

    let grown = memory("VmHWM:").saturating_sub(before);
    assert!(
        grown < (TOTAL + TOTAL / 2) as u64,
        "the peak grew by {} MiB for a {} MiB file",
        grown / MIB as u64,
        TOTAL / MIB
    );
    assert_eq!(s.fake.dropbox().open_upload_sessions(), 0);
}

#[tokio::test]
async fn faults_are_answered_in_dropboxs_envelope() {
    let s = setup().await;
    let faults = s.fake.faults();

    faults.inject(
        FaultRule::new(Fault::TooManyRequests {
            retry_after: Some(3),
        })
        .on("POST", "/2/files/list_folder"),
    );
    let response = s
        .http
        .post(s.url("/2/files/list_folder"))
        .bearer_auth(&s.token)
        .json(&json!({"path": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "3");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["reason"][".tag"], "too_many_requests");
    assert_eq!(body["error"]["retry_after"], 3);

    faults.inject(
        FaultRule::new(Fault::Dropbox(DropboxFault::TooManyWriteOperations {
            retry_after: 1,
        }))
        .on("POST", "/2/files/upload"),
    );
    let (status, body) = s.upload(json!({"path": "/w.txt"}), b"w").await;
    assert_eq!(
        (status, union(&body).0),
        (
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_write_operations/.."
        )
    );
    assert!(s
        .fake
        .dropbox()
        .metadata(ME, &format!("{APP}/w.txt"))
        .is_none());

    faults.inject(FaultRule::new(Fault::Unauthorized).on("POST", "/2/files/get_metadata"));
    let (status, body) = s.rpc("files/get_metadata", json!({"path": "/w.txt"})).await;
    assert_eq!(
        (status, union(&body).0),
        (StatusCode::UNAUTHORIZED, "expired_access_token/..")
    );

    faults.inject(
        FaultRule::new(Fault::Dropbox(DropboxFault::Endpoint(&["reset"])))
            .on("POST", "/2/files/list_folder/continue"),
    );
    let (_, cursor) = s.list_all(json!({"path": ""})).await;
    let (status, body) = s
        .rpc("files/list_folder/continue", json!({"cursor": cursor}))
        .await;
    assert_eq!((status, union(&body).0), (StatusCode::CONFLICT, "reset/.."));

    // A lost answer after the upload was made: the file is there.
    faults.inject(FaultRule::new(Fault::DropResponseAfterCommit).on("POST", "/2/files/upload"));
    let lost = s
        .http
        .post(s.url("/2/files/upload"))
        .bearer_auth(&s.token)
        .header("Dropbox-API-Arg", r#"{"path":"/lost.txt"}"#)
        .header("Content-Type", "application/octet-stream")
        .body("made")
        .send()
        .await;
    assert!(lost.is_err(), "no answer");
    assert_eq!(
        s.fake
            .dropbox()
            .file_content(ME, &format!("{APP}/lost.txt"))
            .unwrap(),
        b"made"
    );
    // The retry with mode add and the same bytes is not a duplicate.
    let again = s
        .upload(json!({"path": "/lost.txt", "mode": "add"}), b"made")
        .await;
    assert_eq!(again.0, StatusCode::OK);
    assert_eq!(
        s.fake
            .dropbox()
            .paths(ME)
            .iter()
            .filter(|p| p.contains("lost"))
            .count(),
        1
    );

    // Held after the folder was made.
    faults.inject(FaultRule::new(Fault::HangAfterCommit).on("POST", "/2/files/create_folder_v2"));
    let client = s
        .http
        .post(s.url("/2/files/create_folder_v2"))
        .bearer_auth(&s.token)
        .json(&json!({"path": "/held"}))
        .timeout(Duration::from_secs(30))
        .send();
    let hung = tokio::spawn(client);
    faults.until_held(1).await;
    assert!(s
        .fake
        .dropbox()
        .metadata(ME, &format!("{APP}/held"))
        .is_some());
    hung.abort();

    // Held before anything happened.
    faults.inject(FaultRule::new(Fault::Hang).on("POST", "/2/files/delete_v2"));
    let client = s
        .http
        .post(s.url("/2/files/delete_v2"))
        .bearer_auth(&s.token)
        .json(&json!({"path": "/held"}))
        .send();
    let hung = tokio::spawn(client);
    faults.until_held(2).await;
    assert!(s
        .fake
        .dropbox()
        .metadata(ME, &format!("{APP}/held"))
        .is_some());
    hung.abort();

    // A delay, then served.
    faults.inject(
        FaultRule::new(Fault::Delay(Duration::from_millis(200)))
            .on("POST", "/2/files/get_metadata")
            .times(Times::Once),
    );
    let started = std::time::Instant::now();
    s.ok("files/get_metadata", json!({"path": "/held"})).await;
    assert!(started.elapsed() >= Duration::from_millis(200));

    // Every call logged per endpoint, the faults noted.
    let log = s.fake.log();
    assert_eq!(log.count("POST", "/2/files/upload"), 3);
    assert!(log
        .requests()
        .iter()
        .any(|r| r.path == "/2/files/upload" && r.status.is_none()));
}
