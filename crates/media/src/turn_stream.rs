//! TURN over a byte stream (TCP or TLS), without I/O: which ICE server URLs
//! need a stream, and how TURN's datagrams are framed on one.
//!
//! webrtc-rs 0.21 speaks TURN over UDP only: it skips `turns:` URLs and
//! `turn:` URLs with `?transport=tcp`. The kiosk gives it a local UDP
//! endpoint instead (`turn_bridge`), and this module is what the bridge knows:
//!
//! - Over a stream, TURN sends the very same messages as over UDP (RFC 8656
//!   §3.1): STUN messages, whose header carries their length (20-byte header
//!   plus `length` bytes), and ChannelData messages (4-byte header: channel
//!   number 0x4000–0x7FFF, then `length` bytes of data).
//! - On a stream, ChannelData is padded to a multiple of four bytes (RFC 8656
//!   §12.5); over UDP the padding may be left out. [`frame`] pads what goes
//!   onto the stream, [`Deframer`] cuts the stream back into messages and drops
//!   the padding, so the UDP side sees exactly the message.
//! - The first two bits tell the kinds apart: `00` STUN, `01` ChannelData;
//!   anything else means the stream is out of step, and the connection is
//!   closed (nothing can resynchronise it).

use std::fmt;

/// Longest message either kind can carry: a 16-bit length plus its header
/// and padding. The deframer never holds more than one of these unparsed.
const MAX_MESSAGE: usize = 20 + u16::MAX as usize + 3;

/// A TURN server the bridge must reach over a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamServer {
    /// Host name or IP address, without brackets.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// `turns:`: TLS on the connection, the server's certificate checked.
    pub tls: bool,
}

impl fmt::Display for StreamServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "turns" } else { "turn" };
        if self.host.contains(':') {
            write!(f, "{scheme}:[{}]:{}?transport=tcp", self.host, self.port)
        } else {
            write!(f, "{scheme}:{}:{}?transport=tcp", self.host, self.port)
        }
    }
}

/// The server of a TURN URL that needs a stream (`turns:…`, or `turn:…` with
/// `transport=tcp`); `None` for everything webrtc-rs handles itself (`stun:`,
/// `turn:` over UDP) or cannot be read (left for webrtc-rs to report).
/// Ports default as RFC 7065 says: 3478 for `turn:`, 5349 for `turns:`.
pub fn stream_server(url: &str) -> Option<StreamServer> {
    let (scheme, rest) = url.split_once(':')?;
    let tls = match scheme.to_ascii_lowercase().as_str() {
        "turn" => false,
        "turns" => true,
        _ => return None,
    };
    let (authority, query) = match rest.split_once('?') {
        Some((authority, query)) => (authority, Some(query)),
        None => (rest, None),
    };
    let transport = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("transport="))
        .map(str::to_ascii_lowercase);
    // `turns:` is TLS over TCP whatever the query says: DTLS (`transport=udp`)
    // is not something this bridge or coturn's usual setup offers.
    if !tls && transport.as_deref() != Some("tcp") {
        return None;
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(p) => p.parse().ok().filter(|&p| p != 0)?,
        None if tls => 5349,
        None => 3478,
    };
    Some(StreamServer { host: host.to_owned(), port, tls })
}

/// What cannot be framed or unframed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// Neither STUN nor ChannelData: the stream is out of step.
    #[error("the TURN server sent bytes that are neither STUN nor ChannelData (first byte {0:#04x}); the stream cannot be followed")]
    NotTurn(u8),
    /// A datagram from webrtc-rs that is not one whole TURN message.
    #[error("a TURN datagram of {actual} bytes does not hold the {expected} its header announces")]
    Truncated {
        /// Bytes the header announces.
        expected: usize,
        /// Bytes there are.
        actual: usize,
    },
}

/// STUN's magic cookie (RFC 5389 §6), at bytes 4..8 of every message.
const MAGIC_COOKIE: [u8; 4] = 0x2112_A442u32.to_be_bytes();

/// The length on the stream of the message starting with `header`, padding
/// included, and its length without the padding; `None` until there are
/// enough bytes to tell (four for ChannelData, eight for STUN's cookie).
fn lengths(header: &[u8]) -> Result<Option<(usize, usize)>, FramingError> {
    let Some(&first) = header.first() else { return Ok(None) };
    let need = if first >> 6 == 0b00 { 8 } else { 4 };
    if header.len() < need {
        return Ok(None);
    }
    let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
    match first >> 6 {
        0b00 if header[4..8] == MAGIC_COOKIE => Ok(Some((20 + length, 20 + length))),
        0b01 => Ok(Some((4 + length.next_multiple_of(4), 4 + length))),
        _ => Err(FramingError::NotTurn(first)),
    }
}

/// One datagram from webrtc-rs's TURN client, as it goes onto the stream:
/// ChannelData padded to four bytes (padding it already carries is kept).
pub fn frame(datagram: &[u8]) -> Result<Vec<u8>, FramingError> {
    let Some((on_stream, message)) = lengths(datagram)? else {
        let expected = if datagram.first().is_some_and(|b| b >> 6 == 0) { 20 } else { 4 };
        return Err(FramingError::Truncated { expected, actual: datagram.len() });
    };
    if datagram.len() < message {
        return Err(FramingError::Truncated { expected: message, actual: datagram.len() });
    }
    let mut framed = datagram[..message.min(datagram.len())].to_vec();
    framed.resize(on_stream, 0);
    Ok(framed)
}

/// Cuts the bytes read from the stream back into TURN messages.
#[derive(Debug, Default)]
pub struct Deframer {
    buffer: Vec<u8>,
}

impl Deframer {
    /// Bytes as they came off the stream, in any pieces.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole message (ChannelData without its padding), `None` until
    /// one is complete, an error once the stream is out of step.
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, FramingError> {
        let Some((on_stream, message)) = lengths(&self.buffer)? else { return Ok(None) };
        debug_assert!(on_stream <= MAX_MESSAGE);
        if self.buffer.len() < on_stream {
            return Ok(None);
        }
        let mut rest = self.buffer.split_off(on_stream);
        std::mem::swap(&mut rest, &mut self.buffer);
        rest.truncate(message);
        Ok(Some(rest))
    }

    /// Bytes held, not yet a whole message.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }
}

/// The STUN requests already put on one stream, by transaction ID. Over a
/// stream a request is never sent again (RFC 8489 §6.2.1: a reliable
/// transport delivers it, or the connection fails), but webrtc-rs's TURN
/// client believes it speaks UDP and repeats each request after 200, 400,
/// 800 ms…: on a satellite round trip every Allocate, permission and
/// channel binding left two or three times, each copy answered by the
/// server again. A copy is recognised here and not sent.
#[derive(Debug, Default)]
pub struct SentRequests {
    recent: std::collections::VecDeque<[u8; 12]>,
}

impl SentRequests {
    /// Transaction IDs kept: far more than a client has in flight at once.
    const KEPT: usize = 64;

    /// Whether `message` is a STUN request already sent on this stream.
    pub fn is_copy(&self, message: &[u8]) -> bool {
        request_id(message).is_some_and(|id| self.recent.contains(&id))
    }

    /// `message` went onto the stream: a copy of it, if it is a request, is not to follow.
    pub fn sent(&mut self, message: &[u8]) {
        if let Some(id) = request_id(message) {
            if self.recent.len() == Self::KEPT {
                self.recent.pop_front();
            }
            self.recent.push_back(id);
        }
    }
}

/// The transaction ID of a STUN request (class bits C1 and C0 both 0).
fn request_id(message: &[u8]) -> Option<[u8; 12]> {
    let is_request = message.len() >= 20 && message[0] >> 6 == 0 && message[4..8] == MAGIC_COOKIE && message[0] & 0x01 == 0 && message[1] & 0x10 == 0;
    is_request.then(|| message[8..20].try_into().expect("twelve bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A STUN Binding request header with `body` bytes of attributes.
    fn stun(body: &[u8]) -> Vec<u8> {
        let mut m = vec![0x00, 0x01];
        m.extend_from_slice(&(body.len() as u16).to_be_bytes());
        m.extend_from_slice(&0x2112_A442u32.to_be_bytes());
        m.extend_from_slice(&[7; 12]);
        m.extend_from_slice(body);
        m
    }

    fn channel_data(channel: u16, data: &[u8]) -> Vec<u8> {
        let mut m = channel.to_be_bytes().to_vec();
        m.extend_from_slice(&(data.len() as u16).to_be_bytes());
        m.extend_from_slice(data);
        m
    }

    #[test]
    fn a_request_goes_once_and_answers_and_indications_always() {
        let mut sent = SentRequests::default();
        let request = stun(&[1, 2, 3, 4]);
        assert!(!sent.is_copy(&request));
        sent.sent(&request);
        assert!(sent.is_copy(&request), "the same transaction again is a copy");
        let mut other = request.clone();
        other[19] ^= 1;
        assert!(!sent.is_copy(&other), "another transaction is not");
        // A success response (0x0101) and a Send indication (0x0016) with
        // the same ID are not requests: they always go.
        let (mut response, mut indication) = (request.clone(), request.clone());
        response[..2].copy_from_slice(&[0x01, 0x01]);
        indication[..2].copy_from_slice(&[0x00, 0x16]);
        sent.sent(&response);
        sent.sent(&indication);
        assert!(!sent.is_copy(&response) && !sent.is_copy(&indication));
        assert!(!sent.is_copy(&channel_data(0x4000, &[0; 20])));
    }

    #[test]
    fn only_the_latest_requests_are_remembered() {
        let mut sent = SentRequests::default();
        let nth = |n: u8| {
            let mut m = stun(&[]);
            m[8..20].copy_from_slice(&[n; 12]);
            m
        };
        for n in 0..=64 {
            sent.sent(&nth(n));
        }
        assert!(!sent.is_copy(&nth(0)), "the oldest is forgotten");
        assert!(sent.is_copy(&nth(1)) && sent.is_copy(&nth(64)));
    }

    #[test]
    fn urls_that_need_a_stream() {
        let s = |host: &str, port, tls| Some(StreamServer { host: host.into(), port, tls });
        assert_eq!(stream_server("turns:turn.example.org:443?transport=tcp"), s("turn.example.org", 443, true));
        assert_eq!(stream_server("turns:turn.example.org"), s("turn.example.org", 5349, true));
        assert_eq!(stream_server("TURNS:10.0.0.1:443"), s("10.0.0.1", 443, true));
        assert_eq!(stream_server("turn:10.0.0.1:3478?transport=tcp"), s("10.0.0.1", 3478, false));
        assert_eq!(stream_server("turn:10.0.0.1?transport=TCP"), s("10.0.0.1", 3478, false));
        assert_eq!(stream_server("turns:[2001:db8::1]:443?transport=tcp"), s("2001:db8::1", 443, true));
        assert_eq!(stream_server("turns:[2001:db8::1]"), s("2001:db8::1", 5349, true));
    }

    #[test]
    fn urls_left_to_webrtc_rs() {
        for url in [
            "turn:10.0.0.1:3478",
            "turn:10.0.0.1:3478?transport=udp",
            "stun:stun.example.org:3478",
            "turns::443",
            "turns:host:0",
            "turns:host:port",
            "turns:[::1",
            "https://example.org",
            "no scheme",
        ] {
            assert_eq!(stream_server(url), None, "{url}");
        }
    }

    #[test]
    fn a_stream_server_prints_as_the_url_it_came_from() {
        for url in ["turns:turn.example.org:443?transport=tcp", "turn:10.0.0.1:3478?transport=tcp", "turns:[2001:db8::1]:443?transport=tcp"] {
            assert_eq!(stream_server(url).unwrap().to_string(), url);
        }
    }

    #[test]
    fn stun_goes_onto_the_stream_as_it_is() {
        let m = stun(&[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(frame(&m).unwrap(), m);
    }

    #[test]
    fn channel_data_is_padded_to_four_bytes_on_the_stream() {
        let m = channel_data(0x4001, &[9, 9, 9, 9, 9]);
        let framed = frame(&m).unwrap();
        assert_eq!(framed.len(), 12);
        assert_eq!(&framed[..9], &m[..]);
        assert_eq!(&framed[9..], &[0, 0, 0]);
        // Already padded (webrtc-rs pads), the padding is kept, not doubled.
        assert_eq!(frame(&framed).unwrap(), framed);
        // A multiple of four needs none.
        let even = channel_data(0x7fff, &[1, 2, 3, 4]);
        assert_eq!(frame(&even).unwrap(), even);
    }

    #[test]
    fn datagrams_that_are_not_one_whole_message_are_refused() {
        assert_eq!(frame(&[0x40, 0x01]), Err(FramingError::Truncated { expected: 4, actual: 2 }));
        let mut short = stun(&[0; 8]);
        short.truncate(24);
        assert_eq!(frame(&short), Err(FramingError::Truncated { expected: 28, actual: 24 }));
        assert_eq!(frame(&[0x00, 0x01, 0, 0, 1, 2, 3, 4]), Err(FramingError::NotTurn(0x00)), "no magic cookie");
        assert_eq!(frame(&[0x80, 0, 0, 0]), Err(FramingError::NotTurn(0x80)));
        assert_eq!(frame(&[0xc0, 0, 0, 0]), Err(FramingError::NotTurn(0xc0)));
    }

    #[test]
    fn the_stream_is_cut_back_into_messages_in_any_pieces() {
        let messages = [stun(&[5; 12]), channel_data(0x4000, &[1, 2, 3]), channel_data(0x4002, &[]), stun(&[]), channel_data(0x4003, &[8; 1200])];
        let stream: Vec<u8> = messages.iter().flat_map(|m| frame(m).unwrap()).collect();
        for piece in [1, 3, 7, 64, stream.len()] {
            let mut deframer = Deframer::default();
            let mut out = Vec::new();
            for chunk in stream.chunks(piece) {
                deframer.push(chunk);
                while let Some(m) = deframer.next_message().unwrap() {
                    out.push(m);
                }
            }
            assert_eq!(out, messages, "pieces of {piece} bytes");
            assert_eq!(deframer.buffered(), 0);
        }
    }

    #[test]
    fn a_message_waits_for_its_padding() {
        let mut deframer = Deframer::default();
        deframer.push(&channel_data(0x4000, &[1, 2, 3]));
        assert_eq!(deframer.next_message(), Ok(None), "the padding byte is still to come");
        deframer.push(&[0]);
        assert_eq!(deframer.next_message(), Ok(Some(channel_data(0x4000, &[1, 2, 3]))));
    }

    #[test]
    fn a_stream_out_of_step_is_an_error() {
        let mut deframer = Deframer::default();
        // A TLS alert where TURN was expected (a plain-TCP client on a TLS port).
        deframer.push(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28, 0]);
        assert_eq!(deframer.next_message(), Err(FramingError::NotTurn(0x15)));
        let mut deframer = Deframer::default();
        deframer.push(&[0xff, 0xff, 0, 0]);
        assert_eq!(deframer.next_message(), Err(FramingError::NotTurn(0xff)));
    }
}
