//! Wraps one JPEG image into a one-page PDF, streaming (the JPEG is copied,
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
    let (w, h, comps) = jpeg_geometry(jpeg_path)?;
    let color = match comps {
        1 => "/DeviceGray",
        3 => "/DeviceRGB",
        4 => "/DeviceCMYK",
        _ => return Err(io::Error::new(io::ErrorKind::InvalidData, "unsupported JPEG colour components")),
    };
    let len = std::fs::metadata(jpeg_path)?.len();
    let pw = w as f64 * 72.0 / dpi.max(1) as f64;
    let ph = h as f64 * 72.0 / dpi.max(1) as f64;
    let mut out = Counting { w: BufWriter::new(File::create(pdf_path)?), n: 0 };
    let mut offsets = Vec::new();
    out.write_all(b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n")?;
    offsets.push(out.n);
    out.write_all(b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")?;
    offsets.push(out.n);
    out.write_all(b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n")?;
    offsets.push(out.n);
    write!(out, "3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {pw:.2} {ph:.2}] /Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>\nendobj\n")?;
    offsets.push(out.n);
    write!(out, "4 0 obj\n<< /Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace {color} /BitsPerComponent 8 /Filter /DCTDecode /Length {len} >>\nstream\n")?;
    io::copy(&mut File::open(jpeg_path)?, &mut out)?;
    out.write_all(b"\nendstream\nendobj\n")?;
    offsets.push(out.n);
    let content = format!("q {pw:.2} 0 0 {ph:.2} 0 0 cm /Im0 Do Q\n");
    write!(out, "5 0 obj\n<< /Length {} >>\nstream\n{content}endstream\nendobj\n", content.len())?;
    let xref = out.n;
    write!(out, "xref\n0 6\n0000000000 65535 f \n")?;
    for o in &offsets {
        writeln!(out, "{o:010} 00000 n ")?;
    }
    write!(out, "trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n")?;
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
