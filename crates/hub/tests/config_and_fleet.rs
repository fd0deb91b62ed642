//! Publishing a signed configuration to the real hub over TLS, kiosks being
//! told and fetching it, refusals, heartbeats, and the fleet view.

mod common;

use std::sync::Arc;

use common::*;
use visio_config::Catalogue;
use visio_config::bundle::Bundle;
use visio_hub::server::Settings;
use visio_protocol::*;

fn jammed_scanner() -> DeviceHealth {
    let ok = DeviceStatus::new(DeviceState::Ok, None);
    DeviceHealth {
        camera: ok.clone(),
        microphone: ok,
        scanner: DeviceStatus::new(DeviceState::Error, Some("Document feeder jammed")),
        printer: DeviceStatus::new(DeviceState::NotInstalled, None),
        speaker: None,
        sound_output: None,
    }
}

#[tokio::test]
async fn a_published_configuration_reaches_a_connected_kiosk_byte_for_byte() {
    let hub = TestHub::start().await;
    let secret = hub.enroll("besse");
    let key = admin_key(1);
    let token = hub.admin(&key);
    let mut besse = Kiosk::connect(&hub, "besse", &secret).await;
    // Nothing published yet: no announcement after the welcome, and
    // nothing to fetch.
    besse.heartbeat(1, None, None).await;
    let (status, _, body) = hub.fetch_config("besse", &secret, None).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no configuration has been published yet"), "{body}");

    let bundle = signed_demo(&key, 100);
    let text = bundle.to_json();
    let (status, answer) = hub.publish(Some(&token), &text).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["version"], 100);
    assert_eq!(answer["announced_to"], 1);
    assert_eq!(answer["published_by"], "tester");
    assert_eq!(answer["payload_sha256"], bundle.payload_sha256.as_str());

    // The connected kiosk is told, without reconnecting…
    let announced = besse.next().await;
    let HubToKiosk::ConfigAvailable { version, sha256, size, path } = announced else {
        panic!("expected config_available, got {announced:?}")
    };
    assert_eq!((version, sha256.as_str(), size), (100, bundle.payload_sha256.as_str(), text.len() as u64));
    assert_eq!(path, "/api/kiosk/config");

    // …fetches exactly the uploaded bytes, which verify with the admin key…
    let (status, etag, body) = hub.fetch_config("besse", &secret, None).await;
    assert_eq!(status, 200);
    assert_eq!(body, text);
    let verified = Bundle::verify(&body, &[key.verifying_key()]).unwrap();
    assert_eq!(verified.version, 100);
    assert!(verified.config.kiosk("besse").is_some());
    let etag = etag.unwrap();
    assert_eq!(etag, format!("\"{}\"", bundle.payload_sha256));
    let (status, _, body) = hub.fetch_config("besse", &secret, Some(&etag)).await;
    assert_eq!((status, body.as_str()), (304, ""), "revalidation sends nothing");
    // …and says it applied it.
    besse.send(KioskToHub::ConfigApplied { version: 100 }).await;
    besse.heartbeat(2, Some(100), None).await;

    // Uploading the same bundle again changes nothing and tells nobody.
    let (status, answer) = hub.publish(Some(&token), &text).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.get("announced_to").is_none(), "{answer}");
    besse.heartbeat(3, Some(100), None).await;

    // A kiosk starting now hears of it right after its welcome.
    let ardes_secret = hub.enroll("ardes");
    let mut ardes = Kiosk::connect(&hub, "ardes", &ardes_secret).await;
    assert!(matches!(ardes.next().await, HubToKiosk::ConfigAvailable { version: 100, .. }));
    hub.stop().await;
}

#[tokio::test]
async fn tampered_foreign_older_and_invalid_bundles_are_refused_and_the_published_one_stays() {
    let hub = TestHub::start().await;
    let secret = hub.enroll("besse");
    let key = admin_key(1);
    let good = signed_demo(&key, 100).to_json();

    // A hub that trusts no key takes nothing, even from a valid token.
    let token = hub.store.create_admin_token("early", jiff::Timestamp::now()).unwrap();
    let (status, answer) = hub.publish(Some(&token), &good).await;
    assert_eq!((status, answer["code"].as_str()), (403, Some("no_trusted_key")), "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("visio-hub admin trust-key"), "{answer}");

    let token = hub.admin(&key);
    assert_eq!(hub.publish(Some(&token), &good).await.0, 201);
    let mut besse = Kiosk::connect(&hub, "besse", &secret).await;
    assert!(matches!(besse.next().await, HubToKiosk::ConfigAvailable { version: 100, .. }));

    let tampered = signed_demo(&key, 101).to_json().replacen("\"max_video_kbps\": 1500", "\"max_video_kbps\": 8000", 1);
    assert!(tampered.contains("8000"), "the demo kiosk caps video at 1500 kbit/s");
    let foreign = signed_demo(&admin_key(9), 102).to_json();
    let older = signed_demo(&key, 99).to_json();
    let other_content_same_version = {
        let mut payload = signed_demo(&key, 1).payload;
        payload["kiosks"]["besse"]["idle_timeout_seconds"] = 120.into();
        Bundle::sign_payload(payload, &key, 100, jiff::Timestamp::now()).to_json()
    };
    let invalid = {
        let mut payload = signed_demo(&key, 1).payload;
        payload["kiosks"]["besse"]["services"] = serde_json::json!(["caf", "cpam2"]);
        Bundle::sign_payload(payload, &key, 103, jiff::Timestamp::now()).to_json()
    };
    let cases: [(&str, String, u16, &str, &str); 6] = [
        ("tampered", tampered, 403, "bad_signature", "bad signature: the bundle was changed after it was signed"),
        ("foreign key", foreign, 403, "untrusted_key", "which is not a trusted admin key"),
        ("older", older, 409, "rollback", "version 99 is older than the running version 100"),
        ("same version", other_content_same_version, 409, "version_conflict", "the hub already serves version 100"),
        ("invalid", invalid, 422, "invalid", "kiosks/besse.json services[1]: unknown service \"cpam2\""),
        ("garbage", "{\"hello\": ".into(), 400, "malformed", "not a configuration bundle"),
    ];
    for (what, body, status, code, says) in cases {
        let (got, answer) = hub.publish(Some(&token), &body).await;
        assert_eq!((got, answer["code"].as_str()), (status, Some(code)), "{what}: {answer}");
        let message = answer["error"].as_str().unwrap();
        assert!(message.starts_with("configuration refused: ") && message.contains(says), "{what}: {message}");
    }

    // Nothing changed: the kiosk was told nothing, and gets the good one.
    besse.heartbeat(1, Some(100), None).await;
    let (status, _, body) = hub.fetch_config("besse", &secret, None).await;
    assert_eq!((status, body), (200, good));
    hub.stop().await;
}

#[tokio::test]
async fn heartbeats_and_a_kiosk_refusal_show_in_the_fleet_view_and_the_metrics() {
    let hub = TestHub::start().await;
    let (besse_secret, ardes_secret) = (hub.enroll("besse"), hub.enroll("ardes"));
    let key = admin_key(1);
    let token = hub.admin(&key);
    assert_eq!(hub.publish(Some(&token), &signed_demo(&key, 100).to_json()).await.0, 201);

    let mut besse = Kiosk::connect(&hub, "besse", &besse_secret).await;
    let mut ardes = Kiosk::connect(&hub, "ardes", &ardes_secret).await;
    for k in [&mut besse, &mut ardes] {
        assert!(matches!(k.next().await, HubToKiosk::ConfigAvailable { version: 100, .. }));
    }
    let measured = CallLink { uplink_kbps: 1850, rtt_ms: Some(640) };
    besse.heartbeat_after_call(1, Some(100), Some(jammed_scanner()), Some(measured)).await;
    // The kiosk's own verification refused it (it trusts another key):
    // it says so over the protocol and goes offline.
    let reason = ConfigRefusal::new(
        ConfigRefusalCode::UntrustedKey,
        "signed by key 4cf2a1a6f6e2d0e5, which is not a trusted admin key (trusted: 0000000000000000)",
    );
    ardes.send(KioskToHub::ConfigRefused { version: 100, reason: reason.clone() }).await;
    ardes.heartbeat(1, Some(90), None).await;
    ardes.close().await;

    let fleet = eventually("ardes offline with its refusal, besse's heartbeat", || async {
        let fleet = hub.fleet(&token).await;
        let ardes = fleet.kiosks.iter().find(|k| k.kiosk_id.as_str() == "ardes")?;
        let besse = fleet.kiosks.iter().find(|k| k.kiosk_id.as_str() == "besse")?;
        (!ardes.online && ardes.last_refusal.is_some() && besse.devices.is_some()).then_some(fleet)
    })
    .await;
    assert_eq!(fleet.heartbeat_seconds, 30);
    assert_eq!(fleet.published.as_ref().map(|p| p.version), Some(100));
    let besse = fleet.kiosks.iter().find(|k| k.kiosk_id.as_str() == "besse").unwrap();
    assert!(besse.online && besse.enrolled);
    assert_eq!(besse.site, "Mairie de Besse-et-Saint-Anastaise", "the site of the published configuration");
    assert_eq!((besse.app_version.as_deref(), besse.config_version, besse.rtt_ms), (Some("test"), Some(100), Some(25)));
    assert_eq!(besse.devices, Some(jammed_scanner()));
    assert_eq!(besse.last_call, Some(measured));
    assert!(besse.last_heartbeat_at.is_some_and(|t| t <= fleet.now));
    assert_eq!(besse.last_refusal, None);
    let ardes = fleet.kiosks.iter().find(|k| k.kiosk_id.as_str() == "ardes").unwrap();
    let refusal = ardes.last_refusal.as_ref().unwrap();
    assert_eq!((refusal.version, refusal.code, refusal.message.as_str()), (100, reason.code, reason.message.as_str()));
    assert_eq!(ardes.config_version, Some(90));
    // Kiosks of the published configuration that were never enrolled are
    // listed too: they cannot connect.
    let demo = fleet.kiosks.iter().find(|k| k.kiosk_id.as_str() == "demo-kiosk").unwrap();
    assert!(!demo.enrolled && !demo.online && demo.last_heartbeat_at.is_none());

    let metrics = hub.get_text("/metrics").await;
    for line in [
        "visio_hub_connected_kiosks 1",
        "visio_hub_kiosks_enrolled 2",
        "visio_hub_devices_unhealthy{device=\"scanner\"} 1",
        "visio_hub_devices_unhealthy{device=\"camera\"} 0",
        "visio_hub_config_version 100",
        "visio_hub_kiosks_config_outdated 0",
        "visio_hub_config_refusals_total{code=\"untrusted_key\"} 1",
        "visio_hub_heartbeats_total 2",
        "visio_hub_kiosk_rtt_ms{kiosk=\"besse\"} 25",
        "visio_hub_kiosk_last_call_uplink_kbps{kiosk=\"besse\"} 1850",
        "visio_hub_kiosk_last_call_rtt_ms{kiosk=\"besse\"} 640",
    ] {
        assert!(metrics.contains(line), "missing {line:?} in:\n{metrics}");
    }
    assert!(!metrics.contains("kiosk=\"ardes\""), "a kiosk that left has no series:\n{metrics}");

    // Once the kiosk applies that version, the refusal is over.
    let mut ardes = Kiosk::connect(&hub, "ardes", &ardes_secret).await;
    assert!(matches!(ardes.next().await, HubToKiosk::ConfigAvailable { version: 100, .. }));
    ardes.send(KioskToHub::ConfigApplied { version: 100 }).await;
    eventually("ardes's refusal cleared", || async {
        let fleet = hub.fleet(&token).await;
        let ardes = fleet.kiosks.into_iter().find(|k| k.kiosk_id.as_str() == "ardes")?;
        (ardes.online && ardes.last_refusal.is_none() && ardes.config_version == Some(100)).then_some(())
    })
    .await;
    hub.stop().await;
}

#[tokio::test]
async fn the_admin_api_and_the_configuration_need_credentials() {
    let hub = TestHub::start().await;
    let secret = hub.enroll("besse");
    let key = admin_key(1);
    let token = hub.admin(&key);
    let bundle = signed_demo(&key, 100).to_json();

    let anonymous = hub.http().get(hub.url("/api/fleet")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer realm=\"visio-hub admin\"");
    let answer: serde_json::Value = anonymous.json().await.unwrap();
    assert_eq!(answer["code"], "unauthorized");
    assert!(answer["error"].as_str().unwrap().contains("visio-hub admin token"), "{answer}");
    let forged = hub.http().get(hub.url("/api/fleet")).bearer_auth("forged").send().await.unwrap();
    assert_eq!(forged.status(), 401);
    // A kiosk's credentials are not an admin's.
    let kiosk = hub.http().get(hub.url("/api/fleet")).basic_auth("besse", Some(secret.expose())).send().await.unwrap();
    assert_eq!(kiosk.status(), 401);

    // A validly signed bundle without a token, or with a wrong one, is not
    // stored.
    assert_eq!(hub.publish(None, &bundle).await.0, 401);
    assert_eq!(hub.publish(Some(&Secret("forged".into())), &bundle).await.0, 401);
    assert_eq!(hub.fetch_config("besse", &secret, None).await.0, 404, "nothing was published");

    // Publishing works with the token; fetching needs the kiosk's secret.
    assert_eq!(hub.publish(Some(&token), &bundle).await.0, 201);
    assert_eq!(hub.fetch_config("besse", &Secret("wrong".into()), None).await.0, 401);
    assert_eq!(hub.fetch_config("nobody", &secret, None).await.0, 401);
    let anonymous = hub.http().get(hub.url("/api/kiosk/config")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Basic realm=\"visio-hub kiosks\"");
    assert_eq!(hub.fetch_config("besse", &secret, None).await.0, 200);

    // An oversized upload is refused without being stored.
    let huge = format!("{{\"pad\":\"{}\"}}", "x".repeat(9 * 1024 * 1024));
    let (status, answer) = hub.publish(Some(&token), &huge).await;
    assert_eq!((status, answer["code"].as_str()), (413, Some("too_large")), "{answer}");
    hub.stop().await;
}

#[tokio::test]
async fn the_published_configuration_survives_a_restart_and_the_hub_runs_on_it() {
    let hub = TestHub::start().await;
    let secret = hub.enroll("besse");
    let key = admin_key(1);
    let token = hub.admin(&key);
    let text = signed_demo(&key, 100).to_json();
    assert_eq!(hub.publish(Some(&token), &text).await.0, 201);
    let dir = hub.stop_keeping_data().await;

    // Restarted with no ICE servers of its own: it takes the published ones.
    let hub = TestHub::start_in(dir, Settings::new(Arc::new(Catalogue::demo()))).await;
    hub.add_agent("claire", "claire-password", &["demo"]);
    let mut besse = Kiosk::connect(&hub, "besse", &secret).await;
    assert!(matches!(besse.next().await, HubToKiosk::ConfigAvailable { version: 100, .. }));
    assert_eq!(hub.fetch_config("besse", &secret, None).await.2, text);
    let mut claire = Agent::connect(&hub, "claire", "claire-password").await;
    besse.queue("demo").await;
    claire.take_next().await;
    let answered = besse.wait_for("answered", |m| matches!(m, HubToKiosk::CallAnswered { .. })).await;
    let HubToKiosk::CallAnswered { ice_servers, .. } = answered else { unreachable!() };
    assert_eq!(ice_servers[0].urls, ["stun:turn.visio-public.auvergne.example:3478"], "kiosk-config/hub.json's");
    hub.stop().await;
}

/// The kiosk's own session core (`visio-kiosk-core`) as the test kiosk's
/// brain, with this test as its shell: messages go over the real WebSocket,
/// downloads over real HTTPS, and verification is the kiosk's
/// (`Bundle::verify_update` with the keys the kiosk trusts).
struct CoreKiosk {
    session: visio_kiosk_core::Session,
    ws: Kiosk,
    id: String,
    secret: Secret,
    trusted: Vec<visio_config::bundle::VerifyingKey>,
    fetched: Vec<u64>,
}

impl CoreKiosk {
    async fn connect(hub: &TestHub, id: &str, secret: &Secret, trusted: Vec<visio_config::bundle::VerifyingKey>) -> CoreKiosk {
        let session = visio_kiosk_core::Session::new(visio_kiosk_core::Config::default(), std::time::Instant::now());
        let ws = Kiosk::open(hub, "/ws/kiosk", None, id).await.unwrap();
        let mut k = CoreKiosk { session, ws, id: id.into(), secret: secret.clone(), trusted, fetched: Vec::new() };
        k.ws.send(KioskToHub::Hello { protocol: PROTOCOL_VERSION, kiosk_id: id.into(), secret: secret.clone(), app_version: None, resume: None })
            .await;
        k.input(hub, visio_kiosk_core::Input::HubConnected).await;
        k
    }

    async fn input(&mut self, hub: &TestHub, input: visio_kiosk_core::Input) {
        self.session.handle_input(std::time::Instant::now(), input);
        self.carry_out(hub).await;
    }

    /// Does what the session asks, as a shell would, until it asks nothing.
    async fn carry_out(&mut self, hub: &TestHub) {
        loop {
            let mut did = false;
            while let Some(output) = self.session.poll_output() {
                did = true;
                if let visio_kiosk_core::Output::ToHub(msg) = output {
                    self.ws.send(msg).await;
                }
            }
            while let Some(request) = self.session.poll_config_fetch() {
                did = true;
                let (status, _, body) = hub.fetch_config(&self.id, &self.secret, None).await;
                assert_eq!(status, 200, "{body}");
                self.fetched.push(request.version);
                let result = match Bundle::verify_update(&body, &self.trusted, self.session.config_version()) {
                    Ok(v) => visio_kiosk_core::ConfigFetch::Applied { version: v.version },
                    // The only refusal this test provokes; the kiosk's
                    // config_store maps every kind (unit-tested there).
                    Err(e @ visio_config::BundleError::UntrustedKey { .. }) => visio_kiosk_core::ConfigFetch::Refused {
                        version: request.version,
                        reason: ConfigRefusal::new(ConfigRefusalCode::UntrustedKey, e.to_string()),
                    },
                    Err(e) => panic!("unexpected refusal: {e}"),
                };
                self.session.handle_input(std::time::Instant::now(), visio_kiosk_core::Input::ConfigFetched(result));
            }
            if !did {
                return;
            }
        }
    }

    /// Feeds hub messages to the session until `done` says so.
    async fn until(&mut self, hub: &TestHub, what: &str, done: impl Fn(&CoreKiosk) -> bool) {
        within(what, async {
            while !done(self) {
                let msg = self.ws.next().await;
                self.input(hub, visio_kiosk_core::Input::Hub(msg)).await;
            }
        })
        .await;
    }
}

#[tokio::test]
async fn the_kiosk_session_core_applies_a_publication_and_reports_one_it_does_not_trust() {
    let hub = TestHub::start().await;
    let secret = hub.enroll("besse");
    let (kiosk_key, other_admin) = (admin_key(1), admin_key(3));
    let token = hub.admin(&kiosk_key);
    // The hub trusts a second admin key that this kiosk was not installed with.
    hub.store.trust_admin_key(&other_admin.verifying_key(), jiff::Timestamp::now()).unwrap();
    let mut besse = CoreKiosk::connect(&hub, "besse", &secret, vec![kiosk_key.verifying_key()]).await;
    besse.until(&hub, "welcome", |k| matches!(k.session.screen(), visio_kiosk_core::Screen::Home { .. })).await;

    assert_eq!(hub.publish(Some(&token), &signed_demo(&kiosk_key, 100).to_json()).await.0, 201);
    besse.until(&hub, "version 100 applied", |k| k.session.config_version() == Some(100)).await;
    assert_eq!(besse.fetched, [100]);
    eventually("the hub knows besse runs 100", || async {
        let fleet = hub.fleet(&token).await;
        let row = fleet.kiosks.into_iter().find(|k| k.kiosk_id.as_str() == "besse")?;
        (row.config_version == Some(100) && row.online).then_some(())
    })
    .await;

    // Accepted by the hub, refused by the kiosk: it keeps 100 and says why.
    assert_eq!(hub.publish(Some(&token), &signed_demo(&other_admin, 101).to_json()).await.0, 201);
    besse.until(&hub, "version 101 fetched", |k| k.fetched.contains(&101)).await;
    let refusal = eventually("besse's refusal in the fleet view", || async {
        let fleet = hub.fleet(&token).await;
        fleet.kiosks.into_iter().find(|k| k.kiosk_id.as_str() == "besse")?.last_refusal
    })
    .await;
    assert_eq!(besse.fetched, [100, 101]);
    assert_eq!(besse.session.config_version(), Some(100));
    assert_eq!((refusal.version, refusal.code), (101, ConfigRefusalCode::UntrustedKey));
    assert!(refusal.message.contains("which is not a trusted admin key"), "{}", refusal.message);
    hub.stop().await;
}
