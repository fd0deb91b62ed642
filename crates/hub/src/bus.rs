//! What hub processes tell each other, over NATS (core publish/subscribe,
//! no JetStream): each process listens on `visio.hub.<its name>` and the
//! core addresses [`BusMessage`]s to the process holding the other side of
//! a call. JSON, so a message can be read with `nats sub` when debugging.

use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::core::BusMessage;
use crate::driver::Input;

const SUBJECT_PREFIX: &str = "visio.hub.";

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot connect to NATS: {0}")]
    Connect(#[from] async_nats::ConnectError),
    #[error("cannot subscribe on NATS: {0}")]
    Subscribe(#[from] async_nats::SubscribeError),
}

/// A connection to the bus; cheap to clone.
#[derive(Clone, Debug)]
pub struct Bus {
    client: async_nats::Client,
}

impl Bus {
    pub async fn connect(url: &str) -> Result<Bus, BusError> {
        Ok(Bus { client: async_nats::connect(url).await? })
    }

    /// Starts listening for messages to `process`; call before the
    /// process can be named to others (before it queues anyone), so
    /// nothing addressed to it is missed.
    pub async fn listen(&self, process: &str) -> Result<Listener, BusError> {
        Ok(Listener(self.client.subscribe(format!("{SUBJECT_PREFIX}{process}")).await?))
    }

    /// Sends `message` to the process named `to`. NATS keeps the order of
    /// one publisher's messages to one subject, which is what the
    /// signaling relay needs.
    pub async fn send(&self, to: &str, message: &BusMessage) {
        let payload = match serde_json::to_vec(message) {
            Ok(p) => p,
            Err(e) => return tracing::error!(error = %e, "cannot encode a bus message"),
        };
        if let Err(e) = self.client.publish(format!("{SUBJECT_PREFIX}{to}"), payload.into()).await {
            tracing::error!(error = %e, to, "cannot send on the bus");
        }
    }
}

/// Messages addressed to this process, not yet handed to the driver.
#[derive(Debug)]
pub struct Listener(async_nats::Subscriber);

impl Listener {
    /// Feeds every message to the driver as an input, until either ends.
    pub(crate) fn spawn(mut self, driver: mpsc::Sender<Input>) {
        tokio::spawn(async move {
            while let Some(message) = self.0.next().await {
                match serde_json::from_slice::<BusMessage>(&message.payload) {
                    Ok(m) => {
                        if driver.send(Input::Bus(m)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "unreadable message on the bus"),
                }
            }
        });
    }
}
