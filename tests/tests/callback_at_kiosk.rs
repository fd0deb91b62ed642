//! A callback booked at the kiosk, end to end (issue 24, item 7): the real
//! hub over TLS, whose `demo` service is closed today and tomorrow; the
//! headless kiosk (`--callback`) touches it, is refused as closed, is
//! offered a callback, asks for the free slots and books the first; the
//! callback is then in the agent's day (HTTPS) and in the iCalendar
//! export with the reference the kiosk showed, and the slip came out of
//! the private cupsd with the service, the local time and the reference,
//! CUPS keeping nothing of it. Then the same across two hub processes on
//! PostgreSQL and NATS.

use std::sync::Arc;

use jiff::Timestamp;
use serde_json::Value;
use visio_testkit::hub::Agent;
use visio_testkit::pdf::pdf_text;
use visio_testkit::wait::{init_tracing, wait_for};
use visio_tests::{AGENT, World};

/// The demo region with `demo` closed today and tomorrow (Europe/Paris):
/// closed now whatever the hour, its first free slots the day after.
fn closed_demo() -> (visio_config::Catalogue, String) {
    let mut services: Value = serde_json::from_str(include_str!("../../kiosk-config/services.json")).unwrap();
    let tz = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
    let today = Timestamp::now().to_zoned(tz).date();
    let closed = serde_json::json!([today.to_string(), today.tomorrow().unwrap().to_string()]);
    for s in services["services"].as_array_mut().unwrap().iter_mut().filter(|s| s["id"] == "demo") {
        s["hours"]["closed_dates"] = closed.clone();
    }
    let text = services.to_string();
    (visio_config::Catalogue::from_json("services.json", &text).unwrap(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_booked_at_the_kiosk_is_in_the_agents_day_and_calendar_and_on_its_slip() {
    init_tracing();
    let (catalogue, text) = closed_demo();
    let world = World::start_with(visio_hub::server::Settings::new(Arc::new(catalogue))).await;
    callback_scene(&world, &text).await;
    world.hub.stop().await;
}

/// The same across two hub processes on PostgreSQL and NATS: the kiosk
/// books on process 0, the agent reads the day and the calendar on
/// process 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_booked_on_one_hub_process_is_in_the_day_read_on_another() {
    init_tracing();
    let (catalogue, text) = closed_demo();
    let (world, cluster) = World::cluster_with(2, 1, catalogue).await;
    callback_scene(&world, &text).await;
    drop(cluster);
}

/// The kiosk (on the world's first hub) books the first free slot; the
/// agent reads it on `world.hub`.
async fn callback_scene(world: &World, text: &str) {
    // The kiosk's tiles say the same as the hub.
    let services = world.dir.path().join("services-closed-demo.json");
    std::fs::write(&services, text).unwrap();
    let mut kiosk = world.kiosk_with("demo", &["--callback".as_ref(), "--catalogue".as_ref(), services.as_os_str()]);

    let refused = kiosk.event("refused").await;
    assert_eq!((refused["service"].as_str(), refused["reason"].as_str()), (Some("demo"), Some("closed")), "{refused}");
    let offered = kiosk.event("callback_offered").await;
    assert_eq!(offered["why"], "closed");
    let slots = kiosk.event("callback_slots").await;
    let slots: Vec<Timestamp> = slots["slots"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().parse().unwrap()).collect();
    assert!(!slots.is_empty() && slots.len() <= 4, "{slots:?}");
    let booked = kiosk.event("callback_booked").await;
    let reference = booked["reference"].as_str().unwrap().to_owned();
    let start: Timestamp = booked["start"].as_str().unwrap().parse().unwrap();
    assert_eq!(start, slots[0], "the first slot shown is booked: {booked}");
    assert_eq!(booked["minutes"], 15);
    let (_, status) = kiosk.rest().await;
    assert!(status.success(), "a booked callback ends the scripted visit with 0, got {status}");

    // In the agent's day of the slot's date, as a callback at this kiosk.
    let hub = &world.hub;
    let cookie = Agent::sign_in(hub, AGENT.0, AGENT.1).await.unwrap();
    let tz = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
    let local = start.to_zoned(tz);
    let date = local.date();
    let day = hub.agent_day(&cookie, date).await;
    let list = day["appointments"].as_array().unwrap();
    let found = list.iter().find(|a| a["reference"] == reference.as_str()).unwrap_or_else(|| panic!("{reference} not in the day: {day}"));
    assert_eq!(found["kind"], "callback");
    assert_eq!(found["kiosk_id"], "demo-kiosk");
    assert_eq!(found["service"], "demo");
    assert_eq!(found["start"].as_str().unwrap().parse::<Timestamp>().unwrap(), start);
    assert!(found["agent"].is_null(), "no agent named: every agent of the service sees it: {found}");

    // And in its iCalendar export.
    let ics = hub.agent_calendar(&cookie, date).await;
    assert!(ics.contains(&format!("UID:{reference}@")), "{ics}");
    assert!(ics.contains(&format!("DTSTART:{}\r\n", start.strftime("%Y%m%dT%H%M%SZ"))), "{ics}");
    assert!(ics.contains("SUMMARY:Rappel demandé à la borne Démo"), "{ics}");

    // The slip: the service, the day and time in Paris, the reference,
    // what to do; CUPS keeps nothing of the job.
    let cups = world.cups.as_ref().unwrap();
    let slip = wait_for("the slip from cups-pdf", || {
        let pdf = world.printed_pdf()?;
        Some(pdf_text(&pdf)).filter(|t| !t.trim().is_empty())
    })
    .await;
    let words = slip.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.starts_with("Votre rappel"), "{words}");
    assert!(words.contains("Service : Démonstration (toujours ouvert)"), "{words}");
    assert!(words.contains(&format!("{} à {} (15 minutes)", local.strftime("%d/%m/%Y"), local.strftime("%H:%M"))), "{words}");
    assert!(words.contains(&format!("Référence : {reference}")), "{words}");
    assert!(words.contains("Borne : Point Visio-Public de démonstration"), "{words}");
    assert!(words.contains("touchez « Démo »"), "{words}");
    wait_for("CUPS keeps nothing of the job", || cups.job_traces().is_empty().then_some(())).await;
}
