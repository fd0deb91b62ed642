//! Device health measured rather than guessed, at start-up and between
//! visits: the printer's queue is asked for its state over IPP, the
//! scanner is opened through SANE, the camera must give a picture that is
//! not black and the microphone a signal, so a printer out of paper, an
//! unplugged scanner, a covered lens or a muted microphone shows in the
//! fleet view before a resident meets it. Nothing is printed or scanned,
//! nothing recorded.

use std::time::Duration;

use visio_transfer::printer::{PrintError, QueueState};
use visio_transfer::scanner::SaneScanner;

use visio_media::config::AudioSink;

use super::{Device, Fault, Runner, VisitEvent, devices};

/// Longest a camera or microphone probe takes.
const MEDIA_PROBE_WITHIN: Duration = Duration::from_secs(5);

impl Runner {
    /// Reads each device's state in the background and reports it as that
    /// device's fault (or its absence), like a print or scan job's outcome.
    pub(super) fn probe_devices(&mut self) {
        if let devices::KioskPrinter::Cups(printer) = &self.devices.services.printer {
            let (printer, events) = (printer.clone(), self.events.clone());
            tokio::task::spawn_blocking(move || {
                let fault = printer_fault(printer.queue_state_blocking()).map(Fault::from);
                let _ = events.send(VisitEvent::DeviceFault { device: Device::Printer, fault });
            });
        }
        if let devices::KioskScanner::Sane(scanner) = &self.devices.services.scanner {
            let (scanner, events) = (scanner.clone(), self.events.clone());
            tokio::spawn(async move {
                let fault = scanner_fault(&scanner).await.map(Fault::from);
                let _ = events.send(VisitEvent::DeviceFault { device: Device::Scanner, fault });
            });
        }
        if self.call.is_none() && self.media_probe.as_ref().is_none_or(|p| p.is_finished()) {
            let (video, audio, events) = (self.devices.call.video.source.clone(), self.devices.call.audio.source.clone(), self.events.clone());
            // Sound sent nowhere on purpose (tests, `VISIO_AUDIO_SINK=fakesink`) is not probed.
            let speaker = self.devices.call.audio.sink == AudioSink::Auto;
            self.media_probe = Some(tokio::task::spawn_blocking(move || {
                let fault = visio_media::probe::camera_fault(&video, MEDIA_PROBE_WITHIN).map(Fault::from);
                let _ = events.send(VisitEvent::DeviceFault { device: Device::Camera, fault });
                let fault = visio_media::probe::microphone_fault(&audio, MEDIA_PROBE_WITHIN).map(Fault::from);
                let _ = events.send(VisitEvent::DeviceFault { device: Device::Microphone, fault });
                if speaker {
                    let fault = visio_media::probe::speaker_fault(MEDIA_PROBE_WITHIN).map(Fault::from);
                    let _ = events.send(VisitEvent::DeviceFault { device: Device::Speaker, fault });
                }
            }));
        }
    }

    /// Waits for a camera and microphone probe to let the devices go (a
    /// call opens them next).
    pub(super) async fn media_probe_done(&mut self) {
        if let Some(probe) = self.media_probe.take() {
            let _ = tokio::time::timeout(2 * MEDIA_PROBE_WITHIN, probe).await;
        }
    }
}

/// The printer's fault from its queue's state, `None` when it can print.
pub fn printer_fault(state: Result<QueueState, PrintError>) -> Option<String> {
    let state = match state {
        Ok(state) => state,
        Err(e) => return Some(e.to_string()),
    };
    (state.stopped || state.blocked()).then(|| format!("printer {}: {}", if state.stopped { "stopped" } else { "not ready" }, state.reasons))
}

/// The scanner's fault, `None` when SANE opens it: `scanimage -A` opens the
/// device, reads its options (an eSCL scanner its capabilities) and closes
/// it, without scanning. The options also tell whether it has a document
/// feeder, which the next visits' scan interviews then offer.
pub async fn scanner_fault(scanner: &SaneScanner) -> Option<String> {
    scanner.list_options().await.err()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(stopped: bool, reasons: &str) -> Result<QueueState, PrintError> {
        Ok(QueueState { stopped, reasons: reasons.into() })
    }

    #[test]
    fn a_stopped_queue_or_a_blocking_reason_is_a_fault_and_a_warning_is_not() {
        assert_eq!(printer_fault(state(false, "none")), None);
        assert_eq!(printer_fault(state(false, "toner-low-report, media-low-warning")), None);
        assert_eq!(printer_fault(state(true, "paused")).as_deref(), Some("printer stopped: paused"));
        assert_eq!(printer_fault(state(false, "media-empty-error; Out of paper")).as_deref(), Some("printer not ready: media-empty-error; Out of paper"));
        // An idle driverless printer's empty tray (ippeveprinter's wording).
        assert_eq!(printer_fault(state(false, "media-empty-report")).as_deref(), Some("printer not ready: media-empty-report"));
        assert_eq!(printer_fault(state(false, "offline-report")).as_deref(), Some("printer not ready: offline-report"));
        let unreachable = Err(PrintError::Ipp { uri: "ipp://localhost/printers/p".into(), detail: "connection refused".into() });
        assert!(printer_fault(unreachable).is_some_and(|f| f.contains("connection refused")));
    }
}
