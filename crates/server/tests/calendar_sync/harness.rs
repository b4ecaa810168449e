//! The harness every Calendar sync test shares: a server (router and state) on a throwaway
//! database, the local Google with Ann's account, her connection, and the helpers the
//! tests drive them with.

use super::*;

pub(crate) struct Harness {
    pub(crate) fake: FakeProviders,
    pub(crate) state: AppState,
    pub(crate) router: Router,
    /// Ann's API token, and her Google access token (issued by the fake).
    pub(crate) token: String,
    pub(crate) google_token: String,
    pub(crate) connection: Uuid,
    /// Ann's primary calendar (her address).
    pub(crate) primary: String,
    pub(crate) http: reqwest::Client,
    /// The secret key line (for a second process on the same database).
    pub(crate) key: String,
    pub(crate) _database: TestDatabase,
}

impl Harness {
    /// Ann, her Google account in the fake, her connection (tokens encrypted at rest), and
    /// her primary calendar imported and chosen as the export calendar.
    pub(crate) async fn new() -> Harness {
        let h = Harness::without_selection().await;
        let primary = h.primary.clone();
        h.select(&[&primary], Some(&primary)).await;
        h
    }

    pub(crate) async fn without_selection() -> Harness {
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

    pub(crate) async fn api(
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

    pub(crate) async fn select(&self, import: &[&str], export: Option<&str>) {
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

    pub(crate) async fn sync(&self) -> Result<RunCounts, SyncError> {
        self.state
            .integration::<GoogleCalendar>()
            .map(GoogleCalendar::sync)
            .unwrap()
            .run(self.connection, RunOptions::default())
            .await
    }

    pub(crate) async fn synced(&self) -> RunCounts {
        self.sync().await.expect("a run")
    }

    /// A meeting Ann attends.
    pub(crate) async fn meeting(&self, title: &str, start: &str, end: &str) -> Value {
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

    pub(crate) async fn get_meeting(&self, id: &str) -> Value {
        self.api(
            Method::GET,
            &format!("/meetings/{id}?include_deleted=true"),
            None,
            None,
        )
        .await
        .1
    }

    pub(crate) async fn patch_meeting(&self, id: &str, patch: Value) {
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

    pub(crate) async fn delete_meeting(&self, id: &str) {
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

    pub(crate) async fn blocks(&self) -> Vec<Value> {
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
    pub(crate) async fn google(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
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

    pub(crate) fn event_path(&self, id: &str) -> String {
        format!("/calendars/{}/events/{id}", self.primary)
    }

    /// Live (not cancelled) events of the primary calendar.
    pub(crate) fn live_events(&self) -> Vec<Value> {
        self.fake
            .google()
            .events(&self.primary)
            .into_iter()
            .filter(|e| e["status"] != "cancelled")
            .collect()
    }

    pub(crate) fn insert(&self, body: Value) -> Value {
        self.fake
            .google()
            .insert_event(&self.primary, body)
            .unwrap()
    }

    /// Waits (at most 10 s, then fails) until the fault `id` has fired.
    pub(crate) async fn until_fired(&self, id: FaultId, what: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.fake.faults().fired(id) == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "never happened: {what}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub(crate) fn count(&self, method: &str, endpoint: &str) -> usize {
        self.fake.log().count(method, endpoint)
    }

    /// The answers to each request with this method that matched this route pattern.
    pub(crate) fn answers(&self, method: &str, endpoint: &str) -> Vec<Option<u16>> {
        self.fake
            .log()
            .requests()
            .into_iter()
            .filter(|r| r.method == method && r.endpoint.as_deref() == Some(endpoint))
            .map(|r| r.status)
            .collect()
    }

    /// The answers to each request for event `id` of the primary calendar, by method.
    pub(crate) fn statuses_of(&self, method: &str, id: &str) -> Vec<Option<u16>> {
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
    pub(crate) async fn block_of(&self, event_id: &str) -> Value {
        let blocks = self.blocks().await;
        blocks
            .iter()
            .find(|b| b["event_id"] == event_id)
            .unwrap_or_else(|| panic!("no block of {event_id}: {blocks:#?}"))
            .clone()
    }

    /// `POST /busy-blocks/{id}/convert`: the new meeting.
    pub(crate) async fn convert(&self, block: &Value) -> Value {
        let (status, meeting) = self.convert_with(block, None).await;
        assert_eq!(status, StatusCode::CREATED, "{meeting}");
        meeting
    }

    /// `POST /busy-blocks/{id}/convert` with `body`: the answer.
    pub(crate) async fn convert_with(
        &self,
        block: &Value,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
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
    pub(crate) async fn convert_occurrence(&self, block: &Value, original: &str) -> Value {
        let (status, meeting) = self
            .convert_with(block, Some(json!({ "occurrence": original })))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{meeting}");
        meeting
    }

    /// A run with nothing new to do: nothing counted, and the only request is the listing of
    /// the primary calendar (nothing written anywhere).
    pub(crate) async fn assert_quiet(&self) {
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
    pub(crate) async fn synced_cleanly(&self) -> RunCounts {
        self.fake.log().clear();
        let counts = self.synced().await;
        assert_eq!(counts.errors, 0, "{counts:?}");
        counts
    }

    /// Event `id` (an occurrence, by its instance id, too) moved in Google to [`start`,
    /// `end`), in Brussels.
    pub(crate) async fn reschedule(&self, id: &str, start: &str, end: &str) {
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
    pub(crate) fn google_writes(&self) -> usize {
        self.count("PATCH", EVENT) + self.count("POST", EVENTS) + self.count("DELETE", EVENT)
    }

    /// The live meetings of the organisation.
    pub(crate) async fn meetings(&self) -> Vec<Value> {
        let (status, body) = self.api(Method::GET, "/meetings", None, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["items"].as_array().unwrap().clone()
    }

    /// "Sync now" (`POST /connections/{id}/sync`) run by a runner of this process, as a
    /// server runs it: the run is recorded with its counts. Answers the run once it is over.
    pub(crate) async fn sync_now(&self) -> Value {
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
    pub(crate) async fn link_kinds(&self, column: &str, value: &str) -> Vec<String> {
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

    /// One run of the sync in a second process (this test binary, `recovery::kill_child`) that
    /// kills itself with SIGKILL at `point`; answers how it ended.
    pub(crate) async fn run_in_a_process_killed_at(&self, point: &str) -> std::process::ExitStatus {
        let db = match self._database.location() {
            threadline_server::db::Location::Sqlite(path) => format!("sqlite:{}", path.display()),
            threadline_server::db::Location::Postgres(url) => url.clone(),
        };
        let mut command = std::process::Command::new(std::env::current_exe().unwrap());
        command
            .args([
                "--exact",
                "recovery::kill_child",
                "--ignored",
                "--nocapture",
            ])
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

    /// Ann's calendar schedule, due at once, and a runner of this process running it.
    pub(crate) async fn runner(&self, lease: Duration) -> RunnerHandle {
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
    pub(crate) async fn runs(&self) -> Vec<Value> {
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
    pub(crate) async fn ended_run(&self, n: usize) -> Value {
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

    pub(crate) async fn sync_state(&self) -> Value {
        let path = format!("/connections/{}/sync", self.connection);
        self.api(Method::GET, &path, None, None).await.1
    }

    pub(crate) async fn review(&self, decision: Value) -> (StatusCode, Value) {
        self.api(
            Method::POST,
            &format!("/connections/{}/review", self.connection),
            Some(decision),
            None,
        )
        .await
    }

    pub(crate) async fn links(&self) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM calendar_links WHERE connection_id = $1")
            .bind(self.connection.to_string())
            .fetch_one(self.state.db().pool())
            .await
            .unwrap()
    }

    /// Inserts `event` in the primary calendar, syncs, converts its block into a meeting:
    /// the stored event and the meeting's id.
    pub(crate) async fn insert_and_convert(&self, event: Value) -> (Value, String) {
        let event = self.insert(event);
        let meeting = self.convert_only_block().await;
        (event, meeting["id"].as_str().unwrap().to_string())
    }

    /// Syncs, converts the (only) block into a meeting and answers the meeting.
    pub(crate) async fn convert_only_block(&self) -> Value {
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
    pub(crate) fn event(&self, id: &str) -> Value {
        self.fake.google().event(&self.primary, id).unwrap()
    }

    /// Guests answer in Google (through the fake: their replies reach Ann's event).
    pub(crate) fn answer(&self, event_id: &str, answers: &[(&str, &str)]) -> Value {
        let google = self.fake.google();
        let mut event = Value::Null;
        for (email, status) in answers {
            event = google.set_response(&self.primary, event_id, email, status);
        }
        event
    }

    /// A meeting with these attendees, exported: its id and its event's id.
    pub(crate) async fn exported_meeting_with(&self, attendees: &[&str]) -> (String, String) {
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
    pub(crate) async fn set_attendees(&self, id: &str, addresses: &[&str]) {
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
    pub(crate) fn assert_answers_kept(&self, event_id: &str, before: &Value) {
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

pub(crate) fn timed(summary: &str, start: &str, end: &str) -> Value {
    json!({"summary": summary, "start": {"dateTime": start, "timeZone": "Europe/Brussels"},
           "end": {"dateTime": end, "timeZone": "Europe/Brussels"}})
}

pub(crate) fn event_id_of(meeting: &Value) -> String {
    let id = Uuid::parse_str(meeting["id"].as_str().unwrap()).unwrap();
    threadline_calendar_core::ids::event_id_for(id)
}

/// Env of the child process of [`a_run_killed_mid_way_converges_without_duplicates`].
pub(crate) const CHILD_DB: &str = "THREADLINE_TEST_CHILD_DB";
pub(crate) const CHILD_API: &str = "THREADLINE_TEST_CHILD_CALENDAR_API";
pub(crate) const CHILD_CONNECTION: &str = "THREADLINE_TEST_CHILD_CONNECTION";
pub(crate) const CHILD_KEY: &str = "THREADLINE_TEST_CHILD_KEY";

pub(crate) const BOB: &str = "bob@theirco.com";
pub(crate) const CAROL: &str = "carol@theirco.com";
pub(crate) const DAVE: &str = "dave@theirco.com";

/// The attendee entry of `email` in a stored event.
pub(crate) fn guest<'a>(event: &'a Value, email: &str) -> Option<&'a Value> {
    event["attendees"]
        .as_array()?
        .iter()
        .find(|a| a["email"] == email)
}

/// An event Ann made in her calendar ("Customer call"): she organises it.
pub(crate) fn own_event() -> Value {
    timed(
        "Customer call",
        "2026-03-02T09:00:00+01:00",
        "2026-03-02T10:00:00+01:00",
    )
}

/// An invitation to Ann from someone else ("Board meeting"), as Google shows it in her
/// calendar.
pub(crate) fn invitation() -> Value {
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
