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
mod tests {
    use super::*;
    use crate::units::Bitrate;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// A packet of `len` bytes carrying `id` in its first 4 bytes.
    fn packet(id: u32, len: usize) -> Vec<u8> {
        let mut p = vec![0u8; len.max(4)];
        p[..4].copy_from_slice(&id.to_be_bytes());
        p
    }

    fn id(p: &[u8]) -> u32 {
        u32::from_be_bytes([p[0], p[1], p[2], p[3]])
    }

    /// Runs the pipe until it is idle, jumping from timeout to timeout, and
    /// returns (delivery time, packet id).
    fn drain(pipe: &mut Pipe, mut now: Instant) -> Vec<(Instant, u32)> {
        let mut out = Vec::new();
        loop {
            pipe.handle_timeout(now);
            while let Some(p) = pipe.poll_transmit(now) {
                out.push((now, id(&p)));
            }
            match pipe.poll_timeout() {
                Some(t) => now = now.max(t),
                None => return out,
            }
        }
    }

    #[test]
    fn serialisation_spaces_packets_at_the_rate() {
        let t0 = Instant::now();
        let mut pipe = Pipe::new(Params::CLEAN.rate(Bitrate::mbit(1)), 1, t0);
        for i in 0..100 {
            pipe.handle_packet(t0, packet(i, 1500));
        }
        let out = drain(&mut pipe, t0);
        assert_eq!(out.len(), 100);
        // 1500 B at 1 Mbit/s = 12 ms each, the first one included.
        for (n, (t, i)) in out.iter().enumerate() {
            assert_eq!(*i, n as u32);
            assert_eq!(*t - t0, ms(12) * (n as u32 + 1));
        }
        let c = pipe.counters();
        assert_eq!((c.packets_out, c.bytes_out), (100, 150_000));
    }

    #[test]
    fn delay_adds_to_serialisation() {
        let t0 = Instant::now();
        let params = Params::CLEAN.rate(Bitrate::kbit(512)).delay(ms(300));
        let mut pipe = Pipe::new(params, 1, t0);
        pipe.handle_packet(t0, packet(7, 64));
        let out = drain(&mut pipe, t0);
        // 64 B at 512 kbit/s = 1 ms, then 300 ms of delay.
        assert_eq!(out, vec![(t0 + ms(301), 7)]);
    }

    #[test]
    fn queue_limit_in_bytes_drops_the_tail() {
        let t0 = Instant::now();
        let params = Params::CLEAN
            .rate(Bitrate::mbit(1))
            .queue(QueueLimit::Bytes(10_000));
        let mut pipe = Pipe::new(params, 1, t0);
        for i in 0..30 {
            pipe.handle_packet(t0, packet(i, 1000));
        }
        // One on the wire at once, ten waiting, the rest dropped.
        let c = pipe.counters();
        assert_eq!(c.queued_packets, 10);
        assert_eq!(c.dropped_queue, 19);
        let ids: Vec<u32> = drain(&mut pipe, t0).into_iter().map(|(_, i)| i).collect();
        assert_eq!(ids, (0..11).collect::<Vec<_>>());
    }

    #[test]
    fn queue_limit_in_time_follows_the_rate() {
        let t0 = Instant::now();
        // 100 ms of queue at 1 Mbit/s is 12,500 bytes.
        let params = Params::CLEAN
            .rate(Bitrate::mbit(1))
            .queue(QueueLimit::Time(ms(100)));
        let mut pipe = Pipe::new(params, 1, t0);
        for i in 0..50 {
            pipe.handle_packet(t0, packet(i, 1250));
        }
        let c = pipe.counters();
        // The first packet goes on the wire (10 ms); 9 more fit in 100 ms.
        assert_eq!(c.queued_packets, 9, "{c:?}");
        assert_eq!(c.dropped_queue, 40);
        // Once the queue drains, packets are accepted again.
        let t1 = t0 + ms(200);
        drain(&mut pipe, t0);
        pipe.handle_packet(t1, packet(99, 1250));
        assert_eq!(drain(&mut pipe, t1), vec![(t1 + ms(10), 99)]);
    }

    #[test]
    fn a_steady_overload_is_cut_down_to_the_rate() {
        // 4 Mbit/s offered to a 1 Mbit/s link for 10 s: 1 Mbit/s comes out.
        let t0 = Instant::now();
        let params = Params::CLEAN
            .rate(Bitrate::mbit(1))
            .queue(QueueLimit::Time(ms(200)));
        let mut pipe = Pipe::new(params, 1, t0);
        let mut out = Vec::new();
        for i in 0..(10 * 4_000_000 / 8 / 1000) {
            let now = t0 + ms(2) * i; // 1000 B every 2 ms = 4 Mbit/s
            pipe.handle_timeout(now);
            while let Some(p) = pipe.poll_transmit(now) {
                out.push((now, p.len()));
            }
            pipe.handle_packet(now, packet(i, 1000));
        }
        let bytes: usize = out
            .iter()
            .filter(|(t, _)| *t <= t0 + ms(10_000))
            .map(|(_, l)| l)
            .sum();
        let mbit = bytes as f64 * 8.0 / 10.0 / 1e6;
        assert!((0.97..=1.0).contains(&mbit), "{mbit} Mbit/s");
        // 5000 offered, about 1250 fit through in 10 s: the rest is tail-dropped.
        assert!(
            pipe.counters().dropped_queue > 3_500,
            "{:?}",
            pipe.counters()
        );
    }

    #[test]
    fn jitter_without_reorder_keeps_order_and_the_delay_floor() {
        let t0 = Instant::now();
        let params = Params::CLEAN.delay(ms(20)).jitter(ms(10));
        let mut pipe = Pipe::new(params, 3, t0);
        for i in 0..1000 {
            pipe.handle_packet(t0 + ms(1) * i, packet(i, 100));
        }
        let out = drain(&mut pipe, t0);
        let ids: Vec<u32> = out.iter().map(|(_, i)| *i).collect();
        assert_eq!(ids, (0..1000).collect::<Vec<_>>());
        for (t, i) in &out {
            let delay = *t - (t0 + ms(1) * *i);
            assert!(delay >= ms(20) && delay <= ms(30) + ms(10), "{delay:?}");
        }
    }

    #[test]
    fn jitter_with_reorder_lets_packets_overtake() {
        let t0 = Instant::now();
        let mut params = Params::CLEAN.delay(ms(20)).jitter(ms(10));
        params.reorder = true;
        let mut pipe = Pipe::new(params, 3, t0);
        for i in 0..1000 {
            pipe.handle_packet(t0 + ms(1) * i, packet(i, 100));
        }
        let out = drain(&mut pipe, t0);
        assert_eq!(out.len(), 1000);
        let overtaken = out.windows(2).filter(|w| w[1].1 < w[0].1).count();
        assert!(overtaken > 100, "{overtaken}");
        for (t, i) in &out {
            let delay = *t - (t0 + ms(1) * *i);
            assert!(delay >= ms(20) && delay <= ms(30), "{delay:?}");
        }
    }

    fn loss_runs(loss: Loss, n: u32, seed: u64) -> (f64, f64) {
        let t0 = Instant::now();
        let mut pipe = Pipe::new(Params::CLEAN.loss(loss), seed, t0);
        for i in 0..n {
            pipe.handle_packet(t0, packet(i, 100));
        }
        let got: Vec<u32> = drain(&mut pipe, t0).into_iter().map(|(_, i)| i).collect();
        let lost = n as usize - got.len();
        // Bursts: runs of consecutive missing ids.
        let mut bursts = 0;
        let mut prev: i64 = -1;
        for &i in got.iter().chain(std::iter::once(&n)) {
            if i64::from(i) > prev + 1 {
                bursts += 1;
            }
            prev = i64::from(i);
        }
        (
            lost as f64 / f64::from(n),
            lost as f64 / f64::from(bursts.max(1)),
        )
    }

    #[test]
    fn random_loss_matches_its_probability() {
        let (rate, burst) = loss_runs(Loss::random(0.03), 100_000, 11);
        assert!((0.027..=0.033).contains(&rate), "{rate}");
        assert!(burst < 1.1, "{burst}");
    }

    #[test]
    fn bursty_loss_has_the_mean_and_the_burst_length() {
        for seed in [1, 2, 3] {
            let (rate, burst) = loss_runs(Loss::bursty(0.05, 4.0), 200_000, seed);
            assert!((0.045..=0.055).contains(&rate), "seed {seed}: {rate}");
            assert!((3.6..=4.4).contains(&burst), "seed {seed}: {burst}");
        }
    }

    #[test]
    fn loss_is_reproducible_with_a_seed() {
        assert_eq!(
            loss_runs(Loss::random(0.1), 5000, 42),
            loss_runs(Loss::random(0.1), 5000, 42)
        );
    }

    #[test]
    fn a_cut_drops_everything_then_the_link_comes_back() {
        let t0 = Instant::now();
        let params = Params::CLEAN.rate(Bitrate::mbit(1)).delay(ms(300));
        let mut pipe = Pipe::new(params, 1, t0);
        for i in 0..10 {
            pipe.handle_packet(t0, packet(i, 1000));
        }
        // Cut at 50 ms: some packets were on the wire or in flight.
        let t_cut = t0 + ms(50);
        pipe.handle_timeout(t_cut);
        assert!(pipe.poll_transmit(t_cut).is_none());
        pipe.cut(t_cut, Duration::from_secs(10));
        assert_eq!(pipe.poll_timeout(), None, "nothing left inside");
        pipe.handle_packet(t0 + ms(5_000), packet(100, 1000));
        pipe.handle_packet(t0 + ms(10_049), packet(101, 1000));
        assert!(drain(&mut pipe, t_cut).is_empty());
        assert_eq!(pipe.counters().dropped_cut, 12);
        // After the cut, packets flow with the link's usual timing.
        let t_after = t_cut + Duration::from_secs(10);
        pipe.handle_packet(t_after, packet(200, 1000));
        assert_eq!(drain(&mut pipe, t_after), vec![(t_after + ms(308), 200)]);
    }

    #[test]
    fn a_rate_change_applies_to_the_next_packet() {
        let t0 = Instant::now();
        let mut pipe = Pipe::new(Params::CLEAN.rate(Bitrate::mbit(8)), 1, t0);
        for i in 0..4 {
            pipe.handle_packet(t0, packet(i, 1000));
        }
        // 1000 B at 8 Mbit/s = 1 ms. At 0.5 ms the first packet is on the
        // wire; the others will go at 1 Mbit/s = 8 ms each.
        let t_set = t0 + Duration::from_micros(500);
        pipe.handle_timeout(t_set);
        pipe.set_params(t_set, Params::CLEAN.rate(Bitrate::mbit(1)));
        let times: Vec<Duration> = drain(&mut pipe, t_set)
            .into_iter()
            .map(|(t, _)| t - t0)
            .collect();
        assert_eq!(times, vec![ms(1), ms(9), ms(17), ms(25)]);
    }

    #[test]
    fn lifting_the_rate_flushes_the_queue() {
        let t0 = Instant::now();
        let mut pipe = Pipe::new(Params::CLEAN.rate(Bitrate::kbit(100)), 1, t0);
        for i in 0..5 {
            pipe.handle_packet(t0, packet(i, 1250)); // 100 ms each
        }
        let t1 = t0 + ms(150);
        pipe.handle_timeout(t1);
        pipe.set_params(t1, Params::CLEAN);
        let out = drain(&mut pipe, t1);
        assert_eq!(out.len(), 5);
        assert!(out.iter().all(|(t, _)| *t <= t0 + ms(200)), "{out:?}");
    }

    #[test]
    fn packets_over_the_mtu_are_dropped() {
        let t0 = Instant::now();
        let mut pipe = Pipe::new(Params::CLEAN.mtu(576), 1, t0);
        pipe.handle_packet(t0, packet(1, 577));
        pipe.handle_packet(t0, packet(2, 576));
        assert_eq!(drain(&mut pipe, t0), vec![(t0, 2)]);
        assert_eq!(pipe.counters().dropped_mtu, 1);
    }

    #[test]
    fn both_directions_are_independent() {
        let t0 = Instant::now();
        let mut core = LinkCore::new(crate::params::Profile::Adsl.params(), 1, t0);
        core.handle_packet(Direction::Up, t0, packet(1, 1500));
        core.handle_packet(Direction::Down, t0, packet(2, 1500));
        let mut out = Vec::new();
        let mut now = t0;
        while let Some(t) = core.poll_timeout() {
            now = now.max(t);
            core.handle_timeout(now);
            while let Some((dir, p)) = core.poll_transmit(now) {
                out.push((dir, id(&p), now - t0));
            }
        }
        // Down: 1.5 ms at 8 Mbit/s + 20 ms (+ up to 1 ms jitter); up: 12 ms + 20 ms.
        assert_eq!(out[0].0, Direction::Down);
        assert!(
            out[0].2 >= Duration::from_micros(21_500) && out[0].2 <= Duration::from_micros(22_500)
        );
        assert_eq!((out[1].0, out[1].1), (Direction::Up, 1));
        assert!(out[1].2 >= ms(32) && out[1].2 <= ms(33));
    }
}
