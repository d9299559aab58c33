//! Connections through SSH bastions: the bastion's secret sealed and opened with the rest of
//! the connection, and the tunnel opened just before the tools talk to the database.

use crate::core::Core;
use crate::error::AppError;
use backline_domain::{ConnectionString, Engine, SshInput, SshSettings, StoredConnection};
use backline_infra::drivers::StageError;
use backline_infra::ssh_tunnel::{self, OfferedKey};

/// The `ssh` block of a request, checked.
pub(crate) fn parse(input: Option<&SshInput>) -> Result<Option<SshSettings>, AppError> {
    input
        .map(|i| SshSettings::parse(i).map_err(|e| AppError::invalid("ssh", e.to_string())))
        .transpose()
}

/// The stored form of `conn` for aggregate `id`: its password and bastion secret sealed.
pub(crate) async fn seal(
    core: &Core,
    id: &str,
    conn: &ConnectionString,
) -> Result<StoredConnection, AppError> {
    let sealed = match conn.password() {
        Some(p) => Some(core.keyring.seal(id, p).await?),
        None => None,
    };
    let mut stored = conn.to_stored(sealed);
    if let Some(ssh) = &conn.ssh {
        let secret = core.keyring.seal(id, ssh.secret()).await?;
        stored.ssh = Some(Box::new(ssh.to_stored(secret)));
    }
    Ok(stored)
}

/// The connection of aggregate `id` with its password and bastion secret opened.
pub(crate) async fn open(
    core: &Core,
    id: &str,
    engine: Engine,
    stored: &StoredConnection,
) -> Result<ConnectionString, AppError> {
    let password = match &stored.password {
        Some(sealed) => Some(core.keyring.open(id, sealed).await?),
        None => None,
    };
    let mut conn = ConnectionString::from_stored(engine, stored, password);
    if let Some(ssh) = &stored.ssh {
        let Some(sealed) = ssh.private_key.as_ref().or(ssh.password.as_ref()) else {
            return Err(AppError::bug("ssh block without a secret"));
        };
        let secret = core.keyring.open(id, sealed).await?;
        conn.ssh = Some(SshSettings::from_stored(ssh, secret));
    }
    Ok(conn)
}

/// `conn` ready for the tools: through a tunnel when it names a bastion.
pub(crate) async fn reach(
    core: &Core,
    conn: &ConnectionString,
) -> Result<ConnectionString, StageError> {
    ssh_tunnel::reach(conn, &core.settings.data_dir.join("ssh-tmp")).await
}

/// The host keys a bastion offers, for the operator to check before pinning one.
pub async fn scan(host: &str, port: Option<u16>) -> Result<Vec<OfferedKey>, AppError> {
    let host = backline_domain::ssh::check_ssh_host(host)
        .map_err(|e| AppError::invalid("host", e.to_string()))?;
    let port = port.unwrap_or(22);
    if port == 0 {
        return Err(AppError::invalid("port", "port must be 1–65535"));
    }
    ssh_tunnel::scan(&host, port)
        .await
        .map_err(|e| AppError::Unprocessable(e.to_string()))
}
