//! A real OpenSSH server (Debian `openssh-server`) started by a test on a free port of
//! 127.0.0.1, with its own host key and one authorized client key, logging every channel it
//! opens (so a test can show that a connection went through it). Killed on drop.
//!
//! [`Sshd::start_with_password`] starts one that takes passwords instead, for a throwaway
//! local account of its own (`useradd`, a random password set with `chpasswd`, shell
//! `nologin`: it can forward ports and nothing else), removed again on drop.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Sshd {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    /// The throwaway account of a password server: removed after `drop` has stopped sshd.
    account: Option<ThrowawayUser>,
    /// `SHA256:…` of its host key.
    pub fingerprint: String,
    /// The authorized client key (OpenSSH private key text).
    pub private_key: String,
    pub user: String,
    /// The password of `user`, when this server takes passwords (and only those).
    pub password: Option<String>,
}

/// A local account made for one server and removed on drop (also when the test panics).
struct ThrowawayUser(String);

impl ThrowawayUser {
    fn create(password: &str) -> ThrowawayUser {
        // The random end of a v7 uuid (its start is the time).
        let id = uuid::Uuid::now_v7().simple().to_string();
        let name = format!("blssh_{}", &id[id.len() - 12..]);
        let ok = Command::new("useradd")
            .args(["-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin", "--"])
            .arg(&name)
            .status()
            .expect("useradd (passwd)")
            .success();
        assert!(ok, "useradd {name} failed (the tests run as root)");
        let user = ThrowawayUser(name);
        let mut chpasswd = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .expect("chpasswd");
        use std::io::Write;
        chpasswd
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{}:{password}\n", user.0).as_bytes())
            .expect("chpasswd stdin");
        assert!(
            chpasswd.wait().expect("chpasswd").success(),
            "chpasswd failed"
        );
        user
    }
}

impl Drop for ThrowawayUser {
    fn drop(&mut self) {
        // -f: sshd's per-connection processes of this user may still be ending.
        let _ = Command::new("userdel")
            .args(["-f", "--"])
            .arg(&self.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
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
    /// Takes the client key of [`Sshd::private_key`] for the user running the tests.
    pub async fn start() -> Sshd {
        Self::spawn(None).await
    }

    /// Takes only passwords: [`Sshd::password`] for [`Sshd::user`], a throwaway account.
    pub async fn start_with_password() -> Sshd {
        let password = format!("pw-{}-Sesame", uuid::Uuid::now_v7().simple());
        let user = ThrowawayUser::create(&password);
        let mut sshd = Self::spawn(Some((user.0.clone(), password))).await;
        sshd.account = Some(user);
        sshd
    }

    async fn spawn(password_login: Option<(String, String)>) -> Sshd {
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
        let (user, password) = match password_login {
            Some((user, password)) => (user, Some(password)),
            None => (
                String::from_utf8(Command::new("id").arg("-un").output().expect("id").stdout)
                    .expect("utf8")
                    .trim()
                    .to_string(),
                None,
            ),
        };
        // Keys only, or passwords only (and only for the throwaway account).
        let auth = if password.is_some() {
            format!(
                "PubkeyAuthentication no\nPasswordAuthentication yes\nPermitEmptyPasswords no\n\
                 PermitRootLogin no\nAllowUsers {user}\n"
            )
        } else {
            "PasswordAuthentication no\nPermitRootLogin prohibit-password\n".to_string()
        };
        let port = free_port();
        let config = dir.path().join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
                 StrictModes no\nUsePAM no\n{auth}\
                 KbdInteractiveAuthentication no\n\
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
            password,
            dir,
            account: None,
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

    /// The `ssh` block of a database reached through this bastion with `password` (a server
    /// from [`Sshd::start_with_password`]).
    pub fn password_block(&self, fingerprint: &str, password: &str) -> serde_json::Value {
        serde_json::json!({
            "host": "127.0.0.1",
            "port": self.port,
            "user": self.user,
            "password": password,
            "host_key_fingerprint": fingerprint,
        })
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
