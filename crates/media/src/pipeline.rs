//! The GStreamer side: capture + encode pipelines that hand encoded frames to
//! the transport, and RTP → decode pipelines that hand RGBA frames to the UI.
//!
//! Nothing here writes to disk: sources are devices or generators, sinks are
//! appsinks, the sound card or `fakesink`.

use crate::config::{AudioConfig, AudioSink, AudioSource, VideoConfig, VideoSource};
use crate::error::CallError;
use crate::frames::{FrameSlot, VideoFrame};
use bytes::Bytes;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Forwards a running pipeline's errors (a camera unplugged, a decoder
/// choking) as call errors, until aborted.
pub(crate) fn watch_bus(bus: Option<gst::Bus>, what: &'static str, report: impl Fn(CallError) + Send + 'static) -> tokio::task::JoinHandle<()> {
    use futures_util::StreamExt;
    tokio::spawn(async move {
        let Some(bus) = bus else { return };
        let mut messages = bus.stream_filtered(&[gst::MessageType::Error]);
        while let Some(message) = messages.next().await {
            if let gst::MessageView::Error(err) = message.view() {
                tracing::warn!(%what, error = %err.error(), debug = ?err.debug(), "pipeline error");
                report(CallError::Pipeline(format!("{what}: {}", err.error())));
            }
        }
    })
}

/// One encoded frame (VP8) or packet (Opus) on its way to webrtc-rs.
#[derive(Debug)]
pub(crate) struct Encoded {
    pub data: Bytes,
    pub duration: Duration,
}

pub(crate) fn init() -> Result<(), CallError> {
    gst::init().map_err(|e| CallError::Pipeline(format!("GStreamer could not start: {e}")))
}

fn launch(description: &str) -> Result<gst::Pipeline, CallError> {
    let element = gst::parse::launch(description).map_err(|e| {
        CallError::Pipeline(format!("{e} (pipeline: {description}; is the GStreamer plugin installed? run scripts/setup.sh)"))
    })?;
    element
        .downcast::<gst::Pipeline>()
        .map_err(|_| CallError::Pipeline(format!("not a pipeline: {description}")))
}

fn named<T: IsA<gst::Element>>(pipeline: &gst::Pipeline, name: &str) -> Result<T, CallError> {
    pipeline
        .by_name(name)
        .and_then(|e| e.downcast::<T>().ok())
        .ok_or_else(|| CallError::Pipeline(format!("element {name} missing from our own pipeline")))
}

/// Sets the pipeline playing; a failure becomes the first error message on its
/// bus (e.g. "Cannot identify device '/dev/video9'"), which says far more than
/// "state change failed".
fn play(pipeline: &gst::Pipeline, what: &str) -> Result<(), String> {
    // Devices are opened in the synchronous NULL→READY step, so a missing
    // camera fails here. No waiting for PLAYING: a live pipeline whose appsrc
    // has no data yet would only reach it after its first buffer; later
    // errors come through the bus watcher.
    if pipeline.set_state(gst::State::Playing).is_ok() {
        return Ok(());
    }
    let reason = pipeline
        .bus()
        .and_then(|bus| bus.timed_pop_filtered(gst::ClockTime::from_mseconds(500), &[gst::MessageType::Error]))
        .and_then(|msg| match msg.view() {
            gst::MessageView::Error(err) => Some(err.error().to_string()),
            _ => None,
        })
        .unwrap_or_else(|| format!("the {what} pipeline would not start"));
    let _ = pipeline.set_state(gst::State::Null);
    Err(reason)
}

fn encoded_sink(sink: &gst_app::AppSink, tx: mpsc::Sender<Encoded>) {
    let stats = std::sync::Mutex::new((0u32, 0u32, Instant::now()));
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                if let Ok(mut s) = stats.lock() {
                    s.0 += 1;
                    if s.2.elapsed() >= Duration::from_secs(5) {
                        tracing::debug!(encoded_per_s = f64::from(s.0) / s.2.elapsed().as_secs_f64(), dropped = s.1, "encoder output");
                        *s = (0, 0, Instant::now());
                    }
                    if tx.capacity() == 0 { s.1 += 1; }
                }
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let Some(buffer) = sample.buffer() else { return Ok(gst::FlowSuccess::Ok) };
                let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                let duration = buffer.duration().map(|d| Duration::from_nanos(d.nseconds())).unwrap_or(Duration::from_millis(33));
                // A full queue means the transport is behind: dropping here keeps
                // latency bounded; the next keyframe repairs the picture.
                let _ = tx.try_send(Encoded { data: Bytes::copy_from_slice(map.as_slice()), duration });
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
}

/// Camera → scale/rate → VP8 → appsink.
#[derive(Debug)]
pub(crate) struct VideoSender {
    pipeline: gst::Pipeline,
    encoder: gst::Element,
    caps: gst::Element,
    sink: gst_app::AppSink,
}

impl VideoSender {
    /// `Ok(None)` when no video is configured.
    pub fn start(config: &VideoConfig, bitrate_bps: u32, tx: mpsc::Sender<Encoded>) -> Result<Option<Self>, CallError> {
        let source = match &config.source {
            VideoSource::None => return Ok(None),
            VideoSource::V4l2 { device } => format!("v4l2src device=\"{device}\""),
            VideoSource::Auto => "autovideosrc".to_owned(),
            VideoSource::Test { pattern, colour } => {
                let colour = colour.map(|c| format!(" foreground-color={c}")).unwrap_or_default();
                format!("videotestsrc is-live=true pattern={pattern}{colour}")
            }
        };
        let (w, h, fps) = (config.width, config.height, config.framerate);
        // Realtime VP8 (FIELD-NOTES): deadline=1, cpu-used set (the default 0
        // cannot keep up on two cores), no lookahead, CBR, bounded keyframe gap.
        // threads=1: libvpx worker threads spin-wait, and on a busy 2-core
        // machine threads=2 cost 14x the CPU (50 ms instead of 3.5 ms a
        // 640x360 frame), starving the encoder down to 3-8 fps.
        let description = format!(
            "{source} ! videoconvert ! videoscale ! videorate drop-only=true \
             ! capsfilter name=caps caps=video/x-raw,format=I420,width={w},height={h},framerate={fps}/1 \
             ! queue max-size-buffers=2 leaky=downstream \
             ! vp8enc name=enc deadline=1 cpu-used=8 threads=1 lag-in-frames=0 end-usage=cbr \
               error-resilient=default keyframe-max-dist={kf} target-bitrate={bitrate_bps} \
               undershoot=95 buffer-size=300 buffer-initial-size=200 buffer-optimal-size=250 \
             ! appsink name=sink sync=false max-buffers=8 drop=true",
            kf = config.keyframe_interval.max(1),
        );
        let pipeline = launch(&description)?;
        let encoder: gst::Element = named(&pipeline, "enc")?;
        let caps: gst::Element = named(&pipeline, "caps")?;
        let sink: gst_app::AppSink = named(&pipeline, "sink")?;
        encoded_sink(&sink, tx);
        if config.stamp_capture_time {
            add_stamp_probe(&encoder);
        }
        play(&pipeline, "camera").map_err(|reason| CallError::Camera { device: describe_video(&config.source), reason })?;
        Ok(Some(Self { pipeline, encoder, caps, sink }))
    }

    /// Asks the encoder for a keyframe now (the peer lost the picture).
    pub fn force_keyframe(&self) {
        let event = gst_video::UpstreamForceKeyUnitEvent::builder().all_headers(true).build();
        // Sent into the appsink's sink pad, it travels upstream to the encoder.
        if !self.sink.send_event(event) {
            tracing::debug!("keyframe request not handled (pipeline not running)");
        }
    }

    /// Applies a new target from the adaptation controller.
    pub fn set_target(&self, bitrate_bps: u32, width: u32, height: u32, framerate: u32) {
        self.encoder.set_property("target-bitrate", i32::try_from(bitrate_bps).unwrap_or(i32::MAX));
        let caps = gst::Caps::builder("video/x-raw")
            .field("format", "I420")
            .field("width", width as i32)
            .field("height", height as i32)
            .field("framerate", gst::Fraction::new(framerate as i32, 1))
            .build();
        let current: Option<gst::Caps> = self.caps.property("caps");
        if current.as_ref() != Some(&caps) {
            self.caps.set_property("caps", &caps);
        }
    }

    pub fn bus(&self) -> Option<gst::Bus> {
        self.pipeline.bus()
    }

    pub fn stop(&self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

fn describe_video(source: &VideoSource) -> String {
    match source {
        VideoSource::V4l2 { device } => format!("camera {device}"),
        VideoSource::Auto => "the default camera".into(),
        VideoSource::Test { pattern, .. } => format!("test pattern {pattern}"),
        VideoSource::None => "no camera".into(),
    }
}

fn add_stamp_probe(encoder: &gst::Element) {
    let Some(pad) = encoder.static_pad("sink") else { return };
    pad.add_probe(gst::PadProbeType::BUFFER, |pad, info| {
        let Some(info_caps) = pad.current_caps().and_then(|c| gst_video::VideoInfo::from_caps(&c).ok()) else {
            return gst::PadProbeReturn::Ok;
        };
        if let Some(gst::PadProbeData::Buffer(buffer)) = info.data.as_mut() {
            let buffer = buffer.make_mut();
            if let Ok(mut frame) = gst_video::VideoFrameRef::from_buffer_ref_writable(buffer, &info_caps) {
                let stride = frame.plane_stride()[0] as usize;
                let (w, h) = (frame.width() as usize, frame.height() as usize);
                if let Ok(plane) = frame.plane_data_mut(0) {
                    crate::stamp::write_luma(plane, stride, w, h, crate::stamp::clock_ms());
                }
            }
        }
        gst::PadProbeReturn::Ok
    });
}

/// Microphone → Opus → appsink.
#[derive(Debug)]
pub(crate) struct AudioSender {
    pipeline: gst::Pipeline,
    volume: gst::Element,
}

impl AudioSender {
    pub fn start(config: &AudioConfig, tx: mpsc::Sender<Encoded>) -> Result<Option<Self>, CallError> {
        let source = match &config.source {
            AudioSource::None => return Ok(None),
            AudioSource::Pulse { device: Some(d) } => format!("pulsesrc device=\"{d}\""),
            AudioSource::Pulse { device: None } => "pulsesrc".into(),
            AudioSource::Auto => "autoaudiosrc".into(),
            AudioSource::Test { frequency } => format!("audiotestsrc is-live=true wave=sine freq={frequency} volume=0.3"),
        };
        let description = format!(
            "{source} ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=2 \
             ! volume name=mic ! opusenc bitrate={} frame-size=20 \
             ! appsink name=sink sync=false max-buffers=16 drop=true",
            config.bitrate_bps
        );
        let pipeline = launch(&description)?;
        let volume: gst::Element = named(&pipeline, "mic")?;
        let sink: gst_app::AppSink = named(&pipeline, "sink")?;
        encoded_sink(&sink, tx);
        play(&pipeline, "microphone").map_err(|reason| CallError::Microphone { reason })?;
        Ok(Some(Self { pipeline, volume }))
    }

    /// Muting keeps packets flowing (silence), so the peer sees no glitch.
    pub fn set_muted(&self, muted: bool) {
        self.volume.set_property("mute", muted);
    }

    pub fn bus(&self) -> Option<gst::Bus> {
        self.pipeline.bus()
    }

    pub fn stop(&self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// What kind of RTP a receiver decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RemoteKind {
    Vp8,
    Opus,
}

/// RTP from webrtc-rs → jitter buffer → depay → decode → RGBA appsink / speaker.
#[derive(Debug)]
pub(crate) struct Receiver {
    pipeline: gst::Pipeline,
    src: gst_app::AppSrc,
}

impl Receiver {
    pub fn start(kind: RemoteKind, payload_type: u8, audio_sink: &AudioSink, frames: Arc<FrameSlot>, on_decoded: impl Fn() + Send + Sync + 'static) -> Result<Self, CallError> {
        let description = match kind {
            RemoteKind::Vp8 => format!(
                "appsrc name=src is-live=true format=time do-timestamp=true \
                   caps=application/x-rtp,media=video,clock-rate=90000,encoding-name=VP8,payload={payload_type} \
                 ! rtpjitterbuffer latency=50 ! rtpvp8depay request-keyframe=false ! vp8dec \
                 ! videoconvert ! video/x-raw,format=RGBA ! appsink name=sink sync=false max-buffers=1 drop=true"
            ),
            RemoteKind::Opus => {
                let sink = match audio_sink {
                    AudioSink::Auto => "autoaudiosink",
                    AudioSink::Fake => "fakesink sync=false",
                };
                format!(
                    "appsrc name=src is-live=true format=time do-timestamp=true \
                       caps=application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload={payload_type} \
                     ! rtpjitterbuffer latency=50 ! rtpopusdepay ! opusdec name=dec \
                     ! audioconvert ! audioresample ! {sink}"
                )
            }
        };
        let pipeline = launch(&description)?;
        let src: gst_app::AppSrc = named(&pipeline, "src")?;
        if kind == RemoteKind::Opus {
            let dec: gst::Element = named(&pipeline, "dec")?;
            if let Some(pad) = dec.static_pad("src") {
                let frames = Arc::clone(&frames);
                pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                    frames.audio_decoded.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    gst::PadProbeReturn::Ok
                });
            }
        }
        if kind == RemoteKind::Vp8 {
            let sink: gst_app::AppSink = named(&pipeline, "sink")?;
            sink.set_callbacks(
                gst_app::AppSinkCallbacks::builder()
                    .new_sample(move |sink| {
                        let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                        let (Some(buffer), Some(caps)) = (sample.buffer(), sample.caps()) else {
                            return Ok(gst::FlowSuccess::Ok);
                        };
                        let info = gst_video::VideoInfo::from_caps(caps).map_err(|_| gst::FlowError::NotNegotiated)?;
                        let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                        let (w, h) = (info.width(), info.height());
                        let stride = info.stride()[0] as usize;
                        let row = w as usize * 4;
                        // Pack rows (RGBA strides are already 4-aligned, so this is usually one copy).
                        let data = if stride == row {
                            Bytes::copy_from_slice(&map.as_slice()[..row * h as usize])
                        } else {
                            let mut packed = Vec::with_capacity(row * h as usize);
                            for y in 0..h as usize {
                                packed.extend_from_slice(&map.as_slice()[y * stride..y * stride + row]);
                            }
                            Bytes::from(packed)
                        };
                        frames.put(VideoFrame { width: w, height: h, data, decoded_at: Instant::now() });
                        on_decoded();
                        Ok(gst::FlowSuccess::Ok)
                    })
                    .build(),
            );
        }
        play(&pipeline, "decoder").map_err(CallError::Pipeline)?;
        Ok(Self { pipeline, src })
    }

    /// One RTP packet, as received.
    pub fn push(&self, packet: Bytes) {
        let _ = self.src.push_buffer(gst::Buffer::from_slice(packet));
    }

    pub fn bus(&self) -> Option<gst::Bus> {
        self.pipeline.bus()
    }

    pub fn stop(&self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Drop for VideoSender {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Drop for AudioSender {
    fn drop(&mut self) {
        self.stop();
    }
}
