//! Bringing the camera back when its pipeline fails mid-call.
//!
//! A GStreamer pipeline that posted an error has stopped streaming for good:
//! without a restart the call goes on with sound and no picture, which the
//! agent can only read as a lost kiosk. So a camera error is reported and the
//! pipeline is restarted (NULL, then PLAYING: every element starts afresh,
//! the encoder with a keyframe), within a budget so that a camera that is
//! really gone does not loop.

use super::{VideoSender, play};
use crate::error::CallError;
use gstreamer as gst;
use gstreamer::prelude::*;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// At most this many restarts within [`RESTART_WINDOW`]; beyond, the error stands.
const MAX_RESTARTS: usize = 3;
const RESTART_WINDOW: Duration = Duration::from_secs(60);

/// Which restarts are still allowed: a pure budget fed with the time.
#[derive(Debug, Default)]
pub(crate) struct RestartBudget {
    recent: Vec<Instant>,
}

impl RestartBudget {
    /// Whether a restart may happen at `now` (and counts it if so).
    pub(crate) fn allow(&mut self, now: Instant) -> bool {
        self.recent.retain(|t| now.duration_since(*t) < RESTART_WINDOW);
        if self.recent.len() >= MAX_RESTARTS {
            return false;
        }
        self.recent.push(now);
        true
    }
}

impl VideoSender {
    /// Restarts a failed camera pipeline with the current target (blocking).
    /// Does nothing once the sender is stopped.
    pub(crate) fn restart(&self) -> Result<(), CallError> {
        let branch = self.branch.lock().unwrap_or_else(|e| e.into_inner());
        if self.stopped.load(Ordering::Relaxed) {
            return Ok(());
        }
        let _ = self.pipeline.set_state(gst::State::Null);
        if let Some(branch) = branch.as_ref() {
            branch.apply(&self.target.lock().unwrap_or_else(|e| e.into_inner()));
        }
        play(&self.pipeline, "camera").map_err(|reason| CallError::Pipeline(format!("camera: restart failed: {reason}")))?;
        // A new encoder starts with a keyframe; this also reaches an x264 in
        // a periodic-intra mode and tells the log the branch is back.
        drop(branch);
        self.force_keyframe();
        Ok(())
    }
}

/// Watches the camera pipeline: each error is reported, then the pipeline is
/// restarted while the [`RestartBudget`] allows. Runs until aborted.
pub(crate) fn watch_camera(video: Arc<VideoSender>, report: impl Fn(CallError) + Send + 'static) -> tokio::task::JoinHandle<()> {
    use futures_util::{FutureExt, StreamExt};
    tokio::spawn(async move {
        let Some(bus) = video.bus() else { return };
        let mut messages = bus.stream_filtered(&[gst::MessageType::Error]);
        let mut budget = RestartBudget::default();
        while let Some(message) = messages.next().await {
            let gst::MessageView::Error(err) = message.view() else { continue };
            tracing::warn!(error = %err.error(), debug = ?err.debug(), "camera pipeline error");
            report(CallError::Pipeline(format!("camera: {}", err.error())));
            // One failure posts several errors (the element that failed, then
            // the source whose push failed): let them arrive, restart once.
            tokio::time::sleep(Duration::from_millis(100)).await;
            while let Some(Some(more)) = messages.next().now_or_never() {
                if let gst::MessageView::Error(e) = more.view() {
                    tracing::debug!(error = %e.error(), debug = ?e.debug(), "same camera failure");
                }
            }
            if !budget.allow(Instant::now()) {
                tracing::warn!("camera failed {MAX_RESTARTS} times within a minute; the call goes on without video");
                continue;
            }
            let restarting = Arc::clone(&video);
            match tokio::task::spawn_blocking(move || restarting.restart()).await {
                Ok(Ok(())) => tracing::info!("camera pipeline restarted"),
                Ok(Err(e)) => report(e),
                Err(e) => report(CallError::Pipeline(format!("camera restart panicked: {e}"))),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{VideoCodec, VideoConfig, VideoSource};
    use tokio::sync::mpsc;

    fn test_camera() -> (VideoSender, mpsc::Receiver<super::super::Encoded>) {
        super::super::init().unwrap();
        let config = VideoConfig { source: VideoSource::Test { pattern: "ball".into(), colour: None }, ..VideoConfig::default() };
        let (tx, rx) = mpsc::channel(64);
        let sender = VideoSender::start(&config, 500_000, tx, Arc::default()).unwrap().unwrap();
        sender.attach_encoder(VideoCodec::Vp8).unwrap();
        (sender, rx)
    }

    #[test]
    fn the_budget_allows_three_restarts_a_minute() {
        let mut budget = RestartBudget::default();
        let t0 = Instant::now();
        assert!(budget.allow(t0));
        assert!(budget.allow(t0 + Duration::from_secs(1)));
        assert!(budget.allow(t0 + Duration::from_secs(2)));
        assert!(!budget.allow(t0 + Duration::from_secs(3)), "a camera failing in a loop is left alone");
        assert!(budget.allow(t0 + Duration::from_secs(61)), "one minute later it may come back");
    }

    /// The call-142 and after-the-freeze symptom: the camera pipeline fails
    /// with not-negotiated, and encoded frames must flow again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_camera_pipeline_failing_mid_call_sends_frames_again() {
        let (sender, mut rx) = test_camera();
        let sender = Arc::new(sender);
        let (errors_tx, mut errors) = mpsc::unbounded_channel();
        let _watch = watch_camera(Arc::clone(&sender), move |e| drop(errors_tx.send(e)));
        if tokio::time::timeout(Duration::from_secs(20), rx.recv()).await.is_err() {
            panic!("no first encoded frame (error: {:?}, state: {:?})", errors.try_recv(), sender.pipeline.state(gst::ClockTime::ZERO));
        }

        // Twice: the bus watch must outlive a restart (the pipeline's bus is
        // flushed on the way through NULL).
        for failure in 1..=2 {
            // The encoder branch refuses one buffer with not-negotiated, as
            // seen after the freeze: the queue and videotestsrc stop streaming.
            let pad = sender.branch.lock().unwrap().as_ref().unwrap().encoder.static_pad("sink").unwrap();
            let once = std::sync::atomic::AtomicBool::new(true);
            pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
                if once.swap(false, Ordering::Relaxed) {
                    info.flow_res = Err(gst::FlowError::NotNegotiated);
                    gst::PadProbeReturn::Handled
                } else {
                    gst::PadProbeReturn::Remove
                }
            });
            let error = tokio::time::timeout(Duration::from_secs(20), errors.recv()).await.expect("the failure reported").unwrap();
            assert!(error.to_string().contains("camera"), "{error}");

            // Frames encoded after the failure.
            while rx.try_recv().is_ok() {}
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut after = 0;
            while after < 10 {
                let left = deadline.saturating_duration_since(Instant::now());
                match tokio::time::timeout(left, rx.recv()).await {
                    Ok(Some(_)) => after += 1,
                    _ => panic!("no video after camera failure {failure} ({after} frames)"),
                }
            }
        }
        sender.stop();
    }

    #[test]
    fn a_stopped_camera_is_not_restarted() {
        let (sender, _rx) = test_camera();
        sender.stop();
        sender.restart().unwrap();
        assert_eq!(sender.pipeline.current_state(), gst::State::Null);
    }

    /// The adaptation changes the ladder while parts of the pipeline are
    /// blocked (as in a frozen kiosk), then they resume: no error.
    #[test]
    fn ladder_changes_during_a_stall_keep_the_camera_running() {
        let (sender, mut rx) = test_camera();
        let bus = sender.bus().unwrap();
        let rungs = [(640, 360, 30), (320, 180, 30), (320, 180, 15), (160, 90, 15)];
        let pads: Vec<gst::Pad> = {
            let b = sender.branch.lock().unwrap();
            let b = b.as_ref().unwrap();
            [&b.caps, &b.encoder, b.sink.upcast_ref(), &sender.tee].iter().map(|e| e.static_pad("sink").unwrap()).collect()
        };
        for (round, pad) in pads.iter().cycle().take(8).enumerate() {
            let probe = pad.add_probe(gst::PadProbeType::BLOCK_DOWNSTREAM, |_, _| gst::PadProbeReturn::Ok).unwrap();
            for k in 0..3 {
                let (w, h, f) = rungs[(round + k) % rungs.len()];
                sender.set_target(300_000, w, h, f);
                std::thread::sleep(Duration::from_millis(100));
            }
            pad.remove_probe(probe);
            let deadline = Instant::now() + Duration::from_secs(10);
            while rx.try_recv().is_err() {
                assert!(Instant::now() < deadline, "no frame after the stall in round {round}");
                if let Some(msg) = bus.timed_pop_filtered(gst::ClockTime::from_mseconds(20), &[gst::MessageType::Error])
                    && let gst::MessageView::Error(err) = msg.view()
                {
                    panic!("round {round}: {} ({:?})", err.error(), err.debug());
                }
            }
        }
    }
}
