//! SSH tunnels through a bastion, with the system `ssh` (OpenSSH): a local port forward to the
//! database, opened before a backup, restore, connection test or discovery and closed when the
//! last clone of the connection goes.
//!
//! The host key is pinned, never trusted on first use: `ssh-keyscan` asks the bastion for its
//! keys, only the key whose SHA256 fingerprint is the pinned one is written to a known_hosts
//! file of Backline's own, and `ssh` runs with `StrictHostKeyChecking=yes` against that file
//! alone, so the bastion must prove it holds that key. The private key (0600) or the askpass
//! helper (which prints a password from ssh's environment) lives in a private directory only
//! until the tunnel is up; no secret is ever an argument.

use crate::drivers::StageError;
use backline_domain::{ConnectionString, SshAuth, SshSettings, Stage, Via};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::process::{Child, Command};

/// How long the bastion has to answer a scan, and to bring a tunnel up.
mod ready;
use ready::{tail_text, wait_ready, Tail};

const SCAN_TIMEOUT_SECS: u64 = 15;
const OPEN_TIMEOUT_SECS: u64 = 30;
/// The name the pinned key is filed under in Backline's known_hosts file.
const ALIAS: &str = "backline-bastion";

#[derive(Debug, thiserror::Error)]
pub enum TunnelError {
    #[error("cannot run {tool}: {source}; install openssh-client")]
    NoTool {
        tool: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("the SSH bastion {bastion} offered no host key within {SCAN_TIMEOUT_SECS} s: is sshd listening there?")]
    NoAnswer { bastion: String },
    #[error("SSH host key mismatch: the bastion {bastion} offered {offered}, but the pinned host key fingerprint is {pinned}; refused. If its key changed on purpose, scan it again (POST /api/v1/ssh/scan), check the fingerprint with its administrator and update the ssh block")]
    Mismatch {
        bastion: String,
        offered: String,
        pinned: String,
    },
    #[error("ssh to the bastion {bastion} failed: {message}")]
    Failed { bastion: String, message: String },
    #[error("the SSH bastion {bastion} refused the {what} of user {user:?}: check ssh.user and ssh.{field} (ssh said: {message})")]
    Refused {
        bastion: String,
        user: String,
        what: &'static str,
        field: &'static str,
        message: String,
    },
    #[error("cannot prepare the tunnel's private files in {dir}: {source}")]
    Files {
        dir: String,
        #[source]
        source: std::io::Error,
    },
}

/// A host key the bastion offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedKey {
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, …
    pub algorithm: String,
    /// `SHA256:…`, as `ssh-keygen -lf` prints it.
    pub fingerprint: String,
    /// The public key (base64), as known_hosts holds it.
    pub key: String,
}

pub(crate) fn bastion(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The SHA256 fingerprint of a base64 public key blob, as OpenSSH prints it.
pub fn fingerprint(blob_b64: &str) -> Option<String> {
    let blob = base64::engine::general_purpose::STANDARD
        .decode(blob_b64)
        .ok()?;
    let digest = Sha256::digest(&blob);
    Some(format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    ))
}

/// Parses `ssh-keyscan` output: `host algorithm base64` lines, comments skipped.
fn parse_scan(text: &str) -> Vec<OfferedKey> {
    let mut keys: Vec<OfferedKey> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_, algorithm, key) = (f.next()?, f.next()?, f.next()?);
            Some(OfferedKey {
                algorithm: algorithm.to_string(),
                fingerprint: fingerprint(key)?,
                key: key.to_string(),
            })
        })
        .collect();
    keys.sort_by(|a, b| a.algorithm.cmp(&b.algorithm));
    keys.dedup();
    keys
}

/// Asks the bastion which host keys it has (unauthenticated: for the operator to check, and
/// for Backline to find the key whose fingerprint is pinned).
pub async fn scan(host: &str, port: u16) -> Result<Vec<OfferedKey>, TunnelError> {
    let mut cmd = Command::new("ssh-keyscan");
    cmd.args(["-T", "10", "-p", &port.to_string(), "--", host])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(SCAN_TIMEOUT_SECS), cmd.output()).await;
    let keys = match out {
        Ok(Ok(o)) => parse_scan(&String::from_utf8_lossy(&o.stdout)),
        Ok(Err(source)) => {
            return Err(TunnelError::NoTool {
                tool: "ssh-keyscan",
                source,
            })
        }
        Err(_) => Vec::new(),
    };
    if keys.is_empty() {
        return Err(TunnelError::NoAnswer {
            bastion: bastion(host, port),
        });
    }
    Ok(keys)
}

/// An open tunnel: `ssh` runs while this lives (killed on drop).
pub struct Tunnel {
    child: Mutex<Child>,
    pub port: u16,
    said: Tail,
}

impl Drop for Tunnel {
    /// Says so when ssh ended before the tunnel was let go (killed by `kill_on_drop` else).
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock() {
            if let Ok(Some(status)) = child.try_wait() {
                tracing::warn!(port = self.port, %status, ssh_said = %tail_text(&self.said), "the SSH tunnel had ended before it was closed");
            }
        }
    }
}

pub(crate) fn private_dir(root: &Path) -> Result<tempfile::TempDir, TunnelError> {
    let files = |source| TunnelError::Files {
        dir: root.display().to_string(),
        source,
    };
    std::fs::create_dir_all(root).map_err(files)?;
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700)).map_err(files)?;
    // TempDir makes its directory 0700.
    tempfile::Builder::new()
        .prefix("tunnel-")
        .tempdir_in(root)
        .map_err(files)
}

pub(crate) fn write_private(path: &Path, text: &str, mode: u32) -> Result<(), TunnelError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|source| TunnelError::Files {
            dir: path.display().to_string(),
            source,
        })?;
    f.write_all(text.as_bytes())
        .map_err(|source| TunnelError::Files {
            dir: path.display().to_string(),
            source,
        })
}

/// Opens a tunnel through `ssh`'s bastion to `target_host:target_port` (as the bastion sees
/// it), listening on a free port of 127.0.0.1.
pub async fn open(
    ssh: &SshSettings,
    target_host: &str,
    target_port: u16,
    work_root: &Path,
) -> Result<Tunnel, TunnelError> {
    let offered = scan(&ssh.host, ssh.port).await?;
    let pinned = ssh.host_key_fingerprint.as_str();
    let Some(key) = offered.iter().find(|k| k.fingerprint == pinned) else {
        let offered = offered
            .iter()
            .map(|k| format!("{} ({})", k.fingerprint, k.algorithm))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(TunnelError::Mismatch {
            bastion: bastion(&ssh.host, ssh.port),
            offered,
            pinned: pinned.to_string(),
        });
    };
    // A port taken between our probe and ssh's bind makes ssh exit (ExitOnForwardFailure):
    // try another.
    let mut last = None;
    for _ in 0..3 {
        match open_once(ssh, key, target_host, target_port, work_root).await {
            Ok(t) => return Ok(t),
            Err(TunnelError::Failed { bastion, message })
                if message.contains("forwarding") || message.contains("listen") =>
            {
                last = Some(TunnelError::Failed { bastion, message });
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or(TunnelError::Failed {
        bastion: bastion(&ssh.host, ssh.port),
        message: "no local port could be bound".into(),
    }))
}

fn free_port() -> Result<u16, TunnelError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|source| TunnelError::Files {
            dir: "127.0.0.1".into(),
            source,
        })
}

async fn open_once(
    ssh: &SshSettings,
    key: &OfferedKey,
    target_host: &str,
    target_port: u16,
    work_root: &Path,
) -> Result<Tunnel, TunnelError> {
    let dir = private_dir(work_root)?;
    let port = free_port()?;
    let mut cmd = ssh_command(ssh, key, dir.path(), port, target_host, target_port)?;
    let mut child = cmd.spawn().map_err(|source| TunnelError::NoTool {
        tool: "ssh",
        source,
    })?;
    let said = wait_ready(&mut child, &bastion(&ssh.host, ssh.port))
        .await
        .map_err(|e| refused(e, ssh))?;
    // ssh read the key and known_hosts when it connected: nothing secret stays on disk.
    drop(dir);
    Ok(Tunnel {
        child: Mutex::new(child),
        port,
        said,
    })
}

/// A login the bastion turned down, said as such (ssh's own words kept).
fn refused(e: TunnelError, ssh: &SshSettings) -> TunnelError {
    match e {
        TunnelError::Failed { bastion, message } if message.contains("Permission denied") => {
            let (what, field) = match ssh.auth {
                SshAuth::Key(_) => ("private key", "private_key"),
                SshAuth::Password(_) => ("password", "password"),
            };
            TunnelError::Refused {
                bastion,
                user: ssh.user.clone(),
                what,
                field,
                message,
            }
        }
        other => other,
    }
}

/// The known_hosts line that files the pinned key under `alias`.
pub(crate) fn known_hosts_line(alias: &str, key: &OfferedKey) -> String {
    format!("{alias} {} {}\n", key.algorithm, key.key)
}

/// `-o` options: trust the pinned key alone (as `alias` in `known_hosts`), ask and forward nothing.
pub(crate) fn pinned_options(known_hosts: &Path, alias: &str, key: &OfferedKey) -> Vec<String> {
    let host_key_algorithms = match key.algorithm.as_str() {
        "ssh-rsa" => "rsa-sha2-512,rsa-sha2-256".to_string(),
        a => a.to_string(),
    };
    vec![
        "StrictHostKeyChecking=yes".into(),
        format!("UserKnownHostsFile={}", known_hosts.display()),
        "GlobalKnownHostsFile=/dev/null".into(),
        format!("HostKeyAlias={alias}"),
        format!("HostKeyAlgorithms={host_key_algorithms}"),
        "UpdateHostKeys=no".into(),
        "CheckHostIP=no".into(),
        "ServerAliveInterval=15".into(),
        "ServerAliveCountMax=3".into(),
        "ConnectTimeout=15".into(),
        "ControlMaster=no".into(),
        "ControlPath=none".into(),
        "ForwardAgent=no".into(),
        "ForwardX11=no".into(),
        "IdentitiesOnly=yes".into(),
        "KbdInteractiveAuthentication=no".into(),
    ]
}

/// The `ssh` command of a tunnel: the pinned key alone in its known_hosts, the secret in a
/// private file (or an askpass helper reading the environment), nothing secret in argv.
fn ssh_command(
    ssh: &SshSettings,
    key: &OfferedKey,
    dir: &Path,
    port: u16,
    target_host: &str,
    target_port: u16,
) -> Result<Command, TunnelError> {
    let known_hosts = dir.join("known_hosts");
    write_private(&known_hosts, &known_hosts_line(ALIAS, key), 0o600)?;
    let target = if target_host.contains(':') {
        format!("[{target_host}]")
    } else {
        target_host.to_string()
    };
    let mut cmd = Command::new("ssh");
    cmd.args(["-v", "-N", "-T", "-F", "/dev/null"]);
    let mut opts = pinned_options(&known_hosts, ALIAS, key);
    opts.push("ExitOnForwardFailure=yes".into());
    for o in &opts {
        cmd.arg("-o").arg(o);
    }
    match &ssh.auth {
        SshAuth::Key(k) => {
            let path = dir.join("id");
            write_private(&path, k, 0o600)?;
            cmd.args(["-o", "BatchMode=yes", "-o", "PasswordAuthentication=no"])
                .arg("-o")
                .arg(format!("IdentityFile={}", path.display()));
        }
        SshAuth::Password(p) => {
            let path = dir.join("askpass");
            write_private(
                &path,
                "#!/bin/sh\nprintf '%s\\n' \"$BACKLINE_SSH_PASSWORD\"\n",
                0o700,
            )?;
            cmd.args([
                "-o",
                "BatchMode=no",
                "-o",
                "PubkeyAuthentication=no",
                "-o",
                "PreferredAuthentications=password",
                "-o",
                "NumberOfPasswordPrompts=1",
            ])
            .env("SSH_ASKPASS", &path)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0")
            .env("BACKLINE_SSH_PASSWORD", p);
        }
    }
    cmd.arg("-L")
        .arg(format!("127.0.0.1:{port}:{target}:{target_port}"))
        .args([
            "-p",
            &ssh.port.to_string(),
            "-l",
            &ssh.user,
            "--",
            &ssh.host,
        ])
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    Ok(cmd)
}

/// `conn` ready for the tools: through a freshly opened tunnel when it names a bastion (the
/// tunnel lives as long as the returned connection or any clone of it).
pub async fn reach(
    conn: &ConnectionString,
    work_root: &Path,
) -> Result<ConnectionString, StageError> {
    let Some(ssh) = conn.ssh.as_ref().filter(|_| conn.needs_tunnel()) else {
        return Ok(conn.clone());
    };
    let tunnel = open(ssh, &conn.host, conn.port, work_root)
        .await
        .map_err(|e| StageError::new(Stage::Connect, e.to_string()))?;
    let via = Via {
        host: "127.0.0.1".into(),
        port: tunnel.port,
        keep: Arc::new(tunnel),
    };
    Ok(conn.through(via))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_as_openssh_prints_them() {
        // ssh-keygen -lf of this key printed the fingerprint below.
        let scan = "# 127.0.0.1:22416 SSH-2.0-OpenSSH_9.2p1\n[127.0.0.1]:22416 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINQb9EUpUrT2t6mK+3ISDjqD2FvbCOE8LJEef49SNE5d\n";
        let keys = parse_scan(scan);
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].algorithm, "ssh-ed25519");
        assert_eq!(
            keys[0].fingerprint,
            "SHA256:xTYHY0KRV+wh0LopvPjUinhDrbJ6HrplFtIouCqXKH0"
        );
        assert!(fingerprint("not base64!").is_none());
    }
}
