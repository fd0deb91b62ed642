//! Identifiers that travel on the wire, as newtypes so that a kiosk id can
//! never be passed where a service id is expected.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn new(s: impl Into<String>) -> Self {
                Self(s.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }
    };
}

string_id!(
    /// A public service of the catalogue, e.g. `caf`, `msa`.
    ServiceId
);
string_id!(
    /// A kiosk of the fleet, e.g. `besse-mairie`.
    KioskId
);
string_id!(
    /// An agent's login.
    AgentLogin
);
string_id!(
    /// One resident's visit: from the call request, through the queue and
    /// the call, to its end. The session log is keyed by it.
    SessionId
);

/// A credential. Its `Debug` never shows the value, so it cannot leak into
/// logs by accident.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Lets a kiosk or an agent page re-attach to its call after losing the
/// hub (a cut, a hub restart, a page reload) instead of queueing again.
/// Issued with the call; opaque to clients; redacted in logs like a
/// [`Secret`], since it stands for the call.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResumeToken(pub String);

impl ResumeToken {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ResumeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResumeToken([redacted])")
    }
}

/// The secret of an invitation link (`/guest/#<token>`): single use,
/// expiring, good for one call. Its middle names the hub process that
/// minted it, so that another process can pass the guest on to it.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GuestToken(pub String);

impl GuestToken {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for GuestToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GuestToken([redacted])")
    }
}

/// Whom the agent invites: told to the guest and shown on the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuestRole {
    /// A spoken-language interpreter.
    Interpreter,
    /// A sign-language interpreter (LSF): their picture matters as much
    /// as their voice.
    SignInterpreter,
    /// A colleague, of this service or another.
    Agent,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret("hunter2".into());
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert!(!format!("{:?}", Some(&s)).contains("hunter2"));
    }
}
