//! Through a real coturn on loopback with a relay-only ICE policy.

mod common;

use common::turn::{PASSWORD, Turn, USER};
use common::{connect_pair, near};
use visio_media::{CallConfig, IcePolicy, IceServer};

fn relay_only(turn: &Turn, colour: u32) -> CallConfig {
    let mut config = CallConfig::test_sources("solid-color", Some(colour), 440.0);
    config.ice_servers = vec![IceServer { urls: vec![turn.url()], username: USER.into(), credential: PASSWORD.into() }];
    config.ice_policy = IcePolicy::Relay;
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn relay_only_call_through_coturn_carries_video() {
    common::init_tracing();
    let turn = Turn::start().await;
    let (mut a, mut b) = connect_pair(relay_only(&turn, 0xff00_ff00), relay_only(&turn, 0xffff_0000)).await;
    a.wait_connected().await;
    b.wait_connected().await;
    b.wait_frame("green frame relayed from A", |f| near(f.pixel(f.width / 2, f.height / 2), [0, 255, 0])).await;
    a.wait_frame("red frame relayed from B", |f| near(f.pixel(f.width / 2, f.height / 2), [255, 0, 0])).await;
    for peer in [&a, &b] {
        let lines = peer.local_candidates.lock().unwrap().clone();
        assert!(!lines.is_empty(), "no local candidates gathered");
        assert!(lines.iter().all(|l| l.contains("typ relay")), "relay-only policy leaked a non-relay candidate: {lines:?}");
    }
    a.call.hang_up().await;
    b.call.hang_up().await;
}
