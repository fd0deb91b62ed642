//! Callbacks (issue 24, item 7): when a service is closed or its wait is
//! long, the kiosk asks for the next free slots of that service at this
//! kiosk, the resident touches one, and the hub books it as an
//! appointment of kind `callback` with no agent named: the resident who
//! comes back then is served first (`appointments`), and the slot is in
//! the day of every agent of the service and in their iCalendar export.
//! The store is the shell's: the core asks for the kiosk's appointments
//! ([`Output::ReadCallbackSlots`]) and for the booking
//! ([`Output::BookCallback`]), and gets the answers back here.

use super::appointments::{Appointment, CALLBACK_MINUTES, CALLBACK_OFFERS, Kind, NewAppointment, free_slots};
use super::*;

impl Hub {
    /// `ask_callback_slots` from a kiosk.
    pub(super) fn ask_callback_slots(&mut self, now: Timestamp, peer: PeerId, service: ServiceId) {
        let Some(kiosk) = self.kiosks.get(&peer) else { return };
        if self.catalogue.get(&service).is_none() {
            let message = format!("there is no service {:?}", service.as_str());
            return self.tell_kiosk(peer, HubToKiosk::CallbackRefused { service, message });
        }
        let kiosk_id = kiosk.kiosk_id.clone();
        self.outputs.push_back(Output::ReadCallbackSlots { peer, kiosk_id, service, from: now });
    }

    /// The kiosk's appointments of the coming week, read for
    /// [`Output::ReadCallbackSlots`]: the free slots go to the kiosk.
    /// `Err`: the store could not be read (why, in English).
    pub fn handle_callback_slots(&mut self, now: Timestamp, peer: PeerId, service: ServiceId, booked: Result<Vec<Appointment>, String>) {
        let (Some(kiosk), Some(s)) = (self.kiosks.get(&peer), self.catalogue.get(&service)) else { return };
        let booked = match booked {
            Ok(booked) => booked,
            Err(message) => return self.tell_kiosk(peer, HubToKiosk::CallbackRefused { service, message }),
        };
        let slots = free_slots(&s.hours, self.catalogue.timezone(), &booked, &kiosk.kiosk_id, now, CALLBACK_OFFERS);
        self.tell_kiosk(peer, HubToKiosk::CallbackSlots { service, slots, minutes: CALLBACK_MINUTES });
    }

    /// `book_callback` from a kiosk: a slot the hub could have offered (on
    /// the quarter hour, ahead, within the service's hours); the store
    /// refuses it when taken meanwhile.
    pub(super) fn book_callback(&mut self, now: Timestamp, peer: PeerId, service: ServiceId, start: Timestamp) {
        let Some(kiosk) = self.kiosks.get(&peer) else { return };
        let kiosk_id = kiosk.kiosk_id.clone();
        let Some(s) = self.catalogue.get(&service) else {
            let message = format!("there is no service {:?}", service.as_str());
            return self.tell_kiosk(peer, HubToKiosk::CallbackRefused { service, message });
        };
        let length = jiff::SignedDuration::from_mins(i64::from(CALLBACK_MINUTES));
        let open = match s.hours.state_at(start, self.catalogue.timezone()) {
            visio_config::ServiceState::Open { closes_at } => closes_at >= start + length,
            visio_config::ServiceState::Closed { .. } => false,
        };
        let why = if start <= now {
            Some("this slot has begun; choose a later one")
        } else if start.as_second().rem_euclid(15 * 60) != 0 {
            Some("a callback starts on the quarter hour")
        } else if !open {
            Some("the service is closed at that time")
        } else {
            None
        };
        if let Some(why) = why {
            return self.tell_kiosk(peer, HubToKiosk::CallbackRefused { service, message: why.into() });
        }
        let slot = NewAppointment {
            kiosk_id: kiosk_id.clone(),
            service,
            start,
            minutes: CALLBACK_MINUTES,
            agent: None,
            kind: Kind::Callback,
            booked_by: kiosk_id.to_string(),
        };
        self.outputs.push_back(Output::BookCallback { peer, slot });
    }

    /// The store's answer to [`Output::BookCallback`]: the booked slot, or
    /// why not (in English, for the kiosk's log).
    pub fn handle_callback_booked(&mut self, peer: PeerId, service: ServiceId, booked: Result<Appointment, String>) {
        if !self.kiosks.contains_key(&peer) {
            return;
        }
        let msg = match booked {
            Ok(a) => HubToKiosk::CallbackBooked {
                service,
                reference: a.reference.to_string(),
                start: a.slot.start,
                minutes: a.slot.minutes,
            },
            Err(message) => HubToKiosk::CallbackRefused { service, message },
        };
        self.tell_kiosk(peer, msg);
    }
}
