//! The scanner shell: SANE through the `scanimage` command.
//!
//! `scanimage` rather than FFI bindings: a crashing SANE backend takes down a
//! child process, not the kiosk; its fault messages ("Document feeder
//! jammed") are already human sentences; and no `unsafe` enters the kiosk.
//! Scans are made as JPEG (compressed for a slow uplink); a PDF request wraps
//! that JPEG into a one-page PDF ourselves, because `scanimage
//! --format=pdf` segfaults when the device reports a fault (measured with the
//! `test` backend, sane-utils 1.1.1).
//!
//! The document feeder (found in the device's options, scanned with
//! `scanimage --batch`) is in `crate::feeder`.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tracing::{info, warn};

use crate::check::ContentKind;
use crate::wire::{ColorMode, ScanFormat, ScanSettings};

/// How long scanimage may take to exit after reporting a device fault.
pub(crate) const FAULT_GRACE: Duration = Duration::from_secs(5);

/// A finished scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOutput {
    /// The file (in the session spool).
    pub path: PathBuf,
    /// Its type.
    pub kind: ContentKind,
    /// Its size in bytes.
    pub size: u64,
}

/// Why a scan failed; the message is what the agent reads.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// `scanimage` missing.
    #[error("scanimage not found: run scripts/setup.sh (Debian package sane-utils)")]
    NotInstalled,
    /// The device reported a fault (jammed, no paper, cover open...).
    #[error("scanner: {0}")]
    Device(String),
    /// The scanner did not finish in time.
    #[error("scanner did not finish within {0:?}")]
    Timeout(Duration),
    /// A feeder scan on a scanner that has none (or a service that asks
    /// the resident page by page).
    #[error("this kiosk scans page after page: its scanner has no document feeder")]
    NoFeeder,
    /// Local I/O around the scan.
    #[error("scan file {path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// What.
        source: std::io::Error,
    },
}

/// Something that scans one page into a file, and maybe every page of a
/// document feeder.
pub trait Scanner: Send + Sync + 'static {
    /// Scans with `settings` into a file in `dir` named after `stem`.
    fn scan(&self, settings: ScanSettings, dir: &Path, stem: &str) -> impl Future<Output = Result<ScanOutput, ScanError>> + Send;

    /// Whether the scanner has a document feeder.
    fn has_feeder(&self) -> impl Future<Output = bool> + Send {
        async { false }
    }

    /// Scans every page the feeder holds, at most `max`, as JPEG files in
    /// `dir` named after `stem`, in feeding order.
    fn scan_feeder(&self, settings: ScanSettings, dir: &Path, stem: &str, max: u32) -> impl Future<Output = Fed> + Send {
        let _ = (settings, dir, stem, max);
        async { Fed { pages: Vec::new(), stopped: Some(ScanError::NoFeeder), at_limit: false } }
    }
}

/// What a feeder scan gave: the pages scanned before it stopped.
#[derive(Debug)]
pub struct Fed {
    /// The pages, in feeding order (JPEG files in the session spool).
    pub pages: Vec<ScanOutput>,
    /// Why it stopped early (a jam, a timeout); `None` when the feeder ran
    /// out of paper or `at_limit`. The pages before it are kept.
    pub stopped: Option<ScanError>,
    /// It stopped at the page limit: pages may be left in the feeder.
    pub at_limit: bool,
}

/// A SANE device driven through `scanimage`.
#[derive(Debug, Clone)]
pub struct SaneScanner {
    /// SANE device name, e.g. `test:0` or `epson2:libusb:001:004`.
    pub device: String,
    /// `SANE_CONFIG_DIR` for the child (tests point it at a private config).
    pub config_dir: Option<PathBuf>,
    /// Page width and height in mm (A4 by default).
    pub page_mm: (u32, u32),
    /// Device-specific extra options (e.g. `--test-picture Grid`, `--source ADF`).
    pub extra_args: Vec<String>,
    /// Longest a scan may take.
    pub timeout: Duration,
    /// The backend's names for colour and grey modes.
    pub mode_names: (String, String),
    /// The `--source` value of the device's feeder, once its options were
    /// read (shared by clones: the kiosk's probe fills it for the visits).
    pub(crate) feeder: Arc<Mutex<Option<Option<String>>>>,
}

impl SaneScanner {
    /// A scanner on `device` with A4 geometry and SANE's usual mode names.
    pub fn new(device: impl Into<String>) -> Self {
        SaneScanner {
            device: device.into(),
            config_dir: None,
            page_mm: (210, 297),
            extra_args: Vec::new(),
            timeout: Duration::from_secs(120),
            mode_names: ("Color".into(), "Gray".into()),
            feeder: Arc::default(),
        }
    }

    /// `scanimage` on this device with `settings` (colour, resolution, the
    /// page's geometry, the image format) and the device's extra options.
    pub(crate) fn command(&self, settings: &ScanSettings, image_format: &str) -> tokio::process::Command {
        let mode = match settings.color {
            ColorMode::Color => &self.mode_names.0,
            ColorMode::Gray => &self.mode_names.1,
        };
        let mut cmd = tokio::process::Command::new("scanimage");
        cmd.arg("-d").arg(&self.device)
            .arg("--mode").arg(mode)
            .arg("--resolution").arg(settings.dpi.to_string())
            .arg("-l").arg("0").arg("-t").arg("0")
            .arg("-x").arg(self.page_mm.0.to_string())
            .arg("-y").arg(self.page_mm.1.to_string())
            .arg(format!("--format={image_format}"))
            .args(&self.extra_args)
            // SANE's status sentences in English, the same on every kiosk.
            .env("LC_ALL", "C")
            .stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(d) = &self.config_dir {
            cmd.env("SANE_CONFIG_DIR", d);
        }
        cmd
    }
}

impl Scanner for SaneScanner {
    async fn scan(&self, settings: ScanSettings, dir: &Path, stem: &str) -> Result<ScanOutput, ScanError> {
        let image_format = if settings.format == ScanFormat::Png { "png" } else { "jpeg" };
        let image = dir.join(format!("{stem}.{}", if image_format == "png" { "png" } else { "jpg" }));
        let mut cmd = self.command(&settings, image_format);
        cmd.arg("-o").arg(&image);
        info!(device = %self.device, ?settings, "scanning");
        let mut child = cmd.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ScanError::NotInstalled,
            _ => ScanError::Device(format!("cannot start scanimage: {e}")),
        })?;
        let mut lines = BufReader::new(child.stderr.take().expect("stderr is piped")).lines();
        let mut stderr = String::new();
        let finished = tokio::time::timeout(self.timeout, async {
            while let Ok(Some(line)) = lines.next_line().await {
                let fault = is_status_line(&line);
                stderr.push_str(&line);
                stderr.push('\n');
                // The fault is known now. scanimage can then hang stopping
                // the backend's reader (seen with the `test` backend on a
                // loaded machine): give it a moment, then stop it.
                if fault && tokio::time::timeout(FAULT_GRACE, child.wait()).await.is_err() {
                    let _ = child.kill().await;
                }
                if fault {
                    break;
                }
            }
            child.wait().await
        })
        .await;
        let status = finished
            .map_err(|_| ScanError::Timeout(self.timeout))?
            .map_err(|e| ScanError::Device(format!("scanimage: {e}")))?;
        if !status.success() {
            let _ = std::fs::remove_file(&image);
            warn!(%status, %stderr, "scan failed");
            return Err(ScanError::Device(fault_reason(&stderr, status)));
        }
        let (path, kind) = match settings.format {
            ScanFormat::Png => (image, ContentKind::Png),
            ScanFormat::Jpeg => (image, ContentKind::Jpeg),
            ScanFormat::Pdf => {
                let pdf = dir.join(format!("{stem}.pdf"));
                let (j, p, dpi) = (image.clone(), pdf.clone(), settings.dpi);
                let r = tokio::task::spawn_blocking(move || crate::pdf::jpeg_to_pdf(&j, &p, dpi)).await;
                let _ = std::fs::remove_file(&image);
                match r {
                    Ok(Ok(())) => {}
                    Ok(Err(source)) => return Err(ScanError::Io { path: pdf, source }),
                    Err(e) => return Err(ScanError::Device(format!("PDF wrapping task failed: {e}"))),
                }
                (pdf, ContentKind::Pdf)
            }
        };
        let size = std::fs::metadata(&path).map_err(|source| ScanError::Io { path: path.clone(), source })?.len();
        info!(path = %path.display(), size, "scan done");
        Ok(ScanOutput { path, kind, size })
    }

    async fn has_feeder(&self) -> bool {
        self.feeder_source().await.is_some()
    }

    async fn scan_feeder(&self, settings: ScanSettings, dir: &Path, stem: &str, max: u32) -> Fed {
        self.feed(settings, dir, stem, max).await
    }
}

/// Whether scanimage reports the device's own status (a fault) on this line.
pub(crate) fn is_status_line(line: &str) -> bool {
    line.contains("sane_start:") || line.contains("sane_read:") || line.contains("open of device")
}

/// "scanimage: sane_read: Document feeder jammed" → "Document feeder jammed".
///
/// The device's status line (`sane_start:`/`sane_read:`) wins over later
/// lines: after a fault the `test` backend's reader can die of SIGPIPE, and
/// scanimage then adds "received signal 13" / "trying to stop scanner".
pub(crate) fn fault_reason(stderr: &str, status: std::process::ExitStatus) -> String {
    let status_line = stderr.lines().find(|l| is_status_line(l));
    let line = status_line
        .or_else(|| stderr.lines().rev().find(|l| l.starts_with("scanimage:")))
        .or_else(|| stderr.lines().rev().find(|l| !l.trim().is_empty()));
    match line {
        Some(l) => l.rsplit(": ").next().unwrap_or(l).trim().to_string(),
        None => format!("scanimage failed ({status})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn fault_reason_prefers_the_device_status() {
        let st = std::process::ExitStatus::from_raw(6 << 8);
        let err = "scanimage: sane_read: Document feeder jammed\nscanimage: received signal 13\nscanimage: trying to stop scanner\n";
        assert_eq!(fault_reason(err, st), "Document feeder jammed");
        assert_eq!(fault_reason("scanimage: open of device foo failed: Invalid argument\n", st), "Invalid argument");
        assert_eq!(fault_reason("", st), format!("scanimage failed ({st})"));
    }
}
