//! Slows down password guessing. A sign-in try is *reserved* before the
//! password is checked, counted as a failure of its login until it
//! succeeds: tries that arrive together cannot all pass the check before
//! any is recorded. An address's counter takes failures once decided, and
//! bounds its tries in flight apart: forty agents of one agency behind one
//! NAT signing in at nine are not forty failures of that address.
//!
//! Three counters, each with a few free failures and then an exponentially
//! growing delay before the hub even checks the password:
//! - a login from one address (5 free): one person mistyping;
//! - any login from one address (20 free): one address trying many
//!   accounts;
//! - one login from anywhere (10 free): many addresses sharing out the
//!   guesses on one account. An address from which the account signed in
//!   since the hub started is exempt from this one, so someone guessing
//!   from elsewhere cannot lock the agent out of their own office.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use jiff::{SignedDuration, Timestamp};

use crate::metrics::Limit;

/// Failures before delays start.
pub const FREE_PER_LOGIN_AND_ADDRESS: u32 = 5;
pub const FREE_PER_ADDRESS: u32 = 20;
pub const FREE_PER_ACCOUNT: u32 = 10;
/// Tries of one address checked at once, at most (any logins): bounds a
/// burst before its failures are known.
pub const MAX_IN_FLIGHT_PER_ADDRESS: u32 = 64;
const MAX_DELAY: SignedDuration = SignedDuration::from_secs(300);
/// A key with no failure for this long is forgotten.
const FORGET_AFTER: SignedDuration = SignedDuration::from_mins(15);
/// Bound on remembered keys (and on trusted addresses); the stale are
/// dropped past it.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: HashMap<Key, (u32, Timestamp)>,
    /// Tries of each address reserved and not yet decided.
    in_flight: HashMap<IpAddr, u32>,
    /// (login, address) pairs that signed in successfully.
    trusted: HashSet<(String, IpAddr)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    LoginAddress(String, IpAddr),
    Address(IpAddr),
    Account(String),
}

/// A try the throttle let through: hand it back with its outcome.
#[derive(Debug)]
#[must_use = "tell the throttle how the try ended"]
pub struct Reservation {
    login: String,
    ip: IpAddr,
    keys: Vec<Key>,
    /// When it was reserved: a failure counts from then.
    at: Timestamp,
}

/// Why a try must wait, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub limit: Limit,
    pub retry_after: SignedDuration,
}

impl LoginThrottle {
    /// Lets this try through and counts it as a failure until
    /// [`LoginThrottle::succeeded`], or says how long it must wait.
    pub fn reserve(&mut self, now: Timestamp, login: &str, ip: IpAddr) -> Result<Reservation, Refused> {
        let login = login.to_lowercase();
        let keys = self.keys(&login, ip);
        let wait = keys
            .iter()
            .filter_map(|(key, free)| {
                let (count, last) = *self.failures.get(key)?;
                if now.duration_since(last) >= FORGET_AFTER {
                    return None;
                }
                let over = count.checked_sub(*free)?;
                let delay = SignedDuration::from_secs(1i64 << over.min(16)).min(MAX_DELAY);
                let wait = (last + delay).duration_since(now);
                let limit = if matches!(key, Key::Account(_)) { Limit::SignInAccount } else { Limit::SignInAddress };
                (wait > SignedDuration::ZERO).then_some(Refused { limit, retry_after: wait })
            })
            .max_by_key(|r| r.retry_after);
        if let Some(refused) = wait {
            return Err(refused);
        }
        let in_flight = self.in_flight.entry(ip).or_default();
        if *in_flight >= MAX_IN_FLIGHT_PER_ADDRESS {
            return Err(Refused { limit: Limit::SignInAddress, retry_after: SignedDuration::from_secs(1) });
        }
        *in_flight += 1;
        if self.failures.len() >= MAX_KEYS {
            self.failures.retain(|_, (_, last)| now.duration_since(*last) < FORGET_AFTER);
        }
        for (key, _) in keys.iter().filter(|(key, _)| !matches!(key, Key::Address(_))) {
            self.count_failure(key, now);
        }
        Ok(Reservation { login, ip, keys: keys.into_iter().map(|(k, _)| k).collect(), at: now })
    }

    /// The password was right: the try is no failure, and this address is
    /// trusted for this account from now on.
    pub fn succeeded(&mut self, reservation: Reservation) {
        self.landed(reservation.ip);
        for key in &reservation.keys {
            match key {
                Key::LoginAddress(..) => {
                    self.failures.remove(key);
                }
                Key::Account(_) => {
                    if let Some(entry) = self.failures.get_mut(key) {
                        entry.0 = entry.0.saturating_sub(1);
                    }
                }
                Key::Address(_) => {}
            }
        }
        if self.trusted.len() >= MAX_KEYS {
            self.trusted.clear();
        }
        self.trusted.insert((reservation.login, reservation.ip));
    }

    /// The password was wrong: the reserved failure stands, and the
    /// address counts it now.
    pub fn failed(&mut self, reservation: Reservation) {
        self.landed(reservation.ip);
        self.count_failure(&Key::Address(reservation.ip), reservation.at);
    }

    /// The check itself failed (the store): the try does not count.
    pub fn undecided(&mut self, reservation: Reservation) {
        self.landed(reservation.ip);
        for key in reservation.keys.iter().filter(|key| !matches!(key, Key::Address(_))) {
            if let Some(entry) = self.failures.get_mut(key) {
                entry.0 = entry.0.saturating_sub(1);
            }
        }
    }

    fn count_failure(&mut self, key: &Key, now: Timestamp) {
        let entry = self.failures.entry(key.clone()).or_insert((0, now));
        if now.duration_since(entry.1) >= FORGET_AFTER {
            entry.0 = 0;
        }
        *entry = (entry.0 + 1, now);
    }

    /// One try of `ip` is decided: no longer in flight.
    fn landed(&mut self, ip: IpAddr) {
        if let Some(n) = self.in_flight.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.in_flight.remove(&ip);
            }
        }
    }

    fn keys(&self, login: &str, ip: IpAddr) -> Vec<(Key, u32)> {
        let mut keys = vec![
            (Key::LoginAddress(login.to_owned(), ip), FREE_PER_LOGIN_AND_ADDRESS),
            (Key::Address(ip), FREE_PER_ADDRESS),
        ];
        if !self.trusted.contains(&(login.to_owned(), ip)) {
            keys.push((Key::Account(login.to_owned()), FREE_PER_ACCOUNT));
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    fn ip(n: u8) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, n))
    }

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    #[test]
    fn tries_in_flight_count_so_only_the_free_ones_pass_at_once() {
        let mut th = LoginThrottle::default();
        // Forty tries arrive together; none has been checked yet.
        let passed: Vec<Reservation> = (0..40).filter_map(|_| th.reserve(t(0), "claire", IP).ok()).collect();
        assert_eq!(passed.len(), FREE_PER_LOGIN_AND_ADDRESS as usize);
        let refused = th.reserve(t(0), "claire", IP).unwrap_err();
        assert_eq!(refused, Refused { limit: Limit::SignInAddress, retry_after: SignedDuration::from_secs(1) });
    }

    #[test]
    fn delays_start_after_free_failures_and_double() {
        let mut th = LoginThrottle::default();
        for i in 0..5 {
            let r = th.reserve(t(i), "claire", IP).unwrap();
            th.failed(r);
        }
        assert_eq!(th.reserve(t(4), "claire", IP).unwrap_err().retry_after, SignedDuration::from_secs(1));
        let r = th.reserve(t(5), "claire", IP).unwrap();
        th.failed(r);
        assert_eq!(th.reserve(t(5), "claire", IP).unwrap_err().retry_after, SignedDuration::from_secs(2));
        // Another address is not slowed down for this login (yet).
        assert!(th.reserve(t(5), "claire", OTHER).is_ok());
        // Case does not open a fresh counter.
        assert!(th.reserve(t(5), "CLAIRE", IP).is_err());
    }

    #[test]
    fn success_clears_and_old_failures_are_forgotten() {
        let mut th = LoginThrottle::default();
        for i in 0..4 {
            let r = th.reserve(t(i), "claire", IP).unwrap();
            th.failed(r);
        }
        let r = th.reserve(t(4), "claire", IP).unwrap();
        th.succeeded(r);
        for i in 0..5 {
            let r = th.reserve(t(5 + i), "claire", IP).unwrap();
            th.failed(r);
        }
        assert!(th.reserve(t(9), "claire", IP).is_err());
        assert!(th.reserve(t(2000), "claire", IP).is_ok(), "counter restarted after 15 minutes");
    }

    #[test]
    fn a_failed_check_of_the_store_does_not_count() {
        let mut th = LoginThrottle::default();
        for _ in 0..50 {
            let r = th.reserve(t(0), "claire", IP).unwrap();
            th.undecided(r);
        }
        assert!(th.reserve(t(0), "claire", IP).is_ok());
    }

    #[test]
    fn many_agents_behind_one_address_sign_in_together() {
        let mut th = LoginThrottle::default();
        // Forty agents of one agency, one public address, at nine: all
        // checked; none refused for the others' tries in flight.
        let passed: Vec<Reservation> = (0..40).map(|i| th.reserve(t(0), &format!("agent{i}"), IP).unwrap()).collect();
        for r in passed {
            th.succeeded(r);
        }
        assert!(th.in_flight.is_empty());
        // A burst over the in-flight bound waits a second, whatever the logins.
        let burst: Vec<Reservation> =
            (0..MAX_IN_FLIGHT_PER_ADDRESS).map(|i| th.reserve(t(1), &format!("user{i}"), IP).unwrap()).collect();
        let refused = th.reserve(t(1), "one-more", IP).unwrap_err();
        assert_eq!(refused, Refused { limit: Limit::SignInAddress, retry_after: SignedDuration::from_secs(1) });
        assert!(th.reserve(t(1), "one-more", OTHER).is_ok(), "another address is not held up");
        // Once they are known to be wrong, the address is slowed down.
        for r in burst {
            th.failed(r);
        }
        assert_eq!(th.reserve(t(1), "someone-new", IP).unwrap_err().limit, Limit::SignInAddress);
    }

    #[test]
    fn many_logins_from_one_address_are_slowed_too() {
        let mut th = LoginThrottle::default();
        for i in 0..20 {
            let r = th.reserve(t(0), &format!("user{i}"), IP).unwrap();
            th.failed(r);
        }
        assert_eq!(th.reserve(t(0), "someone-new", IP).unwrap_err().limit, Limit::SignInAddress);
        assert!(th.reserve(t(0), "someone-new", OTHER).is_ok());
    }

    #[test]
    fn guesses_shared_out_over_addresses_hit_the_account_limit_but_not_its_own_office() {
        let mut th = LoginThrottle::default();
        let office = ip(200);
        let r = th.reserve(t(0), "claire", office).unwrap();
        th.succeeded(r);
        // Twenty addresses, a few guesses each: under their own limits.
        let mut checked = 0;
        for n in 1..=20 {
            for _ in 0..5 {
                if let Ok(r) = th.reserve(t(1), "claire", ip(n)) {
                    checked += 1;
                    th.failed(r);
                }
            }
        }
        assert_eq!(checked, FREE_PER_ACCOUNT as usize, "only the account's free failures were checked");
        assert_eq!(th.reserve(t(1), "claire", ip(99)).unwrap_err().limit, Limit::SignInAccount);
        // Claire's office signed in before: still let through.
        assert!(th.reserve(t(1), "claire", office).is_ok());
    }
}
