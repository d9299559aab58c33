//! Making and checking the secrets: argon2id for passwords (slow on purpose, run off the async
//! threads), sha256 for random 256-bit tokens and session ids (nothing to slow down: they
//! cannot be guessed), compared in constant time.

use crate::error::AppError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A fresh random secret: 32 bytes, hex.
pub(super) fn random_secret() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

pub(super) fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks a new password: 8–1024 characters.
pub(super) fn check_password(p: &str) -> Result<(), AppError> {
    let n = p.chars().count();
    if n < 8 {
        return Err(AppError::invalid(
            "password",
            "the password must have at least 8 characters",
        ));
    }
    if n > 1024 {
        return Err(AppError::invalid(
            "password",
            "the password must have at most 1024 characters",
        ));
    }
    Ok(())
}

/// The argon2id PHC string of `password`.
pub(super) async fn hash_password(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| AppError::bug(e.to_string()))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::bug(format!("argon2: {e}")))
    })
    .await
    .map_err(AppError::internal)?
}

/// A hash of a password nobody has: verified against when the user does not exist, so that
/// an unknown username takes as long to refuse as a wrong password.
const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$L3xq0N7bK8mZ2uA0M2v0c5O2lq2X0n5m6m0u2m2q1yE";

/// Whether `password` matches the PHC string `hash` (the decoy when `None`).
pub(super) async fn verify_password(password: String, hash: Option<String>) -> bool {
    let known = hash.is_some();
    let hash = hash.unwrap_or_else(|| DECOY.to_string());
    let ok = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false);
    ok && known
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn argon2id_hashes_verify_and_differ_by_salt() {
        let a = hash_password("correct horse".into()).await.unwrap();
        let b = hash_password("correct horse".into()).await.unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b);
        assert!(verify_password("correct horse".into(), Some(a.clone())).await);
        assert!(!verify_password("wrong horse".into(), Some(a)).await);
        assert!(!verify_password("anything".into(), None).await);
        assert!(check_password("short").is_err());
        // The decoy is a real hash: refusing an unknown user costs a full verification.
        assert!(PasswordHash::new(DECOY).is_ok());
    }
}
