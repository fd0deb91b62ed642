//! Button styles. Hover stays close to normal: on a touchscreen a tap moves
//! the cursor, so a hover style would stick after the finger left.

use iced::widget::button::{Status, Style};
use iced::{Background, Border, Color, Shadow, Theme};

use super::{CLOSED, DANGER, DISABLED, INK, MUTED, PANEL, PRIMARY, RADIUS, WHITE};

fn filled(background: Color, text: Color, status: Status) -> Style {
    let (background, text) = match status {
        // A pressed button darkens a little: the finger sees it worked.
        Status::Pressed => (darken(background, 0.15), text),
        // Nothing to press here (page 1's "previous page"): clearly inert.
        Status::Disabled => (DISABLED, MUTED),
        _ => (background, text),
    };
    Style {
        background: Some(Background::Color(background)),
        text_color: text,
        border: Border { radius: RADIUS.into(), width: 0.0, color: Color::TRANSPARENT },
        shadow: Shadow::default(),
        snap: true,
    }
}

fn darken(c: Color, by: f32) -> Color {
    Color { r: c.r * (1.0 - by), g: c.g * (1.0 - by), b: c.b * (1.0 - by), a: c.a }
}

/// A service tile in its catalogue colour.
pub fn service_tile(colour: Color) -> impl Fn(&Theme, Status) -> Style {
    move |_, status| filled(colour, WHITE, status)
}

/// A closed service's tile: grey with dark ink, unmistakably not lit.
pub fn service_tile_closed() -> impl Fn(&Theme, Status) -> Style {
    |_, status| filled(CLOSED, INK, status)
}

/// The main action of a screen.
pub fn primary(_: &Theme, status: Status) -> Style {
    filled(PRIMARY, WHITE, status)
}

/// A quieter action (cancel, language, "no, continue").
pub fn secondary(_: &Theme, status: Status) -> Style {
    let mut style = filled(PANEL, INK, status);
    if status != Status::Disabled {
        style.border = Border { radius: RADIUS.into(), width: 3.0, color: PRIMARY };
    }
    style
}

/// Ending a call.
pub fn danger(_: &Theme, status: Status) -> Style {
    filled(DANGER, WHITE, status)
}
