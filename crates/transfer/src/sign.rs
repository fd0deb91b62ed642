//! The resident's signature stamped into a page of a PDF (issue 20, item 7;
//! docs/decisions.md #301): a one-page stamp PDF of our own (the finger's strokes
//! as vector lines, and a caption: date, site, the document's SHA-256) laid
//! over the chosen page by qpdf's `--overlay`, run bounded like `pdftoppm`.
//! qpdf reads what poppler reads (object streams, owner-password
//! encryption) and leaves the original's objects as they were.
//!
//! The messages that carry the document and its box are `sign_box` and
//! `sign_shown` (`core/sign.rs`); the kiosk's visit task calls
//! [`sign_document`] once the resident has signed.

use std::io::{self, Write};
use std::path::Path;

use crate::bounded::{self, ProcessLimits, RunError};

/// Where the signature goes: a page (from 1) and a box on it, in
/// thousandths of the page's width and height from its top left corner
/// (as the shown document's points, docs/protocol.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SignatureBox {
    /// Page, from 1.
    pub page: u32,
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Across.
    pub width: u32,
    /// Down.
    pub height: u32,
}

/// One stroke of the finger: points in thousandths of the box, from its
/// top left corner.
pub type Stroke = Vec<(u32, u32)>;

/// Most points kept of a signature (a finger at 120 Hz for ~30 s): the
/// stamp stays a few hundred KB whatever the screen sends.
pub const MAX_POINTS: usize = 4096;

/// Why a document to sign was refused: a stamp goes into a PDF's page, so
/// only PDFs are signed (French, then English, as the agent reads it).
pub const NOT_A_PDF: &str = "seul un PDF peut être signé à la borne / only a PDF can be signed at the kiosk";

/// Why a document could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The box is not on the page, or the page not in the document.
    #[error("the signature box is not on the document: {0}")]
    BadBox(String),
    /// Nothing was drawn.
    #[error("the signature is empty")]
    Empty,
    /// qpdf refused the document or stopped at its limits.
    #[error("qpdf could not stamp the document: {0}")]
    Stamp(String),
    /// Writing the stamp failed.
    #[error("cannot write the stamp: {0}")]
    Io(#[from] io::Error),
}

/// Writes `stamp_path`: one page of `page_pt` points (the signed page's
/// size) with the strokes inside `sig`'s box and `caption` (one line each)
/// under it. Text outside Latin-1 is written as `?` (the standard
/// Helvetica's encoding).
pub fn write_stamp(stamp_path: &Path, page_pt: (f64, f64), sig: &SignatureBox, strokes: &[Stroke], caption: &[String]) -> Result<(), SignError> {
    let (pw, ph) = page_pt;
    if !(pw.is_finite() && ph.is_finite() && pw > 0.0 && ph > 0.0) {
        return Err(SignError::BadBox(format!("page size {pw} x {ph}")));
    }
    if sig.x.saturating_add(sig.width) > 1000 || sig.y.saturating_add(sig.height) > 1000 || sig.width == 0 || sig.height == 0 {
        return Err(SignError::BadBox(format!("{sig:?}")));
    }
    if strokes.iter().all(|s| s.len() < 2) {
        return Err(SignError::Empty);
    }
    // The box in PDF points (origin bottom left).
    let (bx, by) = (f64::from(sig.x) / 1000.0 * pw, ph - f64::from(sig.y + sig.height) / 1000.0 * ph);
    let (bw, bh) = (f64::from(sig.width) / 1000.0 * pw, f64::from(sig.height) / 1000.0 * ph);
    let at = |(x, y): (u32, u32)| (bx + f64::from(x.min(1000)) / 1000.0 * bw, by + bh - f64::from(y.min(1000)) / 1000.0 * bh);

    let mut content = String::from("q 0.05 0.1 0.35 RG 1.6 w 1 J 1 j\n");
    let mut kept = 0;
    for stroke in strokes.iter().filter(|s| s.len() >= 2) {
        let room = MAX_POINTS.saturating_sub(kept);
        if room < 2 {
            break;
        }
        for (i, p) in stroke.iter().take(room).enumerate() {
            let (x, y) = at(*p);
            content += &format!("{x:.2} {y:.2} {}\n", if i == 0 { "m" } else { "l" });
        }
        kept += stroke.len().min(room);
        content += "S\n";
    }
    content += "Q\n";
    // The caption under the box (above it when the box is at the page's foot).
    let size = 7.0;
    let below = by - size - 2.0;
    let top = if below - size * caption.len() as f64 > 0.0 { below } else { by + bh + 2.0 + size * caption.len() as f64 };
    // Left-aligned with the box, moved left as far as the longest line
    // needs to stay on the page (Helvetica: at most ~0.6 em a character).
    let longest = caption.iter().map(|l| l.chars().count()).max().unwrap_or(0) as f64 * size * 0.6;
    let left = bx.min(pw - longest - 12.0).max(12.0);
    content += &format!("BT /F1 {size} Tf 0 0 0 rg {size} TL {left:.2} {top:.2} Td\n");
    for line in caption {
        content += &format!("({}) Tj T*\n", pdf_text(line));
    }
    content += "ET\n";

    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {pw:.2} {ph:.2}] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_string(),
        format!("<< /Length {} >>\nstream\n{content}endstream", content.len()),
    ];
    let mut out = Vec::new();
    out.extend_from_slice(b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n");
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        write!(out, "{} 0 obj\n{object}\nendobj\n", i + 1)?;
    }
    let xref = out.len();
    write!(out, "xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1)?;
    for o in offsets {
        writeln!(out, "{o:010} 00000 n ")?;
    }
    write!(out, "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1)?;
    std::fs::write(stamp_path, out)?;
    Ok(())
}

/// A PDF literal string's inside, in WinAnsi (Latin-1 for what we write).
fn pdf_text(line: &str) -> String {
    let mut s = String::new();
    for c in line.chars() {
        match c {
            '(' | ')' | '\\' => {
                s.push('\\');
                s.push(c);
            }
            ' '..='~' => s.push(c),
            c if (c as u32) >= 0xA0 && (c as u32) <= 0xFF => s += &format!("\\{:03o}", c as u32),
            _ => s.push('?'),
        }
    }
    s
}

/// Lays `stamp` (one page) over page `page` of `document` into `out`,
/// with qpdf under `limits`.
pub async fn overlay(document: &Path, page: u32, stamp: &Path, out: &Path, limits: ProcessLimits) -> Result<(), SignError> {
    let to = format!("--to={page}");
    let args = [document.as_os_str(), "--overlay".as_ref(), stamp.as_os_str(), to.as_ref(), "--from=1".as_ref(), "--".as_ref(), out.as_os_str()];
    let run = bounded::run("qpdf", &args, None, limits).await.map_err(|e| match e {
        RunError::Timeout { wall, .. } => SignError::Stamp(format!("stopped after {wall:?}")),
        other => SignError::Stamp(other.to_string()),
    });
    let failed = |why: String| {
        let _ = std::fs::remove_file(out);
        Err(SignError::Stamp(why))
    };
    let run = match run {
        Ok(r) => r,
        Err(e) => return failed(e.to_string()),
    };
    if run.hit_limit() {
        return failed("over the limits".into());
    }
    // qpdf exits 3 for warnings with a written file (a repaired xref): kept.
    match run.status.code() {
        Some(0 | 3) if out.exists() => Ok(()),
        _ => failed(run.stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("unreadable").trim().to_string()),
    }
}

/// Signs `document` (a PDF): reads its page sizes with a real decoder
/// (under `limits`), writes the stamp next to `out`, lays it over `area.page` into `out`, and
/// deletes the stamp whatever happened. `out` exists only on success.
pub async fn sign_document(document: &Path, area: &SignatureBox, strokes: &[Stroke], caption: &[String], out: &Path, limits: &crate::inspect::DocumentLimits) -> Result<(), SignError> {
    let info = crate::inspect::inspect(document, crate::check::ContentKind::Pdf, limits).await.map_err(|e| SignError::Stamp(e.reason()))?;
    let size = *info.sizes.get(area.page.saturating_sub(1) as usize).ok_or_else(|| SignError::BadBox(format!("page {} of {}", area.page, info.pages)))?;
    let mut stamp = out.as_os_str().to_owned();
    stamp.push(".stamp");
    let stamp = std::path::PathBuf::from(stamp);
    // qpdf writes the whole document again: room for it and the stamp
    // (the reading limits forbid writing at all).
    let written = std::fs::metadata(document)?.len().saturating_mul(2).saturating_add(4 << 20);
    let process = ProcessLimits { file_bytes: written, ..ProcessLimits::default() };
    let result = match write_stamp(&stamp, size, area, strokes, caption) {
        Ok(()) => overlay(document, area.page, &stamp, out, process).await,
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_file(&stamp);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caption_text_is_escaped_and_latin1() {
        assert_eq!(pdf_text("Signé (Besse) \\ ok"), "Sign\\351 \\(Besse\\) \\\\ ok");
        assert_eq!(pdf_text("€ ✓"), "? ?");
    }

    #[test]
    fn a_box_off_the_page_or_an_empty_signature_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stamp.pdf");
        let strokes = vec![vec![(0, 0), (1000, 1000)]];
        let off = SignatureBox { page: 1, x: 900, y: 100, width: 200, height: 100 };
        assert!(matches!(write_stamp(&path, (595.0, 842.0), &off, &strokes, &[]), Err(SignError::BadBox(_))));
        let good = SignatureBox { page: 1, x: 600, y: 800, width: 300, height: 100 };
        assert!(matches!(write_stamp(&path, (595.0, 842.0), &good, &[vec![(5, 5)]], &[]), Err(SignError::Empty)));
        write_stamp(&path, (595.0, 842.0), &good, &strokes, &["ok".into()]).unwrap();
        assert!(std::fs::read(&path).unwrap().starts_with(b"%PDF-1.4"));
    }
}
