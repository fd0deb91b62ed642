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
//! whole day of queueing in microseconds. The only timer is the resume
//! grace of held calls: [`Hub::poll_timeout`] says when the shell must call
//! [`Hub::handle_timeout`] next. One task owns the hub, so "take
//! the next resident" is atomic by construction: two agents pressing at the
//! same instant are two inputs, handled one after the other.

mod queue;
mod turn;
mod resume;
mod revoke;
pub mod rate;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use visio_config::{Catalogue, ServiceState};
use visio_protocol::{
    AgentLogin, AgentToHub, ConfigRefusal, DeviceHealth, EndReason, ErrorBody, ErrorCode, HubToAgent, HubToKiosk,
    IceServer, KioskId, KioskToHub, PROTOCOL_VERSION, Rating, RefusalReason, ResumeToken, ServiceId, SessionId, Signal,
};

use queue::Queues;
pub use turn::{DEFAULT_TTL as DEFAULT_TURN_TTL, TurnRest};
pub use resume::{TokenHash, new_token, token_hash};

/// One connection to the hub, kiosk or agent. Assigned by the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u64);

/// What the shell must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    ToKiosk(PeerId, HubToKiosk),
    ToAgent(PeerId, HubToAgent),
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
}

/// A resident waiting, as every hub process sees them in the shared queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    pub session: SessionId,
    pub service: ServiceId,
    pub kiosk_id: KioskId,
    /// The kiosk's site, as agents see it.
    pub site: String,
    pub queued_at: Timestamp,
    /// The hub process holding the kiosk's connection.
    pub process: String,
}

/// What one hub process tells another about a call between a kiosk
/// connected to one and an agent connected to the other. Sent to the
/// process holding the other side ([`Output::Bus`]), handled there by
/// [`Hub::handle_bus`]. Events, never state: what must outlive a process
/// is in the store.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BusMessage {
    /// An agent of process `from` took a resident waiting here. The token
    /// travels in clear so the kiosk gets the same one as the agent: the
    /// bus is the hub's private network, like its database.
    Answered {
        session: SessionId,
        agent: AgentLogin,
        agent_name: String,
        from: String,
        resume_token: ResumeToken,
    },
    /// A signal from the sender's side of the call.
    Signal { session: SessionId, signal: Signal },
    /// The call ended on the sender's side.
    Ended { session: SessionId, reason: EndReason, at: Timestamp },
    /// `side` of the call came back on process `to` with its token: the
    /// receiver no longer holds that side (and forgets the call if it held
    /// nothing else of it).
    SideMoved { session: SessionId, side: Side, to: String },
    /// An admin published configuration `version` through another
    /// process (sent to every process): load it from the store and adopt
    /// it, and tell the kiosks here.
    ConfigPublished { version: u64 },
    /// A resident who waited on the receiver came back on process `to`
    /// and waits there now, in the same place: the receiver lets go of the
    /// wait without ending it.
    WaitMoved { session: SessionId, to: String },
    /// `side` of the call lost the sender, which holds the call for it:
    /// the receiver tells its own peer `peer_away`.
    SideAway { session: SessionId, side: Side },
}

/// Queue work the shell carries out on the shared store, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOp {
    /// Put a resident in line (again, after a take that could not become
    /// a call: the same `queued_at`, so the same place).
    Enqueue(QueueEntry),
    /// A wait ended here (cancelled, kiosk gone, hub stopping).
    Leave(SessionId),
    /// The oldest resident of `services`, taken out of line atomically,
    /// for `agent`: answer with [`Hub::handle_taken`], whatever happens.
    TakeNext { agent: PeerId, services: Vec<ServiceId> },
    /// `peer` came back with the token of a call this process does not
    /// know (held by a process that died or stopped, or by another one):
    /// make `side` of it this process's if the store has it open with that
    /// token for `identity` (kiosk id or agent login). Answer with
    /// [`Hub::handle_claimed`].
    Claim { peer: PeerId, side: Side, session: SessionId, identity: String, resume: TokenHash },
    /// This process now holds `side` of `session` (its client moved here).
    Hold { session: SessionId, side: Side },
    /// A resident waiting on another process waits here now, in the same
    /// place (the entry, with this process).
    Adopt(QueueEntry),
}

/// The store's answer to [`StoreOp::Claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub call: RestoredCall,
    /// The process that held the claimed side before, if any.
    pub previous: Option<String>,
    /// The running process holding the other side; `None` when that
    /// process is gone (then `other_lost_at` says since when, if known).
    pub other: Option<String>,
    pub other_lost_at: Option<Timestamp>,
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
    Rated { session: SessionId, rating: Rating },
    Heartbeat { kiosk_id: KioskId, at: Timestamp, report: HeartbeatReport },
    ConfigApplied { kiosk_id: KioskId, version: u64, at: Timestamp },
    ConfigRefused { kiosk_id: KioskId, version: u64, reason: ConfigRefusal, at: Timestamp },
}

/// What a kiosk's last heartbeat said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatReport {
    pub app_version: String,
    pub config_version: Option<u64>,
    pub devices: Option<DeviceHealth>,
    pub rtt_ms: Option<u32>,
}

/// A configuration an admin published, as the core needs it: what to
/// announce to kiosks, and the catalogue and ICE servers the hub itself
/// adopts from it (opening hours decide what the hub accepts).
#[derive(Debug, Clone)]
pub struct Published {
    pub version: u64,
    pub sha256: String,
    pub size: u64,
    pub catalogue: Arc<Catalogue>,
    pub ice_servers: Vec<IceServer>,
}

/// Where kiosks fetch the published configuration.
pub const CONFIG_PATH: &str = "/api/kiosk/config";

/// Longest device detail or refusal message kept from a kiosk: enough for
/// a sentence, and a misbehaving kiosk cannot fill the store.
pub const MAX_DETAIL_CHARS: usize = 200;
pub const MAX_REFUSAL_CHARS: usize = 2000;

/// A call that was in progress when the previous hub process stopped, as
/// the store kept it: the new process holds it for both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoredCall {
    pub session: SessionId,
    pub kiosk_id: KioskId,
    pub site: String,
    pub service: ServiceId,
    pub agent: AgentLogin,
    pub agent_name: String,
    pub queued_at: Timestamp,
    pub answered_at: Timestamp,
    pub resume: TokenHash,
}

/// How long a call is held for a side that lost the hub, by default.
pub const DEFAULT_RESUME_GRACE: SignedDuration = SignedDuration::from_secs(60);

/// How many ended calls the hub remembers, to tell a side that comes back
/// too late why its call ended.
const ENDED_MEMORY: usize = 1024;

/// Counts for `/metrics` and `/healthz`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub kiosks: usize,
    pub agents: usize,
    pub agents_available: usize,
    pub calls_in_progress: usize,
    /// Every service of the catalogue, with its number of waiting residents.
    pub queue_lengths: Vec<(ServiceId, usize)>,
    /// Per device (camera, microphone, scanner, printer): connected kiosks
    /// whose last heartbeat says it is missing or failing.
    pub devices_unhealthy: Vec<(&'static str, usize)>,
    /// The published configuration's version, if any.
    pub config_version: Option<u64>,
    /// Connected kiosks whose last heartbeat reports another configuration
    /// version than the published one (or none): a rollout in progress, or
    /// kiosks refusing it.
    pub kiosks_config_outdated: usize,
}

struct KioskPeer {
    kiosk_id: KioskId,
    site: String,
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

/// Smoothing of the measured call durations behind wait estimates.
const DURATION_SMOOTHING: f64 = 0.2;

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

/// What the shared store says of the other hub processes, every few
/// seconds ([`Hub::handle_shared`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SharedView {
    /// The processes running now, this one included.
    pub alive: BTreeSet<String>,
    /// Available agents per service on each running process.
    pub available: BTreeMap<String, BTreeMap<ServiceId, u32>>,
    /// Everyone in the shared queue, on every process.
    pub waiting: Vec<QueueEntry>,
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
        }
    }

    /// Whether other hub processes share the queue, and whether a bus
    /// reaches them. Set once, before the first input.
    pub fn set_topology(&mut self, topology: Topology) {
        self.topology = topology;
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

    /// The configuration the hub serves, if one was published.
    pub fn published_version(&self) -> Option<u64> {
        self.published.as_ref().map(|p| p.version)
    }

    /// The kiosks connected now.
    pub fn online_kiosks(&self) -> Vec<KioskId> {
        let mut ids: Vec<KioskId> = self.kiosk_peer.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// The next thing for the shell to do; call until `None` after each input.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            kiosks: self.kiosks.len(),
            agents: self.agents.len(),
            agents_available: self.agents.values().filter(|a| a.available).count(),
            calls_in_progress: self.sessions.values().filter(|s| matches!(s.state, SessionState::InCall(_))).count(),
            queue_lengths: self
                .catalogue
                .services()
                .iter()
                .map(|s| (s.id.clone(), self.queues.len(&s.id)))
                .collect(),
            devices_unhealthy: ["camera", "microphone", "scanner", "printer"]
                .into_iter()
                .map(|device| {
                    let n = self
                        .kiosks
                        .values()
                        .filter_map(|k| k.heartbeat.as_ref()?.devices.as_ref())
                        .filter(|d| d.by_name().iter().any(|(name, s)| *name == device && s.state.is_unhealthy()))
                        .count();
                    (device, n)
                })
                .collect(),
            config_version: self.published_version(),
            kiosks_config_outdated: match self.published_version() {
                None => 0,
                Some(v) => self
                    .kiosks
                    .values()
                    .filter(|k| k.heartbeat.as_ref().is_some_and(|h| h.config_version != Some(v)))
                    .count(),
            },
        }
    }

    // -----------------------------------------------------------------------
    // Inputs
    // -----------------------------------------------------------------------

    /// A kiosk proved its identity. A previous connection of the same kiosk
    /// is replaced: it is told so and closed (a call it was in is held, as
    /// for any lost connection). Then the kiosk's held call, if any, is
    /// resumed when `resume` is its token, and ends otherwise.
    pub fn handle_kiosk_connected(
        &mut self,
        now: Timestamp,
        peer: PeerId,
        kiosk_id: KioskId,
        site: String,
        resume: Option<ResumeToken>,
    ) {
        if let Some(old) = self.kiosk_peer.get(&kiosk_id).copied() {
            self.replace(now, old, "this kiosk connected again from elsewhere; this connection is closed");
        }
        self.kiosk_peer.insert(kiosk_id.clone(), peer);
        self.kiosks.insert(peer, KioskPeer {
            kiosk_id: kiosk_id.clone(),
            site: site.clone(),
            session: None,
            rateable: None,
            heartbeat: None,
        });
        self.tell_kiosk(peer, HubToKiosk::Welcome {
            protocol: PROTOCOL_VERSION,
            kiosk_id: kiosk_id.clone(),
            site,
            services: self.catalogue.statuses_at(now),
            heartbeat_seconds: Some(self.heartbeat_seconds),
        });
        self.reattach(now, peer, Side::Kiosk, resume);
        // A kiosk fetches its configuration at start: the announcement
        // tells it which version the hub serves.
        if let Some(announcement) = self.announcement() {
            self.tell_kiosk(peer, announcement);
        }
        self.flush(now);
    }

    /// An admin published a configuration (already verified and stored by
    /// the shell). The hub adopts its catalogue and ICE servers, and every
    /// connected kiosk is told. Returns how many kiosks were told.
    pub fn handle_config_published(&mut self, now: Timestamp, published: Published) -> usize {
        self.catalogue = published.catalogue.clone();
        for s in self.catalogue.services() {
            self.call_seconds.entry(s.id.clone()).or_insert(f64::from(s.typical_call_minutes) * 60.0);
        }
        self.ice_servers = published.ice_servers.clone();
        self.published = Some(published);
        let mut peers: Vec<PeerId> = self.kiosks.keys().copied().collect();
        peers.sort();
        if let Some(announcement) = self.announcement() {
            for &peer in &peers {
                self.tell_kiosk(peer, announcement.clone());
            }
        }
        self.flush(now);
        peers.len()
    }

    fn announcement(&self) -> Option<HubToKiosk> {
        self.published.as_ref().map(|p| HubToKiosk::ConfigAvailable {
            version: p.version,
            sha256: p.sha256.clone(),
            size: p.size,
            path: CONFIG_PATH.to_owned(),
        })
    }

    /// An agent proved their identity (session cookie). They start away
    /// (not available). A held call of theirs is resumed or ended as for a
    /// kiosk.
    pub fn handle_agent_connected(
        &mut self,
        now: Timestamp,
        peer: PeerId,
        login: AgentLogin,
        display_name: String,
        services: Vec<ServiceId>,
        resume: Option<ResumeToken>,
    ) {
        if let Some(old) = self.agent_peer.get(&login).copied() {
            self.replace(now, old, "you signed in from another window; this one is closed");
        }
        let services: Vec<ServiceId> =
            services.into_iter().filter(|s| self.catalogue.get(s).is_some()).collect();
        let statuses = services
            .iter()
            .filter_map(|s| self.catalogue.get(s))
            .map(|s| self.catalogue.status_at(s, now))
            .collect();
        self.agent_peer.insert(login.clone(), peer);
        self.agents.insert(peer, AgentPeer {
            login: login.clone(),
            display_name: display_name.clone(),
            services,
            available: false,
            call: None,
            taking: false,
        });
        self.tell_agent(peer, HubToAgent::Welcome {
            protocol: PROTOCOL_VERSION,
            login,
            display_name,
            available: false,
            services: statuses,
        });
        self.reattach(now, peer, Side::Agent, resume);
        self.tell_agent(peer, self.queues_for(peer, now));
        self.flush(now);
    }

    /// Right after a welcome: puts the new connection back in its held
    /// call if `resume` is that call's token; tells it how a call its token
    /// names ended otherwise; and ends a held call of the same kiosk or
    /// agent that this hello did not resume (its media is gone).
    fn reattach(&mut self, now: Timestamp, peer: PeerId, side: Side, resume: Option<ResumeToken>) {
        let held = self.held_call_of(peer, side);
        let resumed = resume.and_then(|token| {
            let named = resume::session_of(&token);
            let hash = token_hash(&token);
            match (named, &held) {
                (Some(named), Some(held)) if &named == held && self.token_matches(held, &hash) => Some(named),
                (Some(session), _)
                    if self.topology.process().is_some()
                        && !self.sessions.contains_key(&session)
                        && !self.ended.contains_key(&session) =>
                {
                    // Perhaps held by another process, or left by one that
                    // died: the shared store knows.
                    let identity = match side {
                        Side::Kiosk => self.kiosks[&peer].kiosk_id.to_string(),
                        Side::Agent => self.agents[&peer].login.to_string(),
                    };
                    self.outputs.push_back(Output::Store(StoreOp::Claim { peer, side, session, identity, resume: hash }));
                    None
                }
                (Some(session), _) => {
                    // The same answer whether the token named another
                    // identity's call, an ended one, or nothing live: a
                    // token tells a stranger nothing.
                    let reason = self.ended_reason(peer, side, &session, &hash);
                    match side {
                        Side::Kiosk => self.tell_kiosk(peer, HubToKiosk::CallEnded { session, reason }),
                        Side::Agent => self.tell_agent(peer, HubToAgent::CallEnded { session, reason }),
                    }
                    None
                }
                (None, _) => {
                    let message = "the resume token is not one this hub issues";
                    match side {
                        Side::Kiosk => self.kiosk_error(peer, ErrorCode::MalformedMessage, message),
                        Side::Agent => self.agent_error(peer, ErrorCode::MalformedMessage, message),
                    }
                    None
                }
            }
        });
        let Some(held) = held else { return };
        if resumed.is_none() {
            // A held call survives only through its token. Ended as of when
            // the side was lost: its media ended with that connection.
            let since = match self.side_of(&held, side) {
                Some(Attached::Away { since, .. }) => since,
                _ => now,
            };
            let reason = match side {
                Side::Kiosk => EndReason::KioskDisconnected,
                Side::Agent => EndReason::AgentDisconnected,
            };
            return self.end_session(since, &held, reason);
        }
        let session = self.sessions.get_mut(&held).expect("held calls exist");
        let SessionState::InCall(call) = &mut session.state else { unreachable!("held calls are in a call") };
        let (was, other) = match side {
            Side::Kiosk => (std::mem::replace(&mut session.kiosk, Attached::Here(peer)), call.agent),
            Side::Agent => (std::mem::replace(&mut call.agent, Attached::Here(peer)), session.kiosk),
        };
        if was == Attached::Remote
            && let Some(previous) = call.remote.take()
        {
            // The side moved here from the process that held it, which
            // forgets it; both sides are here now.
            let me = self.topology.process().unwrap_or_default().to_owned();
            let message = BusMessage::SideMoved { session: held.clone(), side, to: me };
            self.outputs.push_back(Output::Bus { to: previous, message });
        }
        if self.topology.process().is_some() {
            // The store says who holds each side, for a process that must
            // find it (a claim); it may have been a process that died.
            self.outputs.push_back(Output::Store(StoreOp::Hold { session: held.clone(), side }));
        }
        let session = self.sessions.get_mut(&held).expect("held calls exist");
        let SessionState::InCall(call) = &mut session.state else { unreachable!("held calls are in a call") };
        // The call was claimed: a side still missing after a hub restart
        // is that side's own failure to come back, no longer the hub's.
        let other = match other {
            Attached::Away { since, until, reason: EndReason::HubShutdown } => {
                let reason = match side {
                    Side::Kiosk => EndReason::AgentDisconnected,
                    Side::Agent => EndReason::KioskDisconnected,
                };
                let relabelled = Attached::Away { since, until, reason };
                match side {
                    Side::Kiosk => call.agent = relabelled,
                    Side::Agent => session.kiosk = relabelled,
                }
                relabelled
            }
            other => other,
        };
        self.tell_resumed(now, peer, side, &held);
        match (other, side) {
            (Attached::Here(o), Side::Kiosk) => self.tell_agent(o, HubToAgent::PeerBack { session: held }),
            (Attached::Here(o), Side::Agent) => self.tell_kiosk(o, HubToKiosk::PeerBack { session: held }),
            (Attached::Away { .. }, Side::Kiosk) => self.tell_kiosk(peer, HubToKiosk::PeerAway { session: held }),
            (Attached::Away { .. }, Side::Agent) => self.tell_agent(peer, HubToAgent::PeerAway { session: held }),
            // The other side's process tells its peer this side is back.
            (Attached::Remote, _) => {
                let SessionState::InCall(call) = &self.sessions[&held].state else { unreachable!() };
                if let (Some(process), Some(me)) = (call.remote.clone(), self.topology.process().map(str::to_owned)) {
                    let message = BusMessage::SideMoved { session: held, side, to: me };
                    self.outputs.push_back(Output::Bus { to: process, message });
                }
            }
        }
    }

    /// The call held for the kiosk or agent behind `peer`, whose side of
    /// it is away.
    fn held_call_of(&self, peer: PeerId, side: Side) -> Option<SessionId> {
        let (kiosk_id, login) = match side {
            Side::Kiosk => (Some(&self.kiosks.get(&peer)?.kiosk_id), None),
            Side::Agent => (None, Some(&self.agents.get(&peer)?.login)),
        };
        let mut held: Vec<&SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| match &s.state {
                SessionState::Waiting => false,
                // Away from here, or connected to another process: a side
                // that comes here with its token moves here.
                SessionState::InCall(call) => match side {
                    Side::Kiosk => Some(&s.kiosk_id) == kiosk_id && s.kiosk.is_elsewhere(),
                    Side::Agent => Some(&call.agent_login) == login && call.agent.is_elsewhere(),
                },
            })
            .map(|(id, _)| id)
            .collect();
        // At most one in practice; the oldest if a bug ever made two.
        held.sort();
        held.first().map(|s| (*s).clone())
    }

    fn side_of(&self, session: &SessionId, side: Side) -> Option<Attached> {
        let s = self.sessions.get(session)?;
        match (&s.state, side) {
            (_, Side::Kiosk) => Some(s.kiosk),
            (SessionState::InCall(call), Side::Agent) => Some(call.agent),
            (SessionState::Waiting, Side::Agent) => None,
        }
    }

    fn token_matches(&self, session: &SessionId, hash: &TokenHash) -> bool {
        match self.sessions.get(session).map(|s| &s.state) {
            Some(SessionState::InCall(call)) => call.resume.matches(hash),
            _ => false,
        }
    }

    /// Why the call a token names ended, for its own side: the remembered
    /// reason when the token is genuine and names a call of this kiosk or
    /// agent; otherwise what the client would have seen had it stayed
    /// away, its own disconnection. A kiosk may then rate its call.
    fn ended_reason(&mut self, peer: PeerId, side: Side, session: &SessionId, hash: &TokenHash) -> EndReason {
        let fallback = match side {
            Side::Kiosk => EndReason::KioskDisconnected,
            Side::Agent => EndReason::AgentDisconnected,
        };
        let Some(ended) = self.ended.get(session) else { return fallback };
        let same_identity = match side {
            Side::Kiosk => self.kiosks.get(&peer).is_some_and(|k| k.kiosk_id == ended.kiosk_id),
            Side::Agent => self.agents.get(&peer).is_some_and(|a| Some(&a.login) == ended.agent.as_ref()),
        };
        if !(same_identity && ended.resume.is_some_and(|r| r.matches(hash))) {
            return fallback;
        }
        let reason = ended.reason;
        if side == Side::Kiosk
            && let Some(k) = self.kiosks.get_mut(&peer)
        {
            k.rateable = Some(session.clone());
        }
        reason
    }

    /// Calls that were in progress when the previous hub process stopped
    /// (at `stopped_at`): held for both sides until `now` plus the grace.
    /// Nobody claiming one ends it with `hub_shutdown` at `stopped_at`.
    pub fn handle_restored(&mut self, now: Timestamp, stopped_at: Timestamp, calls: Vec<RestoredCall>) {
        let away = Attached::Away { since: stopped_at, until: now + self.resume_grace, reason: EndReason::HubShutdown };
        for c in calls {
            self.sessions.insert(c.session, Session {
                kiosk: away,
                kiosk_id: c.kiosk_id,
                site: c.site,
                service: c.service,
                queued_at: c.queued_at,
                state: SessionState::InCall(Box::new(Call {
                    agent: away,
                    agent_login: c.agent,
                    agent_name: c.agent_name,
                    answered_at: c.answered_at,
                    // Media was up; either side may restart ICE.
                    negotiation: Negotiation::Stable,
                    resume: c.resume,
                    remote: None,
                })),
            });
        }
    }

    /// When [`Hub::handle_timeout`] must run next: the end of the earliest
    /// resume grace.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.sessions
            .values()
            .filter_map(|s| match &s.state {
                SessionState::Waiting => None,
                SessionState::InCall(call) => [s.kiosk, call.agent]
                    .into_iter()
                    .filter_map(|a| match a {
                        Attached::Away { until, .. } => Some(until),
                        Attached::Here(_) | Attached::Remote => None,
                    })
                    .min(),
            })
            .min()
    }

    /// Ends the held calls whose grace ran out by `now`, as of when their
    /// side was lost.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        let mut expired: Vec<(Timestamp, SessionId, EndReason)> = self
            .sessions
            .iter()
            .filter_map(|(id, s)| match &s.state {
                SessionState::Waiting => None,
                SessionState::InCall(call) => [s.kiosk, call.agent]
                    .into_iter()
                    .filter_map(|a| match a {
                        Attached::Away { since, until, reason } if until <= now => Some((since, id.clone(), reason)),
                        _ => None,
                    })
                    .min_by_key(|(since, ..)| *since),
            })
            .collect();
        expired.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        for (since, session, reason) in expired {
            self.end_session(since, &session, reason);
        }
        self.flush(now);
    }

    pub fn handle_kiosk_message(&mut self, now: Timestamp, peer: PeerId, msg: KioskToHub) {
        if !self.kiosks.contains_key(&peer) {
            return;
        }
        match msg {
            KioskToHub::Hello { .. } => self.kiosk_error(peer, ErrorCode::OutOfPlace, "hello was already accepted"),
            KioskToHub::RequestCall { service } => self.request_call(now, peer, service),
            KioskToHub::CancelCall => self.cancel_call(now, peer),
            KioskToHub::Signal { session, signal } => self.relay(peer, Side::Kiosk, session, signal),
            KioskToHub::HangUp { session } => self.hang_up(now, peer, Side::Kiosk, session),
            KioskToHub::Rate { session, rating } => self.rate(peer, session, rating),
            KioskToHub::Heartbeat { seq, app_version, config_version, devices, rtt_ms } => {
                let report = HeartbeatReport {
                    app_version: truncate(app_version, 64),
                    config_version,
                    devices: devices.map(|mut d| {
                        for s in [&mut d.camera, &mut d.microphone, &mut d.scanner, &mut d.printer] {
                            s.detail = s.detail.take().map(|t| truncate(t, MAX_DETAIL_CHARS));
                        }
                        d
                    }),
                    rtt_ms,
                };
                let kiosk = self.kiosks.get_mut(&peer).expect("checked above");
                kiosk.heartbeat = Some(report.clone());
                let kiosk_id = kiosk.kiosk_id.clone();
                self.tell_kiosk(peer, HubToKiosk::HeartbeatAck { seq });
                self.event(HubEvent::Heartbeat { kiosk_id, at: now, report });
            }
            KioskToHub::ConfigApplied { version } => {
                let kiosk = self.kiosks.get_mut(&peer).expect("checked above");
                // The next heartbeat would say so; the fleet view should
                // not wait for it.
                if let Some(h) = &mut kiosk.heartbeat {
                    h.config_version = Some(version);
                }
                let kiosk_id = kiosk.kiosk_id.clone();
                self.event(HubEvent::ConfigApplied { kiosk_id, version, at: now });
            }
            KioskToHub::ConfigRefused { version, mut reason } => {
                reason.message = truncate(reason.message, MAX_REFUSAL_CHARS);
                let kiosk_id = self.kiosks[&peer].kiosk_id.clone();
                self.event(HubEvent::ConfigRefused { kiosk_id, version, reason, at: now });
            }
        }
        self.flush(now);
    }

    pub fn handle_agent_message(&mut self, now: Timestamp, peer: PeerId, msg: AgentToHub) {
        if !self.agents.contains_key(&peer) {
            return;
        }
        match msg {
            AgentToHub::Hello { .. } => self.agent_error(peer, ErrorCode::OutOfPlace, "hello was already accepted"),
            AgentToHub::SetAvailability { available } => self.set_availability(peer, available),
            AgentToHub::TakeNext { service } => self.take_next(now, peer, service),
            AgentToHub::Signal { session, signal } => self.relay(peer, Side::Agent, session, signal),
            AgentToHub::HangUp { session } => self.hang_up(now, peer, Side::Agent, session),
        }
        self.flush(now);
    }

    /// A connection ended, for whatever reason. A wait ends; a call is
    /// held for the resume grace and the other side is told `peer_away`.
    pub fn handle_disconnected(&mut self, now: Timestamp, peer: PeerId) {
        let until = now + self.resume_grace;
        if let Some(kiosk) = self.kiosks.remove(&peer) {
            if self.kiosk_peer.get(&kiosk.kiosk_id) == Some(&peer) {
                self.kiosk_peer.remove(&kiosk.kiosk_id);
            }
            let Some(session_id) = kiosk.session else { return self.flush(now) };
            let Some(session) = self.sessions.get_mut(&session_id) else { return self.flush(now) };
            match &session.state {
                SessionState::Waiting => self.end_session(now, &session_id, EndReason::KioskDisconnected),
                SessionState::InCall(call) => {
                    session.kiosk = Attached::Away { since: now, until, reason: EndReason::KioskDisconnected };
                    match (call.agent, call.remote.clone()) {
                        (Attached::Here(agent), _) => self.tell_agent(agent, HubToAgent::PeerAway { session: session_id }),
                        (Attached::Remote, Some(process)) => {
                            let message = BusMessage::SideAway { session: session_id, side: Side::Kiosk };
                            self.outputs.push_back(Output::Bus { to: process, message });
                        }
                        _ => {}
                    }
                }
            }
        } else if let Some(agent) = self.agents.remove(&peer) {
            if self.agent_peer.get(&agent.login) == Some(&peer) {
                self.agent_peer.remove(&agent.login);
            }
            if let Some(session_id) = agent.call
                && let Some(session) = self.sessions.get_mut(&session_id)
                && let SessionState::InCall(call) = &mut session.state
            {
                call.agent = Attached::Away { since: now, until, reason: EndReason::AgentDisconnected };
                match (session.kiosk, call.remote.clone()) {
                    (Attached::Here(kiosk), _) => self.tell_kiosk(kiosk, HubToKiosk::PeerAway { session: session_id }),
                    (Attached::Remote, Some(process)) => {
                        let message = BusMessage::SideAway { session: session_id, side: Side::Agent };
                        self.outputs.push_back(Output::Bus { to: process, message });
                    }
                    _ => {}
                }
            }
            self.dirty.extend(agent.services);
        }
        self.flush(now);
    }

    /// The hub is stopping: waits end with `hub_shutdown`; calls do not.
    /// Their records stay open with their tokens, for the next process
    /// to hold them ([`Hub::handle_restored`]).
    pub fn handle_shutdown(&mut self, now: Timestamp) {
        let mut waiting: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| matches!(s.state, SessionState::Waiting))
            .map(|(id, _)| id.clone())
            .collect();
        waiting.sort();
        for session in waiting {
            self.end_session(now, &session, EndReason::HubShutdown);
        }
        self.flush(now);
    }

    // -----------------------------------------------------------------------
    // Kiosk actions
    // -----------------------------------------------------------------------

    fn request_call(&mut self, now: Timestamp, peer: PeerId, service_id: ServiceId) {
        let Some(service) = self.catalogue.get(&service_id) else {
            let message = format!("there is no service {:?} in the catalogue", service_id.as_str());
            return self.tell_kiosk(peer, HubToKiosk::CallRefused { service: service_id, reason: RefusalReason::UnknownService, message });
        };
        if let ServiceState::Closed { next_opening } = self.catalogue.state_at(service, now) {
            let message = match next_opening {
                Some(t) => format!(
                    "{} is closed; it opens on {} ({})",
                    service.short_name,
                    self.catalogue.local_time(t),
                    self.catalogue.timezone_name()
                ),
                None => format!("{} is closed", service.short_name),
            };
            return self.tell_kiosk(peer, HubToKiosk::CallRefused {
                service: service_id,
                reason: RefusalReason::Closed { next_opening },
                message,
            });
        }
        let kiosk = &self.kiosks[&peer];
        if kiosk.session.is_some() {
            let message = "this kiosk is already waiting or in a call; cancel or hang up first".to_owned();
            return self.tell_kiosk(peer, HubToKiosk::CallRefused { service: service_id, reason: RefusalReason::Busy, message });
        }
        let (kiosk_id, site) = (kiosk.kiosk_id.clone(), kiosk.site.clone());
        // A resident whose kiosk comes back from another hub process (one
        // that died, typically) gets their place back: same visit, same
        // time queued.
        let adopted = match self.topology {
            Topology::Alone => None,
            Topology::SharedQueue { .. } | Topology::Bus { .. } => self.queues.take_other(&service_id, &kiosk_id),
        };
        let fresh = adopted.is_none();
        let (session, queued_at) = match &adopted {
            Some(entry) => (entry.session.clone(), entry.queued_at),
            None => {
                self.next_session += 1;
                (SessionId(format!("{}-{:06}", self.session_prefix, self.next_session)), now)
            }
        };
        self.sessions.insert(session.clone(), Session {
            kiosk: Attached::Here(peer),
            kiosk_id: kiosk_id.clone(),
            site: site.clone(),
            service: service_id.clone(),
            queued_at,
            state: SessionState::Waiting,
        });
        if let Some(k) = self.kiosks.get_mut(&peer) {
            k.session = Some(session.clone());
            k.rateable = None;
        }
        let position = self.queues.push(&service_id, session.clone(), queued_at);
        let estimated_wait = self.estimate(&service_id, position);
        self.queues.mark_sent(&service_id, &session, position, estimated_wait);
        self.tell_kiosk(peer, HubToKiosk::Queued { session: session.clone(), service: service_id.clone(), position, estimated_wait });
        if let Some(process) = self.topology.process().map(str::to_owned) {
            let entry = QueueEntry {
                session: session.clone(),
                service: service_id.clone(),
                kiosk_id: kiosk_id.clone(),
                site,
                queued_at,
                process: process.clone(),
            };
            match adopted {
                Some(old) => {
                    // The process it waited on lets it go (if it still runs).
                    let message = BusMessage::WaitMoved { session: session.clone(), to: process };
                    self.outputs.push_back(Output::Bus { to: old.process, message });
                    self.outputs.push_back(Output::Store(StoreOp::Adopt(entry)));
                }
                None => self.outputs.push_back(Output::Store(StoreOp::Enqueue(entry))),
            }
        }
        if fresh {
            self.event(HubEvent::Queued { session, kiosk_id, service: service_id.clone(), at: now });
        }
        self.dirty.insert(service_id);
    }

    fn cancel_call(&mut self, now: Timestamp, peer: PeerId) {
        let session = self.kiosks[&peer].session.clone();
        match session.as_ref().and_then(|s| self.sessions.get(s)).map(|s| &s.state) {
            Some(SessionState::Waiting) => {
                // Invariant: `Some` on the line above.
                self.end_session(now, &session.expect("waiting session"), EndReason::Cancelled)
            }
            Some(SessionState::InCall(_)) => {
                self.kiosk_error(peer, ErrorCode::OutOfPlace, "the call was already answered; use hang_up to end it")
            }
            None => self.kiosk_error(peer, ErrorCode::OutOfPlace, "this kiosk is not waiting for any call"),
        }
    }

    fn rate(&mut self, peer: PeerId, session: SessionId, rating: Rating) {
        let kiosk = self.kiosks.get_mut(&peer).expect("checked by caller");
        if kiosk.rateable.as_ref() == Some(&session) {
            kiosk.rateable = None;
            self.event(HubEvent::Rated { session, rating });
        } else {
            let msg = format!("session {session} is not a call of this kiosk that ended and awaits a rating");
            self.kiosk_error(peer, ErrorCode::NotYourSession, msg);
        }
    }

    // -----------------------------------------------------------------------
    // Agent actions
    // -----------------------------------------------------------------------

    fn set_availability(&mut self, peer: PeerId, available: bool) {
        let agent = self.agents.get_mut(&peer).expect("checked by caller");
        agent.available = available;
        self.dirty.extend(agent.services.iter().cloned());
        self.tell_agent(peer, HubToAgent::Availability { available });
    }

    fn take_next(&mut self, now: Timestamp, peer: PeerId, service: Option<ServiceId>) {
        let agent = &self.agents[&peer];
        if agent.call.is_some() {
            return self.agent_error(peer, ErrorCode::OutOfPlace, "finish your current call before taking the next resident");
        }
        if !agent.available {
            return self.agent_error(peer, ErrorCode::OutOfPlace, "you are away; set yourself available first");
        }
        let candidates: Vec<ServiceId> = match service {
            Some(s) if agent.services.contains(&s) => vec![s],
            Some(s) => return self.agent_error(peer, ErrorCode::Forbidden, format!("you do not serve {:?}", s.as_str())),
            None => agent.services.clone(),
        };
        if self.topology.process().is_some() {
            // Other processes take from the same line: the store decides.
            let agent = self.agents.get_mut(&peer).expect("checked above");
            if !agent.taking {
                agent.taking = true;
                self.outputs.push_back(Output::Store(StoreOp::TakeNext { agent: peer, services: candidates }));
            }
            return;
        }
        let oldest = candidates
            .iter()
            .filter_map(|s| self.queues.front(s).map(|session| (s, session)))
            .min_by_key(|(_, session)| (self.sessions[*session].queued_at, (*session).clone()))
            .map(|(s, session)| (s.clone(), session.clone()));
        let Some((service_id, session_id)) = oldest else {
            return self.tell_queue_empty(peer, candidates);
        };
        self.connect(now, peer, service_id, session_id);
    }

    fn tell_queue_empty(&mut self, peer: PeerId, candidates: Vec<ServiceId>) {
        let service = if candidates.len() == 1 { candidates.into_iter().next() } else { None };
        self.tell_agent(peer, HubToAgent::QueueEmpty { service });
    }

    /// The shared store's answer to [`StoreOp::TakeNext`] for `peer`.
    /// A resident taken out of line either becomes this agent's call or
    /// goes back in line at their place: never lost.
    pub fn handle_taken(&mut self, now: Timestamp, peer: PeerId, services: Vec<ServiceId>, entry: Option<QueueEntry>) {
        let ready = match self.agents.get_mut(&peer) {
            Some(agent) => {
                agent.taking = false;
                agent.available && agent.call.is_none()
            }
            None => false,
        };
        match entry {
            None if ready => self.tell_queue_empty(peer, services),
            None => {}
            // The agent left, went away or is in a call meanwhile.
            Some(entry) if !ready => self.outputs.push_back(Output::Store(StoreOp::Enqueue(entry))),
            Some(entry) if self.topology.process() != Some(entry.process.as_str()) => match self.topology {
                Topology::Bus { .. } => self.connect_remote(now, peer, entry),
                Topology::Alone | Topology::SharedQueue { .. } => {
                    // Calls across processes need the bus (`serve --bus`).
                    self.outputs.push_back(Output::Store(StoreOp::Enqueue(entry)));
                    self.agent_error(
                        peer,
                        ErrorCode::Internal,
                        "the next resident waits on another hub process; calls across processes are not supported yet",
                    );
                }
            },
            Some(entry) => {
                let waiting = matches!(self.sessions.get(&entry.session).map(|s| &s.state), Some(SessionState::Waiting));
                if waiting {
                    self.connect(now, peer, entry.service, entry.session);
                } else {
                    // Their wait ended here after the store took them
                    // (its `Leave` found nothing): ask for the next one.
                    if let Some(agent) = self.agents.get_mut(&peer) {
                        agent.taking = true;
                    }
                    self.outputs.push_back(Output::Store(StoreOp::TakeNext { agent: peer, services }));
                }
            }
        }
        self.flush(now);
    }

    /// Makes a resident waiting on another process the call of agent
    /// `peer`: the call lives here and there, each process holding its
    /// own side; that process tells its kiosk.
    fn connect_remote(&mut self, now: Timestamp, peer: PeerId, entry: QueueEntry) {
        let Some(process) = self.topology.process().map(str::to_owned) else { return };
        let agent_name = self.agent_display_name(peer);
        let agent = self.agents.get_mut(&peer).expect("checked by the caller");
        agent.call = Some(entry.session.clone());
        let login = agent.login.clone();
        let (token, resume) = new_token(&entry.session);
        self.sessions.insert(entry.session.clone(), Session {
            kiosk: Attached::Remote,
            kiosk_id: entry.kiosk_id.clone(),
            site: entry.site.clone(),
            service: entry.service.clone(),
            queued_at: entry.queued_at,
            state: SessionState::InCall(Box::new(Call {
                agent: Attached::Here(peer),
                agent_login: login.clone(),
                agent_name: agent_name.clone(),
                answered_at: now,
                negotiation: Negotiation::New,
                resume,
                remote: Some(entry.process.clone()),
            })),
        });
        self.tell_agent(peer, HubToAgent::CallStarted {
            session: entry.session.clone(),
            service: entry.service.clone(),
            ice_servers: self.ice_servers_for(now, login.as_str()),
            kiosk_id: entry.kiosk_id,
            site: entry.site,
            resume_token: Some(token.clone()),
        });
        self.outputs.push_back(Output::Bus {
            to: entry.process,
            message: BusMessage::Answered {
                session: entry.session.clone(),
                agent: login.clone(),
                agent_name,
                from: process,
                resume_token: token,
            },
        });
        // The taker's process logs the answer, as it would for its own kiosk.
        self.event(HubEvent::Answered { session: entry.session, agent: login, at: now, resume });
    }

    /// A message from another hub process about a call with one side here.
    pub fn handle_bus(&mut self, now: Timestamp, message: BusMessage) {
        match message {
            BusMessage::Answered { session, agent, agent_name, from, resume_token } => {
                let waiting = self.sessions.get(&session).is_some_and(|s| matches!(s.state, SessionState::Waiting));
                let kiosk = self.sessions.get(&session).and_then(|s| s.kiosk.peer());
                let (true, Some(kiosk)) = (waiting, kiosk) else {
                    // Their wait ended here meanwhile: that call is over.
                    let message = BusMessage::Ended { session, reason: EndReason::Cancelled, at: now };
                    self.outputs.push_back(Output::Bus { to: from, message });
                    return self.flush(now);
                };
                let s = self.sessions.get_mut(&session).expect("checked above");
                self.queues.remove(&s.service, &session);
                s.state = SessionState::InCall(Box::new(Call {
                    agent: Attached::Remote,
                    agent_login: agent,
                    agent_name: agent_name.clone(),
                    answered_at: now,
                    negotiation: Negotiation::New,
                    resume: token_hash(&resume_token),
                    remote: Some(from),
                }));
                let (service, kiosk_id) = (s.service.clone(), s.kiosk_id.clone());
                let ice_servers = self.ice_servers_for(now, kiosk_id.as_str());
                self.tell_kiosk(kiosk, HubToKiosk::CallAnswered {
                    session,
                    agent_name,
                    ice_servers,
                    resume_token: Some(resume_token),
                });
                self.dirty.insert(service);
            }
            BusMessage::Signal { session, signal } => {
                let Some(s) = self.sessions.get(&session) else { return };
                // The sender holds the side that is remote here.
                let from = if s.kiosk == Attached::Remote { Side::Kiosk } else { Side::Agent };
                self.relay_checked(&session, from, signal, None);
            }
            BusMessage::SideMoved { session, side, to } => self.side_moved(now, session, side, to),
            // The shell loads it from the store and hands it over as a
            // publication (`handle_config_published`).
            BusMessage::ConfigPublished { .. } => {}
            BusMessage::WaitMoved { session, .. } => {
                let waiting = self.sessions.get(&session).filter(|s| matches!(s.state, SessionState::Waiting));
                if let Some(s) = waiting {
                    let (service, kiosk) = (s.service.clone(), s.kiosk);
                    self.queues.remove(&service, &session);
                    self.sessions.remove(&session);
                    if let Attached::Here(stale) = kiosk {
                        if let Some(k) = self.kiosks.get_mut(&stale) {
                            k.session = None;
                        }
                        self.replace(now, stale, "this kiosk waits through another hub process now; this connection is closed");
                    }
                    self.dirty.insert(service);
                }
            }
            BusMessage::SideAway { session, side } => {
                let Some(s) = self.sessions.get(&session) else { return self.flush(now) };
                let SessionState::InCall(call) = &s.state else { return self.flush(now) };
                match (side, s.kiosk, call.agent) {
                    (Side::Kiosk, Attached::Remote, Attached::Here(agent)) => {
                        self.tell_agent(agent, HubToAgent::PeerAway { session })
                    }
                    (Side::Agent, Attached::Here(kiosk), Attached::Remote) => {
                        self.tell_kiosk(kiosk, HubToKiosk::PeerAway { session })
                    }
                    _ => {}
                }
            }
            BusMessage::Ended { session, reason, at } => {
                // Ended over there: no need to tell the sender back.
                if let Some(SessionState::InCall(call)) = self.sessions.get_mut(&session).map(|s| &mut s.state) {
                    call.remote = None;
                }
                self.end_session(at, &session, reason);
            }
        }
        self.flush(now);
    }

    /// `side` of `session` came back on process `to`: this process no
    /// longer holds it. A connection of that side still here is stale and
    /// closed; the call is forgotten, quietly, if this process held
    /// nothing else of it, and otherwise goes on with that side over there.
    fn side_moved(&mut self, now: Timestamp, session: SessionId, side: Side, to: String) {
        let Some(s) = self.sessions.get(&session) else { return };
        let SessionState::InCall(call) = &s.state else { return };
        let (moved, other) = match side {
            Side::Kiosk => (s.kiosk, call.agent),
            Side::Agent => (call.agent, s.kiosk),
        };
        if let Attached::Here(stale) = moved {
            match side {
                Side::Kiosk => self.kiosks.get_mut(&stale).map(|k| k.session = None),
                Side::Agent => self.agents.get_mut(&stale).map(|a| a.call = None),
            };
            self.replace(now, stale, "this call went on through another hub process; this connection is closed");
        }
        if other == Attached::Remote {
            self.sessions.remove(&session);
            return;
        }
        let s = self.sessions.get_mut(&session).expect("checked above");
        let SessionState::InCall(call) = &mut s.state else { unreachable!("checked above") };
        match side {
            Side::Kiosk => s.kiosk = Attached::Remote,
            Side::Agent => call.agent = Attached::Remote,
        }
        call.remote = Some(to);
        match (side, other) {
            (Side::Kiosk, Attached::Here(agent)) => self.tell_agent(agent, HubToAgent::PeerBack { session }),
            (Side::Agent, Attached::Here(kiosk)) => self.tell_kiosk(kiosk, HubToKiosk::PeerBack { session }),
            _ => {}
        }
    }

    /// The store's answer to [`StoreOp::Claim`] for `peer`, back with the
    /// token of `session`: the call goes on here for that side, linked to
    /// the process holding the other side, or held for the other side
    /// when its process is gone. `None`: the token names no open call of
    /// theirs, which ended as far as they are concerned.
    pub fn handle_claimed(&mut self, now: Timestamp, peer: PeerId, side: Side, session: SessionId, claimed: Option<Claimed>) {
        let present = match side {
            Side::Kiosk => self.kiosks.contains_key(&peer),
            Side::Agent => self.agents.contains_key(&peer),
        };
        let Some(c) = claimed.filter(|_| !self.sessions.contains_key(&session)) else {
            if present {
                match side {
                    Side::Kiosk => self.tell_kiosk(peer, HubToKiosk::CallEnded { session, reason: side.lost() }),
                    Side::Agent => self.tell_agent(peer, HubToAgent::CallEnded { session, reason: side.lost() }),
                }
            }
            return self.flush(now);
        };
        let me = self.topology.process().unwrap_or_default().to_owned();
        let until = now + self.resume_grace;
        let this = if present { Attached::Here(peer) } else { Attached::Away { since: now, until, reason: side.lost() } };
        let other_side = match side {
            Side::Kiosk => Side::Agent,
            Side::Agent => Side::Kiosk,
        };
        let remote = c.other.clone().filter(|p| *p != me);
        let other = match &remote {
            Some(_) => Attached::Remote,
            None => Attached::Away { since: c.other_lost_at.unwrap_or(now), until, reason: other_side.lost() },
        };
        let (kiosk, agent) = match side {
            Side::Kiosk => (this, other),
            Side::Agent => (other, this),
        };
        let call = c.call;
        self.sessions.insert(session.clone(), Session {
            kiosk,
            kiosk_id: call.kiosk_id,
            site: call.site,
            service: call.service,
            queued_at: call.queued_at,
            state: SessionState::InCall(Box::new(Call {
                agent,
                agent_login: call.agent,
                agent_name: call.agent_name,
                answered_at: call.answered_at,
                // Media was up; either side may restart ICE.
                negotiation: Negotiation::Stable,
                resume: call.resume,
                remote: remote.clone(),
            })),
        });
        for process in [remote.clone(), c.previous.filter(|p| *p != me && Some(p) != remote.as_ref())].into_iter().flatten() {
            let message = BusMessage::SideMoved { session: session.clone(), side, to: me.clone() };
            self.outputs.push_back(Output::Bus { to: process, message });
        }
        if present {
            self.tell_resumed(now, peer, side, &session);
            if other.is_away() {
                match side {
                    Side::Kiosk => self.tell_kiosk(peer, HubToKiosk::PeerAway { session }),
                    Side::Agent => self.tell_agent(peer, HubToAgent::PeerAway { session }),
                }
            }
        }
        self.flush(now);
    }

    /// The shared store's view of the other processes: who runs (see
    /// [`Hub::handle_alive`]), their available agents and who waits on
    /// them. Kiosks here hear their place in the whole line, agents here
    /// see the whole line, and wait estimates count every available agent.
    pub fn handle_shared(&mut self, now: Timestamp, view: SharedView) {
        let me = self.topology.process().unwrap_or_default().to_owned();
        let mut others: HashMap<ServiceId, Vec<QueueEntry>> = HashMap::new();
        for entry in view.waiting.into_iter().filter(|e| e.process != me) {
            others.entry(entry.service.clone()).or_default().push(entry);
        }
        self.dirty.extend(self.queues.set_others(others));
        let mut elsewhere: HashMap<ServiceId, u32> = HashMap::new();
        for (process, counts) in &view.available {
            if *process != me && view.alive.contains(process) {
                for (service, n) in counts {
                    *elsewhere.entry(service.clone()).or_default() += n;
                }
            }
        }
        if elsewhere != self.available_elsewhere {
            self.dirty.extend(elsewhere.keys().chain(self.available_elsewhere.keys()).cloned());
            self.available_elsewhere = elsewhere;
        }
        self.handle_alive(now, &view.alive);
    }

    /// Available agents here, per service: what this process adds to
    /// the others' wait estimates.
    pub fn available_here(&self) -> BTreeMap<ServiceId, u32> {
        let mut counts = BTreeMap::new();
        for agent in self.agents.values().filter(|a| a.available) {
            for service in &agent.services {
                *counts.entry(service.clone()).or_default() += 1;
            }
        }
        counts
    }

    /// Which hub processes run now (from the shared store). A side of a
    /// call held by a process no longer among them is away from now on:
    /// its client comes back elsewhere with its token, or the call ends
    /// when the grace runs out.
    pub fn handle_alive(&mut self, now: Timestamp, alive: &BTreeSet<String>) {
        let until = now + self.resume_grace;
        let mut lost: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| match &s.state {
                SessionState::InCall(call) => call.remote.as_ref().is_some_and(|p| !alive.contains(p)),
                SessionState::Waiting => false,
            })
            .map(|(id, _)| id.clone())
            .collect();
        lost.sort();
        for session in lost {
            let s = self.sessions.get_mut(&session).expect("listed above");
            let SessionState::InCall(call) = &mut s.state else { continue };
            call.remote = None;
            if s.kiosk == Attached::Remote {
                s.kiosk = Attached::Away { since: now, until, reason: EndReason::KioskDisconnected };
                if let Attached::Here(agent) = call.agent {
                    self.tell_agent(agent, HubToAgent::PeerAway { session });
                }
            } else if call.agent == Attached::Remote {
                call.agent = Attached::Away { since: now, until, reason: EndReason::AgentDisconnected };
                if let Attached::Here(kiosk) = s.kiosk {
                    self.tell_kiosk(kiosk, HubToKiosk::PeerAway { session });
                }
            }
        }
        self.flush(now);
    }

    /// Tells `peer`, back in `session`, that its call goes on.
    fn tell_resumed(&mut self, now: Timestamp, peer: PeerId, side: Side, session: &SessionId) {
        let s = &self.sessions[session];
        let SessionState::InCall(call) = &s.state else { return };
        let (agent_name, service, kiosk_id, site) =
            (call.agent_name.clone(), s.service.clone(), s.kiosk_id.clone(), s.site.clone());
        let who = match side {
            Side::Kiosk => kiosk_id.to_string(),
            Side::Agent => call.agent_login.to_string(),
        };
        let ice_servers = self.ice_servers_for(now, &who);
        match side {
            Side::Kiosk => {
                if let Some(k) = self.kiosks.get_mut(&peer) {
                    k.session = Some(session.clone());
                }
                self.tell_kiosk(peer, HubToKiosk::CallResumed { session: session.clone(), agent_name, ice_servers });
            }
            Side::Agent => {
                if let Some(a) = self.agents.get_mut(&peer) {
                    a.call = Some(session.clone());
                }
                self.tell_agent(peer, HubToAgent::CallResumed {
                    session: session.clone(),
                    service,
                    kiosk_id,
                    site,
                    ice_servers,
                });
            }
        }
    }

    /// Makes the waiting `session_id` the call of agent `peer`.
    fn connect(&mut self, now: Timestamp, peer: PeerId, service_id: ServiceId, session_id: SessionId) {
        self.queues.remove(&service_id, &session_id);
        let agent_name = self.agent_display_name(peer);
        let agent = self.agents.get_mut(&peer).expect("checked above");
        agent.call = Some(session_id.clone());
        let login = agent.login.clone();
        // One token for both sides: each proves itself by its connection's
        // identity as well (kiosk id, agent login).
        let (token, resume) = new_token(&session_id);
        let session = self.sessions.get_mut(&session_id).expect("queued sessions exist");
        session.state = SessionState::InCall(Box::new(Call {
            agent: Attached::Here(peer),
            agent_login: login.clone(),
            agent_name: agent_name.clone(),
            answered_at: now,
            negotiation: Negotiation::New,
            resume,
            remote: None,
        }));
        let (kiosk, kiosk_id, site) = (session.kiosk, session.kiosk_id.clone(), session.site.clone());
        if let Some(kiosk) = kiosk.peer() {
            let ice_servers = self.ice_servers_for(now, kiosk_id.as_str());
            self.tell_kiosk(kiosk, HubToKiosk::CallAnswered {
                session: session_id.clone(),
                agent_name,
                ice_servers,
                resume_token: Some(token.clone()),
            });
        }
        self.tell_agent(peer, HubToAgent::CallStarted {
            session: session_id.clone(),
            service: service_id.clone(),
            ice_servers: self.ice_servers_for(now, login.as_str()),
            kiosk_id,
            site,
            resume_token: Some(token),
        });
        self.event(HubEvent::Answered { session: session_id, agent: login, at: now, resume });
        self.dirty.insert(service_id);
    }

    /// The ICE servers a peer gets with a call: the static ones, and
    /// fresh TURN credentials of its own when a shared secret is set.
    fn ice_servers_for(&self, now: Timestamp, who: &str) -> Vec<IceServer> {
        let mut servers = self.ice_servers.clone();
        servers.extend(self.turn.as_ref().map(|t| t.credentials(now, who)));
        servers
    }

    /// What the resident sees of the agent: the display name the admin set
    /// (a first name and the service, typically), never the login.
    fn agent_display_name(&self, peer: PeerId) -> String {
        self.agents[&peer].display_name.clone()
    }

    // -----------------------------------------------------------------------
    // Both sides
    // -----------------------------------------------------------------------

    /// Relays negotiation between the two peers of the sender's current call,
    /// and only them, in an order that makes sense.
    fn relay(&mut self, peer: PeerId, from: Side, session_id: SessionId, signal: Signal) {
        let current = match from {
            Side::Kiosk => self.kiosks[&peer].session.clone(),
            Side::Agent => self.agents[&peer].call.clone(),
        };
        if current.as_ref() != Some(&session_id) {
            let msg = match current {
                Some(c) => format!("{} for session {session_id}, but your current call is {c}", signal.kind()),
                None => format!("{} for session {session_id}, but you are not in a call", signal.kind()),
            };
            return match from {
                Side::Kiosk => self.kiosk_error(peer, ErrorCode::NotYourSession, msg),
                Side::Agent => self.agent_error(peer, ErrorCode::NotYourSession, msg),
            };
        }
        self.relay_checked(&session_id, from, signal, Some(peer));
    }

    /// Passes a signal from side `from` of a call to its other side, here
    /// or on another process, if it comes in the negotiation's order.
    /// `origin` is the sender's connection when it is here, to tell it
    /// what was wrong; a signal from another process was checked there.
    fn relay_checked(&mut self, session_id: &SessionId, from: Side, signal: Signal, origin: Option<PeerId>) {
        let error = |hub: &mut Hub, code, message: String| match (origin, from) {
            (Some(p), Side::Kiosk) => hub.kiosk_error(p, code, message),
            (Some(p), Side::Agent) => hub.agent_error(p, code, message),
            (None, _) => tracing::warn!(session = %crate::shown::shown(session_id.as_str()), %message, "signal from another hub process dropped"),
        };
        let Some(session) = self.sessions.get_mut(session_id) else { return };
        let kiosk = session.kiosk;
        let SessionState::InCall(call) = &mut session.state else {
            let msg = format!("{} before an agent answered", signal.kind());
            return error(self, ErrorCode::OutOfPlace, msg);
        };
        let to = match from {
            Side::Kiosk => call.agent,
            Side::Agent => kiosk,
        };
        if to.is_away() {
            // The other side's connection is gone: nothing would carry the
            // signal, and it renegotiates when it is back (an ICE restart,
            // or `restart` and a fresh offer after a reload).
            tracing::debug!(session = %crate::shown::shown(session_id.as_str()), kind = signal.kind(), "signal dropped: the other side is away");
            return;
        }
        let remote = call.remote.clone();
        let negotiation = &mut call.negotiation;
        let next = match (&signal, *negotiation) {
            (Signal::Offer { .. }, Negotiation::HaveOffer(side)) if side != from => Err("offer while the other side's offer awaits an answer"),
            (Signal::Offer { .. }, _) => Ok(Negotiation::HaveOffer(from)),
            (Signal::Answer { .. }, Negotiation::HaveOffer(side)) if side != from => Ok(Negotiation::Stable),
            (Signal::Answer { .. }, _) => Err("answer without a pending offer from the other side"),
            (Signal::Candidate { .. } | Signal::EndOfCandidates, Negotiation::New) => Err("candidate before any offer"),
            (Signal::Candidate { .. } | Signal::EndOfCandidates, n) => Ok(n),
            // A side lost its peer connection: a fresh offer comes next.
            (Signal::Restart, _) => Ok(Negotiation::New),
        };
        let session = session_id.clone();
        match next {
            Err(why) => error(self, ErrorCode::OutOfPlace, why.to_owned()),
            Ok(n) => {
                *negotiation = n;
                match (to, from, remote) {
                    (Attached::Here(to), Side::Kiosk, _) => self.tell_agent(to, HubToAgent::Signal { session, signal }),
                    (Attached::Here(to), Side::Agent, _) => self.tell_kiosk(to, HubToKiosk::Signal { session, signal }),
                    (Attached::Remote, _, Some(process)) => {
                        self.outputs.push_back(Output::Bus { to: process, message: BusMessage::Signal { session, signal } })
                    }
                    _ => {}
                }
            }
        }
    }

    fn hang_up(&mut self, now: Timestamp, peer: PeerId, from: Side, session_id: SessionId) {
        let current = match from {
            Side::Kiosk => self.kiosks[&peer].session.clone(),
            Side::Agent => self.agents[&peer].call.clone(),
        };
        let in_call = current.as_ref() == Some(&session_id)
            && matches!(self.sessions.get(&session_id).map(|s| &s.state), Some(SessionState::InCall(_)));
        if !in_call {
            let message = format!("hang_up for session {session_id}, which is not your call in progress");
            return match from {
                Side::Kiosk => self.kiosk_error(peer, ErrorCode::NotYourSession, message),
                Side::Agent => self.agent_error(peer, ErrorCode::NotYourSession, message),
            };
        }
        let reason = match from {
            Side::Kiosk => EndReason::KioskHungUp,
            Side::Agent => EndReason::AgentHungUp,
        };
        self.end_session(now, &session_id, reason);
    }

    /// Ends a visit, waiting or in a call, as of `at`: the sides present
    /// are told, the log gets its end, and the queue moves. A side that is
    /// away learns it when it comes back with its token.
    fn end_session(&mut self, at: Timestamp, session_id: &SessionId, reason: EndReason) {
        let Some(session) = self.sessions.remove(session_id) else { return };
        let mut ended = Ended { reason, kiosk_id: session.kiosk_id.clone(), agent: None, resume: None };
        match session.state {
            SessionState::Waiting => {
                self.queues.remove(&session.service, session_id);
                if self.topology.process().is_some() {
                    self.outputs.push_back(Output::Store(StoreOp::Leave(session_id.clone())));
                }
            }
            SessionState::InCall(call) => {
                if let Some(agent) = call.agent.peer()
                    && let Some(a) = self.agents.get_mut(&agent)
                {
                    a.call = None;
                    self.tell_agent(agent, HubToAgent::CallEnded { session: session_id.clone(), reason });
                }
                let seconds = (at - call.answered_at).get_seconds() as f64;
                if seconds > 0.0 {
                    let avg = self.call_seconds.entry(session.service.clone()).or_insert(seconds);
                    *avg += DURATION_SMOOTHING * (seconds - *avg);
                }
                if let Some(process) = call.remote {
                    let message = BusMessage::Ended { session: session_id.clone(), reason, at };
                    self.outputs.push_back(Output::Bus { to: process, message });
                }
                ended.agent = Some(call.agent_login);
                ended.resume = Some(call.resume);
            }
        }
        if let Some(kiosk) = session.kiosk.peer()
            && let Some(k) = self.kiosks.get_mut(&kiosk)
        {
            k.session = None;
            // Only a visit that was answered can be rated.
            k.rateable = ended.agent.is_some().then(|| session_id.clone());
            self.tell_kiosk(kiosk, HubToKiosk::CallEnded { session: session_id.clone(), reason });
        }
        self.remember_ended(session_id.clone(), ended);
        self.event(HubEvent::Ended { session: session_id.clone(), reason, at });
        self.dirty.insert(session.service);
    }

    fn remember_ended(&mut self, session: SessionId, ended: Ended) {
        if self.ended_order.len() >= ENDED_MEMORY
            && let Some(oldest) = self.ended_order.pop_front()
        {
            self.ended.remove(&oldest);
        }
        self.ended_order.push_back(session.clone());
        self.ended.insert(session, ended);
    }

    /// Closes an older connection that a newer one of the same identity
    /// replaces.
    fn replace(&mut self, now: Timestamp, old: PeerId, message: &str) {
        let body = ErrorBody::new(ErrorCode::Replaced, message);
        if self.kiosks.contains_key(&old) {
            self.tell_kiosk(old, HubToKiosk::Error(body));
        } else {
            self.tell_agent(old, HubToAgent::Error(body));
        }
        self.outputs.push_back(Output::Close(old));
        self.handle_disconnected(now, old);
    }

    // -----------------------------------------------------------------------
    // Telling people
    // -----------------------------------------------------------------------

    /// Wait estimate for a position: the queue shared among the available
    /// agents of the service, times the smoothed call duration. Unknown when
    /// no agent of the service is available.
    fn estimate(&self, service: &ServiceId, position: u32) -> Option<visio_protocol::WaitEstimate> {
        let here = self.agents.values().filter(|a| a.available && a.services.contains(service)).count() as u32;
        let agents = here + self.available_elsewhere.get(service).copied().unwrap_or(0);
        if agents == 0 {
            return None;
        }
        let per_call = self.call_seconds.get(service).copied().unwrap_or(900.0);
        let rounds = position.div_ceil(agents);
        Some(visio_protocol::WaitEstimate { seconds: (f64::from(rounds) * per_call).round() as u32 })
    }

    /// Tells the kiosks of changed queues their new place, and the agents
    /// serving those services the new queues.
    fn flush(&mut self, now: Timestamp) {
        let dirty = std::mem::take(&mut self.dirty);
        if dirty.is_empty() {
            return;
        }
        for service in &dirty {
            for (position, session) in self.queues.waiting(service) {
                let estimate = self.estimate(service, position);
                if self.queues.mark_sent(service, &session, position, estimate)
                    && let Some(kiosk) = self.sessions[&session].kiosk.peer()
                {
                    self.tell_kiosk(kiosk, HubToKiosk::QueueUpdate { session, position, estimated_wait: estimate });
                }
            }
        }
        let mut agents: Vec<PeerId> = self
            .agents
            .iter()
            .filter(|(_, a)| a.services.iter().any(|s| dirty.contains(s)))
            .map(|(p, _)| *p)
            .collect();
        agents.sort();
        for peer in agents {
            let queues = self.queues_for(peer, now);
            self.tell_agent(peer, queues);
        }
    }

    fn queues_for(&self, peer: PeerId, now: Timestamp) -> HubToAgent {
        let queues = self.agents[&peer]
            .services
            .iter()
            .map(|service| visio_protocol::QueueView {
                service: service.clone(),
                waiting: self
                    .queues
                    .line(service)
                    .into_iter()
                    .map(|waiter| match waiter {
                        queue::Waiter::Here(id) => {
                            let s = &self.sessions[id];
                            visio_protocol::WaitingResident {
                                session: id.clone(),
                                kiosk_id: s.kiosk_id.clone(),
                                site: s.site.clone(),
                                queued_at: s.queued_at,
                            }
                        }
                        queue::Waiter::Other(e) => visio_protocol::WaitingResident {
                            session: e.session.clone(),
                            kiosk_id: e.kiosk_id.clone(),
                            site: e.site.clone(),
                            queued_at: e.queued_at,
                        },
                    })
                    .collect(),
            })
            .collect();
        HubToAgent::Queues { now, queues }
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
        self.outputs.push_back(Output::Event(event));
    }
}

/// At most `max` characters, cut on a character boundary, with "…" when cut.
fn truncate(mut text: String, max: usize) -> String {
    if let Some((i, _)) = text.char_indices().nth(max) {
        text.truncate(i);
        text.push('…');
    }
    text
}
