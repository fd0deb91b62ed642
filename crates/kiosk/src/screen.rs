//! One module per screen, each with its `Message`, an `update` that turns
//! the resident's touch into a session-core input, and a `view` of the
//! core's state. Screens never switch screens: the core decides.

pub mod assist;
pub mod call;
pub mod callback;
pub mod document;
pub mod ended;
pub mod home;
pub mod out_of_service;
pub mod scan;
pub mod sign;
pub mod waiting;

use iced::widget::{Button, Space, button, column, container, text};
use iced::{Center, Element, Fill, Length};
use jiff::Timestamp;
use visio_config::panel::Panel;
use visio_config::{Catalogue, Service};
use visio_kiosk_core::Language;
use visio_protocol::ServiceId;

use crate::i18n::{Arg, Catalog};
use crate::theme;

/// What every view needs besides the core's state.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub words: &'a Catalog,
    pub language: Language,
    pub catalogue: &'a Catalogue,
    /// The services this kiosk offers, in tile order.
    pub offered: &'a [ServiceId],
    /// Wall-clock now, for opening hours.
    pub now: Timestamp,
    /// How large text and touch targets are drawn.
    pub look: Look,
}

/// How much larger "Grand texte" draws every text: 1.35 keeps every
/// screen within 1920×1080 (and the help bar on one line) while body
/// text goes from 30 to 40 px (docs/decisions.md #350).
pub const LARGE_TEXT: f32 = 1.35;

/// The id of the container around every touch target: the UI tests find
/// the targets by it and check their size on the panel.
pub const TOUCH_TARGET: &str = "touch-target";

/// The id of the area a screen has above the help bar (clipped there).
pub const SCREEN_AREA: &str = "screen-area";

/// How large the screens draw, for this panel and this resident.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Look {
    /// Every text size is multiplied by this (1, or [`LARGE_TEXT`]).
    pub text_scale: f32,
    /// The smallest side of a touch target, in window pixels.
    pub touch: f32,
    /// A small panel (10" 1280×800): the help bar's labels on two lines,
    /// the scan consent's answers beside the page (#353).
    pub compact: bool,
}

impl Look {
    /// 2 cm on `panel`, but never less than [`theme::TOUCH`] (what a
    /// button's type needs); text enlarged when the resident asked;
    /// compact when fewer than [`COMPACT_BELOW`] targets fit down the
    /// panel or twice as many across.
    pub fn new(panel: &Panel, large_text: bool) -> Look {
        let touch = panel.min_target_px().max(theme::TOUCH);
        let (across, down) = (panel.width_px as f32 / touch, panel.height_px as f32 / touch);
        Look { text_scale: if large_text { LARGE_TEXT } else { 1.0 }, touch, compact: down < COMPACT_BELOW || across < 2.0 * COMPACT_BELOW }
    }
}

/// Touch targets down the panel under which the layout is compact: 6.8
/// on 10.1" 1280×800, 9.6 on the default 15.6" 1920×1080.
pub const COMPACT_BELOW: f32 = 8.0;

/// `label` on two lines, broken at the space nearest its middle: the same
/// words, half as wide (the help bar of a compact layout).
pub fn two_lines(label: &str) -> String {
    let middle = label.chars().count() as f32 / 2.0;
    let off_middle = |i: usize| (label[..i].chars().count() as f32 - middle).abs();
    let at = label.char_indices().filter(|(_, c)| *c == ' ').map(|(i, _)| i).min_by(|&a, &b| off_middle(a).total_cmp(&off_middle(b)));
    match at {
        Some(i) => format!("{}\n{}", &label[..i], &label[i + 1..]),
        None => label.to_owned(),
    }
}

impl<'a> Context<'a> {
    /// A text size of the theme, as large as this resident reads it.
    pub fn text(&self, size: f32) -> f32 {
        (size * self.look.text_scale).round()
    }

    /// The touch target's smallest side, pixels.
    pub fn touch(&self) -> f32 {
        self.look.touch
    }

    /// Whether the panel is small (see [`Look::new`]).
    pub fn compact(&self) -> bool {
        self.look.compact
    }

    pub fn tr(&self, id: &str) -> String {
        self.words.tr(self.language, id, &[])
    }

    pub fn tr_with(&self, id: &str, args: &[(&str, Arg)]) -> String {
        self.words.tr(self.language, id, args)
    }

    pub fn service(&self, id: &ServiceId) -> Option<&'a Service> {
        self.catalogue.get(id)
    }

    /// The short name residents know the service by ("CAF").
    pub fn service_name(&self, id: &ServiceId) -> String {
        self.service(id).map(|s| s.short_name.clone()).unwrap_or_else(|| id.to_string())
    }

    pub fn is_today(&self, t: Timestamp) -> bool {
        let tz = self.catalogue.timezone();
        t.to_zoned(tz.clone()).date() == self.now.to_zoned(tz.clone()).date()
    }

    /// "aujourd'hui à 13:30", "demain à 08:30", "lundi à 08:30".
    pub fn when(&self, t: Timestamp) -> String {
        let tz = self.catalogue.timezone();
        let (then, today) = (t.to_zoned(tz.clone()), self.now.to_zoned(tz.clone()));
        let time: Arg = then.strftime("%H:%M").to_string().into();
        let days = (then.date() - today.date()).get_days();
        match days {
            0 => self.tr_with("when-today", &[("time", time)]),
            1 => self.tr_with("when-tomorrow", &[("time", time)]),
            _ => {
                let weekday = self.tr(&format!("weekday-{}", then.weekday().to_monday_one_offset()));
                self.tr_with("when-day", &[("weekday", weekday.into()), ("time", time)])
            }
        }
    }
}

/// A button with a text label, as large as a touch target: at least
/// `ctx.touch()` high and wide, the label centred at `size` (scaled).
/// Wrap it in [`target`] once styled.
pub fn touch<'a, M: 'a>(ctx: Context<'a>, label: String, size: f32) -> Button<'a, M> {
    let label = text(label).size(ctx.text(size)).center().height(Fill);
    button(column![Space::new().width(ctx.touch()), label].align_x(Center)).padding([4, 32]).height(ctx.touch())
}

/// Marks a touch target (a button, a tile) for the tests that check its
/// size on the panel; it lays out as the target itself.
pub fn target<'a, M: 'a>(control: impl Into<Element<'a, M>>) -> Element<'a, M> {
    container(control).id(TOUCH_TARGET).into()
}

/// A plain full-page message: title and one line, centred.
pub fn message_page<'a, M: 'a>(ctx: Context<'a>, title: String, line: Option<String>) -> Element<'a, M> {
    let mut content = column![text(title).size(ctx.text(theme::TITLE)).color(theme::PRIMARY).center()].spacing(theme::SPACE).align_x(iced::Center);
    if let Some(line) = line {
        content = content.push(text(line).size(ctx.text(theme::BODY)).center());
    }
    container(content).center(Length::Fill).padding(48).style(theme::container::page).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_lines_breaks_at_the_space_nearest_the_middle() {
        assert_eq!(two_lines("Appeler l'accueil"), "Appeler\nl'accueil");
        assert_eq!(two_lines("Facile à lire"), "Facile\nà lire");
        assert_eq!(two_lines("Annuler la demande d'aide"), "Annuler la\ndemande d'aide");
        assert_eq!(two_lines("Écouter"), "Écouter");
    }

    #[test]
    fn only_a_small_panel_is_compact() {
        let look = |diagonal_inches, width_px, height_px| Look::new(&Panel { diagonal_inches, width_px, height_px }, false).compact;
        assert!(look(10.1, 1280, 800));
        assert!(!look(15.6, 1920, 1080));
        assert!(!look(27.0, 1920, 1080));
    }
}
