//! What happened, for the headless mode's JSON lines and for logs. Names and
//! fields are a stable interface: end-to-end tests, soak tests and
//! benchmarks read them (see README, "Headless mode").

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum KioskEvent {
    /// The hub accepted the kiosk.
    Ready { kiosk_id: String, site: String },
    /// In the queue (again, on each move).
    Queued { service: String, session: String, position: u32, estimated_wait_seconds: Option<u32> },
    /// The call request was refused.
    Refused { service: String, reason: String, message: String },
    /// An agent answered; the call is being set up.
    Answered { session: String, agent_name: String },
    /// The media path is up (ICE and DTLS connected).
    Connected { session: String },
    FirstRemoteFrame { session: String },
    ScanSent { name: String, size: u64, sha256: String },
    Printed { name: String },
    Displayed { name: String, pages: u32 },
    DocumentFailed { reason: String },
    /// The media path dropped during the call; the kiosk is restoring it
    /// (ICE restart, or a new connection after the agent's page reloaded).
    /// Also: the hub dropped while the resident waits; the kiosk is
    /// reconnecting to ask for the place back.
    Reconnecting { session: String },
    /// The media path is back after `reconnecting`.
    Reconnected { session: String },
    /// The kiosk is back in its call on the hub after losing it, or back
    /// in its place in line.
    Resumed { session: String },
    /// The agent lost the hub during the call; the hub holds it for them.
    AgentAway { session: String },
    /// The agent is back in the call.
    AgentBack { session: String },
    /// The media layer gave up on the call; `ended` follows.
    CallFailed { session: String, reason: String },
    /// The hub refused something the kiosk sent (a bug worth reporting).
    HubError { message: String },
    /// The visit is over; `reason` is one of the protocol's end reasons, or
    /// `call_failed`, `hub_lost`, `resident_absent`.
    Ended { session: String, reason: String },
    OutOfService { reason: String },
    /// A signed configuration was verified and now runs.
    ConfigApplied { version: u64 },
    /// A configuration was not applied; the kiosk keeps its previous one.
    /// `code` is one of the protocol's `config_refused` codes.
    ConfigRefused { version: u64, code: String, message: String },
}

impl KioskEvent {
    /// One JSON object, for one line of output.
    pub fn to_json_line(&self) -> String {
        // Invariant: plain data with string keys always serializes.
        serde_json::to_string(self).expect("kiosk events serialize")
    }
}
