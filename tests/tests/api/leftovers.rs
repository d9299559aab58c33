//! A restore whose process dies leaves its scratch database on the target's server: it is
//! listed (`GET /api/v1/leftovers`) once the restore is recorded as failed, never dropped on
//! its own, and dropped by name with `backline cleanup --scratch`.

use crate::helpers::backline_bin;
use crate::support::external::External;
use crate::support::pg;
use serde_json::Value;
use sqlx::{Connection, PgConnection};
use std::time::{Duration, Instant};

async fn databases_like(prefix: &str) -> Vec<String> {
    let mut c = PgConnection::connect(&pg::db_url("postgres"))
        .await
        .expect("connect");
    sqlx::query_scalar::<_, String>(
        "SELECT datname::text FROM pg_database WHERE starts_with(datname, $1) AND datname LIKE '%\\_\\_restore\\_%'",
    )
    .bind(prefix)
    .fetch_all(&mut c)
    .await
    .expect("pg_database")
}

/// Runs the CLI on `data`; whether it succeeded, and what it printed (stdout, then stderr).
pub(crate) async fn cli(data: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = tokio::process::Command::new(backline_bin())
        .env("BACKLINE_DATA_DIR", data)
        .env("BACKLINE_LOG", "warn")
        .env_remove("BACKLINE_STORAGE_URL")
        .env_remove("BACKLINE_LEDGER_URL")
        .args(args)
        .output()
        .await
        .expect("backline runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn leftovers_a_crashed_restore_leaves_a_listed_scratch_database_cleanup_drops_it() {
    // Big enough that the restore is still loading when the server is killed.
    let db = pg::TempDb::create("left_over").await;
    let mut c = PgConnection::connect(&db.url()).await.expect("connect");
    sqlx::raw_sql(
        "CREATE TABLE big (id bigint PRIMARY KEY, payload text NOT NULL);
         INSERT INTO big SELECT g, md5(g::text) || repeat('y', 1000) FROM generate_series(1, 150000) g;",
    )
    .execute(&mut c)
    .await
    .expect("fill");
    drop(c);
    let prefix: String = db.name().chars().take(25).collect();
    let data = tempfile::tempdir().expect("tempdir");
    let env = [("BACKLINE_LEASE_TTL_SECS", "3")];
    let mut server = External::start(data.path(), false, &env).await;
    let id = server.register(db.name(), &db.url()).await;
    let backup_id = server.start_backup(&id).await;
    let backup = server
        .wait_backup(&backup_id, Duration::from_secs(300))
        .await;
    assert_eq!(backup["status"], "completed", "{backup}");

    let (status, restore) = server
        .post(
            &format!("/api/v1/backups/{backup_id}/restore"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(status, 202, "{restore}");
    let restore_id = restore["id"].as_str().expect("id").to_string();
    let start = Instant::now();
    while databases_like(&prefix).await.is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no scratch database appeared"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.kill9();
    let scratch = databases_like(&prefix).await;
    assert_eq!(scratch.len(), 1, "{scratch:?}");

    // Back up: the restore is recorded as failed, and its scratch database listed.
    let server = External::start(data.path(), false, &env).await;
    let start = Instant::now();
    let listed: Vec<Value> = loop {
        let v = server.get_json("/api/v1/leftovers").await;
        let items = v["items"].as_array().cloned().unwrap_or_default();
        if !items.is_empty() {
            break items;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the leftover is not listed: {v}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["scratch_database"], scratch[0].as_str());
    assert_eq!(listed[0]["restore_id"], restore_id.as_str());
    assert_eq!(listed[0]["target_database_id"], id.as_str());
    assert_eq!(listed[0]["server"], "127.0.0.1:5432");
    let r = server
        .get_json(&format!("/api/v1/restores/{restore_id}"))
        .await;
    assert_eq!(r["status"], "failed", "{r}");
    // Listed, never dropped on its own.
    assert_eq!(databases_like(&prefix).await, scratch);

    // A dry run names it and keeps it; the cleanup names it and drops it.
    let (ok, out) = cli(data.path(), &["cleanup", "--scratch", "--dry-run"]).await;
    assert!(
        ok && out.contains(&format!("would drop {}", scratch[0])),
        "{out}"
    );
    assert_eq!(databases_like(&prefix).await, scratch);
    let (ok, out) = cli(data.path(), &["cleanup", "--scratch"]).await;
    assert!(
        ok && out.contains(&format!("dropped {}", scratch[0])),
        "{out}"
    );
    assert!(databases_like(&prefix).await.is_empty());
    let v = server.get_json("/api/v1/leftovers").await;
    assert_eq!(v["items"], serde_json::json!([]), "{v}");
    let (ok, out) = cli(data.path(), &["cleanup", "--scratch"]).await;
    assert!(ok && out.contains("no leftover scratch database"), "{out}");
}
