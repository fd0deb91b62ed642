//! A shown document driven by the agent, end to end: the real console in
//! headless Chromium turns the page, zooms and points; the window kiosk
//! (under a virtual display) shows it and says so in its log; the console
//! gets back what the resident sees, with a picture of the page. With
//! `VISIO_SCREENSHOTS=dir` the kiosk's screen is saved as
//! `document-pointer.png` and the console's as `console-document.png`.

use visio_tests::window::{WindowKiosk, screen_of};
use visio_tests::{AGENT, World, Xvfb};
use fantoccini::Locator;
use serde_json::{Value, json};
use visio_testkit::browser::Browser;
use visio_testkit::page::{assert_call_card_fits, click, page_until, sign_in_agent, testid};
use visio_testkit::pdf::pdf_from_postscript;
use visio_testkit::wait::{eventually, init_tracing};

/// Two A4 pages of body text as an office would write them (Ghostscript's
/// PDF writer from PostScript, Times 11 pt).
fn two_page_letter(dir: &std::path::Path) -> std::path::PathBuf {
    let mut ps = String::from("%!PS\n");
    for page in 1..=2 {
        ps += "/Times-Bold findfont 16 scalefont setfont 72 760 moveto (Mairie de Besse - Attestation de domicile) show\n";
        ps += "/Times-Roman findfont 11 scalefont setfont\n";
        for line in 0..30 {
            let y = 720 - line * 16;
            ps += &format!(
                "72 {y} moveto (Page {page}, ligne {n} : le demandeur certifie sur l'honneur resider a l'adresse indiquee.) show\n",
                n = line + 1
            );
        }
        ps += "showpage\n";
    }
    pdf_from_postscript(dir, "attestation", &ps)
}

/// Pixels of strong red on the virtual display (a screenshot in `shot`).
async fn red_on_screen(display: &str, shot: &std::path::Path) -> Option<usize> {
    let screen = screen_of(display, shot).await?;
    Some(screen.rgba.chunks_exact(4).filter(|p| p[0] > 180 && p[1] < 60 && p[2] < 60).count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_turns_zooms_and_points_and_the_window_kiosk_shows_it() {
    init_tracing();
    let xvfb = Xvfb::start();
    let world = World::start().await;
    // The virtual display is the kiosk's panel: 1280×800 (a 10.1" screen).
    let mut kiosk_file: Value = serde_json::from_str(&std::fs::read_to_string(&world.config).unwrap()).unwrap();
    kiosk_file["panel"] = json!({ "diagonal_inches": 10.1, "width_px": 1280, "height_px": 800 });
    std::fs::write(&world.config, serde_json::to_string_pretty(&kiosk_file).unwrap()).unwrap();

    let browser = Browser::launch().await;
    // An agent's laptop screen.
    browser.set_viewport(1366, 768).await;
    sign_in_agent(&browser, &world.hub, AGENT).await;
    let mut kiosk = WindowKiosk::start(&world, "demo", &xvfb.display);

    click(&browser, "take-next").await;
    kiosk.event("connected").await;

    let docs = tempfile::tempdir().unwrap();
    let letter = two_page_letter(docs.path());
    let input = browser.client.find(Locator::Css(&testid("doc-file"))).await.unwrap();
    input.send_keys(letter.to_str().unwrap()).await.unwrap();
    click(&browser, "send-show").await;
    let shown = kiosk.event("displayed").await;
    assert_eq!(shown["pages"], 2);

    // The console shows what the resident sees, page controls included
    // (two pages), with a picture of page 1 from the kiosk.
    let first = page_until(
        &browser,
        "the kiosk's view in the console",
        "const box = document.querySelector('[data-testid=docview]');
         const img = box && box.querySelector('img');
         return box && !box.hidden && img.dataset.page === '1' && img.naturalWidth > 0
           && { page: document.querySelector('[data-testid=view-page]').textContent, width: img.naturalWidth,
                controls: !document.querySelector('[data-testid=view-next]').parentElement.hidden };",
    )
    .await;
    assert_eq!(first["page"], "Page 1 sur 2");
    assert_eq!(first["controls"], true);
    assert!(first["width"].as_u64().unwrap() <= 200, "{first}");

    // Next page, then zoom: both reach the window kiosk's session.
    click(&browser, "view-next").await;
    let turned = kiosk.event("viewed").await;
    assert_eq!((turned["page"].clone(), turned["zoom"].clone()), (json!(2), json!(100)));
    click(&browser, "view-zoom-in").await;
    let zoomed = kiosk.event("viewed").await;
    assert_eq!((zoomed["page"].clone(), zoomed["zoom"].clone()), (json!(2), json!(150)));
    page_until(
        &browser,
        "page 2's picture and the zoom back from the kiosk",
        "const box = document.querySelector('[data-testid=docview]');
         return box.dataset.kioskPage === '2' && box.dataset.kioskZoom === '150' && box.querySelector('img').dataset.page === '2';",
    )
    .await;

    // The kiosk's screen before the pointer: its red (the end call button).
    let shot = docs.path().join("screen.png");
    let before = eventually("a screenshot of the kiosk", || red_on_screen(&xvfb.display, &shot)).await;

    // A click on the picture points there (and brings it into view); the
    // kiosk says it shows the pointer.
    click(&browser, "view-thumb").await;
    let pointer = page_until(
        &browser,
        "the pointer back from the kiosk",
        "const p = document.querySelector('[data-testid=docview]').dataset.kioskPointer; return p !== '' && p;",
    )
    .await;
    let (x, y) = pointer.as_str().unwrap().split_once(',').unwrap();
    let (x, y): (u32, u32) = (x.parse().unwrap(), y.parse().unwrap());
    assert!((450..=550).contains(&x) && (450..=550).contains(&y), "a click in the middle points at the middle: {pointer}");

    // The kiosk's screen: the pointer's red ring is drawn on the page.
    let after = eventually("the pointer on the kiosk's screen", || async {
        let red = red_on_screen(&xvfb.display, &shot).await?;
        (red > before + 300).then_some(red)
    })
    .await;
    eprintln!("kiosk screen: {before} red pixels before the pointer, {after} with it");
    // The shown page's controls fit beside the call at 1366×768.
    assert_call_card_fits(&browser, "docview").await;
    if let Some(dir) = std::env::var_os("VISIO_SCREENSHOTS") {
        let dir = std::path::Path::new(&dir);
        std::fs::copy(&shot, dir.join("document-pointer.png")).unwrap();
        // The console's side: the page's picture with the same pointer.
        page_until(
            &browser,
            "the pointer on the console's picture",
            "const box = document.querySelector('[data-testid=docview]');
             box.scrollIntoView({ block: 'nearest' });
             return box.querySelector('[data-testid=view-pointer]').style.display === 'block';",
        )
        .await;
        std::fs::write(dir.join("console-document.png"), browser.client.screenshot().await.unwrap()).unwrap();
    }

    click(&browser, "end-call").await;
    kiosk.event("ended").await;
    let _ = kiosk.child.start_kill();
    browser.close().await;
    world.hub.stop().await;
}
