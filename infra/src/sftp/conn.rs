//! One SFTP session: the system `ssh` running the server's `sftp` subsystem, pinned to the
//! host key the URL names exactly as an SSH tunnel is (`ssh_tunnel.rs`), with
//! `openssh-sftp-client` speaking SFTP over its stdin/stdout. The private key and known_hosts
//! live in a private directory only while ssh connects. One session is shared by every
//! operation (SFTP multiplexes requests) and replaced when its ssh has exited.

use super::target::SftpTarget;
use crate::ssh_tunnel::{
    known_hosts_line, pinned_options, private_dir, scan, write_private, OfferedKey,
};
use opendal::{Error, ErrorKind};
use openssh_sftp_client::{Sftp, SftpAuxiliaryData, SftpOptions};
use secrecy::ExposeSecret;
use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The name the pinned key is filed under in the session's known_hosts file.
const ALIAS: &str = "backline-sftp";

/// A live session; ssh is killed when the last clone goes.
pub(crate) struct Session {
    pub sftp: Sftp,
    child: Mutex<Child>,
    tail: Tail,
}

type Tail = Arc<Mutex<VecDeque<String>>>;

impl Session {
    /// Whether its ssh still runs.
    fn alive(&self) -> bool {
        self.child
            .lock()
            .map(|mut c| matches!(c.try_wait(), Ok(None)))
            .unwrap_or(false)
    }

    /// What ssh said last (errors, not chatter), for a message.
    pub fn last_words(&self) -> String {
        tail_text(&self.tail)
    }
}

fn tail_text(tail: &Tail) -> String {
    let lines = tail.lock().map(|t| t.clone()).unwrap_or_default();
    lines.into_iter().collect::<Vec<_>>().join("; ")
}

/// Hands out the shared session, connecting when there is none or its ssh has exited.
pub(crate) struct Connector {
    pub target: SftpTarget,
    current: tokio::sync::Mutex<Option<Arc<Session>>>,
}

impl Connector {
    pub fn new(target: SftpTarget) -> Self {
        Self {
            target,
            current: tokio::sync::Mutex::new(None),
        }
    }

    pub async fn session(&self) -> Result<Arc<Session>, Error> {
        let mut current = self.current.lock().await;
        if let Some(s) = current.as_ref().filter(|s| s.alive()) {
            return Ok(s.clone());
        }
        *current = None;
        let s = Arc::new(connect(&self.target).await?);
        *current = Some(s.clone());
        Ok(s)
    }
}

fn failed(target: &SftpTarget, message: String) -> Error {
    Error::new(
        ErrorKind::Unexpected,
        format!("sftp to {}: {message}", target.server()),
    )
}

/// The offered key whose fingerprint is the pinned one, or a refusal that says what was
/// offered.
fn pinned_key(target: &SftpTarget, offered: Vec<OfferedKey>) -> Result<OfferedKey, Error> {
    if let Some(k) = offered.iter().find(|k| k.fingerprint == target.fingerprint) {
        return Ok(k.clone());
    }
    let offered = offered
        .iter()
        .map(|k| format!("{} ({})", k.fingerprint, k.algorithm))
        .collect::<Vec<_>>()
        .join(", ");
    // Not temporary: retrying cannot make the server hold another key.
    Err(Error::new(
        ErrorKind::PermissionDenied,
        format!(
            "SFTP host key mismatch: the server {} offered {offered}, but the storage URL pins \
             host_key_fingerprint={}; refused. If its key changed on purpose, check the new \
             fingerprint with its administrator and update the URL",
            target.server(),
            target.fingerprint
        ),
    ))
}

async fn connect(target: &SftpTarget) -> Result<Session, Error> {
    let offered = scan(&target.host, target.port)
        .await
        .map_err(|e| failed(target, e.to_string()).set_temporary())?;
    let key = pinned_key(target, offered)?;
    let dir = private_dir(&std::env::temp_dir().join("backline-sftp"))
        .map_err(|e| failed(target, e.to_string()))?;
    let known_hosts = dir.path().join("known_hosts");
    let identity = dir.path().join("id");
    write_private(&known_hosts, &known_hosts_line(ALIAS, &key), 0o600)
        .and_then(|()| write_private(&identity, target.private_key.expose_secret(), 0o600))
        .map_err(|e| failed(target, e.to_string()))?;
    let mut cmd = Command::new("ssh");
    cmd.args(["-T", "-F", "/dev/null"]);
    for o in pinned_options(&known_hosts, ALIAS, &key) {
        cmd.arg("-o").arg(o);
    }
    cmd.args(["-o", "BatchMode=yes", "-o", "PasswordAuthentication=no"])
        .arg("-o")
        .arg(format!("IdentityFile={}", identity.display()))
        .args([
            "-p",
            &target.port.to_string(),
            "-l",
            &target.user,
            "-s",
            "--",
        ])
        .arg(&target.host)
        .arg("sftp")
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| {
        failed(
            target,
            format!("cannot run ssh ({e}): install openssh-client"),
        )
    })?;
    let tail: Tail = Default::default();
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(drain(stderr, tail.clone()));
    }
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(failed(target, "ssh has no pipes".into()));
    };
    let opened = Sftp::new_with_auxiliary(
        stdin,
        stdout,
        SftpOptions::default(),
        SftpAuxiliaryData::None,
    )
    .await;
    // ssh has read the key and known_hosts by now (or given up): nothing secret stays on disk.
    drop(dir);
    match opened {
        Ok(sftp) => Ok(Session {
            sftp,
            child: Mutex::new(child),
            tail,
        }),
        Err(e) => {
            // Let ssh finish writing its reason.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), child.wait()).await;
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let said = tail_text(&tail);
            let message = if said.is_empty() {
                format!("the SFTP session did not start: {e}")
            } else {
                format!("ssh: {said}")
            };
            let err = failed(target, message);
            // A refused key or host key stays refused; a server restarting may come back.
            let final_ = ["Permission denied", "Host key verification failed"]
                .iter()
                .any(|w| said.contains(w));
            Err(if final_ { err } else { err.set_temporary() })
        }
    }
}

/// Reads ssh's stderr to its end, keeping the last lines for an error message.
async fn drain(stderr: tokio::process::ChildStderr, tail: Tail) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.starts_with("debug") {
            continue;
        }
        if let Ok(mut t) = tail.lock() {
            if t.len() == 8 {
                t.pop_front();
            }
            t.push_back(line.chars().take(300).collect());
        }
    }
}
