//! When the kiosk restarts ICE after a cut: the one rule the kiosk's session
//! follows, and the media crate's link tests too.
//!
//! The kiosk is the offerer, so it alone restarts: a while after the
//! connection went down (it often comes back by itself), at once when ICE
//! gave up, and again every so often until it reconnects. A restart offer
//! needs the hub and the agent to carry it; while either is away the rule
//! waits and restarts as soon as they are back.
//!
//! webrtc-rs says `Disconnected` after 5 s without a packet and `Connected`
//! again on the next one (the kiosk shell reports it as a cut), and
//! `Failed` 30 s after the last packet (reported as lost: restart at once).
//! A restart also finds a new path (a new address after a router reboot).

use std::time::{Duration, Instant};

/// The restart rule, fed with the connection's ups and downs and the time.
#[derive(Debug, Clone)]
pub struct IceRestartPolicy {
    after: Duration,
    every: Duration,
    down: bool,
    due: Option<Instant>,
}

impl IceRestartPolicy {
    /// Restarts `after` a cut is seen, then `every` while not reconnected.
    pub fn new(after: Duration, every: Duration) -> Self {
        IceRestartPolicy { after, every, down: false, due: None }
    }

    /// The connection went down (ICE disconnected or failed). Only the
    /// first report of a cut starts the clock.
    pub fn handle_down(&mut self, now: Instant) {
        if !self.down {
            self.down = true;
            self.due = Some(now + self.after);
        }
    }

    /// The connection is up again (or the call is over): nothing to do.
    pub fn handle_up(&mut self) {
        self.down = false;
        self.due = None;
    }

    /// A new connection and its offer are under way (the agent's page
    /// started over): no restart until it too goes down.
    pub fn hold(&mut self) {
        self.due = None;
    }

    /// Restart now if the connection is down and `reachable` (the hub and
    /// the agent can carry the offer); answers whether to. Not reachable:
    /// tried again `after` a while.
    pub fn restart_now(&mut self, now: Instant, reachable: bool) -> bool {
        if !self.down {
            return false;
        }
        self.due = Some(now + if reachable { self.every } else { self.after });
        reachable
    }

    /// When [`IceRestartPolicy::handle_timeout`] has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.due
    }

    /// The clock reached `now`: whether to restart ICE now.
    pub fn handle_timeout(&mut self, now: Instant, reachable: bool) -> bool {
        self.due.is_some_and(|due| due <= now) && self.restart_now(now, reachable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AFTER: Duration = Duration::from_secs(2);
    const EVERY: Duration = Duration::from_secs(15);

    #[test]
    fn a_cut_restarts_after_a_while_then_again_until_it_is_up() {
        let t0 = Instant::now();
        let mut ice = IceRestartPolicy::new(AFTER, EVERY);
        assert_eq!(ice.poll_timeout(), None);
        ice.handle_down(t0);
        ice.handle_down(t0 + Duration::from_secs(1));
        assert_eq!(ice.poll_timeout(), Some(t0 + AFTER), "the first report starts the clock");
        assert!(!ice.handle_timeout(t0 + Duration::from_secs(1), true));
        assert!(ice.handle_timeout(t0 + AFTER, true));
        assert_eq!(ice.poll_timeout(), Some(t0 + AFTER + EVERY));
        ice.handle_up();
        assert_eq!(ice.poll_timeout(), None);
        assert!(!ice.restart_now(t0 + EVERY, true), "up: nothing to restart");
    }

    #[test]
    fn an_unreachable_agent_delays_the_restart_until_it_can_be_carried() {
        let t0 = Instant::now();
        let mut ice = IceRestartPolicy::new(AFTER, EVERY);
        ice.handle_down(t0);
        assert!(!ice.restart_now(t0, false), "ICE failed but the hub is away");
        assert_eq!(ice.poll_timeout(), Some(t0 + AFTER));
        assert!(ice.restart_now(t0 + Duration::from_secs(1), true), "the hub is back: at once");
        ice.hold();
        assert_eq!(ice.poll_timeout(), None, "a new connection is under way");
    }
}
