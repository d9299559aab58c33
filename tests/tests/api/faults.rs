//! Faults end fast and truthfully: a storage that fails before or during the dump of a large
//! database (unwritable, full) fails the backup at stage `upload` with the storage's own error
//! within seconds, stops the dump tool, holds nothing (the next backup runs), and leaves no
//! partial upload behind once swept; a server killed during an upload is recorded as such when
//! it comes back, and its partial upload removed.

use crate::helpers::spawn_app_with;
use crate::support::external::{chmod_dirs, files_under, External};
use crate::support::pg;
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection, Row};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a fault may take to be recorded (the stall watchdog would take 600 s).
const FAULT_LIMIT: Duration = Duration::from_secs(30);

/// A database whose plain dump is over 200 MB: 210,000 rows of 1 KB. `Filler` rows (a unique
/// md5 and 1,000 x's) are quick to make and compress to a few MB; `Random` rows (32 md5 digests)
/// compress to about half, so the upload writes (and fills a disk) while the dump runs.
#[derive(Clone, Copy)]
enum Rows {
    Filler,
    Random,
}

async fn big_pg(prefix: &str, rows: Rows) -> pg::TempDb {
    let db = pg::TempDb::create(prefix).await;
    let mut c = PgConnection::connect(&db.url()).await.expect("connect");
    let payload = match rows {
        Rows::Filler => "md5(g::text) || repeat('x', 1000)",
        Rows::Random => {
            "(SELECT string_agg(md5(g::text || '.' || i), '') FROM generate_series(1, 32) i)"
        }
    };
    sqlx::raw_sql(&format!(
        "CREATE TABLE big (id bigint PRIMARY KEY, payload text NOT NULL);
         INSERT INTO big SELECT g, {payload} FROM generate_series(1, 210000) g;"
    ))
    .execute(&mut c)
    .await
    .expect("fill the big table");
    db
}

/// Connections pg_dump holds on database `db` now.
async fn pg_dumps_on(db: &str) -> i64 {
    let mut c = PgConnection::connect(&pg::db_url("postgres"))
        .await
        .expect("connect");
    sqlx::query(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pg_dump'",
    )
    .bind(db)
    .fetch_one(&mut c)
    .await
    .expect("pg_stat_activity")
    .get::<i64, _>(0)
}

/// Waits until no pg_dump is connected to `db` (the tool was stopped, not left blocked).
async fn assert_dump_stopped(db: &str) {
    let start = Instant::now();
    while pg_dumps_on(db).await > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "pg_dump is still connected to {db} 10 s after the backup ended"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn partials(artifacts: &Path) -> Vec<PathBuf> {
    files_under(&artifacts.join(".partial"))
}

/// The backup failed at `upload`, naming the storage's own error.
fn assert_failed_at_upload(backup: &Value, error_text: &str) {
    assert_eq!(backup["status"], "failed", "{backup}");
    assert_eq!(backup["error"]["stage"], "upload", "{backup}");
    let message = backup["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains(error_text),
        "the message does not give the storage's error ({error_text}): {backup}"
    );
    assert!(backup["storage_key"].is_null(), "{backup}");
}

/// Waits until a partial upload of the running backup exists on disk (the upload is writing).
async fn wait_partial(artifacts: &Path, backup_id: &str) {
    let start = Instant::now();
    loop {
        let started = partials(artifacts).iter().any(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(backup_id))
        });
        if started {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no partial upload of {backup_id} appeared"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the running backup has read `bytes` of the dump.
async fn wait_progress(server: &External, backup_id: &str, bytes: u64) {
    let start = Instant::now();
    loop {
        let v = server
            .get_json(&format!("/api/v1/backups/{backup_id}"))
            .await;
        if v["progress_bytes"].as_u64().unwrap_or(0) >= bytes {
            return;
        }
        assert_eq!(v["status"], "running", "{v}");
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the dump did not reach {bytes} bytes: {v}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn faults_unwritable_storage_before_and_during_a_large_dump() {
    let db = big_pg("fault_perm", Rows::Filler).await;
    let data = tempfile::tempdir().expect("tempdir");
    let artifacts = data.path().join("artifacts");
    let server = External::start(data.path(), true, &[]).await;
    let id = server.register(db.name(), &db.url()).await;

    // Before: nothing under the storage may be written by the server's user.
    chmod_dirs(&artifacts, 0o555);
    let started = Instant::now();
    let backup_id = server.start_backup(&id).await;
    let backup = server.wait_backup(&backup_id, FAULT_LIMIT).await;
    eprintln!("before: {:?} {}", started.elapsed(), backup["error"]);
    assert_failed_at_upload(&backup, "Permission denied");
    assert_dump_stopped(db.name()).await;
    chmod_dirs(&artifacts, 0o755);
    let view = server.get_json(&format!("/api/v1/databases/{id}")).await;
    assert!(view["running_backup_id"].is_null(), "{view}");

    // During: the storage becomes unwritable while the dump streams (the upload's file is
    // opened with its first full part; an open file could still be written, and then it is
    // the commit that fails).
    let backup_id = server.start_backup(&id).await;
    wait_progress(&server, &backup_id, 20_000_000).await;
    chmod_dirs(&artifacts, 0o555);
    let backup = server.wait_backup(&backup_id, FAULT_LIMIT).await;
    eprintln!("during: {}", backup["error"]);
    assert_failed_at_upload(&backup, "Permission denied");
    assert_dump_stopped(db.name()).await;
    chmod_dirs(&artifacts, 0o755);

    // The next backup runs (no slot, claim or lease is held) and completes.
    let backup_id = server.start_backup(&id).await;
    let ok = server
        .wait_backup(&backup_id, Duration::from_secs(300))
        .await;
    assert_eq!(ok["status"], "completed", "{ok}");
    assert!(
        ok["raw_bytes"].as_u64().unwrap_or(0) > 200_000_000,
        "the dump is not over 200 MB: {ok}"
    );
    drop(server);

    // A partial upload the failed commit could not remove is swept at the next start (older
    // than the lease).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let server = External::start(data.path(), true, &[("BACKLINE_LEASE_TTL_SECS", "2")]).await;
    let start = Instant::now();
    while !partials(&artifacts).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "partial uploads left: {:?}",
            partials(&artifacts)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(server);
}

/// A small tmpfs, unmounted when the test ends.
pub struct Tmpfs(pub tempfile::TempDir);

impl Tmpfs {
    pub fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "mounting a tmpfs needs root (CAP_SYS_ADMIN): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir)
    }

    pub fn resize(&self, size: &str) {
        let out = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.0.path())
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.0.path())
            .status();
    }
}

#[tokio::test]
async fn faults_full_filesystem_fails_the_backup_at_upload() {
    let db = big_pg("fault_full", Rows::Random).await;
    let disk = Tmpfs::mount("1m");
    let root = disk.0.path().join("artifacts");
    let app = spawn_app_with(false, Some(format!("fs://{}", root.display()))).await;
    let id = app.register(db.name(), "postgres", &db.url()).await;

    let started = Instant::now();
    let r = app
        .post(&format!("/api/v1/databases/{id}/backups"), json!({}))
        .await;
    assert_eq!(r.status(), 202);
    let backup_id = r.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let path = format!("/api/v1/backups/{backup_id}");
    let backup = loop {
        let v = app.get_json(&path).await;
        if v["status"] != "running" {
            break v;
        }
        assert!(started.elapsed() < FAULT_LIMIT, "still running: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    eprintln!("full: {:?} {}", started.elapsed(), backup["error"]);
    assert_failed_at_upload(&backup, "No space left on device");
    assert_dump_stopped(db.name()).await;
    assert!(
        partials(&root).is_empty(),
        "partial uploads left: {:?}",
        partials(&root)
    );
    let view = app.get_json(&format!("/api/v1/databases/{id}")).await;
    assert!(view["running_backup_id"].is_null(), "{view}");

    // With room again, the next backup runs and completes.
    disk.resize("256m");
    let ok = app.backup(&id).await;
    assert_eq!(ok["status"], "completed", "{ok}");
    assert!(partials(&root).is_empty(), "{:?}", partials(&root));
}

#[tokio::test]
async fn faults_kill_9_during_upload_is_recorded_and_swept_at_restart() {
    let db = big_pg("fault_kill", Rows::Random).await;
    let data = tempfile::tempdir().expect("tempdir");
    let artifacts = data.path().join("artifacts");
    let env = [("BACKLINE_LEASE_TTL_SECS", "3")];
    let mut server = External::start(data.path(), false, &env).await;
    let id = server.register(db.name(), &db.url()).await;
    let backup_id = server.start_backup(&id).await;
    wait_partial(&artifacts, &backup_id).await;
    server.kill9();
    // The dump tool does not outlive the server: its stdout is gone.
    assert_dump_stopped(db.name()).await;
    assert!(
        !partials(&artifacts).is_empty(),
        "the kill left nothing to sweep"
    );

    let server = External::start(data.path(), false, &env).await;
    let backup = server.wait_backup(&backup_id, FAULT_LIMIT).await;
    assert_eq!(backup["status"], "abandoned", "{backup}");
    assert!(
        backup["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("lease"),
        "{backup}"
    );
    let start = Instant::now();
    while !partials(&artifacts).is_empty() {
        assert!(
            start.elapsed() < FAULT_LIMIT,
            "partial uploads left: {:?}",
            partials(&artifacts)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let next = server.start_backup(&id).await;
    let ok = server.wait_backup(&next, Duration::from_secs(300)).await;
    assert_eq!(ok["status"], "completed", "{ok}");
}

#[tokio::test]
async fn faults_wait_for_a_backup_of_a_database_that_is_down_answers_424_as_documented() {
    let app = spawn_app_with(false, None).await;
    let id = app
        .register(
            &pg::unique_name("fault_down"),
            "postgres",
            "postgres://postgres@127.0.0.1:1/down",
        )
        .await;
    let r = app
        .post(
            &format!("/api/v1/databases/{id}/backups?wait=true"),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 424);
    let body: Value = r.json().await.expect("the failed version");
    assert_eq!(body["status"], "failed", "{body}");
    assert_eq!(body["error"]["stage"], "connect", "{body}");
    let view = app.get_json(&format!("/api/v1/databases/{id}")).await;
    assert!(view["running_backup_id"].is_null(), "{view}");

    // The document says so: 424 with the failed version, and why.
    let doc = app.get_json("/openapi.json").await;
    let answer = &doc["paths"]["/api/v1/databases/{id}/backups"]["post"]["responses"]["424"];
    assert!(
        answer["description"]
            .as_str()
            .unwrap_or("")
            .contains("failed"),
        "{answer}"
    );
    assert!(
        answer["content"]["application/json"].is_object(),
        "{answer}"
    );
}
