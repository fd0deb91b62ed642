//! The peer's media: RTP in, decoded frames and sound out.

use super::*;

/// What kind of RTP a receiver decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RemoteKind {
    Video(VideoCodec),
    Opus,
}

/// Mean square of interleaved S16 samples, scaled to full scale = 1.0.
fn mean_square_s16(bytes: &[u8]) -> f32 {
    let samples = bytes.len() / 2;
    if samples == 0 {
        return 0.0;
    }
    let sum: f64 = bytes
        .chunks_exact(2)
        .map(|b| {
            let x = f64::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0;
            x * x
        })
        .sum();
    (sum / samples as f64) as f32
}

/// RTP from webrtc-rs → jitter buffer → depay → decode → RGBA appsink / speaker.
#[derive(Debug)]
pub(crate) struct Receiver {
    pipeline: gst::Pipeline,
    src: gst_app::AppSrc,
}

impl Receiver {
    pub fn start(
        kind: RemoteKind,
        payload_type: u8,
        audio_sink: &AudioSink,
        frames: Arc<FrameSlot>,
        audio: Arc<AudioMeter>,
        on_decoded: impl Fn() + Send + Sync + 'static,
    ) -> Result<Self, CallError> {
        let rgba = "videoconvert ! video/x-raw,format=RGBA ! appsink name=sink sync=false max-buffers=1 drop=true";
        let video_src = |name: &str| {
            format!(
                "appsrc name=src is-live=true format=time do-timestamp=true \
                   caps=application/x-rtp,media=video,clock-rate=90000,encoding-name={name},payload={payload_type} \
                 ! rtpjitterbuffer latency=50"
            )
        };
        let description = match kind {
            RemoteKind::Video(VideoCodec::Vp8) => {
                format!("{} ! rtpvp8depay request-keyframe=false ! vp8dec ! {rgba}", video_src("VP8"))
            }
            RemoteKind::Video(VideoCodec::H264) => {
                // Slice threads, not frame threads: frame threading holds back
                // one frame per thread, latency a call cannot afford.
                let decoder = match h264_decoder() {
                    Some("avdec_h264") => "avdec_h264 thread-type=slice",
                    Some(other) => other,
                    None => return Err(CallError::Pipeline(check_codec(VideoCodec::H264).err().unwrap_or_default())),
                };
                format!("{} ! rtph264depay ! h264parse ! {decoder} ! {rgba}", video_src("H264"))
            }
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
        match kind {
            RemoteKind::Opus => {
                let dec: gst::Element = named(&pipeline, "dec")?;
                if let Some(pad) = dec.static_pad("src") {
                    // Loudness measured on the decoder's own output (S16, 20 ms
                    // a buffer): a few hundred multiplications, no extra element.
                    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
                        let s16 = pad
                            .current_caps()
                            .and_then(|c| c.structure(0).and_then(|s| s.get::<&str>("format").ok().map(|f| f == "S16LE")))
                            .unwrap_or(false);
                        let mean_square = match info.buffer() {
                            Some(buffer) if s16 => buffer.map_readable().map(|m| mean_square_s16(m.as_slice())).unwrap_or(0.0),
                            _ => 0.0,
                        };
                        audio.handle_buffer(mean_square);
                        gst::PadProbeReturn::Ok
                    });
                }
            }
            RemoteKind::Video(_) => {
                let sink: gst_app::AppSink = named(&pipeline, "sink")?;
                frames_sink(&sink, frames, on_decoded);
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_square_of_full_scale_and_silence() {
        let full: Vec<u8> = [i16::MAX, i16::MIN].iter().flat_map(|s| s.to_le_bytes()).collect();
        assert!((mean_square_s16(&full) - 1.0).abs() < 0.001);
        assert_eq!(mean_square_s16(&[0; 64]), 0.0);
        assert_eq!(mean_square_s16(&[]), 0.0);
    }
}
