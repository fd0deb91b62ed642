//! Losing the hub mid-call: held calls, tokens, restored calls.

use super::*;

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
