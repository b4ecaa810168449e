//! A router on a fresh database, called in-process: SQLite in a temporary directory, or a
//! new PostgreSQL database when THREADLINE_TEST_DATABASE_URL is set (see
//! `threadline_server::testing`).

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use threadline_server::admin::{self, OrgChoice};
use threadline_server::db::{Db, Pool};
use threadline_server::testing::TestDatabase;
use threadline_server::AppState;
use tower::ServiceExt;
use uuid::Uuid;

/// The first user's login address and alias.
pub const OWNER_EMAIL: &str = "ann@ourco.com";
pub const OWNER_ALIAS: &str = "Ann.Work@OurCo.IO";
/// Where the tests' server says people reach it (`--public-url`), when a test gives it one.
pub const PUBLIC_URL: &str = "https://crm.example.test";

/// `state` with [`PUBLIC_URL`] as its public URL.
pub fn public(state: AppState) -> AppState {
    state.with_public_url(threadline_server::PublicUrl::parse(PUBLIC_URL).expect("an origin"))
}

pub struct TestApp {
    pub db: Db,
    pub router: Router,
    /// The router's state (e.g. its sync runner's wake-up).
    pub state: AppState,
    pub org_id: Uuid,
    pub user_id: Uuid,
    /// The first user's token.
    pub token: String,
    // Last: the database is removed after everything that uses it is dropped.
    _database: TestDatabase,
}

/// An answer: status, headers and the body as JSON (`Value::String` when it is not JSON).
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    /// Asserts an ErrorBody with this status, code and field.
    #[track_caller]
    pub fn assert_error(&self, status: StatusCode, code: &str, field: Option<&str>) {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        assert_eq!(self.body["error"]["code"], code, "body: {}", self.body);
        let message = self.body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.len() > 10,
            "the error needs a message for a person: {}",
            self.body
        );
        assert_eq!(
            self.body["error"]["field"].as_str(),
            field,
            "body: {}",
            self.body
        );
    }

    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }
}

impl TestApp {
    /// Organisation "Ours" with the owner Ann (`ann@ourco.com`, alias `ann.work@ourco.io`).
    pub async fn new() -> TestApp {
        let database = TestDatabase::create();
        let db = database.open().await;
        let owner = admin::add_user(
            &db,
            OrgChoice::New("Ours".into()),
            OWNER_EMAIL,
            "Ann Owner",
            &[OWNER_ALIAS.to_string()],
        )
        .await
        .expect("owner");
        let state = AppState::new(db.clone());
        let router = threadline_server::router(state.clone());
        TestApp {
            db,
            router,
            state,
            org_id: owner.org_id,
            user_id: owner.id,
            token: owner.token.token,
            _database: database,
        }
    }

    /// Where the test database is.
    pub fn location(&self) -> &threadline_server::db::Location {
        self._database.location()
    }

    /// The same database opened again: a pool of its own, as another server process has.
    pub async fn reopen(&self) -> Db {
        self._database.open().await
    }

    /// The pool, for checks of what is stored.
    pub fn pool(&self) -> &Pool {
        self.db.pool()
    }

    /// A user in a new organisation; returns their token.
    pub async fn user_in_new_org(&self, email: &str) -> String {
        admin::add_user(
            &self.db,
            OrgChoice::New("Theirs".into()),
            email,
            "Other",
            &[],
        )
        .await
        .expect("user")
        .token
        .token
    }

    /// A second user in the first organisation; returns their token.
    pub async fn colleague(&self, email: &str) -> String {
        admin::add_user(
            &self.db,
            OrgChoice::Existing(self.org_id),
            email,
            "Colleague",
            &[],
        )
        .await
        .expect("user")
        .token
        .token
    }

    /// Sends a built request.
    pub async fn call(&self, request: Request<Body>) -> Answer {
        answer(self.router.clone(), request).await
    }

    /// POSTs `body` to `path` `n` times at once (with `extra_headers`); the answers in the
    /// order sent. The test needs a multi-thread runtime for the requests to overlap.
    pub async fn post_concurrently(
        &self,
        n: usize,
        path: &str,
        body: &Value,
        extra_headers: &[(&str, &str)],
    ) -> Vec<Answer> {
        // Open the connections first, so that the requests overlap instead of queueing for
        // new connections one after the other.
        let mut warm = Vec::with_capacity(n);
        for _ in 0..n {
            warm.push(self.pool().acquire().await.expect("a connection"));
        }
        drop(warm);
        let mut handles = Vec::with_capacity(n);
        for _ in 0..n {
            let mut builder = Request::post(path)
                .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
                .header(header::CONTENT_TYPE, "application/json");
            for (name, value) in extra_headers {
                builder = builder.header(*name, *value);
            }
            let request = builder.body(Body::from(body.to_string())).expect("request");
            handles.push(tokio::spawn(answer(self.router.clone(), request)));
        }
        let mut answers = Vec::with_capacity(n);
        for handle in handles {
            answers.push(handle.await.expect("the request task"));
        }
        answers
    }

    /// A request with `token` (if any) and a raw body sent as JSON.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
        extra_headers: &[(&str, &str)],
    ) -> Answer {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        for (name, value) in extra_headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(body.map_or_else(Body::empty, Body::from))
            .expect("request");
        self.call(request).await
    }

    pub async fn get_as(&self, token: &str, path: &str) -> Answer {
        self.send_raw(Method::GET, path, Some(token), None, &[])
            .await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.get_as(&self.token.clone(), path).await
    }

    pub async fn post_as(&self, token: &str, path: &str, body: Value) -> Answer {
        self.send_raw(Method::POST, path, Some(token), Some(body.to_string()), &[])
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.post_as(&self.token.clone(), path, body).await
    }

    /// A contact created through the API (asserting 201); returns its JSON.
    pub async fn contact(
        &self,
        first: &str,
        last: &str,
        emails: &[&str],
        company: Option<Value>,
    ) -> Value {
        self.contact_as(&self.token.clone(), first, last, emails, company)
            .await
    }

    pub async fn contact_as(
        &self,
        token: &str,
        first: &str,
        last: &str,
        emails: &[&str],
        company: Option<Value>,
    ) -> Value {
        let mut body = json!({ "first_name": first, "last_name": last, "emails": emails });
        if let Some(company) = company {
            body["company"] = company;
        }
        let answer = self.post_as(token, "/api/v1/contacts", body).await;
        assert_eq!(
            answer.status,
            StatusCode::CREATED,
            "create contact: {}",
            answer.body
        );
        answer.body
    }

    /// POST of a body (JSON, or raw JSON text) with an `Idempotency-Key` header.
    pub async fn post_keyed(
        &self,
        token: &str,
        path: &str,
        body: &impl std::fmt::Display,
        key: &str,
    ) -> Answer {
        self.send_raw(
            Method::POST,
            path,
            Some(token),
            Some(body.to_string()),
            &[("idempotency-key", key)],
        )
        .await
    }

    /// Bob Baker, `bob@acme.com`, at the company Acme (`acme.com`).
    pub async fn bob_at_acme(&self) -> Value {
        self.contact(
            "Bob",
            "Baker",
            &["bob@acme.com"],
            Some(new_company("Acme", Some("acme.com"))),
        )
        .await
    }

    /// `SELECT COUNT(*) FROM <table>`.
    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(self.pool())
            .await
            .expect("count")
    }
}

/// Sends `request` to `router`.
async fn answer(router: Router, request: Request<Body>) -> Answer {
    let response = router.oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024)
        .await
        .expect("body");
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Answer {
        status,
        headers,
        body,
    }
}

/// A `new` company choice.
pub fn new_company(name: &str, domain: Option<&str>) -> Value {
    json!({ "kind": "new", "name": name, "domain": domain })
}

/// A track request for `ids` (the first is the primary) on `contacts`.
pub fn track_body(ids: &[&str], contacts: &[&Value]) -> Value {
    json!({
        "gmail_message_id": ids[0],
        "alt_message_ids": &ids[1..],
        "gmail_thread_id": "thread-1",
        "direction": "incoming",
        "from": { "address": "bob@acme.com", "name": "Bob" },
        "to": [{ "address": OWNER_EMAIL }],
        "subject": "Quarterly numbers",
        "sent_at": "2025-03-04T05:06:07Z",
        "body_text": "Hi Ann, here they are.",
        "contact_ids": contacts.iter().map(|c| c["id"].clone()).collect::<Vec<_>>(),
    })
}

/// The ids of a JSON array of objects.
pub fn ids_of(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| i["id"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}
