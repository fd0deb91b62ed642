//! The kiosk's words, from Fluent catalogues in `assets/i18n/`: French
//! first, English too. Views ask for a message id; no sentence lives in code.

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::langid;
use visio_kiosk_core::Language;

const FR: &str = include_str!("../../../assets/i18n/fr.ftl");
const EN: &str = include_str!("../../../assets/i18n/en.ftl");

pub struct Catalog {
    fr: FluentBundle<FluentResource>,
    en: FluentBundle<FluentResource>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Catalog { fr, en }")
    }
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog::load()
    }
}

impl Catalog {
    pub fn load() -> Catalog {
        Catalog { fr: bundle(langid!("fr-FR"), FR), en: bundle(langid!("en-GB"), EN) }
    }

    /// The easy-read (FALC) catalogue: each `id-falc` message replaces
    /// `id`; messages without one stay as they are.
    pub fn load_easy_read() -> Catalog {
        let easy = |lang, source: &str| {
            let mut b = bundle(lang, source);
            let overrides: String = source
                .lines()
                .filter_map(|l| l.split_once("-falc = ").map(|(id, text)| format!("{id} = {text}\n")))
                .collect();
            // Invariant: lines of our own catalogue, parsed by the tests.
            b.add_resource_overriding(FluentResource::try_new(overrides).expect("easy-read lines parse"));
            b
        };
        Catalog { fr: easy(langid!("fr-FR"), FR), en: easy(langid!("en-GB"), EN) }
    }

    /// Whether `language`'s catalogue defines `id` (easy-read variants are
    /// optional).
    pub fn has(&self, language: Language, id: &str) -> bool {
        match language {
            Language::Fr => self.fr.has_message(id),
            Language::En => self.en.has_message(id),
        }
    }

    /// The message `id` in `language`, with `args` filled in. A missing
    /// message shows its id in brackets (and fails the catalogue tests),
    /// never a blank.
    pub fn tr(&self, language: Language, id: &str, args: &[(&str, Arg)]) -> String {
        let bundle = match language {
            Language::Fr => &self.fr,
            Language::En => &self.en,
        };
        let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
            return format!("[{id}]");
        };
        let mut fluent_args = FluentArgs::new();
        for (name, value) in args {
            let value = match value {
                Arg::Text(s) => FluentValue::from(s.clone()),
                Arg::Number(n) => FluentValue::from(*n),
            };
            fluent_args.set(*name, value);
        }
        let mut errors = Vec::new();
        bundle.format_pattern(pattern, Some(&fluent_args), &mut errors).into_owned()
    }
}

/// An argument to a message.
#[derive(Debug, Clone)]
pub enum Arg {
    Text(String),
    Number(i64),
}

impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Arg::Text(s.to_owned())
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Self {
        Arg::Text(s)
    }
}

impl From<u32> for Arg {
    fn from(n: u32) -> Self {
        Arg::Number(n.into())
    }
}

fn bundle(lang: unic_langid::LanguageIdentifier, source: &str) -> FluentBundle<FluentResource> {
    // Invariant: the catalogues are ours and parsed by the tests below.
    let resource = FluentResource::try_new(source.to_owned()).expect("catalogue parses");
    let mut bundle = FluentBundle::new_concurrent(vec![lang]);
    // Unicode isolation marks would show as boxes in iced's text.
    bundle.set_use_isolating(false);
    bundle.add_resource(resource).expect("no duplicate message ids");
    bundle
}

/// The message ids a catalogue defines.
pub fn ids(source: &str) -> Vec<String> {
    source
        .lines()
        .filter(|l| !l.starts_with(['#', ' ']) && l.contains(" = "))
        .filter_map(|l| l.split(" = ").next())
        .map(|s| s.trim().to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_catalogues_parse_and_define_the_same_messages() {
        let _ = Catalog::load();
        let (mut fr, mut en) = (ids(FR), ids(EN));
        fr.sort();
        en.sort();
        assert_eq!(fr, en, "fr.ftl and en.ftl must define the same ids");
        assert!(fr.len() > 40);
    }

    #[test]
    fn easy_read_replaces_only_the_messages_it_has() {
        let easy = Catalog::load_easy_read();
        assert_eq!(easy.tr(Language::Fr, "home-subtitle", &[]), "Touchez un service. Une personne vous parle en vidéo.");
        assert_eq!(easy.tr(Language::En, "home-subtitle", &[]), "Touch a service. A person talks to you by video.");
        assert_eq!(easy.tr(Language::Fr, "home-title", &[]), "Bonjour !");
        assert!(ids(FR).iter().filter(|id| id.ends_with("-falc")).all(|id| ids(FR).contains(&id.trim_end_matches("-falc").to_owned())));
    }

    #[test]
    fn arguments_and_plurals_are_filled_in() {
        let c = Catalog::load();
        assert_eq!(c.tr(Language::Fr, "waiting-position", &[("position", 1u32.into())]), "Vous êtes le prochain.");
        assert_eq!(
            c.tr(Language::Fr, "waiting-position", &[("position", 3u32.into())]),
            "Vous êtes 3e dans la file d'attente."
        );
        assert_eq!(c.tr(Language::En, "call-with", &[("agent", "Claire".into())]), "You are talking with Claire");
        assert_eq!(c.tr(Language::Fr, "no-such-message", &[]), "[no-such-message]");
    }
}
