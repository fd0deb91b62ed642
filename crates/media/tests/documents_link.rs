//! The product's documents link (`DocumentsLink`) on a real call over
//! loopback: it carries the back-pressure the transfer core expects (the
//! channel's buffered-amount marks) besides the messages, and a transfer
//! session over it pauses on "high", resumes on "low" and delivers intact.

mod common;

use std::sync::atomic::Ordering;

use common::{DEADLINE, Peer, connect_pair};
use tokio::sync::mpsc;
use visio_media::{CallConfig, CallEvent, DataChannelHandle, DocumentsLink};
use visio_transfer::driver::{Notice, spawn_session};
use visio_transfer::link::LinkEvent;
use visio_transfer::spool::{Spool, hash_file};
use visio_transfer::{Event, Limits, Purpose, Side, Transmit};

async fn channel_of(peer: &mut Peer) -> DataChannelHandle {
    peer.wait_for("documents data channel", |e| match e {
        CallEvent::DataChannelOpen(ch) => Some(ch),
        _ => None,
    })
    .await
}

async fn next(what: &str, rx: &mut mpsc::Receiver<LinkEvent>) -> LinkEvent {
    match tokio::time::timeout(DEADLINE, rx.recv()).await {
        Ok(Some(event)) => event,
        Ok(None) => panic!("link events ended before {what}"),
        Err(_) => panic!("no {what} within {DEADLINE:?}"),
    }
}

async fn pair() -> (Peer, Peer, DataChannelHandle, DataChannelHandle) {
    common::init_tracing();
    let (mut a, mut b) = connect_pair(CallConfig::test_sources("solid-color", Some(0xffff_0000), 440.0), CallConfig::test_sources("solid-color", Some(0xff00_00ff), 660.0)).await;
    a.wait_connected().await;
    b.wait_connected().await;
    let (cha, chb) = (channel_of(&mut a).await, channel_of(&mut b).await);
    (a, b, cha, chb)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn documents_link_reports_buffer_marks_in_order_with_messages() {
    let (_a, _b, cha, chb) = pair().await;
    let (sender, mut sent_events) = DocumentsLink::attach(cha);
    let (_receiver, mut received) = DocumentsLink::attach(chb);
    assert_eq!(next("sender open", &mut sent_events).await, LinkEvent::Open);
    assert_eq!(next("receiver open", &mut received).await, LinkEvent::Open);

    // A burst well over the high mark (256 KiB), under the call's 1 MiB
    // send-buffer limit, so `send` queues it all at once.
    const CHUNKS: usize = 48;
    for i in 0..CHUNKS {
        let mut chunk = vec![0u8; 16 * 1024];
        chunk[0] = i as u8;
        sender.send(&Transmit::Binary(chunk)).await.unwrap();
    }
    // While the burst is still being queued SCTP already sends, and the
    // buffer may fall back under the low mark before it first reaches the
    // high one (seen once in CI, session 18): such an early "low" asks for
    // nothing, as no "high" came before it.
    let mut first = next("buffered amount high", &mut sent_events).await;
    while first == LinkEvent::BufferLow {
        first = next("buffered amount high", &mut sent_events).await;
    }
    assert_eq!(first, LinkEvent::BufferHigh);
    assert_eq!(next("buffered amount low after high", &mut sent_events).await, LinkEvent::BufferLow);
    for i in 0..CHUNKS {
        match next("chunk", &mut received).await {
            LinkEvent::Binary(b) => assert_eq!((b.len(), b[0]), (16 * 1024, i as u8), "chunk {i} arrives whole and in order"),
            other => panic!("chunk {i}: {other:?}"),
        }
    }
    // The receiver sent nothing: it saw no mark crossing of its own.
    assert!(received.try_recv().is_err(), "nothing but the chunks reached the receiver");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transfer_over_the_documents_link_pauses_on_high_and_delivers() {
    let (_a, _b, cha, chb) = pair().await;
    let root = tempfile::tempdir().unwrap();
    let spool = Spool::open(root.path().join("spool")).unwrap();
    let (kiosk, mut kiosk_notices) = spawn_session(Side::Kiosk, Limits::default(), spool.session("kiosk").unwrap());
    let (agent, mut agent_notices) = spawn_session(Side::Agent, Limits::default(), spool.session("agent").unwrap());
    let (link, events) = DocumentsLink::attach(cha);
    kiosk.attach(link, events).await.unwrap();
    let (link, events) = DocumentsLink::attach(chb);
    agent.attach(link, events).await.unwrap();

    let doc = root.path().join("big.pdf");
    std::fs::write(&doc, visio_testkit::pdf::padded_pdf("Attestation", 8_000_000)).unwrap();
    let (id, sha) = agent.push_file(&doc, "big.pdf", Purpose::Display, None).await.unwrap();
    let received = tokio::time::timeout(DEADLINE, async {
        loop {
            match kiosk_notices.recv().await.expect("kiosk session ended") {
                Notice::Core { event: Event::FileReceived { id: i, sha256, .. }, file } if i == id => return (sha256, file.unwrap()),
                _ => {}
            }
        }
    })
    .await
    .expect("the kiosk received the file");
    tokio::time::timeout(DEADLINE, async {
        loop {
            if let Notice::Core { event: Event::Delivered { id: i }, .. } = agent_notices.recv().await.expect("agent session ended")
                && i == id
            {
                return;
            }
        }
    })
    .await
    .expect("the agent saw it delivered");
    assert_eq!(received.0, sha);
    assert_eq!(hash_file(&received.1).unwrap().1, sha, "the spool file is the document");
    let highs = agent.stats().buffer_high_events.load(Ordering::Relaxed);
    assert!(highs > 0, "the sender's core was told the channel's buffer went high (it paced on it)");
    eprintln!("8 MB over the documents link: {highs} buffered-amount-high pauses");
    agent.end().await.unwrap();
    kiosk.end().await.unwrap();
}

/// Waits for a notice `pick` accepts.
async fn notice<T>(what: &str, rx: &mut mpsc::UnboundedReceiver<Notice>, mut pick: impl FnMut(&Notice) -> Option<T>) -> T {
    let found = tokio::time::timeout(DEADLINE, async {
        while let Some(n) = rx.recv().await {
            if let Some(v) = pick(&n) {
                return Some(v);
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(v)) => v,
        Ok(None) => panic!("the session ended before {what}"),
        Err(_) => panic!("no {what} within {DEADLINE:?}"),
    }
}

/// Issue 22 item 7: the agent closes the documents channel mid-scan while
/// the call goes on (a browser may; so does an SCTP stream reset). The
/// kiosk's call (the offerer, which creates the channel) opens a new one,
/// both sessions take it as the kiosk's visit does, and the scan resumes
/// from what the agent holds and arrives whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_documents_channel_closed_mid_call_is_reopened_and_the_scan_resumes() {
    let (mut a, mut b, cha, chb) = pair().await;
    let root = tempfile::tempdir().unwrap();
    let spool = Spool::open(root.path().join("spool")).unwrap();
    let (kiosk, mut kiosk_notices) = spawn_session(Side::Kiosk, Limits::default(), spool.session("kiosk").unwrap());
    let (agent, mut agent_notices) = spawn_session(Side::Agent, Limits::default(), spool.session("agent").unwrap());
    let (link, events) = DocumentsLink::attach(cha);
    kiosk.attach(link, events).await.unwrap();
    let (link, events) = DocumentsLink::attach(chb.clone());
    agent.attach(link, events).await.unwrap();

    // A 4 MB scan at 1 MB/s, so the channel closes with most of it to go.
    let scan = root.path().join("scan.pdf");
    std::fs::write(&scan, visio_testkit::pdf::padded_pdf("Scan across a closed channel", 4_000_000)).unwrap();
    kiosk.set_send_rate(Some(1_000_000)).await.unwrap();
    let (id, sha) = kiosk.push_file(&scan, "scan.pdf", Purpose::Scan, None).await.unwrap();
    let held = notice("500 kB at the agent", &mut agent_notices, |n| match n {
        Notice::Core { event: Event::Progress { id: i, done, .. }, .. } if *i == id && *done >= 500_000 => Some(*done),
        _ => None,
    })
    .await;
    chb.close().await.unwrap();
    notice("the agent's link down", &mut agent_notices, |n| matches!(n, Notice::LinkDown).then_some(())).await;

    // The kiosk's call opens a new channel; the agent's call is told of it.
    let cha = channel_of(&mut a).await;
    let chb = channel_of(&mut b).await;
    let (link, events) = DocumentsLink::attach(cha);
    kiosk.attach(link, events).await.unwrap();
    let (link, events) = DocumentsLink::attach(chb);
    agent.attach(link, events).await.unwrap();
    kiosk.set_send_rate(None).await.unwrap();

    let resumed = notice("the scan resumed", &mut kiosk_notices, |n| match n {
        Notice::Core { event: Event::Resumed { id: i, offset }, .. } if *i == id => Some(*offset),
        _ => None,
    })
    .await;
    eprintln!("the agent held {held} bytes when it closed the channel; resumed at {resumed}");
    assert!(resumed >= held, "resumed at {resumed}, the agent held {held}: nothing sent again from zero");
    let (got, file) = notice("the scan received", &mut agent_notices, |n| match n {
        Notice::Core { event: Event::FileReceived { id: i, sha256, .. }, file } if *i == id => Some((sha256.clone(), file.clone())),
        _ => None,
    })
    .await;
    notice("the scan delivered", &mut kiosk_notices, |n| matches!(n, Notice::Core { event: Event::Delivered { id: i }, .. } if *i == id).then_some(())).await;
    assert_eq!(got, sha);
    assert_eq!(hash_file(&file.expect("the received file")).unwrap().1, sha, "the agent's file is the scan");
    let sent = kiosk.stats().chunk_bytes_sent.load(Ordering::Relaxed);
    let size = std::fs::metadata(&scan).unwrap().len();
    assert!(sent < size + 512 * 1024, "{sent} bytes sent for {size}: at most a window again");
    agent.end().await.unwrap();
    kiosk.end().await.unwrap();
}
