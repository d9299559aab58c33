//! Backups on S3-compatible storage (a real `moto_server`): multipart round trip, and a store
//! that fails part of the time never leaves a half artifact listed as a version.

use crate::helpers::{spawn_app_with, TestApp};
use crate::support::pg;
use crate::support::s3::{sha256_hex, Fault, FaultProxy, S3Server};
use serde_json::{json, Value};
use sqlx::Connection;
use std::time::Instant;

/// A PostgreSQL database with `rows` rows of random hex text (~190 bytes each, which zstd
/// only halves): 200 000 rows make a ~20 MiB artifact, several 8 MiB parts.
pub async fn random_pg(prefix: &str, rows: i64) -> pg::TempDb {
    let db = pg::TempDb::create(prefix).await;
    let mut c = sqlx::PgConnection::connect(&db.url())
        .await
        .expect("connect");
    sqlx::raw_sql(&format!(
        "CREATE TABLE t (id bigint PRIMARY KEY, body text NOT NULL);
         INSERT INTO t SELECT g, md5(random()::text) || md5(random()::text) || md5(random()::text)
                              || md5(random()::text) || md5(random()::text) || md5(random()::text)
           FROM generate_series(1, {rows}) g;"
    ))
    .execute(&mut c)
    .await
    .expect("fill");
    c.close().await.ok();
    db
}

/// The keys of `bucket` that belong to backup `backup_id`.
async fn keys_of(s3: &S3Server, bucket: &str, backup_id: &str) -> Vec<String> {
    s3.keys(bucket)
        .await
        .into_iter()
        .filter(|k| k.contains(backup_id))
        .collect()
}

/// Either a completed backup whose stored object matches its checksum and restores to the
/// same data, or a failed one that left nothing behind: nothing in between.
async fn assert_all_or_nothing(
    app: &TestApp,
    s3: &S3Server,
    bucket: &str,
    prefix: &str,
    db_id: &str,
    src: &pg::TempDb,
    backup: &Value,
) {
    let id = backup["id"].as_str().unwrap();
    let history = app
        .get_json(&format!("/api/v1/databases/{db_id}/backups"))
        .await;
    let keys = keys_of(s3, bucket, id).await;
    assert!(
        s3.pending_uploads(bucket).await.is_empty(),
        "an unfinished multipart upload was left behind"
    );
    match backup["status"].as_str() {
        Some("completed") => {
            let key = format!("{prefix}/{}", backup["storage_key"].as_str().unwrap());
            assert!(keys.contains(&key), "{key} not in {keys:?}");
            let bytes = s3.get(bucket, &key).await;
            assert_eq!(sha256_hex(&bytes), backup["sha256"].as_str().unwrap());
            assert_eq!(bytes.len() as u64, backup["bytes"].as_u64().unwrap());
            let target = pg::TempDb::create("s3_flaky_t").await;
            let target_id = app.register(target.name(), "postgres", &target.url()).await;
            let r = app
                .restore(id, json!({"target_database_id": target_id}))
                .await;
            assert_eq!(r["status"], "completed", "{r}");
            pg::fingerprint(src.name()).await.assert_same(
                &pg::fingerprint(target.name()).await,
                "restored from a flaky S3",
            );
        }
        Some("failed") => {
            assert!(backup["storage_key"].is_null(), "{backup}");
            assert!(keys.is_empty(), "a failed backup left objects: {keys:?}");
            assert!(
                history["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|b| b["status"] != "completed"),
                "{history}"
            );
            let events = app
                .get_json("/api/v1/events?type=BackupFailed&limit=1000")
                .await;
            assert!(
                events["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["aggregate_id"] == id),
                "no BackupFailed for {id}"
            );
        }
        other => panic!("backup ended {other:?}: {backup}"),
    }
}

#[tokio::test]
async fn s3_round_trip_with_multipart_upload() {
    let s3 = S3Server::start().await;
    let bucket = s3.bucket("rt").await;
    let app = spawn_app_with(false, Some(s3.url(&bucket, "backups/prod"))).await;
    let src = random_pg("s3_src", 200_000).await;
    let fp = pg::fingerprint(src.name()).await;
    let id = app.register(src.name(), "postgres", &src.url()).await;

    let t = Instant::now();
    let b = app.backup(&id).await;
    let backup_time = t.elapsed();
    assert_eq!(b["status"], "completed", "{b}");
    let bytes = b["bytes"].as_u64().unwrap();
    assert!(
        bytes > 2 * 8 * 1024 * 1024,
        "the artifact must span several 8 MiB parts to exercise multipart upload: {bytes}"
    );
    let storage = b["storage"].as_str().unwrap();
    assert!(
        storage.starts_with(&format!("s3://{bucket}/backups/prod")),
        "{storage}"
    );
    assert!(
        !storage.contains("testing"),
        "credentials leaked: {storage}"
    );

    // The object lies under the prefix, with its manifest, and hashes to the recorded sha256.
    let key = format!("backups/prod/{}", b["storage_key"].as_str().unwrap());
    let keys = s3.keys(&bucket).await;
    assert!(keys.contains(&key), "{key} not in {keys:?}");
    let manifest_key = key.replace(".pgdump.zst", ".manifest.json");
    assert!(
        keys.contains(&manifest_key),
        "{manifest_key} not in {keys:?}"
    );
    let object = s3.get(&bucket, &key).await;
    assert_eq!(object.len() as u64, bytes);
    assert_eq!(sha256_hex(&object), b["sha256"].as_str().unwrap());
    let manifest: Value = serde_json::from_slice(&s3.get(&bucket, &manifest_key).await).unwrap();
    assert_eq!(manifest["sha256"], b["sha256"]);
    assert_eq!(manifest["database_id"], id);
    assert!(s3.pending_uploads(&bucket).await.is_empty());

    let history = app
        .get_json(&format!("/api/v1/databases/{id}/backups"))
        .await;
    assert_eq!(history["items"][0]["id"], b["id"]);

    let target = pg::TempDb::create("s3_dst").await;
    let target_id = app.register(target.name(), "postgres", &target.url()).await;
    let t = Instant::now();
    let r = app
        .restore(
            b["id"].as_str().unwrap(),
            json!({"target_database_id": target_id}),
        )
        .await;
    let restore_time = t.elapsed();
    assert_eq!(r["status"], "completed", "{r}");
    fp.assert_same(
        &pg::fingerprint(target.name()).await,
        "restored from S3 into a fresh database",
    );
    eprintln!(
        "S3 round trip: {} MiB raw, {} MiB stored; backup {:.2} s, restore {:.2} s",
        b["raw_bytes"].as_u64().unwrap() / (1 << 20),
        bytes / (1 << 20),
        backup_time.as_secs_f64(),
        restore_time.as_secs_f64()
    );
}

#[tokio::test]
async fn s3_that_fails_some_requests_gives_a_whole_backup_or_none() {
    let s3 = S3Server::start().await;
    let bucket = s3.bucket("flaky").await;
    let proxy = FaultProxy::start(&s3.endpoint, Fault::FailEvery(3)).await;
    let app = spawn_app_with(false, Some(s3.url_via(&proxy.endpoint, &bucket, "p"))).await;
    let src = random_pg("s3_flaky", 120_000).await;
    let id = app.register(src.name(), "postgres", &src.url()).await;
    let b = app.backup(&id).await;
    assert!(
        proxy.failed.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "the proxy injected no fault"
    );
    eprintln!(
        "flaky S3: {} of {} requests failed; backup {}",
        proxy.failed.load(std::sync::atomic::Ordering::SeqCst),
        proxy.seen.load(std::sync::atomic::Ordering::SeqCst),
        b["status"]
    );
    assert_all_or_nothing(&app, &s3, &bucket, "p", &id, &src, &b).await;
}

#[tokio::test]
async fn s3_part_uploads_that_keep_failing_end_in_backup_failed_with_nothing_listed() {
    let s3 = S3Server::start().await;
    let bucket = s3.bucket("broken").await;
    let proxy = FaultProxy::start(&s3.endpoint, Fault::FailPartsAfter(1)).await;
    let app = spawn_app_with(false, Some(s3.url_via(&proxy.endpoint, &bucket, "p"))).await;
    let src = random_pg("s3_broken", 120_000).await;
    let id = app.register(src.name(), "postgres", &src.url()).await;
    let b = app.backup(&id).await;
    assert_eq!(b["status"], "failed", "{b}");
    assert_eq!(b["error"]["stage"], "upload", "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("s3://{bucket}/p")),
        "the error names the storage: {b}"
    );
    assert_all_or_nothing(&app, &s3, &bucket, "p", &id, &src, &b).await;
    let db = app.get_json(&format!("/api/v1/databases/{id}")).await;
    assert_eq!(db["backups_completed"], 0, "{db}");
}
