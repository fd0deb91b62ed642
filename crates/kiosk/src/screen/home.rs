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
    let language = super::target(super::touch(ctx, ctx.tr("language-switch"), theme::BODY).style(theme::button::secondary).on_press(Message::SwitchLanguage));
    // A refusal's notice takes the subtitle's place, so the tiles keep
    // their size and nothing moves under the resident's finger.
    let subtitle: Element<'a, Message> = match notice {
        Some(notice) => notice_view(ctx, notice),
        None => text(ctx.tr("home-subtitle")).size(ctx.text(theme::BODY)).into(),
    };
    let header = row![
        column![text(ctx.tr("home-title")).size(ctx.text(theme::TITLE)).color(theme::PRIMARY), subtitle].spacing(8).width(Fill),
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

    // A small panel gives the tiles the margins' height (#353).
    let (gap, margin) = if ctx.compact() { (theme::SPACE * 0.75, 24) } else { (theme::SPACE * 1.5, 40) };
    let page = column![header, grid.height(Fill)].spacing(gap);
    container(page).padding(margin).width(Fill).height(Fill).style(theme::container::page).into()
}

fn tile<'a>(ctx: Context<'a>, id: &ServiceId) -> Option<Element<'a, Message>> {
    let service = ctx.service(id)?;
    let status = status_line(ctx, service);
    let open = matches!(ctx.catalogue.state_at(service, ctx.now), ServiceState::Open { .. });
    let name = match ctx.language {
        visio_kiosk_core::Language::Fr => &service.name.fr,
        visio_kiosk_core::Language::En => &service.name.en,
    };
    // A closed service's tile is drawn closed (grey, dark ink, "Fermé"
    // first); a touch still says when it opens.
    let ink = if open { theme::WHITE } else { theme::INK };
    // The pictogram grows with the words it stands beside; on a small
    // panel it stays at its normal size, and "Fermé" stands beside it.
    let picture = if ctx.compact() { 56.0 } else { ctx.text(56.0) };
    let picture = svg(assets::pictogram(&service.pictogram)).width(picture).height(picture).style(move |_, _| svg::Style { color: Some(ink) });
    let closed = (!open && !status.starts_with(&ctx.tr("service-closed")))
        .then(|| text(ctx.tr("service-closed")).size(ctx.text(theme::TILE_NAME)).font(theme::bold()));
    let mut content = column![].spacing(6).align_x(Center);
    content = match closed {
        Some(closed) if ctx.compact() => content.push(row![picture, closed].spacing(12).align_y(Center)),
        Some(closed) => content.push(closed).push(picture),
        None => content.push(picture),
    };
    // The opening line matters most after the name: bold, and never cut.
    let content = content
        .push(text(service.short_name.clone()).size(ctx.text(theme::TILE_NAME)).center())
        .push(text(name.clone()).size(ctx.text(theme::TILE_LINE)).center().height(Length::Shrink))
        .push(text(status).size(ctx.text(theme::TILE_LINE)).font(theme::bold()).center());
    let colour = theme::hex(&service.colour);
    let style = move |t: &iced::Theme, s| {
        if open { theme::button::service_tile(colour)(t, s) } else { theme::button::service_tile_closed()(t, s) }
    };
    Some(super::target(button(container(content).center(Fill)).width(Fill).height(Fill).padding(10).style(style).on_press(Message::Choose(id.clone()))))
}

fn notice_view<'a>(ctx: Context<'a>, notice: &Notice) -> Element<'a, Message> {
    container(text(notice_line(ctx, notice)).size(ctx.text(theme::BODY))).padding([12, 20]).width(Fill).style(theme::container::notice).into()
}

/// Why the last request was refused, in the resident's words.
pub fn notice_line(ctx: Context<'_>, notice: &Notice) -> String {
    let name = ctx.service_name(&notice.service);
    match &notice.reason {
        RefusalReason::Closed { next_opening: Some(t) } => {
            ctx.tr_with("notice-closed", &[("service", name.into()), ("when", ctx.when(*t).into())])
        }
        RefusalReason::Closed { next_opening: None } => ctx.tr_with("notice-closed-unknown", &[("service", name.into())]),
        RefusalReason::Busy => ctx.tr("notice-busy"),
        RefusalReason::UnknownService => ctx.tr("notice-unknown"),
    }
}

/// A service's opening line as its tile shows it ("Ouvert jusqu'à 17:00",
/// "Ouvre demain à 08:30"); the speech says the same.
pub fn status_line(ctx: Context<'_>, service: &visio_config::Service) -> String {
    let tz = ctx.catalogue.timezone().clone();
    match ctx.catalogue.state_at(service, ctx.now) {
        ServiceState::Open { closes_at } => match closes_at.to_zoned(tz).strftime("%H:%M").to_string() {
            // Open until midnight (or round the clock): just "open".
            midnight if midnight == "00:00" => ctx.tr("service-open-late"),
            time => ctx.tr_with("service-open", &[("time", time.into())]),
        },
        ServiceState::Closed { next_opening: Some(t) } if ctx.is_today(t) => {
            let time = t.to_zoned(tz).strftime("%H:%M").to_string();
            ctx.tr_with("service-opens-today", &[("time", time.into())])
        }
        ServiceState::Closed { next_opening: Some(t) } => ctx.tr_with("service-closed-opens", &[("when", ctx.when(t).into())]),
        ServiceState::Closed { next_opening: None } => ctx.tr("service-closed"),
    }
}
