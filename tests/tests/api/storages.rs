//! Backups on WebDAV (a real `wsgidav`) and Azure Blob Storage (a real Azurite): a round trip
//! that restores the same data, credentials never shown, and a server killed in the middle of
//! a backup's upload: the backup fails at stage `upload`, nothing is left at its key, and the
//! next backup (server back) completes.

use crate::helpers::{spawn_app_with, TestApp};
use crate::s3::random_pg;
use crate::support::pg;
use crate::support::s3::sha256_hex;
use crate::support::servers::{Server, AZURE_KEY, DAV_PASSWORD};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Backs up `src`, checks the stored object and its manifest, restores it into a fresh
/// database and compares.
async fn round_trip(app: &TestApp, server: &Server, url: &str, prefix: &str, src: &pg::TempDb) {
    let id = app.register(src.name(), "postgres", &src.url()).await;
    let b = app.backup(&id).await;
    assert_eq!(b["status"], "completed", "{b}");
    let key = format!("{prefix}/{}", b["storage_key"].as_str().unwrap());
    let root = url
        .split_once(&format!("/{prefix}?"))
        .map(|(r, q)| format!("{r}/?{q}"))
        .unwrap();
    let keys = server.keys(&root).await;
    assert!(keys.contains(&key), "{key} not in {keys:?}");
    let manifest_key = key.replace(".pgdump.zst", ".manifest.json");
    assert!(
        keys.contains(&manifest_key),
        "{manifest_key} not in {keys:?}"
    );
    assert!(!keys.iter().any(|k| k.contains(".partial/")), "{keys:?}");
    let object = server.get(&root, &key).await;
    assert_eq!(sha256_hex(&object), b["sha256"].as_str().unwrap());
    assert_eq!(object.len() as u64, b["bytes"].as_u64().unwrap());
    let manifest: Value = serde_json::from_slice(&server.get(&root, &manifest_key).await).unwrap();
    assert_eq!(manifest["sha256"], b["sha256"]);

    let target = pg::TempDb::create("stor_dst").await;
    let target_id = app.register(target.name(), "postgres", &target.url()).await;
    let r = app
        .restore(
            b["id"].as_str().unwrap(),
            json!({"target_database_id": target_id}),
        )
        .await;
    assert_eq!(r["status"], "completed", "{r}");
    pg::fingerprint(src.name())
        .await
        .assert_same(&pg::fingerprint(target.name()).await, url);

    let shown = format!("{b}{}", app.get_json("/api/v1/events?limit=1000").await);
    for secret in [DAV_PASSWORD, AZURE_KEY] {
        assert!(!shown.contains(secret), "a credential is shown: {shown}");
    }
}

/// Starts a backup, kills the server once `uploading` says the upload is under way, and
/// waits for the backup to end.
async fn backup_killing_the_server(
    app: &TestApp,
    server: &mut Server,
    db_id: &str,
    uploading: impl Fn(&Server) -> bool,
) -> Value {
    let r = app
        .post(&format!("/api/v1/databases/{db_id}/backups"), json!({}))
        .await;
    assert_eq!(r.status(), 202);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let start = Instant::now();
    while !uploading(server) {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the upload never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();
    app.wait_for(&format!("/api/v1/backups/{id}")).await
}

/// What a backup killed mid-upload must come to, once the server is back.
async fn assert_failed_and_nothing_left(server: &mut Server, root: &str, b: &Value) {
    assert_eq!(b["status"], "failed", "{b}");
    assert_eq!(b["error"]["stage"], "upload", "{b}");
    assert!(b["storage_key"].is_null(), "{b}");
    server.start().await;
    let id = b["id"].as_str().unwrap();
    let left: Vec<String> = server
        .keys(root)
        .await
        .into_iter()
        .filter(|k| k.contains(id) && !k.contains(".partial/"))
        .collect();
    assert!(left.is_empty(), "a killed upload left objects: {left:?}");
}

fn files_under(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => files_under(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}

#[tokio::test]
async fn webdav_round_trip_and_a_server_killed_mid_upload() {
    let mut dav = Server::webdav().await;
    let url = dav.dav_url("backups/prod");
    let app = spawn_app_with(false, Some(url.clone())).await;
    let src = random_pg("dav_src", 20_000).await;
    round_trip(&app, &dav, &url, "backups/prod", &src).await;
    let storage = app.get_json("/api/v1/storages").await.to_string();
    assert!(
        storage.contains("webdav+http://127.0.0.1") && !storage.contains(DAV_PASSWORD),
        "{storage}"
    );

    // WebDAV takes the artifact in one PUT (OpenDAL's WebDAV service) under `.partial/`, renamed
    // into place when complete: the server is killed while that PUT is being received.
    let big = random_pg("dav_kill", 200_000).await;
    let id = app.register(big.name(), "postgres", &big.url()).await;
    let partial = dav.root().join("backups/prod/.partial");
    let b = backup_killing_the_server(&app, &mut dav, &id, |_| files_under(&partial) > 0).await;
    let root = dav.dav_url("");
    assert_failed_and_nothing_left(&mut dav, &root, &b).await;
    let again = app.backup(&id).await;
    assert_eq!(again["status"], "completed", "the server is back: {again}");
}

#[tokio::test]
async fn azure_blob_round_trip_and_a_server_killed_mid_upload() {
    let mut az = Server::azurite().await;
    let container = az.azure_container("bl").await;
    let url = az.azure_url(&container, "backups/prod");
    let app = spawn_app_with(false, Some(url.clone())).await;
    let src = random_pg("az_src", 120_000).await;
    round_trip(&app, &az, &url, "backups/prod", &src).await;
    let shown = app.get_json("/api/v1/storages").await.to_string();
    assert!(
        shown.contains(&format!("azblob://{container}/backups/prod")) && !shown.contains(AZURE_KEY),
        "{shown}"
    );

    // Blocks of 8 MiB are staged while the dump runs: kill Azurite once it holds some.
    let big = random_pg("az_kill", 250_000).await;
    let id = app.register(big.name(), "postgres", &big.url()).await;
    let before = files_under(&az.root());
    let b = backup_killing_the_server(&app, &mut az, &id, |s| {
        files_under(&s.root()) > before + (8 << 20)
    })
    .await;
    let root = az.azure_url(&container, "");
    assert_failed_and_nothing_left(&mut az, &root, &b).await;
    let again = app.backup(&id).await;
    assert_eq!(again["status"], "completed", "the server is back: {again}");
}
