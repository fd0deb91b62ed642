//! Help for residents who cannot read, hear badly or need more time: what
//! the kiosk says and when, the speech volume, easy-read and large text, and
//! the warning before every automatic return to the home screen.
//!
//! The core decides *what* to say (a [`Prompt`], the words come from the
//! shell's catalogue) and *when* (on every change of what the resident
//! sees, never while the agent speaks); the shell only synthesises.

use std::time::{Duration, Instant};

use visio_protocol::ServiceId;

use super::*;
use crate::timer::Timer;

/// Speech volume steps: 0 is silent, [`VOLUME_MAX`] the loudest.
pub const VOLUME_MAX: u8 = 5;
/// Loud enough for a town-hall room, not a shout: every visit starts here.
pub const VOLUME_DEFAULT: u8 = 3;

/// What the resident asks of the help controls, or what the shell observes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assist {
    /// "Écouter": say the current screen again (and unmute).
    Listen,
    /// "Stop": silence the current prompt.
    StopSpeech,
    VolumeUp,
    VolumeDown,
    /// "Je suis encore là": put the automatic return off.
    StillHere,
    /// Easy-read (FALC) wording on or off.
    EasyRead,
    /// Large text on or off.
    LargeText,
    /// The agent's voice is heard (or fell silent): prompts wait for it.
    AgentTalking(bool),
    /// "Appeler l'accueil": ask for the town hall's host.
    CallHost,
    /// Cancel the call for the host.
    CancelHost,
}

/// The resident's choices for this visit; the next resident gets the
/// defaults back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssistPrefs {
    pub volume: u8,
    pub easy_read: bool,
    pub large_text: bool,
}

impl Default for AssistPrefs {
    fn default() -> Self {
        AssistPrefs { volume: VOLUME_DEFAULT, easy_read: false, large_text: false }
    }
}

/// What to say: one prompt per screen or change the resident should hear
/// about. The shell turns it into words with its catalogue (and the
/// screen's details, such as the services' opening hours).
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    Starting,
    OutOfService(OutOfService),
    Home { notice: Option<Notice> },
    Requesting { service: ServiceId },
    Waiting {
        service: ServiceId,
        position: u32,
        estimate: Option<Duration>,
        hub_lost: bool,
        presence_check: bool,
        /// Handed over by an agent: "transmise au service …".
        transferred: bool,
        /// "Être rappelé plutôt" is offered (a long wait).
        callback: bool,
    },
    /// The agent answered: their name.
    Answered { agent_name: String },
    CallReconnecting,
    ConfirmHangUp,
    Document(DocumentView),
    Ended { reason: EndedReason, rated: bool },
    /// The kiosk goes back to the home screen in `seconds` unless the
    /// resident says they are still there.
    ReturnWarning { seconds: u32 },
    /// The new speech volume, said at that volume.
    Volume { level: u8 },
    /// "Demande envoyée…": the host was asked for.
    HostAsked,
    /// Asked while the kiosk has no hub: sent when it is back.
    HostPending,
    /// A host acknowledged: "Quelqu'un de l'accueil arrive".
    HostComing,
    /// The callback screen: its offer, its slots, its booking.
    Callback { service: ServiceId, why: CallbackWhy, stage: CallbackStage },
}

/// One thing for the shell's speaker to do.
#[derive(Debug, Clone, PartialEq)]
pub enum SpeechCommand {
    Say { prompt: Prompt, language: Language, easy_read: bool, volume: u8 },
    Stop,
}

/// When the kiosk will go home by itself, and whether the resident is
/// being warned (the "Je suis encore là" button shows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoReturn {
    pub at: Instant,
    pub warning: bool,
}

#[derive(Debug, Default)]
pub(super) struct AssistState {
    pub prefs: AssistPrefs,
    /// The last prompt said (warnings without their seconds), and in which
    /// language: the same screen is not said twice.
    said: Option<(Prompt, Language)>,
    agent_talking: bool,
    /// The prompt waiting for the agent to fall silent.
    held: Option<SpeechCommand>,
    speech: VecDeque<SpeechCommand>,
    /// The return being warned about.
    warned_for: Option<Instant>,
    /// The return whose warning is scheduled: its warning starts on time
    /// even when the shell's clock fires a little late.
    scheduled_for: Option<Instant>,
    /// When the resident started waiting (the waiting screen shows it).
    waiting_since: Option<Instant>,
}

impl Session {
    /// The resident's help choices for this visit.
    pub fn assist_prefs(&self) -> AssistPrefs {
        self.assist.prefs
    }

    /// The automatic return to the home screen ahead, if any.
    pub fn auto_return(&self) -> Option<AutoReturn> {
        let at = self.return_deadline()?;
        Some(AutoReturn { at, warning: self.assist.warned_for == Some(at) })
    }

    /// Since when the resident has been waiting for an agent.
    pub fn waiting_since(&self) -> Option<Instant> {
        self.assist.waiting_since
    }

    /// Something for the speaker, after draining [`Session::poll_output`].
    /// Apart from `Output` so that a shell without a speaker still builds.
    pub fn poll_speech(&mut self) -> Option<SpeechCommand> {
        self.assist.speech.pop_front()
    }

    pub(super) fn assist_input(&mut self, now: Instant, input: Assist) {
        let prefs = &mut self.assist.prefs;
        match input {
            Assist::Listen => {
                self.touch(now);
                if self.assist.prefs.volume == 0 {
                    self.assist.prefs.volume = VOLUME_DEFAULT;
                }
                self.assist.said = None;
            }
            Assist::StopSpeech => {
                self.assist.held = None;
                self.assist.speech.push_back(SpeechCommand::Stop);
            }
            Assist::VolumeUp | Assist::VolumeDown => {
                prefs.volume = match input {
                    Assist::VolumeUp => (prefs.volume + 1).min(VOLUME_MAX),
                    _ => prefs.volume.saturating_sub(1),
                };
                let level = prefs.volume;
                self.touch(now);
                self.assist.speech.push_back(SpeechCommand::Stop);
                self.say(Prompt::Volume { level });
            }
            Assist::StillHere => {
                self.touch(now);
                if matches!(self.screen, Screen::Ended(_)) {
                    self.timers.set(Timer::EndedReturn, now + self.config.ended_screen);
                }
            }
            Assist::EasyRead => {
                prefs.easy_read = !prefs.easy_read;
                self.touch(now);
                self.assist.said = None;
            }
            Assist::LargeText => {
                prefs.large_text = !prefs.large_text;
                self.touch(now);
            }
            Assist::CallHost => self.call_host(now),
            Assist::CancelHost => self.cancel_host(now),
            Assist::AgentTalking(talking) => {
                self.assist.agent_talking = talking;
                if !talking && let Some(held) = self.assist.held.take() {
                    self.assist.speech.push_back(held);
                }
            }
        }
    }

    /// After every input and timer: warn before an automatic return, and
    /// say what changed.
    pub(super) fn after_change(&mut self, now: Instant) {
        match (&self.screen, self.assist.waiting_since) {
            (Screen::Waiting(_), None) => self.assist.waiting_since = Some(now),
            (Screen::Waiting(_), Some(_)) => {}
            _ => self.assist.waiting_since = None,
        }
        self.settle_auto_return(now);
        self.host_screen_changed();
        let prompt = match self.auto_return() {
            Some(AutoReturn { at, warning: true }) => {
                Prompt::ReturnWarning { seconds: at.saturating_duration_since(now).as_secs_f32().round() as u32 }
            }
            _ => prompt_of(&self.screen, self.callback_offered()),
        };
        let key = match &prompt {
            Prompt::ReturnWarning { .. } => Prompt::ReturnWarning { seconds: 0 },
            other => other.clone(),
        };
        if self.assist.said.as_ref() != Some(&(key.clone(), self.language)) {
            self.assist.said = Some((key, self.language));
            self.say(prompt);
        }
    }

    /// The next resident starts with the defaults.
    pub(super) fn reset_assist(&mut self) {
        self.assist.prefs = AssistPrefs::default();
    }

    pub(super) fn say(&mut self, prompt: Prompt) {
        let prefs = self.assist.prefs;
        if prefs.volume == 0 {
            return;
        }
        let say = SpeechCommand::Say { prompt, language: self.language, easy_read: prefs.easy_read, volume: prefs.volume };
        // Never over the agent's voice: the newest prompt waits for a pause.
        if self.assist.agent_talking && matches!(self.screen, Screen::InCall(_)) {
            self.assist.held = Some(say);
        } else {
            self.assist.held = None;
            self.assist.speech.push_back(say);
        }
    }

    /// The timers that would take this screen home by themselves.
    fn return_timers(&self) -> &'static [Timer] {
        match &self.screen {
            // A fresh home has nothing to lose: its idle return is silent.
            Screen::Home { notice } if notice.is_some() || self.language != Language::Fr || self.assist.prefs != AssistPrefs::default() => {
                &[Timer::Idle]
            }
            Screen::Ended(_) => &[Timer::EndedReturn, Timer::Idle],
            Screen::Waiting(w) if w.presence_check => &[Timer::PresenceGrace],
            Screen::Callback(_) => &[Timer::Idle],
            _ => &[],
        }
    }

    fn return_deadline(&self) -> Option<Instant> {
        self.return_timers().iter().filter_map(|t| self.timers.get(*t)).min()
    }

    /// Schedules the warning `return_warning` ahead of the return; a return
    /// closer than that is put off so the warning always gets its time.
    fn settle_auto_return(&mut self, now: Instant) {
        let warn = self.config.return_warning;
        let Some(at) = self.return_deadline() else {
            self.assist.warned_for = None;
            self.timers.stop(Timer::ReturnWarning);
            return;
        };
        if self.assist.warned_for == Some(at) {
            return;
        }
        if at > now + warn {
            self.assist.warned_for = None;
            self.assist.scheduled_for = Some(at);
            self.timers.set(Timer::ReturnWarning, at - warn);
            return;
        }
        if at < now + warn && self.assist.scheduled_for != Some(at) {
            for timer in self.return_timers() {
                if self.timers.get(*timer).is_some_and(|d| d < now + warn) {
                    self.timers.set(*timer, now + warn);
                }
            }
        }
        self.timers.stop(Timer::ReturnWarning);
        self.assist.warned_for = self.return_deadline();
    }
}

/// What the resident should hear about the screen they see.
fn prompt_of(screen: &Screen, callback_offered: bool) -> Prompt {
    match screen {
        Screen::Connecting => Prompt::Starting,
        Screen::OutOfService { reason } => Prompt::OutOfService(*reason),
        Screen::Home { notice } => Prompt::Home { notice: notice.clone() },
        Screen::Requesting { service } => Prompt::Requesting { service: service.clone() },
        Screen::Waiting(w) => Prompt::Waiting {
            service: w.service.clone(),
            position: w.position,
            estimate: w.estimated_wait,
            hub_lost: w.hub_lost,
            presence_check: w.presence_check,
            transferred: w.transferred_from.is_some(),
            callback: callback_offered,
        },
        Screen::InCall(call) if call.confirm_hang_up => Prompt::ConfirmHangUp,
        // Progress is shown, not said: once per scan.
        Screen::InCall(call) if matches!(call.document, DocumentView::Scanning { .. }) => {
            Prompt::Document(DocumentView::Scanning { percent: None })
        }
        // Zoom, pan and the agent's pointer are shown, not said: once per page.
        Screen::InCall(InCall { document: DocumentView::Showing { name, pages, page, .. }, .. }) => {
            Prompt::Document(DocumentView::Showing { name: name.clone(), pages: *pages, page: *page, view: PageView::top_of(*page) })
        }
        Screen::InCall(call) if call.document != DocumentView::None => Prompt::Document(call.document.clone()),
        Screen::InCall(call) if call.media == MediaState::Reconnecting => Prompt::CallReconnecting,
        Screen::InCall(call) => Prompt::Answered { agent_name: call.agent_name.clone() },
        Screen::Ended(e) => Prompt::Ended { reason: e.reason, rated: e.rated.is_some() },
        Screen::Callback(c) => Prompt::Callback { service: c.service.clone(), why: c.why, stage: c.stage.clone() },
    }
}

#[cfg(test)]
#[path = "assist_tests.rs"]
mod tests;
