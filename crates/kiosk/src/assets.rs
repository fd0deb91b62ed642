//! Files from `assets/`, embedded in the binary: a kiosk never depends on
//! what is (or is not) installed on its system.

use iced::widget::svg;

macro_rules! pictograms {
    ($($name:literal),* $(,)?) => {
        /// The pictogram `file` (as named in the catalogue), or a neutral
        /// one if the catalogue names a drawing we do not ship.
        pub fn pictogram(file: &str) -> svg::Handle {
            let bytes: &'static [u8] = match file {
                $($name => include_bytes!(concat!("../../../assets/pictograms/", $name)),)*
                _ => include_bytes!("../../../assets/pictograms/demo.svg"),
            };
            svg::Handle::from_memory(bytes)
        }

        #[cfg(test)]
        pub const SHIPPED: &[&str] = &[$($name),*];
    };
}

pictograms!(
    "caf.svg",
    "france-travail.svg",
    "msa.svg",
    "urssaf.svg",
    "cpam.svg",
    "carsat.svg",
    "impots.svg",
    "demo.svg",
    "face-unhappy.svg",
    "face-neutral.svg",
    "face-happy.svg",
    "scanner.svg",
    "printer.svg",
    "connection.svg",
);

/// DejaVu Sans (free licence, in `assets/fonts/`): full French accents,
/// wide and plain. Bundled so every kiosk renders the same.
pub const FONT_REGULAR: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
pub const FONT_BOLD: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans-Bold.ttf");
pub const FONT_NAME: &str = "DejaVu Sans";

/// Played when the agent answers: two soft rising tones (our own, made with
/// sox; see `assets/sounds/README.md`).
pub const CHIME_WAV: &[u8] = include_bytes!("../../../assets/sounds/chime.wav");

#[cfg(test)]
mod tests {
    #[test]
    fn every_catalogue_pictogram_is_shipped() {
        for s in visio_config::Catalogue::demo().services() {
            assert!(super::SHIPPED.contains(&s.pictogram.as_str()), "{} is not in assets/pictograms", s.pictogram);
        }
    }
}
