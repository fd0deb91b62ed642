//! Latency samples and their percentiles. A run has at most a few hundred
//! thousand samples, so they are kept whole and sorted once: exact
//! percentiles, no histogram buckets to explain.

use std::time::Duration;

use serde::Serialize;

/// Latencies in microseconds, in the order they were measured.
#[derive(Debug, Clone, Default)]
pub struct Samples(Vec<u64>);

impl Samples {
    pub fn push(&mut self, latency: Duration) {
        self.0.push(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
    }

    pub fn push_micros(&mut self, micros: u64) {
        self.0.push(micros);
    }

    pub fn extend(&mut self, other: &Samples) {
        self.0.extend_from_slice(&other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn summary(&self) -> Summary {
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        let ms = |us: u64| us as f64 / 1000.0;
        let total: u128 = sorted.iter().map(|&v| u128::from(v)).sum();
        Summary {
            count: sorted.len(),
            p50_ms: percentile(&sorted, 50.0).map(ms),
            p99_ms: percentile(&sorted, 99.0).map(ms),
            max_ms: sorted.last().copied().map(ms),
            mean_ms: (!sorted.is_empty()).then(|| total as f64 / sorted.len() as f64 / 1000.0),
        }
    }
}

/// Nearest-rank percentile of sorted values: the smallest value with at
/// least `p` % of the values at or below it. `None` when there are none.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// What a report shows of one kind of latency, in milliseconds; absent
/// values mean nothing was measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub count: usize,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub mean_ms: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_on_a_hundred_values() {
        let sorted: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&sorted, 50.0), Some(50));
        assert_eq!(percentile(&sorted, 99.0), Some(99));
        assert_eq!(percentile(&sorted, 100.0), Some(100));
        assert_eq!(percentile(&sorted, 0.0), Some(1));
    }

    #[test]
    fn small_sets_take_the_value_above() {
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[1, 2, 3], 50.0), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4], 50.0), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4], 99.0), Some(4));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn summary_in_milliseconds_whatever_the_order() {
        let mut s = Samples::default();
        for us in [3000, 1000, 2000, 4000] {
            s.push_micros(us);
        }
        s.push(Duration::from_millis(100));
        let summary = s.summary();
        assert_eq!(summary.count, 5);
        assert_eq!(summary.p50_ms, Some(3.0));
        assert_eq!(summary.p99_ms, Some(100.0));
        assert_eq!(summary.max_ms, Some(100.0));
        assert_eq!(summary.mean_ms, Some(22.0));
    }

    #[test]
    fn an_empty_summary_says_nothing_was_measured() {
        let summary = Samples::default().summary();
        assert_eq!((summary.count, summary.p50_ms, summary.mean_ms), (0, None, None));
    }
}
