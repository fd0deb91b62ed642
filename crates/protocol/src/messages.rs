//! The messages themselves. Field names are snake_case JSON, except inside
//! [`IceCandidate`] and [`IceServer`], which keep the browser's own
//! camelCase shapes so the agent console can pass them through untouched.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::devices::{CallLink, DeviceHealth};
use crate::ids::{AgentLogin, GuestRole, GuestToken, KioskId, ResumeToken, Secret, ServiceId, SessionId};

// ---------------------------------------------------------------------------
// Kiosk ⇄ hub
// ---------------------------------------------------------------------------

/// What a kiosk sends to the hub.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum KioskToHub {
    /// First message on the connection: who this kiosk is, proven by the
    /// secret the admin issued when enrolling it.
    Hello {
        protocol: u32,
        kiosk_id: KioskId,
        secret: Secret,
        /// The kiosk app's version, for the fleet view.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        app_version: Option<String>,
        /// The token of the call this kiosk was in when it lost the hub:
        /// the hub re-attaches it (`call_resumed`) or says the call is over
        /// (`call_ended`). A kiosk that starts afresh sends none, and the
        /// hub ends any call it still held for it at once: the kiosk
        /// restarted, so the agent is told.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<ResumeToken>,
    },
    /// The resident touched a service: queue for it.
    RequestCall { service: ServiceId },
    /// The resident gave up waiting.
    CancelCall,
    /// WebRTC negotiation for the kiosk's current call, relayed to its agent.
    Signal { session: SessionId, signal: Signal },
    /// The resident ended the call.
    HangUp { session: SessionId },
    /// The resident's rating of a call that just ended.
    Rate { session: SessionId, rating: Rating },
    /// Sent on connection and then every `heartbeat_seconds` (from the
    /// welcome): versions, device health and the measured round trip, for
    /// the fleet view. Answered by `heartbeat_ack`.
    Heartbeat {
        /// Increases by one with each heartbeat of this connection; the
        /// ack echoes it, so the kiosk can time the round trip.
        seq: u64,
        app_version: String,
        /// The version of the signed configuration the kiosk runs; absent
        /// when it runs without one (never had one yet).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        config_version: Option<u64>,
        /// Absent until the kiosk has checked its devices once.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        devices: Option<DeviceHealth>,
        /// Round trip of the previous heartbeat and its ack, in
        /// milliseconds; absent when not measured yet.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rtt_ms: Option<u32>,
        /// What the kiosk's last call measured; absent until it has had
        /// one (and from older kiosks).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_call: Option<CallLink>,
    },
    /// The kiosk verified and applied the announced configuration.
    ConfigApplied { version: u64 },
    /// The kiosk did not apply the announced configuration and keeps
    /// running its previous one.
    ConfigRefused { version: u64, reason: ConfigRefusal },
    /// The resident pressed "Appeler l'accueil": the site's hosts are
    /// alerted; `host_coming` follows when one acknowledges. `screen` names
    /// what the kiosk shows (`home`, `waiting`, `call`, …; at most
    /// [`crate::MAX_SCREEN_CHARS`]).
    HelpRequest { screen: String },
    /// The resident cancelled the help request, or left.
    HelpCancel,
    /// The service is closed or the wait long: which callback slots of
    /// `service` are free at this kiosk? Answered by `callback_slots`.
    /// Only to a hub whose welcome said `callbacks`.
    AskCallbackSlots { service: ServiceId },
    /// The resident touched one of the offered slots: book an agent of
    /// `service` to call back at this kiosk at `start`. Answered by
    /// `callback_booked` or `callback_refused`.
    BookCallback { service: ServiceId, start: Timestamp },
}

/// What the hub sends to a kiosk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
// Clients tolerate fields they do not know, so a hub can be upgraded
// before its kiosks.
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HubToKiosk {
    /// The hello was accepted.
    Welcome {
        protocol: u32,
        kiosk_id: KioskId,
        site: String,
        /// Open or closed, now, for every service of the catalogue.
        services: Vec<ServiceStatus>,
        /// How often the hub wants a `heartbeat`; absent from older hubs
        /// (the kiosk then uses its own default).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        heartbeat_seconds: Option<u32>,
        /// The hub books callbacks (`ask_callback_slots`, `book_callback`);
        /// absent (false) from older hubs, whose kiosks offer none.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        callbacks: bool,
    },
    /// The call request was accepted: the resident waits in the queue.
    Queued {
        session: SessionId,
        service: ServiceId,
        position: u32,
        estimated_wait: Option<WaitEstimate>,
    },
    /// The queue moved, or the number of agents changed.
    QueueUpdate {
        session: SessionId,
        position: u32,
        estimated_wait: Option<WaitEstimate>,
    },
    /// The call request was refused; nothing was queued.
    CallRefused {
        service: ServiceId,
        reason: RefusalReason,
        message: String,
    },
    /// An agent took the call. The kiosk now makes the WebRTC offer.
    CallAnswered {
        session: SessionId,
        agent_name: String,
        ice_servers: Vec<IceServer>,
        /// Present the hello with this after losing the hub mid-call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume_token: Option<ResumeToken>,
    },
    /// The hello's `resume` was accepted: the kiosk is back in its call.
    /// The media never went through the hub, so it goes on; the agent may
    /// still be away (then `peer_away` follows).
    CallResumed {
        session: SessionId,
        agent_name: String,
        ice_servers: Vec<IceServer>,
    },
    /// The agent lost the hub during the call (a cut, a page reload). The
    /// hub holds the call for them for a while; `peer_back` or `call_ended`
    /// follows.
    PeerAway { session: SessionId },
    /// The agent is back in the call.
    PeerBack { session: SessionId },
    /// Negotiation from the agent, for the current call.
    Signal { session: SessionId, signal: Signal },
    /// The agent handed the resident over (`transfer`): the call's leg
    /// `session` is over without an end-of-visit screen, and the resident
    /// waits now as `to_session` for `service`, at the front of its line
    /// (`position`); `call_answered` for `to_session` follows, at once when
    /// the agent handed over to a colleague by name.
    CallTransferred {
        session: SessionId,
        to_session: SessionId,
        service: ServiceId,
        position: u32,
        estimated_wait: Option<WaitEstimate>,
    },
    /// The wait or the call is over.
    CallEnded { session: SessionId, reason: EndReason },
    /// Answer to `heartbeat`, sent at once.
    HeartbeatAck { seq: u64 },
    /// A signed configuration is published: sent after the welcome and to
    /// every connected kiosk when an admin publishes. The kiosk fetches it
    /// over HTTPS (`GET path`, authenticated like the hello) when `version`
    /// is newer than the one it runs, verifies it, and answers
    /// `config_applied` or `config_refused`.
    ConfigAvailable {
        version: u64,
        /// The bundle's `payload_sha256`.
        sha256: String,
        /// Size of the bundle in bytes.
        size: u64,
        /// Where to fetch it on the hub, e.g. `/api/kiosk/config`.
        path: String,
    },
    /// A host acknowledged this kiosk's `help_request`: someone is coming.
    HostComing,
    /// The free callback slots of `service` at this kiosk, soonest first
    /// (none when nothing is free in the coming week), each `minutes` long.
    CallbackSlots { service: ServiceId, slots: Vec<Timestamp>, minutes: u32 },
    /// The callback is booked: an agent of `service` calls this kiosk at
    /// `start`; `reference` is what the resident keeps (`RDV-000042`).
    CallbackBooked { service: ServiceId, reference: String, start: Timestamp, minutes: u32 },
    /// The callback could not be booked (`message` says why, in English,
    /// for logs): the kiosk asks for the free slots again.
    CallbackRefused { service: ServiceId, message: String },
    /// Something the kiosk sent was refused; the connection stays up.
    Error(ErrorBody),
}

// ---------------------------------------------------------------------------
// Agent ⇄ hub
// ---------------------------------------------------------------------------

/// What an agent's console sends to the hub. The agent is authenticated by
/// the session cookie of the WebSocket upgrade, not by the hello.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AgentToHub {
    Hello {
        protocol: u32,
        /// As in the kiosk's hello: the token of the call this page was in
        /// (kept in the tab's `sessionStorage` across a reload).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<ResumeToken>,
    },
    /// Available agents can take residents and count in wait estimates.
    SetAvailability { available: bool },
    /// Take the resident who has waited longest, in `service` or in any of
    /// the agent's services when `service` is absent.
    TakeNext {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<ServiceId>,
    },
    /// WebRTC negotiation for the agent's current call, relayed to its kiosk.
    Signal { session: SessionId, signal: Signal },
    HangUp { session: SessionId },
    /// Hand the resident of the agent's current call over: to the front
    /// of a service's line, or straight to a colleague of the call's
    /// service. The call ends for this agent (`call_ended`, reason
    /// `transferred`); a refusal is an `error` and the call goes on.
    Transfer { session: SessionId, to: TransferTarget },
    /// Mint a one-time link for a third party in the agent's current call
    /// (`invited` answers). A new invite replaces one not used yet; one
    /// guest at a time.
    Invite { session: SessionId, role: GuestRole },
    /// WebRTC negotiation with the call's guest (the agent offers).
    GuestSignal { session: SessionId, signal: Signal },
    /// Let the guest go (the call goes on); a link not used yet dies too.
    DismissGuest { session: SessionId },
}

/// Where an agent hands a resident over to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TransferTarget {
    /// The front of this service's line, behind earlier transfers only.
    Service { service: ServiceId },
    /// A colleague serving the call's service, available and free now.
    Agent { login: AgentLogin },
}

/// What the hub sends to an agent's console.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
// Clients tolerate fields they do not know, so a hub can be upgraded
// before its kiosks.
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HubToAgent {
    Welcome {
        protocol: u32,
        login: AgentLogin,
        display_name: String,
        available: bool,
        services: Vec<ServiceStatus>,
        /// Every service of the catalogue, open or not: where the agent
        /// may transfer a resident to.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        all_services: Vec<ServiceStatus>,
    },
    /// The waiting residents of every service this agent serves; sent after
    /// the welcome and again whenever one of those queues changes.
    Queues { now: Timestamp, queues: Vec<QueueView> },
    /// Answer to `set_availability`.
    Availability { available: bool },
    /// The agent took a resident: the kiosk will send its offer.
    CallStarted {
        session: SessionId,
        service: ServiceId,
        kiosk_id: KioskId,
        site: String,
        ice_servers: Vec<IceServer>,
        /// Present the hello with this after losing the hub mid-call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume_token: Option<ResumeToken>,
        /// The service a colleague handed this resident over from.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        transferred_from: Option<ServiceId>,
        /// The kiosk's devices as its last heartbeat said (its sound
        /// above all: can the resident hear and be heard?); absent when
        /// the hub has none yet.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        devices: Option<DeviceHealth>,
    },
    /// The hello's `resume` was accepted: the agent is back in its call,
    /// with the same fields as `call_started`. A page that lost its peer
    /// connection (a reload) sends `signal` `restart`; the kiosk then
    /// makes a new connection and offer.
    CallResumed {
        session: SessionId,
        service: ServiceId,
        kiosk_id: KioskId,
        site: String,
        ice_servers: Vec<IceServer>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        devices: Option<DeviceHealth>,
    },
    /// The devices of the kiosk in the agent's call changed (a handset
    /// picked up, a device failing).
    KioskDevices { session: SessionId, devices: DeviceHealth },
    /// The kiosk lost the hub during the call: a cut, or the kiosk crashed
    /// or restarted. The hub holds the call for a while; `peer_back` or
    /// `call_ended` follows (at once if the kiosk comes back afresh).
    PeerAway { session: SessionId },
    /// The kiosk is back in the call.
    PeerBack { session: SessionId },
    /// `take_next` found nobody waiting.
    QueueEmpty {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<ServiceId>,
    },
    Signal { session: SessionId, signal: Signal },
    CallEnded { session: SessionId, reason: EndReason },
    /// The link for `invite`: `/guest/#` and the token, good once, until
    /// `expires_at`, while this call lasts.
    Invited { session: SessionId, role: GuestRole, token: GuestToken, expires_at: Timestamp },
    /// The guest opened the link: send them an offer.
    GuestJoined { session: SessionId, role: GuestRole },
    GuestSignal { session: SessionId, signal: Signal },
    /// The guest left (or lost the hub); the link cannot be used again.
    GuestLeft { session: SessionId },
    Error(ErrorBody),
}

// ---------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------

/// WebRTC negotiation, relayed verbatim between the two peers of a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Signal {
    Offer { sdp: String },
    Answer { sdp: String },
    Candidate { candidate: IceCandidate },
    /// The sender has gathered all its candidates.
    EndOfCandidates,
    /// The sender lost its peer connection (an agent page reloaded): the
    /// kiosk drops its own and makes a new one with a fresh offer.
    Restart,
}

impl Signal {
    pub fn kind(&self) -> &'static str {
        match self {
            Signal::Offer { .. } => "offer",
            Signal::Answer { .. } => "answer",
            Signal::Candidate { .. } => "candidate",
            Signal::EndOfCandidates => "end_of_candidates",
            Signal::Restart => "restart",
        }
    }
}

/// An ICE candidate in the browser's `RTCIceCandidateInit` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IceCandidate {
    pub candidate: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    #[serde(default, rename = "sdpMLineIndex", skip_serializing_if = "Option::is_none")]
    pub sdp_m_line_index: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_fragment: Option<String>,
}

/// A STUN or TURN server in the browser's `RTCIceServer` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// Whether a service takes calls now, and if not, when it opens next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStatus {
    pub service: ServiceId,
    pub open: bool,
    /// When an open service closes (end of the current opening period).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closes_at: Option<Timestamp>,
    /// When a closed service opens next; absent if it has no opening hours
    /// in the coming weeks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_opening: Option<Timestamp>,
}

/// How long the resident will probably wait, in whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitEstimate {
    pub seconds: u32,
}

/// One service's queue as an agent sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueView {
    pub service: ServiceId,
    pub waiting: Vec<WaitingResident>,
}

/// A resident in a queue, oldest first. Nothing personal: the site tells the
/// agent where the resident is, not who.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingResident {
    pub session: SessionId,
    pub kiosk_id: KioskId,
    pub site: String,
    pub queued_at: Timestamp,
    /// Handed over by an agent of this service (then `queued_at` is when):
    /// such residents come first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transferred_from: Option<ServiceId>,
    /// The reference of the appointment this resident came for
    /// (`RDV-000042`): they count as queued 15 min earlier than
    /// `queued_at`, so they may come before residents who queued first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointment: Option<String>,
}

/// Why a call request was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RefusalReason {
    /// Outside opening hours.
    Closed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_opening: Option<Timestamp>,
    },
    /// No such service in the catalogue.
    UnknownService,
    /// This kiosk is already waiting or in a call.
    Busy,
}

/// Why a wait or a call ended. Also the `end_reason` of the session log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The resident cancelled while waiting.
    Cancelled,
    KioskHungUp,
    AgentHungUp,
    /// The kiosk's connection to the hub was lost.
    KioskDisconnected,
    /// The agent's connection to the hub was lost.
    AgentDisconnected,
    /// The hub is shutting down.
    HubShutdown,
    /// The agent handed the resident over to a service's line or a
    /// colleague: this leg is over, the visit goes on as a new one.
    Transferred,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Cancelled => "cancelled",
            EndReason::KioskHungUp => "kiosk_hung_up",
            EndReason::AgentHungUp => "agent_hung_up",
            EndReason::KioskDisconnected => "kiosk_disconnected",
            EndReason::AgentDisconnected => "agent_disconnected",
            EndReason::HubShutdown => "hub_shutdown",
            EndReason::Transferred => "transferred",
        }
    }

    pub const ALL: [EndReason; 7] = [
        EndReason::Cancelled,
        EndReason::KioskHungUp,
        EndReason::AgentHungUp,
        EndReason::KioskDisconnected,
        EndReason::AgentDisconnected,
        EndReason::HubShutdown,
        EndReason::Transferred,
    ];
}

/// The resident's three-face rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rating {
    Unhappy,
    Neutral,
    Happy,
}

impl Rating {
    pub fn as_str(self) -> &'static str {
        match self {
            Rating::Unhappy => "unhappy",
            Rating::Neutral => "neutral",
            Rating::Happy => "happy",
        }
    }
}

/// Why a kiosk did not apply a configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigRefusal {
    pub code: ConfigRefusalCode,
    /// For a person: what was wrong, as the kiosk's verification said it.
    pub message: String,
}

impl ConfigRefusal {
    pub fn new(code: ConfigRefusalCode, message: impl Into<String>) -> ConfigRefusal {
        ConfigRefusal { code, message: message.into() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigRefusalCode {
    /// Not a bundle, or not JSON.
    Malformed,
    /// A bundle `format` this kiosk does not read.
    UnsupportedFormat,
    /// Signed by a key the kiosk does not trust.
    UntrustedKey,
    /// Changed after signing, or the signature is not the claimed key's.
    BadSignature,
    /// `payload_sha256` does not match the payload.
    HashMismatch,
    /// Validly signed but the configuration itself is invalid.
    Invalid,
    /// Older than the version the kiosk runs.
    Rollback,
    /// Could not be written to the kiosk's disk.
    Storage,
    /// Could not be downloaded; the kiosk tries again later.
    FetchFailed,
}

impl ConfigRefusalCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigRefusalCode::Malformed => "malformed",
            ConfigRefusalCode::UnsupportedFormat => "unsupported_format",
            ConfigRefusalCode::UntrustedKey => "untrusted_key",
            ConfigRefusalCode::BadSignature => "bad_signature",
            ConfigRefusalCode::HashMismatch => "hash_mismatch",
            ConfigRefusalCode::Invalid => "invalid",
            ConfigRefusalCode::Rollback => "rollback",
            ConfigRefusalCode::Storage => "storage",
            ConfigRefusalCode::FetchFailed => "fetch_failed",
        }
    }
}

/// An error reply. The connection stays up unless `code` says otherwise
/// (`auth_failed`, `unsupported_protocol`, `hello_expected`, `replaced`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    /// For a person: what was wrong and where.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, or a known type with missing or wrong fields.
    MalformedMessage,
    /// A `type` this side may not send.
    UnknownMessageType,
    /// Over [`crate::MAX_MESSAGE_BYTES`].
    MessageTooLarge,
    /// A message that makes no sense now (an answer without an offer, a
    /// hang-up outside a call).
    OutOfPlace,
    /// A session id that is not the sender's current call.
    NotYourSession,
    /// The agent may not do this (a service they do not serve).
    Forbidden,
    /// The first message was not a hello.
    HelloExpected,
    UnsupportedProtocol,
    /// Wrong credentials; deliberately silent on which part was wrong.
    AuthFailed,
    /// A newer connection with the same identity took over this one.
    Replaced,
    /// The hub could not keep up with this connection.
    TooSlow,
    Internal,
    /// A guest's link past its time (or its call over).
    InviteExpired,
    /// A guest's link already opened once.
    InviteUsed,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}
