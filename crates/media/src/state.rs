//! Where a call stands: plain data, shared by the call's driver and the
//! pure negotiation rules.

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
    /// same path; the offerer also restarts ICE ([`Call::restart_ice`](crate::Call::restart_ice);
    /// when: the kiosk's `IceRestartPolicy`, in visio-kiosk-core).
    Disconnected,
    /// No packet from the peer for 30 s, or no path found. Not final: an ICE
    /// restart can still bring the call back while the data channel survives.
    Failed,
    /// Ended (by either side).
    Closed,
}
