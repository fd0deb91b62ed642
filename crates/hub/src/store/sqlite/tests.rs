use super::*;

fn now() -> Timestamp {
    "2026-11-23T09:00:00Z".parse().unwrap()
}

#[test]
fn the_password_hash_is_argon2id() {
    let store = Store::open_in_memory().unwrap();
    store.add_agent(&"a".into(), "A", &Secret("pw".into()), &[], now()).unwrap();
    let hash: String =
        store.lock().query_row("SELECT password_hash FROM agents", [], |r| r.get(0)).unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
}

/// The token's behaviour is in tests/store_conformance.rs; this is how
/// SQLite keeps it: its hash only, and nothing once revoked.
#[test]
fn admin_tokens_are_kept_as_hashes_and_revoking_deletes_them() {
    let store = Store::open_in_memory().unwrap();
    let token = store.create_admin_token("ops", now()).unwrap();
    let kept: String = store.lock().query_row("SELECT token_sha256 FROM admin_tokens", [], |r| r.get(0)).unwrap();
    assert_eq!(kept, crate::store::secrets::sha256_hex(token.expose()));
    assert!(store.revoke_admin_token("ops").unwrap());
    let stored: i64 = store.lock().query_row("SELECT COUNT(*) FROM admin_tokens", [], |r| r.get(0)).unwrap();
    assert_eq!(stored, 0);
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
