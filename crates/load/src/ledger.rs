//! What the simulated kiosks and agents saw, as events, and what follows
//! from them: which resident was taken by whom (once, twice, never), the
//! latencies, the errors by kind. Pure: the simulation sends events with
//! times in microseconds since the run started; nothing here reads a
//! clock or a socket.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use visio_protocol::SessionId;

use crate::stats::{Samples, Summary};

/// Which way a relayed signal went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    KioskToAgent,
    AgentToKiosk,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    KioskConnected,
    AgentReady,
    /// A kiosk or agent never got connected and ready; `kind` says why.
    SetupFailed { agent: bool, kind: String },
    /// The hub put kiosk `kiosk`'s resident in the queue.
    Queued { session: SessionId, kiosk: usize, hub: usize },
    /// Agent `agent` pressed "take next" at `pressed_us` and got this
    /// resident at `started_us`.
    Taken { session: SessionId, agent: usize, hub: usize, pressed_us: u64, started_us: u64 },
    /// "Take next" found nobody.
    QueueEmpty,
    /// The kiosk heard `call_answered`.
    Answered { session: SessionId, at_us: u64 },
    Relayed { direction: Direction, latency_us: u64 },
    /// The kiosk's call ended as the agent hung up, after every signal of
    /// the exchange arrived on both sides.
    Completed { session: SessionId },
    /// A kiosk that was to queue is done without a completed call (never
    /// connected, refused, cut, ended otherwise): an error of this kind,
    /// and its resident is settled, so the run does not wait for it.
    Unsettled { kind: String },
    /// Something went wrong; `kind` is short and stable (`connect`,
    /// `hub_error:out_of_place`, `call_ended:kiosk_disconnected`, …).
    Error { kind: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Take {
    agent: usize,
    hub: usize,
    pressed_us: u64,
}

/// Accumulates events; [`Ledger::figures`] says what they add up to.
#[derive(Debug, Default)]
pub struct Ledger {
    pub kiosks_connected: usize,
    pub agents_ready: usize,
    pub kiosks_failed: usize,
    pub agents_failed: usize,
    settled: usize,
    queued: HashMap<SessionId, usize>,
    taken: HashMap<SessionId, Vec<Take>>,
    answered: HashMap<SessionId, u64>,
    completed: HashSet<SessionId>,
    take_next: Samples,
    relay_to_agent: Samples,
    relay_to_kiosk: Samples,
    queue_empty: u64,
    errors: BTreeMap<String, u64>,
}

/// The calls and latencies of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// Residents the hub queued.
    pub queued: usize,
    /// Queued residents some agent took.
    pub taken: usize,
    /// Residents taken by more than one press: must be 0.
    pub taken_twice: usize,
    /// Queued residents nobody took before the run ended.
    pub not_taken: usize,
    /// Calls whose whole exchange arrived and which the agent ended.
    pub completed: usize,
    /// Taken by an agent on another hub address than the kiosk's.
    pub cross_process: usize,
    /// "Take next" pressed on an empty queue.
    pub queue_empty: u64,
    /// Press → `call_started` at the agent.
    pub take_next: Summary,
    /// Press → `call_answered` at the kiosk (crosses the bus when the two
    /// are on different processes).
    pub answer_delivery: Summary,
    /// Signal sent → relayed signal received, both directions.
    pub relay: Summary,
    pub relay_kiosk_to_agent: Summary,
    pub relay_agent_to_kiosk: Summary,
    pub errors: BTreeMap<String, u64>,
}

impl Ledger {
    pub fn record(&mut self, event: Event) {
        match event {
            Event::KioskConnected => self.kiosks_connected += 1,
            Event::AgentReady => self.agents_ready += 1,
            Event::SetupFailed { agent, kind } => {
                if agent {
                    self.agents_failed += 1;
                } else {
                    self.kiosks_failed += 1;
                }
                *self.errors.entry(kind).or_default() += 1;
            }
            Event::Queued { session, hub, .. } => {
                self.queued.insert(session, hub);
            }
            Event::Taken { session, agent, hub, pressed_us, started_us } => {
                self.take_next.push_micros(started_us.saturating_sub(pressed_us));
                self.taken.entry(session).or_default().push(Take { agent, hub, pressed_us });
            }
            Event::QueueEmpty => self.queue_empty += 1,
            Event::Answered { session, at_us } => {
                self.answered.insert(session, at_us);
            }
            Event::Relayed { direction: Direction::KioskToAgent, latency_us } => self.relay_to_agent.push_micros(latency_us),
            Event::Relayed { direction: Direction::AgentToKiosk, latency_us } => self.relay_to_kiosk.push_micros(latency_us),
            Event::Completed { session } => {
                self.completed.insert(session);
                self.settled += 1;
            }
            Event::Unsettled { kind } => {
                *self.errors.entry(kind).or_default() += 1;
                self.settled += 1;
            }
            Event::Error { kind } => *self.errors.entry(kind).or_default() += 1,
        }
    }

    /// Residents queued so far.
    pub fn queued(&self) -> usize {
        self.queued.len()
    }

    /// Kiosks meant to queue whose visit is over, completed or not: the
    /// calls are over when this reaches the plan's number of queuers.
    pub fn settled(&self) -> usize {
        self.settled
    }

    /// Kiosks and agents whose setup is over, connected or not.
    pub fn set_up(&self) -> (usize, usize) {
        (self.kiosks_connected + self.kiosks_failed, self.agents_ready + self.agents_failed)
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Each queued session with the agents that took it, for tests that
    /// check "taken exactly once" themselves.
    pub fn takes(&self) -> Vec<(SessionId, Vec<usize>)> {
        let mut takes: Vec<(SessionId, Vec<usize>)> = self
            .queued
            .keys()
            .map(|s| (s.clone(), self.taken.get(s).map(|t| t.iter().map(|t| t.agent).collect()).unwrap_or_default()))
            .collect();
        takes.sort();
        takes
    }

    pub fn figures(&self) -> Figures {
        let taken = self.queued.keys().filter(|s| self.taken.contains_key(*s)).count();
        let mut answer_delivery = Samples::default();
        for (session, takes) in &self.taken {
            if let (Some(&at), [take]) = (self.answered.get(session), takes.as_slice()) {
                answer_delivery.push_micros(at.saturating_sub(take.pressed_us));
            }
        }
        let cross_process = self
            .taken
            .iter()
            .filter(|(s, takes)| self.queued.get(*s).is_some_and(|&hub| takes.iter().any(|t| t.hub != hub)))
            .count();
        let mut relay = self.relay_to_agent.clone();
        relay.extend(&self.relay_to_kiosk);
        Figures {
            queued: self.queued.len(),
            taken,
            taken_twice: self.taken.values().filter(|t| t.len() > 1).count(),
            not_taken: self.queued.len() - taken,
            completed: self.completed.len(),
            cross_process,
            queue_empty: self.queue_empty,
            take_next: self.take_next.summary(),
            answer_delivery: answer_delivery.summary(),
            relay: relay.summary(),
            relay_kiosk_to_agent: self.relay_to_agent.summary(),
            relay_agent_to_kiosk: self.relay_to_kiosk.summary(),
            errors: self.errors.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u32) -> SessionId {
        SessionId(format!("abcd0001-{n:06}"))
    }

    #[test]
    fn a_call_on_two_processes_counts_once_and_across() {
        let mut l = Ledger::default();
        l.record(Event::Queued { session: s(1), kiosk: 0, hub: 0 });
        l.record(Event::Taken { session: s(1), agent: 3, hub: 1, pressed_us: 1_000, started_us: 3_000 });
        l.record(Event::Answered { session: s(1), at_us: 4_500 });
        l.record(Event::Relayed { direction: Direction::KioskToAgent, latency_us: 700 });
        l.record(Event::Relayed { direction: Direction::AgentToKiosk, latency_us: 900 });
        l.record(Event::Completed { session: s(1) });
        let f = l.figures();
        assert_eq!((f.queued, f.taken, f.taken_twice, f.not_taken, f.completed, f.cross_process), (1, 1, 0, 0, 1, 1));
        assert_eq!(f.take_next.p50_ms, Some(2.0));
        assert_eq!(f.answer_delivery.p50_ms, Some(3.5));
        assert_eq!((f.relay.count, f.relay_kiosk_to_agent.count, f.relay_agent_to_kiosk.count), (2, 1, 1));
        assert_eq!(l.settled(), 1);
        assert_eq!(l.takes(), vec![(s(1), vec![3])]);
    }

    #[test]
    fn a_resident_taken_twice_or_never_shows() {
        let mut l = Ledger::default();
        for n in 1..=3 {
            l.record(Event::Queued { session: s(n), kiosk: n as usize, hub: 0 });
        }
        l.record(Event::Taken { session: s(1), agent: 0, hub: 0, pressed_us: 0, started_us: 10 });
        l.record(Event::Taken { session: s(1), agent: 1, hub: 0, pressed_us: 0, started_us: 20 });
        l.record(Event::Taken { session: s(2), agent: 1, hub: 0, pressed_us: 0, started_us: 30 });
        l.record(Event::QueueEmpty);
        l.record(Event::Unsettled { kind: "call_ended:kiosk_disconnected".into() });
        l.record(Event::SetupFailed { agent: false, kind: "connect".into() });
        l.record(Event::SetupFailed { agent: true, kind: "connect".into() });
        let f = l.figures();
        assert_eq!((f.queued, f.taken, f.taken_twice, f.not_taken, f.cross_process), (3, 2, 1, 1, 0));
        assert_eq!(f.queue_empty, 1);
        assert_eq!(f.errors.get("connect"), Some(&2));
        assert_eq!(l.error_count(), 3);
        assert_eq!(l.settled(), 1);
        assert_eq!(l.set_up(), (1, 1));
        assert_eq!(f.answer_delivery.count, 0, "no answer heard, none measured");
    }
}
