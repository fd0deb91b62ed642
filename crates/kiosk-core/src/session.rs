//! The session state machine: connecting → home → waiting → in call →
//! ended → home, plus out of service.

mod assist;
mod callback;
mod event;
mod call;
mod fleet;
mod host;
mod hub;
mod link;
mod receipt;
mod shown;
mod sign;
mod sound;
mod vocabulary;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use visio_protocol::{DeviceHealth, EndReason, KioskToHub, Rating, ServiceId};

pub use self::event::{KioskEvent, VisitEnd};
use crate::timer::{Timer, TimerTable};

pub use self::callback::{CALLBACK_SLOTS_SHOWN, Callback, CallbackSlip, CallbackStage, CallbackWhy};
pub use self::assist::{Assist, AssistPrefs, AutoReturn, Prompt, SpeechCommand, VOLUME_DEFAULT, VOLUME_MAX};
pub use self::receipt::{RECEIPT_SETTLE, Receipt, ReceiptLeg, ReceiptLine, ReceiptOutcome, first_name};
pub use self::host::{HostCall, screen_name};
pub use self::shown::{MAX_ZOOM, MIN_ZOOM, clamp_view};
pub use self::vocabulary::*;

pub struct Session {
    config: Config,
    screen: Screen,
    language: Language,
    hub_up: bool,
    camera_ok: bool,
    /// The last probe found a sound output (or none was probed).
    sound_ok: bool,
    /// Where the sound goes; `None` on kiosks without a handset.
    sound_output: Option<visio_protocol::SoundOutput>,
    retry_delay: Duration,
    timers: TimerTable,
    outputs: VecDeque<Output>,
    fleet: FleetState,
    assist: assist::AssistState,
    /// This visit's calls and their documents, for a receipt.
    receipt: Vec<ReceiptLeg>,
    /// The visit ended and its receipt waits for the documents' last
    /// outcomes: when it ended, and in which language.
    receipt_due: Option<(Instant, Language)>,
    /// The kiosk's site as the hub's welcome names it (a signature's caption).
    site: String,
    host: host::HostState,
    /// When the current call's connection is restarted after a cut.
    ice: crate::IceRestartPolicy,
    /// The hub's welcome said it books callbacks.
    callbacks: bool,
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
    /// The current call's measurements, and the last call's summary.
    call_link: link::LinkSamples,
    last_call: Option<visio_protocol::CallLink>,
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
        let ice = crate::IceRestartPolicy::new(config.ice_restart_after, config.ice_restart_every);
        let mut s = Session {
            ice,
            fleet,
            config,
            screen: Screen::Connecting,
            language: Language::Fr,
            hub_up: false,
            camera_ok: true,
            sound_ok: true,
            sound_output: None,
            retry_delay,
            timers: TimerTable::default(),
            outputs: VecDeque::new(),
            assist: Default::default(),
            receipt: Vec::new(),
            receipt_due: None,
            site: String::new(),
            host: Default::default(),
            callbacks: false,
        };
        s.outputs.push_back(Output::ConnectHub { resume: None });
        s.touch(now);
        s.after_change(now);
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
        self.after_change(now);
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
                self.cancel(now, VisitEnd::Hub(EndReason::Cancelled));
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
            Input::ScanConsent { accept } => self.scan_consent(accept),
            Input::Sign { strokes } => self.sign(strokes),
            Input::RefuseSign => self.refuse_sign(now),
            Input::AskCallback => self.ask_callback(now),
            Input::ChooseCallbackSlot(start) => self.choose_callback(now, start),
            Input::CloseCallback => self.close_callback(now),
            Input::HubConnected => {}
            Input::HubLost => self.hub_lost(now),
            Input::Hub(msg) => self.hub_message(now, msg),
            Input::Media(event) => self.media(now, event),
            Input::Document(event) => self.document(now, event),
            Input::DocumentsEnded => self.print_receipt(),
            Input::Camera { present } => {
                self.camera_ok = present;
                self.settle_service_state();
            }
            Input::Devices(health) => self.devices(now, health),
            Input::Handset { present } => self.handset(now, present),
            Input::ConfigFetched(fetch) => self.config_fetched(now, fetch),
            Input::Assist(assist) => self.assist_input(now, assist),
        }
        self.after_change(now);
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
                Screen::Home { .. } | Screen::Ended(_) => {
                    self.end_host_call();
                    self.go_home();
                }
                Screen::Callback(_) => self.callback_timed_out(),
                _ => {}
            },
            Timer::PresenceCheck => {
                if let Screen::Waiting(w) = &mut self.screen {
                    w.presence_check = true;
                    self.timers.set(Timer::PresenceGrace, now + self.config.presence_grace);
                }
            }
            Timer::PresenceGrace => {
                self.end_host_call();
                self.cancel(now, VisitEnd::ResidentAbsent);
            }
            Timer::HangUpConfirm => {
                if let Screen::InCall(call) = &mut self.screen {
                    call.confirm_hang_up = false;
                }
            }
            Timer::EndedReturn => {
                if matches!(self.screen, Screen::Ended(_)) {
                    self.end_host_call();
                    self.go_home();
                }
            }
            Timer::DocumentNotice => {
                if let Screen::InCall(call) = &mut self.screen
                    && matches!(
                        call.document,
                        DocumentView::ScanSent { .. }
                            | DocumentView::Printed { .. }
                            | DocumentView::Signed { .. }
                            | DocumentView::SignRefused { .. }
                            | DocumentView::Failed { .. }
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
                    self.event(KioskEvent::Ended { session, reason: VisitEnd::HubLost });
                    self.out_of_service(OutOfService::HubUnreachable);
                }
            }
            Timer::IceRestart => {
                let reachable = self.offer_reaches_agent();
                if self.ice.handle_timeout(now, reachable) {
                    self.outputs.push_back(Output::Call(CallCommand::RestartIce));
                }
                self.sync_ice_timer();
            }
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
            // `after_change` turns the warning on.
            Timer::ReturnWarning => {}
            Timer::ReceiptDue => self.print_receipt(),
        }
    }

    /// A fresh home: French, no notice, no leftovers of the last visitor.
    fn go_home(&mut self) {
        self.language = Language::Fr;
        self.reset_assist();
        self.screen = Screen::Home { notice: None };
        self.timers.stop(Timer::EndedReturn);
        self.settle_service_state();
    }

    fn choose(&mut self, service: ServiceId) {
        if !matches!(self.screen, Screen::Home { .. }) {
            return;
        }
        self.outputs.push_back(Output::ToHub(KioskToHub::RequestCall { service: service.clone() }));
        // A new visit: nothing of the last one goes on its receipt.
        self.print_receipt();
        self.receipt.clear();
        self.screen = Screen::Requesting { service };
    }

    fn cancel(&mut self, now: Instant, why: VisitEnd) {
        let session = match &self.screen {
            Screen::Waiting(w) => Some(w.session.clone()),
            Screen::Requesting { .. } => None,
            _ => return,
        };
        self.timers.stop(Timer::PresenceCheck);
        self.timers.stop(Timer::PresenceGrace);
        if let Some(session) = session {
            self.outputs.push_back(Output::ToHub(KioskToHub::CancelCall));
            self.event(KioskEvent::Ended { session: session.to_string(), reason: why });
        }
        // A request still on its way is cancelled when its `queued` arrives.
        self.go_home();
        self.touch(now);
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
        // Never sooner than the warning before it (a countdown shows).
        self.timers.set(Timer::EndedReturn, now + self.config.after_rating.max(self.config.return_warning));
    }

    fn event(&mut self, event: KioskEvent) {
        self.outputs.push_back(Output::Event(event));
    }
}

#[cfg(test)]
mod harness;
#[cfg(test)]
mod tests;
