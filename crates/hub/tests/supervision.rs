//! The supervisor's board (`/supervision/`) end to end: the real hub over
//! TLS serves the page to headless Chromium, signed in as a supervisor; a
//! kiosk and an agent are real protocol clients. The board follows one
//! visit: the resident waiting, the agent in the call, the call counted in
//! today's figures with its rating. Pushed by the hub, never polled. Once
//! on one hub (SQLite), once across two hub processes on PostgreSQL and
//! NATS (the kiosk and the agent on one, the page on the other). axe-core
//! finds no WCAG 2.1 AA violation.
//!
//! `VISIO_SCREENSHOTS=<dir>` saves the page at 1366×768 there as
//! `supervision-<state>.png` (docs/screenshots holds the committed ones).

use serde_json::{Value, json};
use visio_hub::roles::Role;
use visio_protocol::{AgentToHub, HubToKiosk, KioskToHub, Rating, Secret};
use visio_testkit::browser::{Browser, Kind};
use visio_testkit::cluster::Cluster;
use visio_testkit::hub::{Agent, Kiosk, TestHub};
use visio_testkit::page::{click, page_until, screenshot, text_with, type_into};
use visio_testkit::wait::init_tracing;

const SUPERVISOR: (&str, &str) = ("helene", "mot de passe d'Hélène");
const AGENT: (&str, &str) = ("marie", "mot de passe de Marie");

/// The text of `column` in the board's row `row`, once it contains `part`.
async fn cell(browser: &Browser, row: &str, column: &str, part: &str) -> String {
    let script = format!(
        "const e = document.querySelector('[data-testid={row}] [data-testid={column}]'); const t = e && e.textContent.trim();
         return (t && t.includes({})) ? t : null;",
        json!(part)
    );
    page_until(browser, &format!("{row} {column} saying {part:?}"), &script).await.as_str().unwrap().to_owned()
}

/// What `/ws/supervisor` first says to this page's cookie after a hello:
/// the message's type, or "closed".
const FIRST_WORD: &str = "return await new Promise(done => {
    const ws = new WebSocket(`wss://${location.host}/ws/supervisor`);
    ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', protocol: 2 }));
    ws.onmessage = (e) => { done(JSON.parse(e.data).type); ws.close(); };
    ws.onclose = () => done('closed');
});";

/// Signs in once the page shows its form (it first asks the hub who is
/// signed in).
async fn sign_in(browser: &Browser, (login, password): (&str, &str)) {
    page_until(browser, "the sign-in form", "return !document.getElementById('login').hidden;").await;
    type_into(browser, "login-user", login).await;
    type_into(browser, "login-password", password).await;
    click(browser, "login-submit").await;
}

async fn no_accessibility_violation(browser: &Browser, state: &str) {
    let violations = browser.accessibility_violations().await;
    assert!(violations.is_empty(), "axe-core ({state}): {:#}", Value::Array(violations));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_follows_a_call_from_waiting_to_ended() {
    init_tracing();
    let hub = TestHub::start().await;
    hub.add_console_account(SUPERVISOR.0, SUPERVISOR.1, Role::Supervisor);
    hub.add_console_account("hote", "mot de passe de l'hôte", Role::Host);
    hub.add_agent(AGENT.0, AGENT.1, &["demo"]);
    let besse = hub.enroll("besse");
    scene(&hub, &hub, &besse, true, Kind::Chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_follows_a_call_on_another_hub_process_over_postgresql_and_nats() {
    init_tracing();
    let cluster = Cluster::start(2).await;
    cluster.add_console_account(SUPERVISOR.0, SUPERVISOR.1, Role::Supervisor).await;
    cluster.add_agent(AGENT.0, AGENT.1, &["demo"]).await;
    let besse = cluster.enroll("besse").await;
    // The page on process 1; the kiosk and the agent on process 0. Firefox
    // ESR here, Chromium above: the board in both browsers (issue 24 item 10).
    scene(&cluster.hub(1), &cluster.hub(0), &besse, false, Kind::Firefox).await;
}

/// The supervisor signs in on `page_hub`; the kiosk and the agent use
/// `visit_hub`. `refusals`: also check that a host's account is refused,
/// and take the screenshots.
async fn scene(page_hub: &TestHub, visit_hub: &TestHub, besse: &Secret, refusals: bool, kind: Kind) {
    let browser = Browser::launch_kind(kind).await;
    browser.set_viewport(1366, 768).await;
    browser.client.goto(&page_hub.url("/supervision/")).await.unwrap();
    if refusals {
        // A host's account has no board: the page says so, the socket refuses it.
        sign_in(&browser, ("hote", "mot de passe de l'hôte")).await;
        text_with(&browser, "login-error", "n'a pas accès à la supervision").await;
        assert_eq!(browser.run(FIRST_WORD, Value::Null).await, json!("closed"), "the socket is not for a host");
        browser.client.goto(&page_hub.url("/supervision/")).await.unwrap();
    }
    sign_in(&browser, SUPERVISOR).await;
    text_with(&browser, "who-name", SUPERVISOR.0).await;
    if refusals {
        assert_eq!(browser.run(FIRST_WORD, Value::Null).await, json!("welcome"), "the socket is the supervisor's");
    }
    cell(&browser, "line-demo", "waiting", "0").await;
    text_with(&browser, "agents-empty", "Aucun conseiller").await;

    // Marie signs in and is available; a resident waits.
    let mut marie = Agent::connect(visit_hub, AGENT.0, AGENT.1).await;
    cell(&browser, "agent-marie", "state", "Disponible").await;
    let mut kiosk = Kiosk::connect(visit_hub, "besse", besse).await;
    let (session, _) = kiosk.queue("demo").await;
    cell(&browser, "line-demo", "waiting", "1").await;
    // The longest wait counts up by the second on the page.
    cell(&browser, "line-demo", "longest", " s").await;
    no_accessibility_violation(&browser, "a resident waiting").await;
    if refusals {
        screenshot(&browser, "supervision-waiting").await;
    }

    // Marie takes the call.
    assert_eq!(marie.take_next().await, session);
    cell(&browser, "agent-marie", "state", "En appel · Démo").await;
    cell(&browser, "line-demo", "waiting", "0").await;
    cell(&browser, "line-demo", "longest", "—").await;
    if refusals {
        screenshot(&browser, "supervision-in-call").await;
    }

    // The call ends; the resident rates it: counted today, with the rating.
    marie.send(AgentToHub::HangUp { session: session.clone() }).await;
    kiosk.wait_for("call_ended", |m| matches!(m, HubToKiosk::CallEnded { .. })).await;
    kiosk.send(KioskToHub::Rate { session, rating: Rating::Happy }).await;
    cell(&browser, "agent-marie", "state", "Disponible").await;
    cell(&browser, "line-demo", "answered", "1").await;
    for (rating, n) in [("happy", "1"), ("neutral", "0"), ("unhappy", "0")] {
        cell(&browser, "line-demo", rating, n).await;
    }
    cell(&browser, "line-demo", "abandoned", "0").await;
    cell(&browser, "agent-marie", "calls", "1").await;
    cell(&browser, "line-demo", "median", " s").await;
    text_with(&browser, "today-date", "mis à jour en direct").await;
    no_accessibility_violation(&browser, "a call counted").await;
    if refusals {
        screenshot(&browser, "supervision").await;
    }
    // The same board in English, from its catalogue.
    click(&browser, "lang-en").await;
    text_with(&browser, "today-date", "updated live").await;
    cell(&browser, "agent-marie", "state", "Available").await;
    click(&browser, "lang-fr").await;

    // Marie signs out: she leaves the board.
    marie.close().await;
    page_until(&browser, "Marie gone", "return !document.querySelector('[data-testid=agent-marie]');").await;
    kiosk.close().await;
    browser.close().await;
}
