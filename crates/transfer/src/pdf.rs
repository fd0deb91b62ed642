//! Wraps JPEG images into a PDF, one page each, streaming (the JPEG is copied,
//! not decoded or re-encoded: the scan keeps the scanner's compression).

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

/// Width, height and colour components of a baseline or progressive JPEG.
pub fn jpeg_geometry(path: &Path) -> io::Result<(u32, u32, u8)> {
    let mut f = io::BufReader::new(File::open(path)?);
    let mut b = [0u8; 2];
    f.read_exact(&mut b)?;
    if b != [0xFF, 0xD8] {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "not a JPEG file"));
    }
    loop {
        f.read_exact(&mut b)?;
        if b[0] != 0xFF {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "JPEG marker expected"));
        }
        let marker = b[1];
        if marker == 0xFF {
            continue;
        }
        f.read_exact(&mut b)?;
        let len = u16::from_be_bytes(b) as usize;
        if len < 2 {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "bad JPEG segment length"));
        }
        let mut seg = vec![0; len - 2];
        f.read_exact(&mut seg)?;
        // SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC)
        if (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker) {
            if seg.len() < 6 {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "short JPEG frame header"));
            }
            let h = u16::from_be_bytes([seg[1], seg[2]]) as u32;
            let w = u16::from_be_bytes([seg[3], seg[4]]) as u32;
            return Ok((w, h, seg[5]));
        }
    }
}

/// Writes `pdf_path`: one page of `dpi` resolution holding `jpeg_path`.
pub fn jpeg_to_pdf(jpeg_path: &Path, pdf_path: &Path, dpi: u32) -> io::Result<()> {
    jpegs_to_pdf(&[(jpeg_path, dpi)], pdf_path)
}

/// Writes `pdf_path`: one page per JPEG, in order, each at its resolution
/// (a scan interview's pages, several pages into one PDF).
pub fn jpegs_to_pdf(pages: &[(&Path, u32)], pdf_path: &Path) -> io::Result<()> {
    if pages.is_empty() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "a PDF needs at least one page"));
    }
    let mut out = Counting { w: BufWriter::new(File::create(pdf_path)?), n: 0 };
    let mut offsets = Vec::new();
    out.write_all(b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n")?;
    offsets.push(out.n);
    out.write_all(b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")?;
    offsets.push(out.n);
    // Page i has objects 3+3i (page), 4+3i (image), 5+3i (content).
    let kids: Vec<String> = (0..pages.len()).map(|i| format!("{} 0 R", 3 + 3 * i)).collect();
    write!(out, "2 0 obj\n<< /Type /Pages /Kids [{}] /Count {} >>\nendobj\n", kids.join(" "), pages.len())?;
    for (i, (jpeg_path, dpi)) in pages.iter().enumerate() {
        let (w, h, comps) = jpeg_geometry(jpeg_path)?;
        let color = match comps {
            1 => "/DeviceGray",
            3 => "/DeviceRGB",
            4 => "/DeviceCMYK",
            _ => return Err(io::Error::new(io::ErrorKind::InvalidData, "unsupported JPEG colour components")),
        };
        let len = std::fs::metadata(jpeg_path)?.len();
        let pw = w as f64 * 72.0 / (*dpi).max(1) as f64;
        let ph = h as f64 * 72.0 / (*dpi).max(1) as f64;
        let (page, image, contents) = (3 + 3 * i, 4 + 3 * i, 5 + 3 * i);
        offsets.push(out.n);
        write!(out, "{page} 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {pw:.2} {ph:.2}] /Resources << /XObject << /Im0 {image} 0 R >> >> /Contents {contents} 0 R >>\nendobj\n")?;
        offsets.push(out.n);
        write!(out, "{image} 0 obj\n<< /Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace {color} /BitsPerComponent 8 /Filter /DCTDecode /Length {len} >>\nstream\n")?;
        io::copy(&mut File::open(jpeg_path)?, &mut out)?;
        out.write_all(b"\nendstream\nendobj\n")?;
        offsets.push(out.n);
        let content = format!("q {pw:.2} 0 0 {ph:.2} 0 0 cm /Im0 Do Q\n");
        write!(out, "{contents} 0 obj\n<< /Length {} >>\nstream\n{content}endstream\nendobj\n", content.len())?;
    }
    let xref = out.n;
    let size = offsets.len() + 1;
    write!(out, "xref\n0 {size}\n0000000000 65535 f \n")?;
    for o in &offsets {
        writeln!(out, "{o:010} 00000 n ")?;
    }
    write!(out, "trailer\n<< /Size {size} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n")?;
    out.w.flush()
}

struct Counting<W: Write> {
    w: W,
    n: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.w.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}
