//! The scan steps on the call screen: where to put the paper (before the
//! agent scans, and between pages), the page being scanned, and, when the
//! service asks for it, the page on screen with "send it" or "do not".
//! Every sentence comes from the message catalogue, so it can be spoken.

use iced::widget::{column, container, image, row, text};
use iced::{Center, Element, Fill, Length};
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
/// On a small panel the question stands with the answers, beside the
/// page, and the banner under the call gives way (#353).
pub fn consent<'a>(ctx: Context<'a>, page_number: u32, preview: Option<&'a image::Handle>) -> Element<'a, Message> {
    let page: Element<'a, Message> = match preview {
        Some(p) => image(p.clone()).width(Fill).height(Fill).into(),
        None => container(text("…").size(ctx.text(theme::TITLE))).center(Fill).into(),
    };
    let answer = |key: &str| if ctx.compact() { super::two_lines(&ctx.tr(key)) } else { ctx.tr(key) };
    let no = super::target(super::touch(ctx, answer("scan-consent-no"), theme::BODY).padding([4, 40]).style(theme::button::secondary).on_press(Message::ScanConsent(false)));
    let yes = super::target(super::touch(ctx, answer("scan-consent-yes"), theme::BODY).padding([4, 40]).style(theme::button::primary).on_press(Message::ScanConsent(true)));
    let answers = row![no, yes].spacing(theme::SPACE * 2.0);
    if ctx.compact() {
        let question = ctx.tr_with("scan-consent-question", &[("page", page_number.into())]);
        let side = column![
            // Body size: as large as any sentence of the kiosk's, where a
            // heading would leave the answers no height.
            container(text(question).size(ctx.text(theme::BODY))).padding(24).width(Fill).style(theme::container::banner),
            answers
        ]
        .spacing(theme::SPACE)
        .align_x(Center);
        // The page is as tall as the area whatever its width: the words get
        // the wider part.
        let page = container(page).center(Fill).width(Length::FillPortion(1));
        return row![page, container(side).center_y(Fill).width(Length::FillPortion(2))].spacing(theme::SPACE * 2.0).into();
    }
    column![container(page).center(Fill).height(Fill), container(answers).center_x(Fill)].spacing(16).align_x(Center).into()
}
