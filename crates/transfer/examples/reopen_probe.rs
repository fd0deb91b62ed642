//! Probe (not a test): does webrtc-rs 0.21.1 deliver a data channel
//! re-announced in-band right after the previous one was closed?
//! `cargo run -p visio-transfer --example reopen_probe -- [runs] [wait_close]`
#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;

use visio_media::{DataChannelHandle, DocumentsLink};
use visio_transfer::link::{LinkEvent, MessageLink};
use webrtc::data_channel::DataChannel;

/// The product's link over a bare channel; `None` if it closed before opening.
async fn link(dc: Arc<dyn DataChannel>) -> Option<(Arc<dyn MessageLink>, tokio::sync::mpsc::Receiver<LinkEvent>)> {
    Some(DocumentsLink::attach(DataChannelHandle::attach_webrtc(dc).await.ok()?))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let wait_close = std::env::args().nth(2).is_some_and(|s| s == "wait");
    let (mut ok, mut never, mut closed) = (0, 0, 0);
    for _ in 0..runs {
        let (mut pair, kdc, adc) = support::Pair::connect().await;
        let (kl, mut kev) = link(kdc).await.unwrap();
        let (_al, mut aev) = link(adc).await.unwrap();
        let _ = kev.recv().await;
        let _ = aev.recv().await;
        kl.close().await.unwrap();
        if wait_close {
            while !matches!(aev.recv().await, Some(LinkEvent::Closed) | None) {}
            while !matches!(kev.recv().await, Some(LinkEvent::Closed) | None) {}
        }
        match pair.reopen_in_band().await {
            None => never += 1,
            Some((k, a)) => match (link(k).await, link(a).await) {
                (Some(_), Some(_)) => ok += 1,
                _ => closed += 1,
            },
        }
        pair.close().await;
    }
    println!("in-band reopen (wait for close: {wait_close}): {ok} ok, {never} never announced, {closed} closed at once, of {runs}");
}
