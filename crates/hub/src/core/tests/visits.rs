//! One process: waiting, taking, the signaling relay, hang-up, ratings.

use super::*;

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
    // One idle agent: the first is answered now ("un conseiller arrive"),
    // the second after a typical 15-minute CAF call (issue 23).
    assert_eq!((wa.seconds, wb.seconds), (0, 900));
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
        [HubToKiosk::QueueUpdate { position: 1, estimated_wait: Some(WaitEstimate { seconds: 0 }), .. }]
    ));
    // A 5-minute call pulls the 15-minute average down by a fifth of the gap.
    let s = w.take(claire);
    w.advance(5);
    w.kiosk_says(k, KioskToHub::HangUp { session: s });
    let (k2, k3) = (w.kiosk("ardes"), w.kiosk("egliseneuve"));
    w.kiosk_says(k2, KioskToHub::RequestCall { service: "caf".into() });
    w.kiosk_says(k3, KioskToHub::RequestCall { service: "caf".into() });
    assert!(matches!(w.kiosk_said(k2).as_slice(), [HubToKiosk::Queued { estimated_wait: Some(WaitEstimate { seconds: 0 }), .. }]));
    assert!(matches!(
        w.kiosk_said(k3).as_slice(),
        [HubToKiosk::Queued { estimated_wait: Some(WaitEstimate { seconds: 780 }), .. }]
    ));
}

#[test]
fn a_busy_agents_elapsed_call_shortens_the_estimate() {
    let mut w = World::new();
    let claire = w.available_agent("claire", &["caf"]);
    let (a, b) = (w.kiosk("besse"), w.kiosk("ardes"));
    w.queue(a, "caf");
    w.take(claire);
    w.advance(10);
    w.kiosk_says(b, KioskToHub::RequestCall { service: "caf".into() });
    // 15-minute typical call, 10 minutes gone: about 5 left.
    assert!(matches!(
        w.kiosk_said(b).as_slice(),
        [HubToKiosk::Queued { position: 1, estimated_wait: Some(WaitEstimate { seconds: 300 }), .. }]
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

#[test]
fn availability_flapping_reaches_the_others_at_most_once_a_second() {
    let mut w = World::new();
    let (first, second) = (w.kiosk("besse"), w.kiosk("ardes"));
    w.kiosk_says(first, KioskToHub::RequestCall { service: "caf".into() });
    w.kiosk_says(second, KioskToHub::RequestCall { service: "caf".into() });
    let (claire, paul) = (w.agent("claire", &["caf"]), w.available_agent("paul", &["caf"]));
    w.kiosk_said(second);
    w.agent_said(paul);
    w.now += AVAILABILITY_QUIET * 2;
    // Claire's console (or a script) toggles fifty times within the second,
    // ending away.
    for i in 0..50 {
        w.agent_says(claire, AgentToHub::SetAvailability { available: i % 2 == 0 });
    }
    let own = w.agent_said(claire).into_iter().filter(|m| matches!(m, HubToAgent::Availability { .. })).count();
    assert_eq!(own, 50, "the agent herself is answered each time");
    let queues = w.agent_said(paul).iter().filter(|m| matches!(m, HubToAgent::Queues { .. })).count();
    assert_eq!(queues, 1, "the other agent gets the first change only");
    // Second in line: with two idle agents, one is free for them now.
    assert!(matches!(
        w.kiosk_said(second).as_slice(),
        [HubToKiosk::QueueUpdate { position: 2, estimated_wait: Some(WaitEstimate { seconds: 0 }), .. }]
    ));
    // The rest is held until the quiet time ends, then told once, as it
    // stands: Paul alone, a typical call after the first resident.
    assert_eq!(w.hub.poll_timeout(), Some(w.now + AVAILABILITY_QUIET));
    w.now += AVAILABILITY_QUIET;
    w.tick();
    assert_eq!(w.agent_said(paul).iter().filter(|m| matches!(m, HubToAgent::Queues { .. })).count(), 1);
    assert!(matches!(
        w.kiosk_said(second).as_slice(),
        [HubToKiosk::QueueUpdate { position: 2, estimated_wait: Some(WaitEstimate { seconds: 900 }), .. }]
    ));
    assert_eq!(w.hub.poll_timeout(), None);
}
