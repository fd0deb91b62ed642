//! Reads a received document with real decoders before anything prints or
//! shows it: PDFs with poppler's `pdfinfo` (the same library `pdftoppm`
//! renders with, so what is accepted can be rendered) in a bounded
//! subprocess; PNG and JPEG headers with the `image` crate, dimensions read
//! before a single pixel is allocated.
//!
//! The streaming check in [`crate::check`] only judges the type by its bytes;
//! this is where page counts, page sizes, passwords and pixel counts are
//! judged, with a reason a person can act on (French first, then English).

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::time::Duration;

use image::ImageDecoder;

use crate::bounded::{self, ProcessLimits, RunError};
use crate::check::ContentKind;

/// What a document may be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DocumentLimits {
    /// Pages of a PDF.
    pub max_pages: u32,
    /// Longest side of a PDF page, in points (A0's long side is 3370 pt).
    pub max_page_pt: f64,
    /// Pixels of an image (width × height).
    pub max_pixels: u64,
    /// Longest side of an image, in pixels.
    pub max_image_side: u32,
    /// Bytes an image decoder may allocate.
    pub max_decode_bytes: u64,
    /// Limits of the `pdfinfo` run.
    pub process: ProcessLimits,
}

impl Default for DocumentLimits {
    fn default() -> Self {
        DocumentLimits {
            max_pages: 50,
            max_page_pt: 3370.0,
            // a 48-megapixel phone photo passes, a 15000×15000 bomb does not
            max_pixels: 50_000_000,
            max_image_side: 12_000,
            // a 50-megapixel RGB photo is 150 MB decoded
            max_decode_bytes: 320 << 20,
            process: ProcessLimits { memory_bytes: 512 << 20, cpu_secs: 15, file_bytes: 0, wall: Duration::from_secs(20), stdout_bytes: 64 << 10 },
        }
    }
}

/// What was learnt of an accepted document.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentInfo {
    /// The kind (by content).
    pub kind: ContentKind,
    /// Pages (1 for an image).
    pub pages: u32,
    /// Width × height of each page, in points for a PDF, pixels for an image.
    pub sizes: Vec<(f64, f64)>,
    /// PDF protected against changes by an owner password (it still prints).
    pub encrypted: bool,
}

/// Why a document is refused. The `Display` text is English; [`Self::fr`] is
/// the French one; [`Self::reason`] both, for the agent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DocumentError {
    /// The reader could not make sense of it.
    #[error("the {kind} file is damaged and cannot be read ({detail}); send the original file again or export it again as PDF")]
    Damaged {
        /// The kind.
        kind: ContentKind,
        /// The reader's words.
        detail: String,
    },
    /// Opening needs a password.
    #[error("the PDF is protected by a password; send a copy without password")]
    Password,
    /// Too many pages.
    #[error("the PDF has {pages} pages, more than the {max} allowed; send only the pages needed")]
    TooManyPages {
        /// Pages.
        pages: u32,
        /// Allowed.
        max: u32,
    },
    /// A page is larger than any paper.
    #[error("page {page} measures {w_mm} × {h_mm} mm, larger than A0; send a document of ordinary page size")]
    PageTooLarge {
        /// The page (from 1).
        page: u32,
        /// Width, millimetres.
        w_mm: u32,
        /// Height, millimetres.
        h_mm: u32,
    },
    /// No page at all.
    #[error("the PDF has no page")]
    NoPage,
    /// Too many pixels.
    #[error("the image is {width} × {height} pixels, more than the kiosk can show; send a smaller photo (at most {max_mp} megapixels)")]
    ImageTooLarge {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
        /// Allowed, megapixels.
        max_mp: u64,
    },
    /// The reader ran over its memory or time limit: a hostile or pathological file.
    #[error("reading the document needed more memory or time than allowed; send a simpler copy (for example printed to PDF again)")]
    OverLimits,
    /// The reader is missing or could not start: the kiosk's fault, not the document's.
    #[error("the kiosk cannot read documents: {0}")]
    Reader(String),
}

impl DocumentError {
    /// The French message.
    pub fn fr(&self) -> String {
        match self {
            DocumentError::Damaged { kind, .. } => {
                format!("le fichier {kind} est abîmé et illisible ; renvoyez le fichier d'origine ou exportez-le à nouveau en PDF")
            }
            DocumentError::Password => "le PDF est protégé par un mot de passe ; envoyez une copie sans mot de passe".into(),
            DocumentError::TooManyPages { pages, max } => {
                format!("le PDF a {pages} pages, plus que les {max} autorisées ; n'envoyez que les pages utiles")
            }
            DocumentError::PageTooLarge { page, w_mm, h_mm } => {
                format!("la page {page} mesure {w_mm} × {h_mm} mm, plus grand que le A0 ; envoyez un document de format courant")
            }
            DocumentError::NoPage => "le PDF n'a aucune page".into(),
            DocumentError::ImageTooLarge { width, height, max_mp } => {
                format!("l'image fait {width} × {height} pixels, trop pour la borne ; envoyez une photo plus petite (au plus {max_mp} mégapixels)")
            }
            DocumentError::OverLimits => {
                "la lecture du document demandait trop de mémoire ou de temps ; envoyez une copie plus simple (par exemple réimprimée en PDF)".into()
            }
            DocumentError::Reader(e) => format!("la borne ne peut pas lire les documents : {e}"),
        }
    }

    /// French, then English: what the agent reads.
    pub fn reason(&self) -> String {
        format!("{} / {self}", self.fr())
    }

    /// True when the kiosk itself is at fault (not the document): only then
    /// may a device be reported as faulty.
    pub fn is_kiosk_fault(&self) -> bool {
        matches!(self, DocumentError::Reader(_))
    }
}

/// Reads `path` (already sniffed as `kind`) and checks it against `limits`.
pub async fn inspect(path: &Path, kind: ContentKind, limits: &DocumentLimits) -> Result<DocumentInfo, DocumentError> {
    match kind {
        ContentKind::Pdf => inspect_pdf(path, limits).await,
        ContentKind::Png | ContentKind::Jpeg => {
            let (p, l) = (path.to_path_buf(), *limits);
            tokio::task::spawn_blocking(move || inspect_image(&p, kind, &l))
                .await
                .map_err(|e| DocumentError::Reader(e.to_string()))?
        }
    }
}

async fn inspect_pdf(path: &Path, limits: &DocumentLimits) -> Result<DocumentInfo, DocumentError> {
    // -l: sizes of every page we would accept; one more tells "too many"
    // without listing a million pages.
    let last = (limits.max_pages + 1).to_string();
    let args = [std::ffi::OsStr::new("-f"), "1".as_ref(), "-l".as_ref(), last.as_ref(), path.as_os_str()];
    let out = bounded::run("pdfinfo", &args, None, limits.process).await.map_err(|e| match e {
        RunError::Timeout { .. } => DocumentError::OverLimits,
        other => DocumentError::Reader(other.to_string()),
    })?;
    if out.hit_limit() {
        return Err(DocumentError::OverLimits);
    }
    if !out.status.success() {
        if out.stderr.contains("Incorrect password") {
            return Err(DocumentError::Password);
        }
        let detail = out.stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("unreadable").trim().to_string();
        return Err(DocumentError::Damaged { kind: ContentKind::Pdf, detail });
    }
    parse_pdfinfo(&String::from_utf8_lossy(&out.stdout), limits)
}

/// Judges `pdfinfo -f 1 -l N` output.
pub fn parse_pdfinfo(text: &str, limits: &DocumentLimits) -> Result<DocumentInfo, DocumentError> {
    let mut pages = None;
    let mut encrypted = false;
    let mut sizes = Vec::new();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("Pages:") {
            pages = v.trim().parse::<u32>().ok();
        } else if let Some(v) = line.strip_prefix("Encrypted:") {
            encrypted = v.trim().starts_with("yes");
        } else if let Some(rest) = line.strip_prefix("Page ")
            && let Some((_, dims)) = rest.split_once("size:")
        {
            // "Page    1 size:  595.276 x 841.89 pts (A4)"
            let mut it = dims.split_whitespace();
            let w = it.next().and_then(|s| s.parse::<f64>().ok());
            let _x = it.next();
            let h = it.next().and_then(|s| s.parse::<f64>().ok());
            if let (Some(w), Some(h)) = (w, h) {
                sizes.push((w, h));
            }
        }
    }
    let damaged = |detail: &str| DocumentError::Damaged { kind: ContentKind::Pdf, detail: detail.into() };
    let pages = pages.ok_or_else(|| damaged("no page count"))?;
    if pages == 0 {
        return Err(DocumentError::NoPage);
    }
    if pages > limits.max_pages {
        return Err(DocumentError::TooManyPages { pages, max: limits.max_pages });
    }
    for (i, &(w, h)) in sizes.iter().enumerate() {
        if !(w.is_finite() && h.is_finite()) || w.max(h) > limits.max_page_pt {
            let mm = |pt: f64| if pt.is_finite() { (pt * 25.4 / 72.0).round().clamp(0.0, u32::MAX as f64) as u32 } else { u32::MAX };
            return Err(DocumentError::PageTooLarge { page: i as u32 + 1, w_mm: mm(w), h_mm: mm(h) });
        }
    }
    Ok(DocumentInfo { kind: ContentKind::Pdf, pages, sizes, encrypted })
}

/// Decodes the whole image under the limits (so a picture that cannot be
/// shown is not printed either).
pub fn inspect_image(path: &Path, kind: ContentKind, limits: &DocumentLimits) -> Result<DocumentInfo, DocumentError> {
    let img = decode_image(path, kind, limits)?;
    Ok(DocumentInfo { kind, pages: 1, sizes: vec![(f64::from(img.width()), f64::from(img.height()))], encrypted: false })
}

/// Decodes an image: header first (dimensions and pixel count checked
/// against `limits` before any pixel is allocated), then the pixels under
/// the allocation cap, turned upright by the EXIF orientation.
pub fn decode_image(path: &Path, kind: ContentKind, limits: &DocumentLimits) -> Result<image::DynamicImage, DocumentError> {
    let damaged = |detail: String| DocumentError::Damaged { kind, detail };
    let format = match kind {
        ContentKind::Png => image::ImageFormat::Png,
        ContentKind::Jpeg => image::ImageFormat::Jpeg,
        ContentKind::Pdf => return Err(damaged("a PDF is not an image".into())),
    };
    let file = File::open(path).map_err(|e| DocumentError::Reader(e.to_string()))?;
    let mut reader = image::ImageReader::with_format(BufReader::new(file), format);
    // Dimensions first, from the header alone: the clearest refusal.
    reader.no_limits();
    let mut decoder = reader.into_decoder().map_err(|e| over_or_damaged(e, kind))?;
    let (w, h) = decoder.dimensions();
    check_dimensions(w, h, kind, limits)?;
    // The decoded size against the allocation cap (16-bit, alpha...), then
    // the cap for the decoder's own buffers.
    if decoder.total_bytes() > limits.max_decode_bytes {
        return Err(DocumentError::OverLimits);
    }
    let mut lim = image::Limits::default();
    lim.max_alloc = Some(limits.max_decode_bytes);
    decoder.set_limits(lim).map_err(|e| over_or_damaged(e, kind))?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = image::DynamicImage::from_decoder(decoder).map_err(|e| over_or_damaged(e, kind))?;
    img.apply_orientation(orientation);
    Ok(img)
}

fn over_or_damaged(e: image::ImageError, kind: ContentKind) -> DocumentError {
    match e {
        image::ImageError::Limits(_) => DocumentError::OverLimits,
        other => DocumentError::Damaged { kind, detail: other.to_string() },
    }
}

/// Refuses absurd dimensions before anything is allocated for them.
pub fn check_dimensions(width: u32, height: u32, kind: ContentKind, limits: &DocumentLimits) -> Result<(), DocumentError> {
    let pixels = u64::from(width) * u64::from(height);
    if width == 0 || height == 0 {
        return Err(DocumentError::Damaged { kind, detail: format!("{width} × {height} pixels") });
    }
    if pixels > limits.max_pixels || width.max(height) > limits.max_image_side {
        return Err(DocumentError::ImageTooLarge { width, height, max_mp: limits.max_pixels / 1_000_000 });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdfinfo_output_judged() {
        let l = DocumentLimits { max_pages: 3, ..DocumentLimits::default() };
        let ok = "Pages:           2\nEncrypted:       yes (print:yes copy:no)\nPage    1 size:  595.276 x 841.89 pts (A4)\nPage    2 size:  612 x 792 pts (letter)\n";
        let info = parse_pdfinfo(ok, &l).unwrap();
        assert_eq!((info.pages, info.encrypted, info.sizes.len()), (2, true, 2));
        assert_eq!(parse_pdfinfo("Pages: 4\n", &l), Err(DocumentError::TooManyPages { pages: 4, max: 3 }));
        assert_eq!(parse_pdfinfo("Pages: 0\n", &l), Err(DocumentError::NoPage));
        let huge = "Pages: 1\nPage    1 size:  14400 x 14400 pts\n";
        assert_eq!(parse_pdfinfo(huge, &l), Err(DocumentError::PageTooLarge { page: 1, w_mm: 5080, h_mm: 5080 }));
        assert!(matches!(parse_pdfinfo("garbage", &l), Err(DocumentError::Damaged { .. })));
    }

    #[test]
    fn reasons_are_bilingual() {
        let r = DocumentError::TooManyPages { pages: 60, max: 50 }.reason();
        assert!(r.starts_with("le PDF a 60 pages") && r.contains("the PDF has 60 pages"), "{r}");
        assert!(!DocumentError::Password.is_kiosk_fault());
        assert!(DocumentError::Reader("x".into()).is_kiosk_fault());
    }
}
