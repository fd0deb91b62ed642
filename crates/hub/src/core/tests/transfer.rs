//! Transfers: an agent hands the resident over to the front of another
//! line or to a colleague; the first leg ends for the agent only, the
//! second is a wait of its own, linked to it in the session log.

use super::cluster::carry_bus;
use super::*;

impl World {
    fn transfer(&mut self, agent: PeerId, session: &SessionId, to: TransferTarget) {
        self.agent_says(agent, AgentToHub::Transfer { session: session.clone(), to });
    }
}

fn to_service(service: &str) -> TransferTarget {
    TransferTarget::Service { service: service.into() }
}

fn transferred(said: &[HubToKiosk]) -> (SessionId, ServiceId, u32) {
    match said {
        [HubToKiosk::CallTransferred { to_session, service, position, .. }] => (to_session.clone(), service.clone(), *position),
        other => panic!("expected call_transferred alone, got {other:?}"),
    }
}

/// Who waits for `service`, as the agent sees it: kiosk and where from.
fn line_of(msgs: &[HubToAgent], service: &str) -> Vec<(String, Option<String>)> {
    msgs.iter()
        .rev()
        .find_map(|m| match m {
            HubToAgent::Queues { queues, .. } => queues.iter().find(|q| q.service.as_str() == service).map(|q| {
                q.waiting.iter().map(|w| (w.kiosk_id.to_string(), w.transferred_from.as_ref().map(ToString::to_string))).collect()
            }),
            _ => None,
        })
        .expect("a queues message")
}

#[test]
fn a_transferred_resident_goes_ahead_of_those_waiting_and_behind_earlier_transfers() {
    let mut w = World::new();
    let (besse, ardes, murol, egliseneuve) = (w.kiosk("besse"), w.kiosk("ardes"), w.kiosk("murol"), w.kiosk("egliseneuve"));
    let claire = w.available_agent("claire", &["caf"]);
    let denise = w.available_agent("denise", &["caf"]);
    let bruno = w.agent("bruno", &["msa"]);
    // Ardes already waits for the MSA; Besse and Murol are in CAF calls.
    w.queue(ardes, "msa");
    let first = w.queue(besse, "caf");
    assert_eq!(w.take(claire), first);
    let other = w.queue(murol, "caf");
    assert_eq!(w.take(denise), other);
    w.kiosk_said(besse);
    w.kiosk_said(murol);
    w.kiosk_said(ardes);
    w.agent_said(bruno);
    w.events.clear();

    w.transfer(claire, &first, to_service("msa"));
    assert_eq!(w.agent_told(claire), [HubToAgent::CallEnded { session: first.clone(), reason: EndReason::Transferred }]);
    let (second, service, position) = transferred(&w.kiosk_said(besse));
    assert_eq!((service.as_str(), position), ("msa", 1), "at the front of the MSA's line");
    assert_ne!(second, first, "the second leg is a visit record of its own");
    assert!(matches!(w.kiosk_said(ardes).as_slice(), [HubToKiosk::QueueUpdate { position: 2, .. }]));
    assert_eq!(line_of(&w.agent_said(bruno), "msa"), [("besse".into(), Some("caf".into())), ("ardes".into(), None)]);
    // Both legs in the log, linked; nothing personal.
    assert_eq!(w.events, [
        HubEvent::Ended { session: first.clone(), reason: EndReason::Transferred, at: w.now },
        HubEvent::Transferred { session: second.clone(), previous: first.clone(), kiosk_id: "besse".into(), service: "msa".into(), at: w.now },
    ]);
    // The agent is free for the next resident; the kiosk has nothing to rate yet.
    w.kiosk_says(besse, KioskToHub::Rate { session: first.clone(), rating: Rating::Happy });
    assert_eq!(w.error_code_of_kiosk(besse), ErrorCode::NotYourSession);

    // A later transfer waits behind the earlier one, ahead of Ardes.
    w.advance(1);
    w.transfer(denise, &other, to_service("msa"));
    let (third, _, position) = transferred(&w.kiosk_said(murol));
    assert_eq!(position, 2);
    assert_eq!(
        line_of(&w.agent_said(bruno), "msa"),
        [("besse".into(), Some("caf".into())), ("murol".into(), Some("caf".into())), ("ardes".into(), None)]
    );
    // One who queues now goes behind everyone.
    w.queue(egliseneuve, "msa");

    // The MSA's agent takes Besse first, knowing where they come from.
    w.agent_says(bruno, AgentToHub::SetAvailability { available: true });
    w.agent_says(bruno, AgentToHub::TakeNext { service: None });
    let said = w.agent_told(bruno);
    let [_, HubToAgent::CallStarted { session, transferred_from, .. }] = said.as_slice() else { panic!("{said:?}") };
    assert_eq!((session, transferred_from.as_ref().map(ServiceId::as_str)), (&second, Some("caf")));
    // (The estimate changed when the MSA's agent became available.)
    assert!(matches!(w.kiosk_said(besse).as_slice(), [.., HubToKiosk::CallAnswered { session, .. }] if *session == second));

    // The second leg ends as any call: its kiosk may rate it.
    w.agent_says(bruno, AgentToHub::HangUp { session: second.clone() });
    w.kiosk_said(besse);
    w.kiosk_says(besse, KioskToHub::Rate { session: second.clone(), rating: Rating::Happy });
    assert!(w.kiosk_said(besse).is_empty());
    // Murol next, then Ardes: transfers in their order, then the line.
    w.agent_says(bruno, AgentToHub::TakeNext { service: None });
    assert!(w.agent_told(bruno).iter().any(|m| matches!(m, HubToAgent::CallStarted { session, .. } if *session == third)));
}

#[test]
fn a_transfer_that_cannot_happen_is_refused_and_the_call_goes_on() {
    // Wednesday 14:00 in Paris: France Travail is closed, the CAF open.
    let mut w = World::at("2026-11-25T13:00:00Z");
    let (besse, ardes) = (w.kiosk("besse"), w.kiosk("ardes"));
    let claire = w.available_agent("claire", &["caf"]);
    let denise = w.available_agent("denise", &["caf"]);
    let session = w.queue(besse, "caf");
    assert_eq!(w.take(claire), session);
    w.kiosk_said(besse);
    let refused = |w: &mut World, to: TransferTarget, code: ErrorCode, words: &str| {
        w.transfer(claire, &session, to);
        let said = w.agent_told(claire);
        let [HubToAgent::Error(e)] = said.as_slice() else { panic!("{said:?}") };
        assert_eq!(e.code, code, "{}", e.message);
        assert!(e.message.contains(words), "{}", e.message);
        assert!(w.kiosk_said(besse).is_empty(), "the kiosk hears nothing");
    };
    refused(&mut w, to_service("france-travail"), ErrorCode::OutOfPlace, "France Travail is closed");
    refused(&mut w, to_service("nowhere"), ErrorCode::OutOfPlace, "no service");
    refused(&mut w, TransferTarget::Agent { login: "claire".into() }, ErrorCode::OutOfPlace, "yourself");
    refused(&mut w, TransferTarget::Agent { login: "nobody".into() }, ErrorCode::OutOfPlace, "not signed in");
    w.agent("bruno", &["msa"]);
    refused(&mut w, TransferTarget::Agent { login: "bruno".into() }, ErrorCode::OutOfPlace, "does not serve");
    w.agent_says(denise, AgentToHub::SetAvailability { available: false });
    refused(&mut w, TransferTarget::Agent { login: "denise".into() }, ErrorCode::OutOfPlace, "away");
    w.agent_says(denise, AgentToHub::SetAvailability { available: true });
    w.queue(ardes, "caf");
    w.take(denise);
    refused(&mut w, TransferTarget::Agent { login: "denise".into() }, ErrorCode::OutOfPlace, "busy");
    // Not this agent's call.
    w.agent_says(denise, AgentToHub::Transfer { session: session.clone(), to: to_service("msa") });
    assert_eq!(w.error_code_of_agent(denise), ErrorCode::NotYourSession);

    // The call is untouched: its signals still pass.
    w.kiosk_says(besse, KioskToHub::Signal { session: session.clone(), signal: offer() });
    assert!(w.agent_told(claire).iter().any(|m| matches!(m, HubToAgent::Signal { .. })));
    // A kiosk reconnecting cannot be transferred until it is back.
    w.disconnect(besse);
    refused_away(&mut w, claire, &session);
}

fn refused_away(w: &mut World, claire: PeerId, session: &SessionId) {
    w.transfer(claire, session, to_service("msa"));
    let said = w.agent_told(claire);
    assert!(matches!(said.as_slice(), [HubToAgent::PeerAway { .. }, HubToAgent::Error(e)] if e.message.contains("reconnecting")), "{said:?}");
}

#[test]
fn a_colleague_of_the_same_service_takes_the_resident_at_once() {
    let mut w = World::new();
    let (besse, ardes) = (w.kiosk("besse"), w.kiosk("ardes"));
    let claire = w.available_agent("claire", &["caf"]);
    let denise = w.available_agent("denise", &["caf"]);
    // Ardes waits for the CAF: the colleague takes Besse anyway.
    w.queue(ardes, "caf");
    w.agent_says(denise, AgentToHub::SetAvailability { available: false });
    let first = w.queue(besse, "caf");
    w.agent_says(claire, AgentToHub::TakeNext { service: None });
    w.agent_said(claire);
    w.agent_says(claire, AgentToHub::HangUp { session: w.hub.agents[&claire].call.clone().unwrap() });
    w.agent_said(claire);
    assert_eq!(w.take(claire), first);
    w.agent_says(denise, AgentToHub::SetAvailability { available: true });
    w.kiosk_said(besse);
    w.agent_said(denise);

    w.transfer(claire, &first, TransferTarget::Agent { login: "denise".into() });
    assert_eq!(w.agent_told(claire), [HubToAgent::CallEnded { session: first.clone(), reason: EndReason::Transferred }]);
    let said = w.kiosk_said(besse);
    let [HubToKiosk::CallTransferred { to_session, position: 1, .. }, HubToKiosk::CallAnswered { session, agent_name, .. }] = said.as_slice()
    else {
        panic!("{said:?}")
    };
    assert_eq!((session, agent_name.as_str()), (to_session, "denise (test)"));
    let said = w.agent_told(denise);
    assert!(
        matches!(said.as_slice(), [HubToAgent::CallStarted { session: s, transferred_from: Some(from), .. }] if s == to_session && from.as_str() == "caf"),
        "{said:?}"
    );
}

#[test]
fn with_a_shared_queue_a_transferred_resident_is_first_in_the_store_and_in_everyone_s_line() {
    let mut w = World::shared("p1");
    let besse = w.kiosk("besse");
    let claire = w.available_agent("claire", &["caf"]);
    let bruno = w.agent("bruno", &["msa"]);
    let first = w.queue(besse, "caf");
    let Some(StoreOp::Enqueue(entry)) = w.store_ops.pop() else { panic!() };
    w.agent_says(claire, AgentToHub::TakeNext { service: None });
    w.taken(claire, &["caf"], Some(entry));
    w.store_ops.clear();
    w.kiosk_said(besse);
    // Someone waits for the MSA on another process since before.
    let earlier = QueueEntry {
        session: "p2-000001".into(),
        service: "msa".into(),
        kiosk_id: "ardes".into(),
        site: "Mairie d'Ardes".into(),
        queued_at: w.now.checked_sub(10.minutes()).unwrap(),
        process: "p2".into(),
        transferred_from: None,
        appointment: None,
    };
    w.hub.handle_shared(w.now, SharedView { waiting: vec![earlier], ..SharedView::default() });
    w.drain();
    w.agent_said(bruno);

    w.transfer(claire, &first, to_service("msa"));
    let (second, _, position) = transferred(&w.kiosk_said(besse));
    assert_eq!(position, 1, "ahead of the resident waiting on the other process");
    assert_eq!(w.store_ops, [StoreOp::Enqueue(QueueEntry {
        session: second,
        service: "msa".into(),
        kiosk_id: "besse".into(),
        site: "Mairie de besse".into(),
        queued_at: w.now,
        process: "p1".into(),
        transferred_from: Some("caf".into()),
        appointment: None,
    })]);
    assert_eq!(line_of(&w.agent_said(bruno), "msa"), [("besse".into(), Some("caf".into())), ("ardes".into(), None)]);
}

#[test]
fn an_agent_on_one_process_transfers_a_kiosk_connected_to_another() {
    let (mut a, mut b) = (World::on_bus("a"), World::on_bus("b"));
    let kiosk = a.kiosk("besse");
    let claire = b.available_agent("claire", &["caf"]);
    let first = a.queue(kiosk, "caf");
    let Some(StoreOp::Enqueue(entry)) = a.store_ops.pop() else { panic!() };
    b.agent_says(claire, AgentToHub::TakeNext { service: None });
    b.taken(claire, &["caf"], Some(entry));
    carry_bus(&mut b, &mut a, "a");
    a.kiosk_said(kiosk);
    b.agent_said(claire);
    a.events.clear();
    b.events.clear();
    a.store_ops.clear();
    b.store_ops.clear();

    // A colleague by name must be on the kiosk's process: refused here.
    b.transfer(claire, &first, TransferTarget::Agent { login: "denise".into() });
    assert!(matches!(b.agent_told(claire).as_slice(), [HubToAgent::Error(e)] if e.message.contains("another hub process")));

    b.transfer(claire, &first, to_service("msa"));
    assert!(b.agent_told(claire).is_empty(), "the call goes on until the kiosk's process answers");
    assert!(b.events.is_empty(), "the kiosk's process logs the transfer");
    assert_eq!(b.bus_out, [("a".to_owned(), BusMessage::Transfer { session: first.clone(), service: "msa".into() })]);
    carry_bus(&mut b, &mut a, "a");
    assert!(matches!(a.bus_out.as_slice(), [(to, BusMessage::Ended { session, reason: EndReason::Transferred, .. })] if to == "b" && *session == first));
    carry_bus(&mut a, &mut b, "b");
    assert_eq!(b.agent_told(claire), [HubToAgent::CallEnded { session: first.clone(), reason: EndReason::Transferred }]);
    assert!(b.bus_out.is_empty(), "nothing goes back: the call is over on both sides");
    let (second, service, position) = transferred(&a.kiosk_said(kiosk));
    assert_eq!((service.as_str(), position), ("msa", 1));
    assert!(matches!(a.store_ops.as_slice(), [StoreOp::Enqueue(e)] if e.session == second && e.transferred_from == Some("caf".into())));
    assert!(matches!(a.events.as_slice(), [
        HubEvent::Ended { reason: EndReason::Transferred, .. },
        HubEvent::Transferred { previous, .. },
    ] if *previous == first));
    // Claire is free on B.
    b.agent_says(claire, AgentToHub::TakeNext { service: None });
    assert!(matches!(b.store_ops.last(), Some(StoreOp::TakeNext { .. })));
}

#[test]
fn a_kiosk_of_protocol_1_is_served_but_its_resident_is_not_transferred() {
    let mut w = World::new();
    let old = w.kiosk_speaking("ardes", 1);
    let claire = w.available_agent("claire", &["caf"]);
    w.available_agent("denise", &["caf"]);
    let session = w.queue(old, "caf");
    assert_eq!(w.take(claire), session);
    w.kiosk_said(old);
    for to in [to_service("msa"), TransferTarget::Agent { login: "denise".into() }] {
        w.transfer(claire, &session, to);
        let said = w.agent_told(claire);
        let [HubToAgent::Error(e)] = said.as_slice() else { panic!("{said:?}") };
        assert_eq!(e.code, ErrorCode::OutOfPlace);
        assert!(e.message.contains("older version (protocol 1)") && e.message.contains("call goes on"), "{}", e.message);
        assert!(w.kiosk_said(old).is_empty(), "a version-1 kiosk never hears call_transferred");
    }
    // The call is untouched: its signals still pass, and it ends as usual.
    w.kiosk_says(old, KioskToHub::Signal { session: session.clone(), signal: offer() });
    assert!(w.agent_told(claire).iter().any(|m| matches!(m, HubToAgent::Signal { .. })));
    w.agent_says(claire, AgentToHub::HangUp { session: session.clone() });
    assert!(w.kiosk_said(old).contains(&HubToKiosk::CallEnded { session, reason: EndReason::AgentHungUp }));
}

#[test]
fn across_processes_a_kiosk_of_protocol_1_refuses_the_transfer_back_to_the_agent() {
    let (mut a, mut b) = (World::on_bus("a"), World::on_bus("b"));
    let kiosk = a.kiosk_speaking("ardes", 1);
    let claire = b.available_agent("claire", &["caf"]);
    let first = a.queue(kiosk, "caf");
    let Some(StoreOp::Enqueue(entry)) = a.store_ops.pop() else { panic!() };
    b.agent_says(claire, AgentToHub::TakeNext { service: None });
    b.taken(claire, &["caf"], Some(entry));
    carry_bus(&mut b, &mut a, "a");
    a.kiosk_said(kiosk);
    b.agent_said(claire);
    a.events.clear();

    b.transfer(claire, &first, to_service("msa"));
    carry_bus(&mut b, &mut a, "a");
    assert!(a.kiosk_said(kiosk).is_empty(), "the kiosk hears nothing");
    assert!(a.events.is_empty(), "nothing to log: no transfer happened");
    assert!(matches!(a.bus_out.as_slice(), [(to, BusMessage::TransferRefused { session, .. })] if to == "b" && *session == first));
    carry_bus(&mut a, &mut b, "b");
    let said = b.agent_told(claire);
    assert!(matches!(said.as_slice(), [HubToAgent::Error(e)] if e.message.contains("older version")), "{said:?}");
    // Still Claire's call on both processes: a hang-up reaches the kiosk.
    b.agent_says(claire, AgentToHub::HangUp { session: first.clone() });
    carry_bus(&mut b, &mut a, "a");
    assert!(a.kiosk_said(kiosk).contains(&HubToKiosk::CallEnded { session: first, reason: EndReason::AgentHungUp }));
}
