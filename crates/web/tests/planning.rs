//! The planning over a real database (SQLite, or PostgreSQL with
//! `THREADLINE_TEST_DATABASE_URL`): the organisation's meetings (written through the model)
//! and the viewer's busy times (from a test integration on the registry's seam) on the right
//! days of the viewer's time zone, a private busy time as "Busy", a colleague's busy times
//! never shown, converting one into a meeting, hostile titles escaped.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use threadline_connections::{self as connections, Grant, Owner, Provider};
use threadline_crm::accounts::{self, sessions, NewUser, OrgChoice};
use threadline_crm::records::meetings::Meeting;
use threadline_crm::records::{Editable, Target};
use threadline_crm::{Actor, CrmError};
use threadline_http::AppState;
use threadline_storage::db::{BoxFuture, Conn, Db};
use threadline_storage::secrets::{new_key_line, Keyring, SecretString};
use threadline_sync_engine::{
    BusyTime, Card, Integration, JobContext, JobError, Localised, SyncJob,
};
use uuid::Uuid;

use support::{csrf_of, Site};

const HOSTILE: &str = "<img src=x onerror=alert(1)>\"'&\u{202e}evil";
const ESCAPED: &str = "&#60;img src=x onerror=alert(1)&#62;&#34;&#39;&#38;\u{202e}evil";
/// The model refuses bidirectional overrides in a record's text: markup only.
const HOSTILE_MARKUP: &str = "<img src=x onerror=alert(1)>\"'&";
const ESCAPED_MARKUP: &str = "&#60;img src=x onerror=alert(1)&#62;&#34;&#39;&#38;";

/// A calendar of this test: each user's busy times, by user id.
#[derive(Default, Clone)]
struct Diary {
    busy: Arc<Mutex<Vec<(Uuid, BusyTime)>>>,
    converted: Arc<Mutex<Vec<Uuid>>>,
    /// The occurrences converted: (series, occurrence).
    occurrences: Arc<Mutex<Vec<(Uuid, String)>>>,
}

struct NoJob;

impl SyncJob for NoJob {
    fn integration(&self) -> &'static str {
        "diary"
    }

    fn run<'a>(&'a self, _ctx: &'a JobContext) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async { Ok(()) })
    }
}

impl Integration for Diary {
    fn name(&self) -> &'static str {
        "diary"
    }

    fn provider(&self) -> Provider {
        Provider::Google
    }

    fn scopes(&self) -> &'static [&'static str] {
        &[]
    }

    fn scopes_label(&self) -> &'static str {
        "your diary"
    }

    fn card(&self) -> Card {
        let same = Localised {
            en: "Diary",
            nl: "Diary",
            de: "Diary",
        };
        Card {
            title: same,
            summary: same,
        }
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(3600)
    }

    fn job(&self) -> Arc<dyn SyncJob> {
        Arc::new(NoJob)
    }

    fn busy_times<'a>(
        &'a self,
        _conn: &'a mut Conn,
        actor: &'a Actor,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Vec<BusyTime>, CrmError>> {
        let mine = self
            .busy
            .lock()
            .unwrap()
            .iter()
            .filter(|(user, _)| *user == actor.user_id)
            .map(|(_, b)| b.clone())
            .filter(|b| b.repeats || (b.start_at.unwrap() < to && b.end_at.unwrap() > from))
            .collect();
        Box::pin(async move { Ok(mine) })
    }

    fn convert_busy<'a>(
        &'a self,
        _db: &'a Db,
        actor: &'a Actor,
        id: Uuid,
        occurrence: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<Uuid>, CrmError>> {
        let mut busy = self.busy.lock().unwrap();
        if let Some(occurrence) = occurrence {
            let mine = busy.iter().any(|(user, b)| {
                *user == actor.user_id && b.id == id && b.occurrence.as_deref() == Some(occurrence)
            });
            if mine {
                busy.retain(|(_, b)| !(b.id == id && b.occurrence.as_deref() == Some(occurrence)));
                self.occurrences
                    .lock()
                    .unwrap()
                    .push((id, occurrence.to_string()));
            }
            let made = mine.then(threadline_storage::db::new_id);
            return Box::pin(async move { Ok(made) });
        }
        let found = busy
            .iter()
            .position(|(user, b)| *user == actor.user_id && b.id == id && b.convertible);
        let made = found.map(|at| {
            busy.remove(at);
            self.converted.lock().unwrap().push(id);
            threadline_storage::db::new_id()
        });
        Box::pin(async move { Ok(made) })
    }
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn busy(title: Option<&str>, start: &str, end: &str) -> BusyTime {
    BusyTime {
        id: threadline_storage::db::new_id(),
        title: title.map(str::to_string),
        start_at: Some(at(start)),
        end_at: Some(at(end)),
        start_date: None,
        end_date: None,
        repeats: false,
        occurrence: None,
        convertible: true,
    }
}

async fn signed_in(db: &Db, email: &str) -> (NewUser, String) {
    let user = accounts::add_user(db, OrgChoice::Default, email, "Someone", &[])
        .await
        .unwrap();
    let session = sessions::create_session(db, user.id, "test", Utc::now())
        .await
        .unwrap();
    (user, format!("threadline={}", session.cookie_value))
}

async fn meeting(db: &Db, user: &NewUser, input: serde_json::Value) -> Uuid {
    let actor = Actor {
        user_id: user.id,
        org_id: user.org_id,
        name: "Someone".into(),
        email: user.email.clone(),
    };
    let valid = Meeting::validate(serde_json::from_value(input).unwrap()).unwrap();
    let id = threadline_storage::db::new_id();
    let (actor, valid) = (&actor, &valid);
    db.write(|tx| Box::pin(async move { Meeting::save(tx, actor, id, Target::New, valid).await }))
        .await
        .unwrap();
    id
}

/// The section of day `date` in the page.
fn day<'p>(page: &'p str, date: &str) -> &'p str {
    let start = page
        .find(&format!(r#"aria-labelledby="d-{date}""#))
        .unwrap_or_else(|| panic!("no day {date}"));
    let rest = &page[start..];
    &rest[..rest.find("</section>").unwrap()]
}

#[tokio::test]
async fn the_week_shows_meetings_and_own_busy_times_on_the_days_of_the_viewers_zone() {
    let diary = Diary::default();
    let shared = diary.clone();
    let site = Site::with_state(move |db| AppState::new(db).with_integration(shared)).await;
    let (ann, cookie) = signed_in(&site.db, "ann@example.com").await;
    let (bob, bob_cookie) = signed_in(&site.db, "bob@example.com").await;

    // Tuesday 8 December 2026, 23:30 UTC: Wednesday morning in Tokyo.
    meeting(
        &site.db,
        &ann,
        serde_json::json!({
            "title": format!("Review {HOSTILE_MARKUP}"),
            "start_at": "2026-12-08T23:30:00Z",
            "end_at": "2026-12-09T00:30:00Z",
            "time_zone": "Asia/Tokyo",
        }),
    )
    .await;
    meeting(
        &site.db,
        &ann,
        serde_json::json!({
            "title": "Offsite",
            "all_day": true,
            "start_date": "2026-12-10",
            "end_date": "2026-12-12",
        }),
    )
    .await;
    // Next week's: not on this week.
    meeting(
        &site.db,
        &ann,
        serde_json::json!({
            "title": "Later",
            "start_at": "2026-12-15T10:00:00Z",
            "end_at": "2026-12-15T11:00:00Z",
            "time_zone": "UTC",
        }),
    )
    .await;
    let dentist = busy(
        Some(&format!("Dentist {HOSTILE}")),
        "2026-12-07T08:00:00Z",
        "2026-12-07T09:00:00Z",
    );
    let private = busy(None, "2026-12-11T14:00:00Z", "2026-12-11T15:00:00Z");
    let bobs = busy(
        Some("Bob's secret"),
        "2026-12-07T10:00:00Z",
        "2026-12-07T11:00:00Z",
    );
    {
        let mut all = diary.busy.lock().unwrap();
        all.push((ann.id, dentist.clone()));
        all.push((ann.id, private.clone()));
        all.push((bob.id, bobs.clone()));
    }

    // In UTC (nobody chose a zone): the review on Tuesday and Wednesday, cut at midnight.
    let page = site.get("/planning?week=2026-12-09", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains(r#"aria-current="page">Planning"#));
    assert!(page.body.contains("Week of Monday 7 December"));
    assert!(day(&page.body, "2026-12-08").contains("23:30–…"));
    assert!(day(&page.body, "2026-12-09").contains("…–00:30"));
    assert!(page.body.contains(r#"value="UTC""#));

    // Ann's zone: Tokyo.
    let csrf = csrf_of(&page.body);
    let set = site
        .post(
            "/planning/time-zone",
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("time_zone", "Asia/Tokyo"),
                ("week", "2026-12-09"),
            ],
        )
        .await;
    assert_eq!(set.location.as_deref(), Some("/planning?week=2026-12-09"));
    let page = site.get("/planning?week=2026-12-09", Some(&cookie)).await;
    let tuesday = day(&page.body, "2026-12-08");
    let wednesday = day(&page.body, "2026-12-09");
    assert!(!tuesday.contains("Review"));
    assert!(wednesday.contains("08:30–09:30") && wednesday.contains("Review"));
    // Escaped, never markup.
    assert!(
        wednesday.contains(&format!("Review {ESCAPED_MARKUP}")),
        "{wednesday}"
    );
    assert!(!page.body.contains("<img src=x"));
    // The all-day offsite on Thursday and Friday, not Saturday.
    assert!(day(&page.body, "2026-12-10").contains("Offsite"));
    assert!(day(&page.body, "2026-12-11").contains("Offsite"));
    assert!(!day(&page.body, "2026-12-12").contains("Offsite"));
    assert!(!page.body.contains("Later"));
    // Her busy times, grey, at Tokyo's hours: 08:00 UTC is 17:00; the private one "Busy".
    let monday = day(&page.body, "2026-12-07");
    assert!(monday.contains(r#"class="busy""#) && monday.contains("17:00–18:00"));
    assert!(monday.contains(&format!("Dentist {ESCAPED}")));
    let friday = day(&page.body, "2026-12-11");
    assert!(friday.contains("23:00–00:00"));
    assert!(
        friday.contains(r#"<span class="item-title">Busy</span>"#),
        "{friday}"
    );
    // Bob's never.
    assert!(!page.body.contains("Bob&#39;s secret"));
    assert!(!page.body.contains(&bobs.id.to_string()));
    // Bob sees his own and the organisation's meetings (in UTC: his zone is not Ann's).
    let page = site
        .get("/planning?week=2026-12-09", Some(&bob_cookie))
        .await;
    assert!(day(&page.body, "2026-12-07").contains("Bob&#39;s secret"));
    assert!(!page.body.contains("Dentist"));
    assert!(day(&page.body, "2026-12-08").contains("23:30–…"));

    // A zone the tz database does not know: refused, said so, the old one kept.
    let refused = site
        .post(
            "/planning/time-zone",
            Some(&cookie),
            &[("csrf", &csrf), ("time_zone", "Mars/Olympus"), ("week", "")],
        )
        .await;
    assert_eq!(
        refused.location.as_deref(),
        Some("/planning?week=&done=time-zone")
    );
    let page = site.get("/planning?done=time-zone", Some(&cookie)).await;
    assert!(page.body.contains("not a time zone name"));
    assert!(page.body.contains(r#"value="Asia/Tokyo""#));

    // With a Google connection: its two-arrows Sync now, which comes back here (nothing to
    // run on a connection without schedules: said so).
    let keys = Keyring::parse(&new_key_line().unwrap(), "test keys").unwrap();
    let owner = Owner {
        org_id: ann.org_id,
        user_id: ann.id,
    };
    let grant = Grant {
        provider: Provider::Google,
        account_id: "g-ann".into(),
        account_email: None,
        scopes: vec![],
        access_token: SecretString::from("ya29.access".to_string()),
        refresh_token: None,
        access_token_expires_at: None,
    };
    let (keys, grant) = (&keys, &grant);
    let connection = site
        .db
        .write(|tx| Box::pin(async move { connections::upsert(tx, keys, owner, grant).await }))
        .await
        .unwrap()
        .connection;
    let page = site.get("/planning", Some(&cookie)).await;
    let sync = format!("/integrations/{}/sync", connection.id);
    assert!(page.body.contains(&sync) && page.body.contains("Sync now (Google)"));
    let back = [("csrf", csrf.as_str()), ("back", "planning")];
    let answer = site.post(&sync, Some(&cookie), &back).await;
    assert_eq!(answer.location.as_deref(), Some("/planning?done=nothing"));
    let page = site.get("/planning?done=nothing", Some(&cookie)).await;
    assert!(page.body.contains("Nothing to sync now"));
    // Bob has no connection: no button, and what to do.
    let page = site.get("/planning", Some(&bob_cookie)).await;
    assert!(!page.body.contains(&sync));
    assert!(page.body.contains("No calendar is connected"));

    // Previous and next weeks are links.
    let page = site.get("/planning?week=2026-12-09", Some(&cookie)).await;
    assert!(page
        .body
        .contains(r#"href="/planning?view=week&amp;week=2026-11-30""#));
    assert!(page
        .body
        .contains(r#"href="/planning?view=week&amp;week=2026-12-14""#));

    // The day and the month: the same placing in Ann's zone.
    let page = site
        .get("/planning?view=day&week=2026-12-09", Some(&cookie))
        .await;
    assert!(day(&page.body, "2026-12-09").contains("08:30–09:30"));
    assert!(!page.body.contains(r#"aria-labelledby="d-2026-12-08""#));
    assert!(page.body.contains(r#"aria-current="page">Day"#));
    let page = site
        .get("/planning?view=month&week=2026-12-09", Some(&cookie))
        .await;
    assert!(page.body.contains("December 2026"));
    assert!(day(&page.body, "2026-12-15").contains("Later"));
    assert!(day(&page.body, "2026-12-09").contains("Review"));
    assert!(page.body.contains(r#"aria-labelledby="d-2026-11-30""#));
    assert!(page.body.contains(r#"class="day outside""#));
}

#[tokio::test]
async fn a_busy_time_converts_into_a_meeting_only_for_its_owner() {
    let diary = Diary::default();
    let shared = diary.clone();
    let site = Site::with_state(move |db| AppState::new(db).with_integration(shared)).await;
    let (ann, cookie) = signed_in(&site.db, "ann@example.com").await;
    let (_bob, bob_cookie) = signed_in(&site.db, "bob@example.com").await;
    let block = busy(Some("Call"), "2026-12-07T08:00:00Z", "2026-12-07T09:00:00Z");
    diary.busy.lock().unwrap().push((ann.id, block.clone()));
    let page = site.get("/planning?week=2026-12-07", Some(&cookie)).await;
    let action = format!("/planning/busy/{}/convert", block.id);
    assert!(page.body.contains(&action));
    let csrf = csrf_of(&page.body);

    // Bob cannot convert Ann's: 404, as a missing one.
    let bob_csrf = csrf_of(&site.get("/planning", Some(&bob_cookie)).await.body);
    let refused = site
        .post(&action, Some(&bob_cookie), &[("csrf", &bob_csrf)])
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    // Without the CSRF token: refused.
    let forged = site.post(&action, Some(&cookie), &[("csrf", "x")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(diary.converted.lock().unwrap().is_empty());

    let done = site
        .post(
            &action,
            Some(&cookie),
            &[("csrf", &csrf), ("week", "2026-12-07")],
        )
        .await;
    assert_eq!(
        done.location.as_deref(),
        Some("/planning?week=2026-12-07&done=converted")
    );
    assert_eq!(*diary.converted.lock().unwrap(), vec![block.id]);
    let page = site
        .get("/planning?week=2026-12-07&done=converted", Some(&cookie))
        .await;
    assert!(page.body.contains("is a meeting now"));
}

#[tokio::test]
async fn an_occurrence_of_a_series_is_on_its_day_marked_and_converts_alone() {
    let diary = Diary::default();
    let shared = diary.clone();
    let site = Site::with_state(move |db| AppState::new(db).with_integration(shared)).await;
    let (ann, cookie) = signed_in(&site.db, "ann@example.com").await;
    // Two occurrences of one series (the same id), Monday and Wednesday, a hostile title.
    let series = threadline_storage::db::new_id();
    let occurrence = |start: &str, end: &str| BusyTime {
        id: series,
        repeats: true,
        occurrence: Some(start.to_string()),
        ..busy(Some(HOSTILE), start, end)
    };
    let monday = occurrence("2026-12-07T08:00:00Z", "2026-12-07T08:15:00Z");
    let wednesday = occurrence("2026-12-09T08:00:00Z", "2026-12-09T08:15:00Z");
    diary
        .busy
        .lock()
        .unwrap()
        .extend([(ann.id, monday), (ann.id, wednesday)]);

    let page = site.get("/planning?week=2026-12-07", Some(&cookie)).await;
    for date in ["2026-12-07", "2026-12-09"] {
        let on = day(&page.body, date);
        assert!(on.contains(ESCAPED) && on.contains("08:00–08:15"), "{on}");
        assert!(on.contains(r#"<span aria-hidden="true">↻</span> repeating"#));
        let hidden = format!(r#"name="occurrence" value="{date}T08:00:00Z""#);
        assert!(on.contains(&hidden), "{on}");
    }
    assert!(!page.body.contains(HOSTILE));
    assert!(!day(&page.body, "2026-12-08").contains(ESCAPED));
    // No "repeating" list: each occurrence is on its day.
    assert!(!page.body.contains("Repeating busy times"));

    // Converting Wednesday's sends its name; Monday's stays.
    let csrf = csrf_of(&page.body);
    let action = format!("/planning/busy/{series}/convert");
    let form = [
        ("csrf", csrf.as_str()),
        ("week", "2026-12-07"),
        ("occurrence", "2026-12-09T08:00:00Z"),
    ];
    let done = site.post(&action, Some(&cookie), &form).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(
        *diary.occurrences.lock().unwrap(),
        vec![(series, "2026-12-09T08:00:00Z".to_string())]
    );
    assert!(diary.converted.lock().unwrap().is_empty());
    let page = site.get("/planning?week=2026-12-07", Some(&cookie)).await;
    assert!(day(&page.body, "2026-12-07").contains(ESCAPED));
    assert!(!day(&page.body, "2026-12-09").contains(ESCAPED));
}

#[test]
fn weeks_start_on_monday() {
    let d = NaiveDate::from_ymd_opt(2026, 12, 13).unwrap();
    assert_eq!(
        threadline_web::pages::planning::monday_of(d),
        NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()
    );
}
