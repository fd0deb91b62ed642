//! `visio-linkem`: bring an emulated rural link up, change it, cut it, read
//! its counters, run a command across it, and measure its accuracy.

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use visio_linkem::control::{self, Reply, Request, Status};
use visio_linkem::{
    Bitrate, Direction, Error, Link, LinkParams, Loss, Params, Profile, QueueLimit, Side,
    fmt_duration, parse_duration, parse_percent, parse_rate, parse_size, probe,
};

const DEFAULT_NAME: &str = "vlk";

#[derive(Parser, Debug)]
#[command(
    name = "visio-linkem",
    version,
    about = "Emulates the slow links kiosks have: two network namespaces joined by a TUN forwarder \
             with rate, queue, loss, delay and cuts per direction. Needs root.",
    after_help = "\"up\" is kiosk → hub, \"down\" is hub → kiosk. Profiles: `visio-linkem profiles`."
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Bring a link up in the background; prints its namespaces and addresses.
    Up(UpArgs),
    /// Change a running link's parameters now.
    Set(SetArgs),
    /// Cut a running link for a time (e.g. `cut 10s`): everything is dropped, then it comes back.
    Cut {
        /// How long, e.g. 10s or 500ms.
        duration: String,
        #[arg(long, default_value = DEFAULT_NAME)]
        name: String,
    },
    /// End a cut early.
    Restore {
        #[arg(long, default_value = DEFAULT_NAME)]
        name: String,
    },
    /// Parameters and counters per direction.
    Status {
        #[arg(long, default_value = DEFAULT_NAME)]
        name: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Zero the counters after reading them.
        #[arg(long)]
        reset: bool,
    },
    /// Stop a link and delete its namespaces (also one whose daemon was killed).
    Down {
        #[arg(long, default_value = DEFAULT_NAME)]
        name: String,
    },
    /// Bring a private link up, run a command, tear the link down; exits with the command's status.
    Run(RunArgs),
    /// List the named profiles.
    Profiles,
    /// Measure the emulator's accuracy: RTT, UDP and TCP rates, loss (takes about 2 minutes).
    Bench(BenchArgs),
    /// The daemon behind `up` (not for direct use).
    #[command(hide = true)]
    Serve(UpArgs),
}

#[derive(Args, Debug)]
struct UpArgs {
    /// Link name: namespaces are <name>-kiosk and <name>-hub.
    #[arg(long, default_value = DEFAULT_NAME)]
    name: String,
    #[arg(long, default_value = "clean")]
    profile: String,
    /// Seed for loss and jitter (same seed, same packets lost).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    params: ParamArgs,
}

#[derive(Args, Debug)]
struct SetArgs {
    #[arg(long, default_value = DEFAULT_NAME)]
    name: String,
    /// Start from this profile's parameters (then apply the options).
    #[arg(long)]
    profile: Option<String>,
    #[command(flatten)]
    params: ParamArgs,
}

#[derive(Args, Debug)]
struct RunArgs {
    #[arg(long, default_value = "clean")]
    profile: String,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where the command runs: kiosk, hub, or host (the default: with
    /// VISIO_LINKEM_* variables naming the namespaces and addresses).
    #[arg(long = "in", default_value = "host")]
    side: String,
    #[command(flatten)]
    params: ParamArgs,
    /// The command and its arguments, after `--`.
    #[arg(required = true, last = true)]
    command: Vec<String>,
}

#[derive(Args, Debug)]
struct BenchArgs {
    /// Rates to measure, comma-separated.
    #[arg(long, default_value = "512k,1M,2M,8M")]
    rates: String,
    /// Seconds of each UDP and TCP measurement (after its warm-up).
    #[arg(long, default_value_t = 6)]
    seconds: u64,
}

/// Link parameters. Each comes as `--X` (both directions), `--X-up`
/// (kiosk → hub) and `--X-down` (hub → kiosk); they override the profile.
#[derive(Args, Debug, Default)]
struct ParamArgs {
    /// Rate limit, e.g. 8mbit, 512k; 0 = unlimited.
    #[arg(long, value_name = "RATE")]
    rate: Option<String>,
    #[arg(long, value_name = "RATE")]
    rate_up: Option<String>,
    #[arg(long, value_name = "RATE")]
    rate_down: Option<String>,
    /// One-way delay, e.g. 20ms, 0.3s.
    #[arg(long, value_name = "TIME")]
    delay: Option<String>,
    #[arg(long, value_name = "TIME")]
    delay_up: Option<String>,
    #[arg(long, value_name = "TIME")]
    delay_down: Option<String>,
    /// Up to this much extra delay per packet (uniform, on top of the delay).
    #[arg(long, value_name = "TIME")]
    jitter: Option<String>,
    #[arg(long, value_name = "TIME")]
    jitter_up: Option<String>,
    #[arg(long, value_name = "TIME")]
    jitter_down: Option<String>,
    /// Let jitter reorder packets (off: a packet waits for the one before it).
    #[arg(long)]
    reorder: bool,
    /// Packet loss, e.g. 1% (a bare number is percent).
    #[arg(long, value_name = "PERCENT")]
    loss: Option<String>,
    #[arg(long, value_name = "PERCENT")]
    loss_up: Option<String>,
    #[arg(long, value_name = "PERCENT")]
    loss_down: Option<String>,
    /// Mean loss burst length in packets; above 1, loss follows a Gilbert-Elliott model.
    #[arg(long, value_name = "PACKETS")]
    loss_burst: Option<String>,
    #[arg(long, value_name = "PACKETS")]
    loss_burst_up: Option<String>,
    #[arg(long, value_name = "PACKETS")]
    loss_burst_down: Option<String>,
    /// Tail-drop queue as queueing time at the rate, e.g. 200ms; 0 = unlimited.
    #[arg(long, value_name = "TIME")]
    queue: Option<String>,
    #[arg(long, value_name = "TIME")]
    queue_up: Option<String>,
    #[arg(long, value_name = "TIME")]
    queue_down: Option<String>,
    /// Tail-drop queue in bytes, e.g. 64k; 0 = unlimited.
    #[arg(long, value_name = "BYTES")]
    queue_bytes: Option<String>,
    #[arg(long, value_name = "BYTES")]
    queue_bytes_up: Option<String>,
    #[arg(long, value_name = "BYTES")]
    queue_bytes_down: Option<String>,
    /// MTU; bigger packets are dropped.
    #[arg(long, value_name = "BYTES")]
    mtu: Option<String>,
    #[arg(long, value_name = "BYTES")]
    mtu_up: Option<String>,
    #[arg(long, value_name = "BYTES")]
    mtu_down: Option<String>,
}

impl ParamArgs {
    /// Whether no parameter was given (so the profile stands as it is).
    fn is_empty(&self) -> bool {
        !self.reorder
            && [
                &self.rate,
                &self.rate_up,
                &self.rate_down,
                &self.delay,
                &self.delay_up,
                &self.delay_down,
                &self.jitter,
                &self.jitter_up,
                &self.jitter_down,
                &self.loss,
                &self.loss_up,
                &self.loss_down,
                &self.loss_burst,
                &self.loss_burst_up,
                &self.loss_burst_down,
                &self.queue,
                &self.queue_up,
                &self.queue_down,
                &self.queue_bytes,
                &self.queue_bytes_up,
                &self.queue_bytes_down,
                &self.mtu,
                &self.mtu_up,
                &self.mtu_down,
            ]
            .iter()
            .all(|o| o.is_none())
    }

    fn apply(&self, params: &mut LinkParams) -> Result<(), Error> {
        for dir in Direction::BOTH {
            let pick = |both: &Option<String>, up: &Option<String>, down: &Option<String>| {
                let one = if dir == Direction::Up { up } else { down };
                one.clone().or_else(|| both.clone())
            };
            let p = params.get_mut(dir);
            if let Some(v) = pick(&self.rate, &self.rate_up, &self.rate_down) {
                p.rate = parse_rate(&v)?;
            }
            if let Some(v) = pick(&self.delay, &self.delay_up, &self.delay_down) {
                p.delay = parse_duration(&v)?;
            }
            if let Some(v) = pick(&self.jitter, &self.jitter_up, &self.jitter_down) {
                p.jitter = parse_duration(&v)?;
            }
            if self.reorder {
                p.reorder = true;
            }
            let loss = pick(&self.loss, &self.loss_up, &self.loss_down)
                .map(|v| parse_percent(&v))
                .transpose()?;
            let burst = pick(&self.loss_burst, &self.loss_burst_up, &self.loss_burst_down)
                .map(|v| {
                    v.parse::<f64>()
                        .ok()
                        .filter(|b| *b >= 1.0)
                        .ok_or(Error::Parse {
                            what: "loss burst",
                            input: v.clone(),
                            expected: "a mean burst length in packets, 1 or more",
                        })
                })
                .transpose()?;
            if loss.is_some() || burst.is_some() {
                p.loss = Loss::bursty(
                    loss.unwrap_or(p.loss.mean()),
                    burst.unwrap_or(p.loss.mean_burst()),
                );
            }
            if let Some(v) = pick(&self.queue, &self.queue_up, &self.queue_down) {
                let t = parse_duration(&v)?;
                p.queue = if t.is_zero() {
                    QueueLimit::Unlimited
                } else {
                    QueueLimit::Time(t)
                };
            }
            if let Some(v) = pick(
                &self.queue_bytes,
                &self.queue_bytes_up,
                &self.queue_bytes_down,
            ) {
                let b = parse_size(&v)?;
                p.queue = if b == 0 {
                    QueueLimit::Unlimited
                } else {
                    QueueLimit::Bytes(b)
                };
            }
            if let Some(v) = pick(&self.mtu, &self.mtu_up, &self.mtu_down) {
                p.mtu = v.parse().map_err(|_| Error::Parse {
                    what: "mtu",
                    input: v.clone(),
                    expected: "a size in bytes such as 1500 or 1280",
                })?;
            }
        }
        Ok(())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("visio-linkem: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, Error> {
    match cli.command {
        Cmd::Profiles => {
            print_profiles();
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Up(args) => up(&args),
        Cmd::Serve(args) => serve(&args),
        Cmd::Set(args) => {
            let current = control::request(&args.name, &Request::Status { reset: false })?;
            let profile = args
                .profile
                .as_deref()
                .map(str::parse::<Profile>)
                .transpose()?;
            let mut params = profile.map_or(current.params, Profile::params);
            args.params.apply(&mut params)?;
            let keep_profile = if args.params.is_empty() {
                profile
            } else {
                None
            };
            let status = control::request(
                &args.name,
                &Request::Set {
                    params: Box::new(params),
                    profile: keep_profile,
                },
            )?;
            print_status(&status);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Cut { duration, name } => {
            let d = parse_duration(&duration)?;
            control::request(
                &name,
                &Request::Cut {
                    millis: d.as_millis() as u64,
                },
            )?;
            println!("link {name} cut for {}", fmt_duration(d));
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Restore { name } => {
            control::request(&name, &Request::Restore)?;
            println!("link {name} restored");
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Status { name, json, reset } => {
            let status = control::request(&name, &Request::Status { reset })?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&status).expect("status serialises")
                );
            } else {
                print_status(&status);
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Down { name } => down(&name),
        Cmd::Run(args) => run_command(args),
        Cmd::Bench(args) => bench(&args),
    }
}

fn link_params(profile: &str, params: &ParamArgs) -> Result<(Profile, LinkParams, bool), Error> {
    let profile: Profile = profile.parse()?;
    let mut p = profile.params();
    params.apply(&mut p)?;
    Ok((profile, p, params.is_empty()))
}

fn print_profiles() {
    println!("\"up\" is kiosk → hub, \"down\" hub → kiosk; rates are IP-level.\n");
    for profile in Profile::ALL {
        let p = profile.params();
        println!("{:<10} {}", profile.name(), profile.about());
        println!("           up:   {}", p.up);
        println!("           down: {}", p.down);
    }
}

fn print_status(s: &Status) {
    let profile = s.profile.map_or("custom".to_string(), |p| p.to_string());
    println!(
        "link {} (profile {profile}, pid {}){}",
        s.name,
        s.pid,
        if s.cut { " — CUT" } else { "" }
    );
    println!(
        "  kiosk side: namespace {}, address {}",
        s.kiosk_namespace, s.kiosk_addr
    );
    println!(
        "  hub side:   namespace {}, address {}",
        s.hub_namespace, s.hub_addr
    );
    for dir in Direction::BOTH {
        let label = match dir {
            Direction::Up => "up   (kiosk → hub)",
            Direction::Down => "down (hub → kiosk)",
        };
        let c = s.counters(dir);
        println!("  {label}: {}", s.params.get(dir));
        println!(
            "      in {} pkts / {} B, out {} pkts / {} B; dropped: loss {}, queue {}, cut {}, mtu {}, write {}; \
             queued now {} pkts / {} B (max {} B), in flight {}",
            c.packets_in,
            c.bytes_in,
            c.packets_out,
            c.bytes_out,
            c.dropped_loss,
            c.dropped_queue,
            c.dropped_cut,
            c.dropped_mtu,
            c.dropped_write,
            c.queued_packets,
            c.queued_bytes,
            c.queued_bytes_max,
            c.in_flight_packets
        );
    }
}

/// `up`: starts `visio-linkem serve` detached, then waits until its control
/// socket answers (or it exits, and then shows why).
fn up(args: &UpArgs) -> Result<ExitCode, Error> {
    link_params(&args.profile, &args.params)?; // refuse bad options here, not in the log
    if let Ok(status) = control::request(&args.name, &Request::Status { reset: false }) {
        return Err(Error::AlreadyUp {
            name: args.name.clone(),
            pid: status.pid,
        });
    }
    std::fs::create_dir_all(control::STATE_DIR)
        .map_err(|e| Error::io(format!("creating {}", control::STATE_DIR), e))?;
    let log_path = control::log_path(&args.name);
    let log = std::fs::File::create(&log_path)
        .map_err(|e| Error::io(format!("creating {}", log_path.display()), e))?;
    let exe = std::env::current_exe().map_err(|e| Error::io("finding our own executable", e))?;
    // Same arguments, `serve` instead of `up`.
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    if let Some(first) = argv.iter_mut().find(|a| *a == "up") {
        *first = "serve".to_string();
    }
    let log_err = log
        .try_clone()
        .map_err(|e| Error::io("duplicating the log file", e))?;
    let mut child = std::process::Command::new(exe)
        .args(&argv)
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(log_err)
        // Its own process group: a Ctrl-C in this terminal does not stop it.
        .process_group(0)
        .spawn()
        .map_err(|e| Error::io("starting the link daemon", e))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(status) = control::request(&args.name, &Request::Status { reset: false }) {
            print_status(&status);
            println!(
                "\nrun things on a side:  ip netns exec {} <command>",
                status.kiosk_namespace
            );
            println!(
                "change it:             visio-linkem set --name {0} --rate-up 300k;  visio-linkem cut --name {0} 10s",
                status.name
            );
            println!(
                "stop it:               visio-linkem down --name {}",
                status.name
            );
            return Ok(ExitCode::SUCCESS);
        }
        if let Ok(Some(exit)) = child.try_wait() {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            return Err(Error::Control {
                name: args.name.clone(),
                detail: format!("the link daemon exited ({exit}): {}", log.trim()),
            });
        }
        if Instant::now() > deadline {
            return Err(Error::Control {
                name: args.name.clone(),
                detail: format!("not answering after 20 s; see {}", log_path.display()),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The daemon: owns the link, answers on the control socket, tears down on
/// `down`, SIGTERM, SIGINT or SIGHUP.
fn serve(args: &UpArgs) -> Result<ExitCode, Error> {
    let (profile, params, pure) = link_params(&args.profile, &args.params)?;
    let mut builder = Link::builder()
        .name(&args.name)
        .seed(args.seed)
        .params(params);
    if pure {
        builder = builder.profile(profile);
    }
    let link = builder.start()?;
    let socket = control::socket_path(&args.name);
    let _ = std::fs::remove_file(&socket); // a stale one from a killed daemon
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("building the daemon's runtime", e))?;
    let result = rt.block_on(daemon(&link, &socket));
    let _ = std::fs::remove_file(&socket);
    let final_status = status_of(&link);
    drop(link);
    println!("link {} down; final counters:", args.name);
    print_status(&final_status);
    result.map(|()| ExitCode::SUCCESS)
}

fn status_of(link: &Link) -> Status {
    Status {
        name: link.name().to_string(),
        pid: std::process::id(),
        profile: link.profile(),
        kiosk_namespace: link.namespace(Side::Kiosk).to_string(),
        hub_namespace: link.namespace(Side::Hub).to_string(),
        kiosk_addr: link.kiosk_addr(),
        hub_addr: link.hub_addr(),
        params: link.params(),
        counters: visio_linkem::LinkCounters {
            up: link.counters(Direction::Up),
            down: link.counters(Direction::Down),
        },
        cut: link.is_cut(),
    }
}

async fn daemon(link: &Link, socket: &Path) -> Result<(), Error> {
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
    use tokio::signal::unix::{SignalKind, signal};

    let listener = tokio::net::UnixListener::bind(socket).map_err(|e| {
        Error::io(
            format!("binding the control socket {}", socket.display()),
            e,
        )
    })?;
    let sig = |kind| signal(kind).map_err(|e| Error::io("installing a signal handler", e));
    let (mut term, mut int, mut hup) = (
        sig(SignalKind::terminate())?,
        sig(SignalKind::interrupt())?,
        sig(SignalKind::hangup())?,
    );
    println!(
        "link {} up: kiosk {} in {}, hub {} in {}",
        link.name(),
        link.kiosk_addr(),
        link.namespace(Side::Kiosk),
        link.hub_addr(),
        link.namespace(Side::Hub)
    );
    loop {
        let conn = tokio::select! {
            c = listener.accept() => c,
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
            _ = hup.recv() => return Ok(()),
        };
        let Ok((stream, _)) = conn else { continue };
        let (read, mut write) = stream.into_split();
        let mut line = String::new();
        if BufReader::new(read).read_line(&mut line).await.is_err() {
            continue;
        }
        let (reply, stop) = match serde_json::from_str::<Request>(&line) {
            Err(e) => (
                Reply::Error {
                    message: format!("bad request: {e}"),
                },
                false,
            ),
            Ok(req) => {
                let stop = matches!(req, Request::Down);
                (handle(link, req), stop)
            }
        };
        let mut out = serde_json::to_string(&reply).expect("replies serialise");
        out.push('\n');
        let _ = write.write_all(out.as_bytes()).await;
        if stop {
            return Ok(());
        }
    }
}

fn handle(link: &Link, req: Request) -> Reply {
    let result = match req {
        Request::Status { reset } => {
            let status = status_of(link);
            if reset {
                link.reset_counters();
            }
            return Reply::Ok {
                status: Box::new(status),
            };
        }
        Request::Set { params, profile } => match profile {
            Some(p) if p.params() == *params => link.set_profile(p),
            _ => link
                .set(Direction::Up, params.up)
                .and_then(|()| link.set(Direction::Down, params.down)),
        },
        Request::Cut { millis } => link.cut(Duration::from_millis(millis)),
        Request::Restore => {
            link.restore();
            Ok(())
        }
        Request::Down => Ok(()),
    };
    match result {
        Ok(()) => Reply::Ok {
            status: Box::new(status_of(link)),
        },
        Err(e) => Reply::Error {
            message: e.to_string(),
        },
    }
}

fn down(name: &str) -> Result<ExitCode, Error> {
    match control::request(name, &Request::Down) {
        Ok(status) => {
            // The daemon tears down after replying: wait for it to finish.
            let deadline = Instant::now() + Duration::from_secs(10);
            while Side::ALL
                .iter()
                .any(|s| visio_linkem::namespace_exists(name, *s))
            {
                if Instant::now() > deadline {
                    return Err(Error::Control {
                        name: name.to_string(),
                        detail: format!(
                            "its namespaces are still there after 10 s; see {}",
                            control::log_path(name).display()
                        ),
                    });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            println!("link {name} is down; final counters:");
            print_status(&status);
            Ok(ExitCode::SUCCESS)
        }
        Err(Error::NotRunning { .. }) => {
            // No daemon: clean up after one that was killed.
            let _ = std::fs::remove_file(control::socket_path(name));
            if visio_linkem::remove_leftover(name)? {
                println!("link {name}: its daemon was gone; namespaces deleted");
                Ok(ExitCode::SUCCESS)
            } else {
                Err(Error::NotRunning {
                    name: name.to_string(),
                    path: control::socket_path(name),
                })
            }
        }
        Err(e) => Err(e),
    }
}

fn run_command(args: RunArgs) -> Result<ExitCode, Error> {
    let (profile, params, pure) = link_params(&args.profile, &args.params)?;
    let side = match args.side.as_str() {
        "host" => None,
        s => Some(s.parse::<Side>()?),
    };
    let mut builder = Link::builder().seed(args.seed).params(params);
    if pure {
        builder = builder.profile(profile);
    }
    let link = builder.start()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("building a runtime", e))?;
    let status = rt.block_on(async {
        let mut cmd = tokio::process::Command::new(&args.command[0]);
        cmd.args(&args.command[1..])
            .env("VISIO_LINKEM_NAME", link.name())
            .env("VISIO_LINKEM_KIOSK_NS", link.namespace(Side::Kiosk))
            .env("VISIO_LINKEM_HUB_NS", link.namespace(Side::Hub))
            .env("VISIO_LINKEM_KIOSK_ADDR", link.kiosk_addr().to_string())
            .env("VISIO_LINKEM_HUB_ADDR", link.hub_addr().to_string())
            .kill_on_drop(true);
        let child = match side {
            None => cmd.spawn(),
            Some(side) => link.in_namespace(side, || cmd.spawn())?,
        };
        let mut child = child.map_err(|source| Error::Spawn {
            program: args.command[0].clone(),
            side: side.unwrap_or(Side::Kiosk),
            source,
        })?;
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).map_err(|e| Error::io("installing a signal handler", e))?;
        let mut int = signal(SignalKind::interrupt()).map_err(|e| Error::io("installing a signal handler", e))?;
        // A Ctrl-C reaches the command too; we only make sure the link is
        // torn down after it, instead of dying with it.
        tokio::select! {
            s = child.wait() => s.map_err(|e| Error::io("waiting for the command", e)),
            _ = term.recv() => { let _ = child.start_kill(); child.wait().await.map_err(|e| Error::io("waiting", e)) }
            _ = int.recv() => child.wait().await.map_err(|e| Error::io("waiting", e)),
        }
    })?;
    let counters = link.down()?;
    eprintln!(
        "visio-linkem: up {} pkts in, {} out, {} dropped; down {} in, {} out, {} dropped",
        counters.up.packets_in,
        counters.up.packets_out,
        counters.up.dropped(),
        counters.down.packets_in,
        counters.down.packets_out,
        counters.down.dropped()
    );
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
        None => ExitCode::from(128 + 9),
    })
}

/// Measures the emulator against its configuration and prints Markdown
/// tables for docs/benchmarks.md.
fn bench(args: &BenchArgs) -> Result<ExitCode, Error> {
    let rates: Vec<Bitrate> = args
        .rates
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let secs = Duration::from_secs(args.seconds);
    println!(
        "### Round-trip time (UDP probes of 100 IP bytes, 100 probes 20 ms apart, kiosk → hub → kiosk)\n"
    );
    println!("| profile | configured | min | median | mean | p95 | max | replies |");
    println!("|---|---|---|---|---|---|---|---|");
    for profile in [
        Profile::Clean,
        Profile::Adsl,
        Profile::AdslPoor,
        Profile::Satellite,
    ] {
        let link = Link::up(profile)?;
        let rtt = probe::udp_rtt(&link, Side::Kiosk, 100, Duration::from_millis(20), 100)?;
        let p = profile.params();
        // Propagation both ways + serialisation both ways + mean jitter.
        let ser = |q: Params| q.rate.map_or(Duration::ZERO, |r| r.transmit_time(100));
        let cfg =
            p.up.delay + p.down.delay + ser(p.up) + ser(p.down) + (p.up.jitter + p.down.jitter) / 2;
        let f =
            |d: Option<Duration>| d.map_or("-".into(), |d| format!("{:.2}", d.as_secs_f64() * 1e3));
        println!(
            "| {profile} | {:.2} ms | {} | {} | {} | {} | {} | {}/{} |",
            cfg.as_secs_f64() * 1e3,
            f(rtt.min()),
            f(rtt.quantile(0.5)),
            f(rtt.mean()),
            f(rtt.quantile(0.95)),
            f(rtt.max()),
            rtt.samples.len(),
            rtt.sent
        );
    }

    println!("\n### Rate (kiosk → hub, 20 ms each way, 300 ms queue, no loss)\n");
    println!(
        "UDP: 1200-byte IP packets offered at 1.5 × the rate for {} s, received IP rate after the first second.",
        args.seconds + 1
    );
    println!(
        "TCP: one flow (cubic), goodput after a 2 s warm-up over {} s; expected ≈ rate × 1448/1500.\n",
        args.seconds
    );
    println!(
        "| configured | UDP received | UDP / configured | TCP goodput | TCP / expected | forwarder CPU (UDP) |"
    );
    println!("|---|---|---|---|---|---|");
    for rate in rates {
        let shaped = Params::CLEAN
            .rate(rate)
            .delay(Duration::from_millis(20))
            .queue(QueueLimit::Time(Duration::from_millis(300)));
        let link = Link::builder()
            .params(LinkParams {
                up: shaped,
                down: shaped,
            })
            .start()?;
        let offered = Bitrate::bps(rate.as_bps() * 3 / 2);
        let (cpu0, t0) = (
            link.forwarder_cpu_time().unwrap_or_default(),
            Instant::now(),
        );
        let flow = probe::udp_flow(
            &link,
            Side::Kiosk,
            probe::FlowSpec::for_duration(offered, 1200, secs + Duration::from_secs(1)),
        )?;
        let cpu = (link.forwarder_cpu_time().unwrap_or_default() - cpu0).as_secs_f64()
            / t0.elapsed().as_secs_f64();
        let udp = flow.received_rate(Duration::from_secs(1)).unwrap_or(0.0);
        let tcp = probe::tcp_goodput(&link, Side::Kiosk, Duration::from_secs(2), secs)?;
        let expected_tcp = rate.as_bps() as f64 * 1448.0 / 1500.0;
        println!(
            "| {rate} | {:.3} Mbit/s | {:.3} | {:.3} Mbit/s | {:.3} | {:.1} % |",
            udp / 1e6,
            udp / rate.as_bps() as f64,
            tcp / 1e6,
            tcp / expected_tcp,
            cpu * 100.0
        );
    }

    println!("\n### Loss (UDP, 200-byte IP packets at 2 Mbit/s on an otherwise clean link)\n");
    println!("| configured | packets | lost (receiver) | lost (link counters) | mean burst |");
    println!("|---|---|---|---|---|");
    for (loss, n) in [
        (Loss::random(0.01), 10_000),
        (Loss::random(0.03), 10_000),
        (Loss::random(0.10), 5_000),
        (Loss::bursty(0.05, 4.0), 20_000),
    ] {
        let p = Params::CLEAN.loss(loss);
        let link = Link::builder()
            .params(LinkParams {
                up: p,
                down: Params::CLEAN,
            })
            .seed(7)
            .start()?;
        let flow = probe::udp_flow(
            &link,
            Side::Kiosk,
            probe::FlowSpec {
                count: n,
                size: 200,
                rate: Bitrate::mbit(2),
            },
        )?;
        let c = link.counters(Direction::Up);
        let mut seqs: Vec<u32> = flow.received.iter().map(|r| r.1).collect();
        seqs.sort_unstable();
        let (mut bursts, mut prev) = (0u64, -1i64);
        for &s in seqs.iter().chain(std::iter::once(&(n as u32))) {
            if i64::from(s) > prev + 1 {
                bursts += 1;
            }
            prev = i64::from(s);
        }
        let lost = n - flow.received.len();
        println!(
            "| {loss} | {n} | {:.2} % | {:.2} % | {:.2} |",
            flow.loss() * 100.0,
            c.dropped_loss as f64 / c.packets_in.max(1) as f64 * 100.0,
            lost as f64 / bursts.max(1) as f64
        );
    }
    Ok(ExitCode::SUCCESS)
}
