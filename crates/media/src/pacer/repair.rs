//! What loss repair did on our outgoing streams: counted by the pacer,
//! read by the call's stats; and the round trip the call measured, which
//! the pacer needs to refuse a repeated retransmission (decisions.md #388).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// What loss repair did on our outgoing streams, since the call started
/// (shared between the interceptor and the call's stats).
#[derive(Debug, Default)]
pub(crate) struct RepairCounts {
    /// Distinct packets the peer asked for again.
    pub nacked_packets: AtomicU64,
    /// Requests for them (one packet asked for three times counts three).
    pub nack_requests: AtomicU64,
    /// Retransmissions that left for the wire.
    pub retransmissions_sent: AtomicU64,
    /// Video frames dropped from our queue (too old, or undecodable after
    /// one that was).
    pub frames_dropped: AtomicU64,
    /// Requests for packets we had dropped ourselves (not in the two
    /// counts above: they measure the repair of the link's losses).
    pub nacks_for_dropped: AtomicU64,
    /// Keyframes the pacer asked the encoder for.
    pub keyframes_requested: AtomicU64,
    /// Retransmissions not sent: their packet had been dropped, a copy was
    /// already queued or left less than a round trip ago, or they waited
    /// over [`MAX_VIDEO_AGE`](super::MAX_VIDEO_AGE).
    pub retransmissions_refused: AtomicU64,
    /// Notified when the encoder should send a keyframe (a frame was dropped).
    pub keyframe_wanted: Notify,
    /// The round trip as the call last measured it, microseconds (0: not
    /// yet): a packet is not retransmitted again sooner than this.
    round_trip_us: AtomicU64,
}

impl RepairCounts {
    /// Records the round trip the call measured.
    pub(crate) fn set_round_trip(&self, rtt: Duration) {
        self.round_trip_us.store(u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// The round trip last measured, if any.
    pub(crate) fn round_trip(&self) -> Option<Duration> {
        Some(self.round_trip_us.load(Ordering::Relaxed)).filter(|&us| us > 0).map(Duration::from_micros)
    }

    /// The counts now.
    pub(crate) fn snapshot(&self) -> RepairStats {
        RepairStats {
            nacked_packets: self.nacked_packets.load(Ordering::Relaxed),
            nack_requests: self.nack_requests.load(Ordering::Relaxed),
            retransmissions_sent: self.retransmissions_sent.load(Ordering::Relaxed),
            video_frames_dropped: self.frames_dropped.load(Ordering::Relaxed),
            nacks_for_dropped: self.nacks_for_dropped.load(Ordering::Relaxed),
        }
    }
}

/// Loss repair of our outgoing video since the call started: how often the
/// peer had to ask. About one request per NACKed packet means each
/// retransmission arrived in time; several means they were late or missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RepairStats {
    /// Distinct packets the peer asked for again (NACK).
    pub nacked_packets: u64,
    /// Requests for them, repeats included.
    pub nack_requests: u64,
    /// Retransmissions we sent.
    pub retransmissions_sent: u64,
    /// Video frames our pacer dropped because they waited too long (or
    /// could not be decoded after one that did); each asks for a keyframe.
    pub video_frames_dropped: u64,
    /// NACKs for packets of those frames (not counted above).
    pub nacks_for_dropped: u64,
}
