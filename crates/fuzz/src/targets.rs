//! One function per parser. Each panics when a property breaks: the
//! parser itself panicking, or what it accepted not surviving a round
//! trip through its own encoder.

use std::fmt::Debug;

use visio_config::ConfigSet;
use visio_config::set::Sources;
use visio_protocol::{AgentToHub, HostToHub, HubToAgent, HubToHost, HubToKiosk, KioskToHub, WireMessage};
use visio_transfer::check::{ContentChecker, ContentKind};
use visio_transfer::inspect::DocumentLimits;
use visio_transfer::wire::{Chunk, Message};

const DEMO_SERVICES: &str = include_str!("../../../kiosk-config/services.json");
const DEMO_HUB: &str = include_str!("../../../kiosk-config/hub.json");
const DEMO_KIOSK: &str = include_str!("../../../kiosk-config/kiosks/besse.json");

/// The configuration loader: the bytes as each of its files in turn (the
/// other files the demo region's), through the same reading as `visio-admin
/// validate`. What it accepts must come back whole from a bundle payload.
pub fn config(bytes: &[u8]) {
    let text = match visio_config::source::decode("input.json", bytes.to_vec()) {
        Ok(text) => text,
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    };
    let _ = visio_config::source::parse("input.json", &text);
    let base = || Sources {
        services: Some(DEMO_SERVICES.to_owned()),
        hub: Some(DEMO_HUB.to_owned()),
        kiosks: vec![("besse".to_owned(), DEMO_KIOSK.to_owned())],
        unread: Vec::new(),
    };
    let roles = [
        Sources { services: Some(text.clone()), ..base() },
        Sources { hub: Some(text.clone()), ..base() },
        Sources { kiosks: vec![("besse".to_owned(), text.clone())], ..base() },
    ];
    for sources in roles {
        if let Ok(set) = ConfigSet::from_sources(&sources, None) {
            let again = ConfigSet::from_payload(&set.to_payload());
            let again = again.unwrap_or_else(|d| panic!("an accepted configuration does not come back from its payload: {d:?}"));
            assert_eq!(again.to_payload(), set.to_payload(), "the payload changed on a round trip");
        }
    }
}

/// The hub's and kiosk's message decoder, for all six directions.
pub fn protocol(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    round_trip::<KioskToHub>(&text);
    round_trip::<HubToKiosk>(&text);
    round_trip::<AgentToHub>(&text);
    round_trip::<HubToAgent>(&text);
    round_trip::<HostToHub>(&text);
    round_trip::<HubToHost>(&text);
}

fn round_trip<T: WireMessage + PartialEq + Debug>(text: &str) {
    if let Ok(message) = visio_protocol::decode::<T>(text) {
        let encoded = visio_protocol::encode(&message);
        let again = visio_protocol::decode::<T>(&encoded)
            .unwrap_or_else(|e| panic!("{message:?} encodes to {encoded:?}, which does not decode: {e}"));
        assert_eq!(again, message, "changed by a round trip through {encoded:?}");
    }
}

/// The document transfer's frames: text messages and binary chunks.
pub fn transfer_wire(bytes: &[u8]) {
    if let Ok(message) = Message::from_json(&String::from_utf8_lossy(bytes)) {
        let encoded = message.to_json();
        let again = Message::from_json(&encoded)
            .unwrap_or_else(|e| panic!("{message:?} encodes to {encoded:?}, which does not decode: {e}"));
        assert_eq!(again, message, "changed by a round trip through {encoded:?}");
    }
    if let Ok(chunk) = Chunk::decode(bytes) {
        // Byte for byte: the decoder refuses anything but 0 in the reserved
        // header bytes, which is what the encoder writes.
        let encoded = chunk.encode();
        assert_eq!(Chunk::decode(&encoded), Ok(chunk), "a decoded chunk does not survive a round trip");
        assert_eq!(encoded, bytes, "a decoded chunk encodes to other bytes");
    }
}

/// The document checks a kiosk runs on what an agent sends: the content
/// check (whole, and fed in uneven pieces as chunks arrive, which must
/// agree), the file name check, the judgement of poppler's `pdfinfo`
/// report (the bytes as its text), and the bounded image decoder (the
/// bytes as the PNG or JPEG file they claim to be). None may panic; the
/// image decoder must refuse or decode within the limits.
pub fn documents(bytes: &[u8]) {
    let whole = visio_transfer::check::check_bytes(bytes);
    let mut pieces = ContentChecker::new();
    let split = bytes.iter().fold(0usize, |a, b| a.wrapping_add(usize::from(*b))) % 97 + 1;
    let fed = bytes.chunks(split).try_for_each(|piece| pieces.update(piece));
    let in_pieces = fed.and_then(|()| pieces.finish());
    // The same verdict; a refusal's detail may quote fewer head bytes when
    // it came from a short first piece.
    let same = match (&whole, &in_pieces) {
        (Ok(a), Ok(b)) => format!("{a:?}") == format!("{b:?}"),
        (Err(a), Err(b)) => std::mem::discriminant(a) == std::mem::discriminant(b),
        _ => false,
    };
    assert!(same, "the check depends on how the bytes arrive ({split}-byte pieces): {whole:?} whole, {in_pieces:?} in pieces");
    let text = String::from_utf8_lossy(bytes);
    let _ = visio_transfer::check::check_name(&text);
    let limits = DocumentLimits::default();
    let _ = visio_transfer::inspect::parse_pdfinfo(&text, &limits);
    if let Some(kind @ (ContentKind::Png | ContentKind::Jpeg)) = ContentKind::sniff(bytes) {
        let path = std::env::temp_dir().join(format!("visio-fuzz-image-{}", std::process::id()));
        std::fs::write(&path, bytes).expect("the temporary folder is writable");
        if let Ok(img) = visio_transfer::inspect::decode_image(&path, kind, &limits) {
            let pixels = u64::from(img.width()) * u64::from(img.height());
            assert!(pixels <= limits.max_pixels, "decoded {}x{} past the pixel limit", img.width(), img.height());
        }
        let _ = std::fs::remove_file(&path);
    }
}
