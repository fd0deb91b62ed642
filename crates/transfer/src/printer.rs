//! The printer shell: CUPS over IPP (`ipp` crate, blocking client).
//!
//! IPP rather than `lp`: the job's state and the printer's state reasons
//! (`media-empty`, `paused`...) come back as typed attributes instead of
//! text parsed out of `lpstat`, which also reports "running" when it is not.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ipp::prelude::*;
use tracing::{debug, info, warn};

use crate::check::ContentKind;

/// A finished print job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintReport {
    /// The CUPS job id.
    pub job_id: i32,
}

/// Why printing failed; the message is what the agent reads.
#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    /// The print server could not be reached or answered garbage.
    #[error("printer server {uri}: {detail}")]
    Ipp {
        /// The printer URI.
        uri: String,
        /// What went wrong.
        detail: String,
    },
    /// The server refused the job.
    #[error("printer refused the job: {0}")]
    Refused(String),
    /// The job ended aborted or cancelled.
    #[error("print job {job_id} {state}: {reasons}")]
    JobFailed {
        /// The job.
        job_id: i32,
        /// "aborted", "canceled" or "stopped".
        state: &'static str,
        /// The job's state reasons.
        reasons: String,
    },
    /// The printer stopped (out of paper, paused, jammed...); our job was cancelled.
    #[error("printer stopped ({reasons}); job {job_id} cancelled")]
    PrinterStopped {
        /// The job.
        job_id: i32,
        /// The printer's state reasons.
        reasons: String,
    },
    /// Still not printed after the deadline.
    #[error("print job {job_id} not finished after {waited:?}")]
    Timeout {
        /// The job.
        job_id: i32,
        /// How long we waited.
        waited: Duration,
    },
    /// The file to print could not be opened.
    #[error("cannot open {path}: {source}")]
    File {
        /// Which.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl PrintError {
    /// True when the printer or the print server is at fault (stopped,
    /// unreachable, refusing jobs, too slow), false when the job itself
    /// failed (a document a filter could not convert) or the file was missing.
    pub fn is_device_fault(&self) -> bool {
        !matches!(self, PrintError::JobFailed { .. } | PrintError::File { .. })
    }
}

/// Something that prints a file and reports when it is done.
pub trait Printer: Send + Sync + 'static {
    /// Prints `path` (of type `kind`) and waits for the job's end.
    fn print(&self, path: &Path, kind: ContentKind, title: &str) -> impl Future<Output = Result<PrintReport, PrintError>> + Send;

    /// False on a kiosk without a printer: a document sent to print is
    /// refused as soon as it is offered, not after the whole file came.
    fn available(&self) -> bool {
        true
    }
}

/// The reason given when a kiosk without a printer is asked to print (French, then English).
pub const NO_PRINTER: &str = "cette borne n'a pas d'imprimante / this kiosk has no printer";

/// A queue's state as IPP reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueState {
    /// `printer-state` is stopped (paused, out of paper, jammed...).
    pub stopped: bool,
    /// `printer-state-reasons` and `printer-state-message`, as text
    /// (`none` when all is well).
    pub reasons: String,
}

impl QueueState {
    /// Whether a reason stops printing: out of paper, jammed, door open,
    /// offline, paused... (RFC 8011 and PWG 5100.9 keywords), whatever
    /// their severity suffix. Printers do not agree on it (an IPP
    /// Everywhere printer may say `media-empty-report` while idle and
    /// `-warning` while printing), and an empty tray stops the print all
    /// the same. Conditions that only announce one (`toner-low`,
    /// `media-low`) do not.
    pub fn blocked(&self) -> bool {
        self.reasons.split([',', ';']).map(str::trim).any(|reason| {
            let keyword = ["-error", "-warning", "-report"].iter().find_map(|s| reason.strip_suffix(s)).unwrap_or(reason);
            STOPPING.contains(&keyword)
        })
    }
}

/// The state reasons [`QueueState::blocked`] stops at.
const STOPPING: [&str; 10] = [
    "media-empty",
    "media-jam",
    "media-needed",
    "toner-empty",
    "marker-supply-empty",
    "door-open",
    "cover-open",
    "input-tray-missing",
    "offline",
    "paused",
];

/// A CUPS queue reached over IPP.
#[derive(Debug, Clone)]
pub struct CupsPrinter {
    /// e.g. `ipp://127.0.0.1:631/printers/kiosk`.
    pub uri: String,
    /// Longest wait for a job to complete.
    pub timeout: Duration,
    /// How often the job is polled.
    pub poll_every: Duration,
}

impl CupsPrinter {
    /// A queue at `uri`, waiting up to 2 minutes per job.
    pub fn new(uri: impl Into<String>) -> Self {
        CupsPrinter { uri: uri.into(), timeout: Duration::from_secs(120), poll_every: Duration::from_millis(250) }
    }

    fn err(&self, detail: impl ToString) -> PrintError {
        PrintError::Ipp { uri: self.uri.clone(), detail: detail.to_string() }
    }

    /// The queue's state, read without printing (the kiosk's device
    /// health between visits). Blocking: run it on a blocking thread.
    ///
    /// A driverless queue (`lpadmin -m everywhere`, its device an `ipp://`
    /// printer or an `ipp-usb` one on localhost) learns its printer's state
    /// only while a job runs: idle, it says "none" with the paper tray
    /// empty. So the printer itself is asked too, and its reasons join the
    /// queue's. An `ipps://` device is not asked (the kiosk's IPP client
    /// has no TLS); docs/deploy.md says to name printers by `ipp://`.
    pub fn queue_state_blocking(&self) -> Result<QueueState, PrintError> {
        let uri: Uri = self.uri.parse().map_err(|e| self.err(format!("bad URI: {e}")))?;
        let client = IppClient::builder(uri.clone()).request_timeout(Duration::from_secs(10)).build();
        let queue = printer_attributes(&client, &uri, &["printer-state", "printer-state-reasons", "printer-state-message", "device-uri"])
            .map_err(|detail| self.err(detail))?;
        let mut state = QueueState { stopped: queue.state == Some(PrinterState::Stopped), reasons: queue.reasons_text() };
        let Some(device) = queue.device_uri.filter(|d| d.starts_with("ipp://")) else { return Ok(state) };
        let device_err = |detail: String| PrintError::Ipp { uri: device.clone(), detail };
        let device_uri: Uri = device.parse().map_err(|e| device_err(format!("bad device URI: {e}")))?;
        let device_client = IppClient::builder(device_uri.clone()).request_timeout(Duration::from_secs(10)).build();
        let printer = printer_attributes(&device_client, &device_uri, &["printer-state", "printer-state-reasons", "printer-state-message"])
            .map_err(device_err)?;
        debug!(%device, reasons = %printer.reasons_text(), "driverless printer state");
        state.stopped |= printer.state == Some(PrinterState::Stopped);
        if printer.reasons.iter().any(|r| r != "none") {
            let queue_is_well = state.reasons == "none" || state.reasons.is_empty();
            state.reasons = if queue_is_well { printer.reasons_text() } else { format!("{}, {}", state.reasons, printer.reasons_text()) };
        }
        Ok(state)
    }

    /// Submits and follows the job (blocking: run it on a blocking thread).
    pub fn print_blocking(&self, path: &Path, kind: ContentKind, title: &str) -> Result<PrintReport, PrintError> {
        let file = std::fs::File::open(path).map_err(|source| PrintError::File { path: path.into(), source })?;
        self.submit_blocking(IppPayload::new(file), kind.mime(), title)
    }

    /// Prints a document made in memory (a receipt) and follows the job
    /// (blocking). Nothing is written to disk here.
    pub fn print_bytes_blocking(&self, bytes: Vec<u8>, kind: ContentKind, title: &str) -> Result<PrintReport, PrintError> {
        self.submit_blocking(IppPayload::new(std::io::Cursor::new(bytes)), kind.mime(), title)
    }

    fn submit_blocking(&self, payload: IppPayload, mime: &str, title: &str) -> Result<PrintReport, PrintError> {
        let uri: Uri = self.uri.parse().map_err(|e| self.err(format!("bad URI: {e}")))?;
        let client = IppClient::builder(uri.clone()).request_timeout(Duration::from_secs(30)).build();
        let op = IppOperationBuilder::print_job(uri.clone(), payload)
            .user_name("visio-kiosk")
            .job_title(title)
            .document_format(mime)
            .build()
            .map_err(|e| self.err(e))?;
        let resp = client.send(op).map_err(|e| self.err(e))?;
        if !resp.header().status_code().is_success() {
            return Err(PrintError::Refused(format!("{:?}", resp.header().status_code())));
        }
        let job_id = resp
            .attributes()
            .groups_of(DelimiterTag::JobAttributes)
            .find_map(|g| g.get("job-id"))
            .and_then(|a| match a.value() {
                IppValue::Integer(i) => Some(*i),
                _ => None,
            })
            .ok_or_else(|| self.err("no job-id in the Print-Job answer"))?;
        info!(job_id, uri = %self.uri, "print job submitted");

        let start = Instant::now();
        loop {
            let op = IppOperationBuilder::get_job_attributes(uri.clone(), job_id).build().map_err(|e| self.err(e))?;
            let resp = client.send(op).map_err(|e| self.err(e))?;
            let job = resp.attributes().groups_of(DelimiterTag::JobAttributes).next().cloned();
            let state = job.as_ref().and_then(|g| g.get("job-state")).and_then(|a| match a.value() {
                IppValue::Enum(e) => JobState::from_i32(*e),
                _ => None,
            });
            let reasons = job.as_ref().and_then(|g| g.get("job-state-reasons")).map(|a| values_text(a.value())).unwrap_or_default();
            debug!(job_id, ?state, %reasons, "job state");
            match state {
                Some(JobState::Completed) => {
                    info!(job_id, "print job completed");
                    self.purge(&client, &uri, job_id);
                    return Ok(PrintReport { job_id });
                }
                Some(JobState::Aborted) => {
                    // Aborted because the printer itself cannot print (a
                    // driverless printer out of paper aborts the job): the
                    // printer's fault, said as such.
                    // The queue forgets the printer's reasons with the job:
                    // ask the printer itself too.
                    if let Ok(printer) = self.queue_state_blocking()
                        && (printer.stopped || printer.blocked())
                    {
                        self.purge(&client, &uri, job_id);
                        return Err(PrintError::PrinterStopped { job_id, reasons: printer.reasons });
                    }
                    return Err(PrintError::JobFailed { job_id, state: "aborted", reasons });
                }
                Some(JobState::Canceled) => return Err(PrintError::JobFailed { job_id, state: "canceled", reasons }),
                _ => {}
            }
            // A stopped printer (paused, out of paper) would hold the job
            // forever: tell the agent now rather than at the timeout. A
            // driverless printer's queue is not stopped but carries the
            // printer's reasons (`media-empty`) while the job waits for paper.
            let (pstate, preasons) = self.printer_state(&client, &uri)?;
            let printer = QueueState { stopped: pstate == Some(PrinterState::Stopped), reasons: preasons };
            // The job is cancelled and purged: printed later, the paper would
            // come out for the next resident.
            if printer.stopped || printer.blocked() {
                warn!(job_id, reasons = %printer.reasons, "printer stopped; cancelling the job");
                self.purge(&client, &uri, job_id);
                return Err(PrintError::PrinterStopped { job_id, reasons: printer.reasons });
            }
            // The job alone stopped (a filter failed on the document,
            // `job-completed-with-errors`): the job failed, not the printer.
            if state == Some(JobState::ProcessingStopped) {
                warn!(job_id, %reasons, "job stopped by CUPS; cancelling it");
                self.purge(&client, &uri, job_id);
                return Err(PrintError::JobFailed { job_id, state: "stopped", reasons });
            }
            if start.elapsed() > self.timeout {
                self.purge(&client, &uri, job_id);
                return Err(PrintError::Timeout { job_id, waited: start.elapsed() });
            }
            std::thread::sleep(self.poll_every);
        }
    }

    /// Asks CUPS to forget the job now: by default it keeps the document
    /// file for a day (`PreserveJobFiles 86400`) and the job's history, and
    /// nothing of an interview may stay on the kiosk. Best effort: the kiosk's
    /// cupsd.conf should also say `PreserveJobFiles No` and `PreserveJobHistory No`.
    fn purge(&self, client: &IppClient, uri: &Uri, job_id: i32) {
        let op = match IppOperationBuilder::cancel_job(uri.clone(), job_id).user_name("visio-kiosk").build() {
            Ok(op) => op,
            Err(e) => {
                warn!(job_id, error = %e, "cannot build the purge request");
                return;
            }
        };
        let mut req: IppRequestResponse = op.into();
        // CUPS extension: Cancel-Job with purge-job=true also removes a finished job's files and history.
        match IppAttribute::with_name("purge-job", IppValue::Boolean(true)) {
            Ok(a) => req.attributes_mut().add(DelimiterTag::OperationAttributes, a),
            Err(e) => warn!(error = %e, "cannot name the purge-job attribute"),
        }
        match client.send(req) {
            Ok(resp) if resp.header().status_code().is_success() => debug!(job_id, "job purged from CUPS"),
            Ok(resp) => warn!(job_id, status = ?resp.header().status_code(), "CUPS did not purge the job"),
            Err(e) => warn!(job_id, error = %e, "CUPS did not purge the job"),
        }
    }

    fn printer_state(&self, client: &IppClient, uri: &Uri) -> Result<(Option<PrinterState>, String), PrintError> {
        let g = printer_attributes(client, uri, &["printer-state", "printer-state-reasons", "printer-state-message"]).map_err(|e| self.err(e))?;
        Ok((g.state, g.reasons_text()))
    }
}

/// What Get-Printer-Attributes said of a queue or a printer.
struct PrinterAttributes {
    state: Option<PrinterState>,
    /// `printer-state-reasons` keywords.
    reasons: Vec<String>,
    /// `printer-state-message`, empty when none.
    message: String,
    /// A CUPS queue's `device-uri`.
    device_uri: Option<String>,
}

impl PrinterAttributes {
    /// The reasons, then the message after `; ` (`none` when all is well).
    fn reasons_text(&self) -> String {
        let reasons = self.reasons.join(", ");
        if self.message.is_empty() { reasons } else { format!("{reasons}; {}", self.message) }
    }
}

fn printer_attributes(client: &IppClient, uri: &Uri, names: &[&str]) -> Result<PrinterAttributes, String> {
    let op = IppOperationBuilder::get_printer_attributes(uri.clone()).attributes(names).build().map_err(|e| e.to_string())?;
    let resp = client.send(op).map_err(|e| e.to_string())?;
    let g = resp.attributes().groups_of(DelimiterTag::PrinterAttributes).next().cloned();
    let get = |name: &str| g.as_ref().and_then(|g| g.get(name)).map(|a| a.value().clone());
    let state = get("printer-state").and_then(|v| match v {
        IppValue::Enum(e) => PrinterState::from_i32(e),
        _ => None,
    });
    let reasons = match get("printer-state-reasons") {
        Some(IppValue::Array(a)) => a.iter().map(|v| v.to_string()).collect(),
        Some(v) => vec![v.to_string()],
        None => Vec::new(),
    };
    let message = get("printer-state-message").map(|v| values_text(&v)).unwrap_or_default();
    let device_uri = get("device-uri").map(|v| v.to_string());
    Ok(PrinterAttributes { state, reasons, message, device_uri })
}

fn values_text(v: &IppValue) -> String {
    match v {
        IppValue::Array(a) => a.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

impl Printer for CupsPrinter {
    async fn print(&self, path: &Path, kind: ContentKind, title: &str) -> Result<PrintReport, PrintError> {
        let (me, path, title) = (self.clone(), path.to_path_buf(), title.to_string());
        tokio::task::spawn_blocking(move || me.print_blocking(&path, kind, &title))
            .await
            .unwrap_or_else(|e| Err(PrintError::Ipp { uri: String::new(), detail: format!("print task failed: {e}") }))
    }
}
