//! Shown documents driven by the agent: the agent's `view` (page, zoom,
//! pan, pointer) goes to the kiosk's app; the kiosk's `view_shown` (what
//! the resident sees, with a small picture of the page) goes to the
//! agent's. The core only carries them: which document is shown, and how a
//! view fits the screen, are the kiosk app's business.

use std::time::Instant;

use super::{CommandError, Endpoint, Event, PeerError, Side};
use crate::wire::{ErrorCode, Message, PageView};

/// Largest coordinate of a [`crate::wire::PagePoint`] (‰ of the page).
pub const PAGE_POINT_MAX: u32 = 1000;

impl Endpoint {
    pub(super) fn handle_view(&mut self, id: u32, view: PageView) -> Result<(), PeerError> {
        self.message_for(Side::Kiosk, Some(id), "only the kiosk shows documents")?;
        let points = std::iter::once(view.center).chain(view.pointer);
        if view.page == 0 || points.into_iter().any(|p| p.x > PAGE_POINT_MAX || p.y > PAGE_POINT_MAX) {
            return self.refuse(Some(id), ErrorCode::BadMessage, "view: page counts from 1, points are 0 to 1000".into());
        }
        self.emit(Event::ViewWanted { id, view });
        Ok(())
    }

    pub(super) fn handle_view_shown(&mut self, id: u32, pages: u32, view: PageView, thumbnail: Option<String>) -> Result<(), PeerError> {
        self.message_for(Side::Agent, Some(id), "only the kiosk reports what it shows")?;
        self.emit(Event::ViewShown { id, pages, view, thumbnail });
        Ok(())
    }

    /// Agent: view shown document `id` this way.
    pub fn request_view(&mut self, _now: Instant, id: u32, view: PageView) -> Result<(), CommandError> {
        self.command_on(Side::Agent, "driving a shown document")?;
        self.send(Message::View { id, view });
        Ok(())
    }

    /// Kiosk: tell the agent what the resident sees of document `id`. The
    /// thumbnail must keep the message within
    /// [`MAX_TEXT_MESSAGE`](crate::wire::MAX_TEXT_MESSAGE).
    pub fn view_shown(&mut self, _now: Instant, id: u32, pages: u32, view: PageView, thumbnail: Option<String>) -> Result<(), CommandError> {
        self.send_shown("reporting a shown document", Message::ViewShown { id, pages, view, thumbnail })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Frame;
    use crate::core::test_support::{drain, up};
    use crate::wire::{MAX_TEXT_MESSAGE, PagePoint};

    #[test]
    fn a_view_goes_from_agent_to_kiosk_and_what_is_shown_comes_back() {
        let (mut agent, mut kiosk) = (up(Side::Agent), up(Side::Kiosk));
        let view = PageView { page: 2, zoom: 200, center: PagePoint { x: 500, y: 250 }, pointer: Some(PagePoint { x: 100, y: 900 }) };
        agent.request_view(Instant::now(), 7, view).unwrap();
        let (_, sent) = drain(&mut agent);
        kiosk.handle_frame(Instant::now(), Frame::Text(&sent[0])).unwrap();
        assert_eq!(drain(&mut kiosk).0, [Event::ViewWanted { id: 7, view }]);

        let thumbnail = Some(format!("data:image/jpeg;base64,{}", "A".repeat(4000)));
        kiosk.view_shown(Instant::now(), 7, 3, view, thumbnail.clone()).unwrap();
        let (_, sent) = drain(&mut kiosk);
        agent.handle_frame(Instant::now(), Frame::Text(&sent[0])).unwrap();
        assert_eq!(drain(&mut agent).0, [Event::ViewShown { id: 7, pages: 3, view, thumbnail }]);
    }

    #[test]
    fn views_off_the_page_or_to_the_wrong_side_are_refused() {
        let mut kiosk = up(Side::Kiosk);
        let off = r#"{"type":"view","id":1,"page":1,"zoom":100,"center":{"x":500,"y":500},"pointer":{"x":1001,"y":0}}"#;
        assert!(matches!(kiosk.handle_frame(Instant::now(), Frame::Text(off)), Err(PeerError::Refused { code: ErrorCode::BadMessage, .. })));
        let page0 = r#"{"type":"view","id":1,"page":0,"zoom":100,"center":{"x":500,"y":500}}"#;
        assert!(kiosk.handle_frame(Instant::now(), Frame::Text(page0)).is_err());
        let (events, sent) = drain(&mut kiosk);
        assert!(events.iter().all(|e| !matches!(e, Event::ViewWanted { .. })), "{events:?}");
        assert!(sent.iter().all(|m| m.contains(r#""type":"error""#)), "{sent:?}");

        let mut agent = up(Side::Agent);
        assert!(agent.handle_frame(Instant::now(), Frame::Text(page0)).is_err());
        let view = PageView { page: 1, zoom: 100, center: PagePoint { x: 0, y: 0 }, pointer: None };
        assert!(kiosk.request_view(Instant::now(), 1, view).is_err());
        let huge = Some("A".repeat(MAX_TEXT_MESSAGE));
        assert!(matches!(kiosk.view_shown(Instant::now(), 1, 1, view, huge), Err(CommandError::MessageTooLarge { .. })));
    }
}
