//! Every transition of the session, driven by inputs and simulated time.

use std::time::Duration;

use visio_protocol::*;

use super::harness::{Kiosk, session, token, welcome};
use super::*;

impl Kiosk {
    /// A kiosk waiting for `caf` at position 2.
    fn waiting() -> Kiosk {
        let mut k = Kiosk::at_home();
        k.input(Input::ChooseService("caf".into()));
        k.input(Input::Hub(HubToKiosk::Queued {
            session: session(),
            service: "caf".into(),
            position: 2,
            estimated_wait: Some(WaitEstimate { seconds: 600 }),
        }));
        k.out.clear();
        k
    }

    fn in_call() -> Kiosk {
        let mut k = Kiosk::waiting();
        k.input(Input::Hub(HubToKiosk::CallAnswered {
            session: session(),
            agent_name: "Claire".into(),
            ice_servers: vec![],
            resume_token: Some(token()),
        }));
        k.out.clear();
        k
    }

    /// In a call whose media is up.
    fn connected() -> Kiosk {
        let mut k = Kiosk::in_call();
        k.input(Input::Media(MediaEvent::Connected));
        k.out.clear();
        k
    }

    fn call(&self) -> &InCall {
        match self.screen() {
            Screen::InCall(call) => call,
            other => panic!("expected the call screen, got {other:?}"),
        }
    }

    fn restarts(&mut self) -> usize {
        self.take().iter().filter(|o| **o == Output::Call(CallCommand::RestartIce)).count()
    }
}

fn ended_reason(k: &Kiosk) -> EndedReason {
    match k.screen() {
        Screen::Ended(e) => e.reason,
        other => panic!("expected the end screen, got {other:?}"),
    }
}

#[test]
fn starts_connecting_and_reaches_home_on_welcome() {
    let mut k = Kiosk::new();
    assert_eq!(*k.screen(), Screen::Connecting);
    k.input(Input::HubConnected);
    assert_eq!(*k.screen(), Screen::Connecting, "home only once the hub said welcome");
    k.input(Input::Hub(welcome()));
    assert_eq!(*k.screen(), Screen::Home { notice: None });
    assert!(matches!(k.events().as_slice(), [KioskEvent::Ready { .. }]));
}

#[test]
fn the_first_output_asks_for_the_hub() {
    let k = Kiosk::new();
    assert_eq!(k.out, vec![Output::ConnectHub { resume: None }]);
}

#[test]
fn unreachable_hub_is_out_of_service_and_retries_until_it_recovers() {
    let mut k = Kiosk::new();
    k.take();
    k.input(Input::HubLost);
    assert_eq!(*k.screen(), Screen::OutOfService { reason: OutOfService::HubUnreachable });
    for _ in 0..4 {
        k.advance(Duration::from_secs(60));
        assert!(k.take().contains(&Output::ConnectHub { resume: None }), "one retry per failure");
        k.input(Input::HubLost);
        assert_eq!(*k.screen(), Screen::OutOfService { reason: OutOfService::HubUnreachable });
    }
    k.input(Input::HubConnected);
    k.input(Input::Hub(welcome()));
    assert_eq!(*k.screen(), Screen::Home { notice: None });
}

#[test]
fn backoff_doubles_and_is_capped() {
    let mut k = Kiosk::new();
    let mut delays = vec![];
    for _ in 0..8 {
        k.input(Input::HubLost);
        // Someone keeps touching the screen: the idle timer stays later.
        k.input(Input::Touch);
        let due = k.session.poll_timeout().unwrap();
        delays.push(due.duration_since(k.now).as_secs());
        k.now = due;
        k.session.handle_timeout(due);
        k.drain();
    }
    assert_eq!(delays, vec![1, 2, 4, 8, 16, 30, 30, 30]);
}

#[test]
fn a_missing_camera_is_out_of_service_until_it_returns() {
    let mut k = Kiosk::at_home();
    k.input(Input::Camera { present: false });
    assert_eq!(*k.screen(), Screen::OutOfService { reason: OutOfService::CameraMissing });
    assert!(matches!(k.events().as_slice(), [KioskEvent::OutOfService { reason: OutOfService::CameraMissing }]));
    k.input(Input::Camera { present: true });
    assert_eq!(*k.screen(), Screen::Home { notice: None });
}

#[test]
fn no_sound_output_is_out_of_service_but_never_cuts_a_call() {
    let speaker = |state| DeviceHealth { speaker: Some(DeviceStatus::new(state, None)), ..health(DeviceState::Ok) };
    let mut k = Kiosk::at_home();
    k.input(Input::Devices(speaker(DeviceState::Error)));
    assert_eq!(*k.screen(), Screen::OutOfService { reason: OutOfService::SoundMissing });
    assert!(k.events().contains(&KioskEvent::OutOfService { reason: OutOfService::SoundMissing }));
    k.input(Input::Devices(speaker(DeviceState::Ok)));
    assert_eq!(*k.screen(), Screen::Home { notice: None });
    // A kiosk that does not probe its sound (no `speaker`) is not blocked.
    k.input(Input::Devices(health(DeviceState::Ok)));
    assert_eq!(*k.screen(), Screen::Home { notice: None });
    // Found during a call (the next probe is after it), it waits for the end.
    let mut k = Kiosk::in_call();
    k.input(Input::Devices(speaker(DeviceState::Error)));
    assert!(matches!(k.screen(), Screen::InCall(_)));
    // Found while a resident waits, their place is given up: no agent may
    // take a call this kiosk cannot hold.
    let mut k = Kiosk::waiting();
    k.input(Input::Devices(speaker(DeviceState::Error)));
    let out = k.take();
    assert!(out.contains(&Output::ToHub(KioskToHub::CancelCall)), "{out:?}");
    assert!(out.contains(&Output::Event(KioskEvent::Ended { session: session().to_string(), reason: VisitEnd::DeviceFault })), "{out:?}");
    assert_eq!(*k.screen(), Screen::OutOfService { reason: OutOfService::SoundMissing });
}

#[test]
fn choosing_a_service_queues_then_updates_live() {
    let mut k = Kiosk::at_home();
    k.input(Input::ChooseService("caf".into()));
    assert_eq!(*k.screen(), Screen::Requesting { service: "caf".into() });
    assert_eq!(k.take(), vec![Output::ToHub(KioskToHub::RequestCall { service: "caf".into() })]);
    k.input(Input::Hub(HubToKiosk::Queued {
        session: session(),
        service: "caf".into(),
        position: 2,
        estimated_wait: Some(WaitEstimate { seconds: 600 }),
    }));
    let Screen::Waiting(w) = k.screen() else { panic!() };
    assert_eq!((w.position, w.estimated_wait), (2, Some(Duration::from_secs(600))));
    k.input(Input::Hub(HubToKiosk::QueueUpdate { session: session(), position: 1, estimated_wait: None }));
    let Screen::Waiting(w) = k.screen() else { panic!() };
    assert_eq!((w.position, w.estimated_wait), (1, None));
    let events = k.events();
    assert!(matches!(events.last(), Some(KioskEvent::Queued { position: 1, estimated_wait_seconds: None, .. })));
}

#[test]
fn a_refusal_returns_home_with_a_notice_that_idle_clears() {
    let mut k = Kiosk::at_home();
    k.input(Input::SetLanguage(Language::En));
    k.input(Input::ChooseService("msa".into()));
    let reason = RefusalReason::Closed { next_opening: None };
    k.input(Input::Hub(HubToKiosk::CallRefused { service: "msa".into(), reason: reason.clone(), message: "closed".into() }));
    assert_eq!(*k.screen(), Screen::Home { notice: Some(Notice { service: "msa".into(), reason }) });
    k.advance(Duration::from_secs(89));
    assert!(matches!(k.screen(), Screen::Home { notice: Some(_) }));
    assert_eq!(k.session.language(), Language::En);
    k.advance(Duration::from_secs(2));
    assert_eq!(*k.screen(), Screen::Home { notice: None });
    assert_eq!(k.session.language(), Language::Fr, "the next resident starts in French");
}

#[test]
fn cancel_while_waiting_tells_the_hub_and_goes_home() {
    let mut k = Kiosk::waiting();
    k.input(Input::Cancel);
    assert_eq!(*k.screen(), Screen::Home { notice: None });
    let out = k.take();
    assert!(out.contains(&Output::ToHub(KioskToHub::CancelCall)));
    assert!(out.contains(&Output::Event(KioskEvent::Ended { session: "s-1".into(), reason: VisitEnd::Hub(EndReason::Cancelled) })));
    // The hub's confirmation changes nothing.
    k.input(Input::Hub(HubToKiosk::CallEnded { session: session(), reason: EndReason::Cancelled }));
    assert_eq!(*k.screen(), Screen::Home { notice: None });
}

#[test]
fn cancel_before_the_hub_answered_cancels_the_late_queue_entry() {
    let mut k = Kiosk::at_home();
    k.input(Input::ChooseService("caf".into()));
    k.input(Input::Cancel);
    assert_eq!(*k.screen(), Screen::Home { notice: None });
    k.take();
    k.input(Input::Hub(HubToKiosk::Queued { session: session(), service: "caf".into(), position: 1, estimated_wait: None }));
    assert_eq!(k.take(), vec![Output::ToHub(KioskToHub::CancelCall)]);
    assert_eq!(*k.screen(), Screen::Home { notice: None });
}

#[test]
fn waiting_without_a_touch_asks_if_the_resident_is_there_then_gives_up() {
    let mut k = Kiosk::waiting();
    k.advance(Duration::from_secs(10 * 60));
    assert!(matches!(k.screen(), Screen::Waiting(Waiting { presence_check: true, .. })));
    k.input(Input::Touch);
    assert!(matches!(k.screen(), Screen::Waiting(Waiting { presence_check: false, .. })), "a touch keeps the place");
    k.advance(Duration::from_secs(10 * 60 + 61));
    assert_eq!(*k.screen(), Screen::Home { notice: None });
    let out = k.take();
    assert!(out.contains(&Output::ToHub(KioskToHub::CancelCall)));
    assert!(out.contains(&Output::Event(KioskEvent::Ended { session: "s-1".into(), reason: VisitEnd::ResidentAbsent })));
}

#[test]
fn the_idle_timer_never_interrupts_a_call() {
    let mut k = Kiosk::in_call();
    k.advance(Duration::from_secs(3600));
    assert!(matches!(k.screen(), Screen::InCall(_)));
}

#[test]
fn answered_call_plays_the_chime_starts_media_and_relays_signals() {
    let mut k = Kiosk::waiting();
    k.input(Input::Hub(HubToKiosk::CallAnswered { session: session(), agent_name: "Claire".into(), ice_servers: vec![], resume_token: None }));
    let out = k.take();
    assert!(out.contains(&Output::Chime));
    assert!(out.contains(&Output::Call(CallCommand::Start { session: session(), ice_servers: vec![] })));
    let Screen::InCall(call) = k.screen() else { panic!() };
    assert_eq!((call.agent_name.as_str(), call.media), ("Claire", MediaState::Connecting));

    let offer = Signal::Offer { sdp: "v=0".into() };
    k.input(Input::Media(MediaEvent::LocalSignal(offer.clone())));
    assert_eq!(k.take(), vec![Output::ToHub(KioskToHub::Signal { session: session(), signal: offer })]);
    let answer = Signal::Answer { sdp: "v=0".into() };
    k.input(Input::Hub(HubToKiosk::Signal { session: session(), signal: answer.clone() }));
    assert_eq!(k.take(), vec![Output::Call(CallCommand::RemoteSignal(answer.clone()))]);
    // A signal for another session is not ours.
    k.input(Input::Hub(HubToKiosk::Signal { session: "other".into(), signal: answer }));
    assert!(k.take().is_empty());

    k.input(Input::Media(MediaEvent::Connected));
    k.input(Input::Media(MediaEvent::FirstRemoteFrame));
    k.input(Input::Media(MediaEvent::Reconnecting));
    k.input(Input::Media(MediaEvent::Connected));
    let events = k.events();
    assert_eq!(events, vec![
        KioskEvent::Connected { session: "s-1".into() },
        KioskEvent::FirstRemoteFrame { session: "s-1".into() },
        KioskEvent::Reconnecting { session: "s-1".into() },
        KioskEvent::Reconnected { session: "s-1".into() },
    ], "connected is reported once; a reconnection has its own events");
}

#[test]
fn end_call_asks_for_confirmation_which_closes_by_itself() {
    let mut k = Kiosk::in_call();
    k.input(Input::HangUp);
    assert!(matches!(k.screen(), Screen::InCall(InCall { confirm_hang_up: true, .. })));
    assert!(k.take().is_empty(), "nothing happens before confirmation");
    k.advance(Duration::from_secs(11));
    assert!(matches!(k.screen(), Screen::InCall(InCall { confirm_hang_up: false, .. })));
    k.input(Input::ConfirmHangUp);
    assert!(matches!(k.screen(), Screen::InCall(_)), "a stale confirmation does nothing");
    k.input(Input::HangUp);
    k.input(Input::KeepCall);
    assert!(matches!(k.screen(), Screen::InCall(InCall { confirm_hang_up: false, .. })));
}

#[test]
fn confirmed_hang_up_ends_wipes_and_offers_a_rating_then_returns_home() {
    let mut k = Kiosk::in_call();
    k.input(Input::HangUp);
    k.input(Input::ConfirmHangUp);
    let out = k.take();
    assert!(out.contains(&Output::ToHub(KioskToHub::HangUp { session: session() })));
    assert!(out.contains(&Output::Call(CallCommand::End)));
    assert!(out.contains(&Output::Documents(DocumentCommand::WipeSpool)));
    assert_eq!(ended_reason(&k), EndedReason::Hub(EndReason::KioskHungUp));
    k.input(Input::Rate(Rating::Happy));
    assert_eq!(k.take(), vec![Output::ToHub(KioskToHub::Rate { session: session(), rating: Rating::Happy })]);
    k.input(Input::Rate(Rating::Unhappy));
    assert!(k.take().is_empty(), "one rating per call");
    // Issue 23: never sooner than the 20 s warning (a countdown shows).
    k.advance(Duration::from_secs(19));
    assert!(matches!(k.screen(), Screen::Ended(_)));
    k.advance(Duration::from_secs(1));
    assert_eq!(*k.screen(), Screen::Home { notice: None });
}

#[test]
fn a_transfer_ends_the_media_without_the_end_screen_then_waits_first_and_answers() {
    let mut k = Kiosk::connected();
    let next = SessionId::new("s-2");
    k.input(Input::Hub(HubToKiosk::CallTransferred {
        session: session(),
        to_session: next.clone(),
        service: "msa".into(),
        position: 1,
        estimated_wait: None,
    }));
    let out = k.take();
    assert!(out.contains(&Output::Call(CallCommand::End)), "media torn down as for a hang-up: {out:?}");
    assert!(out.contains(&Output::Documents(DocumentCommand::WipeSpool)));
    assert!(!out.iter().any(|o| matches!(o, Output::ToHub(_))), "the resident has nothing to do: {out:?}");
    assert!(out.contains(&Output::Event(KioskEvent::Transferred {
        session: "s-1".into(),
        to_session: "s-2".into(),
        service: "msa".into(),
        position: 1,
    })));
    let Screen::Waiting(w) = k.screen() else { panic!("{:?}", k.screen()) };
    assert_eq!((&w.service, &w.session, w.position), (&ServiceId::from("msa"), &next, 1));
    assert_eq!(w.transferred_from, Some("caf".into()));

    // A transfer for a call that is not this one changes nothing.
    k.input(Input::Hub(HubToKiosk::CallTransferred {
        session: session(),
        to_session: "s-3".into(),
        service: "cpam".into(),
        position: 1,
        estimated_wait: None,
    }));
    assert!(matches!(k.screen(), Screen::Waiting(w) if w.session == next));

    k.input(Input::Hub(HubToKiosk::CallAnswered { session: next.clone(), agent_name: "Bruno (MSA)".into(), ice_servers: vec![], resume_token: None }));
    assert!(k.take().contains(&Output::Call(CallCommand::Start { session: next, ice_servers: vec![] })));
    assert!(matches!(k.screen(), Screen::InCall(c) if c.agent_name == "Bruno (MSA)" && c.service.as_str() == "msa"));
}

#[test]
fn the_end_screen_returns_home_by_itself_without_a_rating() {
    let mut k = Kiosk::in_call();
    k.input(Input::Hub(HubToKiosk::CallEnded { session: session(), reason: EndReason::AgentHungUp }));
    assert_eq!(ended_reason(&k), EndedReason::Hub(EndReason::AgentHungUp));
    k.advance(Duration::from_secs(29));
    assert!(matches!(k.screen(), Screen::Ended(_)));
    k.advance(Duration::from_secs(2));
    assert_eq!(*k.screen(), Screen::Home { notice: None });
}

#[test]
fn the_hub_dropping_mid_call_keeps_the_call_and_reconnects() {
    let mut k = Kiosk::in_call();
    k.input(Input::Media(MediaEvent::Connected));
    k.take();
    k.input(Input::HubLost);
    let Screen::InCall(call) = k.screen() else { panic!("the call goes on peer to peer") };
    assert!(call.hub_lost);
    // Signals cannot reach the agent meanwhile; they are not sent.
    k.input(Input::Media(MediaEvent::LocalSignal(Signal::EndOfCandidates)));
    assert!(!k.take().iter().any(|o| matches!(o, Output::ToHub(_))));
    k.advance(Duration::from_secs(1));
    assert!(k.take().contains(&Output::ConnectHub { resume: Some(token()) }), "the hello carries the call's token");
    k.input(Input::HubConnected);
    k.input(Input::Hub(welcome()));
    assert!(k.call().hub_lost, "back in the call only once the hub says so");
    k.input(Input::Hub(HubToKiosk::CallResumed { session: session(), agent_name: "Claire".into(), ice_servers: vec![] }));
    assert!(!k.call().hub_lost);
    assert!(k.events().contains(&KioskEvent::Resumed { session: "s-1".into() }));
    // The call ends later: the goodbye screen, then home.
    k.input(Input::Media(MediaEvent::Failed { reason: "peer gone".into() }));
    assert_eq!(ended_reason(&k), EndedReason::CallFailed);
    k.advance(Duration::from_secs(31));
    assert_eq!(*k.screen(), Screen::Home { notice: None });
}

#[test]
fn a_resume_the_hub_refuses_ends_the_call() {
    let mut k = Kiosk::connected();
    k.input(Input::HubLost);
    k.advance(Duration::from_secs(1));
    k.input(Input::HubConnected);
    k.input(Input::Hub(welcome()));
    k.input(Input::Hub(HubToKiosk::CallEnded { session: session(), reason: EndReason::AgentDisconnected }));
    assert_eq!(ended_reason(&k), EndedReason::Hub(EndReason::AgentDisconnected));
    assert!(k.take().contains(&Output::Documents(DocumentCommand::WipeSpool)));
}

#[test]
fn a_media_cut_restarts_ice_after_a_moment_and_again_until_it_reconnects() {
    let mut k = Kiosk::connected();
    k.input(Input::Media(MediaEvent::Reconnecting));
    assert_eq!(k.call().media, MediaState::Reconnecting);
    assert_eq!(k.restarts(), 0, "a short glitch may heal by itself");
    k.advance(Duration::from_millis(2100));
    assert_eq!(k.restarts(), 1);
    k.advance(Duration::from_secs(14));
    assert_eq!(k.restarts(), 0);
    k.advance(Duration::from_secs(2));
    assert_eq!(k.restarts(), 1, "an unanswered restart is tried again");
    k.input(Input::Media(MediaEvent::Connected));
    assert_eq!(k.call().media, MediaState::Connected);
    assert!(k.events().contains(&KioskEvent::Reconnected { session: "s-1".into() }));
    k.advance(Duration::from_secs(120));
    assert_eq!(k.restarts(), 0, "nothing more once connected");
    assert!(matches!(k.screen(), Screen::InCall(_)));
}

#[test]
fn a_failed_ice_connection_restarts_at_once() {
    let mut k = Kiosk::connected();
    k.input(Input::Media(MediaEvent::Lost));
    assert_eq!(k.restarts(), 1);
    assert!(matches!(k.screen(), Screen::InCall(_)), "a lost path is not a lost call");
}

#[test]
fn no_restart_while_the_offer_cannot_reach_the_agent_then_at_once_when_it_can() {
    let mut k = Kiosk::connected();
    k.input(Input::Hub(HubToKiosk::PeerAway { session: session() }));
    assert!(k.call().agent_away);
    assert!(k.events().contains(&KioskEvent::AgentAway { session: "s-1".into() }));
    k.input(Input::Media(MediaEvent::Lost));
    k.advance(Duration::from_secs(10));
    assert_eq!(k.restarts(), 0, "the agent is not there to answer");
    k.input(Input::Hub(HubToKiosk::PeerBack { session: session() }));
    let out = k.take();
    assert!(out.contains(&Output::Call(CallCommand::RestartIce)));
    assert!(out.contains(&Output::Event(KioskEvent::AgentBack { session: "s-1".into() })));

    // Likewise while the kiosk itself is away from the hub.
    k.input(Input::HubLost);
    k.advance(Duration::from_secs(20));
    assert_eq!(k.restarts(), 0);
    k.input(Input::HubConnected);
    k.input(Input::Hub(welcome()));
    k.input(Input::Hub(HubToKiosk::CallResumed { session: session(), agent_name: "Claire".into(), ice_servers: vec![] }));
    assert_eq!(k.restarts(), 1);
}

#[test]
fn media_down_for_two_minutes_ends_the_call() {
    let mut k = Kiosk::connected();
    k.input(Input::Media(MediaEvent::Reconnecting));
    k.advance(Duration::from_secs(119));
    assert!(matches!(k.screen(), Screen::InCall(_)));
    k.advance(Duration::from_secs(2));
    assert_eq!(ended_reason(&k), EndedReason::CallFailed);
}

#[test]
fn the_agent_reloading_their_page_gets_a_new_connection() {
    let mut k = Kiosk::connected();
    k.input(Input::Hub(HubToKiosk::Signal { session: session(), signal: Signal::Restart }));
    let out = k.take();
    assert!(out.contains(&Output::Call(CallCommand::Reconnect)));
    assert!(!out.contains(&Output::Call(CallCommand::RemoteSignal(Signal::Restart))));
    assert_eq!(k.call().media, MediaState::Reconnecting);
    k.input(Input::Media(MediaEvent::Connected));
    assert_eq!(k.call().media, MediaState::Connected);
}

#[test]
fn the_hub_dropping_while_waiting_keeps_the_screen_and_asks_for_the_place_back() {
    let mut k = Kiosk::waiting();
    k.input(Input::HubLost);
    assert!(matches!(k.screen(), Screen::Waiting(Waiting { hub_lost: true, position: 2, .. })), "{:?}", k.screen());
    assert_eq!(k.events(), [KioskEvent::Reconnecting { session: "s-1".into() }]);
    // Back (on whichever hub process): the same service is asked for, and
    // the hub gives the same place back.
    k.advance(Duration::from_secs(1));
    assert!(k.take().contains(&Output::ConnectHub { resume: None }));
    k.input(Input::HubConnected);
    k.input(Input::Hub(welcome()));
    assert!(k.take().contains(&Output::ToHub(KioskToHub::RequestCall { service: "caf".into() })));
    k.input(Input::Hub(HubToKiosk::Queued { session: session(), service: "caf".into(), position: 2, estimated_wait: None }));
    assert!(matches!(k.screen(), Screen::Waiting(Waiting { hub_lost: false, position: 2, .. })));
    let events = k.events();
    assert_eq!(events[0], KioskEvent::Resumed { session: "s-1".into() }, "{events:?}");
    // Later answered as usual.
    k.input(Input::Hub(HubToKiosk::CallAnswered {
        session: session(),
        agent_name: "Claire".into(),
        ice_servers: vec![],
        resume_token: Some(token()),
    }));
    assert_eq!(k.call().session, session());
}

#[test]
fn a_waiting_kiosk_that_gets_a_new_place_or_no_hub_in_time_says_the_old_one_ended() {
    // A new place: the old one was gone.
    let mut k = Kiosk::waiting();
    k.input(Input::HubLost);
    k.input(Input::HubConnected);
    k.input(Input::Hub(welcome()));
    k.input(Input::Hub(HubToKiosk::Queued { session: "s-9".into(), service: "caf".into(), position: 7, estimated_wait: None }));
    let events = k.events();
    assert!(events.contains(&KioskEvent::Ended { session: "s-1".into(), reason: VisitEnd::HubLost }), "{events:?}");
    assert!(matches!(k.screen(), Screen::Waiting(Waiting { position: 7, .. })));

    // No hub for a minute: the place is lost, out of service.
    let mut k = Kiosk::waiting();
    k.input(Input::HubLost);
    k.advance(Duration::from_secs(59));
    assert!(matches!(k.screen(), Screen::Waiting(_)));
    k.advance(Duration::from_secs(2));
    assert_eq!(*k.screen(), Screen::OutOfService { reason: OutOfService::HubUnreachable });
    assert!(k.events().contains(&KioskEvent::Ended { session: "s-1".into(), reason: VisitEnd::HubLost }));
    k.input(Input::Hub(welcome()));
    assert_eq!(*k.screen(), Screen::Home { notice: None });
}

#[test]
fn a_failed_call_is_hung_up_and_ended() {
    let mut k = Kiosk::in_call();
    k.input(Input::Media(MediaEvent::Failed { reason: "no route".into() }));
    let out = k.take();
    assert!(out.contains(&Output::ToHub(KioskToHub::HangUp { session: session() })));
    assert!(out.contains(&Output::Event(KioskEvent::CallFailed { session: "s-1".into(), reason: "no route".into() })));
    assert_eq!(ended_reason(&k), EndedReason::CallFailed);
}

#[test]
fn a_prepared_scan_tells_the_resident_first_and_consent_goes_to_the_documents() {
    // By default the service asks nothing of the resident.
    let mut k = Kiosk::waiting();
    k.input(Input::Hub(HubToKiosk::CallAnswered { session: session(), agent_name: "Claire".into(), ice_servers: vec![], resume_token: None }));
    assert!(k.take().contains(&Output::Documents(DocumentCommand::RequireScanConsent(false))));
    k.input(Input::Document(DocumentEvent::ScanPlace { pages: 0, feeder: true }));
    assert!(matches!(k.screen(), Screen::InCall(InCall { document: DocumentView::ScanPlace { pages: 0, feeder: true }, .. })));
    k.input(Input::Document(DocumentEvent::ScanPageScanning { page: 1 }));
    assert!(matches!(k.screen(), Screen::InCall(InCall { document: DocumentView::ScanningPage { page: 1 }, .. })));
    // A stray answer (no question on screen) sends nothing.
    k.input(Input::ScanConsent { accept: true });
    assert!(!k.take().iter().any(|o| matches!(o, Output::Documents(DocumentCommand::ScanConsent { .. }))));
    k.input(Input::Document(DocumentEvent::ScanCancelled));
    assert!(matches!(k.screen(), Screen::InCall(InCall { document: DocumentView::None, .. })));

    // A service that asks: told at the call's start, the answer goes out once.
    let mut k = Kiosk::new();
    k.session = Session::new(Config { scan_consent_services: vec!["caf".into()], ..Config::default() }, k.now);
    k.input(Input::HubConnected);
    k.input(Input::Hub(welcome()));
    k.input(Input::ChooseService("caf".into()));
    k.input(Input::Hub(HubToKiosk::Queued { session: session(), service: "caf".into(), position: 1, estimated_wait: None }));
    k.input(Input::Hub(HubToKiosk::CallAnswered { session: session(), agent_name: "Claire".into(), ice_servers: vec![], resume_token: None }));
    assert!(k.take().contains(&Output::Documents(DocumentCommand::RequireScanConsent(true))));
    k.input(Input::Document(DocumentEvent::ScanConsent { req: 4, page: 2 }));
    assert!(matches!(k.screen(), Screen::InCall(InCall { document: DocumentView::ScanConsent { req: 4, page: 2 }, .. })));
    k.input(Input::ScanConsent { accept: false });
    let out = k.take();
    assert_eq!(out.iter().filter(|o| matches!(o, Output::Documents(DocumentCommand::ScanConsent { .. }))).count(), 1);
    assert!(out.contains(&Output::Documents(DocumentCommand::ScanConsent { req: 4, page: 2, accept: false })));
    assert!(!matches!(k.screen(), Screen::InCall(InCall { document: DocumentView::ScanConsent { .. }, .. })));
}

#[test]
fn documents_show_progress_then_a_notice_that_fades() {
    let mut k = Kiosk::in_call();
    k.input(Input::Document(DocumentEvent::ScanRequested));
    k.input(Input::Document(DocumentEvent::ScanProgress { percent: 40 }));
    assert!(matches!(k.screen(), Screen::InCall(InCall { document: DocumentView::Scanning { percent: Some(40) }, .. })));
    k.input(Input::Document(DocumentEvent::ScanSent { name: "scan-1.pdf".into(), size: 123_456, sha256: "ab".repeat(32) }));
    assert!(matches!(k.events().as_slice(), [KioskEvent::ScanSent { size: 123_456, .. }]));
    k.advance(Duration::from_secs(10));
    assert!(matches!(k.screen(), Screen::InCall(InCall { document: DocumentView::None, .. })));

    k.input(Input::Document(DocumentEvent::PrintStarted { name: "form.pdf".into() }));
    assert!(matches!(k.screen(), Screen::InCall(InCall { document: DocumentView::Printing { .. }, .. })));
    k.input(Input::Document(DocumentEvent::Printed { name: "form.pdf".into() }));
    assert_eq!(k.events(), vec![KioskEvent::Printed { name: "form.pdf".into() }]);
}

#[test]
fn a_shown_document_turns_pages_within_bounds() {
    let mut k = Kiosk::in_call();
    k.input(Input::Document(DocumentEvent::Showing { name: "attestation.pdf".into(), pages: 2 }));
    let page = |k: &Kiosk| match k.screen() {
        Screen::InCall(InCall { document: DocumentView::Showing { page, .. }, .. }) => *page,
        other => panic!("{other:?}"),
    };
    assert_eq!(page(&k), 1);
    k.input(Input::PreviousPage);
    assert_eq!(page(&k), 1);
    k.input(Input::NextPage);
    k.input(Input::NextPage);
    assert_eq!(page(&k), 2);
    k.input(Input::Document(DocumentEvent::ShowClosed));
    assert!(matches!(k.screen(), Screen::InCall(InCall { document: DocumentView::None, .. })));
    assert!(k.events().contains(&KioskEvent::Displayed { name: "attestation.pdf".into(), pages: 2 }));
}

#[test]
fn inputs_out_of_place_change_nothing() {
    let mut k = Kiosk::at_home();
    for input in [
        Input::Cancel,
        Input::HangUp,
        Input::ConfirmHangUp,
        Input::Rate(Rating::Happy),
        Input::NextPage,
        Input::Media(MediaEvent::Connected),
        Input::Document(DocumentEvent::ScanRequested),
        Input::Hub(HubToKiosk::CallAnswered { session: session(), agent_name: "x".into(), ice_servers: vec![], resume_token: None }),
        Input::Hub(HubToKiosk::QueueUpdate { session: session(), position: 1, estimated_wait: None }),
    ] {
        k.input(input.clone());
        assert_eq!(*k.screen(), Screen::Home { notice: None }, "after {input:?}");
    }
    assert!(k.take().iter().all(|o| !matches!(o, Output::ToHub(_) | Output::Call(_))));
    // Choosing twice sends one request.
    k.input(Input::ChooseService("caf".into()));
    k.input(Input::ChooseService("msa".into()));
    assert_eq!(k.take(), vec![Output::ToHub(KioskToHub::RequestCall { service: "caf".into() })]);
}

#[test]
fn events_are_one_json_object_per_line() {
    let e = KioskEvent::ScanSent { name: "scan.pdf".into(), size: 10, sha256: "00".into() };
    assert_eq!(e.to_json_line(), r#"{"event":"scan_sent","name":"scan.pdf","size":10,"sha256":"00"}"#);
    let e = KioskEvent::Queued { service: "caf".into(), session: "s".into(), position: 1, estimated_wait_seconds: None };
    assert_eq!(e.to_json_line(), r#"{"event":"queued","service":"caf","session":"s","position":1,"estimated_wait_seconds":null}"#);
}

// ---------------------------------------------------------------------------
// Heartbeats and configuration updates
// ---------------------------------------------------------------------------

fn to_hub(out: &[Output]) -> Vec<KioskToHub> {
    out.iter().filter_map(|o| if let Output::ToHub(m) = o { Some(m.clone()) } else { None }).collect()
}

/// A heartbeat's seq, config_version, devices and rtt_ms.
type Beat = (u64, Option<u64>, Option<DeviceHealth>, Option<u32>);

fn heartbeats(out: &[Output]) -> Vec<Beat> {
    to_hub(out)
        .into_iter()
        .filter_map(|m| match m {
            KioskToHub::Heartbeat { seq, config_version, devices, rtt_ms, app_version, .. } => {
                assert_eq!(app_version, env!("CARGO_PKG_VERSION"));
                Some((seq, config_version, devices, rtt_ms))
            }
            _ => None,
        })
        .collect()
}

fn health(scanner: DeviceState) -> DeviceHealth {
    let ok = DeviceStatus::new(DeviceState::Ok, None);
    DeviceHealth { camera: ok.clone(), microphone: ok.clone(), scanner: DeviceStatus::new(scanner, None), printer: ok, speaker: None, sound_output: None }
}

fn announce(version: u64) -> Input {
    Input::Hub(HubToKiosk::ConfigAvailable {
        version,
        sha256: "ab".repeat(32),
        size: 20_000,
        path: "/api/kiosk/config".into(),
    })
}


/// At home, with the hub asking for a heartbeat every 20 s, and the first
/// heartbeat taken.
fn beating() -> Kiosk {
    let mut k = Kiosk::new();
    k.input(Input::HubConnected);
    k.input(Input::Hub(HubToKiosk::Welcome {
        protocol: PROTOCOL_VERSION,
        kiosk_id: "besse".into(),
        site: "Mairie".into(),
        services: vec![],
        heartbeat_seconds: Some(20),
        callbacks: false,
    }));
    assert_eq!(heartbeats(&k.take()), [(1, None, None, None)], "one heartbeat right after the welcome");
    k
}

#[test]
fn heartbeats_follow_the_hub_period_carry_devices_and_the_measured_round_trip() {
    let mut k = beating();
    k.advance(Duration::from_millis(600));
    k.input(Input::Hub(HubToKiosk::HeartbeatAck { seq: 1 }));
    assert_eq!(k.session.hub_rtt(), Some(Duration::from_millis(600)));
    k.input(Input::Devices(health(DeviceState::Ok)));
    assert!(k.take().is_empty(), "the first device check waits for the next beat");
    k.advance(Duration::from_millis(19_399));
    assert!(heartbeats(&k.take()).is_empty(), "not before 20 s");
    k.advance(Duration::from_millis(1));
    assert_eq!(heartbeats(&k.take()), [(2, None, Some(health(DeviceState::Ok)), Some(600))]);
    // A late ack of an older beat does not count.
    k.input(Input::Hub(HubToKiosk::HeartbeatAck { seq: 1 }));
    assert_eq!(k.session.hub_rtt(), Some(Duration::from_millis(600)));
    k.advance(Duration::from_secs(20 * 3));
    assert_eq!(heartbeats(&k.take()).iter().map(|h| h.0).collect::<Vec<_>>(), [3, 4, 5]);
}

#[test]
fn heartbeats_after_a_call_carry_what_it_measured_of_the_link() {
    let mut k = Kiosk::in_call();
    let last_call = |out: &[Output]| {
        to_hub(out).into_iter().find_map(|m| match m {
            KioskToHub::Heartbeat { last_call, .. } => Some(last_call),
            _ => None,
        })
    };
    for (kbps, rtt) in [(1800, Some(90)), (2200, Some(110)), (2000, None)] {
        k.input(Input::Media(MediaEvent::Measured { uplink_bps: Some(kbps * 1000), rtt: rtt.map(Duration::from_millis) }));
    }
    k.advance(Duration::from_secs(60));
    assert_eq!(last_call(&k.take()), Some(None), "the beats during the call carry nothing yet");
    k.input(Input::HangUp);
    k.input(Input::ConfirmHangUp);
    let measured = Some(visio_protocol::CallLink { uplink_kbps: 2000, rtt_ms: Some(110) });
    assert_eq!(last_call(&k.take()), Some(measured), "the medians of the call, told at once");
    // Out of a call, a stray report changes nothing.
    k.input(Input::Media(MediaEvent::Measured { uplink_bps: Some(1), rtt: None }));
    k.advance(Duration::from_secs(60));
    assert_eq!(last_call(&k.take()), Some(measured));
}

#[test]
fn a_device_that_fails_is_reported_at_once_but_a_flapping_one_is_not_a_stream() {
    let mut k = beating();
    k.input(Input::Devices(health(DeviceState::Ok)));
    k.advance(Duration::from_secs(10));
    k.take();
    k.input(Input::Devices(health(DeviceState::Error)));
    assert_eq!(heartbeats(&k.take()), [(2, None, Some(health(DeviceState::Error)), None)]);
    // Back and forth within 5 s: carried by the next regular beat.
    k.advance(Duration::from_secs(1));
    k.input(Input::Devices(health(DeviceState::Ok)));
    k.input(Input::Devices(health(DeviceState::Missing)));
    assert!(k.take().is_empty());
    k.advance(Duration::from_secs(19));
    assert_eq!(heartbeats(&k.take()), [(3, None, Some(health(DeviceState::Missing)), None)]);
    // The same states again: nothing to say early.
    k.advance(Duration::from_secs(10));
    k.input(Input::Devices(health(DeviceState::Missing)));
    assert!(k.take().is_empty());
}

#[test]
fn no_heartbeat_without_the_hub_and_they_resume_after_the_welcome() {
    let mut k = beating();
    k.input(Input::HubLost);
    k.take();
    k.advance(Duration::from_secs(25));
    assert!(heartbeats(&k.take()).is_empty());
    k.input(Input::HubConnected);
    k.input(Input::Hub(welcome()));
    let beats = heartbeats(&k.take());
    assert_eq!(beats.len(), 1);
    assert_eq!(beats[0].3, None, "the round trip is measured again on the new connection");
    k.advance(Duration::from_secs(30));
    assert_eq!(heartbeats(&k.take()).len(), 1, "without a period from the hub: the configured 30 s");
}

#[test]
fn a_newer_configuration_is_fetched_applied_reported_and_heartbeats_carry_it() {
    let mut k = beating();
    k.input(announce(100));
    assert_eq!(k.fetches(), [100]);
    // Announced again (a reconnection) while the download runs: once.
    k.input(announce(100));
    assert!(k.fetches().is_empty());
    k.input(Input::ConfigFetched(ConfigFetch::Applied { version: 100 }));
    let out = k.take();
    assert_eq!(to_hub(&out), [KioskToHub::ConfigApplied { version: 100 }]);
    assert!(out.contains(&Output::Event(KioskEvent::ConfigApplied { version: 100 })));
    assert_eq!(k.session.config_version(), Some(100));
    k.advance(Duration::from_secs(20));
    assert_eq!(heartbeats(&k.take())[0].1, Some(100));
    // The running version announced again: nothing to do.
    k.input(announce(100));
    assert!(k.take().is_empty());
}

#[test]
fn an_older_announcement_is_refused_without_downloading() {
    let mut k = Kiosk::new();
    k.session = Session::new(Config { config_version: Some(200), ..Config::default() }, k.now);
    k.input(Input::HubConnected);
    k.input(Input::Hub(welcome()));
    k.take();
    k.input(announce(100));
    let out = k.take();
    assert!(k.fetches().is_empty());
    let [KioskToHub::ConfigRefused { version: 100, reason }] = &to_hub(&out)[..] else { panic!("{out:?}") };
    assert_eq!(reason.code, ConfigRefusalCode::Rollback);
    assert_eq!(reason.message, "this kiosk runs version 200, newer than the announced 100; it keeps 200");
    assert_eq!(k.session.config_version(), Some(200));
}

#[test]
fn a_refused_configuration_is_reported_once_and_not_downloaded_again() {
    let mut k = beating();
    k.input(announce(100));
    assert_eq!(k.fetches(), [100]);
    k.take();
    let reason = ConfigRefusal::new(ConfigRefusalCode::BadSignature, "bad signature");
    k.input(Input::ConfigFetched(ConfigFetch::Refused { version: 100, reason: reason.clone() }));
    let out = k.take();
    assert_eq!(to_hub(&out), [KioskToHub::ConfigRefused { version: 100, reason }]);
    assert!(out.contains(&Output::Event(KioskEvent::ConfigRefused {
        version: 100,
        code: "bad_signature".into(),
        message: "bad signature".into()
    })));
    assert_eq!(k.session.config_version(), None, "the previous configuration keeps running");
    k.advance(Duration::from_secs(3600));
    k.input(announce(100));
    assert!(k.fetches().is_empty(), "the same bundle would be refused again");
    k.input(announce(101));
    assert_eq!(k.fetches(), [101], "a new version is tried");
}

#[test]
fn a_failed_download_is_reported_and_retried_with_backoff_while_the_hub_is_there() {
    let mut k = beating();
    k.input(announce(100));
    assert_eq!(k.fetches(), [100]);
    k.take();
    let mut retries = Vec::new();
    let start = k.now;
    for _ in 0..3 {
        k.input(Input::ConfigFetched(ConfigFetch::Failed { version: 100, reason: "connection reset".into() }));
        let refusals: Vec<KioskToHub> =
            to_hub(&k.take()).into_iter().filter(|m| !matches!(m, KioskToHub::Heartbeat { .. })).collect();
        let [KioskToHub::ConfigRefused { reason, .. }] = &refusals[..] else { panic!("{refusals:?}") };
        assert_eq!((reason.code, reason.message.as_str()), (ConfigRefusalCode::FetchFailed, "connection reset"));
        loop {
            k.advance(Duration::from_secs(1));
            if k.fetches() == [100] {
                retries.push((k.now - start).as_secs());
                break;
            }
        }
    }
    assert_eq!(retries, [30, 30 + 60, 30 + 60 + 120], "30 s, doubling");
    // Without the hub, the retry waits for the next welcome's announcement.
    k.input(Input::HubLost);
    k.input(Input::ConfigFetched(ConfigFetch::Failed { version: 100, reason: "no route to host".into() }));
    k.take();
    k.advance(Duration::from_secs(3600));
    assert!(k.fetches().is_empty());
    k.input(Input::HubConnected);
    k.input(Input::Hub(welcome()));
    let out = k.take();
    assert!(matches!(&to_hub(&out)[..], [KioskToHub::ConfigRefused { version: 100, .. }, KioskToHub::Heartbeat { .. }]),
        "the refusal made while offline is told after the welcome: {out:?}");
    k.input(announce(100));
    assert_eq!(k.fetches(), [100]);
    k.input(Input::ConfigFetched(ConfigFetch::Applied { version: 100 }));
    k.advance(Duration::from_secs(3600));
    assert!(k.fetches().is_empty(), "no retry once applied");
}

// ---------------------------------------------------------------------------
// Document outcomes and the call's end in the same instant
// ---------------------------------------------------------------------------

/// The ways a call can end.
#[derive(Debug, Clone, Copy)]
enum CallEnd {
    Resident,
    Agent,
    MediaFailed,
    /// The resident confirms as the agent's hang-up arrives.
    Both,
}

fn end_the_call(k: &mut Kiosk, how: CallEnd) {
    let agent = Input::Hub(HubToKiosk::CallEnded { session: session(), reason: EndReason::AgentHungUp });
    match how {
        CallEnd::Resident => {
            k.input(Input::HangUp);
            k.input(Input::ConfirmHangUp);
        }
        CallEnd::Agent => k.input(agent),
        CallEnd::MediaFailed => k.input(Input::Media(MediaEvent::Failed { reason: "gone".into() })),
        CallEnd::Both => {
            k.input(Input::HangUp);
            k.input(Input::ConfirmHangUp);
            k.input(agent);
        }
    }
}

#[test]
fn a_document_outcome_in_the_same_instant_as_the_end_is_told_once_in_either_order() {
    let sha = "ab".repeat(32);
    let outcomes = [
        (
            DocumentEvent::ScanSent { name: "scan-1.pdf".into(), size: 10, sha256: sha.clone() },
            KioskEvent::ScanSent { name: "scan-1.pdf".into(), size: 10, sha256: sha },
        ),
        (DocumentEvent::Printed { name: "form.pdf".into() }, KioskEvent::Printed { name: "form.pdf".into() }),
        (
            DocumentEvent::Showing { name: "notice.pdf".into(), pages: 2 },
            KioskEvent::Displayed { name: "notice.pdf".into(), pages: 2 },
        ),
        (DocumentEvent::Failed { reason: "paper jam".into() }, KioskEvent::DocumentFailed { reason: "paper jam".into() }),
    ];
    for (document, told) in outcomes {
        for how in [CallEnd::Resident, CallEnd::Agent, CallEnd::MediaFailed, CallEnd::Both] {
            for outcome_first in [true, false] {
                let case = format!("{document:?}, {how:?}, outcome first: {outcome_first}");
                let mut k = Kiosk::connected();
                // Same `now` for both: the same instant.
                if outcome_first {
                    k.input(Input::Document(document.clone()));
                    end_the_call(&mut k, how);
                } else {
                    end_the_call(&mut k, how);
                    k.input(Input::Document(document.clone()));
                }
                let out = k.take();
                let count = |p: &dyn Fn(&Output) -> bool| out.iter().filter(|o| p(o)).count();
                assert_eq!(count(&|o| *o == Output::Event(told.clone())), 1, "the outcome told once: {case}: {out:?}");
                assert_eq!(count(&|o| matches!(o, Output::Event(KioskEvent::Ended { .. }))), 1, "one end: {case}");
                let hang_ups = count(&|o| matches!(o, Output::ToHub(KioskToHub::HangUp { .. })));
                assert_eq!(hang_ups, usize::from(!matches!(how, CallEnd::Agent)), "the hub told once, by the side that ended: {case}");
                assert_eq!(count(&|o| *o == Output::Call(CallCommand::End)), 1, "{case}");
                assert_eq!(count(&|o| *o == Output::Documents(DocumentCommand::WipeSpool)), 1, "{case}");
                assert!(matches!(k.screen(), Screen::Ended(_)), "the outcome does not reopen the call: {case}");

                // Back home, nothing of the visit is told again.
                k.advance(Duration::from_secs(60));
                assert_eq!(*k.screen(), Screen::Home { notice: None }, "{case}");
                assert!(k.events().iter().all(|e| *e != told), "{case}");
            }
        }
    }
}

#[test]
fn end_reasons_and_out_of_service_keep_their_names_on_the_line() {
    let line = |reason| KioskEvent::Ended { session: "s".into(), reason }.to_json_line();
    assert_eq!(line(VisitEnd::Hub(EndReason::AgentHungUp)), r#"{"event":"ended","session":"s","reason":"agent_hung_up"}"#);
    assert_eq!(line(VisitEnd::Hub(EndReason::Cancelled)), r#"{"event":"ended","session":"s","reason":"cancelled"}"#);
    assert_eq!(line(VisitEnd::CallFailed), r#"{"event":"ended","session":"s","reason":"call_failed"}"#);
    assert_eq!(line(VisitEnd::HubLost), r#"{"event":"ended","session":"s","reason":"hub_lost"}"#);
    assert_eq!(line(VisitEnd::ResidentAbsent), r#"{"event":"ended","session":"s","reason":"resident_absent"}"#);
    let e = KioskEvent::OutOfService { reason: OutOfService::HubUnreachable };
    assert_eq!(e.to_json_line(), r#"{"event":"out_of_service","reason":"hub_unreachable"}"#);
    assert!(VisitEnd::Hub(EndReason::KioskHungUp).is_normal() && !VisitEnd::CallFailed.is_normal());
}

#[test]
fn the_log_line_names_no_document_hash_session_or_agent() {
    let sha = "ab".repeat(32);
    let events = [
        KioskEvent::ScanSent { name: "Dupont-avis.pdf".into(), size: 10, sha256: sha.clone() },
        KioskEvent::Printed { name: "Dupont-avis.pdf".into() },
        KioskEvent::Displayed { name: "Dupont-avis.pdf".into(), pages: 2 },
        KioskEvent::DocumentFailed { reason: "cannot print Dupont-avis.pdf".into() },
        KioskEvent::Answered { session: "s-77".into(), agent_name: "Claire Dupont".into() },
        KioskEvent::Ended { session: "s-77".into(), reason: VisitEnd::Hub(EndReason::AgentHungUp) },
    ];
    let lines: Vec<String> = events.iter().map(KioskEvent::to_log_line).collect();
    for line in &lines {
        assert!(!line.contains("Dupont") && !line.contains(&sha) && !line.contains("s-77"), "{line}");
    }
    assert_eq!(lines[0], r#"{"event":"scan_sent","size":10}"#);
    assert_eq!(lines[2], r#"{"event":"displayed","pages":2}"#);
    assert_eq!(lines[5], r#"{"event":"ended","reason":"agent_hung_up"}"#);
}

#[test]
fn the_agent_drives_a_shown_document_and_the_shell_is_told_each_view() {
    let mut k = Kiosk::in_call();
    // Nothing shown yet: a view from a lagging agent page changes nothing.
    k.input(Input::Document(DocumentEvent::View(PageView::top_of(2))));
    assert!(k.take().iter().all(|o| !matches!(o, Output::Documents(DocumentCommand::ShowView { .. }))));

    k.input(Input::Document(DocumentEvent::Showing { name: "notice.pdf".into(), pages: 3 }));
    assert!(k.take().contains(&Output::Documents(DocumentCommand::ShowView { pages: 3, view: PageView::top_of(1) })));

    let wanted = PageView { page: 7, zoom: 900, center: (500, 400), pointer: Some((250, 1500)) };
    k.input(Input::Document(DocumentEvent::View(wanted)));
    let kept = PageView { page: 3, zoom: MAX_ZOOM, center: (500, 400), pointer: Some((250, 1000)) };
    let out = k.take();
    assert!(out.contains(&Output::Documents(DocumentCommand::ShowView { pages: 3, view: kept })), "{out:?}");
    assert!(out.contains(&Output::Event(KioskEvent::Viewed { page: 3, zoom: MAX_ZOOM })), "{out:?}");
    assert!(matches!(k.screen(), Screen::InCall(InCall { document: DocumentView::Showing { page: 3, view, .. }, .. }) if *view == kept));

    // The same view again: nothing to draw, nothing to tell.
    k.input(Input::Document(DocumentEvent::View(wanted)));
    assert!(k.take().is_empty());
    // Only the pointer moves: the shell is told, the log is not.
    k.input(Input::Document(DocumentEvent::View(PageView { pointer: None, ..kept })));
    let out = k.take();
    assert!(out.contains(&Output::Documents(DocumentCommand::ShowView { pages: 3, view: PageView { pointer: None, ..kept } })));
    assert!(!out.iter().any(|o| matches!(o, Output::Event(KioskEvent::Viewed { .. }))));
    // A page turn starts at the top of the page, fit to width.
    k.input(Input::PreviousPage);
    assert!(k.take().contains(&Output::Documents(DocumentCommand::ShowView { pages: 3, view: PageView::top_of(2) })));
}

#[test]
fn the_resident_signs_the_document_the_agent_sent_where_the_agent_put_the_box() {
    let mut k = Kiosk::connected();
    let area = SignArea { page: 2, x: 550, y: 820, width: 380, height: 120 };
    k.input(Input::Document(DocumentEvent::SignAsked { name: "attestation.pdf".into(), pages: 2, area }));
    assert_eq!(k.call().document, DocumentView::Signing { name: "attestation.pdf".into(), pages: 2, area });
    assert_eq!(k.events(), vec![KioskEvent::SignAsked { name: "attestation.pdf".into(), pages: 2, page: 2 }]);
    // The agent moves the box to page 1.
    let moved = SignArea { page: 1, x: 100, y: 700, width: 400, height: 150 };
    k.input(Input::Document(DocumentEvent::SignMoved(moved)));
    assert!(matches!(k.call().document, DocumentView::Signing { area, .. } if area == moved));
    assert_eq!(k.events(), vec![KioskEvent::SignPlaced { page: 1 }]);
    // A tap is not a signature: nothing happens.
    k.input(Input::Sign { strokes: vec![vec![(10, 10)]] });
    assert!(k.take().is_empty());
    assert!(matches!(k.call().document, DocumentView::Signing { .. }));
    // Strokes: the shell stamps them with the site the hub named.
    let strokes = vec![vec![(0, 500), (300, 100), (600, 900)], vec![(700, 500), (1000, 500)]];
    k.input(Input::Sign { strokes: strokes.clone() });
    assert_eq!(k.take(), vec![Output::Documents(DocumentCommand::Sign { strokes, site: "Mairie".into() })]);
    assert_eq!(k.call().document, DocumentView::SignSending { name: "attestation.pdf".into() });
    // A second answer does nothing more.
    k.input(Input::RefuseSign);
    assert!(k.take().is_empty());
    k.input(Input::Document(DocumentEvent::Signed { name: "attestation-signe.pdf".into(), size: 1200, sha256: "ab".into() }));
    assert_eq!(k.events(), vec![KioskEvent::Signed { name: "attestation-signe.pdf".into(), size: 1200, sha256: "ab".into() }]);
    assert_eq!(k.call().document, DocumentView::Signed { name: "attestation-signe.pdf".into() });
    k.advance(Duration::from_secs(11));
    assert_eq!(k.call().document, DocumentView::None, "the notice goes after a while; the call goes on");
}

#[test]
fn the_resident_may_refuse_to_sign_and_the_call_goes_on() {
    let mut k = Kiosk::connected();
    let area = SignArea { page: 1, x: 550, y: 820, width: 380, height: 120 };
    k.input(Input::Document(DocumentEvent::SignAsked { name: "mandat.pdf".into(), pages: 1, area }));
    k.take();
    k.input(Input::RefuseSign);
    let out = k.take();
    assert!(out.contains(&Output::Documents(DocumentCommand::RefuseSign)), "{out:?}");
    assert!(out.contains(&Output::Event(KioskEvent::SignRefused { name: "mandat.pdf".into() })), "{out:?}");
    assert_eq!(k.call().document, DocumentView::SignRefused { name: "mandat.pdf".into() });
    // Strokes after the refusal are not sent.
    k.input(Input::Sign { strokes: vec![vec![(0, 0), (10, 10)]] });
    assert!(k.take().is_empty());
    k.advance(Duration::from_secs(11));
    assert_eq!(k.call().document, DocumentView::None);
    assert!(matches!(k.screen(), Screen::InCall(_)));
}
