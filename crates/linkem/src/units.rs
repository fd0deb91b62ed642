//! Units a person types: rates (`8mbit`, `512k`), times (`20ms`, `10s`),
//! percentages (`1%`) and sizes (`64k`). Parsing errors say what was
//! expected, so a typo on the command line is obvious.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A link rate in bits per second, counted on whole IP packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Bitrate(u64);

impl Bitrate {
    /// `bps` bits per second; zero is refused by the parsers (use `None` for
    /// an unlimited link), so this clamps it to one.
    pub const fn bps(bps: u64) -> Self {
        Bitrate(if bps == 0 { 1 } else { bps })
    }
    pub const fn kbit(k: u64) -> Self {
        Bitrate::bps(k * 1_000)
    }
    pub const fn mbit(m: u64) -> Self {
        Bitrate::bps(m * 1_000_000)
    }
    pub const fn as_bps(self) -> u64 {
        self.0
    }

    /// Time to serialise `bytes` onto the wire at this rate.
    pub fn transmit_time(self, bytes: usize) -> Duration {
        let nanos = (bytes as u128 * 8 * 1_000_000_000) / u128::from(self.0);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// Bytes that fit in `time` at this rate (rounded down).
    pub fn bytes_in(self, time: Duration) -> u64 {
        let bytes = time.as_nanos() * u128::from(self.0) / 8 / 1_000_000_000;
        u64::try_from(bytes).unwrap_or(u64::MAX)
    }
}

impl fmt::Display for Bitrate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        if b >= 1_000_000 && b.is_multiple_of(1_000) {
            write!(f, "{} Mbit/s", trim(b as f64 / 1e6))
        } else if b >= 1_000 {
            write!(f, "{} kbit/s", trim(b as f64 / 1e3))
        } else {
            write!(f, "{b} bit/s")
        }
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl FromStr for Bitrate {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match parse_rate(s)? {
            Some(r) => Ok(r),
            None => Err(bad(
                "rate",
                s,
                "a non-zero rate such as 8mbit, 512k or 2000000",
            )),
        }
    }
}

fn bad(what: &'static str, input: &str, expected: &'static str) -> Error {
    Error::Parse {
        what,
        input: input.to_string(),
        expected,
    }
}

/// Splits `12.5ms` into (12.5, "ms").
fn split_number(s: &str) -> Option<(f64, String)> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let value: f64 = s[..end].parse().ok()?;
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    Some((value, s[end..].trim().to_ascii_lowercase()))
}

/// A rate: `8mbit`, `8M`, `8mbps`, `512k`, `512kbit`, `2000000`. `0`, `none`
/// or `unlimited` give `None` (no rate limit).
pub fn parse_rate(s: &str) -> Result<Option<Bitrate>, Error> {
    const EXPECTED: &str = "a rate such as 8mbit, 512k, 2000000, or 0/unlimited";
    let t = s.trim().to_ascii_lowercase();
    if matches!(t.as_str(), "none" | "unlimited" | "off") {
        return Ok(None);
    }
    let (value, unit) = split_number(&t).ok_or_else(|| bad("rate", s, EXPECTED))?;
    let unit = unit
        .trim_end_matches("/s")
        .trim_end_matches("ps")
        .trim_end_matches("bit")
        .trim_end_matches("b");
    let mult = match unit {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        _ => return Err(bad("rate", s, EXPECTED)),
    };
    let bps = (value * mult).round();
    if bps == 0.0 {
        return Ok(None);
    }
    Ok(Some(Bitrate::bps(bps as u64)))
}

/// A time: `20ms`, `0.3s`, `500us`, `2m`; a bare number means milliseconds
/// (as `ping` and `tc` print them).
pub fn parse_duration(s: &str) -> Result<Duration, Error> {
    const EXPECTED: &str = "a time such as 20ms, 0.3s, 500us or 10s";
    let (value, unit) = split_number(s).ok_or_else(|| bad("time", s, EXPECTED))?;
    let secs = match unit.as_str() {
        "" | "ms" => value / 1e3,
        "us" | "µs" => value / 1e6,
        "s" | "sec" => value,
        "m" | "min" => value * 60.0,
        _ => return Err(bad("time", s, EXPECTED)),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| bad("time", s, EXPECTED))
}

/// A probability: `1%`, or a bare number meaning percent (`3` = 3 %).
pub fn parse_percent(s: &str) -> Result<f64, Error> {
    const EXPECTED: &str = "a percentage from 0 to 100, such as 1% or 0.5";
    let (value, unit) = split_number(s).ok_or_else(|| bad("percentage", s, EXPECTED))?;
    if !(unit.is_empty() || unit == "%") || value > 100.0 {
        return Err(bad("percentage", s, EXPECTED));
    }
    Ok(value / 100.0)
}

/// A size in bytes: `1500`, `64k` (×1024), `1m` (×1024²).
pub fn parse_size(s: &str) -> Result<usize, Error> {
    const EXPECTED: &str = "a size in bytes such as 1500, 64k or 1m";
    let (value, unit) = split_number(s).ok_or_else(|| bad("size", s, EXPECTED))?;
    let mult = match unit.trim_end_matches('b').trim_end_matches('i') {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        _ => return Err(bad("size", s, EXPECTED)),
    };
    Ok((value * mult).round() as usize)
}

/// Formats a duration the way people read link figures: `20 ms`, `1.5 s`.
pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms >= 10_000.0 {
        format!("{} s", trim(ms / 1e3))
    } else if ms >= 1.0 || ms == 0.0 {
        format!("{} ms", trim(ms))
    } else {
        format!("{} us", trim(ms * 1e3))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_in_the_usual_spellings() {
        for (s, bps) in [
            ("8mbit", 8_000_000),
            ("8M", 8_000_000),
            ("8 Mbit/s", 8_000_000),
            ("512k", 512_000),
            ("512kbit", 512_000),
            ("512kbps", 512_000),
            ("2000000", 2_000_000),
            ("1.5m", 1_500_000),
        ] {
            assert_eq!(parse_rate(s).unwrap(), Some(Bitrate::bps(bps)), "{s}");
        }
        assert_eq!(parse_rate("0").unwrap(), None);
        assert_eq!(parse_rate("unlimited").unwrap(), None);
        let err = parse_rate("8x").unwrap_err().to_string();
        assert!(err.contains("8x") && err.contains("512k"), "{err}");
    }

    #[test]
    fn times_percentages_and_sizes_parse() {
        assert_eq!(parse_duration("20ms").unwrap(), Duration::from_millis(20));
        assert_eq!(parse_duration("20").unwrap(), Duration::from_millis(20));
        assert_eq!(parse_duration("0.3s").unwrap(), Duration::from_millis(300));
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500us").unwrap(), Duration::from_micros(500));
        assert!(parse_duration("soon").is_err());
        assert!((parse_percent("1%").unwrap() - 0.01).abs() < 1e-12);
        assert!((parse_percent("0.5").unwrap() - 0.005).abs() < 1e-12);
        assert!(parse_percent("150%").is_err());
        assert_eq!(parse_size("64k").unwrap(), 65_536);
        assert_eq!(parse_size("1500").unwrap(), 1500);
    }

    #[test]
    fn transmit_time_is_size_over_rate() {
        // 1500 bytes at 1 Mbit/s: 12 ms on the wire.
        assert_eq!(
            Bitrate::mbit(1).transmit_time(1500),
            Duration::from_millis(12)
        );
        assert_eq!(Bitrate::kbit(512).bytes_in(Duration::from_secs(1)), 64_000);
        assert_eq!(Bitrate::mbit(8).to_string(), "8 Mbit/s");
        assert_eq!(Bitrate::kbit(512).to_string(), "512 kbit/s");
    }
}
