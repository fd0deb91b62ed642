//! The appointments the core serves (`core::appointments`): read from the
//! store at start, every [`EVERY`] as the day moves on, and when one is
//! booked or cancelled (here or on another process), then handed to the
//! core ([`Input::Appointments`]). On its own task so the store never
//! stalls signaling; reloads asked while it reads are one read.

use jiff::{SignedDuration, Timestamp};
use tokio::sync::mpsc;

use super::Input;
use crate::store::Backend;

/// How often the appointments are read again without being asked: the
/// window below moves with the clock.
const EVERY: std::time::Duration = std::time::Duration::from_secs(5 * 60);
/// The slots read: those overlapping the next day (a slot in progress
/// included; one starting within `EARLY` of now too).
const AHEAD: SignedDuration = SignedDuration::from_hours(24);

/// The appointments the core needs at `now`.
pub async fn ahead(store: &Backend, now: Timestamp) -> Result<Vec<crate::core::appointments::Appointment>, crate::store::StoreError> {
    store.appointments_between(now, now + AHEAD).await
}

pub(super) struct Loader {
    tx: mpsc::Sender<()>,
}

impl Loader {
    pub(super) fn spawn(store: Backend, inputs: mpsc::Sender<Input>) -> Loader {
        let (tx, mut rx) = mpsc::channel::<()>(1);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(EVERY);
            loop {
                tokio::select! {
                    asked = rx.recv() => if asked.is_none() { return },
                    _ = every.tick() => {}
                }
                match ahead(&store, Timestamp::now()).await {
                    Ok(list) => {
                        if inputs.send(Input::Appointments(list)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot read the appointments from the store; the queue serves everyone as walk-ins until the next read"),
                }
            }
        });
        Loader { tx }
    }

    /// Asks for a read; one already waiting covers this one.
    pub(super) fn reload(&self) {
        let _ = self.tx.try_send(());
    }
}
