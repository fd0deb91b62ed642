//! Building the peer connection: codecs, local tracks, interceptors, the uplink's estimator and pacer.

use super::*;

fn feedback(typ: &str, parameter: &str) -> RTCPFeedback {
    RTCPFeedback { typ: typ.to_owned(), parameter: parameter.to_owned() }
}

pub(super) fn codec_parameters(codec: VideoCodec) -> RTCRtpCodecParameters {
    let (payload_type, sdp_fmtp_line) = match codec {
        VideoCodec::Vp8 => (VP8_PAYLOAD_TYPE, String::new()),
        // Exactly what Chrome and Firefox offer for constrained baseline:
        // webrtc-rs negotiates H.264 only on an exact packetization-mode and
        // profile match when VP8 matches exactly too.
        VideoCodec::H264 => {
            (H264_PAYLOAD_TYPE, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f".to_owned())
        }
    };
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: codec.mime_type().to_owned(),
            clock_rate: VIDEO_CLOCK_RATE,
            channels: 0,
            sdp_fmtp_line,
            rtcp_feedback: vec![feedback("nack", ""), feedback("nack", "pli"), feedback("ccm", "fir")],
        },
        payload_type,
    }
}

/// RED (RFC 2198) and ULPFEC (RFC 5109) for video, as libwebrtc names and
/// numbers them: offered beside the codecs; a peer that takes them gets our
/// video with forward error correction (`crate::fec`).
pub(super) fn fec_codecs() -> [RTCRtpCodecParameters; 2] {
    let codec = |name: &str, payload_type| RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: format!("video/{name}"),
            clock_rate: VIDEO_CLOCK_RATE,
            channels: 0,
            sdp_fmtp_line: String::new(),
            rtcp_feedback: vec![],
        },
        payload_type,
    };
    [codec("red", crate::fec::RED_PAYLOAD_TYPE), codec("ulpfec", crate::fec::ULPFEC_PAYLOAD_TYPE)]
}

/// The configured codecs this machine can both encode and decode, in order.
pub(super) fn usable_video_codecs(configured: &[VideoCodec]) -> Result<Vec<VideoCodec>, CallError> {
    let mut usable = Vec::new();
    let mut missing = Vec::new();
    for &codec in configured {
        if usable.contains(&codec) {
            continue;
        }
        match pipeline::check_codec(codec) {
            Ok(()) => usable.push(codec),
            Err(why) => {
                tracing::warn!(%codec, %why, "video codec left out");
                missing.push(why);
            }
        }
    }
    if usable.is_empty() {
        let why = if missing.is_empty() { "the configuration lists no video codec".to_owned() } else { missing.join("; ") };
        return Err(CallError::Pipeline(format!("no video codec can be used: {why} (run scripts/setup.sh, or list vp8 in video.codecs)")));
    }
    Ok(usable)
}

/// Offers every usable codec in preference order: adding a track restricts
/// its transceiver to the track's one codec.
pub(super) async fn offer_codecs(pc: &Arc<dyn PeerConnection>, sender: &Arc<dyn RtpSender>, codecs: &[VideoCodec]) -> Result<(), CallError> {
    for transceiver in pc.get_transceivers().await {
        if let Ok(Some(s)) = transceiver.sender().await
            && s.id() == sender.id()
        {
            transceiver.set_codec_preferences(codecs.iter().map(|&c| codec_parameters(c)).collect()).await?;
            return Ok(());
        }
    }
    Err(CallError::Transport("the video sender has no transceiver".into()))
}

pub(super) fn opus_codec() -> RTCRtpCodecParameters {
    RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: "audio/opus".to_owned(),
            clock_rate: 48_000,
            channels: 2,
            sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
            rtcp_feedback: vec![],
        },
        payload_type: OPUS_PAYLOAD_TYPE,
    }
}

fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish() as u32
}

fn media_track(kind: RtpCodecKind, codec: RTCRtpCodec) -> MediaStreamTrack {
    let name = match kind {
        RtpCodecKind::Audio => "audio",
        _ => "video",
    };
    // Track ids unique per call: webrtc-rs routes inbound RTCP by track id,
    // remote tracks first, so a peer reusing our id (two calls of this crate)
    // would have its keyframe requests delivered to the wrong track.
    let unique = format!("{:08x}", random_u32());
    MediaStreamTrack::new(
        format!("visio-{unique}"),
        format!("visio-{name}-{unique}"),
        format!("visio-{name}"),
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(random_u32()), ..Default::default() },
            codec,
            ..Default::default()
        }],
    )
}

pub(super) fn local_audio_track(codec: RTCRtpCodec) -> Result<Arc<TrackLocalStaticSample>, CallError> {
    Ok(Arc::new(TrackLocalStaticSample::new(Instant::now(), media_track(RtpCodecKind::Audio, codec))?))
}

/// The video track and its SSRC.
pub(super) fn local_video_track(codec: RTCRtpCodec) -> (TrackLocalStaticRTP, u32) {
    let track = media_track(RtpCodecKind::Video, codec);
    let ssrc = track.ssrcs().next().unwrap_or_default();
    (TrackLocalStaticRTP::new(track), ssrc)
}

/// The same track (ids, SSRC) announcing another codec.
pub(super) fn with_codec(track: &MediaStreamTrack, codec: RTCRtpCodec) -> MediaStreamTrack {
    let codings = track
        .codings()
        .iter()
        .cloned()
        .map(|mut coding| {
            coding.codec = codec.clone();
            coding
        })
        .collect();
    MediaStreamTrack::new(track.stream_id().clone(), track.track_id().clone(), track.label().clone(), RtpCodecKind::Video, codings)
}

/// How far the uplink estimate may go above what media can use: what a
/// document transfer can be given on a fast uplink (Chromium's data
/// channel moved a 5 MB scan at 23 Mbit/s on the bench's clean link).
const DATA_CEILING_BPS: f64 = 25_000_000.0;

/// Where the uplink estimate starts and the bounds it keeps (bits per
/// second), whichever estimator makes it.
#[derive(Debug, Clone, Copy)]
pub(super) struct EstimateBounds {
    pub(super) initial: f64,
    pub(super) min: f64,
    pub(super) max: f64,
}

impl EstimateBounds {
    pub(super) fn of(config: &CallConfig) -> EstimateBounds {
        let audio = f64::from(config.audio.bitrate_bps) * 1.25;
        EstimateBounds {
            initial: f64::from(config.start_video_bitrate_bps.clamp(config.min_video_bitrate_bps, config.max_video_bitrate_bps)) + audio,
            // The estimate may go under the video floor: the controller then
            // starves video, not audio (adapt::STARVED_VIDEO_BPS).
            min: f64::from(crate::adapt::STARVED_VIDEO_BPS.min(config.min_video_bitrate_bps)) + audio,
            // Above media's ceiling, room for documents on a fast uplink.
            max: f64::from(config.max_video_bitrate_bps) + audio + DATA_CEILING_BPS,
        }
    }
}

/// What the uplink's estimator and pacer share with the call.
pub(super) struct Uplink {
    /// The documents' rate, measured by the call, counted by the estimator.
    pub(super) data_uplink: crate::estimate::DataUplink,
    /// Each back-off of the estimate, and its climbs while documents
    /// wait, for the encoder and the documents' pace.
    pub(super) moves: watch::Sender<f64>,
    /// What loss repair did, counted by the pacer.
    pub(super) repair: Arc<RepairCounts>,
    /// The receiver-report estimate, when the peer sends no TWCC.
    pub(super) reported: crate::report_estimate::ReportedRate,
    /// Forward error correction: negotiated or not, and at what loss.
    pub(super) fec: Arc<crate::fec::FecShared>,
}

pub(super) async fn build_peer_connection(
    config: &CallConfig,
    ice_servers: &[crate::config::IceServer],
    codecs: &[VideoCodec],
    tx: mpsc::UnboundedSender<Internal>,
    uplink: Uplink,
) -> Result<Arc<dyn PeerConnection>, CallError> {
    let Uplink { data_uplink, moves, repair, reported, fec } = uplink;
    let mut media = MediaEngine::default();
    for &codec in codecs {
        media.register_codec(codec_parameters(codec), RtpCodecKind::Video)?;
    }
    for codec in fec_codecs() {
        media.register_codec(codec, RtpCodecKind::Video)?;
    }
    media.register_codec(opus_codec(), RtpCodecKind::Audio)?;

    // NACK and RTCP reports as usual; send-side congestion control over
    // TWCC (our queue-delay estimator, not webrtc-rs's GCC: see `estimate`)
    // instead of REMB; our forwarder so PLI/FIR reach the encoder.
    let bounds = EstimateBounds::of(config);
    let initial_estimate = bounds.initial;
    let estimator =
        crate::estimate::QueueDelayEstimator::with_data_uplink(bounds.initial, bounds.min, bounds.max, data_uplink).publish_moves(moves);
    // NACK bounded (webrtc-rs's defaults ask for each missing packet every
    // 100 ms for as long as it is in a 512-packet log): after a 10 s cut the
    // peer re-sent the whole gap ten times a second, SRTP refused the copies
    // as replays, and the storm took the uplink for a minute. The video
    // codecs already announce nack and nack pli (codec_parameters).
    let registry = Registry::new()
        .with(Slot::NackResponder, NackResponderBuilder::new().build())
        .with(
            Slot::NackGenerator,
            NackGeneratorBuilder::new().with_size(NACK_LOG_PACKETS).with_max_nacks_per_packet(NACKS_PER_PACKET).build(),
        );
    let registry = configure_rtcp_reports(registry);
    let registry = configure_congestion_control(registry, estimator, CongestionFeedback::Twcc, &mut media)?;
    // Ours in place of webrtc-rs's FIFO pacer (webrtc-rs logs the replacement):
    // audio and retransmissions first, video above the estimate (`pacer`).
    let registry = registry.with(Slot::Pacer, PriorityPacer::new(initial_estimate, repair, reported).with_fec(Arc::clone(&fec)));
    // FEC shells filled as the packets leave, transport-wide numbers written (`crate::fec`).
    let registry = registry.with(Slot::Custom(crate::fec::FILLER_SLOT), crate::fec::FecFiller::new(fec));
    let registry = registry.with(Slot::Custom(14_000), KeyframeRequestForwarder::default());

    let settings = SettingEngineBuilder::new()
        .with_include_loopback_candidate(config.loopback_only)
        .with_ice_connection_attempts(None, Some(ICE_CHECKS_PER_PAIR))
        // libwebrtc's window: a retransmission on a 600 ms satellite round
        // trip arrives well over 64 packets (the default) after the original.
        .with_srtp_replay_protection_window(SRTP_REPLAY_WINDOW)
        // A relayed pair may be nominated half a second into the checks,
        // not two (webrtc-rs's default): where only TURN over TLS gets
        // out, those 1.5 s were the call's start waiting for nothing
        // (decisions.md, "Relayed calls start sooner").
        .with_relay_acceptance_min_wait(Some(RELAY_ACCEPTANCE))
        // An answerer here (the tests' and the load generator's agents)
        // answers `active` as the agent console's browser does, so the
        // kiosk is the DTLS server on the product's path (docs/protocol.md,
        // "DTLS roles"); only the kiosk offers in the product.
        .with_answering_dtls_role(rtc::peer_connection::transport::RTCDtlsRole::Client)
        .build();
    let rtc_config = RTCConfigurationBuilder::new()
        .with_ice_servers(
            ice_servers
                .iter()
                .map(|s| RTCIceServer { urls: s.urls.clone(), username: s.username.clone(), credential: s.credential.clone() })
                .collect(),
        )
        .with_ice_transport_policy(match config.ice_policy {
            IcePolicy::All => RTCIceTransportPolicy::All,
            IcePolicy::Relay => RTCIceTransportPolicy::Relay,
        })
        .build();
    let bind = if config.loopback_only { "127.0.0.1:0" } else { "0.0.0.0:0" };
    let pc = PeerConnectionBuilder::new()
        .with_configuration(rtc_config)
        .with_media_engine(media)
        .with_setting_engine(settings)
        .with_interceptor_registry(registry)
        .with_handler(Arc::new(Handler { tx }))
        .with_udp_addrs(vec![bind.to_owned()])
        .with_data_channel_send_buffer_limit(config.data_channel_send_buffer_limit)
        .build()
        .await?;
    Ok(Arc::new(pc))
}
