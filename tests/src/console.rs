//! Steps the agent console's tests share, in headless Chromium.

use serde_json::Value;
use visio_testkit::browser::Browser;
use visio_testkit::page::{click, page_until};

use crate::HeadlessKiosk;

/// The agent asks for a scan (the resident is told first), scans once the
/// paper is down and finishes; returns the kiosk's `scan_sent` event and
/// the page's item for it (`sha256`, `size`, and `link`: whether it offers
/// a download), once the page holds it.
pub async fn scan_from_the_page(browser: &Browser, kiosk: &mut HeadlessKiosk) -> (Value, Value) {
    click(browser, "request-scan").await;
    click(browser, "scan-now").await;
    page_until(browser, "the page's preview", "const li = document.querySelector('[data-testid=scan-page][data-preview]'); return li && li.querySelector('img').naturalWidth > 0;").await;
    click(browser, "scan-finish").await;
    let sent = kiosk.event("scan_sent").await;
    let item = page_until(
        browser,
        "the scan in the page",
        "const li = document.querySelector('[data-testid=scan-item][data-sha256]');
         return li && { sha256: li.dataset.sha256, size: Number(li.dataset.size), link: !!li.querySelector('a[download]') };",
    )
    .await;
    (sent, item)
}
