//! The per-track tasks the driver spawns: encoded media to RTP, RTP to decoders, keyframe requests.

use super::*;

/// Encoded frames → RTP, once negotiation has told us the payload type.
pub(super) async fn write_samples(track: Arc<TrackLocalStaticSample>, mut rx: mpsc::Receiver<Encoded>, pt: watch::Receiver<Option<PayloadType>>) {
    let mut ssrc = None;
    let (mut written, mut since) = (0u32, Instant::now());
    while let Some(encoded) = rx.recv().await {
        if since.elapsed() >= Duration::from_secs(5) {
            tracing::debug!(per_second = f64::from(written) / since.elapsed().as_secs_f64(), "samples written");
            (written, since) = (0, Instant::now());
        }
        written += 1;
        let Some(payload_type) = *pt.borrow() else { continue };
        if ssrc.is_none() {
            ssrc = track.ssrcs().await.first().copied();
        }
        let Some(ssrc) = ssrc else { continue };
        let sample = Sample { data: encoded.data, duration: encoded.duration, ..Sample::new(Instant::now()) };
        if let Err(e) = track.sample_writer(ssrc, payload_type).write_sample(&sample).await {
            tracing::trace!(error = %e, "sample not sent");
        }
    }
}

/// Encoded video → RTP in the negotiated codec, once negotiation has told us
/// which and with what payload type; RED-wrapped with ULPFEC packets when
/// the peer took them (`crate::fec`). Sequence numbers are ours, so FEC
/// packets can take theirs between frames.
pub(super) async fn write_video(
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    mut rx: mpsc::Receiver<Encoded>,
    send: watch::Receiver<Option<(PayloadType, VideoCodec)>>,
    fec: Arc<crate::fec::FecShared>,
) {
    let mut packetizer: Option<(PayloadType, Box<dyn Packetizer>)> = None;
    let mut first = true;
    let mut next_seq: Option<u16> = None;
    let mut fec_sender = crate::fec::FecSender::default();
    while let Some(encoded) = rx.recv().await {
        let Some((payload_type, codec)) = *send.borrow() else { continue };
        // H.264 keyframes get a delta frame's protection.
        let vp8_key = codec == VideoCodec::Vp8 && encoded.data.first().is_some_and(|b| b & 1 == 0);
        if first {
            // The call's start-up timeline (RUST_LOG=visio_media=debug): media from here on.
            first = false;
            tracing::debug!(%codec, bytes = encoded.data.len(), vp8_key, "first video frame sent");
        }
        if packetizer.as_ref().map(|(pt, _)| *pt) != Some(payload_type) {
            let payloader = match codec_parameters(codec).rtp_codec.payloader() {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(%codec, error = %e, "no RTP packetiser");
                    continue;
                }
            };
            let sequencer = Box::new(new_random_sequencer());
            let p = new_packetizer(Instant::now(), RTP_MTU, payload_type, ssrc, payloader, sequencer, VIDEO_CLOCK_RATE);
            packetizer = Some((payload_type, Box::new(p)));
        }
        let Some((_, p)) = packetizer.as_mut() else { continue };
        let samples = (encoded.duration.as_secs_f64() * f64::from(VIDEO_CLOCK_RATE)) as u32;
        match p.packetize(Instant::now(), &encoded.data, samples) {
            Ok(packets) => {
                let Some(start) = packets.first().map(|p| p.header.sequence_number) else { continue };
                let seq = next_seq.get_or_insert(start);
                let packets = match fec.types() {
                    Some(types) => fec_sender.frame(packets, vp8_key, fec.loss(), types, seq),
                    None => packets
                        .into_iter()
                        .map(|mut p| {
                            p.header.sequence_number = *seq;
                            *seq = seq.wrapping_add(1);
                            p
                        })
                        .collect(),
                };
                for packet in packets {
                    if let Err(e) = track.write_rtp(packet).await {
                        tracing::trace!(error = %e, "video packet not sent");
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "frame not packetised"),
        }
    }
}

/// PLI/FIR from the peer → keyframe from our encoder.
pub(super) async fn answer_keyframe_requests(track: Arc<TrackLocalStaticRTP>, video: Arc<VideoSender>) {
    while let Some(event) = track.poll().await {
        if let TrackLocalEvent::OnRtcpPacket(packets) = event
            && packets.iter().any(|p| is_keyframe_request(p.as_ref()))
        {
            tracing::debug!("peer asked for a keyframe");
            video.force_keyframe();
        }
    }
    tracing::debug!("keyframe-request listener ended");
}

/// Our pacer dropped video that waited too long: the peer cannot decode
/// past the gap, so the encoder starts again from a keyframe.
pub(super) async fn answer_dropped_video(repair: Arc<RepairCounts>, video: Arc<VideoSender>) {
    loop {
        repair.keyframe_wanted.notified().await;
        tracing::debug!("pacer dropped stale video; keyframe");
        video.force_keyframe();
    }
}

/// Where a remote track's decoded media goes.
pub(super) struct ReceiveSinks {
    pub(super) audio_sink: crate::config::AudioSink,
    pub(super) frames: Arc<FrameSlot>,
    pub(super) audio: Arc<AudioMeter>,
    /// The peer's video payload types, from its description.
    pub(super) remote_video: Vec<(u8, VideoCodec)>,
    pub(super) received_codec: Arc<OnceLock<VideoCodec>>,
    /// The peer's RED and ULPFEC payload types, when it sends them.
    pub(super) fec: Option<crate::fec::FecPayloadTypes>,
}

impl ReceiveSinks {
    /// The decoder for a track's first packet: audio is always Opus; video is
    /// whatever codec the peer's description gave this payload type.
    fn kind(&self, video: bool, payload_type: u8) -> Result<RemoteKind, CallError> {
        if !video {
            return Ok(RemoteKind::Opus);
        }
        let codec = self.remote_video.iter().find(|(pt, _)| *pt == payload_type).map(|(_, c)| *c).ok_or_else(|| {
            CallError::Transport(format!(
                "the peer sends video with payload type {payload_type}, which its description does not map to a codec we decode"
            ))
        })?;
        let _ = self.received_codec.set(codec);
        Ok(RemoteKind::Video(codec))
    }
}

/// A remote track: RTP → decoder, and keyframe requests until it decodes.
pub(super) async fn receive_track(
    track: Arc<dyn TrackRemote>,
    sinks: ReceiveSinks,
    picture_lost: Arc<Notify>,
    internal: mpsc::UnboundedSender<Internal>,
) {
    let video = track.kind().await != RtpCodecKind::Audio;
    let frames = Arc::clone(&sinks.frames);
    let decoded = Arc::new(Notify::new());
    let mut keyframes = KeyframeRequests::new(Duration::from_secs(1));
    if video {
        keyframes.handle_track(Instant::now());
    }
    let mut receiver: Option<Receiver> = None;
    let mut failed = false;
    let mut media_ssrc = track.ssrcs().await.first().copied();
    let mut first_frame = true;
    let mut bus_watch = None;
    let mut media_type = None;
    loop {
        let wake = keyframes.poll_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            event = track.poll() => match event {
                Some(TrackRemoteEvent::OnRtpPacket(packet)) => {
                    media_ssrc.get_or_insert(packet.header.ssrc);
                    // RED unwrapped; an FEC packet an empty one (not used to recover).
                    let fec = if video { sinks.fec } else { None };
                    let Some(packet) = crate::fec::for_decoder(packet, fec, media_type) else { continue };
                    if fec.is_none_or(|t| packet.header.payload_type != t.red) && !packet.payload.is_empty() {
                        media_type = Some(packet.header.payload_type);
                    }
                    if receiver.is_none() && !failed {
                        let decoded = Arc::clone(&decoded);
                        let pt = packet.header.payload_type;
                        let started = sinks.kind(video, pt).and_then(|kind| {
                            Receiver::start(kind, pt, &sinks.audio_sink, Arc::clone(&frames), Arc::clone(&sinks.audio), move || decoded.notify_one())
                        });
                        match started {
                            Ok(r) => {
                                let internal = internal.clone();
                                let what = if video { "remote video decoder" } else { "remote audio decoder" };
                                bus_watch = Some(AbortOnDrop(pipeline::watch_bus(r.bus(), what, move |e| drop(internal.send(Internal::Error(e))))));
                                receiver = Some(r);
                            }
                            Err(e) => {
                                failed = true;
                                let _ = internal.send(Internal::Error(e));
                            }
                        }
                    }
                    if let (Some(r), Ok(bytes)) = (&receiver, packet.marshal()) {
                        r.push(bytes.freeze());
                    }
                }
                Some(TrackRemoteEvent::OnEnded) | None => break,
                Some(_) => {}
            },
            _ = async { tokio::time::sleep_until(wake.unwrap_or_else(tokio::time::Instant::now)).await }, if wake.is_some() => {
                if keyframes.handle_timeout(Instant::now()) && let Some(ssrc) = media_ssrc {
                    let pli = PictureLossIndication { sender_ssrc: 0, media_ssrc: ssrc };
                    match track.write_rtcp(vec![Box::new(pli)]).await {
                        Ok(()) => tracing::debug!(ssrc, "PLI sent"),
                        Err(e) => tracing::debug!(error = %e, "PLI not sent"),
                    }
                }
            }
            _ = decoded.notified() => {
                keyframes.handle_frame_decoded();
                if first_frame {
                    first_frame = false;
                    if let Some(f) = frames_peek_size(&frames) {
                        let _ = internal.send(Internal::RemoteVideoStarted(f.0, f.1));
                    }
                }
            }
            _ = picture_lost.notified(), if video => keyframes.handle_picture_lost(Instant::now()),
        }
    }
    drop(bus_watch);
}

/// Ends a helper task with the task that owns it, even when that one is aborted.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn frames_peek_size(frames: &FrameSlot) -> Option<(u32, u32)> {
    frames.last_size()
}
