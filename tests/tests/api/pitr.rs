//! Point-in-time recovery against the real PostgreSQL of the machine: WAL archiving through a
//! supervised pg_receivewal, base backups, the recoverable window with its gaps, restores to a
//! second into fresh databases, and one receiver per server across processes.
//!
//! The server needs `host replication all 127.0.0.1/32 trust` in pg_hba.conf (`.ci/run` adds
//! it). Every test drops its slot and stops its receivers however it ends (`SlotGuard`).

use crate::helpers::{spawn_app, spawn_app_configured, spawn_node, TestApp, TOKEN};
use crate::support::pg::{db_url, TempDb};
use crate::support::pitr::*;
use chrono::{DateTime, Timelike, Utc};
use serde_json::{json, Value};
use std::time::Duration;

pub(crate) async fn enable(app: &TestApp, id: &str) -> Value {
    let r = app
        .post(&format!("/api/v1/databases/{id}/archiving"), json!({}))
        .await;
    let status = r.status();
    let v: Value = r.json().await.expect("json");
    assert_eq!(status, 200, "enable archiving: {v}");
    v
}

pub(crate) async fn disable(app: &TestApp, id: &str) {
    let r = app
        .client
        .delete(app.url(&format!("/api/v1/databases/{id}/archiving")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
}

pub(crate) async fn base_backup(app: &TestApp, id: &str) -> Value {
    let r = app
        .post(&format!("/api/v1/databases/{id}/base-backups"), json!({}))
        .await;
    assert_eq!(r.status(), 202);
    let bb = r.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let v = app.wait_for(&format!("/api/v1/base-backups/{bb}")).await;
    assert_eq!(v["status"], "completed", "{v}");
    v
}

async fn window(app: &TestApp, id: &str) -> Value {
    app.get_json(&format!("/api/v1/databases/{id}/recovery-window"))
        .await
}

/// Waits until the window reaches past `t` (the WAL written before `t` is archived).
pub(crate) async fn archived_past(app: &TestApp, id: &str, t: DateTime<Utc>) -> Value {
    let start = std::time::Instant::now();
    loop {
        let w = window(app, id).await;
        let to = w["intervals"]
            .as_array()
            .and_then(|i| i.last())
            .and_then(|i| i["to"].as_str())
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok());
        if to.is_some_and(|to| to > t) {
            return w;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "WAL not archived past {t}: {w}"
        );
        switch_wal().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn restore_pitr(app: &TestApp, id: &str, body: Value) -> (u16, Value) {
    let r = app
        .post(&format!("/api/v1/databases/{id}/restore-pitr"), body)
        .await;
    (r.status().as_u16(), r.json().await.expect("json"))
}

pub(crate) async fn restore_pitr_done(app: &TestApp, id: &str, body: Value) -> Value {
    let (status, v) = restore_pitr(app, id, body).await;
    assert_eq!(status, 202, "{v}");
    let r = app
        .wait_for(&format!(
            "/api/v1/restores/{}",
            v["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(r["status"], "completed", "{r}");
    r
}

pub(crate) async fn pause() {
    tokio::time::sleep(Duration::from_millis(1200)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restores_one_database_to_a_second_and_survives_a_killed_receiver() {
    let app = spawn_app().await;
    let src = TempDb::create("pitr_src").await;
    let (into_mid, into_before) = (
        TempDb::create("pitr_mid").await,
        TempDb::create("pitr_before").await,
    );
    sql(
        src.name(),
        "CREATE TABLE t (id serial PRIMARY KEY, batch int NOT NULL, v int NOT NULL)",
    )
    .await;
    let id = app.register(src.name(), "postgres", &src.url()).await;
    let mid = app
        .register(into_mid.name(), "postgres", &into_mid.url())
        .await;
    let before_id = app
        .register(into_before.name(), "postgres", &into_before.url())
        .await;
    let _guard = SlotGuard(slot_of(&id));
    let v = enable(&app, &id).await;
    assert_eq!(v["enabled"], true);
    let slot = slot_of(&id);
    eventually(30, "a receiver", || receivers(&slot).len() == 1).await;
    base_backup(&app, &id).await;
    pause().await;
    let before_t1 = Utc::now();
    pause().await;
    let t1 = write_batch(src.name(), 1).await;
    switch_wal().await;
    // kill -9 of the receiver: it is restarted and no segment goes missing.
    let old = receivers(&slot);
    assert_eq!(old.len(), 1);
    std::process::Command::new("kill")
        .args(["-9", &old[0].to_string()])
        .status()
        .expect("kill");
    eventually(60, "a new receiver", || {
        let now = receivers(&slot);
        now.len() == 1 && now != old
    })
    .await;
    pause().await;
    let t2 = write_batch(src.name(), 2).await;
    switch_wal().await;
    pause().await;
    let between = Utc::now();
    pause().await;
    let t3 = write_batch(src.name(), 3).await;
    switch_wal().await;
    assert!(before_t1 < t1 && t1 < t2 && t2 < between && between < t3);
    let w = archived_past(&app, &id, t3).await;
    assert_eq!(w["gaps"], json!([]), "{w}");
    assert_eq!(w["intervals"].as_array().map(Vec::len), Some(1), "{w}");
    assert!(!app.events_of("WalReceiverExited").await.is_empty());

    let r = restore_pitr_done(
        &app,
        &id,
        json!({"target_time": between, "target_database_id": mid}),
    )
    .await;
    assert!(r["target_time"].is_string(), "{r}");
    assert_eq!(batches(into_mid.name()).await, vec![1, 2]);
    assert_eq!(
        scalar_i64(into_mid.name(), "SELECT count(*) FROM t").await,
        20
    );
    restore_pitr_done(
        &app,
        &id,
        json!({"target_time": before_t1, "target_database_id": before_id}),
    )
    .await;
    assert_eq!(
        scalar_i64(into_before.name(), "SELECT count(*) FROM t").await,
        0
    );
    // The source is untouched.
    assert_eq!(batches(src.name()).await, vec![1, 2, 3]);
    // Every step is an event; no temporary cluster is left behind.
    let steps: Vec<String> = app
        .events_of("RestoreProgressed")
        .await
        .iter()
        .map(|e| e["payload"]["step"].as_str().unwrap_or("").to_string())
        .collect();
    for s in ["unpacking", "fetching WAL", "replaying", "copying"] {
        assert!(steps.iter().any(|x| x == s), "{s} in {steps:?}");
    }
    let left = std::fs::read_dir(std::env::temp_dir())
        .expect("tmp")
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with("backline-pitr-") && (n.contains(r["id"].as_str().unwrap_or("?")))
        })
        .count();
    assert_eq!(left, 0);
    disable(&app, &id).await;
    eventually(30, "the receiver to stop", || receivers(&slot).is_empty()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_segment_is_a_gap_and_a_restore_into_it_is_refused() {
    let app = spawn_app().await;
    let src = TempDb::create("pitr_gap").await;
    let into = TempDb::create("pitr_gap_into").await;
    sql(
        src.name(),
        "CREATE TABLE t (id serial PRIMARY KEY, batch int NOT NULL, v int NOT NULL)",
    )
    .await;
    let id = app.register(src.name(), "postgres", &src.url()).await;
    let into_id = app.register(into.name(), "postgres", &into.url()).await;
    let _guard = SlotGuard(slot_of(&id));
    enable(&app, &id).await;
    base_backup(&app, &id).await;
    for n in 1..=4 {
        write_batch(src.name(), n).await;
        switch_wal().await;
    }
    let after = Utc::now();
    archived_past(&app, &id, after).await;
    // Remove the second newest archived segment from storage.
    let dir = app
        .data_dir
        .path()
        .join("artifacts")
        .join(format!("{}-{id}", src.name()))
        .join("wal/00000001");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("wal dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    let victim = files[files.len() - 2].clone();
    std::fs::remove_file(&victim).expect("remove");
    let missing = victim
        .file_name()
        .and_then(|f| f.to_str())
        .and_then(|f| f.split('.').next())
        .expect("name")
        .to_string();
    let w = window(&app, &id).await;
    assert_eq!(w["gaps"][0]["missing_segment"], missing, "{w}");
    let alerts = app.get_json("/api/v1/alerts").await;
    assert!(alerts.to_string().contains("wal_gap"), "{alerts}");
    let (status, v) = restore_pitr(
        &app,
        &id,
        json!({"target_time": Utc::now(), "target_database_id": into_id}),
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert!(
        v["detail"].as_str().unwrap_or("").contains("wal_gap")
            && v["detail"].as_str().unwrap_or("").contains(&missing),
        "{v}"
    );
    disable(&app, &id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_never_stream_the_same_server() {
    let ledger = TempDb::create("bl_ledger").await;
    let shared = tempfile::tempdir().expect("tempdir");
    let a = spawn_node("node-a", &ledger.url(), shared.path(), 6).await;
    let b = spawn_node("node-b", &ledger.url(), shared.path(), 6).await;
    let src = TempDb::create("pitr_two").await;
    let id = a
        .register(src.name(), "postgres", &db_url(src.name()))
        .await;
    let slot = slot_of(&id);
    let _guard = SlotGuard(slot.clone());
    enable(&b, &id).await;
    eventually(30, "a receiver", || receivers(&slot).len() == 1).await;
    // A second database of the same server, enabled through the other process, joins the
    // same archive.
    let src2 = TempDb::create("pitr_two_b").await;
    let id2 = b
        .register(src2.name(), "postgres", &db_url(src2.name()))
        .await;
    let _guard2 = SlotGuard(slot_of(&id2));
    let v = enable(&a, &id2).await;
    assert_eq!(v["archive_id"], id.as_str(), "{v}");
    assert!(receivers(&slot_of(&id2)).is_empty());
    for _ in 0..40 {
        assert!(receivers(&slot).len() <= 1, "two receivers on one slot");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let holder: String = {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&ledger.url())
            .await
            .expect("ledger");
        sqlx::query_scalar("SELECT node FROM leases WHERE backup_id = $1")
            .bind(format!("wal:{id}"))
            .fetch_one(&mut c)
            .await
            .expect("lease")
    };
    assert!(holder == "node-a" || holder == "node-b", "{holder}");
    disable(&a, &id).await;
    eventually(30, "the receiver to stop", || receivers(&slot).is_empty()).await;
}

#[tokio::test]
async fn missing_server_binaries_are_named_up_front() {
    // Every client tool, but no `postgres` server binary of this major.
    let bin = tempfile::tempdir().expect("tempdir");
    for tool in [
        "pg_dump",
        "pg_restore",
        "pg_receivewal",
        "pg_basebackup",
        "psql",
    ] {
        std::os::unix::fs::symlink(
            format!("/usr/lib/postgresql/15/bin/{tool}"),
            bin.path().join(tool),
        )
        .expect("symlink");
    }
    let dir = bin.path().to_path_buf();
    let app = spawn_app_configured(|s| s.pg_bin_dir = Some(dir)).await;
    let src = TempDb::create("pitr_nobin").await;
    let id = app.register(src.name(), "postgres", &src.url()).await;
    let _guard = SlotGuard(slot_of(&id));
    enable(&app, &id).await;
    let (status, v) = restore_pitr(&app, &id, json!({"target_time": Utc::now()})).await;
    assert_eq!(status, 422, "{v}");
    assert!(
        v["detail"].as_str().unwrap_or("").contains("postgresql-15"),
        "{v}"
    );
    // Neither of the two targets, or both: refused, nothing recorded.
    let (status, _) = restore_pitr(
        &app,
        &id,
        json!({"target_time": Utc::now(), "target_lsn": "0/1"}),
    )
    .await;
    assert_eq!(status, 422);
    assert!(app.events_of("RestoreStarted").await.is_empty());
    disable(&app, &id).await;
}

/// The segment (24 hexadecimal digits) holding `lsn` on timeline 1, with 16 MiB segments.
fn segment_of(lsn: &str) -> String {
    let (hi, lo) = lsn.split_once('/').expect("lsn");
    let lsn =
        (u64::from_str_radix(hi, 16).expect("hi") << 32) | u64::from_str_radix(lo, 16).expect("lo");
    let segno = lsn / (16 << 20);
    format!("{:08X}{:08X}{:08X}", 1, segno / 256, segno % 256)
}

/// The archived WAL segments of `id` in the default (fs) storage, sorted.
fn stored_segments(app: &TestApp, name: &str, id: &str) -> Vec<String> {
    let dir = app
        .data_dir
        .path()
        .join("artifacts")
        .join(format!("{name}-{id}"))
        .join("wal/00000001");
    let mut v: Vec<String> = std::fs::read_dir(&dir)
        .expect("wal dir")
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .split('.')
                .next()
                .map(str::to_string)
        })
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_keeps_the_promised_window_and_removes_the_rest() {
    let app = spawn_app().await;
    let src = TempDb::create("pitr_ret").await;
    let into = TempDb::create("pitr_ret_into").await;
    sql(
        src.name(),
        "CREATE TABLE t (id serial PRIMARY KEY, batch int NOT NULL, v int NOT NULL)",
    )
    .await;
    let id = app.register(src.name(), "postgres", &src.url()).await;
    let into_id = app.register(into.name(), "postgres", &into.url()).await;
    let _guard = SlotGuard(slot_of(&id));
    // Invalid retention is refused and changes nothing.
    let r = app
        .post(
            &format!("/api/v1/databases/{id}/archiving"),
            json!({"keep_base_backups": 0}),
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(app.events_of("WalArchivingEnabled").await.is_empty());
    let r = app
        .post(
            &format!("/api/v1/databases/{id}/archiving"),
            json!({"keep_base_backups": 2}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["keep_base_backups"], 2, "{v}");

    let b1 = base_backup(&app, &id).await;
    write_batch(src.name(), 1).await;
    switch_wal().await;
    archived_past(&app, &id, Utc::now()).await;
    let b2 = base_backup(&app, &id).await;
    pause().await;
    write_batch(src.name(), 2).await;
    switch_wal().await;
    pause().await;
    let between = Utc::now();
    pause().await;
    write_batch(src.name(), 3).await;
    switch_wal().await;
    archived_past(&app, &id, Utc::now()).await;
    let first_wal = segment_of(b1["start_lsn"].as_str().expect("start"));
    let kept_from = segment_of(b2["start_lsn"].as_str().expect("start"));
    assert!(first_wal < kept_from, "{first_wal} {kept_from}");
    let before = stored_segments(&app, src.name(), &id);
    assert!(before.iter().any(|s| *s <= first_wal), "{before:?}");
    let b1_file = app
        .data_dir
        .path()
        .join("artifacts")
        .join(b1["key"].as_str().expect("key"));
    assert!(b1_file.exists());

    // The third base backup: the first one goes, with the WAL only it needed.
    let b3 = base_backup(&app, &id).await;
    let b1_id = b1["id"].as_str().expect("id").to_string();
    let start = std::time::Instant::now();
    while app.get_json(&format!("/api/v1/base-backups/{b1_id}")).await["status"] != "pruned"
        || app.events_of("BaseBackupArtifactDeleted").await.is_empty()
    {
        assert!(start.elapsed() < Duration::from_secs(60), "b1 not pruned");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(!b1_file.exists(), "the pruned base backup's file stays");
    for b in [&b2, &b3] {
        let v = app
            .get_json(&format!(
                "/api/v1/base-backups/{}",
                b["id"].as_str().expect("id")
            ))
            .await;
        assert_eq!(v["status"], "completed", "{v}");
        let f = app
            .data_dir
            .path()
            .join("artifacts")
            .join(b["key"].as_str().expect("key"));
        assert!(f.exists(), "{f:?}");
    }
    let after = stored_segments(&app, src.name(), &id);
    assert!(
        after.iter().all(|s| *s >= kept_from),
        "{after:?} from {kept_from}"
    );
    assert!(after.contains(&kept_from), "{after:?}");
    let pruned = app.events_of("WalPruned").await;
    // (an earlier pass may have let go of the WAL streamed before the first base backup)
    assert!(
        pruned
            .iter()
            .any(|e| e["payload"]["before"] == kept_from.as_str()),
        "{pruned:?}"
    );
    assert!(!app.events_of("BaseBackupPruned").await.is_empty());

    // The promised window (from the second base backup's end) is whole and still restores.
    let w = window(&app, &id).await;
    assert_eq!(w["gaps"], json!([]), "{w}");
    let from = w["intervals"][0]["from"]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .expect("from");
    let b2_end = b2["stopped_at"]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .expect("stopped_at");
    assert_eq!(from, b2_end, "{w}");
    restore_pitr_done(
        &app,
        &id,
        json!({"target_time": between, "target_database_id": into_id}),
    )
    .await;
    assert_eq!(batches(into.name()).await, vec![1, 2]);
    // Before the window: refused.
    let (status, v) = restore_pitr(
        &app,
        &id,
        json!({"target_time": b1["stopped_at"], "target_database_id": into_id}),
    )
    .await;
    assert_eq!(status, 422, "{v}");
    disable(&app, &id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn databases_of_one_server_share_one_archive_and_its_schedule_runs() {
    let app = spawn_app().await;
    let a = TempDb::create("pitr_sh_a").await;
    let b = TempDb::create("pitr_sh_b").await;
    let into = TempDb::create("pitr_sh_into").await;
    sql(
        b.name(),
        "CREATE TABLE t (id serial PRIMARY KEY, batch int NOT NULL, v int NOT NULL)",
    )
    .await;
    // `a` comes from a server registered through the servers API and its discovery.
    let r = app
        .post(
            "/api/v1/servers",
            json!({"name": format!("{}-srv", a.name()), "engine": "postgres",
                   "connection": "postgres://postgres@127.0.0.1:5432"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let server: Value = r.json().await.expect("json");
    let r = app
        .post(
            &format!(
                "/api/v1/servers/{}/register",
                server["id"].as_str().expect("id")
            ),
            json!({"databases": [a.name()]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let listed: Value = r.json().await.expect("json");
    let a_id = listed["items"][0]["id"].as_str().expect("id").to_string();
    let b_id = app.register(b.name(), "postgres", &b.url()).await;
    let into_id = app.register(into.name(), "postgres", &into.url()).await;
    let slot = slot_of(&a_id);
    let (_guard, _guard_b) = (SlotGuard(slot.clone()), SlotGuard(slot_of(&b_id)));

    // A schedule that comes round once during the test (seconds field, UTC).
    let at = Utc::now() + chrono::Duration::seconds(25);
    let cron = format!("{} {} {} * * *", at.second(), at.minute(), at.hour());
    let r = app
        .post(
            &format!("/api/v1/databases/{a_id}/archiving"),
            json!({"base_backup_schedule": cron}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let va: Value = r.json().await.expect("json");
    assert_eq!(va["slot"], slot.as_str(), "{va}");
    eventually(30, "a receiver", || receivers(&slot).len() == 1).await;
    // The second database of the server joins the archive: no second slot or receiver, and
    // the schedule it does not give stays.
    let vb = enable(&app, &b_id).await;
    assert_eq!(vb["archive_id"], a_id.as_str(), "{vb}");
    assert_eq!(vb["slot"], slot.as_str(), "{vb}");
    assert_eq!(vb["base_backup_schedule"], cron.as_str(), "{vb}");
    assert_eq!(vb["databases"], json!([a_id, b_id]), "{vb}");
    assert_eq!(app.events_of("ArchiveDatabaseAdded").await.len(), 1);
    let other_slot = format!(
        "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{}'",
        slot_of(&b_id)
    );
    for _ in 0..10 {
        assert_eq!(receivers(&slot).len(), 1);
        assert!(receivers(&slot_of(&b_id)).is_empty());
        assert_eq!(scalar_i64("postgres", &other_slot).await, 0);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The schedule really runs: a scheduled base backup completes.
    let start = std::time::Instant::now();
    let scheduled = loop {
        let started = app.events_of("BaseBackupStarted").await;
        if let Some(e) = started
            .iter()
            .find(|e| e["payload"]["trigger"] == "scheduled")
        {
            break e["aggregate_id"].as_str().expect("id").to_string();
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "no scheduled base backup"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let v = app
        .wait_for(&format!("/api/v1/base-backups/{scheduled}"))
        .await;
    assert_eq!(v["status"], "completed", "{v}");
    assert_eq!(v["trigger"], "scheduled", "{v}");
    // Re-enabled without a schedule by the database that enabled it: no more scheduled runs.
    let r = app
        .post(&format!("/api/v1/databases/{a_id}/archiving"), json!({}))
        .await;
    assert_eq!(r.status(), 200);

    // A restore of the joined database through the shared archive.
    write_batch(b.name(), 1).await;
    switch_wal().await;
    pause().await;
    let between = Utc::now();
    pause().await;
    write_batch(b.name(), 2).await;
    switch_wal().await;
    archived_past(&app, &b_id, Utc::now()).await;
    restore_pitr_done(
        &app,
        &b_id,
        json!({"target_time": between, "target_database_id": into_id}),
    )
    .await;
    assert_eq!(batches(into.name()).await, vec![1]);
    // Disabling from either database stops the server's archive.
    disable(&app, &b_id).await;
    let va = app
        .get_json(&format!("/api/v1/databases/{a_id}/archiving"))
        .await;
    assert_eq!(va["enabled"], false, "{va}");
    eventually(30, "the receiver to stop", || receivers(&slot).is_empty()).await;
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Starts the PostgreSQL 15 data directory `data` on a private socket (as the `postgres` OS
/// user when the test runs as root), reads the batches of table `t` of `db`, and stops it.
async fn batches_in_cluster(data: &std::path::Path, db: &str) -> Vec<i32> {
    use sqlx::Connection;
    use std::os::unix::fs::PermissionsExt;
    let run = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(run.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::write(run.path().join("hba.conf"), "local all all trust\n").expect("hba");
    std::fs::write(run.path().join("ident.conf"), "").expect("ident");
    let root = is_root();
    if root {
        std::process::Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(run.path())
            .status()
            .expect("chown");
    }
    let postgres = "/usr/lib/postgresql/15/bin/postgres";
    let mut cmd = if root {
        let mut c = tokio::process::Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            postgres,
        ]);
        c
    } else {
        tokio::process::Command::new(postgres)
    };
    let sock = run.path().display().to_string();
    cmd.arg("-D")
        .arg(data)
        .args(["-c", "listen_addresses=", "-c", "port=5432", "-c"])
        .arg(format!("unix_socket_directories={sock}"))
        .arg("-c")
        .arg(format!("hba_file={sock}/hba.conf"))
        .arg("-c")
        .arg(format!("ident_file={sock}/ident.conf"))
        .args([
            "-c",
            "archive_mode=off",
            "-c",
            "ssl=off",
            "-c",
            "shared_preload_libraries=",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut server = cmd.spawn().expect("postgres");
    let opts = sqlx::postgres::PgConnectOptions::new()
        .socket(run.path())
        .port(5432)
        .username("postgres")
        .database(db);
    let start = std::time::Instant::now();
    let mut c = loop {
        match sqlx::PgConnection::connect_with(&opts).await {
            Ok(c) => break c,
            Err(e) => {
                if let Ok(Some(status)) = server.try_wait() {
                    panic!("the restored cluster did not start ({status}): {e}");
                }
                assert!(start.elapsed() < Duration::from_secs(60), "{e}");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    };
    let v: Vec<i32> = sqlx::query_scalar("SELECT DISTINCT batch FROM t ORDER BY batch")
        .fetch_all(&mut c)
        .await
        .expect("batches");
    c.close().await.ok();
    if let Some(pid) = server.id() {
        let _ = std::process::Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status();
    }
    let _ = tokio::time::timeout(Duration::from_secs(30), server.wait()).await;
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_cluster_goes_to_a_new_directory_as_of_a_second() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app().await;
    let src = TempDb::create("pitr_cluster").await;
    sql(
        src.name(),
        "CREATE TABLE t (id serial PRIMARY KEY, batch int NOT NULL, v int NOT NULL)",
    )
    .await;
    let id = app.register(src.name(), "postgres", &src.url()).await;
    let _guard = SlotGuard(slot_of(&id));
    enable(&app, &id).await;
    base_backup(&app, &id).await;
    pause().await;
    write_batch(src.name(), 1).await;
    switch_wal().await;
    pause().await;
    let between = Utc::now();
    pause().await;
    write_batch(src.name(), 2).await;
    switch_wal().await;
    archived_past(&app, &id, Utc::now()).await;

    let parent = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(parent.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    // Refused up front, nothing recorded: a directory that is not empty, a relative path,
    // both a target database and a path.
    let full = parent.path().join("full");
    std::fs::create_dir(&full).expect("mkdir");
    std::fs::write(full.join("keep-me"), "x").expect("write");
    let (status, v) = restore_pitr(
        &app,
        &id,
        json!({"target_time": between, "cluster_path": full}),
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert!(
        v["detail"].as_str().unwrap_or("").contains("not empty"),
        "{v}"
    );
    let (status, v) = restore_pitr(
        &app,
        &id,
        json!({"target_time": between, "cluster_path": "relative/dir"}),
    )
    .await;
    assert_eq!(status, 422, "{v}");
    let (status, v) = restore_pitr(
        &app,
        &id,
        json!({"target_time": between, "cluster_path": parent.path().join("x"), "target_database_id": id}),
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert!(app.events_of("RestoreStarted").await.is_empty());
    assert!(full.join("keep-me").exists());

    let dest = parent.path().join("cluster");
    let r = restore_pitr_done(
        &app,
        &id,
        json!({"target_time": between, "cluster_path": dest}),
    )
    .await;
    assert_eq!(r["cluster_path"], dest.display().to_string(), "{r}");
    assert!(dest.join("PG_VERSION").exists());
    assert!(dest.join("global/pg_control").exists());
    assert!(!dest.join("recovery.signal").exists());
    let steps: Vec<String> = app
        .events_of("RestoreProgressed")
        .await
        .iter()
        .map(|e| e["payload"]["step"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        steps.iter().any(|s| s == "writing the data directory"),
        "{steps:?}"
    );
    // The directory is the cluster as it was then: batch 1 only, in the source's database.
    assert_eq!(batches_in_cluster(&dest, src.name()).await, vec![1]);
    assert_eq!(batches(src.name()).await, vec![1, 2]);
    disable(&app, &id).await;
}
