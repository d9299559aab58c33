//! A real OpenSSH server (Debian `openssh-server`) started by a test on a free port of
//! 127.0.0.1, with its own host key and one authorized client key, logging every channel it
//! opens (so a test can show that a connection went through it). Killed on drop.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Sshd {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    /// `SHA256:…` of its host key.
    pub fingerprint: String,
    /// The authorized client key (OpenSSH private key text).
    pub private_key: String,
    pub user: String,
}

fn keygen(path: &std::path::Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen (openssh-client)")
        .success();
    assert!(ok, "ssh-keygen failed");
}

/// The SHA256 fingerprint `ssh-keygen -lf` prints for a public key file.
pub fn fingerprint_of(public: &std::path::Path) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(public)
        .output()
        .expect("ssh-keygen -lf");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.split_whitespace()
        .nth(1)
        .expect("fingerprint")
        .to_string()
}

/// Another key's fingerprint: one the bastion does not have.
pub fn stranger_fingerprint() -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("other");
    keygen(&key);
    fingerprint_of(&key.with_extension("pub"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl Sshd {
    pub async fn start() -> Sshd {
        let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("sshd is not installed: apt-get install openssh-server");
        // sshd (as root) wants its privilege separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        let dir = tempfile::tempdir().expect("tempdir");
        let host_key = dir.path().join("host_key");
        let client_key = dir.path().join("client_key");
        keygen(&host_key);
        keygen(&client_key);
        std::fs::copy(
            client_key.with_extension("pub"),
            dir.path().join("authorized_keys"),
        )
        .expect("authorized_keys");
        let user = String::from_utf8(Command::new("id").arg("-un").output().expect("id").stdout)
            .expect("utf8")
            .trim()
            .to_string();
        let port = free_port();
        let config = dir.path().join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
                 StrictModes no\nUsePAM no\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n\
                 AllowTcpForwarding local\nX11Forwarding no\nPidFile none\nLogLevel DEBUG1\n\
                 Subsystem sftp internal-sftp\n",
                host_key.display(),
                dir.path().join("authorized_keys").display()
            ),
        )
        .expect("sshd_config");
        let mut child = Command::new(sshd)
            .arg("-D")
            .arg("-f")
            .arg(&config)
            .arg("-E")
            .arg(dir.path().join("sshd.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sshd");
        let start = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if let Ok(Some(s)) = child.try_wait() {
                let log = std::fs::read_to_string(dir.path().join("sshd.log")).unwrap_or_default();
                panic!("sshd exited at start ({s}): {log}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "sshd did not listen"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Sshd {
            child,
            port,
            fingerprint: fingerprint_of(&host_key.with_extension("pub")),
            private_key: std::fs::read_to_string(&client_key).expect("client key"),
            user,
            dir,
        }
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("sshd.log")
    }

    /// How many forwarded connections it opened to `127.0.0.1:target_port`.
    pub fn forwards_to(&self, target_port: u16) -> usize {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let needle = format!("target 127.0.0.1 port {target_port}");
        log.lines()
            .filter(|l| l.contains("server_request_direct_tcpip") && l.ends_with(&needle))
            .count()
    }

    /// The authorized client key's file (0600, as ssh-keygen made it).
    pub fn key_file(&self) -> PathBuf {
        self.dir.path().join("client_key")
    }

    /// An `sftp://` storage URL for directory `root` on this server, pinned to `fingerprint`.
    pub fn sftp_url(&self, root: &std::path::Path, fingerprint: &str) -> String {
        format!(
            "sftp://{}@127.0.0.1:{}{}?host_key_fingerprint={}&key_file={}",
            self.user,
            self.port,
            root.display(),
            fingerprint.replace('+', "%2B").replace('/', "%2F"),
            self.key_file().display()
        )
    }

    /// The `ssh` block of a database reached through this bastion.
    pub fn block(&self, fingerprint: &str) -> serde_json::Value {
        serde_json::json!({
            "host": "127.0.0.1",
            "port": self.port,
            "user": self.user,
            "private_key": self.private_key,
            "host_key_fingerprint": fingerprint,
        })
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
