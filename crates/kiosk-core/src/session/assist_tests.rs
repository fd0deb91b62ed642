//! Speech prompts and warned returns, driven by inputs and simulated time.

use std::time::Duration;

use visio_protocol::*;

use super::super::harness::Kiosk;
use super::super::*;

/// At home, what it said on the way kept.
fn at_home() -> Kiosk {
    Kiosk::at_home_with(Config::default())
}

/// In a call whose media is up, nothing said yet.
fn in_call() -> Kiosk {
    let mut k = at_home();
    k.input(Input::ChooseService("caf".into()));
    k.input(Input::Hub(HubToKiosk::Queued { session: "s-1".into(), service: "caf".into(), position: 1, estimated_wait: None }));
    k.input(Input::Hub(HubToKiosk::CallAnswered { session: "s-1".into(), agent_name: "Claire".into(), ice_servers: vec![], resume_token: None }));
    k.input(Input::Media(MediaEvent::Connected));
    k.prompts();
    k
}

/// On the end screen after the agent hung up, nothing said yet.
fn ended() -> Kiosk {
    let mut k = in_call();
    k.input(Input::Hub(HubToKiosk::CallEnded { session: "s-1".into(), reason: EndReason::AgentHungUp }));
    k.prompts();
    k
}

impl Kiosk {
    fn warning(&self) -> Option<Duration> {
        self.session.auto_return().filter(|r| r.warning).map(|r| r.at.saturating_duration_since(self.now))
    }
}

fn devices() -> DeviceHealth {
    let ok = DeviceStatus::new(DeviceState::Ok, None);
    DeviceHealth { camera: ok.clone(), microphone: ok.clone(), scanner: ok.clone(), printer: ok, speaker: None, sound_output: None }
}

#[test]
fn every_screen_change_is_said_once_in_the_residents_language() {
    let mut k = at_home();
    assert_eq!(k.prompts(), vec![Prompt::Starting, Prompt::Home { notice: None }]);
    k.input(Input::Devices(devices()));
    k.input(Input::Touch);
    assert_eq!(k.prompts(), vec![], "nothing changed on screen: nothing said");

    k.input(Input::SetLanguage(Language::En));
    match k.said.as_slice() {
        [SpeechCommand::Say { prompt: Prompt::Home { .. }, language: Language::En, volume: VOLUME_DEFAULT, .. }] => {}
        other => panic!("the home screen again, in English: {other:?}"),
    }
    k.said.clear();

    k.input(Input::ChooseService("caf".into()));
    k.input(Input::Hub(HubToKiosk::Queued {
        session: "s-1".into(),
        service: "caf".into(),
        position: 2,
        estimated_wait: Some(WaitEstimate { seconds: 300 }),
    }));
    k.input(Input::Hub(HubToKiosk::QueueUpdate { session: "s-1".into(), position: 1, estimated_wait: None }));
    k.input(Input::Hub(HubToKiosk::CallAnswered { session: "s-1".into(), agent_name: "Claire".into(), ice_servers: vec![], resume_token: None }));
    k.input(Input::Document(DocumentEvent::ScanRequested));
    k.input(Input::Document(DocumentEvent::ScanProgress { percent: 30 }));
    k.input(Input::Document(DocumentEvent::ScanProgress { percent: 60 }));
    k.input(Input::Document(DocumentEvent::ScanSent { name: "a.pdf".into(), size: 10, sha256: "x".into() }));
    k.input(Input::HangUp);
    k.input(Input::ConfirmHangUp);
    let waiting = |position, estimate| Prompt::Waiting {
        service: "caf".into(),
        position,
        estimate,
        hub_lost: false,
        presence_check: false,
        transferred: false,
        callback: false,
    };
    assert_eq!(
        k.prompts(),
        vec![
            Prompt::Requesting { service: "caf".into() },
            waiting(2, Some(Duration::from_secs(300))),
            waiting(1, None),
            Prompt::Answered { agent_name: "Claire".into() },
            Prompt::Document(DocumentView::Scanning { percent: None }),
            Prompt::Document(DocumentView::ScanSent { name: "a.pdf".into() }),
            Prompt::ConfirmHangUp,
            Prompt::Ended { reason: EndedReason::Hub(EndReason::KioskHungUp), rated: false },
        ],
        "progress is not said at each step"
    );
}

#[test]
fn prompts_wait_while_the_agent_speaks() {
    let mut k = in_call();
    k.input(Input::Assist(Assist::AgentTalking(true)));
    k.input(Input::Document(DocumentEvent::ScanRequested));
    k.input(Input::Document(DocumentEvent::ScanSent { name: "a.pdf".into(), size: 10, sha256: "x".into() }));
    assert_eq!(k.prompts(), vec![], "the agent is speaking");
    k.input(Input::Assist(Assist::AgentTalking(false)));
    assert_eq!(k.prompts(), vec![Prompt::Document(DocumentView::ScanSent { name: "a.pdf".into() })], "only the newest, after");
}

#[test]
fn a_shown_document_is_said_once_per_page_not_at_each_zoom_or_pointer_move() {
    let mut k = in_call();
    k.input(Input::Document(DocumentEvent::Showing { name: "notice.pdf".into(), pages: 3 }));
    for x in [100, 200, 300] {
        k.input(Input::Document(DocumentEvent::View(PageView { page: 1, zoom: 150, center: (500, 300), pointer: Some((x, 400)) })));
    }
    k.input(Input::Document(DocumentEvent::View(PageView::top_of(2))));
    let shown = |page| Prompt::Document(DocumentView::Showing { name: "notice.pdf".into(), pages: 3, page, view: PageView::top_of(page) });
    assert_eq!(k.prompts(), vec![shown(1), shown(2)], "the agent's pointer and zoom are shown, not said");
}

#[test]
fn volume_steps_mute_and_listen_again() {
    let mut k = at_home();
    k.prompts();
    for _ in 0..10 {
        k.input(Input::Assist(Assist::VolumeUp));
    }
    assert_eq!(k.session.assist_prefs().volume, VOLUME_MAX);
    assert_eq!(k.prompts().last(), Some(&Prompt::Volume { level: VOLUME_MAX }));
    for _ in 0..10 {
        k.input(Input::Assist(Assist::VolumeDown));
    }
    assert_eq!(k.session.assist_prefs().volume, 0);
    k.prompts();
    k.input(Input::ChooseService("caf".into()));
    assert_eq!(k.prompts(), vec![], "muted");
    k.input(Input::Assist(Assist::Listen));
    assert_eq!(k.prompts(), vec![Prompt::Requesting { service: "caf".into() }], "said again, at the default volume");
    assert_eq!(k.session.assist_prefs().volume, VOLUME_DEFAULT);
    k.input(Input::Assist(Assist::StopSpeech));
    assert_eq!(k.said, vec![SpeechCommand::Stop]);
}

#[test]
fn the_end_screen_warns_twenty_seconds_ahead_and_still_here_puts_it_off() {
    let mut k = ended();
    k.advance(Duration::from_secs(9));
    assert_eq!(k.warning(), None);
    assert_eq!(k.session.auto_return().map(|r| r.at - k.now), Some(Duration::from_secs(21)), "a countdown to show");
    k.advance(Duration::from_secs(1));
    assert_eq!(k.warning(), Some(Duration::from_secs(20)));
    assert_eq!(k.prompts(), vec![Prompt::ReturnWarning { seconds: 20 }]);

    k.advance(Duration::from_secs(15));
    k.input(Input::Assist(Assist::StillHere));
    assert_eq!(k.warning(), None, "put off");
    assert_eq!(k.prompts(), vec![Prompt::Ended { reason: EndedReason::Hub(EndReason::AgentHungUp), rated: false }]);
    k.advance(Duration::from_secs(29));
    assert!(matches!(k.session.screen(), Screen::Ended(_)), "30 s more");
    assert_eq!(k.warning(), Some(Duration::from_secs(1)));
    k.advance(Duration::from_secs(1));
    assert_eq!(*k.session.screen(), Screen::Home { notice: None });
}

#[test]
fn after_rating_a_countdown_of_at_least_the_warning_time_shows() {
    let mut k = ended();
    k.input(Input::Rate(Rating::Happy));
    assert_eq!(k.warning(), Some(Duration::from_secs(20)));
    assert_eq!(k.prompts(), vec![Prompt::ReturnWarning { seconds: 20 }]);
    k.advance(Duration::from_secs(19));
    assert!(matches!(k.session.screen(), Screen::Ended(_)));
    k.advance(Duration::from_secs(1));
    assert_eq!(*k.session.screen(), Screen::Home { notice: None });
}

#[test]
fn a_return_closer_than_the_warning_is_put_off() {
    // A kiosk configured with a 5 s end screen still warns 20 s ahead.
    let mut k = Kiosk::at_home_with(Config { ended_screen: Duration::from_secs(5), ..Config::default() });
    k.input(Input::ChooseService("caf".into()));
    k.input(Input::Hub(HubToKiosk::Queued { session: "s-1".into(), service: "caf".into(), position: 1, estimated_wait: None }));
    k.input(Input::Hub(HubToKiosk::CallAnswered { session: "s-1".into(), agent_name: "Claire".into(), ice_servers: vec![], resume_token: None }));
    k.input(Input::Hub(HubToKiosk::CallEnded { session: "s-1".into(), reason: EndReason::AgentHungUp }));
    assert_eq!(k.warning(), Some(Duration::from_secs(20)));
    k.advance(Duration::from_secs(19));
    assert!(matches!(k.session.screen(), Screen::Ended(_)));
    k.advance(Duration::from_secs(1));
    assert_eq!(*k.session.screen(), Screen::Home { notice: None });
}

#[test]
fn an_english_or_large_text_home_warns_then_the_next_resident_gets_french_defaults() {
    let mut k = at_home();
    k.input(Input::SetLanguage(Language::En));
    k.input(Input::Assist(Assist::LargeText));
    k.input(Input::Assist(Assist::EasyRead));
    k.input(Input::Assist(Assist::VolumeUp));
    k.prompts();
    k.advance(Duration::from_secs(69));
    assert_eq!(k.warning(), None);
    k.advance(Duration::from_secs(1));
    assert_eq!(k.warning(), Some(Duration::from_secs(20)));
    match k.said.as_slice() {
        [SpeechCommand::Say { prompt: Prompt::ReturnWarning { seconds: 20 }, language: Language::En, easy_read: true, .. }] => {}
        other => panic!("the warning, in English and easy-read: {other:?}"),
    }
    k.said.clear();
    k.advance(Duration::from_secs(20));
    assert_eq!(k.session.language(), Language::Fr);
    assert_eq!(k.session.assist_prefs(), AssistPrefs::default());
    assert_eq!(k.prompts(), vec![Prompt::Home { notice: None }]);
    assert_eq!(k.session.auto_return(), None, "a fresh home has nothing to return from");
}

#[test]
fn a_closed_notice_warns_before_it_goes() {
    let mut k = at_home();
    k.input(Input::ChooseService("caf".into()));
    k.input(Input::Hub(HubToKiosk::CallRefused {
        service: "caf".into(),
        reason: RefusalReason::Closed { next_opening: None },
        message: "closed".into(),
    }));
    assert!(matches!(k.session.screen(), Screen::Home { notice: Some(_) }));
    k.advance(Duration::from_secs(70));
    assert_eq!(k.warning(), Some(Duration::from_secs(20)));
    k.input(Input::Assist(Assist::StillHere));
    assert_eq!(k.warning(), None);
    assert!(matches!(k.session.screen(), Screen::Home { notice: Some(_) }), "the notice stays");
}

#[test]
fn back_from_out_of_service_the_home_screen_is_french() {
    let mut k = at_home();
    k.input(Input::SetLanguage(Language::En));
    k.input(Input::HubLost);
    assert!(matches!(k.session.screen(), Screen::OutOfService { .. }));
    k.input(Input::HubConnected);
    k.input(Input::Hub(HubToKiosk::Welcome {
        protocol: PROTOCOL_VERSION,
        kiosk_id: "besse".into(),
        site: "Mairie de Besse".into(),
        services: vec![],
        heartbeat_seconds: None,
        callbacks: false,
    }));
    assert_eq!(*k.session.screen(), Screen::Home { notice: None });
    assert_eq!(k.session.language(), Language::Fr);
}

#[test]
fn the_wait_is_timed_from_the_first_waiting_screen() {
    let mut k = at_home();
    k.input(Input::ChooseService("caf".into()));
    assert_eq!(k.session.waiting_since(), None, "requesting is not waiting yet");
    k.input(Input::Hub(HubToKiosk::Queued { session: "s-1".into(), service: "caf".into(), position: 2, estimated_wait: None }));
    let since = k.now;
    k.advance(Duration::from_secs(90));
    k.input(Input::Hub(HubToKiosk::QueueUpdate { session: "s-1".into(), position: 1, estimated_wait: Some(WaitEstimate { seconds: 0 }) }));
    assert_eq!(k.session.waiting_since(), Some(since), "a move in line keeps the start");
    k.input(Input::Cancel);
    assert_eq!(k.session.waiting_since(), None);
}
