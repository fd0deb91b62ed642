//! In call: the agent large, the resident small, a call timer, "End call"
//! with confirmation, and whatever the agent does with documents.

use std::time::Duration;

use iced::widget::{column, container, image, opaque, progress_bar, row, stack, svg, text};
use iced::{Center, Element, Fill};
use visio_kiosk_core::{DocumentView, InCall, Input, MediaState};

use super::Context;
use crate::{assets, theme};

#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    HangUp,
    ConfirmHangUp,
    KeepCall,
    /// The resident's answer on the scan consent step.
    ScanConsent(bool),
    /// A touch on the signing step.
    Sign(super::sign::Message),
}

/// A touch on the call screen, as a session input; the signing step's
/// strokes stay in `pad` until the resident signs.
pub fn update(message: Message, pad: &mut super::sign::Pad, document: Option<&DocumentView>) -> Option<Input> {
    Some(match message {
        Message::HangUp => Input::HangUp,
        Message::ConfirmHangUp => Input::ConfirmHangUp,
        Message::KeepCall => Input::KeepCall,
        Message::ScanConsent(accept) => Input::ScanConsent { accept },
        Message::Sign(m) => {
            let area = match document {
                Some(DocumentView::Signing { area, .. }) => Some(*area),
                _ => None,
            };
            return pad.update(m, area);
        }
    })
}

/// The pictures the call screen shows; the app keeps them up to date.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pictures<'a> {
    pub remote: Option<&'a image::Handle>,
    pub local: Option<&'a image::Handle>,
    /// The page of the document being shown, once drawn.
    pub page: Option<&'a super::document::ShownPage>,
    /// The scanned page the resident is asked about.
    pub scan_preview: Option<&'a image::Handle>,
    /// The resident's strokes on the signing step.
    pub signature: Option<&'a super::sign::Pad>,
}

pub fn view<'a>(ctx: Context<'a>, call: &'a InCall, elapsed: Duration, pictures: Pictures<'a>) -> Element<'a, Message> {
    let secs = elapsed.as_secs();
    let mut top = row![text(ctx.tr_with("call-with", &[("agent", call.agent_name.clone().into())])).size(ctx.text(theme::HEADING)).width(Fill)]
        .spacing(theme::SPACE * 2.0)
        .align_y(Center)
        .padding([16, 32]);
    if let DocumentView::Showing { pages, view, .. } = &call.document
        && let Some(count) = super::document::page_count(ctx, *pages, *view)
    {
        top = top.push(count);
    }
    let top = top.push(text(format!("{:02}:{:02}", secs / 60, secs % 60)).size(ctx.text(theme::HEADING)));

    let main: Element<'a, Message> = match &call.document {
        DocumentView::Showing { view, .. } => super::document::page(pictures.page, *view),
        DocumentView::ScanConsent { page, .. } => super::scan::consent(ctx, *page, pictures.scan_preview),
        DocumentView::Signing { area, .. } => match pictures.signature {
            Some(pad) => super::sign::view(ctx, pictures.page, *area, pad).map(Message::Sign),
            None => video(ctx, call, pictures),
        },
        _ => video(ctx, call, pictures),
    };

    let mut bottom = column![].spacing(16).padding([16, 32]);
    if let DocumentView::Showing { .. } = &call.document {
        // One row under a shown page, so the page gets the screen's height:
        // what it is, the agent (small, never over the page), end call.
        let mut line = row![super::document::caption(ctx).width(Fill)].spacing(theme::SPACE).align_y(Center);
        if let Some(remote) = pictures.remote {
            line = line.push(image(remote.clone()).width(192).height(108));
        }
        bottom = bottom.push(line.push(end_call(ctx, 40)));
    } else if let DocumentView::Signing { area, .. } = &call.document {
        // What to do beside "End call", the answers under it: the page
        // keeps the screen's height (the agent is heard meanwhile).
        let signed = pictures.signature.is_some_and(|p| p.signed(*area));
        bottom = bottom.push(row![container(super::sign::instruction(ctx)).width(Fill), end_call(ctx, 40)].spacing(theme::SPACE).align_y(Center));
        bottom = bottom.push(super::sign::answers(ctx, signed).map(Message::Sign));
    } else if let Some(banner) = document_banner(ctx, &call.document) {
        // Beside the instruction, so the agent keeps the screen's height.
        bottom = bottom.push(row![banner, end_call(ctx, 40)].spacing(theme::SPACE).align_y(Center));
    } else {
        bottom = bottom.push(container(end_call(ctx, 64)).center_x(Fill));
    }

    let screen = container(column![top, container(main).height(Fill).padding([0, 32]), bottom])
        .width(Fill)
        .height(Fill)
        .style(theme::container::stage);

    if call.confirm_hang_up {
        stack![screen, opaque(confirm(ctx))].into()
    } else {
        screen.into()
    }
}

fn video<'a>(ctx: Context<'a>, call: &'a InCall, pictures: Pictures<'a>) -> Element<'a, Message> {
    let remote: Element<'a, Message> = match (pictures.remote, call.media) {
        (Some(frame), _) => image(frame.clone()).width(Fill).height(Fill).into(),
        (None, _) => container(text(ctx.tr("call-connecting")).size(ctx.text(theme::HEADING))).center(Fill).into(),
    };
    let mut layers = stack![container(remote).center(Fill)];
    if call.media == MediaState::Reconnecting {
        layers = layers.push(
            container(container(text(ctx.tr("call-reconnecting")).size(ctx.text(theme::HEADING))).padding(24).style(theme::container::banner))
                .center_x(Fill)
                .padding(24),
        );
    }
    // The self view sits beside the agent's picture, never on it: the
    // resident sees all of the agent's face and what they hold up.
    match pictures.local {
        Some(local) => {
            let self_view = column![image(local.clone()).width(SELF_VIEW.0).height(SELF_VIEW.1), text(ctx.tr("call-you")).size(ctx.text(theme::SMALL))].spacing(4);
            row![layers, container(self_view).align_bottom(Fill)].spacing(theme::SPACE).into()
        }
        None => layers.into(),
    }
}

/// The resident's own picture: enough to see they are in frame, small
/// beside the agent's (16:9, as the camera sends).
const SELF_VIEW: (f32, f32) = (240.0, 135.0);

/// The red "End call" button, `sides` pixels of padding either side.
fn end_call<'a>(ctx: Context<'a>, sides: u16) -> Element<'a, Message> {
    super::target(super::touch(ctx, ctx.tr("call-end"), theme::HEADING).padding([4, sides]).style(theme::button::danger).on_press(Message::HangUp))
}

/// A full-width instruction while the agent works on a document.
fn document_banner<'a>(ctx: Context<'a>, document: &DocumentView) -> Option<Element<'a, Message>> {
    let (icon, line, progress) = match document {
        DocumentView::None | DocumentView::Showing { .. } | DocumentView::Signing { .. } => return None,
        DocumentView::SignSending { .. } => ("connection.svg", ctx.tr("sign-sending"), None),
        DocumentView::Signed { .. } => ("connection.svg", ctx.tr("sign-sent"), None),
        DocumentView::SignRefused { .. } => ("connection.svg", ctx.tr("sign-refused"), None),
        // A small panel: the question stands beside the page (scan.rs).
        DocumentView::ScanConsent { .. } if ctx.compact() => return None,
        step @ (DocumentView::ScanPlace { .. } | DocumentView::ScanningPage { .. } | DocumentView::ScanConsent { .. }) => {
            let (icon, line) = super::scan::banner_line(ctx, step)?;
            (icon, line, None)
        }
        DocumentView::Scanning { percent: None } => ("scanner.svg", format!("{}\n{}", ctx.tr("scan-place"), ctx.tr("scan-waiting")), None),
        DocumentView::Scanning { percent: Some(p) } => (
            "scanner.svg",
            format!("{}\n{}", ctx.tr("scan-place"), ctx.tr_with("scan-progress", &[("percent", u32::from(*p).into())])),
            Some(f32::from(*p)),
        ),
        DocumentView::ScanSent { .. } => ("scanner.svg", ctx.tr("scan-sent"), None),
        DocumentView::Printing { .. } => ("printer.svg", ctx.tr("print-printing"), None),
        DocumentView::Printed { .. } => ("printer.svg", ctx.tr("print-done"), None),
        DocumentView::Failed { .. } => ("connection.svg", ctx.tr("doc-failed"), None),
    };
    let mut content = column![text(line).size(ctx.text(theme::HEADING))].spacing(12).width(Fill);
    if let Some(p) = progress {
        content = content.push(progress_bar(0.0..=100.0, p).girth(20));
    }
    Some(
        container(
            row![svg(assets::pictogram(icon)).width(96).height(96).style(|_, _| svg::Style { color: Some(theme::WHITE) }), content]
                .spacing(theme::SPACE)
                .align_y(Center),
        )
        .padding(24)
        .width(Fill)
        .style(theme::container::banner)
        .into(),
    )
}

fn confirm<'a>(ctx: Context<'a>) -> Element<'a, Message> {
    let dialog = column![
        text(ctx.tr("call-confirm")).size(ctx.text(theme::HEADING)).center(),
        row![
            super::target(super::touch(ctx, ctx.tr("call-confirm-no"), theme::BODY).padding([4, 40]).style(theme::button::secondary).on_press(Message::KeepCall)),
            super::target(super::touch(ctx, ctx.tr("call-confirm-yes"), theme::BODY).padding([4, 40]).style(theme::button::danger).on_press(Message::ConfirmHangUp)),
        ]
        .spacing(theme::SPACE * 2.0),
    ]
    .spacing(theme::SPACE * 1.5)
    .align_x(Center);
    container(container(dialog).padding(48).style(theme::container::panel)).center(Fill).into()
}
