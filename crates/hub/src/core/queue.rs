//! The queue: who may wait (the service exists, is open, the kiosk is
//! free), who is taken next, and what each waiting kiosk and each agent is
//! told of it ([`Hub::flush`], once per input). Below the rules, the data:
//! waiting residents per service, oldest first, with what each kiosk was
//! last told so that it hears again only when its place or wait changes.
//!
//! With several hub processes, residents waiting on the others are known
//! too (from the shared queue, [`Queues::set_others`]): places count
//! everyone in line, whichever process holds their kiosk, in the shared
//! queue's order: residents an agent transferred first (in the order of
//! their transfers), then time queued, then session id.

use std::collections::{HashMap, VecDeque};

use jiff::Timestamp;
use visio_protocol::{KioskId, ServiceId, SessionId, WaitEstimate};

use super::*;

impl Hub {
    pub(super) fn request_call(&mut self, now: Timestamp, peer: PeerId, service_id: ServiceId) {
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
        // An adopted wait keeps what it had, its appointment included.
        let precedence = match &adopted {
            Some(entry) => entry.appointment.clone(),
            None => self.appointment_for(now, &kiosk_id, &service_id),
        };
        let (session, queued_at, transferred_from) = match &adopted {
            Some(entry) => (entry.session.clone(), entry.queued_at, entry.transferred_from.clone()),
            None => {
                self.next_session += 1;
                (SessionId(format!("{}-{:06}", self.session_prefix, self.next_session)), now, None)
            }
        };
        self.sessions.insert(session.clone(), Session {
            kiosk: Attached::Here(peer),
            kiosk_id: kiosk_id.clone(),
            site: site.clone(),
            service: service_id.clone(),
            queued_at,
            transferred_from: transferred_from.clone(),
            precedence: precedence.clone(),
            state: SessionState::Waiting,
        });
        if let Some(k) = self.kiosks.get_mut(&peer) {
            k.session = Some(session.clone());
            k.rateable = None;
        }
        let position = self.queues.push(&service_id, session.clone(), queued_at, transferred_from.is_some(), precedence.is_some());
        let estimated_wait = self.estimate(now, &service_id, position);
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
                transferred_from,
                appointment: precedence,
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

    pub(super) fn cancel_call(&mut self, now: Timestamp, peer: PeerId) {
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

    pub(super) fn set_availability(&mut self, now: Timestamp, peer: PeerId, available: bool) {
        let agent = self.agents.get_mut(&peer).expect("checked by caller");
        if agent.available == available {
            return self.tell_agent(peer, HubToAgent::Availability { available });
        }
        agent.available = available;
        for service in &agent.services {
            if self.availability.changed(now, service) {
                self.dirty.insert(service.clone());
            }
        }
        self.tell_agent(peer, HubToAgent::Availability { available });
    }

    pub(super) fn take_next(&mut self, now: Timestamp, peer: PeerId, service: Option<ServiceId>) {
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
                let login = agent.login.clone();
                let holding = self.available_agents_but(&login);
                self.outputs.push_back(Output::Store(StoreOp::TakeNext { agent: peer, at: now, holding, services: candidates }));
            }
            return;
        }
        // The first in each line this agent may take (`appointments`: a
        // resident booked with a colleague is theirs for a while), then
        // the first of those.
        let login = agent.login.clone();
        let oldest = candidates
            .iter()
            .filter_map(|s| {
                let mut line = self.queues.here(s);
                line.find(|session| !self.reserved_for_other(now, &login, &self.sessions[*session])).map(|session| (s, session))
            })
            .min_by_key(|(_, session)| {
                let s = &self.sessions[*session];
                (appointments::line_key(s.transferred_from.is_some(), s.queued_at, s.precedence.is_some()), (*session).clone())
            })
            .map(|(s, session)| (s.clone(), session.clone()));
        let Some((service_id, session_id)) = oldest else {
            return self.tell_queue_empty(peer, candidates);
        };
        self.connect(now, peer, service_id, session_id);
    }

    pub(super) fn tell_queue_empty(&mut self, peer: PeerId, candidates: Vec<ServiceId>) {
        let service = if candidates.len() == 1 { candidates.into_iter().next() } else { None };
        self.tell_agent(peer, HubToAgent::QueueEmpty { service });
    }

    /// Wait estimate for a position, from the service's available agents
    /// (idle, or how long into their call) and its smoothed call length
    /// ([`estimate::wait_seconds`]); 0 when an agent is free for this
    /// resident now. Unknown when no agent of the service is available.
    /// Whole minutes, rounded up: a promise kept is better than one broken.
    pub(super) fn estimate(&self, now: Timestamp, service: &ServiceId, position: u32) -> Option<visio_protocol::WaitEstimate> {
        use super::estimate::{Load, wait_seconds};
        let mut loads: Vec<Load> = self
            .agents
            .values()
            .filter(|a| a.available && a.services.contains(service))
            .map(|a| match a.call.as_ref().and_then(|s| self.sessions.get(s)).map(|s| &s.state) {
                Some(SessionState::InCall(call)) => Load::Busy { elapsed: (now - call.answered_at).get_seconds().max(0) as f64 },
                _ if a.call.is_some() => Load::Busy { elapsed: 0.0 },
                _ => Load::Idle,
            })
            .collect();
        let elsewhere = self.available_elsewhere.get(service).copied().unwrap_or(0) as usize;
        loads.extend(std::iter::repeat_n(Load::Unknown, elsewhere));
        let per_call = self.call_seconds.get(service).copied().unwrap_or(900.0);
        let seconds = wait_seconds(position, &loads, per_call)?;
        Some(visio_protocol::WaitEstimate { seconds: ((seconds / 60.0).ceil() * 60.0) as u32 })
    }

    /// Tells the kiosks of changed queues their new place, and the agents
    /// serving those services the new queues.
    pub(super) fn flush(&mut self, now: Timestamp) {
        self.guests_follow_calls(now);
        let dirty = std::mem::take(&mut self.dirty);
        self.supervise(now, &dirty);
        if dirty.is_empty() {
            return;
        }
        for service in &dirty {
            self.availability.told(service);
        }
        for service in &dirty {
            for (position, session) in self.queues.waiting(service) {
                let estimate = self.estimate(now, service, position);
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

    pub(super) fn queues_for(&self, peer: PeerId, now: Timestamp) -> HubToAgent {
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
                                transferred_from: s.transferred_from.clone(),
                                appointment: s.precedence.as_ref().map(|p| p.reference.to_string()),
                            }
                        }
                        queue::Waiter::Other(e) => visio_protocol::WaitingResident {
                            session: e.session.clone(),
                            kiosk_id: e.kiosk_id.clone(),
                            site: e.site.clone(),
                            queued_at: e.queued_at,
                            transferred_from: e.transferred_from.clone(),
                            appointment: e.appointment.as_ref().map(|p| p.reference.to_string()),
                        },
                    })
                    .collect(),
            })
            .collect();
        HubToAgent::Queues { now, queues }
    }
}

#[derive(Default)]
pub(super) struct Queues {
    by_service: HashMap<ServiceId, VecDeque<Entry>>,
    /// Residents waiting on other hub processes, in the shared order.
    others: HashMap<ServiceId, Vec<QueueEntry>>,
}

struct Entry {
    session: SessionId,
    queued_at: Timestamp,
    /// Handed over by an agent: ahead of those who queued normally.
    transferred: bool,
    /// Came for an appointment: counts as queued earlier (`appointments`).
    appointment: bool,
    last_sent: Option<(u32, Option<WaitEstimate>)>,
}

/// Someone in line, here or on another process.
pub(super) enum Waiter<'a> {
    Here(&'a SessionId),
    Other(&'a QueueEntry),
}

impl Entry {
    fn key(&self) -> (bool, Timestamp) {
        appointments::line_key(self.transferred, self.queued_at, self.appointment)
    }
}

impl Queues {
    /// Puts a resident in line: behind everyone, or, `transferred`, behind
    /// earlier transfers only, or, with an `appointment`, as if queued
    /// earlier (`appointments::line_key`). Returns their position (1 = next).
    pub fn push(&mut self, service: &ServiceId, session: SessionId, queued_at: Timestamp, transferred: bool, appointment: bool) -> u32 {
        let queue = self.by_service.entry(service.clone()).or_default();
        let entry = Entry { session: session.clone(), queued_at, transferred, appointment, last_sent: None };
        let at = queue.iter().position(|e| (e.key(), &e.session) > (entry.key(), &session));
        match at {
            Some(i) => queue.insert(i, entry),
            None => queue.push_back(entry),
        }
        self.waiting(service).find(|(_, s)| *s == session).map_or(1, |(p, _)| p)
    }

    /// Those waiting here for `service`, first first.
    pub fn here(&self, service: &ServiceId) -> impl Iterator<Item = &SessionId> {
        self.by_service.get(service).into_iter().flatten().map(|e| &e.session)
    }

    pub fn remove(&mut self, service: &ServiceId, session: &SessionId) {
        if let Some(queue) = self.by_service.get_mut(service) {
            queue.retain(|e| &e.session != session);
        }
    }

    /// Residents waiting here.
    pub fn len(&self, service: &ServiceId) -> usize {
        self.by_service.get(service).map_or(0, VecDeque::len)
    }

    /// Replaces who waits on other processes, for every service; returns
    /// the services whose line changed.
    pub fn set_others(&mut self, mut others: HashMap<ServiceId, Vec<QueueEntry>>) -> Vec<ServiceId> {
        for line in others.values_mut() {
            line.sort_by(|a, b| a.line_key().cmp(&b.line_key()));
        }
        let mut changed: Vec<ServiceId> = others
            .iter()
            .filter(|(s, line)| self.others.get(*s) != Some(*line))
            .map(|(s, _)| s.clone())
            .chain(self.others.keys().filter(|s| !others.contains_key(*s)).cloned())
            .collect();
        changed.sort();
        changed.dedup();
        self.others = others;
        changed
    }

    /// Takes `kiosk_id`'s wait for `service` on another process out of
    /// the others' line (it comes here).
    pub fn take_other(&mut self, service: &ServiceId, kiosk_id: &KioskId) -> Option<QueueEntry> {
        let line = self.others.get_mut(service)?;
        let i = line.iter().position(|e| &e.kiosk_id == kiosk_id)?;
        Some(line.remove(i))
    }

    /// Everyone in line for `service`, here and elsewhere, first first.
    pub fn line(&self, service: &ServiceId) -> Vec<Waiter<'_>> {
        let here = self
            .by_service
            .get(service)
            .into_iter()
            .flatten()
            .map(|e| ((e.key().0, e.key().1, &e.session), Waiter::Here(&e.session)));
        let others = self.others.get(service).into_iter().flatten().map(|e| (e.line_key(), Waiter::Other(e)));
        let mut line: Vec<((bool, Timestamp, &SessionId), Waiter<'_>)> = here.chain(others).collect();
        line.sort_by(|a, b| a.0.cmp(&b.0));
        line.into_iter().map(|(_, w)| w).collect()
    }

    /// `(position, session)` of everyone waiting here for `service`, in
    /// order; positions count those waiting elsewhere too.
    pub fn waiting(&self, service: &ServiceId) -> impl Iterator<Item = (u32, SessionId)> + use<> {
        let list: Vec<(u32, SessionId)> = self
            .line(service)
            .into_iter()
            .enumerate()
            .filter_map(|(i, w)| match w {
                Waiter::Here(session) => Some((i as u32 + 1, session.clone())),
                Waiter::Other(_) => None,
            })
            .collect();
        list.into_iter()
    }

    /// Records what the kiosk is told; returns whether it differs from what
    /// it was told last.
    pub fn mark_sent(
        &mut self,
        service: &ServiceId,
        session: &SessionId,
        position: u32,
        estimate: Option<WaitEstimate>,
    ) -> bool {
        let Some(entry) = self.by_service.get_mut(service).and_then(|q| q.iter_mut().find(|e| &e.session == session))
        else {
            return false;
        };
        let now = Some((position, estimate));
        let changed = entry.last_sent != now;
        entry.last_sent = now;
        changed
    }
}
