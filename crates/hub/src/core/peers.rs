//! Connections: a kiosk or agent arrives (replacing an older connection
//! of the same identity), its messages are dispatched to the groups that
//! handle them, and it leaves (a wait ends, a call is held).

use super::*;

impl Hub {
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
        protocol: u32,
        resume: Option<ResumeToken>,
    ) {
        if let Some(old) = self.kiosk_peer.get(&kiosk_id).copied() {
            self.replace(now, old, "this kiosk connected again from elsewhere; this connection is closed");
        }
        self.kiosk_peer.insert(kiosk_id.clone(), peer);
        self.kiosks.insert(peer, KioskPeer {
            kiosk_id: kiosk_id.clone(),
            site: site.clone(),
            protocol,
            session: None,
            rateable: None,
            heartbeat: None,
        });
        self.tell_kiosk(peer, HubToKiosk::Welcome {
            protocol: PROTOCOL_VERSION,
            kiosk_id: kiosk_id.clone(),
            site: site.clone(),
            services: self.catalogue.statuses_at(now),
            heartbeat_seconds: Some(self.heartbeat_seconds),
            callbacks: true,
        });
        self.desk_online(now, &kiosk_id, &site);
        self.reattach(now, peer, Side::Kiosk, resume);
        // A kiosk fetches its configuration at start: the announcement
        // tells it which version the hub serves.
        if let Some(announcement) = self.announcement() {
            self.tell_kiosk(peer, announcement);
        }
        self.flush(now);
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
            all_services: self.catalogue.statuses_at(now),
        });
        self.reattach(now, peer, Side::Agent, resume);
        self.tell_agent(peer, self.queues_for(peer, now));
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
            KioskToHub::Heartbeat { seq, app_version, config_version, devices, rtt_ms, last_call } => {
                let report = HeartbeatReport::kept(app_version, config_version, devices, rtt_ms, last_call);
                self.heartbeat(now, peer, seq, report);
            }
            KioskToHub::ConfigApplied { version } => self.config_applied(now, peer, version),
            KioskToHub::ConfigRefused { version, reason } => self.config_refused(now, peer, version, reason),
            KioskToHub::HelpRequest { screen } => self.help_request(now, peer, screen),
            KioskToHub::HelpCancel => self.help_cancel(now, peer),
            KioskToHub::AskCallbackSlots { service } => self.ask_callback_slots(now, peer, service),
            KioskToHub::BookCallback { service, start } => self.book_callback(now, peer, service, start),
        }
        self.flush(now);
    }

    pub fn handle_agent_message(&mut self, now: Timestamp, peer: PeerId, msg: AgentToHub) {
        if !self.agents.contains_key(&peer) {
            return;
        }
        match msg {
            AgentToHub::Hello { .. } => self.agent_error(peer, ErrorCode::OutOfPlace, "hello was already accepted"),
            AgentToHub::SetAvailability { available } => self.set_availability(now, peer, available),
            AgentToHub::TakeNext { service } => self.take_next(now, peer, service),
            AgentToHub::Signal { session, signal } => self.relay(peer, Side::Agent, session, signal),
            AgentToHub::HangUp { session } => self.hang_up(now, peer, Side::Agent, session),
            AgentToHub::Transfer { session, to } => self.transfer(now, peer, session, to),
            AgentToHub::Invite { session, role } => self.invite(now, peer, session, role),
            AgentToHub::GuestSignal { session, signal } => self.agent_guest_signal(peer, session, signal),
            AgentToHub::DismissGuest { session } => self.dismiss_guest(peer, session),
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
                self.desk_offline(now, &kiosk.kiosk_id);
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
        } else if self.guest_gone(peer) {
        } else if !self.supervisor_disconnected(peer) {
            self.host_disconnected(peer);
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

    /// Closes an older connection that a newer one of the same identity
    /// replaces.
    pub(super) fn replace(&mut self, now: Timestamp, old: PeerId, message: &str) {
        let body = ErrorBody::new(ErrorCode::Replaced, message);
        if self.kiosks.contains_key(&old) {
            self.tell_kiosk(old, HubToKiosk::Error(body));
        } else {
            self.tell_agent(old, HubToAgent::Error(body));
        }
        self.outputs.push_back(Output::Close(old));
        self.handle_disconnected(now, old);
    }
}
