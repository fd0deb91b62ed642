//! Being called back (issue 24, item 7): a resident who touches a closed
//! service, or whose wait is long, is offered "Être rappelé". The session
//! asks the hub for the service's next free slots at this kiosk, shows
//! them, books the one touched, and confirms it on screen, aloud and on a
//! printed slip. Only when the hub's welcome said `callbacks`
//! (docs/decisions.md #359); otherwise nothing here ever shows.
//!
//! A resident who leaves the line for this keeps their place until the
//! callback is booked: "Retour" takes them back to it, and an agent who
//! answers meanwhile brings the call on screen as usual.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use visio_protocol::{EndReason, HubToKiosk, KioskToHub, ServiceId};

use super::*;
use super::event::{KioskEvent, VisitEnd};
use crate::timer::Timer;

/// The most slots shown at once: four 2 cm targets fit every panel, and
/// more is more to read (the hub offers no more than this either).
pub const CALLBACK_SLOTS_SHOWN: usize = 4;

/// The callback screen: why it was offered, where the resident is in it,
/// and the place in line they keep meanwhile (a long wait).
#[derive(Debug, Clone, PartialEq)]
pub struct Callback {
    pub service: ServiceId,
    pub why: CallbackWhy,
    pub stage: CallbackStage,
    /// The resident's place in line, kept until the callback is booked.
    pub place: Option<Box<Waiting>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackWhy {
    /// The service is closed (and when it opens, when known).
    Closed { next_opening: Option<Timestamp> },
    /// The wait is long (the hub's estimate, when it has one).
    LongWait { estimate: Option<Duration> },
}

/// Where the resident is in booking a callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackStage {
    /// "Le service est fermé. Être rappelé ?": yes, or back home.
    Offer,
    /// The free slots are asked for. `retaken`: the slot the resident
    /// touched was taken meanwhile, and they are told so.
    Asking { retaken: bool },
    /// The free slots, soonest first, each `minutes` long.
    Choosing { slots: Vec<Timestamp>, minutes: u32, retaken: bool },
    /// Nothing is free in the coming week.
    NoSlots,
    /// The hub could not offer or book a callback (its store, say).
    Unavailable,
    /// The touched slot is being booked.
    Booking { start: Timestamp },
    /// Booked: the time and the reference to keep.
    Booked { reference: String, start: Timestamp, minutes: u32 },
}

impl Session {
    /// Whether the waiting screen offers "Être rappelé": the hub books
    /// callbacks and the wait is long, that is the hub's estimate is at
    /// least [`Config::callback_wait`] or it has none (no agent of the
    /// service is available). Not to a resident handed over by an agent
    /// (they come first), nor while the kiosk reconnects.
    pub fn callback_offered(&self) -> bool {
        let Screen::Waiting(w) = &self.screen else { return false };
        self.callbacks
            && !w.hub_lost
            && !w.presence_check
            && w.transferred_from.is_none()
            && w.estimated_wait.is_none_or(|e| e >= self.config.callback_wait)
    }

    /// A refused request for a closed service: offer a callback instead
    /// of the home screen's notice. `false` when the hub books none.
    pub(super) fn offer_callback(&mut self, now: Instant, service: &ServiceId, next_opening: Option<Timestamp>) -> bool {
        if !self.callbacks {
            return false;
        }
        self.event(KioskEvent::CallbackOffered { service: service.to_string(), why: "closed".into() });
        self.screen = Screen::Callback(Callback {
            service: service.clone(),
            why: CallbackWhy::Closed { next_opening },
            stage: CallbackStage::Offer,
            place: None,
        });
        self.touch(now);
        true
    }

    /// "Être rappelé", on the offer or on the waiting screen.
    pub(super) fn ask_callback(&mut self, now: Instant) {
        let offered = self.callback_offered();
        match &mut self.screen {
            Screen::Callback(c) if c.stage == CallbackStage::Offer => {
                c.stage = CallbackStage::Asking { retaken: false };
                let service = c.service.clone();
                self.outputs.push_back(Output::ToHub(KioskToHub::AskCallbackSlots { service }));
            }
            Screen::Waiting(w) if offered => {
                let place = Box::new(w.clone());
                let service = place.service.clone();
                self.timers.stop(Timer::PresenceCheck);
                self.timers.stop(Timer::PresenceGrace);
                self.event(KioskEvent::CallbackOffered { service: service.to_string(), why: "long_wait".into() });
                self.outputs.push_back(Output::ToHub(KioskToHub::AskCallbackSlots { service: service.clone() }));
                self.screen = Screen::Callback(Callback {
                    service,
                    why: CallbackWhy::LongWait { estimate: place.estimated_wait },
                    stage: CallbackStage::Asking { retaken: false },
                    place: Some(place),
                });
            }
            _ => return,
        }
        self.touch(now);
    }

    /// The resident touched one of the offered slots.
    pub(super) fn choose_callback(&mut self, now: Instant, start: Timestamp) {
        let Screen::Callback(c) = &mut self.screen else { return };
        let CallbackStage::Choosing { slots, .. } = &c.stage else { return };
        if !slots.contains(&start) {
            return;
        }
        c.stage = CallbackStage::Booking { start };
        let service = c.service.clone();
        self.outputs.push_back(Output::ToHub(KioskToHub::BookCallback { service, start }));
        self.touch(now);
    }

    /// "Retour": back to the place in line when it was kept, else home.
    pub(super) fn close_callback(&mut self, now: Instant) {
        let Screen::Callback(c) = &mut self.screen else { return };
        match c.place.take() {
            Some(place) => {
                self.screen = Screen::Waiting(*place);
                self.touch(now);
            }
            None => {
                self.go_home();
                self.touch(now);
            }
        }
    }

    /// The screen goes home by itself (idle, warned): a kept place is
    /// given up, as when nobody answers "are you still there?".
    pub(super) fn callback_timed_out(&mut self) {
        self.give_up_place(VisitEnd::ResidentAbsent);
        self.end_host_call();
        self.go_home();
    }

    fn give_up_place(&mut self, why: VisitEnd) {
        if let Screen::Callback(c) = &mut self.screen
            && let Some(place) = c.place.take()
        {
            self.outputs.push_back(Output::ToHub(KioskToHub::CancelCall));
            self.event(KioskEvent::Ended { session: place.session.to_string(), reason: why });
        }
    }

    /// The hub connection dropped: a kept place is the waiting screen's
    /// again (which keeps it while the kiosk reconnects); otherwise the
    /// kiosk is out of service as on any other screen.
    pub(super) fn callback_hub_lost(&mut self) {
        if let Screen::Callback(c) = &mut self.screen
            && let Some(place) = c.place.take()
        {
            self.screen = Screen::Waiting(*place);
        }
    }

    /// Before any hub message: a kept place follows its line, and an
    /// agent who answers brings the waiting screen back (the call then
    /// starts as usual).
    pub(super) fn callback_sees(&mut self, msg: &HubToKiosk) {
        let Screen::Callback(Callback { place: Some(place), .. }) = &mut self.screen else { return };
        match msg {
            HubToKiosk::QueueUpdate { session, position, estimated_wait } if *session == place.session => {
                place.position = *position;
                place.estimated_wait = estimated_wait.map(|e| Duration::from_secs(e.seconds.into()));
            }
            HubToKiosk::CallAnswered { session, .. } if *session == place.session => {
                let place = *place.clone();
                self.screen = Screen::Waiting(place);
            }
            HubToKiosk::CallEnded { session, reason } if *session == place.session => {
                let session = session.to_string();
                if let Screen::Callback(c) = &mut self.screen {
                    c.place = None;
                }
                self.event(KioskEvent::Ended { session, reason: VisitEnd::Hub(*reason) });
            }
            _ => {}
        }
    }

    /// `callback_slots`, `callback_booked`, `callback_refused`.
    pub(super) fn callback_message(&mut self, now: Instant, msg: HubToKiosk) {
        let Screen::Callback(c) = &mut self.screen else { return };
        match msg {
            HubToKiosk::CallbackSlots { service, mut slots, minutes } if service == c.service => {
                let CallbackStage::Asking { retaken } = c.stage else { return };
                slots.truncate(CALLBACK_SLOTS_SHOWN);
                let event = KioskEvent::CallbackSlots { service: service.to_string(), slots: slots.iter().map(|s| s.to_string()).collect(), minutes };
                c.stage = if slots.is_empty() { CallbackStage::NoSlots } else { CallbackStage::Choosing { slots, minutes, retaken } };
                self.event(event);
            }
            HubToKiosk::CallbackBooked { service, reference, start, minutes } if service == c.service => {
                if !matches!(c.stage, CallbackStage::Booking { .. }) {
                    return;
                }
                c.stage = CallbackStage::Booked { reference: reference.clone(), start, minutes };
                // Called back rather than waiting: the place is given up.
                self.give_up_place(VisitEnd::Hub(EndReason::Cancelled));
                let slip = CallbackSlip { service: service.clone(), reference: reference.clone(), start, minutes, language: self.language };
                self.event(KioskEvent::CallbackBooked { service: service.to_string(), reference, start: start.to_string(), minutes });
                self.outputs.push_back(Output::PrintCallbackSlip(slip));
            }
            HubToKiosk::CallbackRefused { service, message } if service == c.service => {
                self.event(KioskEvent::CallbackRefused { service: service.to_string(), message });
                let Screen::Callback(c) = &mut self.screen else { return };
                match c.stage {
                    // Taken meanwhile: the free slots again, and a word why.
                    CallbackStage::Booking { .. } => {
                        c.stage = CallbackStage::Asking { retaken: true };
                        self.outputs.push_back(Output::ToHub(KioskToHub::AskCallbackSlots { service }));
                    }
                    CallbackStage::Asking { .. } => c.stage = CallbackStage::Unavailable,
                    _ => {}
                }
            }
            _ => return,
        }
        self.touch(now);
    }
}

/// What the printed slip of a booked callback says: nothing personal,
/// there is nothing personal to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackSlip {
    pub service: ServiceId,
    pub reference: String,
    pub start: Timestamp,
    pub minutes: u32,
    /// The resident's language when it was booked.
    pub language: Language,
}

#[cfg(test)]
#[path = "callback_tests.rs"]
mod tests;
