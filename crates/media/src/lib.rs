//! # visio-media — the video call of a Visio-Public kiosk
//!
//! A kiosk calls an agent's web browser: this crate captures the camera and
//! microphone with GStreamer (or test sources), encodes VP8 or H.264 and Opus, sends
//! them over WebRTC ([webrtc-rs] 0.21, DTLS-SRTP), receives and decodes the
//! agent's media, adapts the video to the uplink, reports call statistics, and
//! opens the reliable data channel the document-transfer crate uses.
//!
//! The kiosk needs no WebRTC knowledge:
//!
//! ```no_run
//! use visio_media::{Call, CallConfig, CallEvent};
//! # async fn signaling_send<T>(_: T) {}
//! # async fn run() -> Result<(), visio_media::CallError> {
//! let (call, mut events) = Call::new(CallConfig::test_sources("smpte", None, 440.0)).await?;
//! let offer = call.create_offer().await?;   // → hub → agent's browser
//! signaling_send(offer).await;
//! // later, from the hub: call.set_answer(answer), call.add_remote_candidate(c)
//! let frames = call.remote_frames();        // the agent's video, newest-wins RGBA
//! let me = call.local_frames();             // the resident's self view, small
//! while let Some(event) = events.next().await {
//!     match event {
//!         CallEvent::LocalCandidate(c) => signaling_send(c).await,
//!         CallEvent::DataChannelOpen(channel) => { /* hand to visio-transfer */ }
//!         CallEvent::Error(e) => eprintln!("{e}"),
//!         _ => {}
//!     }
//! }
//! # let _ = (frames, me); Ok(()) }
//! ```
//!
//! ## Design
//!
//! - [`Call`] is a cheap cloneable handle; one driver task owns the
//!   webrtc-rs connection and the GStreamer pipelines; [`CallEvents`] carries
//!   what happens; [`Frames`] carries decoded video (and the camera's small
//!   preview) newest-wins, so a slow UI drops frames instead of growing memory.
//! - Logic without I/O lives in its own modules and is unit-tested by feeding
//!   it inputs, time included: [`adapt`] (bandwidth → encoder target),
//!   [`negotiation`] (SDP checks, candidate queue, keyframe requests),
//!   [`stamp`] (capture-time stamps for latency measurement).
//!
//! ## In and out of scope
//!
//! | in | out |
//! |---|---|
//! | VP8 or H.264 (constrained baseline, whichever the peer prefers) + Opus both ways, PLI/FIR, NACK, queue-delay estimate over TWCC (`estimate`) → pacer, encoder bitrate and format | VP9/AV1, simulcast, SVC, changing codec mid-call |
//! | STUN/TURN over UDP, TCP and TLS (`turns:`, bridged: [`turn_stream`]), relay-only policy | ICE-TCP candidates, TURN over DTLS |
//! | one reliable ordered data channel (`visio-documents`) | the document protocol (visio-transfer) |
//! | camera/mic errors as events, the call goes on | device hot-plug |
//! | nothing written to disk | recording (never) |
//!
//! [webrtc-rs]: https://github.com/webrtc-rs/webrtc

#![deny(missing_docs)]

pub mod adapt;
mod call;
pub mod config;
mod data_channel;
#[cfg(feature = "transfer")]
mod documents_link;
mod error;
mod fec;
pub mod estimate;
mod frames;
mod interceptor;
pub mod negotiation;
pub mod probe;
mod pacer;
mod pipeline;
pub mod report_estimate;
pub mod proxy;
pub mod signaling;
mod state;
pub mod stamp;
mod turn_bridge;
pub mod turn_stream;

pub use call::{Call, CallEvent, CallEvents, CallStats};
pub use state::CallState;
pub use data_channel::{ChannelEvent, ChannelMessage, DOCUMENTS_CHANNEL, DataChannelHandle};
#[cfg(feature = "transfer")]
pub use documents_link::DocumentsLink;
pub use config::{AudioConfig, AudioSink, AudioSource, CallConfig, IcePolicy, IceServer, VideoCodec, VideoConfig, VideoSource};
pub use error::CallError;
pub use frames::{Frames, RemoteFrames, VideoFrame};
pub use pacer::{PACING_FACTOR, RepairStats};
pub use signaling::{IceCandidate, SdpKind, SessionDescription};
