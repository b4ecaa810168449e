//! Fault injection shared by every service: a queue of rules, each matching a method and a
//! path pattern and firing a number of times. The first live rule that matches a request
//! decides its fate; the answer's body is in the shape of the provider that owns the path
//! (Google's error envelope today).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::log::FaultNote;
use crate::server::Hangup;
use crate::Shared;

/// What happens to a matching request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 `usageLimits/rateLimitExceeded`, with a `Retry-After: N` (seconds) header or without.
    TooManyRequests { retry_after: Option<u64> },
    /// 403 `usageLimits/rateLimitExceeded` or `userRateLimitExceeded` (Google answers rate
    /// limits with 403 or 429, to be handled alike).
    RateLimited403(RateLimitReason),
    /// 403 `calendar/forbiddenForNonOrganizer`, as when the event's organiser changed
    /// since it was read (the fake also answers it by rule: a non-organiser's change of a
    /// shared property).
    ForbiddenForNonOrganizer,
    /// 500 `global/backendError`.
    BackendError,
    /// 503 `global/backendError` ("The service is currently unavailable.").
    Unavailable,
    /// 401 `global/authError`, as for an expired access token (whatever token was sent).
    Unauthorized,
    /// The handler runs and commits its write; then the connection is closed without an
    /// answer, as when a response is lost after the server acted.
    DropResponseAfterCommit,
    /// The request waits this long, then is served normally.
    Delay(Duration),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitReason {
    RateLimitExceeded,
    UserRateLimitExceeded,
}

impl RateLimitReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RateLimitReason::RateLimitExceeded => "rateLimitExceeded",
            RateLimitReason::UserRateLimitExceeded => "userRateLimitExceeded",
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
}

impl FaultRule {
    /// Fires once, on every method and path, until narrowed with [`FaultRule::on`].
    pub fn new(fault: Fault) -> FaultRule {
        FaultRule {
            fault,
            method: None,
            path: "/**".to_string(),
            times: Times::Once,
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

    fn matches(&self, method: &str, path: &str) -> bool {
        if self.method.as_deref().is_some_and(|m| m != method) {
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
}

impl Faults {
    /// Queues a rule; rules are tried in the order they were queued.
    pub fn inject(&self, rule: FaultRule) -> FaultId {
        let mut next = self.next_id.lock().unwrap();
        *next += 1;
        let id = FaultId(*next);
        self.entries
            .lock()
            .unwrap()
            .push(Entry { id, rule, fired: 0 });
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

    /// Removes every rule, spent or not.
    pub fn clear(&self) {
        self.entries.lock().unwrap().clear();
    }

    /// The fault for this request, if a live rule matches (and counts it as fired).
    fn take(&self, method: &str, path: &str) -> Option<Fault> {
        let mut entries = self.entries.lock().unwrap();
        let entry = entries
            .iter_mut()
            .find(|e| e.live() && e.rule.matches(method, path))?;
        entry.fired += 1;
        Some(entry.rule.fault.clone())
    }
}

pub(crate) async fn middleware(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let Some(fault) = shared.faults.take(&method, &path) else {
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
        answered => crate::google::error::fault_response(&answered),
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
        let id = faults.inject(
            FaultRule::new(Fault::BackendError)
                .on("get", "/x")
                .times(Times::N(2)),
        );
        assert_eq!(faults.take("POST", "/x"), None, "another method");
        assert_eq!(faults.take("GET", "/x"), Some(Fault::BackendError));
        assert_eq!(faults.take("GET", "/x"), Some(Fault::BackendError));
        assert_eq!(faults.take("GET", "/x"), None, "spent");
        assert_eq!(faults.fired(id), 2);
    }
}
