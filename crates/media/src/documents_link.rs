//! The call's documents channel as visio-transfer's message link, behind
//! the `transfer` feature: the kiosk, the benchmarks and the link tests all
//! move documents through this one adapter (docs/decisions.md, "One
//! documents link"). visio-transfer knows nothing of the call.

use std::sync::Arc;

use tokio::sync::mpsc;
use crate::{ChannelMessage, DataChannelHandle};
use visio_transfer::Transmit;
use visio_transfer::link::{LinkError, LinkEvent, LinkFuture, MessageLink};

/// A [`DataChannelHandle`] speaking [`MessageLink`].
///
/// Back-pressure needs no buffer marks here: the handle's `send` itself waits
/// while the channel's send buffer is full, so the driver never races ahead.
#[derive(Debug, Clone)]
pub struct DocumentsLink {
    channel: DataChannelHandle,
}

impl DocumentsLink {
    /// Takes over an open channel's incoming side: messages go to the returned
    /// receiver (first `Open`, last `Closed`). Nothing else may `recv` on it.
    pub fn attach(channel: DataChannelHandle) -> (Arc<dyn MessageLink>, mpsc::Receiver<LinkEvent>) {
        // Bounded: a slow driver slows this reader, and SCTP pushes back on
        // the peer instead of memory growing here.
        let (tx, rx) = mpsc::channel(256);
        let reader = channel.clone();
        tokio::spawn(async move {
            if tx.send(LinkEvent::Open).await.is_err() {
                return;
            }
            while let Some(message) = reader.recv().await {
                let event = match message {
                    ChannelMessage::Text(text) => LinkEvent::Text(text),
                    ChannelMessage::Binary(bytes) => LinkEvent::Binary(bytes.to_vec()),
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
