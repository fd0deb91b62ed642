//! End to end over a real webrtc-rs data channel between two peers on
//! loopback, through the product's documents link (`visio_media::DocumentsLink`,
//! buffer marks included): the kiosk session (SANE test backend, private
//! cupsd with a cups-pdf queue, poppler) against an agent session speaking
//! the same wire.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use support::*;
use tokio::sync::mpsc;
use visio_transfer::check::ContentKind;
use visio_transfer::display::{Display as _, MAX_PAGE_SIDE, PopplerDisplay, load_page};
use visio_transfer::inspect::{DocumentLimits, decode_image};
use visio_transfer::driver::{KioskServices, Notice, SessionHandle, spawn_kiosk, spawn_session};
use visio_media::{DataChannelHandle, DocumentsLink};
use visio_transfer::link::{LinkEvent, LinkFuture, MessageLink};
use visio_transfer::printer::CupsPrinter;
use visio_transfer::scanner::SaneScanner;
use visio_transfer::spool::{Spool, hash_file, list_files};
use visio_transfer::{
    ColorMode, Direction, ErrorCode, Event, Limits, OutcomeKind, Purpose, ScanFormat, ScanSettings,
    Side, Transmit,
};
use webrtc::data_channel::DataChannel;

/// One side under test: its handle and the notices seen so far.
struct Party {
    h: SessionHandle,
    rx: mpsc::UnboundedReceiver<Notice>,
    seen: Vec<Notice>,
}

impl Party {
    /// Waits (deadline) for a notice matching `f`, looking at past ones first.
    async fn expect<T>(&mut self, what: &str, f: impl Fn(&Notice) -> Option<T>) -> T {
        if let Some(v) = self.seen.iter().find_map(&f) {
            return v;
        }
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

struct World {
    pair: Pair,
    kiosk: Party,
    agent: Party,
    _sane: tempfile::TempDir,
    _spool: tempfile::TempDir,
    cups: Cups,
    spool_dir: PathBuf,
}

async fn world(limits: Limits, scanner_args: &[&str], wrap_agent: impl FnOnce(Arc<dyn MessageLink>) -> Arc<dyn MessageLink>) -> World {
    init_tracing();
    let sane = sane_config();
    let cups = Cups::start();
    require("pdftoppm", "poppler-utils");
    let spool_root = tempfile::Builder::new().prefix("visio-spool-").tempdir().unwrap();
    let spool = Spool::open(spool_root.path().join("spool")).unwrap();
    let session = spool.session("call-1").unwrap();
    let spool_dir = session.dir().to_path_buf();
    let mut scanner = SaneScanner::new("test:0");
    scanner.config_dir = Some(sane.path().to_path_buf());
    scanner.extra_args = scanner_args.iter().map(|s| s.to_string()).collect();
    let services = KioskServices { scanner, printer: CupsPrinter::new(cups.uri()), display: PopplerDisplay::default() };
    let (kh, krx) = spawn_kiosk(limits, session, services);
    let agent_spool = spool.session("agent-view").unwrap();
    // The agent keeps default limits: the kiosk's own checks are under test.
    let (ah, arx) = spawn_session(Side::Agent, Limits::default(), agent_spool);

    let (pair, kdc, adc) = Pair::connect().await;
    attach(&kh, kdc, |l| l).await;
    attach(&ah, adc, wrap_agent).await;
    let mut w = World { pair, kiosk: Party { h: kh, rx: krx, seen: vec![] }, agent: Party { h: ah, rx: arx, seen: vec![] }, _sane: sane, _spool: spool_root, cups, spool_dir };
    w.kiosk.expect("kiosk link up", |n| matches!(n, Notice::LinkUp).then_some(())).await;
    w.agent.expect("agent link up", |n| matches!(n, Notice::LinkUp).then_some(())).await;
    w
}

/// The product's link over a channel of the pair.
async fn link(dc: Arc<dyn DataChannel>) -> (Arc<dyn MessageLink>, mpsc::Receiver<LinkEvent>) {
    DocumentsLink::attach(DataChannelHandle::attach_webrtc(dc).await.expect("attach data channel"))
}

async fn attach(h: &SessionHandle, dc: Arc<dyn DataChannel>, wrap: impl FnOnce(Arc<dyn MessageLink>) -> Arc<dyn MessageLink>) {
    let (link, events) = link(dc).await;
    h.attach(wrap(link), events).await.unwrap();
}

fn write_temp(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

fn rejected(n: &Notice, id: u32) -> Option<(ErrorCode, String)> {
    match n {
        Notice::Core { event: Event::Rejected { id: i, code, reason, .. }, .. } if *i == id => Some((*code, reason.clone())),
        _ => None,
    }
}

fn outcome(n: &Notice, id: u32) -> Option<(OutcomeKind, Option<String>)> {
    match n {
        Notice::Core { event: Event::Outcome { id: i, outcome, reason }, .. } if *i == id => Some((*outcome, reason.clone())),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_request_yields_sane_scan_with_matching_hash() {
    let mut w = world(Limits::default(), &["--test-picture", "Grid"], |l| l).await;
    let req = w.agent.h.request_scan(ScanSettings { color: ColorMode::Gray, dpi: 150, format: ScanFormat::Pdf }).await.unwrap();
    w.agent.expect("scan started", |n| matches!(n, Notice::Core { event: Event::ScanStarted { req: r }, .. } if *r == req).then_some(())).await;
    let (kiosk_sha, kiosk_path) = w.kiosk.expect("kiosk scanned", |n| match n {
        Notice::Scanned { req: r, sha256, path, .. } if *r == req => Some((sha256.clone(), path.clone())),
        _ => None,
    }).await;
    let (agent_sha, size, file, kind) = w.agent.expect("agent received scan", |n| match n {
        Notice::Core { event: Event::FileReceived { req: Some(r), sha256, size, info, .. }, file } if *r == req => Some((sha256.clone(), *size, file.clone().unwrap(), info.kind)),
        _ => None,
    }).await;
    assert_eq!(agent_sha, kiosk_sha, "SHA-256 at the agent equals the kiosk's");
    assert_eq!(hash_file(&file).unwrap().1, agent_sha, "the agent's spool file is the scan");
    assert_eq!(hash_file(&kiosk_path).unwrap().1, kiosk_sha);
    assert_eq!(kind, visio_transfer::check::ContentKind::Pdf);
    eprintln!("grey A4 150 dpi scan (test backend, Grid) as PDF: {size} bytes");
    assert!(size < 500 * 1024, "a grey A4 page at 150 dpi must stay a few hundred KB, got {size}");

    // the session ends: the kiosk's spool holds nothing of it
    w.kiosk.h.end().await.unwrap();
    assert!(!w.spool_dir.exists() || list_files(&w.spool_dir).is_empty(), "spool wiped at session end");
    w.agent.h.end().await.unwrap();
    w.pair.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scanner_fault_reaches_the_agent() {
    let mut w = world(Limits::default(), &["--read-return-value", "SANE_STATUS_JAMMED"], |l| l).await;
    let req = w.agent.h.request_scan(ScanSettings { color: ColorMode::Color, dpi: 150, format: ScanFormat::Pdf }).await.unwrap();
    let reason = w.agent.expect("scan failed", |n| match n {
        Notice::Core { event: Event::ScanFailed { req: r, reason }, .. } if *r == req => Some(reason.clone()),
        _ => None,
    }).await;
    assert!(reason.contains("jammed"), "{reason}");
    let shown = w.kiosk.expect("the kiosk's screen told", |n| match n {
        Notice::ScanFailed { req: r, reason } if *r == req => Some(reason.clone()),
        _ => None,
    }).await;
    assert_eq!(shown, reason, "the resident and the agent read the same reason");
    w.kiosk.h.end().await.unwrap();
    w.pair.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_pdf_is_printed_by_cupsd_and_agent_told_printed() {
    let mut w = world(Limits::default(), &[], |l| l).await;
    let tmp = tempfile::tempdir().unwrap();
    let doc = write_temp(tmp.path(), "attestation.pdf", &text_pdf("Attestation de residence 2026"));
    let (id, _) = w.agent.h.push_file(&doc, "attestation.pdf", Purpose::Print, None).await.unwrap();
    let (o, reason) = w.agent.expect("print outcome", |n| outcome(n, id)).await;
    assert_eq!(o, OutcomeKind::Printed, "{reason:?}");
    let job = w.kiosk.expect("printed notice", |n| match n {
        Notice::Printed { id: i, job_id } if *i == id => Some(*job_id),
        _ => None,
    }).await;
    let out = wait_for("cups-pdf output file", || w.cups.output_of(job)).await;
    let text = wait_for("cups-pdf output text", || {
        let t = pdf_text(&out);
        t.contains("Attestation de residence 2026").then_some(t)
    }).await;
    assert!(text.contains("Attestation"));
    // CUPS was told to forget the job: no document file left in its spool
    // (its default would keep it a day), and the title does not name the document.
    let cups_spool = w.cups.dir.path().join("spool");
    let leftovers: Vec<_> = list_files(&cups_spool).into_iter().filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('d'))).collect();
    assert!(leftovers.is_empty(), "CUPS kept the document: {leftovers:?}");
    assert!(!out.to_string_lossy().contains("attestation"), "{}", out.display());

    // A stopped printer (e.g. out of paper) is reported as a failure with the reason.
    w.cups.stop_queue();
    let (id2, _) = w.agent.h.push_file(&doc, "again.pdf", Purpose::Print, None).await.unwrap();
    let (o, reason) = w.agent.expect("stopped printer outcome", |n| outcome(n, id2)).await;
    assert_eq!(o, OutcomeKind::Failed);
    let reason = reason.unwrap();
    assert!(reason.contains("printer stopped"), "{reason}");
    // the stopped job was cancelled and purged: it will not print for the next resident
    let leftovers: Vec<_> = list_files(&cups_spool).into_iter().filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('d'))).collect();
    assert!(leftovers.is_empty(), "CUPS kept the stopped job's document: {leftovers:?}");
    w.kiosk.h.end().await.unwrap();
    w.pair.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_pdf_for_display_yields_page_images() {
    let mut w = world(Limits::default(), &[], |l| l).await;
    let tmp = tempfile::tempdir().unwrap();
    let doc = write_temp(tmp.path(), "form.pdf", &text_pdf("Formulaire CERFA"));
    let (id, _) = w.agent.h.push_file(&doc, "form.pdf", Purpose::Display, None).await.unwrap();
    let (count, first) = w.kiosk.expect("pages shown", |n| match n {
        Notice::Shown { id: i, pages, first, .. } if *i == id => Some((*pages, first.clone())),
        _ => None,
    }).await;
    assert_eq!(count, 1);
    let pages = [first];
    let drawn = load_page(&pages[0], MAX_PAGE_SIDE).unwrap();
    assert_eq!(drawn.width, visio_transfer::display::DEFAULT_PAGE_WIDTH, "page 1 drawn fit to the screen's width");
    assert!(pages[0].starts_with(&w.spool_dir), "page images live in the session spool");
    let (o, _) = w.agent.expect("shown outcome", |n| outcome(n, id)).await;
    assert_eq!(o, OutcomeKind::Shown);

    // The agent drives the view over the data channel; the kiosk tells
    // what it shows, with a thumbnail.
    let view = visio_transfer::PageView { page: 1, zoom: 150, center: visio_transfer::PagePoint { x: 500, y: 200 }, pointer: Some(visio_transfer::PagePoint { x: 250, y: 120 }) };
    w.agent.h.request_view(id, view).await.unwrap();
    let wanted = w.kiosk.expect("the agent's view", |n| match n {
        Notice::Core { event: Event::ViewWanted { id: i, view }, .. } if *i == id => Some(*view),
        _ => None,
    }).await;
    assert_eq!(wanted, view);
    let thumbnail = visio_transfer::display::thumbnail_data_url(&pages[0], 200, 7000).unwrap();
    w.kiosk.h.view_shown(id, 1, wanted, Some(thumbnail.clone())).await.unwrap();
    let shown = w.agent.expect("what the kiosk shows", |n| match n {
        Notice::Core { event: Event::ViewShown { id: i, pages, view, thumbnail }, .. } if *i == id => Some((*pages, *view, thumbnail.clone())),
        _ => None,
    }).await;
    assert_eq!(shown, (1, view, Some(thumbnail)));

    // an image is decoded by the kiosk (bounded) and shown as the same pixels
    const ONE_PIXEL_PNG: &[u8] = &[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x64, 0x60, 0xf8, 0x5f, 0x0f, 0x00, 0x02, 0x87, 0x01, 0x80, 0xeb, 0x47, 0xba, 0x92, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82];
    let png_doc = write_temp(tmp.path(), "photo.png", ONE_PIXEL_PNG);
    let (id, _) = w.agent.h.push_file(&png_doc, "photo.png", Purpose::Display, None).await.unwrap();
    let img_pages = w.kiosk.expect("image shown", |n| match n {
        Notice::Shown { id: i, pages: 1, first, .. } if *i == id => Some(vec![first.clone()]),
        _ => None,
    }).await;
    let shown = load_page(&img_pages[0], MAX_PAGE_SIDE).unwrap();
    let sent = decode_image(&png_doc, ContentKind::Png, &DocumentLimits::default()).unwrap().to_rgba8();
    assert_eq!((shown.width, shown.height, shown.rgba), (1, 1, sent.into_raw()));
    let (o, _) = w.agent.expect("image shown outcome", |n| outcome(n, id)).await;
    assert_eq!(o, OutcomeKind::Shown);

    w.kiosk.h.end().await.unwrap();
    assert!(!pages[0].exists() && !img_pages[0].exists(), "page images wiped with the session");
    w.pair.close().await;
}

/// Closes its data channel once `cut_after` chunk bytes went out: a channel
/// dropped in the middle of a transfer, deterministically.
struct CutAfter {
    inner: Arc<dyn MessageLink>,
    sent: AtomicU64,
    cut_after: u64,
    cut: AtomicBool,
}

impl MessageLink for CutAfter {
    fn send<'a>(&'a self, msg: &'a Transmit) -> LinkFuture<'a> {
        Box::pin(async move {
            if let Transmit::Binary(b) = msg {
                let total = self.sent.fetch_add(b.len() as u64, Ordering::Relaxed) + b.len() as u64;
                if total > self.cut_after && !self.cut.swap(true, Ordering::Relaxed) {
                    self.inner.close().await?;
                    return Err(visio_transfer::link::LinkError("cut by the test".into()));
                }
            }
            self.inner.send(msg).await
        })
    }
    fn close(&self) -> LinkFuture<'_> {
        self.inner.close()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_cut_mid_way_resumes_without_restarting() {
    const SIZE: usize = 3 * 1024 * 1024;
    let mut w = world(Limits::default(), &[], |l| Arc::new(CutAfter { inner: l, sent: AtomicU64::new(0), cut_after: 1024 * 1024, cut: AtomicBool::new(false) })).await;
    let tmp = tempfile::tempdir().unwrap();
    let data = padded_pdf("Big document", SIZE);
    let size = data.len() as u64;
    let doc = write_temp(tmp.path(), "big.pdf", &data);
    let (id, sha) = w.agent.h.push_file(&doc, "big.pdf", Purpose::Display, None).await.unwrap();
    w.agent.expect("agent link down", |n| matches!(n, Notice::LinkDown).then_some(())).await;
    w.kiosk.expect("kiosk link down", |n| matches!(n, Notice::LinkDown).then_some(())).await;
    let sent_before = w.agent.h.stats().chunk_bytes_sent.load(Ordering::Relaxed);

    // the channel comes back: a new data channel on the same call
    let (kdc, adc) = w.pair.reopen().await;
    attach(&w.kiosk.h, kdc, |l| l).await;
    attach(&w.agent.h, adc, |l| l).await;
    let offset = w.agent.expect("resumed", |n| match n {
        Notice::Core { event: Event::Resumed { id: i, offset }, .. } if *i == id => Some(*offset),
        _ => None,
    }).await;
    w.agent.expect("delivered", |n| matches!(n, Notice::Core { event: Event::Delivered { id: i }, .. } if *i == id).then_some(())).await;
    let (got_sha, file) = w.kiosk.expect("kiosk received", |n| match n {
        Notice::Core { event: Event::FileReceived { id: i, sha256, .. }, file } if *i == id => Some((sha256.clone(), file.clone().unwrap())),
        _ => None,
    }).await;
    let sent_total = w.agent.h.stats().chunk_bytes_sent.load(Ordering::Relaxed);
    let sent_after = sent_total - sent_before;
    eprintln!("cut after {sent_before} bytes; resumed at offset {offset}; {sent_after} bytes sent after resume; file {size}");
    assert!(offset > 0, "resumed from the last acknowledged offset, not from zero");
    assert!(sent_after < size, "after the resume only the rest was sent ({sent_after} of {size})");
    assert_eq!(sent_after, size - offset, "exactly the missing bytes were sent");
    assert_eq!(got_sha, sha, "hash matches after resume");
    assert_eq!(hash_file(&file).unwrap(), (size, sha));
    w.kiosk.h.end().await.unwrap();
    w.pair.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_survives_a_new_peer_connection() {
    // The network drops: the whole peer connection goes, the call comes back
    // as a new one (ICE restart or new call), and the transfer resumes on it.
    let mut w = world(Limits::default(), &[], |l| Arc::new(CutAfter { inner: l, sent: AtomicU64::new(0), cut_after: 700 * 1024, cut: AtomicBool::new(false) })).await;
    let tmp = tempfile::tempdir().unwrap();
    let data = padded_pdf("Across connections", 2 * 1024 * 1024);
    let size = data.len() as u64;
    let doc = write_temp(tmp.path(), "doc.pdf", &data);
    let (id, sha) = w.agent.h.push_file(&doc, "doc.pdf", Purpose::Display, None).await.unwrap();
    w.agent.expect("agent link down", |n| matches!(n, Notice::LinkDown).then_some(())).await;
    w.pair.shutdown().await;
    w.kiosk.expect("kiosk link down", |n| matches!(n, Notice::LinkDown).then_some(())).await;
    let (pair, kdc, adc) = Pair::connect().await;
    drop(std::mem::replace(&mut w.pair, pair));
    attach(&w.kiosk.h, kdc, |l| l).await;
    attach(&w.agent.h, adc, |l| l).await;
    let offset = w.agent.expect("resumed", |n| match n {
        Notice::Core { event: Event::Resumed { id: i, offset }, .. } if *i == id => Some(*offset),
        _ => None,
    }).await;
    let got = w.kiosk.expect("kiosk received", |n| match n {
        Notice::Core { event: Event::FileReceived { id: i, sha256, size: s, .. }, .. } if *i == id => Some((sha256.clone(), *s)),
        _ => None,
    }).await;
    assert!(offset > 0, "resumed at {offset}, not from zero");
    assert_eq!(got, (sha, size));
    w.kiosk.h.end().await.unwrap();
    w.pair.close().await;
}

/// Flips one byte in the data of the first chunk it sends.
struct Corrupt {
    inner: Arc<dyn MessageLink>,
    done: AtomicBool,
}

impl MessageLink for Corrupt {
    fn send<'a>(&'a self, msg: &'a Transmit) -> LinkFuture<'a> {
        Box::pin(async move {
            if let Transmit::Binary(b) = msg
                && !self.done.swap(true, Ordering::Relaxed)
            {
                let mut bad = b.clone();
                let last = bad.len() - 1;
                bad[last] ^= 0x5A;
                return self.inner.send(&Transmit::Binary(bad)).await;
            }
            self.inner.send(msg).await
        })
    }
    fn close(&self) -> LinkFuture<'_> {
        self.inner.close()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_clear_and_the_session_goes_on() {
    let limits = Limits { max_file_bytes: 1024 * 1024, ..Limits::default() };
    let mut w = world(limits, &[], |l| Arc::new(Corrupt { inner: l, done: AtomicBool::new(false) })).await;
    let tmp = tempfile::tempdir().unwrap();

    // 1. a corrupted chunk (the first chunk sent is altered on the way)
    let good = write_temp(tmp.path(), "good.pdf", &padded_pdf("Corrupted on the way", 100_000));
    let (id, _) = w.agent.h.push_file(&good, "good.pdf", Purpose::Display, None).await.unwrap();
    let (code, reason) = w.agent.expect("hash mismatch refusal", |n| rejected(n, id)).await;
    assert_eq!(code, ErrorCode::HashMismatch, "{reason}");
    assert!(reason.contains("SHA-256"), "{reason}");

    // 2. oversized: refused at the offer, before any byte moves
    let big = write_temp(tmp.path(), "big.pdf", &padded_pdf("Too big", 2 * 1024 * 1024));
    let (id, _) = w.agent.h.push_file(&big, "big.pdf", Purpose::Print, None).await.unwrap();
    let (code, reason) = w.agent.expect("too large refusal", |n| rejected(n, id)).await;
    assert_eq!(code, ErrorCode::TooLarge, "{reason}");
    assert!(reason.contains("limit"), "{reason}");

    // 3. not PDF/PNG/JPEG, whatever the name says
    let exe = write_temp(tmp.path(), "invoice.pdf", b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0 not a document at all");
    let (id, _) = w.agent.h.push_file(&exe, "invoice.pdf", Purpose::Print, None).await.unwrap();
    let (code, reason) = w.agent.expect("unsupported type refusal", |n| rejected(n, id)).await;
    assert_eq!(code, ErrorCode::UnsupportedType, "{reason}");
    assert!(reason.contains("not a PDF, PNG or JPEG"), "{reason}");

    // 4. a path for a name
    let (id, _) = w.agent.h.push_file(&good, "../../etc/passwd", Purpose::Print, None).await.unwrap();
    let (code, reason) = w.agent.expect("bad name refusal", |n| rejected(n, id)).await;
    assert_eq!(code, ErrorCode::BadName, "{reason}");
    assert!(reason.contains("path separator"), "{reason}");
    assert!(!Path::new("/etc/passwd.pdf").exists());

    // the session goes on: a good transfer still works
    let (id, sha) = w.agent.h.push_file(&good, "good.pdf", Purpose::Display, None).await.unwrap();
    let (o, r) = w.agent.expect("shown after refusals", |n| outcome(n, id)).await;
    assert_eq!(o, OutcomeKind::Shown, "{r:?}");
    let got = w.kiosk.expect("kiosk got the good file", |n| match n {
        Notice::Core { event: Event::FileReceived { id: i, sha256, .. }, .. } if *i == id => Some(sha256.clone()),
        _ => None,
    }).await;
    assert_eq!(got, sha);
    // refused files left nothing behind; only the good transfer and its page image remain
    let files = list_files(&w.spool_dir);
    assert_eq!(files.len(), 2, "{files:?}");
    // the kiosk side saw the refusals as its own (not by peer)
    assert!(w.kiosk.seen.iter().any(|n| matches!(n, Notice::Core { event: Event::Rejected { direction: Direction::Incoming, by_peer: false, .. }, .. })));
    w.kiosk.h.end().await.unwrap();
    w.pair.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_events_reach_the_driver_in_order() {
    // The link alone: Open first, then messages in order, Closed at the end.
    init_tracing();
    let (pair, kdc, adc) = Pair::connect().await;
    let (kl, mut kev) = link(kdc).await;
    let (_al, mut aev) = link(adc).await;
    assert_eq!(within("kiosk open", kev.recv()).await, Some(LinkEvent::Open));
    assert_eq!(within("agent open", aev.recv()).await, Some(LinkEvent::Open));
    kl.send(&Transmit::Text("{\"type\":\"scan_started\",\"req\":1}".into())).await.unwrap();
    kl.send(&Transmit::Binary(vec![1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 42])).await.unwrap();
    assert_eq!(within("text", aev.recv()).await, Some(LinkEvent::Text("{\"type\":\"scan_started\",\"req\":1}".into())));
    assert_eq!(within("binary", aev.recv()).await, Some(LinkEvent::Binary(vec![1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 42])));
    kl.close().await.unwrap();
    let closed = within("closed", async {
        loop {
            match aev.recv().await {
                Some(LinkEvent::Closed) | None => return true,
                _ => {}
            }
        }
    })
    .await;
    assert!(closed);
    pair.close().await;
}

/// A hostile document over the real channel: refused after the kiosk read
/// it, with the reason in French then English for the agent, the printer
/// not blamed, and the next document (an office PDF whose page tree sits in
/// a compressed object stream, refused by the old byte scan) printed and
/// shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_document_refused_in_both_languages_and_the_next_one_works() {
    use visio_testkit::documents::{hostile_documents, real_documents};
    let mut w = world(Limits::default(), &[], |l| l).await;
    let huge = hostile_documents().iter().find(|d| d.name == "huge-pages.pdf").unwrap();
    let (id, _) = w.agent.h.push_file(&huge.path, "affiche.pdf", Purpose::Print, None).await.unwrap();
    let (o, reason) = w.agent.expect("refusal outcome", |n| outcome(n, id)).await;
    assert_eq!(o, OutcomeKind::Failed);
    let reason = reason.unwrap();
    assert!(reason.starts_with("la page 1 mesure 5080 × 5080 mm") && reason.contains("page 1 measures 5080 × 5080 mm"), "{reason}");
    let device_fault = w.kiosk.expect("kiosk told", |n| match n {
        Notice::ActionFailed { id: i, device_fault, .. } if *i == id => Some(*device_fault),
        _ => None,
    }).await;
    assert!(!device_fault, "a bad document does not make the printer faulty");

    let objstm = real_documents().iter().find(|d| d.name == "qpdf-object-streams.pdf").unwrap();
    let (id, _) = w.agent.h.push_file(&objstm.path, "attestation.pdf", Purpose::Print, None).await.unwrap();
    let (o, reason) = w.agent.expect("print outcome", |n| outcome(n, id)).await;
    assert_eq!(o, OutcomeKind::Printed, "{reason:?}");
    let job = w.kiosk.expect("printed", |n| match n {
        Notice::Printed { id: i, job_id } if *i == id => Some(*job_id),
        _ => None,
    }).await;
    let out = wait_for("cups-pdf output file", || w.cups.output_of(job)).await;
    // both pages printed (its subset fonts lose their text map in cups-pdf's
    // PostScript route: tests/documents.rs checks the ink instead)
    wait_for("printed pages", || (visio_testkit::documents::gs_pages_if_whole(&out) == Some(2)).then_some(())).await;
    let (id, _) = w.agent.h.push_file(&objstm.path, "attestation.pdf", Purpose::Display, None).await.unwrap();
    let (pages, source, kind) = w.kiosk.expect("shown", |n| match n {
        Notice::Shown { id: i, pages, source, kind, .. } if *i == id => Some((*pages, source.clone(), *kind)),
        _ => None,
    }).await;
    assert_eq!(pages, 2);
    // Page 2 is drawn when it is shown, at the screen's width.
    let display = PopplerDisplay::default();
    let second = display.render_page(&source, kind, 2, &w.spool_dir, "page-2").await.unwrap();
    assert_eq!(load_page(&second, MAX_PAGE_SIDE).unwrap().width, visio_transfer::display::DEFAULT_PAGE_WIDTH);
    assert!(display.render_page(&source, kind, 3, &w.spool_dir, "page-3").await.is_err(), "no page 3");
    assert!(!w.spool_dir.join("page-3-p3.png").exists());
    w.kiosk.h.end().await.unwrap();
    assert!(!w.spool_dir.exists() || list_files(&w.spool_dir).is_empty(), "spool wiped at session end");
    w.pair.close().await;
}

/// A kiosk without a printer.
struct NoPrinter;

impl visio_transfer::printer::Printer for NoPrinter {
    async fn print(&self, _: &Path, _: ContentKind, _: &str) -> Result<visio_transfer::printer::PrintReport, visio_transfer::printer::PrintError> {
        panic!("a kiosk without a printer was asked to print");
    }
    fn available(&self) -> bool {
        false
    }
}

/// Printing on a kiosk without a printer is refused at the offer, in French
/// and English, long before the whole file is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn print_refused_at_the_offer_on_a_kiosk_without_printer() {
    init_tracing();
    let sane = sane_config();
    let spool_root = tempfile::tempdir().unwrap();
    let spool = Spool::open(spool_root.path().join("spool")).unwrap();
    let mut scanner = SaneScanner::new("test:0");
    scanner.config_dir = Some(sane.path().to_path_buf());
    let services = KioskServices { scanner, printer: NoPrinter, display: PopplerDisplay::default() };
    let (kh, krx) = spawn_kiosk(Limits::default(), spool.session("call-1").unwrap(), services);
    let (ah, arx) = spawn_session(Side::Agent, Limits::default(), spool.session("agent").unwrap());
    let (pair, kdc, adc) = Pair::connect().await;
    attach(&kh, kdc, |l| l).await;
    attach(&ah, adc, |l| l).await;
    let mut agent = Party { h: ah, rx: arx, seen: vec![] };
    let _kiosk = Party { h: kh.clone(), rx: krx, seen: vec![] };
    agent.expect("agent link up", |n| matches!(n, Notice::LinkUp).then_some(())).await;
    // 8 MB: many windows' worth; the refusal must come before it is through
    let tmp = tempfile::tempdir().unwrap();
    let doc = write_temp(tmp.path(), "big.pdf", &padded_pdf("Attestation", 8_000_000));
    let (id, _) = agent.h.push_file(&doc, "big.pdf", Purpose::Print, None).await.unwrap();
    let (code, reason) = agent.expect("refusal", |n| rejected(n, id)).await;
    assert_eq!(code, ErrorCode::Cancelled);
    assert_eq!(reason, visio_transfer::printer::NO_PRINTER);
    assert!(agent.h.stats().chunk_bytes_sent.load(Ordering::Relaxed) < 1_000_000, "sent {} bytes", agent.h.stats().chunk_bytes_sent.load(Ordering::Relaxed));
    kh.end().await.unwrap();
    pair.close().await;
}
