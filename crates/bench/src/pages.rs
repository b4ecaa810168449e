//! The web app's pages on the seeded data set (issue 11, "Performance"): the contacts list,
//! a search that finds contacts and one that finds none, and a company's page with a
//! 1,000-entry timeline — each as a signed-in browser gets it over HTTP from the release
//! server, and side by side, request by request, as **raw**: the same calls into the CRM
//! model that the page's handler makes (the session lookup by its cookie, then the list, or
//! the record with its contacts, projects, timeline page and tasks), in the same read
//! transactions, on a connection of our own to the same database — no HTTP, no template.
//! So `page ÷ raw` is what the web layer adds to the model's database work (goal ≤ 2).
//!
//! - [`prepare`]: on a seeded database (reused as it is when already prepared): a
//!   password for the bench's owner, and the timeline company — a company, a contact of it
//!   and [`TimelinePlan::entries`] emails tracked through the model (`tracking::track`).
//! - [`sign_in`]: `POST /sign-in` with that password, as a browser does; the session cookie.
//! - [`measure`]: for each page, a warm-up, then raw and HTTP alternately, one request each
//!   (so that a busy machine slows both alike); p50/p95 of each.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;
use threadline_crm::accounts::{passwords, sessions};
use threadline_crm::actor::{self, Actor};
use threadline_crm::records::companies::{Company, ValidCompany};
use threadline_crm::records::contacts::Contact;
use threadline_crm::records::list::{self, ListParams, Sort};
use threadline_crm::records::projects::Project;
use threadline_crm::records::{
    self as model_records, edit, tasks, tracked_emails, Editable, Kind, Record,
};
use threadline_crm::tracking;
use threadline_domain::api::{Direction, Party, TrackEmailRequest};
use threadline_storage::db::{id_text, parse_uuid, Db, Engine};
use uuid::Uuid;

use crate::dataset::Dataset;
use crate::seed::OWNER_EMAIL;
use crate::stats::percentile;

/// The bench owner's web password (set by [`prepare`]).
pub const PASSWORD: &str = "bench-pages-password-0";
/// The timeline company's domain, and its contact's address.
pub const TIMELINE_DOMAIN: &str = "timeline-bench.example";
pub const TIMELINE_CONTACT: &str = "pat.timeline@timeline-bench.example";
/// What the pages show, as the web app's `records.rs` asks the model for it.
const LIST_PAGE: u32 = 25;
const LINKED: u32 = 20;
const TIMELINE_PAGE: u32 = 20;
const TASKS: i64 = 50;
/// The session cookie's name over plain HTTP.
const COOKIE: &str = "threadline";

#[derive(Debug, Clone, Copy)]
pub struct TimelinePlan {
    /// Emails tracked onto the timeline company.
    pub entries: usize,
}

/// What the pages are measured on.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub actor: Actor,
    pub company_id: Uuid,
    /// Entries on the company's timeline.
    pub timeline_entries: usize,
    /// A last name the dataset gave some contacts: a search that finds them.
    pub hit: String,
    /// A search that finds no one.
    pub miss: String,
}

/// Prepares a seeded database (see the module's documentation); what it already has is
/// kept, so that a prepared database can be measured again and again.
pub async fn prepare(
    db: &Db,
    data: &Dataset,
    plan: TimelinePlan,
    progress: &dyn Fn(&str),
) -> Result<Prepared, String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let mut conn = db.pool().acquire().await.map_err(|x| e(&x))?;
    let user_id = threadline_crm::accounts::user_id_by_email(&mut conn, OWNER_EMAIL)
        .await
        .map_err(|x| e(&x))?;
    let actor = actor::of_user(&mut conn, user_id)
        .await
        .map_err(|x| e(&x))?
        .ok_or("the bench owner vanished")?;
    drop(conn);
    passwords::set_password(db, user_id, PASSWORD, chrono::Utc::now())
        .await
        .map_err(|x| e(&x))?;

    let found: Option<String> = sqlx::query_scalar(
        "SELECT company_id FROM company_domains WHERE org_id = $1 AND domain = $2",
    )
    .bind(id_text(actor.org_id))
    .bind(TIMELINE_DOMAIN)
    .fetch_optional(db.pool())
    .await
    .map_err(|x| e(&x))?;
    let company_id = match found {
        Some(id) => parse_uuid(&id).map_err(|x| e(&x))?,
        None => {
            let valid = ValidCompany::named("Timeline Bench Ltd", Some(TIMELINE_DOMAIN));
            let company: Company = model_records::create(db, &actor, &valid)
                .await
                .map_err(|x| e(&x))?;
            let input = serde_json::from_value(json!({
                "first_name": "Pat",
                "last_name": "Timeline",
                "emails": [TIMELINE_CONTACT],
                "company_id": company.id,
            }))
            .map_err(|x| e(&x))?;
            let valid = Contact::validate(input).map_err(|x| e(&x))?;
            model_records::create::<Contact>(db, &actor, &valid)
                .await
                .map_err(|x| e(&x))?;
            company.id
        }
    };
    let contact_id: String = sqlx::query_scalar(
        "SELECT contact_id FROM contact_emails WHERE org_id = $1 AND address = $2",
    )
    .bind(id_text(actor.org_id))
    .bind(TIMELINE_CONTACT)
    .fetch_one(db.pool())
    .await
    .map_err(|x| e(&x))?;
    let contact_id = parse_uuid(&contact_id).map_err(|x| e(&x))?;
    let on_timeline = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM tracked_email_links WHERE record_kind = 'company' \
             AND record_id = $1",
        )
        .bind(id_text(company_id))
        .fetch_one(db.pool())
        .await
        .map(|n| n as usize)
        .map_err(|x| e(&x))
    };
    let had = on_timeline().await?;
    let started = Instant::now();
    for i in had..plan.entries {
        tracking::track(db, &actor, &timeline_email(&actor, i, contact_id)?)
            .await
            .map_err(|x| e(&x))?;
    }
    let timeline_entries = on_timeline().await?;
    if timeline_entries > had {
        progress(&format!(
            "{} emails tracked onto the timeline company in {:.1} s",
            timeline_entries - had,
            started.elapsed().as_secs_f64()
        ));
    }
    Ok(Prepared {
        actor,
        company_id,
        timeline_entries,
        hit: (data.contacts / 2..data.contacts)
            .map(|i| data.contact(i))
            .find(|c| c.deleted_at.is_none())
            .ok_or("no live contact in the second half of the data set")?
            .last_name,
        miss: "Zqxjv-no-such-name".into(),
    })
}

/// The `i`th email tracked onto the timeline company: from its contact to the owner, a day
/// apart, every third one private.
fn timeline_email(actor: &Actor, i: usize, contact: Uuid) -> Result<tracking::TrackInput, String> {
    let sent = chrono::DateTime::parse_from_rfc3339("2026-01-01T09:00:00Z")
        .expect("a date")
        .with_timezone(&chrono::Utc)
        - chrono::Duration::hours(i as i64 * 7);
    tracking::validate(TrackEmailRequest {
        gmail_message_id: format!("{:016x}", 0x18c0_0000_0000_0000u64 + i as u64),
        alt_message_ids: Vec::new(),
        gmail_thread_id: None,
        rfc_message_id: None,
        direction: Direction::Incoming,
        from: Some(Party {
            address: TIMELINE_CONTACT.into(),
            name: Some("Pat Timeline".into()),
        }),
        to: vec![Party {
            address: actor.email.clone(),
            name: None,
        }],
        cc: Vec::new(),
        subject: format!("Order {i}: delivery and invoice"),
        sent_at: Some(sent),
        body_text: Some(format!("Hello, about order {i}.")),
        contact_ids: vec![contact],
        html_body: None,
        visibility: Some(if i % 3 == 0 {
            tracked_emails::Visibility::Private
        } else {
            tracked_emails::Visibility::Shared
        }),
        insist: false,
    })
    .map_err(|e| e.to_string())
}

/// Signs in over HTTP as a browser does (`POST /sign-in`); the session cookie's value.
pub async fn sign_in(client: &reqwest::Client, base_url: &str) -> Result<String, String> {
    let response = client
        .post(format!("{base_url}/sign-in"))
        .form(&[
            ("email", OWNER_EMAIL),
            ("password", PASSWORD),
            ("next", "/"),
        ])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{COOKIE}=")))
        .and_then(|c| c.split(';').next())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .ok_or_else(|| format!("sign-in answered {status} without a session cookie"))
}

/// One of the measured pages.
#[derive(Debug, Clone)]
pub enum Page {
    /// `GET /contacts`: the first page, by name (the page's default sort).
    Contacts,
    /// `GET /contacts?q=`.
    Search(String),
    /// `GET /companies/{id}`.
    Company(Uuid),
}

impl Page {
    /// The page's path (a search's `q` goes in the query string).
    pub fn path(&self) -> String {
        match self {
            Page::Contacts | Page::Search(_) => "/contacts".into(),
            Page::Company(id) => format!("/companies/{id}"),
        }
    }

    fn query(&self) -> Vec<(&'static str, &str)> {
        match self {
            Page::Search(q) => vec![("q", q.as_str())],
            Page::Contacts | Page::Company(_) => Vec::new(),
        }
    }

    /// The pages of [`measure`], named for the report.
    pub fn all(p: &Prepared) -> Vec<(String, Page)> {
        vec![
            ("contacts list".into(), Page::Contacts),
            ("search, hit".into(), Page::Search(p.hit.clone())),
            ("search, miss".into(), Page::Search(p.miss.clone())),
            (
                format!("company, {} timeline entries", p.timeline_entries),
                Page::Company(p.company_id),
            ),
        ]
    }

    /// The page's model calls, as its handler makes them; the ids of the records it shows
    /// (the list's rows; the company's contacts, projects and timeline entries).
    pub async fn raw(&self, db: &Db, cookie: &str) -> Result<Vec<Uuid>, String> {
        let e = |e: &dyn std::fmt::Display| e.to_string();
        let session = sessions::session(db, cookie, chrono::Utc::now())
            .await
            .map_err(|x| e(&x))?
            .ok_or("no such session")?;
        let actor = &session.actor;
        let org = actor.org_id;
        match self {
            Page::Contacts | Page::Search(_) => {
                let params = ListParams {
                    limit: Some(LIST_PAGE),
                    q: Some(match self {
                        Page::Search(q) => q.clone(),
                        _ => String::new(),
                    }),
                    sort: Sort::Name,
                    ..ListParams::default()
                };
                let mut tx = db.begin_read().await.map_err(|x| e(&x))?;
                let page = list::list::<Contact>(&mut tx, org, &params)
                    .await
                    .map_err(|x| e(&x))?;
                tx.commit().await.map_err(|x| e(&x))?;
                Ok(page.items.iter().map(|c| c.id()).collect())
            }
            Page::Company(id) => {
                let mut tx = db.begin_read().await.map_err(|x| e(&x))?;
                let company = edit::get::<Company>(&mut tx, org, *id)
                    .await
                    .map_err(|x| e(&x))?;
                tx.commit().await.map_err(|x| e(&x))?;
                let mut tx = db.begin_read().await.map_err(|x| e(&x))?;
                let members = ListParams {
                    limit: Some(LINKED),
                    sort: Sort::Name,
                    company: Some(company.id),
                    ..ListParams::default()
                };
                let contacts = list::list::<Contact>(&mut tx, org, &members)
                    .await
                    .map_err(|x| e(&x))?;
                let projects = list::list::<Project>(&mut tx, org, &members)
                    .await
                    .map_err(|x| e(&x))?;
                let timeline = tracked_emails::timeline(
                    &mut tx,
                    actor,
                    Some((Kind::Company, company.id)),
                    None,
                    false,
                    TIMELINE_PAGE,
                )
                .await
                .map_err(|x| e(&x))?;
                tasks::linked_to(&mut tx, actor, Kind::Company, company.id, TASKS)
                    .await
                    .map_err(|x| e(&x))?;
                tx.commit().await.map_err(|x| e(&x))?;
                let mut ids: Vec<Uuid> = contacts.items.iter().map(|c| c.id()).collect();
                ids.extend(projects.items.iter().map(|p| p.id()));
                ids.extend(timeline.entries.iter().map(|t| t.id));
                Ok(ids)
            }
        }
    }

    /// The page over HTTP, read to its last byte; its HTML.
    pub async fn http(
        &self,
        client: &reqwest::Client,
        base_url: &str,
        cookie: &str,
    ) -> Result<String, String> {
        let response = client
            .get(format!("{base_url}{}", self.path()))
            .query(&self.query())
            .header(reqwest::header::COOKIE, format!("{COOKIE}={cookie}"))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.text().await.map_err(|e| e.to_string())?;
        if status != reqwest::StatusCode::OK {
            return Err(format!("{} answered {status}", self.path()));
        }
        Ok(body)
    }
}

/// How long each page is measured.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PageLoad {
    /// Unmeasured pairs first (caches, connections, the server's plans).
    pub warmup: usize,
    /// Measured pairs (raw, then HTTP), at most.
    pub requests: usize,
    /// … and at most this long per page (at least 5 pairs).
    #[serde(skip)]
    pub budget: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub requests: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    fn of(mut us: Vec<u64>) -> Latency {
        us.sort_unstable();
        let ms = |v: u64| v as f64 / 1000.0;
        Latency {
            requests: us.len(),
            p50_ms: ms(percentile(&us, 50.0)),
            p95_ms: ms(percentile(&us, 95.0)),
            max_ms: ms(us.last().copied().unwrap_or(0)),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PageReport {
    pub page: String,
    pub path: String,
    /// Records shown (raw's count; the HTML links to each of them).
    pub shown: usize,
    pub html_bytes: usize,
    pub raw: Latency,
    pub http: Latency,
    /// HTTP p50 ÷ raw p50, and the same at p95 (goal ≤ 2).
    pub ratio_p50: f64,
    pub ratio_p95: f64,
}

/// Each page of [`Page::all`]: checked (every record the model gives is linked from the
/// HTML), then measured (see the module's documentation).
pub async fn measure(
    db: &Db,
    base_url: &str,
    prepared: &Prepared,
    load: PageLoad,
    progress: &dyn Fn(&str),
) -> Result<Vec<PageReport>, String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let cookie = sign_in(&client, base_url).await?;
    let mut reports = Vec::new();
    for (name, page) in Page::all(prepared) {
        let shown = page.raw(db, &cookie).await?;
        let html = page.http(&client, base_url, &cookie).await?;
        if let Some(missing) = shown.iter().find(|id| !html.contains(&id.to_string())) {
            return Err(format!(
                "{name}: the model shows {missing}, the page does not"
            ));
        }
        let expect_some = !matches!(&page, Page::Search(q) if *q == prepared.miss);
        if shown.is_empty() == expect_some {
            return Err(format!("{name}: {} records shown", shown.len()));
        }
        for _ in 0..load.warmup {
            page.raw(db, &cookie).await?;
            page.http(&client, base_url, &cookie).await?;
        }
        let (mut raw, mut http) = (Vec::new(), Vec::new());
        let started = Instant::now();
        while raw.len() < load.requests && (raw.len() < 5 || started.elapsed() < load.budget) {
            let t = Instant::now();
            page.raw(db, &cookie).await?;
            raw.push(t.elapsed().as_micros() as u64);
            let t = Instant::now();
            page.http(&client, base_url, &cookie).await?;
            http.push(t.elapsed().as_micros() as u64);
        }
        let (raw, http) = (Latency::of(raw), Latency::of(http));
        let report = PageReport {
            path: match &page {
                Page::Search(q) => format!("{}?q={q}", page.path()),
                _ => page.path(),
            },
            page: name,
            shown: shown.len(),
            html_bytes: html.len(),
            ratio_p50: http.p50_ms / raw.p50_ms,
            ratio_p95: http.p95_ms / raw.p95_ms,
            raw,
            http,
        };
        progress(&format!(
            "page {}: raw p50 {:.2} / p95 {:.2} ms, HTTP p50 {:.2} / p95 {:.2} ms, ratio {:.2}× / {:.2}× ({} pairs)",
            report.page,
            report.raw.p50_ms,
            report.raw.p95_ms,
            report.http.p50_ms,
            report.http.p95_ms,
            report.ratio_p50,
            report.ratio_p95,
            report.raw.requests
        ));
        reports.push(report);
    }
    Ok(reports)
}

/// The pages' figures as a Markdown table.
pub fn markdown(engine: &str, reports: &[PageReport]) -> String {
    let mut out = String::new();
    for r in reports {
        out.push_str(&format!(
            "| {engine} | {} | {} | {:.2} / {:.2} ms | {:.2} / {:.2} ms | **{:.2}×** / {:.2}× | {} | {:.0} kB |\n",
            r.page,
            r.raw.requests,
            r.raw.p50_ms,
            r.raw.p95_ms,
            r.http.p50_ms,
            r.http.p95_ms,
            r.ratio_p50,
            r.ratio_p95,
            r.shown,
            r.html_bytes as f64 / 1000.0,
        ));
    }
    out
}

/// The table's header for [`markdown`]'s rows.
pub const MARKDOWN_HEADER: &str = "| engine | page | pairs | raw p50 / p95 | page p50 / p95 | page ÷ raw (p50 / p95) | records shown | HTML |\n|---|---|---:|---:|---:|---:|---:|---:|\n";

/// An index's definition as the engine keeps it (`CREATE INDEX …`), to drop it for a
/// measurement without it and make it again afterwards; `None` when there is no such index.
pub async fn index_definition(db: &Db, name: &str) -> Result<Option<String>, String> {
    let sql = match db.engine() {
        Engine::Sqlite => "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = $1",
        Engine::Postgres => "SELECT indexdef FROM pg_indexes WHERE indexname = $1",
    };
    sqlx::query_scalar(sql)
        .bind(name)
        .fetch_optional(db.pool())
        .await
        .map_err(|e| e.to_string())
}

/// Runs `statements` one by one (outside the model: the benchmark's own schema changes).
pub async fn execute_all(db: &Db, statements: &[String]) -> Result<(), String> {
    for statement in statements {
        sqlx::query(statement)
            .execute(db.pool())
            .await
            .map_err(|e| format!("{statement}: {e}"))?;
    }
    if db.engine() == Engine::Postgres {
        sqlx::query("ANALYZE")
            .execute(db.pool())
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// [`measure`] without the indexes `without` (dropped, then made again from their own
/// definitions, also when the measurement fails), then with them: before and after, on the
/// same data and the same server. An index that is not there is named in the error.
pub async fn measure_without_and_with(
    db: &Db,
    base_url: &str,
    prepared: &Prepared,
    load: PageLoad,
    without: &[String],
    progress: &dyn Fn(&str),
) -> Result<(Vec<PageReport>, Vec<PageReport>), String> {
    let mut definitions = Vec::new();
    for name in without {
        definitions.push(
            index_definition(db, name)
                .await?
                .ok_or_else(|| format!("there is no index {name}"))?,
        );
    }
    let drops: Vec<String> = without.iter().map(|n| format!("DROP INDEX {n}")).collect();
    progress(&format!("without {}", without.join(", ")));
    execute_all(db, &drops).await?;
    let before = measure(db, base_url, prepared, load, progress).await;
    let started = Instant::now();
    execute_all(db, &definitions).await?;
    progress(&format!(
        "indexes made again in {:.1} s; with them:",
        started.elapsed().as_secs_f64()
    ));
    let before = before?;
    let after = measure(db, base_url, prepared, load, progress).await?;
    Ok((before, after))
}
