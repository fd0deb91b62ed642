//! The app's subscriptions' streams: the call's pictures, the visit task,
//! the hub link, and the stop signal.

use std::hash::{Hash, Hasher};

use futures_util::SinkExt;
use tokio::sync::mpsc;
use visio_media::{Frames, VideoFrame};
use visio_protocol::SessionId;

use super::{HubSettings, HubUpdate, Message, VisitSettings, VisitUpdate};
use crate::hub_link;
use crate::visit;

/// A call's picture as an iced subscription, one per call.
#[derive(Clone, Debug)]
pub(super) struct FrameSource {
    pub session: SessionId,
    pub frames: Frames,
}

impl Hash for FrameSource {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.session.hash(state);
    }
}

/// The resident's own picture: a subscription distinct from the agent's.
#[derive(Clone, Debug)]
pub(super) struct LocalSource(pub FrameSource);

impl Hash for LocalSource {
    fn hash<H: Hasher>(&self, state: &mut H) {
        "local".hash(state);
        self.0.hash(state);
    }
}

/// The newest frames, one at a time: the stream's buffer of one plus the
/// media crate's newest-wins slot keep at most two pictures in flight, so a
/// slow screen drops frames instead of growing memory.
pub(super) fn frame_stream(source: &FrameSource) -> impl iced::futures::Stream<Item = VideoFrame> + use<> {
    let frames = source.frames.clone();
    iced::stream::channel(1, async move |mut output| {
        while let Some(frame) = frames.next().await {
            if output.send(frame).await.is_err() {
                return;
            }
        }
    })
}

/// The visit task as an iced stream: first its command sender, then events.
pub(super) fn visit_stream(settings: &VisitSettings) -> impl iced::futures::Stream<Item = VisitUpdate> + use<> {
    let devices = settings.devices.clone();
    iced::stream::channel(64, async move |mut output| {
        let (commands, mut events) = visit::spawn(devices);
        let _ = output.send(VisitUpdate::Ready(commands)).await;
        while let Some(event) = events.recv().await {
            if output.send(VisitUpdate::Event(event)).await.is_err() {
                return;
            }
        }
        let _ = output.send(VisitUpdate::Failed("the call task stopped".into())).await;
    })
}

/// SIGTERM or SIGINT, once, as a message.
pub(super) fn stop_stream() -> impl iced::futures::Stream<Item = Message> {
    iced::stream::channel(1, async |mut output| {
        crate::stop::requested().await;
        let _ = output.send(Message::Stop).await;
        std::future::pending::<()>().await;
    })
}

/// The hub link as an iced stream: first the command sender, then events.
pub(super) fn hub_stream(hub: &HubSettings) -> impl iced::futures::Stream<Item = HubUpdate> + use<> {
    let hub = hub.clone();
    iced::stream::channel(64, async move |mut output| {
        let (commands_tx, commands_rx) = mpsc::unbounded_channel();
        let (events_tx, mut events_rx) = mpsc::channel(64);
        let _ = output.send(HubUpdate::Ready(commands_tx)).await;
        tokio::spawn(hub_link::run(hub.endpoint, hub.tls, commands_rx, events_tx));
        while let Some(event) = events_rx.recv().await {
            if output.send(HubUpdate::Event(event)).await.is_err() {
                return;
            }
        }
    })
}

/// Whether the kiosk's handset is plugged in: the first answer of the
/// sound server, then each change.
pub(super) fn handset_stream(sinks: &visio_config::kiosk::SoundSinks) -> impl iced::futures::Stream<Item = Message> + use<> {
    let router = std::sync::Arc::new(crate::handset::SoundRouter::new(sinks.clone()));
    iced::stream::channel(4, async move |mut output| {
        let mut present = crate::handset::watch(router);
        while let Some(present) = present.recv().await {
            if output.send(Message::Handset(present)).await.is_err() {
                return;
            }
        }
    })
}
