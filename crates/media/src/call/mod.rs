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
pub use crate::state::CallState;
use crate::frames::{AudioMeter, FrameSlot, Frames};
use crate::interceptor::{KeyframeRequestForwarder, is_keyframe_request};
use crate::pacer::{PriorityPacer, RepairCounts, RepairStats};
use crate::negotiation::{
    CandidateQueue, CandidateVerdict, KeyframeRequests, check_remote_sdp, choose_video_codec, ice_ufrag,
    offerer_dtls_role, remote_video_codecs, video_fec_payload_types, without_video_fec,
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
    RTCConfigurationBuilder, RTCIceCandidateInit, RTCIceConnectionState, RTCIceServer, RTCIceTransportPolicy,
    RTCPeerConnectionIceEvent,
    RTCPeerConnectionState, RTCSessionDescription, RTCStatsReportEntry, Registry, SettingEngineBuilder, StatsSelector,
    configure_congestion_control, configure_rtcp_reports,
};
use webrtc::rtp_transceiver::RtpSender;

mod documents;
mod driver;
mod setup;
mod stats;
mod tracks;

use driver::Driver;
use setup::{EstimateBounds, Uplink, build_peer_connection, codec_parameters, local_audio_track, local_video_track, offer_codecs, opus_codec, usable_video_codecs};
use tracks::{write_samples, write_video};

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
/// the call stayed down until the next restart (docs/decisions.md #131).
const ICE_CHECKS_PER_PAIR: u16 = 75;
/// Missing packets are asked for while among the last this many received
/// (a second or more of video on our links)…
const NACK_LOG_PACKETS: u16 = 128;
/// …and at most this many times each.
const NACKS_PER_PACKET: u16 = 3;
const SRTP_REPLAY_WINDOW: usize = 1024;
/// How long the checks go on before a relayed pair may be nominated: a
/// direct or server-reflexive pair answering within it is preferred, and a
/// relayed one needs its TURN allocation (two round trips to the server)
/// before its first check anyway.
const RELAY_ACCEPTANCE: Duration = Duration::from_millis(500);

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
    /// The uplink estimate backed off between two [`CallEvent::Stats`], or
    /// climbed a tenth while documents are being sent: pace documents at
    /// the new room at once (`document_send_rate(data_room_bps)`), or the
    /// queue the estimate backed off for keeps growing until the next
    /// stats, and a probe for a fast path waits a second per step.
    DataRoom {
        /// What the new estimate leaves for data, bits per second (as
        /// [`CallStats::data_room_bps`]).
        data_room_bps: u64,
    },
    /// The documents data channel is open (again, after a close: attach
    /// the new one and transfers resume).
    DataChannelOpen(DataChannelHandle),
    /// The documents data channel closed; on the offerer a new one opens
    /// shortly if the call goes on.
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

        let data_uplink = crate::estimate::DataUplink::default();
        let (moves_tx, moves) = watch::channel(0.0);
        let repair = Arc::new(RepairCounts::default());
        let reported = crate::report_estimate::ReportedRate::default();
        let fec = Arc::new(crate::fec::FecShared::default());
        let uplink =
            Uplink { data_uplink: data_uplink.clone(), moves: moves_tx, repair: Arc::clone(&repair), reported: reported.clone(), fec: Arc::clone(&fec) };
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
            tasks.push(tokio::spawn(write_video(Arc::clone(&track), ssrc, video_rx, video_send_rx, Arc::clone(&fec))));
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
            documents_reopens: 0,
            documents: None,
            offerer: None,
            local_ufrag: None,
            was_connected: false,
            last_stats: None,
            data_uplink,
            repair,
            reported,
            report_estimate: None,
            fec: crate::fec::FecControl::new(fec),
            data_sent: None,
            last_audio_decoded: 0,
            state: CallState::New,
            _turn_bridges: turn_bridges,
        };
        tokio::spawn(driver.run(commands_rx, internal_rx, moves));
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
    /// transfer in progress waits and goes on. Call it when the kiosk's
    /// `IceRestartPolicy` (visio-kiosk-core) says so (`Disconnected` for
    /// 2 s, `Failed`, or still not connected 15 s after a restart).
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
    /// ICE selected a pair: the DTLS client's ClientHello is queued.
    IceConnected,
    DataChannel(Arc<dyn DataChannel>),
    Track(Arc<dyn TrackRemote>),
    RemoteVideoStarted(u32, u32),
    /// The documents channel this side created closed.
    DocumentsClosed,
    /// Time to open the documents channel again.
    ReopenDocuments,
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
    async fn on_ice_connection_state_change(&self, state: RTCIceConnectionState) {
        if state == RTCIceConnectionState::Connected {
            let _ = self.tx.send(Internal::IceConnected);
        }
    }
    async fn on_data_channel(&self, channel: Arc<dyn DataChannel>) {
        let _ = self.tx.send(Internal::DataChannel(channel));
    }
    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.tx.send(Internal::Track(track));
    }
}
