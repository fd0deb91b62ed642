//! Resume tokens: `r1.<session>.<secret>`, the secret 256 random bits in
//! base64url. The session id inside lets the hub answer a token for a call
//! that is over with that call's `call_ended`; only the token's SHA-256 is
//! kept, in memory and in the store.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use visio_protocol::{ResumeToken, SessionId};

const VERSION: &str = "r1";

/// The SHA-256 of a resume token.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> Option<TokenHash> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(TokenHash(bytes))
    }

    /// Compared in constant time: a timing difference must not tell how
    /// much of a guessed token was right.
    pub fn matches(&self, other: &TokenHash) -> bool {
        self.0.iter().zip(other.0.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenHash({}…)", &self.to_hex()[..8])
    }
}

/// A fresh token for `session`, and its hash.
pub fn new_token(session: &SessionId) -> (ResumeToken, TokenHash) {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = ResumeToken(format!("{VERSION}.{}.{}", session.as_str(), URL_SAFE_NO_PAD.encode(secret)));
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &ResumeToken) -> TokenHash {
    TokenHash(Sha256::digest(token.expose().as_bytes()).into())
}

/// The session a token names, if it has the shape of one. Says nothing
/// about whether the token is genuine.
pub(super) fn session_of(token: &ResumeToken) -> Option<SessionId> {
    let rest = token.expose().strip_prefix(VERSION)?.strip_prefix('.')?;
    let (session, secret) = rest.rsplit_once('.')?;
    (!session.is_empty() && !secret.is_empty() && session.len() <= 64).then(|| SessionId(session.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_session_and_carries_256_random_bits() {
        let session = SessionId("7f3a9c01-000002".into());
        let (a, hash) = new_token(&session);
        let (b, _) = new_token(&session);
        assert_ne!(a.expose(), b.expose());
        assert_eq!(session_of(&a), Some(session));
        assert_eq!(a.expose().rsplit_once('.').unwrap().1.len(), 43, "32 bytes in base64url");
        assert!(hash.matches(&token_hash(&a)));
        assert!(!hash.matches(&token_hash(&b)));
        assert_eq!(TokenHash::from_hex(&hash.to_hex()), Some(hash));
        assert_eq!(session_of(&ResumeToken("r1.x".into())), None);
        assert_eq!(session_of(&ResumeToken("garbage".into())), None);
    }
}
