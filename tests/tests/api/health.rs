//! `/readyz` checks what backups use, as they use it: a write on every storage, free space
//! above BACKLINE_MIN_FREE_BYTES, the ledger writable; a failing check raises a
//! `storage_failure` alert on every database before any backup fails.

use crate::faults::Tmpfs;
use crate::helpers::spawn_app_configured;
use serde_json::Value;
use std::time::{Duration, Instant};

async fn readyz(app: &crate::helpers::TestApp) -> (u16, Value) {
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// Polls `/readyz` (its outcome is cached for 5 s) until `status`.
async fn readyz_until(app: &crate::helpers::TestApp, status: u16) -> Value {
    let start = Instant::now();
    loop {
        let (s, v) = readyz(app).await;
        if s == status {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "/readyz still {s}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn health_readyz_and_an_alert_say_when_the_disk_is_full() {
    let disk = Tmpfs::mount("8m");
    let root = disk.0.path().join("artifacts");
    let url = format!("fs://{}", root.display());
    let app = spawn_app_configured(|s| {
        s.storage_url = Some(url.clone());
        s.min_free_bytes = 2 << 20;
        s.storage_check_secs = 1;
    })
    .await;
    let db = crate::support::pg::TempDb::create("health_full").await;
    let id = app.register(db.name(), "postgres", &db.url()).await;

    let (status, v) = readyz(&app).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["storage"], "ok", "{v}");
    assert_eq!(v["ledger"], "ok", "{v}");
    assert_eq!(v["min_free_bytes"], 2 << 20);
    assert!(v["storage_free_bytes"].as_u64().unwrap() > 2 << 20, "{v}");

    // Fill the disk to below the floor (not to the last byte: the floor is the warning).
    std::fs::write(disk.0.path().join("filler"), vec![7u8; 7 << 20]).expect("fill");
    let v = readyz_until(&app, 503).await;
    assert_eq!(v["ready"], false, "{v}");
    let storage = v["storage"].as_str().unwrap();
    assert!(
        storage.contains("BACKLINE_MIN_FREE_BYTES") && storage.contains(&url),
        "{v}"
    );

    // Before any backup fails, the database has a storage_failure alert saying why.
    let start = Instant::now();
    let alert = loop {
        let alerts = app.get_json("/api/v1/alerts?state=open").await;
        let found = alerts["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["kind"] == "storage_failure" && a["database_id"] == id.as_str())
            .cloned();
        if let Some(a) = found {
            break a;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no storage_failure alert: {alerts}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        alert["message"]
            .as_str()
            .unwrap_or("")
            .contains("BACKLINE_MIN_FREE_BYTES"),
        "{alert}"
    );
    assert!(app.events_of("BackupFailed").await.is_empty());

    // Room again: ready again.
    std::fs::remove_file(disk.0.path().join("filler")).expect("unfill");
    let v = readyz_until(&app, 200).await;
    assert_eq!(v["storage"], "ok", "{v}");
}

#[tokio::test]
async fn health_readyz_fails_when_the_storage_takes_no_write() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("store");
    let url = format!("fs://{}", root.display());
    let app = spawn_app_configured(|s| s.storage_url = Some(url.clone())).await;
    let (status, v) = readyz(&app).await;
    assert_eq!(status, 200, "{v}");
    // The storage root becomes a file: nothing below it can be written, not even by root.
    std::fs::remove_dir_all(&root).expect("rm");
    std::fs::write(&root, b"not a directory").expect("file");
    let v = readyz_until(&app, 503).await;
    let storage = v["storage"].as_str().unwrap();
    assert!(
        storage.contains(&url) && storage.contains("not writable"),
        "{v}"
    );
    assert_eq!(v["ledger"], "ok", "{v}");
}
