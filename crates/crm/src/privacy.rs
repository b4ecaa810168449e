//! The privacy rules as the CRM keeps and enforces them (issue 14). What they mean — how an
//! entry matches, which verdict wins — is the domain crate's
//! [`threadline_domain::privacy`]; this module stores them and applies them to the model's
//! writes.
//!
//! - **Never-log list** (`never_log_entries`): each user's own entries (`me`) and the
//!   organisation's (`organisation`), managed by the organisation's **owner** only
//!   ([`UserRole::Owner`]; a member is refused with `forbidden`). Adding an entry that the
//!   list already has (same address by match key, or same domain) answers the existing one.
//! - **Internal domains**: the organisation's own domains, as its owner configured them
//!   ([`set_internal_domains`]), else derived from its users' addresses
//!   ([`threadline_domain::privacy::default_internal_domains`]).
//! - **Own addresses** ([`crate::accounts::own_addresses`]) include the user's connected
//!   Google accounts' addresses.
//!
//! Enforced by the model:
//! - tracking an email ([`crate::tracking`]) is refused (422, nothing written) when any
//!   **counterpart** — a party (from, to, cc) that is not one of the user's own addresses —
//!   is on the user's or the organisation's never-log list (`never_log`), whoever else is on
//!   the email and whether or not the user insists; and when every party is the user or a
//!   colleague (`only_colleagues`), unless the request insists. The user's own address is
//!   never a counterpart, so an organisation rule naming it does not stop them;
//! - creating a contact (`POST /contacts`, the bar's *Add contact*) with an address that is
//!   the user's own (`own_address`), never-logged (`never_log`) or a colleague's
//!   (`colleague`) is refused (422 on `emails`). Contacts made before a rule existed stay;
//!   changing a contact and the CSV import are not checked (yet).

use serde::{Deserialize, Serialize};
use threadline_domain::address::EmailAddress;
use threadline_domain::api::UserRole;
use threadline_domain::privacy::{
    self as rules, check_tracking, NeverLogKind, NeverLogRule, NeverLogValue, PrivacyRules,
    PrivacyVerdict, RuleScope, TrackRefusal, MAX_INTERNAL_DOMAINS,
};
use threadline_storage::db::{self, id_text, parse_uuid, Conn};
use uuid::Uuid;

use crate::accounts;
use crate::actor::Actor;
use crate::error::{CrmError, CrmResult, Reason};

/// Most entries one list (a user's, or the organisation's) may hold.
pub const MAX_NEVER_LOG_ENTRIES: i64 = 10_000;

/// One never-log entry, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NeverLogEntry {
    pub id: Uuid,
    /// `me`: the caller's own; `organisation`: the organisation's (its owner manages them).
    pub scope: RuleScope,
    /// `address`, or `domain` (which covers its subdomains).
    pub kind: NeverLogKind,
    /// The normalised address, or the ASCII domain.
    pub value: String,
    pub created_at: String,
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    id: String,
    user_id: Option<String>,
    kind: String,
    value: String,
    created_at: String,
}

impl EntryRow {
    fn entry(self) -> CrmResult<NeverLogEntry> {
        Ok(NeverLogEntry {
            id: parse_uuid(&self.id)?,
            scope: if self.user_id.is_some() {
                RuleScope::Me
            } else {
                RuleScope::Organisation
            },
            kind: NeverLogKind::parse(&self.kind)
                .ok_or_else(|| CrmError::internal(format!("unknown kind {:?}", self.kind)))?,
            value: self.value,
            created_at: self.created_at,
        })
    }
}

const ENTRY_COLUMNS: &str = "id, user_id, kind, value, created_at";

/// The caller's entries and the organisation's: the caller's first, each list by kind
/// (addresses first) and value.
pub async fn never_log_entries(conn: &mut Conn, actor: &Actor) -> CrmResult<Vec<NeverLogEntry>> {
    let rows: Vec<EntryRow> = sqlx::query_as(&format!(
        "SELECT {ENTRY_COLUMNS} FROM never_log_entries
         WHERE org_id = $1 AND (user_id IS NULL OR user_id = $2)"
    ))
    .bind(id_text(actor.org_id))
    .bind(id_text(actor.user_id))
    .fetch_all(&mut *conn)
    .await?;
    let mut entries = rows
        .into_iter()
        .map(EntryRow::entry)
        .collect::<CrmResult<Vec<_>>>()?;
    entries
        .sort_by(|a, b| (a.scope, a.kind, &a.value, a.id).cmp(&(b.scope, b.kind, &b.value, b.id)));
    Ok(entries)
}

/// Refuses a member's change to the organisation's rules.
async fn require_owner(conn: &mut Conn, actor: &Actor, what: &str) -> CrmResult<()> {
    if accounts::role(conn, actor.user_id).await? == UserRole::Owner {
        return Ok(());
    }
    Err(CrmError::new(
        Reason::Forbidden,
        "forbidden",
        format!("only the organisation's owner may change {what}"),
    ))
}

/// Adds `raw` (an address or a domain) to the caller's list (`me`) or the organisation's
/// (owner only). Returns the entry and whether it is new: an entry the list already has
/// (same match key, or same domain) is answered as it is.
pub async fn add_never_log(
    conn: &mut Conn,
    actor: &Actor,
    raw: &str,
    scope: RuleScope,
) -> CrmResult<(NeverLogEntry, bool)> {
    let value = NeverLogValue::parse(raw).map_err(|e| CrmError::invalid("value", e.0))?;
    if scope == RuleScope::Organisation {
        require_owner(conn, actor, "the organisation's never-log list").await?;
    }
    let user = (scope == RuleScope::Me).then(|| id_text(actor.user_id));
    if let Some(existing) = find_entry(conn, actor.org_id, &value, user.as_deref()).await? {
        return Ok((existing, false));
    }
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM never_log_entries
         WHERE org_id = $1 AND (($2 IS NULL AND user_id IS NULL) OR user_id = $2)",
    )
    .bind(id_text(actor.org_id))
    .bind(&user)
    .fetch_one(&mut *conn)
    .await?;
    if count >= MAX_NEVER_LOG_ENTRIES {
        return Err(CrmError::new(
            Reason::Conflict,
            "too_many_entries",
            format!("the list is full ({MAX_NEVER_LOG_ENTRIES} entries): remove some first"),
        ));
    }
    let id = db::new_id();
    sqlx::query(
        "INSERT INTO never_log_entries
           (id, org_id, user_id, kind, value, match_key, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id_text(id))
    .bind(id_text(actor.org_id))
    .bind(&user)
    .bind(value.kind().as_str())
    .bind(value.value())
    .bind(value.key())
    .bind(id_text(actor.user_id))
    .bind(db::now())
    .execute(&mut *conn)
    .await?;
    let entry = find_entry(conn, actor.org_id, &value, user.as_deref())
        .await?
        .ok_or_else(|| CrmError::internal("the new never-log entry vanished"))?;
    Ok((entry, true))
}

/// The entry of the list (`user`'s, or the organisation's when None) with `value`'s key.
async fn find_entry(
    conn: &mut Conn,
    org: Uuid,
    value: &NeverLogValue,
    user: Option<&str>,
) -> CrmResult<Option<NeverLogEntry>> {
    let row: Option<EntryRow> = sqlx::query_as(&format!(
        "SELECT {ENTRY_COLUMNS} FROM never_log_entries
         WHERE org_id = $1 AND kind = $2 AND match_key = $3
           AND (($4 IS NULL AND user_id IS NULL) OR user_id = $4)"
    ))
    .bind(id_text(org))
    .bind(value.kind().as_str())
    .bind(value.key())
    .bind(user)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(EntryRow::entry).transpose()
}

/// Removes entry `id`: one of the caller's own, or the organisation's (owner only; a member
/// is refused with `forbidden`). Another user's entry is `not_found`, as a missing one.
pub async fn delete_never_log(
    conn: &mut Conn,
    actor: &Actor,
    id: Uuid,
) -> CrmResult<NeverLogEntry> {
    let row: Option<EntryRow> = sqlx::query_as(&format!(
        "SELECT {ENTRY_COLUMNS} FROM never_log_entries
         WHERE org_id = $1 AND id = $2 AND (user_id IS NULL OR user_id = $3)"
    ))
    .bind(id_text(actor.org_id))
    .bind(id_text(id))
    .bind(id_text(actor.user_id))
    .fetch_optional(&mut *conn)
    .await?;
    let entry = row.map(EntryRow::entry).transpose()?.ok_or_else(|| {
        CrmError::new(
            Reason::NotFound,
            "not_found",
            format!("there is no never-log entry with id {id}"),
        )
    })?;
    if entry.scope == RuleScope::Organisation {
        require_owner(conn, actor, "the organisation's never-log list").await?;
    }
    sqlx::query("DELETE FROM never_log_entries WHERE org_id = $1 AND id = $2")
        .bind(id_text(actor.org_id))
        .bind(id_text(id))
        .execute(&mut *conn)
        .await?;
    Ok(entry)
}

/// Where an organisation's internal domains come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DomainsSource {
    /// Set by the organisation's owner.
    Configured,
    /// Derived from the organisation's users' addresses (free-mail domains left out).
    Derived,
}

/// The organisation's internal domains, and where they come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InternalDomains {
    /// ASCII domains, sorted; each covers its subdomains.
    pub domains: Vec<String>,
    pub source: DomainsSource,
}

/// The organisation's internal domains: as configured, else derived.
pub async fn internal_domains(conn: &mut Conn, org: Uuid) -> CrmResult<InternalDomains> {
    let configured: Option<i64> =
        sqlx::query_scalar("SELECT internal_domains_configured FROM organisations WHERE id = $1")
            .bind(id_text(org))
            .fetch_optional(&mut *conn)
            .await?;
    if configured.unwrap_or(0) != 0 {
        let domains: Vec<String> = sqlx::query_scalar(
            "SELECT domain FROM organisation_domains WHERE org_id = $1 ORDER BY domain",
        )
        .bind(id_text(org))
        .fetch_all(&mut *conn)
        .await?;
        return Ok(InternalDomains {
            domains,
            source: DomainsSource::Configured,
        });
    }
    let addresses: Vec<String> = sqlx::query_scalar(
        "SELECT a.address FROM user_addresses a JOIN users u ON u.id = a.user_id
         WHERE u.org_id = $1",
    )
    .bind(id_text(org))
    .fetch_all(&mut *conn)
    .await?;
    Ok(InternalDomains {
        domains: rules::default_internal_domains(&addresses),
        source: DomainsSource::Derived,
    })
}

/// Sets the organisation's internal domains (owner only): `Some(list)` — each a domain, not
/// free-mail, not a public suffix; duplicates merged; at most [`MAX_INTERNAL_DOMAINS`];
/// may be empty (no colleagues by domain) — or `None`: derived from the users' addresses
/// again.
pub async fn set_internal_domains(
    conn: &mut Conn,
    actor: &Actor,
    domains: Option<&[String]>,
) -> CrmResult<InternalDomains> {
    let parsed = match domains {
        None => None,
        Some(list) => {
            if list.len() > MAX_INTERNAL_DOMAINS {
                return Err(CrmError::invalid(
                    "domains",
                    format!(
                        "too many domains ({}; at most {MAX_INTERNAL_DOMAINS})",
                        list.len()
                    ),
                ));
            }
            let mut parsed = Vec::with_capacity(list.len());
            for (i, raw) in list.iter().enumerate() {
                let domain = rules::parse_internal_domain(raw)
                    .map_err(|e| CrmError::invalid(format!("domains[{i}]"), e.0))?;
                parsed.push(domain);
            }
            parsed.sort();
            parsed.dedup();
            Some(parsed)
        }
    };
    require_owner(conn, actor, "the organisation's internal domains").await?;
    let org = id_text(actor.org_id);
    sqlx::query("DELETE FROM organisation_domains WHERE org_id = $1")
        .bind(&org)
        .execute(&mut *conn)
        .await?;
    for domain in parsed.iter().flatten() {
        sqlx::query("INSERT INTO organisation_domains (org_id, domain) VALUES ($1, $2)")
            .bind(&org)
            .bind(domain)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("UPDATE organisations SET internal_domains_configured = $1 WHERE id = $2")
        .bind(i64::from(parsed.is_some()))
        .bind(&org)
        .execute(&mut *conn)
        .await?;
    internal_domains(conn, actor.org_id).await
}

/// The actor's rules: own addresses (connected Google accounts included), the never-log
/// entries (theirs and the organisation's), the internal domains.
pub async fn rules_of(conn: &mut Conn, actor: &Actor) -> CrmResult<PrivacyRules> {
    let own = accounts::own_addresses(conn, actor.user_id).await?;
    let entries = never_log_entries(conn, actor).await?;
    let mut never_log = Vec::with_capacity(entries.len());
    for entry in entries {
        // A stored value always parses; should one not, it is skipped, never fatal.
        if let Some(value) = NeverLogValue::stored(entry.kind, &entry.value) {
            never_log.push(NeverLogRule {
                id: entry.id,
                scope: entry.scope,
                value,
            });
        }
    }
    let internal = internal_domains(conn, actor.org_id).await?.domains;
    Ok(PrivacyRules::new(&own, never_log, internal))
}

/// The sentence naming a never-log entry: "your never-log entry clinic.example".
fn entry_name(rule: &NeverLogRule) -> String {
    let list = match rule.scope {
        RuleScope::Me => "your",
        RuleScope::Organisation => "the organisation's",
    };
    format!(
        "{list} never-log entry {} (id {})",
        rule.value.value(),
        rule.id
    )
}

/// Refuses tracking an email with these parties (raw from, to and cc addresses) under
/// `rules` (see the module's rules): `never_log` or `only_colleagues`, 422.
pub fn check_email(rules: &PrivacyRules, parties: &[&str], insist: bool) -> CrmResult<()> {
    match check_tracking(rules, parties, insist) {
        Ok(()) => Ok(()),
        Err(TrackRefusal::NeverLog { address, rule }) => Err(CrmError::new(
            Reason::Unacceptable,
            "never_log",
            format!(
                "this email is not tracked: {address} is never logged, by {}",
                entry_name(rule)
            ),
        )),
        Err(TrackRefusal::OnlyColleagues) => Err(CrmError::new(
            Reason::Unacceptable,
            "only_colleagues",
            "this email is only between you and colleagues, so it is not tracked; \
             send \"insist\": true to track it anyway",
        )),
    }
}

/// Refuses a new contact's addresses that are the user's own, never-logged or a
/// colleague's (422 on `emails`, the message naming the address).
pub fn check_contact_addresses(rules: &PrivacyRules, emails: &[EmailAddress]) -> CrmResult<()> {
    for address in emails {
        let refusal = match rules.verdict(address) {
            None => continue,
            Some(PrivacyVerdict::Own) => (
                "own_address",
                format!("{address} is one of your own addresses, not a contact's"),
            ),
            Some(PrivacyVerdict::NeverLog(rule)) => (
                "never_log",
                format!(
                    "{address} is never logged, by {}: it cannot be a contact",
                    entry_name(rule)
                ),
            ),
            Some(PrivacyVerdict::Colleague(domain)) => (
                "colleague",
                format!(
                    "{address} is a colleague's (the organisation's domain {domain}), not a contact's"
                ),
            ),
        };
        return Err(CrmError::new(Reason::Unacceptable, refusal.0, refusal.1).with_field("emails"));
    }
    Ok(())
}
