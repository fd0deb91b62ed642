//! The words of a spoken prompt: the same catalogue messages the screen
//! shows, in the same order, plus what a resident who cannot see the
//! screen needs (which buttons there are). Easy-read takes a message's
//! `-falc` variant where the catalogue has one.

use std::time::Duration;

use visio_kiosk_core::{CallbackStage, DocumentView, EndedReason, OutOfService, Prompt};
use visio_protocol::EndReason;

use crate::i18n::Arg;
use crate::screen::{Context, home};

/// Message lookups with the easy-read choice.
struct Words<'a> {
    ctx: Context<'a>,
    easy: bool,
}

impl Words<'_> {
    fn id<'i>(&self, id: &'i str) -> std::borrow::Cow<'i, str> {
        let falc = format!("{id}-falc");
        if self.easy && self.ctx.words.has(self.ctx.language, &falc) { falc.into() } else { id.into() }
    }

    fn tr(&self, id: &str) -> String {
        self.ctx.tr(&self.id(id))
    }

    fn tr_with(&self, id: &str, args: &[(&str, Arg)]) -> String {
        self.ctx.tr_with(&self.id(id), args)
    }
}

/// What to say for `prompt`, as one text for the synthesiser.
pub fn text(ctx: Context<'_>, prompt: &Prompt, easy_read: bool) -> String {
    let w = Words { ctx, easy: easy_read };
    let lines: Vec<String> = match prompt {
        Prompt::Starting => vec![w.tr("starting")],
        Prompt::OutOfService(reason) => vec![
            w.tr("oos-title"),
            w.tr(match reason {
                OutOfService::HubUnreachable => "oos-hub",
                OutOfService::CameraMissing => "oos-camera",
                OutOfService::SoundMissing => "oos-sound",
            }),
        ],
        Prompt::Home { notice } => {
            let mut lines = vec![w.tr("home-title")];
            match notice {
                Some(notice) => lines.push(home::notice_line(ctx, notice)),
                None => lines.push(w.tr("home-subtitle")),
            }
            let list: Vec<String> = ctx
                .offered
                .iter()
                .filter_map(|id| ctx.service(id))
                .map(|s| format!("{}, {}", s.short_name, home::status_line(ctx, s)))
                .collect();
            lines.push(w.tr_with("speech-services", &[("list", list.join(" ; ").into())]));
            lines.push(w.tr("speech-controls"));
            lines
        }
        Prompt::Requesting { service } => vec![w.tr_with("requesting", &[("service", ctx.service_name(service).into())])],
        Prompt::Waiting { service, position, estimate, hub_lost, presence_check, transferred, callback } => {
            let service = ctx.service_name(service);
            let mut lines = if *transferred {
                vec![w.tr_with("waiting-transferred", &[("service", service.into()), ("position", (*position).into())])]
            } else {
                vec![
                    w.tr_with("waiting-title", &[("service", service.into())]),
                    w.tr_with("waiting-position", &[("position", (*position).into())]),
                ]
            };
            lines.push(estimate_line(&w, *estimate));
            if *hub_lost {
                lines.push(w.tr("waiting-reconnecting"));
            }
            if *presence_check {
                lines.push(w.tr("presence-question"));
            }
            if *callback {
                lines.push(w.tr("speech-waiting-callback"));
            }
            lines
        }
        Prompt::Answered { agent_name } => {
            vec![w.tr_with("call-with", &[("agent", agent_name.clone().into())]), w.tr("speech-call")]
        }
        Prompt::CallReconnecting => vec![w.tr("call-reconnecting")],
        Prompt::ConfirmHangUp => vec![w.tr("call-confirm"), w.tr("speech-confirm")],
        Prompt::Document(view) => match view {
            DocumentView::None => vec![],
            DocumentView::ScanPlace { pages: 0, feeder } => vec![w.tr(crate::screen::scan::place_key(*feeder)), w.tr("scan-wait-agent")],
            DocumentView::ScanPlace { pages, .. } => {
                vec![w.tr_with("scan-pages-done", &[("pages", (*pages).into())]), w.tr("scan-place-next")]
            }
            DocumentView::ScanningPage { page } => {
                vec![w.tr_with("scan-page-scanning", &[("page", (*page).into())]), w.tr("scan-keep-still")]
            }
            DocumentView::ScanConsent { page, .. } => vec![
                w.tr_with("scan-consent-question", &[("page", (*page).into())]),
                w.tr("scan-consent-yes"),
                w.tr("scan-consent-no"),
            ],
            DocumentView::Scanning { .. } => vec![w.tr("scan-place")],
            DocumentView::ScanSent { .. } => vec![w.tr("scan-sent")],
            DocumentView::Printing { .. } => vec![w.tr("print-printing")],
            DocumentView::Printed { .. } => vec![w.tr("print-done")],
            // As the screen: the page line only when there are several.
            DocumentView::Showing { pages: 1, .. } => vec![w.tr("doc-shown")],
            DocumentView::Showing { pages, page, .. } => vec![
                w.tr("doc-shown"),
                w.tr_with("speech-showing", &[("pages", (*pages).into())]),
                w.tr_with("doc-page", &[("page", (*page).into()), ("pages", (*pages).into())]),
            ],
            DocumentView::Signing { .. } => vec![w.tr("sign-instruction"), w.tr("sign-or-refuse")],
            DocumentView::SignSending { .. } => vec![w.tr("sign-sending")],
            DocumentView::Signed { .. } => vec![w.tr("sign-sent")],
            DocumentView::SignRefused { .. } => vec![w.tr("sign-refused")],
            DocumentView::Failed { .. } => vec![w.tr("doc-failed")],
        },
        Prompt::Ended { reason, rated } => {
            let mut lines = vec![w.tr("ended-thanks")];
            match reason {
                EndedReason::Hub(EndReason::AgentHungUp | EndReason::AgentDisconnected) => lines.push(w.tr("ended-agent-left")),
                EndedReason::CallFailed | EndedReason::Hub(EndReason::HubShutdown) => lines.push(w.tr("ended-failed")),
                EndedReason::Hub(_) => {}
            }
            if *rated {
                lines.push(w.tr("ended-rated"));
            } else {
                lines.push(w.tr("ended-rate"));
                lines.push(w.tr("speech-rate"));
            }
            lines
        }
        Prompt::ReturnWarning { seconds } => vec![w.tr_with("return-warning", &[("seconds", (*seconds).into())])],
        Prompt::Volume { level } => vec![w.tr_with("speech-volume", &[("level", u32::from(*level).into())])],
        Prompt::HostAsked => vec![w.tr("host-asked")],
        Prompt::HostPending => vec![w.tr("host-pending")],
        Prompt::HostComing => vec![w.tr("host-coming")],
        Prompt::Callback { service, why, stage } => {
            let (title, mut lines) = crate::screen::callback::lines(ctx, service, *why, stage);
            match stage {
                CallbackStage::Offer => lines.push(w.tr("callback-ask")),
                // The slots, as their buttons say them.
                CallbackStage::Choosing { slots, .. } => {
                    lines.push(slots.iter().map(|s| crate::screen::callback::slot_label(ctx, *s)).collect::<Vec<_>>().join(" ; "));
                }
                CallbackStage::Booked { reference, .. } => {
                    // The reference letter by letter, digit by digit.
                    lines[1] = w.tr_with("callback-reference", &[("reference", spell(reference).into())]);
                }
                _ => {}
            }
            std::iter::once(title).chain(lines).collect()
        }
    };
    lines.join(" ")
}

/// The waiting estimate, as the waiting screen words it.
fn estimate_line(w: &Words<'_>, estimate: Option<Duration>) -> String {
    match estimate {
        None => w.tr("waiting-estimate-unknown"),
        Some(d) if d.is_zero() => w.tr("waiting-agent-free"),
        Some(d) if d.as_secs() < 60 => w.tr("waiting-estimate-soon"),
        Some(d) => w.tr_with("waiting-estimate", &[("minutes", (d.as_secs().div_ceil(60) as u32).into())]),
    }
}

/// A reference as a synthesiser says it clearly: "RDV-000042" becomes
/// "R D V, 0 0 0 0 4 2".
fn spell(reference: &str) -> String {
    reference.split('-').map(|part| part.chars().map(String::from).collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join(", ")
}
