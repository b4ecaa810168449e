//! `POST /api/v1/contacts`: a new contact (201 [`Contact`]). Supports `Idempotency-Key`.
//!
//! Checks: at most [`MAX_CONTACT_EMAILS`] addresses and at least one, each a valid address
//! (`emails[i]`), none twice (compared by match key, so `ann.lee@gmail.com` and
//! `annlee@gmail.com` are the same); names at most 200 characters; an `existing` company in
//! the caller's organisation (`company.id`); a `new` company with a name and a valid
//! domain (`company.name`, `company.domain`).
//!
//! An address that another contact already has is ALLOWED: two contacts sharing an address
//! is a real situation (a shared inbox, a person who changed jobs), and the lookup shows it
//! as `ambiguous` rather than the server refusing it.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use threadline_domain::address::{normalize_domain, EmailAddress};
use threadline_domain::api::{CompanyChoice, CompanyRef, Contact, NewContact};
use threadline_domain::company::registrable_domain;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::{self, id_text, parse_time, parse_uuid, Conn};
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::idempotency::{self, IdempotencyKey};
use crate::state::AppState;
use crate::validate::{self, MAX_NAME_CHARS};

/// Most addresses one contact may be created with.
pub const MAX_CONTACT_EMAILS: usize = 20;

pub fn router() -> Router<AppState> {
    Router::new().route("/contacts", post(create_contact))
}

/// A company choice after its checks.
enum Company {
    Existing(Uuid),
    New {
        name: String,
        domain: Option<String>,
    },
}

struct Valid {
    first_name: String,
    last_name: String,
    emails: Vec<EmailAddress>,
    company: Option<Company>,
}

fn validate(req: &NewContact) -> ApiResult<Valid> {
    let first_name = validate::text("first_name", &req.first_name, MAX_NAME_CHARS)?;
    let last_name = validate::text("last_name", &req.last_name, MAX_NAME_CHARS)?;
    if req.emails.is_empty() {
        return Err(ApiError::invalid(
            "emails",
            "a contact needs at least one email address",
        ));
    }
    validate::max_items("emails", &req.emails, MAX_CONTACT_EMAILS)?;
    let mut emails: Vec<EmailAddress> = Vec::with_capacity(req.emails.len());
    for (i, raw) in req.emails.iter().enumerate() {
        let field = format!("emails[{i}]");
        let address = EmailAddress::parse(raw).map_err(|e| {
            ApiError::invalid(&field, format!("{raw:?} is not a valid email address: {e}"))
        })?;
        if let Some(j) = emails
            .iter()
            .position(|a| a.match_key() == address.match_key())
        {
            return Err(ApiError::invalid(
                field,
                format!("{raw:?} is the same address as emails[{j}] ({})", emails[j]),
            ));
        }
        emails.push(address);
    }
    let company = match &req.company {
        None => None,
        Some(CompanyChoice::Existing { id }) => Some(Company::Existing(*id)),
        Some(CompanyChoice::New { name, domain }) => Some(Company::New {
            name: validate::required_text("company.name", name, MAX_NAME_CHARS)?,
            domain: match validate::optional_text("company.domain", domain.as_deref(), 253)? {
                None => None,
                Some(d) => Some(
                    normalize_company_domain(&d)
                        .map_err(|e| ApiError::invalid("company.domain", e))?,
                ),
            },
        }),
    };
    Ok(Valid {
        first_name,
        last_name,
        emails,
        company,
    })
}

/// `Acme.com`, `@acme.com`, `mail.acme.co.uk` → the lowercase ASCII registrable domain.
pub fn normalize_company_domain(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim().trim_start_matches('@');
    let domain = normalize_domain(trimmed.strip_suffix('.').unwrap_or(trimmed))
        .map_err(|e| format!("{raw:?} is not a valid domain: {e}"))?;
    Ok(registrable_domain(&domain).unwrap_or(domain))
}

async fn create_contact(
    auth: AuthUser,
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(req): Json<NewContact>,
) -> ApiResult<Response> {
    let key = IdempotencyKey::from_headers(&headers, "POST /api/v1/contacts", &req)?;
    let valid = validate(&req)?;
    idempotency::write(
        state.db(),
        &auth,
        key.as_ref(),
        StatusCode::CREATED,
        &|tx| Box::pin(insert_contact(tx, auth.org_id, &valid)),
    )
    .await
}

async fn insert_contact(conn: &mut Conn, org: Uuid, valid: &Valid) -> ApiResult<Contact> {
    let company = match &valid.company {
        None => None,
        Some(Company::Existing(id)) => Some(existing_company(conn, org, *id).await?),
        Some(Company::New { name, domain }) => {
            Some(find_or_create_company(conn, org, name, domain.as_deref()).await?)
        }
    };
    let id = db::new_id();
    let now = db::now();
    sqlx::query(
        "INSERT INTO contacts (id, org_id, first_name, last_name, company_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(id_text(id))
    .bind(id_text(org))
    .bind(&valid.first_name)
    .bind(&valid.last_name)
    .bind(company.as_ref().map(|c| id_text(c.id)))
    .bind(&now)
    .execute(&mut *conn)
    .await?;
    for (position, address) in valid.emails.iter().enumerate() {
        sqlx::query(
            "INSERT INTO contact_emails (contact_id, org_id, position, address, match_key)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id_text(id))
        .bind(id_text(org))
        .bind(position as i64)
        .bind(address.to_string())
        .bind(address.match_key())
        .execute(&mut *conn)
        .await?;
    }
    Ok(Contact {
        id,
        first_name: valid.first_name.clone(),
        last_name: valid.last_name.clone(),
        emails: valid.emails.iter().map(ToString::to_string).collect(),
        company,
        created_at: parse_time(&now)?,
    })
}

async fn existing_company(conn: &mut Conn, org: Uuid, id: Uuid) -> ApiResult<CompanyRef> {
    let name: Option<String> =
        sqlx::query_scalar("SELECT name FROM companies WHERE org_id = $1 AND id = $2")
            .bind(id_text(org))
            .bind(id_text(id))
            .fetch_optional(&mut *conn)
            .await?;
    let name = name.ok_or_else(|| {
        ApiError::unknown_record("company.id", format!("there is no company with id {id}"))
    })?;
    Ok(CompanyRef { id, name })
}

/// The company with `domain` (or, without a domain, named exactly `name`), else a new one.
async fn find_or_create_company(
    conn: &mut Conn,
    org: Uuid,
    name: &str,
    domain: Option<&str>,
) -> ApiResult<CompanyRef> {
    let (column, value) = match domain {
        Some(domain) => ("domain", domain),
        None => ("name", name),
    };
    let found: Option<(String, String)> = sqlx::query_as(&format!(
        "SELECT id, name FROM companies WHERE org_id = $1 AND {column} = $2
         ORDER BY created_at, id LIMIT 1"
    ))
    .bind(id_text(org))
    .bind(value)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((id, name)) = found {
        return Ok(CompanyRef {
            id: parse_uuid(&id)?,
            name,
        });
    }
    let id = db::new_id();
    sqlx::query(
        "INSERT INTO companies (id, org_id, name, domain, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id_text(id))
    .bind(id_text(org))
    .bind(name)
    .bind(domain)
    .bind(db::now())
    .execute(&mut *conn)
    .await?;
    Ok(CompanyRef {
        id,
        name: name.to_string(),
    })
}
