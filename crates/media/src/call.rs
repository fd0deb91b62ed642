//! The call: a cheap cloneable [`Call`] handle, a [`CallEvents`] stream, and
//! one driver task that owns the webrtc-rs connection and the GStreamer
//! pipelines (the shape of quinn's `Connection` + `ConnectionDriver`).
//!
//! The handle sends commands to the driver and waits for replies; webrtc-rs
//! callbacks reach the driver through an internal channel; the driver emits
//! [`CallEvent`]s. Per-track work (feeding RTP into decoders, answering
//! keyframe requests, writing encoded frames) runs in small tasks the driver
//! spawns and aborts when the call ends.

use crate::adapt::{AdaptationConfig, AdaptationController, EncoderTarget, Observation, VideoFormat};
use crate::config::{CallConfig, IcePolicy, VideoCodec};
use crate::data_channel::{DOCUMENTS_CHANNEL, DataChannelHandle, pump_data_channel};
use crate::error::CallError;
use crate::frames::{AudioMeter, FrameSlot, Frames};
use crate::interceptor::{KeyframeRequestForwarder, is_keyframe_request};
use crate::pacer::{PriorityPacer, RepairCounts, RepairStats};
use crate::negotiation::{
    CandidateQueue, CandidateVerdict, KeyframeRequests, answer_to_dtls_client, check_remote_sdp, choose_video_codec, ice_ufrag,
    offer_as_dtls_client, remote_video_codecs,
};
use crate::pipeline::{self, AudioSender, Encoded, Receiver, RemoteKind, VideoSender};
use crate::signaling::{IceCandidate, SdpKind, SessionDescription};
use rtc::interceptor::{NackGeneratorBuilder, NackResponderBuilder, Slot};
use rtc::media::Sample;
use rtc::media_stream::MediaStreamTrack;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp::packetizer::{Packetizer, new_packetizer};
use rtc::rtp::sequence::new_random_sequencer;
use rtc::rtp_transceiver::PayloadType;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::shared::marshal::Marshal;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use webrtc::data_channel::DataChannel;
use webrtc::media_stream::Track;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    CongestionFeedback, MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceCandidateInit, RTCIceServer, RTCIceTransportPolicy, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState, RTCSessionDescription, RTCStatsReportEntry, Registry, SettingEngineBuilder, StatsSelector,
    configure_congestion_control, configure_rtcp_reports,
};
use webrtc::rtp_transceiver::RtpSender;

const VP8_PAYLOAD_TYPE: u8 = 96;
const H264_PAYLOAD_TYPE: u8 = 102;
const OPUS_PAYLOAD_TYPE: u8 = 111;
/// What webrtc-rs's own sample track packetises to.
const RTP_MTU: usize = 1200;
const VIDEO_CLOCK_RATE: u32 = 90_000;
const EVENT_CAPACITY: usize = 1024;
const STATS_INTERVAL: Duration = Duration::from_secs(1);
/// Connectivity checks per candidate pair, one every 200 ms: 15 s, the
/// kiosk's retry interval between ICE restarts. webrtc-rs's default (7,
/// 1.4 s) gives up on a restart made while the link is still cut, and a
/// restart discards the old pair that would have come back by itself, so
/// the call stayed down until the next restart (docs/decisions.md).
const ICE_CHECKS_PER_PAIR: u16 = 75;
/// Missing packets are asked for while among the last this many received
/// (a second or more of video on our links)…
const NACK_LOG_PACKETS: u16 = 128;
/// …and at most this many times each.
const NACKS_PER_PACKET: u16 = 3;
const SRTP_REPLAY_WINDOW: usize = 1024;

/// Where the call stands, as the kiosk needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    /// Created, nothing exchanged yet.
    New,
    /// Offer/answer done, ICE and DTLS under way.
    Connecting,
    /// Media can flow.
    Connected,
    /// No packet from the peer for 5 s (webrtc-rs's consent check). ICE
    /// comes back to `Connected` by itself when packets flow again on the
    /// same path; the offerer also restarts ICE ([`Call::restart_ice`],
    /// policy in [`IceRestarts`](crate::negotiation::IceRestarts)).
    Disconnected,
    /// No packet from the peer for 30 s, or no path found. Not final: an ICE
    /// restart can still bring the call back while the data channel survives.
    Failed,
    /// Ended (by either side).
    Closed,
}

/// Figures about the call, about once a second.
#[derive(Debug, Clone, PartialEq)]
pub struct CallStats {
    /// Round-trip time to the peer.
    pub rtt: Option<Duration>,
    /// Fraction of our packets the peer reports lost (0.0–1.0).
    pub loss_sent: Option<f64>,
    /// Packets of the peer's media we never received, in total.
    pub packets_lost_received: i64,
    /// Packets of the peer's audio we never received, in total (as our
    /// receiver reports count them).
    pub audio_packets_lost_received: i64,
    /// Inter-arrival jitter of the peer's audio (RFC 3550), as our last
    /// receiver report gave it.
    pub audio_jitter_received: Option<Duration>,
    /// What we send, all streams, bits per second.
    pub send_bitrate_bps: u64,
    /// What we receive, all streams, bits per second.
    pub receive_bitrate_bps: u64,
    /// The congestion controller's estimate of the uplink, if it has one.
    pub estimate_bps: Option<u64>,
    /// What the video encoder is currently asked for.
    pub sending: EncoderTarget,
    /// What the estimate leaves for data once audio (with packet overhead)
    /// and the video target are served, bits per second; 0 without an
    /// estimate. Close to 0 unless [`Call::set_sending_documents`] is on or
    /// video is at its ceiling. Data-channel bytes are not paced by the
    /// call: pace document transfers at this (see `set_sending_documents`).
    pub data_room_bps: u64,
    /// Remote frames decoded per second.
    pub receive_fps: f64,
    /// Size of the last remote frame.
    pub receive_resolution: Option<(u32, u32)>,
    /// Remote frames decoded since the call started.
    pub frames_decoded: u64,
    /// Remote frames the UI did not take before the next one arrived.
    pub frames_dropped: u64,
    /// Remote audio buffers (20 ms each from a browser) decoded since the call started.
    pub audio_frames_decoded: u64,
    /// Loudness of the peer's decoded audio: the loudest 20 ms (RMS, dBFS)
    /// since the previous stats; -127 is digital silence (a muted peer).
    /// `None` when no audio was decoded meanwhile.
    pub audio_level_received_dbfs: Option<f32>,
    /// The codec our video is sent in, as webrtc-rs's outbound video stream
    /// reports it (like the browser's `getStats()` codec).
    pub video_codec_sent: Option<VideoCodec>,
    /// The codec the peer's video arrives in, once it does.
    pub video_codec_received: Option<VideoCodec>,
    /// Keyframes our encoder produced: the first, periodic ones, and those the
    /// peer asked for (PLI/FIR).
    pub keyframes_sent: u64,
    /// Loss repair of our video: NACKs from the peer, our retransmissions.
    pub repair_sent: RepairStats,
    /// NACK packets we sent for the peer's video (each may ask for several
    /// packets), since the call started.
    pub nacks_sent: u64,
}

/// What happens in a call, in order.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CallEvent {
    /// The connection moved to a new state.
    State(CallState),
    /// A local ICE candidate to send to the peer through the hub.
    LocalCandidate(IceCandidate),
    /// The first remote video frame was decoded (frames themselves arrive through [`RemoteFrames`](crate::RemoteFrames)).
    RemoteVideoStarted {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// Call figures, once a second.
    Stats(Box<CallStats>),
    /// The uplink estimate backed off between two [`CallEvent::Stats`]:
    /// pace documents at the smaller room at once
    /// (`document_send_rate(data_room_bps)`), or the queue the estimate
    /// backed off for keeps growing until the next stats.
    DataRoom {
        /// What the lower estimate leaves for data, bits per second (as
        /// [`CallStats::data_room_bps`]).
        data_room_bps: u64,
    },
    /// The documents data channel is open.
    DataChannelOpen(DataChannelHandle),
    /// The documents data channel closed.
    DataChannelClosed,
    /// Something went wrong; the call goes on unless a `State(Failed | Closed)` follows.
    Error(CallError),
}

/// The events of one call. Drop it and events are discarded.
#[derive(Debug)]
pub struct CallEvents {
    rx: mpsc::Receiver<CallEvent>,
}

impl CallEvents {
    /// The next event; `None` once the call has ended and every event was read.
    pub async fn next(&mut self) -> Option<CallEvent> {
        self.rx.recv().await
    }
}

enum Command {
    CreateOffer(oneshot::Sender<Result<SessionDescription, CallError>>),
    AcceptOffer(SessionDescription, oneshot::Sender<Result<SessionDescription, CallError>>),
    SetAnswer(SessionDescription, oneshot::Sender<Result<(), CallError>>),
    RestartIce(oneshot::Sender<Result<SessionDescription, CallError>>),
    AddCandidate(IceCandidate, oneshot::Sender<Result<(), CallError>>),
    Mute(bool),
    SendingDocuments(bool),
    RequestKeyframe,
    HangUp(oneshot::Sender<()>),
}

/// A video call with one peer. Cheap to clone; every clone drives the same
/// call. Dropping the last clone ends the call, like [`hang_up`](Self::hang_up).
#[derive(Debug, Clone)]
pub struct Call {
    commands: mpsc::Sender<Command>,
    frames: Frames,
    local: Frames,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::CreateOffer(_) => "CreateOffer",
            Command::AcceptOffer(..) => "AcceptOffer",
            Command::SetAnswer(..) => "SetAnswer",
            Command::RestartIce(_) => "RestartIce",
            Command::AddCandidate(..) => "AddCandidate",
            Command::Mute(_) => "Mute",
            Command::SendingDocuments(_) => "SendingDocuments",
            Command::RequestKeyframe => "RequestKeyframe",
            Command::HangUp(_) => "HangUp",
        })
    }
}

impl Call {
    /// Prepares a call: opens the camera and microphone, builds the WebRTC
    /// connection, and spawns its driver on the current tokio runtime.
    ///
    /// A camera or microphone that cannot be opened is reported as a
    /// [`CallEvent::Error`], and the call goes on without it; only a broken
    /// installation (GStreamer or WebRTC unusable) is an `Err` here.
    pub async fn new(config: CallConfig) -> Result<(Call, CallEvents), CallError> {
        pipeline::init()?;
        let (events_tx, events_rx) = mpsc::channel(EVENT_CAPACITY);
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        let frames = Frames { slot: Arc::new(FrameSlot::default()) };
        let local = Frames { slot: Arc::new(FrameSlot::default()) };
        let codecs = usable_video_codecs(&config.video.codecs)?;

        let data_rate = crate::estimate::DataRate::default();
        let (backoffs_tx, backoffs) = watch::channel(0.0);
        let repair = Arc::new(RepairCounts::default());
        let uplink = Uplink { data_rate: data_rate.clone(), backoffs: backoffs_tx, repair: Arc::clone(&repair) };
        let (ice_servers, turn_bridges) = crate::turn_bridge::bridge_stream_servers(&config.ice_servers, config.turn_trust_pem.as_deref(), config.proxy.as_ref()).await?;
        let pc = build_peer_connection(&config, &ice_servers, &codecs, internal_tx.clone(), uplink).await?;
        let (video_send_tx, video_send_rx) = watch::channel(None::<(PayloadType, VideoCodec)>);
        let (audio_pt_tx, audio_pt_rx) = watch::channel(None::<PayloadType>);

        let mut tasks = Vec::new();
        let emit = Emitter(events_tx.clone());

        // Video: camera → (preview, encoder once negotiated) → writer task → track.
        let (video_tx, video_rx) = mpsc::channel::<Encoded>(8);
        let video_config = config.video.clone();
        let start_bps = config.start_video_bitrate_bps.clamp(config.min_video_bitrate_bps, config.max_video_bitrate_bps);
        let preview = Arc::clone(&local.slot);
        let video = match tokio::task::spawn_blocking(move || VideoSender::start(&video_config, start_bps, video_tx, preview))
            .await
            .map_err(|e| CallError::Pipeline(format!("camera start-up panicked: {e}")))?
        {
            Ok(v) => v.map(Arc::new),
            Err(e) => {
                tracing::warn!(error = %e, "call goes on without video");
                emit.send(CallEvent::Error(e));
                None
            }
        };
        let mut video_sender = None;
        let mut video_track = None;
        if video.is_some() {
            // Packetised here, not by a sample track: webrtc-rs fixes a sample
            // track's packetiser at creation, before the peer has chosen the codec.
            let (track, ssrc) = local_video_track(codec_parameters(codecs[0]).rtp_codec);
            let track = Arc::new(track);
            let sender = pc.add_track(Arc::clone(&track) as Arc<dyn TrackLocal>).await?;
            offer_codecs(&pc, &sender, &codecs).await?;
            tasks.push(tokio::spawn(write_video(Arc::clone(&track), ssrc, video_rx, video_send_rx)));
            video_sender = Some(sender);
            video_track = Some(track);
        } else {
            // Still receive the agent's video.
            pc.add_transceiver_from_kind(RtpCodecKind::Video, None).await?;
        }

        let (audio_tx, audio_rx) = mpsc::channel::<Encoded>(16);
        let audio_config = config.audio.clone();
        let audio = match tokio::task::spawn_blocking(move || AudioSender::start(&audio_config, audio_tx))
            .await
            .map_err(|e| CallError::Pipeline(format!("microphone start-up panicked: {e}")))?
        {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "call goes on without the microphone");
                emit.send(CallEvent::Error(e));
                None
            }
        };
        let mut audio_sender = None;
        if audio.is_some() {
            let track = local_audio_track(opus_codec().rtp_codec)?;
            let sender = pc.add_track(Arc::clone(&track) as Arc<dyn TrackLocal>).await?;
            tasks.push(tokio::spawn(write_samples(track, audio_rx, audio_pt_rx)));
            audio_sender = Some(sender);
        } else {
            pc.add_transceiver_from_kind(RtpCodecKind::Audio, None).await?;
        }

        if let Some(video) = &video {
            // Reported and restarted: a failed camera must not leave the call without video.
            let internal = internal_tx.clone();
            tasks.push(pipeline::watch_camera(Arc::clone(video), move |e| drop(internal.send(Internal::Error(e)))));
        }
        if let Some(bus) = audio.as_ref().and_then(|a| a.bus()) {
            let internal = internal_tx.clone();
            tasks.push(pipeline::watch_bus(Some(bus), "microphone", move |e| drop(internal.send(Internal::Error(e)))));
        }

        let v = &config.video;
        let controller = AdaptationController::new(AdaptationConfig {
            full: VideoFormat { width: v.width, height: v.height, framerate: v.framerate },
            max_video_bps: config.max_video_bitrate_bps,
            min_video_bps: config.min_video_bitrate_bps,
            audio_bps: config.audio.bitrate_bps,
            start_video_bps: start_bps,
        });

        let (commands_tx, commands_rx) = mpsc::channel(64);
        let driver = Driver {
            pc,
            config,
            emit,
            internal_tx,
            candidates: CandidateQueue::new(),
            video,
            audio,
            video_sender,
            video_track,
            track_codec: codecs[0],
            codecs,
            send_codec: None,
            remote_video: Vec::new(),
            received_codec: Arc::new(OnceLock::new()),
            audio_sender,
            video_send: video_send_tx,
            audio_pt: audio_pt_tx,
            frames: Arc::clone(&frames.slot),
            local: Arc::clone(&local.slot),
            audio_meter: Arc::default(),
            picture_lost: Arc::new(Notify::new()),
            controller,
            tasks,
            data_channel_created: false,
            documents: None,
            offerer: None,
            local_ufrag: None,
            was_connected: false,
            last_stats: None,
            data_rate,
            repair,
            data_sent: None,
            last_audio_decoded: 0,
            state: CallState::New,
            _turn_bridges: turn_bridges,
        };
        tokio::spawn(driver.run(commands_rx, internal_rx, backoffs));
        Ok((Call { commands: commands_tx, frames, local }, CallEvents { rx: events_rx }))
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<Result<T, CallError>>) -> Command) -> Result<T, CallError> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(make(tx)).await.map_err(|_| CallError::Closed)?;
        rx.await.map_err(|_| CallError::Closed)?
    }

    /// Makes the offer to send to the peer (the kiosk calls). Also opens the
    /// documents data channel, which the answerer receives.
    pub async fn create_offer(&self) -> Result<SessionDescription, CallError> {
        self.ask(Command::CreateOffer).await
    }

    /// Takes the peer's offer and returns the answer to send back. A new
    /// offer on a live call (the peer restarted ICE) is answered the same
    /// way, keeping media and the data channel.
    pub async fn accept_offer(&self, offer: SessionDescription) -> Result<SessionDescription, CallError> {
        self.ask(|tx| Command::AcceptOffer(offer, tx)).await
    }

    /// Takes the peer's answer to our offer.
    pub async fn set_answer(&self, answer: SessionDescription) -> Result<(), CallError> {
        self.ask(|tx| Command::SetAnswer(answer, tx)).await
    }

    /// Restarts ICE on a live call (the offerer only, i.e. the kiosk): returns
    /// a new offer with fresh ICE credentials, to send to the peer like the
    /// first one; its answer goes to [`set_answer`](Self::set_answer), its
    /// candidates to [`add_remote_candidate`](Self::add_remote_candidate),
    /// and new local candidates come as [`CallEvent::LocalCandidate`].
    ///
    /// Media, the DTLS session and the documents data channel are kept: a
    /// transfer in progress waits and goes on. Call it when
    /// [`IceRestarts`](crate::negotiation::IceRestarts) says so (`Disconnected`
    /// for 2 s, `Failed`, or still not connected 15 s after a restart).
    /// A restart before the previous one was answered replaces it: only the
    /// newest offer's answer must be passed on.
    ///
    /// Errors: [`CallError::Sequence`] before the first answer was set, or on
    /// the answering side (which accepts the re-offer with
    /// [`accept_offer`](Self::accept_offer) instead).
    pub async fn restart_ice(&self) -> Result<SessionDescription, CallError> {
        self.ask(Command::RestartIce).await
    }

    /// Adds a candidate from the peer. Candidates arriving before the peer's
    /// description are held and applied once it is set; after an ICE restart,
    /// those of the new generation (by `username_fragment`) wait for the new
    /// description and late ones of the old generation are dropped.
    pub async fn add_remote_candidate(&self, candidate: IceCandidate) -> Result<(), CallError> {
        self.ask(|tx| Command::AddCandidate(candidate, tx)).await
    }

    /// Mutes or unmutes the microphone (silence is still sent).
    pub async fn set_microphone_muted(&self, muted: bool) -> Result<(), CallError> {
        self.commands.send(Command::Mute(muted)).await.map_err(|_| CallError::Closed)
    }

    /// Documents are going up over the documents channel (or no longer
    /// are). While they are, video leaves them a share of what the estimate
    /// holds above audio and the video floor (all of it on a thin uplink:
    /// [`adapt::documents_share`]), from the next stats on, and
    /// [`CallStats::data_room_bps`] says how much that is: pace the transfer
    /// at [`adapt::document_send_rate`] of it (visio-transfer's
    /// `set_send_rate`). Audio, then the video floor, keep priority.
    ///
    /// [`adapt::documents_share`]: crate::adapt::documents_share
    /// [`adapt::document_send_rate`]: crate::adapt::document_send_rate
    pub async fn set_sending_documents(&self, sending: bool) -> Result<(), CallError> {
        self.commands.send(Command::SendingDocuments(sending)).await.map_err(|_| CallError::Closed)
    }

    /// Asks the peer for a fresh keyframe (e.g. the UI shows a broken picture).
    pub async fn request_keyframe(&self) -> Result<(), CallError> {
        self.commands.send(Command::RequestKeyframe).await.map_err(|_| CallError::Closed)
    }

    /// Ends the call: closes the connection and stops every pipeline. Returns
    /// once done; ending an ended call does nothing.
    pub async fn hang_up(&self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::HangUp(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// The remote video, newest frame first.
    pub fn remote_frames(&self) -> Frames {
        self.frames.clone()
    }

    /// What our camera captures, small (320 pixels wide, the sent picture's
    /// aspect ratio) and at most 15 fps, newest frame first: the resident's
    /// self view. Frames flow from [`Call::new`] on, before the peer answers;
    /// none come when the call has no camera.
    pub fn local_frames(&self) -> Frames {
        self.local.clone()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Emitter(mpsc::Sender<CallEvent>);

impl Emitter {
    pub(crate) fn send(&self, event: CallEvent) {
        if let Err(mpsc::error::TrySendError::Full(event)) = self.0.try_send(event) {
            // An application that stops reading events must not make the call grow memory.
            tracing::warn!(?event, "event queue full: event dropped");
        }
    }
}

enum Internal {
    LocalCandidate(RTCIceCandidateInit),
    State(RTCPeerConnectionState),
    DataChannel(Arc<dyn DataChannel>),
    Track(Arc<dyn TrackRemote>),
    RemoteVideoStarted(u32, u32),
    Error(CallError),
}

struct Handler {
    tx: mpsc::UnboundedSender<Internal>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        match event.candidate.to_json() {
            Ok(init) => {
                let _ = self.tx.send(Internal::LocalCandidate(init));
            }
            Err(e) => tracing::warn!(error = %e, "local candidate could not be serialised"),
        }
    }
    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.tx.send(Internal::State(state));
    }
    async fn on_data_channel(&self, channel: Arc<dyn DataChannel>) {
        let _ = self.tx.send(Internal::DataChannel(channel));
    }
    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.tx.send(Internal::Track(track));
    }
}

fn feedback(typ: &str, parameter: &str) -> RTCPFeedback {
    RTCPFeedback { typ: typ.to_owned(), parameter: parameter.to_owned() }
}

fn codec_parameters(codec: VideoCodec) -> RTCRtpCodecParameters {
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

/// The configured codecs this machine can both encode and decode, in order.
fn usable_video_codecs(configured: &[VideoCodec]) -> Result<Vec<VideoCodec>, CallError> {
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
async fn offer_codecs(pc: &Arc<dyn PeerConnection>, sender: &Arc<dyn RtpSender>, codecs: &[VideoCodec]) -> Result<(), CallError> {
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

fn opus_codec() -> RTCRtpCodecParameters {
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

fn local_audio_track(codec: RTCRtpCodec) -> Result<Arc<TrackLocalStaticSample>, CallError> {
    Ok(Arc::new(TrackLocalStaticSample::new(Instant::now(), media_track(RtpCodecKind::Audio, codec))?))
}

/// The video track and its SSRC.
fn local_video_track(codec: RTCRtpCodec) -> (TrackLocalStaticRTP, u32) {
    let track = media_track(RtpCodecKind::Video, codec);
    let ssrc = track.ssrcs().next().unwrap_or_default();
    (TrackLocalStaticRTP::new(track), ssrc)
}

/// The same track (ids, SSRC) announcing another codec.
fn with_codec(track: &MediaStreamTrack, codec: RTCRtpCodec) -> MediaStreamTrack {
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
/// document transfer can be given on a fast uplink.
const DATA_CEILING_BPS: f64 = 10_000_000.0;

/// What the uplink's estimator and pacer share with the call.
struct Uplink {
    /// The documents' rate, measured by the call, counted by the estimator.
    data_rate: crate::estimate::DataRate,
    /// Each back-off of the estimate, for the documents' pace.
    backoffs: watch::Sender<f64>,
    /// What loss repair did, counted by the pacer.
    repair: Arc<RepairCounts>,
}

async fn build_peer_connection(
    config: &CallConfig,
    ice_servers: &[crate::config::IceServer],
    codecs: &[VideoCodec],
    tx: mpsc::UnboundedSender<Internal>,
    uplink: Uplink,
) -> Result<Arc<dyn PeerConnection>, CallError> {
    let Uplink { data_rate, backoffs, repair } = uplink;
    let mut media = MediaEngine::default();
    for &codec in codecs {
        media.register_codec(codec_parameters(codec), RtpCodecKind::Video)?;
    }
    media.register_codec(opus_codec(), RtpCodecKind::Audio)?;

    // NACK and RTCP reports as usual; send-side congestion control over
    // TWCC (our queue-delay estimator, not webrtc-rs's GCC: see `estimate`)
    // instead of REMB; our forwarder so PLI/FIR reach the encoder.
    let audio = f64::from(config.audio.bitrate_bps) * 1.25;
    let initial_estimate =
        f64::from(config.start_video_bitrate_bps.clamp(config.min_video_bitrate_bps, config.max_video_bitrate_bps)) + audio;
    let estimator = crate::estimate::QueueDelayEstimator::with_data_rate(
        initial_estimate,
        // The estimate may go under the video floor: the controller then
        // starves video, not audio (adapt::STARVED_VIDEO_BPS).
        f64::from(crate::adapt::STARVED_VIDEO_BPS.min(config.min_video_bitrate_bps)) + audio,
        // Above media's ceiling, room for documents on a fast uplink.
        f64::from(config.max_video_bitrate_bps) + audio + DATA_CEILING_BPS,
        data_rate,
    )
    .publish_backoffs(backoffs);
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
    let registry = registry.with(Slot::Pacer, PriorityPacer::new(initial_estimate, repair));
    let registry = registry.with(Slot::Custom(14_000), KeyframeRequestForwarder::default());

    let settings = SettingEngineBuilder::new()
        .with_include_loopback_candidate(config.loopback_only)
        .with_ice_connection_attempts(None, Some(ICE_CHECKS_PER_PAIR))
        // libwebrtc's window: a retransmission on a 600 ms satellite round
        // trip arrives well over 64 packets (the default) after the original.
        .with_srtp_replay_protection_window(SRTP_REPLAY_WINDOW)
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

/// Encoded frames → RTP, once negotiation has told us the payload type.
async fn write_samples(track: Arc<TrackLocalStaticSample>, mut rx: mpsc::Receiver<Encoded>, pt: watch::Receiver<Option<PayloadType>>) {
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
/// which and with what payload type.
async fn write_video(
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    mut rx: mpsc::Receiver<Encoded>,
    send: watch::Receiver<Option<(PayloadType, VideoCodec)>>,
) {
    let mut packetizer: Option<(PayloadType, Box<dyn Packetizer>)> = None;
    let mut first = true;
    while let Some(encoded) = rx.recv().await {
        let Some((payload_type, codec)) = *send.borrow() else { continue };
        if first {
            // The call's start-up timeline (RUST_LOG=visio_media=debug): media from here on.
            first = false;
            let vp8_key = codec == VideoCodec::Vp8 && encoded.data.first().is_some_and(|b| b & 1 == 0);
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
async fn answer_keyframe_requests(track: Arc<TrackLocalStaticRTP>, video: Arc<VideoSender>) {
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
async fn answer_dropped_video(repair: Arc<RepairCounts>, video: Arc<VideoSender>) {
    loop {
        repair.keyframe_wanted.notified().await;
        tracing::debug!("pacer dropped stale video; keyframe");
        video.force_keyframe();
    }
}

/// Where a remote track's decoded media goes.
struct ReceiveSinks {
    audio_sink: crate::config::AudioSink,
    frames: Arc<FrameSlot>,
    audio: Arc<AudioMeter>,
    /// The peer's video payload types, from its description.
    remote_video: Vec<(u8, VideoCodec)>,
    received_codec: Arc<OnceLock<VideoCodec>>,
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
async fn receive_track(
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
    loop {
        let wake = keyframes.poll_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            event = track.poll() => match event {
                Some(TrackRemoteEvent::OnRtpPacket(packet)) => {
                    media_ssrc.get_or_insert(packet.header.ssrc);
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

struct Driver {
    pc: Arc<dyn PeerConnection>,
    config: CallConfig,
    emit: Emitter,
    internal_tx: mpsc::UnboundedSender<Internal>,
    candidates: CandidateQueue<RTCIceCandidateInit>,
    video: Option<Arc<VideoSender>>,
    audio: Option<AudioSender>,
    video_sender: Option<Arc<dyn RtpSender>>,
    video_track: Option<Arc<TrackLocalStaticRTP>>,
    /// The codec webrtc-rs believes our video track carries (it binds the
    /// stream's interceptors with it when the negotiation completes).
    track_codec: VideoCodec,
    /// Usable video codecs, most preferred first.
    codecs: Vec<VideoCodec>,
    /// The negotiated codec we send.
    send_codec: Option<VideoCodec>,
    /// The peer's video payload types, from its description.
    remote_video: Vec<(u8, VideoCodec)>,
    received_codec: Arc<OnceLock<VideoCodec>>,
    audio_sender: Option<Arc<dyn RtpSender>>,
    video_send: watch::Sender<Option<(PayloadType, VideoCodec)>>,
    audio_pt: watch::Sender<Option<PayloadType>>,
    frames: Arc<FrameSlot>,
    local: Arc<FrameSlot>,
    audio_meter: Arc<AudioMeter>,
    picture_lost: Arc<Notify>,
    controller: AdaptationController,
    tasks: Vec<JoinHandle<()>>,
    data_channel_created: bool,
    /// The documents channel this side opened (the offerer's), to wake
    /// webrtc-rs's driver with ([`Driver::wake_ice_checks`]).
    documents: Option<Arc<dyn DataChannel>>,
    /// Whether this side made the first offer; `None` before any.
    offerer: Option<bool>,
    /// Our ICE user fragment, put on the candidates we send so the peer can
    /// tell generations apart (webrtc-rs leaves it out).
    local_ufrag: Option<String>,
    /// Set at the first `Connected`: what happens then happens once a call.
    was_connected: bool,
    last_stats: Option<(Instant, u64, u64, u64)>,
    /// Shared with the uplink estimator: what the data channel sends.
    data_rate: crate::estimate::DataRate,
    /// Shared with our pacer: what loss repair did.
    repair: Arc<RepairCounts>,
    /// Data-channel bytes sent at the last stats.
    data_sent: Option<(Instant, u64)>,
    last_audio_decoded: u64,
    state: CallState,
    /// TURN over TCP/TLS for webrtc-rs, open as long as the call.
    _turn_bridges: crate::turn_bridge::TurnBridges,
}

impl Driver {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut internal: mpsc::UnboundedReceiver<Internal>,
        mut backoffs: watch::Receiver<f64>,
    ) {
        let mut stats = tokio::time::interval(STATS_INTERVAL);
        stats.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut hang_up_reply = None;
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::HangUp(reply)) => { hang_up_reply = Some(reply); break; }
                    Some(command) => self.handle_command(command).await,
                    // Every handle dropped: nobody can end the call any more, so end it now.
                    None => break,
                },
                Some(event) = internal.recv() => {
                    if self.handle_internal(event).await { break; }
                }
                Ok(()) = backoffs.changed() => {
                    let estimate = *backoffs.borrow_and_update();
                    self.uplink_backed_off(estimate);
                }
                _ = stats.tick() => {
                    if self.state == CallState::Connected { self.poll_stats().await; }
                }
            }
        }
        self.shutdown().await;
        if let Some(reply) = hang_up_reply {
            let _ = reply.send(());
        }
    }

    /// The estimate just backed off: documents slow down now, before the
    /// queue grows for another second; the next stats divide the estimate
    /// between video and documents again.
    fn uplink_backed_off(&self, estimate_bps: f64) {
        if self.state == CallState::Connected {
            let data_room_bps = self.controller.data_room_at(estimate_bps);
            tracing::debug!(estimate_bps, data_room_bps, "uplink backed off");
            self.emit.send(CallEvent::DataRoom { data_room_bps });
        }
    }

    async fn shutdown(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        if let Some(v) = &self.video {
            v.stop();
        }
        if let Some(a) = &self.audio {
            a.stop();
        }
        if let Err(e) = self.pc.close().await {
            tracing::debug!(error = %e, "closing the peer connection");
        }
        self.frames.close();
        self.local.close();
        if self.state != CallState::Closed {
            self.state = CallState::Closed;
            self.emit.send(CallEvent::State(CallState::Closed));
        }
    }

    async fn handle_command(&mut self, command: Command) {
        match command {
            Command::CreateOffer(reply) => {
                let _ = reply.send(self.create_offer().await);
            }
            Command::AcceptOffer(offer, reply) => {
                let _ = reply.send(self.accept_offer(offer).await);
            }
            Command::SetAnswer(answer, reply) => {
                let _ = reply.send(self.set_answer(answer).await);
            }
            Command::RestartIce(reply) => {
                let _ = reply.send(self.restart_ice().await);
            }
            Command::AddCandidate(candidate, reply) => {
                let _ = reply.send(self.add_candidate(candidate).await);
            }
            Command::Mute(muted) => {
                if let Some(a) = &self.audio {
                    a.set_muted(muted);
                }
            }
            Command::SendingDocuments(sending) => self.controller.set_sending_documents(sending),
            Command::RequestKeyframe => self.picture_lost.notify_one(),
            Command::HangUp(_) => {}
        }
    }

    async fn create_offer(&mut self) -> Result<SessionDescription, CallError> {
        if !self.data_channel_created {
            // Reliable and ordered: documents must arrive whole and in order.
            let init = webrtc::data_channel::RTCDataChannelInit { ordered: true, ..Default::default() };
            let channel = self.pc.create_data_channel(DOCUMENTS_CHANNEL, Some(init)).await?;
            self.data_channel_created = true;
            self.documents = Some(Arc::clone(&channel));
            self.tasks.push(tokio::spawn(pump_data_channel(channel, self.emit.clone())));
        }
        if self.offerer == Some(false) {
            return Err(CallError::Sequence("this side answered the call; only the offerer makes offers".into()));
        }
        let offer = self.pc.create_offer(None).await?;
        self.pc.set_local_description(offer.clone()).await?;
        self.offerer = Some(true);
        self.local_ufrag = ice_ufrag(&offer.sdp);
        if self.state == CallState::New {
            self.set_state(CallState::Connecting);
        }
        tracing::debug!("offer made");
        Ok(SessionDescription::offer(offer_as_dtls_client(&offer.sdp)))
    }

    async fn restart_ice(&mut self) -> Result<SessionDescription, CallError> {
        match self.offerer {
            Some(true) => {}
            Some(false) => {
                return Err(CallError::Sequence(
                    "only the offerer restarts ICE; the answerer takes the new offer with accept_offer".into(),
                ));
            }
            None => return Err(CallError::Sequence("ICE restart before the call was offered".into())),
        }
        if self.pc.remote_description().await.is_none() {
            return Err(CallError::Sequence("ICE restart before the peer answered the first offer".into()));
        }
        // The next offer carries fresh credentials; the restart itself
        // happens as it is set locally (webrtc-rs then gathers again).
        self.pc.restart_ice().await?;
        let offer = self.pc.create_offer(None).await?;
        self.pc.set_local_description(offer.clone()).await?;
        let ufrag = ice_ufrag(&offer.sdp);
        tracing::info!(old = ?self.local_ufrag, new = ?ufrag, state = ?self.state, "ICE restart offered");
        self.local_ufrag = ufrag;
        Ok(SessionDescription::offer(offer_as_dtls_client(&offer.sdp)))
    }

    async fn accept_offer(&mut self, offer: SessionDescription) -> Result<SessionDescription, CallError> {
        if offer.kind != SdpKind::Offer {
            return Err(CallError::Sequence("accept_offer was given an answer; pass it to set_answer".into()));
        }
        if self.offerer == Some(true) {
            return Err(CallError::Sequence("this side made the offer; the peer's reply goes to set_answer".into()));
        }
        check_remote_sdp(&offer.sdp, &self.codecs).map_err(|problem| CallError::BadDescription { what: "offer", problem })?;
        self.prepare_video(&offer.sdp).await?;
        let ufrag = ice_ufrag(&offer.sdp);
        let offered = offer.sdp.clone();
        let desc = RTCSessionDescription::offer(offer.sdp)?;
        // On a live call with new credentials webrtc-rs restarts ICE here,
        // keeping DTLS, SCTP and the tracks.
        self.pc.set_remote_description(desc).await?;
        self.offerer = Some(false);
        self.remote_description_set(ufrag.as_deref()).await;
        let answer = self.pc.create_answer(None).await?;
        self.pc.set_local_description(answer.clone()).await?;
        let local = ice_ufrag(&answer.sdp);
        if self.local_ufrag.is_some() && local != self.local_ufrag {
            tracing::info!(old = ?self.local_ufrag, new = ?local, state = ?self.state, "ICE restart answered");
        }
        self.local_ufrag = local;
        if self.state == CallState::New {
            self.set_state(CallState::Connecting);
        }
        Ok(SessionDescription::answer(answer_to_dtls_client(&offered, &answer.sdp)))
    }

    async fn set_answer(&mut self, answer: SessionDescription) -> Result<(), CallError> {
        if answer.kind != SdpKind::Answer {
            return Err(CallError::Sequence("set_answer was given an offer; pass it to accept_offer".into()));
        }
        if self.pc.local_description().await.is_none() {
            return Err(CallError::Sequence("an answer arrived before this side made an offer".into()));
        }
        check_remote_sdp(&answer.sdp, &self.codecs).map_err(|problem| CallError::BadDescription { what: "answer", problem })?;
        self.prepare_video(&answer.sdp).await?;
        let ufrag = ice_ufrag(&answer.sdp);
        let desc = RTCSessionDescription::answer(answer.sdp)?;
        self.pc.set_remote_description(desc).await?;
        self.remote_description_set(ufrag.as_deref()).await;
        tracing::debug!("answer applied");
        Ok(())
    }

    /// Reads the codec to send from the peer's description before webrtc-rs
    /// applies it: webrtc-rs binds the track's interceptors (NACK, TWCC,
    /// reports) to the track's codec as it applies the description, so the
    /// track must name the right codec by then. Then starts that encoder.
    async fn prepare_video(&mut self, remote_sdp: &str) -> Result<(), CallError> {
        self.remote_video = remote_video_codecs(remote_sdp);
        let Some(codec) = choose_video_codec(remote_sdp, &self.codecs) else { return Ok(()) };
        let (Some(sender), Some(track), Some(video)) = (&self.video_sender, &self.video_track, &self.video) else {
            return Ok(());
        };
        if self.send_codec.is_some_and(|c| c != codec) {
            return Err(CallError::Sequence(format!(
                "the peer switched the video codec from {} to {codec}; changing codec within a call is not supported",
                self.track_codec
            )));
        }
        if self.track_codec != codec {
            let renamed = with_codec(&track.track().await, codec_parameters(codec).rtp_codec);
            sender.replace_track(Arc::new(TrackLocalStaticRTP::new(renamed))).await?;
            self.track_codec = codec;
        }
        let video = Arc::clone(video);
        tokio::task::spawn_blocking(move || video.attach_encoder(codec))
            .await
            .map_err(|e| CallError::Pipeline(format!("encoder start-up panicked: {e}")))??;
        self.send_codec = Some(codec);
        tracing::debug!(%codec, "sending video");
        Ok(())
    }

    async fn remote_description_set(&mut self, ufrag: Option<&str>) {
        self.candidates.handle_remote_description(ufrag);
        let mut added = false;
        while let Some(candidate) = self.candidates.poll_ready() {
            let line = candidate.candidate.clone();
            match self.pc.add_ice_candidate(candidate).await {
                Ok(()) => added = true,
                Err(e) => self.emit.send(CallEvent::Error(CallError::BadCandidate { candidate: line, reason: e.to_string() })),
            }
        }
        if added {
            self.wake_ice_checks().await;
        }
    }

    /// Has webrtc-rs check a remote candidate now. Its `add_ice_candidate`
    /// (0.21.1) does not wake the connection's driver, which then sleeps out
    /// its 200 ms ICE check timer before the first check: 185 ms of a
    /// satellite call's start. Setting the documents channel's low-water mark
    /// to what it is wakes the driver (any call that queues work does), and
    /// changes nothing. Only before the first connection: the channel cannot
    /// be open yet, so no transfer sets the mark meanwhile; after an ICE
    /// restart the checks wait for the timer as before.
    async fn wake_ice_checks(&self) {
        let Some(channel) = self.documents.as_ref().filter(|_| !self.was_connected) else { return };
        if let Ok(threshold) = channel.buffered_amount_low_threshold().await {
            let _ = channel.set_buffered_amount_low_threshold(threshold).await;
        }
    }

    async fn add_candidate(&mut self, candidate: IceCandidate) -> Result<(), CallError> {
        if candidate.candidate.trim().is_empty() {
            return Ok(()); // end-of-candidates marker
        }
        let ufrag = candidate.username_fragment.clone();
        let init = RTCIceCandidateInit {
            candidate: candidate.candidate.clone(),
            sdp_mid: candidate.sdp_mid,
            sdp_mline_index: candidate.sdp_m_line_index,
            username_fragment: candidate.username_fragment,
            ..Default::default()
        };
        match self.candidates.handle_candidate(ufrag.as_deref(), init) {
            CandidateVerdict::Apply(init) => {
                tracing::debug!(candidate = %candidate.candidate, "remote candidate");
                self.pc
                    .add_ice_candidate(init)
                    .await
                    .map_err(|e| CallError::BadCandidate { candidate: candidate.candidate, reason: e.to_string() })?;
                self.wake_ice_checks().await;
            }
            CandidateVerdict::Held => {}
            CandidateVerdict::Stale => tracing::debug!(?ufrag, "candidate of a replaced ICE generation dropped"),
        }
        Ok(())
    }

    fn set_state(&mut self, state: CallState) {
        if self.state != state {
            self.state = state;
            self.emit.send(CallEvent::State(state));
        }
    }

    /// Returns true when the call is over.
    async fn handle_internal(&mut self, event: Internal) -> bool {
        match event {
            Internal::LocalCandidate(init) => {
                tracing::debug!(candidate = %init.candidate, "local candidate");
                self.emit.send(CallEvent::LocalCandidate(IceCandidate {
                    candidate: init.candidate,
                    sdp_mid: init.sdp_mid,
                    sdp_m_line_index: init.sdp_mline_index,
                    username_fragment: init.username_fragment.or_else(|| self.local_ufrag.clone()),
                }))
            }
            Internal::State(state) => {
                tracing::debug!(?state, "peer connection state");
                let mapped = match state {
                    RTCPeerConnectionState::Connecting if self.state != CallState::New => CallState::Connecting,
                    RTCPeerConnectionState::Connected => CallState::Connected,
                    RTCPeerConnectionState::Disconnected => CallState::Disconnected,
                    RTCPeerConnectionState::Failed => CallState::Failed,
                    RTCPeerConnectionState::Closed => return true,
                    _ => return false,
                };
                if mapped == CallState::Connected && !self.was_connected {
                    self.was_connected = true;
                    self.on_connected().await;
                } else if mapped == CallState::Connected && self.state != CallState::Connected {
                    // Back after a cut: the peer's decoder lost packets meanwhile.
                    if let Some(video) = &self.video {
                        video.force_keyframe();
                    }
                }
                self.set_state(mapped);
            }
            Internal::DataChannel(channel) => {
                self.tasks.push(tokio::spawn(pump_data_channel(channel, self.emit.clone())));
            }
            Internal::Track(track) => {
                let sinks = ReceiveSinks {
                    audio_sink: self.config.audio.sink.clone(),
                    frames: Arc::clone(&self.frames),
                    audio: Arc::clone(&self.audio_meter),
                    remote_video: self.remote_video.clone(),
                    received_codec: Arc::clone(&self.received_codec),
                };
                self.tasks.push(tokio::spawn(receive_track(track, sinks, Arc::clone(&self.picture_lost), self.internal_tx.clone())));
            }
            Internal::RemoteVideoStarted(width, height) => self.emit.send(CallEvent::RemoteVideoStarted { width, height }),
            Internal::Error(e) => self.emit.send(CallEvent::Error(e)),
        }
        false
    }

    async fn on_connected(&mut self) {
        // Negotiated payload types open the sample writers: writing earlier
        // only fails (no SRTP keys before DTLS completes).
        if let Some(sender) = &self.audio_sender
            && let Ok(params) = sender.get_parameters().await
            && let Some(codec) = params.rtp_parameters.codecs.first()
        {
            self.audio_pt.send_replace(Some(codec.payload_type));
        }
        if let (Some(sender), Some(codec)) = (&self.video_sender, self.send_codec)
            && let Ok(params) = sender.get_parameters().await
        {
            // The peer's payload type for the codec we chose (not its position:
            // the list is what both sides accept, not only what we send).
            match params.rtp_parameters.codecs.iter().find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(codec.mime_type())) {
                Some(negotiated) => {
                    self.video_send.send_replace(Some((negotiated.payload_type, codec)));
                }
                None => self.emit.send(CallEvent::Error(CallError::Transport(format!(
                    "{codec} was chosen from the peer's description but webrtc-rs did not negotiate it; no video is sent"
                )))),
            }
        }
        if let (Some(track), Some(video)) = (&self.video_track, &self.video) {
            // The track is bound now, so its RTCP can be polled.
            self.tasks.push(tokio::spawn(answer_keyframe_requests(Arc::clone(track), Arc::clone(video))));
            self.tasks.push(tokio::spawn(answer_dropped_video(Arc::clone(&self.repair), Arc::clone(video))));
            // Frames sent before the connection were dropped: start with a keyframe.
            video.force_keyframe();
        }
    }

    async fn poll_stats(&mut self) {
        let now = Instant::now();
        let report = self.pc.get_stats(now, StatsSelector::None).await;
        let (mut sent, mut received) = (0u64, 0u64);
        let mut estimate = None;
        let mut rtt = None;
        let mut loss_sent = None;
        let mut lost_received = 0i64;
        let mut data_sent = 0u64;
        let mut nacks_sent = 0u64;
        let (mut audio_lost, mut audio_jitter) = (0i64, None);
        let mut sent_codec_id = None;
        let mut codec_mimes = Vec::new();
        for entry in report.iter() {
            match entry {
                RTCStatsReportEntry::OutboundRtp(s) => {
                    sent += s.sent_rtp_stream_stats.bytes_sent;
                    let stream = &s.sent_rtp_stream_stats.rtp_stream_stats;
                    if stream.kind == RtpCodecKind::Video {
                        sent_codec_id = Some(stream.codec_id.clone());
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
                RTCStatsReportEntry::DataChannel(d) => data_sent += d.bytes_sent,
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
        if let Some((then, before)) = self.data_sent {
            let secs = now.duration_since(then).as_secs_f64().max(0.001);
            self.data_rate.set((data_sent.saturating_sub(before) as f64 * 8.0 / secs) as u64);
        }
        self.data_sent = Some((now, data_sent));

        self.controller.handle_observation(now, Observation { estimate_bps: estimate, loss_fraction: loss_sent });
        tracing::debug!(
            estimate,
            loss_sent,
            video_bps = self.controller.target().video_bitrate_bps,
            data_room_bps = self.controller.data_room_bps(),
            data_sent_bps = self.data_rate.on_the_wire_bps(),
            "uplink share"
        );
        if let (Some(target), Some(video)) = (self.controller.poll_change(), &self.video) {
            tracing::debug!(?target, "new encoder target");
            let f = target.format;
            video.set_target(target.video_bitrate_bps, f.width, f.height, f.framerate);
        }
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
