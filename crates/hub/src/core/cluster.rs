//! Several hub processes: the queue they share in the store (PostgreSQL)
//! and the bus (NATS) between them. The store's answers come back here
//! ([`Hub::handle_taken`], [`Hub::handle_claimed`], [`Hub::handle_shared`],
//! [`Hub::handle_alive`]), and so do the other processes' messages
//! ([`Hub::handle_bus`]): a call may join a kiosk on one process and an
//! agent on another, each process holding its own side.

use super::*;

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
    /// The service an agent handed this resident over from (`queued_at`
    /// is then the transfer's time): first in line, in transfer order.
    pub transferred_from: Option<ServiceId>,
    /// The appointment the resident came for (`appointments`): they count
    /// as queued earlier, and wait for the booked agent a while.
    pub appointment: Option<super::appointments::Precedence>,
}

impl QueueEntry {
    /// The order of the shared line: transferred residents first, then
    /// by the time each counts as queued (`appointments::line_key`).
    pub fn line_key(&self) -> (bool, Timestamp, &SessionId) {
        let (walk_in, at) = super::appointments::line_key(self.transferred_from.is_some(), self.queued_at, self.appointment.is_some());
        (walk_in, at, &self.session)
    }
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
    /// The agent of the call (on the sender) hands the resident over to
    /// `service`'s line: the receiver, holding the kiosk, carries the
    /// transfer out and answers with `Ended` (`transferred`), or refuses.
    Transfer { session: SessionId, service: ServiceId },
    /// The receiver's agent asked for a transfer the kiosk cannot take
    /// (`message` says why): the call goes on.
    TransferRefused { session: SessionId, message: String },
    /// A kiosk's entry on the hosts' board changed on its process (sent to
    /// every process): the newest `updated` wins.
    Desk { kiosk: visio_protocol::DeskKiosk, from: String },
    /// A host on the sender acknowledged an alert of a kiosk (sent to
    /// every process; the one owning the kiosk carries it out).
    DeskAcknowledge { kiosk_id: KioskId, alert: visio_protocol::AlertKind, by: String },
    /// A host connected to the sender: every process sends its kiosks'
    /// entries again.
    DeskRollCall,
    /// An agent signed in on the sender changed state (`agent`), or
    /// signed out (none); sent to every process, for their supervisors.
    SupervisorAgent { login: AgentLogin, agent: Option<visio_protocol::BoardAgent>, from: String },
    /// A supervisor connected to the sender: every process sends its
    /// agents' entries again.
    SupervisorRollCall,
    /// Process `from` wrote a visit's event to the session log: today's
    /// figures changed (sent to every process).
    SessionLogged { from: String },
    /// A guest connected to `from` (as its connection `guest`) with a link
    /// this process minted: admit them or not (`GuestAnswer`).
    GuestHello { token: visio_protocol::GuestToken, guest: u64, from: String },
    /// The answer to `GuestHello`: the guest's welcome, or why not.
    GuestAnswer {
        guest: u64,
        welcome: Option<Box<visio_protocol::HubToGuest>>,
        error: Option<ErrorBody>,
    },
    /// A signal from the guest of invite `invite` (its hash, hex) to the
    /// agent, who is on the receiver.
    FromGuest { invite: String, signal: Signal },
    /// A signal from the agent to the receiver's guest connection `guest`.
    ToGuest { guest: u64, signal: Signal },
    /// The receiver's guest of invite `invite` left.
    GuestGone { invite: String },
    /// The call of the receiver's guest `guest` is over for them.
    GuestEnded { guest: u64 },
    /// An appointment was booked or cancelled through some process (sent
    /// to every process): each reads them again from the store.
    AppointmentsChanged,
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
    /// `at` is the time of the press; `holding`, the other agents
    /// available now on any process: a resident booked with one of them
    /// is passed over until `appointments::HOLD` after queueing.
    TakeNext { agent: PeerId, at: Timestamp, holding: Vec<AgentLogin>, services: Vec<ServiceId> },
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

impl Hub {
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
                        let login = agent.login.clone();
                        let holding = self.available_agents_but(&login);
                        self.outputs.push_back(Output::Store(StoreOp::TakeNext { agent: peer, at: now, holding, services }));
                    }
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
            transferred_from: entry.transferred_from.clone(),
            precedence: entry.appointment.clone(),
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
        let devices = self.kiosk_devices(&entry.kiosk_id);
        self.tell_agent(peer, HubToAgent::CallStarted {
            session: entry.session.clone(),
            service: entry.service.clone(),
            ice_servers: self.ice_servers_for(now, login.as_str()),
            kiosk_id: entry.kiosk_id,
            site: entry.site,
            resume_token: Some(token.clone()),
            transferred_from: entry.transferred_from,
            devices,
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
                if let Some(p) = &s.precedence {
                    // Answered: the slot is used here, where its kiosk is.
                    self.appointments_used.insert(p.reference);
                }
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
            // The shell reads them from the store and hands them over
            // (`handle_appointments`).
            BusMessage::AppointmentsChanged => {}
            m @ (BusMessage::Desk { .. } | BusMessage::DeskAcknowledge { .. } | BusMessage::DeskRollCall) => {
                self.handle_desk_bus(now, m);
            }
            m @ (BusMessage::SupervisorAgent { .. } | BusMessage::SupervisorRollCall) => self.handle_supervision_bus(m),
            m @ (BusMessage::GuestHello { .. }
            | BusMessage::GuestAnswer { .. }
            | BusMessage::FromGuest { .. }
            | BusMessage::ToGuest { .. }
            | BusMessage::GuestGone { .. }
            | BusMessage::GuestEnded { .. }) => self.handle_guest_bus(now, m),
            BusMessage::SessionLogged { from } => {
                if self.supervised_here() && self.topology.process() != Some(from.as_str()) {
                    let timezone = self.catalogue.timezone().clone();
                    self.outputs.push_back(Output::RefreshToday { logged: false, timezone });
                }
            }
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
            BusMessage::Transfer { session, service } => self.transfer_asked(now, session, service),
            BusMessage::TransferRefused { session, message } => self.transfer_refused(session, message),
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
            transferred_from: None,
            precedence: None,
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
        self.desk_alive(now, &view.alive);
        self.supervision_alive(&view.alive);
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
}
