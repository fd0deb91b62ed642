//! Canned states of the kiosk, for screenshots and demonstrations without a
//! hub: the same app and session core, fed the inputs that lead to a screen.

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use iced::widget::image;
use visio_kiosk_core::{DocumentEvent, Input, MediaEvent};
use visio_protocol::{HubToKiosk, PROTOCOL_VERSION, RefusalReason, WaitEstimate};

use crate::app::Kiosk;

pub const SCENES: &[&str] = &[
    "home",
    "home-closed",
    "waiting",
    "call",
    // Issue 23: "Terminer l'appel" asks first.
    "call-confirm",
    "call-scan",
    "scan-place",
    // Issue 20: a scanner with a feeder.
    "scan-feeder",
    "scan-page",
    "scan-next",
    "scan-consent",
    "document",
    // Issue 20: the resident signs a document the agent sent.
    "sign",
    "ended",
    "out-of-service",
    // Issue 23: the warning before an automatic return.
    "ended-warning",
    // Issue 23: the front desk called, and a host acknowledged.
    "waiting-host",
    // Issue 24: a closed service offers a callback; its slots; booked; and
    // "Être rappelé plutôt" on a long wait.
    "callback-offer",
    "callback-slots",
    "callback-booked",
    "waiting-callback",
];

/// The resident's help modes a scene can be shown in, as a suffix of its
/// name: `home-large` (large text), `home-easy` (easy-read wording).
pub const MODES: &[&str] = &["", "-large", "-easy"];

/// Puts `kiosk` in the state of `scene`, a name of [`SCENES`] with, maybe,
/// one of the [`MODES`] after it.
pub fn enter(kiosk: &mut Kiosk, scene: &str) -> Result<(), String> {
    let (base, mode) = MODES
        .iter()
        .filter(|m| !m.is_empty())
        .find_map(|m| scene.strip_suffix(m).filter(|b| SCENES.contains(b)).map(|b| (b, *m)))
        .unwrap_or((scene, ""));
    if !SCENES.contains(&base) {
        return Err(format!("unknown scene {scene:?}; known: {} (each may end in -large or -easy)", SCENES.join(", ")));
    }
    // After the hub's welcome (a fresh home resets the help modes), before
    // the steps that lead to the screen.
    let modes = |kiosk: &mut Kiosk| match mode {
        "-large" => kiosk.input(Input::Assist(visio_kiosk_core::Assist::LargeText)),
        "-easy" => kiosk.input(Input::Assist(visio_kiosk_core::Assist::EasyRead)),
        _ => {}
    };
    let scene = base;
    if scene == "out-of-service" {
        kiosk.input(Input::HubLost);
        modes(kiosk);
        return Ok(());
    }
    kiosk.input(Input::HubConnected);
    kiosk.input(Input::Hub(HubToKiosk::Welcome {
        protocol: PROTOCOL_VERSION,
        kiosk_id: "demo-kiosk".into(),
        site: "Mairie de Besse-et-Saint-Anastaise".into(),
        services: vec![],
        heartbeat_seconds: None,
        // The closed home's notice is what a hub without callbacks leaves.
        callbacks: scene != "home-closed",
    }));
    modes(kiosk);
    if scene == "home" {
        return Ok(());
    }
    if scene.starts_with("callback-") {
        return callback(kiosk, scene);
    }
    if scene == "home-closed" {
        kiosk.input(Input::ChooseService("msa".into()));
        // The opening the tiles show too (the demo region's hours), so the
        // notice and the tile agree; a staged one when MSA is open now.
        let now = jiff::Timestamp::now();
        let catalogue = visio_config::Catalogue::demo();
        let next = match catalogue.get(&"msa".into()).map(|msa| catalogue.state_at(msa, now)) {
            Some(visio_config::ServiceState::Closed { next_opening: Some(next) }) => next,
            _ => now.checked_add(jiff::SignedDuration::from_hours(15)).map_err(|e| e.to_string())?,
        };
        kiosk.input(Input::Hub(HubToKiosk::CallRefused {
            service: "msa".into(),
            reason: RefusalReason::Closed { next_opening: Some(next) },
            message: String::new(),
        }));
        return Ok(());
    }
    kiosk.input(Input::ChooseService("caf".into()));
    kiosk.input(Input::Hub(HubToKiosk::Queued {
        session: "scene".into(),
        service: "caf".into(),
        position: 2,
        estimated_wait: Some(WaitEstimate { seconds: 14 * 60 }),
    }));
    if scene == "waiting" {
        return Ok(());
    }
    if scene == "waiting-callback" {
        // No agent of the service available: the wait is unknown, long.
        kiosk.input(Input::Hub(HubToKiosk::QueueUpdate { session: "scene".into(), position: 4, estimated_wait: None }));
        return Ok(());
    }
    if scene == "waiting-host" {
        kiosk.input(Input::Assist(visio_kiosk_core::Assist::CallHost));
        kiosk.input(Input::Hub(HubToKiosk::HostComing));
        return Ok(());
    }
    kiosk.input(Input::Hub(HubToKiosk::CallAnswered {
        session: "scene".into(),
        agent_name: "Claire (CAF)".into(),
        ice_servers: vec![],
        resume_token: None,
    }));
    kiosk.input(Input::Media(MediaEvent::Connected));
    kiosk.pictures.remote = Some(test_pattern("smpte", 1280, 720)?);
    kiosk.pictures.local = Some(test_pattern("ball", 640, 360)?);
    match scene {
        "call" => {}
        "call-confirm" => kiosk.input(Input::HangUp),
        "call-scan" => kiosk.input(Input::Document(DocumentEvent::ScanProgress { percent: 60 })),
        "scan-place" => kiosk.input(Input::Document(DocumentEvent::ScanPlace { pages: 0, feeder: false })),
        "scan-feeder" => kiosk.input(Input::Document(DocumentEvent::ScanPlace { pages: 0, feeder: true })),
        "scan-page" => kiosk.input(Input::Document(DocumentEvent::ScanPageScanning { page: 2 })),
        "scan-next" => kiosk.input(Input::Document(DocumentEvent::ScanPlace { pages: 2, feeder: false })),
        "scan-consent" => {
            // The sample page stands for the scanned page's preview.
            let page: &'static [u8] = include_bytes!("../../../assets/samples/attestation-page1.png");
            kiosk.pictures.scan_preview = Some(image::Handle::from_bytes(page));
            kiosk.input(Input::Document(DocumentEvent::ScanConsent { req: 1, page: 1 }));
        }
        "document" => {
            // A sample page of our own (assets/samples), as the display
            // driver would render a pushed PDF.
            let page: &'static [u8] = include_bytes!("../../../assets/samples/attestation-page1.png");
            // PNG header: width and height, big-endian, at bytes 16 and 20.
            let side = |at: usize| u32::from_be_bytes([page[at], page[at + 1], page[at + 2], page[at + 3]]);
            kiosk.pictures.page = Some(crate::screen::document::ShownPage {
                number: 1,
                handle: image::Handle::from_bytes(page),
                width: side(16),
                height: side(20),
            });
            kiosk.input(Input::Document(DocumentEvent::Showing { name: "attestation.pdf".into(), pages: 2 }));
            // The agent points at a line.
            let view = visio_kiosk_core::PageView { page: 1, zoom: 100, center: (500, 0), pointer: Some((300, 180)) };
            kiosk.input(Input::Document(DocumentEvent::View(view)));
        }
        "sign" => sign(kiosk),
        "ended" => {
            kiosk.input(Input::Hub(HubToKiosk::CallEnded { session: "scene".into(), reason: visio_protocol::EndReason::AgentHungUp }));
        }
        "ended-warning" => {
            kiosk.input(Input::Hub(HubToKiosk::CallEnded { session: "scene".into(), reason: visio_protocol::EndReason::AgentHungUp }));
            // 12 s on: the warning, 18 s before the return.
            let later = std::time::Instant::now() + std::time::Duration::from_secs(12);
            let _ = kiosk.update(crate::app::Message::Tick(later));
        }
        _ => {}
    }
    Ok(())
}

/// MSA closed: the offer, tomorrow's first four quarter hours from 09:00
/// (Europe/Paris), the second booked.
fn callback(kiosk: &mut Kiosk, scene: &str) -> Result<(), String> {
    let tz = visio_config::Catalogue::demo().timezone().clone();
    let tomorrow = jiff::Timestamp::now().to_zoned(tz.clone()).date().tomorrow().map_err(|e| e.to_string())?;
    let nine = tomorrow.at(9, 0, 0, 0).to_zoned(tz).map_err(|e| e.to_string())?.timestamp();
    let slots: Vec<jiff::Timestamp> = (0..4).map(|i| nine + jiff::SignedDuration::from_mins(15 * i)).collect();
    kiosk.input(Input::ChooseService("msa".into()));
    kiosk.input(Input::Hub(HubToKiosk::CallRefused {
        service: "msa".into(),
        reason: RefusalReason::Closed { next_opening: Some(nine) },
        message: String::new(),
    }));
    if scene == "callback-offer" {
        return Ok(());
    }
    kiosk.input(Input::AskCallback);
    kiosk.input(Input::Hub(HubToKiosk::CallbackSlots { service: "msa".into(), slots: slots.clone(), minutes: 15 }));
    if scene == "callback-booked" {
        kiosk.input(Input::ChooseCallbackSlot(slots[1]));
        kiosk.input(Input::Hub(HubToKiosk::CallbackBooked { service: "msa".into(), reference: "RDV-000042".into(), start: slots[1], minutes: 15 }));
    }
    Ok(())
}

/// The sample page to sign, the box at its foot, a signature half drawn.
fn sign(kiosk: &mut Kiosk) {
    use crate::app::Message;
    use crate::screen::{call, sign};
    let page: &'static [u8] = include_bytes!("../../../assets/samples/attestation-page1.png");
    let side = |at: usize| u32::from_be_bytes([page[at], page[at + 1], page[at + 2], page[at + 3]]);
    kiosk.pictures.page = Some(crate::screen::document::ShownPage { number: 1, handle: image::Handle::from_bytes(page), width: side(16), height: side(20) });
    let area = visio_kiosk_core::SignArea { page: 1, x: 520, y: 780, width: 400, height: 130 };
    kiosk.input(Input::Document(DocumentEvent::SignAsked { name: "attestation.pdf".into(), pages: 1, area }));
    // The box's size on a 1280×800 screen, near enough for the ink.
    let size = (486, 224);
    let mut strokes = vec![sign::Message::Ink { at: (80, 700), size }, sign::Message::PenDown];
    for (x, y) in [(150, 250), (230, 720), (300, 300), (380, 650), (450, 350), (520, 600)] {
        strokes.push(sign::Message::Ink { at: (x, y), size });
    }
    strokes.push(sign::Message::PenUp);
    for m in strokes {
        let _ = kiosk.update(Message::Call(call::Message::Sign(m)));
    }
}

/// One frame of GStreamer's `videotestsrc`, as the camera would give it.
pub fn test_pattern(pattern: &str, width: u32, height: u32) -> Result<image::Handle, String> {
    gst::init().map_err(|e| e.to_string())?;
    let description = format!(
        "videotestsrc pattern={pattern} num-buffers=1 ! videoconvert ! \
         video/x-raw,format=RGBA,width={width},height={height} ! appsink name=sink"
    );
    let pipeline = gst::parse::launch(&description)
        .map_err(|e| e.to_string())?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "not a pipeline".to_string())?;
    let sink = pipeline
        .by_name("sink")
        .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        .ok_or("no appsink")?;
    pipeline.set_state(gst::State::Playing).map_err(|e| e.to_string())?;
    let sample = sink.try_pull_sample(gst::ClockTime::from_seconds(10)).ok_or("no frame from videotestsrc");
    let _ = pipeline.set_state(gst::State::Null);
    let sample = sample?;
    let buffer = sample.buffer().ok_or("empty sample")?;
    let map = buffer.map_readable().map_err(|e| e.to_string())?;
    Ok(image::Handle::from_rgba(width, height, map.as_slice().to_vec()))
}
