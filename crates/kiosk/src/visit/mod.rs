//! One visit's call and documents, for both shells (window and headless).
//!
//! The session core says *what* should happen ([`CallCommand`],
//! [`DocumentCommand`]); this task makes it happen with visio-media's
//! [`Call`] and visio-transfer's kiosk session, and turns what they report
//! back into core inputs ([`MediaEvent`], [`DocumentEvent`](visio_kiosk_core::DocumentEvent)). It holds at most
//! one call; nothing of it outlives the visit (the spool is wiped on
//! [`DocumentCommand::WipeSpool`]).

mod candidate;
mod notice;
mod quality;
pub mod devices;
pub mod probe;
pub mod receipt;
pub mod slip;
mod scan;
mod shown;
mod sign;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;
use tracing::{debug, info, warn};
use visio_kiosk_core::{CallCommand, DocumentCommand, Input, MediaEvent};
use visio_media::adapt::document_send_rate;
use visio_media::{Call, CallConfig, CallEvent, CallEvents, CallState, DocumentsLink, Frames, SdpKind, SessionDescription};
use visio_protocol::{IceServer, SessionId, Signal};
use visio_transfer::driver::{Notice, SessionHandle};
use visio_transfer::spool::Spool;
use visio_transfer::Limits;

pub use self::candidate::{media_candidate, protocol_candidate};
use self::devices::KioskServices;
use self::shown::ShownDocument;
use self::sign::{SignDone, SignedCopy, SigningDocument};


/// The agent's voice is heard when the loudest 20 ms of the last second of
/// their audio is above this: speech sits around -30 to -15 dBFS, a quiet
/// office's background under -50.
const AGENT_VOICE_DBFS: f32 = -45.0;
/// Longest wait, as the kiosk stops, for a receipt to print.
const RECEIPT_WITHIN: std::time::Duration = std::time::Duration::from_secs(30);
/// Longest wait, at the end of a visit, for the documents' last notices.
const DRAIN_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// What a visit is made with.
#[derive(Debug, Clone)]
pub struct VisitDevices {
    /// The call's settings; the hub adds its ICE servers to each call.
    pub call: CallConfig,
    /// Scanner, printer and page renderer.
    pub services: KioskServices,
    /// Where a visit's files live while it lasts.
    pub spool: Spool,
    pub limits: Limits,
    /// The site, time zone and service names a receipt gives.
    pub receipt: receipt::ReceiptHeading,
}

/// Orders for the visit task.
#[derive(Debug)]
pub enum Command {
    Call(CallCommand),
    Documents(DocumentCommand),
    /// The visit's receipt, for the printer.
    PrintReceipt(visio_kiosk_core::Receipt),
    /// A booked callback's slip, for the printer.
    PrintSlip(visio_kiosk_core::CallbackSlip),
    /// A new configuration: the next visit uses these devices.
    UseDevices(Box<VisitDevices>),
    /// The kiosk is stopping: end any call, wipe the spool, then answer.
    Finish(tokio::sync::oneshot::Sender<()>),
}

/// A device the documents use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    Scanner,
    Printer,
    Camera,
    Microphone,
    Speaker,
}

/// What is wrong with a device: a stable code the pages translate
/// (`visio_protocol::fault`) when the kiosk measured it itself, and the
/// words, which pages show when there is no code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub code: Option<&'static str>,
    pub detail: String,
}

impl From<String> for Fault {
    fn from(detail: String) -> Fault {
        Fault { code: None, detail }
    }
}

impl From<visio_media::probe::ProbeFault> for Fault {
    fn from(fault: visio_media::probe::ProbeFault) -> Fault {
        Fault { code: Some(fault.code), detail: fault.detail }
    }
}

/// What the visit task reports.
#[derive(Debug, Clone)]
pub enum VisitEvent {
    /// For the session core.
    Input(Input),
    /// A call started: the agent's picture and the resident's own, for the
    /// window.
    Video { session: SessionId, remote: Frames, local: Frames },
    /// A page of the document the agent shows, drawn (an image file in the
    /// spool, deleted when the visit ends).
    Page { page: u32, path: PathBuf },
    /// The scanner or printer failed (`Some(why)`) or worked (`None`): for
    /// the heartbeats' device health.
    DeviceFault { device: Device, fault: Option<Fault> },
    /// A scanned page the resident is asked about (an image file in the
    /// spool, deleted when the visit ends).
    ScanPreview(PathBuf),
}

/// Starts the visit task on the current tokio runtime. It stops when the
/// command sender is dropped, ending any call first.
pub fn spawn(devices: VisitDevices) -> (mpsc::UnboundedSender<Command>, mpsc::UnboundedReceiver<VisitEvent>) {
    let (commands_tx, commands_rx) = mpsc::unbounded_channel();
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let mut runner = Runner { devices: Arc::new(devices), events: events_tx, call: None, documents: None, receipt: None, media_probe: None };
    runner.probe_devices();
    tokio::spawn(runner.run(commands_rx));
    (commands_tx, events_rx)
}

struct Runner {
    devices: Arc<VisitDevices>,
    events: mpsc::UnboundedSender<VisitEvent>,
    call: Option<ActiveCall>,
    documents: Option<Documents>,
    /// A receipt being printed: the kiosk waits for it before it stops.
    receipt: Option<tokio::task::JoinHandle<()>>,
    /// The camera and microphone probe in progress: a call waits for it
    /// to let the devices go.
    media_probe: Option<tokio::task::JoinHandle<()>>,
}

struct ActiveCall {
    session: SessionId,
    /// The hub's ICE servers for this visit, for a new connection after the
    /// agent's page reloaded.
    ice_servers: Vec<IceServer>,
    call: Call,
    events: CallEvents,
    saw_remote_video: bool,
    /// The agent's voice was heard in the last stats (spoken prompts wait).
    agent_talking: bool,
    /// How the agent reaches the resident, told to the agent.
    quality: quality::ReceivedQuality,
}

/// The transfer session of the visit and what the screen needs to know of
/// its transfers.
struct Documents {
    handle: SessionHandle,
    notices: mpsc::UnboundedReceiver<Notice>,
    /// Incoming documents by transfer id: their names.
    incoming: HashMap<u32, String>,
    /// Outgoing scans by transfer id: name, size, hash.
    scans: HashMap<u32, (String, u64, String)>,
    /// The call was told documents are going up.
    sending: bool,
    /// The document on the screen.
    shown: Option<ShownDocument>,
    /// The document to sign on the screen.
    signing: Option<SigningDocument>,
    /// Signed documents on their way, by transfer id: name, size, hash.
    signed: HashMap<u32, SignedCopy>,
    /// Signatures stamped (or not) in the background.
    sign_done: (mpsc::UnboundedSender<SignDone>, mpsc::UnboundedReceiver<SignDone>),
}

async fn next_call_event(call: &mut Option<ActiveCall>) -> Option<CallEvent> {
    match call {
        Some(active) => active.events.next().await,
        None => std::future::pending().await,
    }
}

/// The transfer session's next notice, or a signature done in the background.
enum DocumentsInput {
    Notice(Option<Notice>),
    SignDone(SignDone),
}

async fn next_notice(documents: &mut Option<Documents>) -> DocumentsInput {
    match documents {
        Some(d) => tokio::select! {
            Some(done) = d.sign_done.1.recv() => DocumentsInput::SignDone(done),
            notice = d.notices.recv() => DocumentsInput::Notice(notice),
        },
        None => std::future::pending().await,
    }
}

impl Runner {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Call(c)) => self.call_command(c).await,
                    Some(Command::Documents(DocumentCommand::WipeSpool)) => {
                        self.end_documents().await;
                        // Every outcome that raced the end is told: the
                        // visit's receipt may print.
                        self.input(Input::DocumentsEnded);
                    }
                    Some(Command::Documents(DocumentCommand::ShowView { view, .. })) => {
                        if let Some(Documents { shown: Some(shown), .. }) = &self.documents {
                            shown.show(view);
                        }
                    }
                    Some(Command::Documents(c @ (DocumentCommand::Sign { .. } | DocumentCommand::RefuseSign))) => self.sign_command(c).await,
                    Some(Command::Documents(other)) => self.scan_command(other),
                    Some(Command::UseDevices(devices)) => {
                        self.devices = Arc::new(*devices);
                        // Not during a call: the agent may be scanning.
                        if self.call.is_none() {
                            self.probe_devices();
                        }
                    }
                    Some(Command::PrintReceipt(r)) => {
                        let (now, wall) = (std::time::Instant::now(), jiff::Timestamp::now());
                        let lines = receipt::receipt_lines(&r, &self.devices.receipt, &crate::i18n::Catalog::load(), now, wall);
                        self.receipt = receipt::print(receipt::Job::Receipt, &self.devices.services.printer, &lines, self.events.clone());
                    }
                    Some(Command::PrintSlip(s)) => {
                        let lines = slip::slip_lines(&s, &self.devices.receipt, &crate::i18n::Catalog::load());
                        self.receipt = receipt::print(receipt::Job::CallbackSlip, &self.devices.services.printer, &lines, self.events.clone());
                    }
                    Some(Command::Finish(done)) => {
                        self.end_call().await;
                        self.end_documents().await;
                        self.finish_receipt().await;
                        let _ = done.send(());
                    }
                    None => break,
                },
                event = next_call_event(&mut self.call) => match event {
                    Some(event) => self.call_event(event).await,
                    None => self.call = None,
                },
                input = next_notice(&mut self.documents) => {
                    let notice = match input {
                        DocumentsInput::Notice(notice) => notice,
                        DocumentsInput::SignDone(done) => {
                            self.sign_done(done);
                            continue;
                        }
                    };
                    // A closed channel ends the documents (they are taken).
                    if let (Some(notice), Some(mut documents)) = (notice, self.documents.take()) {
                        self.notice(&mut documents, notice);
                        self.documents = Some(documents);
                    }
                }
            }
        }
        self.end_call().await;
        self.end_documents().await;
    }

    /// Lets a receipt in progress come out before the kiosk stops (a
    /// stuck printer does not hold the stop for long).
    async fn finish_receipt(&mut self) {
        if let Some(job) = self.receipt.take()
            && tokio::time::timeout(RECEIPT_WITHIN, job).await.is_err()
        {
            warn!("the receipt was still printing when the kiosk stopped");
        }
    }

    fn input(&self, input: Input) {
        let _ = self.events.send(VisitEvent::Input(input));
    }

    fn fail(&self, reason: String) {
        warn!(%reason, "call failed");
        self.input(Input::Media(MediaEvent::Failed { reason }));
    }

    // -----------------------------------------------------------------------
    // The call
    // -----------------------------------------------------------------------

    async fn call_command(&mut self, command: CallCommand) {
        match command {
            CallCommand::Start { session, ice_servers } => self.start(session, ice_servers).await,
            CallCommand::RemoteSignal(signal) => self.remote_signal(signal).await,
            CallCommand::RestartIce => self.restart_ice().await,
            CallCommand::Reconnect => self.reconnect().await,
            CallCommand::End => {
                self.settle_scans().await;
                self.end_call().await;
            }
        }
    }

    /// A new visit: its documents session, then the call.
    async fn start(&mut self, session: SessionId, ice_servers: Vec<IceServer>) {
        self.end_call().await;
        self.end_documents().await;
        self.media_probe_done().await;
        // One visit at a time: a fixed folder name keeps the session id out
        // of the spool's paths, so out of the log lines that show them.
        match self.devices.spool.session("visit") {
            Ok(spool) => {
                let (handle, notices) = visio_transfer::driver::spawn_kiosk(
                    self.devices.limits.clone(),
                    spool,
                    self.devices.services.clone(),
                );
                self.documents = Some(Documents {
                    handle,
                    notices,
                    incoming: HashMap::new(),
                    scans: HashMap::new(),
                    sending: false,
                    shown: None,
                    signing: None,
                    signed: HashMap::new(),
                    sign_done: mpsc::unbounded_channel(),
                });
            }
            // The call is worth having even without documents.
            Err(e) => warn!(error = %e, "no spool for this visit; documents are unavailable"),
        }
        self.connect(session, ice_servers).await;
    }

    /// The agent's page lost its peer connection: a new one, same visit.
    /// The documents session stays; its transfers resume on the new
    /// channel from their last acknowledged chunk.
    async fn reconnect(&mut self) {
        let Some(active) = self.call.take() else { return };
        active.call.hang_up().await;
        info!("new connection for the agent's reloaded page");
        self.connect(active.session, active.ice_servers).await;
    }

    /// Makes the call's connection and its offer.
    async fn connect(&mut self, session: SessionId, ice_servers: Vec<IceServer>) {
        let mut config = self.devices.call.clone();
        config.ice_servers.extend(ice_servers.iter().cloned().map(|s| visio_media::IceServer {
            urls: s.urls,
            username: s.username.unwrap_or_default(),
            credential: s.credential.unwrap_or_default(),
        }));
        let (call, events) = match Call::new(config).await {
            Ok(c) => c,
            Err(e) => return self.fail(format!("the call could not start: {e}")),
        };
        let _ = self.events.send(VisitEvent::Video {
            session: session.clone(),
            remote: call.remote_frames(),
            local: call.local_frames(),
        });
        match call.create_offer().await {
            Ok(offer) => self.input(Input::Media(MediaEvent::LocalSignal(Signal::Offer { sdp: offer.sdp }))),
            Err(e) => {
                call.hang_up().await;
                return self.fail(format!("the call offer could not be made: {e}"));
            }
        }
        info!("call connecting");
        self.call = Some(ActiveCall {
            session,
            ice_servers,
            call,
            events,
            saw_remote_video: false,
            agent_talking: false,
            quality: Default::default(),
        });
    }

    /// A new offer with new ICE credentials on the same connection: the
    /// DTLS and SCTP associations, so the documents channel, carry on.
    async fn restart_ice(&mut self) {
        let Some(active) = &self.call else { return };
        match active.call.restart_ice().await {
            Ok(offer) => {
                info!("ICE restart");
                self.input(Input::Media(MediaEvent::LocalSignal(Signal::Offer { sdp: offer.sdp })));
            }
            Err(e) => warn!(error = %e, "ICE restart not possible now; the session tries again"),
        }
    }

    async fn remote_signal(&mut self, signal: Signal) {
        let Some(active) = &self.call else {
            debug!(kind = signal.kind(), "signal without a call; ignored");
            return;
        };
        let result = match signal {
            Signal::Answer { sdp } => active.call.set_answer(SessionDescription { kind: SdpKind::Answer, sdp }).await,
            Signal::Candidate { candidate } => active.call.add_remote_candidate(media_candidate(candidate)).await,
            Signal::EndOfCandidates => Ok(()),
            // The session core turns it into `CallCommand::Reconnect`.
            Signal::Restart => Ok(()),
            Signal::Offer { .. } => {
                warn!("the agent sent an offer; the kiosk makes the offer, ignored");
                Ok(())
            }
        };
        if let Err(e) = result {
            // A bad answer means no call; a bad candidate is one path fewer.
            warn!(error = %e, "the agent's negotiation was refused");
        }
    }

    async fn call_event(&mut self, event: CallEvent) {
        let Some(active) = &mut self.call else { return };
        match event {
            CallEvent::State(state) => {
                // A cut holds transfers without counting as no progress
                // (the channel stays open, SCTP retransmits); the session
                // core's media give-up ends them with the call.
                let path = match state {
                    CallState::Connected => Some(true),
                    CallState::Disconnected | CallState::Failed => Some(false),
                    CallState::New | CallState::Connecting | CallState::Closed => None,
                };
                if let (Some(up), Some(documents)) = (path, &self.documents) {
                    let _ = documents.handle.set_call_connected(up).await;
                }
                match state {
                    CallState::Connected => self.input(Input::Media(MediaEvent::Connected)),
                    CallState::Disconnected => self.input(Input::Media(MediaEvent::Reconnecting)),
                    // A lost path, not a lost call: the session restarts ICE and
                    // gives up only after a long while.
                    CallState::Failed => self.input(Input::Media(MediaEvent::Lost)),
                    CallState::New | CallState::Connecting | CallState::Closed => {}
                }
            }
            CallEvent::LocalCandidate(c) => {
                let candidate = protocol_candidate(c);
                self.input(Input::Media(MediaEvent::LocalSignal(Signal::Candidate { candidate })));
            }
            CallEvent::RemoteVideoStarted { width, height } => {
                if !active.saw_remote_video {
                    active.saw_remote_video = true;
                    info!(width, height, "agent's video started");
                    self.input(Input::Media(MediaEvent::FirstRemoteFrame));
                }
            }
            CallEvent::DataChannelOpen(channel) => match &self.documents {
                Some(documents) => {
                    let (link, events) = DocumentsLink::attach(channel);
                    if let Err(e) = documents.handle.attach(link, events).await {
                        warn!(error = %e, "documents channel not attached");
                    }
                    // Data-channel bytes go around the media pacer: never
                    // unpaced during a call; the stats raise it.
                    self.pace_documents(0).await;
                }
                None => warn!("documents channel open but no transfer session"),
            },
            CallEvent::DataChannelClosed => debug!("documents channel closed"),
            CallEvent::Stats(stats) => {
                debug!(?stats, "call stats");
                let talking = stats.audio_level_received_dbfs.is_some_and(|db| db > AGENT_VOICE_DBFS);
                let talking_changed = talking != active.agent_talking;
                active.agent_talking = talking;
                let report = active.quality.handle_stats(std::time::Instant::now(), &stats);
                if talking_changed {
                    self.input(Input::Assist(visio_kiosk_core::Assist::AgentTalking(talking)));
                }
                self.pace_documents(stats.data_room_bps).await;
                self.input(Input::Media(MediaEvent::Measured { uplink_bps: stats.estimate_bps, rtt: stats.rtt }));
                if let (Some(report), Some(documents)) = (report, &self.documents) {
                    let _ = documents.handle.link_quality(report).await;
                }
            }
            // The estimate backed off between two stats: slow down now.
            CallEvent::DataRoom { data_room_bps } => self.pace_documents(data_room_bps).await,
            CallEvent::Error(e) => warn!(error = %e, "call"),
            other => debug!(?other, "call event"),
        }
    }

    /// Scans go up at the room the estimate leaves above audio and video
    /// (decisions: "Documents beside audio").
    async fn pace_documents(&self, data_room_bps: u64) {
        if let Some(documents) = &self.documents {
            let _ = documents.handle.set_send_rate(Some(document_send_rate(data_room_bps))).await;
        }
    }

    async fn end_call(&mut self) {
        if let Some(active) = self.call.take() {
            active.call.hang_up().await;
            info!("call ended");
        }
    }

    // -----------------------------------------------------------------------
    // Documents
    // -----------------------------------------------------------------------

    /// The call is ending: a scan the agent already holds may still have
    /// its acknowledgement on the way over the data channel (the agent hung
    /// up the moment it arrived). Keep the channel up a moment for it, so
    /// that the resident is told it went (and the session once).
    /// Only while a scan is unacknowledged, 2 s at most, microphone off.
    async fn settle_scans(&mut self) {
        let Some(mut documents) = self.documents.take() else { return };
        if documents.scans.is_empty() {
            self.documents = Some(documents);
            return;
        }
        if let Some(active) = &self.call {
            let _ = active.call.set_microphone_muted(true).await;
        }
        let settle = async {
            while !documents.scans.is_empty() {
                match documents.notices.recv().await {
                    Some(notice) => self.notice(&mut documents, notice),
                    None => break,
                }
            }
        };
        let _ = tokio::time::timeout(DRAIN_WITHIN, settle).await;
        self.documents = Some(documents);
    }

    async fn end_documents(&mut self) {
        let Some(mut documents) = self.documents.take() else { return };
        // No page drawn into the spool after it is wiped.
        if let Some(shown) = documents.shown.take() {
            shown.stop().await;
        }
        drop(documents.signing.take());
        // Between visits: are the printer and scanner ready for the next one?
        self.probe_devices();
        // Ending wipes the visit's spool (scans, pushed files, pages).
        if let Err(e) = documents.handle.end().await {
            debug!(error = %e, "transfer session already ended");
        }
        // An outcome that raced the end (a scan delivered as the agent hung
        // up) is still told, once: the session reports it after the call.
        let drain = async {
            while let Some(notice) = documents.notices.recv().await {
                if matches!(notice, Notice::Ended) {
                    break;
                }
                self.notice(&mut documents, notice);
            }
        };
        let _ = tokio::time::timeout(DRAIN_WITHIN, drain).await;
    }
}
