//! The hub's side of the session: its connection, its messages, and the
//! service state they decide.

use std::time::{Duration, Instant};

use visio_protocol::{HubToKiosk, KioskToHub, RefusalReason, Signal};

use super::*;
use super::event::{KioskEvent, VisitEnd};
use crate::timer::Timer;

impl Session {
    pub(super) fn hub_lost(&mut self, now: Instant) {
        self.hub_up = false;
        self.callback_hub_lost();
        self.host_hub_lost();
        self.timers.stop(Timer::Heartbeat);
        self.fleet.in_flight = None;
        // A new connection may take another path: measure again.
        self.fleet.rtt = None;
        self.timers.set(Timer::HubRetry, now + self.retry_delay);
        self.retry_delay = (self.retry_delay * 2).min(self.config.hub_retry_max);
        match &mut self.screen {
            // The call's media is peer to peer: it goes on without the hub.
            Screen::InCall(call) => call.hub_lost = true,
            Screen::Waiting(w) => {
                // The hub keeps the place of a resident whose kiosk comes
                // back soon (on whichever hub process): ask for it then.
                if !w.hub_lost {
                    w.hub_lost = true;
                    let session = w.session.to_string();
                    self.timers.set(Timer::WaitResume, now + self.config.wait_resume);
                    self.event(KioskEvent::Reconnecting { session });
                }
            }
            Screen::Ended(_) => {}
            _ => self.out_of_service(OutOfService::HubUnreachable),
        }
    }

    pub(super) fn hub_message(&mut self, now: Instant, msg: HubToKiosk) {
        self.callback_sees(&msg);
        match msg {
            HubToKiosk::Welcome { kiosk_id, site, heartbeat_seconds, callbacks, .. } => {
                self.hub_up = true;
                self.callbacks = callbacks;
                self.retry_delay = self.config.hub_retry_min;
                self.timers.stop(Timer::HubRetry);
                self.site = site.clone();
                self.event(KioskEvent::Ready { kiosk_id: kiosk_id.to_string(), site });
                // In a call, `call_resumed` (or `call_ended`) follows: the
                // hello carried the call's token.
                self.settle_service_state();
                if let Screen::Waiting(w) = &self.screen
                    && w.hub_lost
                {
                    // Same service: the hub gives the same place back when it
                    // still has it.
                    self.outputs.push_back(Output::ToHub(KioskToHub::RequestCall { service: w.service.clone() }));
                }
                if let Some(seconds) = heartbeat_seconds.filter(|s| *s > 0) {
                    self.fleet.heartbeat_every = Duration::from_secs(seconds.into());
                }
                for report in std::mem::take(&mut self.fleet.unsent) {
                    self.outputs.push_back(Output::ToHub(report));
                }
                self.host_welcome();
                self.heartbeat(now);
            }
            HubToKiosk::HeartbeatAck { seq } => {
                if let Some((sent, at)) = self.fleet.in_flight
                    && sent == seq
                {
                    self.fleet.rtt = Some(now.saturating_duration_since(at));
                    self.fleet.in_flight = None;
                }
            }
            HubToKiosk::ConfigAvailable { version, path, .. } => self.config_available(version, path),
            HubToKiosk::Queued { session, service, position, estimated_wait } => match &mut self.screen {
                Screen::Waiting(w) if w.hub_lost && w.service == service => {
                    self.timers.stop(Timer::WaitResume);
                    let (old, resumed) = (w.session.to_string(), w.session == session);
                    w.hub_lost = false;
                    w.session = session.clone();
                    w.position = position;
                    w.estimated_wait = estimated_wait.map(|e| Duration::from_secs(e.seconds.into()));
                    if resumed {
                        self.event(KioskEvent::Resumed { session: old });
                    } else {
                        // Another place, at the back: the old one was gone.
                        self.event(KioskEvent::Ended { session: old, reason: VisitEnd::HubLost });
                    }
                    self.event(KioskEvent::Queued {
                        service: service.to_string(),
                        session: session.to_string(),
                        position,
                        estimated_wait_seconds: estimated_wait.map(|w| w.seconds),
                    });
                }
                Screen::Requesting { service: asked } if *asked == service => {
                    let wait = estimated_wait.map(|w| Duration::from_secs(w.seconds.into()));
                    self.event(KioskEvent::Queued {
                        service: service.to_string(),
                        session: session.to_string(),
                        position,
                        estimated_wait_seconds: estimated_wait.map(|w| w.seconds),
                    });
                    self.screen = Screen::Waiting(Waiting {
                        service,
                        session,
                        position,
                        estimated_wait: wait,
                        presence_check: false,
                        hub_lost: false,
                        transferred_from: None,
                    });
                    self.touch(now);
                }
                // The resident cancelled before the hub answered.
                _ => self.outputs.push_back(Output::ToHub(KioskToHub::CancelCall)),
            },
            HubToKiosk::QueueUpdate { session, position, estimated_wait } => {
                if let Screen::Waiting(w) = &mut self.screen
                    && w.session == session
                {
                    w.position = position;
                    w.estimated_wait = estimated_wait.map(|e| Duration::from_secs(e.seconds.into()));
                    let event = KioskEvent::Queued {
                        service: w.service.to_string(),
                        session: session.to_string(),
                        position,
                        estimated_wait_seconds: estimated_wait.map(|e| e.seconds),
                    };
                    self.event(event);
                }
            }
            HubToKiosk::CallRefused { service, reason, message } => {
                if matches!(&self.screen, Screen::Requesting { service: asked } if *asked == service) {
                    self.event(KioskEvent::Refused {
                        service: service.to_string(),
                        reason: refusal_kind(&reason).into(),
                        message,
                    });
                    if let RefusalReason::Closed { next_opening } = reason
                        && self.offer_callback(now, &service, next_opening)
                    {
                        return;
                    }
                    self.screen = Screen::Home { notice: Some(Notice { service, reason }) };
                    self.touch(now);
                }
            }
            HubToKiosk::CallAnswered { session, agent_name, ice_servers, resume_token } => {
                let Screen::Waiting(w) = &self.screen else { return };
                if w.session != session {
                    return;
                }
                let service = w.service.clone();
                self.timers.stop(Timer::PresenceCheck);
                self.timers.stop(Timer::PresenceGrace);
                self.timers.stop(Timer::Idle);
                self.event(KioskEvent::Answered { session: session.to_string(), agent_name: agent_name.clone() });
                self.outputs.push_back(Output::Chime);
                self.outputs.push_back(Output::Call(CallCommand::Start { session: session.clone(), ice_servers }));
                let consent = self.config.scan_consent_services.contains(&service);
                self.outputs.push_back(Output::Documents(DocumentCommand::RequireScanConsent(consent)));
                self.receipt_leg(now, service.clone(), &agent_name);
                self.screen = Screen::InCall(InCall {
                    service,
                    session,
                    agent_name,
                    answered_at: now,
                    media: MediaState::Connecting,
                    confirm_hang_up: false,
                    document: DocumentView::None,
                    hub_lost: false,
                    agent_away: false,
                    resume_token,
                });
            }
            HubToKiosk::Signal { session, signal } => {
                let Screen::InCall(call) = &mut self.screen else { return };
                if call.session != session {
                    return;
                }
                if signal == Signal::Restart {
                    // The agent's page starts over: so does our connection,
                    // with its own offer (no ICE restart of the old one).
                    self.ice.hold();
                    self.media(now, MediaEvent::Reconnecting);
                    self.outputs.push_back(Output::Call(CallCommand::Reconnect));
                } else {
                    self.outputs.push_back(Output::Call(CallCommand::RemoteSignal(signal)));
                }
            }
            HubToKiosk::CallResumed { session, .. } => {
                let Screen::InCall(call) = &mut self.screen else { return };
                if call.session != session {
                    return;
                }
                call.hub_lost = false;
                self.event(KioskEvent::Resumed { session: session.to_string() });
                // Offers made while the hub was away never reached the agent.
                self.restart_ice(now);
            }
            HubToKiosk::PeerAway { session } => {
                let Screen::InCall(call) = &mut self.screen else { return };
                if call.session == session && !call.agent_away {
                    call.agent_away = true;
                    self.event(KioskEvent::AgentAway { session: session.to_string() });
                }
            }
            HubToKiosk::PeerBack { session } => {
                let Screen::InCall(call) = &mut self.screen else { return };
                if call.session == session && call.agent_away {
                    call.agent_away = false;
                    self.event(KioskEvent::AgentBack { session: session.to_string() });
                    self.restart_ice(now);
                }
            }
            HubToKiosk::CallTransferred { session, to_session, service, position, estimated_wait } => {
                let Screen::InCall(call) = &self.screen else { return };
                if call.session != session {
                    return;
                }
                let from = call.service.clone();
                self.leave_call(now);
                self.event(KioskEvent::Transferred {
                    session: session.to_string(),
                    to_session: to_session.to_string(),
                    service: service.to_string(),
                    position,
                });
                self.screen = Screen::Waiting(Waiting {
                    service,
                    session: to_session,
                    position,
                    estimated_wait: estimated_wait.map(|e| Duration::from_secs(e.seconds.into())),
                    presence_check: false,
                    hub_lost: false,
                    transferred_from: Some(from),
                });
                self.touch(now);
            }
            HubToKiosk::CallEnded { session, reason } => match &self.screen {
                Screen::InCall(c) if c.session == session => self.end_call(now, session, EndedReason::Hub(reason)),
                Screen::Waiting(w) if w.session == session => {
                    self.event(KioskEvent::Ended { session: session.to_string(), reason: VisitEnd::Hub(reason) });
                    self.go_home();
                }
                _ => {}
            },
            HubToKiosk::HostComing => self.host_coming(),
            msg @ (HubToKiosk::CallbackSlots { .. } | HubToKiosk::CallbackBooked { .. } | HubToKiosk::CallbackRefused { .. }) => {
                self.callback_message(now, msg)
            }
            HubToKiosk::Error(e) => {
                // Our own messages are well-formed; an error here is a hub
                // disagreement worth a log line, not a screen change.
                self.event(KioskEvent::HubError { message: e.message });
            }
        }
    }

    /// After the hub, camera or sound state changed: out of service, or back.
    pub(super) fn settle_service_state(&mut self) {
        let blocked = if !self.hub_up {
            Some(OutOfService::HubUnreachable)
        } else if !self.camera_ok {
            Some(OutOfService::CameraMissing)
        } else if !self.sound_ok {
            Some(OutOfService::SoundMissing)
        } else {
            None
        };
        match (&self.screen, blocked) {
            // A call or a goodbye is never interrupted by the fleet's state.
            (Screen::InCall(_) | Screen::Ended(_), _) => {}
            // Booking a callback needs the hub, not the camera or sound.
            (Screen::Callback(_), Some(OutOfService::CameraMissing | OutOfService::SoundMissing) | None) => {}
            (Screen::OutOfService { reason }, Some(b)) if *reason == b => {}
            (Screen::Home { .. } | Screen::Requesting { .. } | Screen::Waiting(_), None) => {}
            // A waiting resident keeps the screen while the kiosk reconnects.
            (Screen::Waiting(w), Some(OutOfService::HubUnreachable)) if w.hub_lost => {}
            // No agent may take a call this kiosk cannot hold: the place
            // is given up (a request still on its way is cancelled when
            // its `queued` arrives).
            (Screen::Waiting(w), Some(b)) if b != OutOfService::HubUnreachable => {
                let session = w.session.to_string();
                self.outputs.push_back(Output::ToHub(KioskToHub::CancelCall));
                self.event(KioskEvent::Ended { session, reason: VisitEnd::DeviceFault });
                self.out_of_service(b);
            }
            (_, Some(b)) => self.out_of_service(b),
            // A fresh home, French: whoever chose English has gone.
            (Screen::Connecting | Screen::OutOfService { .. }, None) => self.go_home(),
        }
    }

    pub(super) fn out_of_service(&mut self, reason: OutOfService) {
        if self.screen != (Screen::OutOfService { reason }) {
            self.event(KioskEvent::OutOfService { reason });
        }
        self.screen = Screen::OutOfService { reason };
    }
}

fn refusal_kind(reason: &RefusalReason) -> &'static str {
    match reason {
        RefusalReason::Closed { .. } => "closed",
        RefusalReason::UnknownService => "unknown_service",
        RefusalReason::Busy => "busy",
    }
}
