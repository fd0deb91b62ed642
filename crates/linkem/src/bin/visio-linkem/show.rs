//! What the commands print: the profiles and a link's status.

use visio_linkem::control::Status;
use visio_linkem::{Direction, Profile};

pub(crate) fn print_profiles() {
    println!("\"up\" is kiosk → hub, \"down\" hub → kiosk; rates are IP-level.\n");
    for profile in Profile::ALL {
        let p = profile.params();
        println!("{:<10} {}", profile.name(), profile.about());
        println!("           up:   {}", p.up);
        println!("           down: {}", p.down);
    }
}

pub(crate) fn print_status(s: &Status) {
    let profile = s.profile.map_or("custom".to_string(), |p| p.to_string());
    println!(
        "link {} (profile {profile}, pid {}){}",
        s.name,
        s.pid,
        if s.cut { " — CUT" } else { "" }
    );
    println!(
        "  kiosk side: namespace {}, address {}",
        s.kiosk_namespace, s.kiosk_addr
    );
    println!(
        "  hub side:   namespace {}, address {}",
        s.hub_namespace, s.hub_addr
    );
    for dir in Direction::BOTH {
        let label = match dir {
            Direction::Up => "up   (kiosk → hub)",
            Direction::Down => "down (hub → kiosk)",
        };
        let c = s.counters(dir);
        println!("  {label}: {}", s.params.get(dir));
        println!(
            "      in {} pkts / {} B, out {} pkts / {} B; dropped: loss {}, queue {}, cut {}, mtu {}, write {}; \
             queued now {} pkts / {} B (max {} B), in flight {}",
            c.packets_in,
            c.bytes_in,
            c.packets_out,
            c.bytes_out,
            c.dropped_loss,
            c.dropped_queue,
            c.dropped_cut,
            c.dropped_mtu,
            c.dropped_write,
            c.queued_packets,
            c.queued_bytes,
            c.queued_bytes_max,
            c.in_flight_packets
        );
    }
}
