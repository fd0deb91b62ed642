//! The kiosk's voice: the core's speech prompts (`visio_kiosk_core::Prompt`) spoken with eSpeak NG
//! (the `espeak-ng` program, Debian's `espeak-ng`), played through the same
//! audio output as the chime and the agent's voice (`VISIO_AUDIO_SINK`).
//! Offline, a few milliseconds to synthesise a prompt; the newest prompt
//! cuts the one still playing. A kiosk without sound still works: failures
//! are logged, never shown.
//!
//! eSpeak NG runs as a short-lived process per prompt, not as GStreamer's
//! `espeak` element: that element keeps each prompt's audio (about 90 KB)
//! and a copy of the voice list for the life of the process, 1.7 MB a call
//! (docs/decisions.md #295, "Speech through the espeak-ng program").

pub mod words;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use visio_kiosk_core::{Language, VOLUME_MAX};

/// Words a minute: about 35 % slower than eSpeak's 175, since many
/// residents are elderly (measured on our prompts: 2.2 to 3.2 words a
/// second).
const WORDS_PER_MINUTE: u32 = 114;
/// The loudest step's gain; the others scale down from it.
const GAIN_MAX: f64 = 1.0;
/// The longest prompt's audio is under a megabyte (16-bit mono at
/// 22 kHz, 20 s); anything beyond this is not a prompt.
const MAX_AUDIO_BYTES: u64 = 4 << 20;

/// The audio sink, as the chime and the call use it; `fakesink` in tests
/// and on machines without sound (then a prompt takes milliseconds, not
/// its spoken length).
pub fn sink_from_env() -> String {
    std::env::var("VISIO_AUDIO_SINK").unwrap_or_else(|_| "autoaudiosink".into())
}

/// The eSpeak NG voice for a language.
fn voice(language: Language) -> &'static str {
    match language {
        Language::Fr => "fr",
        Language::En => "en",
    }
}

/// Gain for a volume step (0 silent … `VOLUME_MAX`).
pub fn gain(volume: u8) -> f64 {
    GAIN_MAX * f64::from(volume.min(VOLUME_MAX)) / f64::from(VOLUME_MAX)
}

/// `text` spoken by eSpeak NG, as WAV bytes. The text goes on standard
/// input, never on the command line.
fn synthesize(text: &str, language: Language) -> Result<Vec<u8>, String> {
    let mut child = Command::new("espeak-ng")
        .args(["--stdout", "-v", voice(language), "-s", &WORDS_PER_MINUTE.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("espeak-ng could not start ({e}); is the espeak-ng package installed?"))?;
    // A prompt is a few hundred bytes: written whole before reading.
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(text.as_bytes()).map_err(|e| format!("espeak-ng's input: {e}"))?;
    }
    let mut wav = Vec::new();
    let read = child.stdout.take().map(|out| out.take(MAX_AUDIO_BYTES).read_to_end(&mut wav));
    let status = child.wait().map_err(|e| format!("espeak-ng: {e}"))?;
    match read {
        Some(Ok(_)) if status.success() && !wav.is_empty() => Ok(wav),
        Some(Err(e)) => Err(format!("espeak-ng's output: {e}")),
        _ => Err(format!("espeak-ng gave no audio ({status})")),
    }
}

/// The pipeline that plays `wav` into `sink` (a `gst-launch` description
/// of the output). One path for the speaker and for the tests that render
/// speech to a file.
fn pipeline(wav: Vec<u8>, volume: u8, sink: &str) -> Result<gst::Pipeline, String> {
    gst::init().map_err(|e| e.to_string())?;
    let description =
        format!("appsrc name=wav caps=audio/x-wav ! wavparse ! audioconvert ! audioresample ! volume name=gain ! audioconvert ! audioresample ! {sink}");
    let pipeline = gst::parse::launch(&description)
        .map_err(|e| format!("the speech pipeline ({e})"))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "not a pipeline".to_string())?;
    let gain_element = pipeline.by_name("gain").ok_or("no volume element")?;
    gain_element.set_property("volume", gain(volume));
    let src = pipeline
        .by_name("wav")
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        .ok_or("no appsrc element")?;
    src.push_buffer(gst::Buffer::from_mut_slice(wav)).map_err(|e| format!("the speech pipeline refused the audio: {e}"))?;
    src.end_of_stream().map_err(|e| format!("the speech pipeline: {e}"))?;
    Ok(pipeline)
}

/// Synthesises `text` and makes the pipeline that plays it.
fn speak(text: &str, language: Language, volume: u8, sink: &str) -> Result<gst::Pipeline, String> {
    pipeline(synthesize(text, language)?, volume, sink)
}

/// Prompts kept for [`Speaker::take_said`].
const SAID_KEPT: usize = 64;

/// Plays a pipeline to its end (or an error, or `stop`), then frees it.
fn run(pipeline: &gst::Pipeline, still_current: impl Fn() -> bool) -> Result<(), String> {
    pipeline.set_state(gst::State::Playing).map_err(|e| e.to_string())?;
    let bus = pipeline.bus().ok_or("no bus")?;
    let result = loop {
        if !still_current() {
            break Ok(());
        }
        let step = gst::ClockTime::from_mseconds(100);
        match bus.timed_pop_filtered(step, &[gst::MessageType::Eos, gst::MessageType::Error]) {
            Some(msg) => match msg.view() {
                gst::MessageView::Error(e) => break Err(e.error().to_string()),
                _ => break Ok(()),
            },
            None => continue,
        }
    };
    let _ = pipeline.set_state(gst::State::Null);
    result
}

/// Renders `text` into `sink` and waits for the end: for tests and tools
/// (`wavenc ! filesink location=…`).
pub fn render(text: &str, language: Language, volume: u8, sink: &str) -> Result<(), String> {
    run(&speak(text, language, volume, sink)?, || true)
}

/// Speaks in the background, one prompt at a time, on one thread: a new
/// prompt or a stop ends the one playing.
#[derive(Clone, Debug)]
pub struct Speaker {
    queue: mpsc::Sender<Utterance>,
    /// Bumped by every say or stop; a prompt plays only while it is the
    /// newest.
    generation: Arc<AtomicU64>,
    speaking: Arc<AtomicBool>,
    /// What was said since the last [`Speaker::take_said`] (the UI tests
    /// read it); the words the screen shows, nothing more.
    said: Arc<Mutex<Vec<String>>>,
}

#[derive(Debug)]
struct Utterance {
    generation: u64,
    text: String,
    language: Language,
    volume: u8,
}

impl Speaker {
    pub fn new(sink: String) -> Speaker {
        let (queue, utterances) = mpsc::channel::<Utterance>();
        let generation = Arc::new(AtomicU64::new(0));
        let speaking = Arc::new(AtomicBool::new(false));
        let (current, busy) = (generation.clone(), speaking.clone());
        let worker = move || {
            for u in utterances {
                let newest = || current.load(Ordering::SeqCst) == u.generation;
                if !newest() {
                    continue;
                }
                busy.store(true, Ordering::Relaxed);
                if let Err(e) = speak(&u.text, u.language, u.volume, &sink).and_then(|p| run(&p, newest)) {
                    tracing::warn!(error = %e, "could not speak");
                }
                if newest() {
                    busy.store(false, Ordering::Relaxed);
                }
            }
        };
        if let Err(e) = std::thread::Builder::new().name("speech".into()).spawn(worker) {
            tracing::warn!(error = %e, "no speech: its thread did not start");
        }
        Speaker { queue, generation, speaking, said: Arc::default() }
    }

    /// Whether a prompt is playing now ("Stop" shows instead of "Écouter").
    pub fn is_speaking(&self) -> bool {
        self.speaking.load(Ordering::Relaxed)
    }

    /// The texts said since the last call.
    pub fn take_said(&self) -> Vec<String> {
        std::mem::take(&mut *self.said.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn say(&self, text: String, language: Language, volume: u8) {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let mut said = self.said.lock().unwrap_or_else(|p| p.into_inner());
        // Read by the UI tests only: a kiosk that speaks all day keeps the
        // last few, not every prompt since it started.
        if said.len() >= SAID_KEPT {
            said.remove(0);
        }
        said.push(text.clone());
        drop(said);
        self.speaking.store(true, Ordering::Relaxed);
        let _ = self.queue.send(Utterance { generation, text, language, volume });
    }

    pub fn stop(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.speaking.store(false, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_steps_scale_the_gain() {
        assert_eq!(gain(0), 0.0);
        assert_eq!(gain(VOLUME_MAX), GAIN_MAX);
        assert!(gain(2) < gain(3));
        assert_eq!(gain(200), GAIN_MAX, "clamped");
    }

    #[test]
    fn a_prompt_renders_to_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.wav");
        render("Bonjour", Language::Fr, 3, &format!("wavenc ! filesink location={}", path.display())).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 10_000);
    }
}
