//! The lookup benchmark: `clients` concurrent loops, each sending one batch after another
//! for a warm-up and then a measured window, either to the server over HTTP
//! ([`HttpLookup`]) or as the endpoint's own SQL queries on the same database
//! ([`RawLookup`]: what `POST /api/v1/lookup` does minus HTTP, JSON, auth and the
//! verdicts). Latency is measured per request, from send to the last byte of the answer.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use serde::Serialize;
use threadline_domain::api::{LookupResponse, MatchStatus};
use threadline_server::db::{Db, Sql};
use threadline_server::store::{ContactRow, CONTACT_COLUMNS, CONTACT_JOINS};

use crate::stats::Summary;
use crate::workload::Batch;

/// One way of doing a lookup. `worker` is the client's number (each has its own
/// connection).
pub trait Lookup: Send + Sync + 'static {
    fn call<'a>(&'a self, worker: usize, batch: &'a Batch) -> BoxFuture<'a, Result<(), String>>;
}

/// How long and how hard.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Load {
    pub clients: usize,
    pub warmup: Duration,
    pub measure: Duration,
}

/// Runs `lookup` under `load`, cycling through `batches`. Also returns how many lookups
/// were done in all, warm-up included (to share out CPU time measured over the whole run).
pub async fn run(
    lookup: Arc<dyn Lookup>,
    batches: Arc<Vec<Batch>>,
    load: Load,
) -> (Summary, usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let measure_from = start + load.warmup;
    let end = measure_from + load.measure;
    let tasks: Vec<_> = (0..load.clients)
        .map(|worker| {
            let (lookup, batches, next) = (lookup.clone(), batches.clone(), next.clone());
            tokio::spawn(async move {
                let mut latencies_us = Vec::new();
                let mut errors = Vec::new();
                let mut all = 0usize;
                loop {
                    let sent = Instant::now();
                    if sent >= end {
                        break;
                    }
                    let batch = &batches[next.fetch_add(1, Ordering::Relaxed) % batches.len()];
                    let result = lookup.call(worker, batch).await;
                    let done = Instant::now();
                    all += 1;
                    // Requests sent during the warm-up are not counted, nor those that end
                    // after the window.
                    if sent >= measure_from && done <= end {
                        match result {
                            Ok(()) => latencies_us.push((done - sent).as_micros() as u64),
                            Err(e) => errors.push(e),
                        }
                    }
                }
                (latencies_us, errors, all)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = Vec::new();
    let mut all = 0;
    for task in tasks {
        let (l, e, n) = task.await.expect("a load task panicked");
        latencies.extend(l);
        errors.extend(e);
        all += n;
    }
    (Summary::of(latencies, errors, load.measure), all)
}

/// `POST /api/v1/lookup` over HTTP/1.1 keep-alive, one connection per client.
pub struct HttpLookup {
    clients: Vec<reqwest::Client>,
    url: String,
    authorization: String,
}

impl HttpLookup {
    pub fn new(base_url: &str, token: &str, clients: usize) -> HttpLookup {
        HttpLookup {
            clients: (0..clients)
                .map(|_| {
                    reqwest::Client::builder()
                        .pool_max_idle_per_host(1)
                        .build()
                        .expect("an HTTP client")
                })
                .collect(),
            url: format!("{}/api/v1/lookup", base_url.trim_end_matches('/')),
            authorization: format!("Bearer {token}"),
        }
    }

    /// One lookup, its answer parsed (for checks, not for timing).
    pub async fn answer(&self, batch: &Batch) -> Result<LookupResponse, String> {
        let body = self.send(0, batch).await?;
        serde_json::from_slice(&body).map_err(|e| format!("the lookup answer is not JSON: {e}"))
    }

    async fn send(&self, worker: usize, batch: &Batch) -> Result<bytes::Bytes, String> {
        let response = self.clients[worker % self.clients.len()]
            .post(&self.url)
            .header(reqwest::header::AUTHORIZATION, &self.authorization)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(batch.body.clone())
            .send()
            .await
            .map_err(|e| format!("POST {}: {e}", self.url))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("reading the lookup answer: {e}"))?;
        if status != reqwest::StatusCode::OK {
            return Err(format!(
                "POST {} answered {status}: {}",
                self.url,
                String::from_utf8_lossy(&body)
            ));
        }
        Ok(body)
    }
}

impl Lookup for HttpLookup {
    fn call<'a>(&'a self, worker: usize, batch: &'a Batch) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { self.send(worker, batch).await.map(drop) })
    }
}

/// The lookup endpoint's queries (`src/routes/lookup.rs`), straight on the database through
/// a pool made like the server's ([`Db::open`]: the same size and settings): the user's own
/// keys, the candidates by match key, the companies by domain. The keys and domains are
/// computed before the run.
pub struct RawLookup {
    db: Db,
    org_id: String,
    user_id: String,
}

#[derive(sqlx::FromRow)]
struct CandidateRow {
    match_key: String,
    #[sqlx(flatten)]
    contact: ContactRow,
}

#[derive(sqlx::FromRow)]
#[allow(dead_code)] // Read like the endpoint reads it; only the count is used.
struct CompanyRow {
    id: String,
    name: String,
    domain: String,
}

impl RawLookup {
    pub fn new(db: Db, org_id: uuid::Uuid, user_id: uuid::Uuid) -> RawLookup {
        RawLookup {
            db,
            org_id: org_id.to_string(),
            user_id: user_id.to_string(),
        }
    }

    /// The candidates' contact ids by match key, and the number of companies found.
    pub async fn query(
        &self,
        batch: &Batch,
    ) -> Result<(HashMap<String, BTreeSet<String>>, usize), sqlx::Error> {
        let mut conn = self.db.pool().acquire().await?;
        // The privacy rules, read as the endpoint reads them (crm::privacy::rules_of): own
        // addresses with the connected Google accounts', the never-log entries (the user's
        // and the organisation's), the internal domains (configured, else derived from the
        // users' addresses).
        let _own: Vec<String> = sqlx::query_scalar(
            "SELECT address FROM user_addresses WHERE user_id = $1 ORDER BY position",
        )
        .bind(&self.user_id)
        .fetch_all(&mut *conn)
        .await?;
        let _connected: Vec<String> = sqlx::query_scalar(
            "SELECT account_email FROM connections
             WHERE user_id = $1 AND provider = 'google' AND status <> 'disconnected'
               AND account_email IS NOT NULL ORDER BY created_at, id",
        )
        .bind(&self.user_id)
        .fetch_all(&mut *conn)
        .await?;
        let _never_log: Vec<(String, String)> = sqlx::query_as(
            "SELECT kind, value FROM never_log_entries
             WHERE org_id = $1 AND (user_id IS NULL OR user_id = $2)",
        )
        .bind(&self.org_id)
        .bind(&self.user_id)
        .fetch_all(&mut *conn)
        .await?;
        let configured: Option<i64> = sqlx::query_scalar(
            "SELECT internal_domains_configured FROM organisations WHERE id = $1",
        )
        .bind(&self.org_id)
        .fetch_optional(&mut *conn)
        .await?;
        let _internal: Vec<String> = if configured.unwrap_or(0) != 0 {
            sqlx::query_scalar(
                "SELECT domain FROM organisation_domains WHERE org_id = $1 ORDER BY domain",
            )
            .bind(&self.org_id)
            .fetch_all(&mut *conn)
            .await?
        } else {
            sqlx::query_scalar(
                "SELECT a.address FROM user_addresses a JOIN users u ON u.id = a.user_id
                 WHERE u.org_id = $1",
            )
            .bind(&self.org_id)
            .fetch_all(&mut *conn)
            .await?
        };
        let mut by_key: HashMap<String, BTreeSet<String>> = HashMap::new();
        if !batch.keys.is_empty() {
            let mut sql = Sql::new(format!(
                "SELECT ce.match_key, {CONTACT_COLUMNS}
                 FROM contact_emails ce JOIN contacts c ON c.id = ce.contact_id {CONTACT_JOINS}
                 WHERE ce.org_id = "
            ));
            sql.push_bind(self.org_id.clone())
                .push(" AND ce.match_key IN ")
                .push_list(batch.keys.iter().cloned())
                .push(" AND c.deleted_at IS NULL");
            let rows: Vec<CandidateRow> = sql.build_query_as().fetch_all(&mut *conn).await?;
            for row in rows {
                by_key
                    .entry(row.match_key)
                    .or_default()
                    .insert(row.contact.id);
            }
        }
        let mut companies = 0;
        if !batch.domains.is_empty() {
            let mut sql = Sql::new(
                "SELECT c.id, c.name, d.domain FROM company_domains d JOIN companies c ON c.id = d.company_id
                 WHERE d.org_id = ",
            );
            sql.push_bind(self.org_id.clone())
                .push(" AND d.domain IN ")
                .push_list(batch.domains.iter().cloned())
                .push(" AND c.deleted_at IS NULL ORDER BY c.created_at, c.id");
            let rows: Vec<CompanyRow> = sql.build_query_as().fetch_all(&mut *conn).await?;
            companies = rows.len();
        }
        Ok((by_key, companies))
    }
}

impl Lookup for RawLookup {
    fn call<'a>(&'a self, _worker: usize, batch: &'a Batch) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { self.query(batch).await.map(drop).map_err(|e| e.to_string()) })
    }
}

/// What the verdicts of some batches looked like.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Verdicts {
    pub known: usize,
    pub ambiguous: usize,
    pub unknown: usize,
    pub own: usize,
    pub unknown_with_existing_company: usize,
}

/// Checks that the raw queries and the API find the same contacts for `batches` (so that
/// the two sides of the benchmark do the same work), and counts the API's verdicts.
pub async fn check_same_answers(
    http: &HttpLookup,
    raw: &RawLookup,
    batches: &[Batch],
) -> Result<Verdicts, String> {
    let mut verdicts = Verdicts::default();
    for (n, batch) in batches.iter().enumerate() {
        let answer = http.answer(batch).await?;
        let mut api_ids = BTreeSet::new();
        for result in &answer.results {
            match result.status {
                MatchStatus::Known => verdicts.known += 1,
                MatchStatus::Ambiguous => verdicts.ambiguous += 1,
                MatchStatus::Unknown => verdicts.unknown += 1,
                MatchStatus::Own => verdicts.own += 1,
                MatchStatus::Invalid => {
                    return Err(format!(
                        "batch {n}: {} is invalid: {result:?}",
                        result.address
                    ))
                }
                // The benchmark's organisation has no never-log entries, and its contacts
                // are on other domains than its users': the raw side does not model them.
                MatchStatus::NeverLog | MatchStatus::Colleague => {
                    return Err(format!(
                        "batch {n}: {} is {:?}, which the raw lookup does not model: \
                         {result:?}",
                        result.address, result.status
                    ))
                }
            }
            if result
                .suggested_company
                .as_ref()
                .is_some_and(|s| s.existing.is_some())
            {
                verdicts.unknown_with_existing_company += 1;
            }
            api_ids.extend(
                result
                    .contacts
                    .iter()
                    .chain(&result.suggestions)
                    .map(|c| c.id.to_string()),
            );
        }
        let (by_key, _) = raw.query(batch).await.map_err(|e| e.to_string())?;
        let raw_ids: BTreeSet<String> = by_key.into_values().flatten().collect();
        if api_ids != raw_ids {
            return Err(format!(
                "batch {n}: the API matched contacts {api_ids:?}, the raw queries {raw_ids:?}"
            ));
        }
    }
    Ok(verdicts)
}
