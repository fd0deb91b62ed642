//! Video handed to the UI newest-wins: the peer's decoded picture, and the
//! small preview of our own camera.
//!
//! One slot: the GStreamer thread replaces whatever the UI has not taken yet,
//! so a slow UI sees fewer frames but memory never grows.

use bytes::Bytes;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
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
    /// When the decoder (for the local preview: the camera pipeline) produced it.
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

/// A video of a call, newest frame first: the peer's picture
/// ([`Call::remote_frames`](crate::Call::remote_frames)) or our own camera's
/// preview ([`Call::local_frames`](crate::Call::local_frames)). Meant for one
/// consumer (the UI's subscription); clones share the same slot.
#[derive(Debug, Clone)]
pub struct Frames {
    pub(crate) slot: Arc<FrameSlot>,
}

/// The name [`Frames`] had when it only carried the remote video.
pub type RemoteFrames = Frames;

impl Frames {
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

    /// Frames produced so far (decoded, or captured for the preview).
    pub fn decoded(&self) -> u64 {
        self.slot.decoded.load(Ordering::Relaxed)
    }

    /// Frames replaced before the consumer took them.
    pub fn dropped(&self) -> u64 {
        self.slot.dropped.load(Ordering::Relaxed)
    }
}

/// What the remote audio decoder saw: how many buffers, and how loud.
#[derive(Debug, Default)]
pub(crate) struct AudioMeter {
    pub(crate) decoded: AtomicU64,
    /// Loudest mean square (0.0–1.0, as `f32` bits) of a decoded buffer since
    /// the last [`take_peak`](Self::take_peak).
    peak_mean_square: AtomicU32,
}

impl AudioMeter {
    /// From the decoder thread: one buffer of samples scaled to -1.0..=1.0.
    pub(crate) fn handle_buffer(&self, mean_square: f32) {
        self.decoded.fetch_add(1, Ordering::Relaxed);
        // f32 bits of non-negative numbers order like the numbers: fetch_max works.
        self.peak_mean_square.fetch_max(mean_square.max(0.0).to_bits(), Ordering::Relaxed);
    }

    /// The loudest buffer since the last call, in dBFS (RMS; -127 for digital
    /// silence, the floor RFC 6464 audio levels use too), and restarts.
    pub(crate) fn take_peak(&self) -> f32 {
        let mean_square = f32::from_bits(self.peak_mean_square.swap(0, Ordering::Relaxed));
        level_dbfs(mean_square)
    }
}

/// Mean square of full-scale samples → RMS level in dBFS, floored at -127.
pub(crate) fn level_dbfs(mean_square: f32) -> f32 {
    if mean_square <= 0.0 { -127.0 } else { (10.0 * mean_square.log10()).max(-127.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u8) -> VideoFrame {
        VideoFrame { width: 1, height: 1, data: Bytes::from(vec![n, 0, 0, 255]), decoded_at: Instant::now() }
    }

    #[tokio::test]
    async fn a_slow_consumer_gets_the_newest_frame_and_the_rest_are_counted_dropped() {
        let frames = Frames { slot: Arc::default() };
        for n in 0..100 {
            frames.slot.put(frame(n));
        }
        assert_eq!(frames.next().await.unwrap().pixel(0, 0)[0], 99);
        assert_eq!((frames.decoded(), frames.dropped()), (100, 99));
        frames.slot.close();
        assert!(frames.next().await.is_none());
    }

    #[test]
    fn audio_meter_reports_the_loudest_buffer_then_starts_over() {
        let meter = AudioMeter::default();
        // A full-scale sine has mean square 0.5: -3 dBFS.
        meter.handle_buffer(0.5 * 0.3 * 0.3);
        meter.handle_buffer(0.5);
        meter.handle_buffer(0.0);
        assert!((meter.take_peak() - -3.01).abs() < 0.01);
        assert_eq!(meter.take_peak(), -127.0, "nothing since: silence");
        meter.handle_buffer(0.5 * 0.3 * 0.3);
        assert!((meter.take_peak() - -13.47).abs() < 0.01, "a sine at volume 0.3");
        assert_eq!(meter.decoded.load(Ordering::Relaxed), 4);
    }
}
