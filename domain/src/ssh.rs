//! SSH bastions: a database or server reached through an SSH tunnel. The bastion's host key is
//! pinned by its SHA256 fingerprint (as `ssh-keygen -l` prints it); the private key or password
//! is sealed like a database password and opened only to reach the database.

use crate::connection::SealedSecret;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshError {
    #[error("ssh.host {0:?} is not a host name or IP address (letters, digits, '.', '-', '_', ':'; not starting with '-')")]
    BadHost(String),
    #[error("ssh.port must be 1–65535")]
    BadPort,
    #[error(
        "ssh.user {0:?} is not a user name (letters, digits, '.', '-', '_'; not starting with '-')"
    )]
    BadUser(String),
    #[error("ssh.host_key_fingerprint is required: the bastion's host key fingerprint as `ssh-keygen -lf` prints it (SHA256:…); POST /api/v1/ssh/scan shows the one the bastion offers, to check and confirm")]
    NoFingerprint,
    #[error("ssh.host_key_fingerprint {0:?} is not a SHA256 fingerprint (SHA256: followed by 43 base64 characters)")]
    BadFingerprint(String),
    #[error("ssh needs exactly one of private_key (OpenSSH or PEM text) and password")]
    NoOrTwoSecrets,
    #[error("ssh.private_key is not an unencrypted private key in OpenSSH or PEM form (-----BEGIN … PRIVATE KEY-----)")]
    BadKey,
    #[error("ssh.{0} contains control characters")]
    ControlChars(&'static str),
}

/// `SHA256:<43 base64 characters>`: the bastion's host key, pinned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HostKeyFingerprint(String);

impl HostKeyFingerprint {
    pub fn parse(raw: &str) -> Result<Self, SshError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(SshError::NoFingerprint);
        }
        let body = raw
            .strip_prefix("SHA256:")
            .ok_or_else(|| SshError::BadFingerprint(raw.to_string()))?;
        let body = body.trim_end_matches('=');
        let ok = body.len() == 43
            && body
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/');
        if !ok {
            return Err(SshError::BadFingerprint(raw.to_string()));
        }
        Ok(Self(format!("SHA256:{body}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HostKeyFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How Backline signs in to the bastion.
#[derive(Clone, PartialEq, Eq)]
pub enum SshAuth {
    /// An unencrypted private key (OpenSSH or PEM text).
    Key(String),
    Password(String),
}

/// The bastion as the ledger keeps it: secrets sealed with the database's (or server's) key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSsh {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub host_key_fingerprint: HostKeyFingerprint,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<SealedSecret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SealedSecret>,
}

/// A bastion with its secret opened; `Debug` never prints the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SshSettings {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub host_key_fingerprint: HostKeyFingerprint,
    pub auth: SshAuth,
}

impl fmt::Debug for SshSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("host_key_fingerprint", &self.host_key_fingerprint)
            .field(
                "auth",
                &match self.auth {
                    SshAuth::Key(_) => "key ***",
                    SshAuth::Password(_) => "password ***",
                },
            )
            .finish()
    }
}

/// An `ssh` block as a request gives it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SshInput {
    pub host: String,
    pub port: Option<u16>,
    pub user: String,
    pub private_key: Option<String>,
    pub password: Option<String>,
    pub host_key_fingerprint: Option<String>,
}

/// A host name or IP address that no tool can take for an option or a list.
pub fn check_ssh_host(host: &str) -> Result<String, SshError> {
    let host = host.trim();
    let ok = !host.is_empty()
        && host.len() <= 253
        && !host.starts_with('-')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    if !ok {
        return Err(SshError::BadHost(host.to_string()));
    }
    Ok(host.to_string())
}

impl SshSettings {
    pub fn parse(input: &SshInput) -> Result<Self, SshError> {
        let host = check_ssh_host(&input.host)?;
        let port = input.port.unwrap_or(22);
        if port == 0 {
            return Err(SshError::BadPort);
        }
        let user = input.user.trim();
        let user_ok = !user.is_empty()
            && user.len() <= 64
            && !user.starts_with('-')
            && user
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !user_ok {
            return Err(SshError::BadUser(user.to_string()));
        }
        let host_key_fingerprint =
            HostKeyFingerprint::parse(input.host_key_fingerprint.as_deref().unwrap_or(""))?;
        let auth = match (&input.private_key, &input.password) {
            (Some(k), None) => {
                let k = k.trim();
                let pem = k.starts_with("-----BEGIN ") && k.contains("PRIVATE KEY-----");
                if !pem || k.contains("ENCRYPTED") || k.contains('\0') {
                    return Err(SshError::BadKey);
                }
                SshAuth::Key(format!("{k}\n"))
            }
            (None, Some(p)) if !p.is_empty() => {
                if p.chars().any(|c| c.is_control()) {
                    return Err(SshError::ControlChars("password"));
                }
                SshAuth::Password(p.clone())
            }
            _ => return Err(SshError::NoOrTwoSecrets),
        };
        Ok(Self {
            host,
            port,
            user: user.to_string(),
            host_key_fingerprint,
            auth,
        })
    }

    /// The stored form, with the secret already sealed by the caller.
    pub fn to_stored(&self, sealed: SealedSecret) -> StoredSsh {
        let (private_key, password) = match self.auth {
            SshAuth::Key(_) => (Some(sealed), None),
            SshAuth::Password(_) => (None, Some(sealed)),
        };
        StoredSsh {
            host: self.host.clone(),
            port: self.port,
            user: self.user.clone(),
            host_key_fingerprint: self.host_key_fingerprint.clone(),
            private_key,
            password,
        }
    }

    /// Builds the opened form back from what the ledger keeps plus the opened secret.
    pub fn from_stored(stored: &StoredSsh, secret: String) -> Self {
        Self {
            host: stored.host.clone(),
            port: stored.port,
            user: stored.user.clone(),
            host_key_fingerprint: stored.host_key_fingerprint.clone(),
            auth: if stored.private_key.is_some() {
                SshAuth::Key(secret)
            } else {
                SshAuth::Password(secret)
            },
        }
    }

    /// The secret to seal.
    pub fn secret(&self) -> &str {
        match &self.auth {
            SshAuth::Key(k) => k,
            SshAuth::Password(p) => p,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP: &str = "SHA256:xTYHY0KRV+wh0LopvPjUinhDrbJ6HrplFtIouCqXKH0";

    fn input() -> SshInput {
        SshInput {
            host: "bastion.example.com".into(),
            port: None,
            user: "backline".into(),
            private_key: Some(
                "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----"
                    .into(),
            ),
            password: None,
            host_key_fingerprint: Some(FP.into()),
        }
    }

    #[test]
    fn parses_and_never_prints_the_secret() {
        let s = SshSettings::parse(&input()).unwrap();
        assert_eq!(s.port, 22);
        assert_eq!(s.host_key_fingerprint.as_str(), FP);
        assert!(!format!("{s:?}").contains("abc"));
        let stored = s.to_stored(SealedSecret {
            nonce: "n".into(),
            ciphertext: "c".into(),
        });
        assert!(stored.private_key.is_some() && stored.password.is_none());
        assert_eq!(SshSettings::from_stored(&stored, s.secret().into()), s);
    }

    #[test]
    fn refuses_what_could_become_an_option_or_trust_on_first_use() {
        let mut i = input();
        i.host_key_fingerprint = None;
        assert_eq!(SshSettings::parse(&i), Err(SshError::NoFingerprint));
        i.host_key_fingerprint = Some("MD5:aa:bb".into());
        assert!(matches!(
            SshSettings::parse(&i),
            Err(SshError::BadFingerprint(_))
        ));
        let mut i = input();
        i.host = "-oProxyCommand=x".into();
        assert!(matches!(SshSettings::parse(&i), Err(SshError::BadHost(_))));
        let mut i = input();
        i.user = "-l".into();
        assert!(matches!(SshSettings::parse(&i), Err(SshError::BadUser(_))));
        let mut i = input();
        i.password = Some("pw".into());
        assert_eq!(SshSettings::parse(&i), Err(SshError::NoOrTwoSecrets));
        let mut i = input();
        i.private_key = Some("not a key".into());
        assert_eq!(SshSettings::parse(&i), Err(SshError::BadKey));
    }
}
