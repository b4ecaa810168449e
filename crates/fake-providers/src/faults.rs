//! Fault injection shared by every service, in terms any provider has.
//!
//! A queue of rules, each matching a method and a path pattern and firing a number of times;
//! the first live rule that matches a request decides its fate. A [`Fault`] says *what* goes
//! wrong (too many requests, an expired token, not found, a server error, an answer lost after
//! the write committed…); the provider whose route the request matched says *how*, in its own
//! wire envelope: Google's `{"error":{"errors":[…],"code","message"}}` (Calendar) or
//! `{"error":{"code","message","status","details"}}` (People), per API
//! (`google::error::fault_response`), Dropbox's `{"error_summary","error":{".tag",…}}` or plain
//! text (`dropbox::error::fault_response`). This layer wraps each provider's router separately
//! (`layer`), so it knows the [`Provider`] without looking at the path.
//!
//! A condition only one provider has is that provider's own detail: [`Fault::Google`] carries
//! a [`GoogleFault`] (403 `forbiddenForNonOrganizer`, the 403 rate limits), [`Fault::Dropbox`]
//! a [`DropboxFault`] (429 `too_many_write_operations`, a route's own 409…). Such a rule fires
//! on that provider's requests only; on another provider's it does not match (nor count).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;

use crate::dropbox::DropboxFault;
use crate::google::GoogleFault;
use crate::log::FaultNote;
use crate::server::Hangup;
use crate::Shared;

/// What happens to a matching request.
///
/// The neutral variants are a closed list that every provider's envelope renders (a match
/// without a catch-all, so a new one does not compile until each provider says how it answers
/// it). A provider's own conditions are not neutral variants with a reason inside, because
/// another provider could not answer a foreign reason faithfully; they are that provider's
/// variant ([`Fault::Google`], [`Fault::Dropbox`]), rendered by it alone and fired on its
/// routes alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 Too Many Requests, with a `Retry-After: N` (seconds) header or without
    /// (Google: `usageLimits/rateLimitExceeded`; Dropbox: `too_many_requests`, `retry_after`
    /// in the body too. Dropbox always sends one, so `None` there tests a client's fallback).
    TooManyRequests { retry_after: Option<u64> },
    /// A usage quota is spent, answered the way the provider answers a spent quota, which need
    /// not be a 429 (Google: 403 `usageLimits/rateLimitExceeded`, the same bytes as
    /// `GoogleFault::RateLimited403(RateLimitReason::RateLimitExceeded)`; Dropbox, which has
    /// one answer to every rate limit: 429 `too_many_requests`, `retry_after` 1). A client must
    /// take it as "slow down", not as a refusal.
    QuotaExceeded,
    /// 400: the request is malformed; retrying it cannot help (Google: `global/badRequest`;
    /// Dropbox: plain text, `Error in call to API function "…": …`).
    BadRequest,
    /// 401, as for an expired access token, whatever token was sent (Google:
    /// `global/authError` with `WWW-Authenticate`; Dropbox: `expired_access_token`).
    Unauthorized,
    /// 403: the account may not do this (Google: `global/forbidden`; Dropbox: an
    /// `AccessError`, `invalid_account_type/endpoint`).
    Forbidden,
    /// The thing the request names does not exist (Google: 404 `global/notFound`; Dropbox:
    /// 409 `path/not_found`).
    NotFound,
    /// What the request would create is already there (Google: 409 `global/duplicate`;
    /// Dropbox: 409 `path/conflict/file`).
    Conflict,
    /// 500, a server error (Google: `global/backendError`; Dropbox: plain text).
    BackendError,
    /// 503, the service is unavailable for now (Google: `global/backendError`, "The service is
    /// currently unavailable."; Dropbox: plain text).
    Unavailable,
    /// The handler runs and commits its write; then the connection is closed without an
    /// answer, as when a response is lost after the server acted.
    DropResponseAfterCommit,
    /// The request waits this long, then is served normally.
    Delay(Duration),
    /// The request is held: neither served nor answered, its connection left open and
    /// silent (a stalled server or network) until the client gives up or goes away.
    /// [`Faults::until_held`] tells a test that a client is waiting there, e.g. to cancel
    /// the client at that very point.
    Hang,
    /// The handler runs and commits its write; then the answer is held as [`Fault::Hang`]
    /// holds a request: the client waits on a write that was made.
    HangAfterCommit,
    /// A condition only Google has, in Google's terms; fires on Google's routes only.
    Google(GoogleFault),
    /// A condition only Dropbox has, in Dropbox's terms; fires on Dropbox's routes only.
    Dropbox(DropboxFault),
}

impl Fault {
    /// The provider whose own condition this is; `None` for a neutral fault, which fires on
    /// any provider's requests.
    pub fn provider(&self) -> Option<Provider> {
        match self {
            Fault::Google(_) => Some(Provider::Google),
            Fault::Dropbox(_) => Some(Provider::Dropbox),
            _ => None,
        }
    }
}

/// The provider a service belongs to: it picks the envelope a fault is answered in, and which
/// provider-specific faults may fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    Google,
    Dropbox,
}

impl Provider {
    /// The answer to a fault that answers (not a delay nor a hang-up), in this provider's
    /// envelope. `path` is the request's path (an envelope may name the endpoint).
    fn fault_response(self, fault: &Fault, path: &str) -> Response {
        match self {
            Provider::Google => crate::google::error::fault_response(fault, path),
            Provider::Dropbox => crate::dropbox::error::fault_response(fault, path),
        }
    }
}

/// How many times a rule fires before it is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    Once,
    N(usize),
    Always,
}

/// A fault, where it applies and how often.
#[derive(Debug, Clone)]
pub struct FaultRule {
    fault: Fault,
    method: Option<String>,
    path: String,
    times: Times,
    /// Matching requests let through before it fires.
    after: usize,
}

impl FaultRule {
    /// Fires once, on every method and path (a provider's own fault: every path of that
    /// provider), until narrowed with [`FaultRule::on`].
    pub fn new(fault: Fault) -> FaultRule {
        FaultRule {
            fault,
            method: None,
            path: "/**".to_string(),
            times: Times::Once,
            after: 0,
        }
    }

    /// Only requests with this method (`"*"`: any) whose path matches `path`: segments are
    /// compared literally (after percent-decoding), `*` matches one segment and a final `**`
    /// any rest, e.g. `"/calendar/v3/calendars/*/events"` or `"/calendar/v3/**"`.
    pub fn on(mut self, method: &str, path: &str) -> FaultRule {
        self.method = (method != "*").then(|| method.to_ascii_uppercase());
        self.path = path.to_string();
        self
    }

    pub fn times(mut self, times: Times) -> FaultRule {
        self.times = times;
        self
    }

    /// Lets the first `n` requests it matches through, as if it were not queued (the next
    /// rules or the handler answer them); it fires from the next one on. `after(k - 1)` aims
    /// at the k-th matching request.
    pub fn after(mut self, n: usize) -> FaultRule {
        self.after = n;
        self
    }

    fn matches(&self, method: &str, path: &str, provider: Provider) -> bool {
        if self.method.as_deref().is_some_and(|m| m != method) {
            return false;
        }
        if self.fault.provider().is_some_and(|own| own != provider) {
            return false;
        }
        path_matches(&self.path, path)
    }
}

fn path_matches(pattern: &str, path: &str) -> bool {
    let mut wanted = pattern.trim_start_matches('/').split('/');
    let mut given = path.trim_start_matches('/').split('/');
    loop {
        match (wanted.next(), given.next()) {
            (Some("**"), _) => return true,
            (None, None) => return true,
            (Some("*"), Some(_)) => {}
            (Some(w), Some(g)) => {
                let decoded = percent_decode(g);
                if w != g && w != decoded {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

fn percent_decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// Identifies a queued rule, to ask how often it fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FaultId(u64);

struct Entry {
    id: FaultId,
    rule: FaultRule,
    /// Matching requests let through (up to the rule's `after`).
    passed: usize,
    fired: usize,
}

impl Entry {
    fn live(&self) -> bool {
        match self.rule.times {
            Times::Once => self.fired < 1,
            Times::N(n) => self.fired < n,
            Times::Always => true,
        }
    }
}

/// The queue of fault rules.
#[derive(Default)]
pub struct Faults {
    entries: Mutex<Vec<Entry>>,
    next_id: Mutex<u64>,
    /// How many requests a [`Fault::Hang`] or [`Fault::HangAfterCommit`] holds now or held.
    held: tokio::sync::watch::Sender<usize>,
}

impl Faults {
    /// Queues a rule; rules are tried in the order they were queued.
    pub fn inject(&self, rule: FaultRule) -> FaultId {
        let mut next = self.next_id.lock().unwrap();
        *next += 1;
        let id = FaultId(*next);
        self.entries.lock().unwrap().push(Entry {
            id,
            rule,
            passed: 0,
            fired: 0,
        });
        id
    }

    /// How many times the rule has fired.
    pub fn fired(&self, id: FaultId) -> usize {
        self.entries
            .lock()
            .unwrap()
            .iter()
            .find(|e| e.id == id)
            .map_or(0, |e| e.fired)
    }

    /// Waits until `n` requests in all have been held by [`Fault::Hang`] or
    /// [`Fault::HangAfterCommit`] (the latter once its write is committed): from then on the
    /// n-th one's client is waiting on it, and its write, if any, is made.
    pub async fn until_held(&self, n: usize) {
        let mut held = self.held.subscribe();
        held.wait_for(|count| *count >= n)
            .await
            .expect("the sender lives as long as the fake");
    }

    /// Removes every rule, spent or not.
    pub fn clear(&self) {
        self.entries.lock().unwrap().clear();
    }

    /// The fault for this request to this provider, if a live rule matches and has let
    /// through as many as it was told to (and counts it as fired).
    fn take(&self, method: &str, path: &str, provider: Provider) -> Option<Fault> {
        let mut entries = self.entries.lock().unwrap();
        for entry in entries
            .iter_mut()
            .filter(|e| e.live() && e.rule.matches(method, path, provider))
        {
            if entry.passed < entry.rule.after {
                entry.passed += 1;
                continue;
            }
            entry.fired += 1;
            return Some(entry.rule.fault.clone());
        }
        None
    }

    /// A request is held from now on.
    fn hold(&self) {
        self.held.send_modify(|count| *count += 1);
    }
}

/// Wraps one provider's routes in the fault layer: a request that matched one of them may be
/// answered by a fault, in that provider's envelope. (A request matching no route gets no
/// fault: its 404 is the router's.)
pub(crate) fn layer(
    routes: Router<Arc<Shared>>,
    shared: &Arc<Shared>,
    provider: Provider,
) -> Router<Arc<Shared>> {
    routes.layer(axum::middleware::from_fn_with_state(
        (shared.clone(), provider),
        middleware,
    ))
}

async fn middleware(
    State((shared, provider)): State<(Arc<Shared>, Provider)>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let Some(fault) = shared.faults.take(&method, &path, provider) else {
        return next.run(request).await;
    };
    if let Some(note) = request.extensions().get::<FaultNote>() {
        note.set(format!("{fault:?}"));
    }
    match fault {
        Fault::Delay(duration) => {
            tokio::time::sleep(duration).await;
            next.run(request).await
        }
        Fault::DropResponseAfterCommit => {
            let hangup = request.extensions().get::<Hangup>().cloned();
            let response = next.run(request).await;
            match hangup {
                Some(hangup) => {
                    drop(response);
                    hangup.fire();
                    // The connection task drops this future with the connection.
                    std::future::pending().await
                }
                None => response,
            }
        }
        Fault::Hang => {
            shared.faults.hold();
            // The connection task drops this future with the connection.
            std::future::pending().await
        }
        Fault::HangAfterCommit => {
            drop(next.run(request).await);
            shared.faults.hold();
            std::future::pending().await
        }
        Fault::Google(own) if own.after_commit() => {
            // Served and committed; the answer is then replaced by the fault's.
            drop(next.run(request).await);
            provider.fault_response(&fault, &path)
        }
        answered => provider.fault_response(&answered, &path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_segments_and_rests() {
        assert!(path_matches(
            "/calendar/v3/calendars/*/events",
            "/calendar/v3/calendars/primary/events"
        ));
        assert!(!path_matches(
            "/calendar/v3/calendars/*/events",
            "/calendar/v3/calendars/primary/events/abc"
        ));
        assert!(path_matches(
            "/calendar/v3/**",
            "/calendar/v3/calendars/primary/events/abc"
        ));
        assert!(path_matches(
            "/calendar/v3/calendars/a@b.com/events",
            "/calendar/v3/calendars/a%40b.com/events"
        ));
        assert!(!path_matches("/token", "/revoke"));
    }

    #[test]
    fn a_rule_fires_as_often_as_told() {
        let faults = Faults::default();
        let take = |method| faults.take(method, "/x", Provider::Google);
        let id = faults.inject(
            FaultRule::new(Fault::BackendError)
                .on("get", "/x")
                .times(Times::N(2)),
        );
        assert_eq!(take("POST"), None, "another method");
        assert_eq!(take("GET"), Some(Fault::BackendError));
        assert_eq!(take("GET"), Some(Fault::BackendError));
        assert_eq!(take("GET"), None, "spent");
        assert_eq!(faults.fired(id), 2);

        // Let through twice (the next rule answers), then fired.
        let late = faults.inject(FaultRule::new(Fault::Hang).on("POST", "/x").after(2));
        let early = faults.inject(FaultRule::new(Fault::Unavailable).on("*", "/x"));
        assert_eq!(take("POST"), Some(Fault::Unavailable));
        assert_eq!(take("POST"), None);
        assert_eq!(take("GET"), None, "not counted");
        assert_eq!(take("POST"), Some(Fault::Hang), "the third");
        assert_eq!(take("POST"), None, "spent");
        assert_eq!((faults.fired(late), faults.fired(early)), (1, 1));
    }

    #[test]
    fn a_providers_own_fault_fires_on_its_routes_only() {
        let faults = Faults::default();
        let google = Fault::Google(GoogleFault::ForbiddenForNonOrganizer);
        let dropbox = Fault::Dropbox(DropboxFault::InvalidAccessToken);
        let google_id = faults.inject(FaultRule::new(google.clone()));
        let dropbox_id = faults.inject(FaultRule::new(dropbox.clone()));
        faults.inject(FaultRule::new(Fault::Unavailable).times(Times::Always));

        let to_dropbox = || faults.take("POST", "/2/files/list_folder", Provider::Dropbox);
        let to_google = || {
            faults.take(
                "GET",
                "/calendar/v3/users/me/calendarList",
                Provider::Google,
            )
        };
        assert_eq!(to_dropbox(), Some(dropbox), "Google's rule is passed over");
        assert_eq!(
            to_dropbox(),
            Some(Fault::Unavailable),
            "a neutral rule fires on any"
        );
        assert_eq!(
            faults.fired(google_id),
            0,
            "not counted where it cannot fire"
        );
        assert_eq!(to_google(), Some(google));
        assert_eq!(to_google(), Some(Fault::Unavailable));
        assert_eq!((faults.fired(google_id), faults.fired(dropbox_id)), (1, 1));
    }

    /// Status, `Retry-After` and body of a fault as a provider answers it.
    async fn answered(provider: Provider, fault: &Fault) -> (u16, Option<String>, String) {
        let path = match provider {
            Provider::Google => "/calendar/v3/calendars/primary/events",
            Provider::Dropbox => "/2/files/list_folder",
        };
        let response = provider.fault_response(fault, path);
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            status,
            retry_after,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    /// Each neutral fault, answered by Google (its reason) and by Dropbox (its
    /// `error_summary`, or the text of a plain-text answer): the same condition, each
    /// provider's status and envelope.
    #[tokio::test]
    async fn the_same_neutral_fault_in_each_providers_envelope() {
        type Answer = (u16, &'static str, Option<&'static str>);
        let cases: [(Fault, Answer, Answer); 10] = [
            (
                Fault::TooManyRequests {
                    retry_after: Some(7),
                },
                (429, "rateLimitExceeded", Some("7")),
                (429, "too_many_requests/..", Some("7")),
            ),
            (
                Fault::TooManyRequests { retry_after: None },
                (429, "rateLimitExceeded", None),
                (429, "too_many_requests/..", None),
            ),
            (
                Fault::QuotaExceeded,
                (403, "rateLimitExceeded", None),
                (429, "too_many_requests/..", Some("1")),
            ),
            (
                Fault::BadRequest,
                (400, "badRequest", None),
                (
                    400,
                    "Error in call to API function \"files/list_folder\": request body: could not decode input as JSON",
                    None,
                ),
            ),
            (
                Fault::Unauthorized,
                (401, "authError", None),
                (401, "expired_access_token/..", None),
            ),
            (
                Fault::Forbidden,
                (403, "forbidden", None),
                (403, "invalid_account_type/endpoint/..", None),
            ),
            (
                Fault::NotFound,
                (404, "notFound", None),
                (409, "path/not_found/..", None),
            ),
            (
                Fault::Conflict,
                (409, "duplicate", None),
                (409, "path/conflict/file/..", None),
            ),
            (
                Fault::BackendError,
                (500, "backendError", None),
                (500, "Internal Server Error", None),
            ),
            (
                Fault::Unavailable,
                (503, "backendError", None),
                (503, "Service Unavailable", None),
            ),
        ];
        for (fault, google, dropbox) in cases {
            let (status, retry_after, body) = answered(Provider::Google, &fault).await;
            let body: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(
                (
                    status,
                    body["error"]["errors"][0]["reason"].as_str().unwrap(),
                    retry_after.as_deref()
                ),
                google,
                "Google, {fault:?}: {body}"
            );
            assert_eq!(body["error"]["code"], status, "{body}");
            let (status, retry_after, body) = answered(Provider::Dropbox, &fault).await;
            let summary = match serde_json::from_str::<serde_json::Value>(&body) {
                Ok(envelope) => envelope["error_summary"].as_str().unwrap().to_string(),
                Err(_) => body,
            };
            assert_eq!(
                (status, summary.as_str(), retry_after.as_deref()),
                dropbox,
                "Dropbox, {fault:?}"
            );
        }
    }
}
