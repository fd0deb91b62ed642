//! The host page's WebSocket (`/ws/host`) on the real hub over TLS: who
//! may open it, and a help request from a kiosk (a protocol client) going
//! to its site's host and the acknowledgement coming back to the kiosk.

use visio_hub::roles::Role;
use visio_protocol::{AlertKind, ErrorCode, HostToHub, HubToHost, HubToKiosk, KioskToHub, PROTOCOL_VERSION};
use visio_testkit::hub::{Client, Kiosk, TestHub};
use visio_testkit::wait::init_tracing;

type Host = Client<HubToHost, HostToHub>;

/// Signs in to the admin console and returns the `Cookie` header value.
async fn console_cookie(hub: &TestHub, login: &str, password: &str) -> String {
    let response = hub
        .http()
        .post(hub.url("/api/admin/login"))
        .json(&serde_json::json!({"login": login, "password": password}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{login} signs in: {}", response.status());
    let set_cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    set_cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_hosts_with_a_site_open_the_host_socket_and_a_host_answers_a_kiosk() {
    init_tracing();
    let hub = TestHub::start().await;
    let besse_secret = hub.enroll("besse");
    hub.add_host("accueil-besse", "pw besse", &["Mairie de besse"]);
    hub.add_console_account("sans-site", "pw sans", Role::Host);
    hub.add_console_account("partenaire", "pw partenaire", Role::Agent);

    // No cookie, an agent's role, a host without a site: refused before
    // the upgrade, each with its reason.
    let refused = Host::open(&hub, "/ws/host", None, "anonymous").await.unwrap_err();
    assert!(refused.contains("401"), "{refused}");
    for (login, password) in [("partenaire", "pw partenaire"), ("sans-site", "pw sans")] {
        let cookie = console_cookie(&hub, login, password).await;
        let refused = Host::open(&hub, "/ws/host", Some(&cookie), login).await.unwrap_err();
        assert!(refused.contains("403"), "{login}: {refused}");
    }

    let cookie = console_cookie(&hub, "accueil-besse", "pw besse").await;
    let mut host = Host::open(&hub, "/ws/host", Some(&cookie), "host").await.unwrap();
    host.send(HostToHub::Hello { protocol: PROTOCOL_VERSION }).await;
    assert!(matches!(host.next().await, HubToHost::Welcome { sites, .. } if sites == ["Mairie de besse"]));
    assert_eq!(host.next().await, HubToHost::Board { kiosks: vec![] });

    let mut besse = Kiosk::connect(&hub, "besse", &besse_secret).await;
    host.wait_for("besse online", |m| matches!(m, HubToHost::Kiosk { kiosk } if kiosk.online && kiosk.alerts.is_empty())).await;
    besse.send(KioskToHub::HelpRequest { screen: "home".into() }).await;
    let entry = host.wait_for("besse's call for help", |m| matches!(m, HubToHost::Kiosk { kiosk } if !kiosk.alerts.is_empty())).await;
    let HubToHost::Kiosk { kiosk } = entry else { unreachable!() };
    assert_eq!((kiosk.screen.as_deref(), kiosk.alerts[0].kind), (Some("home"), AlertKind::Help));

    // Another site's kiosk is not this host's to acknowledge.
    host.send(HostToHub::Acknowledge { kiosk_id: "ardes".into(), alert: AlertKind::Help }).await;
    assert!(matches!(host.next().await, HubToHost::Error(e) if e.code == ErrorCode::Forbidden));
    host.send(HostToHub::Acknowledge { kiosk_id: "besse".into(), alert: AlertKind::Help }).await;
    assert_eq!(besse.next().await, HubToKiosk::HostComing);
    host.wait_for("acknowledged by the host", |m| {
        matches!(m, HubToHost::Kiosk { kiosk } if kiosk.alerts.iter().any(|a| a.acknowledged_by.as_deref() == Some("accueil-besse (accueil)")))
    })
    .await;
}
