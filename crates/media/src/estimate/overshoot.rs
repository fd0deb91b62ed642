//! What our sender puts out over the estimate it is paced at: RTP headers,
//! FEC, retransmissions, an encoder over its target. Measured from the
//! feedback's own reports (each packet's departure and size, lost ones
//! included) against the estimate in force when they left, so the capacity
//! found in acknowledged bytes can be turned into the estimate's units
//! (`capacity`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Departures are measured over this much of our clock.
const WINDOW: Duration = Duration::from_millis(500);
/// Each measurement moves the overshoot this far (feedback comes ~10 times
/// a second: about a second to follow a change).
const SMOOTHING: f64 = 0.2;

/// The sender's overshoot. See the module docs.
#[derive(Debug, Default, Clone)]
pub(super) struct Overshoot {
    /// Departures reported on, on our clock, and their bytes; spans [`WINDOW`].
    sent: VecDeque<(Instant, usize)>,
    /// The estimate each time it changed: since when, bits per second.
    targets: VecDeque<(Instant, f64)>,
    /// Smoothed; `None` before the first measurement.
    smoothed: Option<f64>,
}

impl Overshoot {
    /// The estimate was `target` from the start, `since` at the latest
    /// (noted once, before the first report).
    pub(super) fn start(&mut self, since: Instant, target: f64) {
        if self.targets.is_empty() {
            self.targets.push_back((since, target));
        }
    }

    /// The estimate is `target` from `now` on.
    pub(super) fn note_target(&mut self, now: Instant, target: f64) {
        if self.targets.back().is_none_or(|(_, t)| *t != target) {
            self.targets.push_back((now, target));
        }
    }

    /// A packet of `bytes` left at `departure` (reported on, arrived or not).
    pub(super) fn note_departure(&mut self, departure: Instant, bytes: usize) {
        if self.sent.back().is_some_and(|(at, _)| departure < *at) {
            return; // a late report of an earlier packet: the window stays ordered
        }
        self.sent.push_back((departure, bytes));
        while self.sent.front().is_some_and(|(at, _)| departure.saturating_duration_since(*at) > WINDOW) {
            self.sent.pop_front();
        }
        // Keep the estimate in force at the window's start, and what follows.
        let start = self.sent.front().map_or(departure, |(at, _)| *at);
        while self.targets.len() > 1 && self.targets.get(1).is_some_and(|(since, _)| *since <= start) {
            self.targets.pop_front();
        }
    }

    /// Measures the window (`extra_bps`: what the sender put out that the
    /// feedback does not report, the data channel) and returns the
    /// smoothed overshoot, if any yet.
    pub(super) fn measure(&mut self, extra_bps: f64) -> Option<f64> {
        if let (Some(sent), Some(paced)) = (self.sent_bps(), self.mean_target())
            && paced > 0.0
        {
            let ratio = (sent + extra_bps) / paced;
            self.smoothed = Some(self.smoothed.map_or(ratio, |s| s + SMOOTHING * (ratio - s)));
        }
        self.smoothed
    }

    fn sent_bps(&self) -> Option<f64> {
        let (first, last) = (self.sent.front()?.0, self.sent.back()?.0);
        let span = last.saturating_duration_since(first).as_secs_f64();
        // The first packet's bytes left before the span began.
        let bytes: usize = self.sent.iter().skip(1).map(|(_, b)| b).sum();
        (span >= 0.8 * WINDOW.as_secs_f64()).then(|| bytes as f64 * 8.0 / span)
    }

    /// The estimate averaged over the window's span.
    fn mean_target(&self) -> Option<f64> {
        let (first, last) = (self.sent.front()?.0, self.sent.back()?.0);
        let span = last.saturating_duration_since(first).as_secs_f64();
        if span <= 0.0 {
            return None;
        }
        let mut weighted = 0.0;
        for (i, (since, target)) in self.targets.iter().enumerate() {
            let from = (*since).max(first);
            let until = self.targets.get(i + 1).map_or(last, |(next, _)| (*next).min(last));
            weighted += target * until.saturating_duration_since(from).as_secs_f64();
        }
        // Before the first estimate noted, none was in force: not measured.
        let covered = self.targets.front().is_some_and(|(since, _)| *since <= first);
        covered.then(|| weighted / span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1,200-byte packets at `bps` from `from_ms` to `to_ms`.
    fn send(o: &mut Overshoot, t0: Instant, from_ms: u64, to_ms: u64, bps: f64) {
        let every = 1200.0 * 8.0 / bps * 1000.0;
        let mut ms = from_ms as f64;
        while ms < to_ms as f64 {
            o.note_departure(t0 + Duration::from_secs_f64(ms / 1000.0), 1200);
            ms += every;
        }
    }

    #[test]
    fn measures_what_left_over_the_estimate_in_force() {
        let t0 = Instant::now();
        let mut o = Overshoot::default();
        assert_eq!(o.measure(0.0), None);
        o.note_target(t0, 300_000.0);
        send(&mut o, t0, 0, 1000, 330_000.0);
        let m = o.measure(0.0).unwrap();
        assert!((m - 1.1).abs() < 0.01, "{m}");
        // The estimate halves; the sender follows at 1.1 × it. Half the
        // window left at each (against the latest estimate alone: 1.65).
        o.note_target(t0 + Duration::from_millis(1000), 150_000.0);
        send(&mut o, t0, 1000, 1250, 165_000.0);
        let m = o.measure(0.0).unwrap();
        assert!((m - 1.1).abs() < 0.02, "weighed against the estimate in force when each left: {m}");
        // The data channel's bytes are part of what the sender puts out.
        let before = m;
        let m = o.measure(150_000.0).unwrap();
        assert!(m > before + 0.1, "{before} then {m}");
    }

    #[test]
    fn a_sender_under_its_estimate_measures_under_one() {
        let t0 = Instant::now();
        let mut o = Overshoot::default();
        o.note_target(t0, 600_000.0);
        send(&mut o, t0, 0, 1000, 300_000.0);
        assert!(o.measure(0.0).unwrap() < 0.6);
    }

    #[test]
    fn departures_before_any_estimate_are_not_measured() {
        let t0 = Instant::now();
        let mut o = Overshoot::default();
        send(&mut o, t0, 0, 1000, 300_000.0);
        o.note_target(t0 + Duration::from_millis(900), 300_000.0);
        assert_eq!(o.measure(0.0), None);
    }
}
