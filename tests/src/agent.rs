//! The agent's side of a call, scripted in Rust as the console page does it:
//! answers the kiosk's offer through the hub, relays candidates both ways,
//! and runs the agent side of the document transfer on the data channel.

use tokio::sync::mpsc;
use visio_media::DocumentsLink;
use visio_kiosk::visit::{media_candidate, protocol_candidate};
use visio_media::{Call, CallConfig, CallEvent, CallStats, SessionDescription};
use visio_protocol::*;
use visio_testkit::hub::Agent;
use visio_testkit::wait::within;
use visio_transfer::driver::{Notice, SessionHandle, spawn_session};
use visio_transfer::spool::Spool;
use visio_transfer::{Event, Limits, OutcomeKind, Side};

/// The agent's side of the call, as the console page does it.
#[derive(Debug)]
pub struct ScriptedAgent {
    pub call: Call,
    /// What the hub says to the agent besides negotiation (peer_away,
    /// call_ended, …).
    pub from_hub: mpsc::UnboundedReceiver<HubToAgent>,
    /// After the hub connection dropped: a new one (hello said, with the
    /// call's resume token) for the relay to carry on with.
    pub rejoin: mpsc::UnboundedSender<Agent>,
    /// The agent's latest call figures (about once a second).
    pub stats: tokio::sync::watch::Receiver<Option<CallStats>>,
    pub documents: SessionHandle,
    notices: mpsc::UnboundedReceiver<Notice>,
    _spool: tempfile::TempDir,
}

impl ScriptedAgent {
    /// Answers the kiosk's offer and relays candidates both ways until the
    /// documents channel is open.
    pub async fn answer(agent: Agent, session: SessionId) -> (ScriptedAgent, mpsc::UnboundedSender<AgentToHub>) {
        ScriptedAgent::answer_with(agent, session, CallConfig::test_sources("ball", None, 880.0)).await
    }

    /// Like [`ScriptedAgent::answer`], with the agent's media settings
    /// (beyond loopback, `loopback_only` must be off).
    pub async fn answer_with(agent: Agent, session: SessionId, config: CallConfig) -> (ScriptedAgent, mpsc::UnboundedSender<AgentToHub>) {
        let (call, mut events) = Call::new(config).await.unwrap();
        let (to_hub, mut outgoing) = mpsc::unbounded_channel::<AgentToHub>();
        let (channel_tx, mut channel_rx) = mpsc::unbounded_channel();

        // One task owns the agent's socket: hub messages in, ours out. When
        // the hub connection drops, it waits for the test to rejoin.
        let mut agent = agent;
        let relay_call = call.clone();
        let relay_session = session.clone();
        let relay_out = to_hub.clone();
        let (from_hub_tx, from_hub) = mpsc::unbounded_channel();
        let (rejoin, mut rejoined) = mpsc::unbounded_channel::<Agent>();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    msg = agent.next_or_closed() => match msg {
                        Some(HubToAgent::Signal { signal: Signal::Offer { sdp }, .. }) => {
                            let answer = relay_call.accept_offer(SessionDescription::offer(sdp)).await.expect("answer");
                            let _ = relay_out.send(AgentToHub::Signal { session: relay_session.clone(), signal: Signal::Answer { sdp: answer.sdp } });
                        }
                        Some(HubToAgent::Signal { signal: Signal::Candidate { candidate }, .. }) => {
                            let _ = relay_call.add_remote_candidate(media_candidate(candidate)).await;
                        }
                        Some(other) => {
                            eprintln!("agent: {other:?}");
                            let _ = from_hub_tx.send(other);
                        }
                        None => match rejoined.recv().await {
                            Some(again) => agent = again,
                            None => return,
                        },
                    },
                    out = outgoing.recv() => match out {
                        Some(msg) => agent.send(msg).await,
                        None => return,
                    },
                }
            }
        });
        let event_out = to_hub.clone();
        let (stats_tx, stats) = tokio::sync::watch::channel(None);
        tokio::spawn(async move {
            while let Some(event) = events.next().await {
                match event {
                    CallEvent::Stats(s) => {
                        let _ = stats_tx.send(Some(*s));
                    }
                    CallEvent::LocalCandidate(c) => {
                        let candidate = protocol_candidate(c);
                        let _ = event_out.send(AgentToHub::Signal { session: session.clone(), signal: Signal::Candidate { candidate } });
                    }
                    CallEvent::DataChannelOpen(channel) => {
                        let _ = channel_tx.send(channel);
                    }
                    _ => {}
                }
            }
        });

        let channel = within("the documents channel at the agent", channel_rx.recv()).await.unwrap();
        let spool_dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(spool_dir.path().join("spool")).unwrap();
        let (documents, notices) = spawn_session(Side::Agent, Limits::default(), spool.session("agent").unwrap());
        let (link, link_events) = DocumentsLink::attach(channel);
        documents.attach(link, link_events).await.unwrap();
        (ScriptedAgent { call, from_hub, rejoin, stats, documents, notices, _spool: spool_dir }, to_hub)
    }

    /// The next message from the hub that matches.
    pub async fn hub_says<T>(&mut self, what: &str, pick: impl Fn(&HubToAgent) -> Option<T>) -> T {
        loop {
            let msg = within(what, self.from_hub.recv()).await.unwrap_or_else(|| panic!("the agent's relay ended before {what}"));
            if let Some(v) = pick(&msg) {
                return v;
            }
        }
    }

    /// The next notice of the agent's transfer session.
    pub async fn next_notice(&mut self) -> Option<Notice> {
        self.notices.recv().await
    }

    pub async fn notice<T>(&mut self, what: &str, pick: impl Fn(&Notice) -> Option<T>) -> T {
        loop {
            let notice = within(what, self.notices.recv()).await.unwrap_or_else(|| panic!("transfer session ended before {what}"));
            if let Some(v) = pick(&notice) {
                return v;
            }
        }
    }

    pub async fn outcome(&mut self, id: u32) -> (OutcomeKind, Option<String>) {
        self.notice("the kiosk's outcome", |n| match n {
            Notice::Core { event: Event::Outcome { id: i, outcome, reason }, .. } if *i == id => Some((*outcome, reason.clone())),
            _ => None,
        })
        .await
    }
}

