//! The connection loop. Not `axum::serve`: the "dropped response" fault must close one
//! connection without writing a byte after the handler committed its write, which a handler
//! cannot do from inside axum. Each connection gets a [`Hangup`] in its requests' extensions;
//! firing it makes this loop drop that connection (the socket closes, the client sees a reset
//! or an early EOF, as after a lost response).

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tower::ServiceExt;

/// Closes the connection the request came on, without an answer.
#[derive(Clone)]
pub(crate) struct Hangup(Arc<Notify>);

impl Hangup {
    pub(crate) fn fire(&self) {
        // notify_one keeps a permit when the connection task is not waiting yet.
        self.0.notify_one();
    }
}

/// The accept loop and its connections; dropping it aborts them all.
pub(crate) struct Running {
    tasks: JoinSet<()>,
}

pub(crate) fn spawn(listener: TcpListener, router: Router) -> Running {
    let mut tasks = JoinSet::new();
    tasks.spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            let Ok((stream, _peer)) = listener.accept().await else {
                continue;
            };
            let hangup = Hangup(Arc::new(Notify::new()));
            let router = router.clone();
            let for_requests = hangup.clone();
            let service = tower::service_fn(move |mut request: hyper::Request<Incoming>| {
                request.extensions_mut().insert(for_requests.clone());
                let router = router.clone();
                async move {
                    let response = router.oneshot(request).await;
                    Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
                }
            });
            connections.spawn(async move {
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
                tokio::select! {
                    _ = connection => {}
                    // Dropping the connection future closes the socket, unanswered.
                    _ = hangup.0.notified() => {}
                }
            });
            // Reap finished connections so the set does not grow without bound.
            while connections.try_join_next().is_some() {}
        }
    });
    Running { tasks }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}
