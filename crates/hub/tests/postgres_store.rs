//! The PostgreSQL store against a real PostgreSQL 15 each test starts
//! itself: the SQLite store's behaviours, and the shared queue's atomic
//! "take next" under concurrent takers on separate connections.

use std::collections::HashSet;

use jiff::{SignedDuration, Timestamp};
use visio_hub::core::{HeartbeatReport, HubEvent, new_token};
use visio_hub::store::postgres::{PgStore, QueueEntry};
use visio_hub::store::{PublishOutcome, StoreError, StoredConfig};
use visio_protocol::admin::PublishedConfig;
use visio_protocol::{AgentLogin, ConfigRefusal, ConfigRefusalCode, EndReason, KioskId, Secret, ServiceId};
use visio_testkit::postgres::Postgres;

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
async fn recovery_hands_back_open_calls_and_closes_what_a_dead_hub_left_waiting() {
    let pg = Postgres::start().await;
    let store = PgStore::connect(&pg.url(), 2).await.unwrap();
    store.enroll_kiosk(&"besse".into(), "Mairie de Besse", now()).await.unwrap();
    store.add_agent(&"claire".into(), "Claire (CAF)", &Secret("pw".into()), &["caf".into()], now()).await.unwrap();
    let queued = |id: &str, kiosk: &str, t| HubEvent::Queued {
        session: id.into(),
        kiosk_id: kiosk.into(),
        service: "caf".into(),
        at: t,
    };
    let (_, hash) = new_token(&"a-000001".into());
    for e in [
        queued("a-000001", "besse", at(0)),
        HubEvent::Answered { session: "a-000001".into(), agent: "claire".into(), at: at(1), resume: hash },
        queued("a-000002", "ardes", at(2)),
        queued("a-000003", "tauves", at(0)),
        HubEvent::Ended { session: "a-000003".into(), reason: EndReason::Cancelled, at: at(1) },
    ] {
        store.record(&e).await.unwrap();
    }
    store.enqueue(&entry("a-000002", "caf", 2, "a")).await.unwrap();
    assert!(store.session_prefix_used("a").await.unwrap());
    assert!(!store.session_prefix_used("b").await.unwrap());

    // A hard kill: the later of the alive stamp and the last write stands
    // for the stop time.
    store.mark_alive(at(1)).await.unwrap();
    let r = store.recover(at(10)).await.unwrap();
    assert_eq!(r.stopped_at, Some(at(2)));
    assert_eq!(r.closed, 1, "the wait is over");
    assert!(store.queue(&"caf".into()).await.unwrap().is_empty(), "and so is its place in line");
    assert_eq!(r.calls.len(), 1);
    let call = &r.calls[0];
    assert_eq!(
        (call.session.as_str(), call.site.as_str(), call.agent_name.as_str()),
        ("a-000001", "Mairie de Besse", "Claire (CAF)")
    );
    assert!(call.resume.matches(&hash));
    let log = store.session_log().await.unwrap();
    let wait = log.iter().find(|r| r.session == "a-000002").unwrap();
    assert_eq!((wait.ended_at, wait.end_reason.as_deref()), (Some(at(2)), Some("hub_shutdown")));

    // A graceful stop records its time; the call is still open.
    store.mark_stopped(at(20)).await.unwrap();
    let r = store.recover(at(21)).await.unwrap();
    assert_eq!((r.stopped_at, r.calls.len(), r.closed), (Some(at(20)), 1, 0));

    // Ended once: the first end stays.
    store
        .record(&HubEvent::Ended { session: "a-000001".into(), reason: EndReason::AgentHungUp, at: at(30) })
        .await
        .unwrap();
    store
        .record(&HubEvent::Ended { session: "a-000001".into(), reason: EndReason::HubShutdown, at: at(31) })
        .await
        .unwrap();
    assert!(store.recover(at(40)).await.unwrap().calls.is_empty());
    let call = store.session_log().await.unwrap().into_iter().find(|r| r.session == "a-000001").unwrap();
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
