//! Being called back: a closed service's offer (or a long wait's), the
//! next free slots as large buttons in local time, the booking, and its
//! confirmation with the reference to keep. The same lines are spoken
//! (`lines`, used by `speech::words`).

use iced::widget::{column, container, row, scrollable, text};
use iced::{Center, Element, Fill};
use jiff::Timestamp;
use visio_kiosk_core::{Callback, CallbackStage, CallbackWhy, Input};
use visio_protocol::ServiceId;

use super::Context;
use crate::theme;

#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// "Être rappelé" on the offer.
    Ask,
    Choose(Timestamp),
    /// "Retour" (to the line or home) and "Terminé".
    Close,
}

pub fn update(message: Message) -> Input {
    match message {
        Message::Ask => Input::AskCallback,
        Message::Choose(start) => Input::ChooseCallbackSlot(start),
        Message::Close => Input::CloseCallback,
    }
}

/// The title and the sentences of the screen, in order: what is shown
/// above the buttons, and what is said.
pub fn lines(ctx: Context<'_>, service: &ServiceId, why: CallbackWhy, stage: &CallbackStage) -> (String, Vec<String>) {
    let name = ctx.service_name(service);
    let offer = || match why {
        CallbackWhy::Closed { next_opening: Some(t) } => vec![
            ctx.tr_with("notice-closed", &[("service", name.clone().into()), ("when", ctx.when(t).into())]),
            ctx.tr_with("callback-offer", &[("service", name.clone().into())]),
        ],
        CallbackWhy::Closed { next_opening: None } => vec![
            ctx.tr_with("notice-closed-unknown", &[("service", name.clone().into())]),
            ctx.tr_with("callback-offer", &[("service", name.clone().into())]),
        ],
        CallbackWhy::LongWait { .. } => vec![ctx.tr_with("callback-long-wait", &[("service", name.clone().into())])],
    };
    match stage {
        CallbackStage::Offer => (ctx.tr("callback-title"), offer()),
        CallbackStage::Asking { retaken } => {
            let mut lines = if *retaken { vec![ctx.tr("callback-retaken")] } else { vec![] };
            lines.push(ctx.tr("callback-asking"));
            (ctx.tr("callback-title"), lines)
        }
        CallbackStage::Choosing { minutes, retaken, .. } => {
            let mut lines = if *retaken { vec![ctx.tr("callback-retaken")] } else { vec![] };
            lines.push(ctx.tr_with("callback-choose", &[("minutes", (*minutes).into())]));
            (ctx.tr("callback-title"), lines)
        }
        CallbackStage::NoSlots => (ctx.tr("callback-title"), vec![ctx.tr_with("callback-no-slots", &[("service", name.into())])]),
        CallbackStage::Unavailable => (ctx.tr("callback-title"), vec![ctx.tr("callback-unavailable")]),
        CallbackStage::Booking { start } => (ctx.tr("callback-title"), vec![ctx.tr_with("callback-booking", &[("when", ctx.when(*start).into())])]),
        CallbackStage::Booked { reference, start, .. } => (
            ctx.tr("callback-booked-title"),
            vec![
                ctx.tr_with("callback-booked", &[("service", name.clone().into()), ("when", ctx.when(*start).into())]),
                ctx.tr_with("callback-reference", &[("reference", reference.as_str().into())]),
                ctx.tr_with("callback-booked-come", &[("service", name.into())]),
            ],
        ),
    }
}

/// A slot as its button says it: "Demain à 09:15".
pub fn slot_label(ctx: Context<'_>, start: Timestamp) -> String {
    let when = ctx.when(start);
    let mut chars = when.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or(when)
}

/// `printer`: the kiosk prints a slip of a booked callback.
pub fn view<'a>(ctx: Context<'a>, callback: &'a Callback, printer: bool) -> Element<'a, Message> {
    let (title, lines) = lines(ctx, &callback.service, callback.why, &callback.stage);
    let (gap, margin) = if ctx.compact() { (theme::SPACE * 0.5, 24) } else { (theme::SPACE, 40) };
    let mut card = column![text(title).size(ctx.text(theme::TITLE)).color(theme::PRIMARY).center()].spacing(gap).align_x(Center);
    let booked = matches!(callback.stage, CallbackStage::Booked { .. });
    for (i, line) in lines.into_iter().enumerate() {
        // The reference stands out: the resident keeps it.
        let line = if booked && i == 1 {
            text(line).size(ctx.text(theme::HEADING)).font(theme::bold()).color(theme::PRIMARY)
        } else {
            text(line).size(ctx.text(theme::BODY))
        };
        card = card.push(line.center());
    }
    if booked && printer {
        card = card.push(container(text(ctx.tr("callback-slip")).size(ctx.text(theme::BODY)).center()).padding([12, 20]).style(theme::container::notice));
    }
    let button = |label: String, message: Message, primary: bool| {
        let style = if primary { theme::button::primary } else { theme::button::secondary };
        super::target(super::touch(ctx, label, theme::HEADING).padding([4, 48]).style(style).on_press(message))
    };
    let back = match (&callback.place, &callback.stage) {
        (_, CallbackStage::Booked { .. }) => button(ctx.tr("callback-done"), Message::Close, true),
        (Some(_), _) => button(ctx.tr("callback-back-line"), Message::Close, false),
        (None, _) => button(ctx.tr("callback-back-home"), Message::Close, false),
    };
    match &callback.stage {
        CallbackStage::Offer => {
            let ask = button(ctx.tr("callback-ask"), Message::Ask, true);
            card = card.push(row![ask, back].spacing(theme::SPACE).align_y(Center));
        }
        CallbackStage::Choosing { slots, .. } => {
            // Two by two: four 2 cm targets fit every panel.
            let mut grid = column![].spacing(theme::SPACE * 0.75).align_x(Center);
            for pair in slots.chunks(2) {
                let mut line = row![].spacing(theme::SPACE);
                for start in pair {
                    let label = slot_label(ctx, *start);
                    line = line.push(super::target(
                        super::touch(ctx, label, theme::HEADING)
                            .width(ctx.text(420.0).max(ctx.touch()))
                            .style(theme::button::primary)
                            .on_press(Message::Choose(*start)),
                    ));
                }
                grid = grid.push(line);
            }
            card = card.push(grid).push(back);
        }
        _ => card = card.push(back),
    }
    container(scrollable(container(card).padding(margin).max_width(ctx.text(1300.0)).style(theme::container::panel)))
        .center(Fill)
        .padding(margin / 2)
        .style(theme::container::page)
        .into()
}
