//! People API v1 (Google Contacts) under `/v1/people…` and `/v1/contactGroups…`, at the same
//! base URL as Calendar (Google's `https://people.googleapis.com/v1/…`).
//!
//! Checked against the People API's discovery document `people/v1`, revision `20240609`, as
//! vendored in googleapis/google-api-python-client
//! (`googleapiclient/discovery_cache/documents/people.v1.json`, commit
//! `00fb49d82909e24ec394c9d5aaee4a88fb0b2246`): method paths and HTTP verbs, parameter names
//! and which are required, the field names of `Person` and its parts, `ContactGroup`,
//! `PersonResponse`, the batch requests and responses, the valid field-mask paths, the
//! enums (`sortOrder`, `groupType`, `Source.type`, `ReadSourceType`) and the limits
//! (batchCreate/batchUpdate 200, batchDelete 500, connections `pageSize` 1..1000 default 100,
//! contactGroups `pageSize` 1..1000 default 30). `people:batchGet`'s 200 names is the text of
//! a newer generated client ("You can include up to 200 resource names in one request") and
//! the research (§1.2); members:modify's add + remove ≤ 1000 and contactGroups:batchGet's 200
//! come from the research only (the part of the document that says so was not read). The
//! older revision `20210322` (googleapis/google-api-nodejs-client
//! `discovery/people-v1.json`, commit `01d85d937971b3db705739a69300eb9bac01a562`) said "410 if
//! `sync_token` is … expired" and 50 names per `people:batchGet`; the 2024 text names an
//! ErrorInfo reason `EXPIRED_SYNC_TOKEN` instead, and the research (§1.2) 200 names.
//!
//! Per account (the access token's account, as Calendar): its contacts, its groups (the
//! system groups `contactGroups/myContacts` and `contactGroups/starred` exist from the start)
//! and a change log position (`head`) stamped on every write, so that a sync token is a
//! position in that log, as in the Calendar fake.
//!
//! Not verified against Google (no document says; chosen and noted here):
//! - The expired sync token's status: 400 `FAILED_PRECONDITION` "Sync token is expired. Clear
//!   local cache and retry call without the sync token." with ErrorInfo
//!   `EXPIRED_SYNC_TOKEN` (domain `people.googleapis.com`: assumed). That 400 is what clients
//!   report today; the 2021 document's 410 is gone from the 2024 one.
//! - The messages of most 400s (singletons, memberships, limits, masks), the 409 text on a
//!   duplicate group name, and the details of batch errors (`BatchCreateContactsErrorDetails`
//!   is named by the document but its fields are not public): a batch with one bad contact is
//!   refused whole (nothing written), with the first problem's message.
//! - `people:batchDeleteContacts` naming an unknown contact: 404, nothing deleted.
//! - Propagation delay: writes are hidden from incremental (`syncToken`) listings for the
//!   configured delay ([`GoogleFake::set_people_propagation_delay`]); full listings see them.
//!   A sync token never passes a hidden write, so it is served later (at least once).
//! - `nextSyncToken` is given on the last page when `requestSyncToken=true` or a `syncToken`
//!   was sent.
//! - A sync token is not tied to the other parameters of the listing that made it (the
//!   document says they "must match"; what Google answers when they do not is unknown). A
//!   page token is, and a mismatch is a 400.
//! - `people/me` (the user's profile) is not served (404): Threadline reads contacts only.
//! - `sortOrder` is checked against its enum, then ignored: the order is always
//!   `LAST_MODIFIED_ASCENDING` (the default).
//! - Output-only values the fake computes: `names[].displayName`/`displayNameLastFirst`/
//!   `unstructuredName`, `formattedType` of the predefined types (capitalised), the
//!   per-field `metadata {primary, sourcePrimary, source}`. Google's locale formatting and
//!   phone `canonicalForm` are not reproduced.
//! - Person fields Threadline does not use (events, relations, nicknames…) are stored and
//!   returned as sent: their insides are not checked against their schema.

mod connections;
mod contacts;
mod groups;
mod person;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::error::RpcError;
use super::oauth::authorize;
use super::GoogleFake;
use crate::util::query_pairs;
use crate::Shared;
pub(crate) use groups::Group;
pub(crate) use person::StoredPerson;

const READ_SCOPES: &[&str] = &["contacts", "contacts.readonly"];
const WRITE_SCOPES: &[&str] = &["contacts"];

/// Parameters every Google method accepts (the discovery document's top-level `parameters`).
const STANDARD_PARAMETERS: &[&str] = &[
    "$.xgafv",
    "access_token",
    "alt",
    "callback",
    "fields",
    "key",
    "oauth_token",
    "prettyPrint",
    "quotaUser",
    "uploadType",
    "upload_protocol",
];

#[derive(Default)]
pub(crate) struct PeopleState {
    /// Each account's contacts and groups, by email.
    books: BTreeMap<String, Book>,
    /// How long a write stays invisible to incremental listings.
    propagation_delay: chrono::Duration,
}

/// One account's contacts and groups.
pub(crate) struct Book {
    /// Contacts by id (`c…`), deleted ones kept as tombstones for incremental listings.
    pub(crate) people: BTreeMap<String, StoredPerson>,
    /// Groups by id (`myContacts`, `starred`, or a hex id), deleted ones kept as tombstones.
    pub(crate) groups: BTreeMap<String, Group>,
    /// The change log position: the stamp of the latest write.
    pub(crate) head: u64,
    /// Bumped to expire every sync token of the account.
    pub(crate) token_epoch: u64,
}

impl Book {
    fn new(now: DateTime<Utc>) -> Book {
        let mut book = Book {
            people: BTreeMap::new(),
            groups: BTreeMap::new(),
            head: 0,
            token_epoch: 0,
        };
        for id in ["myContacts", "starred"] {
            let stamp = book.next_stamp();
            book.groups
                .insert(id.to_string(), Group::system(id, now, stamp));
        }
        book
    }

    /// A new log position for a write.
    pub(crate) fn next_stamp(&mut self) -> u64 {
        self.head += 1;
        self.head
    }

    /// The live contact behind `people/{id}` (404 for an unknown or deleted one).
    pub(crate) fn person_mut(&mut self, id: &str) -> Result<&mut StoredPerson, RpcError> {
        self.people
            .get_mut(id)
            .filter(|p| !p.deleted)
            .ok_or_else(RpcError::not_found)
    }
}

/// What a handler is given besides the account's book.
pub(crate) struct Ctx {
    pub(crate) now: DateTime<Utc>,
    /// When a write made now becomes visible to incremental listings.
    pub(crate) visible_at: DateTime<Utc>,
    /// The account, for sync and page tokens.
    pub(crate) account: String,
}

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1/people:createContact", post(contacts::create))
        .route(
            "/v1/people:batchCreateContacts",
            post(contacts::batch_create),
        )
        .route(
            "/v1/people:batchUpdateContacts",
            post(contacts::batch_update),
        )
        .route(
            "/v1/people:batchDeleteContacts",
            post(contacts::batch_delete),
        )
        .route("/v1/people:batchGet", get(contacts::batch_get))
        // `{id}` and `{id}:updateContact` / `{id}:deleteContact` share a segment: the
        // handlers split the method suffix off.
        .route(
            "/v1/people/{person}",
            get(contacts::get_person)
                .patch(contacts::update)
                .delete(contacts::delete),
        )
        .route("/v1/people/{person}/connections", get(connections::list))
        .route("/v1/contactGroups", get(groups::list).post(groups::create))
        .route("/v1/contactGroups:batchGet", get(groups::batch_get))
        .route(
            "/v1/contactGroups/{group}",
            get(groups::get_group)
                .put(groups::update)
                .delete(groups::delete),
        )
        .route(
            "/v1/contactGroups/{group}/members:modify",
            post(groups::modify_members),
        )
}

/// Runs `f` on the caller's book after the bearer check (`scopes`: any one of them).
pub(crate) fn with_book<T>(
    shared: &Shared,
    headers: &HeaderMap,
    scopes: &[&str],
    f: impl FnOnce(&mut Book, &Ctx) -> Result<T, RpcError>,
) -> Result<T, RpcError> {
    let mut state = shared.google.lock();
    let caller = authorize(&state, headers, scopes)?;
    let now = state.now();
    let people = &mut state.people;
    let ctx = Ctx {
        now,
        visible_at: now + people.propagation_delay,
        account: caller.email.clone(),
    };
    let book = people
        .books
        .entry(caller.email)
        .or_insert_with(|| Book::new(now));
    f(book, &ctx)
}

/// A write whose parameters all travel in its JSON body (the batch methods, contactGroups'
/// writes): no query parameter but the standard ones, and a body object with only `names`.
pub(crate) fn with_request<T>(
    shared: &Shared,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &Bytes,
    names: &[&str],
    f: impl FnOnce(&mut Book, &Ctx, Map<String, Value>) -> Result<T, RpcError>,
) -> Result<T, RpcError> {
    with_book(shared, headers, WRITE_SCOPES, |book, ctx| {
        Query::parse(query, &[])?;
        let request = json_body(body)?;
        check_names(&request, names, "")?;
        f(book, ctx, request)
    })
}

/// Ends a listing's page: `nextSyncToken` at position `sync_at` when one is due, and
/// `totalItems` (left out when 0, as proto3 JSON does).
pub(crate) fn end_page(
    out: &mut Map<String, Value>,
    book: &Book,
    ctx: &Ctx,
    sync_at: Option<u64>,
    total: usize,
) {
    if let Some(position) = sync_at {
        out.insert(
            "nextSyncToken".into(),
            Value::String(connections::sync_token(
                &ctx.account,
                book.token_epoch,
                position,
                ctx.now,
            )),
        );
    }
    if total > 0 {
        out.insert("totalItems".into(), total.into());
    }
}

/// A request's query: checked against the method's parameters (an unknown one is refused
/// as Google's front end refuses it), then read by name.
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub(crate) fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<Query, RpcError> {
        let pairs = query_pairs(raw);
        if let Some((name, _)) = pairs.iter().find(|(n, _)| {
            !allowed.contains(&n.as_str()) && !STANDARD_PARAMETERS.contains(&n.as_str())
        }) {
            return Err(RpcError::bad_payload(
                "",
                format!("Invalid JSON payload received. Unknown name \"{name}\": Cannot bind query parameter. Field '{name}' could not be found in request message."),
            ));
        }
        Ok(Query(pairs))
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// `pageSize`: absent or 0 is `default`, else 1..=1000.
    pub(crate) fn page_size(&self, default: usize) -> Result<usize, RpcError> {
        const MAX_PAGE_SIZE: i64 = 1000;
        match self.int("pageSize")? {
            0 => Ok(default),
            n if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(usize::try_from(n).expect("1..=1000")),
            n => Err(RpcError::invalid_argument(format!(
                "Invalid pageSize: {n}. Valid values are between 1 and {MAX_PAGE_SIZE}, inclusive."
            ))),
        }
    }

    /// A boolean parameter (`true`/`false`; absent is false).
    pub(crate) fn flag(&self, name: &str) -> Result<bool, RpcError> {
        match self.get(name) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(RpcError::bad_payload(
                name,
                format!(
                    "Invalid value at '{}' (TYPE_BOOL), \"{other}\"",
                    snake(name)
                ),
            )),
        }
    }

    /// An int32 parameter; absent is 0.
    pub(crate) fn int(&self, name: &str) -> Result<i64, RpcError> {
        match self.get(name) {
            None => Ok(0),
            Some(v) => v.parse::<i32>().map(i64::from).map_err(|_| {
                RpcError::bad_payload(
                    name,
                    format!("Invalid value at '{}' (TYPE_INT32), \"{v}\"", snake(name)),
                )
            }),
        }
    }
}

/// A request body that must be a JSON object.
pub(crate) fn json_body(body: &Bytes) -> Result<Map<String, Value>, RpcError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| RpcError::bad_payload("", format!("Invalid JSON payload received. {e}")))?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(RpcError::bad_payload(
            "",
            format!("Invalid JSON payload received. Expected an object, got {other}."),
        )),
    }
}

/// `camelCase` → `snake_case`: Google names fields by their proto names in error paths.
pub(crate) fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// RFC 3339 with microseconds, as Google writes `updateTime`.
pub(crate) fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The fake's test-facing controls for People.
impl GoogleFake {
    /// Writes from now on stay invisible to incremental (`syncToken`) listings of
    /// connections for this long, as Google's "propagation delay of several minutes for sync
    /// requests". Measured on the fake's clock ([`GoogleFake::advance_clock`]).
    pub fn set_people_propagation_delay(&self, delay: Duration) {
        self.lock().people.propagation_delay =
            chrono::Duration::from_std(delay).expect("a sane duration");
    }

    /// Expires every People sync token of the account (connections and groups).
    pub fn expire_people_sync_tokens(&self, email: &str) {
        let mut state = self.lock();
        let now = state.now();
        state
            .people
            .books
            .entry(email.to_string())
            .or_insert_with(|| Book::new(now))
            .token_epoch += 1;
    }

    /// The account's live contacts, every field, as `people.get` with every field would
    /// answer them.
    pub fn people_contacts(&self, email: &str) -> Vec<Value> {
        let state = self.lock();
        let Some(book) = state.people.books.get(email) else {
            return Vec::new();
        };
        book.people
            .values()
            .filter(|p| !p.deleted)
            .map(|p| Value::Object(p.render(&person::ALL_FIELDS_MASK, false)))
            .collect()
    }

    /// Gives a contact a new resource name (as Google does when a contact becomes linked to
    /// a profile): the old one answers 404 from now on and is listed in
    /// `metadata.previousResourceNames` by incremental listings. Returns the new name.
    pub fn change_contact_resource_name(&self, email: &str, resource_name: &str) -> String {
        let mut state = self.lock();
        let now = state.now();
        let visible_at = now + state.people.propagation_delay;
        let book = state.people.books.get_mut(email).expect("a known account");
        let old_id = resource_name.strip_prefix("people/").expect("people/…");
        let mut person = book.people.remove(old_id).expect("a known contact");
        let stamp = book.next_stamp();
        let new_id = person::new_person_id();
        person
            .previous_resource_names
            .push(resource_name.to_string());
        person.id = new_id.clone();
        person.touch(now, visible_at, stamp);
        book.people.insert(new_id.clone(), person);
        format!("people/{new_id}")
    }

    /// A photo on a contact, as if set in Google Contacts (`photos` is output-only in the
    /// API): a client's updates must keep it.
    pub fn set_contact_photo(&self, email: &str, resource_name: &str, url: &str) {
        self.edit_contact(
            email,
            resource_name,
            serde_json::json!({"photos": [{"url": url}]}),
        );
    }

    /// An edit made in Google Contacts by the user: each top-level field of `fields` replaces
    /// the contact's (a new etag and log position).
    pub fn edit_contact(&self, email: &str, resource_name: &str, fields: Value) {
        let mut state = self.lock();
        let now = state.now();
        let visible_at = now + state.people.propagation_delay;
        let book = state.people.books.get_mut(email).expect("a known account");
        let id = resource_name.strip_prefix("people/").expect("people/…");
        let stamp = book.next_stamp();
        let person = book.person_mut(id).expect("a live contact");
        for (name, value) in fields.as_object().expect("an object") {
            person.fields.insert(name.clone(), value.clone());
        }
        person.touch(now, visible_at, stamp);
    }
}

/// Refuses a request message's unknown names, as Google's JSON front end does.
pub(crate) fn check_names(
    object: &Map<String, Value>,
    allowed: &[&str],
    at: &str,
) -> Result<(), RpcError> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some(name) => {
            let place = if at.is_empty() {
                String::new()
            } else {
                format!(" at '{at}'")
            };
            Err(RpcError::bad_payload(
                at,
                format!("Invalid JSON payload received. Unknown name \"{name}\"{place}: Cannot find field."),
            ))
        }
    }
}

/// The `sources` values a read accepts (`ReadSourceType`); the fake has contacts only, so
/// they do not change what is answered.
pub(crate) fn check_sources<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<(), RpcError> {
    const READ_SOURCE_TYPES: &[&str] = &[
        "READ_SOURCE_TYPE_UNSPECIFIED",
        "READ_SOURCE_TYPE_PROFILE",
        "READ_SOURCE_TYPE_CONTACT",
        "READ_SOURCE_TYPE_DOMAIN_CONTACT",
        "READ_SOURCE_TYPE_OTHER_CONTACT",
    ];
    for value in values {
        if !READ_SOURCE_TYPES.contains(&value) {
            return Err(RpcError::bad_payload(
                "sources",
                format!("Invalid value at 'sources' (type.googleapis.com/google.people.v1.ReadSourceType), \"{value}\""),
            ));
        }
    }
    Ok(())
}
