//! Short-lived TURN credentials, the "TURN REST" scheme coturn implements
//! with `--use-auth-secret`: the hub and coturn share a secret; the hub
//! gives each peer the user name `<expiry unix time>:<who>` and the
//! password `base64(HMAC-SHA1(secret, user name))`; coturn recomputes the
//! password and refuses a user name whose time has passed. No TURN
//! password is stored or configured anywhere but that one secret.

use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};
use ring::hmac;
use visio_protocol::{IceServer, Secret};

/// How long credentials stay valid by default: longer than any interview,
/// since coturn also checks them when the allocation is refreshed during
/// the call (a fresh set comes with every `call_resumed`).
pub const DEFAULT_TTL: SignedDuration = SignedDuration::from_hours(4);

/// The TURN servers sharing a secret with this hub.
#[derive(Clone)]
pub struct TurnRest {
    /// `turn:`/`turns:` URLs of the servers (one coturn, or several behind
    /// the same secret).
    pub urls: Vec<String>,
    pub secret: Secret,
    pub ttl: SignedDuration,
}

impl std::fmt::Debug for TurnRest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnRest").field("urls", &self.urls).field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

impl TurnRest {
    /// Credentials for `who` (a kiosk id or an agent login, for coturn's
    /// logs), valid from `now` for the configured time.
    pub fn credentials(&self, now: Timestamp, who: &str) -> IceServer {
        let expiry = now.as_second().saturating_add(self.ttl.as_secs());
        // coturn splits the user name at the first ':'; keep `who` plain.
        let who: String = who.chars().map(|c| if c == ':' { '_' } else { c }).collect();
        let username = format!("{expiry}:{who}");
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, self.secret.expose().as_bytes());
        let tag = hmac::sign(&key, username.as_bytes());
        let credential = base64::engine::general_purpose::STANDARD.encode(tag.as_ref());
        IceServer { urls: self.urls.clone(), username: Some(username), credential: Some(credential) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_follow_the_turn_rest_scheme() {
        let turn = TurnRest {
            urls: vec!["turn:turn.example:3478?transport=udp".into()],
            secret: Secret("north".into()),
            ttl: SignedDuration::from_hours(1),
        };
        let now = Timestamp::from_second(1_767_225_600).unwrap();
        let server = turn.credentials(now, "besse:mairie");
        assert_eq!(server.urls, turn.urls);
        assert_eq!(server.username.as_deref(), Some("1767229200:besse_mairie"));
        // python3 -c 'import hmac,hashlib,base64;print(base64.b64encode(hmac.new(b"north",b"1767229200:besse_mairie",hashlib.sha1).digest()).decode())'
        assert_eq!(server.credential.as_deref(), Some("jY/b8LN7Yd+9FnySXvizGGcTmck="));
    }

    #[test]
    fn the_secret_never_shows_in_logs() {
        let turn = TurnRest { urls: vec![], secret: Secret("north".into()), ttl: DEFAULT_TTL };
        assert!(!format!("{turn:?}").contains("north"));
    }
}
