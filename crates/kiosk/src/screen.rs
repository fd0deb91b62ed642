//! One module per screen, each with its `Message`, an `update` that turns
//! the resident's touch into a session-core input, and a `view` of the
//! core's state. Screens never switch screens: the core decides.

pub mod assist;
pub mod call;
pub mod document;
pub mod ended;
pub mod home;
pub mod out_of_service;
pub mod scan;
pub mod sign;
pub mod waiting;

use iced::widget::{column, container, text};
use iced::{Element, Length};
use jiff::Timestamp;
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
}

impl<'a> Context<'a> {
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

/// A plain full-page message: title and one line, centred.
pub fn message_page<'a, M: 'a>(title: String, line: Option<String>) -> Element<'a, M> {
    let mut content = column![text(title).size(theme::TITLE).color(theme::PRIMARY)].spacing(theme::SPACE).align_x(iced::Center);
    if let Some(line) = line {
        content = content.push(text(line).size(theme::BODY).center());
    }
    container(content).center(Length::Fill).padding(48).style(theme::container::page).into()
}
