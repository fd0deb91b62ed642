//! Container styles.

use iced::widget::container::Style;
use iced::{Background, Border, Color, Theme};

use super::{INK, PAGE, PANEL, PRIMARY, RADIUS, STAGE, WHITE};

pub fn page(_: &Theme) -> Style {
    Style { text_color: Some(INK), background: Some(Background::Color(PAGE)), ..Style::default() }
}

/// A card for the main information of a screen.
pub fn panel(_: &Theme) -> Style {
    Style {
        text_color: Some(INK),
        background: Some(Background::Color(PANEL)),
        border: Border { radius: RADIUS.into(), width: 0.0, color: Color::TRANSPARENT },
        ..Style::default()
    }
}

/// A message that must be read: framed in the primary colour.
pub fn notice(_: &Theme) -> Style {
    Style {
        text_color: Some(INK),
        background: Some(Background::Color(PANEL)),
        border: Border { radius: RADIUS.into(), width: 4.0, color: PRIMARY },
        ..Style::default()
    }
}

/// Behind the video and the call's bars.
pub fn stage(_: &Theme) -> Style {
    Style { text_color: Some(WHITE), background: Some(Background::Color(STAGE)), ..Style::default() }
}

/// A full-width banner over the call (document instructions).
pub fn banner(_: &Theme) -> Style {
    Style {
        text_color: Some(WHITE),
        background: Some(Background::Color(PRIMARY)),
        border: Border { radius: RADIUS.into(), width: 0.0, color: Color::TRANSPARENT },
        ..Style::default()
    }
}
