//! age encryption of artifacts: to the server's own X25519 identity (so Backline can restore)
//! and to extra public recipients from configuration (so a backup can be opened with the
//! standard `age` CLI when Backline itself is gone).

pub use age;
use age::secrecy::ExposeSecret;
use age::x25519;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
pub enum EncryptionError {
    #[error("cannot read or create the age identity file {path}: {source}")]
    IdentityFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the age identity file {0} holds no AGE-SECRET-KEY-1… line")]
    BadIdentityFile(String),
    #[error("{0:?} is not an age X25519 recipient (age1…); check BACKLINE_AGE_RECIPIENTS")]
    BadRecipient(String),
}

/// The server's identity and every recipient new artifacts are encrypted to.
#[derive(Clone)]
pub struct AgeKeys {
    identity: x25519::Identity,
    extra: Vec<x25519::Recipient>,
}

impl std::fmt::Debug for AgeKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgeKeys")
            .field("server", &self.identity.to_public().to_string())
            .field("extra", &self.extra_recipients())
            .finish()
    }
}

impl AgeKeys {
    /// Loads the identity at `path`, or creates it (mode 0600, in `age-keygen`'s format so the
    /// `age` CLI reads it with `-i`). Returns the keys and whether the identity was just made.
    pub fn load_or_create(
        path: &Path,
        extra_recipients: &[String],
    ) -> Result<(Self, bool), EncryptionError> {
        let err = |source| EncryptionError::IdentityFile {
            path: path.display().to_string(),
            source,
        };
        let (identity, created) = match std::fs::read_to_string(path) {
            Ok(text) => {
                let line = text
                    .lines()
                    .map(str::trim)
                    .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
                    .ok_or_else(|| EncryptionError::BadIdentityFile(path.display().to_string()))?;
                let identity = x25519::Identity::from_str(line)
                    .map_err(|_| EncryptionError::BadIdentityFile(path.display().to_string()))?;
                crate::secrets::keep_private(path, 0o600, "the age identity file");
                (identity, false)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(err)?;
                }
                let identity = x25519::Identity::generate();
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(err)?;
                write!(
                    f,
                    "# created: {}\n# public key: {}\n{}\n",
                    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    identity.to_public(),
                    identity.to_string().expose_secret()
                )
                .map_err(err)?;
                f.sync_all().map_err(err)?;
                (identity, true)
            }
            Err(e) => return Err(err(e)),
        };
        let extra = parse_recipients(extra_recipients)?;
        Ok((Self { identity, extra }, created))
    }

    /// The server's own public key (`age1…`).
    pub fn server_recipient(&self) -> String {
        self.identity.to_public().to_string()
    }

    pub fn extra_recipients(&self) -> Vec<String> {
        self.extra.iter().map(|r| r.to_string()).collect()
    }

    /// Every recipient of new artifacts: the server first, then the extra ones.
    pub fn recipients(&self) -> Vec<String> {
        let mut out = vec![self.server_recipient()];
        out.extend(self.extra_recipients());
        out
    }

    /// A fresh encryptor (a new file key) for one artifact.
    pub fn encryptor(&self) -> age::Encryptor {
        let server = self.identity.to_public();
        let all: Vec<&dyn age::Recipient> = std::iter::once(&server as &dyn age::Recipient)
            .chain(self.extra.iter().map(|r| r as &dyn age::Recipient))
            .collect();
        // X25519 recipients share one label set and there is at least one: this cannot fail.
        age::Encryptor::with_recipients(all.into_iter())
            .expect("X25519 recipients are always compatible")
    }

    pub fn identity(&self) -> &x25519::Identity {
        &self.identity
    }
}

/// Parses `age1…` recipients, given one per item or several separated by commas/whitespace.
pub fn parse_recipients(items: &[String]) -> Result<Vec<x25519::Recipient>, EncryptionError> {
    items
        .iter()
        .flat_map(|s| s.split(|c: char| c == ',' || c.is_whitespace()))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            x25519::Recipient::from_str(s).map_err(|_| EncryptionError::BadRecipient(s.into()))
        })
        .collect()
}

/// Whether `bytes` start like an age file (the stored object of an encrypted backup).
pub fn looks_encrypted(bytes: &[u8]) -> bool {
    bytes.starts_with(b"age-encryption.org/v1\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn identity_is_made_once_0600_and_encrypts_to_every_recipient() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("age.key");
        let other = x25519::Identity::generate();
        let extra = vec![format!("{}", other.to_public())];
        let (keys, created) = AgeKeys::load_or_create(&path, &extra).unwrap();
        assert!(created);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (again, created) = AgeKeys::load_or_create(&path, &extra).unwrap();
        assert!(!created);
        assert_eq!(again.server_recipient(), keys.server_recipient());
        assert_eq!(keys.recipients().len(), 2);

        let mut out = keys.encryptor().wrap_output(Vec::new()).unwrap();
        out.write_all(b"hello").unwrap();
        let ct = out.finish().unwrap();
        assert!(looks_encrypted(&ct));
        for id in [keys.identity(), &other] {
            let d = age::Decryptor::new(&ct[..]).unwrap();
            let mut r = d
                .decrypt(std::iter::once(id as &dyn age::Identity))
                .unwrap();
            let mut pt = Vec::new();
            r.read_to_end(&mut pt).unwrap();
            assert_eq!(pt, b"hello");
        }
    }

    #[test]
    fn bad_recipients_are_refused_with_their_text() {
        let err = parse_recipients(&["age1nope".into()]).unwrap_err();
        assert!(err.to_string().contains("age1nope"), "{err}");
        assert_eq!(parse_recipients(&[" , ".into()]).unwrap().len(), 0);
    }
}
