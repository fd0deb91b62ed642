//! Documents as residents and town halls make them, made by the real tools
//! (LibreOffice, Ghostscript, qpdf, Chromium, img2pdf, ImageMagick), and a
//! hostile set of our own. Generated once per machine into a versioned
//! folder of the temp dir (atomically renamed into place), since office
//! suites and browsers take seconds to start.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::wait::require;

/// Bump when a generator changes: the cache folder is named after it.
const VERSION: u32 = 4;

/// One document of the corpus.
#[derive(Debug, Clone)]
pub struct Doc {
    /// Short name, also its file name.
    pub name: &'static str,
    /// Where it is.
    pub path: PathBuf,
    /// Pages (Ghostscript's count for a PDF, 1 for an image).
    pub pages: u32,
    /// Words its extracted text holds (None for pictures).
    pub text: Option<&'static str>,
    /// For a photo: the upright width and height once its EXIF orientation is applied.
    pub upright: Option<(u32, u32)>,
}

/// The ordinary documents: each must be accepted, shown and printed.
pub fn real_documents() -> &'static [Doc] {
    &corpus().0
}

/// Hostile documents, by name (the list is in this module).
pub fn hostile_documents() -> &'static [Doc] {
    &corpus().1
}

/// The folder holding the corpus.
pub fn corpus_dir() -> PathBuf {
    std::env::temp_dir().join(format!("visio-test-documents-v{VERSION}"))
}

fn corpus() -> &'static (Vec<Doc>, Vec<Doc>) {
    static CORPUS: OnceLock<(Vec<Doc>, Vec<Doc>)> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let dir = corpus_dir();
        if !dir.join("done").exists() {
            let tmp = tempfile::Builder::new().prefix("visio-test-documents-new-").tempdir().unwrap();
            generate(tmp.path());
            std::fs::write(tmp.path().join("done"), b"").unwrap();
            let new = tmp.keep();
            // Another test binary may have won the race: theirs is as good.
            if std::fs::rename(&new, &dir).is_err() {
                let _ = std::fs::remove_dir_all(&new);
            }
        }
        (ordinary(&dir), hostile(&dir))
    })
}

fn doc(dir: &Path, name: &'static str, pages: u32, text: Option<&'static str>) -> Doc {
    Doc { name, path: dir.join(name), pages, text, upright: None }
}

fn ordinary(dir: &Path) -> Vec<Doc> {
    let photo = |name, w, h| Doc { upright: Some((w, h)), ..doc(dir, name, 1, None) };
    vec![
        doc(dir, "office.pdf", 2, Some("ATTESTATION OFFICE")),
        doc(dir, "ghostscript.pdf", 3, Some("GHOSTSCRIPT PAGE THREE")),
        doc(dir, "qpdf-object-streams.pdf", 2, Some("OFFICE SECOND PAGE")),
        doc(dir, "chromium.pdf", 1, Some("CHROMIUM PRINTED")),
        doc(dir, "scanner-jpeg-in-pdf.pdf", 1, None),
        doc(dir, "form.pdf", 1, Some("FORMULAIRE MAIRIE")),
        doc(dir, "pdf-2.0.pdf", 2, Some("ATTESTATION OFFICE")),
        doc(dir, "print-only-encrypted.pdf", 2, Some("ATTESTATION OFFICE")),
        photo("photo-large.jpg", 6000, 4000),
        photo("photo-exif-rotated.jpg", 600, 800),
        photo("photo-progressive.jpg", 1600, 1200),
        photo("photo-cmyk.jpg", 1200, 900),
        photo("photo-16bit.png", 1000, 750),
        photo("photo-alpha.png", 900, 600),
    ]
}

/// Hostile inputs: `(file name, what it is)` in the same order as the docs.
fn hostile(dir: &Path) -> Vec<Doc> {
    [
        "huge-pages.pdf",
        "too-many-pages.pdf",
        "user-password.pdf",
        "truncated.pdf",
        "polyglot.pdf",
        "png-15000x15000.png",
        "png-alloc-bomb.png",
        "jpeg-65000x65000.jpg",
        "jpeg-lying-header.jpg",
        "png-pdf-polyglot.png",
        "flate-bomb.pdf",
    ]
    .into_iter()
    .map(|n| doc(dir, n, 0, None))
    .collect()
}

fn run(what: &str, cmd: &mut Command) {
    let out = cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(out.status.success(), "{what} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Ghostscript's page count, or `None` while the file is not a whole PDF
/// yet (a printer still writing it).
pub fn gs_pages_if_whole(pdf: &Path) -> Option<u32> {
    let out = Command::new("pdfinfo").arg(pdf).output().ok()?;
    out.status.success().then(|| gs_pages(pdf))
}

/// Ghostscript's page count: the independent reader the kiosk must agree with.
pub fn gs_pages(pdf: &Path) -> u32 {
    require("gs", "ghostscript");
    let out = Command::new("gs")
        .args(["-q", "-dNODISPLAY", "-dNOSAFER", "-c"])
        .arg(format!("({}) (r) file runpdfbegin pdfpagecount = quit", pdf.display()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().lines().last().and_then(|l| l.trim().parse().ok()).unwrap_or_else(|| panic!("gs could not count {}: {text}", pdf.display()))
}

fn generate(d: &Path) {
    for (tool, pkg) in [("soffice", "libreoffice-writer-nogui"), ("gs", "ghostscript"), ("qpdf", "qpdf"), ("img2pdf", "img2pdf"), ("convert", "imagemagick"), ("chromium", "chromium")] {
        require(tool, pkg);
    }
    // Office suite: an HTML letter and an HTML form through Writer's PDF export.
    std::fs::write(d.join("office.html"), "<html><body><h1>ATTESTATION OFFICE</h1><p>Premier feuillet.</p>\
        <p style=\"page-break-before: always\">OFFICE SECOND PAGE</p></body></html>").unwrap();
    std::fs::write(d.join("form.html"), "<html><body><h1>FORMULAIRE MAIRIE</h1><form><p>Nom : <input type=\"text\" name=\"nom\"></p>\
        <p><input type=\"checkbox\" name=\"ok\"> Accord</p></form></body></html>").unwrap();
    run("LibreOffice export", Command::new("soffice")
        .arg("--headless").arg("--norestore")
        .arg(format!("-env:UserInstallation=file://{}/lo-profile", d.display()))
        // imported as a Writer document (Writer/Web drops the first page's text of a form)
        .args(["--infilter=HTML (StarWriter)", "--convert-to", "pdf:writer_pdf_Export", "--outdir"]).arg(d)
        .arg(d.join("office.html")).arg(d.join("form.html")));
    let _ = std::fs::remove_dir_all(d.join("lo-profile"));
    // Ghostscript's pdfwrite, three pages.
    let ps: String = ["ONE", "TWO", "THREE"].iter().map(|n| format!("/Helvetica findfont 24 scalefont setfont 72 700 moveto (GHOSTSCRIPT PAGE {n}) show showpage ")).collect();
    run("Ghostscript", Command::new("gs").args(["-q", "-dNOPAUSE", "-dBATCH", "-sDEVICE=pdfwrite", "-sPAPERSIZE=a4"])
        .arg(format!("-sOutputFile={}", d.join("ghostscript.pdf").display())).args(["-c", &ps]));
    let office = d.join("office.pdf");
    // qpdf: the page tree inside a compressed object stream (PDF 1.5+).
    run("qpdf object streams", Command::new("qpdf").args(["--object-streams=generate", "--compress-streams=y"]).arg(&office).arg(d.join("qpdf-object-streams.pdf")));
    run("qpdf PDF 2.0", Command::new("qpdf").args(["--force-version=2.0", "--object-streams=generate"]).arg(&office).arg(d.join("pdf-2.0.pdf")));
    // Print-only encryption: no user password, an owner password forbidding changes.
    run("qpdf encrypt", Command::new("qpdf").args(["--encrypt", "", "owner-secret", "256", "--print=full", "--modify=none", "--extract=n", "--"]).arg(&office).arg(d.join("print-only-encrypted.pdf")));
    // Chromium's print to PDF.
    std::fs::write(d.join("chromium.html"), "<html><body><h1>CHROMIUM PRINTED</h1><p>Rendez-vous en mairie.</p></body></html>").unwrap();
    run("Chromium print-to-pdf", Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer"])
        .arg(format!("--user-data-dir={}", d.join("chromium-profile").display()))
        .arg(format!("--print-to-pdf={}", d.join("chromium.pdf").display()))
        .arg(format!("file://{}", d.join("chromium.html").display())));
    let _ = std::fs::remove_dir_all(d.join("chromium-profile"));
    // A scanner's page: a 150 dpi grey JPEG wrapped by img2pdf.
    let convert = |args: &[&str], out: &str| run(out, Command::new("convert").args(args).arg(d.join(out)));
    convert(&["-size", "1240x1754", "xc:white", "-font", "DejaVu-Sans", "-pointsize", "40", "-annotate", "+100+200", "SCANNED LETTER", "-colorspace", "Gray", "-quality", "80"], "scan.jpg");
    run("img2pdf", Command::new("img2pdf").arg("--pagesize").arg("A4").arg(d.join("scan.jpg")).arg("-o").arg(d.join("scanner-jpeg-in-pdf.pdf")));
    // Phone-like photos.
    convert(&["-size", "6000x4000", "gradient:navy-orange", "-quality", "90"], "photo-large.jpg");
    convert(&["-size", "800x600", "gradient:green-white", "-quality", "85"], "photo-sideways.jpg");
    add_exif_orientation(&d.join("photo-sideways.jpg"), &d.join("photo-exif-rotated.jpg"), 6);
    convert(&["-size", "1600x1200", "gradient:red-yellow", "-interlace", "JPEG", "-quality", "85"], "photo-progressive.jpg");
    convert(&["-size", "1200x900", "gradient:cyan-magenta", "-colorspace", "CMYK", "-quality", "85"], "photo-cmyk.jpg");
    convert(&["-size", "1000x750", "gradient:blue-white", "-depth", "16"], "photo-16bit.png");
    run("alpha png", Command::new("convert").args(["-size", "900x600", "gradient:purple-white", "-alpha", "set", "-channel", "A", "-evaluate", "set", "50%"]).arg(format!("PNG32:{}", d.join("photo-alpha.png").display())));

    // ---- hostile ----
    // Pages of 5 m a side (the PDF maximum), in 300 bytes.
    std::fs::write(d.join("huge-pages.pdf"), crate::pdf::pdf_with_page_size("HUGE", 14400.0, 14400.0)).unwrap();
    // 60 pages.
    let mut many = Command::new("qpdf");
    many.arg("--empty").arg("--pages");
    for _ in 0..30 {
        many.arg(&office);
    }
    run("qpdf many pages", many.arg("--").arg(d.join("too-many-pages.pdf")));
    run("qpdf user password", Command::new("qpdf").args(["--encrypt", "user-secret", "owner-secret", "256", "--"]).arg(&office).arg(d.join("user-password.pdf")));
    // The first 40 % of a Chromium PDF, with an end marker so it passes the streaming check.
    let full = std::fs::read(d.join("chromium.pdf")).unwrap();
    let mut cut = full[..full.len() * 2 / 5].to_vec();
    cut.extend_from_slice(b"\n%%EOF\n");
    std::fs::write(d.join("truncated.pdf"), cut).unwrap();
    // A PDF header on an HTML page and a ZIP directory.
    std::fs::write(d.join("polyglot.pdf"), b"%PDF-1.7\n<html><script>alert(1)</script></html>\nPK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\n%%EOF\n").unwrap();
    std::fs::write(d.join("png-15000x15000.png"), png_header_only(15000, 15000, 8, 2)).unwrap();
    // 7000 × 7000 16-bit RGBA: under the pixel cap, 392 MB once decoded.
    std::fs::write(d.join("png-alloc-bomb.png"), png_header_only(7000, 7000, 16, 6)).unwrap();
    // A real 16×16 JPEG whose frame header is made to claim 65000 × 65000.
    convert(&["-size", "16x16", "xc:gray", "-quality", "90"], "small.jpg");
    std::fs::write(d.join("jpeg-65000x65000.jpg"), jpeg_claiming(&std::fs::read(d.join("small.jpg")).unwrap(), 65000, 65000)).unwrap();
    std::fs::write(d.join("jpeg-lying-header.jpg"), b"\xFF\xD8\xFF\xE0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0this is not a picture\xFF\xD9").unwrap();
    // A small valid PNG header, then a PDF where the pixels should be.
    let mut poly = png_header_only(64, 64, 8, 2);
    let iend_at = poly.len() - 12;
    poly.splice(iend_at..iend_at, crate::pdf::text_pdf("POLYGLOT"));
    std::fs::write(d.join("png-pdf-polyglot.png"), poly).unwrap();
    std::fs::write(d.join("flate-bomb.pdf"), flate_bomb_pdf()).unwrap();
}

/// An ordinary A4 page drawing a 16384 × 16384 grey image: 256 MiB of
/// pixels in a Flate stream of a few hundred kilobytes.
fn flate_bomb_pdf() -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    const SIDE: u64 = 16384;
    const MIB: usize = 1 << 20;
    let zeros = vec![0u8; MIB];
    let mut c = Compress::new(Compression::best(), true);
    // A full flush ends each block on a byte boundary with an empty
    // history, so the second MiB's blocks can be repeated as they are.
    let mut first = Vec::with_capacity(MIB);
    c.compress_vec(&zeros, &mut first, FlushCompress::Full).unwrap();
    let mut next = Vec::with_capacity(MIB);
    c.compress_vec(&zeros, &mut next, FlushCompress::Full).unwrap();
    let mut data = first;
    for _ in 1..(SIDE * SIDE / MIB as u64) {
        data.extend_from_slice(&next);
    }
    // final empty block, then the Adler-32 of SIDE² zero bytes (a = 1, b = n mod 65521)
    let mut tail = Vec::with_capacity(64);
    c.compress_vec(&[], &mut tail, FlushCompress::Finish).unwrap();
    tail.truncate(tail.len() - 4);
    data.extend_from_slice(&tail);
    let adler = (((SIDE * SIDE) % 65521) << 16) as u32 | 1;
    data.extend_from_slice(&adler.to_be_bytes());

    let content = b"q 595 0 0 842 0 0 cm /Im0 Do Q";
    let image = format!("<< /Type /XObject /Subtype /Image /Width {SIDE} /Height {SIDE} /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode /Length {} >>", data.len());
    let objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>".to_vec(),
        [image.as_bytes(), &b"\nstream\n"[..], &data[..], &b"\nendstream"[..]].concat(),
        [format!("<< /Length {} >>\nstream\n", content.len()).as_bytes(), &content[..], &b"\nendstream"[..]].concat(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(o);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes());
    out
}

/// Copies a JPEG inserting an EXIF APP1 segment with `orientation`, as a
/// phone camera writes it (ImageMagick 6 does not write EXIF).
fn add_exif_orientation(src: &Path, dst: &Path, orientation: u16) {
    let jpeg = std::fs::read(src).unwrap();
    assert_eq!(&jpeg[..2], b"\xFF\xD8");
    // TIFF header (big endian), one IFD with one entry: Orientation (0x0112), SHORT, 1.
    let mut tiff = b"MM\0\x2A\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&1u16.to_be_bytes());
    tiff.extend_from_slice(&0x0112u16.to_be_bytes());
    tiff.extend_from_slice(&3u16.to_be_bytes());
    tiff.extend_from_slice(&1u32.to_be_bytes());
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_be_bytes());
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = b"\xFF\xD8\xFF\xE1".to_vec();
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    std::fs::write(dst, out).unwrap();
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A PNG whose header claims `w × h` (bit depth, colour type) with one
/// tiny compressed row: what a decompression bomb looks like to a reader
/// that checks the header first.
fn png_header_only(w: u32, h: u32, depth: u8, color: u8) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[depth, color, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    // zlib stream of a few zero bytes (stored block)
    png_chunk(&mut out, b"IDAT", &[0x78, 0x01, 0x01, 0x04, 0x00, 0xFB, 0xFF, 0, 0, 0, 0, 0x00, 0x04, 0x00, 0x01]);
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// `jpeg` with its frame header's dimensions replaced by `w × h`.
fn jpeg_claiming(jpeg: &[u8], w: u16, h: u16) -> Vec<u8> {
    let mut out = jpeg.to_vec();
    let mut i = 2;
    while i + 9 < out.len() {
        assert_eq!(out[i], 0xFF, "JPEG marker expected at {i}");
        let marker = out[i + 1];
        let len = usize::from(u16::from_be_bytes([out[i + 2], out[i + 3]]));
        if (0xC0..=0xC2).contains(&marker) {
            out[i + 5..i + 7].copy_from_slice(&h.to_be_bytes());
            out[i + 7..i + 9].copy_from_slice(&w.to_be_bytes());
            return out;
        }
        i += 2 + len;
    }
    panic!("no frame header in the JPEG");
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
