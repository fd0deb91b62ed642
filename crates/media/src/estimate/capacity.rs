//! The link's capacity as the back-offs found it, and how fast the estimate
//! climbs near it (docs/decisions.md #379, #380).
//!
//! After the benchmark's 1 → 0.3 Mbit/s drop an 8 %/s climb reached the
//! thin link and went 10 % over it in a 1 s window every few seconds: the
//! queue delay says "full" only some time after the link is. So near what
//! the path carried at the last back-off the climb is gentle (3 %/s), and
//! only a back-off on a queue that stood through the whole rate window
//! counts: a keyframe's or a retransmission burst's short queue comes with
//! a received rate far under the link (seen: 180–210 kbit/s on 300), and a
//! capacity taken from it ended the gentle climb far under the link.
//!
//! The capacity is the highest of those readings over the last
//! [`MEMORY`], a reading under half of it starting afresh (the link
//! dropped): a single reading can be low with a full link (seen after the
//! drop on satellite: 157 kbit/s acknowledged through a standing queue on a
//! 300 kbit/s link, between readings of 223–285), and a capacity that low
//! ends the gentle band early and lets the climb probe over the link.
//!
//! Past the capacity the climb speeds up again as soon as the path carries
//! more than the capacity without a queue (the link came back), or at
//! [`FORGET_ABOVE`] × it at the latest: the way back up to a restored link
//! must not wait out the gentle band. A link that came back is probed: the
//! growth doubles each second from 8 % up to [`PROBE_MAX`] until the next
//! back-off (the climb from 0.3 back to 1 Mbit/s at 8 %/s took 11 s).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// From this share of the capacity found, the climb is gentle (and a 40 ms
/// queue backs off): the capacity is read from what feedback reports, the
/// link also carries SRTP, UDP and IP headers (audio's small packets: 40 %
/// more), so the link is full already at 0.93–0.95 × it. Seen on adsl-poor
/// with 1.0: back-offs on 80–93 ms queues at 0.96 × the capacity, and
/// 1 s windows of 331–334 kbit/s on the 300 kbit/s link.
const GENTLE_FROM: f64 = 0.9;
/// Growth per second in the gentle band.
pub(super) const GENTLE_PER_SECOND: f64 = 1.03;
/// The path carrying this much more than the capacity, without a queue,
/// for [`CARRIED_PAST_FOR`]: the link has more room, the capacity is
/// forgotten. Not on one feedback: at 300 kbit/s one packet more or less
/// in the rate window is 7 %.
const CARRIED_PAST: f64 = 1.03;
const CARRIED_PAST_FOR: f64 = 1.0;
/// The estimate this far over the capacity without meeting a queue: forgotten
/// (a sender that does not fill the estimate never shows the path carrying more).
const FORGET_ABOVE: f64 = 1.1;
/// Readings of the capacity are kept this long.
const MEMORY: Duration = Duration::from_secs(10);
/// A reading under this share of the capacity: the link dropped.
const DROPPED: f64 = 0.5;
/// The most a probe grows the estimate in a second.
const PROBE_MAX: f64 = 0.32;

/// What the path carried at the back-offs on standing queues.
#[derive(Debug, Default, Clone)]
pub(super) struct Capacity {
    /// The highest reading kept.
    found: Option<f64>,
    /// Readings on standing queues: when, and what the path carried.
    readings: VecDeque<(Instant, f64)>,
    /// Seconds since the capacity was forgotten with no queue, until the
    /// next back-off.
    probing_s: Option<f64>,
    /// How long the path has carried more than the capacity with no queue.
    past_s: f64,
}

impl Capacity {
    pub(super) fn get(&self) -> Option<f64> {
        self.found
    }

    /// A back-off read `carried` bits per second; `standing` says whether
    /// the queue stood through the whole window that rate was read over
    /// (then the link was busy all along, and `carried` is its rate).
    pub(super) fn on_backoff(&mut self, now: Instant, carried: f64, standing: bool) {
        self.probing_s = None;
        self.past_s = 0.0;
        if !standing {
            return;
        }
        if self.found.is_some_and(|c| carried < c * DROPPED) {
            self.readings.clear();
        }
        self.readings.retain(|(at, _)| now.saturating_duration_since(*at) < MEMORY);
        self.readings.push_back((now, carried));
        self.found = self.readings.iter().map(|(_, c)| *c).reduce(f64::max);
    }

    /// The growth per second for a climb from `target`, the path having
    /// carried `carried` (if known) with no queue; `fast` is the growth
    /// away from any capacity. Forgets the capacity once the climb is past it.
    /// `elapsed` is the time since the last step (seconds).
    pub(super) fn growth(&mut self, target: f64, carried: Option<f64>, fast: f64, elapsed: f64) -> f64 {
        if let Some(s) = &mut self.probing_s {
            *s += elapsed;
            return 1.0 + ((fast - 1.0) * 2f64.powf(*s)).min(PROBE_MAX);
        }
        let Some(found) = self.found else { return fast };
        self.past_s = if carried.is_some_and(|c| c > found * CARRIED_PAST) { self.past_s + elapsed } else { 0.0 };
        if self.past_s >= CARRIED_PAST_FOR || target > found * FORGET_ABOVE {
            tracing::debug!(capacity = found, target, ?carried, "past the capacity found with no queue: forgotten, probing");
            self.found = None;
            self.readings.clear();
            self.probing_s = Some(0.0);
            return fast;
        }
        if target >= found * GENTLE_FROM { GENTLE_PER_SECOND } else { fast }
    }

    /// Whether `target` is in the gentle band: a smaller queue is then
    /// enough to back off.
    pub(super) fn near(&self, target: f64) -> bool {
        self.found.is_some_and(|c| target >= c * GENTLE_FROM)
    }

    /// The most a climb from below may reach this step: the start of the
    /// gentle band, so a fast climb does not jump over it.
    pub(super) fn fast_climb_ceiling(&self, target: f64) -> Option<f64> {
        self.found.map(|c| c * GENTLE_FROM).filter(|&edge| target < edge)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_standing_queue_sets_it() {
        let t0 = Instant::now();
        let mut c = Capacity::default();
        c.on_backoff(t0, 180_000.0, false);
        assert_eq!(c.get(), None, "a burst's queue says nothing of the link");
        c.on_backoff(t0, 300_000.0, true);
        assert_eq!(c.get(), Some(300_000.0));
        c.on_backoff(t0, 150_000.0, false);
        assert_eq!(c.get(), Some(300_000.0), "kept through a burst's back-off");
    }

    #[test]
    fn the_highest_recent_reading_counts_and_a_drop_starts_afresh() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut c = Capacity::default();
        c.on_backoff(at(0), 930_000.0, true);
        c.on_backoff(at(20), 285_000.0, true);
        assert_eq!(c.get(), Some(285_000.0), "the link dropped");
        c.on_backoff(at(21), 223_000.0, true);
        c.on_backoff(at(24), 157_000.0, true);
        assert_eq!(c.get(), Some(285_000.0), "one low reading does not lower it");
        c.on_backoff(at(32), 260_000.0, true);
        assert_eq!(c.get(), Some(260_000.0), "older readings expire");
    }

    #[test]
    fn gentle_near_it_fast_below_and_forgotten_past_it() {
        let mut c = Capacity { found: Some(300_000.0), readings: VecDeque::from([(Instant::now(), 300_000.0)]), ..Capacity::default() };
        assert_eq!(c.growth(200_000.0, Some(200_000.0), 1.08, 0.1), 1.08);
        assert_eq!(c.growth(280_000.0, Some(270_000.0), 1.08, 0.1), GENTLE_PER_SECOND);
        assert_eq!(c.growth(305_000.0, Some(305_000.0), 1.08, 0.1), GENTLE_PER_SECOND, "carrying the link is not past it");
        for _ in 0..9 {
            assert_eq!(c.growth(320_000.0, Some(320_000.0), 1.08, 0.1), GENTLE_PER_SECOND, "not yet for a second");
        }
        assert_eq!(c.growth(320_000.0, Some(320_000.0), 1.08, 0.15), 1.08, "carrying more for a second with no queue is");
        assert_eq!(c.get(), None);
        // The link came back: a probe, faster each second, until a back-off.
        let after_1 = c.growth(320_000.0, Some(320_000.0), 1.08, 1.0);
        assert!((after_1 - 1.16).abs() < 1e-9, "{after_1}");
        assert_eq!(c.growth(600_000.0, Some(500_000.0), 1.08, 3.0), 1.0 + PROBE_MAX);
        c.on_backoff(Instant::now(), 800_000.0, true);
        assert_eq!(c.growth(600_000.0, Some(600_000.0), 1.08, 1.0), 1.08);
        let mut c = Capacity { found: Some(300_000.0), readings: VecDeque::from([(Instant::now(), 300_000.0)]), ..Capacity::default() };
        assert_eq!(c.growth(331_000.0, Some(200_000.0), 1.08, 0.1), 1.08, "an app-limited sender forgets it at 1.1 ×");
    }
}
