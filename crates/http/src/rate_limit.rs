//! Request rates: each API token, else each client address, may make
//! [`RateLimits::per_second`] requests a second on average, in bursts of at most
//! [`RateLimits::burst`]; past that, 429 `rate_limited` with `Retry-After`.
//!
//! A layer over every route ([`limit`]): it authenticates the request's token itself (the
//! key is the token, not what the header says, so made-up tokens share their address's
//! budget) and leaves the [`AuthUser`] in the request for the handler, which then does not
//! look it up again. Requests without a valid token count against the peer's IP address
//! (behind a reverse proxy: the proxy's). GCRA from the `governor` crate: one small state
//! per key, forgotten once its budget is full again ([`RateLimiter::sweep`]).

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::state::AppState;

/// The budget of each token (or address); [`RateLimits::default`] is production's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Requests per second, on average.
    pub per_second: NonZeroU32,
    /// Requests at once (after a pause) beyond the average.
    pub burst: NonZeroU32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            per_second: NonZeroU32::new(50).expect("non-zero"),
            burst: NonZeroU32::new(500).expect("non-zero"),
        }
    }
}

/// Whose budget a request is taken from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Caller {
    Token(Uuid),
    Address(IpAddr),
    /// No token and no peer address (a request made in-process).
    Unknown,
}

/// How often at most the states of callers whose budget is full again are dropped.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// The budgets of this process's callers.
pub struct RateLimiter {
    limiter: DefaultKeyedRateLimiter<Caller>,
    clock: DefaultClock,
    last_sweep: Mutex<Instant>,
}

impl RateLimiter {
    pub fn new(limits: RateLimits) -> Self {
        let quota = Quota::per_second(limits.per_second).allow_burst(limits.burst);
        RateLimiter {
            limiter: DefaultKeyedRateLimiter::keyed(quota),
            clock: DefaultClock::default(),
            last_sweep: Mutex::new(Instant::now()),
        }
    }

    /// `Err(wait)` when `caller` is over its budget: the time until its next request
    /// would be allowed.
    fn check(&self, caller: &Caller) -> Result<(), Duration> {
        self.sweep();
        self.limiter
            .check_key(caller)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets callers whose budget is full again (they are as if never seen), at most
    /// once per [`SWEEP_EVERY`]: the map holds recent callers only.
    /// Every request passes here: a request that finds another one looking does not wait
    /// for it (the sweep is due at most once a minute anyway).
    fn sweep(&self) {
        let mut last = match self.last_sweep.try_lock() {
            Ok(last) => last,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return,
        };
        if last.elapsed() >= SWEEP_EVERY {
            *last = Instant::now();
            drop(last);
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
    }
}

/// The layer: takes the request from its caller's budget, or answers 429.
pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let mut caller = None;
    if parts.headers.contains_key(header::AUTHORIZATION) {
        // A refused token is the handler's to answer (401), on the address's budget.
        if let Ok(user) = AuthUser::from_request_parts(&mut parts, &state).await {
            caller = Some(Caller::Token(user.token_id));
            parts.extensions.insert(user);
        }
    }
    let caller = caller.unwrap_or_else(|| {
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(Caller::Unknown, |peer| Caller::Address(peer.0.ip()))
    });
    match state.rate_limiter().check(&caller) {
        Ok(()) => next.run(Request::from_parts(parts, body)).await,
        Err(wait) => too_many_requests(wait),
    }
}

/// 429 with `Retry-After` (whole seconds, rounded up).
fn too_many_requests(wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many requests with this token (or from this address); retry in {seconds} s"),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}
