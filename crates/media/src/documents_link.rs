//! The call's documents channel as visio-transfer's message link, behind
//! the `transfer` feature: the kiosk, the benchmarks and the transfer tests
//! all move documents through this one adapter (docs/decisions.md #57, "One
//! documents link", and #264). visio-transfer knows nothing of the call.

use std::sync::Arc;

use crate::{ChannelEvent, ChannelMessage, DataChannelHandle};
use tokio::sync::mpsc;
use visio_transfer::Transmit;
use visio_transfer::link::{BUFFER_HIGH, BUFFER_LOW, LinkError, LinkEvent, LinkFuture, MessageLink};

/// A [`DataChannelHandle`] speaking [`MessageLink`].
///
/// Back-pressure in two layers: the channel's buffer marks
/// ([`BUFFER_LOW`], [`BUFFER_HIGH`]) reach the transfer core as
/// `BufferLow`/`BufferHigh`, so it holds chunks while SCTP has a quarter
/// megabyte unacknowledged and control messages still go; the handle's
/// `send` waits at the call's send-buffer limit, the hard stop behind them.
#[derive(Debug, Clone)]
pub struct DocumentsLink {
    channel: DataChannelHandle,
}

impl DocumentsLink {
    /// Takes over an open channel's incoming side: sets its buffer marks,
    /// then messages and mark crossings go to the returned receiver (first
    /// `Open`, last `Closed`). Nothing else may read the channel.
    pub fn attach(channel: DataChannelHandle) -> (Arc<dyn MessageLink>, mpsc::Receiver<LinkEvent>) {
        // Bounded: a slow driver slows this reader, and SCTP pushes back on
        // the peer instead of memory growing here.
        let (tx, rx) = mpsc::channel(256);
        let reader = channel.clone();
        tokio::spawn(async move {
            if let Err(e) = reader.set_buffer_marks(BUFFER_LOW, BUFFER_HIGH).await {
                // The channel is already gone: the driver sees it closed.
                tracing::debug!(error = %e, "documents channel closed before its marks were set");
                let _ = tx.send(LinkEvent::Closed).await;
                return;
            }
            if tx.send(LinkEvent::Open).await.is_err() {
                return;
            }
            while let Some(event) = reader.next_event().await {
                let event = match event {
                    ChannelEvent::Message(ChannelMessage::Text(text)) => LinkEvent::Text(text),
                    ChannelEvent::Message(ChannelMessage::Binary(bytes)) => LinkEvent::Binary(bytes.to_vec()),
                    ChannelEvent::BufferedAmountLow => LinkEvent::BufferLow,
                    ChannelEvent::BufferedAmountHigh => LinkEvent::BufferHigh,
                };
                if tx.send(event).await.is_err() {
                    return; // the driver is gone
                }
            }
            let _ = tx.send(LinkEvent::Closed).await;
        });
        (Arc::new(DocumentsLink { channel }), rx)
    }
}

impl MessageLink for DocumentsLink {
    fn send<'a>(&'a self, msg: &'a Transmit) -> LinkFuture<'a> {
        Box::pin(async move {
            let sent = match msg {
                Transmit::Text(text) => self.channel.send_text(text).await,
                Transmit::Binary(bytes) => self.channel.send(bytes).await,
            };
            sent.map_err(|e| LinkError(e.to_string()))
        })
    }

    fn close(&self) -> LinkFuture<'_> {
        Box::pin(async move { self.channel.close().await.map_err(|e| LinkError(e.to_string())) })
    }
}
