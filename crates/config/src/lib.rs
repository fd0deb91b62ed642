//! The admins' source of truth, as Rust types: the catalogue of public
//! services with their opening hours (this module), and later each kiosk and
//! the hub's own settings.
//!
//! Parse first, validate second: [`Catalogue::from_json`] reads the JSON as
//! written and then checks it, collecting every problem rather than stopping
//! at the first, so an admin fixes a file in one pass.

#![forbid(unsafe_code)]

pub mod catalogue;
pub mod hours;

pub use catalogue::{Catalogue, LocalizedName, Office, Service};
pub use hours::{OpeningHours, Period, ServiceState};

/// The demo region's catalogue, embedded so that `visio-hub serve` runs with
/// no file at all.
pub const DEMO_CATALOGUE_JSON: &str = include_str!("../../../kiosk-config/services.json");

/// A configuration problem: where it is (a JSON path such as
/// `services[2].hours.mon[0]`) and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct Problem {
    pub path: String,
    pub message: String,
}

/// Why a configuration file was refused. `Invalid` lists every problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}:{line}:{column}: {message}")]
    Syntax { file: String, line: usize, column: usize, message: String },
    #[error("{file}: {} problem(s):\n{}", problems.len(), list(problems))]
    Invalid { file: String, problems: Vec<Problem> },
}

fn list(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")
}
