//! Secrets both stores keep only hashes of: random tokens (SHA-256) and
//! agent passwords (Argon2id).

use std::sync::{Mutex, OnceLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use visio_protocol::Secret;

use super::StoreError;

/// 256 random bits, URL-safe: kiosk secrets, session cookies, admin tokens.
pub(super) fn random_token() -> Secret {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    Secret(URL_SAFE_NO_PAD.encode(bytes))
}

pub(super) fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Argon2id with the crate's defaults (19 MiB, 2 passes): OWASP's minimum.
pub(super) fn hash_password(password: &Secret) -> Result<String, StoreError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Hash(e.to_string()))
}

/// Argon2's working memory (19 MiB a check), kept for the next check.
/// Freed, glibc's malloc keeps such a block in the arena of the thread
/// that used it, so every blocking thread that once checked a password
/// held its own: 9–16 MiB of hub per agent signed in, in the load figures.
/// Kept here there are as many as checks ever ran at once (one per core,
/// `Backend::verify_agent`).
static ARGON2_MEMORY: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());

pub(super) fn verify_password(password: &Secret, hash: &str) -> bool {
    let pool = || ARGON2_MEMORY.lock().unwrap_or_else(|e| e.into_inner());
    let mut memory = pool().pop().unwrap_or_default();
    let ok = verify_with_memory(password, hash, &mut memory).unwrap_or(false);
    // What the check left there derives from the password.
    memory.fill(Block::new());
    pool().push(memory);
    ok
}

/// What `Argon2::verify_password` does, in `memory`; `None` when the
/// stored hash cannot be read.
fn verify_with_memory(password: &Secret, hash: &str, memory: &mut Vec<Block>) -> Option<bool> {
    let parsed = PasswordHash::new(hash).ok()?;
    let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
    let version = parsed.version.map(Version::try_from).transpose().ok()?.unwrap_or_default();
    let params = Params::try_from(&parsed).ok()?;
    let expected = parsed.hash?;
    let mut salt = [0u8; 64];
    let salt = parsed.salt?.decode_b64(&mut salt).ok()?;
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::new());
    }
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.expose().as_bytes(), salt, &mut out, &mut memory[..])
        .ok()?;
    Some(constant_time_eq(&out, expected.as_bytes()))
}

pub(super) fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password(&random_token()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_checked_as_argon2_does_in_memory_kept_for_the_next_check() {
        use argon2::PasswordVerifier;
        let hash = hash_password(&Secret("right".into())).unwrap();
        let parsed = PasswordHash::new(&hash).unwrap();
        for (password, expected) in [("right", true), ("wrong", false), ("", false), ("right ", false)] {
            assert_eq!(verify_password(&Secret(password.into()), &hash), expected, "{password:?}");
            assert_eq!(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(), expected);
        }
        // Another hash's parameters (m=8 MiB, t=1) are read from the hash.
        let other = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8192, 1, 1, None).unwrap())
            .hash_password(b"right", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        assert!(verify_password(&Secret("right".into()), &other));
        assert!(!verify_password(&Secret("wrong".into()), &other));
        // A stored hash that cannot be read never matches.
        assert!(!verify_password(&Secret("right".into()), "$argon2id$v=19$garbage"));
        // Checks one after the other reuse one working memory, wiped.
        let pool = ARGON2_MEMORY.lock().unwrap();
        assert!(pool.iter().all(|m| m.len() >= Params::DEFAULT.block_count()));
        assert!(pool.iter().all(|m| m.iter().all(|b| b.as_ref().iter().all(|w| *w == 0))));
    }
}
