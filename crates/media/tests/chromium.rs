//! Real headless Chromium as the agent's browser: it answers the crate's
//! offer, each side decodes the other's video, and the documents channel works.

mod common;

use common::DEADLINE;
use common::browser::{Chromium, serve_page};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use visio_media::{CallConfig, CallEvent, ChannelMessage, IceCandidate, SessionDescription, VideoCodec};

const PAGE: &str = r#"<!doctype html>
<html><body>
<video id="v" autoplay playsinline muted></video><canvas id="c"></canvas>
<script>
window.candidates = [];
// prefer: a video MIME type to put first in the answer (setCodecPreferences),
// as an agent's browser with a hardware H.264 decoder might.
window.answerOffer = async ({ offer, prefer, passive }) => {
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
  if (prefer) {
    const codecs = RTCRtpReceiver.getCapabilities('video').codecs;
    const fmtp = c => c.sdpFmtpLine || '';
    // Constrained baseline, packetization-mode 1: what the kiosk offers.
    const first = codecs.filter(c => c.mimeType === prefer
      && (prefer !== 'video/H264' || (/packetization-mode=1/.test(fmtp(c)) && /profile-level-id=42e01f/.test(fmtp(c)))));
    if (!first.length) throw new Error('this browser cannot receive ' + prefer);
    pc.getTransceivers().filter(t => t.receiver.track.kind === 'video')
      .forEach(t => t.setCodecPreferences([...first, ...codecs.filter(c => !first.includes(c))]));
  }
  // passive: the agent console's answer (hub/console/call.js), which
  // leaves the kiosk the DTLS client.
  let answer = await pc.createAnswer();
  if (passive) answer = { type: 'answer', sdp: answer.sdp.replace(/a=setup:active/g, 'a=setup:passive') };
  await pc.setLocalDescription(answer);
  const s = stream.getVideoTracks()[0].getSettings();
  return { answer: { type: answer.type, sdp: answer.sdp }, width: s.width, height: s.height };
};
window.takeCandidates = () => { const c = window.candidates; window.candidates = []; return c; };
window.videoState = async () => {
  let framesDecoded = 0, inboundCodec = null, outboundCodec = null;
  const stats = await window.pc.getStats();
  const mime = id => (id && stats.get(id)) ? stats.get(id).mimeType : null;
  stats.forEach(r => {
    if (r.type === 'inbound-rtp' && r.kind === 'video') { framesDecoded = r.framesDecoded || 0; inboundCodec = mime(r.codecId); }
    if (r.type === 'outbound-rtp' && r.kind === 'video') outboundCodec = mime(r.codecId);
  });
  const v = document.getElementById('v');
  if (!v.videoWidth) return { framesDecoded, inboundCodec, outboundCodec, pixel: null };
  const c = document.getElementById('c');
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext('2d');
  g.drawImage(v, 0, 0);
  const p = g.getImageData(c.width / 2, c.height / 2, 1, 1).data;
  return { framesDecoded, inboundCodec, outboundCodec, width: v.videoWidth, height: v.videoHeight, pixel: [p[0], p[1], p[2]] };
};
</script>
</body></html>"#;

/// A call from the kiosk (red picture) answered by Chromium, trickling
/// candidates until each side has decoded the other's video.
struct TwoWay {
    chromium: Chromium,
    kiosk: common::Peer,
    /// Chromium's camera size.
    browser_size: (u32, u32),
    /// The kiosk's first decoded frame of Chromium's video.
    kiosk_frame: visio_media::VideoFrame,
    /// `window.videoState()` once Chromium decoded the kiosk's video.
    browser_saw: Value,
}

async fn two_way_call(kiosk_codecs: &[VideoCodec], prefer: Option<&str>) -> TwoWay {
    two_way_call_given(kiosk_codecs, prefer, false, |offer| offer.to_owned()).await
}

/// [`two_way_call`] where Chromium answers `edit(offer)`, as a browser
/// whose stack lacks what `edit` takes out would.
/// `passive`: Chromium answers as the agent console does, and the kiosk is
/// the DTLS client; otherwise Chromium's default makes it the server.
async fn two_way_call_given(kiosk_codecs: &[VideoCodec], prefer: Option<&str>, passive: bool, edit: impl Fn(&str) -> String) -> TwoWay {
    let url = serve_page(PAGE).await;
    let chromium = Chromium::launch().await;
    chromium.client.goto(&url).await.expect("page loads");

    let (cand_tx, mut cand_rx) = mpsc::unbounded_channel::<IceCandidate>();
    let mut config = CallConfig::test_sources("solid-color", Some(0xffff_0000), 440.0);
    config.loopback_only = true;
    config.video.codecs = kiosk_codecs.to_vec();
    let kiosk = common::start(config, cand_tx).await;

    let mut offer = kiosk.call.create_offer().await.expect("offer");
    // JSEP: an offer leaves the DTLS role to the answerer.
    let roles: Vec<_> = offer.sdp.lines().filter(|l| l.starts_with("a=setup:")).collect();
    assert!(!roles.is_empty() && roles.iter().all(|l| *l == "a=setup:actpass"), "{roles:?}");
    offer.sdp = edit(&offer.sdp);
    let reply = chromium.run("return await window.answerOffer(arg);", json!({ "offer": offer, "prefer": prefer, "passive": passive })).await;
    let answer: SessionDescription = serde_json::from_value(reply["answer"].clone()).expect("answer shape");
    let role = if passive { "a=setup:passive" } else { "a=setup:active" };
    assert!(answer.sdp.contains(role), "Chromium's answer keeps {role}");
    // Forward error correction (RED + ULPFEC) offered, and Chromium takes it:
    // each side then sends its video RED-wrapped with ULPFEC packets.
    if offer.sdp.contains("ulpfec/90000") {
        assert!(answer.sdp.contains("red/90000") && answer.sdp.contains("ulpfec/90000"), "Chromium's answer takes FEC:\n{}", answer.sdp);
    }
    let browser_size = (reply["width"].as_u64().unwrap() as u32, reply["height"].as_u64().unwrap() as u32);
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
        if browser_ok && let Some(kiosk_frame) = kiosk_frame.take() {
            return TwoWay { chromium, kiosk, browser_size, kiosk_frame, browser_saw };
        }
        assert!(
            Instant::now() < deadline,
            "no two-way video within {DEADLINE:?}: kiosk decoded {} frames, browser state {state}",
            frames.decoded()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Chromium decoded the kiosk's stream, and it is the kiosk's red picture.
fn assert_browser_shows_the_kiosks_red(browser_saw: &Value) {
    assert_eq!((browser_saw["width"].as_u64(), browser_saw["height"].as_u64()), (Some(640), Some(360)));
    let p: Vec<u8> = browser_saw["pixel"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u8).collect();
    assert!(common::near([p[0], p[1], p[2], 255], [255, 0, 0]), "browser shows the kiosk's red, got {p:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chromium_answers_and_both_sides_decode_each_others_video() {
    common::init_tracing();
    let TwoWay { chromium, mut kiosk, browser_size, kiosk_frame: f, browser_saw } = two_way_call(&[VideoCodec::Vp8, VideoCodec::H264], None).await;

    // The crate decoded Chromium's camera at the size Chromium reports.
    assert_eq!((f.width, f.height), browser_size, "kiosk decodes the browser's video at its size");
    assert_browser_shows_the_kiosks_red(&browser_saw);
    // Without a preference the answer keeps the kiosk's order: VP8 (RED
    // unwrapped by Chromium: the codec it reports is the media's).
    assert_eq!(browser_saw["inboundCodec"], json!("video/VP8"), "{browser_saw}");

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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chromium_preferring_h264_in_its_answer_gets_h264_from_the_kiosk() {
    common::init_tracing();
    let TwoWay { chromium, mut kiosk, browser_size, kiosk_frame, browser_saw } = two_way_call(&[VideoCodec::Vp8, VideoCodec::H264], Some("video/H264")).await;

    // The answer put H.264 first: the kiosk encodes H.264 and Chromium decodes it.
    assert_eq!(browser_saw["inboundCodec"], json!("video/H264"), "{browser_saw}");
    assert!(browser_saw["framesDecoded"].as_u64().unwrap() > 0);
    assert_browser_shows_the_kiosks_red(&browser_saw);

    // Chromium picks what it sends from the offer's order (setCodecPreferences
    // orders what it receives): VP8 here, decoded by the kiosk.
    let stats = kiosk
        .wait_for("kiosk stats naming both codecs", |e| match e {
            CallEvent::Stats(s) if s.video_codec_sent.is_some() && s.video_codec_received.is_some() => Some(s),
            _ => None,
        })
        .await;
    assert_eq!(stats.video_codec_sent, Some(VideoCodec::H264), "{stats:?}");
    let browser_sends = chromium.run("return (await window.videoState()).outboundCodec;", Value::Null).await;
    eprintln!("kiosk sends {:?}; Chromium sends {browser_sends}", stats.video_codec_sent);
    let expected = VideoCodec::from_name(browser_sends.as_str().unwrap_or_default());
    assert_eq!(stats.video_codec_received, expected, "the kiosk decodes what Chromium sends ({browser_sends})");
    assert_eq!((kiosk_frame.width, kiosk_frame.height), browser_size);

    kiosk.call.hang_up().await;
    chromium.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kiosk_offering_h264_first_decodes_chromiums_h264() {
    common::init_tracing();
    let TwoWay { chromium, mut kiosk, browser_size, kiosk_frame, browser_saw } =
        // Answered `passive`, as agent consoles before decisions.md #391 did:
        // the kiosk is the DTLS client, and that still works.
        two_way_call_given(&[VideoCodec::H264, VideoCodec::Vp8], None, true, |offer| offer.to_owned()).await;

    // Chromium's own H.264 encoder (packetised its way: STAP-A, FU-A) reaches
    // the kiosk's depayloader and decoder intact.
    let stats = kiosk
        .wait_for("kiosk stats naming both codecs", |e| match e {
            CallEvent::Stats(s) if s.video_codec_sent.is_some() && s.video_codec_received.is_some() => Some(s),
            _ => None,
        })
        .await;
    assert_eq!(stats.video_codec_received, Some(VideoCodec::H264), "{stats:?}");
    assert_eq!(stats.video_codec_sent, Some(VideoCodec::H264), "{stats:?}");
    assert_eq!((kiosk_frame.width, kiosk_frame.height), browser_size, "kiosk decodes the browser's H.264 at its size");
    let outbound = chromium.run("return (await window.videoState()).outboundCodec;", Value::Null).await;
    assert_eq!(outbound, json!("video/H264"));
    assert_eq!(browser_saw["inboundCodec"], json!("video/H264"), "{browser_saw}");
    assert_browser_shows_the_kiosks_red(&browser_saw);

    kiosk.call.hang_up().await;
    chromium.close().await;
}

/// An agent's WebRTC stack without transport-wide congestion feedback:
/// Chromium answering an offer with `transport-cc` and its header
/// extension taken out answers without them and sends none. The kiosk's
/// uplink estimate then follows Chromium's receiver reports: it climbs
/// from where it started until media has its ceiling and documents get
/// room beside it (before, it stayed where it started and documents got
/// the 4 kB/s floor).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_transport_wide_feedback_the_estimate_follows_receiver_reports() {
    common::init_tracing();
    let without_twcc = |sdp: &str| {
        let lines: Vec<&str> = sdp.split("\r\n").filter(|l| !l.contains("transport-cc") && !l.contains("transport-wide-cc")).collect();
        lines.join("\r\n")
    };
    let TwoWay { chromium, mut kiosk, .. } = two_way_call_given(&[VideoCodec::Vp8], None, false, without_twcc).await;
    let answer = chromium.run("return window.pc.localDescription.sdp;", Value::Null).await;
    assert!(!answer.as_str().unwrap().contains("transport-cc"), "Chromium's answer asks for no TWCC");

    let first = kiosk.wait_for("the first stats", |e| match e {
        CallEvent::Stats(s) => s.estimate_bps,
        _ => None,
    })
    .await;
    let (estimate, room) = kiosk
        .wait_for("the estimate to climb and leave documents room", |e| match e {
            CallEvent::Stats(s) => {
                let estimate = s.estimate_bps?;
                (estimate >= 2 * first && s.data_room_bps > 500_000).then_some((estimate, s.data_room_bps))
            }
            _ => None,
        })
        .await;
    eprintln!("estimate {first} -> {estimate} bit/s, room for documents {room} bit/s");
    kiosk.call.hang_up().await;
    chromium.close().await;
}
