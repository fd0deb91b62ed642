//! The scan interview on the kiosk's side of the visit: the transfer's
//! interview notices become what the session core and the screen need,
//! and the resident's consent goes back to the transfer session.

use visio_kiosk_core::{DocumentCommand, DocumentEvent};
use visio_transfer::interview::InterviewNotice;

use super::{Device, Runner, VisitEvent};

impl Runner {
    /// The session core's document commands other than wiping the spool.
    pub(super) fn scan_command(&self, command: DocumentCommand) {
        let Some(documents) = &self.documents else { return };
        let result = match command {
            DocumentCommand::RequireScanConsent(on) => documents.handle.require_scan_consent(on),
            DocumentCommand::ScanConsent { req, page, accept } => documents.handle.scan_consent(req, page, accept),
            DocumentCommand::WipeSpool | DocumentCommand::ShowView { .. } | DocumentCommand::Sign { .. } | DocumentCommand::RefuseSign => Ok(()),
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, "scan command after the documents ended");
        }
    }

    /// An interview step, for the screen.
    pub(super) fn interview_notice(&self, notice: InterviewNotice) -> Option<DocumentEvent> {
        match notice {
            InterviewNotice::Place { pages, feeder, .. } => Some(DocumentEvent::ScanPlace { pages, feeder }),
            InterviewNotice::Scanning { page } => Some(DocumentEvent::ScanPageScanning { page }),
            InterviewNotice::Consent { req, page, preview } => {
                // The page picture first, so the question never shows alone.
                let _ = self.events.send(VisitEvent::ScanPreview(preview));
                Some(DocumentEvent::ScanConsent { req, page })
            }
            InterviewNotice::Cancelled => {
                // The scanner did its part: a later fault is a new one.
                let _ = self.events.send(VisitEvent::DeviceFault { device: Device::Scanner, fault: None });
                Some(DocumentEvent::ScanCancelled)
            }
        }
    }
}
