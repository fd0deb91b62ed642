//! The documents data channel, as the document-transfer crate sees it.
//!
//! The offerer (the kiosk) creates one reliable, ordered channel labelled
//! [`DOCUMENTS_CHANNEL`]; both sides get a [`DataChannelHandle`] through
//! [`CallEvent::DataChannelOpen`](crate::CallEvent::DataChannelOpen).
//! Back-pressure both ways: `send` waits while more than the configured send
//! buffer limit is unacknowledged, and a reader that falls behind slows the
//! channel instead of growing memory.

use crate::call::{CallEvent, Emitter};
use crate::error::CallError;
use bytes::BytesMut;
use std::sync::Arc;
use tokio::sync::{Mutex, Notify, mpsc};
use webrtc::data_channel::{DataChannel, DataChannelEvent};

/// The label of the data channel the document-transfer crate uses.
pub const DOCUMENTS_CHANNEL: &str = "visio-documents";

/// A message received on the documents channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelMessage {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(bytes::Bytes),
}

/// The reliable, ordered data channel of a call, for the document-transfer
/// crate. Cheap to clone. Sending waits while more than the configured send
/// buffer limit is outstanding (back-pressure); [`try_send`](Self::try_send)
/// fails instead.
#[derive(Clone)]
pub struct DataChannelHandle {
    inner: Arc<DataChannelInner>,
}

struct DataChannelInner {
    label: String,
    channel: Arc<dyn DataChannel>,
    incoming: Mutex<mpsc::Receiver<ChannelMessage>>,
    low: Arc<Notify>,
}

impl std::fmt::Debug for DataChannelHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataChannelHandle").field("label", &self.inner.label).finish()
    }
}

impl DataChannelHandle {
    /// The channel's label (`visio-documents`).
    pub fn label(&self) -> &str {
        &self.inner.label
    }

    /// Sends bytes, waiting while the send buffer is full.
    pub async fn send(&self, data: &[u8]) -> Result<(), CallError> {
        Ok(self.inner.channel.send(BytesMut::from(data)).await?)
    }

    /// Sends text, waiting while the send buffer is full.
    pub async fn send_text(&self, text: &str) -> Result<(), CallError> {
        Ok(self.inner.channel.send_text(text).await?)
    }

    /// Sends bytes now, or fails with a "buffer full" transport error.
    pub async fn try_send(&self, data: &[u8]) -> Result<(), CallError> {
        Ok(self.inner.channel.try_send(BytesMut::from(data)).await?)
    }

    /// Bytes handed to `send` and not yet acknowledged by the peer.
    pub async fn buffered_amount(&self) -> Result<usize, CallError> {
        Ok(self.inner.channel.outstanding_bytes().await?)
    }

    /// Waits until the send buffer is below its limit.
    pub async fn writable(&self) -> Result<(), CallError> {
        Ok(self.inner.channel.writable().await?)
    }

    /// Sets the low-water mark for [`buffered_amount_low`](Self::buffered_amount_low).
    pub async fn set_buffered_amount_low_threshold(&self, bytes: u32) -> Result<(), CallError> {
        Ok(self.inner.channel.set_buffered_amount_low_threshold(bytes).await?)
    }

    /// Waits until the buffered amount falls below the low-water mark.
    pub async fn buffered_amount_low(&self) {
        self.inner.low.notified().await;
    }

    /// The next message from the peer; `None` once the channel has closed.
    pub async fn recv(&self) -> Option<ChannelMessage> {
        self.inner.incoming.lock().await.recv().await
    }

    /// Closes the channel (the call goes on).
    pub async fn close(&self) -> Result<(), CallError> {
        Ok(self.inner.channel.close().await?)
    }
}

/// One data channel: events → call events, messages → the handle.
pub(crate) async fn pump_data_channel(channel: Arc<dyn DataChannel>, emit: Emitter) {
    let label = channel.label().await.unwrap_or_default();
    if label != DOCUMENTS_CHANNEL {
        tracing::warn!(%label, "ignoring an unexpected data channel");
        return;
    }
    let (tx, rx) = mpsc::channel(256);
    let low = Arc::new(Notify::new());
    let handle = DataChannelHandle {
        inner: Arc::new(DataChannelInner { label, channel: Arc::clone(&channel), incoming: Mutex::new(rx), low: Arc::clone(&low) }),
    };
    let mut announced = false;
    while let Some(event) = channel.poll().await {
        match event {
            DataChannelEvent::OnOpen if !announced => {
                announced = true;
                emit.send(CallEvent::DataChannelOpen(handle.clone()));
            }
            DataChannelEvent::OnMessage(message) => {
                let message = if message.is_string {
                    ChannelMessage::Text(String::from_utf8_lossy(&message.data).into_owned())
                } else {
                    ChannelMessage::Binary(message.data.freeze())
                };
                // Awaiting here is the receive-side back-pressure: a reader
                // that falls behind slows the channel rather than growing memory.
                if tx.send(message).await.is_err() {
                    tracing::debug!("data channel message dropped: no reader");
                }
            }
            DataChannelEvent::OnBufferedAmountLow => low.notify_waiters(),
            DataChannelEvent::OnClose => break,
            _ => {}
        }
    }
    if announced {
        emit.send(CallEvent::DataChannelClosed);
    }
}

