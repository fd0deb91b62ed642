//! Appointments and walk-ins in one line (`core::appointments`): the
//! booked resident passes the walk-ins of their window, goes to the booked
//! agent first, and nobody waits more than the credit longer for it.

use super::super::appointments::{Appointment, CREDIT, HOLD, Kind, NewAppointment, Reference};
use super::*;

/// A slot at `kiosk` for `service` from `start` (minutes after 09:00Z,
/// the world's start) for 30 minutes, with `agent` if named.
fn slot(reference: u64, kiosk: &str, service: &str, start: i64, agent: Option<&str>) -> Appointment {
    let nine: Timestamp = "2026-11-23T09:00:00Z".parse().unwrap();
    Appointment {
        reference: Reference(reference),
        slot: NewAppointment {
            kiosk_id: kiosk.into(),
            service: service.into(),
            start: nine + start.minutes(),
            minutes: 30,
            agent: agent.map(AgentLogin::from),
            kind: Kind::Booked,
            booked_by: "hote-besse".into(),
        },
        booked_at: nine,
        cancelled_at: None,
    }
}

fn queued_position(w: &mut World, kiosk: PeerId, service: &str) -> (SessionId, u32) {
    w.kiosk_says(kiosk, KioskToHub::RequestCall { service: service.into() });
    match w.kiosk_said(kiosk).as_slice() {
        [HubToKiosk::Queued { session, position, .. }, ..] => (session.clone(), *position),
        other => panic!("expected queued, got {other:?}"),
    }
}

fn hang_up(w: &mut World, agent: PeerId, session: SessionId) {
    w.agent_says(agent, AgentToHub::HangUp { session });
    w.agent_said(agent);
}

#[test]
fn an_appointment_takes_precedence_over_two_walk_ins_in_its_window() {
    let mut w = World::new();
    let now = w.now;
    w.hub.handle_appointments(now, vec![slot(1, "besse", "caf", 5, None)]);
    let claire = w.available_agent("claire", &["caf"]);
    let (ardes, murol, besse) = (w.kiosk("ardes"), w.kiosk("murol"), w.kiosk("besse"));
    let walk_in_1 = w.queue(ardes, "caf");
    w.advance(2);
    let walk_in_2 = w.queue(murol, "caf");
    w.advance(3);
    // 09:05, the slot's start: the booked resident is first in line, and
    // the walk-ins each move one place back.
    let (booked, position) = queued_position(&mut w, besse, "caf");
    assert_eq!(position, 1);
    assert!(matches!(w.kiosk_said(ardes).as_slice(), [HubToKiosk::QueueUpdate { position: 2, .. }]));
    assert!(matches!(w.kiosk_said(murol).as_slice(), [HubToKiosk::QueueUpdate { position: 3, .. }]));
    let line = waiting_in(&w.agent_said(claire), "caf").unwrap();
    assert_eq!(line, vec![KioskId::from("besse"), KioskId::from("ardes"), KioskId::from("murol")]);

    assert_eq!(w.take(claire), booked);
    hang_up(&mut w, claire, booked);
    // Then the walk-ins, in their order.
    assert_eq!(w.take(claire), walk_in_1);
    hang_up(&mut w, claire, walk_in_1);
    assert_eq!(w.take(claire), walk_in_2);
}

#[test]
fn a_walk_in_who_waited_longer_than_the_credit_is_not_passed() {
    let mut w = World::new();
    let now = w.now;
    w.hub.handle_appointments(now, vec![slot(1, "besse", "caf", 0, None), slot(2, "murol", "caf", 0, None)]);
    let claire = w.available_agent("claire", &["caf"]);
    let (ardes, besse, murol) = (w.kiosk("ardes"), w.kiosk("besse"), w.kiosk("murol"));
    let walk_in = w.queue(ardes, "caf");
    // Booked residents come one minute within and one minute beyond the
    // credit after the walk-in: the first passes them, the second does not.
    w.advance(CREDIT.as_mins() - 1);
    let (within, p) = queued_position(&mut w, besse, "caf");
    assert_eq!(p, 1);
    w.advance(2);
    let (beyond, p) = queued_position(&mut w, murol, "caf");
    assert_eq!(p, 3, "behind the walk-in who has waited longer than the credit");
    assert_eq!(w.take(claire), within);
    hang_up(&mut w, claire, within);
    assert_eq!(w.take(claire), walk_in);
    hang_up(&mut w, claire, walk_in);
    assert_eq!(w.take(claire), beyond);
}

#[test]
fn outside_its_window_or_kiosk_or_service_a_resident_is_a_walk_in() {
    let mut w = World::new();
    let now = w.now;
    // The slot runs 09:30-10:00; a resident may come from 09:20.
    w.hub.handle_appointments(now, vec![slot(1, "besse", "caf", 30, None)]);
    w.available_agent("claire", &["caf", "msa"]);
    let (ardes, besse, murol) = (w.kiosk("ardes"), w.kiosk("besse"), w.kiosk("murol"));
    w.advance(15);
    w.queue(ardes, "caf");
    w.advance(4);
    // 09:19: too early.
    assert_eq!(queued_position(&mut w, besse, "caf").1, 2);
    w.kiosk_says(besse, KioskToHub::CancelCall);
    w.kiosk_said(besse);
    // Another kiosk, or another service, in the window.
    w.advance(11);
    assert_eq!(queued_position(&mut w, murol, "caf").1, 2);
    assert_eq!(queued_position(&mut w, besse, "msa").1, 1);
    w.kiosk_says(besse, KioskToHub::CancelCall);
    w.kiosk_said(besse);
    // 10:00: the slot has ended.
    w.advance(30);
    assert_eq!(queued_position(&mut w, besse, "caf").1, 3);
}

#[test]
fn the_booked_agent_takes_their_resident_first_and_colleagues_after_the_hold() {
    let mut w = World::new();
    let now = w.now;
    w.hub.handle_appointments(now, vec![slot(1, "besse", "caf", 0, Some("paul"))]);
    let claire = w.available_agent("claire", &["caf"]);
    let paul = w.available_agent("paul", &["caf"]);
    let (ardes, besse) = (w.kiosk("ardes"), w.kiosk("besse"));
    let walk_in = w.queue(ardes, "caf");
    w.advance(1);
    let (booked, p) = queued_position(&mut w, besse, "caf");
    assert_eq!(p, 1);
    // Claire passes over Paul's resident to the walk-in.
    assert_eq!(w.take(claire), walk_in);
    // Paul takes his.
    assert_eq!(w.take(paul), booked);

    // Paul away: after the hold, his next booked resident goes to Claire.
    let now = w.now;
    w.hub.handle_appointments(now, vec![slot(1, "besse", "caf", 0, Some("paul")), slot(2, "murol", "caf", 0, Some("paul"))]);
    hang_up(&mut w, claire, walk_in);
    let murol = w.kiosk("murol");
    let (second, _) = queued_position(&mut w, murol, "caf");
    w.agent_says(claire, AgentToHub::TakeNext { service: None });
    assert!(matches!(w.agent_told(claire).as_slice(), [HubToAgent::QueueEmpty { .. }]), "held for Paul, in a call");
    w.advance(HOLD.as_mins());
    assert_eq!(w.take(claire), second);
}

#[test]
fn a_booked_agent_who_is_not_available_holds_nobody() {
    let mut w = World::new();
    let now = w.now;
    w.hub.handle_appointments(now, vec![slot(1, "besse", "caf", 0, Some("paul"))]);
    let claire = w.available_agent("claire", &["caf"]);
    w.agent("paul", &["caf"]);
    let besse = w.kiosk("besse");
    let booked = w.queue(besse, "caf");
    assert_eq!(w.take(claire), booked);
}

#[test]
fn a_slot_serves_one_answered_visit_and_a_cancelled_slot_none() {
    let mut w = World::new();
    let now = w.now;
    let mut cancelled = slot(2, "murol", "caf", 0, None);
    cancelled.cancelled_at = Some(now);
    w.hub.handle_appointments(now, vec![slot(1, "besse", "caf", 0, None), cancelled]);
    let claire = w.available_agent("claire", &["caf"]);
    let (ardes, besse, murol) = (w.kiosk("ardes"), w.kiosk("besse"), w.kiosk("murol"));
    w.queue(ardes, "caf");
    assert_eq!(queued_position(&mut w, murol, "caf").1, 2, "a cancelled slot gives no precedence");
    // Cancelling a wait keeps the slot; an answered visit uses it.
    assert_eq!(queued_position(&mut w, besse, "caf").1, 1);
    w.kiosk_says(besse, KioskToHub::CancelCall);
    w.kiosk_said(besse);
    let (booked, p) = queued_position(&mut w, besse, "caf");
    assert_eq!(p, 1);
    assert_eq!(w.take(claire), booked);
    hang_up(&mut w, claire, booked);
    w.kiosk_said(besse);
    assert_eq!(queued_position(&mut w, besse, "caf").1, 3, "the slot was used: a walk-in now");
}

#[test]
fn with_a_shared_queue_take_next_names_the_agents_a_booked_resident_waits_for() {
    let (mut p1, mut p2) = (World::on_bus("p1"), World::on_bus("p2"));
    // Paul signs in on p1, Marie here on p2 but away: p2 learns of Paul by the bus.
    p1.available_agent("paul", &["caf"]);
    for (_, message) in std::mem::take(&mut p1.supervision_bus) {
        p2.hub.handle_bus(p2.now, message);
        p2.drain();
    }
    p2.agent("marie", &["caf"]);
    let claire = p2.available_agent("claire", &["caf"]);
    p2.store_ops.clear();
    p2.agent_says(claire, AgentToHub::TakeNext { service: None });
    let holding = match p2.store_ops.as_slice() {
        [StoreOp::TakeNext { holding, at, .. }] if *at == p2.now => holding.clone(),
        other => panic!("expected take next, got {other:?}"),
    };
    assert_eq!(holding, [AgentLogin::from("paul")], "not the taker, not an agent away");
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

#[test]
fn free_callback_slots_are_on_the_quarter_hour_within_the_hours_and_around_booked_ones() {
    use super::super::appointments::free_slots;
    let catalogue = Catalogue::demo();
    let caf = &catalogue.get(&"caf".into()).unwrap().hours;
    let tz = catalogue.timezone();
    // Monday 11:40 in Paris: the CAF closes at 12:00, so the afternoon's
    // first four quarter hours from 13:30; a slot booked at this kiosk
    // (not another's) is passed.
    let now = ts("2026-11-23T10:40:00Z");
    let quarters = |from: &str| (0..4).map(|i| ts(from) + (15 * i).minutes()).collect::<Vec<_>>();
    assert_eq!(free_slots(caf, tz, &[], &"besse".into(), now, 4), quarters("2026-11-23T12:30:00Z"));
    let mut booked = slot(1, "besse", "msa", 0, None);
    booked.slot.start = ts("2026-11-23T12:30:00Z");
    let mut elsewhere = slot(2, "ardes", "caf", 0, None);
    elsewhere.slot.start = ts("2026-11-23T13:00:00Z");
    assert_eq!(free_slots(caf, tz, &[booked, elsewhere], &"besse".into(), now, 4), quarters("2026-11-23T13:00:00Z"));
    // Friday 16:20: nothing before Monday 08:30.
    assert_eq!(free_slots(caf, tz, &[], &"besse".into(), ts("2026-11-27T15:20:00Z"), 4), quarters("2026-11-30T07:30:00Z"));
}

#[test]
fn a_kiosk_books_a_callback_in_a_slot_it_was_offered() {
    let mut w = World::at("2026-11-23T10:40:00Z");
    let besse = w.kiosk("besse");
    w.kiosk_says(besse, KioskToHub::AskCallbackSlots { service: "caf".into() });
    let Ok([Output::ReadCallbackSlots { peer, kiosk_id, service, from }]) = <[Output; 1]>::try_from(std::mem::take(&mut w.callback_work)) else {
        panic!("expected a read of the kiosk's appointments")
    };
    assert_eq!((peer, kiosk_id.as_str(), service.as_str(), from), (besse, "besse", "caf", w.now));
    w.hub.handle_callback_slots(w.now, besse, "caf".into(), Ok(vec![]));
    w.drain();
    let offered = match w.kiosk_said(besse).as_slice() {
        [HubToKiosk::CallbackSlots { slots, minutes: 15, .. }] => slots.clone(),
        other => panic!("expected the free slots, got {other:?}"),
    };
    assert_eq!(offered[0], ts("2026-11-23T12:30:00Z"));

    // Not on the quarter hour, or while closed: refused at once.
    for start in [offered[0] + 5.minutes(), ts("2026-11-23T11:15:00Z")] {
        w.kiosk_says(besse, KioskToHub::BookCallback { service: "caf".into(), start });
        assert!(matches!(w.kiosk_said(besse).as_slice(), [HubToKiosk::CallbackRefused { .. }]));
    }
    assert!(w.callback_work.is_empty());
    w.kiosk_says(besse, KioskToHub::BookCallback { service: "caf".into(), start: offered[0] });
    let Ok([Output::BookCallback { peer, slot }]) = <[Output; 1]>::try_from(std::mem::take(&mut w.callback_work)) else { panic!("expected a booking") };
    assert_eq!(peer, besse);
    assert_eq!((slot.kind, slot.agent.clone(), slot.minutes, slot.start, slot.booked_by.as_str()), (Kind::Callback, None, 15, offered[0], "besse"));
    let booked = Appointment { reference: Reference(42), slot, booked_at: w.now, cancelled_at: None };
    w.hub.handle_callback_booked(besse, "caf".into(), Ok(booked));
    w.drain();
    assert_eq!(w.kiosk_said(besse), [HubToKiosk::CallbackBooked {
        service: "caf".into(),
        reference: "RDV-000042".into(),
        start: offered[0],
        minutes: 15
    }]);
}
