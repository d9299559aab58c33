//! SSH bastions: the `ssh` block of databases and servers, and the scan that shows the host
//! keys a bastion offers, for the operator to confirm one before it is pinned.

use super::error::{ApiError, ApiJson, Problem};
use axum::Json;
use backline_domain::SshInput;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An SSH bastion the database (or server) is reached through: Backline forwards a local port
/// through it to the connection's host and port (as the bastion sees them). Exactly one of
/// `private_key` and `password`; `host_key_fingerprint` is required (no trust on first use).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SshBlock {
    #[schema(
        pattern = r"^\s*[A-Za-z0-9_.:][A-Za-z0-9_.:-]{0,252}\s*$",
        example = "bastion.example.com"
    )]
    pub host: String,
    /// Default 22.
    #[schema(minimum = 1, maximum = 65535, example = 22)]
    pub port: Option<u16>,
    #[schema(
        pattern = r"^\s*[A-Za-z0-9_.][A-Za-z0-9_.-]{0,63}\s*$",
        example = "backline"
    )]
    pub user: String,
    /// An unencrypted private key, OpenSSH or PEM text. Sealed like database passwords, never
    /// shown again.
    #[schema(min_length = 1)]
    pub private_key: Option<String>,
    /// Sealed like database passwords, never shown again.
    #[schema(min_length = 1)]
    pub password: Option<String>,
    /// The bastion's host key fingerprint as `ssh-keygen -lf` prints it (see POST /ssh/scan).
    #[schema(
        pattern = r"^\s*SHA256:[A-Za-z0-9+/]{43}=?\s*$",
        example = "SHA256:xTYHY0KRV+wh0LopvPjUinhDrbJ6HrplFtIouCqXKH0"
    )]
    pub host_key_fingerprint: String,
}

impl SshBlock {
    pub fn input(self) -> SshInput {
        SshInput {
            host: self.host,
            port: self.port,
            user: self.user,
            private_key: self.private_key,
            password: self.password,
            host_key_fingerprint: Some(self.host_key_fingerprint),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    #[schema(
        pattern = r"^\s*[A-Za-z0-9_.:][A-Za-z0-9_.:-]{0,252}\s*$",
        example = "bastion.example.com"
    )]
    pub host: String,
    /// Default 22.
    #[schema(minimum = 1, maximum = 65535, example = 22)]
    pub port: Option<u16>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HostKey {
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, …
    pub algorithm: String,
    /// `SHA256:…`: check it with the bastion's administrator, then put it in the ssh block.
    pub fingerprint: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScanResult {
    /// The host keys the bastion offered (unauthenticated: confirm one out of band).
    pub keys: Vec<HostKey>,
}

/// The host keys an SSH bastion offers (nothing is stored or trusted).
#[utoipa::path(post, operation_id = "scanSshHost", path = "/api/v1/ssh/scan", tag = "databases", request_body = ScanRequest,
    responses((status = 200, body = ScanResult), (status = 422, body = Problem, description = "Not a host name, or the bastion offered no host key")))]
pub async fn scan(ApiJson(body): ApiJson<ScanRequest>) -> Result<Json<ScanResult>, ApiError> {
    let keys = backline_app::tunnels::scan(&body.host, body.port).await?;
    Ok(Json(ScanResult {
        keys: keys
            .into_iter()
            .map(|k| HostKey {
                algorithm: k.algorithm,
                fingerprint: k.fingerprint,
            })
            .collect(),
    }))
}
