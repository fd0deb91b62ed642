//! Documents to sign: the agent pushes a PDF with purpose `sign`, then
//! places the signature box (`sign_box`); the kiosk answers with what the
//! resident sees (`sign_shown`). The signed PDF comes back as an ordinary
//! transfer (purpose `signed`, `req` the document's id); a refusal is the
//! outcome `refused`. The core only checks and carries the messages.

use std::time::Instant;

use super::{CommandError, Endpoint, Event, PeerError, Side};
use crate::sign::SignatureBox;
use crate::wire::{ErrorCode, Message};

/// Whether `area` lies on its page: page from 1, a box of some size whose
/// edges stay within 0–1000 thousandths.
pub fn box_on_page(area: &SignatureBox) -> bool {
    area.page >= 1 && area.width > 0 && area.height > 0 && area.x.saturating_add(area.width) <= 1000 && area.y.saturating_add(area.height) <= 1000
}

impl Endpoint {
    pub(super) fn handle_sign_box(&mut self, id: u32, area: SignatureBox) -> Result<(), PeerError> {
        self.message_for(Side::Kiosk, Some(id), "only the kiosk shows documents to sign")?;
        if !box_on_page(&area) {
            return self.refuse(Some(id), ErrorCode::BadMessage, "sign_box: page counts from 1, the box lies within 0 to 1000 and is not empty".into());
        }
        self.emit(Event::SignBoxWanted { id, area });
        Ok(())
    }

    pub(super) fn handle_sign_shown(&mut self, id: u32, pages: u32, area: SignatureBox, thumbnail: Option<String>) -> Result<(), PeerError> {
        self.message_for(Side::Agent, Some(id), "only the kiosk reports what it shows")?;
        self.emit(Event::SignShown { id, pages, area, thumbnail });
        Ok(())
    }

    /// Agent: place the signature box of document `id`.
    pub fn request_sign_box(&mut self, _now: Instant, id: u32, area: SignatureBox) -> Result<(), CommandError> {
        self.command_on(Side::Agent, "placing a signature box")?;
        self.send(Message::SignBox { id, area });
        Ok(())
    }

    /// Kiosk: tell the agent what the resident sees of document `id` to
    /// sign. The thumbnail must keep the message within
    /// [`MAX_TEXT_MESSAGE`](crate::wire::MAX_TEXT_MESSAGE).
    pub fn sign_shown(&mut self, _now: Instant, id: u32, pages: u32, area: SignatureBox, thumbnail: Option<String>) -> Result<(), CommandError> {
        self.send_shown("reporting a document to sign", Message::SignShown { id, pages, area, thumbnail })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::test_support::{drain, up};
    use crate::core::{FileMeta, Frame};
    use crate::wire::{MAX_TEXT_MESSAGE, OutcomeKind, Purpose};

    #[test]
    fn the_agent_places_the_box_and_the_kiosk_says_what_the_resident_sees() {
        let (mut agent, mut kiosk) = (up(Side::Agent), up(Side::Kiosk));
        let area = SignatureBox { page: 2, x: 550, y: 800, width: 350, height: 120 };
        agent.request_sign_box(Instant::now(), 3, area).unwrap();
        let (_, sent) = drain(&mut agent);
        assert_eq!(sent, [r#"{"type":"sign_box","id":3,"page":2,"x":550,"y":800,"width":350,"height":120}"#]);
        kiosk.handle_frame(Instant::now(), Frame::Text(&sent[0])).unwrap();
        assert_eq!(drain(&mut kiosk).0, [Event::SignBoxWanted { id: 3, area }]);

        let thumbnail = Some(format!("data:image/jpeg;base64,{}", "A".repeat(4000)));
        kiosk.sign_shown(Instant::now(), 3, 2, area, thumbnail.clone()).unwrap();
        let (_, sent) = drain(&mut kiosk);
        agent.handle_frame(Instant::now(), Frame::Text(&sent[0])).unwrap();
        assert_eq!(drain(&mut agent).0, [Event::SignShown { id: 3, pages: 2, area, thumbnail }]);
    }

    #[test]
    fn boxes_off_the_page_or_to_the_wrong_side_are_refused() {
        let mut kiosk = up(Side::Kiosk);
        for bad in [
            r#"{"type":"sign_box","id":1,"page":1,"x":800,"y":100,"width":300,"height":100}"#,
            r#"{"type":"sign_box","id":1,"page":0,"x":0,"y":0,"width":300,"height":100}"#,
            r#"{"type":"sign_box","id":1,"page":1,"x":0,"y":0,"width":0,"height":100}"#,
            r#"{"type":"sign_box","id":1,"page":1,"x":0,"y":4294967295,"width":1,"height":1}"#,
        ] {
            assert!(matches!(kiosk.handle_frame(Instant::now(), Frame::Text(bad)), Err(PeerError::Refused { code: ErrorCode::BadMessage, .. })), "{bad}");
        }
        let (events, sent) = drain(&mut kiosk);
        assert!(events.iter().all(|e| !matches!(e, Event::SignBoxWanted { .. })), "{events:?}");
        assert!(sent.iter().all(|m| m.contains(r#""code":"bad_message""#)), "{sent:?}");

        let mut agent = up(Side::Agent);
        let good = r#"{"type":"sign_box","id":1,"page":1,"x":0,"y":0,"width":300,"height":100}"#;
        assert!(matches!(agent.handle_frame(Instant::now(), Frame::Text(good)), Err(PeerError::Refused { code: ErrorCode::Unexpected, .. })));
        let area = SignatureBox { page: 1, x: 0, y: 0, width: 1, height: 1 };
        assert!(kiosk.request_sign_box(Instant::now(), 1, area).is_err());
        assert!(matches!(kiosk.sign_shown(Instant::now(), 1, 1, area, Some("A".repeat(MAX_TEXT_MESSAGE))), Err(CommandError::MessageTooLarge { .. })));
    }

    #[test]
    fn a_picture_to_sign_is_refused_at_its_first_bytes() {
        let mut kiosk = up(Side::Kiosk);
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        let offer = format!(r#"{{"type":"offer","id":4,"name":"photo.png","size":100000,"sha256":"{}","purpose":"sign"}}"#, "a".repeat(64));
        kiosk.handle_frame(Instant::now(), Frame::Text(&offer)).unwrap();
        drain(&mut kiosk);
        let chunk = crate::wire::Chunk { id: 4, offset: 0, data: png }.encode();
        assert!(matches!(kiosk.handle_frame(Instant::now(), Frame::Binary(&chunk)), Err(PeerError::Refused { code: ErrorCode::UnsupportedType, .. })));
        let (_, sent) = drain(&mut kiosk);
        assert!(sent.iter().any(|m| m.contains("unsupported_type") && m.contains("seul un PDF")), "{sent:?}");
        assert_eq!(kiosk.active_transfers(), 0);
    }

    #[test]
    fn documents_to_sign_go_to_the_kiosk_and_signed_ones_come_back() {
        let (mut agent, mut kiosk) = (up(Side::Agent), up(Side::Kiosk));
        let meta = |purpose, req| FileMeta { name: "f.pdf".into(), size: 10, sha256: "a".repeat(64), purpose, req };
        assert!(agent.push_file(Instant::now(), meta(Purpose::Sign, None)).is_ok());
        assert!(agent.push_file(Instant::now(), meta(Purpose::Signed, Some(1))).is_err(), "only the kiosk sends signed documents");
        assert!(kiosk.push_file(Instant::now(), meta(Purpose::Signed, Some(1))).is_ok());
        assert!(kiosk.push_file(Instant::now(), meta(Purpose::Sign, None)).is_err());
        // A signed document offered to the kiosk is refused, and a document
        // to sign offered to the agent.
        let to_kiosk = r#"{"type":"offer","id":9,"name":"s.pdf","size":10,"sha256":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","purpose":"signed","req":1}"#;
        assert!(kiosk.handle_frame(Instant::now(), Frame::Text(to_kiosk)).is_err());
        let refused = r#"{"type":"outcome","id":1,"outcome":"refused"}"#;
        agent.handle_frame(Instant::now(), Frame::Text(refused)).unwrap();
        assert!(drain(&mut agent).0.contains(&Event::Outcome { id: 1, outcome: OutcomeKind::Refused, reason: None }));
    }
}
