//! The server's Ed25519 signing key: signs every block head of the ledger's seal chain and
//! every backup manifest. The secret seed lives in the data directory (hex, mode 0600, made at
//! first start); the public key is published (`GET /api/v1/ledger`, every manifest, every
//! seal) so that anyone can check a signature without trusting the server.

use crate::secrets::keep_private;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use rand::RngCore;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("cannot read or create the signing key file {path}: {source}")]
    KeyFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("signing key file {0} is not 64 hex characters")]
    BadKeyFile(String),
    #[error("{0:?} is not an Ed25519 public key (64 hex characters)")]
    BadPublicKey(String),
    #[error("the signature is not 128 hex characters")]
    BadSignature,
    #[error("the signature does not verify against public key {0}")]
    Mismatch(String),
}

/// The server's signing key. `Debug` never prints the secret.
#[derive(Clone)]
pub struct ServerKey(SigningKey);

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServerKey(public {})", self.public_hex())
    }
}

impl ServerKey {
    /// Loads the key at `path`, or creates it (mode 0600) if the file does not exist.
    /// Returns the key and whether it was just created.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), SigningError> {
        let err = |source| SigningError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bad = || SigningError::BadKeyFile(path.display().to_string());
                let seed: [u8; 32] = hex::decode(text.trim())
                    .map_err(|_| bad())?
                    .try_into()
                    .map_err(|_| bad())?;
                keep_private(path, 0o600, "the signing key file");
                Ok((Self(SigningKey::from_bytes(&seed)), false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(err)?;
                }
                let mut seed = [0u8; 32];
                rand::rng().fill_bytes(&mut seed);
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(err)?;
                f.write_all(hex::encode(seed).as_bytes()).map_err(err)?;
                f.sync_all().map_err(err)?;
                Ok((Self(SigningKey::from_bytes(&seed)), true))
            }
            Err(e) => Err(err(e)),
        }
    }

    /// The public key, hex.
    pub fn public_hex(&self) -> String {
        hex::encode(self.0.verifying_key().as_bytes())
    }

    /// The signature of `message`, hex.
    pub fn sign(&self, message: &[u8]) -> String {
        hex::encode(self.0.sign(message).to_bytes())
    }
}

/// Parses a public key given as 64 hex characters.
pub fn parse_public_key(hex_key: &str) -> Result<VerifyingKey, SigningError> {
    let bad = || SigningError::BadPublicKey(hex_key.to_string());
    let bytes: [u8; 32] = hex::decode(hex_key.trim())
        .map_err(|_| bad())?
        .try_into()
        .map_err(|_| bad())?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| bad())
}

/// Checks that `signature_hex` is `public_key_hex`'s signature of `message`.
pub fn verify(
    public_key_hex: &str,
    message: &[u8],
    signature_hex: &str,
) -> Result<(), SigningError> {
    let key = parse_public_key(public_key_hex)?;
    let sig: [u8; 64] = hex::decode(signature_hex.trim())
        .map_err(|_| SigningError::BadSignature)?
        .try_into()
        .map_err(|_| SigningError::BadSignature)?;
    key.verify(message, &Signature::from_bytes(&sig))
        .map_err(|_| SigningError::Mismatch(public_key_hex.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_key_is_made_once_private_and_signs_what_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signing.key");
        let (key, created) = ServerKey::load_or_create(&path).unwrap();
        assert!(created);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (again, created) = ServerKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(again.public_hex(), key.public_hex());
        assert!(!format!("{key:?}").contains(&std::fs::read_to_string(&path).unwrap()));
        let sig = key.sign(b"block");
        verify(&key.public_hex(), b"block", &sig).unwrap();
        assert!(matches!(
            verify(&key.public_hex(), b"blocK", &sig),
            Err(SigningError::Mismatch(_))
        ));
        let other = ServerKey::load_or_create(&dir.path().join("other.key"))
            .unwrap()
            .0;
        assert!(verify(&other.public_hex(), b"block", &sig).is_err());
        assert!(matches!(
            verify("zz", b"block", &sig),
            Err(SigningError::BadPublicKey(_))
        ));
    }
}
