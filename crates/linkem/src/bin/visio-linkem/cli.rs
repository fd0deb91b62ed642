//! The command line: subcommands and the link parameters they take.

use clap::{Args, Parser, Subcommand};
use visio_linkem::{
    Direction, Error, LinkParams, Loss, Profile, QueueLimit, parse_duration, parse_percent,
    parse_rate, parse_size,
};

pub(crate) const DEFAULT_NAME: &str = "vlk";

#[derive(Parser, Debug)]
#[command(
    name = "visio-linkem",
    version,
    about = "Emulates the slow links kiosks have: two network namespaces joined by a TUN forwarder \
             with rate, queue, loss, delay and cuts per direction. Needs root.",
    after_help = "\"up\" is kiosk → hub, \"down\" is hub → kiosk. Profiles: `visio-linkem profiles`."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Cmd,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Cmd {
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
pub(crate) struct UpArgs {
    /// Link name: namespaces are <name>-kiosk and <name>-hub.
    #[arg(long, default_value = DEFAULT_NAME)]
    pub(crate) name: String,
    #[arg(long, default_value = "clean")]
    pub(crate) profile: String,
    /// Seed for loss and jitter (same seed, same packets lost).
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    #[command(flatten)]
    pub(crate) params: ParamArgs,
}

#[derive(Args, Debug)]
pub(crate) struct SetArgs {
    #[arg(long, default_value = DEFAULT_NAME)]
    pub(crate) name: String,
    /// Start from this profile's parameters (then apply the options).
    #[arg(long)]
    pub(crate) profile: Option<String>,
    #[command(flatten)]
    pub(crate) params: ParamArgs,
}

#[derive(Args, Debug)]
pub(crate) struct RunArgs {
    #[arg(long, default_value = "clean")]
    pub(crate) profile: String,
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Where the command runs: kiosk, hub, or host (the default: with
    /// VISIO_LINKEM_* variables naming the namespaces and addresses).
    #[arg(long = "in", default_value = "host")]
    pub(crate) side: String,
    #[command(flatten)]
    pub(crate) params: ParamArgs,
    /// The command and its arguments, after `--`.
    #[arg(required = true, last = true)]
    pub(crate) command: Vec<String>,
}

#[derive(Args, Debug)]
pub(crate) struct BenchArgs {
    /// Rates to measure, comma-separated.
    #[arg(long, default_value = "512k,1M,2M,8M")]
    pub(crate) rates: String,
    /// Seconds of each UDP and TCP measurement (after its warm-up).
    #[arg(long, default_value_t = 6)]
    pub(crate) seconds: u64,
}

/// Link parameters. Each comes as `--X` (both directions), `--X-up`
/// (kiosk → hub) and `--X-down` (hub → kiosk); they override the profile.
#[derive(Args, Debug, Default)]
pub(crate) struct ParamArgs {
    /// Rate limit, e.g. 8mbit, 512k; 0 = unlimited.
    #[arg(long, value_name = "RATE")]
    pub(crate) rate: Option<String>,
    #[arg(long, value_name = "RATE")]
    pub(crate) rate_up: Option<String>,
    #[arg(long, value_name = "RATE")]
    pub(crate) rate_down: Option<String>,
    /// One-way delay, e.g. 20ms, 0.3s.
    #[arg(long, value_name = "TIME")]
    pub(crate) delay: Option<String>,
    #[arg(long, value_name = "TIME")]
    pub(crate) delay_up: Option<String>,
    #[arg(long, value_name = "TIME")]
    pub(crate) delay_down: Option<String>,
    /// Up to this much extra delay per packet (uniform, on top of the delay).
    #[arg(long, value_name = "TIME")]
    pub(crate) jitter: Option<String>,
    #[arg(long, value_name = "TIME")]
    pub(crate) jitter_up: Option<String>,
    #[arg(long, value_name = "TIME")]
    pub(crate) jitter_down: Option<String>,
    /// Let jitter reorder packets (off: a packet waits for the one before it).
    #[arg(long)]
    pub(crate) reorder: bool,
    /// Packet loss, e.g. 1% (a bare number is percent).
    #[arg(long, value_name = "PERCENT")]
    pub(crate) loss: Option<String>,
    #[arg(long, value_name = "PERCENT")]
    pub(crate) loss_up: Option<String>,
    #[arg(long, value_name = "PERCENT")]
    pub(crate) loss_down: Option<String>,
    /// Mean loss burst length in packets; above 1, loss follows a Gilbert-Elliott model.
    #[arg(long, value_name = "PACKETS")]
    pub(crate) loss_burst: Option<String>,
    #[arg(long, value_name = "PACKETS")]
    pub(crate) loss_burst_up: Option<String>,
    #[arg(long, value_name = "PACKETS")]
    pub(crate) loss_burst_down: Option<String>,
    /// Tail-drop queue as queueing time at the rate, e.g. 200ms; 0 = unlimited.
    #[arg(long, value_name = "TIME")]
    pub(crate) queue: Option<String>,
    #[arg(long, value_name = "TIME")]
    pub(crate) queue_up: Option<String>,
    #[arg(long, value_name = "TIME")]
    pub(crate) queue_down: Option<String>,
    /// Tail-drop queue in bytes, e.g. 64k; 0 = unlimited.
    #[arg(long, value_name = "BYTES")]
    pub(crate) queue_bytes: Option<String>,
    #[arg(long, value_name = "BYTES")]
    pub(crate) queue_bytes_up: Option<String>,
    #[arg(long, value_name = "BYTES")]
    pub(crate) queue_bytes_down: Option<String>,
    /// MTU; bigger packets are dropped.
    #[arg(long, value_name = "BYTES")]
    pub(crate) mtu: Option<String>,
    #[arg(long, value_name = "BYTES")]
    pub(crate) mtu_up: Option<String>,
    #[arg(long, value_name = "BYTES")]
    pub(crate) mtu_down: Option<String>,
}

impl ParamArgs {
    /// Whether no parameter was given (so the profile stands as it is).
    pub(crate) fn is_empty(&self) -> bool {
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

    pub(crate) fn apply(&self, params: &mut LinkParams) -> Result<(), Error> {
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

pub(crate) fn link_params(
    profile: &str,
    params: &ParamArgs,
) -> Result<(Profile, LinkParams, bool), Error> {
    let profile: Profile = profile.parse()?;
    let mut p = profile.params();
    params.apply(&mut p)?;
    Ok((profile, p, params.is_empty()))
}
