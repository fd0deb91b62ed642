//! `visio-linkem`: bring an emulated rural link up, change it, cut it, read
//! its counters, run a command across it, and measure its accuracy.

mod bench;
mod cli;
mod daemon;
mod show;

use std::process::ExitCode;

use clap::Parser as _;
use visio_linkem::control::{self, Request};
use visio_linkem::{Error, Link, Profile, Side, fmt_duration, parse_duration};

use crate::bench::bench;
use crate::cli::{Cli, Cmd, RunArgs, link_params};
use crate::daemon::{down, serve, up};
use crate::show::{print_profiles, print_status};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("visio-linkem: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, Error> {
    match cli.command {
        Cmd::Profiles => {
            print_profiles();
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Up(args) => up(&args),
        Cmd::Serve(args) => serve(&args),
        Cmd::Set(args) => {
            let current = control::request(&args.name, &Request::Status { reset: false })?;
            let profile = args
                .profile
                .as_deref()
                .map(str::parse::<Profile>)
                .transpose()?;
            let mut params = profile.map_or(current.params, Profile::params);
            args.params.apply(&mut params)?;
            let keep_profile = if args.params.is_empty() {
                profile
            } else {
                None
            };
            let status = control::request(
                &args.name,
                &Request::Set {
                    params: Box::new(params),
                    profile: keep_profile,
                },
            )?;
            print_status(&status);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Cut { duration, name } => {
            let d = parse_duration(&duration)?;
            control::request(
                &name,
                &Request::Cut {
                    millis: d.as_millis() as u64,
                },
            )?;
            println!("link {name} cut for {}", fmt_duration(d));
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Restore { name } => {
            control::request(&name, &Request::Restore)?;
            println!("link {name} restored");
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Status { name, json, reset } => {
            let status = control::request(&name, &Request::Status { reset })?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&status).expect("status serialises")
                );
            } else {
                print_status(&status);
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Down { name } => down(&name),
        Cmd::Run(args) => run_command(args),
        Cmd::Bench(args) => bench(&args),
    }
}

fn run_command(args: RunArgs) -> Result<ExitCode, Error> {
    let (profile, params, pure) = link_params(&args.profile, &args.params)?;
    let side = match args.side.as_str() {
        "host" => None,
        s => Some(s.parse::<Side>()?),
    };
    let mut builder = Link::builder().seed(args.seed).params(params);
    if pure {
        builder = builder.profile(profile);
    }
    let link = builder.start()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("building a runtime", e))?;
    let status = rt.block_on(async {
        let mut cmd = tokio::process::Command::new(&args.command[0]);
        cmd.args(&args.command[1..])
            .env("VISIO_LINKEM_NAME", link.name())
            .env("VISIO_LINKEM_KIOSK_NS", link.namespace(Side::Kiosk))
            .env("VISIO_LINKEM_HUB_NS", link.namespace(Side::Hub))
            .env("VISIO_LINKEM_KIOSK_ADDR", link.kiosk_addr().to_string())
            .env("VISIO_LINKEM_HUB_ADDR", link.hub_addr().to_string())
            .kill_on_drop(true);
        let child = match side {
            None => cmd.spawn(),
            Some(side) => link.in_namespace(side, || cmd.spawn())?,
        };
        let mut child = child.map_err(|source| Error::Spawn {
            program: args.command[0].clone(),
            side: side.unwrap_or(Side::Kiosk),
            source,
        })?;
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).map_err(|e| Error::io("installing a signal handler", e))?;
        let mut int = signal(SignalKind::interrupt()).map_err(|e| Error::io("installing a signal handler", e))?;
        // A Ctrl-C reaches the command too; we only make sure the link is
        // torn down after it, instead of dying with it.
        tokio::select! {
            s = child.wait() => s.map_err(|e| Error::io("waiting for the command", e)),
            _ = term.recv() => { let _ = child.start_kill(); child.wait().await.map_err(|e| Error::io("waiting", e)) }
            _ = int.recv() => child.wait().await.map_err(|e| Error::io("waiting", e)),
        }
    })?;
    let counters = link.down()?;
    eprintln!(
        "visio-linkem: up {} pkts in, {} out, {} dropped; down {} in, {} out, {} dropped",
        counters.up.packets_in,
        counters.up.packets_out,
        counters.up.dropped(),
        counters.down.packets_in,
        counters.down.packets_out,
        counters.down.dropped()
    );
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
        None => ExitCode::from(128 + 9),
    })
}
