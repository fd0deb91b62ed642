//! Waiting: the place in the queue and the estimated wait, live, and a
//! clear "Cancel".

use std::time::Duration;

use iced::widget::{column, container, row, scrollable, svg, text};
use iced::{Center, Element, Fill};
use visio_kiosk_core::{Input, Waiting};
use visio_protocol::ServiceId;

use super::Context;
use crate::{assets, theme};

#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Cancel,
    /// "Être rappelé plutôt" (a long wait, on a hub that books callbacks).
    Callback,
}

pub fn update(message: Message) -> Input {
    match message {
        Message::Cancel => Input::Cancel,
        Message::Callback => Input::AskCallback,
    }
}

/// `elapsed`: how long the resident has waited, shown from the first minute;
/// `callback`: the wait is long and the hub books callbacks.
pub fn view<'a>(ctx: Context<'a>, waiting: &'a Waiting, elapsed: Option<Duration>, callback: bool) -> Element<'a, Message> {
    let service = ctx.service_name(&waiting.service);
    let estimate = match waiting.estimated_wait {
        None => ctx.tr("waiting-estimate-unknown"),
        // The hub says 0 when an agent is free for this resident now.
        Some(d) if d.is_zero() => ctx.tr("waiting-agent-free"),
        Some(d) if d.as_secs() < 60 => ctx.tr("waiting-estimate-soon"),
        // Rounded up: a promise kept is better than one broken.
        Some(d) => ctx.tr_with("waiting-estimate", &[("minutes", (d.as_secs().div_ceil(60) as u32).into())]),
    };
    let picture = svg(pictogram(ctx, &waiting.service)).width(96).height(96).style(|_, _| svg::Style { color: Some(theme::PRIMARY) });
    let title = match &waiting.transferred_from {
        // Handed over by the agent: where to, and that they come first.
        Some(_) => ctx.tr_with("waiting-transferred", &[("service", service.into()), ("position", waiting.position.into())]),
        None => ctx.tr_with("waiting-title", &[("service", service.into())]),
    };
    let title = text(title).size(ctx.text(theme::TITLE)).color(theme::PRIMARY).center();
    // A small panel: the pictogram beside the title, so "Annuler" stays
    // above the help bar without scrolling (#353).
    let (gap, margin) = if ctx.compact() { (theme::SPACE * 0.75, 24) } else { (theme::SPACE, 40) };
    let mut card = if ctx.compact() {
        column![row![picture, title].spacing(theme::SPACE).align_y(Center)]
    } else {
        column![picture, title]
    }
    .spacing(gap)
    .align_x(Center);
    if waiting.transferred_from.is_none() {
        card = card.push(text(ctx.tr_with("waiting-position", &[("position", waiting.position.into())])).size(ctx.text(theme::HEADING)).center());
    }
    card = card.push(text(estimate).size(ctx.text(theme::BODY)).center());
    if let Some(minutes) = elapsed.map(|e| e.as_secs() / 60).filter(|m| *m >= 1) {
        card = card.push(text(ctx.tr_with("waiting-elapsed", &[("minutes", (minutes as u32).into())])).size(ctx.text(theme::BODY)).center());
    }
    if waiting.hub_lost {
        // The place is kept while the kiosk reconnects.
        card = card.push(
            container(text(ctx.tr("waiting-reconnecting")).size(ctx.text(theme::HEADING)).center())
                .padding(24)
                .style(theme::container::banner),
        );
    }
    if waiting.presence_check {
        card = card.push(
            container(text(ctx.tr("presence-question")).size(ctx.text(theme::HEADING)).center())
                .padding(24)
                .style(theme::container::notice),
        );
    }
    let cancel = super::target(
        super::touch(ctx, ctx.tr("waiting-cancel"), theme::HEADING).padding([4, 80]).style(theme::button::secondary).on_press(Message::Cancel),
    );
    card = card.push(if callback {
        let ask = super::touch(ctx, ctx.tr("waiting-callback"), theme::HEADING).padding([4, 48]).style(theme::button::primary).on_press(Message::Callback);
        Element::from(row![super::target(ask), cancel].spacing(theme::SPACE).align_y(Center))
    } else {
        cancel
    });
    // Scrolls rather than squeezes its button on a small panel with large
    // text (a 1920×1080 one never needs it).
    container(scrollable(container(card).padding(margin).max_width(ctx.text(1100.0)).style(theme::container::panel)))
        .center(Fill)
        .padding(margin / 2)
        .style(theme::container::page)
        .into()
}

fn pictogram(ctx: Context<'_>, id: &ServiceId) -> svg::Handle {
    assets::pictogram(ctx.service(id).map(|s| s.pictogram.as_str()).unwrap_or("demo.svg"))
}
