//! The hub core driven by inputs, with simulated time: whole visits in
//! microseconds, asserting exactly what each peer is told.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::{Timestamp, ToSpan};
use visio_config::Catalogue;
use visio_protocol::*;

use super::*;

/// A hub plus everything it said to each peer, drained after every input.
struct World {
    hub: Hub,
    now: Timestamp,
    next_peer: u64,
    kiosk_inbox: HashMap<PeerId, Vec<HubToKiosk>>,
    agent_inbox: HashMap<PeerId, Vec<HubToAgent>>,
    closed: Vec<PeerId>,
    events: Vec<HubEvent>,
    store_ops: Vec<StoreOp>,
    bus_out: Vec<(String, BusMessage)>,
}

impl World {
    /// Monday 2026-11-23 10:00 in Paris: every weekday service is open.
    fn new() -> World {
        World::at("2026-11-23T09:00:00Z")
    }

    fn at(now: &str) -> World {
        World {
            hub: Hub::new(Arc::new(Catalogue::demo()), vec![], "test".into()),
            now: now.parse().unwrap(),
            next_peer: 0,
            kiosk_inbox: HashMap::new(),
            agent_inbox: HashMap::new(),
            closed: Vec::new(),
            events: Vec::new(),
            store_ops: Vec::new(),
            bus_out: Vec::new(),
        }
    }

    fn drain(&mut self) {
        while let Some(out) = self.hub.poll_output() {
            match out {
                Output::ToKiosk(p, m) => self.kiosk_inbox.entry(p).or_default().push(m),
                Output::ToAgent(p, m) => self.agent_inbox.entry(p).or_default().push(m),
                Output::Close(p) => self.closed.push(p),
                Output::Event(e) => self.events.push(e),
                Output::Store(op) => self.store_ops.push(op),
                Output::Bus { to, message } => self.bus_out.push((to, message)),
            }
        }
    }

    fn advance(&mut self, minutes: i64) {
        self.now = self.now.checked_add(minutes.minutes()).unwrap();
    }

    fn kiosk(&mut self, id: &str) -> PeerId {
        self.next_peer += 1;
        let peer = PeerId(self.next_peer);
        self.hub.handle_kiosk_connected(self.now, peer, id.into(), format!("Mairie de {id}"), None);
        self.drain();
        let said = self.kiosk_said(peer);
        assert!(matches!(said.as_slice(), [HubToKiosk::Welcome { .. }] | [HubToKiosk::Welcome { .. }, HubToKiosk::ConfigAvailable { .. }]), "{said:?}");
        peer
    }

    fn agent(&mut self, login: &str, services: &[&str]) -> PeerId {
        self.next_peer += 1;
        let peer = PeerId(self.next_peer);
        let services = services.iter().map(|s| ServiceId::from(*s)).collect();
        self.hub.handle_agent_connected(self.now, peer, login.into(), format!("{login} (test)"), services, None);
        self.drain();
        let said = self.agent_said(peer);
        assert!(matches!(said.as_slice(), [HubToAgent::Welcome { .. }, HubToAgent::Queues { .. }]), "{said:?}");
        peer
    }

    fn available_agent(&mut self, login: &str, services: &[&str]) -> PeerId {
        let peer = self.agent(login, services);
        self.agent_says(peer, AgentToHub::SetAvailability { available: true });
        self.agent_said(peer);
        peer
    }

    fn kiosk_says(&mut self, peer: PeerId, msg: KioskToHub) {
        self.hub.handle_kiosk_message(self.now, peer, msg);
        self.drain();
    }

    fn agent_says(&mut self, peer: PeerId, msg: AgentToHub) {
        self.hub.handle_agent_message(self.now, peer, msg);
        self.drain();
    }

    fn disconnect(&mut self, peer: PeerId) {
        self.hub.handle_disconnected(self.now, peer);
        self.drain();
    }

    /// What the hub told this agent, without queue refreshes.
    fn agent_told(&mut self, peer: PeerId) -> Vec<HubToAgent> {
        self.agent_said(peer).into_iter().filter(|m| !matches!(m, HubToAgent::Queues { .. })).collect()
    }

    fn tick(&mut self) {
        self.hub.handle_timeout(self.now);
        self.drain();
    }

    /// A kiosk connection whose hello carries `resume`; returns the peer
    /// and everything the hub told it.
    fn kiosk_resuming(&mut self, id: &str, resume: Option<ResumeToken>) -> (PeerId, Vec<HubToKiosk>) {
        self.next_peer += 1;
        let peer = PeerId(self.next_peer);
        self.hub.handle_kiosk_connected(self.now, peer, id.into(), format!("Mairie de {id}"), resume);
        self.drain();
        let said = self.kiosk_said(peer);
        assert!(matches!(said.first(), Some(HubToKiosk::Welcome { .. })), "{said:?}");
        (peer, said[1..].to_vec())
    }

    fn agent_resuming(&mut self, login: &str, services: &[&str], resume: Option<ResumeToken>) -> (PeerId, Vec<HubToAgent>) {
        self.next_peer += 1;
        let peer = PeerId(self.next_peer);
        let services = services.iter().map(|s| ServiceId::from(*s)).collect();
        self.hub.handle_agent_connected(self.now, peer, login.into(), format!("{login} (test)"), services, resume);
        self.drain();
        let said = self.agent_said(peer);
        assert!(matches!(said.first(), Some(HubToAgent::Welcome { .. })), "{said:?}");
        // Queues come last; the resumption is what matters here.
        let said: Vec<HubToAgent> = said[1..].iter().filter(|m| !matches!(m, HubToAgent::Queues { .. })).cloned().collect();
        (peer, said)
    }

    /// The token's hash from the session log's `answered` event.
    fn resume_hash(&self, session: &SessionId) -> TokenHash {
        self.events
            .iter()
            .find_map(|e| match e {
                HubEvent::Answered { session: s, resume, .. } if s == session => Some(*resume),
                _ => None,
            })
            .expect("the call was answered")
    }

    /// Takes what the hub said to this kiosk since the last call.
    fn kiosk_said(&mut self, peer: PeerId) -> Vec<HubToKiosk> {
        self.kiosk_inbox.remove(&peer).unwrap_or_default()
    }

    fn agent_said(&mut self, peer: PeerId) -> Vec<HubToAgent> {
        self.agent_inbox.remove(&peer).unwrap_or_default()
    }

    /// Queues for `service` and returns the session id.
    fn queue(&mut self, kiosk: PeerId, service: &str) -> SessionId {
        self.kiosk_says(kiosk, KioskToHub::RequestCall { service: service.into() });
        match self.kiosk_said(kiosk).as_slice() {
            [HubToKiosk::Queued { session, .. }, ..] => session.clone(),
            other => panic!("expected queued, got {other:?}"),
        }
    }

    /// Agent takes the next resident; returns the call's session id.
    fn take(&mut self, agent: PeerId) -> SessionId {
        self.take_with_token(agent).0
    }

    /// Agent takes the next resident; returns the call and its resume token.
    fn take_with_token(&mut self, agent: PeerId) -> (SessionId, ResumeToken) {
        self.agent_says(agent, AgentToHub::TakeNext { service: None });
        let said = self.agent_said(agent);
        match said.iter().find(|m| matches!(m, HubToAgent::CallStarted { .. })) {
            Some(HubToAgent::CallStarted { session, resume_token: Some(token), .. }) => (session.clone(), token.clone()),
            _ => panic!("expected call_started with a token, got {said:?}"),
        }
    }

    fn error_code_of_kiosk(&mut self, peer: PeerId) -> ErrorCode {
        match self.kiosk_said(peer).as_slice() {
            [HubToKiosk::Error(e)] => e.code,
            other => panic!("expected one error, got {other:?}"),
        }
    }

    fn error_code_of_agent(&mut self, peer: PeerId) -> ErrorCode {
        match self.agent_said(peer).as_slice() {
            [HubToAgent::Error(e)] => e.code,
            other => panic!("expected one error, got {other:?}"),
        }
    }
}

fn waiting_in(msgs: &[HubToAgent], service: &str) -> Option<Vec<KioskId>> {
    msgs.iter().rev().find_map(|m| match m {
        HubToAgent::Queues { queues, .. } => queues
            .iter()
            .find(|q| q.service.as_str() == service)
            .map(|q| q.waiting.iter().map(|w| w.kiosk_id.clone()).collect()),
        _ => None,
    })
}

fn offer() -> Signal {
    Signal::Offer { sdp: "v=0 offer".into() }
}

fn answer() -> Signal {
    Signal::Answer { sdp: "v=0 answer".into() }
}

fn candidate() -> Signal {
    Signal::Candidate {
        candidate: IceCandidate {
            candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host".into(),
            sdp_mid: Some("0".into()),
            sdp_m_line_index: Some(0),
            username_fragment: None,
        },
    }
}

#[test]
fn two_kiosks_get_positions_one_and_two_and_move_up() {
    let mut w = World::new();
    let caf_agent = w.available_agent("claire", &["caf"]);
    let (a, b) = (w.kiosk("besse"), w.kiosk("ardes"));
    w.kiosk_says(a, KioskToHub::RequestCall { service: "caf".into() });
    w.kiosk_says(b, KioskToHub::RequestCall { service: "caf".into() });
    let Some(HubToKiosk::Queued { position: 1, estimated_wait: Some(wa), .. }) = w.kiosk_said(a).first().cloned() else {
        panic!("a should be first");
    };
    let Some(HubToKiosk::Queued { position: 2, estimated_wait: Some(wb), .. }) = w.kiosk_said(b).first().cloned() else {
        panic!("b should be second");
    };
    // One agent, 15-minute typical CAF call.
    assert_eq!((wa.seconds, wb.seconds), (900, 1800));
    assert_eq!(waiting_in(&w.agent_said(caf_agent), "caf").unwrap(), vec![KioskId::from("besse"), KioskId::from("ardes")]);

    w.take(caf_agent);
    assert!(matches!(w.kiosk_said(a).as_slice(), [HubToKiosk::CallAnswered { agent_name, .. }] if agent_name == "claire (test)"));
    assert!(matches!(
        w.kiosk_said(b).as_slice(),
        [HubToKiosk::QueueUpdate { position: 1, estimated_wait: Some(WaitEstimate { seconds: 900 }), .. }]
    ));
}

#[test]
fn an_agent_sees_and_takes_only_the_services_they_serve() {
    let mut w = World::new();
    let msa_agent = w.available_agent("marc", &["msa"]);
    let k = w.kiosk("besse");
    w.queue(k, "caf");
    // The msa agent is not told of the caf queue at all.
    assert!(w.agent_said(msa_agent).is_empty());
    w.agent_says(msa_agent, AgentToHub::TakeNext { service: Some("caf".into()) });
    assert_eq!(w.error_code_of_agent(msa_agent), ErrorCode::Forbidden);
    w.agent_says(msa_agent, AgentToHub::TakeNext { service: None });
    assert!(matches!(w.agent_said(msa_agent).as_slice(), [HubToAgent::QueueEmpty { service: Some(s) }] if s.as_str() == "msa"));
    assert!(w.kiosk_said(k).is_empty(), "the kiosk keeps waiting, untouched");
}

#[test]
fn signaling_is_relayed_to_exactly_the_pair_in_order() {
    let mut w = World::new();
    let claire = w.available_agent("claire", &["caf"]);
    let other = w.available_agent("paul", &["caf"]);
    let (k1, k2) = (w.kiosk("besse"), w.kiosk("ardes"));
    let s1 = w.queue(k1, "caf");
    let s2 = w.queue(k2, "caf");
    assert_eq!(w.take(claire), s1);
    assert_eq!(w.take(other), s2);
    for p in [k1, k2] {
        w.kiosk_said(p);
    }
    for p in [claire, other] {
        w.agent_said(p);
    }

    // An answer before any offer is out of place; nothing is relayed.
    w.agent_says(claire, AgentToHub::Signal { session: s1.clone(), signal: answer() });
    assert_eq!(w.error_code_of_agent(claire), ErrorCode::OutOfPlace);
    assert!(w.kiosk_said(k1).is_empty());
    // Nor a candidate before any offer.
    w.kiosk_says(k1, KioskToHub::Signal { session: s1.clone(), signal: candidate() });
    assert_eq!(w.error_code_of_kiosk(k1), ErrorCode::OutOfPlace);

    w.kiosk_says(k1, KioskToHub::Signal { session: s1.clone(), signal: offer() });
    assert_eq!(w.agent_said(claire), vec![HubToAgent::Signal { session: s1.clone(), signal: offer() }]);
    assert!(w.agent_said(other).is_empty() && w.kiosk_said(k2).is_empty());

    // The kiosk cannot answer its own offer.
    w.kiosk_says(k1, KioskToHub::Signal { session: s1.clone(), signal: answer() });
    assert_eq!(w.error_code_of_kiosk(k1), ErrorCode::OutOfPlace);

    w.agent_says(claire, AgentToHub::Signal { session: s1.clone(), signal: answer() });
    assert_eq!(w.kiosk_said(k1), vec![HubToKiosk::Signal { session: s1.clone(), signal: answer() }]);
    w.agent_says(claire, AgentToHub::Signal { session: s1.clone(), signal: candidate() });
    assert_eq!(w.kiosk_said(k1), vec![HubToKiosk::Signal { session: s1.clone(), signal: candidate() }]);
    w.kiosk_says(k1, KioskToHub::Signal { session: s1.clone(), signal: candidate() });
    assert_eq!(w.agent_said(claire), vec![HubToAgent::Signal { session: s1.clone(), signal: candidate() }]);

    // An agent can never reach a kiosk outside their own call.
    w.agent_says(claire, AgentToHub::Signal { session: s2.clone(), signal: candidate() });
    assert_eq!(w.error_code_of_agent(claire), ErrorCode::NotYourSession);
    assert!(w.kiosk_said(k2).is_empty() && w.agent_said(other).is_empty());

    // A new offer after the answer (an ICE restart) is fine.
    w.kiosk_says(k1, KioskToHub::Signal { session: s1.clone(), signal: offer() });
    assert_eq!(w.agent_said(claire).len(), 1);
}

#[test]
fn cancel_while_waiting_is_logged_and_agents_see_the_queue_shrink() {
    let mut w = World::new();
    let claire = w.available_agent("claire", &["caf"]);
    let k = w.kiosk("besse");
    let s = w.queue(k, "caf");
    w.agent_said(claire);
    w.advance(3);
    w.kiosk_says(k, KioskToHub::CancelCall);
    assert_eq!(w.kiosk_said(k), vec![HubToKiosk::CallEnded { session: s.clone(), reason: EndReason::Cancelled }]);
    assert_eq!(waiting_in(&w.agent_said(claire), "caf").unwrap(), Vec::<KioskId>::new());
    assert!(matches!(w.events.last(), Some(HubEvent::Ended { reason: EndReason::Cancelled, at, .. }) if *at == w.now));
    // Cancelling again is out of place.
    w.kiosk_says(k, KioskToHub::CancelCall);
    assert_eq!(w.error_code_of_kiosk(k), ErrorCode::OutOfPlace);
}

#[test]
fn a_disconnect_holds_the_call_and_the_grace_ends_it_as_of_the_loss() {
    let mut w = World::new();
    let claire = w.available_agent("claire", &["caf"]);
    let (k1, k2) = (w.kiosk("besse"), w.kiosk("ardes"));
    let s1 = w.queue(k1, "caf");
    w.take(claire);
    w.agent_said(claire);
    let lost = w.now;
    w.disconnect(k1);
    assert_eq!(w.agent_told(claire), vec![HubToAgent::PeerAway { session: s1.clone() }]);
    assert_eq!(w.hub.snapshot().calls_in_progress, 1, "held, not ended");
    assert_eq!(w.hub.poll_timeout(), Some(lost + DEFAULT_RESUME_GRACE));
    w.now = lost + SignedDuration::from_secs(59);
    w.tick();
    assert!(w.agent_told(claire).is_empty(), "still within the grace");
    w.now = lost + DEFAULT_RESUME_GRACE;
    w.tick();
    assert_eq!(w.agent_told(claire), vec![HubToAgent::CallEnded { session: s1.clone(), reason: EndReason::KioskDisconnected }]);
    assert!(w.events.contains(&HubEvent::Ended { session: s1, reason: EndReason::KioskDisconnected, at: lost }));
    assert_eq!(w.hub.poll_timeout(), None);

    let s2 = w.queue(k2, "caf");
    w.take(claire);
    w.kiosk_said(k2);
    w.disconnect(claire);
    assert_eq!(w.kiosk_said(k2), vec![HubToKiosk::PeerAway { session: s2.clone() }]);
    w.now += DEFAULT_RESUME_GRACE;
    w.tick();
    assert_eq!(w.kiosk_said(k2), vec![HubToKiosk::CallEnded { session: s2, reason: EndReason::AgentDisconnected }]);
    assert_eq!(w.hub.snapshot().calls_in_progress, 0);
}

#[test]
fn a_waiting_kiosk_that_disconnects_leaves_the_queue() {
    let mut w = World::new();
    let claire = w.available_agent("claire", &["caf"]);
    let (k1, k2) = (w.kiosk("besse"), w.kiosk("ardes"));
    w.queue(k1, "caf");
    w.queue(k2, "caf");
    w.agent_said(claire);
    w.disconnect(k1);
    assert!(matches!(w.kiosk_said(k2).as_slice(), [HubToKiosk::QueueUpdate { position: 1, .. }]));
    assert_eq!(waiting_in(&w.agent_said(claire), "caf").unwrap(), vec![KioskId::from("ardes")]);
}

#[test]
fn closed_service_is_refused_with_its_next_opening() {
    // Saturday 2026-11-28 at 15:00 in Paris: CAF is closed until Monday.
    let mut w = World::at("2026-11-28T14:00:00Z");
    let k = w.kiosk("besse");
    w.kiosk_says(k, KioskToHub::RequestCall { service: "caf".into() });
    let said = w.kiosk_said(k);
    let [HubToKiosk::CallRefused { reason: RefusalReason::Closed { next_opening }, message, .. }] = said.as_slice() else {
        panic!("{said:?}");
    };
    assert_eq!(*next_opening, Some("2026-11-30T07:30:00Z".parse().unwrap()));
    assert_eq!(message, "CAF is closed; it opens on 2026-11-30 at 08:30 (Europe/Paris)");
    assert!(w.events.is_empty(), "a refused request is not a visit");
    w.kiosk_says(k, KioskToHub::RequestCall { service: "nope".into() });
    assert!(matches!(w.kiosk_said(k).as_slice(), [HubToKiosk::CallRefused { reason: RefusalReason::UnknownService, .. }]));
}

#[test]
fn two_agents_taking_at_the_same_instant_get_different_residents() {
    let mut w = World::new();
    let agents: Vec<PeerId> = (0..4).map(|i| w.available_agent(&format!("a{i}"), &["caf", "msa"])).collect();
    let kiosks: Vec<PeerId> = (0..6).map(|i| w.kiosk(&format!("k{i}"))).collect();
    for (i, k) in kiosks.iter().enumerate() {
        w.queue(*k, if i % 2 == 0 { "caf" } else { "msa" });
        w.advance(1);
    }
    let mut taken: Vec<SessionId> = agents.iter().map(|a| w.take(*a)).collect();
    // Oldest first across services: k0..k3 in queueing order.
    let expected: Vec<SessionId> = (1..=4).map(|n| SessionId(format!("test-{n:06}"))).collect();
    assert_eq!(taken, expected);
    taken.dedup();
    assert_eq!(taken.len(), 4);
    assert_eq!(w.hub.snapshot().queue_lengths.iter().map(|(_, n)| n).sum::<usize>(), 2);
}

#[test]
fn the_session_log_gets_queued_answered_ended_and_the_rating() {
    let mut w = World::new();
    let claire = w.available_agent("claire", &["caf"]);
    let k = w.kiosk("besse");
    let t0 = w.now;
    let s = w.queue(k, "caf");
    w.advance(4);
    w.take(claire);
    w.advance(12);
    w.agent_says(claire, AgentToHub::HangUp { session: s.clone() });
    assert_eq!(w.kiosk_said(k).last(), Some(&HubToKiosk::CallEnded { session: s.clone(), reason: EndReason::AgentHungUp }));
    w.kiosk_says(k, KioskToHub::Rate { session: s.clone(), rating: Rating::Happy });
    // Only once.
    w.kiosk_says(k, KioskToHub::Rate { session: s.clone(), rating: Rating::Unhappy });
    assert_eq!(w.error_code_of_kiosk(k), ErrorCode::NotYourSession);
    assert_eq!(w.events, vec![
        HubEvent::Queued { session: s.clone(), kiosk_id: "besse".into(), service: "caf".into(), at: t0 },
        HubEvent::Answered { session: s.clone(), agent: "claire".into(), at: t0.checked_add(4.minutes()).unwrap(), resume: w.resume_hash(&s) },
        HubEvent::Ended { session: s.clone(), reason: EndReason::AgentHungUp, at: t0.checked_add(16.minutes()).unwrap() },
        HubEvent::Rated { session: s, rating: Rating::Happy },
    ]);
}

#[test]
fn a_visit_that_was_never_answered_cannot_be_rated() {
    let mut w = World::new();
    let k = w.kiosk("besse");
    let s = w.queue(k, "caf");
    w.kiosk_says(k, KioskToHub::CancelCall);
    assert!(w.kiosk_said(k).iter().any(|m| matches!(m, HubToKiosk::CallEnded { .. })));
    w.kiosk_says(k, KioskToHub::Rate { session: s, rating: Rating::Unhappy });
    assert_eq!(w.error_code_of_kiosk(k), ErrorCode::NotYourSession);
    assert!(!w.events.iter().any(|e| matches!(e, HubEvent::Rated { .. })), "{:?}", w.events);
}

#[test]
fn estimates_need_an_available_agent_and_follow_measured_durations() {
    let mut w = World::new();
    let k = w.kiosk("besse");
    w.kiosk_says(k, KioskToHub::RequestCall { service: "caf".into() });
    assert!(matches!(w.kiosk_said(k).as_slice(), [HubToKiosk::Queued { estimated_wait: None, .. }]));
    let claire = w.agent("claire", &["caf"]);
    w.agent_says(claire, AgentToHub::SetAvailability { available: true });
    assert!(matches!(
        w.kiosk_said(k).as_slice(),
        [HubToKiosk::QueueUpdate { position: 1, estimated_wait: Some(WaitEstimate { seconds: 900 }), .. }]
    ));
    // A 5-minute call pulls the 15-minute average down by a fifth of the gap.
    let s = w.take(claire);
    w.advance(5);
    w.kiosk_says(k, KioskToHub::HangUp { session: s });
    let k2 = w.kiosk("ardes");
    w.kiosk_says(k2, KioskToHub::RequestCall { service: "caf".into() });
    assert!(matches!(
        w.kiosk_said(k2).as_slice(),
        [HubToKiosk::Queued { estimated_wait: Some(WaitEstimate { seconds: 780 }), .. }]
    ));
}

#[test]
fn an_away_or_busy_agent_cannot_take() {
    let mut w = World::new();
    let claire = w.agent("claire", &["caf"]);
    let k = w.kiosk("besse");
    w.queue(k, "caf");
    w.agent_said(claire);
    w.agent_says(claire, AgentToHub::TakeNext { service: None });
    assert_eq!(w.error_code_of_agent(claire), ErrorCode::OutOfPlace);
    w.agent_says(claire, AgentToHub::SetAvailability { available: true });
    w.agent_said(claire);
    w.take(claire);
    let k2 = w.kiosk("ardes");
    w.queue(k2, "caf");
    w.agent_said(claire);
    w.agent_says(claire, AgentToHub::TakeNext { service: None });
    assert_eq!(w.error_code_of_agent(claire), ErrorCode::OutOfPlace);
}

#[test]
fn a_second_connection_of_the_same_kiosk_replaces_the_first() {
    let mut w = World::new();
    let old = w.kiosk("besse");
    let s = w.queue(old, "caf");
    let new = w.kiosk("besse");
    let said = w.kiosk_said(old);
    assert!(matches!(said.first(), Some(HubToKiosk::Error(ErrorBody { code: ErrorCode::Replaced, .. }))), "{said:?}");
    assert_eq!(w.closed, vec![old]);
    assert!(matches!(w.events.last(), Some(HubEvent::Ended { session, reason: EndReason::KioskDisconnected, .. }) if *session == s));
    assert_eq!(w.hub.poll_timeout(), None, "a wait is never held");
    // The new connection works; the old one's late messages are ignored.
    w.queue(new, "caf");
    w.kiosk_says(old, KioskToHub::CancelCall);
    assert!(w.kiosk_said(old).is_empty());
    assert_eq!(w.hub.snapshot().kiosks, 1);
}

#[test]
fn kiosk_hang_up_outside_a_call_and_a_second_request_are_refused() {
    let mut w = World::new();
    let k = w.kiosk("besse");
    w.kiosk_says(k, KioskToHub::HangUp { session: SessionId::from("nope") });
    assert_eq!(w.error_code_of_kiosk(k), ErrorCode::NotYourSession);
    w.queue(k, "caf");
    w.kiosk_says(k, KioskToHub::RequestCall { service: "msa".into() });
    assert!(matches!(w.kiosk_said(k).as_slice(), [HubToKiosk::CallRefused { reason: RefusalReason::Busy, .. }]));
}

fn health(scanner: DeviceState, detail: Option<&str>) -> DeviceHealth {
    let ok = DeviceStatus::new(DeviceState::Ok, None);
    DeviceHealth {
        camera: ok.clone(),
        microphone: ok,
        scanner: DeviceStatus::new(scanner, detail),
        printer: DeviceStatus::new(DeviceState::NotInstalled, None),
    }
}

fn heartbeat(seq: u64, config_version: Option<u64>, devices: Option<DeviceHealth>) -> KioskToHub {
    KioskToHub::Heartbeat { seq, app_version: "0.1.0".into(), config_version, devices, rtt_ms: Some(120) }
}

fn published(version: u64) -> Published {
    Published {
        version,
        sha256: format!("sha-{version}"),
        size: 1234,
        catalogue: Arc::new(Catalogue::demo()),
        ice_servers: vec![IceServer { urls: vec!["stun:stun.example.fr:3478".into()], username: None, credential: None }],
    }
}

#[test]
fn a_heartbeat_is_acked_recorded_and_counted_in_the_snapshot() {
    let mut w = World::new();
    let besse = w.kiosk("besse");
    let ardes = w.kiosk("ardes");
    let jammed = health(DeviceState::Error, Some("Document feeder jammed"));
    w.kiosk_says(besse, heartbeat(7, None, Some(jammed.clone())));
    assert_eq!(w.kiosk_said(besse), [HubToKiosk::HeartbeatAck { seq: 7 }]);
    assert!(w.kiosk_said(ardes).is_empty());
    let report = HeartbeatReport { app_version: "0.1.0".into(), config_version: None, devices: Some(jammed), rtt_ms: Some(120) };
    assert!(matches!(w.events.last(), Some(HubEvent::Heartbeat { kiosk_id, report: r, .. }) if kiosk_id.as_str() == "besse" && *r == report));
    w.kiosk_says(ardes, heartbeat(1, None, Some(health(DeviceState::Missing, None))));
    let snapshot = w.hub.snapshot();
    assert_eq!(snapshot.devices_unhealthy, [("camera", 0), ("microphone", 0), ("scanner", 2), ("printer", 0)]);
    // Once besse's scanner is fixed, and ardes is gone, nothing is unhealthy.
    w.kiosk_says(besse, heartbeat(8, None, Some(health(DeviceState::Ok, None))));
    w.disconnect(ardes);
    assert_eq!(w.hub.snapshot().devices_unhealthy[2], ("scanner", 0));
}

#[test]
fn long_details_and_refusal_messages_are_cut() {
    let mut w = World::new();
    let k = w.kiosk("besse");
    w.kiosk_says(k, heartbeat(1, None, Some(health(DeviceState::Error, Some(&"é".repeat(5000))))));
    let Some(HubEvent::Heartbeat { report, .. }) = w.events.last() else { panic!("{:?}", w.events) };
    let detail = report.devices.as_ref().unwrap().scanner.detail.clone().unwrap();
    assert_eq!(detail.chars().count(), MAX_DETAIL_CHARS + 1, "cut, with an ellipsis");
    assert!(detail.ends_with('…'));
    let reason = ConfigRefusal::new(ConfigRefusalCode::Invalid, "x".repeat(10_000));
    w.kiosk_says(k, KioskToHub::ConfigRefused { version: 3, reason });
    let Some(HubEvent::ConfigRefused { reason, version: 3, .. }) = w.events.last() else { panic!("{:?}", w.events) };
    assert_eq!(reason.message.chars().count(), MAX_REFUSAL_CHARS + 1);
}

#[test]
fn a_publication_is_announced_to_connected_kiosks_and_in_every_welcome() {
    let mut w = World::new();
    let besse = w.kiosk("besse");
    let told = w.hub.handle_config_published(w.now, published(5));
    w.drain();
    assert_eq!(told, 1);
    let announcement =
        HubToKiosk::ConfigAvailable { version: 5, sha256: "sha-5".into(), size: 1234, path: CONFIG_PATH.into() };
    assert_eq!(w.kiosk_said(besse), std::slice::from_ref(&announcement));

    // A kiosk connecting later hears of it right after its welcome.
    w.next_peer += 1;
    let ardes = PeerId(w.next_peer);
    w.hub.handle_kiosk_connected(w.now, ardes, "ardes".into(), "Mairie d'Ardes".into(), None);
    w.drain();
    let said = w.kiosk_said(ardes);
    assert!(matches!(&said[..], [HubToKiosk::Welcome { heartbeat_seconds: Some(30), .. }, a] if *a == announcement), "{said:?}");

    // The hub hands out the published ICE servers from now on.
    let claire = w.available_agent("claire", &["caf"]);
    w.queue(besse, "caf");
    w.take(claire);
    let said = w.kiosk_said(besse);
    let Some(HubToKiosk::CallAnswered { ice_servers, .. }) = said.iter().find(|m| matches!(m, HubToKiosk::CallAnswered { .. })) else {
        panic!("{said:?}")
    };
    assert_eq!(ice_servers[0].urls, ["stun:stun.example.fr:3478"]);
}

#[test]
fn applied_and_refused_configurations_become_events_and_outdated_kiosks_are_counted() {
    let mut w = World::new();
    w.hub.handle_config_published(w.now, published(5));
    let besse = w.kiosk("besse");
    let ardes = w.kiosk("ardes");
    w.kiosk_said(besse);
    w.kiosk_said(ardes);
    w.kiosk_says(besse, heartbeat(1, Some(4), None));
    w.kiosk_says(ardes, heartbeat(1, Some(4), None));
    w.kiosk_said(besse);
    w.kiosk_said(ardes);
    assert_eq!(w.hub.snapshot().kiosks_config_outdated, 2);
    assert_eq!(w.hub.snapshot().config_version, Some(5));

    w.kiosk_says(besse, KioskToHub::ConfigApplied { version: 5 });
    assert!(matches!(w.events.last(), Some(HubEvent::ConfigApplied { kiosk_id, version: 5, .. }) if kiosk_id.as_str() == "besse"));
    let refusal = ConfigRefusal::new(ConfigRefusalCode::UntrustedKey, "signed by key 00, which is not a trusted admin key");
    w.kiosk_says(ardes, KioskToHub::ConfigRefused { version: 5, reason: refusal.clone() });
    assert!(matches!(w.events.last(), Some(HubEvent::ConfigRefused { kiosk_id, version: 5, reason, .. })
        if kiosk_id.as_str() == "ardes" && *reason == refusal));
    assert_eq!(w.hub.snapshot().kiosks_config_outdated, 1, "ardes still runs version 4");
    // Reports need no answer.
    assert!(w.kiosk_said(besse).is_empty() && w.kiosk_said(ardes).is_empty());
}

// ---------------------------------------------------------------------------
// Losing the hub mid-call
// ---------------------------------------------------------------------------

/// A call between kiosk "besse" and agent "claire", negotiated; returns
/// (kiosk, agent, session, token) with inboxes drained.
fn call(w: &mut World) -> (PeerId, PeerId, SessionId, ResumeToken) {
    let claire = w.available_agent("claire", &["caf"]);
    let k = w.kiosk("besse");
    w.queue(k, "caf");
    let (s, token) = w.take_with_token(claire);
    let answered = w.kiosk_said(k);
    assert!(
        answered.iter().any(|m| matches!(m, HubToKiosk::CallAnswered { resume_token: Some(t), .. } if t == &token)),
        "both sides get the same token: {answered:?}"
    );
    w.kiosk_says(k, KioskToHub::Signal { session: s.clone(), signal: offer() });
    w.agent_says(claire, AgentToHub::Signal { session: s.clone(), signal: answer() });
    w.agent_said(claire);
    w.kiosk_said(k);
    (k, claire, s, token)
}

#[test]
fn each_call_gets_its_own_unguessable_token_and_the_log_keeps_only_its_hash() {
    let mut w = World::new();
    let (_, _, s, token) = call(&mut w);
    assert!(token.expose().starts_with(&format!("r1.{s}.")), "the token names its session");
    assert!(w.resume_hash(&s).matches(&token_hash(&token)));
    let shown = format!("{:?}", w.events);
    assert!(!shown.contains(token.expose()), "the token itself is never an event");
}

#[test]
fn an_agent_who_reloads_comes_back_with_the_token_and_signals_flow_again() {
    let mut w = World::new();
    let (k, claire, s, token) = call(&mut w);
    w.disconnect(claire);
    assert_eq!(w.kiosk_said(k), vec![HubToKiosk::PeerAway { session: s.clone() }]);

    let (claire2, said) = w.agent_resuming("claire", &["caf"], Some(token));
    assert!(
        matches!(said.as_slice(), [HubToAgent::CallResumed { session, kiosk_id, service, .. }]
            if *session == s && kiosk_id.as_str() == "besse" && service.as_str() == "caf"),
        "{said:?}"
    );
    assert_eq!(w.kiosk_said(k), vec![HubToKiosk::PeerBack { session: s.clone() }]);
    assert_eq!(w.hub.poll_timeout(), None, "nothing held any more");

    // The reloaded page has no peer connection: restart, then a fresh offer.
    w.agent_says(claire2, AgentToHub::Signal { session: s.clone(), signal: Signal::Restart });
    assert_eq!(w.kiosk_said(k), vec![HubToKiosk::Signal { session: s.clone(), signal: Signal::Restart }]);
    w.kiosk_says(k, KioskToHub::Signal { session: s.clone(), signal: offer() });
    assert_eq!(w.agent_told(claire2), vec![HubToAgent::Signal { session: s.clone(), signal: offer() }]);
    w.agent_says(claire2, AgentToHub::Signal { session: s.clone(), signal: answer() });
    assert_eq!(w.kiosk_said(k), vec![HubToKiosk::Signal { session: s.clone(), signal: answer() }]);

    w.agent_says(claire2, AgentToHub::HangUp { session: s.clone() });
    assert_eq!(w.kiosk_said(k), vec![HubToKiosk::CallEnded { session: s.clone(), reason: EndReason::AgentHungUp }]);
    let ends = w.events.iter().filter(|e| matches!(e, HubEvent::Ended { .. })).count();
    assert_eq!(ends, 1, "one end for the call: {:?}", w.events);
}

#[test]
fn a_kiosk_that_comes_back_while_the_agent_is_away_hears_peer_away_after_call_resumed() {
    let mut w = World::new();
    let (k, claire, s, token) = call(&mut w);
    w.disconnect(k);
    assert_eq!(w.agent_told(claire), vec![HubToAgent::PeerAway { session: s.clone() }]);
    w.disconnect(claire);

    let (k2, said) = w.kiosk_resuming("besse", Some(token.clone()));
    assert!(
        matches!(said.as_slice(), [HubToKiosk::CallResumed { session, agent_name, .. }, HubToKiosk::PeerAway { session: away }]
            if *session == s && agent_name == "claire (test)" && *away == s),
        "{said:?}"
    );
    let (_claire2, said) = w.agent_resuming("claire", &["caf"], Some(token));
    assert!(matches!(said.as_slice(), [HubToAgent::CallResumed { .. }]), "{said:?}");
    assert_eq!(w.kiosk_said(k2), vec![HubToKiosk::PeerBack { session: s }]);
}

#[test]
fn a_hello_without_resume_ends_the_held_call_at_once_as_of_the_loss() {
    let mut w = World::new();
    let (k, claire, s, _) = call(&mut w);
    let lost = w.now;
    w.disconnect(k);
    w.agent_said(claire);
    w.advance(1);
    let (k2, said) = w.kiosk_resuming("besse", None);
    assert!(said.is_empty(), "a fresh kiosk has no call: {said:?}");
    assert_eq!(w.agent_told(claire), vec![HubToAgent::CallEnded { session: s.clone(), reason: EndReason::KioskDisconnected }]);
    assert!(w.events.contains(&HubEvent::Ended { session: s, reason: EndReason::KioskDisconnected, at: lost }));
    // The agent is free again, the kiosk can queue anew.
    w.queue(k2, "caf");
    w.take(claire);

    // Likewise an agent.
    let mut w = World::new();
    let (k, claire, s, _) = call(&mut w);
    w.disconnect(claire);
    w.kiosk_said(k);
    let (_, said) = w.agent_resuming("claire", &["caf"], None);
    assert!(said.is_empty(), "{said:?}");
    assert_eq!(w.kiosk_said(k), vec![HubToKiosk::CallEnded { session: s, reason: EndReason::AgentDisconnected }]);
}

#[test]
fn another_kiosks_token_or_a_made_up_one_resumes_nothing() {
    let mut w = World::new();
    let (k, claire, s, token) = call(&mut w);
    w.disconnect(k);
    w.agent_said(claire);

    // Ardes presents besse's token: told the call is over, nothing more.
    let (_, said) = w.kiosk_resuming("ardes", Some(token.clone()));
    assert_eq!(said, vec![HubToKiosk::CallEnded { session: s.clone(), reason: EndReason::KioskDisconnected }]);
    assert!(w.agent_told(claire).is_empty(), "besse's call is untouched");
    // The agent's token does not make the agent's login into the kiosk.
    let (_, said) = w.agent_resuming("paul", &["caf"], Some(token.clone()));
    assert_eq!(said, vec![HubToAgent::CallEnded { session: s.clone(), reason: EndReason::AgentDisconnected }]);
    // A forged token for the right session ends the held call (its real
    // token was not presented), never resumes it.
    let forged = ResumeToken(format!("r1.{s}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    let (_, said) = w.kiosk_resuming("besse", Some(forged));
    assert!(matches!(said.as_slice(), [HubToKiosk::CallEnded { reason: EndReason::KioskDisconnected, .. }]), "{said:?}");
    assert_eq!(w.agent_told(claire), vec![HubToAgent::CallEnded { session: s, reason: EndReason::KioskDisconnected }]);
    // Not a token at all.
    let (_, said) = w.kiosk_resuming("tauves", Some(ResumeToken("nonsense".into())));
    assert!(matches!(said.as_slice(), [HubToKiosk::Error(ErrorBody { code: ErrorCode::MalformedMessage, .. })]), "{said:?}");
}

#[test]
fn a_side_back_after_the_end_learns_the_reason_and_a_kiosk_may_still_rate() {
    let mut w = World::new();
    let (k, claire, s, token) = call(&mut w);
    w.disconnect(k);
    w.agent_said(claire);
    w.agent_says(claire, AgentToHub::HangUp { session: s.clone() });
    assert_eq!(w.agent_told(claire), vec![HubToAgent::CallEnded { session: s.clone(), reason: EndReason::AgentHungUp }]);
    let (k2, said) = w.kiosk_resuming("besse", Some(token.clone()));
    assert_eq!(said, vec![HubToKiosk::CallEnded { session: s.clone(), reason: EndReason::AgentHungUp }]);
    w.kiosk_says(k2, KioskToHub::Rate { session: s.clone(), rating: Rating::Happy });
    assert!(w.events.contains(&HubEvent::Rated { session: s.clone(), rating: Rating::Happy }));

    // Grace ran out: the token's session ended with the kiosk's loss.
    let mut w = World::new();
    let (k, claire, s, token) = call(&mut w);
    w.disconnect(k);
    w.now += DEFAULT_RESUME_GRACE;
    w.tick();
    w.agent_said(claire);
    let (_, said) = w.kiosk_resuming("besse", Some(token));
    assert_eq!(said, vec![HubToKiosk::CallEnded { session: s, reason: EndReason::KioskDisconnected }]);
}

#[test]
fn signals_for_a_side_that_is_away_are_dropped_without_an_error() {
    let mut w = World::new();
    let (k, claire, s, token) = call(&mut w);
    w.disconnect(claire);
    w.kiosk_said(k);
    // The kiosk's ICE restart while the agent is away goes nowhere.
    w.kiosk_says(k, KioskToHub::Signal { session: s.clone(), signal: offer() });
    w.kiosk_says(k, KioskToHub::Signal { session: s.clone(), signal: candidate() });
    assert!(w.kiosk_said(k).is_empty(), "no error: the kiosk knows the agent is away");
    let (claire2, _) = w.agent_resuming("claire", &["caf"], Some(token));
    w.kiosk_said(k);
    // A dropped offer left no pending offer behind: the agent cannot
    // answer it, and the kiosk offers again.
    w.agent_says(claire2, AgentToHub::Signal { session: s.clone(), signal: answer() });
    assert_eq!(w.error_code_of_agent(claire2), ErrorCode::OutOfPlace);
    w.kiosk_says(k, KioskToHub::Signal { session: s.clone(), signal: offer() });
    assert_eq!(w.agent_told(claire2), vec![HubToAgent::Signal { session: s, signal: offer() }]);
}

#[test]
fn a_replaced_connection_is_a_loss_and_its_successor_resumes() {
    let mut w = World::new();
    let (k, claire, s, token) = call(&mut w);
    // The kiosk reconnects before the hub noticed its old connection die.
    let (k2, said) = w.kiosk_resuming("besse", Some(token));
    assert!(matches!(w.kiosk_said(k).first(), Some(HubToKiosk::Error(ErrorBody { code: ErrorCode::Replaced, .. }))));
    assert!(matches!(said.as_slice(), [HubToKiosk::CallResumed { .. }]), "{said:?}");
    assert_eq!(w.agent_told(claire), vec![HubToAgent::PeerAway { session: s.clone() }, HubToAgent::PeerBack { session: s.clone() }]);
    w.kiosk_says(k2, KioskToHub::HangUp { session: s.clone() });
    assert_eq!(w.agent_told(claire), vec![HubToAgent::CallEnded { session: s, reason: EndReason::KioskHungUp }]);
}

#[test]
fn shutdown_ends_waits_but_leaves_calls_open() {
    let mut w = World::new();
    let (_, _, s, _) = call(&mut w);
    let waiting = w.kiosk("ardes");
    let s2 = w.queue(waiting, "caf");
    w.events.clear();
    w.hub.handle_shutdown(w.now);
    w.drain();
    assert_eq!(w.kiosk_said(waiting), vec![HubToKiosk::CallEnded { session: s2.clone(), reason: EndReason::HubShutdown }]);
    assert_eq!(w.events, vec![HubEvent::Ended { session: s2, reason: EndReason::HubShutdown, at: w.now }]);
    assert!(!format!("{:?}", w.events).contains(s.as_str()), "the call's record stays open");
}

fn restored(session: &str, token: &ResumeToken) -> RestoredCall {
    RestoredCall {
        session: SessionId(session.into()),
        kiosk_id: "besse".into(),
        site: "Mairie de besse".into(),
        service: "caf".into(),
        agent: "claire".into(),
        agent_name: "Claire (CAF)".into(),
        queued_at: "2026-11-23T08:50:00Z".parse().unwrap(),
        answered_at: "2026-11-23T08:55:00Z".parse().unwrap(),
        resume: token_hash(token),
    }
}

#[test]
fn after_a_restart_both_sides_re_attach_and_the_call_ends_once() {
    let mut w = World::new();
    let token = ResumeToken("r1.old-000001.secret".into());
    let stopped: Timestamp = "2026-11-23T08:59:30Z".parse().unwrap();
    w.hub.handle_restored(w.now, stopped, vec![restored("old-000001", &token)]);
    assert_eq!(w.hub.snapshot().calls_in_progress, 1);
    assert_eq!(w.hub.poll_timeout(), Some(w.now + DEFAULT_RESUME_GRACE), "the grace counts from the restart");

    let (k, said) = w.kiosk_resuming("besse", Some(token.clone()));
    assert!(
        matches!(said.as_slice(), [HubToKiosk::CallResumed { agent_name, .. }, HubToKiosk::PeerAway { .. }] if agent_name == "Claire (CAF)"),
        "{said:?}"
    );
    let (claire, said) = w.agent_resuming("claire", &["caf"], Some(token));
    assert!(matches!(said.as_slice(), [HubToAgent::CallResumed { site, .. }] if site == "Mairie de besse"), "{said:?}");
    assert_eq!(w.kiosk_said(k), vec![HubToKiosk::PeerBack { session: "old-000001".into() }]);
    // Media went on meanwhile: an ICE restart offer is in order.
    w.kiosk_says(k, KioskToHub::Signal { session: "old-000001".into(), signal: offer() });
    assert_eq!(w.agent_told(claire), vec![HubToAgent::Signal { session: "old-000001".into(), signal: offer() }]);
    w.advance(3);
    w.agent_says(claire, AgentToHub::HangUp { session: "old-000001".into() });
    assert_eq!(w.events, vec![HubEvent::Ended { session: "old-000001".into(), reason: EndReason::AgentHungUp, at: w.now }]);
}

#[test]
fn a_restored_call_nobody_claims_ends_with_hub_shutdown_when_the_old_hub_stopped() {
    let mut w = World::new();
    let (a, b) = (ResumeToken("r1.old-000001.a".into()), ResumeToken("r1.old-000002.b".into()));
    let stopped: Timestamp = "2026-11-23T08:59:30Z".parse().unwrap();
    let mut other = restored("old-000002", &b);
    other.kiosk_id = "ardes".into();
    other.agent = "paul".into();
    w.hub.handle_restored(w.now, stopped, vec![restored("old-000001", &a), other]);
    // Only the kiosk of the second call comes back.
    let (k, _) = w.kiosk_resuming("ardes", Some(b));
    w.advance(1);
    w.tick();
    assert_eq!(w.events, vec![
        HubEvent::Ended { session: "old-000001".into(), reason: EndReason::HubShutdown, at: stopped },
        HubEvent::Ended { session: "old-000002".into(), reason: EndReason::AgentDisconnected, at: stopped },
    ]);
    assert_eq!(w.kiosk_said(k), vec![HubToKiosk::CallEnded { session: "old-000002".into(), reason: EndReason::AgentDisconnected }]);
    assert_eq!(w.hub.snapshot().calls_in_progress, 0);
}

// ---------------------------------------------------------------------------
// A queue shared with other hub processes: the store decides who is next
// ---------------------------------------------------------------------------

impl World {
    fn shared(process: &str) -> World {
        let mut world = World::new();
        world.hub.set_topology(Topology::SharedQueue { process: process.into() });
        world
    }

    /// A process of a shared queue, linked to the others by a bus.
    fn on_bus(process: &str) -> World {
        let mut world = World::new();
        world.hub.set_topology(Topology::Bus { process: process.into() });
        world
    }

    fn taken(&mut self, agent: PeerId, services: &[&str], entry: Option<QueueEntry>) {
        let services = services.iter().map(|s| ServiceId::from(*s)).collect();
        self.hub.handle_taken(self.now, agent, services, entry);
        self.drain();
    }
}

#[test]
fn with_a_shared_queue_waits_are_mirrored_and_the_store_answers_take_next() {
    let mut w = World::shared("p1");
    let k = w.kiosk("besse");
    let claire = w.available_agent("claire", &["caf"]);
    let session = w.queue(k, "caf");
    let entry = QueueEntry {
        session: session.clone(),
        service: "caf".into(),
        kiosk_id: "besse".into(),
        site: "Mairie de besse".into(),
        queued_at: w.now,
        process: "p1".into(),
    };
    assert_eq!(std::mem::take(&mut w.store_ops), [StoreOp::Enqueue(entry.clone())]);

    // Take next asks the store once, however often the agent presses.
    w.agent_says(claire, AgentToHub::TakeNext { service: None });
    w.agent_says(claire, AgentToHub::TakeNext { service: None });
    assert_eq!(std::mem::take(&mut w.store_ops), [StoreOp::TakeNext { agent: claire, services: vec!["caf".into()] }]);
    assert!(w.agent_told(claire).is_empty(), "nothing decided before the store answers");

    w.taken(claire, &["caf"], Some(entry));
    assert!(w.agent_said(claire).iter().any(|m| matches!(m, HubToAgent::CallStarted { session: s, .. } if *s == session)));
    assert!(w.kiosk_said(k).iter().any(|m| matches!(m, HubToKiosk::CallAnswered { .. })));
    assert!(w.store_ops.is_empty(), "the store already took them out of line");

    // Nobody left: the store says so, and so does the hub.
    w.agent_says(claire, AgentToHub::HangUp { session });
    w.agent_said(claire);
    w.agent_says(claire, AgentToHub::TakeNext { service: Some("caf".into()) });
    w.store_ops.clear();
    w.taken(claire, &["caf"], None);
    assert_eq!(w.agent_told(claire), [HubToAgent::QueueEmpty { service: Some("caf".into()) }]);
}

#[test]
fn a_resident_the_store_hands_over_is_never_lost() {
    let mut w = World::shared("p1");
    let (k1, k2) = (w.kiosk("besse"), w.kiosk("ardes"));
    let claire = w.available_agent("claire", &["caf"]);
    let first = w.queue(k1, "caf");
    let second = w.queue(k2, "caf");
    let now = w.now;
    let entry = |session: &SessionId, process: &str| QueueEntry {
        session: session.clone(),
        service: "caf".into(),
        kiosk_id: "k".into(),
        site: "Mairie".into(),
        queued_at: now,
        process: process.into(),
    };
    w.store_ops.clear();

    // The first resident cancelled after the store took them: the core
    // asks for the next one rather than telling the agent nobody waits.
    w.agent_says(claire, AgentToHub::TakeNext { service: None });
    w.kiosk_says(k1, KioskToHub::CancelCall);
    w.kiosk_said(k1);
    w.store_ops.clear();
    w.taken(claire, &["caf"], Some(entry(&first, "p1")));
    assert_eq!(w.store_ops, [StoreOp::TakeNext { agent: claire, services: vec!["caf".into()] }]);
    w.store_ops.clear();

    // A resident held by another process cannot be called from here yet:
    // back in line at their place, and the agent is told why.
    w.taken(claire, &["caf"], Some(entry(&second, "p2")));
    assert_eq!(w.store_ops, [StoreOp::Enqueue(entry(&second, "p2"))]);
    let told = w.agent_told(claire);
    assert!(matches!(told.as_slice(), [HubToAgent::Error(e)] if e.code == ErrorCode::Internal), "{told:?}");
    w.store_ops.clear();

    // The agent went away while the store answered: back in line too.
    w.agent_says(claire, AgentToHub::TakeNext { service: None });
    w.agent_says(claire, AgentToHub::SetAvailability { available: false });
    w.agent_said(claire);
    w.store_ops.clear();
    w.taken(claire, &["caf"], Some(entry(&second, "p1")));
    assert_eq!(w.store_ops, [StoreOp::Enqueue(entry(&second, "p1"))]);
    assert!(w.kiosk_said(k2).iter().all(|m| !matches!(m, HubToKiosk::CallAnswered { .. })));

    // A wait that ends leaves the shared line too.
    w.store_ops.clear();
    w.disconnect(k2);
    assert_eq!(w.store_ops, [StoreOp::Leave(second)]);
}

/// Hands each bus message of `from` to `to` (whose name is `to_name`).
fn carry_bus(from: &mut World, to: &mut World, to_name: &str) {
    let messages: Vec<BusMessage> = std::mem::take(&mut from.bus_out)
        .into_iter()
        .map(|(dest, m)| {
            assert_eq!(dest, to_name, "addressed to the process holding the other side");
            m
        })
        .collect();
    for m in messages {
        to.hub.handle_bus(to.now, m);
        to.drain();
    }
}

#[test]
fn an_agent_on_one_process_takes_a_kiosk_waiting_on_another() {
    let (mut a, mut b) = (World::on_bus("a"), World::on_bus("b"));
    let kiosk = a.kiosk("besse");
    let claire = b.available_agent("claire", &["caf"]);
    let session = a.queue(kiosk, "caf");
    let Some(StoreOp::Enqueue(entry)) = a.store_ops.pop() else { panic!("the wait goes to the shared queue") };

    // B's agent takes; the store hands over A's resident.
    b.agent_says(claire, AgentToHub::TakeNext { service: None });
    b.store_ops.clear();
    b.taken(claire, &["caf"], Some(entry));
    let token = match b.agent_said(claire).as_slice() {
        [.., HubToAgent::CallStarted { session: s, site, resume_token: Some(t), .. }] if *s == session && site == "Mairie de besse" => t.clone(),
        other => panic!("expected call_started, got {other:?}"),
    };
    assert!(b.events.iter().any(|e| matches!(e, HubEvent::Answered { .. })), "the taker's process logs the answer");
    carry_bus(&mut b, &mut a, "a");
    let answered = a.kiosk_said(kiosk);
    assert!(
        answered.iter().any(|m| matches!(m, HubToKiosk::CallAnswered { resume_token: Some(t), agent_name, .. } if *t == token && agent_name == "claire (test)")),
        "{answered:?}"
    );

    // Signals cross in order, each checked where it is sent.
    a.kiosk_says(kiosk, KioskToHub::Signal { session: session.clone(), signal: offer() });
    carry_bus(&mut a, &mut b, "b");
    assert_eq!(b.agent_said(claire), [HubToAgent::Signal { session: session.clone(), signal: offer() }]);
    b.agent_says(claire, AgentToHub::Signal { session: session.clone(), signal: answer() });
    carry_bus(&mut b, &mut a, "a");
    assert_eq!(a.kiosk_said(kiosk), [HubToKiosk::Signal { session: session.clone(), signal: answer() }]);
    b.agent_says(claire, AgentToHub::Signal { session: session.clone(), signal: answer() });
    assert_eq!(b.error_code_of_agent(claire), ErrorCode::OutOfPlace, "no second answer, even across processes");
    assert!(b.bus_out.is_empty());

    // A hang-up on either side ends both.
    a.kiosk_says(kiosk, KioskToHub::HangUp { session: session.clone() });
    carry_bus(&mut a, &mut b, "b");
    assert!(b.agent_said(claire).iter().any(|m| matches!(m, HubToAgent::CallEnded { reason: EndReason::KioskHungUp, .. })));
    assert!(b.bus_out.is_empty(), "an end heard from the bus is not sent back");
}

/// Process `a` holds the kiosk, `b` the agent, in a call taken across the
/// bus; returns both worlds, the peers, the call and its token.
fn cross_process_call() -> (World, World, PeerId, PeerId, SessionId, ResumeToken) {
    let (mut a, mut b) = (World::on_bus("a"), World::on_bus("b"));
    let kiosk = a.kiosk("besse");
    let claire = b.available_agent("claire", &["caf"]);
    let session = a.queue(kiosk, "caf");
    let Some(StoreOp::Enqueue(entry)) = a.store_ops.pop() else { panic!("the wait goes to the shared queue") };
    b.agent_says(claire, AgentToHub::TakeNext { service: None });
    b.store_ops.clear();
    b.taken(claire, &["caf"], Some(entry));
    let (_, token) = b.take_token_from_said(claire);
    carry_bus(&mut b, &mut a, "a");
    a.kiosk_said(kiosk);
    a.kiosk_says(kiosk, KioskToHub::Signal { session: session.clone(), signal: offer() });
    carry_bus(&mut a, &mut b, "b");
    b.agent_says(claire, AgentToHub::Signal { session: session.clone(), signal: answer() });
    carry_bus(&mut b, &mut a, "a");
    a.kiosk_said(kiosk);
    b.agent_said(claire);
    (a, b, kiosk, claire, session, token)
}

impl World {
    fn take_token_from_said(&mut self, agent: PeerId) -> (SessionId, ResumeToken) {
        match self.agent_said(agent).into_iter().find(|m| matches!(m, HubToAgent::CallStarted { .. })) {
            Some(HubToAgent::CallStarted { session, resume_token: Some(token), .. }) => (session, token),
            other => panic!("expected call_started with a token, got {other:?}"),
        }
    }

    fn alive(&mut self, processes: &[&str]) {
        let alive = processes.iter().map(|p| (*p).to_owned()).collect();
        self.hub.handle_alive(self.now, &alive);
        self.drain();
    }
}

/// The store's answer to a claim of Besse's side of `session` (answered
/// at `at` by Claire), which process `a` held; the agent's side is on
/// `other`, or was lost at `other_lost_at`.
fn claimed(session: &SessionId, resume: TokenHash, at: Timestamp, other: Option<&str>, other_lost_at: Option<Timestamp>) -> Claimed {
    Claimed {
        call: RestoredCall {
            session: session.clone(),
            kiosk_id: "besse".into(),
            site: "Mairie de besse".into(),
            service: "caf".into(),
            agent: "claire".into(),
            agent_name: "claire (test)".into(),
            queued_at: at,
            answered_at: at,
            resume,
        },
        previous: Some("a".into()),
        other: other.map(String::from),
        other_lost_at,
    }
}

#[test]
fn when_the_kiosks_process_dies_the_agent_hears_peer_away_and_the_kiosk_comes_back_on_the_agents() {
    let (_a, mut b, _kiosk, claire, session, token) = cross_process_call();
    b.alive(&["b", "c"]);
    assert_eq!(b.agent_told(claire), [HubToAgent::PeerAway { session: session.clone() }]);

    // The kiosk fails over to b with its token: same call, both sides here
    // now, recorded as b's.
    let (kiosk, said) = b.kiosk_resuming("besse", Some(token));
    assert!(matches!(said.as_slice(), [HubToKiosk::CallResumed { session: s, .. }, ..] if *s == session), "{said:?}");
    assert_eq!(b.agent_told(claire), [HubToAgent::PeerBack { session: session.clone() }]);
    assert_eq!(b.store_ops, [StoreOp::Hold { session: session.clone(), side: Side::Kiosk }]);
    assert!(b.bus_out.is_empty(), "nobody left to tell on a dead process");
    b.kiosk_says(kiosk, KioskToHub::Signal { session: session.clone(), signal: offer() });
    assert_eq!(b.agent_said(claire), [HubToAgent::Signal { session: session.clone(), signal: offer() }]);

    // Ended here, once, when the agent hangs up.
    b.advance(7);
    b.agent_says(claire, AgentToHub::HangUp { session: session.clone() });
    let ends: Vec<&HubEvent> = b.events.iter().filter(|e| matches!(e, HubEvent::Ended { .. })).collect();
    assert!(matches!(ends.as_slice(), [HubEvent::Ended { reason: EndReason::AgentHungUp, at, .. }] if *at == b.now), "{ends:?}");
    assert!(b.kiosk_said(kiosk).iter().any(|m| matches!(m, HubToKiosk::CallEnded { .. })));
}

#[test]
fn a_kiosk_that_moves_while_its_process_still_runs_is_let_go_there_quietly() {
    let (mut a, mut b, old_kiosk, claire, session, token) = cross_process_call();
    let (_kiosk, said) = b.kiosk_resuming("besse", Some(token));
    assert!(matches!(said.as_slice(), [HubToKiosk::CallResumed { .. }, ..]), "{said:?}");
    carry_bus(&mut b, &mut a, "a");
    // a closes its stale connection and forgets the call without ending it.
    assert!(a.closed.contains(&old_kiosk));
    assert!(a.events.iter().all(|e| !matches!(e, HubEvent::Ended { .. })), "{:?}", a.events);
    a.disconnect(old_kiosk);
    a.advance(5);
    a.tick();
    assert!(a.bus_out.is_empty() && a.events.iter().all(|e| !matches!(e, HubEvent::Ended { .. })));
    assert_eq!(b.agent_told(claire), [HubToAgent::PeerBack { session }]);
}

#[test]
fn a_side_back_on_a_third_process_is_claimed_there_and_linked_to_the_other_side() {
    let (_a, mut b, _kiosk, claire, session, token) = cross_process_call();
    let hash = b.resume_hash(&session);
    b.alive(&["b", "c"]);
    b.agent_told(claire);

    // The kiosk comes back on c, which does not know the call: it asks the
    // store, which says the agent's side is on b.
    let mut c = World::on_bus("c");
    let (kiosk, said) = c.kiosk_resuming("besse", Some(token.clone()));
    assert!(said.is_empty(), "nothing before the store answers: {said:?}");
    assert_eq!(c.store_ops, [StoreOp::Claim {
        peer: kiosk,
        side: Side::Kiosk,
        session: session.clone(),
        identity: "besse".into(),
        resume: hash,
    }]);
    let claimed = claimed(&session, hash, c.now, Some("b"), None);
    c.hub.handle_claimed(c.now, kiosk, Side::Kiosk, session.clone(), Some(claimed));
    c.drain();
    assert!(matches!(c.kiosk_said(kiosk).as_slice(), [HubToKiosk::CallResumed { session: s, .. }] if *s == session));
    let told: Vec<&str> = c.bus_out.iter().map(|(to, _)| to.as_str()).collect();
    assert_eq!(told, ["b", "a"], "the agent's process, and the kiosk's old one");
    c.bus_out.retain(|(to, _)| to == "b");
    carry_bus(&mut c, &mut b, "b");
    assert_eq!(b.agent_told(claire), [HubToAgent::PeerBack { session: session.clone() }]);

    // Signals flow c → b → agent, and an ICE restart offer is in order.
    c.kiosk_says(kiosk, KioskToHub::Signal { session: session.clone(), signal: offer() });
    carry_bus(&mut c, &mut b, "b");
    assert_eq!(b.agent_said(claire), [HubToAgent::Signal { session: session.clone(), signal: offer() }]);

    // A made-up claim answer (no such open call) ends it for that side.
    let (other, _) = c.kiosk_resuming("ardes", Some(token));
    c.hub.handle_claimed(c.now, other, Side::Kiosk, "zzz-000001".into(), None);
    c.drain();
    assert!(matches!(c.kiosk_said(other).as_slice(), [HubToKiosk::CallEnded { reason: EndReason::KioskDisconnected, .. }]));
}

#[test]
fn a_claimed_call_whose_other_side_is_gone_is_held_for_it_and_ends_as_of_its_loss() {
    let mut c = World::on_bus("c");
    let (token, hash) = new_token(&"a-000001".into());
    let (kiosk, said) = c.kiosk_resuming("besse", Some(token));
    assert!(said.is_empty());
    let lost_at = c.now;
    c.advance(1);
    let claimed = claimed(&"a-000001".into(), hash, lost_at, None, Some(lost_at));
    c.hub.handle_claimed(c.now, kiosk, Side::Kiosk, "a-000001".into(), Some(claimed));
    c.drain();
    let said = c.kiosk_said(kiosk);
    assert!(matches!(said.as_slice(), [HubToKiosk::CallResumed { .. }, HubToKiosk::PeerAway { .. }]), "{said:?}");
    c.advance(2);
    c.tick();
    assert!(
        c.events.iter().any(|e| matches!(e, HubEvent::Ended { reason: EndReason::AgentDisconnected, at, .. } if *at == lost_at)),
        "{:?}",
        c.events
    );
}

#[test]
fn places_estimates_and_agents_views_count_everyone_in_the_shared_line() {
    let mut w = World::shared("a");
    let claire = w.agent("claire", &["caf"]);
    let k = w.kiosk("besse");
    let session = w.queue(k, "caf");
    // Someone queued a minute earlier on process b; two agents are
    // available on b, none here.
    let earlier = QueueEntry {
        session: "b-000001".into(),
        service: "caf".into(),
        kiosk_id: "ardes".into(),
        site: "Mairie d'Ardes".into(),
        queued_at: w.now - SignedDuration::from_mins(1),
        process: "b".into(),
    };
    let mine = QueueEntry {
        session: session.clone(),
        service: "caf".into(),
        kiosk_id: "besse".into(),
        site: "Mairie de besse".into(),
        queued_at: w.now,
        process: "a".into(),
    };
    let view = SharedView {
        alive: ["a", "b"].into_iter().map(String::from).collect(),
        available: [("b".to_owned(), [(ServiceId::from("caf"), 2)].into_iter().collect())].into_iter().collect(),
        waiting: vec![mine.clone(), earlier.clone()],
    };
    w.agent_said(claire);
    w.hub.handle_shared(w.now, view.clone());
    w.drain();
    match w.kiosk_said(k).as_slice() {
        [HubToKiosk::QueueUpdate { position: 2, estimated_wait: Some(_), .. }] => {}
        other => panic!("expected second place with an estimate, got {other:?}"),
    }
    assert_eq!(waiting_in(&w.agent_said(claire), "caf"), Some(vec!["ardes".into(), "besse".into()]));

    // The same view again changes nothing; b's resident taken moves us up.
    w.hub.handle_shared(w.now, view.clone());
    w.drain();
    assert!(w.kiosk_said(k).is_empty() && w.agent_said(claire).is_empty());
    w.hub.handle_shared(w.now, SharedView { waiting: vec![mine], ..view });
    w.drain();
    assert!(matches!(w.kiosk_said(k).as_slice(), [HubToKiosk::QueueUpdate { position: 1, .. }]));
    assert_eq!(w.hub.available_here(), BTreeMap::new(), "claire is away");
}

#[test]
fn a_resident_whose_kiosk_comes_back_on_another_process_keeps_their_place() {
    let mut c = World::on_bus("c");
    let entry = |session: &str, kiosk: &str, process: &str, minutes_ago: i64| QueueEntry {
        session: session.into(),
        service: "caf".into(),
        kiosk_id: kiosk.into(),
        site: format!("Mairie de {kiosk}"),
        queued_at: c.now - SignedDuration::from_mins(minutes_ago),
        process: process.into(),
    };
    let (besse, ardes) = (entry("a-000001", "besse", "a", 2), entry("b-000001", "ardes", "b", 3));
    c.hub.handle_shared(c.now, SharedView {
        alive: ["b", "c"].into_iter().map(String::from).collect(),
        waiting: vec![besse.clone(), ardes],
        ..SharedView::default()
    });
    c.drain();
    let k = c.kiosk("besse");
    c.kiosk_says(k, KioskToHub::RequestCall { service: "caf".into() });
    assert!(matches!(
        c.kiosk_said(k).as_slice(),
        [HubToKiosk::Queued { session, position: 2, .. }] if session.as_str() == "a-000001"
    ));
    assert_eq!(c.store_ops, [StoreOp::Adopt(QueueEntry { process: "c".into(), ..besse })]);
    assert!(matches!(c.bus_out.as_slice(), [(to, BusMessage::WaitMoved { .. })] if to == "a"));
    assert!(c.events.iter().all(|e| !matches!(e, HubEvent::Queued { .. })), "the same visit, logged once");

    // On a process that still runs, the moved wait is let go quietly.
    let mut a = World::shared("a");
    let stale = a.kiosk("besse");
    let session = a.queue(stale, "caf");
    a.store_ops.clear();
    a.hub.handle_bus(a.now, BusMessage::WaitMoved { session, to: "c".into() });
    a.drain();
    assert!(a.closed.contains(&stale));
    assert!(a.store_ops.is_empty() && a.events.iter().all(|e| !matches!(e, HubEvent::Ended { .. })));
}
