//! The display shell: turns a pushed document into page images the kiosk
//! screen can show. PDF pages are rendered with poppler's `pdftoppm`; PNG and
//! JPEG are already images and pass through.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tracing::info;

use crate::check::ContentKind;

/// Why a document could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum DisplayError {
    /// `pdftoppm` missing.
    #[error("pdftoppm not found: run scripts/setup.sh (Debian package poppler-utils)")]
    NotInstalled,
    /// Rendering failed (damaged PDF...).
    #[error("could not render the document: {0}")]
    Render(String),
    /// Rendering took too long.
    #[error("rendering took longer than {0:?}")]
    Timeout(Duration),
}

/// Something that turns a document into page images.
pub trait Display: Send + Sync + 'static {
    /// Renders `path` into images in `out_dir`; returns them in page order.
    fn render(&self, path: &Path, kind: ContentKind, out_dir: &Path, stem: &str) -> impl Future<Output = Result<Vec<PathBuf>, DisplayError>> + Send;
}

/// Renders PDF pages to PNG with `pdftoppm`.
#[derive(Debug, Clone)]
pub struct PopplerDisplay {
    /// Rendering resolution (100 dpi makes an A4 page 827x1169, a screen's height).
    pub dpi: u32,
    /// Pages rendered at most.
    pub max_pages: u32,
    /// Longest a rendering may take.
    pub timeout: Duration,
}

impl Default for PopplerDisplay {
    fn default() -> Self {
        PopplerDisplay { dpi: 100, max_pages: 50, timeout: Duration::from_secs(60) }
    }
}

impl Display for PopplerDisplay {
    async fn render(&self, path: &Path, kind: ContentKind, out_dir: &Path, stem: &str) -> Result<Vec<PathBuf>, DisplayError> {
        if kind != ContentKind::Pdf {
            return Ok(vec![path.to_path_buf()]);
        }
        let prefix = out_dir.join(stem);
        let child = tokio::process::Command::new("pdftoppm")
            .arg("-png")
            .arg("-r").arg(self.dpi.to_string())
            .arg("-l").arg(self.max_pages.to_string())
            .arg(path)
            .arg(&prefix)
            .stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => DisplayError::NotInstalled,
                _ => DisplayError::Render(e.to_string()),
            })?;
        let out = tokio::time::timeout(self.timeout, child.wait_with_output())
            .await
            .map_err(|_| DisplayError::Timeout(self.timeout))?
            .map_err(|e| DisplayError::Render(e.to_string()))?;
        if !out.status.success() {
            return Err(DisplayError::Render(String::from_utf8_lossy(&out.stderr).trim().to_string()));
        }
        // pdftoppm names pages <stem>-1.png or <stem>-01.png (zero-padded to the page count).
        let want = format!("{stem}-");
        let mut pages: Vec<(u32, PathBuf)> = std::fs::read_dir(out_dir)
            .map_err(|e| DisplayError::Render(e.to_string()))?
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let n = name.strip_prefix(&want)?.strip_suffix(".png")?.parse().ok()?;
                Some((n, e.path()))
            })
            .collect();
        pages.sort();
        if pages.is_empty() {
            return Err(DisplayError::Render("no page rendered".into()));
        }
        info!(pages = pages.len(), "document rendered for display");
        Ok(pages.into_iter().map(|(_, p)| p).collect())
    }
}
