//! The window kiosk under systemd's `Type=notify` with a watchdog: ready
//! once its loop turns, pings from that loop, stopping on SIGTERM (the
//! headless twin's are in packaged_unit.rs).

use visio_tests::notify::Notifications;
use visio_tests::{World, Xvfb};
use visio_testkit::wait::within;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_notifies_ready_pings_from_its_loop_and_says_stopping() {
    let world = World::start().await;
    let xvfb = Xvfb::start();
    let mut notify = Notifications::bind(world.dir.path());
    let mut window = world
        .kiosk_command("demo")
        .arg("--windowed")
        .env("DISPLAY", &xvfb.display)
        .env("ICED_BACKEND", "tiny-skia")
        .env("NOTIFY_SOCKET", &notify.path)
        // 0.6 s: a ping every 0.3 s, from the window's 4-a-second tick.
        .env("WATCHDOG_USEC", "600000")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();

    assert!(tokio::task::block_in_place(|| notify.until("READY=1")), "no READY=1 in {:?}", notify.seen);
    for _ in 0..3 {
        assert!(tokio::task::block_in_place(|| notify.until("WATCHDOG=1")), "the pings stopped: {:?}", notify.seen);
    }

    let pid = window.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert!(tokio::task::block_in_place(|| notify.until("STOPPING=1")), "no STOPPING=1 after SIGTERM in {:?}", notify.seen);
    within("the window exits", window.wait()).await.unwrap();
}
