//! Availability flapping: an agent (or a script) toggling "available" many
//! times a second would otherwise send every waiting kiosk and every agent
//! of the service a fresh queue view each time. The first change of a
//! service's availability goes out at once, so a resident sees a free
//! agent without delay; later changes within [`AVAILABILITY_QUIET`] are held
//! until its end and go out together, as the state at that moment.

use std::collections::{BTreeMap, HashMap};

use jiff::{SignedDuration, Timestamp};
use visio_protocol::ServiceId;

/// At most one queue broadcast per service in this time caused by
/// availability changes.
pub const AVAILABILITY_QUIET: SignedDuration = SignedDuration::from_secs(1);

#[derive(Debug, Default)]
pub(super) struct AvailabilityThrottle {
    /// When each service's availability was last told.
    last_told: HashMap<ServiceId, Timestamp>,
    /// Services with a change held back, and when it may go out.
    held: BTreeMap<ServiceId, Timestamp>,
}

impl AvailabilityThrottle {
    /// The availability of an agent of `service` changed at `now`: whether
    /// to tell it now (`true`) or hold it until [`Self::next_due`].
    pub fn changed(&mut self, now: Timestamp, service: &ServiceId) -> bool {
        if self.held.contains_key(service) {
            return false;
        }
        match self.last_told.get(service) {
            Some(last) if now < *last + AVAILABILITY_QUIET => {
                self.held.insert(service.clone(), *last + AVAILABILITY_QUIET);
                false
            }
            _ => {
                self.last_told.insert(service.clone(), now);
                true
            }
        }
    }

    /// When the earliest held change may go out.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.held.values().min().copied()
    }

    /// The held services whose quiet time is over by `now`, told now.
    pub fn due(&mut self, now: Timestamp) -> Vec<ServiceId> {
        let due: Vec<ServiceId> = self.held.iter().filter(|(_, at)| **at <= now).map(|(s, _)| s.clone()).collect();
        for service in &due {
            self.held.remove(service);
            self.last_told.insert(service.clone(), now);
        }
        due
    }

    /// `service`'s queue is told now for another reason: a held change
    /// goes with it.
    pub fn told(&mut self, service: &ServiceId) {
        self.held.remove(service);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_millisecond(1_800_000_000_000 + ms).unwrap()
    }

    #[test]
    fn the_first_change_goes_at_once_and_a_burst_waits_for_the_quiet_time() {
        let caf = ServiceId::from("caf");
        let mut a = AvailabilityThrottle::default();
        assert!(a.changed(t(0), &caf));
        assert!((1..50).all(|i| !a.changed(t(i * 10), &caf)), "flips within the second are held");
        assert_eq!(a.next_due(), Some(t(1000)));
        assert!(a.due(t(999)).is_empty());
        assert_eq!(a.due(t(1000)), vec![caf.clone()]);
        assert_eq!(a.next_due(), None);
        assert!(!a.changed(t(1500), &caf), "told at 1000: quiet until 2000");
        assert_eq!(a.next_due(), Some(t(2000)));
        a.told(&caf);
        assert_eq!(a.next_due(), None, "a queue change carried it");
        assert!(a.changed(t(5000), &caf), "a change after a quiet time goes at once");
    }
}
