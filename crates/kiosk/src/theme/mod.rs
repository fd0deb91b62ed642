//! One calm, high-contrast palette and the kiosk's sizes. Views call the
//! style functions of `button` and `container`; no colour is written inline
//! elsewhere. Every text/background pair is at least 7:1 (WCAG AAA), which a
//! test checks.

pub mod button;
pub mod container;

use iced::Color;

/// Warm off-white page background.
pub const PAGE: Color = rgb(0xfd, 0xfc, 0xf8);
/// Near-black body text.
pub const INK: Color = rgb(0x1a, 0x1a, 0x1a);
/// Deep blue for titles and the main actions.
pub const PRIMARY: Color = rgb(0x12, 0x3b, 0x5c);
/// Soft blue panels (waiting card, notices).
pub const PANEL: Color = rgb(0xe8, 0xf0, 0xf7);
/// Dark red for ending a call: serious, not alarming.
pub const DANGER: Color = rgb(0x8b, 0x1a, 0x1a);
/// Dark slate behind the video.
pub const STAGE: Color = rgb(0x15, 0x20, 0x2b);
pub const WHITE: Color = rgb(0xff, 0xff, 0xff);
/// Behind a button that cannot be pressed now.
pub const DISABLED: Color = rgb(0xd9, 0xd9, 0xd9);
/// A closed service's tile (dark ink on it).
pub const CLOSED: Color = rgb(0xc8, 0xc8, 0xc8);
/// Muted text for secondary lines; still 7:1 on PAGE.
pub const MUTED: Color = rgb(0x3d, 0x3d, 0x3d);

/// Sizes in logical pixels. Touch targets are 2 cm on the kiosk's panel
/// (`screen::Look`), never less than this: what a button's type needs.
pub const TOUCH: f32 = 96.0;
pub const TITLE: f32 = 56.0;
pub const HEADING: f32 = 40.0;
pub const BODY: f32 = 30.0;
pub const SMALL: f32 = 24.0;
pub const SPACE: f32 = 24.0;
/// A service's short name on its tile, and the tile's other lines.
pub const TILE_NAME: f32 = 30.0;
pub const TILE_LINE: f32 = 21.0;
pub const RADIUS: f32 = 18.0;

/// The bundled font's bold face.
pub fn bold() -> iced::Font {
    iced::Font { weight: iced::font::Weight::Bold, ..iced::Font::with_name(crate::assets::FONT_NAME) }
}

pub const fn rgb(r: u8, g: u8, b: u8) -> Color {
    Color { r: r as f32 / 255.0, g: g as f32 / 255.0, b: b as f32 / 255.0, a: 1.0 }
}

/// Parses `#rrggbb` (the catalogue's tile colours), falling back to
/// [`PRIMARY`] for anything else: a tile must never be unreadable.
pub fn hex(s: &str) -> Color {
    let parse = |i: usize| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok());
    match (s.starts_with('#') && s.len() == 7, parse(1), parse(3), parse(5)) {
        (true, Some(r), Some(g), Some(b)) => rgb(r, g, b),
        _ => PRIMARY,
    }
}

/// WCAG 2 contrast ratio between two colours.
pub fn contrast(a: Color, b: Color) -> f32 {
    fn channel(c: f32) -> f32 {
        if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
    }
    fn luminance(c: Color) -> f32 {
        0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b)
    }
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_pair_is_at_least_7_to_1() {
        for (name, fg, bg) in [
            ("ink on page", INK, PAGE),
            ("muted on page", MUTED, PAGE),
            ("primary on page", PRIMARY, PAGE),
            ("ink on panel", INK, PANEL),
            ("primary on panel", PRIMARY, PANEL),
            ("white on primary", WHITE, PRIMARY),
            ("white on danger", WHITE, DANGER),
            ("white on stage", WHITE, STAGE),
            ("muted on disabled", MUTED, DISABLED),
            ("ink on a closed tile", INK, CLOSED),
            ("ink on the help bar's panel", INK, PANEL),
        ] {
            let ratio = contrast(fg, bg);
            assert!(ratio >= 7.0, "{name}: {ratio:.2}:1");
        }
    }

    #[test]
    fn every_service_tile_colour_carries_white_text_at_7_to_1() {
        let catalogue = visio_config::Catalogue::demo();
        for s in catalogue.services() {
            let ratio = contrast(WHITE, hex(&s.colour));
            assert!(ratio >= 7.0, "{} tile {}: {ratio:.2}:1", s.id, s.colour);
        }
    }

    #[test]
    fn hex_parses_or_falls_back() {
        assert_eq!(hex("#ffffff"), WHITE);
        assert_eq!(hex("blue"), PRIMARY);
        assert_eq!(hex("#12345"), PRIMARY);
    }
}
