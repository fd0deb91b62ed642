//! ICE candidates between the hub protocol's shape (the browser's) and
//! the media crate's.

use visio_protocol::IceCandidate;

/// The hub protocol's candidate (the browser's shape) for the media crate.
pub fn media_candidate(c: IceCandidate) -> visio_media::IceCandidate {
    visio_media::IceCandidate {
        candidate: c.candidate,
        sdp_mid: c.sdp_mid,
        sdp_m_line_index: c.sdp_m_line_index,
        username_fragment: c.username_fragment,
    }
}

/// The media crate's candidate for the hub protocol.
pub fn protocol_candidate(c: visio_media::IceCandidate) -> IceCandidate {
    IceCandidate {
        candidate: c.candidate,
        sdp_mid: c.sdp_mid,
        sdp_m_line_index: c.sdp_m_line_index,
        username_fragment: c.username_fragment,
    }
}
