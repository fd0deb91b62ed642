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
    assert!(out[0].2 >= Duration::from_micros(21_500) && out[0].2 <= Duration::from_micros(22_500));
    assert_eq!((out[1].0, out[1].1), (Direction::Up, 1));
    assert!(out[1].2 >= ms(32) && out[1].2 <= ms(33));
}
