//! The emulation itself, with no I/O: packets go in with the time they
//! arrived, and come out when they are due. Time is always an input and the
//! random generator is seeded, so the same inputs give the same outputs and
//! tests run faster than real time.
//!
//! Drive loop (the shell in `link.rs` does exactly this):
//!
//! 1. for each packet read: [`Pipe::handle_packet`]`(now, packet)`;
//! 2. [`Pipe::poll_transmit`]`(now)` until it returns `None`, writing each
//!    packet to the far side;
//! 3. sleep until [`Pipe::poll_timeout`] (or until a packet arrives), then
//!    go to 1.
//!
//! Stages, in order: cut → MTU → tail-drop queue → serialisation at the rate
//! (a FIFO; the rate is read when a packet starts, so a change acts at once)
//! → loss (a lost packet has used the link's capacity, as on a real wire) →
//! delay + jitter → delivery.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::params::{Direction, LinkParams, Loss, Params, QueueLimit};

/// What happened to the packets of one direction. "out" is what reached the
/// far side; every packet in is either out, dropped for one reason, or still
/// inside (`queued_packets` + `in_flight_packets`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub packets_in: u64,
    pub bytes_in: u64,
    pub packets_out: u64,
    pub bytes_out: u64,
    /// Lost on purpose (random or bursty loss).
    pub dropped_loss: u64,
    /// Tail drop: the bottleneck queue was full.
    pub dropped_queue: u64,
    /// Arrived during a cut, or was inside the link when it was cut.
    pub dropped_cut: u64,
    /// Bigger than the MTU.
    pub dropped_mtu: u64,
    /// The far side's TUN refused the packet (its queue was full).
    pub dropped_write: u64,
    /// Waiting for the bottleneck now.
    pub queued_packets: u64,
    pub queued_bytes: u64,
    /// The most bytes ever waiting at once.
    pub queued_bytes_max: u64,
    /// Past the bottleneck, waiting out their delay.
    pub in_flight_packets: u64,
}

impl Counters {
    pub fn dropped(&self) -> u64 {
        self.dropped_loss
            + self.dropped_queue
            + self.dropped_cut
            + self.dropped_mtu
            + self.dropped_write
    }
}

struct Waiting {
    arrived: Instant,
    packet: Vec<u8>,
}

/// A packet past the bottleneck, ordered by due time then by sequence, so
/// equal due times keep their order.
struct InFlight {
    due: Instant,
    seq: u64,
    packet: Vec<u8>,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

/// One direction of the link.
pub struct Pipe {
    params: Params,
    rng: StdRng,
    waiting: VecDeque<Waiting>,
    waiting_bytes: usize,
    /// When the packet on the wire has been fully sent.
    wire_free_at: Instant,
    in_flight: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
    /// Due time of the last packet scheduled, so that jitter without
    /// reordering never lets a packet overtake the one before it.
    last_due: Instant,
    /// Gilbert-Elliott state: in a loss burst.
    bad: bool,
    cut_until: Option<Instant>,
    counters: Counters,
}

impl std::fmt::Debug for Pipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipe")
            .field("params", &self.params)
            .field("counters", &self.counters())
            .field("cut_until", &self.cut_until)
            .finish_non_exhaustive()
    }
}

impl Pipe {
    pub fn new(params: Params, seed: u64, now: Instant) -> Pipe {
        Pipe {
            params,
            rng: StdRng::seed_from_u64(seed),
            waiting: VecDeque::new(),
            waiting_bytes: 0,
            wire_free_at: now,
            in_flight: BinaryHeap::new(),
            seq: 0,
            last_due: now,
            bad: false,
            cut_until: None,
            counters: Counters::default(),
        }
    }

    pub fn params(&self) -> Params {
        self.params
    }

    /// Counters, with the queue and in-flight figures of this moment.
    pub fn counters(&self) -> Counters {
        Counters {
            queued_packets: self.waiting.len() as u64,
            queued_bytes: self.waiting_bytes as u64,
            in_flight_packets: self.in_flight.len() as u64,
            ..self.counters
        }
    }

    /// Zeroes the cumulative counters (a clean measurement window).
    pub fn reset_counters(&mut self) {
        self.counters = Counters::default();
    }

    /// Whether the link is cut at `now`.
    pub fn is_cut(&self, now: Instant) -> bool {
        self.cut_until.is_some_and(|until| now < until)
    }

    /// A packet arrived at this end of the link.
    pub fn handle_packet(&mut self, now: Instant, packet: Vec<u8>) {
        let len = packet.len();
        self.counters.packets_in += 1;
        self.counters.bytes_in += len as u64;
        if self.is_cut(now) {
            self.counters.dropped_cut += 1;
            return;
        }
        if len > self.params.mtu {
            self.counters.dropped_mtu += 1;
            return;
        }
        let Some(rate) = self.params.rate else {
            self.post(now, packet);
            return;
        };
        let busy = !self.waiting.is_empty() || self.wire_free_at > now;
        if busy {
            let full = match self.params.queue {
                QueueLimit::Unlimited => false,
                QueueLimit::Bytes(limit) => self.waiting_bytes + len > limit,
                QueueLimit::Time(limit) => {
                    let on_wire = self.wire_free_at.saturating_duration_since(now);
                    on_wire + rate.transmit_time(self.waiting_bytes + len) > limit
                }
            };
            if full {
                self.counters.dropped_queue += 1;
                return;
            }
        }
        self.waiting_bytes += len;
        self.counters.queued_bytes_max = self
            .counters
            .queued_bytes_max
            .max(self.waiting_bytes as u64);
        self.waiting.push_back(Waiting {
            arrived: now,
            packet,
        });
        self.serve(now);
    }

    /// Puts waiting packets on the wire while the wire is free.
    fn serve(&mut self, now: Instant) {
        while self.wire_free_at <= now {
            let Some(w) = self.waiting.pop_front() else {
                break;
            };
            self.waiting_bytes -= w.packet.len();
            let start = w.arrived.max(self.wire_free_at);
            let finish = match self.params.rate {
                Some(rate) => start + rate.transmit_time(w.packet.len()),
                None => start,
            };
            self.wire_free_at = finish;
            self.post(finish, w.packet);
        }
    }

    /// The packet has left the bottleneck at `sent`: lose it, or schedule
    /// its delivery after the delay.
    fn post(&mut self, sent: Instant, packet: Vec<u8>) {
        if self.lose() {
            self.counters.dropped_loss += 1;
            return;
        }
        let mut due = sent + self.params.delay;
        let jitter = self.params.jitter.as_nanos() as u64;
        if jitter > 0 {
            due += Duration::from_nanos(self.rng.random_range(0..=jitter));
        }
        if !self.params.reorder {
            due = due.max(self.last_due);
        }
        self.last_due = self.last_due.max(due);
        self.seq += 1;
        self.in_flight.push(Reverse(InFlight {
            due,
            seq: self.seq,
            packet,
        }));
    }

    fn lose(&mut self) -> bool {
        match self.params.loss {
            Loss::None => false,
            Loss::Random { probability } => self.rng.random::<f64>() < probability,
            Loss::GilbertElliott {
                p,
                r,
                loss_good,
                loss_bad,
            } => {
                let flip = if self.bad { r } else { p };
                if self.rng.random::<f64>() < flip {
                    self.bad = !self.bad;
                }
                let loss = if self.bad { loss_bad } else { loss_good };
                loss > 0.0 && self.rng.random::<f64>() < loss
            }
        }
    }

    /// When this pipe next has something to do, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let serve = (!self.waiting.is_empty()).then_some(self.wire_free_at);
        let deliver = self.in_flight.peek().map(|Reverse(p)| p.due);
        match (serve, deliver) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Advances the bottleneck to `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.serve(now);
    }

    /// The next packet due at the far side by `now`, if any.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        self.serve(now);
        if self.in_flight.peek().is_none_or(|Reverse(p)| p.due > now) {
            return None;
        }
        let Reverse(p) = self.in_flight.pop()?;
        self.counters.packets_out += 1;
        self.counters.bytes_out += p.packet.len() as u64;
        Some(p.packet)
    }

    /// The shell could not hand a packet from `poll_transmit` to the far
    /// side: count it as dropped, not delivered.
    pub fn note_write_failed(&mut self, len: usize) {
        self.counters.packets_out -= 1;
        self.counters.bytes_out -= len as u64;
        self.counters.dropped_write += 1;
    }

    /// New parameters from now on. The packet on the wire finishes at the
    /// old rate; the next one starts at the new rate; packets already past
    /// the bottleneck keep their delay.
    pub fn set_params(&mut self, now: Instant, params: Params) {
        self.params = params;
        if self.params.rate.is_none() {
            // No bottleneck any more: everything waiting leaves now.
            self.wire_free_at = self.wire_free_at.min(now);
        }
        self.serve(now);
    }

    /// Cuts the link for `duration` from `now`: packets inside it (queued or
    /// in flight) are lost, and so is everything that arrives until the
    /// cut ends. A second cut while cut extends it.
    pub fn cut(&mut self, now: Instant, duration: Duration) {
        let until = now + duration;
        self.cut_until = Some(self.cut_until.map_or(until, |u| u.max(until)));
        let lost = self.waiting.len() + self.in_flight.len();
        self.counters.dropped_cut += lost as u64;
        self.waiting.clear();
        self.waiting_bytes = 0;
        self.in_flight.clear();
        self.wire_free_at = self.wire_free_at.min(now);
        self.last_due = now;
    }

    /// Ends a cut early.
    pub fn restore(&mut self) {
        self.cut_until = None;
    }
}

/// Both directions of a link.
#[derive(Debug)]
pub struct LinkCore {
    pipes: [Pipe; 2],
}

impl LinkCore {
    /// `seed` makes loss and jitter reproducible; each direction gets its
    /// own stream derived from it.
    pub fn new(params: LinkParams, seed: u64, now: Instant) -> LinkCore {
        LinkCore {
            pipes: [
                Pipe::new(params.up, seed.wrapping_mul(2).wrapping_add(1), now),
                Pipe::new(params.down, seed.wrapping_mul(2).wrapping_add(2), now),
            ],
        }
    }

    pub fn pipe(&self, dir: Direction) -> &Pipe {
        &self.pipes[dir.index()]
    }
    pub fn pipe_mut(&mut self, dir: Direction) -> &mut Pipe {
        &mut self.pipes[dir.index()]
    }

    pub fn handle_packet(&mut self, dir: Direction, now: Instant, packet: Vec<u8>) {
        self.pipe_mut(dir).handle_packet(now, packet);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        for p in &mut self.pipes {
            p.handle_timeout(now);
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pipes.iter().filter_map(Pipe::poll_timeout).min()
    }

    /// The next packet due by `now` and the direction it travels.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<(Direction, Vec<u8>)> {
        for dir in Direction::BOTH {
            if let Some(p) = self.pipe_mut(dir).poll_transmit(now) {
                return Some((dir, p));
            }
        }
        None
    }

    pub fn params(&self) -> LinkParams {
        LinkParams {
            up: self.pipe(Direction::Up).params(),
            down: self.pipe(Direction::Down).params(),
        }
    }

    pub fn set_params(&mut self, now: Instant, dir: Direction, params: Params) {
        self.pipe_mut(dir).set_params(now, params);
    }

    /// Cuts both directions for `duration`.
    pub fn cut(&mut self, now: Instant, duration: Duration) {
        for p in &mut self.pipes {
            p.cut(now, duration);
        }
    }
}

#[cfg(test)]
mod tests;
