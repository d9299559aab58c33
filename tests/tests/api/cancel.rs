//! Cancelling running backups and restores, against the real servers: during the dump (asked
//! through another process on the same ledger), during the upload, and during a restore's
//! load. Each ends `cancelled` with nothing half-done: no dump or restore tool left running, no
//! partial upload, no version, no scratch database, the restore's target exactly as before; and
//! the next backup or restore works.

use crate::helpers::{spawn_app, spawn_node, TestApp};
use crate::support::pg;
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection};
use std::path::Path;
use std::time::{Duration, Instant};

async fn admin() -> PgConnection {
    PgConnection::connect(pg::PG_ADMIN_URL)
        .await
        .expect("connect")
}

/// Backline's sessions (its tools and its own connections: application_name `backline`) in
/// database `db` or its scratch copies; only those waiting on a lock with `waiting`.
async fn sessions(db: &str, waiting: bool) -> i64 {
    let mut c = admin().await;
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE (datname = $1 OR datname LIKE $1 || '\\_\\_%') \
         AND application_name = 'backline' AND (NOT $2 OR wait_event_type = 'Lock')",
    )
    .bind(db)
    .bind(waiting)
    .fetch_one(&mut c)
    .await
    .expect("pg_stat_activity");
    c.close().await.ok();
    n
}

/// Processes of `tool` (pg_dump, pg_restore) working on database `db` (their PGDATABASE).
fn tool_processes(tool: &str, db: &str) -> usize {
    let wanted = format!("PGDATABASE={db}");
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    let p = e.path();
                    let cmd = std::fs::read(p.join("cmdline")).unwrap_or_default();
                    let env = std::fs::read(p.join("environ")).unwrap_or_default();
                    String::from_utf8_lossy(&cmd).contains(tool)
                        && env.split(|b| *b == 0).any(|v| v == wanted.as_bytes())
                })
                .count()
        })
        .unwrap_or(0)
}

async fn scratch_databases(db: &str) -> Vec<String> {
    let mut c = admin().await;
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE datname LIKE $1 || '\\_\\_restore\\_%'",
    )
    .bind(db)
    .fetch_all(&mut c)
    .await
    .expect("pg_database");
    c.close().await.ok();
    names
}

/// Polls `check` until it holds (bounded, so a broken build fails instead of hanging).
async fn eventually<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < Duration::from_secs(120), "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Files anywhere under `dir` whose name contains `id`.
fn files_of(dir: &Path, id: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().contains(id))
            {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

async fn start(app: &TestApp, path: &str, body: Value) -> String {
    let r = app.post(path, body).await;
    assert_eq!(r.status(), 202, "{path}");
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn cancel(app: &TestApp, path: &str) -> u16 {
    app.post(path, json!({})).await.status().as_u16()
}

#[tokio::test]
async fn a_backup_waiting_in_its_dump_is_cancelled_from_another_process() {
    let ledger = pg::TempDb::create("bl_cancel_ledger").await;
    let shared = tempfile::tempdir().unwrap();
    let a = spawn_node("node-a", &ledger.url(), shared.path(), 30).await;
    let b = spawn_node("node-b", &ledger.url(), shared.path(), 30).await;
    let src = pg::TempDb::create("cancel_dump").await;
    crate::support::pitr::sql(
        src.name(),
        "CREATE TABLE t (x int); INSERT INTO t VALUES (1), (2);",
    )
    .await;
    let db = a.register(src.name(), "postgres", &src.url()).await;

    // A session holding an exclusive lock: pg_dump waits for it, inside the dump.
    let mut locker = PgConnection::connect(&src.url()).await.unwrap();
    sqlx::raw_sql("BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE;")
        .execute(&mut locker)
        .await
        .unwrap();
    let id = start(&a, &format!("/api/v1/databases/{db}/backups"), json!({})).await;
    eventually("pg_dump waits on the lock", || async {
        sessions(src.name(), true).await > 0
    })
    .await;

    // Asked on node b; node a runs it and notices through the ledger.
    assert_eq!(
        cancel(&b, &format!("/api/v1/backups/{id}/cancel")).await,
        202
    );
    let ended = a.wait_for(&format!("/api/v1/backups/{id}")).await;
    assert_eq!(ended["status"], "cancelled", "{ended}");
    assert!(
        ended["cancel_requested_by"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{ended}"
    );
    assert!(ended["sha256"].is_null(), "no version: {ended}");
    // The tool is killed at once; its server session, waiting on the lock, ends when the lock
    // is released (PostgreSQL notices a gone client only then).
    eventually("pg_dump is gone", || async {
        tool_processes("pg_dump", src.name()) == 0
    })
    .await;
    assert!(
        files_of(&shared.path().join("artifacts"), &id).is_empty(),
        "nothing of it is stored"
    );

    // Ended: 409; unknown: 404; both problem+json, and nothing appended.
    let r = b
        .post(&format!("/api/v1/backups/{id}/cancel"), json!({}))
        .await;
    assert_eq!(r.status(), 409);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let r = b
        .post(
            &format!("/api/v1/restores/{}/cancel", uuid::Uuid::now_v7()),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(a.events_of("BackupCancelRequested").await.len(), 1);
    assert_eq!(a.events_of("BackupCancelled").await.len(), 1);

    // The claim and the slot are free: the next backup runs (once the lock is gone).
    sqlx::raw_sql("COMMIT").execute(&mut locker).await.unwrap();
    locker.close().await.ok();
    eventually("no session of the dump left", || async {
        sessions(src.name(), false).await == 0
    })
    .await;
    let next = a.backup(&db).await;
    assert_eq!(next["status"], "completed", "{next}");
}

#[tokio::test]
async fn a_backup_cancelled_while_it_uploads_leaves_no_partial_object() {
    let app = spawn_app().await;
    let src = pg::TempDb::create("cancel_upload").await;
    crate::support::pitr::sql(
        src.name(),
        "CREATE TABLE big AS SELECT g AS id, md5(random()::text) || md5(random()::text) AS a \
         FROM generate_series(1, 2000000) g;",
    )
    .await;
    let db = app.register(src.name(), "postgres", &src.url()).await;
    let artifacts = app.data_dir.path().join("artifacts");
    let id = start(&app, &format!("/api/v1/databases/{db}/backups"), json!({})).await;
    let partial = artifacts.join(".partial");
    eventually("bytes are on their way to storage", || async {
        files_of(&partial, &id)
            .iter()
            .any(|f| std::fs::metadata(f).is_ok_and(|m| m.len() > 0))
    })
    .await;
    assert_eq!(
        cancel(&app, &format!("/api/v1/backups/{id}/cancel")).await,
        202
    );
    let ended = app.wait_for(&format!("/api/v1/backups/{id}")).await;
    assert_eq!(ended["status"], "cancelled", "{ended}");
    assert!(
        files_of(&artifacts, &id).is_empty(),
        "a partial upload is left: {:?}",
        files_of(&artifacts, &id)
    );
    eventually("no session of the dump left", || async {
        sessions(src.name(), false).await == 0
    })
    .await;
    let versions: Value = app
        .get_json(&format!("/api/v1/databases/{db}/backups"))
        .await;
    assert_eq!(
        versions["items"].as_array().unwrap().len(),
        1,
        "no version but the cancelled one"
    );

    let next = app.backup(&db).await;
    assert_eq!(next["status"], "completed", "{next}");
}

#[tokio::test]
async fn a_restore_cancelled_while_it_loads_leaves_the_target_as_it_was() {
    let app = spawn_app().await;
    let src = pg::TempDb::create("cancel_load").await;
    crate::support::pitr::sql(
        src.name(),
        "CREATE TABLE big AS SELECT g AS id, md5(random()::text) || md5(random()::text) AS a \
         FROM generate_series(1, 1500000) g; ALTER TABLE big ADD PRIMARY KEY (id);",
    )
    .await;
    let db = app.register(src.name(), "postgres", &src.url()).await;
    let version = app.backup(&db).await;
    assert_eq!(version["status"], "completed", "{version}");
    let vid = version["id"].as_str().unwrap().to_string();
    // After the version: the target now differs from it.
    crate::support::pitr::sql(
        src.name(),
        "CREATE TABLE after_backup (x int); INSERT INTO after_backup VALUES (42);",
    )
    .await;
    let before = pg::fingerprint(src.name()).await;

    let rid = start(&app, &format!("/api/v1/backups/{vid}/restore"), json!({})).await;
    eventually("the scratch copy is loading", || async {
        !scratch_databases(src.name()).await.is_empty() && sessions(src.name(), false).await > 0
    })
    .await;
    assert_eq!(
        cancel(&app, &format!("/api/v1/restores/{rid}/cancel")).await,
        202
    );
    let ended = app.wait_for(&format!("/api/v1/restores/{rid}")).await;
    assert_eq!(ended["status"], "cancelled", "{ended}");
    before.assert_same(
        &pg::fingerprint(src.name()).await,
        "the target after a cancelled restore",
    );
    assert!(
        scratch_databases(src.name()).await.is_empty(),
        "a scratch database is left"
    );
    eventually("no session of the restore left", || async {
        sessions(src.name(), false).await == 0
    })
    .await;
    assert_eq!(
        cancel(&app, &format!("/api/v1/restores/{rid}/cancel")).await,
        409
    );

    let done = app.restore(&vid, json!({})).await;
    assert_eq!(done["status"], "completed", "{done}");
    let mut c = PgConnection::connect(&src.url()).await.unwrap();
    let gone: Option<String> = sqlx::query_scalar("SELECT to_regclass('after_backup')::text")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(gone, None, "the next restore brought the version back");
    c.close().await.ok();
}
