//! A simulated uplink for the estimator's tests: a link of some rate with a
//! drop-tail queue, propagation both ways, the line's own loss, a receiver
//! that sends feedback every 100 ms of its clock on what reached it, and a
//! sender that sends what its encoder makes, paced at the estimate.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rtc::interceptor::{BandwidthEstimator, PacketReport};
use rtc::rtcp::transport_feedbacks::cc_feedback_report::Ecn;

use super::super::QueueDelayEstimator;

const PACKET: usize = 1200;
/// What the link carries beyond what feedback reports of a packet (SRTP's
/// tag, UDP, IP; audio's small packets make it more): the bench's ceiling
/// is on what enters the link.
const OVERHEAD: usize = 60;
/// The receiver's clock runs this far ahead of ours (ms).
const PEER_CLOCK_AHEAD_MS: f64 = 5000.0;
const FEEDBACK_EVERY_MS: f64 = 100.0;

/// One second of a run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Second {
    /// The estimate at its end.
    pub(crate) target: f64,
    /// What the sender put on the link (before the queue), bits per second,
    /// overhead included.
    pub(crate) sent: f64,
    /// The longest a packet sent in it waited in the modem's queue (ms).
    pub(crate) queued_ms: f64,
}

struct InFlight {
    id: u64,
    departure_ms: f64,
    /// On our timeline; `None` if dropped or lost.
    arrival_ms: Option<f64>,
}

pub(crate) struct Path {
    t0: Instant,
    /// The link's rate now.
    pub(crate) rate_bps: f64,
    /// Propagation, each way, ms.
    pub(crate) one_way_ms: f64,
    /// The modem's queue, in time at the link's rate: a packet that would
    /// wait longer is dropped (tail drop).
    pub(crate) queue_limit_ms: f64,
    /// The line's own loss, at random, after the queue.
    pub(crate) loss: f64,
    /// The most the application has to send (an encoder at its ceiling).
    pub(crate) app_limit_bps: f64,
    /// Whether the encoder takes the estimate once a second (the call's
    /// stats) instead of following it exactly.
    pub(crate) encoder_each_second: bool,
    /// What the sender puts out over its encoder's target: the bench's
    /// calls send ~10 % more than the estimate (audio and RTP headers,
    /// FEC, retransmissions; audio is not paced at all).
    pub(crate) overshoot: f64,
    seed: u64,
    now_ms: f64,
    next_send_ms: f64,
    free_at_ms: f64,
    next_id: u64,
    in_flight: VecDeque<InFlight>,
    /// The next feedback, on the receiver's side of our timeline.
    next_feedback_ms: f64,
    encoder_bps: Option<f64>,
    next_encoder_ms: f64,
}

impl Path {
    /// A fast path, 20 ms each way, no queue limit, a sender that sends
    /// exactly the estimate.
    pub(crate) fn new() -> Self {
        Path {
            t0: Instant::now(),
            rate_bps: 1_000_000.0,
            one_way_ms: 20.0,
            queue_limit_ms: f64::INFINITY,
            loss: 0.0,
            app_limit_bps: f64::INFINITY,
            encoder_each_second: false,
            overshoot: 1.0,
            seed: 1,
            now_ms: 0.0,
            next_send_ms: 0.0,
            free_at_ms: 0.0,
            next_id: 0,
            in_flight: VecDeque::new(),
            next_feedback_ms: FEEDBACK_EVERY_MS,
            encoder_bps: None,
            next_encoder_ms: 0.0,
        }
    }

    pub(crate) fn with_loss(loss: f64) -> Self {
        Path { loss, ..Path::new() }
    }

    /// One of the bench's profiles' uplinks (crates/linkem): propagation,
    /// loss and queue, with an encoder that takes its target once a second.
    pub(crate) fn profile(one_way_ms: f64, loss: f64, queue_limit_ms: f64) -> Self {
        Path { one_way_ms, loss, queue_limit_ms, encoder_each_second: true, ..Path::new() }
    }

    /// A uniform draw in 0..1 (xorshift: same seed, same run).
    fn draw(&mut self) -> f64 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        (self.seed >> 11) as f64 / (1u64 << 53) as f64
    }

    fn at(&self, ms: f64) -> Instant {
        self.t0 + Duration::from_secs_f64(ms.max(0.0) / 1000.0)
    }

    /// The rate the sender sends at now: its encoder's, at most the
    /// application's, paced at the estimate.
    fn send_rate(&mut self, e: &QueueDelayEstimator) -> f64 {
        let target = e.target_bitrate();
        if self.encoder_each_second && self.now_ms >= self.next_encoder_ms {
            self.encoder_bps = Some(target);
            self.next_encoder_ms = (self.now_ms / 1000.0).floor() * 1000.0 + 1000.0;
        }
        let encoder = if self.encoder_each_second { self.encoder_bps.unwrap_or(target) } else { target };
        encoder.min(self.app_limit_bps).min(target) * self.overshoot
    }

    fn send(&mut self, e: &QueueDelayEstimator) -> f64 {
        let depart = self.now_ms;
        let backlog = (self.free_at_ms - depart).max(0.0);
        let arrival_ms = if backlog > self.queue_limit_ms {
            None
        } else {
            self.free_at_ms = self.free_at_ms.max(depart) + (PACKET + OVERHEAD) as f64 * 8.0 / self.rate_bps * 1000.0;
            let at = self.free_at_ms + self.one_way_ms;
            (self.draw() >= self.loss).then_some(at)
        };
        self.in_flight.push_back(InFlight { id: self.next_id, departure_ms: depart, arrival_ms });
        self.next_id += 1;
        self.next_send_ms = depart + PACKET as f64 * 8.0 / self.send_rate(e) * 1000.0;
        backlog
    }

    /// Feedback sent at `at_ms` (receiver side) on what reached it by then.
    fn feedback(&mut self, at_ms: f64) -> Vec<PacketReport> {
        let Some(last) = self.in_flight.iter().rev().find(|p| p.arrival_ms.is_some_and(|a| a <= at_ms)).map(|p| p.id) else {
            return Vec::new();
        };
        let mut reports = Vec::new();
        while self.in_flight.front().is_some_and(|p| p.id <= last) {
            let p = self.in_flight.pop_front().expect("not empty");
            let arrived = p.arrival_ms.is_some_and(|a| a <= at_ms);
            reports.push(PacketReport {
                ssrc: 1,
                id: p.id,
                rtp_sequence_number: p.id as u16,
                is_twcc: true,
                twcc_sequence_number: p.id as u16,
                size: PACKET,
                arrived,
                departure: self.at(p.departure_ms),
                arrival: p.arrival_ms.filter(|_| arrived).map(|a| Duration::from_secs_f64((a + PEER_CLOCK_AHEAD_MS) / 1000.0)),
                ecn: Ecn::default(),
            });
        }
        reports
    }

    /// Runs `secs` seconds (whole) at `rate_bps`, one [`Second`] each.
    pub(crate) fn seconds(&mut self, e: &mut QueueDelayEstimator, secs: usize, rate_bps: f64) -> Vec<Second> {
        self.rate_bps = rate_bps;
        (0..secs).map(|_| self.one_second(e)).collect()
    }

    fn one_second(&mut self, e: &mut QueueDelayEstimator) -> Second {
        let (sent, queued_ms) = self.until(e, self.now_ms + 1000.0);
        Second { target: e.target_bitrate(), sent, queued_ms }
    }

    /// Sends and feeds back until `end`; returns the bits sent and the
    /// longest a packet was queued.
    fn until(&mut self, e: &mut QueueDelayEstimator, end: f64) -> (f64, f64) {
        let (mut sent_bits, mut worst) = (0.0, 0.0f64);
        loop {
            let feedback_due = self.next_feedback_ms + self.one_way_ms;
            let next = self.next_send_ms.min(feedback_due);
            if next >= end {
                break;
            }
            self.now_ms = next;
            if self.next_send_ms <= feedback_due {
                worst = worst.max(self.send(e));
                sent_bits += (PACKET + OVERHEAD) as f64 * 8.0;
            } else {
                let reports = self.feedback(self.next_feedback_ms);
                self.next_feedback_ms += FEEDBACK_EVERY_MS;
                if !reports.is_empty() {
                    e.on_reports(self.at(self.now_ms), &reports);
                }
            }
        }
        self.now_ms = end;
        (sent_bits, worst)
    }

    /// Runs `secs` seconds at `rate_bps`; returns the target at the end
    /// and the largest queue seen (ms).
    pub(crate) fn run(&mut self, e: &mut QueueDelayEstimator, secs: f64, rate_bps: f64) -> (f64, f64) {
        self.rate_bps = rate_bps;
        let (_, worst) = self.until(e, self.now_ms + secs * 1000.0);
        (e.target_bitrate(), worst)
    }
}
