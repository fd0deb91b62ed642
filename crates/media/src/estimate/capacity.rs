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
//! The capacity is in what the peer acknowledged, and the estimate is not:
//! a sender puts out more than its estimate (RTP headers, FEC,
//! retransmissions, an encoder over its target). So the estimator
//! measures the sender's *overshoot* (what its packets carry over the
//! estimate they were paced at), and both the gentle band and the
//! back-off are taken in the estimate's units (the capacity over the
//! overshoot). Seen in the bench: at a full 300 kbit/s link the peer
//! acknowledged 257–265 kbit/s while the queue had appeared at an
//! estimate of 236; a band starting at 0.9 × what was carried (238) began
//! only once the link was full, and one 1 s window went past 1.1 × the
//! link (docs/benchmarks.md, "Down after a drop, rebuilt"). In the unit
//! tests' path a sender 20 % over its estimate kept a back-off to 0.85 ×
//! what was carried over the link, and its queue stood at the modem's
//! limit for good.
//!
//! Past the capacity the climb speeds up again as soon as the path carries
//! more than the capacity without a queue (the link came back), or at
//! [`FORGET_ABOVE`] × it at the latest: the way back up to a restored link
//! must not wait out the gentle band. A link that came back is probed: the
//! growth doubles each second from 8 % up to [`PROBE_MAX`] until the next
//! back-off (the climb from 0.3 back to 1 Mbit/s at 8 %/s took 11 s).
//!
//! Documents waiting on a path whose capacity no back-off has found start
//! the same probe, doubling up to [`DOCUMENTS_PROBE_MAX`]: an app-limited
//! video call never shows the path's limit, the estimate sits at 1.5 × what
//! video sends, and a scan climbing from there at 8 %/s took 10–18 s on an
//! unlimited path (decisions.md #389).

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
/// The most a probe grows it in a second while documents wait: they take
/// all the room they are given, so the climb is bounded by what was
/// acknowledged (1.5 × it a second, libwebrtc's bound) sooner than by this.
const DOCUMENTS_PROBE_MAX: f64 = 1.0;
/// A probe for documents starts where a restored link's is after this
/// many seconds (32 %/s): the bound on what was acknowledged already keeps
/// it to what the documents really send.
const DOCUMENTS_PROBE_FROM_S: f64 = 2.0;

/// Less overshoot than this is the measurement's own noise (at 300 kbit/s
/// one packet more or less in the 500 ms window is 7 %, smoothed over
/// about a second).
const MIN_OVERSHOOT: f64 = 1.05;
/// The most overshoot believed: a keyframe's or a retransmission burst's
/// second must not send the back-off far under the link.
const MAX_OVERSHOOT: f64 = 1.3;

/// What the path carried at the back-offs on standing queues.
#[derive(Debug, Default, Clone)]
pub(super) struct Capacity {
    /// The highest reading kept, in acknowledged bits per second.
    found: Option<f64>,
    /// Readings on standing queues: when, and what the path carried.
    readings: VecDeque<(Instant, f64)>,
    /// What the sender puts out over the estimate (`None`: not measured
    /// yet, taken as 1). A property of the sender, not of the link: kept
    /// when the capacity is forgotten.
    overshoot: Option<f64>,
    /// Seconds since the capacity was forgotten with no queue, until the
    /// next back-off.
    probing_s: Option<f64>,
    /// How long the path has carried more than the capacity with no queue.
    past_s: f64,
    /// Documents waiting started a probe: not again until they stop.
    documents_probed: bool,
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

    /// What the sender puts out over the estimate, as last measured
    /// (under [`MIN_OVERSHOOT`] taken as none, at most [`MAX_OVERSHOOT`]).
    pub(super) fn set_overshoot(&mut self, overshoot: f64) {
        self.overshoot = Some(if overshoot < MIN_OVERSHOOT { 1.0 } else { overshoot.min(MAX_OVERSHOOT) });
    }

    /// What the sender puts out over the estimate, as believed.
    pub(super) fn overshoot(&self) -> Option<f64> {
        self.overshoot
    }

    /// `carried` (acknowledged bits per second) in the estimate's units.
    pub(super) fn in_estimate_units(&self, carried: f64) -> f64 {
        carried / self.overshoot.unwrap_or(1.0)
    }

    /// The capacity in the estimate's units: where the gentle band is
    /// measured from.
    fn filled_at(&self) -> Option<f64> {
        self.found.map(|c| self.in_estimate_units(c))
    }

    fn forget(&mut self) {
        self.found = None;
        self.readings.clear();
    }

    /// The growth per second for a climb from `target`, the path having
    /// carried `carried` (if known) with no queue; `fast` is the growth
    /// away from any capacity. Forgets the capacity once the climb is past it.
    /// `elapsed` is the time since the last step (seconds);
    /// `documents_waiting`: documents take all the room they are given.
    pub(super) fn growth(&mut self, target: f64, carried: Option<f64>, fast: f64, elapsed: f64, documents_waiting: bool) -> f64 {
        if !documents_waiting {
            self.documents_probed = false;
        } else if !self.documents_probed && self.found.is_none() && self.probing_s.is_none() {
            // Nothing known of the path's limit and a scan to move: find
            // it as for a link that came back, not at 8 %/s (a 5 MB scan
            // on an unlimited path took 10–18 s, Chromium's 1.7 s). Once
            // per scan: a back-off ends the probe, and one whose queue did
            // not stand (a satellite's) still said where the path fills.
            tracing::debug!(target, ?carried, "documents wait on a path of unknown capacity: probing");
            self.documents_probed = true;
            self.probing_s = Some(DOCUMENTS_PROBE_FROM_S);
        }
        if let Some(s) = &mut self.probing_s {
            *s += elapsed;
            let most = if documents_waiting { DOCUMENTS_PROBE_MAX } else { PROBE_MAX };
            return 1.0 + ((fast - 1.0) * 2f64.powf(*s)).min(most);
        }
        let (Some(found), Some(filled_at)) = (self.found, self.filled_at()) else { return fast };
        // Both rules compare with what was carried, not with the estimate
        // that filled the link: the second is for a sender that does not
        // fill its estimate, and in the estimate's units it fell near the
        // link, where its probe went over it (decisions.md #386).
        self.past_s = if carried.is_some_and(|c| c > found * CARRIED_PAST) { self.past_s + elapsed } else { 0.0 };
        if self.past_s >= CARRIED_PAST_FOR || target > found * FORGET_ABOVE {
            tracing::debug!(capacity = found, filled_at, target, ?carried, "past the capacity found with no queue: forgotten, probing");
            self.forget();
            self.probing_s = Some(0.0);
            return fast;
        }
        if target >= filled_at * GENTLE_FROM { GENTLE_PER_SECOND } else { fast }
    }

    /// Whether `target` is in the gentle band: a smaller queue is then
    /// enough to back off.
    pub(super) fn near(&self, target: f64) -> bool {
        self.filled_at().is_some_and(|c| target >= c * GENTLE_FROM)
    }

    /// The most a climb from below may reach this step: the start of the
    /// gentle band, so a fast climb does not jump over it.
    pub(super) fn fast_climb_ceiling(&self, target: f64) -> Option<f64> {
        self.filled_at().map(|c| c * GENTLE_FROM).filter(|&edge| target < edge)
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
        let mut c = Capacity::default();
        c.on_backoff(Instant::now(), 300_000.0, true);
        assert_eq!(c.growth(200_000.0, Some(200_000.0), 1.08, 0.1, false), 1.08);
        assert_eq!(c.growth(280_000.0, Some(270_000.0), 1.08, 0.1, false), GENTLE_PER_SECOND);
        assert_eq!(c.growth(305_000.0, Some(305_000.0), 1.08, 0.1, false), GENTLE_PER_SECOND, "carrying the link is not past it");
        for _ in 0..9 {
            assert_eq!(c.growth(320_000.0, Some(320_000.0), 1.08, 0.1, false), GENTLE_PER_SECOND, "not yet for a second");
        }
        assert_eq!(c.growth(320_000.0, Some(320_000.0), 1.08, 0.15, false), 1.08, "carrying more for a second with no queue is");
        assert_eq!(c.get(), None);
        // The link came back: a probe, faster each second, until a back-off.
        let after_1 = c.growth(320_000.0, Some(320_000.0), 1.08, 1.0, false);
        assert!((after_1 - 1.16).abs() < 1e-9, "{after_1}");
        assert_eq!(c.growth(600_000.0, Some(500_000.0), 1.08, 3.0, false), 1.0 + PROBE_MAX);
        c.on_backoff(Instant::now(), 800_000.0, true);
        assert_eq!(c.growth(600_000.0, Some(600_000.0), 1.08, 1.0, false), 1.08);
        let mut c = Capacity::default();
        c.on_backoff(Instant::now(), 300_000.0, true);
        assert_eq!(c.growth(331_000.0, Some(200_000.0), 1.08, 0.1, false), 1.08, "an app-limited sender forgets it at 1.1 ×");
    }

    #[test]
    fn documents_waiting_probe_once_per_scan_on_a_path_of_unknown_capacity() {
        let mut c = Capacity::default();
        assert_eq!(c.growth(1_000_000.0, Some(700_000.0), 1.08, 0.1, false), 1.08, "video alone: 8 %/s");
        let first = c.growth(1_000_000.0, Some(700_000.0), 1.08, 0.1, true);
        assert!(first > 1.3, "a scan starts a probe: {first}");
        assert_eq!(c.growth(2_000_000.0, Some(1_500_000.0), 1.08, 3.0, true), 1.0 + DOCUMENTS_PROBE_MAX);
        // A back-off on a queue that did not stand (a long round trip):
        // no capacity, but the probe is over for this scan.
        c.on_backoff(Instant::now(), 1_100_000.0, false);
        assert_eq!(c.get(), None);
        assert_eq!(c.growth(900_000.0, Some(900_000.0), 1.08, 1.0, true), 1.08, "not again within the scan");
        // The next scan probes again.
        assert_eq!(c.growth(900_000.0, Some(900_000.0), 1.08, 0.1, false), 1.08);
        assert!(c.growth(900_000.0, Some(900_000.0), 1.08, 0.1, true) > 1.3);
        // A path whose capacity is known keeps its gentle band.
        let mut c = Capacity::default();
        c.on_backoff(Instant::now(), 1_000_000.0, true);
        assert_eq!(c.growth(950_000.0, Some(950_000.0), 1.08, 0.1, true), GENTLE_PER_SECOND);
    }

    #[test]
    fn the_band_and_the_back_off_are_in_the_estimates_units() {
        let t0 = Instant::now();
        let mut c = Capacity::default();
        c.on_backoff(t0, 285_000.0, true);
        assert_eq!(c.in_estimate_units(285_000.0), 285_000.0, "no overshoot measured yet");
        assert!(c.near(0.9 * 285_000.0));
        assert!(!c.near(0.89 * 285_000.0));
        // The sender puts out 10 % more than its estimate.
        c.set_overshoot(1.1);
        let edge = 0.9 * 285_000.0 / 1.1;
        assert!((c.in_estimate_units(264_000.0) - 240_000.0).abs() < 1.0);
        assert!(c.near(edge + 1.0), "the band starts at 0.9 × the capacity over the overshoot");
        assert!(!c.near(edge - 1.0));
        assert!(c.fast_climb_ceiling(200_000.0).is_some_and(|e| (e - edge).abs() < 1.0));
        // The estimate 10 % past what was carried (an app-limited sender): forgotten.
        assert_eq!(c.growth(313_000.0, Some(250_000.0), 1.08, 0.5, false), GENTLE_PER_SECOND);
        assert_eq!(c.growth(314_000.0, Some(250_000.0), 1.08, 0.5, false), 1.08);
        assert_eq!(c.get(), None);
        // The overshoot is the sender's: kept after the capacity is
        // forgotten, never believed past MAX_OVERSHOOT nor under 1.
        assert!((c.in_estimate_units(264_000.0) - 240_000.0).abs() < 1.0);
        c.set_overshoot(2.0);
        assert_eq!(c.in_estimate_units(300_000.0 * MAX_OVERSHOOT), 300_000.0);
        c.set_overshoot(0.5);
        assert_eq!(c.in_estimate_units(300_000.0), 300_000.0, "a sender under its estimate");
        c.set_overshoot(1.04);
        assert_eq!(c.in_estimate_units(300_000.0), 300_000.0, "within the measurement's noise");
    }
}
