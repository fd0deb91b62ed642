//! How long a resident will wait: from the service's available agents
//! (idle, or how far into their call) and its recent call lengths.
//!
//! Each resident ahead takes the agent that frees up first and keeps them
//! for a typical call; the resident's wait is when an agent frees up after
//! that. An idle agent is free now (0: "un conseiller arrive"); a busy one
//! at the typical length minus what the call has lasted, and never sooner
//! than a quarter of it (an overrunning call still takes a while).
//! Checked against simulated days of arrivals in the tests below.

/// An available agent of the service.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Load {
    Idle,
    /// In a call for this many seconds.
    Busy { elapsed: f64 },
    /// Available on another hub process: whether in a call is not known
    /// here; half a typical call, the mean of what is left.
    Unknown,
}

/// Share of a typical call an overrunning call is still expected to last.
const OVERRUN_LEFT: f64 = 0.25;

/// Seconds until the resident at `position` (1 = next) is answered, or
/// `None` without any available agent.
pub(super) fn wait_seconds(position: u32, agents: &[Load], per_call: f64) -> Option<f64> {
    if agents.is_empty() {
        return None;
    }
    let mut free_at: Vec<f64> = agents
        .iter()
        .map(|load| match load {
            Load::Idle => 0.0,
            Load::Busy { elapsed } => (per_call - elapsed).max(per_call * OVERRUN_LEFT),
            Load::Unknown => per_call / 2.0,
        })
        .collect();
    for _ in 1..position {
        // Invariant: `agents` is not empty.
        let first = free_at.iter_mut().min_by(|a, b| a.total_cmp(b)).expect("an agent");
        *first += per_call;
    }
    free_at.into_iter().min_by(|a, b| a.total_cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_agent_means_no_wait_and_busy_ones_count_what_is_left() {
        assert_eq!(wait_seconds(1, &[], 600.0), None);
        assert_eq!(wait_seconds(1, &[Load::Idle], 600.0), Some(0.0));
        assert_eq!(wait_seconds(2, &[Load::Idle], 600.0), Some(600.0));
        assert_eq!(wait_seconds(1, &[Load::Busy { elapsed: 500.0 }], 600.0), Some(150.0), "overrun floor");
        assert_eq!(wait_seconds(1, &[Load::Busy { elapsed: 100.0 }, Load::Busy { elapsed: 400.0 }], 600.0), Some(200.0));
        assert_eq!(wait_seconds(3, &[Load::Busy { elapsed: 100.0 }, Load::Busy { elapsed: 400.0 }], 600.0), Some(800.0));
        assert_eq!(wait_seconds(1, &[Load::Unknown], 600.0), Some(300.0));
    }

    /// A small deterministic generator (xorshift64*): the same days each run.
    struct Rng(u64);

    impl Rng {
        fn unit(&mut self) -> f64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
        }

        fn exponential(&mut self, mean: f64) -> f64 {
            -mean * (1.0 - self.unit()).ln()
        }
    }

    /// Mean absolute error (seconds) of the estimate given at arrival,
    /// against the wait that followed, over `days` simulated days: `agents`
    /// agents, arrivals at random (Poisson, `per_hour`), call lengths
    /// spread from 3 to 27 minutes around a 12-minute mean, agents taking
    /// the next resident 20 s after a call. The typical length is the
    /// hub's smoothed average of the calls so far. `estimate` is the rule
    /// under test.
    fn simulate(days: u32, agents: usize, per_hour: f64, estimate: impl Fn(u32, &[Load], f64) -> Option<f64>) -> (f64, usize) {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        let (mut total_error, mut count) = (0.0, 0);
        for _ in 0..days {
            // Arrivals over an 8-hour day.
            let mut arrivals = vec![];
            let mut t = rng.exponential(3600.0 / per_hour);
            while t < 8.0 * 3600.0 {
                arrivals.push(t);
                t += rng.exponential(3600.0 / per_hour);
            }
            // Each agent: free from, and the calls booked so far (start,
            // end): with a line, the last one booked may not have begun.
            let mut free_at = vec![0.0_f64; agents];
            let mut calls: Vec<Vec<(f64, f64)>> = vec![vec![]; agents];
            let mut per_call = 720.0;
            let mut answered: Vec<f64> = vec![];
            for (i, &arrive) in arrivals.iter().enumerate() {
                // Residents still waiting at `arrive`: those ahead.
                let ahead = answered.iter().filter(|&&a| a > arrive).count() + (i - answered.len());
                // What the hub sees at `arrive`: each agent in a call (and
                // for how long) or idle.
                let loads: Vec<Load> = calls
                    .iter()
                    .map(|booked| match booked.iter().find(|(start, end)| *start <= arrive && arrive < *end) {
                        Some((start, _)) => Load::Busy { elapsed: arrive - start },
                        None => Load::Idle,
                    })
                    .collect();
                let guess = estimate(ahead as u32 + 1, &loads, per_call).unwrap_or(0.0);
                // FIFO: the agent free first takes this resident.
                let a = (0..agents).min_by(|x, y| free_at[*x].total_cmp(&free_at[*y])).unwrap_or(0);
                let start = free_at[a].max(arrive) + if free_at[a] > arrive { 20.0 } else { 0.0 };
                let length = 180.0 + rng.unit() * 1440.0;
                calls[a].push((start, start + length));
                free_at[a] = start + length;
                per_call += 0.2 * (length - per_call);
                answered.push(start);
                total_error += (guess - (start - arrive)).abs();
                count += 1;
            }
        }
        (total_error / count as f64, count)
    }

    /// The rule before issue 23: the line shared among the agents, a
    /// typical call per round, whatever the agents were doing.
    fn rounds(position: u32, agents: &[Load], per_call: f64) -> Option<f64> {
        (!agents.is_empty()).then(|| f64::from(position.div_ceil(agents.len() as u32)) * per_call)
    }

    #[test]
    fn over_simulated_days_the_estimate_is_within_a_few_minutes() {
        for (agents, per_hour) in [(1, 4.0), (2, 8.0), (3, 13.0)] {
            let (error, residents) = simulate(30, agents, per_hour, wait_seconds);
            let (before, _) = simulate(30, agents, per_hour, rounds);
            eprintln!(
                "{agents} agent(s), {per_hour} residents/h, {residents} residents: mean error {:.1} min (before: {:.1} min)",
                error / 60.0,
                before / 60.0
            );
            assert!(error < before * 0.75, "{agents} agents: {error:.0} s against {before:.0} s before");
            assert!(error < 10.0 * 60.0, "{agents} agents: mean error {error:.0} s");
        }
    }
}
