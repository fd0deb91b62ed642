//! Device health measured rather than guessed: the printer's queue is asked
//! for its state over IPP at start-up and between visits, so a printer out
//! of paper shows in the fleet view before a resident's print fails. Only
//! the queue's state is read: nothing is printed, nothing recorded.

use visio_transfer::printer::{PrintError, QueueState};

/// State reasons that stop a print (RFC 8011 and PWG 5100.9 keywords; a
/// `-report` or `-warning` suffix is only advice, `-error` or none is not).
const STOPPING: [&str; 10] = [
    "media-empty",
    "media-jam",
    "media-needed",
    "toner-empty",
    "marker-supply-empty",
    "door-open",
    "cover-open",
    "input-tray-missing",
    "offline",
    "paused",
];

/// The printer's fault from its queue's state, `None` when it can print.
pub fn printer_fault(state: Result<QueueState, PrintError>) -> Option<String> {
    let state = match state {
        Ok(state) => state,
        Err(e) => return Some(e.to_string()),
    };
    let blocking = state.reasons.split([',', ';']).map(str::trim).any(|reason| {
        let keyword = reason.strip_suffix("-error").unwrap_or(reason);
        STOPPING.contains(&keyword)
    });
    (state.stopped || blocking).then(|| format!("printer {}: {}", if state.stopped { "stopped" } else { "not ready" }, state.reasons))
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
        let unreachable = Err(PrintError::Ipp { uri: "ipp://localhost/printers/p".into(), detail: "connection refused".into() });
        assert!(printer_fault(unreachable).is_some_and(|f| f.contains("connection refused")));
    }
}
