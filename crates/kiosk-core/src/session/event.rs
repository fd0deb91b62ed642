//! What happened, for the headless mode's JSON lines and for logs. Names and
//! fields are a stable interface: end-to-end tests, soak tests and
//! benchmarks read them (see crates/kiosk/README.md, "Headless mode").

use serde::Serialize;
use visio_protocol::EndReason;

use super::OutOfService;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum KioskEvent {
    /// The hub accepted the kiosk.
    Ready { kiosk_id: String, site: String },
    /// In the queue (again, on each move).
    Queued { service: String, session: String, position: u32, estimated_wait_seconds: Option<u32> },
    /// The agent handed the resident over: the call `session` is over and
    /// they wait again, as `to_session`, for `service`, at `position`.
    Transferred { session: String, to_session: String, service: String, position: u32 },
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
    /// The agent turned the shown document's page or zoomed (pans and the
    /// pointer are not logged: they come many a second).
    Viewed { page: u32, zoom: u32 },
    DocumentFailed { reason: String },
    /// A document to sign is on screen, its box on `page`.
    SignAsked { name: String, pages: u32, page: u32 },
    /// The agent moved the signature box.
    SignPlaced { page: u32 },
    /// The resident signed; the signed document reached the agent.
    Signed { name: String, size: u64, sha256: String },
    /// The resident would not sign.
    SignRefused { name: String },
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
    Ended { session: String, reason: VisitEnd },
    OutOfService { reason: OutOfService },
    /// The resident pressed "Appeler l'accueil" on `screen`.
    HostCalled { screen: String },
    /// A host acknowledged: someone from the front desk is coming.
    HostComing,
    /// The call for the host was cancelled, or the resident left.
    HostCallEnded,
    /// "Être rappelé" is offered: `why` is `closed` (the request was
    /// refused) or `long_wait` (the resident asked from the line).
    CallbackOffered { service: String, why: String },
    /// The free callback slots shown (RFC 3339, soonest first).
    CallbackSlots { service: String, slots: Vec<String>, minutes: u32 },
    /// A callback is booked: `reference` is on screen, spoken and printed.
    CallbackBooked { service: String, reference: String, start: String, minutes: u32 },
    /// The hub could not book (or offer) the callback: `message` says why.
    CallbackRefused { service: String, message: String },
    /// A signed configuration was verified and now runs.
    ConfigApplied { version: u64 },
    /// A configuration was not applied; the kiosk keeps its previous one.
    /// `code` is one of the protocol's `config_refused` codes.
    ConfigRefused { version: u64, code: String, message: String },
}

/// Why a visit ended, as the `ended` line says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitEnd {
    /// The media layer gave up on the call.
    CallFailed,
    /// The kiosk lost the hub while the resident waited, and its place.
    HubLost,
    /// Nobody answered "are you still there?".
    ResidentAbsent,
    /// A device no call can work without (camera, sound) failed while the
    /// resident waited: their place is given up.
    DeviceFault,
    /// One of the protocol's end reasons (`agent_hung_up`, `cancelled`, …).
    #[serde(untagged)]
    Hub(EndReason),
}

impl VisitEnd {
    /// One side hung up: the visit took place as it should.
    pub fn is_normal(self) -> bool {
        matches!(self, VisitEnd::Hub(EndReason::AgentHungUp | EndReason::KioskHungUp))
    }
}

/// Fields that name a resident, a document or an agent, or tie a log line
/// to the hub's session log: kept out of the kiosk's log.
const PERSONAL: [&str; 4] = ["name", "sha256", "session", "agent_name"];

impl KioskEvent {
    /// One JSON object, for one line of output (the headless mode's
    /// stdout, read by its scripts).
    pub fn to_json_line(&self) -> String {
        // Invariant: plain data with string keys always serializes.
        serde_json::to_string(self).expect("kiosk events serialize")
    }

    /// The same line for the kiosk's log (the journal, in production):
    /// without document names, hashes, session ids or agent names. A
    /// document's failure keeps its kind only: its reason may quote a name.
    pub fn to_log_line(&self) -> String {
        let mut value = serde_json::to_value(self).expect("kiosk events serialize");
        if let Some(fields) = value.as_object_mut() {
            for key in PERSONAL {
                fields.remove(key);
            }
            if matches!(self, KioskEvent::DocumentFailed { .. }) {
                fields.remove("reason");
            }
        }
        value.to_string()
    }
}
