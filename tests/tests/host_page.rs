//! The host on site, end to end: the real hub over TLS serves the host page
//! (`/host/`) to headless Chromium, signed in as the town hall's host; the
//! headless kiosk waits in line and presses "Appeler l'accueil". The alert
//! shows on the page (sound, notification, tab title, the kiosk's screen),
//! the host answers "J'y vais", and only then does the kiosk hear that
//! someone is coming. The kiosk has no sound output, and a second kiosk of
//! the host's other site reports its printer out of paper: alerts too. Once
//! on one hub, once across two hub processes on PostgreSQL and NATS (the
//! kiosk on one, the host's page on the other).
//!
//! `VISIO_SCREENSHOTS=<dir>` saves the page with its alerts there as
//! `host-alert.png` (docs/screenshots holds the committed one).

use visio_tests::World;
use serde_json::{Value, json};
use visio_protocol::Secret;
use visio_testkit::browser::Browser;
use visio_testkit::hub::{Kiosk, TestHub, printer_out_of_paper};
use visio_testkit::page::{click, page_until, screenshot, text_with, type_into};
use visio_testkit::wait::init_tracing;

const HOST: (&str, &str) = ("accueil", "mot de passe de l'accueil");
/// The headless kiosk's site (the test kit enrolls `demo-kiosk` there) and
/// the host's second site.
const SITES: [&str; 2] = ["Mairie de demo-kiosk", "Mairie de besse"];

async fn sign_in(browser: &Browser, hub: &TestHub) {
    browser.client.goto(&hub.url("/host/")).await.unwrap();
    type_into(browser, "login-user", HOST.0).await;
    type_into(browser, "login-password", HOST.1).await;
    click(browser, "login-submit").await;
    text_with(browser, "who-name", "accueil (accueil)").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_answers_a_residents_call_for_help_and_sees_a_device_fault() {
    init_tracing();
    // Heartbeats every second: the kiosk's silent loudspeaker shows at once.
    let mut settings = visio_hub::server::Settings::new(std::sync::Arc::new(visio_config::Catalogue::demo()));
    settings.heartbeat_seconds = 1;
    let world = World::start_with(settings).await;
    world.hub.add_host(HOST.0, HOST.1, &SITES);
    let besse = world.hub.enroll("besse");
    host_scene(&world, &world.hub, &world.hub, &besse, Sound::Missing).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_for_help_across_two_hub_processes_on_postgresql_and_nats() {
    init_tracing();
    // The kiosk connects to process 0; the host's page and Besse use process 1.
    let (world, cluster) = World::cluster(2, 1).await;
    cluster.add_host(HOST.0, HOST.1, &SITES).await;
    let besse = cluster.enroll("besse").await;
    host_scene(&world, &cluster.hub(1), &cluster.hub(1), &besse, Sound::NotProbed).await;
}

/// The host signs in on `host_hub`; the headless kiosk (no sound output)
/// calls for help; the host answers; Besse (on `besse_hub`) reports its
/// printer out of paper.
/// The headless kiosk's sound output.
#[derive(Clone, Copy, PartialEq)]
enum Sound {
    /// None at all (no sound server, no other sink GStreamer could use).
    Missing,
    /// Sent nowhere on purpose (`VISIO_AUDIO_SINK=fakesink`): not probed.
    NotProbed,
}

async fn host_scene(world: &World, host_hub: &TestHub, besse_hub: &TestHub, besse_secret: &Secret, sound: Sound) {
    let browser = Browser::launch().await;
    browser.set_viewport(1280, 800).await;
    sign_in(&browser, host_hub).await;
    text_with(&browser, "alerts-none", "Aucune alerte").await;

    // The resident waits for an agent and presses "Appeler l'accueil".
    let mut kiosk = world.kiosk_adjusted("demo", |c| {
        c.arg("--call-host");
        if sound == Sound::Missing {
            c.env_remove("VISIO_AUDIO_SINK")
                .env("PULSE_SERVER", "unix:/nonexistent/pulse")
                .env("GST_PLUGIN_FEATURE_RANK", "alsasink:NONE,oss4sink:NONE,osssink:NONE,jackaudiosink:NONE,pipewiresink:NONE");
        }
    });
    kiosk.event("queued").await;
    let called = kiosk.event("host_called").await;
    assert_eq!(called["screen"], "waiting");

    // The page rings, counts it in the tab's title and says what the kiosk
    // shows; a kiosk nobody can hear is an alert too.
    let alert = text_with(&browser, "alert-demo-kiosk-help", "Un usager demande de l'aide").await;
    let mut expected = vec!["alert-demo-kiosk-help"];
    if sound == Sound::Missing {
        let speaker = text_with(&browser, "alert-demo-kiosk-speaker", "Son en panne").await;
        // The fault's code in the page's words, not the kiosk's English.
        assert!(speaker.contains("Ni haut-parleur ni combiné trouvé") && !speaker.contains("no sound output"), "alert: {speaker}");
        expected.push("alert-demo-kiosk-speaker");
        // Nobody could hear an agent: the kiosk is out of service, and the
        // resident's call for help says so.
        text_with(&browser, "alert-demo-kiosk-help", "La borne affiche : Hors service").await;
    } else {
        assert!(alert.contains("La borne affiche : Attente d'un conseiller"), "alert: {alert}");
    }
    let n = expected.len();
    let title = page_until(&browser, "the alerts in the tab's title", &format!("return document.title.startsWith('({n})') && document.title;")).await;
    assert_eq!(title, format!("({n}) Alertes · Visio-Public Accueil"));
    let rung = page_until(&browser, "the alert's sound", "return window.hostAlerts.find(a => a.kind === 'help') || null;").await;
    assert_eq!((&rung["kiosk"], &rung["sound"]), (&json!("demo-kiosk"), &json!("running")));
    assert_eq!(rung["notified"], true, "a browser notification: {rung}");

    // Besse's printer runs out of paper: an alert too, under the call for help.
    let mut besse = Kiosk::connect(besse_hub, "besse", besse_secret).await;
    besse.heartbeat(1, None, Some(printer_out_of_paper())).await;
    let printer = text_with(&browser, "alert-besse-printer", "Imprimante en panne").await;
    assert!(printer.contains("media-empty: plus de papier") && printer.contains("Mairie de besse"), "alert: {printer}");
    expected.push("alert-besse-printer");
    let n = expected.len();
    page_until(&browser, "one more alert in the title", &format!("return document.title.startsWith('({n})');")).await;
    let order = browser.run("return [...document.querySelectorAll('#alert-list .alert')].map(a => a.dataset.testid);", Value::Null).await;
    assert_eq!(order, json!(expected), "the call for help first, then this kiosk's sound, then Besse's printer");
    let violations = browser.accessibility_violations().await;
    assert!(violations.is_empty(), "axe-core (alerts): {:#}", Value::Array(violations));
    screenshot(&browser, "host-alert").await;

    // Nothing told the kiosk someone is coming until the host answers.
    assert!(kiosk_said_nothing_of_the_host(&mut kiosk).await);
    click(&browser, "ack-demo-kiosk-help").await;
    kiosk.event("host_coming").await;
    text_with(&browser, "alert-demo-kiosk-help", "Pris en charge par accueil (accueil)").await;
    let left = format!("return document.title.startsWith('({})');", n - 1);
    page_until(&browser, "the answered call no longer counted", &left).await;
    // The same page in English, from its catalogue.
    click(&browser, "lang-en").await;
    text_with(&browser, "alert-demo-kiosk-help", "A resident asks for help").await;
    text_with(&browser, "alert-besse-printer", "Printer failing").await;
    if sound == Sound::Missing {
        text_with(&browser, "alert-demo-kiosk-speaker", "No loudspeaker or handset found").await;
    }
    click(&browser, "lang-fr").await;

    // The resident leaves: the call for help ends with the visit, and the
    // kiosk's lost link is an alert.
    let before = kiosk.printed_so_far().await;
    let pid = kiosk.child.id().expect("the kiosk runs");
    std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status().unwrap();
    let (lines, _) = kiosk.rest().await;
    if sound == Sound::Missing {
        let out = before.iter().chain(&lines).any(|l| l["event"] == "out_of_service" && l["reason"] == "sound_missing");
        assert!(out, "out of service for its sound: {before:?} {lines:?}");
    } else {
        assert!(lines.iter().any(|l| l["event"] == "ended"), "the wait ended: {lines:?}");
    }
    text_with(&browser, "alert-demo-kiosk-link", "Borne hors ligne").await;
    let help_gone = "return !document.querySelector('[data-testid=alert-demo-kiosk-help]');";
    page_until(&browser, "the call for help gone with the kiosk", help_gone).await;
    besse.close().await;
    browser.close().await;
}

/// The kiosk printed no `host_coming` yet (within a short look at what it
/// printed so far).
async fn kiosk_said_nothing_of_the_host(kiosk: &mut visio_tests::HeadlessKiosk) -> bool {
    kiosk.printed_so_far().await.iter().all(|l| l["event"] != "host_coming")
}
