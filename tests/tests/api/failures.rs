//! Backups and restores that cannot succeed end `failed` with a useful error, record a
//! `BackupFailed`/`RestoreFailed` event, and never list a completed version; requests that
//! can never succeed are refused up front and append nothing.

use crate::helpers::{spawn_app, spawn_app_with, TestApp};
use crate::support::{mysql, pg};
use serde_json::{json, Value};
use sqlx::{Connection, MySqlConnection, PgConnection, Row};
use std::path::Path;
use std::time::{Duration, Instant};

/// The ledger event of `event_type` whose aggregate is `aggregate_id`.
async fn event_for(app: &TestApp, event_type: &str, aggregate_id: &str) -> Option<Value> {
    let page = app
        .get_json(&format!("/api/v1/events?type={event_type}&limit=1000"))
        .await;
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["aggregate_id"] == aggregate_id)
        .cloned()
}

/// A failed backup left no completed version behind and was recorded as failed.
async fn assert_backup_failed_cleanly(app: &TestApp, db_id: &str, backup: &Value) {
    let backup_id = backup["id"].as_str().expect("backup id");
    eprintln!("backup ended: {}", backup["error"]);
    assert_eq!(backup["status"], "failed", "{backup}");
    assert!(backup["finished_at"].is_string(), "{backup}");
    assert!(
        backup["sha256"].is_null(),
        "a failed backup has no checksum: {backup}"
    );
    assert!(
        backup["storage_key"].is_null(),
        "a failed backup has no artifact: {backup}"
    );
    let error = &backup["error"];
    assert!(
        !error["stage"].as_str().unwrap_or("").is_empty(),
        "error.stage is empty: {backup}"
    );
    assert!(
        !error["message"].as_str().unwrap_or("").trim().is_empty(),
        "error.message is empty: {backup}"
    );

    let history = app
        .get_json(&format!("/api/v1/databases/{db_id}/backups"))
        .await;
    let items = history["items"].as_array().expect("items");
    assert!(
        items.iter().all(|b| b["status"] != "completed"),
        "a completed version is listed: {history}"
    );
    let listed = items
        .iter()
        .find(|b| b["id"] == backup_id)
        .unwrap_or_else(|| panic!("backup {backup_id} is not in the history: {history}"));
    assert_eq!(listed["status"], "failed", "{listed}");

    let db = app.get_json(&format!("/api/v1/databases/{db_id}")).await;
    assert_eq!(db["backups_completed"], 0, "{db}");
    assert_eq!(db["backups_failed"], 1, "{db}");
    assert!(db["last_successful_backup_at"].is_null(), "{db}");
    assert!(db["running_backup_id"].is_null(), "{db}");

    let event = event_for(app, "BackupFailed", backup_id)
        .await
        .unwrap_or_else(|| panic!("no BackupFailed event for {backup_id}"));
    assert_eq!(event["aggregate_type"], "Backup", "{event}");
    assert!(
        event_for(app, "BackupCompleted", backup_id).await.is_none(),
        "a BackupCompleted event was recorded for the failed backup {backup_id}"
    );
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
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

/// Asserts a 4xx problem+json with a non-empty detail and returns the body.
async fn problem(r: reqwest::Response, status: u16) -> Value {
    assert_eq!(r.status().as_u16(), status, "unexpected status");
    let ct = r
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(
        ct.starts_with("application/problem+json"),
        "content type {ct}"
    );
    let body: Value = r.json().await.expect("problem body is JSON");
    assert!(
        !body["detail"].as_str().unwrap_or("").trim().is_empty(),
        "empty detail: {body}"
    );
    body
}

async fn pg_exec(db: &str, sql: &str) {
    let mut c = PgConnection::connect(&pg::db_url(db))
        .await
        .expect("connect");
    sqlx::raw_sql(sql).execute(&mut c).await.expect(sql);
    c.close().await.ok();
}

async fn pg_count(db: &str, table: &str) -> i64 {
    let mut c = PgConnection::connect(&pg::db_url(db))
        .await
        .expect("connect");
    let n: i64 = sqlx::query(&format!("SELECT count(*) AS n FROM {table}"))
        .fetch_one(&mut c)
        .await
        .expect("count")
        .get("n");
    c.close().await.ok();
    n
}

/// A small PostgreSQL database with table `t` of `rows` rows.
async fn small_pg(prefix: &str, rows: i64) -> pg::TempDb {
    let db = pg::TempDb::create(prefix).await;
    pg_exec(
        db.name(),
        &format!(
            "CREATE TABLE t (id bigint PRIMARY KEY, body text NOT NULL);
             INSERT INTO t SELECT g, md5(g::text) || repeat(md5((g * 7)::text), 4)
               FROM generate_series(1, {rows}) g;"
        ),
    )
    .await;
    db
}

/// Drops a MariaDB user when dropped, also when the test panics.
struct MyUser(String);

impl Drop for MyUser {
    fn drop(&mut self) {
        let user = std::mem::take(&mut self.0);
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(async {
                    if let Ok(mut c) = MySqlConnection::connect(mysql::MYSQL_ADMIN_URL).await {
                        let _ = sqlx::raw_sql(&format!("DROP USER IF EXISTS '{user}'@'%'"))
                            .execute(&mut c)
                            .await;
                        c.close().await.ok();
                    }
                })
        })
        .join();
    }
}

#[tokio::test]
async fn backup_with_wrong_password_fails_with_access_denied() {
    let app = spawn_app().await;
    let db = mysql::TempDb::create("fail_pw").await;
    let user = MyUser(mysql::unique_name("bl"));
    {
        let mut c = MySqlConnection::connect(mysql::MYSQL_ADMIN_URL)
            .await
            .expect("connect");
        sqlx::raw_sql(&format!(
            "CREATE USER '{}'@'%' IDENTIFIED BY 'right'",
            user.0
        ))
        .execute(&mut c)
        .await
        .expect("create user");
        sqlx::raw_sql(&format!(
            "GRANT ALL ON `{}`.* TO '{}'@'%'",
            db.name(),
            user.0
        ))
        .execute(&mut c)
        .await
        .expect("grant");
        c.close().await.ok();
    }
    let id = app
        .register(
            db.name(),
            "mysql",
            &format!("mysql://{}:wrong@127.0.0.1:3306/{}", user.0, db.name()),
        )
        .await;
    let backup = app.backup(&id).await;
    let message = backup["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.to_lowercase().contains("access denied"),
        "message does not say access denied: {backup}"
    );
    assert!(!message.contains("wrong"), "the password leaked: {backup}");
    assert_eq!(backup["error"]["stage"], "connect", "{backup}");
    assert_backup_failed_cleanly(&app, &id, &backup).await;
}

/// A MariaDB user with rights on its own database only: backups work; a restore cannot make
/// its scratch copy, so it fails before touching the target and says which GRANT fixes it;
/// with that grant, the restore goes through.
#[tokio::test]
async fn mariadb_restore_without_scratch_rights_says_what_to_grant() {
    let app = spawn_app().await;
    let db = mysql::TempDb::create("fail_grant").await;
    let user = MyUser(mysql::unique_name("bl"));
    let mut c = MySqlConnection::connect(mysql::MYSQL_ADMIN_URL)
        .await
        .expect("connect");
    for sql in [
        format!("CREATE USER '{}'@'%' IDENTIFIED BY 'pw'", user.0),
        format!("GRANT ALL ON `{}`.* TO '{}'@'%'", db.name(), user.0),
        format!("CREATE TABLE `{}`.t (id INT PRIMARY KEY)", db.name()),
        format!("INSERT INTO `{}`.t VALUES (1), (2)", db.name()),
    ] {
        sqlx::raw_sql(&sql).execute(&mut c).await.expect("setup");
    }
    let id = app
        .register(
            db.name(),
            "mysql",
            &format!("mysql://{}:pw@127.0.0.1:3306/{}", user.0, db.name()),
        )
        .await;
    let b = app.backup(&id).await;
    assert_eq!(b["status"], "completed", "{b}");
    let insert_third = format!("INSERT INTO `{}`.t VALUES (3)", db.name());
    sqlx::raw_sql(&insert_third).execute(&mut c).await.unwrap();
    let count = format!("SELECT COUNT(*) FROM `{}`.t", db.name());

    let r = app.restore(b["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(r["status"], "failed", "{r}");
    let message = r["error"]["message"].as_str().unwrap();
    let grant = message
        .split("with: ")
        .nth(1)
        .unwrap_or_else(|| panic!("no GRANT in: {message}"));
    assert!(
        grant.starts_with("GRANT ALL ON `") && grant.contains(&user.0),
        "{grant}"
    );
    let rows: i64 = sqlx::query_scalar(&count).fetch_one(&mut c).await.unwrap();
    assert_eq!(rows, 3, "the target was touched");

    sqlx::raw_sql(grant)
        .execute(&mut c)
        .await
        .expect("the suggested GRANT runs");
    let r = app.restore(b["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(r["status"], "completed", "{r}");
    let rows: i64 = sqlx::query_scalar(&count).fetch_one(&mut c).await.unwrap();
    assert_eq!(rows, 2);
    // Dropping the user (MyUser) drops its grants too.
}

#[tokio::test]
async fn backup_of_unreachable_host_fails_fast() {
    let app = spawn_app().await;
    let id = app
        .register(
            &pg::unique_name("fail_unreach"),
            "postgres",
            "postgres://postgres@127.0.0.1:1/x",
        )
        .await;
    let started = Instant::now();
    let backup = app.backup(&id).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "took {took:?}: {backup}");
    assert_eq!(backup["error"]["stage"], "connect", "{backup}");
    let message = backup["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("127.0.0.1:1"),
        "message does not name the host: {backup}"
    );
    assert_backup_failed_cleanly(&app, &id, &backup).await;
}

#[tokio::test]
async fn database_dropped_during_backup_fails_at_dump() {
    let app = spawn_app().await;
    let db = small_pg("fail_dropped", 1000).await;
    let id = app.register(db.name(), "postgres", &db.url()).await;

    // Hold a lock pg_dump must wait for.
    let mut locker = PgConnection::connect(&db.url()).await.expect("connect");
    sqlx::raw_sql("BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE;")
        .execute(&mut locker)
        .await
        .expect("lock");

    let r = app
        .post(&format!("/api/v1/databases/{id}/backups"), json!({}))
        .await;
    assert_eq!(r.status(), 202);
    let backup_id = r.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();

    // Wait until pg_dump is blocked on the lock (≈1 s at most normally).
    let mut admin = PgConnection::connect(pg::PG_ADMIN_URL)
        .await
        .expect("admin");
    let waited = Instant::now();
    loop {
        let n: i64 = sqlx::query(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
        )
        .bind(db.name())
        .fetch_one(&mut admin)
        .await
        .expect("pg_stat_activity")
        .get("n");
        if n > 0 {
            break;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "pg_dump never blocked on the lock"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let running = app.get_json(&format!("/api/v1/backups/{backup_id}")).await;
    assert_eq!(running["status"], "running", "{running}");

    sqlx::raw_sql(&format!("DROP DATABASE \"{}\" WITH (FORCE)", db.name()))
        .execute(&mut admin)
        .await
        .expect("drop database");
    admin.close().await.ok();
    drop(locker);

    let backup = app.wait_for(&format!("/api/v1/backups/{backup_id}")).await;
    assert_eq!(backup["error"]["stage"], "dump", "{backup}");
    assert!(
        backup["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("pg_dump"),
        "message does not name pg_dump: {backup}"
    );
    assert!(
        !backup["error"]["stderr_tail"]
            .as_str()
            .unwrap_or("")
            .trim()
            .is_empty(),
        "stderr tail is empty: {backup}"
    );
    assert_backup_failed_cleanly(&app, &id, &backup).await;

    let leftovers: Vec<_> = files_under(&app.data_dir.path().join("artifacts"))
        .into_iter()
        .filter(|p| {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            name.contains(&backup_id) || name.ends_with(".pgdump.zst")
        })
        .collect();
    assert!(
        leftovers.is_empty(),
        "artifact files left behind: {leftovers:?}"
    );
}

#[tokio::test]
async fn backup_to_unwritable_storage_fails_at_upload() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // The storage root starts as a directory (the app validates it when it opens) and is
    // then replaced by a regular file, so no write below it can succeed, not even as root.
    let root = tmp.path().join("store");
    let url = format!("fs://{}", root.display());
    let app = spawn_app_with(false, Some(url.clone())).await;
    std::fs::remove_dir_all(&root).expect("remove storage dir");
    std::fs::write(&root, b"not a directory").expect("replace storage dir with a file");

    let db = small_pg("fail_storage", 100).await;
    let id = app.register(db.name(), "postgres", &db.url()).await;
    let backup = app.backup(&id).await;
    assert_eq!(backup["error"]["stage"], "upload", "{backup}");
    let message = backup["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains(&url),
        "message does not name the storage {url}: {backup}"
    );
    assert_backup_failed_cleanly(&app, &id, &backup).await;
    assert_eq!(
        std::fs::read(&root).expect("still a file"),
        b"not a directory",
        "the storage root was touched"
    );
}

#[tokio::test]
async fn restore_of_corrupted_artifact_fails_and_leaves_target_unchanged() {
    let app = spawn_app().await;
    let db = small_pg("fail_corrupt", 5000).await;
    let id = app.register(db.name(), "postgres", &db.url()).await;
    let backup = app.backup(&id).await;
    assert_eq!(backup["status"], "completed", "{backup}");
    let backup_id = backup["id"].as_str().expect("id");

    // Change the database after the backup, so a restore would be visible.
    pg_exec(
        db.name(),
        "INSERT INTO t SELECT g, 'after' FROM generate_series(100001, 100500) g;",
    )
    .await;
    let before = pg_count(db.name(), "t").await;
    assert_eq!(before, 5500);

    let path = app
        .data_dir
        .path()
        .join("artifacts")
        .join(backup["storage_key"].as_str().expect("storage_key"));
    let mut bytes = std::fs::read(&path).expect("artifact on disk");
    let (mid, len) = (bytes.len() / 2, bytes.len());
    for b in &mut bytes[mid..(mid + 16).min(len)] {
        *b ^= 0xa5;
    }
    std::fs::write(&path, bytes).expect("write corrupted artifact");

    let head = app.head().await;
    let restore = app.restore(backup_id, json!({})).await;
    let restore_id = restore["id"].as_str().expect("id");
    eprintln!("restore ended: {}", restore["error"]);
    assert_eq!(restore["status"], "failed", "{restore}");
    assert!(
        !restore["error"]["stage"].as_str().unwrap_or("").is_empty(),
        "{restore}"
    );
    let message = restore["error"]["message"]
        .as_str()
        .unwrap_or("")
        .to_lowercase();
    assert!(
        message.contains("sha256") || message.contains("corrupt"),
        "message says neither sha256 mismatch nor corrupt: {restore}"
    );
    assert!(app.head().await > head, "the restore was not recorded");
    assert!(
        event_for(&app, "RestoreFailed", restore_id).await.is_some(),
        "no RestoreFailed event for {restore_id}"
    );
    assert!(event_for(&app, "RestoreCompleted", restore_id)
        .await
        .is_none());

    // The target is untouched and no scratch database is left behind.
    assert_eq!(
        pg_count(db.name(), "t").await,
        before,
        "the target was changed"
    );
    let mut admin = PgConnection::connect(pg::PG_ADMIN_URL)
        .await
        .expect("admin");
    let scratch: Vec<String> = sqlx::query(
        "SELECT datname::text AS n FROM pg_database WHERE starts_with(datname, $1) AND datname <> $2",
    )
    .bind(db.name())
    .bind(db.name())
    .fetch_all(&mut admin)
    .await
    .expect("pg_database")
    .iter()
    .map(|r| r.get("n"))
    .collect();
    admin.close().await.ok();
    assert!(scratch.is_empty(), "databases left behind: {scratch:?}");

    // The version itself is still the one completed backup.
    let view = app.get_json(&format!("/api/v1/databases/{id}")).await;
    assert_eq!(view["backups_completed"], 1, "{view}");
}

#[tokio::test]
async fn restoring_postgres_backup_into_mysql_target_is_422() {
    let app = spawn_app().await;
    let src = small_pg("fail_xengine", 10).await;
    let target = mysql::TempDb::create("fail_xengine").await;
    let src_id = app.register(src.name(), "postgres", &src.url()).await;
    let target_id = app.register(target.name(), "mysql", &target.url()).await;
    let backup = app.backup(&src_id).await;
    assert_eq!(backup["status"], "completed", "{backup}");

    let head = app.settled_head().await;
    let r = app
        .post(
            &format!("/api/v1/backups/{}/restore", backup["id"].as_str().unwrap()),
            json!({"target_database_id": target_id}),
        )
        .await;
    let body = problem(r, 422).await;
    assert!(
        body["detail"].as_str().unwrap().contains("mysql"),
        "detail does not explain the engine mismatch: {body}"
    );
    assert_eq!(app.head().await, head, "a refused restore appended events");
    let restores = app.get_json("/api/v1/restores").await;
    assert_eq!(restores["items"].as_array().unwrap().len(), 0, "{restores}");
}

#[tokio::test]
async fn restoring_a_failed_backup_is_409() {
    let app = spawn_app().await;
    let id = app
        .register(
            &pg::unique_name("fail_norestore"),
            "postgres",
            "postgres://postgres@127.0.0.1:1/x",
        )
        .await;
    let backup = app.backup(&id).await;
    assert_eq!(backup["status"], "failed", "{backup}");

    let head = app.settled_head().await;
    let r = app
        .post(
            &format!("/api/v1/backups/{}/restore", backup["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    problem(r, 409).await;
    assert_eq!(app.head().await, head, "a refused restore appended events");
    let restores = app.get_json("/api/v1/restores").await;
    assert_eq!(restores["items"].as_array().unwrap().len(), 0, "{restores}");
}

/// A PostgreSQL backup whose objects belong to a role this server no longer has: the restore
/// fails before touching the target and says how to go on; with `no_owner` it goes through.
#[tokio::test]
async fn postgres_restore_with_a_missing_role_says_to_use_no_owner() {
    let app = spawn_app().await;
    let db = pg::TempDb::create("fail_role").await;
    let role = pg::unique_name("bl_role");
    let renamed = format!("{role}_gone");
    let admin = || async { PgConnection::connect(pg::PG_ADMIN_URL).await.unwrap() };
    let mut c = admin().await;
    sqlx::raw_sql(&format!("CREATE ROLE \"{role}\" NOLOGIN"))
        .execute(&mut c)
        .await
        .unwrap();
    pg_exec(
        db.name(),
        &format!(
            "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2); \
             ALTER TABLE t OWNER TO \"{role}\"; GRANT SELECT ON t TO \"{role}\""
        ),
    )
    .await;
    let id = app.register(db.name(), "postgres", &db.url()).await;
    let b = app.backup(&id).await;
    assert_eq!(b["status"], "completed", "{b}");
    // The role goes away under its name (as on another server).
    sqlx::raw_sql(&format!("ALTER ROLE \"{role}\" RENAME TO \"{renamed}\""))
        .execute(&mut c)
        .await
        .unwrap();
    pg_exec(db.name(), "INSERT INTO t VALUES (3)").await;

    let r = app.restore(b["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(r["status"], "failed", "{r}");
    let message = r["error"]["message"].as_str().unwrap();
    assert!(message.contains("no_owner"), "{message}");
    assert_eq!(pg_count(db.name(), "t").await, 3, "the target was touched");

    let r = app
        .restore(b["id"].as_str().unwrap(), json!({"no_owner": true}))
        .await;
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(pg_count(db.name(), "t").await, 2);
    drop(db);
    sqlx::raw_sql(&format!("DROP ROLE IF EXISTS \"{renamed}\""))
        .execute(&mut c)
        .await
        .unwrap();
}
