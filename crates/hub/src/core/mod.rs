//! The hub's logic, with no I/O: queues per service, calls, and the rules of
//! the signaling relay.
//!
//! [`Hub`] knows nothing of sockets, TLS, SQL or clocks. The shell (see
//! `crate::driver`) authenticates peers, then feeds the hub inputs and
//! drains its outputs:
//!
//! ```text
//! loop {
//!     match next input {
//!         connection authenticated => hub.handle_kiosk_connected(now, ..) / handle_agent_connected(now, ..)
//!         message decoded          => hub.handle_kiosk_message(now, peer, msg) / handle_agent_message(..)
//!         connection lost          => hub.handle_disconnected(now, peer)
//!         configuration published  => hub.handle_config_published(now, published)
//!         hub.poll_timeout() passed => hub.handle_timeout(now)
//!     }
//!     while let Some(output) = hub.poll_output() {
//!         send it to its peer, close a peer, or record an event in the session log
//!     }
//! }
//! ```
//!
//! Every input takes `now`; the hub never reads the clock, so tests run a
//! whole day of queueing in microseconds. The timers are the resume grace
//! of held calls and the quiet second of availability changes
//! (`availability`): [`Hub::poll_timeout`] says when the shell must call
//! [`Hub::handle_timeout`] next. One task owns the hub, so "take
//! the next resident" is atomic by construction: two agents pressing at the
//! same instant are two inputs, handled one after the other.
//!
//! # Where things are
//!
//! This file holds [`Hub`], its outputs, the state of peers, visits and
//! calls, and the [`Topology`]. Each group of handlers is an `impl Hub`
//! block in a file of its own:
//!
//! - `peers`: connections: hellos (replacing an older connection of the
//!   same identity), dispatching messages to the groups below, losing a
//!   connection, stopping.
//! - `queue`: the queue rules (who may wait, who is taken next, places and
//!   wait estimates, telling kiosks and agents once per input) next to the
//!   per-service line they drive.
//! - `calls`: an agent answers; the signaling relay between exactly the
//!   two sides of a call, in the negotiation's order; hang-up and the end
//!   of a visit (its log entry, its rating, the remembered reason).
//! - `resume`: resume tokens; a call held for a side that lost the hub
//!   (a timer), that side coming back, calls restored after a restart.
//! - `transfer`: an agent hands the resident of a call over to the front
//!   of a service's line or to a colleague; the leg ends, the visit goes on.
//! - `cluster`: several processes sharing the queue, and the bus between
//!   them: the shared store's answers and the other processes' messages.
//! - `fleet`: the published configuration, kiosks' heartbeats and
//!   configuration reports, the [`Snapshot`] behind `/metrics`.
//! - `desk`: the host on site: each kiosk's alerts (help requests,
//!   failing devices, a lost link) on its site's board, hosts'
//!   acknowledgements.
//! - `supervision`: the supervisor's board: each service's line, each
//!   agent's state, today's figures (read by the shell from the log).
//! - `guests`: a third party (interpreter, colleague) invited into a
//!   call by a one-time link; signaling between them and the agent's
//!   browser, which mixes the media.
//! - `appointments`: slots booked at a kiosk for a service, and the
//!   rule serving their residents ahead of walk-ins, fairly.
//! - `turn`, `rate`, `revoke`, `availability`: TURN credentials, token
//!   buckets, the connection serving an identity, availability flapping
//!   told at most once a second per service.
//!
//! The core imports nothing of the shell (`server`, `driver`, `bus`,
//! `store`); the shell imports it. `tests/` drives it through a `World`
//! harness: every input at a simulated time, every output drained and
//! asserted per peer.

pub mod appointments;
mod callback;
mod calls;
mod cluster;
mod desk;
mod estimate;
mod fleet;
mod guests;
mod peers;
mod queue;
mod resume;
mod revoke;
mod supervision;
mod transfer;
mod availability;
mod turn;
pub mod rate;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use visio_config::{Catalogue, ServiceState};
use visio_protocol::{
    TransferTarget, AgentLogin, AgentToHub, CallLink, ConfigRefusal, DeviceHealth, EndReason, ErrorBody, ErrorCode, HubToAgent, HubToKiosk,
    IceServer, KioskId, KioskToHub, PROTOCOL_VERSION, Rating, RefusalReason, ResumeToken, ServiceId, SessionId, Signal,
};

use queue::Queues;
use availability::AvailabilityThrottle;
pub use availability::AVAILABILITY_QUIET;
pub use turn::{DEFAULT_TTL as DEFAULT_TURN_TTL, TurnRest};
pub use desk::EVERY_PROCESS;
pub use cluster::{BusMessage, Claimed, QueueEntry, SharedView, StoreOp};
pub use fleet::{CONFIG_PATH, HeartbeatReport, MAX_DETAIL_CHARS, MAX_REFUSAL_CHARS, Published, Snapshot};
pub use resume::{DEFAULT_RESUME_GRACE, RestoredCall, TokenHash, new_token, token_hash};

/// One connection to the hub, kiosk or agent. Assigned by the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u64);

/// What the shell must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    ToKiosk(PeerId, HubToKiosk),
    ToAgent(PeerId, HubToAgent),
    /// To a host's page (`/host/`).
    ToHost(PeerId, visio_protocol::HubToHost),
    /// To a supervisor's page (`/supervision/`).
    ToSupervisor(PeerId, visio_protocol::HubToSupervisor),
    /// To a guest's page (`/guest/`).
    ToGuest(PeerId, visio_protocol::HubToGuest),
    /// Read today's figures (the day in `timezone`) from the session log
    /// and hand them back ([`Hub::handle_today`]) if a supervisor is
    /// connected here. `logged`: a visit's event was just logged here;
    /// read after it is written, and tell the other processes
    /// ([`BusMessage::SessionLogged`]) so that their supervisors' figures
    /// follow.
    RefreshToday { logged: bool, timezone: jiff::tz::TimeZone },
    /// Close this connection (after sending what was queued for it).
    Close(PeerId),
    /// Something for the session log and the metrics.
    Event(HubEvent),
    /// Work on the queue shared with other hub processes (only with
    /// [`Topology::SharedQueue`] or [`Topology::Bus`]); a `TakeNext`'s
    /// answer comes back through [`Hub::handle_taken`].
    Store(StoreOp),
    /// For the hub process named `to` (only with [`Topology::Bus`]).
    Bus { to: String, message: BusMessage },
    /// Read the appointments of `kiosk_id` in the week from `from` and
    /// hand them back ([`Hub::handle_callback_slots`]): its free callback
    /// slots.
    ReadCallbackSlots { peer: PeerId, kiosk_id: KioskId, service: ServiceId, from: Timestamp },
    /// Book this callback for the kiosk `peer` and answer
    /// ([`Hub::handle_callback_booked`]); then every process reads the
    /// appointments again.
    BookCallback { peer: PeerId, slot: appointments::NewAppointment },
}

/// Metadata of a resident's visit (never any content), and what kiosks
/// report about themselves, for the store and the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubEvent {
    Queued { session: SessionId, kiosk_id: KioskId, service: ServiceId, at: Timestamp },
    /// `resume` is the SHA-256 of the call's resume token: stored so a
    /// restarted hub can hold the call for both sides again.
    Answered { session: SessionId, agent: AgentLogin, at: Timestamp, resume: TokenHash },
    Ended { session: SessionId, reason: EndReason, at: Timestamp },
    /// The resident of `previous` (which ended `transferred`) waits again,
    /// as `session`, for `service`: the second leg of one visit.
    Transferred { session: SessionId, previous: SessionId, kiosk_id: KioskId, service: ServiceId, at: Timestamp },
    Rated { session: SessionId, rating: Rating },
    Heartbeat { kiosk_id: KioskId, at: Timestamp, report: HeartbeatReport },
    ConfigApplied { kiosk_id: KioskId, version: u64, at: Timestamp },
    ConfigRefused { kiosk_id: KioskId, version: u64, reason: ConfigRefusal, at: Timestamp },
}

struct KioskPeer {
    kiosk_id: KioskId,
    site: String,
    /// The protocol version of its hello (older kiosks are still served).
    protocol: u32,
    /// The visit in progress: waiting or in a call.
    session: Option<SessionId>,
    /// The last visit that ended, which the resident may still rate.
    rateable: Option<SessionId>,
    /// The last heartbeat of this connection.
    heartbeat: Option<HeartbeatReport>,
}

struct AgentPeer {
    login: AgentLogin,
    display_name: String,
    services: Vec<ServiceId>,
    available: bool,
    call: Option<SessionId>,
    /// A take-next is with the shared store; a second press waits for it.
    taking: bool,
}

struct Session {
    /// A waiting kiosk is always here: losing it ends the wait.
    kiosk: Attached,
    kiosk_id: KioskId,
    site: String,
    service: ServiceId,
    queued_at: Timestamp,
    /// The service an agent handed this resident over from: they wait
    /// ahead of those who queued normally.
    transferred_from: Option<ServiceId>,
    /// The appointment this resident came for (`appointments`).
    precedence: Option<appointments::Precedence>,
    state: SessionState,
}

enum SessionState {
    Waiting,
    InCall(Box<Call>),
}

struct Call {
    agent: Attached,
    agent_login: AgentLogin,
    agent_name: String,
    answered_at: Timestamp,
    negotiation: Negotiation,
    resume: TokenHash,
    /// The hub process holding the other side, when it is not this one.
    remote: Option<String>,
}

/// Where one side of a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attached {
    Here(PeerId),
    /// Lost the hub `since`; the call is held until `until`, then ends
    /// with `reason` at `since`.
    Away { since: Timestamp, until: Timestamp, reason: EndReason },
    /// Connected to another hub process (`Call::remote`), reached through
    /// the bus.
    Remote,
}

impl Attached {
    fn peer(self) -> Option<PeerId> {
        match self {
            Attached::Here(p) => Some(p),
            Attached::Away { .. } | Attached::Remote => None,
        }
    }

    fn is_away(self) -> bool {
        matches!(self, Attached::Away { .. })
    }

    fn is_elsewhere(self) -> bool {
        matches!(self, Attached::Away { .. } | Attached::Remote)
    }
}

/// What the hub remembers of an ended call.
struct Ended {
    reason: EndReason,
    kiosk_id: KioskId,
    agent: Option<AgentLogin>,
    resume: Option<TokenHash>,
}

/// Where the WebRTC offer/answer exchange of a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Negotiation {
    /// No offer yet.
    New,
    /// An offer from this side awaits its answer.
    HaveOffer(Side),
    /// Offer answered; a new offer (ICE restart) may follow.
    Stable,
}

/// One side of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Kiosk,
    Agent,
}

impl Side {
    fn lost(self) -> EndReason {
        match self {
            Side::Kiosk => EndReason::KioskDisconnected,
            Side::Agent => EndReason::AgentDisconnected,
        }
    }
}

pub struct Hub {
    catalogue: Arc<Catalogue>,
    ice_servers: Vec<IceServer>,
    /// Short-lived credentials for each peer, besides the static servers.
    turn: Option<TurnRest>,
    kiosks: HashMap<PeerId, KioskPeer>,
    agents: HashMap<PeerId, AgentPeer>,
    kiosk_peer: HashMap<KioskId, PeerId>,
    agent_peer: HashMap<AgentLogin, PeerId>,
    sessions: HashMap<SessionId, Session>,
    queues: Queues,
    /// Smoothed call duration per service, in seconds.
    call_seconds: HashMap<ServiceId, f64>,
    /// Services whose queue or agents changed in this input: their kiosks
    /// and agents are told once, at the end of the input.
    dirty: BTreeSet<ServiceId>,
    /// Availability changes told at most once a second per service.
    availability: AvailabilityThrottle,
    outputs: VecDeque<Output>,
    session_prefix: String,
    next_session: u64,
    heartbeat_seconds: u32,
    published: Option<Published>,
    resume_grace: SignedDuration,
    /// Recently ended calls, oldest first in `ended_order`.
    ended: HashMap<SessionId, Ended>,
    ended_order: VecDeque<SessionId>,
    /// Alone, or one of several processes sharing the queue (and a bus).
    topology: Topology,
    /// Available agents per service on the other processes, for wait
    /// estimates ([`Hub::handle_shared`]).
    available_elsewhere: HashMap<ServiceId, u32>,
    /// Hosts' pages connected here (`desk`).
    hosts: HashMap<PeerId, desk::HostPeer>,
    /// Every kiosk known to hosts: this process's and, with a bus, the
    /// others' (`desk`).
    board: BTreeMap<KioskId, desk::BoardEntry>,
    /// The other processes were asked for their kiosks' entries (once: the
    /// board then follows their broadcasts).
    board_asked: bool,
    /// Supervisors' pages and their board (`supervision`).
    supervision: supervision::Supervision,
    /// Third parties' links and connections (`guests`).
    guests: guests::Guests,
    /// Today's appointments, from the store ([`Hub::handle_appointments`]).
    appointments: Vec<appointments::Appointment>,
    /// Appointments whose resident was answered: a later visit in the same
    /// slot is a walk-in.
    appointments_used: BTreeSet<appointments::Reference>,
}

/// How this hub process stands among others: who decides the next
/// resident taken, and whether a call may join two processes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Topology {
    /// The only process (SQLite store): its queue is its own.
    #[default]
    Alone,
    /// One of the processes sharing a queue in the store (PostgreSQL),
    /// named `process` there: "take next" is the store's decision
    /// ([`StoreOp::TakeNext`], answered through [`Hub::handle_taken`]) and
    /// every wait is mirrored there. A resident waiting on another process
    /// cannot become a call here.
    SharedQueue { process: String },
    /// A shared queue, and a bus reaching the other processes
    /// ([`Output::Bus`], [`Hub::handle_bus`]): an agent here may take a
    /// resident waiting on another process, each process holding its side.
    Bus { process: String },
}

impl Topology {
    /// This process's name in the shared queue and on the bus; `None`
    /// when it is alone.
    pub fn process(&self) -> Option<&str> {
        match self {
            Topology::Alone => None,
            Topology::SharedQueue { process } | Topology::Bus { process } => Some(process),
        }
    }
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("kiosks", &self.kiosks.len())
            .field("agents", &self.agents.len())
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// `session_prefix` makes session ids unique across hub restarts (the
    /// shell passes random hex).
    pub fn new(catalogue: Arc<Catalogue>, ice_servers: Vec<IceServer>, session_prefix: String) -> Hub {
        let call_seconds =
            catalogue.services().iter().map(|s| (s.id.clone(), f64::from(s.typical_call_minutes) * 60.0)).collect();
        Hub {
            catalogue,
            ice_servers,
            turn: None,
            kiosks: HashMap::new(),
            agents: HashMap::new(),
            kiosk_peer: HashMap::new(),
            agent_peer: HashMap::new(),
            sessions: HashMap::new(),
            queues: Queues::default(),
            call_seconds,
            dirty: BTreeSet::new(),
            availability: AvailabilityThrottle::default(),
            outputs: VecDeque::new(),
            session_prefix,
            next_session: 0,
            heartbeat_seconds: 30,
            published: None,
            resume_grace: DEFAULT_RESUME_GRACE,
            ended: HashMap::new(),
            ended_order: VecDeque::new(),
            topology: Topology::Alone,
            available_elsewhere: HashMap::new(),
            hosts: HashMap::new(),
            board: BTreeMap::new(),
            board_asked: false,
            supervision: supervision::Supervision::default(),
            guests: guests::Guests::default(),
            appointments: Vec::new(),
            appointments_used: BTreeSet::new(),
        }
    }

    /// Whether other hub processes share the queue, and whether a bus
    /// reaches them. Set once, before the first input.
    pub fn set_topology(&mut self, topology: Topology) {
        self.topology = topology;
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// How long a call is held for a side that lost the hub.
    pub fn set_resume_grace(&mut self, grace: SignedDuration) {
        self.resume_grace = grace;
    }

    /// TURN servers sharing a secret with the hub: each peer of a call
    /// gets its own short-lived credentials for them.
    pub fn set_turn_rest(&mut self, turn: Option<TurnRest>) {
        self.turn = turn;
    }

    /// How often kiosks are asked to send a heartbeat (`hub.json`'s
    /// `heartbeat_seconds`); told in every welcome.
    pub fn set_heartbeat_seconds(&mut self, seconds: u32) {
        self.heartbeat_seconds = seconds;
    }

    /// The next thing for the shell to do; call until `None` after each input.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    fn tell_kiosk(&mut self, peer: PeerId, msg: HubToKiosk) {
        self.outputs.push_back(Output::ToKiosk(peer, msg));
    }

    fn tell_agent(&mut self, peer: PeerId, msg: HubToAgent) {
        self.outputs.push_back(Output::ToAgent(peer, msg));
    }

    fn kiosk_error(&mut self, peer: PeerId, code: ErrorCode, message: impl Into<String>) {
        self.tell_kiosk(peer, HubToKiosk::Error(ErrorBody::new(code, message)));
    }

    fn agent_error(&mut self, peer: PeerId, code: ErrorCode, message: impl Into<String>) {
        self.tell_agent(peer, HubToAgent::Error(ErrorBody::new(code, message)));
    }

    fn event(&mut self, event: HubEvent) {
        self.supervise_event(&event);
        self.outputs.push_back(Output::Event(event));
    }
}

