//! The People API v1 client (reqwest): the calls the contacts export makes, with paging,
//! sync tokens, and bounded, jittered back-off.
//!
//! - Every URL is built on a configurable root (`https://people.googleapis.com/v1` in
//!   production, the server's `people_api_url`; the local fake's `…/v1` in tests); names are
//!   path segments, percent-encoded by `url` (`people/c1` is two segments).
//! - Errors are People's google.rpc envelope (`{"error":{"code","message","status",
//!   "details":[ErrorInfo…]}}`), read into [`CallError::Status`] with the rpc `status` and
//!   the first ErrorInfo `reason` (or a v1 `errors[].reason`, which the bearer check may
//!   answer). [`CallError::failure`] classifies them with `contacts-core`'s `decide`.
//! - Retried here, with back-off: 429, 403 with a rate-limit reason, and — for calls that
//!   are safe to repeat (reads, updates under an etag, group membership) — 5xx and a request
//!   that got no answer. `batchCreateContacts` and `contactGroups.create` are *not* retried
//!   after a 5xx or a lost answer: the write may have happened, and the job adopts by
//!   `clientData` instead of creating twice. `Retry-After` is honoured; beyond the longest
//!   pause we agree to wait the error goes back to the caller (the scheduler backs off).
//! - 401 is never retried here: the run replaces the token once (the token source).
//! - Never logs a token (it is only in the `Authorization` header).

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use threadline_contacts_core::decide::{classify, Failure};
use threadline_contacts_core::owned::READ_PERSON_FIELDS;
use threadline_contacts_core::person::ClientData;
use threadline_contacts_core::Person;

/// Google's production root of the People API.
pub const PEOPLE_API_ROOT: &str = "https://people.googleapis.com/v1";

/// Page size of `people/me/connections` and `contactGroups.list` (Google's largest).
const PAGE_SIZE: &str = "1000";

/// Google's limits per batch.
pub const MAX_BATCH_CREATE: usize = 200;
pub const MAX_BATCH_UPDATE: usize = 200;
pub const MAX_BATCH_DELETE: usize = 500;
pub const MAX_BATCH_GET: usize = 200;
pub const MAX_MEMBERS_MODIFY: usize = 1000;

/// The group fields we read.
const GROUP_FIELDS: &str = "clientData,groupType,metadata,name";

pub use threadline_sync_engine::retry::RetryPolicy;
use threadline_sync_engine::retry::{parse_retry_after, with_retries, Retry};

/// Why a call failed (after its retries).
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// Google answered an error.
    #[error("the People API answered {status} {rpc_status} {reason}: {message}")]
    Status {
        status: u16,
        /// The google.rpc code name (`FAILED_PRECONDITION`, `NOT_FOUND`…), or "".
        rpc_status: String,
        /// The first ErrorInfo `reason` (`EXPIRED_SYNC_TOKEN`, `RATE_LIMIT_EXCEEDED`…) or
        /// v1 `errors[].reason`, or "".
        reason: String,
        message: String,
        /// What `Retry-After` asked for.
        retry_after: Option<Duration>,
    },
    /// No answer (connection refused or closed, timeout).
    #[error("no answer from the People API: {0}")]
    Transport(String),
    /// An answer we could not read.
    #[error("an answer of the People API could not be read: {0}")]
    Decode(String),
}

const RATE_REASONS: &[&str] = &[
    "RATE_LIMIT_EXCEEDED",
    "USER_RATE_LIMIT_EXCEEDED",
    "RESOURCE_EXHAUSTED",
    "rateLimitExceeded",
    "userRateLimitExceeded",
    "quotaExceeded",
];

impl CallError {
    pub fn status(&self) -> Option<u16> {
        match self {
            CallError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// 429, or 403 with a rate-limit reason.
    pub fn is_rate_limit(&self) -> bool {
        match self {
            CallError::Status { status: 429, .. } => true,
            CallError::Status {
                status: 403,
                reason,
                rpc_status,
                ..
            } => RATE_REASONS.contains(&reason.as_str()) || rpc_status == "RESOURCE_EXHAUSTED",
            _ => false,
        }
    }

    /// Throttling or a passing fault: worth trying again later.
    pub fn is_transient(&self) -> bool {
        match self {
            CallError::Status { status, .. } => *status >= 500 || self.is_rate_limit(),
            CallError::Transport(_) => true,
            CallError::Decode(_) => false,
        }
    }

    /// How a call of this kind that failed so may be tried again: a safe call after any
    /// transient error, a create only after a throttle; after what `Retry-After` asked for,
    /// else after the back-off.
    fn retry(&self, repeat: Repeat) -> Retry {
        let may_repeat = match repeat {
            Repeat::Safe => self.is_transient(),
            Repeat::OnlyThrottled => self.is_rate_limit(),
        };
        match self {
            _ if !may_repeat => Retry::NoRetry,
            CallError::Status {
                retry_after: Some(asked),
                ..
            } => Retry::After(*asked),
            _ => Retry::Backoff,
        }
    }

    /// 400 `FAILED_PRECONDITION` with ErrorInfo `EXPIRED_SYNC_TOKEN` (or the 410 of the
    /// older documents).
    pub fn is_expired_sync_token(&self) -> bool {
        match self {
            CallError::Status { status: 410, .. } => true,
            CallError::Status {
                status: 400,
                reason,
                ..
            } => reason == "EXPIRED_SYNC_TOKEN",
            _ => false,
        }
    }

    /// The core's classification (`decide::classify`), by status and reason.
    pub fn failure(&self) -> Failure {
        match self {
            _ if self.is_rate_limit() => Failure::RateLimited,
            CallError::Status {
                status,
                rpc_status,
                reason,
                ..
            } => {
                let named = if rpc_status.is_empty() {
                    reason
                } else {
                    rpc_status
                };
                classify(*status, Some(named.as_str()))
            }
            CallError::Transport(_) => classify(0, None),
            CallError::Decode(e) => Failure::Rejected(format!("unreadable answer: {e}")),
        }
    }
}

/// A contact group (`contactGroups/…`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ContactGroup {
    #[serde(default)]
    pub resource_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_data: Vec<ClientData>,
}

impl ContactGroup {
    pub fn client_data(&self, key: &str) -> Option<&str> {
        self.client_data
            .iter()
            .find(|d| d.key == key)
            .map(|d| d.value.as_str())
    }
}

/// What a complete `people/me/connections` listing gave.
#[derive(Debug, Clone, Default)]
pub struct Connections {
    /// Every person of every page (tombstones too, in an incremental listing).
    pub people: Vec<Person>,
    /// On the last page.
    pub next_sync_token: Option<String>,
    /// Requests made.
    pub requests: usize,
}

/// How a listing ended when it could not finish.
#[derive(Debug)]
pub enum ListError {
    /// The sync token expired (7 days): list again without it.
    SyncTokenExpired,
    Failed(CallError),
}

/// One answer of `people:batchGet`.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub requested: String,
    /// `httpStatusCode` (200, 404…).
    pub status: u16,
    pub person: Option<Person>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConnectionsPage {
    #[serde(default)]
    connections: Vec<Person>,
    #[serde(default)]
    next_page_token: Option<String>,
    #[serde(default)]
    next_sync_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupsPage {
    #[serde(default)]
    contact_groups: Vec<ContactGroup>,
    #[serde(default)]
    next_page_token: Option<String>,
}

/// Whether a call may be sent again after a 5xx or a lost answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    /// Reads, etag-guarded updates, membership changes, deletes.
    Safe,
    /// Creates: only a throttle (nothing was done) is retried.
    OnlyThrottled,
}

/// The People API v1 client of one root URL. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PeopleClient {
    http: reqwest::Client,
    base: url::Url,
    retry: RetryPolicy,
}

impl PeopleClient {
    /// A client of the People API at `root` (`https://people.googleapis.com/v1`, the
    /// server's `people_api_url`; or a local fake's).
    pub fn new(root: &str, retry: RetryPolicy) -> Result<PeopleClient, String> {
        let base = url::Url::parse(root.trim_end_matches('/'))
            .map_err(|e| format!("the People API URL {root:?} is not a URL: {e}"))?;
        if base.cannot_be_a_base() {
            return Err(format!("the People API URL {root:?} cannot be a base"));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(PeopleClient { http, base, retry })
    }

    fn url(&self, segments: &[&str]) -> url::Url {
        let mut url = self.base.clone();
        {
            let mut path = url.path_segments_mut().expect("checked in new");
            path.pop_if_empty();
            for s in segments {
                // A resource name (`people/c1`) is several segments.
                path.extend(s.split('/'));
            }
        }
        url
    }

    /// Every contact group of the user (all pages), with `clientData`.
    pub async fn list_groups(&self, token: &str) -> Result<Vec<ContactGroup>, CallError> {
        let mut out = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut url = self.url(&["contactGroups"]);
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("groupFields", GROUP_FIELDS)
                    .append_pair("pageSize", PAGE_SIZE);
                if let Some(t) = &page_token {
                    q.append_pair("pageToken", t);
                }
            }
            let page: GroupsPage = self
                .call(token, Method::GET, url, None, Repeat::Safe)
                .await
                .and_then(decode)?;
            out.extend(page.contact_groups);
            match page.next_page_token {
                Some(t) if !t.is_empty() => page_token = Some(t),
                _ => return Ok(out),
            }
        }
    }

    /// `contactGroups.get` of `name` (`contactGroups/…`): 404 once the user deleted it.
    pub async fn get_group(&self, token: &str, name: &str) -> Result<ContactGroup, CallError> {
        let mut url = self.url(&[name]);
        url.query_pairs_mut()
            .append_pair("groupFields", GROUP_FIELDS);
        self.call(token, Method::GET, url, None, Repeat::Safe)
            .await
            .and_then(decode)
    }

    /// `contactGroups.create` (409 when a group of that name exists).
    pub async fn create_group(
        &self,
        token: &str,
        name: &str,
        client_data: &[ClientData],
    ) -> Result<ContactGroup, CallError> {
        let body = json!({
            "contactGroup": { "name": name, "clientData": client_data },
            "readGroupFields": GROUP_FIELDS,
        });
        let url = self.url(&["contactGroups"]);
        self.call(token, Method::POST, url, Some(body), Repeat::OnlyThrottled)
            .await
            .and_then(decode)
    }

    /// `contactGroups.update` of the group's `clientData` only (its name kept).
    pub async fn stamp_group(
        &self,
        token: &str,
        group: &ContactGroup,
        client_data: &[ClientData],
    ) -> Result<ContactGroup, CallError> {
        let mut body_group = json!({ "name": group.name, "clientData": client_data });
        if let Some(etag) = &group.etag {
            body_group["etag"] = json!(etag);
        }
        let body = json!({
            "contactGroup": body_group,
            "updateGroupFields": "clientData",
            "readGroupFields": GROUP_FIELDS,
        });
        let url = self.url(&[&group.resource_name]);
        self.call(token, Method::PUT, url, Some(body), Repeat::Safe)
            .await
            .and_then(decode)
    }

    /// `people/me/connections` to its last page, `personFields` = the core's read fields,
    /// incrementally from `sync_token` when given, always asking for a new sync token.
    pub async fn list_connections(
        &self,
        token: &str,
        sync_token: Option<&str>,
    ) -> Result<Connections, ListError> {
        let mut out = Connections::default();
        let mut page_token: Option<String> = None;
        loop {
            let mut url = self.url(&["people", "me", "connections"]);
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("personFields", READ_PERSON_FIELDS)
                    .append_pair("pageSize", PAGE_SIZE)
                    .append_pair("requestSyncToken", "true");
                if let Some(s) = sync_token {
                    q.append_pair("syncToken", s);
                }
                if let Some(p) = &page_token {
                    q.append_pair("pageToken", p);
                }
            }
            out.requests += 1;
            let page: ConnectionsPage =
                match self.call(token, Method::GET, url, None, Repeat::Safe).await {
                    Ok(v) => decode(v).map_err(ListError::Failed)?,
                    Err(e) if e.is_expired_sync_token() => return Err(ListError::SyncTokenExpired),
                    Err(e) => return Err(ListError::Failed(e)),
                };
            out.people.extend(page.connections);
            match page.next_page_token {
                Some(p) if !p.is_empty() => page_token = Some(p),
                _ => {
                    out.next_sync_token = page.next_sync_token;
                    return Ok(out);
                }
            }
        }
    }

    /// `people:batchCreateContacts` (≤ 200), `readMask` = the core's read fields: the
    /// created persons, in the request's order. Not retried after a 5xx or a lost answer.
    pub async fn batch_create(
        &self,
        token: &str,
        persons: &[Person],
    ) -> Result<Vec<Person>, CallError> {
        let contacts: Vec<Value> = persons
            .iter()
            .map(|p| json!({ "contactPerson": p }))
            .collect();
        let body = json!({ "contacts": contacts, "readMask": READ_PERSON_FIELDS });
        let url = self.url(&["people:batchCreateContacts"]);
        let answer = self
            .call(token, Method::POST, url, Some(body), Repeat::OnlyThrottled)
            .await?;
        let created = answer["createdPeople"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        created
            .into_iter()
            .map(|r| decode::<Person>(r["person"].clone()))
            .collect()
    }

    /// `people:batchUpdateContacts` (≤ 200), each person with its etag, `updateMask` =
    /// `fields`: the updated persons by resourceName.
    pub async fn batch_update(
        &self,
        token: &str,
        persons: &[(String, Person)],
        fields: &str,
    ) -> Result<BTreeMap<String, Person>, CallError> {
        let contacts: serde_json::Map<String, Value> = persons
            .iter()
            .map(|(name, p)| Ok((name.clone(), serde_json::to_value(p)?)))
            .collect::<Result<_, serde_json::Error>>()
            .map_err(|e| CallError::Decode(e.to_string()))?;
        let body = json!({
            "contacts": contacts,
            "updateMask": fields,
            "readMask": READ_PERSON_FIELDS,
        });
        let url = self.url(&["people:batchUpdateContacts"]);
        let answer = self
            .call(token, Method::POST, url, Some(body), Repeat::Safe)
            .await?;
        let mut out = BTreeMap::new();
        if let Some(result) = answer["updateResult"].as_object() {
            for (name, r) in result {
                out.insert(name.clone(), decode::<Person>(r["person"].clone())?);
            }
        }
        Ok(out)
    }

    /// `people:batchDeleteContacts` (≤ 500).
    pub async fn batch_delete(&self, token: &str, names: &[String]) -> Result<(), CallError> {
        let body = json!({ "resourceNames": names });
        let url = self.url(&["people:batchDeleteContacts"]);
        self.call(token, Method::POST, url, Some(body), Repeat::Safe)
            .await
            .map(|_| ())
    }

    /// `people:batchGet` (≤ 200) with the core's read fields; one answer per name.
    pub async fn batch_get(
        &self,
        token: &str,
        names: &[String],
    ) -> Result<Vec<Fetched>, CallError> {
        let mut url = self.url(&["people:batchGet"]);
        {
            let mut q = url.query_pairs_mut();
            for n in names {
                q.append_pair("resourceNames", n);
            }
            q.append_pair("personFields", READ_PERSON_FIELDS);
        }
        let answer = self
            .call(token, Method::GET, url, None, Repeat::Safe)
            .await?;
        let responses = answer["responses"].as_array().cloned().unwrap_or_default();
        responses
            .into_iter()
            .map(|r| {
                let person = match r.get("person") {
                    Some(p) if !p.is_null() => Some(decode::<Person>(p.clone())?),
                    _ => None,
                };
                Ok(Fetched {
                    requested: r["requestedResourceName"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    status: r["httpStatusCode"]
                        .as_u64()
                        .map(|s| s as u16)
                        .unwrap_or(if person.is_some() { 200 } else { 404 }),
                    person,
                })
            })
            .collect()
    }

    /// `contactGroups/{id}/members:modify` adding `names` (≤ 1000).
    pub async fn add_members(
        &self,
        token: &str,
        group: &str,
        names: &[String],
    ) -> Result<(), CallError> {
        let body = json!({ "resourceNamesToAdd": names });
        // `contactGroups/{id}/members:modify`: the method is its own last segment.
        let url = self.url(&[group, "members:modify"]);
        self.call(token, Method::POST, url, Some(body), Repeat::Safe)
            .await
            .map(|_| ())
    }

    /// One call with its retries; the answer's JSON (`Null` for an empty body).
    async fn call(
        &self,
        token: &str,
        method: Method,
        url: url::Url,
        body: Option<Value>,
        repeat: Repeat,
    ) -> Result<Value, CallError> {
        with_retries(
            self.retry,
            "People API",
            || {
                let mut request = self
                    .http
                    .request(method.clone(), url.clone())
                    .bearer_auth(token);
                if let Some(b) = &body {
                    request = request.json(b);
                }
                async move {
                    match request.send().await {
                        Ok(response) => read(response).await,
                        Err(e) => Err(CallError::Transport(e.without_url().to_string())),
                    }
                }
            },
            |error: &CallError| error.retry(repeat),
        )
        .await
    }
}

async fn read(response: reqwest::Response) -> Result<Value, CallError> {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let bytes = response
        .bytes()
        .await
        .map_err(|e| CallError::Transport(e.without_url().to_string()))?;
    if status.is_success() {
        if bytes.is_empty() || status == StatusCode::NO_CONTENT {
            return Ok(Value::Null);
        }
        return serde_json::from_slice(&bytes).map_err(|e| CallError::Decode(e.to_string()));
    }
    let parsed: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Err(error_of(status, &parsed, retry_after))
}

/// An error answer, from either envelope (google.rpc or v1).
fn error_of(status: StatusCode, parsed: &Value, retry_after: Option<Duration>) -> CallError {
    let error = &parsed["error"];
    let info = error["details"]
        .as_array()
        .and_then(|d| {
            d.iter().find(|x| {
                x["@type"]
                    .as_str()
                    .is_some_and(|t| t.ends_with("ErrorInfo"))
            })
        })
        .and_then(|x| x["reason"].as_str());
    let reason = info
        .or_else(|| error["errors"][0]["reason"].as_str())
        .unwrap_or("")
        .to_string();
    CallError::Status {
        status: status.as_u16(),
        rpc_status: error["status"].as_str().unwrap_or("").to_string(),
        reason,
        message: error["message"]
            .as_str()
            .unwrap_or_else(|| status.canonical_reason().unwrap_or(""))
            .to_string(),
        retry_after,
    }
}

fn decode<T: DeserializeOwned>(value: Value) -> Result<T, CallError> {
    serde_json::from_value(value).map_err(|e| CallError::Decode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classified_by_status_and_reason() {
        let expired = error_of(
            StatusCode::BAD_REQUEST,
            &json!({"error": {"code": 400, "status": "FAILED_PRECONDITION", "message": "Sync token is expired.",
                "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "EXPIRED_SYNC_TOKEN"}]}}),
            None,
        );
        assert!(expired.is_expired_sync_token());
        let stale = error_of(
            StatusCode::BAD_REQUEST,
            &json!({"error": {"code": 400, "status": "FAILED_PRECONDITION", "message": "Request person.etag is different"}}),
            None,
        );
        assert!(!stale.is_expired_sync_token());
        assert_eq!(stale.failure(), Failure::StaleEtag);
        let user_rate = error_of(
            StatusCode::FORBIDDEN,
            &json!({"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "x",
                "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "USER_RATE_LIMIT_EXCEEDED"}]}}),
            None,
        );
        assert!(user_rate.is_transient());
        assert_eq!(user_rate.failure(), Failure::RateLimited);
        let denied = error_of(
            StatusCode::FORBIDDEN,
            &json!({"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "no"}}),
            None,
        );
        assert!(!denied.is_transient());
        let v1_auth = error_of(
            StatusCode::UNAUTHORIZED,
            &json!({"error": {"code": 401, "errors": [{"reason": "authError"}], "message": "Invalid Credentials"}}),
            None,
        );
        assert_eq!(v1_auth.failure(), Failure::Unauthorized);
        assert!(!v1_auth.is_transient());
        let gone = error_of(StatusCode::NOT_FOUND, &Value::Null, None);
        assert_eq!(gone.failure(), Failure::NotFound);
        assert!(error_of(StatusCode::BAD_GATEWAY, &Value::Null, None).is_transient());
    }

    #[test]
    fn resource_names_are_path_segments() {
        let c = PeopleClient::new("http://127.0.0.1:1/v1/", RetryPolicy::none()).unwrap();
        assert_eq!(
            c.url(&["contactGroups/abc"]).as_str(),
            "http://127.0.0.1:1/v1/contactGroups/abc"
        );
        assert_eq!(
            c.url(&["people:batchGet"]).as_str(),
            "http://127.0.0.1:1/v1/people:batchGet"
        );
    }
}
