//! A document the agent shows: the agent drives it (page, zoom, pan,
//! pointer); the resident touches nothing. The session keeps every view
//! within the document and the zoom limits, and asks the shell to draw the
//! page and tell the agent what the resident sees.

use std::time::Instant;

use super::*;
use super::event::KioskEvent;

/// Fit to width: the page's width fills the screen.
pub const MIN_ZOOM: u32 = 100;
/// Four times fit to width: a line of small print across the screen.
pub const MAX_ZOOM: u32 = 400;
/// Largest page coordinate (thousandths of the page).
const EDGE: u32 = 1000;

/// `wanted`, kept within `pages` and the zoom limits.
pub fn clamp_view(wanted: PageView, pages: u32) -> PageView {
    let point = |(x, y): (u32, u32)| (x.min(EDGE), y.min(EDGE));
    PageView {
        page: wanted.page.clamp(1, pages.max(1)),
        zoom: wanted.zoom.clamp(MIN_ZOOM, MAX_ZOOM),
        center: point(wanted.center),
        pointer: wanted.pointer.map(point),
    }
}

impl Session {
    /// The agent's view of the shown document. Nothing when no document
    /// is shown (the agent's page may lag behind the kiosk's screen).
    pub(super) fn view(&mut self, _now: Instant, event: DocumentEvent) {
        let DocumentEvent::View(wanted) = event else { return };
        self.apply_view(|_, _| wanted);
    }

    /// A page turn from the inputs (kept for the shells' keyboards and
    /// tests; the kiosk screen has no page buttons: the agent turns pages).
    pub(super) fn turn_page(&mut self, forward: bool) {
        self.apply_view(|view, pages| {
            let page = if forward { (view.page + 1).min(pages) } else { view.page.saturating_sub(1).max(1) };
            if page == view.page { view } else { PageView::top_of(page) }
        });
    }

    fn apply_view(&mut self, change: impl FnOnce(PageView, u32) -> PageView) {
        let Screen::InCall(InCall { document: DocumentView::Showing { pages, page, view, .. }, .. }) = &mut self.screen else {
            return;
        };
        let old = *view;
        let new = clamp_view(change(old, *pages), *pages);
        *view = new;
        *page = new.page;
        let pages = *pages;
        if new != old {
            self.outputs.push_back(Output::Documents(DocumentCommand::ShowView { pages, view: new }));
        }
        if (new.page, new.zoom) != (old.page, old.zoom) {
            self.event(KioskEvent::Viewed { page: new.page, zoom: new.zoom });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_are_kept_within_the_document_and_the_zoom_limits() {
        let wild = PageView { page: 9, zoom: 5000, center: (4000, 20), pointer: Some((1200, 1001)) };
        assert_eq!(clamp_view(wild, 3), PageView { page: 3, zoom: MAX_ZOOM, center: (1000, 20), pointer: Some((1000, 1000)) });
        let low = PageView { page: 0, zoom: 10, center: (0, 0), pointer: None };
        assert_eq!(clamp_view(low, 3), PageView { page: 1, zoom: MIN_ZOOM, center: (0, 0), pointer: None });
    }
}
