//! The agent console in real headless Chromium finds its call again: after
//! its kiosk drops and comes back, and after the agent reloads the page.
//! The kiosk is a protocol client, so the test sees exactly what the page
//! sends (no media flows; the page's side of it is still real).

mod common;

use common::*;
use serde_json::{Value, json};
use visio_protocol::*;
use visio_testkit::browser::Chromium;

/// Evaluates `script` in the page until it returns something other than
/// `null` or `false`.
async fn page_until(browser: &Chromium, what: &str, script: &str) -> Value {
    eventually(what, || async {
        let value = browser.run(script, Value::Null).await;
        (!value.is_null() && value != json!(false)).then_some(value)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_re_attaches_after_a_kiosk_drop_and_a_page_reload() {
    visio_testkit::wait::init_tracing();
    let hub = TestHub::start().await;
    let secret = hub.enroll("besse");
    hub.add_agent("claire", "claire-password", &["demo"]);
    let browser = Chromium::launch().await;

    browser.client.goto(&hub.url("/agent/")).await.unwrap();
    page_until(
        &browser,
        "signed in",
        "const form = document.getElementById('login-form');
         if (!document.getElementById('desk').hidden) return true;
         if (!document.getElementById('login').hidden && !form.dataset.sent) {
           document.getElementById('login-user').value = 'claire';
           document.getElementById('login-password').value = 'claire-password';
           form.dataset.sent = '1';
           form.requestSubmit();
         }
         return false;",
    )
    .await;
    page_until(
        &browser,
        "available",
        "const box = document.getElementById('available');
         if (!box.checked && state.ws && state.ws.readyState === 1) box.click();
         return box.checked && state.available;",
    )
    .await;

    let mut kiosk = Kiosk::connect(&hub, "besse", &secret).await;
    let (session, _) = kiosk.queue("demo").await;
    page_until(
        &browser,
        "the call taken",
        "const b = document.getElementById('take-next');
         if (!state.call && !b.disabled) b.click();
         return !!state.call;",
    )
    .await;
    let token = match kiosk.wait_for("call_answered", |m| matches!(m, HubToKiosk::CallAnswered { .. })).await {
        HubToKiosk::CallAnswered { resume_token: Some(token), .. } => token,
        other => panic!("expected a token: {other:?}"),
    };
    let stored = page_until(&browser, "the token kept in the tab", "return sessionStorage.getItem('visio.resume');").await;
    let stored: Value = serde_json::from_str(stored.as_str().unwrap()).unwrap();
    assert_eq!((stored["session"].as_str(), stored["token"].as_str()), (Some(session.as_str()), Some(token.expose())));

    // The kiosk drops: the page says so, and stops saying it when it is back.
    kiosk.close().await;
    let notice = page_until(
        &browser,
        "the kiosk shown away",
        "const p = document.querySelector('[data-testid=peer-status]'); return !p.hidden && p.textContent;",
    )
    .await;
    assert!(notice.as_str().unwrap().contains("La borne a perdu la connexion"), "{notice}");
    let mut kiosk = Kiosk::connect_resuming(&hub, "besse", &secret, Some(token.clone())).await;
    assert!(matches!(kiosk.next().await, HubToKiosk::CallResumed { .. }));
    page_until(&browser, "the kiosk shown back", "return document.querySelector('[data-testid=peer-status]').hidden;").await;

    // A reload: the page re-attaches with the token from sessionStorage and
    // asks the kiosk for a fresh offer on a new peer connection.
    browser.client.refresh().await.unwrap();
    assert_eq!(kiosk.next().await, HubToKiosk::PeerAway { session: session.clone() });
    assert_eq!(kiosk.next().await, HubToKiosk::PeerBack { session: session.clone() });
    assert_eq!(kiosk.next().await, HubToKiosk::Signal { session: session.clone(), signal: Signal::Restart });
    let shown = page_until(
        &browser,
        "the call back on screen with a quality figure",
        "const q = document.querySelector('[data-testid=quality]');
         return !document.getElementById('call').hidden && state.call && state.call.pc && q.dataset.quality
           && { quality: q.dataset.quality, title: q.title, text: q.textContent };",
    )
    .await;
    assert!(["good", "fair", "poor"].contains(&shown["quality"].as_str().unwrap()), "{shown}");
    assert!(shown["title"].as_str().unwrap().contains("aller-retour"), "{shown}");

    // The call ends: the token goes with it.
    kiosk.send(KioskToHub::HangUp { session: session.clone() }).await;
    page_until(
        &browser,
        "the page back to the queue, token gone",
        "return document.getElementById('call').hidden && !state.call && sessionStorage.getItem('visio.resume') === null;",
    )
    .await;
    browser.close().await;
    hub.stop().await;
}
