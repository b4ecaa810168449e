//! `POST /api/v1/lookup`: which contact each address of a thread belongs to.
//!
//! A fixed number of queries whatever the batch: the privacy rules (own addresses with the
//! connected Google accounts', the never-log entries, the internal domains:
//! `threadline_crm::privacy::rules_of`), every candidate
//! contact for every key at once (one query on `contact_emails (org_id, match_key)`), and
//! the companies of every candidate domain at once. The verdicts come from
//! [`threadline_domain::matching::resolve`].

use std::collections::{BTreeSet, HashMap};

use axum::extract::State;
use axum::routing::post;
use threadline_domain::address::EmailAddress;
use threadline_domain::api::{CompanyRef, LookupRequest, LookupResponse, MAX_LOOKUP_ADDRESSES};
use threadline_domain::company::{company_suggestion, derive_company};
use threadline_domain::matching::{self, Candidate};
use utoipa::openapi::path::HttpMethod;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::{id_text, parse_uuid, Conn, Sql};
use crate::error::ApiResult;
use crate::extract::Json;
use crate::openapi::{ApiRouter, Op};
use crate::privacy;
use crate::state::AppState;
use crate::store::{ContactRow, CONTACT_COLUMNS, CONTACT_JOINS};
use crate::validate;

pub fn router() -> ApiRouter {
    let op = Op::new("lookup", "lookup", "Match addresses to contacts")
        .description(&format!(
            "For each address (at most {MAX_LOOKUP_ADDRESSES}), in request order: the matching \
             contact(s), whether it is the caller's own (`own`), never logged (`never_log`, \
             with the entry in `privacy`) or a colleague's (`colleague`, with the domain in \
             `privacy`), and the company to suggest for an unknown address."
        ))
        .json_body::<LookupRequest>("The addresses of a message or a thread.")
        .json::<LookupResponse>("200", "One result per address.");
    ApiRouter::new().routes(op.route("/lookup", HttpMethod::Post, post(lookup)))
}

async fn lookup(
    auth: AuthUser,
    State(state): State<AppState>,
    Json(req): Json<LookupRequest>,
) -> ApiResult<Json<LookupResponse>> {
    validate::max_items("addresses", &req.addresses, MAX_LOOKUP_ADDRESSES)?;
    if req.addresses.is_empty() {
        return Ok(Json(LookupResponse {
            results: Vec::new(),
        }));
    }
    let mut conn = state.db().pool().acquire().await?;
    let rules = privacy::rules_of(&mut conn, &auth).await?;
    let keys = matching::lookup_keys(&req.addresses);
    let candidates = candidates(&mut conn, auth.org_id, &keys).await?;
    let domains: BTreeSet<String> = req
        .addresses
        .iter()
        .filter_map(|a| EmailAddress::parse(a).ok())
        .filter_map(|a| derive_company(a.domain()))
        .map(|d| d.domain)
        .collect();
    let companies = companies_by_domain(&mut conn, auth.org_id, &domains).await?;
    drop(conn);

    // `resolve` asks with the registrable domain, which is how the map is keyed.
    let company_for_domain =
        |domain: &str| company_suggestion(domain, companies.get(domain).cloned());
    let results = matching::resolve(&req.addresses, &candidates, &rules, &company_for_domain);
    Ok(Json(LookupResponse { results }))
}

#[derive(sqlx::FromRow)]
struct CandidateRow {
    match_key: String,
    #[sqlx(flatten)]
    contact: ContactRow,
}

/// Every contact address of `org` whose match key is one of `keys`: one query.
async fn candidates(conn: &mut Conn, org: Uuid, keys: &[String]) -> ApiResult<Vec<Candidate>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<CandidateRow> = candidates_query(org, keys)
        .build_query_as()
        .fetch_all(&mut *conn)
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Candidate {
                match_key: r.match_key,
                contact: r.contact.summary()?,
            })
        })
        .collect()
}

/// The query of [`candidates`]: one search of `contact_emails (org_id, match_key)`.
fn candidates_query(org: Uuid, keys: &[String]) -> Sql<'_> {
    let mut sql = Sql::new(format!(
        "SELECT ce.match_key, {CONTACT_COLUMNS}
         FROM contact_emails ce JOIN contacts c ON c.id = ce.contact_id {CONTACT_JOINS}
         WHERE ce.org_id = "
    ));
    sql.push_bind(id_text(org))
        .push(" AND ce.match_key IN ")
        .push_list(keys)
        .push(" AND c.deleted_at IS NULL");
    sql
}

#[derive(sqlx::FromRow)]
struct CompanyRow {
    id: String,
    name: String,
    domain: String,
}

/// The companies of `org` with one of `domains`, by domain (the oldest one when several
/// share a domain): one query.
async fn companies_by_domain(
    conn: &mut Conn,
    org: Uuid,
    domains: &BTreeSet<String>,
) -> ApiResult<HashMap<String, CompanyRef>> {
    let mut out = HashMap::new();
    if domains.is_empty() {
        return Ok(out);
    }
    // Any of a company's domains (`company_domains`), live companies only.
    let mut sql = Sql::new(
        "SELECT c.id, c.name, d.domain FROM company_domains d JOIN companies c ON c.id = d.company_id
         WHERE d.org_id = ",
    );
    sql.push_bind(id_text(org))
        .push(" AND d.domain IN ")
        .push_list(domains)
        .push(" AND c.deleted_at IS NULL ORDER BY c.created_at, c.id");
    let rows: Vec<CompanyRow> = sql.build_query_as().fetch_all(&mut *conn).await?;
    for row in rows {
        if let std::collections::hash_map::Entry::Vacant(slot) = out.entry(row.domain) {
            slot.insert(CompanyRef {
                id: parse_uuid(&row.id)?,
                name: row.name,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Engine;

    #[tokio::test]
    async fn the_candidate_query_searches_the_index() {
        let test_db = crate::testing::TestDatabase::create();
        let db = test_db.open().await;
        let keys = vec!["a@acme.com".to_string(), "b@acme.com".to_string()];
        let plan = crate::db::query_plan(&db, candidates_query(Uuid::nil(), &keys))
            .await
            .expect("the plan");
        assert!(
            plan.iter()
                .any(|step| step.contains("contact_emails_lookup_idx")),
            "{plan:#?}"
        );
        let full_scan = |step: &String| match db.engine() {
            Engine::Sqlite => step.starts_with("SCAN"),
            Engine::Postgres => step.contains("Seq Scan"),
        };
        assert!(!plan.iter().any(full_scan), "{plan:#?}");
    }
}
