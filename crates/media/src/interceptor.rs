//! Lets keyframe requests (PLI, FIR) from the peer reach the application.
//!
//! In webrtc-rs 0.21 the interceptor chain ends inbound RTCP before the
//! application unless an interceptor tags a packet `DeliverToApplication`
//! (docs/platform.md). The encoder lives in GStreamer, outside the chain, so this
//! small interceptor tags exactly the packets it must act on and nothing else.

use rtc::interceptor::{Attribute, Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::sansio::Protocol;
use std::collections::VecDeque;
use std::time::Instant;

/// Whether an RTCP packet asks the sender for a keyframe.
pub(crate) fn is_keyframe_request(packet: &dyn rtc::rtcp::Packet) -> bool {
    let any = packet.as_any();
    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
}

/// Tags inbound RTCP carrying PLI or FIR for delivery to the application.
#[derive(Default)]
pub(crate) struct KeyframeRequestForwarder {
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl std::fmt::Debug for KeyframeRequestForwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyframeRequestForwarder").finish_non_exhaustive()
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for KeyframeRequestForwarder {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet
            && packets.iter().any(|p| is_keyframe_request(p.as_ref()))
        {
            msg.message.add(Attribute::DeliverToApplication);
        }
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.write.pop_front()
    }
}

impl Interceptor for KeyframeRequestForwarder {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::interceptor::AttributedPacket;
    use rtc::rtcp::receiver_report::ReceiverReport;
    use rtc::shared::{TransportContext, TransportMessage};

    fn through(packets: Vec<Box<dyn rtc::rtcp::Packet>>) -> TaggedPacket {
        let mut forwarder = KeyframeRequestForwarder::default();
        forwarder
            .handle_read(TransportMessage {
                now: Instant::now(),
                transport: TransportContext::default(),
                message: AttributedPacket::new(Packet::Rtcp(packets)),
            })
            .unwrap();
        forwarder.poll_read().expect("every packet passes through")
    }

    #[test]
    fn keyframe_requests_are_tagged_for_the_application_and_reports_are_not() {
        let pli = through(vec![Box::new(PictureLossIndication { sender_ssrc: 1, media_ssrc: 2 })]);
        assert!(pli.message.has(&Attribute::DeliverToApplication));
        let fir = through(vec![Box::new(ReceiverReport::default()), Box::new(FullIntraRequest::default())]);
        assert!(fir.message.has(&Attribute::DeliverToApplication), "a FIR inside a compound packet counts");
        let rr = through(vec![Box::new(ReceiverReport::default())]);
        assert!(!rr.message.has(&Attribute::DeliverToApplication));
    }
}
