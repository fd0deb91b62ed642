//! `visio-admin`: check, sign, publish and report on the fleet's
//! configuration, and watch the fleet.
//!
//! Exit codes: 0 success (a valid configuration, a verified bundle, a
//! publication), 1 the input is invalid or refused (by this tool or the
//! hub), 2 the command could not run (no such file, hub unreachable).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use jiff::Timestamp;
use jiff::civil::Date;
use visio_admin::hub::{HubClient, HubError, Publication};
use visio_admin::{fleet, stats};
use visio_config::bundle::{self, Bundle, SigningKeyFile};
use visio_config::{ConfigSet, LoadError};

#[derive(Parser)]
#[command(name = "visio-admin", version, about = "Visio-Public administration: validate, sign, publish and report")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// How to reach the hub's admin API.
#[derive(clap::Args)]
struct HubArgs {
    /// The hub, e.g. https://hub.visio-public.example.fr:8443.
    #[arg(long, env = "VISIO_HUB_URL")]
    hub: String,
    /// The hub's certificate (or its CA), PEM, for a hub whose certificate
    /// is not from a public CA. Default: the system's roots.
    #[arg(long, env = "VISIO_HUB_TRUST")]
    trust: Option<PathBuf>,
    /// A file holding the admin token (`visio-hub admin token <name>`
    /// prints one). Never on the command line, where others see it.
    #[arg(long, env = "VISIO_ADMIN_TOKEN_FILE")]
    token_file: PathBuf,
}

impl HubArgs {
    fn client(&self) -> Result<HubClient, HubError> {
        HubClient::new(&self.hub, self.trust.as_deref(), &self.token_file)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Check a configuration folder (services.json, hub.json, kiosks/*.json)
    /// and print every problem as `file:line:column path: message`.
    Validate {
        /// The configuration folder.
        #[arg(default_value = "kiosk-config")]
        dir: PathBuf,
    },
    /// Generate an admin Ed25519 signing key (PKCS#8 PEM, mode 0600) and
    /// its public key next to it (`<out>.pub`).
    Keygen {
        /// Where to write the private key; never overwritten.
        #[arg(long)]
        out: PathBuf,
    },
    /// Validate a configuration folder and write it as a signed bundle.
    Sign {
        /// The configuration folder.
        #[arg(default_value = "kiosk-config")]
        dir: PathBuf,
        /// The admin's private key (from `visio-admin keygen`).
        #[arg(long)]
        key: PathBuf,
        /// Where to write the bundle.
        #[arg(long, default_value = "kiosk-config.signed.json")]
        out: PathBuf,
        /// The bundle's version; must grow with each publication.
        /// Default: the current Unix time in seconds.
        #[arg(long)]
        version: Option<u64>,
    },
    /// Verify a signed bundle as a kiosk does: trusted signer, intact
    /// signature, valid content.
    Verify {
        /// The bundle file.
        bundle: PathBuf,
        /// A trusted admin public key, `ed25519:<base64>` (repeatable).
        #[arg(long = "public-key", required = true)]
        public_keys: Vec<String>,
    },
    /// Upload a signed configuration to the hub, which checks it and
    /// announces it to every connected kiosk. Give a bundle from `sign`,
    /// or a configuration folder and --key to validate, sign and upload.
    Publish {
        #[command(flatten)]
        hub: HubArgs,
        /// A signed bundle file, or a configuration folder (with --key).
        source: PathBuf,
        /// The admin's private key, to sign a configuration folder.
        #[arg(long)]
        key: Option<PathBuf>,
        /// The version when signing a folder; must grow with each
        /// publication. Default: the current Unix time in seconds.
        #[arg(long)]
        version: Option<u64>,
    },
    /// Every kiosk the hub knows: online or not, last heartbeat, app and
    /// configuration versions, devices, round trip, refused configuration.
    Fleet {
        #[command(flatten)]
        hub: HubArgs,
        #[arg(long, value_enum, default_value_t = FleetFormat::Table)]
        format: FleetFormat,
    },
    /// Usage figures from the hub's session log (`visio-hub sessions`).
    Stats {
        /// First day, inclusive (YYYY-MM-DD, local time of the catalogue).
        #[arg(long)]
        from: Date,
        /// Last day, inclusive.
        #[arg(long)]
        to: Date,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// The session log, one JSON object per line; default: stdin.
        #[arg(long)]
        log: Option<PathBuf>,
        /// The configuration folder, for kiosk and office locations.
        #[arg(long, default_value = "kiosk-config")]
        config: PathBuf,
    },
    /// Write the JSON Schemas of the configuration files.
    Schema {
        /// Output folder.
        #[arg(default_value = "kiosk-config/schema")]
        dir: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum FleetFormat {
    Table,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
}

/// How a command ended, when it did not fail to run.
enum Outcome {
    Ok,
    Invalid,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Invalid) => ExitCode::from(1),
        Err(e) => {
            eprintln!("visio-admin: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Loads a folder, printing every problem; `None` if it is invalid.
fn load(dir: &Path) -> anyhow::Result<Option<ConfigSet>> {
    match ConfigSet::load(dir) {
        Ok(set) => Ok(Some(set)),
        Err(LoadError::Invalid(diagnostics)) => {
            for d in &diagnostics {
                eprintln!("{d}");
            }
            let files: std::collections::BTreeSet<&str> = diagnostics.iter().map(|d| d.file.as_str()).collect();
            eprintln!(
                "{}: invalid: {} problem(s) in {} file(s)",
                dir.display(),
                diagnostics.len(),
                files.len()
            );
            Ok(None)
        }
        Err(e @ LoadError::Io { .. }) => Err(e.into()),
    }
}

fn run(command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Validate { dir } => {
            let Some(set) = load(&dir)? else { return Ok(Outcome::Invalid) };
            println!(
                "{}: valid: {} services, {} kiosks, hub settings",
                dir.display(),
                set.catalogue().services().len(),
                set.kiosks.len()
            );
            Ok(Outcome::Ok)
        }
        Command::Keygen { out } => {
            let key = SigningKeyFile::generate(&out)?;
            let public = bundle::public_key_text(&key.verifying_key());
            let pub_path = PathBuf::from(format!("{}.pub", out.display()));
            std::fs::write(&pub_path, format!("{public}\n"))
                .with_context(|| format!("cannot write {}", pub_path.display()))?;
            println!("{public}");
            eprintln!(
                "private key in {} (keep it secret), public key in {} (key id {})",
                out.display(),
                pub_path.display(),
                bundle::key_id(&key.verifying_key())
            );
            Ok(Outcome::Ok)
        }
        Command::Sign { dir, key, out, version } => {
            let key = SigningKeyFile::read(&key)?;
            let Some(set) = load(&dir)? else { return Ok(Outcome::Invalid) };
            let now = Timestamp::now();
            let version = version.unwrap_or(now.as_second().max(0) as u64);
            let signed = Bundle::sign(&set, &key, version, now);
            std::fs::write(&out, signed.to_json()).with_context(|| format!("cannot write {}", out.display()))?;
            println!(
                "{}: version {}, {} kiosks, signed by key {}, payload sha256 {}",
                out.display(),
                signed.version,
                set.kiosks.len(),
                signed.key_id,
                signed.payload_sha256
            );
            Ok(Outcome::Ok)
        }
        Command::Verify { bundle: path, public_keys } => {
            let keys = public_keys.iter().map(|k| bundle::parse_public_key(k)).collect::<Result<Vec<_>, _>>()?;
            let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
            match Bundle::verify(&text, &keys) {
                Ok(v) => {
                    println!(
                        "{}: valid: version {}, {} kiosks, signed by key {} at {}",
                        path.display(),
                        v.version,
                        v.config.kiosks.len(),
                        v.key_id,
                        v.created_at
                    );
                    Ok(Outcome::Ok)
                }
                Err(e) => {
                    eprintln!("{}: refused: {e}", path.display());
                    Ok(Outcome::Invalid)
                }
            }
        }
        Command::Publish { hub, source, key, version } => {
            let text = if source.is_dir() {
                let Some(key) = key else {
                    anyhow::bail!("{} is a configuration folder: give --key to sign it, or publish a bundle from `visio-admin sign`", source.display())
                };
                let key = SigningKeyFile::read(&key)?;
                let Some(set) = load(&source)? else { return Ok(Outcome::Invalid) };
                let now = Timestamp::now();
                Bundle::sign(&set, &key, version.unwrap_or(now.as_second().max(0) as u64), now).to_json()
            } else {
                anyhow::ensure!(key.is_none() && version.is_none(), "--key and --version sign a configuration folder; {} is a bundle, already signed", source.display());
                std::fs::read_to_string(&source).with_context(|| format!("cannot read {}", source.display()))?
            };
            let result = hub.client().and_then(|client| client.publish(&text));
            match result {
                Ok(Publication::Published(p)) => {
                    println!(
                        "{}: published version {} (signed by key {}, payload sha256 {}); {} kiosk(s) online were told",
                        hub.hub.trim_end_matches('/'),
                        p.version,
                        p.key_id,
                        p.payload_sha256,
                        p.announced_to.unwrap_or(0)
                    );
                    Ok(Outcome::Ok)
                }
                Ok(Publication::AlreadyPublished(p)) => {
                    println!("{}: version {} was already published; nothing changed", hub.hub.trim_end_matches('/'), p.version);
                    Ok(Outcome::Ok)
                }
                Err(e) if e.is_refusal() => {
                    eprintln!("visio-admin: {e}");
                    Ok(Outcome::Invalid)
                }
                Err(e) => Err(e.into()),
            }
        }
        Command::Fleet { hub, format } => match hub.client().and_then(|client| client.fleet()) {
            Ok(view) => {
                match format {
                    FleetFormat::Table => print!("{}", fleet::to_table(&view)),
                    FleetFormat::Json => println!("{}", serde_json::to_string_pretty(&view)?),
                }
                Ok(Outcome::Ok)
            }
            Err(e) if e.is_refusal() => {
                eprintln!("visio-admin: {e}");
                Ok(Outcome::Invalid)
            }
            Err(e) => Err(e.into()),
        },
        Command::Stats { from, to, format, log, config } => {
            anyhow::ensure!(from <= to, "--from {from} is after --to {to}");
            let Some(set) = load(&config)? else {
                anyhow::bail!("the configuration in {} is invalid (see above); fix it first", config.display())
            };
            let (name, text) = match &log {
                Some(path) => (
                    path.display().to_string(),
                    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?,
                ),
                None => {
                    let mut text = String::new();
                    std::io::stdin().read_to_string(&mut text).context("cannot read the log from stdin")?;
                    ("<stdin>".to_owned(), text)
                }
            };
            let (records, errors) = stats::read_log(&name, &text);
            for e in &errors {
                eprintln!("{e}");
            }
            let report = stats::report(&records, from, to, &set);
            for w in &report.warnings {
                eprintln!("warning: {w}");
            }
            print!(
                "{}",
                match format {
                    Format::Table => report.to_table(),
                    Format::Csv => report.to_csv(),
                    Format::Json => report.to_json(),
                }
            );
            if errors.is_empty() {
                Ok(Outcome::Ok)
            } else {
                eprintln!("{} line(s) of the log skipped", errors.len());
                Ok(Outcome::Invalid)
            }
        }
        Command::Schema { dir } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
            for (name, text) in visio_config::schema::schemas() {
                let path = dir.join(name);
                std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
                println!("{}", path.display());
            }
            Ok(Outcome::Ok)
        }
    }
}
