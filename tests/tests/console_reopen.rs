//! A documents channel closed mid-call, end to end with the agent console
//! in a real browser (issue 22, item 7; decisions #364, #365): the real hub
//! over TLS serves the page, a real headless kiosk scans with SANE's test
//! backend. The agent scans the kiosk's feeder at 300 dpi (a PDF of over a
//! megabyte); while it comes, the page closes its `visio-documents`
//! channel. The kiosk opens a new one, the page takes it, the kiosk resumes
//! the scan from the page's offset and the page keeps it whole, with the
//! hash the kiosk reported, and never shows the agent a failure. When the
//! agent hangs up while the scan comes instead, the page says it was lost
//! with the call (decision #368).

use serde_json::{Value, json};
use visio_testkit::browser::{Browser, Kind};
use visio_testkit::page::{click, page_until, sign_in_agent};
use visio_testkit::wait::{init_tracing, within};
use visio_tests::{AGENT, HeadlessKiosk, World};

/// Test hooks in the page: the channels `Documents` is given, every status
/// and banner it shows, and once the scan (not a preview) is past its
/// first acknowledgement and not yet whole, `arg` done: "close" its
/// channel, or "hang_up" the call.
const HOOKS: &str = r#"
  const seen = { channels: [], statuses: [], banners: [], cut: null };
  window.__reopen = seen;
  const attach = Documents.attach;
  Documents.attach = function (channel) {
    seen.channels.push({ label: channel.label, at: performance.now() });
    return attach.call(this, channel);
  };
  const status = Documents.status;
  Documents.status = function (text, kind = "info", detail = "") {
    seen.statuses.push({ text, kind });
    return status.call(this, text, kind, detail);
  };
  const shown = window.banner;
  window.banner = function (text, hideAfterMs, kind = "info") {
    if (text) seen.banners.push({ text, kind });
    return shown(text, hideAfterMs, kind);
  };
  const onChunk = Documents.onChunk;
  Documents.onChunk = function (buffer) {
    const result = onChunk.call(this, buffer);
    const tr = this.incoming.get(new DataView(buffer).getUint32(4));
    if (!seen.cut && tr && tr.purpose === "scan" && tr.held >= 65536 && tr.held < tr.size) {
      seen.cut = { held: tr.held, size: tr.size, at: performance.now(), channel: this.channel };
      if (arg === "close") this.channel.close();
      else document.querySelector("[data-testid=end-call]").click();
    }
    return result;
  };
  return true;
"#;

/// In a call, the page's hooks set to do `mid_scan`, the agent scans every
/// page of the kiosk's feeder at 300 dpi and asks for the PDF.
async fn scan_the_feeder(world: &World, browser: &Browser, mid_scan: &str) -> HeadlessKiosk {
    sign_in_agent(browser, &world.hub, AGENT).await;
    let mut kiosk = world.kiosk("demo");
    kiosk.event("queued").await;
    click(browser, "take-next").await;
    kiosk.event("connected").await;
    page_until(browser, "the documents channel", "return Documents.channel && Documents.channel.readyState === 'open';").await;
    browser.run(HOOKS, json!(mid_scan)).await;

    // Every page of the feeder at 300 dpi: one PDF of over a megabyte.
    click(browser, "request-scan").await;
    page_until(
        browser,
        "the feeder offered",
        "const b = document.querySelector('[data-testid=scan-feed]'); return !b.hidden && !b.disabled;",
    )
    .await;
    browser
        .run("const s = document.querySelector('[data-testid=scan-dpi]'); s.value = '300'; s.dispatchEvent(new Event('change')); return true;", Value::Null)
        .await;
    click(browser, "scan-feed").await;
    page_until(
        browser,
        "every page of the feeder",
        "const pages = [...document.querySelectorAll('[data-testid=scan-page]')];
         return !document.querySelector('[data-testid=scan-finish]').disabled && pages.length > 0 && pages.every(li => li.dataset.preview);",
    )
    .await;
    click(browser, "scan-finish").await;
    kiosk
}

async fn a_closed_channel_reopens_and_the_scan_resumes(kind: Kind) {
    init_tracing();
    let world = World::start().await;
    let browser = Browser::launch_kind(kind).await;
    let mut kiosk = scan_the_feeder(&world, &browser, "close").await;

    // The page cuts its channel mid-scan; the kiosk opens a new one.
    let cut = page_until(
        &browser,
        "the channel closed mid-scan",
        "const c = window.__reopen.cut; return c && c.channel.readyState === 'closed' && { held: c.held, size: c.size };",
    )
    .await;
    let (held, size) = (cut["held"].as_u64().unwrap(), cut["size"].as_u64().unwrap());
    assert!(held >= 65_536 && held < size, "closed mid-transfer: {cut}");
    assert!(size > 1_000_000, "a scan of over a megabyte: {cut}");
    let sent = kiosk.event("scan_sent").await;
    let kept = page_until(
        &browser,
        "the scan kept after the reopen",
        "const li = document.querySelector('[data-testid=kept-scan]');
         if (!li) return null;
         const seen = window.__reopen;
         return { sha256: li.dataset.sha256,
                  history: [...document.querySelectorAll('[data-testid=history-item]')].map(h => [h.dataset.kind, h.dataset.outcome]),
                  channels: seen.channels.map(c => c.label),
                  reopenedAfterMs: seen.channels.length ? Math.round(seen.channels[seen.channels.length - 1].at - seen.cut.at) : null,
                  open: Documents.channel !== seen.cut.channel && Documents.channel.readyState === 'open',
                  status: { text: document.getElementById('doc-status').textContent, className: document.getElementById('doc-status').className },
                  errors: seen.statuses.filter(s => s.kind === 'error').concat(seen.banners.filter(b => b.kind === 'error')),
                  statuses: seen.statuses.map(s => s.text) };",
    )
    .await;
    eprintln!("{}: closed at {held} of {size} bytes; the new channel {} ms later", kind.name(), kept["reopenedAfterMs"]);
    assert_eq!(kept["sha256"], sent["sha256"], "the page keeps the bytes the kiosk sent: {kept}");
    assert_eq!(sent["size"].as_u64(), Some(size));
    assert_eq!(kept["channels"], json!(["visio-documents"]), "one new channel, attached once: {kept}");
    assert_eq!(kept["open"], true, "the page works on the new channel: {kept}");
    assert_eq!(kept["history"], json!([["scan", "received"]]), "{kept}");
    assert_eq!(kept["errors"], json!([]), "no failure shown to the agent: {kept}");
    assert_ne!(kept["status"]["className"], "error", "{kept}");

    click(&browser, "end-call").await;
    kiosk.event("ended").await;
    assert!(within("the kiosk exits", kiosk.child.wait()).await.unwrap().success());
    browser.close().await;
    world.hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_a_documents_channel_closed_mid_scan_reopens_and_the_scan_arrives_whole() {
    a_closed_channel_reopens_and_the_scan_resumes(Kind::Chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firefox_a_documents_channel_closed_mid_scan_reopens_and_the_scan_arrives_whole() {
    a_closed_channel_reopens_and_the_scan_resumes(Kind::Firefox).await;
}

/// The agent hangs up while the scan comes: the page does not say it was
/// received; the call's history and, after the call, the idle card say it
/// was lost with the call (the kiosk wiped its side: it is not sent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_under_way_when_the_call_ends_is_said_lost_with_the_call() {
    init_tracing();
    let world = World::start().await;
    let browser = Browser::launch().await;
    let mut kiosk = scan_the_feeder(&world, &browser, "hang_up").await;
    kiosk.event("ended").await;
    let lost = page_until(
        &browser,
        "the scan said lost",
        "const el = document.querySelector('[data-testid=lost-documents]');
         const history = JSON.parse(sessionStorage.getItem('visio.doc-history') || 'null');
         return !state.call && el && !document.getElementById('idle').hidden && {
           lines: [...el.querySelectorAll('[data-testid=lost-document]')].map(p => p.textContent),
           history: history && history.entries.map(e => [e.kind, e.outcome]),
           kept: document.querySelectorAll('[data-testid=kept-scan]').length,
           received: window.__reopen.statuses.filter(s => /reçu/.test(s.text)).map(s => s.text) };",
    )
    .await;
    let name = lost["lines"][0].as_str().unwrap_or_default().to_owned();
    assert_eq!(lost["lines"].as_array().map(Vec::len), Some(1), "{lost}");
    assert!(name.starts_with("Numérisation « demo-") && name.contains("perdue"), "{lost}");
    assert_eq!(lost["history"], json!([["scan", "lost"]]), "the call's history: {lost}");
    assert_eq!(lost["kept"], 0, "{lost}");
    assert_eq!(lost["received"], json!([]), "{lost}");
    // In English too.
    let english = browser
        .run("document.querySelector('[data-testid=lang-en]').click(); return document.querySelector('[data-testid=lost-document]').textContent;", Value::Null)
        .await;
    assert!(english.as_str().unwrap().starts_with("Scan “demo-"), "{english}");

    // The kiosk did not send it.
    let mut printed = kiosk.printed_so_far().await;
    let (rest, status) = kiosk.rest().await;
    assert!(status.success());
    printed.extend(rest);
    assert!(!printed.iter().any(|l| l["event"] == "scan_sent"), "{printed:?}");
    browser.close().await;
    world.hub.stop().await;
}
