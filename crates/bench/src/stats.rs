//! Percentiles and throughput of a measured window (exact: every latency is kept).

use std::time::Duration;

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Requests that succeeded inside the window.
    pub requests: usize,
    pub errors: usize,
    /// The first few errors, to say what went wrong.
    pub sample_errors: Vec<String>,
    pub seconds: f64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Summary {
    pub fn of(mut latencies_us: Vec<u64>, errors: Vec<String>, window: Duration) -> Summary {
        latencies_us.sort_unstable();
        let ms = |us: u64| us as f64 / 1000.0;
        let seconds = window.as_secs_f64();
        Summary {
            requests: latencies_us.len(),
            errors: errors.len(),
            sample_errors: errors.into_iter().take(3).collect(),
            seconds,
            per_second: latencies_us.len() as f64 / seconds,
            p50_ms: ms(percentile(&latencies_us, 50.0)),
            p99_ms: ms(percentile(&latencies_us, 99.0)),
            max_ms: ms(latencies_us.last().copied().unwrap_or(0)),
        }
    }
}

/// The nearest-rank percentile of sorted values (0 when there are none).
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median of some figures (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
        let s = Summary::of(
            vec![3000, 1000, 2000],
            vec!["x".into()],
            Duration::from_secs(2),
        );
        assert_eq!((s.requests, s.errors, s.per_second), (3, 1, 1.5));
        assert_eq!((s.p50_ms, s.max_ms), (2.0, 3.0));
        assert_eq!(median(&[3.0, 1.0, 2.0, 10.0]), 2.5);
    }
}
