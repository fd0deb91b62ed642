//! The catalogue of public services (`kiosk-config/services.json`).

use std::collections::HashSet;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use visio_protocol::{ServiceId, ServiceStatus};

use crate::hours::{OpeningHours, ServiceState};
use crate::{ConfigError, Problem, in_france};

/// A name in each language the kiosk speaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LocalizedName {
    pub fr: String,
    pub en: String,
}

/// The partner office the agents of a service work from. Its location is
/// what kilometres saved are computed against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Office {
    /// The office's name, e.g. "CAF du Puy-de-Dôme".
    pub name: String,
    /// The commune it is in.
    pub commune: String,
    /// Latitude in decimal degrees (WGS 84), within France.
    pub lat: f64,
    /// Longitude in decimal degrees (WGS 84), within France.
    pub lon: f64,
}

/// One partner service residents can call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Stable id used by kiosks, the hub and agents' accounts: lowercase
    /// letters, digits and '-', e.g. "caf".
    #[schemars(with = "String")]
    pub id: ServiceId,
    /// The service's name on the kiosk, in each language.
    pub name: LocalizedName,
    /// Short label for tiles, e.g. "CAF".
    pub short_name: String,
    /// File under `assets/pictograms/`: our own drawing, never the
    /// service's trademarked logo.
    pub pictogram: String,
    /// Tile colour, `#rrggbb`.
    pub colour: String,
    /// Where the agents work: kilometres saved are counted to here.
    pub office: Office,
    /// When agents take calls, in the catalogue's time zone.
    pub hours: OpeningHours,
    /// Seeds the wait estimate until the hub has measured real calls.
    #[serde(default = "default_call_minutes")]
    pub typical_call_minutes: u32,
    /// The kiosk prints a receipt at the end of each call with this
    /// service, when it has a printer: the documents exchanged (names,
    /// times, outcome; never their content) and the agent's first name.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub receipt: bool,
}

fn default_call_minutes() -> u32 {
    15
}

/// `services.json` as written: the region's time zone and its services.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCatalogue {
    /// IANA name of the region's time zone; opening hours are local times.
    pub timezone: String,
    /// Every service of the region, in the order kiosks show them.
    pub services: Vec<Service>,
}

/// A validated catalogue: ids unique, hours sensible, time zone known.
#[derive(Debug, Clone)]
pub struct Catalogue {
    timezone: TimeZone,
    timezone_name: String,
    services: Vec<Service>,
}

impl Catalogue {
    /// Parses and validates; `file` names the source in error messages.
    pub fn from_json(file: &str, text: &str) -> Result<Catalogue, ConfigError> {
        let value = crate::parse_file(file, text)?;
        Catalogue::from_value(&value).map_err(|problems| ConfigError::Invalid { file: file.to_owned(), problems })
    }

    /// Validates an already parsed `services.json`. Each service is read on
    /// its own, so a mistake in one does not hide the mistakes in others.
    pub fn from_value(value: &Value) -> Result<Catalogue, Vec<Problem>> {
        let mut problems = Vec::new();
        let Some(object) = value.as_object() else {
            return Err(vec![Problem::new("", "expected an object with \"timezone\" and \"services\"")]);
        };
        for key in object.keys() {
            if key != "timezone" && key != "services" {
                problems.push(Problem::new(key, format!("unknown field `{key}`, expected `timezone` or `services`")));
            }
        }
        let timezone_name: Option<String> = crate::field(value, "", "timezone", &mut problems);
        let timezone = timezone_name.as_ref().and_then(|name| match TimeZone::get(name) {
            Ok(tz) => Some(tz),
            Err(_) => {
                problems.push(Problem {
                    path: "timezone".into(),
                    message: format!("unknown time zone {name:?}; use an IANA name such as \"Europe/Paris\""),
                });
                None
            }
        });
        let mut services = Vec::new();
        match object.get("services") {
            None => problems.push(Problem::new("", "missing field `services`")),
            Some(Value::Array(items)) => {
                if items.is_empty() {
                    problems.push(Problem::new("services", "the catalogue has no service"));
                }
                for (i, item) in items.iter().enumerate() {
                    if let Some(s) = crate::parse_all::<Service>(item, &format!("services[{i}]"), &service_template(), &mut problems) {
                        services.push((i, s));
                    }
                }
            }
            Some(_) => problems.push(Problem::new("services", "expected an array of services")),
        }
        let mut seen = HashSet::new();
        for (i, s) in &services {
            check_service(*i, s, &mut seen, &mut problems);
        }
        match (timezone, timezone_name, problems.is_empty()) {
            (Some(timezone), Some(timezone_name), true) => Ok(Catalogue {
                timezone,
                timezone_name,
                services: services.into_iter().map(|(_, s)| s).collect(),
            }),
            _ => Err(problems),
        }
    }

    /// The catalogue as written, for bundles and schemas.
    pub fn to_raw(&self) -> RawCatalogue {
        RawCatalogue { timezone: self.timezone_name.clone(), services: self.services.clone() }
    }

    /// The embedded demo region.
    pub fn demo() -> Catalogue {
        // Invariant: the embedded file is checked by this crate's tests.
        Catalogue::from_json("kiosk-config/services.json", crate::DEMO_CATALOGUE_JSON)
            .expect("the embedded demo catalogue is valid")
    }

    pub fn timezone(&self) -> &TimeZone {
        &self.timezone
    }

    pub fn timezone_name(&self) -> &str {
        &self.timezone_name
    }

    pub fn services(&self) -> &[Service] {
        &self.services
    }

    pub fn get(&self, id: &ServiceId) -> Option<&Service> {
        self.services.iter().find(|s| &s.id == id)
    }

    pub fn state_at(&self, service: &Service, now: Timestamp) -> ServiceState {
        service.hours.state_at(now, &self.timezone)
    }

    /// Open/closed of every service, as the wire shows it.
    pub fn statuses_at(&self, now: Timestamp) -> Vec<ServiceStatus> {
        self.services.iter().map(|s| self.status_at(s, now)).collect()
    }

    pub fn status_at(&self, service: &Service, now: Timestamp) -> ServiceStatus {
        let (open, closes_at, next_opening) = match self.state_at(service, now) {
            ServiceState::Open { closes_at } => (true, Some(closes_at), None),
            ServiceState::Closed { next_opening } => (false, None, next_opening),
        };
        ServiceStatus { service: service.id.clone(), open, closes_at, next_opening }
    }

    /// A local date and time for messages to people, e.g. "2026-11-24 at 09:00".
    pub fn local_time(&self, t: Timestamp) -> String {
        t.to_zoned(self.timezone.clone()).strftime("%Y-%m-%d at %H:%M").to_string()
    }
}

/// A valid service with every field, which [`crate::parse_all`] borrows
/// from to read past a shape error: every day has a period so an error in
/// one day's hours does not hide another's.
fn service_template() -> Value {
    let day = serde_json::json!(["09:00-12:00"]);
    serde_json::json!({
        "id": "template",
        "name": { "fr": "modèle", "en": "template" },
        "short_name": "T", "pictogram": "t.svg", "colour": "#000000",
        "office": { "name": "o", "commune": "c", "lat": 45.0, "lon": 3.0 },
        "hours": { "mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day,
                   "closed_dates": ["2026-12-25"] },
        "typical_call_minutes": 15,
    })
}

fn check_service(i: usize, s: &Service, seen: &mut HashSet<ServiceId>, problems: &mut Vec<Problem>) {
    let mut problem = |field: &str, message: String| {
        problems.push(Problem { path: format!("services[{i}]{field}"), message });
    };
    let id = s.id.as_str();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        problem(".id", format!("{id:?} is not a valid id; use lowercase letters, digits and '-'"));
    }
    if !seen.insert(s.id.clone()) {
        problem(".id", format!("duplicate service id {id:?}"));
    }
    let colour_ok = s.colour.len() == 7
        && s.colour.starts_with('#')
        && s.colour[1..].chars().all(|c| c.is_ascii_hexdigit());
    if !colour_ok {
        problem(".colour", format!("{:?} is not a colour; write it like \"#1d4e89\"", s.colour));
    }
    if !in_france(s.office.lat, s.office.lon) {
        problem(
            ".office",
            format!("coordinates {}, {} are outside France", s.office.lat, s.office.lon),
        );
    }
    if s.typical_call_minutes == 0 {
        problem(".typical_call_minutes", "must be at least 1".into());
    }
    if s.hours.days().iter().all(|(_, periods)| periods.is_empty()) {
        problem(".hours", "no opening period on any day: the service would never take calls".into());
    }
    for (day, periods) in s.hours.days() {
        let mut sorted: Vec<_> = periods.iter().enumerate().collect();
        sorted.sort_by_key(|(_, p)| p.start);
        for pair in sorted.windows(2) {
            let ((_, a), (j, b)) = (pair[0], pair[1]);
            if b.start < a.end {
                problem(&format!(".hours.{day}[{j}]"), format!("{b} overlaps {a}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_catalogue_is_valid() {
        let c = Catalogue::demo();
        assert!(c.get(&"caf".into()).is_some());
        assert_eq!(c.timezone_name(), "Europe/Paris");
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let text = r##"{"timezone":"Mars/Olympus","services":[
          {"id":"caf","name":{"fr":"a","en":"a"},"short_name":"A","pictogram":"a.svg","colour":"blue",
           "office":{"name":"o","commune":"c","lat":45.7,"lon":3.1},
           "hours":{"mon":["09:00-12:00","11:00-13:00"]}},
          {"id":"caf","name":{"fr":"b","en":"b"},"short_name":"B","pictogram":"b.svg","colour":"#000000",
           "office":{"name":"o","commune":"c","lat":-33.9,"lon":151.2},"hours":{}}]}"##;
        let ConfigError::Invalid { problems, .. } = Catalogue::from_json("services.json", text).unwrap_err() else {
            panic!("expected Invalid");
        };
        let shown: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert!(shown.iter().any(|p| p.starts_with("timezone: unknown time zone")), "{shown:?}");
        assert!(shown.iter().any(|p| p.starts_with("services[0].colour:")), "{shown:?}");
        assert!(shown.iter().any(|p| p == "services[0].hours.mon[1]: 11:00-13:00 overlaps 09:00-12:00"), "{shown:?}");
        assert!(shown.iter().any(|p| p == "services[1].id: duplicate service id \"caf\""), "{shown:?}");
        assert!(shown.iter().any(|p| p.starts_with("services[1].office: coordinates")), "{shown:?}");
        assert!(shown.iter().any(|p| p.starts_with("services[1].hours: no opening period")), "{shown:?}");
    }

    #[test]
    fn the_service_template_is_valid_and_every_shape_error_of_a_service_is_reported() {
        let mut problems = Vec::new();
        assert!(crate::parse_all::<Service>(&service_template(), "s", &service_template(), &mut problems).is_some());
        assert!(problems.is_empty(), "{problems:?}");
        let mut bad = service_template();
        bad["name"] = serde_json::json!({ "fr": "x" });
        bad["colour"] = serde_json::json!(0x1d4e89);
        bad["hours"]["tue"] = serde_json::json!(["12:00-09:00"]);
        bad["hours"]["fri"] = serde_json::json!(["9h-12h"]);
        bad["typical_call_minutes"] = serde_json::json!("15");
        assert!(crate::parse_all::<Service>(&bad, "services[3]", &service_template(), &mut problems).is_none());
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        // Every one, in key order within the service.
        assert_eq!(
            shown,
            [
                "services[3].colour: invalid type: integer `1920649`, expected a string",
                "services[3].hours.fri[0]: \"9h\" is not a time; write it like \"08:30\" (00:00 to 24:00)",
                "services[3].hours.tue[0]: \"12:00-09:00\" ends before it starts",
                "services[3].name: missing field `en`",
                "services[3].typical_call_minutes: invalid type: string \"15\", expected u32",
            ]
        );
    }

    #[test]
    fn syntax_errors_give_line_and_column() {
        let err = Catalogue::from_json("services.json", "{\n  \"timezone\": \"Europe/Paris\",\n  oops\n}").unwrap_err();
        let ConfigError::Text(problems) = &err else { panic!("{err}") };
        assert_eq!(problems[0].position.map(|p| p.line), Some(3));
        assert!(err.to_string().starts_with("services.json:3:"), "{err}");
    }
}
