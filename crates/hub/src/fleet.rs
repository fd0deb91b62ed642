//! The fleet view (`GET /api/fleet`), put together from the kiosk registry,
//! what kiosks last reported, the published configuration and who is
//! connected. A pure function, so its rules are tested without a hub.

use std::collections::{BTreeMap, HashMap, HashSet};

use jiff::Timestamp;
use visio_protocol::KioskId;
use visio_protocol::admin::{FleetKiosk, FleetView};

use crate::store::{KioskRecord, KioskStatus, StoredConfig};

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
        last_refusal: None,
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
            kiosk.last_refusal = status.last_refusal;
        }
    }
    FleetView {
        now: inputs.now,
        heartbeat_seconds: inputs.heartbeat_seconds,
        published: inputs.published.map(|p| p.meta),
        kiosks: kiosks.into_values().collect(),
    }
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
    use visio_protocol::{ConfigRefusalCode, DeviceHealth, DeviceState, DeviceStatus};

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
        assert_eq!(view.kiosks[2].site, "Mairie de Tauves");
        assert_eq!(view.kiosks[2].last_heartbeat_at, None);
        assert_eq!(view.published.unwrap().version, 9);
    }
}
