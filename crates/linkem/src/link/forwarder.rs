//! The forwarder thread: `ppoll` on both TUNs and a wake-up eventfd,
//! feeding packets to the [`LinkCore`] it shares with the [`Link`](super::Link)
//! API and writing what is due to the far TUN.

use std::os::fd::AsFd as _;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, ppoll};
use nix::sys::eventfd::EventFd;
use nix::sys::time::TimeSpec;
use tun_rs::SyncDevice;

use crate::core::LinkCore;
use crate::params::Direction;

/// Packets read from one TUN per wake-up at most, so one busy direction
/// cannot starve the other's deliveries.
const READ_BATCH: usize = 64;
/// The most the loop wakes early to make up for the kernel waking it late.
const MAX_LEAD: Duration = Duration::from_micros(500);

/// SCHED_FIFO priority of the forwarder: above the measuring threads of
/// `probe` (which use `PROBE_PRIORITY`), far below the kernel's own.
const FORWARDER_PRIORITY: u8 = 10;
pub(crate) const PROBE_PRIORITY: u8 = 5;

/// What the API and the forwarder thread share.
pub(super) struct Shared {
    pub(super) core: Mutex<LinkCore>,
    pub(super) stop: AtomicBool,
    /// Written to wake the forwarder: new parameters, a cut, or stop.
    pub(super) wake: EventFd,
    /// Why the forwarder stopped, if it stopped on its own.
    pub(super) failure: Mutex<Option<String>>,
    /// The forwarder's thread id, to read its CPU time.
    pub(super) tid: AtomicI32,
}

impl Shared {
    pub(super) fn core(&self) -> MutexGuard<'_, LinkCore> {
        // A panic while holding the lock is a bug in the core; the data is
        // still the best we have, so keep going with it.
        self.core
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
    pub(super) fn wake(&self) {
        // Fails only if the counter would overflow, which means the
        // forwarder is already due to wake.
        let _ = self.wake.write(1);
    }
}

/// The forwarder: one thread, `ppoll` on both TUNs and the wake-up eventfd
/// with a nanosecond timeout for the next due packet. No sleep per packet.
pub(super) fn forward(shared: &Shared, kiosk: &SyncDevice, hub: &SyncDevice) {
    // A real-time priority keeps deliveries on time while the machine
    // compiles next door; timer slack (50 us by default) down to 1 ns makes
    // ppoll wake when asked. Both best effort. The loop always blocks in
    // ppoll until the next due event, so it cannot hog a core.
    raise_priority(FORWARDER_PRIORITY);
    let _ = nix::sys::prctl::set_timerslack(1);
    shared
        .tid
        .store(nix::unistd::gettid().as_raw(), Ordering::Relaxed);
    let mut buf = vec![0u8; 65_536];
    // The kernel wakes us a little late, fairly steadily: track how late
    // (moving average) and serve events due within that lead, so delays
    // come out unbiased.
    let mut lead = Duration::ZERO;
    let mut late_avg = 0.0f64;
    while !shared.stop.load(Ordering::SeqCst) {
        let due = shared.core().poll_timeout();
        let now = Instant::now();
        let target = due.map(|t| t.checked_sub(lead).unwrap_or(t));
        let timeout = target.map(|t| TimeSpec::from_duration(t.saturating_duration_since(now)));
        let mut fds = [
            PollFd::new(kiosk.as_fd(), PollFlags::POLLIN),
            PollFd::new(hub.as_fd(), PollFlags::POLLIN),
            PollFd::new(shared.wake.as_fd(), PollFlags::POLLIN),
        ];
        let ready = match ppoll(&mut fds, timeout, None) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                fail(shared, format!("ppoll: {e}"));
                return;
            }
        };
        let readable = |fd: &PollFd| {
            fd.revents()
                .is_some_and(|r| r.intersects(PollFlags::POLLIN))
        };
        let (from_kiosk, from_hub, woken) =
            (readable(&fds[0]), readable(&fds[1]), readable(&fds[2]));
        if ready == 0
            && let Some(t) = target
        {
            let late = Instant::now().saturating_duration_since(t).as_secs_f64();
            late_avg += (late - late_avg) * 0.05;
            lead = Duration::from_secs_f64(late_avg.clamp(0.0, MAX_LEAD.as_secs_f64()));
        }
        if woken {
            let _ = shared.wake.read();
        }
        let mut core = shared.core();
        for (readable, device, dir) in [
            (from_kiosk, kiosk, Direction::Up),
            (from_hub, hub, Direction::Down),
        ] {
            if !readable {
                continue;
            }
            for _ in 0..READ_BATCH {
                match device.recv(&mut buf) {
                    Ok(n) => core.handle_packet(dir, Instant::now(), buf[..n].to_vec()),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        drop(core);
                        fail(shared, format!("reading the {} TUN: {e}", dir.from_side()));
                        return;
                    }
                }
            }
        }
        let horizon = Instant::now() + lead;
        core.handle_timeout(horizon);
        while let Some((dir, packet)) = core.poll_transmit(horizon) {
            let device = match dir {
                Direction::Up => hub,
                Direction::Down => kiosk,
            };
            // A full TUN queue on the far side drops, as a real interface
            // would; the counters say so.
            if device.send(&packet).is_err() {
                core.pipe_mut(dir).note_write_failed(packet.len());
            }
        }
    }
}

/// Puts the calling thread in the SCHED_FIFO class at `level` (1..=99).
/// Returns false (and changes nothing) when not allowed.
pub(crate) fn raise_priority(level: u8) -> bool {
    use thread_priority::{
        RealtimeThreadSchedulePolicy, ThreadPriority, ThreadPriorityValue, ThreadSchedulePolicy,
        set_thread_priority_and_policy, thread_native_id,
    };
    let Ok(value) = ThreadPriorityValue::try_from(level) else {
        return false;
    };
    set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Crossplatform(value),
        ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo),
    )
    .is_ok()
}

fn fail(shared: &Shared, why: String) {
    eprintln!("visio-linkem: forwarder stopped: {why}");
    *shared.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
}
