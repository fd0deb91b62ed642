//! Printing leaves nothing of the document behind, whatever the outcome:
//! after success, failure, timeout and cancel, every folder the kiosk's
//! cupsd writes (its spool and TempDir, cups-pdf's spool, the job cache) is
//! looked at. The cupsd runs the kiosk's own settings (deploy/cups).
//!
//! Filters and backends killed mid-job leave temporary files that cupsd
//! itself never removes while it runs: on the kiosk, cupsd exits when idle
//! and its systemd stop hook wipes them (deploy/cups/cups.service.d). The
//! test checks both halves: the job's record and file are gone at once
//! (the kiosk purges the job), and nothing at all remains after the idle
//! exit.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use support::*;
use visio_testkit::documents::{hostile_documents, real_documents};
use visio_transfer::check::ContentKind;
use visio_transfer::printer::{CupsPrinter, PrintError, Printer};

fn doc(name: &str) -> PathBuf {
    real_documents().iter().chain(hostile_documents()).find(|d| d.name == name).unwrap().path.clone()
}

/// The job's record and document file are gone when `print` returns (the
/// kiosk purges the job); after cupsd's idle exit, nothing of the job is
/// left anywhere.
async fn assert_nothing_left(cups: &mut Cups, after: &str) {
    let spool = cups.dir.path().join("spool");
    let records: Vec<_> = std::fs::read_dir(&spool)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('c') || n.starts_with('d')))
        .collect();
    assert!(records.is_empty(), "{after}: CUPS still holds the job: {records:?}");
    cups.idle_exit();
    let left = cups.job_traces();
    assert!(left.is_empty(), "{after}: files of the job left after cupsd's idle exit: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printing_leaves_nothing_in_any_cups_folder() {
    init_tracing();
    let mut cups = Cups::start();
    let printer = CupsPrinter::new(cups.uri());

    // success
    let report = within("print", printer.print(&doc("office.pdf"), ContentKind::Pdf, "visio-00000001")).await.unwrap();
    wait_for("cups-pdf output", || cups.output_of(report.job_id)).await;
    assert_nothing_left(&mut cups, "after success").await;

    // timeout: a 24-megapixel photo given a quarter of a second
    let hasty = CupsPrinter { timeout: Duration::from_millis(250), ..CupsPrinter::new(cups.uri()) };
    match within("timed-out print", hasty.print(&doc("photo-large.jpg"), ContentKind::Jpeg, "visio-00000003")).await {
        Err(PrintError::Timeout { .. }) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_nothing_left(&mut cups, "after timeout").await;

    // failure: a file CUPS's filters cannot read (the kiosk's own reader
    // refuses it first; here it goes straight to CUPS)
    match within("failed print", printer.print(&doc("truncated.pdf"), ContentKind::Pdf, "visio-00000002")).await {
        Err(PrintError::JobFailed { .. }) => {}
        other => panic!("expected the job to fail, got {other:?}"),
    }
    assert_nothing_left(&mut cups, "after failure").await;

    // cancel: the printer stops (out of paper) and the kiosk cancels the job
    cups.stop_queue();
    match within("cancelled print", printer.print(&doc("office.pdf"), ContentKind::Pdf, "visio-00000004")).await {
        Err(PrintError::PrinterStopped { .. }) => {}
        other => panic!("expected the job cancelled on a stopped printer, got {other:?}"),
    }
    assert_nothing_left(&mut cups, "after cancel").await;
}
