//! The Calendar API v3 client (reqwest): the calls the calendar sync makes, with paging,
//! sync tokens, conditional writes and bounded, jittered back-off.
//!
//! - Every URL is built on a configurable base (`https://www.googleapis.com` in production,
//!   the local fake in tests); ids are path segments, percent-encoded by `url`.
//! - `events.list` always with `singleEvents=false` (series as masters plus exceptions, see
//!   `threadline-calendar-core`) and the same `maxResults`, since Google wants the same parameters on
//!   every call of one sync. Pages are followed to the end, including empty pages that carry
//!   a `nextPageToken`; the sync token is on the last page only.
//! - Retried, with back-off: 429, 403 `rateLimitExceeded`/`userRateLimitExceeded`, 5xx, and a
//!   request that got no answer. That is safe for every call we make: reads; inserts carry a
//!   client id (a repeat is 409, which the executor adopts); patches and deletes carry
//!   `If-Match` (a repeat of one that committed is 412 or 410, both handled). `Retry-After`
//!   (seconds or an HTTP date) is honoured; without it the pause is exponential with full
//!   jitter. Bounded by attempts and by the longest pause we agree to wait: beyond it the
//!   error goes back to the caller (the scheduler tries later), never a busy loop.
//! - Never logs a token (it is only in the `Authorization` header).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use threadline_calendar_core::Event;

/// Google's production base URL of the Calendar API.
pub const GOOGLE_API_BASE: &str = "https://www.googleapis.com";

/// Page size of `events.list` (Google's largest).
const PAGE_SIZE: &str = "2500";

pub use threadline_sync_engine::retry::RetryPolicy;
use threadline_sync_engine::retry::{parse_retry_after, with_retries, Retry};

/// Why a call failed (after its retries).
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// Google answered an error: status, the first `errors[].reason`, its message.
    #[error("Google Calendar answered {status} {reason}: {message}")]
    Status {
        status: u16,
        reason: String,
        message: String,
        /// What `Retry-After` asked for, when the answer was a throttle.
        retry_after: Option<Duration>,
    },
    /// No answer (connection refused or closed, timeout).
    #[error("no answer from Google Calendar: {0}")]
    Transport(String),
    /// An answer we could not read.
    #[error("an answer of Google Calendar could not be read: {0}")]
    Decode(String),
}

impl CallError {
    pub fn status(&self) -> Option<u16> {
        match self {
            CallError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Throttling or a passing server fault: worth trying again later.
    pub fn is_transient(&self) -> bool {
        match self {
            CallError::Status { status, reason, .. } => {
                *status == 429
                    || *status >= 500
                    || (*status == 403
                        && matches!(
                            reason.as_str(),
                            "rateLimitExceeded" | "userRateLimitExceeded"
                        ))
            }
            CallError::Transport(_) => true,
            CallError::Decode(_) => false,
        }
    }

    /// How the call that failed so may be tried again: a transient error after what
    /// `Retry-After` asked for, else after the back-off.
    fn retry(&self) -> Retry {
        match self {
            _ if !self.is_transient() => Retry::NoRetry,
            CallError::Status {
                retry_after: Some(asked),
                ..
            } => Retry::After(*asked),
            _ => Retry::Backoff,
        }
    }
}

/// One `calendarList` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CalendarEntry {
    pub id: String,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub primary: Option<bool>,
    #[serde(default)]
    pub access_role: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
    /// The calendar's colour in the user's list (`#rrggbb`).
    #[serde(default)]
    pub background_color: Option<String>,
}

/// What one complete (or failed-midway) `events.list` gave.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// The response's `timeZone` (the calendar's).
    pub time_zone: Option<String>,
    /// Every event of every page, as sent (raw JSON kept for what `Event` does not carry,
    /// e.g. `visibility`).
    pub events: Vec<Value>,
    pub next_sync_token: Option<String>,
    /// Requests made.
    pub requests: usize,
}

/// How a list ended when it could not finish.
#[derive(Debug)]
pub enum ListError {
    /// 410: the sync token is no longer valid; list again without it.
    SyncTokenExpired,
    Failed(CallError),
}

/// A write's answer: the event as Google stored it (with its new etag).
pub type Written = Event;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventsPage {
    #[serde(default)]
    items: Vec<Value>,
    #[serde(default)]
    next_page_token: Option<String>,
    #[serde(default)]
    next_sync_token: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CalendarListPage {
    #[serde(default)]
    items: Vec<CalendarEntry>,
    #[serde(default)]
    next_page_token: Option<String>,
}

/// The Calendar v3 client of one base URL. Cheap to clone (reqwest's pool is shared).
#[derive(Debug, Clone)]
pub struct CalendarClient {
    http: reqwest::Client,
    base: url::Url,
    retry: RetryPolicy,
}

impl CalendarClient {
    /// A client of the Calendar API at `base_url` (Google's documented root
    /// `https://www.googleapis.com/calendar/v3`, the server's `calendar_api_url`; or a local
    /// fake's).
    pub fn new(base_url: &str, retry: RetryPolicy) -> Result<CalendarClient, String> {
        let base = url::Url::parse(base_url.trim_end_matches('/'))
            .map_err(|e| format!("the Calendar API URL {base_url:?} is not a URL: {e}"))?;
        if base.cannot_be_a_base() {
            return Err(format!(
                "the Calendar API URL {base_url:?} cannot be a base"
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(CalendarClient { http, base, retry })
    }

    fn url(&self, segments: &[&str]) -> url::Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("checked in new")
            .pop_if_empty()
            .extend(segments);
        url
    }

    /// Every calendar of the account (all pages).
    pub async fn calendar_list(&self, token: &str) -> Result<Vec<CalendarEntry>, CallError> {
        let mut out = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut url = self.url(&["users", "me", "calendarList"]);
            if let Some(t) = &page_token {
                url.query_pairs_mut().append_pair("pageToken", t);
            }
            let page: CalendarListPage = self
                .call(token, Method::GET, url, None, None)
                .await
                .and_then(decode)?;
            out.extend(page.items);
            match page.next_page_token {
                Some(t) => page_token = Some(t),
                None => return Ok(out),
            }
        }
    }

    /// `calendarList.get`: one calendar of the account (its access role, its time zone).
    pub async fn calendar_entry(
        &self,
        token: &str,
        calendar_id: &str,
    ) -> Result<CalendarEntry, CallError> {
        let url = self.url(&["users", "me", "calendarList", calendar_id]);
        self.call(token, Method::GET, url, None, None)
            .await
            .and_then(decode)
    }

    /// `events.list` of `calendar_id` to its last page, incrementally from `sync_token` when
    /// given. A 410 on any page is [`ListError::SyncTokenExpired`]: the caller lists again
    /// without a token (nothing of this listing is used).
    pub async fn list_events(
        &self,
        token: &str,
        calendar_id: &str,
        sync_token: Option<&str>,
    ) -> Result<Listing, ListError> {
        let mut out = Listing::default();
        let mut page_token: Option<String> = None;
        loop {
            let mut url = self.url(&["calendars", calendar_id, "events"]);
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("singleEvents", "false")
                    .append_pair("maxResults", PAGE_SIZE);
                if let Some(s) = sync_token {
                    q.append_pair("syncToken", s);
                }
                if let Some(p) = &page_token {
                    q.append_pair("pageToken", p);
                }
            }
            out.requests += 1;
            let page: EventsPage = match self.call(token, Method::GET, url, None, None).await {
                Ok(v) => decode(v).map_err(ListError::Failed)?,
                Err(e) if e.status() == Some(410) => return Err(ListError::SyncTokenExpired),
                Err(e) => return Err(ListError::Failed(e)),
            };
            out.events.extend(page.items);
            if out.time_zone.is_none() {
                out.time_zone = page.time_zone;
            }
            // An empty page may still carry a nextPageToken: follow it, never stop early.
            match page.next_page_token {
                Some(p) => page_token = Some(p),
                None => {
                    out.next_sync_token = page.next_sync_token;
                    return Ok(out);
                }
            }
        }
    }

    /// `events.get` (a deleted event comes back whole, `status: cancelled`).
    pub async fn get_event(
        &self,
        token: &str,
        calendar_id: &str,
        event_id: &str,
    ) -> Result<Event, CallError> {
        let url = self.url(&["calendars", calendar_id, "events", event_id]);
        self.call(token, Method::GET, url, None, None)
            .await
            .and_then(decode)
    }

    /// `events.insert` with the body's client id.
    pub async fn insert_event(
        &self,
        token: &str,
        calendar_id: &str,
        body: &Event,
    ) -> Result<Written, CallError> {
        let url = self.url(&["calendars", calendar_id, "events"]);
        let body = serde_json::to_value(body).map_err(|e| CallError::Decode(e.to_string()))?;
        self.call(token, Method::POST, url, Some(body), None)
            .await
            .and_then(decode)
    }

    /// `events.patch` under `If-Match` (412 when the event changed meanwhile).
    pub async fn patch_event(
        &self,
        token: &str,
        calendar_id: &str,
        event_id: &str,
        patch: &Event,
        if_match: Option<&str>,
    ) -> Result<Written, CallError> {
        let url = self.url(&["calendars", calendar_id, "events", event_id]);
        let body = serde_json::to_value(patch).map_err(|e| CallError::Decode(e.to_string()))?;
        self.call(token, Method::PATCH, url, Some(body), if_match)
            .await
            .and_then(decode)
    }

    /// `events.delete` under `If-Match`. 404 and 410 (already gone) are success.
    pub async fn delete_event(
        &self,
        token: &str,
        calendar_id: &str,
        event_id: &str,
        if_match: Option<&str>,
    ) -> Result<(), CallError> {
        let url = self.url(&["calendars", calendar_id, "events", event_id]);
        match self.call(token, Method::DELETE, url, None, if_match).await {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.status(), Some(404 | 410)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// One call with its retries; the answer's JSON (`Null` for an empty body).
    async fn call(
        &self,
        token: &str,
        method: Method,
        url: url::Url,
        body: Option<Value>,
        if_match: Option<&str>,
    ) -> Result<Value, CallError> {
        with_retries(
            self.retry,
            "Google Calendar",
            || {
                let mut request = self
                    .http
                    .request(method.clone(), url.clone())
                    .bearer_auth(token);
                if let Some(etag) = if_match {
                    request = request.header(reqwest::header::IF_MATCH, etag);
                }
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
            CallError::retry,
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
    let error = &parsed["error"];
    Err(CallError::Status {
        status: status.as_u16(),
        reason: error["errors"][0]["reason"]
            .as_str()
            .unwrap_or("unknown")
            .to_string(),
        message: error["message"]
            .as_str()
            .unwrap_or_else(|| status.canonical_reason().unwrap_or(""))
            .to_string(),
        retry_after,
    })
}

fn decode<T: DeserializeOwned>(value: Value) -> Result<T, CallError> {
    serde_json::from_value(value).map_err(|e| CallError::Decode(e.to_string()))
}
