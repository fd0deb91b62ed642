//! Through a real coturn on loopback with a relay-only ICE policy: with a
//! static user, and with the short-lived credentials the hub hands out
//! (coturn's `--use-auth-secret`).

mod common;

use std::sync::Arc;

use common::turn::{PASSWORD, Turn, USER};
use common::{connect_pair, near};
use jiff::{SignedDuration, Timestamp};
use visio_hub::core::TurnRest;
use visio_hub::server::Settings;
use visio_media::{CallConfig, IcePolicy, IceServer};
use visio_protocol::{HubToAgent, HubToKiosk, Secret};
use visio_testkit::hub::{Agent, Kiosk, TestHub};

fn relay_only(turn: &Turn, colour: u32) -> CallConfig {
    relay_through(IceServer { urls: vec![turn.url()], username: USER.into(), credential: PASSWORD.into() }, colour)
}

fn relay_through(server: IceServer, colour: u32) -> CallConfig {
    let mut config = CallConfig::test_sources("solid-color", Some(colour), 440.0);
    config.ice_servers = vec![server];
    config.ice_policy = IcePolicy::Relay;
    config
}

/// The hub's TURN entry among a call's ICE servers, in visio-media's shape.
fn turn_entry(servers: &[visio_protocol::IceServer], turn: &Turn) -> IceServer {
    let server = servers.iter().find(|s| s.urls == [turn.url()]).expect("the hub hands out its TURN server");
    IceServer {
        urls: server.urls.clone(),
        username: server.username.clone().expect("a TURN user name"),
        credential: server.credential.clone().expect("a TURN password"),
    }
}

/// Asks coturn for a relay allocation with `server`'s credentials, with
/// coturn's own test client: whether coturn accepted them.
fn coturn_allocates(turn: &Turn, server: &IceServer) -> bool {
    let output = std::process::Command::new("turnutils_uclient")
        .args(["-y", "-n", "3", "-m", "1", "-l", "100", "-e", "127.0.0.1"])
        .args(["-u", &server.username, "-w", &server.credential, "-p", &turn.port.to_string(), "127.0.0.1"])
        .output()
        .expect("turnutils_uclient (Debian package coturn) runs");
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stdout);
        eprintln!("turnutils_uclient with {}: {}", server.username, said.lines().rev().take(4).collect::<Vec<_>>().join(" / "));
    }
    output.status.success()
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

/// A hub sharing a secret with coturn gives each peer of a call its own
/// credentials; a relay-only call works with them, and coturn refuses the
/// same scheme's credentials once their time has passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_hubs_short_lived_turn_credentials_carry_a_relay_only_call_and_expire() {
    common::init_tracing();
    const SECRET: &str = "north-wind-over-the-puys";
    let turn = Turn::with_shared_secret(SECRET).await;
    let rest = TurnRest { urls: vec![turn.url()], secret: Secret(SECRET.into()), ttl: SignedDuration::from_mins(10) };
    let mut settings = Settings::new(Arc::new(visio_config::Catalogue::demo()));
    settings.turn_rest = Some(rest.clone());
    let hub = TestHub::start_in(tempfile::tempdir().unwrap(), settings).await;
    let secret = hub.enroll("besse");
    hub.add_agent("claire", "pw", &["demo"]);
    let mut kiosk = Kiosk::connect(&hub, "besse", &secret).await;
    let mut agent = Agent::connect(&hub, "claire", "pw").await;
    kiosk.queue("demo").await;
    agent.send(visio_protocol::AgentToHub::TakeNext { service: None }).await;
    let HubToAgent::CallStarted { ice_servers: agent_servers, .. } =
        agent.wait_for("call_started", |m| matches!(m, HubToAgent::CallStarted { .. })).await
    else {
        unreachable!()
    };
    let HubToKiosk::CallAnswered { ice_servers: kiosk_servers, .. } =
        kiosk.wait_for("call_answered", |m| matches!(m, HubToKiosk::CallAnswered { .. })).await
    else {
        unreachable!()
    };
    let (kiosk_turn, agent_turn) = (turn_entry(&kiosk_servers, &turn), turn_entry(&agent_servers, &turn));
    let in_ten_minutes = Timestamp::now().as_second() + 600;
    for (server, name) in [(&kiosk_turn, "besse"), (&agent_turn, "claire")] {
        let (expiry, who) = server.username.split_once(':').expect("<expiry>:<who>");
        assert_eq!(who, name, "coturn's logs name the peer");
        let expiry: i64 = expiry.parse().unwrap();
        assert!((in_ten_minutes - 60..=in_ten_minutes).contains(&expiry), "valid for the configured 10 minutes: {expiry}");
        assert!(coturn_allocates(&turn, server), "coturn accepts {name}'s credentials from the hub");
    }

    // A relay-only call on them.
    let (mut a, mut b) = connect_pair(relay_through(kiosk_turn, 0xff00_ff00), relay_through(agent_turn, 0xffff_0000)).await;
    a.wait_connected().await;
    b.wait_connected().await;
    b.wait_frame("green frame relayed from the kiosk", |f| near(f.pixel(f.width / 2, f.height / 2), [0, 255, 0])).await;
    for peer in [&a, &b] {
        let lines = peer.local_candidates.lock().unwrap().clone();
        assert!(!lines.is_empty() && lines.iter().all(|l| l.contains("typ relay")), "relay candidates only: {lines:?}");
    }
    a.call.hang_up().await;
    b.call.hang_up().await;

    // Credentials issued twenty minutes ago expired ten minutes ago.
    let stale = rest.credentials(Timestamp::now() - SignedDuration::from_mins(20), "besse");
    let stale = IceServer { urls: stale.urls, username: stale.username.unwrap(), credential: stale.credential.unwrap() };
    assert!(!coturn_allocates(&turn, &stale), "coturn refuses expired credentials");
    hub.stop().await;
}
