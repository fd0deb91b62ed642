//! The scan interview on the wire: the agent prepares (the kiosk shows
//! where to put the paper), asks page after page once the paper is down,
//! sees a preview of each, redoes one if needed, then finishes (one PDF)
//! or cancels. With a document feeder one `scan_feed` scans every page it
//! holds. This part only checks and routes the messages; the kiosk's
//! shell holds the pages (`crate::driver::interview`).

use std::time::Instant;

use super::{CommandError, Endpoint, Event, PeerError, Side};
use crate::wire::{ErrorCode, Message, ScanSettings};

/// A step of a scan interview, as the app is told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanStep {
    /// Kiosk: show and say the instruction, then answer `scan_ready`.
    Prepare {
        /// The interview.
        req: u32,
    },
    /// Kiosk: scan page `page` now (replacing it if held).
    Page {
        /// The interview.
        req: u32,
        /// Which page (1-based, within the page limit).
        page: u32,
        /// Colour and resolution.
        settings: ScanSettings,
    },
    /// Kiosk: scan every page in the feeder as pages `page`, `page + 1`…
    Feed {
        /// The interview.
        req: u32,
        /// The first page's number (1-based, within the page limit).
        page: u32,
        /// Colour and resolution.
        settings: ScanSettings,
    },
    /// Agent: the feeder is done.
    FeedDone {
        /// The interview.
        req: u32,
        /// Pages it gave (0: it was empty).
        pages: u32,
        /// It stopped at the page or size limit.
        limit: bool,
    },
    /// Kiosk: make the PDF of the pages held and send it.
    Finish {
        /// The interview.
        req: u32,
    },
    /// Kiosk: drop the interview's pages.
    Cancel {
        /// The interview.
        req: u32,
    },
    /// Agent: the kiosk shows the instruction.
    Ready {
        /// The interview.
        req: u32,
        /// The scanner has a feeder.
        feeder: bool,
        /// The kiosk's current document pace, bytes per second.
        rate: Option<u64>,
    },
    /// Agent: a page is scanned; its preview is transfer `id`.
    PageDone {
        /// The interview.
        req: u32,
        /// Which page.
        page: u32,
        /// The preview's transfer.
        id: u32,
        /// Bytes the page adds to the PDF.
        size: u64,
    },
    /// Agent: the resident declined to send the page.
    Declined {
        /// The interview.
        req: u32,
        /// Which page.
        page: u32,
    },
}

impl Endpoint {
    /// A scan-interview message from the peer.
    pub(super) fn handle_scan_message(&mut self, msg: Message) -> Result<(), PeerError> {
        let for_kiosk = matches!(
            msg,
            Message::ScanPrepare { .. } | Message::ScanPage { .. } | Message::ScanFeed { .. } | Message::ScanFinish { .. } | Message::ScanCancel { .. }
        );
        if for_kiosk != (self.side == Side::Kiosk) {
            return self.refuse(None, ErrorCode::Unexpected, format!("{} is not for the {:?} side", msg.kind(), self.side));
        }
        let step = match msg {
            Message::ScanPrepare { req } => ScanStep::Prepare { req },
            Message::ScanPage { req, page, settings } => {
                self.check_page(req, page, &settings)?;
                ScanStep::Page { req, page, settings }
            }
            Message::ScanFeed { req, page, settings } => {
                self.check_page(req, page, &settings)?;
                ScanStep::Feed { req, page, settings }
            }
            Message::ScanFeedDone { req, pages, limit } => ScanStep::FeedDone { req, pages, limit },
            Message::ScanFinish { req } => ScanStep::Finish { req },
            Message::ScanCancel { req } => ScanStep::Cancel { req },
            Message::ScanReady { req, feeder, rate } => ScanStep::Ready { req, feeder, rate },
            Message::ScanPageDone { req, page, id, size } => ScanStep::PageDone { req, page, id, size },
            Message::ScanDeclined { req, page } => ScanStep::Declined { req, page },
            other => return self.refuse(None, ErrorCode::Unexpected, format!("{} is not a scan interview message", other.kind())),
        };
        self.emit(Event::Scan(step));
        Ok(())
    }

    /// A page number and resolution the kiosk takes, or `scan_failed`.
    fn check_page(&mut self, req: u32, page: u32, settings: &ScanSettings) -> Result<(), PeerError> {
        let (lo, hi) = self.limits.dpi_range;
        if !(lo..=hi).contains(&settings.dpi) {
            let reason = format!("resolution {} dpi is outside {lo}–{hi} dpi", settings.dpi);
            self.send(Message::ScanFailed { req, reason: reason.clone() });
            return Err(PeerError::Refused { code: ErrorCode::BadMessage, message: reason });
        }
        if page == 0 || page > self.limits.max_pages {
            let reason = format!("page {page} is outside 1–{}", self.limits.max_pages);
            self.send(Message::ScanFailed { req, reason: reason.clone() });
            return Err(PeerError::Refused { code: ErrorCode::TooManyPages, message: reason });
        }
        Ok(())
    }

    fn agent_only(&self, what: &'static str) -> Result<(), CommandError> {
        if self.side != Side::Agent {
            return Err(CommandError::WrongSide { what, side: self.side });
        }
        Ok(())
    }

    /// Agent: begins a scan interview; returns its request id.
    pub fn prepare_scan(&mut self, _now: Instant) -> Result<u32, CommandError> {
        self.agent_only("preparing a scan")?;
        let req = self.next_req;
        self.next_req += 1;
        self.send(Message::ScanPrepare { req });
        Ok(req)
    }

    /// Agent: scan page `page` of interview `req` now.
    pub fn scan_page(&mut self, _now: Instant, req: u32, page: u32, settings: ScanSettings) -> Result<(), CommandError> {
        self.agent_only("asking for a page")?;
        self.send(Message::ScanPage { req, page, settings });
        Ok(())
    }

    /// Agent: scan every page in the feeder, numbered from `page`.
    pub fn scan_feed(&mut self, _now: Instant, req: u32, page: u32, settings: ScanSettings) -> Result<(), CommandError> {
        self.agent_only("asking for the feeder")?;
        self.send(Message::ScanFeed { req, page, settings });
        Ok(())
    }

    /// Agent: the pages are right; send them as one PDF.
    pub fn finish_scan(&mut self, _now: Instant, req: u32) -> Result<(), CommandError> {
        self.agent_only("finishing a scan")?;
        self.send(Message::ScanFinish { req });
        Ok(())
    }

    /// Agent: drop the interview.
    pub fn cancel_scan(&mut self, _now: Instant, req: u32) -> Result<(), CommandError> {
        self.agent_only("cancelling a scan")?;
        self.send(Message::ScanCancel { req });
        Ok(())
    }

    /// Kiosk: the instruction is on screen; tells the agent with the
    /// current document pace.
    pub fn scan_ready(&mut self, _now: Instant, req: u32, feeder: bool) -> Result<(), CommandError> {
        self.kiosk_only("reporting a scan")?;
        self.send(Message::ScanReady { req, feeder, rate: self.rate });
        Ok(())
    }

    /// Kiosk: page `page` is scanned and its preview goes as transfer `id`.
    pub fn scan_page_done(&mut self, _now: Instant, req: u32, page: u32, id: u32, size: u64) -> Result<(), CommandError> {
        self.kiosk_only("reporting a scan")?;
        self.send(Message::ScanPageDone { req, page, id, size });
        Ok(())
    }

    /// Kiosk: the feeder gave `pages` pages (0: it was empty).
    pub fn scan_feed_done(&mut self, _now: Instant, req: u32, pages: u32, limit: bool) -> Result<(), CommandError> {
        self.kiosk_only("reporting a scan")?;
        self.send(Message::ScanFeedDone { req, pages, limit });
        Ok(())
    }

    /// Kiosk: the resident declined page `page`.
    pub fn scan_declined(&mut self, _now: Instant, req: u32, page: u32) -> Result<(), CommandError> {
        self.kiosk_only("reporting a scan")?;
        self.send(Message::ScanDeclined { req, page });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Limits, Output, Transmit};
    use crate::wire::ColorMode;

    fn drain(e: &mut Endpoint) -> (Vec<String>, Vec<Event>) {
        let (mut sent, mut events) = (Vec::new(), Vec::new());
        while let Some(o) = e.poll_output() {
            match o {
                Output::Transmit(Transmit::Text(t)) => sent.push(t),
                Output::Event(ev) => events.push(ev),
                other => panic!("unexpected {other:?}"),
            }
        }
        (sent, events)
    }

    fn pair() -> (Endpoint, Endpoint, Instant) {
        let now = Instant::now();
        let (mut a, mut k) = (Endpoint::new(Side::Agent, Limits::default()), Endpoint::new(Side::Kiosk, Limits::default()));
        a.handle_link_up(now);
        k.handle_link_up(now);
        (a, k, now)
    }

    #[test]
    fn an_interview_goes_from_agent_to_kiosk_and_back() {
        let (mut a, mut k, now) = pair();
        let req = a.prepare_scan(now).unwrap();
        a.scan_page(now, req, 2, ScanSettings { color: ColorMode::Gray, dpi: 150, format: Default::default() }).unwrap();
        a.scan_feed(now, req, 3, ScanSettings { color: ColorMode::Color, dpi: 200, format: Default::default() }).unwrap();
        a.finish_scan(now, req).unwrap();
        let (sent, _) = drain(&mut a);
        for t in &sent {
            k.handle_frame(now, crate::core::Frame::Text(t)).unwrap();
        }
        let (_, steps) = drain(&mut k);
        assert!(matches!(steps.as_slice(), [
            Event::Scan(ScanStep::Prepare { req: r1 }),
            Event::Scan(ScanStep::Page { page: 2, settings: ScanSettings { dpi: 150, .. }, .. }),
            Event::Scan(ScanStep::Feed { page: 3, settings: ScanSettings { dpi: 200, color: ColorMode::Color, .. }, .. }),
            Event::Scan(ScanStep::Finish { .. }),
        ] if *r1 == req));
        k.set_send_rate(now, Some(12_000));
        k.scan_ready(now, req, false).unwrap();
        k.scan_page_done(now, req, 2, 0x8000_0001, 40_000).unwrap();
        k.scan_feed_done(now, req, 0, false).unwrap();
        let (sent, _) = drain(&mut k);
        for t in &sent {
            a.handle_frame(now, crate::core::Frame::Text(t)).unwrap();
        }
        let (_, steps) = drain(&mut a);
        assert_eq!(steps, vec![
            Event::Scan(ScanStep::Ready { req, feeder: false, rate: Some(12_000) }),
            Event::Scan(ScanStep::PageDone { req, page: 2, id: 0x8000_0001, size: 40_000 }),
            Event::Scan(ScanStep::FeedDone { req, pages: 0, limit: false }),
        ]);
    }

    #[test]
    fn out_of_range_pages_and_wrong_sides_are_refused() {
        let (mut a, mut k, now) = pair();
        let err = k.handle_frame(now, crate::core::Frame::Text(r#"{"type":"scan_page","req":1,"page":0,"color":"gray","dpi":150}"#));
        assert!(matches!(err, Err(PeerError::Refused { code: ErrorCode::TooManyPages, .. })));
        let err = k.handle_frame(now, crate::core::Frame::Text(r#"{"type":"scan_page","req":1,"page":1,"color":"gray","dpi":5000}"#));
        assert!(matches!(err, Err(PeerError::Refused { code: ErrorCode::BadMessage, .. })));
        // The feeder's first page is checked the same way.
        let err = k.handle_frame(now, crate::core::Frame::Text(r#"{"type":"scan_feed","req":1,"page":51,"color":"gray","dpi":150}"#));
        assert!(matches!(err, Err(PeerError::Refused { code: ErrorCode::TooManyPages, .. })));
        let (sent, events) = drain(&mut k);
        assert!(events.is_empty());
        assert!(sent.iter().all(|t| t.contains("scan_failed")), "{sent:?}");
        // a kiosk does not take a kiosk's answer, nor the agent a request
        assert!(k.handle_frame(now, crate::core::Frame::Text(r#"{"type":"scan_ready","req":1,"feeder":false}"#)).is_err());
        assert!(a.handle_frame(now, crate::core::Frame::Text(r#"{"type":"scan_prepare","req":1}"#)).is_err());
        assert!(a.handle_frame(now, crate::core::Frame::Text(r#"{"type":"scan_feed","req":1,"page":1,"color":"gray","dpi":150}"#)).is_err());
        assert!(matches!(a.scan_feed_done(now, 1, 2, false), Err(CommandError::WrongSide { .. })));
        assert!(matches!(k.prepare_scan(now), Err(CommandError::WrongSide { .. })));
        assert!(matches!(a.scan_ready(now, 1, false), Err(CommandError::WrongSide { .. })));
    }
}
