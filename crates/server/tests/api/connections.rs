//! Connections: the Rust API the sync engine builds on (tokens encrypted at rest) and the
//! user's routes (`/api/v1/connections`), which never show a token.

use axum::http::{Method, StatusCode};
use chrono::{TimeZone, Utc};
use serde_json::Value;
use threadline_server::connections::{
    self, Connection, Error, Grant, Owner, Provider, Refreshed, Status, Upserted,
};
use threadline_server::secrets::{new_key_line, ExposeSecret, Keyring, SecretError, SecretString};
use uuid::Uuid;

use crate::common::TestApp;

const ACCESS: &str = "ya29.access-token-of-ann";
const REFRESH: &str = "1//refresh-token-of-ann";

fn secret(text: &str) -> SecretString {
    SecretString::from(text.to_string())
}

fn keyring(lines: &[&str]) -> Keyring {
    Keyring::parse(&lines.join("\n"), "test keys").unwrap()
}

fn grant(provider: Provider, account: &str, access: &str, refresh: Option<&str>) -> Grant {
    Grant {
        provider,
        account_id: account.to_string(),
        account_email: Some(format!("{account}@gmail.com")),
        scopes: vec![
            "https://www.googleapis.com/auth/drive.file".into(),
            "openid".into(),
            "openid".into(),
        ],
        access_token: secret(access),
        refresh_token: refresh.map(secret),
        access_token_expires_at: Some(Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap()),
    }
}

fn owner(app: &TestApp) -> Owner {
    Owner {
        org_id: app.org_id,
        user_id: app.user_id,
    }
}

async fn connect(app: &TestApp, keys: &Keyring, owner: Owner, grant: &Grant) -> Upserted {
    app.db
        .write(|tx| Box::pin(connections::upsert(tx, keys, owner, grant)))
        .await
        .expect("upsert")
}

/// Ann's Google connection (account `g-1`, [`ACCESS`], [`REFRESH`]).
async fn google(app: &TestApp, keys: &Keyring) -> Connection {
    let grant = grant(Provider::Google, "g-1", ACCESS, Some(REFRESH));
    connect(app, keys, owner(app), &grant).await.connection
}

async fn tokens(app: &TestApp, keys: &Keyring, id: Uuid) -> Result<connections::Tokens, Error> {
    let mut conn = app.pool().acquire().await.unwrap();
    connections::tokens(&mut conn, keys, id).await
}

/// The stored (encrypted) value of a token column.
async fn raw(app: &TestApp, id: Uuid, column: &str) -> Option<String> {
    sqlx::query_scalar(&format!("SELECT {column} FROM connections WHERE id = $1"))
        .bind(id.to_string())
        .fetch_one(app.pool())
        .await
        .unwrap()
}

async fn set_raw(app: &TestApp, id: Uuid, column: &str, value: Option<&str>) {
    sqlx::query(&format!(
        "UPDATE connections SET {column} = $1 WHERE id = $2"
    ))
    .bind(value)
    .bind(id.to_string())
    .execute(app.pool())
    .await
    .unwrap();
}

fn assert_undecryptable(result: Result<connections::Tokens, Error>) {
    match result {
        Err(Error::Secret(e @ SecretError::Undecryptable { .. })) => {
            assert!(
                e.to_string().contains("copied from another row or field"),
                "{e}"
            )
        }
        Err(e) => panic!("expected a decryption failure, got {e}"),
        Ok(_) => panic!("expected a decryption failure, the value opened"),
    }
}

#[tokio::test]
async fn tokens_are_stored_encrypted_and_read_back() {
    let app = TestApp::new().await;
    let keys = keyring(&[&new_key_line().unwrap()]);
    let up = connect(
        &app,
        &keys,
        owner(&app),
        &grant(Provider::Google, "g-1", ACCESS, Some(REFRESH)),
    )
    .await;
    assert!(up.created && !up.account_changed);
    let c = &up.connection;
    assert_eq!(
        (c.provider, c.status, c.version),
        (Provider::Google, Status::Ok, 1)
    );
    assert_eq!(
        c.scopes,
        ["https://www.googleapis.com/auth/drive.file", "openid"]
    );
    assert_eq!(
        c.access_token_expires_at.as_deref(),
        Some("2030-01-02T03:04:05.000000Z")
    );

    // In the database: only ciphertexts, under the current key.
    for (column, plain) in [("access_token", ACCESS), ("refresh_token", REFRESH)] {
        let stored = raw(&app, c.id, column).await.unwrap();
        assert!(
            stored.starts_with(&format!("v1:{}:", keys.current_key_id())),
            "{stored}"
        );
        assert!(!stored.contains(plain) && !stored.contains("ya29") && !stored.contains("1//"));
    }
    let read = tokens(&app, &keys, c.id).await.unwrap();
    assert_eq!(read.access_token.unwrap().expose_secret(), ACCESS);
    assert_eq!(
        read.refresh_token.as_ref().unwrap().expose_secret(),
        REFRESH
    );
    assert_eq!(read.version, 1);
    assert!(
        !format!("{:?}", read.refresh_token).contains(REFRESH),
        "Debug is redacted"
    );
}

#[tokio::test]
async fn a_changed_byte_or_a_value_moved_to_another_row_or_field_is_an_error() {
    let app = TestApp::new().await;
    let keys = keyring(&[&new_key_line().unwrap()]);
    let google = google(&app, &keys).await.id;
    let dropbox = connect(
        &app,
        &keys,
        owner(&app),
        &grant(
            Provider::Dropbox,
            "dbid:1",
            "sl.other",
            Some("other-refresh"),
        ),
    )
    .await
    .connection
    .id;
    let access = raw(&app, google, "access_token").await.unwrap();
    let refresh = raw(&app, google, "refresh_token").await.unwrap();

    // One character of the data changed (in the middle: every bit of it counts).
    let middle = access.len() - 20;
    let mut flipped = access.clone().into_bytes();
    flipped[middle] = if flipped[middle] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    set_raw(&app, google, "access_token", Some(&flipped)).await;
    assert_undecryptable(tokens(&app, &keys, google).await);

    // The refresh token's value in the access token's column.
    set_raw(&app, google, "access_token", Some(&refresh)).await;
    assert_undecryptable(tokens(&app, &keys, google).await);

    // Google's access token on the Dropbox row.
    set_raw(&app, google, "access_token", Some(&access)).await;
    assert!(tokens(&app, &keys, google).await.is_ok());
    set_raw(&app, dropbox, "access_token", Some(&access)).await;
    assert_undecryptable(tokens(&app, &keys, dropbox).await);
}

#[tokio::test]
async fn keys_rotate_and_a_missing_or_wrong_key_is_a_clear_error() {
    let app = TestApp::new().await;
    let old_line = new_key_line().unwrap();
    let new_line = new_key_line().unwrap();
    let old = keyring(&[&old_line]);
    let id = google(&app, &old).await.id;
    let dropbox_grant = grant(Provider::Dropbox, "dbid:1", "sl.a", Some("dropbox-refresh"));
    let dropbox = connect(&app, &old, owner(&app), &dropbox_grant)
        .await
        .connection
        .id;

    // Rotated: old values still read; a refresh writes both tokens with the new key.
    let rotated = keyring(&[&old_line, &new_line]);
    let before = tokens(&app, &rotated, id).await.unwrap();
    assert_eq!(before.refresh_token.unwrap().expose_secret(), REFRESH);
    let refreshed = Refreshed {
        access_token: secret("ya29.fresh"),
        access_token_expires_at: None,
        refresh_token: None,
    };
    let version = app
        .db
        .write(|tx| {
            let refreshed = &refreshed;
            let rotated = &rotated;
            Box::pin(connections::store_refreshed(
                tx,
                rotated,
                id,
                before.version,
                refreshed,
            ))
        })
        .await
        .unwrap();
    assert_eq!(version, before.version + 1);
    let new_prefix = format!("v1:{}:", rotated.current_key_id());
    for column in ["access_token", "refresh_token"] {
        let stored = raw(&app, id, column).await.unwrap();
        assert!(stored.starts_with(&new_prefix), "{column}: {stored}");
    }
    let only_new = keyring(&[&new_line]);
    let after = tokens(&app, &only_new, id).await.unwrap();
    assert_eq!(after.access_token.unwrap().expose_secret(), "ya29.fresh");
    assert_eq!(after.refresh_token.unwrap().expose_secret(), REFRESH);

    // The old key dropped while a value still needs it: the error names that key.
    match tokens(&app, &only_new, dropbox).await {
        Err(Error::Secret(e @ SecretError::UnknownKey { .. })) => {
            assert!(e.to_string().contains(old.current_key_id()), "{e}");
        }
        other => panic!("expected UnknownKey, got {:?}", other.map(|t| t.version)),
    }

    // Another key under the same id (a wrong key file): an error, never garbage.
    let impostor = format!(
        "{}:{}",
        old.current_key_id(),
        new_line.split_once(':').unwrap().1
    );
    let wrong = keyring(&[&impostor, &new_line]);
    match tokens(&app, &wrong, dropbox).await {
        Err(Error::Secret(e @ SecretError::Undecryptable { .. })) => {
            assert!(
                e.to_string().contains("not the one it was written with"),
                "{e}"
            )
        }
        other => panic!("expected Undecryptable, got {:?}", other.map(|t| t.version)),
    }
}

#[tokio::test]
async fn the_engine_lifecycle_refresh_status_reconnect() {
    let app = TestApp::new().await;
    let keys = keyring(&[&new_key_line().unwrap()]);
    let me = owner(&app);
    let id = connect(
        &app,
        &keys,
        me,
        &grant(Provider::Google, "g-1", ACCESS, Some(REFRESH)),
    )
    .await
    .connection
    .id;
    let write_status = |expected: Option<i64>, status: Status, reason: Option<&'static str>| {
        let db = app.db.clone();
        async move {
            db.write(|tx| Box::pin(connections::set_status(tx, id, expected, status, reason)))
                .await
        }
    };

    // A refresh from a stale version writes nothing.
    let refreshed = Refreshed {
        access_token: secret("ya29.second"),
        access_token_expires_at: None,
        refresh_token: Some(secret("1//rotated")),
    };
    let v2 = write_status(Some(1), Status::Syncing, None).await.unwrap();
    assert_eq!(v2, 2);
    let stale = app
        .db
        .write(|tx| Box::pin(connections::store_refreshed(tx, &keys, id, 1, &refreshed)))
        .await;
    assert!(
        matches!(
            stale,
            Err(Error::Conflict {
                current: 2,
                expected: 1,
                ..
            })
        ),
        "{stale:?}"
    );
    assert_eq!(
        tokens(&app, &keys, id)
            .await
            .unwrap()
            .access_token
            .unwrap()
            .expose_secret(),
        ACCESS
    );

    // invalid_grant: needs_reauth with a reason.
    let v3 = write_status(
        None,
        Status::NeedsReauth,
        Some("invalid_grant: Token has been expired or revoked."),
    )
    .await
    .unwrap();
    assert_eq!(v3, 3);
    let mut conn = app.pool().acquire().await.unwrap();
    let c = connections::get(&mut conn, id).await.unwrap();
    assert_eq!(
        (c.status, c.status_reason.as_deref()),
        (
            Status::NeedsReauth,
            Some("invalid_grant: Token has been expired or revoked.")
        )
    );
    drop(conn);

    // Connecting again, same account, no new refresh token (Google's re-consent): the old
    // one is kept; the same row, `ok`.
    let again = connect(
        &app,
        &keys,
        me,
        &grant(Provider::Google, "g-1", "ya29.third", None),
    )
    .await;
    assert!(!again.created && !again.account_changed);
    assert_eq!(
        (
            again.connection.id,
            again.connection.status,
            again.connection.version
        ),
        (id, Status::Ok, 4)
    );
    assert_eq!(again.connection.status_reason, None);
    let read = tokens(&app, &keys, id).await.unwrap();
    assert_eq!(read.access_token.unwrap().expose_secret(), "ya29.third");
    assert_eq!(read.refresh_token.unwrap().expose_secret(), REFRESH);

    // Another account: the refresh token of the old one is not kept.
    let other = connect(
        &app,
        &keys,
        me,
        &grant(Provider::Google, "g-2", "ya29.fourth", None),
    )
    .await;
    assert!(other.account_changed);
    assert_eq!(other.connection.account_id, "g-2");
    assert!(tokens(&app, &keys, id)
        .await
        .unwrap()
        .refresh_token
        .is_none());

    // `disconnected` is not a status to set; the grant's checks name the field.
    let refused = write_status(None, Status::Disconnected, None).await;
    assert!(
        matches!(
            refused,
            Err(Error::Invalid {
                field: "status",
                ..
            })
        ),
        "{refused:?}"
    );
    let mut bad = grant(Provider::Dropbox, " ", "x", None);
    let empty_account = app
        .db
        .write(|tx| Box::pin(connections::upsert(tx, &keys, me, &bad)))
        .await;
    assert!(matches!(
        empty_account,
        Err(Error::Invalid {
            field: "account_id",
            ..
        })
    ));
    bad.account_id = "dbid:1".into();
    bad.scopes = vec!["files.read files.write".into()];
    let spaced = app
        .db
        .write(|tx| Box::pin(connections::upsert(tx, &keys, me, &bad)))
        .await;
    assert!(matches!(
        spaced,
        Err(Error::Invalid {
            field: "scopes",
            ..
        })
    ));
    assert_eq!(app.count("connections").await, 1);
}

#[tokio::test]
async fn the_routes_show_own_connections_without_tokens_and_disconnect_them() {
    let app = TestApp::new().await;
    let keys = keyring(&[&new_key_line().unwrap()]);
    let google = google(&app, &keys).await;
    let dropbox = connect(
        &app,
        &keys,
        owner(&app),
        &grant(Provider::Dropbox, "dbid:1", "sl.dropbox-access", None),
    )
    .await
    .connection;

    let list = app.get("/api/v1/connections").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let providers: Vec<&Value> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["provider"])
        .collect();
    assert_eq!(providers, ["dropbox", "google"]);
    let path = format!("/api/v1/connections/{}", google.id);
    let one = app.get(&path).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body["account_email"], "g-1@gmail.com");
    assert_eq!(one.body["status"], "ok");
    assert_eq!(
        one.body["scopes"],
        serde_json::json!(["https://www.googleapis.com/auth/drive.file", "openid"])
    );
    for answer in [&list.body, &one.body] {
        let text = answer.to_string();
        for secret in [ACCESS, REFRESH, "sl.dropbox-access", "v1:"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(
            !text.contains("access_token\":") && !text.contains("refresh_token"),
            "{text}"
        );
    }

    // Disconnect: tokens gone from the database, the row kept; twice changes nothing.
    let gone = app
        .send_raw(Method::DELETE, &path, Some(&app.token.clone()), None, &[])
        .await;
    assert_eq!(gone.status, StatusCode::OK, "{}", gone.body);
    assert_eq!(gone.body["status"], "disconnected");
    assert!(gone.body["disconnected_at"].is_string());
    assert_eq!(gone.body["version"], 2);
    assert_eq!(raw(&app, google.id, "access_token").await, None);
    assert_eq!(raw(&app, google.id, "refresh_token").await, None);
    let twice = app
        .send_raw(Method::DELETE, &path, Some(&app.token.clone()), None, &[])
        .await;
    assert_eq!(twice.body, gone.body);
    assert_eq!(app.get(&path).await.body, gone.body);
    assert!(
        raw(&app, dropbox.id, "access_token").await.is_some(),
        "only that one"
    );

    // The engine can no longer write to it, until the user connects again (same row).
    let stale = app
        .db
        .write(|tx| {
            Box::pin(connections::set_status(
                tx,
                google.id,
                None,
                Status::Syncing,
                None,
            ))
        })
        .await;
    assert!(matches!(stale, Err(Error::Disconnected(_))), "{stale:?}");
    let back = connect(
        &app,
        &keys,
        owner(&app),
        &grant(Provider::Google, "g-1", ACCESS, Some(REFRESH)),
    )
    .await;
    assert_eq!(
        (back.connection.id, back.connection.status),
        (google.id, Status::Ok)
    );
    assert_eq!(back.connection.disconnected_at, None);

    app.get("/api/v1/connections/not-a-uuid")
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found", None);
    app.get(&format!("/api/v1/connections/{}", Uuid::now_v7()))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found", None);
}

/// A colleague and another organisation neither see nor disconnect someone's connection.
#[tokio::test]
async fn connections_are_isolated_between_users_and_organisations() {
    let app = TestApp::new().await;
    let keys = keyring(&[&new_key_line().unwrap()]);
    let colleague = app.colleague("cole@ourco.com").await;
    let other = app.user_in_new_org("mallory@other.org").await;
    let google = google(&app, &keys).await;
    let path = format!("/api/v1/connections/{}", google.id);
    let ours = app.get(&path).await.body;
    for intruder in [&colleague, &other] {
        assert_eq!(
            app.get_as(intruder, "/api/v1/connections").await.body["items"],
            serde_json::json!([])
        );
        app.get_as(intruder, &path)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found", None);
        app.send_raw(Method::DELETE, &path, Some(intruder), None, &[])
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found", None);
    }
    assert_eq!(app.get(&path).await.body, ours);
    assert!(tokens(&app, &keys, google.id)
        .await
        .unwrap()
        .refresh_token
        .is_some());
}

/// Concurrent grants for one user and provider (a double-submitted OAuth callback) make
/// one connection, on both engines (PostgreSQL: a serialization failure, run again).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_grants_make_one_connection() {
    let app = TestApp::new().await;
    let keys = std::sync::Arc::new(keyring(&[&new_key_line().unwrap()]));
    let me = owner(&app);
    let mut tasks = Vec::new();
    for n in 0..4 {
        let (db, keys) = (app.db.clone(), keys.clone());
        tasks.push(tokio::spawn(async move {
            let grant = grant(Provider::Google, "g-1", &format!("ya29.{n}"), Some(REFRESH));
            db.write(|tx| Box::pin(connections::upsert(tx, &keys, me, &grant)))
                .await
                .map(|up| (up.connection.id, up.created))
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap().expect("every grant is stored"));
    }
    assert_eq!(app.count("connections").await, 1);
    assert_eq!(results.iter().filter(|(_, created)| *created).count(), 1);
    assert!(results.iter().all(|(id, _)| *id == results[0].0));
    let read = tokens(&app, &keys, results[0].0).await.unwrap();
    assert_eq!(read.version, 4, "one write each, none lost");
}
