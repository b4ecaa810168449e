//! The privacy rules over the API (issue 14); what they mean and how they are enforced is
//! the model's [`threadline_crm::privacy`] (matching: `threadline_domain::privacy`).
//!
//! - `GET /privacy/never-log` → [`NeverLogList`]: the caller's entries (`me`) and the
//!   organisation's, and whether the caller may change the organisation's (its owner).
//! - `POST /privacy/never-log` [`NewNeverLogEntry`] `{value, scope}` → 201 the new entry, or
//!   200 the entry the list already has (same address by match key, or same domain).
//!   `value` is an address (`ann@acme.com`) or a domain (`acme.com`, `@acme.com`: it covers
//!   its subdomains); `scope` `me` (the default) or `organisation` (owner only, else 403).
//! - `DELETE /privacy/never-log/{id}` → the entry removed; an organisation entry by its
//!   owner only (403); another user's entry is 404, as a missing one.
//! - `GET /organisation/domains` → [`InternalDomains`]: the organisation's own domains
//!   (colleagues), configured or derived from its users' addresses.
//! - `PUT /organisation/domains` [`SetInternalDomains`] `{domains: [...] | null}` (owner
//!   only): sets them; `null` derives them again.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use serde::{Deserialize, Serialize};
use threadline_domain::api::UserRole;
use threadline_domain::privacy::{RuleScope, MAX_INTERNAL_DOMAINS};
use utoipa::openapi::path::HttpMethod;

use crate::accounts;
use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::extract::Json;
use crate::openapi::{ApiRouter, Op};
use crate::privacy::{self, InternalDomains, NeverLogEntry};
use crate::state::AppState;

pub fn router() -> ApiRouter {
    let tag = "privacy";
    let owner_only = "Only the organisation's owner may change the organisation's rules \
                      (`forbidden`).";
    let list = Op::new(tag, "list_never_log", "The never-log list")
        .description(
            "The caller's entries (`scope: me`) and the organisation's. Addresses and domains \
             on it are never tracked nor offered as contacts; a domain covers its subdomains; \
             an address entry also covers its `+tag` variants.",
        )
        .json::<NeverLogList>("200", "The caller's entries, then the organisation's.");
    let add = Op::new(tag, "add_never_log", "Add to the never-log list")
        .description(
            "`value`: an address or a domain (`acme.com` or `@acme.com`; not a public suffix \
             alone), normalised as addresses are. `scope`: `me` (the default) or \
             `organisation` (the owner only). An entry the list already has is answered as \
             it is (200).",
        )
        .json_body::<NewNeverLogEntry>("The address or domain, and whose list.")
        .json::<NeverLogEntry>("201", "Added.")
        .json::<NeverLogEntry>("200", "Already on the list: the existing entry.")
        .error("403", owner_only);
    let remove = Op::new(tag, "delete_never_log", "Remove from the never-log list")
        .path_id("id", "The entry's id.")
        .json::<NeverLogEntry>("200", "The entry, removed.")
        .error("403", owner_only)
        .not_found("never-log entry of the caller's or the organisation's");
    let get_domains = Op::new(tag, "get_internal_domains", "The organisation's domains")
        .description(
            "Addresses on these domains (and their subdomains) are colleagues: not contacts, \
             and an email only between colleagues is tracked only when insisted on. \
             `source`: `configured` by the owner, or `derived` from the users' addresses \
             (public mail domains such as gmail.com left out).",
        )
        .json::<InternalDomains>("200", "The domains.");
    let set_domains = Op::new(
        tag,
        "set_internal_domains",
        "Set the organisation's domains",
    )
    .description(&format!(
        "The owner only. At most {MAX_INTERNAL_DOMAINS} domains; not public mail \
             providers, not public suffixes. `null` goes back to deriving them."
    ))
    .json_body::<SetInternalDomains>("The domains, or null.")
    .json::<InternalDomains>("200", "The domains now.")
    .error("403", owner_only);
    ApiRouter::new()
        .routes(list.route("/privacy/never-log", HttpMethod::Get, get(list_entries)))
        .routes(add.route("/privacy/never-log", HttpMethod::Post, post(add_entry)))
        .routes(remove.route(
            "/privacy/never-log/{id}",
            HttpMethod::Delete,
            delete(delete_entry),
        ))
        .routes(get_domains.route("/organisation/domains", HttpMethod::Get, get(domains)))
        .routes(set_domains.route(
            "/organisation/domains",
            HttpMethod::Put,
            put(set_domains_route),
        ))
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNeverLogEntry {
    /// An address (`ann@acme.com`) or a domain (`acme.com`, `@acme.com`).
    pub value: String,
    /// `me` (the default) or `organisation`.
    #[serde(default = "me")]
    pub scope: RuleScope,
}

fn me() -> RuleScope {
    RuleScope::Me
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NeverLogList {
    pub items: Vec<NeverLogEntry>,
    /// Whether the caller may change the organisation's entries (its owner).
    pub organisation_editable: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetInternalDomains {
    /// The domains; `null`: derive them from the users' addresses.
    pub domains: Option<Vec<String>>,
}

async fn list_entries(
    auth: AuthUser,
    State(state): State<AppState>,
) -> ApiResult<Json<NeverLogList>> {
    let mut conn = state.db().pool().acquire().await?;
    let items = privacy::never_log_entries(&mut conn, &auth).await?;
    let organisation_editable = accounts::role(&mut conn, auth.user_id).await? == UserRole::Owner;
    Ok(Json(NeverLogList {
        items,
        organisation_editable,
    }))
}

async fn add_entry(
    auth: AuthUser,
    State(state): State<AppState>,
    Json(req): Json<NewNeverLogEntry>,
) -> ApiResult<(StatusCode, Json<NeverLogEntry>)> {
    let (auth, req) = (&auth, &req);
    let (entry, created) = state
        .db()
        .write(|tx| Box::pin(privacy::add_never_log(tx, auth, &req.value, req.scope)))
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(entry)))
}

async fn delete_entry(
    auth: AuthUser,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> ApiResult<Json<NeverLogEntry>> {
    let id = crate::extract::path_id(&raw, "never-log entry")?;
    let auth = &auth;
    let entry = state
        .db()
        .write(|tx| Box::pin(privacy::delete_never_log(tx, auth, id)))
        .await?;
    Ok(Json(entry))
}

async fn domains(
    auth: AuthUser,
    State(state): State<AppState>,
) -> ApiResult<Json<InternalDomains>> {
    let mut conn = state.db().pool().acquire().await?;
    Ok(Json(
        privacy::internal_domains(&mut conn, auth.org_id).await?,
    ))
}

async fn set_domains_route(
    auth: AuthUser,
    State(state): State<AppState>,
    Json(req): Json<SetInternalDomains>,
) -> ApiResult<Json<InternalDomains>> {
    let (auth, domains) = (&auth, req.domains.as_deref());
    let set = state
        .db()
        .write(|tx| Box::pin(privacy::set_internal_domains(tx, auth, domains)))
        .await?;
    Ok(Json(set))
}
