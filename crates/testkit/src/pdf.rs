//! Small valid PDFs for transfer and print tests, and their text.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::wait::require;

/// Text of a PDF, through poppler's pdftotext.
pub fn pdf_text(path: &Path) -> String {
    require("pdftotext", "poppler-utils");
    let out = Command::new("pdftotext").arg(path).arg("-").output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `<dir>/<name>.pdf` made from the PostScript `ps` by Ghostscript's PDF
/// writer on A4 paper, as an office's tools make one.
pub fn pdf_from_postscript(dir: &Path, name: &str, ps: &str) -> PathBuf {
    require("gs", "ghostscript");
    let source = dir.join(format!("{name}.ps"));
    std::fs::write(&source, ps).unwrap();
    let pdf = dir.join(format!("{name}.pdf"));
    let status = Command::new("gs")
        .args(["-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=pdfwrite", "-sPAPERSIZE=a4", "-o"])
        .arg(&pdf)
        .arg(&source)
        .status()
        .expect("Ghostscript runs");
    assert!(status.success(), "Ghostscript makes {}", pdf.display());
    pdf
}

/// The five objects of a one-page PDF showing `text` in Helvetica.
fn page_objects(text: &str) -> [String; 5] {
    page_objects_sized(text, 595.0, 842.0)
}

fn page_objects_sized(text: &str, w: f64, h: f64) -> [String; 5] {
    let content = format!("BT /F1 24 Tf 72 700 Td ({text}) Tj ET");
    [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w} {h}] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
    ]
}

/// A valid one-page PDF showing `text` in Helvetica.
pub fn text_pdf(text: &str) -> Vec<u8> {
    pdf_from_objects(&page_objects(text), &[])
}

/// A valid one-page PDF whose page measures `w × h` points.
pub fn pdf_with_page_size(text: &str, w: f64, h: f64) -> Vec<u8> {
    pdf_from_objects(&page_objects_sized(text, w, h), &[])
}

/// A valid PDF of about `size` bytes (padding in an unused stream).
pub fn padded_pdf(text: &str, size: usize) -> Vec<u8> {
    let base = text_pdf(text);
    let pad = size.saturating_sub(base.len() + 100);
    // pseudo-random, incompressible padding
    let mut x: u32 = 0x1234_5678;
    let padding: Vec<u8> = (0..pad)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    pdf_from_objects(&page_objects(text), &padding)
}

fn pdf_from_objects(objs: &[String], padding: &[u8]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offs = Vec::new();
    for (i, o) in objs.iter().enumerate() {
        offs.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let mut n = objs.len();
    if !padding.is_empty() {
        n += 1;
        offs.push(out.len());
        out.extend_from_slice(format!("{n} 0 obj\n<< /Length {} >>\nstream\n", padding.len()).as_bytes());
        out.extend_from_slice(padding);
        out.extend_from_slice(b"\nendstream\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", n + 1).as_bytes());
    for o in offs {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", n + 1).as_bytes());
    out
}
