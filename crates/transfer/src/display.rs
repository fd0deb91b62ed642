//! The display shell: turns a pushed document into page images the kiosk
//! screen can show, every decoder bounded.
//!
//! PDF pages are rendered with poppler's `pdftoppm` in a bounded subprocess
//! ([`crate::bounded`]), the bitmap cut at `max_side` pixels a side whatever
//! size the page claims (pages larger than A0 were refused before). PNG and JPEG are decoded here with the `image` crate
//! under allocation limits (dimensions checked before any pixel), turned
//! upright (EXIF orientation), scaled to `max_side` and written as PNG. The
//! window then loads pages with [`load_page`]: already-decoded RGBA of a
//! bounded size, so the GUI toolkit never decodes a document's bytes.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tracing::info;

use crate::bounded::{self, ProcessLimits, RunError};
use crate::check::ContentKind;
use crate::inspect::{DocumentError, DocumentLimits, decode_image};

/// Why a document could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum DisplayError {
    /// `pdftoppm` or `prlimit` missing, or would not start.
    #[error("the kiosk cannot render documents: {0}")]
    Renderer(String),
    /// The document was refused (damaged, too large, over the limits).
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// The spool could not be written or read.
    #[error("the kiosk could not store the rendered page: {0}")]
    Io(String),
}

impl DisplayError {
    /// What the agent reads: French then English for a refused document.
    pub fn reason(&self) -> String {
        match self {
            DisplayError::Document(d) => d.reason(),
            other => other.to_string(),
        }
    }

    /// True when the kiosk (not the document) is at fault.
    pub fn is_kiosk_fault(&self) -> bool {
        match self {
            DisplayError::Document(d) => d.is_kiosk_fault(),
            DisplayError::Renderer(_) | DisplayError::Io(_) => true,
        }
    }
}

/// Width of a drawn page on a 1920-pixel-wide screen less the call
/// screen's margins.
pub const DEFAULT_PAGE_WIDTH: u32 = 1856;

/// Longest side of a page image, pixels: what [`PopplerDisplay`] writes and
/// [`load_page`] accepts by default.
pub const MAX_PAGE_SIDE: u32 = 2400;

/// Something that turns a document into page images.
pub trait Display: Send + Sync + 'static {
    /// Renders `path` into images in `out_dir`; returns them in page order.
    fn render(&self, path: &Path, kind: ContentKind, out_dir: &Path, stem: &str) -> impl Future<Output = Result<Vec<PathBuf>, DisplayError>> + Send;

    /// Renders page `page` (from 1) alone, fit to the screen's width, into
    /// `<stem>-p<page>.png` in `out_dir`: pages are drawn when shown, not
    /// all up front.
    fn render_page(&self, path: &Path, kind: ContentKind, page: u32, out_dir: &Path, stem: &str) -> impl Future<Output = Result<PathBuf, DisplayError>> + Send;
}

/// Renders PDF pages with `pdftoppm`, images with the `image` crate.
#[derive(Debug, Clone)]
pub struct PopplerDisplay {
    /// Rendering resolution (100 dpi makes an A4 page 827x1169, a screen's height).
    pub dpi: u32,
    /// Width of a page drawn by [`Display::render_page`], pixels: the width
    /// the kiosk screen gives a document (fit to width, no scaling later).
    pub page_width: u32,
    /// Longest side of a rendered page, pixels (a page is at most
    /// `max_side`² × 4 bytes once decoded: 22 MiB at 2400; A2 at 100 dpi fits).
    pub max_side: u32,
    /// Pages rendered at most.
    pub max_pages: u32,
    /// What a document may be (pixels of an image...).
    pub document: DocumentLimits,
    /// Limits of the `pdftoppm` run (memory, processor, page file size, wall clock).
    pub process: ProcessLimits,
}

impl Default for PopplerDisplay {
    fn default() -> Self {
        PopplerDisplay {
            dpi: 100,
            page_width: DEFAULT_PAGE_WIDTH,
            max_side: MAX_PAGE_SIDE,
            max_pages: 50,
            document: DocumentLimits::default(),
            process: ProcessLimits { memory_bytes: 768 << 20, cpu_secs: 60, file_bytes: 32 << 20, wall: Duration::from_secs(90), stdout_bytes: 4 << 10 },
        }
    }
}

impl PopplerDisplay {
    /// Every page (up to `max_pages`) at `dpi`.
    async fn render_all(&self, path: &Path, kind: ContentKind, out_dir: &Path, stem: &str) -> Result<Vec<PathBuf>, DisplayError> {
        match kind {
            ContentKind::Pdf => self.render_pdf(path, out_dir, stem).await,
            ContentKind::Png | ContentKind::Jpeg => {
                let (me, path, out) = (self.clone(), path.to_path_buf(), out_dir.join(format!("{stem}-1.png")));
                tokio::task::spawn_blocking(move || me.render_image(&path, kind, &out).map(|()| vec![out]))
                    .await
                    .map_err(|e| DisplayError::Renderer(e.to_string()))?
            }
        }
    }
}

impl Display for PopplerDisplay {
    async fn render(&self, path: &Path, kind: ContentKind, out_dir: &Path, stem: &str) -> Result<Vec<PathBuf>, DisplayError> {
        self.render_all(path, kind, out_dir, stem).await
    }

    async fn render_page(&self, path: &Path, kind: ContentKind, page: u32, out_dir: &Path, stem: &str) -> Result<PathBuf, DisplayError> {
        let out = out_dir.join(format!("{stem}-p{page}.png"));
        match kind {
            ContentKind::Pdf => self.render_one_pdf_page(path, page, &out).await?,
            ContentKind::Png | ContentKind::Jpeg => {
                if page != 1 {
                    return Err(DocumentError::NoPage.into());
                }
                let (me, path, out) = (self.clone(), path.to_path_buf(), out.clone());
                tokio::task::spawn_blocking(move || me.render_image(&path, kind, &out))
                    .await
                    .map_err(|e| DisplayError::Renderer(e.to_string()))??;
            }
        }
        info!(page, "page drawn for the screen");
        Ok(out)
    }
}

impl PopplerDisplay {
    /// A renderer for a screen whose documents get `page_width` pixels.
    pub fn for_width(page_width: u32) -> Self {
        PopplerDisplay { page_width: page_width.clamp(320, MAX_PAGE_SIDE), ..PopplerDisplay::default() }
    }

    async fn render_one_pdf_page(&self, path: &Path, page: u32, out: &Path) -> Result<(), DisplayError> {
        let prefix = out.with_extension("");
        let (n, width, side) = (page.to_string(), self.page_width.min(self.max_side).to_string(), self.max_side.to_string());
        let args = [
            "-png".as_ref(),
            "-f".as_ref(),
            n.as_ref(),
            "-l".as_ref(),
            n.as_ref(),
            // fit to width at the screen's own pixels, height to match
            "-scale-to-x".as_ref(),
            width.as_ref(),
            "-scale-to-y".as_ref(),
            "-1".as_ref(),
            // and never more than this slice of it, whatever the page claims
            "-W".as_ref(),
            side.as_ref(),
            "-H".as_ref(),
            side.as_ref(),
            "-singlefile".as_ref(),
            path.as_os_str(),
            prefix.as_os_str(),
        ];
        let cleanup = || {
            let _ = std::fs::remove_file(out);
        };
        let run = bounded::run("pdftoppm", &args, None, self.process).await.map_err(|e| match e {
            RunError::Timeout { .. } => DisplayError::Document(DocumentError::OverLimits),
            other => DisplayError::Renderer(other.to_string()),
        });
        let run = run.inspect_err(|_| cleanup())?;
        if run.hit_limit() {
            cleanup();
            return Err(DocumentError::OverLimits.into());
        }
        if !run.status.success() || !out.exists() {
            cleanup();
            let detail = run.stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("unreadable").trim().to_string();
            return Err(DocumentError::Damaged { kind: ContentKind::Pdf, detail }.into());
        }
        Ok(())
    }

    async fn render_pdf(&self, path: &Path, out_dir: &Path, stem: &str) -> Result<Vec<PathBuf>, DisplayError> {
        let prefix = out_dir.join(stem);
        let (dpi, side, last) = (self.dpi.to_string(), self.max_side.to_string(), self.max_pages.to_string());
        let args = [
            "-png".as_ref(),
            "-r".as_ref(),
            dpi.as_ref(),
            // poppler allocates only this slice of the page: the bitmap is
            // bounded whatever size the page claims
            "-W".as_ref(),
            side.as_ref(),
            "-H".as_ref(),
            side.as_ref(),
            "-l".as_ref(),
            last.as_ref(),
            path.as_os_str(),
            prefix.as_os_str(),
        ];
        let out = bounded::run("pdftoppm", &args, None, self.process).await.map_err(|e| match e {
            RunError::Timeout { .. } => DisplayError::Document(DocumentError::OverLimits),
            other => DisplayError::Renderer(other.to_string()),
        });
        let cleanup = || remove_pages(out_dir, stem);
        let out = match out {
            Ok(o) => o,
            Err(e) => {
                cleanup();
                return Err(e);
            }
        };
        if out.hit_limit() {
            cleanup();
            return Err(DocumentError::OverLimits.into());
        }
        if !out.status.success() {
            cleanup();
            let detail = out.stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("unreadable").trim().to_string();
            return Err(DocumentError::Damaged { kind: ContentKind::Pdf, detail }.into());
        }
        let pages = list_pages(out_dir, stem);
        if pages.is_empty() {
            return Err(DocumentError::NoPage.into());
        }
        info!(pages = pages.len(), "document rendered for display");
        Ok(pages)
    }

    /// Decodes, turns upright, scales and writes one image as PNG.
    fn render_image(&self, path: &Path, kind: ContentKind, out: &Path) -> Result<(), DisplayError> {
        let img = decode_image(path, kind, &self.document)?;
        let img = if img.width().max(img.height()) > self.max_side {
            img.resize(self.max_side, self.max_side, image::imageops::FilterType::Triangle)
        } else {
            img
        };
        // 8-bit RGBA: what the screen shows (16-bit and CMYK sources included).
        let rgba = image::DynamicImage::ImageRgba8(img.to_rgba8());
        rgba.save_with_format(out, image::ImageFormat::Png).map_err(|e| {
            let _ = std::fs::remove_file(out);
            DisplayError::Io(e.to_string())
        })?;
        info!(width = rgba.width(), height = rgba.height(), "image prepared for display");
        Ok(())
    }
}

/// A page ready for the screen: 8-bit RGBA, row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageImage {
    /// Pixels across.
    pub width: u32,
    /// Pixels down.
    pub height: u32,
    /// `width × height × 4` bytes.
    pub rgba: Vec<u8>,
}

/// Loads a page written by [`PopplerDisplay`] for the window, under the same
/// bounds: at most `max_side` pixels a side (so at most `max_side`² × 4 bytes).
pub fn load_page(path: &Path, max_side: u32) -> Result<PageImage, DocumentError> {
    let pixels = u64::from(max_side) * u64::from(max_side);
    let limits = DocumentLimits { max_image_side: max_side, max_pixels: pixels, max_decode_bytes: pixels * 8, ..DocumentLimits::default() };
    let img = decode_image(path, ContentKind::Png, &limits)?;
    let rgba = img.to_rgba8();
    Ok(PageImage { width: rgba.width(), height: rgba.height(), rgba: rgba.into_raw() })
}

/// Page images `<stem>-N.png` in `dir`, in page order.
fn list_pages(dir: &Path, stem: &str) -> Vec<PathBuf> {
    // pdftoppm names pages <stem>-1.png or <stem>-01.png (zero-padded to the page count).
    let want = format!("{stem}-");
    let mut pages: Vec<(u32, PathBuf)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    let n = name.strip_prefix(&want)?.strip_suffix(".png")?.parse().ok()?;
                    Some((n, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    pages.sort();
    pages.into_iter().map(|(_, p)| p).collect()
}

/// Removes what a failed rendering left (a page cut at the file-size limit...).
fn remove_pages(dir: &Path, stem: &str) {
    for p in list_pages(dir, stem) {
        let _ = std::fs::remove_file(p);
    }
}

/// A small JPEG of a drawn page for the agent, as a `data:` URL of at most
/// `max_len` bytes: `width` pixels across, smaller and coarser until it fits.
pub fn thumbnail_data_url(page: &Path, width: u32, max_len: usize) -> Result<String, DisplayError> {
    use base64::Engine as _;
    let img = load_page(page, MAX_PAGE_SIDE)?;
    let rgba = image::RgbaImage::from_raw(img.width, img.height, img.rgba).ok_or_else(|| DisplayError::Io("page buffer".into()))?;
    let grey = image::DynamicImage::ImageRgba8(rgba).to_luma8();
    let mut w = width.max(16);
    loop {
        let h = (u64::from(w) * u64::from(grey.height()) / u64::from(grey.width().max(1))).clamp(1, u64::from(w) * 4) as u32;
        let small = image::imageops::resize(&grey, w, h, image::imageops::FilterType::Triangle);
        for quality in [70, 50, 35] {
            let mut jpeg = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, quality)
                .encode_image(&small)
                .map_err(|e| DisplayError::Io(e.to_string()))?;
            let url = format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(&jpeg));
            if url.len() <= max_len {
                return Ok(url);
            }
        }
        if w <= 32 {
            return Err(DisplayError::Io("thumbnail does not fit".into()));
        }
        w = w * 3 / 4;
    }
}
