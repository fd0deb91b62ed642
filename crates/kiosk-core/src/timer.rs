//! Every timer of a session: one variant each, one deadline each.

use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// No touch for a while on a screen where the resident should act.
    Idle,
    /// Waiting a long time without a touch: ask "are you still there?".
    PresenceCheck,
    /// No answer to "are you still there?": give the place up.
    PresenceGrace,
    /// The "end the call?" question closes by itself.
    HangUpConfirm,
    /// The end-of-call screen returns home by itself.
    EndedReturn,
    /// A document notice ("Sent", "Take your document") fades.
    DocumentNotice,
    /// Try the hub again, with backoff.
    HubRetry,
    /// Time to tell the hub how the kiosk is.
    Heartbeat,
    /// Try fetching the announced configuration again, with backoff.
    ConfigRetry,
    /// The media path is still down: restart ICE (again).
    IceRestart,
    /// The media path has been down too long: the call is lost.
    MediaGiveUp,
    /// A waiting kiosk could not get back to the hub in time: the place
    /// is lost.
    WaitResume,
    /// An automatic return to the home screen is near: warn the resident.
    ReturnWarning,
    /// The ended call's receipt stops waiting for its documents' last
    /// outcomes (the shell did not say they were all told).
    ReceiptDue,
}

const ALL: [Timer; 14] = [
    Timer::Idle,
    Timer::PresenceCheck,
    Timer::PresenceGrace,
    Timer::HangUpConfirm,
    Timer::EndedReturn,
    Timer::DocumentNotice,
    Timer::HubRetry,
    Timer::Heartbeat,
    Timer::ConfigRetry,
    Timer::IceRestart,
    Timer::MediaGiveUp,
    Timer::WaitResume,
    Timer::ReturnWarning,
    Timer::ReceiptDue,
];

#[derive(Debug, Default)]
pub(crate) struct TimerTable {
    deadlines: [Option<Instant>; ALL.len()],
}

impl TimerTable {
    pub fn set(&mut self, timer: Timer, at: Instant) {
        self.deadlines[timer as usize] = Some(at);
    }

    pub fn stop(&mut self, timer: Timer) {
        self.deadlines[timer as usize] = None;
    }

    pub fn get(&self, timer: Timer) -> Option<Instant> {
        self.deadlines[timer as usize]
    }

    pub fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Removes and returns the timers due at `now`, earliest first.
    pub fn expired(&mut self, now: Instant) -> Vec<Timer> {
        let mut due: Vec<(Instant, Timer)> = ALL
            .iter()
            .filter_map(|t| self.deadlines[*t as usize].filter(|d| *d <= now).map(|d| (d, *t)))
            .collect();
        due.sort_by_key(|(d, _)| *d);
        for (_, t) in &due {
            self.stop(*t);
        }
        due.into_iter().map(|(_, t)| t).collect()
    }
}
