//! The driver's end of one connection: the queue its writer drains, and a
//! way to close it at once, whatever is queued or stuck in the socket.
//!
//! A queue alone cannot close a connection whose peer stopped reading: the
//! writer is blocked sending, the queue is full, and a close put behind
//! 256 messages would never be reached. So closing is a separate signal
//! that the writer and the reader both watch; the first reason given wins.

use std::sync::{Arc, OnceLock};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use visio_protocol::ErrorBody;

/// What a connection's writer task sends on the socket.
#[derive(Debug)]
pub enum Outgoing {
    Text(String),
}

/// Why and how a connection is closed.
#[derive(Debug, Clone)]
pub struct Closing {
    /// The WebSocket close code.
    pub code: u16,
    /// The close frame's reason (at most 123 bytes on the wire).
    pub reason: String,
    /// A last `error` message for the peer, sent before the close frame.
    pub error: Option<ErrorBody>,
    /// Whether what is already queued goes out first (a replaced or
    /// restarting connection), or is dropped (a peer too slow to read it).
    pub drain: bool,
}

impl Closing {
    pub fn new(code: u16, reason: impl Into<String>) -> Closing {
        Closing { code, reason: reason.into(), error: None, drain: true }
    }

    pub fn with_error(mut self, error: ErrorBody) -> Closing {
        self.error = Some(error);
        self
    }

    pub fn dropping_queue(mut self) -> Closing {
        self.drain = false;
        self
    }
}

/// Closes one connection; cheap to clone, shared by its reader, its writer
/// and the driver.
#[derive(Debug, Clone, Default)]
pub struct Closer {
    token: CancellationToken,
    why: Arc<OnceLock<Closing>>,
}

impl Closer {
    /// Asks the connection to close. The first call's reason wins; later
    /// ones are ignored.
    pub fn close(&self, closing: Closing) {
        let _ = self.why.set(closing);
        self.token.cancel();
    }

    pub async fn closed(&self) {
        self.token.cancelled().await;
    }

    pub fn is_closed(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Why it was closed, once it was.
    pub fn why(&self) -> Option<&Closing> {
        self.why.get()
    }
}

/// The driver's handle on one connection.
#[derive(Debug, Clone)]
pub struct PeerLink {
    pub queue: mpsc::Sender<Outgoing>,
    pub closer: Closer,
    /// When its credentials were checked: a revocation after this closes it.
    pub since: jiff::Timestamp,
}

impl PeerLink {
    pub fn close(&self, closing: Closing) {
        self.closer.close(closing);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reason_wins() {
        let closer = Closer::default();
        assert!(!closer.is_closed());
        closer.close(Closing::new(1008, "too slow").dropping_queue());
        closer.close(Closing::new(1012, "restarting"));
        assert!(closer.is_closed());
        let why = closer.why().unwrap();
        assert_eq!((why.code, why.reason.as_str(), why.drain), (1008, "too slow", false));
    }
}
