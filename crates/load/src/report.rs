//! The result of a run: one JSON object (every figure) and one Markdown
//! table row (the figures docs/benchmarks.md keeps).

use serde::Serialize;

use crate::ledger::Figures;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Names the configuration, e.g. "3 processes, PostgreSQL + NATS".
    pub label: String,
    /// Hub addresses the kiosks and agents were spread over.
    pub hub_addresses: usize,
    pub kiosks: usize,
    pub agents: usize,
    pub connections: Connections,
    pub memory: Memory,
    pub calls: Figures,
    /// Seconds spent opening the kiosks' connections, then making the calls.
    pub connect_seconds: f64,
    pub calls_seconds: f64,
    /// `/proc/loadavg` (1, 5, 15 min) when the calls were over: the
    /// machine is shared, so figures come with how busy it was.
    pub load_average: Option<[f64; 3]>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Connections {
    pub kiosks_connected: usize,
    pub agents_ready: usize,
    /// Still open when the calls were over.
    pub kiosks_held: usize,
    pub agents_held: usize,
    /// What the hubs' `/healthz` said at the same time, summed; `None` if a
    /// hub did not answer.
    pub hub_kiosks: Option<u64>,
    pub hub_agents: Option<u64>,
}

/// Resident memory of the hub processes, summed, in KiB.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Memory {
    pub hub_pids: Vec<u32>,
    pub before_kib: Option<u64>,
    /// Once every agent was signed in and connected, before any kiosk.
    pub agents_kib: Option<u64>,
    /// Once every kiosk was connected too, before any call.
    pub connected_kib: Option<u64>,
    pub end_kib: Option<u64>,
    /// (connected − agents) / kiosks connected: what a kiosk's connection
    /// costs the hub, the figure that scales with the fleet.
    pub per_kiosk_kib: Option<f64>,
    /// (agents − before) / agents: a sign-in (Argon2id) and a connection.
    pub per_agent_kib: Option<f64>,
}

impl Memory {
    /// `rss` is before, with the agents, with everyone, at the end;
    /// `counts` the agents and the kiosks connected.
    pub fn new(hub_pids: Vec<u32>, rss: [Option<u64>; 4], counts: (usize, usize)) -> Memory {
        let [before, agents, connected, end] = rss;
        let share = |from: Option<u64>, to: Option<u64>, n: usize| match (from, to) {
            (Some(a), Some(b)) if n > 0 => Some((b as f64 - a as f64) / n as f64),
            _ => None,
        };
        Memory {
            hub_pids,
            before_kib: before,
            agents_kib: agents,
            connected_kib: connected,
            end_kib: end,
            per_kiosk_kib: share(agents, connected, counts.1),
            per_agent_kib: share(before, agents, counts.0),
        }
    }
}

/// `/proc/loadavg`'s three averages.
pub fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut it = text.split_whitespace().map(|w| w.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

impl Report {
    pub fn to_json(&self) -> String {
        // Invariant: plain data with string keys always serializes.
        serde_json::to_string_pretty(self).expect("a report serializes")
    }

    pub fn markdown_header() -> &'static str {
        "| configuration | kiosks | agents | held (kiosks + agents) | hub RSS per kiosk connection | take-next p50 / p99 | answer reaches kiosk p50 / p99 | signaling relay p50 / p99 | calls taken / queued (across processes) | errors | load average |\n\
         |---|---|---|---|---|---|---|---|---|---|---|"
    }

    pub fn markdown_row(&self) -> String {
        let ms = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "–".into());
        let pair = |s: &crate::stats::Summary| format!("{} / {} ms", ms(s.p50_ms), ms(s.p99_ms));
        let memory = self.memory.per_kiosk_kib.map(|k| format!("{k:.1} KiB")).unwrap_or_else(|| "–".into());
        let c = &self.calls;
        let errors = if c.errors.is_empty() {
            "0".to_owned()
        } else {
            c.errors.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", ")
        };
        let load = self.load_average.map(|l| format!("{:.2}", l[0])).unwrap_or_else(|| "–".into());
        format!(
            "| {} | {} | {} | {} + {} | {} | {} | {} | {} | {} / {} ({}) | {} | {} |",
            self.label,
            self.kiosks,
            self.agents,
            self.connections.kiosks_held,
            self.connections.agents_held,
            memory,
            pair(&c.take_next),
            pair(&c.answer_delivery),
            pair(&c.relay),
            c.taken,
            c.queued,
            c.cross_process,
            errors,
            load,
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::ledger::{Event, Ledger};
    use visio_protocol::SessionId;

    fn report() -> Report {
        let mut ledger = Ledger::default();
        let session = SessionId("abcd0001-000001".into());
        ledger.record(Event::Queued { session: session.clone(), kiosk: 0, hub: 0 });
        ledger.record(Event::Taken { session: session.clone(), agent: 0, hub: 1, pressed_us: 0, started_us: 1500 });
        ledger.record(Event::Answered { session, at_us: 2500 });
        ledger.record(Event::Relayed { direction: crate::ledger::Direction::KioskToAgent, latency_us: 800 });
        ledger.record(Event::Error { kind: "connect".into() });
        Report {
            label: "3 processes".into(),
            hub_addresses: 3,
            kiosks: 10,
            agents: 2,
            connections: Connections {
                kiosks_connected: 9,
                agents_ready: 2,
                kiosks_held: 9,
                agents_held: 2,
                hub_kiosks: Some(9),
                hub_agents: Some(2),
            },
            memory: Memory::new(vec![1, 2, 3], [Some(30_000), Some(30_100), Some(30_550), Some(31_000)], (2, 9)),
            calls: ledger.figures(),
            connect_seconds: 1.0,
            calls_seconds: 2.0,
            load_average: parse_loadavg("2.85 3.06 2.48 3/812 12345\n"),
        }
    }

    #[test]
    fn memory_per_connection_is_the_growth_shared() {
        let memory = report().memory;
        assert_eq!((memory.per_kiosk_kib, memory.per_agent_kib), (Some(50.0), Some(50.0)));
        assert_eq!(Memory::new(vec![], [None; 4], (2, 5)).per_kiosk_kib, None);
        let no_kiosk = Memory::new(vec![1], [Some(10), Some(20), Some(20), None], (1, 0));
        assert_eq!((no_kiosk.per_kiosk_kib, no_kiosk.per_agent_kib), (None, Some(10.0)));
    }

    #[test]
    fn the_markdown_row_has_a_cell_per_column() {
        let row = report().markdown_row();
        let header_cells = Report::markdown_header().lines().next().unwrap().matches('|').count();
        assert_eq!(row.matches('|').count(), header_cells, "{row}");
        assert!(row.contains("| 9 + 2 |"), "{row}");
        assert!(row.contains("| 50.0 KiB |"), "{row}");
        assert!(row.contains("| 1.5 / 1.5 ms |"), "{row}");
        assert!(row.contains("| 1 / 1 (1) |"), "{row}");
        assert!(row.contains("| connect: 1 |"), "{row}");
        assert!(row.ends_with("| 2.85 |"), "{row}");
    }

    #[test]
    fn the_json_has_every_figure() {
        let value: serde_json::Value = serde_json::from_str(&report().to_json()).unwrap();
        assert_eq!(value["calls"]["take_next"]["p50_ms"], 1.5);
        assert_eq!(value["connections"]["hub_kiosks"], 9);
        assert_eq!(value["memory"]["per_kiosk_kib"], 50.0);
        assert_eq!(value["calls"]["errors"], serde_json::to_value(BTreeMap::from([("connect", 1)])).unwrap());
        assert_eq!(value["load_average"][0], 2.85);
    }

    #[test]
    fn loadavg_parses_or_says_nothing() {
        assert_eq!(parse_loadavg("0.50 1.00 1.50 1/100 42"), Some([0.5, 1.0, 1.5]));
        assert_eq!(parse_loadavg("garbage"), None);
    }
}
