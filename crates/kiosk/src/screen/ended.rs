//! Ended: thanks, an optional three-face rating, then home by itself.

use iced::widget::{button, column, container, row, scrollable, svg, text};
use iced::{Center, Element, Fill};
use visio_kiosk_core::{Ended, EndedReason, Input};
use visio_protocol::{EndReason, Rating};

use super::Context;
use crate::{assets, theme};

#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Rate(Rating),
}

pub fn update(message: Message) -> Input {
    match message {
        Message::Rate(rating) => Input::Rate(rating),
    }
}

pub fn view<'a>(ctx: Context<'a>, ended: &'a Ended) -> Element<'a, Message> {
    let reason = match ended.reason {
        EndedReason::Hub(EndReason::AgentHungUp | EndReason::AgentDisconnected) => Some(ctx.tr("ended-agent-left")),
        EndedReason::CallFailed | EndedReason::Hub(EndReason::HubShutdown) => Some(ctx.tr("ended-failed")),
        EndedReason::Hub(_) => None,
    };
    let mut content = column![text(ctx.tr("ended-thanks")).size(ctx.text(theme::TITLE)).color(theme::PRIMARY)]
        .spacing(theme::SPACE * 1.5)
        .align_x(Center);
    if let Some(reason) = reason {
        content = content.push(text(reason).size(ctx.text(theme::BODY)));
    }
    match ended.rated {
        Some(_) => content = content.push(text(ctx.tr("ended-rated")).size(ctx.text(theme::HEADING))),
        None => {
            content = content.push(text(ctx.tr("ended-rate")).size(ctx.text(theme::HEADING)));
            content = content.push(
                row![
                    face(ctx, Rating::Unhappy, "face-unhappy.svg", "rate-unhappy"),
                    face(ctx, Rating::Neutral, "face-neutral.svg", "rate-neutral"),
                    face(ctx, Rating::Happy, "face-happy.svg", "rate-happy"),
                ]
                .spacing(theme::SPACE * 2.0),
            );
        }
    }
    // Scrolls rather than squeezes the faces on a small panel.
    container(scrollable(content)).center(Fill).padding(32).style(theme::container::page).into()
}

fn face<'a>(ctx: Context<'a>, rating: Rating, file: &str, label: &str) -> Element<'a, Message> {
    let content = column![
        svg(assets::pictogram(file)).width(96).height(96).style(|_, _| svg::Style { color: Some(theme::WHITE) }),
        text(ctx.tr(label)).size(ctx.text(theme::BODY)),
    ]
    .spacing(12)
    .align_x(Center);
    let width = ctx.text(240.0).max(ctx.touch());
    super::target(button(container(content).center_x(Fill)).width(width).padding(24).style(theme::button::primary).on_press(Message::Rate(rating)))
}
