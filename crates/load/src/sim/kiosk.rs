//! A simulated kiosk: connects at the plan's pace, asks for a call if it is
//! one of the queuers, plays the kiosk's side of the signaling and reports
//! each step to the coordinator.

use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use visio_protocol::*;

use super::wire::{Ws, connect, expect, next, send, wire_name};
use super::{Ctx, until};
use crate::accounts::KioskAccount;
use crate::ledger::{Direction, Event};
use crate::stamp;

#[derive(Debug)]
enum KioskCall {
    Idle,
    Queued,
    InCall { session: SessionId, answer: bool, candidates: u16, end: bool },
    Over,
}

pub(super) async fn kiosk(ctx: Arc<Ctx>, n: usize, account: KioskAccount, start: Instant) {
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
                    last_call: None,
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
        | HubToKiosk::PeerBack { .. }
        | HubToKiosk::HostComing
        // The simulated kiosks ask for no callback.
        | HubToKiosk::CallbackSlots { .. }
        | HubToKiosk::CallbackBooked { .. }
        | HubToKiosk::CallbackRefused { .. } => {}
    }
    None
}
