//! The iced shell around the session core: turns touches, ticks and hub
//! messages into core inputs, carries out the core's outputs, and shows the
//! core's screen through the screen modules.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use iced::widget::image;
use iced::{Element, Subscription, Task};
use tokio::sync::mpsc;
use visio_config::Catalogue;
use visio_kiosk_core::{Config, Input, Output, Screen, Session};
use visio_protocol::ServiceId;

use crate::hub_link::{self, Command, Endpoint, LinkEvent};
use crate::i18n::Catalog;
use crate::screen::{self, Context, call, ended, home, waiting};

/// Everything the app needs to start.
#[derive(Clone, Debug)]
pub struct Settings {
    pub session: Config,
    pub catalogue: Arc<Catalogue>,
    /// The services this kiosk offers, in tile order.
    pub offered: Vec<ServiceId>,
    /// `None` runs without a hub (UI tests, screenshots).
    pub hub: Option<HubSettings>,
}

#[derive(Clone, Debug)]
pub struct HubSettings {
    pub endpoint: Endpoint,
    pub tls: Arc<rustls::ClientConfig>,
}

/// The hub link's identity for iced: one subscription per kiosk and hub.
impl Hash for HubSettings {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.endpoint.hub_url.hash(state);
        self.endpoint.kiosk_id.hash(state);
    }
}

#[derive(Debug, Clone)]
pub enum Message {
    Home(home::Message),
    Waiting(waiting::Message),
    Call(call::Message),
    Ended(ended::Message),
    /// Any touch or click: the resident is there.
    Touched,
    Tick(Instant),
    Hub(HubUpdate),
}

#[derive(Debug, Clone)]
pub enum HubUpdate {
    /// The link task is running; commands go here.
    Ready(mpsc::Sender<Command>),
    Event(LinkEvent),
}

pub struct Kiosk {
    session: Session,
    settings: Settings,
    words: Catalog,
    now: Instant,
    hub: Option<mpsc::Sender<Command>>,
    /// Commands issued before the link task was ready.
    pending: Vec<Command>,
    pub pictures: PictureState,
}

/// The latest video frames and document pages to show.
#[derive(Debug, Default)]
pub struct PictureState {
    pub remote: Option<image::Handle>,
    pub local: Option<image::Handle>,
    pub pages: Vec<image::Handle>,
}

impl std::fmt::Debug for Kiosk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kiosk").field("session", &self.session).finish_non_exhaustive()
    }
}

impl Kiosk {
    pub fn new(settings: Settings) -> Kiosk {
        let now = Instant::now();
        let mut kiosk = Kiosk {
            session: Session::new(settings.session.clone(), now),
            settings,
            words: Catalog::load(),
            now,
            hub: None,
            pending: Vec::new(),
            pictures: PictureState::default(),
        };
        kiosk.carry_out();
        kiosk
    }

    pub fn screen(&self) -> &Screen {
        self.session.screen()
    }

    /// Feeds one input to the core, as if it came from the outside world.
    pub fn input(&mut self, input: Input) {
        self.now = Instant::now().max(self.now);
        self.session.handle_input(self.now, input);
        self.carry_out();
    }

    pub fn update(&mut self, message: Message) -> Task<Message> {
        let input = match message {
            Message::Home(m) => Some(home::update(m, self.session.language())),
            Message::Waiting(m) => Some(waiting::update(m)),
            Message::Call(m) => Some(call::update(m)),
            Message::Ended(m) => Some(ended::update(m)),
            Message::Touched => Some(Input::Touch),
            Message::Tick(_) => None,
            Message::Hub(HubUpdate::Ready(tx)) => {
                for command in self.pending.drain(..) {
                    let _ = tx.try_send(command);
                }
                self.hub = Some(tx);
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
        };
        if let Some(input) = input {
            self.input(input);
        }
        self.now = Instant::now().max(self.now);
        if self.session.poll_timeout().is_some_and(|t| t <= self.now) {
            self.session.handle_timeout(self.now);
            self.carry_out();
        }
        Task::none()
    }

    fn carry_out(&mut self) {
        while let Some(output) = self.session.poll_output() {
            match output {
                Output::ConnectHub => self.to_hub(Command::Connect),
                Output::ToHub(msg) => self.to_hub(Command::Send(msg)),
                Output::Event(event) => tracing::info!(event = %event.to_json_line(), "kiosk"),
                Output::Chime => crate::sound::chime(),
                Output::Call(command) => tracing::info!(?command, "call command (media not wired in the window yet)"),
                Output::Documents(command) => tracing::info!(?command, "documents"),
            }
        }
    }

    fn to_hub(&mut self, command: Command) {
        if self.settings.hub.is_none() {
            return;
        }
        match &self.hub {
            Some(tx) => {
                if tx.try_send(command).is_err() {
                    tracing::warn!("hub link busy; command dropped");
                }
            }
            None => self.pending.push(command),
        }
    }

    pub fn view(&self) -> Element<'_, Message> {
        let ctx = Context {
            words: &self.words,
            language: self.session.language(),
            catalogue: &self.settings.catalogue,
            offered: &self.settings.offered,
            now: jiff::Timestamp::now(),
        };
        match self.session.screen() {
            Screen::Connecting => screen::message_page(ctx.tr("starting"), None),
            Screen::OutOfService { reason } => screen::out_of_service::view(ctx, *reason),
            Screen::Home { notice } => home::view(ctx, notice.as_ref()).map(Message::Home),
            Screen::Requesting { service } => {
                screen::message_page(ctx.tr_with("requesting", &[("service", ctx.service_name(service).into())]), None)
            }
            Screen::Waiting(w) => waiting::view(ctx, w).map(Message::Waiting),
            Screen::InCall(c) => {
                let pictures = call::Pictures {
                    remote: self.pictures.remote.as_ref(),
                    local: self.pictures.local.as_ref(),
                    pages: &self.pictures.pages,
                };
                call::view(ctx, c, self.now.saturating_duration_since(c.answered_at), pictures).map(Message::Call)
            }
            Screen::Ended(e) => ended::view(ctx, e).map(Message::Ended),
        }
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
        if let Some(hub) = &self.settings.hub {
            subscriptions.push(Subscription::run_with(hub.clone(), hub_stream).map(Message::Hub));
        }
        Subscription::batch(subscriptions)
    }
}

/// The hub link as an iced stream: first the command sender, then events.
fn hub_stream(hub: &HubSettings) -> impl iced::futures::Stream<Item = HubUpdate> + use<> {
    let hub = hub.clone();
    iced::stream::channel(64, async move |mut output| {
        let (commands_tx, commands_rx) = mpsc::channel(64);
        let (events_tx, mut events_rx) = mpsc::channel(64);
        let _ = output.send(HubUpdate::Ready(commands_tx)).await;
        tokio::spawn(hub_link::run(hub.endpoint, hub.tls, commands_rx, events_tx));
        while let Some(event) = events_rx.recv().await {
            if output.send(HubUpdate::Event(event)).await.is_err() {
                return;
            }
        }
    })
}
