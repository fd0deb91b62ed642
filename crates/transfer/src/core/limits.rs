//! What a deployment may tune ([`Limits`], checked by [`Limits::validate`])
//! and the pacing arithmetic that follows from a send rate.

use std::time::Duration;

use crate::wire::CHUNK_DATA_LEN;

/// Limits and timers, from configuration (JSON: every field optional, see
/// `Default`; durations in seconds).
///
/// ```
/// let l: visio_transfer::Limits = serde_json::from_str(
///     r#"{"max_file_bytes": 10000000, "max_pages": 20, "stall_timeout_secs": 30}"#).unwrap();
/// l.validate().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest file accepted, in bytes (at most `u32::MAX`: offsets are 32-bit).
    pub max_file_bytes: u64,
    /// Most PDF pages accepted.
    pub max_pages: u32,
    /// Incoming transfers in progress at once.
    pub max_concurrent_incoming: usize,
    /// Accepted scan resolutions, `[lowest, highest]`.
    pub dpi_range: (u32, u32),
    /// Unacknowledged bytes a sender may have in flight (bounds channel memory).
    pub window_bytes: u64,
    /// The receiver acknowledges after this many new bytes.
    pub ack_every: u64,
    /// A transfer with no progress for this long while the link is up fails.
    #[serde(rename = "stall_timeout_secs", with = "secs")]
    pub stall_timeout: Duration,
    /// A transfer waits this long for the link to come back before failing.
    #[serde(rename = "resume_window_secs", with = "secs")]
    pub resume_window: Duration,
    /// Pace chunks at this many bytes per second (`None`: as fast as the
    /// channel takes them). Keeps room for the call's audio and video on a
    /// slow uplink; the app can change it live with `set_send_rate`.
    pub send_rate: Option<u64>,
}

/// A paced transfer sends chunks of about this much time at its rate: a
/// 16 KiB message leaves SCTP as one burst of fourteen packets, which on a
/// 512 kbit/s ADSL uplink is a 250 ms queue in the modem. The call's
/// estimator reads that queue as congestion and backs off, the room for
/// documents shrinks, and the next burst is the same size: on `adsl-poor`
/// a 5 MB scan took over 400 s that way (docs/decisions.md #75). Chunks of
/// ~10 ms at the rate keep the modem's queue short.
pub const PACE_QUANTUM: Duration = Duration::from_millis(10);
/// Paced chunks are never smaller than this (a chunk fits one SCTP packet;
/// smaller only adds per-message work).
pub const MIN_PACED_CHUNK: usize = 1024;
/// Tokens a paced sender may save up while idle: bursts stay a few tens of
/// milliseconds at the rate, with slack for late timer wake-ups.
pub const PACE_BURST: Duration = Duration::from_millis(40);

/// The data length of the next chunk: whole ones when unpaced, about
/// [`PACE_QUANTUM`] at the rate when paced.
pub fn paced_chunk_len(rate: Option<u64>) -> usize {
    match rate {
        None => CHUNK_DATA_LEN,
        Some(bytes_per_sec) => {
            let quantum = (bytes_per_sec as f64 * PACE_QUANTUM.as_secs_f64()) as usize;
            quantum.clamp(MIN_PACED_CHUNK, CHUNK_DATA_LEN)
        }
    }
}

/// A configured limit that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("transfer limits: {field} {problem}")]
pub struct LimitsError {
    /// The field.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl Limits {
    /// Checks that the limits can work together.
    pub fn validate(&self) -> Result<(), LimitsError> {
        let err = |field, problem: String| Err(LimitsError { field, problem });
        if self.max_file_bytes == 0 || self.max_file_bytes > u64::from(u32::MAX) {
            return err("max_file_bytes", format!("is {}; it must be between 1 and {}", self.max_file_bytes, u32::MAX));
        }
        if self.max_pages == 0 {
            return err("max_pages", "must be at least 1".into());
        }
        if self.max_concurrent_incoming == 0 {
            return err("max_concurrent_incoming", "must be at least 1".into());
        }
        if self.dpi_range.0 == 0 || self.dpi_range.0 > self.dpi_range.1 {
            return err("dpi_range", format!("{:?} must be [lowest, highest] with lowest ≥ 1", self.dpi_range));
        }
        if self.window_bytes < CHUNK_DATA_LEN as u64 {
            return err("window_bytes", format!("is {}; it must hold at least one chunk ({CHUNK_DATA_LEN} bytes)", self.window_bytes));
        }
        if self.ack_every == 0 || self.ack_every > self.window_bytes / 2 {
            return err("ack_every", format!("is {}; it must be between 1 and half the window ({})", self.ack_every, self.window_bytes / 2));
        }
        if self.send_rate == Some(0) {
            return err("send_rate", "must be at least 1 byte per second, or absent".into());
        }
        if self.stall_timeout.is_zero() || self.resume_window.is_zero() {
            return err("stall_timeout_secs/resume_window_secs", "must be at least 1 second".into());
        }
        Ok(())
    }
}

mod secs {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        <u64 as serde::Deserialize>::deserialize(d).map(Duration::from_secs)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 20 * 1024 * 1024,
            max_pages: 50,
            max_concurrent_incoming: 4,
            dpi_range: (75, 600),
            window_bytes: 256 * 1024,
            ack_every: 64 * 1024,
            stall_timeout: Duration::from_secs(60),
            resume_window: Duration::from_secs(300),
            send_rate: None,
        }
    }
}
