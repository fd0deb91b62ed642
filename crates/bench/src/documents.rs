//! The call's documents channel as visio-transfer's message link: the same
//! few lines as the kiosk's `visit::documents_link` (crates/kiosk), which the
//! kiosk crate does not export; copied so the bench moves a scan exactly as
//! the kiosk does, without depending on the kiosk's UI.

use std::sync::Arc;

use tokio::sync::mpsc;
use visio_media::{ChannelMessage, DataChannelHandle};
use visio_transfer::Transmit;
use visio_transfer::link::{LinkError, LinkEvent, LinkFuture, MessageLink};

#[derive(Debug, Clone)]
pub struct DocumentsLink {
    channel: DataChannelHandle,
}

impl DocumentsLink {
    pub fn attach(channel: DataChannelHandle) -> (Arc<dyn MessageLink>, mpsc::Receiver<LinkEvent>) {
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
                    return;
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
