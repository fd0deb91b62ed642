//! The local preview: the resident's self view, from the camera pipeline.

mod common;

use common::{DEADLINE, near};
use std::time::{Duration, Instant};
use visio_media::{Call, CallConfig, VideoSource};

const GREEN: u32 = 0xff00_ff00;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_local_preview_shows_the_camera_small_and_at_most_15_fps_before_any_peer() {
    common::init_tracing();
    // No offer, no peer: a kiosk shows the resident while the call rings.
    let (call, _events) = Call::new(CallConfig::test_sources("solid-color", Some(GREEN), 440.0)).await.unwrap();
    let preview = call.local_frames();
    let first = tokio::time::timeout(DEADLINE, preview.next()).await.expect("a preview frame in time").expect("the call is running");
    assert_eq!((first.width, first.height), (320, 180), "640x360 camera → 320x180 preview");
    assert_eq!(first.data.len(), 320 * 180 * 4);
    assert!(near(first.pixel(160, 90), [0, 255, 0]), "the camera's green, got {:?}", first.pixel(160, 90));
    assert!(near(first.pixel(2, 2), [0, 255, 0]), "no letterbox: {:?}", first.pixel(2, 2));

    // The camera runs at 30 fps; the preview is capped at 15. Frames can
    // only come slower on a loaded machine, so this bound never flakes.
    let (start, counted) = (Instant::now(), preview.decoded());
    let waited = tokio::time::timeout(DEADLINE, async {
        while preview.decoded() < counted + 30 {
            let _ = preview.next().await;
        }
    })
    .await;
    assert!(waited.is_ok(), "30 more preview frames within {DEADLINE:?}");
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(1900), "30 frames in {elapsed:?}: more than 15 fps");

    // A consumer that stops reading costs one frame, not a queue.
    let before = preview.dropped();
    tokio::time::timeout(DEADLINE, async {
        while preview.dropped() < before + 3 {
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("frames replaced while nobody reads");

    call.hang_up().await;
    let end = tokio::time::timeout(DEADLINE, async { while preview.next().await.is_some() {} }).await;
    assert!(end.is_ok(), "the preview ends with the call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_without_camera_has_a_preview_that_just_ends() {
    common::init_tracing();
    let mut config = CallConfig::test_sources("smpte", None, 440.0);
    config.video.source = VideoSource::None;
    let (call, _events) = Call::new(config).await.unwrap();
    let preview = call.local_frames();
    call.hang_up().await;
    let next = tokio::time::timeout(DEADLINE, preview.next()).await.expect("no hang");
    assert!(next.is_none(), "no camera, no frames");
    assert_eq!(preview.decoded(), 0);
}
