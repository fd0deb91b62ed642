//! Measurements across a [`Link`]: round-trip time, UDP flows (rate and
//! loss) and TCP goodput, with plain sockets opened inside the namespaces.
//! `visio-linkem bench` and the tests use them. Every wait here waits for a
//! condition (a reply, the link emptied) under a deadline; only the sender
//! paces itself to its offered rate.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::link::{Link, PROBE_PRIORITY, raise_priority};
use crate::params::{Direction, Side};
use crate::units::Bitrate;

/// IPv4 + UDP headers: what a UDP payload costs on the link beyond itself.
pub const UDP_OVERHEAD: usize = 28;
/// How long receivers block before looking at their stop flag.
const POLL: Duration = Duration::from_millis(20);
/// No flow or probe takes longer than this to drain after its sender stops.
const DRAIN_DEADLINE: Duration = Duration::from_secs(30);

fn io(context: &str) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::io(context.to_string(), e)
}

fn other(side: Side) -> Side {
    match side {
        Side::Kiosk => Side::Hub,
        Side::Hub => Side::Kiosk,
    }
}

fn direction_from(side: Side) -> Direction {
    match side {
        Side::Kiosk => Direction::Up,
        Side::Hub => Direction::Down,
    }
}

fn udp_in(link: &Link, side: Side, addr: Ipv4Addr) -> Result<UdpSocket> {
    let socket = link
        .in_namespace(side, || UdpSocket::bind((addr, 0)))?
        .map_err(io("binding a UDP socket in a link namespace"))?;
    socket
        .set_read_timeout(Some(POLL))
        .map_err(io("setting a read timeout"))?;
    Ok(socket)
}

/// Waits until the link has nothing queued or in flight in `dir` and
/// `quiet` says the receiver has been idle a moment.
fn wait_drained(link: &Link, dir: Direction, quiet: impl Fn() -> bool) -> Result<()> {
    let deadline = Instant::now() + DRAIN_DEADLINE;
    loop {
        let c = link.counters(dir);
        if c.queued_packets == 0 && c.in_flight_packets == 0 && quiet() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Error::io(
                "waiting for the link to drain",
                std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("still inside after 30 s: {c:?}"),
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Round-trip times of UDP probes echoed by the other side.
#[derive(Clone, Debug)]
pub struct Rtt {
    pub sent: usize,
    /// One per reply, in arrival order.
    pub samples: Vec<Duration>,
}

impl Rtt {
    fn sorted(&self) -> Vec<Duration> {
        let mut s = self.samples.clone();
        s.sort();
        s
    }
    pub fn min(&self) -> Option<Duration> {
        self.samples.iter().min().copied()
    }
    pub fn max(&self) -> Option<Duration> {
        self.samples.iter().max().copied()
    }
    pub fn mean(&self) -> Option<Duration> {
        let n = u32::try_from(self.samples.len()).ok().filter(|n| *n > 0)?;
        Some(self.samples.iter().sum::<Duration>() / n)
    }
    /// The `q` quantile (0..=1), nearest rank.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let s = self.sorted();
        let i = ((s.len() as f64 - 1.0) * q).round() as usize;
        s.get(i).copied()
    }
}

/// Sends `count` UDP probes of `size` IP bytes, `interval` apart, from
/// `from` to an echo on the other side, and times the replies.
pub fn udp_rtt(
    link: &Link,
    from: Side,
    count: usize,
    interval: Duration,
    size: usize,
) -> Result<Rtt> {
    let echo = udp_in(link, other(from), link.addr(other(from)))?;
    let echo_addr = echo.local_addr().map_err(io("reading the echo address"))?;
    let client = udp_in(link, from, link.addr(from))?;
    client
        .connect(echo_addr)
        .map_err(io("connecting the probe socket"))?;
    let stop = AtomicBool::new(false);
    let base = Instant::now();
    let samples = Mutex::new(Vec::new());
    let payload = size.saturating_sub(UDP_OVERHEAD).max(12);
    std::thread::scope(|s| -> Result<()> {
        s.spawn(|| {
            // Measuring threads must not be what loses packets on a busy
            // machine (a starved receiver overflows its socket buffer).
            raise_priority(PROBE_PRIORITY);
            let mut buf = [0u8; 65_536];
            while !stop.load(Ordering::Relaxed) {
                if let Ok((n, peer)) = echo.recv_from(&mut buf) {
                    let _ = echo.send_to(&buf[..n], peer);
                }
            }
        });
        s.spawn(|| {
            // Measuring threads must not be what loses packets on a busy
            // machine (a starved receiver overflows its socket buffer).
            raise_priority(PROBE_PRIORITY);
            let mut buf = [0u8; 65_536];
            while !stop.load(Ordering::Relaxed) {
                if let Ok(n) = client.recv(&mut buf)
                    && n >= 12
                {
                    let sent = u64::from_be_bytes(buf[4..12].try_into().expect("8 bytes"));
                    let rtt = base.elapsed().saturating_sub(Duration::from_nanos(sent));
                    samples.lock().expect("no panics hold this lock").push(rtt);
                }
            }
        });
        s.spawn(|| -> Result<()> {
            raise_priority(PROBE_PRIORITY);
            let mut packet = vec![0u8; payload];
            for i in 0..count {
                pace(base + interval * i as u32);
                packet[..4].copy_from_slice(&(i as u32).to_be_bytes());
                packet[4..12].copy_from_slice(&(base.elapsed().as_nanos() as u64).to_be_bytes());
                client.send(&packet).map_err(io("sending a probe"))?;
            }
            Ok(())
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))?;
        let got = || samples.lock().expect("no panics hold this lock").len();
        let result = wait_drained(link, direction_from(from), || true)
            .and_then(|()| wait_drained(link, direction_from(other(from)), || true));
        // Replies already past the link still need to reach our socket.
        let deadline = Instant::now() + Duration::from_millis(200);
        while got() < count && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        stop.store(true, Ordering::Relaxed);
        result
    })?;
    Ok(Rtt {
        sent: count,
        samples: samples.into_inner().expect("threads are done"),
    })
}

/// Sleeps until `t` (the sender's own pacing, not a wait for a condition).
fn pace(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

/// What a UDP flow did.
#[derive(Clone, Debug)]
pub struct Flow {
    /// When each packet was sent, by sequence number.
    pub sent_at: Vec<Instant>,
    /// (arrival, sequence number, IP bytes) of each packet received.
    pub received: Vec<(Instant, u32, usize)>,
}

impl Flow {
    pub fn sent(&self) -> usize {
        self.sent_at.len()
    }
    /// Fraction of the packets sent that never arrived.
    pub fn loss(&self) -> f64 {
        if self.sent_at.is_empty() {
            return 0.0;
        }
        1.0 - self.received.len() as f64 / self.sent_at.len() as f64
    }
    /// Received rate in IP bits per second, skipping the first `warmup`
    /// after the first arrival (the queue filling up).
    pub fn received_rate(&self, warmup: Duration) -> Option<f64> {
        let first = self.received.first()?.0;
        let start = first + warmup;
        let in_window: Vec<_> = self
            .received
            .iter()
            .filter(|(t, _, _)| *t > start)
            .collect();
        let last = in_window.last()?.0;
        let secs = (last - start).as_secs_f64();
        let bytes: usize = in_window.iter().map(|(_, _, n)| n).sum();
        (secs > 0.0).then(|| bytes as f64 * 8.0 / secs)
    }
}

/// How a UDP flow is sent.
#[derive(Clone, Copy, Debug)]
pub struct FlowSpec {
    pub count: usize,
    /// IP bytes per packet (UDP payload + 28).
    pub size: usize,
    /// Offered IP-level rate; packets are spaced to match it.
    pub rate: Bitrate,
}

impl FlowSpec {
    /// Packets of `size` IP bytes at `rate` for `duration`.
    pub fn for_duration(rate: Bitrate, size: usize, duration: Duration) -> FlowSpec {
        let count = (rate.bytes_in(duration) / size as u64).max(1) as usize;
        FlowSpec { count, size, rate }
    }
}

/// Sends a paced UDP flow from `from` to the other side and records what
/// arrived, waiting (with a deadline) until the link has drained.
pub fn udp_flow(link: &Link, from: Side, spec: FlowSpec) -> Result<Flow> {
    let receiver = udp_in(link, other(from), link.addr(other(from)))?;
    let to = receiver
        .local_addr()
        .map_err(io("reading the receiver address"))?;
    let sender = udp_in(link, from, link.addr(from))?;
    sender
        .connect(to)
        .map_err(io("connecting the flow's socket"))?;
    let stop = AtomicBool::new(false);
    let received = Mutex::new(Vec::with_capacity(spec.count));
    let last_rx = Mutex::new(Instant::now());
    let interval = spec.rate.transmit_time(spec.size);
    let mut sent_at = Vec::with_capacity(spec.count);
    std::thread::scope(|s| -> Result<()> {
        s.spawn(|| {
            // Measuring threads must not be what loses packets on a busy
            // machine (a starved receiver overflows its socket buffer).
            raise_priority(PROBE_PRIORITY);
            let mut buf = [0u8; 65_536];
            while !stop.load(Ordering::Relaxed) {
                if let Ok(n) = receiver.recv(&mut buf)
                    && n >= 4
                {
                    let now = Instant::now();
                    let seq = u32::from_be_bytes(buf[..4].try_into().expect("4 bytes"));
                    received.lock().expect("no panics hold this lock").push((
                        now,
                        seq,
                        n + UDP_OVERHEAD,
                    ));
                    *last_rx.lock().expect("no panics hold this lock") = now;
                }
            }
        });
        s.spawn(|| {
            raise_priority(PROBE_PRIORITY);
            let mut packet = vec![0u8; spec.size.saturating_sub(UDP_OVERHEAD).max(4)];
            let start = Instant::now();
            for i in 0..spec.count {
                pace(start + interval * i as u32);
                packet[..4].copy_from_slice(&(i as u32).to_be_bytes());
                sent_at.push(Instant::now());
                // A full socket buffer (ENOBUFS) is the sender's own loss:
                // it shows up as a packet that never arrived, and the
                // link's counters show it never entered.
                let _ = sender.send(&packet);
            }
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p));
        let quiet = || {
            last_rx.lock().expect("no panics hold this lock").elapsed() > Duration::from_millis(50)
        };
        let result = wait_drained(link, direction_from(from), quiet);
        stop.store(true, Ordering::Relaxed);
        result
    })?;
    let mut received = received.into_inner().expect("threads are done");
    received.sort_by_key(|r| r.0);
    Ok(Flow { sent_at, received })
}

/// TCP goodput (application bytes per second, as bits) from `from` to the
/// other side: one flow for `warmup + duration`, measured after `warmup`.
pub fn tcp_goodput(link: &Link, from: Side, warmup: Duration, duration: Duration) -> Result<f64> {
    let to = other(from);
    let listener = link
        .in_namespace(to, || TcpListener::bind((link.addr(to), 0)))?
        .map_err(io("binding a TCP listener"))?;
    let server: SocketAddr = listener
        .local_addr()
        .map_err(io("reading the listener address"))?;
    let log = Mutex::new(Vec::<(Instant, u64)>::new());
    std::thread::scope(|s| -> Result<()> {
        let reader = s.spawn(|| -> Result<()> {
            raise_priority(PROBE_PRIORITY);
            let (mut conn, _) = listener.accept().map_err(io("accepting the TCP flow"))?;
            conn.set_read_timeout(Some(Duration::from_secs(10)))
                .map_err(io("setting a read timeout"))?;
            let mut buf = vec![0u8; 256 * 1024];
            let mut total = 0u64;
            loop {
                match conn.read(&mut buf) {
                    Ok(0) => return Ok(()),
                    Ok(n) => {
                        total += n as u64;
                        log.lock()
                            .expect("no panics hold this lock")
                            .push((Instant::now(), total));
                    }
                    Err(e) => return Err(Error::io("reading the TCP flow", e)),
                }
            }
        });
        let mut stream = link
            .in_namespace(from, || {
                TcpStream::connect_timeout(&server, Duration::from_secs(10))
            })?
            .map_err(io("connecting the TCP flow"))?;
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .map_err(io("setting a write timeout"))?;
        let chunk = vec![0x5au8; 64 * 1024];
        let end = Instant::now() + warmup + duration;
        while Instant::now() < end {
            stream
                .write_all(&chunk)
                .map_err(io("writing the TCP flow"))?;
        }
        drop(stream);
        reader
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })?;
    let log = log.into_inner().expect("threads are done");
    let Some(&(first, _)) = log.first() else {
        return Err(Error::io(
            "measuring TCP",
            std::io::Error::other("no byte arrived"),
        ));
    };
    let (t1, t2) = (first + warmup, first + warmup + duration);
    let at = |t: Instant| {
        log.iter()
            .take_while(|(when, _)| *when <= t)
            .last()
            .map_or(0, |(_, b)| *b)
    };
    let (b1, b2) = (at(t1), at(t2));
    let last = log
        .iter()
        .take_while(|(when, _)| *when <= t2)
        .last()
        .map_or(t1, |(w, _)| *w);
    let secs = (last.min(t2) - t1.min(last)).as_secs_f64();
    if secs <= 0.0 {
        return Err(Error::io(
            "measuring TCP",
            std::io::Error::other("the flow ended during its warm-up"),
        ));
    }
    Ok((b2 - b1) as f64 * 8.0 / secs)
}
