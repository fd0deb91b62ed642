//! The supervisor's board: lines, agents' states and today's figures
//! follow a visit; agents of other processes come and go over the bus.

use super::*;

impl World {
    fn supervisor(&mut self, login: &str) -> PeerId {
        self.next_peer += 1;
        let peer = PeerId(self.next_peer);
        self.hub.handle_supervisor_connected(self.now, peer, login.into(), format!("{login} (réseau)"));
        self.drain();
        peer
    }

    fn supervisor_said(&mut self, peer: PeerId) -> Vec<HubToSupervisor> {
        self.supervisor_inbox.remove(&peer).unwrap_or_default()
    }
}

fn line(service: &str, name: &str, waiting: u32, oldest: Option<Timestamp>) -> HubToSupervisor {
    HubToSupervisor::Line { line: ServiceLine { service: service.into(), name: name.into(), waiting, oldest_queued_at: oldest } }
}

/// The states told, as (login, state, service, since).
fn states(said: &[HubToSupervisor]) -> Vec<(String, AgentState, Option<String>, Timestamp)> {
    said.iter()
        .filter_map(|m| match m {
            HubToSupervisor::Agent { agent } => {
                Some((agent.login.to_string(), agent.state, agent.service.as_ref().map(|s| s.to_string()), agent.since))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_supervisor_follows_a_visit_from_waiting_to_ended() {
    let mut w = World::new();
    let helene = w.supervisor("helene");
    let said = w.supervisor_said(helene);
    let [HubToSupervisor::Welcome { login, .. }, HubToSupervisor::Board { now, services, agents }] = &said[..] else {
        panic!("welcome then board: {said:?}")
    };
    assert_eq!((login.as_str(), *now), ("helene", w.now));
    assert_eq!(services.len(), 8, "every service of the catalogue: {services:?}");
    assert!(services.iter().all(|l| l.waiting == 0 && l.oldest_queued_at.is_none()));
    assert_eq!(agents, &[]);
    assert_eq!(w.refreshes, [false], "today's figures are read for the new page");

    let start = w.now;
    let marie = w.agent("marie", &["caf"]);
    assert_eq!(states(&w.supervisor_said(helene)), [("marie".into(), AgentState::Away, None, start)]);
    w.advance(1);
    w.agent_says(marie, AgentToHub::SetAvailability { available: true });
    assert_eq!(states(&w.supervisor_said(helene)), [("marie".into(), AgentState::Available, None, w.now)]);

    // Two residents wait: the line says how many, and since when the first.
    w.refreshes.clear();
    let first_at = w.now;
    let k1 = w.kiosk("besse");
    w.queue(k1, "caf");
    assert_eq!(w.supervisor_said(helene), [line("caf", "CAF", 1, Some(first_at))]);
    assert_eq!(w.refreshes, [true], "the wait is in the log: the figures follow");
    w.advance(3);
    let k2 = w.kiosk("ardes");
    let second_at = w.now;
    w.queue(k2, "caf");
    assert_eq!(w.supervisor_said(helene), [line("caf", "CAF", 2, Some(first_at))]);

    // Marie takes the first: one waits, since the second's time; she is in a call.
    w.advance(1);
    let session = w.take(marie);
    let said = w.supervisor_said(helene);
    assert!(said.contains(&line("caf", "CAF", 1, Some(second_at))), "{said:?}");
    assert_eq!(states(&said), [("marie".into(), AgentState::InCall, Some("caf".into()), w.now)]);

    // The call ends and the resident rates it: the figures are read after each.
    w.advance(5);
    w.refreshes.clear();
    w.agent_says(marie, AgentToHub::HangUp { session: session.clone() });
    assert_eq!(states(&w.supervisor_said(helene)), [("marie".into(), AgentState::Available, None, w.now)]);
    w.kiosk_said(k1);
    w.kiosk_says(k1, KioskToHub::Rate { session, rating: Rating::Happy });
    assert_eq!(w.refreshes, [true, true]);
    // A heartbeat changes nothing on the board.
    w.kiosk_says(k1, KioskToHub::Heartbeat { seq: 1, app_version: "0.1.0".into(), config_version: None, devices: None, rtt_ms: None, last_call: None });
    assert_eq!(w.supervisor_said(helene), []);

    let today = DayFigures {
        date: jiff::civil::date(2026, 11, 23),
        services: vec![ServiceDay { service: "caf".into(), answered: 1, abandoned: 0, median_wait_seconds: Some(60.0), happy: 1, neutral: 0, unhappy: 0 }],
        agents: vec![AgentDay { login: "marie".into(), calls: 1 }],
    };
    w.hub.handle_today(today.clone());
    w.drain();
    assert_eq!(w.supervisor_said(helene), [HubToSupervisor::Today { today: today.clone() }]);
    w.hub.handle_today(today.clone());
    w.drain();
    assert_eq!(w.supervisor_said(helene), [], "the same figures are not told again");
    // A second page gets them with the board.
    let other = w.supervisor("paul");
    assert!(w.supervisor_said(other).contains(&HubToSupervisor::Today { today }));

    // The resident still waiting gives up; Marie signs out.
    w.kiosk_says(k2, KioskToHub::CancelCall);
    assert_eq!(w.supervisor_said(helene), [line("caf", "CAF", 0, None)]);
    w.disconnect(marie);
    assert_eq!(w.supervisor_said(helene), [HubToSupervisor::AgentGone { login: "marie".into() }]);
    // The page may say nothing after its hello.
    w.hub.handle_supervisor_message(w.now, helene, SupervisorToHub::Hello { protocol: PROTOCOL_VERSION });
    w.drain();
    assert!(matches!(&w.supervisor_said(helene)[..], [HubToSupervisor::Error(e)] if e.code == ErrorCode::OutOfPlace));
    // A closed page is told nothing more.
    w.disconnect(helene);
    w.agent("marie", &["caf"]);
    assert_eq!(w.supervisor_said(helene), []);
}

#[test]
fn agents_of_other_processes_show_on_the_board_and_leave_with_their_process() {
    let bus = |w: &mut World, name: &str| w.hub.set_topology(Topology::Bus { process: name.into() });
    let (mut p1, mut p2) = (World::new(), World::new());
    bus(&mut p1, "p1");
    bus(&mut p2, "p2");
    let helene = p2.supervisor("helene");
    p2.supervisor_said(helene);
    assert_eq!(p2.supervision_bus, [(EVERY_PROCESS.to_string(), BusMessage::SupervisorRollCall)]);
    p2.supervision_bus.clear();

    // Marie signs in on p1: p1 tells every process, p2's supervisor sees her.
    let marie = p1.available_agent("marie", &["caf"]);
    let sent = std::mem::take(&mut p1.supervision_bus);
    assert_eq!(sent.len(), 2, "away, then available: {sent:?}");
    for (to, message) in sent {
        assert_eq!(to, EVERY_PROCESS);
        p2.hub.handle_bus(p2.now, message);
        p2.drain();
    }
    assert_eq!(states(&p2.supervisor_said(helene)).last(), Some(&("marie".into(), AgentState::Available, None, p1.now)));

    // An older entry, or a sign-out from a process that does not hold her, changes nothing.
    let stale = BoardAgent {
        login: "marie".into(),
        display_name: "marie (test)".into(),
        services: vec!["caf".into()],
        state: AgentState::Away,
        service: None,
        since: "2026-11-23T08:00:00Z".parse().unwrap(),
        updated: "2026-11-23T08:00:00Z".parse().unwrap(),
    };
    p2.hub.handle_bus(p2.now, BusMessage::SupervisorAgent { login: "marie".into(), agent: Some(stale), from: "p3".into() });
    p2.hub.handle_bus(p2.now, BusMessage::SupervisorAgent { login: "marie".into(), agent: None, from: "p3".into() });
    p2.drain();
    assert_eq!(p2.supervisor_said(helene), []);

    // p1 answers a roll call with its agents.
    p1.hub.handle_bus(p1.now, BusMessage::SupervisorRollCall);
    p1.drain();
    assert!(matches!(&p1.supervision_bus[..], [(_, BusMessage::SupervisorAgent { agent: Some(a), from, .. })] if a.login.as_str() == "marie" && from == "p1"));
    p1.supervision_bus.clear();

    // A visit logged on p1 has p2 read its figures; its own echo does not.
    p2.refreshes.clear();
    p2.hub.handle_bus(p2.now, BusMessage::SessionLogged { from: "p1".into() });
    p2.hub.handle_bus(p2.now, BusMessage::SessionLogged { from: "p2".into() });
    p2.drain();
    assert_eq!(p2.refreshes, [false]);

    // p1 stops: its agents leave the board with it.
    p2.hub.handle_shared(p2.now, SharedView { alive: ["p2".to_string()].into(), ..SharedView::default() });
    p2.drain();
    assert_eq!(p2.supervisor_said(helene), [HubToSupervisor::AgentGone { login: "marie".into() }]);
    let _ = marie;
}
