//! An appointment taking precedence over two walk-ins in its window, end
//! to end (issue 24, item 6): the agent books a slot at the demo kiosk over
//! HTTPS; two walk-ins wait; the headless kiosk's resident touches the
//! service in the slot's window and is first in line; the agent's console
//! in Chromium shows the day's appointment (time, site, service,
//! reference; French, then English), marks the booked resident first in
//! the queue, takes them with real media, then the walk-ins in their order;
//! the day exports as iCalendar. Then the same with two hub processes on
//! PostgreSQL and NATS, the kiosks on one and the agent on the other.

use serde_json::Value;
use visio_protocol::{HubToKiosk, Secret};
use visio_testkit::browser::Browser;
use visio_testkit::hub::{Agent, Kiosk, TestHub};
use visio_testkit::page::{click, page_until, sign_in_agent};
use visio_testkit::wait::init_tracing;
use visio_tests::{AGENT, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_appointment_takes_precedence_over_two_walk_ins_in_its_window_in_the_console() {
    init_tracing();
    let world = World::start().await;
    let walk_ins = [("ardes", world.hub.enroll("ardes")), ("murol", world.hub.enroll("murol"))];
    precedence_scene(&world, &world.hub, &world.hub, &walk_ins).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_appointment_takes_precedence_across_two_hub_processes_on_postgresql_and_nats() {
    init_tracing();
    // The kiosks on process 0, the agent's console on process 1: the
    // shared line in PostgreSQL orders them, the call crosses the bus.
    let (world, cluster) = World::cluster(2, 1).await;
    let walk_ins = [("ardes", cluster.enroll("ardes").await), ("murol", cluster.enroll("murol").await)];
    precedence_scene(&world, &cluster.hub(0), &cluster.hub(1), &walk_ins).await;
}

/// Books a slot at the demo kiosk through `kiosk_hub` (the process holding
/// the kiosks, which has it before its answer), queues the two walk-ins
/// there, then the demo kiosk's resident; the agent signs in on
/// `agent_hub` in Chromium and serves the booked resident first.
async fn precedence_scene(world: &World, kiosk_hub: &TestHub, agent_hub: &TestHub, walk_ins: &[(&str, Secret); 2]) {
    // The kiosk program is built (when stale) before the walk-ins connect,
    // who send no heartbeat while they wait.
    tokio::task::spawn_blocking(|| visio_testkit::bin::path("visio-kiosk")).await.unwrap();
    // A 30-minute slot from the current minute (the demo service is open
    // at all hours, so this runs at any time).
    let now = jiff::Timestamp::now();
    let start = jiff::Timestamp::from_second(now.as_second() - now.as_second().rem_euclid(60)).unwrap();
    let cookie = Agent::sign_in(kiosk_hub, AGENT.0, AGENT.1).await.unwrap();
    let slot = serde_json::json!({"kiosk_id": "demo-kiosk", "service": "demo", "start": start.to_string(), "minutes": 30});
    let response = kiosk_hub.http().post(kiosk_hub.url("/api/agent/appointments")).header("cookie", &cookie).json(&slot).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let booked: Value = response.json().await.unwrap();
    let reference = booked["reference"].as_str().unwrap().to_owned();

    // Two walk-ins, then the booked resident, who comes first.
    let mut waiting = Vec::new();
    for (i, (id, secret)) in walk_ins.iter().enumerate() {
        let mut kiosk = Kiosk::connect(kiosk_hub, id, secret).await;
        let (session, position) = kiosk.queue("demo").await;
        assert_eq!(position as usize, i + 1);
        waiting.push((kiosk, session));
    }
    let mut kiosk = world.kiosk("demo");
    let queued = kiosk.event("queued").await;
    assert_eq!(queued["position"], 1, "the booked resident is first: {queued}");
    for (i, (walk_in, _)) in waiting.iter_mut().enumerate() {
        let place = i as u32 + 2;
        walk_in.wait_for("one place back", |m| matches!(m, HubToKiosk::QueueUpdate { position, .. } if *position == place)).await;
    }

    // The console: the day's appointment, and the booked resident first
    // in the queue, marked.
    let browser = Browser::launch().await;
    browser.set_viewport(1366, 768).await;
    sign_in_agent(&browser, agent_hub, AGENT).await;
    let clock = start.to_zoned(jiff::tz::TimeZone::get("Europe/Paris").unwrap()).strftime("%H:%M").to_string();
    let day_item = "const item = document.querySelector('[data-testid=day-item]');
                    return item && document.querySelectorAll('[data-testid=day-item]').length === 1 &&
                      { reference: item.dataset.reference, time: item.querySelector('time').textContent,
                        what: item.querySelector('.what').textContent, line: item.querySelector('.reference').textContent };";
    let day = page_until(&browser, "the day's appointment", day_item).await;
    assert_eq!(day["reference"], reference.as_str());
    assert_eq!(day["time"], clock.as_str());
    assert_eq!(day["what"], "DEMO · Mairie de demo-kiosk");
    assert_eq!(day["line"], format!("Rendez-vous {reference}"));
    click(&browser, "lang-en").await;
    let english = page_until(&browser, "the day in English", &day_item.replace("return item &&", "return item && document.documentElement.lang === 'en' &&")).await;
    assert_eq!(english["line"], format!("Appointment {reference}"));
    assert_eq!(page_until(&browser, "the day's title", "return document.getElementById('day-title').textContent;").await, "Today's appointments");
    click(&browser, "lang-fr").await;

    let line = page_until(
        &browser,
        "three residents in line, the booked one first",
        "const items = [...document.querySelectorAll('[data-testid=queue-item]')];
         return items.length === 3 && items.map(i => {
           const mark = i.querySelector('[data-testid=queue-appointment]');
           return { site: i.textContent.includes('demo-kiosk') ? 'demo-kiosk' : i.textContent.includes('ardes') ? 'ardes' : 'murol',
                    appointment: mark && mark.textContent };
         });",
    )
    .await;
    let expected = serde_json::json!([
        {"site": "demo-kiosk", "appointment": format!(" · rendez-vous {reference}")},
        {"site": "ardes", "appointment": null},
        {"site": "murol", "appointment": null},
    ]);
    assert_eq!(line, expected);

    // Taken first, with real media; then the walk-ins in their order.
    click(&browser, "take-next").await;
    let answered = kiosk.event("answered").await;
    assert_eq!(answered["session"], queued["session"]);
    kiosk.event("first_remote_frame").await;
    page_until(&browser, "the kiosk's video", "const v = document.querySelector('[data-testid=remote-video]'); return v.videoWidth > 0;").await;
    click(&browser, "end-call").await;
    kiosk.event("ended").await;
    for (walk_in, session) in &mut waiting {
        page_until(&browser, "free for the next", "return !state.call && !document.querySelector('[data-testid=take-next]').disabled;").await;
        click(&browser, "take-next").await;
        let answered = walk_in.wait_for("answered", |m| matches!(m, HubToKiosk::CallAnswered { .. })).await;
        assert!(matches!(answered, HubToKiosk::CallAnswered { session: ref s, .. } if s == session), "{answered:?}");
        // A protocol kiosk makes no media: the agent hangs up.
        page_until(&browser, "in the call", "return !!state.call;").await;
        click(&browser, "end-call").await;
    }

    // The day as iCalendar, from the console's own link.
    let ics = page_until(
        &browser,
        "the day as iCalendar",
        "const href = document.querySelector('[data-testid=day-ics]').getAttribute('href');
         const r = await fetch(href, { credentials: 'same-origin' });
         return r.ok && { type: r.headers.get('content-type'), body: await r.text() };",
    )
    .await;
    assert_eq!(ics["type"], "text/calendar; charset=utf-8");
    let body = ics["body"].as_str().unwrap().replace("\r\n ", "");
    assert!(body.contains(&format!("UID:{reference}@")), "{body}");
    assert!(body.contains(&format!("DTSTART:{}\r\n", start.strftime("%Y%m%dT%H%M%SZ"))), "{body}");
    browser.close().await;
}
