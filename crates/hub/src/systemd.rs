//! Telling systemd how the hub is doing (`Type=notify`, `WatchdogSec=`):
//! ready once it listens, alive while its driver answers, stopping when it
//! shuts down. Outside systemd (no `$NOTIFY_SOCKET`) every call does nothing.
//!
//! The watchdog ping is earned, not timed: a task asks the driver — the one
//! loop that owns the queues and calls — for a round trip, and pings only
//! when the answer came. A driver stuck on one input stops the pings, and
//! systemd restarts the hub (docs/decisions.md #269, "systemd watchdog").

use std::time::Duration;

use sd_notify::NotifyState;

use crate::driver::DriverHandle;

/// Says the hub is ready: it listens and its driver runs.
pub fn ready() {
    send(&[NotifyState::Ready, NotifyState::Status("listening")]);
}

/// Says the hub is stopping (a restart or a stop was asked).
pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping: calls are held for the next process")]);
}

/// How often to ping: half the watchdog time systemd gave in
/// `$WATCHDOG_USEC`, or `None` when it gave none (no `WatchdogSec=`).
pub fn ping_every() -> Option<Duration> {
    watchdog_period(std::env::var("WATCHDOG_USEC").ok().as_deref())
}

/// Half of a `$WATCHDOG_USEC` value, at least 10 ms; `None` if absent or
/// not a positive number.
fn watchdog_period(usec: Option<&str>) -> Option<Duration> {
    let usec: u64 = usec?.trim().parse().ok().filter(|&u| u > 0)?;
    Some(Duration::from_micros(usec / 2).max(Duration::from_millis(10)))
}

/// Pings the watchdog every `every` for as long as the driver answers
/// within that time; runs until the driver stops.
pub async fn watch(driver: DriverHandle, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match tokio::time::timeout(every, driver.available_here()).await {
            Ok(Some(_)) => send(&[NotifyState::Watchdog]),
            // The driver stopped: the hub is shutting down.
            Ok(None) => return,
            Err(_) => tracing::warn!(waited = ?every, "the driver did not answer; the watchdog is not pinged"),
        }
    }
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
    fn the_ping_period_is_half_the_watchdog_time_and_absent_without_one() {
        assert_eq!(watchdog_period(Some("30000000")), Some(Duration::from_secs(15)));
        assert_eq!(watchdog_period(Some("2")), Some(Duration::from_millis(10)));
        assert_eq!(watchdog_period(None), None);
        assert_eq!(watchdog_period(Some("0")), None);
        assert_eq!(watchdog_period(Some("soon")), None);
    }
}
