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

use std::net::Ipv4Addr;
use std::process::{Child, Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::eventfd::{EfdFlags, EventFd};
use tun_rs::{DeviceBuilder, SyncDevice};

use crate::core::{Counters, LinkCore};
use crate::error::{Error, Result};
use crate::netns::{self, Namespace};
use crate::params::{Direction, LinkParams, Params, Profile, Side};

mod firewall;
mod forwarder;
mod runtime;

pub(crate) use forwarder::{PROBE_PRIORITY, raise_priority};
pub use firewall::only_tcp_out_rules;
use forwarder::{Shared, forward};
pub use runtime::NsRuntime;

/// Name of the TUN device inside each namespace.
pub const TUN_NAME: &str = "vlk0";
/// Default addresses: the kiosk side and the hub side.
pub const KIOSK_ADDR: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
pub const HUB_ADDR: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);

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
