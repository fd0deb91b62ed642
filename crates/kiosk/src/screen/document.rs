//! A document the agent shows: the page fit to the screen's width (drawn
//! at the screen's own pixels), the part the agent chose, the agent's
//! pointer, and nothing for the resident to touch.

use iced::widget::{Space, Text, container, image, pin, responsive, stack, text};
use iced::{Border, Color, Element, Fill, Rectangle, Size};
use visio_kiosk_core::PageView;

use super::Context;
use crate::theme;

/// Diameter of the agent's pointer, pixels: seen from a chair's distance.
const POINTER: f32 = 44.0;

/// A drawn page, ready for the screen.
#[derive(Debug, Clone)]
pub struct ShownPage {
    /// Which page, from 1.
    pub number: u32,
    pub handle: image::Handle,
    pub width: u32,
    pub height: u32,
}

/// Where the view puts the page on a screen area: the part of the page
/// shown, and where a page point lands on the screen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    /// The part of the page shown, in page pixels.
    pub crop: Rectangle<u32>,
    /// Screen pixels per page pixel.
    pub scale: f32,
    /// Top left of the drawn part within the area.
    pub offset: (f32, f32),
}

impl Placement {
    /// Fit to width at `zoom` %, centred on the view's centre as far as the
    /// page allows (the screen never shows beyond the page's edges).
    pub fn of(page: (u32, u32), area: Size, view: &PageView) -> Placement {
        let (pw, ph) = (page.0.max(1) as f32, page.1.max(1) as f32);
        let (aw, ah) = (area.width.max(1.0), area.height.max(1.0));
        let scale = aw / pw * view.zoom.max(1) as f32 / 100.0;
        let (w, h) = ((aw / scale).min(pw), (ah / scale).min(ph));
        let (cx, cy) = (view.center.0 as f32 / 1000.0 * pw, view.center.1 as f32 / 1000.0 * ph);
        let x = (cx - w / 2.0).clamp(0.0, pw - w);
        let y = (cy - h / 2.0).clamp(0.0, ph - h);
        let crop = Rectangle { x: x as u32, y: y as u32, width: (w as u32).max(1), height: (h as u32).max(1) };
        // The image widget fits the crop in the area (contain) and centres it.
        let drawn = (aw / crop.width as f32).min(ah / crop.height as f32);
        let offset = ((aw - crop.width as f32 * drawn) / 2.0, (ah - crop.height as f32 * drawn) / 2.0);
        Placement { crop, scale: drawn, offset }
    }

    /// Where page point `at` (thousandths) is in the area, if it is shown.
    pub fn locate(&self, page: (u32, u32), at: (u32, u32)) -> Option<(f32, f32)> {
        let px = at.0 as f32 / 1000.0 * page.0 as f32 - self.crop.x as f32;
        let py = at.1 as f32 / 1000.0 * page.1 as f32 - self.crop.y as f32;
        let inside = (0.0..=self.crop.width as f32).contains(&px) && (0.0..=self.crop.height as f32).contains(&py);
        inside.then_some((self.offset.0 + px * self.scale, self.offset.1 + py * self.scale))
    }
}

/// The page as the agent shows it, filling the area it is given.
pub fn page<'a, Message: 'a>(page: Option<&'a ShownPage>, shown: PageView) -> Element<'a, Message> {
    match page.filter(|p| p.number == shown.page) {
        Some(p) => responsive(move |size| drawn(p, size, &shown)).into(),
        // Being drawn: a moment at most.
        None => container(text("…").size(theme::TITLE)).center(Fill).into(),
    }
}

/// What the resident is looking at, under the page.
pub fn caption<'a>(ctx: Context<'a>) -> Text<'a> {
    text(ctx.tr("doc-shown")).size(ctx.text(theme::BODY))
}

/// "Page 2 sur 3", only when there is more than one page.
pub fn page_count<'a>(ctx: Context<'a>, pages: u32, shown: PageView) -> Option<Text<'a>> {
    (pages > 1).then(|| text(ctx.tr_with("doc-page", &[("page", shown.page.into()), ("pages", pages.into())])).size(ctx.text(theme::HEADING)))
}

fn drawn<'a, Message: 'a>(page: &'a ShownPage, size: Size, view: &PageView) -> Element<'a, Message> {
    let dims = (page.width, page.height);
    let placement = Placement::of(dims, size, view);
    let picture = image(page.handle.clone()).crop(placement.crop).width(Fill).height(Fill);
    // The image widget draws the whole page and leaves the cut to the
    // renderer, and tiny-skia cuts images only at a layer's edge: the page
    // goes on a stack's upper layer (a layer of the viewport) inside a
    // clipping container (that viewport is the area), not over the call.
    let mut layers = stack![Space::new().width(Fill).height(Fill), picture].width(Fill).height(Fill);
    if let Some((x, y)) = view.pointer.and_then(|at| placement.locate(dims, at)) {
        let dot = container(text("")).width(POINTER).height(POINTER).style(|_| container::Style {
            background: Some(Color::from_rgba8(220, 30, 30, 0.55).into()),
            border: Border { color: Color::from_rgb8(200, 0, 0), width: 4.0, radius: (POINTER / 2.0).into() },
            ..container::Style::default()
        });
        layers = layers.push(pin(dot).x(x - POINTER / 2.0).y(y - POINTER / 2.0));
    }
    container(layers).width(Fill).height(Fill).clip(true).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A4: (u32, u32) = (1856, 2625);

    #[test]
    fn fit_to_width_shows_the_top_of_the_page_across_the_screen() {
        let view = PageView::top_of(1);
        let p = Placement::of(A4, Size::new(1856.0, 800.0), &view);
        assert_eq!(p.crop, Rectangle { x: 0, y: 0, width: 1856, height: 800 });
        assert!((p.scale - 1.0).abs() < 1e-3);
        assert_eq!(p.locate(A4, (500, 100)), Some((928.0, 262.5)));
        assert_eq!(p.locate(A4, (500, 900)), None, "below the screen");
    }

    #[test]
    fn zoom_shows_a_smaller_part_larger_and_stays_on_the_page() {
        let view = PageView { page: 1, zoom: 200, center: (1000, 1000), pointer: None };
        let p = Placement::of(A4, Size::new(1856.0, 800.0), &view);
        assert_eq!((p.crop.width, p.crop.height), (928, 400));
        assert_eq!((p.crop.x, p.crop.y), (928, 2225), "the bottom right corner, not beyond");
        assert!((p.scale - 2.0).abs() < 1e-3);
    }
}
