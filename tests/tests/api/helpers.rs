//! `spawn_app()`: the real Backline application on port 0 with a fresh data directory.
#![allow(dead_code)]

use backline_api::startup::Server;
use backline_app::App;
use backline_app::Settings;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const TOKEN: &str = "test-admin-token-0123456789abcdef";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub data_dir: tempfile::TempDir,
    pub app: Arc<App>,
    pub settings: Settings,
    /// Keeps a PostgreSQL ledger database alive for the test.
    pub ledger_db: Option<crate::support::pg::TempDb>,
}

pub fn settings(
    data_dir: PathBuf,
    ledger_url: Option<String>,
    storage_url: Option<String>,
) -> Settings {
    Settings {
        data_dir,
        ledger_url,
        storage_url,
        master_key_file: None,
        signing_key_file: None,
        // Off: many tests compare the ledger head before and after a request; the sealing
        // tests turn it on.
        seal_interval_secs: 0,
        ledger_check_secs: 86400,
        pg_bin_dir: None,
        mysql_bin_dir: None,
        zstd_level: 2,
        max_concurrent_backups: 2,
        lease_ttl_secs: 30,
        storages: Vec::new(),
        encrypt: "none".into(),
        age_identity_file: None,
        age_recipients: Vec::new(),
        node: Some("test-node".into()),
        smtp_url: None,
        alert_from: None,
        public_url: None,
        stall_timeout_secs: 600,
        missed_schedule_grace_secs: 600,
        notify_retry_base_ms: 5000,
        alert_remind_secs: 86400,
        // The tests' webhook receivers listen on 127.0.0.1.
        allow_private_webhooks: true,
        metrics_token: None,
        auth_free_failures: 10,
        min_free_bytes: 1 << 20,
        storage_check_secs: 30,
        scheduler: true,
        discovery_interval_secs: 300,
        access: Default::default(),
    }
}

/// Another Backline process on a shared ledger, storage and master key (several nodes).
pub async fn spawn_node(
    node: &str,
    ledger_url: &str,
    shared_dir: &std::path::Path,
    lease_ttl_secs: u64,
) -> TestApp {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let mut s = settings(
        data_dir.path().to_path_buf(),
        Some(ledger_url.to_string()),
        Some(format!("fs://{}", shared_dir.join("artifacts").display())),
    );
    s.master_key_file = Some(shared_dir.join("master.key"));
    s.node = Some(node.to_string());
    s.lease_ttl_secs = lease_ttl_secs;
    start(s, data_dir, None).await
}

async fn start(
    s: Settings,
    data_dir: tempfile::TempDir,
    ledger_db: Option<crate::support::pg::TempDb>,
) -> TestApp {
    let server = Server::build(s.clone(), "127.0.0.1:0", TOKEN.to_string())
        .await
        .expect("server builds");
    let port = server.port();
    let app = server.app.clone();
    tokio::spawn(server.run());
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::new(),
        data_dir,
        app,
        settings: s,
        ledger_db,
    }
}

/// Backline on the embedded SQLite ledger and local-disk storage.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(false, None).await
}

/// Backline on a PostgreSQL ledger (a fresh database) or the SQLite one.
pub async fn spawn_app_with(pg_ledger: bool, storage_url: Option<String>) -> TestApp {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let ledger_db = if pg_ledger {
        Some(crate::support::pg::TempDb::create("bl_ledger").await)
    } else {
        None
    };
    let ledger_url = ledger_db.as_ref().map(|d| d.url());
    let s = settings(data_dir.path().to_path_buf(), ledger_url, storage_url);
    start(s, data_dir, ledger_db).await
}

/// Backline on the SQLite ledger in a fresh data directory, with settings adjusted by `adjust`
/// (which sees the data directory already set).
pub async fn spawn_app_configured(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let mut s = settings(data_dir.path().to_path_buf(), None, None);
    adjust(&mut s);
    start(s, data_dir, None).await
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("request")
    }

    pub async fn patch(&self, path: &str, body: Value) -> reqwest::Response {
        self.client
            .patch(self.url(path))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// All ledger events of one type, oldest first.
    pub async fn events_of(&self, event_type: &str) -> Vec<Value> {
        let v = self
            .get_json(&format!("/api/v1/events?type={event_type}&limit=1000"))
            .await;
        v["items"].as_array().cloned().unwrap_or_default()
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.get(path).await;
        let status = r.status();
        if !status.is_success() {
            let body = r.text().await.unwrap_or_default();
            panic!("GET {path}: {status}: {body}");
        }
        r.json().await.expect("json")
    }

    /// Registers a database and returns its id.
    pub async fn register(&self, name: &str, engine: &str, connection: &str) -> String {
        let r = self
            .post(
                "/api/v1/databases",
                json!({"name": name, "engine": engine, "connection": connection}),
            )
            .await;
        let status = r.status();
        let body: Value = r.json().await.expect("json");
        assert_eq!(status, 201, "register {name}: {body}");
        body["id"].as_str().expect("id").to_string()
    }

    /// Starts a backup (202) and waits for it to end; returns the backup.
    pub async fn backup(&self, database_id: &str) -> Value {
        let r = self
            .post(
                &format!("/api/v1/databases/{database_id}/backups"),
                json!({}),
            )
            .await;
        assert_eq!(r.status(), 202, "backup of {database_id}");
        let id = r.json::<Value>().await.expect("json")["id"]
            .as_str()
            .expect("id")
            .to_string();
        self.wait_for(&format!("/api/v1/backups/{id}")).await
    }

    /// Starts a restore (202) and waits for it to end; returns the restore.
    pub async fn restore(&self, backup_id: &str, body: Value) -> Value {
        let r = self
            .post(&format!("/api/v1/backups/{backup_id}/restore"), body)
            .await;
        let status = r.status();
        let v: Value = r.json().await.expect("json");
        assert_eq!(status, 202, "restore of {backup_id}: {v}");
        let id = v["id"].as_str().expect("id").to_string();
        self.wait_for(&format!("/api/v1/restores/{id}")).await
    }

    /// Polls `path` until its status is no longer `running`.
    pub async fn wait_for(&self, path: &str) -> Value {
        let start = Instant::now();
        loop {
            let v = self.get_json(path).await;
            if v["status"] != "running" {
                return v;
            }
            assert!(
                start.elapsed() < Duration::from_secs(300),
                "{path} still running after 300 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The highest ledger position.
    pub async fn head(&self) -> i64 {
        self.app.ledger.head().await.expect("head")
    }

    /// The ledger head once the alert reactor has reacted to everything before it, so that
    /// "this request appended nothing" is not confused with an alert raised for an earlier
    /// event.
    pub async fn settled_head(&self) -> i64 {
        let start = Instant::now();
        loop {
            let head = self.head().await;
            let reacted = self.app.reactor_position().await.expect("reactor position");
            if reacted >= head && self.head().await == head {
                return head;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the alert reactor is stuck at {reacted} of {head}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Path of the `backline` binary built alongside this test.
pub fn backline_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join("backline");
    assert!(
        bin.exists(),
        "{} is missing: build the workspace first",
        bin.display()
    );
    bin
}
