//! Transfer: the agent of a call hands the resident over, to the front of
//! a service's line or straight to a colleague of the call's service. The
//! call's leg ends for the agent (`transferred`), without the resident's
//! end of visit; the visit goes on as a second leg, a wait of its own
//! linked to the first in the session log.
//!
//! The process holding the kiosk carries a transfer out: when the agent is
//! on another process, theirs sends [`BusMessage::Transfer`] and keeps the
//! call until the kiosk's process answers, with the first leg's end
//! ([`BusMessage::Ended`], `transferred`) or a refusal
//! ([`BusMessage::TransferRefused`]).
//!
//! A kiosk of protocol version 1 does not know transfers: its resident is
//! not transferred, and the agent is told why.

use super::*;

impl Hub {
    pub(super) fn transfer(&mut self, now: Timestamp, peer: PeerId, session_id: SessionId, to: TransferTarget) {
        let current = self.agents[&peer].call.as_ref() == Some(&session_id);
        let Some(session) = self.sessions.get(&session_id).filter(|_| current) else {
            let message = format!("transfer for session {session_id}, which is not your call in progress");
            return self.agent_error(peer, ErrorCode::NotYourSession, message);
        };
        let SessionState::InCall(call) = &session.state else {
            let message = format!("transfer for session {session_id}, which is not your call in progress");
            return self.agent_error(peer, ErrorCode::NotYourSession, message);
        };
        if session.kiosk.is_away() {
            let message = "the resident's kiosk is reconnecting; transfer once it is back (the call goes on)";
            return self.agent_error(peer, ErrorCode::OutOfPlace, message);
        }
        let (kiosk, remote, from) = (session.kiosk, call.remote.clone(), session.service.clone());
        match to {
            TransferTarget::Service { service } => {
                if let Err(message) = self.open_for_transfer(now, &service) {
                    return self.agent_error(peer, ErrorCode::OutOfPlace, message);
                }
                match (kiosk, remote) {
                    (Attached::Remote, Some(process)) => {
                        // The kiosk's process carries it out and answers.
                        let message = BusMessage::Transfer { session: session_id, service };
                        self.outputs.push_back(Output::Bus { to: process, message });
                    }
                    _ => {
                        if let Err(message) = self.transfer_here(now, &session_id, service, None) {
                            self.agent_error(peer, ErrorCode::OutOfPlace, message);
                        }
                    }
                }
            }
            TransferTarget::Agent { login } => {
                if kiosk == Attached::Remote {
                    let message = "the resident's kiosk is served by another hub process: transfer to the service's line instead (the call goes on)";
                    return self.agent_error(peer, ErrorCode::OutOfPlace, message);
                }
                let done = self.colleague(peer, &login, &from).and_then(|colleague| self.transfer_here(now, &session_id, from, Some(colleague)));
                if let Err(message) = done {
                    self.agent_error(peer, ErrorCode::OutOfPlace, message);
                }
            }
        }
    }

    /// Whether this kiosk's software knows transfers (protocol version 2).
    fn takes_transfers(&self, kiosk: PeerId) -> Result<(), String> {
        match self.kiosks.get(&kiosk) {
            Some(k) if k.protocol < TRANSFER_PROTOCOL => Err(format!(
                "kiosk {} runs an older version (protocol {}) that cannot be transferred: the call goes on; \
                 the kiosk needs updating",
                k.kiosk_id, k.protocol
            )),
            _ => Ok(()),
        }
    }

    /// The kiosk's process was asked to transfer `session` by the agent's
    /// (`BusMessage::Transfer`): carried out, or refused back to the agent.
    pub(super) fn transfer_asked(&mut self, now: Timestamp, session: SessionId, service: ServiceId) {
        let remote = match self.sessions.get(&session).map(|s| &s.state) {
            Some(SessionState::InCall(call)) => call.remote.clone(),
            _ => None,
        };
        if let Err(message) = self.transfer_here(now, &session, service, None)
            && let Some(process) = remote
        {
            self.outputs.push_back(Output::Bus { to: process, message: BusMessage::TransferRefused { session, message } });
        }
    }

    /// The kiosk's process refused a transfer asked from here: the agent
    /// hears why, and the call goes on.
    pub(super) fn transfer_refused(&mut self, session: SessionId, message: String) {
        let agent = match self.sessions.get(&session).map(|s| &s.state) {
            Some(SessionState::InCall(call)) => call.agent.peer(),
            _ => None,
        };
        if let Some(agent) = agent {
            self.agent_error(agent, ErrorCode::OutOfPlace, message);
        }
    }

    /// Whether a resident may be handed over to `service` now.
    fn open_for_transfer(&self, now: Timestamp, service: &ServiceId) -> Result<(), String> {
        let Some(s) = self.catalogue.get(service) else {
            return Err(format!("there is no service {:?} in the catalogue (the call goes on)", service.as_str()));
        };
        match self.catalogue.state_at(s, now) {
            ServiceState::Closed { .. } => Err(format!("{} is closed now: the call goes on", s.short_name)),
            _ => Ok(()),
        }
    }

    /// The colleague `login` may take this resident now: signed in to this
    /// process, serving `service`, available and free.
    fn colleague(&self, me: PeerId, login: &AgentLogin, service: &ServiceId) -> Result<PeerId, String> {
        let Some(peer) = self.agent_peer.get(login).copied() else {
            return Err(format!("{login} is not signed in (to this hub process); the call goes on"));
        };
        let a = &self.agents[&peer];
        if peer == me {
            Err("you cannot transfer a call to yourself".to_owned())
        } else if !a.services.contains(service) {
            Err(format!("{login} does not serve {:?}; transfer to that service's line instead", service.as_str()))
        } else if !a.available {
            Err(format!("{login} is away; the call goes on"))
        } else if a.call.is_some() || a.taking {
            Err(format!("{login} is busy with another resident; the call goes on"))
        } else {
            Ok(peer)
        }
    }

    /// Ends the call's leg `session_id` (its kiosk connected here) and puts
    /// its resident at the front of `service`'s line, as a new wait linked
    /// to it; `colleague` takes them at once.
    /// Refused (the call goes on) when the kiosk's software does not know
    /// transfers; nothing happens when the call is no longer here.
    pub(super) fn transfer_here(
        &mut self,
        now: Timestamp,
        session_id: &SessionId,
        service: ServiceId,
        colleague: Option<PeerId>,
    ) -> Result<(), String> {
        let kiosk = self.sessions.get(session_id).filter(|s| matches!(s.state, SessionState::InCall(_))).and_then(|s| s.kiosk.peer());
        let Some(kiosk) = kiosk else { return Ok(()) };
        self.takes_transfers(kiosk)?;
        let old = self.sessions.remove(session_id).expect("checked above");
        let (SessionState::InCall(call), Some(kiosk)) = (old.state, old.kiosk.peer()) else { unreachable!("checked above") };
        // The first leg ends: for the agent (here, or through their
        // process), and in the log.
        if let Some(agent) = call.agent.peer()
            && let Some(a) = self.agents.get_mut(&agent)
        {
            a.call = None;
            self.tell_agent(agent, HubToAgent::CallEnded { session: session_id.clone(), reason: EndReason::Transferred });
        } else if let Some(process) = call.remote.clone() {
            let message = BusMessage::Ended { session: session_id.clone(), reason: EndReason::Transferred, at: now };
            self.outputs.push_back(Output::Bus { to: process, message });
        }
        let ended = Ended {
            reason: EndReason::Transferred,
            kiosk_id: old.kiosk_id.clone(),
            agent: Some(call.agent_login),
            resume: Some(call.resume),
        };
        self.remember_ended(session_id.clone(), ended);
        self.event(HubEvent::Ended { session: session_id.clone(), reason: EndReason::Transferred, at: now });
        self.dirty.insert(old.service.clone());

        // The second leg: a wait of its own, ahead of those who queued.
        self.next_session += 1;
        let session = SessionId(format!("{}-{:06}", self.session_prefix, self.next_session));
        self.sessions.insert(session.clone(), Session {
            kiosk: Attached::Here(kiosk),
            kiosk_id: old.kiosk_id.clone(),
            site: old.site.clone(),
            service: service.clone(),
            queued_at: now,
            transferred_from: Some(old.service.clone()),
            precedence: None,
            state: SessionState::Waiting,
        });
        if let Some(k) = self.kiosks.get_mut(&kiosk) {
            k.session = Some(session.clone());
            k.rateable = None;
        }
        let position = self.queues.push(&service, session.clone(), now, true, false);
        let estimated_wait = self.estimate(now, &service, position);
        self.queues.mark_sent(&service, &session, position, estimated_wait);
        self.tell_kiosk(kiosk, HubToKiosk::CallTransferred {
            session: session_id.clone(),
            to_session: session.clone(),
            service: service.clone(),
            position,
            estimated_wait,
        });
        self.event(HubEvent::Transferred {
            session: session.clone(),
            previous: session_id.clone(),
            kiosk_id: old.kiosk_id.clone(),
            service: service.clone(),
            at: now,
        });
        match (colleague, self.topology.process().map(str::to_owned)) {
            (Some(colleague), _) => self.connect(now, colleague, service.clone(), session),
            (None, Some(process)) => {
                let entry = QueueEntry {
                    session,
                    service: service.clone(),
                    kiosk_id: old.kiosk_id,
                    site: old.site,
                    queued_at: now,
                    process,
                    transferred_from: Some(old.service),
                    appointment: None,
                };
                self.outputs.push_back(Output::Store(StoreOp::Enqueue(entry)));
            }
            (None, None) => {}
        }
        self.dirty.insert(service);
        Ok(())
    }
}

/// The first protocol version with transfers.
const TRANSFER_PROTOCOL: u32 = 2;
