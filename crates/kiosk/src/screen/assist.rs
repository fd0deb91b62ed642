//! The help bar on every screen ("Écouter / Stop", volume, easy-read,
//! "Appeler l'accueil") with, over it, where the call for the host stands
//! and the end screen's countdown; and, before any automatic return, the
//! warning with one large "Je suis encore là".

use std::time::Instant;

use iced::widget::{column, container, opaque, row, scrollable, stack, text};
use iced::{Center, Element, Fill};
use visio_kiosk_core::{Assist, AssistPrefs, AutoReturn, HostCall, Input, VOLUME_MAX};

use super::Context;
use crate::theme;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    Listen,
    Stop,
    Louder,
    Softer,
    EasyRead,
    LargeText,
    StillHere,
    CallHost,
    CancelHost,
}

pub fn update(message: Message) -> Input {
    Input::Assist(match message {
        Message::Listen => Assist::Listen,
        Message::Stop => Assist::StopSpeech,
        Message::Louder => Assist::VolumeUp,
        Message::Softer => Assist::VolumeDown,
        Message::EasyRead => Assist::EasyRead,
        Message::LargeText => Assist::LargeText,
        Message::StillHere => Assist::StillHere,
        Message::CallHost => Assist::CallHost,
        Message::CancelHost => Assist::CancelHost,
    })
}

/// What the help bar shows besides the words.
#[derive(Debug, Clone, Copy)]
pub struct State {
    pub prefs: AssistPrefs,
    pub speaking: bool,
    pub auto_return: Option<AutoReturn>,
    pub now: Instant,
    /// The end screen: its countdown shows all along.
    pub countdown_always: bool,
    /// The resident's call for the host.
    pub host: HostCall,
}

/// `screen` with the help bar under it and, when a return is near, the
/// warning over it.
pub fn frame<'a, M: Clone + 'a>(
    ctx: Context<'a>,
    screen: Element<'a, M>,
    state: State,
    wrap: impl Fn(Message) -> M + Copy + 'a,
) -> Element<'a, M> {
    let seconds = state.auto_return.map(|r| r.at.saturating_duration_since(state.now).as_secs_f32().ceil() as u32);
    let (listen_label, listen) = if state.speaking {
        (ctx.tr("assist-stop"), Message::Stop)
    } else {
        (ctx.tr("assist-listen"), Message::Listen)
    };
    let control = |label: String, message: Option<Message>, on: bool| {
        let style = if on { theme::button::primary } else { theme::button::secondary };
        // As tall as every other touch target: these are the controls a
        // resident who cannot read the screen hunts for first.
        // A small panel: each label on two lines, the same words at the
        // same size, so the bar stays on one line (#353).
        let (label, sides) = if ctx.compact() { (super::two_lines(&label), 8) } else { (label, 16) };
        super::target(super::touch(ctx, label, theme::SMALL).padding([4, sides]).style(style).on_press_maybe(message.map(wrap)))
    };
    let controls = row![
        control(listen_label, Some(listen), state.speaking),
        control(ctx.tr("assist-softer"), (state.prefs.volume > 0).then_some(Message::Softer), false),
        text(format!("{}/{}", state.prefs.volume, VOLUME_MAX)).size(ctx.text(theme::SMALL)),
        control(ctx.tr("assist-louder"), (state.prefs.volume < VOLUME_MAX).then_some(Message::Louder), false),
        control(ctx.tr("assist-easy"), Some(Message::EasyRead), state.prefs.easy_read),
        // Larger text, not a larger window: the bar and the targets keep
        // their place on the panel, so the way back stays in reach.
        control(ctx.tr("assist-large"), Some(Message::LargeText), state.prefs.large_text),
    ]
    .spacing(theme::SPACE * 0.75)
    .align_y(Center)
    // Longer words than ours (a translation): two lines rather than
    // squeezed targets.
    .wrap()
    .vertical_spacing(8);
    // At the far right, in the primary colour: the one control that
    // brings a person to the kiosk. Once asked, it cancels.
    let host = match state.host {
        HostCall::None => control(ctx.tr("host-call"), Some(Message::CallHost), true),
        HostCall::Pending | HostCall::Asked | HostCall::Coming => control(ctx.tr("host-cancel"), Some(Message::CancelHost), false),
    };
    let bar = row![container(controls).width(Fill), host].spacing(theme::SPACE * 0.75).align_y(Center);
    // Over the bar: where the call for the host stands, and the end
    // screen's countdown (the bar has no room left for them).
    let status = match state.host {
        HostCall::None => None,
        HostCall::Pending => Some(text(ctx.tr("host-pending")).size(ctx.text(theme::BODY))),
        HostCall::Asked => Some(text(ctx.tr("host-asked")).size(ctx.text(theme::BODY))),
        HostCall::Coming => Some(text(ctx.tr("host-coming")).size(ctx.text(theme::BODY)).color(theme::PRIMARY)),
    };
    let countdown = match (state.countdown_always, seconds) {
        (true, Some(seconds)) => Some(
            text(ctx.tr_with("return-countdown", &[("seconds", seconds.into())]))
                .size(ctx.text(theme::BODY))
                .wrapping(iced::widget::text::Wrapping::None),
        ),
        _ => None,
    };
    let strip = (status.is_some() || countdown.is_some()).then(|| {
        let mut strip = row![].spacing(theme::SPACE).align_y(Center);
        if let Some(status) = status {
            strip = strip.push(status);
        }
        if let Some(countdown) = countdown {
            strip = strip.push(container(countdown).align_right(Fill));
        }
        strip
    });
    // The bar keeps its place whatever the screen's content needs (large
    // text): the screen gives way, clipped.
    let screen = container(screen).height(Fill).clip(true).id(super::SCREEN_AREA);
    // The warning covers the screen, not the bar: "Écouter" still reads it.
    let screen: Element<'a, M> = match (state.auto_return, seconds) {
        (Some(AutoReturn { warning: true, .. }), Some(seconds)) => stack![screen, opaque(warning(ctx, seconds, state.prefs.easy_read, wrap))].into(),
        _ => screen.into(),
    };
    // One panel: the strip (when shown) over the bar.
    let mut panel = column![].spacing(8);
    if let Some(strip) = strip {
        panel = panel.push(strip);
    }
    let panel = container(panel.push(bar)).padding([8, 32]).width(Fill).style(theme::container::panel);
    column![screen, panel].into()
}

/// The warning before an automatic return: the words, the seconds left,
/// and the one large button that keeps the resident's screen.
fn warning<'a, M: Clone + 'a>(ctx: Context<'a>, seconds: u32, easy_read: bool, wrap: impl Fn(Message) -> M + 'a) -> Element<'a, M> {
    let id = if easy_read { "return-warning-falc" } else { "return-warning" };
    // A small panel: tighter margins keep the whole card over the bar.
    let (gap, margin, inside) = if ctx.compact() { (theme::SPACE, 8, 24) } else { (theme::SPACE * 1.5, 16, 32) };
    let card = column![
        text(ctx.tr_with(id, &[("seconds", seconds.into())])).size(ctx.text(theme::HEADING)).center(),
        text(ctx.tr_with("return-countdown", &[("seconds", seconds.into())])).size(ctx.text(theme::TITLE)).color(theme::PRIMARY),
        super::target(
            super::touch(ctx, ctx.tr("still-here"), theme::TITLE)
                .padding([4, 96])
                .height(ctx.touch() * 1.25)
                .style(theme::button::primary)
                .on_press(wrap(Message::StillHere))
        ),
    ]
    .spacing(gap)
    .align_x(Center)
    .max_width(ctx.text(1100.0));
    // On the page's own background: nothing of the screen behind shows
    // around the card.
    container(scrollable(container(card).padding(inside).style(theme::container::notice))).center(Fill).padding(margin).style(theme::container::page).into()
}
