//! The scenario, decided before any socket opens: which hub each kiosk and
//! agent talks to, when each kiosk connects, which kiosks ask for a call
//! and when. Pure, so the pacing is tested without a hub.

use std::ops::Range;
use std::time::Duration;

/// What to simulate. Kiosks and agents are numbered from 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub kiosks: usize,
    pub agents: usize,
    /// Hub addresses given; kiosks and agents are spread over them in turn.
    pub hubs: usize,
    /// The addresses kiosks use (all, usually), and agents: apart, every
    /// call crosses processes.
    pub kiosk_hubs: Range<usize>,
    pub agent_hubs: Range<usize>,
    /// Share of kiosks that ask for a call (0.0 to 1.0).
    pub queue_fraction: f64,
    /// New kiosk connections per second.
    pub connect_rate: f64,
    /// The requests for a call are spread evenly over this long, starting
    /// once every kiosk has connected.
    pub queue_over: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("give at least one hub address (--hub wss://…)")]
    NoHub,
    #[error("the share of kiosks that queue must be between 0 and 1, not {0}")]
    Fraction(String),
    #[error("the connection rate must be a positive number of connections per second, not {0}")]
    Rate(String),
    #[error("kiosks and agents must use hub addresses among the {hubs} given")]
    HubRange { hubs: usize },
    #[error("{agents} agents for {queuers} residents who queue: give at least one agent, or no resident")]
    NoAgent { agents: usize, queuers: usize },
}

impl Plan {
    pub fn validate(&self) -> Result<(), PlanError> {
        if self.hubs == 0 {
            return Err(PlanError::NoHub);
        }
        let within = |r: &Range<usize>| !r.is_empty() && r.end <= self.hubs;
        if !within(&self.kiosk_hubs) || !within(&self.agent_hubs) {
            return Err(PlanError::HubRange { hubs: self.hubs });
        }
        if !(0.0..=1.0).contains(&self.queue_fraction) {
            return Err(PlanError::Fraction(self.queue_fraction.to_string()));
        }
        if !(self.connect_rate.is_finite() && self.connect_rate > 0.0) {
            return Err(PlanError::Rate(self.connect_rate.to_string()));
        }
        if self.agents == 0 && self.queuers() > 0 {
            return Err(PlanError::NoAgent { agents: self.agents, queuers: self.queuers() });
        }
        Ok(())
    }

    /// Round robin over the kiosks' addresses.
    pub fn hub_of_kiosk(&self, kiosk: usize) -> usize {
        self.kiosk_hubs.start + kiosk % self.kiosk_hubs.len()
    }

    /// Round robin, shifted by one from the kiosks so that with as many
    /// agents as hubs the first resident on each process is not taken by
    /// an agent of the same process by construction.
    pub fn hub_of_agent(&self, agent: usize) -> usize {
        self.agent_hubs.start + (agent + 1) % self.agent_hubs.len()
    }

    /// When kiosk `i` opens its connection, from the start of the run.
    pub fn connect_at(&self, kiosk: usize) -> Duration {
        Duration::from_secs_f64(kiosk as f64 / self.connect_rate)
    }

    /// Whether kiosk `i` asks for a call: the queuers are spread evenly
    /// over the numbering (so over the hubs too), exactly
    /// `round_down(kiosks × fraction)` of them.
    pub fn queues(&self, kiosk: usize) -> bool {
        self.queuer_rank(kiosk).is_some()
    }

    /// The rank of kiosk `i` among the queuers, if it is one.
    pub fn queuer_rank(&self, kiosk: usize) -> Option<usize> {
        let before = (kiosk as f64 * self.queue_fraction).floor() as usize;
        let after = ((kiosk + 1) as f64 * self.queue_fraction).floor() as usize;
        (after > before).then_some(before)
    }

    /// How many kiosks ask for a call.
    pub fn queuers(&self) -> usize {
        (self.kiosks as f64 * self.queue_fraction).floor() as usize
    }

    /// When the queuer of rank `r` asks, from the moment calls start.
    pub fn queue_at(&self, rank: usize) -> Duration {
        let n = self.queuers();
        if n <= 1 {
            return Duration::ZERO;
        }
        self.queue_over.mul_f64(rank as f64 / n as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(kiosks: usize, fraction: f64) -> Plan {
        Plan {
            kiosks,
            agents: 5,
            hubs: 3,
            kiosk_hubs: 0..3,
            agent_hubs: 0..3,
            queue_fraction: fraction,
            connect_rate: 100.0,
            queue_over: Duration::from_secs(10),
        }
    }

    #[test]
    fn queuers_are_exactly_the_fraction_and_spread_over_the_hubs() {
        let p = plan(1000, 0.1);
        let queuers: Vec<usize> = (0..1000).filter(|&i| p.queues(i)).collect();
        assert_eq!(queuers.len(), 100);
        assert_eq!(p.queuers(), 100);
        // Every tenth kiosk, so each hub gets a third of them.
        for hub in 0..3 {
            let on_hub = queuers.iter().filter(|&&i| p.hub_of_kiosk(i) == hub).count();
            assert!((33..=34).contains(&on_hub), "hub {hub}: {on_hub}");
        }
        // Ranks are 0..n with no gap and no repeat.
        let ranks: Vec<usize> = (0..1000).filter_map(|i| p.queuer_rank(i)).collect();
        assert_eq!(ranks, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn odd_fractions_round_down_and_the_ends_hold() {
        assert_eq!((0..7).filter(|&i| plan(7, 0.5).queues(i)).count(), 3);
        assert_eq!((0..50).filter(|&i| plan(50, 1.0).queues(i)).count(), 50);
        assert_eq!((0..50).filter(|&i| plan(50, 0.0).queues(i)).count(), 0);
    }

    #[test]
    fn connections_are_paced_at_the_rate() {
        let p = plan(1000, 0.1);
        assert_eq!(p.connect_at(0), Duration::ZERO);
        assert_eq!(p.connect_at(250), Duration::from_millis(2500));
    }

    #[test]
    fn requests_are_spread_over_the_window() {
        let p = plan(1000, 0.1);
        assert_eq!(p.queue_at(0), Duration::ZERO);
        assert_eq!(p.queue_at(50), Duration::from_secs(5));
        assert!(p.queue_at(99) < p.queue_over);
        assert_eq!(plan(10, 0.1).queue_at(0), Duration::ZERO, "a single queuer asks at once");
    }

    #[test]
    fn agents_are_shifted_from_kiosks() {
        let p = plan(10, 0.1);
        assert_eq!((0..3).map(|a| p.hub_of_agent(a)).collect::<Vec<_>>(), [1, 2, 0]);
        assert_eq!((0..3).map(|k| p.hub_of_kiosk(k)).collect::<Vec<_>>(), [0, 1, 2]);
    }

    #[test]
    fn kiosks_and_agents_may_use_separate_addresses() {
        let p = Plan { kiosk_hubs: 0..1, agent_hubs: 1..3, ..plan(10, 0.1) };
        assert_eq!(p.validate(), Ok(()));
        assert!((0..10).all(|k| p.hub_of_kiosk(k) == 0));
        assert_eq!((0..4).map(|a| p.hub_of_agent(a)).collect::<Vec<_>>(), [2, 1, 2, 1]);
    }

    #[test]
    fn bad_plans_say_what_to_fix() {
        assert_eq!(Plan { hubs: 0, kiosk_hubs: 0..0, agent_hubs: 0..0, ..plan(10, 0.1) }.validate(), Err(PlanError::NoHub));
        assert!(matches!(Plan { agent_hubs: 2..4, ..plan(10, 0.1) }.validate(), Err(PlanError::HubRange { .. })));
        assert!(matches!(plan(10, 1.5).validate(), Err(PlanError::Fraction(_))));
        assert!(matches!(Plan { connect_rate: 0.0, ..plan(10, 0.1) }.validate(), Err(PlanError::Rate(_))));
        assert!(matches!(Plan { agents: 0, ..plan(10, 0.1) }.validate(), Err(PlanError::NoAgent { .. })));
        assert_eq!(Plan { agents: 0, ..plan(10, 0.0) }.validate(), Ok(()));
    }
}
