//! What the core's unit tests share: an endpoint whose link is up, and
//! what it emitted and sent.

use std::time::Instant;

use super::{Endpoint, Event, Limits, Output, Side, Transmit};

/// An endpoint on `side` with default limits, its link up.
pub(super) fn up(side: Side) -> Endpoint {
    let mut e = Endpoint::new(side, Limits::default());
    e.handle_link_up(Instant::now());
    e
}

/// The events it emitted and the text messages it sent since the last look.
pub(super) fn drain(e: &mut Endpoint) -> (Vec<Event>, Vec<String>) {
    let (mut events, mut sent) = (Vec::new(), Vec::new());
    while let Some(o) = e.poll_output() {
        match o {
            Output::Event(ev) => events.push(ev),
            Output::Transmit(Transmit::Text(t)) => sent.push(t),
            _ => {}
        }
    }
    (events, sent)
}
