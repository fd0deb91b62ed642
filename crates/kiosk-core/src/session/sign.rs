//! A document to sign: the agent sends it and places the box; the
//! resident signs with a finger inside the box (or clears and signs
//! again, which the screen keeps to itself), or refuses. The session keeps
//! which document is on screen and asks the shell to stamp and send it, or
//! to tell the agent no.

use std::time::Instant;

use super::*;
use super::event::KioskEvent;

impl Session {
    /// The documents' side of signing: a document to sign arrived, its box
    /// moved, or the signed one reached the agent.
    pub(super) fn sign_event(&mut self, now: Instant, event: DocumentEvent) {
        match event {
            DocumentEvent::SignAsked { name, pages, area } => {
                self.event(KioskEvent::SignAsked { name: name.clone(), pages, page: area.page });
                if let Screen::InCall(call) = &mut self.screen {
                    call.document = DocumentView::Signing { name, pages, area };
                }
            }
            DocumentEvent::SignMoved(area) => {
                let Screen::InCall(InCall { document: DocumentView::Signing { area: shown, .. }, .. }) = &mut self.screen else { return };
                *shown = area;
                self.event(KioskEvent::SignPlaced { page: area.page });
            }
            DocumentEvent::Signed { name, size, sha256 } => {
                // Told once whatever the screen (it may come as the call ends).
                self.event(KioskEvent::Signed { name: name.clone(), size, sha256 });
                if let Screen::InCall(call) = &mut self.screen {
                    call.document = DocumentView::Signed { name };
                    self.timers.set(Timer::DocumentNotice, now + self.config.document_notice);
                }
            }
            _ => {}
        }
    }

    /// The resident signed: the strokes go to the shell to be stamped. An
    /// empty signature (no stroke of two points) is not a signature.
    pub(super) fn sign(&mut self, strokes: Vec<Vec<(u32, u32)>>) {
        let Screen::InCall(call) = &mut self.screen else { return };
        let DocumentView::Signing { name, .. } = &call.document else { return };
        if strokes.iter().all(|s| s.len() < 2) {
            return;
        }
        call.document = DocumentView::SignSending { name: name.clone() };
        self.outputs.push_back(Output::Documents(DocumentCommand::Sign { strokes, site: self.site.clone() }));
    }

    /// "Je ne signe pas": the agent is told, the screen says so a moment.
    pub(super) fn refuse_sign(&mut self, now: Instant) {
        let Screen::InCall(call) = &mut self.screen else { return };
        let DocumentView::Signing { name, .. } = &call.document else { return };
        let name = name.clone();
        call.document = DocumentView::SignRefused { name: name.clone() };
        self.outputs.push_back(Output::Documents(DocumentCommand::RefuseSign));
        self.timers.set(Timer::DocumentNotice, now + self.config.document_notice);
        self.receipt_not_signed(now, name.clone());
        self.event(KioskEvent::SignRefused { name });
    }
}
