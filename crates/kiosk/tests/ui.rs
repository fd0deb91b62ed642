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
    k.input(Input::Document(visio_kiosk_core::DocumentEvent::Showing { name: "form.pdf".into(), pages: 2 }));
    assert!(shows(&k, "Page 1 sur 2"));
    assert!(shows(&k, "Votre conseiller vous montre un document. Vous n'avez rien à toucher."));
    // The resident touches nothing: the agent turns the page.
    assert!(!shows(&k, "Page suivante"), "no page button for the resident");
    k.input(Input::Document(visio_kiosk_core::DocumentEvent::View(visio_kiosk_core::PageView::top_of(2))));
    assert!(shows(&k, "Page 2 sur 2"));
    // One page: no page count at all.
    k.input(Input::Document(visio_kiosk_core::DocumentEvent::Showing { name: "photo.jpg".into(), pages: 1 }));
    assert!(!shows(&k, "Page 1 sur 1"));
}
