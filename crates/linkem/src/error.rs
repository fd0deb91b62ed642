//! Errors, each with a message that tells a person what to do.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "the link emulator must run as root (it creates network namespaces and TUN devices); \
         run the tests or `visio-linkem` as root, e.g. with sudo"
    )]
    NotRoot,

    #[error(
        "cannot create network namespace {name:?}: {detail}. The link emulator needs root, \
         iproute2 (`ip`) and a kernel with network namespaces; `bash scripts/setup.sh` installs iproute2"
    )]
    Namespace { name: String, detail: String },

    #[error(
        "network namespace {namespace:?} already exists: a link named {link:?} is up, or one was \
         left behind; `visio-linkem down --name {link}` (or `ip netns del {namespace}`) removes it"
    )]
    NamespaceExists { namespace: String, link: String },

    #[error(
        "cannot create the TUN device in namespace {namespace:?}: {source}. Is /dev/net/tun \
         there (`modprobe tun`) and are we root?"
    )]
    Tun {
        namespace: String,
        source: io::Error,
    },

    #[error("cannot enter network namespace {namespace:?}: {source}")]
    EnterNamespace {
        namespace: String,
        source: io::Error,
    },

    #[error("`ip {args}` failed: {detail}")]
    Ip { args: String, detail: String },

    #[error(
        "`ip` (iproute2) is not installed or cannot start: {0}. `bash scripts/setup.sh` installs it"
    )]
    IpMissing(io::Error),

    #[error("cannot start `{program}` in the {side} namespace: {source}")]
    Spawn {
        program: String,
        side: crate::Side,
        source: io::Error,
    },

    #[error("cannot parse {what} {input:?}: expected {expected}")]
    Parse {
        what: &'static str,
        input: String,
        expected: &'static str,
    },

    #[error("unknown profile {name:?}; the profiles are: {known}")]
    UnknownProfile { name: String, known: String },

    #[error("invalid link parameter: {0}")]
    InvalidParams(String),

    #[error("the link's forwarder thread has stopped: {0}")]
    Forwarder(String),

    #[error(
        "no link named {name:?} is up (no control socket at {path}); start one with `visio-linkem up`"
    )]
    NotRunning { name: String, path: PathBuf },

    #[error(
        "a link named {name:?} is already up (pid {pid}); stop it with `visio-linkem down --name {name}`"
    )]
    AlreadyUp { name: String, pid: u32 },

    #[error(
        "cannot firewall the {side} side (`iptables {rule}`): {detail}. The tests need root and \
         iptables; `bash scripts/setup.sh` installs it"
    )]
    Firewall {
        side: crate::Side,
        rule: String,
        detail: String,
    },

    #[error("control of link {name:?} failed: {detail}")]
    Control { name: String, detail: String },

    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
}

impl Error {
    /// An I/O error with what we were doing when it happened.
    pub fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
