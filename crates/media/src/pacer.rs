//! Our pacer, in webrtc-rs's pacer slot: audio and retransmissions before
//! video, released a little faster than the estimate.
//!
//! # Why not webrtc-rs's `PacerInterceptor`
//!
//! webrtc-rs 0.21.1's pacer is one FIFO released at exactly the estimate.
//! Our video target is the estimate minus audio, so whenever the encoder
//! overshoots (keyframes, VP8 at low rates, RTP headers) the queue in our
//! own process grows and never drains, and every packet behind it waits:
//! audio, and the retransmissions a NACK asked for. Measured on adsl-poor
//! (docs/benchmarks.md) Chromium's receiver asked about ten times for each
//! lost packet of ours, because the answers arrived after its next request
//! or not in time for the frame. libwebrtc's pacer sends audio first, then
//! retransmissions, then video, at 2.5 times the estimate: the pacer smooths
//! bursts, the estimator (which sees the link) holds the rate.
//!
//! # What this does
//!
//! - RTCP and audio leave at once (audio is small and must not wait); their
//!   bytes still count against the budget, so video yields to them;
//! - retransmissions (tagged by the NACK responder, which sits
//!   application-ward of this slot) are paced ahead of any queued video;
//! - video is paced at [`PACING_FACTOR`] times the estimate, but at the
//!   estimate itself for [`AFTER_DECREASE`] after it went down: the
//!   encoder learns its new target only at the call's next stats (once a
//!   second), and meanwhile its old rate would keep the link's queue
//!   growing and the estimator backing off again and again (measured on
//!   adsl: four back-offs in two seconds, from 940 to 430 kbit/s).
//!
//! It also counts what loss repair does ([`RepairCounts`]): the distinct
//! packets the peer NACKed, how many requests that took, and the
//! retransmissions sent.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rtc::interceptor::{Attribute, Interceptor, Packet, Pacer, StreamInfo, TaggedPacket};
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::sansio::Protocol;
use rtc::shared::marshal::MarshalSize;

/// Video leaves at this multiple of the estimate: enough to drain an
/// encoder's overshoot and a keyframe quickly, so the queue that matters is
/// the link's, which the estimator sees. libwebrtc uses 2.5; less here
/// because our estimator reacts to the modem queue a burst builds.
pub const PACING_FACTOR: f64 = 1.5;
/// After the estimate went down, video is paced at the estimate itself
/// this long: until the encoder has followed (see the module docs).
pub const AFTER_DECREASE: Duration = Duration::from_secs(2);
/// Packets held before new video is refused (upstream's default).
const QUEUE_LIMIT: usize = 4096;
/// Distinct NACKed packets remembered to tell a first request from a repeat.
const NACKED_MEMORY: usize = 2048;

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
}

impl RepairCounts {
    /// The counts now.
    pub(crate) fn snapshot(&self) -> RepairStats {
        RepairStats {
            nacked_packets: self.nacked_packets.load(Ordering::Relaxed),
            nack_requests: self.nack_requests.load(Ordering::Relaxed),
            retransmissions_sent: self.retransmissions_sent.load(Ordering::Relaxed),
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
}

/// The interceptor. See the module docs.
pub(crate) struct PriorityPacer {
    bucket: Pacer,
    /// The estimate, bits per second.
    estimate: f64,
    /// Paced at the estimate itself until then (it went down).
    strict_until: Option<Instant>,
    audio_ssrcs: HashSet<u32>,
    /// Retransmissions, before any video.
    urgent: VecDeque<TaggedPacket>,
    video: VecDeque<TaggedPacket>,
    /// Ready for the next interceptor, in order.
    out: VecDeque<TaggedPacket>,
    read: VecDeque<TaggedPacket>,
    counts: Arc<RepairCounts>,
    nacked: HashSet<(u32, u16)>,
    nacked_order: VecDeque<(u32, u16)>,
}

impl std::fmt::Debug for PriorityPacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PriorityPacer").field("rate", &self.bucket.target_bitrate()).finish_non_exhaustive()
    }
}

impl PriorityPacer {
    /// Paces at [`PACING_FACTOR`] times `initial_estimate` until the
    /// congestion controller says otherwise.
    pub(crate) fn new(initial_estimate: f64, counts: Arc<RepairCounts>) -> Self {
        Self {
            bucket: Pacer::new(initial_estimate * PACING_FACTOR),
            estimate: initial_estimate,
            strict_until: None,
            audio_ssrcs: HashSet::new(),
            urgent: VecDeque::new(),
            video: VecDeque::new(),
            out: VecDeque::new(),
            read: VecDeque::new(),
            counts,
            nacked: HashSet::new(),
            nacked_order: VecDeque::new(),
        }
    }

    fn bits_of(packet: &TaggedPacket) -> f64 {
        match &packet.message.packet {
            Packet::Rtp(rtp) => (rtp.marshal_size() * 8) as f64,
            _ => 0.0,
        }
    }

    fn note_nack(&mut self, nack: &TransportLayerNack) {
        for pair in &nack.nacks {
            let lost = (0..16).filter(|i| pair.lost_packets & (1 << i) != 0).map(|i| pair.packet_id.wrapping_add(i + 1));
            for seq in std::iter::once(pair.packet_id).chain(lost) {
                self.counts.nack_requests.fetch_add(1, Ordering::Relaxed);
                let key = (nack.media_ssrc, seq);
                if self.nacked.insert(key) {
                    self.counts.nacked_packets.fetch_add(1, Ordering::Relaxed);
                    self.nacked_order.push_back(key);
                    if self.nacked_order.len() > NACKED_MEMORY
                        && let Some(old) = self.nacked_order.pop_front()
                    {
                        self.nacked.remove(&old);
                    }
                }
            }
        }
    }

    fn set_estimate(&mut self, now: Instant, estimate: f64) {
        if estimate < self.estimate {
            self.strict_until = Some(now + AFTER_DECREASE);
        }
        self.estimate = estimate;
        self.apply_rate(now);
    }

    fn apply_rate(&mut self, now: Instant) {
        let strict = self.strict_until.is_some_and(|t| now < t);
        if !strict {
            self.strict_until = None;
        }
        self.bucket.set_target_bitrate(self.estimate * if strict { 1.0 } else { PACING_FACTOR });
    }

    fn head(&self) -> Option<&TaggedPacket> {
        self.urgent.front().or_else(|| self.video.front())
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for PriorityPacer {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        // The estimate rides inbound feedback from the congestion controller (wire-ward).
        if let Some(Attribute::TargetBitrateChanged { bits_per_second }) =
            msg.message.get(&Attribute::TargetBitrateChanged { bits_per_second: 0.0 })
        {
            let estimate = *bits_per_second;
            self.set_estimate(msg.now, estimate);
        }
        if let Packet::Rtcp(packets) = &msg.message.packet {
            for nack in packets.iter().filter_map(|p| p.as_any().downcast_ref::<TransportLayerNack>()) {
                self.note_nack(nack);
            }
        }
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.bucket.refill(msg.now);
        let Packet::Rtp(rtp) = &msg.message.packet else {
            self.out.push_back(msg);
            return Ok(());
        };
        if self.audio_ssrcs.contains(&rtp.header.ssrc) {
            // Counted, not held: video pays for it.
            self.bucket.consume(Self::bits_of(&msg));
            self.out.push_back(msg);
        } else if msg.message.has(&Attribute::Retransmission) {
            self.urgent.push_back(msg);
        } else if self.video.len() < QUEUE_LIMIT {
            self.video.push_back(msg);
        }
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.out.pop_front()
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), Self::Error> {
        if self.strict_until.is_some() {
            self.apply_rate(now);
        }
        self.bucket.refill(now);
        while let Some(head) = self.head() {
            let bits = Self::bits_of(head);
            if !self.bucket.can_release(bits) {
                break;
            }
            let mut packet = match self.urgent.pop_front() {
                Some(p) => {
                    self.counts.retransmissions_sent.fetch_add(1, Ordering::Relaxed);
                    p
                }
                None => self.video.pop_front().expect("head exists"),
            };
            self.bucket.consume(bits);
            // Departs now: the send history wire-ward must record this instant.
            packet.now = now;
            self.out.push_back(packet);
        }
        Ok(())
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        let head = self.head()?;
        let release = self.bucket.releasable_at(Self::bits_of(head));
        // Wake at the end of a strict spell too, to pace faster from then.
        match (release, self.strict_until) {
            (Some(r), Some(t)) => Some(r.min(t)),
            (r, _) => r,
        }
    }
}

impl Interceptor for PriorityPacer {
    fn bind_local_stream(&mut self, info: &StreamInfo) {
        if info.mime_type.to_ascii_lowercase().starts_with("audio/") {
            self.audio_ssrcs.insert(info.ssrc);
        }
    }

    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        self.audio_ssrcs.remove(&info.ssrc);
    }

    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}

    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::interceptor::AttributedPacket;
    use rtc::rtcp::transport_feedbacks::transport_layer_nack::NackPair;
    use rtc::shared::{TransportContext, TransportMessage};
    use std::time::Duration;

    const AUDIO: u32 = 1;
    const VIDEO: u32 = 2;

    fn rtp(now: Instant, ssrc: u32, seq: u16, retransmission: bool) -> TaggedPacket {
        let packet = rtc::rtp::Packet {
            header: rtc::rtp::header::Header { version: 2, ssrc, sequence_number: seq, ..Default::default() },
            payload: vec![0u8; 1188].into(),
        };
        let mut message = AttributedPacket::new(Packet::Rtp(packet));
        if retransmission {
            message.add(Attribute::Retransmission);
        }
        TransportMessage { now, transport: TransportContext::default(), message }
    }

    fn pacer(bps: f64) -> PriorityPacer {
        let mut p = PriorityPacer::new(bps / PACING_FACTOR, Arc::default());
        p.bind_local_stream(&StreamInfo { ssrc: AUDIO, mime_type: "audio/opus".into(), ..Default::default() });
        p.bind_local_stream(&StreamInfo { ssrc: VIDEO, mime_type: "video/VP8".into(), ..Default::default() });
        p
    }

    /// Releases what is due at `now`: (ssrc, seq) in departure order.
    fn release(p: &mut PriorityPacer, now: Instant) -> Vec<(u32, u16)> {
        p.handle_timeout(now).unwrap();
        std::iter::from_fn(|| p.poll_write())
            .filter_map(|m| match m.message.packet {
                Packet::Rtp(r) => Some((r.header.ssrc, r.header.sequence_number)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn audio_and_retransmissions_overtake_queued_video() {
        let t0 = Instant::now();
        // 96 kbit/s: one 1,200-byte packet every 100 ms, a burst of one.
        let mut p = pacer(96_000.0);
        for seq in 0..5 {
            p.handle_write(rtp(t0, VIDEO, seq, false)).unwrap();
        }
        assert_eq!(release(&mut p, t0), vec![(VIDEO, 0)]);
        p.handle_write(rtp(t0, VIDEO, 0, true)).unwrap();
        p.handle_write(rtp(t0, AUDIO, 7, false)).unwrap();
        assert_eq!(std::iter::from_fn(|| p.poll_write()).count(), 1, "audio leaves at once");
        // Audio spent the budget of the next slot; then the retransmission
        // goes before the four queued video packets.
        let mut order = Vec::new();
        for ms in (100..=800).step_by(100) {
            order.extend(release(&mut p, t0 + Duration::from_millis(ms)));
        }
        assert_eq!(order, vec![(VIDEO, 0), (VIDEO, 1), (VIDEO, 2), (VIDEO, 3), (VIDEO, 4)]);
        assert_eq!(p.counts.retransmissions_sent.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn video_is_paced_above_the_estimate() {
        let t0 = Instant::now();
        let mut p = PriorityPacer::new(96_000.0, Arc::default());
        for seq in 0..30 {
            p.handle_write(rtp(t0, VIDEO, seq, false)).unwrap();
        }
        let mut sent = release(&mut p, t0).len();
        for ms in (10..=1000).step_by(10) {
            sent += release(&mut p, t0 + Duration::from_millis(ms)).len();
        }
        // One second at 1.5 × 96 kbit/s: 15 packets (and the first burst).
        assert!((15..=17).contains(&sent), "{sent} packets left in a second");
    }

    fn estimate(now: Instant, bps: f64) -> TaggedPacket {
        let mut message = AttributedPacket::new(Packet::Rtcp(vec![]));
        message.add(Attribute::TargetBitrateChanged { bits_per_second: bps });
        TransportMessage { now, transport: TransportContext::default(), message }
    }

    #[test]
    fn after_the_estimate_goes_down_video_is_paced_at_it_until_the_encoder_follows() {
        let t0 = Instant::now();
        let mut p = PriorityPacer::new(1_000_000.0, Arc::default());
        assert_eq!(p.bucket.target_bitrate(), 1_000_000.0 * PACING_FACTOR);
        p.handle_read(estimate(t0, 500_000.0)).unwrap();
        assert_eq!(p.bucket.target_bitrate(), 500_000.0, "strict while the encoder catches up");
        p.handle_read(estimate(t0 + Duration::from_millis(500), 600_000.0)).unwrap();
        assert_eq!(p.bucket.target_bitrate(), 600_000.0, "a rise within the spell stays strict");
        p.handle_timeout(t0 + AFTER_DECREASE).unwrap();
        assert_eq!(p.bucket.target_bitrate(), 600_000.0 * PACING_FACTOR);
        p.handle_read(estimate(t0 + AFTER_DECREASE * 2, 700_000.0)).unwrap();
        assert_eq!(p.bucket.target_bitrate(), 700_000.0 * PACING_FACTOR);
    }

    #[test]
    fn counts_distinct_nacked_packets_and_repeated_requests() {
        let mut p = pacer(1_000_000.0);
        let nack = |id, bits| TransportMessage {
            now: Instant::now(),
            transport: TransportContext::default(),
            message: AttributedPacket::new(Packet::Rtcp(vec![Box::new(TransportLayerNack {
                sender_ssrc: 9,
                media_ssrc: VIDEO,
                nacks: vec![NackPair { packet_id: id, lost_packets: bits }],
            })])),
        };
        p.handle_read(nack(10, 0b1)).unwrap(); // 10 and 11
        p.handle_read(nack(11, 0)).unwrap(); // 11 again
        let c = &p.counts;
        assert_eq!(c.nacked_packets.load(Ordering::Relaxed), 2);
        assert_eq!(c.nack_requests.load(Ordering::Relaxed), 3);
        assert_eq!(std::iter::from_fn(|| p.poll_read()).count(), 2, "NACKs go on to the responder");
    }
}
