//! A driverless scanner: the kiosk's SANE shell scans from an eSCL
//! ("AirScan") scanner through sane-airscan, configured by name and URL
//! as docs/deploy.md tells a region's IT team, with no model driver. The
//! scanner is the testkit's eSCL emulator on loopback.

mod support;

use support::*;
use visio_testkit::escl::EsclScanner;
use visio_transfer::check::{ContentKind, check_bytes};
use visio_transfer::scanner::{SaneScanner, Scanner};
use visio_transfer::{ColorMode, ScanFormat, ScanSettings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escl_scanner_scans_through_sane_airscan() {
    init_tracing();
    let device = EsclScanner::start().await;
    let sane = device.sane_config();
    let mut scanner = SaneScanner::new(device.device());
    scanner.config_dir = Some(sane.path().to_path_buf());
    let out = tempfile::tempdir().unwrap();

    // Colour JPEG, A4 at 150 dpi: the page the scanner made arrives whole.
    let settings = ScanSettings { color: ColorMode::Color, dpi: 150, format: ScanFormat::Jpeg };
    let scan = within("eSCL scan", scanner.scan(settings, out.path(), "page1")).await.unwrap_or_else(|e| {
        panic!("{e}; the scanner saw: {:#?}", device.requests());
    });
    assert_eq!(scan.kind, ContentKind::Jpeg);
    let jobs = device.jobs();
    assert_eq!(jobs.len(), 1, "{:#?}", device.requests());
    let job = &jobs[0];
    assert_eq!((job.resolution, job.color_mode.as_str(), job.source.as_str(), job.pages_served), (150, "RGB24", "Platen", 1));
    // A4 at 150 dpi is 1240 x 1754 pixels.
    assert!(job.page_px.0.abs_diff(1240) <= 2 && job.page_px.1.abs_diff(1754) <= 2, "asked for {:?}", job.page_px);
    let image = image::open(&scan.path).unwrap().to_rgb8();
    assert_eq!(image.dimensions(), job.page_px, "the page as the scanner sent it");
    let (w, h) = image.dimensions();
    let dark = image.get_pixel(w / 4, h / 4).0;
    let light = image.get_pixel(3 * w / 4, 3 * h / 4).0;
    assert!(dark.iter().all(|&c| c < 48) && light.iter().all(|&c| c > 208), "top-left {dark:?}, bottom-right {light:?}");

    // Grey as PDF: the kiosk wraps the scanner's JPEG into a one-page PDF.
    let settings = ScanSettings { color: ColorMode::Gray, dpi: 75, format: ScanFormat::Pdf };
    let scan = within("eSCL scan to PDF", scanner.scan(settings, out.path(), "page2")).await.unwrap();
    let info = check_bytes(&std::fs::read(&scan.path).unwrap()).unwrap();
    assert_eq!(info.kind, ContentKind::Pdf);
    let job = device.jobs().pop().unwrap();
    assert_eq!((job.resolution, job.color_mode.as_str()), (75, "Grayscale8"));
}
