//! The kiosk's screen as the documents see it: its size and resolution set
//! how large a shown page is drawn (fit to width, body text at least as
//! large as on paper).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The kiosk's touch screen, as written.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPanel {
    /// Diagonal of the visible screen, in inches (7 to 43), e.g. 15.6.
    #[serde(default = "default_diagonal")]
    pub diagonal_inches: f64,
    /// Pixels across the screen as the kiosk drives it (640 to 3840).
    #[serde(default = "default_width")]
    pub width_px: u32,
    /// Pixels down the screen as the kiosk drives it (480 to 2160).
    #[serde(default = "default_height")]
    pub height_px: u32,
}

fn default_diagonal() -> f64 {
    15.6
}

fn default_width() -> u32 {
    1920
}

fn default_height() -> u32 {
    1080
}

impl Default for RawPanel {
    fn default() -> Self {
        RawPanel { diagonal_inches: default_diagonal(), width_px: default_width(), height_px: default_height() }
    }
}

impl RawPanel {
    /// Left out of bundles at its defaults, so kiosks that predate the
    /// field still read bundles that do not change it.
    pub(crate) fn is_default(&self) -> bool {
        *self == RawPanel::default()
    }

    /// Problems as (field, why).
    pub(crate) fn check(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if !(7.0..=43.0).contains(&self.diagonal_inches) {
            problems.push(("panel.diagonal_inches", format!("{} is out of range; use 7 to 43 inches", self.diagonal_inches)));
        }
        if !(640..=3840).contains(&self.width_px) {
            problems.push(("panel.width_px", format!("{} is out of range; use 640 to 3840 pixels", self.width_px)));
        }
        if !(480..=2160).contains(&self.height_px) {
            problems.push(("panel.height_px", format!("{} is out of range; use 480 to 2160 pixels", self.height_px)));
        }
        problems
    }
}

/// The smallest side of a touch target, in millimetres: 2 cm, what the
/// kiosk's design asks (EN 301 549 sets no figure; ISO 9241-9 and the
/// usual self-service terminal guides ask about 2 cm for a finger).
pub const MIN_TARGET_MM: f64 = 20.0;

/// A checked panel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Panel {
    pub diagonal_inches: f64,
    pub width_px: u32,
    pub height_px: u32,
}

impl Default for Panel {
    fn default() -> Self {
        let raw = RawPanel::default();
        Panel { diagonal_inches: raw.diagonal_inches, width_px: raw.width_px, height_px: raw.height_px }
    }
}

impl Panel {
    /// Pixels per inch (141 for 15.6" at 1920×1080).
    pub fn pixels_per_inch(&self) -> f64 {
        let (w, h) = (f64::from(self.width_px), f64::from(self.height_px));
        (w * w + h * h).sqrt() / self.diagonal_inches
    }

    /// The smallest touch target on this panel, in its pixels: 2 cm
    /// ([`MIN_TARGET_MM`]) at its pixel density, rounded up (112 px on
    /// 15.6" at 1920×1080, 65 on 27" at 1920×1080).
    pub fn min_target_px(&self) -> f32 {
        (MIN_TARGET_MM / 25.4 * self.pixels_per_inch()).ceil() as f32
    }

    pub(crate) fn raw(&self) -> RawPanel {
        RawPanel { diagonal_inches: self.diagonal_inches, width_px: self.width_px, height_px: self.height_px }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_15_6_inch_full_hd_panel_has_141_pixels_per_inch() {
        let ppi = Panel::default().pixels_per_inch();
        assert!((ppi - 141.2).abs() < 0.1, "{ppi}");
    }

    #[test]
    fn two_centimetres_in_pixels_follow_the_panels_density() {
        let panel = |diagonal_inches, width_px, height_px| Panel { diagonal_inches, width_px, height_px }.min_target_px();
        // 141.2 ppi: 2 cm is 111.2 px, rounded up so it is never less.
        assert_eq!(Panel::default().min_target_px(), 112.0);
        assert_eq!(panel(10.1, 1280, 800), 118.0, "a small tablet-sized panel: 149.4 ppi");
        assert_eq!(panel(27.0, 1920, 1080), 65.0, "a large panel: 81.6 ppi");
        assert_eq!(panel(21.5, 1920, 1080), 81.0, "102.5 ppi");
        // The side it stands for, back in millimetres, is at least 20.
        for p in [Panel::default(), Panel { diagonal_inches: 7.0, width_px: 3840, height_px: 2160 }] {
            let mm = f64::from(p.min_target_px()) / p.pixels_per_inch() * 25.4;
            assert!((20.0..20.3).contains(&mm), "{p:?}: {mm}");
        }
    }

    #[test]
    fn out_of_range_panels_are_named() {
        let raw = RawPanel { diagonal_inches: 2.0, width_px: 100, height_px: 5000 };
        let fields: Vec<_> = raw.check().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["panel.diagonal_inches", "panel.width_px", "panel.height_px"]);
    }
}
