//! The call's side of FEC: whether the peer took it, the loss it follows,
//! and the share of the video budget it takes.
//!
//! FEC is weighed by the round trip, as libwebrtc weighs it: where a NACKed
//! packet comes back within the receiver's buffer (a 40 ms round trip), the
//! retransmission repairs the picture in time and FEC would only take the
//! encoder's budget (docs/benchmarks.md, "RED + ULPFEC on our video": no
//! fewer stalls on lossy for 18 % of the budget); on a satellite hop
//! (600 ms) it comes too late and FEC repairs within the frame.

use std::sync::Arc;
use std::time::Duration;

use super::{FecPayloadTypes, FecShared, filter_loss, overhead};

/// The encoder's target is set again when FEC's share moved this much.
const SHARE_STEP: f64 = 0.03;
/// Up to this round trip a retransmission repairs in time: no FEC.
pub(crate) const NACK_IN_TIME: Duration = Duration::from_millis(100);
/// From this round trip on, FEC follows the whole loss.
pub(crate) const NACK_TOO_LATE: Duration = Duration::from_millis(200);

/// How much of the loss FEC protects against at this round trip: none
/// while NACK repairs in time, all of it once a retransmission comes too
/// late, in between a share. Unknown (no report yet): all of it, since the
/// call's first seconds are where a satellite picture freezes.
pub(crate) fn rtt_weight(rtt: Option<Duration>) -> f64 {
    let Some(rtt) = rtt else { return 1.0 };
    let (low, high) = (NACK_IN_TIME.as_secs_f64(), NACK_TOO_LATE.as_secs_f64());
    ((rtt.as_secs_f64() - low) / (high - low)).clamp(0.0, 1.0)
}

/// Fed once a second by the call's stats; see the module docs of [`super`].
#[derive(Debug)]
pub(crate) struct FecControl {
    pub(crate) shared: Arc<FecShared>,
    /// The payload types the peer sends RED and ULPFEC with, from its
    /// description: what our decoder unwraps.
    pub(crate) remote: Option<FecPayloadTypes>,
    loss: f64,
    /// The loss FEC protects against: `loss` weighed by the round trip.
    protected: f64,
    /// Distinct packets NACKed and video packets sent, at the last sample.
    last: Option<(u64, u64)>,
    /// The encoder share last applied.
    applied: f64,
}

impl FecControl {
    pub(crate) fn new(shared: Arc<FecShared>) -> Self {
        Self { shared, remote: None, loss: 0.0, protected: 0.0, last: None, applied: 1.0 }
    }

    /// The negotiated codecs of our video sender, `(MIME type, payload
    /// type)`: FEC is on when both RED and ULPFEC are among them.
    pub(crate) fn negotiated<'a>(&self, codecs: impl Iterator<Item = (&'a str, u8)>) -> Option<FecPayloadTypes> {
        let (mut red, mut ulpfec) = (None, None);
        for (mime, pt) in codecs {
            if mime.eq_ignore_ascii_case("video/red") {
                red = Some(pt);
            } else if mime.eq_ignore_ascii_case("video/ulpfec") {
                ulpfec = Some(pt);
            }
        }
        let types = red.zip(ulpfec).map(|(red, ulpfec)| FecPayloadTypes { red, ulpfec });
        self.shared.set_types(types);
        types
    }

    /// A second's observation: the loss fraction the peer reported for our
    /// video, the distinct packets it NACKed so far, the video packets
    /// sent so far and the round trip. The loss followed is the higher of
    /// the report (which counts a repaired packet as received) and the
    /// NACKed share; what FEC protects against is that loss weighed by the
    /// round trip ([`rtt_weight`]).
    pub(crate) fn observe(&mut self, reported: Option<f64>, nacked: u64, sent: u64, rtt: Option<Duration>) {
        let nacked_share = match self.last.replace((nacked, sent)) {
            Some((n, s)) if sent > s => nacked.saturating_sub(n) as f64 / (sent - s) as f64,
            _ => 0.0,
        };
        self.loss = filter_loss(self.loss, reported.unwrap_or(0.0).max(nacked_share));
        self.protected = self.loss * rtt_weight(rtt);
        self.shared.set_loss(self.protected);
    }

    /// What of the video budget the encoder gets: all of it without FEC.
    pub(crate) fn encoder_share(&self) -> f64 {
        if self.shared.types().is_some() { 1.0 - overhead(self.protected) } else { 1.0 }
    }

    /// Whether the encoder's share moved enough to set its target again;
    /// `applied`: it is set now in any case.
    pub(crate) fn share_moved(&mut self, applied: bool) -> bool {
        let share = self.encoder_share();
        let moved = (share - self.applied).abs() >= SHARE_STEP;
        if moved || applied {
            self.applied = share;
        }
        moved
    }
}
