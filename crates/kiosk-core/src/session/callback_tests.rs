//! Being called back: offered on a closed service or a long wait, slots,
//! booking, a slot taken meanwhile, none free, the kept place in line,
//! and the warned return home.

use std::time::Duration;

use jiff::Timestamp;
use visio_protocol::*;

use super::super::harness::{Kiosk, session, welcome, welcome_with_callbacks};
use super::*;

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn slots() -> Vec<Timestamp> {
    ["2026-11-24T08:00:00Z", "2026-11-24T08:15:00Z", "2026-11-24T08:30:00Z", "2026-11-24T08:45:00Z", "2026-11-24T09:00:00Z"]
        .into_iter()
        .map(at)
        .collect()
}

fn closed() -> HubToKiosk {
    let reason = RefusalReason::Closed { next_opening: Some(at("2026-11-24T08:00:00Z")) };
    HubToKiosk::CallRefused { service: "msa".into(), reason, message: "MSA is closed".into() }
}

impl Kiosk {
    /// At home, on a hub that books callbacks.
    fn with_callbacks() -> Kiosk {
        let mut k = Kiosk::with(Config::default());
        k.input(Input::HubConnected);
        k.input(Input::Hub(welcome_with_callbacks()));
        k.out.clear();
        k.said.clear();
        k
    }

    /// Touched the closed MSA: offered a callback.
    fn offered() -> Kiosk {
        let mut k = Kiosk::with_callbacks();
        k.input(Input::ChooseService("msa".into()));
        k.input(Input::Hub(closed()));
        k
    }

    /// Waiting for `caf`, the hub estimating `minutes` (none: no agent).
    fn waiting_for(minutes: Option<u32>) -> Kiosk {
        let mut k = Kiosk::with_callbacks();
        k.input(Input::ChooseService("caf".into()));
        let estimated_wait = minutes.map(|m| WaitEstimate { seconds: m * 60 });
        k.input(Input::Hub(HubToKiosk::Queued { session: session(), service: "caf".into(), position: 3, estimated_wait }));
        k.out.clear();
        k
    }

    fn callback(&self) -> &Callback {
        match self.screen() {
            Screen::Callback(c) => c,
            other => panic!("expected the callback screen, got {other:?}"),
        }
    }

    fn stage(&self) -> &CallbackStage {
        &self.callback().stage
    }

    fn slots_arrive(&mut self, service: &str, slots: Vec<Timestamp>) {
        self.input(Input::Hub(HubToKiosk::CallbackSlots { service: service.into(), slots, minutes: 15 }));
    }

    fn booked(&mut self, service: &str, start: Timestamp) {
        let reference = "RDV-000042".to_owned();
        self.input(Input::Hub(HubToKiosk::CallbackBooked { service: service.into(), reference, start, minutes: 15 }));
    }
}

#[test]
fn without_callbacks_a_closed_service_only_leaves_its_notice_on_the_home_screen() {
    let mut k = Kiosk::with(Config::default());
    k.input(Input::HubConnected);
    k.input(Input::Hub(welcome()));
    k.input(Input::ChooseService("msa".into()));
    k.input(Input::Hub(closed()));
    assert!(matches!(k.screen(), Screen::Home { notice: Some(_) }), "{:?}", k.screen());
    k.input(Input::AskCallback);
    assert!(matches!(k.screen(), Screen::Home { notice: Some(_) }));
    assert!(!k.sent().iter().any(|m| matches!(m, KioskToHub::AskCallbackSlots { .. })));

    // Nor on a long wait.
    k.input(Input::ChooseService("caf".into()));
    k.input(Input::Hub(HubToKiosk::Queued { session: session(), service: "caf".into(), position: 9, estimated_wait: None }));
    assert!(!k.session.callback_offered());
    k.input(Input::AskCallback);
    assert!(matches!(k.screen(), Screen::Waiting(_)));
}

#[test]
fn a_closed_service_offers_a_callback_whose_slot_is_booked_shown_said_and_printed() {
    let mut k = Kiosk::offered();
    let c = k.callback().clone();
    assert_eq!((c.service.as_str(), c.why, &c.stage), ("msa", CallbackWhy::Closed { next_opening: Some(at("2026-11-24T08:00:00Z")) }, &CallbackStage::Offer));
    let events = k.events();
    assert!(events.contains(&KioskEvent::CallbackOffered { service: "msa".into(), why: "closed".into() }), "{events:?}");
    assert!(k.prompts().iter().any(|p| matches!(p, Prompt::Callback { stage: CallbackStage::Offer, .. })));

    k.input(Input::AskCallback);
    assert_eq!(*k.stage(), CallbackStage::Asking { retaken: false });
    assert_eq!(k.sent(), vec![KioskToHub::AskCallbackSlots { service: "msa".into() }]);

    // Slots of another service are not these.
    k.slots_arrive("caf", slots());
    assert_eq!(*k.stage(), CallbackStage::Asking { retaken: false });
    k.slots_arrive("msa", slots());
    let shown = slots()[..CALLBACK_SLOTS_SHOWN].to_vec();
    assert_eq!(*k.stage(), CallbackStage::Choosing { slots: shown.clone(), minutes: 15, retaken: false });

    // A slot that was not offered is not booked.
    k.input(Input::ChooseCallbackSlot(at("2026-11-24T10:00:00Z")));
    assert!(matches!(k.stage(), CallbackStage::Choosing { .. }));
    k.input(Input::ChooseCallbackSlot(shown[1]));
    assert_eq!(*k.stage(), CallbackStage::Booking { start: shown[1] });
    assert_eq!(k.sent(), vec![KioskToHub::BookCallback { service: "msa".into(), start: shown[1] }]);

    k.said.clear();
    k.booked("msa", shown[1]);
    assert_eq!(*k.stage(), CallbackStage::Booked { reference: "RDV-000042".into(), start: shown[1], minutes: 15 });
    let out = k.take();
    let slip = CallbackSlip { service: "msa".into(), reference: "RDV-000042".into(), start: shown[1], minutes: 15, language: Language::Fr };
    assert!(out.contains(&Output::PrintCallbackSlip(slip)), "{out:?}");
    let booked = KioskEvent::CallbackBooked { service: "msa".into(), reference: "RDV-000042".into(), start: "2026-11-24T08:15:00Z".into(), minutes: 15 };
    assert!(out.contains(&Output::Event(booked)), "{out:?}");
    assert!(!out.contains(&Output::ToHub(KioskToHub::CancelCall)), "no place to give up");
    let said = k.prompts();
    assert!(matches!(said.as_slice(), [Prompt::Callback { stage: CallbackStage::Booked { reference, .. }, .. }] if reference == "RDV-000042"), "{said:?}");
}

#[test]
fn the_confirmation_goes_home_by_itself_after_a_warning() {
    let mut k = Kiosk::offered();
    k.input(Input::AskCallback);
    k.slots_arrive("msa", slots());
    k.input(Input::ChooseCallbackSlot(slots()[0]));
    k.booked("msa", slots()[0]);
    let idle = Config::default().idle_timeout;
    let warning = Config::default().return_warning;
    k.advance(idle - warning - Duration::from_secs(1));
    assert!(!k.session.auto_return().unwrap().warning);
    k.said.clear();
    k.advance(Duration::from_secs(2));
    assert!(k.session.auto_return().unwrap().warning, "warned before going home");
    assert!(k.prompts().iter().any(|p| matches!(p, Prompt::ReturnWarning { .. })));
    assert!(matches!(k.stage(), CallbackStage::Booked { .. }));
    k.input(Input::Assist(Assist::StillHere));
    k.advance(idle - Duration::from_secs(1));
    assert!(matches!(k.screen(), Screen::Callback(_)), "put off");
    k.advance(Duration::from_secs(2));
    assert_eq!(*k.screen(), Screen::Home { notice: None });
}

#[test]
fn a_slot_taken_meanwhile_asks_for_the_free_slots_again_and_says_so() {
    let mut k = Kiosk::offered();
    k.input(Input::AskCallback);
    k.slots_arrive("msa", slots());
    k.input(Input::ChooseCallbackSlot(slots()[0]));
    k.out.clear();
    let message = "2026-11-24T08:00:00Z is taken at kiosk besse by RDV-000041".to_owned();
    k.input(Input::Hub(HubToKiosk::CallbackRefused { service: "msa".into(), message: message.clone() }));
    assert_eq!(*k.stage(), CallbackStage::Asking { retaken: true });
    let out = k.take();
    assert!(out.contains(&Output::ToHub(KioskToHub::AskCallbackSlots { service: "msa".into() })), "{out:?}");
    assert!(out.contains(&Output::Event(KioskEvent::CallbackRefused { service: "msa".into(), message })));
    k.slots_arrive("msa", slots()[1..].to_vec());
    assert_eq!(*k.stage(), CallbackStage::Choosing { slots: slots()[1..].to_vec(), minutes: 15, retaken: true });

    // Refused while asking (the hub's store): no loop, a plain message.
    let mut k = Kiosk::offered();
    k.input(Input::AskCallback);
    k.out.clear();
    k.input(Input::Hub(HubToKiosk::CallbackRefused { service: "msa".into(), message: "store down".into() }));
    assert_eq!(*k.stage(), CallbackStage::Unavailable);
    assert_eq!(k.sent(), vec![]);
}

#[test]
fn no_free_slot_says_so_and_back_goes_home() {
    let mut k = Kiosk::offered();
    k.input(Input::AskCallback);
    k.slots_arrive("msa", vec![]);
    assert_eq!(*k.stage(), CallbackStage::NoSlots);
    k.input(Input::CloseCallback);
    assert_eq!(*k.screen(), Screen::Home { notice: None });
}

#[test]
fn a_long_wait_offers_a_callback_and_keeps_the_place_until_it_is_booked() {
    let mut k = Kiosk::waiting_for(Some(10));
    assert!(!k.session.callback_offered(), "10 min is not long");
    k.input(Input::AskCallback);
    assert!(matches!(k.screen(), Screen::Waiting(_)));
    k.prompts();
    k.input(Input::Hub(HubToKiosk::QueueUpdate { session: session(), position: 3, estimated_wait: Some(WaitEstimate { seconds: 25 * 60 }) }));
    assert!(k.session.callback_offered());
    // Said as well as shown: a resident who cannot read hears the offer.
    assert!(
        k.prompts().iter().any(|p| matches!(p, Prompt::Waiting { callback: true, position: 3, .. })),
        "the waiting prompt tells of the callback"
    );
    k.input(Input::Hub(HubToKiosk::QueueUpdate { session: session(), position: 3, estimated_wait: None }));
    assert!(k.session.callback_offered(), "no agent available: the wait is unknown");

    k.out.clear();
    k.input(Input::AskCallback);
    assert!(matches!(k.callback().why, CallbackWhy::LongWait { estimate: None }));
    assert_eq!(k.sent(), vec![KioskToHub::AskCallbackSlots { service: "caf".into() }]);
    // The line moves meanwhile; "Retour" goes back to the place.
    k.input(Input::Hub(HubToKiosk::QueueUpdate { session: session(), position: 2, estimated_wait: None }));
    k.input(Input::CloseCallback);
    let Screen::Waiting(w) = k.screen() else { panic!("{:?}", k.screen()) };
    assert_eq!((w.position, &w.session), (2, &session()));

    // Booked: the place is given up.
    k.input(Input::AskCallback);
    k.slots_arrive("caf", slots());
    k.input(Input::ChooseCallbackSlot(slots()[2]));
    k.out.clear();
    k.booked("caf", slots()[2]);
    let out = k.take();
    assert!(out.contains(&Output::ToHub(KioskToHub::CancelCall)), "{out:?}");
    assert!(out.contains(&Output::Event(KioskEvent::Ended { session: "s-1".into(), reason: VisitEnd::Hub(EndReason::Cancelled) })));
    assert_eq!(k.callback().place, None);
}

#[test]
fn an_agent_answering_while_the_resident_chooses_brings_the_call() {
    let mut k = Kiosk::waiting_for(None);
    k.input(Input::AskCallback);
    k.slots_arrive("caf", slots());
    k.input(Input::Hub(HubToKiosk::CallAnswered { session: session(), agent_name: "Claire".into(), ice_servers: vec![], resume_token: None }));
    assert!(matches!(k.screen(), Screen::InCall(_)), "{:?}", k.screen());
}

#[test]
fn losing_the_hub_while_choosing_keeps_the_place_as_the_waiting_screen_does() {
    let mut k = Kiosk::waiting_for(None);
    k.input(Input::AskCallback);
    k.input(Input::HubLost);
    assert!(matches!(k.screen(), Screen::Waiting(w) if w.hub_lost), "{:?}", k.screen());

    // Without a place: out of service, as any screen.
    let mut k = Kiosk::offered();
    k.input(Input::HubLost);
    assert!(matches!(k.screen(), Screen::OutOfService { .. }));
}

#[test]
fn leaving_the_kiosk_while_choosing_gives_the_place_up_after_a_warning() {
    let mut k = Kiosk::waiting_for(Some(40));
    k.input(Input::AskCallback);
    k.slots_arrive("caf", slots());
    k.out.clear();
    let idle = Config::default().idle_timeout;
    k.advance(idle - Duration::from_secs(5));
    assert!(k.session.auto_return().unwrap().warning);
    assert!(matches!(k.screen(), Screen::Callback(_)));
    k.advance(Duration::from_secs(6));
    assert_eq!(*k.screen(), Screen::Home { notice: None });
    let out = k.take();
    assert!(out.contains(&Output::ToHub(KioskToHub::CancelCall)), "{out:?}");
    assert!(out.contains(&Output::Event(KioskEvent::Ended { session: "s-1".into(), reason: VisitEnd::ResidentAbsent })));
}
