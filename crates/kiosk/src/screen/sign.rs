//! Signing at the kiosk: the page the agent chose, readable across the
//! screen around the box where the resident signs with a finger (or the
//! mouse), and three big answers: clear, sign, "Je ne signe pas". The
//! strokes stay on this screen until the resident signs; only then do they
//! go to the session core (in thousandths of the box).

use iced::widget::{Space, container, image, mouse_area, pin, responsive, row, stack, text};
use iced::{Border, Center, Color, ContentFit, Element, Fill, Point, Size};
use visio_kiosk_core::{Input, PageView, SignArea};

use super::Context;
use super::document::{Placement, ShownPage};
use crate::theme;

/// The box's frame: dark blue on white, 8.6:1 against the page.
const FRAME: Color = Color::from_rgb(0.05, 0.20, 0.55);
/// The ink: the same blue as the stamp in the PDF, darker.
const INK: [u8; 4] = [13, 26, 90, 255];
/// Most points kept (as many as the stamp keeps).
const MAX_POINTS: usize = visio_transfer::sign::MAX_POINTS;
/// Widest ink picture, pixels (the box is never wider on a kiosk panel).
const MAX_INK_WIDTH: f32 = 1600.0;

#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// The finger or mouse is at this point of the box (thousandths), the
    /// box being `size` pixels on screen.
    Ink { at: (u32, u32), size: (u32, u32) },
    PenDown,
    PenUp,
    Clear,
    Sign,
    Refuse,
}

/// The strokes drawn so far, for the box they were drawn in.
#[derive(Debug, Clone, Default)]
pub struct Pad {
    area: Option<SignArea>,
    strokes: Vec<Vec<(u32, u32)>>,
    down: bool,
    at: Option<(u32, u32)>,
    size: (u32, u32),
    ink: Option<image::Handle>,
}

impl Pad {
    /// Whether something that can count as a signature is drawn in `area`.
    pub fn signed(&self, area: SignArea) -> bool {
        self.area == Some(area) && self.strokes.iter().any(|s| s.len() >= 2)
    }

    /// A touch on the screen, for the box `area` shown now; the answers
    /// become session inputs.
    pub fn update(&mut self, message: Message, area: Option<SignArea>) -> Option<Input> {
        let area = area?;
        if self.area != Some(area) {
            // The agent moved the box: the resident signs again, there.
            *self = Pad { area: Some(area), ..Pad::default() };
        }
        match message {
            Message::Ink { at, size } => {
                self.at = Some(at);
                self.size = size;
                if self.down && self.points() < MAX_POINTS {
                    if let Some(stroke) = self.strokes.last_mut() {
                        stroke.push(at);
                    }
                    self.redraw();
                }
                None
            }
            Message::PenDown => {
                self.down = true;
                if self.points() < MAX_POINTS {
                    self.strokes.push(self.at.into_iter().collect());
                }
                None
            }
            Message::PenUp => {
                self.down = false;
                None
            }
            Message::Clear => {
                *self = Pad { area: Some(area), ..Pad::default() };
                None
            }
            Message::Sign => {
                let strokes = std::mem::take(&mut self.strokes);
                *self = Pad { area: Some(area), ..Pad::default() };
                Some(Input::Sign { strokes })
            }
            Message::Refuse => Some(Input::RefuseSign),
        }
    }

    fn points(&self) -> usize {
        self.strokes.iter().map(Vec::len).sum()
    }

    fn redraw(&mut self) {
        let (w, h) = self.size;
        if w == 0 || h == 0 {
            return;
        }
        let scale = (MAX_INK_WIDTH / w as f32).min(1.0);
        let (w, h) = (((w as f32 * scale) as u32).max(1), ((h as f32 * scale) as u32).max(1));
        self.ink = Some(image::Handle::from_rgba(w, h, ink(&self.strokes, w, h)));
    }
}

/// The strokes as an RGBA picture of `w`×`h` pixels, transparent around
/// the lines (about 5 px wide).
pub fn ink(strokes: &[Vec<(u32, u32)>], w: u32, h: u32) -> Vec<u8> {
    let mut rgba = vec![0u8; (w as usize) * (h as usize) * 4];
    let mut dot = |cx: f32, cy: f32| {
        let r = 2.5f32;
        let (x0, x1) = ((cx - r).floor().max(0.0) as u32, ((cx + r).ceil() as u32).min(w.saturating_sub(1)));
        let (y0, y1) = ((cy - r).floor().max(0.0) as u32, ((cy + r).ceil() as u32).min(h.saturating_sub(1)));
        for y in y0..=y1 {
            for x in x0..=x1 {
                if (x as f32 - cx).powi(2) + (y as f32 - cy).powi(2) <= r * r {
                    let i = ((y * w + x) * 4) as usize;
                    rgba[i..i + 4].copy_from_slice(&INK);
                }
            }
        }
    };
    let at = |(x, y): (u32, u32)| (x.min(1000) as f32 / 1000.0 * w as f32, y.min(1000) as f32 / 1000.0 * h as f32);
    for stroke in strokes {
        for pair in stroke.windows(2) {
            let ((ax, ay), (bx, by)) = (at(pair[0]), at(pair[1]));
            let steps = (bx - ax).abs().max((by - ay).abs()).ceil().max(1.0) as u32;
            for s in 0..=steps {
                let t = s as f32 / steps as f32;
                dot(ax + (bx - ax) * t, ay + (by - ay) * t);
            }
        }
    }
    rgba
}

/// What the session shows of a page to sign: the box's page, fit to the
/// width, its middle on the box.
pub fn page_view(area: SignArea) -> PageView {
    PageView { page: area.page, zoom: 100, center: (500, area.y + area.height / 2), pointer: None }
}

/// The page with the box to sign in, filling the area it is given.
pub fn view<'a>(ctx: Context<'a>, page: Option<&'a ShownPage>, area: SignArea, pad: &'a Pad) -> Element<'a, Message> {
    match page.filter(|p| p.number == area.page) {
        Some(p) => responsive(move |size| drawn(ctx, p, size, area, pad)).into(),
        None => container(text("…").size(ctx.text(theme::TITLE))).center(Fill).into(),
    }
}

fn drawn<'a>(ctx: Context<'a>, page: &'a ShownPage, size: Size, area: SignArea, pad: &'a Pad) -> Element<'a, Message> {
    let dims = (page.width, page.height);
    let placement = Placement::of(dims, size, &page_view(area));
    let picture = image(page.handle.clone()).crop(placement.crop).width(Fill).height(Fill);
    let mut layers = stack![Space::new().width(Fill).height(Fill), picture].width(Fill).height(Fill);
    // The box's corners on screen, kept within what is shown.
    let corner = |x: u32, y: u32| {
        let px = (x as f32 / 1000.0 * dims.0 as f32 - placement.crop.x as f32).clamp(0.0, placement.crop.width as f32);
        let py = (y as f32 / 1000.0 * dims.1 as f32 - placement.crop.y as f32).clamp(0.0, placement.crop.height as f32);
        Point::new(placement.offset.0 + px * placement.scale, placement.offset.1 + py * placement.scale)
    };
    let (a, b) = (corner(area.x, area.y), corner(area.x + area.width, area.y + area.height));
    let (w, h) = ((b.x - a.x).max(1.0), (b.y - a.y).max(1.0));
    let inked: Element<'a, Message> = match (&pad.ink, pad.signed(area)) {
        (Some(ink), true) => image(ink.clone()).content_fit(ContentFit::Fill).width(Fill).height(Fill).into(),
        _ => container(text(ctx.tr("sign-here")).size(ctx.text(theme::BODY)).color(FRAME)).center(Fill).into(),
    };
    let frame = container(inked).width(w).height(h).style(|_| container::Style {
        background: Some(Color::from_rgba(1.0, 1.0, 0.85, 0.55).into()),
        border: Border { color: FRAME, width: 4.0, radius: 6.0.into() },
        ..container::Style::default()
    });
    let size = (w as u32, h as u32);
    let touch = mouse_area(frame)
        .on_press(Message::PenDown)
        .on_release(Message::PenUp)
        .on_move(move |p| Message::Ink { at: (thousandths(p.x, w), thousandths(p.y, h)), size });
    layers = layers.push(pin(touch).x(a.x).y(a.y));
    container(layers).width(Fill).height(Fill).clip(true).into()
}

fn thousandths(v: f32, of: f32) -> u32 {
    (v / of * 1000.0).clamp(0.0, 1000.0) as u32
}

/// What to do, over the answers.
pub fn instruction<'a, M: 'a>(ctx: Context<'a>) -> Element<'a, M> {
    text(ctx.tr("sign-instruction")).size(ctx.text(theme::HEADING)).into()
}

/// The three answers: "Je ne signe pas", clear, sign (the last two once
/// something is drawn).
pub fn answers<'a>(ctx: Context<'a>, signed: bool) -> Element<'a, Message> {
    let big = |label: String, style: fn(&iced::Theme, iced::widget::button::Status) -> iced::widget::button::Style, message: Option<Message>| {
        super::target(super::touch(ctx, label, theme::BODY).style(style).on_press_maybe(message))
    };
    row![
        big(ctx.tr("sign-refuse"), theme::button::secondary, Some(Message::Refuse)),
        big(ctx.tr("sign-clear"), theme::button::secondary, signed.then_some(Message::Clear)),
        big(ctx.tr("sign-done"), theme::button::primary, signed.then_some(Message::Sign)),
    ]
    .spacing(theme::SPACE * 2.0)
    .align_y(Center)
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const AREA: SignArea = SignArea { page: 2, x: 500, y: 800, width: 400, height: 120 };

    #[test]
    fn strokes_are_kept_in_thousandths_of_the_box_and_cleared() {
        let mut pad = Pad::default();
        let ink = |x, y| Message::Ink { at: (x, y), size: (400, 120) };
        for m in [ink(100, 500), Message::PenDown, ink(200, 300), ink(300, 700), Message::PenUp, ink(900, 900)] {
            assert_eq!(pad.update(m, Some(AREA)), None);
        }
        assert!(pad.signed(AREA));
        assert_eq!(pad.strokes, vec![vec![(100, 500), (200, 300), (300, 700)]]);
        assert_eq!(pad.update(Message::Clear, Some(AREA)), None);
        assert!(!pad.signed(AREA));
        for m in [ink(0, 0), Message::PenDown, ink(1000, 1000), Message::PenUp] {
            pad.update(m, Some(AREA));
        }
        assert_eq!(pad.update(Message::Sign, Some(AREA)), Some(Input::Sign { strokes: vec![vec![(0, 0), (1000, 1000)]] }));
        assert!(!pad.signed(AREA), "signed strokes leave the screen");
    }

    #[test]
    fn a_moved_box_starts_a_new_signature_and_nothing_is_drawn_without_one() {
        let mut pad = Pad::default();
        for m in [Message::Ink { at: (1, 1), size: (10, 10) }, Message::PenDown, Message::Ink { at: (9, 9), size: (10, 10) }] {
            pad.update(m, Some(AREA));
        }
        assert!(pad.signed(AREA));
        let moved = SignArea { page: 1, ..AREA };
        assert_eq!(pad.update(Message::PenUp, Some(moved)), None);
        assert!(!pad.signed(moved) && !pad.signed(AREA));
        assert_eq!(pad.update(Message::Refuse, None), None, "no box on screen: no answer");
        assert_eq!(pad.update(Message::Refuse, Some(moved)), Some(Input::RefuseSign));
    }

    #[test]
    fn ink_is_drawn_along_the_strokes_only() {
        let rgba = ink(&[vec![(0, 500), (1000, 500)]], 100, 20);
        let inked = |x: usize, y: usize| rgba[(y * 100 + x) * 4 + 3] == 255;
        assert!(inked(50, 10) && inked(0, 10) && inked(99, 10));
        assert!(!inked(50, 0) && !inked(50, 19));
    }
}
