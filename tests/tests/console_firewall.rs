//! A town hall whose firewall lets out only TCP to the hub and to the TURN
//! server on 443 (or only its HTTP proxy), with the agent in a real browser
//! (issue 22's tests): the headless kiosk on the kiosk side of an emulated
//! ADSL link, its namespace dropping everything else it sends; the hub,
//! coturn with its TLS listener on 443 (certificate made here) and headless
//! Chromium as the agent console on the hub side. The call must go through
//! TURN over TLS: video both ways, a scan whose hash the page checks, and a
//! 10-second cut survived.
//!
//! Needs root (network namespaces, iptables), like the link emulator's tests.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use visio_linkem::{Link, Profile, Side};
use visio_testkit::browser::Browser;
use visio_testkit::page::{click, page_until, sign_in_agent};
use visio_testkit::wait::{init_tracing, within};
use visio_tests::AGENT;
use visio_tests::console::scan_from_the_page;
use visio_tests::town_hall::TownHall;

const SECRET: &str = "firewalled-town-hall";

/// Decoded frames of the kiosk's video in the page and the address the
/// page's selected pair receives it from, once over `after` frames have
/// been decoded. Through TURN that is coturn's, on the hub's address (the
/// page may know it as peer-reflexive, before the kiosk's candidate).
async fn kiosk_video_in_page(browser: &Browser, after: u64) -> Value {
    let script = format!(
        "const v = document.querySelector('[data-testid=remote-video]');
         if (!v || v.videoWidth === 0 || !state.call || !state.call.pc) return null;
         const stats = await state.call.pc.getStats();
         let frames = 0, pair = null;
         stats.forEach(r => {{
           if (r.type === 'inbound-rtp' && r.kind === 'video') frames = r.framesDecoded || 0;
           if (r.type === 'transport' && r.selectedCandidatePairId) pair = stats.get(r.selectedCandidatePairId);
         }});
         const remote = pair && stats.get(pair.remoteCandidateId);
         return frames > {after} ? {{ frames, width: v.videoWidth, remote: remote && (remote.address || remote.ip) }} : null;"
    );
    page_until(browser, &format!("over {after} frames of the kiosk's video in the page"), &script).await
}

/// Runs `through_proxy` or not, on an ADSL link named `name`, the test on
/// the link's hub side (the hub, coturn, Chromium and its driver there).
fn behind_a_firewall(name: &str, through_proxy: bool) {
    init_tracing();
    let link = Arc::new(Link::builder().profile(Profile::Adsl).name(name).start().expect("an emulated link (the tests run as root)"));
    let hub_side = link.runtime(Side::Hub).unwrap();
    hub_side.block_on(call_and_scan(link.clone(), through_proxy));
}

async fn call_and_scan(link: Arc<Link>, through_proxy: bool) {
    let TownHall { world, turn, proxy, .. } = TownHall::start(&link, SECRET, through_proxy).await;

    // The kiosk side's firewall: loopback, and TCP to the proxy, or to the
    // hub and to coturn's 443; everything else it sends is dropped.
    let ways_out = match &proxy {
        Some(proxy) => vec![proxy.port],
        None => vec![world.hub.addr.port(), turn.tls_port],
    };
    link.only_tcp_out(Side::Kiosk, &ways_out).unwrap_or_else(|e| panic!("{e}"));
    let hub_addr = link.hub_addr().to_string();

    // The agent signs in in Chromium on the hub side and takes the resident.
    let browser = Browser::launch().await;
    sign_in_agent(&browser, &world.hub, AGENT).await;
    let mut kiosk = world.kiosk_behind(&link, "demo");
    kiosk.event("queued").await;
    click(&browser, "take-next").await;
    kiosk.event("connected").await;
    kiosk.event("first_remote_frame").await;
    let video = kiosk_video_in_page(&browser, 10).await;
    assert_eq!(video["remote"], hub_addr.as_str(), "the kiosk's media comes through coturn: {video}");

    // A scan, checked by its hash in the page.
    let (sent, item) = scan_from_the_page(&browser, &mut kiosk).await;
    assert_eq!(item["sha256"], sent["sha256"], "the page holds the bytes the kiosk scanned");
    assert_eq!(item["size"], sent["size"]);

    // A 10-second cut: the TCP connections (hub link, TURN over TLS) hold,
    // and the call comes back with the kiosk's video playing again.
    let before = video["frames"].as_u64().unwrap();
    link.cut(Duration::from_secs(10)).unwrap();
    kiosk.event("reconnecting").await;
    kiosk.event("reconnected").await;
    let decoded = kiosk_video_in_page(&browser, before + 30).await;
    assert_eq!(decoded["remote"], hub_addr.as_str(), "{decoded}");

    click(&browser, "end-call").await;
    let ended = kiosk.event("ended").await;
    assert_eq!(ended["reason"], "agent_hung_up");
    let status = within("the kiosk exits", kiosk.child.wait()).await.unwrap();
    assert!(status.success(), "a normal end exits 0, got {status}");
    browser.close().await;
    world.hub.stop().await;
}

#[test]
fn where_only_443_gets_out_chromium_takes_the_call_and_a_scan_through_turns() {
    behind_a_firewall("kl-fw443", false);
}

#[test]
fn where_only_the_http_proxy_gets_out_chromium_takes_the_call_and_a_scan_through_it() {
    behind_a_firewall("kl-fwproxy", true);
}
