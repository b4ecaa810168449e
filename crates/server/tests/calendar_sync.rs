//! Google Calendar two-way sync against the local fake Google over real HTTP, on SQLite (or
//! PostgreSQL with THREADLINE_TEST_DATABASE_URL): the server's executor of
//! `threadline-calendar-core`'s plans, its tables and its routes.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use threadline_fake_providers::google::{GoogleFault, OAuthClient, RateLimitReason};
use threadline_fake_providers::{FakeProviders, Fault, FaultId, FaultRule, Times};
use threadline_server::admin::{self, OrgChoice};
use threadline_server::connections::{self, Grant, Owner, Provider};

use threadline_google_calendar::client::{CalendarClient, RetryPolicy};
use threadline_google_calendar::{CalendarSync, GoogleCalendar, RunOptions};
use threadline_server::oauth::google::{GoogleConfig, GoogleEndpoints};
use threadline_server::oauth::{OAuth, TokenSource};
use threadline_server::secrets::{new_key_line, Keyring, SecretString};
use threadline_server::sync::Integration;
use threadline_server::sync::{
    schedule, RunCounts, Runner, RunnerConfig, RunnerHandle, StoredTokens, SyncError,
};
use threadline_server::testing::TestDatabase;
use threadline_server::AppState;
use tower::ServiceExt;
use uuid::Uuid;

const ANN: &str = "ann@ourco.com";
const EVENTS: &str = "/calendar/v3/calendars/{calendarId}/events";
const EVENT: &str = "/calendar/v3/calendars/{calendarId}/events/{eventId}";

struct Harness {
    fake: FakeProviders,
    state: AppState,
    router: Router,
    /// Ann's API token, and her Google access token (issued by the fake).
    token: String,
    google_token: String,
    connection: Uuid,
    /// Ann's primary calendar (her address).
    primary: String,
    http: reqwest::Client,
    /// The secret key line (for a second process on the same database).
    key: String,
    _database: TestDatabase,
}

impl Harness {
    /// Ann, her Google account in the fake, her connection (tokens encrypted at rest), and
    /// her primary calendar imported and chosen as the export calendar.
    async fn new() -> Harness {
        let h = Harness::without_selection().await;
        let primary = h.primary.clone();
        h.select(&[&primary], Some(&primary)).await;
        h
    }

    async fn without_selection() -> Harness {
        let fake = FakeProviders::start().await;
        let google = fake.google();
        google.add_user(ANN);
        google.add_client(OAuthClient {
            client_id: "threadline".into(),
            client_secret: "secret".into(),
            redirect_uris: vec!["http://localhost/cb".into()],
        });
        let primary = google.primary_calendar(ANN, "Europe/Brussels");
        let tokens = google.issue_tokens("threadline", ANN, &["calendar"]);

        let database = TestDatabase::create();
        let db = database.open().await;
        let ann = admin::add_user(&db, OrgChoice::New("Ours".into()), ANN, "Ann", &[])
            .await
            .expect("ann");
        let key = new_key_line().unwrap();
        let keys = Keyring::parse(&key, "test").unwrap();
        let owner = Owner {
            org_id: ann.org_id,
            user_id: ann.id,
        };
        let grant = Grant {
            provider: Provider::Google,
            account_id: "g-ann".into(),
            account_email: Some(ANN.into()),
            scopes: vec!["https://www.googleapis.com/auth/calendar".into()],
            access_token: SecretString::from(tokens.access_token.clone()),
            refresh_token: tokens.refresh_token.clone().map(SecretString::from),
            access_token_expires_at: None,
        };
        let connection = db
            .write(|tx| Box::pin(connections::upsert(tx, &keys, owner, &grant)))
            .await
            .unwrap()
            .connection
            .id;
        let client = CalendarClient::new(
            &format!("{}/calendar/v3", fake.base_url()),
            RetryPolicy {
                max_attempts: 4,
                base_delay: Duration::from_millis(20),
                max_delay: Duration::from_secs(2),
            },
        )
        .unwrap();
        // The production token source, refreshing against the fake's token endpoint.
        let oauth = OAuth::with_google(GoogleConfig {
            client_id: "threadline".into(),
            client_secret: SecretString::from("secret".to_string()),
            redirect_url: "http://localhost/cb".parse().unwrap(),
            endpoints: GoogleEndpoints::all_at(&fake.base_url()).unwrap(),
        })
        .unwrap();
        let tokens_source = TokenSource::new(
            db.clone(),
            Arc::new(Keyring::parse(&key, "test").unwrap()),
            Arc::new(oauth),
        );
        let state = AppState::new(db.clone())
            .with_keyring(keys)
            .with_integration(GoogleCalendar::new(CalendarSync::new(
                db.clone(),
                client,
                Arc::new(tokens_source),
            )));
        Harness {
            router: threadline_server::router(state.clone()),
            state,

            token: ann.token.token,
            google_token: tokens.access_token,
            connection,
            primary,
            http: reqwest::Client::new(),
            key,
            fake,
            _database: database,
        }
    }

    async fn api(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        etag: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("/api/v1{path}"))
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token));
        if let Some(etag) = etag {
            request = request.header(header::IF_MATCH, etag);
        }
        let request = match body {
            Some(b) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, body)
    }

    async fn select(&self, import: &[&str], export: Option<&str>) {
        let (status, body) = self
            .api(
                Method::PUT,
                &format!("/connections/{}/calendar-selection", self.connection),
                Some(json!({"import": import, "export": export})),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    async fn sync(&self) -> Result<RunCounts, SyncError> {
        self.state
            .integration::<GoogleCalendar>()
            .map(GoogleCalendar::sync)
            .unwrap()
            .run(self.connection, RunOptions::default())
            .await
    }

    async fn synced(&self) -> RunCounts {
        self.sync().await.expect("a run")
    }

    /// A meeting Ann attends.
    async fn meeting(&self, title: &str, start: &str, end: &str) -> Value {
        let (status, body) = self
            .api(
                Method::POST,
                "/meetings",
                Some(json!({"title": title, "start_at": start, "end_at": end,
                    "time_zone": "Europe/Brussels", "attendees": [{"address": ANN}]})),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    async fn get_meeting(&self, id: &str) -> Value {
        self.api(
            Method::GET,
            &format!("/meetings/{id}?include_deleted=true"),
            None,
            None,
        )
        .await
        .1
    }

    async fn patch_meeting(&self, id: &str, patch: Value) {
        let version = self.get_meeting(id).await["version"].as_i64().unwrap();
        let (status, body) = self
            .api(
                Method::PATCH,
                &format!("/meetings/{id}"),
                Some(patch),
                Some(&format!("\"{version}\"")),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    async fn delete_meeting(&self, id: &str) {
        let version = self.get_meeting(id).await["version"].as_i64().unwrap();
        let (status, body) = self
            .api(
                Method::DELETE,
                &format!("/meetings/{id}"),
                None,
                Some(&format!("\"{version}\"")),
            )
            .await;
        assert!(status.is_success(), "{status} {body}");
    }

    async fn blocks(&self) -> Vec<Value> {
        let (status, body) = self
            .api(
                Method::GET,
                "/busy-blocks?from=2026-01-01T00:00:00Z&to=2026-12-31T00:00:00Z",
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["items"].as_array().unwrap().clone()
    }

    /// A call to the fake Google as Ann (what another client of hers would do).
    async fn google(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(
                method,
                format!("{}/calendar/v3{path}", self.fake.base_url()),
            )
            .bearer_auth(&self.google_token);
        if let Some(b) = body {
            request = request.json(&b);
        }
        let response = request.send().await.unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        response.json().await.unwrap_or(Value::Null)
    }

    fn event_path(&self, id: &str) -> String {
        format!("/calendars/{}/events/{id}", self.primary)
    }

    /// Live (not cancelled) events of the primary calendar.
    fn live_events(&self) -> Vec<Value> {
        self.fake
            .google()
            .events(&self.primary)
            .into_iter()
            .filter(|e| e["status"] != "cancelled")
            .collect()
    }

    fn insert(&self, body: Value) -> Value {
        self.fake
            .google()
            .insert_event(&self.primary, body)
            .unwrap()
    }

    /// Waits (at most 10 s, then fails) until the fault `id` has fired.
    async fn until_fired(&self, id: FaultId, what: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.fake.faults().fired(id) == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "never happened: {what}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn count(&self, method: &str, endpoint: &str) -> usize {
        self.fake.log().count(method, endpoint)
    }

    /// The answers to each request with this method that matched this route pattern.
    fn answers(&self, method: &str, endpoint: &str) -> Vec<Option<u16>> {
        self.fake
            .log()
            .requests()
            .into_iter()
            .filter(|r| r.method == method && r.endpoint.as_deref() == Some(endpoint))
            .map(|r| r.status)
            .collect()
    }

    /// The answers to each request for event `id` of the primary calendar, by method.
    fn statuses_of(&self, method: &str, id: &str) -> Vec<Option<u16>> {
        let path = format!("/calendar/v3{}", self.event_path(id));
        self.fake
            .log()
            .requests()
            .into_iter()
            .filter(|r| r.method == method && r.path == path)
            .map(|r| r.status)
            .collect()
    }

    /// The block mirroring event `event_id`.
    async fn block_of(&self, event_id: &str) -> Value {
        let blocks = self.blocks().await;
        blocks
            .iter()
            .find(|b| b["event_id"] == event_id)
            .unwrap_or_else(|| panic!("no block of {event_id}: {blocks:#?}"))
            .clone()
    }

    /// `POST /busy-blocks/{id}/convert`: the new meeting.
    async fn convert(&self, block: &Value) -> Value {
        let (status, meeting) = self.convert_with(block, None).await;
        assert_eq!(status, StatusCode::CREATED, "{meeting}");
        meeting
    }

    /// `POST /busy-blocks/{id}/convert` with `body`: the answer.
    async fn convert_with(&self, block: &Value, body: Option<Value>) -> (StatusCode, Value) {
        self.api(
            Method::POST,
            &format!("/busy-blocks/{}/convert", block["id"].as_str().unwrap()),
            body,
            None,
        )
        .await
    }

    /// Converts the occurrence of series block `block` that the series puts at `original`:
    /// the new meeting.
    async fn convert_occurrence(&self, block: &Value, original: &str) -> Value {
        let (status, meeting) = self
            .convert_with(block, Some(json!({ "occurrence": original })))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{meeting}");
        meeting
    }

    /// A run with nothing new to do: nothing counted, and the only request is the listing of
    /// the primary calendar (nothing written anywhere).
    async fn assert_quiet(&self) {
        self.fake.log().clear();
        assert_eq!(self.synced().await, RunCounts::default(), "converged");
        assert_eq!(
            self.fake.log().total(),
            1,
            "{:#?}",
            self.fake.log().requests()
        );
    }

    /// A run from a cleared request log that counts no error: its counts.
    async fn synced_cleanly(&self) -> RunCounts {
        self.fake.log().clear();
        let counts = self.synced().await;
        assert_eq!(counts.errors, 0, "{counts:?}");
        counts
    }

    /// Event `id` (an occurrence, by its instance id, too) moved in Google to [`start`,
    /// `end`), in Brussels.
    async fn reschedule(&self, id: &str, start: &str, end: &str) {
        self.google(
            reqwest::Method::PATCH,
            &self.event_path(id),
            Some(
                json!({"start": {"dateTime": start, "timeZone": "Europe/Brussels"},
                        "end": {"dateTime": end, "timeZone": "Europe/Brussels"}}),
            ),
        )
        .await;
    }

    /// Requests that wrote to Google.
    fn google_writes(&self) -> usize {
        self.count("PATCH", EVENT) + self.count("POST", EVENTS) + self.count("DELETE", EVENT)
    }

    /// The live meetings of the organisation.
    async fn meetings(&self) -> Vec<Value> {
        let (status, body) = self.api(Method::GET, "/meetings", None, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["items"].as_array().unwrap().clone()
    }

    /// "Sync now" (`POST /connections/{id}/sync`) run by a runner of this process, as a
    /// server runs it: the run is recorded with its counts. Answers the run once it is over.
    async fn sync_now(&self) -> Value {
        let connection = self.connection;
        self.state
            .db()
            .write(|tx| {
                Box::pin(schedule::ensure(
                    tx,
                    connection,
                    threadline_google_calendar::NAME,
                    Duration::from_secs(1800),
                    Duration::ZERO,
                ))
            })
            .await
            .unwrap();
        let (status, answer) = self
            .api(
                Method::POST,
                &format!("/connections/{connection}/sync"),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        let run_id = answer["items"][0]["id"].clone();
        let runner = Runner::new(
            self.state.db().clone(),
            RunnerConfig {
                poll_interval: Duration::from_millis(50),
                ..RunnerConfig::default()
            },
            self.state.sync_wake(),
        )
        .with_job(self.state.integration::<GoogleCalendar>().unwrap().job())
        .spawn();
        // The runner says nothing when a run ends: its record does (at most 10 s).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let run = loop {
            let (status, runs) = self
                .api(
                    Method::GET,
                    &format!("/connections/{connection}/runs"),
                    None,
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{runs}");
            let run = runs["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["id"] == run_id)
                .cloned()
                .unwrap();
            if !matches!(run["status"].as_str(), Some("queued" | "running")) {
                break run;
            }
            assert!(tokio::time::Instant::now() < deadline, "still going: {run}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        runner.shutdown().await;
        run
    }

    /// The kinds of the connection's links to event `remote_id`, or to CRM record `crm_id`.
    async fn link_kinds(&self, column: &str, value: &str) -> Vec<String> {
        assert!(matches!(column, "remote_id" | "crm_id"));
        sqlx::query_scalar(&format!(
            "SELECT kind FROM calendar_links WHERE connection_id = $1 AND {column} = $2"
        ))
        .bind(self.connection.to_string())
        .bind(value)
        .fetch_all(self.state.db().pool())
        .await
        .unwrap()
    }
}

fn timed(summary: &str, start: &str, end: &str) -> Value {
    json!({"summary": summary, "start": {"dateTime": start, "timeZone": "Europe/Brussels"},
           "end": {"dateTime": end, "timeZone": "Europe/Brussels"}})
}

fn event_id_of(meeting: &Value) -> String {
    let id = Uuid::parse_str(meeting["id"].as_str().unwrap()).unwrap();
    threadline_calendar_core::ids::event_id_for(id)
}

#[tokio::test]
async fn first_import_then_export_then_a_quiet_run_costs_one_request_per_calendar() {
    let h = Harness::new().await;
    h.insert(timed(
        "Dentist",
        "2026-03-02T09:00:00+01:00",
        "2026-03-02T10:00:00+01:00",
    ));
    let meeting = h
        .meeting(
            "Kick-off",
            "2026-03-03T14:00:00+01:00",
            "2026-03-03T15:00:00+01:00",
        )
        .await;

    let counts = h.synced().await;
    assert_eq!(counts.created, 2, "{counts:?}"); // the block and the exported event
    let blocks = h.blocks().await;
    assert_eq!(
        blocks.len(),
        1,
        "our own event is never a block too: {blocks:?}"
    );
    assert_eq!(blocks[0]["title"], "Dentist");
    assert_eq!(blocks[0]["start_at"], "2026-03-02T08:00:00Z");

    let event = h
        .fake
        .google()
        .event(&h.primary, &event_id_of(&meeting))
        .expect("exported");
    assert_eq!(event["summary"], "Kick-off");
    assert_eq!(
        event["extendedProperties"]["private"]["threadlineMeetingId"],
        meeting["id"]
    );

    // Echo suppression: nothing changed, so one events.list (the calendar is both the
    // imported and the export one) and no other request.
    h.fake.log().clear();
    let counts = h.synced().await;
    assert_eq!(counts, RunCounts::default());
    assert_eq!(h.fake.log().total(), 1, "{:?}", h.fake.log().requests());
    assert_eq!(h.count("GET", EVENTS), 1);
}

#[tokio::test]
async fn edits_and_deletes_flow_both_ways() {
    let h = Harness::new().await;
    let a = h
        .meeting(
            "Plan",
            "2026-03-03T14:00:00+01:00",
            "2026-03-03T15:00:00+01:00",
        )
        .await;
    let b = h
        .meeting(
            "Review",
            "2026-03-04T14:00:00+01:00",
            "2026-03-04T15:00:00+01:00",
        )
        .await;
    let c = h
        .meeting(
            "Retro",
            "2026-03-05T14:00:00+01:00",
            "2026-03-05T15:00:00+01:00",
        )
        .await;
    let d = h
        .meeting(
            "Demo",
            "2026-03-06T14:00:00+01:00",
            "2026-03-06T15:00:00+01:00",
        )
        .await;
    h.synced().await;

    // CRM edit → Google; Google edit → CRM.
    h.patch_meeting(a["id"].as_str().unwrap(), json!({"title": "Plan v2"}))
        .await;
    h.google(
        reqwest::Method::PATCH,
        &h.event_path(&event_id_of(&b)),
        Some(json!({"location": "Room 4"})),
    )
    .await;
    // CRM delete → Google; Google delete → CRM.
    h.delete_meeting(c["id"].as_str().unwrap()).await;
    h.google(
        reqwest::Method::DELETE,
        &h.event_path(&event_id_of(&d)),
        None,
    )
    .await;

    let counts = h.synced().await;
    assert_eq!(counts.errors, 0, "{counts:?}");
    let event_a = h.fake.google().event(&h.primary, &event_id_of(&a)).unwrap();
    assert_eq!(event_a["summary"], "Plan v2");
    assert_eq!(
        h.get_meeting(b["id"].as_str().unwrap()).await["location"],
        "Room 4"
    );
    let event_c = h.fake.google().event(&h.primary, &event_id_of(&c)).unwrap();
    assert_eq!(event_c["status"], "cancelled");
    assert!(h.get_meeting(d["id"].as_str().unwrap()).await["deleted_at"].is_string());

    // And then it is quiet: one listing.
    h.fake.log().clear();
    assert_eq!(h.synced().await, RunCounts::default());
    assert_eq!(h.fake.log().total(), 1);
}

#[tokio::test]
async fn an_edit_beats_a_delete_on_either_side() {
    let h = Harness::new().await;
    let a = h
        .meeting(
            "Edited in CRM",
            "2026-03-03T14:00:00+01:00",
            "2026-03-03T15:00:00+01:00",
        )
        .await;
    let b = h
        .meeting(
            "Edited in Google",
            "2026-03-04T14:00:00+01:00",
            "2026-03-04T15:00:00+01:00",
        )
        .await;
    h.synced().await;
    // a: edited in the CRM, deleted in Google → the event comes back.
    h.patch_meeting(a["id"].as_str().unwrap(), json!({"title": "Still on"}))
        .await;
    h.google(
        reqwest::Method::DELETE,
        &h.event_path(&event_id_of(&a)),
        None,
    )
    .await;
    // b: edited in Google, deleted in the CRM → the meeting comes back.
    h.google(
        reqwest::Method::PATCH,
        &h.event_path(&event_id_of(&b)),
        Some(json!({"summary": "Moved on"})),
    )
    .await;
    h.delete_meeting(b["id"].as_str().unwrap()).await;

    h.fake.log().clear();
    h.synced().await;
    let event_a = h.fake.google().event(&h.primary, &event_id_of(&a)).unwrap();
    assert_eq!(event_a["status"], "confirmed", "{event_a}");
    assert_eq!(event_a["summary"], "Still on");
    // Revived, not re-made: Google keeps a deleted event's id, so the insert answers 409
    // and the cancelled event is patched back to confirmed under its id.
    assert_eq!(h.answers("POST", EVENTS), [Some(409)]);
    assert_eq!(h.statuses_of("PATCH", &event_id_of(&a)), [Some(200)]);
    assert_eq!(h.live_events().len(), 2, "no second event for a");
    let meeting_b = h.get_meeting(b["id"].as_str().unwrap()).await;
    assert!(meeting_b["deleted_at"].is_null(), "{meeting_b}");
    assert_eq!(meeting_b["title"], "Moved on");
}

#[tokio::test]
async fn an_expired_sync_token_mid_paging_relists_without_duplicates() {
    let h = Harness::new().await;
    for i in 0..3 {
        h.insert(timed(
            &format!("Busy {i}"),
            "2026-03-02T09:00:00+01:00",
            "2026-03-02T10:00:00+01:00",
        ));
    }
    h.meeting(
        "Ours",
        "2026-03-03T14:00:00+01:00",
        "2026-03-03T15:00:00+01:00",
    )
    .await;
    // Every listing serves an empty page with a nextPageToken first.
    h.fake.google().set_empty_pages(true);
    h.synced().await;
    assert_eq!(h.blocks().await.len(), 3);
    h.insert(timed(
        "Busy 3",
        "2026-03-02T11:00:00+01:00",
        "2026-03-02T12:00:00+01:00",
    ));
    h.fake.google().expire_sync_tokens(&h.primary);

    let counts = h.synced().await;
    assert_eq!(counts.errors, 0, "{counts:?}");
    assert_eq!(h.blocks().await.len(), 4);
    assert_eq!(h.live_events().len(), 5, "no second copy of our event");
    // And the token saved after the re-list works.
    h.fake.log().clear();
    assert_eq!(h.synced().await, RunCounts::default());
    assert_eq!(
        h.count("GET", EVENTS),
        2,
        "an empty page, then the last one"
    );
}

#[tokio::test]
async fn an_insert_whose_answer_was_lost_is_adopted_not_duplicated() {
    let h = Harness::new().await;
    let meeting = h
        .meeting(
            "Lost answer",
            "2026-03-03T14:00:00+01:00",
            "2026-03-03T15:00:00+01:00",
        )
        .await;
    let rule = h.fake.faults().inject(
        FaultRule::new(Fault::DropResponseAfterCommit)
            .on("POST", "/calendar/v3/calendars/*/events")
            .times(Times::Once),
    );
    let counts = h.synced().await;
    assert_eq!(h.fake.faults().fired(rule), 1);
    assert_eq!(counts.errors, 0, "{counts:?}");
    assert_eq!(h.live_events().len(), 1);
    assert!(h
        .fake
        .google()
        .event(&h.primary, &event_id_of(&meeting))
        .is_some());
    // The link is there: the next run is quiet.
    h.fake.log().clear();
    assert_eq!(h.synced().await, RunCounts::default());
    assert_eq!(h.fake.log().total(), 1);
}

/// Someone else's event already holds the id our meeting's event would get (it says it is
/// another installation's meeting): the insert answers 409, the event is read and found
/// foreign. It is left exactly as it was (an ordinary busy block to us), nothing is linked,
/// no event with another id is made, the run counts an error, and the meeting is untouched.
/// The next run does the same again, writing nothing.
#[tokio::test]
async fn a_foreign_event_holding_our_id_is_left_alone_counted_and_reported() {
    let h = Harness::new().await;
    let meeting = h
        .meeting(
            "Kick-off",
            "2026-03-03T14:00:00+01:00",
            "2026-03-03T15:00:00+01:00",
        )
        .await;
    let id = meeting["id"].as_str().unwrap();
    let event_id = event_id_of(&meeting);
    let mut body = timed(
        "Not ours",
        "2026-03-04T09:00:00+01:00",
        "2026-03-04T10:00:00+01:00",
    );
    body["id"] = json!(event_id);
    body["extendedProperties"] = json!({"private": {
        threadline_calendar_core::ids::CRM_ID_PROPERTY: Uuid::now_v7().to_string()}});
    let foreign = h.insert(body);
    let meeting = h.get_meeting(id).await;

    for run in 1..=2 {
        h.fake.log().clear();
        let recorded = h.sync_now().await;
        assert_eq!(recorded["status"], "ok", "run {run}: {recorded}");
        assert!(
            recorded["counts"]["errors"].as_i64().unwrap() >= 1,
            "run {run}: {recorded}"
        );
        assert_eq!(
            h.answers("POST", EVENTS),
            [Some(409)],
            "run {run}: one insert, refused"
        );
        assert_eq!(h.statuses_of("GET", &event_id), [Some(200)], "run {run}");
        assert_eq!(
            h.count("PATCH", EVENT) + h.count("PUT", EVENT) + h.count("DELETE", EVENT),
            0,
            "run {run}: nothing written"
        );
        assert_eq!(
            h.fake.google().event(&h.primary, &event_id).unwrap(),
            foreign,
            "run {run}: the foreign event is as it was"
        );
        assert_eq!(
            h.live_events().len(),
            1,
            "run {run}: no event with another id"
        );
        assert!(h.link_kinds("crm_id", id).await.is_empty(), "run {run}");
        assert_eq!(
            h.link_kinds("remote_id", &event_id).await,
            ["block"],
            "run {run}: someone else's event is busy time to us"
        );
        assert_eq!(
            h.get_meeting(id).await,
            meeting,
            "run {run}: the meeting is untouched"
        );
        let (_, connection) = h
            .api(
                Method::GET,
                &format!("/connections/{}", h.connection),
                None,
                None,
            )
            .await;
        assert_eq!(connection["status"], "degraded", "run {run}: {connection}");
        let reason = connection["status_reason"].as_str().unwrap();
        assert!(
            reason.contains(id) && reason.contains(&event_id),
            "run {run}: the user is told which meeting and event: {reason}"
        );
    }
}

#[tokio::test]
async fn throttling_and_unavailability_are_retried_honouring_retry_after() {
    let h = Harness::new().await;
    h.insert(timed(
        "Busy",
        "2026-03-02T09:00:00+01:00",
        "2026-03-02T10:00:00+01:00",
    ));
    h.fake.faults().inject(
        FaultRule::new(Fault::TooManyRequests {
            retry_after: Some(1),
        })
        .on("GET", "/calendar/v3/calendars/*/events")
        .times(Times::Once),
    );
    h.fake.faults().inject(
        FaultRule::new(Fault::Unavailable)
            .on("GET", "/calendar/v3/calendars/*/events")
            .times(Times::Once),
    );
    let started = std::time::Instant::now();
    let counts = h.synced().await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
    assert_eq!(counts.created, 1);
    assert_eq!(h.count("GET", EVENTS), 3);

    // Throttled for good: the run stops, retryable, and nothing is lost.
    h.fake.faults().inject(
        FaultRule::new(Fault::TooManyRequests { retry_after: None })
            .on("GET", "/calendar/v3/calendars/*/events")
            .times(Times::Always),
    );
    assert!(matches!(h.sync().await, Err(SyncError::Retryable { .. })));
    h.fake.faults().clear();
    assert_eq!(h.blocks().await.len(), 1);
}

#[tokio::test]
async fn a_mass_delete_is_refused_for_review_and_nothing_is_written() {
    let h = Harness::new().await;
    let mut meetings = Vec::new();
    for i in 0..4 {
        meetings.push(
            h.meeting(
                &format!("M{i}"),
                "2026-03-03T14:00:00+01:00",
                "2026-03-03T15:00:00+01:00",
            )
            .await,
        );
    }
    h.synced().await;
    for m in &meetings {
        h.google(
            reqwest::Method::DELETE,
            &h.event_path(&event_id_of(m)),
            None,
        )
        .await;
    }
    match h.sync().await {
        Err(SyncError::RefusedForReview(reasons)) => assert!(!reasons.is_empty()),
        other => panic!("expected a refusal, got {other:?}"),
    }
    for m in &meetings {
        assert!(h.get_meeting(m["id"].as_str().unwrap()).await["deleted_at"].is_null());
    }
    let (_, connection) = h
        .api(
            Method::GET,
            &format!("/connections/{}", h.connection),
            None,
            None,
        )
        .await;
    assert_eq!(connection["status"], "degraded");
    assert!(connection["status_reason"]
        .as_str()
        .unwrap()
        .contains("review"));
    // Refused again next time: the cursor did not move.
    assert!(matches!(
        h.sync().await,
        Err(SyncError::RefusedForReview(_))
    ));
}

#[tokio::test]
async fn a_series_with_a_moved_and_a_cancelled_instance_is_one_block_and_two_exceptions() {
    let h = Harness::new().await;
    let master = h.insert(json!({
        "summary": "Standup",
        "start": {"dateTime": "2026-03-02T09:00:00", "timeZone": "Europe/Brussels"},
        "end": {"dateTime": "2026-03-02T09:15:00", "timeZone": "Europe/Brussels"},
        "recurrence": ["RRULE:FREQ=DAILY;COUNT=5"]
    }));
    let id = master["id"].as_str().unwrap();
    h.synced().await;
    // Move the second instance, cancel the third (instance ids are Google's).
    h.google(
        reqwest::Method::PATCH,
        &h.event_path(&format!("{id}_20260303T080000Z")),
        Some(json!({"start": {"dateTime": "2026-03-03T11:00:00+01:00"},
                    "end": {"dateTime": "2026-03-03T11:15:00+01:00"}})),
    )
    .await;
    let _ = h
        .http
        .delete(format!(
            "{}/calendar/v3{}",
            h.fake.base_url(),
            h.event_path(&format!("{id}_20260304T080000Z"))
        ))
        .bearer_auth(&h.google_token)
        .send()
        .await
        .unwrap();
    h.synced().await;
    let blocks = h.blocks().await;
    assert_eq!(blocks.len(), 3, "{blocks:#?}");
    let series = blocks.iter().find(|b| b["event_id"] == id).unwrap();
    assert_eq!(series["recurrence"], json!(["RRULE:FREQ=DAILY;COUNT=5"]));
    let moved = blocks
        .iter()
        .find(|b| b["event_id"] == format!("{id}_20260303T080000Z"))
        .unwrap();
    assert_eq!(moved["series_id"], id);
    assert_eq!(moved["start_at"], "2026-03-03T10:00:00Z");
    assert_eq!(moved["cancelled"], false);
    let cancelled = blocks
        .iter()
        .find(|b| b["event_id"] == format!("{id}_20260304T080000Z"))
        .unwrap();
    assert_eq!(cancelled["cancelled"], true);

    // Deleting the series removes its exceptions' blocks too: 3 blocks, but one item (the
    // series), so the mass-delete guard lets this ordinary delete through.
    h.google(reqwest::Method::DELETE, &h.event_path(id), None)
        .await;
    let counts = h.synced().await;
    assert_eq!(counts.deleted, 3, "{counts:?}");
    let left = h.blocks().await;
    assert!(left.is_empty(), "{left:#?}");
}

#[tokio::test]
async fn all_day_ends_are_exclusive_both_ways() {
    let h = Harness::new().await;
    h.insert(json!({"summary": "Holiday", "start": {"date": "2026-03-02"}, "end": {"date": "2026-03-03"}}));
    let (status, meeting) = h
        .api(
            Method::POST,
            "/meetings",
            Some(
                json!({"title": "Offsite", "all_day": true, "start_date": "2026-03-05",
                "end_date": "2026-03-07", "attendees": [{"address": ANN}]}),
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    h.synced().await;
    let blocks = h.blocks().await;
    assert_eq!(blocks[0]["start_date"], "2026-03-02");
    assert_eq!(blocks[0]["end_date"], "2026-03-03");
    let event = h
        .fake
        .google()
        .event(&h.primary, &event_id_of(&meeting))
        .unwrap();
    assert_eq!(event["start"]["date"], "2026-03-05");
    assert_eq!(event["end"]["date"], "2026-03-07");
}

#[tokio::test]
async fn selection_changes_remove_blocks_and_reselecting_makes_no_duplicates() {
    let h = Harness::without_selection().await;
    let work = h.fake.google().add_calendar(ANN, "Work", "Europe/Brussels");
    h.fake
        .google()
        .insert_event(
            &work,
            timed(
                "Work thing",
                "2026-03-02T09:00:00+01:00",
                "2026-03-02T10:00:00+01:00",
            ),
        )
        .unwrap();
    h.insert(timed(
        "Home thing",
        "2026-03-02T19:00:00+01:00",
        "2026-03-02T20:00:00+01:00",
    ));

    let (status, list) = h
        .api(
            Method::GET,
            &format!("/connections/{}/calendars", h.connection),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert!(list["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["can_export"] == true));

    let primary = h.primary.clone();
    h.select(&[&primary, &work], Some(&primary)).await;
    h.synced().await;
    let before = h.blocks().await;
    assert_eq!(before.len(), 2);

    // Deselect Work: its block goes at once.
    h.select(&[&primary], Some(&primary)).await;
    let now = h.blocks().await;
    assert_eq!(now.len(), 1);
    assert_eq!(now[0]["title"], "Home thing");
    h.synced().await;

    // Select it again: the same block (same id), not a second one.
    h.select(&[&primary, &work], Some(&primary)).await;
    h.synced().await;
    let after = h.blocks().await;
    assert_eq!(after.len(), 2);
    let ids = |v: &[Value]| v.iter().map(|b| b["id"].clone()).collect::<Vec<_>>();
    assert_eq!(ids(&before), ids(&after));

    // An unknown calendar is refused, naming the field.
    let (status, body) = h
        .api(
            Method::PUT,
            &format!("/connections/{}/calendar-selection", h.connection),
            Some(json!({"import": [primary, "nope@example.com"], "export": null})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "import[1]");
}

#[tokio::test]
async fn a_converted_block_is_a_meeting_that_follows_google() {
    let h = Harness::new().await;
    let event = h.insert(timed(
        "Customer call",
        "2026-03-02T09:00:00+01:00",
        "2026-03-02T10:00:00+01:00",
    ));
    h.synced().await;
    let block = h.blocks().await.remove(0);
    let meeting = h.convert(&block).await;
    assert_eq!(meeting["title"], "Customer call");
    assert_eq!(meeting["start_at"], "2026-03-02T08:00:00Z");
    assert!(h.blocks().await.is_empty());

    // Google's edit reaches the meeting; nothing is written to Google, no twin appears.
    h.google(
        reqwest::Method::PATCH,
        &h.event_path(event["id"].as_str().unwrap()),
        Some(json!({"summary": "Customer call (moved)"})),
    )
    .await;
    h.fake.log().clear();
    h.synced().await;
    assert_eq!(
        h.get_meeting(meeting["id"].as_str().unwrap()).await["title"],
        "Customer call (moved)"
    );
    assert!(h.blocks().await.is_empty());
    assert_eq!(h.live_events().len(), 1);
    assert_eq!(h.count("PATCH", EVENT) + h.count("POST", EVENTS), 0);
}

/// A weekly series of six in Google: "Weekly review", Room 1, Mondays 09:00–10:00 in
/// Brussels from 2 March 2026 (08:00Z until 23 March, 07:00Z on 30 March and 6 April,
/// summer time).
fn weekly_review() -> Value {
    json!({
        "summary": "Weekly review",
        "location": "Room 1",
        "start": {"dateTime": "2026-03-02T09:00:00", "timeZone": "Europe/Brussels"},
        "end": {"dateTime": "2026-03-02T10:00:00", "timeZone": "Europe/Brussels"},
        "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=6"]
    })
}

/// [`weekly_review`] in Google, synced (one block): its id.
async fn weekly_series(h: &Harness) -> String {
    let series = h.insert(weekly_review())["id"]
        .as_str()
        .unwrap()
        .to_string();
    h.synced().await;
    series
}

/// The series of [`weekly_review`] with the instances at `starts` (UTC id suffixes) each moved an hour later, synced:
/// the series is one block, each moved instance (an exception) one more, which is what the
/// user can convert — an instance the series has not changed has no block of its own.
/// Answers the series id and the instances' ids.
async fn series_with_moved_instances(h: &Harness, starts: &[&str]) -> (String, Vec<String>) {
    let master = h.insert(weekly_review());
    let series = master["id"].as_str().unwrap().to_string();
    let of_series = || async {
        let blocks = h.blocks().await;
        blocks
            .into_iter()
            .filter(|b| b["event_id"].as_str().unwrap().starts_with(&series))
            .count()
    };
    h.synced().await;
    assert_eq!(of_series().await, 1, "one block for the whole series");
    let mut instances = Vec::new();
    for start in starts {
        let at = chrono::NaiveDateTime::parse_from_str(start, "%Y%m%dT%H%M%SZ")
            .unwrap()
            .and_utc();
        let hour = |h: i64| (at + chrono::Duration::hours(h)).to_rfc3339();
        let id = format!("{series}_{start}");
        h.reschedule(&id, &hour(1), &hour(2)).await;
        instances.push(id);
    }
    h.synced().await;
    assert_eq!(of_series().await, 1 + starts.len());
    (series, instances)
}

/// A converted instance of a series (linked by its instance id, the master as its series):
/// a change of the master reaches it although Google lists only the master — the run reads
/// the instance by its id (the planner's `Refetch`) — and cancelling the instance in Google
/// removes the meeting and leaves what a first import would show: the series and the
/// cancelled occurrence. No second meeting or block at any step, nothing written to Google.
#[tokio::test]
async fn a_converted_instance_follows_its_series_and_goes_when_cancelled() {
    let h = Harness::new().await;
    let (series, moved) = series_with_moved_instances(&h, &["20260309T080000Z"]).await;
    let instance = &moved[0];
    let meeting = h.convert(&h.block_of(instance).await).await;
    assert_eq!(meeting["title"], "Weekly review");
    assert_eq!(meeting["start_at"], "2026-03-09T09:00:00Z");
    let id = meeting["id"].as_str().unwrap();
    assert_eq!(
        h.blocks().await.len(),
        1,
        "the instance's block became the meeting"
    );

    // The series moves to Room 2. The instance was moved, not re-placed, so it is in Room 2
    // too; an incremental listing names only the master.
    h.google(
        reqwest::Method::PATCH,
        &h.event_path(&series),
        Some(json!({"location": "Room 2"})),
    )
    .await;
    h.fake.log().clear();
    let counts = h.synced().await;
    assert_eq!(counts.errors, 0, "{counts:?}");
    assert_eq!(
        h.statuses_of("GET", instance),
        [Some(200)],
        "the instance was read by its id: {:#?}",
        h.fake.log().requests()
    );
    let stored = h.get_meeting(id).await;
    assert_eq!(stored["location"], "Room 2", "{stored}");
    assert_eq!(
        stored["start_at"], "2026-03-09T09:00:00Z",
        "where it was moved"
    );
    assert_eq!(stored["title"], "Weekly review");
    assert_eq!(
        h.count("PATCH", EVENT) + h.count("POST", EVENTS) + h.count("DELETE", EVENT),
        0,
        "a converted meeting is never written to Google"
    );
    let blocks = h.blocks().await;
    assert_eq!(blocks.len(), 1, "the series only: {blocks:#?}");
    assert_eq!(blocks[0]["location"], "Room 2");
    assert_eq!(h.meetings().await.len(), 1);
    h.fake.log().clear();
    assert_eq!(h.synced().await, RunCounts::default(), "converged");
    assert_eq!(h.fake.log().total(), 1);

    // The instance is cancelled in Google: the meeting goes.
    h.google(reqwest::Method::DELETE, &h.event_path(instance), None)
        .await;
    let counts = h.synced().await;
    assert_eq!(counts.errors, 0, "{counts:?}");
    assert!(h.get_meeting(id).await["deleted_at"].is_string());
    assert!(h.meetings().await.is_empty());
    assert!(h.link_kinds("crm_id", id).await.is_empty());
    let blocks = h.blocks().await;
    assert_eq!(
        blocks.len(),
        2,
        "the series and its cancelled occurrence: {blocks:#?}"
    );
    let cancelled = h.block_of(instance).await;
    assert_eq!(cancelled["cancelled"], true, "{cancelled}");
    assert_eq!(cancelled["series_id"], series.as_str());
    assert_eq!(h.synced().await, RunCounts::default(), "converged");
}

/// An edit in the CRM beats Google's delete for a converted instance too: cancelled in
/// Google after the CRM changed it, the meeting stays (exported to the export calendar, as
/// the crate docs say); an unedited converted instance goes with its series when the master
/// is deleted. No duplicates at any step.
#[tokio::test]
async fn a_converted_instance_edited_in_the_crm_outlives_its_cancellation() {
    let h = Harness::new().await;
    // Other events in the calendar: deleting one series is not a mass delete.
    for (day, title) in [("03", "Dentist"), ("04", "Lunch"), ("05", "Gym")] {
        h.insert(timed(
            title,
            &format!("2026-03-{day}T12:00:00+01:00"),
            &format!("2026-03-{day}T13:00:00+01:00"),
        ));
    }
    let (series, moved) =
        series_with_moved_instances(&h, &["20260309T080000Z", "20260316T080000Z"]).await;
    let edited = h.convert(&h.block_of(&moved[0]).await).await;
    let plain = h.convert(&h.block_of(&moved[1]).await).await;
    let (edited_id, plain_id) = (
        edited["id"].as_str().unwrap(),
        plain["id"].as_str().unwrap(),
    );
    h.patch_meeting(edited_id, json!({"title": "Weekly review: budget"}))
        .await;

    h.google(reqwest::Method::DELETE, &h.event_path(&moved[0]), None)
        .await;
    let counts = h.synced().await;
    assert_eq!(counts.errors, 0, "{counts:?}");
    let stored = h.get_meeting(edited_id).await;
    assert!(stored["deleted_at"].is_null(), "{stored}");
    assert_eq!(stored["title"], "Weekly review: budget");
    let exported = h
        .fake
        .google()
        .event(&h.primary, &event_id_of(&edited))
        .expect("the meeting is exported now");
    assert_eq!(exported["status"], "confirmed");
    assert_eq!(exported["summary"], "Weekly review: budget");
    assert_eq!(h.link_kinds("crm_id", edited_id).await, ["exported"]);
    assert!(h.get_meeting(plain_id).await["deleted_at"].is_null());
    assert_eq!(h.meetings().await.len(), 2);
    assert_eq!(
        h.block_of(&moved[0]).await["cancelled"],
        true,
        "the cancelled occurrence is hidden"
    );
    assert_eq!(h.synced().await, RunCounts::default(), "converged");

    // The series is deleted: the unedited instance's meeting goes with it; the edited one
    // is no longer the series'.
    h.google(reqwest::Method::DELETE, &h.event_path(&series), None)
        .await;
    let counts = h.synced().await;
    assert_eq!(counts.errors, 0, "{counts:?}");
    assert!(h.get_meeting(plain_id).await["deleted_at"].is_string());
    let meetings = h.meetings().await;
    assert_eq!(meetings.len(), 1, "{meetings:#?}");
    assert_eq!(meetings[0]["id"], edited["id"]);
    let titles: Vec<Value> = h
        .blocks()
        .await
        .iter()
        .map(|b| b["title"].clone())
        .collect();
    assert_eq!(
        titles,
        ["Dentist", "Lunch", "Gym"],
        "nothing of the series is left"
    );
    let live = h.live_events();
    assert_eq!(
        live.len(),
        4,
        "the three and the exported meeting: {live:#?}"
    );
    assert_eq!(h.synced().await, RunCounts::default(), "converged");
}

/// Any occurrence of a series block can be made a meeting, named by its original start: it
/// is read from Google by its instance id and linked to it, and the series block stays,
/// listing the occurrence as converted (so a client expanding the series shows no busy slot
/// beside the meeting). The meeting then follows the series (a change of the master is
/// refetched through the instance, its time kept) and the occurrence (moved, cancelled).
/// No duplicates and nothing written to Google at any step; a run after each is quiet.
#[tokio::test]
async fn an_occurrence_of_a_series_becomes_a_meeting_that_follows_it() {
    let h = Harness::new().await;
    let series = weekly_series(&h).await;
    let block = h.block_of(&series).await;
    assert_eq!(block["converted_occurrences"], json!([]));

    // The third Monday: 16 March, 09:00 in Brussels.
    let instance = format!("{series}_20260316T080000Z");
    h.fake.log().clear();
    let meeting = h
        .convert_occurrence(&block, "2026-03-16T09:00:00+01:00")
        .await;
    let id = meeting["id"].as_str().unwrap();
    assert_eq!(meeting["title"], "Weekly review");
    assert_eq!(meeting["location"], "Room 1");
    assert_eq!(meeting["start_at"], "2026-03-16T08:00:00Z");
    assert_eq!(meeting["end_at"], "2026-03-16T09:00:00Z");
    assert_eq!(meeting["time_zone"], "Europe/Brussels");
    assert_eq!(
        h.statuses_of("GET", &instance),
        [Some(200)],
        "read by its instance id: {:#?}",
        h.fake.log().requests()
    );
    assert_eq!(h.google_writes(), 0);
    assert_eq!(h.link_kinds("crm_id", id).await, ["converted"]);
    assert_eq!(h.link_kinds("remote_id", &instance).await, ["converted"]);
    let blocks = h.blocks().await;
    assert_eq!(blocks.len(), 1, "the series block stays: {blocks:#?}");
    assert_eq!(blocks[0]["event_id"], series.as_str());
    // As exceptions give their `original_start`.
    assert_eq!(
        blocks[0]["converted_occurrences"],
        json!(["2026-03-16T08:00:00.000000Z"])
    );
    assert_eq!(h.meetings().await.len(), 1);
    h.assert_quiet().await;

    // The series moves to Room 2: Google lists only the master; the run reads the
    // occurrence by its id, and the meeting is in Room 2 at the same time.
    h.google(
        reqwest::Method::PATCH,
        &h.event_path(&series),
        Some(json!({"location": "Room 2"})),
    )
    .await;
    h.synced_cleanly().await;
    assert_eq!(
        h.statuses_of("GET", &instance),
        [Some(200)],
        "refetched: {:#?}",
        h.fake.log().requests()
    );
    let stored = h.get_meeting(id).await;
    assert_eq!(stored["location"], "Room 2", "{stored}");
    assert_eq!(stored["start_at"], "2026-03-16T08:00:00Z");
    assert_eq!(stored["end_at"], "2026-03-16T09:00:00Z");
    assert_eq!(h.google_writes(), 0);
    let blocks = h.blocks().await;
    assert_eq!(blocks.len(), 1, "{blocks:#?}");
    assert_eq!(blocks[0]["location"], "Room 2");
    assert_eq!(
        blocks[0]["converted_occurrences"],
        json!(["2026-03-16T08:00:00.000000Z"])
    );
    assert_eq!(h.meetings().await.len(), 1);
    h.assert_quiet().await;

    // A full listing (the sync token expired: 410) names the master only, never an
    // occurrence the series has not changed: that is no delete; the occurrence is read
    // again by its id, and nothing changes.
    h.fake.google().expire_sync_tokens(&h.primary);
    h.fake.log().clear();
    assert_eq!(h.synced().await, RunCounts::default());
    assert_eq!(h.statuses_of("GET", &instance), [Some(200)]);
    assert!(h.get_meeting(id).await["deleted_at"].is_null());
    assert_eq!(h.link_kinds("crm_id", id).await, ["converted"]);
    assert_eq!(h.blocks().await.len(), 1);
    assert_eq!(h.meetings().await.len(), 1);
    h.assert_quiet().await;

    // The occurrence is moved two hours later in Google: the meeting follows; it is still
    // the series' occurrence of 16 March, and still no block of its own.
    h.reschedule(
        &instance,
        "2026-03-16T11:00:00+01:00",
        "2026-03-16T12:00:00+01:00",
    )
    .await;
    h.synced_cleanly().await;
    let stored = h.get_meeting(id).await;
    assert_eq!(stored["start_at"], "2026-03-16T10:00:00Z", "{stored}");
    assert_eq!(stored["end_at"], "2026-03-16T11:00:00Z");
    assert_eq!(stored["location"], "Room 2");
    assert_eq!(h.google_writes(), 0);
    let blocks = h.blocks().await;
    assert_eq!(blocks.len(), 1, "{blocks:#?}");
    assert_eq!(
        blocks[0]["converted_occurrences"],
        json!(["2026-03-16T08:00:00.000000Z"])
    );
    assert_eq!(h.meetings().await.len(), 1);
    h.assert_quiet().await;

    // The occurrence is cancelled in Google: the meeting goes, and the series shows the
    // occurrence cancelled, as a first import would.
    h.google(reqwest::Method::DELETE, &h.event_path(&instance), None)
        .await;
    h.synced_cleanly().await;
    assert!(h.get_meeting(id).await["deleted_at"].is_string());
    assert!(h.meetings().await.is_empty());
    assert!(h.link_kinds("crm_id", id).await.is_empty());
    assert_eq!(h.google_writes(), 0);
    let blocks = h.blocks().await;
    assert_eq!(blocks.len(), 2, "{blocks:#?}");
    assert_eq!(
        h.block_of(&series).await["converted_occurrences"],
        json!([])
    );
    let cancelled = h.block_of(&instance).await;
    assert_eq!(cancelled["cancelled"], true, "{cancelled}");
    assert_eq!(cancelled["original_start"], "2026-03-16T08:00:00.000000Z");
    h.assert_quiet().await;
}

/// A moved occurrence (an exception with a block of its own) named through its series is
/// converted as its block would be, and that block goes; converting an occurrence twice is
/// refused, naming the meeting. An occurrence edited in the CRM outlives its cancellation
/// in Google (it is exported instead), and leaves the series' list of converted ones.
#[tokio::test]
async fn a_converted_occurrence_edited_in_the_crm_outlives_its_cancellation() {
    let h = Harness::new().await;
    let (series, moved) = series_with_moved_instances(&h, &["20260309T080000Z"]).await;
    let block = h.block_of(&series).await;
    let moved_meeting = h.convert_occurrence(&block, "2026-03-09T08:00:00Z").await;
    assert_eq!(
        moved_meeting["start_at"], "2026-03-09T09:00:00Z",
        "where it was moved"
    );
    assert_eq!(h.link_kinds("remote_id", &moved[0]).await, ["converted"]);
    let blocks = h.blocks().await;
    assert_eq!(
        blocks.len(),
        1,
        "the exception's block became the meeting: {blocks:#?}"
    );
    assert_eq!(
        blocks[0]["converted_occurrences"],
        json!(["2026-03-09T08:00:00.000000Z"])
    );
    let (status, answer) = h
        .convert_with(
            &block,
            Some(json!({"occurrence": "2026-03-09T09:00:00+01:00"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["error"]["code"], "conflict");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains(moved_meeting["id"].as_str().unwrap()),
        "{answer}"
    );

    let instance = format!("{series}_20260323T080000Z");
    let edited = h.convert_occurrence(&block, "2026-03-23T08:00:00Z").await;
    let edited_id = edited["id"].as_str().unwrap();
    assert_eq!(
        h.block_of(&series).await["converted_occurrences"],
        json!(["2026-03-09T08:00:00.000000Z", "2026-03-23T08:00:00.000000Z"])
    );
    assert_eq!(h.meetings().await.len(), 2);
    h.assert_quiet().await;

    h.patch_meeting(edited_id, json!({"title": "Weekly review: budget"}))
        .await;
    h.google(reqwest::Method::DELETE, &h.event_path(&instance), None)
        .await;
    h.synced_cleanly().await;
    let stored = h.get_meeting(edited_id).await;
    assert!(stored["deleted_at"].is_null(), "{stored}");
    assert_eq!(stored["title"], "Weekly review: budget");
    assert_eq!(h.link_kinds("crm_id", edited_id).await, ["exported"]);
    let exported = h
        .fake
        .google()
        .event(&h.primary, &event_id_of(&edited))
        .expect("the meeting is exported now");
    assert_eq!(exported["summary"], "Weekly review: budget");
    assert_eq!(h.block_of(&instance).await["cancelled"], true);
    assert_eq!(
        h.block_of(&series).await["converted_occurrences"],
        json!(["2026-03-09T08:00:00.000000Z"])
    );
    assert_eq!(h.meetings().await.len(), 2);
    h.assert_quiet().await;

    // The moved occurrence's meeting is deleted in the CRM: at once the series no longer
    // hides that occurrence (the event is still there); the next run makes its block again.
    h.delete_meeting(moved_meeting["id"].as_str().unwrap())
        .await;
    assert_eq!(
        h.block_of(&series).await["converted_occurrences"],
        json!([])
    );
    h.synced_cleanly().await;
    assert_eq!(h.google_writes(), 0, "the event is never deleted");
    let back = h.block_of(&moved[0]).await;
    assert_eq!(back["start_at"], "2026-03-09T09:00:00Z", "{back}");
    assert_eq!(h.link_kinds("remote_id", &moved[0]).await, ["block"]);
    assert_eq!(h.blocks().await.len(), 3, "the series and two exceptions");
    assert_eq!(h.meetings().await.len(), 1);
    h.assert_quiet().await;
}

/// When the whole series moves to another time, its occurrences' ids change (they name
/// the original start): a converted occurrence the series no longer has is gone, as a
/// cancelled one would be. Its meeting goes (it was not edited in the CRM) rather than
/// staying linked to nothing.
#[tokio::test]
async fn a_converted_occurrence_the_series_no_longer_has_goes() {
    let h = Harness::new().await;
    let series = weekly_series(&h).await;
    let meeting = h
        .convert_occurrence(&h.block_of(&series).await, "2026-03-16T08:00:00Z")
        .await;
    let id = meeting["id"].as_str().unwrap();
    h.reschedule(&series, "2026-03-02T14:00:00", "2026-03-02T15:00:00")
        .await;
    h.synced_cleanly().await;
    assert_eq!(
        h.statuses_of("GET", &format!("{series}_20260316T080000Z")),
        [Some(404)]
    );
    assert!(h.get_meeting(id).await["deleted_at"].is_string());
    assert!(h.link_kinds("crm_id", id).await.is_empty());
    let blocks = h.blocks().await;
    assert_eq!(blocks.len(), 1, "{blocks:#?}");
    assert_eq!(blocks[0]["start_at"], "2026-03-02T13:00:00Z");
    assert_eq!(blocks[0]["converted_occurrences"], json!([]));
    assert!(h.meetings().await.is_empty());
    h.assert_quiet().await;
}

/// What `occurrence` must be: given for a series block and only there, in the series' form,
/// and an occurrence of the series that is not cancelled; Google's failures are 503. None
/// of these writes anything.
#[tokio::test]
async fn converting_a_series_needs_one_of_its_occurrences() {
    let h = Harness::new().await;
    let single = h.insert(timed(
        "Dentist",
        "2026-03-04T12:00:00+01:00",
        "2026-03-04T13:00:00+01:00",
    ))["id"]
        .as_str()
        .unwrap()
        .to_string();
    let series = weekly_series(&h).await;
    let block = h.block_of(&series).await;
    let invalid = |status: StatusCode, answer: &Value| {
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["error"]["code"], "invalid_field", "{answer}");
        assert_eq!(answer["error"]["field"], "occurrence", "{answer}");
    };

    h.fake.log().clear();
    for body in [None, Some(json!({})), Some(json!({"occurrence": null}))] {
        let (status, answer) = h.convert_with(&block, body).await;
        invalid(status, &answer);
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("`occurrence`"),
            "{answer}"
        );
    }
    // A timed series' occurrences are instants.
    for wrong in ["next monday", "2026-03-16"] {
        let (status, answer) = h
            .convert_with(&block, Some(json!({ "occurrence": wrong })))
            .await;
        invalid(status, &answer);
    }
    assert_eq!(h.fake.log().total(), 0, "nothing asked of Google");

    // Between two occurrences, after the last one, a fraction of a second off one.
    for (wrong, asked) in [
        ("2026-03-16T08:30:00Z", "20260316T083000Z"),
        ("2026-04-13T07:00:00Z", "20260413T070000Z"),
        ("2026-03-16T08:00:00.5Z", "20260316T080000Z"),
    ] {
        h.fake.log().clear();
        let (status, answer) = h
            .convert_with(&block, Some(json!({ "occurrence": wrong })))
            .await;
        invalid(status, &answer);
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("not an occurrence of this series"),
            "{answer}"
        );
        assert_eq!(
            h.statuses_of("GET", &format!("{series}_{asked}")).len(),
            1,
            "asked Google: {:#?}",
            h.fake.log().requests()
        );
    }

    // A cancelled occurrence cannot be a meeting.
    h.google(
        reqwest::Method::DELETE,
        &h.event_path(&format!("{series}_20260323T080000Z")),
        None,
    )
    .await;
    h.synced().await;
    let (status, answer) = h
        .convert_with(&block, Some(json!({"occurrence": "2026-03-23T08:00:00Z"})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["error"]["code"], "conflict");

    // Google failing (after the client's retries): 503, to be tried again.
    h.fake.faults().inject(
        FaultRule::new(Fault::Unavailable)
            .on("GET", "/calendar/v3/calendars/*/events/*")
            .times(Times::Always),
    );
    let (status, answer) = h
        .convert_with(&block, Some(json!({"occurrence": "2026-03-30T07:00:00Z"})))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["error"]["code"], "unavailable");
    h.fake.faults().clear();

    // A block that is not a series has no occurrences; without a body it converts.
    let single_block = h.block_of(&single).await;
    let (status, answer) = h
        .convert_with(
            &single_block,
            Some(json!({"occurrence": "2026-03-04T11:00:00Z"})),
        )
        .await;
    invalid(status, &answer);
    assert!(h.meetings().await.is_empty(), "nothing written so far");
    let meeting = h.convert(&single_block).await;
    assert_eq!(meeting["title"], "Dentist");

    let blocks = h.blocks().await;
    assert_eq!(
        blocks.len(),
        2,
        "the series and its cancelled occurrence: {blocks:#?}"
    );
    assert_eq!(
        h.block_of(&series).await["converted_occurrences"],
        json!([])
    );
    assert_eq!(h.meetings().await.len(), 1);
    h.assert_quiet().await;
}

/// An all-day series names its occurrences by their dates, and lists them so.
#[tokio::test]
async fn an_occurrence_of_an_all_day_series_is_named_by_its_date() {
    let h = Harness::new().await;
    let series = h.insert(json!({
        "summary": "Site visit",
        "start": {"date": "2026-03-03"},
        "end": {"date": "2026-03-04"},
        "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4"]
    }))["id"]
        .as_str()
        .unwrap()
        .to_string();
    h.synced().await;
    let block = h.block_of(&series).await;
    let (status, answer) = h
        .convert_with(&block, Some(json!({"occurrence": "2026-03-10T00:00:00Z"})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["field"], "occurrence");
    h.fake.log().clear();
    let meeting = h.convert_occurrence(&block, "2026-03-10").await;
    assert_eq!(
        h.statuses_of("GET", &format!("{series}_20260310")),
        [Some(200)]
    );
    assert_eq!(meeting["all_day"], true);
    assert_eq!(meeting["start_date"], "2026-03-10");
    assert_eq!(meeting["end_date"], "2026-03-11");
    assert_eq!(meeting["title"], "Site visit");
    let blocks = h.blocks().await;
    assert_eq!(blocks.len(), 1, "{blocks:#?}");
    assert_eq!(blocks[0]["converted_occurrences"], json!(["2026-03-10"]));
    h.assert_quiet().await;
}

// ---------------------------------------------------------------------------------------
// Killed mid-run

/// Env of the child process of [`a_run_killed_mid_way_converges_without_duplicates`].
const CHILD_DB: &str = "THREADLINE_TEST_CHILD_DB";
const CHILD_API: &str = "THREADLINE_TEST_CHILD_CALENDAR_API";
const CHILD_CONNECTION: &str = "THREADLINE_TEST_CHILD_CONNECTION";
const CHILD_KEY: &str = "THREADLINE_TEST_CHILD_KEY";

impl Harness {
    /// One run of the sync in a second process (this test binary, [`kill_child`]) that
    /// kills itself with SIGKILL at `point`; answers how it ended.
    async fn run_in_a_process_killed_at(&self, point: &str) -> std::process::ExitStatus {
        let db = match self._database.location() {
            threadline_server::db::Location::Sqlite(path) => format!("sqlite:{}", path.display()),
            threadline_server::db::Location::Postgres(url) => url.clone(),
        };
        let mut command = std::process::Command::new(std::env::current_exe().unwrap());
        command
            .args(["--exact", "kill_child", "--ignored", "--nocapture"])
            .env("THREADLINE_TEST_KILL_AT", point)
            .env(CHILD_DB, db)
            .env(CHILD_API, format!("{}/calendar/v3", self.fake.base_url()))
            .env(CHILD_CONNECTION, self.connection.to_string())
            .env(CHILD_KEY, &self.key);
        // Waited for off this thread: the fake Google serves the child from this runtime.
        tokio::task::spawn_blocking(move || command.status().unwrap())
            .await
            .unwrap()
    }
}

/// A sync run, in a process of its own, for the test above (ignored: run by it only).
#[tokio::test]
#[ignore = "the child process of a_run_killed_mid_way_converges_without_duplicates"]
async fn kill_child() {
    let (Ok(db), Ok(api), Ok(connection), Ok(key)) = (
        std::env::var(CHILD_DB),
        std::env::var(CHILD_API),
        std::env::var(CHILD_CONNECTION),
        std::env::var(CHILD_KEY),
    ) else {
        return;
    };
    let location = match db.strip_prefix("sqlite:") {
        Some(path) => threadline_server::db::Location::Sqlite(path.into()),
        None => threadline_server::db::Location::Postgres(db.clone()),
    };
    let db = threadline_server::db::Db::open(&location).await.unwrap();
    let client = CalendarClient::new(&api, RetryPolicy::default()).unwrap();
    let tokens = StoredTokens::new(db.clone(), Arc::new(Keyring::parse(&key, "test").unwrap()));
    let sync = CalendarSync::new(db, client, Arc::new(tokens));
    let connection: Uuid = connection.parse().unwrap();
    let outcome = sync.run(connection, RunOptions::default()).await;
    panic!("the run was to be killed, and ended: {outcome:?}");
}

/// A process killed (SIGKILL) between a remote write and its link, or between applying
/// the CRM changes and committing them with the cursors: the next run converges — every
/// event once in Google, every block once in the CRM, nothing lost — and the one after
/// finds nothing to do.
#[tokio::test]
async fn a_run_killed_mid_way_converges_without_duplicates() {
    use std::os::unix::process::ExitStatusExt;
    for point in ["after-remote-write", "before-local-commit"] {
        let h = Harness::new().await;
        h.insert(timed(
            "Dentist",
            "2026-03-02T09:00:00+01:00",
            "2026-03-02T10:00:00+01:00",
        ));
        let meeting = h
            .meeting(
                "Kick-off",
                "2026-03-03T14:00:00+01:00",
                "2026-03-03T15:00:00+01:00",
            )
            .await;

        let status = h.run_in_a_process_killed_at(point).await;
        assert_eq!(
            status.signal(),
            Some(9),
            "{point}: the child was not killed: {status:?}"
        );
        // Either way the export reached Google before the kill; the block did not reach
        // the CRM (its transaction never committed).
        assert!(
            h.fake
                .google()
                .event(&h.primary, &event_id_of(&meeting))
                .is_some(),
            "{point}: the export was written before the kill"
        );
        assert!(
            h.blocks().await.is_empty(),
            "{point}: nothing committed locally"
        );

        h.synced().await;
        let events = h.live_events();
        assert_eq!(
            events.len(),
            2,
            "{point}: one Dentist, one Kick-off: {events:#?}"
        );
        let blocks = h.blocks().await;
        assert_eq!(blocks.len(), 1, "{point}: {blocks:?}");
        assert_eq!(blocks[0]["title"], "Dentist");
        assert_eq!(
            h.get_meeting(meeting["id"].as_str().unwrap()).await["title"],
            "Kick-off"
        );
        assert_eq!(h.synced().await, RunCounts::default(), "{point}: converged");
    }
}

/// 403 `rateLimitExceeded` is a rate limit like 429: retried after a pause, not an error.
#[tokio::test]
async fn a_403_rate_limit_is_retried_like_a_429() {
    let h = Harness::new().await;
    h.insert(timed(
        "Busy",
        "2026-03-02T09:00:00+01:00",
        "2026-03-02T10:00:00+01:00",
    ));
    for reason in [
        RateLimitReason::RateLimitExceeded,
        RateLimitReason::UserRateLimitExceeded,
    ] {
        h.fake.faults().inject(
            FaultRule::new(Fault::Google(GoogleFault::RateLimited403(reason)))
                .on("GET", "/calendar/v3/calendars/*/events")
                .times(Times::Once),
        );
    }
    let counts = h.synced().await;
    assert_eq!(counts.created, 1);
    assert_eq!(h.count("GET", EVENTS), 3, "two refusals, then the listing");
}

/// The event changes in Google between the run's listing and its update: the update's
/// If-Match is stale (412), so the run reads the event again, merges both sides' changes
/// field by field (the CRM's title, Google's description) and writes again.
#[tokio::test]
async fn a_stale_update_is_412_then_merged_and_written_again() {
    let h = Harness::new().await;
    let meeting = h
        .meeting(
            "Kick-off",
            "2026-03-03T14:00:00+01:00",
            "2026-03-03T15:00:00+01:00",
        )
        .await;
    h.synced().await;
    let id = meeting["id"].as_str().unwrap().to_string();
    h.patch_meeting(&id, json!({ "title": "Kick-off v2" }))
        .await;

    // Hold the run's PATCH at the fake; meanwhile someone edits the event in Google.
    let held = h.fake.faults().inject(
        FaultRule::new(Fault::Delay(Duration::from_secs(2)))
            .on("PATCH", "/calendar/v3/calendars/*/events/*")
            .times(Times::Once),
    );
    let edit_in_google = async {
        h.until_fired(held, "the run's PATCH is held").await;
        h.google(
            reqwest::Method::PATCH,
            &h.event_path(&event_id_of(&meeting)),
            Some(json!({ "description": "Agenda: budget" })),
        )
        .await
    };
    let (run, _) = tokio::join!(h.sync(), edit_in_google);
    let counts = run.expect("the run succeeds after the 412");

    let patches = h.answers("PATCH", EVENT);
    assert!(
        patches.contains(&Some(412)),
        "a stale If-Match was refused: {patches:?}"
    );
    assert!(h.count("GET", EVENT) >= 1, "the event was read again");
    let event = h
        .fake
        .google()
        .event(&h.primary, &event_id_of(&meeting))
        .unwrap();
    assert_eq!(
        event["summary"], "Kick-off v2",
        "the CRM's change is in Google"
    );
    assert_eq!(
        event["description"], "Agenda: budget",
        "Google's change is kept"
    );
    assert!(counts.updated >= 1, "{counts:?}");

    // Google's description reaches the CRM, and then all is quiet.
    h.synced().await;
    let stored = h.get_meeting(&id).await;
    assert_eq!(stored["title"], "Kick-off v2");
    assert_eq!(stored["description"], "Agenda: budget");
    assert_eq!(h.synced().await, RunCounts::default());
}

/// An event its owner marked private (or confidential) in Google is a busy block with its
/// time only: no title, place, description or attendees are stored, and an edit of them in
/// Google does not bring them in.
#[tokio::test]
async fn a_private_event_is_a_block_with_its_time_only() {
    let h = Harness::new().await;
    for (visibility, title) in [("private", "Therapy"), ("confidential", "Layoffs")] {
        let mut body = timed(
            title,
            "2026-03-02T09:00:00+01:00",
            "2026-03-02T10:00:00+01:00",
        );
        body["visibility"] = json!(visibility);
        body["location"] = json!("Room 4");
        body["description"] = json!("Do not share");
        body["attendees"] = json!([{ "email": "someone@else.example" }]);
        h.insert(body);
    }
    h.synced().await;
    let blocks = h.blocks().await;
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    for block in &blocks {
        assert_eq!(block["private"], true, "{block}");
        assert_eq!(block["start_at"], "2026-03-02T08:00:00Z");
        assert_eq!(block["end_at"], "2026-03-02T09:00:00Z");
        let text = block.to_string();
        for secret in [
            "Therapy",
            "Layoffs",
            "Room 4",
            "Do not share",
            "someone@else",
        ] {
            assert!(!text.contains(secret), "{secret:?} stored: {text}");
        }
    }
    // Nothing of it in the database either (not only hidden in the answer).
    let rows: Vec<(Option<String>, Option<String>, Option<String>)> =
        sqlx::query_as("SELECT title, location, description FROM busy_blocks")
            .fetch_all(h.state.db().pool())
            .await
            .unwrap();
    assert!(rows.iter().all(|r| *r == (None, None, None)), "{rows:?}");
}

// --- Under the scheduler: the runner runs the Calendar job, as `serve` does. ---

impl Harness {
    /// Ann's calendar schedule, due at once, and a runner of this process running it.
    async fn runner(&self, lease: Duration) -> RunnerHandle {
        let connection = self.connection;
        self.state
            .db()
            .write(|tx| {
                Box::pin(schedule::ensure(
                    tx,
                    connection,
                    threadline_google_calendar::NAME,
                    Duration::from_secs(1800),
                    Duration::ZERO,
                ))
            })
            .await
            .unwrap();
        let config = RunnerConfig {
            poll_interval: Duration::from_millis(100),
            lease,
            shutdown_grace: Duration::from_secs(2),
            ..RunnerConfig::default()
        };
        Runner::new(self.state.db().clone(), config, self.state.sync_wake())
            .with_job(self.state.integration::<GoogleCalendar>().unwrap().job())
            .spawn()
    }

    /// The connection's runs, newest first.
    async fn runs(&self) -> Vec<Value> {
        let (status, body) = self
            .api(
                Method::GET,
                &format!("/connections/{}/runs", self.connection),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["items"].as_array().unwrap().clone()
    }

    /// Waits until the connection has `n` runs and the newest has ended; returns it.
    async fn ended_run(&self, n: usize) -> Value {
        for _ in 0..1000 {
            let runs = self.runs().await;
            if runs.len() >= n
                && !["queued", "running"].contains(&runs[0]["status"].as_str().unwrap())
            {
                assert_eq!(runs.len(), n, "{runs:#?}");
                return runs[0].clone();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("run {n} did not end: {:#?}", self.runs().await);
    }

    async fn sync_state(&self) -> Value {
        let path = format!("/connections/{}/sync", self.connection);
        self.api(Method::GET, &path, None, None).await.1
    }

    async fn review(&self, decision: Value) -> (StatusCode, Value) {
        self.api(
            Method::POST,
            &format!("/connections/{}/review", self.connection),
            Some(decision),
            None,
        )
        .await
    }

    async fn links(&self) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM calendar_links WHERE connection_id = $1")
            .bind(self.connection.to_string())
            .fetch_one(self.state.db().pool())
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_run_is_reviewed_through_the_api_checked_again_then_applied_anyway() {
    let h = Harness::new().await;
    let mut meetings = Vec::new();
    for i in 0..4 {
        let m = h
            .meeting(
                &format!("M{i}"),
                "2026-03-03T14:00:00+01:00",
                "2026-03-03T15:00:00+01:00",
            )
            .await;
        meetings.push(m["id"].as_str().unwrap().to_string());
    }
    h.synced().await;
    for m in &meetings {
        let id = threadline_calendar_core::ids::event_id_for(Uuid::parse_str(m).unwrap());
        h.google(reqwest::Method::DELETE, &h.event_path(&id), None)
            .await;
    }
    let (status, body) = h.review(json!({"decision": "apply_anyway"})).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "nothing to review yet: {body}"
    );

    let runner = h.runner(Duration::from_secs(30)).await;
    let run = h.ended_run(1).await;
    assert_eq!(run["status"], "refused_for_review", "{run}");
    let state = h.sync_state().await;
    assert_eq!(state["state"], "degraded", "{state}");
    assert!(
        state["reason"]
            .as_str()
            .unwrap()
            .contains("waiting for a review"),
        "{state}"
    );
    let (status, _) = h
        .api(
            Method::POST,
            &format!("/connections/{}/sync", h.connection),
            None,
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "sync now does not pass a review"
    );
    let (status, body) = h.review(json!({"decision": "delete_everything"})).await;
    assert!(
        status.is_client_error() && status != StatusCode::CONFLICT,
        "{status} {body}"
    );

    // Checked again with the guards in place: refused again, nothing written.
    let (status, body) = h.review(json!({"decision": "check_again"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["items"][0]["triggered_by"], "manual", "{body}");
    assert_eq!(h.ended_run(2).await["status"], "refused_for_review");
    for m in &meetings {
        assert!(
            h.get_meeting(m).await["deleted_at"].is_null(),
            "kept while refused"
        );
    }

    // Applied anyway: the deletions go through, once.
    let (status, body) = h.review(json!({"decision": "apply_anyway"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let run = h.ended_run(3).await;
    assert_eq!(run["status"], "ok", "{run}");
    assert_eq!(run["counts"]["deleted"], 4, "{run}");
    for m in &meetings {
        assert!(
            !h.get_meeting(m).await["deleted_at"].is_null(),
            "deleted as Google did"
        );
    }
    let state = h.sync_state().await;
    assert_eq!(state["state"], "ok", "{state}");
    let spent: i64 = sqlx::query_scalar("SELECT apply_anyway FROM sync_schedules")
        .fetch_one(h.state.db().pool())
        .await
        .unwrap();
    assert_eq!(spent, 0, "the guards hold again for the next run");
    let (status, _) = h.review(json!({"decision": "apply_anyway"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "decided already");
    runner.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_lost_its_lease_writes_nothing_more_and_the_next_run_converges() {
    let h = Harness::new().await;
    h.meeting(
        "Lease",
        "2026-03-03T14:00:00+01:00",
        "2026-03-03T15:00:00+01:00",
    )
    .await;
    // The export's insert is held at Google; meanwhile another process takes the schedule
    // (as when this one paused longer than its lease). The lease is long, so no heartbeat
    // notices before the run's own fence does.
    let held = h.fake.faults().inject(
        FaultRule::new(Fault::Delay(Duration::from_millis(1500)))
            .on("POST", "/calendar/v3/calendars/*/events")
            .times(Times::Once),
    );
    let runner = h.runner(Duration::from_secs(60)).await;
    h.until_fired(held, "the insert is in flight").await;
    sqlx::query("UPDATE sync_schedules SET lease_owner = 'another-process'")
        .execute(h.state.db().pool())
        .await
        .unwrap();
    let run = h.ended_run(1).await;
    assert_eq!(run["status"], "interrupted", "{run}");
    assert_eq!(h.live_events().len(), 1, "Google had committed the insert");
    assert_eq!(h.links().await, 0, "the link write was fenced off");
    let cursors: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM calendar_cursors")
        .fetch_one(h.state.db().pool())
        .await
        .unwrap();
    assert_eq!(cursors, 0, "no cursor saved by a run without its lease");
    runner.shutdown().await;

    // The next run adopts the event it finds with the meeting's id: no duplicate.
    h.synced().await;
    assert_eq!(h.live_events().len(), 1);
    assert_eq!(h.links().await, 1);
}

/// Google refuses the access token mid-run (401: revoked, or cut short before its expiry):
/// the run replaces it once, through the token source's refresh, and goes on; refused again
/// after that, the run stops to be tried later, without a second refresh.
#[tokio::test]
async fn a_token_refused_mid_run_is_replaced_once_and_the_run_goes_on() {
    let h = Harness::new().await;
    h.meeting(
        "Token",
        "2026-03-03T14:00:00+01:00",
        "2026-03-03T15:00:00+01:00",
    )
    .await;
    let refused = h.fake.faults().inject(
        FaultRule::new(Fault::Unauthorized)
            .on("POST", "/calendar/v3/calendars/*/events")
            .times(Times::Once),
    );
    let counts = h.synced().await;
    assert_eq!(h.fake.faults().fired(refused), 1);
    assert_eq!(counts.created, 1, "{counts:?}");
    assert_eq!(h.live_events().len(), 1);
    assert_eq!(h.fake.log().count("POST", "/token"), 1, "one refresh");

    h.meeting(
        "Token 2",
        "2026-03-04T14:00:00+01:00",
        "2026-03-04T15:00:00+01:00",
    )
    .await;
    h.fake.faults().inject(
        FaultRule::new(Fault::Unauthorized)
            .on("POST", "/calendar/v3/calendars/*/events")
            .times(Times::N(2)),
    );
    match h.sync().await {
        Err(SyncError::TokenRejected(_)) => {}
        other => panic!("expected the token refused twice, got {other:?}"),
    }
    assert_eq!(
        h.fake.log().count("POST", "/token"),
        2,
        "one more refresh, not a loop"
    );
    assert_eq!(h.live_events().len(), 1, "nothing half-written");
    h.synced().await;
    assert_eq!(h.live_events().len(), 2);
}

/// A first sync where the same meetings already exist on both sides: the link table is
/// gone (the connection was made anew, or its sync state lost) while Google still holds the
/// events exported before, carrying their meeting ids. The full listing adopts them: no
/// duplicate event, no busy block for our own events, the CRM's version written where the
/// two differ (without a common base, the CRM is where exported meetings are managed).
#[tokio::test]
async fn a_first_sync_with_the_meetings_already_in_google_adopts_them() {
    let h = Harness::new().await;
    let mut meetings = Vec::new();
    for i in 0..3 {
        meetings.push(
            h.meeting(
                &format!("Adopt {i}"),
                "2026-03-05T09:00:00+01:00",
                "2026-03-05T10:00:00+01:00",
            )
            .await,
        );
    }
    h.synced().await;
    assert_eq!(h.live_events().len(), 3);
    let pool = h.state.db().pool();
    for table in ["calendar_links", "calendar_cursors"] {
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(pool)
            .await
            .unwrap();
    }
    sqlx::query("UPDATE calendar_settings SET crm_cursor = 0")
        .execute(pool)
        .await
        .unwrap();
    let first = meetings[0]["id"].as_str().unwrap();
    h.patch_meeting(first, json!({"title": "Adopt 0, renamed in the CRM"}))
        .await;
    let inserts = h.count("POST", EVENTS);

    h.synced().await;
    assert_eq!(h.count("POST", EVENTS), inserts, "no insert: adopted");
    let events = h.live_events();
    assert_eq!(events.len(), 3, "no duplicate: {events:#?}");
    assert!(
        h.blocks().await.is_empty(),
        "our own events are not busy blocks"
    );
    assert_eq!(h.links().await, 3);
    let renamed = events
        .iter()
        .find(|e| e["id"] == event_id_of(&meetings[0]))
        .unwrap();
    assert_eq!(renamed["summary"], "Adopt 0, renamed in the CRM");
    // Linked again: a quiet run writes nothing.
    let writes = h.count("POST", EVENTS) + h.count("PATCH", EVENT);
    h.synced().await;
    assert_eq!(h.count("POST", EVENTS) + h.count("PATCH", EVENT), writes);
}

/// The export calendar becomes read-only for the user (a colleague's calendar, shared as
/// "see all details" after "make changes"): the writes are refused (403), counted as
/// errors, and the connection says which calendar and why; nothing else of the run is
/// lost, and once write access is back the waiting changes are written.
#[tokio::test]
async fn an_export_calendar_that_became_read_only_is_reported_and_caught_up_later() {
    use threadline_fake_providers::google::AccessRole;
    let h = Harness::without_selection().await;
    let google = h.fake.google();
    let team = google.add_calendar("bob@other.com", "Team", "Europe/Brussels");
    google.share_calendar(&team, ANN, AccessRole::Writer);
    let primary = h.primary.clone();
    h.select(&[&primary], Some(&team)).await;
    let first = h
        .meeting(
            "Exported",
            "2026-03-06T09:00:00+01:00",
            "2026-03-06T10:00:00+01:00",
        )
        .await;
    h.synced().await;
    assert_eq!(google.events(&team).len(), 1);

    google.share_calendar(&team, ANN, AccessRole::Reader);
    let id = first["id"].as_str().unwrap();
    h.patch_meeting(id, json!({"title": "Exported, renamed"}))
        .await;
    h.meeting(
        "Second",
        "2026-03-07T09:00:00+01:00",
        "2026-03-07T10:00:00+01:00",
    )
    .await;
    let counts = h.synced().await;
    assert_eq!(counts.errors, 2, "{counts:?}");
    let events = google.events(&team);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["summary"], "Exported");
    let (_, connection) = h
        .api(
            Method::GET,
            &format!("/connections/{}", h.connection),
            None,
            None,
        )
        .await;
    assert_eq!(connection["status"], "degraded", "{connection}");
    let reason = connection["status_reason"].as_str().unwrap();
    assert!(reason.contains(&team) && reason.contains("403"), "{reason}");
    assert_eq!(
        h.get_meeting(id).await["title"],
        "Exported, renamed",
        "the CRM keeps its edit"
    );

    google.share_calendar(&team, ANN, AccessRole::Writer);
    let counts = h.synced().await;
    assert_eq!(counts.errors, 0, "{counts:?}");
    let mut titles: Vec<String> = google
        .events(&team)
        .iter()
        .map(|e| e["summary"].as_str().unwrap().to_string())
        .collect();
    titles.sort();
    assert_eq!(titles, ["Exported, renamed", "Second"]);
    let (_, connection) = h
        .api(
            Method::GET,
            &format!("/connections/{}", h.connection),
            None,
            None,
        )
        .await;
    assert_eq!(connection["status"], "ok", "{connection}");
}

/// Time zones both ways: an event in another zone than its calendar keeps its own zone and
/// instant as a block; a meeting just after the spring-forward gap (Brussels, 29 March 2026,
/// 02:00 → 03:00) is written at the right instant with its zone and read back equal (the
/// next run writes nothing); moved in Google to the hour before the jump, given in UTC, it
/// comes back at that instant, its zone kept.
#[tokio::test]
async fn time_zones_and_the_dst_gap_keep_their_instants_both_ways() {
    let h = Harness::new().await;
    h.insert(json!({"summary": "New York call",
        "start": {"dateTime": "2026-03-28T21:30:00-04:00", "timeZone": "America/New_York"},
        "end": {"dateTime": "2026-03-28T22:30:00-04:00", "timeZone": "America/New_York"}}));
    let meeting = h
        .meeting(
            "After the jump",
            "2026-03-29T03:30:00+02:00",
            "2026-03-29T04:30:00+02:00",
        )
        .await;
    h.synced().await;

    let blocks = h.blocks().await;
    assert_eq!(blocks.len(), 1, "{blocks:#?}");
    assert_eq!(blocks[0]["time_zone"], "America/New_York");
    assert_eq!(blocks[0]["start_at"], "2026-03-29T01:30:00Z");
    assert_eq!(blocks[0]["end_at"], "2026-03-29T02:30:00Z");

    let event = h
        .fake
        .google()
        .event(&h.primary, &event_id_of(&meeting))
        .expect("exported");
    assert_eq!(event["start"]["timeZone"], "Europe/Brussels");
    let start =
        chrono::DateTime::parse_from_rfc3339(event["start"]["dateTime"].as_str().unwrap()).unwrap();
    assert_eq!(
        start.with_timezone(&chrono::Utc).to_rfc3339(),
        "2026-03-29T01:30:00+00:00"
    );
    let writes = h.count("POST", EVENTS) + h.count("PATCH", EVENT);
    h.synced().await;
    assert_eq!(
        h.count("POST", EVENTS) + h.count("PATCH", EVENT),
        writes,
        "read back equal"
    );

    // Moved in Google to the hour before the jump, given as a UTC instant.
    h.google(
        reqwest::Method::PATCH,
        &h.event_path(&event_id_of(&meeting)),
        Some(
            json!({"start": {"dateTime": "2026-03-29T00:30:00Z", "timeZone": "Europe/Brussels"},
                    "end": {"dateTime": "2026-03-29T01:30:00Z", "timeZone": "Europe/Brussels"}}),
        ),
    )
    .await;
    h.synced().await;
    let moved = h.get_meeting(meeting["id"].as_str().unwrap()).await;
    let at = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(moved[field].as_str().unwrap())
            .unwrap()
            .with_timezone(&chrono::Utc)
            .to_rfc3339()
    };
    assert_eq!(at("start_at"), "2026-03-29T00:30:00+00:00", "{moved}");
    assert_eq!(at("end_at"), "2026-03-29T01:30:00+00:00", "{moved}");
    assert_eq!(moved["time_zone"], "Europe/Brussels");
}

// --- Converted meetings the user organises (writable) ---

impl Harness {
    /// Inserts `event` in the primary calendar, syncs, converts its block into a meeting:
    /// the stored event and the meeting's id.
    async fn insert_and_convert(&self, event: Value) -> (Value, String) {
        let event = self.insert(event);
        let meeting = self.convert_only_block().await;
        (event, meeting["id"].as_str().unwrap().to_string())
    }

    /// Syncs, converts the (only) block into a meeting and answers the meeting.
    async fn convert_only_block(&self) -> Value {
        self.synced().await;
        let blocks = self.blocks().await;
        assert_eq!(blocks.len(), 1, "{blocks:?}");
        let (status, meeting) = self
            .api(
                Method::POST,
                &format!("/busy-blocks/{}/convert", blocks[0]["id"].as_str().unwrap()),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{meeting}");
        meeting
    }

    /// The primary calendar's stored event `id`.
    fn event(&self, id: &str) -> Value {
        self.fake.google().event(&self.primary, id).unwrap()
    }
}

/// An event Ann made in her calendar ("Customer call"): she organises it.
fn own_event() -> Value {
    timed(
        "Customer call",
        "2026-03-02T09:00:00+01:00",
        "2026-03-02T10:00:00+01:00",
    )
}

/// An invitation to Ann from someone else ("Board meeting"), as Google shows it in her
/// calendar.
fn invitation() -> Value {
    let mut event = timed(
        "Board meeting",
        "2026-03-03T09:00:00+01:00",
        "2026-03-03T10:00:00+01:00",
    );
    event["organizer"] = json!({"email": "boss@theirco.com", "displayName": "Boss"});
    event["attendees"] = json!([
        {"email": "boss@theirco.com", "organizer": true, "responseStatus": "accepted"},
        {"email": ANN, "responseStatus": "accepted"},
    ]);
    event
}

/// A converted meeting whose event Ann organises is two-way: her CRM edit (a PATCH with
/// If-Match, through the API) is written to the event, and the next run finds its own
/// write as an echo and writes nothing.
#[tokio::test]
async fn a_converted_meeting_the_user_organises_sends_crm_edits_to_google() {
    let h = Harness::new().await;
    let (event, id) = h.insert_and_convert(own_event()).await;
    assert_eq!(event["organizer"]["self"], true, "{event}");
    let (event_id, id) = (event["id"].as_str().unwrap(), id.as_str());
    h.patch_meeting(
        id,
        json!({"title": "Customer call (agenda)", "location": "Room 4",
               "description": "Pricing", "start_at": "2026-03-02T10:00:00+01:00",
               "end_at": "2026-03-02T11:30:00+01:00",
               "attendees": [{"address": ANN}, {"address": "bob@theirco.com"}]}),
    )
    .await;

    h.fake.log().clear();
    let counts = h.synced().await;
    assert_eq!((counts.updated, counts.errors), (1, 0), "{counts:?}");
    assert_eq!(h.count("PATCH", EVENT), 1);
    assert_eq!(h.count("POST", EVENTS), 0, "written in place, not exported");
    let written = h.event(event_id);
    assert_eq!(written["summary"], "Customer call (agenda)");
    assert_eq!(written["location"], "Room 4");
    assert_eq!(written["description"], "Pricing");
    assert_eq!(written["start"]["dateTime"], "2026-03-02T10:00:00+01:00");
    assert_eq!(written["end"]["dateTime"], "2026-03-02T11:30:00+01:00");
    let mut guests: Vec<&str> = written["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["email"].as_str().unwrap())
        .collect();
    guests.sort();
    assert_eq!(guests, ["ann@ourco.com", "bob@theirco.com"]);
    assert_eq!(h.live_events().len(), 1);
    assert_eq!(h.get_meeting(id).await["title"], "Customer call (agenda)");

    // Quiet: our own write comes back as an echo, nothing is written on either side.
    h.fake.log().clear();
    assert_eq!(h.synced().await, RunCounts::default());
    assert_eq!(h.count("PATCH", EVENT) + h.count("POST", EVENTS), 0);
    assert_eq!(h.event(event_id)["etag"], written["etag"]);
}

/// A converted invitation (someone else organises the event) keeps Ann's CRM edit in the
/// CRM: Google is not written to, and the meeting keeps her edit.
#[tokio::test]
async fn a_converted_invitation_keeps_crm_edits_in_the_crm() {
    let h = Harness::new().await;
    let (event, id) = h.insert_and_convert(invitation()).await;
    let (event_id, id) = (event["id"].as_str().unwrap(), id.as_str());
    h.patch_meeting(id, json!({"title": "Board meeting: my notes"}))
        .await;

    h.fake.log().clear();
    let counts = h.synced().await;
    assert_eq!(counts.errors, 0, "{counts:?}");
    assert_eq!(h.count("PATCH", EVENT) + h.count("POST", EVENTS), 0);
    assert_eq!(h.event(event_id)["etag"], event["etag"], "Google untouched");
    assert_eq!(h.event(event_id)["summary"], "Board meeting");
    assert_eq!(h.get_meeting(id).await["title"], "Board meeting: my notes");
}

/// The organiser can change in Google (a new etag): the link follows what the listing
/// says. Ann becomes the organiser → her CRM version is written; someone else again → her
/// next edit stays in the CRM.
#[tokio::test]
async fn the_organiser_changing_in_google_turns_writing_on_and_off() {
    let h = Harness::new().await;
    let (event, id) = h.insert_and_convert(invitation()).await;
    let (event_id, id) = (event["id"].as_str().unwrap(), id.as_str());
    h.patch_meeting(id, json!({"description": "Agenda: budget"}))
        .await;
    h.synced().await;
    assert_eq!(h.event(event_id).get("description"), None);

    h.fake.google().set_organizer(&h.primary, event_id, ANN);
    h.fake.log().clear();
    h.synced().await;
    assert_eq!(h.count("PATCH", EVENT), 1);
    assert_eq!(h.event(event_id)["description"], "Agenda: budget");

    h.fake
        .google()
        .set_organizer(&h.primary, event_id, "boss@theirco.com");
    h.synced().await;
    h.patch_meeting(id, json!({"title": "Board meeting: my notes"}))
        .await;
    h.fake.log().clear();
    assert_eq!(h.synced().await.errors, 0);
    assert_eq!(h.count("PATCH", EVENT), 0);
    assert_eq!(h.event(event_id)["summary"], "Board meeting");
}

/// Google refuses the PATCH of a converted meeting's event (403 forbiddenForNonOrganizer,
/// as when the organiser changed meanwhile): the run goes on (another meeting is still
/// exported), the error is counted, and later runs do not try the PATCH again.
#[tokio::test]
async fn a_403_on_a_converted_meetings_patch_is_counted_and_not_tried_again() {
    let h = Harness::new().await;
    let (event, id) = h.insert_and_convert(own_event()).await;
    let (event_id, id) = (event["id"].as_str().unwrap(), id.as_str());
    h.patch_meeting(id, json!({"title": "Customer call (agenda)"}))
        .await;
    let other = h
        .meeting(
            "Kick-off",
            "2026-03-04T14:00:00+01:00",
            "2026-03-04T15:00:00+01:00",
        )
        .await;
    let refused = h.fake.faults().inject(
        FaultRule::new(Fault::Google(GoogleFault::ForbiddenForNonOrganizer))
            .on("PATCH", "/calendar/v3/calendars/*/events/*")
            .times(Times::Always),
    );

    h.fake.log().clear();
    let counts = h.sync().await.expect("the run goes on");
    assert_eq!((counts.errors, counts.created), (1, 1), "{counts:?}");
    assert_eq!(h.fake.faults().fired(refused), 1, "not retried");
    assert!(h
        .fake
        .google()
        .event(&h.primary, &event_id_of(&other))
        .is_some());

    h.fake.log().clear();
    let counts = h.synced().await;
    assert_eq!(counts.errors, 0, "{counts:?}");
    assert_eq!(h.count("PATCH", EVENT), 0);
    assert_eq!(h.fake.faults().fired(refused), 1);
    assert_eq!(h.event(event_id)["summary"], "Customer call");
    assert_eq!(h.get_meeting(id).await["title"], "Customer call (agenda)");
    // And the CRM cursor, held back by the error, has moved on: all quiet.
    assert_eq!(h.synced().await, RunCounts::default());
}

/// A colleague (another Threadline user attending the same CRM meeting) exported it and
/// invited the user: Google put the invitation copy in the user's calendar under the same
/// event id, organised by the colleague, without our private property. The user's sync
/// links it as a converted meeting, not writable: no second event, no busy block, no
/// write to the colleague's event when the user edits or deletes the meeting in the CRM
/// (the CRM's changes go out through the organiser's export), and no error.
#[tokio::test]
async fn a_colleagues_invitation_holding_the_meetings_id_is_linked_never_rewritten() {
    let h = Harness::new().await;
    let meeting = h
        .meeting(
            "Team sync",
            "2026-03-10T09:00:00+01:00",
            "2026-03-10T10:00:00+01:00",
        )
        .await;
    let id = meeting["id"].as_str().unwrap();
    let event_id = event_id_of(&meeting);
    let mut copy = timed(
        "Team sync",
        "2026-03-10T09:00:00+01:00",
        "2026-03-10T10:00:00+01:00",
    );
    copy["id"] = json!(event_id);
    copy["organizer"] = json!({"email": "bob@ourco.com", "displayName": "Bob"});
    copy["attendees"] = json!([{"email": "bob@ourco.com", "organizer": true},
                               {"email": ANN, "responseStatus": "accepted"}]);
    let copy = h.insert(copy);
    assert_eq!(
        copy["organizer"]["self"],
        Value::Null,
        "an invitation: not organised here"
    );

    let counts = h.synced().await;
    assert_eq!(counts.errors, 0, "{counts:?}");
    let writes = |h: &Harness| {
        h.count("POST", EVENTS)
            + h.count("PATCH", EVENT)
            + h.count("PUT", EVENT)
            + h.count("DELETE", EVENT)
    };
    assert_eq!(writes(&h), 0, "the copy is adopted, not inserted over");
    assert_eq!(h.live_events().len(), 1);
    assert!(
        h.blocks().await.is_empty(),
        "the meeting is not also a busy block"
    );
    assert_eq!(h.link_kinds("crm_id", id).await, ["converted"]);

    h.patch_meeting(id, json!({"title": "Team sync (agenda)"}))
        .await;
    let counts = h.synced().await;
    assert_eq!(counts.errors, 0, "{counts:?}");
    assert_eq!(writes(&h), 0, "the colleague's event is not rewritten");
    assert_eq!(h.get_meeting(id).await["title"], "Team sync (agenda)");
    let (_, connection) = h
        .api(
            Method::GET,
            &format!("/connections/{}", h.connection),
            None,
            None,
        )
        .await;
    assert_eq!(connection["status"], "ok", "{connection}");

    h.delete_meeting(id).await;
    let counts = h.synced().await;
    assert_eq!(counts.errors, 0, "{counts:?}");
    assert_eq!(writes(&h), 0, "nor deleted");
    assert_eq!(
        h.live_events(),
        [h.fake.google().event(&h.primary, &event_id).unwrap()]
    );
}

/// A block converted while a run is under way (after the run read the links, before it
/// committed): the run had planned that event as a block (it changed in Google), but the
/// meeting stands — the run neither brings the block back nor replaces the meeting's link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_converted_during_a_run_stays_a_meeting() {
    let h = Harness::new().await;
    let event = h.insert(timed(
        "Workshop",
        "2026-03-11T09:00:00+01:00",
        "2026-03-11T10:00:00+01:00",
    ));
    let event_id = event["id"].as_str().unwrap().to_string();
    h.synced().await;
    let block = h.blocks().await[0]["id"].as_str().unwrap().to_string();

    // The next run sees the event changed (a block update) and has a meeting to export,
    // whose insert is held at Google: the conversion happens meanwhile.
    h.google(
        reqwest::Method::PATCH,
        &h.event_path(&event_id),
        Some(json!({"location": "Room 3"})),
    )
    .await;
    h.meeting(
        "Export me",
        "2026-03-12T09:00:00+01:00",
        "2026-03-12T10:00:00+01:00",
    )
    .await;
    let held = h.fake.faults().inject(
        FaultRule::new(Fault::Delay(Duration::from_millis(1000)))
            .on("POST", "/calendar/v3/calendars/*/events")
            .times(Times::Once),
    );
    let sync = h.state.integration::<GoogleCalendar>().unwrap().shared();
    let connection = h.connection;
    let run = tokio::spawn(async move { sync.run(connection, RunOptions::default()).await });
    h.until_fired(held, "the run is under way").await;
    let (status, meeting) = h
        .api(
            Method::POST,
            &format!("/busy-blocks/{block}/convert"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{meeting}");
    run.await.unwrap().expect("the run");

    let meeting_id = meeting["id"].as_str().unwrap();
    assert!(h.blocks().await.is_empty(), "no block came back");
    assert_eq!(h.link_kinds("remote_id", &event_id).await, ["converted"]);
    assert_eq!(h.link_kinds("crm_id", meeting_id).await, ["converted"]);
    // And the next run takes Google's change into the meeting, as for any converted one.
    h.synced().await;
    assert_eq!(h.get_meeting(meeting_id).await["location"], "Room 3");
    assert!(h.blocks().await.is_empty());
}

// --- Guests' answers when the CRM changes the attendees ---

const BOB: &str = "bob@theirco.com";
const CAROL: &str = "carol@theirco.com";
const DAVE: &str = "dave@theirco.com";

/// The attendee entry of `email` in a stored event.
fn guest<'a>(event: &'a Value, email: &str) -> Option<&'a Value> {
    event["attendees"]
        .as_array()?
        .iter()
        .find(|a| a["email"] == email)
}

impl Harness {
    /// Guests answer in Google (through the fake: their replies reach Ann's event).
    fn answer(&self, event_id: &str, answers: &[(&str, &str)]) -> Value {
        let google = self.fake.google();
        let mut event = Value::Null;
        for (email, status) in answers {
            event = google.set_response(&self.primary, event_id, email, status);
        }
        event
    }

    /// A meeting with these attendees, exported: its id and its event's id.
    async fn exported_meeting_with(&self, attendees: &[&str]) -> (String, String) {
        let meeting = self
            .meeting(
                "Kick-off",
                "2026-03-03T14:00:00+01:00",
                "2026-03-03T15:00:00+01:00",
            )
            .await;
        let id = meeting["id"].as_str().unwrap().to_string();
        self.set_attendees(&id, attendees).await;
        self.synced().await;
        (id, event_id_of(&meeting))
    }

    /// Sets the meeting's attendees in the CRM (Dave with his name).
    async fn set_attendees(&self, id: &str, addresses: &[&str]) {
        let attendees: Vec<Value> = addresses
            .iter()
            .map(|a| match *a {
                DAVE => json!({"address": DAVE, "name": "Dave D."}),
                other => json!({ "address": other }),
            })
            .collect();
        self.patch_meeting(id, json!({ "attendees": attendees }))
            .await;
    }

    /// Google holds what the test expects after the CRM added Dave and removed Carol: the
    /// organiser's entry and Bob's exactly as they were (answers kept), Dave new.
    fn assert_answers_kept(&self, event_id: &str, before: &Value) {
        let event = self.event(event_id);
        assert_eq!(
            guest(&event, ANN),
            guest(before, ANN),
            "the organiser's entry"
        );
        assert_eq!(guest(&event, ANN).unwrap()["organizer"], true, "{event}");
        assert_eq!(guest(&event, BOB), guest(before, BOB), "Bob's entry");
        assert_eq!(guest(&event, BOB).unwrap()["responseStatus"], "accepted");
        let dave = guest(&event, DAVE).expect("Dave invited");
        assert_eq!(dave["responseStatus"], "needsAction");
        assert_eq!(dave["displayName"], "Dave D.");
        assert_eq!(guest(&event, CAROL), None, "Carol removed");
    }
}

/// An exported meeting with guests Bob and Carol: Bob accepts, Carol declines in Google,
/// and the run sees it. Then the CRM adds Dave and removes Carol, with Google unchanged
/// (not listed): the run reads the event before its PATCH and merges into its entries, so
/// Bob is still `accepted`, Dave `needsAction`, Carol gone, Ann's organiser entry intact
/// (Google's PATCH replaces the whole list: a list rebuilt from addresses would have reset
/// every answer). A quiet run after writes nothing.
#[tokio::test]
async fn a_crm_attendee_change_keeps_the_guests_answers_of_an_exported_meeting() {
    let h = Harness::new().await;
    let (id, event_id) = h.exported_meeting_with(&[ANN, BOB, CAROL]).await;
    let id = id.as_str();
    let answered = h.answer(
        &event_id,
        &[(ANN, "accepted"), (BOB, "accepted"), (CAROL, "declined")],
    );
    h.fake.log().clear();
    let counts = h.synced().await;
    assert_eq!(counts, RunCounts::default(), "answers are not CRM fields");
    assert_eq!(h.count("PATCH", EVENT), 0);

    h.set_attendees(id, &[ANN, BOB, DAVE]).await;
    h.fake.log().clear();
    let counts = h.synced().await;
    assert_eq!((counts.updated, counts.errors), (1, 0), "{counts:?}");
    assert_eq!(
        h.answers("GET", EVENT),
        [Some(200)],
        "read before the PATCH"
    );
    assert_eq!(
        h.answers("PATCH", EVENT),
        [Some(200)],
        "under the same If-Match"
    );
    h.assert_answers_kept(&event_id, &answered);

    h.assert_quiet().await;
}

/// The same for a converted meeting Ann organises (writable), with the answers and the
/// CRM's change in one run: the listing has the event, so the plan merges and no GET is
/// made. The CRM also drops Ann, the organiser: her entry stays (the CRM does not decide
/// whether the organiser attends), and so does the room (resources are not the CRM's).
#[tokio::test]
async fn a_crm_attendee_change_keeps_the_guests_answers_of_a_converted_meeting() {
    let h = Harness::new().await;
    let mut event = own_event();
    event["attendees"] = json!([
        {"email": ANN}, {"email": BOB}, {"email": CAROL},
        {"email": "room-4@resource.calendar.google.com", "resource": true,
         "displayName": "Room 4", "responseStatus": "accepted"},
    ]);
    let (event, id) = h.insert_and_convert(event).await;
    let (event_id, id) = (event["id"].as_str().unwrap(), id.as_str());
    assert_eq!(guest(&event, ANN).unwrap()["organizer"], true, "{event}");
    let answered = h.answer(
        event_id,
        &[(ANN, "accepted"), (BOB, "accepted"), (CAROL, "declined")],
    );
    h.set_attendees(id, &[BOB, DAVE]).await;

    h.fake.log().clear();
    let counts = h.synced().await;
    assert_eq!((counts.updated, counts.errors), (1, 0), "{counts:?}");
    assert_eq!(h.count("GET", EVENT), 0, "the listing had the event");
    assert_eq!(h.answers("PATCH", EVENT), [Some(200)]);
    h.assert_answers_kept(event_id, &answered);
    let room = "room-4@resource.calendar.google.com";
    assert_eq!(guest(&h.event(event_id), room), guest(&answered, room));
    let crm: Vec<Value> = h.get_meeting(id).await["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["address"].clone())
        .collect();
    assert_eq!(crm, [json!(BOB), json!(DAVE)], "the CRM keeps its own list");

    h.assert_quiet().await;
}

/// The race: the CRM adds Dave (Google unchanged when planned), and Google changes the
/// event between the plan and the run's read (Bob accepts, a description is written). The
/// read sees another etag than the plan's If-Match and plans the item again with what it
/// read, as after a 412: one PATCH, never refused, and nothing lost on either side.
#[tokio::test]
async fn google_changing_the_event_between_the_plan_and_the_read_loses_nothing() {
    let h = Harness::new().await;
    let (id, event_id) = h.exported_meeting_with(&[ANN, BOB]).await;
    let id = id.as_str();
    h.set_attendees(id, &[ANN, BOB, DAVE]).await;

    // Hold the run's read of the event; meanwhile Bob answers and the event is edited.
    let held = h.fake.faults().inject(
        FaultRule::new(Fault::Delay(Duration::from_secs(2)))
            .on("GET", "/calendar/v3/calendars/*/events/*")
            .times(Times::Once),
    );
    let change_in_google = async {
        // The held read is the moment between the plan and the PATCH (none: a failure).
        h.until_fired(held, "the run read the event before its PATCH")
            .await;
        h.answer(&event_id, &[(BOB, "accepted")]);
        h.google(
            reqwest::Method::PATCH,
            &h.event_path(&event_id),
            Some(json!({ "description": "Agenda: budget" })),
        )
        .await
    };
    h.fake.log().clear();
    let (run, _) = tokio::join!(h.sync(), change_in_google);
    let counts = run.expect("the run succeeds");
    assert_eq!(counts.errors, 0, "{counts:?}");
    assert_eq!(
        h.answers("PATCH", EVENT),
        [Some(200), Some(200)],
        "Google's edit, then ours: planned again after the read, not refused"
    );
    assert_eq!(
        h.count("GET", EVENT),
        1,
        "the event read is the one planned with"
    );

    let event = h.event(&event_id);
    assert_eq!(guest(&event, BOB).unwrap()["responseStatus"], "accepted");
    assert_eq!(
        guest(&event, DAVE).unwrap()["responseStatus"],
        "needsAction"
    );
    assert_eq!(event["description"], "Agenda: budget", "Google's edit kept");
    assert_eq!(h.get_meeting(id).await["description"], "Agenda: budget");

    h.assert_quiet().await;
}
