//! Forward error correction for our video: RED (RFC 2198) carrying the
//! media and ULPFEC (RFC 5109) packets, on the video's own SSRC and
//! sequence numbers, as libwebrtc sends and receives them
//! (docs/decisions.md #374: on a satellite link a lost packet repaired by
//! NACK arrives a round trip later, past the receiver's jitter buffer; an
//! FEC packet sent with the frame repairs it in time).
//!
//! # How a frame goes out
//!
//! 1. The writer ([`FecSender`]) RED-wraps each media packet (one primary
//!    block: one byte, the media payload type) and numbers it. After a
//!    frame it may close a *group* of protected packets (one frame or a few,
//!    [`MAX_FRAMES_PER_GROUP`]) and append that group's FEC packets with the
//!    next sequence numbers, as libwebrtc's receiver expects (it takes an
//!    FEC packet as an empty one, so the frames around it stay contiguous).
//!    Each starts as a *shell*: the ULPFEC header names the protected
//!    packets (base sequence number and mask) and the payload is zeros of
//!    about the right size, so the pacer meters it like the packet it will be.
//! 2. The interceptor [`FecFiller`], wire-ward of the transport-wide
//!    sequence number (the XOR covers everything after the 12-byte RTP
//!    header, header extensions included), keeps each media packet as it
//!    leaves and fills each shell with the XOR of the packets it names. A
//!    shell the NACK responder sends again gets the same content.
//!
//! How much is protected follows the loss the peer reports
//! ([`protection`]); the encoder's target gives up that share
//! ([`overhead`]). Receiving, [`for_decoder`] unwraps RED and turns an FEC
//! packet into an empty media packet (we do not recover with it).

mod control;
mod filler;
#[cfg(test)]
mod tests;

pub(crate) use control::FecControl;
pub(crate) use filler::{FILLER_SLOT, FecFiller};

use std::sync::atomic::{AtomicU16, AtomicU32, Ordering};

use bytes::{BufMut, Bytes, BytesMut};
use rtc::rtp::Packet;
use rtc::shared::marshal::Marshal;

/// Our RED and ULPFEC payload types: libwebrtc's (Chromium offers them so).
pub(crate) const RED_PAYLOAD_TYPE: u8 = 116;
pub(crate) const ULPFEC_PAYLOAD_TYPE: u8 = 117;
/// The fixed RTP header: what the FEC does not cover (RFC 5109 §7.1).
const RTP_HEADER: usize = 12;
/// The FEC header (10 bytes) and the level-0 header with a 16-bit mask (4)
/// or a 48-bit one (8).
const FEC_HEADER: usize = 10;
const SHORT_MASK: usize = 16;
const LONG_MASK: usize = 48;
/// At most this many media packets in one group: a 48-bit mask.
pub(crate) const MAX_GROUP: usize = LONG_MASK;
/// A group closes after this many frames even if it is short, so the FEC
/// of its first frame arrives within ~100 ms at 30 fps: well inside the
/// receiver's ~220 ms buffer.
pub(crate) const MAX_FRAMES_PER_GROUP: usize = 3;
/// Under this loss rate no FEC is sent: NACK alone repairs in time.
const MIN_LOSS: f64 = 0.002;
/// The loss estimate keeps this share of itself each second when the
/// reports show less: FEC stays on through a calm spell of a few seconds.
const LOSS_DECAY: f64 = 0.93;

/// The negotiated RED and ULPFEC payload types of our video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FecPayloadTypes {
    pub red: u8,
    pub ulpfec: u8,
}

/// What the call shares with the writer, the pacer and the filler: whether
/// the peer took RED/ULPFEC (and with which payload types) and the loss the
/// protection follows.
#[derive(Debug, Default)]
pub(crate) struct FecShared {
    /// `red << 8 | ulpfec`; 0 while not negotiated.
    types: AtomicU16,
    /// The filtered loss fraction, as `f32` bits.
    loss: AtomicU32,
}

impl FecShared {
    pub(crate) fn types(&self) -> Option<FecPayloadTypes> {
        let v = self.types.load(Ordering::Relaxed);
        (v != 0).then_some(FecPayloadTypes { red: (v >> 8) as u8, ulpfec: v as u8 })
    }

    pub(crate) fn set_types(&self, types: Option<FecPayloadTypes>) {
        self.types.store(types.map_or(0, |t| u16::from(t.red) << 8 | u16::from(t.ulpfec)), Ordering::Relaxed);
    }

    /// The RED payload type, when negotiated.
    pub(crate) fn red(&self) -> Option<u8> {
        self.types().map(|t| t.red)
    }

    pub(crate) fn loss(&self) -> f64 {
        f64::from(f32::from_bits(self.loss.load(Ordering::Relaxed)))
    }

    pub(crate) fn set_loss(&self, loss: f64) {
        self.loss.store((loss as f32).to_bits(), Ordering::Relaxed);
    }
}

/// The loss the protection follows, updated once a second: a new sample
/// counts at once when higher, the estimate decays slowly when lower.
pub(crate) fn filter_loss(previous: f64, sample: f64) -> f64 {
    let sample = if sample.is_finite() { sample.clamp(0.0, 1.0) } else { 0.0 };
    sample.max(previous * LOSS_DECAY)
}

/// The share of FEC packets to media packets for a frame, from the loss
/// fraction: none on a clean link; more with more loss; a keyframe (the
/// frame every later one needs, and the longest) twice that. libwebrtc's
/// tables grow the same way (`media_opt_util`), bounded at half.
pub(crate) fn protection(loss: f64, key: bool) -> f64 {
    if loss.is_nan() || loss < MIN_LOSS {
        return 0.0;
    }
    let delta = (0.1 + 4.0 * loss).min(0.5);
    if key { (2.0 * delta).clamp(0.3, 0.6) } else { delta }
}

/// The share of what video sends that FEC takes at this loss: what the
/// encoder's target gives up for it.
pub(crate) fn overhead(loss: f64) -> f64 {
    let rate = protection(loss, false);
    rate / (1.0 + rate)
}

/// How many FEC packets protect `media` packets at `rate`: at least one
/// when protecting at all, never more than the packets.
pub(crate) fn fec_count(media: usize, rate: f64) -> usize {
    if media == 0 || rate <= 0.0 {
        return 0;
    }
    ((media as f64 * rate).round() as usize).clamp(1, media)
}

/// A media packet RED-wrapped: the payload type becomes RED's and the
/// payload gains a one-byte primary block header (F = 0, the media type).
pub(crate) fn red_wrap(mut packet: Packet, red: u8) -> Packet {
    let mut payload = BytesMut::with_capacity(packet.payload.len() + 1);
    payload.put_u8(packet.header.payload_type & 0x7f);
    payload.put_slice(&packet.payload);
    packet.header.payload_type = red;
    packet.payload = payload.freeze();
    packet
}

/// What a RED packet carries.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RedContent {
    /// A media packet, as it was before wrapping.
    Media(Packet),
    /// An ULPFEC packet: its FEC header and payload.
    Fec(Bytes),
}

/// Unwraps a RED packet with a single primary block (all libwebrtc and we
/// send for video); `None` for anything else.
pub(crate) fn red_unwrap(packet: &Packet, types: FecPayloadTypes) -> Option<RedContent> {
    if packet.header.payload_type != types.red {
        return None;
    }
    let &block = packet.payload.first()?;
    if block & 0x80 != 0 {
        return None; // redundant blocks: not sent for video
    }
    let inner = packet.payload.slice(1..);
    if block == types.ulpfec {
        return Some(RedContent::Fec(inner));
    }
    let mut media = packet.clone();
    media.header.payload_type = block;
    media.payload = inner;
    Some(RedContent::Media(media))
}

/// What our decoder gets for a received packet: media unwrapped from RED,
/// and an FEC packet as an empty packet of the media payload type (so the
/// jitter buffer sees no gap in the sequence numbers; an empty payload is
/// skipped by the depayloader).
pub(crate) fn for_decoder(packet: Packet, types: Option<FecPayloadTypes>, media_type: Option<u8>) -> Option<Packet> {
    let Some(types) = types else { return Some(packet) };
    match red_unwrap(&packet, types) {
        Some(RedContent::Media(media)) => Some(media),
        Some(RedContent::Fec(_)) => {
            let mut empty = packet;
            empty.header.payload_type = media_type?;
            empty.header.marker = false;
            empty.header.padding = false;
            empty.payload = Bytes::new();
            Some(empty)
        }
        None if packet.header.payload_type == types.red => None,
        None => Some(packet),
    }
}

/// Which packets an FEC packet protects: `base` and the mask's bits (bit 0
/// = `base`), as its ULPFEC header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Protected {
    pub base: u16,
    /// Bit `i` set: sequence number `base + i` is protected.
    pub mask: u64,
}

impl Protected {
    pub(crate) fn seqs(self) -> impl Iterator<Item = u16> {
        (0..LONG_MASK as u16).filter(move |i| self.mask & (1 << i) != 0).map(move |i| self.base.wrapping_add(i))
    }

    fn long(self) -> bool {
        self.mask >> SHORT_MASK != 0
    }

    /// The mask as it goes on the wire: most significant bit first, 2 or 6 bytes.
    fn put(self, out: &mut BytesMut) {
        let bits = if self.long() { LONG_MASK } else { SHORT_MASK };
        let mut wire = 0u64;
        for i in 0..bits {
            if self.mask & (1 << i) != 0 {
                wire |= 1 << (bits - 1 - i);
            }
        }
        for byte in (0..bits / 8).rev() {
            out.put_u8((wire >> (8 * byte)) as u8);
        }
    }

    /// Reads an ULPFEC header's base and level-0 mask.
    pub(crate) fn read(fec: &[u8]) -> Option<Protected> {
        let long = fec.first()? & 0x40 != 0;
        let bits = if long { LONG_MASK } else { SHORT_MASK };
        let base = u16::from_be_bytes([*fec.get(2)?, *fec.get(3)?]);
        let bytes = fec.get(FEC_HEADER + 2..FEC_HEADER + 2 + bits / 8)?;
        let wire = bytes.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
        let mask = (0..bits).filter(|i| wire & (1 << (bits - 1 - i)) != 0).fold(0u64, |m, i| m | 1 << i);
        Some(Protected { base, mask })
    }
}

/// The size of the ULPFEC headers for this mask.
fn headers_len(protected: Protected) -> usize {
    FEC_HEADER + if protected.long() { 8 } else { 4 }
}

/// An ULPFEC packet's content (FEC header, level-0 header, XOR payload;
/// RFC 5109 §7.3) over `media`: the protected packets exactly as they go on
/// the wire (marshalled, RED removed), each with its sequence number.
/// Sequence numbers outside `base..base + 48` are left out.
pub(crate) fn ulpfec_encode(base: u16, media: &[(u16, &[u8])]) -> Bytes {
    let media: Vec<&(u16, &[u8])> =
        media.iter().filter(|(seq, bytes)| usize::from(seq.wrapping_sub(base)) < LONG_MASK && bytes.len() >= RTP_HEADER).collect();
    let mask = media.iter().fold(0u64, |m, (seq, _)| m | 1 << seq.wrapping_sub(base));
    let protected = Protected { base, mask };
    let protection_len = media.iter().map(|(_, b)| b.len() - RTP_HEADER).max().unwrap_or(0);
    let (mut first, mut second, mut ts, mut len) = (0u8, 0u8, 0u32, 0u16);
    let mut payload = vec![0u8; protection_len];
    for (_, bytes) in &media {
        first ^= bytes[0];
        second ^= bytes[1];
        ts ^= u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        len ^= (bytes.len() - RTP_HEADER) as u16;
        for (p, b) in payload.iter_mut().zip(&bytes[RTP_HEADER..]) {
            *p ^= b;
        }
    }
    let mut out = BytesMut::with_capacity(headers_len(protected) + protection_len);
    // E = 0, L, then the XOR of P, X and CC.
    out.put_u8(if protected.long() { 0x40 } else { 0 } | (first & 0x3f));
    out.put_u8(second); // M and PT recovery
    out.put_u16(base);
    out.put_u32(ts);
    out.put_u16(len);
    out.put_u16(protection_len as u16);
    protected.put(&mut out);
    out.put_slice(&payload);
    out.freeze()
}

/// The bytes a media packet is protected as: RED removed, marshalled.
pub(crate) fn protected_bytes(media: &Packet) -> Option<Bytes> {
    media.marshal().ok().map(BytesMut::freeze)
}

/// The sender's side: wraps and numbers a frame's packets, groups frames,
/// and appends FEC shells for the [`FecFiller`] to fill.
#[derive(Debug, Default)]
pub(crate) struct FecSender {
    /// The open group: sequence numbers and payload sizes (RED included).
    group: Vec<(u16, usize)>,
    frames: usize,
}

impl FecSender {
    /// A frame's packets (media payload type, in order) as they go to the
    /// track: RED-wrapped, numbered from `next_seq`, then the FEC shells of
    /// the group this frame closes, if it closes one. `loss` sets the
    /// protection ([`protection`]); `key`: the frame is a keyframe.
    pub(crate) fn frame(&mut self, packets: Vec<Packet>, key: bool, loss: f64, types: FecPayloadTypes, next_seq: &mut u16) -> Vec<Packet> {
        let rate = protection(loss, key);
        let Some(last) = packets.last().map(|p| p.header.clone()) else { return Vec::new() };
        let mut out = Vec::with_capacity(packets.len() + 4);
        for mut packet in packets {
            packet.header.sequence_number = *next_seq;
            *next_seq = next_seq.wrapping_add(1);
            let packet = red_wrap(packet, types.red);
            self.group.push((packet.header.sequence_number, packet.payload.len()));
            out.push(packet);
        }
        if rate <= 0.0 {
            self.group.clear();
            self.frames = 0;
            return out;
        }
        self.frames += 1;
        let min_group = ((1.0 / rate).ceil() as usize).clamp(1, MAX_GROUP);
        if !key && self.group.len() < min_group && self.frames < MAX_FRAMES_PER_GROUP {
            return out;
        }
        let group = std::mem::take(&mut self.group);
        self.frames = 0;
        for chunk in group.chunks(MAX_GROUP) {
            let fec = fec_count(chunk.len(), rate);
            let base = chunk[0].0;
            let payload_len = chunk.iter().map(|&(_, n)| n).max().unwrap_or(0).saturating_sub(1);
            for j in 0..fec {
                // Interleaved: FEC packet j protects every fec-th packet from j,
                // so a burst of up to `fec` losses is recovered.
                let mask = (0..chunk.len()).filter(|i| i % fec == j).fold(0u64, |m, i| m | 1 << i);
                let protected = Protected { base, mask };
                let mut header = last.clone();
                header.sequence_number = *next_seq;
                *next_seq = next_seq.wrapping_add(1);
                header.marker = false;
                header.payload_type = types.red;
                out.push(Packet { header, payload: shell_payload(types.ulpfec, protected, payload_len) });
            }
        }
        out
    }
}

/// An FEC shell's RED payload: the block header, the ULPFEC headers naming
/// the protected packets, and zeros where the XOR will go.
fn shell_payload(ulpfec: u8, protected: Protected, payload_len: usize) -> Bytes {
    let mut out = BytesMut::with_capacity(1 + headers_len(protected) + payload_len);
    out.put_u8(ulpfec);
    out.put_u8(if protected.long() { 0x40 } else { 0 });
    out.put_u8(0);
    out.put_u16(protected.base);
    out.put_u32(0);
    out.put_u16(0);
    out.put_u16(0);
    protected.put(&mut out);
    out.put_bytes(0, payload_len);
    out.freeze()
}
