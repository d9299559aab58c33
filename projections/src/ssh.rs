//! How a database or server reaches its SSH bastion, as responses show it: never the secret.

use backline_domain::StoredSsh;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SshView {
    pub host: String,
    pub port: u16,
    pub user: String,
    /// The pinned host key, `SHA256:…`.
    pub host_key_fingerprint: String,
    /// `key` or `password` (the secret itself is never shown).
    pub auth: String,
}

impl SshView {
    pub fn of(s: &StoredSsh) -> Self {
        SshView {
            host: s.host.clone(),
            port: s.port,
            user: s.user.clone(),
            host_key_fingerprint: s.host_key_fingerprint.to_string(),
            auth: if s.private_key.is_some() {
                "key"
            } else {
                "password"
            }
            .to_string(),
        }
    }
}
