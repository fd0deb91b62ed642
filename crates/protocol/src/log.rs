//! One line of the hub's session log, as `visio-hub sessions` prints it
//! (JSON lines) and `visio-admin stats` reads it. Metadata only: never any
//! content of an interview.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub session: String,
    pub kiosk_id: String,
    pub service: String,
    pub agent: Option<String>,
    pub queued_at: Timestamp,
    pub answered_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    /// One of [`crate::EndReason`]'s names.
    pub end_reason: Option<String>,
    /// "happy", "neutral" or "unhappy".
    pub rating: Option<String>,
    /// The leg this one continues: the session an agent transferred the
    /// resident from (whose `end_reason` is `transferred`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_leg: Option<String>,
}
