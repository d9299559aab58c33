//! A running backup and a running restore report how far they got: bytes that grow, a
//! percentage of the expected size (the previous version's raw size; the artifact's size), and
//! an ETA; nothing once they ended.

use crate::helpers::spawn_app;
use crate::support::pg;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Samples `path` until it ends; returns the progress objects seen while running.
async fn samples(app: &crate::helpers::TestApp, path: &str) -> (Vec<Value>, Value) {
    let mut seen = Vec::new();
    let start = Instant::now();
    loop {
        let v = app.get_json(path).await;
        if v["status"] != "running" {
            return (seen, v);
        }
        if !v["progress"].is_null() {
            seen.push(v["progress"].clone());
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "{path} never ended"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_running_restore_and_backup_report_growing_progress() {
    let app = spawn_app().await;
    let src = pg::TempDb::create("progress").await;
    crate::support::pitr::sql(
        src.name(),
        "CREATE TABLE big AS SELECT g AS id, md5(random()::text) || md5(random()::text) AS a \
         FROM generate_series(1, 1500000) g;",
    )
    .await;
    let db = app.register(src.name(), "postgres", &src.url()).await;
    let first = app.backup(&db).await;
    assert_eq!(first["status"], "completed", "{first}");
    let raw = first["raw_bytes"].as_u64().unwrap();

    // The next backup expects the previous version's raw size.
    let r = app
        .post(&format!("/api/v1/databases/{db}/backups"), json!({}))
        .await;
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (seen, ended) = samples(&app, &format!("/api/v1/backups/{id}")).await;
    assert_eq!(ended["status"], "completed", "{ended}");
    assert!(
        ended["progress"].is_null(),
        "no progress once ended: {ended}"
    );
    let dumps: Vec<&Value> = seen.iter().filter(|p| p["phase"] == "dump").collect();
    assert!(!dumps.is_empty(), "no progress seen while the backup ran");
    assert!(
        dumps.iter().all(|p| p["expected_bytes"] == json!(raw)),
        "{dumps:?}"
    );

    // A restore: fetching (the stored size), then loading (the raw size), bytes growing.
    let rid = app
        .post(
            &format!("/api/v1/backups/{}/restore", first["id"].as_str().unwrap()),
            json!({}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (seen, ended) = samples(&app, &format!("/api/v1/restores/{rid}")).await;
    assert_eq!(ended["status"], "completed", "{ended}");
    let loads: Vec<u64> = seen
        .iter()
        .filter(|p| p["phase"] == "load")
        .map(|p| p["bytes"].as_u64().unwrap())
        .collect();
    assert!(
        loads.windows(2).any(|w| w[1] > w[0]),
        "the load's bytes never grew: {loads:?}"
    );
    for p in &seen {
        let expected = if p["phase"] == "download" {
            first["bytes"].clone()
        } else {
            json!(raw)
        };
        assert_eq!(p["expected_bytes"], expected, "{p}");
        assert!(p["percent"].as_u64().is_some_and(|n| n <= 99), "{p}");
    }
}
