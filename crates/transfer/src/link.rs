//! The message link: what the driver needs from a data channel, and its
//! webrtc-rs adapter. Everything webrtc-specific in this crate is here.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::sync::mpsc;
use tracing::{debug, warn};
use webrtc::data_channel::{DataChannel, DataChannelEvent, RTCDataChannelState};

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

/// A webrtc-rs 0.21 data channel as a [`MessageLink`].
#[derive(Clone)]
pub struct WebrtcLink {
    dc: Arc<dyn DataChannel>,
}

impl std::fmt::Debug for WebrtcLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebrtcLink").field("id", &self.dc.id()).finish()
    }
}

impl WebrtcLink {
    /// Takes over a data channel: sets the buffered-amount marks and starts a
    /// task forwarding its events. The caller must not `poll()` the channel
    /// any more. If it is already open, `Open` is the first event.
    pub async fn attach(dc: Arc<dyn DataChannel>) -> Result<(WebrtcLink, mpsc::Receiver<LinkEvent>), LinkError> {
        let e = |e: webrtc::error::Error| LinkError(e.to_string());
        dc.set_buffered_amount_low_threshold(BUFFER_LOW).await.map_err(e)?;
        dc.set_buffered_amount_high_threshold(BUFFER_HIGH).await.map_err(e)?;
        let open_now = dc.ready_state().await.map_err(e)? == RTCDataChannelState::Open;
        // Bounded: a slow driver slows the reader task, which lets SCTP's own
        // receive window push back on the peer.
        let (tx, rx) = mpsc::channel(256);
        let poller = dc.clone();
        tokio::spawn(async move {
            let mut opened = false;
            if open_now {
                opened = true;
                let _ = tx.send(LinkEvent::Open).await;
            }
            while let Some(ev) = poller.poll().await {
                let out = match ev {
                    DataChannelEvent::OnOpen if !opened => {
                        opened = true;
                        LinkEvent::Open
                    }
                    DataChannelEvent::OnOpen => continue,
                    DataChannelEvent::OnMessage(m) if m.is_string => match String::from_utf8(m.data.to_vec()) {
                        Ok(s) => LinkEvent::Text(s),
                        Err(_) => {
                            warn!("non-UTF-8 text message dropped");
                            continue;
                        }
                    },
                    DataChannelEvent::OnMessage(m) => LinkEvent::Binary(m.data.to_vec()),
                    DataChannelEvent::OnBufferedAmountLow => LinkEvent::BufferLow,
                    DataChannelEvent::OnBufferedAmountHigh => LinkEvent::BufferHigh,
                    DataChannelEvent::OnClose => break,
                    other => {
                        debug!(?other, "data channel event");
                        continue;
                    }
                };
                if tx.send(out).await.is_err() {
                    return; // driver gone
                }
            }
            let _ = tx.send(LinkEvent::Closed).await;
        });
        Ok((WebrtcLink { dc }, rx))
    }
}

impl MessageLink for WebrtcLink {
    fn send<'a>(&'a self, msg: &'a Transmit) -> LinkFuture<'a> {
        Box::pin(async move {
            let r = match msg {
                Transmit::Text(t) => self.dc.send_text(t).await,
                Transmit::Binary(b) => self.dc.send(BytesMut::from(&b[..])).await,
            };
            r.map_err(|e| LinkError(e.to_string()))
        })
    }

    fn close(&self) -> LinkFuture<'_> {
        Box::pin(async move { self.dc.close().await.map_err(|e| LinkError(e.to_string())) })
    }
}
