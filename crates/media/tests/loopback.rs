//! Two calls of this crate in one process over loopback.

mod common;

use common::{Peer, connect_pair, near};
use visio_media::{CallConfig, CallEvent, CallState, CallStats, ChannelMessage, DataChannelHandle, VideoCodec};

const RED: u32 = 0xffff_0000;
const BLUE: u32 = 0xff00_00ff;

async fn channel_of(peer: &mut Peer) -> DataChannelHandle {
    peer.wait_for("documents data channel", |e| match e {
        CallEvent::DataChannelOpen(ch) => Some(ch),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_peers_decode_each_others_video_and_talk_on_the_data_channel() {
    common::init_tracing();
    let mut red = CallConfig::test_sources("solid-color", Some(RED), 440.0);
    red.video.width = 320;
    red.video.height = 240;
    let blue = CallConfig::test_sources("solid-color", Some(BLUE), 660.0);
    red.data_channel_send_buffer_limit = 64 * 1024;
    let (mut a, mut b) = connect_pair(red, blue).await;
    a.wait_connected().await;
    b.wait_connected().await;

    // Each side sees the other's colour, at the other's configured size.
    let at_b = b.wait_frame("red frame from A", |f| near(f.pixel(f.width / 2, f.height / 2), [255, 0, 0])).await;
    assert_eq!((at_b.width, at_b.height), (320, 240), "B receives A's configured size");
    let at_a = a.wait_frame("blue frame from B", |f| near(f.pixel(f.width / 2, f.height / 2), [0, 0, 255])).await;
    assert_eq!((at_a.width, at_a.height), (640, 360), "A receives B's configured size");
    assert_eq!(at_a.data.len(), 640 * 360 * 4);

    // The offerer's documents channel opens on both sides and carries text and bytes.
    let (cha, chb) = (channel_of(&mut a).await, channel_of(&mut b).await);
    assert_eq!(cha.label(), "visio-documents");
    cha.send_text("scan please").await.unwrap();
    assert_eq!(chb.recv().await, Some(ChannelMessage::Text("scan please".into())));
    let payload: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
    chb.send(&payload).await.unwrap();
    assert_eq!(cha.recv().await, Some(ChannelMessage::Binary(payload.into())));

    // Back-pressure: with a 64 KiB send buffer, a burst fills it, try_send
    // refuses instead of queueing without bound, and everything accepted arrives.
    let chunk = vec![7u8; 16 * 1024];
    let mut accepted = 0usize;
    let mut refused = None;
    for _ in 0..1000 {
        match cha.try_send(&chunk).await {
            Ok(()) => accepted += 1,
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let refused = refused.expect("a 16 MB burst never filled a 64 KiB send buffer");
    assert!(accepted >= 3, "the buffer took {accepted} chunks before refusing: {refused}");
    assert!(cha.buffered_amount().await.unwrap() > 0);
    tokio::time::timeout(common::DEADLINE, cha.writable()).await.expect("buffer drains").unwrap();
    cha.send(&chunk).await.unwrap();
    for i in 0..=accepted {
        match tokio::time::timeout(common::DEADLINE, chb.recv()).await {
            Ok(Some(ChannelMessage::Binary(b))) => assert_eq!(b.len(), chunk.len()),
            other => panic!("chunk {i} of {}: {other:?}", accepted + 1),
        }
    }

    // Statistics flow and say something true, including the send-side
    // congestion controller's estimate (GCC over TWCC feedback) the encoder follows.
    let stats = a
        .wait_for("stats with frames decoded and a bandwidth estimate", |e| match e {
            CallEvent::Stats(s) if s.frames_decoded > 0 && s.receive_bitrate_bps > 0 && s.estimate_bps.is_some() => Some(s),
            _ => None,
        })
        .await;
    assert_eq!(stats.receive_resolution, Some((640, 360)));
    assert!(stats.send_bitrate_bps > 0);
    assert!(stats.rtt.is_some(), "{stats:?}");
    assert!(stats.audio_frames_decoded > 0, "B's tone is decoded at A: {stats:?}");
    assert!(stats.sending.video_bitrate_bps <= 1_500_000, "never above the configured ceiling: {stats:?}");

    // A hangs up: B notices without any signaling.
    a.call.hang_up().await;
    let started = std::time::Instant::now();
    let state = b
        .wait_for("B noticing A hung up", |e| match e {
            CallEvent::State(s @ (CallState::Disconnected | CallState::Failed | CallState::Closed)) => Some(s),
            _ => None,
        })
        .await;
    eprintln!("B saw {state:?} {:?} after A hung up", started.elapsed());
    b.call.hang_up().await;
    assert!(matches!(a.call.set_microphone_muted(true).await, Err(visio_media::CallError::Closed)));
}

async fn stats_where(peer: &mut Peer, what: &str, mut accept: impl FnMut(&CallStats) -> bool) -> Box<CallStats> {
    peer.wait_for(what, |e| match e {
        CallEvent::Stats(s) if accept(&s) => Some(s),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_answerer_that_takes_only_h264_gets_h264_both_ways_with_keyframes_on_request() {
    common::init_tracing();
    // A offers VP8 then H.264 (the default); B accepts only H.264, so its
    // answer selects H.264 and both sides must encode and decode it.
    let mut red = CallConfig::test_sources("solid-color", Some(RED), 440.0);
    red.video.width = 320;
    red.video.height = 240;
    // No periodic keyframes: every keyframe after the first is one the peer asked for.
    red.video.keyframe_interval = 1_000_000;
    let mut blue = CallConfig::test_sources("solid-color", Some(BLUE), 660.0);
    blue.video.codecs = vec![VideoCodec::H264];
    let (mut a, mut b) = connect_pair(red, blue).await;
    a.wait_connected().await;
    b.wait_connected().await;

    let at_b = b.wait_frame("red H.264 frame from A", |f| near(f.pixel(f.width / 2, f.height / 2), [255, 0, 0])).await;
    assert_eq!((at_b.width, at_b.height), (320, 240), "B receives A's configured size");
    let at_a = a.wait_frame("blue H.264 frame from B", |f| near(f.pixel(f.width / 2, f.height / 2), [0, 0, 255])).await;
    assert_eq!((at_a.width, at_a.height), (640, 360));

    // video_codec_sent is webrtc-rs's own view of the outbound stream: it
    // names H.264 only if the track was switched to H.264 before the answer
    // was applied, which is also when the stream's NACK, sender-report and
    // TWCC interceptors are bound to it.
    let h264_both_ways = |s: &CallStats| {
        s.video_codec_sent == Some(VideoCodec::H264)
            && s.video_codec_received == Some(VideoCodec::H264)
            && s.frames_decoded > 0
            && s.estimate_bps.is_some()
    };
    let before = stats_where(&mut a, "A's stats saying H.264 both ways", h264_both_ways).await;
    stats_where(&mut b, "B's stats saying H.264 both ways", h264_both_ways).await;
    assert!(before.keyframes_sent >= 1, "{before:?}");

    // B reports a broken picture: a PLI goes to A, whose H.264 encoder answers
    // with a keyframe, and B keeps decoding A's red.
    b.call.request_keyframe().await.unwrap();
    let after = stats_where(&mut a, "a keyframe from A's H.264 encoder after B's PLI", |s| s.keyframes_sent > before.keyframes_sent).await;
    eprintln!("keyframes sent by A: {} before the PLI, {} after", before.keyframes_sent, after.keyframes_sent);
    b.wait_frame("red frame after the keyframe", |f| near(f.pixel(f.width / 2, f.height / 2), [255, 0, 0])).await;

    a.call.hang_up().await;
    b.call.hang_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn muting_the_microphone_sends_silence_and_unmuting_brings_the_tone_back() {
    common::init_tracing();
    // A's tone is a sine at volume 0.3: about -13.5 dBFS RMS at B.
    let (mut a, mut b) = connect_pair(
        CallConfig::test_sources("smpte", None, 440.0),
        CallConfig::test_sources("smpte", None, 660.0),
    )
    .await;
    a.wait_connected().await;
    b.wait_connected().await;
    let loud = |s: &CallStats| s.audio_level_received_dbfs.is_some_and(|l| l > -30.0);
    let silent = |s: &CallStats| s.audio_level_received_dbfs.is_some_and(|l| l < -60.0);

    let heard = stats_where(&mut b, "A's tone heard at B", loud).await;
    eprintln!("B hears A at {:?} dBFS", heard.audio_level_received_dbfs);

    a.call.set_microphone_muted(true).await.unwrap();
    let muted = stats_where(&mut b, "silence at B after A muted", silent).await;
    // Packets keep flowing while muted: the peer decodes silence, not nothing.
    assert!(muted.audio_frames_decoded > heard.audio_frames_decoded, "{muted:?}");
    eprintln!("B hears A at {:?} dBFS while A is muted", muted.audio_level_received_dbfs);

    a.call.set_microphone_muted(false).await.unwrap();
    let back = stats_where(&mut b, "A's tone back at B after unmuting", loud).await;
    eprintln!("B hears A at {:?} dBFS after unmuting", back.audio_level_received_dbfs);

    // Muting is one-way: B's own tone still reaches A all along.
    stats_where(&mut a, "B's tone heard at A", loud).await;
    a.call.hang_up().await;
    b.call.hang_up().await;
}
