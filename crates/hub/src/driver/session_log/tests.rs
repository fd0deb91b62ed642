//! The session log's batching.

use visio_protocol::{KioskId, ServiceId, SessionId};

use super::*;
use crate::core::HeartbeatReport;

fn heartbeat(kiosk: &str, second: i64) -> HubEvent {
    HubEvent::Heartbeat {
        kiosk_id: KioskId::from(kiosk),
        at: Timestamp::from_second(second).unwrap(),
        report: HeartbeatReport { app_version: "1.0".into(), config_version: None, devices: None, rtt_ms: None, last_call: None },
    }
}

#[test]
fn only_the_last_heartbeat_of_each_kiosk_in_a_batch_is_written_and_the_rest_keeps_its_order() {
    let queued = HubEvent::Queued {
        session: SessionId::from("s1"),
        kiosk_id: KioskId::from("a"),
        service: ServiceId::from("caf"),
        at: Timestamp::from_second(2).unwrap(),
    };
    let rated = HubEvent::Rated { session: SessionId::from("s1"), rating: visio_protocol::Rating::Happy };
    let batch =
        vec![heartbeat("a", 1), heartbeat("b", 1), queued.clone(), heartbeat("a", 3), rated.clone(), heartbeat("c", 4)];
    assert_eq!(coalesce_heartbeats(batch), [heartbeat("b", 1), queued, heartbeat("a", 3), rated, heartbeat("c", 4)]);
}
