//! Shared test kit: wiring two calls together, waiting for conditions with
//! generous deadlines (CI is a loaded 2-core machine), and starting the real
//! external parts (Chromium, coturn).
#![allow(dead_code, unused_imports)]

pub use visio_testkit::{browser, turn};
pub use visio_testkit::wait::{DEADLINE, init_tracing};

use tokio::sync::mpsc;
use visio_media::{Call, CallConfig, CallEvent, CallState, VideoFrame};

/// One side of a test call: the handle, and the events the signaling relay did
/// not consume (everything but local candidates).
pub struct Peer {
    pub call: Call,
    pub events: mpsc::UnboundedReceiver<CallEvent>,
    /// Events a wait passed over that a later wait may want: a documents
    /// channel can open before the call reports `Connected` (on loopback
    /// both happen within a few milliseconds), and waiting for one must not
    /// lose the other. States, stats and data room are not kept: a later
    /// wait wants a new one.
    pub skipped: std::collections::VecDeque<CallEvent>,
    /// Every local candidate line this side gathered.
    pub local_candidates: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Peer {
    /// Waits (up to [`DEADLINE`]) for an event `pick` accepts, skipping others.
    pub async fn wait_for<T>(&mut self, what: &str, mut pick: impl FnMut(CallEvent) -> Option<T>) -> T {
        for _ in 0..self.skipped.len() {
            let event = self.skipped.pop_front().expect("counted");
            let kept = keep(&event).then(|| event.clone());
            match pick(event) {
                Some(found) => return found,
                None => self.skipped.extend(kept),
            }
        }
        let (events, skipped) = (&mut self.events, &mut self.skipped);
        let found = tokio::time::timeout(DEADLINE, async {
            while let Some(event) = events.recv().await {
                let kept = keep(&event).then(|| event.clone());
                if let Some(found) = pick(event) {
                    return Some(found);
                }
                skipped.extend(kept);
            }
            None
        })
        .await;
        match found {
            Ok(Some(found)) => found,
            Ok(None) => panic!("the call's events ended before {what}"),
            Err(_) => panic!("no {what} within {DEADLINE:?}"),
        }
    }

    pub async fn wait_connected(&mut self) {
        self.wait_for("Connected state", |e| match e {
            CallEvent::State(CallState::Connected) => Some(()),
            CallEvent::State(s @ (CallState::Failed | CallState::Closed)) => panic!("call ended in {s:?}"),
            _ => None,
        })
        .await
    }

    /// Waits for a decoded remote frame `accept` likes.
    pub async fn wait_frame(&self, what: &str, mut accept: impl FnMut(&VideoFrame) -> bool) -> VideoFrame {
        let frames = self.call.remote_frames();
        let mut last = None;
        let found = tokio::time::timeout(DEADLINE, async {
            while let Some(frame) = frames.next().await {
                if accept(&frame) {
                    return Some(frame);
                }
                last = Some(frame);
            }
            None
        })
        .await;
        match found {
            Ok(Some(frame)) => frame,
            Ok(None) => panic!("the call ended before {what}"),
            Err(_) => panic!("no {what} within {DEADLINE:?}; last frame seen: {last:?}"),
        }
    }
}

/// Starts a call whose local candidates go to `candidates` and other events to the returned peer.
pub async fn start(config: CallConfig, candidates: mpsc::UnboundedSender<visio_media::IceCandidate>) -> Peer {
    let (call, mut events) = Call::new(config).await.expect("call starts");
    let (tx, rx) = mpsc::unbounded_channel();
    let local_candidates = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = local_candidates.clone();
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            match event {
                CallEvent::LocalCandidate(c) => {
                    seen.lock().unwrap().push(c.candidate.clone());
                    let _ = candidates.send(c);
                }
                other => {
                    let _ = tx.send(other);
                }
            }
        }
    });
    Peer { call, events: rx, skipped: Default::default(), local_candidates }
}

/// Whether a wait that passes over `event` keeps it for a later one.
fn keep(event: &CallEvent) -> bool {
    !matches!(event, CallEvent::State(_) | CallEvent::Stats(_) | CallEvent::DataRoom { .. })
}

/// Two calls of this crate connected through an in-process signaling relay:
/// `a` offers (the kiosk's role), `b` answers.
pub async fn connect_pair(a: CallConfig, b: CallConfig) -> (Peer, Peer) {
    let (a_cand_tx, mut a_cand_rx) = mpsc::unbounded_channel();
    let (b_cand_tx, mut b_cand_rx) = mpsc::unbounded_channel();
    let pa = start(a, a_cand_tx).await;
    let pb = start(b, b_cand_tx).await;
    let offer = pa.call.create_offer().await.expect("offer");
    // Candidates flow as soon as they exist, possibly before the other side
    // has a remote description: the call must hold them.
    let (ca, cb) = (pa.call.clone(), pb.call.clone());
    tokio::spawn(async move {
        while let Some(c) = a_cand_rx.recv().await {
            if let Err(e) = cb.add_remote_candidate(c).await {
                eprintln!("b refused a's candidate: {e}");
            }
        }
    });
    tokio::spawn(async move {
        while let Some(c) = b_cand_rx.recv().await {
            if let Err(e) = ca.add_remote_candidate(c).await {
                eprintln!("a refused b's candidate: {e}");
            }
        }
    });
    let offer_sdp = offer.sdp.clone();
    let answer = pb.call.accept_offer(offer).await.expect("answer");
    // Our answerer answers as the agent console's browser does: the offerer
    // (the kiosk) is the DTLS server.
    assert!(answer.sdp.contains("a=setup:active") && !answer.sdp.contains("a=setup:passive"), "{}", answer.sdp);
    // The offerer offers forward error correction (RED + ULPFEC) as Chromium
    // does; our answerer declines it, so video between two calls of this
    // crate stays plain.
    let fec = |sdp: &str| sdp.contains("red/90000") && sdp.contains("ulpfec/90000");
    assert!(fec(&offer_sdp) && !answer.sdp.contains("red/90000") && !answer.sdp.contains("ulpfec/90000"), "{offer_sdp}\n{}", answer.sdp);
    pa.call.set_answer(answer).await.expect("answer accepted");
    (pa, pb)
}

/// Is this RGBA pixel close to the colour?
pub fn near(pixel: [u8; 4], rgb: [u8; 3]) -> bool {
    pixel.iter().zip(rgb).all(|(&p, c)| (i16::from(p) - i16::from(c)).abs() < 60)
}
