//! A call survives what happens to the parts around it: the hub restarting
//! in the middle of it, and the kiosk itself crashing. Real hub on TLS
//! loopback, the headless kiosk process, the scripted agent.

use std::sync::Arc;

use visio_tests::agent::ScriptedAgent;
use visio_tests::{AGENT, HeadlessKiosk, World};
use visio_protocol::*;
use visio_testkit::hub::{Agent, waiting};
use visio_testkit::pdf::text_pdf;
use visio_testkit::wait::{init_tracing, within};
use visio_transfer::spool::list_files;
use visio_transfer::{OutcomeKind, Purpose};

/// The resident queued for `demo`, taken by the scripted agent, media up.
/// Returns the agent's cookie and the call's resume token too.
async fn call(world: &World) -> (HeadlessKiosk, ScriptedAgent, SessionId, tokio::sync::mpsc::UnboundedSender<AgentToHub>, String, ResumeToken) {
    let hub = &world.hub;
    let cookie = Agent::sign_in(hub, AGENT.0, AGENT.1).await.unwrap();
    let mut agent = Agent::open(hub, "/ws/agent", Some(&cookie), "agent").await.unwrap();
    agent.send(AgentToHub::Hello { protocol: PROTOCOL_VERSION, resume: None }).await;
    agent.send(AgentToHub::SetAvailability { available: true }).await;
    let mut kiosk = world.kiosk("demo");
    kiosk.event("queued").await;
    agent.wait_for("the kiosk in the agent's queue", |m| waiting(m, "demo").is_some_and(|w| w == ["demo-kiosk"])).await;
    agent.send(AgentToHub::TakeNext { service: None }).await;
    let HubToAgent::CallStarted { session, resume_token, .. } =
        agent.wait_for("call_started", |m| matches!(m, HubToAgent::CallStarted { .. })).await
    else {
        unreachable!()
    };
    let token = resume_token.expect("the hub issues a resume token with the call");
    let (scripted, to_hub) = ScriptedAgent::answer(agent, session.clone()).await;
    kiosk.event("connected").await;
    kiosk.event("first_remote_frame").await;
    (kiosk, scripted, session, to_hub, cookie, token)
}

async fn frames_flow(agent: &ScriptedAgent, count: usize) {
    let frames = agent.call.remote_frames();
    for n in 0..count {
        within(&format!("kiosk video frame {n} at the agent"), frames.next()).await.expect("the call is up");
    }
}

/// The hub restarts on the same store and address mid-call: the media
/// never stops (it is peer to peer), kiosk and agent re-attach with their
/// tokens, and the session log keeps one record of the call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_restart_mid_call_leaves_the_call_up_and_both_sides_reattached() {
    init_tracing();
    let mut world = World::start().await;
    let (mut kiosk, agent, session, to_hub, cookie, token) = call(&world).await;

    world.hub.restart(visio_hub::server::Settings::new(Arc::new(visio_config::Catalogue::demo()))).await;
    // Peer to peer, the call never needed the hub.
    frames_flow(&agent, 10).await;

    // The kiosk comes back by itself (its hello carries its token)…
    let resumed = kiosk.event("resumed").await;
    assert_eq!(resumed["session"], session.as_str());
    // …and so does the agent's page, still signed in.
    let mut again = Agent::open(&world.hub, "/ws/agent", Some(&cookie), "agent again").await.unwrap();
    again.send(AgentToHub::Hello { protocol: PROTOCOL_VERSION, resume: Some(token) }).await;
    match again.wait_for("call_resumed", |m| matches!(m, HubToAgent::CallResumed { .. } | HubToAgent::CallEnded { .. })).await {
        HubToAgent::CallResumed { session: s, kiosk_id, .. } => assert_eq!((s, kiosk_id.as_str()), (session.clone(), "demo-kiosk")),
        other => panic!("the agent is not back in the call: {other:?}"),
    }
    agent.rejoin.send(again).unwrap();
    frames_flow(&agent, 10).await;

    // The call goes on and ends normally; the log has it once, ended once.
    to_hub.send(AgentToHub::HangUp { session: session.clone() }).unwrap();
    let ended = kiosk.event("ended").await;
    assert_eq!(ended["reason"], "agent_hung_up");
    assert!(within("the kiosk exits", kiosk.child.wait()).await.unwrap().success());
    let records = world
        .hub
        .wait_for_log("the call's end in the log", |log| {
            let ours: Vec<_> = log.iter().filter(|r| r.session == session.as_str()).cloned().collect();
            ours.iter().any(|r| r.end_reason.is_some()).then_some(ours)
        })
        .await;
    assert_eq!(records.len(), 1, "one record for the call: {records:?}");
    assert_eq!(records[0].end_reason.as_deref(), Some("agent_hung_up"));
    assert!(records[0].answered_at.is_some());
    agent.call.hang_up().await;
    world.hub.stop().await;
}

/// The kiosk process dies mid-call (with a document on its screen): the
/// agent is told at once; the kiosk, started again, is home with an empty
/// spool and the hub ends the old call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_kiosk_is_reported_to_the_agent_and_comes_back_home_with_an_empty_spool() {
    init_tracing();
    let world = World::start().await;
    let (mut kiosk, mut agent, session, _to_hub, _, _) = call(&world).await;

    let docs = tempfile::tempdir().unwrap();
    let form = docs.path().join("notice.pdf");
    std::fs::write(&form, text_pdf("Notice explicative")).unwrap();
    let (id, _) = agent.documents.push_file(&form, "notice.pdf", Purpose::Display, None).await.unwrap();
    assert_eq!(agent.outcome(id).await, (OutcomeKind::Shown, None));
    kiosk.event("displayed").await;
    assert!(!list_files(&world.spool).is_empty(), "the shown document is in the spool during the visit");

    kiosk.child.start_kill().unwrap();
    within("the kiosk dies", kiosk.child.wait()).await.unwrap();
    agent.hub_says("peer_away", |m| matches!(m, HubToAgent::PeerAway { session: s } if *s == session).then_some(())).await;

    // Started again (here it asks for the service again at once, which
    // only happens from the home screen).
    let mut again = world.kiosk("demo");
    again.event("ready").await;
    assert!(list_files(&world.spool).is_empty(), "a restarted kiosk keeps nothing: {:?}", list_files(&world.spool));
    let reason = agent
        .hub_says("call_ended", |m| match m {
            HubToAgent::CallEnded { session: s, reason } if *s == session => Some(*reason),
            _ => None,
        })
        .await;
    assert_eq!(reason, EndReason::KioskDisconnected);
    again.event("queued").await;
    agent.call.hang_up().await;
    world.hub.stop().await;
}

/// Three hub processes on one PostgreSQL and NATS; the kiosk knows them
/// all and queues on the first, the agent is on the second. The first is
/// killed mid-call: the media never stops (peer to peer), the agent hears
/// the kiosk away and back, the kiosk fails over to the next process by
/// itself with its token, a document still crosses, and the session log
/// keeps one record, ended when the agent hangs up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_process_killed_mid_call_the_kiosk_fails_over_and_the_media_never_stops() {
    init_tracing();
    let (world, mut cluster) = World::cluster(3, 1).await;
    let (mut kiosk, mut agent, session, to_hub, _, _) = call(&world).await;

    cluster.kill(0);
    frames_flow(&agent, 10).await;
    let resumed = kiosk.event("resumed").await;
    assert_eq!(resumed["session"], session.as_str());
    agent.hub_says("peer_back", |m| matches!(m, HubToAgent::PeerBack { session: s } if *s == session).then_some(())).await;
    frames_flow(&agent, 10).await;

    // Documents travel on the call's own channel, hub or no hub.
    let docs = tempfile::tempdir().unwrap();
    let form = docs.path().join("notice.pdf");
    std::fs::write(&form, text_pdf("Notice explicative")).unwrap();
    let (id, _) = agent.documents.push_file(&form, "notice.pdf", Purpose::Display, None).await.unwrap();
    assert_eq!(agent.outcome(id).await, (OutcomeKind::Shown, None));

    // The agent hangs up through process 1; the kiosk, now on process 1
    // too, hears it; one record, ended then.
    let before = jiff::Timestamp::from_millisecond(jiff::Timestamp::now().as_millisecond()).unwrap();
    to_hub.send(AgentToHub::HangUp { session: session.clone() }).unwrap();
    let ended = kiosk.event("ended").await;
    assert_eq!(ended["reason"], "agent_hung_up");
    let after = jiff::Timestamp::now();
    let record = visio_testkit::wait::eventually("the call's end in PostgreSQL", || async {
        cluster.record(&session).await.filter(|r| r.ended_at.is_some())
    })
    .await;
    assert_eq!((record.agent.as_deref(), record.end_reason.as_deref()), (Some(AGENT.0), Some("agent_hung_up")));
    let end = record.ended_at.unwrap();
    assert!(before <= end && end <= after, "ended at {end}, hung up between {before} and {after}");
    assert_eq!(cluster.store.session_log().await.unwrap().len(), 1, "one record for the call");
    agent.call.hang_up().await;
    assert!(within("the kiosk exits", kiosk.child.wait()).await.unwrap().success());
}
