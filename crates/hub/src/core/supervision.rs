//! The supervisor's board: each service's line (everyone waiting, on every
//! process, from the queue this process knows), each signed-in agent's
//! state, and today's figures, which the shell reads from the session log
//! ([`Output::RefreshToday`], back through [`Hub::handle_today`]).
//!
//! The board is derived, not kept by hand: at the end of each input
//! ([`Hub::flush`]) the lines of the services that changed and the state
//! of every agent here are compared with what supervisors were last told.
//! The process holding an agent's connection owns their entry and, with a
//! bus, sends it to every process on each change
//! ([`BusMessage::SupervisorAgent`]), as the hosts' board does with kiosks.
//! docs/protocol.md, "The supervisor's board".

use visio_protocol::{AgentState, BoardAgent, DayFigures, HubToSupervisor, ServiceLine, SupervisorToHub};

use super::*;

/// The supervision state of one process.
#[derive(Default)]
pub(super) struct Supervision {
    /// Supervisors' pages connected here.
    peers: BTreeSet<PeerId>,
    /// Every signed-in agent: this process's (`owner` none) and, with a
    /// bus, the others'.
    agents: BTreeMap<AgentLogin, AgentEntry>,
    /// Each service's line as supervisors were last told.
    lines: BTreeMap<ServiceId, ServiceLine>,
    today: Option<DayFigures>,
    /// A visit's event was logged in this input: today's figures change.
    logged: bool,
    /// The other processes were asked for their agents (once).
    asked: bool,
}

struct AgentEntry {
    owner: Option<String>,
    agent: BoardAgent,
}

impl Hub {
    /// A supervisor's page proved who it is (the console cookie).
    pub fn handle_supervisor_connected(&mut self, now: Timestamp, peer: PeerId, login: String, display_name: String) {
        self.supervision.peers.insert(peer);
        self.tell_supervisor(peer, HubToSupervisor::Welcome { protocol: PROTOCOL_VERSION, login, display_name });
        let services = self.catalogue.services().iter().map(|s| self.line_of(&s.id)).collect();
        let agents = self.supervision.agents.values().map(|e| e.agent.clone()).collect();
        self.tell_supervisor(peer, HubToSupervisor::Board { now, services, agents });
        if let Some(today) = self.supervision.today.clone() {
            self.tell_supervisor(peer, HubToSupervisor::Today { today });
        }
        self.outputs.push_back(Output::RefreshToday { logged: false, timezone: self.catalogue.timezone().clone() });
        if matches!(self.topology, Topology::Bus { .. }) && !self.supervision.asked {
            self.supervision.asked = true;
            self.outputs.push_back(Output::Bus { to: EVERY_PROCESS.into(), message: BusMessage::SupervisorRollCall });
        }
        self.flush(now);
    }

    /// The page may only say hello, once.
    pub fn handle_supervisor_message(&mut self, _now: Timestamp, peer: PeerId, msg: SupervisorToHub) {
        match msg {
            SupervisorToHub::Hello { .. } => {
                let body = ErrorBody::new(ErrorCode::OutOfPlace, "hello was already accepted");
                self.tell_supervisor(peer, HubToSupervisor::Error(body));
            }
        }
    }

    /// The agents signed in and not away (in a call or not) but `login`:
    /// this process's, and with a bus the others' as they last said
    /// (`appointments`: a resident booked with one of them waits for them
    /// a while, as `Hub::reserved_for_other` says).
    pub(super) fn available_agents_but(&self, login: &AgentLogin) -> Vec<AgentLogin> {
        let here = self.agents.values().filter(|a| a.available).map(|a| &a.login);
        let elsewhere = self
            .supervision
            .agents
            .iter()
            .filter(|(l, e)| e.owner.is_some() && e.agent.state != AgentState::Away && !self.agent_peer.contains_key(*l))
            .map(|(l, _)| l);
        here.chain(elsewhere).filter(|l| *l != login).cloned().collect()
    }

    /// Whether a supervisor's page is connected here.
    pub fn supervised_here(&self) -> bool {
        !self.supervision.peers.is_empty()
    }

    /// Today's figures, read from the session log by the shell.
    pub fn handle_today(&mut self, today: DayFigures) {
        if self.supervision.today.as_ref() == Some(&today) {
            return;
        }
        self.supervision.today = Some(today.clone());
        for peer in self.supervision.peers.clone() {
            self.tell_supervisor(peer, HubToSupervisor::Today { today: today.clone() });
        }
    }

    pub(super) fn supervisor_disconnected(&mut self, peer: PeerId) -> bool {
        self.supervision.peers.remove(&peer)
    }

    /// A visit's event: today's figures change once it is logged.
    pub(super) fn supervise_event(&mut self, event: &HubEvent) {
        if matches!(
            event,
            HubEvent::Queued { .. } | HubEvent::Answered { .. } | HubEvent::Ended { .. } | HubEvent::Transferred { .. } | HubEvent::Rated { .. }
        ) {
            self.supervision.logged = true;
        }
    }

    /// The end of an input: tells supervisors (and, for agents, the other
    /// processes) what changed in it.
    pub(super) fn supervise(&mut self, now: Timestamp, dirty: &BTreeSet<ServiceId>) {
        if std::mem::take(&mut self.supervision.logged)
            && (self.supervised_here() || matches!(self.topology, Topology::Bus { .. }))
        {
            self.outputs.push_back(Output::RefreshToday { logged: true, timezone: self.catalogue.timezone().clone() });
        }
        for service in dirty {
            let line = self.line_of(service);
            if self.supervision.lines.get(service) != Some(&line) {
                self.supervision.lines.insert(service.clone(), line.clone());
                for peer in self.supervision.peers.clone() {
                    self.tell_supervisor(peer, HubToSupervisor::Line { line: line.clone() });
                }
            }
        }
        self.supervise_agents(now);
    }

    fn line_of(&self, service: &ServiceId) -> ServiceLine {
        let line = self.queues.line(service);
        let oldest = line
            .iter()
            .map(|w| match w {
                queue::Waiter::Here(id) => self.sessions[*id].queued_at,
                queue::Waiter::Other(e) => e.queued_at,
            })
            .min();
        let name = self.catalogue.get(service).map_or_else(|| service.as_str().to_owned(), |s| s.short_name.clone());
        ServiceLine { service: service.clone(), name, waiting: line.len() as u32, oldest_queued_at: oldest }
    }

    /// Compares each agent here with their entry: new, changed or gone.
    /// Runs after every input, so it allocates only for what changed.
    fn supervise_agents(&mut self, now: Timestamp) {
        let mut changed: Vec<(AgentLogin, Option<BoardAgent>)> = Vec::new();
        for a in self.agents.values() {
            let service = a.call.as_ref().and_then(|s| self.sessions.get(s)).map(|s| &s.service);
            let state = match (service, a.available) {
                (Some(_), _) => AgentState::InCall,
                (None, true) => AgentState::Available,
                (None, false) => AgentState::Away,
            };
            let entry = self.supervision.agents.get(&a.login).filter(|e| e.owner.is_none());
            let same_state = entry.is_some_and(|e| e.agent.state == state && e.agent.service.as_ref() == service);
            if same_state && entry.is_some_and(|e| e.agent.services == a.services) {
                continue;
            }
            let agent = BoardAgent {
                login: a.login.clone(),
                display_name: a.display_name.clone(),
                services: a.services.clone(),
                state,
                service: service.cloned(),
                since: if same_state { entry.map_or(now, |e| e.agent.since) } else { now },
                updated: now,
            };
            changed.push((a.login.clone(), Some(agent)));
        }
        let gone = self
            .supervision
            .agents
            .iter()
            .filter(|(login, e)| e.owner.is_none() && !self.agent_peer.contains_key(*login))
            .map(|(login, _)| (login.clone(), None));
        changed.extend(gone);
        for (login, agent) in changed {
            match &agent {
                Some(a) => self.supervision.agents.insert(login.clone(), AgentEntry { owner: None, agent: a.clone() }),
                None => self.supervision.agents.remove(&login),
            };
            if let Topology::Bus { process } = &self.topology {
                let message = BusMessage::SupervisorAgent { login: login.clone(), agent: agent.clone(), from: process.clone() };
                self.outputs.push_back(Output::Bus { to: EVERY_PROCESS.into(), message });
            }
            self.tell_supervisors_agent(login, agent);
        }
    }

    fn tell_supervisors_agent(&mut self, login: AgentLogin, agent: Option<BoardAgent>) {
        for peer in self.supervision.peers.clone() {
            let msg = match &agent {
                Some(agent) => HubToSupervisor::Agent { agent: agent.clone() },
                None => HubToSupervisor::AgentGone { login: login.clone() },
            };
            self.tell_supervisor(peer, msg);
        }
    }

    /// What another process says of its agents, or asks of ours.
    pub(super) fn handle_supervision_bus(&mut self, message: BusMessage) {
        match message {
            BusMessage::SupervisorAgent { login, agent, from } => {
                if self.agent_peer.contains_key(&login) {
                    return; // signed in here now: ours is newer
                }
                match agent {
                    Some(agent) => {
                        let newer = self.supervision.agents.get(&login).is_none_or(|e| e.agent.updated <= agent.updated);
                        if newer {
                            self.supervision.agents.insert(login.clone(), AgentEntry { owner: Some(from), agent: agent.clone() });
                            self.tell_supervisors_agent(login, Some(agent));
                        }
                    }
                    None => {
                        if self.supervision.agents.get(&login).is_some_and(|e| e.owner.as_ref() == Some(&from)) {
                            self.supervision.agents.remove(&login);
                            self.tell_supervisors_agent(login, None);
                        }
                    }
                }
            }
            BusMessage::SupervisorRollCall => {
                let Some(from) = self.topology.process().map(str::to_owned) else { return };
                let ours: Vec<BoardAgent> = self.supervision.agents.values().filter(|e| e.owner.is_none()).map(|e| e.agent.clone()).collect();
                for agent in ours {
                    let message = BusMessage::SupervisorAgent { login: agent.login.clone(), agent: Some(agent), from: from.clone() };
                    self.outputs.push_back(Output::Bus { to: EVERY_PROCESS.into(), message });
                }
            }
            _ => {}
        }
    }

    /// Agents of a process that stopped left with it.
    pub(super) fn supervision_alive(&mut self, alive: &BTreeSet<String>) {
        let lost: Vec<AgentLogin> = self
            .supervision
            .agents
            .iter()
            .filter(|(_, e)| e.owner.as_ref().is_some_and(|p| !alive.contains(p)))
            .map(|(login, _)| login.clone())
            .collect();
        for login in lost {
            self.supervision.agents.remove(&login);
            self.tell_supervisors_agent(login, None);
        }
    }

    fn tell_supervisor(&mut self, peer: PeerId, msg: HubToSupervisor) {
        self.outputs.push_back(Output::ToSupervisor(peer, msg));
    }
}
