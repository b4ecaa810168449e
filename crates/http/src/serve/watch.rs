//! What one connection is doing, and how long it may go on doing it.
//!
//! A connection is in one of three phases:
//!
//! - **head**: a request head is awaited and has begun (a new connection, from its accept;
//!   a kept-alive one, from the first byte of its next request): at most the header-read
//!   timeout until the head is complete;
//! - **idle**: a kept-alive connection between an answer and the first byte of the next
//!   request: at most the idle timeout;
//! - **busy**: requests are being handled (their bodies read under the body timeout, their
//!   answers written): no limit here.
//!
//! hyper's own `header_read_timeout` is not used: it starts when hyper is ready for the
//! next request, so it cannot tell a slow head from an idle kept-alive connection, and it
//! would close idle connections at the header deadline.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Head,
    Idle,
    Busy(usize),
}

/// Why a connection was closed by its watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// The request head did not arrive in time.
    Head,
    /// The kept-alive connection stayed idle too long.
    Idle,
}

/// The phase of one connection, shared by its socket, its requests and its watchdog.
pub struct Watch {
    state: Mutex<(Phase, Instant)>,
    changed: Notify,
}

impl Watch {
    /// A new connection: its first request's head is awaited from now.
    pub fn new() -> Arc<Watch> {
        Arc::new(Watch {
            state: Mutex::new((Phase::Head, Instant::now())),
            changed: Notify::new(),
        })
    }

    fn update(&self, change: impl FnOnce(Phase) -> Option<Phase>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(next) = change(state.0) {
            *state = (next, Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    /// Bytes arrived: an idle connection starts its next request's head.
    fn bytes_read(&self) {
        self.update(|phase| (phase == Phase::Idle).then_some(Phase::Head));
    }

    /// A request's head is complete: busy until the guard (moved into its answer's body)
    /// is dropped.
    pub fn request(self: &Arc<Self>) -> Busy {
        self.update(|phase| match phase {
            Phase::Busy(n) => Some(Phase::Busy(n + 1)),
            Phase::Head | Phase::Idle => Some(Phase::Busy(1)),
        });
        Busy(Arc::clone(self))
    }

    /// Resolves when the connection has outlived its phase's limit.
    pub async fn expired(&self, header_read: Duration, idle: Duration) -> Expired {
        loop {
            let (phase, since) = *self.state.lock().unwrap_or_else(|e| e.into_inner());
            let limit = match phase {
                Phase::Head => Some((since + header_read, Expired::Head)),
                Phase::Idle => Some((since + idle, Expired::Idle)),
                Phase::Busy(_) => None,
            };
            match limit {
                Some((deadline, why)) => tokio::select! {
                    () = tokio::time::sleep_until(deadline) => {
                        // Unless the phase changed meanwhile (then look again).
                        let now = *self.state.lock().unwrap_or_else(|e| e.into_inner());
                        if now == (phase, since) {
                            return why;
                        }
                    }
                    () = self.changed.notified() => {}
                },
                None => self.changed.notified().await,
            }
        }
    }
}

/// A request being handled; its drop (when its answer is written, or abandoned) ends it.
pub struct Busy(Arc<Watch>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.update(|phase| match phase {
            Phase::Busy(1) => Some(Phase::Idle),
            Phase::Busy(n) => Some(Phase::Busy(n - 1)),
            Phase::Head | Phase::Idle => None,
        });
    }
}

/// A socket that tells its [`Watch`] when bytes arrive.
pub struct Watched<S> {
    inner: S,
    watch: Arc<Watch>,
}

impl<S> Watched<S> {
    pub fn new(inner: S, watch: Arc<Watch>) -> Self {
        Watched { inner, watch }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.watch.bytes_read();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: Duration = Duration::from_secs(10);
    const IDLE: Duration = Duration::from_secs(60);

    #[tokio::test(start_paused = true)]
    async fn phases_have_their_own_limits() {
        let watch = Watch::new();
        let started = Instant::now();
        assert_eq!(watch.expired(HEAD, IDLE).await, Expired::Head);
        assert_eq!(started.elapsed(), HEAD);

        // Busy: no limit; then idle from the end of the answer.
        let busy = watch.request();
        let waited = tokio::time::timeout(IDLE * 10, watch.expired(HEAD, IDLE)).await;
        assert!(waited.is_err(), "a busy connection never expires");
        drop(busy);
        let idle_from = Instant::now();
        assert_eq!(watch.expired(HEAD, IDLE).await, Expired::Idle);
        assert_eq!(idle_from.elapsed(), IDLE);
    }

    #[tokio::test(start_paused = true)]
    async fn a_byte_after_idling_starts_the_head_deadline() {
        let watch = Watch::new();
        drop(watch.request());
        let expiry = {
            let watch = Arc::clone(&watch);
            tokio::spawn(async move { watch.expired(HEAD, IDLE).await })
        };
        tokio::time::sleep(Duration::from_secs(30)).await;
        watch.bytes_read();
        let head_from = Instant::now();
        assert_eq!(expiry.await.unwrap(), Expired::Head);
        assert_eq!(head_from.elapsed(), HEAD);
    }
}
