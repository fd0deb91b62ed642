//! What only the PostgreSQL store does, against a real PostgreSQL 15 each
//! test starts itself: the claiming of a dead process's calls, and the
//! shared queue's atomic "take next" under concurrent takers on separate
//! connections. What every store does is in `store_conformance.rs`.

use std::collections::HashSet;

use jiff::{SignedDuration, Timestamp};
use visio_hub::core::{HubEvent, Side, new_token};
use visio_hub::store::postgres::{PgStore, QueueEntry};
use visio_protocol::{EndReason, Secret, ServiceId};
use visio_testkit::postgres::Postgres;
use visio_testkit::wait::eventually;

fn now() -> Timestamp {
    "2026-11-23T09:00:00Z".parse().unwrap()
}

fn at(min: i64) -> Timestamp {
    now() + SignedDuration::from_mins(min)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_process_calls_are_claimed_side_by_side_and_what_nobody_claims_is_swept() {
    let pg = Postgres::start().await;
    let (a, b) = (PgStore::connect(&pg.url(), 2).await.unwrap(), PgStore::connect(&pg.url(), 2).await.unwrap());
    a.enroll_kiosk(&"besse".into(), "Mairie de Besse", now()).await.unwrap();
    a.add_agent(&"claire".into(), "Claire (CAF)", &Secret("pw".into()), &["caf".into()], now()).await.unwrap();
    let a_alive = a.register_process("a", at(0)).await.unwrap();
    let _b_alive = b.register_process("b", at(0)).await.unwrap();
    assert_eq!(b.alive_processes().await.unwrap().into_keys().collect::<Vec<_>>(), ["a", "b"]);
    let queued = |id: &str, kiosk: &str, t| HubEvent::Queued {
        session: id.into(),
        kiosk_id: kiosk.into(),
        service: "caf".into(),
        at: t,
    };
    // On a: a call with both sides there, and a resident waiting; on b, a
    // resident waiting. One batch, as the hub's log writer sends them: the
    // answer updates the row queued just before it in the same transaction.
    let (_, hash) = new_token(&"a-000001".into());
    a.record_all(&[
        queued("a-000001", "besse", at(0)),
        HubEvent::Answered { session: "a-000001".into(), agent: "claire".into(), at: at(1), resume: hash },
        queued("a-000002", "ardes", at(2)),
    ])
    .await
    .unwrap();
    a.enqueue(&entry("a-000002", "caf", 2, "a")).await.unwrap();
    b.record(&queued("b-000001", "tauves", at(3))).await.unwrap();
    b.enqueue(&entry("b-000001", "caf", 3, "b")).await.unwrap();
    a.mark_alive(at(4)).await.unwrap();

    // Killed: its lock goes with its connection, at once.
    drop(a_alive);
    eventually("a seen dead", || async {
        (b.alive_processes().await.unwrap().into_keys().collect::<Vec<_>>() == ["b"]).then_some(())
    })
    .await;

    // The kiosk comes back on b: only with the call's token and its own
    // identity does b get its side; the agent's side is on a, lost at a's
    // last stamp.
    let session = "a-000001".into();
    let (_, other_hash) = new_token(&"a-000001".into());
    assert_eq!(b.claim(&session, Side::Kiosk, "besse", &other_hash).await.unwrap(), None, "another token");
    assert_eq!(b.claim(&session, Side::Kiosk, "ardes", &hash).await.unwrap(), None, "another kiosk");
    assert_eq!(b.claim(&session, Side::Agent, "besse", &hash).await.unwrap(), None, "not an agent");
    let claimed = b.claim(&session, Side::Kiosk, "besse", &hash).await.unwrap().expect("the kiosk's call");
    assert_eq!(
        (claimed.call.site.as_str(), claimed.call.agent_name.as_str(), claimed.call.answered_at),
        ("Mairie de Besse", "Claire (CAF)", at(1))
    );
    assert_eq!((claimed.previous.as_deref(), claimed.other, claimed.other_lost_at), (Some("a"), None, Some(at(4))));

    // Swept once a's grace has run out, not before: its waiting resident
    // (no kiosk came back for them) ends as of a's last stamp; the call
    // has a side on b, which ends it when its own grace runs out; b's
    // resident is b's.
    let grace = SignedDuration::from_mins(1);
    assert_eq!(b.sweep_dead(at(4) + SignedDuration::from_secs(30), grace).await.unwrap(), 0);
    assert_eq!(b.queue(&"caf".into()).await.unwrap().len(), 2);
    assert_eq!(b.sweep_dead(at(6), grace).await.unwrap(), 1);
    let waiting: Vec<String> = b.queue(&"caf".into()).await.unwrap().into_iter().map(|e| e.session.0).collect();
    assert_eq!(waiting, ["b-000001"]);
    let log = b.session_log().await.unwrap();
    let record = |id: &str| log.iter().find(|r| r.session == id).unwrap().clone();
    assert_eq!((record("a-000002").ended_at, record("a-000002").end_reason.as_deref()), (Some(at(4)), Some("hub_shutdown")));
    assert_eq!((record("a-000001").ended_at, record("b-000001").ended_at), (None, None));
    assert_eq!(b.sweep_dead(at(10), grace).await.unwrap(), 0, "swept once");

    // Ended once: the first end stays, and an ended call is no one's.
    for (reason, t) in [(EndReason::AgentHungUp, at(30)), (EndReason::HubShutdown, at(31))] {
        b.record(&HubEvent::Ended { session: session.clone(), reason, at: t }).await.unwrap();
    }
    assert_eq!(b.claim(&session, Side::Agent, "claire", &hash).await.unwrap(), None);
    let call = b.session_log().await.unwrap().into_iter().find(|r| r.session == "a-000001").unwrap();
    assert_eq!((call.ended_at, call.end_reason.as_deref()), (Some(at(30)), Some("agent_hung_up")));
}

fn entry(session: &str, service: &str, minute: i64, process: &str) -> QueueEntry {
    QueueEntry {
        session: session.into(),
        service: service.into(),
        kiosk_id: format!("kiosk-{session}").as_str().into(),
        site: "Mairie".into(),
        queued_at: at(minute),
        process: process.into(),
        transferred_from: None,
        appointment: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_keeps_order_and_take_next_serves_the_oldest_of_the_agents_services() {
    let pg = Postgres::start().await;
    let store = PgStore::connect(&pg.url(), 2).await.unwrap();
    store.enqueue(&entry("s-3", "caf", 3, "a")).await.unwrap();
    store.enqueue(&entry("s-1", "caf", 1, "b")).await.unwrap();
    store.enqueue(&entry("s-2", "msa", 2, "a")).await.unwrap();
    store.enqueue(&entry("s-4", "caf", 4, "c")).await.unwrap();
    let order = |q: Vec<QueueEntry>| q.into_iter().map(|e| e.session.as_str().to_owned()).collect::<Vec<_>>();
    assert_eq!(order(store.queue(&"caf".into()).await.unwrap()), ["s-1", "s-3", "s-4"]);

    assert!(store.leave_queue(&"s-3".into()).await.unwrap(), "cancelled");
    assert!(!store.leave_queue(&"s-3".into()).await.unwrap(), "already out of line");
    let both = [ServiceId::from("caf"), ServiceId::from("msa")];
    let taken = store.take_next(&both, &[], at(100)).await.unwrap().unwrap();
    assert_eq!(taken, entry("s-1", "caf", 1, "b"), "the oldest, with the process holding its kiosk");
    assert_eq!(store.take_next(&both, &[], at(100)).await.unwrap().unwrap().session.as_str(), "s-2");
    assert_eq!(store.take_next(&["msa".into()], &[], at(100)).await.unwrap(), None, "nobody waits for msa");
    assert_eq!(store.take_next(&both, &[], at(100)).await.unwrap().unwrap().session.as_str(), "s-4");
    assert_eq!(store.take_next(&both, &[], at(100)).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transferred_residents_come_first_in_the_order_of_their_transfers() {
    let pg = Postgres::start().await;
    let store = PgStore::connect(&pg.url(), 2).await.unwrap();
    let transferred = |session, minute| QueueEntry { transferred_from: Some("caf".into()), ..entry(session, "msa", minute, "a") };
    store.enqueue(&entry("s-1", "msa", 1, "b")).await.unwrap();
    store.enqueue(&transferred("t-2", 5)).await.unwrap();
    store.enqueue(&transferred("t-1", 4)).await.unwrap();
    store.enqueue(&entry("s-2", "msa", 2, "a")).await.unwrap();
    let order = |q: Vec<QueueEntry>| q.into_iter().map(|e| e.session.as_str().to_owned()).collect::<Vec<_>>();
    assert_eq!(order(store.queue(&"msa".into()).await.unwrap()), ["t-1", "t-2", "s-1", "s-2"]);
    assert_eq!(store.take_next(&["msa".into()], &[], at(100)).await.unwrap(), Some(transferred("t-1", 4)), "with where they come from");
    assert_eq!(store.take_next(&["msa".into()], &[], at(100)).await.unwrap().unwrap().session.as_str(), "t-2");
    assert_eq!(store.take_next(&["msa".into()], &[], at(100)).await.unwrap().unwrap().session.as_str(), "s-1");
}

/// An appointment's resident counts as queued 15 min earlier in the shared
/// line; booked with an agent, they are passed over while that agent is
/// among those `holding` (signed in, not away) and the hold lasts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_appointment_passes_the_walk_ins_of_its_window_and_waits_for_its_agent_a_while() {
    use visio_hub::core::appointments::{Precedence, Reference};
    let pg = Postgres::start().await;
    let store = PgStore::connect(&pg.url(), 2).await.unwrap();
    let booked = |session, minute, agent: Option<&str>| QueueEntry {
        appointment: Some(Precedence { reference: Reference(7), agent: agent.map(Into::into) }),
        ..entry(session, "caf", minute, "a")
    };
    store.enqueue(&entry("w-1", "caf", 0, "b")).await.unwrap();
    store.enqueue(&entry("w-2", "caf", 1, "b")).await.unwrap();
    store.enqueue(&booked("r-1", 2, None)).await.unwrap();
    store.enqueue(&entry("w-0", "caf", -20, "b")).await.unwrap();
    let order = |q: Vec<QueueEntry>| q.into_iter().map(|e| e.session.as_str().to_owned()).collect::<Vec<_>>();
    assert_eq!(order(store.queue(&"caf".into()).await.unwrap()), ["w-0", "r-1", "w-1", "w-2"], "15 min of credit, no more");
    let caf = [ServiceId::from("caf")];
    assert_eq!(store.take_next(&caf, &[], at(3)).await.unwrap().unwrap().session.as_str(), "w-0");
    assert_eq!(store.take_next(&caf, &[], at(3)).await.unwrap(), Some(booked("r-1", 2, None)), "with its appointment");

    // Booked with claire: bruno passes over them while claire is available
    // and the hold (10 min after queueing) lasts; then anyone takes them.
    store.enqueue(&booked("r-2", 2, Some("claire"))).await.unwrap();
    let claire = ["claire".into()];
    assert_eq!(store.take_next(&caf, &claire, at(3)).await.unwrap().unwrap().session.as_str(), "w-1", "held for claire");
    assert_eq!(store.take_next(&caf, &[], at(3)).await.unwrap().unwrap().session.as_str(), "r-2", "claire away: not held");
    store.enqueue(&booked("r-3", 2, Some("claire"))).await.unwrap();
    assert_eq!(store.take_next(&caf, &claire, at(12)).await.unwrap().unwrap().session.as_str(), "r-3", "the hold is over");
    assert_eq!(store.take_next(&caf, &claire, at(12)).await.unwrap().unwrap().session.as_str(), "w-2");
}

/// 50 residents, 10 agents on 10 connections of their own (as on 10 hub
/// processes) pressing "take next" until nobody is left: everyone is
/// taken exactly once, and each agent gets residents in queue order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_take_next_on_separate_connections_takes_every_resident_exactly_once() {
    let pg = Postgres::start().await;
    let setup = PgStore::connect(&pg.url(), 1).await.unwrap();
    for i in 0..50 {
        // Some residents queued at the same millisecond: the session id breaks the tie.
        setup.enqueue(&entry(&format!("s-{i:03}"), "caf", i / 2, "a")).await.unwrap();
    }
    let mut takers = Vec::new();
    for _ in 0..10 {
        takers.push(PgStore::connect(&pg.url(), 1).await.unwrap());
    }
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(10));
    let tasks: Vec<_> = takers
        .into_iter()
        .map(|store| {
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                let mut mine = Vec::new();
                while let Some(e) = store.take_next(&["caf".into()], &[], at(100)).await.unwrap() {
                    mine.push(e);
                }
                mine
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        let mine = visio_testkit::wait::within("a taker to finish", task).await.unwrap();
        let keys: Vec<_> = mine.iter().map(|e| (e.queued_at, e.session.clone())).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "each taker gets residents in queue order: {keys:?}");
        all.extend(mine);
    }
    let distinct: HashSet<_> = all.iter().map(|e| e.session.clone()).collect();
    assert_eq!(all.len(), 50, "taken once each: {} takes of {} residents", all.len(), distinct.len());
    assert_eq!(distinct.len(), 50, "nobody skipped");
    assert!(setup.queue(&"caf".into()).await.unwrap().is_empty());
}
