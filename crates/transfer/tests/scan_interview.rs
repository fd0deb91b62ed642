//! The scan interview end to end over a real webrtc-rs data channel and the
//! product's documents link: SANE's test backend scans page after page on
//! the kiosk, the agent sees each page's preview, redoes one, and gets one
//! PDF of every page; with the service's consent option the resident
//! decides before anything leaves the kiosk. With the test backend's
//! document feeder, one request scans every page it holds.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use support::*;
use tokio::sync::mpsc;
use visio_media::{DataChannelHandle, DocumentsLink};
use visio_transfer::check::ContentKind;
use visio_transfer::display::PopplerDisplay;
use visio_transfer::driver::{KioskServices, Notice, SessionHandle, spawn_kiosk, spawn_session};
use visio_transfer::inspect::{DocumentLimits, inspect};
use visio_transfer::interview::{InterviewNotice, PREVIEW_WIDTH};
use visio_transfer::scanner::{SaneScanner, Scanner as _};
use visio_transfer::spool::{Spool, hash_file, list_files};
use visio_transfer::{ColorMode, Event, Limits, Purpose, ScanSettings, ScanStep, Side};
use webrtc::data_channel::DataChannel;

struct Party {
    h: SessionHandle,
    rx: mpsc::UnboundedReceiver<Notice>,
    seen: Vec<Notice>,
}

impl Party {
    /// Waits (deadline) for a new notice matching `f`; earlier notices are
    /// consumed, so each wait is for something after the last one.
    async fn next<T>(&mut self, what: &str, f: impl Fn(&Notice) -> Option<T>) -> T {
        within(what, async {
            loop {
                let n = self.rx.recv().await.unwrap_or_else(|| panic!("session ended while waiting for {what}"));
                let hit = f(&n);
                self.seen.push(n);
                if let Some(v) = hit {
                    return v;
                }
            }
        })
        .await
    }
}

/// A printer the interview never uses.
struct NoPrinter;

impl visio_transfer::printer::Printer for NoPrinter {
    async fn print(&self, _: &Path, _: ContentKind, _: &str) -> Result<visio_transfer::printer::PrintReport, visio_transfer::printer::PrintError> {
        panic!("the scan interview printed");
    }
    fn available(&self) -> bool {
        false
    }
}

struct World {
    pair: Pair,
    kiosk: Party,
    agent: Party,
    kiosk_dir: PathBuf,
    _sane: tempfile::TempDir,
    _spool: tempfile::TempDir,
}

async fn world() -> World {
    world_with(Limits::default(), &["--test-picture", "Grid"]).await
}

async fn world_with(limits: Limits, scanner_args: &[&str]) -> World {
    init_tracing();
    let sane = sane_config();
    let root = tempfile::tempdir().unwrap();
    let spool = Spool::open(root.path().join("spool")).unwrap();
    let session = spool.session("visit").unwrap();
    let kiosk_dir = session.dir().to_path_buf();
    let mut scanner = SaneScanner::new("test:0");
    scanner.config_dir = Some(sane.path().to_path_buf());
    scanner.extra_args = scanner_args.iter().map(|a| a.to_string()).collect();
    let (kh, krx) = spawn_kiosk(limits, session, KioskServices { scanner, printer: NoPrinter, display: PopplerDisplay::default() });
    let (ah, arx) = spawn_session(Side::Agent, Limits::default(), spool.session("agent").unwrap());
    let (pair, kdc, adc) = Pair::connect().await;
    attach(&kh, kdc).await;
    attach(&ah, adc).await;
    let mut w = World { pair, kiosk: Party { h: kh, rx: krx, seen: vec![] }, agent: Party { h: ah, rx: arx, seen: vec![] }, kiosk_dir, _sane: sane, _spool: root };
    w.kiosk.next("kiosk link up", |n| matches!(n, Notice::LinkUp).then_some(())).await;
    w.agent.next("agent link up", |n| matches!(n, Notice::LinkUp).then_some(())).await;
    w
}

async fn attach(h: &SessionHandle, dc: Arc<dyn DataChannel>) {
    let (link, events) = DocumentsLink::attach(DataChannelHandle::attach_webrtc(dc).await.expect("attach data channel"));
    h.attach(link, events).await.unwrap();
}

const GREY: ScanSettings = ScanSettings { color: ColorMode::Gray, dpi: 150, format: visio_transfer::ScanFormat::Pdf };

/// The agent asks for page `page` and waits for its preview: (preview
/// transfer, page bytes, the preview file in the agent's spool).
async fn page(w: &mut World, req: u32, page: u32) -> (u32, u64, PathBuf) {
    w.agent.h.scan_page(req, page, GREY).await.unwrap();
    let (id, size) = w.agent.next("page done", |n| match n {
        Notice::Core { event: Event::Scan(ScanStep::PageDone { req: r, page: p, id, size }), .. } if *r == req && *p == page => Some((*id, *size)),
        _ => None,
    }).await;
    let file = w.agent.next("preview received", |n| match n {
        Notice::Core { event: Event::FileReceived { id: i, purpose: Purpose::ScanPreview, req: Some(r), .. }, file: Some(f) } if *i == id && *r == req => Some(f.clone()),
        _ => None,
    }).await;
    (id, size, file)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_after_pages_with_previews_and_a_redo_make_one_pdf() {
    let mut w = world().await;
    let req = w.agent.h.prepare_scan().await.unwrap();
    // The kiosk shows the instruction and scans nothing until asked.
    w.kiosk.next("instruction shown", |n| matches!(n, Notice::Interview(InterviewNotice::Place { req: r, pages: 0, feeder: true }) if *r == req).then_some(())).await;
    let (feeder, _rate) = w.agent.next("kiosk ready", |n| match n {
        Notice::Core { event: Event::Scan(ScanStep::Ready { req: r, feeder, rate }), .. } if *r == req => Some((*feeder, *rate)),
        _ => None,
    }).await;
    assert!(feeder, "SANE's test device lists an Automatic Document Feeder");
    assert!(list_files(&w.kiosk_dir).is_empty(), "nothing scanned before the agent says the paper is down");

    let (_, size1, preview1) = page(&mut w, req, 1).await;
    let (first2, _, _) = page(&mut w, req, 2).await;
    let (_, _, _) = page(&mut w, req, 3).await;
    // The agent did not like page 2: scanned again, the new one replaces it.
    let (redo2, _, _) = page(&mut w, req, 2).await;
    assert_ne!(first2, redo2);

    let preview = image::ImageReader::open(&preview1).unwrap().with_guessed_format().unwrap().decode().unwrap();
    assert!(preview.width() <= PREVIEW_WIDTH && preview.width() >= PREVIEW_WIDTH / 2, "preview {}px wide", preview.width());
    let preview_bytes = std::fs::metadata(&preview1).unwrap().len();
    assert!(preview_bytes < size1, "a preview ({preview_bytes} B) is smaller than the page ({size1} B)");
    // The kiosk holds three pages and their previews, not the replaced one.
    assert_eq!(list_files(&w.kiosk_dir).iter().filter(|p| p.extension().is_some_and(|e| e == "jpg")).count(), 6);

    w.agent.h.finish_scan(req).await.unwrap();
    let (pdf, sha) = w.agent.next("scan received", |n| match n {
        Notice::Core { event: Event::FileReceived { purpose: Purpose::Scan, req: Some(r), sha256, .. }, file: Some(f) } if *r == req => Some((f.clone(), sha256.clone())),
        _ => None,
    }).await;
    let info = inspect(&pdf, ContentKind::Pdf, &DocumentLimits::default()).await.unwrap();
    assert_eq!(info.pages, 3, "one PDF of the three pages");
    for (wpt, hpt) in &info.sizes {
        assert!((wpt - 595.0).abs() < 2.0 && (hpt - 842.0).abs() < 2.0, "A4 pages, got {wpt}x{hpt}");
    }
    assert_eq!(hash_file(&pdf).unwrap().1, sha);
    eprintln!("3-page grey 150 dpi scan: {} bytes", std::fs::metadata(&pdf).unwrap().len());
    let kiosk_pdf = w.kiosk.next("kiosk sent", |n| match n {
        Notice::Scanned { req: r, path, .. } if *r == req => Some(path.clone()),
        _ => None,
    }).await;
    // Only the PDF stays (until the visit ends): the page files are gone.
    assert_eq!(list_files(&w.kiosk_dir), vec![kiosk_pdf]);
    w.kiosk.h.end().await.unwrap();
    assert!(!w.kiosk_dir.exists() || list_files(&w.kiosk_dir).is_empty(), "spool wiped at the end");
    w.pair.close().await;
}

/// What the feeder gave the agent: the `scan_feed_done` and each page's
/// preview file, by page.
async fn feed(w: &mut World, req: u32, first: u32) -> (u32, bool, Vec<(u32, PathBuf)>) {
    w.agent.h.scan_feed(req, first, ScanSettings { dpi: 75, ..GREY }).await.unwrap();
    let (pages, limit) = w.agent.next("feeder done", |n| match n {
        Notice::Core { event: Event::Scan(ScanStep::FeedDone { req: r, pages, limit }), .. } if *r == req => Some((*pages, *limit)),
        _ => None,
    }).await;
    let mut previews = Vec::new();
    for page in first..first + pages {
        let id = w.agent.seen.iter().find_map(|n| match n {
            Notice::Core { event: Event::Scan(ScanStep::PageDone { req: r, page: p, id, .. }), .. } if *r == req && *p == page => Some(*id),
            _ => None,
        });
        let id = id.unwrap_or_else(|| panic!("page {page} was reported before scan_feed_done"));
        let preview = move |n: &Notice| match n {
            Notice::Core { event: Event::FileReceived { id: i, purpose: Purpose::ScanPreview, .. }, file: Some(f) } if *i == id => Some(f.clone()),
            _ => None,
        };
        // The preview may have come before or after scan_feed_done.
        let file = match w.agent.seen.iter().find_map(preview) {
            Some(f) => f,
            None => w.agent.next("preview received", preview).await,
        };
        previews.push((page, file));
    }
    (pages, limit, previews)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feeder_scans_every_page_in_one_go_into_the_one_pdf() {
    require("pdfinfo", "poppler-utils");
    // 12 pages at most; the test feeder holds 10 each time it is opened.
    let mut w = world_with(Limits { max_pages: 12, ..Limits::default() }, &["--test-picture", "Grid"]).await;
    let req = w.agent.h.prepare_scan().await.unwrap();
    let feeder = w.agent.next("kiosk ready", |n| match n {
        Notice::Core { event: Event::Scan(ScanStep::Ready { req: r, feeder, .. }), .. } if *r == req => Some(*feeder),
        _ => None,
    }).await;
    assert!(feeder, "the agent is told the kiosk has a feeder");
    // A cover letter on the glass, then the feeder's ten pages after it.
    page(&mut w, req, 1).await;
    let (pages, limit, previews) = feed(&mut w, req, 2).await;
    assert_eq!((pages, limit), (10, false), "the whole feeder, which then ran out");
    assert_eq!(previews.iter().map(|(p, _)| *p).collect::<Vec<_>>(), (2..=11).collect::<Vec<_>>());
    for (page, f) in &previews {
        let decoded = image::ImageReader::open(f).unwrap().with_guessed_format().unwrap().decode();
        assert!(decoded.is_ok_and(|p| p.width() <= PREVIEW_WIDTH), "page {page}'s preview");
    }
    // Loaded again: one page left before the limit, and the agent hears of it.
    let (pages, limit, _) = feed(&mut w, req, 12).await;
    assert_eq!((pages, limit), (1, true));
    assert!(!w.kiosk.seen.iter().any(|n| matches!(n, Notice::ScanFailed { .. })), "{:?}", w.kiosk.seen);

    w.agent.h.finish_scan(req).await.unwrap();
    let pdf = w.agent.next("scan received", |n| match n {
        Notice::Core { event: Event::FileReceived { purpose: Purpose::Scan, req: Some(r), .. }, file: Some(f) } if *r == req => Some(f.clone()),
        _ => None,
    }).await;
    let info = std::process::Command::new("pdfinfo").arg(&pdf).output().unwrap();
    let info = String::from_utf8_lossy(&info.stdout).into_owned();
    assert!(info.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["Pages:", "12"]), "one PDF of the 12 pages:\n{info}");
    w.kiosk.next("kiosk sent", |n| matches!(n, Notice::Scanned { req: r, .. } if *r == req).then_some(())).await;
    w.kiosk.h.end().await.unwrap();
    assert!(!w.kiosk_dir.exists() || list_files(&w.kiosk_dir).is_empty(), "spool wiped at the end");
    w.pair.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feeder_stops_where_the_pdf_would_be_too_large_to_send() {
    // One page as the feeder makes it (the test picture is the same on every page).
    let sane = sane_config();
    let mut one = SaneScanner::new("test:0");
    one.config_dir = Some(sane.path().to_path_buf());
    one.extra_args = vec!["--test-picture".into(), "Grid".into()];
    let probe = tempfile::tempdir().unwrap();
    let page_bytes = within("one page", one.scan(ScanSettings { dpi: 75, format: visio_transfer::ScanFormat::Jpeg, ..GREY }, probe.path(), "one")).await.unwrap().size;
    // Room for three and a half pages.
    let mut w = world_with(Limits { max_file_bytes: page_bytes * 7 / 2, ..Limits::default() }, &["--test-picture", "Grid"]).await;
    let req = w.agent.h.prepare_scan().await.unwrap();
    w.agent.next("kiosk ready", |n| matches!(n, Notice::Core { event: Event::Scan(ScanStep::Ready { feeder: true, .. }), .. }).then_some(())).await;
    let (pages, limit, _) = feed(&mut w, req, 1).await;
    assert_eq!((pages, limit), (3, true), "pages of {page_bytes} B under a limit of {} B", page_bytes * 7 / 2);
    // The dropped pages are gone: three pages and their previews are left.
    assert_eq!(list_files(&w.kiosk_dir).len(), 6, "{:?}", list_files(&w.kiosk_dir));
    w.agent.h.finish_scan(req).await.unwrap();
    w.agent.next("scan received", |n| matches!(n, Notice::Core { event: Event::FileReceived { purpose: Purpose::Scan, .. }, .. }).then_some(())).await;
    w.kiosk.h.end().await.unwrap();
    w.pair.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_feeder_is_told_to_the_agent_and_is_no_scanner_fault() {
    // The test backend's way to report an empty feeder on the first page.
    let mut w = world_with(Limits::default(), &["--read-return-value", "SANE_STATUS_NO_DOCS"]).await;
    let req = w.agent.h.prepare_scan().await.unwrap();
    w.agent.next("kiosk ready", |n| matches!(n, Notice::Core { event: Event::Scan(ScanStep::Ready { feeder: true, .. }), .. }).then_some(())).await;
    let (pages, limit, _) = feed(&mut w, req, 1).await;
    assert_eq!((pages, limit), (0, false));
    assert!(!w.agent.seen.iter().any(|n| matches!(n, Notice::Core { event: Event::ScanFailed { .. }, .. })), "{:?}", w.agent.seen);
    // The kiosk's screen keeps the instruction; the fleet hears of no fault.
    w.kiosk.next("instruction again", |n| matches!(n, Notice::Interview(InterviewNotice::Place { pages: 0, .. })).then_some(())).await;
    assert!(!w.kiosk.seen.iter().any(|n| matches!(n, Notice::ScanFailed { .. })), "{:?}", w.kiosk.seen);
    assert!(list_files(&w.kiosk_dir).is_empty(), "nothing left of the empty batch: {:?}", list_files(&w.kiosk_dir));
    w.kiosk.h.end().await.unwrap();
    w.pair.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_consent_nothing_leaves_before_the_resident_agrees() {
    let mut w = world().await;
    w.kiosk.h.require_scan_consent(true).unwrap();
    let req = w.agent.h.prepare_scan().await.unwrap();
    let feeder = w.agent.next("kiosk ready", |n| match n {
        Notice::Core { event: Event::Scan(ScanStep::Ready { feeder, .. }), .. } => Some(*feeder),
        _ => None,
    }).await;
    assert!(!feeder, "a service that asks the resident goes page by page");
    // Finishing before any page: the agent is told; the scanner is not at fault.
    w.agent.h.finish_scan(req).await.unwrap();
    let reason = w.agent.next("nothing to finish", |n| match n {
        Notice::Core { event: Event::ScanFailed { req: r, reason }, .. } if *r == req => Some(reason.clone()),
        _ => None,
    }).await;
    assert_eq!(reason, "no page is scanned yet");

    w.agent.h.scan_page(req, 1, GREY).await.unwrap();
    let preview = w.kiosk.next("consent asked", |n| match n {
        Notice::Interview(InterviewNotice::Consent { req: r, page: 1, preview }) if *r == req => Some(preview.clone()),
        _ => None,
    }).await;
    assert!(image::open(&preview).is_ok(), "the resident sees the page");
    assert!(!w.kiosk.seen.iter().any(|n| matches!(n, Notice::ScanFailed { .. })), "no scanner fault for the agent's early finish");
    // The resident says no: the agent is told, and no file came.
    w.kiosk.h.scan_consent(req, 1, false).unwrap();
    w.agent.next("declined", |n| matches!(n, Notice::Core { event: Event::Scan(ScanStep::Declined { page: 1, .. }), .. }).then_some(())).await;
    assert!(!w.agent.seen.iter().any(|n| matches!(n, Notice::Core { event: Event::IncomingStarted { .. }, .. })), "no file left the kiosk");
    assert!(!preview.exists(), "the declined page is deleted");
    assert_eq!(w.agent.h.stats().chunk_bytes_received.load(std::sync::atomic::Ordering::Relaxed), 0);

    // Again, and this time yes.
    w.agent.h.scan_page(req, 1, GREY).await.unwrap();
    w.kiosk.next("consent asked again", |n| matches!(n, Notice::Interview(InterviewNotice::Consent { page: 1, .. })).then_some(())).await;
    w.kiosk.h.scan_consent(req, 1, true).unwrap();
    w.agent.next("preview", |n| matches!(n, Notice::Core { event: Event::FileReceived { purpose: Purpose::ScanPreview, .. }, .. }).then_some(())).await;

    // The agent cancels: pages dropped at the kiosk.
    w.agent.h.cancel_scan(req).await.unwrap();
    w.kiosk.next("cancelled", |n| matches!(n, Notice::Interview(InterviewNotice::Cancelled)).then_some(())).await;
    assert!(list_files(&w.kiosk_dir).iter().all(|p| p.extension().is_none_or(|e| e != "jpg")), "{:?}", list_files(&w.kiosk_dir));
    w.kiosk.h.end().await.unwrap();
    w.pair.close().await;
}
