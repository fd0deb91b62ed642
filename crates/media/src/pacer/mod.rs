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
//!   a packet already retransmitted less than a round trip ago is not
//!   sent again (libwebrtc's rule): the peer asks again when its answer
//!   is late, and it is late when the link's queue has grown, where a
//!   second copy only adds to that queue. Measured on adsl-poor before
//!   this: 148–177 retransmissions for 102–122 packets lost, and the
//!   second with five of them crossed 1.1 × the link
//!   (docs/benchmarks.md, "Repeated retransmissions");
//! - video is paced at [`PACING_FACTOR`] times the estimate, but at the
//!   estimate itself for [`AFTER_DECREASE`] after it went down: the
//!   encoder learns its new target only at the call's next stats (once a
//!   second), and meanwhile its old rate would keep the link's queue
//!   growing and the estimator backing off again and again (measured on
//!   adsl: four back-offs in two seconds, from 940 to 430 kbit/s); but
//!   never so slowly that queued video ages out: then as fast as sends
//!   the queue before its oldest frame is [`MAX_VIDEO_AGE`] old, up to
//!   [`PACING_FACTOR`] × the estimate (libwebrtc's pacer never drops
//!   video and raises its rate to empty its queue; on `lossy` ours aged
//!   out ~14 frames 1–2 s after each back-off, each followed by a
//!   keyframe);
//! - keyframes and retransmissions are paced at the estimate itself too,
//!   for [`KEYFRAME_CALM`] after the estimate went down: the link is full
//!   then. After the benchmark's drop on satellite a keyframe at 1.5 × it
//!   (the one asked for after frames aged out here) built a second queue
//!   with 21–30 % tail drop, and the back-offs on that queue sank the
//!   estimate (docs/benchmarks.md, "The estimate bounded by what was
//!   acknowledged"); with keyframes calmed, the retransmissions the drop
//!   tail's loss asked for still filled 1.5 × the estimate (332 kbit/s
//!   for a second on the 300 kbit/s link) once the strict spell was over;
//! - video waits at most [`MAX_VIDEO_AGE`]: an older frame that has not
//!   begun to leave is dropped whole (every packet of its RTP timestamp),
//!   with the frames behind it that need it to decode, and the encoder is
//!   asked for a keyframe ([`RepairCounts::keyframe_wanted`]); until one
//!   comes, that stream's video is dropped at the door, and retransmissions
//!   of dropped packets (the peer NACKs the gap) are not sent. Without this
//!   bound the queue had no limit but 4,096 packets: after the benchmark's
//!   1 → 0.3 Mbit/s drop the sender did not come back up within 45 s once
//!   the link returned to 1 Mbit/s (docs/decisions.md #144). With it, the same
//!   drop on adsl queued 132 packets, the oldest 2.5 s old, behind a
//!   640x360 keyframe paced at 137 kbit/s; 94 stale frames were dropped and
//!   the rate was back 13 s after the link.
//!   A keyframe is never dropped for its age unless a newer one is queued:
//!   on a link too thin for a keyframe in time, a late picture beats none.
//!
//! It also counts what loss repair does ([`RepairCounts`]): the distinct
//! packets the peer NACKed, how many requests that took, and the
//! retransmissions sent.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rtc::interceptor::{Attribute, Interceptor, Packet, Pacer, StreamInfo, TaggedPacket};
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::sansio::Protocol;
use rtc::shared::marshal::MarshalSize;

use crate::fec::FecShared;
use crate::report_estimate::ReportedRate;

mod keyframe;
mod repair;
#[cfg(test)]
mod tests;
mod video_queue;

use keyframe::Codec;
pub(crate) use repair::RepairCounts;
pub use repair::RepairStats;
use video_queue::VideoQueue;

/// Video leaves at this multiple of the estimate: enough to drain an
/// encoder's overshoot and a keyframe quickly, so the queue that matters is
/// the link's, which the estimator sees. libwebrtc uses 2.5; less here
/// because our estimator reacts to the modem queue a burst builds.
pub const PACING_FACTOR: f64 = 1.5;
/// After the estimate went down, video is paced at the estimate itself
/// this long: until the encoder has followed (see the module docs).
pub const AFTER_DECREASE: Duration = Duration::from_secs(2);
/// After the estimate went down, keyframes and retransmissions are paced
/// at the estimate itself this long (see the module docs).
pub const KEYFRAME_CALM: Duration = Duration::from_secs(10);
/// Video that has waited this long in our queue is dropped (see the module
/// docs). What a frame may wait here adds to everything else between the
/// camera and the peer's screen (encoder, the link's own queue that the
/// estimator keeps under ~80 ms, the peer's jitter buffer), while the voice
/// does not wait at all: past a few hundred milliseconds the picture is
/// visibly behind the voice, and a frame that late is worth less than the
/// bandwidth it takes from the next ones. Not lower, because the frames
/// queued behind an ordinary keyframe wait for it (at 300 kbit/s, 400 ms
/// carry 15 KB), and dropping them for that alone would ask for another
/// keyframe and start again.
pub const MAX_VIDEO_AGE: Duration = Duration::from_millis(400);
/// Distinct NACKed packets remembered to tell a first request from a repeat.
const NACKED_MEMORY: usize = 2048;
/// Retransmissions remembered (when each left) to refuse a repeat within
/// a round trip: more than a second of them at any loss we adapt to.
const RESENT_MEMORY: usize = 512;

/// The interceptor. See the module docs.
pub(crate) struct PriorityPacer {
    bucket: Pacer,
    /// The estimate, bits per second.
    estimate: f64,
    /// Paced at the estimate itself until then (it went down).
    strict_until: Option<Instant>,
    /// Keyframes paced at the estimate itself until then (it went down).
    calm_until: Option<Instant>,
    audio_ssrcs: HashSet<u32>,
    /// Retransmissions, before any video.
    urgent: VecDeque<TaggedPacket>,
    video: VideoQueue,
    /// Ready for the next interceptor, in order.
    out: VecDeque<TaggedPacket>,
    read: VecDeque<TaggedPacket>,
    counts: Arc<RepairCounts>,
    nacked: HashSet<(u32, u16)>,
    nacked_order: VecDeque<(u32, u16)>,
    /// When each recent retransmission left, oldest first.
    resent: VecDeque<((u32, u16), Instant)>,
    last_log: Option<Instant>,
    /// The receiver-report estimate, for a peer that sends no TWCC: it
    /// reaches us here, not as feedback on the read path.
    reported: ReportedRate,
    /// Whether our video goes RED-wrapped (`crate::fec`): keyframes are
    /// then recognised behind the RED header.
    fec: Option<Arc<FecShared>>,
}

impl std::fmt::Debug for PriorityPacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PriorityPacer").field("rate", &self.bucket.target_bitrate()).finish_non_exhaustive()
    }
}

impl PriorityPacer {
    /// Paces at [`PACING_FACTOR`] times `initial_estimate` until the
    /// congestion controller says otherwise.
    pub(crate) fn new(initial_estimate: f64, counts: Arc<RepairCounts>, reported: ReportedRate) -> Self {
        Self {
            bucket: Pacer::new(initial_estimate * PACING_FACTOR),
            estimate: initial_estimate,
            strict_until: None,
            calm_until: None,
            audio_ssrcs: HashSet::new(),
            urgent: VecDeque::new(),
            video: VideoQueue::default(),
            out: VecDeque::new(),
            read: VecDeque::new(),
            counts,
            nacked: HashSet::new(),
            nacked_order: VecDeque::new(),
            resent: VecDeque::new(),
            last_log: None,
            reported,
            fec: None,
        }
    }

    /// Sees through the RED header of our video once RED is negotiated.
    pub(crate) fn with_fec(mut self, fec: Arc<FecShared>) -> Self {
        self.fec = Some(fec);
        self
    }

    /// Follows the receiver-report estimate when the call uses it.
    fn follow_reported(&mut self, now: Instant) {
        if let Some(rate) = self.reported.get()
            && rate != self.estimate
        {
            self.set_estimate(now, rate);
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
                let key = (nack.media_ssrc, seq);
                if self.video.was_dropped(nack.media_ssrc, seq) {
                    // Not a loss to repair: we dropped it (counted apart).
                    self.counts.nacks_for_dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                self.counts.nack_requests.fetch_add(1, Ordering::Relaxed);
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

    /// Whether `packet` was retransmitted less than a round trip before `now`.
    fn resent_within_round_trip(&self, packet: (u32, u16), now: Instant) -> bool {
        let Some(rtt) = self.counts.round_trip() else { return false };
        self.resent.iter().rev().find(|(p, _)| *p == packet).is_some_and(|(_, at)| now.saturating_duration_since(*at) < rtt)
    }

    fn note_resent(&mut self, packet: &TaggedPacket, now: Instant) {
        if let Packet::Rtp(rtp) = &packet.message.packet {
            self.resent.push_back(((rtp.header.ssrc, rtp.header.sequence_number), now));
            if self.resent.len() > RESENT_MEMORY {
                self.resent.pop_front();
            }
        }
    }

    fn set_estimate(&mut self, now: Instant, estimate: f64) {
        if estimate < self.estimate {
            self.strict_until = Some(now + AFTER_DECREASE);
            self.calm_until = Some(now + KEYFRAME_CALM);
        }
        self.estimate = estimate;
        self.apply_rate(now);
    }

    fn apply_rate(&mut self, now: Instant) {
        let strict = self.strict_until.is_some_and(|t| now < t);
        if !strict {
            self.strict_until = None;
        }
        let calm = self.calm_until.is_some_and(|t| now < t);
        if !calm {
            self.calm_until = None;
        }
        // A retransmission or a keyframe next: the burst the link has no room for.
        let burst_next = !self.urgent.is_empty() || self.video.front_is_key();
        let factor = if strict || (calm && burst_next) { 1.0 } else { PACING_FACTOR };
        let mut rate = self.estimate * factor;
        if !burst_next {
            // Faster rather than age frames out (up to the usual factor):
            // each frame aged out costs a keyframe, the burst the link
            // has least room for. A keyframe itself never ages out alone.
            rate = rate.max(self.video.drain_rate(now).min(self.estimate * PACING_FACTOR));
        }
        if self.bucket.target_bitrate() != rate {
            self.bucket.set_target_bitrate(rate);
        }
    }

    fn head(&self) -> Option<&TaggedPacket> {
        self.urgent.front().or_else(|| self.video.front())
    }

    /// Drops stale video and retransmissions, and asks for a keyframe when
    /// a stream needs one.
    fn age_video(&mut self, now: Instant) {
        self.video.expire(now);
        // A retransmission that waited this long is late for its frame; if
        // the peer still wants the packet it asks again. Measured on lossy
        // before this: 238 retransmissions queued at 91 kbit/s, the oldest
        // 20 s, and no video left for 28 s.
        while self.urgent.front().is_some_and(|m| now.saturating_duration_since(m.now) > MAX_VIDEO_AGE) {
            self.urgent.pop_front();
            self.counts.retransmissions_refused.fetch_add(1, Ordering::Relaxed);
        }
        self.counts.frames_dropped.store(self.video.frames_dropped, Ordering::Relaxed);
        if self.video.keyframe_due(now) {
            self.counts.keyframes_requested.fetch_add(1, Ordering::Relaxed);
            self.counts.keyframe_wanted.notify_one();
        }
        if self.last_log.is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(1)) {
            self.last_log = Some(now);
            tracing::trace!(
                estimate = self.estimate,
                rate = self.bucket.target_bitrate(),
                video = self.video.len(),
                oldest = ?self.video.oldest(now),
                urgent = self.urgent.len(),
                frames_dropped = self.video.frames_dropped,
                "pacer queue"
            );
        }
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
        self.follow_reported(msg.now);
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
            let (ssrc, seq) = (rtp.header.ssrc, rtp.header.sequence_number);
            // A repeated request while the first copy still waits, or is
            // still on its way, adds nothing.
            let queued = self.urgent.iter().any(|m| matches!(&m.message.packet, Packet::Rtp(r) if r.header.ssrc == ssrc && r.header.sequence_number == seq));
            if queued || self.resent_within_round_trip((ssrc, seq), msg.now) || self.video.was_dropped(ssrc, seq) {
                self.counts.retransmissions_refused.fetch_add(1, Ordering::Relaxed);
            } else {
                self.urgent.push_back(msg);
            }
        } else {
            let now = msg.now;
            self.video.red = self.fec.as_ref().and_then(|f| f.red());
            self.video.push(now, msg);
            self.age_video(now);
            self.apply_rate(now);
        }
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.out.pop_front()
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), Self::Error> {
        self.follow_reported(now);
        self.age_video(now);
        self.bucket.refill(now);
        loop {
            // The head decides the pace: a keyframe may go at the estimate.
            self.apply_rate(now);
            let Some(head) = self.head() else { break };
            let bits = Self::bits_of(head);
            if !self.bucket.can_release(bits) {
                break;
            }
            let mut packet = match self.urgent.pop_front() {
                Some(p) => {
                    self.counts.retransmissions_sent.fetch_add(1, Ordering::Relaxed);
                    self.note_resent(&p, now);
                    p
                }
                None => self.video.pop().expect("head exists"),
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
        // Wake at the end of a strict or calm spell too, to pace faster from then.
        let spell_end = match (self.strict_until, self.calm_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match (release, spell_end) {
            (Some(r), Some(t)) => Some(r.min(t)),
            (r, _) => r,
        }
    }
}

impl Interceptor for PriorityPacer {
    fn bind_local_stream(&mut self, info: &StreamInfo) {
        if info.mime_type.to_ascii_lowercase().starts_with("audio/") {
            self.audio_ssrcs.insert(info.ssrc);
        } else {
            self.video.codecs.insert(info.ssrc, Codec::of(&info.mime_type));
        }
    }

    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        self.audio_ssrcs.remove(&info.ssrc);
        self.video.codecs.remove(&info.ssrc);
    }

    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}

    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}
