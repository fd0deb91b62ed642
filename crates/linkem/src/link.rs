//! The thin shell around [`LinkCore`]: two network namespaces, a TUN device
//! in each, and one forwarder thread that reads packets from either TUN,
//! feeds them to the core and writes what the core says is due to the other
//! TUN.
//!
//! ```text
//!   namespace <name>-kiosk                              namespace <name>-hub
//!   10.77.0.1 on vlk0 (TUN) ── up: kiosk → hub ──►      10.77.0.2 on vlk0 (TUN)
//!                           ◄─ down: hub → kiosk ──
//!            forwarder thread in this process: LinkCore (queue, rate, loss, delay)
//! ```

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsFd as _;
use std::process::{Child, Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, ppoll};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::time::TimeSpec;
use tun_rs::{DeviceBuilder, SyncDevice};

use crate::core::{Counters, LinkCore};
use crate::error::{Error, Result};
use crate::netns::{self, Namespace};
use crate::params::{Direction, LinkParams, Params, Profile, Side};

/// Name of the TUN device inside each namespace.
pub const TUN_NAME: &str = "vlk0";
/// Default addresses: the kiosk side and the hub side.
pub const KIOSK_ADDR: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
pub const HUB_ADDR: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);

/// Packets read from one TUN per wake-up at most, so one busy direction
/// cannot starve the other's deliveries.
const READ_BATCH: usize = 64;
/// The most the loop wakes early to make up for the kernel waking it late.
const MAX_LEAD: Duration = Duration::from_micros(500);

/// SCHED_FIFO priority of the forwarder: above the measuring threads of
/// `probe` (which use `PROBE_PRIORITY`), far below the kernel's own.
const FORWARDER_PRIORITY: u8 = 10;
pub(crate) const PROBE_PRIORITY: u8 = 5;

static NEXT_ID: AtomicU32 = AtomicU32::new(0);

/// How to bring a link up. [`Link::up`] is the short form for a profile.
#[derive(Clone, Debug)]
pub struct LinkBuilder {
    name: Option<String>,
    profile: Option<Profile>,
    params: LinkParams,
    seed: u64,
    kiosk_addr: Ipv4Addr,
    hub_addr: Ipv4Addr,
}

impl Default for LinkBuilder {
    fn default() -> Self {
        LinkBuilder {
            name: None,
            profile: Some(Profile::Clean),
            params: Profile::Clean.params(),
            seed: 1,
            kiosk_addr: KIOSK_ADDR,
            hub_addr: HUB_ADDR,
        }
    }
}

impl LinkBuilder {
    /// Start from a profile (replaces all parameters).
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = Some(profile);
        self.params = profile.params();
        self
    }
    /// Both directions' parameters.
    pub fn params(mut self, params: LinkParams) -> Self {
        self.profile = None;
        self.params = params;
        self
    }
    /// One direction's parameters.
    pub fn direction(mut self, dir: Direction, params: Params) -> Self {
        self.profile = None;
        *self.params.get_mut(dir) = params;
        self
    }
    /// Instance name: the namespaces are `<name>-kiosk` and `<name>-hub`.
    /// By default `vlk-<pid>-<n>`, unique per process and link, so tests in
    /// parallel never collide.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// Seed of the loss and jitter generator (default 1): same seed, same
    /// packets lost.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    pub fn addresses(mut self, kiosk: Ipv4Addr, hub: Ipv4Addr) -> Self {
        self.kiosk_addr = kiosk;
        self.hub_addr = hub;
        self
    }

    /// Creates the namespaces and TUN devices and starts the forwarder.
    /// Everything created is removed again if a step fails.
    pub fn start(self) -> Result<Link> {
        for dir in Direction::BOTH {
            validate(&self.params.get(dir))?;
        }
        if !nix::unistd::geteuid().is_root() {
            return Err(Error::NotRoot);
        }
        netns::reap_stale();
        let name = self.name.clone().unwrap_or_else(|| {
            let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            format!("{}{}-{n}", netns::AUTO_PREFIX, std::process::id())
        });
        let mut link = Link {
            name: name.clone(),
            namespaces: Vec::new(),
            addrs: [self.kiosk_addr, self.hub_addr],
            shared: Arc::new(Shared {
                core: Mutex::new(LinkCore::new(self.params, self.seed, Instant::now())),
                stop: AtomicBool::new(false),
                wake: EventFd::from_value_and_flags(
                    0,
                    EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_CLOEXEC,
                )
                .map_err(|e| Error::io("creating the forwarder's wake-up eventfd", e.into()))?,
                failure: Mutex::new(None),
                tid: std::sync::atomic::AtomicI32::new(0),
            }),
            forwarder: None,
            profile: Mutex::new(self.profile),
        };
        // On any error below, dropping `link` removes what exists so far.
        let mut devices = Vec::new();
        for side in Side::ALL {
            let ns = Namespace::create(&format!("{name}-{side}"))?;
            let (me, peer) = (link.addr(side), link.addr(side.other()));
            let mtu = self.params.get(side.sends()).mtu;
            let device = ns.run(|| create_tun(mtu))?.map_err(|e| Error::Tun {
                namespace: ns.name().to_string(),
                source: e,
            })?;
            let script = format!(
                "link set dev lo up\n\
                 link set dev {TUN_NAME} mtu {mtu} txqueuelen 1000 up\n\
                 addr add {me}/32 peer {peer}/32 dev {TUN_NAME}\n\
                 route add default dev {TUN_NAME}\n"
            );
            netns::ip(&["-n", ns.name(), "-batch", "-"], Some(&script))?;
            link.namespaces.push(ns);
            devices.push(device);
        }
        let hub = devices.pop().expect("two devices were pushed");
        let kiosk = devices.pop().expect("two devices were pushed");
        let shared = Arc::clone(&link.shared);
        let thread = std::thread::Builder::new()
            .name(format!("linkem {name}"))
            .spawn(move || forward(&shared, &kiosk, &hub))
            .map_err(|e| Error::io("starting the forwarder thread", e))?;
        link.forwarder = Some(thread);
        Ok(link)
    }
}

fn validate(p: &Params) -> Result<()> {
    if !(68..=65_535).contains(&p.mtu) {
        return Err(Error::InvalidParams(format!(
            "mtu {} is outside 68..=65535",
            p.mtu
        )));
    }
    let probabilities: &[f64] = match &p.loss {
        crate::Loss::None => &[],
        crate::Loss::Random { probability } => &[*probability],
        crate::Loss::GilbertElliott {
            p,
            r,
            loss_good,
            loss_bad,
        } => &[*p, *r, *loss_good, *loss_bad],
    };
    if probabilities.iter().any(|v| !(0.0..=1.0).contains(v)) {
        return Err(Error::InvalidParams(format!(
            "loss {:?}: probabilities must be within 0..=1",
            p.loss
        )));
    }
    Ok(())
}

fn create_tun(mtu: usize) -> std::io::Result<SyncDevice> {
    // The link carries IPv4 only: turn IPv6 off in this (new, empty)
    // namespace before the device exists, or its router solicitation and
    // MLD reports cross the link and skew the counters. Best effort.
    for conf in ["default", "all"] {
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{conf}/disable_ipv6"), "1");
    }
    let device = DeviceBuilder::new()
        .name(TUN_NAME)
        .mtu(u16::try_from(mtu).unwrap_or(u16::MAX))
        .build_sync()?;
    device.set_nonblocking(true)?;
    Ok(device)
}

impl Side {
    fn other(self) -> Side {
        match self {
            Side::Kiosk => Side::Hub,
            Side::Hub => Side::Kiosk,
        }
    }
    /// The direction of the packets this side sends.
    fn sends(self) -> Direction {
        match self {
            Side::Kiosk => Direction::Up,
            Side::Hub => Direction::Down,
        }
    }
    fn index(self) -> usize {
        match self {
            Side::Kiosk => 0,
            Side::Hub => 1,
        }
    }
}

/// What the API and the forwarder thread share.
struct Shared {
    core: Mutex<LinkCore>,
    stop: AtomicBool,
    /// Written to wake the forwarder: new parameters, a cut, or stop.
    wake: EventFd,
    /// Why the forwarder stopped, if it stopped on its own.
    failure: Mutex<Option<String>>,
    /// The forwarder's thread id, to read its CPU time.
    tid: std::sync::atomic::AtomicI32,
}

impl Shared {
    fn core(&self) -> MutexGuard<'_, LinkCore> {
        // A panic while holding the lock is a bug in the core; the data is
        // still the best we have, so keep going with it.
        self.core
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
    fn wake(&self) {
        // Fails only if the counter would overflow, which means the
        // forwarder is already due to wake.
        let _ = self.wake.write(1);
    }
}

/// An emulated link between a kiosk namespace and a hub namespace. Dropping
/// it stops the forwarder, stops every process still inside the two
/// namespaces and deletes them, also when a test panics.
pub struct Link {
    name: String,
    /// Indexed by `Side::index`.
    namespaces: Vec<Namespace>,
    addrs: [Ipv4Addr; 2],
    shared: Arc<Shared>,
    forwarder: Option<JoinHandle<()>>,
    profile: Mutex<Option<Profile>>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("name", &self.name)
            .field("kiosk", &self.kiosk_addr())
            .field("hub", &self.hub_addr())
            .finish_non_exhaustive()
    }
}

impl Link {
    /// A link with a named profile, and a unique name.
    pub fn up(profile: Profile) -> Result<Link> {
        Link::builder().profile(profile).start()
    }

    pub fn builder() -> LinkBuilder {
        LinkBuilder::default()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The network namespace of a side, for `ip netns exec <it> …`.
    pub fn namespace(&self, side: Side) -> &str {
        self.namespaces[side.index()].name()
    }

    pub fn addr(&self, side: Side) -> Ipv4Addr {
        self.addrs[side.index()]
    }
    pub fn kiosk_addr(&self) -> Ipv4Addr {
        self.addr(Side::Kiosk)
    }
    pub fn hub_addr(&self) -> Ipv4Addr {
        self.addr(Side::Hub)
    }

    /// The profile the link was started or last set with, if its
    /// parameters have not been changed one by one since.
    pub fn profile(&self) -> Option<Profile> {
        *self.profile.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn params(&self) -> LinkParams {
        self.shared.core().params()
    }

    /// New parameters for one direction, from now on (the packet on the
    /// wire finishes at the old rate; packets past it keep their delay).
    pub fn set(&self, dir: Direction, params: Params) -> Result<()> {
        validate(&params)?;
        self.check_forwarder()?;
        let old = self.shared.core().pipe(dir).params();
        if old.mtu != params.mtu {
            let ns = self.namespace(dir.from_side());
            let mtu = params.mtu.to_string();
            netns::ip(
                &["-n", ns, "link", "set", "dev", TUN_NAME, "mtu", &mtu],
                None,
            )?;
        }
        self.shared.core().set_params(Instant::now(), dir, params);
        self.shared.wake();
        *self.profile.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(())
    }

    /// Changes one direction's parameters in place, e.g.
    /// `link.update(Direction::Up, |p| p.rate = Some(Bitrate::kbit(300)))`.
    pub fn update(&self, dir: Direction, change: impl FnOnce(&mut Params)) -> Result<()> {
        let mut params = self.shared.core().pipe(dir).params();
        change(&mut params);
        self.set(dir, params)
    }

    /// Both directions from a profile.
    pub fn set_profile(&self, profile: Profile) -> Result<()> {
        let params = profile.params();
        for dir in Direction::BOTH {
            self.set(dir, params.get(dir))?;
        }
        *self.profile.lock().unwrap_or_else(|p| p.into_inner()) = Some(profile);
        Ok(())
    }

    /// Cuts the link both ways for `duration`: what is inside it is lost,
    /// nothing crosses until the time is up, then it works as before.
    pub fn cut(&self, duration: Duration) -> Result<()> {
        self.check_forwarder()?;
        self.shared.core().cut(Instant::now(), duration);
        self.shared.wake();
        Ok(())
    }

    /// Ends a cut before its time.
    pub fn restore(&self) {
        let mut core = self.shared.core();
        for dir in Direction::BOTH {
            core.pipe_mut(dir).restore();
        }
    }

    /// Whether the link is cut right now.
    pub fn is_cut(&self) -> bool {
        self.shared
            .core()
            .pipe(Direction::Up)
            .is_cut(Instant::now())
    }

    pub fn counters(&self, dir: Direction) -> Counters {
        self.shared.core().pipe(dir).counters()
    }

    /// CPU time the forwarder thread has used so far (from
    /// `/proc/self/task/<tid>/stat`), for benchmarks.
    pub fn forwarder_cpu_time(&self) -> Option<Duration> {
        let tid = self.shared.tid.load(Ordering::Relaxed);
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
        // Fields after the parenthesised name: state is 3rd, utime 14th, stime 15th.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok()??;
        Some(Duration::from_secs_f64(ticks as f64 / hz as f64))
    }

    /// Zeroes both directions' counters, for a clean measurement window.
    pub fn reset_counters(&self) {
        let mut core = self.shared.core();
        for dir in Direction::BOTH {
            core.pipe_mut(dir).reset_counters();
        }
    }

    /// Runs `f` on a thread inside a side's namespace: sockets it opens
    /// stay in that namespace for their whole life, and processes it starts
    /// run there. A tokio runtime current in the caller is current in `f`.
    ///
    /// ```no_run
    /// # use visio_linkem::{Link, Profile, Side};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let link = Link::up(Profile::Adsl)?;
    /// let hub = link.hub_addr();
    /// let socket = link.in_namespace(Side::Hub, || std::net::UdpSocket::bind((hub, 9000)))??;
    /// # Ok(()) }
    /// ```
    pub fn in_namespace<T: Send>(&self, side: Side, f: impl FnOnce() -> T + Send) -> Result<T> {
        self.namespaces[side.index()].run(f)
    }

    /// Starts a process inside a side's namespace. The command keeps its
    /// arguments, environment, directory and stdio settings.
    pub fn spawn_in(&self, side: Side, command: &mut Command) -> Result<Child> {
        let program = command.get_program().to_string_lossy().into_owned();
        self.in_namespace(side, || command.spawn())?
            .map_err(|source| Error::Spawn {
                program,
                side,
                source,
            })
    }

    /// Runs a process inside a side's namespace to completion and returns
    /// its output, like [`Command::output`].
    pub fn run_in(&self, side: Side, command: &mut Command) -> Result<Output> {
        let program = command.get_program().to_string_lossy().into_owned();
        self.in_namespace(side, || command.output())?
            .map_err(|source| Error::Spawn {
                program,
                side,
                source,
            })
    }

    /// A tokio runtime whose threads all live in a side's namespace: every
    /// socket its tasks open is there. Use it to run the hub in one
    /// namespace and the kiosk in the other, in one test process.
    pub fn runtime(&self, side: Side) -> Result<NsRuntime> {
        NsRuntime::new(&self.namespaces[side.index()])
    }

    /// Tears the link down now and reports what could not be cleaned up.
    /// Dropping the link does the same, silently but for a warning.
    pub fn down(mut self) -> Result<LinkCounters> {
        let counters = LinkCounters {
            up: self.counters(Direction::Up),
            down: self.counters(Direction::Down),
        };
        let problems = self.teardown();
        if problems.is_empty() {
            Ok(counters)
        } else {
            Err(Error::Control {
                name: self.name.clone(),
                detail: problems.join("; "),
            })
        }
    }

    fn check_forwarder(&self) -> Result<()> {
        match &*self
            .shared
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
        {
            Some(why) => Err(Error::Forwarder(why.clone())),
            None => Ok(()),
        }
    }

    fn teardown(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(thread) = self.forwarder.take() {
            self.shared.stop.store(true, Ordering::SeqCst);
            self.shared.wake();
            if thread.join().is_err() {
                problems.push("the forwarder thread panicked".to_string());
            }
        }
        for ns in self.namespaces.drain(..) {
            problems.extend(ns.delete());
        }
        problems
    }
}

/// Final counters of both directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LinkCounters {
    pub up: Counters,
    pub down: Counters,
}

impl Drop for Link {
    fn drop(&mut self) {
        for problem in self.teardown() {
            eprintln!("visio-linkem: tearing down link {}: {problem}", self.name);
        }
    }
}

/// The forwarder: one thread, `ppoll` on both TUNs and the wake-up eventfd
/// with a nanosecond timeout for the next due packet. No sleep per packet.
fn forward(shared: &Shared, kiosk: &SyncDevice, hub: &SyncDevice) {
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

/// A multi-thread tokio runtime whose every thread (workers and blocking
/// pool) entered one namespace when it started. Futures given to
/// [`NsRuntime::block_on`] run on a worker, never on the caller's thread,
/// so they too open their sockets inside the namespace.
pub struct NsRuntime {
    runtime: Option<tokio::runtime::Runtime>,
    namespace: String,
}

impl std::fmt::Debug for NsRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NsRuntime")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl NsRuntime {
    fn new(ns: &Namespace) -> Result<NsRuntime> {
        let file: Arc<File> = Arc::new(ns.handle()?);
        let name = ns.name().to_string();
        let thread_name = format!("ns {name}");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name(thread_name)
            .on_thread_start(move || {
                // The namespace file is held open, so this cannot fail short
                // of a broken kernel; a task in the wrong namespace would be
                // a silent lie, so stop loudly instead.
                if let Err(e) = netns::enter(&file) {
                    panic!("cannot enter the link's network namespace: {e}");
                }
            })
            .build()
            .map_err(|e| Error::io(format!("building a tokio runtime for namespace {name}"), e))?;
        Ok(NsRuntime {
            runtime: Some(runtime),
            namespace: ns.name().to_string(),
        })
    }

    fn rt(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("the runtime lives until drop")
    }

    pub fn handle(&self) -> &tokio::runtime::Handle {
        self.rt().handle()
    }

    /// Spawns a task on the namespace's workers.
    pub fn spawn<F>(&self, future: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.rt().spawn(future)
    }

    /// Runs a future to completion on the namespace's workers and returns
    /// its output; a panic in it is resumed here. For synchronous code: in
    /// async code (a `#[tokio::test]`), `spawn` and await the handle.
    pub fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let task = self.rt().spawn(future);
        match self.rt().block_on(task) {
            Ok(v) => v,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("task in namespace {} was cancelled: {e}", self.namespace),
        }
    }
}

impl Drop for NsRuntime {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside another runtime's
        // async context; shutting down in the background never does.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
