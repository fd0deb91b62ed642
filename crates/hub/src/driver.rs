//! The one task that owns the hub core. Connection handlers send it inputs
//! over a channel; it feeds them to the core and carries out the outputs:
//! messages to peers' writer queues, closes, and events for the session log
//! and the metrics.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use visio_protocol::{AgentToHub, ErrorBody, ErrorCode, KioskId, KioskToHub, ResumeToken, ServiceId, SessionId, encode};

use crate::bus::{Bus, Listener};
use crate::core::{
    BusMessage, Claimed, Hub, Output, PeerId, Published, QueueEntry, SharedView, Side, Snapshot, StoreOp,
};
use crate::metrics::Metrics;
use crate::store::postgres::PgStore;
use crate::store::{AgentRecord, Backend, KioskRecord};

pub mod appointments;
pub mod revoke;
mod session_log;
mod today;

use session_log::SessionLog;
use today::Today;

/// How many messages may wait for a slow peer before it is disconnected as
/// too slow: generous for a burst of queue updates, small enough that one
/// stuck connection cannot grow the hub's memory.
pub const PEER_QUEUE: usize = 256;

/// How often the driver stamps the store with "still running": after a
/// hard kill, the last stamp stands for when the hub stopped.
pub const ALIVE_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// WebSocket close codes the hub uses.
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// The hub is restarting: calls are held, reconnect with the token.
pub const CLOSE_SERVICE_RESTART: u16 = 1012;

pub use crate::link::{Closing, Outgoing, PeerLink};

/// The WebSocket close code for a policy violation: replaced, too slow,
/// revoked.
pub const CLOSE_POLICY: u16 = 1008;

#[derive(Debug)]
pub enum Input {
    KioskConnected { peer: PeerId, kiosk: KioskRecord, protocol: u32, resume: Option<ResumeToken>, link: PeerLink },
    AgentConnected { peer: PeerId, agent: AgentRecord, resume: Option<ResumeToken>, link: PeerLink },
    /// A host's page (console cookie, role host): `sites` empty is all.
    HostConnected { peer: PeerId, login: String, display_name: String, sites: Vec<String>, link: PeerLink },
    Kiosk(PeerId, KioskToHub),
    Agent(PeerId, AgentToHub),
    Host(PeerId, visio_protocol::HostToHub),
    /// A supervisor's page (console cookie, role supervisor or admin).
    SupervisorConnected { peer: PeerId, login: String, display_name: String, link: PeerLink },
    Supervisor(PeerId, visio_protocol::SupervisorToHub),
    /// A guest's page with the token of its hello (checked by the core).
    GuestConnected { peer: PeerId, token: visio_protocol::GuestToken, link: PeerLink },
    Guest(PeerId, visio_protocol::GuestToHub),
    /// Today's figures, read from the session log.
    Today(Box<visio_protocol::DayFigures>),
    /// The appointments around now, read from the store.
    Appointments(Vec<crate::core::appointments::Appointment>),
    /// An appointment was booked or cancelled here: every process reads
    /// them again (through the bus when there is one).
    AppointmentsChanged,
    /// A kiosk's appointments, read for its free callback slots.
    CallbackSlots { peer: PeerId, service: ServiceId, booked: Result<Vec<crate::core::appointments::Appointment>, String> },
    /// A kiosk's callback, booked or refused (why, in English).
    CallbackBooked { peer: PeerId, service: ServiceId, booked: Result<crate::core::appointments::Appointment, String> },
    Disconnected(PeerId),
    /// Credentials revoked: close the connections opened with them.
    Revoked(Vec<crate::store::revocation::Revocation>),
    /// The shared store's answer to a take-next.
    Taken { agent: PeerId, services: Vec<ServiceId>, entry: Option<QueueEntry> },
    /// The shared store's answer to a claim.
    Claimed { peer: PeerId, side: Side, session: SessionId, claimed: Option<Claimed> },
    /// What the shared store says of the other hub processes.
    Shared(SharedView),
    /// Available agents here, per service.
    AvailableHere(oneshot::Sender<BTreeMap<ServiceId, u32>>),
    /// Another hub process says something about a call with a side here.
    Bus(BusMessage),
    Snapshot(oneshot::Sender<Snapshot>),
    /// The kiosks connected now.
    Online(oneshot::Sender<Vec<KioskId>>),
    /// A configuration was stored as published: adopt it and tell the
    /// kiosks. The reply is how many were told.
    ConfigPublished(Box<Published>, oneshot::Sender<usize>),
    /// Ends every wait (calls stay open for the next process), closes
    /// every connection, records the stop time, flushes the session log.
    Shutdown(oneshot::Sender<()>),
}

impl From<BusMessage> for Input {
    fn from(message: BusMessage) -> Input {
        Input::Bus(message)
    }
}

/// How connection handlers reach the driver. Cheap to clone.
#[derive(Clone, Debug)]
pub struct DriverHandle {
    tx: mpsc::Sender<Input>,
    next_peer: Arc<AtomicU64>,
}

impl DriverHandle {
    pub fn new_peer_id(&self) -> PeerId {
        PeerId(self.next_peer.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// Sends an input; false if the driver has stopped (hub shutting down).
    pub async fn send(&self, input: Input) -> bool {
        self.tx.send(input).await.is_ok()
    }

    pub async fn snapshot(&self) -> Option<Snapshot> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Input::Snapshot(tx)).await.ok()?;
        rx.await.ok()
    }

    pub async fn online(&self) -> Option<Vec<KioskId>> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Input::Online(tx)).await.ok()?;
        rx.await.ok()
    }

    /// Hands a stored configuration to the core; `None` if the hub is
    /// stopping.
    pub async fn config_published(&self, published: Published) -> Option<usize> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Input::ConfigPublished(Box::new(published), tx)).await.ok()?;
        rx.await.ok()
    }

    pub async fn available_here(&self) -> Option<BTreeMap<ServiceId, u32>> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Input::AvailableHere(tx)).await.ok()?;
        rx.await.ok()
    }

    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Input::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// Starts the driver task.
pub fn spawn(
    hub: Hub,
    store: Backend,
    metrics: Arc<Metrics>,
    bus: Option<(Bus, Listener)>,
) -> (DriverHandle, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(4096);
    let handle = DriverHandle { tx: tx.clone(), next_peer: Arc::new(AtomicU64::new(0)) };
    // The shared queue's work, when there is one: in order, answers fed
    // back as inputs.
    let queue = match &store {
        Backend::Postgres(pg) => Some(SharedQueue::spawn(pg.clone(), tx.clone())),
        Backend::Sqlite(_) => None,
    };
    let bus = bus.map(|(bus, listener)| {
        listener.spawn(tx.clone());
        bus
    });
    let log = SessionLog::spawn(store.clone());
    let process = hub.topology().process().map(str::to_owned);
    let on_bus = bus.clone().zip(process);
    let today = Today::spawn(store.clone(), log.clone(), on_bus, tx.clone());
    let appointments = appointments::Loader::spawn(store.clone(), tx.clone());
    let driver = Driver {
        hub,
        peers: HashMap::new(),
        log,
        today,
        appointments,
        store,
        inputs: tx,
        queue,
        bus,
        metrics,
    };
    let task = tokio::spawn(driver.run(rx));
    (handle, task)
}

struct Driver {
    hub: Hub,
    peers: HashMap<PeerId, PeerLink>,
    log: SessionLog,
    today: Today,
    appointments: appointments::Loader,
    store: Backend,
    /// Its own inputs, for work it finishes later (a configuration loaded).
    inputs: mpsc::Sender<Input>,
    queue: Option<SharedQueue>,
    bus: Option<Bus>,
    metrics: Arc<Metrics>,
}

impl Driver {
    async fn run(mut self, mut rx: mpsc::Receiver<Input>) {
        let mut alive = tokio::time::interval(ALIVE_EVERY);
        loop {
            // The core's only timer: the end of the earliest resume grace.
            let deadline = self.hub.poll_timeout().map(|at| {
                // Negative (already past) becomes zero.
                let wait = std::time::Duration::try_from(at - Timestamp::now()).unwrap_or_default();
                tokio::time::Instant::now() + wait
            });
            let timer = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            let input = tokio::select! {
                input = rx.recv() => match input {
                    Some(input) => input,
                    None => return,
                },
                _ = timer => {
                    let now = Timestamp::now();
                    self.hub.handle_timeout(now);
                    self.carry_out(now).await;
                    continue;
                }
                _ = alive.tick() => {
                    self.log.alive(Timestamp::now()).await;
                    continue;
                }
            };
            let now = Timestamp::now();
            match input {
                Input::KioskConnected { peer, kiosk, protocol, resume, link } => {
                    self.peers.insert(peer, link);
                    self.hub.handle_kiosk_connected(now, peer, kiosk.id, kiosk.site, protocol, resume);
                }
                Input::AgentConnected { peer, agent, resume, link } => {
                    self.peers.insert(peer, link);
                    self.hub.handle_agent_connected(now, peer, agent.login, agent.display_name, agent.services, resume);
                }
                Input::HostConnected { peer, login, display_name, sites, link } => {
                    self.peers.insert(peer, link);
                    self.hub.handle_host_connected(now, peer, login, display_name, sites);
                }
                Input::Host(peer, msg) => self.hub.handle_host_message(now, peer, msg),
                Input::SupervisorConnected { peer, login, display_name, link } => {
                    self.peers.insert(peer, link);
                    self.hub.handle_supervisor_connected(now, peer, login, display_name);
                }
                Input::Supervisor(peer, msg) => self.hub.handle_supervisor_message(now, peer, msg),
                Input::GuestConnected { peer, token, link } => {
                    self.peers.insert(peer, link);
                    self.hub.handle_guest_connected(now, peer, token);
                }
                Input::Guest(peer, msg) => self.hub.handle_guest_message(now, peer, msg),
                Input::Today(today) => self.hub.handle_today(*today),
                Input::Appointments(list) => self.hub.handle_appointments(now, list),
                Input::AppointmentsChanged => match &self.bus {
                    // Every process hears it, this one included.
                    Some(bus) => bus.broadcast(&BusMessage::AppointmentsChanged).await,
                    None => self.appointments.reload(),
                },
                Input::Bus(BusMessage::AppointmentsChanged) => self.appointments.reload(),
                Input::CallbackSlots { peer, service, booked } => self.hub.handle_callback_slots(now, peer, service, booked),
                Input::CallbackBooked { peer, service, booked } => self.hub.handle_callback_booked(peer, service, booked),
                Input::Kiosk(peer, msg) => self.hub.handle_kiosk_message(now, peer, msg),
                Input::Agent(peer, msg) => self.hub.handle_agent_message(now, peer, msg),
                Input::Disconnected(peer) => {
                    self.peers.remove(&peer);
                    self.hub.handle_disconnected(now, peer);
                }
                Input::Revoked(list) => revoke::apply(&mut self.hub, &mut self.peers, now, list),
                Input::Taken { agent, services, entry } => self.hub.handle_taken(now, agent, services, entry),
                Input::Claimed { peer, side, session, claimed } => self.hub.handle_claimed(now, peer, side, session, claimed),
                Input::Shared(view) => self.hub.handle_shared(now, view),
                Input::AvailableHere(reply) => {
                    let _ = reply.send(self.hub.available_here());
                }
                Input::Bus(BusMessage::ConfigPublished { version }) => {
                    if self.hub.published_version().is_none_or(|v| v < version) {
                        self.load_published(version);
                    }
                }
                Input::Bus(message) => self.hub.handle_bus(now, message),
                Input::Snapshot(reply) => {
                    let _ = reply.send(self.hub.snapshot());
                }
                Input::Online(reply) => {
                    let _ = reply.send(self.hub.online_kiosks());
                }
                Input::ConfigPublished(published, reply) => {
                    let version = published.version;
                    let newer = self.hub.published_version().is_none_or(|v| v < version);
                    let told = if newer { self.hub.handle_config_published(now, *published) } else { 0 };
                    let _ = reply.send(told);
                    // The other processes' kiosks hear of it too.
                    if let (true, Some(bus)) = (newer, &self.bus) {
                        bus.broadcast(&BusMessage::ConfigPublished { version }).await;
                    }
                }
                Input::Shutdown(reply) => {
                    self.hub.handle_shutdown(now);
                    self.carry_out(now).await;
                    for (_, link) in self.peers.drain() {
                        let reason = "the hub is restarting; calls are held, reconnect with your resume token";
                        link.close(Closing::new(CLOSE_SERVICE_RESTART, reason));
                    }
                    self.log.stopped(now).await;
                    self.log.flush().await;
                    let _ = reply.send(());
                    return;
                }
            }
            self.carry_out(now).await;
        }
    }

    /// Loads configuration `version`, published through another process,
    /// and hands it to the core as this process's own publication.
    fn load_published(&self, version: u64) {
        let (store, inputs) = (self.store.clone(), self.inputs.clone());
        tokio::spawn(async move {
            let stored = match store.published_config().await {
                Ok(Some(stored)) if stored.meta.version >= version => stored,
                Ok(_) => return tracing::warn!(version, "a published configuration the store does not have"),
                Err(e) => return tracing::error!(error = %e, version, "cannot load a published configuration"),
            };
            match crate::published::published_from(&stored) {
                Ok(published) => {
                    let (reply, _) = oneshot::channel();
                    let _ = inputs.send(Input::ConfigPublished(Box::new(published), reply)).await;
                }
                Err(e) => tracing::error!(error = %e, version, "the stored configuration does not parse; not serving it"),
            }
        });
    }

    async fn carry_out(&mut self, now: Timestamp) {
        loop {
            let mut too_slow = Vec::new();
            while let Some(output) = self.hub.poll_output() {
                match output {
                    Output::ToKiosk(peer, msg) => self.deliver(peer, encode(&msg), &mut too_slow),
                    Output::ToAgent(peer, msg) => self.deliver(peer, encode(&msg), &mut too_slow),
                    Output::ToHost(peer, msg) => self.deliver(peer, encode(&msg), &mut too_slow),
                    Output::ToSupervisor(peer, msg) => self.deliver(peer, encode(&msg), &mut too_slow),
                    Output::ToGuest(peer, msg) => self.deliver(peer, encode(&msg), &mut too_slow),
                    Output::RefreshToday { logged, timezone } => {
                        self.today.refresh(logged, self.hub.supervised_here(), timezone);
                    }
                    Output::Close(peer) => {
                        if let Some(link) = self.peers.remove(&peer) {
                            link.close(Closing::new(CLOSE_GOING_AWAY, "replaced by a newer connection"));
                        }
                    }
                    Output::Event(event) => {
                        self.metrics.observe(&event);
                        self.log.record(event).await;
                    }
                    Output::Store(op) => match &self.queue {
                        Some(queue) => queue.send(op).await,
                        // The core shares its queue only when the shell set
                        // one up (server::run, PostgreSQL).
                        None => tracing::error!(?op, "a shared-queue operation without a shared queue"),
                    },
                    Output::ReadCallbackSlots { peer, kiosk_id, service, from } => {
                        appointments::read_callback_slots(self.store.clone(), self.inputs.clone(), peer, kiosk_id, service, from);
                    }
                    Output::BookCallback { peer, slot } => appointments::book_callback(self.store.clone(), self.inputs.clone(), peer, slot),
                    Output::Bus { to, message } => match &self.bus {
                        Some(bus) => bus.send(&to, &message).await,
                        None => tracing::error!(?message, "a bus message without a bus"),
                    },
                }
            }
            if too_slow.is_empty() {
                return;
            }
            for peer in too_slow {
                tracing::warn!(?peer, limit = "peer_queue", "disconnecting a peer that does not read its messages");
                self.metrics.refused(crate::metrics::Limit::PeerQueue);
                self.hub.handle_disconnected(now, peer);
            }
        }
    }

    fn deliver(&mut self, peer: PeerId, text: String, too_slow: &mut Vec<PeerId>) {
        let Some(link) = self.peers.get(&peer) else { return };
        match link.queue.try_send(Outgoing::Text(text)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                // The writer is stuck behind a full socket: close at once,
                // dropping what is queued, with a last word if it gets out.
                let closing = Closing::new(CLOSE_POLICY, "too slow to read its messages")
                    .with_error(ErrorBody::new(ErrorCode::TooSlow, format!(
                        "more than {PEER_QUEUE} messages were waiting for this connection; the hub closed it"
                    )))
                    .dropping_queue();
                link.close(closing);
                self.peers.remove(&peer);
                too_slow.push(peer);
            }
            // The connection is already gone; its Disconnected is on the way.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// How often a process on a shared database tells the others it runs and
/// how many agents are available here, and reads what they say and the
/// shared queue: a call's side on a process that died is reported away,
/// and kiosks' places and estimates follow the whole line, within this.
pub const SHARED_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Keeps the driver in step with the hub processes sharing `store`: every
/// [`SHARED_EVERY`], [`Input::Shared`]; every [`ALIVE_EVERY`], sweeps
/// what processes dead for longer than `grace` left unclaimed. Ends with
/// the driver.
pub fn watch_processes(store: PgStore, driver: DriverHandle, grace: jiff::SignedDuration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SHARED_EVERY);
        let mut since_sweep = std::time::Duration::ZERO;
        loop {
            tick.tick().await;
            let Some(available) = driver.available_here().await else { return };
            match store.shared_view(Timestamp::now(), &available).await {
                Ok(view) => {
                    if !driver.send(Input::Shared(view)).await {
                        return;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot read what the other hub processes say"),
            }
            since_sweep += SHARED_EVERY;
            if since_sweep >= ALIVE_EVERY {
                since_sweep = std::time::Duration::ZERO;
                match store.sweep_dead(Timestamp::now(), grace).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(ended = n, "ended what stopped hub processes left unclaimed"),
                    Err(e) => tracing::warn!(error = %e, "cannot sweep stopped hub processes"),
                }
            }
        }
    });
}

/// Carries out the core's shared-queue operations on PostgreSQL, one at a
/// time and in order (a resident's `Enqueue` lands before any later
/// take-next of this process), and feeds take-next answers back to the
/// driver as inputs.
struct SharedQueue {
    tx: mpsc::Sender<StoreOp>,
}

impl SharedQueue {
    fn spawn(store: PgStore, driver: mpsc::Sender<Input>) -> SharedQueue {
        let (tx, mut rx) = mpsc::channel::<StoreOp>(4096);
        tokio::spawn(async move {
            while let Some(op) = rx.recv().await {
                match op {
                    StoreOp::Enqueue(entry) | StoreOp::Adopt(entry) => {
                        if let Err(e) = store.enqueue(&entry).await {
                            tracing::error!(error = %e, session = %entry.session, "could not put a resident in the shared queue");
                        }
                    }
                    StoreOp::Leave(session) => {
                        if let Err(e) = store.leave_queue(&session).await {
                            tracing::error!(error = %e, %session, "could not take a resident out of the shared queue");
                        }
                    }
                    StoreOp::Claim { peer, side, session, identity, resume } => {
                        let claimed = store.claim(&session, side, &identity, &resume).await.unwrap_or_else(|e| {
                            tracing::error!(error = %e, %session, "could not claim a call in the shared store");
                            None
                        });
                        if driver.send(Input::Claimed { peer, side, session, claimed }).await.is_err() {
                            tracing::warn!("the hub stopped with a claim answer in flight");
                        }
                    }
                    StoreOp::Hold { session, side } => {
                        if let Err(e) = store.hold_side(&session, side).await {
                            tracing::error!(error = %e, %session, "could not record which process holds a call");
                        }
                    }
                    StoreOp::TakeNext { agent, at, holding, services } => {
                        let entry = store.take_next(&services, &holding, at).await.unwrap_or_else(|e| {
                            tracing::error!(error = %e, "take-next failed on the shared queue");
                            None
                        });
                        // The core must hear the answer: a taken resident is
                        // either connected or put back in line by it.
                        if driver.send(Input::Taken { agent, services, entry }).await.is_err() {
                            tracing::warn!("the hub stopped with a take-next answer in flight");
                        }
                    }
                }
            }
        });
        SharedQueue { tx }
    }

    async fn send(&self, op: StoreOp) {
        let _ = self.tx.send(op).await;
    }
}
