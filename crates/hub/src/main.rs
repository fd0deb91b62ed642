//! `visio-hub`: serve, and manage kiosk enrolments and agent accounts.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use jiff::Timestamp;
use visio_config::{Catalogue, ConfigSet, LoadError};
use visio_hub::server::{self, Settings};
use visio_hub::store::postgres::PgStore;
use visio_hub::store::{Backend, Store, StoreError};
use visio_hub::store::revocation::Kind;
use visio_hub::tls;
use visio_protocol::{AgentLogin, KioskId, Secret, ServiceId};

#[derive(Parser)]
#[command(name = "visio-hub", version, about = "Visio-Public hub: signaling, queues, accounts and session log")]
struct Cli {
    /// Where the hub keeps its database and generated TLS certificate.
    /// Default: $VISIO_HUB_DATA, else $XDG_DATA_HOME/visio-hub, else
    /// ~/.local/share/visio-hub.
    #[arg(long, global = true, env = "VISIO_HUB_DATA")]
    data_dir: Option<PathBuf>,
    /// The service catalogue (services.json). Default: the embedded demo region.
    #[arg(long, global = true, conflicts_with = "config")]
    catalogue: Option<PathBuf>,
    /// A kiosk-config folder: the hub takes its catalogue (services.json)
    /// and its settings (hub.json: listen address, ICE servers, limits,
    /// heartbeat period) from it. A configuration published later through
    /// the admin API replaces the catalogue and ICE servers.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Keep records in this PostgreSQL database (postgres://user@host/db)
    /// instead of SQLite in the data directory: for several hub processes
    /// sharing one database, linked by --bus (see docs/operations.md).
    #[arg(long, global = true, env = "VISIO_HUB_DATABASE", value_name = "URL")]
    database: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve kiosks and agents over HTTPS and WebSocket.
    Serve {
        /// Address to listen on. Default: hub.json's with --config, else
        /// 127.0.0.1:8443.
        #[arg(long)]
        listen: Option<String>,
        /// PEM certificate chain; with --key, replaces the self-signed one.
        #[arg(long, requires = "key")]
        cert: Option<PathBuf>,
        /// PEM private key for --cert.
        #[arg(long, requires = "cert")]
        key: Option<PathBuf>,
        /// Enrol a demo kiosk and a demo agent, and print how to use them.
        #[arg(long)]
        demo: bool,
        /// Seconds a call is held for a kiosk or agent that lost the hub
        /// (or for both, across a hub restart) before it ends.
        #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=3600))]
        resume_grace: u32,
        /// A TURN server (coturn with --use-auth-secret) sharing a secret
        /// with this hub, e.g. turn:turn.example.fr:3478?transport=udp;
        /// repeat for several. Each peer of a call gets its own credentials,
        /// valid for --turn-ttl.
        #[arg(long = "turn-url", value_name = "URL", requires = "turn_secret_file")]
        turn_urls: Vec<String>,
        /// The file holding coturn's --static-auth-secret (first line).
        #[arg(long, value_name = "FILE", requires = "turn_urls")]
        turn_secret_file: Option<PathBuf>,
        /// Seconds TURN credentials stay valid.
        #[arg(long, value_name = "SECS", default_value_t = 4 * 3600, value_parser = clap::value_parser!(u32).range(60..=7 * 86_400))]
        turn_ttl: u32,
        /// NATS server linking hub processes that share one --database
        /// (nats://user:password@127.0.0.1:4222, or token@host): an agent
        /// connected to one process takes a resident waiting on another,
        /// and their signaling is relayed.
        #[arg(long, value_name = "URL", env = "VISIO_HUB_BUS")]
        bus: Option<String>,
        /// Most simultaneous connections (kiosks, agents, HTTP) before new
        /// ones wait; replaces hub.json's `max_connections` (default
        /// 10000).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
        max_connections: Option<u32>,
    },
    /// Kiosk enrolment.
    Kiosk {
        #[command(subcommand)]
        command: KioskCommand,
    },
    /// Agent accounts.
    Agent {
        #[command(subcommand)]
        command: AgentCommand,
    },
    /// Print the session log as JSON lines (metadata only).
    Sessions,
    /// The admin API: tokens for `visio-admin`, and the signing keys
    /// published configurations must carry.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an admin API token (or replace it, revoking the old one) and
    /// print it once. Only a hash is kept. Give it to `visio-admin
    /// --token-file`.
    Token {
        /// Who or what uses it, e.g. "claire" or "ci"; shown in logs and as
        /// `published_by`.
        name: String,
    },
    /// Revoke an admin API token.
    RevokeToken { name: String },
    /// Trust an admin signing key: uploads must be signed by a trusted key.
    TrustKey {
        /// The public key, `ed25519:<base64>` (`visio-admin keygen` prints
        /// it and writes it to `<key>.pub`).
        public_key: String,
    },
    /// Create an admin console account (`/admin/`). The password is read
    /// from standard input with --password-stdin, otherwise generated and
    /// printed once.
    Account {
        login: String,
        /// admin (everything), supervisor (all but publishing), host (the
        /// fleet and kiosk pages) or agent (usage figures).
        #[arg(long)]
        role: visio_hub::roles::Role,
        /// The name shown in the console and as a configuration's
        /// publisher. Default: the login.
        #[arg(long)]
        name: Option<String>,
        /// Comma-separated kiosk ids: the account sees only these in the
        /// fleet (a site's host). Default: every kiosk.
        #[arg(long, value_delimiter = ',')]
        kiosks: Vec<String>,
        /// Comma-separated service ids: the account's usage figures are
        /// those of these services only (a partner's agent). Default: all.
        #[arg(long, value_delimiter = ',')]
        services: Vec<String>,
        /// A site whose kiosks a host watches on the host page (`/host/`),
        /// spelt as in the kiosk files; repeat for several. For the host
        /// role only (admins and supervisors see every site).
        #[arg(long = "site")]
        sites: Vec<String>,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Stop trusting an admin signing key.
    DistrustKey {
        /// The key id (16 hex digits), as `visio-admin keygen` printed it.
        key_id: String,
    },
}

#[derive(Subcommand)]
enum KioskCommand {
    /// Enrol a kiosk (or re-enrol it, revoking its old secret) and print its
    /// secret once. Only a hash is kept.
    Enroll {
        id: String,
        /// The site shown to agents, e.g. "Mairie de Besse".
        #[arg(long)]
        site: Option<String>,
    },
    /// Refuse this kiosk from now on and close its connection, on every hub
    /// process; `kiosk enroll` gives it a new secret and lets it in again.
    Disable { id: String },
    /// Forget this kiosk and close its connection; its visits stay in the
    /// session log.
    Remove { id: String },
}

#[derive(Subcommand)]
enum AgentCommand {
    /// Create an agent account. The password is read from standard input
    /// with --password-stdin, otherwise generated and printed once.
    Add {
        login: String,
        /// Comma-separated service ids, e.g. caf,msa.
        #[arg(long, value_delimiter = ',', required = true)]
        services: Vec<String>,
        /// The name residents see, e.g. "Claire (CAF)". Default: the login.
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Refuse this agent's sign-ins and sessions from now on and close the
    /// open console, on every hub process.
    Disable { login: String },
    /// Let a disabled agent sign in again.
    Enable { login: String },
    /// Set a new password (read from standard input with --password-stdin,
    /// otherwise generated and printed once); ends the agent's sessions
    /// and closes the open console, on every hub process.
    Password {
        login: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Delete this agent's account and sessions and close the open console;
    /// the session log keeps its calls.
    Remove { login: String },
}

/// A password from standard input (at least 8 characters), or a generated
/// one (then `true`: print it once).
fn read_or_generate_password(from_stdin: bool) -> anyhow::Result<(Secret, bool)> {
    if !from_stdin {
        return Ok((Secret(readable_password()), true));
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let line = line.trim_end_matches(['\r', '\n']).to_owned();
    if line.chars().count() < 8 {
        bail!("the password must have at least 8 characters");
    }
    Ok((Secret(line), false))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,visio_hub=info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("visio-hub: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// An invalid `--config` folder on a hub that has published a
/// configuration: the hub starts on the published one, saying why, rather
/// than leave every kiosk without a hub over a local typo. Without a
/// published configuration it refuses to start, listing every problem.
fn fall_back_to_published(
    runtime: &tokio::runtime::Runtime,
    store: &Backend,
    dir: &std::path::Path,
    diagnostics: &[visio_config::Diagnostic],
) -> anyhow::Result<ConfigSet> {
    let list: Vec<String> = diagnostics.iter().map(|d| format!("  {d}")).collect();
    let published = runtime.block_on(store.published_config()).context("cannot read the published configuration")?;
    let Some(stored) = published else {
        bail!("the configuration in {} is invalid:\n{}", dir.display(), list.join("\n"));
    };
    // The hub verified the bundle before storing it.
    let set = serde_json::from_str::<serde_json::Value>(&stored.bundle)
        .map_err(|e| e.to_string())
        .and_then(|bundle| {
            ConfigSet::from_payload(&bundle["payload"])
                .map_err(|d| d.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
        })
        .map_err(|e| anyhow::anyhow!("the configuration in {} is invalid, and so is the published one ({e}):\n{}", dir.display(), list.join("\n")))?;
    eprintln!(
        "visio-hub: warning: the configuration in {} is invalid; starting on the published configuration (version {}) instead. Fix these problems:\n{}",
        dir.display(),
        stored.meta.version,
        list.join("\n")
    );
    tracing::warn!(version = stored.meta.version, problems = diagnostics.len(), "invalid --config folder; running on the published configuration");
    Ok(set)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let data_dir = cli.data_dir.unwrap_or_else(default_data_dir);
    // A folder that cannot be read at all is fatal; an invalid one is
    // decided once the store tells whether a configuration was published.
    let loaded = match &cli.config {
        Some(dir) => match ConfigSet::load(dir) {
            Ok(set) => Some(Ok(set)),
            Err(LoadError::Invalid(diagnostics)) => Some(Err(diagnostics)),
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    std::fs::create_dir_all(&data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
    let runtime = tokio::runtime::Runtime::new()?;
    let store: Backend = match &cli.database {
        Some(url) => runtime
            .block_on(PgStore::connect(url, POSTGRES_CONNECTIONS))
            .context("cannot open the PostgreSQL database given by --database")?
            .into(),
        None => Store::open(&data_dir.join("hub.sqlite3"))
            .with_context(|| format!("cannot open the database in {}", data_dir.display()))?
            .into(),
    };
    let config = match (loaded, &cli.config) {
        (Some(Err(diagnostics)), Some(dir)) => Some(fall_back_to_published(&runtime, &store, dir, &diagnostics)?),
        (loaded, _) => loaded.and_then(Result::ok),
    };
    let catalogue = Arc::new(match (&config, &cli.catalogue) {
        (Some(set), _) => set.catalogue().clone(),
        (None, Some(path)) => {
            // The same reading as a folder's: bad UTF-8 located, a BOM named.
            let name = path.display().to_string();
            let text = visio_config::source::read(&name, path).map_err(|d| anyhow::anyhow!("{d}"))?;
            Catalogue::from_json(&name, &text)?
        }
        (None, None) => Catalogue::demo(),
    });

    match cli.command {
        Command::Serve { listen, cert, key, demo, resume_grace, turn_urls, turn_secret_file, turn_ttl, bus, max_connections } => {
            let listen = listen
                .or_else(|| config.as_ref().map(|c| c.hub().listen.to_string()))
                .unwrap_or_else(|| "127.0.0.1:8443".to_owned());
            let mut settings = match &config {
                Some(set) => Settings::from_config(set),
                None => Settings::new(catalogue),
            };
            settings.resume_grace = jiff::SignedDuration::from_secs(i64::from(resume_grace));
            settings.bus = bus;
            if let Some(max) = max_connections {
                settings.max_connections = max as usize;
            }
            if let Some(file) = turn_secret_file {
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read the TURN secret from {}", file.display()))?;
                let secret = text.lines().next().unwrap_or_default().trim().to_owned();
                anyhow::ensure!(!secret.is_empty(), "the TURN secret file {} is empty", file.display());
                settings.turn_rest = Some(visio_hub::core::TurnRest {
                    urls: turn_urls,
                    secret: visio_protocol::Secret(secret),
                    ttl: jiff::SignedDuration::from_secs(i64::from(turn_ttl)),
                });
            }
            // A kiosk that reaches the hub by IP needs that IP in the
            // self-signed certificate.
            let listen_ip: Vec<String> = listen
                .parse::<std::net::SocketAddr>()
                .ok()
                .map(|a| a.ip())
                .filter(|ip| !ip.is_unspecified())
                .map(|ip| ip.to_string())
                .into_iter()
                .collect();
            let identity = tls::load_or_generate_for(&data_dir, cert.zip(key), &listen_ip)?;
            runtime.block_on(async {
                let listener = tokio::net::TcpListener::bind(&listen)
                    .await
                    .with_context(|| format!("cannot listen on {listen}"))?;
                if demo {
                    let bound = listener.local_addr()?.to_string();
                    print_demo(&store, &data_dir, &bound, &identity.cert_path).await?;
                }
                server::run(listener, identity.config, store, settings, shutdown_signal()).await?;
                anyhow::Ok(())
            })?;
        }
        Command::Kiosk { command: KioskCommand::Enroll { id, site } } => {
            check_id(&id)?;
            let site = site.unwrap_or_else(|| id.clone());
            let secret = runtime.block_on(store.enroll_kiosk(&KioskId(id.clone()), &site, Timestamp::now()))?;
            eprintln!("Kiosk {id:?} enrolled for site {site:?}. Its secret (shown once; put it in the kiosk's configuration):");
            println!("{}", secret.expose());
        }
        Command::Kiosk { command: KioskCommand::Disable { id } } => {
            if !runtime.block_on(store.set_disabled(Kind::Kiosk, &id, true, Timestamp::now()))? {
                bail!("there is no kiosk {id:?}");
            }
            eprintln!("Kiosk {id:?} disabled; its connection closes within {} s.", visio_hub::driver::revoke::POLL_EVERY.as_secs());
        }
        Command::Kiosk { command: KioskCommand::Remove { id } } => {
            if !runtime.block_on(store.remove(Kind::Kiosk, &id, Timestamp::now()))? {
                bail!("there is no kiosk {id:?}");
            }
            eprintln!("Kiosk {id:?} removed.");
        }
        Command::Agent { command: AgentCommand::Disable { login } } => {
            if !runtime.block_on(store.set_disabled(Kind::Agent, &login, true, Timestamp::now()))? {
                bail!("there is no agent {login:?}");
            }
            eprintln!("Agent {login:?} disabled; an open console closes within {} s.", visio_hub::driver::revoke::POLL_EVERY.as_secs());
        }
        Command::Agent { command: AgentCommand::Enable { login } } => {
            if !runtime.block_on(store.set_disabled(Kind::Agent, &login, false, Timestamp::now()))? {
                bail!("there is no agent {login:?}");
            }
            eprintln!("Agent {login:?} may sign in again.");
        }
        Command::Agent { command: AgentCommand::Password { login, password_stdin } } => {
            let (password, generated) = read_or_generate_password(password_stdin)?;
            if !runtime.block_on(store.set_password(&login, &password, Timestamp::now()))? {
                bail!("there is no agent {login:?}");
            }
            eprintln!("Password of agent {login:?} changed; its sessions are ended.");
            if generated {
                eprintln!("Password (shown once):");
                println!("{}", password.expose());
            }
        }
        Command::Agent { command: AgentCommand::Remove { login } } => {
            if !runtime.block_on(store.remove(Kind::Agent, &login, Timestamp::now()))? {
                bail!("there is no agent {login:?}");
            }
            eprintln!("Agent {login:?} removed.");
        }
        Command::Agent { command: AgentCommand::Add { login, services, name, password_stdin } } => {
            check_id(&login)?;
            let services: Vec<ServiceId> = services.iter().map(|s| ServiceId(s.trim().to_owned())).collect();
            for s in &services {
                if catalogue.get(s).is_none() {
                    let known: Vec<&str> = catalogue.services().iter().map(|s| s.id.as_str()).collect();
                    bail!("unknown service {:?}; the catalogue has: {}", s.as_str(), known.join(", "));
                }
            }
            let (password, generated) = read_or_generate_password(password_stdin)?;
            let name = name.unwrap_or_else(|| login.clone());
            match runtime.block_on(store.add_agent(&AgentLogin(login.clone()), &name, &password, &services, Timestamp::now())) {
                Err(StoreError::AgentExists(_)) => bail!("agent {login:?} already exists"),
                other => other?,
            }
            eprintln!("Agent {login:?} created for {}.", services.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "));
            if generated {
                eprintln!("Password (shown once):");
                println!("{}", password.expose());
            }
        }
        Command::Sessions => {
            for record in runtime.block_on(store.session_log())? {
                println!("{}", serde_json::to_string(&record)?);
            }
        }
        Command::Admin { command: AdminCommand::Token { name } } => {
            check_id(&name)?;
            let token = runtime.block_on(store.create_admin_token(&name, Timestamp::now()))?;
            eprintln!("Admin token {name:?} (shown once; store it in a file only its owner reads, for visio-admin --token-file):");
            println!("{}", token.expose());
        }
        Command::Admin { command: AdminCommand::RevokeToken { name } } => {
            if !runtime.block_on(store.revoke_admin_token(&name))? {
                bail!("there is no admin token named {name:?}");
            }
            eprintln!("Admin token {name:?} revoked.");
        }
        Command::Admin { command: AdminCommand::Account { login, role, name, kiosks, services, sites, password_stdin } } => {
            check_id(&login)?;
            let enrolled = runtime.block_on(store.kiosks())?;
            role.check_sites(&sites, enrolled.iter().map(|k| k.site.as_str())).map_err(anyhow::Error::msg)?;
            for id in &kiosks {
                check_id(id)?;
            }
            let kiosks: Vec<KioskId> = kiosks.iter().map(|k| KioskId::from(k.as_str())).collect();
            let services: Vec<ServiceId> = services.iter().map(|s| ServiceId(s.trim().to_owned())).collect();
            if let Some(unknown) = services.iter().find(|s| catalogue.get(s).is_none()) {
                let known: Vec<&str> = catalogue.services().iter().map(|s| s.id.as_str()).collect();
                bail!("unknown service {:?}; the catalogue has: {}", unknown.as_str(), known.join(", "));
            }
            let (password, generated) = read_or_generate_password(password_stdin)?;
            let name = name.unwrap_or_else(|| login.clone());
            match runtime.block_on(store.add_console_account(&login, &name, &password, role, (&kiosks, &services), Timestamp::now())) {
                Err(StoreError::AccountExists(_)) => bail!("console account {login:?} already exists"),
                other => other?,
            }
            if !sites.is_empty() {
                runtime.block_on(store.set_console_sites(&login, &sites))?;
            }
            match role {
                visio_hub::roles::Role::Host if sites.is_empty() => {
                    eprintln!("Host account {login:?} created without a site: it signs in at /admin/; /host/ needs --site.");
                }
                visio_hub::roles::Role::Host => {
                    eprintln!("Host account {login:?} created for {}; it signs in at /host/.", sites.join(" ; "));
                }
                _ => eprintln!("Console account {login:?} created with the {role} role; it signs in at /admin/."),
            }
            if generated {
                eprintln!("Password (shown once):");
                println!("{}", password.expose());
            }
        }
        Command::Admin { command: AdminCommand::TrustKey { public_key } } => {
            let key = visio_config::bundle::parse_public_key(&public_key)?;
            let id = runtime.block_on(store.trust_admin_key(&key, Timestamp::now()))?;
            eprintln!("Configurations signed by key {id} are now accepted.");
        }
        Command::Admin { command: AdminCommand::DistrustKey { key_id } } => {
            if !runtime.block_on(store.distrust_admin_key(&key_id))? {
                bail!("no trusted admin key has the id {key_id:?}");
            }
            eprintln!("Key {key_id} is no longer trusted; the configuration already published stays served.");
        }
    }
    Ok(())
}

fn default_data_dir() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| ".".into())).join(".local/share")
    });
    base.join("visio-hub")
}

fn check_id(id: &str) -> anyhow::Result<()> {
    if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.') {
        bail!("{id:?} is not a valid id: use 1 to 64 letters, digits, '-', '_' or '.'");
    }
    Ok(())
}

/// Four groups of five letters and digits: easy to read out over the phone.
fn readable_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..4)
        .map(|_| (0..5).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Connections one hub process keeps to PostgreSQL: the session log
/// writer, logins and the queue's calls rarely need more at once.
const POSTGRES_CONNECTIONS: usize = 8;

const DEMO_KIOSK: &str = "demo-kiosk";
const DEMO_AGENT: &str = "agent";
const DEMO_PASSWORD: &str = "visio-demo";
const DEMO_ADMIN: &str = "admin";

/// Enrols the demo kiosk (new secret each start, written next to the
/// database for the kiosk app) and the demo agent, then says what to open.
async fn print_demo(store: &Backend, data_dir: &std::path::Path, listen: &str, cert: &std::path::Path) -> anyhow::Result<()> {
    let secret =
        store.enroll_kiosk(&KioskId::from(DEMO_KIOSK), "Point Visio-Public de démonstration", Timestamp::now()).await?;
    let secret_file = data_dir.join("demo-kiosk.secret");
    std::fs::write(&secret_file, secret.expose())?;
    let services: Vec<ServiceId> =
        ["caf", "france-travail", "msa", "urssaf", "cpam", "carsat", "impots", "demo"].map(ServiceId::from).to_vec();
    match store.add_agent(&DEMO_AGENT.into(), "Camille (démo)", &Secret(DEMO_PASSWORD.into()), &services, Timestamp::now()).await {
        Ok(()) | Err(StoreError::AgentExists(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let admin = Secret(DEMO_PASSWORD.into());
    match store.add_console_account(DEMO_ADMIN, "Dominique (démo)", &admin, visio_hub::roles::Role::Admin, (&[], &[]), Timestamp::now()).await {
        Ok(()) | Err(StoreError::AccountExists(_)) => {}
        Err(e) => return Err(e.into()),
    }
    eprintln!(
        "\nVisio-Public demo hub on https://{listen}/\n\
         \x20 certificate (self-signed, trust it in clients): {}\n\
         \x20 health:  https://{listen}/healthz    metrics: https://{listen}/metrics\n\
         \x20 demo agent:  login {DEMO_AGENT:?}, password {DEMO_PASSWORD:?} (POST /api/agent/login)\n\
         \x20 demo admin:  login {DEMO_ADMIN:?}, password {DEMO_PASSWORD:?}, console https://{listen}/admin/\n\
         \x20 demo kiosk:  id {DEMO_KIOSK:?}, secret in {}\n\
         \x20 the \"demo\" service is open at all hours; the others keep real office hours (Europe/Paris)\n",
        cert.display(),
        secret_file.display()
    );
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
