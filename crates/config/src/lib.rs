//! The admins' source of truth, as Rust types: the catalogue of public
//! services with their opening hours, one file per kiosk, and the hub's own
//! settings — loaded together as a [`ConfigSet`], and signed into a
//! [`bundle`] that kiosks verify before applying it.
//!
//! Parse first, validate second: each file is read as written (`Raw*`
//! types, which the committed JSON Schema describes) and then checked,
//! collecting every problem rather than stopping at the first, so an admin
//! fixes a whole folder in one pass. Only valid values reach the validated
//! types ([`Catalogue`], [`Kiosk`], [`HubSettings`], [`ConfigSet`]).
//!
//! ```no_run
//! let set = visio_config::ConfigSet::load("kiosk-config".as_ref()).unwrap();
//! let besse = set.kiosk("besse").unwrap();
//! println!("{} offers {} services", besse.site, besse.services.len());
//! ```

#![forbid(unsafe_code)]

pub mod bundle;
pub mod catalogue;
pub mod diff;
pub mod hours;
pub mod hub;
pub mod kiosk;
pub mod limits;
pub mod proxy;
pub mod panel;
pub mod schema;
pub mod set;
mod shape;
pub mod source;
pub mod span;

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::Value;

pub use bundle::{Bundle, BundleError, SigningKeyFile, VerifiedBundle};
pub use catalogue::{Catalogue, LocalizedName, Office, RawCatalogue, Service};
pub use hours::{OpeningHours, Period, ServiceState};
pub use hub::{HubSettings, RawHubSettings};
pub use kiosk::{Kiosk, RawKiosk};
pub use set::{ConfigSet, LoadError};
pub use span::{Position, SpanMap};
pub(crate) use shape::parse_all;

/// The demo region's catalogue, embedded so that `visio-hub serve` runs with
/// no file at all.
pub const DEMO_CATALOGUE_JSON: &str = include_str!("../../../kiosk-config/services.json");

/// A configuration problem: where it is (a JSON path such as
/// `services[2].hours.mon[0]`, empty for the whole file) and what is wrong
/// there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem { path: path.into(), message: message.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() { write!(f, "{}", self.message) } else { write!(f, "{}: {}", self.path, self.message) }
    }
}

/// Why a configuration file was refused. `Invalid` lists every problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: {} problem(s):\n{}", problems.len(), list(problems))]
    Invalid { file: String, problems: Vec<Problem> },
    /// The text itself is refused: not UTF-8, a BOM, empty, a key written
    /// twice, or not JSON.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Text(Vec<Diagnostic>),
}

/// A file's text as a JSON value, or every problem of the text
/// ([`source::parse`]); a BOM alone is refused too, as it is in a folder.
pub(crate) fn parse_file(file: &str, text: &str) -> Result<Value, ConfigError> {
    match source::parse(file, text) {
        (Some((value, _)), problems) if problems.is_empty() => Ok(value),
        (_, problems) => Err(ConfigError::Text(problems)),
    }
}

fn list(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")
}

/// A problem with its file and, when known, its line and column:
/// `kiosks/besse.json:12:5 services[2]: unknown service "cpam2"`.
/// `file` is relative to the configuration folder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostic {
    pub file: String,
    pub position: Option<Position>,
    pub problem: Problem,
}

impl Diagnostic {
    /// Locates `problem` in `file` using the span map of its text.
    pub fn locate(file: &str, spans: &SpanMap, problem: Problem) -> Diagnostic {
        Diagnostic { file: file.to_owned(), position: spans.locate(&problem.path), problem }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(p) = self.position {
            write!(f, ":{}:{}", p.line, p.column)?;
        }
        if self.problem.path.is_empty() {
            write!(f, ": {}", self.problem.message)
        } else {
            write!(f, " {}: {}", self.problem.path, self.problem.message)
        }
    }
}

/// Mainland France and Corsica, generously. Overseas sites would extend
/// this when a region needs them.
pub fn in_france(lat: f64, lon: f64) -> bool {
    (41.0..=51.5).contains(&lat) && (-5.5..=10.0).contains(&lon)
}

/// serde_json's message without its " at line N column M" suffix: our
/// diagnostics print the position themselves.
pub(crate) fn syntax_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// Deserializes `value` (found at `path`) as a `T`, or records where and why
/// it does not fit.
pub(crate) fn parse_at<T: DeserializeOwned>(value: &Value, path: &str, problems: &mut Vec<Problem>) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(t) => Some(t),
        Err(e) => {
            let mut at = path.to_owned();
            for segment in e.path().iter() {
                use serde_path_to_error::Segment;
                at = match segment {
                    Segment::Seq { index } => span::index_path(&at, *index),
                    Segment::Map { key } => span::key_path(&at, key),
                    Segment::Enum { variant } => span::key_path(&at, variant),
                    Segment::Unknown => at,
                };
            }
            problems.push(Problem::new(at, syntax_message(e.inner())));
            None
        }
    }
}

/// Reads one field of an object as a `T`; a missing field is a problem.
pub(crate) fn field<T: DeserializeOwned>(value: &Value, path: &str, key: &str, problems: &mut Vec<Problem>) -> Option<T> {
    match value.get(key) {
        Some(v) => parse_at(v, &span::key_path(path, key), problems),
        None => {
            problems.push(Problem::new(path, format!("missing field `{key}`")));
            None
        }
    }
}
