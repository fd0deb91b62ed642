//! Is the camera giving a picture, and the microphone a signal? Asked
//! between visits, so a covered lens or a muted microphone shows in the
//! fleet view before a resident's call. A few frames and a second of sound
//! are looked at in memory and dropped: nothing is recorded.

use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use crate::config::{AudioSource, VideoSource};
use crate::pipeline::{audio_source_description, video_source_description};

/// Frames skipped before judging: a camera's exposure settles first.
const SETTLE_FRAMES: u32 = 8;
/// Seconds of sound listened to.
const LISTEN: Duration = Duration::from_millis(1500);

/// What a probe found wrong: one of `visio_protocol::fault`'s stable codes,
/// which the pages translate, and the details in the device's own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeFault {
    /// `black`, `silent`, `no_output`… (`visio_protocol::fault`).
    pub code: &'static str,
    /// What the probe saw, in English, for logs and as the pages' fallback.
    pub detail: String,
}

impl ProbeFault {
    fn new(code: &'static str, detail: impl Into<String>) -> ProbeFault {
        ProbeFault { code, detail: detail.into() }
    }
}

/// The camera's fault, `None` when it gives a picture that is not black.
/// Blocking, up to `within`: run it on a blocking thread.
pub fn camera_fault(source: &VideoSource, within: Duration) -> Option<ProbeFault> {
    let source = video_source_description(source)?;
    let description = format!(
        "{source} ! videoconvert ! videoscale ! video/x-raw,format=GRAY8,width=160,height=120 \
         ! appsink name=sink sync=false max-buffers=1 drop=true"
    );
    let (pipeline, sink) = match start(&description) {
        Ok(started) => started,
        Err(why) => return Some(ProbeFault::new("not_started", format!("camera did not start: {why}"))),
    };
    let deadline = Instant::now() + within;
    let mut frames = 0;
    let mut last: Option<Vec<u8>> = None;
    while frames <= SETTLE_FRAMES {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else { break };
        let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_nseconds(left.as_nanos() as u64)) else { break };
        frames += 1;
        if let Some(map) = sample.buffer().and_then(|b| b.map_readable().ok()) {
            last = Some(map.as_slice().to_vec());
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    match last {
        None => Some(ProbeFault::new("no_picture", format!("no picture from the camera within {} s", within.as_secs()))),
        Some(luma) => picture_fault(&luma),
    }
}

/// A picture too dark and flat to show a face: a covered lens, a camera
/// that sends black.
pub fn picture_fault(luma: &[u8]) -> Option<ProbeFault> {
    if luma.is_empty() {
        return Some(ProbeFault::new("no_picture", "the camera sends empty frames"));
    }
    let n = luma.len() as f64;
    let mean = luma.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let spread = (luma.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n).sqrt();
    (mean < 20.0 && spread < 6.0)
        .then(|| ProbeFault::new("black", "the camera's picture is black (lens covered, or the camera is faulty)"))
}

/// The microphone's fault, `None` when it gives a signal. Blocking, about
/// 1.5 s and up to `within`: run it on a blocking thread.
pub fn microphone_fault(source: &AudioSource, within: Duration) -> Option<ProbeFault> {
    let source = audio_source_description(source)?;
    let description = format!(
        "{source} ! audioconvert ! audioresample ! audio/x-raw,format=S16LE,channels=1,rate=16000 \
         ! appsink name=sink sync=false max-buffers=8 drop=true"
    );
    let (pipeline, sink) = match start(&description) {
        Ok(started) => started,
        Err(why) => return Some(ProbeFault::new("not_started", format!("microphone did not start: {why}"))),
    };
    let deadline = Instant::now() + within;
    let (mut heard, mut peak) = (Duration::ZERO, 0u16);
    while heard < LISTEN {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else { break };
        let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_nseconds(left.as_nanos() as u64)) else { break };
        let Some(buffer) = sample.buffer() else { continue };
        heard += buffer.duration().map(Duration::from).unwrap_or_default();
        if let Ok(map) = buffer.map_readable() {
            peak = peak.max(peak_s16(map.as_slice()));
        }
    }
    let _ = pipeline.set_state(gst::State::Null);
    if heard.is_zero() {
        return Some(ProbeFault::new("no_sound", format!("no sound from the microphone within {} s", within.as_secs())));
    }
    signal_fault(peak)
}

/// The sound output's fault, `None` when the system's default output
/// (`autoaudiosink`, as in a call) opens a real device. GStreamer falls
/// back to a sink that drops everything when it finds none: that is a
/// kiosk no resident can hear. Plays a few milliseconds of silence.
/// Blocking, up to `within`.
pub fn speaker_fault(within: Duration) -> Option<ProbeFault> {
    let description = "audiotestsrc num-buffers=3 samplesperbuffer=480 volume=0 ! autoaudiosink name=out";
    let pipeline = match gst::init().map_err(|e| e.to_string()).and_then(|()| {
        gst::parse::launch(description).map_err(|e| e.to_string())?.downcast::<gst::Pipeline>().map_err(|_| "not a pipeline".to_owned())
    }) {
        Ok(p) => p,
        Err(why) => return Some(ProbeFault::new("not_started", format!("sound output could not be set up: {why}"))),
    };
    let started = pipeline.set_state(gst::State::Playing);
    let ended = pipeline.bus().and_then(|bus| {
        bus.timed_pop_filtered(gst::ClockTime::from_nseconds(within.as_nanos() as u64), &[gst::MessageType::Eos, gst::MessageType::Error])
    });
    // The device autoaudiosink chose, once it opened one.
    let chosen = pipeline
        .by_name("out")
        .and_then(|out| out.downcast::<gst::Bin>().ok())
        .and_then(|bin| bin.children().into_iter().next())
        .and_then(|child| child.factory())
        .map(|f| f.name().to_string());
    let _ = pipeline.set_state(gst::State::Null);
    let error = ended.and_then(|m| match m.view() {
        gst::MessageView::Error(e) => Some(e.error().to_string()),
        _ => None,
    });
    match (started, error, chosen.as_deref()) {
        (Err(_), why, _) | (_, why @ Some(_), _) => Some(ProbeFault::new(
            "not_started",
            format!("sound output did not open: {}", why.unwrap_or_else(|| "state change failed".into())),
        )),
        (_, None, Some("fakesink" | "fakeaudiosink") | None) => {
            Some(ProbeFault::new("no_output", "no sound output found (no loudspeaker or handset)"))
        }
        (_, None, Some(_)) => None,
    }
}

/// Largest sample magnitude of little-endian S16 audio.
fn peak_s16(bytes: &[u8]) -> u16 {
    bytes.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]]).unsigned_abs()).max().unwrap_or(0)
}

/// Digital silence: a muted or unplugged microphone. Even a quiet room
/// gives a few units of noise on a live microphone (−80 dBFS is 3 units).
pub fn signal_fault(peak: u16) -> Option<ProbeFault> {
    (peak < 3).then(|| ProbeFault::new("silent", "the microphone sends silence (muted, or unplugged)"))
}

fn start(description: &str) -> Result<(gst::Pipeline, gst_app::AppSink), String> {
    gst::init().map_err(|e| e.to_string())?;
    let pipeline = gst::parse::launch(description)
        .map_err(|e| e.to_string())?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "not a pipeline".to_owned())?;
    let sink = pipeline.by_name("sink").and_then(|e| e.downcast::<gst_app::AppSink>().ok()).ok_or("no sink")?;
    if pipeline.set_state(gst::State::Playing).is_err() {
        let why = pipeline
            .bus()
            .and_then(|bus| bus.timed_pop_filtered(gst::ClockTime::from_mseconds(500), &[gst::MessageType::Error]))
            .and_then(|m| match m.view() {
                gst::MessageView::Error(e) => Some(e.error().to_string()),
                _ => None,
            })
            .unwrap_or_else(|| "state change failed".into());
        let _ = pipeline.set_state(gst::State::Null);
        return Err(why);
    }
    Ok((pipeline, sink))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WITHIN: Duration = Duration::from_secs(10);

    #[test]
    fn a_test_pattern_is_a_picture_and_a_black_one_is_a_fault() {
        let pattern = |p: &str| VideoSource::Test { pattern: p.into(), colour: None };
        assert_eq!(camera_fault(&pattern("smpte"), WITHIN), None);
        let black = camera_fault(&pattern("black"), WITHIN).unwrap();
        assert_eq!((black.code, black.detail.as_str()), (visio_protocol::fault::BLACK, "the camera's picture is black (lens covered, or the camera is faulty)"));
        let missing = camera_fault(&VideoSource::V4l2 { device: "/dev/video-not-there".into() }, WITHIN).unwrap();
        assert_eq!(missing.code, visio_protocol::fault::NOT_STARTED);
        assert!(missing.detail.starts_with("camera did not start:") && missing.detail.contains("video-not-there"), "{missing:?}");
        assert_eq!(camera_fault(&VideoSource::None, WITHIN), None, "no camera configured, nothing to probe");
    }

    #[test]
    fn a_tone_is_a_signal_and_silence_is_a_fault() {
        assert_eq!(microphone_fault(&AudioSource::Test { frequency: 440.0 }, WITHIN), None);
        let silent = microphone_fault(&AudioSource::Test { frequency: 0.0 }, WITHIN).unwrap();
        assert_eq!((silent.code, silent.detail.as_str()), (visio_protocol::fault::SILENT, "the microphone sends silence (muted, or unplugged)"));
    }

    #[test]
    fn a_dim_room_is_not_black() {
        // A dark office: mean 15, but a face and edges give spread.
        let dim: Vec<u8> = (0..19200).map(|i| if i % 7 == 0 { 60 } else { 8 }).collect();
        assert_eq!(picture_fault(&dim), None);
        assert_eq!(picture_fault(&[3; 19200]).map(|f| f.code), Some(visio_protocol::fault::BLACK));
        assert_eq!(picture_fault(&[]).map(|f| f.code), Some(visio_protocol::fault::NO_PICTURE));
        assert_eq!(signal_fault(2).map(|f| f.code), Some(visio_protocol::fault::SILENT));
        assert_eq!(signal_fault(40), None);
    }
}
