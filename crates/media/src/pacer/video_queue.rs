//! The video queue and its age rule: what waited too long is dropped with
//! the frames that need it, and a keyframe is asked for.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use rtc::interceptor::{Packet, TaggedPacket};
use rtc::shared::marshal::MarshalSize;

use super::MAX_VIDEO_AGE;
use super::keyframe::Codec;

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
/// The drain rate never counts on less time than this: a queue about to
/// age out is not a reason for an unbounded burst.
const DRAIN_AT_LEAST_IN: Duration = Duration::from_millis(50);
/// Dropped packets remembered, to refuse their retransmissions.
const DROPPED_MEMORY: usize = 4096;

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
    bits: u64,
}

/// The video queue and its age rule, kept apart from the rate so it can be
/// tested with packets and instants alone.
#[derive(Default)]
pub(super) struct VideoQueue {
    queue: VecDeque<Queued>,
    /// The bits of everything queued.
    bits: u64,
    pub(super) codecs: HashMap<u32, Codec>,
    /// The frame whose first packet has left: finished whatever its age.
    in_progress: Option<(u32, u32)>,
    /// Streams waiting for a keyframe, since when.
    broken: HashMap<u32, Instant>,
    last_request: Option<Instant>,
    dropped: HashSet<(u32, u16)>,
    dropped_order: VecDeque<(u32, u16)>,
    /// The last frame dropped at the door (counted once).
    last_refused: Option<(u32, u32)>,
    pub(super) frames_dropped: u64,
    /// Our RED payload type, when video goes RED-wrapped: the codec's
    /// payload then follows a one-byte block header.
    pub(super) red: Option<u8>,
}

impl VideoQueue {
    pub(super) fn len(&self) -> usize {
        self.queue.len()
    }

    pub(super) fn front(&self) -> Option<&TaggedPacket> {
        self.queue.front().map(|q| &q.packet)
    }

    /// Whether the next video packet belongs to a keyframe.
    pub(super) fn front_is_key(&self) -> bool {
        self.queue.front().is_some_and(|q| q.key)
    }

    pub(super) fn oldest(&self, now: Instant) -> Option<Duration> {
        self.queue.front().map(|q| now.saturating_duration_since(q.since))
    }

    /// The rate (bits per second) that sends everything queued before its
    /// oldest packet has waited [`MAX_VIDEO_AGE`]; 0 when empty.
    pub(super) fn drain_rate(&self, now: Instant) -> f64 {
        let Some(oldest) = self.oldest(now) else { return 0.0 };
        let left = MAX_VIDEO_AGE.saturating_sub(oldest).max(DRAIN_AT_LEAST_IN);
        self.bits as f64 / left.as_secs_f64()
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
    pub(super) fn was_dropped(&self, ssrc: u32, seq: u16) -> bool {
        self.dropped.contains(&(ssrc, seq))
    }

    /// Queues a video packet, or drops it: while its stream waits for a
    /// keyframe, and when the queue is full.
    pub(super) fn push(&mut self, now: Instant, packet: TaggedPacket) {
        let Packet::Rtp(rtp) = &packet.message.packet else { return };
        let (ssrc, seq) = (rtp.header.ssrc, rtp.header.sequence_number);
        let frame = (ssrc, rtp.header.timestamp);
        let codec = self.codecs.get(&ssrc).copied().unwrap_or(Codec::Other);
        let payload = match self.red {
            Some(red) if rtp.header.payload_type == red => rtp.payload.get(1..).unwrap_or_default(),
            _ => &rtp.payload[..],
        };
        let starts_key = codec.starts_keyframe(payload);
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
        let bits = (rtp.marshal_size() * 8) as u64;
        self.bits += bits;
        self.queue.push_back(Queued { packet, frame, seq, key, since: now, bits });
    }

    /// Marks `ssrc` as waiting for a keyframe (if its keyframes can be recognised).
    fn break_stream(&mut self, now: Instant, ssrc: u32, codec: Codec) {
        if codec != Codec::Other {
            self.broken.entry(ssrc).or_insert(now);
        }
    }

    /// Drops what waited longer than [`MAX_VIDEO_AGE`] (see the module docs).
    pub(super) fn expire(&mut self, now: Instant) {
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
            let mut bits = 0;
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
                bits += q.bits;
                false
            });
            self.bits -= bits;
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
    pub(super) fn keyframe_due(&mut self, now: Instant) -> bool {
        self.give_up_waiting(now);
        if self.broken.is_empty() || self.last_request.is_some_and(|t| now.saturating_duration_since(t) < KEYFRAME_REQUEST_INTERVAL) {
            return false;
        }
        self.last_request = Some(now);
        true
    }

    pub(super) fn pop(&mut self) -> Option<TaggedPacket> {
        let q = self.queue.pop_front()?;
        self.bits -= q.bits;
        self.in_progress = Some(q.frame);
        Some(q.packet)
    }
}
