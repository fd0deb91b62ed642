//! The chime when the agent answers, played through GStreamer on the
//! configured audio output. A kiosk without sound still works: failures are
//! logged, never shown.

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use crate::assets::CHIME_WAV;

/// The audio sink element; `VISIO_AUDIO_SINK=fakesink` in tests and on
/// machines without sound.
fn sink_name() -> String {
    std::env::var("VISIO_AUDIO_SINK").unwrap_or_else(|_| "autoaudiosink".into())
}

/// Plays the chime in the background and returns at once.
pub fn chime() {
    std::thread::spawn(|| {
        if let Err(e) = play(CHIME_WAV) {
            tracing::warn!(error = %e, "could not play the chime");
        }
    });
}

fn play(wav: &'static [u8]) -> Result<(), String> {
    gst::init().map_err(|e| e.to_string())?;
    let description = format!("appsrc name=src ! wavparse ! audioconvert ! audioresample ! {}", sink_name());
    let pipeline = gst::parse::launch(&description)
        .map_err(|e| e.to_string())?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "not a pipeline".to_string())?;
    let src = pipeline
        .by_name("src")
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        .ok_or("no appsrc")?;
    pipeline.set_state(gst::State::Playing).map_err(|e| e.to_string())?;
    src.push_buffer(gst::Buffer::from_slice(wav)).map_err(|e| e.to_string())?;
    src.end_of_stream().map_err(|e| e.to_string())?;
    let bus = pipeline.bus().ok_or("no bus")?;
    let result = match bus.timed_pop_filtered(gst::ClockTime::from_seconds(10), &[gst::MessageType::Eos, gst::MessageType::Error]) {
        Some(msg) => match msg.view() {
            gst::MessageView::Error(e) => Err(e.error().to_string()),
            _ => Ok(()),
        },
        None => Err("the chime did not finish within 10 s".into()),
    };
    let _ = pipeline.set_state(gst::State::Null);
    result
}
