//! Calls: an agent answers a waiting resident, the hub relays the WebRTC
//! negotiation between exactly those two sides in an order that makes
//! sense, and a visit ends (its log entry, its rating, the queue moving).

use super::*;

/// How many ended calls the hub remembers, to tell a side that comes back
/// too late why its call ended.
const ENDED_MEMORY: usize = 1024;

/// Smoothing of the measured call durations behind wait estimates.
const DURATION_SMOOTHING: f64 = 0.2;

impl Hub {
    /// Makes the waiting `session_id` the call of agent `peer`.
    pub(super) fn connect(&mut self, now: Timestamp, peer: PeerId, service_id: ServiceId, session_id: SessionId) {
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
        let transferred_from = session.transferred_from.clone();
        if let Some(p) = &session.precedence {
            // Answered: the slot is used; a later visit in it is a walk-in.
            self.appointments_used.insert(p.reference);
        }
        let devices = self.kiosk_devices(&kiosk_id);
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
            transferred_from,
            devices,
        });
        self.event(HubEvent::Answered { session: session_id, agent: login, at: now, resume });
        self.dirty.insert(service_id);
    }

    /// The ICE servers a peer gets with a call: the static ones, and
    /// fresh TURN credentials of its own when a shared secret is set.
    pub(super) fn ice_servers_for(&self, now: Timestamp, who: &str) -> Vec<IceServer> {
        let mut servers = self.ice_servers.clone();
        servers.extend(self.turn.as_ref().map(|t| t.credentials(now, who)));
        servers
    }

    /// What the resident sees of the agent: the display name the admin set
    /// (a first name and the service, typically), never the login.
    pub(super) fn agent_display_name(&self, peer: PeerId) -> String {
        self.agents[&peer].display_name.clone()
    }

    /// Relays negotiation between the two peers of the sender's current call,
    /// and only them, in an order that makes sense.
    pub(super) fn relay(&mut self, peer: PeerId, from: Side, session_id: SessionId, signal: Signal) {
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
    pub(super) fn relay_checked(&mut self, session_id: &SessionId, from: Side, signal: Signal, origin: Option<PeerId>) {
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

    pub(super) fn hang_up(&mut self, now: Timestamp, peer: PeerId, from: Side, session_id: SessionId) {
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
    pub(super) fn end_session(&mut self, at: Timestamp, session_id: &SessionId, reason: EndReason) {
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

    pub(super) fn remember_ended(&mut self, session: SessionId, ended: Ended) {
        if self.ended_order.len() >= ENDED_MEMORY
            && let Some(oldest) = self.ended_order.pop_front()
        {
            self.ended.remove(&oldest);
        }
        self.ended_order.push_back(session.clone());
        self.ended.insert(session, ended);
    }
}
