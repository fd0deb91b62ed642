//! Device health measured, not guessed: a printer whose queue stopped (out
//! of paper, paused) shows as faulty in the fleet view as soon as the kiosk
//! starts, before any resident tries to print.

mod common;

use common::World;
use visio_protocol::DeviceState;
use visio_testkit::hub::admin_key;
use visio_testkit::wait::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_printer_shows_in_the_fleet_view_before_any_print() {
    let world = World::start().await;
    let token = world.hub.admin(&admin_key(1));
    world.cups.as_ref().unwrap().stop_queue();

    let mut kiosk = world.kiosk("demo");
    kiosk.event("queued").await;
    let row = eventually("the stopped printer in the fleet view", || async {
        let row = world.hub.fleet(&token).await.kiosks.into_iter().find(|k| k.kiosk_id.as_str() == "demo-kiosk")?;
        let devices = row.devices.clone()?;
        (devices.printer.state == DeviceState::Error).then_some(devices)
    })
    .await;
    let detail = row.printer.detail.unwrap_or_default();
    assert!(detail.contains("printer stopped"), "{detail}");
    assert_eq!(row.scanner.state, DeviceState::Ok, "the scanner is fine");
}
