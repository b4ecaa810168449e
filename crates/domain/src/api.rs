//! JSON wire types of the Threadline server's `/api/v1`, shared by server and extension.
//!
//! Every request type rejects unknown fields so that a typo in a client is a clear 4xx,
//! not a silently ignored field.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Largest number of addresses one lookup may carry (a 100-message thread has far fewer
/// distinct addresses; the extension batches above this).
pub const MAX_LOOKUP_ADDRESSES: usize = 500;
/// Largest number of message ids one tracked-state query may carry.
pub const MAX_STATE_MESSAGES: usize = 500;

/// The error body of every non-2xx answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `invalid_field`, `unauthorized`, `not_found`.
    pub code: String,
    /// A sentence for a person.
    pub message: String,
    /// The request field at fault, when there is one (`emails[1]`, `due_date`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Identity

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserRef {
    pub id: Uuid,
    pub name: String,
    pub email: String,
}

/// `GET /api/v1/me`: the token's user, and the addresses that are the user's own (never
/// offered as "add contact").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeResponse {
    pub user: UserRef,
    /// The login address, aliases, and the addresses of the user's connected Google
    /// accounts.
    pub own_addresses: Vec<String>,
    /// `owner` manages the organisation's privacy rules; `member` does not.
    #[serde(default)]
    pub role: UserRole,
}

/// A user's role in their organisation: the first user of an organisation is its owner.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum UserRole {
    Owner,
    #[default]
    Member,
}

impl UserRole {
    pub fn as_str(self) -> &'static str {
        match self {
            UserRole::Owner => "owner",
            UserRole::Member => "member",
        }
    }
    /// The stored text; anything else is a member.
    pub fn parse(s: &str) -> UserRole {
        if s == "owner" {
            UserRole::Owner
        } else {
            UserRole::Member
        }
    }
}

// ---------------------------------------------------------------------------------------
// Contacts and companies

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CompanyRef {
    pub id: Uuid,
    pub name: String,
}

/// What the bar needs to show about a contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContactSummary {
    pub id: Uuid,
    pub first_name: String,
    pub last_name: String,
    /// Primary address, normalised.
    pub primary_email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<CompanyRef>,
}

impl ContactSummary {
    /// "First Last", or the primary address when the contact has no name.
    pub fn display_name(&self) -> String {
        let name = format!("{} {}", self.first_name.trim(), self.last_name.trim());
        let name = name.trim();
        if name.is_empty() {
            self.primary_email.clone()
        } else {
            name.to_string()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ContactBrief))]
pub struct Contact {
    pub id: Uuid,
    pub first_name: String,
    pub last_name: String,
    /// Normalised addresses, primary first.
    pub emails: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<CompanyRef>,
    #[serde(deserialize_with = "crate::date::rfc3339")]
    pub created_at: DateTime<Utc>,
}

/// Which company a new contact belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CompanyChoice {
    Existing {
        id: Uuid,
    },
    /// Created unless a company with this domain (or, without a domain, this exact name)
    /// already exists, in which case that one is used.
    New {
        name: String,
        #[serde(default)]
        domain: Option<String>,
    },
}

/// `POST /api/v1/contacts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewContact {
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    /// Primary first. At least one; each must be a valid address.
    pub emails: Vec<String>,
    #[serde(default)]
    pub company: Option<CompanyChoice>,
}

// ---------------------------------------------------------------------------------------
// Lookup

/// `POST /api/v1/lookup`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LookupRequest {
    pub addresses: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LookupResponse {
    /// One result per requested address, in request order.
    pub results: Vec<AddressLookup>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MatchStatus {
    /// Exactly one contact has this address.
    Known,
    /// Several contacts share this address: shown, never guessed.
    Ambiguous,
    /// No contact has it; may be added.
    Unknown,
    /// One of the user's own addresses: never offered as "add contact".
    Own,
    /// On the never-log list (the user's or the organisation's; `privacy` says which
    /// entry): never tracked, never offered as "add contact".
    NeverLog,
    /// A colleague: on one of the organisation's internal domains (`privacy` says which).
    /// Not a contact; an email only between colleagues is tracked only when insisted on.
    Colleague,
    /// Not an email address.
    Invalid,
}

/// Why an address is `never_log` or `colleague`.
///
/// Read through [`PrivacyReasonWire`]: serde's decoder of an internally tagged enum buffers
/// its input generically, which cost the WASM core 9 kB of code (measured).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(
    tag = "rule",
    rename_all = "snake_case",
    try_from = "PrivacyReasonWire"
)]
pub enum PrivacyReason {
    /// A never-log entry covers the address.
    NeverLog {
        /// `me`: the user's own list; `organisation`: the organisation's.
        scope: crate::privacy::RuleScope,
        /// The entry (`/api/v1/privacy/never-log`).
        entry_id: Uuid,
        /// What the entry names: an address, or a domain (which covers its subdomains).
        kind: crate::privacy::NeverLogKind,
        value: String,
    },
    /// The address is on this internal domain of the organisation (or a subdomain of it).
    Colleague { domain: String },
}

/// The wire form of [`PrivacyReason`], read flat.
#[derive(Deserialize)]
pub struct PrivacyReasonWire {
    rule: String,
    scope: Option<crate::privacy::RuleScope>,
    entry_id: Option<Uuid>,
    kind: Option<crate::privacy::NeverLogKind>,
    value: Option<String>,
    domain: Option<String>,
}

impl TryFrom<PrivacyReasonWire> for PrivacyReason {
    type Error = String;

    fn try_from(w: PrivacyReasonWire) -> Result<Self, String> {
        match (
            w.rule.as_str(),
            w.scope,
            w.entry_id,
            w.kind,
            w.value,
            w.domain,
        ) {
            ("never_log", Some(scope), Some(entry_id), Some(kind), Some(value), _) => {
                Ok(PrivacyReason::NeverLog {
                    scope,
                    entry_id,
                    kind,
                    value,
                })
            }
            ("colleague", _, _, _, _, Some(domain)) => Ok(PrivacyReason::Colleague { domain }),
            (rule, ..) => Err(format!(
                "not a privacy reason ({rule:?}, or a field missing)"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddressLookup {
    /// The address as the client sent it.
    pub address: String,
    /// Normalised form, absent when invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalized: Option<String>,
    pub status: MatchStatus,
    /// The matched contacts: one when `known`, two or more when `ambiguous`.
    #[serde(default)]
    pub contacts: Vec<ContactSummary>,
    /// Contacts that a looser rule would match (a `+tag`-stripped address on a domain where
    /// tags are not known to be ignored). Offered to the user, never linked automatically.
    #[serde(default)]
    pub suggestions: Vec<ContactSummary>,
    /// For `unknown`: the company a new contact would likely belong to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_company: Option<CompanySuggestion>,
    /// For `invalid`: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For `never_log` and `colleague`: the rule that applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<PrivacyReason>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CompanySuggestion {
    /// The registrable domain the suggestion comes from (`acme.co.uk`).
    pub domain: String,
    /// An existing company with this domain, if there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing: Option<CompanyRef>,
    /// The name to prefill: the existing company's, else one derived from the domain.
    pub name: String,
}

// ---------------------------------------------------------------------------------------
// Tracked emails

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Incoming,
    Outgoing,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Party {
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `POST /api/v1/tracked-emails`. Idempotent: an email is identified by any of its message
/// ids (Gmail legacy hex id, Gmail sync id such as `msg-a:r…`, RFC Message-ID); tracking it
/// again links any new records and returns the existing entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TrackEmailRequest {
    /// The best id known now (legacy hex when the page has it).
    pub gmail_message_id: String,
    /// Other ids of the same message (e.g. the `msg-a:r…` id of a just-sent message).
    #[serde(default)]
    pub alt_message_ids: Vec<String>,
    #[serde(default)]
    pub gmail_thread_id: Option<String>,
    #[serde(default)]
    pub rfc_message_id: Option<String>,
    pub direction: Direction,
    #[serde(default)]
    pub from: Option<Party>,
    #[serde(default)]
    pub to: Vec<Party>,
    #[serde(default)]
    pub cc: Vec<Party>,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub sent_at: Option<DateTime<Utc>>,
    /// Plain-text body or snippet, as far as the page shows it.
    #[serde(default)]
    pub body_text: Option<String>,
    /// Contacts whose timelines get the email; their companies get it too. At least one.
    pub contact_ids: Vec<Uuid>,
    /// The HTML body, when the client has it (kept up to 1 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html_body: Option<String>,
    /// Who sees the content: `private` (the default) shows it to the owner only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Visibility>,
    /// Track it even though every party is the user or a colleague (refused otherwise).
    /// Never overrides the never-log list.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insist: bool,
}

/// Who sees a tracked email's content: `private` — its owner only (colleagues see that an
/// email exists, not what it says) — or `shared` with the whole organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    Private,
    Shared,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Private => "private",
            Visibility::Shared => "shared",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = TimelineRecordKind))]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Contact,
    Company,
}

/// One timeline entry: the email on a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimelineLink {
    pub record_kind: RecordKind,
    pub record_id: Uuid,
    pub record_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrackedEmail {
    pub id: Uuid,
    pub gmail_message_id: String,
    pub message_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gmail_thread_id: Option<String>,
    pub direction: Direction,
    pub subject: String,
    pub links: Vec<TimelineLink>,
    #[serde(deserialize_with = "crate::date::rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Who tracked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<UserRef>,
    /// True when it is a colleague's private email: only that it is tracked, and by whom,
    /// is shown (no subject, no links).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redacted: bool,
    /// Its page in Threadline's web app (absolute). Absent when the server does not know
    /// where people reach it (no public URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrackEmailResponse {
    pub tracked_email: TrackedEmail,
    /// False when the email was already tracked (the answer is the existing entry).
    pub created: bool,
}

/// `POST /api/v1/tracked-emails/state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TrackedStateRequest {
    /// One entry per message on the page: all the ids the page knows for it.
    pub messages: Vec<MessageIds>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MessageIds {
    pub ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrackedStateResponse {
    /// In request order; `tracked_email` is absent for a message that is not tracked.
    pub messages: Vec<MessageState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracked_email: Option<TrackedEmail>,
    #[serde(default)]
    pub tasks: Vec<Task>,
}

// ---------------------------------------------------------------------------------------
// Tasks

/// `POST /api/v1/tasks`. Send an `Idempotency-Key` header to make retries safe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub due_date: Option<NaiveDate>,
    /// The email the task was made from.
    #[serde(default)]
    pub source_message_id: Option<String>,
    #[serde(default)]
    pub gmail_thread_id: Option<String>,
    /// A contact to link the task to.
    #[serde(default)]
    pub contact_id: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = TaskBrief))]
pub struct Task {
    pub id: Uuid,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::date::opt_ymd"
    )]
    pub due_date: Option<NaiveDate>,
    pub assignee: UserRef,
    pub done: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<Uuid>,
    #[serde(deserialize_with = "crate::date::rfc3339")]
    pub created_at: DateTime<Utc>,
}

// ---------------------------------------------------------------------------------------
// The contact panel

/// `GET /api/v1/contacts/{id}/card`: what the contact panel beside a thread shows, in one
/// answer. Every list is bounded (see [`crate::card`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContactCard {
    pub contact: ContactSummary,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    /// At most [`crate::card::CARD_PHONES`], in the contact's order.
    #[serde(default)]
    pub phones: Vec<CardPhone>,
    /// The last tracked emails on the contact's timeline, newest first (at most
    /// [`crate::card::CARD_EMAILS`]); a colleague's private one is `redacted` (no subject,
    /// no thread).
    #[serde(default)]
    pub emails: Vec<CardEmail>,
    /// True when the timeline has more emails than `emails`.
    #[serde(default)]
    pub more_emails: bool,
    /// Open tasks linked to the contact: due first (soonest first), then undated, oldest
    /// first (at most [`crate::card::CARD_TASKS`]).
    #[serde(default)]
    pub open_tasks: Vec<CardTask>,
    pub open_task_count: u32,
    /// How many files the contact's documents hold, and the newest few.
    pub document_count: u32,
    #[serde(default)]
    pub documents: Vec<CardDocument>,
    /// The contact's page in Threadline's web app (absolute). Absent when the server does not
    /// know where people reach it (no public URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CardPhone {
    pub number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// A tracked email on the card: its date (sent, else tracked) and subject; only that it
/// exists, and who tracked it, when it is a colleague's private one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CardEmail {
    pub id: Uuid,
    pub direction: Direction,
    #[serde(deserialize_with = "crate::date::rfc3339")]
    pub date: DateTime<Utc>,
    /// Empty when `redacted`.
    #[serde(default)]
    pub subject: String,
    pub owner: UserRef,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redacted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CardTask {
    pub id: Uuid,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CardDocument {
    pub id: Uuid,
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flat decoder of [`PrivacyReason`] reads what its tagged encoder writes.
    #[test]
    fn privacy_reasons_round_trip() {
        for reason in [
            PrivacyReason::NeverLog {
                scope: crate::privacy::RuleScope::Organisation,
                entry_id: Uuid::from_u128(7),
                kind: crate::privacy::NeverLogKind::Domain,
                value: "initech.de".into(),
            },
            PrivacyReason::Colleague {
                domain: "acme.com".into(),
            },
        ] {
            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(
                serde_json::from_str::<PrivacyReason>(&json).unwrap(),
                reason
            );
        }
        for bad in [
            r#"{"rule":"never_log","scope":"me"}"#,
            r#"{"rule":"colleague"}"#,
            r#"{"rule":"other","domain":"x.com"}"#,
            r#"{"domain":"x.com"}"#,
        ] {
            assert!(serde_json::from_str::<PrivacyReason>(bad).is_err(), "{bad}");
        }
    }
}
