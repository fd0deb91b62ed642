//! Where the session's outputs go, the same for both shells (window and
//! headless): hub messages to the hub link, call and document commands to
//! the visit task. What only a shell can do (show an event, play the chime)
//! comes back to it. Nothing is dropped on the way: a command given before
//! the link or the task is there waits for it, and a channel that stopped is
//! said in the log.

use tokio::sync::mpsc::UnboundedSender;
use visio_kiosk_core::{KioskEvent, Output};

use crate::hub_link::Command as HubCommand;
use crate::visit::Command as VisitCommand;

/// What a shell does itself.
#[derive(Debug)]
pub enum ShellOutput {
    Event(KioskEvent),
    Chime,
    /// Where the sound goes (a kiosk with a handset: [`crate::handset`]).
    RouteSound(visio_protocol::SoundOutput),
}

/// The two routes out of the session.
#[derive(Debug)]
pub struct Carrier {
    hub: Route<HubCommand>,
    visit: Route<VisitCommand>,
}

impl Carrier {
    /// `hub`/`visit`: whether this kiosk has them at all (a window kiosk
    /// previewing its screens has neither); their channels come later
    /// through [`Carrier::hub_ready`] and [`Carrier::visit_ready`].
    pub fn new(hub: bool, visit: bool) -> Carrier {
        Carrier { hub: Route::new("hub link", hub), visit: Route::new("visit task", visit) }
    }

    /// A carrier whose routes are there from the start.
    pub fn connected(hub: UnboundedSender<HubCommand>, visit: UnboundedSender<VisitCommand>) -> Carrier {
        let mut carrier = Carrier::new(true, true);
        carrier.hub_ready(hub);
        carrier.visit_ready(visit);
        carrier
    }

    /// Sends one output where it goes; hands back what the shell does itself.
    pub fn carry(&mut self, output: Output) -> Option<ShellOutput> {
        match output {
            Output::ConnectHub { resume } => self.hub.send(HubCommand::Connect { resume }),
            Output::ToHub(message) => self.hub.send(HubCommand::Send(Box::new(message))),
            Output::Call(command) => self.visit.send(VisitCommand::Call(command)),
            Output::Documents(command) => self.visit.send(VisitCommand::Documents(command)),
            Output::PrintReceipt(receipt) => self.visit.send(VisitCommand::PrintReceipt(receipt)),
            Output::PrintCallbackSlip(slip) => self.visit.send(VisitCommand::PrintSlip(slip)),
            Output::Event(event) => return Some(ShellOutput::Event(event)),
            Output::Chime => return Some(ShellOutput::Chime),
            Output::RouteSound(to) => return Some(ShellOutput::RouteSound(to)),
        }
        None
    }

    pub fn to_hub(&mut self, command: HubCommand) {
        self.hub.send(command);
    }

    pub fn to_visit(&mut self, command: VisitCommand) {
        self.visit.send(command);
    }

    pub fn hub_ready(&mut self, tx: UnboundedSender<HubCommand>) {
        self.hub.ready(tx);
    }

    pub fn visit_ready(&mut self, tx: UnboundedSender<VisitCommand>) {
        self.visit.ready(tx);
    }

    /// The channels, for a shell that finishes its visit on its own.
    pub fn channels(&self) -> (Option<UnboundedSender<HubCommand>>, Option<UnboundedSender<VisitCommand>>) {
        (self.hub.tx.clone(), self.visit.tx.clone())
    }

    /// The visit task is told to stop: its channel goes.
    pub fn close_visit(&mut self) {
        self.visit.tx = None;
        self.visit.enabled = false;
    }
}

#[derive(Debug)]
struct Route<T> {
    name: &'static str,
    enabled: bool,
    tx: Option<UnboundedSender<T>>,
    pending: Vec<T>,
}

impl<T> Route<T> {
    fn new(name: &'static str, enabled: bool) -> Self {
        Route { name, enabled, tx: None, pending: Vec::new() }
    }

    fn send(&mut self, item: T) {
        if !self.enabled {
            return;
        }
        match &self.tx {
            Some(tx) => {
                // The command itself is not logged: it may name a session.
                if tx.send(item).is_err() {
                    tracing::warn!(route = self.name, "the route has stopped; command not carried");
                }
            }
            None => self.pending.push(item),
        }
    }

    fn ready(&mut self, tx: UnboundedSender<T>) {
        for item in self.pending.drain(..) {
            let _ = tx.send(item);
        }
        self.tx = Some(tx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc::unbounded_channel;
    use visio_kiosk_core::CallCommand;
    use visio_protocol::KioskToHub;

    #[test]
    fn commands_given_before_the_routes_exist_wait_for_them_in_order() {
        let mut carrier = Carrier::new(true, true);
        assert!(carrier.carry(Output::ToHub(KioskToHub::CancelCall)).is_none());
        assert!(carrier.carry(Output::ToHub(KioskToHub::HelpCancel)).is_none());
        assert!(carrier.carry(Output::Call(CallCommand::End)).is_none());
        let (hub, mut from_hub) = unbounded_channel();
        carrier.hub_ready(hub);
        assert!(matches!(from_hub.try_recv(), Ok(HubCommand::Send(m)) if *m == KioskToHub::CancelCall));
        assert!(matches!(from_hub.try_recv(), Ok(HubCommand::Send(m)) if *m == KioskToHub::HelpCancel));
        let (visit, mut from_visit) = unbounded_channel();
        carrier.visit_ready(visit);
        assert!(matches!(from_visit.try_recv(), Ok(VisitCommand::Call(CallCommand::End))));
        assert!(matches!(carrier.carry(Output::Chime), Some(ShellOutput::Chime)));
    }

    #[test]
    fn a_kiosk_without_a_hub_keeps_nothing_for_it() {
        let mut carrier = Carrier::new(false, true);
        carrier.carry(Output::ToHub(KioskToHub::CancelCall));
        assert!(carrier.hub.pending.is_empty());
    }
}
