//! Slows down password guessing. After a few free failures, a login from an
//! address (and, more loosely, any login from that address) must wait an
//! exponentially growing delay before the hub even checks the password.
//!
//! Keyed by login *and* address so that someone guessing an agent's password
//! from elsewhere cannot lock the agent out of their own office.

use std::collections::HashMap;
use std::net::IpAddr;

use jiff::{SignedDuration, Timestamp};

/// Failures before delays start, per login+address and per address.
const FREE_PER_LOGIN: u32 = 5;
const FREE_PER_ADDRESS: u32 = 20;
const MAX_DELAY: SignedDuration = SignedDuration::from_secs(300);
/// A key with no failure for this long is forgotten.
const FORGET_AFTER: SignedDuration = SignedDuration::from_mins(15);
/// Bound on remembered keys; the oldest are dropped past it.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: HashMap<String, (u32, Timestamp)>,
}

impl LoginThrottle {
    /// How long this attempt must wait, if at all.
    pub fn retry_after(&self, now: Timestamp, login: &str, ip: IpAddr) -> Option<SignedDuration> {
        keys(login, ip)
            .into_iter()
            .filter_map(|(key, free)| {
                let (count, last) = *self.failures.get(&key)?;
                let over = count.checked_sub(free)?;
                let delay = SignedDuration::from_secs(1i64 << over.min(16)).min(MAX_DELAY);
                let wait = (last + delay).duration_since(now);
                (wait > SignedDuration::ZERO).then_some(wait)
            })
            .max()
    }

    pub fn failed(&mut self, now: Timestamp, login: &str, ip: IpAddr) {
        if self.failures.len() >= MAX_KEYS {
            self.failures.retain(|_, (_, last)| now.duration_since(*last) < FORGET_AFTER);
        }
        for (key, _) in keys(login, ip) {
            let entry = self.failures.entry(key).or_insert((0, now));
            if now.duration_since(entry.1) >= FORGET_AFTER {
                entry.0 = 0;
            }
            *entry = (entry.0 + 1, now);
        }
    }

    pub fn succeeded(&mut self, login: &str, ip: IpAddr) {
        self.failures.remove(&login_key(login, ip));
    }
}

fn login_key(login: &str, ip: IpAddr) -> String {
    format!("{}|{ip}", login.to_lowercase())
}

fn keys(login: &str, ip: IpAddr) -> [(String, u32); 2] {
    [(login_key(login, ip), FREE_PER_LOGIN), (format!("|{ip}"), FREE_PER_ADDRESS)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    #[test]
    fn delays_start_after_free_failures_and_double() {
        let mut th = LoginThrottle::default();
        for i in 0..5 {
            assert_eq!(th.retry_after(t(i), "claire", IP), None);
            th.failed(t(i), "claire", IP);
        }
        assert_eq!(th.retry_after(t(4), "claire", IP), Some(SignedDuration::from_secs(1)));
        assert_eq!(th.retry_after(t(5), "claire", IP), None);
        th.failed(t(5), "claire", IP);
        assert_eq!(th.retry_after(t(5), "claire", IP), Some(SignedDuration::from_secs(2)));
        // Another address is not slowed down for this login.
        assert_eq!(th.retry_after(t(5), "claire", OTHER), None);
        // Case does not open a fresh counter.
        assert!(th.retry_after(t(5), "CLAIRE", IP).is_some());
    }

    #[test]
    fn success_clears_and_old_failures_are_forgotten() {
        let mut th = LoginThrottle::default();
        for i in 0..6 {
            th.failed(t(i), "claire", IP);
        }
        th.succeeded("claire", IP);
        assert_eq!(th.retry_after(t(6), "claire", IP), None);
        for i in 0..6 {
            th.failed(t(i), "paul", IP);
        }
        th.failed(t(2000), "paul", IP);
        assert_eq!(th.retry_after(t(2000), "paul", IP), None, "counter restarted after 15 minutes");
    }

    #[test]
    fn many_logins_from_one_address_are_slowed_too() {
        let mut th = LoginThrottle::default();
        for i in 0..20 {
            th.failed(t(0), &format!("user{i}"), IP);
        }
        assert!(th.retry_after(t(0), "someone-new", IP).is_some());
        assert!(th.retry_after(t(0), "someone-new", OTHER).is_none());
    }
}
