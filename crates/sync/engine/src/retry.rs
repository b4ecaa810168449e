//! Retrying one provider call inside a run: bounded by attempts and by the longest pause
//! we agree to wait, honouring what the provider asked for (`Retry-After`), otherwise
//! exponential back-off with full jitter.
//!
//! Provider-neutral: the integration's client makes the call and says, per error, whether
//! and how it may be tried again ([`Retry`]); nothing here knows a provider, an API or an
//! HTTP library. A pause longer than [`RetryPolicy::max_delay`] is not waited here: the
//! error goes back to the caller and the scheduler comes back later (never a busy loop).

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

/// How failures that may pass are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub max_attempts: u32,
    /// The first pause without `Retry-After` (then doubled each time, with full jitter).
    pub base_delay: Duration,
    /// The longest single pause; a `Retry-After` beyond it is given back to the caller.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retry at all (tests that count requests).
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }
}

/// Whether a failed call may be tried again, and after what pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Not worth repeating (or not safe to): the error goes back at once.
    NoRetry,
    /// The provider asked for this pause (`Retry-After`).
    After(Duration),
    /// Worth repeating after the policy's back-off.
    Backoff,
}

/// Exponential back-off with full jitter: a random pause in [0, base × 2^(attempt−1)],
/// capped at the policy's longest pause. `attempt` counts from 1 (the call that failed).
pub fn backoff(policy: RetryPolicy, attempt: u32) -> Duration {
    let ceiling = policy
        .base_delay
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(policy.max_delay);
    let random = f64::from(getrandom::u32().unwrap_or(u32::MAX / 2)) / f64::from(u32::MAX);
    ceiling.mul_f64(random)
}

/// `Retry-After`: delay-seconds, or an HTTP date (IMF-fixdate, which RFC 2822 parsing
/// reads); a date already past is no wait.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// Runs `call` until it succeeds, `classify` says [`Retry::NoRetry`], the policy's attempts
/// are spent, or the provider asks for a pause longer than the policy's longest; the last
/// error is returned then. Each retry is logged at debug level as "`{what}` call failed;
/// trying again", with the attempt, the pause and the error.
pub async fn with_retries<T, E, Fut>(
    policy: RetryPolicy,
    what: &str,
    mut call: impl FnMut() -> Fut,
    classify: impl Fn(&E) -> Retry,
) -> Result<T, E>
where
    Fut: Future<Output = Result<T, E>>,
    E: Display,
{
    let mut attempt = 1;
    loop {
        let error = match call().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let retry = classify(&error);
        if retry == Retry::NoRetry || attempt >= policy.max_attempts {
            return Err(error);
        }
        let pause = match retry {
            Retry::After(asked) => {
                if asked > policy.max_delay {
                    // Longer than we wait inside a run: the scheduler comes back later.
                    return Err(error);
                }
                asked
            }
            _ => backoff(policy, attempt),
        };
        tracing::debug!(
            attempt,
            pause_ms = pause.as_millis() as u64,
            error = %error,
            "{what} call failed; trying again"
        );
        tokio::time::sleep(pause).await;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn quick(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(20),
        }
    }

    #[test]
    fn backoff_stays_under_a_doubling_ceiling_capped_at_the_longest_pause() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        for _ in 0..200 {
            assert!(backoff(policy, 1) <= Duration::from_millis(100));
            assert!(backoff(policy, 2) <= Duration::from_millis(200));
            assert!(backoff(policy, 3) <= Duration::from_millis(400));
            assert!(backoff(policy, 5) <= Duration::from_secs(1));
            assert!(backoff(policy, 40) <= Duration::from_secs(1));
            assert!(backoff(policy, u32::MAX) <= Duration::from_secs(1));
        }
        // Full jitter: not always the ceiling.
        let pauses: Vec<Duration> = (0..50).map(|_| backoff(policy, 4)).collect();
        assert!(pauses.iter().any(|p| *p < Duration::from_millis(800)));
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_an_http_date() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        let at = chrono::Utc::now() + chrono::Duration::seconds(90);
        let wait = parse_retry_after(&at.to_rfc2822()).unwrap();
        assert!(
            wait > Duration::from_secs(80) && wait <= Duration::from_secs(90),
            "{wait:?}"
        );
        let imf = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let wait = parse_retry_after(&imf).unwrap();
        assert!(
            wait > Duration::from_secs(80) && wait <= Duration::from_secs(90),
            "{wait:?}"
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-5"), None);
    }

    async fn count_calls(
        policy: RetryPolicy,
        retry: Retry,
        succeed_on: Option<u32>,
    ) -> (u32, Result<u32, String>) {
        let calls = Cell::new(0u32);
        let result = with_retries(
            policy,
            "Test",
            || {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move {
                    match succeed_on {
                        Some(k) if n >= k => Ok(n),
                        _ => Err(format!("failure {n}")),
                    }
                }
            },
            |_: &String| retry,
        )
        .await;
        (calls.get(), result)
    }

    #[tokio::test]
    async fn the_loop_tries_as_often_as_the_policy_allows() {
        let (calls, result) = count_calls(quick(4), Retry::Backoff, None).await;
        assert_eq!(calls, 4);
        assert_eq!(result, Err("failure 4".to_string()));
        let (calls, result) = count_calls(quick(4), Retry::Backoff, Some(3)).await;
        assert_eq!((calls, result), (3, Ok(3)));
        let (calls, _) = count_calls(RetryPolicy::none(), Retry::Backoff, None).await;
        assert_eq!(calls, 1);
        let (calls, result) = count_calls(quick(4), Retry::NoRetry, None).await;
        assert_eq!((calls, result), (1, Err("failure 1".to_string())));
    }

    #[tokio::test]
    async fn the_loop_honours_a_retry_after_within_the_cap_and_stops_beyond_it() {
        let (calls, _) = count_calls(quick(3), Retry::After(Duration::from_millis(5)), None).await;
        assert_eq!(calls, 3);
        let (calls, result) =
            count_calls(quick(3), Retry::After(Duration::from_millis(21)), None).await;
        assert_eq!((calls, result), (1, Err("failure 1".to_string())));
    }
}
