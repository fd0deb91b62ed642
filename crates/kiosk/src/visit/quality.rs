//! How the agent's picture and sound reach the resident, told to the agent
//! (issue 24: connection quality on both sides; the agent's page measures
//! only what it receives). The scale and thresholds are the agent console's
//! own (`qualityLevel` in hub/console/call.js), so both sides read alike:
//! poor above 400 ms of round trip, 5 % loss or under 5 frames a second;
//! fair above 150 ms, 2 % or under 10 frames.

use std::time::{Duration, Instant};

use visio_media::CallStats;
use visio_transfer::{LinkLevel, LinkReport};

/// A report at least this often, and at once when the level changes.
const REPORT_EVERY: Duration = Duration::from_secs(5);

/// Bytes per media packet, to count packets from the received bitrate
/// (webrtc-rs gives the packets lost, not those received).
const PACKET_BYTES: u64 = 1100;

/// One call's reports.
#[derive(Debug, Default)]
pub struct ReceivedQuality {
    last_lost: Option<i64>,
    last_sent: Option<(Instant, LinkLevel)>,
}

impl ReceivedQuality {
    /// One second's statistics: the report to send now, if any.
    pub fn handle_stats(&mut self, now: Instant, stats: &CallStats) -> Option<LinkReport> {
        let lost = (stats.packets_lost_received - self.last_lost.unwrap_or(stats.packets_lost_received)).max(0) as u64;
        self.last_lost = Some(stats.packets_lost_received);
        let received = stats.receive_bitrate_bps / 8 / PACKET_BYTES;
        let loss_permille = (lost * 1000).checked_div(lost + received).map_or(0, |p| p as u32);
        let rtt_ms = stats.rtt.map(|r| u32::try_from(r.as_millis()).unwrap_or(u32::MAX));
        let fps = stats.receive_fps.round() as u32;
        let receiving = stats.frames_decoded > 0;
        let report = LinkReport { level: level(rtt_ms, loss_permille, fps, receiving), rtt_ms, loss_permille, fps };
        let due = match self.last_sent {
            None => true,
            Some((at, level)) => level != report.level || now.saturating_duration_since(at) >= REPORT_EVERY,
        };
        due.then(|| {
            self.last_sent = Some((now, report.level));
            report
        })
    }
}

/// The console's scale, from the kiosk's side.
fn level(rtt_ms: Option<u32>, loss_permille: u32, fps: u32, receiving: bool) -> LinkLevel {
    let rtt = rtt_ms.unwrap_or(0);
    if rtt > 400 || loss_permille > 50 || (receiving && fps < 5) {
        LinkLevel::Poor
    } else if rtt > 150 || loss_permille > 20 || (receiving && fps < 10) {
        LinkLevel::Fair
    } else {
        LinkLevel::Good
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(rtt_ms: u64, lost: i64, kbps: u64, fps: f64) -> CallStats {
        let format = visio_media::adapt::VideoFormat { width: 640, height: 360, framerate: 30 };
        CallStats {
            rtt: Some(Duration::from_millis(rtt_ms)),
            loss_sent: None,
            packets_lost_received: lost,
            audio_packets_lost_received: 0,
            audio_jitter_received: None,
            send_bitrate_bps: 0,
            receive_bitrate_bps: kbps * 1000,
            estimate_bps: None,
            sending: visio_media::adapt::EncoderTarget { video_bitrate_bps: 0, format },
            data_room_bps: 0,
            receive_fps: fps,
            receive_resolution: None,
            frames_decoded: 100,
            frames_dropped: 0,
            audio_frames_decoded: 0,
            audio_level_received_dbfs: None,
            video_codec_sent: None,
            video_codec_received: None,
            keyframes_sent: 0,
            repair_sent: Default::default(),
            nacks_sent: 0,
        }
    }

    #[test]
    fn levels_follow_the_consoles_scale_and_are_told_on_change_or_every_five_seconds() {
        let t0 = Instant::now();
        let mut q = ReceivedQuality::default();
        let first = q.handle_stats(t0, &stats(40, 0, 1100, 30.0)).unwrap();
        assert_eq!(first, LinkReport { level: LinkLevel::Good, rtt_ms: Some(40), loss_permille: 0, fps: 30 });
        assert_eq!(q.handle_stats(t0 + Duration::from_secs(1), &stats(40, 0, 1100, 30.0)), None, "nothing new");
        // 1.1 Mbit/s is 125 packets a second: 5 lost is 3.8 %.
        let fair = q.handle_stats(t0 + Duration::from_secs(2), &stats(40, 5, 1100, 30.0)).unwrap();
        assert_eq!((fair.level, fair.loss_permille), (LinkLevel::Fair, 38));
        let poor = q.handle_stats(t0 + Duration::from_secs(3), &stats(450, 5, 1100, 30.0)).unwrap();
        assert_eq!(poor.level, LinkLevel::Poor);
        assert_eq!(q.handle_stats(t0 + Duration::from_secs(8), &stats(450, 5, 1100, 30.0)).map(|r| r.level), Some(LinkLevel::Poor), "again after 5 s");
        assert_eq!(q.handle_stats(t0 + Duration::from_secs(9), &stats(40, 5, 1100, 4.0)).map(|r| r.level), None, "still poor: a frozen picture");
    }
}
