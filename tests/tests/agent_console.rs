//! The agent console end to end: the real hub serves the page to real
//! headless Chromium and Firefox ESR (fake camera and microphone), a real
//! kiosk runs headless with SANE's test scanner and a cupsd PDF queue, and
//! the test drives the page through its `data-testid` hooks as an agent
//! would.

use visio_tests::console::scan_from_the_page;
use visio_tests::{AGENT, World};
use fantoccini::Locator;
use serde_json::{Value, json};
use visio_testkit::browser::{Browser, Kind};
use visio_testkit::page::{click, page_until, sign_in_agent, testid};
use visio_testkit::pdf::{pdf_text, text_pdf};
use visio_testkit::wait::{init_tracing, wait_for, within};

/// The kiosk's video plays in the page: its size and frames decoded.
async fn kiosk_video_plays(browser: &Browser) -> Value {
    page_until(
        browser,
        "the kiosk's video playing in remote-video",
        "const v = document.querySelector('[data-testid=remote-video]');
         if (!v || v.videoWidth === 0 || !state.call || !state.call.pc) return null;
         const stats = await state.call.pc.getStats();
         let frames = 0;
         stats.forEach(r => { if (r.type === 'inbound-rtp' && r.kind === 'video') frames = r.framesDecoded || 0; });
         return frames > 10 ? { width: v.videoWidth, height: v.videoHeight, frames } : null;",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_takes_a_call_and_drives_documents_in_chromium() {
    takes_a_call_and_drives_documents(Kind::Chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_takes_a_call_and_drives_documents_in_firefox_esr() {
    takes_a_call_and_drives_documents(Kind::Firefox).await;
}

async fn takes_a_call_and_drives_documents(kind: Kind) {
    init_tracing();
    let world = World::start().await;
    let browser = Browser::launch_kind(kind).await;
    sign_in_agent(&browser, &world.hub, AGENT).await;

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
    let decoded = kiosk_video_plays(&browser).await;
    assert!(decoded["width"].as_u64().unwrap() >= 320, "remote video {decoded}");

    // A scan arrives in the page with the hash the kiosk reported: the
    // resident is told first, the agent scans once the paper is down.
    let (sent, item) = scan_from_the_page(&browser, &mut kiosk).await;
    assert_eq!(item["sha256"], sent["sha256"], "the page holds the bytes the kiosk scanned");
    assert_eq!(item["size"], sent["size"]);
    assert_eq!(item["link"], true, "a download link is offered");

    // A PDF to print, chosen in the file input like an agent would.
    let docs = tempfile::tempdir().unwrap();
    let form = docs.path().join("attestation.pdf");
    std::fs::write(&form, text_pdf("Attestation CAF 2026")).unwrap();
    let input = browser.client.find(Locator::Css(&testid("doc-file"))).await.unwrap();
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

/// The agent reloads the console mid-call: the page finds its call again
/// (its token is in the tab's session storage), the kiosk makes a new
/// connection for it, and the video plays again; the call stays one call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_agent_page_gets_back_into_its_call() {
    reloaded_page_gets_back_into_its_call(Kind::Chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_agent_page_gets_back_into_its_call_in_firefox_esr() {
    reloaded_page_gets_back_into_its_call(Kind::Firefox).await;
}

async fn reloaded_page_gets_back_into_its_call(kind: Kind) {
    init_tracing();
    let world = World::start().await;
    let browser = Browser::launch_kind(kind).await;
    sign_in_agent(&browser, &world.hub, AGENT).await;
    let mut kiosk = world.kiosk("demo");
    let queued = kiosk.event("queued").await;
    let session = queued["session"].as_str().unwrap().to_owned();
    click(&browser, "take-next").await;
    kiosk.event("first_remote_frame").await;
    kiosk_video_plays(&browser).await;
    // The page says how the connection is, from getStats(): on loopback,
    // good (once the video runs at its rate), figures in its tooltip.
    let quality = page_until(
        &browser,
        "a good connection shown",
        "const q = document.querySelector('[data-testid=quality][data-quality=good]'); return q && { text: q.textContent, title: q.title };",
    )
    .await;
    assert_eq!(quality["text"], "Bonne connexion");
    assert!(quality["title"].as_str().is_some_and(|t| t.contains("images/s")), "{quality}");
    // And the kiosk's own measure of what it receives from the agent
    // (`link_quality` on the documents channel): good on loopback too.
    let theirs = page_until(
        &browser,
        "the kiosk's side shown",
        "const q = document.querySelector('[data-testid=kiosk-quality][data-quality=good]');
         return q && !q.hidden && { text: q.textContent, title: q.title };",
    )
    .await;
    assert_eq!(theirs["text"], "Chez l'usager : bonne");
    assert!(theirs["title"].as_str().is_some_and(|t| t.contains("Ce que la borne reçoit de vous")), "{theirs}");

    browser.client.refresh().await.unwrap();
    kiosk.event("agent_away").await;
    kiosk.event("agent_back").await;
    // The old connection is gone with the old page: a new one, new video.
    kiosk.event("first_remote_frame").await;
    let decoded = kiosk_video_plays(&browser).await;
    assert!(decoded["width"].as_u64().unwrap() >= 320, "remote video after the reload {decoded}");

    click(&browser, "end-call").await;
    let ended = kiosk.event("ended").await;
    assert_eq!((ended["session"].as_str(), ended["reason"].as_str()), (Some(session.as_str()), Some("agent_hung_up")));
    assert!(within("the kiosk exits", kiosk.child.wait()).await.unwrap().success());
    let records = world
        .hub
        .wait_for_log("the call's end in the log", |log| {
            let ours: Vec<_> = log.iter().filter(|r| r.session == session).cloned().collect();
            ours.iter().any(|r| r.end_reason.is_some()).then_some(ours)
        })
        .await;
    assert_eq!(records.len(), 1, "one record for the call: {records:?}");
    assert_eq!(records[0].end_reason.as_deref(), Some("agent_hung_up"));

    browser.close().await;
    world.hub.stop().await;
}
