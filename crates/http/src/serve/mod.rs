//! Serving the application on a TCP listener, within limits: at most
//! [`ServeLimits::max_connections`] connections at once, each closed when its request head
//! is late ([`ServeLimits::header_read_timeout`]), when it idles between requests
//! ([`ServeLimits::idle_timeout`]), a request whose body stalls answered 408
//! ([`ServeLimits::body_timeout`]); and a graceful shutdown that waits for requests in
//! flight at most [`ServeLimits::shutdown_timeout`].
//!
//! Our own accept loop over hyper's HTTP/1 connections (what `axum::serve` does, plus the
//! limits it lacks): the server speaks HTTP/1.1 only (its clients are the extension and
//! scripts; browsers do not speak HTTP/2 without TLS), so hyper-util's automatic version
//! detection, which reads the first bytes with no deadline, is not needed. A connection
//! over the cap is accepted and closed at once, so that it holds no file descriptor.

mod body;
mod watch;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch as signal, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;

use crate::error::ApiError;
use body::{Answered, StallTimeout};
use watch::{Expired, Watch, Watched};

/// The limits of [`serve`]; [`ServeLimits::default`] is production's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeLimits {
    /// How long a client has to send a request's head (line and headers): from the
    /// accept for a new connection, from the request's first byte on a kept-alive one.
    pub header_read_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// How long a request body may stall (no byte) while the server reads it: then 408.
    pub body_timeout: Duration,
    /// Connections open at once; more are closed as soon as accepted.
    pub max_connections: usize,
    /// After Ctrl-C / SIGTERM, how long requests in flight may still take before their
    /// connections are closed.
    pub shutdown_timeout: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(30),
            max_connections: 512,
            shutdown_timeout: Duration::from_secs(20),
        }
    }
}

/// How often at most the same warning (connection limit, accept errors) is logged.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// A warning logged at most once per [`WARN_EVERY`], with how often it happened meanwhile.
struct RateLimitedWarning {
    last: Option<Instant>,
    since: u64,
}

impl RateLimitedWarning {
    fn new() -> Self {
        RateLimitedWarning {
            last: None,
            since: 0,
        }
    }

    /// Counts one occurrence; `Some(count)` when it is time to log (the occurrences since
    /// the last line, this one included).
    fn occurred(&mut self) -> Option<u64> {
        self.since += 1;
        let now = Instant::now();
        if self.last.is_some_and(|last| now < last + WARN_EVERY) {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.since))
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets requests in flight
/// finish (at most [`ServeLimits::shutdown_timeout`]) and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = Arc::new(limits);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = signal::channel(false);
    let mut connections = JoinSet::new();
    let mut over_cap = RateLimitedWarning::new();
    let mut accept_failures = RateLimitedWarning::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    if let Some(count) = accept_failures.occurred() {
                        tracing::warn!(error = %e, count, "cannot accept connections");
                    }
                    // Out of file descriptors, say: let some close.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            // Reap finished connections as they end.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            if let Some(refused) = over_cap.occurred() {
                tracing::warn!(
                    limit = limits.max_connections,
                    refused,
                    "connection limit reached: new connections are closed at once \
                     (--max-connections); `refused` counts them since the last such line"
                );
            }
            refuse(stream);
            continue;
        };
        let (app, limits, stopping) = (app.clone(), Arc::clone(&limits), stopping.clone());
        connections.spawn(async move {
            connection(stream, peer, app, &limits, stopping).await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    let open = connections.len();
    if open > 0 {
        tracing::info!(
            connections = open,
            "waiting for requests in flight to finish"
        );
    }
    let drained = tokio::time::timeout(limits.shutdown_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = connections.len(),
            deadline = ?limits.shutdown_timeout,
            "shutdown deadline passed: closing the connections still open \
             (--shutdown-timeout-seconds)"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// Closes a connection over the cap, telling the client why if its socket takes the bytes
/// at once (best effort: no wait).
fn refuse(stream: TcpStream) {
    const BODY: &str = r#"{"error":{"code":"unavailable","message":"the server has too many connections open; retry in a moment"}}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = stream.try_write(answer.as_bytes());
}

/// Serves one connection until it ends, outlives its phase, or the server shuts down
/// (then its request in flight is finished first, the shutdown deadline permitting).
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: &ServeLimits,
    mut stopping: signal::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let watch = Watch::new();
    let io = TokioIo::new(Watched::new(stream, Arc::clone(&watch)));
    let body_timeout = limits.body_timeout;
    let requests = Arc::clone(&watch);
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let busy = requests.request();
        let app = app.clone();
        async move {
            let stalled = Arc::new(AtomicBool::new(false));
            let mut request = request.map(|body| {
                axum::body::Body::new(StallTimeout::new(body, body_timeout, Arc::clone(&stalled)))
            });
            request.extensions_mut().insert(ConnectInfo(peer));
            let mut response = app.oneshot(request).await.unwrap_or_else(|e| match e {});
            if stalled.load(Ordering::Relaxed) {
                response = request_timeout(body_timeout);
            }
            Ok::<_, Infallible>(response.map(|body| Answered::new(body, busy)))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
    tokio::pin!(conn);
    let mut draining = *stopping.borrow();
    if draining {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(e) = served {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            why = watch.expired(limits.header_read_timeout, limits.idle_timeout) => {
                match why {
                    Expired::Head => tracing::debug!(%peer, "closed: the request head came too late"),
                    Expired::Idle => tracing::debug!(%peer, "closed: idle"),
                }
                return;
            }
            changed = stopping.changed(), if !draining => {
                draining = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// 408: the request's body stalled; the connection is closed after this answer.
fn request_timeout(after: Duration) -> Response {
    let mut response = ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        format!(
            "the request's body stopped arriving (nothing for {} s); send it again",
            after.as_secs()
        ),
    )
    .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    crate::app::set_api_headers(headers);
    response
}
