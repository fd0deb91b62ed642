//! Three `visio-hub serve` processes on one real PostgreSQL 15 and one real
//! NATS server, as a national deployment runs them: residents and agents
//! spread over the processes all press at once and every resident is taken
//! exactly once; a process killed mid-call loses nobody's call: its kiosk
//! comes back on another process with its token, the agent is told it was
//! away and back, and the session log keeps one record with the real end.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use common::*;
use jiff::Timestamp;
use visio_hub::store::postgres::PgStore;
use visio_protocol::*;
use visio_testkit::nats::Nats;
use visio_testkit::postgres::Postgres;

/// PostgreSQL, NATS and three hub processes on loopback.
struct Cluster {
    store: PgStore,
    processes: Vec<Option<Served>>,
    hubs: Vec<TestHub>,
    _dirs: Vec<tempfile::TempDir>,
    _nats: Nats,
    _pg: Postgres,
}

impl Cluster {
    async fn start() -> Cluster {
        let (pg, nats) = (Postgres::start().await, Nats::start().await);
        let store = PgStore::connect(&pg.url(), 4).await.unwrap();
        let (mut processes, mut hubs, mut dirs) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..3 {
            let dir = tempfile::tempdir().unwrap();
            let served = serve_process(
                Command::new(env!("CARGO_BIN_EXE_visio-hub"))
                    .arg("--data-dir")
                    .arg(dir.path())
                    .args(["--database", &pg.url(), "serve", "--listen", "127.0.0.1:0", "--bus", &nats.url()]),
            );
            hubs.push(TestHub::external(served.addr, dir.path()));
            processes.push(Some(served));
            dirs.push(dir);
        }
        Cluster { store, processes, hubs, _dirs: dirs, _nats: nats, _pg: pg }
    }

    /// SIGKILL: no goodbye to anyone, as when a machine dies.
    fn kill(&mut self, n: usize) {
        drop(self.processes[n].take());
    }

    async fn record(&self, session: &SessionId) -> Option<visio_hub::store::SessionRecord> {
        self.store.session_log().await.unwrap().into_iter().find(|r| r.session == session.as_str())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_residents_and_ten_agents_over_three_processes_are_each_taken_exactly_once() {
    let cluster = Cluster::start().await;
    let caf = ServiceId::from("demo");
    for n in 0..10 {
        let login = AgentLogin::from(format!("agent-{n}").as_str());
        cluster.store.add_agent(&login, &format!("Agent {n}"), &Secret("pw".into()), std::slice::from_ref(&caf), Timestamp::now()).await.unwrap();
    }
    // Residents queue on the three processes in turn.
    let mut kiosks = Vec::new();
    let mut queued = BTreeMap::new();
    for n in 0..50 {
        let id = format!("kiosk-{n:02}");
        let secret = cluster.store.enroll_kiosk(&id.as_str().into(), &format!("Mairie {n}"), Timestamp::now()).await.unwrap();
        let mut kiosk = Kiosk::connect(&cluster.hubs[n % 3], &id, &secret).await;
        let (session, position) = kiosk.queue("demo").await;
        queued.insert(session.clone(), id);
        kiosks.push((kiosk, session, position));
    }
    eventually("fifty residents in the shared queue", || async {
        (cluster.store.queue(&caf).await.unwrap().len() == 50).then_some(())
    })
    .await;
    // Each kiosk hears its place in the whole line, whichever process it
    // is on (places only grow while residents queue: the last one told is
    // the place in the shared order).
    let line: Vec<SessionId> = cluster.store.queue(&caf).await.unwrap().into_iter().map(|e| e.session).collect();
    for (kiosk, session, told) in &mut kiosks {
        let place = line.iter().position(|s| s == session).unwrap() as u32 + 1;
        if *told != place {
            kiosk
                .wait_for("its place in the whole line", |m| matches!(m, HubToKiosk::QueueUpdate { position, .. } if *position == place))
                .await;
        }
    }
    // An agent on any process sees the whole line.
    let cookie = Agent::sign_in(&cluster.hubs[2], "agent-9", "pw").await.unwrap();
    let mut watcher = Agent::connect_resuming(&cluster.hubs[2], &cookie, "agent-9", None).await;
    watcher.wait_for("fifty waiting", |m| waiting(m, "demo").is_some_and(|w| w.len() == 50)).await;
    watcher.close().await;

    // Ten agents on the three processes, connected first, then all taking
    // at once until nobody is left.
    let mut agents = Vec::new();
    for n in 0..10 {
        agents.push(Agent::connect(&cluster.hubs[n % 3], &format!("agent-{n}"), "pw").await);
    }
    let takers = agents.into_iter().map(|mut agent| {
        tokio::spawn(async move {
            let mut taken = Vec::new();
            loop {
                agent.send(AgentToHub::TakeNext { service: None }).await;
                let said = agent
                    .wait_for("call_started or queue_empty", |m| {
                        matches!(m, HubToAgent::CallStarted { .. } | HubToAgent::QueueEmpty { .. } | HubToAgent::Error(_))
                    })
                    .await;
                match said {
                    HubToAgent::CallStarted { session, kiosk_id, .. } => {
                        agent.send(AgentToHub::HangUp { session: session.clone() }).await;
                        agent.wait_for("call_ended", |m| matches!(m, HubToAgent::CallEnded { .. })).await;
                        taken.push((session, kiosk_id));
                    }
                    HubToAgent::QueueEmpty { .. } => return taken,
                    other => panic!("{other:?}"),
                }
            }
        })
    });
    let mut taken: Vec<(SessionId, KioskId)> = Vec::new();
    for t in takers.collect::<Vec<_>>() {
        taken.extend(t.await.unwrap());
    }
    let sessions: BTreeSet<&SessionId> = taken.iter().map(|(s, _)| s).collect();
    assert_eq!(taken.len(), 50, "fifty calls: {taken:?}");
    assert_eq!(sessions.len(), 50, "no resident taken twice");
    for (session, kiosk_id) in &taken {
        assert_eq!(queued.get(session).map(String::as_str), Some(kiosk_id.as_str()), "{session} is who queued");
    }
    // Each kiosk, whichever its process, heard its call answered, then ended.
    for (kiosk, session, _) in &mut kiosks {
        let answered = kiosk.wait_for("call_answered", |m| matches!(m, HubToKiosk::CallAnswered { .. })).await;
        assert!(matches!(answered, HubToKiosk::CallAnswered { session: ref s, .. } if s == &*session));
        kiosk.wait_for("call_ended", |m| matches!(m, HubToKiosk::CallEnded { .. })).await;
    }
    assert!(cluster.store.queue(&caf).await.unwrap().is_empty());
    // Each process writes what it did: the answer by the agent's, the end
    // by both (the first stands); all of it lands.
    let log = eventually("fifty answered and ended records", || async {
        let log = cluster.store.session_log().await.unwrap();
        log.iter().all(|r| r.answered_at.is_some() && r.ended_at.is_some()).then_some(log)
    })
    .await;
    assert_eq!(log.len(), 50);
    for r in &log {
        let agent = taken.iter().find(|(s, _)| s.as_str() == r.session).map(|_| r.agent.clone());
        assert!(agent.is_some_and(|a| a.is_some_and(|a| a.starts_with("agent-"))), "{r:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_mid_call_loses_no_call_its_kiosk_comes_back_on_another() {
    let mut cluster = Cluster::start().await;
    let secret = cluster.store.enroll_kiosk(&"besse".into(), "Mairie de Besse", Timestamp::now()).await.unwrap();
    let services = [ServiceId::from("demo")];
    cluster.store.add_agent(&"claire".into(), "Claire", &Secret("pw".into()), &services, Timestamp::now()).await.unwrap();

    // The kiosk on process 0, the agent on process 1, in a call.
    let mut kiosk = Kiosk::connect(&cluster.hubs[0], "besse", &secret).await;
    let mut agent = Agent::connect(&cluster.hubs[1], "claire", "pw").await;
    let (session, _) = kiosk.queue("demo").await;
    eventually("the resident in the shared queue", || async {
        (cluster.store.queue(&services[0]).await.unwrap().len() == 1).then_some(())
    })
    .await;
    let (_, token) = agent.take_next_with_token().await;
    kiosk.wait_for("call_answered", |m| matches!(m, HubToKiosk::CallAnswered { .. })).await;
    kiosk.send(KioskToHub::Signal { session: session.clone(), signal: offer() }).await;
    agent.wait_for("the offer", |m| matches!(m, HubToAgent::Signal { .. })).await;
    agent.send(AgentToHub::Signal { session: session.clone(), signal: answer() }).await;
    kiosk.wait_for("the answer", |m| matches!(m, HubToKiosk::Signal { .. })).await;

    // Process 0 dies. Its kiosk connection drops; the agent's process
    // sees it gone and says the kiosk is away.
    cluster.kill(0);
    assert_eq!(kiosk.next_or_closed().await.filter(|m| !matches!(m, HubToKiosk::QueueUpdate { .. })), None);
    agent.wait_for("peer_away", |m| matches!(m, HubToAgent::PeerAway { session: s } if *s == session)).await;

    // The kiosk fails over to process 2, which knows nothing of the call
    // but what PostgreSQL and process 1 tell it.
    let mut kiosk = Kiosk::connect_resuming(&cluster.hubs[2], "besse", &secret, Some(token.clone())).await;
    let resumed = kiosk.next().await;
    assert!(matches!(&resumed, HubToKiosk::CallResumed { session: s, agent_name, .. } if *s == session && agent_name == "Claire"), "{resumed:?}");
    agent.wait_for("peer_back", |m| matches!(m, HubToAgent::PeerBack { session: s } if *s == session)).await;

    // An ICE restart offer and its answer cross processes 2 and 1.
    kiosk.send(KioskToHub::Signal { session: session.clone(), signal: offer() }).await;
    let relayed = agent.wait_for("the restart offer", |m| matches!(m, HubToAgent::Signal { .. })).await;
    assert_eq!(relayed, HubToAgent::Signal { session: session.clone(), signal: offer() });
    agent.send(AgentToHub::Signal { session: session.clone(), signal: answer() }).await;
    assert_eq!(
        kiosk.wait_for("the answer", |m| matches!(m, HubToKiosk::Signal { .. })).await,
        HubToKiosk::Signal { session: session.clone(), signal: answer() }
    );

    // The resident hangs up on process 2: the agent on process 1 hears it,
    // and the log has one record, ended then.
    // The log keeps milliseconds.
    let before = Timestamp::from_millisecond(Timestamp::now().as_millisecond()).unwrap();
    kiosk.send(KioskToHub::HangUp { session: session.clone() }).await;
    agent.wait_for("call_ended", |m| matches!(m, HubToAgent::CallEnded { reason: EndReason::KioskHungUp, .. })).await;
    let after = Timestamp::now();
    let ended = eventually("the end in PostgreSQL", || async { cluster.record(&session).await.filter(|r| r.ended_at.is_some()) }).await;
    assert_eq!((ended.kiosk_id.as_str(), ended.agent.as_deref(), ended.end_reason.as_deref()), ("besse", Some("claire"), Some("kiosk_hung_up")));
    let end = ended.ended_at.unwrap();
    assert!(before <= end && end <= after, "ended at {end}, hung up between {before} and {after}");
    assert_eq!(cluster.store.session_log().await.unwrap().len(), 1, "one record for the one visit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_waiting_on_a_killed_process_keeps_their_place_on_another() {
    let mut cluster = Cluster::start().await;
    let enroll = |id: &'static str| {
        let store = cluster.store.clone();
        async move { store.enroll_kiosk(&id.into(), &format!("Mairie de {id}"), Timestamp::now()).await.unwrap() }
    };
    let (ardes_secret, besse_secret) = (enroll("ardes").await, enroll("besse").await);
    let services = [ServiceId::from("demo")];
    cluster.store.add_agent(&"claire".into(), "Claire", &Secret("pw".into()), &services, Timestamp::now()).await.unwrap();
    let cookie = Agent::sign_in(&cluster.hubs[2], "claire", "pw").await.unwrap();
    let mut agent = Agent::connect_resuming(&cluster.hubs[2], &cookie, "claire", None).await;

    // Ardes queues first on process 1, Besse second on process 0.
    let mut ardes = Kiosk::connect(&cluster.hubs[1], "ardes", &ardes_secret).await;
    let (first, _) = ardes.queue("demo").await;
    let mut besse = Kiosk::connect(&cluster.hubs[0], "besse", &besse_secret).await;
    let (second, _) = besse.queue("demo").await;
    agent.wait_for("both in the line, as process 2 sees it", |m| waiting(m, "demo").is_some_and(|w| w == ["ardes", "besse"])).await;

    // Process 0 dies; Besse's kiosk comes back on process 2 and asks again:
    // same visit, same place.
    cluster.kill(0);
    while besse.next_or_closed().await.is_some() {}
    let mut besse = Kiosk::connect(&cluster.hubs[2], "besse", &besse_secret).await;
    assert_eq!(besse.queue("demo").await, (second.clone(), 2));

    // Taken in order, by an agent on process 2: Ardes (on process 1), then
    // Besse (now on process 2).
    agent.send(AgentToHub::SetAvailability { available: true }).await;
    agent.wait_for("availability", |m| matches!(m, HubToAgent::Availability { available: true })).await;
    assert_eq!(agent.take_next().await, first);
    ardes.wait_for("call_answered", |m| matches!(m, HubToKiosk::CallAnswered { .. })).await;
    agent.send(AgentToHub::HangUp { session: first.clone() }).await;
    agent.wait_for("call_ended", |m| matches!(m, HubToAgent::CallEnded { .. })).await;
    assert_eq!(agent.take_next().await, second);
    besse.wait_for("call_answered", |m| matches!(m, HubToKiosk::CallAnswered { session: s, .. } if *s == second)).await;
    let answered = eventually("Besse's visit answered in the log", || async {
        cluster.record(&second).await.filter(|r| r.answered_at.is_some())
    })
    .await;
    assert_eq!((answered.kiosk_id.as_str(), answered.agent.as_deref(), answered.ended_at), ("besse", Some("claire"), None));
    assert_eq!(cluster.store.session_log().await.unwrap().len(), 2, "one record per visit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_published_through_one_process_reaches_the_kiosks_of_every_process() {
    let cluster = Cluster::start().await;
    let key = admin_key(7);
    cluster.store.trust_admin_key(&key.verifying_key(), Timestamp::now()).await.unwrap();
    let token = cluster.store.create_admin_token("tester", Timestamp::now()).await.unwrap();
    let mut kiosks = Vec::new();
    for (n, hub) in cluster.hubs.iter().enumerate() {
        let id = format!("kiosk-{n}");
        let secret = cluster.store.enroll_kiosk(&id.as_str().into(), "Mairie", Timestamp::now()).await.unwrap();
        kiosks.push(Kiosk::connect(hub, &id, &secret).await);
    }
    let bundle = signed_demo(&key, 3);
    let (status, answer) = cluster.hubs[1].publish(Some(&token), &bundle.to_json()).await;
    assert_eq!(status, 201, "{answer}");
    for kiosk in &mut kiosks {
        let told = kiosk.wait_for("config_available", |m| matches!(m, HubToKiosk::ConfigAvailable { .. })).await;
        assert!(matches!(told, HubToKiosk::ConfigAvailable { version: 3, .. }), "{told:?}");
    }
    // A kiosk connecting later to any process is told too.
    let secret = cluster.store.enroll_kiosk(&"late".into(), "Mairie", Timestamp::now()).await.unwrap();
    let mut late = Kiosk::connect(&cluster.hubs[2], "late", &secret).await;
    late.wait_for("config_available", |m| matches!(m, HubToKiosk::ConfigAvailable { version: 3, .. })).await;
}
