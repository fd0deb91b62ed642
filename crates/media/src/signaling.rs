//! The two things a call exchanges through the hub, in the browser's JSON shapes.

use serde::{Deserialize, Serialize};

/// An ICE candidate shaped like the browser's `RTCIceCandidateInit`, so the hub
/// can relay it to the agent's page untouched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct IceCandidate {
    /// The `candidate:` attribute line.
    pub candidate: String,
    /// The media section's `mid`.
    #[serde(default)]
    pub sdp_mid: Option<String>,
    /// The media section's index.
    #[serde(default, rename = "sdpMLineIndex")]
    pub sdp_m_line_index: Option<u16>,
    /// The ICE user fragment this candidate belongs to.
    #[serde(default)]
    pub username_fragment: Option<String>,
}

/// Which side of the offer/answer exchange a description is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SdpKind {
    /// Sent by the caller (the kiosk).
    Offer,
    /// Sent back by the callee (the agent's browser).
    Answer,
}

/// A session description shaped like the browser's `RTCSessionDescriptionInit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionDescription {
    /// Offer or answer.
    #[serde(rename = "type")]
    pub kind: SdpKind,
    /// The SDP text.
    pub sdp: String,
}

impl SessionDescription {
    /// An offer.
    pub fn offer(sdp: impl Into<String>) -> Self {
        Self { kind: SdpKind::Offer, sdp: sdp.into() }
    }
    /// An answer.
    pub fn answer(sdp: impl Into<String>) -> Self {
        Self { kind: SdpKind::Answer, sdp: sdp.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_uses_the_browsers_field_names() {
        let json = r#"{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}"#;
        let c: IceCandidate = serde_json::from_str(json).unwrap();
        assert_eq!(c.sdp_mid.as_deref(), Some("0"));
        assert_eq!(c.sdp_m_line_index, Some(0));
        assert_eq!(serde_json::to_string(&c).unwrap(), json);
    }

    #[test]
    fn description_uses_the_browsers_field_names() {
        let d: SessionDescription = serde_json::from_str(r#"{"type":"answer","sdp":"v=0"}"#).unwrap();
        assert_eq!(d, SessionDescription::answer("v=0"));
    }
}
