//! Scheduled backups run exactly once per slot, even with several processes on one ledger;
//! a backup whose process died is recorded as abandoned and its slot re-run.

use crate::helpers::{spawn_app, spawn_node, TOKEN};
use crate::support::pg;
use serde_json::{json, Value};
use sqlx::Connection;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

async fn small_db(prefix: &str) -> pg::TempDb {
    let db = pg::TempDb::create(prefix).await;
    let mut c = sqlx::PgConnection::connect(&db.url()).await.unwrap();
    sqlx::raw_sql("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 200) g")
        .execute(&mut c)
        .await
        .unwrap();
    db
}

/// A `backline serve` child process (node "victim", 3 s leases) on `ledger_url` with the
/// shared storage and master key, answering on `base`; tests kill it with -9.
struct Victim {
    child: std::process::Child,
    base: String,
    _data: tempfile::TempDir,
}

async fn spawn_victim(ledger_url: &str, shared: &std::path::Path, env: &[(&str, &str)]) -> Victim {
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(crate::helpers::backline_bin())
        .arg("serve")
        .env("BACKLINE_DATA_DIR", data.path())
        .env("BACKLINE_LEDGER_URL", ledger_url)
        .env(
            "BACKLINE_STORAGE_URL",
            format!("fs://{}", shared.join("artifacts").display()),
        )
        .env("BACKLINE_MASTER_KEY_FILE", shared.join("master.key"))
        .env("BACKLINE_LISTEN", format!("127.0.0.1:{port}"))
        .env("BACKLINE_ADMIN_TOKEN", TOKEN)
        .env("BACKLINE_LEASE_TTL_SECS", "3")
        .env("BACKLINE_NODE", "victim")
        .envs(env.iter().copied())
        .stderr(std::fs::File::create(data.path().join("log")).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let start = Instant::now();
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(start.elapsed() < Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Victim {
        child,
        base,
        _data: data,
    }
}

#[tokio::test]
async fn three_processes_run_every_slot_exactly_once() {
    let ledger = pg::TempDb::create("bl_sched_ledger").await;
    let shared = tempfile::tempdir().unwrap();
    let db = small_db("sched_src").await;
    let a = spawn_node("node-a", &ledger.url(), shared.path(), 30).await;
    let b = spawn_node("node-b", &ledger.url(), shared.path(), 30).await;
    let c = spawn_node("node-c", &ledger.url(), shared.path(), 30).await;
    let r = a
        .post(
            "/api/v1/databases",
            json!({"name": "every-2s", "engine": "postgres", "connection": db.url(),
                   "schedule": "*/2 * * * * *", "catch_up": "all"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    tokio::time::sleep(Duration::from_secs(40)).await;
    let paused = a
        .post(&format!("/api/v1/databases/{id}/pause"), json!({}))
        .await;
    assert_eq!(paused.status(), 200);
    // Let every claimed slot's backup start and finish (a slot claimed just before the pause
    // still runs: the pause stops later slots, not one already claimed).
    let start = Instant::now();
    let claims = loop {
        let claims = c.events_of("ScheduledRunClaimed").await;
        let backups = b.get_json(&format!("/api/v1/databases/{id}/backups")).await;
        let items = backups["items"].as_array().unwrap();
        if items.len() >= claims.len() && items.iter().all(|b| b["status"] != "running") {
            break claims;
        }
        // Slots come every 2 s and a database runs one backup at a time: on a loaded machine
        // the claimed slots queue behind each other, so give the queue time to drain.
        assert!(
            start.elapsed() < Duration::from_secs(240),
            "{} claims, {} backups: {backups}",
            claims.len(),
            items.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut by_slot: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in &claims {
        by_slot
            .entry(e["payload"]["slot"].as_str().unwrap().to_string())
            .or_default()
            .push(e["payload"]["backup_id"].as_str().unwrap().to_string());
    }
    let nodes: std::collections::BTreeSet<&str> =
        claims.iter().map(|e| e["node"].as_str().unwrap()).collect();
    eprintln!("{} slots claimed by nodes {:?}", by_slot.len(), nodes);
    assert!(
        by_slot.len() >= 15,
        "a slot every 2 s for 40 s, got {}",
        by_slot.len()
    );
    for (slot, ids) in &by_slot {
        assert_eq!(ids.len(), 1, "slot {slot} claimed {} times", ids.len());
    }
    // No slot missing between the first and the last.
    let slots: Vec<chrono::DateTime<chrono::Utc>> = by_slot
        .keys()
        .map(|s| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .with_timezone(&chrono::Utc)
        })
        .collect();
    for w in slots.windows(2) {
        assert_eq!(
            (w[1] - w[0]).num_seconds(),
            2,
            "gap between {} and {}",
            w[0],
            w[1]
        );
    }
    // Every claimed slot has exactly one backup, and it completed.
    let backups = b.get_json(&format!("/api/v1/databases/{id}/backups")).await;
    let items = backups["items"].as_array().unwrap();
    assert_eq!(items.len(), by_slot.len(), "one backup per slot");
    for b in items {
        assert_eq!(b["trigger"], "scheduled");
        assert_eq!(b["status"], "completed", "{b}");
        assert!(by_slot.contains_key(b["slot"].as_str().unwrap()));
    }
}

#[tokio::test]
async fn schedules_are_validated_described_paused_and_resumed() {
    let app = spawn_app().await;
    let db = small_db("sched_v").await;
    for (body, field) in [
        (json!({"schedule": "61 * * * *"}), "schedule"),
        (json!({"schedule": "* * *"}), "schedule"),
        (
            json!({"schedule": "0 2 * * *", "timezone": "Mars/Olympus"}),
            "timezone",
        ),
        (
            json!({"schedule": "0 2 * * *", "catch_up": "sometimes"}),
            "catch_up",
        ),
        (json!({"timezone": "Europe/Paris"}), "schedule"),
    ] {
        let mut b = json!({"name": "v", "engine": "postgres", "connection": db.url()});
        for (k, v) in body.as_object().unwrap() {
            b[k] = v.clone();
        }
        let head = app.settled_head().await;
        let r = app.post("/api/v1/databases", b).await;
        assert_eq!(r.status(), 422, "{body}");
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["errors"][0]["field"], field, "{p}");
        assert!(!p["detail"].as_str().unwrap().is_empty());
        assert_eq!(app.head().await, head, "a rejected request appends nothing");
    }
    let r = app
        .post(
            "/api/v1/databases",
            json!({"name": "nightly", "engine": "postgres", "connection": db.url(),
                   "schedule": "30 2 * * *", "timezone": "Europe/Paris"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let d: Value = r.json().await.unwrap();
    let id = d["id"].as_str().unwrap();
    let s = &d["schedule"];
    assert_eq!(s["cron"], "30 2 * * *");
    assert!(s["description"].as_str().unwrap().contains("02:30"), "{s}");
    assert!(s["next_run_at"].as_str().unwrap().ends_with('Z'));
    assert!(
        s["next_run_at_local"].as_str().unwrap().contains("+01:00")
            || s["next_run_at_local"].as_str().unwrap().contains("+02:00")
    );
    let r = app
        .post(&format!("/api/v1/databases/{id}/pause"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let d: Value = r.json().await.unwrap();
    assert_eq!(d["paused"], true);
    assert!(
        d["schedule"]["next_run_at"].is_null(),
        "a paused database has no next run"
    );
    assert_eq!(
        app.post(&format!("/api/v1/databases/{id}/pause"), json!({}))
            .await
            .status(),
        409
    );
    assert_eq!(
        app.post(&format!("/api/v1/databases/{id}/resume"), json!({}))
            .await
            .status(),
        200
    );
    // PATCH: change the zone only, then remove the schedule.
    let r = app
        .patch(
            &format!("/api/v1/databases/{id}"),
            json!({"timezone": "America/New_York"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let d: Value = r.json().await.unwrap();
    assert_eq!(d["schedule"]["timezone"], "America/New_York");
    assert_eq!(d["schedule"]["cron"], "30 2 * * *");
    let r = app
        .patch(
            &format!("/api/v1/databases/{id}"),
            json!({"schedule": null}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.json::<Value>().await.unwrap()["schedule"].is_null());
}

#[tokio::test]
async fn a_second_manual_backup_while_one_runs_is_409() {
    let app = spawn_app().await;
    let db = small_db("sched_409").await;
    let id = app.register("busy", "postgres", &db.url()).await;
    // Hold a lock so that the first dump blocks.
    let mut locker = sqlx::PgConnection::connect(&db.url()).await.unwrap();
    sqlx::raw_sql("BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        .execute(&mut locker)
        .await
        .unwrap();
    let r = app
        .post(&format!("/api/v1/databases/{id}/backups"), json!({}))
        .await;
    assert_eq!(r.status(), 202);
    let first = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let head = app.settled_head().await;
    let r = app
        .post(&format!("/api/v1/databases/{id}/backups"), json!({}))
        .await;
    assert_eq!(r.status(), 409);
    let p: Value = r.json().await.unwrap();
    assert!(p["detail"].as_str().unwrap().contains(&first), "{p}");
    assert_eq!(app.head().await, head);
    sqlx::raw_sql("COMMIT").execute(&mut locker).await.unwrap();
    let done = app.wait_for(&format!("/api/v1/backups/{first}")).await;
    assert_eq!(done["status"], "completed");
}

#[tokio::test]
async fn concurrent_manual_backups_start_one_and_the_next_starts_after_it() {
    let app = spawn_app().await;
    let db = small_db("sched_race").await;
    let id = app.register("racing", "postgres", &db.url()).await;
    let path = format!("/api/v1/databases/{id}/backups");
    let responses = futures::future::join_all((0..6).map(|_| app.post(&path, json!({})))).await;
    let mut started = Vec::new();
    for r in responses {
        match r.status().as_u16() {
            202 => started.push(
                r.json::<Value>().await.unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            ),
            409 => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(started.len(), 1, "one backup at a time per database");
    assert_eq!(app.events_of("BackupStarted").await.len(), 1);
    let done = app
        .wait_for(&format!("/api/v1/backups/{}", started[0]))
        .await;
    assert_eq!(done["status"], "completed");
    // Its end released the database: the next one starts.
    assert_eq!(app.backup(&id).await["status"], "completed");
}

/// A process killed (-9) in the middle of a scheduled backup: another process records the
/// backup as abandoned once the lease expires, and runs the slot again.
#[tokio::test]
async fn killed_process_backup_is_abandoned_and_its_slot_rerun() {
    let db = small_db("sched_kill").await;
    let ledger = pg::TempDb::create("bl_kill_ledger").await;
    let shared = tempfile::tempdir().unwrap();
    let mut locker = sqlx::PgConnection::connect(&db.url()).await.unwrap();
    sqlx::raw_sql("BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        .execute(&mut locker)
        .await
        .unwrap();
    let mut victim = spawn_victim(&ledger.url(), shared.path(), &[]).await;
    let client = reqwest::Client::new();
    let base = victim.base.clone();
    let start = Instant::now();
    let r = client
        .post(format!("{base}/api/v1/databases"))
        .bearer_auth(TOKEN)
        .json(
            &json!({"name": "kill", "engine": "postgres", "connection": db.url(),
                      "schedule": "*/5 * * * * *", "catch_up": "latest"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Wait until the victim has claimed a slot and its dump is blocked on our lock.
    let running = loop {
        let d: Value = client
            .get(format!("{base}/api/v1/databases/{id}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(b) = d["running_backup_id"].as_str() {
            break b.to_string();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no scheduled backup started"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    victim.child.kill().unwrap(); // SIGKILL
    victim.child.wait().unwrap();
    let killed_at = Instant::now();
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut locker)
        .await
        .unwrap();

    let rescuer = spawn_node("rescuer", &ledger.url(), shared.path(), 3).await;
    let abandoned = loop {
        let b = rescuer
            .get_json(&format!("/api/v1/backups/{running}"))
            .await;
        if b["status"] != "running" {
            break b;
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(30),
            "never abandoned"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let delay = killed_at.elapsed();
    eprintln!(
        "abandon detected {:.1} s after kill -9 (lease 3 s)",
        delay.as_secs_f64()
    );
    assert_eq!(abandoned["status"], "abandoned", "{abandoned}");
    assert!(abandoned["error"]["message"]
        .as_str()
        .unwrap()
        .contains("victim"));
    let slot = abandoned["slot"].as_str().unwrap().to_string();
    // The slot is run again, once, and completes.
    let retry = loop {
        let claims = rescuer.events_of("ScheduledRunClaimed").await;
        if let Some(c) = claims
            .iter()
            .find(|c| c["payload"]["retry_of"] == running.as_str())
        {
            break c.clone();
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(40),
            "slot {slot} was not re-run"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(retry["payload"]["slot"], slot.as_str());
    // The claim is recorded just before its backup starts: wait for the backup to appear.
    let rerun_path = format!(
        "/api/v1/backups/{}",
        retry["payload"]["backup_id"].as_str().unwrap()
    );
    while rescuer.get(&rerun_path).await.status() == 404 {
        assert!(
            killed_at.elapsed() < Duration::from_secs(40),
            "the re-run never started"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rerun = rescuer.wait_for(&rerun_path).await;
    assert_eq!(rerun["status"], "completed", "{rerun}");
    assert_eq!(rerun["slot"], slot.as_str());
    // Nothing of the dead run is left half-written.
    let partial = shared.path().join("artifacts/.partial");
    if partial.exists() {
        let left: Vec<_> = std::fs::read_dir(&partial).unwrap().collect();
        assert!(left.is_empty(), "partial uploads left behind: {left:?}");
    }
}

/// A process killed (-9) in the middle of a restore, before it began to replace the target:
/// once its lease expires, another process records the restore as failed (stage `abandoned`,
/// naming the scratch database that may be left), and restores into that database are
/// accepted again.
#[tokio::test]
async fn killed_process_restore_is_recorded_as_abandoned() {
    use crate::support::mysql;
    let src = mysql::TempDb::create("sched_rkill").await;
    let ledger = pg::TempDb::create("bl_rkill_ledger").await;
    let shared = tempfile::tempdir().unwrap();
    let mut admin = sqlx::MySqlConnection::connect(mysql::MYSQL_ADMIN_URL)
        .await
        .unwrap();
    sqlx::raw_sql(&format!(
        "CREATE TABLE `{0}`.t (id INT PRIMARY KEY); INSERT INTO `{0}`.t VALUES (1), (2)",
        src.name()
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    let marker = shared.path().join("paused-at-my-loaded");
    let marker_text = marker.display().to_string();
    let mut victim = spawn_victim(
        &ledger.url(),
        shared.path(),
        &[
            ("BACKLINE_TEST_PAUSE_AT", "my-loaded"),
            ("BACKLINE_TEST_PAUSE_MARKER", marker_text.as_str()),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let base = victim.base.clone();
    let post = |path: String| {
        let client = client.clone();
        let base = base.clone();
        async move {
            client
                .post(format!("{base}{path}"))
                .bearer_auth(TOKEN)
                .json(&json!({}))
                .send()
                .await
                .unwrap()
        }
    };
    let r = client
        .post(format!("{base}/api/v1/databases"))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "rkill", "engine": "mysql", "connection": src.url()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b: Value = post(format!("/api/v1/databases/{id}/backups?wait=true"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b["status"], "completed", "{b}");
    let backup = b["id"].as_str().unwrap().to_string();

    // The restore loads its scratch copy and stops there (the test-only pause hook), before
    // the move journal is written: the target is untouched, and that is when the process dies.
    // (A process killed after the journal is finished by the next one: `restore_crash::`.)
    let r = post(format!("/api/v1/backups/{backup}/restore")).await;
    assert_eq!(r.status(), 202);
    let restore = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let start = Instant::now();
    while !marker.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the restore never reached its scratch copy"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    victim.child.kill().unwrap(); // SIGKILL
    victim.child.wait().unwrap();
    let killed_at = Instant::now();

    let rescuer = spawn_node("rescuer", &ledger.url(), shared.path(), 3).await;
    let failed = loop {
        let r = rescuer
            .get_json(&format!("/api/v1/restores/{restore}"))
            .await;
        if r["status"] != "running" {
            break r;
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(30),
            "never recorded as abandoned"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["error"]["stage"], "abandoned", "{failed}");
    let message = failed["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("victim") && message.contains("__restore_"),
        "{message}"
    );
    // The database is free again: a new restore goes through (and the scratch copy the dead
    // one left is the operator's to drop: its name is in the message).
    let again = rescuer.restore(&backup, json!({})).await;
    assert_eq!(again["status"], "completed", "{again}");
    let scratch = message
        .split("scratch database ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .unwrap()
        .to_string();
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS `{scratch}`"))
        .execute(&mut admin)
        .await
        .unwrap();
}
