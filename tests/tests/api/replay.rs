//! Replaying the ledger rebuilds every read model exactly as it was built live.

use crate::helpers::{spawn_app_with, TestApp};
use crate::support::pg;
use serde_json::json;
use sqlx::Connection;

async fn mixed_history(app: &TestApp) -> pg::TempDb {
    let db = pg::TempDb::create("rp_src").await;
    let mut c = sqlx::PgConnection::connect(&db.url()).await.unwrap();
    sqlx::raw_sql("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 500) g")
        .execute(&mut c)
        .await
        .unwrap();
    let ok_id = app.register("replay-ok", "postgres", &db.url()).await;
    let bad_id = app
        .register(
            "replay-bad",
            "postgres",
            "postgres://postgres:pw@127.0.0.1:1/nowhere",
        )
        .await;
    let good = app.backup(&ok_id).await;
    assert_eq!(good["status"], "completed");
    let bad = app.backup(&bad_id).await;
    assert_eq!(bad["status"], "failed");
    let r = app.restore(good["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(r["status"], "completed", "{r}");
    let patch = app
        .client
        .patch(app.url(&format!("/api/v1/databases/{bad_id}")))
        .bearer_auth(crate::helpers::TOKEN)
        .json(&json!({"name": "replay-bad-renamed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 200);
    let del = app
        .client
        .delete(app.url(&format!("/api/v1/databases/{bad_id}")))
        .bearer_auth(crate::helpers::TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
    db
}

async fn replay_equals_live(pg_ledger: bool) {
    let app = spawn_app_with(pg_ledger, None).await;
    let _db = mixed_history(&app).await;
    let head = app.head().await;
    assert!(head >= 10, "a mixed history has many events, got {head}");
    let live = app.app.projections.snapshot().await.unwrap();
    assert!(live.iter().any(|(t, _, _)| t == "rm_restores"));
    assert!(live.iter().any(|(t, _, _)| t == "rm_metrics"));
    let applied = app.app.projections.rebuild().await.unwrap();
    assert_eq!(applied, head);
    let rebuilt = app.app.projections.snapshot().await.unwrap();
    assert_eq!(live.len(), rebuilt.len());
    for (l, r) in live.iter().zip(&rebuilt) {
        assert_eq!(l, r, "read model row differs after replay");
    }
    for (name, pos) in app.app.projections.checkpoints().await.unwrap() {
        assert_eq!(pos, head, "checkpoint of {name}");
    }
    // The removed database stays in history but not in the default list.
    let list = app.get_json("/api/v1/databases").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let all = app.get_json("/api/v1/databases?include_removed=true").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn replay_rebuilds_identical_views_on_sqlite() {
    replay_equals_live(false).await;
}

#[tokio::test]
async fn replay_rebuilds_identical_views_on_postgres() {
    replay_equals_live(true).await;
}

#[tokio::test]
async fn cli_replay_and_events_read_the_same_ledger() {
    let app = spawn_app_with(false, None).await;
    let _db = mixed_history(&app).await;
    let head = app.head().await;
    let live = app.app.projections.snapshot().await.unwrap();
    // tokio's Command: the in-process server shares this runtime and must keep running.
    let out = tokio::process::Command::new(crate::helpers::backline_bin())
        .arg("replay")
        .env("BACKLINE_DATA_DIR", app.data_dir.path())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("position {head} of {head}")));
    assert_eq!(app.app.projections.snapshot().await.unwrap(), live);
    let out = tokio::process::Command::new(crate::helpers::backline_bin())
        .args(["events", "--json", "--type", "BackupFailed"])
        .env("BACKLINE_DATA_DIR", app.data_dir.path())
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["type"], "BackupFailed");
    assert!(lines[0]["payload"]["message"]
        .as_str()
        .unwrap()
        .contains("127.0.0.1:1"));
    // The text form reads as sentences, not payload dumps.
    let out = tokio::process::Command::new(crate::helpers::backline_bin())
        .args(["events", "--type", "BackupFailed"])
        .env("BACKLINE_DATA_DIR", app.data_dir.path())
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("backup failed at stage"), "{text}");
    // `verify --all` names each database and version; --json gives one object per version.
    let out = tokio::process::Command::new(crate::helpers::backline_bin())
        .args(["verify", "--all"])
        .env("BACKLINE_DATA_DIR", app.data_dir.path())
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("replay-ok"), "{text}");
    assert!(text.contains("1 backups verified"), "{text}");
    let out = tokio::process::Command::new(crate::helpers::backline_bin())
        .args(["--json", "verify", "--all"])
        .env("BACKLINE_DATA_DIR", app.data_dir.path())
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["ok"], true);
    assert_eq!(lines[0]["database_name"], "replay-ok");
}

#[tokio::test]
async fn events_page_by_position_and_filter() {
    let app = spawn_app_with(false, None).await;
    let _db = mixed_history(&app).await;
    let head = app.head().await;
    let first = app.get_json("/api/v1/events?limit=3").await;
    let items = first["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["position"], 1);
    for it in items {
        for k in ["position", "type", "aggregate_id", "at", "actor"] {
            assert!(!it[k].is_null(), "{k} missing in {it}");
        }
    }
    let next = first["next"].as_i64().unwrap();
    let second = app
        .get_json(&format!("/api/v1/events?after={next}&limit=1000"))
        .await;
    assert_eq!(second["items"].as_array().unwrap().len() as i64, head - 3);
    let failed = app.get_json("/api/v1/events?type=BackupFailed").await;
    assert_eq!(failed["items"].as_array().unwrap().len(), 1);
    let desc = app.get_json("/api/v1/events?order=desc&limit=1").await;
    assert_eq!(desc["items"][0]["position"], head);
}

#[tokio::test]
async fn metrics_are_read_from_their_read_model() {
    let app = spawn_app_with(false, None).await;
    let _db = mixed_history(&app).await;
    let counters = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.starts_with("backline_ledger_position"))
            .map(str::to_string)
            .collect()
    };
    let get = || async {
        let r = app.client.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    };
    let before = get().await;
    assert!(
        before.contains(
            "backline_backups_started_total{database=\"replay-ok\",engine=\"postgres\"} 1"
        ),
        "{before}"
    );
    assert!(
        before.contains(
            "backline_backups_failed_total{database=\"replay-bad\",engine=\"postgres\"} 1"
        ),
        "{before}"
    );
    assert!(
        before.contains("backline_restores_total{outcome=\"completed\"} 1"),
        "{before}"
    );
    // Asked again with nothing new in the ledger, it answers the same text (kept).
    assert_eq!(get().await, before);
    // /metrics renders the read model's rows, it does not count the ledger: without them it
    // has no counter (once the ledger moves, with events that count nothing, the text is
    // rendered again), and a replay counts them again exactly.
    sqlx::query("DELETE FROM rm_metrics")
        .execute(app.app.ledger.pool())
        .await
        .unwrap();
    let id = app.get_json("/api/v1/databases").await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    grow(&app, &id, 1).await;
    let emptied = get().await;
    assert!(
        !emptied.contains("backline_backups_started_total"),
        "{emptied}"
    );
    app.app.projections.rebuild().await.unwrap();
    assert_eq!(counters(&get().await), counters(&before));
}

/// Grows the ledger by `2 * n` events (pause and resume of one database).
async fn grow(app: &TestApp, database_id: &str, n: usize) {
    for _ in 0..n {
        for action in ["pause", "resume"] {
            let r = app
                .post(
                    &format!("/api/v1/databases/{database_id}/{action}"),
                    json!({}),
                )
                .await;
            assert_eq!(r.status(), 200, "{action}");
        }
    }
}

#[tokio::test]
async fn a_running_server_keeps_answering_during_a_replay() {
    let app = spawn_app_with(false, None).await;
    let _db = mixed_history(&app).await;
    let ids = app.get_json("/api/v1/databases").await;
    let id = ids["items"][0]["id"].as_str().unwrap().to_string();
    grow(&app, &id, 400).await;
    let head = app.settled_head().await;
    let list = app.get_json("/api/v1/databases").await;
    let live = app.app.projections.snapshot().await.unwrap();
    let backups = app.get_json("/api/v1/backups").await;
    let events = app.get_json("/api/v1/events?limit=1000").await;
    let mut replay = tokio::process::Command::new(crate::helpers::backline_bin())
        .args(["--json", "replay"])
        .env("BACKLINE_DATA_DIR", app.data_dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Every answer during the rebuild is the whole read model as it was: never an emptied or
    // half-built one.
    let mut answered = 0;
    while replay.try_wait().unwrap().is_none() {
        assert_eq!(
            app.get_json("/api/v1/backups").await["items"],
            backups["items"]
        );
        assert_eq!(
            app.get_json("/api/v1/databases").await["items"],
            list["items"]
        );
        assert_eq!(
            app.get_json("/api/v1/events?limit=1000").await["items"],
            events["items"]
        );
        answered += 1;
    }
    let out = replay.wait_with_output().await.unwrap();
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["applied"], head, "{report}");
    assert!(answered > 0, "the replay ended before the first read");
    assert_eq!(app.app.projections.snapshot().await.unwrap(), live);
}
