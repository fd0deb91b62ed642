//! The window app driven as a finger does, with iced's test simulator:
//! shared by the UI tests (`ui.rs`) and the resident-help tests
//! (`assist.rs`).

use std::sync::Arc;

use iced::{Element, Point, touch};
use iced_test::Simulator;
use visio_config::Catalogue;
use visio_kiosk::app::{Kiosk, Message, Settings};
use visio_kiosk_core::Input;
use visio_protocol::*;

/// The demo kiosk's window, welcomed by a hub, on its home screen.
pub fn kiosk() -> Kiosk {
    let mut k = Kiosk::new(Settings {
        session: visio_kiosk_core::Config::default(),
        catalogue: Arc::new(Catalogue::demo()),
        offered: ["demo", "caf", "msa", "france-travail"].map(ServiceId::from).to_vec(),
        hub: None,
        visit: None,
        auto_call: None,
        setup: None,
        panel: Default::default(),
    });
    k.input(Input::HubConnected);
    k.input(Input::Hub(HubToKiosk::Welcome {
        protocol: PROTOCOL_VERSION,
        kiosk_id: "besse".into(),
        site: "Mairie de Besse".into(),
        services: vec![],
        heartbeat_seconds: None,
        callbacks: true,
    }));
    k
}

/// Taps the widget showing `label` with a finger, then feeds the resulting
/// messages to the app, as the iced runtime would.
pub fn tap(kiosk: &mut Kiosk, label: &str) {
    let messages: Vec<Message> = {
        let mut ui = window(kiosk.view());
        let target = ui.find(label).unwrap_or_else(|e| panic!("no {label:?} on screen: {e}"));
        let at: Point = target.bounds().center();
        ui.point_at(at);
        let finger = touch::Finger(1);
        ui.simulate([
            iced::Event::Touch(touch::Event::FingerPressed { id: finger, position: at }),
            iced::Event::Touch(touch::Event::FingerLifted { id: finger, position: at }),
        ]);
        ui.into_messages().collect()
    };
    assert!(!messages.is_empty(), "tapping {label:?} did nothing");
    for message in messages {
        let _ = kiosk.update(message);
    }
}

/// Whether a widget shows exactly `label`.
pub fn shows(kiosk: &Kiosk, label: &str) -> bool {
    window(kiosk.view()).find(label).is_ok()
}

/// The window as the kiosk's default panel shows it, 1920×1080: the
/// targets are sized for it (2 cm), a smaller window would cut them.
pub fn window<'a>(view: Element<'a, Message>) -> Simulator<'a, Message> {
    Simulator::with_size(iced::Settings::default(), (1920.0, 1080.0), view)
}
