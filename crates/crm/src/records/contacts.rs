//! Contacts: `/api/v1/contacts` (list, search, get, create, PUT, PATCH, delete).
//!
//! The answer is a superset of the bar's `threadline_domain::api::Contact` (`emails` are
//! strings, primary first; `company` is `{id, name}`), so `POST /contacts` serves both.
//! The input is a superset of the bar's `NewContact`: an address is a string or
//! `{address, primary}`; exactly one may be primary (none marked: the first is).
//!
//! Checks: 1 to [`MAX_CONTACT_EMAILS`] addresses, each valid (`emails[i]`), none twice
//! (compared by match key: `ann.lee@gmail.com` is `annlee@gmail.com`); one primary
//! (`emails[i].primary`); names at most 200 characters; `company_id` (or the bar's
//! `company` choice, not both) a live company of the organisation; phones (`phones[i].number`).
//! An address that another contact already has is allowed (the lookup shows `ambiguous`).

use serde::{Deserialize, Serialize};
use threadline_domain::address::EmailAddress;
use threadline_domain::api::{CompanyChoice, CompanyRef};
use uuid::Uuid;

use super::companies::{Company, ValidCompany};
use super::fields::{opt_text, phone};
use super::search::Terms;
use super::{
    load_children, load_rows, record_exists, save_row, Col, Kind, Meta, MetaRow, Target,
    META_COLUMNS,
};
use super::{Editable, Record};
use crate::actor::Actor;
use crate::error::{CrmError, CrmResult};
use crate::records::companies::normalize_company_domain;
use crate::validate::{self, MAX_NAME_CHARS};
use threadline_storage::db::{id_text, parse_uuid, BoxFuture, Conn, Sql};

/// Most addresses of one contact.
pub const MAX_CONTACT_EMAILS: usize = 20;
/// Most phone numbers of one contact.
pub const MAX_PHONES: usize = 20;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Contact {
    pub id: Uuid,
    pub first_name: String,
    pub last_name: String,
    /// Normalised addresses, the primary first.
    pub emails: Vec<String>,
    pub primary_email: String,
    pub phones: Vec<Phone>,
    pub job_title: Option<String>,
    pub notes: Option<String>,
    pub company_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<CompanyRef>,
    #[serde(flatten)]
    pub meta: Meta,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Phone {
    pub number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// An address of the input: `"a@b.c"` or `{"address": "a@b.c", "primary": true}`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum EmailInput {
    Plain(String),
    Tagged {
        address: String,
        #[serde(default)]
        primary: bool,
    },
}

/// POST and PUT body (the bar's `NewContact` is one).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    pub emails: Vec<EmailInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<CompanyChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<Phone>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// Which company, after the checks.
pub enum CompanyLink {
    None,
    /// `company_id` or `{kind: existing}`: the field to blame if it is not there.
    Existing(Uuid, &'static str),
    New {
        name: String,
        domain: Option<String>,
    },
}

pub struct ValidContact {
    first_name: String,
    last_name: String,
    /// Primary first.
    emails: Vec<EmailAddress>,
    company: CompanyLink,
    phones: Vec<Phone>,
    job_title: Option<String>,
    notes: Option<String>,
}

impl ValidContact {
    /// The addresses, normalised, the primary first.
    pub fn emails(&self) -> &[EmailAddress] {
        &self.emails
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    #[sqlx(flatten)]
    meta: MetaRow,
    first_name: String,
    last_name: String,
    job_title: Option<String>,
    notes: Option<String>,
    phones: String,
    company_id: Option<String>,
    company_name: Option<String>,
}

impl Record for Contact {
    const KIND: Kind = Kind::Contact;
    const DERIVED: &'static [&'static str] = &["primary_email", "company"];

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
        sql.push(" AND (lower(t.first_name || ' ' || t.last_name) LIKE lower(")
            .push_bind(terms.like.clone())
            .push(") ESCAPE '\\' OR t.id IN (SELECT e.contact_id FROM contact_emails e WHERE e.org_id = ")
            .push_bind(id_text(org))
            .push(" AND (lower(e.address) LIKE lower(")
            .push_bind(terms.like)
            .push(") ESCAPE '\\'");
        if let Some(key) = terms.match_key {
            sql.push(" OR e.match_key = ").push_bind(key);
        } else if let Some(domain) = terms.domain {
            // The address's domain is the domain or one of its subdomains.
            sql.push(" OR e.address LIKE ")
                .push_bind(format!("%@{}", super::search::escape_like(&domain)))
                .push(" ESCAPE '\\' OR e.address LIKE ")
                .push_bind(format!("%@%.{}", super::search::escape_like(&domain)))
                .push(" ESCAPE '\\'");
        }
        sql.push(")))");
        Ok(())
    }
}

async fn load(conn: &mut Conn, org: Uuid, ids: &[Uuid]) -> CrmResult<Vec<Contact>> {
    let rows: Vec<Row> = load_rows(
        conn,
        org,
        ids,
        &format!(
            "SELECT {META_COLUMNS}, t.first_name, t.last_name, t.job_title, t.notes, t.phones,
                    t.company_id, co.name AS company_name
             FROM contacts t LEFT JOIN companies co ON co.id = t.company_id"
        ),
    )
    .await?;
    let mut emails =
        load_children(conn, "contact_emails", "contact_id", "address", org, ids).await?;
    rows.into_iter()
        .map(|r| {
            let addresses = emails.remove(&r.meta.id).unwrap_or_default();
            let company_id = r.company_id.as_deref().map(parse_uuid).transpose()?;
            Ok(Contact {
                id: r.meta.uuid()?,
                first_name: r.first_name,
                last_name: r.last_name,
                primary_email: addresses.first().cloned().unwrap_or_default(),
                emails: addresses,
                phones: serde_json::from_str(&r.phones)
                    .map_err(|e| CrmError::internal(format!("bad phones in the database: {e}")))?,
                job_title: r.job_title,
                notes: r.notes,
                company: company_id
                    .zip(r.company_name)
                    .map(|(id, name)| CompanyRef { id, name }),
                company_id,
                meta: r.meta.meta()?,
            })
        })
        .collect()
}

fn validate_emails(input: &[EmailInput]) -> CrmResult<Vec<EmailAddress>> {
    if input.is_empty() {
        return Err(CrmError::invalid(
            "emails",
            "a contact needs at least one email address",
        ));
    }
    validate::max_items("emails", input, MAX_CONTACT_EMAILS)?;
    let mut emails: Vec<EmailAddress> = Vec::with_capacity(input.len());
    let mut primary: Option<usize> = None;
    for (i, item) in input.iter().enumerate() {
        let (raw, is_primary, field) = match item {
            EmailInput::Plain(raw) => (raw, false, format!("emails[{i}]")),
            EmailInput::Tagged { address, primary } => {
                (address, *primary, format!("emails[{i}].address"))
            }
        };
        let address = EmailAddress::parse(raw).map_err(|e| {
            CrmError::invalid(&field, format!("{raw:?} is not a valid email address: {e}"))
        })?;
        if let Some(j) = emails
            .iter()
            .position(|a| a.match_key() == address.match_key())
        {
            return Err(CrmError::invalid(
                field,
                format!("{raw:?} is the same address as emails[{j}] ({})", emails[j]),
            ));
        }
        if is_primary {
            if let Some(j) = primary {
                return Err(CrmError::invalid(
                    format!("emails[{i}].primary"),
                    format!("only one address can be primary, and emails[{j}] already is"),
                ));
            }
            primary = Some(i);
        }
        emails.push(address);
    }
    if let Some(p) = primary {
        let first = emails.remove(p);
        emails.insert(0, first);
    }
    Ok(emails)
}

impl Editable for Contact {
    type Input = ContactInput;
    type Valid = ValidContact;

    fn validate(input: ContactInput) -> CrmResult<ValidContact> {
        let first_name = validate::text("first_name", &input.first_name, MAX_NAME_CHARS)?;
        let last_name = validate::text("last_name", &input.last_name, MAX_NAME_CHARS)?;
        let emails = validate_emails(&input.emails)?;
        let company = match (&input.company, input.company_id) {
            (Some(_), Some(_)) => {
                return Err(CrmError::invalid(
                    "company_id",
                    "give company_id or company, not both",
                ))
            }
            (None, None) => CompanyLink::None,
            (None, Some(id)) => CompanyLink::Existing(id, "company_id"),
            (Some(CompanyChoice::Existing { id }), None) => {
                CompanyLink::Existing(*id, "company.id")
            }
            (Some(CompanyChoice::New { name, domain }), None) => CompanyLink::New {
                name: validate::required_text("company.name", name, MAX_NAME_CHARS)?,
                domain: match validate::optional_text("company.domain", domain.as_deref(), 253)? {
                    None => None,
                    Some(d) => Some(
                        normalize_company_domain(&d)
                            .map_err(|e| CrmError::invalid("company.domain", e))?,
                    ),
                },
            },
        };
        validate::max_items("phones", &input.phones, MAX_PHONES)?;
        let mut phones = Vec::with_capacity(input.phones.len());
        for (i, p) in input.phones.iter().enumerate() {
            phones.push(Phone {
                number: phone(&format!("phones[{i}].number"), Some(&p.number))?.ok_or_else(
                    || CrmError::invalid(format!("phones[{i}].number"), "a phone number is needed"),
                )?,
                label: opt_text(&format!("phones[{i}].label"), p.label.as_deref(), 50)?,
            });
        }
        Ok(ValidContact {
            first_name,
            last_name,
            emails,
            company,
            phones,
            job_title: opt_text("job_title", input.job_title.as_deref(), MAX_NAME_CHARS)?,
            notes: validate::optional_multiline_text("notes", input.notes.as_deref(), 100_000)?,
        })
    }

    fn save<'c>(
        conn: &'c mut Conn,
        auth: &'c Actor,
        id: Uuid,
        target: Target,
        valid: &'c ValidContact,
    ) -> BoxFuture<'c, CrmResult<()>> {
        Box::pin(async move {
            let org = auth.org_id;
            let company_id = match &valid.company {
                CompanyLink::None => None,
                CompanyLink::Existing(company, field) => {
                    if !record_exists(conn, org, Kind::Company, *company).await? {
                        return Err(CrmError::unknown_record(
                            *field,
                            format!("there is no company with id {company}"),
                        ));
                    }
                    Some(*company)
                }
                CompanyLink::New { name, domain } => {
                    Some(find_or_create_company(conn, auth, name, domain.as_deref()).await?)
                }
            };
            let phones = serde_json::to_string(&valid.phones)
                .map_err(|e| CrmError::internal(format!("cannot serialise phones: {e}")))?;
            save_row(
                conn,
                Kind::Contact,
                org,
                id,
                target,
                &[
                    ("first_name", valid.first_name.clone().into()),
                    ("last_name", valid.last_name.clone().into()),
                    ("company_id", company_id.into()),
                    ("job_title", valid.job_title.clone().into()),
                    ("notes", valid.notes.clone().into()),
                    ("phones", phones.into()),
                ],
            )
            .await?;
            let rows = valid
                .emails
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    vec![
                        Col::from(i as i64),
                        a.to_string().into(),
                        a.match_key().into(),
                    ]
                })
                .collect();
            super::replace_children(
                conn,
                "contact_emails",
                "contact_id",
                org,
                id,
                &["position", "address", "match_key"],
                rows,
            )
            .await
        })
    }
}

/// The live company with `domain` (or, without a domain, named exactly `name`), else a new
/// one (made like any company: its domains, its change).
async fn find_or_create_company(
    conn: &mut Conn,
    auth: &Actor,
    name: &str,
    domain: Option<&str>,
) -> CrmResult<Uuid> {
    let found: Option<String> = match domain {
        Some(domain) => sqlx::query_scalar(
            "SELECT c.id FROM company_domains d JOIN companies c ON c.id = d.company_id
             WHERE d.org_id = $1 AND d.domain = $2 AND c.deleted_at IS NULL
             ORDER BY c.created_at, c.id LIMIT 1",
        )
        .bind(id_text(auth.org_id))
        .bind(domain),
        None => sqlx::query_scalar(
            "SELECT id FROM companies WHERE org_id = $1 AND name = $2 AND deleted_at IS NULL
             ORDER BY created_at, id LIMIT 1",
        )
        .bind(id_text(auth.org_id))
        .bind(name),
    }
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = found {
        return Ok(parse_uuid(&id)?);
    }
    let id = threadline_storage::db::new_id();
    let valid = ValidCompany::named(name, domain);
    Company::save(conn, auth, id, Target::New, &valid).await?;
    Ok(id)
}
