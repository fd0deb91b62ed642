//! The resident's signature stamped into a PDF with qpdf (issue 20, item 7):
//! documents made by Ghostscript, one rewritten by qpdf with object streams;
//! the stamp's caption and the original text are both read back with
//! poppler's `pdftotext`, on the signed page only.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};
use visio_transfer::bounded::ProcessLimits;
use visio_transfer::check::ContentKind;
use visio_transfer::inspect::{DocumentLimits, inspect};
use visio_transfer::sign::{SignError, SignatureBox, overlay, sign_document, write_stamp};

/// Two A4 pages of text, as Ghostscript writes them.
fn two_pages(dir: &Path) -> PathBuf {
    let mut ps = String::from("%!PS\n/Times-Roman findfont 12 scalefont setfont\n");
    for page in 1..=2 {
        ps += &format!("72 760 moveto (Formulaire page {page} : demande d'aide au logement) show showpage\n");
    }
    std::fs::write(dir.join("form.ps"), ps).unwrap();
    let pdf = dir.join("form.pdf");
    let status = Command::new("gs")
        .args(["-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=pdfwrite", "-sPAPERSIZE=a4", "-o"])
        .arg(&pdf)
        .arg(dir.join("form.ps"))
        .status()
        .expect("Ghostscript runs");
    assert!(status.success());
    pdf
}

fn text_of(pdf: &Path, page: u32) -> String {
    let n = page.to_string();
    let out = Command::new("pdftotext").args(["-f", &n, "-l", &n, "-enc", "UTF-8"]).arg(pdf).arg("-").output().unwrap();
    assert!(out.status.success(), "pdftotext reads {}", pdf.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sha256(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

async fn sign(document: &Path, dir: &Path) -> Result<PathBuf, SignError> {
    let info = inspect(document, ContentKind::Pdf, &DocumentLimits::default()).await.expect("an ordinary PDF");
    let page = 2;
    let sig = SignatureBox { page, x: 550, y: 780, width: 350, height: 100 };
    // A zigzag as a finger draws it, in two strokes.
    let strokes = vec![vec![(0, 800), (150, 100), (300, 900), (450, 150)], vec![(500, 500), (1000, 450)]];
    let caption = vec![
        "Signé le 06/12/2026 à 09:10, Mairie de Besse".to_string(),
        format!("SHA-256 du document : {}", sha256(document)),
    ];
    let stamp = dir.join("stamp.pdf");
    write_stamp(&stamp, info.sizes[page as usize - 1], &sig, &strokes, &caption)?;
    let out = dir.join("signed.pdf");
    overlay(document, page, &stamp, &out, ProcessLimits::default()).await?;
    Ok(out)
}

#[tokio::test]
async fn the_signature_and_its_caption_go_on_the_chosen_page_and_the_text_stays() {
    let dir = tempfile::tempdir().unwrap();
    let original = two_pages(dir.path());
    // The same document with object streams, as office suites write them.
    let streams = dir.path().join("streams.pdf");
    let qpdf = Command::new("qpdf").arg("--object-streams=generate").arg(&original).arg(&streams).status().unwrap();
    assert!(qpdf.success());

    for document in [&original, &streams] {
        let work = tempfile::tempdir().unwrap();
        let signed = sign(document, work.path()).await.unwrap_or_else(|e| panic!("{}: {e}", document.display()));
        let page2 = text_of(&signed, 2);
        assert!(page2.contains("Formulaire page 2"), "the original text stays: {page2}");
        assert!(page2.contains("Signé le 06/12/2026 à 09:10, Mairie de Besse"), "the caption is on page 2: {page2}");
        assert!(page2.contains(&sha256(document)), "with the document's hash: {page2}");
        let page1 = text_of(&signed, 1);
        assert!(page1.contains("Formulaire page 1") && !page1.contains("Signé"), "page 1 untouched: {page1}");
        let check = Command::new("qpdf").arg("--check").arg(&signed).output().unwrap();
        assert!(check.status.success(), "qpdf --check: {}", String::from_utf8_lossy(&check.stdout));
        let info = inspect(&signed, ContentKind::Pdf, &DocumentLimits::default()).await.unwrap();
        assert_eq!(info.pages, 2);
        assert_ne!(sha256(&signed), sha256(document));
    }
}

#[tokio::test]
async fn a_document_qpdf_cannot_read_is_refused_with_a_reason_and_no_file_left() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake.pdf");
    std::fs::write(&fake, b"%PDF-1.7\nthis is not a PDF body\n").unwrap();
    let stamp = dir.path().join("stamp.pdf");
    let sig = SignatureBox { page: 1, x: 100, y: 100, width: 300, height: 100 };
    write_stamp(&stamp, (595.0, 842.0), &sig, &[vec![(0, 0), (1000, 1000)]], &[]).unwrap();
    let out = dir.path().join("signed.pdf");
    let err = overlay(&fake, 1, &stamp, &out, ProcessLimits::default()).await.unwrap_err();
    assert!(matches!(err, SignError::Stamp(ref why) if !why.is_empty()), "{err}");
    assert!(!out.exists(), "nothing half-written is left");
}

/// The kiosk's path: `sign_document` reads the page sizes under the
/// reading limits (which forbid writing) and still writes the signed
/// copy; the stamp is gone after, and a box past the last page is refused
/// with no file left.
#[tokio::test]
async fn sign_document_signs_under_the_kiosks_limits_and_leaves_only_the_signed_copy() {
    let dir = tempfile::tempdir().unwrap();
    let document = two_pages(dir.path());
    let area = SignatureBox { page: 1, x: 100, y: 820, width: 300, height: 100 };
    let strokes = vec![vec![(0, 500), (500, 0), (1000, 1000)]];
    let out = dir.path().join("signed.pdf");
    let caption = vec!["Signé le 06/12/2026 à 09:10, Mairie de Besse".to_string()];
    sign_document(&document, &area, &strokes, &caption, &out, &DocumentLimits::default()).await.unwrap();
    assert!(text_of(&out, 1).contains("Mairie de Besse"));
    assert!(!text_of(&out, 2).contains("Mairie de Besse"));
    let mut left: Vec<String> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    left.sort();
    assert_eq!(left, ["form.pdf", "form.ps", "signed.pdf"], "the stamp is deleted");

    let past = SignatureBox { page: 3, ..area };
    let other = dir.path().join("other.pdf");
    assert!(matches!(sign_document(&document, &past, &strokes, &caption, &other, &DocumentLimits::default()).await, Err(SignError::BadBox(_))));
    assert!(!other.exists());
}
