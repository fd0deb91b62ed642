//! What every store must do, written once against [`Backend`] and run on
//! both: SQLite in a file of a temporary folder, and a real PostgreSQL 15
//! each test starts itself. A behaviour added to one store is added here.
//!
//! What only one store has stays with it: SQLite's recovery after a
//! restart and its storage checks (`store/sqlite/tests.rs`); PostgreSQL's
//! shared queue, whose "take next" must be atomic between processes, and
//! the claiming of a dead process's calls (`tests/postgres_store.rs`).

use jiff::{SignedDuration, Timestamp};
use visio_hub::core::appointments::{Kind as SlotKind, NewAppointment, Reference};
use visio_hub::core::{HeartbeatReport, HubEvent, new_token};
use visio_hub::roles::Role;
use visio_hub::store::postgres::PgStore;
use visio_hub::store::revocation::Kind;
use visio_hub::store::{Backend, PublishOutcome, Store, StoreError, StoredConfig};
use visio_protocol::admin::PublishedConfig;
use visio_protocol::{AgentLogin, CallLink, ConfigRefusal, ConfigRefusalCode, EndReason, KioskId, Secret, ServiceId};
use visio_testkit::postgres::Postgres;

fn now() -> Timestamp {
    "2026-11-23T09:00:00Z".parse().unwrap()
}

fn at(min: i64) -> Timestamp {
    now() + SignedDuration::from_mins(min)
}

/// Where a store keeps its records, so the test can open it again as a
/// restarted hub or a second process would.
enum Place {
    Sqlite(tempfile::TempDir),
    Postgres(Postgres),
}

impl Place {
    async fn open(&self) -> Backend {
        match self {
            Place::Sqlite(dir) => Store::open(&dir.path().join("hub.sqlite3")).unwrap().into(),
            Place::Postgres(pg) => PgStore::connect(&pg.url(), 4).await.unwrap().into(),
        }
    }
}

/// Each behaviour below, once on SQLite and once on PostgreSQL.
macro_rules! on_both_stores {
    ($($behaviour:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $behaviour() {
                    super::$behaviour(super::Place::Sqlite(tempfile::tempdir().unwrap())).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $behaviour() {
                    super::$behaviour(super::Place::Postgres(visio_testkit::postgres::Postgres::start().await)).await;
                }
            )*
        }
    };
}

on_both_stores!(
    kiosk_secrets_are_checked_and_re_enrolment_rotates_them,
    agent_passwords_and_sign_ins_expire_and_end,
    admin_tokens_are_checked_and_replaced_or_revoked,
    admin_keys_round_trip,
    only_a_newer_configuration_replaces_the_published_one,
    a_refusal_stays_until_that_version_or_a_newer_one_is_applied,
    a_kiosks_last_call_stays_until_another_call_measures_the_link,
    a_batch_of_the_session_log_lands_in_order,
    a_call_ends_once_and_session_prefixes_are_remembered,
    a_transfer_logs_two_legs_linked,
    disabling_refuses_and_records_a_revocation_that_reenrolling_and_removing_also_record,
    reopening_keeps_the_records_and_migrates_nothing_again,
    console_accounts_have_a_role_and_sessions_that_expire_and_end,
    a_host_account_keeps_its_sites_commas_and_all,
    a_publication_keeps_the_configuration_it_replaced,
    a_period_of_the_session_log_is_read_alone,
    slots_are_booked_under_a_counter_once_per_time_at_a_kiosk_and_cancelled,
    two_processes_booking_the_same_time_land_one_booking,
);

async fn kiosk_secrets_are_checked_and_re_enrolment_rotates_them(place: Place) {
    let store = place.open().await;
    let id = KioskId::from("besse");
    let first = store.enroll_kiosk(&id, "Mairie de Besse", now()).await.unwrap();
    assert_eq!(store.verify_kiosk(&id, &first).await.unwrap().unwrap().site, "Mairie de Besse");
    assert!(store.verify_kiosk(&id, &Secret("wrong".into())).await.unwrap().is_none());
    assert!(store.verify_kiosk(&"other".into(), &first).await.unwrap().is_none());
    let second = store.enroll_kiosk(&id, "Mairie de Besse", now()).await.unwrap();
    assert!(store.verify_kiosk(&id, &first).await.unwrap().is_none(), "old secret revoked");
    assert!(store.verify_kiosk(&id, &second).await.unwrap().is_some());
    assert_eq!(store.count_kiosks().await.unwrap(), 1);
    let kiosks = store.kiosks().await.unwrap();
    assert_eq!(kiosks.iter().map(|k| (k.id.as_str(), k.site.as_str())).collect::<Vec<_>>(), [("besse", "Mairie de Besse")]);
}

async fn agent_passwords_and_sign_ins_expire_and_end(place: Place) {
    let store = place.open().await;
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
}

async fn admin_tokens_are_checked_and_replaced_or_revoked(place: Place) {
    let store = place.open().await;
    let first = store.create_admin_token("ops", now()).await.unwrap();
    assert_eq!(store.verify_admin_token(&first).await.unwrap().as_deref(), Some("ops"));
    assert_eq!(store.verify_admin_token(&Secret("guess".into())).await.unwrap(), None);
    let second = store.create_admin_token("ops", now()).await.unwrap();
    assert_eq!(store.verify_admin_token(&first).await.unwrap(), None, "replaced");
    assert!(store.revoke_admin_token("ops").await.unwrap());
    assert_eq!(store.verify_admin_token(&second).await.unwrap(), None, "revoked");
    assert!(!store.revoke_admin_token("ops").await.unwrap(), "nothing left to revoke");
}

async fn admin_keys_round_trip(place: Place) {
    let store = place.open().await;
    let key = visio_config::bundle::SigningKey::from_bytes(&[7; 32]).verifying_key();
    let id = store.trust_admin_key(&key, now()).await.unwrap();
    assert_eq!(store.admin_keys().await.unwrap(), vec![key]);
    assert!(store.distrust_admin_key(&id).await.unwrap());
    assert!(store.admin_keys().await.unwrap().is_empty());
    assert!(!store.distrust_admin_key(&id).await.unwrap());
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

async fn only_a_newer_configuration_replaces_the_published_one(place: Place) {
    let store = place.open().await;
    assert_eq!(store.published_config().await.unwrap(), None);
    assert_eq!(store.publish_config(&stored(5, "a")).await.unwrap(), PublishOutcome::Published);
    assert_eq!(store.publish_config(&stored(5, "a")).await.unwrap(), PublishOutcome::AlreadyPublished);
    let conflict = PublishOutcome::Conflict { current: 5, current_sha256: "a".into() };
    assert_eq!(store.publish_config(&stored(5, "b")).await.unwrap(), conflict);
    assert_eq!(store.publish_config(&stored(4, "c")).await.unwrap(), conflict);
    assert_eq!(store.published_config().await.unwrap().unwrap().bundle, "bundle 5", "refusals change nothing");
    assert_eq!(store.publish_config(&stored(6, "d")).await.unwrap(), PublishOutcome::Published);
    let current = store.published_config().await.unwrap().unwrap();
    assert_eq!((current.meta.version, current.bundle.as_str(), current.meta.size), (6, "bundle 6", 8));
}

async fn console_accounts_have_a_role_and_sessions_that_expire_and_end(place: Place) {
    let store = place.open().await;
    let pw = Secret("correct horse".into());
    store.add_console_account("claire", "Claire", &pw, Role::Supervisor, (&[], &[]), now()).await.unwrap();
    let again = store.add_console_account("claire", "x", &pw, Role::Admin, (&[], &[]), now()).await;
    assert!(matches!(again, Err(StoreError::AccountExists(_))), "{again:?}");
    let account = store.verify_console_account("claire", &pw).await.unwrap().unwrap();
    assert_eq!((account.display_name.as_str(), account.role), ("Claire", Role::Supervisor));
    assert!(account.kiosks.is_empty() && account.services.is_empty(), "every kiosk and service");
    assert!(store.verify_console_account("claire", &Secret("nope".into())).await.unwrap().is_none());
    let kiosks = [KioskId::from("besse"), KioskId::from("ardes")];
    store.add_console_account("hote", "Accueil", &pw, Role::Host, (&kiosks, &[]), now()).await.unwrap();
    let host = store.verify_console_account("hote", &pw).await.unwrap().unwrap();
    assert_eq!(host.kiosks, kiosks);
    store.add_console_account("paul", "Paul (CAF)", &pw, Role::Agent, (&[], &["caf".into()]), now()).await.unwrap();
    let token = store.create_console_session("paul", now(), SignedDuration::from_hours(1)).await.unwrap();
    let paul = store.console_account_for_session(&token, now()).await.unwrap().unwrap();
    assert_eq!((paul.kiosks.len(), paul.services), (0, vec![ServiceId::from("caf")]));
    assert!(store.verify_console_account("ghost", &pw).await.unwrap().is_none());
    // An agent of the same login is another account.
    assert!(store.verify_agent(&"claire".into(), &pw).await.unwrap().is_none());

    let token = store.create_console_session("claire", now(), SignedDuration::from_hours(1)).await.unwrap();
    assert_eq!(store.console_account_for_session(&token, now()).await.unwrap(), Some(account));
    assert!(store.console_account_for_session(&token, at(120)).await.unwrap().is_none(), "expired");
    store.end_console_session(&token).await.unwrap();
    assert!(store.console_account_for_session(&token, now()).await.unwrap().is_none(), "signed out");
}

async fn a_host_account_keeps_its_sites_commas_and_all(place: Place) {
    let store = place.open().await;
    let pw = Secret("correct horse".into());
    store.add_console_account("hote", "Accueil", &pw, Role::Host, (&[], &[]), now()).await.unwrap();
    assert_eq!(store.verify_console_account("hote", &pw).await.unwrap().unwrap().sites, Vec::<String>::new(), "none yet");
    let sites = ["Communauté de communes Chavanon Combrailles et Volcans, Pontgibaud".to_owned(), "Mairie d'Ardes".to_owned()];
    assert!(store.set_console_sites("hote", &sites).await.unwrap());
    assert!(!store.set_console_sites("ghost", &sites).await.unwrap(), "no such account");
    assert_eq!(store.verify_console_account("hote", &pw).await.unwrap().unwrap().sites, sites);
    let token = store.create_console_session("hote", now(), SignedDuration::from_hours(1)).await.unwrap();
    assert_eq!(store.console_account_for_session(&token, now()).await.unwrap().unwrap().sites, sites);
}

async fn a_publication_keeps_the_configuration_it_replaced(place: Place) {
    let store = place.open().await;
    assert_eq!(store.previous_config().await.unwrap(), None);
    store.publish_config(&stored(5, "a")).await.unwrap();
    assert_eq!(store.previous_config().await.unwrap(), None, "nothing was replaced");
    store.publish_config(&stored(4, "c")).await.unwrap();
    assert_eq!(store.previous_config().await.unwrap(), None, "a refused publication replaces nothing");
    store.publish_config(&stored(6, "d")).await.unwrap();
    store.publish_config(&stored(7, "e")).await.unwrap();
    let previous = store.previous_config().await.unwrap().unwrap();
    assert_eq!((previous.meta.version, previous.bundle.as_str()), (6, "bundle 6"));
}

async fn a_period_of_the_session_log_is_read_alone(place: Place) {
    let store = place.open().await;
    let queued = |n: i64| HubEvent::Queued {
        session: format!("p-{n:06}").as_str().into(),
        kiosk_id: "besse".into(),
        service: "caf".into(),
        at: at(n * 60),
    };
    store.record_all((0..5).map(queued).collect()).await.unwrap();
    let period = store.session_log_between(at(60), at(180)).await.unwrap();
    let ids: Vec<&str> = period.iter().map(|r| r.session.as_str()).collect();
    assert_eq!(ids, ["p-000001", "p-000002"], "from included, to excluded");
    assert_eq!(store.session_log().await.unwrap().len(), 5);
}

async fn a_refusal_stays_until_that_version_or_a_newer_one_is_applied(place: Place) {
    let store = place.open().await;
    let kiosk = KioskId::from("besse");
    let refused = HubEvent::ConfigRefused {
        kiosk_id: kiosk.clone(),
        version: 7,
        reason: ConfigRefusal::new(ConfigRefusalCode::BadSignature, "bad signature"),
        at: now(),
    };
    let applied = |version| HubEvent::ConfigApplied { kiosk_id: kiosk.clone(), version, at: now() };
    store.record(&refused).await.unwrap();
    let report =
        HeartbeatReport { app_version: "0.1.0".into(), config_version: Some(5), devices: None, rtt_ms: Some(30), last_call: None };
    store.record(&HubEvent::Heartbeat { kiosk_id: kiosk.clone(), at: now(), report }).await.unwrap();
    let status = store.kiosk_statuses().await.unwrap().pop().unwrap().1;
    assert_eq!((status.config_version, status.rtt_ms, status.last_heartbeat_at), (Some(5), Some(30), Some(now())));
    assert_eq!(status.last_refusal.map(|r| (r.version, r.code)), Some((7, ConfigRefusalCode::BadSignature)));
    store.record(&applied(6)).await.unwrap();
    assert!(store.kiosk_statuses().await.unwrap()[0].1.last_refusal.is_some(), "6 is older than the refused 7");
    store.record(&applied(7)).await.unwrap();
    let (id, status) = store.kiosk_statuses().await.unwrap().pop().unwrap();
    assert_eq!((id, status.last_refusal, status.config_version), (kiosk, None, Some(7)));
}

async fn a_kiosks_last_call_stays_until_another_call_measures_the_link(place: Place) {
    let store = place.open().await;
    let kiosk = KioskId::from("besse");
    let beat = |last_call| HubEvent::Heartbeat {
        kiosk_id: kiosk.clone(),
        at: now(),
        report: HeartbeatReport { app_version: "0.1.0".into(), config_version: None, devices: None, rtt_ms: Some(30), last_call },
    };
    let last_call = || store.kiosk_statuses();
    store.record(&beat(Some(CallLink { uplink_kbps: 1850, rtt_ms: Some(640) }))).await.unwrap();
    assert_eq!(last_call().await.unwrap()[0].1.last_call, Some(CallLink { uplink_kbps: 1850, rtt_ms: Some(640) }));
    // The kiosk restarted: no call since, the last one is still the news.
    store.record(&beat(None)).await.unwrap();
    assert_eq!(last_call().await.unwrap()[0].1.last_call, Some(CallLink { uplink_kbps: 1850, rtt_ms: Some(640) }));
    store.record(&beat(Some(CallLink { uplink_kbps: 420, rtt_ms: None }))).await.unwrap();
    assert_eq!(last_call().await.unwrap()[0].1.last_call, Some(CallLink { uplink_kbps: 420, rtt_ms: None }));
}

fn queued(id: &str, kiosk: &str, t: Timestamp) -> HubEvent {
    HubEvent::Queued { session: id.into(), kiosk_id: kiosk.into(), service: "caf".into(), at: t }
}

async fn a_batch_of_the_session_log_lands_in_order(place: Place) {
    let store = place.open().await;
    // The end refers to the row queued earlier in the same batch.
    let ended = HubEvent::Ended { session: "s1".into(), reason: EndReason::Cancelled, at: at(5) };
    store.record_all(vec![queued("s1", "besse", now()), ended]).await.unwrap();
    let log = store.session_log().await.unwrap();
    assert_eq!(
        log.iter().map(|r| (r.session.as_str(), r.ended_at, r.end_reason.as_deref())).collect::<Vec<_>>(),
        [("s1", Some(at(5)), Some("cancelled"))]
    );
    // "Or not at all" needs a write the store refuses: SQLite refuses a
    // session queued twice (store/sqlite/tests.rs checks the batch is
    // then not half written), while on PostgreSQL several processes may
    // queue the same wait and the first row stays.
    if let Place::Postgres(_) = place {
        store.record_all(vec![queued("s2", "besse", now()), queued("s1", "ardes", at(9))]).await.unwrap();
        let log = store.session_log().await.unwrap();
        let s1 = log.iter().find(|r| r.session == "s1").unwrap();
        assert_eq!((log.len(), s1.kiosk_id.as_str(), s1.ended_at), (2, "besse", Some(at(5))));
    }
}

async fn a_transfer_logs_two_legs_linked(place: Place) {
    let store = place.open().await;
    let (_, hash) = new_token(&"a-000001".into());
    let events = vec![
        queued("a-000001", "besse", at(0)),
        HubEvent::Answered { session: "a-000001".into(), agent: "claire".into(), at: at(1), resume: hash },
        HubEvent::Ended { session: "a-000001".into(), reason: EndReason::Transferred, at: at(6) },
        HubEvent::Transferred {
            session: "a-000002".into(),
            previous: "a-000001".into(),
            kiosk_id: "besse".into(),
            service: "msa".into(),
            at: at(6),
        },
    ];
    store.record_all(events).await.unwrap();
    let log = store.session_log().await.unwrap();
    let legs: Vec<_> = log
        .iter()
        .map(|r| (r.session.as_str(), r.service.as_str(), r.queued_at, r.end_reason.as_deref(), r.previous_leg.as_deref()))
        .collect();
    assert_eq!(legs, [
        ("a-000001", "caf", at(0), Some("transferred"), None),
        ("a-000002", "msa", at(6), None, Some("a-000001")),
    ]);
    // `visio-hub sessions` prints the link only where there is one.
    let lines: Vec<String> = log.iter().map(|r| serde_json::to_string(r).unwrap()).collect();
    assert!(!lines[0].contains("previous_leg") && lines[1].contains(r#""previous_leg":"a-000001""#), "{lines:?}");
}

async fn a_call_ends_once_and_session_prefixes_are_remembered(place: Place) {
    let store = place.open().await;
    let (_, hash) = new_token(&"a-000001".into());
    for e in [
        queued("a-000001", "besse", at(0)),
        HubEvent::Answered { session: "a-000001".into(), agent: "claire".into(), at: at(1), resume: hash },
    ] {
        store.record(&e).await.unwrap();
    }
    assert!(store.session_prefix_used("a").await.unwrap());
    assert!(!store.session_prefix_used("b").await.unwrap());

    // Ended once: a later end (a bug, or two processes) never rewrites the first.
    store.record(&HubEvent::Ended { session: "a-000001".into(), reason: EndReason::AgentHungUp, at: at(30) }).await.unwrap();
    store.record(&HubEvent::Ended { session: "a-000001".into(), reason: EndReason::HubShutdown, at: at(31) }).await.unwrap();
    let log = store.session_log().await.unwrap();
    let call = log.iter().find(|r| r.session == "a-000001").unwrap();
    assert_eq!(
        (call.answered_at, call.agent.as_deref(), call.ended_at, call.end_reason.as_deref()),
        (Some(at(1)), Some("claire"), Some(at(30)), Some("agent_hung_up"))
    );
}

async fn disabling_refuses_and_records_a_revocation_that_reenrolling_and_removing_also_record(place: Place) {
    let store = place.open().await;
    let secret = store.enroll_kiosk(&"besse".into(), "Mairie", now()).await.unwrap();
    let first = store.last_revocation().await.unwrap();
    assert!(store.verify_kiosk(&"besse".into(), &secret).await.unwrap().is_some());
    assert!(store.set_disabled(Kind::Kiosk, "besse", true, now()).await.unwrap());
    assert!(store.verify_kiosk(&"besse".into(), &secret).await.unwrap().is_none(), "a disabled kiosk is refused");
    assert!(!store.set_disabled(Kind::Kiosk, "nobody", true, now()).await.unwrap());
    let revoked = store.revocations_since(first).await.unwrap();
    assert_eq!(revoked.iter().map(|r| (r.kind, r.name.as_str())).collect::<Vec<_>>(), [(Kind::Kiosk, "besse")]);
    // Re-enrolling enables it again with a new secret.
    let again = store.enroll_kiosk(&"besse".into(), "Mairie", now()).await.unwrap();
    assert!(store.verify_kiosk(&"besse".into(), &again).await.unwrap().is_some());
    assert_eq!(store.revocations_since(first).await.unwrap().len(), 2);

    let password = Secret("claire-password".into());
    store.add_agent(&"claire".into(), "Claire", &password, &[], now()).await.unwrap();
    let hour = SignedDuration::from_hours(1);
    let token = store.create_agent_session(&"claire".into(), now(), hour).await.unwrap();
    assert!(store.set_disabled(Kind::Agent, "claire", true, now()).await.unwrap());
    assert!(store.agent_for_session(&token, now()).await.unwrap().is_none(), "a disabled agent's session is refused");
    assert!(store.verify_agent(&"claire".into(), &password).await.unwrap().is_none());
    assert!(store.set_disabled(Kind::Agent, "claire", false, now()).await.unwrap());
    assert!(store.agent_for_session(&token, now()).await.unwrap().is_some());
    let new = Secret("new-password".into());
    assert!(store.set_password("claire", &new, now()).await.unwrap());
    assert!(store.agent_for_session(&token, now()).await.unwrap().is_none(), "a new password ends the sessions");
    assert!(store.verify_agent(&"claire".into(), &new).await.unwrap().is_some());
    let token = store.create_agent_session(&"claire".into(), now(), hour).await.unwrap();
    assert!(store.remove(Kind::Agent, "claire", now()).await.unwrap());
    assert!(store.agent_for_session(&token, now()).await.unwrap().is_none());
    assert_eq!(store.revocations_since(first).await.unwrap().last().unwrap().name, "claire");
    assert!(!store.remove(Kind::Agent, "claire", now()).await.unwrap(), "removed once");
}

async fn reopening_keeps_the_records_and_migrates_nothing_again(place: Place) {
    let store = place.open().await;
    let secret = store.enroll_kiosk(&"k".into(), "S", now()).await.unwrap();
    store.publish_config(&stored(3, "a")).await.unwrap();
    drop(store);
    // A restarted hub, or a second process on the same database.
    let again = place.open().await;
    assert!(again.verify_kiosk(&"k".into(), &secret).await.unwrap().is_some());
    assert_eq!(again.published_config().await.unwrap().map(|c| c.meta.version), Some(3));
}

fn slot(kiosk: &str, start: i64, minutes: u32, agent: Option<&str>) -> NewAppointment {
    NewAppointment {
        kiosk_id: kiosk.into(),
        service: "caf".into(),
        start: at(start),
        minutes,
        agent: agent.map(AgentLogin::from),
        kind: SlotKind::Booked,
        booked_by: "hote-besse".into(),
    }
}

async fn slots_are_booked_under_a_counter_once_per_time_at_a_kiosk_and_cancelled(place: Place) {
    let store = place.open().await;
    for kiosk in ["besse", "ardes"] {
        store.enroll_kiosk(&kiosk.into(), "S", now()).await.unwrap();
    }
    let first = store.book_appointment(&slot("besse", 0, 30, Some("claire")), at(-60)).await.unwrap();
    // Back to back at the same kiosk, and the same time at another kiosk.
    let mut callback = slot("besse", 30, 30, None);
    callback.kind = SlotKind::Callback;
    callback.booked_by = "besse".into();
    let next = store.book_appointment(&callback, at(-60)).await.unwrap();
    let elsewhere = store.book_appointment(&slot("ardes", 10, 30, None), at(-60)).await.unwrap();
    assert!(first.reference < next.reference && next.reference < elsewhere.reference, "a counter");
    // Overlapping the first, an unknown kiosk, a slot of no length.
    let err = store.book_appointment(&slot("besse", 15, 10, None), at(-60)).await.unwrap_err();
    assert!(matches!(err, StoreError::SlotTaken { ref kiosk, taken } if kiosk == "besse" && taken == first.reference), "{err}");
    assert!(matches!(store.book_appointment(&slot("murol", 0, 30, None), at(-60)).await, Err(StoreError::UnknownKiosk(k)) if k == "murol"));
    assert!(matches!(store.book_appointment(&slot("besse", 120, 0, None), at(-60)).await, Err(StoreError::BadSlot(_))));

    // Read back as booked, by start: the slots overlapping 09:20-09:40.
    let read = store.appointments_between(at(20), at(40)).await.unwrap();
    assert_eq!(read, vec![first.clone(), elsewhere.clone(), next.clone()]);
    assert_eq!(read[0].slot.agent, Some(AgentLogin::from("claire")));
    assert_eq!(read[2].slot.kind, SlotKind::Callback);
    assert!(store.appointments_between(at(60), at(120)).await.unwrap().is_empty());

    // Cancelled once; its time is free again; it is still listed, as cancelled.
    assert!(store.cancel_appointment(first.reference, at(-5)).await.unwrap());
    assert!(!store.cancel_appointment(first.reference, at(-4)).await.unwrap());
    assert!(!store.cancel_appointment(Reference(9999), at(-4)).await.unwrap());
    let again = store.book_appointment(&slot("besse", 15, 10, None), at(-3)).await.unwrap();
    let read = store.appointments_between(at(0), at(30)).await.unwrap();
    let refs: Vec<(Reference, bool)> = read.iter().map(|a| (a.reference, a.cancelled_at.is_some())).collect();
    assert_eq!(refs, vec![(first.reference, true), (elsewhere.reference, false), (again.reference, false)]);
    assert_eq!(read[0].cancelled_at, Some(at(-5)));

    // A restarted hub, or another process, reads the same.
    drop(store);
    assert_eq!(place.open().await.appointments_between(at(0), at(30)).await.unwrap(), read);
}

async fn two_processes_booking_the_same_time_land_one_booking(place: Place) {
    let (one, two) = (place.open().await, place.open().await);
    one.enroll_kiosk(&"besse".into(), "S", now()).await.unwrap();
    let (claire, paul) = (slot("besse", 0, 30, Some("claire")), slot("besse", 10, 30, Some("paul")));
    let (a, b) = tokio::join!(one.book_appointment(&claire, now()), two.book_appointment(&paul, now()));
    let landed = match (a, b) {
        (Ok(landed), Err(StoreError::SlotTaken { taken, .. })) | (Err(StoreError::SlotTaken { taken, .. }), Ok(landed)) => {
            assert_eq!(taken, landed.reference);
            landed
        }
        other => panic!("expected one booking and one refusal, got {other:?}"),
    };
    assert_eq!(one.appointments_between(at(0), at(60)).await.unwrap(), vec![landed]);
}
