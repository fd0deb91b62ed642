//! Driverless devices: an IPP Everywhere printer behind a CUPS queue made
//! with `lpadmin -m everywhere` (no model driver), emulated by CUPS's own
//! `ippeveprinter`. The kiosk prints through it, CUPS keeps nothing, and a
//! tray running out of paper is the printer's fault in the kiosk's probe
//! and in the hub's fleet view, although the CUPS queue itself says all is
//! well while it has no job: in the admin console too, in headless Chromium,
//! and still there once the kiosk has gone offline.
//!
//! The tests run side by side, each with its own emulator and cupsd: what
//! made them fail now and then was printing before CUPS had finished the
//! driverless queue (see `Cups::add_driverless_queue`).

use visio_tests::World;
use visio_kiosk::visit::probe::printer_fault;
use visio_protocol::DeviceState;
use visio_testkit::browser::Browser;
use visio_testkit::cups::Cups;
use visio_testkit::hub::admin_key;
use visio_testkit::ippeve::IppEvePrinter;
use visio_testkit::page::{click, page_until, type_into};
use visio_testkit::pdf::{pdf_text, text_pdf};
use visio_testkit::wait::{eventually, within};
use visio_transfer::check::ContentKind;
use visio_transfer::printer::{CupsPrinter, PrintError, Printer};

fn probe(printer: &CupsPrinter) -> Option<String> {
    printer_fault(printer.queue_state_blocking())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driverless_printer_prints_the_kiosks_pdf_and_reports_its_empty_tray() {
    let device = IppEvePrinter::start();
    let mut cups = Cups::start();
    let printer = CupsPrinter::new(cups.add_driverless_queue("accueil", &device.uri()));
    let ready = tokio::task::spawn_blocking({
        let printer = printer.clone();
        move || probe(&printer)
    });
    assert_eq!(ready.await.unwrap(), None, "a printer with paper is ready");

    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("attestation.pdf");
    std::fs::write(&pdf, text_pdf("Attestation de droits CAF")).unwrap();
    let report = within("print", printer.print(&pdf, ContentKind::Pdf, "visio-00000001")).await.unwrap();

    // What reached the printer is the document, still a PDF (the printer
    // takes PDF, so CUPS passes it on rather than rasterising it).
    let received = device.received();
    assert_eq!(received.len(), 1, "one document reached the printer: {received:?}");
    assert_eq!(received[0].extension().and_then(|x| x.to_str()), Some("pdf"), "{received:?}");
    assert!(std::fs::read(&received[0]).unwrap().starts_with(b"%PDF-"));
    let text = pdf_text(&received[0]);
    assert!(text.contains("Attestation de droits CAF"), "printed text: {text:?}");

    // CUPS keeps nothing of it: the job was purged at once, and after
    // cupsd's idle exit no file of it is anywhere.
    let spool = std::fs::read_dir(cups.dir.path().join("spool")).unwrap().flatten().map(|e| e.path());
    let is_job_file = |p: &std::path::PathBuf| p.is_file() && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('c') || n.starts_with('d'));
    let records: Vec<_> = spool.filter(is_job_file).collect();
    assert!(records.is_empty(), "CUPS still holds job {}: {records:?}", report.job_id);
    cups.idle_exit();
    assert_eq!(cups.job_traces(), Vec::<std::path::PathBuf>::new(), "files of the job left after cupsd's idle exit");

    // The tray runs out: the printer says so, its idle CUPS queue does not.
    device.load_paper(0).await;
    let fault = tokio::task::spawn_blocking({
        let printer = printer.clone();
        move || probe(&printer)
    });
    let fault = fault.await.unwrap().expect("an empty tray is a fault");
    assert!(fault.contains("media-empty"), "{fault}");
    // Paper loaded again: ready again.
    device.load_paper(250).await;
    let printer2 = printer.clone();
    assert_eq!(tokio::task::spawn_blocking(move || probe(&printer2)).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driverless_printer_out_of_paper_shows_in_the_fleet_view() {
    // Faults found within 5 s of a heartbeat wait for the next regular one
    // (kiosk-core's rate limit): a 1 s period keeps the test short.
    let mut settings = visio_hub::server::Settings::new(std::sync::Arc::new(visio_config::Catalogue::demo()));
    settings.heartbeat_seconds = 1;
    let world = World::start_with(settings).await;
    let token = world.hub.admin(&admin_key(1));
    let device = IppEvePrinter::start();
    world.cups.as_ref().unwrap().add_driverless_queue("accueil", &device.uri());
    device.load_paper(0).await;
    let mut kiosk_file: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&world.config).unwrap()).unwrap();
    kiosk_file["devices"]["printer"] = "accueil".into();
    std::fs::write(&world.config, kiosk_file.to_string()).unwrap();

    let mut kiosk = world.kiosk("demo");
    kiosk.event("queued").await;
    let printer = eventually("the empty tray in the fleet view", || async {
        let row = world.hub.fleet(&token).await.kiosks.into_iter().find(|k| k.kiosk_id.as_str() == "demo-kiosk")?;
        let printer = row.devices?.printer;
        (printer.state == DeviceState::Error).then_some(printer)
    })
    .await;
    let detail = printer.detail.unwrap_or_default();
    assert!(detail.contains("media-empty"), "{detail}");

    // And in the admin console, as the region's IT team sees it.
    world.hub.add_console_account("claire", "mot de passe de Claire", visio_hub::roles::Role::Admin);
    let browser = Browser::launch().await;
    browser.client.goto(&world.hub.url("/admin/")).await.unwrap();
    type_into(&browser, "login-user", "claire").await;
    type_into(&browser, "login-password", "mot de passe de Claire").await;
    click(&browser, "login-submit").await;
    page_until(
        &browser,
        "the kiosk's device fault in the fleet",
        "const r = document.querySelector('[data-testid=fleet-row][data-kiosk=demo-kiosk]');
         return r && r.textContent.includes('périphérique en défaut');",
    )
    .await;
    browser.client.goto(&world.hub.url("/admin/#/kiosk/demo-kiosk")).await.unwrap();
    let row = page_until(
        &browser,
        "the printer's row on the kiosk's page",
        "const e = document.querySelector('[data-testid=device-printer]');
         const t = e && e.offsetParent && e.textContent.trim();
         return (t && t.includes('media-empty')) ? t : null;",
    )
    .await;
    assert!(row.as_str().is_some_and(|t| t.contains("en défaut")), "printer row: {row}");

    // The kiosk goes offline (its process killed, as by a power cut): the
    // fleet says so, with the fault of the printer it last probed.
    kiosk.child.kill().await.unwrap();
    browser.client.goto(&world.hub.url("/admin/#/fleet")).await.unwrap();
    page_until(
        &browser,
        "the kiosk offline with its printer's fault in the fleet",
        "const r = document.querySelector('[data-testid=fleet-row][data-kiosk=demo-kiosk]');
         return r && r.textContent.includes('hors ligne') && r.textContent.includes('périphérique en défaut');",
    )
    .await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_opens_a_driverless_scanner_and_notices_when_it_is_gone() {
    let device = visio_testkit::escl::EsclScanner::start().await;
    let sane = device.sane_config();
    let mut scanner = visio_transfer::scanner::SaneScanner::new(device.device());
    scanner.config_dir = Some(sane.path().to_path_buf());
    assert_eq!(visio_kiosk::visit::probe::scanner_fault(&scanner).await, None, "the scanner opens: {:#?}", device.requests());
    assert!(device.requests().iter().any(|r| r.starts_with("GET /eSCL/ScannerCapabilities")), "{:#?}", device.requests());
    assert!(device.jobs().is_empty(), "the probe scans nothing");
    device.stop().await;
    let fault = visio_kiosk::visit::probe::scanner_fault(&scanner).await.expect("an unreachable scanner is a fault");
    assert!(fault.starts_with("scanner not ready"), "{fault}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driverless_printer_out_of_paper_during_a_print_fails_it_without_waiting() {
    // The printer takes the job, finds its tray empty and waits for paper
    // (as long as the test's process lives).
    let dir = tempfile::tempdir().unwrap();
    let command = dir.path().join("out-of-paper.sh");
    std::fs::write(&command, "#!/bin/sh\necho 'STATE: +media-empty,media-needed' >&2\nwhile kill -0 $PPID 2>/dev/null; do sleep 0.2; done\n").unwrap();
    std::fs::set_permissions(&command, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let device = IppEvePrinter::start_with_command(&command);
    let cups = Cups::start();
    let printer = CupsPrinter::new(cups.add_driverless_queue("accueil", &device.uri()));
    let pdf = dir.path().join("formulaire.pdf");
    std::fs::write(&pdf, text_pdf("Formulaire CERFA")).unwrap();

    // The agent is told at once (within the test's 60 s, not the print's
    // 2-minute timeout), as the printer's fault. (The job "aborted" now and
    // then came from printing before the queue was ready, see
    // `Cups::add_driverless_queue`, not from the printer.)
    match within("a print the printer cannot finish", printer.print(&pdf, ContentKind::Pdf, "visio-00000002")).await {
        Err(e @ PrintError::PrinterStopped { .. }) => assert!(e.to_string().contains("media-empty"), "{e}"),
        other => panic!("expected the printer's fault, got {other:?}"),
    }
    // The job is gone from CUPS: it will not print for the next resident.
    // Its document at once; its control record (`c…`: the job's attributes,
    // no content) once the job's backend has exited, which under load was
    // not yet the case when the print returned (1 run in about 100).
    let held = |first: char| {
        let spool = std::fs::read_dir(cups.dir.path().join("spool")).unwrap().flatten().map(|e| e.path());
        spool.filter(|p| p.is_file() && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(first))).collect::<Vec<_>>()
    };
    assert_eq!(held('d'), Vec::<std::path::PathBuf>::new(), "CUPS still holds the document");
    eventually("CUPS forgetting the job", || async { held('c').is_empty().then_some(()) }).await;
}
