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
