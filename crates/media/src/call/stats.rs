//! The driver's measurements and what follows from them: once a second the
//! connection's stats become the call's [`CallStats`], the adaptation
//! controller's observation and FEC's loss; a back-off of the estimate in
//! between slows the encoder and documents at once, a climb while
//! documents wait speeds them up.

use super::*;
use super::driver::Driver;

impl Driver {
    /// The estimate just backed off: the encoder and documents slow down
    /// now, before the queue grows for another second. Or it climbed while
    /// documents wait: they get the new room now (the encoder never goes
    /// up between stats). The next stats divide the estimate between video
    /// and documents again.
    pub(super) fn uplink_moved(&mut self, estimate_bps: f64) {
        if self.state == CallState::Connected {
            self.controller.handle_estimate_move(Instant::now(), estimate_bps);
            self.apply_encoder_target();
            let data_room_bps = self.controller.data_room_at(estimate_bps);
            tracing::debug!(estimate_bps, data_room_bps, "uplink estimate moved between stats");
            self.emit.send(CallEvent::DataRoom { data_room_bps });
        }
    }

    /// Hands the controller's new target, or FEC's new share of it, to the
    /// encoder.
    fn apply_encoder_target(&mut self) {
        let changed = self.controller.poll_change();
        // FEC's share comes out of the video budget (`crate::fec::overhead`).
        let fec_moved = self.fec.share_moved(changed.is_some());
        if let (Some(target), Some(video)) = (changed.or_else(|| fec_moved.then(|| self.controller.target())), &self.video) {
            let bps = (f64::from(target.video_bitrate_bps) * self.fec.encoder_share()) as u32;
            tracing::debug!(?target, bps, fec_loss = self.fec.shared.loss(), "new encoder target");
            let f = target.format;
            video.set_target(bps, f.width, f.height, f.framerate);
        }
    }


    pub(super) async fn poll_stats(&mut self) {
        let now = Instant::now();
        let report = self.pc.get_stats(now, StatsSelector::None).await;
        let (mut sent, mut received) = (0u64, 0u64);
        let mut estimate = None;
        let mut rtt = None;
        let mut loss_sent = None;
        let mut lost_received = 0i64;
        let mut nacks_sent = 0u64;
        let (mut audio_lost, mut audio_jitter) = (0i64, None);
        let mut sent_codec_id = None;
        let mut video_packets_sent = 0u64;
        let mut codec_mimes = Vec::new();
        for entry in report.iter() {
            match entry {
                RTCStatsReportEntry::OutboundRtp(s) => {
                    sent += s.sent_rtp_stream_stats.bytes_sent;
                    let stream = &s.sent_rtp_stream_stats.rtp_stream_stats;
                    if stream.kind == RtpCodecKind::Video {
                        sent_codec_id = Some(stream.codec_id.clone());
                        video_packets_sent += s.sent_rtp_stream_stats.packets_sent;
                    }
                    if s.target_bitrate > 0.0 {
                        estimate = Some(s.target_bitrate);
                    }
                }
                RTCStatsReportEntry::InboundRtp(s) => {
                    received += s.bytes_received;
                    nacks_sent += u64::from(s.nack_count);
                    lost_received += s.received_rtp_stream_stats.packets_lost;
                    if s.received_rtp_stream_stats.rtp_stream_stats.kind == RtpCodecKind::Audio {
                        audio_lost += s.received_rtp_stream_stats.packets_lost;
                        // In RTP timestamp units: Opus runs a 48 kHz clock.
                        let jitter = s.received_rtp_stream_stats.jitter / 48_000.0;
                        if jitter.is_finite() && jitter > 0.0 {
                            audio_jitter = Some(Duration::from_secs_f64(jitter));
                        }
                    }
                }
                RTCStatsReportEntry::RemoteInboundRtp(s) => {
                    if s.received_rtp_stream_stats.rtp_stream_stats.kind == RtpCodecKind::Video {
                        loss_sent = Some(s.fraction_lost);
                    }
                    if s.round_trip_time > 0.0 {
                        rtt.get_or_insert(Duration::from_secs_f64(s.round_trip_time));
                    }
                }
                RTCStatsReportEntry::Codec(c) => codec_mimes.push((c.stats.id.clone(), c.mime_type.clone())),
                RTCStatsReportEntry::IceCandidatePair(p) if p.nominated && p.current_round_trip_time > 0.0 => {
                    rtt = Some(Duration::from_secs_f64(p.current_round_trip_time));
                }
                _ => {}
            }
        }
        let decoded = self.frames.decoded.load(Ordering::Relaxed);
        let audio_decoded = self.audio_meter.decoded.load(Ordering::Relaxed);
        let audio_level = self.audio_meter.take_peak();
        let (send_bps, recv_bps, fps) = match self.last_stats {
            Some((then, s, r, d)) => {
                let secs = now.duration_since(then).as_secs_f64().max(0.001);
                (
                    (sent.saturating_sub(s) as f64 * 8.0 / secs) as u64,
                    (received.saturating_sub(r) as f64 * 8.0 / secs) as u64,
                    decoded.saturating_sub(d) as f64 / secs,
                )
            }
            None => (0, 0, 0.0),
        };
        self.last_stats = Some((now, sent, received, decoded));
        // Documents' bytes, for the log (the estimator reads the same count
        // at each feedback): message bytes, without the ~7 % of SCTP, DTLS
        // and UDP headers the estimator adds (`DATA_OVERHEAD`).
        let data_sent = self.data_uplink.bytes_sent();
        let data_sent_bps = self.data_sent.map_or(0, |(then, before)| {
            (data_sent.saturating_sub(before) as f64 * 8.0 / now.duration_since(then).as_secs_f64().max(0.001)) as u64
        });
        self.data_sent = Some((now, data_sent));

        if estimate.is_none() && self.report_estimate.is_none() {
            // webrtc-rs reports the estimator's target only once it moved
            // from where it started; an app-limited sender on an empty path
            // (loopback) may never move it. Until then it is that start.
            estimate = Some(EstimateBounds::of(&self.config).initial);
        }
        if let Some(reports) = &mut self.report_estimate {
            // Once the peer has reported at all; until then, where it started.
            let target = match loss_sent {
                Some(loss) => reports.handle_report(now, loss, rtt),
                None => reports.target(),
            };
            self.reported.set(target);
            estimate = Some(target);
        }
        self.controller.handle_observation(now, Observation { estimate_bps: estimate, loss_fraction: loss_sent });
        tracing::debug!(
            estimate,
            loss_sent,
            video_bps = self.controller.target().video_bitrate_bps,
            data_room_bps = self.controller.data_room_bps(),
            data_sent_bps,
            "uplink share"
        );
        if let Some(rtt) = rtt {
            self.repair.set_round_trip(rtt);
        }
        self.fec.observe(loss_sent, self.repair.snapshot().nacked_packets, video_packets_sent, rtt);
        self.apply_encoder_target();
        self.emit.send(CallEvent::Stats(Box::new(CallStats {
            rtt,
            loss_sent,
            packets_lost_received: lost_received,
            audio_packets_lost_received: audio_lost,
            audio_jitter_received: audio_jitter,
            send_bitrate_bps: send_bps,
            receive_bitrate_bps: recv_bps,
            estimate_bps: estimate.map(|e| e as u64),
            sending: self.controller.target(),
            data_room_bps: self.controller.data_room_bps(),
            receive_fps: fps,
            receive_resolution: self.frames.last_size(),
            frames_decoded: decoded,
            frames_dropped: self.frames.dropped.load(Ordering::Relaxed),
            audio_frames_decoded: audio_decoded,
            audio_level_received_dbfs: (audio_decoded > self.last_audio_decoded).then_some(audio_level),
            // As webrtc-rs reports the outbound video stream: it names a codec
            // only when the track's codec is one the peer negotiated.
            video_codec_sent: sent_codec_id
                .and_then(|id| codec_mimes.iter().find(|(c, _)| *c == id).and_then(|(_, mime)| VideoCodec::from_name(mime))),
            video_codec_received: self.received_codec.get().copied(),
            keyframes_sent: self.video.as_ref().map_or(0, |v| v.keyframes.load(Ordering::Relaxed)),
            repair_sent: self.repair.snapshot(),
            nacks_sent,
        })));
        self.last_audio_decoded = audio_decoded;
    }
}
