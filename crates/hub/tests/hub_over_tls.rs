//! The real hub over real TLS sockets on loopback: queues, the signaling
//! relay, cleanup, refusals, bad input, the session log and the metrics.

mod common;

use common::*;
use jiff::{Timestamp, ToSpan};
use visio_protocol::*;

#[tokio::test]
async fn residents_queue_and_only_an_agent_of_their_service_takes_them() {
    let hub = TestHub::start().await;
    let (s1, s2) = (hub.enroll("besse"), hub.enroll("ardes"));
    hub.add_agent("marc", "marc-password", &["msa"]);
    hub.add_agent("claire", "claire-password", &["demo"]);
    let mut marc = Agent::connect(&hub, "marc", "marc-password").await;
    let mut claire = Agent::connect(&hub, "claire", "claire-password").await;

    // The "demo" service is open at all hours, so this test runs any time.
    let mut k1 = Kiosk::connect(&hub, "besse", &s1).await;
    let mut k2 = Kiosk::connect(&hub, "ardes", &s2).await;
    let (session1, p1) = k1.queue("demo").await;
    let (session2, p2) = k2.queue("demo").await;
    assert_eq!((p1, p2), (1, 2));

    let queues = claire
        .wait_for("both kiosks in claire's queue", |m| waiting(m, "demo").is_some_and(|w| w.len() == 2))
        .await;
    assert_eq!(waiting(&queues, "demo").unwrap(), vec!["besse", "ardes"]);

    // Marc serves only msa: he was never told of them and cannot take them.
    marc.send(AgentToHub::TakeNext { service: Some("demo".into()) }).await;
    assert_eq!(marc.error().await.code, ErrorCode::Forbidden);
    marc.send(AgentToHub::TakeNext { service: None }).await;
    assert!(matches!(marc.next().await, HubToAgent::QueueEmpty { .. }));

    // Claire takes the first resident.
    assert_eq!(claire.take_next().await, session1);
    assert!(matches!(k1.next().await, HubToKiosk::CallAnswered { session, agent_name, .. }
        if session == session1 && agent_name == "claire (test)"));
    assert!(matches!(k2.next().await, HubToKiosk::QueueUpdate { position: 1, .. }));

    // Offer, answer and candidates reach exactly the other side of the pair.
    k1.send(KioskToHub::Signal { session: session1.clone(), signal: offer() }).await;
    let relayed = claire.wait_for("offer", |m| matches!(m, HubToAgent::Signal { .. })).await;
    assert_eq!(relayed, HubToAgent::Signal { session: session1.clone(), signal: offer() });
    claire.send(AgentToHub::Signal { session: session1.clone(), signal: answer() }).await;
    assert_eq!(k1.next().await, HubToKiosk::Signal { session: session1.clone(), signal: answer() });
    for n in 0..3 {
        k1.send(KioskToHub::Signal { session: session1.clone(), signal: candidate(n) }).await;
        claire.send(AgentToHub::Signal { session: session1.clone(), signal: candidate(10 + n) }).await;
    }
    for n in 0..3 {
        assert_eq!(claire.next().await, HubToAgent::Signal { session: session1.clone(), signal: candidate(n) });
        assert_eq!(k1.next().await, HubToKiosk::Signal { session: session1.clone(), signal: candidate(10 + n) });
    }

    // Claire cannot reach the kiosk that is still waiting.
    claire.send(AgentToHub::Signal { session: session2.clone(), signal: candidate(99) }).await;
    assert_eq!(claire.error().await.code, ErrorCode::NotYourSession);

    // Nothing leaked to the second kiosk or to marc: the next thing each
    // hears is what we make happen now.
    claire.send(AgentToHub::HangUp { session: session1.clone() }).await;
    assert_eq!(k1.next().await, HubToKiosk::CallEnded { session: session1.clone(), reason: EndReason::AgentHungUp });
    // Claire is free now: the second kiosk hears that an agent is coming.
    assert_eq!(
        k2.next().await,
        HubToKiosk::QueueUpdate { session: session2.clone(), position: 1, estimated_wait: Some(WaitEstimate { seconds: 0 }) }
    );
    k2.send(KioskToHub::CancelCall).await;
    assert_eq!(k2.next().await, HubToKiosk::CallEnded { session: session2.clone(), reason: EndReason::Cancelled });
    marc.send(AgentToHub::SetAvailability { available: false }).await;
    assert_eq!(marc.next().await, HubToAgent::Availability { available: false });
    hub.stop().await;
}

#[tokio::test]
async fn cancel_and_disconnects_are_cleaned_up_and_the_other_side_is_told() {
    // A short resume grace: a lost side is held for it, then the call ends.
    let hub = TestHub::start_in(tempfile::tempdir().unwrap(), TestHub::settings_with_grace(1)).await;
    let secrets: Vec<Secret> = ["k1", "k2", "k3"].iter().map(|k| hub.enroll(k)).collect();
    hub.add_agent("claire", "claire-password", &["demo"]);
    let mut claire = Agent::connect(&hub, "claire", "claire-password").await;
    let mut k1 = Kiosk::connect(&hub, "k1", &secrets[0]).await;
    let mut k2 = Kiosk::connect(&hub, "k2", &secrets[1]).await;
    let mut k3 = Kiosk::connect(&hub, "k3", &secrets[2]).await;
    k1.queue("demo").await;
    let (s2, _) = k2.queue("demo").await;
    let (s3, _) = k3.queue("demo").await;

    // k1 cancels: claire sees the queue shrink, k2 and k3 move up.
    k1.send(KioskToHub::CancelCall).await;
    assert!(matches!(k1.next().await, HubToKiosk::CallEnded { reason: EndReason::Cancelled, .. }));
    assert!(matches!(k2.next().await, HubToKiosk::QueueUpdate { position: 1, .. }));
    assert!(matches!(k3.next().await, HubToKiosk::QueueUpdate { position: 2, .. }));
    claire.wait_for("k1 gone from the queue", |m| waiting(m, "demo") == Some(vec!["k2".into(), "k3".into()])).await;

    // k2's connection drops in the middle of its call: claire is told at
    // once, and again when the grace runs out.
    assert_eq!(claire.take_next().await, s2);
    k2.close().await;
    let away = claire.wait_for("peer away", |m| matches!(m, HubToAgent::PeerAway { .. })).await;
    assert_eq!(away, HubToAgent::PeerAway { session: s2.clone() });
    let ended = claire.wait_for("call ended", |m| matches!(m, HubToAgent::CallEnded { .. })).await;
    assert_eq!(ended, HubToAgent::CallEnded { session: s2, reason: EndReason::KioskDisconnected });

    // claire's connection drops in the middle of k3's call: k3 is told.
    assert_eq!(claire.take_next().await, s3);
    assert!(matches!(k3.wait_for("answered", |m| matches!(m, HubToKiosk::CallAnswered { .. })).await, HubToKiosk::CallAnswered { .. }));
    claire.close().await;
    assert_eq!(k3.next().await, HubToKiosk::PeerAway { session: s3.clone() });
    assert_eq!(k3.next().await, HubToKiosk::CallEnded { session: s3, reason: EndReason::AgentDisconnected });

    let metrics = eventually("no call left in the metrics", || async {
        let m = hub.get_text("/metrics").await;
        m.contains("visio_hub_calls_in_progress 0").then_some(m)
    })
    .await;
    assert!(metrics.contains("visio_hub_connected_agents 0"), "{metrics}");
    hub.stop().await;
}

#[tokio::test]
async fn wrong_credentials_are_refused_without_saying_which_part_was_wrong() {
    let hub = TestHub::start().await;
    let secret = hub.enroll("besse");
    hub.add_agent("claire", "claire-password", &["demo"]);

    let mut refusals = Vec::new();
    for (id, secret) in [("besse", Secret("wrong".into())), ("nobody", secret.clone())] {
        let mut k = Kiosk::open(&hub, "/ws/kiosk", None, id).await.unwrap();
        k.send(KioskToHub::Hello { protocol: PROTOCOL_VERSION, kiosk_id: id.into(), secret, app_version: None, resume: None }).await;
        refusals.push(k.error().await);
        assert!(k.next_or_closed().await.is_none(), "the refused connection is closed");
    }
    assert_eq!(refusals[0], refusals[1], "an unknown kiosk and a wrong secret look the same");
    assert_eq!(refusals[0].code, ErrorCode::AuthFailed);

    let wrong_password = hub.http().post(hub.url("/api/agent/login"))
        .json(&serde_json::json!({"login": "claire", "password": "nope"})).send().await.unwrap();
    let unknown_login = hub.http().post(hub.url("/api/agent/login"))
        .json(&serde_json::json!({"login": "ghost", "password": "claire-password"})).send().await.unwrap();
    assert_eq!(wrong_password.status(), 401);
    assert_eq!(unknown_login.status(), 401);
    assert_eq!(wrong_password.text().await.unwrap(), unknown_login.text().await.unwrap());

    // Without a session cookie there is no agent WebSocket.
    assert!(Agent::open(&hub, "/ws/agent", None, "anonymous").await.unwrap_err().contains("401"));
    assert!(Agent::open(&hub, "/ws/agent", Some("visio_session=forged"), "forger").await.unwrap_err().contains("401"));

    // Repeated failures slow the guesser down, even with the right password:
    // one wrong password above, four more here, and the sixth try waits.
    for _ in 0..4 {
        assert_eq!(Agent::sign_in(&hub, "claire", "guess").await.unwrap_err(), 401);
    }
    assert_eq!(Agent::sign_in(&hub, "claire", "claire-password").await.unwrap_err(), 429);

    // The good kiosk still gets in.
    Kiosk::connect(&hub, "besse", &secret).await;
    hub.stop().await;
}

#[tokio::test]
async fn a_kiosk_one_version_behind_is_served_without_transfers_and_other_versions_are_refused() {
    let hub = TestHub::start().await;
    let secret = hub.enroll("besse");
    hub.add_agent("claire", "claire-password", &["demo"]);
    let hello = |protocol| KioskToHub::Hello { protocol, kiosk_id: "besse".into(), secret: secret.clone(), app_version: None, resume: None };

    for protocol in [0, PROTOCOL_VERSION + 1] {
        let mut k = Kiosk::open(&hub, "/ws/kiosk", None, "besse").await.unwrap();
        k.send(hello(protocol)).await;
        let e = k.error().await;
        assert_eq!(e.code, ErrorCode::UnsupportedProtocol);
        assert!(e.message.contains(&format!("versions {OLDEST_KIOSK_PROTOCOL} to {PROTOCOL_VERSION}")), "{}", e.message);
        assert!(k.next_or_closed().await.is_none(), "the refused connection is closed");
    }
    // A console must speak the hub's own version (it is served by the hub).
    let cookie = Agent::sign_in(&hub, "claire", "claire-password").await.unwrap();
    let mut stale = Agent::open(&hub, "/ws/agent", Some(&cookie), "claire").await.unwrap();
    stale.send(AgentToHub::Hello { protocol: 1, resume: None }).await;
    assert_eq!(stale.error().await.code, ErrorCode::UnsupportedProtocol);

    // A kiosk of version 1 (the fleet not yet upgraded) queues and talks.
    let mut k = Kiosk::open(&hub, "/ws/kiosk", None, "besse").await.unwrap();
    k.send(hello(1)).await;
    assert!(matches!(k.next().await, HubToKiosk::Welcome { .. }));
    let (session, _) = k.queue("demo").await;
    let mut claire = Agent::connect(&hub, "claire", "claire-password").await;
    assert_eq!(claire.take_next().await, session);
    k.wait_for("the answer", |m| matches!(m, HubToKiosk::CallAnswered { .. })).await;
    // Its resident cannot be transferred: the agent hears why.
    let to = TransferTarget::Service { service: "demo".into() };
    claire.send(AgentToHub::Transfer { session: session.clone(), to }).await;
    let e = claire.error().await;
    assert_eq!(e.code, ErrorCode::OutOfPlace);
    assert!(e.message.contains("older version"), "{}", e.message);
    // The call goes on: the kiosk's offer reaches the agent, and the next
    // thing the kiosk hears is its answer.
    k.send(KioskToHub::Signal { session: session.clone(), signal: offer() }).await;
    claire.wait_for("offer", |m| matches!(m, HubToAgent::Signal { .. })).await;
    claire.send(AgentToHub::Signal { session: session.clone(), signal: answer() }).await;
    assert_eq!(k.next().await, HubToKiosk::Signal { session: session.clone(), signal: answer() });
    claire.send(AgentToHub::HangUp { session: session.clone() }).await;
    assert_eq!(k.next().await, HubToKiosk::CallEnded { session, reason: EndReason::AgentHungUp });
    hub.stop().await;
}

#[tokio::test]
async fn bad_input_gets_an_error_and_everyone_carries_on() {
    let hub = TestHub::start().await;
    let (sa, sb) = (hub.enroll("a"), hub.enroll("b"));
    hub.add_agent("claire", "claire-password", &["demo"]);
    let mut claire = Agent::connect(&hub, "claire", "claire-password").await;
    let mut a = Kiosk::connect(&hub, "a", &sa).await;
    let mut b = Kiosk::connect(&hub, "b", &sb).await;
    let (session_a, _) = a.queue("demo").await;

    let cases: Vec<(String, ErrorCode, &str)> = vec![
        ("{not json".into(), ErrorCode::MalformedMessage, "not a JSON object"),
        (r#"{"type":"take_next"}"#.into(), ErrorCode::UnknownMessageType, "unknown message type \"take_next\""),
        (r#"{"type":"request_call"}"#.into(), ErrorCode::MalformedMessage, "missing field `service`"),
        (format!(r#"{{"type":"cancel_call","pad":"{}"}}"#, "x".repeat(100_000)), ErrorCode::MessageTooLarge, "over the limit of 65536 bytes"),
    ];
    for (text, code, says) in cases {
        b.send_raw(text).await;
        let e = b.error().await;
        assert_eq!(e.code, code);
        assert!(e.message.contains(says), "{:?} should say {says:?}", e.message);
    }
    b.send_binary(vec![1, 2, 3]).await;
    assert_eq!(b.error().await.code, ErrorCode::MalformedMessage);

    // Out of place: a signal from a kiosk that is not in a call, and an
    // answer without an offer in a real call.
    b.send(KioskToHub::Signal { session: session_a.clone(), signal: answer() }).await;
    assert_eq!(b.error().await.code, ErrorCode::NotYourSession);
    assert_eq!(claire.take_next().await, session_a);
    a.wait_for("answered", |m| matches!(m, HubToKiosk::CallAnswered { .. })).await;
    claire.send(AgentToHub::Signal { session: session_a.clone(), signal: answer() }).await;
    let e = claire.error().await;
    assert_eq!(e.code, ErrorCode::OutOfPlace);
    assert_eq!(e.message, "answer without a pending offer from the other side");
    claire.send_raw(r#"{"type":"signal","session":"x","signal":{"kind":"offer"}}"#.into()).await;
    assert_eq!(claire.error().await.code, ErrorCode::MalformedMessage);

    // Every connection is still up and the call still works.
    a.send(KioskToHub::Signal { session: session_a.clone(), signal: offer() }).await;
    assert_eq!(claire.wait_for("offer", |m| matches!(m, HubToAgent::Signal { .. })).await,
        HubToAgent::Signal { session: session_a.clone(), signal: offer() });
    let (_, position) = b.queue("demo").await;
    assert_eq!(position, 1);
    hub.stop().await;
}

#[tokio::test]
async fn a_call_request_outside_opening_hours_is_refused_with_the_next_opening() {
    // A service closed today and for the next two days (closed dates), open
    // 09:00-12:00 every day otherwise: its next opening is known exactly.
    let tz = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
    let today = Timestamp::now().to_zoned(tz.clone()).date();
    let closed: Vec<String> = (0..3).map(|d| today.checked_add(d.days()).unwrap().to_string()).collect();
    let reopening = today.checked_add(3.days()).unwrap().at(9, 0, 0, 0).to_zoned(tz).unwrap().timestamp();
    let mut catalogue: serde_json::Value = serde_json::from_str(visio_config::DEMO_CATALOGUE_JSON).unwrap();
    let every_day = serde_json::json!(["09:00-12:00"]);
    let hours = serde_json::json!({
        "mon": every_day, "tue": every_day, "wed": every_day, "thu": every_day,
        "fri": every_day, "sat": every_day, "sun": every_day, "closed_dates": closed,
    });
    catalogue["services"][0]["hours"] = hours;
    let catalogue = visio_config::Catalogue::from_json("test", &catalogue.to_string()).unwrap();
    let hub = TestHub::start_with(catalogue).await;
    let secret = hub.enroll("besse");
    let mut k = Kiosk::connect(&hub, "besse", &secret).await;
    k.send(KioskToHub::RequestCall { service: "caf".into() }).await;
    let HubToKiosk::CallRefused { service, reason, message } = k.next().await else { panic!("expected a refusal") };
    assert_eq!(service.as_str(), "caf");
    assert_eq!(reason, RefusalReason::Closed { next_opening: Some(reopening) });
    assert!(message.starts_with("CAF is closed; it opens on ") && message.ends_with("at 09:00 (Europe/Paris)"), "{message}");
    // Nothing was queued and the kiosk can still ask for an open service.
    assert_eq!(k.queue("demo").await.1, 1);
    hub.stop().await;
}

#[tokio::test]
async fn the_session_log_and_metrics_reflect_the_sessions() {
    let hub = TestHub::start().await;
    let (s1, s2) = (hub.enroll("besse"), hub.enroll("ardes"));
    hub.add_agent("claire", "claire-password", &["demo"]);
    let mut claire = Agent::connect(&hub, "claire", "claire-password").await;
    let mut k1 = Kiosk::connect(&hub, "besse", &s1).await;
    let mut k2 = Kiosk::connect(&hub, "ardes", &s2).await;

    let before = Timestamp::now();
    let (answered_session, _) = k1.queue("demo").await;
    let (cancelled_session, _) = k2.queue("demo").await;
    claire.take_next().await;
    k1.wait_for("answered", |m| matches!(m, HubToKiosk::CallAnswered { .. })).await;
    k2.send(KioskToHub::CancelCall).await;
    k2.wait_for("cancelled", |m| matches!(m, HubToKiosk::CallEnded { .. })).await;

    let metrics = eventually("a call in progress in the metrics", || async {
        let m = hub.get_text("/metrics").await;
        m.contains("visio_hub_calls_in_progress 1").then_some(m)
    })
    .await;
    for line in [
        "visio_hub_connected_kiosks 2",
        "visio_hub_connected_agents 1",
        "visio_hub_available_agents 1",
        "visio_hub_queue_length{service=\"demo\"} 0",
        "visio_hub_calls_total 1",
        "visio_hub_visits_ended_total{reason=\"cancelled\"} 1",
    ] {
        assert!(metrics.contains(line), "missing {line:?} in:\n{metrics}");
    }

    k1.send(KioskToHub::HangUp { session: answered_session.clone() }).await;
    k1.wait_for("ended", |m| matches!(m, HubToKiosk::CallEnded { .. })).await;
    k1.send(KioskToHub::Rate { session: answered_session.clone(), rating: Rating::Happy }).await;
    let after_hangup = Timestamp::now();

    let log = hub.wait_for_log("both sessions ended, one rated", |log| {
        (log.len() == 2 && log.iter().all(|r| r.ended_at.is_some()) && log.iter().any(|r| r.rating.is_some()))
            .then(|| log.to_vec())
    })
    .await;
    let answered = log.iter().find(|r| r.session == answered_session.as_str()).unwrap();
    let cancelled = log.iter().find(|r| r.session == cancelled_session.as_str()).unwrap();
    assert_eq!((answered.kiosk_id.as_str(), answered.service.as_str()), ("besse", "demo"));
    assert_eq!(answered.agent.as_deref(), Some("claire"));
    assert_eq!(answered.end_reason.as_deref(), Some("kiosk_hung_up"));
    assert_eq!(answered.rating.as_deref(), Some("happy"));
    let (q, a, e) = (answered.queued_at, answered.answered_at.unwrap(), answered.ended_at.unwrap());
    // Times are real and in order; the millisecond rounding of the log is
    // why the bounds widen by a millisecond.
    let ms = jiff::SignedDuration::from_millis(1);
    assert!(before - ms <= q && q <= a && a <= e && e <= after_hangup + ms, "{answered:?}");
    assert_eq!(cancelled.agent, None);
    assert_eq!(cancelled.answered_at, None);
    assert_eq!(cancelled.end_reason.as_deref(), Some("cancelled"));

    let metrics = hub.get_text("/metrics").await;
    assert!(metrics.contains("visio_hub_visits_ended_total{reason=\"kiosk_hung_up\"} 1"), "{metrics}");
    assert!(metrics.contains("visio_hub_calls_in_progress 0"), "{metrics}");
    hub.stop().await;
}

#[tokio::test]
async fn health_headers_and_cross_origin_protection() {
    let hub = TestHub::start().await;
    let response = hub.http().get(hub.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let csp = response.headers().get("content-security-policy").unwrap().to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    let health: serde_json::Value = response.json().await.unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["protocol"], PROTOCOL_VERSION);

    // The agent console is served by the hub itself, with its script as a
    // file (the policy forbids inline code).
    let page = hub.get_text("/agent/").await;
    for hook in ["login-user", "login-password", "login-submit", "take-next", "remote-video", "end-call", "doc-status"] {
        assert!(page.contains(&format!("data-testid=\"{hook}\"")), "missing {hook}");
    }
    let script = hub.http().get(hub.url("/agent/console.js")).send().await.unwrap();
    assert!(script.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));

    hub.add_agent("claire", "claire-password", &["demo"]);
    let response = hub.http().post(hub.url("/api/agent/login"))
        .json(&serde_json::json!({"login": "claire", "password": "claire-password"})).send().await.unwrap();
    let cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let cookie = cookie.split(';').next().unwrap();

    // A page of another site cannot open the agent's WebSocket with the cookie.
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        format!("wss://localhost:{}/ws/agent", hub.addr.port()),
    )
    .unwrap();
    request.headers_mut().insert("cookie", cookie.parse().unwrap());
    request.headers_mut().insert("origin", "https://evil.example".parse().unwrap());
    let refused = tokio_tungstenite::connect_async_tls_with_config(
        request,
        None,
        false,
        Some(tokio_tungstenite::Connector::Rustls(hub.tls_client_config())),
    )
    .await;
    assert!(refused.unwrap_err().to_string().contains("403"));
    hub.stop().await;
}
