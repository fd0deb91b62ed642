//! The visit's receipt: what the services that ask for one want the
//! resident to take home. Metadata only (names, times, outcomes), never a
//! document's content; kept in memory for the visit and handed to the
//! shell to print once the last call and its documents have ended.

use std::time::{Duration, Instant};

use visio_protocol::ServiceId;

use super::*;

/// Longest wait, after the visit's last call ended, for the outcomes of
/// its documents that raced the end: the shell drains them within 2 s.
pub const RECEIPT_SETTLE: Duration = Duration::from_secs(3);

/// What was done with one document during a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptOutcome {
    /// Scanned here and received by the agent.
    Sent,
    /// Printed here.
    Printed,
    /// Shown on the screen.
    Shown,
    /// Signed here and received by the agent.
    Signed,
    /// The resident would not sign it.
    NotSigned,
    /// Did not go through (the agent was told why).
    Failed,
}

/// One document of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptLine {
    pub at: Instant,
    /// The document's name, as the agent named it; `None` for a failure
    /// the documents could not tie to a name.
    pub name: Option<String>,
    pub outcome: ReceiptOutcome,
}

/// One call of the visit (a transfer makes a second).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptLeg {
    pub service: ServiceId,
    /// The agent's first name only: enough to say who served the resident.
    pub agent_first_name: String,
    pub answered_at: Instant,
    pub documents: Vec<ReceiptLine>,
}

/// Everything the receipt says, for the shell to lay out in the
/// resident's language and print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub language: Language,
    pub legs: Vec<ReceiptLeg>,
    /// When the visit's last call ended.
    pub ended_at: Instant,
}

/// The first word of an agent's display name ("Claire Martin" → "Claire").
pub fn first_name(display_name: &str) -> String {
    display_name.split_whitespace().next().unwrap_or_default().to_owned()
}

impl Session {
    /// A call starts: a new leg of the visit's receipt.
    pub(super) fn receipt_leg(&mut self, now: Instant, service: ServiceId, agent_name: &str) {
        self.receipt.push(ReceiptLeg { service, agent_first_name: first_name(agent_name), answered_at: now, documents: Vec::new() });
    }

    /// A document's outcome, for the current call's leg, or for the last
    /// one while the ended visit's receipt waits ([`RECEIPT_SETTLE`]). A
    /// failure is tied to the print in progress, if one was (the other
    /// failures name no document).
    pub(super) fn receipt_document(&mut self, now: Instant, event: &DocumentEvent) {
        let document = match &self.screen {
            Screen::InCall(call) => Some(&call.document),
            _ if self.receipt_due.is_some() => None,
            _ => return,
        };
        let line = match event {
            DocumentEvent::ScanSent { name, .. } => (Some(name.clone()), ReceiptOutcome::Sent),
            DocumentEvent::Printed { name } => (Some(name.clone()), ReceiptOutcome::Printed),
            DocumentEvent::Showing { name, .. } => (Some(name.clone()), ReceiptOutcome::Shown),
            DocumentEvent::Signed { name, .. } => (Some(name.clone()), ReceiptOutcome::Signed),
            DocumentEvent::Failed { .. } => {
                let printing = match document {
                    Some(DocumentView::Printing { name } | DocumentView::SignSending { name }) => Some(name.clone()),
                    _ => None,
                };
                (printing, ReceiptOutcome::Failed)
            }
            _ => return,
        };
        if let Some(leg) = self.receipt.last_mut() {
            leg.documents.push(ReceiptLine { at: now, name: line.0, outcome: line.1 });
        }
    }

    /// The resident would not sign `name`.
    pub(super) fn receipt_not_signed(&mut self, now: Instant, name: String) {
        if let Some(leg) = self.receipt.last_mut() {
            leg.documents.push(ReceiptLine { at: now, name: Some(name), outcome: ReceiptOutcome::NotSigned });
        }
    }

    /// The visit's last call ended. When one of its services asks for a
    /// receipt, it waits for the documents' last outcomes: a print can come
    /// out as the agent hangs up, and its outcome reaches the session after
    /// the hub's end. The shell says when they are all told
    /// ([`Input::DocumentsEnded`](crate::Input::DocumentsEnded)), or after
    /// [`RECEIPT_SETTLE`] it prints anyway. Forgotten either way.
    pub(super) fn receipt_at_end(&mut self, now: Instant) {
        if self.receipt.iter().any(|leg| self.config.receipt_services.contains(&leg.service)) {
            self.receipt_due = Some((now, self.language));
            self.timers.set(Timer::ReceiptDue, now + RECEIPT_SETTLE);
        } else {
            self.receipt.clear();
        }
    }

    /// The ended visit's receipt waits for its documents' last outcomes: a
    /// shell that is about to stop keeps the visit open until it went out.
    pub fn receipt_pending(&self) -> bool {
        self.receipt_due.is_some()
    }

    /// Prints the ended visit's receipt if it waits.
    pub(super) fn print_receipt(&mut self) {
        self.timers.stop(Timer::ReceiptDue);
        if let Some((ended_at, language)) = self.receipt_due.take() {
            let legs = std::mem::take(&mut self.receipt);
            self.outputs.push_back(Output::PrintReceipt(Receipt { language, legs, ended_at }));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use visio_protocol::{EndReason, HubToKiosk, KioskToHub, PROTOCOL_VERSION, SessionId};

    use super::*;

    struct Kiosk {
        session: Session,
        now: Instant,
    }

    impl Kiosk {
        /// At home, hub connected; `receipt` services ask for a receipt.
        fn at_home(receipt: &[&str]) -> Kiosk {
            Kiosk::at_home_with(Config { receipt_services: receipt.iter().map(|s| ServiceId::from(*s)).collect(), ..Config::default() })
        }

        fn at_home_with(config: Config) -> Kiosk {
            let now = Instant::now();
            let mut k = Kiosk { session: Session::new(config, now), now };
            k.input(Input::HubConnected);
            k.hub(HubToKiosk::Welcome {
                protocol: PROTOCOL_VERSION,
                kiosk_id: "besse".into(),
                site: "Mairie".into(),
                services: vec![],
                heartbeat_seconds: None,
                callbacks: false,
            });
            k.take();
            k
        }

        fn input(&mut self, input: Input) {
            self.session.handle_input(self.now, input);
        }

        fn hub(&mut self, message: HubToKiosk) {
            self.input(Input::Hub(message));
        }

        fn document(&mut self, event: DocumentEvent) {
            self.now += Duration::from_secs(60);
            self.input(Input::Document(event));
        }

        /// Chooses `service`, waits as `session` and is answered by `agent`.
        fn call(&mut self, service: &str, session: &str, agent: &str) {
            self.input(Input::ChooseService(service.into()));
            self.hub(HubToKiosk::Queued { session: session.into(), service: service.into(), position: 1, estimated_wait: None });
            self.answered(session, agent);
        }

        fn answered(&mut self, session: &str, agent: &str) {
            self.hub(HubToKiosk::CallAnswered { session: session.into(), agent_name: agent.into(), ice_servers: vec![], resume_token: None });
        }

        fn take(&mut self) -> Vec<Output> {
            std::iter::from_fn(|| self.session.poll_output()).collect()
        }

        fn receipts(&mut self) -> Vec<Receipt> {
            self.take().into_iter().filter_map(|o| if let Output::PrintReceipt(r) = o { Some(r) } else { None }).collect()
        }
    }

    #[test]
    fn a_service_that_asks_gets_the_calls_documents_and_the_agents_first_name() {
        let mut k = Kiosk::at_home(&["caf"]);
        k.input(Input::SetLanguage(Language::En));
        k.call("caf", "s-1", "Claire Martin");
        let answered = k.now;
        k.document(DocumentEvent::ScanSent { name: "CAF-2026-12-06-1.pdf".into(), size: 10, sha256: "ab".into() });
        k.document(DocumentEvent::PrintStarted { name: "formulaire.pdf".into() });
        k.document(DocumentEvent::Failed { reason: "printer stopped".into() });
        k.document(DocumentEvent::Printed { name: "notice.pdf".into() });
        k.document(DocumentEvent::Showing { name: "guide.pdf".into(), pages: 2 });
        // Progress is not an outcome.
        k.document(DocumentEvent::ScanProgress { percent: 50 });
        assert!(k.receipts().is_empty(), "nothing is printed during the call");
        k.hub(HubToKiosk::CallEnded { session: "s-1".into(), reason: EndReason::AgentHungUp });
        assert!(k.receipts().is_empty(), "not before the documents ended");
        k.input(Input::DocumentsEnded);
        let [receipt] = k.receipts().try_into().expect("one receipt at the end");
        assert_eq!(receipt.language, Language::En);
        let [leg] = receipt.legs.as_slice() else { panic!("{receipt:?}") };
        assert_eq!((leg.service.as_str(), leg.agent_first_name.as_str(), leg.answered_at), ("caf", "Claire", answered));
        let lines: Vec<_> = leg.documents.iter().map(|l| (l.name.as_deref(), l.outcome)).collect();
        assert_eq!(lines, [
            (Some("CAF-2026-12-06-1.pdf"), ReceiptOutcome::Sent),
            (Some("formulaire.pdf"), ReceiptOutcome::Failed),
            (Some("notice.pdf"), ReceiptOutcome::Printed),
            (Some("guide.pdf"), ReceiptOutcome::Shown),
        ]);
        assert!(leg.documents.windows(2).all(|w| w[0].at < w[1].at), "in the order they happened");
    }

    #[test]
    fn signed_and_unsigned_documents_are_on_the_receipt() {
        let mut k = Kiosk::at_home(&["caf"]);
        k.call("caf", "s-1", "Claire");
        let area = SignArea { page: 1, x: 500, y: 800, width: 400, height: 120 };
        k.document(DocumentEvent::SignAsked { name: "mandat.pdf".into(), pages: 1, area });
        k.input(Input::Sign { strokes: vec![vec![(0, 0), (500, 500)]] });
        k.document(DocumentEvent::Signed { name: "mandat-signé.pdf".into(), size: 10, sha256: "ab".into() });
        k.document(DocumentEvent::SignAsked { name: "contrat.pdf".into(), pages: 1, area });
        k.input(Input::RefuseSign);
        k.document(DocumentEvent::SignAsked { name: "abime.pdf".into(), pages: 1, area });
        k.input(Input::Sign { strokes: vec![vec![(0, 0), (500, 500)]] });
        k.document(DocumentEvent::Failed { reason: "qpdf".into() });
        k.hub(HubToKiosk::CallEnded { session: "s-1".into(), reason: EndReason::AgentHungUp });
        k.input(Input::DocumentsEnded);
        let [receipt] = k.receipts().try_into().expect("one receipt");
        let lines: Vec<_> = receipt.legs[0].documents.iter().map(|l| (l.name.as_deref(), l.outcome)).collect();
        assert_eq!(lines, [
            (Some("mandat-signé.pdf"), ReceiptOutcome::Signed),
            (Some("contrat.pdf"), ReceiptOutcome::NotSigned),
            (Some("abime.pdf"), ReceiptOutcome::Failed),
        ]);
    }

    #[test]
    fn a_service_that_does_not_ask_prints_nothing_and_the_next_visit_starts_clean() {
        let mut k = Kiosk::at_home(&["caf"]);
        k.call("msa", "s-1", "Bruno");
        k.document(DocumentEvent::Printed { name: "msa.pdf".into() });
        k.input(Input::HangUp);
        k.input(Input::ConfirmHangUp);
        k.input(Input::DocumentsEnded);
        let out = k.take();
        assert!(out.contains(&Output::ToHub(KioskToHub::HangUp { session: "s-1".into() })));
        assert!(!out.iter().any(|o| matches!(o, Output::PrintReceipt(_))), "{out:?}");
        // The next resident's CAF call lists only its own documents.
        k.advance_home();
        k.call("caf", "s-2", "Claire");
        k.hub(HubToKiosk::CallEnded { session: "s-2".into(), reason: EndReason::KioskHungUp });
        k.input(Input::DocumentsEnded);
        let [receipt] = k.receipts().try_into().expect("one receipt");
        assert_eq!(receipt.legs.len(), 1);
        assert!(receipt.legs[0].documents.is_empty(), "{receipt:?}");
        assert_eq!(receipt.language, Language::Fr, "the next resident meets French");
    }

    #[test]
    fn a_transferred_visit_prints_one_receipt_with_both_calls() {
        let mut k = Kiosk::at_home(&["msa"]);
        k.call("caf", "s-1", "Claire");
        k.document(DocumentEvent::ScanSent { name: "caf.pdf".into(), size: 1, sha256: "00".into() });
        k.hub(HubToKiosk::CallTransferred {
            session: "s-1".into(),
            to_session: "s-2".into(),
            service: "msa".into(),
            position: 1,
            estimated_wait: None,
        });
        assert!(k.receipts().is_empty(), "the visit goes on");
        k.answered("s-2", "Bruno Lefort");
        k.document(DocumentEvent::Printed { name: "msa.pdf".into() });
        k.hub(HubToKiosk::CallEnded { session: SessionId::from("s-2"), reason: EndReason::AgentHungUp });
        k.input(Input::DocumentsEnded);
        let [receipt] = k.receipts().try_into().expect("one receipt");
        let legs: Vec<_> = receipt.legs.iter().map(|l| (l.service.as_str(), l.agent_first_name.as_str(), l.documents.len())).collect();
        assert_eq!(legs, [("caf", "Claire", 1), ("msa", "Bruno", 1)]);
    }

    impl Kiosk {
        /// Past the end screen, back home.
        fn advance_home(&mut self) {
            let end = self.now + Duration::from_secs(600);
            while let Some(t) = self.session.poll_timeout().filter(|t| *t <= end) {
                self.now = t.max(self.now);
                self.session.handle_timeout(self.now);
            }
            self.now = end;
            self.take();
            assert_eq!(*self.session.screen(), Screen::Home { notice: None });
        }
    }

    /// The headless test's failure: the agent saw "printed" and hung up at
    /// once; the print's outcome reached the session after the hub's end.
    #[test]
    fn a_print_that_came_out_as_the_agent_hung_up_is_on_the_receipt() {
        let mut k = Kiosk::at_home(&["caf"]);
        k.input(Input::SetLanguage(Language::En));
        k.call("caf", "s-1", "Claire");
        k.document(DocumentEvent::PrintStarted { name: "formulaire.pdf".into() });
        k.hub(HubToKiosk::CallEnded { session: "s-1".into(), reason: EndReason::AgentHungUp });
        let ended = k.now;
        k.document(DocumentEvent::Printed { name: "formulaire.pdf".into() });
        k.document(DocumentEvent::Failed { reason: "the second copy jammed".into() });
        assert!(k.receipts().is_empty(), "it waits for the documents' end");
        k.input(Input::DocumentsEnded);
        let [receipt] = k.receipts().try_into().expect("one receipt");
        assert_eq!((receipt.language, receipt.ended_at), (Language::En, ended), "as the call ended");
        let lines: Vec<_> = receipt.legs[0].documents.iter().map(|l| (l.name.as_deref(), l.outcome)).collect();
        assert_eq!(lines, [(Some("formulaire.pdf"), ReceiptOutcome::Printed), (None, ReceiptOutcome::Failed)]);
        // Told twice, printed once; what comes later is not a receipt's.
        k.input(Input::DocumentsEnded);
        k.document(DocumentEvent::Printed { name: "late.pdf".into() });
        assert!(k.receipts().is_empty());
    }

    #[test]
    fn without_word_from_the_shell_the_receipt_prints_after_a_few_seconds() {
        let mut k = Kiosk::at_home(&["caf"]);
        k.input(Input::SetLanguage(Language::En));
        k.call("caf", "s-1", "Claire");
        k.hub(HubToKiosk::CallEnded { session: "s-1".into(), reason: EndReason::AgentHungUp });
        let ended = k.now;
        assert_eq!(k.session.poll_timeout(), Some(ended + RECEIPT_SETTLE), "the receipt's wait is the next deadline");
        k.now = ended + RECEIPT_SETTLE;
        k.session.handle_timeout(k.now);
        let [receipt] = k.receipts().try_into().expect("one receipt");
        assert_eq!(receipt.language, Language::En, "the resident's language, not the next one's");
    }

    #[test]
    fn a_new_visit_before_the_receipt_printed_gets_it_out_first_and_starts_clean() {
        // An end screen shorter than the receipt's wait.
        let ended_screen = Duration::from_secs(1);
        let return_warning = Duration::from_millis(500);
        let mut k = Kiosk::at_home_with(Config { receipt_services: vec!["caf".into()], ended_screen, return_warning, ..Config::default() });
        k.call("caf", "s-1", "Claire");
        k.document(DocumentEvent::Printed { name: "a.pdf".into() });
        k.hub(HubToKiosk::CallEnded { session: "s-1".into(), reason: EndReason::AgentHungUp });
        // The return (and its warning) before the receipt's wait is over.
        let before = k.now + RECEIPT_SETTLE - Duration::from_millis(1);
        while let Some(t) = k.session.poll_timeout().filter(|t| *t <= before) {
            k.now = t.max(k.now);
            k.session.handle_timeout(k.now);
        }
        assert_eq!(*k.session.screen(), Screen::Home { notice: None });
        assert!(k.receipts().is_empty(), "still waiting for the documents");
        k.input(Input::ChooseService("caf".into()));
        let [receipt] = k.receipts().try_into().expect("the last visit's receipt, before the next one starts");
        assert_eq!(receipt.legs[0].documents.len(), 1);
        k.hub(HubToKiosk::Queued { session: "s-2".into(), service: "caf".into(), position: 1, estimated_wait: None });
        k.answered("s-2", "Bruno");
        k.hub(HubToKiosk::CallEnded { session: "s-2".into(), reason: EndReason::AgentHungUp });
        k.input(Input::DocumentsEnded);
        let [receipt] = k.receipts().try_into().expect("one receipt");
        assert_eq!((receipt.legs.len(), receipt.legs[0].agent_first_name.as_str()), (1, "Bruno"));
        assert!(receipt.legs[0].documents.is_empty());
    }

    #[test]
    fn the_first_name_is_the_first_word() {
        assert_eq!(first_name("Claire Martin"), "Claire");
        assert_eq!(first_name("  Jean-Paul  Dubois "), "Jean-Paul");
        assert_eq!(first_name(""), "");
    }
}
