//! The call and its documents, from answered to ended.

use std::time::Instant;

use visio_protocol::{EndReason, KioskToHub, SessionId};

use super::*;
use super::event::KioskEvent;
use crate::timer::Timer;

impl Session {
    pub(super) fn ask_hang_up(&mut self, now: Instant) {
        if let Screen::InCall(call) = &mut self.screen {
            call.confirm_hang_up = true;
            self.timers.set(Timer::HangUpConfirm, now + self.config.hang_up_confirm);
        }
    }

    pub(super) fn confirm_hang_up(&mut self, now: Instant) {
        let Screen::InCall(call) = &self.screen else { return };
        if !call.confirm_hang_up {
            return;
        }
        let session = call.session.clone();
        self.outputs.push_back(Output::ToHub(KioskToHub::HangUp { session: session.clone() }));
        self.end_call(now, session, EndedReason::Hub(EndReason::KioskHungUp));
    }

    pub(super) fn media(&mut self, now: Instant, event: MediaEvent) {
        let Screen::InCall(call) = &mut self.screen else { return };
        let session = call.session.clone();
        match event {
            MediaEvent::LocalSignal(signal) => {
                // Without the hub, negotiation cannot reach the agent; the
                // media layer retries once the hub is back (ICE restart).
                if self.hub_up {
                    self.outputs.push_back(Output::ToHub(KioskToHub::Signal { session, signal }));
                }
            }
            MediaEvent::Connected => {
                let before = call.media;
                call.media = MediaState::Connected;
                self.ice.handle_up();
                self.sync_ice_timer();
                self.timers.stop(Timer::MediaGiveUp);
                match before {
                    MediaState::Connecting => self.event(KioskEvent::Connected { session: session.to_string() }),
                    MediaState::Reconnecting => self.event(KioskEvent::Reconnected { session: session.to_string() }),
                    MediaState::Connected => {}
                }
            }
            MediaEvent::Reconnecting | MediaEvent::Lost => {
                let lost = matches!(event, MediaEvent::Lost);
                if call.media != MediaState::Reconnecting {
                    call.media = MediaState::Reconnecting;
                    self.event(KioskEvent::Reconnecting { session: session.to_string() });
                    self.timers.set(Timer::MediaGiveUp, now + self.config.media_give_up);
                }
                self.ice.handle_down(now);
                self.sync_ice_timer();
                if lost {
                    self.restart_ice(now);
                }
            }
            MediaEvent::FirstRemoteFrame => self.event(KioskEvent::FirstRemoteFrame { session: session.to_string() }),
            MediaEvent::Measured { uplink_bps, rtt } => self.fleet.call_link.push(uplink_bps, rtt),
            MediaEvent::Failed { reason } => {
                self.event(KioskEvent::CallFailed { session: session.to_string(), reason });
                if self.hub_up {
                    self.outputs.push_back(Output::ToHub(KioskToHub::HangUp { session: session.clone() }));
                }
                self.end_call(now, session, EndedReason::CallFailed);
            }
        }
    }

    /// A document's progress or outcome. An outcome is told once whatever
    /// the screen: it may arrive just after the call ended (the agent hung
    /// up as the scan was delivered); only the call screen shows it.
    pub(super) fn document(&mut self, now: Instant, event: DocumentEvent) {
        self.receipt_document(now, &event);
        let outcome = match &event {
            DocumentEvent::ScanSent { name, size, sha256 } => {
                Some(KioskEvent::ScanSent { name: name.clone(), size: *size, sha256: sha256.clone() })
            }
            DocumentEvent::Printed { name } => Some(KioskEvent::Printed { name: name.clone() }),
            DocumentEvent::Showing { name, pages } => Some(KioskEvent::Displayed { name: name.clone(), pages: *pages }),
            DocumentEvent::Failed { reason } => Some(KioskEvent::DocumentFailed { reason: reason.clone() }),
            DocumentEvent::View(_) => return self.view(now, event),
            DocumentEvent::SignAsked { .. } | DocumentEvent::SignMoved(_) | DocumentEvent::Signed { .. } => return self.sign_event(now, event),
            DocumentEvent::ScanRequested
            | DocumentEvent::ScanPlace { .. }
            | DocumentEvent::ScanPageScanning { .. }
            | DocumentEvent::ScanConsent { .. }
            | DocumentEvent::ScanCancelled
            | DocumentEvent::ScanProgress { .. }
            | DocumentEvent::PrintStarted { .. }
            | DocumentEvent::ShowClosed => None,
        };
        if let Some(e) = outcome {
            self.event(e);
        }
        let Screen::InCall(call) = &mut self.screen else { return };
        let notice = matches!(event, DocumentEvent::ScanSent { .. } | DocumentEvent::Printed { .. } | DocumentEvent::Failed { .. });
        call.document = match event {
            DocumentEvent::ScanPlace { pages, feeder } => DocumentView::ScanPlace { pages, feeder },
            DocumentEvent::ScanPageScanning { page } => DocumentView::ScanningPage { page },
            DocumentEvent::ScanConsent { req, page } => DocumentView::ScanConsent { req, page },
            DocumentEvent::ScanCancelled => DocumentView::None,
            DocumentEvent::ScanRequested => DocumentView::Scanning { percent: None },
            DocumentEvent::ScanProgress { percent } => DocumentView::Scanning { percent: Some(percent.min(100)) },
            DocumentEvent::ScanSent { name, .. } => DocumentView::ScanSent { name },
            DocumentEvent::PrintStarted { name } => DocumentView::Printing { name },
            DocumentEvent::Printed { name } => DocumentView::Printed { name },
            DocumentEvent::Showing { name, pages } => {
                let pages = pages.max(1);
                self.outputs.push_back(Output::Documents(DocumentCommand::ShowView { pages, view: PageView::top_of(1) }));
                DocumentView::Showing { name, pages, page: 1, view: PageView::top_of(1) }
            }
            // Handled above.
            DocumentEvent::View(_) | DocumentEvent::SignAsked { .. } | DocumentEvent::SignMoved(_) | DocumentEvent::Signed { .. } => return,
            DocumentEvent::ShowClosed => DocumentView::None,
            DocumentEvent::Failed { reason } => DocumentView::Failed { reason },
        };
        if notice {
            self.timers.set(Timer::DocumentNotice, now + self.config.document_notice);
        }
    }

    /// The resident answers the scan consent screen: the answer goes to
    /// the documents, and the screen waits for what the agent does next.
    pub(super) fn scan_consent(&mut self, accept: bool) {
        let Screen::InCall(call) = &mut self.screen else { return };
        let DocumentView::ScanConsent { req, page } = call.document else { return };
        self.outputs.push_back(Output::Documents(DocumentCommand::ScanConsent { req, page, accept }));
        call.document = DocumentView::ScanPlace { pages: 0, feeder: false };
    }

    /// Restarts ICE now when the connection is down and the offer can
    /// reach the agent; the policy tries again later otherwise.
    pub(super) fn restart_ice(&mut self, now: Instant) {
        let reachable = self.offer_reaches_agent();
        if self.ice.restart_now(now, reachable) {
            self.outputs.push_back(Output::Call(CallCommand::RestartIce));
        }
        self.sync_ice_timer();
    }

    /// The hub is there and so is the agent: an offer gets through.
    pub(super) fn offer_reaches_agent(&self) -> bool {
        matches!(&self.screen, Screen::InCall(call) if self.hub_up && !call.hub_lost && !call.agent_away)
    }

    /// The restart timer follows the policy's deadline.
    pub(super) fn sync_ice_timer(&mut self) {
        match self.ice.poll_timeout() {
            Some(at) => self.timers.set(Timer::IceRestart, at),
            None => self.timers.stop(Timer::IceRestart),
        }
    }

    pub(super) fn end_call(&mut self, now: Instant, session: SessionId, reason: EndedReason) {
        self.leave_call(now);
        self.receipt_at_end(now);
        self.event(KioskEvent::Ended { session: session.to_string(), reason: reason.into() });
        self.screen = Screen::Ended(Ended { session, reason, rated: None });
        self.timers.set(Timer::EndedReturn, now + self.config.ended_screen);
        self.touch(now);
    }

    /// The call's media and documents go, as at its end; a transfer keeps
    /// the visit going.
    pub(super) fn leave_call(&mut self, now: Instant) {
        // The fleet view hears at once what this call measured (one beat
        // per call), and every heartbeat after it.
        if let Some(link) = self.fleet.call_link.take_summary() {
            self.fleet.last_call = Some(link);
            self.heartbeat(now);
        }
        self.timers.stop(Timer::HangUpConfirm);
        self.timers.stop(Timer::DocumentNotice);
        self.ice.handle_up();
        self.sync_ice_timer();
        self.timers.stop(Timer::MediaGiveUp);
        self.outputs.push_back(Output::Call(CallCommand::End));
        self.outputs.push_back(Output::Documents(DocumentCommand::WipeSpool));
    }
}
