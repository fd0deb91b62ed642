//! The call for the host, driven by inputs and simulated time.

use std::time::Duration;

use visio_protocol::*;

use super::super::harness::{Kiosk, welcome};
use super::super::*;

fn help(screen: &str) -> KioskToHub {
    KioskToHub::HelpRequest { screen: screen.into() }
}

#[test]
fn someone_is_coming_only_once_a_host_acknowledged() {
    let mut k = Kiosk::at_home();
    k.input(Input::Assist(Assist::CallHost));
    assert_eq!(k.session.host_call(), HostCall::Asked);
    assert_eq!(k.sent(), [help("home")]);
    assert_eq!(k.prompts(), [Prompt::HostAsked]);
    // Pressing again does not ask twice.
    k.input(Input::Assist(Assist::CallHost));
    assert_eq!(k.sent(), []);

    // The screen changes while the request waits: the hosts are told.
    k.input(Input::ChooseService("caf".into()));
    assert_eq!(k.sent(), [KioskToHub::RequestCall { service: "caf".into() }, help("requesting")]);

    k.input(Input::Hub(HubToKiosk::HostComing));
    assert_eq!(k.session.host_call(), HostCall::Coming);
    assert_eq!(k.prompts(), [Prompt::Requesting { service: "caf".into() }, Prompt::HostComing]);
    // A second acknowledgement is not said again.
    k.input(Input::Hub(HubToKiosk::HostComing));
    assert_eq!(k.prompts(), []);
}

#[test]
fn the_request_is_cancelled_by_the_resident_or_ends_when_they_leave() {
    let mut k = Kiosk::at_home();
    k.input(Input::Assist(Assist::CallHost));
    k.input(Input::Assist(Assist::CancelHost));
    assert_eq!(k.session.host_call(), HostCall::None);
    assert_eq!(k.sent(), [help("home"), KioskToHub::HelpCancel]);
    // A late acknowledgement of the cancelled request says nothing.
    k.prompts();
    k.input(Input::Hub(HubToKiosk::HostComing));
    assert_eq!((k.session.host_call(), k.prompts()), (HostCall::None, vec![]));

    // Asked, then nobody touches the kiosk: it goes home by itself and the
    // request ends with the visit.
    k.input(Input::SetLanguage(Language::En));
    k.input(Input::Assist(Assist::CallHost));
    k.sent();
    k.advance(Duration::from_secs(600));
    assert_eq!(k.session.host_call(), HostCall::None);
    assert_eq!(k.sent(), [KioskToHub::HelpCancel]);
}

#[test]
fn a_request_made_without_the_hub_is_sent_when_it_is_back() {
    let mut k = Kiosk::at_home();
    k.input(Input::HubLost);
    k.input(Input::Assist(Assist::CallHost));
    assert_eq!(k.sent(), []);
    // Not "sent": it is not, yet.
    assert_eq!((k.session.host_call(), k.prompts().last()), (HostCall::Pending, Some(&Prompt::HostPending)));
    k.input(Input::HubConnected);
    k.input(Input::Hub(welcome()));
    assert_eq!(k.sent(), [help("home")]);
    assert_eq!(k.session.host_call(), HostCall::Asked);
    assert!(k.prompts().contains(&Prompt::HostAsked), "said once it is sent");
    // Lost again before anyone answered: pending again, and asked again.
    k.input(Input::HubLost);
    assert_eq!(k.session.host_call(), HostCall::Pending);
    k.input(Input::HubConnected);
    k.input(Input::Hub(welcome()));
    assert_eq!((k.session.host_call(), k.sent()), (HostCall::Asked, vec![help("home")]));
    // Once acknowledged, a new connection does not ask again.
    k.input(Input::Hub(HubToKiosk::HostComing));
    k.input(Input::HubLost);
    k.input(Input::HubConnected);
    k.input(Input::Hub(welcome()));
    assert_eq!(k.sent(), []);
}
