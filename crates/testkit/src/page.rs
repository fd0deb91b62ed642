//! Driving the hub's web pages (the agent and admin consoles) in a real
//! [`Browser`] as a person would, through their `data-testid` hooks, each
//! wait bounded by the deadline.

use fantoccini::Locator;
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::hub::TestHub;
use crate::wait::{eventually, within};

/// The CSS selector of the element whose `data-testid` is `id`.
pub fn testid(id: &str) -> String {
    format!("[data-testid={id}]")
}

/// The element once it is there, shown and enabled.
async fn usable(browser: &Browser, id: &str) -> fantoccini::elements::Element {
    let selector = testid(id);
    eventually(&format!("{id} enabled"), || async {
        let element = browser.client.find(Locator::Css(&selector)).await.ok()?;
        (element.is_displayed().await.ok()? && element.is_enabled().await.ok()?).then_some(element)
    })
    .await
}

/// Waits until the element is there, shown and enabled, then clicks it.
pub async fn click(browser: &Browser, id: &str) {
    let element = usable(browser, id).await;
    element.click().await.unwrap_or_else(|e| panic!("click {id}: {e}"));
}

/// Waits until the field is shown and enabled (a sign-in form is in the
/// page, hidden, until the page knows nobody is signed in), empties it and
/// types `text` into it.
pub async fn type_into(browser: &Browser, id: &str, text: &str) {
    let element = usable(browser, id).await;
    element.clear().await.unwrap_or_else(|e| panic!("clear {id}: {e}"));
    element.send_keys(text).await.unwrap_or_else(|e| panic!("type into {id}: {e}"));
}

/// Evaluates `script` (an async function body) in the page until it
/// returns something other than `null` or `false`, and returns that.
pub async fn page_until(browser: &Browser, what: &str, script: &str) -> Value {
    eventually(what, || async {
        // The page may be reloading: try again.
        let value = browser.try_run(script, Value::Null).await.ok()?;
        (!value.is_null() && value != json!(false)).then_some(value)
    })
    .await
}

/// The text of a shown element once it contains `part`.
pub async fn text_with(browser: &Browser, id: &str, part: &str) -> String {
    let script = format!(
        "const e = document.querySelector('{}'); const t = e && e.offsetParent && e.textContent.trim();
         return (t && t.includes({})) ? t : null;",
        testid(id),
        json!(part)
    );
    page_until(browser, &format!("{id} saying {part:?}"), &script).await.as_str().unwrap().to_owned()
}

/// With `VISIO_SCREENSHOTS=<dir>`, saves the page as `<dir>/<name>.png`.
pub async fn screenshot(browser: &Browser, name: &str) {
    let Some(dir) = std::env::var_os("VISIO_SCREENSHOTS") else { return };
    let png = browser.client.screenshot().await.unwrap();
    std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png).unwrap();
}

/// Signs in on `hub`'s agent console (`/agent/`) and becomes available.
pub async fn sign_in_agent(browser: &Browser, hub: &TestHub, (login, password): (&str, &str)) {
    browser.client.goto(&hub.url("/agent/")).await.unwrap();
    for (id, text) in [("login-user", login), ("login-password", password)] {
        let element = within(id, browser.client.wait().for_element(Locator::Css(&testid(id)))).await.unwrap();
        element.send_keys(text).await.unwrap();
    }
    click(browser, "login-submit").await;
    // Tick "Disponible" once the hub can hear it, until the hub confirms.
    // (A WebDriver click on the box was lost about one run in five on a
    // loaded machine, the box left unticked; a click from the page's own
    // script is not.)
    page_until(
        browser,
        "the hub confirming the agent available",
        "const box = document.querySelector('[data-testid=available]');
         if (state.available) return true;
         if (box && !box.disabled && !box.checked) box.click();
         return null;",
    )
    .await;
}

/// The agent console's call card fits the window with `panel` (a testid:
/// a shown page's or a signature box's controls) open: the card does not
/// scroll, the panel is inside the window, and the resident's video keeps
/// at least 160 px of height (issue 24: a working day at 1366×768).
pub async fn assert_call_card_fits(browser: &Browser, panel: &str) {
    let layout = page_until(
        browser,
        "the layout settled",
        &format!(
            "await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
             const call = document.getElementById('call');
             const video = document.querySelector('[data-testid=remote-video]').getBoundingClientRect();
             const panel = document.querySelector('[data-testid={panel}]').getBoundingClientRect();
             return {{ overflow: call.scrollHeight - call.clientHeight, video: Math.round(video.height),
                       panel_bottom: Math.round(panel.bottom), height: innerHeight }};"
        ),
    )
    .await;
    assert!(layout["overflow"].as_i64().unwrap_or(i64::MAX) <= 1, "the call card scrolls with {panel} open: {layout}");
    assert!(layout["video"].as_u64().unwrap_or(0) >= 160, "the resident's video is too small with {panel} open: {layout}");
    assert!(layout["panel_bottom"].as_i64() <= layout["height"].as_i64(), "{panel} is below the window: {layout}");
}

