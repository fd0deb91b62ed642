//! The scan steps on the call screen: where to put the paper (before the
//! agent scans, and between pages), the page being scanned, and, when the
//! service asks for it, the page on screen with "send it" or "do not".
//! Every sentence comes from the message catalogue, so it can be spoken.

use iced::widget::{column, container, image, row, text};
use iced::{Center, Element, Fill};
use visio_kiosk_core::DocumentView;

use super::Context;
use super::call::Message;
use crate::theme;

/// Where the paper goes: the glass, or the feeder too when the agent may
/// scan it whole.
pub fn place_key(feeder: bool) -> &'static str {
    if feeder { "scan-place-feeder" } else { "scan-place" }
}

/// The banner's pictogram and sentence for a scan step, if `document` is one.
pub fn banner_line(ctx: Context<'_>, document: &DocumentView) -> Option<(&'static str, String)> {
    let line = match document {
        DocumentView::ScanPlace { pages: 0, feeder } => format!("{}\n{}", ctx.tr(place_key(*feeder)), ctx.tr("scan-wait-agent")),
        DocumentView::ScanPlace { pages, .. } => {
            format!("{}\n{}", ctx.tr_with("scan-pages-done", &[("pages", (*pages).into())]), ctx.tr("scan-place-next"))
        }
        DocumentView::ScanningPage { page } => {
            format!("{}\n{}", ctx.tr_with("scan-page-scanning", &[("page", (*page).into())]), ctx.tr("scan-keep-still"))
        }
        DocumentView::ScanConsent { page, .. } => ctx.tr_with("scan-consent-question", &[("page", (*page).into())]),
        _ => return None,
    };
    Some(("scanner.svg", line))
}

/// The consent step: the page as it would leave, and the two answers.
pub fn consent<'a>(ctx: Context<'a>, preview: Option<&'a image::Handle>) -> Element<'a, Message> {
    let page: Element<'a, Message> = match preview {
        Some(p) => image(p.clone()).width(Fill).height(Fill).into(),
        None => container(text("…").size(ctx.text(theme::TITLE))).center(Fill).into(),
    };
    let answers = row![
        super::target(super::touch(ctx, ctx.tr("scan-consent-no"), theme::BODY).padding([4, 40]).style(theme::button::secondary).on_press(Message::ScanConsent(false))),
        super::target(super::touch(ctx, ctx.tr("scan-consent-yes"), theme::BODY).padding([4, 40]).style(theme::button::primary).on_press(Message::ScanConsent(true))),
    ]
    .spacing(theme::SPACE * 2.0);
    column![container(page).center(Fill).height(Fill), container(answers).center_x(Fill)].spacing(16).align_x(Center).into()
}
