//! Appointments: a slot booked at one kiosk for one service, at a time,
//! for a length, optionally with one agent, under an opaque reference (a
//! counter the store hands out: nothing of the resident). The store keeps
//! them (`store::Backend::book_appointment`); the shell hands the hub the
//! ones around now ([`Hub::handle_appointments`]) and the queue serves
//! them ([`Precedence`], docs/decisions.md).
//!
//! The rule, in one place:
//!
//! - A resident at the booked kiosk who touches the booked service between
//!   [`EARLY`] before the slot's start and its end is that appointment's
//!   resident (the first such touch; a second visit in the same slot is a
//!   walk-in).
//! - In line, an appointment's resident counts as having queued
//!   [`CREDIT`] earlier than they did: ahead of walk-ins who have waited
//!   less than that longer than them, behind those who have waited more.
//!   So an appointment passes the walk-ins of its window, and no walk-in
//!   waits more than [`CREDIT`] longer because of appointments.
//! - When an agent is named, the resident is theirs: other agents pass
//!   over them while the named agent is signed in and available, for at
//!   most [`HOLD`] after they queued; then any agent of the service takes
//!   them, in line order.
//! - Transferred residents stay ahead of everyone, as before.

use jiff::{SignedDuration, Timestamp};
use visio_protocol::{AgentLogin, KioskId, ServiceId};

use super::*;

/// How early a resident may come to their slot.
pub const EARLY: SignedDuration = SignedDuration::from_mins(10);
/// How much earlier than their touch an appointment's resident counts in
/// line.
pub const CREDIT: SignedDuration = SignedDuration::from_mins(15);
/// How long a resident booked with an agent waits for that agent alone.
pub const HOLD: SignedDuration = SignedDuration::from_mins(10);
/// The longest slot a booking may take.
pub const MAX_MINUTES: u32 = 240;

/// An appointment's reference: the store's counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Reference(pub u64);

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RDV-{:06}", self.0)
    }
}

/// Who asked for the slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Booked by an agent or a host.
    Booked,
    /// Chosen by the resident at the kiosk when the service was closed or
    /// the wait long: the agent calls back at the kiosk.
    Callback,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Booked => "booked",
            Kind::Callback => "callback",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "booked" => Some(Kind::Booked),
            "callback" => Some(Kind::Callback),
            _ => None,
        }
    }
}

/// A slot to book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAppointment {
    pub kiosk_id: KioskId,
    pub service: ServiceId,
    pub start: Timestamp,
    pub minutes: u32,
    pub agent: Option<AgentLogin>,
    pub kind: Kind,
    /// The agent's or host's login, or the kiosk's id for a callback.
    pub booked_by: String,
}

impl NewAppointment {
    pub fn end(&self) -> Timestamp {
        self.start + SignedDuration::from_mins(i64::from(self.minutes))
    }

    /// Why this slot cannot be booked as given, in words for the booker.
    pub fn check(&self) -> Result<(), String> {
        if self.minutes == 0 || self.minutes > MAX_MINUTES {
            return Err(format!("a slot lasts from 1 to {MAX_MINUTES} minutes, not {}", self.minutes));
        }
        Ok(())
    }
}

/// A booked slot, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appointment {
    pub reference: Reference,
    pub slot: NewAppointment,
    pub booked_at: Timestamp,
    pub cancelled_at: Option<Timestamp>,
}

impl Appointment {
    /// Whether a resident touching `service` at `kiosk` at `now` comes for it.
    pub fn admits(&self, kiosk: &KioskId, service: &ServiceId, now: Timestamp) -> bool {
        self.cancelled_at.is_none()
            && &self.slot.kiosk_id == kiosk
            && &self.slot.service == service
            && self.slot.start - EARLY <= now
            && now < self.slot.end()
    }
}

/// What an appointment gives a waiting resident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Precedence {
    pub reference: Reference,
    pub agent: Option<AgentLogin>,
}

/// Where a waiting resident stands in line: transferred residents first,
/// then by the time they count as queued (an appointment's [`CREDIT`]
/// taken off), then by session id.
pub(super) fn line_key(transferred: bool, queued_at: Timestamp, appointment: bool) -> (bool, Timestamp) {
    let at = if appointment { queued_at - CREDIT } else { queued_at };
    (!transferred, at)
}

impl Hub {
    /// The appointments around now, from the store: the shell hands them
    /// over at start, after each booking or cancellation (here or, through
    /// the bus, elsewhere) and as the day turns. Replaces the previous set.
    pub fn handle_appointments(&mut self, now: Timestamp, appointments: Vec<Appointment>) {
        self.appointments = appointments.into_iter().filter(|a| a.cancelled_at.is_none()).collect();
        let known: BTreeSet<Reference> = self.appointments.iter().map(|a| a.reference).collect();
        self.appointments_used.retain(|r| known.contains(r));
        self.flush(now);
    }

    /// The appointment a resident touching `service` at `kiosk_id` now
    /// comes for, unless a visit in it was already answered.
    pub(super) fn appointment_for(&self, now: Timestamp, kiosk_id: &KioskId, service: &ServiceId) -> Option<Precedence> {
        let a = self.appointments.iter().find(|a| a.admits(kiosk_id, service, now) && !self.appointments_used.contains(&a.reference))?;
        Some(Precedence { reference: a.reference, agent: a.slot.agent.clone() })
    }

    /// Whether `agent` passes over this resident because another agent,
    /// signed in here and available, was booked for them and the hold
    /// has not run out.
    pub(super) fn reserved_for_other(&self, now: Timestamp, agent: &AgentLogin, session: &Session) -> bool {
        let Some(booked) = session.precedence.as_ref().and_then(|p| p.agent.as_ref()) else { return false };
        if booked == agent || now >= session.queued_at + HOLD {
            return false;
        }
        self.agent_peer.get(booked).and_then(|p| self.agents.get(p)).is_some_and(|a| a.available)
    }
}

/// A callback slot's length.
pub const CALLBACK_MINUTES: u32 = 15;
/// The soonest a callback may start after it is asked for.
pub const CALLBACK_LEAD: SignedDuration = SignedDuration::from_mins(15);
/// How many free slots a kiosk offers.
pub const CALLBACK_OFFERS: usize = 4;
/// How far ahead the free slots are looked for.
const CALLBACK_HORIZON_DAYS: i64 = 7;

/// The next free callback slots of `service` at `kiosk` after `now`: on
/// the quarter hour, at least [`CALLBACK_LEAD`] ahead, all of
/// [`CALLBACK_MINUTES`] within the service's opening hours, and not
/// overlapping a slot already booked at that kiosk (`booked`, the
/// kiosk's appointments around then). At most `count`, soonest first.
pub fn free_slots(
    hours: &visio_config::OpeningHours,
    tz: &jiff::tz::TimeZone,
    booked: &[Appointment],
    kiosk: &KioskId,
    now: Timestamp,
    count: usize,
) -> Vec<Timestamp> {
    let quarter = 15 * 60;
    let earliest = (now + CALLBACK_LEAD).as_second();
    let mut start = Timestamp::from_second(earliest + (quarter - earliest.rem_euclid(quarter)) % quarter).unwrap_or(now);
    let length = SignedDuration::from_mins(i64::from(CALLBACK_MINUTES));
    let horizon = now + SignedDuration::from_hours(24 * CALLBACK_HORIZON_DAYS);
    let mut free = Vec::new();
    while free.len() < count && start < horizon {
        let open = match hours.state_at(start, tz) {
            visio_config::ServiceState::Open { closes_at } => closes_at >= start + length,
            visio_config::ServiceState::Closed { next_opening } => {
                // Jump to the next opening, on the quarter hour.
                match next_opening {
                    Some(next) if next > start => {
                        let s = next.as_second();
                        start = Timestamp::from_second(s + (quarter - s.rem_euclid(quarter)) % quarter).unwrap_or(horizon);
                        continue;
                    }
                    _ => break,
                }
            }
        };
        let taken = booked.iter().any(|a| {
            a.cancelled_at.is_none() && &a.slot.kiosk_id == kiosk && a.slot.start < start + length && start < a.slot.end()
        });
        if open && !taken {
            free.push(start);
        }
        start += SignedDuration::from_secs(quarter);
    }
    free
}
