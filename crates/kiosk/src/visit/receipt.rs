//! The receipt a service asks for at the end of a call: lines of text in
//! the resident's language, made into a PDF in memory and printed. It
//! names the documents and their outcome, never their content, and is
//! never written to disk by the kiosk.

use std::time::Instant;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use tracing::{info, warn};
use visio_config::Catalogue;
use visio_kiosk_core::{Language, Receipt, ReceiptOutcome};
use visio_protocol::ServiceId;
use visio_transfer::check::ContentKind;

use super::devices::KioskPrinter;
use super::{Device, VisitEvent};
use crate::i18n::{Arg, Catalog};

/// What the receipt says besides the visit: where and in which time zone,
/// and the services' names.
#[derive(Debug, Clone)]
pub struct ReceiptHeading {
    pub site: String,
    pub timezone: TimeZone,
    /// Each service's name in French and English.
    pub services: Vec<(ServiceId, String, String)>,
    /// Each service's short name ("CAF"), as its tile says it.
    pub short_names: Vec<(ServiceId, String)>,
}

impl ReceiptHeading {
    pub fn new(site: &str, catalogue: &Catalogue) -> ReceiptHeading {
        let services = catalogue.services().iter().map(|s| (s.id.clone(), s.name.fr.clone(), s.name.en.clone())).collect();
        let short_names = catalogue.services().iter().map(|s| (s.id.clone(), s.short_name.clone())).collect();
        ReceiptHeading { site: site.to_owned(), timezone: catalogue.timezone().clone(), services, short_names }
    }

    pub(super) fn short_name(&self, id: &ServiceId) -> String {
        self.short_names.iter().find(|(s, _)| s == id).map_or_else(|| id.to_string(), |(_, n)| n.clone())
    }

    pub(super) fn service_name(&self, id: &ServiceId, language: Language) -> String {
        match self.services.iter().find(|(s, ..)| s == id) {
            Some((_, fr, _)) if language == Language::Fr => fr.clone(),
            Some((_, _, en)) => en.clone(),
            None => id.to_string(),
        }
    }
}

/// The receipt's lines. `now` and `wall` are the same instant on the
/// monotonic and the wall clock: the core times events monotonically.
pub fn receipt_lines(receipt: &Receipt, heading: &ReceiptHeading, words: &Catalog, now: Instant, wall: Timestamp) -> Vec<String> {
    let language = receipt.language;
    let local = |at: Instant| {
        let ago = jiff::SignedDuration::try_from(now.saturating_duration_since(at)).unwrap_or_default();
        wall.checked_sub(ago).unwrap_or(wall).to_zoned(heading.timezone.clone())
    };
    let tr = |id: &str, args: &[(&str, Arg)]| words.tr(language, id, args);
    let mut lines = vec![tr("receipt-title", &[])];
    let date = local(receipt.ended_at).strftime("%d/%m/%Y").to_string();
    lines.push(tr("receipt-site-date", &[("site", heading.site.as_str().into()), ("date", date.into())]));
    for leg in &receipt.legs {
        lines.push(String::new());
        let time = local(leg.answered_at).strftime("%H:%M").to_string();
        let service = heading.service_name(&leg.service, language);
        let agent = leg.agent_first_name.as_str();
        lines.push(tr("receipt-call", &[("service", service.into()), ("agent", agent.into()), ("time", time.into())]));
        if leg.documents.is_empty() {
            lines.push(format!("  {}", tr("receipt-none", &[])));
        }
        for doc in &leg.documents {
            let outcome = match doc.outcome {
                ReceiptOutcome::Sent => "receipt-sent",
                ReceiptOutcome::Printed => "receipt-printed",
                ReceiptOutcome::Shown => "receipt-shown",
                ReceiptOutcome::Signed => "receipt-signed",
                ReceiptOutcome::NotSigned => "receipt-not-signed",
                ReceiptOutcome::Failed => "receipt-failed",
            };
            let name = doc.name.clone().unwrap_or_else(|| tr("receipt-unnamed", &[]));
            let time = local(doc.at).strftime("%H:%M").to_string();
            let args = [("time", time.into()), ("outcome", tr(outcome, &[]).into()), ("name", printable(&name).into())];
            lines.push(format!("  {}", tr("receipt-line", &args)));
        }
    }
    lines.push(String::new());
    lines.push(tr("receipt-footer", &[]));
    lines
}

/// A document's name as one printable line: the agent chose it, so
/// control characters (a form feed, an escape) are dropped.
fn printable(name: &str) -> String {
    name.chars().filter(|c| !c.is_control()).take(120).collect()
}

/// What the kiosk prints of its own: a visit's receipt, a callback's slip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Receipt,
    CallbackSlip,
}

impl Job {
    /// The CUPS job's name (the queue shows it; nothing personal).
    fn title(self) -> &'static str {
        match self {
            Job::Receipt => "Reçu / Receipt",
            Job::CallbackSlip => "Rappel / Callback",
        }
    }
}

/// Prints a receipt or a slip in the background, through the same path as
/// any print (its job not kept by CUPS); the printer's health follows the
/// outcome. A kiosk without a printer prints nothing.
pub fn print(
    job: Job,
    printer: &KioskPrinter,
    lines: &[String],
    events: tokio::sync::mpsc::UnboundedSender<VisitEvent>,
) -> Option<tokio::task::JoinHandle<()>> {
    let KioskPrinter::Cups(cups) = printer else {
        if job == Job::Receipt {
            warn!("the service asks for a receipt but this kiosk has no printer");
        }
        return None;
    };
    let (cups, pdf) = (cups.clone(), visio_transfer::text_pdf::text_pdf(lines));
    Some(tokio::task::spawn_blocking(move || match cups.print_bytes_blocking(pdf, ContentKind::Pdf, job.title()) {
        Ok(report) => {
            info!(job_id = report.job_id, ?job, "printed");
            let _ = events.send(VisitEvent::DeviceFault { device: Device::Printer, fault: None });
        }
        Err(e) => {
            warn!(error = %e, ?job, "not printed");
            if e.is_device_fault() {
                let _ = events.send(VisitEvent::DeviceFault { device: Device::Printer, fault: Some(e.to_string().into()) });
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use visio_kiosk_core::{ReceiptLeg, ReceiptLine};

    use super::*;

    #[test]
    fn the_receipt_lists_each_call_and_document_at_local_time_in_the_residents_language() {
        let catalogue = Catalogue::demo();
        let heading = ReceiptHeading::new("Mairie de Besse", &catalogue);
        let service = catalogue.services()[0].id.clone();
        let now = Instant::now();
        let at = |minutes_ago: u64| now - Duration::from_secs(minutes_ago * 60);
        let receipt = Receipt {
            language: Language::Fr,
            ended_at: now,
            legs: vec![ReceiptLeg {
                service: service.clone(),
                agent_first_name: "Claire".into(),
                answered_at: at(20),
                documents: vec![
                    ReceiptLine { at: at(15), name: Some("avis\u{1b}[2J.pdf".into()), outcome: ReceiptOutcome::Sent },
                    ReceiptLine { at: at(10), name: None, outcome: ReceiptOutcome::Failed },
                ],
            }],
        };
        // 10:00 in Paris on 6 December 2026.
        let wall: Timestamp = "2026-12-06T09:00:00Z".parse().unwrap();
        let text = receipt_lines(&receipt, &heading, &Catalog::load(), now, wall).join("\n") + "\n";
        let name = &catalogue.services()[0].name.fr;
        assert!(text.starts_with("Reçu de votre rendez-vous\nMairie de Besse, le 06/12/2026\n"), "{text}");
        assert!(text.contains(&format!("{name} avec Claire, à 09:40")), "{text}");
        assert!(text.contains("  09:45  Envoyé au conseiller : avis[2J.pdf\n"), "control characters dropped: {text}");
        assert!(text.contains("  09:50  Non abouti : un document\n"), "{text}");
        assert!(text.trim_end().ends_with("gardé sur la borne."), "{text}");

        let english = receipt_lines(&Receipt { language: Language::En, ..receipt }, &heading, &Catalog::load(), now, wall).join("\n");
        assert!(english.contains(&format!("{} with Claire, at 09:40", catalogue.services()[0].name.en)), "{english}");
        assert!(english.contains("  09:45  Sent to the adviser: avis[2J.pdf\n"), "{english}");
    }
}
