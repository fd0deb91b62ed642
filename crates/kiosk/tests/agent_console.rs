//! The agent console end to end: the real hub serves the page to real
//! headless Chromium (fake camera and microphone), a real kiosk runs headless
//! with SANE's test scanner and a cupsd PDF queue, and the test drives the
//! page through its `data-testid` hooks as an agent would.

mod common;

use common::{AGENT, World};
use fantoccini::Locator;
use serde_json::{Value, json};
use visio_testkit::browser::Chromium;
use visio_testkit::pdf::{pdf_text, text_pdf};
use visio_testkit::wait::{eventually, init_tracing, wait_for, within};

fn testid(id: &str) -> String {
    format!("[data-testid={id}]")
}

/// Waits until the element is there and enabled, then clicks it.
async fn click(browser: &Chromium, id: &str) {
    let selector = testid(id);
    let element = eventually(&format!("{id} enabled"), || async {
        let element = browser.client.find(Locator::Css(&selector)).await.ok()?;
        (element.is_displayed().await.ok()? && element.is_enabled().await.ok()?).then_some(element)
    })
    .await;
    element.click().await.unwrap_or_else(|e| panic!("click {id}: {e}"));
}

async fn type_into(browser: &Chromium, id: &str, text: &str) {
    let element = within(id, browser.client.wait().for_element(Locator::Css(&testid(id)))).await.unwrap();
    element.send_keys(text).await.unwrap();
}

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
async fn an_agent_takes_a_call_and_drives_documents_in_chromium() {
    init_tracing();
    let world = World::start().await;
    let browser = Chromium::launch().await;

    // Log in, become available.
    browser.client.goto(&world.hub.url("/agent/")).await.unwrap();
    type_into(&browser, "login-user", AGENT.0).await;
    type_into(&browser, "login-password", AGENT.1).await;
    click(&browser, "login-submit").await;
    click(&browser, "available").await;
    page_until(&browser, "the agent available", "return document.querySelector('[data-testid=available]').checked;").await;

    // A resident asks for the demo service; the agent sees and takes them.
    let mut kiosk = world.kiosk("demo");
    let queued = kiosk.event("queued").await;
    let item = page_until(
        &browser,
        "the kiosk in the page's queue",
        "const li = document.querySelector('[data-testid=queue-item]'); return li && li.textContent;",
    )
    .await;
    assert!(item.as_str().is_some_and(|t| t.contains("Mairie de demo-kiosk")), "queue item: {item}");
    click(&browser, "take-next").await;
    kiosk.event("answered").await;

    // Video both ways.
    kiosk.event("connected").await;
    kiosk.event("first_remote_frame").await;
    let decoded = page_until(
        &browser,
        "the kiosk's video playing in remote-video",
        "const v = document.querySelector('[data-testid=remote-video]');
         if (!v || v.videoWidth === 0 || !state.call) return null;
         const stats = await state.call.pc.getStats();
         let frames = 0;
         stats.forEach(r => { if (r.type === 'inbound-rtp' && r.kind === 'video') frames = r.framesDecoded || 0; });
         return frames > 10 ? { width: v.videoWidth, height: v.videoHeight, frames } : null;",
    )
    .await;
    assert!(decoded["width"].as_u64().unwrap() >= 320, "remote video {decoded}");

    // A scan arrives in the page with the hash the kiosk reported.
    click(&browser, "request-scan").await;
    let sent = kiosk.event("scan_sent").await;
    let item = page_until(
        &browser,
        "the scan in the page",
        "const li = document.querySelector('[data-testid=scan-item][data-sha256]');
         return li && { sha256: li.dataset.sha256, size: Number(li.dataset.size), link: !!li.querySelector('a[download]') };",
    )
    .await;
    assert_eq!(item["sha256"], sent["sha256"], "the page holds the bytes the kiosk scanned");
    assert_eq!(item["size"], sent["size"]);
    assert_eq!(item["link"], true, "a download link is offered");

    // A PDF to print, chosen in the file input like an agent would.
    let docs = tempfile::tempdir().unwrap();
    let form = docs.path().join("attestation.pdf");
    std::fs::write(&form, text_pdf("Attestation CAF 2026")).unwrap();
    let input = browser.client.find(Locator::Css(&testid("print-file"))).await.unwrap();
    input.send_keys(form.to_str().unwrap()).await.unwrap();
    click(&browser, "send-print").await;
    let printed = kiosk.event("printed").await;
    assert_eq!(printed["name"], "attestation.pdf");
    let status = page_until(
        &browser,
        "the kiosk's answer in doc-status",
        "const s = document.querySelector('[data-testid=doc-status]').textContent; return s.includes('imprimé') && s;",
    )
    .await;
    assert!(status.as_str().unwrap().contains("attestation.pdf"), "{status}");
    let output = wait_for("the cups-pdf output", || world.printed_pdf()).await;
    let text = wait_for("the printed PDF's text", || Some(pdf_text(&output)).filter(|t| !t.trim().is_empty())).await;
    assert!(text.contains("Attestation CAF 2026"), "printed: {text:?}");

    // The agent ends the call: both sides back to idle, the log has it.
    click(&browser, "end-call").await;
    let ended = kiosk.event("ended").await;
    assert_eq!(ended["reason"], "agent_hung_up");
    let status = within("the kiosk exits", kiosk.child.wait()).await.unwrap();
    assert!(status.success(), "a normal end exits 0, got {status}");
    let idle = page_until(
        &browser,
        "the page back to the queue",
        "return document.getElementById('call').hidden && !state.call
           && document.querySelectorAll('[data-testid=scan-item]').length === 0
           && document.querySelector('[data-testid=remote-video]').srcObject === null;",
    )
    .await;
    assert_eq!(idle, json!(true));
    let session = queued["session"].as_str().unwrap().to_owned();
    let record = world
        .hub
        .wait_for_log("the session in the hub's log", |log| log.iter().find(|r| r.session == session).cloned())
        .await;
    assert_eq!(record.agent.as_deref(), Some(AGENT.0));
    assert_eq!(record.end_reason.as_deref(), Some("agent_hung_up"));

    browser.close().await;
    world.hub.stop().await;
}
