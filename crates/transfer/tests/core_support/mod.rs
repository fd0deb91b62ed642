//! In-memory harness for the protocol core: two endpoints, files in memory,
//! time advanced by hand.
#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Instant;

use sha2::{Digest, Sha256};
use visio_transfer::{Endpoint, Event, FileMeta, Frame, Limits, Output, PeerError, Purpose, Side, Transmit};

/// One side plus its in-memory "spool": files it sends and files it received.
pub struct Peer {
    pub ep: Endpoint,
    pub sources: HashMap<u32, Vec<u8>>,
    pub received: HashMap<u32, Vec<u8>>,
    pub events: Vec<Event>,
    /// Messages sent to the other side, in order.
    pub wire: Vec<Transmit>,
}

impl Peer {
    pub fn new(side: Side, limits: Limits) -> Self {
        Peer { ep: Endpoint::new(side, limits), sources: HashMap::new(), received: HashMap::new(), events: vec![], wire: vec![] }
    }

    pub fn push(&mut self, now: Instant, name: &str, data: Vec<u8>, purpose: Purpose) -> u32 {
        let meta = FileMeta { name: name.into(), size: data.len() as u64, sha256: sha(&data), purpose, req: None };
        let id = self.ep.push_file(now, meta).unwrap();
        self.sources.insert(id, data);
        id
    }

    /// Drains outputs; transmits are collected in `wire`.
    pub fn drain(&mut self, now: Instant) {
        while let Some(out) = self.ep.poll_output() {
            match out {
                Output::Transmit(t) => self.wire.push(t),
                Output::Read { id, offset, len } => {
                    let src = &self.sources[&id];
                    let data = src[offset as usize..offset as usize + len].to_vec();
                    self.ep.handle_data(now, id, offset, &data).unwrap();
                }
                Output::Write { id, offset, data } => {
                    let f = self.received.entry(id).or_default();
                    assert_eq!(f.len() as u64, offset, "writes arrive in order");
                    f.extend_from_slice(&data);
                }
                Output::Discard { id } => {
                    self.received.remove(&id);
                }
                Output::Event(e) => self.events.push(e),
            }
        }
    }
}

pub fn sha(d: &[u8]) -> String {
    hex::encode(Sha256::digest(d))
}

/// Moves everything queued each way until both are quiet. `tamper` can
/// change or drop a message in flight (returns false to drop).
pub fn run(now: Instant, a: &mut Peer, b: &mut Peer, tamper: &mut dyn FnMut(&mut Transmit) -> bool) -> (Vec<PeerError>, Vec<PeerError>) {
    let (mut ea, mut eb) = (vec![], vec![]);
    for _ in 0..100_000 {
        a.drain(now);
        b.drain(now);
        if a.wire.is_empty() && b.wire.is_empty() {
            return (ea, eb);
        }
        for mut t in std::mem::take(&mut a.wire) {
            if tamper(&mut t)
                && let Err(e) = deliver(now, &mut b.ep, &t)
            {
                eb.push(e);
            }
        }
        for mut t in std::mem::take(&mut b.wire) {
            if tamper(&mut t)
                && let Err(e) = deliver(now, &mut a.ep, &t)
            {
                ea.push(e);
            }
        }
    }
    panic!("no quiescence");
}

pub fn deliver(now: Instant, ep: &mut Endpoint, t: &Transmit) -> Result<(), PeerError> {
    match t {
        Transmit::Text(s) => ep.handle_frame(now, Frame::Text(s)),
        Transmit::Binary(b) => ep.handle_frame(now, Frame::Binary(b)),
    }
}

pub fn pair() -> (Instant, Peer, Peer) {
    let now = Instant::now();
    let mut k = Peer::new(Side::Kiosk, Limits::default());
    let mut a = Peer::new(Side::Agent, Limits::default());
    k.ep.handle_link_up(now);
    a.ep.handle_link_up(now);
    (now, k, a)
}

pub fn pdf(pages: u32, filler: usize) -> Vec<u8> {
    let mut s = String::from("%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n");
    s += &format!("2 0 obj << /Type /Pages /Count {pages} >> endobj\n");
    for i in 0..pages {
        s += &format!("{} 0 obj << /Type /Page /Parent 2 0 R >> endobj\n", 3 + i);
    }
    let mut v = s.into_bytes();
    // incompressible-looking filler in a comment-free stream
    v.extend_from_slice(b"9 0 obj << /Length 0 >> stream\n");
    v.extend((0..filler).map(|i| (i * 7 % 251) as u8));
    v.extend_from_slice(b"\nendstream endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n");
    v
}

