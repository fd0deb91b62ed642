//! Appointments with the real hub over TLS on SQLite: an agent books a
//! slot over HTTPS, its resident passes two walk-ins in its window, and
//! the agent's day reads back as JSON and as iCalendar (RFC 5545).

mod common;

use common::*;
use jiff::{SignedDuration, Timestamp};
use visio_protocol::*;

async fn book(http: &reqwest::Client, hub: &TestHub, cookie: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let response = http.post(hub.url("/api/agent/appointments")).header("cookie", cookie).json(&body).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or_default())
}

#[tokio::test]
async fn a_booked_resident_passes_two_walk_ins_and_the_day_exports_as_icalendar() {
    let hub = TestHub::start().await;
    let secrets: Vec<Secret> = ["ardes", "murol", "besse"].iter().map(|k| hub.enroll(k)).collect();
    hub.add_agent("claire", "claire-password", &["demo"]);
    let cookie = Agent::sign_in(&hub, "claire", "claire-password").await.unwrap();
    let http = hub.http();

    // A 30-minute slot at Besse that started a minute ago ("demo" is open
    // at all hours, so this runs any time).
    let start = Timestamp::now() - SignedDuration::from_mins(1);
    let slot = serde_json::json!({"kiosk_id": "besse", "service": "demo", "start": start.to_string(), "minutes": 30});
    let (status, booked) = book(&http, &hub, &cookie, slot.clone()).await;
    assert_eq!(status, 201, "{booked}");
    assert_eq!(booked["reference"], "RDV-000001");
    assert_eq!(booked["site"], "Mairie de besse");
    // The same time again, a service the agent does not serve, a kiosk
    // that does not exist: refused, each saying why.
    let (status, refused) = book(&http, &hub, &cookie, slot.clone()).await;
    assert_eq!((status, refused["code"].as_str()), (409, Some("slot_taken")), "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("RDV-000001"));
    let mut other = slot.clone();
    other["service"] = "caf".into();
    assert_eq!(book(&http, &hub, &cookie, other).await.0, 403);
    let mut nowhere = slot.clone();
    nowhere["kiosk_id"] = "nowhere".into();
    assert_eq!(book(&http, &hub, &cookie, nowhere).await.1["code"], "unknown_kiosk");

    // Two walk-ins, then the booked resident: first in line.
    let mut claire = Agent::connect(&hub, "claire", "claire-password").await;
    let mut ardes = Kiosk::connect(&hub, "ardes", &secrets[0]).await;
    let mut murol = Kiosk::connect(&hub, "murol", &secrets[1]).await;
    let mut besse = Kiosk::connect(&hub, "besse", &secrets[2]).await;
    let (walk_in, p1) = ardes.queue("demo").await;
    let (_, p2) = murol.queue("demo").await;
    let (booked_session, p3) = besse.queue("demo").await;
    assert_eq!((p1, p2, p3), (1, 2, 1));
    assert!(matches!(ardes.next().await, HubToKiosk::QueueUpdate { position: 2, .. }));
    assert_eq!(claire.take_next().await, booked_session);
    assert!(matches!(besse.next().await, HubToKiosk::CallAnswered { .. }));
    claire.send(AgentToHub::HangUp { session: booked_session }).await;
    claire.wait_for("call ended", |m| matches!(m, HubToAgent::CallEnded { .. })).await;
    assert_eq!(claire.take_next().await, walk_in, "then the walk-ins, in their order");

    // The agent's day.
    let day: serde_json::Value =
        http.get(hub.url("/api/agent/appointments")).header("cookie", &cookie).send().await.unwrap().json().await.unwrap();
    let list = day["appointments"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{day}");
    assert_eq!((list[0]["reference"].as_str(), list[0]["state"].as_str()), (Some("RDV-000001"), Some("booked")));
    assert_eq!(list[0]["kiosk_id"], "besse");

    // As iCalendar: CRLF lines of at most 75 octets, the event in UTC.
    let response = http.get(hub.url("/api/agent/appointments.ics")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/calendar; charset=utf-8");
    let ics = response.text().await.unwrap();
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"), "{ics}");
    assert!(ics.split("\r\n").all(|line| line.len() <= 75 && !line.contains('\n')), "{ics}");
    let unfolded = ics.replace("\r\n ", "");
    assert!(unfolded.contains("UID:RDV-000001@localhost\r\n"), "{unfolded}");
    assert!(unfolded.contains(&format!("DTSTART:{}\r\n", start.strftime("%Y%m%dT%H%M%SZ"))), "{unfolded}");
    assert!(unfolded.contains("SUMMARY:Rendez-vous "), "{unfolded}");

    // Cancelled once; the day shows it cancelled. Nobody signed in: nothing.
    let cancel = |n: u64| http.post(hub.url(&format!("/api/agent/appointments/{n}/cancel"))).header("cookie", &cookie).send();
    assert_eq!(cancel(1).await.unwrap().status(), 204);
    assert_eq!(cancel(1).await.unwrap().status(), 409);
    assert_eq!(cancel(7).await.unwrap().status(), 404);
    let day: serde_json::Value =
        http.get(hub.url("/api/agent/appointments")).header("cookie", &cookie).send().await.unwrap().json().await.unwrap();
    assert_eq!(day["appointments"][0]["state"], "cancelled");
    assert_eq!(hub.http().get(hub.url("/api/agent/appointments")).send().await.unwrap().status(), 401);
    hub.stop().await;
}

/// A callback booked at a kiosk (issue 24, item 7): the kiosk asks for the
/// free slots of a service, books the first, and the slot is in the
/// agent's day (kind `callback`) and in the iCalendar export; the same
/// time again at that kiosk is refused, and offered no more.
#[tokio::test]
async fn a_callback_booked_at_a_kiosk_is_in_the_agents_day_and_calendar() {
    let hub = TestHub::start().await;
    let secret = hub.enroll("besse");
    hub.add_agent("claire", "claire-password", &["demo"]);
    let cookie = Agent::sign_in(&hub, "claire", "claire-password").await.unwrap();
    let mut besse = Kiosk::connect(&hub, "besse", &secret).await;

    let asked = Timestamp::now();
    besse.send(KioskToHub::AskCallbackSlots { service: "demo".into() }).await;
    let HubToKiosk::CallbackSlots { service, slots, minutes } = besse.next().await else { panic!("expected the free slots") };
    assert_eq!((service.as_str(), minutes), ("demo", 15));
    // "demo" is open at all hours: the next four quarter hours, 15 min ahead at least.
    assert_eq!(slots.len(), 4, "{slots:?}");
    assert!(slots[0] >= asked + SignedDuration::from_mins(15) && slots[0] < asked + SignedDuration::from_mins(31), "{slots:?}");
    assert!(slots.iter().all(|s| s.as_second() % 900 == 0), "{slots:?}");
    assert!(slots.windows(2).all(|w| w[1].duration_since(w[0]) == SignedDuration::from_mins(15)), "{slots:?}");

    besse.send(KioskToHub::BookCallback { service: "demo".into(), start: slots[0] }).await;
    let HubToKiosk::CallbackBooked { reference, start, minutes, .. } = besse.next().await else { panic!("expected the booking") };
    assert_eq!((reference.as_str(), start, minutes), ("RDV-000001", slots[0], 15));
    besse.send(KioskToHub::BookCallback { service: "demo".into(), start: slots[0] }).await;
    assert!(matches!(besse.next().await, HubToKiosk::CallbackRefused { message, .. } if message.contains("RDV-000001")));
    besse.send(KioskToHub::AskCallbackSlots { service: "demo".into() }).await;
    let HubToKiosk::CallbackSlots { slots: again, .. } = besse.next().await else { panic!("expected the free slots") };
    assert_eq!(again[0], slots[1], "the booked slot is offered no more");
    besse.send(KioskToHub::BookCallback { service: "demo".into(), start: slots[1] + SignedDuration::from_mins(5) }).await;
    assert!(matches!(besse.next().await, HubToKiosk::CallbackRefused { message, .. } if message.contains("quarter hour")));

    // In the agent's day (of the slot's date) and calendar.
    let date = start.to_zoned(jiff::tz::TimeZone::get("Europe/Paris").unwrap()).date();
    let day = hub.agent_day(&cookie, date).await;
    let list = day["appointments"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{day}");
    assert_eq!((list[0]["kind"].as_str(), list[0]["kiosk_id"].as_str()), (Some("callback"), Some("besse")));
    let ics = hub.agent_calendar(&cookie, date).await;
    assert!(ics.contains("SUMMARY:Rappel demandé à la borne "), "{ics}");
    assert!(ics.contains(&format!("DTSTART:{}\r\n", start.strftime("%Y%m%dT%H%M%SZ"))), "{ics}");
    hub.stop().await;
}
