//! The control protocol between the `visio-linkem` commands and the daemon
//! that `visio-linkem up` leaves running: one JSON request per line on a
//! Unix socket, one JSON reply per line.

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::core::Counters;
use crate::error::{Error, Result};
use crate::link::LinkCounters;
use crate::params::{Direction, LinkParams, Profile};

/// Where daemons keep their sockets and logs.
pub const STATE_DIR: &str = "/run/visio-linkem";

pub fn socket_path(name: &str) -> PathBuf {
    PathBuf::from(STATE_DIR).join(format!("{name}.sock"))
}

pub fn log_path(name: &str) -> PathBuf {
    PathBuf::from(STATE_DIR).join(format!("{name}.log"))
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    Status {
        reset: bool,
    },
    Set {
        params: Box<LinkParams>,
        profile: Option<Profile>,
    },
    Cut {
        millis: u64,
    },
    Restore,
    Down,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Status {
    pub name: String,
    pub pid: u32,
    pub profile: Option<Profile>,
    pub kiosk_namespace: String,
    pub hub_namespace: String,
    pub kiosk_addr: std::net::Ipv4Addr,
    pub hub_addr: std::net::Ipv4Addr,
    pub params: LinkParams,
    pub counters: LinkCounters,
    pub cut: bool,
}

impl Status {
    pub fn counters(&self, dir: Direction) -> Counters {
        match dir {
            Direction::Up => self.counters.up,
            Direction::Down => self.counters.down,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Reply {
    Ok { status: Box<Status> },
    Error { message: String },
}

/// Sends one request to the daemon of link `name` and returns its status.
pub fn request(name: &str, req: &Request) -> Result<Status> {
    let path = socket_path(name);
    let stream = UnixStream::connect(&path).map_err(|_| Error::NotRunning {
        name: name.to_string(),
        path: path.clone(),
    })?;
    let control = |detail: String| Error::Control {
        name: name.to_string(),
        detail,
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| control(e.to_string()))?;
    let mut line = serde_json::to_string(req).map_err(|e| control(e.to_string()))?;
    line.push('\n');
    (&stream)
        .write_all(line.as_bytes())
        .map_err(|e| control(format!("sending: {e}")))?;
    let mut reply = String::new();
    BufReader::new(&stream)
        .read_line(&mut reply)
        .map_err(|e| control(format!("no reply: {e}")))?;
    match serde_json::from_str::<Reply>(&reply)
        .map_err(|e| control(format!("bad reply {reply:?}: {e}")))?
    {
        Reply::Ok { status } => Ok(*status),
        Reply::Error { message } => Err(control(message)),
    }
}
