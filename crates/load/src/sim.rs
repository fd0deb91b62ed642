//! The shell: opens the simulated kiosks' and agents' connections, runs
//! their visits, and turns what they saw into a [`Report`]. Each kiosk
//! and agent is one task with one loop that always reads its socket (so
//! the hub's pings are answered) and reports [`Event`]s to the
//! coordinator, which alone owns the [`Ledger`].

use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use visio_protocol::*;

use crate::accounts::{Accounts, AgentAccount, KioskAccount};
use crate::ledger::{Direction, Event, Ledger};
use crate::plan::Plan;
use crate::report::{Connections, Memory, Report, parse_loadavg};
use crate::{procfs, stamp};

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

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Small buffers: ten thousand connections in one process, each carrying
/// a few small messages (tungstenite's default is 128 KiB each way).
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0)
}

async fn connect(ctx: &Ctx, hub: usize, path: &str, cookie: Option<&str>) -> Result<Ws, String> {
    let address = &ctx.hubs[hub];
    let mut request = format!("wss://{address}{path}").into_client_request().map_err(|e| e.to_string())?;
    if let Some(cookie) = cookie {
        request.headers_mut().insert("cookie", cookie.parse().map_err(|_| "bad cookie".to_owned())?);
    }
    let connecting = tokio_tungstenite::connect_async_tls_with_config(request, Some(ws_config()), true, Some(ctx.connector.clone()));
    match tokio::time::timeout(ctx.step, connecting).await {
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(e)) => Err(connect_error_kind(&e)),
        Err(_) => Err("connect:timeout".into()),
    }
}

/// A short, stable name for why a connection failed.
fn connect_error_kind(e: &tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error as E;
    match e {
        E::Io(io) => format!("connect:io:{:?}", io.kind()),
        E::Tls(_) => "connect:tls".into(),
        E::Http(response) => format!("connect:http:{}", response.status().as_u16()),
        other => format!("connect:{}", other.to_string().split(':').next().unwrap_or("other")),
    }
}

/// A wire enum's snake_case name (`agent_hung_up`, `out_of_place`).
fn wire_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Object(map)) => map.get("kind").and_then(|k| k.as_str()).unwrap_or("other").to_owned(),
        _ => "other".into(),
    }
}

async fn send<T: WireMessage>(ws: &mut Ws, message: &T) -> bool {
    ws.send(Message::Text(encode(message).into())).await.is_ok()
}

/// The next message from the hub, `Err` when the connection ended.
/// Unknown or oversized messages are read as the hub meant them: the
/// 64 KiB limit is on what the hub accepts, not on what it sends.
async fn next<T: serde::de::DeserializeOwned>(ws: &mut Ws) -> Result<Option<T>, String> {
    match ws.next().await {
        Some(Ok(Message::Text(text))) => match serde_json::from_str::<T>(text.as_str()) {
            Ok(msg) => Ok(Some(msg)),
            Err(_) => Err("undecodable_message".into()),
        },
        Some(Ok(Message::Close(_))) | None => Err("closed".into()),
        Some(Err(e)) => Err(format!("read:{}", e.to_string().split(':').next().unwrap_or("error"))),
        Some(Ok(_)) => Ok(None),
    }
}

/// Waits for the first message `pick` accepts, within the step bound.
async fn expect<T: serde::de::DeserializeOwned, R>(
    ctx: &Ctx,
    ws: &mut Ws,
    what: &str,
    pick: impl Fn(T) -> Option<Result<R, String>>,
) -> Result<R, String> {
    let deadline = tokio::time::Instant::now() + ctx.step;
    loop {
        match tokio::time::timeout_at(deadline, next::<T>(ws)).await {
            Err(_) => return Err(format!("{what}:timeout")),
            Ok(Err(e)) => return Err(format!("{what}:{e}")),
            Ok(Ok(None)) => continue,
            Ok(Ok(Some(msg))) => {
                if let Some(result) = pick(msg) {
                    return result;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Kiosk
// ---------------------------------------------------------------------------

#[derive(Debug)]
enum KioskCall {
    Idle,
    Queued,
    InCall { session: SessionId, answer: bool, candidates: u16, end: bool },
    Over,
}

async fn kiosk(ctx: Arc<Ctx>, n: usize, account: KioskAccount, start: Instant) {
    let rank = ctx.plan.queuer_rank(n);
    let hub = ctx.plan.hub_of_kiosk(n);
    tokio::time::sleep_until((start + ctx.plan.connect_at(n)).into()).await;
    let mut connection = match kiosk_hello(&ctx, hub, &account).await {
        Ok(connection) => connection,
        Err(kind) => {
            ctx.send(Event::SetupFailed { agent: false, kind: kind.clone() });
            if rank.is_some() {
                ctx.send(Event::Unsettled { kind: "never_connected".into() });
            }
            return;
        }
    };
    ctx.kiosks_held.fetch_add(1, Ordering::Relaxed);
    ctx.send(Event::KioskConnected);
    match kiosk_loop(&ctx, n, hub, rank, &mut connection).await {
        KioskEnd::Stopped => {
            let _ = connection.0.close(None).await;
        }
        KioskEnd::Lost(kind) => {
            ctx.kiosks_held.fetch_sub(1, Ordering::Relaxed);
            ctx.error(format!("kiosk_lost:{kind}"));
        }
    }
}

async fn kiosk_hello(ctx: &Ctx, hub: usize, account: &KioskAccount) -> Result<(Ws, u32), String> {
    let mut ws = connect(ctx, hub, "/ws/kiosk", None).await?;
    let hello = KioskToHub::Hello {
        protocol: PROTOCOL_VERSION,
        kiosk_id: KioskId(account.id.clone()),
        secret: Secret(account.secret.clone()),
        app_version: Some(concat!("visio-load/", env!("CARGO_PKG_VERSION")).into()),
        resume: None,
    };
    if !send(&mut ws, &hello).await {
        return Err("hello:send".into());
    }
    let heartbeat = expect(ctx, &mut ws, "hello", |msg: HubToKiosk| match msg {
        HubToKiosk::Welcome { heartbeat_seconds, .. } => Some(Ok(heartbeat_seconds.unwrap_or(30))),
        HubToKiosk::Error(body) => Some(Err(wire_name(&body.code))),
        _ => None,
    })
    .await?;
    Ok((ws, heartbeat))
}

enum KioskEnd {
    Stopped,
    Lost(String),
}

async fn kiosk_loop(ctx: &Ctx, n: usize, hub: usize, rank: Option<usize>, connection: &mut (Ws, u32)) -> KioskEnd {
    let (ws, heartbeat_seconds) = connection;
    let mut state = KioskCall::Idle;
    let mut settled = rank.is_none();
    let mut go = ctx.go.clone();
    let mut stop = ctx.stop.clone();
    let delay = rank.map(|r| ctx.plan.queue_at(r));
    let mut ask = pin!(async move {
        match delay {
            Some(delay) => {
                until(&mut go).await;
                tokio::time::sleep(delay).await;
            }
            None => std::future::pending().await,
        }
    });
    let mut asked = false;
    let mut heartbeat = tokio::time::interval(Duration::from_secs(u64::from((*heartbeat_seconds).max(1))));
    let mut seq = 0u64;
    let unsettle = |settled: &mut bool, kind: String| {
        if !std::mem::replace(settled, true) {
            ctx.send(Event::Unsettled { kind });
        }
    };
    loop {
        tokio::select! {
            _ = until(&mut stop) => {
                unsettle(&mut settled, "not_over_at_deadline".into());
                return KioskEnd::Stopped;
            }
            _ = &mut ask, if !asked => {
                asked = true;
                if !send(ws, &KioskToHub::RequestCall { service: ctx.service.clone() }).await {
                    unsettle(&mut settled, "request_call:send".into());
                    return KioskEnd::Lost("send".into());
                }
            }
            _ = heartbeat.tick(), if ctx.heartbeats => {
                seq += 1;
                let beat = KioskToHub::Heartbeat {
                    seq,
                    app_version: concat!("visio-load/", env!("CARGO_PKG_VERSION")).into(),
                    config_version: None,
                    devices: None,
                    rtt_ms: None,
                };
                if !send(ws, &beat).await {
                    unsettle(&mut settled, "kiosk_lost".into());
                    return KioskEnd::Lost("send".into());
                }
            }
            msg = next::<HubToKiosk>(ws) => {
                let msg = match msg {
                    Ok(Some(msg)) => msg,
                    Ok(None) => continue,
                    Err(e) => {
                        unsettle(&mut settled, "kiosk_lost".into());
                        return KioskEnd::Lost(e);
                    }
                };
                if let Some(over) = kiosk_message(ctx, n, hub, ws, &mut state, msg).await {
                    match over {
                        Ok(()) => settled = true,
                        Err(kind) => unsettle(&mut settled, kind),
                    }
                }
            }
        }
    }
}

/// Handles one message; `Some` when the visit is over (completed, or why
/// not).
async fn kiosk_message(ctx: &Ctx, n: usize, hub: usize, ws: &mut Ws, state: &mut KioskCall, msg: HubToKiosk) -> Option<Result<(), String>> {
    match msg {
        HubToKiosk::Queued { session, .. } => {
            *state = KioskCall::Queued;
            ctx.send(Event::Queued { session, kiosk: n, hub });
        }
        HubToKiosk::CallRefused { reason, .. } => {
            *state = KioskCall::Over;
            return Some(Err(format!("call_refused:{}", wire_name(&reason))));
        }
        HubToKiosk::CallAnswered { session, .. } => {
            ctx.send(Event::Answered { session: session.clone(), at_us: ctx.now_us() });
            // The kiosk makes the offer, then its candidates as it
            // gathers them, each stamped as it leaves.
            for step in 0..=ctx.candidates + 1 {
                let signal = match step {
                    0 => stamp::sdp(true, ctx.now_us(), ctx.sdp_bytes),
                    c if c <= ctx.candidates => stamp::candidate(c - 1, ctx.now_us()),
                    _ => Signal::EndOfCandidates,
                };
                if !send(ws, &KioskToHub::Signal { session: session.clone(), signal }).await {
                    return Some(Err("signal:send".into()));
                }
            }
            *state = KioskCall::InCall { session, answer: false, candidates: 0, end: false };
        }
        HubToKiosk::Signal { session, signal } => {
            let KioskCall::InCall { session: ours, answer, candidates, end } = state else {
                ctx.error("kiosk:signal_outside_call");
                return None;
            };
            if session != *ours {
                ctx.error("kiosk:signal_for_another_session");
                return None;
            }
            if let Some(sent) = stamp::sent_us(&signal) {
                ctx.send(Event::Relayed { direction: Direction::AgentToKiosk, latency_us: ctx.now_us().saturating_sub(sent) });
            }
            match signal {
                Signal::Answer { .. } => *answer = true,
                Signal::Candidate { .. } => *candidates += 1,
                Signal::EndOfCandidates => *end = true,
                Signal::Offer { .. } | Signal::Restart => ctx.error("kiosk:unexpected_signal"),
            }
        }
        HubToKiosk::CallEnded { session, reason } => {
            let complete = matches!(state, KioskCall::InCall { session: s, answer: true, candidates, end: true }
                if *s == session && *candidates == ctx.candidates);
            let was_in_call = matches!(state, KioskCall::InCall { .. });
            *state = KioskCall::Over;
            if complete && reason == EndReason::AgentHungUp {
                ctx.send(Event::Completed { session: session.clone() });
                // The resident rates the call, as at a real kiosk.
                let _ = send(ws, &KioskToHub::Rate { session, rating: Rating::Happy }).await;
                return Some(Ok(()));
            }
            let kind = if was_in_call && reason == EndReason::AgentHungUp {
                "signaling_incomplete".to_owned()
            } else {
                format!("call_ended:{}", wire_name(&reason))
            };
            return Some(Err(kind));
        }
        HubToKiosk::Error(body) => ctx.error(format!("kiosk_hub_error:{}", wire_name(&body.code))),
        // The simulated agents never transfer.
        HubToKiosk::CallTransferred { .. } => ctx.error("kiosk:unexpected_transfer"),
        HubToKiosk::Welcome { .. }
        | HubToKiosk::QueueUpdate { .. }
        | HubToKiosk::HeartbeatAck { .. }
        | HubToKiosk::ConfigAvailable { .. }
        | HubToKiosk::CallResumed { .. }
        | HubToKiosk::PeerAway { .. }
        | HubToKiosk::PeerBack { .. } => {}
    }
    None
}

// ---------------------------------------------------------------------------
// Agent
// ---------------------------------------------------------------------------

#[derive(Debug)]
enum AgentState {
    /// Before the calls start, or after an empty queue until `retry`.
    Idle { retry: Option<tokio::time::Instant> },
    Pressed { at_us: u64, deadline: tokio::time::Instant },
    InCall { session: SessionId, offer: bool, candidates: u16, end: bool, hang_up_at: Option<tokio::time::Instant>, hung_up: bool, deadline: tokio::time::Instant },
}

async fn agent(ctx: Arc<Ctx>, n: usize, account: AgentAccount) {
    let hub = ctx.plan.hub_of_agent(n);
    let mut ws = match agent_setup(&ctx, hub, &account).await {
        Ok(ws) => ws,
        Err(kind) => return ctx.send(Event::SetupFailed { agent: true, kind }),
    };
    ctx.agents_held.fetch_add(1, Ordering::Relaxed);
    ctx.send(Event::AgentReady);
    match agent_loop(&ctx, n, hub, &mut ws).await {
        Ok(()) => {
            let _ = ws.close(None).await;
        }
        Err(kind) => {
            ctx.agents_held.fetch_sub(1, Ordering::Relaxed);
            ctx.error(format!("agent_lost:{kind}"));
        }
    }
}

async fn agent_setup(ctx: &Ctx, hub: usize, account: &AgentAccount) -> Result<Ws, String> {
    let cookie = sign_in(ctx, hub, account).await?;
    let mut ws = connect(ctx, hub, "/ws/agent", Some(&cookie)).await?;
    if !send(&mut ws, &AgentToHub::Hello { protocol: PROTOCOL_VERSION, resume: None }).await {
        return Err("hello:send".into());
    }
    expect(ctx, &mut ws, "hello", |msg: HubToAgent| match msg {
        HubToAgent::Welcome { .. } => Some(Ok(())),
        HubToAgent::Error(body) => Some(Err(wire_name(&body.code))),
        _ => None,
    })
    .await?;
    if !send(&mut ws, &AgentToHub::SetAvailability { available: true }).await {
        return Err("availability:send".into());
    }
    expect(ctx, &mut ws, "availability", |msg: HubToAgent| match msg {
        HubToAgent::Availability { available: true } => Some(Ok(())),
        HubToAgent::Error(body) => Some(Err(wire_name(&body.code))),
        _ => None,
    })
    .await?;
    Ok(ws)
}

/// `POST /api/agent/login`; the session cookie for the WebSocket.
async fn sign_in(ctx: &Ctx, hub: usize, account: &AgentAccount) -> Result<String, String> {
    let url = format!("https://{}/api/agent/login", ctx.hubs[hub]);
    let body = serde_json::json!({"login": account.login, "password": account.password});
    let response = tokio::time::timeout(ctx.step, ctx.http.post(url).json(&body).send())
        .await
        .map_err(|_| "login:timeout".to_owned())?
        .map_err(|e| format!("login:{}", if e.is_connect() { "connect" } else { "request" }))?;
    if !response.status().is_success() {
        return Err(format!("login:http:{}", response.status().as_u16()));
    }
    let set_cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| "login:no_cookie".to_owned())?;
    Ok(set_cookie.split(';').next().unwrap_or_default().to_owned())
}

async fn agent_loop(ctx: &Ctx, n: usize, hub: usize, ws: &mut Ws) -> Result<(), String> {
    let mut state = AgentState::Idle { retry: None };
    let mut go = ctx.go.clone();
    let mut stop = ctx.stop.clone();
    let mut started = false;
    loop {
        let wake = match &state {
            AgentState::Idle { retry } => *retry,
            AgentState::Pressed { deadline, .. } => Some(*deadline),
            AgentState::InCall { hang_up_at, hung_up, deadline, .. } => match hang_up_at {
                Some(at) if !hung_up => Some(*at),
                _ => Some(*deadline),
            },
        };
        tokio::select! {
            _ = until(&mut stop) => return Ok(()),
            _ = until(&mut go), if !started => {
                started = true;
                state = press(ctx, ws).await?;
            }
            _ = tokio::time::sleep_until(wake.unwrap_or_else(far_future)), if wake.is_some() && started => {
                state = agent_timer(ctx, ws, state).await?;
            }
            msg = next::<HubToAgent>(ws) => {
                if let Some(msg) = msg? {
                    state = agent_message(ctx, n, hub, ws, state, msg).await?;
                }
            }
        }
    }
}

/// Until the flag is up (or its sender gone). Returns nothing: the
/// borrowed value must not live across the select's other awaits.
async fn until(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|up| *up).await;
}

fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(86_400)
}

async fn press(ctx: &Ctx, ws: &mut Ws) -> Result<AgentState, String> {
    let at_us = ctx.now_us();
    if !send(ws, &AgentToHub::TakeNext { service: None }).await {
        return Err("send".into());
    }
    Ok(AgentState::Pressed { at_us, deadline: tokio::time::Instant::now() + ctx.step })
}

async fn hang_up(ws: &mut Ws, session: &SessionId) -> Result<(), String> {
    if !send(ws, &AgentToHub::HangUp { session: session.clone() }).await {
        return Err("send".into());
    }
    Ok(())
}

async fn agent_timer(ctx: &Ctx, ws: &mut Ws, state: AgentState) -> Result<AgentState, String> {
    let now = tokio::time::Instant::now();
    Ok(match state {
        AgentState::Idle { .. } => press(ctx, ws).await?,
        AgentState::Pressed { deadline, .. } if now >= deadline => {
            ctx.error("agent_timeout:take_next");
            AgentState::Idle { retry: Some(now + ctx.idle_retry) }
        }
        AgentState::InCall { session, offer, candidates, end, hang_up_at: Some(at), hung_up: false, .. } if now >= at => {
            hang_up(ws, &session).await?;
            AgentState::InCall { session, offer, candidates, end, hang_up_at: Some(at), hung_up: true, deadline: now + ctx.step }
        }
        AgentState::InCall { session, hung_up, deadline, .. } if now >= deadline => {
            ctx.error(if hung_up { "agent_timeout:call_ended" } else { "agent_timeout:signaling" });
            if !hung_up {
                hang_up(ws, &session).await?;
            }
            AgentState::Idle { retry: Some(now + ctx.idle_retry) }
        }
        other => other,
    })
}

async fn agent_message(ctx: &Ctx, n: usize, hub: usize, ws: &mut Ws, state: AgentState, msg: HubToAgent) -> Result<AgentState, String> {
    let now = tokio::time::Instant::now();
    Ok(match (state, msg) {
        (AgentState::Pressed { at_us, .. }, HubToAgent::CallStarted { session, .. }) => {
            ctx.send(Event::Taken { session: session.clone(), agent: n, hub, pressed_us: at_us, started_us: ctx.now_us() });
            AgentState::InCall { session, offer: false, candidates: 0, end: false, hang_up_at: None, hung_up: false, deadline: now + ctx.step }
        }
        (AgentState::Pressed { .. }, HubToAgent::QueueEmpty { .. }) => {
            ctx.send(Event::QueueEmpty);
            AgentState::Idle { retry: Some(now + ctx.idle_retry) }
        }
        (AgentState::Pressed { .. }, HubToAgent::Error(body)) => {
            ctx.error(format!("agent_hub_error:{}", wire_name(&body.code)));
            AgentState::Idle { retry: Some(now + ctx.idle_retry) }
        }
        // Someone waits on this agent's process: no need to wait for the retry.
        (AgentState::Idle { retry: Some(_) }, HubToAgent::Queues { queues, .. }) if queues.iter().any(|q| !q.waiting.is_empty()) => {
            press(ctx, ws).await?
        }
        (AgentState::InCall { session, mut offer, mut candidates, mut end, hang_up_at, hung_up, deadline }, HubToAgent::Signal { session: theirs, signal }) => {
            if theirs != session {
                ctx.error("agent:signal_for_another_session");
                return Ok(AgentState::InCall { session, offer, candidates, end, hang_up_at, hung_up, deadline });
            }
            if let Some(sent) = stamp::sent_us(&signal) {
                ctx.send(Event::Relayed { direction: Direction::KioskToAgent, latency_us: ctx.now_us().saturating_sub(sent) });
            }
            match signal {
                Signal::Offer { .. } if !offer => {
                    offer = true;
                    // The agent's browser answers, then trickles its own candidates.
                    let mut out = vec![stamp::sdp(false, ctx.now_us(), ctx.sdp_bytes)];
                    out.extend((0..ctx.candidates).map(|c| stamp::candidate(c, ctx.now_us())));
                    out.push(Signal::EndOfCandidates);
                    for signal in out {
                        if !send(ws, &AgentToHub::Signal { session: session.clone(), signal }).await {
                            return Err("send".into());
                        }
                    }
                }
                Signal::Candidate { .. } => candidates += 1,
                Signal::EndOfCandidates => end = true,
                _ => ctx.error("agent:unexpected_signal"),
            }
            let hang_up_at = match hang_up_at {
                None if offer && end && candidates == ctx.candidates => Some(now + ctx.call_hold),
                other => other,
            };
            AgentState::InCall { session, offer, candidates, end, hang_up_at, hung_up, deadline }
        }
        (AgentState::InCall { session, hung_up, .. }, HubToAgent::CallEnded { session: theirs, reason }) if theirs == session => {
            if !hung_up {
                ctx.error(format!("agent_call_ended:{}", wire_name(&reason)));
            }
            // Next resident.
            press(ctx, ws).await?
        }
        (state, HubToAgent::Error(body)) => {
            ctx.error(format!("agent_hub_error:{}", wire_name(&body.code)));
            state
        }
        (state, _) => state,
    })
}

// ---------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------

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
        tasks.spawn(agent(ctx.clone(), n, account.clone()));
    }
    let mut progress = tokio::time::interval(Duration::from_secs(5));
    while ledger.set_up().1 != plan.agents {
        ledger.record(rx.recv().await.expect("the coordinator holds a sender"));
    }
    let rss_agents = procfs::total_rss_kib(&config.hub_pids);
    let kiosks_start = Instant::now();
    for (n, account) in config.accounts.kiosks.iter().take(plan.kiosks).enumerate() {
        tasks.spawn(kiosk(ctx.clone(), n, account.clone(), kiosks_start));
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

    #[test]
    fn wire_names_are_the_protocols() {
        assert_eq!(wire_name(&EndReason::AgentHungUp), "agent_hung_up");
        assert_eq!(wire_name(&ErrorCode::OutOfPlace), "out_of_place");
    }
}
