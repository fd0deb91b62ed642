//! The slip of a booked callback: the service, the day and time in the
//! region's time zone, the reference and what to do, in the resident's
//! language. Nothing personal is on it (there is nothing personal to
//! put); it is printed through the receipt's path
//! ([`super::receipt::print`]), never written to disk by the kiosk, and
//! CUPS keeps no copy of the job.

use visio_kiosk_core::CallbackSlip;

use super::receipt::ReceiptHeading;
use crate::i18n::{Arg, Catalog};

/// The slip's lines.
pub fn slip_lines(slip: &CallbackSlip, heading: &ReceiptHeading, words: &Catalog) -> Vec<String> {
    let language = slip.language;
    let tr = |id: &str, args: &[(&str, Arg)]| words.tr(language, id, args);
    let local = slip.start.to_zoned(heading.timezone.clone());
    let weekday = tr(&format!("weekday-{}", local.weekday().to_monday_one_offset()), &[]);
    let date = format!("{weekday} {}", local.strftime("%d/%m/%Y"));
    let time = local.strftime("%H:%M").to_string();
    let (service, short) = (heading.service_name(&slip.service, language), heading.short_name(&slip.service));
    vec![
        tr("slip-title", &[]),
        String::new(),
        tr("slip-service", &[("service", service.into())]),
        tr("slip-when", &[("date", date.into()), ("time", time.into()), ("minutes", slip.minutes.into())]),
        tr("slip-reference", &[("reference", slip.reference.as_str().into())]),
        tr("slip-site", &[("site", heading.site.as_str().into())]),
        String::new(),
        tr("slip-how", &[("short", short.into())]),
        String::new(),
        tr("slip-footer", &[]),
    ]
}

#[cfg(test)]
mod tests {
    use visio_config::Catalogue;
    use visio_kiosk_core::Language;

    use super::*;

    #[test]
    fn the_slip_says_the_service_the_local_time_the_reference_and_what_to_do_and_nothing_else() {
        let catalogue = Catalogue::demo();
        let heading = ReceiptHeading::new("Mairie de Besse", &catalogue);
        let service = catalogue.services().iter().find(|s| s.id.as_str() == "msa").unwrap();
        // 09:15 in Paris, Tuesday 24 November 2026.
        let start = "2026-11-24T08:15:00Z".parse().unwrap();
        let slip = CallbackSlip { service: service.id.clone(), reference: "RDV-000042".into(), start, minutes: 15, language: Language::Fr };
        let text = slip_lines(&slip, &heading, &Catalog::load()).join("\n");
        let expected = format!(
            "Votre rappel\n\nService : {}\nLe mardi 24/11/2026 à 09:15 (15 minutes)\nRéférence : RDV-000042\nBorne : Mairie de Besse\n\n\
             Soyez à cette borne à cette heure-là et touchez « {} » : un conseiller vous répondra en priorité.\n\n\
             Ce ticket ne porte aucune information personnelle.",
            service.name.fr, service.short_name
        );
        assert_eq!(text, expected);

        let english = slip_lines(&CallbackSlip { language: Language::En, ..slip }, &heading, &Catalog::load()).join("\n");
        assert!(english.starts_with(&format!("Your callback\n\nService: {}\nTuesday 24/11/2026 at 09:15 (15 minutes)\nReference: RDV-000042\n", service.name.en)), "{english}");
    }
}
