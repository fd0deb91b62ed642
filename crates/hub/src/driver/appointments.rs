//! The appointments the core serves (`core::appointments`): read from the
//! store at start, every `EVERY` (5 min) as the day moves on, and when one is
//! booked or cancelled (here or on another process), then handed to the
//! core ([`Input::Appointments`]). On its own task so the store never
//! stalls signaling; reloads asked while it reads are one read.

use jiff::{SignedDuration, Timestamp};
use tokio::sync::mpsc;

use visio_protocol::{KioskId, ServiceId};

use super::Input;
use crate::core::PeerId;
use crate::core::appointments::NewAppointment;
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

/// The kiosk's appointments around the coming week, for its free callback
/// slots ([`Input::CallbackSlots`]).
pub(super) fn read_callback_slots(store: Backend, inputs: mpsc::Sender<Input>, peer: PeerId, kiosk_id: KioskId, service: ServiceId, from: Timestamp) {
    tokio::spawn(async move {
        let week = SignedDuration::from_hours(24 * 8);
        let booked = store
            .appointments_between(from - SignedDuration::from_hours(4), from + week)
            .await
            .map(|list| list.into_iter().filter(|a| a.slot.kiosk_id == kiosk_id).collect())
            .map_err(|e| {
                tracing::warn!(error = %e, "cannot read the appointments for a kiosk's callback slots");
                "the hub could not read its appointments; try again".to_owned()
            });
        let _ = inputs.send(Input::CallbackSlots { peer, service, booked }).await;
    });
}

/// Books a kiosk's callback, answers it ([`Input::CallbackBooked`]),
/// then has this process and every other read the appointments again, as
/// a booking over HTTPS does.
pub(super) fn book_callback(store: Backend, inputs: mpsc::Sender<Input>, peer: PeerId, slot: NewAppointment) {
    tokio::spawn(async move {
        let service = slot.service.clone();
        let booked = store.book_appointment(&slot, Timestamp::now()).await;
        let ok = booked.is_ok();
        match &booked {
            Ok(a) => tracing::info!(reference = %a.reference, service = %a.slot.service, "callback booked at a kiosk"),
            Err(e) => tracing::info!(error = %e, "a kiosk's callback was refused"),
        }
        let booked = booked.map_err(|e| e.to_string());
        if inputs.send(Input::CallbackBooked { peer, service, booked }).await.is_err() || !ok {
            return;
        }
        match ahead(&store, Timestamp::now()).await {
            Ok(list) => {
                let _ = inputs.send(Input::Appointments(list)).await;
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the appointments back; the next read brings them"),
        }
        let _ = inputs.send(Input::AppointmentsChanged).await;
    });
}
