//! The relayed path of `visio-bench links --relay` (issue 22, item 3): a
//! town hall whose firewall lets only TCP to the TURN server out, so both
//! senders reach the hub's page through coturn on the hub's side of the
//! link, over TLS on 443 or plain TCP. The pure part: what each side is
//! told (TURN URLs). The binary's `turn.rs` starts coturn and firewalls the
//! kiosk side (visio-linkem's `Link::only_tcp_out`).

use std::net::IpAddr;

/// How the kiosk side reaches the TURN server when only TCP leaves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Relay {
    /// `turns:` on 443: TLS with the run's certificate, as deployed.
    Tls,
    /// `turn:…?transport=tcp` on coturn's plain listening port.
    Tcp,
}

/// coturn's TLS port in the bench: what a town hall's firewall lets out.
pub const TLS_PORT: u16 = 443;

impl Relay {
    /// The URL both senders are given, for coturn at `hub` listening in
    /// plain TCP on `tcp_port` and in TLS on [`TLS_PORT`].
    pub fn url(self, hub: IpAddr, tcp_port: u16) -> String {
        let host = match hub {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        };
        match self {
            Relay::Tls => format!("turns:{host}:{TLS_PORT}?transport=tcp"),
            Relay::Tcp => format!("turn:{host}:{tcp_port}?transport=tcp"),
        }
    }

    /// The one port the kiosk side may reach on the hub's side.
    pub fn port(self, tcp_port: u16) -> u16 {
        match self {
            Relay::Tls => TLS_PORT,
            Relay::Tcp => tcp_port,
        }
    }

    /// How the table and the summary name the path.
    pub fn label(self) -> &'static str {
        match self {
            Relay::Tls => "TURN/TLS",
            Relay::Tcp => "TURN/TCP",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const HUB: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 77, 0, 2));

    #[test]
    fn tls_goes_to_443_with_turns_and_tcp_to_the_plain_port() {
        assert_eq!(Relay::Tls.url(HUB, 40_000), "turns:10.77.0.2:443?transport=tcp");
        assert_eq!(Relay::Tcp.url(HUB, 40_000), "turn:10.77.0.2:40000?transport=tcp");
        assert_eq!(Relay::Tls.port(40_000), 443);
        assert_eq!(Relay::Tcp.port(40_000), 40_000);
        let v6 = IpAddr::V6("2001:db8::2".parse().unwrap());
        assert_eq!(Relay::Tls.url(v6, 1), "turns:[2001:db8::2]:443?transport=tcp");
    }

    #[test]
    fn the_option_reads_tls_and_tcp() {
        use clap::ValueEnum as _;
        assert_eq!(Relay::from_str("tls", false), Ok(Relay::Tls));
        assert_eq!(Relay::from_str("tcp", false), Ok(Relay::Tcp));
        assert!(Relay::from_str("udp", false).is_err());
        assert_eq!(Relay::Tls.label(), "TURN/TLS");
    }
}
