//! Scans at the agent console, end to end in headless Chromium: the real
//! hub over TLS serves the page, a real headless kiosk scans with SANE's
//! test backend. The agent asks for a scan (the resident is told first),
//! scans two pages, sees each preview, redoes the first, chooses the
//! resolution with its expected size and time, and receives one PDF with a
//! meaningful name. The scan stays in the console after the call ends and
//! across a reload (IndexedDB, this browser only), with a warning, until
//! the agent dismisses it; the call's document history is shown.
//!
//! `VISIO_SCREENSHOTS=<dir>` saves the console's scan and document panels
//! as `console-scan.png` and `console-kept.png`.

use visio_tests::{AGENT, World};
use serde_json::{Value, json};
use visio_testkit::browser::Browser;
use visio_testkit::page::{assert_call_card_fits, click, page_until, screenshot, sign_in_agent};
use visio_testkit::wait::{init_tracing, within};

/// Page `page`'s preview: the transfer id it came as, once its picture decoded.
async fn preview(browser: &Browser, page: u32, not: &str) -> String {
    let script = format!(
        "const li = document.querySelector('[data-testid=scan-page][data-page=\"{page}\"][data-preview]');
         const img = li && li.querySelector('img');
         return li && li.dataset.preview !== '{not}' && img.complete && img.naturalWidth > 0 && li.dataset.preview;"
    );
    page_until(browser, &format!("page {page}'s preview"), &script).await.as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_are_previewed_redone_kept_after_the_call_and_a_reload() {
    init_tracing();
    let world = World::start().await;
    let browser = Browser::launch().await;
    sign_in_agent(&browser, &world.hub, AGENT).await;
    // An agent's usual screen.
    browser.set_viewport(1366, 768).await;
    let mut kiosk = world.kiosk("demo");
    kiosk.event("queued").await;
    click(&browser, "take-next").await;
    kiosk.event("connected").await;

    // Asking shows the instruction at the kiosk first; nothing is scanned
    // until the agent says the paper is down.
    click(&browser, "request-scan").await;
    let ready = page_until(
        &browser,
        "the kiosk ready",
        "const e = document.querySelector('[data-testid=scan-estimate]');
         return !document.querySelector('[data-testid=scan-now]').disabled && {
           step: document.querySelector('[data-testid=scan-step]').textContent, bytes: Number(e.dataset.bytes),
           seconds: e.dataset.seconds ? Number(e.dataset.seconds) : null, text: e.textContent,
           pages: document.querySelectorAll('[data-testid=scan-page]').length };",
    )
    .await;
    assert_eq!(ready["step"], "Quand le document est posé, lancez la numérisation.", "{ready}");
    assert_eq!(ready["pages"], 0);
    assert!(ready["bytes"].as_u64().unwrap() > 10_000, "{ready}");
    assert!(ready["seconds"].as_u64().is_some(), "the kiosk's pace gives a time: {ready}");
    assert!(ready["text"].as_str().unwrap().contains("sur la liaison de cette borne"), "{ready}");
    // 300 dpi costs about four times 150 dpi.
    let at_300 = browser
        .run(
            "const s = document.querySelector('[data-testid=scan-dpi]'); s.value = '300'; s.dispatchEvent(new Event('change'));
             const b = Number(document.querySelector('[data-testid=scan-estimate]').dataset.bytes);
             s.value = '150'; s.dispatchEvent(new Event('change')); return b;",
            Value::Null,
        )
        .await;
    assert_eq!(at_300.as_u64().unwrap(), ready["bytes"].as_u64().unwrap() * 4, "{at_300}");

    click(&browser, "scan-now").await;
    let first = preview(&browser, 1, "").await;
    click(&browser, "scan-now").await;
    preview(&browser, 2, "").await;
    // The first page was crooked: scanned again, its row shows the new one.
    click(&browser, "scan-redo-1").await;
    let again = preview(&browser, 1, &first).await;
    assert_ne!(again, first);
    let order = browser.run("return [...document.querySelectorAll('[data-testid=scan-page]')].map(li => Number(li.dataset.page));", Value::Null).await;
    assert_eq!(order, json!([1, 2]));
    // Two pages previewed: the interview fits beside the call at 1366×768.
    assert_call_card_fits(&browser, "scan-interview").await;
    screenshot(&browser, "console-scan").await;

    click(&browser, "scan-finish").await;
    let sent = kiosk.event("scan_sent").await;
    let kept = page_until(
        &browser,
        "the scan kept",
        "const li = document.querySelector('[data-testid=kept-scan]');
         if (!li) return null;
         // From the browser's own storage (the page's policy keeps fetch() to the hub).
         const db = await new Promise(r => { const q = indexedDB.open('visio-kept-scans'); q.onsuccess = () => r(q.result); });
         const all = await new Promise(r => { const q = db.transaction('scans').objectStore('scans').getAll(); q.onsuccess = () => r(q.result); });
         if (all.length !== 1) return null;
         const pdf = await all[0].blob.text();
         return { sha256: li.dataset.sha256, name: li.dataset.name, download: li.querySelector('a[download]').download,
                  pages: (pdf.match(/\\/Type \\/Page\\b/g) || []).length,
                  history: [...document.querySelectorAll('[data-testid=history-item]')].map(h => [h.dataset.kind, h.dataset.outcome]) };",
    )
    .await;
    assert_eq!(kept["sha256"], sent["sha256"], "the console keeps the bytes the kiosk sent");
    assert_eq!(kept["pages"], 2, "one PDF of both pages: {kept}");
    let name = kept["name"].as_str().unwrap();
    let today = jiff::Zoned::now().date().to_string();
    assert!(name.starts_with(&format!("demo-{today}-")) && name.ends_with(".pdf"), "meaningful name, got {name}");
    assert_eq!(kept["download"], kept["name"]);
    assert_eq!(kept["history"], json!([["scan", "received"]]));
    // Leaving the page now would lose it: the browser asks first.
    let warned = browser.run("const e = new Event('beforeunload', { cancelable: true }); window.dispatchEvent(e); return e.defaultPrevented;", Value::Null).await;
    assert_eq!(warned, true);

    // The call ends: the scan stays, with its warning.
    click(&browser, "end-call").await;
    kiosk.event("ended").await;
    let after = page_until(
        &browser,
        "the scan still there after the call",
        "const li = document.querySelector('[data-testid=kept-scan]');
         return !state.call && li && !document.getElementById('kept').hidden && {
           sha256: li.dataset.sha256, warning: document.querySelector('[data-testid=kept-warning]').textContent };",
    )
    .await;
    assert_eq!(after["sha256"], sent["sha256"]);
    assert!(after["warning"].as_str().unwrap().starts_with("1 document(s) reçu(s) pas encore enregistré(s)"), "{after}");
    browser.run("document.getElementById('kept').scrollIntoView(); return true;", Value::Null).await;
    screenshot(&browser, "console-kept").await;

    // A reload (or a crash of the tab) loses nothing.
    browser.run("window.onbeforeunload = null; location.reload(); return true;", Value::Null).await;
    let reloaded = page_until(
        &browser,
        "the scan after a reload",
        "const li = document.querySelector('[data-testid=kept-scan]'); return li && li.dataset.sha256;",
    )
    .await;
    assert_eq!(reloaded, sent["sha256"]);

    // Dismissed, it is gone from the browser's storage too.
    click(&browser, "kept-dismiss").await;
    let left = page_until(
        &browser,
        "the scan dismissed",
        "if (document.querySelector('[data-testid=kept-scan]')) return null;
         const db = await new Promise(r => { const q = indexedDB.open('visio-kept-scans'); q.onsuccess = () => r(q.result); });
         return await new Promise(r => { const q = db.transaction('scans').objectStore('scans').count(); q.onsuccess = () => r(String(q.result)); });",
    )
    .await;
    assert_eq!(left, "0");
    assert!(within("the kiosk exits", kiosk.child.wait()).await.unwrap().success());
    browser.close().await;
    world.hub.stop().await;
}

/// The kiosk's scanner has a document feeder (SANE's test device lists
/// one, holding 10 pages): the console offers it, one click scans every
/// page, and the PDF the agent keeps has them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feeder_is_offered_and_one_click_scans_all_its_pages_into_one_pdf() {
    init_tracing();
    visio_testkit::wait::require("pdfinfo", "poppler-utils");
    let world = World::start().await;
    let browser = Browser::launch().await;
    sign_in_agent(&browser, &world.hub, AGENT).await;
    let mut kiosk = world.kiosk("demo");
    kiosk.event("queued").await;
    click(&browser, "take-next").await;
    kiosk.event("connected").await;

    click(&browser, "request-scan").await;
    let offered = page_until(
        &browser,
        "the feeder offered",
        "const b = document.querySelector('[data-testid=scan-feed]'); return !b.hidden && !b.disabled && b.textContent;",
    )
    .await;
    assert_eq!(offered, "Numériser tout le chargeur");
    click(&browser, "scan-feed").await;
    let done = page_until(
        &browser,
        "every page of the feeder",
        "const pages = [...document.querySelectorAll('[data-testid=scan-page]')];
         const step = document.querySelector('[data-testid=scan-step]').textContent;
         return !document.querySelector('[data-testid=scan-finish]').disabled && pages.every(li => li.dataset.preview)
           && { step, pages: pages.map(li => Number(li.dataset.page)) };",
    )
    .await;
    assert_eq!(done["step"], "10 page(s) numérisée(s) depuis le chargeur.", "{done}");
    assert_eq!(done["pages"], json!((1..=10).collect::<Vec<_>>()));

    click(&browser, "scan-finish").await;
    let sent = kiosk.event("scan_sent").await;
    let kept = page_until(
        &browser,
        "the feeder's PDF kept",
        "const li = document.querySelector('[data-testid=kept-scan]');
         if (!li) return null;
         const db = await new Promise(r => { const q = indexedDB.open('visio-kept-scans'); q.onsuccess = () => r(q.result); });
         const all = await new Promise(r => { const q = db.transaction('scans').objectStore('scans').getAll(); q.onsuccess = () => r(q.result); });
         if (all.length !== 1) return null;
         const bytes = new Uint8Array(await all[0].blob.arrayBuffer());
         let bin = ''; for (const b of bytes) bin += String.fromCharCode(b);
         return { sha256: li.dataset.sha256, pdf: btoa(bin) };",
    )
    .await;
    assert_eq!(kept["sha256"], sent["sha256"]);
    let pdf = world.dir.path().join("feeder.pdf");
    use base64::Engine as _;
    std::fs::write(&pdf, base64::engine::general_purpose::STANDARD.decode(kept["pdf"].as_str().unwrap()).unwrap()).unwrap();
    let info = std::process::Command::new("pdfinfo").arg(&pdf).output().unwrap();
    let info = String::from_utf8_lossy(&info.stdout).into_owned();
    assert!(info.lines().any(|l| l.split_whitespace().eq(["Pages:", "10"])), "one PDF of the feeder's 10 pages:\n{info}");

    click(&browser, "end-call").await;
    kiosk.event("ended").await;
    assert!(within("the kiosk exits", kiosk.child.wait()).await.unwrap().success());
    browser.close().await;
    world.hub.stop().await;
}
