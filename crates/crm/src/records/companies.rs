//! Companies: `/api/v1/companies` (list, search, get, create, PUT, PATCH, delete).
//!
//! Checks: `name` 1 to 200 characters; `domains` at most [`MAX_DOMAINS`], each stored as its
//! registrable domain (`mail.acme.co.uk` → `acme.co.uk`), none twice (`domains[i]`); the first
//! is also `companies.domain`, which the lookup reads; `website` an http(s) URL (a bare host
//! gets `https://`); `phone` and `vat_number` checked by [`super::fields`].

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::fields::{phone, vat_number, website};
use super::search::Terms;
use super::{load_children, load_rows, save_row, Col, Kind, Meta, MetaRow, Target, META_COLUMNS};
use super::{Editable, Record};
use crate::actor::Actor;
use crate::error::{CrmError, CrmResult};
use crate::validate::{self, MAX_NAME_CHARS};
use threadline_domain::address::normalize_domain;
use threadline_domain::company::registrable_domain;
use threadline_storage::db::{id_text, BoxFuture, Conn, Sql};

/// Most domains of one company.
pub const MAX_DOMAINS: usize = 20;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Company {
    pub id: Uuid,
    pub name: String,
    /// Registrable domains, lowercase ASCII, the main one first.
    pub domains: Vec<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
    pub vat_number: Option<String>,
    #[serde(flatten)]
    pub meta: Meta,
}

/// POST and PUT body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyInput {
    pub name: String,
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
    #[serde(default)]
    pub vat_number: Option<String>,
}

pub struct ValidCompany {
    name: String,
    domains: Vec<String>,
    address: Option<String>,
    phone: Option<String>,
    website: Option<String>,
    vat_number: Option<String>,
}

impl ValidCompany {
    /// A company with only a name and maybe a domain (already checked).
    pub fn named(name: &str, domain: Option<&str>) -> ValidCompany {
        ValidCompany {
            name: name.to_string(),
            domains: domain.map(str::to_string).into_iter().collect(),
            address: None,
            phone: None,
            website: None,
            vat_number: None,
        }
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    #[sqlx(flatten)]
    meta: MetaRow,
    name: String,
    address: Option<String>,
    phone: Option<String>,
    website: Option<String>,
    vat_number: Option<String>,
}

impl Record for Company {
    const KIND: Kind = Kind::Company;

    fn meta(&self) -> &Meta {
        &self.meta
    }

    fn id(&self) -> Uuid {
        self.id
    }

    fn load<'c>(
        conn: &'c mut Conn,
        org: Uuid,
        ids: &'c [Uuid],
    ) -> BoxFuture<'c, CrmResult<Vec<Self>>> {
        Box::pin(load(conn, org, ids))
    }

    fn search(sql: &mut Sql<'_>, org: Uuid, q: &str) -> CrmResult<()> {
        let terms = Terms::parse(q);
        sql.push(" AND (lower(t.name) LIKE lower(")
            .push_bind(terms.like)
            .push(") ESCAPE '\\'");
        if let Some(domain) = terms.domain {
            sql.push(" OR t.id IN (SELECT d.company_id FROM company_domains d WHERE d.org_id = ")
                .push_bind(id_text(org))
                .push(" AND d.domain = ")
                .push_bind(domain)
                .push(")");
        }
        sql.push(")");
        Ok(())
    }
}

async fn load(conn: &mut Conn, org: Uuid, ids: &[Uuid]) -> CrmResult<Vec<Company>> {
    let rows: Vec<Row> = load_rows(
        conn,
        org,
        ids,
        &format!("SELECT {META_COLUMNS}, t.name, t.address, t.phone, t.website, t.vat_number FROM companies t"),
    )
    .await?;
    let mut domains =
        load_children(conn, "company_domains", "company_id", "domain", org, ids).await?;
    rows.into_iter()
        .map(|r| {
            Ok(Company {
                id: r.meta.uuid()?,
                domains: domains.remove(&r.meta.id).unwrap_or_default(),
                name: r.name,
                address: r.address,
                phone: r.phone,
                website: r.website,
                vat_number: r.vat_number,
                meta: r.meta.meta()?,
            })
        })
        .collect()
}

impl Editable for Company {
    type Input = CompanyInput;
    type Valid = ValidCompany;

    fn validate(input: CompanyInput) -> CrmResult<ValidCompany> {
        validate::max_items("domains", &input.domains, MAX_DOMAINS)?;
        let mut domains: Vec<String> = Vec::with_capacity(input.domains.len());
        for (i, raw) in input.domains.iter().enumerate() {
            let field = format!("domains[{i}]");
            let domain = normalize_company_domain(raw).map_err(|e| CrmError::invalid(&field, e))?;
            if let Some(j) = domains.iter().position(|d| *d == domain) {
                return Err(CrmError::invalid(
                    field,
                    format!("{raw:?} is the same domain as domains[{j}] ({domain})"),
                ));
            }
            domains.push(domain);
        }
        Ok(ValidCompany {
            name: validate::required_text("name", &input.name, MAX_NAME_CHARS)?,
            domains,
            address: validate::optional_multiline_text("address", input.address.as_deref(), 1000)?,
            phone: phone("phone", input.phone.as_deref())?,
            website: website("website", input.website.as_deref())?,
            vat_number: vat_number("vat_number", input.vat_number.as_deref())?,
        })
    }

    fn save<'c>(
        conn: &'c mut Conn,
        auth: &'c Actor,
        id: Uuid,
        target: Target,
        valid: &'c ValidCompany,
    ) -> BoxFuture<'c, CrmResult<()>> {
        Box::pin(async move {
            let org = auth.org_id;
            save_row(
                conn,
                Kind::Company,
                org,
                id,
                target,
                &[
                    ("name", valid.name.clone().into()),
                    ("domain", valid.domains.first().cloned().into()),
                    ("address", valid.address.clone().into()),
                    ("phone", valid.phone.clone().into()),
                    ("website", valid.website.clone().into()),
                    ("vat_number", valid.vat_number.clone().into()),
                ],
            )
            .await?;
            let positions = valid
                .domains
                .iter()
                .enumerate()
                .map(|(i, d)| (i as i64, d.clone()));
            super::replace_children(
                conn,
                "company_domains",
                "company_id",
                org,
                id,
                &["position", "domain"],
                positions
                    .map(|(p, d)| vec![Col::from(p), Col::from(d)])
                    .collect(),
            )
            .await
        })
    }
}

/// `Acme.com`, `@acme.com`, `mail.acme.co.uk` → the lowercase ASCII registrable domain.
pub fn normalize_company_domain(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim().trim_start_matches('@');
    let domain = normalize_domain(trimmed.strip_suffix('.').unwrap_or(trimmed))
        .map_err(|e| format!("{raw:?} is not a valid domain: {e}"))?;
    Ok(registrable_domain(&domain).unwrap_or(domain))
}
