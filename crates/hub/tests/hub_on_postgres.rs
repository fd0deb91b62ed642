//! `visio-hub serve --database postgres://…` as a child process, against a
//! real PostgreSQL 15 the test starts: accounts, sign-in, the shared queue
//! (take-next decided by PostgreSQL), call, signaling and session log go
//! through PostgreSQL; a second process on the same database takes over
//! the call after the first is killed. Two processes linked by a real NATS
//! server: an agent on one takes a kiosk waiting on the other, and their
//! signaling crosses.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;
use jiff::Timestamp;
use visio_hub::store::SessionRecord;
use visio_hub::store::postgres::PgStore;
use visio_protocol::*;
use visio_testkit::nats::Nats;
use visio_testkit::postgres::Postgres;

/// `visio-hub serve` on PostgreSQL, killed (SIGKILL) when dropped.
struct Served(std::process::Child, std::net::SocketAddr);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(data: &std::path::Path, database: &str) -> Served {
    serve_with(data, database, &[])
}

fn serve_with(data: &std::path::Path, database: &str, extra: &[&str]) -> Served {
    let child = Command::new(env!("CARGO_BIN_EXE_visio-hub"))
        .arg("--data-dir")
        .arg(data)
        .args(["--database", database, "serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut served = Served(child, "127.0.0.1:0".parse().unwrap());
    let stderr = served.0.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    loop {
        let line = rx.recv_timeout(DEADLINE).unwrap_or_else(|_| panic!("no 'hub listening' line in:\n{}", seen.join("\n")));
        if let Some(rest) = line.split("addr=").nth(1) {
            served.1 = rest.split_whitespace().next().unwrap().parse().unwrap();
            std::thread::spawn(move || while rx.recv().is_ok() {});
            return served;
        }
        seen.push(line);
    }
}

fn record(log: &[SessionRecord], session: &SessionId) -> Option<SessionRecord> {
    log.iter().find(|r| r.session == session.as_str()).cloned()
}

async fn wait_for_log<T>(store: &PgStore, what: &str, check: impl Fn(&[SessionRecord]) -> Option<T>) -> T {
    eventually(what, || async { check(&store.session_log().await.unwrap()) }).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_on_postgresql_serves_a_call_and_the_next_process_takes_it_over() {
    let pg = Postgres::start().await;
    let store = PgStore::connect(&pg.url(), 2).await.unwrap();
    let secret = store.enroll_kiosk(&"besse".into(), "Mairie de Besse", Timestamp::now()).await.unwrap();
    let services = [ServiceId::from("demo")];
    store.add_agent(&"claire".into(), "Claire", &Secret("agent-password".into()), &services, Timestamp::now()).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let first = serve(dir.path(), &pg.url());
    // The clients only need the address and the generated certificate;
    // records are read from PostgreSQL, not through this handle's store.
    let hub = TestHub::external(first.1, dir.path());
    let cookie = Agent::sign_in(&hub, "claire", "agent-password").await.expect("the agent's account is in PostgreSQL");
    let mut agent = Agent::connect_resuming(&hub, &cookie, "claire", None).await;
    agent.send(AgentToHub::SetAvailability { available: true }).await;
    agent.wait_for("availability", |m| matches!(m, HubToAgent::Availability { available: true })).await;
    let mut kiosk = Kiosk::connect(&hub, "besse", &secret).await;
    let (session, position) = kiosk.queue("demo").await;
    assert_eq!(position, 1);
    agent.wait_for("the kiosk in the queue", |m| waiting(m, "demo").is_some_and(|w| w == ["besse"])).await;
    // The wait is in the shared queue, and "take next" takes it from there.
    let demo = ServiceId::from("demo");
    eventually("the resident in PostgreSQL's queue", || async {
        let queue = store.queue(&demo).await.unwrap();
        queue.iter().any(|e| e.session == session && e.kiosk_id.as_str() == "besse").then_some(())
    })
    .await;
    let (taken, token) = agent.take_next_with_token().await;
    assert_eq!(taken, session);
    assert!(store.queue(&demo).await.unwrap().is_empty(), "taken out of the shared queue");
    kiosk.wait_for("call_answered", |m| matches!(m, HubToKiosk::CallAnswered { .. })).await;
    kiosk.send(KioskToHub::Signal { session: session.clone(), signal: offer() }).await;
    let relayed = agent.wait_for("the offer", |m| matches!(m, HubToAgent::Signal { .. })).await;
    assert_eq!(relayed, HubToAgent::Signal { session: session.clone(), signal: offer() });
    agent.send(AgentToHub::Signal { session: session.clone(), signal: answer() }).await;
    assert_eq!(kiosk.next().await, HubToKiosk::Signal { session: session.clone(), signal: answer() });
    let answered = wait_for_log(&store, "the answer in PostgreSQL", |log| {
        record(log, &session).filter(|r| r.answered_at.is_some())
    })
    .await;
    assert_eq!((answered.kiosk_id.as_str(), answered.agent.as_deref()), ("besse", Some("claire")));

    // Killed: the next process on the same database holds the call for
    // both sides, which come back with their token.
    drop(first);
    assert_eq!(kiosk.next_or_closed().await, None);
    assert_eq!(agent.next_or_closed().await, None);
    let second = serve(dir.path(), &pg.url());
    let hub = TestHub::external(second.1, dir.path());
    let mut kiosk = Kiosk::connect_resuming(&hub, "besse", &secret, Some(token.clone())).await;
    let resumed = kiosk.next().await;
    assert!(matches!(&resumed, HubToKiosk::CallResumed { session: s, .. } if *s == session), "{resumed:?}");
    let mut agent = Agent::connect_resuming(&hub, &cookie, "claire", Some(token)).await;
    agent.wait_for("call_resumed", |m| matches!(m, HubToAgent::CallResumed { .. })).await;
    kiosk.wait_for("peer_back", |m| matches!(m, HubToKiosk::PeerBack { .. })).await;
    kiosk.send(KioskToHub::HangUp { session: session.clone() }).await;
    agent.wait_for("call_ended", |m| matches!(m, HubToAgent::CallEnded { reason: EndReason::KioskHungUp, .. })).await;
    let ended = wait_for_log(&store, "the call's end in PostgreSQL", |log| {
        record(log, &session).filter(|r| r.ended_at.is_some())
    })
    .await;
    assert_eq!(ended.end_reason.as_deref(), Some("kiosk_hung_up"));
    assert_eq!(store.session_log().await.unwrap().len(), 1, "one record for the one visit");
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_on_one_process_takes_a_kiosk_on_another_and_their_signals_cross() {
    let (pg, nats) = (Postgres::start().await, Nats::start().await);
    let store = PgStore::connect(&pg.url(), 2).await.unwrap();
    let secret = store.enroll_kiosk(&"besse".into(), "Mairie de Besse", Timestamp::now()).await.unwrap();
    let services = [ServiceId::from("demo")];
    store.add_agent(&"claire".into(), "Claire", &Secret("agent-password".into()), &services, Timestamp::now()).await.unwrap();
    // Both processes start before anyone queues (each start still takes
    // over the database as if alone: docs/decisions.md #178–189).
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = serve_with(dir_a.path(), &pg.url(), &["--bus", &nats.url()]);
    let b = serve_with(dir_b.path(), &pg.url(), &["--bus", &nats.url()]);
    let (hub_a, hub_b) = (TestHub::external(a.1, dir_a.path()), TestHub::external(b.1, dir_b.path()));

    let mut kiosk = Kiosk::connect(&hub_a, "besse", &secret).await;
    let cookie = Agent::sign_in(&hub_b, "claire", "agent-password").await.unwrap();
    let mut agent = Agent::connect_resuming(&hub_b, &cookie, "claire", None).await;
    agent.send(AgentToHub::SetAvailability { available: true }).await;
    agent.wait_for("availability", |m| matches!(m, HubToAgent::Availability { available: true })).await;
    let (session, _) = kiosk.queue("demo").await;
    let demo = ServiceId::from("demo");
    eventually("the resident in the shared queue", || async {
        (store.queue(&demo).await.unwrap().iter().any(|e| e.session == session)).then_some(())
    })
    .await;

    // Process B's agent takes process A's kiosk: same call, same token.
    let (taken, token) = agent.take_next_with_token().await;
    assert_eq!(taken, session);
    match kiosk.wait_for("call_answered", |m| matches!(m, HubToKiosk::CallAnswered { .. })).await {
        HubToKiosk::CallAnswered { session: s, agent_name, resume_token, .. } => {
            assert_eq!((s, agent_name.as_str(), resume_token), (session.clone(), "Claire", Some(token)));
        }
        _ => unreachable!(),
    }

    // Offer, answer and candidates both ways, in order.
    kiosk.send(KioskToHub::Signal { session: session.clone(), signal: offer() }).await;
    let relayed = agent.wait_for("the offer", |m| matches!(m, HubToAgent::Signal { .. })).await;
    assert_eq!(relayed, HubToAgent::Signal { session: session.clone(), signal: offer() });
    agent.send(AgentToHub::Signal { session: session.clone(), signal: answer() }).await;
    assert_eq!(kiosk.next().await, HubToKiosk::Signal { session: session.clone(), signal: answer() });
    for n in 0..3 {
        kiosk.send(KioskToHub::Signal { session: session.clone(), signal: candidate(n) }).await;
        agent.send(AgentToHub::Signal { session: session.clone(), signal: candidate(10 + n) }).await;
    }
    for n in 0..3 {
        assert_eq!(agent.next().await, HubToAgent::Signal { session: session.clone(), signal: candidate(n) });
        assert_eq!(kiosk.next().await, HubToKiosk::Signal { session: session.clone(), signal: candidate(10 + n) });
    }

    // The kiosk hangs up on A; the agent on B hears it; logged once.
    kiosk.send(KioskToHub::HangUp { session: session.clone() }).await;
    agent.wait_for("call_ended", |m| matches!(m, HubToAgent::CallEnded { reason: EndReason::KioskHungUp, .. })).await;
    let ended = wait_for_log(&store, "the call's end in PostgreSQL", |log| {
        record(log, &session).filter(|r| r.ended_at.is_some() && r.answered_at.is_some())
    })
    .await;
    assert_eq!((ended.agent.as_deref(), ended.end_reason.as_deref()), (Some("claire"), Some("kiosk_hung_up")));
    assert_eq!(store.session_log().await.unwrap().len(), 1);
    drop((a, b));
}

/// Revocation crosses processes: a sign-out on one process closes the
/// agent's console on another, and `visio-hub --database … kiosk disable`
/// closes a kiosk wherever it is connected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_on_one_process_closes_the_sockets_on_another() {
    let (pg, nats) = (Postgres::start().await, Nats::start().await);
    let store = PgStore::connect(&pg.url(), 2).await.unwrap();
    let secret = store.enroll_kiosk(&"besse".into(), "Mairie de Besse", Timestamp::now()).await.unwrap();
    let good_secret = store.enroll_kiosk(&"good".into(), "Mairie", Timestamp::now()).await.unwrap();
    let services = [ServiceId::from("demo")];
    for login in ["claire", "marc", "paul"] {
        store.add_agent(&login.into(), login, &Secret("agent-password".into()), &services, Timestamp::now()).await.unwrap();
    }
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = serve_with(dir_a.path(), &pg.url(), &["--bus", &nats.url()]);
    let b = serve_with(dir_b.path(), &pg.url(), &["--bus", &nats.url()]);
    let (hub_a, hub_b) = (TestHub::external(a.1, dir_a.path()), TestHub::external(b.1, dir_b.path()));

    let mut marc = Agent::connect(&hub_a, "marc", "agent-password").await;
    let cookie = Agent::sign_in(&hub_b, "claire", "agent-password").await.unwrap();
    let mut claire = Agent::connect_resuming(&hub_b, &cookie, "claire", None).await;
    let out = hub_a.http().post(hub_a.url("/api/agent/logout")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(out.status(), 204);
    assert_eq!(claire.close_code().await, Some(1008), "signed out on A, closed on B");

    let mut kiosk = Kiosk::connect(&hub_b, "besse", &secret).await;
    let disabled = Command::new(env!("CARGO_BIN_EXE_visio-hub"))
        .arg("--data-dir")
        .arg(dir_a.path())
        .args(["--database", &pg.url(), "kiosk", "disable", "besse"])
        .output()
        .unwrap();
    assert!(disabled.status.success(), "{}", String::from_utf8_lossy(&disabled.stderr));
    assert_eq!(kiosk.close_code().await, Some(1008));

    // A new password set from the CLI closes the console on B.
    let mut paul = Agent::connect(&hub_b, "paul", "agent-password").await;
    let mut change = Command::new(env!("CARGO_BIN_EXE_visio-hub"))
        .arg("--data-dir")
        .arg(dir_a.path())
        .args(["--database", &pg.url(), "agent", "password", "paul", "--password-stdin"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        change.stdin.take().unwrap().write_all(b"another-password\n").unwrap();
    }
    assert!(change.wait().unwrap().success());
    assert_eq!(paul.close_code().await, Some(1008));
    Agent::sign_in(&hub_b, "paul", "another-password").await.unwrap();

    // The others carry on: a visit from B answered by the agent on A.
    let mut good = Kiosk::connect(&hub_b, "good", &good_secret).await;
    let (session, _) = good.queue("demo").await;
    marc.wait_for("the kiosk in the queue", |m| waiting(m, "demo").is_some_and(|w| w == ["good"])).await;
    assert_eq!(marc.take_next().await, session);
    good.wait_for("answered", |m| matches!(m, HubToKiosk::CallAnswered { .. })).await;
}
