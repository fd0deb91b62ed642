//! The headless twin of the window: the same session core, hub link and visit
//! task, driven by a script instead of fingers. It asks for one call, prints
//! one JSON object per line on stdout for each event (see README, "Headless
//! mode"), and exits when the visit is over. End-to-end tests, soak tests and
//! benchmarks drive the kiosk through it.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};
use visio_kiosk_core::{Assist, CallbackStage, Input, KioskEvent, RECEIPT_SETTLE, Screen, Session, VisitEnd};
use visio_protocol::ServiceId;

use crate::carrier::{Carrier, ShellOutput};
use crate::fleet::{ConfigFetcher, DeviceWatch};
use crate::handset::{self, SoundRouter};
use crate::hub_link::{self, Command as HubCommand, LinkEvent};
use crate::setup::Setup;
use crate::systemd::Notifier;
use crate::visit::{self, Command as VisitCommand, VisitEvent};

/// How often the devices (the camera's presence) are checked.
const DEVICE_CHECK_EVERY: Duration = Duration::from_secs(5);
/// Longest wait for the call and the spool to be cleaned up at exit.
const CLEAN_UP_WITHIN: Duration = Duration::from_secs(15);

/// What the script asks for.
#[derive(Debug, Clone)]
pub struct Script {
    /// The service to call once the hub has welcomed the kiosk.
    pub service: ServiceId,
    /// Hang up (and confirm) this long after the call connected; `None`
    /// waits for the agent to end it.
    pub hang_up_after: Option<Duration>,
    /// The resident's answers to documents to sign, in order.
    pub sign_answers: Vec<SignAnswer>,
    /// Press "Appeler l'accueil" once waiting in the line.
    pub call_host: bool,
    /// Ask to be called back when offered (a closed service, a long
    /// wait) and book the first slot shown; the run ends once booked and
    /// its slip printed.
    pub callback: bool,
}

/// How the scripted resident answers a document to sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SignAnswer {
    /// Draws [`SCRIPTED_SIGNATURE`] once the agent has placed the box.
    Sign,
    /// "Je ne signe pas", as soon as the document shows.
    Refuse,
}

/// The scripted resident's signature: two strokes across the box
/// (thousandths of the box), a zigzag and a line under it.
pub const SCRIPTED_SIGNATURE: [&[(u32, u32)]; 2] = [
    &[(60, 700), (160, 200), (260, 750), (360, 250), (460, 700), (560, 300), (660, 650)],
    &[(80, 850), (900, 800)],
];

/// How the visit ended, as the exit status says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The call took place and one side hung up.
    Normal,
    /// Refused, failed, cut, cancelled or interrupted.
    Abnormal,
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> ExitCode {
        match outcome {
            Outcome::Normal => ExitCode::SUCCESS,
            Outcome::Abnormal => ExitCode::from(3),
        }
    }
}

/// Runs one scripted visit to its end.
pub async fn run(mut setup: Setup, script: Script) -> anyhow::Result<Outcome> {
    let hub = setup.hub.clone().ok_or_else(|| anyhow::anyhow!("headless mode needs the hub: give --secret-file"))?;
    anyhow::ensure!(
        setup.offered.contains(&script.service),
        "this kiosk does not offer {:?}; it offers: {}",
        script.service.as_str(),
        setup.offered.iter().map(ServiceId::as_str).collect::<Vec<_>>().join(", ")
    );

    let fetcher = ConfigFetcher::new(&hub.endpoint, hub.tls.clone())?;
    let (fetched_tx, mut fetched) = mpsc::unbounded_channel::<(u64, Result<String, String>)>();
    let (hub_tx, hub_rx) = mpsc::unbounded_channel();
    let (hub_events_tx, mut hub_events) = mpsc::channel(64);
    tokio::spawn(hub_link::run(hub.endpoint, hub.tls, hub_rx, hub_events_tx));
    let (visit_tx, mut visit_events) = visit::spawn(setup.visit.clone());

    let mut shell = Shell {
        session: Session::new(setup.session.clone(), Instant::now()),
        carrier: Carrier::connected(hub_tx, visit_tx),
        script,
        asked: false,
        host_called: false,
        booked: false,
        hang_up_at: None,
        outcome: None,
        fetcher,
        fetched: fetched_tx,
        router: None,
    };
    // A handset beside the loudspeaker: the sound server says when it is
    // there, the session decides where the sound goes.
    let router = setup.kiosk.devices.sound.clone().map(|sinks| Arc::new(SoundRouter::new(sinks)));
    let mut handset = match &router {
        Some(router) => handset::watch(router.clone()),
        None => mpsc::unbounded_channel().1,
    };
    shell.router = router;
    let mut device_check = tokio::time::interval(DEVICE_CHECK_EVERY);
    let mut camera_present = true;
    let mut watch = DeviceWatch::default();
    let interrupt = crate::stop::requested();
    tokio::pin!(interrupt);
    let mut interrupted = false;
    // systemd's watchdog is pinged from this loop (an hour apart when
    // systemd set none: the tick then does nothing).
    let mut notifier = Notifier::from_env();
    let mut watchdog = tokio::time::interval(notifier.every().unwrap_or(Duration::from_secs(3600)));

    shell.carry_out();
    while shell.outcome.is_none() {
        let deadline = [shell.session.poll_timeout(), shell.hang_up_at].into_iter().flatten().min();
        let sleep = tokio::time::sleep_until(deadline.map_or_else(far_future, tokio::time::Instant::from_std));
        tokio::select! {
            event = hub_events.recv() => match event {
                Some(LinkEvent::Connected) => shell.input(Input::HubConnected),
                Some(LinkEvent::Message(msg)) => shell.input(Input::Hub(msg)),
                Some(LinkEvent::Lost { reason }) => {
                    warn!(%reason, "hub connection lost");
                    shell.input(Input::HubLost);
                }
                None => anyhow::bail!("the hub link stopped"),
            },
            event = visit_events.recv() => match event {
                Some(VisitEvent::Input(input)) => shell.input(input),
                Some(VisitEvent::DeviceFault { device, fault }) => {
                    watch.record(device, fault);
                    shell.input(Input::Devices(watch.health(&setup.kiosk.devices)));
                }
                Some(VisitEvent::Video { .. } | VisitEvent::Page { .. } | VisitEvent::ScanPreview(_)) => {}
                None => anyhow::bail!("the call task stopped"),
            },
            Some(present) = handset.recv() => shell.input(Input::Handset { present }),
            Some((version, result)) = fetched.recv() => {
                let (outcome, devices) = setup.take_configuration(version, result);
                if let Some(devices) = devices {
                    shell.send_to_visit(VisitCommand::UseDevices(Box::new(devices)));
                }
                shell.input(Input::ConfigFetched(outcome));
            },
            _ = device_check.tick() => {
                let present = setup.camera_present();
                if present != camera_present {
                    camera_present = present;
                    shell.input(Input::Camera { present });
                }
                shell.input(Input::Devices(watch.health(&setup.kiosk.devices)));
            },
            _ = sleep, if deadline.is_some() => shell.timeout(),
            _ = watchdog.tick() => notifier.alive(Instant::now()),
            _ = &mut interrupt, if !interrupted => {
                interrupted = true;
                notifier.stopping();
                info!("ending the visit before stopping");
                shell.end_visit();
            },
        }
    }
    let outcome = shell.outcome.unwrap_or(Outcome::Abnormal);

    // The receipt waits for the documents' last outcomes (a print that came
    // out as the agent hung up): the visit task says when they are all
    // told, and the receipt goes to it to print before it closes.
    let receipt_by = tokio::time::Instant::now() + RECEIPT_SETTLE;
    while shell.session.receipt_pending() {
        tokio::select! {
            event = visit_events.recv() => match event {
                Some(VisitEvent::Input(input @ (Input::Document(_) | Input::DocumentsEnded))) => shell.input(input),
                Some(_) => {}
                None => break,
            },
            _ = tokio::time::sleep_until(receipt_by) => {
                // The session's own wait is over by now: it prints.
                shell.timeout();
                break;
            }
        }
    }

    // Let the last messages (hang-up, cancel) reach the hub, and the visit
    // task end its call and wipe its spool, before the process goes.
    let (closed_tx, closed_rx) = oneshot::channel();
    shell.carrier.to_hub(HubCommand::Close(closed_tx));
    let _ = tokio::time::timeout(CLEAN_UP_WITHIN, closed_rx).await;
    if shell.booked {
        // The callback's slip comes out before the process goes.
        let (finished_tx, finished_rx) = oneshot::channel();
        shell.send_to_visit(VisitCommand::Finish(finished_tx));
        let _ = tokio::time::timeout(CLEAN_UP_WITHIN * 2, finished_rx).await;
    }
    shell.close_visit();
    // A document outcome that raced the end (a scan delivered as the agent
    // hung up) still goes through the session and is printed, once.
    let _ = tokio::time::timeout(CLEAN_UP_WITHIN, async {
        while let Some(event) = visit_events.recv().await {
            if let VisitEvent::Input(input @ Input::Document(_)) = event {
                shell.input(input);
            }
        }
    })
    .await;
    Ok(if interrupted { Outcome::Abnormal } else { outcome })
}

struct Shell {
    session: Session,
    carrier: Carrier,
    script: Script,
    /// The call was requested (once: a refused or ended visit is the end).
    asked: bool,
    /// The host was called (once).
    host_called: bool,
    /// A callback was booked (`--callback`).
    booked: bool,
    hang_up_at: Option<Instant>,
    outcome: Option<Outcome>,
    fetcher: ConfigFetcher,
    /// Downloaded configurations, for the loop to apply.
    fetched: mpsc::UnboundedSender<(u64, Result<String, String>)>,
    /// Routes the sound to the handset or the loudspeaker, when the
    /// kiosk has a handset.
    router: Option<Arc<SoundRouter>>,
}

impl Shell {
    fn input(&mut self, input: Input) {
        self.session.handle_input(Instant::now(), input);
        self.carry_out();
    }

    fn timeout(&mut self) {
        let now = Instant::now();
        if self.hang_up_at.is_some_and(|at| at <= now) {
            self.hang_up_at = None;
            self.end_visit();
        }
        self.session.handle_timeout(now);
        self.carry_out();
    }

    /// Cancels the wait or hangs up (with its confirmation), as a resident would.
    fn end_visit(&mut self) {
        match self.session.screen() {
            Screen::Waiting(_) | Screen::Requesting { .. } => self.input(Input::Cancel),
            Screen::InCall(_) => {
                self.input(Input::HangUp);
                self.input(Input::ConfirmHangUp);
            }
            _ => self.outcome = Some(Outcome::Abnormal),
        }
    }

    fn carry_out(&mut self) {
        while let Some(output) = self.session.poll_output() {
            match self.carrier.carry(output) {
                Some(ShellOutput::Event(event)) => self.event(event),
                Some(ShellOutput::RouteSound(output)) => {
                    if let Some(router) = &self.router {
                        handset::route_in_background(router, output);
                    }
                }
                Some(ShellOutput::Chime) | None => {}
            }
        }
        while let Some(request) = self.session.poll_config_fetch() {
            let (fetcher, done) = (self.fetcher.clone(), self.fetched.clone());
            tokio::spawn(async move {
                let text = fetcher.fetch(&request).await;
                let _ = done.send((request.version, text));
            });
        }
        if !self.asked && matches!(self.session.screen(), Screen::Home { .. }) {
            self.asked = true;
            self.session.handle_input(Instant::now(), Input::ChooseService(self.script.service.clone()));
            self.carry_out();
        }
        if self.script.call_host && !self.host_called && matches!(self.session.screen(), Screen::Waiting(_)) {
            self.host_called = true;
            self.session.handle_input(Instant::now(), Input::Assist(Assist::CallHost));
            self.carry_out();
        }
        if self.script.callback {
            let input = match self.session.screen() {
                Screen::Waiting(_) if self.session.callback_offered() => Some(Input::AskCallback),
                Screen::Callback(c) => match &c.stage {
                    CallbackStage::Offer => Some(Input::AskCallback),
                    CallbackStage::Choosing { slots, .. } => slots.first().map(|s| Input::ChooseCallbackSlot(*s)),
                    // Nothing to book: the visit ends there.
                    CallbackStage::NoSlots | CallbackStage::Unavailable => {
                        self.outcome = Some(Outcome::Abnormal);
                        None
                    }
                    _ => None,
                },
                _ => None,
            };
            if let Some(input) = input {
                self.session.handle_input(Instant::now(), input);
                self.carry_out();
            }
        }
    }

    fn event(&mut self, event: KioskEvent) {
        print_line(&event.to_json_line());
        match &event {
            KioskEvent::Connected { .. } => {
                self.hang_up_at = self.script.hang_up_after.map(|after| Instant::now() + after);
            }
            // Refused for a closed service: the callback is offered next.
            KioskEvent::Refused { .. } if self.script.callback && matches!(self.session.screen(), Screen::Callback(_)) => {}
            KioskEvent::Refused { .. } => self.outcome = Some(Outcome::Abnormal),
            KioskEvent::CallbackBooked { .. } if self.script.callback => {
                self.booked = true;
                self.outcome = Some(Outcome::Normal);
            }
            KioskEvent::SignAsked { .. } if self.script.sign_answers.first() == Some(&SignAnswer::Refuse) => {
                self.script.sign_answers.remove(0);
                self.input(Input::RefuseSign);
            }
            KioskEvent::SignPlaced { .. } if self.script.sign_answers.first() == Some(&SignAnswer::Sign) => {
                self.script.sign_answers.remove(0);
                let strokes = SCRIPTED_SIGNATURE.iter().map(|s| s.to_vec()).collect();
                self.input(Input::Sign { strokes });
            }
            // A kiosk that lost its camera or sound stays, out of service,
            // as a real one would: the host and the fleet see it until it
            // is stopped.
            KioskEvent::Ended { reason: VisitEnd::DeviceFault, .. } => {}
            KioskEvent::Ended { reason, .. } => {
                self.outcome = Some(if reason.is_normal() { Outcome::Normal } else { Outcome::Abnormal });
            }
            _ => {}
        }
    }

    /// Ends the visit task: it ends any call and wipes the spool, then its
    /// events stop.
    fn close_visit(&mut self) {
        self.carrier.close_visit();
    }

    fn send_to_visit(&mut self, command: VisitCommand) {
        self.carrier.to_visit(command);
    }
}

/// One event, one line, flushed at once: a reader waits on each.
fn print_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(86_400)
}
