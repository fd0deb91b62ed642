//! The uplink estimate for a peer that sends no transport-wide feedback
//! (TWCC): from what every RTP stack sends, its receiver reports — the
//! fraction of our packets it lost, and the round trip they let us
//! measure. Pure: fed once a second by the call's stats, time an input.
//!
//! Coarser than [`crate::estimate`] (one observation a second instead of
//! one per packet), so its thresholds are wider; the rules are the same in
//! spirit and GCC's loss-based controller (draft-ietf-rmcat-gcc §6):
//!
//! - a round trip [`QUEUED`] above the smallest seen: a queue stands on the
//!   path; back off to 85 %, at most once per
//!   [`BACKOFF_INTERVAL`] so one queue is one back-off;
//! - loss over [`HEAVY_LOSS`]: cut by half the loss;
//! - loss under [`LIGHT_LOSS`] and a round trip within [`CLEAR`] of the
//!   smallest: climb 8 % a second;
//! - in between: hold.
//!
//! Without any receiver report the estimate stays where it started: the
//! peer says nothing, and nothing is guessed.
//!
//! The call uses it when the peer's description does not negotiate
//! `transport-cc` (docs/protocol.md, "Congestion feedback"): its target
//! then paces media and documents in place of the TWCC estimator's.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A round trip this far above the smallest seen: a queue stands.
pub const QUEUED: Duration = Duration::from_millis(150);
/// Within this of the smallest round trip, the path is clear.
pub const CLEAR: Duration = Duration::from_millis(50);
/// Loss the line itself may have: climb below it.
pub const LIGHT_LOSS: f64 = 0.02;
/// Loss that is congestion: cut above it.
pub const HEAVY_LOSS: f64 = 0.10;
const INCREASE_PER_SECOND: f64 = 1.08;
const DECREASE_FACTOR: f64 = 0.85;
/// One back-off per queue: a report a second, a queue drains in seconds.
pub const BACKOFF_INTERVAL: Duration = Duration::from_secs(2);
/// The smallest round trip is taken over this long: a route change that
/// lengthens the path is learnt within it.
const BASE_WINDOW: Duration = Duration::from_secs(30);

/// The report estimate's target while the call uses it (bits per second;
/// 0: not in use), shared between the call's driver, which sets it, and
/// the pacer, which paces at it.
#[derive(Debug, Clone, Default)]
pub struct ReportedRate(Arc<AtomicU64>);

impl ReportedRate {
    /// Paces at `bits_per_second` from now on (0: back to TWCC).
    pub fn set(&self, bits_per_second: f64) {
        self.0.store(bits_per_second.max(0.0) as u64, Ordering::Relaxed);
    }

    /// The rate to pace at, if the call uses the report estimate.
    pub fn get(&self) -> Option<f64> {
        Some(self.0.load(Ordering::Relaxed)).filter(|&r| r > 0).map(|r| r as f64)
    }
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct ReportEstimate {
    min: f64,
    max: f64,
    target: f64,
    /// (when, round trip) of recent reports, for the smallest.
    rtts: VecDeque<(Instant, Duration)>,
    last_report: Option<Instant>,
    last_backoff: Option<Instant>,
}

impl ReportEstimate {
    /// Starts at `initial`, kept within `min..=max` (bits per second).
    pub fn new(initial: f64, min: f64, max: f64) -> Self {
        ReportEstimate { min, max, target: initial.clamp(min, max), rtts: VecDeque::new(), last_report: None, last_backoff: None }
    }

    /// The estimate, bits per second.
    pub fn target(&self) -> f64 {
        self.target
    }

    /// The peer's latest receiver report said it lost `fraction_lost` of
    /// our packets since the last one; `rtt` is the round trip measured
    /// now, if any. Returns the new target.
    pub fn handle_report(&mut self, now: Instant, fraction_lost: f64, rtt: Option<Duration>) -> f64 {
        let elapsed = self.last_report.map_or(Duration::ZERO, |t| now.saturating_duration_since(t)).min(Duration::from_secs(2));
        self.last_report = Some(now);
        let queue = rtt.map(|rtt| {
            self.rtts.push_back((now, rtt));
            while self.rtts.front().is_some_and(|(t, _)| now.saturating_duration_since(*t) > BASE_WINDOW) {
                self.rtts.pop_front();
            }
            let base = self.rtts.iter().map(|(_, r)| *r).min().unwrap_or(rtt);
            rtt.saturating_sub(base)
        });
        let loss = if fraction_lost.is_finite() { fraction_lost.clamp(0.0, 1.0) } else { 0.0 };
        let may_back_off = self.last_backoff.is_none_or(|t| now.saturating_duration_since(t) >= BACKOFF_INTERVAL);
        let queued = queue.is_some_and(|q| q > QUEUED);
        if (queued || loss > HEAVY_LOSS) && may_back_off {
            let mut target = self.target;
            if queued {
                target *= DECREASE_FACTOR;
            }
            if loss > HEAVY_LOSS {
                target *= 1.0 - 0.5 * loss;
            }
            tracing::debug!(from = self.target, to = target, ?queue, loss, "report estimate backs off");
            self.target = target.clamp(self.min, self.max);
            self.last_backoff = Some(now);
        } else if loss < LIGHT_LOSS && queue.is_none_or(|q| q <= CLEAR) {
            self.target = (self.target * INCREASE_PER_SECOND.powf(elapsed.as_secs_f64())).clamp(self.min, self.max);
        }
        self.target
    }
}

/// Whether a session description negotiates transport-wide congestion
/// feedback (`a=rtcp-fb:… transport-cc`) for any media.
pub fn negotiates_twcc(sdp: &str) -> bool {
    sdp.lines().any(|line| line.starts_with("a=rtcp-fb:") && line.split_whitespace().nth(1) == Some("transport-cc"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twcc_is_read_from_the_feedback_lines() {
        assert!(negotiates_twcc("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 transport-cc\r\n"));
        assert!(!negotiates_twcc("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 goog-remb\r\n"));
        assert!(!negotiates_twcc("a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"));
    }

    const S: Duration = Duration::from_secs(1);

    /// A link of `capacity` bits per second with a drop-tail queue of
    /// `queue_limit`, `base` round trip, a sender at the estimate: one
    /// report a second. Returns the targets, one per second.
    fn run(e: &mut ReportEstimate, t0: Instant, seconds: u32, capacity: f64, base: Duration, queue_limit: Duration) -> Vec<f64> {
        let mut queued = Duration::ZERO;
        (1..=seconds)
            .map(|s| {
                let sent = e.target();
                // The queue grows by what the link could not carry.
                let excess = (sent - capacity) / capacity;
                let grown = queued.as_secs_f64() + excess;
                let (queue, lost) = if grown > queue_limit.as_secs_f64() {
                    (queue_limit, (grown - queue_limit.as_secs_f64()) * capacity / sent)
                } else {
                    (Duration::from_secs_f64(grown.max(0.0)), 0.0)
                };
                queued = queue;
                e.handle_report(t0 + S * s, lost, Some(base + queue))
            })
            .collect()
    }

    #[test]
    fn with_no_loss_and_no_queue_it_climbs_eight_percent_a_second() {
        let t0 = Instant::now();
        let mut e = ReportEstimate::new(500_000.0, 100_000.0, 10_000_000.0);
        e.handle_report(t0, 0.0, Some(Duration::from_millis(40)));
        let after = e.handle_report(t0 + S, 0.0, Some(Duration::from_millis(41)));
        assert!((after - 540_000.0).abs() < 1.0, "{after}");
        let later = (2..=11).map(|s| e.handle_report(t0 + S * s, 0.0, Some(Duration::from_millis(40)))).last().unwrap();
        assert!(later > 1_000_000.0, "ten more seconds: {later}");
        // A silence between reports is not credit: at most two seconds' climb.
        let after_gap = e.handle_report(t0 + S * 60, 0.0, Some(Duration::from_millis(40)));
        assert!(after_gap <= later * 1.08f64.powi(2) + 1.0, "{later} -> {after_gap}");
    }

    #[test]
    fn heavy_loss_cuts_by_half_the_loss_and_a_standing_queue_backs_off_once_per_interval() {
        let t0 = Instant::now();
        let mut e = ReportEstimate::new(1_000_000.0, 100_000.0, 10_000_000.0);
        e.handle_report(t0, 0.0, Some(Duration::from_millis(40)));
        assert_eq!(e.handle_report(t0 + S, 0.2, None), 900_000.0, "20 % loss: -10 %");
        // 300 ms over the smallest: a queue. Backed off, then held while
        // it drains (the next report within the interval).
        let once = e.handle_report(t0 + S * 3, 0.0, Some(Duration::from_millis(340)));
        assert!((once - 765_000.0).abs() < 1.0, "{once}");
        assert_eq!(e.handle_report(t0 + S * 4, 0.0, Some(Duration::from_millis(300))), once, "held while draining");
        // Light loss and a round trip between clear and queued: hold.
        assert_eq!(e.handle_report(t0 + S * 6, 0.05, Some(Duration::from_millis(120))), once);
    }

    #[test]
    fn on_a_one_megabit_link_it_settles_near_the_link_without_reports_stopping_it() {
        let t0 = Instant::now();
        let mut e = ReportEstimate::new(300_000.0, 60_000.0, 10_000_000.0);
        let targets = run(&mut e, t0, 120, 1_000_000.0, Duration::from_millis(40), Duration::from_millis(500));
        let last_minute = &targets[60..];
        let mean = last_minute.iter().sum::<f64>() / last_minute.len() as f64;
        assert!((700_000.0..1_200_000.0).contains(&mean), "mean of the last minute {mean:.0} bit/s: {targets:.0?}");
        assert!(last_minute.iter().all(|t| *t < 1_400_000.0), "never far above the link: {last_minute:.0?}");
    }

    #[test]
    fn without_reports_it_stays_where_it_started() {
        let e = ReportEstimate::new(400_000.0, 60_000.0, 10_000_000.0);
        assert_eq!(e.target(), 400_000.0);
    }
}
