//! The shell: opens the simulated kiosks' and agents' connections, runs
//! their visits, and turns what they saw into a [`Report`]. Each kiosk
//! and agent is one task with one loop that always reads its socket (so
//! the hub's pings are answered) and reports [`Event`]s to the
//! coordinator, which alone owns the [`Ledger`].

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_tungstenite::Connector;
use visio_protocol::*;

use crate::accounts::Accounts;
use crate::ledger::{Event, Ledger};
use crate::plan::Plan;
use crate::procfs;
use crate::report::{Connections, Memory, Report, parse_loadavg};

mod agent;
mod kiosk;
mod wire;

/// A hub process to connect to: `wss://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubAddress {
    pub host: String,
    pub port: u16,
}

impl std::str::FromStr for HubAddress {
    type Err = String;

    fn from_str(url: &str) -> Result<HubAddress, String> {
        let rest = url
            .strip_prefix("wss://")
            .or_else(|| url.strip_prefix("https://"))
            .ok_or_else(|| format!("{url:?}: give a hub address as wss://host:port"))?;
        let rest = rest.trim_end_matches('/');
        let (host, port) = rest.rsplit_once(':').ok_or_else(|| format!("{url:?}: the port is missing (wss://host:port)"))?;
        let port = port.parse().map_err(|_| format!("{url:?}: {port:?} is not a port number"))?;
        if host.is_empty() || host.contains('/') {
            return Err(format!("{url:?}: give only wss://host:port, without a path"));
        }
        Ok(HubAddress { host: host.to_owned(), port })
    }
}

impl std::fmt::Display for HubAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub label: String,
    pub hubs: Vec<HubAddress>,
    /// PEM certificates to trust (the hubs' self-signed ones).
    pub trust_pem: Vec<Vec<u8>>,
    pub accounts: Accounts,
    pub plan: Plan,
    /// Hub processes whose memory is measured; none: not measured.
    pub hub_pids: Vec<u32>,
    /// ICE candidates each side sends per call.
    pub candidates: u16,
    /// Size of each fake SDP.
    pub sdp_bytes: usize,
    /// How long the agent stays in a call once the exchange is done.
    pub call_hold: Duration,
    /// An agent who found the queue empty presses again after this, or as
    /// soon as its queue view shows someone waiting.
    pub idle_retry: Duration,
    /// Kiosks send heartbeats as the real app does.
    pub heartbeats: bool,
    /// Bound on each step that waits for the hub (a connection, a reply).
    pub step_timeout: Duration,
    /// Bound on the whole calls phase.
    pub calls_deadline: Duration,
}

/// The report, and the ledger behind it (tests check its details).
#[derive(Debug)]
pub struct Outcome {
    pub report: Report,
    pub ledger: Ledger,
}

struct Ctx {
    t0: Instant,
    events: mpsc::UnboundedSender<Event>,
    connector: Connector,
    hubs: Vec<HubAddress>,
    http: reqwest::Client,
    service: ServiceId,
    plan: Plan,
    candidates: u16,
    sdp_bytes: usize,
    call_hold: Duration,
    idle_retry: Duration,
    heartbeats: bool,
    step: Duration,
    go: watch::Receiver<bool>,
    stop: watch::Receiver<bool>,
    kiosks_held: AtomicUsize,
    agents_held: AtomicUsize,
}

impl Ctx {
    fn now_us(&self) -> u64 {
        u64::try_from(self.t0.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    fn send(&self, event: Event) {
        // The coordinator outlives every task; after it stopped listening
        // nothing is left to count.
        let _ = self.events.send(event);
    }

    fn error(&self, kind: impl Into<String>) {
        self.send(Event::Error { kind: kind.into() });
    }
}

/// Until the flag is up (or its sender gone). Returns nothing: the
/// borrowed value must not live across the select's other awaits.
async fn until(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|up| *up).await;
}

fn tls_config(trust_pem: &[Vec<u8>]) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for pem in trust_pem {
        for cert in CertificateDer::pem_slice_iter(pem) {
            roots.add(cert?)?;
        }
    }
    anyhow::ensure!(!roots.is_empty(), "no certificate to trust: give the hubs' certificate with --ca");
    Ok(Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

fn http_client(trust_pem: &[Vec<u8>]) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder().use_rustls_tls().tls_built_in_root_certs(false);
    for pem in trust_pem {
        for cert in reqwest::Certificate::from_pem_bundle(pem)? {
            builder = builder.add_root_certificate(cert);
        }
    }
    Ok(builder.build()?)
}

/// `/healthz` of every hub: connected kiosks and agents, summed; `None`
/// if one did not answer.
async fn hub_counts(ctx: &Ctx) -> (Option<u64>, Option<u64>) {
    let (mut kiosks, mut agents) = (Some(0u64), Some(0u64));
    for address in &ctx.hubs {
        let answer = async {
            let response = ctx.http.get(format!("https://{address}/healthz")).send().await.ok()?;
            response.json::<serde_json::Value>().await.ok()
        };
        let body = tokio::time::timeout(ctx.step, answer).await.ok().flatten();
        let count = |key: &str| body.as_ref().and_then(|b| b[key].as_u64());
        kiosks = kiosks.zip(count("kiosks")).map(|(a, b)| a + b);
        agents = agents.zip(count("agents")).map(|(a, b)| a + b);
    }
    (kiosks, agents)
}

fn load_average() -> Option<[f64; 3]> {
    parse_loadavg(&std::fs::read_to_string("/proc/loadavg").ok()?)
}

/// Runs the plan against the hubs: agents connect and go available,
/// kiosks connect at the plan's pace, then the queuers ask for a call and
/// the agents take them until every queuer's visit is over (or the
/// deadline). Progress goes to the log every few seconds.
pub async fn run(config: RunConfig) -> anyhow::Result<Outcome> {
    let plan = config.plan.clone();
    plan.validate()?;
    anyhow::ensure!(plan.hubs == config.hubs.len(), "the plan's hub count must match the hub addresses");
    anyhow::ensure!(
        config.accounts.kiosks.len() >= plan.kiosks && config.accounts.agents.len() >= plan.agents,
        "the accounts file has {} kiosks and {} agents; the run needs {} and {} (visio-load accounts)",
        config.accounts.kiosks.len(),
        config.accounts.agents.len(),
        plan.kiosks,
        plan.agents
    );
    let (events, mut rx) = mpsc::unbounded_channel();
    let (go_tx, go) = watch::channel(false);
    let (stop_tx, stop) = watch::channel(false);
    let ctx = Arc::new(Ctx {
        t0: Instant::now(),
        events,
        connector: Connector::Rustls(tls_config(&config.trust_pem)?),
        hubs: config.hubs.clone(),
        http: http_client(&config.trust_pem)?,
        service: ServiceId(config.accounts.service.clone()),
        plan: plan.clone(),
        candidates: config.candidates,
        sdp_bytes: config.sdp_bytes,
        call_hold: config.call_hold,
        idle_retry: config.idle_retry,
        heartbeats: config.heartbeats,
        step: config.step_timeout,
        go,
        stop,
        kiosks_held: AtomicUsize::new(0),
        agents_held: AtomicUsize::new(0),
    });
    let mut ledger = Ledger::default();
    let rss_before = procfs::total_rss_kib(&config.hub_pids);

    // Agents first: they are at work before residents arrive, and their
    // sign-ins (Argon2id) are measured apart from the kiosks' connections.
    let mut tasks = JoinSet::new();
    for (n, account) in config.accounts.agents.iter().take(plan.agents).enumerate() {
        tasks.spawn(agent::agent(ctx.clone(), n, account.clone()));
    }
    let mut progress = tokio::time::interval(Duration::from_secs(5));
    while ledger.set_up().1 != plan.agents {
        ledger.record(rx.recv().await.expect("the coordinator holds a sender"));
    }
    let rss_agents = procfs::total_rss_kib(&config.hub_pids);
    let kiosks_start = Instant::now();
    for (n, account) in config.accounts.kiosks.iter().take(plan.kiosks).enumerate() {
        tasks.spawn(kiosk::kiosk(ctx.clone(), n, account.clone(), kiosks_start));
    }
    while ledger.set_up() != (plan.kiosks, plan.agents) {
        tokio::select! {
            event = rx.recv() => ledger.record(event.expect("the coordinator holds a sender")),
            _ = progress.tick() => tracing::info!(
                kiosks = ledger.kiosks_connected, agents = ledger.agents_ready,
                failed = ledger.kiosks_failed + ledger.agents_failed, "connecting"
            ),
        }
    }
    let connect_seconds = kiosks_start.elapsed().as_secs_f64();
    let rss_connected = procfs::total_rss_kib(&config.hub_pids);
    let opened = ledger.kiosks_connected + ledger.agents_ready;
    tracing::info!(connected = opened, seconds = connect_seconds, rss_kib = ?rss_connected, "connected; calls start");

    let calls_start = Instant::now();
    let _ = go_tx.send(true);
    let deadline = tokio::time::sleep(config.calls_deadline);
    tokio::pin!(deadline);
    while ledger.settled() < plan.queuers() {
        tokio::select! {
            event = rx.recv() => ledger.record(event.expect("the coordinator holds a sender")),
            _ = &mut deadline => {
                tracing::warn!(settled = ledger.settled(), queuers = plan.queuers(), "calls deadline reached");
                break;
            }
            _ = progress.tick() => {
                let f = ledger.figures();
                tracing::info!(queued = f.queued, taken = f.taken, completed = f.completed, errors = ledger.error_count(), "calls");
            }
        }
    }
    let calls_seconds = calls_start.elapsed().as_secs_f64();
    // Drain what is already reported before counting.
    while let Ok(event) = rx.try_recv() {
        ledger.record(event);
    }
    let (kiosks_held, agents_held) = (ctx.kiosks_held.load(Ordering::Relaxed), ctx.agents_held.load(Ordering::Relaxed));
    let (hub_kiosks, hub_agents) = hub_counts(&ctx).await;
    let rss_end = procfs::total_rss_kib(&config.hub_pids);
    let load_average = load_average();

    let _ = stop_tx.send(true);
    let closing = async {
        while tasks.join_next().await.is_some() {}
    };
    if tokio::time::timeout(config.step_timeout, closing).await.is_err() {
        tracing::warn!("some connections did not close in time");
    }
    while let Ok(event) = rx.try_recv() {
        ledger.record(event);
    }
    let report = Report {
        label: config.label,
        hub_addresses: config.hubs.len(),
        kiosks: plan.kiosks,
        agents: plan.agents,
        connections: Connections {
            kiosks_connected: ledger.kiosks_connected,
            agents_ready: ledger.agents_ready,
            kiosks_held,
            agents_held,
            hub_kiosks,
            hub_agents,
        },
        memory: Memory::new(
            config.hub_pids,
            [rss_before, rss_agents, rss_connected, rss_end],
            (ledger.agents_ready, ledger.kiosks_connected),
        ),
        calls: ledger.figures(),
        connect_seconds,
        calls_seconds,
        load_average,
    };
    Ok(Outcome { report, ledger })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_addresses_parse_or_say_what_is_wrong() {
        assert_eq!("wss://localhost:8443".parse(), Ok(HubAddress { host: "localhost".into(), port: 8443 }));
        assert_eq!("https://127.0.0.1:9000/".parse(), Ok(HubAddress { host: "127.0.0.1".into(), port: 9000 }));
        assert!("localhost:8443".parse::<HubAddress>().unwrap_err().contains("wss://"));
        assert!("wss://localhost".parse::<HubAddress>().unwrap_err().contains("port"));
        assert!("wss://localhost:8443/ws/kiosk".parse::<HubAddress>().is_err());
    }
}
