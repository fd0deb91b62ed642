//! Real headless Chromium as the agent's browser: it answers the crate's
//! offer, each side decodes the other's video, and the documents channel works.

mod common;

use common::DEADLINE;
use common::browser::{Chromium, serve_page};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use visio_media::{CallConfig, CallEvent, ChannelMessage, IceCandidate, SessionDescription};

const PAGE: &str = r#"<!doctype html>
<html><body>
<video id="v" autoplay playsinline muted></video><canvas id="c"></canvas>
<script>
window.candidates = [];
window.answerOffer = async (offer) => {
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
  const pc = new RTCPeerConnection({ iceServers: [] });
  window.pc = pc;
  stream.getTracks().forEach(t => pc.addTrack(t, stream));
  pc.onicecandidate = e => { if (e.candidate) window.candidates.push(e.candidate.toJSON()); };
  pc.ontrack = e => {
    const v = document.getElementById('v');
    if (e.track.kind === 'video') v.srcObject = new MediaStream([e.track]);
  };
  pc.ondatachannel = e => {
    window.dc = e.channel;
    e.channel.onmessage = m => { window.lastMessage = m.data; };
    // A channel the other side created may already be open when it arrives.
    const greet = () => e.channel.send('hello from chromium');
    if (e.channel.readyState === 'open') greet(); else e.channel.onopen = greet;
  };
  await pc.setRemoteDescription(offer);
  const answer = await pc.createAnswer();
  await pc.setLocalDescription(answer);
  const s = stream.getVideoTracks()[0].getSettings();
  return { answer: { type: answer.type, sdp: answer.sdp }, width: s.width, height: s.height };
};
window.takeCandidates = () => { const c = window.candidates; window.candidates = []; return c; };
window.videoState = async () => {
  let framesDecoded = 0;
  (await window.pc.getStats()).forEach(r => { if (r.type === 'inbound-rtp' && r.kind === 'video') framesDecoded = r.framesDecoded || 0; });
  const v = document.getElementById('v');
  if (!v.videoWidth) return { framesDecoded, pixel: null };
  const c = document.getElementById('c');
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext('2d');
  g.drawImage(v, 0, 0);
  const p = g.getImageData(c.width / 2, c.height / 2, 1, 1).data;
  return { framesDecoded, width: v.videoWidth, height: v.videoHeight, pixel: [p[0], p[1], p[2]] };
};
</script>
</body></html>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chromium_answers_and_both_sides_decode_each_others_video() {
    common::init_tracing();
    let url = serve_page(PAGE).await;
    let chromium = Chromium::launch().await;
    chromium.client.goto(&url).await.expect("page loads");

    let (cand_tx, mut cand_rx) = mpsc::unbounded_channel::<IceCandidate>();
    let mut config = CallConfig::test_sources("solid-color", Some(0xffff_0000), 440.0);
    config.loopback_only = true;
    let mut kiosk = common::start(config, cand_tx).await;

    let offer = kiosk.call.create_offer().await.expect("offer");
    let reply = chromium.run("return await window.answerOffer(arg);", serde_json::to_value(&offer).unwrap()).await;
    let answer: SessionDescription = serde_json::from_value(reply["answer"].clone()).expect("answer shape");
    let (browser_w, browser_h) = (reply["width"].as_u64().unwrap() as u32, reply["height"].as_u64().unwrap() as u32);
    kiosk.call.set_answer(answer).await.expect("answer accepted");

    // Trickle both ways until each side has decoded the other's video.
    let deadline = Instant::now() + DEADLINE;
    let frames = kiosk.call.remote_frames();
    let mut browser_saw = Value::Null;
    let mut kiosk_frame = None;
    loop {
        while let Ok(c) = cand_rx.try_recv() {
            chromium.run("await window.pc.addIceCandidate(arg); return true;", serde_json::to_value(&c).unwrap()).await;
        }
        let theirs = chromium.run("return window.takeCandidates();", Value::Null).await;
        for c in theirs.as_array().cloned().unwrap_or_default() {
            let c: IceCandidate = serde_json::from_value(c).expect("candidate shape");
            kiosk.call.add_remote_candidate(c).await.expect("browser candidate accepted");
        }
        if kiosk_frame.is_none()
            && let Ok(Some(f)) = tokio::time::timeout(Duration::from_millis(100), frames.next()).await
        {
            kiosk_frame = Some(f);
        }
        let state = chromium.run("return await window.videoState();", Value::Null).await;
        let browser_ok = state["framesDecoded"].as_u64().unwrap_or(0) > 0 && state["pixel"].is_array();
        if browser_ok {
            browser_saw = state.clone();
        }
        if browser_ok && kiosk_frame.is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no two-way video within {DEADLINE:?}: kiosk decoded {} frames, browser state {state}",
            frames.decoded()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The crate decoded Chromium's camera at the size Chromium reports.
    let f = kiosk_frame.unwrap();
    assert_eq!((f.width, f.height), (browser_w, browser_h), "kiosk decodes the browser's video at its size");
    // Chromium decoded the crate's stream, and it is the crate's red picture.
    assert_eq!((browser_saw["width"].as_u64(), browser_saw["height"].as_u64()), (Some(640), Some(360)));
    let p: Vec<u8> = browser_saw["pixel"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u8).collect();
    assert!(common::near([p[0], p[1], p[2], 255], [255, 0, 0]), "browser shows the kiosk's red, got {p:?}");

    // The documents channel interoperates: the browser's greeting arrives.
    let channel = kiosk
        .wait_for("documents channel open", |e| match e {
            CallEvent::DataChannelOpen(ch) => Some(ch),
            _ => None,
        })
        .await;
    let msg = tokio::time::timeout(DEADLINE, channel.recv()).await.expect("message in time");
    assert_eq!(msg, Some(ChannelMessage::Text("hello from chromium".into())));
    channel.send_text("hello from the kiosk").await.unwrap();
    let deadline = Instant::now() + DEADLINE;
    while chromium.run("return window.lastMessage || null;", json!(null)).await != json!("hello from the kiosk") {
        assert!(Instant::now() < deadline, "browser never got the kiosk's message");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    kiosk.call.hang_up().await;
    chromium.close().await;
}
