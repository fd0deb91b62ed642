//! `visio-load`: enrol a simulated fleet, then run it against hub
//! processes and print the figures.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use visio_hub::store::postgres::PgStore;
use visio_hub::store::{Backend, Store};
use visio_load::accounts::{self, Accounts};
use visio_load::plan::Plan;
use visio_load::report::Report;
use visio_load::sim::{self, HubAddress, RunConfig};

#[derive(Parser)]
#[command(name = "visio-load", version, about = "Load generator: simulated kiosks and agents against real hub processes")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Enrol N kiosks and M agents in the hub's database (the same code as
    /// `visio-hub kiosk enroll` and `agent add`) and write their
    /// credentials to a file for `run`.
    Accounts {
        /// The hub's PostgreSQL database; without it, the SQLite database
        /// in --data-dir.
        #[arg(long, value_name = "URL")]
        database: Option<String>,
        /// The hub's data directory (SQLite: <dir>/hub.sqlite3).
        #[arg(long, required_unless_present = "database")]
        data_dir: Option<PathBuf>,
        #[arg(long, default_value_t = 1000)]
        kiosks: usize,
        #[arg(long, default_value_t = 20)]
        agents: usize,
        /// The service residents ask for and agents serve.
        #[arg(long, default_value = "demo")]
        service: String,
        /// Prefix of the kiosk ids and agent logins.
        #[arg(long, default_value = "load-")]
        prefix: String,
        #[arg(long, default_value = "load-accounts.json")]
        out: PathBuf,
    },
    /// Connect the simulated fleet, make the calls, print the report
    /// (JSON on stdout, and a Markdown row with --markdown).
    Run {
        /// A hub process, wss://host:port; repeat for several. Kiosks and
        /// agents are spread over them in turn.
        #[arg(long = "hub", required = true)]
        hubs: Vec<String>,
        /// A certificate to trust (the hub's `<data-dir>/tls/cert.pem`);
        /// repeat for hubs with their own.
        #[arg(long = "ca", required = true)]
        ca: Vec<PathBuf>,
        #[arg(long, default_value = "load-accounts.json")]
        accounts: PathBuf,
        #[arg(long, default_value_t = 1000)]
        kiosks: usize,
        #[arg(long, default_value_t = 20)]
        agents: usize,
        /// Share of kiosks that ask for a call.
        #[arg(long, default_value_t = 0.1)]
        queue_fraction: f64,
        /// New kiosk connections per second.
        #[arg(long, default_value_t = 500.0)]
        connect_rate: f64,
        /// Seconds over which the requests for a call are spread.
        #[arg(long, default_value_t = 30.0)]
        queue_over: f64,
        /// ICE candidates each side sends per call.
        #[arg(long, default_value_t = 4)]
        candidates: u16,
        /// Size of each fake SDP offer and answer, in bytes.
        #[arg(long, default_value_t = 4000)]
        sdp_bytes: usize,
        /// Seconds an agent stays in a call after the exchange (0.15 at least,
        /// under the hub's message rate limit).
        #[arg(long, default_value_t = 0.0)]
        call_hold: f64,
        /// Milliseconds before an agent who found the queue empty presses again.
        #[arg(long, default_value_t = 250)]
        idle_retry_ms: u64,
        /// Do not send kiosk heartbeats.
        #[arg(long)]
        no_heartbeats: bool,
        /// Seconds any single step may wait for a hub (connect, reply).
        #[arg(long, default_value_t = 60)]
        step_timeout: u64,
        /// Seconds the calls phase may last.
        #[arg(long, default_value_t = 600)]
        deadline: u64,
        /// A hub process whose memory to measure; repeat. Default: every
        /// process named visio-hub.
        #[arg(long = "hub-pid")]
        hub_pids: Vec<u32>,
        /// Names the configuration in the report.
        #[arg(long, default_value = "")]
        label: String,
        /// Also print the report's Markdown table row (on stderr).
        #[arg(long)]
        markdown: bool,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("visio-load: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(Cli::parse())) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("visio-load: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Accounts { database, data_dir, kiosks, agents, service, prefix, out } => {
            let (store, parallel): (Backend, usize) = match (&database, &data_dir) {
                (Some(url), _) => (PgStore::connect(url, 8).await.context("cannot open --database")?.into(), 8),
                (None, Some(dir)) => {
                    std::fs::create_dir_all(dir)?;
                    (Store::open(&dir.join("hub.sqlite3")).context("cannot open the hub's SQLite database")?.into(), 1)
                }
                (None, None) => unreachable!("clap requires one of them"),
            };
            let started = std::time::Instant::now();
            let accounts = accounts::enrol(&store, &prefix, kiosks, agents, &service, parallel).await?;
            std::fs::write(&out, serde_json::to_string(&accounts)?).with_context(|| format!("cannot write {}", out.display()))?;
            eprintln!(
                "{kiosks} kiosks and {agents} agents enrolled in {:.1} s; credentials in {}",
                started.elapsed().as_secs_f64(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            hubs,
            ca,
            accounts,
            kiosks,
            agents,
            queue_fraction,
            connect_rate,
            queue_over,
            candidates,
            sdp_bytes,
            call_hold,
            idle_retry_ms,
            no_heartbeats,
            step_timeout,
            deadline,
            hub_pids,
            label,
            markdown,
        } => {
            let hubs: Vec<HubAddress> = hubs.iter().map(|h| h.parse()).collect::<Result<_, String>>().map_err(anyhow::Error::msg)?;
            let trust_pem = ca
                .iter()
                .map(|p| std::fs::read(p).with_context(|| format!("cannot read {}", p.display())))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let text = std::fs::read_to_string(&accounts).with_context(|| format!("cannot read {}", accounts.display()))?;
            let accounts: Accounts = serde_json::from_str(&text).with_context(|| format!("{} is not an accounts file", accounts.display()))?;
            let hub_pids = if hub_pids.is_empty() { visio_load::procfs::pids_named("visio-hub") } else { hub_pids };
            if !hub_pids.is_empty() {
                tracing::info!(?hub_pids, "measuring the memory of these hub processes");
            }
            let plan = Plan {
                kiosks,
                agents,
                hubs: hubs.len(),
                kiosk_hubs: 0..hubs.len(),
                agent_hubs: 0..hubs.len(),
                queue_fraction,
                connect_rate,
                queue_over: Duration::from_secs_f64(queue_over),
            };
            let label = if label.is_empty() { format!("{} hub address(es)", hubs.len()) } else { label };
            let outcome = sim::run(RunConfig {
                label,
                hubs,
                trust_pem,
                accounts,
                plan,
                hub_pids,
                candidates,
                sdp_bytes,
                call_hold: Duration::from_secs_f64(call_hold),
                idle_retry: Duration::from_millis(idle_retry_ms),
                heartbeats: !no_heartbeats,
                step_timeout: Duration::from_secs(step_timeout),
                calls_deadline: Duration::from_secs(deadline),
            })
            .await?;
            println!("{}", outcome.report.to_json());
            if markdown {
                eprintln!("{}\n{}", Report::markdown_header(), outcome.report.markdown_row());
            }
            let calls = &outcome.report.calls;
            // A run where a resident was taken twice or left behind failed.
            Ok(if calls.taken_twice == 0 && calls.not_taken == 0 && calls.completed == calls.queued {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(3)
            })
        }
    }
}
