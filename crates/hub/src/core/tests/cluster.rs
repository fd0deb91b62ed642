//! A queue shared with other hub processes: the store decides who is
//! next; calls across processes over the bus.

use super::*;

impl World {
    pub(super) fn shared(process: &str) -> World {
        let mut world = World::new();
        world.hub.set_topology(Topology::SharedQueue { process: process.into() });
        world
    }

    /// A process of a shared queue, linked to the others by a bus.
    pub(super) fn on_bus(process: &str) -> World {
        let mut world = World::new();
        world.hub.set_topology(Topology::Bus { process: process.into() });
        world
    }

    pub(super) fn taken(&mut self, agent: PeerId, services: &[&str], entry: Option<QueueEntry>) {
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
        transferred_from: None,
        appointment: None,
    };
    assert_eq!(std::mem::take(&mut w.store_ops), [StoreOp::Enqueue(entry.clone())]);

    // Take next asks the store once, however often the agent presses.
    w.agent_says(claire, AgentToHub::TakeNext { service: None });
    w.agent_says(claire, AgentToHub::TakeNext { service: None });
    assert_eq!(std::mem::take(&mut w.store_ops), [StoreOp::TakeNext { agent: claire, at: w.now, holding: vec![], services: vec!["caf".into()] }]);
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
        transferred_from: None,
        appointment: None,
    };
    w.store_ops.clear();

    // The first resident cancelled after the store took them: the core
    // asks for the next one rather than telling the agent nobody waits.
    w.agent_says(claire, AgentToHub::TakeNext { service: None });
    w.kiosk_says(k1, KioskToHub::CancelCall);
    w.kiosk_said(k1);
    w.store_ops.clear();
    w.taken(claire, &["caf"], Some(entry(&first, "p1")));
    assert_eq!(w.store_ops, [StoreOp::TakeNext { agent: claire, at: now, holding: vec![], services: vec!["caf".into()] }]);
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
pub(super) fn carry_bus(from: &mut World, to: &mut World, to_name: &str) {
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
pub(super) fn cross_process_call() -> (World, World, PeerId, PeerId, SessionId, ResumeToken) {
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
        transferred_from: None,
        appointment: None,
    };
    let mine = QueueEntry {
        session: session.clone(),
        service: "caf".into(),
        kiosk_id: "besse".into(),
        site: "Mairie de besse".into(),
        queued_at: w.now,
        process: "a".into(),
        transferred_from: None,
        appointment: None,
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
        transferred_from: None,
        appointment: None,
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
