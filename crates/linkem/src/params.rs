//! What one direction of a link does to packets, and the named profiles of
//! the links kiosks really have.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::units::{Bitrate, fmt_duration};

/// One end of the link. The kiosk sits on one side, the hub (and TURN
/// server, agent browser) on the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Kiosk,
    Hub,
}

impl Side {
    pub const ALL: [Side; 2] = [Side::Kiosk, Side::Hub];
    pub fn name(self) -> &'static str {
        match self {
            Side::Kiosk => "kiosk",
            Side::Hub => "hub",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Side {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "kiosk" | "k" | "a" => Ok(Side::Kiosk),
            "hub" | "h" | "b" => Ok(Side::Hub),
            _ => Err(Error::Parse {
                what: "side",
                input: s.to_string(),
                expected: "kiosk or hub",
            }),
        }
    }
}

/// A direction of traffic. `Up` is kiosk → hub (the kiosk's upload, the slow
/// one on ADSL), `Down` is hub → kiosk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    pub const BOTH: [Direction; 2] = [Direction::Up, Direction::Down];
    pub fn name(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }
    /// The side packets of this direction come from.
    pub fn from_side(self) -> Side {
        match self {
            Direction::Up => Side::Kiosk,
            Direction::Down => Side::Hub,
        }
    }
    pub(crate) fn index(self) -> usize {
        match self {
            Direction::Up => 0,
            Direction::Down => 1,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How packets get lost.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "model")]
pub enum Loss {
    None,
    /// Each packet lost independently with this probability.
    Random {
        probability: f64,
    },
    /// Gilbert-Elliott two-state model: losses come in bursts. In the good
    /// state a packet is lost with `loss_good`, in the bad state with
    /// `loss_bad`; before each packet the state flips good → bad with
    /// probability `p` and bad → good with `r`.
    GilbertElliott {
        p: f64,
        r: f64,
        loss_good: f64,
        loss_bad: f64,
    },
}

impl Loss {
    /// Independent loss with this probability (0..=1).
    pub fn random(probability: f64) -> Loss {
        if probability <= 0.0 {
            Loss::None
        } else {
            Loss::Random {
                probability: probability.min(1.0),
            }
        }
    }

    /// Bursty loss with the given long-run loss rate and mean burst length
    /// (in packets): the simple Gilbert model, where the bad state loses
    /// every packet and the good state none. A mean burst of 1 or less is
    /// plain random loss.
    pub fn bursty(mean_loss: f64, mean_burst: f64) -> Loss {
        if mean_burst <= 1.0 || mean_loss <= 0.0 || mean_loss >= 1.0 {
            return Loss::random(mean_loss);
        }
        let r = 1.0 / mean_burst;
        Loss::GilbertElliott {
            p: mean_loss * r / (1.0 - mean_loss),
            r,
            loss_good: 0.0,
            loss_bad: 1.0,
        }
    }

    /// The long-run fraction of packets lost.
    pub fn mean(&self) -> f64 {
        match *self {
            Loss::None => 0.0,
            Loss::Random { probability } => probability,
            Loss::GilbertElliott {
                p,
                r,
                loss_good,
                loss_bad,
            } => {
                if p + r == 0.0 {
                    return loss_good;
                }
                let bad = p / (p + r);
                (1.0 - bad) * loss_good + bad * loss_bad
            }
        }
    }

    /// Mean length of a run of consecutive losses, for display. 1 for
    /// random loss.
    pub fn mean_burst(&self) -> f64 {
        match *self {
            Loss::GilbertElliott {
                r,
                loss_good,
                loss_bad,
                ..
            } if loss_good == 0.0 && loss_bad == 1.0 && r > 0.0 => 1.0 / r,
            _ => 1.0,
        }
    }
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loss::None => f.write_str("0 %"),
            Loss::Random { probability } => write!(f, "{} %", pct(*probability)),
            Loss::GilbertElliott { .. } => write!(
                f,
                "{} % in bursts of {:.1}",
                pct(self.mean()),
                self.mean_burst()
            ),
        }
    }
}

fn pct(v: f64) -> String {
    let s = format!("{:.3}", v * 100.0);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The bound of the bottleneck queue, beyond which arriving packets are
/// dropped (tail drop).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueLimit {
    Unlimited,
    /// Bytes waiting (not counting the packet on the wire).
    Bytes(usize),
    /// Queueing delay at the current rate, like a modem's buffer measured in
    /// time.
    Time(Duration),
}

impl fmt::Display for QueueLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueLimit::Unlimited => f.write_str("unlimited"),
            QueueLimit::Bytes(b) => write!(f, "{b} B"),
            QueueLimit::Time(t) => f.write_str(&fmt_duration(*t)),
        }
    }
}

/// Everything one direction of the link does. Packets go through: MTU check
/// → tail-drop queue → serialisation at `rate` → loss → `delay` + jitter.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Bottleneck rate on IP packets; `None` = no limit.
    pub rate: Option<Bitrate>,
    /// One-way propagation delay: the least time any packet takes.
    pub delay: Duration,
    /// Up to this much extra delay, uniform, on top of `delay`. The delay is
    /// a floor, as on a real path, so a 300 ms satellite hop never shows less.
    pub jitter: Duration,
    /// Let jitter reorder packets. Off by default: a packet then waits for
    /// the one ahead of it, as on a single path.
    pub reorder: bool,
    pub loss: Loss,
    pub queue: QueueLimit,
    /// Largest IP packet that passes; bigger ones are dropped. Also the MTU
    /// of the sending side's TUN device.
    pub mtu: usize,
}

impl Params {
    /// A clean link: no limit, no delay, no loss.
    pub const CLEAN: Params = Params {
        rate: None,
        delay: Duration::ZERO,
        jitter: Duration::ZERO,
        reorder: false,
        loss: Loss::None,
        queue: QueueLimit::Unlimited,
        mtu: 1500,
    };

    pub fn rate(mut self, rate: Bitrate) -> Self {
        self.rate = Some(rate);
        self
    }
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
    pub fn jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }
    pub fn loss(mut self, loss: Loss) -> Self {
        self.loss = loss;
        self
    }
    pub fn queue(mut self, queue: QueueLimit) -> Self {
        self.queue = queue;
        self
    }
    pub fn mtu(mut self, mtu: usize) -> Self {
        self.mtu = mtu;
        self
    }
}

impl Default for Params {
    fn default() -> Self {
        Params::CLEAN
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rate {
            Some(r) => write!(f, "rate {r}")?,
            None => f.write_str("rate unlimited")?,
        }
        write!(f, ", delay {}", fmt_duration(self.delay))?;
        if !self.jitter.is_zero() {
            write!(f, " + up to {} jitter", fmt_duration(self.jitter))?;
            if self.reorder {
                f.write_str(" (reordering)")?;
            }
        }
        write!(
            f,
            ", loss {}, queue {}, mtu {}",
            self.loss, self.queue, self.mtu
        )
    }
}

/// Both directions of a link.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkParams {
    /// Kiosk → hub.
    pub up: Params,
    /// Hub → kiosk.
    pub down: Params,
}

impl LinkParams {
    pub fn get(&self, dir: Direction) -> Params {
        match dir {
            Direction::Up => self.up,
            Direction::Down => self.down,
        }
    }
    pub fn get_mut(&mut self, dir: Direction) -> &mut Params {
        match dir {
            Direction::Up => &mut self.up,
            Direction::Down => &mut self.down,
        }
    }
}

/// The links kiosks really have (issue 9; DESIGN.md "Slow links are the
/// normal case"). Rates are IP-level; "up" is kiosk → hub.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// No shaping at all: the forwarder's own overhead only.
    Clean,
    /// 8 Mbit/s down, 1 Mbit/s up, 20 ms one way.
    Adsl,
    /// 2 Mbit/s down, 512 kbit/s up, 30 ms one way, 1 % loss.
    AdslPoor,
    /// 10 Mbit/s down, 2 Mbit/s up, 300 ms one way, 0.5 % loss.
    Satellite,
    /// 8 Mbit/s down, 1 Mbit/s up, 20 ms one way, 3 % loss.
    Lossy,
}

impl Profile {
    pub const ALL: [Profile; 5] = [
        Profile::Clean,
        Profile::Adsl,
        Profile::AdslPoor,
        Profile::Satellite,
        Profile::Lossy,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Profile::Clean => "clean",
            Profile::Adsl => "adsl",
            Profile::AdslPoor => "adsl-poor",
            Profile::Satellite => "satellite",
            Profile::Lossy => "lossy",
        }
    }

    /// Where the numbers come from, for `visio-linkem profiles`.
    pub fn about(self) -> &'static str {
        match self {
            Profile::Clean => "no shaping; measures the emulator's own overhead",
            Profile::Adsl => {
                "the regional minimum of 8 Mbit/s down on ADSL with about 1 Mbit/s up; DSL modems buffer a lot upstream"
            }
            Profile::AdslPoor => "a long rural line: 1 Mbit/s up or less, and some loss",
            Profile::Satellite => {
                "geostationary satellite (about 14 % of rural homes): about 600 ms round trip"
            }
            Profile::Lossy => "ADSL with a bad line or the town hall's Wi-Fi: 3 % loss",
        }
    }

    pub fn params(self) -> LinkParams {
        let ms = Duration::from_millis;
        let shaped = |rate: Bitrate, delay: u64, jitter: u64, loss: f64, queue: u64| {
            Params::CLEAN
                .rate(rate)
                .delay(ms(delay))
                .jitter(ms(jitter))
                .loss(Loss::random(loss))
                .queue(QueueLimit::Time(ms(queue)))
        };
        match self {
            Profile::Clean => LinkParams {
                up: Params::CLEAN,
                down: Params::CLEAN,
            },
            Profile::Adsl => LinkParams {
                up: shaped(Bitrate::mbit(1), 20, 1, 0.0, 500),
                down: shaped(Bitrate::mbit(8), 20, 1, 0.0, 200),
            },
            Profile::AdslPoor => LinkParams {
                up: shaped(Bitrate::kbit(512), 30, 3, 0.01, 800),
                down: shaped(Bitrate::mbit(2), 30, 3, 0.01, 300),
            },
            Profile::Satellite => LinkParams {
                up: shaped(Bitrate::mbit(2), 300, 5, 0.005, 500),
                down: shaped(Bitrate::mbit(10), 300, 5, 0.005, 500),
            },
            Profile::Lossy => LinkParams {
                up: shaped(Bitrate::mbit(1), 20, 2, 0.03, 500),
                down: shaped(Bitrate::mbit(8), 20, 2, 0.03, 200),
            },
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Profile {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let t = s.trim().to_ascii_lowercase().replace('_', "-");
        Profile::ALL
            .into_iter()
            .find(|p| p.name() == t)
            .ok_or_else(|| Error::UnknownProfile {
                name: s.to_string(),
                known: Profile::ALL.map(Profile::name).join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_match_the_issue() {
        let adsl = Profile::Adsl.params();
        assert_eq!(adsl.up.rate, Some(Bitrate::mbit(1)));
        assert_eq!(adsl.down.rate, Some(Bitrate::mbit(8)));
        assert_eq!(adsl.up.delay, Duration::from_millis(20));
        let poor = Profile::AdslPoor.params();
        assert_eq!(poor.up.rate, Some(Bitrate::kbit(512)));
        assert!((poor.down.loss.mean() - 0.01).abs() < 1e-12);
        let sat = Profile::Satellite.params();
        assert_eq!(sat.down.delay + sat.up.delay, Duration::from_millis(600));
        assert!((Profile::Lossy.params().up.loss.mean() - 0.03).abs() < 1e-12);
        assert_eq!("adsl-poor".parse::<Profile>().unwrap(), Profile::AdslPoor);
        let err = "dsl".parse::<Profile>().unwrap_err().to_string();
        assert!(err.contains("satellite"), "{err}");
    }

    #[test]
    fn bursty_loss_keeps_the_mean() {
        let l = Loss::bursty(0.05, 4.0);
        assert!((l.mean() - 0.05).abs() < 1e-12);
        assert!((l.mean_burst() - 4.0).abs() < 1e-12);
        assert_eq!(Loss::bursty(0.05, 1.0), Loss::random(0.05));
    }
}
