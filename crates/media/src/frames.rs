//! Decoded remote video, handed to the UI newest-wins.
//!
//! One slot: the decoder thread replaces whatever the UI has not taken yet, so
//! a slow UI sees fewer frames but memory never grows.

use bytes::Bytes;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Notify;

/// One decoded picture, RGBA, rows packed (`width * 4` bytes each).
#[derive(Clone)]
pub struct VideoFrame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// RGBA bytes, `width * height * 4`.
    pub data: Bytes,
    /// When the decoder produced it.
    pub decoded_at: Instant,
}

impl std::fmt::Debug for VideoFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoFrame")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("bytes", &self.data.len())
            .finish()
    }
}

impl VideoFrame {
    /// The RGBA value at `(x, y)`.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 4] {
        let i = ((y * self.width + x) * 4) as usize;
        [self.data[i], self.data[i + 1], self.data[i + 2], self.data[i + 3]]
    }

    /// The capture-time stamp the sender drew, if it was configured to
    /// (see [`VideoConfig::stamp_capture_time`](crate::VideoConfig::stamp_capture_time)).
    pub fn capture_stamp(&self) -> Option<u32> {
        crate::stamp::read_rgba(&self.data, self.width as usize, self.height as usize)
    }
}

#[derive(Debug, Default)]
pub(crate) struct FrameSlot {
    frame: Mutex<Option<VideoFrame>>,
    notify: Notify,
    closed: AtomicBool,
    pub(crate) decoded: AtomicU64,
    pub(crate) dropped: AtomicU64,
    /// Remote audio buffers decoded (kept here: the per-call receive counters).
    pub(crate) audio_decoded: AtomicU64,
    /// `width << 32 | height` of the last frame, 0 before the first.
    size: AtomicU64,
}

impl FrameSlot {
    /// From the decoder thread: keep only the newest frame.
    pub(crate) fn put(&self, frame: VideoFrame) {
        self.decoded.fetch_add(1, Ordering::Relaxed);
        self.size.store(u64::from(frame.width) << 32 | u64::from(frame.height), Ordering::Relaxed);
        // The lock is held for a pointer swap only; poisoning would mean a panic
        // while swapping, which cannot happen.
        let old = self.frame.lock().unwrap_or_else(|e| e.into_inner()).replace(frame);
        if old.is_some() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        self.notify.notify_one();
    }

    /// Size of the last frame put.
    pub(crate) fn last_size(&self) -> Option<(u32, u32)> {
        let size = self.size.load(Ordering::Relaxed);
        (size != 0).then_some(((size >> 32) as u32, size as u32))
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.notify.notify_one();
    }
}

/// The remote video of a call, newest frame first. Meant for one consumer
/// (the UI's subscription); clones share the same slot.
#[derive(Debug, Clone)]
pub struct RemoteFrames {
    pub(crate) slot: Arc<FrameSlot>,
}

impl RemoteFrames {
    /// Waits for the next frame; `None` once the call has ended.
    pub async fn next(&self) -> Option<VideoFrame> {
        loop {
            if let Some(frame) = self.slot.frame.lock().unwrap_or_else(|e| e.into_inner()).take() {
                return Some(frame);
            }
            if self.slot.closed.load(Ordering::Acquire) {
                return None;
            }
            // notify_one stores a permit when nobody waits, so a frame put
            // between the check above and this await is not missed.
            self.slot.notify.notified().await;
        }
    }

    /// Frames decoded so far.
    pub fn decoded(&self) -> u64 {
        self.slot.decoded.load(Ordering::Relaxed)
    }

    /// Frames replaced before the consumer took them.
    pub fn dropped(&self) -> u64 {
        self.slot.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u8) -> VideoFrame {
        VideoFrame { width: 1, height: 1, data: Bytes::from(vec![n, 0, 0, 255]), decoded_at: Instant::now() }
    }

    #[tokio::test]
    async fn a_slow_consumer_gets_the_newest_frame_and_the_rest_are_counted_dropped() {
        let frames = RemoteFrames { slot: Arc::default() };
        for n in 0..100 {
            frames.slot.put(frame(n));
        }
        assert_eq!(frames.next().await.unwrap().pixel(0, 0)[0], 99);
        assert_eq!((frames.decoded(), frames.dropped()), (100, 99));
        frames.slot.close();
        assert!(frames.next().await.is_none());
    }
}
