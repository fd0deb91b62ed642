//! The documents data channel, as the document-transfer crate sees it.
//!
//! The offerer (the kiosk) creates one reliable, ordered channel labelled
//! [`DOCUMENTS_CHANNEL`], and a new one if it closes while the call goes
//! on; both sides get a [`DataChannelHandle`] through
//! [`CallEvent::DataChannelOpen`](crate::CallEvent::DataChannelOpen), once
//! per channel.
//! Back-pressure both ways: `send` waits while more than the configured send
//! buffer limit is unacknowledged, and a reader that falls behind slows the
//! channel instead of growing memory. A sender that paces itself sets buffer
//! marks ([`DataChannelHandle::set_buffer_marks`]) and reads them crossed as
//! [`ChannelEvent`]s, in order with the peer's messages.

use crate::error::CallError;
use crate::estimate::DataUplink;
use bytes::BytesMut;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{Mutex, mpsc, oneshot};
use webrtc::data_channel::{DataChannel, DataChannelEvent, RTCDataChannelState};

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

/// What the documents channel delivers to its reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelEvent {
    /// A message from the peer.
    Message(ChannelMessage),
    /// Our unacknowledged bytes fell to the low mark (only after
    /// [`DataChannelHandle::set_buffer_marks`]).
    BufferedAmountLow,
    /// Our unacknowledged bytes rose to the high mark (only after
    /// [`DataChannelHandle::set_buffer_marks`]).
    BufferedAmountHigh,
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
    incoming: Mutex<mpsc::Receiver<ChannelEvent>>,
    /// Buffer events reach the reader only once it set marks: webrtc-rs
    /// reports "low" each time the buffer empties (its default mark is 0),
    /// and a reader that never asked would find its queue full of them.
    marks_set: AtomicBool,
    /// Counts what is sent, for the call's uplink estimate.
    sent: DataUplink,
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
        self.inner.channel.send(BytesMut::from(data)).await?;
        self.inner.sent.count_sent(data.len());
        Ok(())
    }

    /// Sends text, waiting while the send buffer is full.
    pub async fn send_text(&self, text: &str) -> Result<(), CallError> {
        self.inner.channel.send_text(text).await?;
        self.inner.sent.count_sent(text.len());
        Ok(())
    }

    /// Sends bytes now, or fails with a "buffer full" transport error.
    pub async fn try_send(&self, data: &[u8]) -> Result<(), CallError> {
        self.inner.channel.try_send(BytesMut::from(data)).await?;
        self.inner.sent.count_sent(data.len());
        Ok(())
    }

    /// Bytes handed to `send` and not yet acknowledged by the peer.
    pub async fn buffered_amount(&self) -> Result<usize, CallError> {
        Ok(self.inner.channel.outstanding_bytes().await?)
    }

    /// Waits until the send buffer is below its limit.
    pub async fn writable(&self) -> Result<(), CallError> {
        Ok(self.inner.channel.writable().await?)
    }

    /// Sets the buffered-amount marks (bytes handed to SCTP and not yet
    /// acknowledged by the peer's SCTP) and from then on reports each
    /// crossing through [`next_event`](Self::next_event): "high" when the
    /// amount rises to `high`, "low" when it falls back to `low`.
    pub async fn set_buffer_marks(&self, low: u32, high: u32) -> Result<(), CallError> {
        self.inner.channel.set_buffered_amount_low_threshold(low).await?;
        self.inner.channel.set_buffered_amount_high_threshold(high).await?;
        self.inner.marks_set.store(true, Ordering::Release);
        Ok(())
    }

    /// The next message or buffer-mark crossing; `None` once the channel has closed.
    pub async fn next_event(&self) -> Option<ChannelEvent> {
        self.inner.incoming.lock().await.recv().await
    }

    /// The next message from the peer (buffer-mark crossings are skipped);
    /// `None` once the channel has closed.
    pub async fn recv(&self) -> Option<ChannelMessage> {
        let mut incoming = self.inner.incoming.lock().await;
        loop {
            match incoming.recv().await? {
                ChannelEvent::Message(message) => return Some(message),
                ChannelEvent::BufferedAmountLow | ChannelEvent::BufferedAmountHigh => {}
            }
        }
    }

    /// Closes the channel (the call goes on).
    pub async fn close(&self) -> Result<(), CallError> {
        Ok(self.inner.channel.close().await?)
    }
}

impl DataChannelHandle {
    /// Takes over a bare webrtc-rs data channel, outside a call: the transfer
    /// crate's end-to-end tests and benchmarks run on a plain peer pair. The
    /// same reader as a call's documents channel; returns once it is open.
    pub async fn attach_webrtc(channel: Arc<dyn DataChannel>) -> Result<DataChannelHandle, CallError> {
        let label = channel.label().await?;
        let (handle, pump) = reader(label, Arc::clone(&channel), DataUplink::default());
        let (open_tx, open_rx) = oneshot::channel();
        let mut open_tx = Some(open_tx);
        tokio::spawn(pump.run(move || {
            if let Some(tx) = open_tx.take() {
                let _ = tx.send(());
            }
        }));
        if channel.ready_state().await? != RTCDataChannelState::Open && open_rx.await.is_err() {
            return Err(CallError::Transport("the data channel closed before it opened".into()));
        }
        Ok(handle)
    }
}

/// A handle and the task body that feeds it.
fn reader(label: String, channel: Arc<dyn DataChannel>, sent: DataUplink) -> (DataChannelHandle, Pump) {
    let (tx, rx) = mpsc::channel(256);
    let inner = Arc::new(DataChannelInner { label, channel, incoming: Mutex::new(rx), marks_set: AtomicBool::new(false), sent });
    (DataChannelHandle { inner: Arc::clone(&inner) }, Pump { inner, tx })
}

struct Pump {
    inner: Arc<DataChannelInner>,
    tx: mpsc::Sender<ChannelEvent>,
}

impl Pump {
    /// Reads the channel until it closes: messages and mark crossings to the
    /// handle, `on_open` once. Returns whether it opened.
    async fn run(self, mut on_open: impl FnMut() + Send) -> bool {
        let Pump { inner, tx } = self;
        let mut opened = false;
        while let Some(event) = inner.channel.poll().await {
            match event {
                DataChannelEvent::OnOpen if !opened => {
                    opened = true;
                    on_open();
                }
                DataChannelEvent::OnMessage(message) => {
                    let message = if message.is_string {
                        ChannelMessage::Text(String::from_utf8_lossy(&message.data).into_owned())
                    } else {
                        ChannelMessage::Binary(message.data.freeze())
                    };
                    // Awaiting here is the receive-side back-pressure: a reader
                    // that falls behind slows the channel rather than growing memory.
                    if tx.send(ChannelEvent::Message(message)).await.is_err() {
                        tracing::debug!("data channel message dropped: no reader");
                    }
                }
                DataChannelEvent::OnBufferedAmountLow | DataChannelEvent::OnBufferedAmountHigh if inner.marks_set.load(Ordering::Acquire) => {
                    let crossing = match event {
                        DataChannelEvent::OnBufferedAmountHigh => ChannelEvent::BufferedAmountHigh,
                        _ => ChannelEvent::BufferedAmountLow,
                    };
                    // In order with the messages, so a paced sender sees "high"
                    // before the acks that follow it.
                    if tx.send(crossing).await.is_err() {
                        tracing::debug!("buffer mark dropped: no reader");
                    }
                }
                DataChannelEvent::OnClose => break,
                _ => {}
            }
        }
        opened
    }
}

/// A call's data channel: messages → the handle; `opened` gets the handle
/// once the channel is open, `closed` is called when an open one closes.
/// What the handle sends is counted in `sent`.
pub(crate) async fn pump_data_channel(
    channel: Arc<dyn DataChannel>,
    sent: DataUplink,
    opened: impl Fn(DataChannelHandle) + Send + Sync,
    closed: impl FnOnce() + Send,
) {
    let label = channel.label().await.unwrap_or_default();
    if label != DOCUMENTS_CHANNEL {
        tracing::warn!(%label, "ignoring an unexpected data channel");
        return;
    }
    let (handle, pump) = reader(label, channel, sent);
    if pump.run(|| opened(handle.clone())).await {
        closed();
    }
}
