//! Losing the hub mid-call, over real TLS sockets: a side's connection
//! drops and it comes back with its resume token; the hub itself restarts,
//! gracefully or killed, and both sides find their call again.

mod common;

use std::process::Command;

use common::*;
use jiff::Timestamp;
use visio_hub::store::SessionRecord;
use visio_protocol::*;

/// The session log keeps milliseconds: bounds taken from the clock widen
/// by one.
const MS: jiff::SignedDuration = jiff::SignedDuration::from_millis(1);

/// A kiosk, an agent (and the agent's sign-in cookie) in a negotiated call.
struct Call {
    kiosk: Kiosk,
    agent: Agent,
    cookie: String,
    secret: Secret,
    session: SessionId,
    token: ResumeToken,
}

async fn call(hub: &TestHub, kiosk: &str, login: &str) -> Call {
    let secret = hub.enroll(kiosk);
    hub.add_agent(login, "agent-password", &["demo"]);
    let cookie = Agent::sign_in(hub, login, "agent-password").await.unwrap();
    let mut agent = Agent::connect_resuming(hub, &cookie, login, None).await;
    agent.send(AgentToHub::SetAvailability { available: true }).await;
    agent.wait_for("availability", |m| matches!(m, HubToAgent::Availability { available: true })).await;
    let mut k = Kiosk::connect(hub, kiosk, &secret).await;
    let (session, _) = k.queue("demo").await;
    agent.wait_for("the kiosk in the queue", |m| waiting(m, "demo").is_some_and(|w| !w.is_empty())).await;
    let (taken, token) = agent.take_next_with_token().await;
    assert_eq!(taken, session);
    match k.wait_for("call_answered", |m| matches!(m, HubToKiosk::CallAnswered { .. })).await {
        HubToKiosk::CallAnswered { resume_token, .. } => assert_eq!(resume_token.as_ref(), Some(&token)),
        _ => unreachable!(),
    }
    k.send(KioskToHub::Signal { session: session.clone(), signal: offer() }).await;
    agent.wait_for("the offer", |m| matches!(m, HubToAgent::Signal { .. })).await;
    agent.send(AgentToHub::Signal { session: session.clone(), signal: answer() }).await;
    assert_eq!(k.next().await, HubToKiosk::Signal { session: session.clone(), signal: answer() });
    Call { kiosk: k, agent, cookie, secret, session, token }
}

fn record(log: &[SessionRecord], session: &SessionId) -> Option<SessionRecord> {
    log.iter().find(|r| r.session == session.as_str()).cloned()
}

/// One record for the session, ended with `reason`.
async fn ended_once(hub: &TestHub, session: &SessionId, reason: &str) -> SessionRecord {
    let r = hub
        .wait_for_log("the call's end in the log", |log| record(log, session).filter(|r| r.ended_at.is_some()))
        .await;
    let log = hub.store.session_log().unwrap();
    assert_eq!(log.iter().filter(|r| r.session == session.as_str()).count(), 1, "one record per call: {log:?}");
    assert_eq!(r.end_reason.as_deref(), Some(reason), "{r:?}");
    r
}

#[tokio::test]
async fn an_agent_whose_connection_drops_comes_back_with_the_token_and_signals_flow_again() {
    let hub = TestHub::start().await;
    let Call { mut kiosk, agent, cookie, session, token, .. } = call(&hub, "besse", "claire").await;

    agent.close().await;
    assert_eq!(kiosk.next().await, HubToKiosk::PeerAway { session: session.clone() });

    let mut agent = Agent::connect_resuming(&hub, &cookie, "claire", Some(token)).await;
    match agent.next().await {
        HubToAgent::CallResumed { session: s, kiosk_id, service, .. } => {
            assert_eq!((s, kiosk_id.as_str(), service.as_str()), (session.clone(), "besse", "demo"));
        }
        other => panic!("expected call_resumed, got {other:?}"),
    }
    assert_eq!(kiosk.next().await, HubToKiosk::PeerBack { session: session.clone() });

    // A reloaded page restarts; the kiosk offers anew; candidates flow.
    agent.send(AgentToHub::Signal { session: session.clone(), signal: Signal::Restart }).await;
    assert_eq!(kiosk.next().await, HubToKiosk::Signal { session: session.clone(), signal: Signal::Restart });
    kiosk.send(KioskToHub::Signal { session: session.clone(), signal: offer() }).await;
    let relayed = agent.wait_for("the new offer", |m| matches!(m, HubToAgent::Signal { .. })).await;
    assert_eq!(relayed, HubToAgent::Signal { session: session.clone(), signal: offer() });
    agent.send(AgentToHub::Signal { session: session.clone(), signal: answer() }).await;
    assert_eq!(kiosk.next().await, HubToKiosk::Signal { session: session.clone(), signal: answer() });
    kiosk.send(KioskToHub::Signal { session: session.clone(), signal: candidate(1) }).await;
    let relayed = agent.wait_for("a candidate", |m| matches!(m, HubToAgent::Signal { .. })).await;
    assert_eq!(relayed, HubToAgent::Signal { session: session.clone(), signal: candidate(1) });

    kiosk.send(KioskToHub::HangUp { session: session.clone() }).await;
    agent.wait_for("call_ended", |m| matches!(m, HubToAgent::CallEnded { reason: EndReason::KioskHungUp, .. })).await;
    ended_once(&hub, &session, "kiosk_hung_up").await;
    hub.stop().await;
}

#[tokio::test]
async fn a_kiosk_back_without_its_token_ends_the_call_at_once() {
    let hub = TestHub::start().await;
    let Call { kiosk, mut agent, secret, session, .. } = call(&hub, "besse", "claire").await;
    let before_loss = Timestamp::now();
    kiosk.close().await;
    assert_eq!(agent.next().await, HubToAgent::PeerAway { session: session.clone() });

    let mut kiosk = Kiosk::connect_resuming(&hub, "besse", &secret, None).await;
    let ended = agent.wait_for("call_ended", |m| matches!(m, HubToAgent::CallEnded { .. })).await;
    assert_eq!(ended, HubToAgent::CallEnded { session: session.clone(), reason: EndReason::KioskDisconnected });
    let r = ended_once(&hub, &session, "kiosk_disconnected").await;
    assert!(r.ended_at.unwrap() >= before_loss - MS, "{r:?}");
    // A fresh kiosk: nothing about the old call, and it may queue again.
    let (again, _) = kiosk.queue("demo").await;
    assert_ne!(again, session);
    hub.stop().await;
}

#[tokio::test]
async fn another_kiosks_token_is_refused_and_the_call_goes_on() {
    let hub = TestHub::start().await;
    let Call { mut kiosk, mut agent, session, token, .. } = call(&hub, "besse", "claire").await;
    let other = hub.enroll("ardes");

    let mut intruder = Kiosk::connect_resuming(&hub, "ardes", &other, Some(token)).await;
    assert_eq!(intruder.next().await, HubToKiosk::CallEnded { session: session.clone(), reason: EndReason::KioskDisconnected });

    // Besse's call is untouched: signals still flow both ways.
    kiosk.send(KioskToHub::Signal { session: session.clone(), signal: candidate(2) }).await;
    assert_eq!(
        agent.wait_for("a candidate", |m| !matches!(m, HubToAgent::Queues { .. })).await,
        HubToAgent::Signal { session: session.clone(), signal: candidate(2) }
    );
    intruder.send(KioskToHub::Signal { session: session.clone(), signal: candidate(3) }).await;
    assert_eq!(intruder.error().await.code, ErrorCode::NotYourSession);
    agent.send(AgentToHub::HangUp { session: session.clone() }).await;
    assert_eq!(kiosk.next().await, HubToKiosk::CallEnded { session: session.clone(), reason: EndReason::AgentHungUp });
    hub.stop().await;
}

#[tokio::test]
async fn the_grace_running_out_ends_the_call_as_of_the_loss() {
    let hub = TestHub::start_in(tempfile::tempdir().unwrap(), TestHub::settings_with_grace(2)).await;
    let Call { mut kiosk, agent, session, token, cookie, .. } = call(&hub, "besse", "claire").await;
    let before_loss = Timestamp::now();
    agent.close().await;
    assert_eq!(kiosk.next().await, HubToKiosk::PeerAway { session: session.clone() });
    let ended = kiosk.next().await;
    let told_at = Timestamp::now();
    assert_eq!(ended, HubToKiosk::CallEnded { session: session.clone(), reason: EndReason::AgentDisconnected });

    let r = ended_once(&hub, &session, "agent_disconnected").await;
    let ended_at = r.ended_at.unwrap();
    assert!(ended_at >= before_loss - MS, "ended {ended_at}, lost after {before_loss}");
    assert!(told_at.duration_since(ended_at).as_secs_f64() >= 1.5, "the log says when the agent was lost ({ended_at}), not when the hub gave up ({told_at})");

    // Too late: the token now only says how the call ended.
    let mut agent = Agent::connect_resuming(&hub, &cookie, "claire", Some(token)).await;
    assert_eq!(agent.next().await, HubToAgent::CallEnded { session, reason: EndReason::AgentDisconnected });
    hub.stop().await;
}

#[tokio::test]
async fn a_graceful_restart_keeps_the_call_and_both_sides_re_attach() {
    let mut hub = TestHub::start().await;
    let Call { mut kiosk, mut agent, cookie, secret, session, token } = call(&hub, "besse", "claire").await;
    // A resident still waiting is told the hub stops.
    let waiting_secret = hub.enroll("ardes");
    let mut waiting = Kiosk::connect(&hub, "ardes", &waiting_secret).await;
    let (waited, _) = waiting.queue("demo").await;

    hub.restart(TestHub::settings_with_grace(60)).await;
    assert_eq!(waiting.next().await, HubToKiosk::CallEnded { session: waited.clone(), reason: EndReason::HubShutdown });
    assert_eq!(kiosk.close_code().await, Some(1012), "service restart: come back");
    assert_eq!(agent.close_code().await, Some(1012));
    let r = hub.wait_for_log("the call still open", |log| record(log, &session)).await;
    assert_eq!(r.ended_at, None, "a restart does not end the call: {r:?}");

    // Both come back to the new process; the agent's cookie still works.
    let mut kiosk = Kiosk::connect_resuming(&hub, "besse", &secret, Some(token.clone())).await;
    assert!(matches!(kiosk.next().await, HubToKiosk::CallResumed { session: s, .. } if s == session));
    assert_eq!(kiosk.next().await, HubToKiosk::PeerAway { session: session.clone() }, "the agent is not back yet");
    let mut agent = Agent::connect_resuming(&hub, &cookie, "claire", Some(token)).await;
    assert!(matches!(agent.next().await, HubToAgent::CallResumed { session: s, .. } if s == session));
    assert_eq!(kiosk.next().await, HubToKiosk::PeerBack { session: session.clone() });

    // The call goes on and ends once, with its real reason.
    kiosk.send(KioskToHub::Signal { session: session.clone(), signal: offer() }).await;
    assert_eq!(
        agent.wait_for("the offer", |m| matches!(m, HubToAgent::Signal { .. })).await,
        HubToAgent::Signal { session: session.clone(), signal: offer() }
    );
    agent.send(AgentToHub::HangUp { session: session.clone() }).await;
    assert_eq!(kiosk.next().await, HubToKiosk::CallEnded { session: session.clone(), reason: EndReason::AgentHungUp });
    ended_once(&hub, &session, "agent_hung_up").await;
    let r = record(&hub.store.session_log().unwrap(), &waited).unwrap();
    assert_eq!(r.end_reason.as_deref(), Some("hub_shutdown"));

    // Session ids of the new process are new.
    let mut again = Kiosk::connect(&hub, "besse", &secret).await;
    let (fresh, _) = again.queue("demo").await;
    assert_ne!(fresh.as_str().split('-').next(), session.as_str().split('-').next());
    hub.stop().await;
}

#[tokio::test]
async fn a_call_nobody_claims_after_a_restart_ends_with_hub_shutdown_when_the_hub_stopped() {
    let hub = TestHub::start().await;
    let Call { kiosk, agent, session, .. } = call(&hub, "besse", "claire").await;
    let before_stop = Timestamp::now();
    let dir = hub.stop_keeping_data().await;
    let after_stop = Timestamp::now();
    drop((kiosk, agent));
    let hub = TestHub::start_in(dir, TestHub::settings_with_grace(1)).await;
    let r = ended_once(&hub, &session, "hub_shutdown").await;
    let ended_at = r.ended_at.unwrap();
    assert!(before_stop - MS <= ended_at && ended_at <= after_stop, "ended {ended_at}: the stop, between {before_stop} and {after_stop}");
    hub.stop().await;
}

fn serve(data: &std::path::Path) -> Served {
    serve_process(
        Command::new(env!("CARGO_BIN_EXE_visio-hub"))
            .arg("--data-dir")
            .arg(data)
            .args(["serve", "--listen", "127.0.0.1:0", "--resume-grace", "60"]),
    )
}

#[tokio::test]
async fn a_killed_hub_process_is_taken_over_by_the_next_and_the_call_ends_once() {
    let dir = tempfile::tempdir().unwrap();
    let first = serve(dir.path());
    let hub = TestHub::external(first.addr, dir.path());
    let Call { mut kiosk, mut agent, cookie, secret, session, token } = call(&hub, "besse", "claire").await;

    // The answer and its token's hash reach the store on the log's own
    // task, a moment after call_started: a kill before that loses the call.
    hub.wait_for_log("the answer in the log", |log| record(log, &session).filter(|r| r.answered_at.is_some())).await;
    // SIGKILL: no shutdown, no stop time recorded.
    drop(first);
    assert_eq!(kiosk.next_or_closed().await, None);
    assert_eq!(agent.next_or_closed().await, None);

    let second = serve(dir.path());
    let hub = TestHub::external(second.addr, dir.path());
    let mut kiosk = Kiosk::connect_resuming(&hub, "besse", &secret, Some(token.clone())).await;
    let resumed = kiosk.next().await;
    assert!(matches!(&resumed, HubToKiosk::CallResumed { session: s, .. } if *s == session), "{resumed:?}");
    assert_eq!(kiosk.next().await, HubToKiosk::PeerAway { session: session.clone() });
    let mut agent = Agent::connect_resuming(&hub, &cookie, "claire", Some(token)).await;
    let resumed = agent.next().await;
    assert!(matches!(&resumed, HubToAgent::CallResumed { session: s, .. } if *s == session), "{resumed:?}");
    assert_eq!(kiosk.next().await, HubToKiosk::PeerBack { session: session.clone() });
    kiosk.send(KioskToHub::HangUp { session: session.clone() }).await;
    agent.wait_for("call_ended", |m| matches!(m, HubToAgent::CallEnded { reason: EndReason::KioskHungUp, .. })).await;
    ended_once(&hub, &session, "kiosk_hung_up").await;
    drop(second);
}
