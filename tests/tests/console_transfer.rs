//! A transfer end to end: the real hub over TLS, the headless kiosk, and
//! two agents' consoles in headless Chromium. The demo service's agent
//! hands the resident over to the MSA, where someone already waits: the
//! MSA's agent sees the transferred resident first, marked as such, takes
//! them, and the call runs with real media. The session log keeps both
//! legs, linked. Then the same across two hub processes on PostgreSQL and
//! NATS, the resident's kiosk on one, the transferring agent on the other.

use std::sync::Arc;

use visio_tests::{AGENT, World};
use serde_json::{Value, json};
use visio_config::Catalogue;
use visio_hub::store::SessionRecord;
use visio_protocol::HubToKiosk;
use visio_testkit::hub::TestHub;
use visio_testkit::browser::{Browser, Kind};
use visio_testkit::page::{click, page_until, sign_in_agent};
use visio_testkit::wait::{eventually, init_tracing};

const BRUNO: (&str, &str) = ("bruno", "battery staple");

/// The demo catalogue with the MSA open around the clock, so the test
/// runs at any hour.
fn catalogue() -> Catalogue {
    let mut json: Value = serde_json::from_str(visio_config::DEMO_CATALOGUE_JSON).unwrap();
    let all_day = json!(["00:00-24:00"]);
    for service in json["services"].as_array_mut().unwrap() {
        if service["id"] == "msa" {
            service["hours"] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].iter().map(|d| (d.to_string(), all_day.clone())).collect();
        }
    }
    Catalogue::from_json("services.json", &json.to_string()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transferred_resident_is_taken_first_by_the_other_service_with_real_media_from_firefox_esr() {
    init_tracing();
    let world = World::start_with(visio_hub::server::Settings::new(Arc::new(catalogue()))).await;
    world.hub.add_agent(BRUNO.0, BRUNO.1, &["msa"]);
    let ardes_secret = world.hub.enroll("ardes");
    // The transferring agent in Firefox ESR, the taking one in Chromium.
    let (ardes, to) = transfer_scene(&world, (&world.hub, &world.hub, &world.hub), &ardes_secret, Kind::Firefox).await;
    world.hub.wait_for_log("both legs, linked, and Ardes waiting", |log| both_legs(log, &ardes, &to)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_across_two_hub_processes_on_postgresql_and_nats() {
    init_tracing();
    // The kiosk connects to process 0; the demo agent is on process 1.
    let (world, cluster) = World::cluster_with(2, 1, catalogue()).await;
    cluster.add_agent(BRUNO.0, BRUNO.1, &["msa"]).await;
    let ardes_secret = cluster.enroll("ardes").await;
    let (p0, p1) = (cluster.hub(0), cluster.hub(1));
    // Ardes waits on process 1; the MSA's agent is on process 0.
    let (ardes, to) = transfer_scene(&world, (&p1, &p0, &p1), &ardes_secret, Kind::Chromium).await;
    eventually("both legs, linked, and Ardes waiting", || async { both_legs(&cluster.store.session_log().await.unwrap(), &ardes, &to) }).await;
}

/// The session log has both legs of the transferred visit, the second
/// answered by the MSA's agent, and Ardes still waiting.
fn both_legs(log: &[SessionRecord], ardes: &str, to: &str) -> Option<()> {
    let second = log.iter().find(|r| r.session == to && r.answered_at.is_some())?;
    let first = log.iter().find(|r| Some(&r.session) == second.previous_leg.as_ref())?;
    assert_eq!((first.service.as_str(), first.agent.as_deref(), first.end_reason.as_deref()), ("demo", Some(AGENT.0), Some("transferred")));
    assert_eq!((second.service.as_str(), second.agent.as_deref()), ("msa", Some(BRUNO.0)));
    let ardes = log.iter().find(|r| r.session == ardes)?;
    assert_eq!(ardes.answered_at, None, "the resident who waited is still waiting");
    Some(())
}

/// Ardes waits for the MSA (on `ardes_hub`); the kiosk asks for the demo
/// service; the demo agent (on `demo_hub`) takes and transfers it to the
/// MSA; the MSA's agent (on `msa_hub`) sees it first, takes it, and the
/// call runs with real media. Returns Ardes's session and the second leg's.
/// The demo agent (in `demo_browser`) transfers the demo kiosk's resident
/// to the MSA, whose agent (in Chromium) takes them first.
async fn transfer_scene(
    world: &World,
    (demo_hub, msa_hub, ardes_hub): (&TestHub, &TestHub, &TestHub),
    ardes_secret: &visio_protocol::Secret,
    demo_browser: Kind,
) -> (String, String) {
    let mut ardes = visio_testkit::hub::Kiosk::connect(ardes_hub, "ardes", ardes_secret).await;
    let (ardes_session, position) = ardes.queue("msa").await;
    assert_eq!(position, 1);

    let (demo_agent, msa_agent) = (Browser::launch_kind(demo_browser).await, Browser::launch().await);
    sign_in_agent(&demo_agent, demo_hub, AGENT).await;
    sign_in_agent(&msa_agent, msa_hub, BRUNO).await;

    let mut kiosk = world.kiosk("demo");
    kiosk.event("queued").await;
    click(&demo_agent, "take-next").await;
    kiosk.event("first_remote_frame").await;

    // The demo agent hands the resident over to the MSA's line.
    demo_agent
        .run(
            "const s = document.getElementById('transfer-to'); s.value = 'service:msa';
             s.dispatchEvent(new Event('change')); return true;",
            Value::Null,
        )
        .await;
    click(&demo_agent, "transfer-go").await;
    let transferred = kiosk.event("transferred").await;
    assert_eq!((transferred["service"].as_str(), transferred["position"].as_u64()), (Some("msa"), Some(1)), "{transferred}");
    let to_session = transferred["to_session"].as_str().unwrap().to_owned();
    let told = page_until(&demo_agent, "the demo agent free again", "return !state.call && document.getElementById('banner').textContent;").await;
    assert_eq!(told, "Usager transféré : il passe en tête de la file choisie.");
    // Ardes now comes second.
    ardes.wait_for("Ardes second", |m| matches!(m, HubToKiosk::QueueUpdate { position: 2, .. })).await;

    // The MSA's agent sees the transferred resident first, from where.
    let first = page_until(
        &msa_agent,
        "the transferred resident first in the MSA's line",
        "const items = document.querySelectorAll('[data-testid=queue-item]');
         return items.length === 2 && { session: items[0].dataset.session, text: items[0].textContent,
                                         second: items[1].dataset.session };",
    )
    .await;
    assert_eq!(first["session"], to_session.as_str());
    assert_eq!(first["second"], ardes_session.as_str());
    assert!(first["text"].as_str().unwrap().contains("transféré depuis DEMO"), "{first}");
    click(&msa_agent, "take-next").await;
    let answered = kiosk.event("answered").await;
    assert_eq!(answered["session"], to_session.as_str());
    kiosk.event("first_remote_frame").await;
    let context = page_until(
        &msa_agent,
        "the kiosk's video and where the resident comes from",
        "const v = document.querySelector('[data-testid=remote-video]');
         const from = document.querySelector('[data-field=transferred]');
         return v.videoWidth > 0 && state.call.level === 'good' && from && from.textContent;",
    )
    .await;
    assert_eq!(context, "transféré depuis DEMO");
    (ardes_session.to_string(), to_session)
}
