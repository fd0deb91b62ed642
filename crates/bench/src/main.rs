//! `visio-bench links`: issue 9's benchmark of our kiosk's call against
//! Chromium's on the emulated rural links. Needs root (network namespaces),
//! Chromium and chromedriver, GStreamer. Prints progress on stderr and the
//! Markdown table for docs/benchmarks.md on stdout.
//!
//! ```sh
//! cargo build --workspace --examples
//! sudo $CARGO_TARGET_DIR/debug/visio-bench links --profile adsl --duration 120
//! sudo $CARGO_TARGET_DIR/debug/visio-bench links --all --json links.json
//! $CARGO_TARGET_DIR/debug/visio-bench table links.json   # the table again
//! ```

mod lock;
mod kiosk;
mod page;
mod run;
mod turn;

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand, ValueEnum};
use visio_bench::relay::Relay;
use visio_bench::table::{self, ProfileRun};
use visio_linkem::Profile;

/// Milliseconds since the Unix epoch, the clock of every sample.
pub fn now_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0)
}

#[derive(Parser, Debug)]
#[command(name = "visio-bench", about = "Benchmarks of Visio-Public (docs/benchmarks.md)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Our kiosk's call vs Chromium's on the emulated links, both received by
    /// Chromium on the hub's side.
    Links(Links),
    /// Prints the Markdown table again from a `links --json` file.
    Table {
        /// The JSON file `links --json` wrote.
        json: PathBuf,
    },
}

#[derive(clap::Args, Debug)]
struct Links {
    /// Link profiles to run (repeat the flag); see `visio-linkem profiles`.
    #[arg(long = "profile", value_parser = parse_profile)]
    profiles: Vec<Profile>,
    /// Every rural profile (adsl, adsl-poor, satellite, lossy) then clean.
    #[arg(long)]
    all: bool,
    /// Seconds of the steady window (fps, resolution, freezes, audio loss).
    #[arg(long, default_value_t = 120)]
    duration: u64,
    /// Which senders.
    #[arg(long, value_enum, default_value_t = Only::Both)]
    only: Only,
    /// Skip the 1 Mbit/s → 300 kbit/s → 1 Mbit/s phase.
    #[arg(long)]
    no_follow: bool,
    /// Size of the scan moved during the call, in MB (0: none).
    #[arg(long, default_value_t = 5.0)]
    scan_mb: f64,
    /// Also write the figures as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Seed of the link's loss and jitter. One seed loses the same packets
    /// in every run with the same traffic: on satellite, seed 1 always lost
    /// the DTLS server's last flight to our kiosk (a 1 s retransmission in
    /// every first frame). Run several seeds for a start-up time.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Chromium's sender without RED/ULPFEC in its offer: what forward
    /// error correction is worth to it (docs/benchmarks.md, "Where our
    /// satellite freezes come from").
    #[arg(long)]
    reference_without_fec: bool,
    /// Takes this lock file (flock, as `flock(1)`) for the run, and waits
    /// for it, in arrival order (a ticket in `FILE.queue/`). Unlike `flock
    /// FILE visio-bench …`, whose descriptor the browsers and their drivers
    /// inherit (an orphaned chromedriver then holds the lock for everyone),
    /// the bench's own is closed on exec.
    #[arg(long)]
    lock: Option<PathBuf>,
    /// Relayed: coturn on the hub's side (TLS on 443, or plain TCP), the
    /// kiosk side firewalled so that only TCP to it leaves, both senders
    /// given its short-lived credentials. Default: the direct path.
    #[arg(long, value_enum)]
    relay: Option<Relay>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Only {
    Both,
    Ours,
    Chromium,
}

fn parse_profile(s: &str) -> Result<Profile, String> {
    s.parse().map_err(|e: visio_linkem::Error| e.to_string())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    // Quiet unless RUST_LOG asks; stderr, as stdout carries the table.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "off".into()))
        .with_writer(std::io::stderr)
        .try_init();
    let args = match Cli::parse().command {
        Command::Links(args) => args,
        Command::Table { json } => {
            let text = std::fs::read_to_string(&json).with_context(|| format!("reading {}", json.display()))?;
            let runs: Vec<ProfileRun> = serde_json::from_str(&text)?;
            print!("{}", table::markdown(&runs));
            println!("\n{}", table::notes(&runs));
            return Ok(());
        }
    };
    let _lock = match &args.lock {
        Some(path) => Some(lock::take(path)?),
        None => None,
    };
    let profiles = if args.all {
        vec![Profile::Adsl, Profile::AdslPoor, Profile::Satellite, Profile::Lossy, Profile::Clean]
    } else if args.profiles.is_empty() {
        vec![Profile::Adsl]
    } else {
        args.profiles.clone()
    };
    let plan = run::Plan {
        window: Duration::from_secs(args.duration),
        follow: !args.no_follow,
        scan_bytes: (args.scan_mb * 1e6) as usize,
        ours: args.only != Only::Chromium,
        reference: args.only != Only::Ours,
        seed: args.seed,
        reference_without_fec: args.reference_without_fec,
        relay: args.relay,
    };
    let dir = std::env::temp_dir().join("visio-bench");
    std::fs::create_dir_all(&dir)?;
    let clip = kiosk::camera_clip(&dir)?;
    let started = jiff::Zoned::now();
    let mut runs: Vec<ProfileRun> = Vec::new();
    for profile in profiles {
        match run::profile(profile, &plan, &clip).await {
            Ok(run) => runs.push(run),
            Err(e) => eprintln!("[{}] failed: {e:#}", profile.name()),
        }
        if let Some(path) = &args.json {
            std::fs::write(path, serde_json::to_string_pretty(&runs)?).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "Run of {} – {}, {} CPUs, load average {} (1/5/15 min) at the end; steady window {} s; link seed {}; {}.\n",
        started.strftime("%Y-%m-%d %H:%M"),
        jiff::Zoned::now().strftime("%H:%M %Z"),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        args.duration,
        args.seed,
        args.relay.map_or("direct path".to_string(), |r| format!("relayed over {}, only TCP to it out of the kiosk side", r.label())),
    );
    print!("{}", table::markdown(&runs));
    let notes = table::notes(&runs);
    if !notes.is_empty() {
        println!("\n{notes}");
    }
    Ok(())
}
