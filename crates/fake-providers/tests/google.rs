//! The Google fake driven over real HTTP with reqwest, as a sync client would.

use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use threadline_fake_providers::dropbox::DropboxFault;
use threadline_fake_providers::google::{GoogleFault, OAuthClient, RateLimitReason};
use threadline_fake_providers::{FakeProviders, Fault, FaultRule, Times};

const ME: &str = "ann@example.com";
const CLIENT_ID: &str = "cid.apps.googleusercontent.com";
const SECRET: &str = "s3cret";
const REDIRECT: &str = "http://127.0.0.1:9/callback";
const EVENTS: &str = "/calendar/v3/calendars/{calendarId}/events";

struct Setup {
    fake: FakeProviders,
    http: Client,
    token: String,
    refresh: String,
    calendar: String,
}

async fn setup() -> Setup {
    let fake = FakeProviders::start().await;
    let google = fake.google();
    google.add_user(ME);
    google.add_client(OAuthClient {
        client_id: CLIENT_ID.into(),
        client_secret: SECRET.into(),
        redirect_uris: vec![REDIRECT.into()],
    });
    let calendar = google.primary_calendar(ME, "Europe/Brussels");
    let tokens = google.issue_tokens(CLIENT_ID, ME, &["calendar"]);
    let http = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Setup {
        fake,
        http,
        token: tokens.access_token,
        refresh: tokens.refresh_token.unwrap(),
        calendar,
    }
}

impl Setup {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.fake.base_url())
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
        if_match: Option<&str>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut request = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token)
            .query(query);
        if let Some(body) = body {
            request = request.json(&body);
        }
        if let Some(etag) = if_match {
            request = request.header("If-Match", etag);
        }
        let response = request.send().await.expect("an answer");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    fn events_path(&self) -> String {
        format!("/calendar/v3/calendars/{}/events", self.calendar)
    }

    async fn insert(&self, body: Value) -> Value {
        let (status, _, event) = self
            .call(
                reqwest::Method::POST,
                &self.events_path(),
                &[],
                Some(body),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{event}");
        event
    }

    /// Pages until nextSyncToken; returns the items and the token.
    async fn list_all(&self, query: &[(&str, &str)]) -> (Vec<Value>, String, usize) {
        let mut items = Vec::new();
        let mut page_token: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut q: Vec<(&str, &str)> = query.to_vec();
            if let Some(t) = &page_token {
                q.push(("pageToken", t));
            }
            let (status, _, page) = self
                .call(reqwest::Method::GET, &self.events_path(), &q, None, None)
                .await;
            assert_eq!(status, StatusCode::OK, "{page}");
            pages += 1;
            items.extend(page["items"].as_array().unwrap().iter().cloned());
            match (
                page["nextPageToken"].as_str(),
                page["nextSyncToken"].as_str(),
            ) {
                (Some(next), None) => page_token = Some(next.to_string()),
                (None, Some(sync)) => return (items, sync.to_string(), pages),
                _ => panic!("exactly one of nextPageToken and nextSyncToken: {page}"),
            }
        }
    }
}

fn timed(id: &str, summary: &str, start: &str, end: &str) -> Value {
    json!({"id": id, "summary": summary,
           "start": {"dateTime": start, "timeZone": "Europe/Brussels"},
           "end": {"dateTime": end, "timeZone": "Europe/Brussels"}})
}

fn ids(items: &[Value]) -> Vec<&str> {
    items.iter().map(|i| i["id"].as_str().unwrap()).collect()
}

#[track_caller]
fn assert_google_error(status: StatusCode, body: &Value, want: StatusCode, reason: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"]["code"], want.as_u16(), "{body}");
    assert_eq!(body["error"]["errors"][0]["reason"], reason, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().len() > 5,
        "{body}"
    );
}

#[tokio::test]
async fn paging_with_empty_pages_then_incremental_sync_and_410() {
    let s = setup().await;
    for n in 0..5 {
        s.insert(timed(
            &format!("evt0000{n}"),
            &format!("E{n}"),
            "2026-03-02T09:00:00+01:00",
            "2026-03-02T10:00:00+01:00",
        ))
        .await;
    }
    s.fake.google().set_empty_pages(true);
    let (items, sync, pages) = s.list_all(&[("maxResults", "2")]).await;
    assert_eq!(
        ids(&items),
        ["evt00000", "evt00001", "evt00002", "evt00003", "evt00004"]
    );
    assert_eq!(
        pages, 6,
        "an empty page before each of the 3 pages of results"
    );
    s.fake.google().set_empty_pages(false);

    // Nothing changed: an empty incremental page and a token.
    let (items, same, _) = s.list_all(&[("syncToken", &sync)]).await;
    assert!(items.is_empty());

    // An update and a delete come back; the delete carries only id + status.
    let (_, _, e1) = s
        .call(
            reqwest::Method::PATCH,
            &format!("{}/evt00001", s.events_path()),
            &[],
            Some(json!({"summary": "moved"})),
            None,
        )
        .await;
    assert_eq!(e1["summary"], "moved");
    let (status, _, _) = s
        .call(
            reqwest::Method::DELETE,
            &format!("{}/evt00002", s.events_path()),
            &[],
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (items, next, _) = s.list_all(&[("syncToken", &same)]).await;
    assert_eq!(ids(&items), ["evt00001", "evt00002"]);
    assert_eq!(items[0]["summary"], "moved");
    let deleted = items[1].as_object().unwrap();
    assert_eq!(deleted["status"], "cancelled");
    assert!(
        !deleted.contains_key("start") && !deleted.contains_key("summary"),
        "{:?}",
        deleted
    );

    // A full list does not show the deleted event; showDeleted does.
    let (items, _, _) = s.list_all(&[]).await;
    assert!(!ids(&items).contains(&"evt00002"));
    let (items, _, _) = s.list_all(&[("showDeleted", "true")]).await;
    assert!(ids(&items).contains(&"evt00002"));

    // Parameters Google refuses with a sync token.
    let (status, _, body) = s
        .call(
            reqwest::Method::GET,
            &s.events_path(),
            &[("syncToken", &next), ("timeMin", "2026-01-01T00:00:00Z")],
            None,
            None,
        )
        .await;
    assert_google_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "syncTokenWithRequestRestrictions",
    );
    assert_eq!(body["error"]["errors"][0]["location"], "timeMin");

    // Expired tokens (one, then all) and garbage answer 410 fullSyncRequired.
    s.fake.google().expire_sync_token(&next);
    let (status, _, body) = s
        .call(
            reqwest::Method::GET,
            &s.events_path(),
            &[("syncToken", &next)],
            None,
            None,
        )
        .await;
    assert_google_error(status, &body, StatusCode::GONE, "fullSyncRequired");
    let (status, _, _) = s
        .call(
            reqwest::Method::GET,
            &s.events_path(),
            &[("syncToken", &same)],
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "other tokens still work");
    s.fake.google().expire_sync_tokens(&s.calendar);
    let (status, _, body) = s
        .call(
            reqwest::Method::GET,
            &s.events_path(),
            &[("syncToken", &same)],
            None,
            None,
        )
        .await;
    assert_google_error(status, &body, StatusCode::GONE, "fullSyncRequired");
    let (status, _, _) = s
        .call(
            reqwest::Method::GET,
            &s.events_path(),
            &[("syncToken", "garbage")],
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(
        s.fake.log().count("GET", EVENTS),
        s.fake
            .log()
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path == s.events_path())
            .count()
    );
}

#[tokio::test]
async fn a_write_during_paging_is_served_again_by_the_next_incremental_list() {
    let s = setup().await;
    for n in 0..4 {
        s.insert(timed(
            &format!("pag0000{n}"),
            "x",
            "2026-03-02T09:00:00+01:00",
            "2026-03-02T10:00:00+01:00",
        ))
        .await;
    }
    let (_, _, first) = s
        .call(
            reqwest::Method::GET,
            &s.events_path(),
            &[("maxResults", "2")],
            None,
            None,
        )
        .await;
    s.call(
        reqwest::Method::PATCH,
        &format!("{}/pag00000", s.events_path()),
        &[],
        Some(json!({"summary": "changed"})),
        None,
    )
    .await;
    let token = first["nextPageToken"].as_str().unwrap();
    let (_, _, rest) = s
        .call(
            reqwest::Method::GET,
            &s.events_path(),
            &[("maxResults", "2"), ("pageToken", token)],
            None,
            None,
        )
        .await;
    let rest_page = rest;
    let sync = match rest_page["nextSyncToken"].as_str() {
        Some(t) => t.to_string(),
        None => {
            let t = rest_page["nextPageToken"].as_str().unwrap();
            let (_, _, last) = s
                .call(
                    reqwest::Method::GET,
                    &s.events_path(),
                    &[("maxResults", "2"), ("pageToken", t)],
                    None,
                    None,
                )
                .await;
            last["nextSyncToken"].as_str().unwrap().to_string()
        }
    };
    let (items, _, _) = s.list_all(&[("syncToken", &sync)]).await;
    assert_eq!(ids(&items), ["pag00000"]);
    assert_eq!(items[0]["summary"], "changed");
}

#[tokio::test]
async fn etags_if_match_ids_and_deletes() {
    let s = setup().await;
    let event = s
        .insert(timed(
            "abcdef0123",
            "Meeting",
            "2026-03-02T09:00:00+01:00",
            "2026-03-02T10:00:00+01:00",
        ))
        .await;
    let etag = event["etag"].as_str().unwrap().to_string();
    assert_eq!(event["sequence"], 0);
    assert_eq!(event["status"], "confirmed");

    // The same client id again: 409 duplicate. Ids outside base32hex: 400.
    let (status, _, body) = s
        .call(
            reqwest::Method::POST,
            &s.events_path(),
            &[],
            Some(timed(
                "abcdef0123",
                "again",
                "2026-03-02T09:00:00Z",
                "2026-03-02T10:00:00Z",
            )),
            None,
        )
        .await;
    assert_google_error(status, &body, StatusCode::CONFLICT, "duplicate");
    for bad in ["abcd", "has-dash-01", "wxyz01234"] {
        let (status, _, body) = s
            .call(
                reqwest::Method::POST,
                &s.events_path(),
                &[],
                Some(timed(
                    bad,
                    "x",
                    "2026-03-02T09:00:00Z",
                    "2026-03-02T10:00:00Z",
                )),
                None,
            )
            .await;
        assert_google_error(status, &body, StatusCode::BAD_REQUEST, "invalid");
    }
    // End before start.
    let (status, _, body) = s
        .call(
            reqwest::Method::POST,
            &s.events_path(),
            &[],
            Some(timed(
                "abcdef9999",
                "x",
                "2026-03-02T10:00:00Z",
                "2026-03-02T09:00:00Z",
            )),
            None,
        )
        .await;
    assert_google_error(status, &body, StatusCode::BAD_REQUEST, "timeRangeEmpty");

    let path = format!("{}/abcdef0123", s.events_path());
    let (status, _, patched) = s
        .call(
            reqwest::Method::PATCH,
            &path,
            &[],
            Some(json!({"extendedProperties": {"private": {"crmMeetingId": "42"}}})),
            Some(&etag),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_ne!(patched["etag"], etag.as_str(), "a new etag per write");
    assert_eq!(patched["sequence"], 1);
    assert_eq!(
        patched["summary"], "Meeting",
        "patch keeps what it does not name"
    );

    // The old etag no longer matches: 412 on patch, update and delete.
    let (status, _, body) = s
        .call(
            reqwest::Method::PATCH,
            &path,
            &[],
            Some(json!({"summary": "lost"})),
            Some(&etag),
        )
        .await;
    assert_google_error(
        status,
        &body,
        StatusCode::PRECONDITION_FAILED,
        "conditionNotMet",
    );
    let (status, _, _) = s
        .call(reqwest::Method::DELETE, &path, &[], None, Some(&etag))
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);

    // privateExtendedProperty finds it.
    let (_, _, found) = s
        .call(
            reqwest::Method::GET,
            &s.events_path(),
            &[("privateExtendedProperty", "crmMeetingId=42")],
            None,
            None,
        )
        .await;
    assert_eq!(ids(found["items"].as_array().unwrap()), ["abcdef0123"]);
    let (_, _, none) = s
        .call(
            reqwest::Method::GET,
            &s.events_path(),
            &[("privateExtendedProperty", "crmMeetingId=43")],
            None,
            None,
        )
        .await;
    assert!(none["items"].as_array().unwrap().is_empty());

    // Delete, then delete again: 410 deleted. get still returns it, cancelled.
    let current = patched["etag"].as_str().unwrap();
    let (status, _, _) = s
        .call(reqwest::Method::DELETE, &path, &[], None, Some(current))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, body) = s
        .call(reqwest::Method::DELETE, &path, &[], None, None)
        .await;
    assert_google_error(status, &body, StatusCode::GONE, "deleted");
    let (status, _, got) = s.call(reqwest::Method::GET, &path, &[], None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["status"], "cancelled");
    // An id once used stays taken.
    let (status, _, _) = s
        .call(
            reqwest::Method::POST,
            &s.events_path(),
            &[],
            Some(timed(
                "abcdef0123",
                "x",
                "2026-03-02T09:00:00Z",
                "2026-03-02T10:00:00Z",
            )),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

/// `organizer` is the calendar an event was created in (read-only: a client's is ignored),
/// `self` when it is that calendar; a non-organiser's change of a shared property is 403
/// `forbiddenForNonOrganizer`, their own answer and private settings are not.
#[tokio::test]
async fn organizers_and_the_non_organizer_rule() {
    let s = setup().await;
    let google = s.fake.google();
    let mut mine = timed(
        "mine000001",
        "Mine",
        "2026-03-02T09:00:00+01:00",
        "2026-03-02T10:00:00+01:00",
    );
    mine["organizer"] = json!({"email": "boss@example.com"});
    let mine = s.insert(mine).await;
    assert_eq!(mine["organizer"], json!({"email": ME, "self": true}));
    let work = google.add_calendar(ME, "Work", "Europe/Brussels");
    let in_work = google
        .insert_event(
            &work,
            timed(
                "plan000001",
                "Planning",
                "2026-03-02T09:00:00Z",
                "2026-03-02T10:00:00Z",
            ),
        )
        .unwrap();
    assert_eq!(
        in_work["organizer"],
        json!({"email": work, "displayName": "Work", "self": true}),
        "a secondary calendar organises its own events, under its name"
    );

    // An invitation from someone else (the Rust API keeps the organiser, as import does).
    let mut invitation = timed(
        "invite0001",
        "Board meeting",
        "2026-03-03T09:00:00+01:00",
        "2026-03-03T10:00:00+01:00",
    );
    invitation["organizer"] = json!({"email": "boss@example.com", "displayName": "Boss"});
    invitation["attendees"] = json!([
        {"email": "boss@example.com", "organizer": true, "responseStatus": "accepted"},
        {"email": ME, "responseStatus": "needsAction"},
    ]);
    let invitation = google.insert_event(&s.calendar, invitation).unwrap();
    assert_eq!(
        invitation["organizer"],
        json!({"email": "boss@example.com", "displayName": "Boss"}),
        "self is left out when false"
    );
    let path = format!("{}/invite0001", s.events_path());
    let patch = |body: Value| s.call(reqwest::Method::PATCH, &path, &[], Some(body), None);
    for shared in [
        json!({"summary": "Renamed"}),
        json!({"start": {"dateTime": "2026-03-03T11:00:00+01:00"},
               "end": {"dateTime": "2026-03-03T12:00:00+01:00"}}),
        json!({"attendees": [{"email": "boss@example.com"}, {"email": ME},
                             {"email": "eve@example.com"}]}),
        json!({"extendedProperties": {"shared": {"k": "v"}}}),
    ] {
        let (status, _, body) = patch(shared).await;
        assert_google_error(
            status,
            &body,
            StatusCode::FORBIDDEN,
            "forbiddenForNonOrganizer",
        );
    }
    let stored = google.event(&s.calendar, "invite0001").unwrap();
    assert_eq!(stored["etag"], invitation["etag"], "nothing was written");
    // The guest's own answer, reminders and private properties are theirs to change.
    let (status, _, answered) = patch(json!({
        "attendees": [
            {"email": "boss@example.com", "organizer": true, "responseStatus": "accepted"},
            {"email": ME, "responseStatus": "accepted"},
        ],
        "reminders": {"useDefault": false},
        "extendedProperties": {"private": {"note": "bring slides"}},
    }))
    .await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    assert_eq!(answered["organizer"]["email"], "boss@example.com");

    // The organiser lets guests modify: then anyone may.
    let mut open = timed(
        "open000001",
        "Potluck",
        "2026-03-04T09:00:00Z",
        "2026-03-04T10:00:00Z",
    );
    open["organizer"] = json!({"email": "boss@example.com"});
    open["guestsCanModify"] = json!(true);
    google.insert_event(&s.calendar, open).unwrap();
    let (status, _, body) = s
        .call(
            reqwest::Method::PATCH,
            &format!("{}/open000001", s.events_path()),
            &[],
            Some(json!({"summary": "Potluck (bring a dish)"})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Ownership moves to the user: a new version, and now they may change it.
    let moved = google.set_organizer(&s.calendar, "invite0001", ME);
    assert_eq!(moved["organizer"], json!({"email": ME, "self": true}));
    assert_ne!(moved["etag"], answered["etag"]);
    let (status, _, body) = patch(json!({"summary": "Renamed"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["organizer"]["self"], true,
        "a patch keeps the organiser"
    );

    // A PATCH cannot change the organiser either (read-only).
    let (status, _, body) = patch(json!({"organizer": {"email": "eve@example.com"}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["organizer"]["email"], ME);

    // The same refusal by fault injection, whatever the event.
    let id = s.fake.faults().inject(
        FaultRule::new(Fault::Google(GoogleFault::ForbiddenForNonOrganizer))
            .on("PATCH", "/calendar/v3/calendars/*/events/*"),
    );
    let (status, _, body) = s
        .call(
            reqwest::Method::PATCH,
            &format!("{}/mine000001", s.events_path()),
            &[],
            Some(json!({"summary": "x"})),
            None,
        )
        .await;
    assert_google_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "forbiddenForNonOrganizer",
    );
    assert_eq!(s.fake.faults().fired(id), 1);
}

/// Attendees as Google keeps them: the organiser's and the calendar's own entries flagged
/// (read-only), `needsAction` for a guest who has not answered, a guest's answer through
/// the Rust API (a new version an incremental listing shows), and a PATCH replacing the
/// whole list: an entry sent without its answer has lost it.
#[tokio::test]
async fn attendees_answers_and_a_patch_replacing_the_list() {
    let s = setup().await;
    let google = s.fake.google();
    let mut body = timed(
        "guests0001",
        "Review",
        "2026-03-02T09:00:00+01:00",
        "2026-03-02T10:00:00+01:00",
    );
    body["attendees"] = json!([
        {"email": ME, "organizer": false},
        {"email": "bob@example.com", "self": true},
        {"email": "carol@example.com", "responseStatus": "tentative", "comment": "Maybe"},
    ]);
    let event = s.insert(body).await;
    assert_eq!(
        event["attendees"],
        json!([
            {"email": ME, "organizer": true, "self": true, "responseStatus": "needsAction"},
            {"email": "bob@example.com", "responseStatus": "needsAction"},
            {"email": "carol@example.com", "responseStatus": "tentative", "comment": "Maybe"},
        ]),
        "flags are Google's, whatever the client sent"
    );
    let (_, token, _) = s.list_all(&[]).await;

    let answered = google.set_response(&s.calendar, "guests0001", "BOB@example.com", "accepted");
    assert_eq!(answered["attendees"][1]["responseStatus"], "accepted");
    assert_ne!(answered["etag"], event["etag"]);
    assert_eq!(
        answered["sequence"], event["sequence"],
        "an answer is no change"
    );
    let (items, _, _) = s.list_all(&[("syncToken", &token)]).await;
    assert_eq!(ids(&items), ["guests0001"], "the answer is listed");

    // PATCH replaces the array: Bob sent back whole keeps his answer, Carol sent bare has
    // lost hers, whoever is left out is gone.
    let path = format!("{}/guests0001", s.events_path());
    let kept = answered["attendees"][1].clone();
    let (status, _, patched) = s
        .call(
            reqwest::Method::PATCH,
            &path,
            &[],
            Some(json!({"attendees": [kept, {"email": "carol@example.com"}]})),
            answered["etag"].as_str(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(
        patched["attendees"],
        json!([
            {"email": "bob@example.com", "responseStatus": "accepted"},
            {"email": "carol@example.com", "responseStatus": "needsAction"},
        ])
    );
    assert_eq!(google.event(&s.calendar, "guests0001").unwrap(), patched);
}

#[tokio::test]
async fn recurring_series_with_exdate_a_moved_and_a_cancelled_instance() {
    let s = setup().await;
    let mut master = timed(
        "series0001",
        "Weekly",
        "2026-03-02T09:00:00",
        "2026-03-02T10:00:00",
    );
    // Five Mondays; 16 March is excluded (EXDATE in local time).
    master["recurrence"] = json!([
        "RRULE:FREQ=WEEKLY;COUNT=5",
        "EXDATE;TZID=Europe/Brussels:20260316T090000"
    ]);
    s.insert(master).await;
    let window = [
        ("singleEvents", "true"),
        ("timeMin", "2026-03-01T00:00:00Z"),
        ("timeMax", "2026-04-30T00:00:00Z"),
    ];
    let (items, _, _) = s.list_all(&window).await;
    // 2 March is CET (+01), 30 March CEST (+02): 09:00 local each time.
    assert_eq!(
        ids(&items),
        [
            "series0001_20260302T080000Z",
            "series0001_20260309T080000Z",
            "series0001_20260323T080000Z",
            "series0001_20260330T070000Z"
        ]
    );
    assert_eq!(items[3]["start"]["dateTime"], "2026-03-30T09:00:00+02:00");
    assert_eq!(items[0]["recurringEventId"], "series0001");

    let (_, _, sync_start) = s
        .call(reqwest::Method::GET, &s.events_path(), &[], None, None)
        .await;
    let sync = sync_start["nextSyncToken"].as_str().unwrap().to_string();

    // Move the 9 March instance to 11:00; cancel the 23 March one.
    let moved = format!("{}/series0001_20260309T080000Z", s.events_path());
    let (status, _, body) = s.call(reqwest::Method::PATCH, &moved, &[], Some(json!({"start": {"dateTime": "2026-03-09T11:00:00+01:00", "timeZone": "Europe/Brussels"}, "end": {"dateTime": "2026-03-09T12:00:00+01:00", "timeZone": "Europe/Brussels"}})), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["originalStartTime"]["dateTime"],
        "2026-03-09T09:00:00+01:00"
    );
    let (status, _, _) = s
        .call(
            reqwest::Method::DELETE,
            &format!("{}/series0001_20260323T080000Z", s.events_path()),
            &[],
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (items, _, _) = s.list_all(&window).await;
    assert_eq!(ids(&items).len(), 3, "{items:?}");
    let moved = items
        .iter()
        .find(|i| i["id"] == "series0001_20260309T080000Z")
        .unwrap();
    assert_eq!(moved["start"]["dateTime"], "2026-03-09T11:00:00+01:00");

    // Incremental, singleEvents=false: the moved exception in full, the cancelled one as a stub.
    let (items, _, _) = s.list_all(&[("syncToken", &sync)]).await;
    assert_eq!(
        ids(&items),
        ["series0001_20260309T080000Z", "series0001_20260323T080000Z"]
    );
    let cancelled = items[1].as_object().unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["recurringEventId"], "series0001");
    assert_eq!(
        cancelled["originalStartTime"]["dateTime"],
        "2026-03-23T09:00:00+01:00"
    );
    assert!(!cancelled.contains_key("summary"));

    // events.instances shows the series with its exceptions in place.
    let (_, _, instances) = s
        .call(
            reqwest::Method::GET,
            &format!("{}/series0001/instances", s.events_path()),
            &[],
            None,
            None,
        )
        .await;
    assert_eq!(
        instances["items"].as_array().unwrap().len(),
        3,
        "{instances}"
    );

    // An all-day daily series with an EXDATE by date; end is exclusive.
    let all_day = json!({"id": "alldae0001", "summary": "Off", "start": {"date": "2026-05-04"}, "end": {"date": "2026-05-05"},
                         "recurrence": ["RRULE:FREQ=DAILY;UNTIL=20260508", "EXDATE;VALUE=DATE:20260506"]});
    s.insert(all_day).await;
    let (_, _, days) = s
        .call(
            reqwest::Method::GET,
            &format!("{}/alldae0001/instances", s.events_path()),
            &[],
            None,
            None,
        )
        .await;
    let days: Vec<&str> = days["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["start"]["date"].as_str().unwrap())
        .collect();
    assert_eq!(
        days,
        ["2026-05-04", "2026-05-05", "2026-05-07", "2026-05-08"]
    );

    // A recurring timed event needs start.timeZone.
    let mut no_zone = json!({"summary": "x", "start": {"dateTime": "2026-03-02T09:00:00Z"}, "end": {"dateTime": "2026-03-02T10:00:00Z"}});
    no_zone["recurrence"] = json!(["RRULE:FREQ=DAILY"]);
    let (status, _, body) = s
        .call(
            reqwest::Method::POST,
            &s.events_path(),
            &[],
            Some(no_zone),
            None,
        )
        .await;
    assert_google_error(status, &body, StatusCode::BAD_REQUEST, "invalid");
}

/// `events.get` of an instance id answers the instance whether or not it is an exception
/// (with `recurringEventId` and `originalStartTime`, no `recurrence`), and a change of the
/// master reaches its exceptions where they did not change that field themselves — without
/// listing them again in an incremental sync, so a client reads them by id.
#[tokio::test]
async fn an_instance_is_read_by_its_id_and_follows_its_series() {
    let s = &setup().await;
    let mut master = timed(
        "series0002",
        "Weekly",
        "2026-03-02T09:00:00",
        "2026-03-02T10:00:00",
    );
    master["location"] = json!("Room 1");
    master["recurrence"] = json!(["RRULE:FREQ=WEEKLY;COUNT=4"]);
    s.insert(master).await;
    let get = |id: &str| {
        let path = format!("{}/{id}", s.events_path());
        async move { s.call(reqwest::Method::GET, &path, &[], None, None).await }
    };

    // Not an exception: made from the series.
    let (status, _, plain) = get("series0002_20260316T080000Z").await;
    assert_eq!(status, StatusCode::OK, "{plain}");
    assert_eq!(plain["id"], "series0002_20260316T080000Z");
    assert_eq!(plain["recurringEventId"], "series0002");
    assert_eq!(
        plain["originalStartTime"]["dateTime"],
        "2026-03-16T09:00:00+01:00"
    );
    assert_eq!(plain["start"], plain["originalStartTime"]);
    assert_eq!(plain["summary"], "Weekly");
    assert!(plain.get("recurrence").is_none(), "{plain}");
    // No instance there (a Tuesday; after the last one): 404.
    for id in ["series0002_20260317T080000Z", "series0002_20260330T070000Z"] {
        let (status, _, body) = get(id).await;
        assert_google_error(status, &body, StatusCode::NOT_FOUND, "notFound");
    }

    // Two exceptions: one moved, one with its own place.
    let moved = format!("{}/series0002_20260309T080000Z", s.events_path());
    let (status, _, body) = s.call(reqwest::Method::PATCH, &moved, &[], Some(json!({"start": {"dateTime": "2026-03-09T11:00:00+01:00", "timeZone": "Europe/Brussels"}, "end": {"dateTime": "2026-03-09T12:00:00+01:00", "timeZone": "Europe/Brussels"}})), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let placed = format!("{}/series0002_20260323T080000Z", s.events_path());
    let (status, _, _) = s
        .call(
            reqwest::Method::PATCH,
            &placed,
            &[],
            Some(json!({"location": "Room 9"})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, before) = get("series0002_20260309T080000Z").await;
    let (_, sync, _) = s.list_all(&[]).await;

    // The series is renamed and moves to Room 2.
    let (status, _, _) = s
        .call(
            reqwest::Method::PATCH,
            &format!("{}/series0002", s.events_path()),
            &[],
            Some(json!({"summary": "Weekly v2", "location": "Room 2"})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, plain) = get("series0002_20260316T080000Z").await;
    assert_eq!(
        (&plain["summary"], &plain["location"]),
        (&json!("Weekly v2"), &json!("Room 2"))
    );
    let (_, _, after) = get("series0002_20260309T080000Z").await;
    assert_eq!(
        (&after["summary"], &after["location"]),
        (&json!("Weekly v2"), &json!("Room 2"))
    );
    assert_eq!(after["start"], before["start"], "still where it was moved");
    assert_ne!(after["etag"], before["etag"], "a new etag for new content");
    let (_, _, own) = get("series0002_20260323T080000Z").await;
    assert_eq!(own["summary"], "Weekly v2");
    assert_eq!(own["location"], "Room 9", "its own place stays");

    // An incremental listing names the master only.
    let (items, _, _) = s.list_all(&[("syncToken", &sync)]).await;
    assert_eq!(ids(&items), ["series0002"]);
}

fn pkce() -> (String, String) {
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".to_string();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

async fn authorize(s: &Setup, challenge: &str) -> String {
    authorize_for(
        s,
        challenge,
        "https://www.googleapis.com/auth/calendar.events",
        &[],
    )
    .await
}

/// The consent screen's code for `scope` (space-separated), with `more` query parameters.
async fn authorize_for(s: &Setup, challenge: &str, scope: &str, more: &[(&str, &str)]) -> String {
    let mut query = vec![
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", scope),
        ("access_type", "offline"),
        ("state", "xyz"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    query.extend_from_slice(more);
    let response = s
        .http
        .get(s.url("/o/oauth2/v2/auth"))
        .query(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(REDIRECT));
    let pairs: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(pairs["state"], "xyz");
    pairs["code"].clone()
}

async fn token_call(s: &Setup, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = s
        .http
        .post(s.url("/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

/// A successful `authorization_code` exchange of `code` with its PKCE verifier: the answer.
async fn code_exchange(s: &Setup, code: &str, verifier: &str) -> Value {
    let (status, body) = token_call(
        s,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("code_verifier", verifier),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Incremental authorization: `include_granted_scopes=true` adds what the account granted
/// the client before; without it, or after the grant was revoked, only what is asked.
#[tokio::test]
async fn include_granted_scopes_keeps_earlier_grants_until_revoked() {
    let s = setup().await;
    let (verifier, challenge) = pkce();
    const CALENDAR: &str = "https://www.googleapis.com/auth/calendar";
    const CONTACTS: &str = "https://www.googleapis.com/auth/contacts";
    let exchange = |code: String| {
        let verifier = verifier.clone();
        let s = &s;
        async move {
            let body = code_exchange(s, &code, &verifier).await;
            let mut scopes: Vec<String> = body["scope"]
                .as_str()
                .unwrap()
                .split(' ')
                .map(str::to_string)
                .collect();
            scopes.sort();
            (scopes, body["refresh_token"].as_str().unwrap().to_string())
        }
    };
    let incremental = [("include_granted_scopes", "true")];
    let first = authorize_for(&s, &challenge, CALENDAR, &incremental).await;
    assert_eq!(exchange(first).await.0, [CALENDAR]);
    // Asking for Contacts alone, incrementally: the grant covers both.
    let second = authorize_for(&s, &challenge, CONTACTS, &incremental).await;
    let (scopes, refresh) = exchange(second).await;
    assert_eq!(scopes, [CALENDAR, CONTACTS]);
    // Without the parameter, only what is asked.
    let plain = authorize_for(&s, &challenge, CONTACTS, &[]).await;
    assert_eq!(exchange(plain).await.0, [CONTACTS]);
    // Revoked: nothing granted before any more.
    let response = s
        .http
        .post(s.url("/revoke"))
        .form(&[("token", refresh.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let after = authorize_for(&s, &challenge, CONTACTS, &incremental).await;
    assert_eq!(exchange(after).await.0, [CONTACTS]);
}

#[tokio::test]
async fn pkce_code_exchange_refresh_and_invalid_grant() {
    let s = setup().await;
    let (verifier, challenge) = pkce();

    // A wrong verifier fails, and spends the code.
    let code = authorize(&s, &challenge).await;
    let wrong = "x".repeat(43);
    let s = &s;
    let exchange = |code: String, verifier: String| async move {
        token_call(
            s,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("client_id", CLIENT_ID),
                ("client_secret", SECRET),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
            ],
        )
        .await
    };
    let (status, body) = exchange(code.clone(), wrong).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{body}"
    );
    let (status, _) = exchange(code, verifier.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a code is good once");

    let code = authorize(s, &challenge).await;
    let (status, tokens) = exchange(code, verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3599);
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();

    // The token works for events (calendar.events) but not calendarList: 403.
    let events = s
        .http
        .get(s.url("/calendar/v3/calendars/primary/events"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    let list = s
        .http
        .get(s.url("/calendar/v3/users/me/calendarList"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    let status = list.status();
    assert_google_error(
        status,
        &list.json().await.unwrap(),
        StatusCode::FORBIDDEN,
        "insufficientPermissions",
    );

    // Expired: 401 authError. Refresh: a new access token, no new refresh token.
    s.fake.google().expire_access_tokens();
    let events = s
        .http
        .get(s.url("/calendar/v3/calendars/primary/events"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    let status = events.status();
    assert_google_error(
        status,
        &events.json().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "authError",
    );
    let (status, refreshed) = token_call(
        s,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert!(refreshed.get("refresh_token").is_none(), "no rotation");
    let events = s
        .http
        .get(s.url("/calendar/v3/calendars/primary/events"))
        .bearer_auth(refreshed["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);

    // A wrong secret is invalid_client 401; an invalidated refresh token is invalid_grant 400.
    let (status, body) = token_call(
        s,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", CLIENT_ID),
            ("client_secret", "nope"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    s.fake.google().invalidate_refresh_token(&refresh);
    let (status, body) = token_call(
        s,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
    );

    // Revoke: the refresh token and its access tokens stop working.
    let revoke = s
        .http
        .post(s.url("/revoke"))
        .form(&[("token", s.refresh.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::OK);
    let events = s
        .http
        .get(s.url("/calendar/v3/calendars/primary/events"))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::UNAUTHORIZED);

    // A redirect URI that is not registered gets an error page, not a redirect.
    let response = s
        .http
        .get(s.url("/o/oauth2/v2/auth"))
        .query(&[
            ("client_id", CLIENT_ID),
            ("redirect_uri", "http://evil.example/cb"),
            ("response_type", "code"),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn userinfo_names_the_account_of_an_openid_token() {
    let s = setup().await;
    s.fake.google().add_user("bob@example.com");
    let userinfo = |token: String| {
        let request = s.http.get(s.url("/v1/userinfo")).bearer_auth(token);
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    let google = s.fake.google();
    let ann = google.issue_tokens(CLIENT_ID, ME, &["openid", "email", "calendar"]);
    let (status, body) = userinfo(ann.access_token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], ME);
    assert_eq!(body["email_verified"], true);
    let sub = body["sub"].as_str().unwrap();
    assert_eq!(sub.len(), 21, "{sub}");
    assert!(sub.bytes().all(|b| b.is_ascii_digit()), "{sub}");
    assert_eq!(
        sub,
        threadline_fake_providers::google::oauth::account_id(ME)
    );

    // Stable per account, different between accounts.
    let again = google.issue_tokens(CLIENT_ID, ME, &["openid"]);
    assert_eq!(userinfo(again.access_token).await.1["sub"], sub);
    let bob = google.issue_tokens(CLIENT_ID, "bob@example.com", &["email"]);
    let (_, bob) = userinfo(bob.access_token).await;
    assert_eq!(bob["email"], "bob@example.com");
    assert_ne!(bob["sub"], sub);

    // A token without an OpenID scope, or none at all, as every API route.
    let (status, body) = userinfo(s.token.clone()).await;
    assert_google_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "insufficientPermissions",
    );
    let (status, body) = userinfo("ya29.unknown".into()).await;
    assert_google_error(status, &body, StatusCode::UNAUTHORIZED, "authError");
}

#[tokio::test]
async fn each_fault_kind() {
    let s = setup().await;
    let path = s.events_path();
    let faults = s.fake.faults();
    let get = || s.call(reqwest::Method::GET, &path, &[], None, None);

    faults.inject(
        FaultRule::new(Fault::TooManyRequests {
            retry_after: Some(7),
        })
        .on("GET", "/calendar/v3/calendars/*/events"),
    );
    let (status, headers, body) = get().await;
    assert_google_error(
        status,
        &body,
        StatusCode::TOO_MANY_REQUESTS,
        "rateLimitExceeded",
    );
    assert_eq!(headers["retry-after"], "7");
    faults.inject(FaultRule::new(Fault::TooManyRequests { retry_after: None }));
    let (status, headers, _) = get().await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers.get("retry-after").is_none());

    for (fault, want, reason) in [
        (
            Fault::Google(GoogleFault::RateLimited403(
                RateLimitReason::RateLimitExceeded,
            )),
            StatusCode::FORBIDDEN,
            "rateLimitExceeded",
        ),
        (
            Fault::Google(GoogleFault::RateLimited403(
                RateLimitReason::UserRateLimitExceeded,
            )),
            StatusCode::FORBIDDEN,
            "userRateLimitExceeded",
        ),
        (
            Fault::BackendError,
            StatusCode::INTERNAL_SERVER_ERROR,
            "backendError",
        ),
        (
            Fault::Unavailable,
            StatusCode::SERVICE_UNAVAILABLE,
            "backendError",
        ),
        (Fault::Unauthorized, StatusCode::UNAUTHORIZED, "authError"),
    ] {
        let id = faults.inject(
            FaultRule::new(fault)
                .on("*", "/calendar/v3/**")
                .times(Times::N(2)),
        );
        for _ in 0..2 {
            let (status, _, body) = get().await;
            assert_google_error(status, &body, want, reason);
        }
        assert_eq!(get().await.0, StatusCode::OK, "spent after two");
        assert_eq!(faults.fired(id), 2);
    }

    // Delay.
    faults.inject(
        FaultRule::new(Fault::Delay(Duration::from_millis(300)))
            .on("GET", "/calendar/v3/calendars/*/events"),
    );
    let started = Instant::now();
    assert_eq!(get().await.0, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));

    // The write commits, the answer never comes; a retry with the same id gets 409.
    faults.inject(
        FaultRule::new(Fault::DropResponseAfterCommit)
            .on("POST", "/calendar/v3/calendars/*/events"),
    );
    let lost = s
        .http
        .post(s.url(&path))
        .bearer_auth(&s.token)
        .json(&timed(
            "lost000001",
            "x",
            "2026-03-02T09:00:00Z",
            "2026-03-02T10:00:00Z",
        ))
        .send()
        .await;
    assert!(lost.is_err(), "no answer: {lost:?}");
    assert!(
        s.fake.google().event(&s.calendar, "lost000001").is_some(),
        "but committed"
    );
    let (status, _, _) = s
        .call(
            reqwest::Method::POST,
            &path,
            &[],
            Some(timed(
                "lost000001",
                "x",
                "2026-03-02T09:00:00Z",
                "2026-03-02T10:00:00Z",
            )),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let dropped = s
        .fake
        .log()
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.status.is_none())
        .expect("logged without a status");
    assert_eq!(dropped.fault.as_deref(), Some("DropResponseAfterCommit"));
    assert_eq!(s.fake.log().count("POST", EVENTS), 2);
}

/// A held request: its client waits (and may be cancelled there) while nothing answers;
/// held after its commit, the write is made; held before, it is not; other requests are
/// served meanwhile, and the k-th matching request is the one held.
#[tokio::test]
async fn a_held_request_is_never_answered_and_committed_only_after_commit() {
    let s = setup().await;
    let path = s.events_path();
    let faults = s.fake.faults();
    let post = |id: &'static str| {
        s.http
            .post(s.url(&path))
            .bearer_auth(&s.token)
            .json(&timed(
                id,
                "x",
                "2026-03-02T09:00:00Z",
                "2026-03-02T10:00:00Z",
            ))
            .send()
    };
    for (fault, committed) in [(Fault::HangAfterCommit, true), (Fault::Hang, false)] {
        faults.clear();
        faults.inject(
            FaultRule::new(fault.clone())
                .on("POST", "/calendar/v3/calendars/*/events")
                .after(1),
        );
        let (first, second) = match fault {
            Fault::Hang => ("held000003", "held000004"),
            _ => ("held000001", "held000002"),
        };
        // Not held (a bound, so that a fault held too early fails rather than hangs).
        let answer = tokio::time::timeout(Duration::from_secs(10), post(first)).await;
        assert_eq!(answer.unwrap().unwrap().status(), StatusCode::OK);
        let held = post(second);
        let holds = if committed { 1 } else { 2 };
        tokio::select! {
            answer = held => panic!("{fault:?} answered: {answer:?}"),
            () = faults.until_held(holds) => {}
        }
        // The client went away (its future dropped); the rule is spent.
        assert_eq!(
            s.fake.google().event(&s.calendar, second).is_some(),
            committed,
            "{fault:?}"
        );
        assert!(s.fake.google().event(&s.calendar, first).is_some());
        let listed = s.call(reqwest::Method::GET, &path, &[], None, None).await;
        assert_eq!(listed.0, StatusCode::OK, "served meanwhile");
    }
}

/// The neutral faults that are new to the fault layer, in Google's envelope over HTTP: a
/// spent quota is Google's 403 rate limit, the others its usual reasons for the status.
#[tokio::test]
async fn neutral_faults_in_googles_envelope() {
    let s = setup().await;
    let path = s.events_path();
    let faults = s.fake.faults();
    for (fault, want, reason) in [
        (
            Fault::QuotaExceeded,
            StatusCode::FORBIDDEN,
            "rateLimitExceeded",
        ),
        (Fault::BadRequest, StatusCode::BAD_REQUEST, "badRequest"),
        (Fault::Forbidden, StatusCode::FORBIDDEN, "forbidden"),
        (Fault::NotFound, StatusCode::NOT_FOUND, "notFound"),
        (Fault::Conflict, StatusCode::CONFLICT, "duplicate"),
    ] {
        let id = faults.inject(FaultRule::new(fault).on("GET", "/calendar/v3/calendars/*/events"));
        let (status, _, body) = s.call(reqwest::Method::GET, &path, &[], None, None).await;
        assert_google_error(status, &body, want, reason);
        assert_eq!(faults.fired(id), 1);
    }
    let (status, _, _) = s.call(reqwest::Method::GET, &path, &[], None, None).await;
    assert_eq!(status, StatusCode::OK, "every rule spent");
}

/// A provider's own fault fires on that provider's routes only: a Dropbox rule on every path
/// leaves Google's requests alone, and is not counted as fired.
#[tokio::test]
async fn another_providers_fault_does_not_fire_on_google() {
    let s = setup().await;
    let path = s.events_path();
    let faults = s.fake.faults();
    let dropbox = faults.inject(
        FaultRule::new(Fault::Dropbox(DropboxFault::InvalidAccessToken)).times(Times::Always),
    );
    let google = faults.inject(FaultRule::new(Fault::Google(
        GoogleFault::ForbiddenForNonOrganizer,
    )));
    let (status, _, body) = s.call(reqwest::Method::GET, &path, &[], None, None).await;
    assert_google_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "forbiddenForNonOrganizer",
    );
    let (status, _, _) = s.call(reqwest::Method::GET, &path, &[], None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((faults.fired(dropbox), faults.fired(google)), (0, 1));
}

/// OpenID Connect as Google documents it: the discovery document names the JWKS; a code of an
/// `openid` request comes with an `id_token` signed RS256 by the JWKS's key, with the
/// request's nonce, the client as `aud`, userinfo's `sub`; `email` only with the `email`
/// scope, `name` only with `profile`, `hd` for a Workspace domain's account.
#[tokio::test]
async fn openid_discovery_jwks_and_a_signed_id_token() {
    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};

    let s = setup().await;
    let discovery: Value = s
        .http
        .get(s.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], "https://accounts.google.com");
    assert_eq!(discovery["token_endpoint"], s.url("/token"));
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"][0],
        "RS256"
    );
    let jwks: JwkSet = s
        .http
        .get(discovery["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let exchange = |scope: &'static str| {
        let s = &s;
        async move {
            let (verifier, challenge) = pkce();
            let code = authorize_for(s, &challenge, scope, &[("nonce", "n-42")]).await;
            code_exchange(s, &code, &verifier).await
        }
    };
    let decode = |token: &str| {
        let header = jsonwebtoken::decode_header(token).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);
        let key = DecodingKey::from_jwk(jwks.find(&header.kid.unwrap()).unwrap()).unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[CLIENT_ID]);
        validation.set_issuer(&["https://accounts.google.com"]);
        jsonwebtoken::decode::<Value>(token, &key, &validation)
            .unwrap()
            .claims
    };

    let answer = exchange("openid email profile").await;
    let claims = decode(answer["id_token"].as_str().unwrap());
    assert_eq!(
        claims["sub"],
        threadline_fake_providers::google::oauth::account_id(ME)
    );
    assert_eq!(claims["email"], ME);
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["nonce"], "n-42");
    assert_eq!(claims["azp"], CLIENT_ID);
    assert!(claims["name"].is_string());
    assert!(claims.get("hd").is_none());
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 3600);
    let digest = Sha256::digest(answer["access_token"].as_str().unwrap().as_bytes());
    assert_eq!(
        claims["at_hash"],
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
    );

    // Only what was asked; a Workspace domain's account carries `hd`; an unverified address.
    let domain = ME.rsplit_once('@').unwrap().1;
    s.fake.google().add_workspace_domain(domain);
    s.fake.google().set_email_verified(ME, false);
    let claims = decode(exchange("openid").await["id_token"].as_str().unwrap());
    assert!(claims.get("email").is_none() && claims.get("name").is_none());
    assert_eq!(claims["hd"], domain);
    let claims = decode(exchange("openid email").await["id_token"].as_str().unwrap());
    assert_eq!(claims["email_verified"], false);
    // Without `openid`, no ID token.
    let answer = exchange("https://www.googleapis.com/auth/calendar.events").await;
    assert!(answer.get("id_token").is_none());
}
