//! Hostile clients against the real hub over TLS on loopback: each case
//! checks the hub's answer to the attacker AND that a well-behaved kiosk
//! and agent keep working meanwhile. Attackers come from 127.0.0.2 and
//! up (still loopback), so limits per address do not touch the good
//! clients on 127.0.0.1.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::{Message, protocol::CloseFrame};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use visio_hub::server::Settings;
use visio_protocol::*;

type RawWs = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn attacker(n: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, n])
}

fn settings(edit: impl FnOnce(&mut Settings)) -> Settings {
    let mut settings = TestHub::settings_with_grace(60);
    edit(&mut settings);
    settings
}

async fn hub_with(edit: impl FnOnce(&mut Settings)) -> TestHub {
    TestHub::start_in(tempfile::tempdir().unwrap(), settings(edit)).await
}

/// A TCP connection to the hub from `local`, with a receive buffer of
/// `recv_buffer` bytes if given.
async fn tcp_from(hub: &TestHub, local: IpAddr, recv_buffer: Option<u32>) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size)?;
    }
    socket.bind(SocketAddr::new(local, 0))?;
    socket.connect(hub.addr).await
}

/// A WebSocket on `path` from `local`, with no hello sent yet.
async fn raw_ws(hub: &TestHub, path: &str, local: IpAddr, recv_buffer: Option<u32>) -> Result<RawWs, String> {
    let tcp = tcp_from(hub, local, recv_buffer).await.map_err(|e| e.to_string())?;
    let request = format!("wss://localhost:{}{path}", hub.addr.port()).into_client_request().unwrap();
    let connector = Connector::Rustls(hub.tls_client_config());
    let (ws, _) = within("raw websocket", tokio_tungstenite::client_async_tls_with_config(request, tcp, None, Some(connector)))
        .await
        .map_err(|e| e.to_string())?;
    Ok(ws)
}

/// A TLS connection from `local` to write raw HTTP on.
async fn tls_from(hub: &TestHub, local: IpAddr) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = tcp_from(hub, local, None).await?;
    let connector = tokio_rustls::TlsConnector::from(hub.tls_client_config());
    connector.connect("localhost".try_into().unwrap(), tcp).await
}

/// The texts the hub sent and how it closed: the close frame (code,
/// reason), or `None` for a connection cut without one.
async fn read_until_closed(ws: &mut RawWs) -> (Vec<String>, Option<(u16, String)>) {
    let mut texts = Vec::new();
    loop {
        match within("the hub closes the connection", ws.next()).await {
            Some(Ok(Message::Text(text))) => texts.push(text.to_string()),
            Some(Ok(Message::Close(frame))) => {
                return (texts, frame.map(|f: CloseFrame| (u16::from(f.code), f.reason.to_string())));
            }
            Some(Ok(_)) => {}
            None | Some(Err(_)) => return (texts, None),
        }
    }
}

fn hello(id: &str, secret: &Secret) -> String {
    encode(&KioskToHub::Hello {
        protocol: PROTOCOL_VERSION,
        kiosk_id: id.into(),
        secret: secret.clone(),
        app_version: None,
        resume: None,
    })
}

/// `visio_hub_limit_refusals_total{limit="…"}` now.
async fn refusals(hub: &TestHub, limit: &str) -> u64 {
    let text = hub.get_text("/metrics").await;
    let prefix = format!("visio_hub_limit_refusals_total{{limit=\"{limit}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&prefix)).map_or(0, |n| n.trim().parse().unwrap())
}

async fn wait_refusals(hub: &TestHub, limit: &str, at_least: u64) {
    eventually(&format!("{at_least} refusals by {limit}"), || async {
        (refusals(hub, limit).await >= at_least).then_some(())
    })
    .await;
}

/// A whole visit by well-behaved clients: the kiosk queues, the agent
/// takes it, the kiosk hangs up and both hear of it.
async fn a_visit_works(hub: &TestHub, kiosk: &str, secret: &Secret, agent: &mut Agent) {
    let mut k = Kiosk::connect(hub, kiosk, secret).await;
    let (session, _) = k.queue("demo").await;
    assert_eq!(agent.take_next().await, session);
    k.wait_for("answered", |m| matches!(m, HubToKiosk::CallAnswered { .. })).await;
    k.send(KioskToHub::HangUp { session: session.clone() }).await;
    k.wait_for("call ended", |m| matches!(m, HubToKiosk::CallEnded { .. })).await;
    agent.wait_for("call ended", |m| matches!(m, HubToAgent::CallEnded { .. })).await;
    k.close().await;
}

#[tokio::test]
async fn a_reader_that_stops_reading_is_closed_and_told_while_others_carry_on() {
    // Its flood of heartbeats must not trip the message rate first.
    let hub = hub_with(|s| {
        s.limits.messages_per_second = 1e9;
        s.limits.message_burst = u32::MAX;
    })
    .await;
    let (slow_secret, good_secret) = (hub.enroll("slow"), hub.enroll("good"));
    hub.add_agent("claire", "claire-password", &["demo"]);
    let mut claire = Agent::connect(&hub, "claire", "claire-password").await;

    // A kiosk with a tiny receive window queues, then sends heartbeats
    // and never reads the acks.
    let mut slow = raw_ws(&hub, "/ws/kiosk", attacker(2), Some(4096)).await.unwrap();
    slow.send(Message::Text(hello("slow", &slow_secret).into())).await.unwrap();
    slow.send(Message::Text(encode(&KioskToHub::RequestCall { service: "demo".into() }).into())).await.unwrap();
    let (mut sink, mut stream) = slow.split();
    let flood = tokio::spawn(async move {
        for seq in 0..1_000_000u64 {
            let beat = KioskToHub::Heartbeat { seq, app_version: "x".into(), config_version: None, devices: None, rtt_ms: None, last_call: None };
            if sink.send(Message::Text(encode(&beat).into())).await.is_err() {
                break;
            }
        }
    });
    wait_refusals(&hub, "peer_queue", 1).await;
    flood.abort();

    // The slow kiosk's wait is over; the agent sees an empty line.
    hub.wait_for_log("the slow kiosk's wait ended", |log| {
        log.iter().find(|r| r.kiosk_id == "slow" && r.end_reason.as_deref() == Some("kiosk_disconnected")).map(|_| ())
    })
    .await;
    // Reading now, the kiosk finds the hub's last word and the close.
    let mut texts = Vec::new();
    let closed = loop {
        match within("the slow kiosk is closed", stream.next()).await {
            Some(Ok(Message::Text(text))) => texts.push(text.to_string()),
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            None | Some(Err(_)) => break None,
        }
    };
    let last = texts.last().map(|t| decode::<HubToKiosk>(t).unwrap());
    assert!(
        matches!(&last, Some(HubToKiosk::Error(e)) if e.code == ErrorCode::TooSlow),
        "the last message is the too_slow error, got {last:?}"
    );
    assert_eq!(closed, Some(1008), "closed with a policy close");

    a_visit_works(&hub, "good", &good_secret, &mut claire).await;
    hub.stop().await;
}

#[tokio::test]
async fn an_invalid_utf8_text_frame_is_closed_with_1007() {
    let hub = TestHub::start().await;
    let (bad_secret, good_secret) = (hub.enroll("bad"), hub.enroll("good"));
    hub.add_agent("claire", "claire-password", &["demo"]);
    let mut claire = Agent::connect(&hub, "claire", "claire-password").await;

    let mut bad = raw_ws(&hub, "/ws/kiosk", attacker(2), None).await.unwrap();
    bad.send(Message::Text(hello("bad", &bad_secret).into())).await.unwrap();
    let welcome = within("welcome", bad.next()).await.unwrap().unwrap();
    assert!(welcome.to_text().unwrap().contains("\"welcome\""));
    let frame = Frame::message(vec![b'{', 0xC3, 0x28, b'}'], OpCode::Data(Data::Text), true);
    bad.send(Message::Frame(frame)).await.unwrap();
    let (texts, closed) = read_until_closed(&mut bad).await;
    let (code, reason) = closed.expect("a close frame");
    assert_eq!(code, 1007, "invalid frame payload data ({reason})");
    assert!(reason.contains("UTF-8"), "{reason}");
    assert!(texts.iter().any(|t| t.contains("malformed_message")), "{texts:?}");
    assert_eq!(refusals(&hub, "bad_frame").await, 1);

    a_visit_works(&hub, "good", &good_secret, &mut claire).await;
    hub.stop().await;
}

#[tokio::test]
async fn bytes_and_time_before_the_hello_are_bounded_and_connections_per_address_capped() {
    let hub = hub_with(|s| {
        s.limits.unauthenticated_per_address = 4;
        s.limits.hello_timeout = Duration::from_secs(5);
    })
    .await;
    let good_secret = hub.enroll("good");
    hub.add_agent("claire", "claire-password", &["demo"]);
    let mut claire = Agent::connect(&hub, "claire", "claire-password").await;

    // A 100 KiB frame before any hello: refused, closed as too big.
    let mut big = raw_ws(&hub, "/ws/kiosk", attacker(2), None).await.unwrap();
    let _ = big.send(Message::Text(format!("{{\"type\":\"hello\",\"pad\":\"{}\"}}", "x".repeat(100 * 1024)).into())).await;
    let (texts, closed) = read_until_closed(&mut big).await;
    assert_eq!(closed.map(|c| c.0), Some(1009), "{texts:?}");
    let refusal = decode::<HubToKiosk>(&texts[0]).unwrap();
    assert!(matches!(refusal, HubToKiosk::Error(ErrorBody { code: ErrorCode::MessageTooLarge, .. })), "{refusal:?}");
    assert_eq!(refusals(&hub, "pre_hello_bytes").await, 1);

    // Silent connections hold their address's slots until the hello
    // deadline; a fifth from the same address is refused meanwhile.
    let mut silent = Vec::new();
    for _ in 0..4 {
        silent.push(raw_ws(&hub, "/ws/kiosk", attacker(3), None).await.unwrap());
    }
    assert!(raw_ws(&hub, "/ws/kiosk", attacker(3), None).await.is_err(), "a fifth connection from one address");
    assert_eq!(refusals(&hub, "connections_per_address").await, 1);
    // Meanwhile the good kiosk (another address) gets in and is served.
    a_visit_works(&hub, "good", &good_secret, &mut claire).await;
    for mut ws in silent {
        let (texts, closed) = read_until_closed(&mut ws).await;
        assert_eq!(closed.map(|c| c.0), Some(1008));
        assert!(texts[0].contains("hello_expected") && texts[0].contains("no hello within"), "{texts:?}");
    }
    assert_eq!(refusals(&hub, "hello_timeout").await, 4);
    // Their slots are free again.
    let mut again = raw_ws(&hub, "/ws/kiosk", attacker(3), None).await.unwrap();
    again.send(Message::Text(hello("good", &good_secret).into())).await.unwrap();
    assert!(within("welcome", again.next()).await.unwrap().unwrap().to_text().unwrap().contains("\"welcome\""));
    hub.stop().await;
}

#[tokio::test]
async fn trickling_request_bodies_time_out_and_hold_no_slot() {
    let hub = hub_with(|s| {
        s.max_connections = 12;
        s.limits.unauthenticated_per_address = 4;
        s.limits.request_timeout = Duration::from_secs(3);
    })
    .await;
    let good_secret = hub.enroll("good");
    hub.add_agent("claire", "claire-password", &["demo"]);

    // Ten sign-ins from two addresses, each body trickled a byte at a
    // time: four per address get a slot, the others are refused.
    let mut tricklers = Vec::new();
    let mut refused = 0;
    for n in 0..10u8 {
        let Ok(mut tls) = tls_from(&hub, attacker(2 + n % 2)).await else {
            refused += 1;
            continue;
        };
        tricklers.push(tokio::spawn(async move {
            let head = "POST /api/agent/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n";
            if tls.write_all(head.as_bytes()).await.is_err() {
                return None;
            }
            let mut answer = Vec::new();
            let mut buf = [0u8; 1024];
            for _ in 0..1000 {
                // The attacker's pace, not a wait for the hub.
                tokio::select! {
                    read = tls.read(&mut buf) => match read {
                        Ok(0) | Err(_) => break,
                        Ok(n) => answer.extend_from_slice(&buf[..n]),
                    },
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {
                        if tls.write_all(b" ").await.is_err() { break }
                    }
                }
            }
            Some(String::from_utf8_lossy(&answer).into_owned())
        }));
    }
    // While they trickle, a kiosk connects and an agent signs in.
    let mut claire = Agent::connect(&hub, "claire", "claire-password").await;
    a_visit_works(&hub, "good", &good_secret, &mut claire).await;
    let mut timed_out = 0;
    for t in tricklers {
        if within("a trickler's answer", t).await.unwrap().is_some_and(|answer| answer.starts_with("HTTP/1.1 408")) {
            timed_out += 1;
        }
    }
    assert_eq!(refused, 2, "four connections per address");
    assert_eq!(timed_out, 8, "every trickled body got 408");
    assert_eq!(refusals(&hub, "request_timeout").await, 8);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sign_in_guesses_are_checked_exactly_the_allowed_number() {
    let hub = TestHub::start().await;
    let good_secret = hub.enroll("good");
    hub.add_agent("claire", "claire-password", &["demo"]);
    hub.add_agent("paul", "paul-password", &["demo"]);
    hub.add_agent("marc", "marc-password", &["demo"]);

    // Each guesser's connection is open before the guesses go, so that
    // they all reach the hub at once.
    let guessers = |from: Vec<IpAddr>| {
        let hub = &hub;
        async move {
            let clients = from.into_iter().map(|ip| {
                let client = reqwest::Client::builder()
                    .use_rustls_tls()
                    .tls_built_in_root_certs(false)
                    .add_root_certificate(reqwest::Certificate::from_pem(&hub.cert_pem).unwrap())
                    .local_address(ip)
                    .build()
                    .unwrap();
                async move {
                    assert_eq!(client.get(hub.url("/healthz")).send().await.unwrap().status(), 200);
                    client
                }
            });
            futures_util::future::join_all(clients).await
        }
    };
    let guess_all = |clients: Vec<reqwest::Client>, login: &'static str| {
        let url = hub.url("/api/agent/login");
        futures_util::future::join_all(clients.into_iter().map(move |client| {
            let url = url.clone();
            async move {
                let body = serde_json::json!({"login": login, "password": "guess"});
                client.post(url).json(&body).send().await.unwrap().status().as_u16()
            }
        }))
    };
    // Forty guesses at once from one address.
    let clients = guessers(vec![attacker(2); 40]).await;
    let answers = guess_all(clients, "claire").await;
    assert_eq!(answers.iter().filter(|s| **s == 401).count(), 5, "{answers:?}");
    assert_eq!(answers.iter().filter(|s| **s == 429).count(), 35, "{answers:?}");

    // A hundred guesses on one account shared out over twenty addresses.
    let clients = guessers((0..100u8).map(|i| attacker(10 + i % 20)).collect()).await;
    let answers = guess_all(clients, "paul").await;
    assert_eq!(answers.iter().filter(|s| **s == 401).count(), 10, "{answers:?}");
    assert_eq!(refusals(&hub, "sign_in_address").await, 35);
    assert_eq!(refusals(&hub, "sign_in_account").await, 90);

    // Another agent at the office signs in and works meanwhile.
    let mut marc = Agent::connect(&hub, "marc", "marc-password").await;
    a_visit_works(&hub, "good", &good_secret, &mut marc).await;
    hub.stop().await;
}

#[tokio::test]
async fn the_hub_refuses_unknown_fields_and_an_origin_it_cannot_check() {
    let hub = TestHub::start().await;
    let good_secret = hub.enroll("good");
    hub.add_agent("claire", "claire-password", &["demo"]);
    let mut claire = Agent::connect(&hub, "claire", "claire-password").await;
    let mut k = Kiosk::connect(&hub, "good", &good_secret).await;
    k.queue("demo").await;
    k.send_raw(r#"{"type":"cancel_call","why":"bored"}"#.into()).await;
    let e = k.error().await;
    assert_eq!(e.code, ErrorCode::MalformedMessage);
    assert!(e.message.contains("unknown field `why`"), "{}", e.message);
    claire.send_raw(r#"{"type":"take_next","urgent":true}"#.into()).await;
    assert_eq!(claire.error().await.code, ErrorCode::MalformedMessage);
    // The refused cancel did not cancel: the agent still takes the kiosk.
    claire.take_next().await;
    k.wait_for("answered", |m| matches!(m, HubToKiosk::CallAnswered { .. })).await;

    // An agent WebSocket with an Origin and no Host is refused.
    let cookie = Agent::sign_in(&hub, "claire", "claire-password").await.unwrap();
    let mut tls = tls_from(&hub, attacker(2)).await.unwrap();
    let request = format!(
        "GET /ws/agent HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: https://evil.example\r\nCookie: {cookie}\r\n\r\n"
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut answer = [0u8; 12];
    within("the answer", tls.read_exact(&mut answer)).await.unwrap();
    assert_eq!(&answer, b"HTTP/1.1 403");
    hub.stop().await;
}

#[tokio::test]
async fn ids_and_logins_from_clients_cannot_forge_or_flood_log_lines() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve_process(
        std::process::Command::new(env!("CARGO_BIN_EXE_visio-hub"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(["serve", "--listen", "127.0.0.1:0"]),
    );
    let hub = TestHub::external(served.addr, dir.path());
    let good_secret = hub.enroll("good");
    hub.add_agent("claire", "claire-password", &["demo"]);
    let forged = "evil\n1999-01-01T00:00:00.000000Z  INFO visio_hub: FORGED agent signed in";

    // A hello with a forged line in its id, and one with a 7 KB id (more
    // would be over the bytes allowed before the hello).
    for id in [forged.to_owned(), "x".repeat(7_000)] {
        let mut ws = raw_ws(&hub, "/ws/kiosk", attacker(2), None).await.unwrap();
        ws.send(Message::Text(hello(&id, &Secret("wrong".into())).into())).await.unwrap();
        let (texts, _) = read_until_closed(&mut ws).await;
        assert!(texts[0].contains("auth_failed"), "{texts:?}");
    }
    // The same in HTTP Basic, and in a sign-in's login.
    use base64::Engine as _;
    for id in [forged.to_owned(), "y".repeat(60_000)] {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:secret"));
        let response =
            hub.http().get(hub.url("/api/kiosk/config")).header("authorization", format!("Basic {basic}")).send().await.unwrap();
        assert_eq!(response.status(), 401);
    }
    assert_eq!(Agent::sign_in(&hub, forged, "guess").await.unwrap_err(), 401);

    let mut claire = Agent::connect(&hub, "claire", "claire-password").await;
    a_visit_works(&hub, "good", &good_secret, &mut claire).await;

    // Each attempt left one line, escaped and cut short.
    eventually("the refusals in the hub's log", || async {
        let log = served.log.lock().unwrap();
        let escaped = log.iter().filter(|l| l.contains("evil\\n1999-01-01")).count();
        let long = log.iter().any(|l| l.contains("xxx…(+6936 bytes)")) && log.iter().any(|l| l.contains("yyy…(+59936 bytes)"));
        (escaped >= 3 && long).then_some(())
    })
    .await;
    let log = served.log.lock().unwrap();
    for line in log.iter() {
        assert!(!line.starts_with("1999-01-01"), "a forged line: {line}");
        assert!(line.len() < 1000, "a line of {} bytes: {}", line.len(), &line[..200]);
    }
    assert!(log.iter().all(|l| !l.contains("guess")), "no password in the log");
}

#[tokio::test]
async fn revoked_credentials_close_their_live_sockets_at_once() {
    use visio_hub::store::revocation::Kind;
    let hub = TestHub::start().await;
    let (old_secret, good_secret) = (hub.enroll("besse"), hub.enroll("good"));
    hub.add_agent("claire", "claire-password", &["demo"]);
    hub.add_agent("paul", "paul-password", &["demo"]);
    hub.add_agent("marc", "marc-password", &["demo"]);
    let mut marc = Agent::connect(&hub, "marc", "marc-password").await;

    // Signing out closes the console that was open with that sign-in.
    let cookie = Agent::sign_in(&hub, "claire", "claire-password").await.unwrap();
    let mut claire = Agent::connect_resuming(&hub, &cookie, "claire", None).await;
    let out = hub.http().post(hub.url("/api/agent/logout")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(out.status(), 204);
    let refused = claire.error().await;
    assert_eq!(refused.code, ErrorCode::AuthFailed, "{refused:?}");
    assert_eq!(claire.close_code().await, Some(1008));

    // A re-enrolled kiosk's old connection closes and its wait ends; the
    // kiosk with its new secret gets in and stays.
    let mut old = Kiosk::connect(&hub, "besse", &old_secret).await;
    old.queue("demo").await;
    let new_secret = hub.enroll("besse");
    assert_eq!(old.close_code().await, Some(1008));
    hub.wait_for_log("the old wait ended", |log| {
        log.iter().find(|r| r.kiosk_id == "besse" && r.end_reason.as_deref() == Some("kiosk_disconnected")).map(|_| ())
    })
    .await;
    let mut new = Kiosk::connect(&hub, "besse", &new_secret).await;
    new.heartbeat(1, None, None).await;

    // Disabling an agent closes the console and refuses a new sign-in;
    // enabling lets them back.
    let mut paul = Agent::connect(&hub, "paul", "paul-password").await;
    assert!(hub.store.set_disabled(Kind::Agent, "paul", true, jiff::Timestamp::now()).unwrap());
    assert_eq!(paul.close_code().await, Some(1008));
    assert_eq!(Agent::sign_in(&hub, "paul", "paul-password").await.unwrap_err(), 401);
    assert!(hub.store.set_disabled(Kind::Agent, "paul", false, jiff::Timestamp::now()).unwrap());
    Agent::sign_in(&hub, "paul", "paul-password").await.unwrap();

    // Disabling a kiosk closes it and refuses its hello.
    assert!(hub.store.set_disabled(Kind::Kiosk, "besse", true, jiff::Timestamp::now()).unwrap());
    assert_eq!(new.close_code().await, Some(1008));
    let mut again = Kiosk::open(&hub, "/ws/kiosk", None, "besse").await.unwrap();
    again.send_raw(hello("besse", &new_secret)).await;
    assert_eq!(again.error().await.code, ErrorCode::AuthFailed);

    a_visit_works(&hub, "good", &good_secret, &mut marc).await;
    hub.stop().await;
}

#[tokio::test]
async fn visio_hub_agent_and_kiosk_commands_disable_enable_and_remove() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve_process(
        std::process::Command::new(env!("CARGO_BIN_EXE_visio-hub"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(["serve", "--listen", "127.0.0.1:0"]),
    );
    let hub = TestHub::external(served.addr, dir.path());
    let (secret, good_secret) = (hub.enroll("besse"), hub.enroll("good"));
    hub.add_agent("claire", "claire-password", &["demo"]);
    hub.add_agent("marc", "marc-password", &["demo"]);
    let mut marc = Agent::connect(&hub, "marc", "marc-password").await;
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_visio-hub")).arg("--data-dir").arg(dir.path()).args(args).output().unwrap()
    };

    let mut claire = Agent::connect(&hub, "claire", "claire-password").await;
    assert!(cli(&["agent", "disable", "claire"]).status.success());
    assert_eq!(claire.close_code().await, Some(1008));
    assert_eq!(Agent::sign_in(&hub, "claire", "claire-password").await.unwrap_err(), 401);
    assert!(cli(&["agent", "enable", "claire"]).status.success());
    let mut claire = Agent::connect(&hub, "claire", "claire-password").await;
    // A new password ends the sessions and closes the open console.
    let mut change = std::process::Command::new(env!("CARGO_BIN_EXE_visio-hub"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["agent", "password", "claire", "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        change.stdin.take().unwrap().write_all(b"a-new-password\n").unwrap();
    }
    assert!(change.wait().unwrap().success());
    assert_eq!(claire.close_code().await, Some(1008));
    assert_eq!(Agent::sign_in(&hub, "claire", "claire-password").await.unwrap_err(), 401);
    let mut claire = Agent::connect(&hub, "claire", "a-new-password").await;
    assert!(cli(&["agent", "remove", "claire"]).status.success());
    assert_eq!(claire.close_code().await, Some(1008));
    let unknown = cli(&["agent", "disable", "claire"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("there is no agent \"claire\""));

    let mut kiosk = Kiosk::connect(&hub, "besse", &secret).await;
    assert!(cli(&["kiosk", "disable", "besse"]).status.success());
    assert_eq!(kiosk.close_code().await, Some(1008));
    assert!(cli(&["kiosk", "remove", "besse"]).status.success());
    assert!(!cli(&["kiosk", "remove", "besse"]).status.success());

    a_visit_works(&hub, "good", &good_secret, &mut marc).await;
}

#[tokio::test]
async fn message_floods_and_visit_floods_are_cut_while_others_carry_on() {
    let hub = hub_with(|s| {
        s.limits.messages_per_second = 5.0;
        s.limits.message_burst = 20;
        s.limits.visits_per_minute = 3;
    })
    .await;
    let (flood_secret, visits_secret, good_secret) = (hub.enroll("flood"), hub.enroll("visits"), hub.enroll("good"));
    hub.add_agent("claire", "claire-password", &["demo"]);
    let mut claire = Agent::connect(&hub, "claire", "claire-password").await;

    // Thousands of heartbeats at once: closed once past the burst.
    let mut flood = raw_ws(&hub, "/ws/kiosk", attacker(2), None).await.unwrap();
    flood.send(Message::Text(hello("flood", &flood_secret).into())).await.unwrap();
    for seq in 0..2_000u64 {
        let beat = KioskToHub::Heartbeat { seq, app_version: "x".into(), config_version: None, devices: None, rtt_ms: None, last_call: None };
        if flood.send(Message::Text(encode(&beat).into())).await.is_err() {
            break;
        }
    }
    let (texts, closed) = read_until_closed(&mut flood).await;
    assert_eq!(closed.map(|c| c.0), Some(1008));
    let acks = texts.iter().filter(|t| t.contains("heartbeat_ack")).count();
    assert!(acks <= 20, "at most the burst was served, got {acks}");
    assert!(texts.last().unwrap().contains("messages per second"), "{texts:?}");
    assert_eq!(refusals(&hub, "message_rate").await, 1);

    // A kiosk starting visit after visit: the fourth in a minute is refused.
    let mut k = Kiosk::connect(&hub, "visits", &visits_secret).await;
    for _ in 0..3 {
        k.queue("demo").await;
        k.send(KioskToHub::CancelCall).await;
        k.wait_for("call ended", |m| matches!(m, HubToKiosk::CallEnded { .. })).await;
    }
    k.send(KioskToHub::RequestCall { service: "demo".into() }).await;
    let refused = k.error().await;
    assert_eq!(refused.code, ErrorCode::Forbidden);
    assert!(refused.message.contains("3 visits in the last minute"), "{}", refused.message);
    assert_eq!(refusals(&hub, "visits_per_minute").await, 1);
    // Reconnecting does not start the count afresh.
    k.close().await;
    let mut k = Kiosk::connect(&hub, "visits", &visits_secret).await;
    k.send(KioskToHub::RequestCall { service: "demo".into() }).await;
    assert_eq!(k.error().await.code, ErrorCode::Forbidden);

    a_visit_works(&hub, "good", &good_secret, &mut claire).await;
    hub.stop().await;
}
