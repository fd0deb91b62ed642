//! The document feeder: whether a SANE device has one (its `--source`
//! option lists a feeder), and every page it holds scanned in one go with
//! `scanimage --batch`.
//!
//! The batch writes into a folder of its own inside the session spool;
//! whole pages are moved out of it, then the folder (with any page a jam
//! cut short) is removed before the call returns.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tracing::{info, warn};

use crate::check::ContentKind;
use crate::scanner::{FAULT_GRACE, Fed, SaneScanner, ScanError, ScanOutput, fault_reason, is_status_line};
use crate::wire::ScanSettings;

/// Longest a scanner may take to open and list its options.
pub const OPEN_WITHIN: Duration = Duration::from_secs(20);

impl SaneScanner {
    /// Opens the device and reads its options (`scanimage -A`) without
    /// scanning, and remembers whether it has a feeder. The error is a
    /// sentence for the fleet view.
    pub async fn list_options(&self) -> Result<(), String> {
        let mut command = tokio::process::Command::new("scanimage");
        command.arg("-d").arg(&self.device).arg("--all-options").env("LC_ALL", "C");
        if let Some(dir) = &self.config_dir {
            command.env("SANE_CONFIG_DIR", dir);
        }
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        let output = match tokio::time::timeout(OPEN_WITHIN, command.output()).await {
            Err(_) => return Err(format!("scanner did not open within {} s", OPEN_WITHIN.as_secs())),
            Ok(Err(e)) => return Err(format!("scanimage could not run: {e}")),
            Ok(Ok(output)) => output,
        };
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            // The last line says why ("open of device … failed: Invalid
            // argument"); the first may be scanimage's note on the format.
            let why = stderr.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or("scanimage failed");
            return Err(format!("scanner not ready: {why}"));
        }
        let source = feeder_source(&String::from_utf8_lossy(&output.stdout));
        *self.feeder.lock().unwrap_or_else(|e| e.into_inner()) = Some(source);
        Ok(())
    }

    /// The `--source` value that selects the feeder, `None` without one.
    /// Read from the device the first time (the kiosk's probe usually did).
    pub async fn feeder_source(&self) -> Option<String> {
        if let Some(known) = self.known_feeder() {
            return known;
        }
        if let Err(why) = self.list_options().await {
            warn!(%why, "the scanner's options could not be read");
        }
        self.known_feeder().flatten()
    }

    fn known_feeder(&self) -> Option<Option<String>> {
        self.feeder.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Every page in the feeder, at most `max`, as `{stem}-{n}.jpg` in `dir`.
    pub(crate) async fn feed(&self, settings: ScanSettings, dir: &Path, stem: &str, max: u32) -> Fed {
        let stopped = |e| Fed { pages: Vec::new(), stopped: Some(e), at_limit: false };
        let Some(source) = self.feeder_source().await else { return stopped(ScanError::NoFeeder) };
        if max == 0 {
            return Fed { pages: Vec::new(), stopped: None, at_limit: true };
        }
        let batch = dir.join(format!("{stem}-feeder"));
        if let Err(e) = std::fs::create_dir(&batch) {
            return stopped(ScanError::Io { path: batch, source: e });
        }
        let mut cmd = self.command(&settings, "jpeg");
        // After the device's extra options, so the feeder wins over a `--source` there.
        cmd.arg("--source").arg(&source).arg(format!("--batch={}", batch.join("p%d.jpg").display())).arg(format!("--batch-count={max}"));
        info!(device = %self.device, ?settings, max, "scanning the feeder");
        let run = self.run_batch(cmd).await;
        let pages = collect(&batch, dir, stem);
        let _ = std::fs::remove_dir_all(&batch);
        match (pages, run) {
            (Err(e), _) => stopped(e),
            (Ok(pages), Ok(())) => {
                info!(pages = pages.len(), "feeder scanned");
                let at_limit = pages.len() >= max as usize;
                Fed { pages, stopped: None, at_limit }
            }
            (Ok(pages), Err(e)) => {
                warn!(pages = pages.len(), error = %e, "feeder stopped");
                Fed { pages, stopped: Some(e), at_limit: false }
            }
        }
    }

    /// Runs the batch to its end: `Ok` when the feeder ran out of paper or
    /// the page count was reached.
    async fn run_batch(&self, mut cmd: tokio::process::Command) -> Result<(), ScanError> {
        let mut child = cmd.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ScanError::NotInstalled,
            _ => ScanError::Device(format!("cannot start scanimage: {e}")),
        })?;
        let mut lines = BufReader::new(child.stderr.take().expect("stderr is piped")).lines();
        let mut stderr = String::new();
        loop {
            // scanimage writes a line as each page begins and ends: no line
            // within the timeout is a stalled page, however many came before.
            match tokio::time::timeout(self.timeout, lines.next_line()).await {
                Err(_) => {
                    let _ = child.kill().await;
                    return Err(ScanError::Timeout(self.timeout));
                }
                Ok(Ok(Some(line))) => {
                    let status = is_status_line(&line);
                    stderr.push_str(&line);
                    stderr.push('\n');
                    if status {
                        // As for one page: the device said its word; do not wait on a hung reader.
                        if tokio::time::timeout(FAULT_GRACE, child.wait()).await.is_err() {
                            let _ = child.kill().await;
                        }
                        break;
                    }
                }
                Ok(_) => break,
            }
        }
        let status = match tokio::time::timeout(FAULT_GRACE, child.wait()).await {
            Err(_) => {
                let _ = child.kill().await;
                return Err(ScanError::Timeout(self.timeout));
            }
            Ok(Err(e)) => return Err(ScanError::Device(format!("scanimage: {e}"))),
            Ok(Ok(status)) => status,
        };
        if ended_normally(&stderr, status.success()) { Ok(()) } else { Err(ScanError::Device(fault_reason(&stderr, status))) }
    }
}

/// The `--source` value of the feeder in a `scanimage -A` listing: a value
/// naming a feeder ("Automatic Document Feeder", "ADF", "ADF Front"),
/// one-sided first. `None` when there is none or the option is inactive.
pub fn feeder_source(listing: &str) -> Option<String> {
    let line = listing.lines().map(str::trim_start).find_map(|l| l.strip_prefix("--source "))?;
    let (values, default) = line.split_once(" [").unwrap_or((line, ""));
    if default.starts_with("inactive") {
        return None;
    }
    let lower = |v: &&str| v.to_lowercase();
    let feeders: Vec<&str> = values.split('|').map(str::trim).filter(|v| lower(v).contains("adf") || lower(v).contains("feeder")).collect();
    let one_sided = feeders.iter().find(|v| !["duplex", "back", "rear"].iter().any(|w| lower(v).contains(w)));
    one_sided.or(feeders.first()).map(|v| v.to_string())
}

/// Whether a batch ended as it should: the feeder ran out of paper (SANE's
/// "Document feeder out of documents", at `sane_start` after the last page
/// or at once for an empty feeder), or scanimage succeeded. Anything else
/// the device said (jammed, cover open) is a fault.
fn ended_normally(stderr: &str, success: bool) -> bool {
    match stderr.lines().find(|l| is_status_line(l)) {
        Some(line) => line.contains("out of documents"),
        None => success,
    }
}

/// `p7.jpg` → 7: a whole page of the batch (scanimage renames a page to
/// this name only once it is complete).
fn page_number(name: &str) -> Option<u32> {
    name.strip_prefix('p')?.strip_suffix(".jpg")?.parse().ok()
}

/// Moves the batch's pages, in order, to `{stem}-{n}.jpg` in `dir`.
fn collect(batch: &Path, dir: &Path, stem: &str) -> Result<Vec<ScanOutput>, ScanError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ScanError::Io { path, source }
    };
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(batch)
        .map_err(io(batch))?
        .filter_map(|e| {
            let e = e.ok()?;
            Some((page_number(e.file_name().to_str()?)?, e.path()))
        })
        .collect();
    found.sort();
    let mut pages = Vec::with_capacity(found.len());
    for (n, from) in found {
        let to = dir.join(format!("{stem}-{n}.jpg"));
        let moved = std::fs::rename(&from, &to).and_then(|()| std::fs::metadata(&to)).map_err(io(&to));
        match moved {
            Ok(meta) => pages.push(ScanOutput { path: to, kind: ContentKind::Jpeg, size: meta.len() }),
            Err(e) => {
                for p in pages {
                    let _ = std::fs::remove_file(p.path);
                }
                let _ = std::fs::remove_file(&to);
                return Err(e);
            }
        }
    }
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_feeder_is_found_in_the_source_option() {
        // SANE's test backend, sane-utils 1.1.1.
        let test = "  Scan Mode:\n    --resolution 1..1200dpi (in steps of 1) [50]\n    --source Flatbed|Automatic Document Feeder [Flatbed]\n        If Automatic Document Feeder is selected, the feeder will be 'empty'\n";
        assert_eq!(feeder_source(test).as_deref(), Some("Automatic Document Feeder"));
        // eSCL/airscan and hpaio style; a two-sided feeder only when nothing else.
        assert_eq!(feeder_source("    --source Flatbed|ADF Duplex|ADF [Flatbed]\n").as_deref(), Some("ADF"));
        assert_eq!(feeder_source("    --source ADF Back|ADF Front|ADF Duplex [ADF Front]\n").as_deref(), Some("ADF Front"));
        assert_eq!(feeder_source("    --source ADF Duplex [ADF Duplex]\n").as_deref(), Some("ADF Duplex"));
        // Flatbed only, a transparency unit, an inactive option, no option at all.
        assert_eq!(feeder_source("    --source Flatbed|Transparency Adapter [Flatbed]\n"), None);
        assert_eq!(feeder_source("    --source Flatbed|ADF [inactive]\n"), None);
        assert_eq!(feeder_source("    --mode Gray|Color [Gray]\n"), None);
    }

    #[test]
    fn an_empty_feeder_ends_a_batch_and_a_jam_does_not() {
        let out_of_paper = "Scanning page 3\nscanimage: sane_start: Document feeder out of documents\nBatch terminated, 2 pages scanned\n";
        assert!(ended_normally(out_of_paper, true));
        assert!(ended_normally(out_of_paper, false), "killed after the device said it is empty");
        let empty_at_once = "Scanning page 1\nscanimage: sane_read: Document feeder out of documents\nScanned page 1. (scanner status = 7)\n";
        assert!(ended_normally(empty_at_once, true));
        assert!(ended_normally("Scanning 4 pages\nScanned page 4. (scanner status = 5)\nBatch terminated, 4 pages scanned\n", true));
        let jam = "Scanning page 2\nscanimage: sane_read: Document feeder jammed\nScanned page 2. (scanner status = 6)\n";
        assert!(!ended_normally(jam, false));
        assert!(!ended_normally("Scanning page 1\n", false), "a crash without a word from the device");
    }

    #[test]
    fn only_whole_pages_are_collected_in_order() {
        assert_eq!(page_number("p12.jpg"), Some(12));
        assert_eq!(page_number("p3.jpg.part"), None);
        assert_eq!(page_number("x3.jpg"), None);
        let dir = tempfile::tempdir().unwrap();
        let batch = dir.path().join("b");
        std::fs::create_dir(&batch).unwrap();
        for (name, bytes) in [("p10.jpg", 3), ("p2.jpg", 2), ("p11.jpg.part", 1)] {
            std::fs::write(batch.join(name), vec![0; bytes]).unwrap();
        }
        let pages = collect(&batch, dir.path(), "s").unwrap();
        let got: Vec<_> = pages.iter().map(|p| (p.path.file_name().unwrap().to_str().unwrap().to_owned(), p.size)).collect();
        assert_eq!(got, vec![("s-2.jpg".to_owned(), 2), ("s-10.jpg".to_owned(), 3)]);
    }
}
