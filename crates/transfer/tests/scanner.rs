//! The SANE shell against the real `test` backend (private SANE_CONFIG_DIR),
//! and the poppler display shell on what it produces.

mod support;

use support::*;
use visio_transfer::check::{ContentKind, check_bytes};
use visio_transfer::inspect::{DocumentLimits, inspect};
use visio_transfer::display::{Display, PopplerDisplay};
use visio_transfer::scanner::{SaneScanner, ScanError, Scanner};
use visio_transfer::{ColorMode, ScanFormat, ScanSettings};

fn scanner(sane: &tempfile::TempDir, args: &[&str]) -> SaneScanner {
    let mut s = SaneScanner::new("test:0");
    s.config_dir = Some(sane.path().to_path_buf());
    s.extra_args = args.iter().map(|a| a.to_string()).collect();
    s
}

#[tokio::test]
async fn scans_in_every_format_are_valid_and_compressed() {
    let sane = sane_config();
    require("pdftoppm", "poppler-utils");
    let out = tempfile::tempdir().unwrap();
    let s = scanner(&sane, &["--test-picture", "Grid"]);
    for (format, kind) in [(ScanFormat::Pdf, ContentKind::Pdf), (ScanFormat::Jpeg, ContentKind::Jpeg), (ScanFormat::Png, ContentKind::Png)] {
        let settings = ScanSettings { color: ColorMode::Gray, dpi: 150, format };
        let scan = within("scan", s.scan(settings, out.path(), &format!("{format:?}"))).await.unwrap();
        assert_eq!(scan.kind, kind);
        let bytes = std::fs::read(&scan.path).unwrap();
        assert_eq!(bytes.len() as u64, scan.size);
        // what the kiosk sends passes the receiver's own checks
        let info = check_bytes(&bytes).unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_eq!(info.kind, kind);
        let read = inspect(&scan.path, kind, &DocumentLimits::default()).await.unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_eq!((read.kind, read.pages), (kind, 1));
        eprintln!("grey A4 150 dpi Grid as {format:?}: {} bytes", scan.size);
        assert!(scan.size < 500 * 1024, "{format:?} scan is {} bytes", scan.size);
    }
    // our JPEG-in-PDF wrapper renders in poppler, at A4 proportions
    let pdf = out.path().join("Pdf.pdf");
    let pages = within("render", PopplerDisplay::default().render(&pdf, ContentKind::Pdf, out.path(), "page")).await.unwrap();
    assert_eq!(pages.len(), 1);
    let png = std::fs::read(&pages[0]).unwrap();
    let (w, h) = (u32::from_be_bytes(png[16..20].try_into().unwrap()), u32::from_be_bytes(png[20..24].try_into().unwrap()));
    assert!((826..=828).contains(&w) && (1168..=1170).contains(&h), "A4 at 100 dpi, got {w}x{h}");
}

#[tokio::test]
async fn scanner_faults_become_reasons() {
    let sane = sane_config();
    let out = tempfile::tempdir().unwrap();
    let settings = ScanSettings { color: ColorMode::Color, dpi: 150, format: ScanFormat::Pdf };
    for (status, words) in [("SANE_STATUS_NO_DOCS", "out of documents"), ("SANE_STATUS_COVER_OPEN", "cover is open"), ("SANE_STATUS_JAMMED", "jammed")] {
        let s = scanner(&sane, &["--read-return-value", status]);
        match within("faulty scan", s.scan(settings, out.path(), "fault")).await {
            Err(ScanError::Device(reason)) => assert!(reason.contains(words), "{status}: {reason}"),
            other => panic!("{status}: expected a device fault, got {other:?}"),
        }
    }
    assert!(std::fs::read_dir(out.path()).unwrap().next().is_none(), "no partial scan left behind");
    // an unknown device is a clear failure too
    let mut s = scanner(&sane, &[]);
    s.device = "nosuch:0".into();
    assert!(matches!(s.scan(settings, out.path(), "x").await, Err(ScanError::Device(_))));
}

/// The test backend's feeder: `--source` lists "Automatic Document Feeder",
/// which holds 10 pages each time the device is opened.
#[tokio::test]
async fn the_feeder_gives_its_pages_then_stops_cleanly_when_empty_or_jammed() {
    let sane = sane_config();
    let out = tempfile::tempdir().unwrap();
    let settings = ScanSettings { color: ColorMode::Gray, dpi: 75, format: ScanFormat::Jpeg };
    let s = scanner(&sane, &[]);
    assert_eq!(within("options", s.feeder_source()).await.as_deref(), Some("Automatic Document Feeder"));
    let all = within("feeder", s.scan_feeder(settings, out.path(), "all", 50)).await;
    assert!(all.stopped.is_none() && !all.at_limit, "{all:?}");
    let names: Vec<_> = all.pages.iter().map(|p| p.path.file_name().unwrap().to_str().unwrap().to_owned()).collect();
    assert_eq!(names, (1..=10).map(|n| format!("all-{n}.jpg")).collect::<Vec<_>>(), "every page, in order");
    for p in &all.pages {
        let bytes = std::fs::read(&p.path).unwrap();
        assert_eq!((check_bytes(&bytes).unwrap().kind, bytes.len() as u64), (ContentKind::Jpeg, p.size));
    }
    // Bounded: the page limit stops the batch and says so.
    let some = within("feeder, 3 at most", s.scan_feeder(settings, out.path(), "some", 3)).await;
    assert_eq!((some.pages.len(), some.at_limit, some.stopped.is_none()), (3, true, true));

    // An empty feeder is no fault and gives nothing; a jam is the device's fault.
    let empty = within("empty feeder", scanner(&sane, &["--read-return-value", "SANE_STATUS_NO_DOCS"]).scan_feeder(settings, out.path(), "empty", 50)).await;
    assert!(empty.pages.is_empty() && empty.stopped.is_none() && !empty.at_limit, "{empty:?}");
    let jam = within("jammed feeder", scanner(&sane, &["--read-return-value", "SANE_STATUS_JAMMED"]).scan_feeder(settings, out.path(), "jam", 50)).await;
    match jam.stopped {
        Some(ScanError::Device(reason)) => assert_eq!(reason, "Document feeder jammed"),
        other => panic!("expected a jam, got {other:?}"),
    }
    assert!(jam.pages.is_empty());
    // Only the pages handed out are left: no batch folder, no partial page.
    let mut left: Vec<_> = std::fs::read_dir(out.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    left.sort();
    let mut expected: Vec<String> = all.pages.iter().chain(&some.pages).map(|p| p.path.file_name().unwrap().to_str().unwrap().to_owned()).collect();
    expected.sort();
    assert_eq!(left, expected);

    // A flatbed-only device has no feeder, and a feeder scan says so.
    let mut flatbed = scanner(&sane, &[]);
    flatbed.device = "pnm:0".into();
    assert_eq!(within("pnm options", flatbed.feeder_source()).await, None);
    assert!(matches!(flatbed.scan_feeder(settings, out.path(), "x", 5).await.stopped, Some(ScanError::NoFeeder)));
}
