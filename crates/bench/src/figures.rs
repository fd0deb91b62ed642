//! From recorded samples to figures. Pure functions: every input carries its
//! own timestamp in milliseconds since the Unix epoch (Chromium's
//! `performance.timeOrigin + performance.now()`, our `SystemTime`: one clock
//! on one machine), so the same code reads both columns.

use serde::{Deserialize, Serialize};

/// A gap longer than this without a new frame is a freeze (issue 9).
pub const FREEZE_MS: f64 = 500.0;
/// Bitrates are measured over windows this long.
pub const RATE_WINDOW_MS: f64 = 1000.0;

/// One video frame shown (or decoded) by a receiver.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    pub t: f64,
    pub w: u32,
    pub h: u32,
}

/// A receiver's cumulative counters at one instant (Chromium's `getStats`).
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct StatsSample {
    pub t: f64,
    /// Video RTP bytes received, headers included.
    pub video_bytes: f64,
    pub frames_decoded: f64,
    pub audio_received: f64,
    pub audio_lost: f64,
    /// Video packets received and never received (after retransmissions),
    /// NACKs and PLIs the receiver sent: whether losses get repaired.
    #[serde(default)]
    pub video_received: f64,
    #[serde(default)]
    pub video_lost: f64,
    #[serde(default)]
    pub nacks: f64,
    #[serde(default)]
    pub plis: f64,
    /// FEC packets received (RED/ULPFEC): losses repaired without a round trip.
    #[serde(default)]
    pub fec: f64,
    /// FEC packets the receiver dropped unused (`fecPacketsDiscarded`):
    /// nothing was missing, or they could not recover what was.
    #[serde(default)]
    pub fec_discarded: f64,
    /// The rest are kept for `VISIO_BENCH_TRACE` (how a freeze came about):
    /// packets received on an RTX stream, frames dropped before decoding,
    /// keyframes decoded, the jitter buffer's cumulative delay (s), frames
    /// out of it, its cumulative target delay (s), Chromium's own freeze
    /// count and their total (s).
    #[serde(default)]
    pub retransmitted: f64,
    #[serde(default)]
    pub frames_dropped: f64,
    #[serde(default)]
    pub keyframes_decoded: f64,
    #[serde(default)]
    pub jitter_delay: f64,
    #[serde(default)]
    pub jitter_emitted: f64,
    #[serde(default)]
    pub jitter_target: f64,
    #[serde(default)]
    pub freeze_count: f64,
    #[serde(default)]
    pub freezes_s: f64,
}

/// How the receiver repaired lost video over a window.
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct Repair {
    /// Video packets still missing / (received + missing).
    pub unrepaired: f64,
    pub nacks_per_s: f64,
    pub plis_per_min: f64,
    pub fec_per_s: f64,
    #[serde(default)]
    pub fec_discarded_per_s: f64,
}

pub fn repair(stats: &[StatsSample], from: f64, to: f64) -> Option<Repair> {
    let (a, b) = span(stats, from, to)?;
    let lost = (b.video_lost - a.video_lost).max(0.0);
    let total = lost + b.video_received - a.video_received;
    let seconds = (b.t - a.t) / 1000.0;
    (total > 0.0).then(|| Repair {
        unrepaired: lost / total,
        nacks_per_s: (b.nacks - a.nacks) / seconds,
        plis_per_min: (b.plis - a.plis) * 60.0 / seconds,
        fec_per_s: (b.fec - a.fec) / seconds,
        fec_discarded_per_s: (b.fec_discarded - a.fec_discarded) / seconds,
    })
}

/// Bytes that entered one direction of the link so far: what the sender
/// sent, before the bottleneck drops anything.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkSample {
    pub t: f64,
    pub bytes: u64,
    pub packets: u64,
    /// Packets the bottleneck's full queue dropped (tail drop) so far.
    pub queue_drops: u64,
}

/// The share of the sender's packets the full bottleneck queue dropped over
/// the window: how much it overfilled the link.
pub fn queue_drops(link: &[LinkSample], from: f64, to: f64) -> Option<f64> {
    let first = link.iter().find(|s| s.t >= from)?;
    let last = link.iter().rev().find(|s| s.t <= to)?;
    let packets = last.packets.checked_sub(first.packets).filter(|&p| p > 0)?;
    Some((last.queue_drops - first.queue_drops) as f64 / packets as f64)
}

/// Video as one receiver saw it over a window.
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct VideoFigures {
    /// Frames per second: decoded frames from `getStats` where there are
    /// stats, else frames seen.
    pub fps: f64,
    /// The resolution most frames had.
    pub resolution: Option<(u32, u32)>,
    /// Gaps longer than [`FREEZE_MS`] without a new frame, and their total.
    pub freezes: u32,
    pub frozen_s: f64,
    /// Mean received video bitrate, when stats say.
    pub kbps: Option<f64>,
}

/// Frames, resolution and freezes over `[from, to]`. A window's edges count
/// as frames: a picture that stops before the end is frozen until the end.
pub fn video(frames: &[Frame], from: f64, to: f64) -> VideoFigures {
    let inside: Vec<&Frame> = frames.iter().filter(|f| f.t >= from && f.t <= to).collect();
    let mut edges: Vec<f64> = Vec::with_capacity(inside.len() + 2);
    edges.push(from);
    edges.extend(inside.iter().map(|f| f.t));
    edges.push(to);
    let gaps: Vec<f64> = edges.windows(2).map(|w| w[1] - w[0]).filter(|&g| g > FREEZE_MS).collect();
    let mut sizes: Vec<((u32, u32), usize)> = Vec::new();
    for f in &inside {
        match sizes.iter_mut().find(|(s, _)| *s == (f.w, f.h)) {
            Some((_, n)) => *n += 1,
            None => sizes.push(((f.w, f.h), 1)),
        }
    }
    let seconds = ((to - from) / 1000.0).max(f64::EPSILON);
    VideoFigures {
        fps: inside.len() as f64 / seconds,
        resolution: sizes.iter().max_by_key(|(_, n)| *n).map(|(s, _)| *s),
        freezes: gaps.len() as u32,
        frozen_s: gaps.iter().sum::<f64>() / 1000.0,
        kbps: None,
    }
}

/// The last sample at or before `t`.
fn at(stats: &[StatsSample], t: f64) -> Option<&StatsSample> {
    stats.iter().rev().find(|s| s.t <= t)
}

/// The first and last samples inside `[from, to]`, if they span time.
fn span(stats: &[StatsSample], from: f64, to: f64) -> Option<(&StatsSample, &StatsSample)> {
    let first = stats.iter().find(|s| s.t >= from)?;
    let last = at(stats, to)?;
    (last.t > first.t).then_some((first, last))
}

/// [`video`], with frame rate and bitrate from the receiver's stats.
pub fn video_with_stats(frames: &[Frame], stats: &[StatsSample], from: f64, to: f64) -> VideoFigures {
    let mut figures = video(frames, from, to);
    if let Some((a, b)) = span(stats, from, to) {
        let seconds = (b.t - a.t) / 1000.0;
        figures.fps = (b.frames_decoded - a.frames_decoded) / seconds;
        figures.kbps = Some((b.video_bytes - a.video_bytes) * 8.0 / 1000.0 / seconds);
    }
    figures
}

/// Audio packets lost / (received + lost) over the window.
pub fn audio_loss(stats: &[StatsSample], from: f64, to: f64) -> Option<f64> {
    let (a, b) = span(stats, from, to)?;
    let lost = (b.audio_lost - a.audio_lost).max(0.0);
    let received = b.audio_received - a.audio_received;
    (lost + received > 0.0).then(|| lost / (lost + received))
}

/// A sending rate over one window: `[from, to]`, kbit/s.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    pub from: f64,
    pub to: f64,
    pub kbps: f64,
}

/// Rates over sliding windows of about [`RATE_WINDOW_MS`], one per sample:
/// each from the latest sample at least a window earlier.
pub fn rates(link: &[LinkSample]) -> Vec<Rate> {
    let mut out = Vec::new();
    for (i, s) in link.iter().enumerate() {
        let Some(earlier) = link[..i].iter().rev().find(|e| e.t <= s.t - RATE_WINDOW_MS) else { continue };
        let ms = s.t - earlier.t;
        out.push(Rate { from: earlier.t, to: s.t, kbps: (s.bytes - earlier.bytes) as f64 * 8.0 / ms });
    }
    out
}

/// How the sender followed the link going from its high rate to a low one
/// at `drop` and back at `restore` (issue 9: 1 Mbit/s → 300 kbit/s → 1 Mbit/s).
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct Follow {
    /// Mean sending rate over the 10 s before the drop.
    pub before_kbps: f64,
    /// Mean sending rate over the last 10 s of the low rate.
    pub low_kbps: f64,
    /// From the drop until the sending rate stays at or under `ceiling`
    /// until the restore; `None` if it never did.
    pub settle_s: Option<f64>,
    /// From the restore until a window reaches `back` × `before_kbps`.
    pub recover_s: Option<f64>,
    /// Mean sending rate over the last 10 s of the observation.
    pub after_kbps: f64,
}

/// Windows wholly within `[from, to]`.
fn within(rates: &[Rate], from: f64, to: f64) -> impl Iterator<Item = &Rate> {
    rates.iter().filter(move |r| r.from >= from && r.to <= to)
}

fn mean(rates: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = rates.fold((0.0, 0usize), |(s, n), r| (s + r, n + 1));
    if n == 0 { 0.0 } else { sum / n as f64 }
}

/// See [`Follow`]. Times are measured to the end of the first qualifying
/// window, so the shortest possible answer is one window (≈1 s).
pub fn follow(rates: &[Rate], drop: f64, restore: f64, end: f64, ceiling_kbps: f64, back: f64) -> Follow {
    let before_kbps = mean(within(rates, drop - 10_000.0, drop).map(|r| r.kbps));
    let low: Vec<&Rate> = within(rates, drop, restore).collect();
    // The earliest window after which every window stays under the ceiling.
    let mut settle = None;
    for (i, r) in low.iter().enumerate().rev() {
        if r.kbps > ceiling_kbps {
            break;
        }
        settle = Some(low[i].to);
    }
    let recover = within(rates, restore, end).find(|r| r.kbps >= back * before_kbps).map(|r| r.to);
    Follow {
        before_kbps,
        low_kbps: mean(within(rates, restore - 10_000.0, restore).map(|r| r.kbps)),
        settle_s: settle.map(|t| (t - drop) / 1000.0),
        recover_s: recover.map(|t| (t - restore) / 1000.0),
        after_kbps: mean(within(rates, end - 10_000.0, end).map(|r| r.kbps)),
    }
}

/// The sending rate of each whole second from `from` to `to` (kbit/s): the
/// follow phase's trace, for the eye (printed, not kept).
pub fn per_second(link: &[LinkSample], from: f64, to: f64) -> Vec<u32> {
    let at = |t: f64| link.iter().rev().find(|s| s.t <= t);
    let mut out = Vec::new();
    let mut start = from;
    while start + 1000.0 <= to {
        let (Some(a), Some(b)) = (at(start), at(start + 1000.0)) else { break };
        let ms = (b.t - a.t).max(1.0);
        out.push(((b.bytes - a.bytes) as f64 * 8.0 / ms).round() as u32);
        start += 1000.0;
    }
    out
}

/// The windows wholly within `[from, to]` over `ceiling_kbps`: (seconds
/// from `from` to the window's end, kbit/s).
pub fn windows_over(rates: &[Rate], from: f64, to: f64, ceiling_kbps: f64) -> Vec<(f64, f64)> {
    within(rates, from, to).filter(|r| r.kbps > ceiling_kbps).map(|r| ((r.to - from) / 1000.0, r.kbps)).collect()
}

/// A file moved across the link during the call.
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct Transfer {
    pub bytes: u64,
    pub seconds: f64,
    /// The link's rate that way, if it has one.
    pub line_bps: Option<u64>,
    /// Video at the receiver while the file moved.
    pub video: VideoFigures,
}

impl Transfer {
    pub fn kbps(&self) -> f64 {
        self.bytes as f64 * 8.0 / 1000.0 / self.seconds.max(f64::EPSILON)
    }
    /// How many times the line-rate time the transfer took (1.0 = the whole
    /// line for the file alone, with no video and no overhead).
    pub fn line_ratio(&self) -> Option<f64> {
        let line = self.bytes as f64 * 8.0 / self.line_bps? as f64;
        Some(self.seconds / line)
    }
}

/// Everything measured for one sender on one link.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct Column {
    /// Offer created → first frame shown by the receiver.
    pub first_frame_s: Option<f64>,
    /// Kiosk → hub, at the hub's Chromium, over the measurement window.
    pub up: VideoFigures,
    pub audio_loss: Option<f64>,
    /// Share of the sender's packets tail-dropped by the link's full queue
    /// over the window.
    pub queue_drops: Option<f64>,
    #[serde(default)]
    pub repair: Option<Repair>,
    /// Hub → kiosk, at the kiosk, over the same window.
    pub down: Option<VideoFigures>,
    pub follow: Option<Follow>,
    pub transfer: Option<Transfer>,
    /// Why the scan did not arrive, if it did not.
    pub scan_error: Option<String>,
    /// What went wrong, if a phase failed; the rest are still figures.
    pub notes: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(times: &[f64]) -> Vec<Frame> {
        times.iter().map(|&t| Frame { t, w: 640, h: 360 }).collect()
    }

    #[test]
    fn a_steady_stream_has_no_freezes_and_its_rate() {
        let times: Vec<f64> = (0..300).map(|i| f64::from(i) * 33.3).collect();
        let v = video(&frames(&times), 0.0, 10_000.0);
        assert_eq!(v.freezes, 0);
        assert!((v.fps - 30.0).abs() < 0.1, "{v:?}");
        assert_eq!(v.resolution, Some((640, 360)));
    }

    #[test]
    fn gaps_over_half_a_second_are_freezes_and_so_is_a_stopped_picture() {
        let v = video(&frames(&[0.0, 100.0, 700.0, 800.0, 1200.0]), 0.0, 2000.0);
        // 100 → 700 (600 ms) and 1200 → end (800 ms); 800 → 1200 is 400 ms.
        assert_eq!(v.freezes, 2);
        assert!((v.frozen_s - 1.4).abs() < 1e-9);
    }

    #[test]
    fn the_most_common_resolution_wins() {
        let mut f = frames(&[0.0, 10.0, 20.0]);
        f.push(Frame { t: 30.0, w: 320, h: 180 });
        assert_eq!(video(&f, 0.0, 40.0).resolution, Some((640, 360)));
    }

    #[test]
    fn audio_loss_counts_only_the_window() {
        let s = |t, received, lost| StatsSample { t, audio_received: received, audio_lost: lost, ..Default::default() };
        let stats = [s(0.0, 100.0, 50.0), s(1000.0, 200.0, 50.0), s(2000.0, 290.0, 60.0)];
        assert_eq!(audio_loss(&stats, 1000.0, 2000.0), Some(0.1));
    }

    fn link_at(kbps: impl Fn(f64) -> f64, until_ms: f64) -> Vec<LinkSample> {
        let (mut bytes, mut out, mut t) = (0.0, Vec::new(), 0.0);
        while t <= until_ms {
            out.push(LinkSample { t, bytes: bytes as u64, packets: 0, queue_drops: 0 });
            bytes += kbps(t) * 250.0 / 8.0; // 250 ms of sending
            t += 250.0;
        }
        out
    }

    #[test]
    fn follow_times_the_settling_and_the_climb_back() {
        // 1000 kbit/s; drop at 20 s but the sender needs 3 s; restore at 40 s,
        // the sender climbs back in 5 s.
        let kbps = |t: f64| match t {
            t if t < 23_000.0 => 1000.0,
            t if t < 40_000.0 => 280.0,
            t if t < 45_000.0 => 500.0,
            _ => 950.0,
        };
        let r = rates(&link_at(kbps, 60_000.0));
        let f = follow(&r, 20_000.0, 40_000.0, 60_000.0, 330.0, 0.8);
        assert!((f.before_kbps - 1000.0).abs() < 1.0, "{f:?}");
        let settle = f.settle_s.unwrap();
        assert!((3.0..=4.25).contains(&settle), "{f:?}");
        let recover = f.recover_s.unwrap();
        assert!((5.0..=6.25).contains(&recover), "{f:?}");
        assert!((f.low_kbps - 280.0).abs() < 1.0);
    }

    #[test]
    fn the_trace_has_each_seconds_rate_and_the_windows_over_the_ceiling() {
        let kbps = |t: f64| if (3_000.0..4_000.0).contains(&t) { 400.0 } else { 280.0 };
        let link = link_at(kbps, 10_000.0);
        let seconds = per_second(&link, 0.0, 10_000.0);
        assert_eq!(seconds.len(), 10);
        assert_eq!(seconds[3], 400);
        assert_eq!(seconds[5], 280);
        let over = windows_over(&rates(&link), 0.0, 10_000.0, 330.0);
        assert!(!over.is_empty() && over.iter().all(|(at, k)| (3.25..=5.0).contains(at) && *k > 330.0), "{over:?}");
    }

    #[test]
    fn a_sender_that_never_comes_down_never_settles() {
        let r = rates(&link_at(|_| 1000.0, 60_000.0));
        let f = follow(&r, 20_000.0, 40_000.0, 60_000.0, 330.0, 0.8);
        assert_eq!(f.settle_s, None);
        assert_eq!(f.recover_s, Some(1.0));
    }

    #[test]
    fn a_transfer_compares_with_its_line() {
        let t = Transfer { bytes: 5_000_000, seconds: 50.0, line_bps: Some(1_000_000), ..Default::default() };
        assert_eq!(t.kbps(), 800.0);
        assert_eq!(t.line_ratio(), Some(1.25));
    }
}
