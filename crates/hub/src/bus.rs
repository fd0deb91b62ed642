//! What hub processes tell each other, over NATS (core publish/subscribe,
//! no JetStream): each process listens on `visio.hub.<its name>` and the
//! core addresses [`BusMessage`]s to the process holding the other side of
//! a call. JSON, so a message can be read with `nats sub` when debugging.

use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::core::BusMessage;

const SUBJECT_PREFIX: &str = "visio.hub.";
/// What every process hears (a configuration published).
const EVERYONE: &str = "visio.hub.all";

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
    /// Connects to `url`: `nats://host:port`, with `user:password@` or
    /// `token@` before the host when the NATS server asks for them
    /// (async-nats itself does not read them from the address).
    pub async fn connect(url: &str) -> Result<Bus, BusError> {
        let (options, address) = match credentials(url) {
            (Some(Credentials::UserPassword(user, password)), address) => {
                (async_nats::ConnectOptions::with_user_and_password(user, password), address)
            }
            (Some(Credentials::Token(token)), address) => (async_nats::ConnectOptions::with_token(token), address),
            (None, address) => (async_nats::ConnectOptions::new(), address),
        };
        Ok(Bus { client: options.connect(address).await? })
    }

    /// Starts listening for messages to `process`; call before the
    /// process can be named to others (before it queues anyone), so
    /// nothing addressed to it is missed.
    pub async fn listen(&self, process: &str) -> Result<Listener, BusError> {
        let own = self.client.subscribe(format!("{SUBJECT_PREFIX}{process}")).await?;
        let everyone = self.client.subscribe(EVERYONE).await?;
        Ok(Listener(futures_util::stream::select(own, everyone)))
    }

    /// Sends `message` to every process, this one included.
    pub async fn broadcast(&self, message: &BusMessage) {
        self.publish(EVERYONE.to_owned(), message).await;
    }

    /// Sends `message` to the process named `to`. NATS keeps the order of
    /// one publisher's messages to one subject, which is what the
    /// signaling relay needs.
    pub async fn send(&self, to: &str, message: &BusMessage) {
        self.publish(format!("{SUBJECT_PREFIX}{to}"), message).await;
    }

    async fn publish(&self, subject: String, message: &BusMessage) {
        let payload = match serde_json::to_vec(message) {
            Ok(p) => p,
            Err(e) => return tracing::error!(error = %e, "cannot encode a bus message"),
        };
        if let Err(e) = self.client.publish(subject.clone(), payload.into()).await {
            tracing::error!(error = %e, subject, "cannot send on the bus");
        }
    }
}

/// Messages addressed to this process or to all, not yet handed to the
/// driver.
#[derive(Debug)]
pub struct Listener(futures_util::stream::Select<async_nats::Subscriber, async_nats::Subscriber>);

impl Listener {
    /// Feeds every message to `to` (the driver's inputs), until either ends.
    pub(crate) fn spawn<T: From<BusMessage> + Send + 'static>(mut self, to: mpsc::Sender<T>) {
        tokio::spawn(async move {
            while let Some(message) = self.0.next().await {
                match serde_json::from_slice::<BusMessage>(&message.payload) {
                    Ok(m) => {
                        if to.send(T::from(m)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "unreadable message on the bus"),
                }
            }
        });
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Credentials {
    UserPassword(String, String),
    Token(String),
}

/// Splits `scheme://[user:password@|token@]host…` into its credentials
/// and the address without them.
fn credentials(url: &str) -> (Option<Credentials>, String) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("nats", url));
    let Some((userinfo, host)) = rest.rsplit_once('@') else { return (None, url.to_owned()) };
    let credentials = match userinfo.split_once(':') {
        Some((user, password)) => Credentials::UserPassword(user.to_owned(), password.to_owned()),
        None => Credentials::Token(userinfo.to_owned()),
    };
    (Some(credentials), format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::{Credentials, credentials};

    #[test]
    fn credentials_are_taken_out_of_the_address() {
        assert_eq!(credentials("nats://127.0.0.1:4222"), (None, "nats://127.0.0.1:4222".into()));
        assert_eq!(
            credentials("nats://hub:s3cr:et@nats.internal:4222"),
            (Some(Credentials::UserPassword("hub".into(), "s3cr:et".into())), "nats://nats.internal:4222".into())
        );
        assert_eq!(
            credentials("tls://t0ken@nats.internal"),
            (Some(Credentials::Token("t0ken".into())), "tls://nats.internal".into())
        );
    }
}
