//! Document names are personal data: they must never reach the logs. A
//! binary of its own, so its global subscriber sees every log line.

mod core_support;

use std::time::Instant;

use core_support::*;
use visio_transfer::{Event, Limits, Purpose, Side};

/// Collects every log line, at every level.
#[derive(Clone, Default)]
struct LogBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn document_names_stay_out_of_the_logs() {
    let buf = LogBuf::default();
    let sink = buf.clone();
    let subscriber = tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_ansi(false).with_writer(move || sink.clone()).finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();
    {
        let now = Instant::now();
        let mut k = Peer::new(Side::Kiosk, Limits { max_file_bytes: 200_000, ..Limits::default() });
        let mut a = Peer::new(Side::Agent, Limits::default());
        k.ep.handle_link_up(now);
        a.ep.handle_link_up(now);
        a.push(now, "Dupont-Martine-bulletin-de-paie.pdf", pdf(1, 100_000), Purpose::Print);
        a.push(now, "Dupont-Martine-releve.pdf", pdf(1, 300_000), Purpose::Print);
        a.push(now, "../Dupont-Martine/avis.pdf", pdf(1, 10), Purpose::Print);
        run(now, &mut k, &mut a, &mut |_| true);
        assert_eq!(a.events.iter().filter(|e| matches!(e, Event::Rejected { .. })).count(), 2);
    }
    let logs = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("file received and verified"), "logging was captured");
    assert!(!logs.contains("Dupont"), "a document name reached the logs:\n{logs}");
}

