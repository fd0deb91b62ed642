//! Telling systemd how the kiosk is doing (`Type=notify`, `WatchdogSec=`):
//! ready once its loop turns, alive while it keeps turning, stopping when
//! asked to stop. Outside systemd (no `$NOTIFY_SOCKET`) nothing is sent.
//!
//! Both shells call [`Notifier::alive`] from their own event loop (the
//! window's update on each tick, the headless `select!`), so a loop stuck on
//! one message stops the pings and systemd restarts the kiosk.
//!
//! Under cage the unit's main process is the compositor, not the kiosk: the
//! unit says `NotifyAccess=all`, and the kiosk takes `$WATCHDOG_USEC` even
//! though `$WATCHDOG_PID` names cage (docs/decisions.md #269, "systemd watchdog").

use std::time::{Duration, Instant};

use sd_notify::NotifyState;

/// Ready once, then watchdog pings at most every half watchdog time.
#[derive(Debug)]
pub struct Notifier {
    every: Option<Duration>,
    ready: bool,
    last_ping: Option<Instant>,
}

impl Notifier {
    /// From systemd's variables; does nothing outside systemd.
    pub fn from_env() -> Notifier {
        let enabled = std::env::var_os("NOTIFY_SOCKET").is_some();
        let every = if enabled { watchdog_period(std::env::var("WATCHDOG_USEC").ok().as_deref()) } else { None };
        Notifier { every, ready: !enabled, last_ping: None }
    }

    /// How often the loop should call [`Notifier::alive`] at least, when a
    /// watchdog is set.
    pub fn every(&self) -> Option<Duration> {
        self.every
    }

    /// The loop turned: ready the first time, a watchdog ping when due.
    pub fn alive(&mut self, now: Instant) {
        if !self.ready {
            self.ready = true;
            send(&[NotifyState::Ready, NotifyState::Status("home screen")]);
        }
        if self.ping_due(now) {
            self.last_ping = Some(now);
            send(&[NotifyState::Watchdog]);
        }
    }

    fn ping_due(&self, now: Instant) -> bool {
        match (self.every, self.last_ping) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(every), Some(last)) => now.saturating_duration_since(last) >= every,
        }
    }

    /// A stop was asked: the visit ends, then the kiosk exits.
    pub fn stopping(&self) {
        send(&[NotifyState::Stopping]);
    }
}

/// Half of a `$WATCHDOG_USEC` value, at least 10 ms; `None` if absent or
/// not a positive number.
fn watchdog_period(usec: Option<&str>) -> Option<Duration> {
    let usec: u64 = usec?.trim().parse().ok().filter(|&u| u > 0)?;
    Some(Duration::from_micros(usec / 2).max(Duration::from_millis(10)))
}

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_are_due_every_half_watchdog_time_from_the_first_turn() {
        let start = Instant::now();
        let mut n = Notifier { every: watchdog_period(Some("1000000")), ready: true, last_ping: None };
        assert!(n.ping_due(start));
        n.last_ping = Some(start);
        assert!(!n.ping_due(start + Duration::from_millis(499)));
        assert!(n.ping_due(start + Duration::from_millis(500)));
        assert_eq!(watchdog_period(None), None);
        assert_eq!(watchdog_period(Some("0")), None);
        let off = Notifier { every: None, ready: true, last_ping: None };
        assert!(!off.ping_due(start));
    }
}
