//! The message link: what the driver needs from a data channel. The one
//! implementation is the call's documents channel, `visio_media::DocumentsLink`
//! (behind visio-media's `transfer` feature): it sets [`BUFFER_LOW`] and
//! [`BUFFER_HIGH`] on the channel and reports their crossings, which the
//! driver feeds to the core as `handle_buffer_low/high`.

use std::future::Future;
use std::pin::Pin;

use crate::core::Transmit;

/// Buffered amount above which chunks stop (`bufferedamounthigh`).
pub const BUFFER_HIGH: u32 = 256 * 1024;
/// Buffered amount below which chunks flow again (`bufferedamountlow`).
pub const BUFFER_LOW: u32 = 64 * 1024;

/// What happens on a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// The channel is open.
    Open,
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// Buffered amount fell below the low mark.
    BufferLow,
    /// Buffered amount rose above the high mark.
    BufferHigh,
    /// The channel closed; no more events.
    Closed,
}

/// A link failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("data channel: {0}")]
pub struct LinkError(pub String);

/// Boxed future, so links can be trait objects.
pub type LinkFuture<'a> = Pin<Box<dyn Future<Output = Result<(), LinkError>> + Send + 'a>>;

/// Sends messages on a reliable, ordered message channel.
pub trait MessageLink: Send + Sync + 'static {
    /// Sends one message (text or binary).
    fn send<'a>(&'a self, msg: &'a Transmit) -> LinkFuture<'a>;
    /// Closes the channel (tests use it to cut a transfer).
    fn close(&self) -> LinkFuture<'_>;
}
