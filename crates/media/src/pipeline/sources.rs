//! The GStreamer source element each configured camera and microphone
//! stands for: one place, for the call's pipelines and the device probes.

use crate::config::{AudioSource, VideoSource};

/// The camera's source element; `None` when no video is configured.
pub(crate) fn video_source_description(source: &VideoSource) -> Option<String> {
    Some(match source {
        VideoSource::None => return None,
        VideoSource::V4l2 { device } => format!("v4l2src device=\"{device}\""),
        VideoSource::Auto => "autovideosrc".to_owned(),
        VideoSource::Test { pattern, colour } => {
            let colour = colour.map(|c| format!(" foreground-color={c}")).unwrap_or_default();
            format!("videotestsrc is-live=true pattern={pattern}{colour}")
        }
    })
}

/// The microphone's source element; `None` when no audio is configured.
pub(crate) fn audio_source_description(source: &AudioSource) -> Option<String> {
    Some(match source {
        AudioSource::None => return None,
        AudioSource::Pulse { device: Some(d) } => format!("pulsesrc device=\"{d}\""),
        AudioSource::Pulse { device: None } => "pulsesrc".into(),
        AudioSource::Auto => "autoaudiosrc".into(),
        AudioSource::Test { frequency } if *frequency <= 0.0 => "audiotestsrc is-live=true wave=silence".into(),
        AudioSource::Test { frequency } => format!("audiotestsrc is-live=true wave=sine freq={frequency} volume=0.3"),
    })
}
