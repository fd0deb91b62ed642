//! The admin console (`/admin/`) end to end: the real hub over TLS on
//! loopback serves the page to headless Chromium; kiosks and an agent are
//! real protocol clients. Each test drives the page through its
//! `data-testid` hooks as an admin would, and axe-core finds no WCAG 2.1 AA
//! violation (contrast included) in each state it checks.
//!
//! `VISIO_SCREENSHOTS=<dir>` saves the page at 1366×768 there as
//! `admin-<state>.png` (docs/screenshots holds the committed ones).

use serde_json::{Value, json};
use visio_hub::roles::Role;
use visio_config::bundle::Bundle;
use visio_protocol::{CallLink, DeviceHealth, DeviceState, DeviceStatus, HubToKiosk};
use visio_testkit::browser::Browser;
// The out-of-paper printer comes in a protocol client's heartbeat here; the
// whole path (a real kiosk probing an emulated driverless printer whose tray
// is empty, then this console) is crates/kiosk/tests/driverless.rs: the hub
// does not depend on the kiosk.
use visio_testkit::hub::{Agent, Kiosk, TestHub, admin_key, printer_out_of_paper, signed_demo};
use visio_testkit::page::{click, page_until, screenshot, testid, text_with, type_into};
use visio_testkit::wait::init_tracing;

const ADMIN: (&str, &str) = ("claire", "mot de passe de Claire");
const HOST: (&str, &str) = ("hote-besse", "mot de passe de l'accueil");

/// The text of a shown element, once it has some.
async fn text_of(browser: &Browser, id: &str) -> String {
    let script = format!("const e = document.querySelector('{}'); return (e && e.offsetParent && e.textContent.trim()) || null;", testid(id));
    page_until(browser, &format!("{id} shown with a text"), &script).await.as_str().unwrap().to_owned()
}

async fn no_accessibility_violation(browser: &Browser, state: &str) {
    let violations = browser.accessibility_violations().await;
    assert!(violations.is_empty(), "axe-core ({state}): {:#}", Value::Array(violations));
}

async fn sign_in(browser: &Browser, hub: &TestHub, (login, password): (&str, &str)) {
    browser.client.goto(&hub.url("/admin/")).await.unwrap();
    type_into(browser, "login-user", login).await;
    type_into(browser, "login-password", password).await;
    click(browser, "login-submit").await;
    text_of(browser, "who-name").await;
}

/// The fleet's rows as (kiosk, concerns shown), top to bottom.
async fn fleet_rows(browser: &Browser) -> Vec<(String, String)> {
    let rows = browser
        .run(
            "return [...document.querySelectorAll('[data-testid=fleet-row]')]
                .map(r => [r.dataset.kiosk, r.querySelector('[data-testid=fleet-attention]').textContent]);",
            Value::Null,
        )
        .await;
    serde_json::from_value(rows).unwrap()
}

/// Besse's heartbeat: its printer out of paper (the printer's own words)
/// and its microphone silent (a fault the kiosk measured, with its code).
fn besse_devices() -> DeviceHealth {
    let silent = DeviceStatus::new(DeviceState::Error, Some("the microphone sends silence (muted, or unplugged)"))
        .with_code(Some(visio_protocol::fault::SILENT));
    DeviceHealth { microphone: silent, ..printer_out_of_paper() }
}

/// Sign-in (refused, then accepted), the fleet with the kiosks needing
/// attention first, a kiosk going offline, and a kiosk's page with its
/// devices and calls; a host's role reaches the fleet but cannot publish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_signs_in_and_watches_the_fleet() {
    init_tracing();
    let hub = TestHub::start().await;
    hub.add_console_account(ADMIN.0, ADMIN.1, Role::Admin);
    hub.add_console_account_for(HOST.0, HOST.1, Role::Host, &["besse"]);
    hub.add_agent("agent", "mot de passe agent", &["demo"]);
    let _ardes = hub.enroll("ardes"); // enrolled, never connected
    let besse_secret = hub.enroll("besse");
    let tauves_secret = hub.enroll("tauves");
    let mut besse = Kiosk::connect(&hub, "besse", &besse_secret).await;
    besse.heartbeat(1, None, Some(besse_devices())).await;
    let mut tauves = Kiosk::connect(&hub, "tauves", &tauves_secret).await;
    let ok = DeviceStatus::new(DeviceState::Ok, None);
    let healthy = DeviceHealth { camera: ok.clone(), microphone: ok.clone(), scanner: ok.clone(), printer: ok, speaker: None, sound_output: None };
    tauves.heartbeat(1, None, Some(healthy)).await;
    // What besse's last call measured comes with its heartbeats.
    let measured = CallLink { uplink_kbps: 2400, rtt_ms: Some(52) };
    besse.heartbeat_after_call(2, None, Some(besse_devices()), Some(measured)).await;
    // One call at besse today: requested, answered.
    let mut agent = Agent::connect(&hub, "agent", "mot de passe agent").await;
    besse.queue("demo").await;
    agent.take_next().await;

    let browser = Browser::launch().await;
    browser.set_viewport(1366, 768).await;
    browser.client.goto(&hub.url("/admin/")).await.unwrap();
    text_of(&browser, "login-submit").await;
    no_accessibility_violation(&browser, "signed out").await;
    screenshot(&browser, "admin-signed-out").await;

    // A wrong password is refused in French.
    type_into(&browser, "login-user", ADMIN.0).await;
    type_into(&browser, "login-password", "pas le bon").await;
    click(&browser, "login-submit").await;
    assert_eq!(text_of(&browser, "login-error").await, "Identifiant ou mot de passe non reconnu.");

    sign_in(&browser, &hub, ADMIN).await;
    assert_eq!(text_of(&browser, "who-name").await, "claire (test) · administrateur");
    // Offline first, then the device fault; the healthy kiosk last.
    page_until(&browser, "three kiosks in the fleet", "return document.querySelectorAll('[data-testid=fleet-row]').length === 3;").await;
    assert_eq!(fleet_rows(&browser).await, [
        ("ardes".to_owned(), "hors ligne".to_owned()),
        ("besse".to_owned(), "périphérique en défaut".to_owned()),
        ("tauves".to_owned(), "rien à signaler".to_owned()),
    ]);
    assert_eq!(text_of(&browser, "fleet-summary").await, "2 borne(s) connectée(s) sur 3 inscrite(s) · 2 à voir");
    no_accessibility_violation(&browser, "fleet").await;
    screenshot(&browser, "admin-fleet").await;

    // Besse goes offline: it moves up, both concerns shown.
    besse.close().await;
    page_until(
        &browser,
        "besse shown offline",
        "const r = document.querySelector('[data-testid=fleet-row][data-kiosk=besse]');
         return r && r.textContent.includes('hors ligne');",
    )
    .await;
    assert_eq!(fleet_rows(&browser).await[..2], [
        ("besse".to_owned(), "hors lignepériphérique en défaut".to_owned()),
        ("ardes".to_owned(), "hors ligne".to_owned()),
    ]);

    // Besse's page: its printer's last probe, its call today.
    browser.client.goto(&hub.url("/admin/#/kiosk/besse")).await.unwrap();
    assert_eq!(text_of(&browser, "kiosk-title").await, "Mairie de besse · borne besse");
    let printer = text_of(&browser, "device-printer").await;
    assert!(printer.contains("en défaut") && printer.contains("media-empty: plus de papier"), "printer row: {printer}");
    let microphone = text_of(&browser, "device-microphone").await;
    assert!(microphone.contains("Le micro ne capte aucun son (coupé ou débranché)") && !microphone.contains("sends silence"), "microphone row: {microphone}");
    assert_eq!(text_of(&browser, "kiosk-calls-today").await, "1 entretien(s) sur 1 demande(s)");
    assert_eq!(text_of(&browser, "kiosk-rtt").await, "25 ms");
    assert_eq!(text_of(&browser, "kiosk-uplink").await, "2,4 Mbit/s");
    assert_eq!(text_of(&browser, "kiosk-call-rtt").await, "52 ms");
    no_accessibility_violation(&browser, "kiosk page").await;
    screenshot(&browser, "admin-kiosk").await;

    // The same page in English, from the catalogue.
    click(&browser, "lang-en").await;
    page_until(&browser, "the page in English", "return document.querySelector('[data-testid=kiosk-calls-today]').textContent === '1 interview(s) of 1 request(s)';").await;
    assert_eq!(text_of(&browser, "kiosk-uplink").await, "2.4 Mbit/s");
    assert!(text_of(&browser, "device-microphone").await.contains("The microphone picks up no sound (muted or unplugged)"));
    click(&browser, "lang-fr").await;

    // Signing out ends the session: the API refuses the old cookie.
    click(&browser, "logout").await;
    text_of(&browser, "login-submit").await;
    let me = browser.run("const r = await fetch('/api/admin/me'); return r.status;", Value::Null).await;
    assert_eq!(me, json!(401));
    browser.close().await;

    // A host sees the fleet but may not publish a configuration.
    let http = hub.http();
    let signed = http.post(hub.url("/api/admin/login")).json(&json!({"login": HOST.0, "password": HOST.1})).send().await.unwrap();
    assert_eq!(signed.status(), 200);
    // Besse's host sees Besse alone.
    let fleet: Value = http.get(hub.url("/api/fleet")).send().await.unwrap().json().await.unwrap();
    let seen: Vec<&str> = fleet["kiosks"].as_array().unwrap().iter().map(|k| k["kiosk_id"].as_str().unwrap()).collect();
    assert_eq!(seen, ["besse"]);
    assert_eq!(http.get(hub.url("/api/admin/kiosks/besse")).send().await.unwrap().status(), 200);
    assert_eq!(http.get(hub.url("/api/admin/kiosks/ardes")).send().await.unwrap().status(), 404);
    let publish = http.put(hub.url("/api/admin/config")).body("{}").send().await.unwrap();
    assert_eq!(publish.status(), 403);
    let body: Value = publish.json().await.unwrap();
    assert_eq!(body["code"], "forbidden", "{body}");
    tauves.close().await;
    hub.stop().await;
}

/// The configuration page: what is in force and what changed, an upload
/// refused for a bad signature (the hub's own message shown, the same as
/// `visio-admin`'s) and a signed one published and announced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_uploads_a_configuration_signed_offline() {
    init_tracing();
    let hub = TestHub::start().await;
    hub.add_console_account(ADMIN.0, ADMIN.1, Role::Admin);
    let key = admin_key(3);
    let token = hub.admin(&key);
    assert_eq!(hub.publish(Some(&token), &signed_demo(&key, 100).to_json()).await.0, 201);
    let secret = hub.enroll("besse");
    let mut besse = Kiosk::connect(&hub, "besse", &secret).await;

    let files = tempfile::tempdir().unwrap();
    let tampered = signed_demo(&key, 101).to_json().replacen("\"max_video_kbps\": 1500", "\"max_video_kbps\": 8000", 1);
    assert!(tampered.contains("8000"), "the demo kiosk caps video at 1500 kbit/s");
    let tampered_path = files.path().join("tampered.signed.json");
    std::fs::write(&tampered_path, tampered).unwrap();
    let good = {
        let mut payload = signed_demo(&key, 1).payload;
        payload["kiosks"]["besse"]["idle_timeout_seconds"] = 120.into();
        Bundle::sign_payload(payload, &key, 101, jiff::Timestamp::now()).to_json()
    };
    let good_path = files.path().join("kiosk-config.signed.json");
    std::fs::write(&good_path, good).unwrap();

    let browser = Browser::launch().await;
    browser.set_viewport(1366, 768).await;
    sign_in(&browser, &hub, ADMIN).await;
    click(&browser, "nav-config").await;
    let current = text_of(&browser, "config-current").await;
    assert!(current.starts_with("Version 100, publiée par tester"), "{current}");

    // A bundle changed after signing: refused, nothing changes.
    type_into(&browser, "upload-file", tampered_path.to_str().unwrap()).await;
    click(&browser, "upload-submit").await;
    assert_eq!(
        text_of(&browser, "upload-refused").await,
        "Signature invalide : le fichier a été modifié après sa signature. Refusée ; la configuration en service reste."
    );
    let detail = text_of(&browser, "upload-detail").await;
    assert!(detail.contains("bad signature: the bundle was changed after it was signed"), "{detail}");
    assert_eq!(hub.store.published_config().unwrap().unwrap().meta.version, 100);
    no_accessibility_violation(&browser, "upload refused").await;
    screenshot(&browser, "admin-config-refused").await;

    // The signed one: published by the account, announced to besse, and
    // its change listed.
    type_into(&browser, "upload-file", good_path.to_str().unwrap()).await;
    click(&browser, "upload-submit").await;
    assert_eq!(
        text_with(&browser, "upload-result", "publiée").await,
        "Version 101 publiée ; annoncée à 1 borne(s) connectée(s)."
    );
    besse.wait_for("version 101 announced", |m| matches!(m, HubToKiosk::ConfigAvailable { version: 101, .. })).await;
    let current = text_with(&browser, "config-current", "Version 101").await;
    assert!(current.starts_with("Version 101, publiée par claire"), "{current}");
    assert!(text_of(&browser, "config-previous").await.starts_with("Elle a remplacé la version 100"));
    let change = text_of(&browser, "config-change").await;
    assert!(change.contains("kiosks.besse.idle_timeout_seconds") && change.contains("modifié"), "{change}");
    no_accessibility_violation(&browser, "published").await;
    screenshot(&browser, "admin-config").await;
    browser.close().await;
    besse.close().await;
    hub.stop().await;
}

/// Usage for two months of generated visits: charts drawn by the hub, the
/// table of the same figures, and the CSV `visio-admin stats` writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_reads_two_months_of_usage_as_charts_and_csv() {
    init_tracing();
    let hub = TestHub::start().await;
    hub.add_console_account("superviseur", "mot de passe superviseur", Role::Supervisor);
    let key = admin_key(4);
    let token = hub.admin(&key);
    assert_eq!(hub.publish(Some(&token), &signed_demo(&key, 100).to_json()).await.0, 201);
    let visits = visio_testkit::sessions::generate(&hub.store, "2026-09-01T00:00:00Z".parse().unwrap(), 61);
    let config = visio_config::ConfigSet::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kiosk-config")).unwrap();
    let (from, to) = ("2026-09-01".parse().unwrap(), "2026-10-31".parse().unwrap());
    let expected = visio_stats::report(&hub.store.session_log().unwrap(), from, to, &config);
    assert_eq!(expected.total.requests as usize, visits);

    let browser = Browser::launch().await;
    browser.set_viewport(1366, 768).await;
    sign_in(&browser, &hub, ("superviseur", "mot de passe superviseur")).await;
    // A supervisor sees usage, configuration and the live supervision page, and cannot publish.
    let links = browser.run("return [...document.querySelectorAll('#nav a')].filter(a => !a.hidden).map(a => a.dataset.testid);", Value::Null).await;
    assert_eq!(links, json!(["nav-fleet", "nav-config", "nav-usage", "nav-supervision"]));
    click(&browser, "nav-usage").await;
    browser
        .run(
            "document.getElementById('usage-from').value = '2026-09-01';
             document.getElementById('usage-to').value = '2026-10-31'; return true;",
            Value::Null,
        )
        .await;
    click(&browser, "usage-show").await;
    let months = page_until(
        &browser,
        "two months in the table",
        "const rows = [...document.querySelectorAll('[data-testid=usage-row][data-group=month]')].map(r => r.dataset.key);
         return rows.length === 2 ? rows : null;",
    )
    .await;
    assert_eq!(months, json!(["2026-09", "2026-10"]));
    let total = text_with(&browser, "usage-total", "entretien").await;
    let km = expected.total.km_saved.round() as u64;
    assert!(
        total.starts_with(&format!("{} entretien(s) sur {} demande(s)", expected.total.interviews, expected.total.requests)),
        "{total} (expected {} interviews, {km} km)",
        expected.total.interviews
    );
    // Four charts, each an SVG the browser drew.
    let drawn = page_until(
        &browser,
        "four charts drawn",
        "const imgs = [...document.querySelectorAll('[data-testid=chart] img')];
         return imgs.length === 4 && imgs.every(i => i.complete && i.naturalWidth > 0) ? imgs.map(i => i.alt) : null;",
    )
    .await;
    assert_eq!(drawn[0], "Entretiens par mois");
    // The CSV download is visio-admin's CSV of the same log.
    let csv = browser.run("const r = await fetch(document.querySelector('[data-testid=usage-csv]').href); return await r.text();", Value::Null).await;
    assert_eq!(csv.as_str().unwrap(), expected.to_csv());
    no_accessibility_violation(&browser, "usage").await;
    screenshot(&browser, "admin-usage").await;
    browser.close().await;

    // A CAF agent's account sees the CAF's figures only.
    hub.add_console_account_scoped("agent-caf", "mot de passe agent", Role::Agent, &[], &["caf"]);
    let http = hub.http();
    let signed = http.post(hub.url("/api/admin/login")).json(&json!({"login": "agent-caf", "password": "mot de passe agent"})).send().await.unwrap();
    assert_eq!(signed.status(), 200);
    let caf: Value = http.get(hub.url("/api/admin/usage?from=2026-09-01&to=2026-10-31")).send().await.unwrap().json().await.unwrap();
    let services: Vec<&str> = caf["by_service"].as_array().unwrap().iter().map(|r| r["key"].as_str().unwrap()).collect();
    assert_eq!(services, ["caf"]);
    let caf_row = expected.by_service.iter().find(|r| r.key == "caf").unwrap();
    assert_eq!((caf["total"]["requests"].as_u64(), caf["total"]["interviews"].as_u64()), (Some(caf_row.requests.into()), Some(caf_row.interviews.into())));
    assert_eq!(http.get(hub.url("/api/fleet")).send().await.unwrap().status(), 403, "an agent has no fleet");
    hub.stop().await;
}

/// Guessing a console password is slowed down like an agent's, on its
/// own counters: the agent of the same login still signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_sign_in_is_throttled_apart_from_agents() {
    init_tracing();
    let hub = TestHub::start().await;
    hub.add_console_account(ADMIN.0, ADMIN.1, Role::Admin);
    hub.add_agent(ADMIN.0, "mot de passe agent", &["caf"]);
    let http = hub.http();
    let mut statuses = Vec::new();
    // Five free failures, then delays that double: a refusal comes soon.
    for _ in 0..12 {
        let r = http.post(hub.url("/api/admin/login")).json(&json!({"login": ADMIN.0, "password": "devine"})).send().await.unwrap();
        let status = r.status().as_u16();
        statuses.push(status);
        if status == 429 {
            assert!(r.headers().get("retry-after").is_some(), "a refusal says when to try again");
            let body: Value = r.json().await.unwrap();
            assert!(body["error"].as_str().unwrap().starts_with("too many failed attempts; try again in"), "{body}");
            break;
        }
    }
    assert_eq!(statuses[..5], [401; 5], "{statuses:?}");
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    // The agent of the same login is not held up by the console's guesses.
    Agent::sign_in(&hub, ADMIN.0, "mot de passe agent").await.expect("the agent's own sign-in is not throttled by the console's");
    hub.stop().await;
}
