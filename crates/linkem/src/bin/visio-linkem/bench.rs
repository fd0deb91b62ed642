//! `bench`: the emulator measured against its configuration.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use visio_linkem::{
    Bitrate, Direction, Error, Link, LinkParams, Loss, Params, Profile, QueueLimit, Side, probe,
};

use crate::cli::BenchArgs;

/// Measures the emulator against its configuration and prints Markdown
/// tables for docs/benchmarks.md.
pub(crate) fn bench(args: &BenchArgs) -> Result<ExitCode, Error> {
    let rates: Vec<Bitrate> = args
        .rates
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let secs = Duration::from_secs(args.seconds);
    println!(
        "### Round-trip time (UDP probes of 100 IP bytes, 100 probes 20 ms apart, kiosk → hub → kiosk)\n"
    );
    println!("| profile | configured | min | median | mean | p95 | max | replies |");
    println!("|---|---|---|---|---|---|---|---|");
    for profile in [
        Profile::Clean,
        Profile::Adsl,
        Profile::AdslPoor,
        Profile::Satellite,
    ] {
        let link = Link::up(profile)?;
        let rtt = probe::udp_rtt(&link, Side::Kiosk, 100, Duration::from_millis(20), 100)?;
        let p = profile.params();
        // Propagation both ways + serialisation both ways + mean jitter.
        let ser = |q: Params| q.rate.map_or(Duration::ZERO, |r| r.transmit_time(100));
        let cfg =
            p.up.delay + p.down.delay + ser(p.up) + ser(p.down) + (p.up.jitter + p.down.jitter) / 2;
        let f =
            |d: Option<Duration>| d.map_or("-".into(), |d| format!("{:.2}", d.as_secs_f64() * 1e3));
        println!(
            "| {profile} | {:.2} ms | {} | {} | {} | {} | {} | {}/{} |",
            cfg.as_secs_f64() * 1e3,
            f(rtt.min()),
            f(rtt.quantile(0.5)),
            f(rtt.mean()),
            f(rtt.quantile(0.95)),
            f(rtt.max()),
            rtt.samples.len(),
            rtt.sent
        );
    }

    println!("\n### Rate (kiosk → hub, 20 ms each way, 300 ms queue, no loss)\n");
    println!(
        "UDP: 1200-byte IP packets offered at 1.5 × the rate for {} s, received IP rate after the first second.",
        args.seconds + 1
    );
    println!(
        "TCP: one flow (cubic), goodput after a 2 s warm-up over {} s; expected ≈ rate × 1448/1500.\n",
        args.seconds
    );
    println!(
        "| configured | UDP received | UDP / configured | TCP goodput | TCP / expected | forwarder CPU (UDP) |"
    );
    println!("|---|---|---|---|---|---|");
    for rate in rates {
        let shaped = Params::CLEAN
            .rate(rate)
            .delay(Duration::from_millis(20))
            .queue(QueueLimit::Time(Duration::from_millis(300)));
        let link = Link::builder()
            .params(LinkParams {
                up: shaped,
                down: shaped,
            })
            .start()?;
        let offered = Bitrate::bps(rate.as_bps() * 3 / 2);
        let (cpu0, t0) = (
            link.forwarder_cpu_time().unwrap_or_default(),
            Instant::now(),
        );
        let flow = probe::udp_flow(
            &link,
            Side::Kiosk,
            probe::FlowSpec::for_duration(offered, 1200, secs + Duration::from_secs(1)),
        )?;
        let cpu = (link.forwarder_cpu_time().unwrap_or_default() - cpu0).as_secs_f64()
            / t0.elapsed().as_secs_f64();
        let udp = flow.received_rate(Duration::from_secs(1)).unwrap_or(0.0);
        let tcp = probe::tcp_goodput(&link, Side::Kiosk, Duration::from_secs(2), secs)?;
        let expected_tcp = rate.as_bps() as f64 * 1448.0 / 1500.0;
        println!(
            "| {rate} | {:.3} Mbit/s | {:.3} | {:.3} Mbit/s | {:.3} | {:.1} % |",
            udp / 1e6,
            udp / rate.as_bps() as f64,
            tcp / 1e6,
            tcp / expected_tcp,
            cpu * 100.0
        );
    }

    println!("\n### Loss (UDP, 200-byte IP packets at 2 Mbit/s on an otherwise clean link)\n");
    println!("| configured | packets | lost (receiver) | lost (link counters) | mean burst |");
    println!("|---|---|---|---|---|");
    for (loss, n) in [
        (Loss::random(0.01), 10_000),
        (Loss::random(0.03), 10_000),
        (Loss::random(0.10), 5_000),
        (Loss::bursty(0.05, 4.0), 20_000),
    ] {
        let p = Params::CLEAN.loss(loss);
        let link = Link::builder()
            .params(LinkParams {
                up: p,
                down: Params::CLEAN,
            })
            .seed(7)
            .start()?;
        let flow = probe::udp_flow(
            &link,
            Side::Kiosk,
            probe::FlowSpec {
                count: n,
                size: 200,
                rate: Bitrate::mbit(2),
            },
        )?;
        let c = link.counters(Direction::Up);
        let mut seqs: Vec<u32> = flow.received.iter().map(|r| r.1).collect();
        seqs.sort_unstable();
        let (mut bursts, mut prev) = (0u64, -1i64);
        for &s in seqs.iter().chain(std::iter::once(&(n as u32))) {
            if i64::from(s) > prev + 1 {
                bursts += 1;
            }
            prev = i64::from(s);
        }
        let lost = n - flow.received.len();
        println!(
            "| {loss} | {n} | {:.2} % | {:.2} % | {:.2} |",
            flow.loss() * 100.0,
            c.dropped_loss as f64 / c.packets_in.max(1) as f64 * 100.0,
            lost as f64 / bursts.max(1) as f64
        );
    }
    Ok(ExitCode::SUCCESS)
}
