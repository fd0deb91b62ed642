//! Out of service: a calm message while the kiosk keeps retrying by itself.

use iced::widget::{column, container, svg, text};
use iced::{Center, Element, Fill};
use visio_kiosk_core::OutOfService;

use super::Context;
use crate::{assets, theme};

pub fn view<'a, M: 'a>(ctx: Context<'a>, reason: OutOfService) -> Element<'a, M> {
    let line = match reason {
        OutOfService::HubUnreachable => ctx.tr("oos-hub"),
        OutOfService::CameraMissing => ctx.tr("oos-camera"),
        OutOfService::SoundMissing => ctx.tr("oos-sound"),
    };
    let content = column![
        svg(assets::pictogram("connection.svg")).width(140).height(140).style(|_, _| svg::Style { color: Some(theme::PRIMARY) }),
        text(ctx.tr("oos-title")).size(ctx.text(theme::TITLE)).color(theme::PRIMARY).center(),
        text(line).size(ctx.text(theme::BODY)).center(),
    ]
    .spacing(theme::SPACE)
    .align_x(Center)
    .max_width(ctx.text(1100.0));
    container(content).center(Fill).padding(48).style(theme::container::page).into()
}
