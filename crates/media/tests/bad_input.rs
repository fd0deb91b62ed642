//! Bad input gives a clear error, and the process and other calls keep running.

mod common;

use common::{connect_pair, near};
use visio_media::{Call, CallConfig, CallError, CallEvent, IceCandidate, SessionDescription, VideoSource};

const H265_ONLY: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 49\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\n\
a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=setup:actpass\r\n\
a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n\
a=rtpmap:49 H265/90000\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_is_refused_clearly_while_another_call_keeps_going() {
    common::init_tracing();
    // A healthy call runs throughout.
    let (mut a, mut b) = connect_pair(
        CallConfig::test_sources("solid-color", Some(0xffff_0000), 440.0),
        CallConfig::test_sources("solid-color", Some(0xff00_00ff), 660.0),
    )
    .await;
    a.wait_connected().await;
    b.wait_connected().await;

    // Malformed SDP.
    let (victim, _events) = Call::new(CallConfig::test_sources("smpte", None, 440.0)).await.unwrap();
    let err = victim.accept_offer(SessionDescription::offer("this is not SDP")).await.unwrap_err();
    assert!(matches!(err, CallError::BadDescription { .. }), "{err:?}");
    assert!(err.to_string().contains("not an SDP document"), "{err}");

    // An offer whose only video codec is H.265.
    let err = victim.accept_offer(SessionDescription::offer(H265_ONLY)).await.unwrap_err();
    assert_eq!(err.to_string(), "the peer's offer was refused: the peer offers video only as H265; this kiosk supports VP8, H264");

    // An answer with no offer made.
    let err = victim.set_answer(SessionDescription::answer(H265_ONLY)).await.unwrap_err();
    assert!(matches!(err, CallError::Sequence(_)), "{err:?}");

    // A garbage candidate on a call that has a remote description.
    let (offerer, _oe) = Call::new(CallConfig::test_sources("smpte", None, 440.0)).await.unwrap();
    let offer = offerer.create_offer().await.unwrap();
    victim.accept_offer(offer).await.expect("a good offer still works after bad ones");
    let err = victim
        .add_remote_candidate(IceCandidate { candidate: "candidate:garbage".into(), sdp_mid: Some("0".into()), ..Default::default() })
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::BadCandidate { .. }), "{err:?}");

    // A candidate after the call ended.
    victim.hang_up().await;
    let err = victim
        .add_remote_candidate(IceCandidate { candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host".into(), ..Default::default() })
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::Closed), "{err:?}");
    offerer.hang_up().await;

    // A missing camera: an error event naming the device; the call object lives on.
    let mut config = CallConfig::test_sources("smpte", None, 440.0);
    config.video.source = VideoSource::V4l2 { device: "/dev/video-missing".into() };
    let (no_camera, mut events) = Call::new(config).await.expect("a call without camera still starts");
    let event = tokio::time::timeout(common::DEADLINE, events.next()).await.unwrap().unwrap();
    match event {
        CallEvent::Error(e @ CallError::Camera { .. }) => {
            assert!(e.to_string().contains("/dev/video-missing"), "{e}");
        }
        other => panic!("expected a camera error, got {other:?}"),
    }
    no_camera.create_offer().await.expect("the call goes on without video");
    no_camera.hang_up().await;

    // The healthy call still carries video.
    b.wait_frame("red frame after the bad input", |f| near(f.pixel(f.width / 2, f.height / 2), [255, 0, 0])).await;
    a.wait_frame("blue frame after the bad input", |f| near(f.pixel(f.width / 2, f.height / 2), [0, 0, 255])).await;
    a.call.hang_up().await;
    b.call.hang_up().await;
}
