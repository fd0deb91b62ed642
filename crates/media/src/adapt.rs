//! Bandwidth adaptation as a pure controller: what the network says in, what
//! the video encoder should do out. No I/O, no clock: the driver feeds it once
//! a second and applies [`EncoderTarget`]s to the GStreamer pipeline.
//!
//! Inputs are the send-side congestion controller's estimate (our
//! queue-delay estimator over TWCC feedback, `crate::estimate`, read from
//! webrtc-rs stats) and the loss the peer reports. REMB is
//! deliberately ignored: Chrome's REMB values collapsed during healthy calls
//! (docs/platform.md). When no estimate exists (a peer without TWCC), a loss-based
//! rule (the one GCC's loss controller uses) moves the rate instead.
//!
//! Policy:
//! 1. audio keeps priority: its bitrate plus overhead is reserved first;
//! 2. video gets the rest, between the configured floor and ceiling;
//! 3. below thresholds the resolution, then the frame rate, step down, so the
//!    few bits there are buy a sharp small picture rather than a blurry big one;
//!    stepping back up waits until the budget has comfortably held for a while.

use std::time::{Duration, Instant};

/// A picture size and rate the encoder is fed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoFormat {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second.
    pub framerate: u32,
}

/// What the encoder should produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderTarget {
    /// Video bitrate in bits per second.
    pub video_bitrate_bps: u32,
    /// Picture fed to the encoder.
    pub format: VideoFormat,
}

/// Limits and the full-quality format.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptationConfig {
    /// Full quality, as configured.
    pub full: VideoFormat,
    /// Video ceiling (from configuration).
    pub max_video_bps: u32,
    /// Video floor.
    pub min_video_bps: u32,
    /// Audio bitrate, reserved before video gets anything.
    pub audio_bps: u32,
    /// Video bitrate before any feedback.
    pub start_video_bps: u32,
}

/// One reading of the network, about once a second.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Observation {
    /// Send-side bandwidth estimate for the whole connection, if any.
    pub estimate_bps: Option<f64>,
    /// Fraction of our packets the peer reports lost (0.0–1.0), if known.
    pub loss_fraction: Option<f64>,
}

/// Bits per pixel per frame a step needs to look acceptable in VP8; measured
/// by eye on talking heads, a starting point to tune on real links.
const BITS_PER_PIXEL: f64 = 0.05;
/// A step up needs this much more than the step's need…
const UPGRADE_MARGIN: f64 = 1.3;
/// …held for this long.
const UPGRADE_HOLD: Duration = Duration::from_secs(5);
/// Packet, SRTP and RTP header overhead on audio.
const AUDIO_OVERHEAD: f64 = 1.25;
/// Bitrate changes smaller than this are not worth reconfiguring the encoder.
const MIN_CHANGE: f64 = 0.05;
/// Below the configured floor, video still follows the estimate down to
/// this: a link too slow for audio plus the floor must not squeeze audio.
pub const STARVED_VIDEO_BPS: u32 = 20_000;

/// At or below this uplink estimate, documents being sent get all the room
/// above audio and the video floor: on a thin uplink a resident waiting for
/// their paper to reach the agent matters more than a sharp picture (a
/// 5 MB scan at half of a 512 kbit/s ADSL uplink's room took over 400 s).
pub const THIN_UPLINK_BPS: f64 = 1_000_000.0;
/// At or above this estimate, documents get [`WIDE_DOCUMENTS_SHARE`] of the
/// room: enough to move a scan quickly while the picture stays good.
pub const WIDE_UPLINK_BPS: f64 = 4_000_000.0;
/// Documents' share of the room on a wide uplink.
pub const WIDE_DOCUMENTS_SHARE: f64 = 0.5;

/// Documents never go slower than this (bytes per second), whatever the
/// estimate says: a transfer must not stall altogether.
pub const MIN_DOCUMENT_RATE: u64 = 4_000;

/// Share of what the estimate holds above audio and the video floor that
/// video gives up while documents are being sent
/// ([`AdaptationController::set_sending_documents`]): all of it on a thin
/// uplink, falling linearly to [`WIDE_DOCUMENTS_SHARE`] on a wide one.
/// Audio, then the video floor, come first whatever the share.
pub fn documents_share(estimate_bps: f64) -> f64 {
    let thinness = ((WIDE_UPLINK_BPS - estimate_bps) / (WIDE_UPLINK_BPS - THIN_UPLINK_BPS)).clamp(0.0, 1.0);
    WIDE_DOCUMENTS_SHARE + (1.0 - WIDE_DOCUMENTS_SHARE) * thinness
}

/// The pace of a document transfer (bytes per second, for visio-transfer's
/// `set_send_rate`) from the room the call leaves for data
/// ([`AdaptationController::data_room_bps`], `CallStats::data_room_bps`):
/// the one rule the kiosk and the benchmarks share.
pub fn document_send_rate(data_room_bps: u64) -> u64 {
    (data_room_bps / 8).max(MIN_DOCUMENT_RATE)
}

/// The controller. See the module docs for the policy.
#[derive(Debug)]
pub struct AdaptationController {
    config: AdaptationConfig,
    sending_documents: bool,
    /// Latest estimate, for [`AdaptationController::data_room_bps`].
    estimate_bps: Option<f64>,
    ladder: Vec<VideoFormat>,
    step: usize,
    video_bps: f64,
    upgrade_since: Option<Instant>,
    current: EncoderTarget,
    changed: bool,
    /// The loss of the last observation, for a back-off between two.
    last_loss: Option<f64>,
}

impl AdaptationController {
    /// Starts at full format, at the configured start bitrate.
    pub fn new(config: AdaptationConfig) -> Self {
        let f = config.full;
        let half = |v: u32| (v / 2).max(2) & !1;
        let ladder = vec![
            f,
            VideoFormat { width: half(f.width), height: half(f.height), framerate: f.framerate },
            VideoFormat { width: half(f.width), height: half(f.height), framerate: (f.framerate / 2).max(5) },
            VideoFormat { width: half(half(f.width)), height: half(half(f.height)), framerate: (f.framerate / 2).max(5) },
        ];
        let video_bps = f64::from(config.start_video_bps.clamp(config.min_video_bps, config.max_video_bps));
        let mut controller = Self {
            config,
            sending_documents: false,
            estimate_bps: None,
            ladder,
            step: 0,
            video_bps,
            upgrade_since: None,
            current: EncoderTarget { video_bitrate_bps: video_bps as u32, format: f },
            changed: false,
            last_loss: None,
        };
        controller.step = controller.best_step(video_bps);
        controller.current = controller.target_now();
        controller
    }

    /// What the encoder should do now.
    pub fn target(&self) -> EncoderTarget {
        self.current
    }

    /// Documents are going up (or not): video leaves them
    /// [`documents_share`] of what the estimate holds above audio and the
    /// video floor, from the next observation on. Audio, then the video
    /// floor, keep priority over documents.
    pub fn set_sending_documents(&mut self, sending: bool) {
        self.sending_documents = sending;
    }

    /// What the estimate leaves for data once audio (with overhead) and
    /// the video target are served, bits per second; 0 without an estimate.
    /// Pace document transfers at this.
    pub fn data_room_bps(&self) -> u64 {
        self.estimate_bps.map_or(0, |estimate| self.data_room_at(estimate))
    }

    /// What an estimate of `estimate_bps` would leave for data with the
    /// current video target: after a back-off, before the next observation
    /// divides the estimate again, documents give way first.
    pub fn data_room_at(&self, estimate_bps: f64) -> u64 {
        let used = f64::from(self.config.audio_bps) * AUDIO_OVERHEAD + f64::from(self.current.video_bitrate_bps);
        (estimate_bps - used).max(0.0) as u64
    }

    /// The bitrate a format needs before we choose it.
    pub fn need_bps(format: VideoFormat) -> f64 {
        f64::from(format.width) * f64::from(format.height) * f64::from(format.framerate) * BITS_PER_PIXEL
    }

    fn best_step(&self, video_bps: f64) -> usize {
        self.ladder
            .iter()
            .position(|f| Self::need_bps(*f) <= video_bps)
            .unwrap_or(self.ladder.len() - 1)
    }

    fn target_now(&self) -> EncoderTarget {
        EncoderTarget { video_bitrate_bps: self.video_bps as u32, format: self.ladder[self.step] }
    }

    /// A new reading of the network.
    pub fn handle_observation(&mut self, now: Instant, observation: Observation) {
        let cfg = self.config;
        let (min, max) = (f64::from(cfg.min_video_bps), f64::from(cfg.max_video_bps));
        let loss = observation.loss_fraction.unwrap_or(0.0).clamp(0.0, 1.0);
        self.last_loss = observation.loss_fraction;
        self.estimate_bps = observation.estimate_bps;
        let wanted = match observation.estimate_bps {
            Some(estimate) => {
                let mut video = estimate - f64::from(cfg.audio_bps) * AUDIO_OVERHEAD;
                if self.sending_documents {
                    video -= (video - min).max(0.0) * documents_share(estimate);
                }
                // Heavy loss the estimator has not reacted to yet: back off as GCC's loss rule does.
                if loss > 0.10 {
                    video *= 1.0 - 0.5 * loss;
                }
                video
            }
            None if loss > 0.10 => self.video_bps * (1.0 - 0.5 * loss),
            None if loss < 0.02 => self.video_bps * 1.05,
            None => self.video_bps,
        };
        // The configured floor holds unless the estimate itself is below
        // audio plus the floor: then video takes what is left, not audio.
        let floor = match observation.estimate_bps {
            Some(estimate) => (estimate - f64::from(cfg.audio_bps) * AUDIO_OVERHEAD).clamp(f64::from(STARVED_VIDEO_BPS), min),
            None => min,
        };
        let wanted = wanted.clamp(floor.min(max), max);
        if (wanted - self.video_bps).abs() / self.video_bps.max(1.0) >= MIN_CHANGE {
            self.video_bps = wanted;
        }

        let best = self.best_step(self.video_bps);
        if best > self.step {
            // Down at once: a format the budget cannot carry freezes.
            self.step = best;
            self.upgrade_since = None;
        } else if best < self.step {
            // Up one step only once the next step's need, with margin, has held.
            let next = self.ladder[self.step - 1];
            if self.video_bps >= Self::need_bps(next) * UPGRADE_MARGIN {
                let since = *self.upgrade_since.get_or_insert(now);
                if now.duration_since(since) >= UPGRADE_HOLD {
                    self.step -= 1;
                    self.upgrade_since = None;
                }
            } else {
                self.upgrade_since = None;
            }
        } else {
            self.upgrade_since = None;
        }

        let target = self.target_now();
        if target != self.current {
            self.current = target;
            self.changed = true;
        }
    }

    /// The estimate moved between two observations: video follows a
    /// back-off now, with the last observation's loss, and ignores a climb
    /// (it goes up only with the next observation; a climb between them is
    /// published for the documents' sake). Waiting for the next
    /// observation (up to a second) left the encoder filling the pacer at
    /// the old rate while the pacer already paced at the new one: on
    /// linkem's `lossy` each back-off then aged out ~13 frames
    /// (docs/benchmarks.md, "Stalls after a back-off").
    pub fn handle_estimate_move(&mut self, now: Instant, estimate_bps: f64) {
        if self.estimate_bps.is_some_and(|e| estimate_bps >= e) {
            return;
        }
        self.handle_observation(now, Observation { estimate_bps: Some(estimate_bps), loss_fraction: self.last_loss });
    }

    /// The new target, once per change.
    pub fn poll_change(&mut self) -> Option<EncoderTarget> {
        std::mem::take(&mut self.changed).then_some(self.current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn controller() -> AdaptationController {
        AdaptationController::new(AdaptationConfig {
            full: VideoFormat { width: 640, height: 360, framerate: 30 },
            max_video_bps: 1_500_000,
            min_video_bps: 80_000,
            audio_bps: 32_000,
            start_video_bps: 800_000,
        })
    }

    fn feed(c: &mut AdaptationController, t0: Instant, secs: std::ops::Range<u64>, estimate: f64) {
        for s in secs {
            c.handle_observation(t0 + Duration::from_secs(s), Observation { estimate_bps: Some(estimate), loss_fraction: Some(0.0) });
        }
    }

    #[test]
    fn starts_at_full_format_and_start_bitrate() {
        let c = controller();
        assert_eq!(c.target().video_bitrate_bps, 800_000);
        assert_eq!(c.target().format, VideoFormat { width: 640, height: 360, framerate: 30 });
    }

    #[test]
    fn follows_the_estimate_minus_audio_and_never_exceeds_the_ceiling() {
        let mut c = controller();
        let t0 = Instant::now();
        feed(&mut c, t0, 0..1, 600_000.0);
        assert_eq!(c.poll_change().unwrap().video_bitrate_bps, 560_000);
        assert_eq!(c.poll_change(), None, "one change, reported once");
        feed(&mut c, t0, 1..2, 10_000_000.0);
        assert_eq!(c.target().video_bitrate_bps, 1_500_000);
    }

    #[test]
    fn audio_keeps_priority_on_a_starved_link() {
        let mut c = controller();
        feed(&mut c, Instant::now(), 0..1, 120_000.0);
        let t = c.target();
        assert_eq!(t.video_bitrate_bps, 80_000, "video drops to its floor, audio keeps its 32 kb/s");
        assert_eq!(t.format, VideoFormat { width: 320, height: 180, framerate: 15 }, "a small picture the floor can carry");
        // Less than audio plus the floor: video goes under its floor, not audio.
        feed(&mut c, Instant::now(), 1..2, 60_000.0);
        let t = c.target();
        assert_eq!(t.video_bitrate_bps, 20_000);
        assert_eq!(t.format, VideoFormat { width: 160, height: 90, framerate: 15 });
    }

    #[test]
    fn steps_resolution_then_framerate_down_at_once() {
        let mut c = controller();
        let t0 = Instant::now();
        // 640x360x30 needs 346 kb/s; 320x180x30 needs 86 kb/s.
        feed(&mut c, t0, 0..1, 300_000.0);
        assert_eq!(c.target().format, VideoFormat { width: 320, height: 180, framerate: 30 });
        feed(&mut c, t0, 1..2, 120_000.0);
        assert_eq!(c.target().format, VideoFormat { width: 320, height: 180, framerate: 15 });
    }

    #[test]
    fn steps_back_up_only_after_the_budget_held_with_margin() {
        let mut c = controller();
        let t0 = Instant::now();
        feed(&mut c, t0, 0..1, 300_000.0);
        assert_eq!(c.target().format.width, 320);
        // Enough for 640x360 but without the 30 % margin: stays small.
        feed(&mut c, t0, 1..20, 420_000.0);
        assert_eq!(c.target().format.width, 320);
        // With margin: up after five seconds, not before.
        feed(&mut c, t0, 20..24, 1_000_000.0);
        assert_eq!(c.target().format.width, 320);
        feed(&mut c, t0, 24..26, 1_000_000.0);
        assert_eq!(c.target().format.width, 640);
    }

    #[test]
    fn without_an_estimate_loss_drives_the_rate() {
        let mut c = controller();
        let t0 = Instant::now();
        c.handle_observation(t0, Observation { estimate_bps: None, loss_fraction: Some(0.2) });
        assert_eq!(c.target().video_bitrate_bps, 720_000);
        for s in 1..4 {
            c.handle_observation(t0 + Duration::from_secs(s), Observation { estimate_bps: None, loss_fraction: Some(0.0) });
        }
        assert!(c.target().video_bitrate_bps > 720_000);
    }

    #[test]
    fn the_documents_share_grows_as_the_uplink_thins() {
        assert_eq!(documents_share(512_000.0), 1.0);
        assert_eq!(documents_share(THIN_UPLINK_BPS), 1.0);
        assert_eq!(documents_share(2_500_000.0), 0.75);
        assert_eq!(documents_share(WIDE_UPLINK_BPS), WIDE_DOCUMENTS_SHARE);
        assert_eq!(documents_share(50_000_000.0), WIDE_DOCUMENTS_SHARE);
        let mut last = 1.0;
        for kbps in (0..6_000).step_by(250) {
            let share = documents_share(f64::from(kbps) * 1000.0);
            assert!(share <= last, "the share never grows with the estimate");
            last = share;
        }
    }

    #[test]
    fn on_a_thin_uplink_documents_get_all_the_room_above_audio_and_the_video_floor() {
        let mut c = controller();
        let t0 = Instant::now();
        feed(&mut c, t0, 0..1, 1_000_000.0);
        assert_eq!(c.target().video_bitrate_bps, 960_000);
        assert_eq!(c.data_room_bps(), 0, "video takes everything audio leaves");
        c.set_sending_documents(true);
        feed(&mut c, t0, 1..2, 1_000_000.0);
        // Video to its floor, documents the 880 kb/s above it.
        assert_eq!(c.target().video_bitrate_bps, 80_000);
        assert_eq!(c.data_room_bps(), 880_000);
        // adsl-poor: 450 kb/s estimated, 330 for documents.
        feed(&mut c, t0, 2..3, 450_000.0);
        assert_eq!(c.target().video_bitrate_bps, 80_000);
        assert_eq!(c.data_room_bps(), 330_000);
        // A back-off to 300 kb/s between observations: documents give way
        // at once, video keeps its target until the next observation.
        assert_eq!(c.data_room_at(300_000.0), 180_000);
        assert_eq!(c.data_room_at(100_000.0), 0, "never below nothing");
        // On a starved link documents get nothing: audio, then the video floor, first.
        feed(&mut c, t0, 3..4, 110_000.0);
        assert_eq!(c.target().video_bitrate_bps, 70_000);
        assert_eq!(c.data_room_bps(), 0);
        c.set_sending_documents(false);
        feed(&mut c, t0, 4..5, 1_000_000.0);
        assert_eq!(c.target().video_bitrate_bps, 960_000);
    }

    #[test]
    fn on_a_wide_uplink_video_keeps_part_of_the_room() {
        let mut c = controller();
        let t0 = Instant::now();
        c.set_sending_documents(true);
        // 2.5 Mbit/s: documents three quarters of (2,460 - 80) kb/s.
        feed(&mut c, t0, 0..1, 2_500_000.0);
        assert_eq!(c.target().video_bitrate_bps, 675_000);
        assert_eq!(c.data_room_bps(), 1_785_000);
        // 8 Mbit/s: half the room is more than video's ceiling needs.
        feed(&mut c, t0, 1..2, 8_000_000.0);
        assert_eq!(c.target().video_bitrate_bps, 1_500_000);
        assert_eq!(c.data_room_bps(), 6_460_000);
    }

    #[test]
    fn documents_are_paced_at_the_room_never_below_the_minimum() {
        assert_eq!(document_send_rate(880_000), 110_000);
        assert_eq!(document_send_rate(0), MIN_DOCUMENT_RATE);
    }

    #[test]
    fn small_wobbles_do_not_reconfigure_the_encoder() {
        let mut c = controller();
        let t0 = Instant::now();
        feed(&mut c, t0, 0..1, 840_000.0);
        let _ = c.poll_change();
        feed(&mut c, t0, 1..2, 850_000.0);
        assert_eq!(c.poll_change(), None);
    }

    #[test]
    fn a_back_off_between_two_observations_lowers_video_at_once_and_never_raises_it() {
        let mut c = controller();
        let t0 = Instant::now();
        feed(&mut c, t0, 0..5, 950_000.0);
        let before = c.poll_change().expect("a target").video_bitrate_bps;
        c.handle_estimate_move(t0 + Duration::from_millis(5_300), 620_000.0);
        let after = c.poll_change().expect("the back-off is a change").video_bitrate_bps;
        assert!(after < before && after <= 620_000 - 32_000, "{before} -> {after}");
        assert_eq!(c.data_room_bps(), c.data_room_at(620_000.0), "documents get what is left of the new estimate");
        c.handle_estimate_move(t0 + Duration::from_millis(5_600), 700_000.0);
        assert_eq!(c.poll_change(), None, "a back-off never raises video");
    }
}

#[cfg(test)]
mod hd_tests {
    use super::*;

    #[test]
    fn a_720p_call_started_small_climbs_to_full_size_when_the_estimate_allows() {
        let mut c = AdaptationController::new(AdaptationConfig {
            full: VideoFormat { width: 1280, height: 720, framerate: 30 },
            max_video_bps: 2_500_000,
            min_video_bps: 100_000,
            audio_bps: 32_000,
            start_video_bps: 800_000,
        });
        assert_eq!(c.target().format.width, 640, "800 kb/s cannot carry 720p");
        let t0 = Instant::now();
        for s in 0..20 {
            c.handle_observation(t0 + Duration::from_secs(s), Observation { estimate_bps: Some(2_540_000.0), loss_fraction: Some(0.0) });
        }
        assert_eq!(c.target().format.width, 1280, "{:?}", c.target());
    }
}
