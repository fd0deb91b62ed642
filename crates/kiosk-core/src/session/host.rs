//! "Appeler l'accueil": the resident asks for the town hall's host, on any
//! screen. The kiosk says "Demande envoyée…" until a host acknowledges on
//! the host page (`host_coming`), and only then "Quelqu'un de l'accueil
//! arrive". The request ends when the resident cancels it or leaves (the
//! kiosk goes home by itself).

use std::time::Instant;

use visio_protocol::KioskToHub;

use super::*;
use super::event::KioskEvent;

/// Where the resident's call for the host stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostCall {
    #[default]
    None,
    /// Asked while the kiosk has no hub: sent once it is back.
    Pending,
    /// Asked, and sent to the hub; no host has acknowledged yet.
    Asked,
    /// A host acknowledged: someone is coming.
    Coming,
}

#[derive(Debug, Default)]
pub(super) struct HostState {
    pub call: HostCall,
    /// The screen named in the last request sent, to tell the hub when it
    /// changes while the request waits.
    sent_screen: Option<&'static str>,
}

impl Session {
    /// The resident's call for the host.
    pub fn host_call(&self) -> HostCall {
        self.host.call
    }

    pub(super) fn call_host(&mut self, now: Instant) {
        self.touch(now);
        if self.host.call != HostCall::None {
            return;
        }
        self.host.call = HostCall::Pending;
        self.event(KioskEvent::HostCalled { screen: screen_name(&self.screen).into() });
        self.send_help_request();
        self.say(if self.host.call == HostCall::Asked { Prompt::HostAsked } else { Prompt::HostPending });
    }

    pub(super) fn cancel_host(&mut self, now: Instant) {
        self.touch(now);
        self.end_host_call();
    }

    /// The resident left (the kiosk went home by itself) or cancelled.
    pub(super) fn end_host_call(&mut self) {
        if self.host.call == HostCall::None {
            return;
        }
        self.host.call = HostCall::None;
        self.host.sent_screen = None;
        self.event(KioskEvent::HostCallEnded);
        if self.hub_up {
            self.outputs.push_back(Output::ToHub(KioskToHub::HelpCancel));
        }
    }

    /// `host_coming`: said and shown once, for a request still open.
    pub(super) fn host_coming(&mut self) {
        if self.host.call != HostCall::Asked {
            return;
        }
        self.host.call = HostCall::Coming;
        self.event(KioskEvent::HostComing);
        self.say(Prompt::HostComing);
    }

    /// After a welcome: the hub forgot a request that no host acknowledged
    /// when the link dropped; ask again.
    pub(super) fn host_welcome(&mut self) {
        self.host.sent_screen = None;
        if self.host.call == HostCall::Pending {
            self.send_help_request();
            self.say(Prompt::HostAsked);
        }
    }

    /// The hub is gone, and a request nobody acknowledged with it.
    pub(super) fn host_hub_lost(&mut self) {
        if self.host.call == HostCall::Asked {
            self.host.call = HostCall::Pending;
        }
    }

    /// After every change: the hosts see the screen the resident sees.
    pub(super) fn host_screen_changed(&mut self) {
        if self.host.call == HostCall::Asked && self.host.sent_screen != Some(screen_name(&self.screen)) {
            self.send_help_request();
        }
    }

    fn send_help_request(&mut self) {
        if !self.hub_up {
            return;
        }
        self.host.call = HostCall::Asked;
        let screen = screen_name(&self.screen);
        self.host.sent_screen = Some(screen);
        self.outputs.push_back(Output::ToHub(KioskToHub::HelpRequest { screen: screen.into() }));
    }
}

/// The name the hosts' page shows for what the resident sees.
pub fn screen_name(screen: &Screen) -> &'static str {
    match screen {
        Screen::Connecting => "connecting",
        Screen::OutOfService { .. } => "out_of_service",
        Screen::Home { .. } => "home",
        Screen::Requesting { .. } => "requesting",
        Screen::Waiting(_) => "waiting",
        Screen::InCall(call) if matches!(call.document, DocumentView::ScanPlace { .. } | DocumentView::ScanningPage { .. } | DocumentView::ScanConsent { .. } | DocumentView::Scanning { .. }) => "scan",
        Screen::InCall(call) if call.document != DocumentView::None => "document",
        Screen::InCall(_) => "call",
        Screen::Ended(_) => "ended",
        Screen::Callback(_) => "callback",
    }
}

#[cfg(test)]
#[path = "host_tests.rs"]
mod tests;
