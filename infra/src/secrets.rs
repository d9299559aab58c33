//! Envelope encryption of secrets: one AES-256-GCM data key per database, wrapped by the
//! master key. Removing a database deletes its wrapped key: its secrets are shredded while the
//! ledger, which only ever holds ciphertext, stays intact.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use backline_domain::SealedSecret;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rand::RngCore;
use sqlx::{AnyPool, Row};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read or create the master key file {path}: {source}")]
    KeyFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("master key file {0} is not 64 hex characters")]
    BadKeyFile(String),
    #[error("the data key of database {0} is gone (the database was removed): its secrets cannot be opened")]
    Shredded(String),
    #[error("a secret of database {0} does not decrypt with the master key (wrong BACKLINE_MASTER_KEY_FILE?)")]
    Decrypt(String),
    #[error("key store query failed: {0}")]
    Query(#[from] sqlx::Error),
}

/// Takes group and other permissions away from `path` (giving it `mode`: 0o600 for a file,
/// 0o700 for a directory) when it has any. Returns the mode it had when it was changed.
pub fn make_private(path: &Path, mode: u32) -> std::io::Result<Option<u32>> {
    let had = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if had & 0o077 == 0 {
        return Ok(None);
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(Some(had))
}

/// `make_private`, checked at every start: a key file or data directory that others can read
/// is fixed, with a warning saying so (or saying what to do when it cannot be changed, e.g.
/// on a read-only mount). A missing file is left to its owner.
pub fn keep_private(path: &Path, mode: u32, what: &str) {
    match make_private(path, mode) {
        Ok(None) => {}
        Ok(Some(had)) => tracing::warn!(
            path = %path.display(),
            was = format!("{had:o}"),
            now = format!("{mode:o}"),
            "{what} was readable by group or others: its mode is now {mode:o}"
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(
            path = %path.display(),
            error = %e,
            "{what} may be readable by group or others and its mode cannot be changed: chmod {mode:o} it"
        ),
    }
}

/// The 256-bit master key, read from (or created in) a 0600 file.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

impl MasterKey {
    /// Loads the key at `path`, or creates it (mode 0600) if the file does not exist.
    /// Returns the key and whether it was just created.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), SecretError> {
        let err = |source| SecretError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes = hex::decode(text.trim())
                    .map_err(|_| SecretError::BadKeyFile(path.display().to_string()))?;
                let key: [u8; 32] = bytes
                    .try_into()
                    .map_err(|_| SecretError::BadKeyFile(path.display().to_string()))?;
                keep_private(path, 0o600, "the master key file");
                Ok((Self(key), false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(err)?;
                }
                let mut key = [0u8; 32];
                rand::rng().fill_bytes(&mut key);
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(err)?;
                f.write_all(hex::encode(key).as_bytes()).map_err(err)?;
                f.sync_all().map_err(err)?;
                Ok((Self(key), true))
            }
            Err(e) => Err(err(e)),
        }
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.0.into())
    }
}

fn nonce() -> [u8; 12] {
    let mut n = [0u8; 12];
    rand::rng().fill_bytes(&mut n);
    n
}

fn seal_with(cipher: &Aes256Gcm, aad: &str, msg: &[u8]) -> ([u8; 12], Vec<u8>) {
    let n = nonce();
    // Encryption with a valid key and nonce size cannot fail for in-memory payloads.
    let ct = cipher
        .encrypt(
            &Nonce::from(n),
            Payload {
                msg,
                aad: aad.as_bytes(),
            },
        )
        .unwrap_or_default();
    (n, ct)
}

fn open_with(cipher: &Aes256Gcm, aad: &str, nonce: &[u8], ct: &[u8]) -> Option<Vec<u8>> {
    let n: [u8; 12] = nonce.try_into().ok()?;
    cipher
        .decrypt(
            &Nonce::from(n),
            Payload {
                msg: ct,
                aad: aad.as_bytes(),
            },
        )
        .ok()
}

/// Seals and opens secrets of registered databases.
#[derive(Clone)]
pub struct Keyring {
    master: MasterKey,
    pool: AnyPool,
}

impl Keyring {
    pub fn new(master: MasterKey, pool: AnyPool) -> Self {
        Self { master, pool }
    }

    async fn data_key(&self, database_id: &str, create: bool) -> Result<Aes256Gcm, SecretError> {
        let row = sqlx::query("SELECT nonce, wrapped FROM data_keys WHERE database_id = $1")
            .bind(database_id)
            .fetch_optional(&self.pool)
            .await?;
        let aad = format!("data-key:{database_id}");
        if let Some(row) = row {
            let n: String = row.try_get("nonce")?;
            let w: String = row.try_get("wrapped")?;
            let (n, w) = match (B64.decode(n), B64.decode(w)) {
                (Ok(n), Ok(w)) => (n, w),
                _ => return Err(SecretError::Decrypt(database_id.to_string())),
            };
            let key = open_with(&self.master.cipher(), &aad, &n, &w)
                .ok_or_else(|| SecretError::Decrypt(database_id.to_string()))?;
            return Aes256Gcm::new_from_slice(&key)
                .map_err(|_| SecretError::Decrypt(database_id.to_string()));
        }
        if !create {
            return Err(SecretError::Shredded(database_id.to_string()));
        }
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        let (n, w) = seal_with(&self.master.cipher(), &aad, &key);
        sqlx::query(
            "INSERT INTO data_keys (database_id, nonce, wrapped) VALUES ($1, $2, $3) \
             ON CONFLICT (database_id) DO NOTHING",
        )
        .bind(database_id)
        .bind(B64.encode(n))
        .bind(B64.encode(w))
        .execute(&self.pool)
        .await?;
        // Another process may have won the race: read back whichever key is stored.
        Box::pin(self.data_key(database_id, false)).await
    }

    /// Encrypts `secret` with the data key of `database_id` (made on first use).
    pub async fn seal(&self, database_id: &str, secret: &str) -> Result<SealedSecret, SecretError> {
        let cipher = self.data_key(database_id, true).await?;
        let (n, ct) = seal_with(&cipher, database_id, secret.as_bytes());
        Ok(SealedSecret {
            nonce: B64.encode(n),
            ciphertext: B64.encode(ct),
        })
    }

    pub async fn open(
        &self,
        database_id: &str,
        sealed: &SealedSecret,
    ) -> Result<String, SecretError> {
        let cipher = self.data_key(database_id, false).await?;
        let bad = || SecretError::Decrypt(database_id.to_string());
        let n = B64.decode(&sealed.nonce).map_err(|_| bad())?;
        let ct = B64.decode(&sealed.ciphertext).map_err(|_| bad())?;
        let pt = open_with(&cipher, database_id, &n, &ct).ok_or_else(bad)?;
        String::from_utf8(pt).map_err(|_| bad())
    }

    /// Crypto-shreds the secrets of `database_id`.
    pub async fn destroy(&self, database_id: &str) -> Result<(), SecretError> {
        sqlx::query("DELETE FROM data_keys WHERE database_id = $1")
            .bind(database_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod permission_tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn readable_key_files_are_made_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        MasterKey::load_or_create(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        MasterKey::load_or_create(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(make_private(&path, 0o600).unwrap(), None);
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(make_private(dir.path(), 0o700).unwrap(), Some(0o755));
        assert_eq!(mode(dir.path()), 0o700);
        // Nothing to do for a file that is not there.
        keep_private(&dir.path().join("absent"), 0o600, "nothing");
    }
}
