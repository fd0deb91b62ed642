//! The call's side of FEC: whether the peer took it, the loss it follows,
//! and the share of the video budget it takes.

use std::sync::Arc;

use super::{FecPayloadTypes, FecShared, filter_loss, overhead};

/// The encoder's target is set again when FEC's share moved this much.
const SHARE_STEP: f64 = 0.03;

/// Fed once a second by the call's stats; see the module docs of [`super`].
#[derive(Debug)]
pub(crate) struct FecControl {
    pub(crate) shared: Arc<FecShared>,
    /// The payload types the peer sends RED and ULPFEC with, from its
    /// description: what our decoder unwraps.
    pub(crate) remote: Option<FecPayloadTypes>,
    loss: f64,
    /// Distinct packets NACKed and video packets sent, at the last sample.
    last: Option<(u64, u64)>,
    /// The encoder share last applied.
    applied: f64,
}

impl FecControl {
    pub(crate) fn new(shared: Arc<FecShared>) -> Self {
        Self { shared, remote: None, loss: 0.0, last: None, applied: 1.0 }
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
    /// video, the distinct packets it NACKed so far and the video packets
    /// sent so far. The loss followed is the higher of the report (which
    /// counts a repaired packet as received) and the NACKed share.
    pub(crate) fn observe(&mut self, reported: Option<f64>, nacked: u64, sent: u64) {
        let nacked_share = match self.last.replace((nacked, sent)) {
            Some((n, s)) if sent > s => nacked.saturating_sub(n) as f64 / (sent - s) as f64,
            _ => 0.0,
        };
        self.loss = filter_loss(self.loss, reported.unwrap_or(0.0).max(nacked_share));
        self.shared.set_loss(self.loss);
    }

    /// What of the video budget the encoder gets: all of it without FEC.
    pub(crate) fn encoder_share(&self) -> f64 {
        if self.shared.types().is_some() { 1.0 - overhead(self.loss) } else { 1.0 }
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
