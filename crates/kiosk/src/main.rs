//! `visio-kiosk`: the touchscreen app, full screen by default.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use visio_config::Catalogue;
use visio_kiosk::app::{HubSettings, Kiosk, Settings};
use visio_kiosk::hub_link::{self, Endpoint};
use visio_kiosk::{assets, scene};
use visio_protocol::{KioskId, Secret, ServiceId};

#[derive(Parser, Debug)]
#[command(name = "visio-kiosk", version, about = "Visio-Public kiosk: touch a service, talk to an agent")]
struct Cli {
    /// The hub, e.g. wss://127.0.0.1:8443.
    #[arg(long, default_value = "wss://127.0.0.1:8443")]
    hub: String,
    /// The hub certificate (or CA) to trust, PEM. Default: the system's roots.
    #[arg(long)]
    trust: Option<PathBuf>,
    /// This kiosk's id, as enrolled on the hub.
    #[arg(long, default_value = "demo-kiosk")]
    kiosk_id: String,
    /// File holding this kiosk's secret (from `visio-hub kiosk enroll`).
    #[arg(long, required_unless_present = "scene")]
    secret_file: Option<PathBuf>,
    /// Show a canned screen without a hub, for screenshots and demos:
    /// home, home-closed, waiting, call, call-scan, document, ended,
    /// out-of-service.
    #[arg(long)]
    scene: Option<String>,
    /// Services offered, in tile order. Default: the whole catalogue.
    #[arg(long, value_delimiter = ',')]
    services: Vec<String>,
    /// A window instead of full screen (development, screenshots).
    #[arg(long)]
    windowed: bool,
    /// Window size with --windowed, e.g. 1280x800.
    #[arg(long, default_value = "1280x800", value_parser = parse_size)]
    size: (f32, f32),
}

fn parse_size(s: &str) -> Result<(f32, f32), String> {
    let (w, h) = s.split_once('x').ok_or("write the size like 1280x800")?;
    Ok((w.parse().map_err(|_| "bad width")?, h.parse().map_err(|_| "bad height")?))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("visio-kiosk: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let catalogue = Arc::new(Catalogue::demo());
    let offered: Vec<ServiceId> = if cli.services.is_empty() {
        catalogue.services().iter().map(|s| s.id.clone()).collect()
    } else {
        cli.services.iter().map(|s| ServiceId(s.clone())).collect()
    };
    for s in &offered {
        anyhow::ensure!(catalogue.get(s).is_some(), "unknown service {:?} in --services", s.as_str());
    }
    let hub = match (&cli.scene, &cli.secret_file) {
        (Some(_), _) | (None, None) => None,
        (None, Some(secret_file)) => {
            let secret = std::fs::read_to_string(secret_file)
                .with_context(|| format!("cannot read the kiosk secret from {}", secret_file.display()))?;
            let trust = match &cli.trust {
                Some(path) => Some(std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?),
                None => None,
            };
            let tls = hub_link::tls_config(trust.as_deref()).context("the hub certificate to trust")?;
            Some(HubSettings {
                endpoint: Endpoint {
                    hub_url: cli.hub.clone(),
                    trust_pem: trust,
                    kiosk_id: KioskId(cli.kiosk_id.clone()),
                    secret: Secret(secret.trim().to_owned()),
                },
                tls,
            })
        }
    };
    let settings = Settings { session: visio_kiosk_core::Config::default(), catalogue, offered, hub };
    if let Some(scene) = &cli.scene {
        // Check the name before opening a window.
        scene::enter(&mut Kiosk::new(settings.clone()), scene).map_err(anyhow::Error::msg)?;
    }
    let scene = cli.scene.clone();
    let boot = move || {
        let mut kiosk = Kiosk::new(settings.clone());
        if let Some(scene) = &scene {
            if let Err(e) = scene::enter(&mut kiosk, scene) {
                tracing::error!(error = %e, "scene");
            }
        }
        kiosk
    };
    let window = iced::window::Settings {
        fullscreen: !cli.windowed,
        decorations: cli.windowed,
        size: iced::Size::new(cli.size.0, cli.size.1),
        exit_on_close_request: cli.windowed,
        ..Default::default()
    };
    iced::application(boot, Kiosk::update, Kiosk::view)
        .title("Visio-Public")
        .subscription(Kiosk::subscription)
        .window(window)
        .font(assets::FONT_REGULAR)
        .font(assets::FONT_BOLD)
        .default_font(iced::Font::with_name(assets::FONT_NAME))
        .theme(|_: &Kiosk| iced::Theme::Light)
        .run()
        .context("the kiosk window failed")?;
    Ok(())
}
