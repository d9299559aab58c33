//! Retention: the preview equals what the prune then does, pinned versions stay, the newest
//! and `min_keep` versions stay, and pruned files are really gone from storage.

use crate::helpers::spawn_app;
use crate::support::pg;
use serde_json::{json, Value};
use sqlx::Connection;

#[tokio::test]
async fn preview_equals_prune_and_files_are_gone() {
    let app = spawn_app().await;
    let db = pg::TempDb::create("ret_src").await;
    let mut c = sqlx::PgConnection::connect(&db.url()).await.unwrap();
    sqlx::raw_sql("CREATE TABLE t (id int PRIMARY KEY)")
        .execute(&mut c)
        .await
        .unwrap();
    let id = app.register("ret", "postgres", &db.url()).await;
    let mut versions = Vec::new();
    for _ in 0..5 {
        let b = app.backup(&id).await;
        assert_eq!(b["status"], "completed");
        versions.push(b);
    }
    // A failed run never counts as a good version.
    let bad = app
        .register("ret-bad", "postgres", "postgres://postgres@127.0.0.1:1/x")
        .await;
    assert_eq!(app.backup(&bad).await["status"], "failed");

    let oldest = versions[0]["id"].as_str().unwrap();
    let r = app
        .post(&format!("/api/v1/backups/{oldest}/pin"), json!({}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["pinned"], true);

    // No policy: nothing to prune.
    let p = app
        .get_json(&format!("/api/v1/databases/{id}/retention/preview"))
        .await;
    assert!(p["prune"].as_array().unwrap().is_empty());

    // keep_last=2: the 3 in between go, the pinned oldest stays. Setting the policy via PATCH
    // prunes nothing by itself (retention runs after backups and in the sweep).
    let r = app
        .patch(
            &format!("/api/v1/databases/{id}"),
            json!({"retention": {"keep_last": 2}}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let head = app.settled_head().await;
    let preview = app
        .get_json(&format!("/api/v1/databases/{id}/retention/preview"))
        .await;
    assert_eq!(app.head().await, head, "a preview appends nothing");
    let mut would: Vec<String> = preview["prune"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    would.sort();
    let mut expected: Vec<String> = versions[1..3]
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect();
    expected.sort();
    assert_eq!(would, expected);
    let dry = app
        .post(
            &format!("/api/v1/databases/{id}/retention/prune?dry_run=true"),
            json!({}),
        )
        .await;
    assert_eq!(dry.status(), 200);
    assert_eq!(app.head().await, head, "a dry run appends nothing");

    let done: Value = app
        .post(
            &format!("/api/v1/databases/{id}/retention/prune"),
            json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    let mut pruned: Vec<String> = done["prune"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    pruned.sort();
    assert_eq!(
        pruned, would,
        "the real run prunes exactly what the preview said"
    );
    for v in &versions {
        let b = app
            .get_json(&format!("/api/v1/backups/{}", v["id"].as_str().unwrap()))
            .await;
        let path = app
            .data_dir
            .path()
            .join("artifacts")
            .join(v["storage_key"].as_str().unwrap());
        let manifest = path.with_file_name(format!("{}.manifest.json", v["id"].as_str().unwrap()));
        if pruned.contains(&v["id"].as_str().unwrap().to_string()) {
            assert_eq!(b["status"], "pruned");
            assert_eq!(b["artifact_deleted"], true);
            assert!(!path.exists(), "pruned artifact still on disk");
            assert!(!manifest.exists(), "pruned manifest still on disk");
        } else {
            assert_eq!(b["status"], "completed");
            assert!(path.exists() && manifest.exists());
        }
    }
    // A pruned version cannot be restored; the history keeps it.
    let r = app
        .post(&format!("/api/v1/backups/{}/restore", pruned[0]), json!({}))
        .await;
    assert_eq!(r.status(), 409);
    let hist = app
        .get_json(&format!("/api/v1/databases/{id}/backups"))
        .await;
    assert_eq!(hist["items"].as_array().unwrap().len(), 5);
    assert_eq!(app.events_of("BackupPruned").await.len(), 2);
    assert_eq!(app.events_of("BackupArtifactDeleted").await.len(), 2);
}

#[tokio::test]
async fn retention_runs_after_each_backup_and_keeps_min_keep() {
    let app = spawn_app().await;
    let db = pg::TempDb::create("ret_auto").await;
    let mut c = sqlx::PgConnection::connect(&db.url()).await.unwrap();
    sqlx::raw_sql("CREATE TABLE t (id int PRIMARY KEY)")
        .execute(&mut c)
        .await
        .unwrap();
    let r = app
        .post(
            "/api/v1/databases",
            json!({"name": "auto", "engine": "postgres", "connection": db.url(),
                   "retention": {"max_age_days": 0, "min_keep": 2}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..4 {
        assert_eq!(app.backup(&id).await["status"], "completed");
    }
    // Retention ran in the background after the last backup: wait for it to settle.
    let start = std::time::Instant::now();
    loop {
        let hist = app
            .get_json(&format!("/api/v1/databases/{id}/backups"))
            .await;
        let items = hist["items"].as_array().unwrap().clone();
        let completed = items.iter().filter(|b| b["status"] == "completed").count();
        if completed == 2 {
            // The two newest stay.
            assert_eq!(items[0]["status"], "completed");
            assert_eq!(items[1]["status"], "completed");
            break;
        }
        assert!(
            start.elapsed().as_secs() < 20,
            "retention did not run: {items:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let bad = app
        .patch(
            &format!("/api/v1/databases/{id}"),
            json!({"retention": {"keep_forever": true}}),
        )
        .await;
    assert_eq!(bad.status(), 422, "unknown retention fields are rejected");
    let p: Value = bad.json().await.unwrap();
    assert_eq!(p["errors"][0]["field"], "retention", "{p}");
    let zero = app
        .patch(
            &format!("/api/v1/databases/{id}"),
            json!({"retention": {"min_keep": 0}}),
        )
        .await;
    assert_eq!(zero.status(), 422);
    // serde reads a struct from an array by position; a policy is an object only.
    let array = app
        .patch(
            &format!("/api/v1/databases/{id}"),
            json!({"retention": [null, null]}),
        )
        .await;
    assert_eq!(array.status(), 422, "a retention array is rejected");
    let too_big = app
        .patch(
            &format!("/api/v1/databases/{id}"),
            json!({"retention": {"min_keep": 4_294_967_296_u64}}),
        )
        .await;
    assert_eq!(too_big.status(), 422, "beyond the documented maximum");
}

#[tokio::test]
async fn a_failed_deletion_is_recorded_and_alerts() {
    let app = spawn_app().await;
    let db = pg::TempDb::create("ret_delfail").await;
    let mut c = sqlx::PgConnection::connect(&db.url()).await.unwrap();
    sqlx::raw_sql("CREATE TABLE t (id int PRIMARY KEY)")
        .execute(&mut c)
        .await
        .unwrap();
    let id = app.register("delfail", "postgres", &db.url()).await;
    let old = app.backup(&id).await;
    assert_eq!(app.backup(&id).await["status"], "completed");
    // Make the old artifact undeletable: a non-empty directory where the file was.
    let path = app
        .data_dir
        .path()
        .join("artifacts")
        .join(old["storage_key"].as_str().unwrap());
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join("keep"), b"x").unwrap();
    let r = app
        .patch(
            &format!("/api/v1/databases/{id}"),
            json!({"retention": {"keep_last": 1}}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let done = app
        .post(
            &format!("/api/v1/databases/{id}/retention/prune"),
            json!({}),
        )
        .await;
    assert_eq!(done.status(), 200);
    let b = app
        .get_json(&format!("/api/v1/backups/{}", old["id"].as_str().unwrap()))
        .await;
    assert_eq!(b["status"], "pruned");
    assert_eq!(b["artifact_deleted"], false);
    assert!(
        b["deletion_error"].as_str().unwrap().contains("deleting"),
        "{b}"
    );
    assert_eq!(app.events_of("BackupDeletionFailed").await.len(), 1);
    // The alert reactor turns it into a storage-failure alert.
    let start = std::time::Instant::now();
    loop {
        let alerts = app.get_json("/api/v1/alerts?state=open").await;
        let found = alerts["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "storage_failure" && a["database_id"] == json!(id));
        if found {
            break;
        }
        assert!(
            start.elapsed().as_secs() < 20,
            "no storage-failure alert: {alerts}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
