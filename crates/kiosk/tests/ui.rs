//! The kiosk's screens driven headlessly with iced's own test tooling: real
//! widgets, real layout, taps as a finger makes them, then the app's update.

mod touch;

use touch::{kiosk, shows, tap};
use visio_kiosk_core::{Input, Screen};
use visio_protocol::*;




#[test]
fn tapping_a_service_tile_goes_to_the_waiting_screen() {
    let mut k = kiosk();
    assert!(shows(&k, "Bonjour !"));
    tap(&mut k, "Démo");
    assert_eq!(*k.screen(), Screen::Requesting { service: "demo".into() });
    k.input(Input::Hub(HubToKiosk::Queued {
        session: "s-1".into(),
        service: "demo".into(),
        position: 1,
        estimated_wait: Some(WaitEstimate { seconds: 300 }),
    }));
    assert!(matches!(k.screen(), Screen::Waiting(_)));
    assert!(shows(&k, "Vous êtes le prochain."));
    assert!(shows(&k, "Attente estimée : environ 5 minutes."));
    tap(&mut k, "Annuler");
    assert_eq!(*k.screen(), Screen::Home { notice: None });
}

#[test]
fn end_call_asks_for_confirmation_and_ends_on_yes() {
    let mut k = kiosk();
    tap(&mut k, "Démo");
    k.input(Input::Hub(HubToKiosk::Queued { session: "s-1".into(), service: "demo".into(), position: 1, estimated_wait: None }));
    k.input(Input::Hub(HubToKiosk::CallAnswered { session: "s-1".into(), agent_name: "Claire".into(), ice_servers: vec![], resume_token: None }));
    assert!(shows(&k, "Vous parlez avec Claire"));

    tap(&mut k, "Terminer l'appel");
    assert!(shows(&k, "Voulez-vous vraiment terminer l'appel ?"));
    tap(&mut k, "Non, continuer");
    assert!(matches!(k.screen(), Screen::InCall(c) if !c.confirm_hang_up));

    tap(&mut k, "Terminer l'appel");
    tap(&mut k, "Oui, terminer");
    assert!(matches!(k.screen(), Screen::Ended(_)));
    assert!(shows(&k, "Merci de votre visite !"));
    tap(&mut k, "Bien");
    assert!(shows(&k, "Merci pour votre avis."));
}

#[test]
fn the_language_switch_shows_english_and_back() {
    let mut k = kiosk();
    tap(&mut k, "English");
    assert!(shows(&k, "Hello!"));
    assert!(shows(&k, "Demonstration (always open)"));
    tap(&mut k, "Français");
    assert!(shows(&k, "Bonjour !"));
}

#[test]
fn scanning_and_a_shown_document_are_explained_to_the_resident() {
    let mut k = kiosk();
    tap(&mut k, "Démo");
    k.input(Input::Hub(HubToKiosk::Queued { session: "s-1".into(), service: "demo".into(), position: 1, estimated_wait: None }));
    k.input(Input::Hub(HubToKiosk::CallAnswered { session: "s-1".into(), agent_name: "Claire".into(), ice_servers: vec![], resume_token: None }));
    k.input(Input::Document(visio_kiosk_core::DocumentEvent::ScanProgress { percent: 40 }));
    assert!(shows(&k, "Posez votre document face vers le bas sur le scanner.\nNumérisation en cours… 40 %"));
    // A scanner with a feeder: the resident may put every page there.
    k.input(Input::Document(visio_kiosk_core::DocumentEvent::ScanPlace { pages: 0, feeder: true }));
    assert!(shows(
        &k,
        "Posez votre document face vers le bas sur la vitre du scanner, ou toutes vos pages dans son chargeur.\n\
         Le conseiller lancera la numérisation quand le document sera en place."
    ));
    k.input(Input::Document(visio_kiosk_core::DocumentEvent::Showing { name: "form.pdf".into(), pages: 2 }));
    assert!(shows(&k, "Page 1 sur 2"));
    assert!(shows(&k, "Votre conseiller vous montre un document. Vous n'avez rien à toucher."));
    // The resident touches nothing: the agent turns the page.
    assert!(!shows(&k, "Page suivante"), "no page button for the resident");
    k.input(Input::Document(visio_kiosk_core::DocumentEvent::View(visio_kiosk_core::PageView::top_of(2))));
    assert!(shows(&k, "Page 2 sur 2"));
    // One page: no page count at all.
    k.input(Input::Document(visio_kiosk_core::DocumentEvent::Showing { name: "photo.jpg".into(), pages: 1 }));
    assert!(shows(&k, "Votre conseiller vous montre un document. Vous n'avez rien à toucher."));
    assert!(!shows(&k, "Page 1 sur 1"));
}

/// The window at 1280×800 as a picture (RGBA at twice the size, as iced's
/// simulator draws it), read back from the PNG it writes.
fn screenshot(k: &visio_kiosk::app::Kiosk) -> visio_transfer::display::PageImage {
    let mut ui = iced_test::Simulator::with_size(iced::Settings::default(), (1280.0, 800.0), k.view());
    let snapshot = ui.snapshot(&iced::Theme::Light).expect("a snapshot");
    let dir = tempfile::tempdir().unwrap();
    assert!(snapshot.matches_image(dir.path().join("screen.png")).unwrap(), "a new file is written");
    // Named after the renderer: screen-<renderer>.png.
    let path = std::fs::read_dir(dir.path()).unwrap().next().expect("the snapshot's file").unwrap().path();
    visio_transfer::display::load_page(&path, 4000).expect("the snapshot reads back")
}

#[test]
fn a_zoomed_page_stays_within_its_area_and_leaves_the_call_controls_visible() {
    let mut k = kiosk();
    tap(&mut k, "Démo");
    k.input(Input::Hub(HubToKiosk::Queued { session: "s-1".into(), service: "demo".into(), position: 1, estimated_wait: None }));
    k.input(Input::Hub(HubToKiosk::CallAnswered { session: "s-1".into(), agent_name: "Claire".into(), ice_servers: vec![], resume_token: None }));
    // A page of pure blue, as the display driver hands it to the window.
    let (width, height) = (600, 850);
    let rgba = [0u8, 0, 255, 255].repeat((width * height) as usize);
    k.pictures.page = Some(visio_kiosk::screen::document::ShownPage {
        number: 1,
        handle: iced::widget::image::Handle::from_rgba(width, height, rgba),
        width,
        height,
    });
    k.input(Input::Document(visio_kiosk_core::DocumentEvent::Showing { name: "form.pdf".into(), pages: 2 }));
    let view = visio_kiosk_core::PageView { page: 1, zoom: 300, center: (500, 500), pointer: Some((500, 500)) };
    k.input(Input::Document(visio_kiosk_core::DocumentEvent::View(view)));

    let screen = screenshot(&k);
    let (w, h) = (screen.width as usize, screen.height as usize);
    let blue_in = |rows: std::ops::Range<usize>| {
        rows.flat_map(|y| (0..w).map(move |x| (y * w + x) * 4))
            .filter(|&i| screen.rgba[i] < 40 && screen.rgba[i + 1] < 40 && screen.rgba[i + 2] > 200)
            .count()
    };
    assert!(blue_in(h * 3 / 8..h * 5 / 8) > w * h / 8, "the page fills the middle of the screen");
    // The top bar (agent, time) and the bottom (end call, help bar) stay
    // clear: 60 and 120 window pixels.
    assert_eq!(blue_in(0..120), 0, "nothing of the page over the top bar");
    assert_eq!(blue_in(h - 240..h), 0, "nothing of the page over the end call button");
    assert!(shows(&k, "Terminer l'appel"));
}

#[test]
fn a_transfer_is_shown_and_said_and_the_new_agent_answers_with_nothing_to_touch() {
    let mut k = kiosk();
    tap(&mut k, "Démo");
    k.input(Input::Hub(HubToKiosk::Queued { session: "s-1".into(), service: "demo".into(), position: 1, estimated_wait: None }));
    k.input(Input::Hub(HubToKiosk::CallAnswered { session: "s-1".into(), agent_name: "Claire".into(), ice_servers: vec![], resume_token: None }));
    k.speaker().take_said();
    k.input(Input::Hub(HubToKiosk::CallTransferred {
        session: "s-1".into(),
        to_session: "s-2".into(),
        service: "msa".into(),
        position: 1,
        estimated_wait: None,
    }));
    let text = "Votre demande est transmise au service MSA, vous êtes le prochain.";
    assert!(shows(&k, text), "the waiting screen says where to and that they come first");
    assert!(!shows(&k, "Merci de votre visite !"), "no end of visit");
    let said = k.speaker().take_said();
    assert!(said.last().is_some_and(|s| s.contains(text)), "{said:?}");

    k.input(Input::Hub(HubToKiosk::CallAnswered { session: "s-2".into(), agent_name: "Bruno".into(), ice_servers: vec![], resume_token: None }));
    assert!(shows(&k, "Vous parlez avec Bruno"));
}

#[test]
fn a_transfer_behind_another_is_told_in_english_too() {
    let mut k = kiosk();
    tap(&mut k, "English");
    tap(&mut k, "Demonstration (always open)");
    k.input(Input::Hub(HubToKiosk::Queued { session: "s-1".into(), service: "demo".into(), position: 1, estimated_wait: None }));
    k.input(Input::Hub(HubToKiosk::CallAnswered { session: "s-1".into(), agent_name: "Claire".into(), ice_servers: vec![], resume_token: None }));
    k.input(Input::Hub(HubToKiosk::CallTransferred {
        session: "s-1".into(),
        to_session: "s-2".into(),
        service: "msa".into(),
        position: 2,
        estimated_wait: Some(WaitEstimate { seconds: 300 }),
    }));
    assert!(shows(&k, "Your request has been passed on to MSA: you will be seen first."));
    let said = k.speaker().take_said();
    assert!(said.last().is_some_and(|s| s.contains("you will be seen first") && s.contains("5 minutes")), "{said:?}");
}

/// Draws a zigzag with a finger around the middle of the widget showing
/// `label` (the signature box's hint), as the iced runtime would feed it.
fn sign_with_a_finger(kiosk: &mut visio_kiosk::app::Kiosk, label: &str) {
    use iced::{Point, touch};
    let messages: Vec<visio_kiosk::app::Message> = {
        let mut ui = crate::touch::window(kiosk.view());
        let c = ui.find(label).unwrap_or_else(|e| panic!("no {label:?} on screen: {e}")).bounds().center();
        let finger = touch::Finger(1);
        let path = [(-60.0, 10.0), (-30.0, -20.0), (0.0, 15.0), (30.0, -20.0), (60.0, 10.0)].map(|(dx, dy)| Point::new(c.x + dx, c.y + dy));
        ui.point_at(path[0]);
        ui.simulate([iced::Event::Touch(touch::Event::FingerPressed { id: finger, position: path[0] })]);
        for p in &path[1..] {
            ui.point_at(*p);
            ui.simulate([iced::Event::Touch(touch::Event::FingerMoved { id: finger, position: *p })]);
        }
        ui.simulate([iced::Event::Touch(touch::Event::FingerLifted { id: finger, position: path[4] })]);
        ui.into_messages().collect()
    };
    for message in messages {
        let _ = kiosk.update(message);
    }
}

#[test]
fn the_resident_signs_with_a_finger_clears_signs_again_or_refuses() {
    use visio_kiosk_core::{DocumentEvent, DocumentView, SignArea};
    let mut k = kiosk();
    tap(&mut k, "Démo");
    k.input(Input::Hub(HubToKiosk::Queued { session: "s-1".into(), service: "demo".into(), position: 1, estimated_wait: None }));
    k.input(Input::Hub(HubToKiosk::CallAnswered { session: "s-1".into(), agent_name: "Claire".into(), ice_servers: vec![], resume_token: None }));
    let (width, height) = (600, 850);
    k.pictures.page = Some(visio_kiosk::screen::document::ShownPage {
        number: 1,
        handle: iced::widget::image::Handle::from_rgba(width, height, [255u8; 4].repeat((width * height) as usize)),
        width,
        height,
    });
    k.speaker().take_said();
    let area = SignArea { page: 1, x: 520, y: 780, width: 400, height: 130 };
    k.input(Input::Document(DocumentEvent::SignAsked { name: "mandat.pdf".into(), pages: 1, area }));
    assert!(shows(&k, "Signez avec votre doigt dans le cadre bleu."));
    let said = k.speaker().take_said().join(" ");
    assert!(said.contains("Signez avec votre doigt") && said.contains("Je ne signe pas"), "said: {said}");

    // Nothing to confirm before something is drawn.
    tap_does_nothing(&mut k, "Valider ma signature");
    sign_with_a_finger(&mut k, "Signez ici");
    assert!(!shows(&k, "Signez ici"), "the ink replaces the hint");
    tap(&mut k, "Effacer");
    assert!(shows(&k, "Signez ici"), "cleared");
    sign_with_a_finger(&mut k, "Signez ici");
    tap(&mut k, "Valider ma signature");
    assert!(matches!(k.screen(), Screen::InCall(c) if c.document == DocumentView::SignSending { name: "mandat.pdf".into() }));
    assert!(shows(&k, "Votre signature est ajoutée au document et envoyée au conseiller…"));

    // The next document: "Je ne signe pas".
    k.input(Input::Document(DocumentEvent::SignAsked { name: "autre.pdf".into(), pages: 1, area }));
    tap(&mut k, "Je ne signe pas");
    assert!(matches!(k.screen(), Screen::InCall(c) if c.document == DocumentView::SignRefused { name: "autre.pdf".into() }));
    assert!(shows(&k, "Vous n'avez pas signé. Le conseiller est prévenu."));
}

/// Tapping `label` changes nothing on screen (a disabled button).
fn tap_does_nothing(kiosk: &mut visio_kiosk::app::Kiosk, label: &str) {
    let before = kiosk.screen().clone();
    let mut ui = crate::touch::window(kiosk.view());
    let at = ui.find(label).unwrap_or_else(|e| panic!("no {label:?} on screen: {e}")).bounds().center();
    ui.point_at(at);
    let finger = iced::touch::Finger(1);
    ui.simulate([
        iced::Event::Touch(iced::touch::Event::FingerPressed { id: finger, position: at }),
        iced::Event::Touch(iced::touch::Event::FingerLifted { id: finger, position: at }),
    ]);
    let messages: Vec<_> = ui.into_messages().collect();
    for m in messages {
        let _ = kiosk.update(m);
    }
    assert_eq!(*kiosk.screen(), before, "{label:?} did something");
}

/// A kiosk on `panel` in the canned state `scene` (scene names as
/// `--scene` takes them, `-large` and `-easy` included).
fn kiosk_in(scene: &str, panel: visio_config::panel::Panel) -> visio_kiosk::app::Kiosk {
    let mut k = visio_kiosk::app::Kiosk::new(visio_kiosk::app::Settings {
        session: visio_kiosk_core::Config::default(),
        catalogue: std::sync::Arc::new(visio_config::Catalogue::demo()),
        offered: ["demo", "caf", "msa", "france-travail"].map(ServiceId::from).to_vec(),
        hub: None,
        visit: None,
        auto_call: None,
        setup: None,
        panel,
    });
    visio_kiosk::scene::enter(&mut k, scene).unwrap_or_else(|e| panic!("{scene}: {e}"));
    k
}

/// Every touch target the window shows at `size`: its bounds and the words
/// in it; and the area the screen has above the help bar.
fn touch_targets(k: &visio_kiosk::app::Kiosk, size: (f32, f32)) -> (Vec<Target>, iced::Rectangle) {
    use iced_test::selector::Candidate;
    use visio_kiosk::screen::{SCREEN_AREA, TOUCH_TARGET};
    let settings = iced::Settings {
        fonts: vec![visio_kiosk::assets::FONT_REGULAR.into(), visio_kiosk::assets::FONT_BOLD.into()],
        default_font: iced::Font::with_name(visio_kiosk::assets::FONT_NAME),
        ..iced::Settings::default()
    };
    let mut ui = iced_test::Simulator::with_size(settings, size, k.view());
    let (mut targets, mut area, mut labelled) = (Vec::<Target>::new(), None, false);
    let target = iced::widget::Id::new(TOUCH_TARGET);
    let screen = iced::widget::Id::new(SCREEN_AREA);
    // A selector that never matches walks the whole tree, depth first: the
    // words over a target, right after it, are its label.
    let _ = ui.find(|c: Candidate<'_>| {
        match c {
            Candidate::Container { id: Some(id), bounds, .. } if *id == target => {
                targets.push(Target { bounds, words: String::new(), fits: true });
                labelled = true;
            }
            Candidate::Container { id: Some(id), bounds, .. } if *id == screen => area = Some(bounds),
            // A container beyond the last target: what follows is not its label.
            Candidate::Container { bounds, .. } if targets.last().is_some_and(|t| !t.bounds.expand(0.5).contains(bounds.position())) => {
                labelled = false;
            }
            Candidate::Text { bounds: b, content, .. } => {
                if let Some(t) = targets.last_mut().filter(|t| labelled && t.bounds.intersects(&b)) {
                    t.words = format!("{} {content}", t.words).trim().to_owned();
                    // A label beyond its target's edges is cut there.
                    let r = t.bounds.expand(0.5);
                    t.fits &= r.contains(b.position()) && b.x + b.width <= r.x + r.width && b.y + b.height <= r.y + r.height;
                }
            }
            _ => {}
        }
        None::<()>
    });
    (targets, area.expect("the screen's area"))
}

/// A touch target as laid out: where, its words, whether they fit in it.
#[derive(Debug)]
struct Target {
    bounds: iced::Rectangle,
    words: String,
    fits: bool,
}

/// EN 301 549 leaves the size to us; our design asks 2 cm for every
/// target, on the panel the kiosk's file names. Every screen, as it is and
/// with large text and easy-read wording, on the default 15.6" panel, a
/// 27" one (both 1920×1080) and a 10.1" 1280×800 one (its compact layout,
/// #353): every target is 2 cm wide and high at least, inside the window,
/// its label within it, wholly on the screen's area or wholly on the help
/// bar (nothing cut by the bar), and the help bar on one line.
#[test]
fn every_touch_target_is_at_least_two_centimetres_on_the_panel() {
    use visio_config::panel::Panel;
    const SMALL: Panel = Panel { diagonal_inches: 10.1, width_px: 1280, height_px: 800 };
    let panels = [
        Panel::default(),
        Panel { diagonal_inches: 27.0, width_px: 1920, height_px: 1080 },
        SMALL,
    ];
    let mut problems = Vec::new();
    for panel in panels {
        let min = panel.min_target_px();
        let window = iced::Rectangle::new(iced::Point::ORIGIN, iced::Size::new(panel.width_px as f32, panel.height_px as f32));
        for base in visio_kiosk::scene::SCENES {
            for mode in visio_kiosk::scene::MODES {
                let scene = format!("{base}{mode}");
                let k = kiosk_in(&scene, panel);
                let (targets, area) = touch_targets(&k, (window.width, window.height));
                assert!(targets.len() >= 6, "{scene}: the help bar's targets at least: {targets:?}");
                let at = format!("{}\" {}x{}, {scene}", panel.diagonal_inches, panel.width_px, panel.height_px);
                // The help bar on one line: its targets, under the screen's
                // area, all at one height.
                let bar: Vec<f32> = targets.iter().filter(|t| t.bounds.y >= area.y + area.height - 0.5).map(|t| t.bounds.y).collect();
                if bar.iter().any(|y| (y - bar.first().unwrap_or(y)).abs() > 0.5) {
                    problems.push(format!("{at}: the help bar is on more than one line: {bar:?}"));
                }
                for Target { bounds: b, words, fits } in targets {
                    if !fits {
                        problems.push(format!("{at}: {words:?} overflows its target {b:?}"));
                    }
                    // Layout gives whole pixels give or take rounding.
                    if b.width + 0.5 < min || b.height + 0.5 < min {
                        problems.push(format!("{at}: {words:?} is {:.0}x{:.0}, under {min} px", b.width, b.height));
                    }
                    if !(window.contains(b.position()) && b.x + b.width <= window.width + 0.5 && b.y + b.height <= window.height + 0.5) {
                        problems.push(format!("{at}: {words:?} at {b:?} is out of the window"));
                    }
                    let inside = area.contains(b.position()) && b.y + b.height <= area.y + area.height + 0.5;
                    if !inside && area.intersects(&b) && b.y < area.y + area.height - 0.5 {
                        problems.push(format!("{at}: {words:?} at {b:?} is cut by the screen's edge {area:?}"));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn large_text_enlarges_the_words_of_every_screen_and_of_the_help_bar() {
    // Words of each screen, their area as drawn (wrapped or not).
    let bounds = |scene: &str, words: &str| {
        let k = kiosk_in(scene, visio_config::panel::Panel::default());
        let mut ui = iced_test::Simulator::with_size(iced::Settings::default(), (1920.0, 1080.0), k.view());
        ui.find(words).unwrap_or_else(|e| panic!("{scene}: no {words:?}: {e}")).bounds()
    };
    for (scene, words) in [
        ("home", "Bonjour !"),
        ("home", "CAF"),
        ("waiting", "Vous êtes 2e dans la file d'attente."),
        ("waiting", "Annuler"),
        ("call", "Vous"),
        ("call", "Terminer l'appel"),
        ("ended", "Merci de votre visite !"),
        ("out-of-service", "Borne momentanément indisponible"),
        ("home", "Grand texte"),
    ] {
        // 1.35 times as wide, or wrapped: 1.8 times the area (a button's
        // label is as high as the button).
        let (normal, large) = (bounds(scene, words), bounds(&format!("{scene}-large"), words));
        let wider = large.width >= normal.width * 1.3;
        let more = large.width * large.height >= normal.width * normal.height * 1.7;
        assert!(wider || more, "{scene}: {words:?} is {normal:?}, {large:?} with large text");
    }
}


/// Tomorrow's first four quarter hours from 09:00 in the region's time.
fn tomorrow_from_nine() -> Vec<jiff::Timestamp> {
    let tz = visio_config::Catalogue::demo().timezone().clone();
    let tomorrow = jiff::Timestamp::now().to_zoned(tz.clone()).date().tomorrow().unwrap();
    let nine = tomorrow.at(9, 0, 0, 0).to_zoned(tz).unwrap().timestamp();
    (0..4).map(|i| nine + jiff::SignedDuration::from_mins(15 * i)).collect()
}

/// Issue 24, item 7: a closed service offers a callback; the resident
/// touches "Être rappelé", then a time, and the booking is shown and said
/// with its reference; "Terminé" goes home. In English too.
#[test]
fn a_closed_service_offers_a_callback_booked_with_two_touches_and_confirmed_in_words_and_speech() {
    for (language, ask, slot, reference, spoken, done) in [
        (None, "Être rappelé", "Demain à 09:15", "Votre référence : RDV-000042", "R D V, 0 0 0 0 4 2", "Terminé"),
        (Some("English"), "Be called back", "Tomorrow at 09:15", "Your reference: RDV-000042", "Your reference: R D V, 0 0 0 0 4 2", "Done"),
    ] {
        let mut k = kiosk();
        if let Some(language) = language {
            tap(&mut k, language);
        }
        k.input(Input::ChooseService("msa".into()));
        let slots = tomorrow_from_nine();
        k.input(Input::Hub(HubToKiosk::CallRefused {
            service: "msa".into(),
            reason: RefusalReason::Closed { next_opening: Some(slots[0]) },
            message: String::new(),
        }));
        tap(&mut k, ask);
        assert!(matches!(k.screen(), Screen::Callback(c) if c.stage == visio_kiosk_core::CallbackStage::Asking { retaken: false }));
        k.input(Input::Hub(HubToKiosk::CallbackSlots { service: "msa".into(), slots: slots.clone(), minutes: 15 }));
        k.speaker().take_said();
        tap(&mut k, slot);
        assert!(matches!(k.screen(), Screen::Callback(c) if c.stage == visio_kiosk_core::CallbackStage::Booking { start: slots[1] }));
        k.input(Input::Hub(HubToKiosk::CallbackBooked { service: "msa".into(), reference: "RDV-000042".into(), start: slots[1], minutes: 15 }));
        assert!(shows(&k, reference), "{reference}");
        let said = k.speaker().take_said().join(" ");
        assert!(said.contains(spoken) && said.contains("09:15"), "{said}");
        tap(&mut k, done);
        assert_eq!(*k.screen(), Screen::Home { notice: None });
    }
}

/// A long wait offers "Être rappelé plutôt"; "Retour à la file d'attente"
/// goes back to the same place.
#[test]
fn a_long_wait_offers_a_callback_and_back_keeps_the_place() {
    let mut k = kiosk();
    tap(&mut k, "Démo");
    k.input(Input::Hub(HubToKiosk::Queued { session: "s-1".into(), service: "demo".into(), position: 3, estimated_wait: Some(WaitEstimate { seconds: 600 }) }));
    assert!(!shows(&k, "Être rappelé plutôt"), "10 minutes is not long");
    k.speaker().take_said();
    k.input(Input::Hub(HubToKiosk::QueueUpdate { session: "s-1".into(), position: 3, estimated_wait: Some(WaitEstimate { seconds: 1800 }) }));
    // Said too, for a resident who cannot read the button.
    let said = k.speaker().take_said().join(" ");
    assert!(said.contains("touchez « Être rappelé plutôt »"), "{said}");
    tap(&mut k, "Être rappelé plutôt");
    assert!(matches!(k.screen(), Screen::Callback(_)));
    k.input(Input::Hub(HubToKiosk::CallbackSlots { service: "demo".into(), slots: vec![], minutes: 15 }));
    assert!(shows(&k, "Aucun horaire n'est libre cette semaine pour Démo. Revenez pendant les heures d'ouverture."));
    tap(&mut k, "Retour à la file d'attente");
    assert!(matches!(k.screen(), Screen::Waiting(w) if w.position == 3));
}
