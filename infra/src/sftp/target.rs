//! What an `sftp://` storage URL says: where, as whom, which host key, which private key.
//!
//! `sftp://<user>@<host>[:<port>]/<absolute base path>?host_key_fingerprint=SHA256:…`
//! with the private key from `key_file=<path>` (a 0600 file), else `SFTP_PRIVATE_KEY_FILE`,
//! else the key text in `SFTP_PRIVATE_KEY`. There is no password option: key
//! authentication only.

use crate::storage::{redact_url, StorageError};
use secrecy::SecretString;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// A parsed `sftp://` URL; `Debug` never shows the key.
pub(crate) struct SftpTarget {
    pub host: String,
    pub port: u16,
    pub user: String,
    /// The base directory on the server, absolute, without a trailing `/`.
    pub root: String,
    /// The pinned host key, `SHA256:…` as `ssh-keygen -lf` prints it.
    pub fingerprint: String,
    pub private_key: SecretString,
}

impl std::fmt::Debug for SftpTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SftpTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("root", &self.root)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

fn invalid(raw: &str, message: &str) -> StorageError {
    StorageError::Invalid {
        url: redact_url(raw),
        message: message.to_string(),
    }
}

impl SftpTarget {
    pub fn parse(raw: &str) -> Result<Self, StorageError> {
        let url = url::Url::parse(raw).map_err(|e| invalid(raw, &e.to_string()))?;
        if url.password().is_some() {
            return Err(invalid(
                raw,
                "no password in the storage URL (it is logged and recorded): SFTP storage \
                 authenticates with a private key (key_file=<path> or SFTP_PRIVATE_KEY)",
            ));
        }
        let user = url.username().to_string();
        if user.is_empty() {
            return Err(invalid(
                raw,
                "no user: sftp://<user>@<host>[:<port>]/<path>",
            ));
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| invalid(raw, "no host"))?
            .trim_matches(|c| c == '[' || c == ']')
            .to_string();
        let root = url.path().trim_end_matches('/').to_string();
        if root.is_empty() {
            return Err(invalid(
                raw,
                "no base directory: name an absolute path on the server, e.g. \
                 sftp://backline@host/srv/backups",
            ));
        }
        let mut fingerprint = None;
        let mut key_file = None;
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                // A `+` of the base64 fingerprint left unescaped reads as a space.
                "host_key_fingerprint" => fingerprint = Some(v.replace(' ', "+")),
                "key_file" => key_file = Some(v.into_owned()),
                other => return Err(invalid(raw, &format!("unknown parameter {other:?}"))),
            }
        }
        let fingerprint = fingerprint
            .filter(|f| f.starts_with("SHA256:"))
            .ok_or_else(|| {
                invalid(
                    raw,
                    "the server's host key fingerprint is required: add \
                 host_key_fingerprint=SHA256:… (`ssh-keyscan -p <port> <host> | ssh-keygen -lf -` \
                 lists them; check it with the server's administrator)",
                )
            })?;
        let key_file = key_file.or_else(|| {
            std::env::var("SFTP_PRIVATE_KEY_FILE")
                .ok()
                .filter(|v| !v.is_empty())
        });
        let private_key = match key_file {
            Some(path) => read_key_file(Path::new(&path)).map_err(|m| invalid(raw, &m))?,
            None => std::env::var("SFTP_PRIVATE_KEY")
                .ok()
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| {
                    invalid(
                        raw,
                        "no private key: add key_file=<path of a 0600 OpenSSH private key>, or \
                         set SFTP_PRIVATE_KEY_FILE or SFTP_PRIVATE_KEY (the key's text)",
                    )
                })?,
        };
        Ok(Self {
            host,
            port: url.port().unwrap_or(22),
            user,
            root,
            fingerprint,
            private_key: SecretString::from(ensure_newline(private_key)),
        })
    }

    /// `host:port` (`[v6]:port`), for messages.
    pub fn server(&self) -> String {
        crate::ssh_tunnel::bastion(&self.host, self.port)
    }

    /// The absolute remote path of an OpenDAL path (relative to the root; `/` is the root).
    pub fn abs(&self, path: &str) -> String {
        let p = path.trim_matches('/');
        if p.is_empty() {
            self.root.clone()
        } else {
            format!("{}/{p}", self.root)
        }
    }
}

/// ssh refuses a key file without a final newline.
fn ensure_newline(mut key: String) -> String {
    if !key.ends_with('\n') {
        key.push('\n');
    }
    key
}

/// Reads a private key file that only its owner can read (as ssh itself demands).
fn read_key_file(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("cannot read the private key file {}: {e}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "the private key file {} can be read by others (mode {mode:o}): chmod 600 it",
            path.display()
        ));
    }
    std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the private key file {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn key_file(mode: u32) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(
                b"-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n-----END OPENSSH PRIVATE KEY-----",
            )
            .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let p = path.display().to_string();
        (dir, p)
    }

    #[test]
    fn a_full_url_is_read() {
        let (_d, key) = key_file(0o600);
        let t = SftpTarget::parse(&format!(
            "sftp://backline@sftp.example:2222/srv/backups/?host_key_fingerprint=SHA256:ab+c/d&key_file={key}"
        ))
        .unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.user.as_str()),
            ("sftp.example", 2222, "backline")
        );
        assert_eq!(t.root, "/srv/backups");
        assert_eq!(t.fingerprint, "SHA256:ab+c/d");
        assert_eq!(t.abs("/"), "/srv/backups");
        assert_eq!(t.abs("a/b.zst"), "/srv/backups/a/b.zst");
        assert_eq!(t.abs(".partial/"), "/srv/backups/.partial");
        let shown = format!("{t:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn each_missing_piece_is_named() {
        let (_d, key) = key_file(0o600);
        let cases = [
            (
                "sftp://h/srv?host_key_fingerprint=SHA256:x&key_file=K",
                "no user",
            ),
            (
                "sftp://u:sekrit9@h/srv?host_key_fingerprint=SHA256:x&key_file=K",
                "no password",
            ),
            (
                "sftp://u@h?host_key_fingerprint=SHA256:x&key_file=K",
                "no base directory",
            ),
            ("sftp://u@h/srv?key_file=K", "host_key_fingerprint=SHA256"),
            (
                "sftp://u@h/srv?host_key_fingerprint=SHA256:x&key_file=K&x=1",
                "unknown parameter",
            ),
        ];
        for (url, expected) in cases {
            let e = SftpTarget::parse(&url.replace('K', &key))
                .unwrap_err()
                .to_string();
            assert!(e.contains(expected), "{url}: {e}");
            assert!(!e.contains("sekrit9"), "{e}");
        }
    }

    #[test]
    fn a_key_file_others_can_read_is_refused() {
        let (_d, key) = key_file(0o644);
        let e = SftpTarget::parse(&format!(
            "sftp://u@h/srv?host_key_fingerprint=SHA256:x&key_file={key}"
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("chmod 600"), "{e}");
    }
}
