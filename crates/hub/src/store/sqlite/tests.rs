use super::*;
use crate::store::revocation::Kind;

fn now() -> Timestamp {
    "2026-11-23T09:00:00Z".parse().unwrap()
}

#[test]
fn kiosk_secret_is_checked_and_re_enrolment_rotates_it() {
    let store = Store::open_in_memory().unwrap();
    let id = KioskId::from("besse");
    let first = store.enroll_kiosk(&id, "Mairie de Besse", now()).unwrap();
    assert_eq!(store.verify_kiosk(&id, &first).unwrap().unwrap().site, "Mairie de Besse");
    assert!(store.verify_kiosk(&id, &Secret("wrong".into())).unwrap().is_none());
    assert!(store.verify_kiosk(&"other".into(), &first).unwrap().is_none());
    let second = store.enroll_kiosk(&id, "Mairie de Besse", now()).unwrap();
    assert!(store.verify_kiosk(&id, &first).unwrap().is_none(), "old secret revoked");
    assert!(store.verify_kiosk(&id, &second).unwrap().is_some());
}

#[test]
fn agent_password_and_sessions() {
    let store = Store::open_in_memory().unwrap();
    let login = AgentLogin::from("claire");
    let pw = Secret("correct horse".into());
    store.add_agent(&login, "Claire", &pw, &["caf".into(), "msa".into()], now()).unwrap();
    assert!(matches!(store.add_agent(&login, "x", &pw, &[], now()), Err(StoreError::AgentExists(_))));
    let agent = store.verify_agent(&login, &pw).unwrap().unwrap();
    assert_eq!(agent.services, vec![ServiceId::from("caf"), ServiceId::from("msa")]);
    assert!(store.verify_agent(&login, &Secret("nope".into())).unwrap().is_none());
    assert!(store.verify_agent(&"ghost".into(), &pw).unwrap().is_none());

    let token = store.create_agent_session(&login, now(), SignedDuration::from_hours(1)).unwrap();
    assert_eq!(store.agent_for_session(&token, now()).unwrap(), Some(agent));
    let later = now() + SignedDuration::from_hours(2);
    assert!(store.agent_for_session(&token, later).unwrap().is_none(), "expired");
    store.end_agent_session(&token).unwrap();
    assert!(store.agent_for_session(&token, now()).unwrap().is_none(), "logged out");
}

#[test]
fn the_password_hash_is_argon2id() {
    let store = Store::open_in_memory().unwrap();
    store.add_agent(&"a".into(), "A", &Secret("pw".into()), &[], now()).unwrap();
    let hash: String =
        store.lock().query_row("SELECT password_hash FROM agents", [], |r| r.get(0)).unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
}

#[test]
fn reopening_keeps_data_and_does_not_migrate_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.sqlite3");
    let secret = Store::open(&path).unwrap().enroll_kiosk(&"k".into(), "S", now()).unwrap();
    let store = Store::open(&path).unwrap();
    assert!(store.verify_kiosk(&"k".into(), &secret).unwrap().is_some());
}

fn stored(version: u64, sha: &str) -> StoredConfig {
    StoredConfig {
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
    }
}

#[test]
fn only_a_newer_configuration_replaces_the_published_one() {
    let store = Store::open_in_memory().unwrap();
    assert_eq!(store.published_config().unwrap(), None);
    assert_eq!(store.publish_config(&stored(5, "a")).unwrap(), PublishOutcome::Published);
    assert_eq!(store.publish_config(&stored(5, "a")).unwrap(), PublishOutcome::AlreadyPublished);
    let conflict = PublishOutcome::Conflict { current: 5, current_sha256: "a".into() };
    assert_eq!(store.publish_config(&stored(5, "b")).unwrap(), conflict);
    assert_eq!(store.publish_config(&stored(4, "c")).unwrap(), conflict);
    assert_eq!(store.published_config().unwrap().unwrap().bundle, "bundle 5", "refusals change nothing");
    assert_eq!(store.publish_config(&stored(6, "d")).unwrap(), PublishOutcome::Published);
    let current = store.published_config().unwrap().unwrap();
    assert_eq!((current.meta.version, current.bundle.as_str(), current.meta.size), (6, "bundle 6", 8));
}

#[test]
fn admin_tokens_are_checked_by_hash_and_replaced_or_revoked() {
    let store = Store::open_in_memory().unwrap();
    let first = store.create_admin_token("ops", now()).unwrap();
    assert_eq!(store.verify_admin_token(&first).unwrap().as_deref(), Some("ops"));
    assert_eq!(store.verify_admin_token(&Secret("guess".into())).unwrap(), None);
    let second = store.create_admin_token("ops", now()).unwrap();
    assert_eq!(store.verify_admin_token(&first).unwrap(), None, "replaced");
    assert!(store.revoke_admin_token("ops").unwrap());
    assert_eq!(store.verify_admin_token(&second).unwrap(), None, "revoked");
    let stored: i64 = store.lock().query_row("SELECT COUNT(*) FROM admin_tokens", [], |r| r.get(0)).unwrap();
    assert_eq!(stored, 0);
}

#[test]
fn admin_keys_round_trip() {
    let store = Store::open_in_memory().unwrap();
    let key = visio_config::bundle::SigningKey::from_bytes(&[7; 32]).verifying_key();
    let id = store.trust_admin_key(&key, now()).unwrap();
    assert_eq!(store.admin_keys().unwrap(), vec![key]);
    assert!(store.distrust_admin_key(&id).unwrap());
    assert!(store.admin_keys().unwrap().is_empty());
}

#[test]
fn a_refusal_stays_until_that_version_or_a_newer_one_is_applied() {
    use crate::core::HeartbeatReport;
    use visio_protocol::ConfigRefusal;
    let store = Store::open_in_memory().unwrap();
    let kiosk = KioskId::from("besse");
    let refused = |version| HubEvent::ConfigRefused {
        kiosk_id: kiosk.clone(),
        version,
        reason: ConfigRefusal::new(ConfigRefusalCode::BadSignature, "bad signature"),
        at: now(),
    };
    let applied = |version| HubEvent::ConfigApplied { kiosk_id: kiosk.clone(), version, at: now() };
    let status = || store.kiosk_statuses().unwrap().pop().unwrap().1;
    store.record(&refused(7)).unwrap();
    let report = HeartbeatReport { app_version: "0.1.0".into(), config_version: Some(5), devices: None, rtt_ms: Some(30) };
    store.record(&HubEvent::Heartbeat { kiosk_id: kiosk.clone(), at: now(), report }).unwrap();
    let s = status();
    assert_eq!((s.config_version, s.rtt_ms, s.last_heartbeat_at), (Some(5), Some(30), Some(now())));
    assert_eq!(s.last_refusal.as_ref().map(|r| (r.version, r.code)), Some((7, ConfigRefusalCode::BadSignature)));
    store.record(&applied(6)).unwrap();
    assert!(status().last_refusal.is_some(), "6 is older than the refused 7");
    store.record(&applied(7)).unwrap();
    assert_eq!(status().last_refusal, None);
    assert_eq!(status().config_version, Some(7));
}

#[test]
fn a_batch_of_the_session_log_lands_in_order_or_not_at_all() {
    use visio_protocol::EndReason;
    let store = Store::open_in_memory().unwrap();
    let at = |s: i64| now() + SignedDuration::from_secs(s);
    let queued = |id: &str| HubEvent::Queued { session: id.into(), kiosk_id: "besse".into(), service: "caf".into(), at: at(0) };
    // The end refers to the row queued earlier in the same batch.
    store
        .record_all(&[queued("s1"), HubEvent::Ended { session: "s1".into(), reason: EndReason::Cancelled, at: at(5) }])
        .unwrap();
    let log = store.session_log().unwrap();
    assert_eq!(
        log.iter().map(|r| (r.session.as_str(), r.ended_at, r.end_reason.as_deref())).collect::<Vec<_>>(),
        [("s1", Some(at(5)), Some("cancelled"))]
    );
    // The same session queued twice is refused, and the whole batch
    // with it: s2 is not half written.
    assert!(store.record_all(&[queued("s2"), queued("s1")]).is_err());
    assert_eq!(store.session_log().unwrap().len(), 1);
}

#[test]
fn recovery_hands_back_open_calls_and_closes_what_a_dead_hub_left_waiting() {
    use crate::core::new_token;
    use visio_protocol::EndReason;
    let store = Store::open_in_memory().unwrap();
    store.enroll_kiosk(&"besse".into(), "Mairie de Besse", now()).unwrap();
    store.add_agent(&"claire".into(), "Claire (CAF)", &Secret("pw".into()), &["caf".into()], now()).unwrap();
    let at = |min: i64| now() + SignedDuration::from_mins(min);
    let queued = |id: &str, kiosk: &str, t| HubEvent::Queued { session: id.into(), kiosk_id: kiosk.into(), service: "caf".into(), at: t };
    let (_, hash) = new_token(&"a-000001".into());
    for e in [
        queued("a-000001", "besse", at(0)),
        HubEvent::Answered { session: "a-000001".into(), agent: "claire".into(), at: at(1), resume: hash },
        queued("a-000002", "ardes", at(2)),
        queued("a-000003", "tauves", at(0)),
        HubEvent::Ended { session: "a-000003".into(), reason: EndReason::Cancelled, at: at(1) },
    ] {
        store.record(&e).unwrap();
    }
    assert!(store.session_prefix_used("a").unwrap());
    assert!(!store.session_prefix_used("b").unwrap());

    // A hard kill: no stop time; the last write (a-000002 queued) and
    // the alive stamp stand for it, whichever is later.
    store.mark_alive(at(1)).unwrap();
    let r = store.recover(at(10)).unwrap();
    assert_eq!(r.stopped_at, Some(at(2)));
    assert_eq!(r.closed, 1, "the wait is over");
    assert_eq!(r.calls.len(), 1);
    let call = &r.calls[0];
    assert_eq!((call.session.as_str(), call.site.as_str(), call.agent_name.as_str()), ("a-000001", "Mairie de Besse", "Claire (CAF)"));
    assert!(call.resume.matches(&hash));
    let log = store.session_log().unwrap();
    let wait = log.iter().find(|r| r.session == "a-000002").unwrap();
    assert_eq!((wait.ended_at, wait.end_reason.as_deref()), (Some(at(2)), Some("hub_shutdown")));

    // A graceful stop records its time; the call is still open.
    store.mark_stopped(at(20)).unwrap();
    let r = store.recover(at(21)).unwrap();
    assert_eq!((r.stopped_at, r.calls.len(), r.closed), (Some(at(20)), 1, 0));

    // Ended once: the first end stays, and the token hash goes.
    store.record(&HubEvent::Ended { session: "a-000001".into(), reason: EndReason::AgentHungUp, at: at(30) }).unwrap();
    store.record(&HubEvent::Ended { session: "a-000001".into(), reason: EndReason::HubShutdown, at: at(31) }).unwrap();
    let r = store.recover(at(40)).unwrap();
    assert!(r.calls.is_empty());
    let call = store.session_log().unwrap().into_iter().find(|r| r.session == "a-000001").unwrap();
    assert_eq!((call.ended_at, call.end_reason.as_deref()), (Some(at(30)), Some("agent_hung_up")));
}
#[test]
fn disabling_refuses_and_records_a_revocation_that_reenrolling_and_removing_also_record() {
    let store = Store::open_in_memory().unwrap();
    let now = Timestamp::from_second(1_800_000_000).unwrap();
    let secret = store.enroll_kiosk(&"besse".into(), "Mairie", now).unwrap();
    let first = store.last_revocation().unwrap();
    assert!(store.verify_kiosk(&"besse".into(), &secret).unwrap().is_some());
    assert!(store.set_disabled(Kind::Kiosk, "besse", true, now).unwrap());
    assert!(store.verify_kiosk(&"besse".into(), &secret).unwrap().is_none(), "a disabled kiosk is refused");
    assert!(!store.set_disabled(Kind::Kiosk, "nobody", true, now).unwrap());
    let revoked = store.revocations_since(first).unwrap();
    assert_eq!(revoked.iter().map(|r| (r.kind, r.name.as_str())).collect::<Vec<_>>(), [(Kind::Kiosk, "besse")]);
    // Re-enrolling enables it again with a new secret.
    let again = store.enroll_kiosk(&"besse".into(), "Mairie", now).unwrap();
    assert!(store.verify_kiosk(&"besse".into(), &again).unwrap().is_some());
    assert_eq!(store.revocations_since(first).unwrap().len(), 2);

    store.add_agent(&"claire".into(), "Claire", &visio_protocol::Secret("claire-password".into()), &[], now).unwrap();
    let token = store.create_agent_session(&"claire".into(), now, jiff::SignedDuration::from_hours(1)).unwrap();
    assert!(store.set_disabled(Kind::Agent, "claire", true, now).unwrap());
    assert!(store.agent_for_session(&token, now).unwrap().is_none(), "a disabled agent's session is refused");
    assert!(store.verify_agent(&"claire".into(), &visio_protocol::Secret("claire-password".into())).unwrap().is_none());
    assert!(store.set_disabled(Kind::Agent, "claire", false, now).unwrap());
    assert!(store.agent_for_session(&token, now).unwrap().is_some());
    let new = visio_protocol::Secret("new-password".into());
    assert!(store.set_password("claire", &new, now).unwrap());
    assert!(store.agent_for_session(&token, now).unwrap().is_none(), "a new password ends the sessions");
    assert!(store.verify_agent(&"claire".into(), &new).unwrap().is_some());
    let token = store.create_agent_session(&"claire".into(), now, jiff::SignedDuration::from_hours(1)).unwrap();
    assert!(store.remove(Kind::Agent, "claire", now).unwrap());
    assert!(store.agent_for_session(&token, now).unwrap().is_none());
    assert_eq!(store.revocations_since(first).unwrap().last().unwrap().name, "claire");
}
