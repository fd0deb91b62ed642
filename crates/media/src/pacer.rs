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
//!   adsl: four back-offs in two seconds, from 940 to 430 kbit/s);
//! - video waits at most [`MAX_VIDEO_AGE`]: an older frame that has not
//!   begun to leave is dropped whole (every packet of its RTP timestamp),
//!   with the frames behind it that need it to decode, and the encoder is
//!   asked for a keyframe ([`RepairCounts::keyframe_wanted`]); until one
//!   comes, that stream's video is dropped at the door, and retransmissions
//!   of dropped packets (the peer NACKs the gap) are not sent. Without this
//!   bound the queue had no limit but 4,096 packets: after the benchmark's
//!   1 → 0.3 Mbit/s drop the sender did not come back up within 45 s once
//!   the link returned to 1 Mbit/s (docs/decisions.md). With it, the same
//!   drop on adsl queued 132 packets, the oldest 2.5 s old, behind a
//!   640x360 keyframe paced at 137 kbit/s; 94 stale frames were dropped and
//!   the rate was back 13 s after the link.
//!   A keyframe is never dropped for its age unless a newer one is queued:
//!   on a link too thin for a keyframe in time, a late picture beats none.
//!
//! It also counts what loss repair does ([`RepairCounts`]): the distinct
//! packets the peer NACKed, how many requests that took, and the
//! retransmissions sent.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rtc::interceptor::{Attribute, Interceptor, Packet, Pacer, StreamInfo, TaggedPacket};
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::sansio::Protocol;
use rtc::shared::marshal::MarshalSize;
use tokio::sync::Notify;

use crate::report_estimate::ReportedRate;

/// Video leaves at this multiple of the estimate: enough to drain an
/// encoder's overshoot and a keyframe quickly, so the queue that matters is
/// the link's, which the estimator sees. libwebrtc uses 2.5; less here
/// because our estimator reacts to the modem queue a burst builds.
pub const PACING_FACTOR: f64 = 1.5;
/// After the estimate went down, video is paced at the estimate itself
/// this long: until the encoder has followed (see the module docs).
pub const AFTER_DECREASE: Duration = Duration::from_secs(2);
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
/// While a stream waits for the keyframe it needs, it is asked for again
/// this often (the first request may come before the encoder runs).
const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(500);
/// A stream waits at most this long for a keyframe before its video flows
/// again regardless: a codec whose keyframes we cannot recognise must not
/// lose its video for good.
const BROKEN_AT_MOST: Duration = Duration::from_secs(3);
/// Packets held before new video is refused (upstream's default); the age
/// bound keeps the queue far shorter.
const QUEUE_LIMIT: usize = 4096;
/// Dropped packets remembered, to refuse their retransmissions.
const DROPPED_MEMORY: usize = 4096;
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
    /// Video frames dropped from our queue (too old, or undecodable after
    /// one that was).
    pub frames_dropped: AtomicU64,
    /// Requests for packets we had dropped ourselves (not in the two
    /// counts above: they measure the repair of the link's losses).
    pub nacks_for_dropped: AtomicU64,
    /// Keyframes the pacer asked the encoder for.
    pub keyframes_requested: AtomicU64,
    /// Retransmissions not sent: their packet had been dropped, a copy was
    /// already queued, or they waited over [`MAX_VIDEO_AGE`].
    pub retransmissions_refused: AtomicU64,
    /// Notified when the encoder should send a keyframe (a frame was dropped).
    pub keyframe_wanted: Notify,
}

impl RepairCounts {
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

/// How the pacer tells a keyframe's first packet from the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    Vp8,
    H264,
    /// Keyframes not recognised: frames are still dropped for age, but the
    /// stream never waits for a keyframe.
    Other,
}

impl Codec {
    fn of(mime_type: &str) -> Self {
        match mime_type.to_ascii_lowercase().as_str() {
            "video/vp8" => Codec::Vp8,
            "video/h264" => Codec::H264,
            _ => Codec::Other,
        }
    }

    /// Whether this RTP payload begins (VP8) or carries the start of
    /// (H.264: SPS or IDR) a keyframe.
    fn starts_keyframe(self, payload: &[u8]) -> bool {
        match self {
            Codec::Vp8 => vp8_starts_keyframe(payload),
            Codec::H264 => h264_carries_keyframe(payload),
            Codec::Other => false,
        }
    }
}

/// RFC 7741: the payload descriptor, then on the first packet of a frame
/// (S = 1, partition 0) the VP8 header, whose P bit is 0 for a keyframe.
fn vp8_starts_keyframe(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else { return false };
    if first & 0x10 == 0 || first & 0x07 != 0 {
        return false;
    }
    let mut at = 1;
    if first & 0x80 != 0 {
        let Some(&ext) = payload.get(1) else { return false };
        at = 2;
        if ext & 0x80 != 0 {
            // PictureID: 15 bits when M is set.
            let Some(&id) = payload.get(at) else { return false };
            at += if id & 0x80 != 0 { 2 } else { 1 };
        }
        if ext & 0x40 != 0 {
            at += 1; // TL0PICIDX
        }
        if ext & 0x30 != 0 {
            at += 1; // TID/Y/KEYIDX
        }
    }
    payload.get(at).is_some_and(|header| header & 0x01 == 0)
}

/// RFC 6184: a NAL unit (single, in a STAP-A, or the first fragment of a
/// FU-A) of type 5 (IDR slice) or 7 (SPS, which precedes every IDR ours send).
fn h264_carries_keyframe(payload: &[u8]) -> bool {
    let key = |nal: u8| matches!(nal & 0x1f, 5 | 7);
    let Some(&first) = payload.first() else { return false };
    match first & 0x1f {
        24 => {
            let mut at = 1;
            while let (Some(&hi), Some(&lo)) = (payload.get(at), payload.get(at + 1)) {
                let size = usize::from(u16::from_be_bytes([hi, lo]));
                if payload.get(at + 2).is_some_and(|&nal| key(nal)) {
                    return true;
                }
                at += 2 + size;
            }
            false
        }
        28 => payload.get(1).is_some_and(|&fu| fu & 0x80 != 0 && key(fu)),
        _ => key(first),
    }
}

/// A video packet waiting in the queue.
struct Queued {
    packet: TaggedPacket,
    /// (SSRC, RTP timestamp): the frame it belongs to.
    frame: (u32, u32),
    seq: u16,
    /// Part of a keyframe.
    key: bool,
    /// When it was queued.
    since: Instant,
}

/// The video queue and its age rule, kept apart from the rate so it can be
/// tested with packets and instants alone.
#[derive(Default)]
struct VideoQueue {
    queue: VecDeque<Queued>,
    codecs: HashMap<u32, Codec>,
    /// The frame whose first packet has left: finished whatever its age.
    in_progress: Option<(u32, u32)>,
    /// Streams waiting for a keyframe, since when.
    broken: HashMap<u32, Instant>,
    last_request: Option<Instant>,
    dropped: HashSet<(u32, u16)>,
    dropped_order: VecDeque<(u32, u16)>,
    /// The last frame dropped at the door (counted once).
    last_refused: Option<(u32, u32)>,
    frames_dropped: u64,
}

impl VideoQueue {
    fn len(&self) -> usize {
        self.queue.len()
    }

    fn front(&self) -> Option<&TaggedPacket> {
        self.queue.front().map(|q| &q.packet)
    }

    fn oldest(&self, now: Instant) -> Option<Duration> {
        self.queue.front().map(|q| now.saturating_duration_since(q.since))
    }

    fn remember_dropped(&mut self, ssrc: u32, seq: u16) {
        if self.dropped.insert((ssrc, seq)) {
            self.dropped_order.push_back((ssrc, seq));
            if self.dropped_order.len() > DROPPED_MEMORY
                && let Some(old) = self.dropped_order.pop_front()
            {
                self.dropped.remove(&old);
            }
        }
    }

    /// Whether this packet was dropped (its retransmission would be waste).
    fn was_dropped(&self, ssrc: u32, seq: u16) -> bool {
        self.dropped.contains(&(ssrc, seq))
    }

    /// Queues a video packet, or drops it: while its stream waits for a
    /// keyframe, and when the queue is full.
    fn push(&mut self, now: Instant, packet: TaggedPacket) {
        let Packet::Rtp(rtp) = &packet.message.packet else { return };
        let (ssrc, seq) = (rtp.header.ssrc, rtp.header.sequence_number);
        let frame = (ssrc, rtp.header.timestamp);
        let codec = self.codecs.get(&ssrc).copied().unwrap_or(Codec::Other);
        let starts_key = codec.starts_keyframe(&rtp.payload);
        if starts_key {
            self.broken.remove(&ssrc);
        }
        self.give_up_waiting(now);
        let refuse = if self.broken.contains_key(&ssrc) {
            true
        } else if self.queue.len() >= QUEUE_LIMIT {
            // A frame missing a packet breaks the picture like a dropped one.
            self.break_stream(now, ssrc, codec);
            true
        } else {
            false
        };
        if refuse {
            self.remember_dropped(ssrc, seq);
            if self.last_refused != Some(frame) {
                self.last_refused = Some(frame);
                self.frames_dropped += 1;
            }
            return;
        }
        // A keyframe's later packets (and H.264's SPS before the IDR) share its timestamp.
        let key = starts_key || self.queue.back().is_some_and(|q| q.frame == frame && q.key);
        if starts_key {
            for q in self.queue.iter_mut().rev().take_while(|q| q.frame == frame) {
                q.key = true;
            }
        }
        self.queue.push_back(Queued { packet, frame, seq, key, since: now });
    }

    /// Marks `ssrc` as waiting for a keyframe (if its keyframes can be recognised).
    fn break_stream(&mut self, now: Instant, ssrc: u32, codec: Codec) {
        if codec != Codec::Other {
            self.broken.entry(ssrc).or_insert(now);
        }
    }

    /// Drops what waited longer than [`MAX_VIDEO_AGE`] (see the module docs).
    fn expire(&mut self, now: Instant) {
        while let Some(front) = self.queue.front() {
            if Some(front.frame) == self.in_progress || now.saturating_duration_since(front.since) <= MAX_VIDEO_AGE {
                return;
            }
            let (ssrc, _) = front.frame;
            let newer_key = self.queue.iter().skip_while(|q| q.frame == front.frame).find(|q| q.frame.0 == ssrc && q.key).map(|q| q.frame);
            if front.key && newer_key.is_none() {
                // The only way back to a picture: late is better than never.
                return;
            }
            // Everything of this stream up to its next keyframe: the frame
            // too old, and those that would need it to decode.
            let until = newer_key;
            let before = self.queue.len();
            let mut frames = HashSet::new();
            let mut gone = Vec::new();
            let mut reached = false;
            self.queue.retain(|q| {
                if q.frame.0 != ssrc || reached || Some(q.frame) == self.in_progress {
                    return true;
                }
                if Some(q.frame) == until {
                    reached = true;
                    return true;
                }
                frames.insert(q.frame);
                gone.push(q.seq);
                false
            });
            for seq in gone {
                self.remember_dropped(ssrc, seq);
            }
            self.frames_dropped += frames.len() as u64;
            let codec = self.codecs.get(&ssrc).copied().unwrap_or(Codec::Other);
            if until.is_none() {
                self.break_stream(now, ssrc, codec);
            }
            tracing::debug!(ssrc, frames = frames.len(), packets = before - self.queue.len(), left = self.queue.len(), "stale video dropped");
        }
    }

    /// Streams that waited [`BROKEN_AT_MOST`] for a keyframe stop waiting.
    fn give_up_waiting(&mut self, now: Instant) {
        self.broken.retain(|ssrc, since| {
            let waiting = now.saturating_duration_since(*since) < BROKEN_AT_MOST;
            if !waiting {
                tracing::debug!(ssrc, "no keyframe recognised in time; video flows again");
            }
            waiting
        });
    }

    /// Whether the encoder should be asked for a keyframe now.
    fn keyframe_due(&mut self, now: Instant) -> bool {
        self.give_up_waiting(now);
        if self.broken.is_empty() || self.last_request.is_some_and(|t| now.saturating_duration_since(t) < KEYFRAME_REQUEST_INTERVAL) {
            return false;
        }
        self.last_request = Some(now);
        true
    }

    fn pop(&mut self) -> Option<TaggedPacket> {
        let q = self.queue.pop_front()?;
        self.in_progress = Some(q.frame);
        Some(q.packet)
    }
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
    video: VideoQueue,
    /// Ready for the next interceptor, in order.
    out: VecDeque<TaggedPacket>,
    read: VecDeque<TaggedPacket>,
    counts: Arc<RepairCounts>,
    nacked: HashSet<(u32, u16)>,
    nacked_order: VecDeque<(u32, u16)>,
    last_log: Option<Instant>,
    /// The receiver-report estimate, for a peer that sends no TWCC: it
    /// reaches us here, not as feedback on the read path.
    reported: ReportedRate,
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
            audio_ssrcs: HashSet::new(),
            urgent: VecDeque::new(),
            video: VideoQueue::default(),
            out: VecDeque::new(),
            read: VecDeque::new(),
            counts,
            nacked: HashSet::new(),
            nacked_order: VecDeque::new(),
            last_log: None,
            reported,
        }
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
            // A repeated request while the first copy still waits adds nothing.
            let queued = self.urgent.iter().any(|m| matches!(&m.message.packet, Packet::Rtp(r) if r.header.ssrc == ssrc && r.header.sequence_number == seq));
            if queued || self.video.was_dropped(ssrc, seq) {
                self.counts.retransmissions_refused.fetch_add(1, Ordering::Relaxed);
            } else {
                self.urgent.push_back(msg);
            }
        } else {
            let now = msg.now;
            self.video.push(now, msg);
            self.age_video(now);
        }
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.out.pop_front()
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), Self::Error> {
        self.follow_reported(now);
        if self.strict_until.is_some() {
            self.apply_rate(now);
        }
        self.age_video(now);
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
        let mut p = PriorityPacer::new(bps / PACING_FACTOR, Arc::default(), ReportedRate::default());
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
        let mut p = PriorityPacer::new(96_000.0, Arc::default(), ReportedRate::default());
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
        let mut p = PriorityPacer::new(1_000_000.0, Arc::default(), ReportedRate::default());
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

    /// A VP8 packet of frame `ts`: `first` for a frame's first packet,
    /// `key` for a keyframe's.
    fn vp8(now: Instant, seq: u16, ts: u32, first: bool, key: bool) -> TaggedPacket {
        let mut payload = vec![0u8; 1188];
        if first {
            payload[0] = 0x10; // S = 1, partition 0
            payload[1] = if key { 0x00 } else { 0x01 };
        }
        let packet = rtc::rtp::Packet {
            header: rtc::rtp::header::Header { version: 2, ssrc: VIDEO, sequence_number: seq, timestamp: ts, ..Default::default() },
            payload: payload.into(),
        };
        TransportMessage { now, transport: TransportContext::default(), message: AttributedPacket::new(Packet::Rtp(packet)) }
    }

    /// Writes a frame of `packets` packets at `now`, numbered from `seq`.
    fn frame(p: &mut PriorityPacer, now: Instant, seq: u16, ts: u32, packets: u16, key: bool) {
        for i in 0..packets {
            p.handle_write(vp8(now, seq + i, ts, i == 0, key)).unwrap();
        }
    }

    /// Releases every 10 ms from `from_ms` to `to_ms` after `t0`.
    fn run(p: &mut PriorityPacer, t0: Instant, from_ms: u64, to_ms: u64) -> Vec<(u32, u16)> {
        (from_ms..=to_ms).step_by(10).flat_map(|ms| release(p, t0 + Duration::from_millis(ms))).collect()
    }

    #[test]
    fn video_older_than_the_bound_is_dropped_whole_with_what_needs_it_and_a_keyframe_is_asked_for() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        // 96 kbit/s: one packet every 100 ms.
        let mut p = pacer(96_000.0);
        frame(&mut p, t0, 0, 1000, 3, true); // 0..=2, keyframe
        frame(&mut p, t0, 3, 2000, 3, false); // 3..=5
        let mut sent = run(&mut p, t0, 0, 290);
        frame(&mut p, ms(300), 6, 3000, 2, false); // 6, 7
        sent.extend(run(&mut p, t0, 300, 800));
        // 2000 began to leave 300 ms old and was finished 500 ms old; 3000 left 300 ms old.
        assert_eq!(sent, [0, 1, 2, 3, 4, 5, 6, 7].map(|s| (VIDEO, s)));
        assert_eq!(p.counts.frames_dropped.load(Ordering::Relaxed), 0);

        // A longer keyframe: the frames behind it wait over 400 ms.
        let mut p = pacer(96_000.0);
        frame(&mut p, t0, 0, 1000, 5, true); // 0..=4: 500 ms to send
        let mut sent = run(&mut p, t0, 0, 40);
        frame(&mut p, ms(50), 5, 2000, 2, false); // waits behind it
        sent.extend(run(&mut p, t0, 50, 80));
        frame(&mut p, ms(90), 7, 3000, 2, false); // needs 2000
        sent.extend(run(&mut p, t0, 90, 690));
        // 2000 is 410 ms old at 460 ms; 3000, not stale, cannot decode without it.
        assert_eq!(sent, [0, 1, 2, 3, 4].map(|s| (VIDEO, s)), "2000 (and 3000 after it) never left");
        assert_eq!(p.counts.frames_dropped.load(Ordering::Relaxed), 2);
        assert_eq!(p.counts.keyframes_requested.load(Ordering::Relaxed), 1, "asked once");
        // Until the keyframe comes, new video is dropped at the door.
        frame(&mut p, ms(700), 9, 4000, 2, false);
        assert!(run(&mut p, t0, 700, 890).is_empty());
        frame(&mut p, ms(900), 11, 5000, 2, true);
        sent = run(&mut p, t0, 900, 930);
        frame(&mut p, ms(933), 13, 6000, 1, false);
        sent.extend(run(&mut p, t0, 940, 1290));
        assert_eq!(sent, [11, 12, 13].map(|s| (VIDEO, s)));
        assert_eq!(p.counts.frames_dropped.load(Ordering::Relaxed), 3);
        // The peer NACKs the gap: dropped packets are not resent, sent ones are.
        for seq in [6, 9, 4] {
            p.handle_write(rtp(ms(1300), VIDEO, seq, true)).unwrap();
        }
        assert_eq!(run(&mut p, t0, 1300, 1500), [(VIDEO, 4)]);
        assert_eq!(p.counts.retransmissions_refused.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn while_the_keyframe_does_not_come_it_is_asked_for_again_then_video_flows_anyway() {
        let t0 = Instant::now();
        let mut p = pacer(96_000.0);
        frame(&mut p, t0, 0, 1000, 5, true);
        frame(&mut p, t0, 5, 2000, 1, false);
        run(&mut p, t0, 0, 500);
        assert_eq!(p.counts.keyframes_requested.load(Ordering::Relaxed), 1);
        for (seq, ms) in (6..).zip((500..3500).step_by(100)) {
            frame(&mut p, t0 + Duration::from_millis(ms), seq, 10 * ms as u32, 1, false);
        }
        // Asked at 410 ms, then every 500 ms while it waits (1000, 1500, … 3000 ms).
        assert_eq!(p.counts.keyframes_requested.load(Ordering::Relaxed), 6);
        // Three seconds after the drop, video flows again.
        frame(&mut p, t0 + Duration::from_millis(3500), 100, 99_000, 1, false);
        assert_eq!(run(&mut p, t0, 3500, 3600), [(VIDEO, 100)]);
    }

    #[test]
    fn a_late_keyframe_is_sent_unless_a_newer_one_is_queued() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        for newer in [false, true] {
            let mut p = pacer(96_000.0);
            // Audio leaves at once but spends the budget of the next 600 ms.
            for seq in 0..6 {
                p.handle_write(rtp(t0, AUDIO, seq, false)).unwrap();
            }
            // A keyframe that cannot leave before it is stale ...
            frame(&mut p, t0, 0, 1000, 3, true);
            let mut sent = run(&mut p, t0, 0, 490);
            if newer {
                // ... unless a newer one is queued by then.
                frame(&mut p, ms(500), 3, 3000, 1, true);
            }
            sent.extend(run(&mut p, t0, 500, 590));
            frame(&mut p, ms(600), 4, 4000, 1, false);
            sent.extend(run(&mut p, t0, 600, 1200));
            let video: Vec<_> = sent.into_iter().filter(|&(ssrc, _)| ssrc == VIDEO).collect();
            if newer {
                assert_eq!(video, [(VIDEO, 3), (VIDEO, 4)], "the old keyframe gave way to the new one");
                assert_eq!(p.counts.frames_dropped.load(Ordering::Relaxed), 1);
            } else {
                assert_eq!(video, [0, 1, 2, 4].map(|s| (VIDEO, s)), "the keyframe left 600 ms old: the only way to a picture");
                assert_eq!(p.counts.frames_dropped.load(Ordering::Relaxed), 0);
            }
            assert_eq!(p.counts.keyframes_requested.load(Ordering::Relaxed), 0);
        }
    }

    #[test]
    fn a_retransmission_that_waited_too_long_or_is_already_queued_is_not_sent() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut p = pacer(96_000.0);
        for seq in 0..8 {
            p.handle_write(rtp(t0, VIDEO, seq, true)).unwrap();
        }
        p.handle_write(rtp(ms(50), VIDEO, 7, true)).unwrap(); // asked again
        let sent = run(&mut p, t0, 0, 900);
        // One every 100 ms; at 500 ms the rest had waited over 400 ms.
        assert_eq!(sent, [0, 1, 2, 3, 4].map(|s| (VIDEO, s)));
        assert_eq!(p.counts.retransmissions_refused.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn audio_is_never_held_or_dropped() {
        let t0 = Instant::now();
        let mut p = pacer(96_000.0);
        frame(&mut p, t0, 0, 1000, 20, true);
        for seq in 0..50 {
            p.handle_write(rtp(t0 + Duration::from_millis(20 * u64::from(seq)), AUDIO, seq, false)).unwrap();
        }
        let audio = std::iter::from_fn(|| p.poll_write()).filter(|m| matches!(&m.message.packet, Packet::Rtp(r) if r.header.ssrc == AUDIO)).count();
        assert_eq!(audio, 50);
    }

    #[test]
    fn recognises_keyframes_of_vp8_and_h264() {
        assert!(vp8_starts_keyframe(&[0x10, 0x00]));
        assert!(!vp8_starts_keyframe(&[0x10, 0x01]), "inter frame");
        assert!(!vp8_starts_keyframe(&[0x00, 0x00]), "not a frame's first packet");
        assert!(!vp8_starts_keyframe(&[0x11, 0x00]), "not partition 0");
        // X, I with a 15-bit PictureID, L, T: four more bytes.
        assert!(vp8_starts_keyframe(&[0x90, 0xe0, 0x81, 0x23, 0x05, 0x40, 0x00]));
        assert!(!vp8_starts_keyframe(&[0x90, 0xe0, 0x81, 0x23, 0x05, 0x40, 0x01]));
        assert!(!vp8_starts_keyframe(&[0x90]), "truncated");
        assert!(h264_carries_keyframe(&[0x65, 0x88]), "IDR slice");
        assert!(h264_carries_keyframe(&[0x67, 0x42]), "SPS");
        assert!(!h264_carries_keyframe(&[0x41, 0x9a]), "non-IDR slice");
        // STAP-A with SPS and PPS.
        assert!(h264_carries_keyframe(&[0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce]));
        assert!(!h264_carries_keyframe(&[0x78, 0x00, 0x02, 0x06, 0x05, 0x00, 0x02, 0x41, 0x9a]));
        // FU-A: first fragment of an IDR, a later one.
        assert!(h264_carries_keyframe(&[0x7c, 0x85, 0x88]));
        assert!(!h264_carries_keyframe(&[0x7c, 0x05, 0x88]));
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
