//! `visio-kiosk`: the touchscreen app, full screen by default.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use visio_kiosk::app::{AutoCall, Kiosk, Message, Settings};
use visio_kiosk::headless::{self, Script};
use visio_kiosk::setup::{Setup, Sources};
use visio_kiosk::{assets, scene};
use visio_kiosk_core::Screen;
use visio_protocol::ServiceId;

#[derive(Parser, Debug)]
#[command(name = "visio-kiosk", version, about = "Visio-Public kiosk: touch a service, talk to an agent")]
struct Cli {
    /// This kiosk's configuration file (as in kiosk-config/kiosks/).
    /// Default: the embedded demo kiosk.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The service catalogue (kiosk-config/services.json). Default: the
    /// embedded demo region.
    #[arg(long)]
    catalogue: Option<PathBuf>,
    /// The hub, e.g. wss://127.0.0.1:8443. Default: the configured addresses.
    #[arg(long)]
    hub: Option<String>,
    /// The hub certificate (or CA) to trust, PEM. Default: as configured.
    #[arg(long)]
    trust: Option<PathBuf>,
    /// File holding this kiosk's secret (from `visio-hub kiosk enroll`).
    #[arg(long, required_unless_present = "scene")]
    secret_file: Option<PathBuf>,
    /// Services offered, in tile order. Default: as configured.
    #[arg(long, value_delimiter = ',')]
    services: Vec<String>,
    /// Where a visit's documents live while it lasts (wiped at its end and
    /// at start). Default: /run/visio-kiosk/spool, or the temporary folder.
    #[arg(long)]
    spool_dir: Option<PathBuf>,
    /// Where the last good signed configuration from the hub is kept
    /// (e.g. /var/lib/visio-kiosk). Without it, the kiosk runs on its files
    /// and refuses configurations from the hub.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// An admin public key (`ed25519:…`, from `visio-admin keygen`) whose
    /// signature this kiosk accepts on configurations; repeat for several.
    #[arg(long = "admin-key")]
    admin_keys: Vec<String>,
    /// A file of admin public keys, one `ed25519:…` per line (`#` starts a
    /// comment), as `visio-admin keygen` writes `<key>.pub`; added to
    /// --admin-key. The packaged unit reads /etc/visio-kiosk/admin-keys.
    #[arg(long, value_name = "FILE")]
    admin_keys_file: Option<PathBuf>,
    /// No window: call --call's service, print one JSON line per event on
    /// stdout, exit when the visit is over (0: the call took place and one
    /// side hung up; 3: refused, failed, cut or interrupted).
    #[arg(long, requires = "call", conflicts_with = "scene")]
    headless: bool,
    /// Ask for this service as soon as the home screen shows (required
    /// with --headless; in the window, for demos and benchmarks).
    #[arg(long, conflicts_with = "scene")]
    call: Option<String>,
    /// In the window, with --call: ask for it this many times, one call
    /// after the other, rating each at once (soak benchmarks).
    #[arg(long, default_value_t = 1, requires = "call", conflicts_with = "headless")]
    calls: u32,
    /// With --headless: hang up this many seconds after the call connects
    /// (soak tests, benchmarks). Default: wait for the agent to hang up.
    #[arg(long, requires = "headless")]
    hang_up_after: Option<u64>,
    /// With --headless: how the resident answers each document to sign, in
    /// order: `sign` (a scripted stroke, once the agent has placed the
    /// box) or `refuse` (at once). Documents past the list wait.
    #[arg(long, value_delimiter = ',', requires = "headless")]
    sign_answers: Vec<headless::SignAnswer>,
    /// With --headless: press "Appeler l'accueil" once waiting in line
    /// (tests of the host page).
    #[arg(long, requires = "headless")]
    call_host: bool,
    /// With --headless: when a callback is offered (a closed service, a
    /// long wait), ask for one and book the first slot shown; the run
    /// ends, status 0, once it is booked and its slip printed.
    #[arg(long, requires = "headless")]
    callback: bool,
    /// Show a canned screen without a hub, for screenshots and demos:
    /// home, home-closed, waiting, call, call-scan, document, ended,
    /// out-of-service, … (all in scene.rs); add -large for large text or
    /// -easy for easy-read (home-large).
    #[arg(long)]
    scene: Option<String>,
    /// A window instead of full screen (development, screenshots).
    #[arg(long)]
    windowed: bool,
    /// Window size with --windowed, e.g. 1280x800.
    #[arg(long, default_value = "1280x800", value_parser = parse_size)]
    size: (f32, f32),
}

/// The keys of an admin keys file: each line's text before any `#`, trimmed,
/// blank lines skipped. Each is checked where --admin-key's are.
fn key_lines(text: &str) -> impl Iterator<Item = String> + '_ {
    text.lines().map(|l| l.split('#').next().unwrap_or_default().trim()).filter(|l| !l.is_empty()).map(str::to_owned)
}

fn parse_size(s: &str) -> Result<(f32, f32), String> {
    let (w, h) = s.split_once('x').ok_or("write the size like 1280x800")?;
    Ok((w.parse().map_err(|_| "bad width")?, h.parse().map_err(|_| "bad height")?))
}

fn main() -> ExitCode {
    // First, before any thread (tokio, GStreamer, iced) makes an arena.
    memory::limit_arenas();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("visio-kiosk: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut admin_keys = cli.admin_keys.clone();
    if let Some(path) = &cli.admin_keys_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the admin keys in {} (--admin-keys-file)", path.display()))?;
        admin_keys.extend(key_lines(&text));
    }
    let sources = Sources {
        config: cli.config.clone(),
        catalogue: cli.catalogue.clone(),
        hub: cli.hub.clone(),
        trust: cli.trust.clone(),
        // A scene never talks to a hub.
        secret_file: if cli.scene.is_some() { None } else { cli.secret_file.clone() },
        services: cli.services.clone(),
        spool_dir: cli.spool_dir.clone(),
        state_dir: cli.state_dir.clone(),
        admin_keys,
    };
    let setup = Setup::load(&sources)?;
    if cli.headless {
        let script = Script {
            service: ServiceId::new(cli.call.clone().unwrap_or_default()),
            hang_up_after: cli.hang_up_after.map(Duration::from_secs),
            sign_answers: cli.sign_answers.clone(),
            call_host: cli.call_host,
            callback: cli.callback,
        };
        let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
        let outcome = runtime.block_on(headless::run(setup, script))?;
        return Ok(outcome.into());
    }
    let mut settings = Settings::from_setup(setup);
    settings.auto_call = cli.call.clone().map(|service| AutoCall { service: ServiceId::new(service), times: cli.calls });
    if cli.scene.is_some() {
        // A canned screen: no calls, no device checks, nothing real behind it.
        settings.visit = None;
        settings.setup = None;
    }
    if let Some(scene) = &cli.scene {
        // Check the name before opening a window.
        scene::enter(&mut Kiosk::new(settings.clone()), scene).map_err(anyhow::Error::msg)?;
    }
    let scene = cli.scene.clone();
    let boot = move || {
        let mut kiosk = Kiosk::new(settings.clone());
        if let Some(scene) = &scene
            && let Err(e) = scene::enter(&mut kiosk, scene)
        {
            tracing::error!(error = %e, "scene");
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
    // systemd hears from the window's own loop: each tick (4 a second)
    // proves an update ran, and pings its watchdog when due.
    let notifier = std::sync::Mutex::new(visio_kiosk::systemd::Notifier::from_env());
    // Between calls (the end screen gives way), give the call's freed
    // memory back to the system.
    let update = move |kiosk: &mut Kiosk, message: Message| {
        match &message {
            Message::Tick(now) => notifier.lock().unwrap_or_else(|e| e.into_inner()).alive(*now),
            Message::Stop => notifier.lock().unwrap_or_else(|e| e.into_inner()).stopping(),
            _ => {}
        }
        let ending = matches!(kiosk.screen(), Screen::Ended(_));
        let task = kiosk.update(message);
        if ending && !matches!(kiosk.screen(), Screen::Ended(_)) {
            memory::trim();
        }
        task
    };
    iced::application(boot, update, Kiosk::view)
        .title("Visio-Public")
        .subscription(Kiosk::subscription)
        .window(window)
        .font(assets::FONT_REGULAR)
        .font(assets::FONT_BOLD)
        .default_font(iced::Font::with_name(assets::FONT_NAME))
        .theme(|_: &Kiosk| iced::Theme::Light)
        .run()
        .context("the kiosk window failed")?;
    Ok(ExitCode::SUCCESS)
}

/// glibc's allocator, set for a day of calls (docs/decisions.md #248, "Kiosk
/// memory over a day"): each call's threads (GStreamer, webrtc, tokio)
/// would otherwise each get an arena that keeps its high-water mark.
mod memory {
    /// Two arenas for the whole process, whatever the core count.
    #[allow(unsafe_code)]
    pub fn limit_arenas() {
        // SAFETY: mallopt only sets an allocator parameter; it is called
        // first thing in main, before any other thread exists.
        let set = unsafe { libc::mallopt(libc::M_ARENA_MAX, 2) };
        if set != 1 {
            eprintln!("visio-kiosk: the allocator's arena limit could not be set; memory may grow over a day");
        }
    }

    /// Returns free memory at the top of every arena to the system.
    #[allow(unsafe_code)]
    pub fn trim() {
        // SAFETY: malloc_trim only releases free pages; glibc locks each
        // arena while it does, so any thread may call it at any time.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}
