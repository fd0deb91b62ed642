//! Heartbeats and signed configurations: the kiosk as one of a fleet.

use std::time::{Duration, Instant};

use visio_protocol::{ConfigRefusal, ConfigRefusalCode, DeviceHealth, KioskToHub};

use super::*;
use super::event::KioskEvent;
use crate::timer::Timer;

impl Session {

    /// Sends a heartbeat now and schedules the next one.
    pub(super) fn heartbeat(&mut self, now: Instant) {
        if !self.hub_up {
            return;
        }
        self.fleet.seq += 1;
        let seq = self.fleet.seq;
        self.fleet.in_flight = Some((seq, now));
        self.fleet.last_sent = Some(now);
        let rtt_ms = self.fleet.rtt.map(|d| u32::try_from(d.as_millis()).unwrap_or(u32::MAX));
        self.outputs.push_back(Output::ToHub(KioskToHub::Heartbeat {
            seq,
            app_version: self.config.app_version.clone(),
            config_version: self.fleet.config,
            devices: self.fleet.devices.clone(),
            rtt_ms,
            last_call: self.fleet.last_call,
        }));
        self.timers.set(Timer::Heartbeat, now + self.fleet.heartbeat_every);
    }

    pub(super) fn devices(&mut self, now: Instant, mut health: DeviceHealth) {
        // The shell probes the devices; where the sound goes is ours.
        health.sound_output = self.sound_output;
        // No call can work that nobody hears: out of service until a probe
        // finds a loudspeaker or handset again.
        let sound_ok = !health.speaker.as_ref().is_some_and(|s| s.state.is_unhealthy());
        if sound_ok != self.sound_ok {
            self.sound_ok = sound_ok;
            self.settle_service_state();
        }
        let states = |h: &DeviceHealth| (h.by_name().into_iter().map(|(name, s)| (name, s.state)).collect::<Vec<_>>(), h.sound_output);
        let changed = self.fleet.devices.as_ref().map(states) != Some(states(&health));
        let first = self.fleet.devices.is_none();
        self.fleet.devices = Some(health);
        if changed && !first {
            self.early_heartbeat(now);
        }
    }

    /// A device that fails (or a handset picked up) is worth telling at
    /// once, but a flapping one must not turn heartbeats into a stream: at
    /// most one early beat per 5 s.
    pub(super) fn early_heartbeat(&mut self, now: Instant) {
        let recent = self.fleet.last_sent.is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(5));
        if !recent {
            self.heartbeat(now);
        }
    }

    pub(super) fn config_available(&mut self, version: u64, path: String) {
        match self.fleet.config {
            Some(running) if running == version => {}
            Some(running) if running > version => {
                // The hub serves an older configuration than this kiosk
                // runs (restored from a backup?): say so, keep ours.
                let message = format!("this kiosk runs version {running}, newer than the announced {version}; it keeps {running}");
                self.config_refused(version, ConfigRefusal::new(ConfigRefusalCode::Rollback, message));
            }
            _ => {
                if self.fleet.announced.as_ref().is_none_or(|(v, _)| *v <= version) {
                    self.fleet.announced = Some((version, path));
                }
                if self.fleet.fetching != Some(version) {
                    self.fleet.retry_delay = self.config.config_retry_min;
                    self.timers.stop(Timer::ConfigRetry);
                    self.fetch_announced();
                }
            }
        }
    }

    /// Asks the shell for the newest announced version, if it is newer
    /// than the running one and not already on its way.
    pub(super) fn fetch_announced(&mut self) {
        let Some((version, path)) = self.fleet.announced.clone() else { return };
        if self.fleet.config.is_some_and(|c| c >= version)
            || self.fleet.fetching == Some(version)
            || self.fleet.refused == Some(version)
        {
            return;
        }
        self.fleet.fetching = Some(version);
        self.fleet.requests.push_back(ConfigFetchRequest { version, path });
    }

    pub(super) fn config_fetched(&mut self, now: Instant, fetch: ConfigFetch) {
        match fetch {
            ConfigFetch::Applied { version } => {
                self.fleet.fetching = self.fleet.fetching.filter(|v| *v != version);
                self.fleet.config = Some(self.fleet.config.map_or(version, |c| c.max(version)));
                self.fleet.retry_delay = self.config.config_retry_min;
                self.timers.stop(Timer::ConfigRetry);
                self.report(KioskToHub::ConfigApplied { version });
                self.event(KioskEvent::ConfigApplied { version });
                // A newer version may have been announced meanwhile.
                self.fetch_announced();
            }
            ConfigFetch::Refused { version, reason } => {
                self.fleet.fetching = self.fleet.fetching.filter(|v| *v != version);
                let transient = reason.code == ConfigRefusalCode::Storage;
                self.config_refused(version, reason);
                if transient {
                    self.retry_later(now);
                } else {
                    self.fleet.refused = Some(version);
                }
            }
            ConfigFetch::Failed { version, reason } => {
                self.fleet.fetching = self.fleet.fetching.filter(|v| *v != version);
                self.config_refused(version, ConfigRefusal::new(ConfigRefusalCode::FetchFailed, reason));
                self.retry_later(now);
            }
        }
    }

    pub(super) fn retry_later(&mut self, now: Instant) {
        self.timers.set(Timer::ConfigRetry, now + self.fleet.retry_delay);
        self.fleet.retry_delay = (self.fleet.retry_delay * 2).min(self.config.config_retry_max);
    }

    pub(super) fn config_refused(&mut self, version: u64, reason: ConfigRefusal) {
        self.event(KioskEvent::ConfigRefused {
            version,
            code: reason.code.as_str().to_owned(),
            message: reason.message.clone(),
        });
        self.report(KioskToHub::ConfigRefused { version, reason });
    }

    /// Sends a report to the hub now, or after the next welcome.
    pub(super) fn report(&mut self, msg: KioskToHub) {
        if self.hub_up {
            self.outputs.push_back(Output::ToHub(msg));
        } else {
            // Only the latest few matter; a kiosk offline for days must
            // not pile them up.
            if self.fleet.unsent.len() >= 8 {
                self.fleet.unsent.remove(0);
            }
            self.fleet.unsent.push(msg);
        }
    }
}
