//! Documents as town halls and residents make them (LibreOffice, Ghostscript,
//! qpdf, Chromium, img2pdf, phone-like photos) through the kiosk's real
//! shells: read by the PDF/image readers, rendered for the screen, printed by
//! a private cupsd into cups-pdf with their text intact. And hostile ones:
//! refused with a reason a person can act on, the renderer kept within its
//! limits, nothing left behind.

mod support;

use std::path::Path;
use std::time::Duration;

use support::*;
use visio_testkit::documents::{Doc, gs_pages, hostile_documents, real_documents};
use visio_transfer::bounded::{self, ProcessLimits, RunError};
use visio_transfer::check::{ContentKind, check_bytes};
use visio_transfer::display::{Display, DisplayError, MAX_PAGE_SIDE, PopplerDisplay, load_page};
use visio_transfer::inspect::{DocumentError, DocumentLimits, inspect};
use visio_transfer::printer::{CupsPrinter, Printer};
use visio_transfer::spool::list_files;

fn kind_of(path: &Path) -> ContentKind {
    let bytes = std::fs::read(path).unwrap();
    check_bytes(&bytes).unwrap_or_else(|e| panic!("{}: streaming check: {e}", path.display())).kind
}

fn hostile(name: &str) -> &'static Doc {
    hostile_documents().iter().find(|d| d.name == name).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_tool_documents_are_read_shown_and_printed() {
    init_tracing();
    require("pdftoppm", "poppler-utils");
    let docs = real_documents();
    let cups = Cups::start();
    let printer = CupsPrinter::new(cups.uri());
    let display = PopplerDisplay::default();
    let limits = DocumentLimits::default();
    let out = tempfile::tempdir().unwrap();
    // The corpus is what it claims: a form, PDF 2.0, owner-password
    // encryption, and a page tree no byte scan can see (the check this
    // replaced refused it "no page found").
    let info = |name: &str| {
        let path = &docs.iter().find(|d| d.name == name).unwrap().path;
        String::from_utf8_lossy(&std::process::Command::new("pdfinfo").arg(path).output().unwrap().stdout).into_owned()
    };
    assert!(info("form.pdf").contains("AcroForm"));
    assert!(info("pdf-2.0.pdf").contains("PDF version:     2.0"));
    assert!(info("print-only-encrypted.pdf").contains("Encrypted:       yes (print:yes"));
    let objstm = std::fs::read(&docs.iter().find(|d| d.name == "qpdf-object-streams.pdf").unwrap().path).unwrap();
    assert!(!objstm.windows(10).any(|w| w == b"/Type /Pag" || w == b"/Type/Page"), "page tree not compressed");
    for (i, doc) in docs.iter().enumerate() {
        let kind = kind_of(&doc.path);
        if kind == ContentKind::Pdf {
            assert_eq!(gs_pages(&doc.path), doc.pages, "{}: Ghostscript's count", doc.name);
        }
        let info = within(doc.name, inspect(&doc.path, kind, &limits)).await.unwrap_or_else(|e| panic!("{}: refused: {e}", doc.name));
        assert_eq!(info.pages, doc.pages, "{}", doc.name);

        let pages = within(doc.name, display.render(&doc.path, kind, out.path(), &format!("doc{i}"))).await.unwrap_or_else(|e| panic!("{}: not shown: {e}", doc.name));
        assert_eq!(pages.len() as u32, doc.pages, "{}: rendered pages", doc.name);
        for p in &pages {
            let img = load_page(p, MAX_PAGE_SIDE).unwrap_or_else(|e| panic!("{}: page image: {e}", doc.name));
            assert!(img.width.max(img.height) <= MAX_PAGE_SIDE && img.width > 100 && img.height > 100, "{}: {}x{}", doc.name, img.width, img.height);
            // something is drawn: not a single flat colour
            let first = &img.rgba[..4];
            assert!(img.rgba.chunks(4).any(|px| px != first), "{}: blank page", doc.name);
        }
        if let Some((w, h)) = doc.upright {
            let img = load_page(&pages[0], MAX_PAGE_SIDE).unwrap();
            assert_eq!(img.width > img.height, w > h, "{}: shown {}x{}, upright is {w}x{h}", doc.name, img.width, img.height);
        }

        let report = within(doc.name, printer.print(&doc.path, kind, &format!("visio-test-{i}"))).await.unwrap_or_else(|e| panic!("{}: not printed: {e}", doc.name));
        let printed = wait_for("cups-pdf output", || cups.output_of(report.job_id)).await;
        // cups-pdf writes its file in place: wait until it reads whole
        wait_for(&format!("{}: whole printed file", doc.name), || (std::process::Command::new("pdfinfo").arg(&printed).output().ok()?.status.success()).then_some(())).await;
        if let Some(words) = doc.text {
            assert!(pdf_text(&doc.path).contains(words), "{}: the document holds {words:?}", doc.name);
            // The test printer goes through PostScript (cups-pdf), where
            // subset TrueType fonts (LibreOffice, Chromium) lose their
            // Unicode map: text is compared where the fonts survive, and
            // every printed page must carry the ink of the original.
            if doc.name == "ghostscript.pdf" {
                assert!(pdf_text(&printed).contains(words), "{}: printed text", doc.name);
            }
        }
        let printed_pages = display.render(&printed, ContentKind::Pdf, out.path(), &format!("printed{i}")).await.unwrap();
        for p in &printed_pages {
            let img = load_page(p, MAX_PAGE_SIDE).unwrap();
            let first = &img.rgba[..4];
            assert!(img.rgba.chunks(4).any(|px| px != first), "{}: printed a blank page", doc.name);
        }
        assert_eq!(gs_pages(&printed), doc.pages, "{}: printed pages", doc.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_documents_are_refused_with_a_reason_and_leave_nothing() {
    init_tracing();
    let limits = DocumentLimits::default();
    let display = PopplerDisplay::default();
    let out = tempfile::tempdir().unwrap();
    type Expect = fn(&DocumentError) -> bool;
    let cases: [(&str, Expect); 10] = [
        ("huge-pages.pdf", |e| matches!(e, DocumentError::PageTooLarge { page: 1, w_mm: 5080, h_mm: 5080 })),
        ("too-many-pages.pdf", |e| matches!(e, DocumentError::TooManyPages { pages: 60, max: 50 })),
        ("user-password.pdf", |e| matches!(e, DocumentError::Password)),
        ("truncated.pdf", |e| matches!(e, DocumentError::Damaged { .. } | DocumentError::NoPage)),
        ("polyglot.pdf", |e| matches!(e, DocumentError::Damaged { .. })),
        ("png-15000x15000.png", |e| matches!(e, DocumentError::ImageTooLarge { width: 15000, height: 15000, .. })),
        ("png-alloc-bomb.png", |e| matches!(e, DocumentError::OverLimits)),
        ("jpeg-65000x65000.jpg", |e| matches!(e, DocumentError::ImageTooLarge { width: 65000, height: 65000, .. })),
        ("jpeg-lying-header.jpg", |e| matches!(e, DocumentError::Damaged { .. })),
        ("png-pdf-polyglot.png", |e| matches!(e, DocumentError::Damaged { .. })),
    ];
    for (name, expected) in cases {
        let doc = hostile(name);
        let kind = kind_of(&doc.path);
        let err = within(name, inspect(&doc.path, kind, &limits)).await.expect_err(name);
        assert!(expected(&err), "{name}: {err:?}");
        assert!(!err.is_kiosk_fault(), "{name}: a document's fault, not the kiosk's");
        let reason = err.reason();
        let (fr, en) = reason.split_once(" / ").unwrap_or_else(|| panic!("{name}: {reason}"));
        assert!(fr.len() > 15 && en.len() > 15, "{name}: {reason}");
        // Images are refused by the screen's own decoder as well (the
        // display path does not rely on the inspection having run).
        if kind != ContentKind::Pdf {
            match display.render(&doc.path, kind, out.path(), "hostile").await {
                Err(DisplayError::Document(e)) => assert!(expected(&e), "{name}: display: {e:?}"),
                other => panic!("{name}: display: {other:?}"),
            }
        }
    }
    assert!(list_files(out.path()).is_empty(), "refusals leave no page image: {:?}", list_files(out.path()));
    // the next good document works
    let good = &real_documents()[2];
    let pages = display.render(&good.path, ContentKind::Pdf, out.path(), "good").await.unwrap();
    assert_eq!(pages.len() as u32, good.pages);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_renderer_is_held_by_its_limits() {
    init_tracing();
    require("pdftoppm", "poppler-utils");
    let out = tempfile::tempdir().unwrap();
    // A 5 m page rendered anyway (inspection bypassed): the bitmap is cut at
    // MAX_PAGE_SIDE instead of the 56700² pixels the page asks for at 100 dpi.
    let huge = hostile("huge-pages.pdf");
    let pages = within("huge page", PopplerDisplay::default().render(&huge.path, ContentKind::Pdf, out.path(), "huge")).await.unwrap();
    let img = load_page(&pages[0], MAX_PAGE_SIDE).unwrap();
    assert!(img.width <= MAX_PAGE_SIDE && img.height <= MAX_PAGE_SIDE, "{}x{}", img.width, img.height);
    std::fs::remove_file(&pages[0]).unwrap();

    // A Flate bomb (256 MiB of pixels in 266 KB) is a valid PDF: accepted,
    // and poppler streams it into a bounded page (black: the pixels are zeros).
    let bomb = hostile("flate-bomb.pdf");
    let info = within("bomb read", inspect(&bomb.path, ContentKind::Pdf, &DocumentLimits::default())).await.unwrap();
    assert_eq!(info.pages, 1);
    let pages = within("bomb render", PopplerDisplay::default().render(&bomb.path, ContentKind::Pdf, out.path(), "bomb")).await.unwrap();
    let img = load_page(&pages[0], MAX_PAGE_SIDE).unwrap();
    assert!(img.width == 827 && (1169..=1170).contains(&img.height), "A4 at 100 dpi, got {}x{}", img.width, img.height);
    let mid = ((img.height / 2 * img.width + img.width / 2) * 4) as usize;
    assert_eq!(&img.rgba[mid..mid + 3], &[0, 0, 0], "the image was drawn");
    std::fs::remove_file(&pages[0]).unwrap();

    // Under a 64 MB address-space limit, an A4 page at 1200 dpi (9921×14032
    // pixels, 400 MB) cannot be drawn: refused, not drawn, nothing left.
    let office = &real_documents()[0];
    let tight = PopplerDisplay {
        dpi: 1200,
        max_side: 20_000,
        process: ProcessLimits { memory_bytes: 64 << 20, ..PopplerDisplay::default().process },
        ..PopplerDisplay::default()
    };
    match within("tight render", tight.render(&office.path, ContentKind::Pdf, out.path(), "tight")).await {
        Err(DisplayError::Document(DocumentError::OverLimits)) => {}
        other => panic!("expected the memory limit to stop pdftoppm, got {other:?}"),
    }
    assert!(list_files(out.path()).is_empty(), "{:?}", list_files(out.path()));

    // The wall clock kills a process that would not end.
    let limits = ProcessLimits { wall: Duration::from_millis(300), ..ProcessLimits::default() };
    let started = std::time::Instant::now();
    match bounded::run("sleep", &["30".as_ref()], None, limits).await {
        Err(RunError::Timeout { .. }) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(30), "not waited out");
    // Output is capped.
    let capped = ProcessLimits { stdout_bytes: 1000, ..ProcessLimits::default() };
    let out = bounded::run("head", &["-c".as_ref(), "1000000".as_ref(), "/dev/zero".as_ref()], None, capped).await.unwrap();
    assert_eq!(out.stdout.len(), 1000);
}
