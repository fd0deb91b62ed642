//! Errors a person can act on.

use crate::negotiation::SdpProblem;

/// Everything that can go wrong with a call. `Clone`, so it can ride inside an
/// event or a UI message.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The peer's session description is unusable (not SDP, or no codec in common).
    #[error("the peer's {what} was refused: {problem}")]
    BadDescription {
        /// `offer` or `answer`.
        what: &'static str,
        /// Why.
        problem: SdpProblem,
    },
    /// The peer's candidate could not be applied.
    #[error("the peer's ICE candidate {candidate:?} was refused: {reason}")]
    BadCandidate {
        /// The candidate line as received.
        candidate: String,
        /// Why.
        reason: String,
    },
    /// The camera could not be opened; the call goes on without video.
    #[error("{device} could not be opened: {reason} (check the device in the kiosk configuration)")]
    Camera {
        /// Which camera.
        device: String,
        /// What GStreamer said.
        reason: String,
    },
    /// The microphone could not be opened; the call goes on without sound from the kiosk.
    #[error("the microphone could not be opened: {reason} (check the audio source in the kiosk configuration)")]
    Microphone {
        /// What GStreamer said.
        reason: String,
    },
    /// A GStreamer pipeline failed (missing plugin, decoder error).
    #[error("media pipeline: {0}")]
    Pipeline(String),
    /// The WebRTC transport refused an operation.
    #[error("WebRTC: {0}")]
    Transport(String),
    /// The operation came in the wrong order (e.g. an answer before an offer).
    #[error("{0}")]
    Sequence(String),
    /// The call has ended; nothing more can be done with it.
    #[error("the call has ended")]
    Closed,
}

impl From<webrtc::error::Error> for CallError {
    fn from(e: webrtc::error::Error) -> Self {
        CallError::Transport(e.to_string())
    }
}
