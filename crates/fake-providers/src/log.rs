//! The request log: every request the fake served, with the route it matched, so tests and
//! benchmarks can count requests per endpoint ("a full sync of 1,000 events costs 4 list
//! calls"). Logs never hold a header or a body: no token ends up here.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::Shared;

/// One request, as served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    pub method: String,
    /// The path as sent, without the query.
    pub path: String,
    /// The query string as sent (no token travels in a query here: they go in headers and
    /// form bodies).
    pub query: Option<String>,
    /// The route pattern it matched, e.g. `/calendar/v3/calendars/{calendarId}/events`;
    /// `None` when no route matched (a 404).
    pub endpoint: Option<String>,
    /// The status answered; `None` when the connection was dropped without an answer.
    pub status: Option<u16>,
    /// The description of the fault that answered instead of the handler, if one did.
    pub fault: Option<String>,
}

/// Put in each request's extensions; the fault layer writes which fault it applied, so the
/// log can say so even when the fault hung up (and no response came back through here).
#[derive(Clone, Default)]
pub(crate) struct FaultNote(pub(crate) Arc<Mutex<Option<String>>>);

impl FaultNote {
    pub(crate) fn set(&self, description: String) {
        *self.0.lock().unwrap() = Some(description);
    }

    fn get(&self) -> Option<String> {
        self.0.lock().unwrap().clone()
    }
}

#[derive(Default)]
pub struct RequestLog {
    entries: Mutex<Vec<LoggedRequest>>,
}

impl RequestLog {
    /// Every request so far, in the order they finished.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.entries.lock().unwrap().clone()
    }

    /// How many requests with this method matched this route pattern
    /// (`count("GET", "/calendar/v3/calendars/{calendarId}/events")`).
    pub fn count(&self, method: &str, endpoint: &str) -> usize {
        self.entries
            .lock()
            .unwrap()
            .iter()
            .filter(|r| {
                r.method.eq_ignore_ascii_case(method) && r.endpoint.as_deref() == Some(endpoint)
            })
            .count()
    }

    /// Requests per `"METHOD endpoint"` (the route pattern; the path when no route matched),
    /// as a benchmark reports them.
    pub fn per_endpoint(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for r in self.entries.lock().unwrap().iter() {
            let endpoint = r.endpoint.as_deref().unwrap_or(&r.path);
            *out.entry(format!("{} {endpoint}", r.method)).or_default() += 1;
        }
        out
    }

    /// Every request served.
    pub fn total(&self) -> usize {
        self.entries.lock().unwrap().len()
    }

    pub fn clear(&self) {
        self.entries.lock().unwrap().clear();
    }

    pub(crate) fn push(&self, entry: LoggedRequest) {
        self.entries.lock().unwrap().push(entry);
    }
}

pub(crate) async fn middleware(
    State(shared): State<Arc<Shared>>,
    mut request: Request,
    next: Next,
) -> Response {
    let note = FaultNote::default();
    request.extensions_mut().insert(note.clone());
    let mut entry = LoggedRequest {
        method: request.method().to_string(),
        path: request.uri().path().to_string(),
        query: request.uri().query().map(str::to_string),
        endpoint: request
            .extensions()
            .get::<MatchedPath>()
            .map(|p| p.as_str().to_string()),
        status: None,
        fault: None,
    };
    // Logged when dropped, so a request whose connection a fault hung up is logged too
    // (with no status): the future is dropped mid-way in that case.
    let mut guard = LogOnDrop {
        log: &shared.log,
        entry: Some(entry.clone()),
        note: note.clone(),
    };
    let response = next.run(request).await;
    entry.status = Some(response.status().as_u16());
    guard.entry = Some(entry);
    response
}

struct LogOnDrop<'a> {
    log: &'a RequestLog,
    entry: Option<LoggedRequest>,
    note: FaultNote,
}

impl Drop for LogOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(mut entry) = self.entry.take() {
            entry.fault = self.note.get();
            self.log.push(entry);
        }
    }
}
