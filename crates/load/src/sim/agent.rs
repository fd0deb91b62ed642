//! A simulated agent: signs in, goes available, takes the next resident,
//! plays the agent's side of the signaling, holds the call and hangs up.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use visio_protocol::*;

use super::wire::{Ws, connect, expect, next, send, wire_name};
use super::{Ctx, until};
use crate::accounts::AgentAccount;
use crate::ledger::{Direction, Event};
use crate::stamp;

/// The shortest a simulated agent holds a call. The hub closes a client
/// that sends over 100 messages a second (`HubLimits`), and a call is at
/// least 8 of them (take next, the answer, its candidates, hang up): back to
/// back on loopback an agent sent far more. No person takes six calls a
/// second; the latencies measured do not include the hold.
const SHORTEST_CALL: Duration = Duration::from_millis(150);

#[derive(Debug)]
enum AgentState {
    /// Before the calls start, or after an empty queue until `retry`.
    Idle { retry: Option<tokio::time::Instant> },
    Pressed { at_us: u64, deadline: tokio::time::Instant },
    InCall { session: SessionId, offer: bool, candidates: u16, end: bool, hang_up_at: Option<tokio::time::Instant>, hung_up: bool, deadline: tokio::time::Instant },
}

pub(super) async fn agent(ctx: Arc<Ctx>, n: usize, account: AgentAccount) {
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
                None if offer && end && candidates == ctx.candidates => Some(now + ctx.call_hold.max(SHORTEST_CALL)),
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
