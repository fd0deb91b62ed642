//! The fleet view (`GET /api/fleet`), put together from the kiosk registry,
//! what kiosks last reported, the published configuration and who is
//! connected. A pure function, so its rules are tested without a hub.

use std::collections::{BTreeMap, HashMap, HashSet};

use jiff::Timestamp;
use visio_protocol::KioskId;
use visio_protocol::admin::{Concern, FleetKiosk, FleetView};

use crate::store::{KioskRecord, KioskStatus, SessionRecord, StoredConfig};

/// Everything the view is made of.
#[derive(Debug)]
pub struct Inputs {
    pub now: Timestamp,
    pub heartbeat_seconds: u32,
    pub enrolled: Vec<KioskRecord>,
    pub statuses: Vec<(KioskId, KioskStatus)>,
    pub published: Option<StoredConfig>,
    pub online: Vec<KioskId>,
}

/// Every enrolled kiosk, plus the kiosks of the published configuration
/// that were never enrolled (they cannot connect: worth seeing), by id.
pub fn view(inputs: Inputs) -> FleetView {
    let sites = inputs.published.as_ref().map(|p| published_sites(&p.bundle)).unwrap_or_default();
    let online: HashSet<&KioskId> = inputs.online.iter().collect();
    let mut statuses: HashMap<KioskId, KioskStatus> = inputs.statuses.into_iter().collect();
    let mut kiosks: BTreeMap<KioskId, FleetKiosk> = BTreeMap::new();
    let blank = |id: &KioskId, site: String, enrolled: bool| FleetKiosk {
        kiosk_id: id.clone(),
        site,
        enrolled,
        online: false,
        last_heartbeat_at: None,
        app_version: None,
        config_version: None,
        devices: None,
        rtt_ms: None,
        last_call: None,
        last_refusal: None,
        attention: Vec::new(),
    };
    for record in &inputs.enrolled {
        let site = sites.get(record.id.as_str()).cloned().unwrap_or_else(|| record.site.clone());
        kiosks.insert(record.id.clone(), blank(&record.id, site, true));
    }
    for (id, site) in &sites {
        let id = KioskId::from(id.as_str());
        kiosks.entry(id.clone()).or_insert_with(|| blank(&id, site.clone(), false));
    }
    for (id, kiosk) in &mut kiosks {
        kiosk.online = online.contains(id);
        if let Some(status) = statuses.remove(id) {
            kiosk.last_heartbeat_at = status.last_heartbeat_at;
            kiosk.app_version = status.app_version;
            kiosk.config_version = status.config_version;
            kiosk.devices = status.devices;
            kiosk.rtt_ms = status.rtt_ms;
            kiosk.last_call = status.last_call;
            kiosk.last_refusal = status.last_refusal;
        }
    }
    let published = inputs.published.map(|p| p.meta);
    let mut kiosks: Vec<FleetKiosk> = kiosks.into_values().collect();
    let newest_app = kiosks.iter().filter_map(|k| k.app_version.as_deref()).max_by(|a, b| version_order(a, b));
    let newest_app = newest_app.map(str::to_owned);
    for k in &mut kiosks {
        k.attention = attention(k, published.as_ref().map(|p| p.version), newest_app.as_deref());
    }
    FleetView { now: inputs.now, heartbeat_seconds: inputs.heartbeat_seconds, published, kiosks }
}

/// What needs attention at one kiosk, the most urgent first.
fn attention(k: &FleetKiosk, published: Option<u64>, newest_app: Option<&str>) -> Vec<Concern> {
    let mut concerns = Vec::new();
    if !k.enrolled {
        concerns.push(Concern::NotEnrolled);
    } else if !k.online {
        concerns.push(Concern::Offline);
    }
    if k.devices.as_ref().is_some_and(|d| d.by_name().iter().any(|(_, s)| s.state.is_unhealthy())) {
        concerns.push(Concern::DeviceFault);
    }
    if k.last_refusal.is_some() {
        concerns.push(Concern::ConfigRefused);
    }
    if k.enrolled && published.is_some() && k.config_version != published {
        concerns.push(Concern::ConfigBehind);
    }
    if let (Some(app), Some(newest)) = (&k.app_version, newest_app)
        && version_order(app, newest).is_lt()
    {
        concerns.push(Concern::AppBehind);
    }
    concerns.sort();
    concerns
}

/// Compares dotted versions by their numbers ("0.10.0" after "0.9.2"),
/// then as text for what is not a number.
fn version_order(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |v: &str| -> Vec<(u64, String)> {
        v.split(['.', '-', '+']).map(|p| (p.parse().unwrap_or(0), p.to_owned())).collect()
    };
    parts(a).cmp(&parts(b))
}

/// The fleet's kiosks with the most urgent concern first, then those
/// with the most concerns, then by id; kiosks where all is well last.
pub fn by_attention(view: &mut FleetView) {
    view.kiosks.sort_by(|a, b| {
        let rank = |k: &FleetKiosk| k.attention.first().map_or(usize::MAX, |c| *c as usize);
        rank(a).cmp(&rank(b)).then(b.attention.len().cmp(&a.attention.len())).then(a.kiosk_id.cmp(&b.kiosk_id))
    });
}

/// Residents who asked for a call at a kiosk, and the calls an agent
/// answered, over a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Calls {
    pub requests: u32,
    pub interviews: u32,
}

/// A kiosk's calls today and over the last seven days (today included),
/// days in the region's time zone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct KioskCalls {
    pub today: Calls,
    pub week: Calls,
}

pub fn calls_of(log: &[SessionRecord], kiosk: &KioskId, now: Timestamp, tz: &jiff::tz::TimeZone) -> KioskCalls {
    let today = now.to_zoned(tz.clone()).date();
    let week_start = today.checked_sub(jiff::Span::new().days(6)).unwrap_or(today);
    let mut calls = KioskCalls::default();
    for r in log.iter().filter(|r| r.kiosk_id == kiosk.as_str()) {
        let day = r.queued_at.to_zoned(tz.clone()).date();
        let answered = u32::from(r.answered_at.is_some());
        if day == today {
            calls.today.requests += 1;
            calls.today.interviews += answered;
        }
        if day >= week_start && day <= today {
            calls.week.requests += 1;
            calls.week.interviews += answered;
        }
    }
    calls
}

/// Kiosk id → site, from a stored bundle's payload.
fn published_sites(bundle: &str) -> BTreeMap<String, String> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(bundle) else { return BTreeMap::new() };
    let Some(kiosks) = value["payload"]["kiosks"].as_object() else { return BTreeMap::new() };
    kiosks
        .iter()
        .map(|(id, k)| (id.clone(), k["site"].as_str().unwrap_or(id).to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use visio_protocol::admin::{PublishedConfig, RefusalRecord};
    use visio_protocol::{CallLink, ConfigRefusalCode, DeviceHealth, DeviceState, DeviceStatus};

    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn enrolled_and_configured_kiosks_are_listed_with_what_they_reported() {
        let bundle = serde_json::json!({
            "payload": { "kiosks": {
                "besse": { "site": "Mairie de Besse" },
                "ardes": { "site": "Mairie d'Ardes" },
            }}
        })
        .to_string();
        let ok = DeviceStatus::new(DeviceState::Ok, None);
        let devices = DeviceHealth {
            camera: ok.clone(),
            microphone: ok.clone(),
            scanner: DeviceStatus::new(DeviceState::Error, Some("jammed")),
            printer: ok,
            speaker: None,
            sound_output: None,
        };
        let refusal = RefusalRecord {
            version: 9,
            code: ConfigRefusalCode::BadSignature,
            message: "bad signature".into(),
            at: t("2026-11-23T09:00:00Z"),
        };
        let view = view(Inputs {
            now: t("2026-11-23T10:00:00Z"),
            heartbeat_seconds: 30,
            enrolled: vec![
                KioskRecord { id: "besse".into(), site: "enrolment site".into() },
                KioskRecord { id: "tauves".into(), site: "Mairie de Tauves".into() },
            ],
            statuses: vec![(
                "besse".into(),
                KioskStatus {
                    last_heartbeat_at: Some(t("2026-11-23T09:59:50Z")),
                    app_version: Some("0.1.0".into()),
                    config_version: Some(8),
                    devices: Some(devices.clone()),
                    rtt_ms: Some(40),
                    last_call: Some(CallLink { uplink_kbps: 900, rtt_ms: Some(70) }),
                    last_refusal: Some(refusal.clone()),
                },
            )],
            published: Some(StoredConfig {
                meta: PublishedConfig {
                    version: 9,
                    payload_sha256: "ab".into(),
                    key_id: "k".into(),
                    published_at: t("2026-11-23T08:00:00Z"),
                    published_by: "ops".into(),
                    size: 10,
                    announced_to: None,
                },
                bundle,
            }),
            online: vec!["besse".into()],
        });
        let ids: Vec<(&str, bool, bool)> =
            view.kiosks.iter().map(|k| (k.kiosk_id.as_str(), k.enrolled, k.online)).collect();
        assert_eq!(ids, [("ardes", false, false), ("besse", true, true), ("tauves", true, false)]);
        let besse = &view.kiosks[1];
        assert_eq!(besse.site, "Mairie de Besse", "the published site wins over the enrolment's");
        assert_eq!(besse.devices.as_ref(), Some(&devices));
        assert_eq!(besse.last_refusal.as_ref(), Some(&refusal));
        assert_eq!((besse.config_version, besse.rtt_ms), (Some(8), Some(40)));
        assert_eq!(besse.last_call, Some(CallLink { uplink_kbps: 900, rtt_ms: Some(70) }));
        assert_eq!(view.kiosks[2].site, "Mairie de Tauves");
        assert_eq!(view.kiosks[2].last_heartbeat_at, None);
        assert_eq!(view.published.unwrap().version, 9);
    }

    #[test]
    fn the_kiosks_needing_attention_come_first_the_most_urgent_first() {
        let ok = DeviceStatus::new(DeviceState::Ok, None);
        let healthy = DeviceHealth { camera: ok.clone(), microphone: ok.clone(), scanner: ok.clone(), printer: ok.clone(), speaker: None, sound_output: None };
        let faulty = DeviceHealth { printer: DeviceStatus::new(DeviceState::Error, Some("media-empty")), ..healthy.clone() };
        let status = |app: &str, config: u64, devices: &DeviceHealth| KioskStatus {
            last_heartbeat_at: Some(t("2026-11-23T09:59:50Z")),
            app_version: Some(app.into()),
            config_version: Some(config),
            devices: Some(devices.clone()),
            ..KioskStatus::default()
        };
        let refusal = RefusalRecord {
            version: 9,
            code: ConfigRefusalCode::BadSignature,
            message: "bad signature".into(),
            at: t("2026-11-23T09:00:00Z"),
        };
        let enrolled = ["a-well", "b-old-app", "c-behind", "d-printer", "e-offline", "f-refused"]
            .map(|id| KioskRecord { id: id.into(), site: id.into() })
            .to_vec();
        let mut refused = status("0.10.0", 8, &healthy);
        refused.last_refusal = Some(refusal);
        let mut view = view(Inputs {
            now: t("2026-11-23T10:00:00Z"),
            heartbeat_seconds: 30,
            enrolled,
            statuses: vec![
                ("a-well".into(), status("0.10.0", 9, &healthy)),
                ("b-old-app".into(), status("0.9.2", 9, &healthy)),
                ("c-behind".into(), status("0.10.0", 8, &healthy)),
                ("d-printer".into(), status("0.10.0", 9, &faulty)),
                ("e-offline".into(), status("0.10.0", 9, &faulty)),
                ("f-refused".into(), refused),
            ],
            published: Some(StoredConfig {
                meta: PublishedConfig {
                    version: 9,
                    payload_sha256: "ab".into(),
                    key_id: "k".into(),
                    published_at: t("2026-11-23T08:00:00Z"),
                    published_by: "ops".into(),
                    size: 10,
                    announced_to: None,
                },
                bundle: "{}".into(),
            }),
            online: ["a-well", "b-old-app", "c-behind", "d-printer", "f-refused"].map(KioskId::from).to_vec(),
        });
        by_attention(&mut view);
        let order: Vec<(&str, Vec<Concern>)> =
            view.kiosks.iter().map(|k| (k.kiosk_id.as_str(), k.attention.clone())).collect();
        use Concern::*;
        assert_eq!(order, [
            ("e-offline", vec![Offline, DeviceFault]),
            ("d-printer", vec![DeviceFault]),
            ("f-refused", vec![ConfigRefused, ConfigBehind]),
            ("c-behind", vec![ConfigBehind]),
            ("b-old-app", vec![AppBehind]),
            ("a-well", vec![]),
        ]);
    }
}
