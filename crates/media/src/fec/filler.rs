//! The interceptor that fills FEC shells, wire-ward of the transport-wide
//! sequence number (see the module docs of [`super`]).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use bytes::{BufMut, Bytes, BytesMut};
use rtc::interceptor::{Attribute, Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::sansio::Protocol;

use super::{FecShared, Protected, RedContent, protected_bytes, red_unwrap, ulpfec_encode};

/// Media packets kept to fill shells with (and FEC packets, to send a
/// retransmitted shell the same content): seconds of video, well past the
/// few frames a group spans.
const KEPT: usize = 1024;

/// Its slot (`Slot::Custom`): between the TWCC sender (2 000) and the
/// send history (1 000).
pub(crate) const FILLER_SLOT: usize = 1_500;

/// Keeps our RED media packets as they leave and fills the FEC shells that
/// follow them. See the module docs of [`super`].
pub(crate) struct FecFiller {
    pub(super) shared: Arc<FecShared>,
    /// (SSRC, sequence number) → the protected bytes (media) or the filled
    /// RED payload (FEC).
    kept: HashMap<(u32, u16), Bytes>,
    order: VecDeque<(u32, u16)>,
    write: VecDeque<TaggedPacket>,
    read: VecDeque<TaggedPacket>,
}

impl std::fmt::Debug for FecFiller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FecFiller").field("kept", &self.kept.len()).finish_non_exhaustive()
    }
}

impl FecFiller {
    pub(crate) fn new(shared: Arc<FecShared>) -> Self {
        Self { shared, kept: HashMap::new(), order: VecDeque::new(), write: VecDeque::new(), read: VecDeque::new() }
    }

    fn keep(&mut self, key: (u32, u16), bytes: Bytes) {
        if self.kept.insert(key, bytes).is_none() {
            self.order.push_back(key);
            if self.order.len() > KEPT
                && let Some(old) = self.order.pop_front()
            {
                self.kept.remove(&old);
            }
        }
    }

    /// The RED payload of a filled FEC packet: the XOR of the media packets
    /// the shell names that left through here (a packet our pacer dropped
    /// is left out of the mask).
    fn fill(&self, ssrc: u32, ulpfec: u8, shell: &[u8]) -> Option<Bytes> {
        let protected = Protected::read(shell)?;
        let media: Vec<(u16, Bytes)> = protected.seqs().filter_map(|seq| self.kept.get(&(ssrc, seq)).map(|b| (seq, b.clone()))).collect();
        let refs: Vec<(u16, &[u8])> = media.iter().map(|(s, b)| (*s, b.as_ref())).collect();
        let fec = ulpfec_encode(protected.base, &refs);
        let mut out = BytesMut::with_capacity(1 + fec.len());
        out.put_u8(ulpfec);
        out.put_slice(&fec);
        Some(out.freeze())
    }

    fn on_write(&mut self, msg: &mut TaggedPacket) {
        let Some(types) = self.shared.types() else { return };
        let retransmission = msg.message.has(&Attribute::Retransmission);
        let Packet::Rtp(rtp) = &mut msg.message.packet else { return };
        let key = (rtp.header.ssrc, rtp.header.sequence_number);
        match red_unwrap(rtp, types) {
            Some(RedContent::Media(media)) => {
                // A retransmission carries another transport-wide number:
                // the copy that counts is the first.
                if !retransmission && let Some(bytes) = protected_bytes(&media) {
                    self.keep(key, bytes);
                }
            }
            Some(RedContent::Fec(shell)) => {
                let filled = match self.kept.get(&key) {
                    Some(filled) => Some(filled.clone()),
                    None => self.fill(key.0, types.ulpfec, &shell),
                };
                if let Some(filled) = filled {
                    rtp.payload = filled.clone();
                    self.keep(key, filled);
                }
            }
            None => {}
        }
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for FecFiller {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        self.on_write(&mut msg);
        self.write.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.write.pop_front()
    }
}

impl Interceptor for FecFiller {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        self.kept.retain(|(ssrc, _), _| *ssrc != info.ssrc);
        self.order.retain(|(ssrc, _)| *ssrc != info.ssrc);
    }
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}
