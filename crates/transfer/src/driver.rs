//! The tokio shell: one task owns an [`Endpoint`] and a session spool, and
//! drives the endpoint over whatever link is attached (a webrtc-rs data
//! channel in production). Links can be detached and attached again: the
//! endpoint resumes interrupted transfers.
//!
//! [`spawn_session`] gives a [`SessionHandle`] (commands in) and a stream of
//! [`Notice`]s (events out). [`spawn_kiosk`] adds the kiosk's services on top:
//! scan on request, print and show pushed files, report the outcome.

mod act;
pub mod interview;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use crate::core::{Endpoint, Event, FileMeta, Frame, Limits, Output, Side, Transmit};
use crate::display::Display;
use crate::inspect::DocumentLimits;
use crate::link::{LinkEvent, MessageLink};
use crate::printer::Printer;
use crate::scanner::Scanner;
use crate::spool::{SessionSpool, hash_file, read_at};
use crate::sign::SignatureBox;
use crate::wire::{OutcomeKind, PageView, Purpose, ScanSettings};

/// What the driver tells the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A core event; `file` is the spool file for `FileReceived`.
    Core {
        /// The event.
        event: Event,
        /// Where the received file is.
        file: Option<PathBuf>,
    },
    /// The data channel opened.
    LinkUp,
    /// The data channel closed (transfers wait for the next one).
    LinkDown,
    /// Kiosk: a pushed document is ready for the screen, its first page
    /// drawn; the others are drawn when shown ([`Display::render_page`]).
    Shown {
        /// The transfer.
        id: u32,
        /// Pages it has.
        pages: u32,
        /// Page 1, drawn.
        first: PathBuf,
        /// The document itself (in the spool), for the other pages.
        source: PathBuf,
        /// Its kind.
        kind: crate::check::ContentKind,
    },
    /// Kiosk: a pushed document to sign is read and its last page drawn:
    /// the resident is to sign it there unless the agent moves the box.
    SignAsked {
        /// The agent's transfer.
        id: u32,
        /// Pages it has.
        pages: u32,
        /// The last page, drawn.
        last: PathBuf,
        /// The document itself (in the spool).
        source: PathBuf,
    },
    /// Kiosk: a pushed document was printed.
    Printed {
        /// The transfer.
        id: u32,
        /// The CUPS job.
        job_id: i32,
    },
    /// Kiosk: a scan was made and is being sent.
    Scanned {
        /// The request.
        req: u32,
        /// The transfer sending it.
        id: u32,
        /// The file.
        path: PathBuf,
        /// Its SHA-256, as sent.
        sha256: String,
    },
    /// Kiosk: the scanner failed; the agent was told why.
    ScanFailed {
        /// The request.
        req: u32,
        /// Why, for the screen and the log.
        reason: String,
    },
    /// Kiosk: a pushed document could not be printed or shown; the agent was
    /// told why.
    ActionFailed {
        /// The transfer.
        id: u32,
        /// What the agent wanted done.
        purpose: Purpose,
        /// Why, for the screen and the log.
        reason: String,
        /// The device (or the kiosk) is at fault, not the document: only
        /// then may the fleet see the printer as faulty.
        device_fault: bool,
    },
    /// Kiosk: a step of a scan interview, for the screen.
    Interview(interview::InterviewNotice),
    /// The session ended and its spool is wiped.
    Ended,
}

/// A command failed.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The session task is gone.
    #[error("the transfer session has ended")]
    Ended,
    /// The core refused the command.
    #[error(transparent)]
    Command(#[from] crate::core::CommandError),
    /// The file to send could not be read.
    #[error("cannot read {path}: {source}")]
    File {
        /// Which.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Counters, for tests and benchmarks.
#[derive(Debug, Default)]
pub struct Stats {
    /// Chunk data bytes put on the link.
    pub chunk_bytes_sent: AtomicU64,
    /// Chunk data bytes taken off the link.
    pub chunk_bytes_received: AtomicU64,
    /// Times the channel reported its buffered amount over the high mark.
    pub buffer_high_events: AtomicU64,
}

pub(crate) type Reply<T> = oneshot::Sender<Result<T, DriverError>>;

pub(crate) enum Command {
    Attach(Arc<dyn MessageLink>, mpsc::Receiver<LinkEvent>),
    RequestScan(ScanSettings, Reply<u32>),
    PushFile { path: PathBuf, name: String, purpose: Purpose, req: Option<u32>, reply: Reply<(u32, String)> },
    ScanStarted(u32),
    ScanFailed(u32, String),
    Outcome(u32, OutcomeKind, Option<String>),
    Cancel(u32, String),
    RequestView(u32, PageView),
    ViewShown { id: u32, pages: u32, view: PageView, thumbnail: Option<String> },
    LinkQuality(crate::wire::LinkReport),
    SignBox(u32, SignatureBox),
    SignShown { id: u32, pages: u32, area: SignatureBox, thumbnail: Option<String> },
    SetRate(Option<u64>),
    Path(bool),
    Scan(interview::ScanCommand),
    End(oneshot::Sender<()>),
}

/// Commands into a running session.
#[derive(Debug, Clone)]
pub struct SessionHandle {
    tx: mpsc::Sender<Command>,
    stats: Arc<Stats>,
    dir: PathBuf,
    /// Kiosk: the visit's scan interview task.
    interview: Option<mpsc::UnboundedSender<interview::InterviewInput>>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

impl SessionHandle {
    pub(crate) async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, DriverError> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).await.map_err(|_| DriverError::Ended)?;
        rx.await.map_err(|_| DriverError::Ended)?
    }

    pub(crate) async fn tell(&self, c: Command) -> Result<(), DriverError> {
        self.tx.send(c).await.map_err(|_| DriverError::Ended)
    }

    /// Attaches a (new) link; the previous one, if any, counts as dropped.
    pub async fn attach(&self, link: Arc<dyn MessageLink>, events: mpsc::Receiver<LinkEvent>) -> Result<(), DriverError> {
        self.tell(Command::Attach(link, events)).await
    }

    /// Agent: asks for a scan; returns the request id.
    pub async fn request_scan(&self, settings: ScanSettings) -> Result<u32, DriverError> {
        self.call(|r| Command::RequestScan(settings, r)).await
    }

    /// Sends a file; returns its transfer id and SHA-256.
    pub async fn push_file(&self, path: &Path, name: &str, purpose: Purpose, req: Option<u32>) -> Result<(u32, String), DriverError> {
        let (path, name) = (path.to_path_buf(), name.to_string());
        self.call(|reply| Command::PushFile { path, name, purpose, req, reply }).await
    }

    /// Kiosk: the scanner started.
    pub async fn scan_started(&self, req: u32) -> Result<(), DriverError> {
        self.tell(Command::ScanStarted(req)).await
    }

    /// Kiosk: the scan failed.
    pub async fn scan_failed(&self, req: u32, reason: String) -> Result<(), DriverError> {
        self.tell(Command::ScanFailed(req, reason)).await
    }

    /// Kiosk: printed, shown or failed.
    pub async fn report_outcome(&self, id: u32, outcome: OutcomeKind, reason: Option<String>) -> Result<(), DriverError> {
        self.tell(Command::Outcome(id, outcome, reason)).await
    }

    /// Cancels a transfer.
    pub async fn cancel(&self, id: u32, reason: &str) -> Result<(), DriverError> {
        self.tell(Command::Cancel(id, reason.into())).await
    }

    /// Agent: view shown document `id` this way.
    pub async fn request_view(&self, id: u32, view: PageView) -> Result<(), DriverError> {
        self.tell(Command::RequestView(id, view)).await
    }

    /// Kiosk: tell the agent what the resident sees of document `id`.
    pub async fn view_shown(&self, id: u32, pages: u32, view: PageView, thumbnail: Option<String>) -> Result<(), DriverError> {
        self.tell(Command::ViewShown { id, pages, view, thumbnail }).await
    }

    /// Kiosk: tell the agent how the call reaches the resident.
    pub async fn link_quality(&self, report: crate::wire::LinkReport) -> Result<(), DriverError> {
        self.tell(Command::LinkQuality(report)).await
    }

    /// Agent: place the signature box of document `id`.
    pub async fn request_sign_box(&self, id: u32, area: SignatureBox) -> Result<(), DriverError> {
        self.tell(Command::SignBox(id, area)).await
    }

    /// Kiosk: tell the agent what the resident sees of document `id` to sign.
    pub async fn sign_shown(&self, id: u32, pages: u32, area: SignatureBox, thumbnail: Option<String>) -> Result<(), DriverError> {
        self.tell(Command::SignShown { id, pages, area, thumbnail }).await
    }

    /// Paces outgoing chunks at `bytes_per_sec` (`None`: unpaced), e.g. half
    /// the call's current bandwidth estimate.
    pub async fn set_send_rate(&self, bytes_per_sec: Option<u64>) -> Result<(), DriverError> {
        self.tell(Command::SetRate(bytes_per_sec)).await
    }

    /// The call's network path is up (`true`: connected) or cut (`false`:
    /// disconnected or failed, the channel still open): a cut does not
    /// count against the no-progress limit ([`Endpoint::handle_path_down`]).
    pub async fn set_call_connected(&self, connected: bool) -> Result<(), DriverError> {
        self.tell(Command::Path(connected)).await
    }

    /// Ends the session: its spool directory is wiped before this returns.
    pub async fn end(&self) -> Result<(), DriverError> {
        let (tx, rx) = oneshot::channel();
        self.tell(Command::End(tx)).await?;
        rx.await.map_err(|_| DriverError::Ended)
    }

    pub(crate) fn interview(&self, input: interview::InterviewInput) -> Result<(), DriverError> {
        let tx = self.interview.as_ref().ok_or(DriverError::Ended)?;
        tx.send(input).map_err(|_| DriverError::Ended)
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The session's spool directory.
    pub fn spool_dir(&self) -> &Path {
        &self.dir
    }
}

/// Starts the session task.
pub fn spawn_session(side: Side, limits: Limits, spool: SessionSpool) -> (SessionHandle, mpsc::UnboundedReceiver<Notice>) {
    let (tx, rx) = mpsc::channel(64);
    // Unbounded on purpose: the app answers notices with commands, and two
    // bounded channels in a loop could deadlock. Notices are small and
    // rate-limited by the protocol (one progress per 64 KiB).
    let (ntx, nrx) = mpsc::unbounded_channel();
    let stats = Arc::new(Stats::default());
    let handle = SessionHandle { tx, stats: stats.clone(), dir: spool.dir().to_path_buf(), interview: None };
    let driver = Driver { core: Endpoint::new(side, limits), spool: Some(spool), link: None, link_rx: None, sources: HashMap::new(), notices: ntx, stats };
    tokio::spawn(driver.run(rx));
    (handle, nrx)
}

struct Driver {
    core: Endpoint,
    spool: Option<SessionSpool>,
    link: Option<Arc<dyn MessageLink>>,
    link_rx: Option<mpsc::Receiver<LinkEvent>>,
    sources: HashMap<u32, PathBuf>,
    notices: mpsc::UnboundedSender<Notice>,
    stats: Arc<Stats>,
}

async fn next_link_event(rx: &mut Option<mpsc::Receiver<LinkEvent>>) -> LinkEvent {
    match rx {
        Some(r) => r.recv().await.unwrap_or(LinkEvent::Closed),
        None => std::future::pending().await,
    }
}

impl Driver {
    async fn run(mut self, mut cmds: mpsc::Receiver<Command>) {
        let mut end_reply = None;
        loop {
            self.drain().await;
            let deadline = self.core.poll_timeout();
            tokio::select! {
                cmd = cmds.recv() => match cmd {
                    None => break,
                    Some(Command::End(r)) => {
                        // Tell the peer before the files go: its transfers end now, not at a timeout.
                        self.core.cancel_all(Instant::now(), "the session ended");
                        self.drain().await;
                        end_reply = Some(r);
                        break;
                    }
                    Some(c) => self.command(c).await,
                },
                ev = next_link_event(&mut self.link_rx) => self.link_event(ev),
                _ = tokio::time::sleep_until(deadline.map(tokio::time::Instant::from_std).unwrap_or_else(far_future)), if deadline.is_some() => {
                    self.core.handle_timeout(Instant::now());
                }
            }
        }
        if let Some(spool) = self.spool.take()
            && let Err(e) = spool.close()
        {
            warn!(error = %e, "spool not wiped at session end");
        }
        info!("transfer session ended");
        let _ = self.notices.send(Notice::Ended);
        if let Some(r) = end_reply {
            let _ = r.send(());
        }
    }

    fn link_event(&mut self, ev: LinkEvent) {
        let now = Instant::now();
        match ev {
            LinkEvent::Open => {
                self.core.handle_link_up(now);
                let _ = self.notices.send(Notice::LinkUp);
            }
            LinkEvent::Text(t) => {
                // Already logged by the core (without personal data) and answered on the wire.
                let _ = self.core.handle_frame(now, Frame::Text(&t));
            }
            LinkEvent::Binary(b) => {
                self.stats.chunk_bytes_received.fetch_add(b.len().saturating_sub(crate::wire::CHUNK_HEADER_LEN) as u64, Ordering::Relaxed);
                let _ = self.core.handle_frame(now, Frame::Binary(&b));
            }
            LinkEvent::BufferLow => self.core.handle_buffer_low(now),
            LinkEvent::BufferHigh => {
                self.stats.buffer_high_events.fetch_add(1, Ordering::Relaxed);
                self.core.handle_buffer_high(now);
            }
            LinkEvent::Closed => self.lose_link(),
        }
    }

    fn lose_link(&mut self) {
        if self.link.take().is_some() || self.link_rx.is_some() {
            self.link_rx = None;
            self.core.handle_link_down(Instant::now());
            let _ = self.notices.send(Notice::LinkDown);
        }
    }

    async fn command(&mut self, c: Command) {
        let now = Instant::now();
        match c {
            Command::Attach(link, rx) => {
                self.lose_link();
                self.link = Some(link);
                self.link_rx = Some(rx);
            }
            Command::RequestScan(s, r) => {
                let _ = r.send(self.core.request_scan(now, s).map_err(Into::into));
            }
            Command::PushFile { path, name, purpose, req, reply } => {
                let p = path.clone();
                let hashed = tokio::task::spawn_blocking(move || hash_file(&p)).await;
                let result = match hashed {
                    Ok(Ok((size, sha256))) => {
                        let meta = FileMeta { name, size, sha256: sha256.clone(), purpose, req };
                        self.core.push_file(Instant::now(), meta).map(|id| {
                            self.sources.insert(id, path);
                            (id, sha256)
                        }).map_err(Into::into)
                    }
                    Ok(Err(source)) => Err(DriverError::File { path, source }),
                    Err(e) => Err(DriverError::File { path, source: std::io::Error::other(e.to_string()) }),
                };
                let _ = reply.send(result);
            }
            Command::ScanStarted(req) => {
                let _ = self.core.scan_started(now, req);
            }
            Command::ScanFailed(req, reason) => {
                let _ = self.core.scan_failed(now, req, &reason);
            }
            Command::Outcome(id, o, reason) => {
                let _ = self.core.report_outcome(now, id, o, reason);
            }
            Command::Cancel(id, reason) => {
                let _ = self.core.cancel(now, id, &reason);
                self.sources.remove(&id);
            }
            Command::RequestView(id, view) => {
                let _ = self.core.request_view(now, id, view);
            }
            Command::ViewShown { id, pages, view, thumbnail } => {
                if let Err(e) = self.core.view_shown(now, id, pages, view, thumbnail) {
                    warn!(error = %e, "view not reported");
                }
            }
            Command::LinkQuality(report) => {
                let _ = self.core.link_quality(now, report);
            }
            Command::SignBox(id, area) => {
                let _ = self.core.request_sign_box(now, id, area);
            }
            Command::SignShown { id, pages, area, thumbnail } => {
                if let Err(e) = self.core.sign_shown(now, id, pages, area, thumbnail) {
                    warn!(error = %e, "document to sign not reported");
                }
            }
            Command::SetRate(r) => self.core.set_send_rate(now, r),
            Command::Path(true) => self.core.handle_path_up(now),
            Command::Path(false) => self.core.handle_path_down(now),
            Command::Scan(c) => c.apply(&mut self.core, now),
            Command::End(_) => unreachable!("handled in run"),
        }
    }

    /// Drains the core's outputs (the drive loop's inner half).
    async fn drain(&mut self) {
        while let Some(out) = self.core.poll_output() {
            let now = Instant::now();
            match out {
                Output::Transmit(t) => {
                    let Some(link) = self.link.clone() else {
                        // The core only emits while it believes the link is up.
                        warn!("transmit without a link; dropped");
                        continue;
                    };
                    match link.send(&t).await {
                        Ok(()) => {
                            if let Transmit::Binary(b) = &t {
                                self.stats.chunk_bytes_sent.fetch_add((b.len() - crate::wire::CHUNK_HEADER_LEN) as u64, Ordering::Relaxed);
                            }
                        }
                        Err(e) => {
                            warn!(error = %e, "send failed; treating the link as down");
                            self.lose_link();
                        }
                    }
                }
                Output::Read { id, offset, len } => {
                    let r = match self.sources.get(&id) {
                        Some(p) => read_at(p, offset, len).map_err(|e| format!("cannot read {}: {e}", p.display())),
                        None => Err(format!("no file for transfer {id}")),
                    };
                    match r {
                        Ok(data) => {
                            if let Err(e) = self.core.handle_data(now, id, offset, &data) {
                                warn!(error = %e, "chunk not taken");
                            }
                        }
                        Err(e) => {
                            let _ = self.core.fail_outgoing(now, id, &e);
                        }
                    }
                }
                Output::Write { id, offset, data } => {
                    let r = match &self.spool {
                        Some(s) => s.write_at(id, offset, &data).map_err(|e| e.to_string()),
                        None => Err("session spool closed".into()),
                    };
                    if let Err(e) = r {
                        warn!(error = %e, "cannot store received chunk");
                        let _ = self.core.fail_incoming(now, id, &format!("kiosk could not store the file: {e}"));
                    }
                }
                Output::Discard { id } => {
                    if let Some(s) = &self.spool {
                        s.discard(id);
                    }
                }
                Output::Event(event) => {
                    let file = match &event {
                        Event::FileReceived { id, .. } => self.spool.as_ref().map(|s| s.transfer_path(*id)),
                        Event::Delivered { id } | Event::Rejected { id, .. } => {
                            self.sources.remove(id);
                            None
                        }
                        _ => None,
                    };
                    let _ = self.notices.send(Notice::Core { event, file });
                }
            }
        }
    }
}

fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + std::time::Duration::from_secs(86_400)
}

/// The kiosk's devices.
#[derive(Debug, Clone)]
pub struct KioskServices<S, P, D> {
    /// The scanner.
    pub scanner: S,
    /// The printer.
    pub printer: P,
    /// The screen renderer.
    pub display: D,
}

/// Starts a kiosk session: the protocol driver plus a task that scans on
/// request, prints and shows pushed files and reports outcomes. Notices
/// (including `Shown` pages for the screen) reach the app on the returned
/// receiver.
pub fn spawn_kiosk<S: Scanner, P: Printer, D: Display>(limits: Limits, spool: SessionSpool, services: KioskServices<S, P, D>) -> (SessionHandle, mpsc::UnboundedReceiver<Notice>) {
    let document = DocumentLimits { max_pages: limits.max_pages, ..DocumentLimits::default() };
    let scan_limits = (limits.max_pages, limits.max_file_bytes);
    let (mut handle, mut inner) = spawn_session(Side::Kiosk, limits, spool);
    let (tx, rx) = mpsc::unbounded_channel();
    let services = Arc::new(services);
    let interview = interview::spawn(handle.clone(), services.clone(), tx.clone(), scan_limits);
    handle.interview = Some(interview.clone());
    let h = handle.clone();
    tokio::spawn(async move {
        while let Some(n) = inner.recv().await {
            if let Notice::Core { event, file } = &n {
                match event {
                    Event::ScanRequested { req, settings } => {
                        tokio::spawn(act::scan(h.clone(), services.clone(), tx.clone(), *req, *settings));
                    }
                    Event::Scan(step) => {
                        let _ = interview.send(interview::InterviewInput::Step(step.clone()));
                    }
                    Event::IncomingStarted { id, purpose: Purpose::Print, .. } if !services.printer.available() => {
                        // Refused at the offer: the file would come for nothing.
                        let _ = h.cancel(*id, crate::printer::NO_PRINTER).await;
                    }
                    Event::FileReceived { id, purpose, info, .. } => {
                        let Some(file) = file.clone() else { continue };
                        let job = act::FileJob { id: *id, purpose: *purpose, kind: info.kind, file, document };
                        tokio::spawn(act::act_on_file(h.clone(), services.clone(), tx.clone(), job));
                    }
                    _ => {}
                }
            }
            let _ = tx.send(n);
        }
    });
    (handle, rx)
}
