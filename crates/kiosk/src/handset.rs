//! Handset privacy, the shell's half: asks the sound server (PulseAudio,
//! or PipeWire's pulse server, through `pactl`) whether the handset's sink
//! the kiosk's configuration names is there, and routes the sound where the
//! session decides. Routing is done in the sound server, so every stream of
//! the kiosk follows — the call's, the speech's, the chime's — without
//! touching their pipelines (`autoaudiosink` opens the default sink):
//! the default sink is set, the streams already playing are moved, and the
//! loudspeaker is muted while the handset is in use. The kiosk is the
//! machine's only sound client, so every stream is moved.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use visio_config::kiosk::SoundSinks;
use visio_protocol::SoundOutput;

/// How often the sound server is asked whether the handset is there.
pub const LOOK_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct SoundRouter {
    sinks: SoundSinks,
}

impl SoundRouter {
    pub fn new(sinks: SoundSinks) -> SoundRouter {
        SoundRouter { sinks }
    }

    fn pactl(&self, args: &[&str]) -> Result<String, String> {
        let output = Command::new("pactl")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("pactl could not run ({e}); is pulseaudio-utils installed?"))?;
        if !output.status.success() {
            let why = String::from_utf8_lossy(&output.stderr).trim().to_owned();
            return Err(format!("pactl {}: {why}", args.join(" ")));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Whether the handset's sink is there; `None` when the sound server
    /// does not answer (then nothing changes).
    pub fn handset_present(&self) -> Option<bool> {
        let sinks = self.pactl(&["list", "short", "sinks"]).ok()?;
        Some(sink_names(&sinks).any(|name| name == self.sinks.handset))
    }

    /// Sends every stream to `output` and cuts the loudspeaker while the
    /// handset is in use.
    pub fn route(&self, output: SoundOutput) -> Result<(), String> {
        let target = match output {
            SoundOutput::Handset => &self.sinks.handset,
            SoundOutput::Loudspeaker => &self.sinks.loudspeaker,
        };
        // Muted first, so nothing of the call reaches the room meanwhile.
        let cut = if output == SoundOutput::Handset { "1" } else { "0" };
        self.pactl(&["set-sink-mute", &self.sinks.loudspeaker, cut])?;
        self.pactl(&["set-default-sink", target])?;
        let streams = self.pactl(&["list", "short", "sink-inputs"])?;
        for id in streams.lines().filter_map(|l| l.split('\t').next()).filter(|id| !id.is_empty()) {
            // A stream that ended meanwhile is no error.
            if let Err(e) = self.pactl(&["move-sink-input", id, target]) {
                tracing::debug!(error = %e, "a stream was not moved");
            }
        }
        Ok(())
    }
}

/// The names in `pactl list short sinks` (index, name, driver, …).
fn sink_names(listing: &str) -> impl Iterator<Item = &str> {
    listing.lines().filter_map(|l| l.split('\t').nth(1))
}

/// Whether the handset is there, from now on: the first answer, then each
/// change (looked at every [`LOOK_EVERY`]).
pub fn watch(router: Arc<SoundRouter>) -> mpsc::UnboundedReceiver<bool> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut last = None;
        let mut every = tokio::time::interval(LOOK_EVERY);
        loop {
            every.tick().await;
            let router = router.clone();
            let Ok(present) = tokio::task::spawn_blocking(move || router.handset_present()).await else { return };
            if let Some(present) = present.filter(|p| last != Some(*p)) {
                last = Some(present);
                if tx.send(present).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// Routes in the background (a few `pactl` calls), logging a failure: a
/// kiosk whose sound server refuses keeps running.
pub fn route_in_background(router: &Arc<SoundRouter>, output: SoundOutput) {
    let router = router.clone();
    tokio::task::spawn_blocking(move || match router.route(output) {
        Ok(()) => tracing::info!(?output, "sound routed"),
        Err(e) => tracing::warn!(error = %e, ?output, "the sound could not be routed"),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sink_names_are_the_second_column() {
        let listing = "0\tspeaker\tmodule-null-sink.c\ts16le 2ch 44100Hz\tIDLE\n1\thandset\tmodule-null-sink.c\ts16le 2ch 44100Hz\tRUNNING\n";
        assert_eq!(sink_names(listing).collect::<Vec<_>>(), ["speaker", "handset"]);
        assert_eq!(sink_names("").count(), 0);
    }
}
