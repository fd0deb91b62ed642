//! Home: one large tile per service, open or when it opens, and the
//! language switch.

use iced::widget::{button, column, container, row, svg, text};
use iced::{Center, Element, Fill, Length};
use visio_config::ServiceState;
use visio_kiosk_core::{Input, Language, Notice};
use visio_protocol::{RefusalReason, ServiceId};

use super::Context;
use crate::{assets, theme};

#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Choose(ServiceId),
    SwitchLanguage,
}

pub fn update(message: Message, language: Language) -> Input {
    match message {
        Message::Choose(service) => Input::ChooseService(service),
        Message::SwitchLanguage => Input::SetLanguage(match language {
            Language::Fr => Language::En,
            Language::En => Language::Fr,
        }),
    }
}

/// Tiles per row: four fit a 16:9 screen with 2 cm targets and large type.
const PER_ROW: usize = 4;

pub fn view<'a>(ctx: Context<'a>, notice: Option<&'a Notice>) -> Element<'a, Message> {
    let language = button(text(ctx.tr("language-switch")).size(theme::BODY))
        .padding([20, 36])
        .height(theme::TOUCH)
        .style(theme::button::secondary)
        .on_press(Message::SwitchLanguage);
    let header = row![
        column![
            text(ctx.tr("home-title")).size(theme::TITLE).color(theme::PRIMARY),
            text(ctx.tr("home-subtitle")).size(theme::BODY),
        ]
        .spacing(8)
        .width(Fill),
        language,
    ]
    .align_y(Center)
    .spacing(theme::SPACE);

    let tiles: Vec<Element<'a, Message>> = ctx.offered.iter().filter_map(|id| tile(ctx, id)).collect();
    let mut grid = column![].spacing(theme::SPACE);
    let mut tiles = tiles.into_iter().peekable();
    while tiles.peek().is_some() {
        let mut line = row![].spacing(theme::SPACE).height(Length::FillPortion(1));
        for tile in tiles.by_ref().take(PER_ROW) {
            line = line.push(tile);
        }
        grid = grid.push(line);
    }

    let mut page = column![header].spacing(theme::SPACE * 1.5);
    if let Some(notice) = notice {
        page = page.push(notice_view(ctx, notice));
    }
    page = page.push(grid.height(Fill));
    container(page).padding(40).width(Fill).height(Fill).style(theme::container::page).into()
}

fn tile<'a>(ctx: Context<'a>, id: &ServiceId) -> Option<Element<'a, Message>> {
    let service = ctx.service(id)?;
    let status = match ctx.catalogue.state_at(service, ctx.now) {
        ServiceState::Open { closes_at } => {
            let time = closes_at.to_zoned(ctx.catalogue.timezone().clone()).strftime("%H:%M").to_string();
            ctx.tr_with("service-open", &[("time", time.into())])
        }
        ServiceState::Closed { next_opening: Some(t) } => ctx.tr_with("service-closed-opens", &[("when", ctx.when(t).into())]),
        ServiceState::Closed { next_opening: None } => ctx.tr("service-closed"),
    };
    let name = match ctx.language {
        visio_kiosk_core::Language::Fr => &service.name.fr,
        visio_kiosk_core::Language::En => &service.name.en,
    };
    let content = column![
        svg(assets::pictogram(&service.pictogram)).width(96).height(96).style(|_, _| svg::Style { color: Some(theme::WHITE) }),
        text(service.short_name.clone()).size(theme::HEADING),
        text(name.clone()).size(theme::SMALL).center(),
        text(status).size(theme::SMALL).center(),
    ]
    .spacing(10)
    .align_x(Center);
    Some(
        button(container(content).center(Fill))
            .width(Fill)
            .height(Fill)
            .padding(16)
            .style(theme::button::service_tile(theme::hex(&service.colour)))
            .on_press(Message::Choose(id.clone()))
            .into(),
    )
}

fn notice_view<'a>(ctx: Context<'a>, notice: &Notice) -> Element<'a, Message> {
    let name = ctx.service_name(&notice.service);
    let line = match &notice.reason {
        RefusalReason::Closed { next_opening: Some(t) } => {
            ctx.tr_with("notice-closed", &[("service", name.into()), ("when", ctx.when(*t).into())])
        }
        RefusalReason::Closed { next_opening: None } => ctx.tr_with("notice-closed-unknown", &[("service", name.into())]),
        RefusalReason::Busy => ctx.tr("notice-busy"),
        RefusalReason::UnknownService => ctx.tr("notice-unknown"),
    };
    container(text(line).size(theme::BODY)).padding(24).width(Fill).style(theme::container::notice).into()
}
