//! The kiosk's side of a scan interview (see `core::scan` for the wire):
//! one task per visit that holds the pages scanned so far, makes each
//! page's preview, asks the resident's consent when the service wants it,
//! scans the whole document feeder when the scanner has one, and makes the
//! one PDF at the end. Pages live in the session spool, so
//! they go with it when the visit ends.
//!
//! The held pages are plain data ([`Pages`]); the task around them only
//! runs the scanner, the encoder and the PDF writer in order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::core::{CommandError, Endpoint, ScanStep};
use crate::display::Display;
use crate::driver::{DriverError, KioskServices, Notice, Reply, SessionHandle};
use crate::printer::Printer;
use crate::scanner::Scanner;
use crate::wire::{Purpose, ScanFormat, ScanSettings};

/// Widest preview sent to the agent, in pixels: enough to read a heading
/// and see a page is straight, a few tens of kilobytes on the uplink.
pub const PREVIEW_WIDTH: u32 = 600;
/// JPEG quality of previews.
const PREVIEW_QUALITY: u8 = 70;

/// What the screen needs to know of an interview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterviewNotice {
    /// Show and say where to put the paper (`pages` already held).
    Place {
        /// The interview.
        req: u32,
        /// Pages held so far.
        pages: u32,
        /// The agent may scan the whole feeder: the resident may put all
        /// the pages there.
        feeder: bool,
    },
    /// The scanner runs on page `page`.
    Scanning {
        /// Which page.
        page: u32,
    },
    /// The service asks the resident: may this page be sent?
    Consent {
        /// The interview.
        req: u32,
        /// Which page.
        page: u32,
        /// Its preview image, for the screen.
        preview: PathBuf,
    },
    /// The interview was cancelled by the agent; its pages are gone.
    Cancelled,
}

/// Inputs of the interview task.
#[derive(Debug)]
pub(crate) enum InterviewInput {
    Step(ScanStep),
    Consent { req: u32, page: u32, accept: bool },
    RequireConsent(bool),
}

/// Agent and kiosk commands of the interview, run by the driver on its core.
pub(crate) enum ScanCommand {
    Prepare(Reply<u32>),
    Page(u32, u32, ScanSettings),
    Feed(u32, u32, ScanSettings),
    Finish(u32),
    Cancel(u32),
    Ready(u32, bool),
    PageDone { req: u32, page: u32, id: u32, size: u64 },
    Declined(u32, u32),
    FeedDone { req: u32, pages: u32, limit: bool },
}

impl ScanCommand {
    pub(crate) fn apply(self, core: &mut Endpoint, now: Instant) {
        let r: Result<(), CommandError> = match self {
            ScanCommand::Prepare(reply) => {
                let _ = reply.send(core.prepare_scan(now).map_err(Into::into));
                Ok(())
            }
            ScanCommand::Page(req, page, s) => core.scan_page(now, req, page, s),
            ScanCommand::Feed(req, page, s) => core.scan_feed(now, req, page, s),
            ScanCommand::FeedDone { req, pages, limit } => core.scan_feed_done(now, req, pages, limit),
            ScanCommand::Finish(req) => core.finish_scan(now, req),
            ScanCommand::Cancel(req) => core.cancel_scan(now, req),
            ScanCommand::Ready(req, feeder) => core.scan_ready(now, req, feeder),
            ScanCommand::PageDone { req, page, id, size } => core.scan_page_done(now, req, page, id, size),
            ScanCommand::Declined(req, page) => core.scan_declined(now, req, page),
        };
        if let Err(e) = r {
            warn!(error = %e, "scan command refused");
        }
    }
}

impl SessionHandle {
    /// Agent: begins a scan interview (the kiosk shows the instruction).
    pub async fn prepare_scan(&self) -> Result<u32, DriverError> {
        self.call(|r| crate::driver::Command::Scan(ScanCommand::Prepare(r))).await
    }

    /// Agent: the paper is down; scan page `page` (again, if held).
    pub async fn scan_page(&self, req: u32, page: u32, settings: ScanSettings) -> Result<(), DriverError> {
        self.tell(crate::driver::Command::Scan(ScanCommand::Page(req, page, settings))).await
    }

    /// Agent: scan every page in the kiosk's feeder, numbered from `page`
    /// (only when `scan_ready` said it has one).
    pub async fn scan_feed(&self, req: u32, page: u32, settings: ScanSettings) -> Result<(), DriverError> {
        self.tell(crate::driver::Command::Scan(ScanCommand::Feed(req, page, settings))).await
    }

    /// Agent: the pages make one PDF; send it.
    pub async fn finish_scan(&self, req: u32) -> Result<(), DriverError> {
        self.tell(crate::driver::Command::Scan(ScanCommand::Finish(req))).await
    }

    /// Agent: drop the interview.
    pub async fn cancel_scan(&self, req: u32) -> Result<(), DriverError> {
        self.tell(crate::driver::Command::Scan(ScanCommand::Cancel(req))).await
    }

    pub(crate) async fn scan_command(&self, c: ScanCommand) -> Result<(), DriverError> {
        self.tell(crate::driver::Command::Scan(c)).await
    }

    /// Kiosk: whether the resident confirms each page before it leaves
    /// (the visit's service asks for it). Off until told.
    pub fn require_scan_consent(&self, on: bool) -> Result<(), DriverError> {
        self.interview(InterviewInput::RequireConsent(on))
    }

    /// Kiosk: the resident's answer for page `page` of interview `req`.
    pub fn scan_consent(&self, req: u32, page: u32, accept: bool) -> Result<(), DriverError> {
        self.interview(InterviewInput::Consent { req, page, accept })
    }
}

/// One scanned page: the full JPEG for the PDF and its preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The scan (JPEG).
    pub jpeg: PathBuf,
    /// Its resolution.
    pub dpi: u32,
    /// The small image for the agent (and the resident's consent).
    pub preview: PathBuf,
    /// Bytes of the scan.
    pub size: u64,
}

/// The pages of the current interview, by page number.
#[derive(Debug, Default)]
pub struct Pages {
    req: Option<u32>,
    held: BTreeMap<u32, Page>,
    /// A page waiting for the resident's answer.
    pending: Option<(u32, Page)>,
}

impl Pages {
    /// A new interview; returns the files of the previous one to delete.
    pub fn begin(&mut self, req: u32) -> Vec<PathBuf> {
        let old = self.clear();
        self.req = Some(req);
        old
    }

    /// Whether `req` is the interview in progress.
    pub fn is_current(&self, req: u32) -> bool {
        self.req == Some(req)
    }

    /// Holds `page` (replacing a page of that number); returns the files to delete.
    pub fn hold(&mut self, number: u32, page: Page) -> Vec<PathBuf> {
        self.held.insert(number, page).map(files).unwrap_or_default()
    }

    /// Puts `page` aside until the resident answers; returns a page pending
    /// before it (its files to delete).
    pub fn wait_consent(&mut self, number: u32, page: Page) -> Vec<PathBuf> {
        self.pending.replace((number, page)).map(|(_, p)| files(p)).unwrap_or_default()
    }

    /// The pending page if it is `number`.
    pub fn take_pending(&mut self, number: u32) -> Option<Page> {
        match &self.pending {
            Some((n, _)) if *n == number => self.pending.take().map(|(_, p)| p),
            _ => None,
        }
    }

    /// Pages held, in order.
    pub fn ordered(&self) -> Vec<&Page> {
        self.held.values().collect()
    }

    /// Bytes of the pages held, but page `number` (which a new scan replaces).
    pub fn bytes_without(&self, number: u32) -> u64 {
        self.held.iter().filter(|(n, _)| **n != number).map(|(_, p)| p.size).sum()
    }

    /// How many pages are held.
    pub fn count(&self) -> u32 {
        u32::try_from(self.held.len()).unwrap_or(u32::MAX)
    }

    /// Ends the interview; returns every file to delete.
    pub fn clear(&mut self) -> Vec<PathBuf> {
        self.req = None;
        let mut out: Vec<PathBuf> = std::mem::take(&mut self.held).into_values().flat_map(files).collect();
        if let Some((_, p)) = self.pending.take() {
            out.extend(files(p));
        }
        out
    }
}

fn files(p: Page) -> Vec<PathBuf> {
    vec![p.jpeg, p.preview]
}

fn remove(paths: Vec<PathBuf>) {
    for p in paths {
        let _ = std::fs::remove_file(p);
    }
}

/// Starts the visit's interview task.
pub(crate) fn spawn<S: Scanner, P: Printer, D: Display>(
    h: SessionHandle,
    services: Arc<KioskServices<S, P, D>>,
    notices: mpsc::UnboundedSender<Notice>,
    (max_pages, max_bytes): (u32, u64),
) -> mpsc::UnboundedSender<InterviewInput> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut task = Task { h, services, notices, pages: Pages::default(), consent: false, feeder: false, serial: 0, max_pages, max_bytes };
        while let Some(input) = rx.recv().await {
            task.input(input).await;
        }
        remove(task.pages.clear());
    });
    tx
}

struct Task<S, P, D> {
    h: SessionHandle,
    services: Arc<KioskServices<S, P, D>>,
    notices: mpsc::UnboundedSender<Notice>,
    pages: Pages,
    consent: bool,
    /// The current interview offers the feeder (said at `scan_ready`).
    feeder: bool,
    /// Makes every file name new (a redone page never reuses a name).
    serial: u32,
    /// The most pages an interview holds (`Limits::max_pages`).
    max_pages: u32,
    /// The most bytes of pages a feeder adds to the PDF (`Limits::max_file_bytes`).
    max_bytes: u64,
}

impl<S: Scanner, P: Printer, D: Display> Task<S, P, D> {
    /// Where to put the paper, with the pages held so far.
    fn place(&self, req: u32) {
        self.tell(InterviewNotice::Place { req, pages: self.pages.count(), feeder: self.feeder });
    }

    fn tell(&self, n: InterviewNotice) {
        let _ = self.notices.send(Notice::Interview(n));
    }

    /// The scanner or the kiosk failed: the screen and the fleet are told.
    async fn fail(&self, req: u32, reason: String) {
        let _ = self.notices.send(Notice::ScanFailed { req, reason: reason.clone() });
        let _ = self.h.scan_failed(req, reason).await;
    }

    /// The agent asked out of turn: only the agent hears of it; it says
    /// nothing about the scanner.
    async fn refuse(&self, req: u32, reason: &str) {
        let _ = self.h.scan_failed(req, reason.into()).await;
    }

    async fn input(&mut self, input: InterviewInput) {
        match input {
            InterviewInput::RequireConsent(on) => self.consent = on,
            InterviewInput::Step(ScanStep::Prepare { req }) => {
                remove(self.pages.begin(req));
                // A service that asks the resident goes page by page: each
                // page waits for a yes before the next is scanned.
                self.feeder = !self.consent && self.services.scanner.has_feeder().await;
                self.place(req);
                let _ = self.h.scan_command(ScanCommand::Ready(req, self.feeder)).await;
            }
            InterviewInput::Step(ScanStep::Page { req, page, settings }) => self.page(req, page, settings).await,
            InterviewInput::Step(ScanStep::Feed { req, page, settings }) => self.feed(req, page, settings).await,
            InterviewInput::Step(ScanStep::Finish { req }) => self.finish(req).await,
            InterviewInput::Step(ScanStep::Cancel { req }) => {
                if self.pages.is_current(req) {
                    remove(self.pages.clear());
                    self.tell(InterviewNotice::Cancelled);
                }
            }
            InterviewInput::Step(_) => {}
            InterviewInput::Consent { req, page, accept } => {
                if !self.pages.is_current(req) {
                    return;
                }
                let Some(p) = self.pages.take_pending(page) else { return };
                if accept {
                    self.send_page(req, page, p).await;
                } else {
                    info!(page, "the resident declined a page");
                    remove(files(p));
                    let _ = self.h.scan_command(ScanCommand::Declined(req, page)).await;
                    self.place(req);
                }
            }
        }
    }

    async fn page(&mut self, req: u32, page: u32, settings: ScanSettings) {
        if !self.pages.is_current(req) {
            return self.refuse(req, "no scan is being prepared: ask for a scan first").await;
        }
        let _ = self.h.scan_started(req).await;
        self.tell(InterviewNotice::Scanning { page });
        self.serial += 1;
        let stem = format!("scan-{req}-{}", self.serial);
        let settings = ScanSettings { format: ScanFormat::Jpeg, ..settings };
        let dir = self.h.spool_dir().to_path_buf();
        let out = match self.services.scanner.scan(settings, &dir, &stem).await {
            Ok(out) => out,
            Err(e) => {
                self.place(req);
                return self.fail(req, e.to_string()).await;
            }
        };
        let p = match with_preview(out, settings.dpi).await {
            Ok(p) => p,
            Err(why) => return self.fail(req, why).await,
        };
        self.scanned(req, page, p).await;
    }

    /// Every page of the feeder, from page `first` on, as if asked one by
    /// one; then `scan_feed_done`. An empty feeder is not a fault: only the
    /// agent hears of it. A jam keeps the pages scanned before it.
    async fn feed(&mut self, req: u32, first: u32, settings: ScanSettings) {
        if !self.pages.is_current(req) {
            return self.refuse(req, "no scan is being prepared: ask for a scan first").await;
        }
        if self.consent || !self.services.scanner.has_feeder().await {
            return self.refuse(req, &crate::scanner::ScanError::NoFeeder.to_string()).await;
        }
        let _ = self.h.scan_started(req).await;
        self.tell(InterviewNotice::Scanning { page: first });
        self.serial += 1;
        let stem = format!("scan-{req}-{}", self.serial);
        let settings = ScanSettings { format: ScanFormat::Jpeg, ..settings };
        let dir = self.h.spool_dir().to_path_buf();
        let max = self.max_pages.saturating_sub(first.saturating_sub(1));
        let fed = self.services.scanner.scan_feeder(settings, &dir, &stem, max).await;
        let mut limit = fed.at_limit;
        let mut count = 0;
        let mut pages = fed.pages.into_iter();
        while let Some(out) = pages.next() {
            let page = first + count;
            // The PDF must stay sendable: pages past the size limit are dropped.
            if self.pages.bytes_without(page).saturating_add(out.size) > self.max_bytes {
                info!(page, "the feeder's pages reached the size limit");
                remove(std::iter::once(out).chain(pages).map(|o| o.path).collect());
                limit = true;
                break;
            }
            count += 1;
            match with_preview(out, settings.dpi).await {
                Ok(p) => self.scanned(req, page, p).await,
                Err(why) => {
                    remove(pages.map(|o| o.path).collect());
                    return self.fail(req, why).await;
                }
            }
        }
        if let Some(e) = fed.stopped {
            self.place(req);
            return self.fail(req, e.to_string()).await;
        }
        if count == 0 {
            info!("the feeder was empty");
            self.place(req);
        }
        let _ = self.h.scan_command(ScanCommand::FeedDone { req, pages: count, limit }).await;
    }

    /// A page is scanned: held for the resident's answer, or sent.
    async fn scanned(&mut self, req: u32, page: u32, p: Page) {
        if self.consent {
            let preview = p.preview.clone();
            remove(self.pages.wait_consent(page, p));
            self.tell(InterviewNotice::Consent { req, page, preview });
        } else {
            self.send_page(req, page, p).await;
        }
    }

    async fn send_page(&mut self, req: u32, page: u32, p: Page) {
        match self.h.push_file(&p.preview, &format!("page-{page}.jpg"), Purpose::ScanPreview, Some(req)).await {
            Ok((id, _)) => {
                let size = p.size;
                remove(self.pages.hold(page, p));
                let _ = self.h.scan_command(ScanCommand::PageDone { req, page, id, size }).await;
                self.place(req);
            }
            Err(e) => {
                remove(files(p));
                self.fail(req, e.to_string()).await;
            }
        }
    }

    async fn finish(&mut self, req: u32) {
        if !self.pages.is_current(req) || self.pages.count() == 0 {
            return self.refuse(req, "no page is scanned yet").await;
        }
        let pdf = self.h.spool_dir().join(format!("scan-{req}.pdf"));
        let pages: Vec<(PathBuf, u32)> = self.pages.ordered().iter().map(|p| (p.jpeg.clone(), p.dpi)).collect();
        let target = pdf.clone();
        let made = tokio::task::spawn_blocking(move || {
            let refs: Vec<(&Path, u32)> = pages.iter().map(|(p, d)| (p.as_path(), *d)).collect();
            crate::pdf::jpegs_to_pdf(&refs, &target)
        })
        .await;
        if !matches!(made, Ok(Ok(()))) {
            let _ = std::fs::remove_file(&pdf);
            return self.fail(req, "the pages could not be put into one PDF".into()).await;
        }
        // The pages are in the PDF now; only it stays until the session ends.
        remove(self.pages.clear());
        match self.h.push_file(&pdf, &format!("scan-{req}.pdf"), Purpose::Scan, Some(req)).await {
            Ok((id, sha256)) => {
                let _ = self.notices.send(Notice::Scanned { req, id, path: pdf, sha256 });
            }
            Err(e) => self.fail(req, e.to_string()).await,
        }
    }
}

/// The scanned page with its preview (`<scan>-preview.jpg` beside it); on
/// failure both files are gone.
async fn with_preview(out: crate::scanner::ScanOutput, dpi: u32) -> Result<Page, String> {
    let mut name = out.path.file_stem().unwrap_or_default().to_os_string();
    name.push("-preview.jpg");
    let preview = out.path.with_file_name(name);
    let (src, dst) = (out.path.clone(), preview.clone());
    let made = tokio::task::spawn_blocking(move || make_preview(&src, &dst)).await.unwrap_or_else(|e| Err(e.to_string()));
    match made {
        Ok(()) => Ok(Page { jpeg: out.path, dpi, preview, size: out.size }),
        Err(why) => {
            remove(vec![out.path, preview]);
            Err(format!("the page's preview could not be made: {why}"))
        }
    }
}

/// A small JPEG of the scan for the agent's check and the resident's screen.
fn make_preview(src: &Path, dst: &Path) -> Result<(), String> {
    let img = image::ImageReader::open(src).map_err(|e| e.to_string())?.with_guessed_format().map_err(|e| e.to_string())?;
    let img = img.decode().map_err(|e| e.to_string())?;
    let small = img.thumbnail(PREVIEW_WIDTH, PREVIEW_WIDTH * 2);
    let file = std::fs::File::create(dst).map_err(|e| e.to_string())?;
    let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(std::io::BufWriter::new(file), PREVIEW_QUALITY);
    enc.encode_image(&small).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(n: &str) -> Page {
        Page { jpeg: PathBuf::from(format!("{n}.jpg")), dpi: 150, preview: PathBuf::from(format!("{n}-p.jpg")), size: 10 }
    }

    #[test]
    fn a_redone_page_replaces_the_old_one_and_pages_stay_in_order() {
        let mut pages = Pages::default();
        assert!(pages.begin(4).is_empty());
        assert!(pages.hold(2, page("b")).is_empty());
        assert!(pages.hold(1, page("a")).is_empty());
        assert_eq!(pages.hold(2, page("b2")), vec![PathBuf::from("b.jpg"), PathBuf::from("b-p.jpg")]);
        let order: Vec<_> = pages.ordered().iter().map(|p| p.jpeg.clone()).collect();
        assert_eq!(order, vec![PathBuf::from("a.jpg"), PathBuf::from("b2.jpg")]);
        assert_eq!((pages.bytes_without(9), pages.bytes_without(2)), (20, 10), "what a new page 2 would add to");
        assert!(pages.wait_consent(3, page("c")).is_empty());
        assert!(pages.take_pending(2).is_none(), "only the page asked about");
        assert_eq!(pages.wait_consent(3, page("c2")).len(), 2);
        assert_eq!(pages.clear().len(), 6, "held pages and the pending one");
        assert!(!pages.is_current(4));
    }
}
