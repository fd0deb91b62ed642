//! The iced shell around the session core: turns touches, ticks and hub
//! messages into core inputs, carries out the core's outputs, and shows the
//! core's screen through the screen modules.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use iced::widget::image;
use iced::{Element, Subscription, Task};
use tokio::sync::mpsc;
use visio_config::Catalogue;
use visio_kiosk_core::{Config, ConfigFetch, DocumentView, InCall, Input, Screen, Session};
use visio_media::VideoFrame;
use visio_protocol::ServiceId;

use crate::carrier::{Carrier, ShellOutput};
use crate::fleet::{ConfigFetcher, DeviceWatch};
use crate::hub_link::{Command, HubSettings, LinkEvent};
use crate::i18n::Catalog;
use crate::screen::{self, Context, assist, call, callback, ended, home, waiting};
use crate::speech::{self, Speaker};
use crate::setup::Setup;
use crate::visit::{self, VisitDevices, VisitEvent};

mod streams;
use streams::{FrameSource, LocalSource, frame_stream, hub_stream, stop_stream, visit_stream};

/// How often the devices (the camera's presence) are checked.
const DEVICE_CHECK_EVERY: Duration = Duration::from_secs(5);
/// Longest wait, when asked to stop, for the hub to be told and for the
/// spool to be wiped: systemd kills after 90 s by default.
const CLEAN_UP_WITHIN: Duration = Duration::from_secs(5);

/// Everything the app needs to start.
#[derive(Clone, Debug)]
pub struct Settings {
    pub session: Config,
    pub catalogue: Arc<Catalogue>,
    /// The services this kiosk offers, in tile order.
    pub offered: Vec<ServiceId>,
    /// `None` runs without a hub (UI tests, screenshots).
    pub hub: Option<HubSettings>,
    /// `None` runs without calls (UI tests, screenshots).
    pub visit: Option<VisitSettings>,
    /// Ask for a service as soon as the home screen shows (demos and
    /// benchmarks, `--call`).
    pub auto_call: Option<AutoCall>,
    /// The kiosk's configuration and devices, watched and updated while it
    /// runs; `None` in UI tests and screenshots.
    pub setup: Option<Setup>,
    /// The kiosk's screen: touch targets are 2 cm on it.
    pub panel: visio_config::panel::Panel,
}

impl Settings {
    pub fn from_setup(setup: Setup) -> Settings {
        Settings {
            session: setup.session.clone(),
            catalogue: setup.catalogue.clone(),
            offered: setup.offered.clone(),
            hub: setup.hub.clone(),
            visit: Some(VisitSettings { devices: setup.visit.clone() }),
            auto_call: None,
            panel: setup.kiosk.panel,
            setup: Some(setup),
        }
    }
}

/// A scripted resident: asks for `service` from the home screen, `times`
/// times, and rates each call at once (so the end screen lasts 5 s, not 30).
#[derive(Clone, Debug)]
pub struct AutoCall {
    pub service: ServiceId,
    pub times: u32,
}

/// The devices of the visit task.
#[derive(Clone, Debug)]
pub struct VisitSettings {
    pub devices: VisitDevices,
}

/// One visit task per app: the same spool, the same task.
impl Hash for VisitSettings {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.devices.spool.root().hash(state);
    }
}

#[derive(Debug, Clone)]
pub enum Message {
    Home(home::Message),
    Waiting(waiting::Message),
    Call(call::Message),
    Ended(ended::Message),
    Callback(callback::Message),
    /// The help bar and the "Je suis encore là" warning.
    Assist(assist::Message),
    /// Any touch or click: the resident is there.
    Touched,
    Tick(Instant),
    Hub(HubUpdate),
    Visit(VisitUpdate),
    /// A new picture of the agent.
    RemoteFrame(VideoFrame),
    /// A new picture of the resident (small, from the kiosk's camera).
    LocalFrame(VideoFrame),
    /// The picture is in the renderer's memory: show it from the next frame.
    FrameReady(Result<image::Allocation, image::Error>),
    /// Time to look at the devices again.
    CheckDevices,
    /// The handset is plugged in (or not), as the sound server says.
    Handset(bool),
    /// A configuration the hub announced, downloaded (or not).
    ConfigFetched { version: u64, text: Result<String, String> },
    /// SIGTERM or SIGINT: end the visit, then exit.
    Stop,
    /// The hub was told and the spool wiped: exit now.
    Stopped,
}

#[derive(Debug, Clone)]
pub enum VisitUpdate {
    Ready(mpsc::UnboundedSender<visit::Command>),
    /// The visit task could not start (its spool); calls cannot be made.
    Failed(String),
    Event(VisitEvent),
}

#[derive(Debug, Clone)]
pub enum HubUpdate {
    /// The link task is running; commands go here.
    Ready(mpsc::UnboundedSender<Command>),
    Event(LinkEvent),
}

pub struct Kiosk {
    session: Session,
    settings: Settings,
    words: Catalog,
    /// The same words in easy-read (FALC) where the catalogue has them.
    easy_words: Catalog,
    now: Instant,
    /// Where the session's outputs go (the hub link, the visit task).
    carrier: Carrier,
    /// The current call's picture sources: the agent, the resident.
    remote_frames: Option<FrameSource>,
    local_frames: Option<FrameSource>,
    camera_present: bool,
    watch: DeviceWatch,
    fetcher: Option<ConfigFetcher>,
    speaker: Speaker,
    pub pictures: PictureState,
}

/// The latest video frames and document pages to show. Emptied when the
/// call ends: nothing of a visit stays in memory.
#[derive(Debug, Default)]
pub struct PictureState {
    pub remote: Option<image::Handle>,
    /// Keeps the shown frame uploaded until the next one is (no blank frames
    /// on wgpu: docs/platform.md, "iced: a video frame must stay uploaded").
    remote_allocation: Option<image::Allocation>,
    pub local: Option<image::Handle>,
    /// The shown document's page on the screen (one at a time).
    pub page: Option<crate::screen::document::ShownPage>,
    pub scan_preview: Option<image::Handle>,
    /// The resident's strokes while signing.
    pub signature: crate::screen::sign::Pad,
}

impl std::fmt::Debug for Kiosk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kiosk").field("session", &self.session).finish_non_exhaustive()
    }
}

impl Kiosk {
    pub fn new(settings: Settings) -> Kiosk {
        let now = Instant::now();
        let fetcher = settings.hub.as_ref().and_then(|hub| {
            ConfigFetcher::new(&hub.endpoint, hub.tls.clone())
                .map_err(|e| tracing::error!(error = %e, "configurations cannot be fetched"))
                .ok()
        });
        let carrier = Carrier::new(settings.hub.is_some(), settings.visit.is_some());
        let mut kiosk = Kiosk {
            session: Session::new(settings.session.clone(), now),
            settings,
            words: Catalog::load(),
            easy_words: Catalog::load_easy_read(),
            now,
            carrier,
            remote_frames: None,
            local_frames: None,
            camera_present: true,
            watch: DeviceWatch::default(),
            fetcher,
            speaker: Speaker::new(speech::sink_from_env()),
            pictures: PictureState::default(),
        };
        kiosk.carry_out();
        kiosk
    }

    pub fn screen(&self) -> &Screen {
        self.session.screen()
    }

    /// The kiosk's voice (tests read what it said).
    pub fn speaker(&self) -> &Speaker {
        &self.speaker
    }


    /// Feeds one input to the core, as if it came from the outside world.
    pub fn input(&mut self, input: Input) {
        self.now = Instant::now().max(self.now);
        self.session.handle_input(self.now, input);
        self.carry_out();
    }

    pub fn update(&mut self, message: Message) -> Task<Message> {
        let mut task = Task::none();
        let input = match message {
            Message::Home(m) => Some(home::update(m, self.session.language())),
            Message::Waiting(m) => Some(waiting::update(m)),
            Message::Call(m) => {
                let document = match self.session.screen() {
                    Screen::InCall(c) => Some(&c.document),
                    _ => None,
                };
                call::update(m, &mut self.pictures.signature, document)
            }
            Message::Ended(m) => Some(ended::update(m)),
            Message::Callback(m) => Some(callback::update(m)),
            Message::Assist(m) => Some(assist::update(m)),
            Message::Touched => Some(Input::Touch),
            // Ticks carry the time (UI tests simulate it with later ones).
            Message::Tick(at) => {
                self.now = self.now.max(at);
                None
            }
            Message::Hub(HubUpdate::Ready(tx)) => {
                self.carrier.hub_ready(tx);
                None
            }
            Message::Hub(HubUpdate::Event(event)) => Some(match event {
                LinkEvent::Connected => Input::HubConnected,
                LinkEvent::Message(msg) => Input::Hub(msg),
                LinkEvent::Lost { reason } => {
                    tracing::warn!(%reason, "hub connection lost");
                    Input::HubLost
                }
            }),
            Message::Visit(VisitUpdate::Ready(tx)) => {
                self.carrier.visit_ready(tx);
                None
            }
            Message::Visit(VisitUpdate::Failed(reason)) => {
                tracing::error!(%reason, "calls are unavailable");
                Some(Input::Camera { present: false })
            }
            Message::Visit(VisitUpdate::Event(VisitEvent::DeviceFault { device, fault })) => {
                self.watch.record(device, fault);
                self.settings.setup.as_ref().map(|setup| Input::Devices(self.watch.health(&setup.kiosk.devices)))
            }
            Message::Visit(VisitUpdate::Event(event)) => match event {
                VisitEvent::Input(input) => Some(input),
                VisitEvent::Video { session, remote, local } => {
                    self.remote_frames = Some(FrameSource { session: session.clone(), frames: remote });
                    self.local_frames = Some(FrameSource { session, frames: local });
                    None
                }
                VisitEvent::Page { page, path } => {
                    // Only the page the screen is on (a slow one may come
                    // after the agent turned on). Read now: the files go
                    // with the visit's spool. Decoded here under size
                    // limits; iced only gets bounded RGBA.
                    let current = match self.session.screen() {
                        Screen::InCall(InCall { document: DocumentView::Showing { page, .. }, .. }) => Some(*page),
                        Screen::InCall(InCall { document: DocumentView::Signing { area, .. }, .. }) => Some(area.page),
                        _ => None,
                    };
                    if current.is_none_or(|c| c == page) {
                        match visio_transfer::display::load_page(&path, visio_transfer::display::MAX_PAGE_SIDE) {
                            Ok(p) => {
                                self.pictures.page = Some(crate::screen::document::ShownPage {
                                    number: page,
                                    width: p.width,
                                    height: p.height,
                                    handle: image::Handle::from_rgba(p.width, p.height, p.rgba),
                                });
                            }
                            Err(e) => tracing::warn!(error = %e, "page image"),
                        }
                    }
                    None
                }
                VisitEvent::ScanPreview(path) => {
                    // Our own small JPEG; read now, the file goes with the spool.
                    let limits = visio_transfer::inspect::DocumentLimits::default();
                    self.pictures.scan_preview = visio_transfer::inspect::decode_image(&path, visio_transfer::check::ContentKind::Jpeg, &limits)
                        .map(|img| img.to_rgba8())
                        .map(|rgba| image::Handle::from_rgba(rgba.width(), rgba.height(), rgba.into_raw()))
                        .map_err(|e| tracing::warn!(error = %e, "scan preview"))
                        .ok();
                    None
                }
                // Handled above.
                VisitEvent::DeviceFault { .. } => None,
            },
            Message::RemoteFrame(frame) => {
                let handle = image::Handle::from_rgba(frame.width, frame.height, frame.data);
                task = image::allocate(handle).map(Message::FrameReady);
                None
            }
            Message::LocalFrame(frame) => {
                // Small (320 px wide): uploaded within the frame, no allocation needed.
                if self.local_frames.is_some() {
                    self.pictures.local = Some(image::Handle::from_rgba(frame.width, frame.height, frame.data));
                }
                None
            }
            Message::FrameReady(Ok(allocation)) => {
                if self.remote_frames.is_some() {
                    self.pictures.remote = Some(allocation.handle().clone());
                    self.pictures.remote_allocation = Some(allocation);
                }
                None
            }
            Message::FrameReady(Err(e)) => {
                tracing::debug!(error = ?e, "frame not shown");
                None
            }
            Message::CheckDevices => self.check_devices(),
            Message::Handset(present) => Some(Input::Handset { present }),
            Message::ConfigFetched { version, text } => Some(Input::ConfigFetched(self.apply_config(version, text))),
            Message::Stop => return self.stop(),
            Message::Stopped => return iced::exit(),
        };
        if let Some(input) = input {
            self.input(input);
        }
        self.now = Instant::now().max(self.now);
        if self.session.poll_timeout().is_some_and(|t| t <= self.now) {
            self.session.handle_timeout(self.now);
            self.carry_out();
        }
        if !matches!(self.session.screen(), Screen::InCall(_)) {
            self.forget_the_call();
        }
        Task::batch([task, self.fetch_configurations()])
    }

    /// Ends the visit as the resident would (hang up or cancel), lets the
    /// hub link send it and the visit task wipe the spool, then exits.
    fn stop(&mut self) -> Task<Message> {
        match self.session.screen() {
            Screen::InCall(_) => {
                self.input(Input::HangUp);
                self.input(Input::ConfirmHangUp);
            }
            Screen::Waiting(_) | Screen::Requesting { .. } => self.input(Input::Cancel),
            _ => {}
        }
        self.forget_the_call();
        let (hub, visit) = self.carrier.channels();
        let finish = async move {
            if let Some(hub) = hub {
                let (done, sent) = tokio::sync::oneshot::channel();
                if hub.send(Command::Close(done)).is_ok() {
                    let _ = tokio::time::timeout(CLEAN_UP_WITHIN, sent).await;
                }
            }
            if let Some(visit) = visit {
                let (done, wiped) = tokio::sync::oneshot::channel();
                if visit.send(visit::Command::Finish(done)).is_ok() {
                    let _ = tokio::time::timeout(CLEAN_UP_WITHIN, wiped).await;
                }
            }
        };
        Task::perform(finish, |()| Message::Stopped)
    }

    /// Downloads the configurations the core asks for.
    fn fetch_configurations(&mut self) -> Task<Message> {
        let mut tasks = Vec::new();
        while let Some(request) = self.session.poll_config_fetch() {
            let Some(fetcher) = self.fetcher.clone() else { continue };
            tasks.push(Task::perform(async move { (request.version, fetcher.fetch(&request).await) }, |(version, text)| {
                Message::ConfigFetched { version, text }
            }));
        }
        Task::batch(tasks)
    }

    /// Verifies and stores a downloaded configuration; an applied one
    /// changes the tiles now and the devices from the next visit.
    fn apply_config(&mut self, version: u64, text: Result<String, String>) -> ConfigFetch {
        let Some(setup) = &mut self.settings.setup else {
            return ConfigFetch::Failed { version, reason: "no configuration store".into() };
        };
        let (outcome, devices) = setup.take_configuration(version, text);
        self.settings.offered = setup.offered.clone();
        self.settings.catalogue = setup.catalogue.clone();
        if let Some(devices) = devices {
            self.send_to_visit(visit::Command::UseDevices(Box::new(devices)));
        }
        outcome
    }

    /// The camera's presence (out of service without it) and every
    /// device's health (for heartbeats).
    fn check_devices(&mut self) -> Option<Input> {
        let setup = self.settings.setup.as_ref()?;
        let present = setup.camera_present();
        if present != self.camera_present {
            self.camera_present = present;
            self.session.handle_input(self.now, Input::Camera { present });
        }
        Some(Input::Devices(self.watch.health(&setup.kiosk.devices)))
    }

    /// Drops every picture of the last call (agent, resident, documents).
    fn forget_the_call(&mut self) {
        if self.remote_frames.is_some() || self.pictures.page.is_some() || self.pictures.remote.is_some() || self.pictures.scan_preview.is_some() {
            self.remote_frames = None;
            self.local_frames = None;
            self.pictures = PictureState::default();
        }
    }

    fn carry_out(&mut self) {
        if let Some(auto) = &mut self.settings.auto_call {
            match self.session.screen() {
                Screen::Home { .. } if auto.times > 0 => {
                    auto.times -= 1;
                    self.session.handle_input(self.now, Input::ChooseService(auto.service.clone()));
                }
                Screen::Ended(ended) if ended.rated.is_none() => {
                    self.session.handle_input(self.now, Input::Rate(visio_protocol::Rating::Happy));
                }
                _ => {}
            }
        }
        while let Some(output) = self.session.poll_output() {
            match self.carrier.carry(output) {
                Some(ShellOutput::Event(event)) => tracing::info!(event = %event.to_log_line(), "kiosk"),
                Some(ShellOutput::Chime) => crate::sound::chime(),
                Some(ShellOutput::RouteSound(output)) => {
                    if let Some(sinks) = self.settings.setup.as_ref().and_then(|s| s.kiosk.devices.sound.clone()) {
                        crate::handset::route_in_background(&std::sync::Arc::new(crate::handset::SoundRouter::new(sinks)), output);
                    }
                }
                None => {}
            }
        }
        while let Some(command) = self.session.poll_speech() {
            match command {
                visio_kiosk_core::SpeechCommand::Say { prompt, language, easy_read, volume } => {
                    let words = speech::words::text(Context { language, ..self.context() }, &prompt, easy_read);
                    self.speaker.say(words, language, volume);
                }
                visio_kiosk_core::SpeechCommand::Stop => self.speaker.stop(),
            }
        }
    }

    fn send_to_visit(&mut self, command: visit::Command) {
        self.carrier.to_visit(command);
    }

    fn context(&self) -> Context<'_> {
        Context {
            words: if self.session.assist_prefs().easy_read { &self.easy_words } else { &self.words },
            language: self.session.language(),
            catalogue: &self.settings.catalogue,
            offered: &self.settings.offered,
            now: jiff::Timestamp::now(),
            look: screen::Look::new(&self.settings.panel, self.session.assist_prefs().large_text),
        }
    }

    pub fn view(&self) -> Element<'_, Message> {
        let ctx = self.context();
        let state = assist::State {
            prefs: self.session.assist_prefs(),
            speaking: self.speaker.is_speaking(),
            auto_return: self.session.auto_return(),
            now: self.now,
            countdown_always: matches!(self.session.screen(), Screen::Ended(_)),
            host: self.session.host_call(),
        };
        assist::frame(ctx, self.screen_view(ctx), state, Message::Assist)
    }

    fn screen_view<'a>(&'a self, ctx: Context<'a>) -> Element<'a, Message> {
        match self.session.screen() {
            Screen::Connecting => screen::message_page(ctx, ctx.tr("starting"), None),
            Screen::OutOfService { reason } => screen::out_of_service::view(ctx, *reason),
            Screen::Home { notice } => home::view(ctx, notice.as_ref()).map(Message::Home),
            Screen::Requesting { service } => {
                screen::message_page(ctx, ctx.tr_with("requesting", &[("service", ctx.service_name(service).into())]), None)
            }
            Screen::Waiting(w) => {
                let waited = self.session.waiting_since().map(|t| self.now.saturating_duration_since(t));
                waiting::view(ctx, w, waited, self.session.callback_offered()).map(Message::Waiting)
            }
            Screen::InCall(c) => {
                let pictures = call::Pictures {
                    remote: self.pictures.remote.as_ref(),
                    local: self.pictures.local.as_ref(),
                    page: self.pictures.page.as_ref(),
                    scan_preview: self.pictures.scan_preview.as_ref(),
                    signature: Some(&self.pictures.signature),
                };
                call::view(ctx, c, self.now.saturating_duration_since(c.answered_at), pictures).map(Message::Call)
            }
            Screen::Ended(e) => ended::view(ctx, e).map(Message::Ended),
            Screen::Callback(c) => callback::view(ctx, c, self.has_printer()).map(Message::Callback),
        }
    }

    /// Whether a booked callback's slip is printed here.
    fn has_printer(&self) -> bool {
        self.settings.setup.as_ref().is_some_and(|s| s.kiosk.devices.printer != visio_config::kiosk::Printer::None)
    }

    pub fn subscription(&self) -> Subscription<Message> {
        let mut subscriptions = vec![
            iced::time::every(Duration::from_millis(250)).map(Message::Tick),
            iced::event::listen_with(|event, _, _| match event {
                iced::Event::Mouse(iced::mouse::Event::ButtonPressed(_))
                | iced::Event::Touch(iced::touch::Event::FingerPressed { .. }) => Some(Message::Touched),
                _ => None,
            }),
        ];
        if self.settings.setup.is_some() {
            subscriptions.push(Subscription::run(stop_stream));
        }
        if let Some(hub) = &self.settings.hub {
            subscriptions.push(Subscription::run_with(hub.clone(), hub_stream).map(Message::Hub));
        }
        if let Some(visit) = &self.settings.visit {
            subscriptions.push(Subscription::run_with(visit.clone(), visit_stream).map(Message::Visit));
        }
        if self.settings.setup.is_some() {
            subscriptions.push(iced::time::every(DEVICE_CHECK_EVERY).map(|_| Message::CheckDevices));
            if let Some(sinks) = self.settings.setup.as_ref().and_then(|s| s.kiosk.devices.sound.as_ref()) {
                subscriptions.push(Subscription::run_with(sinks.clone(), streams::handset_stream));
            }
        }
        if let Some(source) = &self.remote_frames {
            subscriptions.push(Subscription::run_with(source.clone(), frame_stream).map(Message::RemoteFrame));
        }
        if let Some(source) = &self.local_frames {
            let local = LocalSource(source.clone());
            subscriptions.push(Subscription::run_with(local, |l| frame_stream(&l.0)).map(Message::LocalFrame));
        }
        Subscription::batch(subscriptions)
    }
}
