//! The PostgreSQL store against a real PostgreSQL 15 each test starts
//! itself: the SQLite store's behaviours, and the shared queue's atomic
//! "take next" under concurrent takers on separate connections.

use std::collections::HashSet;

use jiff::{SignedDuration, Timestamp};
use visio_hub::core::{HeartbeatReport, HubEvent, Side, new_token};
use visio_hub::store::postgres::{PgStore, QueueEntry};
use visio_hub::store::{PublishOutcome, StoreError, StoredConfig};
use visio_protocol::admin::PublishedConfig;
use visio_protocol::{AgentLogin, ConfigRefusal, ConfigRefusalCode, EndReason, KioskId, Secret, ServiceId};
use visio_testkit::postgres::Postgres;
use visio_testkit::wait::eventually;

fn now() -> Timestamp {
    "2026-11-23T09:00:00Z".parse().unwrap()
}

fn at(min: i64) -> Timestamp {
    now() + SignedDuration::from_mins(min)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_kiosks_and_configuration_behave_as_in_sqlite() {
    let pg = Postgres::start().await;
    let store = PgStore::connect(&pg.url(), 4).await.unwrap();

    // Kiosks: the secret is checked, and re-enrolment rotates it.
    let id = KioskId::from("besse");
    let first = store.enroll_kiosk(&id, "Mairie de Besse", now()).await.unwrap();
    assert_eq!(store.verify_kiosk(&id, &first).await.unwrap().unwrap().site, "Mairie de Besse");
    assert!(store.verify_kiosk(&id, &Secret("wrong".into())).await.unwrap().is_none());
    assert!(store.verify_kiosk(&"other".into(), &first).await.unwrap().is_none());
    let second = store.enroll_kiosk(&id, "Mairie de Besse", now()).await.unwrap();
    assert!(store.verify_kiosk(&id, &first).await.unwrap().is_none(), "old secret revoked");
    assert!(store.verify_kiosk(&id, &second).await.unwrap().is_some());
    assert_eq!(store.count_kiosks().await.unwrap(), 1);

    // Agents: argon2id passwords, sessions that expire and end.
    let login = AgentLogin::from("claire");
    let pw = Secret("correct horse".into());
    store.add_agent(&login, "Claire", &pw, &["caf".into(), "msa".into()], now()).await.unwrap();
    assert!(matches!(store.add_agent(&login, "x", &pw, &[], now()).await, Err(StoreError::AgentExists(_))));
    let agent = store.verify_agent(&login, &pw).await.unwrap().unwrap();
    assert_eq!(agent.services, vec![ServiceId::from("caf"), ServiceId::from("msa")]);
    assert!(store.verify_agent(&login, &Secret("nope".into())).await.unwrap().is_none());
    assert!(store.verify_agent(&"ghost".into(), &pw).await.unwrap().is_none());
    let token = store.create_agent_session(&login, now(), SignedDuration::from_hours(1)).await.unwrap();
    assert_eq!(store.agent_for_session(&token, now()).await.unwrap(), Some(agent));
    assert!(store.agent_for_session(&token, at(120)).await.unwrap().is_none(), "expired");
    store.end_agent_session(&token).await.unwrap();
    assert!(store.agent_for_session(&token, now()).await.unwrap().is_none(), "logged out");

    // Admin tokens and keys.
    let t1 = store.create_admin_token("ops", now()).await.unwrap();
    assert_eq!(store.verify_admin_token(&t1).await.unwrap().as_deref(), Some("ops"));
    let t2 = store.create_admin_token("ops", now()).await.unwrap();
    assert_eq!(store.verify_admin_token(&t1).await.unwrap(), None, "replaced");
    assert!(store.revoke_admin_token("ops").await.unwrap());
    assert_eq!(store.verify_admin_token(&t2).await.unwrap(), None, "revoked");
    let key = visio_config::bundle::SigningKey::from_bytes(&[7; 32]).verifying_key();
    let key_id = store.trust_admin_key(&key, now()).await.unwrap();
    assert_eq!(store.admin_keys().await.unwrap(), vec![key]);
    assert!(store.distrust_admin_key(&key_id).await.unwrap());
    assert!(store.admin_keys().await.unwrap().is_empty());

    // The published configuration: only a newer one replaces it.
    let stored = |version: u64, sha: &str| StoredConfig {
        meta: PublishedConfig {
            version,
            payload_sha256: sha.into(),
            key_id: "k".into(),
            published_at: now(),
            published_by: "ops".into(),
            size: 7,
            announced_to: None,
        },
        bundle: format!("bundle {version}"),
    };
    assert_eq!(store.published_config().await.unwrap(), None);
    assert_eq!(store.publish_config(&stored(5, "a")).await.unwrap(), PublishOutcome::Published);
    assert_eq!(store.publish_config(&stored(5, "a")).await.unwrap(), PublishOutcome::AlreadyPublished);
    let conflict = PublishOutcome::Conflict { current: 5, current_sha256: "a".into() };
    assert_eq!(store.publish_config(&stored(5, "b")).await.unwrap(), conflict);
    assert_eq!(store.publish_config(&stored(4, "c")).await.unwrap(), conflict);
    assert_eq!(store.publish_config(&stored(6, "d")).await.unwrap(), PublishOutcome::Published);
    let current = store.published_config().await.unwrap().unwrap();
    assert_eq!((current.meta.version, current.bundle.as_str(), current.meta.size), (6, "bundle 6", 8));

    // Kiosk reports: a refusal stays until that version or a newer one is applied.
    let refused = HubEvent::ConfigRefused {
        kiosk_id: id.clone(),
        version: 7,
        reason: ConfigRefusal::new(ConfigRefusalCode::BadSignature, "bad signature"),
        at: now(),
    };
    store.record(&refused).await.unwrap();
    let report =
        HeartbeatReport { app_version: "0.1.0".into(), config_version: Some(5), devices: None, rtt_ms: Some(30) };
    store.record(&HubEvent::Heartbeat { kiosk_id: id.clone(), at: now(), report }).await.unwrap();
    let status = store.kiosk_statuses().await.unwrap().pop().unwrap().1;
    assert_eq!((status.config_version, status.rtt_ms, status.last_heartbeat_at), (Some(5), Some(30), Some(now())));
    assert_eq!(status.last_refusal.map(|r| (r.version, r.code)), Some((7, ConfigRefusalCode::BadSignature)));
    store.record(&HubEvent::ConfigApplied { kiosk_id: id.clone(), version: 6, at: now() }).await.unwrap();
    assert!(store.kiosk_statuses().await.unwrap()[0].1.last_refusal.is_some(), "6 is older than the refused 7");
    store.record(&HubEvent::ConfigApplied { kiosk_id: id.clone(), version: 7, at: now() }).await.unwrap();
    let status = store.kiosk_statuses().await.unwrap().pop().unwrap().1;
    assert_eq!((status.last_refusal, status.config_version), (None, Some(7)));

    // A second process connecting migrates nothing again and sees it all.
    drop(store);
    let again = PgStore::connect(&pg.url(), 1).await.unwrap();
    assert!(again.verify_kiosk(&id, &second).await.unwrap().is_some());
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
    let taken = store.take_next(&both).await.unwrap().unwrap();
    assert_eq!(taken, entry("s-1", "caf", 1, "b"), "the oldest, with the process holding its kiosk");
    assert_eq!(store.take_next(&both).await.unwrap().unwrap().session.as_str(), "s-2");
    assert_eq!(store.take_next(&["msa".into()]).await.unwrap(), None, "nobody waits for msa");
    assert_eq!(store.take_next(&both).await.unwrap().unwrap().session.as_str(), "s-4");
    assert_eq!(store.take_next(&both).await.unwrap(), None);
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
                while let Some(e) = store.take_next(&["caf".into()]).await.unwrap() {
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
