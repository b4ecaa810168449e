//! Benchmark of the Google Calendar sync (`threadline_google_calendar`) against the
//! local fake Google (`threadline-fake-providers`), counting the requests it serves.
//!
//! One user whose primary calendar (imported, and the export calendar) holds 10,000 events:
//! 9,500 single events (timed in several zones, some all-day, over 2026) and 500 recurring
//! series (daily or weekly, COUNT or UNTIL; some with an EXDATE, some with a moved or a
//! cancelled instance), generated from a fixed seed; and 10 CRM meetings she attends.
//!
//! 1. **First import**: wall time, requests per endpoint, blocks made (checked against what
//!    was seeded).
//! 2. **Quiet run**: nothing changed; exactly one request per imported calendar (asserted).
//! 3. **100 changes** (Google: 40 edits, 20 deletes, 20 new; CRM: 10 meeting edits, 10 new
//!    meetings), then a run: wall time, requests per endpoint, both sides' counts checked.
//!
//! ```sh
//! cargo run --release -p threadline-server --example calendar_sync_bench     # SQLite, temp dir
//! tests/pg/throwaway-cluster.sh run \
//!   cargo run --release -p threadline-server --example calendar_sync_bench   # PostgreSQL
//! ```
//! The engine is the tests' (`THREADLINE_TEST_DATABASE_URL`, see `threadline_server::testing`):
//! on PostgreSQL a new schema, dropped at the end. `--seed N` changes the generated calendar.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Method, Request};
use axum::Router;
use jiff::civil::{date, Date};
use jiff::{ToSpan, Zoned};
use serde_json::{json, Value};
use threadline_fake_providers::google::OAuthClient;
use threadline_fake_providers::FakeProviders;
use threadline_google_calendar::client::{CalendarClient, RetryPolicy};
use threadline_google_calendar::{CalendarSync, RunOptions};
use threadline_server::admin::{self, OrgChoice};
use threadline_server::connections::{self, Grant, Owner, Provider};
use threadline_server::db::{self, Db};
use threadline_server::secrets::{new_key_line, Keyring, SecretString};
use threadline_server::sync::{RunCounts, StoredTokens};
use threadline_server::testing::{self, TestDatabase};
use threadline_server::AppState;
use tower::ServiceExt;
use uuid::Uuid;

const ANN: &str = "ann@ourco.com";
const SINGLES: usize = 9_500;
const SERIES: usize = 500;
const MEETINGS: usize = 10;
/// Zones of the timed events (the calendar's own is Europe/Brussels).
const ZONES: &[&str] = &[
    "Europe/Brussels",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Australia/Sydney",
    "UTC",
];

/// SplitMix64: a fixed sequence per seed, so every run generates the same calendar (a few
/// lines rather than a dependency: nothing here needs statistical quality).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo) as u64) as i64
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.next() as usize % items.len()]
    }
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number"))
        })
        .unwrap_or(default)
}

/// An EventDateTime with its offset and zone, as Google lists timed events.
fn timed(at: &Zoned) -> Value {
    json!({
        "dateTime": at.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        "timeZone": at.time_zone().iana_name().unwrap_or("UTC"),
    })
}

fn all_day(day: Date) -> Value {
    json!({ "date": day.strftime("%Y-%m-%d").to_string() })
}

fn day_of_2026(n: i64) -> Date {
    date(2026, 1, 1)
        .checked_add(n.days())
        .expect("a day of 2026")
}

fn at(day: Date, hour: i64, minute: i64, zone: &str) -> Zoned {
    day.at(hour as i8, minute as i8, 0, 0)
        .in_tz(zone)
        .expect("a time in a known zone")
}

/// A single event: mostly timed (15 min to 2 h, in one of [`ZONES`]), about one in twelve
/// all-day (one to three days); some with attendees, a location or a private visibility.
fn single(rng: &mut Rng, i: usize) -> Value {
    let day = day_of_2026(rng.range(0, 365));
    let mut event = if rng.range(0, 12) == 0 {
        let days = rng.range(1, 4);
        json!({
            "start": all_day(day),
            "end": all_day(day.checked_add(days.days()).unwrap()),
        })
    } else {
        let start = at(day, rng.range(7, 19), 15 * rng.range(0, 4), rng.pick(ZONES));
        let end = start.checked_add((15 * rng.range(1, 9)).minutes()).unwrap();
        json!({ "start": timed(&start), "end": timed(&end) })
    };
    event["id"] = json!(format!("single{i:05}"));
    event["summary"] = json!(format!("Event {i}"));
    if rng.range(0, 3) == 0 {
        event["location"] = json!(format!("Room {}", rng.range(1, 40)));
    }
    if rng.range(0, 4) == 0 {
        event["attendees"] = json!([
            {"email": ANN, "self": true, "responseStatus": "accepted"},
            {"email": format!("guest{}@example.org", rng.range(0, 500))},
        ]);
    }
    if rng.range(0, 20) == 0 {
        event["visibility"] = json!("private");
    }
    event
}

/// What a series looks like after seeding, for the exceptions made through the API.
struct Series {
    id: String,
    /// The start of its third instance (timed series only), moved or cancelled when asked.
    third: Option<Zoned>,
    minutes: i64,
    change: Option<InstanceChange>,
}

#[derive(Clone, Copy, PartialEq)]
enum InstanceChange {
    Moved,
    Cancelled,
}

/// Series `i`: one in ten all-day (weekly), the others timed; three in ten daily, the rest
/// weekly; half end by COUNT, half by UNTIL (5 to 30 instances). One in 25 has an EXDATE on
/// its second instance; one in 50 a moved third instance, another one in 50 a cancelled one.
fn series(rng: &mut Rng, i: usize) -> (Value, Series) {
    let id = format!("series{i:03}");
    let day = day_of_2026(rng.range(0, 300));
    let n = rng.range(5, 31);
    let daily = i % 10 < 3;
    let step = |k: i64| if daily { k.days() } else { k.weeks() };
    let freq = if daily { "DAILY" } else { "WEEKLY" };
    let by_count = i % 2 == 0;
    let mut info = Series {
        id: id.clone(),
        third: None,
        minutes: 0,
        change: match i % 50 {
            5 => Some(InstanceChange::Moved),
            15 => Some(InstanceChange::Cancelled),
            _ => None,
        },
    };
    let mut event = if i % 10 == 9 {
        let last = day.checked_add((n - 1).weeks()).unwrap();
        let end = if by_count {
            format!("COUNT={n}")
        } else {
            format!("UNTIL={}", last.strftime("%Y%m%d"))
        };
        json!({
            "start": all_day(day),
            "end": all_day(day.checked_add(1.day()).unwrap()),
            "recurrence": [format!("RRULE:FREQ=WEEKLY;{end}")],
        })
    } else {
        let zone = rng.pick(ZONES);
        let start = at(day, rng.range(8, 18), 30 * rng.range(0, 2), zone);
        info.minutes = 30 * rng.range(1, 4);
        let end = start.checked_add(info.minutes.minutes()).unwrap();
        let until = match by_count {
            true => format!("COUNT={n}"),
            // The last instance's start, in UTC (Google's form for timed series).
            false => {
                let last = start.checked_add(step(n - 1)).unwrap();
                format!("UNTIL={}", last.timestamp().strftime("%Y%m%dT%H%M%SZ"))
            }
        };
        let mut lines = vec![json!(format!("RRULE:FREQ={freq};{until}"))];
        if i % 25 == 3 {
            let second = start.checked_add(step(1)).unwrap();
            lines.push(json!(format!(
                "EXDATE;TZID={zone}:{}",
                second.strftime("%Y%m%dT%H%M%S")
            )));
        }
        info.third = Some(start.checked_add(step(2)).unwrap());
        json!({ "start": timed(&start), "end": timed(&end), "recurrence": lines })
    };
    event["id"] = json!(id);
    event["summary"] = json!(format!("Series {i}"));
    (event, info)
}

/// Ann, her Google account and primary calendar in the fake, her connection (tokens
/// encrypted at rest), the calendar sync and the API router.
struct Bench {
    fake: FakeProviders,
    db: Db,
    sync: CalendarSync,
    router: Router,
    connection: Uuid,
    /// Ann's API token and her Google access token (as another client of hers would use).
    token: String,
    google_token: String,
    primary: String,
    http: reqwest::Client,
}

impl Bench {
    async fn new(db: Db) -> Bench {
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
        let ann = admin::add_user(&db, OrgChoice::New("Ours".into()), ANN, "Ann", &[])
            .await
            .expect("ann");
        let key = new_key_line().expect("a key");
        let keys = Arc::new(Keyring::parse(&key, "bench").expect("the key"));
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
            .expect("the connection")
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
        .expect("the calendar client");
        let sync = CalendarSync::new(
            db.clone(),
            client,
            Arc::new(StoredTokens::new(db.clone(), keys)),
        );
        Bench {
            router: threadline_server::router(AppState::new(db.clone())),
            db,
            sync,
            connection,
            token: ann.token.token,
            google_token: tokens.access_token,
            primary,
            http: reqwest::Client::new(),
            fake,
        }
    }

    async fn api(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        etag: Option<i64>,
    ) -> Value {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("/api/v1{path}"))
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(version) = etag {
            request = request.header(header::IF_MATCH, format!("\"{version}\""));
        }
        let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
        let response = self
            .router
            .clone()
            .oneshot(request.body(body).expect("a request"))
            .await
            .expect("an answer");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    /// A meeting Ann attends, `n` days into March 2026.
    async fn new_meeting(&self, title: &str, n: i64) -> String {
        let start = at(
            date(2026, 3, 2).checked_add(n.days()).unwrap(),
            10,
            0,
            "Europe/Brussels",
        );
        let end = start.checked_add(1.hour()).unwrap();
        let body = self
            .api(
                Method::POST,
                "/meetings",
                Some(json!({"title": title,
                    "start_at": start.timestamp().to_string(),
                    "end_at": end.timestamp().to_string(),
                    "time_zone": "Europe/Brussels", "attendees": [{"address": ANN}]})),
                None,
            )
            .await;
        body["id"].as_str().expect("an id").to_string()
    }

    /// A new title and an hour later.
    async fn edit_meeting(&self, id: &str) {
        let meeting = self
            .api(Method::GET, &format!("/meetings/{id}"), None, None)
            .await;
        let later = |field: &str| {
            let t: jiff::Timestamp = meeting[field].as_str().unwrap().parse().unwrap();
            t.checked_add(1.hour()).unwrap().to_string()
        };
        let patch = json!({
            "title": format!("Edited {}", meeting["title"].as_str().unwrap()),
            "start_at": later("start_at"),
            "end_at": later("end_at"),
        });
        let version = meeting["version"].as_i64().expect("a version");
        self.api(
            Method::PATCH,
            &format!("/meetings/{id}"),
            Some(patch),
            Some(version),
        )
        .await;
    }

    /// A call to the fake Google as Ann's other client (a phone, Google's web UI).
    async fn google(&self, method: reqwest::Method, path: &str, body: Option<Value>) {
        let mut request = self
            .http
            .request(
                method,
                format!(
                    "{}/calendar/v3/calendars/{}{path}",
                    self.fake.base_url(),
                    self.primary
                ),
            )
            .bearer_auth(&self.google_token);
        if let Some(b) = body {
            request = request.json(&b);
        }
        let response = request.send().await.expect("the fake answers");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
    }

    /// One sync run: its counts, wall time, and the requests it made per endpoint.
    async fn run(&self) -> (RunCounts, Duration, BTreeMap<String, usize>) {
        self.fake.log().clear();
        let started = Instant::now();
        let counts = self
            .sync
            .run(self.connection, RunOptions::default())
            .await
            .expect("a sync run");
        let took = started.elapsed();
        let mut requests = BTreeMap::new();
        for r in self.fake.log().requests() {
            let endpoint = r.endpoint.unwrap_or(r.path);
            *requests
                .entry(format!("{} {endpoint}", r.method))
                .or_default() += 1;
        }
        (counts, took, requests)
    }

    async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .bind(db::id_text(self.connection))
            .fetch_one(self.db.pool())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    async fn blocks(&self, filter: &str) -> i64 {
        self.count(&format!(
            "SELECT COUNT(*) FROM busy_blocks WHERE connection_id = $1{filter}"
        ))
        .await
    }

    /// Live events of the primary calendar that are not exceptions: singles, masters and
    /// exported meetings.
    fn google_events(&self) -> Vec<Value> {
        self.fake
            .google()
            .events(&self.primary)
            .into_iter()
            .filter(|e| e["status"] != "cancelled" && e.get("recurringEventId").is_none())
            .collect()
    }
}

fn report(what: &str, counts: &RunCounts, took: Duration, requests: &BTreeMap<String, usize>) {
    let total: usize = requests.values().sum();
    println!(
        "{what}: {:.2} s, {total} requests; created {}, updated {}, deleted {}, conflicts {}, skipped {}, errors {}",
        took.as_secs_f64(),
        counts.created,
        counts.updated,
        counts.deleted,
        counts.conflicts,
        counts.skipped,
        counts.errors
    );
    for (endpoint, n) in requests {
        println!("    {n:>5}  {endpoint}");
    }
}

fn requests_cell(requests: &BTreeMap<String, usize>) -> String {
    let total: usize = requests.values().sum();
    let parts: Vec<String> = requests
        .iter()
        .map(|(endpoint, n)| {
            let short = endpoint.replace("/calendar/v3/calendars/{calendarId}", "");
            format!("{n} {short}")
        })
        .collect();
    format!("**{total}** ({})", parts.join(", "))
}

#[tokio::main]
async fn main() {
    let seed = arg("--seed", 42);
    let database = TestDatabase::create();
    let db = database.open().await;
    println!("database: {:?}", testing::engine());
    let bench = Bench::new(db).await;
    let google = bench.fake.google();
    let mut rng = Rng(seed);

    // Seeding, straight into the fake's store: 10,000 events, then the instance exceptions
    // through the API (the fake materialises an instance only on a write to its id), and
    // the CRM meetings.
    let seeding = Instant::now();
    for i in 0..SINGLES {
        google
            .insert_event(&bench.primary, single(&mut rng, i))
            .expect("a single event");
    }
    let mut all_series = Vec::with_capacity(SERIES);
    for i in 0..SERIES {
        let (event, info) = series(&mut rng, i);
        google
            .insert_event(&bench.primary, event)
            .expect("a series");
        all_series.push(info);
    }
    let (mut moved, mut cancelled) = (0, 0);
    for s in &all_series {
        let (Some(change), Some(third)) = (s.change, &s.third) else {
            continue;
        };
        let instance = format!(
            "/events/{}_{}",
            s.id,
            third.timestamp().strftime("%Y%m%dT%H%M%SZ")
        );
        match change {
            InstanceChange::Moved => {
                let start = third.checked_add(2.hours()).unwrap();
                let end = start.checked_add(s.minutes.minutes()).unwrap();
                let body = json!({"start": timed(&start), "end": timed(&end)});
                bench
                    .google(reqwest::Method::PATCH, &instance, Some(body))
                    .await;
                moved += 1;
            }
            InstanceChange::Cancelled => {
                bench.google(reqwest::Method::DELETE, &instance, None).await;
                cancelled += 1;
            }
        }
    }
    let mut meetings = Vec::new();
    for k in 0..MEETINGS {
        meetings.push(bench.new_meeting(&format!("Meeting {k}"), k as i64).await);
    }
    println!(
        "seeded {SINGLES} single events, {SERIES} series ({moved} moved and {cancelled} cancelled \
         instances), {MEETINGS} CRM meetings in {:.1} s (seed {seed})",
        seeding.elapsed().as_secs_f64()
    );

    // Where the first import's time goes, roughly: the full listing alone (HTTP, the fake's
    // JSON, the client's parsing), the rest being planning and the database.
    let listing = Instant::now();
    let listed = bench
        .sync
        .client()
        .list_events(&bench.google_token, &bench.primary, None)
        .await
        .map_err(|e| format!("{e:?}"))
        .expect("a full listing");
    let listing = listing.elapsed();
    println!(
        "a full listing alone: {} events in {:.2} s",
        listed.events.len(),
        listing.as_secs_f64()
    );

    // 1. First import.
    let (counts, first_time, first) = bench.run().await;
    report("first run", &counts, first_time, &first);
    let blocks = bench.blocks("").await;
    let exceptions = bench.blocks(" AND series_id IS NOT NULL").await;
    let expected = (SINGLES + SERIES + moved + cancelled) as i64;
    println!(
        "blocks: {blocks} ({} series, {exceptions} exceptions of which {} cancelled); expected {expected}",
        bench.blocks(" AND recurrence <> '[]'").await,
        bench.blocks(" AND cancelled = 1").await,
    );
    assert_eq!(blocks, expected, "a block per event and per exception");
    assert_eq!(exceptions, (moved + cancelled) as i64);
    let exported = bench
        .count("SELECT COUNT(*) FROM calendar_links WHERE connection_id = $1 AND kind = 'exported'")
        .await;
    assert_eq!(exported, MEETINGS as i64, "every CRM meeting exported");

    // 2. Quiet run.
    let imported = bench
        .count("SELECT COUNT(*) FROM calendar_imports WHERE connection_id = $1")
        .await as usize;
    let (counts, quiet_time, quiet) = bench.run().await;
    report("quiet run", &counts, quiet_time, &quiet);
    let quiet_total: usize = quiet.values().sum();
    assert_eq!(
        quiet_total, imported,
        "a run with no changes costs one request per imported calendar"
    );
    println!("quiet run: {quiet_total} request(s) for {imported} imported calendar(s)");

    // 3. 100 changes: Google edits (35 singles, 5 series masters), deletes (20 singles) and
    // new events (20); CRM edits (10) and new meetings (10).
    let mut order: Vec<usize> = (0..SINGLES).collect();
    for k in (1..order.len()).rev() {
        order.swap(k, rng.next() as usize % (k + 1));
    }
    let edited: Vec<String> = order[..35]
        .iter()
        .map(|i| format!("single{i:05}"))
        .chain((0..5).map(|k| all_series[k * 100 + 1].id.clone()))
        .collect();
    for id in &edited {
        let body = json!({"summary": format!("Edited {id}"), "location": "Moved to the big room"});
        bench
            .google(reqwest::Method::PATCH, &format!("/events/{id}"), Some(body))
            .await;
    }
    for i in &order[35..55] {
        bench
            .google(
                reqwest::Method::DELETE,
                &format!("/events/single{i:05}"),
                None,
            )
            .await;
    }
    for k in 0..20 {
        let mut event = single(&mut rng, SINGLES + k);
        event["summary"] = json!(format!("New in Google {k}"));
        google
            .insert_event(&bench.primary, event)
            .expect("a new event");
    }
    for id in &meetings {
        bench.edit_meeting(id).await;
    }
    for k in 0..MEETINGS {
        meetings.push(
            bench
                .new_meeting(&format!("New meeting {k}"), 20 + k as i64)
                .await,
        );
    }
    let (counts, change_time, changed) = bench.run().await;
    report("after 100 changes", &counts, change_time, &changed);

    let blocks_after = bench.blocks("").await;
    let edited_blocks = bench.blocks(" AND title LIKE 'Edited %'").await;
    // The new events are single09500… (ids past the seeded ones).
    let new_blocks = bench.blocks(" AND event_id LIKE 'single095__'").await;
    // A private event's block keeps only its time: no title to check.
    let edited_public = edited
        .iter()
        .filter(|id| {
            google.event(&bench.primary, id).expect("an edited event")["visibility"] != "private"
        })
        .count();
    let exported = bench
        .count("SELECT COUNT(*) FROM calendar_links WHERE connection_id = $1 AND kind = 'exported'")
        .await;
    let live = bench.google_events();
    let google_edited = live
        .iter()
        .filter(|e| {
            e["summary"]
                .as_str()
                .is_some_and(|s| s.starts_with("Edited Meeting"))
        })
        .count();
    println!(
        "after: {blocks_after} blocks ({edited_blocks} edited, {new_blocks} new), {exported} meetings \
         exported; Google: {} live events (singles, masters, meetings), {google_edited} with a CRM edit",
        live.len()
    );
    assert_eq!(blocks_after, expected, "20 deleted, 20 new");
    assert_eq!(edited_blocks, edited_public as i64);
    assert_eq!(new_blocks, 20);
    assert_eq!(exported, 2 * MEETINGS as i64);
    assert_eq!(live.len(), SINGLES + SERIES + 2 * MEETINGS);
    assert_eq!(google_edited, MEETINGS);

    // A second quiet run: the changes' own echoes cost nothing more.
    let (_, _, quiet_again) = bench.run().await;
    assert_eq!(quiet_again.values().sum::<usize>(), imported);

    println!();
    println!("| run | wall time | requests |");
    println!("|---|---:|---|");
    println!(
        "| first import (10,000 events, {MEETINGS} meetings exported) | {:.2} s | {} |",
        first_time.as_secs_f64(),
        requests_cell(&first)
    );
    println!(
        "| no changes | {:.3} s | {} |",
        quiet_time.as_secs_f64(),
        requests_cell(&quiet)
    );
    println!(
        "| after 100 changes | {:.3} s | {} |",
        change_time.as_secs_f64(),
        requests_cell(&changed)
    );
    bench.db.close().await;
}
