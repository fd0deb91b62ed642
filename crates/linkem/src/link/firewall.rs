//! A town hall's firewall on one side of a link: only TCP to given ports on
//! the other side leaves, everything else that side sends is dropped (UDP
//! included, so no direct media path and no TURN over UDP), and nothing comes
//! in but the answers on the connections it let out, as a stateful firewall
//! (or the NAT in front of it) does.

use std::net::{Ipv4Addr, UdpSocket};
use std::process::Command;

use super::Link;
use crate::error::{Error, Result};
use crate::params::Side;

/// The `iptables` rules, in order. Out: the side's own loopback (a
/// browser's driver, the kiosk's TURN bridge), TCP to each of `ports` on
/// `to`, and a last, unconditional drop. In: loopback, what belongs to a
/// connection already let out, and a drop.
pub fn only_tcp_out_rules(to: Ipv4Addr, ports: &[u16]) -> Vec<Vec<String>> {
    let to = to.to_string();
    let rule = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<String>>();
    let mut rules = vec![rule(&["-A", "OUTPUT", "-o", "lo", "-j", "ACCEPT"])];
    for port in ports {
        rules.push(rule(&["-A", "OUTPUT", "-p", "tcp", "-d", &to, "--dport", &port.to_string(), "-j", "ACCEPT"]));
    }
    rules.push(rule(&["-A", "OUTPUT", "-j", "DROP"]));
    rules.push(rule(&["-A", "INPUT", "-i", "lo", "-j", "ACCEPT"]));
    rules.push(rule(&["-A", "INPUT", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"]));
    rules.push(rule(&["-A", "INPUT", "-j", "DROP"]));
    rules
}

impl Link {
    /// Firewalls `side` so that only TCP to `ports` on the other side's
    /// address leaves it ([`only_tcp_out_rules`]), then checks that UDP no
    /// longer does. Needs `iptables` (scripts/setup.sh installs it).
    pub fn only_tcp_out(&self, side: Side, ports: &[u16]) -> Result<()> {
        let to = self.addr(side.other());
        for rule in only_tcp_out_rules(to, ports) {
            let out = self.run_in(side, Command::new("iptables").args(&rule))?;
            if !out.status.success() {
                return Err(Error::Firewall {
                    side,
                    rule: rule.join(" "),
                    detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                });
            }
        }
        let from = self.addr(side);
        let udp_out = self.in_namespace(side, || UdpSocket::bind((from, 0)).and_then(|s| s.send_to(b"x", (to, 9))).is_ok())?;
        if udp_out {
            return Err(Error::Firewall { side, rule: "-A OUTPUT -j DROP".into(), detail: "UDP still leaves".into() });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_then_tcp_to_each_port_then_nothing() {
        let rules = only_tcp_out_rules(Ipv4Addr::new(10, 77, 0, 2), &[443, 8443]);
        assert_eq!(rules.len(), 7);
        assert_eq!(rules[0], ["-A", "OUTPUT", "-o", "lo", "-j", "ACCEPT"]);
        assert_eq!(rules[1], ["-A", "OUTPUT", "-p", "tcp", "-d", "10.77.0.2", "--dport", "443", "-j", "ACCEPT"]);
        assert_eq!(rules[2], ["-A", "OUTPUT", "-p", "tcp", "-d", "10.77.0.2", "--dport", "8443", "-j", "ACCEPT"]);
        // Last out, and unconditional: everything else (UDP included) is dropped.
        assert_eq!(rules[3], ["-A", "OUTPUT", "-j", "DROP"]);
        // In: only loopback and the answers on what went out.
        assert_eq!(rules[4], ["-A", "INPUT", "-i", "lo", "-j", "ACCEPT"]);
        assert_eq!(rules[5], ["-A", "INPUT", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"]);
        assert_eq!(rules[6], ["-A", "INPUT", "-j", "DROP"]);
    }
}
