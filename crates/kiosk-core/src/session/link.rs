//! What a call measured of the network, for the fleet view: the uplink
//! estimate and the media round trip, summarised as medians when it ends.

use std::collections::VecDeque;
use std::time::Duration;

use visio_protocol::CallLink;

/// Samples kept per call: ten minutes at the media's one report a second.
/// A longer call is summarised by its last ten minutes.
const MAX_SAMPLES: usize = 600;

/// One call's measurements, bounded.
#[derive(Debug, Default)]
pub(super) struct LinkSamples {
    uplink_kbps: VecDeque<u32>,
    rtt_ms: VecDeque<u32>,
}

impl LinkSamples {
    /// One report of the call's statistics; a missing value is not a zero.
    pub(super) fn push(&mut self, uplink_bps: Option<u64>, rtt: Option<Duration>) {
        if let Some(bps) = uplink_bps {
            push_bounded(&mut self.uplink_kbps, u32::try_from(bps / 1000).unwrap_or(u32::MAX));
        }
        if let Some(rtt) = rtt {
            push_bounded(&mut self.rtt_ms, u32::try_from(rtt.as_millis()).unwrap_or(u32::MAX));
        }
    }

    /// The medians, and a fresh start for the next call; `None` when the
    /// call never reported an uplink estimate (it never connected).
    pub(super) fn take_summary(&mut self) -> Option<CallLink> {
        let samples = std::mem::take(self);
        Some(CallLink { uplink_kbps: median(samples.uplink_kbps)?, rtt_ms: median(samples.rtt_ms) })
    }
}

fn push_bounded(samples: &mut VecDeque<u32>, value: u32) {
    if samples.len() == MAX_SAMPLES {
        samples.pop_front();
    }
    samples.push_back(value);
}

fn median(samples: VecDeque<u32>) -> Option<u32> {
    let mut sorted = Vec::from(samples);
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_summarised_by_its_medians_and_the_next_starts_afresh() {
        let mut link = LinkSamples::default();
        for (kbps, rtt) in [(800, Some(40)), (1900, Some(45)), (2000, None), (2100, Some(300))] {
            link.push(Some(kbps * 1000), rtt.map(Duration::from_millis));
        }
        link.push(None, None);
        assert_eq!(link.take_summary(), Some(CallLink { uplink_kbps: 2000, rtt_ms: Some(45) }));
        assert_eq!(link.take_summary(), None, "nothing measured since");
    }

    #[test]
    fn a_long_call_keeps_only_its_last_samples() {
        let mut link = LinkSamples::default();
        for _ in 0..MAX_SAMPLES {
            link.push(Some(100_000), None);
        }
        for _ in 0..MAX_SAMPLES / 2 + 1 {
            link.push(Some(3_000_000), Some(Duration::from_millis(20)));
        }
        assert_eq!(link.uplink_kbps.len(), MAX_SAMPLES);
        assert_eq!(link.take_summary(), Some(CallLink { uplink_kbps: 3000, rtt_ms: Some(20) }));
    }
}
