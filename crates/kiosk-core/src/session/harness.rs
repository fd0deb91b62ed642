//! The test harness shared by the session's tests: a session driven by
//! inputs and simulated time, with what it sent, said and asked to fetch.

use std::time::{Duration, Instant};

use visio_protocol::*;

use super::*;

pub(super) struct Kiosk {
    pub(super) session: Session,
    pub(super) now: Instant,
    pub(super) out: Vec<Output>,
    /// What the speech shell was asked, since the last look.
    pub(super) said: Vec<SpeechCommand>,
    /// Versions the session asked the shell to download.
    fetched: Vec<u64>,
}

impl Kiosk {
    pub(super) fn new() -> Kiosk {
        Kiosk::with(Config::default())
    }

    pub(super) fn with(config: Config) -> Kiosk {
        let now = Instant::now();
        let mut k = Kiosk { session: Session::new(config, now), now, out: vec![], said: vec![], fetched: vec![] };
        k.drain();
        k
    }

    /// A kiosk on its home screen, hub connected; what it sent and said on
    /// the way is kept.
    pub(super) fn at_home_with(config: Config) -> Kiosk {
        let mut k = Kiosk::with(config);
        k.input(Input::HubConnected);
        k.input(Input::Hub(welcome()));
        k
    }

    /// A kiosk on its home screen, hub connected, nothing sent or said yet.
    pub(super) fn at_home() -> Kiosk {
        let mut k = Kiosk::at_home_with(Config::default());
        assert_eq!(*k.screen(), Screen::Home { notice: None });
        k.out.clear();
        k.said.clear();
        k
    }

    pub(super) fn drain(&mut self) {
        while let Some(o) = self.session.poll_output() {
            self.out.push(o);
        }
        while let Some(s) = self.session.poll_speech() {
            self.said.push(s);
        }
        while let Some(request) = self.session.poll_config_fetch() {
            assert_eq!(request.path, "/api/kiosk/config");
            self.fetched.push(request.version);
        }
    }

    pub(super) fn input(&mut self, input: Input) {
        self.session.handle_input(self.now, input);
        self.drain();
    }

    /// Moves time forward, firing timers on the way, as a shell would.
    pub(super) fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        while let Some(t) = self.session.poll_timeout().filter(|t| *t <= end) {
            self.now = t.max(self.now);
            self.session.handle_timeout(self.now);
            self.drain();
        }
        self.now = end;
    }

    pub(super) fn screen(&self) -> &Screen {
        self.session.screen()
    }

    /// The outputs since the last look.
    pub(super) fn take(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.out)
    }

    /// The events among the outputs since the last look.
    pub(super) fn events(&mut self) -> Vec<KioskEvent> {
        self.take().into_iter().filter_map(|o| if let Output::Event(e) = o { Some(e) } else { None }).collect()
    }

    /// The messages to the hub (heartbeats aside) among the outputs since
    /// the last look.
    pub(super) fn sent(&mut self) -> Vec<KioskToHub> {
        self.take()
            .into_iter()
            .filter_map(|o| match o {
                Output::ToHub(KioskToHub::Heartbeat { .. }) => None,
                Output::ToHub(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    /// The prompts said since the last look.
    pub(super) fn prompts(&mut self) -> Vec<Prompt> {
        std::mem::take(&mut self.said)
            .into_iter()
            .filter_map(|s| match s {
                SpeechCommand::Say { prompt, .. } => Some(prompt),
                SpeechCommand::Stop => None,
            })
            .collect()
    }

    /// The downloads asked for since the last look.
    pub(super) fn fetches(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.fetched)
    }
}

pub(super) fn session() -> SessionId {
    SessionId::from("s-1")
}

pub(super) fn token() -> ResumeToken {
    ResumeToken("r1.s-1.secret".into())
}

pub(super) fn welcome() -> HubToKiosk {
    HubToKiosk::Welcome {
        protocol: PROTOCOL_VERSION,
        kiosk_id: "besse".into(),
        site: "Mairie".into(),
        services: vec![],
        heartbeat_seconds: None,
        callbacks: false,
    }
}

/// The welcome of a hub that books callbacks.
pub(super) fn welcome_with_callbacks() -> HubToKiosk {
    match welcome() {
        HubToKiosk::Welcome { protocol, kiosk_id, site, services, heartbeat_seconds, .. } => {
            HubToKiosk::Welcome { protocol, kiosk_id, site, services, heartbeat_seconds, callbacks: true }
        }
        _ => unreachable!(),
    }
}
