//! The session state machine: connecting → home → waiting → in call →
//! ended → home, plus out of service.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use visio_protocol::{
    ConfigRefusal, ConfigRefusalCode, DeviceHealth, EndReason, HubToKiosk, IceServer, KioskToHub, Rating,
    RefusalReason, ResumeToken, ServiceId, SessionId, Signal,
};

use crate::event::KioskEvent;
use crate::timer::{Timer, TimerTable};

/// Durations that shape the resident's experience; the kiosk's
/// configuration sets them.
#[derive(Debug, Clone)]
pub struct Config {
    /// Home or the end-of-call screen return to a fresh home (French, no
    /// notice) after this long without a touch.
    pub idle_timeout: Duration,
    /// While waiting, ask "are you still there?" after this long without a
    /// touch…
    pub presence_check_after: Duration,
    /// …and give the place up if nobody answers within this.
    pub presence_grace: Duration,
    /// The "end the call?" question closes by itself after this.
    pub hang_up_confirm: Duration,
    /// The end-of-call screen returns home after this…
    pub ended_screen: Duration,
    /// …or after this, once the resident has rated.
    pub after_rating: Duration,
    /// How long "Sent" or "Take your document" stays on screen.
    pub document_notice: Duration,
    /// Hub reconnection backoff: from `min`, doubling, up to `max`.
    pub hub_retry_min: Duration,
    pub hub_retry_max: Duration,
    /// How often to send a heartbeat when the hub's welcome does not say.
    pub heartbeat: Duration,
    /// This app's version, reported in heartbeats.
    pub app_version: String,
    /// The signed configuration the kiosk starts with (its last good one
    /// on disk), if any.
    pub config_version: Option<u64>,
    /// Configuration download retry backoff: from `min`, doubling, up to
    /// `max`.
    pub config_retry_min: Duration,
    pub config_retry_max: Duration,
    /// The media path down this long: restart ICE (2 s lets a short glitch
    /// heal by itself)…
    pub ice_restart_after: Duration,
    /// …and again this long after each restart that did not reconnect.
    pub ice_restart_every: Duration,
    /// The media path down this long: the call is lost (both sides were
    /// reachable through the hub all along, or the agent never came back).
    pub media_give_up: Duration,
    /// A waiting resident whose kiosk lost the hub keeps the waiting
    /// screen this long while the kiosk reconnects (to the same hub
    /// process or another) and asks for its place back.
    pub wait_resume: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            idle_timeout: Duration::from_secs(90),
            presence_check_after: Duration::from_secs(10 * 60),
            presence_grace: Duration::from_secs(60),
            hang_up_confirm: Duration::from_secs(10),
            ended_screen: Duration::from_secs(30),
            after_rating: Duration::from_secs(5),
            document_notice: Duration::from_secs(10),
            hub_retry_min: Duration::from_secs(1),
            hub_retry_max: Duration::from_secs(30),
            heartbeat: Duration::from_secs(30),
            app_version: env!("CARGO_PKG_VERSION").to_owned(),
            config_version: None,
            config_retry_min: Duration::from_secs(30),
            config_retry_max: Duration::from_secs(15 * 60),
            ice_restart_after: Duration::from_secs(2),
            ice_restart_every: Duration::from_secs(15),
            media_give_up: Duration::from_secs(120),
            // The hub keeps a lost process's residents in line this long.
            wait_resume: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    Fr,
    En,
}

/// Everything that can happen to a session.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Any touch on the screen: the resident is there.
    Touch,
    ChooseService(ServiceId),
    SetLanguage(Language),
    /// "Cancel" while waiting.
    Cancel,
    /// "End call" (asks for confirmation).
    HangUp,
    ConfirmHangUp,
    /// "No, continue" on the confirmation.
    KeepCall,
    Rate(Rating),
    NextPage,
    PreviousPage,
    /// The hub connection is up and the hello is sent.
    HubConnected,
    /// The hub connection failed or dropped.
    HubLost,
    Hub(HubToKiosk),
    Media(MediaEvent),
    Document(DocumentEvent),
    /// Whether the configured camera is there.
    Camera { present: bool },
    /// The devices as the shell last checked them; sent in heartbeats. A
    /// change of state is reported at once.
    Devices(DeviceHealth),
    /// What became of a [`ConfigFetchRequest`].
    ConfigFetched(ConfigFetch),
}

/// The outcome of fetching, verifying and storing an announced
/// configuration (the shell's `config_store` does all three).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigFetch {
    /// Verified, written to disk, and running now.
    Applied { version: u64 },
    /// Fetched but refused (signature, signer, content, older, or the disk
    /// refused it); the previous configuration keeps running.
    Refused { version: u64, reason: ConfigRefusal },
    /// Not downloaded (network, hub error): tried again later.
    Failed { version: u64, reason: String },
}

/// From the media crate, about the current call.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaEvent {
    /// Negotiation to send to the agent (our offer, our candidates).
    LocalSignal(Signal),
    Connected,
    /// Media path interrupted (ICE disconnected); it may come back by
    /// itself, else the session asks for an ICE restart.
    Reconnecting,
    /// Media path lost (ICE failed): restart ICE as soon as the hub can
    /// carry the offer.
    Lost,
    FirstRemoteFrame,
    /// The call could not be set up or broke for good.
    Failed { reason: String },
}

/// From the document-transfer side, during a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentEvent {
    ScanRequested,
    ScanProgress { percent: u8 },
    ScanSent { name: String, size: u64, sha256: String },
    PrintStarted { name: String },
    Printed { name: String },
    Showing { name: String, pages: u32 },
    ShowClosed,
    Failed { reason: String },
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Open the hub connection (again). `resume`: the call to re-attach to,
    /// sent in the hello.
    ConnectHub { resume: Option<ResumeToken> },
    ToHub(KioskToHub),
    Call(CallCommand),
    Documents(DocumentCommand),
    Event(KioskEvent),
    /// The agent answered: play the chime.
    Chime,
}

/// Download the configuration the hub announced (`GET path` on the hub,
/// HTTP Basic with the kiosk's id and secret), verify it with the trusted
/// admin keys, store it atomically and start using it; then feed
/// [`Input::ConfigFetched`]. From [`Session::poll_config_fetch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFetchRequest {
    pub version: u64,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CallCommand {
    /// Set up the call and make the offer.
    Start { session: SessionId, ice_servers: Vec<IceServer> },
    RemoteSignal(Signal),
    /// Make a new offer with new ICE credentials on the same connection.
    RestartIce,
    /// The agent's page lost its peer connection (a reload): drop ours and
    /// make a new one with a fresh offer; the visit's documents carry on.
    Reconnect,
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentCommand {
    /// The visit is over: delete every file of it.
    WipeSpool,
}

/// What the resident sees.
#[derive(Debug, Clone, PartialEq)]
pub enum Screen {
    Connecting,
    OutOfService { reason: OutOfService },
    Home { notice: Option<Notice> },
    /// The call request is on its way to the hub.
    Requesting { service: ServiceId },
    Waiting(Waiting),
    InCall(InCall),
    Ended(Ended),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutOfService {
    HubUnreachable,
    CameraMissing,
}

/// A message on the home screen after a refused request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub service: ServiceId,
    pub reason: RefusalReason,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Waiting {
    pub service: ServiceId,
    pub session: SessionId,
    pub position: u32,
    pub estimated_wait: Option<Duration>,
    /// "Are you still there?" is showing.
    pub presence_check: bool,
    /// The hub connection dropped: reconnecting, then asking for this
    /// place back.
    pub hub_lost: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InCall {
    pub service: ServiceId,
    pub session: SessionId,
    pub agent_name: String,
    pub answered_at: Instant,
    pub media: MediaState,
    pub confirm_hang_up: bool,
    pub document: DocumentView,
    /// The hub connection dropped; media goes on peer to peer.
    pub hub_lost: bool,
    /// The agent lost the hub; the hub holds the call for them.
    pub agent_away: bool,
    /// Presented to the hub to re-attach after losing it.
    pub resume_token: Option<ResumeToken>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaState {
    Connecting,
    Connected,
    Reconnecting,
}

/// The document part of the call screen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DocumentView {
    #[default]
    None,
    Scanning { percent: Option<u8> },
    ScanSent { name: String },
    Printing { name: String },
    Printed { name: String },
    Showing { name: String, pages: u32, page: u32 },
    Failed { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub session: SessionId,
    pub reason: EndedReason,
    pub rated: Option<Rating>,
}

/// Why the visit ended, as the resident is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndedReason {
    Hub(EndReason),
    CallFailed,
}

pub struct Session {
    config: Config,
    screen: Screen,
    language: Language,
    hub_up: bool,
    camera_ok: bool,
    retry_delay: Duration,
    timers: TimerTable,
    outputs: VecDeque<Output>,
    fleet: FleetState,
}

/// What the hub hears about this kiosk: heartbeats and configuration.
#[derive(Debug, Default)]
struct FleetState {
    heartbeat_every: Duration,
    seq: u64,
    /// The last heartbeat sent and when, to time its ack.
    in_flight: Option<(u64, Instant)>,
    last_sent: Option<Instant>,
    rtt: Option<Duration>,
    devices: Option<DeviceHealth>,
    /// The configuration running now.
    config: Option<u64>,
    /// The newest version the hub announced, and where to get it.
    announced: Option<(u64, String)>,
    /// A download the shell is doing.
    fetching: Option<u64>,
    /// A version this kiosk refused for good (signature, signer, content):
    /// not downloaded again when the hub announces it again.
    refused: Option<u64>,
    retry_delay: Duration,
    /// Reports made while the hub was away, sent after the next welcome.
    unsent: Vec<KioskToHub>,
    /// Downloads for the shell to start.
    requests: VecDeque<ConfigFetchRequest>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("screen", &self.screen).field("hub_up", &self.hub_up).finish_non_exhaustive()
    }
}

impl Session {
    /// A new session; its first output asks for the hub connection.
    pub fn new(config: Config, now: Instant) -> Session {
        let retry_delay = config.hub_retry_min;
        let fleet = FleetState {
            heartbeat_every: config.heartbeat,
            config: config.config_version,
            retry_delay: config.config_retry_min,
            ..FleetState::default()
        };
        let mut s = Session {
            fleet,
            config,
            screen: Screen::Connecting,
            language: Language::Fr,
            hub_up: false,
            camera_ok: true,
            retry_delay,
            timers: TimerTable::default(),
            outputs: VecDeque::new(),
        };
        s.outputs.push_back(Output::ConnectHub { resume: None });
        s.touch(now);
        s
    }

    pub fn screen(&self) -> &Screen {
        &self.screen
    }

    pub fn language(&self) -> Language {
        self.language
    }

    /// The signed configuration version running now.
    pub fn config_version(&self) -> Option<u64> {
        self.fleet.config
    }

    /// The round trip of the last heartbeat and its ack.
    pub fn hub_rtt(&self) -> Option<Duration> {
        self.fleet.rtt
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// A configuration download to start, after draining
    /// [`Session::poll_output`]. Apart from `Output` so that a shell that
    /// does not fetch configurations yet still builds; it then simply runs
    /// on the configuration it started with.
    pub fn poll_config_fetch(&mut self) -> Option<ConfigFetchRequest> {
        self.fleet.requests.pop_front()
    }

    /// When to call [`Session::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        for timer in self.timers.expired(now) {
            self.fire(now, timer);
        }
    }

    pub fn handle_input(&mut self, now: Instant, input: Input) {
        match input {
            Input::Touch => self.touch(now),
            Input::ChooseService(service) => {
                self.touch(now);
                self.choose(service);
            }
            Input::SetLanguage(language) => {
                self.touch(now);
                self.language = language;
            }
            Input::Cancel => {
                self.touch(now);
                self.cancel(now, "cancelled");
            }
            Input::HangUp => self.ask_hang_up(now),
            Input::ConfirmHangUp => self.confirm_hang_up(now),
            Input::KeepCall => {
                if let Screen::InCall(call) = &mut self.screen {
                    call.confirm_hang_up = false;
                    self.timers.stop(Timer::HangUpConfirm);
                }
            }
            Input::Rate(rating) => self.rate(now, rating),
            Input::NextPage | Input::PreviousPage => self.turn_page(input == Input::NextPage),
            Input::HubConnected => {}
            Input::HubLost => self.hub_lost(now),
            Input::Hub(msg) => self.hub_message(now, msg),
            Input::Media(event) => self.media(now, event),
            Input::Document(event) => self.document(now, event),
            Input::Camera { present } => {
                self.camera_ok = present;
                self.settle_service_state();
            }
            Input::Devices(health) => self.devices(now, health),
            Input::ConfigFetched(fetch) => self.config_fetched(now, fetch),
        }
    }

    // -----------------------------------------------------------------------

    fn touch(&mut self, now: Instant) {
        self.timers.set(Timer::Idle, now + self.config.idle_timeout);
        if let Screen::Waiting(w) = &mut self.screen {
            w.presence_check = false;
            self.timers.stop(Timer::PresenceGrace);
            self.timers.set(Timer::PresenceCheck, now + self.config.presence_check_after);
        }
    }

    fn fire(&mut self, now: Instant, timer: Timer) {
        match timer {
            Timer::Idle => match &self.screen {
                Screen::Home { .. } => self.go_home(),
                Screen::Ended(_) => self.go_home(),
                _ => {}
            },
            Timer::PresenceCheck => {
                if let Screen::Waiting(w) = &mut self.screen {
                    w.presence_check = true;
                    self.timers.set(Timer::PresenceGrace, now + self.config.presence_grace);
                }
            }
            Timer::PresenceGrace => self.cancel(now, "resident_absent"),
            Timer::HangUpConfirm => {
                if let Screen::InCall(call) = &mut self.screen {
                    call.confirm_hang_up = false;
                }
            }
            Timer::EndedReturn => {
                if matches!(self.screen, Screen::Ended(_)) {
                    self.go_home();
                }
            }
            Timer::DocumentNotice => {
                if let Screen::InCall(call) = &mut self.screen
                    && matches!(
                        call.document,
                        DocumentView::ScanSent { .. } | DocumentView::Printed { .. } | DocumentView::Failed { .. }
                    )
                {
                    call.document = DocumentView::None;
                }
            }
            Timer::HubRetry => {
                if !self.hub_up {
                    let resume = match &self.screen {
                        Screen::InCall(call) => call.resume_token.clone(),
                        _ => None,
                    };
                    self.outputs.push_back(Output::ConnectHub { resume });
                }
            }
            Timer::WaitResume => {
                if let Screen::Waiting(w) = &self.screen
                    && w.hub_lost
                {
                    let session = w.session.to_string();
                    self.event(KioskEvent::Ended { session, reason: "hub_lost".into() });
                    self.out_of_service(OutOfService::HubUnreachable);
                }
            }
            Timer::IceRestart => self.restart_ice(now),
            Timer::MediaGiveUp => {
                if let Screen::InCall(call) = &self.screen
                    && call.media != MediaState::Connected
                {
                    let reason = "the connection to the agent could not be restored".to_owned();
                    self.media(now, MediaEvent::Failed { reason });
                }
            }
            Timer::Heartbeat => self.heartbeat(now),
            // Without the hub, the next welcome's announcement retries.
            Timer::ConfigRetry => {
                if self.hub_up {
                    self.fetch_announced();
                }
            }
        }
    }

    /// A fresh home: French, no notice, no leftovers of the last visitor.
    fn go_home(&mut self) {
        self.language = Language::Fr;
        self.screen = Screen::Home { notice: None };
        self.timers.stop(Timer::EndedReturn);
        self.settle_service_state();
    }

    fn choose(&mut self, service: ServiceId) {
        if !matches!(self.screen, Screen::Home { .. }) {
            return;
        }
        self.outputs.push_back(Output::ToHub(KioskToHub::RequestCall { service: service.clone() }));
        self.screen = Screen::Requesting { service };
    }

    fn cancel(&mut self, now: Instant, why: &str) {
        let session = match &self.screen {
            Screen::Waiting(w) => Some(w.session.clone()),
            Screen::Requesting { .. } => None,
            _ => return,
        };
        self.timers.stop(Timer::PresenceCheck);
        self.timers.stop(Timer::PresenceGrace);
        if let Some(session) = session {
            self.outputs.push_back(Output::ToHub(KioskToHub::CancelCall));
            self.event(KioskEvent::Ended { session: session.to_string(), reason: why.to_owned() });
        }
        // A request still on its way is cancelled when its `queued` arrives.
        self.go_home();
        self.touch(now);
    }

    fn ask_hang_up(&mut self, now: Instant) {
        if let Screen::InCall(call) = &mut self.screen {
            call.confirm_hang_up = true;
            self.timers.set(Timer::HangUpConfirm, now + self.config.hang_up_confirm);
        }
    }

    fn confirm_hang_up(&mut self, now: Instant) {
        let Screen::InCall(call) = &self.screen else { return };
        if !call.confirm_hang_up {
            return;
        }
        let session = call.session.clone();
        self.outputs.push_back(Output::ToHub(KioskToHub::HangUp { session: session.clone() }));
        self.end_call(now, session, EndedReason::Hub(EndReason::KioskHungUp));
    }

    fn rate(&mut self, now: Instant, rating: Rating) {
        let Screen::Ended(ended) = &mut self.screen else { return };
        if ended.rated.is_some() {
            return;
        }
        ended.rated = Some(rating);
        let session = ended.session.clone();
        if self.hub_up {
            self.outputs.push_back(Output::ToHub(KioskToHub::Rate { session, rating }));
        }
        self.timers.set(Timer::EndedReturn, now + self.config.after_rating);
    }

    fn turn_page(&mut self, forward: bool) {
        if let Screen::InCall(InCall { document: DocumentView::Showing { pages, page, .. }, .. }) = &mut self.screen {
            *page = if forward { (*page + 1).min(*pages) } else { page.saturating_sub(1).max(1) };
        }
    }

    // -----------------------------------------------------------------------
    // Hub
    // -----------------------------------------------------------------------

    fn hub_lost(&mut self, now: Instant) {
        self.hub_up = false;
        self.timers.stop(Timer::Heartbeat);
        self.fleet.in_flight = None;
        // A new connection may take another path: measure again.
        self.fleet.rtt = None;
        self.timers.set(Timer::HubRetry, now + self.retry_delay);
        self.retry_delay = (self.retry_delay * 2).min(self.config.hub_retry_max);
        match &mut self.screen {
            // The call's media is peer to peer: it goes on without the hub.
            Screen::InCall(call) => call.hub_lost = true,
            Screen::Waiting(w) => {
                // The hub keeps the place of a resident whose kiosk comes
                // back soon (on whichever hub process): ask for it then.
                if !w.hub_lost {
                    w.hub_lost = true;
                    let session = w.session.to_string();
                    self.timers.set(Timer::WaitResume, now + self.config.wait_resume);
                    self.event(KioskEvent::Reconnecting { session });
                }
            }
            Screen::Ended(_) => {}
            _ => self.out_of_service(OutOfService::HubUnreachable),
        }
    }

    fn hub_message(&mut self, now: Instant, msg: HubToKiosk) {
        match msg {
            HubToKiosk::Welcome { kiosk_id, site, heartbeat_seconds, .. } => {
                self.hub_up = true;
                self.retry_delay = self.config.hub_retry_min;
                self.timers.stop(Timer::HubRetry);
                self.event(KioskEvent::Ready { kiosk_id: kiosk_id.to_string(), site });
                // In a call, `call_resumed` (or `call_ended`) follows: the
                // hello carried the call's token.
                self.settle_service_state();
                if let Screen::Waiting(w) = &self.screen
                    && w.hub_lost
                {
                    // Same service: the hub gives the same place back when it
                    // still has it.
                    self.outputs.push_back(Output::ToHub(KioskToHub::RequestCall { service: w.service.clone() }));
                }
                if let Some(seconds) = heartbeat_seconds.filter(|s| *s > 0) {
                    self.fleet.heartbeat_every = Duration::from_secs(seconds.into());
                }
                for report in std::mem::take(&mut self.fleet.unsent) {
                    self.outputs.push_back(Output::ToHub(report));
                }
                self.heartbeat(now);
            }
            HubToKiosk::HeartbeatAck { seq } => {
                if let Some((sent, at)) = self.fleet.in_flight
                    && sent == seq
                {
                    self.fleet.rtt = Some(now.saturating_duration_since(at));
                    self.fleet.in_flight = None;
                }
            }
            HubToKiosk::ConfigAvailable { version, path, .. } => self.config_available(version, path),
            HubToKiosk::Queued { session, service, position, estimated_wait } => match &mut self.screen {
                Screen::Waiting(w) if w.hub_lost && w.service == service => {
                    self.timers.stop(Timer::WaitResume);
                    let (old, resumed) = (w.session.to_string(), w.session == session);
                    w.hub_lost = false;
                    w.session = session.clone();
                    w.position = position;
                    w.estimated_wait = estimated_wait.map(|e| Duration::from_secs(e.seconds.into()));
                    if resumed {
                        self.event(KioskEvent::Resumed { session: old });
                    } else {
                        // Another place, at the back: the old one was gone.
                        self.event(KioskEvent::Ended { session: old, reason: "hub_lost".into() });
                    }
                    self.event(KioskEvent::Queued {
                        service: service.to_string(),
                        session: session.to_string(),
                        position,
                        estimated_wait_seconds: estimated_wait.map(|w| w.seconds),
                    });
                }
                Screen::Requesting { service: asked } if *asked == service => {
                    let wait = estimated_wait.map(|w| Duration::from_secs(w.seconds.into()));
                    self.event(KioskEvent::Queued {
                        service: service.to_string(),
                        session: session.to_string(),
                        position,
                        estimated_wait_seconds: estimated_wait.map(|w| w.seconds),
                    });
                    self.screen = Screen::Waiting(Waiting {
                        service,
                        session,
                        position,
                        estimated_wait: wait,
                        presence_check: false,
                        hub_lost: false,
                    });
                    self.touch(now);
                }
                // The resident cancelled before the hub answered.
                _ => self.outputs.push_back(Output::ToHub(KioskToHub::CancelCall)),
            },
            HubToKiosk::QueueUpdate { session, position, estimated_wait } => {
                if let Screen::Waiting(w) = &mut self.screen
                    && w.session == session
                {
                    w.position = position;
                    w.estimated_wait = estimated_wait.map(|e| Duration::from_secs(e.seconds.into()));
                    let event = KioskEvent::Queued {
                        service: w.service.to_string(),
                        session: session.to_string(),
                        position,
                        estimated_wait_seconds: estimated_wait.map(|e| e.seconds),
                    };
                    self.event(event);
                }
            }
            HubToKiosk::CallRefused { service, reason, message } => {
                if matches!(&self.screen, Screen::Requesting { service: asked } if *asked == service) {
                    self.event(KioskEvent::Refused {
                        service: service.to_string(),
                        reason: refusal_kind(&reason).into(),
                        message,
                    });
                    self.screen = Screen::Home { notice: Some(Notice { service, reason }) };
                    self.touch(now);
                }
            }
            HubToKiosk::CallAnswered { session, agent_name, ice_servers, resume_token } => {
                let Screen::Waiting(w) = &self.screen else { return };
                if w.session != session {
                    return;
                }
                let service = w.service.clone();
                self.timers.stop(Timer::PresenceCheck);
                self.timers.stop(Timer::PresenceGrace);
                self.timers.stop(Timer::Idle);
                self.event(KioskEvent::Answered { session: session.to_string(), agent_name: agent_name.clone() });
                self.outputs.push_back(Output::Chime);
                self.outputs.push_back(Output::Call(CallCommand::Start { session: session.clone(), ice_servers }));
                self.screen = Screen::InCall(InCall {
                    service,
                    session,
                    agent_name,
                    answered_at: now,
                    media: MediaState::Connecting,
                    confirm_hang_up: false,
                    document: DocumentView::None,
                    hub_lost: false,
                    agent_away: false,
                    resume_token,
                });
            }
            HubToKiosk::Signal { session, signal } => {
                let Screen::InCall(call) = &mut self.screen else { return };
                if call.session != session {
                    return;
                }
                if signal == Signal::Restart {
                    // The agent's page starts over: so does our connection.
                    self.timers.stop(Timer::IceRestart);
                    self.media(now, MediaEvent::Reconnecting);
                    self.outputs.push_back(Output::Call(CallCommand::Reconnect));
                } else {
                    self.outputs.push_back(Output::Call(CallCommand::RemoteSignal(signal)));
                }
            }
            HubToKiosk::CallResumed { session, .. } => {
                let Screen::InCall(call) = &mut self.screen else { return };
                if call.session != session {
                    return;
                }
                call.hub_lost = false;
                self.event(KioskEvent::Resumed { session: session.to_string() });
                // Offers made while the hub was away never reached the agent.
                self.restart_ice_if_down(now);
            }
            HubToKiosk::PeerAway { session } => {
                let Screen::InCall(call) = &mut self.screen else { return };
                if call.session == session && !call.agent_away {
                    call.agent_away = true;
                    self.event(KioskEvent::AgentAway { session: session.to_string() });
                }
            }
            HubToKiosk::PeerBack { session } => {
                let Screen::InCall(call) = &mut self.screen else { return };
                if call.session == session && call.agent_away {
                    call.agent_away = false;
                    self.event(KioskEvent::AgentBack { session: session.to_string() });
                    self.restart_ice_if_down(now);
                }
            }
            HubToKiosk::CallEnded { session, reason } => match &self.screen {
                Screen::InCall(c) if c.session == session => self.end_call(now, session, EndedReason::Hub(reason)),
                Screen::Waiting(w) if w.session == session => {
                    self.event(KioskEvent::Ended { session: session.to_string(), reason: reason.as_str().into() });
                    self.go_home();
                }
                _ => {}
            },
            HubToKiosk::Error(e) => {
                // Our own messages are well-formed; an error here is a hub
                // disagreement worth a log line, not a screen change.
                self.event(KioskEvent::HubError { message: e.message });
            }
        }
    }

    /// After the hub or camera state changed: out of service, or back.
    fn settle_service_state(&mut self) {
        let blocked = if !self.hub_up {
            Some(OutOfService::HubUnreachable)
        } else if !self.camera_ok {
            Some(OutOfService::CameraMissing)
        } else {
            None
        };
        match (&self.screen, blocked) {
            // A call or a goodbye is never interrupted by the fleet's state.
            (Screen::InCall(_) | Screen::Ended(_), _) => {}
            (Screen::OutOfService { reason }, Some(b)) if *reason == b => {}
            (Screen::Home { .. } | Screen::Requesting { .. } | Screen::Waiting(_), None) => {}
            // A waiting resident keeps the screen while the kiosk reconnects.
            (Screen::Waiting(w), Some(OutOfService::HubUnreachable)) if w.hub_lost => {}
            (_, Some(b)) => self.out_of_service(b),
            (Screen::Connecting | Screen::OutOfService { .. }, None) => {
                self.screen = Screen::Home { notice: None };
            }
        }
    }

    fn out_of_service(&mut self, reason: OutOfService) {
        if self.screen != (Screen::OutOfService { reason }) {
            let shown = match reason {
                OutOfService::HubUnreachable => "hub_unreachable",
                OutOfService::CameraMissing => "camera_missing",
            };
            self.event(KioskEvent::OutOfService { reason: shown.into() });
        }
        self.screen = Screen::OutOfService { reason };
    }

    // -----------------------------------------------------------------------
    // Call and documents
    // -----------------------------------------------------------------------

    fn media(&mut self, now: Instant, event: MediaEvent) {
        let Screen::InCall(call) = &mut self.screen else { return };
        let session = call.session.clone();
        match event {
            MediaEvent::LocalSignal(signal) => {
                // Without the hub, negotiation cannot reach the agent; the
                // media layer retries once the hub is back (ICE restart).
                if self.hub_up {
                    self.outputs.push_back(Output::ToHub(KioskToHub::Signal { session, signal }));
                }
            }
            MediaEvent::Connected => {
                let before = call.media;
                call.media = MediaState::Connected;
                self.timers.stop(Timer::IceRestart);
                self.timers.stop(Timer::MediaGiveUp);
                match before {
                    MediaState::Connecting => self.event(KioskEvent::Connected { session: session.to_string() }),
                    MediaState::Reconnecting => self.event(KioskEvent::Reconnected { session: session.to_string() }),
                    MediaState::Connected => {}
                }
            }
            MediaEvent::Reconnecting | MediaEvent::Lost => {
                let lost = matches!(event, MediaEvent::Lost);
                if call.media != MediaState::Reconnecting {
                    call.media = MediaState::Reconnecting;
                    self.event(KioskEvent::Reconnecting { session: session.to_string() });
                    self.timers.set(Timer::MediaGiveUp, now + self.config.media_give_up);
                    self.timers.set(Timer::IceRestart, now + self.config.ice_restart_after);
                }
                if lost {
                    self.restart_ice(now);
                }
            }
            MediaEvent::FirstRemoteFrame => self.event(KioskEvent::FirstRemoteFrame { session: session.to_string() }),
            MediaEvent::Failed { reason } => {
                self.event(KioskEvent::CallFailed { session: session.to_string(), reason });
                if self.hub_up {
                    self.outputs.push_back(Output::ToHub(KioskToHub::HangUp { session: session.clone() }));
                }
                self.end_call(now, session, EndedReason::CallFailed);
            }
        }
    }

    fn document(&mut self, now: Instant, event: DocumentEvent) {
        let Screen::InCall(call) = &mut self.screen else { return };
        let mut notice = false;
        let mut emit = None;
        call.document = match event {
            DocumentEvent::ScanRequested => DocumentView::Scanning { percent: None },
            DocumentEvent::ScanProgress { percent } => DocumentView::Scanning { percent: Some(percent.min(100)) },
            DocumentEvent::ScanSent { name, size, sha256 } => {
                notice = true;
                emit = Some(KioskEvent::ScanSent { name: name.clone(), size, sha256 });
                DocumentView::ScanSent { name }
            }
            DocumentEvent::PrintStarted { name } => DocumentView::Printing { name },
            DocumentEvent::Printed { name } => {
                notice = true;
                emit = Some(KioskEvent::Printed { name: name.clone() });
                DocumentView::Printed { name }
            }
            DocumentEvent::Showing { name, pages } => {
                emit = Some(KioskEvent::Displayed { name: name.clone(), pages });
                DocumentView::Showing { name, pages: pages.max(1), page: 1 }
            }
            DocumentEvent::ShowClosed => DocumentView::None,
            DocumentEvent::Failed { reason } => {
                notice = true;
                emit = Some(KioskEvent::DocumentFailed { reason: reason.clone() });
                DocumentView::Failed { reason }
            }
        };
        if notice {
            self.timers.set(Timer::DocumentNotice, now + self.config.document_notice);
        }
        if let Some(e) = emit {
            self.event(e);
        }
    }

    /// Asks the media layer for an ICE restart when the media path is down
    /// and the offer can reach the agent; tries again later otherwise.
    fn restart_ice(&mut self, now: Instant) {
        let Screen::InCall(call) = &self.screen else { return };
        if call.media != MediaState::Reconnecting {
            return;
        }
        if self.hub_up && !call.hub_lost && !call.agent_away {
            self.outputs.push_back(Output::Call(CallCommand::RestartIce));
            self.timers.set(Timer::IceRestart, now + self.config.ice_restart_every);
        } else {
            // `call_resumed` or `peer_back` restarts at once.
            self.timers.set(Timer::IceRestart, now + self.config.ice_restart_after);
        }
    }

    fn restart_ice_if_down(&mut self, now: Instant) {
        if matches!(&self.screen, Screen::InCall(c) if c.media == MediaState::Reconnecting) {
            self.restart_ice(now);
        }
    }

    fn end_call(&mut self, now: Instant, session: SessionId, reason: EndedReason) {
        self.timers.stop(Timer::HangUpConfirm);
        self.timers.stop(Timer::DocumentNotice);
        self.timers.stop(Timer::IceRestart);
        self.timers.stop(Timer::MediaGiveUp);
        self.outputs.push_back(Output::Call(CallCommand::End));
        self.outputs.push_back(Output::Documents(DocumentCommand::WipeSpool));
        let shown = match reason {
            EndedReason::Hub(r) => r.as_str(),
            EndedReason::CallFailed => "call_failed",
        };
        self.event(KioskEvent::Ended { session: session.to_string(), reason: shown.into() });
        self.screen = Screen::Ended(Ended { session, reason, rated: None });
        self.timers.set(Timer::EndedReturn, now + self.config.ended_screen);
        self.touch(now);
    }

    fn event(&mut self, event: KioskEvent) {
        self.outputs.push_back(Output::Event(event));
    }

    // -----------------------------------------------------------------------
    // Heartbeats and configuration
    // -----------------------------------------------------------------------

    /// Sends a heartbeat now and schedules the next one.
    fn heartbeat(&mut self, now: Instant) {
        if !self.hub_up {
            return;
        }
        self.fleet.seq += 1;
        let seq = self.fleet.seq;
        self.fleet.in_flight = Some((seq, now));
        self.fleet.last_sent = Some(now);
        let rtt_ms = self.fleet.rtt.map(|d| u32::try_from(d.as_millis()).unwrap_or(u32::MAX));
        self.outputs.push_back(Output::ToHub(KioskToHub::Heartbeat {
            seq,
            app_version: self.config.app_version.clone(),
            config_version: self.fleet.config,
            devices: self.fleet.devices.clone(),
            rtt_ms,
        }));
        self.timers.set(Timer::Heartbeat, now + self.fleet.heartbeat_every);
    }

    fn devices(&mut self, now: Instant, health: DeviceHealth) {
        let states = |h: &DeviceHealth| h.by_name().map(|(_, s)| s.state);
        let changed = self.fleet.devices.as_ref().map(states) != Some(states(&health));
        let first = self.fleet.devices.is_none();
        self.fleet.devices = Some(health);
        // A device that fails is worth telling at once, but a flapping
        // one must not turn heartbeats into a stream: at most one early
        // beat per 5 s.
        let recent = self.fleet.last_sent.is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(5));
        if changed && !first && !recent {
            self.heartbeat(now);
        }
    }

    fn config_available(&mut self, version: u64, path: String) {
        match self.fleet.config {
            Some(running) if running == version => {}
            Some(running) if running > version => {
                // The hub serves an older configuration than this kiosk
                // runs (restored from a backup?): say so, keep ours.
                let message = format!("this kiosk runs version {running}, newer than the announced {version}; it keeps {running}");
                self.config_refused(version, ConfigRefusal::new(ConfigRefusalCode::Rollback, message));
            }
            _ => {
                if self.fleet.announced.as_ref().is_none_or(|(v, _)| *v <= version) {
                    self.fleet.announced = Some((version, path));
                }
                if self.fleet.fetching != Some(version) {
                    self.fleet.retry_delay = self.config.config_retry_min;
                    self.timers.stop(Timer::ConfigRetry);
                    self.fetch_announced();
                }
            }
        }
    }

    /// Asks the shell for the newest announced version, if it is newer
    /// than the running one and not already on its way.
    fn fetch_announced(&mut self) {
        let Some((version, path)) = self.fleet.announced.clone() else { return };
        if self.fleet.config.is_some_and(|c| c >= version)
            || self.fleet.fetching == Some(version)
            || self.fleet.refused == Some(version)
        {
            return;
        }
        self.fleet.fetching = Some(version);
        self.fleet.requests.push_back(ConfigFetchRequest { version, path });
    }

    fn config_fetched(&mut self, now: Instant, fetch: ConfigFetch) {
        match fetch {
            ConfigFetch::Applied { version } => {
                self.fleet.fetching = self.fleet.fetching.filter(|v| *v != version);
                self.fleet.config = Some(self.fleet.config.map_or(version, |c| c.max(version)));
                self.fleet.retry_delay = self.config.config_retry_min;
                self.timers.stop(Timer::ConfigRetry);
                self.report(KioskToHub::ConfigApplied { version });
                self.event(KioskEvent::ConfigApplied { version });
                // A newer version may have been announced meanwhile.
                self.fetch_announced();
            }
            ConfigFetch::Refused { version, reason } => {
                self.fleet.fetching = self.fleet.fetching.filter(|v| *v != version);
                let transient = reason.code == ConfigRefusalCode::Storage;
                self.config_refused(version, reason);
                if transient {
                    self.retry_later(now);
                } else {
                    self.fleet.refused = Some(version);
                }
            }
            ConfigFetch::Failed { version, reason } => {
                self.fleet.fetching = self.fleet.fetching.filter(|v| *v != version);
                self.config_refused(version, ConfigRefusal::new(ConfigRefusalCode::FetchFailed, reason));
                self.retry_later(now);
            }
        }
    }

    fn retry_later(&mut self, now: Instant) {
        self.timers.set(Timer::ConfigRetry, now + self.fleet.retry_delay);
        self.fleet.retry_delay = (self.fleet.retry_delay * 2).min(self.config.config_retry_max);
    }

    fn config_refused(&mut self, version: u64, reason: ConfigRefusal) {
        self.event(KioskEvent::ConfigRefused {
            version,
            code: reason.code.as_str().to_owned(),
            message: reason.message.clone(),
        });
        self.report(KioskToHub::ConfigRefused { version, reason });
    }

    /// Sends a report to the hub now, or after the next welcome.
    fn report(&mut self, msg: KioskToHub) {
        if self.hub_up {
            self.outputs.push_back(Output::ToHub(msg));
        } else {
            // Only the latest few matter; a kiosk offline for days must
            // not pile them up.
            if self.fleet.unsent.len() >= 8 {
                self.fleet.unsent.remove(0);
            }
            self.fleet.unsent.push(msg);
        }
    }
}

fn refusal_kind(reason: &RefusalReason) -> &'static str {
    match reason {
        RefusalReason::Closed { .. } => "closed",
        RefusalReason::UnknownService => "unknown_service",
        RefusalReason::Busy => "busy",
    }
}

#[cfg(test)]
mod tests;
