use super::*;

#[test]
fn the_answer_decides_the_offerers_dtls_role() {
    assert_eq!(offerer_dtls_role("v=0\r\na=setup:passive\r\n"), Some(DtlsRole::Client));
    assert_eq!(offerer_dtls_role("v=0\r\na=setup:active\r\n"), Some(DtlsRole::Server));
    assert_eq!(offerer_dtls_role("v=0\r\n"), None);
}

#[test]
fn an_asked_keyframe_is_requested_even_if_a_frame_decodes_first() {
    let t0 = Instant::now();
    let mut k = KeyframeRequests::new(Duration::from_millis(500));
    k.handle_track(t0);
    k.handle_frame_decoded();
    assert!(!k.handle_timeout(t0), "decoding: nothing to ask");
    k.handle_picture_lost(t0);
    // The next frame decodes before the timer fires (a loaded machine).
    k.handle_frame_decoded();
    assert!(k.handle_timeout(t0), "the app's request still goes out");
    assert!(!k.handle_timeout(t0 + Duration::from_secs(1)), "once: frames decode");
    assert_eq!(k.poll_timeout(), None);
}

const CHROME_LIKE: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n";

const BOTH: &[VideoCodec] = &[VideoCodec::Vp8, VideoCodec::H264];

#[test]
fn accepts_vp8_and_opus() {
    let s = check_remote_sdp(CHROME_LIKE, BOTH).unwrap();
    assert_eq!(s, SdpSummary { video: true, audio: true, data: true });
}

#[test]
fn refuses_text_that_is_not_sdp() {
    assert!(matches!(check_remote_sdp("hello", BOTH), Err(SdpProblem::Malformed(_))));
    assert!(matches!(check_remote_sdp("", BOTH), Err(SdpProblem::Malformed(_))));
    assert!(matches!(check_remote_sdp("v=0\r\ngarbage\r\n", BOTH), Err(SdpProblem::Malformed(_))));
    assert!(matches!(check_remote_sdp("v=0\r\ns=-\r\n", BOTH), Err(SdpProblem::Malformed(_))));
}

#[test]
fn refuses_video_only_in_h265_and_says_what_is_supported() {
    let sdp = "v=0\r\ns=-\r\nm=video 9 UDP/TLS/RTP/SAVPF 49 50\r\na=rtpmap:49 H265/90000\r\na=rtpmap:50 rtx/90000\r\n";
    let err = check_remote_sdp(sdp, BOTH).unwrap_err();
    assert_eq!(err.to_string(), "the peer offers video only as H265; this kiosk supports VP8, H264");
}

#[test]
fn refuses_vp8_when_only_h264_is_enabled() {
    let err = check_remote_sdp(CHROME_LIKE, &[VideoCodec::H264]).unwrap_err();
    assert_eq!(err.to_string(), "the peer offers video only as VP8; this kiosk supports H264");
}

// Chrome lists its formats on the m= line in preference order; the
// rtpmap lines need not follow it.
const H264_FIRST: &str = "v=0\r\ns=-\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 106 107 96 97 45\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\n\
a=rtpmap:106 H264/90000\r\na=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n\
a=rtpmap:107 rtx/90000\r\na=rtpmap:45 AV1/90000\r\n";

#[test]
fn video_codecs_come_in_the_order_of_the_m_line() {
    assert_eq!(remote_video_codecs(H264_FIRST), vec![(106, VideoCodec::H264), (96, VideoCodec::Vp8)]);
    assert_eq!(remote_video_codecs(CHROME_LIKE), vec![(96, VideoCodec::Vp8)]);
    assert_eq!(remote_video_codecs("not sdp"), vec![]);
}

#[test]
fn the_peers_first_codec_we_enabled_is_sent() {
    assert_eq!(choose_video_codec(H264_FIRST, BOTH), Some(VideoCodec::H264));
    assert_eq!(choose_video_codec(H264_FIRST, &[VideoCodec::Vp8]), Some(VideoCodec::Vp8));
    assert_eq!(choose_video_codec(CHROME_LIKE, BOTH), Some(VideoCodec::Vp8));
    assert_eq!(choose_video_codec(CHROME_LIKE, &[VideoCodec::H264]), None);
    // A rejected video section carries nothing to send.
    let rejected = "v=0\r\ns=-\r\nm=video 0 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n";
    assert_eq!(choose_video_codec(rejected, BOTH), None);
}

#[test]
fn an_h264_variant_we_do_not_register_yields_to_an_exact_match() {
    // Baseline (42001f) first, then VP8: webrtc-rs negotiates only VP8.
    let sdp = "v=0\r\ns=-\r\nm=video 9 UDP/TLS/RTP/SAVPF 102 96\r\na=rtpmap:102 H264/90000\r\n\
a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\na=rtpmap:96 VP8/90000\r\n";
    assert_eq!(choose_video_codec(sdp, BOTH), Some(VideoCodec::Vp8));
    // Alone, it is negotiated anyway (webrtc-rs falls back to a name match).
    assert_eq!(choose_video_codec(sdp, &[VideoCodec::H264]), Some(VideoCodec::H264));
    // Packetization mode 0 is not our variant either.
    let mode0 = sdp.replace("packetization-mode=1;profile-level-id=42001f", "packetization-mode=0;profile-level-id=42e01f");
    assert_eq!(choose_video_codec(&mode0, BOTH), Some(VideoCodec::Vp8));
    assert_eq!(choose_video_codec(H264_FIRST, BOTH), Some(VideoCodec::H264), "42e01f, mode 1: ours");
}

#[test]
fn ignores_rejected_sections() {
    let sdp = "v=0\r\ns=-\r\nm=video 0 UDP/TLS/RTP/SAVPF 49\r\na=rtpmap:49 H265/90000\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n";
    assert_eq!(check_remote_sdp(sdp, BOTH).unwrap(), SdpSummary { video: false, audio: true, data: false });
}

#[test]
fn candidates_wait_for_the_remote_description() {
    let mut q = CandidateQueue::new();
    assert_eq!(q.handle_candidate(None, 1), CandidateVerdict::Held);
    assert_eq!(q.handle_candidate(Some("a"), 2), CandidateVerdict::Held);
    assert_eq!(q.poll_ready(), None);
    q.handle_remote_description(Some("a"));
    assert_eq!(q.poll_ready(), Some(1));
    assert_eq!(q.poll_ready(), Some(2));
    assert_eq!(q.poll_ready(), None);
    assert_eq!(q.handle_candidate(None, 3), CandidateVerdict::Apply(3));
    assert_eq!(q.handle_candidate(Some("a"), 4), CandidateVerdict::Apply(4));
}

#[test]
fn after_an_ice_restart_new_candidates_wait_for_their_description_and_old_ones_are_dropped() {
    let mut q = CandidateQueue::new();
    q.handle_remote_description(Some("old"));
    // The peer restarted: its new candidates can overtake its new description.
    assert_eq!(q.handle_candidate(Some("new"), 1), CandidateVerdict::Held);
    assert_eq!(q.handle_candidate(Some("old"), 2), CandidateVerdict::Apply(2), "still current");
    assert_eq!(q.poll_ready(), None);
    q.handle_remote_description(Some("new"));
    assert_eq!(q.poll_ready(), Some(1));
    assert_eq!(q.handle_candidate(Some("old"), 3), CandidateVerdict::Stale, "a late one of the old generation");
    assert_eq!(q.handle_candidate(Some("new"), 4), CandidateVerdict::Apply(4));
    assert_eq!(q.held(), 0);
    // The same description again (a renegotiation without restart) changes nothing.
    q.handle_remote_description(Some("new"));
    assert_eq!(q.handle_candidate(Some("new"), 5), CandidateVerdict::Apply(5));
}

#[test]
fn the_ice_ufrag_names_the_generation() {
    let sdp = "v=0\r\ns=-\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ice-ufrag:AbCd\r\na=ice-pwd:x\r\n";
    assert_eq!(ice_ufrag(sdp).as_deref(), Some("AbCd"));
    assert_eq!(ice_ufrag(CHROME_LIKE), None);
}

#[test]
fn keyframe_requested_on_track_and_every_interval_until_decoded() {
    let t0 = Instant::now();
    let s = Duration::from_secs(1);
    let mut k = KeyframeRequests::new(s);
    assert!(!k.handle_timeout(t0));
    assert_eq!(k.poll_timeout(), None);
    k.handle_track(t0);
    assert!(k.handle_timeout(t0));
    assert!(!k.handle_timeout(t0 + s / 2));
    assert!(k.handle_timeout(t0 + s));
    k.handle_frame_decoded();
    assert!(!k.handle_timeout(t0 + s * 5));
    assert_eq!(k.poll_timeout(), None);
    k.handle_picture_lost(t0 + s * 6);
    assert!(k.handle_timeout(t0 + s * 6));
}

/// What a kiosk of this crate offers for video, as Chromium offers it too:
/// RED and ULPFEC beside the codecs, RED with its retransmission format.
const WITH_FEC: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96 116 117 118\r\na=mid:0\r\na=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\n\
a=rtpmap:116 red/90000\r\na=rtpmap:117 ulpfec/90000\r\na=rtpmap:118 rtx/90000\r\na=fmtp:118 apt=116\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 116\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:116 red/48000/2\r\n";

#[test]
fn fec_is_read_from_the_video_section_and_an_answerer_can_decline_it() {
    assert_eq!(video_fec_payload_types(WITH_FEC), Some((116, 117)));
    assert_eq!(video_fec_payload_types(CHROME_LIKE), None);
    let plain = without_video_fec(WITH_FEC);
    assert_eq!(video_fec_payload_types(&plain), None);
    assert!(plain.contains("m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\na=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\nm=audio"), "{plain}");
    assert!(plain.contains("m=audio 9 UDP/TLS/RTP/SAVPF 111 116\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:116 red/48000/2\r\n"), "audio untouched: {plain}");
    assert_eq!(check_remote_sdp(&plain, BOTH).map(|s| s.video), Ok(true));
    assert_eq!(without_video_fec(CHROME_LIKE), CHROME_LIKE, "nothing to decline");
}
