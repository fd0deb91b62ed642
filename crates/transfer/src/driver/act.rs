//! What the kiosk does with a file the agent pushed, once it is all there
//! and its hash matched: read it with a real decoder, then print it, show
//! it, or show it to be signed; and tell the agent what became of it.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;
use tracing::warn;

use crate::check::ContentKind;
use crate::display::Display;
use crate::driver::{KioskServices, Notice, SessionHandle};
use crate::inspect::{DocumentLimits, inspect};
use crate::printer::Printer;
use crate::scanner::Scanner;
use crate::wire::{OutcomeKind, Purpose, ScanSettings};

pub(crate) async fn action_failed(h: &SessionHandle, tx: &mpsc::UnboundedSender<Notice>, id: u32, purpose: Purpose, reason: String, device_fault: bool) {
    let _ = tx.send(Notice::ActionFailed { id, purpose, reason: reason.clone(), device_fault });
    let _ = h.report_outcome(id, OutcomeKind::Failed, Some(reason)).await;
}

/// A received file to print, show or sign.
pub(crate) struct FileJob {
    pub(crate) id: u32,
    pub(crate) purpose: Purpose,
    pub(crate) kind: crate::check::ContentKind,
    pub(crate) file: PathBuf,
    pub(crate) document: DocumentLimits,
}

pub(crate) async fn act_on_file<S: Scanner, P: Printer, D: Display>(h: SessionHandle, s: Arc<KioskServices<S, P, D>>, tx: mpsc::UnboundedSender<Notice>, job: FileJob) {
    let FileJob { id, purpose, kind, file, document } = job;
    if matches!(purpose, Purpose::Scan | Purpose::ScanPreview | Purpose::Signed) {
        return;
    }
    if purpose == Purpose::Sign && kind != ContentKind::Pdf {
        return action_failed(&h, &tx, id, purpose, crate::sign::NOT_A_PDF.into(), false).await;
    }
    // Read with a real decoder before any printer or screen sees it.
    let info = match inspect(&file, kind, &document).await {
        Ok(info) => info,
        Err(e) => {
            warn!(id, error = %e, "document refused");
            return action_failed(&h, &tx, id, purpose, e.reason(), e.is_kiosk_fault()).await;
        }
    };
    match purpose {
        // The job title is neutral: CUPS logs and may keep titles, and the
        // document's name is the resident's business.
        Purpose::Print => match s.printer.print(&file, kind, &format!("visio-{id:08x}")).await {
            Ok(report) => {
                let _ = tx.send(Notice::Printed { id, job_id: report.job_id });
                let _ = h.report_outcome(id, OutcomeKind::Printed, None).await;
            }
            Err(e) => {
                let device_fault = e.is_device_fault();
                action_failed(&h, &tx, id, purpose, e.to_string(), device_fault).await
            }
        },
        Purpose::Display => match s.display.render_page(&file, kind, 1, h.spool_dir(), &format!("page-{id:08x}")).await {
            Ok(first) => {
                let _ = tx.send(Notice::Shown { id, pages: info.pages.max(1), first, source: file, kind });
                let _ = h.report_outcome(id, OutcomeKind::Shown, None).await;
            }
            Err(e) => {
                warn!(id, error = %e, "document not shown");
                action_failed(&h, &tx, id, purpose, e.reason(), e.is_kiosk_fault()).await
            }
        },
        // The last page first: where a form's signature usually goes.
        Purpose::Sign => match s.display.render_page(&file, kind, info.pages.max(1), h.spool_dir(), &format!("page-{id:08x}")).await {
            Ok(last) => {
                let _ = tx.send(Notice::SignAsked { id, pages: info.pages.max(1), last, source: file });
            }
            Err(e) => {
                warn!(id, error = %e, "document to sign not shown");
                action_failed(&h, &tx, id, purpose, e.reason(), e.is_kiosk_fault()).await
            }
        },
        Purpose::Scan | Purpose::ScanPreview | Purpose::Signed => {}
    }
}

/// A one-shot scan (`scan_request`): scan, then send the file.
pub(crate) async fn scan<S: Scanner, P: Printer, D: Display>(h: SessionHandle, s: Arc<KioskServices<S, P, D>>, tx: mpsc::UnboundedSender<Notice>, req: u32, settings: ScanSettings) {
    let _ = h.scan_started(req).await;
    match s.scanner.scan(settings, h.spool_dir(), &format!("scan-{req}")).await {
        Ok(out) => {
            let name = out.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| format!("scan-{req}"));
            match h.push_file(&out.path, &name, Purpose::Scan, Some(req)).await {
                Ok((id, sha256)) => {
                    let _ = tx.send(Notice::Scanned { req, id, path: out.path, sha256 });
                }
                Err(e) => scan_failed(&h, &tx, req, e.to_string()).await,
            }
        }
        Err(e) => scan_failed(&h, &tx, req, e.to_string()).await,
    }
}

pub(crate) async fn scan_failed(h: &SessionHandle, tx: &mpsc::UnboundedSender<Notice>, req: u32, reason: String) {
    let _ = tx.send(Notice::ScanFailed { req, reason: reason.clone() });
    let _ = h.scan_failed(req, reason).await;
}
