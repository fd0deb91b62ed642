//! A session log made up for usage figures: `days` days of visits at a few
//! kiosks of the demo region, with waits, call lengths and ratings that
//! vary, residents who give up in the queue, written through the store as
//! the hub writes its own log.

use jiff::{SignedDuration, Timestamp};
use visio_hub::core::{HubEvent, new_token};
use visio_hub::store::Store;
use visio_protocol::{EndReason, Rating, SessionId};

const KIOSKS: [&str; 3] = ["besse", "ardes", "tauves"];
const SERVICES: [&str; 4] = ["caf", "msa", "france-travail", "cpam"];

/// Writes the visits of `days` days from `first_day` (a day's midnight,
/// UTC) into `store`; returns how many visits.
pub fn generate(store: &Store, first_day: Timestamp, days: i64) -> usize {
    let mut events = Vec::new();
    let mut n = 0usize;
    for day in 0..days {
        // Two to five visits a day, from 09:00 UTC.
        for visit in 0..(2 + (day * 7 + 3) % 4) {
            n += 1;
            let session = SessionId(format!("gen-{n:06}"));
            let kiosk = KIOSKS[(day + visit) as usize % KIOSKS.len()];
            let service = SERVICES[(day * 3 + visit) as usize % SERVICES.len()];
            let queued = first_day + SignedDuration::from_hours(24 * day + 9) + SignedDuration::from_mins(visit * 50);
            events.push(HubEvent::Queued { session: session.clone(), kiosk_id: kiosk.into(), service: service.into(), at: queued });
            if n % 9 == 4 {
                // Gave up after three minutes in the queue.
                let at = queued + SignedDuration::from_mins(3);
                events.push(HubEvent::Ended { session: session.clone(), reason: EndReason::Cancelled, at });
                continue;
            }
            let wait = SignedDuration::from_secs(20 + ((n * 37) % 400) as i64);
            let length = SignedDuration::from_secs(300 + ((n * 113) % 1500) as i64);
            let (_, resume) = new_token(&session.clone());
            let answered = queued + wait;
            events.push(HubEvent::Answered { session: session.clone(), agent: "agent".into(), at: answered, resume });
            events.push(HubEvent::Ended { session: session.clone(), reason: EndReason::KioskHungUp, at: answered + length });
            let rating = [Rating::Happy, Rating::Happy, Rating::Neutral, Rating::Happy, Rating::Unhappy][n % 5];
            events.push(HubEvent::Rated { session: session.clone(), rating });
        }
    }
    store.record_all(&events).expect("write the generated session log");
    n
}
