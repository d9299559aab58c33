//! `backline serve` as a separate process: to kill it with SIGKILL, or to run it as an
//! unprivileged user (root ignores file permissions, so a permission fault needs another user).
#![allow(dead_code)]

use crate::helpers::{backline_bin, TOKEN};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The uid/gid of `nobody` on Debian.
pub const NOBODY: u32 = 65534;

pub struct External {
    pub child: Child,
    pub base: String,
    pub client: reqwest::Client,
    /// A copy of the binary any user may run (the build's is under /root).
    _bin: Option<tempfile::TempDir>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Makes `dir` (and everything below it) belong to `nobody`.
pub fn give_to_nobody(dir: &Path) {
    std::os::unix::fs::chown(dir, Some(NOBODY), Some(NOBODY)).expect("chown");
    if dir.is_dir() {
        for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
            give_to_nobody(&e.path());
        }
    }
}

/// Sets the mode of every directory under (and including) `dir`.
pub fn chmod_dirs(dir: &Path, mode: u32) {
    if !dir.is_dir() {
        return;
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).expect("chmod");
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        chmod_dirs(&e.path(), mode);
    }
}

/// Every regular file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

impl External {
    /// Starts `backline serve` on `data` (SQLite ledger, `<data>/artifacts` storage), as
    /// `nobody` when `unprivileged`, with `env` added; waits for `/healthz`.
    pub async fn start(data: &Path, unprivileged: bool, env: &[(&str, &str)]) -> External {
        Self::spawn(data, unprivileged, env, None).await
    }

    /// Starts `backline serve` as root on `data`, logging at debug level into `log`: to
    /// search the server's log for what must never be in it.
    pub async fn start_logged(data: &Path, log: &Path) -> External {
        Self::spawn(data, false, &[("BACKLINE_LOG", "debug")], Some(log)).await
    }

    async fn spawn(
        data: &Path,
        unprivileged: bool,
        env: &[(&str, &str)],
        log: Option<&Path>,
    ) -> External {
        let port = free_port();
        let (mut cmd, bin_dir) = if unprivileged {
            let dir = tempfile::Builder::new()
                .prefix("bl-bin")
                .tempdir_in("/tmp")
                .expect("tempdir");
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
            let bin = dir.path().join("backline");
            std::fs::copy(backline_bin(), &bin).expect("copy the binary");
            std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
            give_to_nobody(data);
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(&bin);
            (c, Some(dir))
        } else {
            (Command::new(backline_bin()), None)
        };
        cmd.arg("serve")
            .env("BACKLINE_DATA_DIR", data)
            .env("BACKLINE_LISTEN", format!("127.0.0.1:{port}"))
            .env("BACKLINE_ADMIN_TOKEN", TOKEN)
            .env("BACKLINE_LOG", "warn")
            .env_remove("BACKLINE_STORAGE_URL")
            .env_remove("BACKLINE_LEDGER_URL")
            .stdout(Stdio::null());
        match log {
            Some(path) => cmd.stderr(std::fs::File::create(path).expect("log file")),
            None => cmd.stderr(Stdio::inherit()),
        };
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("backline serve starts");
        let server = External {
            child,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            _bin: bin_dir,
        };
        server.wait_healthy().await;
        server
    }

    async fn wait_healthy(&self) {
        let start = Instant::now();
        loop {
            let r = self
                .client
                .get(format!("{}/healthz", self.base))
                .send()
                .await;
            if r.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the server did not answer /healthz within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("request");
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.expect("json")
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Registers a PostgreSQL database and returns its id.
    pub async fn register(&self, name: &str, url: &str) -> String {
        self.register_engine(name, "postgres", url).await
    }

    /// Registers a database of `engine` (`postgres`, `mysql`) and returns its id.
    pub async fn register_engine(&self, name: &str, engine: &str, url: &str) -> String {
        let (status, body) = self
            .post(
                "/api/v1/databases",
                serde_json::json!({"name": name, "engine": engine, "connection": url}),
            )
            .await;
        assert_eq!(status, 201, "register: {body}");
        body["id"].as_str().expect("id").to_string()
    }

    /// Starts a backup and returns its id.
    pub async fn start_backup(&self, database_id: &str) -> String {
        let (status, body) = self
            .post(
                &format!("/api/v1/databases/{database_id}/backups"),
                serde_json::json!({}),
            )
            .await;
        assert_eq!(status, 202, "backup: {body}");
        body["id"].as_str().expect("id").to_string()
    }

    /// Polls the backup until it is no longer running; fails after `limit`.
    pub async fn wait_backup(&self, id: &str, limit: Duration) -> Value {
        let start = Instant::now();
        loop {
            let v = self.get_json(&format!("/api/v1/backups/{id}")).await;
            if v["status"] != "running" {
                return v;
            }
            assert!(
                start.elapsed() < limit,
                "backup {id} still running after {limit:?}: {v}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Polls the restore until it is no longer running; fails after `limit`.
    pub async fn wait_restore(&self, id: &str, limit: Duration) -> Value {
        let start = Instant::now();
        loop {
            let v = self.get_json(&format!("/api/v1/restores/{id}")).await;
            if v["status"] != "running" {
                return v;
            }
            assert!(
                start.elapsed() < limit,
                "restore {id} still running after {limit:?}: {v}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// SIGKILL, and reap.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for External {
    fn drop(&mut self) {
        self.kill9();
    }
}
