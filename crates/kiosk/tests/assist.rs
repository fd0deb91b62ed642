//! Help for residents who cannot read or need time, in the window app.
//!
//! Speech: the app driven by taps as in
//! `ui.rs`, its spoken prompts collected, then each rendered to a WAV file
//! through the speaker's own GStreamer path (eSpeak NG, volume, the sink
//! as `VISIO_AUDIO_SINK` names it) and measured: long enough for its
//! words, not silent, louder with the volume.
//!
//! No speech recogniser reads them back: Debian has no French model, and
//! its English one could not follow eSpeak's voice (docs/decisions.md #284).
//!
//! Time limits: the warning before an automatic return and "Je suis encore
//! là", with time simulated by the app's own ticks.

mod touch;

use std::path::Path;
use std::time::{Duration, Instant};

use touch::{kiosk, shows, tap};
use visio_kiosk::app::{Kiosk, Message};
use visio_kiosk::speech;
use visio_kiosk_core::{DocumentEvent, Input, Language, Screen};
use visio_protocol::*;



/// The one prompt said since the last look, which must contain `expect`.
fn said(kiosk: &Kiosk, expect: &str) -> String {
    let said = kiosk.speaker().take_said();
    let last = said.last().unwrap_or_else(|| panic!("nothing said; expected {expect:?}")).clone();
    assert!(last.contains(expect), "said {last:?}; expected it to contain {expect:?}");
    last
}

/// A WAV file's duration in seconds and loudness (RMS, dBFS); S16 mono as
/// the speech pipeline makes it.
fn measure(path: &Path) -> (f64, f64) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[0..4], b"RIFF");
    let (mut at, mut rate, mut data) = (12, 0u32, &[][..]);
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        let body = &bytes[at + 8..(at + 8 + len).min(bytes.len())];
        if id == b"fmt " {
            assert_eq!(u16::from_le_bytes([body[2], body[3]]), 1, "mono");
            assert_eq!(u16::from_le_bytes([body[14], body[15]]), 16, "16-bit");
            rate = u32::from_le_bytes(body[4..8].try_into().unwrap());
        } else if id == b"data" {
            data = body;
        }
        at += 8 + len + (len & 1);
    }
    let samples: Vec<f64> = data.chunks_exact(2).map(|c| f64::from(i16::from_le_bytes([c[0], c[1]])) / 32768.0).collect();
    let rms = (samples.iter().map(|s| s * s).sum::<f64>() / samples.len().max(1) as f64).sqrt();
    (samples.len() as f64 / f64::from(rate), 20.0 * rms.max(1e-9).log10())
}

fn render(dir: &Path, name: &str, text: &str, language: Language, volume: u8) -> (f64, f64) {
    let path = dir.join(format!("{name}.wav"));
    let sink = format!("audio/x-raw,format=S16LE,channels=1 ! wavenc ! filesink location={}", path.display());
    speech::render(text, language, volume, &sink).unwrap_or_else(|e| panic!("{name}: {e}"));
    measure(&path)
}

#[test]
fn every_screen_change_is_said_and_renders_to_speech_of_plausible_length() {
    let mut k = kiosk();
    let mut prompts = vec![("home", said(&k, "Touchez le service"))];
    tap(&mut k, "Démo");
    prompts.push(("requesting", said(&k, "Nous appelons le service")));
    k.input(Input::Hub(HubToKiosk::Queued {
        session: "s-1".into(),
        service: "demo".into(),
        position: 2,
        estimated_wait: Some(WaitEstimate { seconds: 300 }),
    }));
    prompts.push(("waiting", said(&k, "environ 5 minutes")));
    k.input(Input::Hub(HubToKiosk::CallAnswered { session: "s-1".into(), agent_name: "Claire".into(), ice_servers: vec![], resume_token: None }));
    prompts.push(("answered", said(&k, "Vous parlez avec Claire")));
    k.input(Input::Document(DocumentEvent::ScanRequested));
    prompts.push(("scan", said(&k, "scanner")));
    k.input(Input::Document(DocumentEvent::ScanProgress { percent: 50 }));
    assert!(k.speaker().take_said().is_empty(), "progress is shown, not said");
    k.input(Input::Document(DocumentEvent::Printed { name: "form.pdf".into() }));
    prompts.push(("printed", said(&k, "imprimante")));
    tap(&mut k, "Terminer l'appel");
    prompts.push(("confirm", said(&k, "Oui, terminer")));
    tap(&mut k, "Oui, terminer");
    prompts.push(("ended", said(&k, "Comment s'est passé votre rendez-vous")));
    tap(&mut k, "Bien");
    prompts.push(("rated", said(&k, "la borne revient à l'accueil dans 20 secondes")));

    let dir = tempfile::tempdir().unwrap();
    for (name, text) in &prompts {
        let words = text.split_whitespace().count() as f64;
        let (seconds, dbfs) = render(dir.path(), name, text, Language::Fr, visio_kiosk_core::VOLUME_DEFAULT);
        eprintln!("{name}: {words} words, {seconds:.1} s, {:.1} words/s, {dbfs:.1} dBFS", words / seconds);
        // Calm speech runs at 1.5 to 3 words a second; eSpeak at our rate
        // near 2.3. Outside 1 to 4, something was cut or stretched.
        assert!((1.0..=4.0).contains(&(words / seconds)), "{name}: {words} words in {seconds:.2} s");
        assert!(dbfs > -35.0, "{name}: {dbfs:.1} dBFS is too quiet to hear");
    }
}

#[test]
fn english_is_said_in_english_and_the_volume_steps_are_heard() {
    let mut k = kiosk();
    k.speaker().take_said();
    tap(&mut k, "English");
    let home = said(&k, "Touch the service");
    assert!(home.contains("Démo, Open"), "the services are read out with their hours: {home}");
    tap(&mut k, "Louder");
    said(&k, "Volume 4 of 5");

    let dir = tempfile::tempdir().unwrap();
    let (_, soft) = render(dir.path(), "soft", "Volume", Language::En, 1);
    let (_, loud) = render(dir.path(), "loud", "Volume", Language::En, 5);
    // Five times the gain is 14 dB.
    assert!((loud - soft - 14.0).abs() < 1.0, "volume 1: {soft:.1} dBFS, volume 5: {loud:.1} dBFS");
}


#[test]
fn the_end_screen_counts_down_warns_and_still_here_keeps_it() {
    let mut k = kiosk();
    tap(&mut k, "Démo");
    k.input(Input::Hub(HubToKiosk::Queued { session: "s-1".into(), service: "demo".into(), position: 1, estimated_wait: None }));
    k.input(Input::Hub(HubToKiosk::CallAnswered { session: "s-1".into(), agent_name: "Claire".into(), ice_servers: vec![], resume_token: None }));
    k.input(Input::Hub(HubToKiosk::CallEnded { session: "s-1".into(), reason: EndReason::AgentHungUp }));
    let start = Instant::now();
    let _ = k.update(Message::Tick(start));
    assert!(shows(&k, "Retour à l'accueil dans 30 s"), "a visible countdown from the start");
    assert!(!shows(&k, "Je suis encore là"));

    let _ = k.update(Message::Tick(start + Duration::from_secs(11)));
    assert!(shows(&k, "Je suis encore là"), "warned 20 s ahead");
    assert!(shows(&k, "Retour à l'accueil dans 19 s"));
    k.speaker().take_said();
    tap(&mut k, "Je suis encore là");
    assert!(!shows(&k, "Je suis encore là"));
    assert!(shows(&k, "Retour à l'accueil dans 30 s"), "30 s more");
    said(&k, "Merci de votre visite");

    let _ = k.update(Message::Tick(start + Duration::from_secs(31)));
    assert!(shows(&k, "Je suis encore là"));
    let _ = k.update(Message::Tick(start + Duration::from_secs(42)));
    assert_eq!(*k.screen(), Screen::Home { notice: None });
}

#[test]
fn the_next_resident_meets_a_french_home_screen_in_plain_words() {
    let mut k = kiosk();
    tap(&mut k, "English");
    tap(&mut k, "Easy to read");
    assert!(shows(&k, "Touch a service. A person talks to you by video."), "easy-read wording");
    let start = Instant::now();
    let _ = k.update(Message::Tick(start + Duration::from_secs(71)));
    assert!(shows(&k, "I am still here"), "warned, in the resident's language");
    said(&k, "Touch the big button \"I am still here\"");
    let _ = k.update(Message::Tick(start + Duration::from_secs(92)));
    assert!(shows(&k, "Bonjour !"));
    assert!(!shows(&k, "Je suis encore là"), "a fresh home has no warning");
    assert!(shows(&k, "Touchez le service que vous voulez joindre. Un conseiller vous répondra en vidéo."), "plain wording again");
}

#[test]
fn appeler_laccueil_says_the_request_is_sent_and_only_a_hosts_answer_says_someone_is_coming() {
    let mut k = kiosk();
    k.speaker().take_said();
    tap(&mut k, "Appeler l'accueil");
    assert!(shows(&k, "Demande envoyée…") && shows(&k, "Annuler la demande d'aide"));
    said(&k, "Demande envoyée");
    assert!(!shows(&k, "Quelqu'un de l'accueil arrive"), "nobody answered yet");
    // Choosing a service keeps the request; the control is on that screen too.
    tap(&mut k, "CAF");
    assert!(shows(&k, "Demande envoyée…") && shows(&k, "Annuler la demande d'aide"));
    k.input(Input::Hub(HubToKiosk::HostComing));
    assert!(shows(&k, "Quelqu'un de l'accueil arrive"));
    said(&k, "Quelqu'un de l'accueil arrive");
    tap(&mut k, "Annuler la demande d'aide");
    assert!(shows(&k, "Appeler l'accueil") && !shows(&k, "Quelqu'un de l'accueil arrive"));
}
