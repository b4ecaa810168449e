//! Prometheus metrics, served by `GET /metrics` (no token; see the README).
//!
//! - `http_request_duration_seconds` (histogram; its `_count` is the number of requests),
//!   labelled by `method`, `route` and `status` (the class: `2xx`, `4xx`, …). `route` is the
//!   route template that matched (`/api/v1/contacts/{id}`, from [`MatchedPath`]), never the
//!   raw path, so that ids do not multiply the series; a path no route matches is
//!   `unmatched`. The time is until the answer's head is ready (a streamed body may take
//!   longer).
//! - `db_pool_connections`, `db_pool_idle_connections`, `db_pool_max_connections` (gauges,
//!   read from the pool at each scrape).
//!
//! One [`Metrics`] per [`AppState`]: no global registry, so that tests do not see each
//! other's requests.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::error::ApiError;
use crate::state::AppState;

/// The OpenMetrics text format (Prometheus's text format, standardised), which Prometheus
/// asks for and parses natively.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Latency buckets in seconds: 1 ms to 10 s.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: &'static str,
}

/// The registry and the metrics in it.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Histogram, fn() -> Histogram>,
    pool_size: Gauge,
    pool_idle: Gauge,
    pool_max: Gauge,
}

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS.iter().copied())
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests: Family<RequestLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "HTTP requests by method, route template and status class, and how long they took",
            requests.clone(),
        );
        let pool_size = Gauge::default();
        let pool_idle = Gauge::default();
        let pool_max = Gauge::default();
        registry.register(
            "db_pool_connections",
            "Open database connections (in use and idle)",
            pool_size.clone(),
        );
        registry.register(
            "db_pool_idle_connections",
            "Idle database connections",
            pool_idle.clone(),
        );
        registry.register(
            "db_pool_max_connections",
            "Most database connections the pool opens",
            pool_max.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry,
                requests,
                pool_size,
                pool_idle,
                pool_max,
            }),
        }
    }

    fn observe(&self, method: &Method, route: String, status: StatusCode, seconds: f64) {
        let labels = RequestLabels {
            method: method_label(method),
            route,
            status: status_class(status),
        };
        self.inner.requests.get_or_create(&labels).observe(seconds);
    }
}

/// Standard methods by name; anything else is `other` (a client may send any token).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Middleware (`axum::middleware::from_fn_with_state`): times each request and records it
/// under its route template.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let response = next.run(request).await;
    state.metrics().observe(
        &method,
        route,
        response.status(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// `GET /metrics`: every metric, in the OpenMetrics text format.
pub async fn serve(State(state): State<AppState>) -> Result<Response, ApiError> {
    let metrics = state.metrics();
    let pool = state.db().pool();
    metrics.inner.pool_size.set(i64::from(pool.size()));
    metrics.inner.pool_idle.set(pool.num_idle() as i64);
    metrics
        .inner
        .pool_max
        .set(i64::from(pool.options().get_max_connections()));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &metrics.inner.registry)
        .map_err(|e| ApiError::internal(format!("cannot encode the metrics: {e}")))?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], Body::from(text)).into_response())
}
