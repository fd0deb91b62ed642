//! The supervisor's board (`/supervision/`): each service's line, each
//! signed-in agent's state, and today's calls and ratings, pushed live over
//! `/ws/supervisor`. Nothing of a resident: counts and times only.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::ids::{AgentLogin, ServiceId};
use crate::messages::ErrorBody;

/// What the supervision page sends: its hello, nothing else. The
/// supervisor is authenticated by the admin console's session cookie of
/// the WebSocket upgrade (role `supervisor` or `admin`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SupervisorToHub {
    Hello { protocol: u32 },
}

/// What the hub sends to the supervision page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HubToSupervisor {
    Welcome { protocol: u32, login: String, display_name: String },
    /// Everything live, after the welcome; `now` is the hub's clock, for
    /// the page to count waits from `oldest_queued_at`.
    Board { now: Timestamp, services: Vec<ServiceLine>, agents: Vec<BoardAgent> },
    /// One service's line changed.
    Line { line: ServiceLine },
    /// One agent signed in or changed state.
    Agent { agent: BoardAgent },
    /// The agent signed out (their last console closed).
    AgentGone { login: AgentLogin },
    /// Today's figures from the session log, after each visit's change.
    Today { today: DayFigures },
    Error(ErrorBody),
}

/// A service's line now, on every hub process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceLine {
    pub service: ServiceId,
    /// The catalogue's short name.
    pub name: String,
    pub waiting: u32,
    /// When the longest-waiting resident queued; absent when nobody waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_queued_at: Option<Timestamp>,
}

/// A signed-in agent as the supervisor sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardAgent {
    pub login: AgentLogin,
    pub display_name: String,
    pub services: Vec<ServiceId>,
    pub state: AgentState,
    /// The call's service, in a call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceId>,
    /// Since when the agent is in this state.
    pub since: Timestamp,
    /// When this entry last changed (the newest wins across hub processes).
    pub updated: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    /// Ready to take the next resident.
    Available,
    InCall,
    /// Signed in, not taking residents.
    Away,
}

/// One day's figures, in the region's time zone: the same computation as
/// the usage report (`visio-admin stats`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayFigures {
    pub date: Date,
    pub services: Vec<ServiceDay>,
    pub agents: Vec<AgentDay>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceDay {
    pub service: ServiceId,
    /// Calls an agent answered.
    pub answered: u32,
    /// Residents whose wait ended before an agent answered.
    pub abandoned: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_wait_seconds: Option<f64>,
    pub happy: u32,
    pub neutral: u32,
    pub unhappy: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentDay {
    pub login: AgentLogin,
    /// Calls answered today.
    pub calls: u32,
}
