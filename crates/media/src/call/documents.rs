//! The documents channel's life on the offerer's side (the kiosk): created
//! with the first offer, and created again when it closes while the call
//! goes on, so transfers resume on the new one (docs/protocol.md,
//! "Document transfer").

use super::*;

/// Channels the offerer opens again in one call, at most: a peer that
/// closes every documents channel at once would otherwise keep both sides
/// busy for the rest of the call.
pub(super) const MAX_DOCUMENTS_REOPENS: u32 = 20;

/// How long after our channel closed the new one opens. webrtc-rs frees
/// the stream id at once and gives it to the new channel; a peer still
/// finishing the old stream's reset then closes the new channel as the old
/// one (webrtc-rs 0.21.1 as answerer did: 6 of 8 reopens on loopback were
/// lost without a wait). Two seconds cover a few satellite round trips.
pub(super) const DOCUMENTS_REOPEN_AFTER: Duration = Duration::from_secs(2);

impl Driver {
    /// A new reliable, ordered documents channel (in-band, DCEP: the peer
    /// hears of it without a new offer once the association is up).
    pub(super) async fn open_documents_channel(&mut self) -> Result<(), CallError> {
        // Reliable and ordered: documents must arrive whole and in order.
        let init = webrtc::data_channel::RTCDataChannelInit { ordered: true, ..Default::default() };
        let channel = self.pc.create_data_channel(DOCUMENTS_CHANNEL, Some(init)).await?;
        self.data_channel_created = true;
        self.documents = Some(Arc::clone(&channel));
        let (emit, internal) = (self.emit.clone(), self.internal_tx.clone());
        let opened = {
            let emit = emit.clone();
            move |handle| emit.send(CallEvent::DataChannelOpen(handle))
        };
        self.tasks.push(tokio::spawn(pump_data_channel(channel, self.data_uplink.clone(), opened, move || {
            emit.send(CallEvent::DataChannelClosed);
            let _ = internal.send(Internal::DocumentsClosed);
        })));
        Ok(())
    }

    /// Our documents channel closed (the peer closed it, or its SCTP
    /// stream was reset) while the call goes on: a new one opens after
    /// [`DOCUMENTS_REOPEN_AFTER`] ([`Internal::ReopenDocuments`]).
    pub(super) fn documents_closed(&mut self) {
        if self.state == CallState::Closed {
            return;
        }
        if self.documents_reopens >= MAX_DOCUMENTS_REOPENS {
            tracing::warn!(reopens = self.documents_reopens, "documents channel closed again; not reopened any more this call");
            return;
        }
        self.documents_reopens += 1;
        tracing::info!(reopens = self.documents_reopens, "documents channel closed during the call; a new one opens shortly");
        let internal = self.internal_tx.clone();
        self.tasks.push(tokio::spawn(async move {
            tokio::time::sleep(DOCUMENTS_REOPEN_AFTER).await;
            let _ = internal.send(Internal::ReopenDocuments);
        }));
    }

    /// Opens the new documents channel. A cut does not stop it: the peer
    /// hears of it once the path is back, SCTP retransmitting its opening
    /// meanwhile.
    pub(super) async fn reopen_documents(&mut self) {
        if self.state == CallState::Closed {
            return;
        }
        if let Err(e) = self.open_documents_channel().await {
            tracing::warn!(error = %e, "documents channel not reopened");
            self.emit.send(CallEvent::Error(e));
        }
    }
}

/// A channel the peer opened: its life as call events.
/// What its handle sends is counted in `sent`.
pub(super) async fn data_channel_events(channel: Arc<dyn DataChannel>, emit: Emitter, sent: crate::estimate::DataUplink) {
    let closing = emit.clone();
    let opened = move |handle| emit.send(CallEvent::DataChannelOpen(handle));
    pump_data_channel(channel, sent, opened, move || closing.send(CallEvent::DataChannelClosed)).await;
}
