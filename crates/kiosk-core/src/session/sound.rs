//! Handset privacy: while the handset or headset the kiosk's configuration
//! names is plugged in, the call's sound and the kiosk's speech go there
//! and the loudspeaker is cut (EN 301 549 §5.1.3.2, §5.1.3.9); put down or
//! unplugged, the loudspeaker again. The session decides and says so in
//! its heartbeats (the agent sees which is in use); the shell routes.

use std::time::Instant;

use visio_protocol::SoundOutput;

use super::*;

impl Session {
    pub(super) fn handset(&mut self, now: Instant, present: bool) {
        let output = if present { SoundOutput::Handset } else { SoundOutput::Loudspeaker };
        if self.sound_output == Some(output) {
            return;
        }
        self.sound_output = Some(output);
        self.outputs.push_back(Output::RouteSound(output));
        if let Some(devices) = &mut self.fleet.devices {
            devices.sound_output = Some(output);
            self.early_heartbeat(now);
        }
    }

    /// Where the sound goes now; `None` on a kiosk without a handset.
    pub fn sound_output(&self) -> Option<SoundOutput> {
        self.sound_output
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use visio_protocol::{DeviceHealth, DeviceState, DeviceStatus, KioskToHub, SoundOutput};

    use super::super::harness::Kiosk;
    use super::*;

    fn healthy() -> DeviceHealth {
        let ok = DeviceStatus::new(DeviceState::Ok, None);
        DeviceHealth { camera: ok.clone(), microphone: ok.clone(), scanner: ok.clone(), printer: ok, speaker: None, sound_output: None }
    }

    fn routes(k: &Kiosk) -> Vec<SoundOutput> {
        k.out.iter().filter_map(|o| if let Output::RouteSound(to) = o { Some(*to) } else { None }).collect()
    }

    fn heartbeats(k: &Kiosk) -> Vec<Option<SoundOutput>> {
        k.out
            .iter()
            .filter_map(|o| match o {
                Output::ToHub(KioskToHub::Heartbeat { devices, .. }) => Some(devices.as_ref().and_then(|d| d.sound_output)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_handset_takes_the_sound_once_and_the_loudspeaker_gets_it_back() {
        let mut k = Kiosk::at_home();
        assert_eq!(k.session.sound_output(), None, "no handset configured, nothing routed");
        k.input(Input::Devices(healthy()));
        k.advance(Duration::from_secs(6));
        k.out.clear();
        k.input(Input::Handset { present: true });
        assert_eq!(routes(&k), [SoundOutput::Handset]);
        assert_eq!(k.session.sound_output(), Some(SoundOutput::Handset));
        // Told at once, so the agent sees it.
        assert_eq!(heartbeats(&k).last(), Some(&Some(SoundOutput::Handset)));
        // The sound server says the same again: nothing to do.
        k.input(Input::Handset { present: true });
        assert_eq!(routes(&k), [SoundOutput::Handset]);
        // Each probe's report keeps where the sound goes.
        k.input(Input::Devices(healthy()));
        k.advance(Duration::from_secs(6));
        k.input(Input::Handset { present: false });
        assert_eq!(routes(&k), [SoundOutput::Handset, SoundOutput::Loudspeaker]);
        assert_eq!(heartbeats(&k).last(), Some(&Some(SoundOutput::Loudspeaker)));
    }

    #[test]
    fn the_first_report_routes_even_to_the_loudspeaker() {
        // A handset left muted by a kiosk that crashed must not keep the
        // loudspeaker cut: the first word from the sound server routes.
        let mut k = Kiosk::at_home();
        k.input(Input::Handset { present: false });
        assert_eq!(routes(&k), [SoundOutput::Loudspeaker]);
        // Before any device report the heartbeat has no devices to carry it;
        // the first report does.
        k.input(Input::Devices(healthy()));
        k.advance(Duration::from_secs(60));
        assert!(heartbeats(&k).contains(&Some(SoundOutput::Loudspeaker)), "{:?}", heartbeats(&k));
    }
}
