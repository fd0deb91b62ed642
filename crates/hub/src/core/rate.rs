//! Token buckets: how many messages a connection, or visits a kiosk, may
//! send in a burst and then per unit of time. Pure: fed with time.

use jiff::Timestamp;

#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    last: Option<Timestamp>,
}

impl TokenBucket {
    /// A full bucket of `burst` tokens, refilled at `per_second`.
    pub fn new(burst: u32, per_second: f64) -> TokenBucket {
        TokenBucket { capacity: f64::from(burst), per_second, tokens: f64::from(burst), last: None }
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, now: Timestamp) -> bool {
        if let Some(last) = self.last {
            let elapsed = now.duration_since(last).as_secs_f64().max(0.0);
            self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_millisecond(1_800_000_000_000 + ms).unwrap()
    }

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let mut b = TokenBucket::new(3, 2.0);
        assert!((0..3).all(|_| b.take(t(0))));
        assert!(!b.take(t(0)), "the burst is spent");
        assert!(!b.take(t(400)), "0.8 of a token after 400 ms");
        assert!(b.take(t(500)), "one token after 500 ms at 2 per second");
        assert!(!b.take(t(500)));
        // A long pause refills up to the burst, not beyond.
        assert_eq!((0..10).filter(|_| b.take(t(60_000))).count(), 3);
    }

    #[test]
    fn visits_per_minute() {
        let mut b = TokenBucket::new(6, 6.0 / 60.0);
        assert_eq!((0..20).filter(|i| b.take(t(i * 1000))).count(), 7, "six at once, a seventh after 10 s");
    }
}
